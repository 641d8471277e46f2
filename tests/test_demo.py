"""`python run_bot.py demo`, replayed from a script as a person would type it.

A real subprocess: demo data, the real bot behind the Bot API emulator, mail
written to a folder; the lines come from standard input (not a terminal), so
the demo echoes them and the transcript on stdout is what we check. Some
stories type into a running demo line by line (a staff answer given from a
second process arrives meanwhile), or at a real terminal (a pseudo-terminal).
"""

from __future__ import annotations

import email
import fcntl
import os
import pty
import queue
import re
import select
import shlex
import shutil
import struct
import subprocess
import sys
import termios
import threading
import time
from datetime import date
from email import policy
from pathlib import Path

import pytest

from cli.terminal_demo import DEMO_FACTS, secret_question
from conversations import dialogues
from core.demodata import write_demo_data
from core.formats import format_amount

ROOT = Path(__file__).resolve().parents[1]
SEED = 3
TODAY = "2026-11-25"
DELETED_NOTE = "(az üzenetét biztonsági okból töröltük)"

SESSION = """\
/start
1
{email}
kovacs.eva
Tavaszi-Szel-42
Tavaszi-Szel-42
{customer_id}
{invoice}
{amount}
1
{link}
1
2
4
:q
"""


def clean_environment(**settings: str) -> dict[str, str]:
    """This process's environment without any PETKOMM_/TELEGRAM_ setting, plus `settings`."""
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith(("PETKOMM_", "TELEGRAM_"))
    }
    environment["PYTHONIOENCODING"] = "utf-8"
    environment.update(settings)
    return environment


def run_demo(
    script: str,
    mail_dir: Path,
    cwd: Path,
    *,
    seed: int = SEED,
    today: str = TODAY,
    environment: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            str(ROOT / "run_bot.py"),
            "demo",
            "--seed",
            str(seed),
            "--today",
            today,
            "--mail-dir",
            str(mail_dir),
        ],
        input=script,
        env=environment or clean_environment(),
        cwd=cwd,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
    )


def expected_sample(tmp_path: Path, seed: int = SEED, today: str = TODAY) -> str:
    """The line the demo must print: the same generator, the same seed and day."""
    summary = write_demo_data(
        tmp_path / f"expected-{seed}-{today}", seed=seed, today=date.fromisoformat(today)
    )
    sample = summary.sample
    amount = format_amount(sample.amount).replace("\u00a0", " ")
    return (
        f"Ügyfél-azonosító {sample.customer_id}, számlaszám {sample.invoice_number}, "
        f"összeg {amount}"
    )


def test_a_scripted_session_registers_activates_logs_in_and_looks_around(tmp_path):
    mail_dir = tmp_path / "mail"
    result = run_demo(SESSION, mail_dir, tmp_path)
    out = result.stdout
    assert result.returncode == 0, result.stderr + out
    assert "Traceback" not in result.stderr, result.stderr

    # The intro: what to register with.
    assert expected_sample(tmp_path) in out
    customer_id = re.search(r"Ügyfél-azonosító (U\d{4}),", out)[1]

    # The greeting and the numbered guest keyboard; lines are echoed.
    assert "> /start" in out
    assert "🤖 Üdvözöljük a PÉTKOMM Kft. on-line ügyfélszolgálatán!" in out
    assert "[1] 📝 Regisztráció  [2] ✅ Aktiválás" in out

    # Registration, with the password deleted from the chat.
    assert "[1] ✅ Rendben, elküldöm" in out
    assert "Köszönjük a regisztrációt" in out
    assert out.count(DELETED_NOTE) == 2  # the registration's password, typed twice

    # The activation mail: announced, written, and its code is the one printed.
    emls = sorted(mail_dir.glob("*.eml"))
    assert [p.name for p in emls] == ["1-activation.eml"]
    assert f"📧 Levél ment ide: {emls[0]}" in out
    link = re.search(r"Hivatkozás: (https://t\.me/petkomm_demo_bot\?start=act_\S+)", out)[1]
    code = re.search(r"Kód: ([A-Z2-9]{24})\n", out)[1]
    mail = email.message_from_bytes(emls[0].read_bytes(), policy=policy.default)
    body = mail.get_body(("plain",)).get_content()
    assert link in body and " ".join(code[i : i + 4] for i in range(0, 24, 4)) in body
    assert f"> {link}" in out  # {link} was replaced and opened

    # Activated in the chat that registered: logged in at once, the home page, and two
    # menu pages pressed by number (Számlák is 4 under Tartozás: its Fizetés button is 1).
    assert "Fiókja aktív!" in out
    assert "Be is léptettük" in out and "Kezdőlap" in out
    assert f"Ügyfél-azonosító: {customer_id}" in out
    assert "[1] 🏠 Kezdőlap  [2] 💰 Tartozás" in out and "[3] 🧾 Számlák" in out
    after_login = out.split("Be is léptettük", 1)[1]
    # Asked once whether she wants notifications: the first number answers it (issue 15).
    assert "Szeretne értesítést kapni" in after_login and "[1] 🔔 Igen, kérem" in after_login
    assert "bekapcsoltuk az értesítéseket" in after_login
    assert "🤖 Tartozás" in after_login
    assert "🤖 Számlák (1/" in after_login

    # :q ends it cleanly.
    assert out.rstrip().splitlines()[-1].startswith("Viszontlátásra!")


def test_the_end_of_input_ends_the_demo_cleanly(tmp_path):
    result = run_demo("/start\n2\n{code}\n", tmp_path / "mail", tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    out = result.stdout
    assert "🤖 Üdvözöljük" in out
    assert "> {code}" in out and "{code} nem helyettesíthető" in out  # no mail yet
    assert out.rstrip().splitlines()[-1].startswith("Viszontlátásra!")
    assert not list((tmp_path / "mail").glob("*.eml"))


# --- the README's command: ./scripts/demo --------------------------------------------------

# Stands in for python3 in a copy of the scripts: tells (on standard error) what it was
# asked, and makes a venv's python of itself. No pip, no network, under a second.
FAKE_PYTHON = """#!/usr/bin/env bash
echo "python $*" >&2
if [ "$1" = "-m" ] && [ "$2" = "venv" ]; then mkdir -p "$3/bin" && cp "$0" "$3/bin/python"; fi
"""


def fake_clone(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """The wrapper scripts in an otherwise empty clone, and an environment whose python3 only
    says what it is asked."""
    clone = tmp_path / "clone"
    for script in ("scripts/demo", "scripts/bootstrap.sh"):
        (clone / script).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / script, clone / script)
    for listed in (
        "pyproject.toml",
        "tools/botapi-emulator/pyproject.toml",
        "requirements/constraints.txt",
    ):
        (clone / listed).parent.mkdir(parents=True, exist_ok=True)
        (clone / listed).write_text("")
    python = tmp_path / "python3"
    python.write_text(FAKE_PYTHON)
    python.chmod(0o755)
    return clone, {**os.environ, "PYTHON": str(python)}


def test_the_first_start_says_it_installs_and_the_demo_gets_every_option(tmp_path):
    clone, environment = fake_clone(tmp_path)
    options = ["--help", "--seed", "8", "--today", "2026-02-03", "--keep", "megtartva"]

    first = subprocess.run(
        [str(clone / "scripts/demo"), *options],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert first.returncode == 0, first.stderr
    said = first.stderr.splitlines()
    # The line comes before the slow part (making the venv, then pip).
    installing = next(i for i, line in enumerate(said) if line.startswith("Installing"))
    making_venv = next(i for i, line in enumerate(said) if " -m venv " in line)
    assert installing < making_venv
    assert "first time" in said[installing]
    pip = [line for line in said if " -m pip install " in line]
    assert len(pip) == 2
    assert not any(option in line for line in pip for option in ("--help", "--seed", "--keep"))
    assert "python run_bot.py demo " + " ".join(options) in said

    # Installed: the next start goes straight to the demo.
    again = subprocess.run(
        [str(clone / "scripts/demo"), "--seed", "8"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert again.returncode == 0, again.stderr
    assert "python run_bot.py demo --seed 8" in again.stderr.splitlines()
    assert "Installing" not in again.stderr and " -m pip " not in again.stderr


def test_a_clone_set_up_by_the_test_command_starts_the_demo_without_installing(tmp_path):
    clone, environment = fake_clone(tmp_path)
    subprocess.run(  # what ./scripts/test leaves: a venv with the test extra installed
        ["bash", "-c", f'source "{clone}/scripts/bootstrap.sh" test'],
        env=environment,
        capture_output=True,
        check=True,
        timeout=60,
    )
    demo = subprocess.run(
        [str(clone / "scripts/demo"), "--today", "2026-07-15"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert demo.returncode == 0, demo.stderr
    assert "Installing" not in demo.stderr and " -m pip " not in demo.stderr
    assert "python run_bot.py demo --today 2026-07-15" in demo.stderr.splitlines()


in_project_venv = pytest.mark.skipif(
    Path(sys.prefix).resolve() != (ROOT / ".venv").resolve(),
    reason="./scripts/demo runs in the project's .venv: these tests must run there too",
)


@in_project_venv
def test_scripts_demo_takes_help_seed_today_and_keep(tmp_path):
    helped = subprocess.run(
        [str(ROOT / "scripts/demo"), "--help"],
        env=clean_environment(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert helped.returncode == 0, helped.stderr
    assert "usage: run_bot.py demo" in helped.stdout
    assert "--keep DIR" in helped.stdout and "{customer_id}" in helped.stdout
    assert "Installing" not in helped.stderr and "pip" not in helped.stderr

    kept = tmp_path / "megtartott"
    played = subprocess.run(
        [
            str(ROOT / "scripts/demo"),
            "--seed",
            "5",
            "--today",
            "2026-03-09",
            "--keep",
            str(kept),
            "--mail-dir",
            str(tmp_path / "levelek"),
        ],
        input="/start\n:q\n",
        env=clean_environment(),
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
    )
    assert played.returncode == 0, played.stderr
    assert expected_sample(tmp_path, 5, "2026-03-09") in played.stdout
    assert (kept / "demo.sqlite3").is_file()
    assert f"Az adatbázis megmaradt: {kept / 'demo.sqlite3'}" in played.stdout


# --- staff answers, the company's facts, secrets --------------------------------------------


class LiveDemo:
    """The demo as a running process: lines typed one at a time, output read as it comes."""

    def __init__(self, tmp_path: Path, *options: str, environment: dict[str, str]) -> None:
        self.errors = (tmp_path / "demo-stderr.txt").open("w+", encoding="utf-8")
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "run_bot.py"), "demo", *options],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.errors,
            env=environment,
            cwd=tmp_path,
            text=True,
            encoding="utf-8",
        )
        self.out = ""
        self._lines: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def type(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def wait_for(self, text: str, timeout: float = 30) -> str:
        """The output from here to the line holding `text`."""
        start = len(self.out)
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._lines.get(timeout=max(deadline - time.monotonic(), 0.01))
            except queue.Empty:
                raise AssertionError(f"no {text!r} in:\n{self.out[start:]}") from None
            if line is None:
                raise AssertionError(f"the demo ended before {text!r}:\n{self.out[start:]}")
            self.out += line
            if text in line:
                return self.out[start:]

    def quit(self) -> int:
        self.type(":q")
        code = self.process.wait(timeout=60)
        self.errors.seek(0)
        assert "Traceback" not in self.errors.read()
        self.errors.close()
        return code


def test_a_staff_answer_given_in_a_second_terminal_arrives_in_the_demo_chat(tmp_path):
    own_phone = "+36 88 321 7654"  # the operator's own setting wins over the demo's example
    demo = LiveDemo(
        tmp_path,
        "--seed",
        "12",
        "--today",
        "2026-04-22",
        environment=clean_environment(PETKOMM_SUPPORT_PHONE=own_phone),
    )
    demo.wait_for("Kezdéshez írja be: /start")
    demo.type("/start")
    welcome = demo.wait_for("[5] ✉️ Hibabejelentés")
    assert own_phone in welcome and DEMO_FACTS["PETKOMM_SUPPORT_PHONE"] not in welcome
    assert DEMO_FACTS["PETKOMM_EMERGENCY_PHONE"] in welcome
    demo.type("6")
    help_page = demo.wait_for("[5] ✉️ Hibabejelentés")
    assert "Súgó" in help_page and own_phone in help_page
    assert DEMO_FACTS["PETKOMM_OPENING_HOURS"] in help_page

    demo.type("5")
    demo.wait_for("Mégse")
    demo.type("A Rózsa utca 12. előtt a járdán folyik a víz a csatornafedél mellől.")
    demo.wait_for("Ügyszáma: PK-000001")
    hint = demo.wait_for("tickets reply PK-000001")
    printed = hint.strip().splitlines()[-1].strip()
    assert printed.startswith("PETKOMM_DB=") and " --text " in printed
    # With the demo's payment settings, so a canned answer there is filled as in the chat.
    assert f"PETKOMM_PAYEE_IBAN='{DEMO_FACTS['PETKOMM_PAYEE_IBAN']}'" in printed

    # The second terminal: the line as printed, with our own answer, in another folder.
    answer = "Kollégánk 14 óráig kiér, addig kérjük, ne lépjenek a fedélre."
    typed = printed.rsplit(" --text ", 1)[0] + " --text " + shlex.quote(answer)
    elsewhere = tmp_path / "masik-terminal"
    elsewhere.mkdir()
    staff = subprocess.run(
        ["bash", "-c", typed],
        env=clean_environment(),
        cwd=elsewhere,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert staff.returncode == 0, staff.stderr
    assert "PK-000001: a válasz az ügyfél Telegram-csevegésébe megy" in staff.stdout

    # It arrives by itself, while the demo waits for the next line, with its button numbered.
    arrived = demo.wait_for(answer)
    assert "Válasz" in arrived and "PK-000001" in arrived
    demo.wait_for("[1] ↩️ Válasz erre")
    demo.type("1")  # the answer's button: the next text is the reply (issue 11: Mégse shown)
    demo.wait_for("[1] ✖️ Mégse")
    demo.type("Köszönöm, otthon leszünk.")
    joined = demo.wait_for("PK-000001")
    assert "csatoltuk" in joined
    assert demo.quit() == 0


PAYING_SESSION = """\
/start
1
{email}
nagy.piroska
Kek-Ibolya-1958
Kek-Ibolya-1958
{customer_id}
{invoice}
{amount}
1
{link}
1
2
1
3
:q
"""


def test_tartozas_shows_how_to_pay_and_a_replayed_password_is_never_printed(tmp_path):
    # (and Fizetés the QR code, whose copy buttons say what they copied)
    result = run_demo(PAYING_SESSION, tmp_path / "mail", tmp_path, seed=21, today="2026-08-04")
    out = result.stdout
    assert result.returncode == 0, result.stderr + out
    customer_id = re.search(r"Ügyfél-azonosító (U\d{4}),", out)[1]
    invoice = re.search(r"számlaszám (\d{4}-\d{6}),", out)[1]

    debt = out.split("> 2\n", 1)[1]
    assert "🤖 Tartozás" in debt
    assert f"Kedvezményezett: {DEMO_FACTS['PETKOMM_PAYEE_NAME']}" in debt
    assert "Számlaszám: 11773016-11111018" in debt  # the example IBAN's account number
    assert f"Közlemény: {customer_id} {invoice}" in debt
    # Fizetés: the QR code's photo with its caption; a copy button says what it copied.
    paid = debt.split("> 1\n", 1)[1]
    assert paid.startswith("🤖 [photo]") and "[3] 📋 Közlemény" in paid
    assert f"(📋 vágólapra másolva: {customer_id} {invoice})" in paid

    # Typed where the bot asks for a password: dots in the transcript, never the password.
    assert "Kek-Ibolya-1958" not in out
    assert out.count("> ••••••••") == 2  # the registration's, twice (the link logs her in)
    assert "> nagy.piroska" in out


def test_the_questions_typed_unseen_are_those_asking_for_a_password_or_a_code():
    unseen = {state for state, asks in dialogues.ASKS.items() if secret_question(asks)}
    assert {
        "login_password",
        "reg_password",
        "pw_current",
        "pw_new",
        "pw_again",
        "forgot_new",
        "forgot_again",
        "act_code",
        "forgot_code",
    } <= unseen
    assert not unseen & {"login_username", "reg_username", "reg_email", "forgot_who"}
    assert not unseen & {"report_text", "reg_customer", "reg_invoice", "reg_amount"}


class Terminal:
    """The demo at a pseudo-terminal, 200 columns wide: what the person sees is what it
    writes (the terminal's echo of typed text included)."""

    def __init__(self, tmp_path: Path, *options: str) -> None:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "run_bot.py"), "demo", *options],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=clean_environment(TERM="dumb"),
            cwd=tmp_path,
            start_new_session=True,
        )
        os.close(slave)
        self.master = master
        self.screen = b""
        self.seen = 0

    def wait_for(self, text: str, timeout: float = 30) -> str:
        """What was written from the last match to the end of `text`."""
        wanted = text.encode()
        deadline = time.monotonic() + timeout
        while (found := self.screen.find(wanted, self.seen)) < 0:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self.master], [], [], max(left, 0))
            if not ready:
                shown = self.screen[self.seen :].decode(errors="replace")
                raise AssertionError(f"no {text!r} on the terminal:\n{shown}")
            try:
                self.screen += os.read(self.master, 65536)
            except OSError:  # the demo ended: nothing more to read
                raise AssertionError(f"the demo ended before {text!r}") from None
        start, self.seen = self.seen, found + len(wanted)
        return self.screen[start : self.seen].decode(errors="replace")

    def type(self, keys: str) -> None:
        os.write(self.master, keys.encode())

    def at_prompt(self, keys: str, *, enter: bool = True) -> None:
        """Type once the prompt shows, as a person does (typed earlier, the terminal would
        echo it a second time)."""
        self.wait_for("\n> ")
        self.type(keys + ("\r" if enter else ""))

    def close(self) -> int:
        self.type("\x04")  # Ctrl-D at the prompt ends the demo
        code = self.process.wait(timeout=60)
        os.close(self.master)
        return code


def test_at_a_terminal_passwords_and_codes_never_show(tmp_path):
    password = "Rozsa-Bokor-17"
    code = "HQ7M 2XKP 9RTW 4CNV 8BJD 5FGL"  # shaped like a reset code
    terminal = Terminal(tmp_path, "--seed", "9", "--today", "2026-06-30")
    terminal.wait_for("Kezdéshez írja be: /start")
    terminal.at_prompt("/start")
    terminal.wait_for("[6] ℹ️ Súgó")
    terminal.at_prompt("3")  # Belépés
    terminal.wait_for("[1] ✖️ Mégse")
    terminal.at_prompt("kiss.ilona")
    asked = terminal.wait_for("> 🔒 ")  # the password's prompt says typing is unseen
    assert "nem látszik" in asked
    terminal.type(password + "\r")
    typed = terminal.wait_for("(az üzenetét biztonsági okból töröltük)")
    assert typed.lstrip().startswith("••••••••")
    # Asked for the user name again, Elfelejtett jelszó offered beside Mégse (issue 11).
    terminal.wait_for("[2] ✖️ Mégse")
    terminal.at_prompt("2")  # Mégse
    terminal.wait_for("[6] ℹ️ Súgó")

    # A code typed where the bot asks for a name: shown as typed, then dots over it once the
    # bot deletes it, and gone from the line history (arrow up).
    terminal.at_prompt("4")  # Elfelejtett jelszó
    terminal.wait_for("[1] ✖️ Mégse")
    terminal.at_prompt(code)
    terminal.wait_for(code)  # the terminal's echo: the bot could not know in advance
    rewritten = terminal.wait_for("(az üzenetét biztonsági okból töröltük)")
    assert "\x1b[1F\x1b[J> ••••••••" in rewritten
    terminal.wait_for("> 🔒 ")  # now it asks for the code: unseen
    terminal.type("1\r")  # Mégse, a button: shown as typed
    terminal.wait_for("[6] ℹ️ Súgó")
    terminal.at_prompt("\x1b[A", enter=False)  # arrow up: the line before the code
    terminal.wait_for("4")
    terminal.type("\x15")  # Ctrl-U: clear the line
    assert terminal.close() == 0
    screen = terminal.screen.decode(errors="replace")
    assert password not in screen
    assert screen.count(code) == 1  # only the echo the dots went over


def test_a_long_paste_is_sent_in_parts_and_an_earlier_button_can_be_pressed(tmp_path):
    """Issue 11: a paste over 4096 characters goes as Telegram sends it, in parts; a button
    of an earlier message still on screen keeps a number and can be pressed."""
    sample = write_demo_data(tmp_path / "sample", seed=SEED, today=date.fromisoformat(TODAY))
    sentence = "A vízóra mellett szivárog a cső, kérem nézzék meg. "
    paste = (sentence * (5000 // len(sentence) + 1)).strip()
    script = (
        "/start\n1\nlaszlo.demo@example.hu\nlaszlo.d\nTavaszi-Szel-42\nTavaszi-Szel-42\n"
        f"{sample.sample.customer_id}\n{sample.sample.invoice_number}\n{sample.sample.amount}\n"
        "/help\n2\n/start\n5\n" + paste + "\n:q\n"
    )
    result = run_demo(script, tmp_path / "mail", tmp_path)
    out = result.stdout
    assert result.returncode == 0, result.stderr + out
    assert "(korábbi üzenetek gombjai, ezek is megnyomhatók:)" in out
    assert "Köszönjük a regisztrációt" in out  # [2]: the summary's Rendben, elküldöm
    assert "nem küldhető el" not in out
    assert "Telegram clients split" not in out

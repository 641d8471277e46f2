"""`python run_bot.py demo`, replayed from a script as a person would type it.

A real subprocess: demo data, the real bot behind the Bot API emulator, mail
written to a folder; the lines come from standard input (not a terminal), so
the demo echoes them and the transcript on stdout is what we check.
"""

from __future__ import annotations

import email
import os
import re
import subprocess
import sys
from datetime import date
from email import policy
from pathlib import Path

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
{customer_id}
{invoice}
{amount}
1
{link}
3
kovacs.eva
Tavaszi-Szel-42
2
3
:q
"""


def run_demo(script: str, mail_dir: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith(("PETKOMM_", "TELEGRAM_"))
    }
    environment["PYTHONIOENCODING"] = "utf-8"
    return subprocess.run(
        [
            sys.executable,
            str(ROOT / "run_bot.py"),
            "demo",
            "--seed",
            str(SEED),
            "--today",
            TODAY,
            "--mail-dir",
            str(mail_dir),
        ],
        input=script,
        env=environment,
        cwd=cwd,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
    )


def expected_sample(tmp_path: Path) -> str:
    """The line the demo must print: the same generator, the same seed and day."""
    summary = write_demo_data(tmp_path / "expected", seed=SEED, today=date.fromisoformat(TODAY))
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
    assert out.count(DELETED_NOTE) == 2  # the registration's and the login's password

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

    # Activated, logged in, the home page and two menu pages pressed by number.
    assert "Fiókja aktív!" in out
    assert "Sikeres belépés" in out and "Kezdőlap" in out
    assert f"Ügyfél-azonosító: {customer_id}" in out
    assert "[1] 🏠 Kezdőlap  [2] 💰 Tartozás" in out and "[3] 🧾 Számlák" in out
    after_login = out.split("Sikeres belépés", 1)[1]
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

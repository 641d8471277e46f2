"""A clerk at the command line: `run_bot.py tickets …` and `run_bot.py audit`.

Each test prepares a database file with tickets, then runs the command line
as a clerk would (a subprocess with PETKOMM_DB set) and checks what it printed
and what it changed, including the mail it queued.
"""

from __future__ import annotations

import asyncio
import email
import getpass
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from email import policy
from email.header import Header
from pathlib import Path

import pytest

from core import tickets
from core.config import Settings
from core.inbound import InboundContext
from mailer.inbox import InboxReader
from mailer.sender import OutboxSender
from storage import audit
from storage import tickets as tickets_store
from storage.db import open_database

ROOT = Path(__file__).resolve().parents[1]
DAY = 86400.0
ME = f"cli:{getpass.getuser()}"


def run(env: dict[str, str], *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith(("PETKOMM_", "TELEGRAM_"))
    }
    environment.update(env)
    return subprocess.run(
        [sys.executable, str(ROOT / "run_bot.py"), *args],
        env=environment,
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
async def env(tmp_path) -> dict[str, str]:
    """A database with three tickets: an old mail report from a known customer (PK-000001),
    a Telegram report by a guest (PK-000002) and a closed mail report (PK-000003)."""
    path = tmp_path / "staff.sqlite3"
    db = await open_database(path)
    now = time.time()
    await db.execute(
        "INSERT INTO customers(customer_id, name, address, email)"
        " VALUES ('U1234', 'Juhász László', 'Pécs', 'juhasz.laszlo@freemail.hu')"
    )
    async with db.transaction() as tx:
        await tickets.open_ticket(
            tx,
            channel="mail",
            subject="Nincs víz a Kossuth utcában",
            body="Tegnap óta nincs víz.\nKérem, nézzék meg!",
            new_text="Tegnap óta nincs víz.\nKérem, nézzék meg!",
            actor="mail:juhasz.laszlo@freemail.hu",
            customer_id="U1234",
            email="juhasz.laszlo@freemail.hu",
            mail_message_id="<cli.1@freemail.hu>",
            now=now - 13 * DAY,
        )
        await tickets.open_ticket(
            tx,
            channel="telegram",
            subject="Számla",
            body="Hol látom a számláimat?",
            new_text="Hol látom a számláimat?",
            actor="tg:5555",
            telegram_user_id=5555,
            telegram_chat_id=5555,
            now=now - 2 * DAY,
        )
        closed = await tickets.open_ticket(
            tx,
            channel="mail",
            subject="Régi ügy",
            body="Már megoldódott.",
            new_text="Már megoldódott.",
            actor="mail:regi@example.hu",
            email="regi@example.hu",
            mail_message_id="<cli.3@example.hu>",
            now=now - 1 * DAY,
        )
        await tickets_store.set_status(tx, closed.id, "closed", now)
        # An entry at a known moment: 10:00 UTC is 12:00 in Budapest in July.
        moment = datetime(2024, 7, 1, 10, 0, tzinfo=UTC).timestamp()
        await audit.record(tx, moment, "tg:77", "login", "U0077")
    await db.close()
    return {"PETKOMM_DB": str(path), "PETKOMM_MAIL_OUTBOX_DIR": str(tmp_path / "mail")}


def ticket_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("PK-")]


@pytest.mark.parametrize(
    "command", [["tickets"], ["tickets", "list"], ["tickets", "reply"], ["audit"]]
)
def test_the_staff_commands_have_help(command):
    result = run({}, *command, "--help")
    assert result.returncode == 0 and "usage:" in result.stdout


def test_list_shows_open_tickets_oldest_first_with_the_configured_deadline_marks(env):
    result = run(env, "tickets", "list")
    assert result.returncode == 0, result.stderr
    old, guest = ticket_lines(result.stdout)
    assert old.startswith("PK-000001") and guest.startswith("PK-000002")
    assert "! " in old and "(még 2 nap)" in old and "Juhász László (U1234)" in old
    assert "! " not in guest and "(még 13 nap)" in guest and "Telegram" in guest
    assert "Nyitott bejelentések: 2 (" in result.stdout
    assert result.stdout.splitlines()[1].startswith("ÜGYSZÁM")

    everything = run(env, "tickets", "list", "--all")
    assert [line[:9] for line in ticket_lines(everything.stdout)] == [
        "PK-000001",
        "PK-000002",
        "PK-000003",
    ]
    assert "lezárva" in ticket_lines(everything.stdout)[2]

    # Thirty days to answer: nothing is near yet.
    relaxed = run({**env, "PETKOMM_ANSWER_DAYS": "30"}, "tickets", "list")
    assert all("! " not in line for line in ticket_lines(relaxed.stdout))
    assert "(még 17 nap)" in ticket_lines(relaxed.stdout)[0]


async def test_show_prints_the_whole_thread_and_is_audited(env):
    for number in ("1", "PK-000001"):
        result = run(env, "tickets", "show", number)
        assert result.returncode == 0, result.stderr
        assert "PK-000001  nyitott  e-mail" in result.stdout
        assert "Ügyfél:     Juhász László (U1234) <juhasz.laszlo@freemail.hu>" in result.stdout
        assert "--- ügyfél, " in result.stdout
        assert "Tegnap óta nincs víz.\nKérem, nézzék meg!" in result.stdout
    db = await open_database(env["PETKOMM_DB"])
    viewed = [e for e in await audit.entries(db) if e.action == "ticket_viewed"]
    await db.close()
    assert [(e.actor, e.target) for e in viewed] == [(ME, "PK-000001")] * 2


async def test_reply_sends_a_threaded_mail_or_queues_the_customers_telegram_chat(env, tmp_path):
    result = run(env, "tickets", "reply", "1", "--text", "Holnapig helyreáll a vízellátás.")
    assert result.returncode == 0, result.stderr
    assert "a válasz e-mailben megy ide: juhasz.laszlo@freemail.hu" in result.stdout
    assert "Az ügy nyitva marad; ha elintézte, zárja le: " in result.stdout

    # The mail worker sends what the command line queued: a reply in the customer's thread.
    db = await open_database(env["PETKOMM_DB"])
    assert await OutboxSender(db, Settings(env)).send_due() == 1
    [path] = (tmp_path / "mail").glob("*.eml")
    mail = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    assert mail["To"] == "juhasz.laszlo@freemail.hu"
    assert mail["Subject"] == "[#PK-000001] Re: Nincs víz a Kossuth utcában"
    assert mail["In-Reply-To"] == "<cli.1@freemail.hu>"
    assert mail["References"] == "<cli.1@freemail.hu>"
    body = mail.get_body(("plain",)).get_content()
    assert "Tisztelt Juhász László!" in body and "Holnapig helyreáll a vízellátás." in body

    # A Telegram ticket: the answer waits for the bot, read from standard input.
    result = run(env, "tickets", "reply", "PK-000002", "--file", "-", stdin="Első sor\nMásodik\n")
    assert result.returncode == 0, result.stderr
    assert "az ügyfél Telegram-csevegésébe megy" in result.stdout
    [queued] = await tickets_store.telegram_answers_of(db, 2)
    assert (queued.chat_id, queued.text, queued.status) == (5555, "Első sor\nMásodik", "queued")

    answer_file = tmp_path / "valasz.txt"
    answer_file.write_text("A számlák a Számlák menüpontban vannak.\n", encoding="utf-8")
    assert run(env, "tickets", "reply", "2", "--file", str(answer_file)).returncode == 0
    out = [m for m in await tickets_store.messages(db, 2) if m.direction == "out"]
    assert [(m.author, m.body) for m in out] == [
        (ME, "Első sor\nMásodik"),
        (ME, "A számlák a Számlák menüpontban vannak."),
    ]
    ticket = await tickets_store.get(db, 1)
    await db.close()
    assert ticket.status == "open"

    missing = run(env, "tickets", "reply", "2", "--file", str(tmp_path / "nincs.txt"))
    assert missing.returncode == 2
    assert missing.stderr.strip().splitlines() == [
        f"Hiba: --file: nem tudom beolvasni: {tmp_path / 'nincs.txt'}: No such file or directory"
    ]
    empty = run(env, "tickets", "reply", "2", "--text", "   ")
    assert empty.returncode == 1 and empty.stderr.strip() == "Hiba: üres választ nem küldhetek."


def test_close_reopen_and_an_unknown_ticket(env):
    assert run(env, "tickets", "close", "PK-000001").stdout.strip() == "PK-000001 lezárva."
    assert run(env, "tickets", "close", "1").stdout.strip() == "A PK-000001 már le van zárva."
    assert ticket_lines(run(env, "tickets", "list").stdout)[0].startswith("PK-000002")
    assert run(env, "tickets", "reopen", "1").stdout.strip() == "PK-000001 újranyitva."
    assert run(env, "tickets", "reopen", "1").stdout.strip() == "A PK-000001 már nyitva van."

    for action in (["show"], ["close"], ["reopen"], ["reply", "--text", "x"]):
        unknown = run(env, "tickets", action[0], "999", *action[1:])
        assert unknown.returncode == 1
        assert unknown.stderr.strip().splitlines() == ["Hiba: nincs PK-000999 számú bejelentés."]
    bad = run(env, "tickets", "show", "abc")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert bad.stderr.strip().splitlines() == [
        "Hiba: ez nem ügyszám: 'abc' (így írja: 123 vagy PK-000123)"
    ]


def test_audit_shows_who_did_what_filtered_by_day_and_actor(env):
    run(env, "tickets", "reply", "1", "--text", "Dolgozunk rajta.")
    run(env, "tickets", "close", "1")
    run(env, "tickets", "reopen", "1")

    result = run(env, "audit")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("2024-07-01 12:00:00  tg:77")  # Budapest time, oldest first
    mine = [line.split() for line in lines if ME in line]
    assert [(fields[2], fields[3], fields[4]) for fields in mine] == [
        (ME, "ticket_answered", "PK-000001"),
        (ME, "ticket_closed", "PK-000001"),
        (ME, "ticket_reopened", "PK-000001"),
    ]
    assert "Dolgozunk rajta" not in result.stdout  # never the message itself

    only_me = run(env, "audit", "--actor", ME).stdout.splitlines()
    assert len(only_me) == 3 and all(ME in line for line in only_me)
    today = datetime.now().date().isoformat()
    recent = run(env, "audit", "--since", today).stdout
    assert "tg:77" not in recent and "ticket_closed" in recent
    assert run(env, "audit", "--since", "2999-01-01").stdout.strip() == "No audit entries."

    bad = run(env, "audit", "--since", "2024-13-01")
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == [
        "error: --since: not a YYYY-MM-DD date: '2024-13-01'"
    ]


# --- customer text on the operator's terminal --------------------------------------------------

# What a customer may put in a report to drive the clerk's terminal: a window title and a bell
# (OSC 0), clearing the screen, colours, a cursor query (C1 CSI), a carriage return that
# overwrites the line, and a right-to-left override that shows "hello" reversed.
TERMINAL_TRAPS = (
    "Nincs víz\x1b]0;pwned\x07 \x1b[2J\x1b[31mpiros\x1b[0m \u202eolleh\u202c \x9b6n vége\r"
    "ELREJTVE\nÁrvíztűrő tükörfúrógép\nKérem, nézzék meg!"
)
RAW_CONTROLS = ("\x1b", "\x07", "\u202e", "\u202c", "\x9b", "\r")


async def cli(env: dict[str, str], *args: str) -> str:
    """Run the command line (without blocking the bot in this process); its standard output."""
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith(("PETKOMM_", "TELEGRAM_"))
    }
    environment.update(env)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "run_bot.py"),
        *args,
        env=environment,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 0, stderr.decode()
    return stdout.decode()


def raw_controls(output: str) -> list[str]:
    return [repr(c) for c in RAW_CONTROLS if c in output]


def trap_mail(subject: str, body: str) -> bytes:
    """A mail whose sender's address hides a right-to-left override (mail clients send
    UTF-8 headers as they are) and whose subject hides escapes in an encoded word."""
    headers = [
        "From: Kiss Anna <anna\u202egpj.exe@example.hu>",
        "To: petkomm@petkomm.hu",
        f"Subject: {Header(subject, 'utf-8').encode()}",
        "Date: Wed, 25 Nov 2026 09:00:00 +0100",
        "Message-ID: <trap.1@example.hu>",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: 8bit",
    ]
    return ("\r\n".join(headers) + "\r\n\r\n" + body.replace("\n", "\r\n") + "\r\n").encode()


async def test_what_customers_write_cannot_drive_the_clerks_terminal(bot_env, dovecot, imap_user):
    # A report typed in the chat, and one mailed.
    person = bot_env.customer()
    await person.command("start")
    await person.press("report")
    assert "PK-000001" in person.texts(await person.say(TERMINAL_TRAPS))
    settings = Settings({**bot_env.settings.env, **imap_user.env})
    reader = InboxReader(
        bot_env.db, settings, ctx=InboundContext.from_settings(settings), clock=bot_env.clock
    )
    subject = "Számla \x1b[8mrejtett\x1b[0m \u202etxt.exe"
    dovecot.deliver(imap_user.name, trap_mail(subject, TERMINAL_TRAPS.replace("\r", "")))
    await reader.poll_once()
    await reader.processor.process_pending()

    env = {"PETKOMM_DB": str(bot_env.db.path)}
    listing = await cli(env, "tickets", "list")
    chat = await cli(env, "tickets", "show", "1")
    mail = await cli(env, "tickets", "show", "2")
    trail = await cli(env, "audit")
    for output in (listing, chat, mail, trail):
        assert raw_controls(output) == [], output

    # What was there is shown, visibly escaped; Hungarian letters and the body's lines stay.
    assert "Nincs víz\\x1b]0;pwned\\x07 \\x1b[2J" in listing
    assert "anna\\u202egpj.exe@example.hu" in ticket_lines(listing)[1]
    lines = chat.splitlines()
    assert "Nincs víz\\x1b]0;pwned\\x07 \\x1b[2J\\x1b[31mpiros\\x1b[0m \\u202eolleh\\u202c" in chat
    assert "\\x9b6n vége\\rELREJTVE" in chat
    assert lines[-2:] == ["Árvíztűrő tükörfúrógép", "Kérem, nézzék meg!"]
    assert "Tárgy:      Számla \\x1b[8mrejtett\\x1b[0m \\u202etxt.exe" in mail.splitlines()
    assert "Árvíztűrő tükörfúrógép\nKérem, nézzék meg!" in mail
    assert "mail:anna\\u202egpj.exe@example.hu" in trail

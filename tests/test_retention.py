"""Retention (issue 13 §4): the operator purges what the law no longer asks us to keep.

A complaint and its answer are kept five years (Fgytv. 17/A (7)). `db purge`
removes closed tickets whose last activity is older than a date, with everything
that refers to them, and the old ephemeral rows; open tickets and waiting mail
stay. Run as the operator runs it: the real command line, a real database file.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest

from botapi_emulator import BotApiEmulator
from core import retention
from storage import retention as store
from storage.db import open_database
from tests.botkit import BOT_USERNAME, START, TOKEN, Clock, start_bot, stop_bot

ROOT = Path(__file__).resolve().parents[1]
YEAR = 365.25 * 86400
# Words only the purged complaint holds (and only the kept one): looked for in the file's bytes.
GONE = "pinceben-all-a-viz-7f3a91"
KEPT = "beazik-a-plafon-91bc44"


def run(*args: str, env: dict[str, str], timeout: float = 60):
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith(("PETKOMM_", "TELEGRAM_"))
    }
    environment.update(env)
    return subprocess.run(
        [sys.executable, str(ROOT / "run_bot.py"), *args],
        env=environment,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def migrate(path: Path) -> None:
    async def opened() -> None:
        await (await open_database(path)).close()

    asyncio.run(opened())


def connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA secure_delete = ON")  # as the product's connections: no stale copies
    return conn


def add_ticket(
    conn: sqlite3.Connection, *, status: str, at: float, text: str, mail: str = "sent"
) -> int:
    """A mail ticket with a row in every table that refers to tickets."""
    tid = conn.execute(
        "INSERT INTO tickets(channel, status, subject, email, telegram_user_id, telegram_chat_id,"
        " created_at, updated_at, closed_at, urgent) VALUES ('mail', ?, ?, 'kati@example.hu',"
        " 5001, 5001, ?, ?, ?, 1)",
        (status, f"Bejelentes {text}", at, at, at if status == "closed" else None),
    ).lastrowid
    raw = f"Subject: Bejelentes\r\n\r\n{text}\r\n".encode()
    mail_id = conn.execute(
        "INSERT INTO inbound_mails(message_id, folder, raw, status, ticket_id, received_at)"
        " VALUES (?, 'INBOX', ?, 'ticket', ?, ?)",
        (f"<in-{tid}@example.hu>", raw, tid, at),
    ).lastrowid
    message = conn.execute(
        "INSERT INTO ticket_messages(ticket_id, direction, author, body, new_text,"
        " mail_message_id, inbound_mail_id, created_at)"
        " VALUES (?, 'in', 'customer', ?, ?, ?, ?, ?)",
        (tid, text, text, f"<in-{tid}@example.hu>", mail_id, at),
    ).lastrowid
    conn.execute(
        "INSERT INTO ticket_messages(ticket_id, direction, author, body, new_text, created_at)"
        " VALUES (?, 'out', 'anna', ?, ?, ?)",
        (tid, f"Valasz: {text}", f"Valasz: {text}", at),
    )
    conn.execute(
        "INSERT INTO ticket_attachments(ticket_id, ticket_message_id, inbound_mail_id, position,"
        " filename, declared_type, content_type, size, content, created_at)"
        " VALUES (?, ?, ?, 1, 'kep.txt', 'text/plain', 'text/plain', 40, ?, ?)",
        (tid, message, mail_id, f"melleklet {text}".encode(), at),
    )
    conn.execute(
        "INSERT INTO staff_announcements(ticket_id, event, created_at, sent_at)"
        " VALUES (?, 'new', ?, ?)",
        (tid, at, at),
    )
    conn.execute(
        "INSERT INTO ticket_notes(ticket_id, author, body, created_at) VALUES (?, 'anna', ?, ?)",
        (tid, f"Jegyzet: {text}", at),
    )
    conn.execute(
        "INSERT INTO canned_drafts(ticket_id, name, author, text, created_at)"
        " VALUES (?, 'koszonjuk', 'anna', ?, ?)",
        (tid, f"Sablon: {text}", at),
    )
    conn.execute(
        "INSERT INTO customer_ratings(ticket_id, channel, offered_at, sent_at, stars, rated_at)"
        " VALUES (?, 'mail', ?, ?, 5, ?)",
        (tid, at, at, at),
    )
    conn.execute("INSERT INTO staff_posts VALUES (-100, ?, ?)", (tid * 10, tid))
    conn.execute("INSERT INTO customer_posts VALUES (5001, ?, ?)", (tid * 10, tid))
    conn.execute(
        "INSERT INTO telegram_outbox(ticket_id, chat_id, text, status, next_attempt_at,"
        " created_at, sent_at) VALUES (?, 5001, ?, 'sent', ?, ?, ?)",
        (tid, f"Valasz: {text}", at, at, at),
    )
    conn.execute(
        "INSERT INTO outbox(message_id, kind, recipient, subject, raw, ticket_id, status,"
        " next_attempt_at, created_at, sent_at) VALUES (?, 'answer', 'kati@example.hu',"
        " 'Re: Bejelentes', ?, ?, ?, ?, ?, ?)",
        (
            f"<out-{tid}@petkomm.hu>",
            f"Subject: Re\r\n\r\nValasz: {text}\r\n".encode(),
            tid,
            mail,
            at + 20 * YEAR,  # a waiting mail is not due while a test's service runs
            at,
            at if mail == "sent" else None,
        ),
    )
    return int(tid)


def fill(path: Path, now: float) -> dict[str, int]:
    """Old (seven years) and recent (one year) rows of every kind; the tickets' ids."""
    old, recent = now - 7 * YEAR, now - YEAR
    later = now + YEAR  # when what waits is due: not while a test's service runs
    conn = connect(path)
    tickets = {
        "old_closed": add_ticket(conn, status="closed", at=old, text=GONE),
        "old_open": add_ticket(conn, status="open", at=old, text="regi nyitott"),
        "old_closed_written_to_lately": add_ticket(conn, status="closed", at=old, text="ujra"),
        "old_closed_mail_waiting": add_ticket(
            conn, status="closed", at=old, text="var", mail="queued"
        ),
        "recent_closed": add_ticket(conn, status="closed", at=recent, text=KEPT),
    }
    conn.execute(
        "INSERT INTO ticket_messages(ticket_id, direction, author, body, new_text, created_at)"
        " VALUES (?, 'in', 'customer', 'meg mindig', 'meg mindig', ?)",
        (tickets["old_closed_written_to_lately"], recent),
    )
    for at, status in ((old, "sent"), (old, "queued"), (recent, "sent"), (old, "failed")):
        conn.execute(
            "INSERT INTO outbox(message_id, kind, recipient, subject, raw, status,"
            " next_attempt_at, created_at, sent_at) VALUES (?, 'activation', 'x@example.hu',"
            " 'Aktivalas', x'00', ?, ?, ?, ?)",
            (
                f"<code-{at}-{status}@petkomm.hu>",
                status,
                later,
                at,
                at if status == "sent" else None,
            ),
        )
    for n, (at, status) in enumerate(((old, "ignored"), (recent, "ignored"), (old, "received"))):
        conn.execute(
            "INSERT INTO inbound_mails(message_id, folder, raw, status, received_at)"
            " VALUES (?, 'INBOX', x'00', ?, ?)",
            (f"<other-{n}@example.hu>", status, at),
        )
    for at in (old, recent):
        conn.execute(
            "INSERT INTO audit_log(at, actor, action, target) VALUES (?, 'cli:anna', 'x', '')",
            (at,),
        )
        conn.execute("INSERT INTO effect_journal VALUES (?, 'report', '{}', ?)", (f"tg:{at}:1", at))
        conn.execute("INSERT INTO throttle_events(scope, key, at) VALUES ('login', 'k', ?)", (at,))
        conn.execute("INSERT INTO throttle_locks VALUES ('login', ?, ?)", (f"k{at}", at))
        conn.execute("INSERT INTO throttle_trust VALUES ('login', '1', ?, ?)", (f"tg:{at}", at))
    for at, status in ((old, "sent"), (old, "queued"), (recent, "sent")):
        conn.execute(
            "INSERT INTO chat_notices(chat_id, topic, status, next_attempt_at, created_at,"
            " sent_at) VALUES (5001, 'activation_mail_failed', ?, ?, ?, ?)",
            (status, later, at, at if status == "sent" else None),
        )
    for at, sent in ((old, old), (old, None), (recent, recent)):
        conn.execute(
            "INSERT INTO staff_notices(topic, created_at, sent_at) VALUES ('mail_failing', ?, ?)",
            (at, sent),
        )
    conn.execute("INSERT INTO customers(customer_id, name, address) VALUES ('U0001', 'K', 'P')")
    conn.execute(
        "INSERT INTO portal_accounts(id, customer_id, username, username_key, email,"
        " password_hash, status, created_at) VALUES (1, 'U0001', 'kati', 'kati', 'k@e.hu',"
        " 'h', 'active', ?)",
        (old,),
    )
    for at in (old, recent):
        conn.execute(
            "INSERT INTO account_codes(account_id, purpose, code_hash, created_at, expires_at)"
            " VALUES (1, 'reset', ?, ?, ?)",
            (f"hash-{at}", at, at + 3600),
        )
    conn.execute(
        "INSERT INTO telegram_logins(telegram_user_id, account_id, chat_id, logged_in_at,"
        " last_seen_at) VALUES (7001, 1, 7001, ?, ?)",
        (old, old),
    )
    conn.execute(
        "INSERT INTO telegram_logins(telegram_user_id, account_id, chat_id, logged_in_at,"
        " last_seen_at) VALUES (7002, 1, 7002, ?, ?)",
        (recent, recent),
    )
    conn.close()
    return tickets


# What the purge of the data above removes: one line per kind.
EXPECTED = {
    "closed tickets": 1,
    "ticket messages (notes included)": 2,
    "raw mails": 2,  # the closed ticket's and an old ignored one (not the one waiting)
    "attachments": 1,
    "sent or failed mails": 3,  # the ticket's answer, an old sent and an old failed code mail
    "staff answers sent to a chat": 1,
    "staff-chat announcements": 1,
    "staff-chat message links": 1,
    "customer-chat message links": 1,
    "internal staff notes": 1,
    "filled canned answers": 1,
    "customers' ratings": 1,
    "audit rows": 1,
    "chat notices": 1,
    "staff-chat notices": 1,
    "effect-journal entries": 1,
    "expired activation and reset codes": 1,
    "Telegram logins idle since then": 1,
    "guessing-limit attempts": 1,
    "ended lockouts": 1,
    "remembered successful guessers": 1,
}


def dump(path: Path) -> dict[str, list[tuple]]:
    conn = sqlite3.connect(path)
    tables = [
        name
        for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        if not name.startswith("sqlite_")
    ]
    contents = {t: sorted(conn.execute(f"SELECT * FROM {t}").fetchall(), key=repr) for t in tables}
    conn.close()
    return contents


def five_years_back() -> date:
    return retention.latest_allowed(retention.budapest_day(time.time()))


@pytest.fixture
def filled(tmp_path):
    path = tmp_path / "petkomm.sqlite3"
    migrate(path)
    return path, fill(path, time.time()), {"PETKOMM_DB": str(path)}


def test_a_dry_run_shows_what_would_go_and_changes_nothing(filled):
    path, _, env = filled
    before = dump(path)
    day = five_years_back().isoformat()
    result = run("db", "purge", "--before", day, "--dry-run", env=env)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"{path}: what is older than {day} (Budapest time)"
    assert lines[1:-1] == [f"would remove {n} {label}" for label, n in EXPECTED.items()]
    assert lines[-1] == "dry run: nothing was removed"
    assert dump(path) == before


def test_the_purge_removes_exactly_the_old_closed_tickets_and_old_rows(filled):
    path, tickets, env = filled
    day = five_years_back().isoformat()
    result = run("db", "purge", "--before", day, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[1:] == [
        f"removed {n} {label}" for label, n in EXPECTED.items()
    ]
    conn = sqlite3.connect(path)
    gone = tickets["old_closed"]
    left = {row[0] for row in conn.execute("SELECT id FROM tickets")}
    # An old open ticket, one written to lately, one whose mail still waits, a recent one.
    assert left == set(tickets.values()) - {gone}
    for table in store.TICKET_TABLES - {"tickets", "inbound_mails"}:
        assert (
            conn.execute(f"SELECT count(*) FROM {table} WHERE ticket_id = ?", (gone,)).fetchone()[0]
            == 0
        ), table
        for kept in left:  # everything of the kept tickets is still there
            count = conn.execute(f"SELECT count(*) FROM {table} WHERE ticket_id = ?", (kept,))
            assert count.fetchone()[0] >= 1, (table, kept)
    waiting = conn.execute("SELECT status FROM outbox WHERE ticket_id IS NULL").fetchall()
    assert sorted(waiting) == [("queued",), ("sent",)]  # queued mail never goes
    assert conn.execute("SELECT status FROM inbound_mails WHERE ticket_id IS NULL").fetchall() == [
        ("ignored",),  # the recent one
        ("received",),  # still waiting to be processed: never removed
    ]
    assert conn.execute("SELECT count(*) FROM staff_notices").fetchone() == (2,)  # and pending
    assert conn.execute("SELECT count(*) FROM chat_notices").fetchone() == (2,)
    # The purge's own audit row: the kind, the date, the counts; and it is kept.
    audit = conn.execute(
        "SELECT actor, target, details FROM audit_log WHERE action = 'retention_purge'"
    ).fetchall()
    assert len(audit) == 1 and audit[0][0].startswith("cli:") and audit[0][1] == day
    assert "tickets=1" in audit[0][2] and "raw_mails=2" in audit[0][2]
    assert conn.execute("SELECT count(*) FROM audit_log").fetchone() == (2,)
    assert "tickets=1" in run("audit", env=env).stdout
    conn.close()
    # Nothing older is left: a second purge removes nothing and writes no audit row.
    again = run("db", "purge", "--before", day, env=env)
    assert all(line.startswith("removed 0 ") for line in again.stdout.splitlines()[1:])


def test_purged_text_is_gone_from_the_file_and_its_write_ahead_log(filled):
    path, _, env = filled
    wal = Path(f"{path}-wal")

    def raw() -> bytes:
        return path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")

    assert GONE.encode() in raw() and KEPT.encode() in raw()
    # A running service keeps the database open, so its write-ahead log stays. (Opened after
    # reading the files: closing a file drops every POSIX lock the process holds on it.)
    service = connect(path)
    service.execute("SELECT count(*) FROM tickets").fetchone()
    result = run("db", "purge", "--before", five_years_back().isoformat(), env=env)
    assert result.returncode == 0, result.stderr
    assert wal.exists()
    assert GONE.encode() not in raw()
    assert KEPT.encode() in raw()
    # The search index (issue 17) holds its words apart: "pinceben" is gone from it too.
    assert b"pinceben" not in raw()
    service.close()


@pytest.mark.parametrize(
    ("args", "told"),
    [
        (["--before", "2019-02-30"], "error: --before: not a YYYY-MM-DD date: '2019-02-30'"),
        (["--before", "tegnap"], "error: --before: not a YYYY-MM-DD date: 'tegnap'"),
        ([], "error: name --before YYYY-MM-DD (or set PETKOMM_RETENTION_YEARS)"),
    ],
)
def test_a_bad_date_is_one_line_and_exit_2(filled, args, told):
    path, _, env = filled
    before = dump(path)
    result = run("db", "purge", *args, env=env)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [told]
    assert dump(path) == before


def test_a_date_within_five_years_is_refused_unless_forced(filled):
    path, tickets, env = filled
    latest = five_years_back()
    last_year = retention.years_before(retention.budapest_day(time.time()), 1).isoformat()
    before = dump(path)
    result = run("db", "purge", "--before", last_year, env=env)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: --before: {last_year} is less than 5 years ago: the law (Fgytv. 17/A (7))"
        f" keeps a complaint and its answer for 5 years, so the latest date today is"
        f" {latest.isoformat()} (--force overrides)"
    ]
    assert dump(path) == before
    tomorrow = date.fromordinal(retention.budapest_day(time.time()).toordinal() + 1)
    future = run("db", "purge", "--before", tomorrow.isoformat(), "--force", env=env)
    assert future.returncode == 2 and "is after today" in future.stderr
    forced = run("db", "purge", "--before", last_year, "--force", env=env)
    assert forced.returncode == 0, forced.stderr
    conn = sqlite3.connect(path)
    left = {row[0] for row in conn.execute("SELECT id FROM tickets")}
    # The recent closed ticket is newer than last year's date; the newest is never purged.
    assert tickets["recent_closed"] in left and tickets["old_closed"] not in left
    assert tickets["old_open"] in left


def test_without_before_the_setting_names_the_date(filled):
    _, _, env = filled
    result = run("db", "purge", "--dry-run", env={**env, "PETKOMM_RETENTION_YEARS": "6"})
    assert result.returncode == 0, result.stderr
    six = retention.years_before(retention.budapest_day(time.time()), 6).isoformat()
    assert f"what is older than {six}" in result.stdout
    assert "would remove 1 closed tickets" in result.stdout


def test_the_newest_ticket_is_kept_so_its_number_is_never_given_again(tmp_path):
    path = tmp_path / "petkomm.sqlite3"
    migrate(path)
    conn = connect(path)
    old = time.time() - 7 * YEAR
    first = add_ticket(conn, status="closed", at=old, text="elso")
    newest = add_ticket(conn, status="closed", at=old, text="masodik")
    conn.close()
    result = run(
        "db", "purge", "--before", five_years_back().isoformat(), env={"PETKOMM_DB": str(path)}
    )
    assert "removed 1 closed tickets" in result.stdout
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT id FROM tickets").fetchall() == [(newest,)]
    assert first < newest


async def test_a_crash_midway_removes_nothing(filled):
    path, _, _ = filled
    before = dump(path)
    conn = connect(path)
    # The last step fails, after the tickets' messages, mails and files were deleted.
    conn.execute(
        "CREATE TRIGGER no_ticket_delete BEFORE DELETE ON tickets"
        " BEGIN SELECT RAISE(ABORT, 'disk gone'); END"
    )
    conn.close()
    db = await open_database(path)
    try:
        with pytest.raises(sqlite3.IntegrityError, match="disk gone"):
            await retention.purge(db, five_years_back(), actor="cli:test", now=time.time())
    finally:
        await db.close()
    after = dump(path)
    assert after == before


# --- no table that refers to tickets can be forgotten -------------------------------------


def uncovered(conn: sqlite3.Connection) -> set[str]:
    """Tables that refer to tickets, or to a row the purge removes with them (a foreign key,
    or a column named ticket_id/ticket), that the purge does not cover."""
    tables = [
        name
        for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        if not name.startswith("sqlite_")
    ]
    removed_with_tickets = set(store.TICKET_TABLES)
    missing: set[str] = set()
    for table in tables:
        targets = {row[2] for row in conn.execute(f"PRAGMA foreign_key_list({table})")}
        columns = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
        refers = bool(targets & (removed_with_tickets | {"tickets"}))
        refers = refers or bool(columns & {"ticket_id", "ticket"})
        if refers and table not in removed_with_tickets:
            missing.add(table)
    return missing


def test_every_table_that_refers_to_tickets_is_purged_with_them(tmp_path):
    path = tmp_path / "petkomm.sqlite3"
    migrate(path)
    conn = sqlite3.connect(path)
    assert {"tickets", "ticket_messages", "inbound_mails", "outbox"} <= store.TICKET_TABLES
    assert uncovered(conn) == set()
    # A future table the purge does not know of fails this test.
    conn.execute("CREATE TABLE ticket_ratings (ticket_id INTEGER, stars INTEGER)")
    conn.execute(
        "CREATE TABLE message_reactions (id INTEGER PRIMARY KEY,"
        " message INTEGER REFERENCES ticket_messages(id))"
    )
    assert uncovered(conn) == {"ticket_ratings", "message_reactions"}
    conn.close()


# --- the days -----------------------------------------------------------------------------


def test_five_years_back_from_a_leap_day():
    assert retention.years_before(date(2028, 2, 29), 5) == date(2023, 2, 28)
    assert retention.latest_allowed(date(2026, 11, 27)) == date(2021, 11, 27)
    assert retention.refusal(date(2021, 11, 27), date(2026, 11, 27), force=False) is None
    assert retention.refusal(date(2021, 11, 28), date(2026, 11, 27), force=False) is not None
    assert retention.refusal(date(2021, 11, 28), date(2026, 11, 27), force=True) is None


# --- the setting and the service's daily purge ------------------------------------------------


@pytest.mark.parametrize(
    ("value", "told"),
    [
        (
            "3",
            "configuration error: PETKOMM_RETENTION_YEARS: must be at least 5 (the law keeps a"
            " complaint and its answer 5 years, Fgytv. 17/A (7)), got 3",
        ),
        (
            "öt",
            "configuration error: PETKOMM_RETENTION_YEARS: must be a whole number of years,"
            " got 'öt'",
        ),
    ],
)
def test_a_malformed_retention_setting_stops_the_service_with_one_line(tmp_path, value, told):
    env = {
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "PETKOMM_DB": str(tmp_path / "x.sqlite3"),
        "PETKOMM_MAIL_OUTBOX_DIR": str(tmp_path / "mail"),
        "PETKOMM_RETENTION_YEARS": value,
    }
    result = run("run", env=env)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [told]


class _Heard(logging.Handler):
    """Sets an event when the retention line is logged."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []
        self.event = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("retention:"):
            self.lines.append(record.getMessage())
            self.event.set()


async def test_the_running_service_purges_daily_by_the_setting(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="petkomm")
    path = tmp_path / "bot.sqlite3"
    db = await open_database(path)
    tickets = fill(path, START)
    heard = _Heard()
    logging.getLogger("petkomm").addHandler(heard)
    emulator = BotApiEmulator(token=TOKEN, bot_username=BOT_USERNAME)
    await emulator.start()
    env = {
        "PETKOMM_DB": str(path),
        "PETKOMM_MAIL_OUTBOX_DIR": str(tmp_path / "mail"),
        "PETKOMM_RETENTION_YEARS": "5",
    }
    service = await start_bot(env, db, Clock(), emulator)
    try:
        await asyncio.wait_for(heard.event.wait(), timeout=15)
        (line,) = heard.lines
        cut = retention.years_before(retention.budapest_day(START), 5).isoformat()
        assert line.startswith(f"retention: removed what is older than {cut} (5 years): ")
        assert "1 closed tickets, 2 ticket messages (notes included), 2 raw mails" in line
        left = {row[0] for row in await db.fetch_all("SELECT id FROM tickets")}
        assert tickets["old_closed"] not in left and tickets["old_open"] in left
        actor = await db.fetch_value("SELECT actor FROM audit_log WHERE action = 'retention_purge'")
        assert actor == "system"
        # The next day's round finds nothing: it logs nothing at all, and says when it runs again.
        caplog.set_level(logging.DEBUG, logger="petkomm")
        caplog.clear()  # (housekeeping may log meanwhile: it runs beside)
        assert await service._purge_old(asyncio.Event()) == retention.EVERY
        assert [r for r in caplog.records if "retention" in r.getMessage()] == []
        assert heard.lines == [line]
    finally:
        logging.getLogger("petkomm").removeHandler(heard)
        await stop_bot(service)
        await emulator.stop()
        await db.close()


def test_purge_has_help():
    result = run("db", "purge", "--help", env={})
    assert result.returncode == 0
    assert "usage:" in result.stdout and "--dry-run" in result.stdout

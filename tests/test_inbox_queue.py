"""The queue between the mail worker's two stages: stored mail, the processor, the migration."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from core import inbound
from core.accounts import CodeMailer
from core.config import Settings
from core.inbound import InboundContext, InboundResult, threads
from core.mail import MailContext
from mailer.inbox import InboxReader
from mailer.processor import InboundProcessor
from storage import inbound as inbound_store
from storage import migrations
from storage import tickets as tickets_store
from storage.db import Database, open_database

NOW = 1_718_000_000.0
SETTINGS = Settings({})
WAIT = 10.0  # seconds: a failure guard only; everything below awaits an event


@pytest.fixture
def ctx() -> InboundContext:
    return InboundContext(
        ours=MailContext.of("petkomm@petkomm.hu"),
        settings=SETTINGS,
        code_mailer=CodeMailer(SETTINGS, lambda: "petkomm_bot"),
        bot_username="petkomm_bot",
    )


def customer_mail(
    n: int, *, sender: str = "kiss.anna@example.hu", headers: str = "", body: str = ""
) -> bytes:
    head = (
        f"From: Kiss Anna <{sender}>\r\nTo: petkomm@petkomm.hu\r\nSubject: Bejelentés {n}\r\n"
        f"Date: Mon, 10 Jun 2024 08:00:00 +0200\r\nMessage-ID: <queue.{n}@example.hu>\r\n"
        f"{headers}MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n\r\n"
    )
    return (head + (body or f"Jó napot! A Fő utca {n}. előtt folyik a víz.") + "\r\n").encode()


async def store(db: Database, *raws: bytes) -> list[int]:
    """Stage 1 without IMAP: the mails kept as 'received'."""
    ids = []
    for uid, raw in enumerate(raws, start=1):
        mail_id = await inbound.store_mail(db, raw, folder="INBOX", uidvalidity=1, uid=uid, now=NOW)
        assert mail_id is not None
        ids.append(mail_id)
    return ids


async def count(db: Database, table: str, where: str = "") -> int:
    return int(await db.fetch_value(f"SELECT count(*) FROM {table} {where}"))


class Running:
    """A processor's `run` in a task, stopped and awaited after the test."""

    def __init__(self, processor: InboundProcessor) -> None:
        self.processor = processor
        self.stop = asyncio.Event()
        self.task = asyncio.create_task(processor.run(self.stop))

    async def idle(self) -> None:
        await asyncio.wait_for(self.processor.wait_idle(), WAIT)

    async def close(self) -> None:
        self.stop.set()
        await asyncio.wait_for(self.task, WAIT)


@pytest.fixture
async def running() -> AsyncIterator[list[Running]]:
    started: list[Running] = []
    yield started
    for item in started:
        if not item.task.done():
            await item.close()


# --- the processor ----------------------------------------------------------------------------


async def test_stored_mails_are_processed_oldest_first(db, ctx):
    original = customer_mail(1)
    reply = customer_mail(
        2,
        body="Délután otthon leszek.",  # not urgent: an urgent reply gets an answer of its own
        headers="In-Reply-To: <queue.1@example.hu>\r\nReferences: <queue.1@example.hu>\r\n",
    )
    await store(db, original, reply)  # both arrive in the same batch
    results: list[InboundResult] = []
    processor = InboundProcessor(db, ctx=ctx, on_result=results.append, clock=lambda: NOW)

    assert await processor.process_pending() == 2

    assert [r.outcome for r in results] == ["new", "threaded"]
    [ticket] = await tickets_store.all_tickets(db, 0, 10)
    assert [m.direction for m in await tickets_store.messages(db, ticket.id)] == ["in", "out", "in"]
    assert await inbound_store.count_received(db) == 0


async def test_processing_resumes_at_start_with_what_a_crash_left(db, ctx, running):
    await store(db, customer_mail(1), customer_mail(2))  # stored; the process died before stage 2
    results: list[InboundResult] = []
    processor = InboundProcessor(db, ctx=ctx, on_result=results.append)

    run = Running(processor)  # nobody wakes it: it looks by itself at start
    running.append(run)
    await run.idle()

    assert [r.outcome for r in results] == ["new", "new"]
    assert await count(db, "tickets") == 2 and await count(db, "outbox") == 2
    await run.close()


async def test_a_processor_killed_mid_mail_duplicates_nothing(db, ctx, running, monkeypatch):
    [mail_id] = await store(db, customer_mail(1))
    inside = asyncio.Event()

    async def hang(db, facts):
        inside.set()
        await asyncio.Event().wait()  # the process dies here, inside the mail's transaction

    monkeypatch.setattr(threads, "THREAD_RULES", [hang])
    first = Running(InboundProcessor(db, ctx=ctx))
    await asyncio.wait_for(inside.wait(), WAIT)
    first.task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first.task
    stored = await inbound_store.get(db, mail_id)
    assert (stored.status, stored.attempts) == ("received", 1)
    assert await count(db, "tickets") == 0 and await count(db, "outbox") == 0

    monkeypatch.undo()
    again = Running(InboundProcessor(db, ctx=ctx))
    running.append(again)
    await again.idle()

    assert await count(db, "tickets") == 1 and await count(db, "outbox") == 1
    assert (await inbound_store.get(db, mail_id)).status == "ticket"


async def test_a_poison_mail_is_quarantined_without_blocking_the_queue(db, ctx, monkeypatch):
    real_by_references = threads.by_references

    async def choke_on_bela(db, facts):
        if facts.sender == "bela@example.hu":
            raise ValueError("a bug")
        return await real_by_references(db, facts)

    monkeypatch.setattr(threads, "THREAD_RULES", [choke_on_bela])
    first, poison, last = await store(
        db, customer_mail(1), customer_mail(2, sender="bela@example.hu"), customer_mail(3)
    )
    processor = InboundProcessor(db, ctx=ctx)

    assert await processor.process_pending() == 3

    assert (await inbound_store.get(db, first)).status == "ticket"
    quarantined = await inbound_store.get(db, poison)
    assert quarantined.status == "quarantined"
    assert quarantined.reason == "processing failed: ValueError"
    assert quarantined.raw == customer_mail(2, sender="bela@example.hu")
    assert (await inbound_store.get(db, last)).status == "ticket"
    assert await count(db, "tickets") == 2


async def test_an_unreadable_stored_mail_is_quarantined(db, ctx):
    [empty] = await store(db, b"\r\n")
    assert await InboundProcessor(db, ctx=ctx).process_pending() == 1
    stored = await inbound_store.get(db, empty)
    assert (stored.status, stored.reason) == ("quarantined", "unreadable: empty mail")


async def test_a_database_error_is_retried_with_back_off(db, ctx, running, monkeypatch):
    real_by_references = threads.by_references
    failures = 0

    async def locked_once(db, facts):
        nonlocal failures
        if failures == 0:
            failures += 1
            raise sqlite3.OperationalError("database is locked")
        return await real_by_references(db, facts)

    monkeypatch.setattr(threads, "THREAD_RULES", [locked_once])
    [mail_id] = await store(db, customer_mail(1))
    processor = InboundProcessor(db, ctx=ctx, backoff_base=0.01)
    with pytest.raises(sqlite3.OperationalError):  # called directly, the error shows
        await processor.process_pending()
    assert (await inbound_store.get(db, mail_id)).status == "received"
    failures = 0

    run = Running(processor)
    running.append(run)
    await run.idle()  # failed once, backed off, then succeeded

    assert failures == 1
    stored = await inbound_store.get(db, mail_id)
    assert (stored.status, stored.attempts) == ("ticket", 3)


async def test_a_mail_that_always_fails_is_set_aside_after_its_attempts(
    db, ctx, running, monkeypatch
):
    real_by_references = threads.by_references

    async def broken_for_bela(db, facts):
        if facts.sender == "bela@example.hu":
            raise sqlite3.IntegrityError("CHECK constraint failed")
        return await real_by_references(db, facts)

    monkeypatch.setattr(threads, "THREAD_RULES", [broken_for_bela])
    poison, after = await store(db, customer_mail(1, sender="bela@example.hu"), customer_mail(2))
    run = Running(InboundProcessor(db, ctx=ctx, backoff_base=0.001, max_attempts=3))
    running.append(run)
    await run.idle()

    stored = await inbound_store.get(db, poison)
    assert stored.status == "quarantined"
    assert stored.reason == (
        "processing failed 3 times (last: IntegrityError: CHECK constraint failed)"
    )
    assert (await inbound_store.get(db, after)).status == "ticket"


async def test_a_mail_that_took_the_process_down_is_set_aside_at_restart(db, ctx):
    [crasher, after] = await store(db, customer_mail(1), customer_mail(2))
    # Three starts on it, and each time the process died.
    await db.execute("UPDATE inbound_mails SET attempts = 3 WHERE id = ?", (crasher,))

    assert await InboundProcessor(db, ctx=ctx, max_attempts=3).process_pending() == 2

    stored = await inbound_store.get(db, crasher)
    assert stored.status == "quarantined"
    assert stored.reason == (
        "processing failed 3 times (last: the process stopped while processing it)"
    )
    assert (await inbound_store.get(db, after)).status == "ticket"


async def test_a_listener_that_fails_does_not_stall_the_queue(db, ctx):
    def broken(result):
        raise RuntimeError("listener bug")

    await store(db, customer_mail(1), customer_mail(2))
    assert await InboundProcessor(db, ctx=ctx, on_result=broken).process_pending() == 2
    assert await count(db, "tickets") == 2


async def test_waking_the_running_processor_processes_new_mail(db, ctx, running):
    processor = InboundProcessor(db, ctx=ctx)
    run = Running(processor)
    running.append(run)
    await run.idle()
    assert await count(db, "tickets") == 0

    await store(db, customer_mail(1))
    processor.wake()
    await run.idle()

    assert await count(db, "tickets") == 1


# --- stage 1 and stage 2 over IMAP: a crash between them -------------------------------------


async def test_a_crash_between_the_stages_loses_nothing(db, dovecot, imap_user, smtp_server):
    settings = Settings({**smtp_server.env, **imap_user.env})
    ctx = InboundContext.from_settings(settings, code_mailer=CodeMailer(settings, lambda: "bot"))
    dovecot.deliver_many(imap_user.name, [customer_mail(n) for n in range(3)])
    reader = InboxReader(db, settings, ctx=ctx)
    try:
        assert await reader.poll_once() == 3  # stored and moved off the inbox ...
    finally:
        await reader.close()  # ... and then the process died, before any processing
    assert dovecot.folder_uids(imap_user.name, "INBOX") == []
    assert await count(db, "tickets") == 0
    assert await inbound_store.count_received(db) == 3

    results: list[InboundResult] = []
    restarted = InboxReader(db, settings, ctx=ctx, on_result=results.append)
    stop = asyncio.Event()
    task = asyncio.create_task(restarted.run(stop))
    try:
        await asyncio.wait_for(restarted.processor.wait_idle(), WAIT)
    finally:
        stop.set()
        await asyncio.wait_for(task, WAIT)

    assert [r.outcome for r in results] == ["new", "new", "new"]
    assert await count(db, "tickets") == 3 and await count(db, "outbox") == 3
    assert await inbound_store.count_received(db) == 0


# --- the migration ---------------------------------------------------------------------------


async def test_the_queue_migration_keeps_mails_and_the_messages_that_reference_them(
    tmp_path: Path, monkeypatch
):
    path = tmp_path / "old.sqlite3"
    everything = migrations.available_migrations()
    [queue] = [m for m in everything if m.name == "inbox_queue"]
    before = [m for m in everything if m.version < queue.version]
    monkeypatch.setattr(migrations, "available_migrations", lambda package=migrations.MAIN: before)
    old = await open_database(path)
    await old.execute(
        "INSERT INTO tickets(id, channel, status, subject, email, created_at, updated_at)"
        " VALUES (7, 'mail', 'open', 'Nincs víz', 'kiss.anna@example.hu', 1.0, 1.0)"
    )
    for mail_id, status, ticket in ((3, "ticket", 7), (5, "ignored", None), (9, "ticket", 7)):
        await old.execute(
            "INSERT INTO inbound_mails(id, message_id, folder, uidvalidity, uid, raw, status,"
            " reason, ticket_id, received_at) VALUES (?, ?, 'INBOX', 1, ?, ?, ?, 'r', ?, 2.5)",
            (mail_id, f"<old.{mail_id}@x>", mail_id, b"raw\x00" * mail_id, status, ticket),
        )
    for mail_id in (3, 9):
        await old.execute(
            "INSERT INTO ticket_messages(ticket_id, direction, author, body, new_text,"
            " mail_message_id, inbound_mail_id, created_at) VALUES (7, 'in', 'customer', 'b',"
            " 'b', ?, ?, 3.0)",
            (f"<old.{mail_id}@x>", mail_id),
        )
    with pytest.raises(sqlite3.IntegrityError):  # the old CHECK has no 'received'
        await old.execute("UPDATE inbound_mails SET status = 'received' WHERE id = 5")
    await old.close()

    monkeypatch.undo()
    db = await open_database(path)  # applies the queue migration (and any later one)
    try:
        rows = await db.fetch_all(
            "SELECT id, message_id, uid, raw, status, reason, ticket_id, received_at, attempts"
            " FROM inbound_mails ORDER BY id"
        )
        assert [tuple(row) for row in rows] == [
            (3, "<old.3@x>", 3, b"raw\x00" * 3, "ticket", "r", 7, 2.5, 0),
            (5, "<old.5@x>", 5, b"raw\x00" * 5, "ignored", "r", None, 2.5, 0),
            (9, "<old.9@x>", 9, b"raw\x00" * 9, "ticket", "r", 7, 2.5, 0),
        ]
        assert await db.fetch_all("PRAGMA foreign_key_check") == []
        assert await db.fetch_value("PRAGMA foreign_keys") == 1
        # ticket_messages still points at inbound_mails, and the key is still enforced.
        schema = await db.fetch_value(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'ticket_messages'"
        )
        assert "REFERENCES inbound_mails(id)" in schema
        with pytest.raises(sqlite3.IntegrityError):
            await db.execute("DELETE FROM inbound_mails WHERE id = 3")
        # The new status is allowed, anything else still is not; the queue has its index.
        await db.execute("UPDATE inbound_mails SET status = 'received' WHERE id = 5")
        with pytest.raises(sqlite3.IntegrityError):
            await db.execute("UPDATE inbound_mails SET status = 'lost' WHERE id = 5")
        assert await inbound_store.received_ids(db) == [5]
        plan = await db.fetch_all(
            "EXPLAIN QUERY PLAN SELECT id FROM inbound_mails WHERE status = 'received'"
            " ORDER BY id LIMIT 10"
        )
        assert any("inbound_mails_received" in row[3] for row in plan)
        assert (
            await db.fetch_value("SELECT count(*) FROM sqlite_master WHERE name LIKE '%copy'") == 0
        )
        # The unique Message-ID survived the rebuild.
        assert (
            await inbound.store_mail(
                db, b"Message-ID: <old.3@x>\r\n\r\nx", folder="INBOX", uidvalidity=1, uid=1, now=4.0
            )
            is None
        )
    finally:
        await db.close()

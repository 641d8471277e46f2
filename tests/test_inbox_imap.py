"""The support mailbox end to end: Dovecot in, tickets, answers out through aiosmtpd."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from core.accounts import CodeMailer
from core.config import Settings
from core.inbound import InboundContext, InboundResult
from mailer.inbox import InboxReader
from mailer.sender import OutboxSender
from storage import accounts as accounts_store
from storage import inbound as inbound_store
from storage import tickets as tickets_store
from storage.db import Database

CORPUS = Path(__file__).parent / "mail_corpus"
WAIT = 10.0  # seconds: a failure guard only; everything below awaits an event


def corpus(name: str) -> bytes:
    return (CORPUS / name).read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def customer_mail(
    n: int,
    *,
    sender: str = "kiss.anna@example.hu",
    subject: str | None = None,
    body: str = "Jó napot! A Fő utca 3. előtt folyik a víz.",
    headers: str = "",
) -> bytes:
    head = (
        f"From: Kiss Anna <{sender}>\r\nTo: petkomm@petkomm.hu\r\n"
        f"Subject: {subject or f'Bejelentés {n}'}\r\n"
        f"Date: Mon, 10 Jun 2024 08:00:00 +0200\r\nMessage-ID: <mail.{n}@example.hu>\r\n{headers}"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n\r\n"
    )
    return (head + body + "\r\n").encode("utf-8")


class Results:
    """Collects what the reader reports and lets a test await the n-th processed mail."""

    def __init__(self) -> None:
        self.items: list[InboundResult] = []
        self._changed = asyncio.Event()

    def __call__(self, result: InboundResult) -> None:
        self.items.append(result)
        self._changed.set()

    async def wait_for(self, count: int) -> list[InboundResult]:
        async with asyncio.timeout(WAIT):
            while len(self.items) < count:
                self._changed.clear()
                await self._changed.wait()
        return self.items[:count]


@pytest.fixture
def settings(smtp_server, imap_user) -> Settings:
    return Settings({**smtp_server.env, **imap_user.env})


@pytest.fixture
def results() -> Results:
    return Results()


@pytest.fixture
async def reader_factory(
    db: Database, settings: Settings, results: Results
) -> AsyncIterator[Callable[..., InboxReader]]:
    """Builds readers (a "restart" is a second one) and closes them after the test."""
    made: list[InboxReader] = []

    def make(**options) -> InboxReader:
        ctx = InboundContext.from_settings(
            settings, code_mailer=CodeMailer(settings, lambda: "petkomm_bot")
        )
        options.setdefault("backoff_base", 0.05)
        reader = InboxReader(db, settings, ctx=ctx, on_result=results, **options)
        made.append(reader)
        return reader

    yield make
    for reader in made:
        await reader.close()


@pytest.fixture
def sender(db: Database, settings: Settings) -> OutboxSender:
    return OutboxSender(db, settings)


async def count(db: Database, table: str, where: str = "") -> int:
    return int(await db.fetch_value(f"SELECT count(*) FROM {table} {where}"))


async def sync(reader: InboxReader) -> int:
    """One poll (stage 1: fetched and stored), then the stored mail processed (stage 2)."""
    fetched = await reader.poll_once()
    await reader.processor.process_pending()
    return fetched


# --- a customer writes -----------------------------------------------------------------------


async def test_a_customers_mail_becomes_a_ticket_with_acknowledgement_and_self_help(
    db, dovecot, imap_user, reader_factory, sender, smtp_server
):
    await db.execute(
        "INSERT INTO customers(customer_id, name, address, email)"
        " VALUES ('U1234', 'Juhász László', 'Pécs', 'juhasz.laszlo@freemail.hu')"
    )
    await accounts_store.create(
        db,
        customer_id="U1234",
        username="juhaszl",
        username_key="juhaszl",
        email="juhasz.laszlo@freemail.hu",
        password_hash="x",
        now=0.0,
        registered_by_tg=None,
    )
    uid = dovecot.deliver(imap_user.name, corpus("topic_activation_plain.eml"))
    reader = reader_factory()

    assert await reader.poll_once() == 1
    # Stage 1 only stored the mail and moved it off the inbox; no ticket yet.
    assert dovecot.folder_uids(imap_user.name, "INBOX") == []
    assert await count(db, "tickets") == 0
    assert await count(db, "inbound_mails", "WHERE status = 'received'") == 1
    assert await reader.processor.process_pending() == 1

    [ticket] = await tickets_store.all_tickets(db, 0, 10)
    assert ticket.email == "juhasz.laszlo@freemail.hu" and ticket.customer_id == "U1234"
    assert await sender.send_due() == 3
    mails = await smtp_server.wait_for(3)
    by_subject = {m["Subject"]: m for m in mails}
    number = f"PK-{ticket.id:06d}"
    ack = by_subject[f"[#{number}] Bejelentését rögzítettük: regisztracio"]
    help_mail = by_subject[f"[#{number}] Új aktiváló kódot küldtünk"]
    [code_mail] = [m for m in mails if "aktiválása" in m["Subject"]]
    assert {m["To"] for m in mails} == {"juhasz.laszlo@freemail.hu"}
    assert ack["In-Reply-To"] == help_mail["In-Reply-To"] == "<topic.activation.plain@freemail.hu>"
    assert ack["Auto-Submitted"] == "auto-replied"
    assert "regisztrációs kódot" in code_mail.get_body(("plain",)).get_content()
    assert len(dovecot.folder_uids(imap_user.name, "Processed")) == 1
    stored = await inbound_store.by_message_id(db, "<topic.activation.plain@freemail.hu>")
    assert stored.uid == uid and stored.ticket_id == ticket.id and stored.status == "ticket"


@pytest.mark.parametrize(
    ("name", "template"),
    [
        ("topic_password_accents.eml", "Elfelejtett jelszó – teendők"),
        ("topic_invoices_accents.eml", "Számlái, tartozása és folyószámlája a csevegőben"),
        ("topic_personal_data_plain.eml", "Ügyféladatai módosítása – teendők"),
    ],
)
async def test_each_known_problem_gets_the_right_self_help_by_mail(
    db, dovecot, imap_user, reader_factory, sender, smtp_server, name, template
):
    dovecot.deliver(imap_user.name, corpus(name))
    assert await sync(reader_factory()) == 1
    assert await sender.send_due() == 2
    subjects = sorted(m["Subject"].split("] ", 1)[1] for m in await smtp_server.wait_for(2))
    assert template in subjects and any(s.startswith("Bejelentését rögzítettük") for s in subjects)


async def test_a_reply_to_our_acknowledgement_threads_into_the_ticket(
    db, dovecot, imap_user, reader_factory, sender, smtp_server
):
    reader = reader_factory()
    dovecot.deliver(imap_user.name, customer_mail(1))
    await sync(reader)
    await sender.send_due()
    [ack] = await smtp_server.wait_for(1)

    reply = customer_mail(
        2,
        subject=f"Re: {ack['Subject']}",
        body="Köszönöm, azóta is folyik.",
        headers=f"In-Reply-To: {ack['Message-ID']}\r\nReferences: {ack['Message-ID']}\r\n",
    )
    dovecot.deliver(imap_user.name, reply)
    assert await sync(reader) == 1

    [ticket] = await tickets_store.all_tickets(db, 0, 10)
    directions = [m.direction for m in await tickets_store.messages(db, ticket.id)]
    assert directions == ["in", "out", "in"]
    assert await sender.send_due() == 0  # no second acknowledgement


async def test_an_out_of_office_reply_and_a_bounce_get_nothing(
    db, dovecot, imap_user, reader_factory, sender, smtp_server
):
    reader = reader_factory()
    dovecot.deliver(imap_user.name, customer_mail(1, sender="toth.gabor@ceg.hu"))
    await sync(reader)
    await sender.send_due()
    [ack] = await smtp_server.wait_for(1)
    ours = ack["Message-ID"].encode()
    out_of_office = corpus("out_of_office_hu.eml").replace(
        b"<20240603080000.4242.1@petkomm.hu>", ours
    )
    bounce = corpus("bounce_dsn_postfix.eml").replace(b"<20240604093012.5151.7@petkomm.hu>", ours)
    dovecot.deliver_many(imap_user.name, [out_of_office, bounce])

    assert await sync(reader) == 2

    [ticket] = await tickets_store.all_tickets(db, 0, 10)
    assert len(await tickets_store.messages(db, ticket.id)) == 4  # in, ack, OOO, bounce
    assert await count(db, "outbox") == 1
    assert await sender.send_due() == 0
    assert len(smtp_server.messages) == 1


# --- nothing lost, nothing twice -----------------------------------------------------------------


async def test_a_reader_cancelled_between_commit_and_move_duplicates_nothing(
    db, dovecot, imap_user, reader_factory, monkeypatch
):
    dovecot.deliver_many(imap_user.name, [customer_mail(n) for n in range(3)])
    reader = reader_factory()
    committed = asyncio.Event()

    async def hang_before_moving(mailbox, uids):
        committed.set()
        await asyncio.Event().wait()  # the process dies here

    monkeypatch.setattr(reader, "_move_processed", hang_before_moving)
    task = asyncio.create_task(reader.poll_once())
    await asyncio.wait_for(committed.wait(), WAIT)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert len(dovecot.folder_uids(imap_user.name, "INBOX")) == 3  # never moved

    # The batch was stored before the crash: nothing to fetch, all to process.
    restarted = reader_factory()
    assert await restarted.poll_once() == 0
    assert await restarted.processor.process_pending() == 3

    assert await count(db, "tickets") == 3 and await count(db, "outbox") == 3
    assert dovecot.folder_uids(imap_user.name, "INBOX") == []  # the leftovers were moved
    assert len(dovecot.folder_uids(imap_user.name, "Processed")) == 3


async def test_a_connection_lost_between_fetch_and_move_duplicates_nothing(
    db, dovecot, imap_user, reader_factory, monkeypatch
):
    dovecot.deliver_many(imap_user.name, [customer_mail(n) for n in range(3)])
    reader = reader_factory(batch_size=1)  # a batch (and a transaction) per mail
    real_advance = inbound_store.advance
    calls = 0

    async def advance_then_break(*args, **kwargs):
        # The first batch commits; the line drops inside the second's transaction.
        nonlocal calls
        calls += 1
        if calls == 2:
            reader._mailbox.client.shutdown()
            raise ConnectionResetError("connection lost")
        return await real_advance(*args, **kwargs)

    monkeypatch.setattr(inbound_store, "advance", advance_then_break)
    with pytest.raises(ConnectionResetError):
        await reader.poll_once()
    monkeypatch.setattr(inbound_store, "advance", real_advance)

    assert await count(db, "inbound_mails") == 1  # the second batch rolled back

    restarted = reader_factory()
    assert await sync(restarted) == 2  # mails 2 and 3

    assert await count(db, "tickets") == 3 and await count(db, "outbox") == 3
    assert await count(db, "inbound_mails") == 3
    assert dovecot.folder_uids(imap_user.name, "INBOX") == []
    assert len(dovecot.folder_uids(imap_user.name, "Processed")) == 3


async def test_a_new_uidvalidity_rescans_the_folder_without_duplicates(
    db, dovecot, imap_user, reader_factory
):
    old = [customer_mail(n) for n in range(3)]
    dovecot.deliver_many(imap_user.name, old, folder="Support")
    reader = reader_factory(folder="Support", processed_folder=None)
    assert await sync(reader) == 3
    before = dovecot.uidvalidity(imap_user.name, "Support")

    # The folder is restored from a backup: same mails, same UIDs, new UIDVALIDITY, one more.
    dovecot.delete_folder(imap_user.name, "Support")
    # (The new one from someone else: a fourth mail like these from one sender, or one
    # domain, within minutes would join a ticket of theirs: the flood guard.)
    new = customer_mail(99, sender="nagy.bela@freemail.hu")
    dovecot.deliver_many(imap_user.name, [*old, new], folder="Support")
    assert dovecot.uidvalidity(imap_user.name, "Support") != before

    assert await reader.poll_once() == 4  # three recognised by Message-ID, one new
    assert await count(db, "inbound_mails") == 4
    assert await reader.processor.process_pending() == 1
    assert await count(db, "tickets") == 4 and await count(db, "outbox") == 4
    state = await inbound_store.get_state(db, "Support")
    assert state.uidvalidity == dovecot.uidvalidity(imap_user.name, "Support")
    assert state.last_uid == 4


async def test_polling_with_nothing_new_is_cheap_and_returns_zero(
    db, dovecot, imap_user, reader_factory, monkeypatch
):
    dovecot.deliver_many(imap_user.name, [customer_mail(n) for n in range(2)])
    reader = reader_factory(processed_folder=None)  # old mail stays in the folder
    assert await reader.poll_once() == 2
    listed = 0
    real_list = reader._list_new

    def spy(mailbox, last_uid):
        nonlocal listed
        listed += 1
        return real_list(mailbox, last_uid)

    monkeypatch.setattr(reader, "_list_new", spy)
    assert await reader.poll_once() == 0
    assert listed == 0  # SELECT's UIDNEXT said enough: no search, no fetch

    dovecot.deliver(imap_user.name, customer_mail(7))
    assert await reader.poll_once() == 1 and listed == 1


async def test_reading_does_not_mark_mail_seen(db, dovecot, imap_user, reader_factory):
    dovecot.deliver(imap_user.name, customer_mail(1))
    await reader_factory(processed_folder=None).poll_once()
    with dovecot.session(imap_user.name) as client:
        client.select("INBOX", readonly=True)
        _typ, data = client.uid("FETCH", "1", "(FLAGS)")
    assert b"\\Seen" not in data[0]


async def test_an_unreadable_mail_does_not_block_the_mails_after_it(
    db, dovecot, imap_user, reader_factory
):
    dovecot.deliver_many(imap_user.name, [corpus("garbage_headers.eml"), customer_mail(2)])
    assert await sync(reader_factory()) == 2
    assert await count(db, "tickets") == 2


# --- the running reader -------------------------------------------------------------------------


@pytest.mark.parametrize("use_idle", [True, False], ids=["idle", "polling"])
async def test_the_running_reader_picks_up_new_mail_and_stops_promptly(
    db, dovecot, imap_user, reader_factory, results, use_idle
):
    reader = reader_factory(use_idle=use_idle, poll_interval=0.05)
    stop = asyncio.Event()
    task = asyncio.create_task(reader.run(stop))
    dovecot.deliver(imap_user.name, customer_mail(1))
    await results.wait_for(1)
    dovecot.deliver(imap_user.name, customer_mail(2))
    [first, second] = await results.wait_for(2)
    assert (first.outcome, second.outcome) == ("new", "new")

    stop.set()
    await asyncio.wait_for(task, 2.0)
    assert await count(db, "tickets") == 2


async def test_the_reader_reconnects_when_the_server_drops_it_while_idling(
    db, dovecot, imap_user, reader_factory, results, monkeypatch
):
    reader = reader_factory()
    idling = asyncio.Event()
    loop = asyncio.get_running_loop()
    real_idle_start = reader._idle_start

    def idle_start(mailbox):
        said = real_idle_start(mailbox)
        loop.call_soon_threadsafe(idling.set)
        return said

    monkeypatch.setattr(reader, "_idle_start", idle_start)
    stop = asyncio.Event()
    task = asyncio.create_task(reader.run(stop))
    await asyncio.wait_for(idling.wait(), WAIT)
    first_connection = reader._mailbox

    idling.clear()
    dovecot.kick(imap_user.name)  # the server drops the line while the reader idles
    dovecot.deliver(imap_user.name, customer_mail(1))
    [result] = await results.wait_for(1)
    await asyncio.wait_for(idling.wait(), WAIT)

    assert result.outcome == "new"
    assert reader._mailbox is not first_connection  # it reconnected
    stop.set()
    await asyncio.wait_for(task, 2.0)


async def test_mail_that_waited_days_in_the_mailbox_gets_a_ticket_but_no_late_answer(
    db, dovecot, imap_user, reader_factory
):
    import time

    dovecot.deliver(imap_user.name, customer_mail(91), arrived=time.time() - 5 * 86400)
    dovecot.deliver(imap_user.name, customer_mail(92, sender="nagy.bela@example.hu"))
    reader = reader_factory()
    assert await sync(reader) == 2

    assert await count(db, "tickets") == 2
    acks = await db.fetch_all("SELECT recipient FROM outbox WHERE kind = 'ack'")
    assert [r[0] for r in acks] == ["nagy.bela@example.hu"]  # the fresh one only
    old = await inbound_store.by_message_id(db, "<mail.91@example.hu>")
    assert old.arrived_at is not None and time.time() - old.arrived_at > 4 * 86400

"""Machine mail is never a customer speaking (issue 12, point 1).

Read receipts, delivery reports, vacation notices and spam filters' challenges
answering our mail, shaped as Outlook, Thunderbird, Gmail, Exchange Online,
qmail, Exim, Postfix, Freemail, Citromail, Boxbe and Hungarian filters send
them (tests/mail_corpus/machine/). Each joins its ticket as a machine note staff
see as such; none reopens its (closed) ticket, none is answered, none gets a
self-help answer; when our mail did not reach the customer (a bounce, a held
mail), staff are told so at once.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from email.header import Header
from pathlib import Path

import pytest

from core.config import Settings
from core.inbound import InboundContext, process_mail
from mailer.inbox import InboxReader
from storage import inbound as inbound_store
from storage import tickets as tickets_store
from tests.machinekit import (
    MACHINE_TICKETS,
    START,
    chain_context,
    corpus,
    corpus_names,
    outbox_rows,
    seed_machine_tickets,
    staff_posts,
    thread_text,
)

# file: (its ticket, the note's label in the thread, the staff-chat headline or None)
UNDELIVERED = "Levelünk nem jutott el az ügyfélhez"
HELD = "Az ügyfél levélszűrője visszatartotta levelünket"
EXPECTED = {
    "mdn_outlook_hu.eml": (101, "olvasási visszaigazolás", None),
    "mdn_thunderbird_hu.eml": (102, "olvasási visszaigazolás", None),
    "mdn_gmail_workspace_en.eml": (103, "olvasási visszaigazolás", None),
    "read_receipt_plain_hu.eml": (104, "olvasási visszaigazolás", None),
    "mdn_not_read_outlook_hu.eml": (105, "olvasási visszaigazolás", None),
    "bounce_gmail_dsn.eml": (106, "nem kézbesíthető", UNDELIVERED),
    "bounce_qmail_failure_notice.eml": (107, "nem kézbesíthető", UNDELIVERED),
    "bounce_exchange_online_hu.eml": (108, "nem kézbesíthető", UNDELIVERED),
    "bounce_exim_mailbox_full.eml": (109, "nem kézbesíthető", UNDELIVERED),
    "dsn_delayed_postfix.eml": (110, "késő kézbesítés", None),
    "vacation_gmail_hu.eml": (111, "automatikus válasz", None),
    "vacation_freemail_noheaders.eml": (112, "automatikus válasz", None),
    "vacation_outlook_com_en.eml": (113, "automatikus válasz", None),
    "vacation_sieve_auto.eml": (114, "automatikus válasz", None),
    "vacation_citromail_subject.eml": (115, "automatikus válasz", None),
    "challenge_hu_spamfilter.eml": (116, "levélszűrő megerősítést kér", HELD),
    "challenge_boxbe_en.eml": (117, "levélszűrő megerősítést kér", HELD),
    "challenge_approved_senders_en.eml": (118, "levélszűrő megerősítést kér", HELD),
    "challenge_hu_nem_robot.eml": (119, "levélszűrő megerősítést kér", HELD),
    "helpdesk_ack_masikceg_hu.eml": (120, "automatikus válasz", None),
    "helpdesk_ack_otrs_en.eml": (121, "automatikus válasz", None),
    "helpdesk_ack_salesforce_case_en.eml": (122, "automatikus válasz", None),
    "helpdesk_ack_hu_iktatas.eml": (123, "automatikus válasz", None),
    "helpdesk_ack_freshdesk_hu.eml": (124, "automatikus válasz", None),
    "challenge_no_reply_to_hu.eml": (128, "levélszűrő megerősítést kér", HELD),
    "challenge_en_no_references.eml": (129, "levélszűrő megerősítést kér", HELD),
    "bounce_tag_only_exchange_hu.eml": (130, "nem kézbesíthető", UNDELIVERED),
    "receipt_plain_tag_only_hu.eml": (131, "olvasási visszaigazolás", None),
    "echo_ack_redirected_vipmail.eml": (132, "saját levelünk jött vissza", None),
    "echo_answer_redirected_outlook_rule.eml": (133, "saját levelünk jött vissza", None),
    "echo_ack_resent_procmail.eml": (134, "saját levelünk jött vissza", None),
}
# What the note tells staff beyond its label: who did not get our mail, and why.
NOTE_DETAILS = {
    "bounce_gmail_dsn.eml": ["automatikus levelünk", "nemletezo.cim.1987@gmail.com", "5.1.1"],
    "bounce_qmail_failure_notice.eml": ["munkatársunk válasza", "iroda@kisvallalat.hu"],
    "bounce_exchange_online_hu.eml": ["munkatársunk válasza", "info@bt-pelda.hu", "mailbox full"],
    "bounce_exim_mailbox_full.eml": ["kiss.geza@citromail.hu", "mailbox is full"],
    "dsn_delayed_postfix.eml": ["papp.lajos@upcmail.hu", "Connection timed out"],
    "vacation_freemail_noheaders.eml": ["December 2-ig szabadságon vagyok"],
    "vacation_outlook_com_en.eml": ["out of the office until 1 December"],
    "challenge_hu_spamfilter.eml": ["igazolja, hogy Ön nem robot"],
    "challenge_boxbe_en.eml": ["lower priority mailbox"],
    "helpdesk_ack_masikceg_hu.eml": ["munkatársunk válaszára", "#201 számon rögzítettük"],
    "helpdesk_ack_otrs_en.eml": ["Your ticket number is 2026112510000123"],
    "helpdesk_ack_hu_iktatas.eml": ["2026/4411-2 ügyszámon iktatta"],
    "challenge_no_reply_to_hu.eml": ["nemeth.kata@gmail.com"],
    "bounce_tag_only_exchange_hu.eml": ["fekete.anna@upcmail.hu", "5.1.1"],
    "echo_ack_redirected_vipmail.eml": ["Visszaküldte: osz.gyulane@vipmail.hu"],
    "echo_answer_redirected_outlook_rule.eml": ["Visszaküldte: nagy.ilona@outlook.hu"],
    "echo_ack_resent_procmail.eml": ["Visszaküldte: csizmadia.pal@szerver-otthon.hu"],
}


@pytest.mark.parametrize("name", corpus_names("machine"))
async def test_machine_mail_is_a_note_on_its_ticket_and_never_a_customer(db, name):
    number, label, headline = EXPECTED[name]  # every file of the folder is expected here
    await seed_machine_tickets(db)  # every ticket closed, our mail sent two days ago
    before = await tickets_store.messages(db, number)

    result = await process_mail(
        db,
        corpus("machine", name),
        ctx=chain_context(),
        folder="INBOX",
        uidvalidity=1,
        uid=1,
        now=START,
    )

    # It joined its own ticket, which stays closed; nothing was sent to anyone.
    stored = await inbound_store.get(db, result.mail_id)
    assert (stored.status, stored.ticket_id) == ("ticket", number)
    assert len(await tickets_store.messages(db, number)) == len(before) + 1
    assert (await tickets_store.get(db, number)).status == "closed"
    assert await outbox_rows(db) == []

    # Staff hear of it only when our mail did not reach the customer, never as the customer.
    posts = await staff_posts(db, START)
    if headline is None:
        assert posts == []
    else:
        [post] = posts
        assert headline in post and f"PK-000{number}" in post
        assert "Ez gépi levél, nem az ügyfél írta" in post
        assert "Újranyitva" not in post and "Új üzenet" not in post

    # The thread shows it as machine mail, with what it means for the customer.
    thread = await thread_text(db, number, START)
    assert f"Gépi levél</b> ({label})" in thread
    assert thread.count("👤 <b>Ügyfél</b>") == 1  # only the report itself
    for detail in NOTE_DETAILS.get(name, []):
        assert detail.replace("'", "&#39;") in thread


async def test_a_read_receipt_of_no_known_mail_opens_no_ticket(db):
    result = await process_mail(
        db,
        corpus("machine", "mdn_outlook_hu.eml"),
        ctx=chain_context(),
        folder="INBOX",
        uidvalidity=1,
        uid=1,
        now=START,
    )
    assert result.outcome == "ignored" and result.reason == "read receipt of no known mail"
    assert await tickets_store.count_all(db) == 0 and await outbox_rows(db) == []


@pytest.mark.parametrize(
    "subject",
    ["Szabadság - vízóra leolvasás", "Távollét", "Autó", "Szabadság: nem leszek otthon"],
)
async def test_a_persons_new_mail_with_an_away_subject_is_a_customer_mail(db, subject):
    # Words an auto-reply's subject uses, written by a person in a new mail: a customer.
    raw = (
        "From: Kiss Ilona <kiss.ilona@example.hu>\r\nTo: ugyfelszolgalat@petkomm.hu\r\n"
        f"Subject: {Header(subject, 'utf-8').encode()}\r\n"
        "Message-ID: <away-1@example.hu>\r\nDate: Mon, 02 Nov 2026 09:00:00 +0100\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n\r\n"
        "Jó napot! Jövő héten nem leszek otthon, a vízórát kérem máskor olvassák le.\r\n"
    ).encode()
    result = await process_mail(
        db, raw, ctx=chain_context(), folder="INBOX", uidvalidity=1, uid=1, now=START
    )
    assert result.outcome == "new" and not result.machine
    assert [kind for kind, _to, _subject in await outbox_rows(db)] == ["ack"]


async def test_staff_answer_the_customers_own_mail_not_the_vacation_notice(db):
    await seed_machine_tickets(db, status="open")
    await process_mail(
        db,
        corpus("machine", "vacation_freemail_noheaders.eml"),
        ctx=chain_context(),
        folder="INBOX",
        uidvalidity=1,
        uid=1,
        now=START,
    )
    parent = await tickets_store.latest_customer_mail(db, 112)
    assert parent.message_id == "<report.112@example.hu>"  # not the vacation notice
    assert await staff_posts(db, START) == []

    # The customer herself writes that she is away, and asks something: that is hers.
    reply = (
        "From: =?UTF-8?Q?Balogh_Ter=C3=A9z?= <balogh.terez@freemail.hu>\r\n"
        "To: petkomm@petkomm.hu\r\n"
        "Subject: =?UTF-8?Q?Re=3A_=5B=23PK-000112=5D_Bejelent=C3=A9s=C3=A9t?=\r\n"
        "In-Reply-To: <179537640001.48213.112@petkomm.hu>\r\n"
        "Message-ID: <fm.human.112@freemail.hu>\r\n"
        "Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        "Köszönöm. December 2-ig szabadságon vagyok, utána tudom fogadni a szerelőt.\r\n"
    ).encode()
    result = await process_mail(
        db, reply, ctx=chain_context(), folder="INBOX", uidvalidity=1, uid=2, now=START + 60
    )
    assert (result.outcome, result.ticket_id) == ("threaded", 112)
    [post] = await staff_posts(db, START + 60)
    assert "Új üzenet" in post and "szerelőt" in post
    assert (await tickets_store.latest_customer_mail(db, 112)).message_id == (
        "<fm.human.112@freemail.hu>"
    )


# --- what is not machine mail: people thanking us, strangers quoting a tag ------------------


@pytest.mark.parametrize("name", corpus_names("people"))
async def test_a_person_thanking_for_our_answer_is_the_customer_not_a_helpdesk(db, name):
    # "Köszönöm, megkaptam", an ügyszám of ours, "I have received your email": a person.
    await seed_machine_tickets(db)
    result = await process_mail(
        db,
        corpus("people", name),
        ctx=chain_context(),
        folder="INBOX",
        uidvalidity=1,
        uid=1,
        now=START,
    )
    assert result.outcome == "reopened" and result.machine is None
    [post] = await staff_posts(db, START)
    assert f"PK-000{result.ticket_id}" in post and "Ez gépi levél" not in post
    assert "Gépi levél" not in await thread_text(db, result.ticket_id, START)


async def test_a_machine_quoting_our_tag_about_a_strangers_address_threads_nowhere(db):
    await seed_machine_tickets(db)
    before = await tickets_store.messages(db, 128)
    result = await process_mail(
        db,
        corpus("strangers", "challenge_names_stranger.eml"),
        ctx=chain_context(),
        folder="INBOX",
        uidvalidity=1,
        uid=1,
        now=START,
    )
    assert result.outcome == "ignored" and result.machine == "challenge"
    assert len(await tickets_store.messages(db, 128)) == len(before)
    assert await staff_posts(db, START) == [] and await outbox_rows(db) == []


async def test_a_strangers_mail_naming_the_owner_under_a_tag_opens_its_own_ticket(db):
    # Only machine mail may thread by the tag and a named address; a person must be the owner.
    await seed_machine_tickets(db)
    raw = (
        "From: Idegen Ember <idegen.ember@example.hu>\r\nTo: petkomm@petkomm.hu\r\n"
        "Subject: [#PK-000128] Bejelentését rögzítettük\r\n"
        "Message-ID: <stranger-1@example.hu>\r\nDate: Wed, 25 Nov 2026 09:00:00 +0100\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n\r\n"
        "Írjanak a nemeth.kata@gmail.com címre, és kattintson ide: https://pelda.hu/x\r\n"
    ).encode()
    result = await process_mail(
        db, raw, ctx=chain_context(), folder="INBOX", uidvalidity=1, uid=1, now=START
    )
    assert result.outcome == "new" and result.ticket_id != 128


# --- end to end: Dovecot, the real reader, the staff chat ---------------------------------


async def test_machine_mail_through_the_mailbox_reaches_staff_as_machine_mail(
    staff_bot, dovecot, imap_user
):
    env = await staff_bot()
    await seed_machine_tickets(env.db)
    settings = Settings({**env.settings.env, **imap_user.env})
    reader = InboxReader(
        env.db, settings, ctx=InboundContext.from_settings(settings), clock=env.clock
    )
    try:
        dovecot.deliver_many(imap_user.name, [corpus("machine", name) for name in sorted(EXPECTED)])
        assert await reader.poll_once() == len(EXPECTED)
        assert await reader.processor.process_pending() == len(EXPECTED)

        # The bounces and the held mails are announced, each on its own ticket.
        for number, _label, headline in sorted(EXPECTED.values()):
            if headline:
                await env.staff_message(headline, f"PK-000{number}")
        await env.announcer.run_once()
        posts = [m.text or "" for m in env.group.replies]
        assert len(posts) == sum(1 for *_, headline in EXPECTED.values() if headline)
        assert not any("Újranyitva" in post or "Új üzenet" in post for post in posts)

        # No ticket reopened, no mail to anyone (no acknowledgement, no self-help).
        for number in MACHINE_TICKETS:
            assert (await tickets_store.get(env.db, number)).status == "closed"
        assert await outbox_rows(env.db) == []

        # A clerk opens a ticket whose acknowledgement bounced: the note says so.
        clerk = env.clerk()
        [thread] = await clerk.command("ticket", "PK-000106")
        assert "Gépi levél" in thread.text and "nem kézbesíthető" in thread.text
        assert "NEM jutott el az ügyfélhez" in thread.text
        assert "nemletezo.cim.1987@gmail.com" in thread.text
        [receipt] = await clerk.command("ticket", "PK-000101")
        assert "olvasási visszaigazolás" in receipt.text and "lezárt" in receipt.text

        # The command line shows it as machine mail too.
        shown = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "run_bot.py", "tickets", "show", "106"],
            env={**_clean_environment(), "PETKOMM_DB": env.settings.env["PETKOMM_DB"]},
            cwd=Path(__file__).parents[1],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert shown.returncode == 0, shown.stderr
        assert "--- gépi levél (nem kézbesíthető)" in shown.stdout
        assert "NEM jutott el az ügyfélhez" in shown.stdout
    finally:
        await reader.close()


def _clean_environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("PETKOMM_", "TELEGRAM_"))}


# --- the upgrade ---------------------------------------------------------------------------


async def test_announcements_queued_before_the_upgrade_keep_their_messages(tmp_path, monkeypatch):
    from storage import migrations
    from storage.db import open_database

    every = migrations.available_migrations()
    ours = next(m for m in every if "ADD COLUMN fingerprint" in m.sql)
    before = [m for m in every if m.version < ours.version]  # the schema we upgrade from
    monkeypatch.setattr(migrations, "available_migrations", lambda package=migrations.MAIN: before)
    path = tmp_path / "old.sqlite3"
    old = await open_database(path)
    await old.execute(
        "INSERT INTO tickets(id, channel, subject, email, created_at, updated_at)"
        " VALUES (7, 'mail', 'Nincs víz', 'kiss.anna@example.hu', 1, 1)"
    )
    for n, (direction, text) in enumerate(
        [("in", "Nincs víz."), ("out", "Rögzítettük."), ("in", "Még mindig nincs.")]
    ):
        await old.execute(
            "INSERT INTO ticket_messages(ticket_id, direction, author, body, new_text,"
            " created_at) VALUES (7, ?, 'x', ?, ?, ?)",
            (direction, text, text, n),
        )
    await old.execute(
        "INSERT INTO staff_announcements(ticket_id, event, created_at, sent_at)"
        " VALUES (7, 'new', 1, 1), (7, 'message', 2, NULL)"
    )
    await old.close()

    monkeypatch.setattr(migrations, "available_migrations", lambda package=migrations.MAIN: every)
    db = await open_database(path)
    try:
        rows = await db.fetch_all("SELECT event, message_id FROM staff_announcements ORDER BY id")
        assert [tuple(row) for row in rows] == [("new", 1), ("message", 3)]
        [post] = await staff_posts(db, START)
        assert "Még mindig nincs." in post
    finally:
        await db.close()

"""Robots, floods and double sends (issue 12, points 6 and 7).

- A robot without automatic headers (an alarm whose From changes each time, a
  scanner, another helpdesk's autoresponder looping with ours) gets a few
  tickets and answers, not one per mail: the flood guard threads its burst
  into one ticket, and answers are limited per address, per domain and overall.
- Our own answer coming back (resent, redirected) is never answered.
- The same mail sent twice a moment apart (different Message-IDs) is one
  ticket with one acknowledgement.

Shapes in tests/mail_corpus/floods/ and tests/mail_corpus/doubles/.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from core.config import Settings
from core.inbound import InboundContext, process_mail
from mailer.inbox import InboxReader
from storage import tickets as tickets_store
from tests.machinekit import (
    START,
    Seed,
    chain_context,
    corpus,
    corpus_names,
    outbox_rows,
    seed_ticket,
    staff_posts,
    thread_text,
)

ROUNDS = 20
ROUND_GAP = 60.0  # seconds between a robot's mails
# What a flood may cost at most: tickets opened, automatic answers, staff-chat posts.
MAX_TICKETS = 3
MAX_ANSWERS = 3
MAX_POSTS = 4


def alarm_round(n: int) -> bytes:
    """The pump-house alarm, n-th round: another sender address, number and time each."""
    return corpus("floods", "robot_alarm_changing_from.eml").replace(b"0001", f"{n:04d}".encode())


def scanner_round(n: int) -> bytes:
    """The office scanner, n-th round: the same address, another file and time each."""
    stamp = f"1000{n:02d}".encode()
    raw = corpus("floods", "robot_scanner_fixed_from.eml")
    return raw.replace(b"100001", stamp).replace(b".0001.", f".{n:04d}.".encode())


def autoresponder_round(n: int) -> bytes:
    """Another helpdesk's autoresponder answering our acknowledgement with a new mail."""
    number = f"{48214 + n}".encode()
    return corpus("floods", "autoresponder_loop_noheaders.eml").replace(b"48214", number)


ROBOTS: dict[str, Callable[[int], bytes]] = {
    "robot_alarm_changing_from.eml": alarm_round,
    "robot_scanner_fixed_from.eml": scanner_round,
    "autoresponder_loop_noheaders.eml": autoresponder_round,
}
# Every other file of the folder is one of our own mails come back, tested one by one below.
ROBOT_FILES = [name for name in corpus_names("floods") if not name.startswith("echo_")]


async def receive(db, raw: bytes, now: float, ctx: InboundContext | None = None):
    return await process_mail(
        db, raw, ctx=ctx or chain_context(), folder="INBOX", uidvalidity=1, uid=None, now=now
    )


# --- robots ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ROBOT_FILES)
async def test_a_robots_twenty_mails_cost_a_few_tickets_answers_and_posts(db, name):
    make = ROBOTS[name]  # every robot of the folder has its rounds here
    for n in range(1, ROUNDS + 1):
        await receive(db, make(n), START + n * ROUND_GAP)

    tickets = await tickets_store.all_tickets(db, 0, 100)
    assert 1 <= len(tickets) <= MAX_TICKETS
    assert len(await outbox_rows(db)) <= MAX_ANSWERS
    posts = await staff_posts(db, START + ROUNDS * ROUND_GAP)
    assert len(posts) <= MAX_POSTS
    assert "Sok levél érkezik ehhez a bejelentéshez" in posts[-1]
    # Nothing is lost: every mail is in a ticket, for staff to read.
    messages = sum([len(await tickets_store.messages(db, t.id)) for t in tickets], 0)
    assert messages - len(await outbox_rows(db)) == ROUNDS


async def test_answers_to_one_domain_are_limited_but_not_to_a_public_providers(db):
    def mail(n: int, domain: str) -> bytes:
        """Person n at `domain`, each writing about something else."""
        return (
            f"From: Lakos {n} <lakos{n}@{domain}>\r\nTo: petkomm@petkomm.hu\r\n"
            f"Subject: Kérdés {chr(65 + n) * 3}\r\nMessage-ID: <{n}@{domain}>\r\n"
            "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n"
            f"\r\n{'Mérőóra ' * (n + 1)}\r\n"
        ).encode()

    company = [await receive(db, mail(n, "ceg.hu"), START + n * 120) for n in range(12)]
    assert [r.answers for r in company[:10]] == [("ack",)] * 10
    assert company[10].answers == () and company[11].answers == ()
    assert company[10].reason == "rate limit: 10 automatic answers to ceg.hu in 1 h"
    assert len(await tickets_store.all_tickets(db, 0, 100)) == 12  # staff still see all

    # Twelve customers on gmail.com are twelve people: each is answered.
    for n in range(12):
        assert (await receive(db, mail(n, "gmail.com"), START + n * 120)).answers == ("ack",)


async def test_answers_in_all_are_limited(db):
    ctx = chain_context(overall_answer_limit=5)
    results = []
    for n in range(6):  # six senders of six domains
        raw = (
            f"From: <lakos@falu{n}.hu>\r\nTo: petkomm@petkomm.hu\r\nSubject: Víz {n}\r\n"
            f"Message-ID: <o{n}@falu{n}.hu>\r\n\r\nNincs víz {'.' * n}\r\n"
        ).encode()
        results.append(await receive(db, raw, START + n, ctx))
    assert [r.answers for r in results] == [("ack",)] * 5 + [()]
    assert results[5].reason == "rate limit: 5 automatic answers in all in 1 h"


# --- our own answer coming back -----------------------------------------------------------------


async def test_our_acknowledgement_resent_by_a_forwarder_opens_nothing(db):
    result = await receive(db, corpus("floods", "echo_ack_resent.eml"), START)
    assert result.outcome == "ignored" and result.reason == "our own answer came back"
    assert await tickets_store.count_all(db) == 0 and await outbox_rows(db) == []


async def test_our_answer_redirected_back_is_a_note_and_gets_no_self_help(db):
    await seed_ticket(db, 42, Seed("kovacs.janos1958@gmail.com", "Nincs víz", answered=True))
    result = await receive(db, corpus("floods", "echo_answer_redirected.eml"), START)
    assert result.ticket_id == 42 and result.answers == ()
    assert (await tickets_store.get(db, 42)).status == "closed"
    assert await outbox_rows(db) == [] and await staff_posts(db, START) == []
    assert "saját levelünk jött vissza" in await thread_text(db, 42, START)


async def test_our_own_mail_back_under_its_message_id_is_ignored_whatever_its_from(db):
    first = await receive(db, corpus("doubles", "double_gmail_1.eml"), START)
    [raw] = [bytes(row[0]) for row in await db.fetch_all("SELECT raw FROM outbox")]
    # A mailbox rule sends our acknowledgement back as it is, From rewritten, X-Loop gone.
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = [
        b"From: lukacs.dora@gmail.com" if line.startswith(b"From:") else line
        for line in head.split(b"\r\n")
        if not line.startswith((b"X-Loop:", b"Auto-Submitted:"))
    ]
    back = b"\r\n".join(lines) + b"\r\n\r\n" + body
    result = await receive(db, back, START + 60)
    assert result.outcome == "ignored"
    assert result.reason == "our own mail came back (its Message-ID is ours)"
    assert len(await tickets_store.messages(db, first.ticket_id)) == 2  # report and ack
    assert len(await outbox_rows(db)) == 1


# --- double sends ---------------------------------------------------------------------------------

PAIRS = sorted({name.rsplit("_", 1)[0] for name in corpus_names("doubles")})


@pytest.mark.parametrize("pair", PAIRS)
async def test_a_mail_sent_twice_is_one_ticket_with_one_acknowledgement(db, pair):
    first = await receive(db, corpus("doubles", f"{pair}_1.eml"), START)
    second = await receive(db, corpus("doubles", f"{pair}_2.eml"), START + 1)

    assert first.outcome == "new" and first.answers[0] == "ack"
    assert second.ticket_id == first.ticket_id and second.answers == ()
    assert await tickets_store.count_all(db) == 1
    sent = await outbox_rows(db)
    assert [kind for kind, _recipient, _subject in sent].count("ack") == 1
    assert len(sent) == len(first.answers)  # the first copy's answers, nothing for the second
    customer = [m for m in await tickets_store.messages(db, first.ticket_id) if m.direction == "in"]
    assert len(customer) == 1
    [post] = await staff_posts(db, START + 1)
    assert "Új bejelentés" in post


async def test_a_reply_to_the_second_copy_threads_into_the_ticket(db):
    first = await receive(db, corpus("doubles", "double_gmail_1.eml"), START)
    await receive(db, corpus("doubles", "double_gmail_2.eml"), START + 1)
    reply = (
        "From: =?UTF-8?Q?Luk=C3=A1cs_D=C3=B3ra?= <lukacs.dora@gmail.com>\r\n"
        "To: petkomm@petkomm.hu\r\nSubject: Re: Nincs meleg víz\r\n"
        "Message-ID: <CAJx0r7-reply@mail.gmail.com>\r\n"
        "In-Reply-To: <CAJx0r7Wq9E=2mRt6uf1Xw8Y5nZcP7jHkB@mail.gmail.com>\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\nMég mindig nincs.\r\n"
    ).encode()
    result = await receive(db, reply, START + 3600)
    assert (result.outcome, result.ticket_id) == ("threaded", first.ticket_id)

    # The same mail again an hour later is no double send: a report of its own.
    again = corpus("doubles", "double_gmail_2.eml").replace(b"2mRt6uf1", b"3pQw9zk4")
    later = await receive(db, again, START + 3600)
    assert later.outcome == "new" and later.ticket_id != first.ticket_id


# --- end to end: Dovecot, the real reader, the staff chat ---------------------------------------


async def test_robots_and_double_sends_through_the_mailbox(staff_bot, dovecot, imap_user):
    env = await staff_bot()
    settings = Settings({**env.settings.env, **imap_user.env})
    reader = InboxReader(
        env.db, settings, ctx=InboundContext.from_settings(settings), clock=env.clock
    )
    try:
        # Five customers each send their mail twice, a second apart.
        dovecot.deliver_many(
            imap_user.name,
            [corpus("doubles", f"{pair}_{n}.eml") for pair in PAIRS for n in (1, 2)],
        )
        await reader.poll_once()
        await reader.processor.process_pending()
        assert await tickets_store.count_all(env.db) == len(PAIRS)
        for pair in PAIRS:
            mails = await env.mails_to(await _sender(env.db, pair))
            assert sum("Bejelentését rögzítettük" in m["Subject"] for m in mails) == 1
        assert sum("Új bejelentés" in (m.text or "") for m in env.group.replies) <= len(PAIRS)

        # Three robots mail every minute for twenty minutes.
        answered = len(await outbox_rows(env.db))
        for n in range(1, ROUNDS + 1):
            env.clock.advance(ROUND_GAP)
            dovecot.deliver_many(imap_user.name, [make(n) for make in ROBOTS.values()])
            await reader.poll_once()
            await reader.processor.process_pending()

        assert await tickets_store.count_all(env.db) <= len(PAIRS) + len(ROBOTS) * MAX_TICKETS
        assert len(await outbox_rows(env.db)) - answered <= len(ROBOTS) * MAX_ANSWERS
        await env.staff_message("Sok levél érkezik ehhez a bejelentéshez")
        await env.announcer.run_once()
        posts = [m.text or "" for m in env.group.replies]
        assert sum("Új bejelentés" in post for post in posts) <= len(PAIRS) + 3 * MAX_TICKETS
        assert len(posts) <= len(PAIRS) + len(ROBOTS) * MAX_POSTS
    finally:
        await reader.close()


async def _sender(db, pair: str) -> str:
    rows = await db.fetch_all("SELECT email, subject FROM tickets ORDER BY id")
    subjects = {
        "double_gmail": "Nincs meleg víz",
        "double_outlook": "Vízóra-állás",
        "double_iphone": "Csőtörés a Munkácsy",
        "double_freemail": "Számla befizetés",
        "double_citromail": "Bekötési kérelem",
    }
    [email] = [row[0] for row in rows if row[1].startswith(subjects[pair])]
    return email

"""The incoming-mail chain on the corpus: tickets, threading and automatic answers (no IMAP)."""

from __future__ import annotations

import hashlib
import sqlite3
from dataclasses import replace
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from core import inbound
from core.accounts import CodeMailer
from core.config import Settings
from core.inbound import InboundContext, InboundResult, answers, process_mail, threads
from core.mail import MailContext, parse_mail
from storage import accounts as accounts_store
from storage import inbound as inbound_store
from storage import tickets as tickets_store
from storage.db import Database

CORPUS = Path(__file__).parent / "mail_corpus"
NOW = 1_718_000_000.0  # 2024-06-10
HOUR = 3600.0
OUR_ORIGINAL = "<20240603080000.4242.1@petkomm.hu>"  # our acknowledgement of PK-000042
SETTINGS = Settings({})


@pytest.fixture
def ctx() -> InboundContext:
    return InboundContext(
        ours=MailContext.of("petkomm@petkomm.hu"),
        settings=SETTINGS,
        answer_days=15,
        code_mailer=CodeMailer(SETTINGS, lambda: "petkomm_bot"),
        bot_username="petkomm_bot",
    )


# --- helpers --------------------------------------------------------------------------------


def corpus(name: str) -> bytes:
    return (CORPUS / name).read_bytes()


def customer_mail(
    *,
    sender: str = "Kiss Anna <kiss.anna@example.hu>",
    subject: str = "Csőtörés a Fő utcában",
    body: str = "Jó napot! A Fő utca 3. előtt folyik a víz.\n",
    message_id: str = "<report.1@example.hu>",
    headers: str = "",
) -> bytes:
    """A small plain-text mail from a customer; `headers` lines are added as they are."""
    head = (
        f"From: {sender}\nTo: petkomm@petkomm.hu\nSubject: {subject}\n"
        f"Date: Mon, 10 Jun 2024 08:00:00 +0200\nMessage-ID: {message_id}\n{headers}"
        "MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n"
        "Content-Transfer-Encoding: 8bit\n\n"
    )
    return (head + body).replace("\n", "\r\n").encode("utf-8")


async def receive(
    db: Database, raw: bytes, ctx: InboundContext, now: float = NOW, uid: int | None = None
) -> InboundResult:
    return await process_mail(db, raw, ctx=ctx, folder="INBOX", uidvalidity=7, uid=uid, now=now)


async def outbox_mails(db: Database, kind: str | None = None) -> list[EmailMessage]:
    sql = "SELECT raw FROM outbox" + (" WHERE kind = ?" if kind else "") + " ORDER BY id"
    rows = await db.fetch_all(sql, (kind,) if kind else ())
    return [message_from_bytes(bytes(row[0]), policy=policy.default) for row in rows]  # type: ignore[misc]


def text_of(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    return body.get_content()


async def count(db: Database, table: str) -> int:
    return int(await db.fetch_value(f"SELECT count(*) FROM {table}"))


async def seed_ticket_42(db: Database, *, status: str = "open", email: str | None = None) -> None:
    """Ticket PK-000042 with our acknowledgement, the mail the corpus replies answer."""
    await db.execute(
        "INSERT INTO tickets(id, channel, status, subject, email, created_at, updated_at)"
        " VALUES (42, 'mail', ?, 'Nincs víz', ?, ?, ?)",
        (status, email or "kovacs.janos1958@gmail.com", NOW - 7 * 24 * HOUR, NOW - 7 * 24 * HOUR),
    )
    await tickets_store.add_message(
        db,
        42,
        direction="out",
        author="auto",
        body="Bejelentését rögzítettük.",
        new_text="Bejelentését rögzítettük.",
        mail_message_id=OUR_ORIGINAL,
        inbound_mail_id=None,
        now=NOW - 7 * 24 * HOUR,
    )


async def seed_customer(db: Database, customer_id: str, email: str) -> None:
    await db.execute(
        "INSERT INTO customers(customer_id, name, address, email) VALUES (?, 'Juhász László',"
        " 'Pécs, Fő utca 1.', ?)",
        (customer_id, email),
    )


async def pending_registration(db: Database) -> int:
    """U1234 registered (not yet activated) with the address of the corpus's topic mails."""
    await seed_customer(db, "U1234", "juhasz.laszlo@freemail.hu")
    return await accounts_store.create(
        db,
        customer_id="U1234",
        username="juhaszl",
        username_key="juhaszl",
        email="juhasz.laszlo@freemail.hu",
        password_hash="x",
        now=NOW - HOUR,
        registered_by_tg=None,
    )


# --- every mail of the corpus ------------------------------------------------------------------

MACHINE_OUTCOMES = {
    "bounce_dsn_postfix.eml": ("ignored", "bounce of no known mail"),
    "bounce_exchange_headers_only.eml": ("ignored", "bounce of no known mail"),
    "out_of_office_hu.eml": ("ignored", "auto-reply to no known mail"),
    "own_mail_looped.eml": ("ignored", "sent from our own address petkomm@petkomm.hu"),
    "mailing_list.eml": ("new", "mailing list: list-id present"),
    "noreply_notification.eml": ("new", "machine sender: noreply@posta.example.hu"),
}
ALL_MAILS = sorted(path.name for path in CORPUS.glob("*.eml"))


@pytest.mark.parametrize("crlf", [False, True], ids=["lf", "crlf"])
@pytest.mark.parametrize("name", ALL_MAILS)
async def test_every_corpus_mail_is_processed_without_an_exception(db, ctx, name, crlf):
    raw = corpus(name)
    if crlf:
        raw = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    result = await receive(db, raw, ctx)
    stored = await inbound_store.get(db, result.mail_id)
    assert stored is not None and stored.raw == raw
    if name in MACHINE_OUTCOMES:
        assert (result.outcome, result.reason) == MACHINE_OUTCOMES[name]
        assert result.answers == ()
        assert await count(db, "outbox") == 0
    else:
        # A person wrote it: a ticket, and the acknowledgement comes first.
        assert result.outcome == "new"
        assert result.answers[0] == "ack"
        assert stored.status == "ticket" and stored.ticket_id == result.ticket_id


async def test_a_customer_mail_opens_a_ticket_and_gets_one_acknowledgement(db, ctx):
    result = await receive(db, corpus("new_iso88592_qp.eml"), ctx, uid=5)

    assert result.outcome == "new" and result.answers == ("ack",)
    ticket = await tickets_store.get(db, result.ticket_id)
    assert ticket is not None and ticket.channel == "mail" and ticket.status == "open"
    message = (await tickets_store.messages(db, ticket.id))[0]
    assert message.direction == "in" and "ő" in message.body + message.new_text
    stored = await inbound_store.get(db, result.mail_id)
    assert (stored.folder, stored.uidvalidity, stored.uid) == ("INBOX", 7, 5)

    [ack] = await outbox_mails(db, "ack")
    number = result.ticket_number
    assert ack["Subject"].startswith(f"[#{number}] Bejelentését rögzítettük")
    assert ack["To"] == ticket.email
    assert ack["Auto-Submitted"] == "auto-replied"
    assert ack["In-Reply-To"] == stored.message_id
    assert stored.message_id in ack["References"]
    text = text_of(ack)
    assert number in text and "15 napon belül" in text and "2024. 06. 25." in text
    # Our answer is part of the thread, so a reply to it finds the ticket.
    out = [m for m in await tickets_store.messages(db, ticket.id) if m.direction == "out"]
    assert [m.mail_message_id for m in out] == [ack["Message-ID"]]
    # Staff hear of the new ticket.
    assert await tickets_store.pending_announcements(db) == [(1, ticket.id, "new")]


async def test_the_whole_text_and_the_new_text_are_both_kept(db, ctx):
    await seed_ticket_42(db)
    result = await receive(db, corpus("gmail_hu_reply.eml"), ctx)
    message = (await tickets_store.messages(db, result.ticket_id))[-1]
    assert "ezt írta:" in message.body  # the quote is kept whole …
    assert "ezt írta:" not in message.new_text  # … and stripped for display
    assert message.new_text.startswith("Köszönöm a gyors visszajelzést!")


# --- threading ---------------------------------------------------------------------------------


async def test_a_reply_to_our_mail_threads_by_in_reply_to_without_a_new_acknowledgement(db, ctx):
    await seed_ticket_42(db)
    result = await receive(db, corpus("gmail_hu_reply.eml"), ctx)
    assert (result.outcome, result.ticket_id, result.threaded_by) == ("threaded", 42, "references")
    assert result.answers == ()
    assert await count(db, "outbox") == 0
    assert await count(db, "tickets") == 1


async def test_the_customer_replies_to_our_acknowledgement(db, ctx):
    first = await receive(db, customer_mail(), ctx)
    [ack] = await outbox_mails(db, "ack")
    reply = customer_mail(
        subject=f"Re: {ack['Subject']}",
        body="Azóta is folyik.\n",
        message_id="<report.2@example.hu>",
        headers=f"In-Reply-To: {ack['Message-ID']}\nReferences: {ack['Message-ID']}\n",
    )
    second = await receive(db, reply, ctx, now=NOW + HOUR)
    assert second.outcome == "threaded" and second.ticket_id == first.ticket_id
    assert second.answers == ()
    assert len(await outbox_mails(db, "ack")) == 1


async def test_an_urgent_mail_is_told_whom_to_call_at_once_and_a_later_one_too(db, ctx):
    # The report sounds urgent: its acknowledgement says whom to call before anything else.
    on_call = Settings({"PETKOMM_EMERGENCY_PHONE": "+36 30 555 7788"})
    ctx = replace(ctx, settings=on_call)
    first = await receive(
        db, customer_mail(subject="Vízóra", body="A mérő cseréjéről kérdeznék.\n"), ctx
    )
    [ack] = await outbox_mails(db, "ack")
    assert "+36 30 555 7788" in text_of(ack)  # the usual ways to reach us
    assert "Sürgős esetben ne várjon" not in text_of(ack)  # nothing urgent was said

    def reply(n: int, body: str) -> bytes:
        return customer_mail(
            subject=f"Re: {ack['Subject']}",
            body=body + "\n\n> Köszönjük levelét. Csőtörés esetén hívja ügyeletünket.\n",
            message_id=f"<report.{n}@example.hu>",
            headers=f"In-Reply-To: {ack['Message-ID']}\nReferences: {ack['Message-ID']}\n",
        )

    # A later mail that sounds urgent (only the quote speaks of a burst: nothing yet) …
    quiet = await receive(db, reply(2, "Délután otthon leszek."), ctx, now=NOW + HOUR)
    assert quiet.answers == ()
    # … then the customer's own words do: one answer with the on-call number, at once.
    urgent = await receive(
        db,
        reply(3, "Ma délután megint folyik a víz, most már a kapualjban is."),
        ctx,
        now=NOW + 2 * HOUR,
    )
    assert urgent.ticket_id == first.ticket_id and urgent.answers == ("urgent",)
    answer = (await outbox_mails(db, "ack"))[-1]
    text = text_of(answer)
    assert answer["Subject"].startswith(f"[#{first.ticket_number}] Sürgős esetben hívjon")
    assert "Hívja éjjel-nappal elérhető ügyeletünket: +36 30 555 7788" in text
    assert "főelzáró csapot" in text and answer["In-Reply-To"] == "<report.3@example.hu>"
    # Once per report: the number was given.
    again = await receive(db, reply(4, "Még mindig folyik a víz!"), ctx, now=NOW + 3 * HOUR)
    assert again.answers == ()

    # A new report that sounds urgent: its acknowledgement opens with whom to call.
    await receive(
        db,
        customer_mail(
            sender="Nagy Béla <nagy.bela@example.hu>",
            subject="Csőtörés",
            body="Eltört a cső a pincében, ömlik a víz.\n",
            message_id="<burst.1@example.hu>",
        ),
        ctx,
        now=NOW + 4 * HOUR,
    )
    burst_ack = (await outbox_mails(db, "ack"))[-1]
    text = text_of(burst_ack)
    assert burst_ack["To"] == "nagy.bela@example.hu"
    assert text.index("Sürgős esetben ne várjon") < text.index("napon belül válaszol")
    html = burst_ack.get_body(("html",)).get_content()
    assert "+36 30 555 7788" in html and "főelzáró csapot" in html


async def test_a_reply_to_a_closed_ticket_reopens_it(db, ctx):
    await seed_ticket_42(db, status="closed")
    result = await receive(db, corpus("gmail_hu_reply.eml"), ctx)
    assert result.outcome == "reopened"
    assert (await tickets_store.get(db, 42)).status == "open"


async def test_an_out_of_office_reply_does_not_reopen_and_gets_no_answer(db, ctx):
    await seed_ticket_42(db, status="closed")
    result = await receive(db, corpus("out_of_office_hu.eml"), ctx)
    assert (result.outcome, result.ticket_id) == ("threaded", 42)
    assert result.answers == () and result.reason == "auto-submitted: auto-replied"
    assert (await tickets_store.get(db, 42)).status == "closed"
    assert await count(db, "outbox") == 0


async def test_a_bounce_is_attached_to_the_ticket_of_the_returned_mail(db, ctx):
    await seed_ticket_42(db, status="closed")
    await tickets_store.add_message(
        db,
        42,
        direction="out",
        author="staff:1",
        body="Válasz",
        new_text="Válasz",
        mail_message_id="<20240604093012.5151.7@petkomm.hu>",  # what the Postfix DSN returns
        inbound_mail_id=None,
        now=NOW,
    )
    result = await receive(db, corpus("bounce_dsn_postfix.eml"), ctx)
    assert (result.outcome, result.ticket_id, result.threaded_by) == (
        "threaded",
        42,
        "bounced mail",
    )
    assert result.answers == ()
    assert (await tickets_store.get(db, 42)).status == "closed"
    assert await count(db, "outbox") == 0


async def test_a_bounce_of_an_unknown_mail_is_kept_as_ignored(db, ctx):
    result = await receive(db, corpus("bounce_exchange_headers_only.eml"), ctx)
    assert result.outcome == "ignored" and result.ticket_id is None
    stored = await inbound_store.get(db, result.mail_id)
    assert stored.status == "ignored" and stored.reason == "bounce of no known mail"
    assert await count(db, "tickets") == 0


async def test_list_and_noreply_mail_become_tickets_without_an_answer(db, ctx):
    for name in ("mailing_list.eml", "noreply_notification.eml"):
        result = await receive(db, corpus(name), ctx)
        assert result.outcome == "new" and result.answers == ()
    assert await count(db, "outbox") == 0


async def test_our_own_mail_coming_back_is_ignored(db, ctx):
    result = await receive(db, corpus("own_mail_looped.eml"), ctx)
    assert result.outcome == "ignored"
    assert await count(db, "tickets") == 0 and await count(db, "outbox") == 0


async def test_a_subject_number_threads_only_for_the_tickets_owner(db, ctx):
    await seed_ticket_42(db, email="kiss.anna@example.hu")
    owner = customer_mail(subject="[#PK-000042] Még mindig nincs víz", message_id="<o@example.hu>")
    result = await receive(db, owner, ctx)
    assert (result.outcome, result.ticket_id, result.threaded_by) == (
        "threaded",
        42,
        "subject number",
    )

    stranger = customer_mail(
        sender="Gonosz Géza <geza@example.com>",
        subject="[#PK-000042] Kérem, zárják le",
        message_id="<s@example.com>",
    )
    result = await receive(db, stranger, ctx)
    assert result.outcome == "new" and result.ticket_id != 42
    # The owner's "still no water" is told whom to call; the stranger's acknowledgement
    # names only their own ticket.
    urgent, ack = await outbox_mails(db, "ack")
    assert urgent["To"] == "kiss.anna@example.hu" and "PK-000042" in urgent["Subject"]
    assert "PK-000042" not in ack["Subject"] and result.ticket_number in ack["Subject"]
    assert len(await tickets_store.messages(db, 42)) == 3  # ours, the owner's, our answer


# --- self-help ---------------------------------------------------------------------------------

TOPIC_MAILS = {
    "topic_password_accents.eml": "selfhelp_forgotten_password",
    "topic_password_plain.eml": "selfhelp_forgotten_password",
    "topic_invoices_accents.eml": "selfhelp_where_invoices",
    "topic_invoices_plain.eml": "selfhelp_where_invoices",
    "topic_personal_data_accents.eml": "selfhelp_personal_data_change",
    "topic_personal_data_plain.eml": "selfhelp_personal_data_change",
    "topic_activation_english.eml": "selfhelp_activation_code_missing",
}
TOPIC_WORDS = {
    "selfhelp_forgotten_password": "„Elfelejtett jelszó”",
    "selfhelp_where_invoices": "„Folyószámla”",
    "selfhelp_personal_data_change": "„Módosítás kérése”",
    "selfhelp_activation_code_missing": "„Regisztráció”",
}


@pytest.mark.parametrize(("name", "template"), sorted(TOPIC_MAILS.items()))
async def test_a_known_problem_gets_its_self_help_answer(db, ctx, name, template):
    result = await receive(db, corpus(name), ctx)
    assert result.answers == ("ack", template)
    [answer] = await outbox_mails(db, "self_help")
    assert answer["Subject"].startswith(f"[#{result.ticket_number}] ")
    assert answer["Auto-Submitted"] == "auto-replied"
    text = text_of(answer)
    assert TOPIC_WORDS[template] in text and "https://t.me/petkomm_bot" in text
    assert answer.get_body(("html",)) is not None


async def test_activation_self_help_sends_a_fresh_code_to_the_pending_registration(db, ctx):
    await seed_customer(db, "U1234", "juhasz.laszlo@freemail.hu")
    await accounts_store.create(
        db,
        customer_id="U1234",
        username="juhaszl",
        username_key="juhaszl",
        email="Juhasz.Laszlo@freemail.hu",  # registered with capitals; the mail comes lower-case
        password_hash="x",
        now=NOW - HOUR,
        registered_by_tg=None,
    )

    result = await receive(db, corpus("topic_activation_plain.eml"), ctx)

    assert result.answers == ("ack", "selfhelp_activation_code_missing", "activation")
    [code_mail] = await outbox_mails(db, "activation")
    assert code_mail["To"] == "Juhasz.Laszlo@freemail.hu"  # the registered address
    [help_mail] = await outbox_mails(db, "self_help")
    assert help_mail["Subject"] == f"[#{result.ticket_number}] Új aktiváló kódot küldtünk"
    assert "Új aktiváló kódot küldtünk" in text_of(help_mail)
    assert await count(db, "account_codes") == 1
    # The ticket knows the sender's customer and keeps the code mail in its thread,
    # without the code itself.
    ticket = await tickets_store.get(db, result.ticket_id)
    assert ticket.customer_id == "U1234"
    messages = await tickets_store.messages(db, ticket.id)
    ids = {m.mail_message_id for m in messages}
    assert code_mail["Message-ID"] in ids and help_mail["Message-ID"] in ids
    code = text_of(code_mail).split("regisztrációs kódot:")[1].split()[0:6]
    assert not any(" ".join(code) in m.body for m in messages)


async def test_activation_self_help_without_a_registration_explains_how_to_register(db, ctx):
    result = await receive(db, corpus("topic_activation_plain.eml"), ctx)
    assert result.answers == ("ack", "selfhelp_activation_code_missing")
    assert await outbox_mails(db, "activation") == []
    [help_mail] = await outbox_mails(db, "self_help")
    assert "nem találtunk aktiválásra váró regisztrációt" in text_of(help_mail)


async def test_activation_codes_by_mail_are_rate_limited_too(db, ctx):
    await pending_registration(db)
    raw = corpus("topic_activation_plain.eml")
    results = []
    # Four separate reports, a quarter of an hour apart (the same mail again within
    # minutes would be a double send, and a burst of them one ticket).
    for n in range(4):
        changed = raw.replace(
            b"<topic.activation.plain@", f"<n{n}.topic.activation.plain@".encode()
        )
        results.append(await receive(db, changed, ctx, now=NOW + n * 15 * 60))
    assert len(await outbox_mails(db, "activation")) == 3  # CODE_MAIL_ACCOUNT: 3 an hour
    assert "activation" not in results[3].answers
    last_help = (await outbox_mails(db, "self_help"))[-1]
    assert "nemrég már küldtünk új aktiváló kódot" in text_of(last_help)


async def test_the_same_self_help_goes_only_once_into_a_ticket(db, ctx):
    first = await receive(db, corpus("topic_password_plain.eml"), ctx)
    [help_mail] = await outbox_mails(db, "self_help")
    again = customer_mail(
        sender="x <" + (await tickets_store.get(db, first.ticket_id)).email + ">",
        subject="Re: " + help_mail["Subject"],
        body="Elfelejtettem a jelszavamat, most sem megy.\n",
        message_id="<again@example.hu>",
        headers=f"In-Reply-To: {help_mail['Message-ID']}\n",
    )
    second = await receive(db, again, ctx, now=NOW + 60)
    assert second.ticket_id == first.ticket_id and second.answers == ()
    assert second.reason == "forgotten_password already answered in this ticket"


# --- limits ------------------------------------------------------------------------------------


async def test_the_rate_limit_stops_the_eleventh_automatic_answer(db, ctx):
    results = []
    # A quarter of an hour apart: within minutes they would be a burst, one ticket.
    for n in range(11):
        mail = customer_mail(subject=f"Kérdés {n}", message_id=f"<q{n}@example.hu>")
        results.append(await receive(db, mail, ctx, now=NOW + n * 15 * 60))
    assert all(r.answers == ("ack",) for r in results[:10])
    assert results[10].outcome == "new" and results[10].answers == ()
    assert results[10].reason.startswith("rate limit: 10 automatic answers")
    assert len(await outbox_mails(db, "ack")) == 10
    # Three hours later the customer is answered again.
    later = customer_mail(subject="Kérdés később", message_id="<later@example.hu>")
    assert (await receive(db, later, ctx, now=NOW + 3 * HOUR + 11 * 60)).answers == ("ack",)


async def test_a_mail_seen_before_does_nothing(db, ctx):
    raw = corpus("topic_invoices_plain.eml")
    first = await receive(db, raw, ctx, uid=1)
    counts = [await count(db, t) for t in ("inbound_mails", "tickets", "outbox", "ticket_messages")]

    again = await receive(db, raw, ctx, uid=9)

    assert first.outcome == "new"
    assert again.outcome == "duplicate" and again.mail_id is None and again.answers == ()
    after = [await count(db, t) for t in ("inbound_mails", "tickets", "outbox", "ticket_messages")]
    assert after == counts


async def test_a_mail_without_message_id_is_recognised_by_its_bytes(db, ctx):
    raw = corpus("no_message_id.eml")
    assert (await receive(db, raw, ctx)).outcome == "new"
    assert (await receive(db, raw, ctx)).outcome == "duplicate"


# --- quarantine ----------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [b"", b"\r\n  \r\n"], ids=["empty", "blank"])
async def test_an_unreadable_mail_is_quarantined_raw_with_its_reason(db, ctx, raw):
    result = await receive(db, raw, ctx, uid=3)
    assert result.outcome == "quarantined" and result.reason == "unreadable: empty mail"
    stored = await inbound_store.get(db, result.mail_id)
    assert stored.status == "quarantined" and stored.raw == raw and stored.uid == 3
    assert stored.reason == "unreadable: empty mail"
    assert await count(db, "tickets") == 0


async def test_a_mail_the_chain_chokes_on_is_quarantined_and_nothing_half_done_is_kept(
    db, ctx, monkeypatch
):
    def broken(situation):
        raise RuntimeError("a bug")

    monkeypatch.setattr(answers, "ANSWER_RULES", [broken])
    raw = corpus("unrelated_report.eml")
    result = await receive(db, raw, ctx)
    assert result.outcome == "quarantined"
    assert result.reason == "processing failed: RuntimeError"
    assert (await inbound_store.get(db, result.mail_id)).raw == raw
    assert await count(db, "tickets") == 0 and await count(db, "staff_announcements") == 0


# --- who the customer is ----------------------------------------------------------------------


async def test_the_customer_is_known_by_a_unique_address(db, ctx):
    await seed_customer(db, "U0001", "kiss.anna@example.hu")
    result = await receive(db, customer_mail(), ctx)
    assert (await tickets_store.get(db, result.ticket_id)).customer_id == "U0001"


async def test_an_address_shared_by_two_customers_names_nobody(db, ctx):
    await seed_customer(db, "U0001", "kiss.anna@example.hu")
    await seed_customer(db, "U0002", "KISS.ANNA@example.hu")
    result = await receive(db, customer_mail(), ctx)
    assert (await tickets_store.get(db, result.ticket_id)).customer_id is None


# --- the answers' form ----------------------------------------------------------------------


async def test_the_customers_name_is_escaped_in_the_html_answer(db, ctx):
    mail = customer_mail(sender='"Kiss <b>Anna</b>" <kiss.anna@example.hu>')
    await receive(db, mail, ctx)
    [ack] = await outbox_mails(db, "ack")
    html = ack.get_body(("html",)).get_content()
    assert "Kiss &lt;b&gt;Anna&lt;/b&gt;" in html and "<b>Anna" not in html
    assert "Tisztelt Kiss <b>Anna</b>!" in text_of(ack)  # plain text needs no escaping


async def test_a_mail_without_message_id_is_answered_without_in_reply_to(db, ctx):
    await receive(db, corpus("no_message_id.eml"), ctx)
    [ack] = await outbox_mails(db, "ack")
    assert ack["In-Reply-To"] is None  # the stand-in id is ours, not the customer's


async def test_without_a_code_mailer_the_pending_customer_is_pointed_to_the_chat(db, ctx):
    await pending_registration(db)
    no_codes = InboundContext(ours=ctx.ours, settings=SETTINGS)
    result = await receive(db, corpus("topic_activation_plain.eml"), no_codes)
    assert result.answers == ("ack", "selfhelp_activation_code_missing")
    [help_mail] = await outbox_mails(db, "self_help")
    assert "„Új kód kérése”" in text_of(help_mail) and "t.me" not in text_of(help_mail)


# --- the two stages: the id a mail is stored under, and processing a stored mail ---------------

# Header blocks that take email's own parser (and odd cases of the quick scan).
ODD_HEADERS = [
    b"Message-ID: <plain@x>\r\nFrom: a@b\r\n\r\nbody\r\n",
    b"message-id:<lower@x>\nFrom: a@b\n\nbody\n",
    b"Message-ID:\r\n <folded@x>\r\nFrom: a@b\r\n\r\nbody\r\n",
    b"Message-ID:   \r\n\t<folded.tab@x> (comment)\r\n\r\n",
    b"Message-ID: <first@x>\r\nMessage-ID: <second@x>\r\n\r\n",
    b"From someone@x Mon Jun 10 08:00:00 2024\r\nMessage-ID: <mbox@x>\r\n\r\nbody\r\n",
    b"From: a@b\r\nnot a header line\r\nMessage-ID: <after.garbage@x>\r\n\r\n",
    b"From: a@b\rMessage-ID: <bare.cr@x>\r\rbody\r",
    b"From: a@b\r\nMessage-ID: <no.body@x>",
    b" folded first line\r\nMessage-ID: <continued.first@x>\r\n\r\n",
    b"Message-ID : <space.before.colon@x>\r\n\r\n",
    b"Subject: no id\r\n\r\nMessage-ID: <in.the.body@x>\r\n",
    b"Message-ID: bare-token@x\r\n\r\n",
    b"Message-ID:\r\n\r\n",
    b"From: a@b\n\rMessage-ID: <after.empty.cr.line@x>\n\n",
    b"Message-ID: <\xe9t\xe9@x>\r\nFrom: a@b\r\n\r\nbody\r\n",
    b"X-8bit: \xe9\xe9\r\nMessage-ID: <after.8bit@x>\r\n\r\n",
    b"\r\nMessage-ID: <after.empty.first.line@x>\r\n",
]


@pytest.mark.parametrize("crlf", [False, True], ids=["lf", "crlf"])
@pytest.mark.parametrize("name", ALL_MAILS)
def test_the_stored_id_is_the_parsers_message_id(name, crlf):
    raw = corpus(name)
    if crlf:
        raw = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    assert inbound.stored_message_id(raw) == parse_mail(raw).message_id


@pytest.mark.parametrize("raw", ODD_HEADERS)
def test_the_stored_id_follows_the_parser_in_odd_header_blocks(raw):
    parsed = parse_mail(raw).message_id
    stored = inbound.stored_message_id(raw)
    if parsed.isascii():
        assert stored == parsed
    else:  # 8-bit bytes in the id: it could not be stored as text, the stand-in is used
        assert stored == f"<md5-{hashlib.md5(raw).hexdigest()}@missing.petkomm>"


async def test_a_mail_is_kept_as_received_until_it_is_processed(db, ctx):
    raw = corpus("topic_invoices_plain.eml")
    mail_id = await inbound.store_mail(db, raw, folder="INBOX", uidvalidity=7, uid=5, now=NOW)
    stored = await inbound_store.get(db, mail_id)
    assert (stored.status, stored.raw, stored.uid, stored.attempts) == ("received", raw, 5, 0)
    assert await inbound.store_mail(db, raw, folder="INBOX", uidvalidity=7, uid=6, now=NOW) is None
    assert await count(db, "tickets") == 0

    result = await inbound.process_stored(db, mail_id, ctx=ctx, now=NOW)

    assert result.outcome == "new" and result.mail_id == mail_id
    stored = await inbound_store.get(db, mail_id)
    assert stored.status == "ticket" and stored.ticket_id == result.ticket_id
    again = await inbound.process_stored(db, mail_id, ctx=ctx, now=NOW)
    assert again.outcome == "duplicate" and await count(db, "tickets") == 1


async def test_a_mail_with_an_8bit_message_id_is_stored_and_answered(db, ctx):
    raw = customer_mail(message_id="<jelent\u00e9s.1@example.hu>")
    result = await receive(db, raw, ctx)
    assert result.outcome == "new" and result.answers == ("ack",)
    assert result.message_id == f"<md5-{hashlib.md5(raw).hexdigest()}@missing.petkomm>"
    [ack] = await outbox_mails(db, "ack")
    assert ack["In-Reply-To"] is None  # the stand-in id is ours, not the customer's


async def test_a_database_error_leaves_the_mail_waiting(db, ctx, monkeypatch):
    async def locked(db, facts):
        raise sqlite3.OperationalError("database is locked")

    mail_id = await inbound.store_mail(
        db, customer_mail(), folder="INBOX", uidvalidity=7, uid=1, now=NOW
    )
    monkeypatch.setattr(threads, "THREAD_RULES", [locked])
    with pytest.raises(sqlite3.OperationalError):
        await inbound.process_stored(db, mail_id, ctx=ctx, now=NOW)
    assert (await inbound_store.get(db, mail_id)).status == "received"
    assert await count(db, "tickets") == 0 and await count(db, "outbox") == 0

"""An incoming mail's way through the domain: store, thread, open or add, answer.

Two stages. First the raw mail is kept as 'received' under its Message-ID
(`stored_message_id` reads only the header block; the IMAP reader stores a
whole fetched batch in one transaction, `store_mail` does it for one mail).
Then `process_stored` takes a stored mail through the chain: everything for
one mail happens in one transaction: its ticket message, the answers queued in
the outbox, the throttle counts and the mail's final status ('ticket',
'ignored', 'quarantined') commit together or not at all. Bad mail never
raises: an unreadable one (or one a bug chokes on) is quarantined with its
reason. `process_mail` does both stages for one mail's bytes.

The decisions read top-down like the checklists in mail-notes.md, each rule a
small named function in an ordered list (Zammad's filter chain):

- `IGNORE_RULES`: mails kept but turned into nothing (our own mail come back);
- `THREAD_RULES`: which ticket a mail belongs to (References, a bounce's
  original, a subject number only from the ticket's owner);
- `UNMATCHED_RULES`: machine mail that threads nowhere is kept, not ticketed;
- `NO_ANSWER_RULES`: never answer a machine (RFC 3834);
- `ANSWER_RULES`: what to answer (the acknowledgement, self-help topics);
- `SEND_LIMITS`: per-answer limits (10 per sender in 3 hours, a topic once per ticket).

No IMAP, SMTP or Telegram here: the reader hands in bytes and its mailbox
coordinates, and the outbox sends what is queued.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from email.utils import parseaddr
from typing import Any
from zoneinfo import ZoneInfo

from core.accounts import CodeMailer, Policy, email_ok, issue_new_code, local_time
from core.formats import format_date
from core.mail import (
    REPLY_ABOVE_MARKER,
    MailContext,
    MailParseError,
    ParsedMail,
    automatic_reason,
    bounced_message_id,
    is_bounce,
    is_out_of_office,
    is_stand_in,
    parent_references,
    parse_mail,
    replied_ids,
    self_help_topics,
    stored_message_id,
)
from core.mail.rules import from_ourselves, our_x_loop
from core.outbox import HasMailFrom, mail_subject, queue_mail
from core.texts import render
from core.tickets import (
    add_customer_message,
    deadline,
    open_ticket,
    parse_ticket_number,
    ticket_number,
    ticket_numbers_in_subject,
    untagged_subject,
)
from storage import accounts as accounts_store
from storage import inbound as store
from storage import throttle as throttle_store
from storage import tickets as tickets_store
from storage.db import Database, Queryable, Transaction

log = logging.getLogger(f"petkomm.{__name__}")

HOUR = 3600.0
# FreeScout's limit: at most 10 automatic answers to one address in 3 hours.
ANSWER_LIMIT = 10
ANSWER_WINDOW = 3 * HOUR
ANSWER_SCOPE = "autoreply"  # throttle_events scope, keyed by the recipient address
MAX_ANSWER_AGE = 3 * 86400.0  # mail waiting longer gets a ticket but no automatic answer
TOPIC_SCOPE = "selfhelp"  # throttle_events scope, keyed by "<ticket id>:<topic>"
MAX_CODE_ACCOUNTS = 3  # pending registrations of one address that get a fresh code
BUDAPEST = ZoneInfo("Europe/Budapest")

# Outcomes of one mail.
NEW = "new"
THREADED = "threaded"
REOPENED = "reopened"
DUPLICATE = "duplicate"
QUARANTINED = "quarantined"
IGNORED = "ignored"

# --- what the caller hands in and gets back -------------------------------------------


@dataclass(frozen=True)
class InboundContext:
    """Who we are and how we answer: our addresses, the answer promise, the code mailer."""

    ours: MailContext
    settings: HasMailFrom  # for queue_mail: the From address of our answers
    answer_days: int = 15
    code_mailer: CodeMailer | None = None
    policy: Policy = field(default_factory=Policy)
    # The bot's user name for links, or a function giving it once the bot knows it.
    bot_username: str | Callable[[], str] | None = None
    answer_limit: int = ANSWER_LIMIT
    answer_window: float = ANSWER_WINDOW
    max_answer_age: float = MAX_ANSWER_AGE

    @classmethod
    def from_settings(
        cls,
        settings: Any,  # core.config.Settings
        *,
        code_mailer: CodeMailer | None = None,
        extra_addresses: tuple[str, ...] = (),
    ) -> InboundContext:
        """Our address from PETKOMM_MAIL_FROM (plus any aliases), the rules from the settings."""
        address = parseaddr(settings.mail_from)[1].lower()
        return cls(
            ours=MailContext.of(address, *extra_addresses),
            settings=settings,
            answer_days=settings.answer_days,
            code_mailer=code_mailer,
            policy=Policy.from_settings(settings),
            bot_username=code_mailer.bot_username if code_mailer else None,
        )


@dataclass(frozen=True)
class InboundResult:
    """What became of one mail."""

    outcome: str  # new | threaded | reopened | duplicate | quarantined | ignored
    message_id: str
    mail_id: int | None = None  # the inbound_mails row (None for a duplicate)
    ticket_id: int | None = None
    ticket_number: str | None = None
    answers: tuple[str, ...] = ()  # templates queued: "ack", "selfhelp_…", "activation"
    reason: str | None = None  # why ignored, quarantined or left unanswered
    threaded_by: str | None = None  # the thread rule that found the ticket


# --- facts every rule reads -----------------------------------------------------------


@dataclass(frozen=True)
class MailFacts:
    """One parsed mail and what the mail rules say about it, worked out once."""

    mail: ParsedMail
    sender: str  # the From address, lower-case; "" when there is none
    automatic: str | None  # why a machine sent it (RFC 3834), or None for a person
    out_of_office: bool
    bounce: bool

    @classmethod
    def of(cls, mail: ParsedMail, ours: MailContext) -> MailFacts:
        """Run the mail rules over `mail` once."""
        return cls(
            mail=mail,
            sender=mail.from_address.strip().lower(),
            automatic=automatic_reason(mail, ours),
            out_of_office=is_out_of_office(mail),
            bounce=is_bounce(mail),
        )


@dataclass(frozen=True)
class Thread:
    """The ticket a mail belongs to, and the rule that found it."""

    ticket: tickets_store.Ticket
    rule: str


# --- 1. mails that become nothing ----------------------------------------------------

IgnoreRule = Callable[[MailFacts, InboundContext], str | None]


def own_mail_come_back(facts: MailFacts, ctx: InboundContext) -> str | None:
    """One of our own mails (From us, or our X-Loop) came back: never a customer's message."""
    return from_ourselves(facts.mail, ctx.ours) or our_x_loop(facts.mail, ctx.ours)


IGNORE_RULES: list[IgnoreRule] = [own_mail_come_back]


# --- 2. which ticket a mail belongs to ----------------------------------------------

ThreadRule = Callable[[Queryable, MailFacts], Awaitable[Thread | None]]


async def by_references(db: Queryable, facts: MailFacts) -> Thread | None:
    """In-Reply-To / References name a mail of a ticket (ours or the customer's)."""
    ticket = await tickets_store.by_mail_message_ids(db, replied_ids(facts.mail))
    return Thread(ticket, "references") if ticket else None


async def by_bounced_mail(db: Queryable, facts: MailFacts) -> Thread | None:
    """A bounce returns one of our mails: it belongs to that mail's ticket (Zammad)."""
    original = bounced_message_id(facts.mail) if facts.bounce else None
    if original is None:
        return None
    ticket = await tickets_store.by_mail_message_ids(db, [original])
    return Thread(ticket, "bounced mail") if ticket else None


async def by_subject_number(db: Queryable, facts: MailFacts) -> Thread | None:
    """`[#PK-000123]` in the subject, only from the ticket's own address (osTicket).

    A stranger quoting someone else's number opens a new ticket instead of
    writing into theirs ("to avoid message injection").
    """
    if not facts.sender:
        return None
    for number in ticket_numbers_in_subject(facts.mail.subject):
        ticket_id = parse_ticket_number(number)
        ticket = await tickets_store.get(db, ticket_id) if ticket_id else None
        if ticket and ticket.email and ticket.email.strip().lower() == facts.sender:
            return Thread(ticket, "subject number")
    return None


THREAD_RULES: list[ThreadRule] = [by_references, by_bounced_mail, by_subject_number]


async def find_thread(db: Queryable, facts: MailFacts) -> Thread | None:
    """The first thread rule that finds the mail's ticket."""
    for rule in THREAD_RULES:
        thread = await rule(db, facts)
        if thread is not None:
            return thread
    return None


# --- 3. machine mail that threads nowhere ----------------------------------------------

UnmatchedRule = Callable[[MailFacts], str | None]


def unmatched_bounce(facts: MailFacts) -> str | None:
    """A bounce of no mail we know: kept for the record, no ticket."""
    return "bounce of no known mail" if facts.bounce else None


def unmatched_auto_reply(facts: MailFacts) -> str | None:
    """An out-of-office reply to no mail we know: nothing for staff to do."""
    return "auto-reply to no known mail" if facts.out_of_office else None


UNMATCHED_RULES: list[UnmatchedRule] = [unmatched_bounce, unmatched_auto_reply]


# --- 4. never answer a machine --------------------------------------------------------

NoAnswerRule = Callable[["Situation"], str | None]


def not_to_machines(situation: Situation) -> str | None:
    """RFC 3834 and practice: the checklist in `core.mail.rules.AUTOMATIC_CHECKS`."""
    return situation.facts.automatic


def not_to_auto_replies(situation: Situation) -> str | None:
    """Out-of-office replies and bounces, even when their headers do not say so."""
    if situation.facts.bounce:
        return "bounce"
    return "out-of-office reply" if situation.facts.out_of_office else None


def needs_an_address(situation: Situation) -> str | None:
    """Only a plausible single From address can be answered."""
    sender = situation.facts.sender
    return None if sender and email_ok(sender) else "no usable sender address"


def not_to_old_mail(situation: Situation) -> str | None:
    """Mail that waited in the mailbox for days (read for the first time, a long outage)
    becomes a ticket, but an automatic answer so late would only confuse: staff answer.
    The arrival is the server's (IMAP INTERNALDATE), never the sender's Date header."""
    if situation.arrived_at is None:
        return None
    age = situation.now - situation.arrived_at
    if age > situation.ctx.max_answer_age:
        return f"arrived {age / 86400:.1f} days ago: too late for an automatic answer"
    return None


NO_ANSWER_RULES: list[NoAnswerRule] = [
    not_to_machines,
    not_to_auto_replies,
    needs_an_address,
    not_to_old_mail,
]


# --- 5. what to answer ---------------------------------------------------------------

Prepare = Callable[[Transaction], Awaitable[dict[str, Any]]]


@dataclass
class PlannedAnswer:
    """An automatic answer to queue; `prepare` runs just before (e.g. sends a code)."""

    kind: str  # outbox kind: ack | self_help
    template: str  # core/texts/mail/<template>.txt|.html|.subject.txt
    topic: str | None = None
    prepare: Prepare | None = None


@dataclass(frozen=True)
class Situation:
    """What the answer rules look at: the mail, its ticket, whether it opened the ticket."""

    facts: MailFacts
    ticket: tickets_store.Ticket
    opened: bool
    ctx: InboundContext
    now: float
    arrived_at: float | None = None  # when it reached the mailbox, if the server said


AnswerRule = Callable[[Situation], list[PlannedAnswer]]


def acknowledge_new_ticket(situation: Situation) -> list[PlannedAnswer]:
    """A new ticket gets one acknowledgement with its number; a reply into one gets none."""
    return [PlannedAnswer("ack", "ack")] if situation.opened else []


def self_help(situation: Situation) -> list[PlannedAnswer]:
    """A known problem gets its self-help answer (the topics of `core.mail.rules`)."""
    answers = []
    for topic in self_help_topics(situation.facts.mail):
        prepare = _activation_codes(situation) if topic == "activation_code_missing" else None
        answers.append(PlannedAnswer("self_help", f"selfhelp_{topic}", topic, prepare))
    return answers


ANSWER_RULES: list[AnswerRule] = [acknowledge_new_ticket, self_help]


# --- 6. limits on each answer -------------------------------------------------------

SendLimit = Callable[[Queryable, PlannedAnswer, Situation], Awaitable[str | None]]


async def answers_per_sender(
    db: Queryable, answer: PlannedAnswer, situation: Situation
) -> str | None:
    """At most `answer_limit` automatic answers to one address per window (FreeScout)."""
    ctx = situation.ctx
    since = situation.now - ctx.answer_window
    sent = await throttle_store.count_since(db, ANSWER_SCOPE, situation.facts.sender, since)
    if sent >= ctx.answer_limit:
        hours = ctx.answer_window / HOUR
        return f"rate limit: {sent} automatic answers to this address in {hours:g} h"
    return None


async def topic_once_per_ticket(
    db: Queryable, answer: PlannedAnswer, situation: Situation
) -> str | None:
    """The same self-help answer goes at most once into a ticket."""
    if answer.topic is None:
        return None
    key = f"{situation.ticket.id}:{answer.topic}"
    if await throttle_store.count_since(db, TOPIC_SCOPE, key, 0.0):
        return f"{answer.topic} already answered in this ticket"
    return None


SEND_LIMITS: list[SendLimit] = [answers_per_sender, topic_once_per_ticket]


async def _record_answer(db: Queryable, answer: PlannedAnswer, situation: Situation) -> None:
    await throttle_store.record(db, ANSWER_SCOPE, situation.facts.sender, situation.now)
    if answer.topic is not None:
        key = f"{situation.ticket.id}:{answer.topic}"
        await throttle_store.record(db, TOPIC_SCOPE, key, situation.now)


# --- the activation self-help: a fresh code to the registered address --------------------


def _activation_codes(situation: Situation) -> Prepare:
    """Send a fresh activation code to each pending registration of the sender's address."""

    async def prepare(tx: Transaction) -> dict[str, Any]:
        ctx, sender, now = situation.ctx, situation.facts.sender, situation.now
        pending = await accounts_store.pending_by_email(tx, sender)
        if not pending:
            accounts = await accounts_store.by_email(tx, sender)
            active = any(account.status == "active" for account in accounts)
            return {"state": "active" if active else "unknown", "address": sender}
        if ctx.code_mailer is None:  # a door that cannot send codes: point to the chat
            return {"state": "pending", "address": sender}
        sent = 0
        limited_until: float | None = None
        for account in pending[:MAX_CODE_ACCOUNTS]:
            issued = await issue_new_code(
                tx,
                account,
                "activation",
                policy=ctx.policy,
                mailer=ctx.code_mailer,
                actor=f"mail:{sender}",
                now=now,
            )
            if issued.limited_until is not None:
                limited_until = max(issued.limited_until, limited_until or issued.limited_until)
                continue
            sent += 1
            # The code mail is part of the ticket's thread (a reply to it threads),
            # but the code itself is a secret: the ticket keeps only a note.
            note = render("mail/selfhelp_code_note.txt", address=account.email)
            await tickets_store.add_message(
                tx,
                situation.ticket.id,
                direction="out",
                author="auto",
                body=note,
                new_text=note,
                mail_message_id=issued.message_id,
                inbound_mail_id=None,
                now=now,
            )
        if sent:
            return {"state": "sent", "address": sender, "code_ttl_hours": ctx.policy.code_ttl_hours}
        return {
            "state": "limited",
            "address": sender,
            "wait_until": local_time(limited_until or now),
        }

    return prepare


# --- queueing one answer ---------------------------------------------------------------


def _bot_username(ctx: InboundContext) -> str | None:
    name = ctx.bot_username
    if callable(name):
        try:
            name = name()
        except Exception:  # noqa: BLE001 - not known yet: the answer goes without the link
            return None
    name = (name or "").strip().removeprefix("@")
    return name or None


def _base_context(situation: Situation) -> dict[str, Any]:
    ctx, ticket = situation.ctx, situation.ticket
    due = deadline(ticket, ctx.answer_days, situation.now).due_at
    bot = _bot_username(ctx)
    return {
        "marker": REPLY_ABOVE_MARKER,
        "name": situation.facts.mail.from_name.strip() or None,
        "ticket_number": ticket_number(ticket.id),
        "answer_days": ctx.answer_days,
        "due_date": format_date(datetime.fromtimestamp(due, BUDAPEST).date()),
        "bot_link": f"https://t.me/{bot}" if bot else None,
        "subject": untagged_subject(situation.facts.mail.subject),
    }


async def _queue_answer(tx: Transaction, answer: PlannedAnswer, situation: Situation) -> list[str]:
    """Queue one answer threaded to the customer's mail and keep it in the ticket."""
    mail, ticket = situation.facts.mail, situation.ticket
    context = _base_context(situation)
    if answer.prepare is not None:
        context.update(await answer.prepare(tx))
    queued = await queue_mail(
        tx,
        situation.ctx.settings,
        kind=answer.kind,
        to=situation.facts.sender,
        subject=mail_subject(answer.template, **context),
        template=answer.template,
        context=context,
        ticket_number=ticket_number(ticket.id),
        ticket_id=ticket.id,
        in_reply_to=None if mail.message_id_missing else mail.message_id,
        references=parent_references(mail),
        auto_reply=True,
        now=situation.now,
    )
    text = render(f"mail/{answer.template}.txt", **context)
    await tickets_store.add_message(
        tx,
        ticket.id,
        direction="out",
        author="auto",
        body=text,
        new_text=text,
        mail_message_id=queued.message_id,
        inbound_mail_id=None,
        now=situation.now,
    )
    await _record_answer(tx, answer, situation)
    sent = [answer.template]
    if context.get("state") == "sent":
        sent.append("activation")
    return sent


async def answer_mail(tx: Transaction, situation: Situation) -> tuple[list[str], str | None]:
    """Queue the automatic answers the rules allow; returns (templates, why not all)."""
    for rule in NO_ANSWER_RULES:
        reason = rule(situation)
        if reason:
            return [], reason
    queued: list[str] = []
    held: str | None = None
    for answer_rule in ANSWER_RULES:
        for planned in answer_rule(situation):
            limit = None
            for check in SEND_LIMITS:
                limit = await check(tx, planned, situation)
                if limit:
                    break
            if limit:
                held = held or limit
                continue
            queued += await _queue_answer(tx, planned, situation)
    return queued, held


# --- the chain for one mail ----------------------------------------------------------------


async def _customer_id_for(db: Queryable, sender: str) -> str | None:
    """The customer whose address this is: exactly one portal account, or one customer."""
    if not sender:
        return None
    accounts = {account.customer_id for account in await accounts_store.by_email(db, sender)}
    if accounts:
        return accounts.pop() if len(accounts) == 1 else None
    customers = await store.customer_ids_with_email(db, sender)
    return customers[0] if len(customers) == 1 else None


def _summary(threaded_by: str | None, answers: list[str], held: str | None) -> str:
    parts = [f"threaded by {threaded_by}" if threaded_by else "new ticket"]
    if answers:
        parts.append("answered: " + ", ".join(answers))
    if held:
        parts.append("not answered: " + held)
    return "; ".join(parts)


async def _handle(
    tx: Transaction,
    mail: ParsedMail,
    mail_id: int,
    ctx: InboundContext,
    now: float,
    arrived_at: float | None = None,
) -> InboundResult:
    """The chain for one stored mail, inside its transaction; ends with the mail's status."""
    facts = MailFacts.of(mail, ctx.ours)

    for ignore_rule in IGNORE_RULES:
        reason = ignore_rule(facts, ctx)
        if reason:
            await store.set_outcome(
                tx, mail_id, status=store.IGNORED, reason=reason, ticket_id=None
            )
            return InboundResult(IGNORED, mail.message_id, mail_id, reason=reason)

    thread = await find_thread(tx, facts)
    actor = f"mail:{facts.sender or 'unknown'}"
    if thread is None:
        for unmatched_rule in UNMATCHED_RULES:
            reason = unmatched_rule(facts)
            if reason:
                await store.set_outcome(
                    tx, mail_id, status=store.IGNORED, reason=reason, ticket_id=None
                )
                return InboundResult(IGNORED, mail.message_id, mail_id, reason=reason)
        ticket = await open_ticket(
            tx,
            channel="mail",
            subject=mail.subject,
            body=mail.text,
            new_text=mail.new_text,
            actor=actor,
            email=facts.sender or None,
            customer_id=await _customer_id_for(tx, facts.sender),
            mail_message_id=mail.message_id,
            inbound_mail_id=mail_id,
            now=now,
        )
        outcome = NEW
    else:
        # Machines' mail (an out-of-office note, a bounce) never reopens a closed ticket.
        reopened = await add_customer_message(
            tx,
            thread.ticket,
            body=mail.text,
            new_text=mail.new_text,
            actor=actor,
            mail_message_id=mail.message_id,
            inbound_mail_id=mail_id,
            reopen=not (facts.out_of_office or facts.bounce),
            now=now,
        )
        ticket = await tickets_store.get(tx, thread.ticket.id) or thread.ticket
        outcome = REOPENED if reopened else THREADED

    situation = Situation(facts, ticket, outcome == NEW, ctx, now, arrived_at)
    answers, held = await answer_mail(tx, situation)
    threaded_by = thread.rule if thread else None
    await store.set_outcome(
        tx,
        mail_id,
        status=store.TICKET,
        reason=_summary(threaded_by, answers, held),
        ticket_id=ticket.id,
    )
    return InboundResult(
        outcome,
        mail.message_id,
        mail_id,
        ticket_id=ticket.id,
        ticket_number=ticket_number(ticket.id),
        answers=tuple(answers),
        reason=held,
        threaded_by=threaded_by,
    )


# --- the two stages: keep the raw mail, then process it ----------------------------------------


async def store_mail(
    db: Database,
    raw: bytes,
    *,
    folder: str,
    uidvalidity: int | None,
    uid: int | None,
    now: float,
) -> int | None:
    """Keep one raw mail as 'received'; its row id, or None when its Message-ID is known.

    The IMAP reader stores whole batches at once (`storage.inbound.insert_received`);
    this is the same for one mail.
    """
    mails = [(stored_message_id(raw), uid, raw, None)]
    async with db.transaction() as tx:
        added = await store.insert_received(
            tx, mails, folder=folder, uidvalidity=uidvalidity, now=now
        )
        if not added:
            return None
        return int(await tx.fetch_value("SELECT last_insert_rowid()"))


async def _set_aside(db: Database, mail_id: int, message_id: str, reason: str) -> InboundResult:
    """Quarantine a waiting mail (kept raw, with its reason)."""
    async with db.transaction() as tx:
        await store.set_outcome(
            tx, mail_id, status=store.QUARANTINED, reason=reason, ticket_id=None
        )
    return InboundResult(QUARANTINED, message_id, mail_id, reason=reason)


async def quarantine_stored(db: Database, mail_id: int, reason: str) -> InboundResult:
    """Set a waiting mail aside with `reason` (e.g. after it failed too often)."""
    message_id = await db.fetch_value(
        "SELECT message_id FROM inbound_mails WHERE id = ?", (mail_id,)
    )
    result = await _set_aside(db, mail_id, str(message_id), reason)
    log.warning("mail #%d %s quarantined: %s", mail_id, result.message_id, reason)
    return result


async def process_stored(
    db: Database, mail_id: int, *, ctx: InboundContext, now: float
) -> InboundResult:
    """Take one stored 'received' mail through the chain, in one transaction.

    The ticket, its messages, the answers queued in the outbox, the throttle
    counts and the mail's final status commit together or not at all. Never
    raises for a bad mail: an unreadable one (or one a bug chokes on) is
    quarantined with its reason, so one mail cannot block the queue. Only
    database failures propagate, and then the mail is still 'received': the
    caller tries again later. A mail that is not waiting (any more) is left
    alone (outcome "duplicate").
    """
    row = await store.get(db, mail_id)
    if row is None or row.status != store.RECEIVED:
        message_id = row.message_id if row else ""
        return InboundResult(DUPLICATE, message_id, reason="already processed")
    where = f"{row.folder} uid={row.uid}"
    try:
        try:
            mail = parse_mail(row.raw)
        except MailParseError as error:
            result = await _set_aside(db, mail_id, row.message_id, f"unreadable: {error}")
            log.warning("mail %s quarantined: %s", where, result.reason)
            return result
        if mail.message_id != row.message_id:  # 8-bit in the header: the stored id rules
            mail = replace(
                mail, message_id=row.message_id, message_id_missing=is_stand_in(row.message_id)
            )
        async with db.transaction() as tx:
            if await store.status_of(tx, mail_id) != store.RECEIVED:  # done meanwhile
                return InboundResult(DUPLICATE, row.message_id, reason="already processed")
            result = await _handle(tx, mail, mail_id, ctx, now, row.arrived_at)
    except sqlite3.Error:
        raise  # the database itself failed: the mail waits, the caller tries again
    except Exception as error:  # noqa: BLE001 - a bug must not block the inbox (Zammad #2754)
        log.exception("mail %s %s could not be processed", where, row.message_id)
        reason = f"processing failed: {type(error).__name__}"
        result = await _set_aside(db, mail_id, row.message_id, reason)
    log.info(
        "mail %s %s: %s%s%s%s",
        where,
        result.message_id,
        result.outcome,
        f" {result.ticket_number}" if result.ticket_number else "",
        f" answers={','.join(result.answers)}" if result.answers else "",
        f" ({result.reason})" if result.reason else "",
    )
    return result


async def process_mail(
    db: Database,
    raw: bytes,
    *,
    ctx: InboundContext,
    folder: str,
    uidvalidity: int | None,
    uid: int | None,
    now: float,
) -> InboundResult:
    """Store one raw mail and take it through the chain now (`store_mail` + `process_stored`).

    For callers holding one mail's bytes; the IMAP reader stores batches and
    leaves the processing to `mailer.processor`. A mail seen before does
    nothing (outcome "duplicate").
    """
    mail_id = await store_mail(db, raw, folder=folder, uidvalidity=uidvalidity, uid=uid, now=now)
    if mail_id is None:
        return InboundResult(DUPLICATE, stored_message_id(raw), reason="Message-ID seen before")
    return await process_stored(db, mail_id, ctx=ctx, now=now)

"""The automatic answers to a mail: which ones, how often, and queueing them.

- `ANSWER_RULES`: what to answer (the acknowledgement of a new ticket, whom to
  call for a later mail that sounds urgent, a short answer to a reply whose file
  was refused, a self-help answer for each known problem the customer writes
  about);
- `SEND_LIMITS`: per-answer limits against robots and floods: 10 to one address
  in 3 hours (FreeScout), 10 an hour to one domain (60 to a public mail
  provider's, shared by thousands of customers), 120 an hour in all, and a
  self-help topic (and the urgent answer) once per ticket.

Each answer goes to the ticket's owner (a web form's Reply-To person, never
its robot), is threaded to the customer's mail, queued in the outbox and kept
in the ticket as an 'out' message by 'auto', in the mail's transaction.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from core import attachments
from core.accounts import BUDAPEST, issue_new_code, local_time
from core.config import Settings
from core.facts import facts_from
from core.formats import format_date
from core.inbound.context import HOUR, InboundContext, Situation
from core.inbound.filters import no_answer_reason
from core.mail import REPLY_ABOVE_MARKER, answer_subject, parent_references, self_help_topics
from core.outbox import mail_subject, queue_mail
from core.texts import render
from core.tickets import deadline, ticket_number, untagged_subject
from core.urgency import kinds_in_order, urgent_kinds
from storage import accounts as accounts_store
from storage import throttle as throttle_store
from storage import tickets as tickets_store
from storage.db import Queryable, Transaction

# throttle_events scope of automatic answers: keyed by the recipient address, its target
# the address's domain (answers before this release have none: the domain limit starts
# counting afresh).
ANSWER_SCOPE = "autoreply"
OVERALL_SCOPE = "autoreply:all"  # one key: every automatic answer
OVERALL_KEY = "*"
TOPIC_SCOPE = "selfhelp"  # throttle_events scope, keyed by "<ticket id>:<topic>"
MAX_CODE_ACCOUNTS = 3  # pending registrations of one address that get a fresh code

# --- what to answer -----------------------------------------------------------------

Prepare = Callable[[Transaction], Awaitable[dict[str, Any]]]


@dataclass
class PlannedAnswer:
    """An automatic answer to queue; `prepare` runs just before (e.g. sends a code)."""

    kind: str  # outbox kind: ack | self_help
    template: str  # core/texts/mail/<template>.txt|.html|.subject.txt
    topic: str | None = None
    prepare: Prepare | None = None


AnswerRule = Callable[[Situation], list[PlannedAnswer]]


def acknowledge_new_ticket(situation: Situation) -> list[PlannedAnswer]:
    """A new ticket gets one acknowledgement with its number; a reply into one gets none."""
    return [PlannedAnswer("ack", "ack")] if situation.opened else []


def tell_refused_files(situation: Situation) -> list[PlannedAnswer]:
    """A reply into a ticket whose file was not kept (too big, a program) gets a short
    answer saying which and why, so the customer can send it another way; a new ticket's
    acknowledgement says it itself."""
    if situation.opened or not situation.refused or not _from_ticket_owner(situation):
        return []
    return [PlannedAnswer("ack", "files_refused")]


def _urgent(situation: Situation) -> list[str]:
    """The kinds of emergency the customer's own words speak of (`core.urgency`): a new
    ticket's subject and text, a later mail's new text (never what it quotes)."""
    mail = situation.facts.mail
    texts = (mail.subject, mail.new_text) if situation.opened else (mail.new_text,)
    return kinds_in_order(urgent_kinds(*texts))


def tell_whom_to_call(situation: Situation) -> list[PlannedAnswer]:
    """A later mail into a report that sounds urgent ("most már a kapualjban is folyik a
    víz") is told at once whom to call, once per report; a new ticket's acknowledgement
    says it itself."""
    if situation.opened or not _from_ticket_owner(situation) or not _urgent(situation):
        return []
    return [PlannedAnswer("ack", "urgent", topic="urgent")]


def self_help(situation: Situation) -> list[PlannedAnswer]:
    """A known problem gets its self-help answer (the topics of `core.mail.rules`), only when
    the ticket's owner wrote: self-help (a fresh activation code!) goes to the owner alone,
    never to another address writing into the ticket."""
    if not _from_ticket_owner(situation):
        return []
    answers = []
    for topic in self_help_topics(situation.facts.mail):
        prepare = (
            partial(_fresh_activation_codes, situation=situation)
            if topic == "activation_code_missing"
            else None
        )
        answers.append(PlannedAnswer("self_help", f"selfhelp_{topic}", topic, prepare))
    return answers


def _from_ticket_owner(situation: Situation) -> bool:
    """The mail's sender is the address the ticket belongs to (its From, or the person a web
    form names in Reply-To, for whom the ticket was opened)."""
    owner = (situation.ticket.email or "").strip().lower()
    return bool(owner) and owner in (situation.facts.sender, situation.facts.owner)


ANSWER_RULES: list[AnswerRule] = [
    acknowledge_new_ticket,
    tell_whom_to_call,
    tell_refused_files,
    self_help,
]


# --- limits on each answer -------------------------------------------------------

SendLimit = Callable[[Queryable, PlannedAnswer, Situation], Awaitable[str | None]]


async def answers_per_sender(
    db: Queryable, answer: PlannedAnswer, situation: Situation
) -> str | None:
    """At most `answer_limit` automatic answers to one address per window (FreeScout)."""
    ctx = situation.ctx
    since = situation.now - ctx.answer_window
    if await _reached(db, ANSWER_SCOPE, situation.recipient, since, ctx.answer_limit):
        hours = ctx.answer_window / HOUR
        return f"rate limit: {ctx.answer_limit} automatic answers to this address in {hours:g} h"
    return None


async def answers_per_domain(
    db: Queryable, answer: PlannedAnswer, situation: Situation
) -> str | None:
    """At most `domain_answer_limit` automatic answers to one domain per window: a robot
    whose From changes each time is still one robot. A public mail provider's domain
    (`public_providers`) gets `provider_answer_limit`."""
    ctx = situation.ctx
    domain = _domain(situation.recipient)
    limit = ctx.provider_answer_limit if domain in ctx.public_providers else ctx.domain_answer_limit
    since = situation.now - ctx.domain_answer_window
    found = await throttle_store.nth_newest_of_target(db, ANSWER_SCOPE, domain, since, limit)
    if limit <= 0 or found is not None:
        hours = ctx.domain_answer_window / HOUR
        return f"rate limit: {limit} automatic answers to {domain} in {hours:g} h"
    return None


async def answers_overall(db: Queryable, answer: PlannedAnswer, situation: Situation) -> str | None:
    """At most `overall_answer_limit` automatic answers in all per window: a flood from
    everywhere at once gets tickets, and staff answer it."""
    ctx = situation.ctx
    since = situation.now - ctx.overall_answer_window
    if await _reached(db, OVERALL_SCOPE, OVERALL_KEY, since, ctx.overall_answer_limit):
        hours = ctx.overall_answer_window / HOUR
        return f"rate limit: {ctx.overall_answer_limit} automatic answers in all in {hours:g} h"
    return None


async def _reached(db: Queryable, scope: str, key: str, since: float, limit: int) -> bool:
    """Whether `limit` answers were counted under (scope, key) after `since`: the limit-th
    newest is looked up, never the whole window counted (a flood fills it)."""
    if limit <= 0:
        return True
    return await throttle_store.nth_newest_of_key(db, scope, key, since, limit) is not None


def _domain(address: str) -> str:
    return address.rpartition("@")[2].lower()


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


SEND_LIMITS: list[SendLimit] = [
    answers_per_sender,
    answers_per_domain,
    answers_overall,
    topic_once_per_ticket,
]


async def _send_limit(db: Queryable, answer: PlannedAnswer, situation: Situation) -> str | None:
    """The first send limit that holds this answer back, or None."""
    for check in SEND_LIMITS:
        limit = await check(db, answer, situation)
        if limit:
            return limit
    return None


async def _count_answer(db: Queryable, answer: PlannedAnswer, situation: Situation) -> None:
    """Count the answer for the limits above."""
    recipient, now = situation.recipient, situation.now
    # One row counts the address (its key) and its domain (its target).
    await throttle_store.record(db, ANSWER_SCOPE, recipient, now, target=_domain(recipient))
    await throttle_store.record(db, OVERALL_SCOPE, OVERALL_KEY, now)
    if answer.topic is not None:
        key = f"{situation.ticket.id}:{answer.topic}"
        await throttle_store.record(db, TOPIC_SCOPE, key, situation.now)


# --- answering ----------------------------------------------------------------------


async def answer_mail(tx: Transaction, situation: Situation) -> tuple[list[str], str | None]:
    """Queue the automatic answers the rules allow; returns (templates, why not all)."""
    reason = no_answer_reason(situation)
    if reason:
        return [], reason
    queued: list[str] = []
    held: str | None = None
    for answer_rule in ANSWER_RULES:
        for planned in answer_rule(situation):
            limit = await _send_limit(tx, planned, situation)
            if limit:
                held = held or limit
                continue
            queued += await _queue_answer(tx, planned, situation)
    return queued, held


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
        to=situation.recipient,
        subject=answer_subject(mail_subject(answer.template, **context)),
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
    await _keep_in_ticket(tx, situation, text, queued.message_id)
    await _count_answer(tx, answer, situation)
    sent = [answer.template]
    if context.get("state") == "sent":
        sent.append("activation")
    return sent


def _base_context(situation: Situation) -> dict[str, Any]:
    """What every answer template gets: the ticket number, the deadline, the bot link."""
    ctx, ticket = situation.ctx, situation.ticket
    due = deadline(ticket, ctx.answer_days, situation.now).due_at
    bot = _bot_username(ctx)
    return {
        "marker": REPLY_ABOVE_MARKER,
        "name": situation.facts.owner_name or None,
        "ticket_number": ticket_number(ticket.id),
        "answer_days": ctx.answer_days,
        "due_date": format_date(datetime.fromtimestamp(due, BUDAPEST).date()),
        "bot_link": f"https://t.me/{bot}" if bot else None,
        "subject": untagged_subject(situation.facts.mail.subject),
        "refused": list(situation.refused),
        "urgent": _urgent(situation),
        "max_file": _megabytes(attachments.MAX_FILE_BYTES),
        "max_mail": _megabytes(attachments.MAX_MAIL_BYTES),
        "max_files": attachments.MAX_FILES,
        **({"facts": facts_from(ctx.settings)} if isinstance(ctx.settings, Settings) else {}),
    }


def _megabytes(size: int) -> str:
    """A limit in whole megabytes, as the customer reads it: `10 MB`."""
    return f"{size // (1024 * 1024)} MB"


def _bot_username(ctx: InboundContext) -> str | None:
    name = ctx.bot_username
    if callable(name):
        try:
            name = name()
        except Exception:  # noqa: BLE001 - not known yet: the answer goes without the link
            return None
    name = (name or "").strip().removeprefix("@")
    return name or None


async def _keep_in_ticket(
    tx: Transaction, situation: Situation, text: str, mail_message_id: str | None
) -> None:
    """An automatic mail joins the ticket's thread as an 'out' message by 'auto'."""
    await tickets_store.add_message(
        tx,
        situation.ticket.id,
        direction="out",
        author="auto",
        body=text,
        new_text=text,
        mail_message_id=mail_message_id,
        inbound_mail_id=None,
        now=situation.now,
    )


# --- the activation self-help: a fresh code to the registered address --------------------


async def _fresh_activation_codes(tx: Transaction, situation: Situation) -> dict[str, Any]:
    """Send a fresh activation code to each pending registration of the owner's address.

    The answer's template context: what was done (`state`) and for which address.
    """
    ctx, sender, now = situation.ctx, situation.recipient, situation.now
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
        await _keep_in_ticket(tx, situation, note, issued.message_id)
    if sent:
        return {"state": "sent", "address": sender, "code_ttl_hours": ctx.policy.code_ttl_hours}
    return {"state": "limited", "address": sender, "wait_until": local_time(limited_until or now)}

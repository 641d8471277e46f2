"""A customer's text in the chat, taken as a new report or as a reply to an answer, or refused.

One rule for both: the text (stripped) must be long enough and at most
`MAX_TEXT` characters, and a Telegram user writes at most
`throttle.REPORT_USER` texts an hour. A refused text gets one reply, named by
its template with the values it needs; a taken one becomes a ticket
(`take_report`) or joins the customer's own ticket (`take_reply`).

Each is one transaction: the count against the allowance, the ticket and the
entry in the effect journal (`core.journal`), so the same message handled
again after a crash is answered with the ticket it made, not made twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from core import journal, throttle, tickets
from core.accounts import wait_minutes
from core.db import Database, Queryable
from core.tickets import MAX_CHAT_TEXT
from storage.tickets import Ticket

MAX_TEXT = MAX_CHAT_TEXT


@dataclass(frozen=True)
class TextRule:
    """How short a text may be, and what the customer hears when it is shorter."""

    min_length: int
    too_short: str  # chat template


# A report says what is wrong: three characters at least.
REPORT = TextRule(min_length=3, too_short="report/too_short")
# A reply may be a word ("Köszönöm"); only a message without text is refused: we read text.
REPLY = TextRule(min_length=1, too_short="common/text_only")


@dataclass(frozen=True)
class Refusal:
    """Why a text was not taken: the chat template to answer with, and its values."""

    template: str
    values: dict[str, int] = field(default_factory=dict)


async def refusal(
    db: Queryable, rule: TextRule, text: str, *, telegram_user_id: int, now: float
) -> Refusal | None:
    """None when the (stripped) text may become a report or reply; else why not.

    A text within the limits counts against the user's hourly allowance.
    """
    if len(text) < rule.min_length:
        return Refusal(rule.too_short)
    if len(text) > MAX_TEXT:
        return Refusal("report/too_long", {"limit": MAX_TEXT, "length": len(text)})
    until = await throttle.use(db, throttle.REPORT_USER, f"tg:{telegram_user_id}", now)
    if until:
        return Refusal("report/wait", {"minutes": wait_minutes(until, now)})
    return None


async def take_report(
    db: Database,
    text: str,
    *,
    telegram_user_id: int,
    chat_id: int,
    customer_id: str | None,
    subject: str | None = None,
    once: str | None = None,
    now: float,
) -> Refusal | Ticket:
    """A report typed in the chat: why it is refused (`refusal`), or the ticket it opened
    (answered back into the chat; a ticket of the message `once` opened before, if it did).
    """
    async with db.transaction() as tx:
        opened = await journal.done(tx, once, "report")
        ticket = await tickets.get(tx, opened["ticket"]) if opened else None
        if ticket is not None:
            return ticket
        refused = await refusal(tx, REPORT, text, telegram_user_id=telegram_user_id, now=now)
        if refused:
            return refused
        ticket = await tickets.open_ticket(
            tx,
            channel="telegram",
            subject=subject or tickets.subject_from_text(text),
            body=text,
            new_text=text,
            actor=f"tg:{telegram_user_id}",
            customer_id=customer_id,
            telegram_user_id=telegram_user_id,
            telegram_chat_id=chat_id,
            now=now,
        )
        await journal.record(tx, once, "report", now, ticket=ticket.id)
    return ticket


@dataclass(frozen=True)
class ChatReply:
    """A customer's message added to their ticket from the chat."""

    ticket: Ticket
    reopened: bool


async def take_reply(
    db: Database,
    ticket_id: int,
    text: str,
    *,
    telegram_user_id: int,
    once: str | None = None,
    now: float,
) -> Refusal | ChatReply | None:
    """A customer's chat reply to a staff answer: why it is refused (`refusal`), or added to
    their ticket (a closed one reopens; added once for the message `once`).

    None when the ticket is not this Telegram user's own chat report: nobody
    writes into someone else's ticket.
    """
    async with db.transaction() as tx:
        added = await journal.done(tx, once, "reply")
        if added is not None:
            ticket = await tickets.get(tx, added["ticket"])
            return ChatReply(ticket, bool(added["reopened"])) if ticket else None
        refused = await refusal(tx, REPLY, text, telegram_user_id=telegram_user_id, now=now)
        if refused:
            return refused
        ticket = await tickets.get(tx, ticket_id)
        if ticket is None or ticket.channel != "telegram":
            return None
        if ticket.telegram_user_id != telegram_user_id:
            return None
        reopened = await tickets.add_customer_message(
            tx, ticket, body=text, new_text=text, actor=f"tg:{telegram_user_id}", now=now
        )
        current = await tickets.get(tx, ticket_id)
        await journal.record(tx, once, "reply", now, ticket=ticket_id, reopened=reopened)
    assert current is not None
    return ChatReply(current, reopened)

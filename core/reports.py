"""A customer's text in the chat, taken as a new report, as more of it, or as a reply to an
answer, or refused.

One rule for all: the text (stripped) must be long enough and at most
`MAX_TEXT` characters (Telegram's own limit: a longer paste arrives in parts).
A Telegram user opens at most `throttle.REPORT_USER` new reports an hour; what
joins a ticket they already have (a reply, more of a report) is not a new
report and counts only against a much higher flood cap (`MESSAGE_USER`). A
refused text gets one reply, named by its template with the values it needs; a
taken one becomes a ticket (`take_report`) or joins the customer's own ticket:
as a reply to a staff answer (`take_reply`), or as more of the report they have
just sent (`take_follow_up`: a text within `FOLLOW_UP_MINUTES` of the report's
last message; an older customer presses Enter mid-sentence, and Telegram cuts a
long paste in parts). Each answer says whether the text sounds urgent
(`core.urgency`): the customer is then told whom to call at once.

What a text typed beside an open ticket is (`read`): a request of its own (a
button's words, "válasz erre"), a new report ("panaszt szeretnék tenni…"), an
aside (thanks, a cancel word), or a message for the ticket. The chat asks or
joins by it; `content_words` tells whether a text says more than a button's
words (then it is kept as the report's text, not asked for again).

Each is one transaction: the count against the allowance, the ticket and the
entry in the effect journal (`core.journal`), so the same message handled
again after a crash is answered with the ticket it made, not made twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from core import intents, journal, throttle, tickets
from core.accounts import wait_minutes
from core.db import Database, Queryable
from core.tickets import TELEGRAM_TEXT_LIMIT
from core.urgency import kinds_in_order, urgent_kinds
from storage import tickets as store
from storage.tickets import Ticket

MAX_TEXT = TELEGRAM_TEXT_LIMIT
# A text this soon after the report's last message is more of that report.
FOLLOW_UP_MINUTES = 5
FOLLOW_UP_SECONDS = FOLLOW_UP_MINUTES * 60.0
# A plain text this soon after a staff answer may be meant for it (the chat asks).
ANSWER_RECENT_DAYS = 3
# "Válasz erre" typed reaches the newest answer of this many days.
ANSWER_REPLY_DAYS = 30
# A typed text with this many words beside a button's words says something of its own.
CONTENT_WORDS = 2

# Replies and more of a report are not new reports: only a flood cap, far above a person.
MESSAGE_USER = throttle.Rule("report-message:tg", 60, throttle.HOUR, throttle.HOUR)


@dataclass(frozen=True)
class TextRule:
    """How short a text may be, and what the customer hears when it is shorter."""

    min_length: int
    too_short: str  # chat template
    allowance: throttle.Rule  # how many such texts a Telegram user may send an hour


# A report says what is wrong: three characters at least.
REPORT = TextRule(min_length=3, too_short="report/too_short", allowance=throttle.REPORT_USER)
# More of a report: as long as a report, but it opens nothing new.
FOLLOW_UP = TextRule(min_length=3, too_short="report/too_short", allowance=MESSAGE_USER)
# A reply may be a word ("Köszönöm"); only a message without text is refused: we read text.
REPLY = TextRule(min_length=1, too_short="common/text_only", allowance=MESSAGE_USER)


@dataclass(frozen=True)
class Refusal:
    """Why a text was not taken: the chat template to answer with, and its values."""

    template: str
    values: dict[str, int] = field(default_factory=dict)


async def refusal(
    db: Queryable, rule: TextRule, text: str, *, telegram_user_id: int, now: float
) -> Refusal | None:
    """None when the (stripped) text may become a report or reply; else why not.

    A text within the limits counts against the rule's hourly allowance.
    """
    if len(text) < rule.min_length:
        return Refusal(rule.too_short)
    if len(text) > MAX_TEXT:
        return Refusal("report/too_long", {"limit": MAX_TEXT, "length": len(text)})
    until = await throttle.use(db, rule.allowance, f"tg:{telegram_user_id}", now)
    if until:
        return Refusal("report/wait", {"minutes": wait_minutes(until, now)})
    return None


def urgency(text: str) -> list[str]:
    """What kinds of emergency the text speaks of (`core.urgency.KINDS` order)."""
    return kinds_in_order(urgent_kinds(text))


@dataclass(frozen=True)
class Report:
    """A report typed in the chat, opened as a ticket."""

    ticket: Ticket
    urgent: list[str]  # the kinds of emergency it speaks of (`core.urgency`); empty if none


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
) -> Refusal | Report:
    """A report typed in the chat: why it is refused (`refusal`), or the ticket it opened
    (answered back into the chat; a ticket of the message `once` opened before, if it did).
    """
    async with db.transaction() as tx:
        opened = await journal.done(tx, once, "report")
        ticket = await tickets.get(tx, opened["ticket"]) if opened else None
        if ticket is not None:
            return Report(ticket, urgency(text))
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
    return Report(ticket, urgency(text))


@dataclass(frozen=True)
class ChatReply:
    """A customer's message added to their ticket from the chat."""

    ticket: Ticket
    reopened: bool
    urgent: list[str] = field(default_factory=list)  # as `Report.urgent`


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
            return await _added_before(tx, added, text)
        return await _add(tx, REPLY, ticket_id, text, telegram_user_id, once, now)


async def take_follow_up(
    db: Database,
    ticket_id: int,
    text: str,
    *,
    telegram_user_id: int,
    since: float,
    once: str | None = None,
    now: float,
) -> Refusal | ChatReply | None:
    """A text the customer sent after their chat report, whose last message came at `since`:
    more of that report when it comes within `FOLLOW_UP_MINUTES`, added to its ticket like a
    reply (`take_reply`; once for the message `once`), or why it is refused.

    None when it is not more of the report: later than that, shorter than a report
    may be ("ok"), or the ticket is not this Telegram user's.
    """
    async with db.transaction() as tx:
        added = await journal.done(tx, once, "reply")
        if added is not None:
            return await _added_before(tx, added, text)
        if now - since > FOLLOW_UP_SECONDS or len(text) < REPORT.min_length:
            return None
        return await _add(tx, FOLLOW_UP, ticket_id, text, telegram_user_id, once, now)


async def _added_before(tx: Queryable, added: dict[str, object], text: str) -> ChatReply | None:
    """What the message added before (handled again after a crash), answered as then."""
    ticket_id = added["ticket"]
    assert isinstance(ticket_id, int)
    ticket = await tickets.get(tx, ticket_id)
    return ChatReply(ticket, bool(added["reopened"]), urgency(text)) if ticket else None


async def _add(
    tx: Queryable,
    rule: TextRule,
    ticket_id: int,
    text: str,
    telegram_user_id: int,
    once: str | None,
    now: float,
) -> Refusal | ChatReply | None:
    """Inside the caller's transaction: the text joins the user's own chat ticket, counted
    against the allowance and noted in the journal; or why not (None: not their ticket)."""
    refused = await refusal(tx, rule, text, telegram_user_id=telegram_user_id, now=now)
    if refused:
        return refused
    ticket = await tickets.get(tx, ticket_id)
    # Their own ticket: one they reported in the chat, or (staff merged their chat report into
    # their mail one) one that knows their chat now.
    if ticket is None or ticket.telegram_user_id != telegram_user_id:
        return None
    reopened = await tickets.add_customer_message(
        tx, ticket, body=text, new_text=text, actor=f"tg:{telegram_user_id}", now=now
    )
    current = await tickets.get(tx, ticket_id)
    await journal.record(tx, once, "reply", now, ticket=ticket_id, reopened=reopened)
    assert current is not None
    return ChatReply(current, reopened, urgency(text))


# --- what a text typed beside a ticket is -------------------------------------------------------


class Reading(Enum):
    """What a text typed beside the customer's ticket (just sent, or just answered) is."""

    REQUEST = "request"  # a button's words ("a jelszavamat szeretném megváltoztatni"): do it
    REPLY = "reply"  # "válasz erre": a reply to the newest staff answer
    NEW_REPORT = "new_report"  # report words ("panaszt szeretnék tenni…"): new, or more? ask
    ASIDE = "aside"  # thanks, a greeting, a cancel word, a word too short: not for a ticket
    MESSAGE = "message"  # words of its own: more for the ticket


# "Válasz erre" (the answer's button) typed, and how else people say they reply.
_REPLY_WORDS = frozenset(
    {
        "valasz erre",
        "valasz",
        "valaszolok",
        "valaszolnek",
        "valaszolni szeretnek",
        "valaszolni szeretnek erre",
        "valasz a valaszra",
        "valaszolok erre",
        "valasz az uzenetre",
    }
)


def asks_to_reply(text: str) -> bool:
    """Whether the text only says the customer wants to reply to an answer ("Válasz erre")."""
    return intents.normalise(text) in _REPLY_WORDS


def content_words(text: str) -> list[str]:
    """The words of a text (normalised) that no phrase of the intents vocabulary explains:
    what the customer says beside a button's, polite or friendly words."""
    tokens = intents.normalise(text).split()
    vocab = intents.vocabulary()
    covered = [False] * len(tokens)
    for start, token in enumerate(tokens):
        for phrase in vocab.starting_with(token):
            if phrase.matches_at(tokens, start):
                for i in range(start, start + len(phrase.words)):
                    covered[i] = True
    return [token for token, done in zip(tokens, covered, strict=True) if not done]


def says_more(text: str) -> bool:
    """Whether a text says more than a button's words ("folyik a víz mindenhol, mit
    csináljak"): then it is the report's text, not a request for the report's prompt."""
    return len(content_words(text)) >= CONTENT_WORDS or bool(urgent_kinds(text))


def read(text: str, *, logged_in: bool) -> Reading:
    """What a text typed beside the customer's ticket is (see `Reading`)."""
    if asks_to_reply(text):
        return Reading.REPLY
    understood = intents.understand(text, logged_in=logged_in)
    if understood.kind in (intents.Kind.CANCEL, intents.Kind.SOCIAL):
        return Reading.ASIDE
    if understood.kind in (intents.Kind.INTENT, intents.Kind.CHOICE) and not understood.long:
        if "report" in understood.intents and not urgent_kinds(text):
            return Reading.NEW_REPORT
        if "report" not in understood.intents and len(content_words(text)) < CONTENT_WORDS:
            return Reading.REQUEST
    if len(text.strip()) < REPORT.min_length:
        return Reading.ASIDE
    return Reading.MESSAGE


async def answered_ticket(
    db: Queryable, telegram_user_id: int, now: float, *, days: int, open_only: bool
) -> Ticket | None:
    """The user's chat ticket with the newest staff answer of the last `days` days (only an
    open one when `open_only`), or None."""
    return await store.latest_answered(
        db, telegram_user_id, now - days * 86400.0, open_only=open_only
    )

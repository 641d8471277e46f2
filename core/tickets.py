"""Tickets: every report, from the chat or by mail, gets a number at once.

Numbers are `PK-000123`; staff have `answer_days` (15 by Hungarian law) to
answer. The chat, the mail worker, the staff chat and the command line all
open, thread, answer and close tickets through these functions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.mail.text import shorten
from core.texts import render
from core.urgency import urgent_kinds
from storage import audit
from storage import tickets as store
from storage.db import Queryable

# Telegram's own limit of a message's text: a customer's report or reply may be this long
# (a longer paste arrives split into several messages, which join one ticket).
TELEGRAM_TEXT_LIMIT = 4096
# The most a clerk's answer to a chat ticket may hold: it reaches the customer framed
# (number, greeting, the reply hint), and the whole must fit in Telegram's 4096.
MAX_CHAT_TEXT = 3500

DAY = 86400.0
SUBJECT_MAX = 120

# --- ticket numbers ------------------------------------------------------------------
# We write one form, `PK-000123` (`[#PK-000123]` in our subjects), and read back
# what staff type and what mail programs pass on, each pattern as loose as its source.

# A whole token a person typed to name a ticket: `PK-000123`, `pk000123`, `#PK-123`.
MAX_NUMBER_DIGITS = 9  # ticket numbers, positions and pages: a longer one is no one's
_TYPED_NUMBER = re.compile(r"^\s*#?\s*PK-?(\d{1,6})\s*$", re.IGNORECASE)
# A token marked as a ticket number (`#12`, `PK-12`) rather than a bare number.
_NUMBER_MARK = re.compile(r"^(?:#|pk-?)", re.IGNORECASE)
# A number anywhere in a subject, as mail programs pass it on (word dashes, a space).
_NUMBER_IN_SUBJECT = re.compile(
    r"(?<![A-Za-z0-9])PK[-\u2010\u2011\u2013 ]?(\d{6,9})(?!\d)", re.IGNORECASE
)
# Our subject tag, however a mail program spaced it: `[#PK-000123]`, `[ PK 42 ]`.
_SUBJECT_TAG = re.compile(r"\[\s*#?\s*PK[-\s]?\d{1,9}\s*\]", re.IGNORECASE)


def ticket_number(ticket_id: int) -> str:
    """123 -> `PK-000123`."""
    return f"PK-{ticket_id:06d}"


def parse_ticket_number(text: str) -> int | None:
    """`PK-000123`, `pk000123`, `#PK-123` or `123` -> 123; None if not a number."""
    match = _TYPED_NUMBER.match(text)
    if match:
        return int(match[1])
    digits = text.strip()
    # A number longer than any ticket's is nobody's (and would not fit SQLite's integers).
    return int(digits) if digits.isdigit() and len(digits) <= MAX_NUMBER_DIGITS else None


def small_number(text: str) -> int | None:
    """A typed position or page (`3`), or None when it is not a plain, reasonable number."""
    digits = text.strip()
    return int(digits) if digits.isdigit() and len(digits) <= MAX_NUMBER_DIGITS else None


def marked_as_ticket_number(token: str) -> bool:
    """`#12`, `PK-12`, `pk12`: the token says it is a ticket number, not just any number."""
    return _NUMBER_MARK.match(token.strip()) is not None


def ticket_numbers_in_subject(subject: str) -> list[str]:
    """`[#PK-000123]`, `PK-000123`, `pk000123` -> `["PK-000123"]`, in order, no duplicates."""
    found: list[str] = []
    for match in _NUMBER_IN_SUBJECT.finditer(subject or ""):
        number = ticket_number(int(match.group(1)))
        if number not in found:
            found.append(number)
    return found


def untagged_subject(subject: str) -> str:
    """The subject without our ticket tags, on one line (a reply gets its tag anew)."""
    return " ".join(_SUBJECT_TAG.sub(" ", subject).split())


def subject_from_text(text: str) -> str:
    """A chat report has no subject: its first line, cut at a word with "…" when long."""
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return shorten(first, SUBJECT_MAX)


@dataclass(frozen=True)
class Deadline:
    due_at: float
    days_left: int  # negative when past
    near: bool  # within `warn_days` of it, or past


def deadline(ticket: store.Ticket, answer_days: int, now: float, warn_days: int = 3) -> Deadline:
    """The answer deadline counted from the report's arrival."""
    due_at = ticket.created_at + answer_days * DAY
    days_left = int((due_at - now) // DAY)
    return Deadline(due_at, days_left, due_at - now <= warn_days * DAY)


async def open_ticket(
    tx: Queryable,
    *,
    channel: str,
    subject: str,
    body: str,
    new_text: str,
    actor: str,
    customer_id: str | None = None,
    email: str | None = None,
    telegram_user_id: int | None = None,
    telegram_chat_id: int | None = None,
    mail_message_id: str | None = None,
    inbound_mail_id: int | None = None,
    now: float,
) -> store.Ticket:
    """Open a ticket with its first message and queue its staff announcement.

    A report that sounds urgent (`core.urgency`, its subject or what the customer
    wrote: `new_text`, never a quote) is marked so. Runs inside the caller's
    transaction (`tx`), so the ticket, its message and whatever the caller records
    beside it commit together.
    """
    ticket_id = await store.create(
        tx,
        channel=channel,
        subject=subject.strip() or render("tickets/no_subject.txt"),
        customer_id=customer_id,
        email=email,
        telegram_user_id=telegram_user_id,
        telegram_chat_id=telegram_chat_id,
        urgent=bool(urgent_kinds(subject, new_text)),
        now=now,
    )
    await store.add_message(
        tx,
        ticket_id,
        direction="in",
        author="customer",
        body=body,
        new_text=new_text,
        mail_message_id=mail_message_id,
        inbound_mail_id=inbound_mail_id,
        now=now,
    )
    await store.announce(tx, ticket_id, "new", now)
    await audit.record(tx, now, actor, "ticket_opened", ticket_number(ticket_id), channel)
    ticket = await store.get(tx, ticket_id)
    assert ticket is not None
    return ticket


async def add_customer_message(
    tx: Queryable,
    ticket: store.Ticket,
    *,
    body: str,
    new_text: str,
    actor: str,
    mail_message_id: str | None = None,
    inbound_mail_id: int | None = None,
    reopen: bool = True,
    now: float,
    announce: bool = True,
) -> bool:
    """Thread a customer's further message into a ticket; a closed one reopens.

    Returns True when the ticket was reopened. `reopen=False` keeps a closed
    ticket closed. Staff hear of it unless `announce=False` (a flooded ticket). A
    message that sounds urgent (`new_text`, what the customer wrote now) marks the
    ticket urgent.
    """
    await store.add_message(
        tx,
        ticket.id,
        direction="in",
        author="customer",
        body=body,
        new_text=new_text,
        mail_message_id=mail_message_id,
        inbound_mail_id=inbound_mail_id,
        now=now,
    )
    # A machine's mail (reopen=False: a bounce, an out-of-office note) may carry our own
    # words back ("csőtörés … esetén hívja"): it never makes a ticket urgent.
    if reopen and not ticket.urgent and urgent_kinds(new_text):
        await store.mark_urgent(tx, ticket.id)
    reopened = reopen and ticket.status == "closed"
    if reopened:
        await store.set_status(tx, ticket.id, "open", now)
        await audit.record(tx, now, actor, "ticket_reopened", ticket_number(ticket.id))
    if announce or reopened:
        await store.announce(tx, ticket.id, "reopened" if reopened else "message", now)
    return reopened


async def get(db: Queryable, number: int) -> store.Ticket | None:
    """A ticket by its number."""
    return await store.get(db, number)


# --- the customer's reply, in the chat, to a staff answer -------------------------------


async def ticket_of_customer_post(db: Queryable, chat_id: int, message_id: int) -> int | None:
    """The ticket a bot message in a customer's chat belongs to (a staff answer), if any."""
    return await store.customer_post_ticket(db, chat_id, message_id)


async def record_customer_post(
    db: Queryable, chat_id: int, message_id: int, ticket_id: int
) -> None:
    """Remember that this bot message in the customer's chat belongs to the ticket."""
    await store.add_customer_post(db, chat_id, message_id, ticket_id)

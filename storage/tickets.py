"""Tickets (customer reports) and their messages."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from storage.db import Queryable

# The change topic (`Database.listen`) of work for the staff announcer: a ticket event
# to announce, or a staff answer to deliver to a customer's chat.
STAFF_TOPIC = "staff"


@dataclass(frozen=True)
class Ticket:
    id: int
    channel: str  # mail | telegram
    status: str  # open | closed
    subject: str
    customer_id: str | None
    email: str | None
    telegram_user_id: int | None
    telegram_chat_id: int | None
    created_at: float
    updated_at: float
    closed_at: float | None
    reopened_at: float | None
    urgent: bool = False  # it sounded urgent (core.urgency): staff see it marked
    holder_id: int | None = None  # the staff member (Telegram user id) who took it
    merged_into: int | None = None  # the older ticket this one was merged into (issue 17)


# The kinds of machine mail kept on a ticket as a note (`ticket_messages.machine`).
MACHINE_KINDS = ("bounce", "delayed", "delivered", "receipt", "auto_reply", "challenge", "echo")


@dataclass(frozen=True)
class TicketMessage:
    id: int
    ticket_id: int
    direction: str  # in | out
    author: str  # 'customer', 'machine', 'auto' or a staff member
    body: str
    new_text: str
    mail_message_id: str | None
    created_at: float
    machine: str | None = None  # a machine note's kind (MACHINE_KINDS); None for a person


_TICKET = (
    "id, channel, status, subject, customer_id, email, telegram_user_id, telegram_chat_id,"
    " created_at, updated_at, closed_at, reopened_at, urgent, holder_id, merged_into"
)
# For other modules selecting whole tickets (`ticket_from_row` reads a row of them).
TICKET_COLUMNS = _TICKET
_TICKET_OF_T = ", ".join(f"t.{column}" for column in _TICKET.split(", "))
_MESSAGE = "id, ticket_id, direction, author, body, new_text, mail_message_id, created_at, machine"
_MESSAGE_OF_M = ", ".join(f"m.{column}" for column in _MESSAGE.split(", "))


def ticket_from_row(row: Sequence[Any]) -> Ticket:
    """A ticket from a row of `_TICKET`'s columns (the flag stored as 0 or 1)."""
    ticket = Ticket(*row)
    return replace(ticket, urgent=bool(ticket.urgent))


async def create(
    db: Queryable,
    *,
    channel: str,
    subject: str,
    customer_id: str | None,
    email: str | None,
    telegram_user_id: int | None,
    telegram_chat_id: int | None,
    urgent: bool = False,
    now: float,
) -> int:
    return await db.insert(
        "INSERT INTO tickets(channel, status, subject, customer_id, email, telegram_user_id,"
        " telegram_chat_id, urgent, created_at, updated_at)"
        " VALUES (?, 'open', ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            channel,
            subject,
            customer_id,
            email,
            telegram_user_id,
            telegram_chat_id,
            int(urgent),
            now,
            now,
        ),
    )


async def get(db: Queryable, ticket_id: int, *, follow: bool = True) -> Ticket | None:
    """The ticket with this number; a merged one's number gives the ticket it joined
    (unless not to `follow`), so a reply to either number lands in one."""
    row = await db.fetch_one(f"SELECT {_TICKET} FROM tickets WHERE id = ?", (ticket_id,))
    ticket = ticket_from_row(row) if row else None
    for _ in range(10):  # merged into one merged later: a short chain, never a loop
        if ticket is None or not follow or ticket.merged_into is None:
            break
        row = await db.fetch_one(
            f"SELECT {_TICKET} FROM tickets WHERE id = ?", (ticket.merged_into,)
        )
        if row is None:  # the ticket it joined was purged
            break
        ticket = ticket_from_row(row)
    return ticket


async def latest_answered(
    db: Queryable, telegram_user_id: int, since: float, *, open_only: bool
) -> Ticket | None:
    """The Telegram user's chat ticket with the newest staff answer given since `since`
    (only an open one when `open_only`), or None."""
    columns = ", ".join(f"t.{name.strip()}" for name in _TICKET.split(","))
    row = await db.fetch_one(
        f"SELECT {columns} FROM ticket_messages m JOIN tickets t ON t.id = m.ticket_id"
        " WHERE t.telegram_user_id = ? AND t.channel = 'telegram' AND m.direction = 'out'"
        " AND m.author <> 'auto' AND m.created_at >= ? AND (? = 0 OR t.status = 'open')"
        " ORDER BY m.created_at DESC, m.id DESC LIMIT 1",
        (telegram_user_id, since, int(open_only)),
    )
    return ticket_from_row(row) if row else None


async def add_message(
    db: Queryable,
    ticket_id: int,
    *,
    direction: str,
    author: str,
    body: str,
    new_text: str,
    mail_message_id: str | None,
    inbound_mail_id: int | None,
    now: float,
    machine: str | None = None,
) -> int:
    """Add a message to a ticket's thread; `machine` names a machine note's kind."""
    message_id = await db.insert(
        "INSERT INTO ticket_messages(ticket_id, direction, author, body, new_text,"
        " mail_message_id, inbound_mail_id, created_at, machine)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            ticket_id,
            direction,
            author,
            body,
            new_text,
            mail_message_id,
            inbound_mail_id,
            now,
            machine,
        ),
    )
    await db.execute("UPDATE tickets SET updated_at = ? WHERE id = ?", (now, ticket_id))
    return message_id


async def mark_urgent(db: Queryable, ticket_id: int) -> bool:
    """Mark the ticket urgent; True when it was not yet."""
    changed = await db.execute(
        "UPDATE tickets SET urgent = 1 WHERE id = ? AND urgent = 0", (ticket_id,)
    )
    return bool(changed)


async def set_status(db: Queryable, ticket_id: int, status: str, now: float) -> None:
    """Open or close; remembers when it was closed or reopened."""
    if status == "closed":
        await db.execute(
            "UPDATE tickets SET status = 'closed', closed_at = ?, updated_at = ? WHERE id = ?",
            (now, now, ticket_id),
        )
    else:
        await db.execute(
            "UPDATE tickets SET status = 'open', reopened_at = ?, updated_at = ? WHERE id = ?",
            (now, now, ticket_id),
        )


async def messages(db: Queryable, ticket_id: int) -> list[TicketMessage]:
    rows = await db.fetch_all(
        f"SELECT {_MESSAGE} FROM ticket_messages WHERE ticket_id = ? ORDER BY id", (ticket_id,)
    )
    return [TicketMessage(*row) for row in rows]


async def by_mail_message_ids(db: Queryable, message_ids: list[str]) -> Ticket | None:
    """The ticket one of these Message-IDs (ours or the customer's) belongs to."""
    if not message_ids:
        return None
    marks = ",".join("?" * len(message_ids))
    row = await db.fetch_one(
        f"SELECT t.{_TICKET.replace(', ', ', t.')} FROM ticket_messages m"
        f" JOIN tickets t ON t.id = m.ticket_id WHERE m.mail_message_id IN ({marks})"
        " ORDER BY m.id DESC LIMIT 1",
        message_ids,
    )
    return ticket_from_row(row) if row else None


async def open_tickets(db: Queryable, offset: int, limit: int) -> list[Ticket]:
    """Open tickets, oldest first."""
    rows = await db.fetch_all(
        f"SELECT {_TICKET} FROM tickets WHERE status = 'open' ORDER BY created_at, id"
        " LIMIT ? OFFSET ?",
        (limit, offset),
    )
    return [ticket_from_row(row) for row in rows]


async def all_tickets(db: Queryable, offset: int, limit: int) -> list[Ticket]:
    """Every ticket, oldest first."""
    rows = await db.fetch_all(
        f"SELECT {_TICKET} FROM tickets ORDER BY created_at, id LIMIT ? OFFSET ?", (limit, offset)
    )
    return [ticket_from_row(row) for row in rows]


async def count_open(db: Queryable) -> int:
    return int(await db.fetch_value("SELECT count(*) FROM tickets WHERE status = 'open'"))


async def latest_message_id(db: Queryable, ticket_id: int) -> str | None:
    """The newest Message-ID in the ticket's thread (what an answer replies to)."""
    value: str | None = await db.fetch_value(
        "SELECT mail_message_id FROM ticket_messages WHERE ticket_id = ?"
        " AND mail_message_id IS NOT NULL ORDER BY id DESC LIMIT 1",
        (ticket_id,),
    )
    return value


async def announce(
    db: Queryable, ticket_id: int, event: str, now: float, message_id: int | None = None
) -> None:
    """Queue a staff-chat announcement of a ticket event (marks `STAFF_TOPIC` changed).

    It is about the ticket message `message_id`; by default the ticket's newest
    incoming message (the one just added, as every caller announces right after).
    """
    await db.execute(
        "INSERT INTO staff_announcements(ticket_id, event, created_at, message_id)"
        " VALUES (?, ?, ?, coalesce(?, (SELECT max(id) FROM ticket_messages"
        " WHERE ticket_id = ? AND direction = 'in')))",
        (ticket_id, event, now, message_id, ticket_id),
    )
    db.changed(STAFF_TOPIC)


async def pending_announcements(db: Queryable, limit: int = 50) -> list[tuple[int, int, str]]:
    """(announcement id, ticket id, event) not yet posted, oldest first."""
    rows = await db.fetch_all(
        "SELECT id, ticket_id, event FROM staff_announcements WHERE sent_at IS NULL"
        " ORDER BY id LIMIT ?",
        (limit,),
    )
    return [(row[0], row[1], row[2]) for row in rows]


async def announcement_sent(db: Queryable, announcement_id: int, now: float) -> None:
    await db.execute(
        "UPDATE staff_announcements SET sent_at = ? WHERE id = ?", (now, announcement_id)
    )


# --- mail that is not a customer speaking, and bursts of mail ----------------------------


async def our_message(db: Queryable, mail_message_id: str) -> TicketMessage | None:
    """Our own message (an 'out' one: an automatic answer or a clerk's) with this Message-ID."""
    row = await db.fetch_one(
        f"SELECT {_MESSAGE} FROM ticket_messages WHERE mail_message_id = ? AND direction = 'out'"
        " ORDER BY id DESC LIMIT 1",
        (mail_message_id,),
    )
    return TicketMessage(*row) if row else None


async def customer_mails_since(
    db: Queryable, ticket_id: int, since: float, *, at_most: int = 100
) -> int:
    """How many customer mails (machine notes aside) the ticket got at or after `since`,
    counted up to `at_most` (a flooded ticket holds thousands). Only mails: the chat
    messages of a ticket merged with a chat report are no flood of mail."""
    return int(
        await db.fetch_value(
            "SELECT count(*) FROM (SELECT 1 FROM ticket_messages WHERE ticket_id = ?"
            " AND direction = 'in' AND machine IS NULL AND mail_message_id IS NOT NULL"
            " AND created_at >= ? LIMIT ?)",
            (ticket_id, since, at_most),
        )
    )


async def announced_since(db: Queryable, ticket_id: int, event: str, since: float) -> bool:
    """Whether the ticket's `event` was announced (queued) at or after `since`."""
    value = await db.fetch_value(
        "SELECT 1 FROM staff_announcements WHERE ticket_id = ? AND event = ?"
        " AND created_at >= ? LIMIT 1",
        (ticket_id, event, since),
    )
    return value is not None


@dataclass(frozen=True)
class RecentMail:
    """An open mail ticket and one of its recent customer messages (for the flood guard)."""

    ticket: Ticket
    text: str  # the message's new text
    at: float  # when it came


async def recent_mail_tickets(
    db: Queryable,
    since: float,
    *,
    email: str | None = None,
    domain: str | None = None,
    limit: int = 20,
) -> list[RecentMail]:
    """Open mail tickets of an owner address (or of any address at `domain`) with their
    customer messages that came at or after `since`, newest message first (a ticket
    once per message, at most `limit` rows: how many came, up to `limit`, and which)."""
    where, value = _owner_filter(email, domain)
    rows = await db.fetch_all(
        # `+t.status`: not by the open tickets' index, which holds every open ticket.
        f"SELECT {_TICKET_OF_T}, m.new_text, m.created_at {_RECENT_FROM}"
        f" AND +t.status = 'open' AND {where} ORDER BY m.created_at DESC, m.id DESC LIMIT ?",
        (since, value, limit),
    )
    return [RecentMail(ticket_from_row(row[:-2]), row[-2], row[-1]) for row in rows]


# Customer messages by mail since a moment, read newest first through the partial index
# on their time (migration 0009), so a flood window costs what it holds, not the table.
_RECENT_FROM = (
    "FROM ticket_messages m JOIN tickets t ON t.id = m.ticket_id"
    " WHERE m.direction = 'in' AND m.machine IS NULL AND m.created_at >= ?"
    " AND t.channel = 'mail'"
)


def _owner_filter(email: str | None, domain: str | None) -> tuple[str, str]:
    """The WHERE condition on `tickets t` for an owner address or a domain, and its value."""
    if email is not None:
        return "t.email = ? COLLATE NOCASE", email
    if domain is not None:
        return "t.email LIKE ? ESCAPE '\\'", "%@" + _like_escape(domain)
    raise ValueError("an email or a domain is needed")


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# --- staff work: lists, threads, posts, answers to the Telegram chat -------------------


async def count_all(db: Queryable) -> int:
    """Every ticket, open or closed."""
    return int(await db.fetch_value("SELECT count(*) FROM tickets"))


@dataclass(frozen=True)
class ParentMail:
    """The customer's newest mail in a ticket: what a staff answer replies to."""

    message_id: str
    raw: bytes | None  # the mail as received, when it came through the inbox


async def latest_customer_mail(db: Queryable, ticket_id: int) -> ParentMail | None:
    """The newest customer message of the ticket that travelled by mail (machine notes
    such as a read receipt or a bounce are not the customer's)."""
    row = await db.fetch_one(
        "SELECT m.mail_message_id, i.raw FROM ticket_messages m"
        " LEFT JOIN inbound_mails i ON i.id = m.inbound_mail_id"
        " WHERE m.ticket_id = ? AND m.direction = 'in' AND m.mail_message_id IS NOT NULL"
        " AND m.machine IS NULL ORDER BY m.id DESC LIMIT 1",
        (ticket_id,),
    )
    return ParentMail(row[0], bytes(row[1]) if row[1] is not None else None) if row else None


async def mail_message_ids(db: Queryable, ticket_id: int) -> list[str]:
    """Every Message-ID of the ticket's thread (ours and the customer's), oldest first."""
    rows = await db.fetch_all(
        "SELECT mail_message_id FROM ticket_messages WHERE ticket_id = ?"
        " AND mail_message_id IS NOT NULL ORDER BY id",
        (ticket_id,),
    )
    return [row[0] for row in rows]


async def announced_message(
    db: Queryable, announcement_id: int, ticket_id: int
) -> TicketMessage | None:
    """The ticket message an announcement is about.

    Each announcement names its message; should one not (a row the migration
    could not place), the ticket's newest incoming message stands in.
    """
    row = await db.fetch_one(
        f"SELECT {_MESSAGE_OF_M} FROM staff_announcements a"
        " JOIN ticket_messages m ON m.id = a.message_id WHERE a.id = ?",
        (announcement_id,),
    )
    if row is None:
        row = await db.fetch_one(
            f"SELECT {_MESSAGE} FROM ticket_messages WHERE ticket_id = ? AND direction = 'in'"
            " ORDER BY id DESC LIMIT 1",
            (ticket_id,),
        )
    return TicketMessage(*row) if row else None


async def add_staff_post(db: Queryable, chat_id: int, message_id: int, ticket_id: int) -> None:
    """Remember a staff-chat message about a ticket (a reply to it answers the ticket)."""
    await db.execute(
        "INSERT OR REPLACE INTO staff_posts(chat_id, message_id, ticket_id) VALUES (?, ?, ?)",
        (chat_id, message_id, ticket_id),
    )


async def staff_post_ticket(db: Queryable, chat_id: int, message_id: int) -> int | None:
    """The ticket a staff-chat message is about, if it is one of ours."""
    value: int | None = await db.fetch_value(
        "SELECT ticket_id FROM staff_posts WHERE chat_id = ? AND message_id = ?",
        (chat_id, message_id),
    )
    return value


async def add_customer_post(db: Queryable, chat_id: int, message_id: int, ticket_id: int) -> None:
    """Remember a message in a customer's chat that belongs to a ticket."""
    await db.execute(
        "INSERT OR REPLACE INTO customer_posts(chat_id, message_id, ticket_id) VALUES (?, ?, ?)",
        (chat_id, message_id, ticket_id),
    )


async def customer_post_ticket(db: Queryable, chat_id: int, message_id: int) -> int | None:
    """The ticket a message in a customer's chat belongs to, if any."""
    value: int | None = await db.fetch_value(
        "SELECT ticket_id FROM customer_posts WHERE chat_id = ? AND message_id = ?",
        (chat_id, message_id),
    )
    return value


@dataclass(frozen=True)
class TelegramAnswer:
    """A staff answer waiting for (or done with) the customer's Telegram chat."""

    id: int
    ticket_id: int
    chat_id: int
    text: str
    status: str  # queued | sent | failed
    attempts: int
    next_attempt_at: float
    last_error: str | None
    created_at: float
    sent_at: float | None
    sent_message_id: int | None


_TELEGRAM_ANSWER = (
    "id, ticket_id, chat_id, text, status, attempts, next_attempt_at, last_error, created_at,"
    " sent_at, sent_message_id"
)


async def queue_telegram_answer(
    db: Queryable, ticket_id: int, chat_id: int, text: str, now: float
) -> int:
    """Queue a staff answer for the customer's chat, due at once (marks `STAFF_TOPIC`)."""
    answer_id = await db.insert(
        "INSERT INTO telegram_outbox(ticket_id, chat_id, text, next_attempt_at, created_at)"
        " VALUES (?, ?, ?, ?, ?)",
        (ticket_id, chat_id, text, now, now),
    )
    db.changed(STAFF_TOPIC)
    return answer_id


async def due_telegram_answers(db: Queryable, now: float, limit: int = 20) -> list[TelegramAnswer]:
    """Queued answers not tried yet, or whose retry is due, oldest first.

    A first attempt is always due, whatever the clock of the process that
    queued it said (the command line may run on another host).
    """
    rows = await db.fetch_all(
        f"SELECT {_TELEGRAM_ANSWER} FROM telegram_outbox WHERE status = 'queued'"
        " AND (attempts = 0 OR next_attempt_at <= ?) ORDER BY id LIMIT ?",
        (now, limit),
    )
    return [TelegramAnswer(*row) for row in rows]


async def telegram_answers_of(db: Queryable, ticket_id: int) -> list[TelegramAnswer]:
    """A ticket's Telegram answers, oldest first."""
    rows = await db.fetch_all(
        f"SELECT {_TELEGRAM_ANSWER} FROM telegram_outbox WHERE ticket_id = ? ORDER BY id",
        (ticket_id,),
    )
    return [TelegramAnswer(*row) for row in rows]


async def telegram_answer_sent(db: Queryable, answer_id: int, message_id: int, now: float) -> None:
    await db.execute(
        "UPDATE telegram_outbox SET status = 'sent', attempts = attempts + 1, sent_at = ?,"
        " sent_message_id = ?, last_error = NULL WHERE id = ?",
        (now, message_id, answer_id),
    )


async def telegram_answer_failed(
    db: Queryable, answer_id: int, error: str, retry_at: float | None
) -> None:
    """Count a failed attempt; `retry_at` None gives the answer up ('failed')."""
    if retry_at is None:
        await db.execute(
            "UPDATE telegram_outbox SET status = 'failed', attempts = attempts + 1,"
            " last_error = ? WHERE id = ?",
            (error, answer_id),
        )
    else:
        await db.execute(
            "UPDATE telegram_outbox SET attempts = attempts + 1, last_error = ?,"
            " next_attempt_at = ? WHERE id = ?",
            (error, retry_at, answer_id),
        )

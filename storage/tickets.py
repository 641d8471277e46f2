"""Tickets (customer reports) and their messages."""

from __future__ import annotations

from dataclasses import dataclass

from storage.db import Queryable


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


@dataclass(frozen=True)
class TicketMessage:
    id: int
    ticket_id: int
    direction: str  # in | out
    author: str
    body: str
    new_text: str
    mail_message_id: str | None
    created_at: float


_TICKET = (
    "id, channel, status, subject, customer_id, email, telegram_user_id, telegram_chat_id,"
    " created_at, updated_at, closed_at, reopened_at"
)
_MESSAGE = "id, ticket_id, direction, author, body, new_text, mail_message_id, created_at"


async def create(
    db: Queryable,
    *,
    channel: str,
    subject: str,
    customer_id: str | None,
    email: str | None,
    telegram_user_id: int | None,
    telegram_chat_id: int | None,
    now: float,
) -> int:
    return await db.insert(
        "INSERT INTO tickets(channel, status, subject, customer_id, email, telegram_user_id,"
        " telegram_chat_id, created_at, updated_at) VALUES (?, 'open', ?, ?, ?, ?, ?, ?, ?)",
        (channel, subject, customer_id, email, telegram_user_id, telegram_chat_id, now, now),
    )


async def get(db: Queryable, ticket_id: int) -> Ticket | None:
    row = await db.fetch_one(f"SELECT {_TICKET} FROM tickets WHERE id = ?", (ticket_id,))
    return Ticket(*row) if row else None


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
) -> int:
    message_id = await db.insert(
        "INSERT INTO ticket_messages(ticket_id, direction, author, body, new_text,"
        " mail_message_id, inbound_mail_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (ticket_id, direction, author, body, new_text, mail_message_id, inbound_mail_id, now),
    )
    await db.execute("UPDATE tickets SET updated_at = ? WHERE id = ?", (now, ticket_id))
    return message_id


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
    return Ticket(*row) if row else None


async def open_tickets(db: Queryable, offset: int, limit: int) -> list[Ticket]:
    """Open tickets, oldest first."""
    rows = await db.fetch_all(
        f"SELECT {_TICKET} FROM tickets WHERE status = 'open' ORDER BY created_at, id"
        " LIMIT ? OFFSET ?",
        (limit, offset),
    )
    return [Ticket(*row) for row in rows]


async def all_tickets(db: Queryable, offset: int, limit: int) -> list[Ticket]:
    """Every ticket, oldest first."""
    rows = await db.fetch_all(
        f"SELECT {_TICKET} FROM tickets ORDER BY created_at, id LIMIT ? OFFSET ?", (limit, offset)
    )
    return [Ticket(*row) for row in rows]


async def count_open(db: Queryable) -> int:
    return int(await db.fetch_value("SELECT count(*) FROM tickets WHERE status = 'open'"))


async def latest_message_id(db: Queryable, ticket_id: int) -> str | None:
    """The newest Message-ID in the ticket's thread (what an answer replies to)."""
    return await db.fetch_value(
        "SELECT mail_message_id FROM ticket_messages WHERE ticket_id = ?"
        " AND mail_message_id IS NOT NULL ORDER BY id DESC LIMIT 1",
        (ticket_id,),
    )


async def announce(db: Queryable, ticket_id: int, event: str, now: float) -> None:
    """Queue a staff-chat announcement of a ticket event."""
    await db.execute(
        "INSERT INTO staff_announcements(ticket_id, event, created_at) VALUES (?, ?, ?)",
        (ticket_id, event, now),
    )


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

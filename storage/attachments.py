"""Files that came with customers' mail, numbered within their ticket."""

from __future__ import annotations

from dataclasses import dataclass

from storage.db import Queryable


@dataclass(frozen=True)
class Attachment:
    """One kept (or withheld) file of a ticket, without its content."""

    id: int
    ticket_id: int
    ticket_message_id: int | None
    position: int  # 1, 2, … within the ticket
    filename: str
    declared_type: str
    content_type: str
    size: int
    withheld: str | None  # why the content was not kept, or None
    created_at: float


_COLUMNS = (
    "id, ticket_id, ticket_message_id, position, filename, declared_type, content_type, size,"
    " withheld, created_at"
)


async def message_of_mail(db: Queryable, ticket_id: int, inbound_mail_id: int) -> int | None:
    """The ticket message a stored incoming mail became."""
    value: int | None = await db.fetch_value(
        "SELECT id FROM ticket_messages WHERE ticket_id = ? AND inbound_mail_id = ?"
        " ORDER BY id DESC LIMIT 1",
        (ticket_id, inbound_mail_id),
    )
    return value


async def add(
    db: Queryable,
    *,
    ticket_id: int,
    ticket_message_id: int | None,
    inbound_mail_id: int | None,
    filename: str,
    declared_type: str,
    content_type: str,
    size: int,
    content: bytes | None,
    withheld: str | None,
    now: float,
) -> int:
    """Keep one file as the ticket's next one; returns its position in the ticket."""
    position = int(
        await db.fetch_value(
            "SELECT coalesce(max(position), 0) + 1 FROM ticket_attachments WHERE ticket_id = ?",
            (ticket_id,),
        )
    )
    await db.execute(
        "INSERT INTO ticket_attachments(ticket_id, ticket_message_id, inbound_mail_id, position,"
        " filename, declared_type, content_type, size, content, withheld, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            ticket_id,
            ticket_message_id,
            inbound_mail_id,
            position,
            filename,
            declared_type,
            content_type,
            size,
            content,
            withheld,
            now,
        ),
    )
    return position


async def of_ticket(db: Queryable, ticket_id: int) -> list[Attachment]:
    """A ticket's files in their order, without content."""
    rows = await db.fetch_all(
        f"SELECT {_COLUMNS} FROM ticket_attachments WHERE ticket_id = ? ORDER BY position",
        (ticket_id,),
    )
    return [Attachment(*row) for row in rows]


async def get(db: Queryable, ticket_id: int, position: int) -> Attachment | None:
    """The ticket's file number `position`, without content."""
    row = await db.fetch_one(
        f"SELECT {_COLUMNS} FROM ticket_attachments WHERE ticket_id = ? AND position = ?",
        (ticket_id, position),
    )
    return Attachment(*row) if row else None


async def content(db: Queryable, attachment_id: int) -> bytes | None:
    """A kept file's bytes (None when it was withheld)."""
    value = await db.fetch_value(
        "SELECT content FROM ticket_attachments WHERE id = ?", (attachment_id,)
    )
    return bytes(value) if value is not None else None

"""Chat notices about no ticket: `staff_notices` for the staff chat (e.g. mail is
failing) and `chat_notices` for one customer's chat (e.g. their code mail could
not be delivered).

A notice is queued by whoever notices (marking the "staff" change topic, so the
bot's announcer looks at once) and marked sent by the announcer once posted; a
customer's notice is retried with back-off, or given up when the chat refuses it.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from storage.db import Queryable
from storage.tickets import STAFF_TOPIC


@dataclass(frozen=True)
class Notice:
    """One queued notice: its topic and the facts its template shows."""

    id: int
    topic: str
    details: dict[str, Any]
    created_at: float


def _notice(row: sqlite3.Row) -> Notice:
    return Notice(int(row[0]), str(row[1]), json.loads(row[2]), float(row[3]))


async def add(db: Queryable, topic: str, details: dict[str, Any], now: float) -> int:
    """Queue a notice for the staff chat; marks the "staff" topic changed."""
    notice_id = await db.insert(
        "INSERT INTO staff_notices(topic, details, created_at) VALUES (?, ?, ?)",
        (topic, json.dumps(details, ensure_ascii=False), now),
    )
    db.changed(STAFF_TOPIC)
    return notice_id


async def pending(db: Queryable, limit: int = 20) -> list[Notice]:
    """Notices not yet posted, oldest first."""
    rows = await db.fetch_all(
        "SELECT id, topic, details, created_at FROM staff_notices WHERE sent_at IS NULL"
        " ORDER BY id LIMIT ?",
        (limit,),
    )
    return [_notice(row) for row in rows]


async def mark_sent(db: Queryable, notice_id: int, now: float) -> bool:
    """The notice is in the staff chat."""
    changed = await db.execute(
        "UPDATE staff_notices SET sent_at = ? WHERE id = ? AND sent_at IS NULL", (now, notice_id)
    )
    return changed == 1


async def latest_topic(db: Queryable, topics: tuple[str, ...]) -> str | None:
    """The topic of the newest notice among `topics` (queued or posted), or None."""
    marks = ", ".join("?" for _ in topics)
    value = await db.fetch_value(
        f"SELECT topic FROM staff_notices WHERE topic IN ({marks}) ORDER BY id DESC LIMIT 1",
        topics,
    )
    return None if value is None else str(value)


# --- notices for one customer's chat ------------------------------------------------------


@dataclass(frozen=True)
class ChatNotice:
    """One queued notice for a customer's private chat."""

    id: int
    chat_id: int
    topic: str
    details: dict[str, Any]
    attempts: int
    created_at: float


def _chat_notice(row: sqlite3.Row) -> ChatNotice:
    return ChatNotice(
        int(row[0]), int(row[1]), str(row[2]), json.loads(row[3]), int(row[4]), float(row[5])
    )


async def add_for_chat(
    db: Queryable, chat_id: int, topic: str, details: dict[str, Any], now: float
) -> int:
    """Queue a notice for a customer's chat, due at once; marks the "staff" topic changed
    (the announcer delivers both kinds)."""
    notice_id = await db.insert(
        "INSERT INTO chat_notices(chat_id, topic, details, next_attempt_at, created_at)"
        " VALUES (?, ?, ?, ?, ?)",
        (chat_id, topic, json.dumps(details, ensure_ascii=False), now, now),
    )
    db.changed(STAFF_TOPIC)
    return notice_id


async def due_for_chats(db: Queryable, now: float, limit: int = 20) -> list[ChatNotice]:
    """Customers' notices due for delivery, oldest first."""
    rows = await db.fetch_all(
        "SELECT id, chat_id, topic, details, attempts, created_at FROM chat_notices"
        " WHERE status = 'queued' AND next_attempt_at <= ? ORDER BY id LIMIT ?",
        (now, limit),
    )
    return [_chat_notice(row) for row in rows]


async def of_chat(db: Queryable, chat_id: int) -> list[ChatNotice]:
    """Every notice for one chat, whatever became of it, oldest first."""
    rows = await db.fetch_all(
        "SELECT id, chat_id, topic, details, attempts, created_at FROM chat_notices"
        " WHERE chat_id = ? ORDER BY id",
        (chat_id,),
    )
    return [_chat_notice(row) for row in rows]


async def chat_notice_sent(db: Queryable, notice_id: int, now: float) -> bool:
    """The notice is in the customer's chat."""
    changed = await db.execute(
        "UPDATE chat_notices SET status = 'sent', attempts = attempts + 1, sent_at = ?,"
        " last_error = NULL WHERE id = ? AND status = 'queued'",
        (now, notice_id),
    )
    return changed == 1


async def chat_notice_failed(
    db: Queryable, notice_id: int, error: str, retry_at: float | None
) -> bool:
    """Count a failed delivery; `retry_at` None gives the notice up ('failed')."""
    changed = await db.execute(
        "UPDATE chat_notices SET attempts = attempts + 1, last_error = ?,"
        " status = CASE WHEN ? IS NULL THEN 'failed' ELSE status END,"
        " next_attempt_at = coalesce(?, next_attempt_at) WHERE id = ? AND status = 'queued'",
        (error, retry_at, retry_at, notice_id),
    )
    return changed == 1

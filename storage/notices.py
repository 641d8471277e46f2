"""The staff_notices table: staff-chat notices about no ticket (e.g. mail is failing).

A notice is queued by whoever notices (marking the "staff" change topic, so the
bot's announcer looks at once) and marked sent by the announcer once posted.
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

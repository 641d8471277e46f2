"""The outbox table: mails queued for sending, their attempts and outcomes.

A row is written once with the final, flattened message (`raw`) and status
`queued`; the mail worker moves it to `sent` or `failed`. Every status change
is guarded by `status = 'queued'`, so a row is marked sent at most once.

Marking a mail sent or failed may replace its `raw` with what is kept at rest
(a code mail keeps no code: `core.outbox.at_rest`). The replaced bytes are
overwritten on disk, not merely freed (`PRAGMA secure_delete`), and the
write-ahead log's older copy is emptied soon after (`Queryable.erased`), so
neither the database's files nor a backup of them holds them.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from storage.db import Queryable

QUEUED = "queued"
SENT = "sent"
FAILED = "failed"
STATUSES = (QUEUED, SENT, FAILED)
TOPIC = "outbox"  # the change topic (`Database.listen`) of a newly queued (or requeued) mail


@dataclass(frozen=True)
class OutboxMail:
    """One outbox row."""

    id: int
    message_id: str
    kind: str
    recipient: str
    subject: str
    raw: bytes
    ticket_id: int | None
    status: str
    attempts: int
    next_attempt_at: float
    last_error: str | None
    created_at: float
    sent_at: float | None
    account_id: int | None = None  # the account a code mail carries a code for


_COLUMNS = (
    "id, message_id, kind, recipient, subject, raw, ticket_id, status, attempts,"
    " next_attempt_at, last_error, created_at, sent_at, account_id"
)


@dataclass(frozen=True)
class OutboxEntry:
    """One outbox row as the operator lists it: everything but the message itself."""

    id: int
    kind: str
    recipient: str
    subject: str
    status: str
    attempts: int
    next_attempt_at: float
    last_error: str | None
    created_at: float
    sent_at: float | None


def _mail(row: sqlite3.Row) -> OutboxMail:
    values = list(row)
    values[5] = bytes(values[5])
    return OutboxMail(*values)


async def insert_mail(
    db: Queryable,
    *,
    message_id: str,
    kind: str,
    recipient: str,
    subject: str,
    raw: bytes,
    ticket_id: int | None,
    now: float,
    account_id: int | None = None,
) -> int:
    """Queue a flattened mail, due at once; returns its id. Marks the "outbox" topic changed.

    `account_id` names the account a code mail carries a code for.
    """
    mail_id = await db.insert(
        "INSERT INTO outbox(message_id, kind, recipient, subject, raw, ticket_id, account_id,"
        " status, attempts, next_attempt_at, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, 'queued', 0, ?, ?)",
        (message_id, kind, recipient, subject, raw, ticket_id, account_id, now, now),
    )
    db.changed(TOPIC)
    return mail_id


async def fetch_due(db: Queryable, now: float, limit: int = 50) -> list[OutboxMail]:
    """Queued mails whose next attempt is due, oldest first."""
    rows = await db.fetch_all(
        f"SELECT {_COLUMNS} FROM outbox WHERE status = 'queued' AND next_attempt_at <= ?"
        " ORDER BY created_at, id LIMIT ?",
        (now, limit),
    )
    return [_mail(row) for row in rows]


async def next_due_at(db: Queryable) -> float | None:
    """The earliest next attempt among queued mails, or None when nothing is queued."""
    value = await db.fetch_value("SELECT min(next_attempt_at) FROM outbox WHERE status = 'queued'")
    return None if value is None else float(value)


async def _erase_replaced(db: Queryable, raw: bytes | None) -> None:
    """Have SQLite overwrite the bytes a new `raw` frees, not just free them.

    Many SQLite builds do this by default, not all: asked for on the connection.
    """
    if raw is not None:
        await db.execute("PRAGMA secure_delete = ON")


async def mark_sent(
    db: Queryable, mail_id: int, now: float, note: str | None = None, raw: bytes | None = None
) -> bool:
    """Record that the server accepted the mail; `note` keeps per-recipient refusals.

    `raw`, when given, replaces the stored message (what is kept at rest).
    Returns False when the row was not queued any more (already marked).
    """
    await _erase_replaced(db, raw)
    changed = await db.execute(
        "UPDATE outbox SET status = 'sent', sent_at = ?, attempts = attempts + 1,"
        " last_error = coalesce(?, last_error), raw = coalesce(?, raw)"
        " WHERE id = ? AND status = 'queued'",
        (now, note, raw, mail_id),
    )
    if raw is not None and changed:
        db.erased()  # and out of the write-ahead log, after the commit
    return changed == 1


async def schedule_retry(db: Queryable, mail_id: int, next_attempt_at: float, error: str) -> bool:
    """Count a failed attempt and set when to try again."""
    changed = await db.execute(
        "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?, last_error = ?"
        " WHERE id = ? AND status = 'queued'",
        (next_attempt_at, error, mail_id),
    )
    return changed == 1


async def mark_failed(db: Queryable, mail_id: int, error: str, raw: bytes | None = None) -> bool:
    """Give the mail up for good; `error` is the server's reason (shown to staff).

    `raw`, when given, replaces the stored message (what is kept at rest).
    """
    await _erase_replaced(db, raw)
    changed = await db.execute(
        "UPDATE outbox SET status = 'failed', attempts = attempts + 1, last_error = ?,"
        " raw = coalesce(?, raw) WHERE id = ? AND status = 'queued'",
        (error, raw, mail_id),
    )
    if raw is not None and changed:
        db.erased()
    return changed == 1


async def requeue(db: Queryable, mail_id: int, now: float) -> bool:
    """Put a failed mail back in the queue (a staff decision), due at once, attempts reset."""
    changed = await db.execute(
        "UPDATE outbox SET status = 'queued', attempts = 0, next_attempt_at = ?"
        " WHERE id = ? AND status = 'failed'",
        (now, mail_id),
    )
    if changed:
        db.changed(TOPIC)
    return changed == 1


async def list_failed(db: Queryable, limit: int = 50, offset: int = 0) -> list[OutboxMail]:
    """Failed mails, newest first (for staff)."""
    rows = await db.fetch_all(
        f"SELECT {_COLUMNS} FROM outbox WHERE status = 'failed'"
        " ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?",
        (limit, offset),
    )
    return [_mail(row) for row in rows]


_ENTRY_COLUMNS = (
    "id, kind, recipient, subject, status, attempts, next_attempt_at, last_error,"
    " created_at, sent_at"
)


async def entries(
    db: Queryable, statuses: tuple[str, ...], limit: int = 200
) -> tuple[list[OutboxEntry], int]:
    """Mails in these statuses, oldest first, at most `limit`; and how many there are."""
    marks = ", ".join("?" for _ in statuses)
    rows = await db.fetch_all(
        f"SELECT {_ENTRY_COLUMNS} FROM outbox WHERE status IN ({marks})"
        " ORDER BY created_at, id LIMIT ?",
        (*statuses, limit),
    )
    total = await db.fetch_value(f"SELECT count(*) FROM outbox WHERE status IN ({marks})", statuses)
    return [OutboxEntry(*row) for row in rows], int(total)


async def failed_ids(db: Queryable) -> list[int]:
    """Every failed mail's id, oldest first."""
    rows = await db.fetch_all("SELECT id FROM outbox WHERE status = 'failed' ORDER BY id")
    return [int(row[0]) for row in rows]


async def count_queued(db: Queryable) -> int:
    """How many mails wait to be sent (the partial index of queued mails answers it)."""
    return int(await db.fetch_value("SELECT count(*) FROM outbox WHERE status = 'queued'"))


async def get_mail(db: Queryable, mail_id: int) -> OutboxMail | None:
    """One mail by its outbox id."""
    row = await db.fetch_one(f"SELECT {_COLUMNS} FROM outbox WHERE id = ?", (mail_id,))
    return _mail(row) if row else None


async def get_by_message_id(db: Queryable, message_id: str) -> OutboxMail | None:
    """One mail by its Message-ID (with the angle brackets, as stored)."""
    row = await db.fetch_one(f"SELECT {_COLUMNS} FROM outbox WHERE message_id = ?", (message_id,))
    return _mail(row) if row else None


async def count_by_status(db: Queryable) -> dict[str, int]:
    """How many mails are queued, sent and failed (every status present, zero included)."""
    counts = dict.fromkeys(STATUSES, 0)
    for row in await db.fetch_all("SELECT status, count(*) FROM outbox GROUP BY status"):
        counts[row[0]] = int(row[1])
    return counts

"""Incoming mail as stored: every fetched mail raw (`inbound_mails`) and the IMAP cursor.

`inbound_mails.message_id` is unique (the header, or an md5 of the raw bytes
when it is missing), so a mail fetched twice is recognised. `inbox_state`
keeps (UIDVALIDITY, last UID) per folder, so the reader fetches only what is new.

`inbound_mails` is also the queue between the two stages of the mail worker:
the reader stores each fetched mail as 'received' (a batch, with the cursor,
in one transaction); the processor takes 'received' mails oldest first and
gives each its final status ('ticket', 'ignored' or 'quarantined') in the
transaction that does the work. `attempts` counts the processor's starts on a
mail, so a mail that keeps failing (or crashing the process) is set aside.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from storage.db import Queryable, Transaction

RECEIVED = "received"
TICKET = "ticket"
IGNORED = "ignored"
QUARANTINED = "quarantined"
STATUSES = (RECEIVED, TICKET, IGNORED, QUARANTINED)


@dataclass(frozen=True)
class InboundMail:
    """One stored incoming mail."""

    id: int
    message_id: str
    folder: str
    uidvalidity: int | None
    uid: int | None
    raw: bytes
    status: str  # received | ticket | ignored | quarantined
    reason: str | None
    ticket_id: int | None
    received_at: float
    attempts: int = 0  # how often the processor started on it
    arrived_at: float | None = None  # when it reached the mailbox (IMAP INTERNALDATE)


@dataclass(frozen=True)
class InboxState:
    """Where the reader stands in one folder."""

    folder: str
    uidvalidity: int
    last_uid: int
    updated_at: float


_COLUMNS = (
    "id, message_id, folder, uidvalidity, uid, raw, status, reason, ticket_id, received_at,"
    " attempts, arrived_at"
)


def _mail(row: sqlite3.Row) -> InboundMail:
    values = list(row)
    values[5] = bytes(values[5])
    return InboundMail(*values)


# --- inbound_mails ------------------------------------------------------------------


async def insert(
    db: Queryable,
    *,
    message_id: str,
    folder: str,
    uidvalidity: int | None,
    uid: int | None,
    raw: bytes,
    status: str,
    reason: str | None,
    ticket_id: int | None = None,
    now: float,
) -> int:
    """Store a mail as fetched; raises sqlite3.IntegrityError when the Message-ID is known."""
    return await db.insert(
        "INSERT INTO inbound_mails(message_id, folder, uidvalidity, uid, raw, status, reason,"
        " ticket_id, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (message_id, folder, uidvalidity, uid, raw, status, reason, ticket_id, now),
    )


async def insert_received(
    tx: Transaction,
    mails: Sequence[tuple[str, int | None, bytes, float | None]],
    *,
    folder: str,
    uidvalidity: int | None,
    now: float,
) -> int:
    """Store fetched mails, (Message-ID, UID, raw, arrival) each, as 'received'.

    One statement for the lot; a Message-ID already stored (or twice in the
    lot) is skipped. Returns how many were new.
    """
    before = tx.total_changes
    await tx.executemany(
        "INSERT INTO inbound_mails(message_id, folder, uidvalidity, uid, raw, status, reason,"
        " ticket_id, received_at, arrived_at)"
        " VALUES (?, ?, ?, ?, ?, 'received', NULL, NULL, ?, ?)"
        " ON CONFLICT(message_id) DO NOTHING",
        [
            (message_id, folder, uidvalidity, uid, raw, now, arrived)
            for message_id, uid, raw, arrived in mails
        ],
    )
    return tx.total_changes - before


async def received_ids(db: Queryable, limit: int = 100) -> list[int]:
    """The ids of mails waiting for the processor, oldest first."""
    rows = await db.fetch_all(
        "SELECT id FROM inbound_mails WHERE status = 'received' ORDER BY id LIMIT ?", (limit,)
    )
    return [int(row[0]) for row in rows]


async def count_received(db: Queryable) -> int:
    """How many mails wait for the processor."""
    return int(await db.fetch_value("SELECT count(*) FROM inbound_mails WHERE status = 'received'"))


async def start_attempt(db: Queryable, mail_id: int) -> int | None:
    """Count one more processing attempt on a waiting mail; returns the count.

    None when the mail is not waiting (any more). Committed on its own before
    the work starts, so attempts that died with the process are counted too.
    """
    changed = await db.execute(
        "UPDATE inbound_mails SET attempts = attempts + 1 WHERE id = ? AND status = 'received'",
        (mail_id,),
    )
    if changed != 1:
        return None
    return int(await db.fetch_value("SELECT attempts FROM inbound_mails WHERE id = ?", (mail_id,)))


async def status_of(db: Queryable, mail_id: int) -> str | None:
    """A stored mail's status (None when there is no such mail)."""
    value: str | None = await db.fetch_value(
        "SELECT status FROM inbound_mails WHERE id = ?", (mail_id,)
    )
    return value


async def message_id_of(db: Queryable, mail_id: int) -> str | None:
    """A stored mail's Message-ID (None when there is no such mail)."""
    value: str | None = await db.fetch_value(
        "SELECT message_id FROM inbound_mails WHERE id = ?", (mail_id,)
    )
    return value


async def set_outcome(
    db: Queryable,
    mail_id: int,
    *,
    status: str,
    reason: str | None,
    ticket_id: int | None,
    fingerprint: str | None = None,
) -> bool:
    """Record what became of a waiting mail; False when it was not waiting any more.

    `fingerprint` (sender, subject and body hashed) lets a double send be recognised.
    """
    changed = await db.execute(
        "UPDATE inbound_mails SET status = ?, reason = ?, ticket_id = ?, fingerprint = ?"
        " WHERE id = ? AND status = 'received'",
        (status, reason, ticket_id, fingerprint, mail_id),
    )
    return changed == 1


@dataclass(frozen=True)
class EarlierCopy:
    """A processed mail with the same fingerprint as a new one: its id and ticket."""

    message_id: str
    ticket_id: int


async def earlier_copy(db: Queryable, fingerprint: str, since: float) -> EarlierCopy | None:
    """The newest mail with this fingerprint that joined a ticket, stored at or after `since`."""
    row = await db.fetch_one(
        "SELECT message_id, ticket_id FROM inbound_mails WHERE fingerprint = ?"
        " AND status = 'ticket' AND ticket_id IS NOT NULL AND received_at >= ?"
        " ORDER BY id DESC LIMIT 1",
        (fingerprint, since),
    )
    return EarlierCopy(row[0], int(row[1])) if row else None


async def ticket_of_mails(db: Queryable, message_ids: Sequence[str]) -> int | None:
    """The ticket that one of these stored mails joined (a double send's copy included)."""
    if not message_ids:
        return None
    marks = ",".join("?" * len(message_ids))
    value = await db.fetch_value(
        f"SELECT ticket_id FROM inbound_mails WHERE message_id IN ({marks})"
        " AND ticket_id IS NOT NULL ORDER BY id DESC LIMIT 1",
        list(message_ids),
    )
    return int(value) if value is not None else None


async def get(db: Queryable, mail_id: int) -> InboundMail | None:
    """One stored mail by id."""
    row = await db.fetch_one(f"SELECT {_COLUMNS} FROM inbound_mails WHERE id = ?", (mail_id,))
    return _mail(row) if row else None


async def by_message_id(db: Queryable, message_id: str) -> InboundMail | None:
    """One stored mail by its Message-ID (with angle brackets)."""
    row = await db.fetch_one(
        f"SELECT {_COLUMNS} FROM inbound_mails WHERE message_id = ?", (message_id,)
    )
    return _mail(row) if row else None


async def by_status(db: Queryable, status: str, limit: int = 50) -> list[InboundMail]:
    """Stored mails with this status, newest first (e.g. the quarantine, for staff)."""
    rows = await db.fetch_all(
        f"SELECT {_COLUMNS} FROM inbound_mails WHERE status = ? ORDER BY id DESC LIMIT ?",
        (status, limit),
    )
    return [_mail(row) for row in rows]


async def count_by_status(db: Queryable) -> dict[str, int]:
    """How many stored mails have each status (every status present, zero included)."""
    counts = dict.fromkeys(STATUSES, 0)
    for row in await db.fetch_all("SELECT status, count(*) FROM inbound_mails GROUP BY status"):
        counts[row[0]] = int(row[1])
    return counts


# --- who owns an address --------------------------------------------------------------


async def customer_ids_with_email(db: Queryable, email: str, limit: int = 2) -> list[str]:
    """Customers of the billing data whose e-mail is this address (case-insensitive)."""
    rows = await db.fetch_all(
        "SELECT customer_id FROM customers WHERE email = ? COLLATE NOCASE"
        " ORDER BY customer_id LIMIT ?",
        (email, limit),
    )
    return [row[0] for row in rows]


# --- inbox_state ----------------------------------------------------------------------


async def get_state(db: Queryable, folder: str) -> InboxState | None:
    """The reader's position in `folder`, if it has read it before."""
    row = await db.fetch_one(
        "SELECT folder, uidvalidity, last_uid, updated_at FROM inbox_state WHERE folder = ?",
        (folder,),
    )
    return InboxState(*row) if row else None


async def reset_state(db: Queryable, folder: str, uidvalidity: int, now: float) -> None:
    """Start `folder` afresh under a (new) UIDVALIDITY: nothing read yet."""
    await db.execute(
        "INSERT INTO inbox_state(folder, uidvalidity, last_uid, updated_at) VALUES (?, ?, 0, ?)"
        " ON CONFLICT(folder) DO UPDATE SET uidvalidity = excluded.uidvalidity, last_uid = 0,"
        " updated_at = excluded.updated_at",
        (folder, uidvalidity, now),
    )


async def advance(db: Queryable, folder: str, uidvalidity: int, uid: int, now: float) -> bool:
    """Move the folder's last UID forward to `uid` (never back, never across UIDVALIDITY).

    Returns False when the stored UIDVALIDITY differs (nothing is changed then).
    """
    changed = await db.execute(
        "UPDATE inbox_state SET last_uid = max(last_uid, ?), updated_at = ?"
        " WHERE folder = ? AND uidvalidity = ?",
        (uid, now, folder, uidvalidity),
    )
    return changed == 1

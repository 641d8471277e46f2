"""Notifications: who wants which kinds, the queue of notifications and their deliveries.

A notification is about one customer account; a delivery is that notification
for one Telegram user. A delivery is queued, claimed ('sending', committed before
the message goes to Telegram), then sent (committed after Telegram accepted it),
or dropped (no longer wanted) or failed (refused for good).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from storage.db import Queryable

TOPIC = "notify"  # the change topic: a delivery was queued in this process

# Which preference column each kind of notification follows.
PREF_OF_KIND = {
    "new_invoice": "new_invoice",
    "reminder_before": "reminder",
    "reminder_after": "reminder",
    "payment": "payment",
    "outage": "outage",
}
PREFS = ("new_invoice", "reminder", "payment", "outage")


# --- preferences --------------------------------------------------------------------------


@dataclass(frozen=True)
class Prefs:
    """One Telegram user's choices for one account."""

    telegram_user_id: int
    account_id: int
    chat_id: int
    new_invoice: bool
    reminder: bool
    payment: bool
    outage: bool
    active: bool
    blocked_at: float | None

    def wants(self, pref: str) -> bool:
        """Whether this kind (a `PREFS` name) is on."""
        return bool(getattr(self, pref))

    @property
    def any_on(self) -> bool:
        return any(self.wants(p) for p in PREFS)


_PREF_COLUMNS = (
    "telegram_user_id, account_id, chat_id, new_invoice, reminder, payment, outage, active,"
    " blocked_at"
)


def _prefs(row: sqlite3.Row) -> Prefs:
    return Prefs(
        int(row[0]),
        int(row[1]),
        int(row[2]),
        bool(row[3]),
        bool(row[4]),
        bool(row[5]),
        bool(row[6]),
        bool(row[7]),
        None if row[8] is None else float(row[8]),
    )


async def get_prefs(db: Queryable, telegram_user_id: int, account_id: int) -> Prefs | None:
    """This user's choices for this account, or None if they were never asked."""
    row = await db.fetch_one(
        f"SELECT {_PREF_COLUMNS} FROM notification_prefs"
        " WHERE telegram_user_id = ? AND account_id = ?",
        (telegram_user_id, account_id),
    )
    return _prefs(row) if row else None


async def create_prefs(
    db: Queryable, telegram_user_id: int, account_id: int, chat_id: int, now: float
) -> bool:
    """The row of a user just asked (everything off); False when there was one already."""
    changed = await db.execute(
        "INSERT INTO notification_prefs(telegram_user_id, account_id, chat_id, asked_at,"
        " updated_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        (telegram_user_id, account_id, chat_id, now, now),
    )
    return changed == 1


async def set_prefs(
    db: Queryable, telegram_user_id: int, account_id: int, values: dict[str, bool], now: float
) -> None:
    """Turn kinds on or off (`values`: `PREFS` names); the user is evidently reachable
    again, so a block mark is forgotten."""
    unknown = set(values) - set(PREFS)
    if unknown:
        raise ValueError(f"unknown notification kinds {sorted(unknown)}")
    sets = ", ".join(f"{name} = ?" for name in values)
    await db.execute(
        f"UPDATE notification_prefs SET {sets}, blocked_at = NULL, updated_at = ?"
        " WHERE telegram_user_id = ? AND account_id = ?",
        (*(int(v) for v in values.values()), now, telegram_user_id, account_id),
    )


async def unblock(db: Queryable, telegram_user_id: int, now: float) -> None:
    """The user reached the bot again: their block mark goes."""
    await db.execute(
        "UPDATE notification_prefs SET blocked_at = NULL, updated_at = ?"
        " WHERE telegram_user_id = ? AND blocked_at IS NOT NULL",
        (now, telegram_user_id),
    )


async def logged_in(
    db: Queryable, telegram_user_id: int, account_id: int, chat_id: int, now: float
) -> None:
    """A login binds the user's notifications to this account (and no other)."""
    await db.execute(
        "UPDATE notification_prefs SET active = (account_id = ?),"
        " chat_id = CASE WHEN account_id = ? THEN ? ELSE chat_id END,"
        " blocked_at = NULL, updated_at = ? WHERE telegram_user_id = ?",
        (account_id, account_id, chat_id, now, telegram_user_id),
    )
    await _drop_unwanted(db, telegram_user_id, now)


async def logged_out(db: Queryable, telegram_user_id: int, now: float) -> None:
    """An explicit logout stops the user's notifications, queued ones too."""
    await db.execute(
        "UPDATE notification_prefs SET active = 0, updated_at = ?"
        " WHERE telegram_user_id = ? AND active = 1",
        (now, telegram_user_id),
    )
    await _drop_unwanted(db, telegram_user_id, now)


async def account_logins_ended(
    db: Queryable, account_id: int, now: float, except_user: int | None = None
) -> None:
    """The account's logins were ended (its password changed or reset): their
    notifications stop, except for `except_user` (who changed it)."""
    users = [
        int(row[0])
        for row in await db.fetch_all(
            "SELECT telegram_user_id FROM notification_prefs WHERE account_id = ? AND active = 1",
            (account_id,),
        )
        if row[0] != except_user
    ]
    for user in users:
        await db.execute(
            "UPDATE notification_prefs SET active = 0, updated_at = ?"
            " WHERE telegram_user_id = ? AND account_id = ?",
            (now, user, account_id),
        )
        await _drop_unwanted(db, user, now)


async def blocked(db: Queryable, telegram_user_id: int, now: float, error: str) -> int:
    """Telegram says the user blocked the bot: mark it and drop their queued deliveries."""
    await db.execute(
        "UPDATE notification_prefs SET blocked_at = ?, updated_at = ? WHERE telegram_user_id = ?",
        (now, now, telegram_user_id),
    )
    return await db.execute(
        "UPDATE notification_deliveries SET status = 'dropped', done_at = ?, last_error = ?"
        " WHERE telegram_user_id = ? AND status = 'queued'",
        (now, error, telegram_user_id),
    )


# The customer IDs of each portal account: its own and those it added (Fiókváltás,
# core.accounts.links): notifications about an added one reach the logins that have it.
_ACCOUNT_CUSTOMERS = (
    "(SELECT id AS account_id, customer_id FROM portal_accounts"
    " UNION ALL SELECT account_id, customer_id FROM account_links)"
)


async def _drop_unwanted(db: Queryable, telegram_user_id: int, now: float) -> None:
    """Queued deliveries of this user that their choices no longer want are dropped."""
    await db.execute(
        "UPDATE notification_deliveries SET status = 'dropped', done_at = ?,"
        " last_error = 'no longer subscribed'"
        " WHERE telegram_user_id = ? AND status = 'queued' AND NOT EXISTS ("
        f"   SELECT 1 FROM notifications n JOIN {_ACCOUNT_CUSTOMERS} x"
        "    ON x.customer_id = n.customer_id"
        "   JOIN notification_prefs p ON p.account_id = x.account_id"
        "    AND p.telegram_user_id = notification_deliveries.telegram_user_id"
        "   WHERE n.id = notification_deliveries.notification_id AND p.active = 1)",
        (now, telegram_user_id),
    )


@dataclass(frozen=True)
class Subscriber:
    """A Telegram user who wants a kind of notification about a customer account."""

    customer_id: str
    telegram_user_id: int
    chat_id: int
    address: str = ""


async def subscribers(db: Queryable, pref: str) -> list[Subscriber]:
    """Everyone who wants `pref` (a `PREFS` name) now: opted in, still bound to the
    account, the account active, not blocked."""
    if pref not in PREFS:
        raise ValueError(pref)
    rows = await db.fetch_all(
        "SELECT x.customer_id, p.telegram_user_id, p.chat_id, c.address"
        " FROM notification_prefs p JOIN portal_accounts a ON a.id = p.account_id"
        f" JOIN {_ACCOUNT_CUSTOMERS} x ON x.account_id = a.id"
        " JOIN customers c ON c.customer_id = x.customer_id"
        f" WHERE p.active = 1 AND p.{pref} = 1 AND p.blocked_at IS NULL"
        "   AND a.status = 'active'"
        " ORDER BY x.customer_id, p.telegram_user_id"
    )
    return [Subscriber(str(r[0]), int(r[1]), int(r[2]), str(r[3])) for r in rows]


# --- the queue ------------------------------------------------------------------------------


async def add_notification(
    db: Queryable,
    customer_id: str,
    kind: str,
    details: Mapping[str, Any],
    now: float,
    once_key: str | None = None,
) -> int | None:
    """Queue what is to be told about `customer_id`; None when `once_key` was made before."""
    if kind not in PREF_OF_KIND:
        raise ValueError(kind)
    value = await db.fetch_value(
        "INSERT INTO notifications(customer_id, kind, details, once_key, created_at)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT(once_key) DO NOTHING RETURNING id",
        (customer_id, kind, json.dumps(details, ensure_ascii=False), once_key, now),
    )
    return None if value is None else int(value)


async def add_deliveries(
    db: Queryable,
    notification_id: int,
    recipients: Iterable[tuple[int, int]],  # (telegram user, chat)
    now: float,
    *,
    urgent: bool = False,
) -> None:
    """Queue the notification for each recipient, due at once (whatever the sender's clock
    says: the import's process may be another)."""
    await db.executemany(
        "INSERT INTO notification_deliveries(notification_id, telegram_user_id, chat_id,"
        " urgent, next_attempt_at) VALUES (?, ?, ?, ?, 0) ON CONFLICT DO NOTHING",
        [(notification_id, user, chat, int(urgent)) for user, chat in recipients],
    )
    db.changed(TOPIC)


@dataclass(frozen=True)
class Delivery:
    """A claimed delivery with what it is to tell."""

    id: int
    notification_id: int
    telegram_user_id: int
    chat_id: int
    attempts: int
    customer_id: str
    kind: str
    details: dict[str, Any]
    address: str = ""  # the customer account's address, as the pages name the place
    # The customer ID the user's pages show now (Fiókváltás; "" when not logged in): a
    # notice of another one says to switch before looking at Számlák.
    shown: str = ""


# A batch's deliveries with their customers' addresses, and the customer ID each user's
# pages show (the one viewed if the login still has it, else the account's own, as
# `core.accounts.sessions.current_account` has it), in the same query (not one query per
# delivery when it is sent). Read at the claim, a few seconds before the send: an import
# changing an address in between is told the next time.
_CLAIMED = (
    "SELECT d.id, d.notification_id, d.telegram_user_id, d.chat_id, d.attempts,"
    " n.customer_id, n.kind, n.details, coalesce(c.address, ''),"
    " coalesce(k.customer_id, a.customer_id, '')"
    " FROM notification_deliveries d"
    " JOIN notifications n ON n.id = d.notification_id"
    " LEFT JOIN customers c ON c.customer_id = n.customer_id"
    " LEFT JOIN telegram_logins l ON l.telegram_user_id = d.telegram_user_id"
    " LEFT JOIN portal_accounts a ON a.id = l.account_id"
    " LEFT JOIN account_links k ON k.account_id = l.account_id AND k.customer_id = l.viewing"
)


def _delivery(row: sqlite3.Row) -> Delivery:
    return Delivery(
        int(row[0]),
        int(row[1]),
        int(row[2]),
        int(row[3]),
        int(row[4]),
        str(row[5]),
        str(row[6]),
        json.loads(row[7]),
        str(row[8]),
        str(row[9]),
    )


async def claim_due(db: Queryable, now: float, limit: int, *, urgent_only: bool) -> list[Delivery]:
    """Claim up to `limit` due deliveries, oldest first ('sending', with `now`); in quiet
    hours only the urgent ones. Call inside a transaction: the claim must be committed
    before anything is sent."""
    urgent = " AND urgent = 1" if urgent_only else ""
    rows = await db.fetch_all(
        "SELECT id FROM notification_deliveries"
        f" WHERE status = 'queued' AND next_attempt_at <= ?{urgent} ORDER BY id LIMIT ?",
        (now, limit),
    )
    ids = [int(row[0]) for row in rows]
    if not ids:
        return []
    await db.executemany(
        "UPDATE notification_deliveries SET status = 'sending', claimed_at = ? WHERE id = ?",
        [(now, i) for i in ids],
    )
    marks = ", ".join("?" for _ in ids)
    claimed = await db.fetch_all(f"{_CLAIMED} WHERE d.id IN ({marks}) ORDER BY d.id", ids)
    return [_delivery(row) for row in claimed]


async def claimed(db: Queryable) -> list[Delivery]:
    """Deliveries claimed and not finished (left by a process that died mid-send)."""
    return [
        _delivery(row)
        for row in await db.fetch_all(f"{_CLAIMED} WHERE d.status = 'sending' ORDER BY d.id")
    ]


async def release(db: Queryable, ids: Sequence[int], next_attempt_at: float) -> None:
    """Claimed deliveries back to the queue (not sent), due at `next_attempt_at`."""
    await db.executemany(
        "UPDATE notification_deliveries SET status = 'queued', claimed_at = NULL,"
        " next_attempt_at = ? WHERE id = ? AND status = 'sending'",
        [(next_attempt_at, i) for i in ids],
    )


async def mark_sent(db: Queryable, delivery_id: int, message_id: int, now: float) -> None:
    """Telegram accepted it."""
    await db.execute(
        "UPDATE notification_deliveries SET status = 'sent', done_at = ?, message_id = ?,"
        " attempts = attempts + 1, last_error = NULL WHERE id = ?",
        (now, message_id, delivery_id),
    )


async def mark_dropped(db: Queryable, delivery_id: int, reason: str, now: float) -> None:
    """Not sent: no longer wanted (`reason` says why)."""
    await db.execute(
        "UPDATE notification_deliveries SET status = 'dropped', done_at = ?, last_error = ?"
        " WHERE id = ?",
        (now, reason, delivery_id),
    )


async def mark_failed(
    db: Queryable, delivery_id: int, error: str, now: float, retry_at: float | None
) -> None:
    """A failed attempt: queued again for `retry_at`, or given up ('failed') when None."""
    await db.execute(
        "UPDATE notification_deliveries SET attempts = attempts + 1, last_error = ?,"
        " status = CASE WHEN ? IS NULL THEN 'failed' ELSE 'queued' END,"
        " done_at = CASE WHEN ? IS NULL THEN ? ELSE NULL END,"
        " next_attempt_at = coalesce(?, next_attempt_at), claimed_at = NULL WHERE id = ?",
        (error, retry_at, retry_at, now, retry_at, delivery_id),
    )


async def purge_finished(db: Queryable, before: float, reminders_closed: str) -> tuple[int, int]:
    """Remove the deliveries finished (sent, dropped or given up) before `before`, then the
    notifications older than that with no delivery left; (deliveries, notifications).

    Never a delivery queued or being sent, however old. A reminder's notification stays
    while its invoice is due on or after `reminders_closed` (an ISO date): its once-key is
    what keeps the reminders pass from queuing that reminder again.
    """
    deliveries = await db.execute(
        "DELETE FROM notification_deliveries"
        " WHERE status IN ('sent', 'dropped', 'failed') AND done_at < ?",
        (before,),
    )
    notifications = await db.execute(
        "DELETE FROM notifications WHERE created_at < ?"
        " AND NOT EXISTS (SELECT 1 FROM notification_deliveries d"
        "                 WHERE d.notification_id = notifications.id)"
        " AND (kind NOT IN ('reminder_before', 'reminder_after')"
        "      OR json_extract(details, '$.due_date') < ?)",
        (before, reminders_closed),
    )
    return deliveries, notifications


async def next_due(db: Queryable, *, urgent_only: bool) -> float | None:
    """When the next queued delivery is due (None: nothing queued)."""
    urgent = " AND urgent = 1" if urgent_only else ""
    value = await db.fetch_value(
        f"SELECT min(next_attempt_at) FROM notification_deliveries WHERE status = 'queued'{urgent}"
    )
    return None if value is None else float(value)


async def status_counts(db: Queryable) -> dict[str, int]:
    """Deliveries by status (for the log, tests and the benchmark)."""
    rows = await db.fetch_all(
        "SELECT status, count(*) FROM notification_deliveries GROUP BY status"
    )
    return {str(r[0]): int(r[1]) for r in rows}


# --- what the import brought -------------------------------------------------------------


async def new_invoices_of_run(
    db: Queryable, run_id: int, customers: set[str]
) -> dict[str, list[tuple[int, int, int, str]]]:
    """Invoices import run `run_id` brought to `customers`: per customer,
    (number, amount, outstanding, due date) by number."""
    found: dict[str, list[tuple[int, int, int, str]]] = {}
    if not customers:
        return found
    # One pass over the invoices (no index on first_import: the import would pay for it).
    rows = await db.fetch_all(
        "SELECT customer_id, invoice_no, amount, outstanding, due_date FROM invoices"
        " WHERE first_import = ? ORDER BY invoice_no",
        (run_id,),
    )
    for row in rows:
        if row[0] in customers:
            found.setdefault(str(row[0]), []).append(
                (int(row[1]), int(row[2]), int(row[3]), str(row[4]))
            )
    return found


async def settled_since_last(db: Queryable) -> dict[str, list[tuple[int, int]]]:
    """Invoices unpaid after the last import that are paid now, per customer:
    (number, amount)."""
    rows = await db.fetch_all(
        "SELECT w.customer_id, i.invoice_no, i.amount FROM notify_unpaid w"
        " JOIN invoices i ON i.invoice_no = w.invoice_no WHERE i.outstanding = 0"
        " ORDER BY w.invoice_no"
    )
    found: dict[str, list[tuple[int, int]]] = {}
    for row in rows:
        found.setdefault(str(row[0]), []).append((int(row[1]), int(row[2])))
    return found


async def new_payments(db: Queryable) -> dict[str, int]:
    """Customers with payments booked since the last import: the sum paid, per customer."""
    seen = int(
        await db.fetch_value(
            "SELECT coalesce((SELECT value FROM notify_marks WHERE name = 'transactions_seen'), 0)"
        )
    )
    rows = await db.fetch_all(
        "SELECT customer_id, sum(amount) FROM transactions"
        " WHERE id > ? AND kind = 'payment' GROUP BY customer_id",
        (seen,),
    )
    return {str(r[0]): int(r[1]) for r in rows}


async def remember_import_state(db: Queryable) -> None:
    """What this import left: the unpaid invoices and the newest booking."""
    await db.execute(
        "DELETE FROM notify_unpaid WHERE invoice_no IN (SELECT w.invoice_no FROM notify_unpaid w"
        " JOIN invoices i ON i.invoice_no = w.invoice_no WHERE i.outstanding = 0)"
    )
    await db.execute(
        "INSERT INTO notify_unpaid(invoice_no, customer_id)"
        " SELECT invoice_no, customer_id FROM invoices WHERE outstanding > 0"
        " ON CONFLICT(invoice_no) DO NOTHING"
    )
    await db.execute(
        "INSERT INTO notify_marks(name, value)"
        " SELECT 'transactions_seen', coalesce(max(id), 0) FROM transactions WHERE true"
        " ON CONFLICT(name) DO UPDATE SET value = excluded.value"
    )


# --- reminders ----------------------------------------------------------------------------


async def unpaid_due_between(
    db: Queryable, first: str, last: str
) -> list[tuple[str, int, int, str]]:
    """Unpaid invoices due from `first` to `last` (ISO dates, inclusive):
    (customer, number, outstanding, due date)."""
    rows = await db.fetch_all(
        "SELECT customer_id, invoice_no, outstanding, due_date FROM invoices"
        " WHERE outstanding > 0 AND due_date BETWEEN ? AND ? ORDER BY invoice_no",
        (first, last),
    )
    return [(str(r[0]), int(r[1]), int(r[2]), str(r[3])) for r in rows]


# --- staff notices about outages -----------------------------------------------------------


@dataclass(frozen=True)
class OutageNotice:
    id: int
    town: str
    street: str
    text: str
    author: str
    status: str
    recipients: int | None


async def add_outage_draft(
    db: Queryable, town: str, street: str, text: str, author: str, now: float
) -> int:
    """A notice staff are about to send, kept until they confirm it."""
    return await db.insert(
        "INSERT INTO outage_notices(town, street, text, author, created_at) VALUES (?, ?, ?, ?, ?)",
        (town, street, text, author, now),
    )


async def get_outage(db: Queryable, notice_id: int) -> OutageNotice | None:
    row = await db.fetch_one(
        "SELECT id, town, street, text, author, status, recipients FROM outage_notices"
        " WHERE id = ?",
        (notice_id,),
    )
    if row is None:
        return None
    return OutageNotice(
        int(row[0]),
        str(row[1]),
        str(row[2]),
        str(row[3]),
        str(row[4]),
        str(row[5]),
        None if row[6] is None else int(row[6]),
    )


async def close_outage(
    db: Queryable, notice_id: int, status: str, recipients: int | None, now: float
) -> bool:
    """A draft sent or cancelled; False when it was no draft any more (pressed twice)."""
    changed = await db.execute(
        "UPDATE outage_notices SET status = ?, recipients = ?, sent_at = ?"
        " WHERE id = ? AND status = 'draft'",
        (status, recipients, now, notice_id),
    )
    return changed == 1


async def prefs_for_customer(
    db: Queryable, telegram_user_id: int, customer_id: str
) -> Prefs | None:
    """This user's choices for the (active) account of `customer_id`, or None."""
    row = await db.fetch_one(
        f"SELECT {', '.join('p.' + c.strip() for c in _PREF_COLUMNS.split(','))}"
        " FROM notification_prefs p JOIN portal_accounts a ON a.id = p.account_id"
        f" JOIN {_ACCOUNT_CUSTOMERS} x ON x.account_id = a.id"
        " WHERE p.telegram_user_id = ? AND x.customer_id = ? AND a.status = 'active'",
        (telegram_user_id, customer_id),
    )
    return _prefs(row) if row else None


async def invoice_outstanding(db: Queryable, invoice_no: int) -> int | None:
    """What is still owed on an invoice now (None: no such invoice)."""
    value = await db.fetch_value(
        "SELECT outstanding FROM invoices WHERE invoice_no = ?", (invoice_no,)
    )
    return None if value is None else int(value)

"""The retention purge's SQL: what is older than a moment, counted or removed.

Closed tickets go with every row that refers to them (`TICKET_TABLES`); the rest
(`OTHER_TABLES`) goes by its own age. The tickets and raw mails to remove are
chosen first, into temporary tables on the writer connection, so that removing
a ticket's messages cannot change which tickets or mails are chosen, and a dry
run counts exactly what a real run would remove. The caller runs all of it in
one transaction: a crash midway removes nothing.

tests/test_retention.py reads every table's foreign keys and `ticket_id`
columns and fails when a table that refers to tickets (or to a row removed with
them) is not named here, so a future table cannot be forgotten.
"""

from __future__ import annotations

from dataclasses import dataclass

from storage.db import Queryable

# The purge's own audit rows hold only counts and a date: they are kept for ever.
PURGE_ACTION = "retention_purge"


@dataclass(frozen=True)
class Kind:
    """One line of the purge's report: a table and which of its rows go."""

    key: str  # the audit row's short name
    label: str  # the operator's words, plural
    table: str
    where: str  # an SQL condition; `?` is the moment, the temp tables the chosen rows


# Closed tickets whose last activity is before the moment. Never one with mail or a chat answer
# still waiting to be sent (queued mail is never removed), and never the newest ticket:
# SQLite gives a new row the highest id plus one, and a ticket number (PK-000123, in old
# letters and mail subjects) must never be given twice.
_CHOOSE_TICKETS = """
INSERT INTO temp.purge_tickets(id)
SELECT t.id FROM tickets t
WHERE t.status = 'closed'
  AND max(t.created_at, t.updated_at, coalesce(t.closed_at, 0), coalesce(t.reopened_at, 0)) < ?
  AND t.id < (SELECT max(id) FROM tickets)
  AND NOT EXISTS (SELECT 1 FROM ticket_messages m
                  WHERE m.ticket_id = t.id AND m.created_at >= ?)
  AND NOT EXISTS (SELECT 1 FROM inbound_mails i
                  WHERE i.ticket_id = t.id AND i.received_at >= ?)
  AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.ticket_id = t.id
                  AND (o.status = 'queued' OR max(o.created_at, coalesce(o.sent_at, 0)) >= ?))
  AND NOT EXISTS (SELECT 1 FROM telegram_outbox o WHERE o.ticket_id = t.id
                  AND (o.status = 'queued' OR max(o.created_at, coalesce(o.sent_at, 0)) >= ?))
  AND NOT EXISTS (SELECT 1 FROM ticket_attachments a
                  WHERE a.ticket_id = t.id AND a.created_at >= ?)
"""

# Raw mails: those of the chosen tickets (by their own ticket_id, or named by a chosen
# ticket's message or file), and mails that made no ticket (ignored, quarantined) received
# before the moment; never one a remaining ticket's message or file still names, and never one
# still waiting to be processed.
_CHOOSE_MAILS = """
INSERT INTO temp.purge_mails(id)
SELECT i.id FROM inbound_mails i
WHERE (
    i.ticket_id IN (SELECT id FROM temp.purge_tickets)
    OR i.id IN (SELECT inbound_mail_id FROM ticket_messages
                WHERE ticket_id IN (SELECT id FROM temp.purge_tickets))
    OR i.id IN (SELECT inbound_mail_id FROM ticket_attachments
                WHERE ticket_id IN (SELECT id FROM temp.purge_tickets))
    OR (i.ticket_id IS NULL AND i.status IN ('ignored', 'quarantined') AND i.received_at < ?)
  )
  AND NOT EXISTS (SELECT 1 FROM ticket_messages m WHERE m.inbound_mail_id = i.id
                  AND m.ticket_id NOT IN (SELECT id FROM temp.purge_tickets))
  AND NOT EXISTS (SELECT 1 FROM ticket_attachments a WHERE a.inbound_mail_id = i.id
                  AND a.ticket_id NOT IN (SELECT id FROM temp.purge_tickets))
"""

_TEMP_TABLES = ("purge_tickets", "purge_mails")
_CHOSEN = "ticket_id IN (SELECT id FROM temp.purge_tickets)"

# In the order they are removed: rows that refer to others before those.
KINDS: tuple[Kind, ...] = (
    Kind("attachments", "attachments", "ticket_attachments", _CHOSEN),
    Kind("announcements", "staff-chat announcements", "staff_announcements", _CHOSEN),
    Kind("staff_posts", "staff-chat message links", "staff_posts", _CHOSEN),
    Kind("customer_posts", "customer-chat message links", "customer_posts", _CHOSEN),
    Kind("chat_answers", "staff answers sent to a chat", "telegram_outbox", _CHOSEN),
    Kind(
        "sent_mails",
        "sent or failed mails",
        "outbox",
        f"{_CHOSEN} OR (ticket_id IS NULL AND status IN ('sent', 'failed')"
        " AND max(created_at, coalesce(sent_at, 0)) < ?)",
    ),
    Kind("staff_notes", "internal staff notes", "ticket_notes", _CHOSEN),
    Kind("canned_drafts", "filled canned answers", "canned_drafts", _CHOSEN),
    Kind("ratings", "customers' ratings", "customer_ratings", _CHOSEN),
    Kind("messages", "ticket messages (notes included)", "ticket_messages", _CHOSEN),
    Kind("raw_mails", "raw mails", "inbound_mails", "id IN (SELECT id FROM temp.purge_mails)"),
    Kind("tickets", "closed tickets", "tickets", "id IN (SELECT id FROM temp.purge_tickets)"),
    Kind("audit", "audit rows", "audit_log", f"at < ? AND action <> '{PURGE_ACTION}'"),
    Kind(
        "chat_notices",
        "chat notices",
        "chat_notices",
        "status IN ('sent', 'failed') AND max(created_at, coalesce(sent_at, 0)) < ?",
    ),
    Kind("staff_notices", "staff-chat notices", "staff_notices", "sent_at < ?"),
    Kind("journal", "effect-journal entries", "effect_journal", "at < ?"),
    Kind("codes", "expired activation and reset codes", "account_codes", "expires_at < ?"),
    Kind("logins", "Telegram logins idle since then", "telegram_logins", "last_seen_at < ?"),
    Kind("attempts", "guessing-limit attempts", "throttle_events", "at < ?"),
    Kind("locks", "ended lockouts", "throttle_locks", "locked_until < ?"),
    Kind("trust", "remembered successful guessers", "throttle_trust", "at < ?"),
)

# The order the operator reads them in: the tickets and what was theirs first.
_TICKETS_FIRST = (
    "tickets",
    "messages",
    "raw_mails",
    "attachments",
    "sent_mails",
    "chat_answers",
    "announcements",
    "staff_posts",
    "customer_posts",
    "staff_notes",
    "canned_drafts",
    "ratings",
)
REPORT_ORDER = (*_TICKETS_FIRST, *(k.key for k in KINDS if k.key not in _TICKETS_FIRST))

# Tables whose rows go with their closed ticket (the test checks that every table referring
# to tickets, or to a row removed with them, is among these).
TICKET_TABLES = frozenset(
    kind.table for kind in KINDS if _CHOSEN in kind.where or "temp.purge_" in kind.where
)


def _params(sql: str, cut: float) -> tuple[float, ...]:
    """The moment once for each `?` of `sql` (every parameter of these statements is it)."""
    return (cut,) * sql.count("?")


async def _choose(db: Queryable, cut: float) -> None:
    for table in _TEMP_TABLES:
        await db.execute(f"CREATE TEMP TABLE IF NOT EXISTS {table} (id INTEGER PRIMARY KEY)")
        await db.execute(f"DELETE FROM temp.{table}")
    for sql in (_CHOOSE_TICKETS, _CHOOSE_MAILS):
        await db.execute(sql, _params(sql, cut))


async def purge(tx: Queryable, cut: float, *, dry_run: bool) -> dict[str, int]:
    """Inside one transaction: remove (or with `dry_run` only count) what is older than
    `cut` (unix seconds), kind by kind (`KINDS`); returns each kind's key and its count.

    Freed bytes are overwritten (secure_delete), not merely freed: the caller marks the
    transaction `erased()` so that the write-ahead log's older copies go too.
    """
    await tx.execute("PRAGMA secure_delete = ON")
    await _choose(tx, cut)
    counts: dict[str, int] = {}
    for kind in KINDS:
        if dry_run:
            sql = f"SELECT count(*) FROM {kind.table} WHERE {kind.where}"
            counts[kind.key] = int(await tx.fetch_value(sql, _params(sql, cut)))
        else:
            sql = f"DELETE FROM {kind.table} WHERE {kind.where}"
            counts[kind.key] = await tx.execute(sql, _params(sql, cut))
    if not dry_run and counts.get("messages", 0) + counts.get("tickets", 0):
        # The search indexes (migration 0016) mark removed text deleted; merging their
        # segments drops its words for good, as secure_delete does for the rows.
        for index in ("ticket_messages_search", "tickets_search"):
            await tx.execute(f"INSERT INTO {index}({index}) VALUES ('optimize')")
    # A rollback would drop them too: temporary tables are part of the transaction.
    for table in _TEMP_TABLES:
        await tx.execute(f"DROP TABLE temp.{table}")
    return counts

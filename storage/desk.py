"""The clerk's desk (issue 17): the customer beside a ticket, notes, holders, staff members."""

from __future__ import annotations

from dataclasses import dataclass

from storage.db import Queryable
from storage.tickets import STAFF_TOPIC, Ticket, ticket_from_row
from storage.tickets import TICKET_COLUMNS as _TICKET

# --- the customer beside the ticket ---------------------------------------------------------


@dataclass(frozen=True)
class Payment:
    """A customer's payment as the billing system booked it."""

    booked_on: str  # ISO
    amount: int


async def last_payment(db: Queryable, customer_id: str) -> Payment | None:
    """The customer's newest payment booking, if any."""
    row = await db.fetch_one(
        "SELECT booked_on, amount FROM transactions WHERE customer_id = ? AND kind = 'payment'"
        " ORDER BY booked_on DESC, id DESC LIMIT 1",
        (customer_id,),
    )
    return Payment(row[0], int(row[1])) if row else None


@dataclass(frozen=True)
class ChatUse:
    """Whether a customer has a portal account, and Telegram users logged in to it now."""

    account_status: str | None  # pending | active | disabled; None: no account
    logged_in: int  # Telegram users logged in to the account


async def chat_use(db: Queryable, customer_id: str) -> ChatUse:
    """The customer's portal account status and how many Telegram logins it has now."""
    row = await db.fetch_one(
        "SELECT a.status, (SELECT count(*) FROM telegram_logins l WHERE l.account_id = a.id)"
        " FROM portal_accounts a WHERE a.customer_id = ?",
        (customer_id,),
    )
    return ChatUse(row[0], int(row[1])) if row else ChatUse(None, 0)


async def chat_logged_in_as(db: Queryable, telegram_user_id: int, customer_id: str) -> bool:
    """Whether this Telegram user is logged in now to an account that holds the customer ID
    (its own, or one added to it: account_links)."""
    row = await db.fetch_one(
        "SELECT 1 FROM telegram_logins l JOIN portal_accounts a ON a.id = l.account_id"
        " WHERE l.telegram_user_id = ? AND a.status = 'active' AND (a.customer_id = ?"
        " OR EXISTS (SELECT 1 FROM account_links k WHERE k.account_id = a.id"
        " AND k.customer_id = ?))",
        (telegram_user_id, customer_id, customer_id),
    )
    return row is not None


async def address_of_customer(db: Queryable, customer_id: str, email: str) -> bool:
    """Whether the billing data or the customer's portal account gives this e-mail address."""
    row = await db.fetch_one(
        "SELECT 1 FROM customers WHERE customer_id = ? AND email = ? COLLATE NOCASE"
        " UNION ALL SELECT 1 FROM portal_accounts WHERE customer_id = ?"
        " AND email = ? COLLATE NOCASE",
        (customer_id, email, customer_id, email),
    )
    return row is not None


async def other_tickets(
    db: Queryable, ticket: Ticket, *, limit: int = 5
) -> tuple[list[Ticket], int]:
    """The same customer's (or, unknown, the same address's) other tickets, newest first,
    at most `limit`, and how many there are in all."""
    if ticket.customer_id:
        where, value = "customer_id = ?", ticket.customer_id
    elif ticket.email:
        where, value = "email = ? COLLATE NOCASE", ticket.email
    elif ticket.telegram_user_id is not None:
        where, value = "telegram_user_id = ?", str(ticket.telegram_user_id)
    else:
        return [], 0
    rows = await db.fetch_all(
        f"SELECT {_TICKET} FROM tickets WHERE {where} AND id <> ? AND merged_into IS NULL"
        " ORDER BY created_at DESC, id DESC LIMIT ?",
        (value, ticket.id, limit),
    )
    total = await db.fetch_value(  # a ticket merged into another is part of that one
        f"SELECT count(*) FROM tickets WHERE {where} AND id <> ? AND merged_into IS NULL",
        (value, ticket.id),
    )
    return [ticket_from_row(row) for row in rows], int(total)


async def link_customer(db: Queryable, ticket_id: int, customer_id: str, now: float) -> None:
    """Name the ticket's customer (staff linked an unknown sender)."""
    await db.execute(
        "UPDATE tickets SET customer_id = ?, updated_at = ? WHERE id = ?",
        (customer_id, now, ticket_id),
    )


# --- internal notes -------------------------------------------------------------------------


@dataclass(frozen=True)
class Note:
    """A note on a ticket that only staff see."""

    id: int
    ticket_id: int
    author: str  # the audit actor (staff:<id>, cli:<user>)
    author_name: str
    body: str
    created_at: float
    edited_at: float | None


_NOTE = "id, ticket_id, author, author_name, body, created_at, edited_at"


async def add_note(
    db: Queryable, ticket_id: int, *, author: str, author_name: str, body: str, now: float
) -> int:
    return await db.insert(
        "INSERT INTO ticket_notes(ticket_id, author, author_name, body, created_at)"
        " VALUES (?, ?, ?, ?, ?)",
        (ticket_id, author, author_name, body, now),
    )


async def note(db: Queryable, note_id: int) -> Note | None:
    row = await db.fetch_one(f"SELECT {_NOTE} FROM ticket_notes WHERE id = ?", (note_id,))
    return Note(*row) if row else None


async def notes(db: Queryable, ticket_id: int) -> list[Note]:
    """A ticket's notes, oldest first."""
    rows = await db.fetch_all(
        f"SELECT {_NOTE} FROM ticket_notes WHERE ticket_id = ? ORDER BY id", (ticket_id,)
    )
    return [Note(*row) for row in rows]


async def edit_note(db: Queryable, note_id: int, body: str, now: float) -> None:
    await db.execute(
        "UPDATE ticket_notes SET body = ?, edited_at = ? WHERE id = ?", (body, now, note_id)
    )


# --- who holds a ticket, and the staff members the bot has met --------------------------------


@dataclass(frozen=True)
class Member:
    """A staff member as the bot last saw them."""

    user_id: int
    username: str | None
    name: str
    seen_at: float


_MEMBER = "user_id, username, name, seen_at"


async def seen_member(
    db: Queryable, user_id: int, username: str | None, name: str, now: float
) -> None:
    """Remember a staff member's current name and @name (written only when they changed)."""
    await db.execute(
        "INSERT INTO staff_members(user_id, username, name, seen_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT(user_id) DO UPDATE SET username = excluded.username,"
        " name = excluded.name, seen_at = excluded.seen_at"
        " WHERE (staff_members.username, staff_members.name)"
        " IS NOT (excluded.username, excluded.name)",
        (user_id, username, name, now),
    )


async def member(db: Queryable, user_id: int) -> Member | None:
    row = await db.fetch_one(f"SELECT {_MEMBER} FROM staff_members WHERE user_id = ?", (user_id,))
    return Member(*row) if row else None


async def member_by_username(db: Queryable, username: str) -> Member | None:
    row = await db.fetch_one(
        f"SELECT {_MEMBER} FROM staff_members WHERE username = ? COLLATE NOCASE"
        " ORDER BY seen_at DESC LIMIT 1",
        (username,),
    )
    return Member(*row) if row else None


async def cli_member(db: Queryable, username: str, name: str, now: float) -> Member:
    """The command line's clerk `username` (`cli:anna`) as a staff member: found, or added
    with the next free negative id (Telegram's user ids are positive, so none clashes)."""
    found = await member_by_username(db, username)
    if found is not None:
        return found
    user_id = int(
        await db.fetch_value("SELECT min(0, coalesce(min(user_id), 0)) - 1 FROM staff_members")
    )
    await db.execute(
        "INSERT INTO staff_members(user_id, username, name, seen_at) VALUES (?, ?, ?, ?)",
        (user_id, username, name, now),
    )
    return Member(user_id, username, name, now)


async def members(db: Queryable, user_ids: set[int]) -> dict[int, Member]:
    """The members among these ids the bot has met, by id."""
    if not user_ids:
        return {}
    marks = ",".join("?" * len(user_ids))
    rows = await db.fetch_all(
        f"SELECT {_MEMBER} FROM staff_members WHERE user_id IN ({marks})", sorted(user_ids)
    )
    return {row[0]: Member(*row) for row in rows}


async def set_holder(db: Queryable, ticket_id: int, holder_id: int | None, now: float) -> None:
    await db.execute(
        "UPDATE tickets SET holder_id = ?, updated_at = ? WHERE id = ?", (holder_id, now, ticket_id)
    )


async def held_open_tickets(db: Queryable, holder_id: int, offset: int, limit: int) -> list[Ticket]:
    """The open tickets a staff member holds, oldest first."""
    rows = await db.fetch_all(
        f"SELECT {_TICKET} FROM tickets WHERE holder_id = ? AND status = 'open'"
        " ORDER BY created_at, id LIMIT ? OFFSET ?",
        (holder_id, limit, offset),
    )
    return [ticket_from_row(row) for row in rows]


async def count_held_open(db: Queryable, holder_id: int) -> int:
    return int(
        await db.fetch_value(
            "SELECT count(*) FROM tickets WHERE holder_id = ? AND status = 'open'", (holder_id,)
        )
    )


# --- canned answers filled for a ticket -------------------------------------------------------


@dataclass(frozen=True)
class Draft:
    """A canned answer filled for a ticket, shown to the clerk before it goes."""

    id: int
    ticket_id: int
    name: str
    author: str
    text: str
    created_at: float
    sent_at: float | None
    dropped_at: float | None
    chat_id: int | None = None  # the staff-chat message that shows it
    message_id: int | None = None
    used_by: str | None = None  # the name of the clerk who sent or dropped it

    @property
    def used(self) -> bool:
        """Sent (as it was, or changed) or dropped: nothing more goes from it."""
        return self.sent_at is not None or self.dropped_at is not None


_DRAFT = (
    "id, ticket_id, name, author, text, created_at, sent_at, dropped_at,"
    " chat_id, message_id, used_by"
)


async def add_draft(
    db: Queryable, ticket_id: int, name: str, author: str, text: str, now: float
) -> int:
    return await db.insert(
        "INSERT INTO canned_drafts(ticket_id, name, author, text, created_at)"
        " VALUES (?, ?, ?, ?, ?)",
        (ticket_id, name, author, text, now),
    )


async def draft(db: Queryable, draft_id: int) -> Draft | None:
    row = await db.fetch_one(f"SELECT {_DRAFT} FROM canned_drafts WHERE id = ?", (draft_id,))
    return Draft(*row) if row else None


async def last_customer_way(db: Queryable, ticket_id: int) -> str | None:
    """How the customer's newest message (machine notes aside) came: `mail` (it has a
    Message-ID) or `telegram`; None before any."""
    row = await db.fetch_one(
        "SELECT mail_message_id IS NOT NULL FROM ticket_messages WHERE ticket_id = ?"
        " AND direction = 'in' AND machine IS NULL ORDER BY created_at DESC, id DESC LIMIT 1",
        (ticket_id,),
    )
    if row is None:
        return None
    return "mail" if row[0] else "telegram"


async def draft_of_post(db: Queryable, chat_id: int, message_id: int) -> Draft | None:
    """The draft a staff-chat message shows, if it is one."""
    row = await db.fetch_one(
        f"SELECT {_DRAFT} FROM canned_drafts WHERE chat_id = ? AND message_id = ?",
        (chat_id, message_id),
    )
    return Draft(*row) if row else None


async def draft_posted(db: Queryable, draft_id: int, chat_id: int, message_id: int) -> None:
    await db.execute(
        "UPDATE canned_drafts SET chat_id = ?, message_id = ? WHERE id = ?",
        (chat_id, message_id, draft_id),
    )


async def use_draft(db: Queryable, draft_id: int, how: str, by: str, now: float) -> bool:
    """Use the draft up (`how`: sent or dropped) unless something used it already; True
    when this call did (one UPDATE: two clerks at once, one wins)."""
    column = {"sent": "sent_at", "dropped": "dropped_at"}[how]
    changed = await db.execute(
        f"UPDATE canned_drafts SET {column} = ?, used_by = ? WHERE id = ?"
        " AND sent_at IS NULL AND dropped_at IS NULL",
        (now, by, draft_id),
    )
    return changed == 1


# --- search ---------------------------------------------------------------------------------------

# The tickets a search finds (the query's parts as parameters, in this order: the FTS5
# match for messages, the same for subjects, a LIKE pattern for the customer's name).
_FOUND_BY_WORDS = (
    "SELECT m.ticket_id FROM ticket_messages_search s JOIN ticket_messages m ON m.id = s.rowid"
    " WHERE ticket_messages_search MATCH ?"
    " UNION SELECT rowid FROM tickets_search WHERE tickets_search MATCH ?"
    " UNION SELECT t.id FROM tickets t JOIN customers c ON c.customer_id = t.customer_id"
    " WHERE c.name LIKE ? ESCAPE '\\'"
)


async def search_words(
    db: Queryable, match: str, name_like: str, offset: int, limit: int
) -> tuple[list[Ticket], int]:
    """Tickets whose messages or subject hold every word (`match`, an FTS5 query) or whose
    customer's name is like `name_like`, newest first; and how many there are."""
    params = (match, match, name_like)
    total = await db.fetch_value(
        f"SELECT count(*) FROM tickets WHERE id IN ({_FOUND_BY_WORDS}) AND merged_into IS NULL",
        params,
    )
    rows = await db.fetch_all(
        f"SELECT {_TICKET} FROM tickets WHERE id IN ({_FOUND_BY_WORDS})"
        " AND merged_into IS NULL ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?",
        (*params, limit, offset),
    )
    return [ticket_from_row(row) for row in rows], int(total)


async def search_by(
    db: Queryable, column: str, value: str | int, offset: int, limit: int
) -> tuple[list[Ticket], int]:
    """Tickets by their number, customer ID or address (`column`), newest first."""
    where, params = {
        "id": ("id = ?", (value,)),
        "customer_id": ("customer_id = ?", (value,)),
        # the sender's address, or the registered address of the ticket's customer
        "email": (
            "(email = ? COLLATE NOCASE OR customer_id IN"
            " (SELECT customer_id FROM portal_accounts WHERE email = ? COLLATE NOCASE))",
            (value, value),
        ),
    }[column]
    where += " AND merged_into IS NULL"  # a merged ticket is found as the one it joined
    total = await db.fetch_value(f"SELECT count(*) FROM tickets WHERE {where}", params)
    rows = await db.fetch_all(
        f"SELECT {_TICKET} FROM tickets WHERE {where}"
        " ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?",
        (*params, limit, offset),
    )
    return [ticket_from_row(row) for row in rows], int(total)


# --- merging two tickets ---------------------------------------------------------------------

# Every table whose rows belong to a ticket (the retention purge's list, less the tickets
# themselves): a merge moves them all to the ticket kept.
_OWNED_BY_TICKET = (
    "customer_ratings",
    "ticket_messages",
    "ticket_notes",
    "staff_announcements",
    "staff_posts",
    "customer_posts",
    "telegram_outbox",
    "outbox",
    "inbound_mails",
    "canned_drafts",
)


async def merge_tickets(db: Queryable, keep: Ticket, gone: Ticket, now: float) -> None:
    """Move everything of `gone` to `keep`; `keep` learns the ways back `gone` knew (the
    customer, the address, the chat) and stays open if either was; `gone` is closed and
    names `keep`."""
    for table in _OWNED_BY_TICKET:
        await db.execute(
            f"UPDATE {table} SET ticket_id = ? WHERE ticket_id = ?",
            (keep.id, gone.id),
        )
    # Files keep their numbers after the kept ticket's own (`/file PK-… n`).
    offset = await db.fetch_value(
        "SELECT coalesce(max(position), 0) FROM ticket_attachments WHERE ticket_id = ?",
        (keep.id,),
    )
    await db.execute(
        "UPDATE ticket_attachments SET ticket_id = ?, position = position + ? WHERE ticket_id = ?",
        (keep.id, int(offset), gone.id),
    )
    status = "open" if "open" in (keep.status, gone.status) else "closed"
    await db.execute(
        "UPDATE tickets SET customer_id = coalesce(customer_id, ?), email = coalesce(email, ?),"
        " telegram_user_id = coalesce(telegram_user_id, ?),"
        " telegram_chat_id = coalesce(telegram_chat_id, ?), urgent = max(urgent, ?),"
        " holder_id = coalesce(holder_id, ?), status = ?,"
        " closed_at = CASE WHEN ? = 'closed' THEN closed_at END, updated_at = ? WHERE id = ?",
        (
            gone.customer_id,
            gone.email,
            gone.telegram_user_id,
            gone.telegram_chat_id,
            int(gone.urgent),
            gone.holder_id,
            status,
            status,
            now,
            keep.id,
        ),
    )
    await db.execute(
        "UPDATE tickets SET status = 'closed', closed_at = coalesce(closed_at, ?),"
        " merged_into = ?, holder_id = NULL, updated_at = ? WHERE id = ?",
        (now, keep.id, now, gone.id),
    )


# --- the morning digest ---------------------------------------------------------------------------


async def digest_sent(db: Queryable, day: str) -> bool:
    """Whether the digest of this day (ISO, Budapest) went out."""
    return await db.fetch_value("SELECT 1 FROM staff_digests WHERE day = ?", (day,)) is not None


async def mark_digest_sent(db: Queryable, day: str, now: float) -> None:
    await db.execute("INSERT OR IGNORE INTO staff_digests(day, sent_at) VALUES (?, ?)", (day, now))


async def open_due_before(db: Queryable, created_before: float) -> list[Ticket]:
    """Open tickets reported before a moment (their deadline is near or past), oldest first."""
    rows = await db.fetch_all(
        f"SELECT {_TICKET} FROM tickets WHERE status = 'open' AND created_at < ?"
        " ORDER BY created_at, id",
        (created_before,),
    )
    return [ticket_from_row(row) for row in rows]


async def waiting_since(db: Queryable, before: float) -> list[Ticket]:
    """Open tickets whose customer's newest message came before `before` and has had no
    staff answer since, oldest first."""
    rows = await db.fetch_all(
        f"SELECT {_TICKET} FROM ("
        " SELECT t.*, (SELECT max(m.created_at) FROM ticket_messages m WHERE m.ticket_id = t.id"
        "  AND m.direction = 'in' AND m.machine IS NULL) AS asked"
        " FROM tickets t WHERE t.status = 'open'"
        ") w WHERE w.asked < ? AND NOT EXISTS (SELECT 1 FROM ticket_messages a"
        " WHERE a.ticket_id = w.id AND a.direction = 'out' AND a.author <> 'auto'"
        " AND a.machine IS NULL AND a.created_at >= w.asked)"
        " ORDER BY w.asked, w.id",
        (before,),
    )
    return [ticket_from_row(row) for row in rows]


async def first_answer_times(db: Queryable, since: float) -> list[float]:
    """Seconds from each report to its first staff answer, for first answers given since
    `since` (automatic answers and machine notes are not answers)."""
    rows = await db.fetch_all(
        "SELECT first - t.created_at FROM tickets t JOIN ("
        " SELECT ticket_id, min(created_at) AS first FROM ticket_messages"
        " WHERE direction = 'out' AND author <> 'auto' AND machine IS NULL GROUP BY ticket_id"
        ") f ON f.ticket_id = t.id WHERE f.first >= ?",
        (since,),
    )
    return [max(0.0, float(row[0])) for row in rows]


# --- ratings ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rating:
    """A rating offered to a customer when their ticket closed, and their stars once given."""

    id: int
    ticket_id: int
    channel: str
    offered_at: float
    sent_at: float | None
    stars: int | None
    rated_at: float | None


_RATING = "id, ticket_id, channel, offered_at, sent_at, stars, rated_at"


async def offer_rating(
    db: Queryable, ticket_id: int, channel: str, token_hash: str | None, now: float
) -> int:
    rating_id = await db.insert(
        "INSERT INTO customer_ratings(ticket_id, channel, token_hash, offered_at)"
        " VALUES (?, ?, ?, ?)",
        (ticket_id, channel, token_hash, now),
    )
    db.changed(STAFF_TOPIC)  # the bot's announcer delivers the offer
    return rating_id


async def rating(db: Queryable, rating_id: int) -> Rating | None:
    row = await db.fetch_one(f"SELECT {_RATING} FROM customer_ratings WHERE id = ?", (rating_id,))
    return Rating(*row) if row else None


async def rating_by_token(db: Queryable, token_hash: str) -> Rating | None:
    row = await db.fetch_one(
        f"SELECT {_RATING} FROM customer_ratings WHERE token_hash = ?", (token_hash,)
    )
    return Rating(*row) if row else None


async def ratings_to_send(db: Queryable, limit: int = 20) -> list[Rating]:
    rows = await db.fetch_all(
        f"SELECT {_RATING} FROM customer_ratings WHERE sent_at IS NULL ORDER BY id LIMIT ?",
        (limit,),
    )
    return [Rating(*row) for row in rows]


async def rating_sent(db: Queryable, rating_id: int, token_hash: str | None, now: float) -> None:
    await db.execute(
        "UPDATE customer_ratings SET sent_at = ?, token_hash = coalesce(?, token_hash)"
        " WHERE id = ?",
        (now, token_hash, rating_id),
    )


async def rate(db: Queryable, rating_id: int, stars: int, now: float) -> None:
    await db.execute(
        "UPDATE customer_ratings SET stars = ?, rated_at = ? WHERE id = ?",
        (stars, now, rating_id),
    )


async def average_rating(db: Queryable, since: float, until: float) -> tuple[float | None, int]:
    """The average of the stars given from `since` until before `until`, and how many."""
    row = await db.fetch_one(
        "SELECT avg(stars), count(*) FROM customer_ratings"
        " WHERE stars IS NOT NULL AND rated_at >= ? AND rated_at < ?",
        (since, until),
    )
    assert row is not None
    return (float(row[0]) if row[0] is not None else None), int(row[1])


async def ticket_stars(db: Queryable, ticket_id: int, closed_at: float) -> int | None:
    """The stars the customer gave the ticket's closing at `closed_at` (an offer made then
    or later: a merged ticket's ratings moved in); an earlier closing's rating, before
    the customer reopened it, is not this one's (it stays in the ratings and the audit)."""
    value = await db.fetch_value(
        "SELECT stars FROM customer_ratings WHERE ticket_id = ? AND stars IS NOT NULL"
        " AND offered_at >= ? ORDER BY rated_at DESC, id DESC LIMIT 1",
        (ticket_id, closed_at),
    )
    return int(value) if value is not None else None

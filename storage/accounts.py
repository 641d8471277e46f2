"""Portal accounts, their one-time codes, and Telegram logins."""

from __future__ import annotations

from dataclasses import dataclass

from storage.db import Queryable


@dataclass(frozen=True)
class Account:
    id: int
    customer_id: str
    username: str
    email: str
    password_hash: str
    status: str  # pending | active | disabled
    created_at: float
    activated_at: float | None
    registered_by_tg: int | None
    # Set when a login looks at a customer ID the account added (`customer_id` is then
    # that one): the customer ID the account registered with.
    own_customer_id: str | None = None


@dataclass(frozen=True)
class Code:
    id: int
    account_id: int
    purpose: str  # activation | reset
    created_at: float
    expires_at: float
    used_at: float | None


@dataclass(frozen=True)
class Login:
    telegram_user_id: int
    account_id: int
    chat_id: int
    logged_in_at: float
    last_seen_at: float
    viewing: str | None = None  # the customer ID shown, None for the account's own


_ACCOUNT = (
    "id, customer_id, username, email, password_hash, status, created_at, activated_at,"
    " registered_by_tg"
)


async def by_id(db: Queryable, account_id: int) -> Account | None:
    row = await db.fetch_one(f"SELECT {_ACCOUNT} FROM portal_accounts WHERE id = ?", (account_id,))
    return Account(*row) if row else None


async def by_username(db: Queryable, username_key: str) -> Account | None:
    """The account whose casefolded user name is `username_key`."""
    row = await db.fetch_one(
        f"SELECT {_ACCOUNT} FROM portal_accounts WHERE username_key = ?", (username_key,)
    )
    return Account(*row) if row else None


async def by_looks(db: Queryable, looks: tuple[str, str]) -> list[Account]:
    """The accounts whose user name looks alike: either key of its look is the same."""
    rows = await db.fetch_all(
        f"SELECT {_ACCOUNT} FROM portal_accounts"
        " WHERE username_look_caps = ? OR username_look_small = ?",
        looks,
    )
    return [Account(*row) for row in rows]


async def without_looks(db: Queryable) -> list[tuple[int, str]]:
    """(id, user name) of the accounts whose look is not computed yet."""
    rows = await db.fetch_all(
        "SELECT id, username FROM portal_accounts WHERE username_look_caps IS NULL"
    )
    return [(row[0], row[1]) for row in rows]


async def set_looks(db: Queryable, account_id: int, looks: tuple[str, str]) -> None:
    await db.execute(
        "UPDATE portal_accounts SET username_look_caps = ?, username_look_small = ? WHERE id = ?",
        (*looks, account_id),
    )


async def by_customer(db: Queryable, customer_id: str) -> Account | None:
    row = await db.fetch_one(
        f"SELECT {_ACCOUNT} FROM portal_accounts WHERE customer_id = ?", (customer_id,)
    )
    return Account(*row) if row else None


async def pending_by_email(db: Queryable, email: str) -> list[Account]:
    """Pending accounts registered with this address (case-insensitive)."""
    rows = await db.fetch_all(
        f"SELECT {_ACCOUNT} FROM portal_accounts WHERE email = ? COLLATE NOCASE"
        " AND status = 'pending' ORDER BY created_at DESC",
        (email,),
    )
    return [Account(*row) for row in rows]


async def by_email(db: Queryable, email: str) -> list[Account]:
    """Every account registered with this address (case-insensitive)."""
    rows = await db.fetch_all(
        f"SELECT {_ACCOUNT} FROM portal_accounts WHERE email = ? COLLATE NOCASE",
        (email,),
    )
    return [Account(*row) for row in rows]


async def pending_registered_by(db: Queryable, telegram_user_id: int) -> Account | None:
    """The newest pending account this Telegram user registered."""
    row = await db.fetch_one(
        f"SELECT {_ACCOUNT} FROM portal_accounts WHERE registered_by_tg = ?"
        " AND status = 'pending' ORDER BY created_at DESC LIMIT 1",
        (telegram_user_id,),
    )
    return Account(*row) if row else None


async def delete(db: Queryable, account_id: int) -> None:
    """Remove an account (a pending one being replaced); codes and logins cascade."""
    await db.execute("DELETE FROM portal_accounts WHERE id = ?", (account_id,))


async def create(
    db: Queryable,
    *,
    customer_id: str,
    username: str,
    username_key: str,
    email: str,
    password_hash: str,
    now: float,
    registered_by_tg: int | None,
    username_looks: tuple[str, str] | None = None,
) -> int:
    """Insert a pending account; returns its id. Without `username_looks` (the two keys of
    how the name looks) they are computed before the next look-up."""
    caps, small = username_looks or (None, None)
    return await db.insert(
        "INSERT INTO portal_accounts(customer_id, username, username_key, username_look_caps,"
        " username_look_small, email, password_hash, status, created_at, registered_by_tg)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?)",
        (
            customer_id,
            username,
            username_key,
            caps,
            small,
            email,
            password_hash,
            now,
            registered_by_tg,
        ),
    )


async def activate(db: Queryable, account_id: int, now: float) -> None:
    await db.execute(
        "UPDATE portal_accounts SET status = 'active', activated_at = ? WHERE id = ?",
        (now, account_id),
    )


async def replace_hash(db: Queryable, account_id: int, old_hash: str, new_hash: str) -> None:
    """The same password's hash made with today's parameters: only if the password has not
    changed meanwhile (the old hash still stored)."""
    await db.execute(
        "UPDATE portal_accounts SET password_hash = ? WHERE id = ? AND password_hash = ?",
        (new_hash, account_id, old_hash),
    )


async def set_password(db: Queryable, account_id: int, password_hash: str, now: float) -> None:
    await db.execute(
        "UPDATE portal_accounts SET password_hash = ?, password_changed_at = ? WHERE id = ?",
        (password_hash, now, account_id),
    )


# --- codes ---------------------------------------------------------------------


async def add_code(
    db: Queryable, account_id: int, purpose: str, code_hash: str, now: float, expires_at: float
) -> None:
    """Store a new code; earlier unused codes of the same purpose stop working."""
    await db.execute(
        "DELETE FROM account_codes WHERE account_id = ? AND purpose = ? AND used_at IS NULL",
        (account_id, purpose),
    )
    await db.execute(
        "INSERT INTO account_codes(account_id, purpose, code_hash, created_at, expires_at)"
        " VALUES (?, ?, ?, ?, ?)",
        (account_id, purpose, code_hash, now, expires_at),
    )


async def code_by_hash(db: Queryable, purpose: str, code_hash: str) -> Code | None:
    row = await db.fetch_one(
        "SELECT id, account_id, purpose, created_at, expires_at, used_at FROM account_codes"
        " WHERE code_hash = ? AND purpose = ?",
        (code_hash, purpose),
    )
    return Code(*row) if row else None


async def use_code(db: Queryable, code_id: int, now: float) -> bool:
    """Mark a code used; False when it already was (a race lost)."""
    changed = await db.execute(
        "UPDATE account_codes SET used_at = ? WHERE id = ? AND used_at IS NULL", (now, code_id)
    )
    return changed == 1


# --- Telegram logins -------------------------------------------------------------


async def login_of(db: Queryable, telegram_user_id: int) -> Login | None:
    row = await db.fetch_one(
        "SELECT telegram_user_id, account_id, chat_id, logged_in_at, last_seen_at, viewing"
        " FROM telegram_logins WHERE telegram_user_id = ?",
        (telegram_user_id,),
    )
    return Login(*row) if row else None


_LOGIN_AND_ACCOUNT = (
    "SELECT l.telegram_user_id, l.account_id, l.chat_id, l.logged_in_at, l.last_seen_at,"
    " l.viewing, "
    + ", ".join(f"a.{column.strip()}" for column in _ACCOUNT.split(","))
    + " FROM telegram_logins l LEFT JOIN portal_accounts a ON a.id = l.account_id"
    " WHERE l.telegram_user_id = ?"
)


async def login_and_account(
    db: Queryable, telegram_user_id: int
) -> tuple[Login, Account | None] | None:
    """This Telegram user's login and the account it is to (None: gone), in one read:
    every page a logged-in customer opens asks for both."""
    row = await db.fetch_one(_LOGIN_AND_ACCOUNT, (telegram_user_id,))
    if row is None:
        return None
    login = Login(*row[:6])
    return login, (Account(*row[6:]) if row[6] is not None else None)


async def bind_login(
    db: Queryable, telegram_user_id: int, account_id: int, chat_id: int, now: float
) -> None:
    await db.execute(
        "INSERT INTO telegram_logins(telegram_user_id, account_id, chat_id, logged_in_at,"
        " last_seen_at) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT(telegram_user_id) DO UPDATE SET account_id = excluded.account_id,"
        " chat_id = excluded.chat_id, logged_in_at = excluded.logged_in_at,"
        " last_seen_at = excluded.last_seen_at, viewing = NULL",
        (telegram_user_id, account_id, chat_id, now, now),
    )


async def touch_login(db: Queryable, telegram_user_id: int, now: float) -> None:
    await db.execute(
        "UPDATE telegram_logins SET last_seen_at = ? WHERE telegram_user_id = ?",
        (now, telegram_user_id),
    )


async def drop_login(db: Queryable, telegram_user_id: int) -> bool:
    return (
        await db.execute(
            "DELETE FROM telegram_logins WHERE telegram_user_id = ?", (telegram_user_id,)
        )
        > 0
    )


async def drop_logins_of_account(
    db: Queryable, account_id: int, except_user: int | None = None
) -> int:
    """Log every Telegram user out of an account (but `except_user`)."""
    return await db.execute(
        "DELETE FROM telegram_logins WHERE account_id = ? AND telegram_user_id IS NOT ?",
        (account_id, except_user),
    )


async def chats_logged_in_to(db: Queryable, account_id: int) -> list[int]:
    """The private chats of the Telegram users logged in to an account, oldest login first."""
    rows = await db.fetch_all(
        "SELECT chat_id FROM telegram_logins WHERE account_id = ? ORDER BY logged_in_at",
        (account_id,),
    )
    return [int(row[0]) for row in rows]


# --- further customer IDs under one login (account_links) ---------------------------


async def linked_customers(db: Queryable, account_id: int) -> list[str]:
    """The customer IDs this account added, in the order they were added."""
    rows = await db.fetch_all(
        "SELECT customer_id FROM account_links WHERE account_id = ? ORDER BY added_at, customer_id",
        (account_id,),
    )
    return [row[0] for row in rows]


async def is_linked(db: Queryable, account_id: int, customer_id: str) -> bool:
    row = await db.fetch_one(
        "SELECT 1 FROM account_links WHERE account_id = ? AND customer_id = ?",
        (account_id, customer_id),
    )
    return row is not None


async def link_customer(
    db: Queryable, account_id: int, customer_id: str, telegram_user_id: int | None, now: float
) -> bool:
    """Add a customer ID to an account; False when it was there already."""
    changed = await db.execute(
        "INSERT INTO account_links(account_id, customer_id, added_at, added_by_tg)"
        " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
        (account_id, customer_id, now, telegram_user_id),
    )
    return changed == 1


async def unlink_customer(db: Queryable, account_id: int, customer_id: str) -> bool:
    """Remove an added customer ID from an account (and every login's view of it)."""
    changed = await db.execute(
        "DELETE FROM account_links WHERE account_id = ? AND customer_id = ?",
        (account_id, customer_id),
    )
    await db.execute(
        "UPDATE telegram_logins SET viewing = NULL WHERE account_id = ? AND viewing = ?",
        (account_id, customer_id),
    )
    return changed == 1


async def set_viewing(db: Queryable, telegram_user_id: int, customer_id: str | None) -> None:
    """The customer ID this Telegram login looks at (None: the account's own)."""
    await db.execute(
        "UPDATE telegram_logins SET viewing = ? WHERE telegram_user_id = ?",
        (customer_id, telegram_user_id),
    )

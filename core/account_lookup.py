"""Finding the account a chat step is about, without a door importing storage.

A new activation code goes to a pending registration: the one this Telegram
user made, or the newest one registered with a given address. A password
reset remembers its account by ID between two questions.
"""

from __future__ import annotations

from core.db import Queryable
from storage import accounts as store
from storage.accounts import Account

__all__ = ["Account", "by_id", "pending_registered_by", "pending_with_email"]


async def pending_registered_by(db: Queryable, telegram_user_id: int) -> Account | None:
    """The newest pending registration this Telegram user made, if any."""
    return await store.pending_registered_by(db, telegram_user_id)


async def pending_with_email(db: Queryable, email: str) -> Account | None:
    """The newest pending registration with this address (any case), if any."""
    pending = await store.pending_by_email(db, email)
    return pending[0] if pending else None


async def by_id(db: Queryable, account_id: int) -> Account | None:
    """An account by its ID (as a reset in progress remembers it)."""
    return await store.by_id(db, account_id)

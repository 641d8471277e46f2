"""Finding the account a chat step is about, without a door importing storage.

A new activation code on request goes to the pending registration this
Telegram user made (one asked for by address goes through
`accounts.request_activation_code`, which tells nobody whether there is one).
A password reset remembers its account by ID between two questions.
"""

from __future__ import annotations

from core.db import Queryable
from storage import accounts as store
from storage.accounts import Account

__all__ = ["Account", "by_id", "pending_registered_by"]


async def pending_registered_by(db: Queryable, telegram_user_id: int) -> Account | None:
    """The newest pending registration this Telegram user made, if any."""
    return await store.pending_registered_by(db, telegram_user_id)


async def by_id(db: Queryable, account_id: int) -> Account | None:
    """An account by its ID (as a reset in progress remembers it)."""
    return await store.by_id(db, account_id)

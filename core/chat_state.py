"""What the chat remembers across restarts: each dialogue's state and each user's drafts.

Both are JSON in the `bot_state` table. A conversation's key is the tuple
python-telegram-bot uses (chat and user IDs); its state is the dialogue state's
name. User data are a user's drafts (a registration half typed, a reset in
progress), never a password: those are hashed before they are kept.
"""

from __future__ import annotations

import json
from typing import Any

from core.db import Queryable
from storage import bot_state

_USER = "user"


def _conversation_kind(name: str) -> str:
    return f"conversation:{name}"


async def conversations(db: Queryable, name: str) -> dict[tuple[Any, ...], object]:
    """Every remembered state of the conversation handler `name`, by its key."""
    stored = await bot_state.load_kind(db, _conversation_kind(name))
    return {tuple(json.loads(key)): json.loads(value) for key, value in stored.items()}


async def set_conversation(
    db: Queryable, name: str, key: tuple[Any, ...], state: object | None
) -> None:
    """Remember a conversation's new state; None forgets it (the dialogue ended)."""
    kind, json_key = _conversation_kind(name), json.dumps(list(key))
    if state is None:
        await bot_state.drop(db, kind, json_key)
    else:
        await bot_state.put(db, kind, json_key, json.dumps(state))


async def user_data(db: Queryable) -> dict[int, dict[Any, Any]]:
    """Every user's remembered data, by Telegram user ID."""
    stored = await bot_state.load_kind(db, _USER)
    return {int(key): json.loads(value) for key, value in stored.items()}


async def set_user_data(db: Queryable, user_id: int, data: dict[Any, Any]) -> None:
    """Remember a user's data; empty data are forgotten."""
    if data:
        await bot_state.put(db, _USER, str(user_id), json.dumps(data))
    else:
        await bot_state.drop(db, _USER, str(user_id))


async def drop_user_data(db: Queryable, user_id: int) -> None:
    """Forget a user's data."""
    await bot_state.drop(db, _USER, str(user_id))

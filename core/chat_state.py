"""What the chat remembers across restarts: each dialogue's state and each user's drafts.

Both are JSON in the `bot_state` table of the bot's own state file
(PETKOMM_STATE_DB, which only the running service writes), beside the Telegram
updates whose handling left them (`core.updates`). A conversation's key is the
tuple python-telegram-bot uses (chat and user IDs); its state is the dialogue
state's name. User data are a user's drafts (a registration half typed, a reset
in progress), never a password: those are hashed before they are kept.

Before the state file existed they were kept in the main database's `bot_state`;
`carry_over` moves them into a new state file once.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from core.db import Database, DatabaseBusy, Queryable
from storage import bot_state

log = logging.getLogger(f"petkomm.{__name__}")

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


async def carry_over(state: Database, main: Database, now: float) -> int:
    """Copy the dialogue states and user data the main database kept into a new state file,
    once, so that customers mid-dialogue during the upgrade keep their place; returns how
    many were copied now (0 when the state file had them already).

    The copy and its record commit together in the state file. The main database's rows
    are forgotten afterwards (they may hold a half-typed registration), but only if its
    write lock is free: else at the next start, not holding this one up.
    """
    copied = 0
    if not await bot_state.carried_over(state):
        rows = await bot_state.all_rows(main)
        async with state.transaction() as tx:
            await bot_state.put_new(tx, rows)
            await bot_state.mark_carried_over(tx, now, len(rows))
        copied = len(rows)
        log.info(
            "carried %d dialogue state rows over from %s into %s", copied, main.path, state.path
        )
    if await bot_state.all_rows(main):
        try:
            with main.patience(0):
                await bot_state.drop_all(main)
        except DatabaseBusy:
            log.info("the main database is busy: its old dialogue states are cleared next time")
    return copied

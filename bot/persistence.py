"""python-telegram-bot persistence over the SQLite database.

Conversation states and user data are JSON in `bot_state`; the update
processor flushes after every update, so a restart mid-dialogue resumes it.
Chat data, bot data and callback data are not persisted (the bot keeps its
services in bot_data, which must not be written anywhere).
"""

from __future__ import annotations

import json
from typing import Any

from telegram.ext import BasePersistence, PersistenceInput
from telegram.ext._utils.types import ConversationDict, ConversationKey

from storage import bot_state
from storage.db import Database


class SqlitePersistence(BasePersistence[dict, dict, dict]):
    """Stores conversations and user_data in the project's database."""

    def __init__(self, db: Database) -> None:
        super().__init__(
            store_data=PersistenceInput(
                bot_data=False, chat_data=False, user_data=True, callback_data=False
            ),
            update_interval=60,
        )
        self.db = db

    async def get_conversations(self, name: str) -> ConversationDict:
        stored = await bot_state.load_kind(self.db, f"conversation:{name}")
        return {tuple(json.loads(key)): json.loads(value) for key, value in stored.items()}

    async def update_conversation(
        self, name: str, key: ConversationKey, new_state: object | None
    ) -> None:
        kind, json_key = f"conversation:{name}", json.dumps(list(key))
        if new_state is None:
            await bot_state.drop(self.db, kind, json_key)
        else:
            await bot_state.put(self.db, kind, json_key, json.dumps(new_state))

    async def get_user_data(self) -> dict[int, dict[Any, Any]]:
        stored = await bot_state.load_kind(self.db, "user")
        return {int(key): json.loads(value) for key, value in stored.items()}

    async def update_user_data(self, user_id: int, data: dict[Any, Any]) -> None:
        if data:
            await bot_state.put(self.db, "user", str(user_id), json.dumps(data))
        else:
            await bot_state.drop(self.db, "user", str(user_id))

    async def drop_user_data(self, user_id: int) -> None:
        await bot_state.drop(self.db, "user", str(user_id))

    async def refresh_user_data(self, user_id: int, user_data: dict[Any, Any]) -> None:
        """Nothing: this process is the only writer."""

    # Not persisted (see the module docstring).
    async def get_chat_data(self) -> dict[int, dict[Any, Any]]:
        return {}

    async def update_chat_data(self, chat_id: int, data: dict[Any, Any]) -> None:
        pass

    async def drop_chat_data(self, chat_id: int) -> None:
        pass

    async def refresh_chat_data(self, chat_id: int, chat_data: dict[Any, Any]) -> None:
        pass

    async def get_bot_data(self) -> dict[Any, Any]:
        return {}

    async def update_bot_data(self, data: dict[Any, Any]) -> None:
        pass

    async def refresh_bot_data(self, bot_data: dict[Any, Any]) -> None:
        pass

    async def get_callback_data(self) -> None:
        return None

    async def update_callback_data(self, data: Any) -> None:
        pass

    async def flush(self) -> None:
        """Every write is already committed."""

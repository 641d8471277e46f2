"""python-telegram-bot persistence over the SQLite database.

Conversation states and user data are kept by `core.chat_state`; the update
processor flushes after every update, so a restart mid-dialogue resumes it.
A flush only collects the changes (`take_writes`): the application commits
them in the transaction that marks the handled updates done
(`bot.updates.DurableApplication`), so a state and its update are never apart.
Chat data, bot data and callback data are not persisted (nothing uses them).
"""

from __future__ import annotations

from functools import partial
from typing import Any

from telegram.ext import BasePersistence, PersistenceInput
from telegram.ext._utils.types import ConversationDict, ConversationKey

from core import chat_state
from core.db import Database
from core.updates import Write


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
        self._writes: list[Write] = []

    def take_writes(self) -> list[Write]:
        """The changes collected since the last call, oldest first, to be committed now."""
        writes, self._writes = self._writes, []
        return writes

    def put_back(self, writes: list[Write]) -> None:
        """Changes whose commit failed: they go first in the next one."""
        self._writes[:0] = writes

    async def get_conversations(self, name: str) -> ConversationDict:
        return await chat_state.conversations(self.db, name)

    async def update_conversation(
        self, name: str, key: ConversationKey, new_state: object | None
    ) -> None:
        self._writes.append(
            partial(chat_state.set_conversation, name=name, key=key, state=new_state)
        )

    async def get_user_data(self) -> dict[int, dict[Any, Any]]:
        return await chat_state.user_data(self.db)

    async def update_user_data(self, user_id: int, data: dict[Any, Any]) -> None:
        self._writes.append(partial(chat_state.set_user_data, user_id=user_id, data=data))

    async def drop_user_data(self, user_id: int) -> None:
        self._writes.append(partial(chat_state.drop_user_data, user_id=user_id))

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
        """Nothing: the application commits each flush's changes itself."""

"""python-telegram-bot persistence over the bot's own state file (PETKOMM_STATE_DB).

Conversation states and user data are kept by `core.chat_state`; the update
processor flushes after every update, so a restart mid-dialogue resumes it.
A flush only collects the changes (`take_writes`): the application commits
them in the transaction that marks the handled updates done
(`bot.updates.DurableApplication`), so a state and its update are never apart.
Only what changed is collected: python-telegram-bot hands over the data of every
user it saw, and a page view that changes nothing need not write at all.
Chat data, bot data and callback data are not persisted (nothing uses them).
"""

from __future__ import annotations

import copy
from functools import partial
from typing import Any

from telegram.ext import BasePersistence, PersistenceInput
from telegram.ext._utils.types import ConversationDict, ConversationKey

from core import chat_state
from core.db import Database
from core.updates import Write


class SqlitePersistence(BasePersistence[dict, dict, dict]):
    """Stores conversations and user_data in the bot's state file (`db`), the file that
    also keeps the received updates: a flush and its done marks commit there together."""

    def __init__(self, db: Database) -> None:
        super().__init__(
            store_data=PersistenceInput(
                bot_data=False, chat_data=False, user_data=True, callback_data=False
            ),
            update_interval=60,
        )
        self.db = db
        self._writes: list[Write] = []
        # What the database holds, as read at start and collected since (this process is
        # its only writer): a change that would change nothing is not collected.
        self._states: dict[tuple[str, ConversationKey], object] = {}
        self._users: dict[int, dict[Any, Any]] = {}

    def take_writes(self) -> list[Write]:
        """The changes collected since the last call, oldest first, to be committed now."""
        writes, self._writes = self._writes, []
        return writes

    def put_back(self, writes: list[Write]) -> None:
        """Changes whose commit failed: they go first in the next one."""
        self._writes[:0] = writes

    async def get_conversations(self, name: str) -> ConversationDict:
        found = await chat_state.conversations(self.db, name)
        self._states.update(((name, key), state) for key, state in found.items())
        return found

    async def update_conversation(
        self, name: str, key: ConversationKey, new_state: object | None
    ) -> None:
        if self._states.get((name, key)) == new_state:
            return
        self._writes.append(
            partial(chat_state.set_conversation, name=name, key=key, state=new_state)
        )
        if new_state is None:
            self._states.pop((name, key), None)
        else:
            self._states[(name, key)] = new_state

    async def get_user_data(self) -> dict[int, dict[Any, Any]]:
        found = await chat_state.user_data(self.db)
        # A copy: the application changes its user data in place.
        self._users = copy.deepcopy(found)
        return found

    async def update_user_data(self, user_id: int, data: dict[Any, Any]) -> None:
        # `data` is the application's deep copy: ours to keep.
        if data == self._users.get(user_id, {}):
            return
        self._writes.append(partial(chat_state.set_user_data, user_id=user_id, data=data))
        if data:
            self._users[user_id] = data
        else:
            self._users.pop(user_id, None)

    async def drop_user_data(self, user_id: int) -> None:
        if user_id not in self._users:
            return
        self._writes.append(partial(chat_state.drop_user_data, user_id=user_id))
        del self._users[user_id]

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

"""Everything the emulated Telegram remembers: chats, files, callback queries, commands."""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Callable
from typing import Any

from .chats import ChatState
from .errors import bad_request
from .models import ApiCall, CallbackAnswer, CallbackQueryRecord, ChatMessage, StoredFile

MessageListener = Callable[[str, ChatMessage], None]


class EmulatorState:
    """Shared store behind the HTTP API and the simulated people."""

    def __init__(self, bot_user: dict[str, Any]) -> None:
        self.bot_user = bot_user
        self.chats: dict[int, ChatState] = {}
        self.users: dict[int, dict[str, Any]] = {}
        self.files: dict[str, StoredFile] = {}
        self.callback_queries: dict[str, CallbackQueryRecord] = {}
        self.callback_answers: list[CallbackAnswer] = []
        self.requests: list[ApiCall] = []
        self.commands: dict[str, list[dict[str, Any]]] = {}
        self.default_menu_button: dict[str, Any] = {"type": "commands"}
        self.listeners: list[MessageListener] = []
        self._file_counter = itertools.count(1)
        self._query_counter = itertools.count(1)

    @property
    def bot_id(self) -> int:
        """The bot's user id (the number before the colon of its token)."""
        return int(self.bot_user["id"])

    def emit(self, event: str, message: ChatMessage) -> None:
        """Tell listeners that the bot 'sent', 'edited' or 'deleted' ``message``."""
        for listener in list(self.listeners):
            listener(event, message)

    def add_chat(self, chat: ChatState) -> ChatState:
        """Register a chat; an existing chat with the same id is returned instead."""
        return self.chats.setdefault(chat.chat_id, chat)

    def resolve_chat(self, chat_ref: int | str) -> ChatState:
        """The chat a ``chat_id`` parameter names (id or ``@username``).

        Raises ApiError 400 "chat not found" like Telegram.
        """
        if isinstance(chat_ref, str):
            if chat_ref.startswith("@"):
                name = chat_ref[1:].lower()
                for chat in self.chats.values():
                    if chat.username and chat.username.lower() == name and not chat.is_private:
                        return chat
            raise bad_request("chat not found")
        chat = self.chats.get(chat_ref)
        if chat is None:
            raise bad_request("chat not found")
        return chat

    def add_file(
        self, content: bytes, file_name: str | None, mime_type: str | None = None
    ) -> StoredFile:
        """Remember file content under fresh ``file_id``/``file_unique_id`` values."""
        number = next(self._file_counter)
        digest = hashlib.sha1(content + str(number).encode()).hexdigest()
        stored = StoredFile(
            file_id=f"EMU{number:06d}{digest[:24]}",
            file_unique_id=f"U{number:06d}{digest[:8]}",
            file_name=file_name,
            content=content,
            mime_type=mime_type,
        )
        self.files[stored.file_id] = stored
        return stored

    def file_by_path(self, file_path: str) -> StoredFile | None:
        """The stored file whose download path is ``file_path``."""
        return next((f for f in self.files.values() if f.file_path == file_path), None)

    def new_callback_query(
        self, chat_id: int, message_id: int, data: str | None
    ) -> CallbackQueryRecord:
        """Create the record of a button press awaiting answerCallbackQuery."""
        query_id = f"{self.bot_id % 100000}{next(self._query_counter):08d}"
        record = CallbackQueryRecord(query_id, chat_id, message_id, data)
        self.callback_queries[query_id] = record
        return record

    @staticmethod
    def commands_key(scope: dict[str, Any] | None, language_code: str | None) -> str:
        """Storage key of a command list (per scope and language, as Telegram keeps them)."""
        return json.dumps([scope or {"type": "default"}, language_code or ""], sort_keys=True)

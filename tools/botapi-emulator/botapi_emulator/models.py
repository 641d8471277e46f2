"""Plain records the emulator keeps: uploads, messages, chats, logged calls."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class UploadedFile:
    """A file part of a multipart request."""

    field_name: str
    filename: str | None
    content: bytes
    content_type: str | None = None

    @property
    def size(self) -> int:
        """Size in bytes."""
        return len(self.content)

    def __repr__(self) -> str:  # keep logs short: no file content
        return f"UploadedFile({self.field_name!r}, {self.filename!r}, {self.size} bytes)"


@dataclass
class StoredFile:
    """A file known to the emulator, reachable by ``file_id`` and downloadable via getFile."""

    file_id: str
    file_unique_id: str
    file_name: str | None
    content: bytes
    mime_type: str | None = None

    @property
    def file_path(self) -> str:
        """The path part of the download URL."""
        return f"files/{self.file_unique_id}/{self.file_name or 'file'}"


@dataclass
class ChatMessage:
    """One message in a chat, from the bot or from a simulated user.

    ``text`` is the plain text after entity parsing, ``html`` the text exactly as the bot sent
    it (with markup), ``entities`` the parsed formatting. Media messages keep their caption
    in ``caption`` and their media object(s) in ``media`` (e.g. ``{"document": {...}}``).
    """

    message_id: int
    chat_id: int
    from_bot: bool
    sender: dict[str, Any]
    date: int = field(default_factory=lambda: int(time.time()))
    text: str | None = None
    html: str | None = None
    entities: list[dict[str, Any]] = field(default_factory=list)
    caption: str | None = None
    caption_html: str | None = None
    caption_entities: list[dict[str, Any]] = field(default_factory=list)
    parse_mode: str | None = None
    reply_markup: dict[str, Any] | None = None
    reply_to_message_id: int | None = None
    media: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    deleted: bool = False
    edited: bool = False
    edit_date: int | None = None

    @property
    def kind(self) -> str:
        """'text', or the media key ('document', 'photo', 'sticker', ...), or 'empty'."""
        if self.text is not None:
            return "text"
        return next(iter(self.media), "empty")

    @property
    def document(self) -> dict[str, Any] | None:
        """The ``Document`` object of a file message (file_name, file_size, ...), if any."""
        return self.media.get("document")

    @property
    def photo(self) -> list[dict[str, Any]] | None:
        """The ``PhotoSize`` objects of a photo message (the largest last), if any."""
        return self.media.get("photo")

    @property
    def inline_keyboard(self) -> list[list[dict[str, Any]]] | None:
        """The inline keyboard rows attached to this message, if any."""
        if self.reply_markup and "inline_keyboard" in self.reply_markup:
            return self.reply_markup["inline_keyboard"]
        return None

    def to_json(self, chat: dict[str, Any], reply_to: ChatMessage | None = None) -> dict[str, Any]:
        """The Bot API ``Message`` object for this message."""
        data: dict[str, Any] = {
            "message_id": self.message_id,
            "from": dict(self.sender),
            "chat": dict(chat),
            "date": self.date,
        }
        if self.edit_date is not None:
            data["edit_date"] = self.edit_date
        if reply_to is not None:
            data["reply_to_message"] = reply_to.to_json(chat)
        if self.text is not None:
            data["text"] = self.text
            if self.entities:
                data["entities"] = [dict(e) for e in self.entities]
        data.update(self.media)
        if self.caption is not None:
            data["caption"] = self.caption
            if self.caption_entities:
                data["caption_entities"] = [dict(e) for e in self.caption_entities]
        data.update(self.extra)
        if self.inline_keyboard is not None:
            data["reply_markup"] = self.reply_markup
        return data


@dataclass
class ApiCall:
    """One logged Bot API request and its outcome."""

    method: str
    params: dict[str, Any]
    ok: bool
    error_code: int | None = None
    description: str | None = None
    result: Any = None
    time: float = field(default_factory=time.time)


@dataclass
class CallbackAnswer:
    """One successful answerCallbackQuery call."""

    callback_query_id: str
    text: str | None
    show_alert: bool
    url: str | None = None
    cache_time: int | None = None
    data: str | None = None
    message_id: int | None = None


@dataclass
class CallbackQueryRecord:
    """A callback query the emulator created, until the bot answers it."""

    query_id: str
    chat_id: int
    message_id: int
    data: str | None
    answered: bool = False

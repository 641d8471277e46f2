"""One chat as the emulator sees it: its messages (both sides) and the keyboard shown in it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .keyboards import inline_rows, markup_kind, reply_rows
from .models import ChatMessage


@dataclass
class ChatState:
    """A private chat with a simulated user, or a group the bot is a member of.

    Message ids increase per chat and are shared by the bot's and the users' messages,
    as on Telegram.
    """

    chat_id: int
    type: str
    title: str | None = None
    user: dict[str, Any] | None = None
    username: str | None = None
    bot_is_admin: bool = False
    privacy_mode: bool = True
    blocked: bool = False
    reply_keyboard_markup: dict[str, Any] | None = None
    reply_keyboard_hidden: bool = False
    menu_button: dict[str, Any] | None = None
    actions: list[str] = field(default_factory=list)
    _messages: list[ChatMessage] = field(default_factory=list, repr=False)
    _by_id: dict[int, ChatMessage] = field(default_factory=dict, repr=False)
    _next_message_id: int = 1

    # -- identity --------------------------------------------------------------------------

    @property
    def is_private(self) -> bool:
        """True for a one-to-one chat with a user."""
        return self.type == "private"

    def to_json(self) -> dict[str, Any]:
        """The Bot API ``Chat`` object."""
        data: dict[str, Any] = {"id": self.chat_id, "type": self.type}
        if self.is_private and self.user is not None:
            for key in ("first_name", "last_name", "username"):
                if self.user.get(key):
                    data[key] = self.user[key]
        else:
            data["title"] = self.title or ""
            if self.username:
                data["username"] = self.username
        return data

    # -- messages --------------------------------------------------------------------------

    def next_message_id(self) -> int:
        """Reserve the next message id of this chat."""
        message_id = self._next_message_id
        self._next_message_id += 1
        return message_id

    def add(self, message: ChatMessage) -> ChatMessage:
        """Store a new message."""
        self._messages.append(message)
        self._by_id[message.message_id] = message
        return message

    def get(self, message_id: int) -> ChatMessage | None:
        """The message with this id, deleted or not."""
        return self._by_id.get(message_id)

    def message_json(self, message: ChatMessage) -> dict[str, Any]:
        """``Message`` JSON including one level of ``reply_to_message``."""
        reply_to = None
        if message.reply_to_message_id is not None:
            target = self.get(message.reply_to_message_id)
            if target is not None and not target.deleted:
                reply_to = target
        return message.to_json(self.to_json(), reply_to)

    @property
    def messages(self) -> list[ChatMessage]:
        """Every message of the chat in order, from both sides, deleted ones included."""
        return list(self._messages)

    @property
    def replies(self) -> list[ChatMessage]:
        """The bot's messages that are not deleted."""
        return [m for m in self._messages if m.from_bot and not m.deleted]

    @property
    def last_reply(self) -> ChatMessage | None:
        """The newest non-deleted bot message, or None."""
        replies = self.replies
        return replies[-1] if replies else None

    def last_inline_message(self) -> ChatMessage | None:
        """The newest non-deleted bot message that carries an inline keyboard."""
        for message in reversed(self._messages):
            if message.from_bot and not message.deleted and message.inline_keyboard:
                return message
        return None

    def inline_buttons(
        self, message: ChatMessage | int | None = None
    ) -> list[list[tuple[str, str | None]]]:
        """Rows of ``(text, callback_data or url)`` of ``message`` (default: the last bot
        message with an inline keyboard); empty if there is none."""
        if isinstance(message, int):
            message = self.get(message)
        elif message is None:
            message = self.last_inline_message()
        return inline_rows(message.reply_markup) if message is not None else []

    # -- reply keyboard --------------------------------------------------------------------

    @property
    def reply_keyboard(self) -> list[list[str]] | None:
        """Labels of the reply keyboard currently shown, row by row; None if none."""
        if self.reply_keyboard_markup is None or self.reply_keyboard_hidden:
            return None
        return reply_rows(self.reply_keyboard_markup)

    def apply_reply_markup(self, markup: dict[str, Any] | None) -> None:
        """Update the shown reply keyboard after the bot sent a message with ``markup``."""
        if markup is None:
            return
        kind = markup_kind(markup)
        if kind == "reply":
            self.reply_keyboard_markup = markup
            self.reply_keyboard_hidden = False
        elif kind == "remove":
            self.reply_keyboard_markup = None
            self.reply_keyboard_hidden = False

    def reply_keyboard_used(self) -> None:
        """A reply keyboard button was pressed: a one-time keyboard hides."""
        if self.reply_keyboard_markup and self.reply_keyboard_markup.get("one_time_keyboard"):
            self.reply_keyboard_hidden = True

    def find_reply_button(self, text: str) -> str | dict[str, Any] | None:
        """The shown reply keyboard button labelled ``text``, or None."""
        if self.reply_keyboard is None or self.reply_keyboard_markup is None:
            return None
        for row in self.reply_keyboard_markup["keyboard"]:
            for button in row:
                label = button if isinstance(button, str) else button.get("text")
                if label == text:
                    return button
        return None

"""Simulated Telegram users: what they type and tap becomes updates for the bot.

All actions are synchronous: they queue the update and return its ``update_id`` (or None when
Telegram would not deliver it, e.g. a plain group message under privacy mode). Use
``await emulator.wait_delivered(update_id)`` to wait until the bot fetched it, and
``await user.wait_reply()`` / ``await emulator.wait_for(...)`` to wait for the bot's reaction.
"""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from .chats import ChatState
from .keyboards import inline_rows
from .models import ChatMessage
from .text_utils import utf16_len

if TYPE_CHECKING:
    from .server import BotApiEmulator

START_PAYLOAD = re.compile(r"[A-Za-z0-9_-]{1,64}")
_AUTO_ENTITIES = (
    ("bot_command", re.compile(r"(?<!\S)/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?")),
    ("url", re.compile(r"(?<!\S)https?://[^\s<>\"]+")),
    ("mention", re.compile(r"(?<![\w@])@[A-Za-z0-9_]{5,32}\b")),
)

ChatRef = ChatState | int | None


def detect_entities(text: str) -> list[dict[str, Any]]:
    """Entities Telegram's server adds to a user's text: bot commands, URLs, mentions."""
    entities = []
    for kind, pattern in _AUTO_ENTITIES:
        for match in pattern.finditer(text):
            entities.append(
                {
                    "type": kind,
                    "offset": utf16_len(text[: match.start()]),
                    "length": utf16_len(match.group()),
                }
            )
    return sorted(entities, key=lambda e: e["offset"])


class SimulatedUser:
    """A person talking to the bot, in their private chat or in a group."""

    def __init__(self, emulator: BotApiEmulator, user: dict[str, Any], chat: ChatState) -> None:
        self._emu = emulator
        self.user = user
        self.opened_urls: list[str] = []
        # What the last copy_text button this person tapped put on their clipboard.
        self.clipboard: str | None = None
        self._private_chat = chat

    def __repr__(self) -> str:
        return f"SimulatedUser(id={self.user_id}, first_name={self.user['first_name']!r})"

    # -- identity and views ----------------------------------------------------------------

    @property
    def user_id(self) -> int:
        """The user's Telegram id (also the id of their private chat with the bot)."""
        return int(self.user["id"])

    @property
    def chat(self) -> ChatState:
        """The private chat with the bot."""
        return self._private_chat

    @property
    def messages(self) -> list[ChatMessage]:
        """All messages of the private chat, both sides, deleted ones included."""
        return self.chat.messages

    @property
    def replies(self) -> list[ChatMessage]:
        """The bot's non-deleted messages in the private chat."""
        return self.chat.replies

    @property
    def last_reply(self) -> ChatMessage | None:
        """The newest non-deleted bot message in the private chat."""
        return self.chat.last_reply

    @property
    def reply_keyboard(self) -> list[list[str]] | None:
        """Labels of the reply keyboard the bot currently shows in the private chat."""
        return self.chat.reply_keyboard

    def inline_buttons(
        self, message: ChatMessage | int | None = None
    ) -> list[list[tuple[str, str | None]]]:
        """Rows of ``(text, callback_data or url)`` of ``message`` (default: the last bot
        message with an inline keyboard in the private chat)."""
        return self.chat.inline_buttons(message)

    def block(self) -> None:
        """Block the bot: its sends to this user fail with 403 until the user writes again."""
        self.chat.blocked = True

    # -- sending ---------------------------------------------------------------------------

    def _resolve(self, chat: ChatRef) -> ChatState:
        if chat is None:
            return self.chat
        if isinstance(chat, ChatState):
            return chat
        return self._emu.chat(chat)

    def _post(
        self,
        chat: ChatState,
        *,
        text: str | None = None,
        media: dict[str, Any] | None = None,
        caption: str | None = None,
        reply_to: int | None = None,
    ) -> int | None:
        if reply_to is not None:
            target = chat.get(reply_to)
            if target is None or target.deleted:
                raise LookupError(f"message {reply_to} does not exist in chat {chat.chat_id}")
        message = ChatMessage(
            message_id=chat.next_message_id(),
            chat_id=chat.chat_id,
            from_bot=False,
            sender=dict(self.user),
            text=text,
            html=text,
            entities=detect_entities(text) if text else [],
            caption=caption,
            caption_entities=detect_entities(caption) if caption else [],
            media=media or {},
            reply_to_message_id=reply_to,
        )
        chat.add(message)
        if chat.is_private:
            chat.blocked = False
        if not self._bot_sees(chat, message):
            return None
        return self._emu.push_update("message", chat.message_json(message))

    def _bot_sees(self, chat: ChatState, message: ChatMessage) -> bool:
        """Privacy mode: in groups the bot only gets commands and replies to its messages."""
        if chat.is_private or chat.bot_is_admin or not chat.privacy_mode:
            return True
        if message.reply_to_message_id is not None:
            target = chat.get(message.reply_to_message_id)
            if target is not None and target.from_bot:
                return True
        text = message.text or ""
        match = re.match(r"/[A-Za-z0-9_]+(?:@(\w+))?", text)
        if match is None:
            return False
        addressee = match.group(1)
        return addressee is None or addressee.lower() == self._emu.bot_username.lower()

    def send_text(
        self, text: str, *, chat: ChatRef = None, reply_to: int | None = None
    ) -> int | None:
        """Type and send ``text``; in a group pass ``chat=``, to reply pass ``reply_to=``."""
        if not text.strip():
            raise ValueError("Telegram clients do not send empty messages")
        if len(text) > 4096:
            raise ValueError("Telegram clients split texts longer than 4096 characters")
        return self._post(self._resolve(chat), text=text, reply_to=reply_to)

    def send_command(
        self,
        command: str,
        payload: str | None = None,
        *,
        chat: ChatRef = None,
        reply_to: int | None = None,
    ) -> int | None:
        """Send ``/command [payload]``. A ``/start`` payload must be a valid deep-link
        parameter (1-64 of ``A-Za-z0-9_-``), else ValueError: Telegram would not send it."""
        command = command.lstrip("/")
        if command.split("@", 1)[0] == "start" and payload is not None:
            if not START_PAYLOAD.fullmatch(payload):
                raise ValueError(
                    f"invalid /start payload {payload!r}: deep-link parameters are 1-64 "
                    "characters of A-Z, a-z, 0-9, _ and -"
                )
        text = f"/{command}" if payload is None else f"/{command} {payload}"
        return self._post(self._resolve(chat), text=text, reply_to=reply_to)

    def open_link(self, url: str) -> int | None:
        """Open a ``https://t.me/<bot>?start=<payload>`` deep link (sends ``/start payload``).

        Links to other bots or other sites are only recorded in ``opened_urls``.
        """
        parts = urlsplit(url)
        username = parts.path.strip("/")
        is_bot_link = parts.netloc in ("t.me", "telegram.me") and (
            username.lower() == self._emu.bot_username.lower()
        )
        if not is_bot_link:
            self.opened_urls.append(url)
            return None
        query = parse_qs(parts.query, keep_blank_values=True)
        payload = query.get("start", [None])[0]
        return self.send_command("start", payload or None)

    def _file_message(
        self, key: str, content: bytes, file_name: str | None, mime_type: str | None
    ) -> dict[str, Any]:
        stored = self._emu.store_file(content, file_name, mime_type)
        data: dict[str, Any] = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(content),
        }
        if file_name and key == "document":
            data["file_name"] = file_name
        if mime_type and key in ("document", "voice"):
            data["mime_type"] = mime_type
        return data

    def send_sticker(self, emoji: str = "👍", *, chat: ChatRef = None) -> int | None:
        """Send a (static, regular) sticker."""
        sticker = self._file_message("sticker", b"RIFF....WEBP", None, None)
        sticker.update(
            type="regular", width=512, height=512, is_animated=False, is_video=False, emoji=emoji
        )
        return self._post(self._resolve(chat), media={"sticker": sticker})

    def send_photo(
        self, caption: str | None = None, *, content: bytes = b"\xff\xd8\xff", chat: ChatRef = None
    ) -> int | None:
        """Send a photo (Telegram delivers several sizes; here one)."""
        photo = self._file_message("photo", content, None, None)
        photo.update(width=1280, height=960)
        return self._post(self._resolve(chat), media={"photo": [photo]}, caption=caption)

    def send_document(
        self,
        file_name: str = "document.pdf",
        content: bytes = b"%PDF-1.4\n%test\n",
        mime_type: str | None = "application/pdf",
        caption: str | None = None,
        *,
        chat: ChatRef = None,
    ) -> int | None:
        """Send a file; the bot can download ``content`` through getFile."""
        document = self._file_message("document", content, file_name, mime_type)
        return self._post(self._resolve(chat), media={"document": document}, caption=caption)

    def send_location(
        self, latitude: float = 47.4979, longitude: float = 19.0402, *, chat: ChatRef = None
    ) -> int | None:
        """Share a location (default: Budapest)."""
        location = {"latitude": latitude, "longitude": longitude}
        return self._post(self._resolve(chat), media={"location": location})

    def send_contact(
        self,
        phone_number: str = "+36301234567",
        first_name: str | None = None,
        last_name: str | None = None,
        *,
        own: bool = True,
        chat: ChatRef = None,
    ) -> int | None:
        """Share a contact; by default the user's own (with their ``user_id``)."""
        contact: dict[str, Any] = {
            "phone_number": phone_number,
            "first_name": first_name or self.user["first_name"],
        }
        if last_name or (own and self.user.get("last_name")):
            contact["last_name"] = last_name or self.user["last_name"]
        if own:
            contact["user_id"] = self.user_id
        return self._post(self._resolve(chat), media={"contact": contact})

    def edit_text(self, message_id: int, text: str, *, chat: ChatRef = None) -> int | None:
        """Edit one of the user's own text messages (an ``edited_message`` update)."""
        target_chat = self._resolve(chat)
        message = target_chat.get(message_id)
        if message is None or message.deleted or message.from_bot:
            raise LookupError(f"no message {message_id} of this user in chat {target_chat.chat_id}")
        if message.sender.get("id") != self.user_id or message.text is None:
            raise LookupError(f"message {message_id} is not a text message of this user")
        message.text = message.html = text
        message.entities = detect_entities(text)
        message.edited = True
        message.edit_date = max(int(time.time()), message.date)
        if not self._bot_sees(target_chat, message):
            return None
        return self._emu.push_update("edited_message", target_chat.message_json(message))

    # -- buttons ---------------------------------------------------------------------------

    def press(self, text: str, *, chat: ChatRef = None) -> int | None:
        """Tap a button labelled ``text``.

        Looks at the bot's last message with an inline keyboard first (a callback query),
        then at the reply keyboard shown (the label is sent as a text message; contact and
        location request buttons share those). Raises LookupError listing the buttons that
        exist otherwise.
        """
        target_chat = self._resolve(chat)
        inline_message = target_chat.last_inline_message()
        if inline_message is not None:
            button = _find_inline(inline_message, text)
            if button is not None:
                return self._press_inline_button(target_chat, inline_message, button)
        reply_button = target_chat.find_reply_button(text)
        if reply_button is not None:
            target_chat.reply_keyboard_used()
            if isinstance(reply_button, dict) and reply_button.get("request_contact"):
                return self.send_contact(chat=target_chat)
            if isinstance(reply_button, dict) and reply_button.get("request_location"):
                return self.send_location(chat=target_chat)
            return self._post(target_chat, text=text)
        inline = inline_rows(inline_message.reply_markup) if inline_message else []
        raise LookupError(
            f"no button {text!r}; inline buttons of the last keyboard message: "
            f"{[t for row in inline for t, _ in row]}; "
            f"reply keyboard: {target_chat.reply_keyboard}"
        )

    def press_inline(self, message_id: int, text: str, *, chat: ChatRef = None) -> int | None:
        """Tap the inline button ``text`` on a specific (possibly old) bot message.

        Returns the update id Telegram would give it; a copy_text button gives none (the
        app copies its text to ``clipboard`` and the bot hears nothing)."""
        target_chat = self._resolve(chat)
        message = target_chat.get(message_id)
        if message is None or message.deleted:
            raise LookupError(f"message {message_id} is not visible in chat {target_chat.chat_id}")
        button = _find_inline(message, text)
        if button is None:
            labels = [t for row in inline_rows(message.reply_markup) for t, _ in row]
            raise LookupError(f"message {message_id} has no button {text!r}; buttons: {labels}")
        return self._press_inline_button(target_chat, message, button)

    def _press_inline_button(
        self, chat: ChatState, message: ChatMessage, button: dict[str, Any]
    ) -> int | None:
        if "callback_data" in button:
            record = self._emu.new_callback_query(
                chat.chat_id, message.message_id, button["callback_data"]
            )
            query = {
                "id": record.query_id,
                "from": dict(self.user),
                "message": chat.message_json(message),
                "chat_instance": str(abs(chat.chat_id) * 7919 + 17),
                "data": button["callback_data"],
            }
            return self._emu.push_update("callback_query", query)
        if "url" in button:
            return self.open_link(button["url"])
        if "copy_text" in button:  # the app copies the text itself: the bot hears nothing
            self.clipboard = button["copy_text"]["text"]
            return None
        kinds = sorted(k for k in button if k != "text")
        raise NotImplementedError(f"pressing a {kinds} inline button is not simulated")

    # -- waiting ---------------------------------------------------------------------------

    async def wait_reply(
        self,
        timeout: float = 5.0,  # noqa: ASYNC109 - a bounded wait is the point
        *,
        chat: ChatRef = None,
    ) -> ChatMessage:
        """Wait for a bot message newer than this user's latest message in the chat."""
        target_chat = self._resolve(chat)
        own = [m.message_id for m in target_chat.messages if m.sender.get("id") == self.user_id]
        after = own[-1] if own else 0

        def newer_reply() -> ChatMessage | None:
            return next(
                (m for m in target_chat.replies if m.message_id > after),
                None,
            )

        return await self._emu.wait_for(
            newer_reply, timeout=timeout, what=f"a bot reply after message {after}"
        )


def _find_inline(message: ChatMessage, text: str) -> dict[str, Any] | None:
    for row in message.inline_keyboard or []:
        for button in row:
            if button.get("text") == text:
                return button
    return None

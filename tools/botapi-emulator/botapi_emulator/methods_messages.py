"""Bot API methods that create, change or remove messages."""

from __future__ import annotations

import re
import time
from typing import Any
from urllib.parse import urlsplit

from .chats import ChatState
from .context import Handler, MethodContext
from .errors import ApiError, bad_request, forbidden
from .formatting import FormattedText, caption_text, message_text
from .keyboards import check_reply_markup, markup_kind
from .models import ChatMessage, StoredFile, UploadedFile

NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)
MAX_DELETE_IDS = 100

# sendX parameter -> Message field holding the media object, and its Bot API type.
_FILE_MEDIA = {
    "photo": "PhotoSize",
    "audio": "Audio",
    "document": "Document",
    "video": "Video",
    "animation": "Animation",
    "voice": "Voice",
    "video_note": "VideoNote",
    "sticker": "Sticker",
}


def _snake(method_suffix: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", method_suffix).lower()


# -- shared helpers ------------------------------------------------------------------------


def target_chat(ctx: MethodContext, params: dict[str, Any]) -> ChatState:
    """The chat named by ``chat_id``, checked to accept messages from the bot."""
    chat = ctx.state.resolve_chat(params["chat_id"])
    if chat.blocked:
        raise forbidden("bot was blocked by the user")
    return chat


def _markup(ctx: MethodContext, markup: dict[str, Any] | None) -> dict[str, Any] | None:
    if markup is not None:
        check_reply_markup(markup, ctx.spec)
    return markup


def _reply_target(ctx: MethodContext, chat: ChatState, params: dict[str, Any]) -> int | None:
    reply = params.get("reply_parameters") or {}
    message_id = reply.get("message_id", params.get("reply_to_message_id"))
    if message_id is None:
        return None
    allow_missing = reply.get(
        "allow_sending_without_reply", params.get("allow_sending_without_reply", False)
    )
    if "chat_id" in reply and ctx.state.resolve_chat(reply["chat_id"]) is not chat:
        return None  # a reply to another chat is shown as a quote; not modelled here
    target = chat.get(message_id)
    if target is None or target.deleted:
        if allow_missing:
            return None
        raise bad_request("message to be replied not found")
    return message_id


def _extras(params: dict[str, Any]) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    if params.get("protect_content"):
        extra["has_protected_content"] = True
    if params.get("link_preview_options"):
        extra["link_preview_options"] = params["link_preview_options"]
    return extra


def _new_bot_message(ctx: MethodContext, chat: ChatState, params: dict[str, Any]) -> ChatMessage:
    markup = _markup(ctx, params.get("reply_markup"))
    return ChatMessage(
        message_id=0,
        chat_id=chat.chat_id,
        from_bot=True,
        sender=dict(ctx.state.bot_user),
        reply_markup=markup,
        reply_to_message_id=_reply_target(ctx, chat, params),
        extra=_extras(params),
    )


def _store(ctx: MethodContext, chat: ChatState, message: ChatMessage) -> dict[str, Any]:
    message.message_id = chat.next_message_id()
    chat.add(message)
    chat.apply_reply_markup(message.reply_markup)
    ctx.state.emit("sent", message)
    return chat.message_json(message)


def _caption(ctx: MethodContext, params: dict[str, Any]) -> FormattedText | None:
    return caption_text(
        params.get("caption"),
        params.get("parse_mode"),
        params.get("caption_entities"),
        strict_html_entities=ctx.strict_html_entities,
    )


def _set_caption(message: ChatMessage, caption: FormattedText | None, raw: str | None) -> None:
    message.caption = caption.text if caption else None
    message.caption_entities = caption.entities if caption else []
    message.caption_html = raw if caption else None


# -- sending -------------------------------------------------------------------------------


async def send_message(ctx: MethodContext, params: dict[str, Any]) -> dict[str, Any]:
    """sendMessage: text with parse_mode/entities, keyboards, replies."""
    chat = target_chat(ctx, params)
    formatted = message_text(
        params["text"],
        params.get("parse_mode"),
        params.get("entities"),
        strict_html_entities=ctx.strict_html_entities,
    )
    message = _new_bot_message(ctx, chat, params)
    message.text = formatted.text
    message.entities = formatted.entities
    message.html = params["text"]
    message.parse_mode = params.get("parse_mode")
    return _store(ctx, chat, message)


def _file_object(ctx: MethodContext, value: Any, default_name: str) -> StoredFile:
    if isinstance(value, UploadedFile):
        return ctx.state.add_file(value.content, value.filename or default_name, value.content_type)
    if isinstance(value, str) and value in ctx.state.files:
        return ctx.state.files[value]
    if isinstance(value, str) and urlsplit(value).scheme in ("http", "https"):
        name = urlsplit(value).path.rsplit("/", 1)[-1] or default_name
        return ctx.state.add_file(b"", name)
    raise bad_request("wrong file identifier/HTTP URL specified")


def _media_json(ctx: MethodContext, key: str, stored: StoredFile) -> Any:
    base = ctx.spec.minimal_object(_FILE_MEDIA[key])
    base.update(
        file_id=stored.file_id, file_unique_id=stored.file_unique_id, file_size=len(stored.content)
    )
    if key == "photo":
        base.update(width=1280, height=960)
        return [base]
    if key in ("document", "audio", "video", "animation") and stored.file_name:
        base["file_name"] = stored.file_name
    if stored.mime_type and key != "sticker":
        base["mime_type"] = stored.mime_type
    return base


async def send_document(ctx: MethodContext, params: dict[str, Any]) -> dict[str, Any]:
    """sendDocument (and the other file-sending methods): upload, file_id or URL."""
    return await _send_file(ctx, params, "document")


async def _send_file(ctx: MethodContext, params: dict[str, Any], key: str) -> dict[str, Any]:
    chat = target_chat(ctx, params)
    caption = _caption(ctx, params) if key != "sticker" else None
    stored = _file_object(ctx, params[key], key)
    message = _new_bot_message(ctx, chat, params)
    message.media = {key: _media_json(ctx, key, stored)}
    if key == "sticker":
        message.media[key].update(type="regular", width=512, height=512, emoji=params.get("emoji"))
    _set_caption(message, caption, params.get("caption"))
    message.parse_mode = params.get("parse_mode")
    return _store(ctx, chat, message)


def _simple_media(method: str, params: dict[str, Any]) -> dict[str, Any]:
    if method == "sendLocation":
        return {"location": {"latitude": params["latitude"], "longitude": params["longitude"]}}
    if method == "sendContact":
        contact = {k: params[k] for k in ("phone_number", "first_name") if k in params}
        contact.update({k: params[k] for k in ("last_name", "vcard") if k in params})
        return {"contact": contact}
    if method == "sendVenue":
        location = {"latitude": params["latitude"], "longitude": params["longitude"]}
        return {
            "venue": {"location": location, "title": params["title"], "address": params["address"]}
        }
    if method == "sendDice":
        return {"dice": {"emoji": params.get("emoji", "🎲"), "value": 1}}
    return {}


async def send_generic(ctx: MethodContext, params: dict[str, Any], method: str) -> Any:
    """Any other send* method: a message with the media object the method names."""
    key = _snake(method[len("send") :])
    if key in _FILE_MEDIA and key in params:
        return await _send_file(ctx, params, key)
    if method == "sendMediaGroup":
        return await _send_media_group(ctx, params)
    chat = target_chat(ctx, params)
    caption = _caption(ctx, params)
    message = _new_bot_message(ctx, chat, params)
    message.media = _simple_media(method, params)
    _set_caption(message, caption, params.get("caption"))
    return _store(ctx, chat, message)


async def _send_media_group(ctx: MethodContext, params: dict[str, Any]) -> list[dict[str, Any]]:
    chat = target_chat(ctx, params)
    items = params["media"]
    if not 2 <= len(items) <= 10:
        raise bad_request("wrong number of messages in the media group, must be 2-10")
    results = []
    for item in items:
        media_type = item.get("type", "document")
        caption = caption_text(
            item.get("caption"),
            item.get("parse_mode"),
            item.get("caption_entities"),
            strict_html_entities=ctx.strict_html_entities,
        )
        value = item.get("media")
        stored = _file_object(ctx, value, media_type)
        message = _new_bot_message(ctx, chat, {k: v for k, v in params.items() if k != "media"})
        key = media_type if media_type in _FILE_MEDIA else "document"
        message.media = {key: _media_json(ctx, key, stored)}
        _set_caption(message, caption, item.get("caption"))
        results.append(_store(ctx, chat, message))
    return results


async def forward_message(ctx: MethodContext, params: dict[str, Any]) -> dict[str, Any]:
    """forwardMessage: copy of the content, marked with its origin."""
    copy, source = _copy(ctx, params, "forward")
    origin_user = source.sender
    copy.extra["forward_origin"] = {"type": "user", "date": source.date, "sender_user": origin_user}
    chat = ctx.state.resolve_chat(params["chat_id"])
    return _store(ctx, chat, copy)


async def copy_message(ctx: MethodContext, params: dict[str, Any]) -> dict[str, Any]:
    """copyMessage: a copy of the content without a link to the original."""
    copy, _ = _copy(ctx, params, "copy")
    chat = ctx.state.resolve_chat(params["chat_id"])
    if "caption" in params:
        _set_caption(copy, _caption(ctx, params), params.get("caption"))
    _store(ctx, chat, copy)
    return {"message_id": copy.message_id}


def _copy(ctx: MethodContext, params: dict[str, Any], verb: str) -> tuple[ChatMessage, ChatMessage]:
    chat = target_chat(ctx, params)
    source_chat = ctx.state.resolve_chat(params["from_chat_id"])
    source = source_chat.get(params["message_id"])
    if source is None or source.deleted:
        raise bad_request(f"message to {verb} not found")
    copy = _new_bot_message(ctx, chat, params)
    copy.text, copy.entities, copy.html = source.text, list(source.entities), source.html
    copy.media = dict(source.media)
    copy.caption, copy.caption_entities = source.caption, list(source.caption_entities)
    return copy, source


# -- editing -------------------------------------------------------------------------------


def _editable(ctx: MethodContext, params: dict[str, Any]) -> tuple[ChatState, ChatMessage]:
    if "chat_id" not in params or "message_id" not in params:
        if "inline_message_id" in params:
            raise bad_request("MESSAGE_ID_INVALID")
        raise bad_request("message identifier is not specified")
    chat = ctx.state.resolve_chat(params["chat_id"])
    message = chat.get(params["message_id"])
    if message is None or message.deleted:
        raise bad_request("message to edit not found")
    if not message.from_bot:
        raise bad_request("message can't be edited")
    return chat, message


def _current_inline(message: ChatMessage) -> dict[str, Any] | None:
    return message.reply_markup if message.inline_keyboard is not None else None


def _new_inline(ctx: MethodContext, params: dict[str, Any]) -> dict[str, Any] | None:
    markup = _markup(ctx, params.get("reply_markup"))
    if markup is not None and markup_kind(markup) != "inline":
        raise bad_request("only inline keyboards can be attached to edited messages")
    return markup


def _mark_edited(ctx: MethodContext, chat: ChatState, message: ChatMessage) -> dict[str, Any]:
    message.edited = True
    message.edit_date = int(time.time())
    ctx.state.emit("edited", message)
    return chat.message_json(message)


async def edit_message_text(ctx: MethodContext, params: dict[str, Any]) -> dict[str, Any]:
    """editMessageText; omitting reply_markup removes the inline keyboard, as on Telegram."""
    chat, message = _editable(ctx, params)
    if message.text is None:
        raise bad_request("there is no text in the message to edit")
    formatted = message_text(
        params.get("text", ""),
        params.get("parse_mode"),
        params.get("entities"),
        strict_html_entities=ctx.strict_html_entities,
    )
    markup = _new_inline(ctx, params)
    if (
        formatted.text == message.text
        and formatted.entities == message.entities
        and markup == _current_inline(message)
    ):
        raise bad_request(NOT_MODIFIED)
    message.text, message.entities = formatted.text, formatted.entities
    message.html, message.parse_mode = params.get("text", ""), params.get("parse_mode")
    message.reply_markup = markup
    if params.get("link_preview_options"):
        message.extra["link_preview_options"] = params["link_preview_options"]
    return _mark_edited(ctx, chat, message)


async def edit_message_caption(ctx: MethodContext, params: dict[str, Any]) -> dict[str, Any]:
    """editMessageCaption of a media message."""
    chat, message = _editable(ctx, params)
    if message.text is not None or not message.media:
        raise bad_request("there is no caption in the message to edit")
    caption = _caption(ctx, params)
    markup = _new_inline(ctx, params)
    new_text = caption.text if caption else None
    new_entities = caption.entities if caption else []
    if (
        new_text == message.caption
        and new_entities == message.caption_entities
        and markup == _current_inline(message)
    ):
        raise bad_request(NOT_MODIFIED)
    _set_caption(message, caption, params.get("caption"))
    message.reply_markup = markup
    return _mark_edited(ctx, chat, message)


async def edit_message_reply_markup(ctx: MethodContext, params: dict[str, Any]) -> dict[str, Any]:
    """editMessageReplyMarkup; no reply_markup removes the inline keyboard."""
    chat, message = _editable(ctx, params)
    markup = _new_inline(ctx, params)
    if markup == _current_inline(message):
        raise bad_request(NOT_MODIFIED)
    message.reply_markup = markup
    return _mark_edited(ctx, chat, message)


async def edit_generic(ctx: MethodContext, params: dict[str, Any]) -> Any:
    """Other edit* methods: the message must exist; it is returned unchanged."""
    if "inline_message_id" in params and "chat_id" not in params:
        return True
    chat, message = _editable(ctx, params)
    return _mark_edited(ctx, chat, message)


# -- deleting ------------------------------------------------------------------------------


def _deletable(chat: ChatState, message: ChatMessage | None) -> ChatMessage:
    if message is None or message.deleted:
        raise bad_request("message to delete not found")
    if not message.from_bot and not chat.is_private and not chat.bot_is_admin:
        raise bad_request("message can't be deleted")
    return message


def _delete(ctx: MethodContext, message: ChatMessage) -> None:
    message.deleted = True
    ctx.state.emit("deleted", message)


async def delete_message(ctx: MethodContext, params: dict[str, Any]) -> bool:
    """deleteMessage: the bot's own messages, and users' messages in private chats (or in
    groups where the bot is an administrator)."""
    chat = ctx.state.resolve_chat(params["chat_id"])
    _delete(ctx, _deletable(chat, chat.get(params["message_id"])))
    return True


async def delete_messages(ctx: MethodContext, params: dict[str, Any]) -> bool:
    """deleteMessages: 1-100 ids; ids that cannot be deleted are skipped."""
    chat = ctx.state.resolve_chat(params["chat_id"])
    ids = params["message_ids"]
    if not 1 <= len(ids) <= MAX_DELETE_IDS:
        raise bad_request("message_ids must contain 1-100 identifiers")
    for message_id in ids:
        try:
            _delete(ctx, _deletable(chat, chat.get(message_id)))
        except ApiError:  # Telegram skips what it cannot delete
            continue
    return True


HANDLERS: dict[str, Handler] = {
    "sendMessage": send_message,
    "sendDocument": send_document,
    "forwardMessage": forward_message,
    "copyMessage": copy_message,
    "editMessageText": edit_message_text,
    "editMessageCaption": edit_message_caption,
    "editMessageReplyMarkup": edit_message_reply_markup,
    "deleteMessage": delete_message,
    "deleteMessages": delete_messages,
}

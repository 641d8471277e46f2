"""Bot API methods about the bot itself: identity, updates, webhook, commands, chats."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from .context import Handler, MethodContext
from .errors import bad_request, conflict
from .models import CallbackAnswer

MAX_UPDATES_LIMIT = 100
MAX_COMMANDS = 100
MAX_CALLBACK_ANSWER = 200
_COMMAND = re.compile(r"[a-z0-9_]{1,32}")
_SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")
_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
_WEBHOOK_PORTS = frozenset({80, 88, 443, 8443})
CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
QUERY_INVALID = "query is too old and response timeout expired or query ID is invalid"


async def get_me(ctx: MethodContext, params: dict[str, Any]) -> dict[str, Any]:
    """getMe: the bot's User object with its capabilities."""
    return dict(ctx.state.bot_user)


async def get_updates(ctx: MethodContext, params: dict[str, Any]) -> list[dict[str, Any]]:
    """getUpdates with long polling; 409 while a webhook is set."""
    if ctx.webhook.active:
        raise conflict(
            "can't use getUpdates method while webhook is active; "
            "use deleteWebhook to delete the webhook first"
        )
    if "allowed_updates" in params:
        ctx.queue.allowed_updates = list(params["allowed_updates"]) or None
    limit = min(max(params.get("limit", MAX_UPDATES_LIMIT), 1), MAX_UPDATES_LIMIT)
    timeout = max(params.get("timeout", 0), 0)
    return await ctx.queue.long_poll(params.get("offset"), limit, timeout)


def _check_webhook_url(ctx: MethodContext, url: str) -> None:
    parts = urlsplit(url)
    host = parts.hostname or ""
    if not host:
        raise bad_request("bad webhook: Failed to resolve host: Name or service not known")
    loopback = host in _LOOPBACK_HOSTS
    if parts.scheme != "https" and not (
        parts.scheme == "http" and (loopback or ctx.allow_http_webhooks)
    ):
        raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    if not loopback and port not in _WEBHOOK_PORTS:
        raise bad_request("bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443")


async def set_webhook(ctx: MethodContext, params: dict[str, Any]) -> bool:
    """setWebhook: updates go to ``url`` by POST from now on (empty url removes it).

    Plain http is accepted for loopback hosts so tests need no TLS.
    """
    url = params["url"].strip()
    secret = params.get("secret_token")
    if secret is not None and not _SECRET_TOKEN.fullmatch(secret):
        raise bad_request("secret token contains unallowed characters")
    if url:
        _check_webhook_url(ctx, url)
    if params.get("drop_pending_updates"):
        ctx.queue.drop_pending()
    if "allowed_updates" in params:
        ctx.queue.allowed_updates = list(params["allowed_updates"]) or None
    if not url:
        await ctx.webhook.remove()
        return True
    await ctx.webhook.configure(
        url, secret, params.get("max_connections"), params.get("ip_address")
    )
    return True


async def delete_webhook(ctx: MethodContext, params: dict[str, Any]) -> bool:
    """deleteWebhook: back to getUpdates."""
    if params.get("drop_pending_updates"):
        ctx.queue.drop_pending()
    await ctx.webhook.remove()
    return True


async def get_webhook_info(ctx: MethodContext, params: dict[str, Any]) -> dict[str, Any]:
    """getWebhookInfo."""
    return ctx.webhook.info()


async def answer_callback_query(ctx: MethodContext, params: dict[str, Any]) -> bool:
    """answerCallbackQuery: each query can be answered once."""
    record = ctx.state.callback_queries.get(params["callback_query_id"])
    if record is None or record.answered:
        raise bad_request(QUERY_INVALID)
    text = params.get("text")
    if text is not None and len(text) > MAX_CALLBACK_ANSWER:
        raise bad_request("MESSAGE_TOO_LONG")
    record.answered = True
    ctx.state.callback_answers.append(
        CallbackAnswer(
            callback_query_id=record.query_id,
            text=text,
            show_alert=bool(params.get("show_alert", False)),
            url=params.get("url"),
            cache_time=params.get("cache_time"),
            data=record.data,
            message_id=record.message_id,
        )
    )
    return True


async def send_chat_action(ctx: MethodContext, params: dict[str, Any]) -> bool:
    """sendChatAction: only Telegram's action names."""
    chat = ctx.state.resolve_chat(params["chat_id"])
    if params["action"] not in CHAT_ACTIONS:
        raise bad_request("wrong parameter action in request")
    chat.actions.append(params["action"])
    return True


async def set_my_commands(ctx: MethodContext, params: dict[str, Any]) -> bool:
    """setMyCommands: 1-32 char lowercase names, 1-256 char descriptions, at most 100."""
    commands = params["commands"]
    if len(commands) > MAX_COMMANDS:
        raise bad_request("too many commands specified")
    for command in commands:
        if not _COMMAND.fullmatch(command["command"]):
            raise bad_request("BOT_COMMAND_INVALID")
        if not 1 <= len(command["description"].strip()) <= 256:
            raise bad_request("command description must be 1-256 characters long")
    key = ctx.state.commands_key(params.get("scope"), params.get("language_code"))
    ctx.state.commands[key] = [
        {"command": c["command"], "description": c["description"]} for c in commands
    ]
    return True


async def get_my_commands(ctx: MethodContext, params: dict[str, Any]) -> list[dict[str, Any]]:
    """getMyCommands for a scope and language."""
    key = ctx.state.commands_key(params.get("scope"), params.get("language_code"))
    return list(ctx.state.commands.get(key, []))


async def delete_my_commands(ctx: MethodContext, params: dict[str, Any]) -> bool:
    """deleteMyCommands for a scope and language."""
    key = ctx.state.commands_key(params.get("scope"), params.get("language_code"))
    ctx.state.commands.pop(key, None)
    return True


async def set_chat_menu_button(ctx: MethodContext, params: dict[str, Any]) -> bool:
    """setChatMenuButton for one private chat, or the default."""
    button = params.get("menu_button") or {"type": "default"}
    if "chat_id" in params:
        chat = ctx.state.resolve_chat(params["chat_id"])
        if not chat.is_private:
            raise bad_request("chat is not a private chat")
        chat.menu_button = button
    else:
        ctx.state.default_menu_button = button
    return True


async def get_chat_menu_button(ctx: MethodContext, params: dict[str, Any]) -> dict[str, Any]:
    """getChatMenuButton."""
    if "chat_id" in params:
        chat = ctx.state.resolve_chat(params["chat_id"])
        if chat.menu_button is not None:
            return chat.menu_button
    return ctx.state.default_menu_button


async def get_chat(ctx: MethodContext, params: dict[str, Any]) -> dict[str, Any]:
    """getChat: a ChatFullInfo built from the chat."""
    chat = ctx.state.resolve_chat(params["chat_id"])
    info = chat.to_json()
    info.update(
        accent_color_id=0,
        max_reaction_count=11,
        accepted_gift_types=ctx.spec.minimal_object("AcceptedGiftTypes"),
    )
    return info


async def get_chat_member(ctx: MethodContext, params: dict[str, Any]) -> dict[str, Any]:
    """getChatMember: the bot, the private chat partner or a user who spoke in the group."""
    chat = ctx.state.resolve_chat(params["chat_id"])
    user_id = params["user_id"]
    if user_id == ctx.state.bot_id:
        if chat.bot_is_admin:
            member = ctx.spec.minimal_object("ChatMemberAdministrator")
            member.update(can_delete_messages=True, can_be_edited=False, is_anonymous=False)
            return {**member, "user": dict(ctx.state.bot_user)}
        return {"status": "member", "user": dict(ctx.state.bot_user)}
    user = ctx.state.users.get(user_id)
    if user is None:
        raise bad_request("user not found")
    return {"status": "member", "user": dict(user)}


async def get_file(ctx: MethodContext, params: dict[str, Any]) -> dict[str, Any]:
    """getFile: a downloadable path for a known file_id."""
    stored = ctx.state.files.get(params["file_id"])
    if stored is None:
        raise bad_request("invalid file_id")
    return {
        "file_id": stored.file_id,
        "file_unique_id": stored.file_unique_id,
        "file_size": len(stored.content),
        "file_path": stored.file_path,
    }


async def always_true(ctx: MethodContext, params: dict[str, Any]) -> bool:
    """close, logOut and similar: nothing to do."""
    return True


HANDLERS: dict[str, Handler] = {
    "getMe": get_me,
    "getUpdates": get_updates,
    "setWebhook": set_webhook,
    "deleteWebhook": delete_webhook,
    "getWebhookInfo": get_webhook_info,
    "answerCallbackQuery": answer_callback_query,
    "sendChatAction": send_chat_action,
    "setMyCommands": set_my_commands,
    "getMyCommands": get_my_commands,
    "deleteMyCommands": delete_my_commands,
    "setChatMenuButton": set_chat_menu_button,
    "getChatMenuButton": get_chat_menu_button,
    "getChat": get_chat,
    "getChatMember": get_chat_member,
    "getFile": get_file,
    "close": always_true,
    "logOut": always_true,
}

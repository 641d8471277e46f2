"""Route a validated call to its handler; answer unmodelled methods plausibly."""

from __future__ import annotations

from typing import Any

from . import methods_bot, methods_messages
from .context import Handler, MethodContext
from .spec import MethodSpec

HANDLERS: dict[str, Handler] = {**methods_bot.HANDLERS, **methods_messages.HANDLERS}
_OUTGOING_PREFIXES = ("send", "edit", "copy", "forward")
_NOT_OUTGOING = frozenset({"sendChatAction"})


def is_outgoing(method_name: str) -> bool:
    """Whether a call sends or edits a message, i.e. counts toward flood control."""
    return method_name.startswith(_OUTGOING_PREFIXES) and method_name not in _NOT_OUTGOING


async def dispatch(ctx: MethodContext, method: MethodSpec, params: dict[str, Any]) -> Any:
    """The ``result`` of a call whose parameters already passed validation."""
    handler = HANDLERS.get(method.name)
    if handler is not None:
        return await handler(ctx, params)
    returns_message = any(r in ("Message", "Array of Message") for r in method.returns)
    if method.name.startswith("send") and returns_message:
        return await methods_messages.send_generic(ctx, params, method.name)
    if method.name.startswith("edit") and returns_message:
        return await methods_messages.edit_generic(ctx, params)
    return _placeholder_result(ctx, method, params)


def _placeholder_result(ctx: MethodContext, method: MethodSpec, params: dict[str, Any]) -> Any:
    """``true`` for Boolean methods, else the smallest valid object of the return type."""
    returns = method.returns[0] if method.returns else "Boolean"
    if returns == "Boolean" or returns == "True":
        return True
    if returns == "Message" and "chat_id" in params and "message_id" in params:
        chat = ctx.state.resolve_chat(params["chat_id"])
        message = chat.get(params["message_id"])
        if message is not None:
            return chat.message_json(message)
    return ctx.spec.minimal_object(returns)

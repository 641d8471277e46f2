"""Rules for reply markup that the machine-readable spec cannot express, and button helpers."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from .errors import bad_request
from .spec import ApiSpec

MAX_CALLBACK_DATA_BYTES = 64
MAX_INLINE_BUTTONS = 100
MAX_COPY_TEXT = 256  # CopyTextButton.text: 1-256 characters
_NON_ACTION_FIELDS = frozenset({"text", "icon_custom_emoji_id", "style"})


def markup_kind(markup: dict[str, Any]) -> str:
    """'inline', 'reply', 'remove' or 'force_reply' for a (validated) reply markup object."""
    if "inline_keyboard" in markup:
        return "inline"
    if "keyboard" in markup:
        return "reply"
    if "remove_keyboard" in markup:
        return "remove"
    return "force_reply"


def button_text(button: str | dict[str, Any]) -> str:
    """The label of a reply or inline keyboard button."""
    return button if isinstance(button, str) else str(button.get("text", ""))


def _optional_fields(spec: ApiSpec, type_name: str) -> list[str]:
    type_spec = spec.type(type_name)
    if type_spec is None:
        return []
    return [f.name for f in type_spec.fields if f.name not in _NON_ACTION_FIELDS]


def check_reply_markup(markup: dict[str, Any], spec: ApiSpec) -> None:
    """Raise ApiError(400) where Telegram would refuse this markup.

    Expects a markup that already passed the spec's type check.
    """
    kind = markup_kind(markup)
    if kind == "inline":
        _check_inline_keyboard(markup["inline_keyboard"], spec)
    elif kind == "reply":
        _check_reply_keyboard(markup["keyboard"], spec)


def _check_inline_keyboard(rows: list[list[dict[str, Any]]], spec: ApiSpec) -> None:
    actions = _optional_fields(spec, "InlineKeyboardButton")
    if sum(len(row) for row in rows) > MAX_INLINE_BUTTONS:
        raise bad_request("reply markup is too long")
    for row in rows:
        for button in row:
            if not button["text"].strip():
                raise bad_request("can't parse inline keyboard button: Text must be non-empty")
            used = [name for name in actions if name in button]
            if not used:
                raise bad_request(
                    "can't parse inline keyboard button: "
                    "Text buttons are unallowed in the inline keyboard"
                )
            if len(used) > 1:
                raise bad_request(
                    "can't parse inline keyboard button: exactly one of the optional fields "
                    f"must be used, got {', '.join(used)}"
                )
            if "callback_data" in button:
                size = len(button["callback_data"].encode("utf-8"))
                if not 1 <= size <= MAX_CALLBACK_DATA_BYTES:
                    raise bad_request("BUTTON_DATA_INVALID")
            if "url" in button:
                _check_button_url(button["url"])
            if "copy_text" in button:
                copied = button["copy_text"].get("text", "")
                if not 1 <= len(copied) <= MAX_COPY_TEXT:
                    raise bad_request("BUTTON_COPY_TEXT_INVALID")


def _check_button_url(url: str) -> None:
    parts = urlsplit(url.strip())
    host = parts.hostname or ""
    if parts.scheme == "tg" and parts.netloc:
        return
    if parts.scheme not in ("http", "https") or "." not in host or host.endswith("."):
        raise bad_request(f"inline keyboard button URL '{url}' is invalid: Wrong HTTP URL")


def _check_reply_keyboard(rows: list[list[Any]], spec: ApiSpec) -> None:
    optional = _optional_fields(spec, "KeyboardButton")
    for row in rows:
        for button in row:
            if not button_text(button).strip():
                raise bad_request("can't parse keyboard button: Text must be non-empty")
            if isinstance(button, dict):
                used = [name for name in optional if button.get(name) not in (None, False)]
                if len(used) > 1:
                    raise bad_request(
                        "can't parse keyboard button: at most one of the optional fields "
                        f"must be used, got {', '.join(used)}"
                    )


def inline_rows(markup: dict[str, Any] | None) -> list[list[tuple[str, str | None]]]:
    """Rows of ``(text, callback_data or url)`` of an inline keyboard markup."""
    if not markup or "inline_keyboard" not in markup:
        return []
    return [
        [(b["text"], b.get("callback_data", b.get("url"))) for b in row]
        for row in markup["inline_keyboard"]
    ]


def reply_rows(markup: dict[str, Any] | None) -> list[list[str]]:
    """Rows of button labels of a reply keyboard markup."""
    if not markup or "keyboard" not in markup:
        return []
    return [[button_text(b) for b in row] for row in markup["keyboard"]]

"""Message text and caption handling: parse_mode dispatch, trimming, Telegram's length limits."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import bad_request
from .html_entities import parse_html
from .markdown_v2 import parse_markdown_v2
from .text_utils import EntityParseError, sort_entities, trim_formatted, utf16_len

MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024


@dataclass(frozen=True)
class FormattedText:
    """Plain text after entity parsing plus its ``MessageEntity`` dicts."""

    text: str
    entities: list[dict[str, Any]]


def parse_formatted(
    text: str,
    parse_mode: str | None,
    entities: list[dict[str, Any]] | None,
    *,
    strict_html_entities: bool = True,
) -> FormattedText:
    """Apply ``parse_mode`` (or explicit ``entities``, which take precedence) and trim.

    Raises ApiError(400) for unsupported parse modes and malformed markup.
    """
    if entities is not None:
        plain, parsed = text, _clip_entities(text, entities)
    elif parse_mode:
        mode = parse_mode.strip().lower()
        try:
            if mode == "html":
                plain, parsed = parse_html(text, strict_entities=strict_html_entities)
            elif mode == "markdownv2":
                plain, parsed = parse_markdown_v2(text)
            elif mode == "markdown":
                raise bad_request(
                    "parse_mode Markdown (legacy) is not supported by this emulator; "
                    "use HTML or MarkdownV2"
                )
            else:
                raise bad_request("unsupported parse_mode")
        except EntityParseError as exc:
            raise bad_request(f"can't parse entities: {exc}") from None
    else:
        plain, parsed = text, []
    plain, parsed = trim_formatted(plain, parsed)
    return FormattedText(plain, parsed)


def _clip_entities(text: str, entities: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Explicit entities outside the text are dropped, as Telegram does."""
    total = utf16_len(text)
    kept = [
        dict(e)
        for e in entities
        if e.get("length", 0) > 0 and e.get("offset", -1) >= 0
        if e["offset"] + e["length"] <= total
    ]
    return sort_entities(kept)


def message_text(
    text: str,
    parse_mode: str | None,
    entities: list[dict[str, Any]] | None,
    *,
    strict_html_entities: bool = True,
) -> FormattedText:
    """A message text checked against Telegram's 1-4096 characters (after parsing)."""
    formatted = parse_formatted(
        text, parse_mode, entities, strict_html_entities=strict_html_entities
    )
    if not formatted.text:
        raise bad_request("message text is empty")
    if len(formatted.text) > MAX_TEXT_LENGTH:
        raise bad_request("message is too long")
    return formatted


def caption_text(
    caption: str | None,
    parse_mode: str | None,
    entities: list[dict[str, Any]] | None,
    *,
    strict_html_entities: bool = True,
) -> FormattedText | None:
    """A media caption checked against Telegram's 0-1024 characters; None if absent/empty."""
    if caption is None:
        return None
    formatted = parse_formatted(
        caption, parse_mode, entities, strict_html_entities=strict_html_entities
    )
    if len(formatted.text) > MAX_CAPTION_LENGTH:
        raise bad_request("message caption is too long")
    return formatted if formatted.text else None

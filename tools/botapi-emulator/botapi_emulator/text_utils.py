"""Small text helpers shared by the parsers: UTF-16 lengths, byte offsets, trimming."""

from __future__ import annotations

from typing import Any

# Characters Telegram strips from both ends of a message text.
TRIMMED = " \t\r\n\u00a0"


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of entity offsets in the Bot API."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def byte_offset(text: str, index: int) -> int:
    """UTF-8 byte offset of code point ``index`` (Telegram reports parse errors in bytes)."""
    return len(text[:index].encode("utf-8", "surrogatepass"))


class EntityParseError(ValueError):
    """Markup that Telegram refuses: ``Bad Request: can't parse entities: <message>``."""


def sort_entities(entities: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Telegram's order: by offset, longer (outer) entities first."""
    return sorted(entities, key=lambda e: (e["offset"], -e["length"]))


def trim_formatted(text: str, entities: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """Strip surrounding whitespace like Telegram does, shifting and clipping entities."""
    stripped = text.strip(TRIMMED)
    if stripped == text:
        return text, entities
    left = utf16_len(text[: len(text) - len(text.lstrip(TRIMMED))])
    new_length = utf16_len(stripped)
    result = []
    for entity in entities:
        start = max(entity["offset"] - left, 0)
        end = min(entity["offset"] + entity["length"] - left, new_length)
        if end > start:
            result.append({**entity, "offset": start, "length": end - start})
    return stripped, result

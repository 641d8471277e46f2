"""A compact ``parse_mode=MarkdownV2`` parser with Telegram's escaping rules.

Supported: ``*bold*``, ``_italic_``, ``__underline__``, ``~strikethrough~``, ``||spoiler||``,
``[text](url)``, ``![emoji](tg://emoji?id=N)``, ``\\`code\\```, fenced ``\\`\\`\\`pre\\`\\`\\```
with an optional language, and ``>`` block quotes at line starts. Every other occurrence of
``_*[]()~`>#+-=|{}.!`` must be escaped with a backslash, otherwise the text is refused with
Telegram's "Character 'x' is reserved and must be escaped with the preceding '\\'".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .text_utils import EntityParseError, byte_offset, sort_entities, utf16_len

RESERVED = frozenset("_*[]()~`>#+-=|{}.!")
_END_MARKERS = {
    "bold": "*",
    "italic": "_",
    "underline": "__",
    "strikethrough": "~",
    "spoiler": "||",
    "text_link": "]",
    "custom_emoji": "]",
}


@dataclass
class _Open:
    kind: str
    utf16_start: int
    index: int
    out_index: int = 0


class _MarkdownParser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.n = len(text)
        self.i = 0
        self.out: list[str] = []
        self.u16 = 0
        self.stack: list[_Open] = []
        self.entities: list[dict[str, Any]] = []
        self.quote: _Open | None = None

    def run(self) -> tuple[str, list[dict[str, Any]]]:
        while self.i < self.n:
            self._step()
        if self.stack:
            raise self._error("Can't find end of the entity starting", self.stack[-1].index)
        self._close_quote()
        return "".join(self.out), sort_entities(self.entities)

    def _error(self, message: str, index: int) -> EntityParseError:
        return EntityParseError(f"{message} at byte offset {byte_offset(self.text, index)}")

    def _emit(self, chunk: str) -> None:
        self.out.append(chunk)
        self.u16 += utf16_len(chunk)

    def _add(self, kind: str, start: int, **extra: Any) -> None:
        if self.u16 > start:
            self.entities.append(
                {"type": kind, "offset": start, "length": self.u16 - start, **extra}
            )

    def _step(self) -> None:
        text, i = self.text, self.i
        ch = text[i]
        at_line_start = i == 0 or text[i - 1] == "\n"
        if ch == "\\" and i + 1 < self.n and 0 < ord(text[i + 1]) <= 126:
            self._emit(text[i + 1])
            self.i += 2
            return
        if ch == ">" and at_line_start and not self.stack:
            if self.quote is None:
                self.quote = _Open("blockquote", self.u16, i)
            self.i += 1
            return
        if ch == "\n" and self.quote is not None and not text.startswith(">", i + 1):
            if self.stack:
                raise self._error("Can't find end of the entity starting", self.stack[-1].index)
            self._close_quote()
        if ch == "`":
            self._code(i)
            return
        if ch not in RESERVED:
            self._emit(ch)
            self.i += 1
            return
        if self.stack and text.startswith(_END_MARKERS[self.stack[-1].kind], i):
            if not (self.stack[-1].kind == "italic" and text.startswith("__", i)):
                self._close_top()
                return
        self._open(ch, i)

    def _close_quote(self) -> None:
        if self.quote is not None:
            self._add("blockquote", self.quote.utf16_start)
            self.quote = None

    def _open(self, ch: str, i: int) -> None:
        text = self.text
        if ch == "_":
            kind, width = ("underline", 2) if text.startswith("__", i) else ("italic", 1)
        elif ch == "*":
            kind, width = "bold", 1
        elif ch == "~":
            kind, width = "strikethrough", 1
        elif ch == "|" and text.startswith("||", i):
            kind, width = "spoiler", 2
        elif ch == "[":
            kind, width = "text_link", 1
        elif ch == "!" and text.startswith("![", i):
            kind, width = "custom_emoji", 2
        else:
            raise EntityParseError(
                f"Character '{ch}' is reserved and must be escaped with the preceding '\\'"
            )
        if any(o.kind == kind for o in self.stack):
            raise self._error("Can't find end of the entity starting", i)
        self.stack.append(_Open(kind, self.u16, i, len(self.out)))
        self.i = i + width

    def _close_top(self) -> None:
        top = self.stack.pop()
        marker = _END_MARKERS[top.kind]
        self.i += len(marker)
        if top.kind not in ("text_link", "custom_emoji"):
            self._add(top.kind, top.utf16_start)
            return
        url = self._link_target(top)
        if top.kind == "custom_emoji":
            prefix = "tg://emoji?id="
            if not url.startswith(prefix) or not url[len(prefix) :].isdigit():
                raise self._error("Custom emoji entity must contain a tg://emoji URL", top.index)
            self._add("custom_emoji", top.utf16_start, custom_emoji_id=url[len(prefix) :])
        elif url:
            self._add("text_link", top.utf16_start, url=url)

    def _link_target(self, top: _Open) -> str:
        text = self.text
        if not text.startswith("(", self.i):
            return "".join(self.out[top.out_index :])
        j = self.i + 1
        chars: list[str] = []
        while j < self.n and text[j] != ")":
            if text[j] == "\\" and j + 1 < self.n:
                j += 1
            chars.append(text[j])
            j += 1
        if j >= self.n:
            raise self._error("Can't find end of a URL", self.i)
        self.i = j + 1
        return "".join(chars)

    def _code(self, i: int) -> None:
        text = self.text
        fence = text.startswith("```", i)
        marker = "```" if fence else "`"
        start = i + len(marker)
        language = None
        if fence:
            newline = text.find("\n", start)
            end_fence = text.find("```", start)
            if newline != -1 and (end_fence == -1 or newline < end_fence):
                first_line = text[start:newline]
                if first_line and not any(c.isspace() for c in first_line):
                    language = first_line
                    start = newline + 1
        j = start
        chars: list[str] = []
        while j < self.n and not text.startswith(marker, j):
            if text[j] == "\\" and j + 1 < self.n and text[j + 1] in "`\\":
                j += 1
            chars.append(text[j])
            j += 1
        if j >= self.n:
            raise self._error("Can't find end of the entity starting", i)
        begin = self.u16
        self._emit("".join(chars))
        if fence:
            extra = {"language": language} if language else {}
            self._add("pre", begin, **extra)
        else:
            self._add("code", begin)
        self.i = j + len(marker)


def parse_markdown_v2(text: str) -> tuple[str, list[dict[str, Any]]]:
    """Plain text and ``MessageEntity`` dicts of a MarkdownV2 text.

    Raises :class:`EntityParseError` with Telegram's message for invalid markup.
    """
    return _MarkdownParser(text).run()

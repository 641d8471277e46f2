"""Telegram's ``parse_mode=HTML``: turn marked-up text into plain text plus entities.

Follows the rules Telegram's server applies (and its error messages):

* supported tags: b, strong, i, em, u, ins, s, strike, del, span class="tg-spoiler",
  tg-spoiler, a href, code (class="language-x" inside pre), pre, blockquote [expandable],
  tg-emoji emoji-id; tag and attribute names are case-insensitive;
* ``&lt; &gt; &amp; &quot;`` and numeric ``&#NNN; &#xHH;`` references are decoded;
  a bare ``&`` that does not form a reference stays a literal ``&``;
* any other ``<`` (an unsupported tag, a lone ``<``), an unclosed, unmatched or unexpected
  tag is an error reported with its UTF-8 byte offset.

One deliberate strictness on top of Telegram: ``&name;`` with an unknown name (``&nbsp;``)
is an error, because Telegram would show it literally, which is never what a bot wants.
Pass ``strict_entities=False`` to keep Telegram's literal behaviour.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .text_utils import EntityParseError, byte_offset, sort_entities, utf16_len

SUPPORTED_TAGS = frozenset(
    {
        "a",
        "b",
        "strong",
        "i",
        "em",
        "u",
        "ins",
        "s",
        "strike",
        "del",
        "span",
        "tg-spoiler",
        "tg-emoji",
        "code",
        "pre",
        "blockquote",
    }
)
_ENTITY_TYPES = {
    "a": "text_link",
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "span": "spoiler",
    "tg-spoiler": "spoiler",
    "tg-emoji": "custom_emoji",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
}
NAMED_REFERENCES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_SPACES = frozenset(" \t\r\n\x0b\x0c")
_HEX = frozenset("0123456789abcdefABCDEF")
_DEC = frozenset("0123456789")


def decode_reference(text: str, pos: int, *, strict: bool = True) -> tuple[str, int] | None:
    """Decode the character reference starting at ``text[pos] == "&"``.

    Returns ``(character, end_index)``, or None when the ``&`` is a literal ampersand.
    The trailing ``;`` is optional, as in Telegram.
    """
    n = len(text)
    i = pos + 1
    if i < n and text[i] == "#":
        i += 1
        digits = _DEC
        base = 10
        if i < n and text[i] in "xX":
            digits, base = _HEX, 16
            i += 1
        start = i
        while i < n and text[i] in digits:
            i += 1
        if i == start:
            return None
        code = int(text[start:i], base)
        if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
            return None
        if i < n and text[i] == ";":
            i += 1
        return chr(code), i
    start = i
    while i < n and text[i].isascii() and text[i].isalpha():
        i += 1
    name = text[start:i]
    if name in NAMED_REFERENCES:
        if i < n and text[i] == ";":
            i += 1
        return NAMED_REFERENCES[name], i
    if strict and name and i < n and text[i] == ";":
        raise EntityParseError(
            f'Unsupported HTML entity "&{name};" at byte offset {byte_offset(text, pos)}'
        )
    return None


@dataclass
class _OpenTag:
    name: str
    argument: str | None
    utf16_start: int
    out_start: int
    byte_pos: int


class _HtmlParser:
    def __init__(self, text: str, strict: bool) -> None:
        self.text = text
        self.n = len(text)
        self.strict = strict
        self.pos = 0
        self.out: list[str] = []
        self.u16 = 0
        self.stack: list[_OpenTag] = []
        self.entities: list[dict[str, Any]] = []
        self.code_languages: dict[int, str] = {}

    def run(self) -> tuple[str, list[dict[str, Any]]]:
        while self.pos < self.n:
            ch = self.text[self.pos]
            if ch == "&":
                decoded = decode_reference(self.text, self.pos, strict=self.strict)
                if decoded is not None:
                    self._emit(decoded[0])
                    self.pos = decoded[1]
                    continue
            if ch != "<":
                self._emit(ch)
                self.pos += 1
            elif self.pos + 1 < self.n and self.text[self.pos + 1] == "/":
                self._end_tag()
            else:
                self._start_tag()
        if self.stack:
            raise EntityParseError(
                f'Can\'t find end tag corresponding to start tag "{self.stack[-1].name}"'
            )
        return "".join(self.out), sort_entities(self.entities)

    def _emit(self, chunk: str) -> None:
        self.out.append(chunk)
        self.u16 += utf16_len(chunk)

    def _error(self, message: str, index: int) -> EntityParseError:
        return EntityParseError(f"{message} at byte offset {byte_offset(self.text, index)}")

    def _skip_spaces(self, i: int) -> int:
        while i < self.n and self.text[i] in _SPACES:
            i += 1
        return i

    def _start_tag(self) -> None:
        text, begin = self.text, self.pos
        i = begin + 1
        while i < self.n and text[i] not in _SPACES and text[i] != ">":
            i += 1
        if i >= self.n:
            raise self._error("Unclosed start tag", begin)
        name = text[begin + 1 : i].lower()
        if name not in SUPPORTED_TAGS:
            raise self._error(f'Unsupported start tag "{name}"', begin)
        attributes: dict[str, str] = {}
        while True:
            i = self._skip_spaces(i)
            if i >= self.n:
                raise self._error("Unclosed start tag", begin)
            if text[i] == ">":
                break
            i = self._attribute(i, name, begin, attributes)
        self.pos = i + 1
        argument = self._argument(name, attributes, begin)
        self.stack.append(_OpenTag(name, argument, self.u16, len(self.out), begin))

    def _attribute(self, i: int, tag: str, begin: int, attributes: dict[str, str]) -> int:
        text = self.text
        start = i
        while i < self.n and text[i] not in _SPACES and text[i] not in "=>":
            i += 1
        attr_name = text[start:i].lower()
        if not attr_name:
            raise self._error(f'Empty attribute name in the tag "{tag}"', begin)
        i = self._skip_spaces(i)
        if i >= self.n:
            raise self._error("Unclosed start tag", begin)
        if text[i] != "=":
            attributes.setdefault(attr_name, "")
            return i
        i = self._skip_spaces(i + 1)
        if i >= self.n:
            raise self._error("Unclosed start tag", begin)
        if text[i] in "'\"":
            quote = text[i]
            i += 1
            chars: list[str] = []
            while i < self.n and text[i] != quote:
                if text[i] == "&":
                    decoded = decode_reference(text, i, strict=self.strict)
                    if decoded is not None:
                        chars.append(decoded[0])
                        i = decoded[1]
                        continue
                chars.append(text[i])
                i += 1
            if i >= self.n:
                raise self._error("Unclosed start tag", begin)
            value = "".join(chars)
            i += 1
        else:
            token_start = i
            while i < self.n and ((text[i].isascii() and text[i].isalnum()) or text[i] in ".-"):
                i += 1
            if i >= self.n:
                raise self._error("Unclosed start tag", begin)
            if text[i] not in _SPACES and text[i] != ">":
                raise self._error("Unexpected end of name token", token_start)
            value = text[token_start:i].lower()
        attributes.setdefault(attr_name, value)
        return i

    def _argument(self, tag: str, attributes: dict[str, str], begin: int) -> str | None:
        if tag == "a":
            return attributes.get("href")
        if tag == "code":
            css = attributes.get("class", "")
            return css[len("language-") :] if css.startswith("language-") else None
        if tag == "span":
            if attributes.get("class") != "tg-spoiler":
                raise self._error('Tag "span" must have class "tg-spoiler"', begin)
            return None
        if tag == "tg-emoji":
            emoji_id = attributes.get("emoji-id", "")
            if not emoji_id.isdigit():
                raise self._error('Tag "tg-emoji" must have a numeric attribute "emoji-id"', begin)
            return emoji_id
        if tag == "blockquote" and "expandable" in attributes:
            return "expandable"
        return None

    def _end_tag(self) -> None:
        text, begin = self.text, self.pos
        if not self.stack:
            raise self._error("Unexpected end tag", begin)
        i = begin + 2
        while i < self.n and text[i] not in _SPACES and text[i] != ">":
            i += 1
        end_name = text[begin + 2 : i].lower()
        i = self._skip_spaces(i)
        if i >= self.n or text[i] != ">":
            raise self._error("Unclosed end tag", begin)
        top = self.stack.pop()
        if end_name and end_name != top.name:
            raise EntityParseError(
                f"Unmatched end tag at byte offset {byte_offset(text, begin)}, "
                f'expected "</{top.name}>", found "</{end_name}>"'
            )
        self.pos = i + 1
        self._close(top)

    def _close(self, tag: _OpenTag) -> None:
        length = self.u16 - tag.utf16_start
        if length <= 0:
            return
        entity: dict[str, Any] = {
            "type": _ENTITY_TYPES[tag.name],
            "offset": tag.utf16_start,
            "length": length,
        }
        if tag.name == "a":
            url = tag.argument if tag.argument else "".join(self.out[tag.out_start :])
            if not url.strip():
                return
            entity["url"] = url
        elif tag.name == "tg-emoji":
            entity["custom_emoji_id"] = tag.argument
        elif tag.name == "blockquote" and tag.argument == "expandable":
            entity["type"] = "expandable_blockquote"
        elif tag.name == "code" and tag.argument:
            self.code_languages[len(self.entities)] = tag.argument
        elif tag.name == "pre" and self.entities:
            last_index = len(self.entities) - 1
            last = self.entities[last_index]
            if (
                last["type"] == "code"
                and last["offset"] == entity["offset"]
                and last["length"] == entity["length"]
            ):
                self.entities.pop()
                language = self.code_languages.pop(last_index, None)
                if language:
                    entity["language"] = language
        self.entities.append(entity)


def parse_html(text: str, *, strict_entities: bool = True) -> tuple[str, list[dict[str, Any]]]:
    """Plain text and ``MessageEntity`` dicts of an HTML-formatted text.

    Raises :class:`EntityParseError` with Telegram's message for invalid markup.
    """
    return _HtmlParser(text, strict_entities).run()

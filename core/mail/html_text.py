"""Readable plain text from an HTML-only mail, with the standard library's html.parser.

Paragraphs, `<br>`, rows and list items become line breaks; scripts, styles and
the head are dropped; entities are decoded; text inside `<blockquote>` comes out
prefixed with `> ` so the quote stripper treats it like any quoted text.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

_SKIP = {"script", "style", "head", "title", "template", "noscript", "xml"}
_PARAGRAPH = {"p", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol", "pre", "hr"}
_LINE = {
    "div",
    "tr",
    "li",
    "section",
    "article",
    "header",
    "footer",
    "address",
    "center",
    "dl",
    "dt",
    "dd",
    "caption",
    "form",
    "fieldset",
}
_SPACES = re.compile(r"[ \t\r\n\f\u00a0\u200b]+")


class _TextCollector(HTMLParser):
    """Collects lines of text, each remembering how deep in blockquotes it started."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[tuple[int, str]] = []
        self._current: list[str] = []
        self._current_depth = 0
        self._quote_depth = 0
        self._skip_depth = 0
        self._pre_depth = 0

    def so_far(self) -> list[tuple[int, str]]:
        """The lines collected so far, the unfinished one last (after a parser failure)."""
        return [*self.lines, (0, "".join(self._current))]

    def _break(self, blank: bool = False) -> None:
        text = "".join(self._current).strip(" ")
        if text or blank:
            self.lines.append((self._current_depth, text))
        if blank and text:
            self.lines.append((self._current_depth, ""))
        self._current = []
        self._current_depth = self._quote_depth

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self._skip_depth += 1
            return
        if tag == "br":
            self._break(blank=not self._current)
        elif tag == "blockquote":
            self._break()
            self._quote_depth += 1
            self._current_depth = self._quote_depth
        elif tag in _PARAGRAPH:
            self._break(blank=True)
            if tag == "pre":
                self._pre_depth += 1
        elif tag in _LINE:
            self._break()
            if tag == "li":
                self._current.append("- ")
        elif tag in ("td", "th") and self._current:
            self._current.append(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self._skip_depth = max(0, self._skip_depth - 1)
            return
        if tag == "blockquote":
            self._break()
            self._quote_depth = max(0, self._quote_depth - 1)
            self._current_depth = self._quote_depth
        elif tag in _PARAGRAPH:
            if tag == "pre":
                self._pre_depth = max(0, self._pre_depth - 1)
            self._break(blank=True)
        elif tag in _LINE:
            self._break()

    def handle_data(self, data: str) -> None:
        if self._skip_depth:
            return
        if self._pre_depth:
            parts = data.replace("\r\n", "\n").split("\n")
            for index, part in enumerate(parts):
                if index:
                    self._break(blank=not self._current)
                self._current.append(part.replace("\u00a0", " "))
            return
        text = _SPACES.sub(" ", data)
        if not self._current or "".join(self._current).endswith(" "):
            text = text.lstrip(" ")
        if text:
            if not self._current:
                self._current_depth = self._quote_depth
            self._current.append(text)

    def finish(self) -> list[tuple[int, str]]:
        self.close()
        self._break()
        return self.lines


def html_to_text(html: str) -> str:
    """Convert an HTML mail body into plain text with line breaks where the eye sees them."""
    collector = _TextCollector()
    try:
        collector.feed(html)
        lines = collector.finish()
    except Exception:  # noqa: BLE001 - html.parser is lenient, but never let a body kill a mail
        lines = collector.so_far()
    out: list[str] = []
    previous_blank = True
    for depth, text in lines:
        if not text:
            if previous_blank:
                continue  # at most one blank line in a row, none at the top
            previous_blank = True
            out.append(">" * depth)
            continue
        previous_blank = False
        out.append("> " * depth + text.rstrip())
    while out and out[-1].strip(">") == "":
        out.pop()
    return "\n".join(out)

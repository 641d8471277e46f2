"""The account statement (folyószámla-kivonat) as a PDF: A4 pages, DejaVu Sans embedded.

The words and their order are the template `documents/statement.txt`; this module only
lays its lines out (the line kinds are listed there): a title, bold and plain lines
(wrapped), the bookings' table (long cells cut with "…", its header again on every
page), and a foot on every page with the page number and the page count.

reportlab's canvas draws it (not fpdf2): on a 12-month statement it built in about a
quarter of fpdf2's time (≈ 14 ms against ≈ 60 ms), imports in less than half (≈ 120 ms
against ≈ 300 ms), and embeds a subset of the font by itself, where fpdf2 needs
fontTools (30 MB installed) for that. `bench/documents_bench.py` measures it.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache, partial

from reportlab.lib.pagesizes import A4
from reportlab.lib.utils import simpleSplit
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from core.fonts import font_bytes
from core.statement import AccountStatement
from core.texts import render

REGULAR, BOLD = "PetkommSans", "PetkommSans-Bold"
WIDTH, HEIGHT = A4
LEFT = RIGHT = 42.0
TOP, BOTTOM = 48.0, 56.0
FOOT_Y = 30.0
TEXT_WIDTH = WIDTH - LEFT - RIGHT

# (font, size, leading) of each kind of line.
TITLE = (BOLD, 15.0, 21.0)
STRONG = (BOLD, 10.5, 15.0)
PLAIN = (REGULAR, 9.5, 13.5)
CELL = (REGULAR, 8.5, 12.5)
HEAD = (BOLD, 8.5, 14.0)
FOOT = (REGULAR, 7.5, 9.0)
GAP = 7.0

# The table's columns: width in points (None: what is left) and whether right-aligned.
# Dátum, Tétel, Számlaszám, Megjegyzés, Összeg, Egyenleg utána.
COLUMNS: tuple[tuple[float | None, bool], ...] = (
    (64.0, False),
    (56.0, False),
    (64.0, False),
    (None, False),
    (66.0, True),
    (96.0, True),
)
CELL_PAD = 4.0
STRIPE_GREY = 0.93
ELLIPSIS = "…"

# reportlab keeps a font's subset per document in the font object: one build at a time.
_LOCK = threading.Lock()


@cache
def _fonts() -> None:
    """Register the two weights with reportlab (once per process)."""
    pdfmetrics.registerFont(TTFont(REGULAR, io.BytesIO(font_bytes("regular"))))
    pdfmetrics.registerFont(TTFont(BOLD, io.BytesIO(font_bytes("bold"))))


def _column_widths() -> list[float]:
    fixed = sum(width for width, _ in COLUMNS if width is not None)
    return [TEXT_WIDTH - fixed if width is None else width for width, _ in COLUMNS]


def _fit(text: str, font: str, size: float, width: float) -> str:
    """`text` cut with "…" to fit `width` (a long description in its column)."""
    if pdfmetrics.stringWidth(text, font, size) <= width:
        return text
    fits, too_long = 0, len(text)  # by halves: a 300-character note takes 9 measurements
    while too_long - fits > 1:
        middle = (fits + too_long) // 2
        if pdfmetrics.stringWidth(text[:middle] + ELLIPSIS, font, size) <= width:
            fits = middle
        else:
            too_long = middle
    return text[:fits].rstrip() + ELLIPSIS


Draw = Callable[[Canvas], None]


@dataclass
class _Layout:
    """Pages as lists of drawing steps: laid out first, so every foot can say the page count."""

    pages: list[list[Draw]] = field(default_factory=lambda: [[]])
    y: float = HEIGHT - TOP
    header: list[str] | None = None  # the table's header while a table runs
    striped: bool = False  # whether the last row had the grey stripe
    title: str = ""  # the document's title (its "# " line), for the PDF's metadata
    foot: str = ""  # the foot of every page, with {page} and {pages}

    def room(self, height: float) -> None:
        """Start a new page unless `height` fits above the bottom margin."""
        if self.y - height >= BOTTOM:
            return
        self.pages.append([])
        self.y = HEIGHT - TOP
        if self.header is not None:
            self._row(self.header, HEAD, stripe=False, rule=True)

    def text(self, text: str, style: tuple[str, float, float]) -> None:
        """A paragraph, wrapped, kept on one page (no lone last line on the next)."""
        font, size, leading = style
        lines = simpleSplit(text, font, size, TEXT_WIDTH) or [""]
        self.room(leading * len(lines))
        for line in lines:
            self.y -= leading
            y = self.y + (leading - size) / 2
            self.pages[-1].append(partial(_string, x=LEFT, y=y, font=font, size=size, text=line))

    def gap(self) -> None:
        self.header = None
        self.y -= GAP

    def row(self, cells: list[str]) -> None:
        if self.header is None:  # the first row of a table: its header, with a row under it
            self.room(HEAD[2] + CELL[2])
            self.header = cells
            self._row(cells, HEAD, stripe=False, rule=True)
            self.striped = False
            return
        self.room(CELL[2])
        self.striped = not self.striped
        self._row(cells, CELL, stripe=self.striped, rule=False)

    def _row(
        self, cells: list[str], style: tuple[str, float, float], *, stripe: bool, rule: bool
    ) -> None:
        font, size, leading = style
        self.y -= leading
        top, baseline = self.y + leading, self.y + (leading - size) / 2 + 1
        steps = self.pages[-1]
        if stripe:
            steps.append(partial(_stripe, y=self.y, height=leading))
        x = LEFT
        for text, width, (_, right) in zip(cells, _column_widths(), COLUMNS, strict=False):
            shown = _fit(text, font, size, width - CELL_PAD)
            if right:
                at = x + width - CELL_PAD / 2
                steps.append(partial(_right, x=at, y=baseline, font=font, size=size, text=shown))
            else:
                at = x + CELL_PAD / 2
                steps.append(partial(_string, x=at, y=baseline, font=font, size=size, text=shown))
            x += width
        if rule:
            steps.append(partial(_rule, y=self.y))
            steps.append(partial(_rule, y=top))


def _string(canvas: Canvas, x: float, y: float, font: str, size: float, text: str) -> None:
    canvas.setFont(font, size)
    canvas.drawString(x, y, text)


def _right(canvas: Canvas, x: float, y: float, font: str, size: float, text: str) -> None:
    canvas.setFont(font, size)
    canvas.drawRightString(x, y, text)


def _stripe(canvas: Canvas, y: float, height: float) -> None:
    canvas.setFillGray(STRIPE_GREY)
    canvas.rect(LEFT, y, TEXT_WIDTH, height, stroke=0, fill=1)
    canvas.setFillGray(0)


def _rule(canvas: Canvas, y: float) -> None:
    canvas.setLineWidth(0.6)
    canvas.line(LEFT, y, WIDTH - RIGHT, y)


def statement_pdf(statement: AccountStatement) -> bytes:
    """The statement as a PDF file's bytes."""
    lines = render("documents/statement.txt", statement=statement).splitlines()
    with _LOCK:
        _fonts()
        layout = _lay_out(lines)
        return _draw(layout)


def _lay_out(lines: list[str]) -> _Layout:
    """The template's lines placed on pages."""
    layout = _Layout()
    foot, title = "", ""
    for line in lines:
        if line.startswith("# "):
            title = line[2:]
            layout.text(title, TITLE)
        elif line.startswith("## "):
            layout.text(line[3:], STRONG)
        elif line.startswith("|"):
            layout.row(line[1:].split("|"))
        elif line.startswith("@ "):
            foot = line[2:]
        elif not line.strip():
            layout.gap()
        else:
            layout.header = None
            layout.text(line, PLAIN)
    layout.title, layout.foot = title, foot
    return layout


def _draw(layout: _Layout) -> bytes:
    """The laid-out pages drawn, each with its foot."""
    out = io.BytesIO()
    canvas = Canvas(out, pagesize=A4, pageCompression=1)
    canvas.setTitle(layout.title)
    pages = len(layout.pages)
    for number, steps in enumerate(layout.pages, start=1):
        for step in steps:
            step(canvas)
        foot = layout.foot.replace("{page}", str(number)).replace("{pages}", str(pages))
        _right(canvas, WIDTH - RIGHT, FOOT_Y, FOOT[0], FOOT[1], foot)
        canvas.showPage()
    canvas.save()
    return out.getvalue()

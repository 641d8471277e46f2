"""The year's chart: a PNG of the last 12 months, what raised and what lowered the debt.

One row a month, oldest at the top, its two bars side by side (orange: charges, blue:
payments and credits, colours told apart by the colour-blind too), the amount at the end
of each bar. Drawn for a phone: 720 pixels wide, shown at about 360 points there, so
the type of 25 to 40 pixels reads as 12 to 20 points (more pixels would only make the
file larger and slower to draw: the phone scales it to its width anyway). The words are
the template `documents/chart.txt`; the month names `core.formats`'s.

Pillow alone draws it (a plotting library would take several times as long and a slow
first import for two rectangles a month), as a 10-colour palette image, which keeps the
PNG below 30 kB. `bench/documents_bench.py` measures it.
"""

from __future__ import annotations

import io
import threading
from functools import cache

from PIL import Image, ImageDraw, ImageFont

from core.fonts import Weight, font_bytes
from core.formats import format_month, format_number
from core.statement import YearPicture
from core.texts import render

WIDTH = 720
PAD = 32
TITLE_SIZE, SUBTITLE_SIZE, LABEL_SIZE, VALUE_SIZE = 40, 27, 29, 25
BAR, BAR_GAP, ROW_GAP = 27, 4, 18
SPACE = 12  # between a label and what it names

# Drawn in grey levels first (the type's smooth edges), then as a palette image: 8 greys
# (white last) and the bars' two colours. A quantised full-colour picture looked the same
# and took 100 ms more; this PNG has 10 colours and deflates to a few tens of kilobytes.
LEVELS = 8
WHITE, INK, GREY, RULE = 255, 0, 80, 200  # grey levels before they are cut to LEVELS
CHARGE, PAYMENT = LEVELS, LEVELS + 1  # palette indices of the bars
CHARGE_RGB, PAYMENT_RGB = (213, 94, 0), (0, 114, 178)  # Okabe-Ito orange and blue
_CUT = [value * LEVELS // 256 for value in range(256)]
_PALETTE = [
    *(channel for level in range(LEVELS) for channel in [level * 255 // (LEVELS - 1)] * 3),
    *CHARGE_RGB,
    *PAYMENT_RGB,
]

# FreeType faces are not to be shared between threads drawing at the same time.
_LOCK = threading.Lock()


@cache
def _font(weight: Weight, size: int) -> ImageFont.FreeTypeFont:
    # The basic layout: Hungarian needs no shaping, and it draws a fifth faster than raqm.
    return ImageFont.truetype(
        io.BytesIO(font_bytes(weight)), size, layout_engine=ImageFont.Layout.BASIC
    )


def _month_label(month: str, first: bool) -> str:
    """`2025. dec.` for the first row and every January, else `febr.`: the year once."""
    if first or month.endswith("-01"):
        return format_month(month, short=True)
    return format_month(month, short=True).split(" ", 1)[1]


def chart_png(picture: YearPicture) -> bytes:
    """The chart as a PNG file's bytes."""
    title, subtitle, charge_name, payment_name = render(
        "documents/chart.txt", picture=picture
    ).splitlines()
    with _LOCK:
        return _draw(picture, title, subtitle, charge_name, payment_name)


def _draw(
    picture: YearPicture, title: str, subtitle: str, charge_name: str, payment_name: str
) -> bytes:
    bold, plain = _font("bold", TITLE_SIZE), _font("regular", SUBTITLE_SIZE)
    label_font, value_font = _font("bold", LABEL_SIZE), _font("regular", VALUE_SIZE)
    labels = [_month_label(m.month, i == 0) for i, m in enumerate(picture.months)]

    top = PAD + TITLE_SIZE + SPACE + SUBTITLE_SIZE + 2 * SPACE + SUBTITLE_SIZE + 3 * SPACE
    row = 2 * BAR + BAR_GAP + ROW_GAP
    height = top + row * len(picture.months) + PAD
    image = Image.new("L", (WIDTH, height), WHITE)
    draw = ImageDraw.Draw(image)
    bars: list[tuple[tuple[int, int, int, int], int]] = []  # drawn after the cut, in colour

    draw.text((PAD, PAD), title, font=bold, fill=INK)
    y = PAD + TITLE_SIZE + SPACE
    draw.text((PAD, y), subtitle, font=plain, fill=GREY)
    y += SUBTITLE_SIZE + 2 * SPACE
    x = PAD
    for colour, name in ((CHARGE, charge_name), (PAYMENT, payment_name)):
        bars.append(((x, y + 2, x + SUBTITLE_SIZE - 4, y + SUBTITLE_SIZE - 2), colour))
        x += SUBTITLE_SIZE + SPACE // 2
        draw.text((x, y), name, font=plain, fill=INK)
        x += int(draw.textlength(name, font=plain)) + 3 * SPACE

    left = PAD + max(int(draw.textlength(label, font=label_font)) for label in labels) + 2 * SPACE
    longest = max([1, *(max(m.charges, m.payments) for m in picture.months)])
    amounts = [(m.charges, m.payments) for m in picture.months]
    widest = max(
        int(draw.textlength(format_number(amount, separator=" "), font=value_font))
        for pair in amounts
        for amount in pair
    )
    room = WIDTH - PAD - left - SPACE // 2 - widest  # the longest bar, its amount beside it
    draw.line((left - 1, top - SPACE // 2, left - 1, height - PAD), fill=RULE, width=2)
    for index, (month, label) in enumerate(zip(picture.months, labels, strict=True)):
        y = top + index * row
        middle = y + BAR + BAR_GAP // 2
        draw.text((left - 2 * SPACE, middle), label, font=label_font, fill=INK, anchor="rm")
        for offset, amount, colour in (
            (0, month.charges, CHARGE),
            (BAR + BAR_GAP, month.payments, PAYMENT),
        ):
            length = round(room * amount / longest)
            bar_top = y + offset
            if length:
                bars.append(((left, bar_top, left + length, bar_top + BAR - 1), colour))
            draw.text(
                (left + length + SPACE // 2, bar_top + BAR // 2),
                format_number(amount, separator=" "),
                font=value_font,
                fill=INK if amount else GREY,
                anchor="lm",
            )

    image = image.point(_CUT)
    draw = ImageDraw.Draw(image)
    for box, colour in bars:
        draw.rectangle(box, fill=colour)
    image.putpalette(_PALETTE)  # grey levels become palette indices: a "P" image
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()

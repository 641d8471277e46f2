"""The typeface of the documents the customer gets (the statement PDF, the chart PNG).

DejaVu Sans, shipped in `core/data/fonts/` with its licence: the PDF base fonts
(Helvetica…) have no ő or ű, and a server may have no fonts at all. The files are
subsets (Latin, Greek, Cyrillic; see SOURCE.txt there), read once per process.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Literal

Weight = Literal["regular", "bold"]

_FILES: dict[Weight, str] = {"regular": "DejaVuSans.ttf", "bold": "DejaVuSans-Bold.ttf"}


@cache
def font_bytes(weight: Weight = "regular") -> bytes:
    """The TrueType file of the weight (read once: the renderers keep their own parse)."""
    return resources.files("core").joinpath("data/fonts", _FILES[weight]).read_bytes()

"""Accent folding for matching Hungarian text typed with or without accents."""

from __future__ import annotations

import unicodedata

# Hungarian accents, plus the ISO-8859-2 look-alikes that mislabelled Hungarian
# mail shows for ő and ű (õ, û; ô, ũ from other broken conversions).
_HUNGARIAN = str.maketrans(
    {
        "á": "a",
        "é": "e",
        "í": "i",
        "ó": "o",
        "ö": "o",
        "ő": "o",
        "õ": "o",
        "ô": "o",
        "ú": "u",
        "ü": "u",
        "ű": "u",
        "û": "u",
        "ũ": "u",
        "\u00a0": " ",
    }
)


def fold(text: str) -> str:
    """Lower-case `text` and remove its accents: `Jelszó EMLÉKEZTETŐ` -> `jelszo emlekezteto`.

    Hungarian letters (á é í ó ö ő ú ü ű, and the broken-mail forms õ û) map to
    their base letter; any other combining accent is dropped too.
    """
    lowered = text.casefold().translate(_HUNGARIAN)
    if lowered.isascii():
        return lowered
    decomposed = unicodedata.normalize("NFKD", lowered)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))

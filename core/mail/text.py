"""Accent folding for matching Hungarian text typed with or without accents, and short subjects."""

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


# Our answers' subjects stay readable in a mail client's list: at most this many
# characters, the `[#PK-000123] ` tag (13) included.
SUBJECT_MAX = 150
_TAG_ROOM = len("[#PK-000123] ")
_TRAILING_PUNCTUATION = " ,;:-–—"


def shorten(text: str, limit: int) -> str:
    """`text` on one line, cut at a word to at most `limit` characters, "…" marking the cut.

    A text without a space in its second half (a pasted web address) is cut hard.
    """
    line = " ".join(text.split())
    if len(line) <= limit:
        return line
    cut = line[: limit - 1]
    space = cut.rfind(" ")
    if space >= limit // 2:
        cut = cut[:space]
    return cut.rstrip(_TRAILING_PUNCTUATION) + "…"


def answer_subject(subject: str) -> str:
    """The subject of one of our answers (before its ticket tag), at most `SUBJECT_MAX`
    characters with the tag: a 2000-character subject is cut at a word."""
    return shorten(subject, SUBJECT_MAX - _TAG_ROOM)

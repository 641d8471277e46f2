"""Unicode's confusables (UTS #39, "Unicode Security Mechanisms"): the skeleton of a string.

Two strings that look alike (`papa` in Cyrillic and in Latin letters, Greek capital
alpha and Latin `A`, the dotless i U+0131 and `i`, `rn` and `m`) have the same skeleton
(UTS #39 section 4): decompose (NFD), drop the default-ignorable characters, put each
character's prototype from Unicode's confusables.txt in its place, decompose again.

The data is Unicode's own file, kept unchanged in `core/data/confusables.txt` (its
version and checksum, and Unicode's licence, are in `core/data/confusables-LICENSE.txt`).
No maintained Python library offers the skeleton: `confusable_homoglyphs` keeps only a
two-way table of single characters (no prototypes, so no skeleton), `confusables`
(last released 2021) carries Unicode 13 with mappings of its own added, and ICU (PyICU)
would need a compiler and ICU's headers on every machine. To update the data, replace
the file with a newer confusables.txt from unicode.org and its checksum in the notice.
"""

from __future__ import annotations

import unicodedata
from functools import cache
from importlib import resources

# Default_Ignorable_Code_Point (DerivedCoreProperties.txt), which the skeleton drops:
# invisible characters that would otherwise tell two look-alike strings apart.
_DEFAULT_IGNORABLE = (
    (0x00AD, 0x00AD),
    (0x034F, 0x034F),
    (0x061C, 0x061C),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x206F),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0),
    (0xFFF0, 0xFFF8),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),
)


def _ignorable(char: str) -> bool:
    code = ord(char)
    return any(low <= code <= high for low, high in _DEFAULT_IGNORABLE)


@cache
def prototypes() -> dict[str, str]:
    """Each confusable character's prototype (a character or a short sequence), from
    Unicode's confusables.txt; read once."""
    text = resources.files("core").joinpath("data/confusables.txt").read_text("utf-8")
    table: dict[str, str] = {}
    for line in text.lstrip("\ufeff").splitlines():
        data = line.split("#", 1)[0].strip()
        if not data:
            continue
        source, target, _kind = (field.strip() for field in data.split(";"))
        table[chr(int(source, 16))] = "".join(chr(int(code, 16)) for code in target.split())
    return table


def skeleton(text: str) -> str:
    """UTS #39's skeleton: equal for strings that look alike (it is not meant for display)."""
    table = prototypes()
    decomposed = unicodedata.normalize("NFD", text)
    mapped = "".join(table.get(char, char) for char in decomposed if not _ignorable(char))
    return unicodedata.normalize("NFD", mapped)

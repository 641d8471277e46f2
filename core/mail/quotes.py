"""Finding the customer's own words in a reply: quote and signature stripping.

A reply is cut at the first line where the quoted conversation starts — our own
"reply above this line" marker, an attribution line ("On … wrote:", "… ezt írta:",
"… keltezéssel, … írta:"), an Outlook separator or header block, a mobile
signature or the `-- ` signature separator — and `>` quoted lines are dropped
from what is left. Each detector is a small function in `_CUT_DETECTORS`,
checked in order on every line.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from core.mail.text import fold

#: The separator our outgoing mails carry; everything below it is our own text.
REPLY_ABOVE_MARKER = "##- Kérjük, e sor fölé írja válaszát -##"

_MARKER_FOLDED = "e sor fole irja valaszat"
_MAX_ATTRIBUTION_LINES = 3

# "-----Original Message-----", "-------- Eredeti üzenet --------" (Samsung), …
_SEPARATOR = re.compile(
    r"^-{2,}\s*(original message|eredeti uzenet|ursprungliche nachricht|message d'origine)"
    r"\s*-{2,}$"
)
_UNDERSCORES = re.compile(r"^_{8,}$")
# The first and the other lines of an Outlook header block, in English, Hungarian
# and German; Outlook's plain-text conversion sometimes keeps bold as *From:*.
_HEADER_FROM = re.compile(r"^\*?(from|felado|von|de|od)\s*:\*?\s*\S")
_HEADER_OTHER = re.compile(
    r"^\*?(sent|date|to|cc|subject|elkuldve|kuldve|datum|cimzett|masolatot kap|masolat|targy"
    r"|gesendet|an|betreff)\s*:"
)
# An attribution line ends with "wrote:" in some language, maybe followed by a
# parenthesis (old Gmail Hungarian: "… ezt írta (időpont: 2024. jún. 3., H, 10:00):");
# German puts the name after the verb ("Am … schrieb Name <cím>:").
_ATTRIBUTION_END = re.compile(
    r"(\bwrote|\bezt irta|\birta|\ba ecrit|\bnapisal\w*)\s*(\([^()]{0,80}\))?\s*:$"
    r"|\bschrieb\b.{0,150}:$"
)
_ATTRIBUTION_EVIDENCE = re.compile(r"@|\b\d{1,2}:\d{2}\b")
# How the first line of a wrapped attribution begins: strongly with "On …" or a
# date, weakly with "Name <address" (old Gmail Hungarian: "Név <cim@x.hu> ezt írta …").
_STRONG_START = re.compile(
    r"^(on|am|le|el|dne)\s|^\d{4}[.\-/ ]|^\d{1,2}[.\-/ ]"
    r"|^(hetfo|kedd|szerda|csutortok|pentek|szombat|vasarnap|mon|tue|wed|thu|fri|sat|sun)"
)
_WEAK_START = re.compile(r"^[^<>@:]{1,80}<[^<>\s]*@?")
_MOBILE_SIGNATURE = re.compile(
    r"^(sent from my .{1,40}"
    r"|sent from (outlook|mail|yahoo mail|gmail) for .{1,30}"
    r"|get outlook for .{1,30}"
    r"|kuldve .{0,30}(iphone|ipad|android|galaxy|mobil|telefon|outlook|levelezo).{0,25}"
    r"|.{0,40}(okostelefonomrol|telefonomrol|mobilomrol|iphone-?omrol|iphone-?rol|ipad-?rol"
    r"|androidrol|tablagepemrol) kuldve"
    r"|outlook (ios|android)(-ra|-re)? letoltese.{0,20}|.{0,20}outlook letoltese.{0,25}"
    r"|von meinem .{1,30} gesendet)\.?$"
)


def _is_quoted(line: str) -> bool:
    return line.lstrip().startswith(">")


def _normal(line: str) -> str:
    """A line as the detectors see it: accent-folded, lower-case, no outer spaces."""
    return fold(line).strip()


def _marker(lines: list[str], index: int) -> int | None:
    """Our own "please reply above this line" separator (maybe quoted by the client)."""
    return index if _MARKER_FOLDED in _normal(lines[index]) else None


def _separator(lines: list[str], index: int) -> int | None:
    """Outlook's "-----Original Message-----", in Hungarian "-----Eredeti üzenet-----"."""
    return index if _SEPARATOR.match(_normal(lines[index])) else None


def _header_block(lines: list[str], index: int) -> int | None:
    """An Outlook "From:/Sent:/To:/Subject:" or "Feladó:/Elküldve:/Címzett:/Tárgy:" block.

    A line of underscores right above the block belongs to it.
    """
    if not _HEADER_FROM.match(_normal(lines[index])):
        return None
    following = [_normal(line) for line in lines[index + 1 : index + 7]]
    if sum(1 for line in following if _HEADER_OTHER.match(line)) < 2:
        return None
    start = index
    probe = index - 1
    while probe >= 0 and not lines[probe].strip():
        probe -= 1
    if probe >= 0 and _UNDERSCORES.match(lines[probe].strip()):
        start = probe
    return start


def _attribution_matches(lines: list[str], index: int, count: int) -> bool:
    chunk = lines[index : index + count]
    if len(chunk) < count or any(not line.strip() or _is_quoted(line) for line in chunk):
        return False
    joined = " ".join(_normal(line) for line in chunk)
    return (
        len(joined) <= 400
        and _ATTRIBUTION_END.search(joined) is not None
        and _ATTRIBUTION_EVIDENCE.search(joined) is not None
    )


def _start_strength(line: str) -> int:
    """2 for a line that starts like an attribution ("On …", a date), 1 for "Name <…", else 0."""
    normal = _normal(line)
    if _STRONG_START.search(normal):
        return 2
    return 1 if _WEAK_START.search(normal) else 0


def _attribution_length(lines: list[str], index: int) -> int | None:
    """How many lines the attribution starting at `index` spans, or None."""
    for count in range(1, _MAX_ATTRIBUTION_LINES + 1):
        if not _attribution_matches(lines, index, count):
            continue
        if count == 1 or _start_strength(lines[index]):
            return count
        return None
    return None


def _attribution(lines: list[str], index: int) -> int | None:
    """An attribution: "On … wrote:", "… időpontban … ezt írta:", "… keltezéssel, … írta:".

    A wrapped attribution counts only when its first line starts like one, and
    not when the next line starts one at least as convincingly: so a customer's
    last line right above an attribution is not swallowed with it.
    """
    count = _attribution_length(lines, index)
    if count is None:
        return None
    if count > 1 and _attribution_length(lines, index + 1) is not None:
        if _start_strength(lines[index + 1]) >= _start_strength(lines[index]):
            return None
    return index


def _mobile_signature(lines: list[str], index: int) -> int | None:
    """A mobile signature: "Sent from my iPhone", "Küldve iPhone-ról", "… telefonomról küldve"."""
    line = _normal(lines[index])
    return index if len(line) <= 80 and _MOBILE_SIGNATURE.match(line) else None


def _signature_separator(lines: list[str], index: int) -> int | None:
    """The "-- " signature separator (some clients drop its trailing space)."""
    return index if lines[index].rstrip("\r") in ("-- ", "--") else None


_CUT_DETECTORS: list[Callable[[list[str], int], int | None]] = [
    _marker,
    _separator,
    _header_block,
    _attribution,
    _mobile_signature,
    _signature_separator,
]


def _find_cut(lines: list[str]) -> int | None:
    """Index of the first line of the quoted conversation, or None."""
    for index in range(len(lines)):
        if _is_quoted(lines[index]) and _MARKER_FOLDED not in _normal(lines[index]):
            continue
        for detector in _CUT_DETECTORS:
            cut = detector(lines, index)
            if cut is not None:
                return cut
    return None


def _tidy(lines: list[str]) -> str:
    """Join lines, with no blank lines at the ends and at most one blank line in a row."""
    out: list[str] = []
    for line in lines:
        line = line.rstrip()
        if not line and (not out or not out[-1]):
            continue
        out.append(line)
    while out and not out[-1]:
        out.pop()
    return "\n".join(out)


def _unquoted_lines(lines: list[str]) -> list[str]:
    return [line for line in lines if not _is_quoted(line)]


def _bottom_posted(lines: list[str]) -> str:
    """The unquoted lines of a reply written below the quote, without attributions."""
    kept: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        if _is_quoted(line) or _marker(lines, index) is not None:
            index += 1
            continue
        if _signature_separator(lines, index) is not None or _mobile_signature(lines, index):
            break
        if _attribution(lines, index) is not None:
            # Skip the attribution, however many lines it was wrapped over.
            index += _attribution_length(lines, index) or 1
            continue
        kept.append(line)
        index += 1
    return _tidy(kept)


def strip_quoted(text: str) -> str:
    """The new part of a reply: quoted lines, attributions and signatures removed.

    Never returns an empty string when the text has unquoted words: a reply
    written below the quote keeps its words, and a text that looks entirely
    quoted is returned whole.
    """
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    cut = _find_cut(lines)
    above = lines if cut is None else lines[:cut]
    result = _tidy(_unquoted_lines(above))
    if result:
        return result
    result = _bottom_posted(lines)
    if result:
        return result
    return _tidy(lines)

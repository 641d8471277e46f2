"""Finding the customer's own words in a mail: quote, signature and advert stripping.

A reply is cut at the first line where the quoted conversation starts — our own
"reply above this line" marker, an attribution line ("On … wrote:", "… ezt írta:",
"… keltezéssel, … írta:"), an Outlook separator or header block, a mobile
signature or the `-- ` signature separator — and `>` quoted lines are dropped
from what is left. Each detector is a small function in `_CUT_DETECTORS`,
checked in order on every line.

A forward is not a quote: what a customer forwards ("---------- Továbbított
üzenet ----------", "Forwarded message", "Begin forwarded message:", an Outlook
header block under a "TO:"/"FW:" subject) is the complaint staff must read, so
it stays in the new text with its header lines, only its own quotes and
signatures cut (`_find_forward`, `_forwarded_part`). Webmail adverts at the end
(Freemail, Citromail, Indamail, Avast) go like signatures (`_strip_footer`).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from core.mail.text import fold

#: The separator our outgoing mails carry; everything below it is our own text.
REPLY_ABOVE_MARKER = "##- Kérjük, e sor fölé írja válaszát -##"

_MARKER_FOLDED = "e sor fole irja valaszat"
_MAX_ATTRIBUTION_LINES = 3
_MAX_FORWARD_DEPTH = 5  # a forward of a forward of …: deeper ones are kept as they are

# "-----Original Message-----", "-------- Eredeti üzenet --------" (Samsung),
# "-------- Eredeti levél --------" (Freemail), …
_SEPARATOR = re.compile(
    r"^-{2,}\s*(original message|eredeti (uzenet|level)|ursprungliche nachricht|message d'origine)"
    r"\s*-{2,}$"
)
_UNDERSCORES = re.compile(r"^_{8,}$")
# What only a forward starts with: Gmail's and Thunderbird's separator line (English,
# Hungarian, German, French; Freemail and Citromail say "Továbbított levél"), and
# Apple Mail's introduction of a forwarded message.
_FORWARD_SEPARATOR = re.compile(
    r"^-{2,}\s*(forwarded message|tovabbitott (uzenet|level)|weitergeleitete nachricht"
    r"|message transfere)\s*-{2,}$"
)
_FORWARD_INTRO = re.compile(
    r"^(begin forwarded message|anfang der weitergeleiteten nachricht"
    r"|tovabbitott uzenet kezdete|kezdete a tovabbitott uzenetnek|debut du message reexpedie)"
    r"\s*:?$"
)
# A subject that says the mail forwards one: "Fwd:", "FW:", Outlook's Hungarian "TO:",
# webmails' "Továbbítás:", German "WG:", French "TR:", after any reply prefixes.
_FORWARD_SUBJECT = re.compile(
    r"^\s*((re|aw|vs|sv|valasz)\s*:\s*)*(fwd?|to|tov|tovabbitas|tovabbitott|wg|tr|vb)\s*:"
)
_REPLY_SUBJECT = re.compile(r"^\s*(re|aw|vs|sv|valasz)\s*:")
# A header line of a forwarded mail's header block ("Feladó: …", "*Subject:* …").
_HEADER_LINE = re.compile(r"^\*?[^\W\d][\w .-]{0,24}:\*?(\s|$)")
# Webmail advertising footers: a provider's name with a web address or an advert's words.
_AD_BRAND = re.compile(
    r"freemail|citromail|indamail|vipmail|t-online|mailbox\.hu|axelero|avast|avg\.com"
    r"|mailbird|yahoo mail|aol mail"
)
_AD_WORDS = re.compile(
    r"www\.|https?://|ingyenes|levelez|regisztral|virusmentes|virus-free"
    r"|reklam|hirdetes|sent with|kuldve|e-?mail cim|tarhely|nyer|jatssz|jatek|akcio"
)
_EMAIL_ADDRESS = re.compile(r"\S+@\S+")
_WEB_ADDRESS = re.compile(r"(?:https?://|www\.)[^\s<>()]+")
_URL_LINE = re.compile(r"^<?(https?://|www\.)\S+>?$")
_RULE_LINE = re.compile(r"^([_\-=*~]){5,}$")
_MAX_FOOTER_LINES = 6
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
        if (
            _signature_separator(lines, index) is not None
            or _mobile_signature(lines, index) is not None
        ):
            break
        if _attribution(lines, index) is not None:
            # Skip the attribution, however many lines it was wrapped over.
            index += _attribution_length(lines, index) or 1
            continue
        kept.append(line)
        index += 1
    return _tidy(kept)


# --- webmail advertising footers ----------------------------------------------------------


def _is_ad_line(line: str) -> bool:
    """A provider's advert: a line that starts with its name and an advert's words
    ("Freemail - ingyenes levelezés: …"), or little but its web address ("Vírusmentes.
    www.avast.com"). A customer's sentence naming a provider is neither."""
    normal = _EMAIL_ADDRESS.sub(" ", _normal(line)).strip()
    if len(normal) > 200 or not _AD_BRAND.search(normal):
        return False
    if _AD_BRAND.match(normal.lstrip("-_*~[( ")) and _AD_WORDS.search(normal):
        return True
    addresses = _WEB_ADDRESS.findall(normal)
    rest = _WEB_ADDRESS.sub("", normal).strip(" <>()[]")
    return any(_AD_BRAND.search(address) for address in addresses) and len(rest) <= 30


def _is_more_ad(line: str) -> bool:
    """A later line of an advert block: the provider named anywhere with an advert's words
    ("Nyerj iPhone-t! Játssz a Freemail nyereményjátékán: …")."""
    normal = _EMAIL_ADDRESS.sub(" ", _normal(line)).strip()
    return len(normal) <= 200 and bool(_AD_BRAND.search(normal) and _AD_WORDS.search(normal))


def _strip_footer(lines: list[str]) -> list[str]:
    """The lines without a trailing webmail advert ("Freemail - ingyenes levelezés …").

    Only a block at the very end counts: its first line names a provider with an
    advert's words, every line after it is an advert (the provider named with an
    advert's words), a web address or a rule, and a rule line ("_____") right above
    it goes with it.
    """
    end = len(lines)
    while end and not lines[end - 1].strip():
        end -= 1
    start: int | None = None
    index = end - 1
    seen = 0
    while index >= 0 and seen < _MAX_FOOTER_LINES:
        line = lines[index].strip()
        if line:
            seen += 1
            if _is_ad_line(line):
                start = index
            elif not (_URL_LINE.match(line) or _RULE_LINE.match(line) or _is_more_ad(line)):
                break
        index -= 1
    if start is None:
        return lines
    probe = start - 1
    while probe >= 0 and not lines[probe].strip():
        probe -= 1
    if probe >= 0 and _RULE_LINE.match(lines[probe].strip()):
        start = probe
    return lines[:start]


# --- forwards ----------------------------------------------------------------------------------


def forward_context(subject: str, replied: bool) -> bool:
    """Whether a mail's header blocks are forwards: its subject says so ("Fwd:", "TO:"),
    or it replies to nothing and its subject is no reply's ("Re:", "VS:") either."""
    folded = fold(subject)
    if _FORWARD_SUBJECT.match(folded):
        return True
    return not replied and not _REPLY_SUBJECT.match(folded)


def _quote_start(lines: list[str], index: int) -> bool:
    """A line where a quoted conversation (not a signature) starts."""
    return any(
        detector(lines, index) is not None
        for detector in (_marker, _separator, _header_block, _attribution)
    )


def _find_forward(lines: list[str], forwarded: bool) -> int | None:
    """Index of the first line of the customer's forward, or None.

    A forward separator or Apple's "Begin forwarded message:" always starts one; in a
    forward context an Outlook header block or "-----Original Message-----" does
    too. A quoted conversation starting first (a reply's attribution, our marker)
    ends the search: anything below it is quoted, forwarded or not.
    """
    for index in range(len(lines)):
        if _is_quoted(lines[index]):
            continue
        normal = _normal(lines[index])
        if _FORWARD_SEPARATOR.match(normal) or _FORWARD_INTRO.match(normal):
            return index
        if forwarded:
            if _separator(lines, index) is not None:
                return index
            block = _header_block(lines, index)
            if block is not None:
                return block
        if _quote_start(lines, index):
            return None
    return None


def _unquote_once(lines: list[str]) -> list[str]:
    """Lines with one level of `>` quoting removed (Apple Mail quotes what it forwards)."""
    out = []
    for line in lines:
        stripped = line.lstrip()
        if stripped.startswith(">"):
            stripped = stripped[1:]
            line = stripped[1:] if stripped.startswith(" ") else stripped
        out.append(line)
    return out


def _forwarded_part(lines: list[str], depth: int) -> str:
    """A forwarded mail as staff read it: its intro or separator, its header block,
    then its text with its own quotes, signatures and adverts cut."""
    head = [lines[0]] if not _UNDERSCORES.match(lines[0].strip()) else []
    rest = lines[1:]
    if rest and all(_is_quoted(line) for line in rest if line.strip()):
        rest = _unquote_once(rest)
    index = 0
    while index < len(rest) and not rest[index].strip():
        index += 1
    if index < len(rest) and _HEADER_LINE.match(rest[index].strip()):
        while index < len(rest) and rest[index].strip():
            head.append(rest[index])
            index += 1
    body = _strip("\n".join(rest[index:]), forwarded=False, depth=depth + 1)
    return _tidy([*head, "", *body.split("\n")])


# --- the entry point ---------------------------------------------------------------------------


def _only_signature(lines: list[str]) -> bool:
    """Nothing but a mobile signature or an advert ("Küldve iPhone-ról"): no words to keep."""
    return all(
        _mobile_signature(lines, index) is not None
        or _is_ad_line(line)
        or _RULE_LINE.match(line.strip())
        or _URL_LINE.match(line.strip())
        for index, line in enumerate(lines)
        if line.strip()
    )


def _strip(text: str, *, forwarded: bool, depth: int) -> str:
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    start = _find_forward(lines, forwarded) if depth < _MAX_FORWARD_DEPTH else None
    if start is not None:
        above = lines[:start]
        own = ""
        if not _only_signature(above):
            own = _strip("\n".join(above), forwarded=False, depth=depth)
        return _tidy([*own.split("\n"), "", *_forwarded_part(lines[start:], depth).split("\n")])
    cut = _find_cut(lines)
    above = _strip_footer(lines if cut is None else lines[:cut])
    result = _tidy(_unquoted_lines(above))
    if result:
        return result
    result = _bottom_posted(_strip_footer(lines))
    if result or _only_signature(lines):
        return result
    return _tidy(lines)


def strip_quoted(text: str, *, forwarded: bool = False) -> str:
    """The new part of a mail: quoted lines, attributions, signatures and adverts removed.

    A forward stays, with its headers (`forwarded`: the mail's header blocks are
    forwards, see `forward_context`). Never returns an empty string when the text
    has unquoted words: a reply written below the quote keeps its words, and a
    text that looks entirely quoted is returned whole.
    """
    return _strip(text, forwarded=forwarded, depth=0)

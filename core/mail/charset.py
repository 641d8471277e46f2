"""Turning mail bytes into text without ever raising.

Hungarian mail arrives as UTF-8, Windows-1250 and ISO-8859-2, sometimes with a
charset label nobody knows and sometimes with no label at all. Every decoder
here walks the same chain — declared charset, UTF-8, Windows-1250, ISO-8859-2 —
and reports what it had to guess in a short English sentence for the log.

Headers are decoded here too (RFC 2047 encoded words): our own decoder rather
than the email package's, so that unknown charsets, undeclared 8-bit bytes and
encoded words split in the middle of a character all get the same fallbacks.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import re

# The chain after the declared charset; ISO-8859-2 maps every byte, so the chain
# always ends with a result.
FALLBACK_CHARSETS = ("utf-8", "windows-1250", "iso-8859-2")

# Labels seen in the wild that Python does not know but that mean a charset it does.
_ALIASES = {
    "utf8": "utf-8",
    "unicode-1-1-utf-8": "utf-8",
    "x-unicode20utf8": "utf-8",
    "cp-1250": "windows-1250",
    "win-1250": "windows-1250",
    "x-cp1250": "windows-1250",
    "iso8859-2": "iso-8859-2",
    "latin2": "iso-8859-2",
    "ansi_x3.4-1968": "us-ascii",
    "ascii": "us-ascii",
    "us-ascii": "us-ascii",
}

# One-byte charsets decode any bytes; valid UTF-8 with accents under such a label is
# UTF-8 mislabelled (no Hungarian text in them is valid UTF-8 by chance).
_ONE_BYTE = frozenset({"cp1250", "iso8859-2", "iso8859-1", "cp1252", "iso8859-15"})

# Western one-byte charsets that Hungarian mail is often mislabelled with (Outlook's
# iso-8859-1, a form's windows-1252): ő/ű/Ő/Ű in Windows-1250 and ISO-8859-2 are the
# bytes of õ/û/Õ/Û there, and á é í ó ö ú ü are the same bytes in all of them.
_WESTERN = frozenset({"iso8859-1", "cp1252", "iso8859-15"})
_WESTERN_GARBLE = re.compile("[õûÕÛ]")
_CENTRAL = ("cp1250", "iso8859-2")

_ENCODED_WORD = re.compile(
    r"=\?(?P<charset>[^?\s*]+)(?:\*[^?\s]*)?\?(?P<encoding>[QqBb])\?(?P<text>[^?]*)\?="
)
_FOLD = re.compile(r"\r?\n(?=[ \t])")


def _codec_name(label: str) -> str | None:
    """Python's canonical codec name for a charset label, or None when it has none."""
    cleaned = _ALIASES.get(label.lower(), label.lower())
    try:
        name = codecs.lookup(cleaned).name
        # base64, rot13 and friends are codecs but not text encodings: this raises.
        "".encode(cleaned)
    except (LookupError, TypeError, ValueError):
        return None
    return name


def _display(codec: str) -> str:
    """The name a person expects in a log line (`windows-1250`, not `cp1250`)."""
    return {"cp1250": "windows-1250", "iso8859-2": "iso-8859-2"}.get(codec, codec)


def _mostly_valid(data: bytes, codec: str) -> tuple[str, int] | None:
    """`data` decoded in `codec` with its broken bytes replaced, when it is mostly valid there.

    Mostly valid: at least as many non-ASCII characters decode cleanly as there are
    broken byte runs. A UTF-8 text cut inside its last character qualifies (many good
    accents, one broken run); Windows-1250 text read as UTF-8 never does (its accented
    letters almost never form valid UTF-8 sequences). Returns (text, broken runs), or None.
    """
    try:
        text = data.decode(codec, errors="replace")
        clean = data.decode(codec, errors="ignore")
    except (LookupError, ValueError):
        return None
    broken = text.count("\ufffd") - clean.count("\ufffd")
    good = sum(1 for ch in clean if ord(ch) > 0x7F and ch != "\ufffd")
    if broken and good >= broken:
        return text, broken
    return None


def _utf8_with_accents(data: bytes) -> str | None:
    """`data` as UTF-8 when it is valid UTF-8 holding at least one multi-byte character."""
    if data.isascii():
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def decode_bytes(data: bytes, declared: str | None = None) -> tuple[str, str | None]:
    """Decode `data`, trying the declared charset, then UTF-8, Windows-1250, ISO-8859-2.

    Returns the text and, when the declared charset could not be used as it is, a
    short English problem description (`unknown charset x-foo, decoded as
    windows-1250`). Text that is mostly valid in its declared charset (or, undeclared,
    in UTF-8) keeps that charset, with U+FFFD only where bytes are broken; UTF-8
    labelled as a one-byte charset (a web form's mistake) is read as UTF-8.
    Never raises.
    """
    label = (declared or "").strip().strip("\"'")
    codec = _codec_name(label) if label else None
    if codec is not None:
        if codec in _ONE_BYTE and (utf8 := _utf8_with_accents(data)) is not None:
            return utf8, f"text declared {label} is utf-8, decoded as utf-8"
        try:
            text = data.decode(codec)
        except (UnicodeDecodeError, LookupError, ValueError):
            pass
        else:
            if codec in _WESTERN and _WESTERN_GARBLE.search(text):
                return _central_european(data, label)
            return text, None
        mostly = _mostly_valid(data, codec)
        if mostly is not None:
            text, broken = mostly
            return text, f"text not valid {label}: {broken} broken byte run(s) replaced"
    elif not label and data.isascii():
        return data.decode("ascii"), None
    for candidate in FALLBACK_CHARSETS:
        try:
            text = data.decode(candidate)
        except UnicodeDecodeError:
            if candidate != "utf-8" or codec == "utf-8":
                continue
            mostly = _mostly_valid(data, candidate)
            if mostly is None:
                continue
            text, broken = mostly
            used = f"utf-8, {broken} broken byte run(s) replaced"
        else:
            used = _display(codecs.lookup(candidate).name)
        if not label:
            return text, f"undeclared 8-bit text, decoded as {used}"
        if codec is None:
            return text, f"unknown charset {label}, decoded as {used}"
        return text, f"text not valid {label}, decoded as {used}"
    # Unreachable in practice (ISO-8859-2 maps every byte), kept for safety.
    return data.decode("utf-8", errors="replace"), "undecodable text, bad bytes replaced"


def _central_european(data: bytes, label: str) -> tuple[str, str]:
    """Hungarian text labelled as a Western charset (õ/û where ő/ű were meant): read it
    as Windows-1250 (Outlook's), or as ISO-8859-2 when it is not valid Windows-1250."""
    for codec in _CENTRAL:
        try:
            text = data.decode(codec)
        except UnicodeDecodeError:
            continue
        return text, f"text declared {label} has õ/û, decoded as {_display(codec)}"
    return data.decode("iso8859-2", errors="replace"), f"text declared {label}: bytes replaced"


def unescape_surrogates(text: str) -> bytes:
    """The original bytes of a header or payload the email package read as ASCII."""
    return text.encode("ascii", errors="surrogateescape")


def _decode_plain_run(text: str, problems: list[str]) -> str:
    """Undeclared 8-bit bytes in a header arrive as surrogate escapes: decode them."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        pass
    try:
        data = unescape_surrogates(text)
    except UnicodeEncodeError:
        return text.encode("utf-8", errors="replace").decode("utf-8")
    decoded, problem = decode_bytes(data)
    # Raw UTF-8 in headers is legitimate (RFC 6532); anything else was a guess.
    if problem and not problem.endswith("decoded as utf-8"):
        problems.append(f"header: {problem}")
    return decoded


def _encoded_word_bytes(encoding: str, text: str) -> bytes | None:
    """The bytes an encoded word carries, or None when it cannot be decoded."""
    try:
        if encoding in "Bb":
            compact = re.sub(r"[^A-Za-z0-9+/]", "", text)
            compact += "=" * (-len(compact) % 4)
            return base64.b64decode(compact)
        return binascii.a2b_qp(text.encode("ascii", errors="surrogateescape"), header=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return None


def unfold(value: str) -> str:
    """Join a folded header value into one line (RFC 5322 unfolding)."""
    return _FOLD.sub("", value).replace("\r", "").replace("\n", "")


def decode_header_value(value: str, problems: list[str] | None = None) -> str:
    """Decode an RFC 2047 header value exactly, without losing or adding spaces.

    Whitespace between two adjacent encoded words is dropped (RFC 2047 §6.2);
    adjacent encoded words of one charset are joined before decoding so a
    character split between them survives; bad charsets fall back along the chain.
    """
    sink: list[str] = [] if problems is None else problems
    value = unfold(value)
    out: list[str] = []
    pending: list[bytes] = []
    pending_charset: str | None = None

    def flush() -> None:
        nonlocal pending, pending_charset
        if pending:
            text, problem = decode_bytes(b"".join(pending), pending_charset)
            if problem:
                sink.append(f"header: {problem}")
            out.append(text)
        pending, pending_charset = [], None

    position = 0
    previous_was_word = False
    for match in _ENCODED_WORD.finditer(value):
        gap = value[position : match.start()]
        data = _encoded_word_bytes(match["encoding"], match["text"])
        if data is None:
            # Keep an undecodable word literally rather than dropping the text.
            flush()
            out.append(_decode_plain_run(gap, sink) + match.group(0))
            sink.append("header: undecodable encoded word kept as is")
            previous_was_word = False
            position = match.end()
            continue
        if previous_was_word and not gap.strip(" \t"):
            gap = ""
        charset = match["charset"].lower()
        if gap or charset != pending_charset:
            flush()
        if gap:
            out.append(_decode_plain_run(gap, sink))
        pending.append(data)
        pending_charset = charset
        previous_was_word = True
        position = match.end()
    flush()
    out.append(_decode_plain_run(value[position:], sink))
    return "".join(out)

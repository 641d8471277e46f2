"""Message-IDs: reading them, the stand-in for a mail without one, and a reply's parents.

A mail is stored and recognised by its Message-ID; one without gets a stand-in
made from the md5 of its bytes, under a domain nobody else uses, so that it can
be stored once and never threaded to. `stored_message_id` reads the same id as
`parse_mail` from the header block alone, for the reader that stores whole
batches before anything is parsed.
"""

from __future__ import annotations

import hashlib
import re
from email.parser import BytesHeaderParser
from email.policy import compat32
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # parse.py reads its ids with the functions below
    from core.mail.parse import ParsedMail

MISSING_ID_DOMAIN = "missing.petkomm"

_MSG_ID = re.compile(r"<([^<>\s]+)>")


def normalise_message_id(value: str | None) -> str | None:
    """`<abc@x>` from `<abc@x>`, ` abc@x ` or `<abc@x> (comment)`; None when empty."""
    if not value:
        return None
    match = _MSG_ID.search(value)
    if match:
        return f"<{match.group(1)}>"
    token = value.strip().split()
    if not token:
        return None
    bare = token[0].strip("<>")
    return f"<{bare}>" if bare else None


def message_ids(value: str | None) -> list[str]:
    """All message ids in a References-like header, in order, without duplicates."""
    if not value:
        return []
    found = [f"<{m}>" for m in _MSG_ID.findall(value)]
    if not found:
        found = [f"<{token.strip('<>')}>" for token in value.split() if token.strip("<>")]
    unique: list[str] = []
    for item in found:
        if item not in unique:
            unique.append(item)
    return unique


# --- the stand-in of a mail without a Message-ID ----------------------------------------


def stand_in_message_id(raw: bytes) -> str:
    """The id of a mail that has none: `<md5-…@missing.petkomm>`, the same for the same bytes."""
    return f"<md5-{hashlib.md5(raw).hexdigest()}@{MISSING_ID_DOMAIN}>"


def is_stand_in(message_id: str) -> bool:
    """True for a stand-in id: nobody else knows it, so nothing can be threaded to it."""
    return message_id.startswith("<md5-") and message_id.endswith(f"@{MISSING_ID_DOMAIN}>")


# --- a reply's parents ----------------------------------------------------------------


def parent_references(mail: ParsedMail) -> list[str]:
    """The parent's References, or its In-Reply-To when it has none (RFC 5322 3.6.4).

    A reply to `mail` carries these, then `mail`'s own id, in its References.
    """
    if mail.references:
        return list(mail.references)
    return [mail.in_reply_to] if mail.in_reply_to else []


def replied_ids(mail: ParsedMail) -> list[str]:
    """The ids `mail` says it answers: In-Reply-To first, then the References not repeated."""
    ids = [mail.in_reply_to] if mail.in_reply_to else []
    return ids + [msg_id for msg_id in mail.references if msg_id not in ids]


# --- the id a raw mail is stored under ---------------------------------------------------

# The end of the header block: the first empty line, whatever the line ends
# (email.feedparser cuts lines at \r\n, \r and \n; an empty line always
# begins right after one of \n\n, \n\r or \r\r).
_HEADER_END = re.compile(rb"\n\n|\n\r|\r\r")
# A header block email.feedparser reads line by line exactly as written:
# `Name: value` lines (the name printable ASCII without ':') and folded
# continuation lines, each ended by \r\n or \n.
_PLAIN_HEADERS = re.compile(rb"(?:(?:[\x21-\x39\x3b-\x7e]+:|[ \t])[^\r\n]*\r?\n)*")
_MESSAGE_ID_HEADER = re.compile(
    rb"^message-id:([^\r\n]*(?:\r?\n[ \t][^\r\n]*)*)", re.IGNORECASE | re.MULTILINE
)


def _header_value(raw: bytes, end: int) -> str | None:
    """The first Message-ID header's raw value, read as `email` reads it.

    A plain header block (the everyday case) is scanned with one regular
    expression; anything unusual (an mbox From_ line, a line that is no header,
    bare CRs, a folded first line) goes through `email`'s own header parser,
    on the header block only.
    """
    head = raw[: end + 1]  # through the line end before the empty line
    if head[:1] not in (b" ", b"\t") and _PLAIN_HEADERS.fullmatch(head):
        match = _MESSAGE_ID_HEADER.search(head)
        if match is None:
            return None
        return match[1].lstrip(b" \t").decode("ascii", "surrogateescape").rstrip("\r\n")
    message = BytesHeaderParser(policy=compat32).parsebytes(raw[: end + 3])
    for name, value in message.raw_items():
        if str(name).strip().lower() == "message-id":
            return str(value)
    return None


def stored_message_id(raw: bytes) -> str:
    """The id a raw mail is stored and recognised by: `parse_mail(raw).message_id`, cheaply.

    Only the header block is read (a few microseconds instead of a full parse),
    following the same rules as `core.mail.parse`: the first Message-ID header,
    normalised; the md5 stand-in when there is none. An id that is not plain
    text (8-bit bytes in the header) gets the stand-in too, so every mail can
    be stored; the processor then uses the stored id.
    """
    found = _HEADER_END.search(raw)
    end = found.start() if found is not None else len(raw) - 1
    readable = raw and not raw.isspace()  # parse_mail refuses an empty mail
    message_id = normalise_message_id(_header_value(raw, end)) if readable else None
    if message_id is None or not message_id.isascii():
        return stand_in_message_id(raw)
    return message_id

"""Reading one raw mail into a `ParsedMail`, whatever shape it arrives in.

`parse_mail` never raises on a readable mail: broken MIME, garbage headers,
unknown or missing charsets all end up as a best-effort result with a line in
`problems`. Only input with nothing in it raises `MailParseError`, which the
mail worker answers by quarantining the raw bytes.

Attachments are described (name, type, size), never copied: their payload stays
inside the parsed message, and base64 sizes are computed from the encoded length.
`Attachment.payload()` decodes one when someone wants to keep it.
"""

from __future__ import annotations

import email
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.message import Message
from email.parser import HeaderParser
from email.utils import collapse_rfc2231_value, getaddresses, parsedate_to_datetime

from core.mail.charset import decode_bytes, decode_header_value, unescape_surrogates, unfold
from core.mail.html_text import html_to_text
from core.mail.message_id import message_ids, normalise_message_id, stand_in_message_id
from core.mail.quotes import forward_context, strip_quoted

_BOUNDARY_LINE = re.compile(r"^--([^\s]{1,200}?)(--)?\s*$", re.MULTILINE)
_TEXT_BODY_TYPES = ("text/plain", "text/html")
_DISPOSITION = "message/disposition-notification"  # a read receipt's machine-readable part


class MailParseError(Exception):
    """The input holds no mail at all (empty); the caller quarantines it."""


@dataclass(frozen=True)
class Attachment:
    """What is known about an attachment without copying its content."""

    filename: str | None
    content_type: str
    size: int
    inline: bool = False
    content_id: str | None = None  # an inline picture the HTML shows (`cid:`), e.g. a logo
    part: Message | None = field(default=None, repr=False, compare=False)

    def payload(self) -> bytes:
        """The attachment's decoded bytes (an attached mail: the mail as it was); never raises."""
        if self.part is None:
            return b""
        children = _children(self.part)
        if children:
            try:
                return children[0].as_bytes(policy=policy.compat32)
            except Exception:  # noqa: BLE001 - a broken attached mail is kept as its text
                return _part_bytes(self.part)
        return _part_bytes(self.part)


@dataclass(frozen=True)
class DeliveryStatus:
    """One recipient's block of a delivery-status report (RFC 3464)."""

    recipient: str | None
    action: str | None
    status: str | None
    diagnostic: str | None


@dataclass
class ParsedMail:
    """One incoming mail as the domain needs it; header names in `headers` are lower-case."""

    message_id: str
    message_id_missing: bool = False
    in_reply_to: str | None = None
    references: list[str] = field(default_factory=list)
    from_address: str = ""
    from_name: str = ""
    reply_to: list[str] = field(default_factory=list)
    to: list[str] = field(default_factory=list)
    cc: list[str] = field(default_factory=list)
    subject: str = ""
    date: datetime | None = None
    text: str = ""
    text_from_html: bool = False
    new_text: str = ""
    attachments: list[Attachment] = field(default_factory=list)
    headers: dict[str, list[str]] = field(default_factory=dict)
    content_type: str = "text/plain"
    part_types: list[str] = field(default_factory=list)
    embedded_message_ids: list[str] = field(default_factory=list)
    delivery_status: list[DeliveryStatus] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    raw_size: int = 0

    def header(self, name: str) -> str | None:
        """The first value of header `name` (decoded, unfolded), or None."""
        values = self.headers.get(name.lower())
        return values[0] if values else None

    def header_values(self, name: str) -> list[str]:
        """Every value of header `name` (decoded, unfolded), in order."""
        return list(self.headers.get(name.lower(), []))


# --- small readers ---------------------------------------------------------------


def _note(problems: list[str], problem: str) -> None:
    if problem not in problems:
        problems.append(problem)


def _raw_headers(msg: Message) -> list[tuple[str, str]]:
    """Header (name, undecoded value) pairs; 8-bit bytes come as surrogate escapes."""
    try:
        return [(str(name), str(value)) for name, value in msg.raw_items()]
    except Exception:  # noqa: BLE001 - fall back to whatever the message offers
        try:
            return [(str(name), str(value)) for name, value in msg.items()]
        except Exception:  # noqa: BLE001
            return []


def _decoded_headers(msg: Message, problems: list[str]) -> dict[str, list[str]]:
    headers: dict[str, list[str]] = {}
    for name, value in _raw_headers(msg):
        key = name.strip().lower()
        if not key:
            continue
        headers.setdefault(key, []).append(decode_header_value(value, problems).strip())
    return headers


def _raw_header(msg: Message, name: str) -> str | None:
    wanted = name.lower()
    for key, value in _raw_headers(msg):
        if key.strip().lower() == wanted:
            return value
    return None


def _addresses(raw: str | None, problems: list[str]) -> list[tuple[str, str]]:
    """(decoded display name, lower-case addr-spec) pairs of an address header."""
    if not raw:
        return []
    try:
        pairs = getaddresses([unfold(raw)])
    except Exception:  # noqa: BLE001 - a garbage address header must not stop the mail
        _note(problems, "unreadable address header")
        return []
    result: list[tuple[str, str]] = []
    for name, address in pairs:
        address = decode_header_value(address, problems).strip().lower()
        name = decode_header_value(name, problems).strip()
        if address or name:
            result.append((name, address))
    return result


def _date(raw: str | None, problems: list[str]) -> datetime | None:
    if not raw:
        return None
    try:
        value = parsedate_to_datetime(decode_header_value(raw).strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        _note(problems, f"unreadable Date header: {unfold(raw).strip()[:60]!r}")
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


def _safe_content_type(part: Message) -> str:
    try:
        return part.get_content_type().lower()
    except Exception:  # noqa: BLE001
        return "text/plain"


def _safe_param(part: Message, name: str, header: str = "content-type") -> str | None:
    """A MIME parameter, RFC 2231 collapsed and RFC 2047 decoded; never raises."""
    try:
        value = part.get_param(name, header=header)
    except Exception:  # noqa: BLE001
        value = None
    if value is None:
        return None
    try:
        if isinstance(value, tuple):
            value = collapse_rfc2231_value(value)
        return decode_header_value(str(value)).strip().strip('"')
    except Exception:  # noqa: BLE001
        return None


def _disposition(part: Message) -> str | None:
    try:
        return part.get_content_disposition()
    except Exception:  # noqa: BLE001
        return None


def _content_id(part: Message) -> str | None:
    try:
        value = str(part.get("content-id", "") or "")
    except Exception:  # noqa: BLE001 - a garbage header is no Content-ID
        return None
    return value.strip().strip("<>").strip() or None


def _filename(part: Message) -> str | None:
    name = _safe_param(part, "filename", "content-disposition") or _safe_param(part, "name")
    return name or None


def _part_bytes(part: Message) -> bytes:
    """The decoded payload of a leaf part; never raises."""
    try:
        data = part.get_payload(decode=True)
    except Exception:  # noqa: BLE001
        data = None
    if isinstance(data, bytes):
        return data
    payload = part.get_payload()
    if isinstance(payload, str):
        try:
            return unescape_surrogates(payload)
        except UnicodeEncodeError:
            return payload.encode("utf-8", errors="replace")
    return b""


def _part_text(part: Message, problems: list[str]) -> str:
    """The decoded text of a text part, following the charset fallback chain."""
    text, problem = decode_bytes(_part_bytes(part), _safe_param(part, "charset"))
    if problem:
        _note(problems, problem)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if (_safe_param(part, "format") or "").lower() == "flowed":
        text = unflow(text, delsp=(_safe_param(part, "delsp") or "").lower() == "yes")
    return text


def _encoded_size(part: Message) -> int:
    """The decoded size of a payload, computed from the encoded text where possible."""
    payload = part.get_payload()
    if isinstance(payload, list):
        return sum(_encoded_size(child) for child in payload if isinstance(child, Message))
    if not isinstance(payload, str):
        return 0
    encoding = str(part.get("content-transfer-encoding", "")).strip().lower()
    if encoding == "base64":
        whitespace = sum(payload.count(ch) for ch in "\r\n\t ")
        stripped = payload.rstrip()
        padding = len(stripped) - len(stripped.rstrip("="))
        return max(0, (len(payload) - whitespace) * 3 // 4 - min(padding, 2))
    if encoding == "quoted-printable":
        return len(_part_bytes(part))
    return len(payload)


def unflow(text: str, delsp: bool = False) -> str:
    """Undo RFC 3676 format=flowed: join soft-broken lines, keep quote depth."""
    out: list[str] = []
    carry: str | None = None
    carry_depth = 0
    for line in text.split("\n"):
        stripped = line.lstrip(">")
        depth = len(line) - len(stripped)
        if stripped.startswith(" "):
            stripped = stripped[1:]  # space-stuffing
        if carry is not None and depth != carry_depth:
            out.append(carry)
            carry = None
        soft = stripped.endswith(" ") and stripped != "-- "
        if soft and delsp:
            stripped = stripped[:-1]
        piece = stripped if carry is None else carry + stripped
        if carry is None:
            prefix = ">" * depth + (" " if depth else "")
            piece = prefix + stripped
        if soft:
            carry, carry_depth = piece, depth
        else:
            out.append(piece)
            carry = None
    if carry is not None:
        out.append(carry)
    return "\n".join(out)


# --- walking the MIME tree ---------------------------------------------------------


@dataclass
class _Walk:
    """What the walk over the MIME tree collects."""

    problems: list[str]
    bodies: list[tuple[str, Message]] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    part_types: list[str] = field(default_factory=list)
    embedded_ids: list[str] = field(default_factory=list)
    delivery_status: list[DeliveryStatus] = field(default_factory=list)


def _salvage_multipart(part: Message, walk: _Walk) -> Message | None:
    """Re-read a multipart whose boundary parameter is missing, guessing the boundary."""
    payload = part.get_payload()
    if not isinstance(payload, str):
        return None
    match = _BOUNDARY_LINE.search(payload)
    if not match:
        return None
    boundary = match.group(1)
    _note(walk.problems, f"multipart without boundary, guessed {boundary!r}")
    try:
        return email.message_from_string(
            f'Content-Type: multipart/mixed; boundary="{boundary}"\n\n{payload}',
            policy=policy.default,
        )
    except Exception:  # noqa: BLE001
        return None


def _children(part: Message) -> list[Message]:
    payload = part.get_payload()
    return (
        [child for child in payload if isinstance(child, Message)]
        if isinstance(payload, list)
        else []
    )


def _alternative_choice(children: list[Message]) -> Message | None:
    """The alternative a reader sees as text: plain first, then HTML, then anything."""
    types = [_safe_content_type(child) for child in children]
    for wanted in ("text/plain", "text/html"):
        if wanted in types:
            return children[types.index(wanted)]
    for child, kind in zip(children, types, strict=True):
        if kind.startswith("multipart/"):
            return child
    return children[0] if children else None


def _embedded_headers(part: Message, walk: _Walk) -> None:
    """Message-IDs of a returned original (message/rfc822 or text/rfc822-headers), or
    the Original-Message-ID of a read receipt (message/disposition-notification)."""
    kind = _safe_content_type(part)
    headers: Message | None = None
    if kind == "message/rfc822":
        children = _children(part)
        headers = children[0] if children else None
    elif kind == _DISPOSITION and _children(part):
        headers = _children(part)[0]  # the email package parses it as a header block
    else:
        try:
            headers = HeaderParser(policy=policy.compat32).parsestr(
                _part_bytes(part).decode("ascii", errors="surrogateescape")
            )
        except Exception:  # noqa: BLE001
            headers = None
    if headers is None:
        return
    name = "original-message-id" if kind == _DISPOSITION else "message-id"
    message_id = normalise_message_id(_raw_header(headers, name))
    if message_id and message_id not in walk.embedded_ids:
        walk.embedded_ids.append(message_id)


def _delivery_status(part: Message, walk: _Walk) -> None:
    """Per-recipient fields of a message/delivery-status part."""
    blocks = _children(part)
    if not blocks:
        try:
            text = _part_bytes(part).decode("ascii", errors="replace")
            blocks = [
                HeaderParser(policy=policy.compat32).parsestr(chunk)
                for chunk in re.split(r"\r?\n\s*\r?\n", text)
                if chunk.strip()
            ]
        except Exception:  # noqa: BLE001
            return

    def value(block: Message, name: str) -> str | None:
        raw = _raw_header(block, name)
        if raw is None:
            return None
        text = decode_header_value(raw).strip()
        return text.split(";", 1)[1].strip() if ";" in text else text

    for block in blocks:
        recipient = value(block, "final-recipient") or value(block, "original-recipient")
        status = value(block, "status")
        if recipient is None and status is None:
            continue  # the per-message block
        walk.delivery_status.append(
            DeliveryStatus(
                recipient=recipient.lower() if recipient else None,
                action=(value(block, "action") or "").lower() or None,
                status=status,
                diagnostic=value(block, "diagnostic-code"),
            )
        )


def _visit(part: Message, walk: _Walk, depth: int = 0) -> None:
    if depth > 20:
        _note(walk.problems, "MIME nesting too deep, rest skipped")
        return
    kind = _safe_content_type(part)
    walk.part_types.append(kind)
    if kind.startswith("multipart/"):
        children = _children(part)
        if not children and not part.is_multipart():
            salvaged = _salvage_multipart(part, walk)
            if salvaged is not None:
                children = _children(salvaged)
            else:
                _note(walk.problems, "multipart without boundary, read as text")
                walk.bodies.append(("text/plain", part))
                return
        if kind == "multipart/alternative":
            chosen = _alternative_choice(children)
            for child in children:
                if child is chosen:
                    _visit(child, walk, depth=depth + 1)
                else:
                    walk.part_types.append(_safe_content_type(child))
            return
        for child in children:
            _visit(child, walk, depth=depth + 1)
        return
    disposition = _disposition(part)
    filename = _filename(part)
    if kind == "message/delivery-status":
        _delivery_status(part, walk)
        return
    if kind in ("message/rfc822", "text/rfc822-headers", "message/global", _DISPOSITION):
        _embedded_headers(part, walk)
    elif kind in _TEXT_BODY_TYPES and disposition != "attachment" and filename is None:
        walk.bodies.append((kind, part))
        return
    walk.attachments.append(
        Attachment(
            filename=filename,
            content_type=kind,
            size=_encoded_size(part),
            inline=disposition == "inline",
            content_id=_content_id(part),
            part=part,
        )
    )


def _body_text(walk: _Walk) -> tuple[str, bool]:
    """The readable body: every inline plain part, else the HTML parts converted."""
    plain = [part for kind, part in walk.bodies if kind == "text/plain"]
    if plain:
        return "\n".join(_part_text(part, walk.problems) for part in plain).strip("\n"), False
    html = [part for kind, part in walk.bodies if kind == "text/html"]
    if html:
        texts = [html_to_text(_part_text(part, walk.problems)) for part in html]
        return "\n\n".join(texts).strip("\n"), True
    return "", False


def _collect_defects(msg: Message, problems: list[str]) -> None:
    try:
        parts = list(msg.walk())
    except Exception:  # noqa: BLE001
        parts = [msg]
    for part in parts:
        for defect in getattr(part, "defects", []):
            _note(problems, f"MIME defect: {type(defect).__name__}")


def _message_from_bytes(raw: bytes, problems: list[str]) -> Message:
    try:
        return email.message_from_bytes(raw, policy=policy.default)
    except Exception as error:  # noqa: BLE001 - fall back to the lenient legacy policy
        _note(problems, f"parser failed with the default policy ({type(error).__name__})")
        return email.message_from_bytes(raw, policy=policy.compat32)


# --- the entry point ----------------------------------------------------------------


def parse_mail(raw: bytes) -> ParsedMail:
    """Read one raw RFC 5322 mail; never raises except `MailParseError` on empty input."""
    data = bytes(raw)
    if not data.strip():
        raise MailParseError("empty mail")
    problems: list[str] = []
    msg = _message_from_bytes(data, problems)
    headers = _decoded_headers(msg, problems)
    if not headers:
        _note(problems, "no headers found")

    message_id = normalise_message_id(_raw_header(msg, "message-id"))
    missing = message_id is None
    if message_id is None:
        message_id = stand_in_message_id(data)
        _note(problems, "no Message-ID, synthetic id from md5 of the raw mail")

    senders = _addresses(_raw_header(msg, "from"), problems)
    from_name, from_address = senders[0] if senders else ("", "")

    walk = _Walk(problems=problems)
    try:
        _visit(msg, walk)
    except Exception as error:  # noqa: BLE001 - keep whatever was read so far
        _note(problems, f"MIME structure partly unreadable ({type(error).__name__})")
    _collect_defects(msg, problems)
    text, from_html = _body_text(walk)
    in_reply_to = normalise_message_id(_raw_header(msg, "in-reply-to"))
    references = message_ids(_raw_header(msg, "references"))
    subject = (headers.get("subject") or [""])[0].replace("\t", " ")
    forwarded = forward_context(subject, replied=bool(in_reply_to or references))

    return ParsedMail(
        message_id=message_id,
        message_id_missing=missing,
        in_reply_to=in_reply_to,
        references=references,
        from_address=from_address,
        from_name=from_name,
        reply_to=[address for _, address in _addresses(_raw_header(msg, "reply-to"), problems)],
        to=[address for _, address in _addresses(_raw_header(msg, "to"), problems)],
        cc=[address for _, address in _addresses(_raw_header(msg, "cc"), problems)],
        subject=subject,
        date=_date(_raw_header(msg, "date"), problems),
        text=text,
        text_from_html=from_html,
        new_text=strip_quoted(text, forwarded=forwarded),
        attachments=walk.attachments,
        headers=headers,
        content_type=_safe_content_type(msg),
        part_types=walk.part_types,
        embedded_message_ids=walk.embedded_ids,
        delivery_status=walk.delivery_status,
        problems=list(dict.fromkeys(problems)),
        raw_size=len(data),
    )

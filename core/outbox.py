"""Composing outgoing mail and queueing it in the outbox.

Every mail we send is built here, flattened to bytes once, and stored with its
final Message-ID; the mail worker (`mailer/sender.py`) sends those bytes as
they are, so every retry is the same message. Queueing is one INSERT through
the caller's `Queryable`: pass an open `Transaction` and the mail commits (or
rolls back) together with whatever caused it, e.g. a registration.

Only the standard `email` package is used; the retry schedule lives here too,
so the policy is read in one place.
"""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.policy import Policy
from email.utils import formatdate, make_msgid, parseaddr
from typing import Any, Protocol

import jinja2

from core.texts import render
from storage import outbox
from storage.db import Queryable

# The queue as the sender works it (the repository's own functions, named here so that
# the mail door never imports storage).
from storage.outbox import OutboxMail as OutboxMail
from storage.outbox import fetch_due as fetch_due
from storage.outbox import mark_failed as mark_failed
from storage.outbox import mark_sent as mark_sent
from storage.outbox import next_due_at as next_due_at
from storage.outbox import schedule_retry as schedule_retry

# --- retry schedule -------------------------------------------------------------

BASE_DELAY = 30.0  # seconds before the first retry
MAX_DELAY = 3600.0  # back-off stops growing at one hour
MAX_ATTEMPTS = 12  # after this many failed attempts (about 5 hours) the mail is failed


def next_delay(attempts: int) -> float:
    """Seconds to wait after the `attempts`-th failed attempt (1 after the first failure).

    Exponential back-off: 30 s, 60 s, 2 min, 4 min, … capped at one hour.
    """
    exponent = max(attempts, 1) - 1
    if exponent >= 20:  # far past the cap; avoids huge powers
        return MAX_DELAY
    return min(BASE_DELAY * 2.0**exponent, MAX_DELAY)


# --- links ------------------------------------------------------------------------

_BOT_USERNAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{3,31}$")
_START_PAYLOAD = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def activation_link(bot_username: str, payload: str) -> str:
    """The Telegram deep link that opens the bot with `/start <payload>`.

    Telegram allows only `A-Z a-z 0-9 _ -` (at most 64) in a start parameter;
    anything else is a programming error and raises ValueError.
    """
    bot = bot_username.strip().removeprefix("@")
    if not _BOT_USERNAME.match(bot):
        raise ValueError(f"not a Telegram bot username: {bot_username!r}")
    if not _START_PAYLOAD.match(payload):
        raise ValueError("a start payload is 1-64 characters of A-Z a-z 0-9 _ -")
    return f"https://t.me/{bot}?start={payload}"


# --- headers ----------------------------------------------------------------------

MAX_REFERENCES = 10
# Mails a machine sends on its own (codes): marked so that auto-responders keep quiet.
AUTO_GENERATED_KINDS = frozenset({"activation", "reset"})

_FLATTEN_POLICY = policy.SMTP.clone(max_line_length=998)
_MSG_ID = re.compile(r"<[^<>\s]+>")
# RFC 2047: an encoded word is at most 75 characters; "=?utf-8?b?" + "?=" take 12,
# so 56 base64 characters (42 bytes) keep every folded line under 78.
_WORD_BYTES = 42


def tagged_subject(subject: str, ticket_number: str | None) -> str:
    """The subject on one line, with `[#PK-000123] ` in front unless it already carries it."""
    clean = " ".join(subject.split())
    if not ticket_number:
        return clean
    tag = f"[#{ticket_number}]"
    if tag.lower() in clean.lower():
        return clean
    return f"{tag} {clean}" if clean else tag


def _message_ids(values: Iterable[str | None]) -> list[str]:
    """Every `<id>` found in the values, in order, without repeats."""
    found: list[str] = []
    for value in values:
        if not value:
            continue
        ids = _MSG_ID.findall(value)
        if not ids and "@" in value and not any(c.isspace() for c in value.strip()):
            ids = [f"<{value.strip().strip('<>')}>"]
        for msg_id in ids:
            if msg_id not in found:
                found.append(msg_id)
    return found


def thread_references(references: Iterable[str], in_reply_to: str | None) -> list[str]:
    """References for a reply: the parent's references then the parent itself, at most 10.

    Like Request Tracker, a long chain keeps its first 4 ids (the thread's root)
    and its last 6 (the nearest ancestors).
    """
    ids = _message_ids([*references, in_reply_to])
    if in_reply_to:
        parent = _message_ids([in_reply_to])
        # The parent is always the last reference, even when it appeared earlier.
        for msg_id in parent:
            ids.remove(msg_id)
            ids.append(msg_id)
    if len(ids) > MAX_REFERENCES:
        ids = ids[:4] + ids[-(MAX_REFERENCES - 4) :]
    return ids


class _EncodedSubject(str):
    """A non-ASCII Subject folded by us into RFC 2047 encoded words.

    CPython's folder can drop the space between two words of a long accented
    subject (cpython #144156, #85725). Here every word of the text, spaces
    included, sits inside base64 encoded words, and the whitespace between
    encoded words is ignored when decoding, so the subject decodes exactly.
    The email package uses an object with `name` and `fold()` as it is.
    """

    name = "Subject"

    def fold(self, *, policy: Policy) -> str:
        """`Subject: =?utf-8?b?…?=` lines, each under 78 characters."""
        words: list[str] = []
        chunk = ""
        for char in str(self):
            if len((chunk + char).encode("utf-8")) > _WORD_BYTES:
                words.append(chunk)
                chunk = ""
            chunk += char
        if chunk:
            words.append(chunk)
        encoded = [
            "=?utf-8?b?" + base64.b64encode(word.encode("utf-8")).decode("ascii") + "?="
            for word in words
        ]
        return "Subject: " + (policy.linesep + " ").join(encoded) + policy.linesep


def _address(value: str) -> str:
    """The bare address of `Name <addr>` or `addr`; ValueError when it is not one."""
    if "\r" in value or "\n" in value:
        raise ValueError("an address may not contain line breaks")
    address = parseaddr(value)[1]
    local, _, domain = address.rpartition("@")
    if not local or not domain:
        raise ValueError(f"not an e-mail address: {value!r}")
    return address


def _auto_submitted(kind: str, auto_reply: bool) -> str | None:
    if auto_reply:
        return "auto-replied"
    if kind in AUTO_GENERATED_KINDS:
        return "auto-generated"
    return None


def build_message(
    *,
    mail_from: str,
    to: str,
    subject: str,
    text: str,
    html: str | None,
    message_id: str,
    date: float,
    in_reply_to: str | None = None,
    references: Iterable[str] = (),
    auto_submitted: str | None = None,
) -> EmailMessage:
    """The whole message: plain text (and HTML as its alternative), UTF-8, quoted-printable."""
    ours = _address(mail_from)
    msg = EmailMessage(policy=policy.default)
    msg["From"] = mail_from
    msg["To"] = to
    msg["Subject"] = subject if subject.isascii() else _EncodedSubject(subject)
    msg["Date"] = formatdate(date, localtime=True)
    msg["Message-ID"] = message_id
    parent = _message_ids([in_reply_to])
    if parent:
        msg["In-Reply-To"] = parent[-1]
    chain = thread_references(references, in_reply_to)
    if chain:
        msg["References"] = " ".join(chain)
    msg["X-Loop"] = ours
    if auto_submitted:
        msg["Auto-Submitted"] = auto_submitted
        # Asks Exchange and friends not to send out-of-office notes back to us.
        msg["X-Auto-Response-Suppress"] = "All"
    msg["Content-Language"] = "hu"
    msg.set_content(text + "\n", subtype="plain", charset="utf-8", cte="quoted-printable")
    if html is not None:
        msg.add_alternative(html + "\n", subtype="html", charset="utf-8", cte="quoted-printable")
    return msg


def flatten(msg: EmailMessage) -> bytes:
    """The message as it goes on the wire (CRLF, no refolding beyond 998 characters)."""
    return msg.as_bytes(policy=_FLATTEN_POLICY)


# --- queueing ---------------------------------------------------------------------


class HasMailFrom(Protocol):
    """Anything with the sender address (core.config.Settings fits)."""

    @property
    def mail_from(self) -> str: ...


@dataclass(frozen=True)
class QueuedMail:
    """What the caller learns about a queued mail."""

    id: int
    message_id: str
    subject: str


def _render_bodies(template: str, context: dict[str, Any]) -> tuple[str, str | None]:
    text = render(f"mail/{template}.txt", **context)
    try:
        html = render(f"mail/{template}.html", **context)
    except jinja2.TemplateNotFound:
        html = None
    return text, html


def mail_subject(template: str, **context: Any) -> str:
    """The standard subject of a templated mail (`core/texts/mail/<template>.subject.txt`)."""
    return " ".join(render(f"mail/{template}.subject.txt", **context).split())


async def queue_mail(
    db: Queryable,
    settings_like: HasMailFrom,
    *,
    kind: str,
    to: str,
    subject: str,
    template: str,
    context: dict[str, Any],
    ticket_number: str | None = None,
    ticket_id: int | None = None,
    in_reply_to: str | None = None,
    references: Iterable[str] = (),
    auto_reply: bool = False,
    now: float | None = None,
) -> QueuedMail:
    """Render `mail/<template>.txt` (and `.html`), build the mail and queue it, due at once.

    The Message-ID is final from here on. `db` may be an open Transaction so the
    mail commits with the change that caused it. `auto_reply` marks an automatic
    answer (RFC 3834); code mails (`AUTO_GENERATED_KINDS`) are auto-generated.
    """
    moment = time.time() if now is None else now
    recipient = _address(to)
    domain = _address(settings_like.mail_from).rpartition("@")[2]
    message_id = make_msgid(domain=domain)
    final_subject = tagged_subject(subject, ticket_number)
    text, html = _render_bodies(template, context)
    msg = build_message(
        mail_from=settings_like.mail_from,
        to=to,
        subject=final_subject,
        text=text,
        html=html,
        message_id=message_id,
        date=moment,
        in_reply_to=in_reply_to,
        references=references,
        auto_submitted=_auto_submitted(kind, auto_reply),
    )
    mail_id = await outbox.insert_mail(
        db,
        message_id=message_id,
        kind=kind,
        recipient=recipient,
        subject=final_subject,
        raw=flatten(msg),
        ticket_id=ticket_id,
        now=moment,
    )
    return QueuedMail(id=mail_id, message_id=message_id, subject=final_subject)


async def queue_code_mail(
    db: Queryable,
    settings_like: HasMailFrom,
    *,
    purpose: str,
    to: str,
    username: str,
    code: str,
    link: str,
    expires_at: str,
    now: float | None = None,
) -> QueuedMail:
    """Queue an activation or password-reset mail: its deep link and code, until `expires_at`.

    `purpose` is "activation" or "reset"; it names the template and the outbox kind.
    """
    if purpose not in ("activation", "reset"):
        raise ValueError(f"no code mail for {purpose!r}")
    return await queue_mail(
        db,
        settings_like,
        kind=purpose,
        to=to,
        subject=mail_subject(purpose),
        template=purpose,
        context={"username": username, "code": code, "link": link, "expires_at": expires_at},
        now=now,
    )

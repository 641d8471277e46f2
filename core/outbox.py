"""Composing outgoing mail and queueing it in the outbox.

Every mail we send is built here, flattened to bytes once, and stored with its
final Message-ID; the mail worker (`mailer/sender.py`) sends those bytes as
they are, so every retry is the same message. Queueing is one INSERT through
the caller's `Queryable`: pass an open `Transaction` and the mail commits (or
rolls back) together with whatever caused it, e.g. a registration.

Only the standard `email` package is used; the retry schedule lives here too,
so the policy is read in one place.

After sending, the outbox keeps no secret: a code mail (activation, reset) is
reduced to its headers once it is sent or given up (`at_rest`), so neither the
database nor a backup holds a live code or its link. A failed code mail cannot
be sent again (`requeue` refuses it): its customer asks for a new code.

The mail's health as staff see it is decided here too: the first mail given
up, or a mail still failing after `ALERT_ATTEMPTS` tries, queues one "mail is
failing" notice for the staff chat; the next mail that gets through queues one
"mail works again" notice (`core.staff` hands them to the bot's announcer).
"""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.policy import Policy
from email.utils import formatdate, make_msgid, parseaddr
from enum import StrEnum
from typing import Any, Protocol

import jinja2

from core.config import Settings
from core.facts import facts_from
from core.mail.message_id import message_ids
from core.texts import render
from storage import audit, notices, outbox
from storage.db import Database, Queryable

# The queue as the sender works it (the repository's own functions, named here so that
# the mail door never imports storage).
from storage.outbox import OutboxEntry as OutboxEntry
from storage.outbox import OutboxMail as OutboxMail
from storage.outbox import fetch_due as fetch_due
from storage.outbox import next_due_at as next_due_at

# --- retry schedule -------------------------------------------------------------

BASE_DELAY = 30.0  # seconds before the first retry
MAX_DELAY = 3600.0  # back-off stops growing at one hour
MAX_ATTEMPTS = 12  # after this many failed attempts (about 5 hours) the mail is failed
ALERT_ATTEMPTS = 5  # a mail failing this often (about 8 minutes) tells staff mail is failing


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
# Mails that carry a single-use code and its link: kept at rest without their body.
CODE_KINDS = frozenset({"activation", "reset"})

_FLATTEN_POLICY = policy.SMTP.clone(max_line_length=998)
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
        found += [msg_id for msg_id in message_ids(value) if msg_id not in found]
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
    if isinstance(settings_like, Settings) and "facts" not in context:
        context = {**context, "facts": facts_from(settings_like)}
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


# --- what is kept once a mail is sent or given up ---------------------------------------

BODY_REMOVED = "X-Petkomm-Body-Removed"
_CRLF = b"\r\n"
# The body's own headers go with it; the rest (From, To, Subject, Date, Message-ID, …) stay.
_BODY_HEADERS = (b"content-type:", b"content-transfer-encoding:", b"mime-version:")
_REMOVED_NOTE = (
    b"The body of this mail was removed once it was sent or failed: it carried a single-use code."
)


def at_rest(mail: OutboxMail) -> bytes | None:
    """What the outbox keeps of `mail` once it is sent or given up; None keeps it whole.

    A code mail (`CODE_KINDS`) keeps its headers and a note instead of its body:
    the body's code and link would let whoever reads the database or a backup
    activate the account or reset its password. Threading needs only the
    Message-ID, which stays in its column and in the headers.
    """
    if mail.kind not in CODE_KINDS:
        return None
    head = mail.raw.partition(_CRLF + _CRLF)[0]
    kept: list[bytes] = []
    dropping = False
    for line in head.split(_CRLF):
        if line[:1] in (b" ", b"\t"):  # a folded line belongs to the header above it
            if not dropping:
                kept.append(line)
            continue
        dropping = line.lower().startswith(_BODY_HEADERS)
        if not dropping:
            kept.append(line)
    kept += [
        b"MIME-Version: 1.0",
        b'Content-Type: text/plain; charset="us-ascii"',
        b"Content-Transfer-Encoding: 7bit",
        f"{BODY_REMOVED}: a {mail.kind} code mail, once sent or failed".encode("ascii"),
    ]
    return _CRLF.join(kept) + _CRLF + _CRLF + _REMOVED_NOTE + _CRLF


def body_removed(mail: OutboxMail) -> bool:
    """Whether the stored message is only what `at_rest` keeps (it cannot be sent again)."""
    return mail.kind in CODE_KINDS and mail.status != outbox.QUEUED


# --- the sender's outcomes, and mail health as staff see it --------------------------------

MAIL_FAILING = "mail_failing"  # staff notice: mails are given up or keep failing
MAIL_RECOVERED = "mail_recovered"  # staff notice: a mail got through again
_MAIL_TOPICS = (MAIL_FAILING, MAIL_RECOVERED)
MAX_REASON = 300  # characters of a server's reason in a staff notice


async def mail_failing(db: Queryable) -> bool:
    """Whether staff were told mail is failing and not yet that it works again."""
    return await notices.latest_topic(db, _MAIL_TOPICS) == MAIL_FAILING


async def _tell_staff_failing(tx: Queryable, reason: str, now: float) -> None:
    """One "mail is failing" notice, unless staff already know."""
    if await mail_failing(tx):
        return
    counts = await outbox.count_by_status(tx)
    details = {
        "failed": counts[outbox.FAILED],
        "retrying": await outbox.count_retrying(tx),
        "reason": reason[:MAX_REASON],
    }
    await notices.add(tx, MAIL_FAILING, details, now)


async def mark_sent(db: Database, mail: OutboxMail, now: float, note: str | None = None) -> bool:
    """The server accepted `mail`: mark it sent, keep it as `at_rest` says, and tell
    staff mail works again if they were told it was failing.

    Returns False when the row was not queued any more (already marked).
    """
    async with db.transaction() as tx:
        changed = await outbox.mark_sent(tx, mail.id, now, note, raw=at_rest(mail))
        if changed and await mail_failing(tx):
            counts = await outbox.count_by_status(tx)
            await notices.add(tx, MAIL_RECOVERED, {"failed": counts[outbox.FAILED]}, now)
    return changed


async def mark_failed(db: Database, mail: OutboxMail, reason: str, now: float) -> bool:
    """Give `mail` up for good (kept as `at_rest` says); staff hear mail is failing."""
    async with db.transaction() as tx:
        changed = await outbox.mark_failed(tx, mail.id, reason, raw=at_rest(mail))
        if changed:
            await _tell_staff_failing(tx, reason, now)
    return changed


async def schedule_retry(
    db: Database, mail: OutboxMail, next_attempt_at: float, reason: str, now: float
) -> bool:
    """Count a failed attempt and set when to try again; after `ALERT_ATTEMPTS` failed
    attempts of one mail, staff hear mail is failing."""
    async with db.transaction() as tx:
        changed = await outbox.schedule_retry(tx, mail.id, next_attempt_at, reason)
        if changed and mail.attempts + 1 >= ALERT_ATTEMPTS:
            await _tell_staff_failing(tx, reason, now)
    return changed


# --- the operator's view: listing and requeueing -------------------------------------------


async def list_mails(
    db: Queryable, statuses: Sequence[str], limit: int = 200
) -> tuple[list[OutboxEntry], int]:
    """Mails in `statuses` (queued, sent, failed), oldest first, at most `limit`; and the total."""
    unknown = set(statuses) - set(outbox.STATUSES)
    if unknown:
        raise ValueError(f"no outbox status {sorted(unknown)}")
    return await outbox.entries(db, tuple(statuses), limit)


class RequeueRefusal(StrEnum):
    """Why a mail was not put back in the queue."""

    NOT_FOUND = "not_found"  # no mail with this id
    NOT_FAILED = "not_failed"  # queued or sent: nothing to requeue
    CODE_REMOVED = "code_removed"  # a code mail's body (the code) is gone: ask for a new code


@dataclass(frozen=True)
class Requeued:
    """What happened to one mail the operator asked to requeue."""

    mail_id: int
    kind: str | None  # None when there is no such mail
    status: str | None  # the mail's status before (None when there is no such mail)
    refusal: RequeueRefusal | None  # None: it is queued again

    @property
    def ok(self) -> bool:
        return self.refusal is None


async def requeue(
    db: Database,
    mail_ids: Iterable[int] | None,
    *,
    actor: str,
    now: float,
) -> list[Requeued]:
    """Put failed mails back in the queue, due at once with their attempts reset; audited.

    `mail_ids` None means every failed mail. A code mail is refused: its code was
    removed when it failed (and may have expired since), so the customer asks for
    a new code (Aktiválás → új kód, or Elfelejtett jelszó) rather than getting an
    old one.
    """
    results: list[Requeued] = []
    async with db.transaction() as tx:
        ids = await outbox.failed_ids(tx) if mail_ids is None else list(mail_ids)
        for mail_id in ids:
            mail = await outbox.get_mail(tx, mail_id)
            if mail is None:
                results.append(Requeued(mail_id, None, None, RequeueRefusal.NOT_FOUND))
                continue
            refusal = None
            if mail.status != outbox.FAILED:
                refusal = RequeueRefusal.NOT_FAILED
            elif body_removed(mail):
                refusal = RequeueRefusal.CODE_REMOVED
            if refusal is not None:
                results.append(Requeued(mail_id, mail.kind, mail.status, refusal))
            else:
                await outbox.requeue(tx, mail_id, now)
                await audit.record(
                    tx, now, actor, "outbox_requeued", f"outbox {mail_id}", mail.kind
                )
                results.append(Requeued(mail_id, mail.kind, mail.status, None))
    return results

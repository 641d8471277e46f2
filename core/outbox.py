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

The mail's health as staff see it is decided here too (`MailHealth`): when the
mail server keeps failing (no connection, timeouts, our login refused, 4xx to
everyone) one "mail is failing" notice goes to the staff chat, and one "mail
works again" when it is over (`core.staff` hands them to the bot's announcer).
One recipient's refusal is no outage: when a code mail fails for good, the
customer entitled to know hears it in their chat (`_tell_customer`).
"""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
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
from storage import accounts as accounts_store
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
# Staff hear that the mail server is failing after this many of its failed attempts over at
# least this long (about eight minutes of back-off when it cannot be reached at all), and that
# it works again once this many mails in a row got through (or all that waited did).
ALERT_ATTEMPTS = 5
ALERT_AFTER = 300.0  # seconds
RECOVER_DELIVERIES = 3


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
# The closing mail with its rating links (issue 17) is written by the system, not a person.
AUTO_GENERATED_KINDS = frozenset({"activation", "reset", "closed"})
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
    account_id: int | None = None,
) -> QueuedMail:
    """Render `mail/<template>.txt` (and `.html`), build the mail and queue it, due at once.

    The Message-ID is final from here on. `db` may be an open Transaction so the
    mail commits with the change that caused it. `auto_reply` marks an automatic
    answer (RFC 3834); code mails (`AUTO_GENERATED_KINDS`) are auto-generated.
    `account_id` names the account a code mail is for (its customer hears if it fails).
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
        account_id=account_id,
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
    account_id: int | None = None,
) -> QueuedMail:
    """Queue an activation or password-reset mail: its deep link and code, until `expires_at`.

    `purpose` is "activation" or "reset"; it names the template and the outbox kind.
    `account_id` is the account's, so that its customer can be told if the mail fails.
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
        account_id=account_id,
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

MAIL_FAILING = "mail_failing"  # staff notice: the mail server is failing (an outage)
MAIL_RECOVERED = "mail_recovered"  # staff notice: mail gets through again
_MAIL_TOPICS = (MAIL_FAILING, MAIL_RECOVERED)
MAX_REASON = 300  # characters of a server's reason in a staff notice


class Trouble(StrEnum):
    """Whose problem a failed attempt was: the mail server's (everyone's) or one mail's."""

    # No connection, a timeout, our login or our sender address refused, "421 closing":
    # nothing gets through.
    SERVER = "server"
    # This recipient (or this mail) refused for now (a 4xx): one recipient's greylisting or
    # full mailbox, or the server's trouble when it defers many different recipients.
    DEFERRED = "deferred"
    # This mail refused for good (a 5xx to RCPT or DATA, e.g. "550 no such user"), or it
    # cannot be put on the wire at all: the customer's matter, never an outage.
    REFUSED = "refused"


@dataclass
class MailHealth:
    """The outgoing mail server's health as the sender has seen it: whether staff should
    hear that it is failing, or that it works again.

    With hysteresis, so that a flaky server makes one "failing" and one "works again"
    notice per outage, not one per mail: an outage begins after `ALERT_ATTEMPTS`
    failed attempts of the server's over at least `ALERT_AFTER` seconds, and a lone
    mail getting through in between does not end it; it ends when `RECOVER_DELIVERIES`
    mails in a row got through (or one did and nothing else waits). One recipient's
    refusal, for good or for now, is no failure of the server's; several different
    recipients deferred in a row are (a server that answers 4xx to everyone).

    Kept in the sender's memory; whether staff were told is kept in the database (the
    newest mail notice), so a restart in an outage still tells them when it ends.
    """

    failures: int = 0  # the server's failed attempts since the last run of deliveries
    failing_since: float | None = None  # the first of them
    deliveries: int = 0  # mails that got through in a row since the server's last failure
    deferred: set[str] = field(default_factory=set)  # recipients deferred since then
    reason: str = ""  # the latest failure's reason
    flowing: bool = False  # enough mail got through since the server's last failure

    def server_failed(self, reason: str, now: float) -> None:
        """Count a failed attempt that was the server's (or our connection's) fault."""
        self.failures += 1
        self.failing_since = self.failing_since if self.failing_since is not None else now
        self.deliveries = 0
        self.flowing = False
        self.reason = reason

    def failed(self, trouble: Trouble, recipient: str, reason: str, now: float) -> None:
        """Count a failed attempt; only the server's trouble counts toward an outage."""
        if trouble is Trouble.SERVER:
            self.server_failed(reason, now)
        elif trouble is Trouble.DEFERRED:
            self.deferred.add(recipient.casefold())
            if len(self.deferred) > 1:  # more than one recipient: the server defers everyone
                self.server_failed(reason, now)

    def delivered(self, *, queue_empty: bool) -> None:
        """A mail got through; enough of them in a row end the failures' count."""
        self.deliveries += 1
        if self.deliveries >= RECOVER_DELIVERIES or queue_empty:
            self.failures = 0
            self.failing_since = None
            self.deferred.clear()
            self.flowing = True

    def outage(self, now: float) -> bool:
        """Whether the server has failed long and often enough to tell staff."""
        return (
            self.failing_since is not None
            and self.failures >= ALERT_ATTEMPTS
            and now - self.failing_since >= ALERT_AFTER
        )


async def mail_failing(db: Queryable) -> bool:
    """Whether staff were told mail is failing and not yet that it works again."""
    return await notices.latest_topic(db, _MAIL_TOPICS) == MAIL_FAILING


async def _mail_counts(tx: Queryable) -> dict[str, int]:
    """What the staff notices count: mails waiting to be sent, and mails failed for good."""
    counts = await outbox.count_by_status(tx)
    return {"waiting": counts[outbox.QUEUED], "failed": counts[outbox.FAILED]}


async def _tell_staff(tx: Queryable, health: MailHealth, now: float) -> None:
    """One "failing" notice when an outage begins, one "works again" when it ends."""
    told = await mail_failing(tx)
    if not told and health.outage(now):
        details: dict[str, Any] = {**await _mail_counts(tx), "reason": health.reason[:MAX_REASON]}
        await notices.add(tx, MAIL_FAILING, details, now)
    elif told and health.flowing:
        await notices.add(tx, MAIL_RECOVERED, await _mail_counts(tx), now)


async def mark_sent(
    db: Database,
    mail: OutboxMail,
    now: float,
    note: str | None = None,
    *,
    health: MailHealth,
) -> bool:
    """The server accepted `mail`: mark it sent, keep it as `at_rest` says, and tell
    staff mail works again if they were told it was failing and `health` says so.

    Returns False when the row was not queued any more (already marked).
    """
    async with db.transaction() as tx:
        changed = await outbox.mark_sent(tx, mail.id, now, note, raw=at_rest(mail))
        if changed:
            health.delivered(queue_empty=await outbox.count_queued(tx) == 0)
            await _tell_staff(tx, health, now)
    return changed


async def mark_failed(
    db: Database,
    mail: OutboxMail,
    reason: str,
    now: float,
    *,
    trouble: Trouble,
    health: MailHealth,
) -> bool:
    """Give `mail` up for good (kept as `at_rest` says).

    Staff hear that mail is failing only when the server is (`health`); the customer
    of a code mail hears it in the chat, if someone may know (`_tell_customer`).
    """
    async with db.transaction() as tx:
        changed = await outbox.mark_failed(tx, mail.id, reason, raw=at_rest(mail))
        if changed:
            health.failed(trouble, mail.recipient, reason, now)
            await _tell_staff(tx, health, now)
            await _tell_customer(tx, mail, reason, trouble, now)
    return changed


async def schedule_retry(
    db: Database,
    mail: OutboxMail,
    next_attempt_at: float,
    reason: str,
    now: float,
    *,
    trouble: Trouble,
    health: MailHealth,
) -> bool:
    """Count a failed attempt and set when to try again; staff hear that mail is failing
    once `health` sees an outage."""
    async with db.transaction() as tx:
        changed = await outbox.schedule_retry(tx, mail.id, next_attempt_at, reason)
        if changed:
            health.failed(trouble, mail.recipient, reason, now)
            await _tell_staff(tx, health, now)
    return changed


# --- telling the customer that their code mail could not be delivered ----------------------

ACTIVATION_MAIL_FAILED = "activation_mail_failed"  # chat notice to who registered the account
RESET_MAIL_FAILED = "reset_mail_failed"  # chat notice to who is logged in to the account
CHAT_NOTICE_TEMPLATES = {
    ACTIVATION_MAIL_FAILED: "chat/activation/mail_failed.txt",
    RESET_MAIL_FAILED: "chat/forgot/mail_failed.txt",
}
ChatNotice = notices.ChatNotice


class Undelivered(StrEnum):
    """Why a mail failed for good, as a customer can be told it."""

    NO_MAILBOX = "no_mailbox"  # no such mailbox at that address (5.1.1, "user unknown")
    NO_DOMAIN = "no_domain"  # the part after @ takes no mail (5.1.2, 5.4.4, 5.1.10)
    MAILBOX_FULL = "mailbox_full"  # x.2.2, 452, 552
    BLOCKED = "blocked"  # the recipient's server would not take our mail (5.7.x)
    BAD_ADDRESS = "bad_address"  # the address cannot be put on the wire at all
    NOT_DELIVERED = "not_delivered"  # hours of retries did not get it through
    REFUSED = "refused"  # refused, no reason we can word


# The server's reply code and its enhanced status code (RFC 3463), e.g. "550 5.1.1".
_REPLY = re.compile(r"\b([245]\d\d)\b(?:[ -]+([245])\.(\d{1,3})\.(\d{1,3})\b)?")
_NO_SUCH_USER = re.compile(
    r"unknown|no such|does not exist|doesn't exist|not exist|not found|invalid recipient"
    r"|unavailable|nincs ilyen",
    re.IGNORECASE,
)
_GAVE_UP = "gave up after"


def server_reply(reason: str) -> str:
    """The reply code (and enhanced code) a reason starts with, e.g. "550 5.1.1", or ""."""
    match = _REPLY.search(reason)
    if match is None:
        return ""
    return match[1] + (f" {match[2]}.{match[3]}.{match[4]}" if match[2] else "")


def undelivered_because(reason: str, trouble: Trouble) -> Undelivered:
    """Why a mail failed for good, in the few cases a customer can act on."""
    gave_up = reason.startswith(_GAVE_UP)
    match = _REPLY.search(reason)
    if match is None:
        if trouble is Trouble.REFUSED and not gave_up:
            return Undelivered.BAD_ADDRESS
        return Undelivered.NOT_DELIVERED
    code, subject, detail = match[1], match[3], match[4]
    if (subject, detail) == ("2", "2") or (subject is None and code in ("452", "552")):
        return Undelivered.MAILBOX_FULL
    if gave_up:
        return Undelivered.NOT_DELIVERED
    if (subject, detail) in (("1", "2"), ("1", "10"), ("4", "4")):
        return Undelivered.NO_DOMAIN
    if subject == "1":
        return Undelivered.NO_MAILBOX
    if subject == "7":
        return Undelivered.BLOCKED
    if subject is None and code in ("550", "551", "553") and _NO_SUCH_USER.search(reason):
        return Undelivered.NO_MAILBOX
    return Undelivered.REFUSED


async def _entitled_chats(tx: Queryable, mail: OutboxMail) -> tuple[Any, list[int]]:
    """The account a code mail was for, and the chats that may hear it failed.

    Never whoever merely asked for the code (that would tell a stranger the account
    exists): for an activation mail the Telegram user who registered the account, while
    it waits for activation; for a reset mail the Telegram users logged in to it.
    """
    if mail.account_id is None:
        return None, []
    account = await accounts_store.by_id(tx, mail.account_id)
    if account is None or account.email.casefold() != mail.recipient.casefold():
        return None, []  # replaced by a newer registration, or the address has changed
    if mail.kind == "activation":
        if account.status != "pending" or account.registered_by_tg is None:
            return account, []
        return account, [account.registered_by_tg]  # a private chat's id is its user's
    return account, await accounts_store.chats_logged_in_to(tx, account.id)


async def _tell_customer(
    tx: Queryable, mail: OutboxMail, reason: str, trouble: Trouble, now: float
) -> None:
    """A code mail failed for good: queue a notice for the chats entitled to know."""
    if mail.kind not in CODE_KINDS:
        return
    account, chats = await _entitled_chats(tx, mail)
    if account is None:
        return
    topic = ACTIVATION_MAIL_FAILED if mail.kind == "activation" else RESET_MAIL_FAILED
    details = {
        "address": mail.recipient,
        "username": account.username,
        "why": undelivered_because(reason, trouble).value,
        "reply": server_reply(reason),
    }
    for chat_id in dict.fromkeys(chats):
        await notices.add_for_chat(tx, chat_id, topic, details, now)
    told = ", ".join(f"tg:{chat_id}" for chat_id in dict.fromkeys(chats)) or "nobody"
    await audit.record(
        tx, now, "system", f"{mail.kind}_mail_undeliverable", account.customer_id, f"told {told}"
    )


async def due_chat_notices(db: Queryable, now: float) -> list[ChatNotice]:
    """Customers' chat notices due for delivery, oldest first (the bot's announcer)."""
    return await notices.due_for_chats(db, now)


def chat_notice_text(notice: ChatNotice) -> str:
    """The notice as the customer reads it."""
    return render(CHAT_NOTICE_TEMPLATES[notice.topic], **notice.details)


async def chat_notice_posted(db: Queryable, notice: ChatNotice, now: float) -> None:
    """The notice is in the customer's chat."""
    await notices.chat_notice_sent(db, notice.id, now)


async def chat_notice_failed(
    db: Queryable, notice: ChatNotice, error: str, *, permanent: bool, now: float
) -> bool:
    """Count a failed delivery; True when it is given up (the chat refuses the bot, or
    too many tries). Retries back off like the mail itself."""
    attempts = notice.attempts + 1
    give_up = permanent or attempts >= MAX_ATTEMPTS
    retry_at = None if give_up else now + next_delay(attempts)
    await notices.chat_notice_failed(db, notice.id, error[:500], retry_at)
    return give_up


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

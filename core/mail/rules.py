"""Decisions about an incoming mail, each rule a small named function in an ordered list.

Read top-down like the checklist in docs/mail-notes.md: `AUTOMATIC_CHECKS` says why a
mail must not be answered automatically (RFC 3834); `machine_kind` says which kind of
machine mail it is, if no person wrote it: a delivery report (`BOUNCE_SIGNS`), a read
receipt (`READ_RECEIPT_SIGNS`), a spam filter's challenge (`CHALLENGE_SIGNS`), an
out-of-office or vacation notice (`OUT_OF_OFFICE_SIGNS`, `VACATION_TEXT_SIGNS`) or one
of our own mails come back (`looks_like_our_mail`); `mail_owner` says who the mail is
from for answering (a web form's `Reply-To` person rather than its robot); and
`SELF_HELP_TOPICS` maps a customer's words to the known problems we can answer on our
own. Nothing here knows about IMAP, SMTP or Telegram.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from email.utils import getaddresses, parseaddr

from core.mail.message_id import normalise_message_id
from core.mail.parse import DeliveryStatus, ParsedMail
from core.mail.quotes import REPLY_ABOVE_MARKER
from core.mail.text import fold


@dataclass(frozen=True)
class MailContext:
    """Who "we" are: our own addresses, our domain and the X-Loop value we send."""

    addresses: frozenset[str]
    domain: str
    x_loop: str

    @classmethod
    def of(
        cls, *addresses: str, domain: str | None = None, x_loop: str | None = None
    ) -> MailContext:
        """`MailContext.of("petkomm@petkomm.hu")`: domain and X-Loop follow the first address."""
        if not addresses:
            raise ValueError("at least one own address is needed")
        lowered = frozenset(address.strip().lower() for address in addresses)
        first = addresses[0].strip().lower()
        return cls(
            addresses=lowered,
            domain=(domain or first.rpartition("@")[2]).lower(),
            x_loop=(x_loop or first).strip().lower(),
        )


Check = Callable[[ParsedMail, MailContext], str | None]

# Checks reused as plain predicates, where "we" do not matter.
_NOBODY = MailContext(addresses=frozenset(), domain="", x_loop="")


def _local_part(address: str) -> str:
    return address.rpartition("@")[0] if "@" in address else address


def _sender_addresses(mail: ParsedMail) -> list[str]:
    """The From address and the Sender header's address, lower-case."""
    found = [mail.from_address] if mail.from_address else []
    for value in mail.header_values("sender"):
        address = parseaddr(value)[1].strip().lower()
        if address and address not in found:
            found.append(address)
    return found


def _domain_of(message_id: str) -> str:
    return message_id.strip("<>").rpartition("@")[2].lower()


def _is_our_domain(domain: str, ours: MailContext) -> bool:
    return domain == ours.domain or domain.endswith("." + ours.domain)


# --- never answer a machine (RFC 3834 and practice) ---------------------------------


def auto_submitted(mail: ParsedMail, ours: MailContext) -> str | None:
    """`Auto-Submitted` present and not `no`."""
    value = mail.header("auto-submitted")
    if value is None:
        return None
    keyword = _keyword(value)
    return None if keyword == "no" else f"auto-submitted: {keyword or 'empty'}"


def _keyword(value: str) -> str:
    """A header's keyword without parameters or comments: `auto-replied (vacation)` ->
    `auto-replied` (Sieve's vacation extension adds the comment)."""
    return re.sub(r"\([^)]*\)", " ", value.split(";", 1)[0]).strip().lower()


def null_return_path(mail: ParsedMail, ours: MailContext) -> str | None:
    """Return-Path (the envelope sender) is `<>`: only delivery reports are sent so."""
    for value in mail.header_values("return-path"):
        if value.replace(" ", "") in ("<>", ""):
            return "null return-path"
    return None


_MACHINE_LOCAL_PART = re.compile(
    r"^(mailer-daemon|postmaster|owner-.+|.+-request)$"
    r"|no-?reply|no_reply|no\.reply|do-?not-?reply|do_not_reply"
)


def machine_sender(mail: ParsedMail, ours: MailContext) -> str | None:
    """Sender is mailer-daemon, postmaster, noreply, `owner-*` or `*-request`."""
    for address in _sender_addresses(mail):
        if _MACHINE_LOCAL_PART.search(_local_part(address)):
            return f"machine sender: {address}"
    return None


def mailing_list(mail: ParsedMail, ours: MailContext) -> str | None:
    """`List-Id` or `List-Unsubscribe` present."""
    for name in ("list-id", "list-unsubscribe"):
        if mail.header(name) is not None:
            return f"mailing list: {name} present"
    return None


def bulk_precedence(mail: ParsedMail, ours: MailContext) -> str | None:
    """`Precedence: bulk|list|junk|auto_reply`."""
    for value in mail.header_values("precedence"):
        keyword = value.strip().lower()
        if keyword in ("bulk", "list", "junk", "auto_reply", "auto-reply"):
            return f"precedence: {keyword}"
    return None


def autoreply_header(mail: ParsedMail, ours: MailContext) -> str | None:
    """`X-Autoreply` or `X-Autorespond` (or `X-Autoresponder`) present."""
    for name in ("x-autoreply", "x-autorespond", "x-autoresponder"):
        if mail.header(name) is not None:
            return f"{name} present"
    return None


def auto_response_suppress(mail: ParsedMail, ours: MailContext) -> str | None:
    """`X-Auto-Response-Suppress` includes All, AutoReply or OOF (Exchange)."""
    for value in mail.header_values("x-auto-response-suppress"):
        tokens = {token.lower() for token in re.split(r"[\s,;]+", value) if token}
        hit = tokens & {"all", "autoreply", "oof"}
        if hit:
            return f"x-auto-response-suppress: {', '.join(sorted(hit))}"
    return None


def _report_type(mail: ParsedMail) -> str | None:
    if mail.content_type != "multipart/report":
        return None
    match = re.search(r'report-type\s*=\s*"?([\w.-]+)', mail.header("content-type") or "", re.I)
    return match.group(1).lower() if match else "unknown"


def delivery_report(mail: ParsedMail, ours: MailContext) -> str | None:
    """A delivery-status report (DSN), or any other multipart/report such as a read receipt."""
    if "message/delivery-status" in mail.part_types:
        return "delivery-status report"
    report = _report_type(mail)
    return f"report: {report}" if report else None


def from_ourselves(mail: ParsedMail, ours: MailContext) -> str | None:
    """The sender is one of our own addresses."""
    for address in _sender_addresses(mail):
        if address in ours.addresses:
            return f"sent from our own address {address}"
    return None


def our_message_id(mail: ParsedMail, ours: MailContext) -> str | None:
    """The Message-ID is from our own domain: one of our own mails came back."""
    if mail.message_id_missing:
        return None
    domain = _domain_of(mail.message_id)
    return f"message-id from our domain {domain}" if _is_our_domain(domain, ours) else None


def our_x_loop(mail: ParsedMail, ours: MailContext) -> str | None:
    """`X-Loop` carries our own value."""
    for value in mail.header_values("x-loop"):
        if value.strip().lower() == ours.x_loop:
            return "x-loop is ours"
    return None


#: In the order of the checklist in docs/mail-notes.md; the first reason found is reported.
AUTOMATIC_CHECKS: list[Check] = [
    auto_submitted,
    null_return_path,
    machine_sender,
    mailing_list,
    bulk_precedence,
    autoreply_header,
    auto_response_suppress,
    delivery_report,
    from_ourselves,
    our_message_id,
    our_x_loop,
]


def automatic_reason(
    mail: ParsedMail, ours: MailContext, skip: Collection[Check] = ()
) -> str | None:
    """Why this mail must not be answered automatically (a short English reason), or None.

    `skip` leaves checks out: a web form's mail comes from a robot address
    (`FORM_EXEMPT_CHECKS`) yet a person wrote it.
    """
    for check in AUTOMATIC_CHECKS:
        if check in skip:
            continue
        reason = check(mail, ours)
        if reason:
            return reason
    return None


# --- bounces ------------------------------------------------------------------------

_BOUNCE_SUBJECT = re.compile(
    r"undeliver|delivery status notification|mail delivery (failed|failure|subsystem)"
    r"|delivery (has )?failed|returned mail|failure notice|non-?delivery"
    r"|kezbesithetetlen|nem kezbesitheto|kezbesitesi (hiba|jelentes)|sikertelen kezbesites"
    r"|nem sikerult kezbesiteni|unzustellbar|nicht zustellbar"
)
_DAEMON = re.compile(r"^(mailer-daemon|postmaster)$")


def _delivery_status_part(mail: ParsedMail) -> bool:
    """A message/delivery-status part, or a multipart/report of type delivery-status."""
    return "message/delivery-status" in mail.part_types or _report_type(mail) == "delivery-status"


def _daemon_with_failure_subject(mail: ParsedMail) -> bool:
    """Old-style bounce: from the mailer daemon (or with a null sender) about a failure."""
    if not _BOUNCE_SUBJECT.search(fold(mail.subject)):
        return False
    daemon = any(_DAEMON.match(_local_part(a)) for a in _sender_addresses(mail))
    null_sender = null_return_path(mail, _NOBODY) is not None
    return daemon or null_sender


BOUNCE_SIGNS: list[Callable[[ParsedMail], bool]] = [
    _delivery_status_part,
    _daemon_with_failure_subject,
]


def is_bounce(mail: ParsedMail) -> bool:
    """True for a delivery failure report (DSN, or an old-style mailer-daemon bounce)."""
    return any(sign(mail) for sign in BOUNCE_SIGNS)


_MESSAGE_ID_LINE = re.compile(r"^[>\s]*message-id:\s*(<[^<>\s]+>)", re.I | re.M)


def bounced_message_id(mail: ParsedMail) -> str | None:
    """The Message-ID of the original mail a bounce returns, to thread it to its ticket.

    Taken from the returned message (message/rfc822 or text/rfc822-headers part),
    or, for bounces that paste the original into their text, from a
    `Message-ID:` line of the body.
    """
    if not is_bounce(mail):
        return None
    if mail.embedded_message_ids:
        return mail.embedded_message_ids[0]
    match = _MESSAGE_ID_LINE.search(mail.text)
    return normalise_message_id(match.group(1)) if match else None


# --- out of office --------------------------------------------------------------------

_OOF_SUBJECT = re.compile(
    r"^((re|aw|vs|fw|fwd|tr|wg)\s*:\s*)*"
    r"(automatikus valasz|automatic reply|auto(matic)?[- ]?reply|autoreply|autoresponse"
    r"|out of (the )?office( autoreply)?|hazon kivul|irodan kivul|tavol vagyok"
    r"|abwesenheitsnotiz|automatische antwort|reponse automatique|absence)"
    r"\s*(:|-|\(|$)"
)


# Subjects a person may write too ("Szabadság - vízóra leolvasás", "Autó"): an auto-reply's
# only when the mail replies to one of ours.
_AWAY_SUBJECT = re.compile(
    r"^((re|aw|vs)\s*:\s*)*(szabadsag(on vagyok)?|tavollet|auto)\s*(:|-|\(|$)"
)


def _oof_subject(mail: ParsedMail) -> bool:
    """An auto-reply subject: "Automatikus válasz:", "Házon kívül:", "Out of Office:", …;
    "Szabadság", "Távollét", "Auto:" only on a reply to our mail."""
    subject = fold(mail.subject).strip()
    if _OOF_SUBJECT.match(subject) is not None:
        return True
    replying = bool(mail.in_reply_to or mail.references or _OUR_TAG.search(mail.subject))
    return replying and _AWAY_SUBJECT.match(subject) is not None


def _auto_replied_header(mail: ParsedMail) -> bool:
    """`Auto-Submitted: auto-replied` (RFC 3834's mark for vacation answers)."""
    return _keyword(mail.header("auto-submitted") or "") == "auto-replied"


def _autoreply_headers(mail: ParsedMail) -> bool:
    """`X-Autoreply`, `X-Autorespond` or `Precedence: auto_reply`."""
    return autoreply_header(mail, _NOBODY) is not None or any(
        value.strip().lower() in ("auto_reply", "auto-reply")
        for value in mail.header_values("precedence")
    )


OUT_OF_OFFICE_SIGNS: list[Callable[[ParsedMail], bool]] = [
    _oof_subject,
    _auto_replied_header,
    _autoreply_headers,
]


def is_out_of_office(mail: ParsedMail) -> bool:
    """True for an out-of-office or other automatic reply, which must not reopen a ticket."""
    if is_bounce(mail):
        return False
    return any(sign(mail) for sign in OUT_OF_OFFICE_SIGNS)


# --- delivery reports: what became of our mail ------------------------------------------------

_DELAY_SUBJECT = re.compile(r"\bdelay|still being retried|warning: message|kesleltet|kesik")
_ADDRESS = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_SMTP_REPLY = re.compile(r"\b[45]\d\d[ -][245]\.\d{1,3}\.\d{1,3}\b.*|\(#[45]\.\d{1,3}\.\d{1,3}\)")


def delivery_outcome(mail: ParsedMail) -> str | None:
    """What a delivery report says of our mail: 'failed', 'delayed' or 'delivered';
    None for a mail that is no delivery report."""
    if not is_bounce(mail):
        return None
    actions = {status.action for status in mail.delivery_status if status.action}
    if "failed" in actions:
        return "failed"
    if "delayed" in actions:
        return "delayed"
    if actions & {"delivered", "relayed", "expanded"}:
        return "delivered"
    return "delayed" if _DELAY_SUBJECT.search(fold(mail.subject)) else "failed"


@dataclass(frozen=True)
class DeliveryProblem:
    """Who did not get our mail and why, as the report words it (either may be unknown)."""

    recipient: str | None
    diagnostic: str | None


def delivery_problem(mail: ParsedMail, ours: MailContext | None = None) -> DeliveryProblem:
    """The recipient and the reason of a delivery report: from its delivery-status part,
    or, for old-style bounces (qmail, Exim text), from `X-Failed-Recipients` and its text."""
    blocks: list[DeliveryStatus] = [s for s in mail.delivery_status if s.action != "delivered"]
    blocks = blocks or mail.delivery_status
    recipient = next((s.recipient for s in blocks if s.recipient), None)
    diagnostic = next((s.diagnostic or s.status for s in blocks if s.diagnostic or s.status), None)
    text = _report_text(mail)
    if recipient is None:
        failed = _ADDRESS.findall(mail.header("x-failed-recipients") or "")
        recipient = next(iter(failed + _foreign_addresses(text, ours or _NOBODY)), None)
    if diagnostic is None:
        found = _SMTP_REPLY.search(text)
        diagnostic = found.group(0).strip() if found else None
    if diagnostic:
        diagnostic = " ".join(diagnostic.removeprefix("smtp;").split())[:300]
    return DeliveryProblem(recipient.lower() if recipient else None, diagnostic)


def _report_text(mail: ParsedMail) -> str:
    """A report's own words: its text up to the returned copy of our mail."""
    text = mail.text
    for cut in ("--- Below this line is a copy", "------ This is a copy", "\nReturn-Path:"):
        text = text.split(cut, 1)[0]
    return text


def _foreign_addresses(text: str, ours: MailContext) -> list[str]:
    """The addresses a report names that are neither ours nor a mail system's."""
    found = []
    for address in _ADDRESS.findall(text):
        address = address.lower()
        if _is_our_domain(address.rpartition("@")[2], ours) or _DAEMON.match(_local_part(address)):
            continue
        found.append(address)
    return found


def named_addresses(mail: ParsedMail) -> set[str]:
    """Every address a machine mail names as the one it is about: the recipients of its
    delivery report, `X-Failed-Recipients`, `Original-Recipient`/`Final-Recipient`, and
    any address in its text (a challenge naming the held recipient), lower-case."""
    found = {status.recipient.lower() for status in mail.delivery_status if status.recipient}
    for name in ("x-failed-recipients", "original-recipient", "final-recipient"):
        for value in mail.header_values(name):
            found.update(address.lower() for address in _ADDRESS.findall(value))
    found.update(address.lower() for address in _ADDRESS.findall(mail.text))
    return found


# --- read receipts (RFC 8098 and the clients that only say it in the subject) --------------

_RECEIPT_SUBJECT = re.compile(
    r"^(olvasva|nem olvasott|olvasatlanul torolve|olvasatlan"
    r"|olvasasi (visszaigazolas|nyugta|jelentes|igazolas)|tertiveveny"
    r"|read|not read|read receipt|return receipt|read-receipt|gelesen|ungelesen|lu)"
    r"\s*(\([^)]*\))?\s*[:-]"
)


def _disposition_notification(mail: ParsedMail) -> bool:
    """A message/disposition-notification part, or a multipart/report of that type."""
    return (
        "message/disposition-notification" in mail.part_types
        or _report_type(mail) == "disposition-notification"
    )


def _receipt_subject(mail: ParsedMail) -> bool:
    """A receipt's subject: "Olvasva:", "Nem olvasott:", "Read:", "Tértivevény (…) -", …"""
    return _RECEIPT_SUBJECT.match(fold(mail.subject).strip()) is not None


READ_RECEIPT_SIGNS: list[Callable[[ParsedMail], bool]] = [
    _disposition_notification,
    _receipt_subject,
]


def is_read_receipt(mail: ParsedMail) -> bool:
    """True for a read receipt (or a "deleted unread" notice) about a mail we sent."""
    return not is_bounce(mail) and any(sign(mail) for sign in READ_RECEIPT_SIGNS)


def receipt_message_id(mail: ParsedMail) -> str | None:
    """The Message-ID of the mail a read receipt is about (Original-Message-ID, or the
    returned headers), to thread it to its ticket."""
    if not is_read_receipt(mail) or not mail.embedded_message_ids:
        return None
    return mail.embedded_message_ids[0]


# --- spam filters' challenges: "confirm that you are not a robot" --------------------------

_CHALLENGE_HEADERS = (
    "x-boxbe-notification",
    "x-challenge",
    "x-challenge-response",
    "x-spamarrest",
    "x-spam-arrest-verification",
)
_CHALLENGE_ASKS = tuple(
    re.compile(source)
    for source in (
        r"\b(igazolja|erositse meg|bizonyitsa)\b.{0,60}\b(nem robot|ember|valos szemely"
        r"|valodi szemely|nem gep)",
        r"\b(az on|on) (levele\w*|uzenete\w*)\b.{0,80}\b(visszatartott\w*|karanten\w*)",
        r"\b(verify|confirm|prove)\b.{0,40}\b(you are|you're)\s+(a )?(human|real person"
        r"|not a (ro)?bot)",
        r"\b(approved|authorized|allowed) senders?\b",
        r"\bguest list\b",
        r"\bsender verification\b",
        r"\bchallenge[- ]response\b",
        r"\byour (message|e-?mail)\b.{0,40}\b(held|quarantined|pending approval)",
    )
)
CHALLENGE_TEXT_CHARS = 3000
_CHALLENGE_ACTION = re.compile(r"https?://|\b(kattints\w*|click\w*|link\w*|hivatkozas\w*)\b")


def _challenge_header(mail: ParsedMail) -> bool:
    """A challenge service's own header (Boxbe, SpamArrest and the like)."""
    return any(mail.header(name) is not None for name in _CHALLENGE_HEADERS)


def _challenge_text(mail: ParsedMail) -> bool:
    """It asks to confirm that a person sent our mail, and gives a link to do it."""
    # A challenge asks at its start; a long mail's rest need not be folded for it.
    folded = " ".join(fold(f"{mail.subject}\n{mail.text[:CHALLENGE_TEXT_CHARS]}").split())
    asks = any(pattern.search(folded) for pattern in _CHALLENGE_ASKS)
    return asks and _CHALLENGE_ACTION.search(folded) is not None


CHALLENGE_SIGNS: list[Callable[[ParsedMail], bool]] = [_challenge_header, _challenge_text]


def is_challenge(mail: ParsedMail) -> bool:
    """True for a spam filter's challenge: our mail is held until someone confirms."""
    return not is_bounce(mail) and any(sign(mail) for sign in CHALLENGE_SIGNS)


# --- vacation notices that carry no automatic header -----------------------------------------

_AWAY = re.compile(
    r"\b(szabadsag\w* (vagyok|leszek|tartozkodom)|szabadsagon|irodan kivul|hazon kivul"
    r"|tavol vagyok|nem vagyok elerheto|nem tartozkodom|out of (the )?office|on (annual )?leave"
    r"|on vacation|on holiday|away from (the |my )?(office|desk))"
)
_BACK = re.compile(
    r"\d\.?-?(ig|tol|tol kezdve)\b|\bvisszaterese\w*|\b(ujra|ismet) elerheto|\bjelentkezem\b"
    r"|\bsurgos ugyben|\buntil\b|\bwhen i am back\b|\bon my return\b|\bin urgent cases\b"
    r"|\blimited access\b"
)
# An autoresponder speaks of its owner's mail ("leveleimet visszatérésem után olvasom");
# a person writing that they are away until Monday speaks of the meter reading.
_MAIL_HANDLING = re.compile(
    r"\b(level\w*|e-?mail\w*|uzenet\w*)\b.{0,40}\b(olvas\w*|valaszol\w*|megvalaszol\w*"
    r"|intez\w*|tovabbit\w*)|\bsurgos ugyben|\b(reply|respond|read|answer)\b.{0,30}\b(e-?mails?"
    r"|messages?|when i)|\b(access to|checking) (my )?e-?mail|\bin urgent (cases|matters)"
    r"|\bthank you for your (message|e-?mail)"
)
_QUOTED_LINE = re.compile(r"^\s*>", re.M)
VACATION_TEXT_MAX = 800  # characters: an autoresponder's text is short


def _vacation_text(mail: ParsedMail) -> bool:
    """A short reply to our mail, quoting nothing, that says its writer is away, until
    when, and what becomes of their mail meanwhile: an autoresponder without headers."""
    replying = bool(mail.in_reply_to or mail.references or _OUR_TAG.search(mail.subject))
    text = mail.new_text
    if not replying or not text or len(text) > VACATION_TEXT_MAX:
        return False
    if _QUOTED_LINE.search(mail.text):
        return False  # a person replying quotes us; an autoresponder does not
    folded = " ".join(fold(text).split())
    return all(sign.search(folded) for sign in (_AWAY, _BACK, _MAIL_HANDLING))


VACATION_TEXT_SIGNS: list[Callable[[ParsedMail], bool]] = [_vacation_text]


# --- another helpdesk's acknowledgement, without automatic headers ----------------------------

# A foreign ticket tag in the subject: "[MC-201]", "[Ticket#123]", "(Case 00123)",
# "Ticket #2026…", "[#12345]" - anything numbered but ours ([#PK-000123]).
_FOREIGN_TAG = re.compile(
    r"\[\s*(?!#?\s*pk-?\d)[a-z]{0,12}\s*[#:-]?\s*\d{2,}\s*\]"
    r"|[\[(]\s*(ticket|case|request|ugy|ugyszam|bejelentes|keres|incident)\s*"
    r"(#|no\.?|szam|:)?\s*\w*\d{2,}\w*\s*[\])]"
    r"|\b(ticket|case|request|incident)\s*(#|no\.?|number|id)\s*:?\s*\d{2,}"
)
# What a helpdesk says when it files a mail: a number it gave it. Matched on folded text
# with our own ticket numbers taken out, so a customer quoting ours is no helpdesk.
_FILED = re.compile(
    r"\b\w*\d\w* (szamon|szam alatt|ugyszamon|ugyszam alatt) (rogzit|iktat|nyilvantart|vettuk)\w*"
    r"|\b(rogzit|iktat|nyilvantart)\w* .{0,30}\b\w*\d\w* (szamon|szam alatt)"
    r"|\b(ugyszam|iktatoszam|hivatkozasi szam|azonosito)\w*\s*(:|#|-|az|a)?\s*#?\w*\d"
    r"|\byour (ticket|case|request|reference) (number|id|no\.?) is\b"
    r"|\b(ticket|case|request) (#|no\.?|number|id)?\s*:?\s*\w*\d+\w* has been"
    r" (created|opened|received|logged|registered)"
)
# What it says without a number, enough beside a foreign tag.
_RECEIVED = re.compile(
    r"\b(koszonjuk|megkaptuk|rogzitettuk|iktattuk|hamarosan valaszol|munkatarsunk|kollegank"
    r"|we (have )?received your|thank you for contacting|has been received|will (get back|respond"
    r"|reply)|as soon as possible|our (team|agents?|staff))"
)
HELPDESK_ACK_MAX = 800  # characters: an acknowledgement is short


def _helpdesk_ack(mail: ParsedMail) -> bool:
    """Another helpdesk filing our mail and saying so: a short reply to our mail, quoting
    nothing, that gives it a number of theirs ("#201 számon rögzítettük", "your ticket
    number is", a foreign tag such as "[MC-201]" in the subject). A person's "köszönöm,
    megkaptam" names no number of theirs."""
    replying = bool(mail.in_reply_to or mail.references or _OUR_TAG.search(mail.subject))
    text = mail.new_text
    if not replying or not text or len(text) > HELPDESK_ACK_MAX:
        return False
    if _QUOTED_LINE.search(mail.text):
        return False  # a person replying quotes us; a helpdesk's robot does not
    subject = fold(_OUR_NUMBER.sub(" ", mail.subject))
    folded = " ".join(fold(_OUR_NUMBER.sub(" ", text)).split())
    if _FILED.search(folded):
        return True
    return _FOREIGN_TAG.search(subject) is not None and _RECEIVED.search(folded) is not None


HELPDESK_ACK_SIGNS: list[Callable[[ParsedMail], bool]] = [_helpdesk_ack]


# --- our own mail come back --------------------------------------------------------------------

_OUR_TAG = re.compile(r"\[\s*#\s*PK-\d{1,9}\s*\]", re.I)
_OUR_NUMBER = re.compile(r"\[?\s*#?\s*PK-?\d{1,9}\s*\]?", re.I)
_STARTS_WITH_OUR_TAG = re.compile(r"^\s*\[\s*#\s*PK-\d{1,9}\s*\]", re.I)


def looks_like_our_mail(mail: ParsedMail) -> bool:
    """One of our own answers come back as it was sent (a forwarder resending it, a
    mailbox rule redirecting it): our subject as we wrote it, nothing above our
    reply separator, no attachment. A person's reply has "Re:" or text above it."""
    if not _STARTS_WITH_OUR_TAG.match(mail.subject):
        return False
    first = next((line.strip() for line in mail.text.splitlines() if line.strip()), "")
    if first != REPLY_ABOVE_MARKER:
        return False
    return not any(not attachment.inline for attachment in mail.attachments)


def redirected_by(mail: ParsedMail, ours: MailContext) -> str | None:
    """Who sent one of our own mails back by redirecting it (a mailbox rule, a forwarder
    resending it): the `Resent-From` (or `Resent-Sender`) address when it is not ours."""
    for name in ("resent-from", "resent-sender"):
        for value in mail.header_values(name):
            address = parseaddr(value)[1].strip().lower()
            if address and address not in ours.addresses:
                return address
    return None


# --- which kind of machine mail --------------------------------------------------------------

_DELIVERY_KINDS = {"failed": "bounce", "delayed": "delayed", "delivered": "delivered"}


def machine_kind(mail: ParsedMail) -> str | None:
    """Which kind of machine mail this is, or None when a person wrote it:
    'bounce', 'delayed', 'delivered' (delivery reports), 'receipt', 'challenge',
    'auto_reply' (out of office, vacation) or 'echo' (our own mail come back)."""
    outcome = delivery_outcome(mail)
    if outcome is not None:
        return _DELIVERY_KINDS[outcome]
    if is_read_receipt(mail):
        return "receipt"
    if is_challenge(mail):
        return "challenge"
    if is_out_of_office(mail) or any(sign(mail) for sign in VACATION_TEXT_SIGNS):
        return "auto_reply"
    if any(sign(mail) for sign in HELPDESK_ACK_SIGNS):
        return "auto_reply"
    if looks_like_our_mail(mail):
        return "echo"
    return None


def reported_message_id(mail: ParsedMail) -> str | None:
    """The Message-ID of our mail that a delivery report or read receipt is about."""
    return bounced_message_id(mail) or receipt_message_id(mail)


# --- who the mail is from, for answering: a web form's person, not its robot --------------------

_FORM_LOCAL_PART = re.compile(
    r"^(wordpress|www-?data|apache|nginx|httpd|nobody|php|web|www|webmaster|website|honlap"
    r"|weboldal|urlap|form|forms|webform|contact|contact-?form|kapcsolat|formmail|mailer)$"
)
_FORM_NAME = re.compile(
    r"weboldal|honlap|urlap|web ?form|website|wordpress|kapcsolat|contact form|jotform"
    r"|typeform|wufoo|google (forms|urlapok)"
)
_PLAUSIBLE_ADDRESS = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def form_robot(mail: ParsedMail) -> bool:
    """The From is a web form's robot or a no-reply address, not a person's mailbox."""
    local = _local_part(mail.from_address)
    if _MACHINE_LOCAL_PART.search(local) or _FORM_LOCAL_PART.match(local):
        return True
    return _FORM_NAME.search(fold(mail.from_name)) is not None


def reply_to_person(mail: ParsedMail, ours: MailContext) -> tuple[str, str] | None:
    """(address, name) of the person `Reply-To` names, when it names one who is not the
    From, not us, not a list and not a robot; None otherwise (RFC 5322 3.6.2: replies
    go to Reply-To)."""
    if mailing_list(mail, ours) or bulk_precedence(mail, ours):
        return None
    for address in mail.reply_to:
        if not address or address == mail.from_address or address in ours.addresses:
            continue
        if not _PLAUSIBLE_ADDRESS.match(address) or _MACHINE_LOCAL_PART.search(
            _local_part(address)
        ):
            continue
        return address, _reply_to_name(mail, address)
    return None


def _reply_to_name(mail: ParsedMail, address: str) -> str:
    """The display name `Reply-To` gives `address` ("" when it gives none)."""
    for name, found in getaddresses(mail.header_values("reply-to")):
        if found.strip().lower() == address:
            return name.strip()
    return ""


def mail_owner(mail: ParsedMail, ours: MailContext | None = None) -> tuple[str, str]:
    """(address, name) of whoever answers to this mail go to: the `Reply-To` person, or
    the From. The address is lower-case, either may be ""."""
    person = reply_to_person(mail, ours or _NOBODY)
    if person is not None:
        return person
    return mail.from_address.strip().lower(), mail.from_name.strip()


#: A web form's mail passes these checks when its Reply-To names a person: the form's
#: robot (no-reply, or a site on our own domain) sent it, but a person wrote it.
FORM_EXEMPT_CHECKS: tuple[Check, ...] = (machine_sender, our_message_id)


# --- self-help topics -------------------------------------------------------------------


@dataclass(frozen=True)
class SelfHelpTopic:
    """A known problem: `clear` phrases always count, `hints` only when no `unless` matches."""

    name: str
    clear: tuple[re.Pattern[str], ...]
    hints: tuple[re.Pattern[str], ...] = ()
    unless: tuple[re.Pattern[str], ...] = ()


def _patterns(*sources: str) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(source) for source in sources)


_CODE_WORDS = r"(aktival\w*|aktivacio\w*|regisztracio\w*|megerosit\w*|visszaigazol\w*)"
_NOT_ARRIVED = r"nem (kaptam|kaptuk|kapom|kapok|jott|jon|erkezett|erkezik)( meg)?"

#: The known problems, matched on the accent-folded, lower-case subject and new text: what
#: the customer asks for, not a word that happens to be in the mail ("a számláimat
#: küldjék az új címemre" asks for a change of address, not where to see invoices).
SELF_HELP_TOPICS: list[SelfHelpTopic] = [
    SelfHelpTopic(
        name="activation_code_missing",
        clear=_patterns(
            rf"\b{_NOT_ARRIVED}\b.{{0,60}}\b{_CODE_WORDS}",
            rf"\b{_NOT_ARRIVED} (a |az )?(level\w*|e-?mail\w*|kod\w*)",
            rf"\b{_CODE_WORDS} (kod|level|e-?mail|link)\w* .{{0,30}}\b{_NOT_ARRIVED}",
            r"\b(kod|level|e-?mail)\w* (meg )?(sem|nem) (jott|jon|erkezett|erkezik)",
            r"\b(did ?n[o']?t|have ?n[o']?t|never|not) (get|got|receive\w*)\b.{0,40}"
            r"\b(code|e-?mail|activation)",
        ),
        hints=_patterns(
            rf"\b{_CODE_WORDS} (kod|level|e-?mail|link)",
            r"\bactivation (code|e-?mail|link|mail)",
        ),
        unless=_patterns(
            r"\b(megkaptam|megkaptuk|megjott|megerkezett|sikerult)\b",
            r"\b(got|received) the (activation )?(code|e-?mail)",
        ),
    ),
    SelfHelpTopic(
        name="forgotten_password",
        clear=_patterns(
            r"\belfelejt\w*\b.{0,30}\bjelsz\w*",
            r"\bjelsz\w*.{0,30}\belfelejt\w*",
            r"\bjelszo[- ]?emlekezteto\w*",
            r"\bjelszo[- ]?(visszaallit\w*|helyreallit\w*)",
            r"\bnem (tudok|tudunk|sikerul|enged) (be)?(lepni|belepni|bejelentkezni)",
            r"\bforg[eo]t\w* (my |the )?password",
            r"\b(reset (my |the )?password|password reset)",
            r"\b(can ?not|can'?t|unable to) (log ?in|sign ?in)",
        ),
    ),
    SelfHelpTopic(
        name="where_invoices",
        # Asking where or how to see invoices, balance or debt, or how much is owed.
        clear=_patterns(
            r"\bhol (latom|lathatom|talalom|talalhatom|nezhetem|nezhetem meg|tudom megnezni"
            r"|nezem meg|lehet megnezni|lehet latni|erem el|erhetem el)\b.{0,40}"
            r"\b(szaml\w*|egyenleg\w*|tartozas\w*|befizet\w*|folyoszaml\w*)",
            r"\bmennyi (a |az )?(tartozas\w*|egyenleg\w*|hatralek\w*)",
            r"\b(hogyan|hogy) (tudom|tudnam|lehet) (meg)?(nezni|latni|tekinteni)\b.{0,30}"
            r"\b(szaml\w*|egyenleg\w*|tartozas\w*|folyoszaml\w*)",
            r"\bszaml\w* megtekint\w*",
            r"\bmegtekint\w* .{0,20}\bszaml\w*",
            r"\bwhere (can|do) (i|we) (see|find|view)\b.{0,20}\b(invoice|bill|balance)",
        ),
        # The words alone, when the mail asks for nothing else with them.
        hints=_patterns(
            r"\begyenleg\w*",
            r"\btartozas\w*",
            r"\bfolyoszamla\w*",
            r"\bszamlaim\w*",
            r"\bmy (invoices|bills|balance)\b",
        ),
        unless=_patterns(
            # Invoices sent somewhere else or otherwise: a change of address or delivery.
            r"\b(kuldj\w*|kuldjek|kuldeni|kuldenek|postaz\w*|kezbesit\w*|cimre|cimemre"
            r"|cimunkre|e-?mailben|e-?szamla\w*|elektronikus szaml\w*"
            r"|send (my|the) (invoice|bill))",
            # A payment made, or an amount disputed: staff must look into it.
            r"\b(befizettem|befizettuk|kifizettem|kifizettuk|atutaltam|atutaltuk|rendeztem"
            r"|rendeztuk|jovair\w*|hibas\w*|teves\w*|tevedes\w*|reklamal\w*|panasz\w*)",
        ),
    ),
    SelfHelpTopic(
        name="personal_data_change",
        clear=_patterns(
            r"\badat\w*\s*(modosit\w*|valtoz\w*|frissit\w*)",
            r"\b(modosit\w*|frissit\w*) .{0,25}\badat\w*",
            r"\buj (lak|level\w* ?|postai |szamlazasi |e-?mail ?)?cim\w*",
            r"\b(lak)?cim ?valtozas\w*",
            r"\b(lak|level\w* ?|postai |szamlazasi |e-?mail ?)?cim\w* (meg)?valtoz\w*",
            r"\b(meg)?valtozott (a |az )?(lak|e-?mail ?)?(cim|telefonszam|nev)\w*",
            r"\btelefonszam\w* (meg)?valtoz\w*",
            r"\buj telefonszam\w*",
            # The customer moves ("elköltöztem", "költözés miatt"), not a neighbour.
            r"\b(el|at|ki|be)?koltoz(tem|tunk|om|unk|es\w*)\b",
            r"\bnev ?valtozas\w*",
            r"\bnevem (meg)?valtozott",
            r"\b(change of address|new address|moved (house|out|to)|update my "
            r"(details|address|phone|name))\b",
        ),
    ),
]

_NEGATION_BEFORE = re.compile(r"\b(nem|sem|not|never|no)\s+$")


def _affirmed(pattern: re.Pattern[str], text: str) -> bool:
    """The pattern occurs at least once not directly after a negation ("nem költöztem")."""
    for match in pattern.finditer(text):
        if not _NEGATION_BEFORE.search(text[max(0, match.start() - 8) : match.start()]):
            return True
    return False


def _any(patterns: Iterable[re.Pattern[str]], text: str) -> bool:
    return any(_affirmed(pattern, text) for pattern in patterns)


def topic_matches(topic: SelfHelpTopic, folded: str) -> bool:
    """Whether an accent-folded, lower-case text speaks of `topic`."""
    if _any(topic.clear, folded):
        return True
    return _any(topic.hints, folded) and not _any(topic.unless, folded)


def self_help_topics(mail: ParsedMail) -> list[str]:
    """The known problems the customer writes about (subject and new text), in table order."""
    folded = fold(f"{mail.subject}\n{mail.new_text}")
    folded = re.sub(r"[ \t]+", " ", folded)
    return [topic.name for topic in SELF_HELP_TOPICS if topic_matches(topic, folded)]

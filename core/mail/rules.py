"""Decisions about an incoming mail, each rule a small named function in an ordered list.

Read top-down like the checklist in docs/mail-notes.md: `AUTOMATIC_CHECKS` says why a
mail must not be answered automatically (RFC 3834), `OUT_OF_OFFICE_SIGNS` and
`BOUNCE_SIGNS` recognise auto-replies and delivery reports, and
`SELF_HELP_TOPICS` maps a customer's words to the known problems we can answer
on our own. Nothing here knows about IMAP, SMTP or Telegram.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from email.utils import parseaddr

from core.mail.message_id import normalise_message_id
from core.mail.parse import ParsedMail
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
    keyword = value.split(";", 1)[0].strip().lower()
    return None if keyword == "no" else f"auto-submitted: {keyword or 'empty'}"


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


def automatic_reason(mail: ParsedMail, ours: MailContext) -> str | None:
    """Why this mail must not be answered automatically (a short English reason), or None."""
    for check in AUTOMATIC_CHECKS:
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


def _oof_subject(mail: ParsedMail) -> bool:
    """An auto-reply subject: "Automatikus válasz:", "Házon kívül:", "Out of Office:", …"""
    return _OOF_SUBJECT.match(fold(mail.subject).strip()) is not None


def _auto_replied_header(mail: ParsedMail) -> bool:
    """`Auto-Submitted: auto-replied` (RFC 3834's mark for vacation answers)."""
    value = mail.header("auto-submitted") or ""
    return value.split(";", 1)[0].strip().lower() == "auto-replied"


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

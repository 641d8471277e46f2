"""What every step of the chain reads, and what comes out of it.

`InboundContext` is who we are, how we answer and how much (the limits against
robots and floods); `MailFacts` is one mail and what the mail rules
(`core.mail.rules`) say about it, worked out once: who owns it (a web form's
`Reply-To` person rather than its robot), whether a machine sent it and which
kind; `Situation` is the mail once it has its ticket. `InboundResult` and its
`Outcome` are what the caller learns about one mail.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parseaddr
from enum import StrEnum
from typing import Any

from core.accounts import CodeMailer, Policy
from core.attachments import Incoming
from core.config import DEFAULT_ANSWER_DAYS
from core.mail import MailContext, ParsedMail, automatic_reason
from core.mail.rules import (
    FORM_EXEMPT_CHECKS,
    form_robot,
    from_ourselves,
    machine_kind,
    our_message_id,
    redirected_by,
    reply_to_person,
)
from core.outbox import HasMailFrom
from storage import tickets as tickets_store

HOUR = 3600.0
MINUTE = 60.0
# FreeScout's limit: at most 10 automatic answers to one address in 3 hours.
ANSWER_LIMIT = 10
ANSWER_WINDOW = 3 * HOUR
# A robot whose From changes each time is held by its domain, and any flood by the total.
# A public mail provider's domain is shared by thousands of our customers: a looser limit.
DOMAIN_ANSWER_LIMIT = 10
PROVIDER_ANSWER_LIMIT = 60
DOMAIN_ANSWER_WINDOW = HOUR
OVERALL_ANSWER_LIMIT = 120
OVERALL_ANSWER_WINDOW = HOUR
MAX_ANSWER_AGE = 3 * 86400.0  # mail waiting longer gets a ticket but no automatic answer
# Floods: once an address (or a robot's domain) has sent this many mails within the
# window, its next new mail joins its newest open ticket instead of opening one; and a
# ticket announces at most this many customer messages in the window, then goes quiet,
# telling staff so once in `FLOOD_NOTICE_EVERY`.
FLOOD_WINDOW = 10 * MINUTE
FLOOD_MAILS = 3
FLOOD_NOTICE_EVERY = HOUR
# Double sends: the same sender, subject and body within this window are one mail.
DOUBLE_SEND_WINDOW = 10 * MINUTE

#: Domains of public mail providers: one domain, thousands of unrelated people.
PUBLIC_PROVIDERS = frozenset(
    {
        "freemail.hu",
        "citromail.hu",
        "gmail.com",
        "googlemail.com",
        "hotmail.com",
        "hotmail.hu",
        "outlook.com",
        "outlook.hu",
        "live.com",
        "msn.com",
        "yahoo.com",
        "icloud.com",
        "me.com",
        "t-online.hu",
        "upcmail.hu",
        "vipmail.hu",
        "indamail.hu",
        "chello.hu",
        "invitel.hu",
        "digikabel.hu",
        "gmx.net",
        "gmx.com",
        "mail.com",
        "protonmail.com",
        "proton.me",
    }
)


@dataclass(frozen=True)
class InboundContext:
    """Who we are and how we answer: our addresses, the answer promise, the code mailer."""

    ours: MailContext
    settings: HasMailFrom  # for queue_mail: the From address of our answers
    answer_days: int = DEFAULT_ANSWER_DAYS
    code_mailer: CodeMailer | None = None
    policy: Policy = field(default_factory=Policy)
    # The bot's user name for links, or a function giving it once the bot knows it.
    bot_username: str | Callable[[], str] | None = None
    answer_limit: int = ANSWER_LIMIT
    answer_window: float = ANSWER_WINDOW
    domain_answer_limit: int = DOMAIN_ANSWER_LIMIT
    provider_answer_limit: int = PROVIDER_ANSWER_LIMIT
    domain_answer_window: float = DOMAIN_ANSWER_WINDOW
    overall_answer_limit: int = OVERALL_ANSWER_LIMIT
    overall_answer_window: float = OVERALL_ANSWER_WINDOW
    max_answer_age: float = MAX_ANSWER_AGE
    flood_window: float = FLOOD_WINDOW
    flood_mails: int = FLOOD_MAILS
    flood_notice_every: float = FLOOD_NOTICE_EVERY
    double_send_window: float = DOUBLE_SEND_WINDOW
    public_providers: frozenset[str] = PUBLIC_PROVIDERS

    @classmethod
    def from_settings(
        cls,
        settings: Any,  # core.config.Settings
        *,
        code_mailer: CodeMailer | None = None,
        extra_addresses: tuple[str, ...] = (),
    ) -> InboundContext:
        """Our address from PETKOMM_MAIL_FROM (plus any aliases), the rules from the settings."""
        address = parseaddr(settings.mail_from)[1].lower()
        return cls(
            ours=MailContext.of(address, *extra_addresses),
            settings=settings,
            answer_days=settings.answer_days,
            code_mailer=code_mailer,
            policy=Policy.from_settings(settings),
            bot_username=code_mailer.bot_username if code_mailer else None,
        )


@dataclass(frozen=True)
class MailFacts:
    """One parsed mail and what the mail rules say about it, worked out once."""

    mail: ParsedMail
    sender: str  # the From address, lower-case; "" when there is none
    automatic: str | None  # why a machine sent it (RFC 3834), or None for a person
    # Which kind of machine mail it is ('bounce', 'receipt', 'auto_reply', …), None for a
    # person's: kept on its ticket as a machine note, never reopening, never answered.
    machine: str | None = None
    # Who owns it: the Reply-To person (RFC 5322; a web form's resident rather than its
    # robot) or the From; the ticket is theirs and every answer goes to them.
    owner: str = ""
    owner_name: str = ""
    form: bool = False  # a form's robot sent it for the Reply-To person
    # One of our own mails redirected back (Resent-From): who sent it back, else None.
    redirected_by: str | None = None

    @classmethod
    def of(cls, mail: ParsedMail, ours: MailContext) -> MailFacts:
        """Run the mail rules over `mail` once."""
        sender = mail.from_address.strip().lower()
        person = reply_to_person(mail, ours)
        form = person is not None and form_robot(mail)
        owner, owner_name = person or (sender, mail.from_name.strip())
        ours_back = from_ourselves(mail, ours) or our_message_id(mail, ours)
        redirected = redirected_by(mail, ours) if ours_back else None
        machine = "echo" if redirected else machine_kind(mail)
        return cls(
            mail=mail,
            sender=sender,
            automatic=automatic_reason(mail, ours, skip=FORM_EXEMPT_CHECKS if form else ()),
            machine=machine,
            owner=owner,
            owner_name=owner_name,
            form=form,
            redirected_by=redirected,
        )

    @property
    def bounce(self) -> bool:
        """A delivery report (a failure, a delay or a success)."""
        return self.machine in ("bounce", "delayed", "delivered")

    @property
    def out_of_office(self) -> bool:
        """An out-of-office or vacation notice."""
        return self.machine == "auto_reply"

    @property
    def actor(self) -> str:
        """Who the audit trail says did what this mail does (`mail:<address>`)."""
        return f"mail:{self.owner or self.sender or 'unknown'}"


@dataclass(frozen=True)
class Situation:
    """What the answer rules look at: the mail, its ticket, whether it opened the ticket."""

    facts: MailFacts
    ticket: tickets_store.Ticket
    opened: bool
    ctx: InboundContext
    now: float
    arrived_at: float | None = None  # when it reached the mailbox, if the server said
    # The mail's files that were not kept (too big, a program, too many): the customer is
    # told which and why in the acknowledgement, or in a short answer to a reply.
    refused: tuple[Incoming, ...] = ()

    @property
    def recipient(self) -> str:
        """Where automatic answers go: the ticket's owner address."""
        return (self.ticket.email or self.facts.owner).strip().lower()


class Outcome(StrEnum):
    """What became of one mail; each compares equal to its string ("new", …)."""

    NEW = "new"  # it opened a ticket
    THREADED = "threaded"  # it joined its ticket
    REOPENED = "reopened"  # it joined its closed ticket, which opened again
    DUPLICATE = "duplicate"  # seen or processed before, or a double send: nothing done
    QUARANTINED = "quarantined"  # unreadable, or the chain choked on it: set aside
    IGNORED = "ignored"  # kept, but turned into nothing


@dataclass(frozen=True)
class InboundResult:
    """What became of one mail."""

    outcome: Outcome
    message_id: str
    mail_id: int | None = None  # the inbound_mails row (None for a duplicate)
    ticket_id: int | None = None
    ticket_number: str | None = None
    answers: tuple[str, ...] = ()  # templates queued: "ack", "selfhelp_…", "activation"
    reason: str | None = None  # why ignored, quarantined or left unanswered
    threaded_by: str | None = None  # the thread rule that found the ticket
    machine: str | None = None  # the kind of machine mail, kept as a note on its ticket

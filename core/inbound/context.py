"""What every step of the chain reads, and what comes out of it.

`InboundContext` is who we are and how we answer; `MailFacts` is one mail and
what the mail rules (`core.mail.rules`) say about it, worked out once;
`Situation` is the mail once it has its ticket. `InboundResult` and its
`Outcome` are what the caller learns about one mail.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parseaddr
from enum import StrEnum
from typing import Any

from core.accounts import CodeMailer, Policy
from core.config import DEFAULT_ANSWER_DAYS
from core.mail import MailContext, ParsedMail, automatic_reason, is_bounce, is_out_of_office
from core.outbox import HasMailFrom
from storage import tickets as tickets_store

HOUR = 3600.0
# FreeScout's limit: at most 10 automatic answers to one address in 3 hours.
ANSWER_LIMIT = 10
ANSWER_WINDOW = 3 * HOUR
MAX_ANSWER_AGE = 3 * 86400.0  # mail waiting longer gets a ticket but no automatic answer


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
    max_answer_age: float = MAX_ANSWER_AGE

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
    out_of_office: bool
    bounce: bool

    @classmethod
    def of(cls, mail: ParsedMail, ours: MailContext) -> MailFacts:
        """Run the mail rules over `mail` once."""
        return cls(
            mail=mail,
            sender=mail.from_address.strip().lower(),
            automatic=automatic_reason(mail, ours),
            out_of_office=is_out_of_office(mail),
            bounce=is_bounce(mail),
        )

    @property
    def actor(self) -> str:
        """Who the audit trail says did what this mail does (`mail:<address>`)."""
        return f"mail:{self.sender or 'unknown'}"


@dataclass(frozen=True)
class Situation:
    """What the answer rules look at: the mail, its ticket, whether it opened the ticket."""

    facts: MailFacts
    ticket: tickets_store.Ticket
    opened: bool
    ctx: InboundContext
    now: float
    arrived_at: float | None = None  # when it reached the mailbox, if the server said


class Outcome(StrEnum):
    """What became of one mail; each compares equal to its string ("new", …)."""

    NEW = "new"  # it opened a ticket
    THREADED = "threaded"  # it joined its ticket
    REOPENED = "reopened"  # it joined its closed ticket, which opened again
    DUPLICATE = "duplicate"  # seen or processed before: nothing done
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

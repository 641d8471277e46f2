"""Which ticket a mail belongs to: the thread rules, first match wins.

- `by_references`: In-Reply-To / References name a mail of a ticket;
- `by_bounced_mail`: a bounce belongs to the ticket of the mail it returns;
- `by_subject_number`: `[#PK-000123]` in the subject, only from the ticket's owner.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from core.inbound.context import MailFacts
from core.mail import bounced_message_id, replied_ids
from core.tickets import parse_ticket_number, ticket_numbers_in_subject
from storage import tickets as tickets_store
from storage.db import Queryable


@dataclass(frozen=True)
class Thread:
    """The ticket a mail belongs to, and the rule that found it."""

    ticket: tickets_store.Ticket
    rule: str


ThreadRule = Callable[[Queryable, MailFacts], Awaitable[Thread | None]]


async def by_references(db: Queryable, facts: MailFacts) -> Thread | None:
    """In-Reply-To / References name a mail of a ticket (ours or the customer's)."""
    ticket = await tickets_store.by_mail_message_ids(db, replied_ids(facts.mail))
    return Thread(ticket, "references") if ticket else None


async def by_bounced_mail(db: Queryable, facts: MailFacts) -> Thread | None:
    """A bounce returns one of our mails: it belongs to that mail's ticket (Zammad)."""
    original = bounced_message_id(facts.mail) if facts.bounce else None
    if original is None:
        return None
    ticket = await tickets_store.by_mail_message_ids(db, [original])
    return Thread(ticket, "bounced mail") if ticket else None


async def by_subject_number(db: Queryable, facts: MailFacts) -> Thread | None:
    """`[#PK-000123]` in the subject, only from the ticket's own address (osTicket).

    A stranger quoting someone else's number opens a new ticket instead of
    writing into theirs ("to avoid message injection").
    """
    if not facts.sender:
        return None
    for number in ticket_numbers_in_subject(facts.mail.subject):
        ticket_id = parse_ticket_number(number)
        ticket = await tickets_store.get(db, ticket_id) if ticket_id else None
        if ticket and ticket.email and ticket.email.strip().lower() == facts.sender:
            return Thread(ticket, "subject number")
    return None


THREAD_RULES: list[ThreadRule] = [by_references, by_bounced_mail, by_subject_number]


async def find_thread(db: Queryable, facts: MailFacts) -> Thread | None:
    """The first thread rule that finds the mail's ticket."""
    for rule in THREAD_RULES:
        thread = await rule(db, facts)
        if thread is not None:
            return thread
    return None

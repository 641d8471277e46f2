"""Which ticket a mail belongs to: the thread rules, first match wins.

- `by_our_message_id`: one of our own mails redirected back (Resent-From) under its
  Message-ID joins that mail's ticket;
- `by_references`: In-Reply-To / References name a mail of a ticket (a double
  send's copy included);
- `by_reported_mail`: a delivery report or read receipt belongs to the ticket of
  the mail of ours it is about;
- `by_subject_number`: `[#PK-000123]` in the subject, only from the ticket's owner;
- `by_subject_number_and_owner_named`: a machine's mail about our mail (a spam
  filter's challenge, a bounce, a read receipt) that carries no reference but our
  subject tag, when it names the ticket owner's address.

A new mail that none of them places may still be part of a burst (`BURST_RULES`,
the flood guard): a sender who has just sent several mails, or a robot at one
domain sending the same mail under changing addresses, joins its newest open
ticket instead of opening one more.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from core.inbound.context import InboundContext, MailFacts
from core.mail import fold, replied_ids
from core.mail.rules import named_addresses, reported_message_id
from core.tickets import parse_ticket_number, ticket_numbers_in_subject, untagged_subject
from storage import inbound as inbound_store
from storage import tickets as tickets_store
from storage.db import Queryable


@dataclass(frozen=True)
class Thread:
    """The ticket a mail belongs to, and the rule that found it."""

    ticket: tickets_store.Ticket
    rule: str


ThreadRule = Callable[[Queryable, MailFacts], Awaitable[Thread | None]]


async def by_references(db: Queryable, facts: MailFacts) -> Thread | None:
    """In-Reply-To / References name a mail of a ticket (ours or the customer's, or the
    copy of a double send, which joined its ticket without a message of its own)."""
    ids = replied_ids(facts.mail)
    ticket = await tickets_store.by_mail_message_ids(db, ids)
    if ticket is None:
        ticket_id = await inbound_store.ticket_of_mails(db, ids)
        ticket = await tickets_store.get(db, ticket_id) if ticket_id else None
    return Thread(ticket, "references") if ticket else None


async def by_reported_mail(db: Queryable, facts: MailFacts) -> Thread | None:
    """A bounce (Zammad) or a read receipt is about one of our mails: it belongs to that
    mail's ticket."""
    original = reported_message_id(facts.mail) if facts.machine else None
    if original is None:
        return None
    ticket = await tickets_store.by_mail_message_ids(db, [original])
    if ticket is None:
        return None
    return Thread(ticket, "bounced mail" if facts.bounce else "read receipt")


async def by_subject_number(db: Queryable, facts: MailFacts) -> Thread | None:
    """`[#PK-000123]` in the subject, only from the ticket's own address (osTicket).

    A stranger quoting someone else's number opens a new ticket instead of
    writing into theirs ("to avoid message injection"). The owner may write from
    the Reply-To address the ticket was opened for, or from its From.
    """
    senders = {address for address in (facts.sender, facts.owner) if address}
    if not senders:
        return None
    for number in ticket_numbers_in_subject(facts.mail.subject):
        ticket_id = parse_ticket_number(number)
        # The address is the numbered ticket's own, even when staff merged it into another.
        ticket = await tickets_store.get(db, ticket_id, follow=False) if ticket_id else None
        if ticket and ticket.email and ticket.email.strip().lower() in senders:
            joined = await tickets_store.get(db, ticket.id)
            return Thread(joined or ticket, "subject number")
    return None


async def by_our_message_id(db: Queryable, facts: MailFacts) -> Thread | None:
    """One of our own mails redirected back under its own Message-ID: that mail's ticket."""
    if not facts.redirected_by:
        return None
    ticket = await tickets_store.by_mail_message_ids(db, [facts.mail.message_id])
    return Thread(ticket, "our own mail redirected") if ticket else None


# Machine mail about one of our mails that may thread by our subject tag alone.
TAG_THREADED_MACHINE_KINDS = frozenset({"challenge", "bounce", "delayed", "delivered", "receipt"})


async def by_subject_number_and_owner_named(db: Queryable, facts: MailFacts) -> Thread | None:
    """A spam filter's challenge, a bounce or a read receipt without In-Reply-To: our
    `[#PK-000123]` in its subject finds the ticket when the mail names that ticket's
    owner address (the held or failed recipient). A machine quoting a tag about
    someone else's address threads nowhere; a person's mail never comes here."""
    if facts.machine not in TAG_THREADED_MACHINE_KINDS:
        return None
    named: set[str] | None = None
    for number in ticket_numbers_in_subject(facts.mail.subject):
        ticket_id = parse_ticket_number(number)
        ticket = await tickets_store.get(db, ticket_id) if ticket_id else None
        if ticket is None or not ticket.email:
            continue
        named = named_addresses(facts.mail) if named is None else named
        if ticket.email.strip().lower() in named:
            return Thread(ticket, "subject number, owner named")
    return None


THREAD_RULES: list[ThreadRule] = [
    by_our_message_id,
    by_references,
    by_reported_mail,
    by_subject_number,
    by_subject_number_and_owner_named,
]


async def find_thread(db: Queryable, facts: MailFacts) -> Thread | None:
    """The first thread rule that finds the mail's ticket."""
    for rule in THREAD_RULES:
        thread = await rule(db, facts)
        if thread is not None:
            return thread
    return None


# --- the flood guard: a burst of new mails joins one ticket ---------------------------------

BurstRule = Callable[[Queryable, MailFacts, InboundContext, float], Awaitable[Thread | None]]
FLOOD_GUARD = "flood guard"  # the start of the burst rules' names


async def same_sender_burst(
    db: Queryable, facts: MailFacts, ctx: InboundContext, now: float
) -> Thread | None:
    """An address that sent `flood_mails` mails within the window: its next new mail joins
    its newest open ticket (a robot, an autoresponder loop, a customer in a hurry)."""
    if not facts.owner:
        return None
    since = now - ctx.flood_window
    recent = await tickets_store.recent_mail_tickets(
        db, since, email=facts.owner, limit=ctx.flood_mails
    )
    if len(recent) < ctx.flood_mails:
        return None
    return Thread(recent[0].ticket, f"{FLOOD_GUARD}: same sender")


async def same_domain_burst(
    db: Queryable, facts: MailFacts, ctx: InboundContext, now: float
) -> Thread | None:
    """A robot whose From changes each time: once one domain (not a public mail provider's,
    nor ours) sent `flood_mails` mails within the window, a new mail from there that
    reads like one of its open tickets (the same subject and text, numbers aside) joins
    that ticket. Colleagues at one company writing about one outage write differently."""
    domain = facts.owner.rpartition("@")[2]
    if not domain or domain in ctx.public_providers or domain == ctx.ours.domain:
        return None
    since = now - ctx.flood_window
    # The domain's newest messages: a robot's burst is threaded into one ticket, so its
    # newest few are that ticket's.
    recent = await tickets_store.recent_mail_tickets(
        db, since, domain=domain, limit=ctx.flood_mails
    )
    if len(recent) < ctx.flood_mails:
        return None
    subject, text = skeleton(untagged_subject(facts.mail.subject)), skeleton(facts.mail.new_text)
    if not (subject or text):
        return None
    for mail in recent:
        if subject == skeleton(mail.ticket.subject) and text == skeleton(mail.text):
            return Thread(mail.ticket, f"{FLOOD_GUARD}: same domain")
    return None


BURST_RULES: list[BurstRule] = [same_sender_burst, same_domain_burst]


async def find_burst(
    db: Queryable, facts: MailFacts, ctx: InboundContext, now: float
) -> Thread | None:
    """The ticket of the burst a new mail belongs to, if it is part of one."""
    for rule in BURST_RULES:
        thread = await rule(db, facts, ctx, now)
        if thread is not None:
            return thread
    return None


_REPLY_PREFIXES = re.compile(r"^\s*((re|aw|vs|va|valasz|fw|fwd|tov)\s*(\[\d+\])?\s*:\s*)+")
_NOT_WORDS = re.compile(r"[\W\d_]+")
SKELETON_CHARS = 200


def skeleton(text: str) -> str:
    """What stays of a robot's text from one mail to the next: the words, accent-folded,
    without numbers, punctuation or reply prefixes (at most `SKELETON_CHARS`)."""
    # Only the start matters; folding a whole long mail for it would cost every new mail.
    folded = _REPLY_PREFIXES.sub("", fold(text[: SKELETON_CHARS * 3]))
    return " ".join(_NOT_WORDS.sub(" ", folded).split())[:SKELETON_CHARS]

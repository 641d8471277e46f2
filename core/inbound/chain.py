"""The chain for one stored mail: ignore it? thread it or open a ticket, answer, record.

Runs inside the mail's transaction (`pipeline.process_stored` opens it), so
the ticket message, the answers queued in the outbox, the throttle counts and
the mail's final status commit together or not at all.
"""

from __future__ import annotations

from core import attachments
from core.inbound.answers import answer_mail
from core.inbound.context import InboundContext, InboundResult, MailFacts, Outcome, Situation
from core.inbound.filters import ignore_reason, unmatched_reason
from core.inbound.threads import Thread, find_thread
from core.mail import ParsedMail
from core.tickets import add_customer_message, open_ticket, ticket_number
from storage import accounts as accounts_store
from storage import inbound as store
from storage import tickets as tickets_store
from storage.db import Queryable, Transaction


async def handle_mail(
    tx: Transaction,
    mail: ParsedMail,
    mail_id: int,
    ctx: InboundContext,
    now: float,
    arrived_at: float | None = None,
) -> InboundResult:
    """The chain for one stored mail, inside its transaction; ends with the mail's status."""
    facts = MailFacts.of(mail, ctx.ours)
    reason = ignore_reason(facts, ctx)
    if reason:
        return await _ignore(tx, facts, mail_id, reason)

    thread = await find_thread(tx, facts)
    files = attachments.sort_out(mail)
    if thread is None:
        reason = unmatched_reason(facts)
        if reason:
            return await _ignore(tx, facts, mail_id, reason)
        ticket, outcome = await _open_ticket(tx, facts, files, mail_id, now), Outcome.NEW
    else:
        ticket, outcome = await _add_to_ticket(tx, thread, facts, files, mail_id, now)
    await attachments.keep(tx, files, ticket_id=ticket.id, inbound_mail_id=mail_id, now=now)

    situation = Situation(facts, ticket, outcome is Outcome.NEW, ctx, now, arrived_at)
    answers, held = await answer_mail(tx, situation)

    threaded_by = thread.rule if thread else None
    summary = _summary(threaded_by, answers, held)
    await store.set_outcome(tx, mail_id, status=store.TICKET, reason=summary, ticket_id=ticket.id)
    return InboundResult(
        outcome,
        mail.message_id,
        mail_id,
        ticket_id=ticket.id,
        ticket_number=ticket_number(ticket.id),
        answers=tuple(answers),
        reason=held,
        threaded_by=threaded_by,
    )


async def _ignore(tx: Transaction, facts: MailFacts, mail_id: int, reason: str) -> InboundResult:
    """The mail stays kept, with its reason, and becomes nothing."""
    await store.set_outcome(tx, mail_id, status=store.IGNORED, reason=reason, ticket_id=None)
    return InboundResult(Outcome.IGNORED, facts.mail.message_id, mail_id, reason=reason)


async def _open_ticket(
    tx: Transaction, facts: MailFacts, files: attachments.Intake, mail_id: int, now: float
) -> tickets_store.Ticket:
    """A mail that belongs to no ticket opens one, for the customer the address names."""
    mail = facts.mail
    return await open_ticket(
        tx,
        channel="mail",
        subject=mail.subject,
        body=attachments.with_note(mail.text, files),
        new_text=attachments.with_note(mail.new_text, files),
        actor=facts.actor,
        email=facts.sender or None,
        customer_id=await _customer_id_for(tx, facts.sender),
        mail_message_id=mail.message_id,
        inbound_mail_id=mail_id,
        now=now,
    )


async def _add_to_ticket(
    tx: Transaction,
    thread: Thread,
    facts: MailFacts,
    files: attachments.Intake,
    mail_id: int,
    now: float,
) -> tuple[tickets_store.Ticket, Outcome]:
    """The mail joins its ticket; a person's mail reopens a closed one."""
    mail = facts.mail
    # Machines' mail (an out-of-office note, a bounce) never reopens a closed ticket.
    reopened = await add_customer_message(
        tx,
        thread.ticket,
        body=attachments.with_note(mail.text, files),
        new_text=attachments.with_note(mail.new_text, files),
        actor=facts.actor,
        mail_message_id=mail.message_id,
        inbound_mail_id=mail_id,
        reopen=not (facts.out_of_office or facts.bounce),
        now=now,
    )
    ticket = await tickets_store.get(tx, thread.ticket.id) or thread.ticket
    return ticket, Outcome.REOPENED if reopened else Outcome.THREADED


async def _customer_id_for(db: Queryable, sender: str) -> str | None:
    """The customer whose address this is: exactly one portal account, or one customer."""
    if not sender:
        return None
    accounts = {account.customer_id for account in await accounts_store.by_email(db, sender)}
    if accounts:
        return accounts.pop() if len(accounts) == 1 else None
    customers = await store.customer_ids_with_email(db, sender)
    return customers[0] if len(customers) == 1 else None


def _summary(threaded_by: str | None, answers: list[str], held: str | None) -> str:
    """The stored mail's reason line: how it was threaded, what was answered, what not."""
    parts = [f"threaded by {threaded_by}" if threaded_by else "new ticket"]
    if answers:
        parts.append("answered: " + ", ".join(answers))
    if held:
        parts.append("not answered: " + held)
    return "; ".join(parts)

"""The chain for one stored mail: ignore it? thread it or open a ticket, answer, record.

Runs inside the mail's transaction (`pipeline.process_stored` opens it), so
the ticket message, the answers queued in the outbox, the throttle counts and
the mail's final status commit together or not at all.

1. ignore it: our own mail come back (From us, our X-Loop, a Message-ID we sent);
2. a double send (the same sender, subject and body a moment ago) is the mail
   it copies: nothing is added, nothing answered;
3. find its ticket (`threads.THREAD_RULES`), or the burst it belongs to
   (`threads.BURST_RULES`, the flood guard), or open one; machine mail that
   threads nowhere is kept, not ticketed (`filters.UNMATCHED_RULES`);
4. machine mail joins its ticket as a machine note: never reopening it, staff
   told only when our mail did not reach the customer (a bounce, a spam
   filter's challenge); a person's mail joins as theirs, announced unless its
   ticket is flooded;
5. answer it (`answers.answer_mail`) and record what became of it.
"""

from __future__ import annotations

import hashlib

from core import attachments
from core.accounts import local_time
from core.inbound.answers import answer_mail
from core.inbound.context import InboundContext, InboundResult, MailFacts, Outcome, Situation
from core.inbound.filters import ignore_reason, unmatched_reason
from core.inbound.threads import FLOOD_GUARD, Thread, find_burst, find_thread
from core.mail import MailParseError, ParsedMail, fold, parse_mail, replied_ids
from core.mail.rules import delivery_problem, our_message_id, reported_message_id
from core.staff import excerpt
from core.texts import render
from core.tickets import add_customer_message, open_ticket, ticket_number
from storage import accounts as accounts_store
from storage import inbound as store
from storage import tickets as tickets_store
from storage.db import Queryable, Transaction

# Machine notes staff are told of at once: our mail did not reach the customer.
ANNOUNCED_MACHINE_KINDS = {"bounce": "undelivered", "challenge": "held"}
NOTE_EXCERPT_LINES = 12  # of a vacation notice or a challenge, kept in the note's text
NOTE_EXCERPT_CHARS = 800
# A mail forwarded as an attachment ("Forward as attachment"): its text is shown too.
ATTACHED_MAIL_TYPES = ("message/rfc822", "message/global")
MAX_ATTACHED_MAILS = 5  # shown of one mail; the rest stay files


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
    reason = ignore_reason(facts, ctx) or await _our_message_id(tx, facts, ctx)
    if reason:
        return await _ignore(tx, facts, mail_id, reason)

    fingerprint = None if facts.machine else double_send_fingerprint(facts)
    if fingerprint is not None:
        copy = await store.earlier_copy(tx, fingerprint, now - ctx.double_send_window)
        if copy is not None:
            return await _double_send(tx, facts, mail_id, copy, fingerprint)

    thread = await find_thread(tx, facts)
    if thread is None and not facts.machine:
        thread = await find_burst(tx, facts, ctx, now)
    if thread is None:
        reason = unmatched_reason(facts)  # every kind of machine mail has one
        if reason:
            return await _ignore(tx, facts, mail_id, reason)
    refused: tuple[attachments.Incoming, ...] = ()
    if facts.machine and thread is not None:
        # A machine's parts (our own mail returned, a report) are no customer's files.
        ticket, outcome = await _add_machine_note(tx, thread, facts, mail_id, now), Outcome.THREADED
    else:
        files = attachments.sort_out(mail)
        if thread is None:
            ticket, outcome = await _open_ticket(tx, facts, files, mail_id, now), Outcome.NEW
        else:
            ticket, outcome = await _add_to_ticket(tx, thread, facts, files, mail_id, ctx, now)
        await attachments.keep(tx, files, ticket_id=ticket.id, inbound_mail_id=mail_id, now=now)
        refused = tuple(file for file in files.files if file.withheld)

    situation = Situation(facts, ticket, outcome is Outcome.NEW, ctx, now, arrived_at, refused)
    answers, held = await answer_mail(tx, situation)

    threaded_by = thread.rule if thread else None
    summary = _summary(threaded_by, facts.machine, answers, held)
    await store.set_outcome(
        tx,
        mail_id,
        status=store.TICKET,
        reason=summary,
        ticket_id=ticket.id,
        fingerprint=fingerprint,
    )
    return InboundResult(
        outcome,
        mail.message_id,
        mail_id,
        ticket_id=ticket.id,
        ticket_number=ticket_number(ticket.id),
        answers=tuple(answers),
        reason=held,
        threaded_by=threaded_by,
        machine=facts.machine,
    )


async def _ignore(tx: Transaction, facts: MailFacts, mail_id: int, reason: str) -> InboundResult:
    """The mail stays kept, with its reason, and becomes nothing."""
    await store.set_outcome(tx, mail_id, status=store.IGNORED, reason=reason, ticket_id=None)
    return InboundResult(
        Outcome.IGNORED, facts.mail.message_id, mail_id, reason=reason, machine=facts.machine
    )


async def _our_message_id(db: Queryable, facts: MailFacts, ctx: InboundContext) -> str | None:
    """One of our own mails came back under its own Message-ID (a mailbox rule resending
    it, a forwarder), whatever its From says: never a customer's message."""
    if facts.redirected_by or our_message_id(facts.mail, ctx.ours) is None:
        # Redirected back by someone: a machine note on its ticket (`threads`). Else: we
        # make Message-IDs of our own domain, any other needs no look-up.
        return None
    ours = await tickets_store.our_message(db, facts.mail.message_id)
    return "our own mail came back (its Message-ID is ours)" if ours else None


# --- double sends ------------------------------------------------------------------------------


def double_send_fingerprint(facts: MailFacts) -> str | None:
    """What makes two mails the same mail sent twice: the owner, the subject, the text and
    the attachments (names, types, sizes), whitespace and case aside; None without owner."""
    mail = facts.mail
    if not facts.owner:
        return None
    parts = [
        facts.owner,
        " ".join(fold(mail.subject).split()),
        " ".join(mail.text.split()),
        *sorted(f"{a.filename}|{a.content_type}|{a.size}" for a in mail.attachments),
    ]
    return hashlib.sha256("\x00".join(parts).encode("utf-8", "replace")).hexdigest()


async def _double_send(
    tx: Transaction, facts: MailFacts, mail_id: int, copy: store.EarlierCopy, fingerprint: str
) -> InboundResult:
    """The second copy of a mail sent twice: it joins the first one's ticket without a
    message of its own (a reply to it still threads there), no announcement, no answer."""
    reason = f"double send of {copy.message_id}: nothing added"
    await store.set_outcome(
        tx,
        mail_id,
        status=store.TICKET,
        reason=reason,
        ticket_id=copy.ticket_id,
        fingerprint=fingerprint,
    )
    return InboundResult(
        Outcome.DUPLICATE,
        facts.mail.message_id,
        mail_id,
        ticket_id=copy.ticket_id,
        ticket_number=ticket_number(copy.ticket_id),
        reason=reason,
    )


# --- tickets and their messages ------------------------------------------------------------


async def _open_ticket(
    tx: Transaction, facts: MailFacts, files: attachments.Intake, mail_id: int, now: float
) -> tickets_store.Ticket:
    """A mail that belongs to no ticket opens one, for the customer the owner's address
    names (a web form's Reply-To person, not its robot)."""
    mail = facts.mail
    text, new_text = with_attached_mails(mail)
    return await open_ticket(
        tx,
        channel="mail",
        subject=mail.subject,
        body=attachments.with_note(text, files),
        new_text=attachments.with_note(new_text, files),
        actor=facts.actor,
        email=facts.owner or None,
        customer_id=await _customer_id_for(tx, facts.owner),
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
    ctx: InboundContext,
    now: float,
) -> tuple[tickets_store.Ticket, Outcome]:
    """A person's mail joins its ticket; a closed one reopens.

    Staff hear of each message, but not of a flood: a mail the flood guard
    threaded, or one more after `flood_mails` mails within the window (chat messages of
    a merged ticket are not counted), joins
    quietly, and staff are told that the ticket is flooded (once an hour at most).
    """
    mail, ticket = facts.mail, thread.ticket
    since = now - ctx.flood_window
    recent = await tickets_store.customer_mails_since(tx, ticket.id, since, at_most=ctx.flood_mails)
    burst = thread.rule.startswith(FLOOD_GUARD)
    quiet = ticket.status == "open" and (burst or recent >= ctx.flood_mails)
    text, new_text = with_attached_mails(mail)
    reopened = await add_customer_message(
        tx,
        ticket,
        body=attachments.with_note(text, files),
        new_text=attachments.with_note(new_text, files),
        actor=facts.actor,
        mail_message_id=mail.message_id,
        inbound_mail_id=mail_id,
        now=now,
        announce=not quiet,
    )
    notice_since = now - ctx.flood_notice_every
    if quiet and not await tickets_store.announced_since(tx, ticket.id, "flood", notice_since):
        await tickets_store.announce(tx, ticket.id, "flood", now)
    current = await tickets_store.get(tx, ticket.id) or ticket
    return current, Outcome.REOPENED if reopened else Outcome.THREADED


def with_attached_mails(mail: ParsedMail) -> tuple[str, str]:
    """The mail's text and new text, each followed by the mails it carries as attachments
    (a forward as attachment: the complaint is only in there), with their From, Date
    and Subject, as an inline forward shows them. A report's returned mail is ours: not
    added. The attached files themselves are kept as files too."""
    if mail.content_type == "multipart/report":
        return mail.text, mail.new_text
    blocks: list[str] = []
    for attachment in mail.attachments:
        if attachment.content_type not in ATTACHED_MAIL_TYPES:
            continue
        if len(blocks) >= MAX_ATTACHED_MAILS:
            break
        try:
            inner = parse_mail(attachment.payload())
        except MailParseError:
            continue  # an empty attached mail: the file says all there is
        sender = inner.from_address
        if inner.from_name:
            sender = f"{inner.from_name} <{inner.from_address}>"
        blocks.append(
            render(
                "tickets/attached_mail.txt",
                filename=attachment.filename or "",
                sender=sender,
                date=inner.header("date") or "",
                subject=inner.subject,
                text=(inner.new_text or inner.text).strip(),
            ).strip()
        )
    if not blocks:
        return mail.text, mail.new_text
    added = "\n\n".join(blocks)
    return (
        f"{mail.text.rstrip()}\n\n{added}".strip(),
        f"{mail.new_text.rstrip()}\n\n{added}".strip(),
    )


async def _add_machine_note(
    tx: Transaction, thread: Thread, facts: MailFacts, mail_id: int, now: float
) -> tickets_store.Ticket:
    """Machine mail joins its ticket as a machine note: kept whole, summed up for staff,
    never reopening the ticket; staff are told at once only when our mail did not
    reach the customer (`ANNOUNCED_MACHINE_KINDS`)."""
    ticket = thread.ticket
    note = await machine_note(tx, facts)
    message_id = await tickets_store.add_message(
        tx,
        ticket.id,
        direction="in",
        author="machine",
        body=facts.mail.text,
        new_text=note,
        mail_message_id=facts.mail.message_id,
        inbound_mail_id=mail_id,
        now=now,
        machine=facts.machine,
    )
    event = ANNOUNCED_MACHINE_KINDS.get(facts.machine or "")
    if event:
        await tickets_store.announce(tx, ticket.id, event, now, message_id)
    return await tickets_store.get(tx, ticket.id) or ticket


async def machine_note(db: Queryable, facts: MailFacts) -> str:
    """What staff read of a machine mail: which of our mails it is about, and what it says
    (who did not get it and why; the vacation notice or the challenge itself)."""
    mail = facts.mail
    # The mail it answers: In-Reply-To, else the newest of References (replied_ids puts
    # In-Reply-To first, then the References oldest first).
    about = reported_message_id(mail) or mail.in_reply_to or next(reversed(replied_ids(mail)), None)
    ours = await tickets_store.our_message(db, about) if about else None
    problem = delivery_problem(mail) if facts.bounce else None
    own_words = ""
    if facts.machine in ("auto_reply", "challenge"):
        text = mail.new_text or mail.text
        own_words, _cut = excerpt(text, NOTE_EXCERPT_LINES, NOTE_EXCERPT_CHARS)
    return render(
        "tickets/machine_note.txt",
        kind=facts.machine,
        ours=None if ours is None else ("auto" if ours.author == "auto" else "staff"),
        sent=local_time(ours.created_at) if ours else None,
        recipient=problem.recipient if problem else None,
        diagnostic=problem.diagnostic if problem else None,
        subject=mail.subject,
        own_words=own_words,
        redirected_by=facts.redirected_by,
    )


async def _customer_id_for(db: Queryable, sender: str) -> str | None:
    """The customer whose address this is: exactly one portal account, or one customer."""
    if not sender:
        return None
    accounts = {account.customer_id for account in await accounts_store.by_email(db, sender)}
    if accounts:
        return accounts.pop() if len(accounts) == 1 else None
    customers = await store.customer_ids_with_email(db, sender)
    return customers[0] if len(customers) == 1 else None


def _summary(
    threaded_by: str | None, machine: str | None, answers: list[str], held: str | None
) -> str:
    """The stored mail's reason line: how it was threaded, what was answered, what not."""
    parts = [f"threaded by {threaded_by}" if threaded_by else "new ticket"]
    if machine:
        parts.append(f"machine mail: {machine}")
    if answers:
        parts.append("answered: " + ", ".join(answers))
    if held:
        parts.append("not answered: " + held)
    return "; ".join(parts)

"""What support staff do with tickets, whichever door they use.

The staff chat (`bot/staff.py`) and the command line (`run_bot.py tickets`)
list, read, answer, close and reopen tickets only through these functions, so
the rules and the audit trail are the same for both:

- `list_tickets`, `thread`: the open (or all) tickets oldest first with their
  age and answer deadline (Fgytv. 17/B § (5): `answer_days`, 15 by default),
  and one ticket's whole thread;
- `answer`: the clerk's text goes back the way the customer wrote last (the way
  the report came, unless merged tickets know both ways) — a mail
  threaded into the customer's (outbox, `[#PK-000123]` in the subject,
  In-Reply-To/References), or a message queued for the customer's Telegram
  chat (`telegram_outbox`, sent by the bot's announcer). Either way it is kept
  in the ticket as an 'out' message. Answering does not close a ticket;
- `close`, `reopen`;
- `refusal`, `refuse`: who may act, and the audit entry of a refused attempt.

Every staff action is audited (`ticket_viewed`, `ticket_answered`,
`ticket_closed`, `ticket_reopened`, `staff_refused`) with who, when and what —
never a message body. No Telegram, SMTP or IMAP here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from core import journal, ratings
from core.accounts import BUDAPEST, local_time
from core.customer_card import Beside, beside
from core.mail import (
    REPLY_ABOVE_MARKER,
    MailParseError,
    answer_subject,
    is_stand_in,
    parent_references,
    parse_mail,
)
from core.mail.rules import mail_owner
from core.outbox import MAX_ATTEMPTS, HasMailFrom, mail_subject, next_delay, queue_mail
from core.paging import window
from core.tickets import (
    DAY,
    MAX_CHAT_TEXT,
    Deadline,
    deadline,
    ticket_number,
    untagged_subject,
)
from storage import audit, billing, notices
from storage import desk as desk_store
from storage import tickets as store
from storage.db import Database, Queryable

PER_PAGE = 10
WARN_DAYS = 3  # a deadline this close (or past) is marked
EXCERPT_LINES = 5
EXCERPT_CHARS = 500
MAX_TELEGRAM_ANSWER = MAX_CHAT_TEXT
MAX_MAIL_ANSWER = 50_000

# Why an attempt was refused (the audit entry's details).
NOT_STAFF = "not staff"
WRONG_CHAT = "not the staff chat"

_REPLY_PREFIX = re.compile(r"^\s*(?:(?:re|aw|vá|válasz)\s*(?:\[\d+\])?\s*:\s*)+", re.IGNORECASE)


class StaffError(Exception):
    """A staff request that cannot be done; `kind` says why (the door words it)."""

    NOT_FOUND = "not_found"  # no such ticket
    EMPTY = "empty"  # an answer with no text
    TOO_LONG = "too_long"  # an answer longer than the channel takes (`limit`)
    NO_ADDRESS = "no_address"  # the ticket has no way back to the customer

    def __init__(self, kind: str, number: str, limit: int | None = None) -> None:
        super().__init__(f"{number}: {kind}")
        self.kind = kind
        self.number = number
        self.limit = limit


# --- who acts ----------------------------------------------------------------------


def telegram_actor(user_id: int) -> str:
    """The audit name of a staff member acting in Telegram."""
    return f"staff:{user_id}"


def cli_actor(os_user: str) -> str:
    """The audit name of someone at the command line."""
    return f"cli:{os_user}"


def refusal(
    user_id: int,
    chat_id: int,
    *,
    staff_ids: frozenset[int],
    staff_chat_id: int | None,
    command: bool,
) -> str | None:
    """None when this Telegram user may act here; otherwise why not.

    Only configured staff act at all; a command is taken only in the staff chat
    or in the staff member's own private chat with the bot (whose id is theirs).
    Buttons and replies sit on messages the bot sent to those chats only.
    """
    if user_id not in staff_ids:
        return NOT_STAFF
    if command and chat_id not in (staff_chat_id, user_id):
        return WRONG_CHAT
    return None


async def refuse(db: Queryable, *, user_id: int, what: str, reason: str, now: float) -> None:
    """Audit a refused staff attempt (`what`: the command or button, never message text)."""
    await audit.record(db, now, f"tg:{user_id}", "staff_refused", what[:64], reason)


# --- what staff see ------------------------------------------------------------------


@dataclass(frozen=True)
class Summary:
    """One ticket as staff see it in a list, an announcement or a thread's head."""

    ticket: store.Ticket
    number: str
    customer_name: str | None  # from the billing data, when the customer is known
    age_days: int
    age_hours: int
    deadline: Deadline
    due_date: date  # Budapest
    days_left: int  # calendar days from today to the due date (Budapest); negative when past
    overdue: bool  # the deadline has passed
    received: str  # `2024. 05. 01. 14:30`, Budapest
    holder: str | None = None  # the name of the staff member who holds it (issue 17)
    stars: int | None = None  # the customer's rating of this closing, 1 to 5 (issue 17)

    @property
    def customer_id(self) -> str | None:
        return self.ticket.customer_id

    @property
    def email(self) -> str | None:
        return self.ticket.email

    @property
    def channel(self) -> str:
        return self.ticket.channel

    @property
    def subject(self) -> str:
        return self.ticket.subject

    @property
    def closed(self) -> bool:
        return self.ticket.status == "closed"

    @property
    def near(self) -> bool:
        """Open, and the deadline is within WARN_DAYS or past."""
        return not self.closed and self.deadline.near


async def summarise(
    db: Queryable, ticket: store.Ticket, *, answer_days: int, now: float
) -> Summary:
    """The ticket's number, customer, age and deadline."""
    name = None
    if ticket.customer_id:
        customer = await billing.get_customer(db, ticket.customer_id)
        name = customer.name if customer else None
    holder = await desk_store.member(db, ticket.holder_id) if ticket.holder_id else None
    due = deadline(ticket, answer_days, now, WARN_DAYS)
    due_date = datetime.fromtimestamp(due.due_at, BUDAPEST).date()
    today = datetime.fromtimestamp(now, BUDAPEST).date()
    age = max(0.0, now - ticket.created_at)
    return Summary(
        ticket=ticket,
        number=ticket_number(ticket.id),
        customer_name=name,
        age_days=int(age // DAY),
        age_hours=int(age // 3600),
        deadline=due,
        due_date=due_date,
        days_left=(due_date - today).days,
        overdue=now > due.due_at,
        received=local_time(ticket.created_at),
        holder=holder_name(holder, ticket.holder_id),
        # Only the current closing's rating: a reopened ticket is not rated (yet).
        stars=(
            await desk_store.ticket_stars(db, ticket.id, ticket.closed_at)
            if ticket.status == "closed" and ticket.closed_at is not None
            else None
        ),
    )


def holder_name(member: desk_store.Member | None, user_id: int | None) -> str | None:
    """A staff member's name as the bot last saw it (`#9001` if it never met them)."""
    if user_id is None:
        return None
    return member.name if member else f"#{user_id}"


@dataclass(frozen=True)
class Page:
    """One page of the ticket list (`page` counts from 0)."""

    items: list[Summary]
    page: int
    pages: int
    total: int
    include_closed: bool
    mine: bool = False  # only the tickets the asking staff member holds


async def list_tickets(
    db: Queryable,
    *,
    answer_days: int,
    now: float,
    page: int = 0,
    per_page: int = PER_PAGE,
    include_closed: bool = False,
    holder_id: int | None = None,
) -> Page:
    """Open tickets (or all), oldest first, a page at a time; a page past the end is the last.

    With `holder_id`, only the open tickets that staff member holds ("mine")."""
    if holder_id is not None:
        total = await desk_store.count_held_open(db, holder_id)
        shown = window(total, per_page, page)
        tickets = await desk_store.held_open_tickets(db, holder_id, shown.offset, shown.limit)
    else:
        total = await (store.count_all(db) if include_closed else store.count_open(db))
        shown = window(total, per_page, page)
        fetch = store.all_tickets if include_closed else store.open_tickets
        tickets = await fetch(db, shown.offset, shown.limit)
    items = [await summarise(db, t, answer_days=answer_days, now=now) for t in tickets]
    return Page(items, shown.page, shown.pages, total, include_closed, holder_id is not None)


@dataclass(frozen=True)
class Entry:
    """One message of a thread: who wrote it ('customer', 'machine', 'auto' or 'staff') and
    when."""

    message: store.TicketMessage
    who: str
    at: str  # Budapest time
    name: str | None = None  # a clerk's name (`Anna`, `anna (parancssor)`), not the audit's ID

    @property
    def text(self) -> str:
        text = self.message.new_text or self.message.body
        if self.who == "auto":  # our acknowledgement's "write above this line" is no content
            text = "\n".join(
                line for line in text.splitlines() if line.strip() != REPLY_ABOVE_MARKER
            ).strip()
        return text

    @property
    def clerk(self) -> str:
        """Who wrote a staff answer, as colleagues call them."""
        return self.name or self.message.author

    @property
    def author(self) -> str:
        return self.message.author

    @property
    def by_mail(self) -> bool:
        """Came or went by mail (it has a Message-ID), not through the chat."""
        return self.message.mail_message_id is not None

    @property
    def machine(self) -> str | None:
        """A machine note's kind (a read receipt, a bounce, …); None for a person's message."""
        return self.message.machine


@dataclass(frozen=True)
class NoteEntry:
    """An internal note in a thread: staff see it among the messages; it is never sent."""

    note: desk_store.Note
    at: str  # Budapest time
    edited: str | None  # when it was last edited, Budapest time
    who: str = "note"
    machine: None = None
    by_mail: None = None  # neither way: a note is never sent

    @property
    def text(self) -> str:
        return self.note.body

    @property
    def author(self) -> str:
        return self.note.author_name or self.note.author

    @property
    def note_id(self) -> int:
        return self.note.id


@dataclass(frozen=True)
class Thread:
    summary: Summary
    entries: list[Entry | NoteEntry]  # messages and notes, oldest first
    beside: Beside | None = None  # the customer beside the ticket (issue 17)


def _who(message: store.TicketMessage) -> str:
    if message.machine:
        return "machine"
    if message.direction == "in":
        return "customer"
    return "auto" if message.author == "auto" else "staff"


async def find(db: Queryable, number: int) -> store.Ticket:
    """The ticket with this number; StaffError NOT_FOUND when there is none."""
    ticket = await store.get(db, number)
    if ticket is None:
        raise StaffError(StaffError.NOT_FOUND, ticket_number(number))
    return ticket


async def thread(db: Database, number: int, *, answer_days: int, actor: str, now: float) -> Thread:
    """The whole thread of a ticket, oldest first; reading it is audited."""
    ticket = await find(db, number)
    messages = await store.messages(db, ticket.id)
    summary = await summarise(db, ticket, answer_days=answer_days, now=now)
    names: dict[str, str | None] = {}
    for m in messages:
        if _who(m) == "staff" and m.author not in names:
            names[m.author] = await clerk_name(db, m.author)
    entries: list[tuple[float, int, Entry | NoteEntry]] = [
        (m.created_at, 0, Entry(m, _who(m), local_time(m.created_at), names.get(m.author)))
        for m in messages
    ]
    for note in await desk_store.notes(db, ticket.id):
        edited = local_time(note.edited_at) if note.edited_at is not None else None
        entries.append((note.created_at, 1, NoteEntry(note, local_time(note.created_at), edited)))
    entries.sort(key=lambda item: (item[0], item[1]))
    nearby = await beside(db, ticket, now)
    await audit.record(db, now, actor, "ticket_viewed", summary.number)
    return Thread(summary, [entry for _, _, entry in entries], nearby)


async def clerk_name(db: Queryable, actor: str) -> str | None:
    """A clerk's name by their audit ID: `staff:9002` as the bot last saw them (`Béla`),
    `cli:anna` as `anna (parancssor)`; None when the bot never met them."""
    kind, _, rest = actor.partition(":")
    if kind == "cli" and rest:
        return f"{rest} (parancssor)"
    if kind == "staff" and rest.lstrip("-").isdigit():
        member = await desk_store.member(db, int(rest))
        return member.name if member else None
    return None


def excerpt(
    text: str, max_lines: int = EXCERPT_LINES, max_chars: int = EXCERPT_CHARS
) -> tuple[str, bool]:
    """The first lines of a text (blank runs squeezed), and whether anything was cut."""
    lines: list[str] = []
    for line in text.strip().splitlines():
        line = line.rstrip()
        if not line and (not lines or not lines[-1]):
            continue
        lines.append(line)
    cut = len(lines) > max_lines
    short = "\n".join(lines[:max_lines]).strip()
    if len(short) > max_chars:
        short = short[: max_chars - 1].rstrip()
        cut = True
    return short, cut


# --- announcements in the staff chat ---------------------------------------------------


@dataclass(frozen=True)
class Announcement:
    """A ticket event to post in the staff chat, with the new text's first lines."""

    id: int
    event: str  # new | reopened | message
    summary: Summary
    excerpt: str
    cut: bool


async def pending_announcements(
    db: Queryable, *, answer_days: int, now: float, limit: int = 20
) -> list[Announcement]:
    """Announcements not yet posted, oldest first."""
    found = []
    for announcement_id, ticket_id, event in await store.pending_announcements(db, limit):
        ticket = await store.get(db, ticket_id)
        if ticket is None:  # cannot happen with the foreign key; nothing to show
            continue
        message = await store.announced_message(db, announcement_id, ticket_id)
        short, cut = excerpt(message.new_text or message.body) if message else ("", False)
        summary = await summarise(db, ticket, answer_days=answer_days, now=now)
        found.append(Announcement(announcement_id, event, summary, short, cut))
    return found


async def announcement_posted(
    db: Database, announcement: Announcement, chat_id: int, message_id: int, now: float
) -> None:
    """The announcement is in the staff chat: a reply to it answers its ticket."""
    async with db.transaction() as tx:
        await store.add_staff_post(tx, chat_id, message_id, announcement.summary.ticket.id)
        await store.announcement_sent(tx, announcement.id, now)


async def remember_post(db: Queryable, chat_id: int, message_id: int, ticket_id: int) -> None:
    """A bot message about a ticket in a staff chat (thread, prompt, confirmation)."""
    await store.add_staff_post(db, chat_id, message_id, ticket_id)


async def ticket_of_post(db: Queryable, chat_id: int, message_id: int) -> int | None:
    """The ticket a staff-chat message of the bot is about, if any."""
    return await store.staff_post_ticket(db, chat_id, message_id)


# --- notices about no ticket (e.g. outgoing mail is failing) -------------------------------

Notice = notices.Notice


async def pending_notices(db: Queryable) -> list[notices.Notice]:
    """Notices for the staff chat not yet posted, oldest first (`core.outbox` queues the
    mail ones: `mail_failing`, `mail_recovered`)."""
    return await notices.pending(db)


async def notice_posted(db: Queryable, notice: notices.Notice, now: float) -> None:
    """The notice is in the staff chat."""
    await notices.mark_sent(db, notice.id, now)


# --- answering ------------------------------------------------------------------------


@dataclass(frozen=True)
class Answered:
    """Where a staff answer went."""

    ticket: store.Ticket
    number: str
    via: str  # mail | telegram
    recipient: str | None  # the address, for mail
    mail_message_id: str | None  # our mail's Message-ID, for mail


def clean_text(text: str) -> str:
    """The clerk's text without trailing spaces and surrounding blank lines."""
    return "\n".join(line.rstrip() for line in text.replace("\r\n", "\n").split("\n")).strip()


def reply_subject(subject: str) -> str:
    """`Re: <the customer's subject>` without our tags or piled-up reply prefixes, cut at a
    word when long (`core.mail.answer_subject`)."""
    bare = _REPLY_PREFIX.sub("", untagged_subject(subject)).strip()
    return answer_subject(f"Re: {bare}") if bare else mail_subject("answer_untitled")


async def _mail_thread(
    db: Queryable, ticket: store.Ticket
) -> tuple[str | None, list[str], str | None]:
    """(In-Reply-To, the parent's References, the sender's display name) for an answer.

    The parent is the customer's newest mail. Its own References come from the
    stored raw mail (RFC 5322: the parent's References, then the parent); when
    the raw is not kept, the thread's earlier Message-IDs stand in.
    """
    parent = await store.latest_customer_mail(db, ticket.id)
    if parent is None or is_stand_in(parent.message_id):
        known = [i for i in await store.mail_message_ids(db, ticket.id) if not is_stand_in(i)]
        return None, known, None
    if parent.raw is not None:
        try:
            mail = parse_mail(parent.raw)
        except MailParseError:
            mail = None
        if mail is not None:
            # A web form's mail: the Reply-To person is greeted, not the form's robot.
            return parent.message_id, parent_references(mail), mail_owner(mail)[1] or None
    earlier = []
    for msg_id in await store.mail_message_ids(db, ticket.id):
        if msg_id == parent.message_id:
            break
        if not is_stand_in(msg_id):
            earlier.append(msg_id)
    return parent.message_id, earlier, None


async def answer(
    db: Database,
    settings: HasMailFrom,
    number: int,
    text: str,
    *,
    actor: str,
    once: str | None = None,
    now: float,
) -> Answered:
    """Send the clerk's answer the way the customer wrote last, and keep it in the ticket.

    Mail: queued in the outbox in the same transaction as the ticket message,
    threaded to the customer's newest mail. Telegram: queued for the
    customer's chat (the bot's announcer delivers it). The ticket stays open.
    The message `once` (a clerk's in the staff chat) answers once: handled
    again, it is told where its answer went, and the customer gets it once.
    """
    async with db.transaction() as tx:
        return await answer_in(tx, settings, number, text, actor=actor, once=once, now=now)


async def answer_in(
    tx: Queryable,
    settings: HasMailFrom,
    number: int,
    text: str,
    *,
    actor: str,
    once: str | None = None,
    now: float,
) -> Answered:
    """`answer` inside the caller's transaction (a canned draft is used up in the same one)."""
    text = clean_text(text)
    label = ticket_number(number)
    if not text:
        raise StaffError(StaffError.EMPTY, label)
    ticket = await find(tx, number)
    label = ticket_number(ticket.id)  # a merged ticket's number answers the one it joined
    sent = await journal.done(tx, once, "answered")
    if sent is not None:
        return Answered(ticket, label, sent["via"], sent["to"], sent["message_id"])
    if await way_back(tx, ticket) == "mail":
        result = await _answer_by_mail(tx, settings, ticket, label, text, now)
        details = f"by mail {result.mail_message_id}"
    else:
        result = await _answer_in_chat(tx, ticket, label, text, now)
        details = "to the customer's Telegram chat"
    await store.add_message(
        tx,
        ticket.id,
        direction="out",
        author=actor,
        body=text,
        new_text=text,
        mail_message_id=result.mail_message_id,
        inbound_mail_id=None,
        now=now,
    )
    await audit.record(
        tx, now, actor, "ticket_answered", label, f"{details}, {len(text)} characters"
    )
    await journal.record(
        tx,
        once,
        "answered",
        now,
        via=result.via,
        to=result.recipient,
        message_id=result.mail_message_id,
    )
    return result


async def way_back(db: Queryable, ticket: store.Ticket) -> str:
    """How an answer goes (`mail` or `telegram`): the way the customer wrote last, when the
    ticket knows that way back (two tickets merged may know both); else the way the
    report came."""
    last = await desk_store.last_customer_way(db, ticket.id)
    if last == "mail" and ticket.email:
        return "mail"
    if last == "telegram" and ticket.telegram_chat_id is not None:
        return "telegram"
    return "mail" if ticket.channel == "mail" else "telegram"


async def _answer_by_mail(
    tx: Queryable, settings: HasMailFrom, ticket: store.Ticket, label: str, text: str, now: float
) -> Answered:
    """Queue the answer as a mail threaded under the customer's newest mail."""
    if len(text) > MAX_MAIL_ANSWER:
        raise StaffError(StaffError.TOO_LONG, label, MAX_MAIL_ANSWER)
    if not ticket.email:
        raise StaffError(StaffError.NO_ADDRESS, label)
    in_reply_to, references, name = await _mail_thread(tx, ticket)
    if ticket.customer_id:
        customer = await billing.get_customer(tx, ticket.customer_id)
        name = customer.name if customer else name
    queued = await queue_mail(
        tx,
        settings,
        kind="answer",
        to=ticket.email,
        subject=reply_subject(ticket.subject),
        template="answer",
        context={"marker": REPLY_ABOVE_MARKER, "name": name, "text": text, "ticket_number": label},
        ticket_number=label,
        ticket_id=ticket.id,
        in_reply_to=in_reply_to,
        references=references,
        now=now,
    )
    return Answered(ticket, label, "mail", ticket.email, queued.message_id)


async def _answer_in_chat(
    tx: Queryable, ticket: store.Ticket, label: str, text: str, now: float
) -> Answered:
    """Queue the answer for the customer's Telegram chat."""
    if len(text) > MAX_TELEGRAM_ANSWER:
        raise StaffError(StaffError.TOO_LONG, label, MAX_TELEGRAM_ANSWER)
    if ticket.telegram_chat_id is None:
        raise StaffError(StaffError.NO_ADDRESS, label)
    await store.queue_telegram_answer(tx, ticket.id, ticket.telegram_chat_id, text, now)
    return Answered(ticket, label, "telegram", None, None)


# --- closing and reopening ------------------------------------------------------------


@dataclass(frozen=True)
class Changed:
    """A ticket after close/reopen; `changed` False when it already was so."""

    ticket: store.Ticket
    number: str
    changed: bool


async def _set_status(
    db: Database,
    number: int,
    status: str,
    action: str,
    *,
    actor: str,
    once: str | None,
    now: float,
) -> Changed:
    async with db.transaction() as tx:
        ticket = await find(tx, number)
        if await journal.done(tx, once, action) is not None:  # this message changed it
            return Changed(ticket, ticket_number(number), True)
        if ticket.status == status:
            return Changed(ticket, ticket_number(number), False)
        await store.set_status(tx, ticket.id, status, now)
        await audit.record(tx, now, actor, action, ticket_number(number))
        await journal.record(tx, once, action, now)
        if status == "closed":  # how did we do? (issue 17): the bot offers a rating
            await ratings.offer(tx, ticket, now)
        current = await store.get(tx, ticket.id)
    assert current is not None
    return Changed(current, ticket_number(number), True)


async def close(
    db: Database, number: int, *, actor: str, once: str | None = None, now: float
) -> Changed:
    """Close a ticket (a customer's further message reopens it); the message `once` that
    closed it is told so again, not that it was closed already."""
    return await _set_status(db, number, "closed", "ticket_closed", actor=actor, once=once, now=now)


async def reopen(
    db: Database, number: int, *, actor: str, once: str | None = None, now: float
) -> Changed:
    """Reopen a closed ticket (told so again to the message `once` that reopened it)."""
    return await _set_status(db, number, "open", "ticket_reopened", actor=actor, once=once, now=now)


# --- delivering Telegram answers (the bot's announcer calls these) -----------------------

TelegramAnswer = store.TelegramAnswer


async def due_telegram_answers(db: Queryable, now: float) -> list[store.TelegramAnswer]:
    """Staff answers due for customers' Telegram chats, oldest first."""
    return await store.due_telegram_answers(db, now)


async def telegram_answer_delivered(
    db: Database, item: store.TelegramAnswer, message_id: int, now: float
) -> None:
    """The answer is in the customer's chat; the customer's reply to it joins the ticket."""
    async with db.transaction() as tx:
        await store.add_customer_post(tx, item.chat_id, message_id, item.ticket_id)
        await store.telegram_answer_sent(tx, item.id, message_id, now)


async def telegram_answer_failed(
    db: Database, item: store.TelegramAnswer, error: str, *, permanent: bool, now: float
) -> bool:
    """Count a failed delivery; True when it is given up (blocked bot, or too many tries).

    Retries back off like the mail outbox (30 s doubling, at most an hour).
    """
    attempts = item.attempts + 1
    give_up = permanent or attempts >= MAX_ATTEMPTS
    retry_at = None if give_up else now + next_delay(attempts)
    async with db.transaction() as tx:
        await store.telegram_answer_failed(tx, item.id, error[:500], retry_at)
        if give_up:
            await audit.record(
                tx, now, "system", "answer_undelivered", ticket_number(item.ticket_id), error[:200]
            )
    return give_up


# --- the audit trail ------------------------------------------------------------------------


async def audit_trail(
    db: Queryable, *, since: float | None = None, actor: str | None = None
) -> list[audit.AuditEntry]:
    """Audit entries oldest first, from a moment on and/or of one actor (all of them)."""
    return await audit.entries(db, since, actor, limit=-1)


# --- the answer deadline, as every door words it ------------------------------------------


class Due(StrEnum):
    """Which case a ticket's answer deadline is in; the staff chat and the command line
    each word it in their own language, from this one decision."""

    CLOSED = "closed"  # a closed ticket has no deadline
    OVERDUE = "overdue"  # the deadline has passed
    TODAY = "today"  # the deadline is later today (Budapest)
    DAYS_LEFT = "days_left"  # `Summary.days_left` (1 or more) calendar days to go


def due(summary: Summary) -> Due:
    """The case of the ticket's answer deadline (with DAYS_LEFT, `summary.days_left` days)."""
    if summary.closed:
        return Due.CLOSED
    if summary.overdue:
        return Due.OVERDUE
    if summary.days_left <= 0:
        return Due.TODAY
    return Due.DAYS_LEFT

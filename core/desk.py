"""The clerk's desk (issue 17): linking a sender, internal notes, taking and handing over.

The staff chat (`bot/desk.py`) and the command line (`tickets link|note|take|assign`)
call these, so both follow one set of rules and leave one audit trail:

- `link`: name the customer of a ticket whose sender is unknown (`ticket_linked`);
- `add_note`, `edit_note`: notes only staff see, editable by their author
  (`note_added`, `note_edited`; never the note's text). A note is kept apart from
  the ticket's messages, so no answer, mail or chat delivery can carry it;
- `take`, `assign`, `release`: who holds a ticket (`ticket_taken`,
  `ticket_assigned`, `ticket_released`); the holder is named in the list and told in
  the staff chat when the customer writes again (the announcement names them);
- `member_seen`, `find_member`: the staff members the bot has met, so that
  `@kata` names Kata; `cli_clerk`: the command line's clerk, `cli:<OS user>` as in the
  audit, who can take a ticket (`tickets take`) and be handed one (`cli:anna`);
- `search`: tickets by number, customer ID, address or words (SQLite FTS5), newest first;
- `merge`: two tickets about the same thing become the older one (`tickets_merged`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from core import journal
from core.db import Database, Queryable
from core.formats import parse_customer_id
from core.paging import window
from core.staff import StaffError, Summary, find, holder_name, summarise
from core.tickets import marked_as_ticket_number, parse_ticket_number, ticket_number
from storage import audit, billing
from storage import desk as store
from storage import tickets as tickets_store
from storage.tickets import Ticket

MAX_NOTE = 3000  # characters: a note is shown in the thread, which must fit one message

Member = store.Member
Note = store.Note


class DeskError(StaffError):
    """A desk request that cannot be done (`kind`, worded by the door)."""

    BAD_CUSTOMER = "bad_customer"  # not a customer ID (U1234)
    NO_CUSTOMER = "no_customer"  # no such customer in the billing data
    NO_NOTE = "no_note"  # no such note
    NOT_AUTHOR = "not_author"  # only a note's author edits it
    NO_MEMBER = "no_member"  # no staff member by that name
    NOT_STAFF = "not_staff_member"  # the named person is not staff
    NO_CANNED = "no_canned"  # no canned answer by that name (`detail`)
    BROKEN_CANNED = "broken_canned"  # the operator's template does not render (`detail`)
    NO_DRAFT = "no_draft"  # no such filled canned answer
    DRAFT_DROPPED = "draft_dropped"  # a clerk chose Mégse on it (`detail`: who)
    DRAFT_SENT = "draft_sent"  # it went already, as it was or changed (`detail`: who)
    EMPTY_SEARCH = "empty_search"  # nothing to search for
    ALREADY_MERGED = "already_merged"  # the ticket was merged into another (`detail`)
    SAME_TICKET = "same_ticket"  # a ticket cannot be merged with itself

    def __init__(
        self, kind: str, number: str, limit: int | None = None, detail: str | None = None
    ) -> None:
        super().__init__(kind, number, limit)
        self.detail = detail


# --- the customer of an unknown sender ------------------------------------------------------


@dataclass(frozen=True)
class Linked:
    ticket: Ticket
    number: str
    customer_id: str
    name: str
    previous: str | None  # the customer it was linked to before, if any


async def link(db: Database, number: int, customer: str, *, actor: str, now: float) -> Linked:
    """Link the ticket to a customer ID (audited `ticket_linked`, with the previous one)."""
    label = ticket_number(number)
    try:
        customer_id = parse_customer_id(customer, lenient=True)
    except ValueError:
        raise DeskError(DeskError.BAD_CUSTOMER, label) from None
    async with db.transaction() as tx:
        ticket = await find(tx, number)
        known = await billing.get_customer(tx, customer_id)
        if known is None:
            raise DeskError(DeskError.NO_CUSTOMER, label)
        await store.link_customer(tx, ticket.id, customer_id, now)
        details = customer_id + (f" (was {ticket.customer_id})" if ticket.customer_id else "")
        await audit.record(tx, now, actor, "ticket_linked", label, details)
        current = await find(tx, number)
    return Linked(current, label, customer_id, known.name, ticket.customer_id)


# --- internal notes ---------------------------------------------------------------------------


def _note_text(text: str, label: str) -> str:
    body = "\n".join(line.rstrip() for line in text.replace("\r\n", "\n").split("\n")).strip()
    if not body:
        raise DeskError(DeskError.EMPTY, label)
    if len(body) > MAX_NOTE:
        raise DeskError(DeskError.TOO_LONG, label, MAX_NOTE)
    return body


async def add_note(
    db: Database,
    number: int,
    text: str,
    *,
    actor: str,
    author_name: str,
    once: str | None = None,
    now: float,
) -> Note:
    """Add a note only staff see (audited `note_added`, without its text); the message
    `once` adds it once, however often it is handled."""
    label = ticket_number(number)
    body = _note_text(text, label)
    async with db.transaction() as tx:
        ticket = await find(tx, number)
        added = await journal.done(tx, once, "note_added")
        if added is not None:
            note_id = int(added["note"])
        else:
            note_id = await store.add_note(
                tx, ticket.id, author=actor, author_name=author_name, body=body, now=now
            )
            await audit.record(tx, now, actor, "note_added", label, f"note {note_id}")
            await journal.record(tx, once, "note_added", now, note=note_id)
        note = await store.note(tx, note_id)
    assert note is not None
    return note


async def edit_note(db: Database, note_id: int, text: str, *, actor: str, now: float) -> Note:
    """Replace a note's text; only its author may (audited `note_edited`)."""
    async with db.transaction() as tx:
        note = await store.note(tx, note_id)
        if note is None:
            raise DeskError(DeskError.NO_NOTE, str(note_id))
        label = ticket_number(note.ticket_id)
        if note.author != actor:
            raise DeskError(DeskError.NOT_AUTHOR, label)
        body = _note_text(text, label)
        await store.edit_note(tx, note_id, body, now)
        await audit.record(tx, now, actor, "note_edited", label, f"note {note_id}")
        edited = await store.note(tx, note_id)
    assert edited is not None
    return edited


# --- staff members, and who holds a ticket -------------------------------------------------------


async def member_seen(
    db: Queryable, user_id: int, username: str | None, name: str, now: float
) -> None:
    """Remember a staff member's name and @name as Telegram shows them now."""
    await store.seen_member(db, user_id, username, name, now)


CLI_PREFIX = "cli:"  # a command-line clerk's @name: never a Telegram one (letters, digits, _)


def is_cli_clerk(member: Member) -> bool:
    """A clerk of the command line (a negative id), not a Telegram user."""
    return member.user_id < 0


async def cli_clerk(db: Database, os_user: str, now: float) -> Member:
    """The command line's clerk as a staff member: `cli:<OS user>`, the same name the
    audit gives them (`core.staff.cli_actor`), shown as `anna (parancssor)`."""
    async with db.transaction() as tx:
        return await store.cli_member(tx, f"{CLI_PREFIX}{os_user}", f"{os_user} (parancssor)", now)


async def find_member(db: Queryable, who: str, staff_ids: frozenset[int], label: str) -> Member:
    """The staff member `@kata` or `9002` names (one the bot has met, or a staff id), or
    `cli:anna`, a clerk who has taken a ticket at the command line."""
    who = who.strip()
    if who.lstrip("@").isdigit() and len(who) <= 15:
        user_id = int(who.lstrip("@"))
        if user_id not in staff_ids:
            raise DeskError(DeskError.NOT_STAFF, label, detail=who)
        found = await store.member(db, user_id)
        return found or Member(user_id, None, f"#{user_id}", 0.0)
    found = await store.member_by_username(db, who.lstrip("@")) if who.lstrip("@") else None
    if found is None:
        raise DeskError(DeskError.NO_MEMBER, label, detail=who)
    # Whoever runs the command line on the service's database is staff by that alone.
    if found.user_id not in staff_ids and not is_cli_clerk(found):
        raise DeskError(DeskError.NOT_STAFF, label, detail=who)
    return found


@dataclass(frozen=True)
class Held:
    """A ticket after take/assign/release."""

    ticket: Ticket
    number: str
    holder: str | None  # the new holder's name; None: released
    previous: str | None  # the holder before, if any
    changed: bool


async def _hold(
    db: Database, number: int, holder_id: int | None, action: str, *, actor: str, now: float
) -> Held:
    label = ticket_number(number)
    async with db.transaction() as tx:
        ticket = await find(tx, number)
        before = await store.member(tx, ticket.holder_id) if ticket.holder_id else None
        previous = holder_name(before, ticket.holder_id)
        after = await store.member(tx, holder_id) if holder_id is not None else None
        if ticket.holder_id == holder_id:
            return Held(ticket, label, holder_name(after, holder_id), previous, False)
        await store.set_holder(tx, ticket.id, holder_id, now)
        details = f"to {holder_id}" if holder_id is not None else ""
        if ticket.holder_id is not None:
            details += f" (was {ticket.holder_id})"
        await audit.record(tx, now, actor, action, label, details.strip())
        current = await find(tx, number)
    return Held(current, label, holder_name(after, holder_id), previous, True)


async def take(db: Database, number: int, user_id: int, *, actor: str, now: float) -> Held:
    """The staff member `user_id` takes the ticket (audited `ticket_taken`)."""
    return await _hold(db, number, user_id, "ticket_taken", actor=actor, now=now)


async def assign(
    db: Database,
    number: int,
    who: str,
    *,
    staff_ids: frozenset[int],
    actor: str,
    now: float,
) -> Held:
    """Hand the ticket to the staff member `who` names (audited `ticket_assigned`)."""
    member = await find_member(db, who, staff_ids, ticket_number(number))
    return await _hold(db, number, member.user_id, "ticket_assigned", actor=actor, now=now)


async def release(db: Database, number: int, *, actor: str, now: float) -> Held:
    """Nobody holds the ticket any more (audited `ticket_released`)."""
    return await _hold(db, number, None, "ticket_released", actor=actor, now=now)


# --- search ---------------------------------------------------------------------------------------

SEARCH_PER_PAGE = 10
# A customer ID as clerks type it: U0027, u27, U-27 (the chat reads it so too).
_CUSTOMER_ID = re.compile(r"^[Uu][-\s]?(\d{1,4})$")
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Found:
    """One page of a search's tickets, newest first (`page` counts from 0)."""

    query: str
    by: str  # number | customer_id | email | words
    items: list[Summary]
    page: int
    pages: int
    total: int


def _fts_query(words: list[str]) -> str:
    """Every word, each as a prefix (`"viz"*` finds "vízóra"), quoted so none is an operator."""
    return " ".join('"' + word.replace('"', '""') + '"*' for word in words)


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def search(
    db: Queryable,
    query: str,
    *,
    answer_days: int,
    now: float,
    page: int = 0,
    per_page: int = SEARCH_PER_PAGE,
) -> Found:
    """Tickets by number (`PK-000123`, `#123`), customer ID (`U1234`), e-mail address, or
    words of their text, subject or customer's name; newest first, a page at a time."""
    text = " ".join(query.split())
    if not text:
        raise DeskError(DeskError.EMPTY_SEARCH, "")
    number = parse_ticket_number(text) if marked_as_ticket_number(text) else None
    if number is not None:
        kept = await tickets_store.get(db, number)  # a merged number finds the one it joined
        target = kept.id if kept else number
        by, found = "number", store.search_by(db, "id", target, page * per_page, per_page)
    elif customer := _CUSTOMER_ID.match(text):
        by = "customer_id"
        canonical = f"U{int(customer[1]):04d}"
        found = store.search_by(db, "customer_id", canonical, page * per_page, per_page)
    elif "@" in text and " " not in text:
        by, found = "email", store.search_by(db, "email", text, page * per_page, per_page)
    else:
        words = _WORD.findall(text)
        if not words:
            raise DeskError(DeskError.EMPTY_SEARCH, "")
        by = "words"
        found = store.search_words(db, _fts_query(words), _like(text), page * per_page, per_page)
    tickets, total = await found
    shown = window(total, per_page, page)
    if shown.page != page and total:  # past the end: the last page
        return await search(
            db, query, answer_days=answer_days, now=now, page=shown.page, per_page=per_page
        )
    items = [await summarise(db, t, answer_days=answer_days, now=now) for t in tickets]
    return Found(text, by, items, shown.page, shown.pages, total)


# --- merging two tickets about the same thing -----------------------------------------------------


@dataclass(frozen=True)
class Merged:
    """Two tickets made one: `kept` (the older number) holds both threads now."""

    kept: Ticket
    number: str  # the kept ticket's
    gone: str  # the newer ticket's number, closed and pointing to the kept one


async def merge(db: Database, first: int, second: int, *, actor: str, now: float) -> Merged:
    """Join two tickets into the older one (audited `tickets_merged`): its number stays;
    the newer one's messages, notes, files and posts move there in time order, and the
    customer's later replies to either number land in it."""
    async with db.transaction() as tx:
        found = []
        for number in (first, second):
            ticket = await tickets_store.get(tx, number, follow=False)
            if ticket is None:
                raise DeskError(DeskError.NOT_FOUND, ticket_number(number))
            if ticket.merged_into is not None:
                raise DeskError(
                    DeskError.ALREADY_MERGED,
                    ticket_number(number),
                    detail=ticket_number(ticket.merged_into),
                )
            found.append(ticket)
        if found[0].id == found[1].id:
            raise DeskError(DeskError.SAME_TICKET, ticket_number(first))
        keep, gone = sorted(found, key=lambda t: (t.created_at, t.id))
        await store.merge_tickets(tx, keep, gone, now)
        label, gone_label = ticket_number(keep.id), ticket_number(gone.id)
        await audit.record(tx, now, actor, "tickets_merged", label, f"{gone_label} joined it")
        kept = await find(tx, keep.id)
    return Merged(kept, label, gone_label)

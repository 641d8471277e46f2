"""`tickets list|show|reply|close|reopen|attachment`: the staff chat's work, without Telegram.

The same core.staff calls as the staff chat, so the same rules and audit; the
actor is `cli:<the OS user>`. Output is for operators, in English; whatever a
customer wrote (subject, text, name, address) is printed through
`cli.common.printable`, so it cannot drive the operator's terminal.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cli.common import (
    REFUSED,
    Subparsers,
    database_busy,
    error,
    os_user,
    printable,
    program,
)
from core.config import Settings

if TYPE_CHECKING:
    from datetime import date

    from core.attachments import TicketFile
    from core.canned import Caution
    from core.db import Database
    from core.staff import Answered, Summary, Thread

# A StaffError's kind, worded for the operator; an unknown kind is shown as it is.
STAFF_ERRORS = {
    "not_found": "error: no ticket {number}",
    "empty": "error: the answer is empty",
    "too_long": "error: the answer is too long for {number}'s channel (at most {limit} characters)",
    "no_address": "error: {number} has no address to answer to",
    "bad_customer": "error: not a customer ID (use U1234)",
    "no_customer": "error: no such customer in the billing data; {number} was not linked",
    "no_note": "error: no note {number}",
    "not_author": "error: only its author may edit this note of {number}",
    "no_member": "error: no staff member {detail}: the bot learns a colleague's @name when "
    "they first use a staff command in the staff chat (e.g. /tickets). Until then give their "
    "Telegram user ID (one of PETKOMM_STAFF_IDS), or let them take it themselves: /take "
    "{number} in the staff chat, or `{program} tickets take {number}` at the command line "
    "(then it is cli:<their user name>)",
    "not_staff_member": "error: {detail} is not a staff member (PETKOMM_STAFF_IDS)",
    "no_canned": "error: no canned answer {detail!r} (see: tickets canned)",
    "broken_canned": "error: the canned answer cannot be filled: {detail}",
    "already_merged": "error: {number} was already merged into {detail}",
    "same_ticket": "error: a ticket cannot be merged with itself",
}


# Dates, moments and amounts as the staff chat's and the customers' texts write them
# (core.formats, core.accounts.local_time): `2026. 01. 20.`, `2026. 01. 20. 14:30`,
# `\u22122545 Ft` (the minus sign); only the no-break spaces become plain ones for the terminal.
def _ft(amount: int) -> str:
    from core.formats import format_amount

    return format_amount(amount).replace("\u00a0", " ")


def _day(value: date | str) -> str:
    from core.formats import format_date

    return format_date(value)


def _when(moment: float) -> str:
    from core.accounts import local_time

    return local_time(moment)


DESK_ACTIONS = ("link", "note", "note-edit", "take", "assign", "release", "merge")
SUBJECT_WIDTH = 50
CUSTOMER_WIDTH = 30
# Why a file was not kept (core.attachments), worded for the operator.
WITHHELD = {
    "program": "a program, withheld for safety",
    "too_big": "too big",
    "too_many": "too many files in one mail",
}


def register(sub: Subparsers) -> None:
    """Add `tickets` and its actions to the subcommands."""
    p = sub.add_parser(
        "tickets",
        help="list, show, answer, close and reopen tickets",
        description="The staff chat's work from the command line, with the same rules "
        "and audit (actor cli:<your user name>). N is a ticket number: 123 or PK-000123.",
    )
    t_sub = p.add_subparsers(dest="tickets_command", required=True, metavar="ACTION")
    t = t_sub.add_parser(
        "list",
        help="open tickets, oldest first",
        description="Open tickets oldest first, with age and answer deadline "
        "(PETKOMM_ANSWER_DAYS; ! marks 3 days or less, or past).",
    )
    t.add_argument("--all", action="store_true", help="closed tickets too")
    mine = t.add_mutually_exclusive_group()
    mine.add_argument(
        "--holder",
        metavar="WHO",
        help="only the open tickets WHO (@name, user ID, or cli:NAME) holds",
    )
    mine.add_argument(
        "--mine", action="store_true", help="only the open tickets you took (tickets take)"
    )
    t = t_sub.add_parser("show", help="a ticket's whole thread", description="Print a thread.")
    t.add_argument("number", metavar="N")
    t = t_sub.add_parser(
        "reply",
        help="answer the customer",
        description="Answer the way the report came: a threaded mail through the outbox, "
        "or a message the bot delivers to the customer's Telegram chat. "
        "The ticket stays open.",
    )
    t.add_argument("number", metavar="N")
    source = t.add_mutually_exclusive_group(required=True)
    source.add_argument("--text", metavar="T", help="the answer")
    source.add_argument("--file", metavar="F", help="read the answer from F (UTF-8; - is stdin)")
    source.add_argument(
        "--canned",
        metavar="NAME",
        help="a canned answer filled for the ticket (`tickets canned` lists them): shown, "
        "then sent after you say yes, or changed in $EDITOR first",
    )
    t.add_argument("--yes", action="store_true", help="with --canned: send without asking")
    t = t_sub.add_parser(
        "canned",
        help="list the canned answers",
        description="The canned answers (PETKOMM_CANNED_DIR, or the shipped ones), by name.",
    )
    t = t_sub.add_parser("close", help="close a ticket", description="Close a ticket.")
    t.add_argument("number", metavar="N")
    t = t_sub.add_parser("reopen", help="reopen a ticket", description="Reopen a ticket.")
    t.add_argument("number", metavar="N")
    t = t_sub.add_parser(
        "attachment",
        help="save a file that came with a ticket",
        description="Save the ticket's file number n (as `tickets show N` lists them) to FILE; "
        "without --out, under its own name in the current folder (never overwriting). "
        "Audited as attachment_opened.",
    )
    t.add_argument("number", metavar="N")
    t.add_argument("position", metavar="n", type=_position, help="the file's number in the ticket")
    t.add_argument("--out", metavar="FILE", help="where to write it (- is standard output)")
    _register_desk(t_sub)
    p.set_defaults(func=cmd_tickets)


def _register_desk(t_sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The clerk's desk (issue 17): link, note, note-edit, assign, release."""
    t = t_sub.add_parser(
        "link",
        help="link a ticket to a customer ID",
        description="Name the customer of a ticket whose sender is unknown (audited "
        "ticket_linked); `tickets show N` then shows the customer beside it.",
    )
    t.add_argument("number", metavar="N")
    t.add_argument("customer", metavar="CUSTOMER_ID", help="U1234")
    t = t_sub.add_parser(
        "note",
        help="add an internal note (only staff see it)",
        description="Add a note to the ticket's thread that only staff see; it is never "
        "sent to the customer. Audited note_added (without the text).",
    )
    t.add_argument("number", metavar="N")
    source = t.add_mutually_exclusive_group(required=True)
    source.add_argument("--text", metavar="T", help="the note")
    source.add_argument("--file", metavar="F", help="read the note from F (UTF-8; - is stdin)")
    t = t_sub.add_parser(
        "note-edit",
        help="change the text of a note you wrote",
        description="Replace note ID's text (as `tickets show` numbers notes); only its "
        "author may. Audited note_edited.",
    )
    t.add_argument("number", metavar="ID", help="the note's number")
    source = t.add_mutually_exclusive_group(required=True)
    source.add_argument("--text", metavar="T", help="the new text")
    source.add_argument("--file", metavar="F", help="read it from F (UTF-8; - is stdin)")
    t = t_sub.add_parser(
        "take",
        help="take a ticket: you hold it",
        description="You hold the ticket: the lists name you (cli:<your user name>, as the "
        "audit does), `tickets list --mine` shows yours, and colleagues can hand you one "
        "with `tickets assign N cli:<your user name>` (or /assign in the staff chat). Being "
        "at the command line, you are not told in the staff chat when the customer writes "
        "again. Audited ticket_taken.",
    )
    t.add_argument("number", metavar="N")
    t = t_sub.add_parser(
        "assign",
        help="hand a ticket to a staff member",
        description="The staff member WHO (@name as Telegram shows it, known once they have "
        "used a staff command in the staff chat, or a Telegram user ID in PETKOMM_STAFF_IDS, "
        "or cli:NAME, a clerk who took a ticket at the command line) holds the ticket; they "
        "are told in the staff chat when the customer writes again. Audited ticket_assigned.",
    )
    t.add_argument("number", metavar="N")
    t.add_argument("who", metavar="WHO", help="@name, a staff Telegram user ID, or cli:NAME")
    t = t_sub.add_parser(
        "release", help="nobody holds the ticket", description="Nobody holds the ticket now."
    )
    t.add_argument("number", metavar="N")
    t_sub.add_parser(
        "digest",
        help="the morning digest, now",
        description="What the staff chat's morning digest would say now: tickets past their "
        "deadline, due within 3 days, waiting more than a day for an answer, and the median "
        "and 90th percentile of the time to a first answer over the last 30 days.",
    )
    t = t_sub.add_parser(
        "merge",
        help="make two tickets one",
        description="Two tickets about the same thing (the same customer by chat and by mail) "
        "become the older one: its number stays, the threads join in time order, and the "
        "customer's later replies to either number land in it. Audited tickets_merged.",
    )
    t.add_argument("number", metavar="N")
    t.add_argument("other", metavar="M")
    t = t_sub.add_parser(
        "search",
        help="find tickets",
        description="Tickets by number (PK-000123, #123), customer ID (U1234), e-mail address, "
        "the customer's name or words of the text and subject (accents optional: viz finds "
        "víz), newest first, a page at a time.",
    )
    t.add_argument("query", metavar="WORD", nargs="+")
    t.add_argument("--page", type=_position, default=1, help="which page (from 1)")


@dataclass(frozen=True)
class Clerk:
    """Who acts, on which database, with which settings, at which moment."""

    db: Database
    settings: Settings
    actor: str
    now: float


async def cmd_tickets(args: argparse.Namespace, settings: Settings) -> int:
    """Check the arguments, then run the action; a refused action is one line and exit 1."""
    import time

    from core import staff
    from core.attachments import AttachmentError
    from core.db import DatabaseBusy, open_database
    from core.staff import StaffError
    from core.tickets import parse_ticket_number, small_number

    action = args.tickets_command
    number = None
    if action == "canned":
        return _list_canned(settings)
    if action == "digest":
        return await _digest(settings)
    if action == "search":
        return await _search(settings, " ".join(args.query), args.page)
    if action == "note-edit":
        number = small_number(args.number)
        if number is None:
            return error(f"error: not a note number: {args.number!r}")
    elif action != "list":
        number = parse_ticket_number(args.number)
        if number is None:
            return error(f"error: not a ticket number: {args.number!r} (use 123 or PK-000123)")
    text = None
    if action in ("reply", "note", "note-edit") and getattr(args, "canned", None) is None:
        text, problem = _answer_text(args)
        if problem:
            return error(problem)
    db = await open_database(settings.db_path, create=False)
    try:
        clerk = Clerk(db, settings, staff.cli_actor(os_user()), time.time())
        if number is None:
            holder = staff.cli_actor(os_user()) if args.mine else args.holder
            await _list(clerk, include_closed=args.all, holder=holder, mine=args.mine)
        elif action in DESK_ACTIONS:
            await _desk(clerk, action, number, args, text)
        elif action == "show":
            await _show(clerk, number)
        elif action == "reply" and args.canned is not None:
            return await _reply_canned(clerk, number, args.canned, ask=not args.yes)
        elif action == "reply":
            await _reply(clerk, number, text or "")
        elif action == "attachment":
            return await _attachment(clerk, number, args.position, args.out)
        else:
            await _close_or_reopen(clerk, number, close=action == "close")
    except StaffError as refused:
        message = STAFF_ERRORS.get(refused.kind, "error: {number}: " + refused.kind)
        detail = getattr(refused, "detail", None)
        return error(
            message.format(
                number=refused.number, limit=refused.limit, detail=detail, program=program()
            ),
            REFUSED,
        )
    except AttachmentError as refused:
        return error(_attachment_error(refused), REFUSED)
    except DatabaseBusy:
        # One transaction each: a write that gave up changed nothing, the answer included.
        what = {"reply": "the answer was not saved"}.get(action, "nothing was changed")
        return error(f"error: {database_busy(settings, what)}", REFUSED)
    finally:
        await db.close()
    return 0


# --- the actions ------------------------------------------------------------------------


async def _list(
    clerk: Clerk, *, include_closed: bool, holder: str | None = None, mine: bool = False
) -> None:
    """Every open (or every) ticket, oldest first, fetched page by page (with `holder`,
    only the open tickets that staff member holds; `mine`: the clerk's own)."""
    from core import desk, staff

    answer_days = clerk.settings.answer_days
    holder_id = None
    if holder is not None:
        try:
            member = await desk.find_member(clerk.db, holder, clerk.settings.staff_ids, "")
        except desk.DeskError:
            if not mine:
                raise
            member = desk.Member(0, None, "", 0.0)  # never took one: holds nothing
        holder_id = member.user_id
    items: list[Summary] = []
    page = 0
    while True:
        listing = await staff.list_tickets(
            clerk.db,
            answer_days=answer_days,
            now=clerk.now,
            page=page,
            per_page=200,
            include_closed=include_closed,
            holder_id=holder_id,
        )
        items += listing.items
        page += 1
        if page >= listing.pages:
            break
    kind = "Tickets" if include_closed else "Open tickets"
    if holder is not None:
        kind = f"Open tickets held by {printable(holder)}"
    if mine:
        kind = f"Your open tickets ({printable(holder or '')})"
    print(
        f"{kind}: {listing.total} (oldest first; answer within {answer_days} days; "
        f"! = {staff.WARN_DAYS} days or less)"
    )
    if items:
        print(
            f"{'TICKET':<9}  {'AGE':>4}  {'  DEADLINE':<32} {'CHANNEL':<8}  "
            f"{'CUSTOMER':<30}  SUBJECT"
        )
    for s in items:
        subject = ("URGENT: " if s.ticket.urgent else "") + printable(s.subject)
        if len(subject) > SUBJECT_WIDTH:
            subject = subject[: SUBJECT_WIDTH - 1] + "…"
        customer = _customer(s)
        if len(customer) > CUSTOMER_WIDTH:
            customer = customer[: CUSTOMER_WIDTH - 1] + "…"
        held = f"  [{printable(s.holder)}]" if s.holder else ""
        rated = f"  [rated {s.stars}/5]" if s.stars else ""
        if s.ticket.merged_into is not None:
            rated += f"  [merged into {_label(s.ticket.merged_into)}]"
        print(
            f"{s.number}  {_age(s):>4}  {_deadline(s):<32} {s.channel:<8}  "
            f"{customer:<{CUSTOMER_WIDTH}}  {subject}{held}{rated}"
        )


async def _show(clerk: Clerk, number: int) -> None:
    """Print the whole thread (audited as viewed)."""
    from core import staff
    from core.attachments import files_of

    view = await staff.thread(
        clerk.db,
        number,
        answer_days=clerk.settings.answer_days,
        actor=clerk.actor,
        now=clerk.now,
    )
    _print_thread(view)
    _print_files(view.summary.number, await files_of(clerk.db, view.summary.ticket.id))


async def _attachment(clerk: Clerk, number: int, position: int, out: str | None) -> int:
    """Write one of the ticket's files where asked (audited); 0, or 1 when it cannot."""
    from core.attachments import open_file
    from core.tickets import ticket_number

    opened = await open_file(clerk.db, number, position, actor=clerk.actor, now=clerk.now)
    file = opened.file
    what = f"{ticket_number(number)} attachment {position} ({_file_line(file)})"
    if out == "-":
        sys.stdout.buffer.write(opened.content)
        sys.stdout.buffer.flush()
        print(f"{what} written to standard output", file=sys.stderr)
        return 0
    target = Path(out) if out else Path(file.filename)
    try:
        with target.open("wb" if out else "xb") as handle:
            handle.write(opened.content)
    except FileExistsError:
        return error(f"error: {target} exists; choose another name with --out FILE", REFUSED)
    except OSError as exc:
        return error(f"error: cannot write {target}: {exc.strerror or exc}", REFUSED)
    print(f"{what} saved to {target}")
    return 0


async def _reply(clerk: Clerk, number: int, text: str) -> None:
    """Queue the answer the way the report came; the ticket stays open."""
    from core import staff

    result = await staff.answer(
        clerk.db, clerk.settings, number, text, actor=clerk.actor, now=clerk.now
    )
    _print_answered(result)


def _print_answered(result: Answered) -> None:
    """Where the answer went; the ticket stays open."""
    if result.via == "mail":
        print(
            f"{result.number}: answer queued as mail to {printable(result.recipient or '')} "
            f"(Message-ID {result.mail_message_id})."
        )
    else:
        print(
            f"{result.number}: answer queued for the customer's Telegram chat; "
            "the bot delivers it when it runs."
        )
    print(f"The ticket stays open; close it with: {program()} tickets close {result.number}")


async def _desk(
    clerk: Clerk, action: str, number: int, args: argparse.Namespace, text: str | None
) -> None:
    """link, note, note-edit, assign, release: `core.desk`'s rules, as the staff chat."""
    from core import desk
    from core.tickets import parse_ticket_number

    if action == "link":
        linked = await desk.link(clerk.db, number, args.customer, actor=clerk.actor, now=clerk.now)
        print(f"{linked.number} linked to {printable(linked.name)} ({linked.customer_id}).")
    elif action == "note":
        note = await desk.add_note(
            clerk.db, number, text or "", actor=clerk.actor, author_name=os_user(), now=clerk.now
        )
        print(f"Note {note.id} added to {_label(note.ticket_id)} (staff only, never sent).")
    elif action == "note-edit":
        note = await desk.edit_note(clerk.db, number, text or "", actor=clerk.actor, now=clerk.now)
        print(f"Note {note.id} of {_label(note.ticket_id)} edited.")
    elif action == "take":
        me = await desk.cli_clerk(clerk.db, os_user(), clerk.now)
        held = await desk.take(clerk.db, number, me.user_id, actor=clerk.actor, now=clerk.now)
        before = f" (was {printable(held.previous)})" if held.previous and held.changed else ""
        print(f"{held.number} is held by you, {printable(me.username or '')}{before}.")
    elif action == "assign":
        held = await desk.assign(
            clerk.db,
            number,
            args.who,
            staff_ids=clerk.settings.staff_ids,
            actor=clerk.actor,
            now=clerk.now,
        )
        before = f" (was {printable(held.previous)})" if held.previous and held.changed else ""
        print(f"{held.number} is held by {printable(held.holder or '')}{before}.")
    elif action == "merge":
        other = parse_ticket_number(args.other)
        if other is None:
            raise desk.DeskError(desk.DeskError.NOT_FOUND, printable(args.other))
        merged = await desk.merge(clerk.db, number, other, actor=clerk.actor, now=clerk.now)
        print(f"{merged.gone} merged into {merged.number} (the older number stays).")
    else:
        held = await desk.release(clerk.db, number, actor=clerk.actor, now=clerk.now)
        print(f"{held.number} is held by nobody now.")


def _label(ticket_id: int) -> str:
    from core.tickets import ticket_number

    return ticket_number(ticket_id)


async def _search(settings: Settings, query: str, page: int) -> int:
    """Print one page of what the search finds, newest first."""
    import time

    from core import desk
    from core.db import open_database

    db = await open_database(settings.db_path, create=False)
    try:
        found = await desk.search(
            db, query, answer_days=settings.answer_days, now=time.time(), page=max(page - 1, 0)
        )
    except desk.DeskError:
        return error("error: nothing to search for", REFUSED)
    finally:
        await db.close()
    pages = f", page {found.page + 1} of {found.pages}" if found.pages > 1 else ""
    print(f"Found: {found.total} for {printable(found.query)!r} (newest first{pages})")
    for s in found.items:
        subject = ("URGENT: " if s.ticket.urgent else "") + printable(s.subject)
        if len(subject) > SUBJECT_WIDTH:
            subject = subject[: SUBJECT_WIDTH - 1] + "…"
        customer = _customer(s)[:CUSTOMER_WIDTH]
        status = "closed" if s.closed else "open"
        print(
            f"{s.number}  {_when(s.ticket.created_at)}  {status:<6}  {s.channel:<8}  "
            f"{customer:<{CUSTOMER_WIDTH}}  {subject}"
        )
    if found.page + 1 < found.pages:
        print(f"More: {program()} tickets search {printable(query)} --page {found.page + 2}")
    return 0


async def _digest(settings: Settings) -> int:
    """Print the digest as of now (`core.digest.compose`, the staff chat's morning message)."""
    import time
    from datetime import datetime

    from core import digest
    from core.accounts import BUDAPEST
    from core.db import open_database

    now = time.time()
    db = await open_database(settings.db_path, create=False)
    try:
        day = datetime.fromtimestamp(now, BUDAPEST).date()
        found = await digest.compose(db, day, answer_days=settings.answer_days, now=now)
    finally:
        await db.close()
    print(f"Digest of {_day(day)} (answer within {settings.answer_days} days)")
    for title, items in (
        ("Past their deadline", found.overdue),
        ("Due within 3 days", found.due_soon),
        ("Waiting more than a day for an answer", found.waiting),
    ):
        print(f"\n{title}: {len(items)}")
        for s in items:
            print(f"  {s.number}  {_deadline(s).strip():<32}  {_customer(s)}")
    if found.median is None or found.p90 is None:
        print("\nFirst answers in the last 30 days: none")
    else:
        print(
            f"\nFirst answers in the last 30 days: {found.answered}; median "
            f"{_span(found.median)}, 90th percentile {_span(found.p90)}"
        )
    rating = found.rating
    if rating is None or rating.average is None:
        print("Customers' rating this month: none yet")
    else:
        given = f"{rating.count} rating{'s' if rating.count > 1 else ''}"
        print(f"Customers' rating this month: {rating.average:.1f} of 5 ({given})")
    return 0


def _span(seconds: float) -> str:
    """A time to answer in the unit the staff chat's digest uses: minutes, hours or days."""
    if seconds < 3600:
        return f"{round(seconds / 60)} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def _list_canned(settings: Settings) -> int:
    from core import canned

    choices = canned.available(settings.canned_dir)
    where = settings.canned_dir or "the shipped ones (core/texts/canned)"
    print(f"Canned answers: {len(choices)} ({where})")
    for item in choices:
        print(f"{item.name:<20}  {printable(item.description)}")
    return 0


async def _reply_canned(clerk: Clerk, number: int, name: str, *, ask: bool) -> int:
    """Fill the canned answer, show it, and send it when the clerk says so (or `ask` is off);
    `e` opens it in $VISUAL/$EDITOR to change it first."""
    from core import canned
    from core.facts import facts_from

    filled = await canned.fill(
        clerk.db, clerk.settings.canned_dir, number, name, facts_from(clerk.settings), clerk.now
    )
    text = filled.text
    while True:
        for caution in filled.cautions:
            print(_caution(caution, _label(number)))
        print(f"--- the canned answer {name}, filled for {_label(number)} ---")
        print(printable(text, lines=True))
        print("---")
        if not ask and filled.personal_caution:
            # Told the customer's debt, someone else may read it: the clerk says yes to that.
            return error(
                f"error: not sent: read the warning above, then run without --yes to confirm "
                f"({program()} tickets reply {_label(number)} --canned {name})",
                REFUSED,
            )
        if not ask:
            break
        choice = _ask("Send it? [y]es, [e]dit, [n]o: ")
        if choice in ("y", "yes", "i", "igen"):
            break
        if choice in ("e", "edit"):
            edited = _edit(text)
            if edited is None:
                return error("error: the editor failed; nothing was sent", REFUSED)
            text = edited
            continue
        print("Not sent.")
        return REFUSED
    result = await canned.answer_with(
        clerk.db,
        clerk.settings,
        number,
        name,
        text,
        edited=text != filled.text,
        actor=clerk.actor,
        now=clerk.now,
    )
    _print_answered(result)
    return 0


def _caution(caution: Caution, number: str) -> str:
    """A canned answer's caution (core.canned.Caution), worded for the clerk."""
    if caution.kind == caution.NO_PAYEE:
        return (
            f"WARNING: the payment details were left out: {', '.join(caution.missing)} "
            "not set here. Set them as the service has them (README: Configuration; the "
            "demo prints them), or write the details in with [e]dit."
        )
    where = (
        "this chat is not logged in to the customer's account now"
        if caution.kind == caution.OTHER_CHAT
        else "it goes to an e-mail address the customer never gave us"
    )
    return (
        f"WARNING: this answer tells the customer's debt, but {where}: whoever reads "
        f"{number} there may not be the customer. Send it only if you are sure."
    )


def _ask(prompt: str) -> str:
    """The clerk's answer to a question, lower-case; '' at the end of the input."""
    print(prompt, end="", flush=True)
    line = sys.stdin.readline()
    if not line:
        print()
    return line.strip().lower()


def _edit(text: str) -> str | None:
    """The text after the clerk changed it in $VISUAL or $EDITOR (vi); None if it failed."""
    import os
    import shlex
    import subprocess
    import tempfile

    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    with tempfile.NamedTemporaryFile("w", suffix=".txt", encoding="utf-8", delete=False) as handle:
        handle.write(text + "\n")
        path = Path(handle.name)
    try:
        if subprocess.run([*shlex.split(editor), str(path)], check=False).returncode != 0:
            return None
        return path.read_text(encoding="utf-8").strip()
    finally:
        path.unlink(missing_ok=True)


async def _close_or_reopen(clerk: Clerk, number: int, *, close: bool) -> None:
    from core import staff

    change = staff.close if close else staff.reopen
    result = await change(clerk.db, number, actor=clerk.actor, now=clerk.now)
    if result.changed:
        print(f"{result.number} {'closed' if close else 'reopened'}.")
    else:
        print(f"{result.number} was already {'closed' if close else 'open'}.")


# --- reading the answer, and words for a ticket -------------------------------------------


def _answer_text(args: argparse.Namespace) -> tuple[str | None, str | None]:
    """(the answer, None) from --text or --file (`-` is standard input), or (None, problem)."""
    if args.text is not None:
        return args.text, None
    if args.file == "-":
        return sys.stdin.read(), None
    try:
        return Path(args.file).read_text(encoding="utf-8"), None
    except UnicodeDecodeError:
        return None, f"error: --file: {args.file} is not UTF-8 text"
    except OSError as exc:
        return None, f"error: --file: cannot read {args.file}: {exc.strerror or exc}"


def _customer(summary: Summary) -> str:
    """Who reported it: a name from the billing data, a customer ID, or an address (printable)."""
    if summary.customer_name:
        return printable(f"{summary.customer_name} ({summary.customer_id})")
    return printable(summary.customer_id or summary.email or "unknown")


def _age(summary: Summary) -> str:
    if summary.age_days:
        return f"{summary.age_days}d"
    return f"{summary.age_hours}h"


def _deadline(summary: Summary) -> str:
    """`! 2024-05-15 (2 days left)`: core.staff.due decides the case, this only words it."""
    from core.staff import Due, due

    case = due(summary)
    if case is Due.CLOSED:
        return "closed"
    days = summary.days_left
    words = {
        Due.OVERDUE: "overdue",
        Due.TODAY: "due today",
        Due.DAYS_LEFT: f"{days} day{'s' if days > 1 else ''} left",
    }[case]
    mark = "! " if summary.near else "  "
    return f"{mark}{_day(summary.due_date)} ({words})"


def _attachment_error(refused: Exception) -> str:
    """An AttachmentError worded for the operator."""
    from core.attachments import AttachmentError

    assert isinstance(refused, AttachmentError)
    if refused.kind == AttachmentError.NO_TICKET:
        return f"error: no ticket {refused.number}"
    if refused.kind == AttachmentError.NO_FILE:
        return (
            f"error: {refused.number} has no attachment {refused.position} "
            f"(see: {program()} tickets show {refused.number})"
        )
    why = WITHHELD.get(refused.reason or "", "not kept")
    return (
        f"error: attachment {refused.position} of {refused.number} was not kept ({why}); "
        "the whole mail is still in the database"
    )


def _position(text: str) -> int:
    """argparse type: a file's number in its ticket (a plain, reasonable number)."""
    from core.tickets import small_number

    value = small_number(text)
    if value is None:
        raise argparse.ArgumentTypeError(f"not a file number: {text!r}")
    return value


def _file_line(file: TicketFile) -> str:
    """`akna.jpg, image/jpeg, 1.2 KB`."""
    size = file.size_text.replace(",", ".")
    return f"{printable(file.filename)}, {printable(file.content_type)}, {size}"


def _print_files(number: str, files: list[TicketFile]) -> None:
    if not files:
        return
    print("\n--- attachments ---")
    for file in files:
        reason = file.withheld or ""
        withheld = f"  (not kept: {WITHHELD.get(reason, reason)})" if reason else ""
        print(f"{file.number:>3}. {_file_line(file)}{withheld}")
    print(f"Save one with: {program()} tickets attachment {number} 1")


def _print_thread(view: Thread) -> None:
    from core.staff import NoteEntry

    s = view.summary
    print(f"{s.number}  {s.ticket.status}  {s.channel}{'  URGENT' if s.ticket.urgent else ''}")
    contact = f" <{printable(s.email)}>" if s.email and s.customer_id else ""
    print(f"Customer: {_customer(s)}{contact}")
    print(f"Subject:  {printable(s.subject)}")
    print(f"Received: {_when(s.ticket.created_at)} ({_age(s)} ago)")
    print(f"Deadline: {_deadline(s).strip()}")
    if s.stars:
        print(f"Rating:   {s.stars}/5 (the customer's, after closing)")
    if s.holder:
        print(f"Held by:  {printable(s.holder)}")
    if view.beside is not None:
        _print_beside(view)
    # Two tickets merged (chat and mail): each message says which way it came or went.
    ways = {entry.by_mail for entry in view.entries if not isinstance(entry, NoteEntry)}
    for entry in view.entries:
        if isinstance(entry, NoteEntry):
            edited = f", edited {entry.edited}" if entry.edited else ""
            print(
                f"\n--- internal note {entry.note_id} by {printable(entry.author)}, "
                f"{entry.at}{edited} (staff only, never sent) ---"
            )
            print(printable(entry.text.rstrip(), lines=True))
            continue
        who = {
            "customer": "customer",
            "auto": "automatic answer",
            "machine": f"machine mail ({entry.machine})",
        }.get(entry.who, f"staff {printable(entry.author)}")
        way = (" by mail" if entry.by_mail else " in the chat") if len(ways) > 1 else ""
        print(f"\n--- {who}{way}, {_when(entry.message.created_at)} ---")
        print(printable(entry.text.rstrip(), lines=True))


def _print_beside(view: Thread) -> None:
    """The customer beside the ticket: who they are and where they stand."""
    from core.formats import format_invoice_number

    beside = view.beside
    assert beside is not None
    statement = beside.statement
    print()
    if beside.known and statement is not None and statement.customer is not None:
        customer = statement.customer
        print(f"--- the customer: {printable(customer.name)} ({statement.customer_id}) ---")
        print(f"Address:  {printable(customer.address)}")
        print(f"Payment:  {printable(customer.payment_method) or 'not given'}")
        owes = " (owes)" if statement.balance < 0 else ""
        print(f"Balance:  {_ft(statement.balance)}{owes}")
        for invoice in statement.unpaid:
            overdue = "  OVERDUE" if invoice.due_date < statement.today else ""
            print(
                f"Unpaid:   {format_invoice_number(invoice.invoice_no)}  "
                f"{_ft(invoice.outstanding)}  due {_day(invoice.due_date)}{overdue}"
            )
        payment = beside.last_payment
        paid = f"{_day(payment.booked_on)}, {_ft(payment.amount)}" if payment else "none"
        print(f"Last payment: {paid}")
        chat = beside.chat
        uses = "no portal account"
        if chat is not None and chat.account_status is not None:
            uses = f"account {chat.account_status}"
            uses += ", logged in on Telegram now" if chat.logged_in else ", not logged in now"
        print(f"Chat:     {uses}")
    else:
        print(
            f"--- unknown sender: linked to no customer; link it with: "
            f"{program()} tickets link {view.summary.number} U1234 ---"
        )
    if beside.earlier:
        print(f"Other tickets ({beside.earlier_total}):")
        for other in beside.earlier:
            closed = " (closed)" if other.closed else ""
            print(f"  {other.number}  {other.received}  {printable(other.subject)}{closed}")

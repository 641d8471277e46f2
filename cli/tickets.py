"""`tickets list|show|reply|close|reopen|attachment`: the staff chat's work, without Telegram.

The same core.staff calls as the staff chat, so the same rules and audit; the
actor is `cli:<the OS user>`. Every line a clerk reads is Hungarian, formal, from
`core/texts/cli/tickets.txt` (plain text: the terminal shows no HTML); whatever a
customer wrote (subject, text, name, address) is printed through
`cli.common.printable`, so it cannot drive the operator's terminal. The ticket number
stays first on a list line, for scripts.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from cli.common import (
    REFUSED,
    Subparsers,
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

# A StaffError's kinds the clerk's texts word (core/texts/cli/tickets.txt); another kind is
# shown as it is.
STAFF_ERRORS = frozenset(
    {
        "not_found",
        "empty",
        "too_long",
        "no_address",
        "bad_customer",
        "no_customer",
        "no_note",
        "not_author",
        "no_member",
        "not_staff_member",
        "no_canned",
        "broken_canned",
        "already_merged",
        "same_ticket",
    }
)


def _say(say: str, /, **context: object) -> str:
    """The clerk's line for `say`, Hungarian plain text (core/texts/cli/tickets.txt)."""
    from core.texts import render

    context.setdefault("program", program())
    return render("cli/tickets.txt", say=say, **context)


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
AGE_WIDTH = 9  # "12 napja", "23 órája"


@cache
def _help() -> dict[str, dict[str, str]]:
    """`--help`'s Hungarian words by action (core/texts/cli/tickets_help.json); read as JSON,
    not rendered, so a command that never shows them loads no template engine."""
    text = resources.files("core").joinpath("texts/cli/tickets_help.json").read_text("utf-8")
    catalogue: dict[str, dict[str, str]] = json.loads(text)
    return catalogue


def _action(
    t_sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str
) -> argparse.ArgumentParser:
    """The subparser of one action, with its help and description from the catalogue."""
    words = _help()[name]
    return t_sub.add_parser(name, help=words["help"], description=words["description"])


def register(sub: Subparsers) -> None:
    """Add `tickets` and its actions to the subcommands."""
    h = _help()
    p = sub.add_parser(
        "tickets", help=h["tickets"]["help"], description=h["tickets"]["description"]
    )
    t_sub = p.add_subparsers(dest="tickets_command", required=True, metavar="ACTION")
    t = _action(t_sub, "list")
    t.add_argument("--all", action="store_true", help=h["list"]["--all"])
    mine = t.add_mutually_exclusive_group()
    mine.add_argument("--holder", metavar="WHO", help=h["list"]["--holder"])
    mine.add_argument("--mine", action="store_true", help=h["list"]["--mine"])
    t = _action(t_sub, "show")
    t.add_argument("number", metavar="N")
    t = _action(t_sub, "reply")
    t.add_argument("number", metavar="N")
    source = t.add_mutually_exclusive_group(required=True)
    source.add_argument("--text", metavar="T", help=h["reply"]["--text"])
    source.add_argument("--file", metavar="F", help=h["reply"]["--file"])
    source.add_argument("--canned", metavar="NAME", help=h["reply"]["--canned"])
    t.add_argument("--yes", action="store_true", help=h["reply"]["--yes"])
    _action(t_sub, "canned")
    t = _action(t_sub, "close")
    t.add_argument("number", metavar="N")
    t = _action(t_sub, "reopen")
    t.add_argument("number", metavar="N")
    t = _action(t_sub, "attachment")
    t.add_argument("number", metavar="N")
    t.add_argument("position", metavar="n", type=_position, help=h["attachment"]["n"])
    t.add_argument("--out", metavar="FILE", help=h["attachment"]["--out"])
    _register_desk(t_sub)
    p.set_defaults(func=cmd_tickets)


def _register_desk(t_sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The clerk's desk (issue 17): link, note, note-edit, take, assign, release, merge…"""
    h = _help()
    t = _action(t_sub, "link")
    t.add_argument("number", metavar="N")
    t.add_argument("customer", metavar="CUSTOMER_ID", help="U1234")
    t = _action(t_sub, "note")
    t.add_argument("number", metavar="N")
    source = t.add_mutually_exclusive_group(required=True)
    source.add_argument("--text", metavar="T", help=h["note"]["--text"])
    source.add_argument("--file", metavar="F", help=h["note"]["--file"])
    t = _action(t_sub, "note-edit")
    t.add_argument("number", metavar="ID", help=h["note-edit"]["ID"])
    source = t.add_mutually_exclusive_group(required=True)
    source.add_argument("--text", metavar="T", help=h["note-edit"]["--text"])
    source.add_argument("--file", metavar="F", help=h["note-edit"]["--file"])
    t = _action(t_sub, "take")
    t.add_argument("number", metavar="N")
    t = _action(t_sub, "assign")
    t.add_argument("number", metavar="N")
    t.add_argument("who", metavar="WHO", help=h["assign"]["WHO"])
    t = _action(t_sub, "release")
    t.add_argument("number", metavar="N")
    _action(t_sub, "digest")
    t = _action(t_sub, "merge")
    t.add_argument("number", metavar="N")
    t.add_argument("other", metavar="M")
    t = _action(t_sub, "search")
    t.add_argument("query", metavar="WORD", nargs="+")
    t.add_argument("--page", type=_position, default=1, help=h["search"]["--page"])


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
            return error(_say("bad_note_number", detail=repr(printable(args.number))))
    elif action != "list":
        number = parse_ticket_number(args.number)
        if number is None:
            return error(_say("bad_ticket_number", detail=repr(printable(args.number))))
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
        detail = getattr(refused, "detail", None)
        known = refused.kind in STAFF_ERRORS
        return error(
            _say(
                refused.kind if known else "unknown_error",
                number=refused.number,
                limit=refused.limit,
                detail=printable(str(detail)) if known and detail is not None else refused.kind,
            ),
            REFUSED,
        )
    except AttachmentError as refused:
        return error(_attachment_error(refused), REFUSED)
    except DatabaseBusy:
        # One transaction each: a write that gave up changed nothing, the answer included.
        return error(_busy(settings, answer=action == "reply"), REFUSED)
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
    print(
        _say(
            "list_head",
            mine=mine,
            holder=printable(holder) if holder is not None else None,
            include_closed=include_closed,
            total=listing.total,
            answer_days=answer_days,
            warn_days=staff.WARN_DAYS,
        )
    )
    if items:
        number, age, deadline, channel, customer, subject = _say("columns").split("|")
        print(
            f"{number:<9}  {age:>{AGE_WIDTH}}  {'  ' + deadline:<32} {channel:<8}  "
            f"{customer:<{CUSTOMER_WIDTH}}  {subject}"
        )
    for s in items:
        subject = _urgent(s) + printable(s.subject)
        if len(subject) > SUBJECT_WIDTH:
            subject = subject[: SUBJECT_WIDTH - 1] + "…"
        customer = _customer(s)
        if len(customer) > CUSTOMER_WIDTH:
            customer = customer[: CUSTOMER_WIDTH - 1] + "…"
        held = f"  [{printable(s.holder)}]" if s.holder else ""
        rated = f"  [{_say('rated', stars=s.stars)}]" if s.stars else ""
        if s.ticket.merged_into is not None:
            rated += f"  [{_say('merged_into', number=_label(s.ticket.merged_into))}]"
        print(
            f"{s.number}  {_age(s):>{AGE_WIDTH}}  {_deadline(s):<32} {_channel(s):<8}  "
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
    what = {"number": ticket_number(number), "position": position, "file_line": _file_line(file)}
    if out == "-":
        sys.stdout.buffer.write(opened.content)
        sys.stdout.buffer.flush()
        print(_say("file_to_stdout", **what), file=sys.stderr)
        return 0
    target = Path(out) if out else Path(file.filename)
    try:
        with target.open("wb" if out else "xb") as handle:
            handle.write(opened.content)
    except FileExistsError:
        return error(_say("file_exists", target=printable(str(target))), REFUSED)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        return error(_say("cannot_write", target=printable(str(target)), reason=reason), REFUSED)
    print(_say("file_saved", target=printable(str(target)), **what))
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
    print(
        _say(
            "answered",
            via=result.via,
            number=result.number,
            recipient=printable(result.recipient or ""),
            message_id=result.mail_message_id,
        )
    )


async def _desk(
    clerk: Clerk, action: str, number: int, args: argparse.Namespace, text: str | None
) -> None:
    """link, note, note-edit, assign, release: `core.desk`'s rules, as the staff chat."""
    from core import desk
    from core.tickets import parse_ticket_number

    if action == "link":
        linked = await desk.link(clerk.db, number, args.customer, actor=clerk.actor, now=clerk.now)
        print(
            _say(
                "linked",
                number=linked.number,
                name=printable(linked.name),
                customer_id=linked.customer_id,
            )
        )
    elif action == "note":
        note = await desk.add_note(
            clerk.db, number, text or "", actor=clerk.actor, author_name=os_user(), now=clerk.now
        )
        print(_say("noted", number=_label(note.ticket_id), note_id=note.id))
    elif action == "note-edit":
        note = await desk.edit_note(clerk.db, number, text or "", actor=clerk.actor, now=clerk.now)
        print(_say("note_edited", number=_label(note.ticket_id), note_id=note.id))
    elif action == "take":
        me = await desk.cli_clerk(clerk.db, os_user(), clerk.now)
        held = await desk.take(clerk.db, number, me.user_id, actor=clerk.actor, now=clerk.now)
        print(
            _say(
                "taken",
                number=held.number,
                holder=printable(me.username or ""),
                previous=_previous(held),
            )
        )
    elif action == "assign":
        held = await desk.assign(
            clerk.db,
            number,
            args.who,
            staff_ids=clerk.settings.staff_ids,
            actor=clerk.actor,
            now=clerk.now,
        )
        print(
            _say(
                "assigned",
                number=held.number,
                holder=printable(held.holder or ""),
                previous=_previous(held),
            )
        )
    elif action == "merge":
        other = parse_ticket_number(args.other)
        if other is None:
            raise desk.DeskError(desk.DeskError.NOT_FOUND, printable(args.other))
        merged = await desk.merge(clerk.db, number, other, actor=clerk.actor, now=clerk.now)
        print(_say("merged", gone=merged.gone, number=merged.number))
    else:
        held = await desk.release(clerk.db, number, actor=clerk.actor, now=clerk.now)
        print(_say("released", number=held.number))


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
        return error(_say("empty_search"), REFUSED)
    finally:
        await db.close()
    print(
        _say(
            "found",
            total=found.total,
            query=printable(found.query),
            page=found.page + 1,
            pages=found.pages,
        )
    )
    for s in found.items:
        subject = _urgent(s) + printable(s.subject)
        if len(subject) > SUBJECT_WIDTH:
            subject = subject[: SUBJECT_WIDTH - 1] + "…"
        customer = _customer(s)[:CUSTOMER_WIDTH]
        status = _say("status", closed=s.closed)
        print(
            f"{s.number}  {_when(s.ticket.created_at)}  {status:<7}  {_channel(s):<8}  "
            f"{customer:<{CUSTOMER_WIDTH}}  {subject}"
        )
    if found.page + 1 < found.pages:
        print(_say("more", query=printable(query), page=found.page + 2))
    return 0


async def _digest(settings: Settings) -> int:
    """Print the digest as of now (`core.digest.compose`, the staff chat's morning message)."""
    import time
    from datetime import datetime

    from core import digest, staff
    from core.accounts import BUDAPEST
    from core.db import open_database

    now = time.time()
    db = await open_database(settings.db_path, create=False)
    try:
        day = datetime.fromtimestamp(now, BUDAPEST).date()
        found = await digest.compose(db, day, answer_days=settings.answer_days, now=now)
    finally:
        await db.close()
    print(_say("digest_head", day=day, answer_days=settings.answer_days))
    for part, items in (
        ("overdue", found.overdue),
        ("due_soon", found.due_soon),
        ("waiting", found.waiting),
    ):
        print()
        print(_say("digest_part", part=part, total=len(items), warn_days=staff.WARN_DAYS))
        for s in items:
            print(f"  {s.number}  {_deadline(s).strip():<32}  {_customer(s)}")
    print()
    if found.median is None or found.p90 is None:
        print(_say("first_answers", answered=0))
    else:
        print(
            _say(
                "first_answers",
                answered=found.answered,
                median=_span(found.median),
                p90=_span(found.p90),
            )
        )
    rating = found.rating
    if rating is None or rating.average is None:
        print(_say("rating", count=0))
    else:
        print(_say("rating", count=rating.count, average=rating.average))
    return 0


def _span(seconds: float) -> str:
    """A time to answer in the unit the staff chat's digest uses: perc, óra or nap."""
    return _say("span", seconds=seconds)


def _list_canned(settings: Settings) -> int:
    from core import canned

    choices = canned.available(settings.canned_dir)
    where = printable(str(settings.canned_dir)) if settings.canned_dir else None
    print(_say("canned_head", total=len(choices), where=where))
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
        print(_say("canned_preview", name=printable(name), number=_label(number)))
        print(printable(text, lines=True))
        print(_say("canned_end"))
        if not ask and filled.personal_caution:
            # Told the customer's debt, someone else may read it: the clerk says yes to that.
            return error(
                _say("confirm_first", number=_label(number), name=printable(name)), REFUSED
            )
        if not ask:
            break
        choice = _ask(_say("ask_send") + " ")
        # Hungarian first ([i]gen, [s]zerkesztés); the English letters still work.
        if choice in ("i", "igen", "y", "yes"):
            break
        if choice in ("s", "szerkesztés", "szerkesztes", "e", "edit"):
            edited = _edit(text)
            if edited is None:
                return error(_say("editor_failed"), REFUSED)
            text = edited
            continue
        print(_say("not_sent"))
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
        return _say("no_payee", missing=", ".join(caution.missing))
    return _say("debt_caution", other_chat=caution.kind == caution.OTHER_CHAT, number=number)


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
    print(_say("closed" if close else "reopened", changed=result.changed, number=result.number))


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
        return None, _say("not_utf8", detail=printable(args.file))
    except OSError as exc:
        reason = exc.strerror or str(exc)
        return None, _say("unreadable", detail=printable(args.file), reason=reason)


def _customer(summary: Summary) -> str:
    """Who reported it: a name from the billing data, a customer ID, or an address (printable)."""
    if summary.customer_name:
        return printable(f"{summary.customer_name} ({summary.customer_id})")
    if summary.customer_id or summary.email:
        return printable(summary.customer_id or summary.email or "")
    return _say("unknown_customer")


def _age(summary: Summary) -> str:
    """`3 napja`, `5 órája`, `most`."""
    return _say("age", days=summary.age_days, hours=summary.age_hours)


def _urgent(summary: Summary) -> str:
    """`SÜRGŐS: ` before an urgent ticket's subject (core.urgency)."""
    return _say("urgent") + ": " if summary.ticket.urgent else ""


def _channel(summary: Summary) -> str:
    """`e-mail` or `Telegram`: which way the report came."""
    return _say("channel", channel=summary.channel)


def _previous(held: object) -> str | None:
    """Who held the ticket before, when that changed (core.desk.Held), printable."""
    previous = getattr(held, "previous", None)
    return printable(previous) if previous and getattr(held, "changed", False) else None


def _busy(settings: Settings, *, answer: bool) -> str:
    """One line for a write that gave up: who holds the lock, and that nothing was saved."""
    from core.db import write_lock_holders

    holders = ", ".join(write_lock_holders(settings.db_path))
    return _say("busy", db_path=str(settings.db_path), holders=holders, answer=answer)


def _deadline(summary: Summary) -> str:
    """`! 2026. 05. 15. (még 2 nap)`: core.staff.due decides the case, this only words it."""
    from core.staff import Due, due

    case = due(summary)
    words = _say("deadline", case=case.value, due_date=summary.due_date, days=summary.days_left)
    if case is Due.CLOSED:
        return words
    mark = "! " if summary.near else "  "
    return f"{mark}{words}"


def _attachment_error(refused: Exception) -> str:
    """An AttachmentError worded for the clerk."""
    from core.attachments import AttachmentError

    assert isinstance(refused, AttachmentError)
    if refused.kind == AttachmentError.NO_TICKET:
        return _say("not_found", number=refused.number)
    if refused.kind == AttachmentError.NO_FILE:
        return _say("no_file", number=refused.number, position=refused.position)
    # tickets/attachment_macros.txt words why, from the file's `withheld`.
    why = _Withheld(refused.reason or "unknown")
    return _say("withheld_file", number=refused.number, position=refused.position, file=why)


@dataclass(frozen=True)
class _Withheld:
    """Why a file was not kept, shaped as the attachment texts read it (`file.withheld`)."""

    withheld: str


def _position(text: str) -> int:
    """argparse type: a file's number in its ticket (a plain, reasonable number)."""
    from core.tickets import small_number

    value = small_number(text)
    if value is None:
        raise argparse.ArgumentTypeError(_say("bad_file_number", detail=repr(printable(text))))
    return value


def _file_line(file: TicketFile) -> str:
    """`akna.jpg, image/jpeg, 1.2 KB`."""
    size = file.size_text.replace(",", ".")
    return f"{printable(file.filename)}, {printable(file.content_type)}, {size}"


def _print_files(number: str, files: list[TicketFile]) -> None:
    if not files:
        return
    print()
    print(_say("files_head"))
    for file in files:
        withheld = f"  {_say('file_withheld', file=file)}" if file.withheld else ""
        print(f"{file.number:>3}. {_file_line(file)}{withheld}")
    print(_say("files_foot", number=number))


def _print_thread(view: Thread) -> None:
    from core.staff import NoteEntry

    s = view.summary
    urgent = f"  {_say('urgent')}" if s.ticket.urgent else ""
    print(f"{s.number}  {_say('status', closed=s.closed)}  {_channel(s)}{urgent}")
    contact = f" <{printable(s.email)}>" if s.email and s.customer_id else ""
    print(
        _say(
            "thread_head",
            customer=_customer(s) + contact,
            subject=printable(s.subject),
            received=_when(s.ticket.created_at),
            age=_age(s),
            deadline=_deadline(s).strip(),
            stars=s.stars,
            holder=printable(s.holder) if s.holder else None,
        )
    )
    if view.beside is not None:
        _print_beside(view)
    # Two tickets merged (chat and mail): each message says which way it came or went.
    ways = {entry.by_mail for entry in view.entries if not isinstance(entry, NoteEntry)}
    for entry in view.entries:
        if isinstance(entry, NoteEntry):
            print()
            print(
                _say(
                    "note_head",
                    note_id=entry.note_id,
                    author=printable(entry.author),
                    at=entry.at,
                    edited=entry.edited,
                )
            )
            print(printable(entry.text.rstrip(), lines=True))
            continue
        way = ("mail" if entry.by_mail else "chat") if len(ways) > 1 else None
        print()
        print(
            _say(
                "entry_head",
                who=entry.who,
                machine=entry.machine,
                author=printable(entry.author),
                way=way,
                at=_when(entry.message.created_at),
            )
        )
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
        print(
            _say(
                "customer_card",
                name=printable(customer.name),
                customer_id=statement.customer_id,
                address=printable(customer.address),
                payment=printable(customer.payment_method or ""),
                balance=_ft(statement.balance),
                owes=statement.balance < 0,
            )
        )
        for invoice in statement.unpaid:
            print(
                _say(
                    "unpaid",
                    invoice=format_invoice_number(invoice.invoice_no),
                    amount=_ft(invoice.outstanding),
                    due=_day(invoice.due_date),
                    overdue=invoice.due_date < statement.today,
                )
            )
        payment = beside.last_payment
        paid = f"{_day(payment.booked_on)}, {_ft(payment.amount)}" if payment else None
        print(_say("last_payment", paid=paid))
        chat = beside.chat
        status = chat.account_status if chat is not None else None
        logged_in = bool(chat is not None and chat.logged_in)
        print(_say("chat_use", status=status, logged_in=logged_in))
    else:
        print(_say("unknown_sender", number=view.summary.number))
    if beside.earlier:
        print(_say("earlier", total=beside.earlier_total))
        for other in beside.earlier:
            closed = " " + _say("earlier_closed") if other.closed else ""
            print(f"  {other.number}  {other.received}  {printable(other.subject)}{closed}")

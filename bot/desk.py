"""The clerk's desk in the staff chat (issue 17): what clerks need beside answering.

Kept apart from `bot/staff.py` (which it builds on: who may act, which ticket a
command names, the thread view), registered in the same group before every
customer handler (`bot/app.py`). Each update taken here ends in
`ApplicationHandlerStop`; a non-staff user is refused and audited at every
command and button, as in `bot/staff.py`.

- /link N U1234: the ticket's customer, for a sender no one knew;
- /note N text: a note only staff see (in the thread view, never sent);
  /editnote n text: its author changes note n;
- /take N (and the 🙋 Átveszem button, `sd:take:<ticket>`), /assign N @name,
  /release N; /mine: the open tickets I hold (◀ ▶: `sd:mine:<page>`);
- canned answers: /reply N #name, or 📝 Sablon (`sd:canned:<ticket>`) and a name
  (`sd:cn:<ticket>:<name>`), show the filled text with ✅ Elküldöm (`sd:send:<draft>`)
  and ✖️ Mégse (`sd:drop:<draft>`); a reply to it with a changed text sends that. Whichever
  comes first uses the draft up: everything later on it is refused, naming who;
- /search words: tickets by number, customer ID, address, name or words, newest
  first (◀ ▶: `sd:search:<page>`, the clerk's last search);
- /merge N M: two tickets about the same thing become the older one.

N is `PK-000123` or `123`, or left out in reply to a ticket's message. The
rules are `core.desk`'s (the command line uses the same functions).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import TelegramError
from telegram.ext import ApplicationHandlerStop, BaseHandler, CallbackQueryHandler, CommandHandler
from telegram.ext import filters as F

from bot.staff import (
    _allowed,
    _command_parts,
    _error,
    _remember,
    _ticket_and_rest,
    _who,
    ticket_buttons,
)
from conversations.common import (
    BotContext,
    Services,
    button_data,
    inline,
    once_key,
    pager,
    query_of,
    say,
    send_or_edit,
    text_of,
    user_id,
)
from core import canned, desk, ratings, staff, tickets
from core.staff import StaffError
from core.texts import render

log = logging.getLogger(f"petkomm.{__name__}")

COMMANDS = ("link", "note", "editnote", "take", "assign", "release", "mine", "search", "merge")
SEARCH = "desk_search"  # user_data: the clerk's last search, for its ◀ ▶

Action = Callable[[Update, BotContext, Services], Awaitable[None]]


def _actor(update: Update) -> str:
    return staff.telegram_actor(user_id(update))


async def on_command(update: Update, context: BotContext) -> None:
    """The desk's commands — staff only; never passed on."""
    command, _ = _command_parts(update)
    if await _allowed(update, context, f"/{command}", command=True):
        try:
            await _ACTIONS[command](update, context, context.services)
        except StaffError as error:
            await _desk_error(update, error)
    raise ApplicationHandlerStop


async def _desk_error(update: Update, error: StaffError) -> None:
    if isinstance(error, desk.DeskError) or error.kind not in staff_error_kinds():
        detail = error.detail if isinstance(error, desk.DeskError) else None
        await say(update, "staff/desk/error", kind=error.kind, number=error.number, detail=detail)
    else:
        await _error(update, error)


def staff_error_kinds() -> set[str]:
    """The kinds `chat/staff/error.txt` words."""
    return {
        StaffError.NOT_FOUND,
        StaffError.EMPTY,
        StaffError.TOO_LONG,
        StaffError.NO_ADDRESS,
    }


# --- the customer of an unknown sender ------------------------------------------------------------


async def link_command(update: Update, context: BotContext, svc: Services) -> None:
    """/link N U1234: the ticket is this customer's (audited)."""
    number, rest = await _ticket_and_rest(update, svc, _command_parts(update)[1])
    if number is None or not rest.split():
        await say(update, "staff/desk/usage", command="link")
        return
    linked = await desk.link(svc.db, number, rest.split()[0], actor=_actor(update), now=svc.now())
    log.info(
        "%s linked to %s by Telegram user %s", linked.number, linked.customer_id, user_id(update)
    )
    sent = await say(update, "staff/desk/linked", linked=linked, who=_who(update))
    await _remember(svc, sent, linked.ticket.id)


# --- internal notes -------------------------------------------------------------------------------


async def note_command(update: Update, context: BotContext, svc: Services) -> None:
    """/note N text: a note only staff see."""
    number, text = await _ticket_and_rest(update, svc, _command_parts(update)[1])
    if number is None or not text.strip():
        await say(update, "staff/desk/usage", command="note")
        return
    note = await desk.add_note(
        svc.db,
        number,
        text,
        actor=_actor(update),
        author_name=_who(update),
        once=once_key(update),
        now=svc.now(),
    )
    log.info(
        "note %d added to %s by Telegram user %s",
        note.id,
        tickets.ticket_number(number),
        user_id(update),
    )
    await say(
        update, "staff/desk/noted", note=note, number=tickets.ticket_number(number), edited=False
    )


async def editnote_command(update: Update, context: BotContext, svc: Services) -> None:
    """/editnote n text: the author changes their note n."""
    rest = _command_parts(update)[1]
    parts = rest.split(maxsplit=1)
    note_id = tickets.small_number(parts[0].lstrip("#")) if parts else None
    if note_id is None or len(parts) < 2:
        await say(update, "staff/desk/usage", command="editnote")
        return
    note = await desk.edit_note(svc.db, note_id, parts[1], actor=_actor(update), now=svc.now())
    number = tickets.ticket_number(note.ticket_id)
    await say(update, "staff/desk/noted", note=note, number=number, edited=True)


# --- taking and handing over ----------------------------------------------------------------


async def take_command(update: Update, context: BotContext, svc: Services) -> None:
    """/take N: I hold this ticket."""
    number, _ = await _ticket_and_rest(update, svc, _command_parts(update)[1])
    if number is None:
        await say(update, "staff/desk/usage", command="take")
        return
    await _take(update, svc, number)


async def _take(update: Update, svc: Services, number: int) -> None:
    held = await desk.take(svc.db, number, user_id(update), actor=_actor(update), now=svc.now())
    await _tell_held(update, svc, held, "take")


async def assign_command(update: Update, context: BotContext, svc: Services) -> None:
    """/assign N @name: hand the ticket to a colleague."""
    number, rest = await _ticket_and_rest(update, svc, _command_parts(update)[1])
    if number is None or not rest.split():
        await say(update, "staff/desk/usage", command="assign")
        return
    held = await desk.assign(
        svc.db,
        number,
        rest.split()[0],
        staff_ids=svc.staff_ids,
        actor=_actor(update),
        now=svc.now(),
    )
    await _tell_held(update, svc, held, "assign")


async def release_command(update: Update, context: BotContext, svc: Services) -> None:
    """/release N: nobody holds the ticket any more."""
    number, _ = await _ticket_and_rest(update, svc, _command_parts(update)[1])
    if number is None:
        await say(update, "staff/desk/usage", command="release")
        return
    held = await desk.release(svc.db, number, actor=_actor(update), now=svc.now())
    await _tell_held(update, svc, held, "release")


async def _tell_held(update: Update, svc: Services, held: desk.Held, how: str) -> None:
    log.info("%s %s by Telegram user %s", held.number, how, user_id(update))
    sent = await say(
        update,
        "staff/desk/held",
        reply_markup=ticket_buttons(held.ticket.id, held.ticket.status == "closed"),
        held=held,
        how=how,
        who=_who(update),
    )
    await _remember(svc, sent, held.ticket.id)


async def mine_command(update: Update, context: BotContext, svc: Services) -> None:
    """/mine: the open tickets I hold."""
    await _send_mine(update, svc, 0)


async def _send_mine(update: Update, svc: Services, page: int) -> None:
    listing = await staff.list_tickets(
        svc.db, answer_days=svc.answer_days, now=svc.now(), page=page, holder_id=user_id(update)
    )
    text = render("chat/staff/list.txt", listing=listing)
    await send_or_edit(update, text, pager("sd:mine", listing.page, listing.pages, "staff"))


# --- canned answers ----------------------------------------------------------------------------

# `/reply PK-000123 #tartozas` (or `/reply #tartozas` in reply to a ticket's message): the
# canned answer, filled and shown before it goes; any other /reply is bot/staff.py's.
_CANNED_REPLY = re.compile(r"^/reply(?:@\w+)?\s+(?:(\S+)\s+)?#([a-z0-9][a-z0-9_-]*)\s*$")


async def on_canned_reply(update: Update, context: BotContext) -> None:
    """/reply N #name — staff only; never passed on."""
    if await _allowed(update, context, "/reply", command=True):
        svc = context.services
        match = _CANNED_REPLY.match(text_of(update))
        assert match is not None  # the handler's filter matched it
        number, _ = await _ticket_and_rest(update, svc, match[1] or "")
        try:
            if number is None:
                await say(update, "staff/usage", command="reply")
            else:
                await _preview(update, svc, number, match[2])
        except StaffError as error:
            await _desk_error(update, error)
    raise ApplicationHandlerStop


async def _choose_canned(update: Update, svc: Services, number: int) -> None:
    """📝 Sablon: the canned answers, one button each."""
    ticket = await staff.find(svc.db, number)
    label = tickets.ticket_number(ticket.id)
    choices = canned.available(svc.settings.canned_dir)
    buttons = [
        InlineKeyboardButton(item.name, callback_data=f"sd:cn:{ticket.id}:{item.name}")
        for item in choices
    ]
    rows = [buttons[start : start + 3] for start in range(0, len(buttons), 3)]
    sent = await say(
        update,
        "staff/desk/canned_list",
        reply_markup=InlineKeyboardMarkup(rows) if rows else None,
        number=label,
        canned=choices,
    )
    await _remember(svc, sent, ticket.id)


async def _preview(update: Update, svc: Services, number: int, name: str) -> None:
    """The canned answer filled for the ticket, with ✅ Elküldöm and ✖️ Mégse; a reply to
    it (the clerk's changed text) answers the ticket instead."""
    preview = await canned.fill_draft(
        svc.db,
        svc.settings.canned_dir,
        number,
        name,
        svc.facts,
        actor=_actor(update),
        now=svc.now(),
    )
    draft = preview.draft
    markup = inline(
        [[("send_canned", f"sd:send:{draft.id}"), ("drop_canned", f"sd:drop:{draft.id}")]],
        "staff",
    )
    sent = await say(
        update,
        "staff/desk/canned_preview",
        reply_markup=markup,
        draft=draft,
        cautions=preview.cautions,
        number=tickets.ticket_number(draft.ticket_id),
        who=_who(update),
    )
    await _remember(svc, sent, draft.ticket_id)
    await canned.draft_posted(svc.db, draft.id, sent.chat_id, sent.message_id)


async def _send_draft(
    update: Update, svc: Services, draft_id: int, text: str | None = None
) -> None:
    """✅ Elküldöm (or, with `text`, the clerk's changed text in reply to the draft): the
    draft is used up, whoever comes next is told who sent it."""
    draft, result = await canned.send_draft(
        svc.db,
        svc.settings,
        draft_id,
        text=text,
        actor=_actor(update),
        by=_who(update),
        once=once_key(update),
        now=svc.now(),
    )
    log.info(
        "%s answered with the canned %s%s by Telegram user %s (%s)",
        result.number,
        draft.name,
        " (changed)" if text is not None else "",
        user_id(update),
        result.via,
    )
    await _unbutton(update, draft)
    sent = await say(
        update,
        "staff/answered",
        reply_markup=ticket_buttons(result.ticket.id, result.ticket.status == "closed"),
        answered=result,
        who=_who(update),
    )
    await _remember(svc, sent, result.ticket.id)


async def answer_draft(update: Update, svc: Services, draft: canned.Draft, text: str) -> None:
    """A clerk's reply to a draft's message: their changed text goes instead (once; the
    draft is used up) — `bot.staff` hands such replies here."""
    try:
        await _send_draft(update, svc, draft.id, text)
    except StaffError as error:
        await _desk_error(update, error)


async def _drop_draft(update: Update, svc: Services, draft_id: int) -> None:
    draft = await canned.drop_draft(svc.db, draft_id, by=_who(update), now=svc.now())
    await _unbutton(update, draft)
    await say(
        update,
        "staff/desk/canned_dropped",
        number=tickets.ticket_number(draft.ticket_id),
        who=_who(update),
    )


async def _unbutton(update: Update, draft: canned.Draft) -> None:
    """The used-up draft's message loses its ✅ Elküldöm and ✖️ Mégse (a press on them would
    be refused anyway: this only spares the clerk the try)."""
    if draft.chat_id is None or draft.message_id is None:
        return
    try:
        await update.get_bot().edit_message_reply_markup(
            chat_id=draft.chat_id, message_id=draft.message_id, reply_markup=None
        )
    except TelegramError as error:  # gone, or already without buttons: nothing to do
        log.info("draft %d's buttons not removed: %s", draft.id, error)


# --- search ---------------------------------------------------------------------------------------


async def search_command(update: Update, context: BotContext, svc: Services) -> None:
    """/search words: tickets by number, customer ID, address, name or words, newest first."""
    query = _command_parts(update)[1]
    if not query.strip():
        await say(update, "staff/desk/usage", command="search")
        return
    context.drafts[SEARCH] = query
    await _send_found(update, svc, query, 0)


async def _send_found(update: Update, svc: Services, query: str, page: int) -> None:
    found = await desk.search(svc.db, query, answer_days=svc.answer_days, now=svc.now(), page=page)
    text = render("chat/staff/desk/search.txt", found=found)
    await send_or_edit(update, text, pager("sd:search", found.page, found.pages, "staff"))


# --- merging ------------------------------------------------------------------------------------


async def merge_command(update: Update, context: BotContext, svc: Services) -> None:
    """/merge N M: two tickets about the same thing become the older one."""
    first, rest = await _ticket_and_rest(update, svc, _command_parts(update)[1])
    second = tickets.parse_ticket_number(rest.split()[0]) if rest.split() else None
    if first is None or second is None:
        await say(update, "staff/desk/usage", command="merge")
        return
    merged = await desk.merge(svc.db, first, second, actor=_actor(update), now=svc.now())
    log.info("%s merged into %s by Telegram user %s", merged.gone, merged.number, user_id(update))
    sent = await say(
        update,
        "staff/desk/merged",
        reply_markup=ticket_buttons(merged.kept.id, merged.kept.status == "closed"),
        merged=merged,
        who=_who(update),
    )
    await _remember(svc, sent, merged.kept.id)


_ACTIONS: dict[str, Action] = {
    "link": link_command,
    "note": note_command,
    "editnote": editnote_command,
    "take": take_command,
    "assign": assign_command,
    "release": release_command,
    "mine": mine_command,
    "search": search_command,
    "merge": merge_command,
}


# --- buttons ------------------------------------------------------------------------------------


async def on_button(update: Update, context: BotContext) -> None:
    """🙋 Átveszem, ◀ ▶ of /mine — staff only; never passed on."""
    query = query_of(update)
    _, action, value, extra = ([*button_data(update).split(":"), "", "", ""])[:4]
    if not await _allowed(update, context, f"button {action}", command=False):
        raise ApplicationHandlerStop
    svc = context.services
    number = tickets.small_number(value)
    if number is None:
        await query.answer()
        raise ApplicationHandlerStop
    try:
        if action == "mine":
            await _send_mine(update, svc, number)
        elif action == "search":
            last = context.drafts.get(SEARCH)
            if last:
                await _send_found(update, svc, str(last), number)
            else:
                await query.answer()
        elif action == "take":
            await query.answer()
            await _take(update, svc, number)
        elif action == "canned":
            await query.answer()
            await _choose_canned(update, svc, number)
        elif action == "cn" and canned.valid_name(extra):
            await query.answer()
            await _preview(update, svc, number, extra)
        elif action == "send":
            await query.answer()
            await _send_draft(update, svc, number)
        elif action == "drop":
            await query.answer()
            await _drop_draft(update, svc, number)
        else:
            await query.answer()
    except StaffError as error:
        await _desk_error(update, error)
    raise ApplicationHandlerStop


# --- the customer's rating of a closed ticket -------------------------------------------------


def rating_buttons(rating_id: int) -> InlineKeyboardMarkup:
    """1 … 5 under the offer in the customer's chat (`rt:<rating>:<stars>`)."""
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(f"{stars} ⭐", callback_data=f"rt:{rating_id}:{stars}")
                for stars in ratings.STARS
            ]
        ]
    )


async def on_rating_button(update: Update, context: BotContext) -> None:
    """A customer's tap on a star: only the ticket's own customer rates it."""
    query = query_of(update)
    _, rating_id, stars = ([*button_data(update).split(":"), "", ""])[:3]
    svc = context.services
    rated = None
    if rating_id.isdigit() and stars.isdigit() and len(rating_id) <= 12:
        rated = await ratings.rate_in_chat(
            svc.db, int(rating_id), int(stars), user_id(update), svc.now()
        )
    await query.answer()
    if rated is None:
        await say(update, "staff/desk/rate_gone")
    else:
        log.info("%s rated %d by its customer in the chat", rated.number, rated.stars)
        # The buttons stay: a customer who changes their mind taps again.
        await send_or_edit(
            update,
            render("chat/staff/desk/rated.txt", rated=rated),
            rating_buttons(int(rating_id)),
        )
    raise ApplicationHandlerStop


async def on_rating_link(update: Update, context: BotContext) -> None:
    """`/start rt_<token>_<stars>`: the closing mail's link rates with one tap."""
    svc = context.services
    payload = context.args[0] if context.args else ""
    rated = await ratings.rate_by_link(svc.db, payload, svc.now())
    if rated is None:
        await say(update, "staff/desk/rate_gone")
    else:
        log.info("%s rated %d by its customer's mail link", rated.number, rated.stars)
        await say(update, "staff/desk/rated", rated=rated)
    raise ApplicationHandlerStop


def handlers() -> list[BaseHandler]:
    """The desk's handlers, for the staff group (before the customer handlers)."""
    new_message = F.UpdateType.MESSAGE  # an edited message must not act twice
    return [
        CommandHandler(list(COMMANDS), on_command, filters=new_message),
        CommandHandler("reply", on_canned_reply, filters=new_message & F.Regex(_CANNED_REPLY)),
        CallbackQueryHandler(on_button, pattern=r"^sd:"),
        # A customer's rating (not staff): a star button, or the closing mail's link.
        CallbackQueryHandler(on_rating_button, pattern=r"^rt:"),
        CommandHandler(
            "start",
            on_rating_link,
            filters=new_message & F.ChatType.PRIVATE & F.Regex(rf"^/start\s+{ratings.LINK_PREFIX}"),
        ),
    ]

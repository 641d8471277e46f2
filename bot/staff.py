"""The staff chat: clerks list, read, answer, close and reopen tickets in Telegram.

Registered in group -2, before every customer handler (`bot/app.py`). Each
update taken here ends in `ApplicationHandlerStop`, so the customer handlers
never see it: a non-staff /tickets gets the refusal, not "unknown command".

- Commands (the staff chat, or a staff member's private chat with the bot):
  /tickets, /ticket N, /reply N text, /close N, /reopen N, /file N n. N is
  `PK-000123` or `123`, and may be left out when the command replies to a
  ticket's message.
- Buttons on announcements and threads: Megnyitás, Válasz, Lezárás
  (Újranyitás), and ◀ ▶ on the list (`st:<action>:<n>`); under a thread, 📎 1,
  📎 2, … send the ticket's files as documents (`st:file:<ticket>:<n>`).
- A reply to any bot message about a ticket (announcement, thread, prompt,
  confirmation) answers that ticket.
- The customer's side of an answer: a Telegram reply to the answer (or to the
  prompt of its "↩️ Válasz erre" button, `tk:reply:<n>`, whose step is
  `conversations.report`'s) adds the customer's message to their ticket; a
  closed one reopens and is announced. Last, a customer's text in the minutes
  after their report joins it (`conversations.report.follow_up_handlers`).

The rules are `core.staff`'s (the command line uses the same functions); this
module only turns updates into its calls and its results into texts.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable

from telegram import (
    Chat,
    ForceReply,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    Message,
    Update,
)
from telegram.ext import (
    ApplicationHandlerStop,
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
)
from telegram.ext import filters as F

from conversations import dialogues, report
from conversations.common import (
    BotContext,
    Services,
    button_data,
    chat_of,
    inline,
    once_key,
    pager,
    query_of,
    say,
    send_or_edit,
    text_of,
    user_id,
)
from core import attachments, canned, desk, staff, tickets
from core.attachments import AttachmentError, TicketFile
from core.staff import StaffError
from core.texts import labels, render

log = logging.getLogger(f"petkomm.{__name__}")

COMMANDS = ("tickets", "ticket", "reply", "close", "reopen", "file")
THREAD_ENTRY_LIMIT = 1200  # characters of one message in the thread view
FILE_BUTTONS = 20  # 📎 buttons under a thread (the list names them all)
FILE_BUTTONS_PER_ROW = 5
MESSAGE_BUDGET = 3900  # Telegram takes 4096 characters; the rendered HTML is longer than that

_COMMAND = re.compile(r"^/(\w+)(?:@\w+)?(.*)$", re.DOTALL)
_FIRST_WORD = re.compile(r"(\S+)\s*(.*)", re.DOTALL)

Action = Callable[[Update, BotContext, Services], Awaitable[None]]


# --- texts and buttons ------------------------------------------------------------------


def button_label(name: str) -> str:
    """A staff button's label by its purpose (`open`, `reply`, `close`, …)."""
    return labels("staff")[name]


def ticket_buttons(
    ticket_id: int, closed: bool, files: list[TicketFile] | None = None
) -> InlineKeyboardMarkup:
    """Megnyitás · Válasz · Lezárás (Újranyitás when closed) under a ticket's message, and a
    📎 n button for each of its files that was kept (`files`)."""
    last = ("reopen", f"st:reopen:{ticket_id}") if closed else ("close", f"st:close:{ticket_id}")
    markup = inline(
        [
            [("open", f"st:open:{ticket_id}"), ("reply", f"st:reply:{ticket_id}"), last],
            # The clerk's desk (bot/desk.py, issue 17).
            [("take", f"sd:take:{ticket_id}"), ("canned", f"sd:canned:{ticket_id}")],
        ],
        "staff",
    )
    kept = [file for file in files or [] if file.withheld is None][:FILE_BUTTONS]
    if not kept:
        return markup
    label = button_label("file")
    buttons = [
        InlineKeyboardButton(
            label.format(number=file.number), callback_data=f"st:file:{ticket_id}:{file.number}"
        )
        for file in kept
    ]
    rows = [
        buttons[start : start + FILE_BUTTONS_PER_ROW]
        for start in range(0, len(buttons), FILE_BUTTONS_PER_ROW)
    ]
    return InlineKeyboardMarkup([*markup.inline_keyboard, *rows])


def customer_answer_buttons(ticket_id: int) -> InlineKeyboardMarkup:
    """The "↩️ Válasz erre" button under a staff answer in the customer's chat."""
    return _buttons([("customer_reply", f"tk:reply:{ticket_id}")])


def _buttons(row: list[tuple[str, str]]) -> InlineKeyboardMarkup:
    return inline([row], "staff")


def _who(update: Update) -> str:
    user = update.effective_user
    return user.full_name if user else "?"


async def _remember(svc: Services, message: Message, ticket_id: int) -> None:
    await staff.remember_post(svc.db, message.chat_id, message.message_id, ticket_id)


# --- who may act ------------------------------------------------------------------------


async def _allowed(update: Update, context: BotContext, what: str, *, command: bool) -> bool:
    """Staff only (and commands only in the staff chat or privately); else refuse and audit."""
    svc = context.services
    user, chat = update.effective_user, update.effective_chat
    assert user is not None and chat is not None
    reason = staff.refusal(
        user.id,
        chat.id,
        staff_ids=svc.staff_ids,
        staff_chat_id=svc.staff_chat_id,
        command=command,
    )
    if reason is None:
        # Known by name from now on, so a colleague can hand them a ticket (/assign @name).
        await desk.member_seen(svc.db, user.id, user.username, user.full_name, svc.now())
        return True
    await staff.refuse(svc.db, user_id=user.id, what=what, reason=reason, now=svc.now())
    log.info("staff attempt %s by Telegram user %s refused: %s", what, user.id, reason)
    if update.callback_query is not None:
        await update.callback_query.answer(render("chat/staff/refused_alert.txt"), show_alert=True)
    else:
        # In a group the ✉️ Hibabejelentés button is not there: the bot's private chat is.
        await say(
            update,
            "staff/refused",
            in_group=chat.type != Chat.PRIVATE,
            bot_username=context.bot.username or "",
        )
    return False


# --- the parts of a command ------------------------------------------------------------------


def _command_parts(update: Update) -> tuple[str, str]:
    """(`reply`, the rest verbatim — newlines kept) of `/reply@bot PK-1 text…`."""
    message = update.effective_message
    match = _COMMAND.match((message.text or "") if message else "")
    if match is None:
        return "", ""
    return match[1].lower(), match[2].strip()


async def _replied_ticket(update: Update, svc: Services) -> int | None:
    """The ticket of the bot message this message replies to, if it is one."""
    message = update.effective_message
    target = message.reply_to_message if message else None
    if target is None:
        return None
    return await staff.ticket_of_post(svc.db, target.chat_id, target.message_id)


async def _ticket_and_rest(update: Update, svc: Services, rest: str) -> tuple[int | None, str]:
    """The ticket a command names (or replies to) and the text after its number.

    In reply to a ticket's message a bare number is taken as the ticket only if
    it is that ticket, so `/reply 12 órakor érkezünk` answers the ticket replied to.
    """
    replied = await _replied_ticket(update, svc)
    match = _FIRST_WORD.match(rest)
    token, after = (match[1], match[2]) if match else ("", "")
    number = tickets.parse_ticket_number(token) if token else None
    if number is not None and (
        replied is None or number == replied or tickets.marked_as_ticket_number(token)
    ):
        return number, after.strip()
    return replied, rest


# --- commands ----------------------------------------------------------------------------


async def on_command(update: Update, context: BotContext) -> None:
    """/tickets, /ticket, /reply, /close, /reopen — staff only; never passed on."""
    command, _ = _command_parts(update)
    if await _allowed(update, context, f"/{command}", command=True):
        await _ACTIONS[command](update, context, context.services)
    raise ApplicationHandlerStop


async def list_command(update: Update, context: BotContext, svc: Services) -> None:
    """/tickets: the open tickets, oldest first, a page at a time."""
    await _send_list(update, svc, 0)


async def ticket_command(update: Update, context: BotContext, svc: Services) -> None:
    """/ticket N: the whole thread."""
    number, _ = await _ticket_and_rest(update, svc, _command_parts(update)[1])
    if number is None:
        await say(update, "staff/usage", command="ticket")
        return
    await _send_thread(update, svc, number)


async def reply_command(update: Update, context: BotContext, svc: Services) -> None:
    """/reply N text: answer the customer."""
    number, text = await _ticket_and_rest(update, svc, _command_parts(update)[1])
    if number is None:
        await say(update, "staff/usage", command="reply")
        return
    await _answer(update, context, svc, number, text)


async def close_command(update: Update, context: BotContext, svc: Services) -> None:
    """/close N."""
    await _status_command(update, svc, "close")


async def reopen_command(update: Update, context: BotContext, svc: Services) -> None:
    """/reopen N."""
    await _status_command(update, svc, "reopen")


async def file_command(update: Update, context: BotContext, svc: Services) -> None:
    """/file N n: the ticket's n-th file, sent as a document."""
    number, rest = await _ticket_and_rest(update, svc, _command_parts(update)[1])
    position = rest.split()[0].lstrip("#").rstrip(".") if rest.split() else ""
    if number is None or tickets.small_number(position) is None:
        await say(update, "staff/usage", command="file")
        return
    await _send_file(update, svc, number, int(position))


async def _status_command(update: Update, svc: Services, command: str) -> None:
    number, _ = await _ticket_and_rest(update, svc, _command_parts(update)[1])
    if number is None:
        await say(update, "staff/usage", command=command)
        return
    await _set_status(update, svc, number, command)


_ACTIONS: dict[str, Action] = {
    "tickets": list_command,
    "ticket": ticket_command,
    "reply": reply_command,
    "close": close_command,
    "reopen": reopen_command,
    "file": file_command,
}


# --- what the commands and buttons do ----------------------------------------------------


async def _send_list(update: Update, svc: Services, page: int) -> None:
    """A page of the list: sent anew, or edited in place by ◀ ▶."""
    listing = await staff.list_tickets(
        svc.db, answer_days=svc.answer_days, now=svc.now(), page=page
    )
    text = render("chat/staff/list.txt", listing=listing)
    await send_or_edit(update, text, pager("st:list", listing.page, listing.pages, "staff"))


def thread_text(view: staff.Thread, files: list[TicketFile] | None = None) -> str:
    """The thread as one message: the newest messages that fit, older ones counted, and
    the ticket's files listed (number, name, type, size)."""
    entries = view.entries
    text = ""
    for start in range(len(entries) + 1):
        text = render(
            "chat/staff/thread.txt",
            summary=view.summary,
            entries=entries[start:],
            hidden=start,
            limit=THREAD_ENTRY_LIMIT,
            files=files or [],
            files_shown=FILE_BUTTONS,
            beside=view.beside,
        )
        if len(text) <= MESSAGE_BUDGET:
            break
    return text


async def _send_thread(update: Update, svc: Services, number: int) -> None:
    try:
        view = await staff.thread(
            svc.db,
            number,
            answer_days=svc.answer_days,
            actor=staff.telegram_actor(user_id(update)),
            now=svc.now(),
        )
    except StaffError as error:
        await _error(update, error)
        return
    ticket = view.summary.ticket
    files = await attachments.files_of(svc.db, ticket.id)
    sent = await chat_of(update).send_message(
        thread_text(view, files), reply_markup=ticket_buttons(ticket.id, view.summary.closed, files)
    )
    await _remember(svc, sent, ticket.id)


async def _send_file(update: Update, svc: Services, number: int, position: int) -> None:
    """One of a ticket's files, as a document in this chat (audited)."""
    try:
        opened = await attachments.open_file(
            svc.db, number, position, actor=staff.telegram_actor(user_id(update)), now=svc.now()
        )
    except AttachmentError as error:
        await say(
            update,
            "staff/file_error",
            kind=error.kind,
            number=error.number,
            position=error.position,
            reason=error.reason,
        )
        return
    file = opened.file
    log.info(
        "%s file %d sent to Telegram user %s",
        tickets.ticket_number(number),
        position,
        user_id(update),
    )
    sent = await chat_of(update).send_document(
        InputFile(opened.content, filename=file.filename),
        caption=render(
            "chat/staff/file_caption.txt", number=tickets.ticket_number(number), file=file
        ),
        disable_content_type_detection=True,
    )
    await _remember(svc, sent, number)


async def _answer(
    update: Update, context: BotContext, svc: Services, number: int, text: str
) -> None:
    try:
        result = await staff.answer(
            svc.db,
            svc.settings,
            number,
            text,
            actor=staff.telegram_actor(user_id(update)),
            once=once_key(update),
            now=svc.now(),
        )
    except StaffError as error:
        await _error(update, error)
        return
    log.info("%s answered by Telegram user %s (%s)", result.number, user_id(update), result.via)
    sent = await say(
        update,
        "staff/answered",
        reply_markup=ticket_buttons(result.ticket.id, result.ticket.status == "closed"),
        answered=result,
        who=_who(update),
    )
    await _remember(svc, sent, result.ticket.id)


async def _set_status(update: Update, svc: Services, number: int, command: str) -> None:
    change = staff.close if command == "close" else staff.reopen
    try:
        result = await change(
            svc.db,
            number,
            actor=staff.telegram_actor(user_id(update)),
            once=once_key(update),
            now=svc.now(),
        )
    except StaffError as error:
        await _error(update, error)
        return
    template = "staff/closed" if command == "close" else "staff/reopened"
    closed = result.ticket.status == "closed"
    sent = await say(
        update,
        template,
        reply_markup=ticket_buttons(result.ticket.id, closed),
        change=result,
        who=_who(update),
    )
    await _remember(svc, sent, result.ticket.id)


async def _error(update: Update, error: StaffError) -> None:
    await say(update, "staff/error", kind=error.kind, number=error.number, limit=error.limit)


# --- buttons -----------------------------------------------------------------------------------


async def on_staff_button(update: Update, context: BotContext) -> None:
    """Megnyitás, Válasz, Lezárás, Újranyitás, ◀ ▶ — staff only; never passed on."""
    query = query_of(update)
    _, action, value, extra = ([*button_data(update).split(":"), "", "", ""])[:4]
    if not await _allowed(update, context, f"button {action}", command=False):
        raise ApplicationHandlerStop
    svc = context.services
    parsed = tickets.small_number(value)
    if parsed is None:
        await query.answer()
        raise ApplicationHandlerStop
    number = parsed
    if action == "list":
        await _send_list(update, svc, number)
    elif action == "open":
        await query.answer()
        await _send_thread(update, svc, number)
    elif action == "reply":
        await query.answer()
        await _ask_for_answer(update, svc, number)
    elif action in ("close", "reopen"):
        await query.answer()
        await _set_status(update, svc, number, action)
    elif action == "file" and tickets.small_number(extra) is not None:
        await query.answer()
        await _send_file(update, svc, number, int(extra))
    else:
        await query.answer()
    raise ApplicationHandlerStop


async def _ask_for_answer(update: Update, svc: Services, number: int) -> None:
    """Válasz: a prompt the clerk answers by replying to it (the reply box opens by itself)."""
    ticket = await tickets.get(svc.db, number)
    if ticket is None:
        await _error(update, StaffError(StaffError.NOT_FOUND, tickets.ticket_number(number)))
        return
    label = tickets.ticket_number(number)
    sent = await say(
        update,
        "staff/ask_reply",
        reply_markup=ForceReply(selective=True, input_field_placeholder=label),
        number=label,
        who=_who(update),
        user_id=user_id(update),
    )
    await _remember(svc, sent, ticket.id)


# --- replies to the bot's messages ----------------------------------------------------------


async def on_reply(update: Update, context: BotContext) -> None:
    """A reply to a ticket's message: a staff answer, or a customer's reply to an answer.

    A customer's reply to any other message may be more of the report they have just
    sent (`conversations.report.follow_up`); else it is left to the customer handlers.
    """
    message = update.effective_message
    target = message.reply_to_message if message else None
    chat = chat_of(update)
    if (
        target is not None
        and target.from_user is not None
        and target.from_user.id == context.bot.id
    ):
        await _reply_to_bot(update, context, target.message_id)
    if chat.type == Chat.PRIVATE:
        await report.follow_up(update, context)  # more of a report just sent, perhaps


async def _reply_to_bot(update: Update, context: BotContext, message_id: int) -> None:
    """A reply to one of the bot's messages: taken (and stopped here) when it is a ticket's."""
    svc = context.services
    chat = chat_of(update)
    ticket_id = await staff.ticket_of_post(svc.db, chat.id, message_id)
    if ticket_id is not None:
        if await _allowed(update, context, "reply", command=False):
            text = text_of(update)
            draft = await canned.draft_of_post(svc.db, chat.id, message_id)
            if text and draft is not None:
                from bot import desk as desk_door  # it builds on this module

                await desk_door.answer_draft(update, svc, draft, text)
            elif text:
                await _answer(update, context, svc, ticket_id, text)
            else:
                await say(update, "staff/error", kind="text_only", number="", limit=None)
        raise ApplicationHandlerStop
    if chat.type == Chat.PRIVATE:
        ticket_id = await tickets.ticket_of_customer_post(svc.db, chat.id, message_id)
        # After "Válasz erre" the dialogue's reply step takes it (and ends there).
        if ticket_id is not None and dialogues.current_state(update) != report.REPLY:
            await _customer_reply(update, context, svc, ticket_id)
            raise ApplicationHandlerStop


async def _customer_reply(
    update: Update, context: BotContext, svc: Services, ticket_id: int
) -> None:
    """The customer's message joins their ticket (reopening it if closed)."""
    await report.add_reply(update, context, ticket_id)


# Shared with the staff's notices about outages (`bot.notices`).
allowed = _allowed
command_parts = _command_parts


def handlers() -> list[BaseHandler]:
    """The staff handlers, for a group before the customer handlers (order matters)."""
    new_message = F.UpdateType.MESSAGE  # an edited message must not answer twice
    return [
        CommandHandler(list(COMMANDS), on_command, filters=new_message),
        CallbackQueryHandler(on_staff_button, pattern=r"^st:"),
        MessageHandler(new_message & F.REPLY & ~F.COMMAND, on_reply),
        # Last: a customer's text in the minutes after their report joins it; any other
        # message or button passes on to the customer handlers (and may end those minutes).
        *report.follow_up_handlers(dialogues.current_state),
    ]

"""Hibabejelentés: a report typed in the chat becomes a numbered ticket; what follows joins it.

Open to everyone (a person who cannot log in needs it most); a logged-in
customer's report carries their customer ID. "Módosítás kérése" on the
customer-data page opens the same dialogue with its own subject. Whether a
text is taken is `core.reports`' rule, the same for a report, more of it, and
a reply to an answer.

- More of the report: what the customer types in the minutes after it
  (`reports.FOLLOW_UP_MINUTES` after its last message) joins its ticket, with a
  "Hozzáfűztük…" note (`follow_up`, before the dialogue table: see
  `follow_up_handlers`). An older customer presses Enter mid-sentence, and Telegram
  cuts a long paste in parts of 4096 characters: either way one ticket. We join
  rather than ask "Elküldjük, vagy folytatja?": nothing waits for a button an
  older customer may never press, the number is given at once, and every join
  is told. A button, a command or an inline button ends the minutes (the
  customer has moved on); so does a text that comes later.
- A reply to a staff answer: "↩️ Válasz erre" under the answer opens the
  REPLY step; the next text is the reply (it joins the ticket, reopening a
  closed one), and the step ends. Mégse, /start or a menu button leave it like
  any dialogue; the state is persisted, so a restart keeps it. A Telegram reply
  to the answer works too, without the button (`bot.staff`).
- A text that sounds urgent (`core.urgency`: a burst pipe, flowing water, no
  water, a gas smell) is told whom to call now, before anything else.

What is typed outside a dialogue is read here first (`follow_up`, in the staff
group, before the dialogue table), by `core.reports.read`:
- a password typed there (the customer's own, or a token shaped like one) is
  deleted with the note and never kept (`conversations.secrecy.stray_password`);
- in the report's minutes, a request of its own (a button's words, "válasz
  erre") is done, not filed; a new report ("panaszt szeretnék tenni…") asks
  "Új bejelentés / Hozzáfűzöm"; anything else joins the report;
- after a staff answer of the last days to an open ticket, a plain message asks
  "Ez a PK-… számú bejelentéséhez tartozik?" [Igen, hozzáfűzöm] [Nem];
- a text that sounds urgent gets the on-call number first, and is offered as a
  report [Elküldöm így] [Kiegészítem].
The text asked about waits in `PENDING` until its button (`rp:…`) is pressed.
A typed text that leads to Hibabejelentés and says more than its words
("folyik a víz mindenhol, mit csináljak") is the report itself, not asked again.
"Válasz erre" typed starts the reply to the newest answer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from telegram import Chat, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.ext import ApplicationHandlerStop, BaseHandler, CallbackQueryHandler, MessageHandler
from telegram.ext import filters as F

from conversations.common import (
    ANSWER,
    END,
    PRIVATE,
    BotContext,
    Dialogue,
    NextState,
    cancel_keyboard,
    chat_id,
    chat_of,
    keyboard_for,
    once_key,
    opened_by,
    query_of,
    say,
    step,
    text_of,
    user_id,
)
from conversations.secrecy import stray_password
from core import accounts, intents, reports, tickets
from core.accounts import SessionState
from core.texts import labels, render

log = logging.getLogger(f"petkomm.{__name__}")

# The states (their values are what the persistence stores: never rename them).
TEXT = "report_text"
REPLY = "report_reply"

SUBJECT = "report_subject"  # user_data: the ticket's subject when the dialogue gives one
REPLY_TICKET = "report_reply_ticket"  # user_data: the ticket the REPLY step writes into
# user_data, outside any dialogue: {"ticket": id, "at": time of its last message} while the
# report's minutes last (what the customer types then joins it).
FOLLOW_UP = "report_follow_up"
# user_data, outside any dialogue: {"text": …} a text the bot asked about with inline buttons
# (`rp:…`): sent, joined or left as the customer chooses.
PENDING = "report_pending"
FIRST = "report_first"  # user_data: what the customer wrote before "Kiegészítem"

# Which dialogue state the update's customer is in (`conversations.dialogues.current_state`,
# given by `follow_up_handlers`: the dialogue table imports this module).
_state_of: Callable[[Update], str | None] = lambda update: None  # noqa: E731


async def start(update: Update, context: BotContext) -> NextState:
    """Ask for the report's text; a typed request that already says what is wrong ("folyik
    a víz mindenhol, mit csináljak") is the report's text: taken, not asked again."""
    if update.callback_query:
        await update.callback_query.answer()
    context.drafts[SUBJECT] = None
    context.drafts.pop(FIRST, None)
    # Only a typed message: a pressed button's update carries the bot's own text.
    typed = (update.message.text or "").strip() if update.message else ""
    if typed and not typed.startswith("/") and typed != label_text("report"):
        if reports.says_more(typed):
            return await _open(update, context, typed, kept=True)
        if set(reports.content_words(typed)) - _FILLER:
            # A little beside the button's words ("a szomszédnál is folyik"): never dropped;
            # what comes next is sent with it.
            context.drafts[FIRST] = typed
            await say(update, "report/ask_kept", reply_markup=cancel_keyboard(), text=typed)
            return TEXT
    await say(update, "report/ask", reply_markup=cancel_keyboard())
    return TEXT


# Words around a request for the report's prompt that say nothing of the problem
# ("bejelentést tennék", "panaszt szeretnék tenni most"), normalised.
_FILLER = frozenset(
    "tennek tenni tenne teszek szeretnek szeretne szeretnem akarok akarnek kell kellene "
    "kene van volna lenne egy valamit most kerem kerek".split()
)


def label_text(name: str) -> str:
    """A customer button's label (labels.json)."""
    return labels("customer")[name]


async def start_change_request(update: Update, context: BotContext) -> NextState:
    """Ask what should change in the customer's data."""
    if update.callback_query:
        await update.callback_query.answer()
    context.drafts[SUBJECT] = render("chat/report/change_subject.txt")
    await say(update, "report/ask_change", reply_markup=cancel_keyboard())
    return TEXT


async def got_text(update: Update, context: BotContext) -> NextState:
    """Open the ticket, give its number (and whom to call, if urgent); what follows joins it."""
    text = text_of(update).strip()
    first = context.drafts.get(FIRST)
    svc = context.services
    _, account = await accounts.current_account(svc.db, user_id(update), svc.policy, svc.now())
    if await stray_password(
        update, context, text, account, reply_markup=cancel_keyboard(), in_dialogue=True
    ):
        return TEXT
    if first:
        text = f"{first}\n{text}"
    return await _open(update, context, text, kept=False)


async def _open(update: Update, context: BotContext, text: str, *, kept: bool) -> NextState:
    """The text becomes a ticket: its number (and whom to call, if urgent) is told; a text
    refused for its length is asked again, one refused for the allowance leaves the dialogue
    (said not kept, with our phone number)."""
    svc = context.services
    now = svc.now()
    state, account = await accounts.current_account(svc.db, user_id(update), svc.policy, now)
    report = await reports.take_report(
        svc.db,
        text,
        telegram_user_id=user_id(update),
        chat_id=chat_id(update),
        customer_id=account.customer_id if account else None,
        subject=context.drafts.get(SUBJECT),
        once=once_key(update),
        now=now,
    )
    if isinstance(report, reports.Refusal):
        if report.template == "report/wait" or kept:
            context.drafts.pop(SUBJECT, None)
            context.drafts.pop(FIRST, None)
            await say(update, report.template, reply_markup=keyboard_for(state), **report.values)
            return END
        await say(update, report.template, reply_markup=None, **report.values)
        return TEXT
    context.drafts.pop(FIRST, None)
    change_request = context.drafts.pop(SUBJECT, None) is not None
    ticket = report.ticket
    number = tickets.ticket_number(ticket.id)
    context.drafts[FOLLOW_UP] = {"ticket": ticket.id, "at": now}
    if report.urgent:
        log.info("%s sounds urgent (%s)", number, ", ".join(report.urgent))
    sent = await say(
        update,
        "report/opened",
        reply_markup=keyboard_for(state),
        number=number,
        days=svc.answer_days,
        minutes=reports.FOLLOW_UP_MINUTES,
        urgent=report.urgent,
        kept=kept,
    )
    # A Telegram reply to the confirmation joins the ticket too, whenever it comes.
    await tickets.record_customer_post(svc.db, sent.chat_id, sent.message_id, ticket.id)
    if change_request and account is not None:  # a written copy to the registered address
        await accounts.mail_change_request(
            svc.db,
            svc.mailer,
            account,
            ticket_number=number,
            text=text,
            once=once_key(update),
            now=now,
        )
        await say(update, "report/change_copied")
    return END


# --- more of the report, in the minutes after it ----------------------------------------


def _forget_follow_up(context: BotContext) -> None:
    context.drafts.pop(FOLLOW_UP, None)


async def follow_up(update: Update, context: BotContext) -> None:
    """Read a text typed outside a dialogue before the dialogue table does (see the module's
    docstring): a stray password is deleted, more of a report joins it, a text beside a
    ticket or one that sounds urgent is asked about; each stops here. Anything else goes on
    to the other handlers, and a button, a command or a text that comes too late ends the
    report's minutes."""
    message = update.message
    if message is None or update.callback_query is not None:
        _forget_follow_up(context)  # an inline button: the customer has moved on
        return
    if message.text is None:
        return  # a photo or sticker is answered "text only" as ever; the minutes go on
    text = message.text.strip()
    if text.startswith("/") or message.text in set(labels("customer").values()):
        _forget_follow_up(context)
        return
    if _state_of(update) is not None:
        return  # inside a dialogue an answer is an answer (the report's steps check theirs)
    svc = context.services
    now = svc.now()
    state, account = await accounts.current_account(svc.db, user_id(update), svc.policy, now)
    if await stray_password(update, context, text, account, reply_markup=keyboard_for(state)):
        raise ApplicationHandlerStop
    if await _typed_answer(update, context, text):
        raise ApplicationHandlerStop
    logged_in = state is SessionState.ACTIVE
    reading = reports.read(text, logged_in=logged_in)
    marker: dict[str, Any] | None = context.drafts.get(FOLLOW_UP)
    if marker and now - float(marker["at"]) > reports.FOLLOW_UP_SECONDS:
        _forget_follow_up(context)
        marker = None
    if marker:
        await _in_the_minutes(update, context, text, reading, marker)
        return
    if reading is reports.Reading.MESSAGE:
        answered = await reports.answered_ticket(
            svc.db, user_id(update), now, days=reports.ANSWER_RECENT_DAYS, open_only=True
        )
        if answered is not None:
            context.drafts[PENDING] = {
                "text": text,
                "yes": f"reply:{answered.id}",
                "no": "no",
                "at": now,
            }
            await say(
                update,
                "report/belongs",
                reply_markup=_buttons(
                    [("report_yes", f"rp:reply:{answered.id}"), ("report_no", "rp:no")]
                ),
                number=tickets.ticket_number(answered.id),
                urgent=reports.urgency(text),
            )
            raise ApplicationHandlerStop
    urgent = reports.urgency(text)
    meant = intents.understand(text, logged_in=logged_in)
    to_report = meant.kind is intents.Kind.INTENT and meant.intents == ("report",)
    if urgent and not to_report:  # Hibabejelentés takes it itself (`start`)
        context.drafts[PENDING] = {"text": text, "yes": "send", "at": now}
        await say(
            update,
            "report/offer",
            reply_markup=_buttons([("report_send", "rp:send"), ("report_more", "rp:more")]),
            text=text,
            urgent=urgent,
        )
        raise ApplicationHandlerStop


async def _in_the_minutes(
    update: Update,
    context: BotContext,
    text: str,
    reading: reports.Reading,
    marker: dict[str, Any],
) -> None:
    """A text in the report's minutes: more of it, a new report (asked), or a request of its
    own (done by the handlers after this one)."""
    ticket_id = int(marker["ticket"])
    if reading is reports.Reading.NEW_REPORT:
        context.drafts[PENDING] = {"text": text}
        number = tickets.ticket_number(ticket_id)
        await say(
            update,
            "report/new_or_more",
            reply_markup=_buttons(
                [("report_new", "rp:new"), ("report_add", f"rp:add:{ticket_id}")], number=number
            ),
            number=number,
        )
        raise ApplicationHandlerStop
    if reading is not reports.Reading.MESSAGE:
        _forget_follow_up(context)  # a request, thanks or "mégse": the customer has moved on
        return
    svc = context.services
    now = svc.now()
    result = await reports.take_follow_up(
        svc.db,
        ticket_id,
        text,
        telegram_user_id=user_id(update),
        since=float(marker["at"]),
        once=once_key(update),
        now=now,
    )
    if result is None:
        _forget_follow_up(context)
        return
    if isinstance(result, reports.Refusal):
        await _refused(update, context, result)
        raise ApplicationHandlerStop
    await _added(update, context, result)
    raise ApplicationHandlerStop


async def _added(update: Update, context: BotContext, result: reports.ChatReply) -> None:
    """Told that the text joined the report just sent; its minutes start again."""
    svc = context.services
    number = tickets.ticket_number(result.ticket.id)
    context.drafts[FOLLOW_UP] = {"ticket": result.ticket.id, "at": svc.now()}
    log.info(
        "Telegram user %s added to %s%s",
        user_id(update),
        number,
        " (urgent)" if result.urgent else "",
    )
    state, _ = await accounts.current_account(svc.db, user_id(update), svc.policy, svc.now())
    await say(
        update,
        "report/added",
        reply_markup=keyboard_for(state),
        number=number,
        minutes=reports.FOLLOW_UP_MINUTES,
        urgent=result.urgent,
    )


async def _refused(update: Update, context: BotContext, refusal: reports.Refusal) -> None:
    """A refused text, answered with the customer's menu (never a dialogue's Mégse alone)."""
    svc = context.services
    state, _ = await accounts.current_account(svc.db, user_id(update), svc.policy, svc.now())
    await say(update, refusal.template, reply_markup=keyboard_for(state), **refusal.values)


def _buttons(row: list[tuple[str, str]], **values: str) -> InlineKeyboardMarkup:
    """One row of inline buttons from (label name, callback data); labels may name values."""
    names = labels("customer")
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(names[name].format(**values), callback_data=d) for name, d in row]]
    )


async def end_follow_up(update: Update, context: BotContext) -> None:
    """An inline button was pressed: the report's minutes are over (the button goes on to
    its own handler)."""
    _forget_follow_up(context)


def follow_up_handlers(state_of: Callable[[Update], str | None]) -> list[BaseHandler]:
    """What reads a text typed outside a dialogue first (`follow_up`), and ends a report's
    minutes: for a group before the dialogue table (the staff group, `bot.staff.handlers`).
    `state_of` tells the dialogue state an update's customer is in."""
    global _state_of
    _state_of = state_of
    return [
        MessageHandler(PRIVATE & F.UpdateType.MESSAGE, follow_up),
        CallbackQueryHandler(end_follow_up),
    ]


# --- a reply to a staff answer ------------------------------------------------------------


async def start_reply(update: Update, context: BotContext) -> NextState:
    """ "↩️ Válasz erre" under a staff answer: the next text is the reply."""
    query = query_of(update)
    svc = context.services
    message = query.message
    ticket_id = None
    if message is not None and chat_of(update).type == Chat.PRIVATE:
        ticket_id = await tickets.ticket_of_customer_post(
            svc.db, message.chat.id, message.message_id
        )
    await query.answer()
    if ticket_id is None or query.data != f"tk:reply:{ticket_id}":
        await say(update, "staff/customer_reply_gone")
        return END
    return await _ask_reply(update, context, ticket_id)


async def got_reply(update: Update, context: BotContext) -> NextState:
    """The customer's reply joins the ticket; the step ends (it waits again if refused)."""
    svc = context.services
    message = update.message
    ticket_id = context.drafts.get(REPLY_TICKET)
    target = message.reply_to_message if message else None
    if target is not None:  # a Telegram reply to one of the ticket's messages names it
        named = await tickets.ticket_of_customer_post(svc.db, target.chat_id, target.message_id)
        ticket_id = named or ticket_id
    if ticket_id is None:  # cannot happen: the step is entered with its ticket
        await say(update, "staff/customer_reply_gone")
        return END
    if not await add_reply(update, context, int(ticket_id), in_step=True):
        return REPLY
    context.drafts.pop(REPLY_TICKET, None)
    return END


async def start_typed_reply(update: Update, context: BotContext) -> NextState:
    """ "válasz erre" typed: the next text is the reply to the newest staff answer."""
    svc = context.services
    now = svc.now()
    ticket = await reports.answered_ticket(
        svc.db, user_id(update), now, days=reports.ANSWER_REPLY_DAYS, open_only=False
    )
    if ticket is None:
        state, _ = await accounts.current_account(svc.db, user_id(update), svc.policy, now)
        await say(update, "report/no_answer", reply_markup=keyboard_for(state))
        return END
    return await _ask_reply(update, context, ticket.id)


async def _ask_reply(update: Update, context: BotContext, ticket_id: int) -> NextState:
    context.drafts[REPLY_TICKET] = ticket_id
    sent = await say(
        update,
        "staff/customer_ask_reply",
        reply_markup=cancel_keyboard(),
        number=tickets.ticket_number(ticket_id),
    )
    # A Telegram reply to the prompt is the reply as well (bot.staff).
    await tickets.record_customer_post(
        context.services.db, sent.chat_id, sent.message_id, ticket_id
    )
    return REPLY


async def add_reply(
    update: Update, context: BotContext, ticket_id: int, *, in_step: bool = False
) -> bool:
    """The customer's message joins their ticket (reopening it if closed), and they are told;
    False when it should be sent again in the reply step (too long, not text, a password)."""
    svc = context.services
    text = text_of(update).strip()
    telegram_user = user_id(update)
    now = svc.now()
    state, account = await accounts.current_account(svc.db, telegram_user, svc.policy, now)
    markup = cancel_keyboard() if in_step else keyboard_for(state)
    if await stray_password(
        update, context, text, account, reply_markup=markup, in_dialogue=in_step
    ):
        return False
    result = await reports.take_reply(
        svc.db, ticket_id, text, telegram_user_id=telegram_user, once=once_key(update), now=now
    )
    if isinstance(result, reports.Refusal):
        if result.template == "report/wait":  # said not kept, with our phone: the step ends
            await say(update, result.template, reply_markup=keyboard_for(state), **result.values)
            return True
        await say(update, result.template, reply_markup=None, **result.values)
        return False
    await _reply_added(update, context, ticket_id, result)
    return True


async def _reply_added(
    update: Update, context: BotContext, ticket_id: int, result: reports.ChatReply | None
) -> None:
    svc = context.services
    telegram_user = user_id(update)
    state, _ = await accounts.current_account(svc.db, telegram_user, svc.policy, svc.now())
    if result is None:
        await say(update, "staff/customer_reply_gone", reply_markup=keyboard_for(state))
        return
    log.info(
        "Telegram user %s wrote into %s%s%s",
        telegram_user,
        tickets.ticket_number(ticket_id),
        " (reopened)" if result.reopened else "",
        " (urgent)" if result.urgent else "",
    )
    await say(
        update,
        "staff/customer_reply_added",
        reply_markup=keyboard_for(state),
        number=tickets.ticket_number(ticket_id),
        urgent=result.urgent,
    )


# --- the text the bot asked about (`PENDING`): its inline buttons ------------------------------


async def _typed_answer(update: Update, context: BotContext, text: str) -> bool:
    """ "igen" / "nem" typed to a question with Igen/Nem-like buttons (`PENDING` keeps what
    each would do): done as if the button was pressed (True); anything else is read as
    ever (False), and a new text replaces the question."""
    pending: dict[str, Any] | None = context.drafts.get(PENDING)
    if not pending or not pending.get("yes") or len(text) > TYPED_ANSWER_MAX:
        return False
    # A question answered by typing only while it is fresh: an "igen" typed days later
    # must not send a text the customer has forgotten (its buttons still work).
    if context.services.now() - float(pending.get("at", 0.0)) > TYPED_ANSWER_SECONDS:
        return False
    if intents.says(text, "confirm"):
        action = str(pending["yes"])
    elif pending.get("no") and _says_no(text):
        action = str(pending["no"])
    else:
        return False
    name, _, value = action.partition(":")
    await _do_offer(update, context, pending, name, value)
    return True


TYPED_ANSWER_MAX = 40  # characters: "igen, ahhoz tartozik" is an answer, a sentence is not
TYPED_ANSWER_SECONDS = 30 * 60.0  # how long a typed "igen"/"nem" answers the question
_NO = frozenset({"nem", "nemm", "no", "dehogy", "nem tartozik", "nem ahhoz", "nem kulon"})


def _says_no(text: str) -> bool:
    return " ".join(intents.normalise(text).split()) in _NO


async def on_offer(update: Update, context: BotContext) -> NextState:
    """Elküldöm így, Kiegészítem, Új bejelentés, Hozzáfűzöm, Igen, Nem (`rp:…`)."""
    query = query_of(update)
    pending: dict[str, Any] | None = context.drafts.get(PENDING)
    action, _, value = (query.data or "").removeprefix("rp:").partition(":")
    if not pending:
        await query.answer(render("chat/report/offer_gone.txt"))
        return _state_of(update) or END  # a customer inside a dialogue stays there
    await query.answer()
    return await _do_offer(update, context, pending, action, value)


async def _do_offer(
    update: Update, context: BotContext, pending: dict[str, Any], action: str, value: str
) -> NextState:
    """What a pressed (or typed) answer to the question about `pending`'s text does."""
    text = str(pending["text"])
    ticket_id = tickets.small_number(value)
    svc = context.services
    if action == "no":
        await say(update, "report/not_added", reply_markup=_buttons([("report_send", "rp:send")]))
        return _state_of(update) or END
    context.drafts.pop(PENDING, None)
    context.drafts[SUBJECT] = None
    if action == "send" or (action == "new" and reports.says_more(text)):
        return await _open(update, context, text, kept=True)
    if action == "new":  # "bejelentés" alone: what is the report?
        await say(update, "report/ask", reply_markup=cancel_keyboard())
        return TEXT
    if action == "more":
        context.drafts[FIRST] = text
        await say(update, "report/ask_more", reply_markup=cancel_keyboard())
        return TEXT
    if action in ("add", "reply") and ticket_id is not None:
        now = svc.now()
        result = await reports.take_reply(
            svc.db,
            ticket_id,
            text,
            telegram_user_id=user_id(update),
            once=once_key(update),
            now=now,
        )
        if isinstance(result, reports.Refusal):
            await _refused(update, context, result)
        elif action == "add" and result is not None:
            await _added(update, context, result)
        else:
            await _reply_added(update, context, ticket_id, result)
    return _state_of(update) or END


class _ReplyWords(F.MessageFilter):
    """ "válasz erre" typed (`core.reports.asks_to_reply`)."""

    def filter(self, message: Message) -> bool:
        return reports.asks_to_reply(message.text or "")


DIALOGUE = Dialogue(
    name="report",
    entry_points=(
        *opened_by("report", ("hibabejelentes", "report"), start),
        CallbackQueryHandler(start_change_request, pattern="^data:change$"),
        CallbackQueryHandler(start_reply, pattern=r"^tk:reply:"),
        CallbackQueryHandler(on_offer, pattern=r"^rp:"),
        MessageHandler(PRIVATE & F.TEXT & ~F.COMMAND & _ReplyWords(), start_typed_reply),
    ),
    states={
        TEXT: step("report/ask", MessageHandler(ANSWER, got_text)),
        REPLY: step("staff/customer_ask_reply", MessageHandler(ANSWER, got_reply)),
    },
    drafts=(SUBJECT, REPLY_TICKET, FIRST),
)

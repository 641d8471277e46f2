"""The customer's dialogues as one table, and what happens outside them.

One persistent ConversationHandler holds every dialogue (registration,
activation, login, passwords, report), so a customer is in at most one at a
time and anything unexpected mid-dialogue gets the same helpful treatment:
buttons and deep links always do what they say (re-entry), Mégse leaves, other
commands, stickers and stale buttons get a reminder of the question. /start,
/menu, a menu button or another dialogue's button or command leave too, but
once the customer has answered something they first say what would be lost
and offer to continue (`leave_or_ask`: two inline buttons whose data carry what
was asked for, so the offer survives a restart like the dialogue's state).
Outside a dialogue, the handlers at the end answer everything else.

What people type (core.intents) is read by one rule:
- inside a dialogue an answer is an answer: a user name "szamla" or a report
  "a számlám hibás" is taken as typed. Only Mégse (the button, /megse, or a
  typed cancel word alone: "mégse", "Mégse!", "mégsem", "vissza", "kilépés")
  and exact buttons switch. "Kilépés" there leaves the dialogue, not the login;
- outside a dialogue every typed message is read (`understood`): a button's
  words lead to it ("szamlak", "mennyi a tartozásom?", "Regisztrálni szeretnék"),
  a tie offers both, "kilépés" logs a customer out, greetings and thanks get a
  friendly answer, and anything else the options this customer has, shown.

Each dialogue describes itself (`DIALOGUE` in its module); the table here is
derived from the list of them.
"""

from __future__ import annotations

import copy
import logging
import warnings
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from telegram import Message, Update
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
)
from telegram.ext import filters as F
from telegram.warnings import PTBUserWarning

from conversations import (
    account_documents,
    activation,
    documents,
    forgot,
    login,
    menu,
    notifications,
    password,
    pay,
    places,
    registration,
    report,
)
from conversations.common import (
    CANCEL,
    END,
    PRIVATE,
    BotContext,
    Dialogue,
    NextState,
    StepCallback,
    cancel_keyboard,
    current_keyboard,
    customer_keyboard,
    delete_secret,
    guest_keyboard,
    inline,
    keyboard_for,
    label,
    label_pattern,
    logged_in,
    menu_of,
    offer_keyboard,
    plain_label,
    query_of,
    say,
    text_of,
    user_id,
)
from core import accounts, intents
from core.accounts import SessionState
from core.intents import Kind
from core.texts import labels, render

log = logging.getLogger(f"petkomm.{__name__}")

DIALOGUES: tuple[Dialogue, ...] = (
    registration.DIALOGUE,
    activation.DIALOGUE,
    login.DIALOGUE,
    forgot.DIALOGUE,
    report.DIALOGUE,
    password.DIALOGUE,
    places.DIALOGUE,
)
NAME = "dialogue"  # the ConversationHandler's name, under which its states are persisted

# Derived from the dialogues: which dialogue a state is in, and what it asks.
DIALOGUE_OF = {state: d.name for d in DIALOGUES for state in d.states}
BY_NAME = {d.name: d for d in DIALOGUES}
ASKS = {state: s.asks for d in DIALOGUES for state, s in d.states.items()}
NUMBERS = {state: number for d in DIALOGUES for state, number in d.numbers.items()}
DRAFTS = tuple(dict.fromkeys(key for d in DIALOGUES for key in d.drafts))

# The steps that ask for a password or a code: whatever is typed there to leave is
# deleted like the secret it may be.
SECRET_STATES = frozenset(
    {
        login.PASSWORD,
        *registration.SECRET_STATES,
        password.CURRENT,
        password.NEW,
        password.AGAIN,
        forgot.CODE,
        forgot.NEW,
        forgot.AGAIN,
        activation.CODE,
    }
)

_conversation: ConversationHandler | None = None


def current_state(update: Update) -> str | None:
    """The dialogue state this update's customer is in (None outside any dialogue)."""
    if _conversation is None:
        return None
    # PTB has no public reader of a conversation's state.
    key = _conversation._get_key(update)  # noqa: SLF001
    state = _conversation._conversations.get(key)  # noqa: SLF001
    return state if isinstance(state, str) else None


class _Idle(F.UpdateFilter):
    """The customer is in no dialogue (so what they type is read as a request)."""

    def filter(self, update: Update) -> bool:
        return current_state(update) is None


# Text typed outside a dialogue: an entry point of the table (it may open a dialogue),
# which allow_reentry would otherwise also offer mid-dialogue.
TYPED_OUTSIDE = PRIVATE & F.TEXT & ~F.COMMAND & _Idle()


# --- fallbacks: anything unexpected inside a dialogue ---------------------------------


def _forget_drafts(context: BotContext) -> None:
    for key in DRAFTS:
        context.drafts.pop(key, None)


async def _ask_again(update: Update, state: str | None) -> None:
    if state in ASKS:
        step, steps = NUMBERS.get(state, (None, None))
        await say(update, ASKS[state], step=step, steps=steps)


async def cancel(update: Update, context: BotContext) -> NextState:
    """Mégse, /megse or a typed cancel word: leave the dialogue, nothing half-done is kept.

    "Kilépés" typed here leaves the dialogue only; a logged-in customer is told where
    the logout is.
    """
    typed = text_of(update)
    if typed not in (label("cancel"), "") and not typed.startswith("/"):
        # Typed where a password or code is asked, it may have been one: it goes like one.
        if current_state(update) in SECRET_STATES:
            await delete_secret(update)
    _forget_drafts(context)
    account = await logged_in(update, context)
    said = intents.understand(typed, logged_in=account is not None)
    await say(
        update,
        "common/cancelled",
        reply_markup=customer_keyboard() if account else guest_keyboard(),
        logout_hint=account is not None and "logout" in said.intents,
    )
    return END


# --- leaving by /start, /menu or a button: what would be lost, first ------------------

LEAVE = "leave:"  # the offer's inline buttons: `leave:stay`, `leave:go:<where>`


def given(update: Update, context: BotContext) -> tuple[str, tuple[str, ...]]:
    """The dialogue the customer is in and the answers given in it so far (by name)."""
    state = current_state(update)
    if state is None or state not in DIALOGUE_OF:
        return "", ()
    dialogue = BY_NAME[DIALOGUE_OF[state]]
    return dialogue.name, dialogue.given(state, context.drafts)


async def _go(update: Update, context: BotContext, where: str) -> NextState:
    """Leave the dialogue and do what was asked: `start`, `menu`, `menu:<button>` or
    `open:<button>` (a dialogue's first step or a page, as typed outside one)."""
    _forget_drafts(context)
    kind, _, name = where.partition(":")
    if kind == "start":
        await greet(update, context)
    elif kind == "menu" and not name:
        await menu_command(update, context)
    elif kind == "menu" and name in menu.MENU_ACTIONS:
        await menu.MENU_ACTIONS[name](update, context)
    elif kind == "open" and name in OPENS:
        return await OPENS[name](update, context)
    return END


def _label_of(where: str) -> str:
    kind, _, name = where.partition(":")
    return plain_label(name) if name else kind


async def leave_or_ask(update: Update, context: BotContext, where: str) -> NextState | None:
    """Leave the dialogue for `where` (see `_go`); once something is answered, first say
    what would be lost and offer to continue (None: the question stays where it was)."""
    dialogue, answers = given(update, context)
    if not answers:
        return await _go(update, context, where)
    log.debug("leaving %s with %d answers offered to continue", dialogue, len(answers))
    await say(
        update,
        "common/discard",
        reply_markup=inline([[("stay", f"{LEAVE}stay")], [("leave", f"{LEAVE}go:{where}")]]),
        dialogue=dialogue,
        given=answers,
        going=_label_of(where),
    )
    return None


def _as_typed(update: Update) -> Update:
    """The pressed offer as the customer's own message in their chat, so that what they
    asked for runs as if typed (a page is sent anew, not edited into the offer)."""
    query = query_of(update)
    offer = query.message
    assert isinstance(offer, Message)
    message = Message(
        message_id=offer.message_id,
        date=offer.date,
        chat=offer.chat,
        from_user=query.from_user,
        text="",
    )
    message.set_bot(update.get_bot())
    return Update(update.update_id, message=message)


async def answer_offer(update: Update, context: BotContext) -> NextState | None:
    """Folytatom: the question again, nothing lost; Kilépek: do what was asked for."""
    query = query_of(update)
    await query.answer()
    await query.edit_message_reply_markup(None)  # the offer is answered: no stale buttons
    data = query.data or ""
    if data == f"{LEAVE}stay":
        await _ask_again(update, current_state(update))
        return None
    return await _go(_as_typed(update), context, data.removeprefix(f"{LEAVE}go:"))


async def restart(update: Update, context: BotContext) -> NextState | None:
    """/start in a dialogue: leave it and greet (once something is answered, ask first)."""
    return await leave_or_ask(update, context, "start")


async def menu_in_dialogue_command(update: Update, context: BotContext) -> NextState | None:
    """/menu in a dialogue: leave it for the home page (once something is answered, ask)."""
    return await leave_or_ask(update, context, "menu")


async def menu_in_dialogue(update: Update, context: BotContext) -> NextState | None:
    """A menu button pressed mid-dialogue: leave the dialogue and do what it says (once
    something is answered, ask first)."""
    pressed = text_of(update)
    for name in menu.MENU_ACTIONS:
        if pressed == label(name):
            return await leave_or_ask(update, context, f"menu:{name}")
    return END


def _guarded(
    name: str, opens: StepCallback
) -> Callable[[Update, BotContext], Coroutine[Any, Any, NextState | None]]:
    """A dialogue's button or command: mid-dialogue it leaves the current one like a menu
    button (re-entry), asking first once something is answered."""

    async def entry(update: Update, context: BotContext) -> NextState | None:
        if current_state(update) is None:
            return await opens(update, context)
        return await leave_or_ask(update, context, f"open:{name}")

    return entry


def _entry_points() -> list[BaseHandler]:
    """Every dialogue's entry points; those a button or command opens guarded (`_guarded`)."""
    by_callback = {callback: name for name, callback in OPENS.items()}
    entries: list[BaseHandler] = []
    for dialogue in DIALOGUES:
        for handler in dialogue.entry_points:
            name = by_callback.get(handler.callback)
            if name is not None and isinstance(handler, MessageHandler | CommandHandler):
                # A copy: the dialogue's own handler stays as it is for another build.
                guarded = copy.copy(handler)
                guarded.callback = _guarded(name, OPENS[name])
                entries.append(guarded)
            else:
                entries.append(handler)
    return entries


async def remind(update: Update, context: BotContext) -> None:
    """A command, sticker, photo, stale button or text this step does not take: ask again."""
    state = current_state(update)
    if update.callback_query:
        await update.callback_query.answer(
            render("chat/common/stale_button_alert.txt"), show_alert=False
        )
    text = update.message.text if update.message else None
    if update.callback_query or text in set(labels("customer").values()):
        what = "button"
    elif text is not None:
        what = "command" if text.startswith("/") else "text"
    else:
        what = "media"
    await say(
        update,
        "common/mid_dialogue",
        reply_markup=cancel_keyboard(),
        what=what,
        dialogue=DIALOGUE_OF.get(state or "", ""),
    )
    await _ask_again(update, state)


async def help_in_dialogue(update: Update, context: BotContext) -> None:
    """/help or Súgó mid-dialogue: how to go on or leave, how to reach us; the question again."""
    await say(
        update,
        "common/help",
        reply_markup=cancel_keyboard(),
        in_dialogue=True,
        options=[],
        logged_in=await logged_in(update, context) is not None,
    )
    await _ask_again(update, current_state(update))


def fallbacks() -> list[BaseHandler]:
    """What every dialogue does with the unexpected (order matters: the catch-alls last)."""
    return [
        CommandHandler(["cancel", "megse"], cancel),
        MessageHandler(CANCEL, cancel),
        CommandHandler("start", restart),
        CommandHandler("menu", menu_in_dialogue_command),
        CallbackQueryHandler(answer_offer, pattern=f"^{LEAVE}"),
        CommandHandler(["help", "sugo"], help_in_dialogue),
        MessageHandler(F.TEXT & F.Regex(label_pattern("help")), help_in_dialogue),
        MessageHandler(F.TEXT & F.Regex(label_pattern(*menu.MENU_ACTIONS)), menu_in_dialogue),
        # A Fizetés button (a notice's) answers mid-dialogue too, and the dialogue stays.
        CallbackQueryHandler(pay.answer, pattern=pay.PATTERN),
        MessageHandler(F.ALL & ~F.StatusUpdate.ALL, remind),
        CallbackQueryHandler(remind),
    ]


def conversation() -> ConversationHandler:
    """The whole dialogue table: every dialogue's entries and states, one set of fallbacks.

    The last entry point reads what is typed outside a dialogue (`understood`).
    """
    global _conversation
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBUserWarning)  # per_message=False is intended
        _conversation = ConversationHandler(
            entry_points=[
                *_entry_points(),
                # Hibabejelentés as an inline button, under a reply that suggests it
                # (registration's refused proof).
                CallbackQueryHandler(report.start, pattern="^open:report$"),
                MessageHandler(TYPED_OUTSIDE, understood),
            ],
            states={state: list(s.handlers) for d in DIALOGUES for state, s in d.states.items()},
            fallbacks=fallbacks(),
            name=NAME,
            persistent=True,
            allow_reentry=True,
        )
    return _conversation


# --- outside any dialogue ---------------------------------------------------------------


def _options(logged_in: bool) -> list[tuple[str, str]]:
    """The buttons this customer has, as (label without emoji, name), for a text to list."""
    return [(plain_label(name), name) for row in menu_of(logged_in) for name in row]


async def greet(update: Update, context: BotContext) -> None:
    """/start: who we are, what the bot can do, and the buttons."""
    account = await logged_in(update, context)
    if account is not None:
        await say(
            update, "common/welcome_back", reply_markup=customer_keyboard(), name=account.username
        )
        return
    await say(update, "common/greeting", reply_markup=guest_keyboard())


async def help_command(update: Update, context: BotContext) -> None:
    """/help or Súgó: what the bot can do, with the buttons this customer has (a guest's or a
    logged-in customer's)."""
    account = await logged_in(update, context)
    await say(
        update,
        "common/help",
        reply_markup=customer_keyboard() if account else guest_keyboard(),
        in_dialogue=False,
        logged_in=account is not None,
        options=_options(account is not None),
    )


async def contact(update: Update, context: BotContext) -> None:
    """ "embert kérek", "telefonon szeretnék beszélni valakivel": the phone numbers and hours
    Súgó shows, and a report's button to write instead."""
    await say(update, "common/contact", reply_markup=inline([[("report", "open:report")]]))


async def nothing_to_cancel(update: Update, context: BotContext) -> None:
    """Mégse outside a dialogue."""
    await say(
        update, "common/nothing_to_cancel", reply_markup=await current_keyboard(update, context)
    )


async def menu_command(update: Update, context: BotContext) -> None:
    """/menu: the home page when logged in, else the greeting."""
    account = await logged_in(update, context)
    if account is not None:
        await menu.show_home(update, context, account)
    else:
        await greet(update, context)


def _page(action: Callable[[Update, BotContext], Awaitable[None]]) -> StepCallback:
    """A page or answer as a step that opens no dialogue."""

    async def show(update: Update, context: BotContext) -> NextState:
        await action(update, context)
        return END

    return show


# What each button does when its label or its words are typed outside a dialogue: a
# dialogue's first step (returning its state) or a page.
OPENS: dict[str, StepCallback] = {
    "register": registration.start,
    "activate": activation.start,
    "login": login.start,
    "forgot": forgot.start,
    "report": report.start,
    "password": password.start,
    "help": _page(help_command),
    "contact": _page(contact),
    "place_add": places.start_adding,
    "cancel": _page(nothing_to_cancel),
    **{name: _page(action) for name, action in menu.MENU_ACTIONS.items()},
}
# Typed words for the home page greet a guest instead of asking them to log in; "következő"
# pages on the list shown last; "kivonat", "grafikon" do the buttons under Folyószámla for
# the customer account shown (a guest is asked to log in first, as for every page);
# "kapcsolja ki az értesítéseket" opens 🔔 Értesítések naming the button that does it.
WORDS_OPEN = {
    **OPENS,
    "home": _page(menu_command),
    "next": _page(menu.next_page),
    "statement": _page(account_documents.ask_period),
    "notifications": _page(notifications.typed_page),  # "kapcsolja ki": names the button
    "chart": _page(account_documents.send_chart),
}


def _forget_questions(context: BotContext) -> None:
    """The inline questions whose buttons' words count typed: once the customer has gone
    on to something else, a typed "2025" or "Rákóczi" is about that."""
    context.drafts.pop(account_documents.ASKED, None)
    context.drafts.pop(places.LISTED, None)
    context.drafts.pop(documents.SHOWN, None)


async def understood(update: Update, context: BotContext) -> NextState:
    """Text outside a dialogue: a button's label or words, a pasted activation code, a
    cancel, a greeting or thanks; anything else gets the options with their buttons."""
    text = text_of(update)
    by_label = {value: name for name, value in labels("customer").items()}.get(text)
    if by_label in OPENS:
        _forget_questions(context)
        return await OPENS[by_label](update, context)
    if accounts.looks_like_code(text):
        return await activation.got_any_code(update, context)
    if await notifications.typed_answer(update, context):  # "igen" to "Szeretne értesítést…?"
        return END
    # The words of an inline button on the question shown last ("az elmúlt 12 hónap" under
    # Kivonat's, "PDF 2026-000123" under Számlák, "hozzáadás" or "U0027" under
    # Fiókváltás's) do what the button does.
    if await account_documents.typed_period(update, context):
        return END
    if await documents.typed_pdf(update, context):  # "PDF 2026-000123" under Számlák
        return END
    on_list = await places.typed_on_list(update, context)
    if on_list is not None:
        return on_list
    _forget_questions(context)  # something else was typed: those questions are behind
    svc = context.services
    state, account = await accounts.current_account(svc.db, user_id(update), svc.policy, svc.now())
    is_in = state is SessionState.ACTIVE
    meant = intents.understand(text, logged_in=is_in)
    log.debug("typed outside a dialogue: %s %s", meant.kind.value, ",".join(meant.intents))
    match meant.kind:
        case Kind.INTENT:
            return await WORDS_OPEN[meant.intents[0]](update, context)
        case Kind.CHOICE:
            await say(
                update,
                "common/choose",
                reply_markup=offer_keyboard(meant.intents, is_in),
                choices=[plain_label(name) for name in meant.intents],
            )
        case Kind.CANCEL if is_in and "logout" in meant.intents:
            await menu.logout(update, context)
        case Kind.CANCEL if "home" in meant.intents:
            await menu_command(update, context)
        case Kind.CANCEL:
            await nothing_to_cancel(update, context)
        case Kind.SOCIAL:
            await say(
                update,
                "common/social",
                reply_markup=keyboard_for(state),
                social=sorted(meant.social),
                logged_in=is_in,
                name=account.username if account and is_in else "",
            )
        case _:
            await say(
                update,
                "common/not_understood",
                reply_markup=keyboard_for(state),
                social=sorted(meant.social),
                long=meant.long,
                logged_in=is_in,
                options=_options(is_in),
            )
    return END


async def unknown_command(update: Update, context: BotContext) -> None:
    """A command the bot does not know."""
    await say(
        update, "common/unknown_command", reply_markup=await current_keyboard(update, context)
    )


async def media(update: Update, context: BotContext) -> None:
    """A sticker, photo, voice message…: we read text only."""
    await say(update, "common/text_only", reply_markup=await current_keyboard(update, context))


async def stale_button(update: Update, context: BotContext) -> None:
    """An inline button from an old message whose dialogue is over."""
    await query_of(update).answer(render("chat/common/stale_button_alert.txt"))
    await say(update, "common/stale_button", reply_markup=await current_keyboard(update, context))


def outside_handlers() -> list[BaseHandler]:
    """Handlers for everything the dialogue table and the menu did not take (order matters).

    Typed text outside a dialogue never gets here: the table's last entry point reads it.
    """
    return [
        CommandHandler("start", greet, filters=PRIVATE),
        CommandHandler(["help", "sugo"], help_command, filters=PRIVATE),
        CommandHandler(["cancel", "megse"], nothing_to_cancel, filters=PRIVATE),
        CommandHandler("menu", menu_command, filters=PRIVATE),
        CommandHandler(["kijelentkezes", "logout"], menu.logout, filters=PRIVATE),
        MessageHandler(PRIVATE & F.COMMAND, unknown_command),
        MessageHandler(PRIVATE & ~F.TEXT & ~F.StatusUpdate.ALL, media),
        CallbackQueryHandler(stale_button),
    ]

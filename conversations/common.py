"""What every dialogue shares: services, the shape of a dialogue, replies, keyboards, secrets."""

from __future__ import annotations

import logging
import re
import time
import unicodedata
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from functools import cache, lru_cache
from typing import Any, TypedDict

from telegram import (
    CallbackQuery,
    Chat,
    ForceReply,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    ReplyKeyboardMarkup,
    Update,
)
from telegram.error import BadRequest, TelegramError
from telegram.ext import (
    Application,
    BaseHandler,
    CallbackContext,
    CommandHandler,
    ContextTypes,
    ConversationHandler,
    ExtBot,
    MessageHandler,
)
from telegram.ext import filters as F

from core import accounts, intents
from core.account_lookup import Account
from core.accounts import CodeMailer, Policy, SessionState
from core.config import DEFAULT_ANSWER_DAYS, Settings
from core.db import Database
from core.facts import Facts
from core.texts import LabelSection, labels, render, telling

log = logging.getLogger(f"petkomm.{__name__}")

# What a reply may carry under it.
ReplyMarkup = ReplyKeyboardMarkup | InlineKeyboardMarkup | ForceReply


@dataclass
class Services:
    """Everything a handler needs besides the update; handlers reach it as `context.services`."""

    db: Database
    settings: Settings
    policy: Policy
    mailer: CodeMailer
    clock: Callable[[], float] = field(default=time.time)
    staff_ids: frozenset[int] = frozenset()
    staff_chat_id: int | None = None
    answer_days: int = DEFAULT_ANSWER_DAYS
    facts: Facts = field(default_factory=Facts)

    def now(self) -> float:
        return self.clock()


class AssistantApplication(Application[Any, Any, Any, Any, Any, Any]):
    """python-telegram-bot's Application with the assistant's services attached.

    The composition root sets `services` once, right after building it.
    """

    services: Services

    async def process_update(self, update: object) -> None:
        """Handle one update with this service's facts in its texts (phones, payee…)."""
        with telling(self.services.facts):
            await super().process_update(update)


class BotContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], dict[Any, Any]]):
    """The context every handler gets: PTB's, plus the shared services, typed."""

    @property
    def services(self) -> Services:
        """The application's services (database, settings, policy, mailer, clock)."""
        application = self.application
        assert isinstance(application, AssistantApplication)
        return application.services

    @property
    def drafts(self) -> dict[Any, Any]:
        """This user's data: what a dialogue keeps between steps (persisted)."""
        data = self.user_data
        assert data is not None  # every update the bot handles has a user
        return data


# What the application builder is given so that handlers receive a BotContext.
CONTEXT_TYPES = ContextTypes(context=BotContext)


# --- the shape of a dialogue ---------------------------------------------------------

# What a dialogue step returns: the next state's name, or END (the dialogue is over).
NextState = str | int
END = ConversationHandler.END
# A dialogue step's callback: read the update, answer, return the next state.
StepCallback = Callable[[Update, BotContext], Coroutine[Any, Any, NextState]]


@dataclass(frozen=True)
class Step:
    """One state of a dialogue: the question it asks and the handlers that take the answer.

    `asks` (a chat template) is asked again when something interrupts the step.
    """

    asks: str
    handlers: tuple[BaseHandler, ...]


class StepNumber(TypedDict):
    """A numbered question's values for its template ("registration/ask_*"): "2/3."."""

    step: int
    steps: int


def step(asks: str, *handlers: BaseHandler) -> Step:
    """A state asking `asks`, answered by `handlers` (tried in order)."""
    return Step(asks, handlers)


@dataclass(frozen=True)
class Dialogue:
    """A dialogue as its diagram: how it starts, its states, what it keeps meanwhile.

    `name` is how `common/mid_dialogue.txt` names it; `drafts` are the user_data
    keys it keeps between steps, forgotten when the customer leaves it; `given` says
    which answers the customer has given in a state (names that `common/discard.txt`
    words, never a value), so that leaving by /start or a menu button first says what
    would be lost; `numbers` are the numbered questions' (step, steps), "2/3.", so that a
    question asked again (after /help or a sticker) keeps its number.
    `conversations.dialogues` merges every dialogue into one ConversationHandler.
    """

    name: str
    entry_points: tuple[BaseHandler, ...]
    states: Mapping[str, Step]
    drafts: tuple[str, ...] = ()
    given: Callable[[str, Mapping[Any, Any]], tuple[str, ...]] = lambda state, drafts: ()
    numbers: Mapping[str, tuple[int, int]] = field(default_factory=dict)


PRIVATE = F.ChatType.PRIVATE


def opened_by(
    button: str,
    commands: tuple[str, ...],
    callback: StepCallback,
) -> tuple[BaseHandler, ...]:
    """Entry points: a customer button (by label name) and its commands, in a private chat."""
    return (
        MessageHandler(PRIVATE & F.TEXT & F.Regex(label_pattern(button)), callback),
        CommandHandler(list(commands), callback, filters=PRIVATE),
    )


# --- labels and keyboards ----------------------------------------------------------------


def label(name: str) -> str:
    """A customer button's Hungarian label by its purpose."""
    return labels("customer")[name]


def label_pattern(*names: str) -> str:
    """A regex matching exactly these buttons' labels (for MessageHandler filters)."""
    return "^(" + "|".join(re.escape(label(n)) for n in names) + ")$"


def plain_label(name: str) -> str:
    """A button's label as a text names it: without its emoji ("Számlák", "Súgó")."""
    words = label(name).split()
    while words and not _latin(words[0]):
        words.pop(0)
    while words and not _latin(words[-1]):
        words.pop()
    return " ".join(words)


def _latin(word: str) -> bool:
    # The information sign of Súgó is a letter to Python, but not a Latin one.
    return any(c.isalpha() and "LATIN" in unicodedata.name(c, "") for c in word)


def _any_button() -> str:
    return label_pattern(*labels("customer"))


class _TypedCancel(F.MessageFilter):
    """A message that only says to stop, typed ("mégse", "Mégse!", "inkább mégsem")."""

    def filter(self, message: Message) -> bool:
        return intents.is_cancel(message.text or "")


# Mégse pressed or typed: leaves any dialogue, at any step (conversations.dialogues).
CANCEL = F.TEXT & ~F.COMMAND & (F.Regex(label_pattern("cancel")) | _TypedCancel())

# A typed answer to a dialogue's question: text that is neither a command, nor a button,
# nor a cancel word. Inside a dialogue an answer is an answer: a user name "szamla" or a
# report "a számlám hibás" is taken as typed; only Mégse and exact buttons switch.
ANSWER = F.TEXT & ~F.COMMAND & ~F.Regex(_any_button()) & ~CANCEL

GUEST_MENU = (("register", "activate"), ("login", "forgot"), ("report", "help"))
CUSTOMER_MENU = (
    ("home", "debt"),
    ("invoices", "account"),
    ("customer_data", "notifications"),
    ("password", "switch"),
    ("report", "help"),
    ("logout",),
)


@cache
def reply_keyboard(rows: tuple[tuple[str, ...], ...]) -> ReplyKeyboardMarkup:
    """The reply keyboard of these buttons (by label name), built once: python-telegram-bot's
    markup objects are immutable, and building one costs more than a page's query."""
    return ReplyKeyboardMarkup(
        [[label(name) for name in row] for row in rows], resize_keyboard=True, is_persistent=True
    )


def guest_keyboard() -> ReplyKeyboardMarkup:
    return reply_keyboard(GUEST_MENU)


def customer_keyboard() -> ReplyKeyboardMarkup:
    return reply_keyboard(CUSTOMER_MENU)


def cancel_keyboard() -> ReplyKeyboardMarkup:
    return reply_keyboard((("cancel",),))


def dialogue_keyboard(*names: str) -> ReplyKeyboardMarkup:
    """A dialogue's keyboard with ways out beside Mégse: the buttons a reply names.

    E.g. `dialogue_keyboard("forgot")` under "…válassza az Elfelejtett jelszó gombot".
    """
    return reply_keyboard((*((name,) for name in names), ("cancel",)))


def menu_of(logged_in: bool) -> tuple[tuple[str, ...], ...]:
    """The rows of the menu this customer has."""
    return CUSTOMER_MENU if logged_in else GUEST_MENU


def offer_keyboard(names: tuple[str, ...], logged_in: bool) -> ReplyKeyboardMarkup:
    """The customer's menu with `names` (a choice the bot offers) moved to its first row."""
    rest = [name for row in menu_of(logged_in) for name in row if name not in names]
    rows = [tuple(names), *(tuple(rest[i : i + 2]) for i in range(0, len(rest), 2))]
    return reply_keyboard(tuple(rows))


def keyboard_for(state: SessionState) -> ReplyKeyboardMarkup:
    """The customer's menu when logged in, else the guest's."""
    return customer_keyboard() if state is SessionState.ACTIVE else guest_keyboard()


async def logged_in(update: Update, context: BotContext) -> Account | None:
    """The account this update's user is logged in to, if any (an idle login ends here)."""
    svc = context.services
    _, account = await accounts.current_account(svc.db, user_id(update), svc.policy, svc.now())
    return account


async def current_keyboard(update: Update, context: BotContext) -> ReplyKeyboardMarkup:
    """The keyboard for this update's customer as they are now (logged in or not)."""
    return customer_keyboard() if await logged_in(update, context) else guest_keyboard()


def inline(
    rows: list[list[tuple[str, str]]], section: LabelSection = "customer"
) -> InlineKeyboardMarkup:
    """Inline buttons from (label name, callback data) pairs, labels from `section`."""
    names = labels(section)
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(names[name], callback_data=data) for name, data in row]
            for row in rows
        ]
    )


@lru_cache(maxsize=1024)
def pager(
    prefix: str, page: int, pages: int, section: LabelSection = "customer"
) -> InlineKeyboardMarkup | None:
    """◀ ▶ under a paged list (`page` counts from 0); the buttons say `<prefix>:<page>`.
    (Kept once built, as `reply_keyboard`.)"""
    row = []
    if page > 0:
        row.append(("prev", f"{prefix}:{page - 1}"))
    if page < pages - 1:
        row.append(("next", f"{prefix}:{page + 1}"))
    return inline([row], section) if row else None


async def say(
    update: Update, template: str, /, reply_markup: ReplyMarkup | None = None, **context: object
) -> Message:
    """Send a chat template to the update's chat (HTML, values escaped)."""
    return await chat_of(update).send_message(
        render(f"chat/{template}.txt", **context), reply_markup=reply_markup
    )


async def say_together(
    update: Update,
    *parts: tuple[str, Mapping[str, object]],
    reply_markup: ReplyMarkup | None = None,
) -> Message:
    """Several chat templates (name, values) as one message: one Bot API call where two
    would say what belongs together (an introduction and its first question)."""
    text = "\n\n".join(render(f"chat/{template}.txt", **values) for template, values in parts)
    return await chat_of(update).send_message(text, reply_markup=reply_markup)


async def send_or_edit(
    update: Update, text: str, reply_markup: InlineKeyboardMarkup | None = None
) -> None:
    """Send a page anew, or, for a button pressed on it, edit that message in place."""
    query = update.callback_query
    if query is None:
        await chat_of(update).send_message(text, reply_markup=reply_markup)
        return
    await query.answer()
    try:
        await query.edit_message_text(text, reply_markup=reply_markup)
    except BadRequest as exc:  # pressing the button of the page already shown
        if "not modified" not in str(exc).lower():
            raise


async def typed_code(update: Update) -> str | None:
    """The code the customer typed, its message deleted at once; None (with the form a code
    has explained) when the text is not shaped like one."""
    code = text_of(update)
    await delete_secret(update)
    if not accounts.looks_like_code(code):
        typed = accounts.normalise_code(code)
        foreign = sorted({c for c in typed if c not in accounts.CODE_ALPHABET})
        await say(
            update,
            "activation/bad_format",
            length=len(typed),
            foreign=" ".join(foreign[:8]) + (" …" if len(foreign) > 8 else ""),
        )
        return None
    return code


async def delete_secret(update: Update) -> None:
    """Delete the customer's message holding a password or code, right after reading it."""
    message = update.effective_message
    if message is None:
        return
    user = update.effective_user.id if update.effective_user else "?"
    try:
        await message.delete()  # (a 429 is waited out by the pacer: bot.pacing)
    except TelegramError as exc:  # too old, or already gone: say so in the log only
        log.warning("could not delete a secret message of user %s: %s", user, exc)


def user_id(update: Update) -> int:
    """The Telegram user the update comes from."""
    assert update.effective_user is not None
    return update.effective_user.id


def once_key(update: Update) -> str:
    """The key under which the effects of this update are made once (`core.journal`): an
    update handled again after a crash finds what it did and does not do it twice."""
    return f"tg:{update.update_id}:{user_id(update)}"


def chat_of(update: Update) -> Chat:
    """The chat the update happened in."""
    assert update.effective_chat is not None
    return update.effective_chat


def chat_id(update: Update) -> int:
    """The ID of the chat the update happened in."""
    return chat_of(update).id


def query_of(update: Update) -> CallbackQuery:
    """The pressed inline button's query (in a CallbackQueryHandler's callback)."""
    assert update.callback_query is not None
    return update.callback_query


def button_data(update: Update) -> str:
    """The pressed inline button's callback data."""
    return query_of(update).data or ""


def text_of(update: Update) -> str:
    """The update's message text ('' for none)."""
    message = update.effective_message
    return (message.text or "") if message else ""


def lock_minutes(until: float | None, now: float) -> int:
    """Whole minutes until a lock ends, for the texts (a locked outcome always says when)."""
    assert until is not None
    return accounts.wait_minutes(until, now)

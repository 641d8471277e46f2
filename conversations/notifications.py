"""🔔 Értesítések: which notifications a customer wants, and the question asked once.

After the first login to an account (by password or by the activation link) the
bot asks once whether the customer wants notifications (🔔 Igen, kérem / Nem,
köszönöm). The page shows each kind with a ✅ or ⬜ button that turns it on or
off, editing the page in place, and one that turns them all off (🔕 Mindet kikapcsolom),
or all on when all are off. Typed ("kapcsolja ki az értesítéseket", "mindet kikapcsolom")
the page opens with a line naming that button: a typed phrase switches nothing itself
(a sentence may say more than it seems). The rules are `core.notifications`'.
"""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from conversations import menu
from conversations.common import (
    PRIVATE,
    BotContext,
    button_data,
    chat_id,
    inline,
    query_of,
    say,
    send_or_edit,
    text_of,
    user_id,
)
from core import intents, notifications
from core.account_lookup import Account
from core.notifications import PREFS, Prefs, QuietHours
from core.texts import labels, render

PREFIX = "ntf:"  # ntf:yes, ntf:no (the question); ntf:t:<kind> (a toggle on the page);
# ntf:all:off, ntf:all:on (every kind at once, on the page)


def _quiet(context: BotContext) -> QuietHours:
    return QuietHours(*context.services.settings.quiet_hours)


async def ask_once(update: Update, context: BotContext, account: Account) -> None:
    """After a login: the first time this user logs in to this account, ask whether they
    want notifications."""
    svc = context.services
    if await notifications.ask_once(
        svc.db, user_id(update), account.id, chat_id(update), svc.now()
    ):
        await say(
            update,
            "notify/ask",
            reply_markup=inline([[("notify_yes", f"{PREFIX}yes"), ("notify_no", f"{PREFIX}no")]]),
        )
        context.drafts[ASKED] = svc.now()  # a typed "igen" / "nem" answers it too


ASKED = "notify_asked"  # user_data: when the question was asked (a typed answer counts)
TYPED_ANSWER_SECONDS = 30 * 60  # after that an "igen" is about something else


_YES = frozenset({"igen", "kérem", "kérném", "legyen", "jó", "mehet", "rendben", "persze"})
_NO = frozenset({"nem", "ne", "inkább nem", "köszönöm nem", "nem kérem", "nem köszönöm"})


def _typed_yes_or_no(text: str) -> bool | None:
    """What a typed answer to the question says: True (yes), False (no), None (neither: a
    request like "kérem a számláimat" is a request, not an answer)."""
    folded = " ".join(text.lower().replace(",", " ").replace("!", " ").replace(".", " ").split())
    words = folded.split()
    if folded in _NO or (len(words) <= 3 and words[:2] in (["nem", "köszönöm"], ["nem", "kérem"])):
        return False
    if folded.startswith("igen") or (len(words) <= 2 and words and words[0] in _YES):
        return True
    return None


async def typed_answer(update: Update, context: BotContext) -> bool:
    """A typed "igen" or "nem" soon after the question answers it, as its buttons do (the
    customer trial: "igen" got "Rendben." and nothing was turned on). False: not that."""
    asked = context.drafts.get(ASKED)
    if asked is None or context.services.now() - asked > TYPED_ANSWER_SECONDS:
        return False
    on = _typed_yes_or_no(text_of(update))
    if on is None:
        return False
    account = await menu.require_login(update, context)
    if account is None:
        return True
    await _choose(update, context, account, on)
    return True


async def answered(update: Update, context: BotContext) -> None:
    """🔔 Igen, kérem: every kind on; Nem, köszönöm: all stay off."""
    query = query_of(update)
    account = await menu.require_login(update, context)
    if account is None:
        return
    await query.answer()
    await query.edit_message_reply_markup(None)  # answered: no stale buttons
    await _choose(update, context, account, button_data(update) == f"{PREFIX}yes")


async def _choose(update: Update, context: BotContext, account: Account, on: bool) -> None:
    """Every kind on (yes) or all off (no), and say so."""
    context.drafts.pop(ASKED, None)
    svc = context.services
    await notifications.choose(
        svc.db,
        user_id(update),
        account.id,
        chat_id(update),
        dict.fromkeys(PREFS, on),
        svc.now(),
    )
    quiet = _quiet(context)
    await say(update, "notify/answered", on=on, quiet_from=quiet.start, quiet_to=quiet.end)


def _all_off(prefs: Prefs) -> bool:
    return not any(prefs.wants(kind) for kind in PREFS)


def _toggles(prefs: Prefs) -> InlineKeyboardMarkup:
    names = labels("customer")
    rows = [
        [
            InlineKeyboardButton(
                names[f"notify_{kind}"].format(mark="✅" if prefs.wants(kind) else "⬜"),
                callback_data=f"{PREFIX}t:{kind}",
            )
        ]
        for kind in PREFS
    ]
    # All at once: off while any is on, on again when all are off.
    switch = "on" if _all_off(prefs) else "off"
    rows.append(
        [InlineKeyboardButton(names[f"notify_all_{switch}"], callback_data=f"{PREFIX}all:{switch}")]
    )
    return InlineKeyboardMarkup(rows)


async def _show(
    update: Update, context: BotContext, account: Account, prefs: Prefs, *, asked_all: bool = False
) -> None:
    """The page; `asked_all` (typed "kapcsolja ki mindet") adds a line naming the button
    that turns them all off (or on, when all are off already)."""
    quiet = _quiet(context)
    text = render(
        "chat/notify/page.txt",
        customer_id=account.customer_id,
        prefs=prefs,
        quiet_from=quiet.start,
        quiet_to=quiet.end,
        all_button=("on" if _all_off(prefs) else "off") if asked_all else "",
    )
    await send_or_edit(update, text, _toggles(prefs))


async def page(update: Update, context: BotContext) -> None:
    """🔔 Értesítések: the kinds, each on or off."""
    await _page(update, context, asked_all=False)


# Typed words that ask to switch notifications off or on (the page then names the button):
# a word starting "kikapcs"/"bekapcs", or "kapcsol…" with "ki"/"be" beside it.
_SWITCH_STEMS = ("kikapcs", "bekapcs", "lekapcs", "leall", "leiratkoz")


def asks_to_switch(text: str) -> bool:
    """Does a typed text ask to switch notifications off or on ("kapcsolja ki", "mindet
    kikapcsolom")?"""
    words = intents.normalise(text).split()
    if any(word.startswith(_SWITCH_STEMS) for word in words):
        return True
    return any(w.startswith("kapcsol") for w in words) and bool({"ki", "be", "le"} & set(words))


async def typed_page(update: Update, context: BotContext) -> None:
    """The page asked for in words: when they ask to switch them off (or on), with a line
    saying which button does it for all of them (nothing is switched by the words)."""
    await _page(update, context, asked_all=asks_to_switch(text_of(update)))


async def _page(update: Update, context: BotContext, *, asked_all: bool) -> None:
    account = await menu.require_login(update, context)
    if account is None:
        return
    svc = context.services
    prefs = await notifications.prefs_of(
        svc.db, user_id(update), account.id, chat_id(update), svc.now()
    )
    await _show(update, context, account, prefs, asked_all=asked_all)


async def switch_all(update: Update, context: BotContext) -> None:
    """🔕 Mindet kikapcsolom / 🔔 Mindet bekapcsolom: every kind off (on), the page again."""
    account = await menu.require_login(update, context)
    if account is None:
        return
    on = button_data(update) == f"{PREFIX}all:on"
    svc = context.services
    prefs = await notifications.choose(
        svc.db, user_id(update), account.id, chat_id(update), dict.fromkeys(PREFS, on), svc.now()
    )
    await _show(update, context, account, prefs)


async def toggle(update: Update, context: BotContext) -> None:
    """A kind's button on the page: turn it the other way, and show the page again."""
    account = await menu.require_login(update, context)
    if account is None:
        return
    kind = button_data(update).removeprefix(f"{PREFIX}t:")
    if kind not in PREFS:
        await query_of(update).answer()
        return
    svc = context.services
    now = svc.now()
    current = await notifications.prefs_of(
        svc.db, user_id(update), account.id, chat_id(update), now
    )
    prefs = await notifications.choose(
        svc.db, user_id(update), account.id, chat_id(update), {kind: not current.wants(kind)}, now
    )
    await _show(update, context, account, prefs)


def handlers() -> list[BaseHandler]:
    """The question's and the page's inline buttons (the page itself is a menu button)."""
    return [
        CommandHandler("ertesitesek", page, filters=PRIVATE),
        CallbackQueryHandler(answered, pattern=rf"^{PREFIX}(yes|no)$"),
        CallbackQueryHandler(toggle, pattern=rf"^{PREFIX}t:\w+$"),
        CallbackQueryHandler(switch_all, pattern=rf"^{PREFIX}all:(on|off)$"),
    ]

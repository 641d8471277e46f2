"""🔔 Értesítések: which notifications a customer wants, and the question asked once.

After the first login to an account (by password or by the activation link) the
bot asks once whether the customer wants notifications (🔔 Igen, kérem / Nem,
köszönöm). The page shows each kind with a ✅ or ⬜ button that turns it on or
off, editing the page in place. The rules are `core.notifications`'.
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
from core import notifications
from core.account_lookup import Account
from core.notifications import PREFS, Prefs, QuietHours
from core.texts import labels, render

PREFIX = "ntf:"  # ntf:yes, ntf:no (the question); ntf:t:<kind> (a toggle on the page)


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


def _toggles(prefs: Prefs) -> InlineKeyboardMarkup:
    names = labels("customer")
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    names[f"notify_{kind}"].format(mark="✅" if prefs.wants(kind) else "⬜"),
                    callback_data=f"{PREFIX}t:{kind}",
                )
            ]
            for kind in PREFS
        ]
    )


async def _show(update: Update, context: BotContext, account: Account, prefs: Prefs) -> None:
    quiet = _quiet(context)
    text = render(
        "chat/notify/page.txt",
        customer_id=account.customer_id,
        prefs=prefs,
        quiet_from=quiet.start,
        quiet_to=quiet.end,
    )
    await send_or_edit(update, text, _toggles(prefs))


async def page(update: Update, context: BotContext) -> None:
    """🔔 Értesítések: the kinds, each on or off."""
    account = await menu.require_login(update, context)
    if account is None:
        return
    svc = context.services
    prefs = await notifications.prefs_of(
        svc.db, user_id(update), account.id, chat_id(update), svc.now()
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
    ]

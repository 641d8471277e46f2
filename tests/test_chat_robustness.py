"""Whatever a customer does, they get a helpful answer; restarts and other
customers never get in the way."""

from __future__ import annotations

import asyncio
import re
import threading

from argon2 import PasswordHasher

from conversations.common import label
from core import passwords
from tests.botkit import active_customer, start_bot, stop_bot

PASSWORD = "Tavaszi-Szel-42"


async def test_a_sticker_or_photo_outside_a_dialogue_gets_a_hint(bot_env):
    eva = bot_env.customer()
    await eva.command("start")
    assert "csak szöveges" in eva.texts(await eva.sticker())
    assert "csak szöveges" in eva.texts(await eva.photo())
    # A greeting is answered as one now (issue 11); a question the bot cannot answer is not.
    assert "nem értem" in eva.texts(await eva.say("Milyen idő lesz holnap?"))
    assert "Ilyen parancsot nem ismerek" in eva.texts(await eva.command("fizetes"))


async def test_interruptions_mid_dialogue_repeat_the_question(bot_env):
    eva = bot_env.customer()
    await eva.command("start")
    await eva.press("register")
    await eva.say("eva@example.hu")
    replies = eva.texts(await eva.photo())
    assert "csak szöveges választ" in replies and "felhasználónevet" in replies
    replies = eva.texts(await eva.command("belepes_most"))
    assert "parancsot most nem" in replies and "felhasználónevet" in replies
    assert "Súgó" in eva.texts(await eva.command("help"))
    await eva.say("eva.k")  # the dialogue goes on where it was
    assert "3/6" in eva.last


async def test_cancel_leaves_a_dialogue_and_a_stale_button_is_explained(bot_env):
    eva = bot_env.customer()
    await eva.command("start")
    await eva.press("register")
    for answer in ("eva@example.hu", "eva.k", PASSWORD, PASSWORD, "U0030", "2026-000030", "1000"):
        await eva.say(answer)
    summary = eva.user.last_reply
    assert "megszakítottuk" in eva.texts(await eva.press("cancel"))
    assert "📝 Regisztráció" in eva.keyboard
    replies = await eva.press_on(summary, "confirm")
    assert "már nem érvényes" in eva.texts(replies)
    assert await bot_env.db.fetch_value("SELECT count(*) FROM portal_accounts") == 0
    assert "nincs folyamatban" in eva.texts(await eva.command("megse"))


async def test_a_menu_button_mid_dialogue_does_what_it_says(bot_env):
    person = await active_customer(bot_env, "U0031", "gyors")
    await person.press("password")
    # The menu is still on older messages' keyboards (or typed): it wins over the dialogue.
    text = person.texts(await person.say(label("debt")))
    assert "Tartozás" in text
    assert "Kezdőlap" in person.texts(await person.press("home"))  # no longer in a dialogue


async def test_a_report_from_the_chat_gets_a_number_and_markup_is_harmless(bot_env):
    eva = bot_env.customer()
    await eva.command("start")
    await eva.press("report")
    replies = await eva.say("A <b>mérőóra</b> & a számla < 0? Kérem, nézzék meg.")
    number = re.search(r"PK-\d{6}", eva.texts(replies))[0]
    body = await bot_env.db.fetch_value(
        "SELECT body FROM ticket_messages WHERE ticket_id = ?", (int(number[3:]),)
    )
    assert body == "A <b>mérőóra</b> & a számla < 0? Kérem, nézzék meg."


async def test_no_reply_ever_broke_a_telegram_limit(bot_env):
    await test_interruptions_mid_dialogue_repeat_the_question(bot_env)
    await active_customer(bot_env, "U0005", "hosszu")  # the very long address
    failed = [c for c in bot_env.emulator.requests if not c.ok and c.method != "getUpdates"]
    assert failed == []


async def test_a_restart_mid_registration_continues_where_the_customer_was(bot_env):
    eva = bot_env.customer()
    await eva.command("start")
    await eva.press("register")
    await eva.say("eva@example.hu")
    await eva.say("eva.restart")
    await stop_bot(bot_env.service)  # the bot dies here
    bot_env.service = await start_bot(
        dict(bot_env.settings.env), bot_env.db, bot_env.clock, bot_env.emulator
    )
    await eva.say(PASSWORD)
    replies = await eva.say(PASSWORD)  # asked twice (issue 11)
    assert "4/6" in eva.texts(replies)  # the next question after the password


class GatedHasher(PasswordHasher):
    """Argon2id whose verification of one password waits for a gate (a slow login)."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=64, parallelism=1)
        self.entered = threading.Event()
        self.gate = threading.Event()

    def verify(self, hash, password):  # noqa: A002
        if password == "lassu-jelszo-1":
            self.entered.set()
            self.gate.wait(10)
        return super().verify(hash, password)


async def test_a_slow_login_delays_nobody_else_and_keeps_its_own_order(bot_env):
    await active_customer(bot_env, "U0032", "lassu")
    hasher = GatedHasher()
    passwords.use_hasher(hasher)
    slow, other = bot_env.customer("Lassú"), bot_env.customer("Gyors")
    await slow.command("start")
    await slow.press("login")
    await slow.say("lassu")
    login_update = slow.user.send_text("lassu-jelszo-1")
    await asyncio.to_thread(hasher.entered.wait, 5)
    menu_update = slow.user.send_text("/start")  # queued behind the login
    replies = await other.command("start")  # another customer is answered meanwhile
    assert "Üdvözöljük" in other.texts(replies)
    login_message = max(m.message_id for m in slow.user.chat.messages if not m.from_bot)
    assert [m for m in slow.user.replies if m.message_id > login_message] == []
    hasher.gate.set()
    await bot_env.processed(login_update)
    await bot_env.processed(menu_update)
    after = [m.text for m in slow.user.replies if m.message_id > login_message - 1]
    wrong = next(i for i, t in enumerate(after) if "nem megfelelő" in t)
    greeting = next(i for i, t in enumerate(after) if "Üdvözöljük" in t)
    assert wrong < greeting  # the customer's own updates stayed in order

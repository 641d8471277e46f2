"""A customer's afternoon with the bot: register, activate, log in, look around."""

from __future__ import annotations

from core.formats import format_amount
from tests.botkit import active_customer

PASSWORD = "Tavaszi-Szel-42"


async def registered(env, customer, **overrides):
    sample = env.demo.sample
    values = dict(
        email_address="eva.kovacs@example.hu",
        username="kovacs.eva",
        password=PASSWORD,
        customer_id=sample.customer_id.lower().replace("u", "u "),
        invoice=sample.invoice_number.replace("-", ""),
        amount=format_amount(sample.amount).replace("\u00a0", " "),
    )
    values.update(overrides)
    return await customer.register(**values)


async def test_a_new_customer_registers_activates_by_link_and_sees_the_home_page(bot_env):
    eva = bot_env.customer()
    greeting = await eva.command("start")
    assert "PÉTKOMM" in eva.texts(greeting)
    assert "📝 Regisztráció" in eva.keyboard and "🔑 Belépés" in eva.keyboard

    done = await registered(bot_env, eva)
    assert "Köszönjük a regisztrációt" in eva.texts(done)
    code, link = await bot_env.code_mailed_to("eva.kovacs@example.hu")
    assert len(code) == 24

    # Her own link, opened in the chat she registered from, logs her in at once (issue 11).
    activated = eva.texts(await eva.open_link(link))
    assert "Fiókja aktív" in activated
    assert bot_env.demo.sample.customer_id in activated and "Kezdőlap" in activated
    assert "💰 Tartozás" in eva.keyboard

    await eva.press("logout")
    home = eva.texts(await eva.login("kovacs.eva", PASSWORD))
    assert "Sikeres belépés" in home and "Kezdőlap" in home


async def test_the_password_message_is_deleted_and_never_repeated(bot_env):
    eva = bot_env.customer()
    await registered(bot_env, eva)
    mine = [m for m in eva.user.chat.messages if not m.from_bot]
    password_messages = [m for m in mine if m.text == PASSWORD]
    assert password_messages and all(m.deleted for m in password_messages)
    assert all(PASSWORD not in (m.text or "") for m in eva.user.replies)


async def test_a_password_message_is_deleted_even_when_telegram_asks_to_slow_down(bot_env):
    # Found by the attacker trial: in a burst of 50 logins Telegram's 429 outlasted the
    # rate limiter's retries and two password messages stayed in the chat.
    eva = await active_customer(bot_env, bot_env.demo.sample.customer_id, "lassan", PASSWORD)
    await eva.press("logout")
    for _ in range(4):  # one more than the limiter's own retries
        bot_env.emulator.fail_next(
            "deleteMessage", 429, "Too Many Requests: retry after 1", retry_after=1
        )
    assert "Sikeres belépés" in eva.texts(await eva.login("lassan", PASSWORD))
    typed = [m for m in eva.user.chat.messages if not m.from_bot and m.text == PASSWORD]
    assert typed
    await bot_env.emulator.wait_for(
        lambda: all(m.deleted for m in typed), timeout=15, what="the password deleted"
    )

"""Several customer accounts under one login: add with proof, switch, remove, the limits."""

from __future__ import annotations

from core.formats import format_amount
from tests.botkit import active_customer, proof_for

PASSWORD = "Tavaszi-Szel-42"


async def prove(person, proof: dict[str, str]):
    """Customer ID, invoice number, amount, then ✅ under the summary; the replies to it."""
    await person.say(proof["customer_id"])
    await person.say(proof["invoice"])
    summary = await person.say(proof["amount"])
    return await person.press_on(summary[-1], "confirm")


async def add_place(person, proof: dict[str, str]):
    """Fiókváltás → add → the proof, confirmed; the replies to the confirmation."""
    listing = await person.press("switch")
    await person.press_on(listing[-1], "place_add")
    return await prove(person, proof)


def button_of(message, starts: str) -> str:
    """The text of the message's inline button that starts with `starts`."""
    for row in message.inline_keyboard or []:
        for button in row:
            if button["text"].startswith(starts):
                return button["text"]
    raise AssertionError(f"no button {starts!r} in {message.inline_keyboard}")


async def customer_row(env, customer_id: str):
    return await env.db.fetch_one(
        "SELECT name, address FROM customers WHERE customer_id = ?", (customer_id,)
    )


async def test_a_second_customer_account_is_added_shown_and_named_on_every_page(bot_env):
    eva = await active_customer(bot_env, "U0030", "eva30")
    # With one customer account the pages name none (nothing to tell apart).
    assert "váltás: Fiókváltás" not in eva.texts(await eva.press("home"))
    other = await bot_env.db.fetch_value(
        "SELECT customer_id FROM invoices WHERE outstanding > 0 AND customer_id <> 'U0030'"
        " ORDER BY customer_id LIMIT 1"
    )
    holiday = await proof_for(bot_env.db, other)
    replies = await add_place(eva, holiday)
    text = eva.texts(replies)
    assert f"hozzáadtuk az {other} ügyfél-azonosítót" in text
    name, address = await customer_row(bot_env, other)
    # The Kezdőlap that follows is the added one's, headed by it.
    assert name in text and f"🏠 {other} · {address}" in text
    for page in ("debt", "invoices", "account", "customer_data"):
        shown = eva.texts(await eva.press(page))
        assert shown.startswith(f"🏠 {other}"), (page, shown[:80])
    # Tartozás shows the added customer's own unpaid invoices.
    owed = await bot_env.db.fetch_value(
        "SELECT SUM(outstanding) FROM invoices WHERE customer_id = ?", (other,)
    )
    assert format_amount(owed) in eva.texts(await eva.press("debt"))

    # Switching back: the list marks the shown one; the own one's button shows it again.
    listing = await eva.press("switch")
    assert f"✅ {other}" in eva.texts(listing) and "▫️ U0030" in eva.texts(listing)
    lines = listing[-1].text.splitlines()  # one line each (the customer trial found them glued)
    assert any(line.startswith("▫️ U0030") for line in lines)
    assert any(line.startswith(f"✅ {other}") for line in lines)
    home = await eva.press_on(listing[-1], button_of(listing[-1], "U0030"))
    assert "🏠 U0030" in eva.texts(home)
    own_name, _ = await customer_row(bot_env, "U0030")
    assert own_name in eva.texts(home)


async def test_an_added_account_is_removed_and_the_own_one_shown_again(bot_env):
    eva = await active_customer(bot_env, "U0032", "eva32")
    await add_place(eva, await proof_for(bot_env.db, "U0033"))
    listing = await eva.press("switch")
    page = listing[-1]
    await eva.press_on(page, "place_remove")
    # The same message now asks which: only the added one; the registered one cannot go.
    page = eva.user.chat.get(page.message_id)
    buttons = str(page.inline_keyboard)
    assert "U0033" in buttons and "U0032" not in buttons
    await eva.press_on(page, button_of(page, "U0033"))
    page = eva.user.chat.get(page.message_id)
    assert "Biztosan kiveszi az U0033" in page.text
    await eva.press_on(page, "place_remove_yes")
    page = eva.user.chat.get(page.message_id)
    assert "▫️ U0033" not in page.text and "✅ U0032" in page.text
    # The pages show the own account again, with no heading (one account left).
    home = eva.texts(await eva.press("home"))
    assert "Fiókváltás)" not in home
    own_name, _ = await customer_row(bot_env, "U0032")
    assert own_name in home


async def test_a_wrong_proof_adds_nothing_and_the_guesser_is_stopped_like_a_registration(
    bot_env,
):
    eva = await active_customer(bot_env, "U0034", "eva34")
    proof = await proof_for(bot_env.db, "U0035")
    wrong = {**proof, "amount": str(int(proof["amount"]) + 1)}
    replies = await add_place(eva, wrong)
    assert "nem egyezik" in eva.texts(replies)
    # Asked again from the customer ID: four more wrong proofs reach the limit of five.
    for _ in range(3):
        assert "nem egyezik" in eva.texts(await prove(eva, wrong))
    locked = eva.texts(await prove(eva, wrong))
    assert "Túl sok sikertelen próbálkozás" in locked
    # Even the right proof is refused now, and nothing was added.
    again = eva.texts(await add_place(eva, proof))
    assert "Túl sok sikertelen próbálkozás" in again
    assert (
        await bot_env.db.fetch_value(
            "SELECT COUNT(*) FROM account_links WHERE customer_id = ?", ("U0035",)
        )
        == 0
    )


async def test_a_customer_id_with_its_own_registration_is_not_added_to_another_login(bot_env):
    await active_customer(bot_env, "U0036", "owner36")
    eva = await active_customer(bot_env, "U0037", "eva37")
    replies = await add_place(eva, await proof_for(bot_env.db, "U0036"))
    text = eva.texts(replies)
    assert "saját regisztráció tartozik" in text
    assert "ugyanazzal a felhasználónévvel és jelszóval" in text  # how a spouse gets in
    assert "🏠 U0036" not in eva.texts(await eva.press("home"))


async def test_a_spouse_logs_in_to_the_same_account_and_both_see_it(bot_env):
    eva = await active_customer(bot_env, "U0038", "eva38")
    peter = bot_env.customer("Péter")
    assert "Sikeres belépés" in peter.texts(await peter.login("eva38", PASSWORD))
    # Both logins stay: Éva's pages still work.
    name, _ = await customer_row(bot_env, "U0038")
    assert name in eva.texts(await eva.press("home"))
    assert name in peter.texts(await peter.press("home"))
    # What one adds, the other has too; each chooses what they look at.
    await add_place(peter, await proof_for(bot_env.db, "U0039"))
    assert "🏠 U0039" in peter.texts(await peter.press("home"))
    eva_home = eva.texts(await eva.press("home"))
    assert eva_home.startswith("🏠 U0038")


async def test_typed_words_open_fiokvaltas(bot_env):
    eva = await active_customer(bot_env, "U0040", "eva40")
    for typed in ("fiókváltás", "szeretném a nyaralót is"):
        assert "Ügyfél-azonosítói ebben a belépésben" in eva.texts(await eva.say(typed)), typed
    # The add button's words start adding (the customer trial got the list again).
    asked = eva.texts(await eva.say("másik ügyfélazonosító hozzáadása"))
    assert "1/3. Adja meg a hozzáadandó ügyfél-azonosítót" in asked


async def test_adding_counts_its_steps_and_shows_a_summary_to_correct_before_adding(bot_env):
    """As the registration does: "1/3." to "3/3.", then the answers to check; a wrong one
    is corrected by its button (or typed under the summary) and nothing is added before ✅."""
    eva = await active_customer(bot_env, "U0028", "eva28")
    proof = await proof_for(bot_env.db, "U0029")
    listing = await eva.press("switch")
    first = eva.texts(await eva.press_on(listing[-1], "place_add"))
    assert "1/3. Adja meg a hozzáadandó ügyfél-azonosítót" in first
    assert "2/3." in eva.texts(await eva.say(proof["customer_id"]))
    # A sticker mid-way asks the same question again, with its number.
    assert "2/3." in eva.texts(await eva.sticker())
    assert "3/3." in eva.texts(await eva.say(proof["invoice"]))
    wrong = str(int(proof["amount"]) + 100)
    summary = await eva.say(wrong)
    text = eva.texts(summary)
    assert "Kérjük, ellenőrizze az adatait" in text
    assert f"Ügyfél-azonosító: {proof['customer_id']}" in text
    assert f"Számlaszám: {proof['invoice']}" in text
    assert "E-mail cím" not in text and "Jelszó" not in text  # none of the registration's own
    assert format_amount(int(wrong)) in text
    assert await bot_env.db.fetch_value("SELECT count(*) FROM account_links") == 0

    # Javítok → Számla összege → asked again with its number; Mégse there goes back to the
    # summary with every answer kept, as in the registration.
    await eva.press_on(summary[-1], "correct")
    asked = eva.texts(await eva.press_on(eva.user.last_reply, "field_amount"))
    assert "3/3." in asked and "végösszegét" in asked and "összesítőhöz" in asked
    back = await eva.press("cancel")
    assert "nem változtattunk semmin" in eva.texts(back) and format_amount(int(wrong)) in eva.texts(
        back
    )
    # Again, answered this time: the summary again, with the new amount.
    await eva.press_on(back[-1], "correct")
    await eva.press_on(eva.user.last_reply, "field_amount")
    summary = await eva.say(proof["amount"])
    assert format_amount(int(proof["amount"])) in eva.texts(summary)
    # A value typed under the summary replaces the field it fits.
    retyped = eva.texts(await eva.say(proof["invoice"].replace("-", "/")))
    assert "Átírtuk: Számlaszám." in retyped
    added = eva.texts(await eva.say("rendben, mehet"))
    assert "hozzáadtuk az U0029 ügyfél-azonosítót" in added
    assert (
        await bot_env.db.fetch_value(
            "SELECT count(*) FROM account_links WHERE customer_id = 'U0029'"
        )
        == 1
    )

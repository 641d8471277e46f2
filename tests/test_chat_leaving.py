"""Never lose progress by accident (issue 11, point 4): /start, /menu, a menu button or
another dialogue's button in the middle of a dialogue first says what would be lost and
offers to continue; with nothing answered yet it just does what was asked."""

from __future__ import annotations

from conversations.common import label
from tests.botkit import active_customer, proof_for

PASSWORD = "Nyári-Zápor-77"


async def _started_registration(person, env, customer_id: str) -> dict[str, str]:
    proof = await proof_for(env.db, customer_id)
    await person.command("start")
    await person.press("register")
    await person.say("margit.olah@example.hu")
    await person.say("olah.margit")
    await person.say(PASSWORD)
    await person.say(PASSWORD)
    return proof


async def test_start_mid_registration_names_what_would_be_lost_and_continues(bot_env):
    margit = bot_env.customer("Margit")
    proof = await _started_registration(margit, bot_env, "U0031")
    [offer] = await margit.command("start")
    assert "Ön éppen regisztrál" in offer.text
    assert "eddig megadta: e-mail cím, felhasználónév, jelszó." in offer.text
    assert "elvesznek" in offer.text
    assert PASSWORD not in offer.text and "olah.margit" not in offer.text  # names, no values
    buttons = [b["text"] for row in offer.inline_keyboard for b in row]
    assert buttons == [label("stay"), label("leave")]
    again = margit.texts(await margit.press_on(offer, "stay"))
    assert "ügyfél-azonosító" in again.lower()  # the current question, asked again
    await margit.say(proof["customer_id"])
    await margit.say(proof["invoice"])
    summary = margit.texts(await margit.say(proof["amount"]))
    assert "margit.olah@example.hu" in summary and "olah.margit" in summary  # nothing lost


async def test_leaving_mid_registration_does_what_was_asked_and_forgets(bot_env):
    margit = bot_env.customer("Margit")
    await _started_registration(margit, bot_env, "U0032")
    [offer] = await margit.command("belepes")  # another dialogue's command, from the menu
    assert "Ön éppen regisztrál" in offer.text and "Belépés" in offer.text
    asked = margit.texts(await margit.press_on(offer, "leave"))
    assert "felhasználónev" in asked.lower()  # the login's first question
    await margit.press("cancel")
    await margit.press("register")
    assert "1/6" in margit.last or "e-mail" in margit.last.lower()  # from the start again
    [fresh] = await margit.command("start")  # only the address asked: nothing answered yet
    assert "elvesznek" not in fresh.text


async def test_nothing_answered_yet_just_does_what_was_asked(bot_env):
    rozsa = bot_env.customer("Rózsa")
    await rozsa.command("start")
    await rozsa.press("register")
    greeting = rozsa.texts(await rozsa.command("start"))
    assert "elvesznek" not in greeting and label("register") in rozsa.keyboard


async def test_a_menu_button_mid_password_change_offers_to_continue(bot_env):
    """A logged-in customer who gave the current password sends Tartozás (the button's label,
    from an older keyboard: the dialogue shows only Mégse)."""
    customer_id = "U0033"
    geza = await active_customer(bot_env, customer_id, "geza.toth")
    await geza.press("password")
    await geza.say("Tavaszi-Szel-42")  # the current password, checked
    [offer] = await geza.say(label("debt"))
    assert "Ön éppen jelszót változtat; eddig megadta: jelenlegi jelszó." in offer.text
    assert "Tavaszi-Szel-42" not in offer.text
    debt = geza.texts(await geza.press_on(offer, "leave"))
    assert "Tartozás" in debt
    assert "Ön nincs" not in debt and label("home") in geza.keyboard
    # The offer's buttons are gone once answered: no stale choice stays on the screen.
    assert not geza.user.chat.get(offer.message_id).inline_keyboard


async def test_menu_command_mid_dialogue_with_nothing_answered_goes_home(bot_env):
    ilona = await active_customer(bot_env, "U0034", "ilona.eotvos")
    await ilona.press("password")
    home = ilona.texts(await ilona.command("menu"))
    assert "Kezdőlap" in home and "elvesznek" not in home

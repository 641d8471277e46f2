"""Issue 11, what a 65-year-old customer typed inside the dialogues: the words on the screen
typed by hand do what the buttons do, a typed confirmation sends, a typed value corrects,
a code from the mail works after /start, and the bot understands how they ask to pay or
to page on. Each story goes through the Bot API emulator with the real bot."""

from __future__ import annotations

import pytest

from conversations.common import label
from core import intents
from tests.botkit import active_customer, proof_for

PASSWORD = "Oszi-Levelek-58"


async def to_summary(env, person, *, email_address: str, username: str, proof: dict) -> None:
    """Answer every question of the registration, up to the summary."""
    await person.command("start")
    await person.press("register")
    for answer in (
        email_address,
        username,
        PASSWORD,
        PASSWORD,
        proof["customer_id"],
        proof["invoice"],
        proof["amount"],
    ):
        await person.say(answer)


async def pending(env, username: str) -> bool:
    status = await env.db.fetch_value(
        "SELECT status FROM portal_accounts WHERE username = ?", (username,)
    )
    return status == "pending"


@pytest.mark.parametrize("typed", ["igen rendben", "Rendben, elküldöm", "oké, mehet!"])
async def test_a_confirmation_typed_under_the_summary_sends_the_registration(bot_env, typed):
    proof = await proof_for(bot_env.db, "U0031")
    margit = bot_env.customer("Margit")
    await to_summary(
        bot_env, margit, email_address="margit.h@example.hu", username="margit.h", proof=proof
    )
    done = margit.texts(await margit.say(typed))
    assert "Köszönjük a regisztrációt" in done
    assert await pending(bot_env, "margit.h")


async def test_words_under_the_summary_correct_or_show_it_again_with_its_buttons(bot_env):
    proof = await proof_for(bot_env.db, "U0032")
    jozsef = bot_env.customer("József")
    await to_summary(
        bot_env, jozsef, email_address="jozsef.k@example.hu", username="jozsef.k", proof=proof
    )
    assert "végösszegét" in jozsef.texts(await jozsef.say("az összeget"))
    assert "Kérjük, ellenőrizze" in jozsef.texts(await jozsef.say(proof["amount"] + " Ft"))
    assert "e-mail címét" in jozsef.texts(await jozsef.say("Az email címet"))
    await jozsef.say("jozsef.kiss@example.hu")
    assert "Melyik adatot" in jozsef.texts(await jozsef.say("javítok"))
    await jozsef.say("mégse")
    # Neither a confirmation nor a correction: the summary again, its buttons under it.
    [again] = await jozsef.say("nem tudom")
    assert "Kérjük, ellenőrizze" in again.text and "jozsef.kiss@example.hu" in again.text
    assert label("confirm") in {b["text"] for row in again.inline_keyboard for b in row}
    assert not await pending(bot_env, "jozsef.k")
    assert "nem küldtük el" not in again.text
    assert "Köszönjük a regisztrációt" in jozsef.texts(await jozsef.press_on(again, "confirm"))


async def test_after_a_refused_proof_a_typed_amount_is_the_correction(bot_env):
    proof = await proof_for(bot_env.db, "U0033")
    wrong = {**proof, "amount": str(int(proof["amount"]) + 7)}
    teri = bot_env.customer("Teri")
    await to_summary(
        bot_env, teri, email_address="teri.b@example.hu", username="teri.b", proof=wrong
    )
    assert "nem egyezik" in teri.texts(await teri.press("confirm"))
    assert "végösszegét" in teri.texts(await teri.say("az osszeget"))
    await teri.say("mégse")
    await teri.press("confirm")  # refused again
    assert "Melyik adatot" in teri.texts(await teri.say("javitok"))
    await teri.say("vissza")
    amount = int(proof["amount"])
    typed = f"{amount // 1000} {amount % 1000:03d},-" if amount >= 1000 else f"{amount},-"
    summary = teri.texts(await teri.say(typed))
    assert "Átírtuk: Számla összege" in summary
    assert "Köszönjük a regisztrációt" in teri.texts(await teri.say("rendben, elküldöm"))


async def test_a_typed_button_label_at_the_login_is_the_button_not_a_user_name(bot_env):
    await active_customer(bot_env, "U0034", "piroska.n", PASSWORD)
    piroska = bot_env.customer("Piroska")
    await piroska.login("piroska.n", "rossz-jelszo-1")
    assert label("forgot") in piroska.keyboard
    asked = piroska.texts(await piroska.say("elfelejtett jelszo"))
    assert "e-mail címét" in asked  # Elfelejtett jelszó: whose password?
    assert "jelszavát" not in asked.split("e-mail címét")[0] or "felhasználónevét" in asked


async def test_a_reset_code_typed_after_start_leads_to_the_new_password(bot_env):
    await active_customer(bot_env, "U0035", "ilonka.s", PASSWORD)
    ilonka = bot_env.customer("Ilonka")
    await ilonka.command("start")
    await ilonka.press("forgot")
    await ilonka.say("ilonka.s")
    assert "24 karakteres" in ilonka.texts(await ilonka.say("megjött a kód"))
    await ilonka.command("start")
    code, _ = await bot_env.code_mailed_to("ilonka.s@example.hu")
    asked = ilonka.texts(await ilonka.say(code.lower()))
    assert "nem ismerjük" not in asked
    assert "új jelszavát" in asked.lower() or "új jelszó" in asked.lower()


async def test_at_the_activation_prompt_no_mail_offers_a_new_code(bot_env):
    bori = bot_env.customer("Bori")
    await bori.command("start")
    await bori.press("activate")
    [offer] = await bori.say("nem kaptam meg a levelet")
    assert "karaktert írt" not in offer.text
    assert label("resend") in {b["text"] for row in offer.inline_keyboard for b in row}


async def test_an_address_with_accents_is_told_without_them(bot_env):
    eva = bot_env.customer("Éva")
    await eva.command("start")
    await eva.press("register")
    told = eva.texts(await eva.say("kovács.éva@freemail.hu"))
    assert "ékezet" in told and "kovacs.eva@freemail.hu" in told


async def test_help_mid_registration_asks_again_with_the_step_number(bot_env):
    eva = bot_env.customer("Éva")
    await eva.command("start")
    await eva.press("register")
    await eva.say("eva.help@example.hu")
    again = eva.texts(await eva.command("help"))
    assert "2/6." in again


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("hogyan fizethetek", "debt"),
        ("mi a bankszámlaszámuk?", "debt"),
        ("Hogyan tudok fizetni? Csekket kaptam", "debt"),
        ("be szeretnek lepni", "login"),
        ("következő", "next"),
        ("kovetkezo oldal", "next"),
        ("tovabb", "next"),
        ("a regebbieket is szeretnem latni", "next"),
    ],
)
def test_the_words_are_understood(typed, meant):
    said = intents.understand(typed, logged_in=True)
    assert said.intents[:1] == (meant,), said


@pytest.mark.parametrize(
    ("typed", "kind", "expected"),
    [
        ("igen rendben", "confirm", True),
        ("rendben elkuldom", "confirm", True),
        ("nem küldöm el", "confirm", False),
        ("nem jó", "confirm", False),
        ("javítok", "correct", True),
        ("nem kaptam meg a levelet", "no_mail", True),
        ("megjött a kód", "got_code", True),
    ],
)
def test_what_a_typed_answer_says_in_a_dialogue(typed, kind, expected):
    assert intents.says(typed, kind) is expected


async def test_a_customer_pages_on_by_typing(bot_env):
    customer_id = await bot_env.db.fetch_value(
        "SELECT customer_id FROM invoices WHERE amount > 0 GROUP BY customer_id"
        " HAVING COUNT(*) > 6 ORDER BY customer_id LIMIT 1"
    )
    rozsa = await active_customer(bot_env, customer_id, "rozsa.t", PASSWORD)
    first = rozsa.texts(await rozsa.press("invoices"))
    assert "Számlák (1/" in first and "Következő" in first
    assert "Számlák (2/" in rozsa.texts(await rozsa.say("kovetkezo oldal"))


async def test_a_guest_asking_how_to_pay_gets_the_payee(staff_bot):
    env = await staff_bot(
        PETKOMM_PAYEE_NAME="PÉTKOMM Kft.",
        PETKOMM_PAYEE_IBAN="HU42 1177 3016 1111 1018 0000 0000",
    )
    vendeg = env.customer("Vendel")
    await vendeg.command("start")
    told = vendeg.texts(await vendeg.say("Hogyan tudok fizetni? Csekket kaptam"))
    assert "PÉTKOMM Kft." in told and "11773016" in told.replace("-", "").replace(" ", "")
    assert "közlemény" in told.lower()

"""Customers who type like people (issue 11, point 1 and point 6's buttons): what they type
instead of pressing a button works, a cancel word leaves any dialogue, a greeting is
answered as one, anything else gets the options they have, and inside a dialogue an
answer stays an answer. Every reply names only buttons on the screen (tests/botkit.py
checks that after every step; the last tests press them)."""

from __future__ import annotations

import re

import pytest

from conversations.common import CUSTOMER_MENU, GUEST_MENU, label
from core.outbox import Undelivered
from core.texts import render
from tests.botkit import active_customer, debtor, proof_for
from tests.screen import named_in
from tests.test_pay_qr import PAY

PASSWORD = "Nyari-Zapor-77"


async def tickets(env) -> list[str]:
    return [row[0] for row in await env.db.fetch_all("SELECT body FROM ticket_messages")]


async def test_a_guest_types_what_they_want_instead_of_pressing_buttons(bot_env):
    ilona = bot_env.customer("Ilona")
    await ilona.command("start")
    assert "1/6" in ilona.texts(await ilona.say("Regisztrálni szeretnék"))
    assert "megszakítottuk" in ilona.texts(await ilona.say("mégse!"))
    assert "felhasználónevét" in ilona.texts(await ilona.say("bejelentkezés"))
    assert "megszakítottuk" in ilona.texts(await ilona.say("Mégse."))
    assert "24 karakteres" in ilona.texts(await ilona.say("aktivalas"))
    await ilona.say("vissza")
    assert "e-mail címét" in ilona.texts(await ilona.say("elfelejtettem a jelszavam"))
    await ilona.say("MÉGSEM")
    assert "miben segíthetünk" in ilona.texts(await ilona.say("Hibabejelentés")).lower()
    await ilona.say("megse")
    # A page for customers: log in first, with both ways to get there on the screen.
    asked = ilona.texts(await ilona.say("szamlak"))
    assert "Ehhez be kell lépnie" in asked
    assert label("login") in ilona.keyboard and label("register") in ilona.keyboard
    assert "Súgó" in ilona.texts(await ilona.say("segítség kellene"))
    assert await tickets(bot_env) == []


async def test_a_customer_types_the_menu_in_their_own_words(bot_env):
    customer_id = await debtor(bot_env.db)
    gizella = await active_customer(bot_env, customer_id, "gizella.t", PASSWORD)
    debt = gizella.texts(await gizella.say("mennyi a tartozásom?"))
    assert "Tartozás" in debt and "Összesen" in debt
    assert "Számlák (1/" in gizella.texts(await gizella.say("kérem a számláimat"))
    assert "Folyószámla (1/" in gizella.texts(await gizella.say("FOLYÓSZÁMLA"))
    assert "Felhasználónév: gizella.t" in gizella.texts(
        await gizella.say("meg szeretném nézni az adataimat")
    )
    assert "Kezdőlap" in gizella.texts(await gizella.say("kezdolap"))
    assert "jelenlegi jelszavát" in gizella.texts(await gizella.say("jelszócsere"))
    assert "megszakítottuk" in gizella.texts(await gizella.say("Vissza!"))
    assert "Kezdőlap" in gizella.texts(await gizella.say("vissza a főmenübe"))


def _inline_texts(replies) -> list[str]:
    return [b["text"] for m in replies for row in m.inline_keyboard or [] for b in row]


# What a customer trial typed, one after the other, and what each must open (issue 15).
TRIAL_WORDS = [
    ("grafikon", "photo"),
    ("kivonat", "Folyószámla-kivonat"),
    ("diagram", "photo"),
    ("számlakivonat", "Folyószámla-kivonat"),
    ("fizetés", "Tartozás"),
    ("fizetnék", "Tartozás"),
    ("qr kód", "Tartozás"),
    ("értesítések", "Értesítések"),
    ("értesítés kikapcsolása", "Értesítések"),
    ("fiókváltás", "Ügyfél-azonosítói ebben a belépésben"),
    ("másik fiók", "Ügyfél-azonosítói ebben a belépésben"),
]


async def test_the_trials_words_open_their_pages_one_after_the_other(staff_bot):
    """A 65-year-old's trial: "grafikon" and "diagram" were not understood, "qr kód" opened
    the activation, where every word typed after it was refused as a wrong code."""
    bot_env = await staff_bot(**PAY)  # with a payee: Tartozás has its Fizetés buttons
    customer_id = await debtor(bot_env.db)
    margit = await active_customer(bot_env, customer_id, "margit.k", PASSWORD)
    for typed, shows in TRIAL_WORDS:
        replies = await margit.say(typed)
        if shows == "photo":  # the chart of the account shown, as 📊 Grafikon sends it
            assert [m.kind for m in replies] == ["photo"], typed
            assert "terhelés" in replies[0].caption, typed
            continue
        text = margit.texts(replies)
        assert shows in text, (typed, text[:200])
        assert "nem értem" not in text and "kódunk" not in text, typed
        if shows == "Tartozás":  # with its Fizetés buttons: the QR code is one press away
            assert label("pay_total") in _inline_texts(replies), typed
    assert "nem értem" in margit.texts(await margit.say("Milyen idő lesz holnap?"))

    # A guest is asked to log in first, as for every page (the payment words also say how
    # to pay by transfer, as Tartozás typed does); nothing opens a dialogue.
    guest = bot_env.customer("Vendel")
    await guest.command("start")
    for typed, shows in TRIAL_WORDS:
        text = guest.texts(await guest.say(typed))
        asked = "Belépni a Belépés gombbal" if shows == "Tartozás" else "Ehhez be kell lépnie"
        assert asked in text, (typed, text[:200])
        assert "24 karakteres" not in text and "nem értem" not in text, typed
    assert label("login") in guest.keyboard
    assert "nem értem" in guest.texts(await guest.say("asdf"))
    assert await tickets(bot_env) == []


async def test_two_possible_meanings_offer_both_buttons_first(bot_env):
    customer_id = await debtor(bot_env.db)
    jolan = await active_customer(bot_env, customer_id, "jolan.b", PASSWORD)
    offer = jolan.texts(await jolan.say("számla egyenleg"))
    assert "Erre gondolt" in offer and "Tartozás" in offer and "Számlák" in offer
    assert jolan.keyboard[:2] == [label("debt"), label("invoices")]
    assert label("logout") in jolan.keyboard  # the rest of the menu stays
    assert "Számlák (1/" in jolan.texts(await jolan.press("invoices"))


async def test_in_a_dialogue_an_answer_is_an_answer_and_only_a_cancel_word_switches(bot_env):
    """A user name "szamla" and a report "a számlám hibás" are taken as typed."""
    proof = await proof_for(bot_env.db, "U0036")
    laszlo = bot_env.customer("László")
    await laszlo.command("start")
    await laszlo.press("register")
    await laszlo.say("szamla.laszlo@example.hu")
    await laszlo.say("szamla")
    await laszlo.say(PASSWORD)
    await laszlo.say(PASSWORD)  # asked twice (issue 11)
    await laszlo.say(proof["customer_id"])
    await laszlo.say(proof["invoice"])
    summary = laszlo.texts(await laszlo.say(proof["amount"]))
    assert "Felhasználónév: szamla" in summary
    assert "Köszönjük a regisztrációt" in laszlo.texts(await laszlo.press("confirm"))

    await laszlo.press("report")
    opened = laszlo.texts(await laszlo.say("A számlám hibás, kérem nézzék meg."))
    assert re.search(r"PK-\d{6}", opened)
    assert await tickets(bot_env) == ["A számlám hibás, kérem nézzék meg."]
    # Only a cancel word alone switches: it leaves, it is no second report.
    await laszlo.press("report")
    assert "megszakítottuk" in laszlo.texts(await laszlo.say("Mégse!"))
    assert len(await tickets(bot_env)) == 1


async def test_a_typed_cancel_word_leaves_any_dialogue_at_any_step(bot_env):
    proof = await proof_for(bot_env.db, "U0037")
    customer = await active_customer(bot_env, "U0037", "margit.k", PASSWORD)
    await customer.press("logout")

    await customer.press("report")
    assert "megszakítottuk" in customer.texts(await customer.say("mégse"))
    await customer.press("report")
    assert "megszakítottuk" in customer.texts(await customer.say("Mégse!"))

    await customer.press("register")
    for answer in ("margit2@example.hu", "margit2", PASSWORD, PASSWORD, proof["customer_id"]):
        await customer.say(answer)
    assert "megszakítottuk" in customer.texts(await customer.say("inkább mégsem"))

    await customer.press("login")
    await customer.say("margit.k")
    assert "megszakítottuk" in customer.texts(await customer.say("megse"))
    typed = [m for m in customer.user.chat.messages if not m.from_bot and m.text == "megse"]
    assert typed and all(m.deleted for m in typed)  # where a password was asked: deleted

    await customer.press("activate")
    assert "megszakítottuk" in customer.texts(await customer.say("Vissza."))
    # Nothing half-done was kept: no ticket called "mégse", no second registration.
    assert await tickets(bot_env) == []
    count = await bot_env.db.fetch_value("SELECT count(*) FROM portal_accounts")
    assert count == 1
    # Outside a dialogue there is nothing to cancel.
    assert "nincs folyamatban" in customer.texts(await customer.say("mégse"))


async def test_kilepes_leaves_a_dialogue_inside_it_and_logs_out_outside(bot_env):
    customer_id = await debtor(bot_env.db)
    bela = await active_customer(bot_env, customer_id, "bela.sz", PASSWORD)
    await bela.press("password")
    left = bela.texts(await bela.say("kilépés"))
    assert "megszakítottuk" in left and "Bejelentkezve maradt" in left
    assert "Összesen" in bela.texts(await bela.say("tartozás"))  # still logged in
    assert "Kijelentkezett" in bela.texts(await bela.say("Kilépés!"))
    assert label("login") in bela.keyboard
    assert "Ehhez be kell lépnie" in bela.texts(await bela.say("tartozás"))
    assert "nincs bejelentkezve" in bela.texts(await bela.say("kijelentkezés"))


async def test_greetings_and_thanks_get_a_friendly_answer_never_nem_ertem(bot_env):
    rozsi = bot_env.customer("Rózsi")
    for typed, answer in (
        ("Jó napot!", "Jó napot kívánok"),
        ("Kezit csókolom", "Jó napot kívánok"),
        ("Köszönöm szépen!", "Szívesen"),
        ("köszi", "Szívesen"),
        ("Viszontlátásra", "Viszontlátásra"),
        ("rendben", "Rendben"),
    ):
        text = rozsi.texts(await rozsi.say(typed))
        assert answer in text and "nem értem" not in text, typed
        assert label("register") in rozsi.keyboard
    customer = await active_customer(bot_env, "U0038", "teri.n", PASSWORD)
    assert "Jó napot kívánok, teri.n" in customer.texts(await customer.say("szia"))
    bye = customer.texts(await customer.say("köszi, viszlát"))
    assert "Szívesen" in bye and "Kijelentkezés" in bye
    assert label("logout") in customer.keyboard


async def test_what_is_not_understood_gets_the_options_of_where_the_customer_is(bot_env):
    guest = bot_env.customer("Feri")
    text = guest.texts(await guest.say("Milyen idő lesz holnap?"))
    assert "nem értem" in text and "Regisztráció" in text and "Belépés" in text
    assert "Tartozás" not in text
    assert label("register") in guest.keyboard
    customer = await active_customer(bot_env, "U0039", "feri.v", PASSWORD)
    text = customer.texts(await customer.say("Milyen idő lesz holnap?"))
    assert "nem értem" in text and "Tartozás" in text and "Számlák" in text
    assert "Regisztráció" not in text
    assert label("debt") in customer.keyboard
    # A description that names no button: how to send it as a report.
    text = customer.texts(await customer.say("A szomszéd kertjében reggel óta ugat a kutya"))
    assert "bejelentésnek szánta" in text


async def test_a_reply_that_names_a_button_shows_it(bot_env):
    owner = await active_customer(bot_env, "U0034", "kata.f", PASSWORD)
    # Help names the buttons this customer has, no guest's.
    help_text = owner.texts(await owner.say("súgó"))
    assert "Tartozás" in help_text and "Regisztráció" not in help_text
    await owner.press("logout")

    # A wrong login names Elfelejtett jelszó: it is there, and it works.
    wrong = owner.texts(await owner.login("kata.f", "rossz-jelszo"))
    assert "Elfelejtett jelszó" in wrong and label("forgot") in owner.keyboard
    assert "e-mail címét" in owner.texts(await owner.press("forgot"))
    # Help in the middle of a dialogue names Mégse, and shows it.
    assert "Mégse" in owner.texts(await owner.command("help"))
    assert label("cancel") in owner.keyboard
    await owner.press("cancel")

    # A refused registration proof suggests Hibabejelentés: under the message.
    proof = await proof_for(bot_env.db, "U0035")
    stranger = bot_env.customer("Idegen")
    refused = await stranger.register(
        email_address="idegen@example.hu",
        username="idegen35",
        password=PASSWORD,
        customer_id=proof["customer_id"],
        invoice=proof["invoice"],
        amount="1",
    )
    assert "Hibabejelentés" in stranger.texts(refused)
    assert "miben segíthetünk" in stranger.texts(await stranger.press("report")).lower()


@pytest.mark.parametrize("why", [u.value for u in Undelivered])
def test_a_code_mail_notice_names_only_buttons_its_reader_has(why):
    """Notices come unasked, under the keyboard the customer has: who registered is a guest,
    who is told of a failed reset mail is logged in."""
    details = {"address": "anna@example.hu", "username": "anna", "why": why, "reply": ""}
    guest = {label(name) for row in GUEST_MENU for name in row}
    customer = {label(name) for row in CUSTOMER_MENU for name in row}
    activation = render("chat/activation/mail_failed.txt", **details)
    assert set(named_in(activation)) <= guest
    reset = render("chat/forgot/mail_failed.txt", **details)
    assert set(named_in(reset)) <= customer

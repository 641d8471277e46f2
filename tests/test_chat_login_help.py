"""Issue 11, points 5 and 8, as customers live them: nothing they type while logging in (or
just after a wrong password) stays on screen; the e-mail address logs in as well as the
user name; their own activation link logs them in at once; Súgó tells a guest and a
customer what they can do and where the invoice's numbers are; and the registered address
hears of a changed password and gets a copy of a data-change request."""

from __future__ import annotations

import re

from conversations.common import label
from tests.botkit import active_customer, proof_for

NOTE = "(az üzenetét biztonsági okból töröltük)"
PASSWORD = "Tavaszi-Szel-42"


def typed_by(person) -> list:
    """Everything the person typed, as the chat holds it (deleted ones included)."""
    return [m for m in person.user.chat.messages if not m.from_bot]


def body(mail) -> str:
    return mail.get_body(("plain",)).get_content()


# --- 5. never leave a secret on screen -----------------------------------------------------


async def test_every_message_of_a_login_is_deleted_even_a_password_typed_for_the_name(bot_env):
    jolan = await active_customer(bot_env, "U0031", "szabo.jolan", "Pipacs-Mezo-1961")
    await jolan.press("logout")
    await jolan.press("login")
    # She types her password where the bot asks for her name ...
    replies = await jolan.say("Pipacs-Mezo-1961")
    assert jolan.texts(replies).startswith(NOTE) and "jelszavát" in jolan.texts(replies)
    # ... and her name where it asks for the password: wrong, and gone too.
    assert "nem megfelelő" in jolan.texts(await jolan.say("szabo.jolan"))
    await jolan.say("szabo.jolan")
    home = jolan.texts(await jolan.say("Pipacs-Mezo-1961"))
    assert home.startswith(NOTE) and "Sikeres belépés" in home
    typed = typed_by(jolan)[-4:]
    assert [m.text for m in typed] == [
        "Pipacs-Mezo-1961",
        "szabo.jolan",
        "szabo.jolan",
        "Pipacs-Mezo-1961",
    ]
    assert all(m.deleted for m in typed)
    assert not any("Pipacs" in (m.text or "") for m in jolan.user.replies)


async def test_after_a_lockout_a_retyped_name_and_password_vanish_for_a_while(bot_env):
    imre = await active_customer(bot_env, "U0032", "horvath.imre", "Gesztenye-Sor-8")
    await imre.press("logout")
    await imre.press("login")
    for attempt in range(1, 6):
        await imre.say("horvath.imre")
        answer = imre.texts(await imre.say(f"Gesztenye-Sor-{attempt}0"))
    assert "perc múlva" in answer and "🔑 Belépés" in imre.keyboard
    # He types his name and his (right) password again, straight into the chat.
    first = imre.texts(await imre.say("horvath.imre"))
    second = imre.texts(await imre.say("Gesztenye-Sor-8"))
    assert NOTE in first and "jelszó lehet benne" in first  # the first one says why
    assert NOTE in second and "jelszó lehet benne" not in second
    assert all(m.deleted for m in typed_by(imre)[-2:])
    # A button is no secret: Súgó works and stays.
    assert "Súgó" in imre.texts(await imre.press("help"))
    assert not typed_by(imre)[-1].deleted
    # Once the lock is over (15 minutes), what he types stays on screen again.
    bot_env.clock.advance(16 * 60)
    await imre.say("jó napot")
    assert not typed_by(imre)[-1].deleted


async def test_a_wrong_current_password_keeps_a_watch_on_what_follows(bot_env):
    gizella = await active_customer(bot_env, "U0040", "olah.gizella", "Hajnal-Pir-77")
    await gizella.press("password")
    assert "nem megfelelő" in gizella.texts(await gizella.say("Hajnal-Pir-76"))
    await gizella.press("cancel")
    replies = gizella.texts(await gizella.say("Hajnal-Pir-77"))
    assert NOTE in replies and typed_by(gizella)[-1].deleted
    bot_env.clock.advance(11 * 60)
    await gizella.press("home")  # still logged in: a page keeps the login alive
    await gizella.say("köszönöm")
    assert not typed_by(gizella)[-1].deleted


# --- 8. fewer steps ------------------------------------------------------------------------


async def test_the_registered_address_logs_in_as_well_as_the_user_name(bot_env):
    agnes = await active_customer(bot_env, "U0033", "toth.agnes", "Kikelet-2031")
    await agnes.press("logout")
    home = agnes.texts(await agnes.login("Toth.Agnes@Example.hu", "Kikelet-2031"))
    assert "Sikeres belépés" in home and "U0033" in home
    await agnes.press("logout")
    # An address nobody has gets the answer a wrong user name gets.
    unknown = agnes.texts(await agnes.login("senki.sem@example.hu", "Kikelet-2031"))
    await agnes.press("cancel")
    wrong_name = agnes.texts(await agnes.login("senki.sem", "Kikelet-2031"))
    assert "nem megfelelő" in unknown
    assert unknown == wrong_name


async def household(env, address: str, *members: tuple[str, str, str]) -> list:
    """Family members, each registering their own customer ID with one shared address."""
    people = []
    for customer_id, username, password in members:
        person = env.customer(username)
        proof = await proof_for(env.db, customer_id)
        await person.register(email_address=address, username=username, password=password, **proof)
        _, link = await env.code_mailed_to(address)
        await person.open_link(link)
        if label("logout") in person.keyboard:  # their own link logged them in
            await person.press("logout")
        people.append(person)
    return people


async def test_one_address_of_several_accounts_opens_the_one_its_password_opens(bot_env):
    address = "kiss.csalad@example.hu"
    ferenc, _ = await household(
        bot_env,
        address,
        ("U0034", "kiss.ferenc", "Diofa-Alatt-12"),
        ("U0035", "kiss.ferencne", "Rozsakert-34"),
    )
    home = ferenc.texts(await ferenc.login(address, "Rozsakert-34"))
    assert "Sikeres belépés" in home and "U0035" in home  # no question: one account fits
    await ferenc.press("logout")
    home = ferenc.texts(await ferenc.login(address, "Diofa-Alatt-12"))
    assert "Sikeres belépés" in home and "U0034" in home


async def test_one_password_for_two_accounts_of_an_address_asks_which(bot_env):
    address = "nagy.testverek@example.hu"
    anna, _ = await household(
        bot_env,
        address,
        ("U0036", "nagy.anna", "Kozos-Jelszo-55"),
        ("U0037", "nagy.bori", "Kozos-Jelszo-55"),
    )
    asked = await anna.login(address, "Kozos-Jelszo-55")
    assert "Melyikbe szeretne belépni" in anna.texts(asked)
    buttons = [b["text"] for row in asked[-1].inline_keyboard for b in row]
    assert buttons == ["nagy.anna", "nagy.bori"]
    home = anna.texts(await anna.press_on(asked[-1], "nagy.bori"))
    assert "Sikeres belépés" in home and "U0037" in home
    await anna.press("logout")
    # Typing the name instead of pressing it works too (and is deleted like the rest).
    await anna.login(address, "Kozos-Jelszo-55")
    home = anna.texts(await anna.say("Nagy.Anna"))
    assert "Sikeres belépés" in home and "U0036" in home
    assert typed_by(anna)[-1].deleted
    # The choice stands for the password given just then, not for ever.
    await anna.press("logout")
    asked = await anna.login(address, "Kozos-Jelszo-55")
    bot_env.clock.advance(11 * 60)
    late = anna.texts(await anna.press_on(asked[-1], "nagy.anna"))
    assert "lejárt" in late and "Sikeres belépés" not in late


async def five_wrong(person, who: str, prefix: str) -> list[str]:
    """Five wrong passwords at `who`, leaving with Mégse between them; the answers."""
    answers = []
    for attempt in range(5):
        answers.append(person.texts(await person.login(who, f"{prefix}-{attempt}")))
        if attempt < 4:
            await person.press("cancel")
    return answers


async def test_strangers_guessing_at_a_shared_address_count_against_each_account(bot_env):
    address = "varga.haz@example.hu"
    lajos, eva = await household(
        bot_env,
        address,
        ("U0038", "varga.lajos", "Szolo-Hegy-21"),
        ("U0039", "varga.eva", "Szilva-Fa-43"),
    )
    # A stranger is stopped after five guesses, told alike at a shared address and at an
    # address of nobody: the answers tell nothing about what an address names.
    at_shared = await five_wrong(bot_env.customer("Kíváncsi"), address, "Talan-Ez")
    at_nobody = await five_wrong(bot_env.customer("Más"), "senki.haza@example.hu", "Talan-Ez")
    assert at_shared == at_nobody
    assert "nem megfelelő" in at_shared[0] and "15 perc múlva" in at_shared[-1]
    # Three more strangers: twenty guesses at the address in an hour, and each of its
    # accounts has counted them all, so a stranger is stopped at a user name too ...
    for n in range(3):
        await five_wrong(bot_env.customer(f"Kíváncsi {n}"), address, f"Hatha-{n}")
    late = bot_env.customer("Késő")
    assert "perc múlva" in late.texts(await late.login("varga.eva", "Szilva-Fa-43"))
    # ... while the owners, who have logged in before, still get in.
    assert "Sikeres belépés" in eva.texts(await eva.login("varga.eva", "Szilva-Fa-43"))
    assert "Sikeres belépés" in lajos.texts(await lajos.login("varga.lajos", "Szolo-Hegy-21"))


async def test_my_own_activation_link_logs_me_in_another_phone_only_activates(bot_env):
    margit = bot_env.customer("Margit")
    proof = await proof_for(bot_env.db, "U0029")
    await margit.register(
        email_address="kovacs.margit@example.hu",
        username="kovacs.margit",
        password="Levendula-19",
        **proof,
    )
    _, link = await bot_env.code_mailed_to("kovacs.margit@example.hu")
    # Her grandson opens the link on his own phone: the account is active, he is not in it.
    grandson = bot_env.customer("Bence")
    opened = grandson.texts(await grandson.open_link(link))
    assert "Fiókja aktív" in opened and "Belépés" in opened
    assert "🔑 Belépés" in grandson.keyboard
    # Her sister opens her own link in the chat she registered from: she is in at once.
    sister = bot_env.customer("Teréz")
    proof = await proof_for(bot_env.db, "U0030")
    await sister.register(
        email_address="kovacs.terez@example.hu",
        username="kovacs.terez",
        password="Kamilla-Ret-6",
        **proof,
    )
    _, link = await bot_env.code_mailed_to("kovacs.terez@example.hu")
    home = sister.texts(await sister.open_link(link))
    assert "Fiókja aktív" in home and "Be is léptettük" in home and "U0030" in home
    assert "💰 Tartozás" in sister.keyboard and "ℹ️ Súgó" in sister.keyboard


# --- 8. help where they are ----------------------------------------------------------------


async def test_help_differs_for_a_guest_and_a_customer_and_tells_where_the_numbers_are(
    staff_bot,
):
    env = await staff_bot(
        PETKOMM_SUPPORT_PHONE="+36 88 444 210", PETKOMM_OPENING_HOURS="H–P 7:30–15:30"
    )
    guest = env.customer("Vendég")
    await guest.command("start")
    as_guest = guest.texts(await guest.press("help"))
    assert "Regisztráció" in as_guest and "e-mail cím" in as_guest
    assert "Kijelentkezés" not in as_guest
    for told in ("U betű és 4 számjegy", "évszám és 6 számjegy", "papíron kapott számláján"):
        assert told in as_guest
    assert "+36 88 444 210 (H–P 7:30–15:30)" in as_guest

    customer = await active_customer(env, "U0011", "pap.geza")
    assert "ℹ️ Súgó" in customer.keyboard  # a Súgó button in the logged-in menu
    as_customer = customer.texts(await customer.press("help"))
    assert "Kijelentkezés" in as_customer and "Tartozás" in as_customer
    assert "Regisztráció" not in as_customer
    assert "U betű és 4 számjegy" in as_customer and "Kezdőlapon" in as_customer
    assert "+36 88 444 210" in as_customer
    assert "💰 Tartozás" in customer.keyboard  # still their menu under it


# --- 8. mails to the registered address ----------------------------------------------------


async def test_a_changed_and_a_reset_password_are_told_to_the_registered_address(bot_env):
    address = "fekete.zoltan@example.hu"
    zoltan = await active_customer(bot_env, "U0012", "fekete.zoltan", "Bodza-Szorp-3")
    await zoltan.press("password")
    await zoltan.say("Bodza-Szorp-3")
    await zoltan.say("Csipke-Bogyo-4")
    assert "levelet is küldünk" in zoltan.texts(await zoltan.say("Csipke-Bogyo-4"))
    changed = (await bot_env.mails_to(address))[-1]
    assert "jelszavát megváltoztatták" in changed["Subject"]
    text = body(changed)
    assert "Felhasználóneve: fekete.zoltan" in text and "Jelszó változtatás" in text
    assert "Ha nem Ön változtatta meg a jelszavát" in text and "Elfelejtett jelszó" in text
    assert "Csipke" not in text and "Bodza" not in text

    await zoltan.press("logout")
    await zoltan.press("forgot")
    await zoltan.say(address)
    _, link = await bot_env.code_mailed_to(address)
    await zoltan.open_link(link)
    await zoltan.say("Kokusz-Kocka-5")
    assert "levelet is küldünk" in zoltan.texts(await zoltan.say("Kokusz-Kocka-5"))
    reset = (await bot_env.mails_to(address))[-1]
    assert "jelszavát megváltoztatták" in reset["Subject"]
    assert "kóddal" in body(reset) and "Kokusz" not in body(reset)


async def test_a_data_change_request_is_copied_to_the_registered_address(bot_env):
    ilona = await active_customer(bot_env, "U0019", "lakatos.ilona")
    await ilona.press("customer_data")
    await ilona.press("change_request")
    asked = "Új levelezési címem: 8105 Pétfürdő, Berhidai út 7. Telefon: +36 70 222 3344"
    replies = ilona.texts(await ilona.say(asked))
    number = re.search(r"PK-\d{6}", replies)[0]
    assert "másolatát e-mailben is elküldjük" in replies
    copy = (await bot_env.mails_to("lakatos.ilona@example.hu"))[-1]
    assert copy["Subject"] == f"[#{number}] Adatmódosítási kérését rögzítettük"
    text = body(copy)
    assert asked in text and f"Ügyszám: {number}" in text
    assert "Ha nem Ön kérte ezt a módosítást" in text

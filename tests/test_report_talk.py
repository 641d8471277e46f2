"""A 65-year-old customer's afternoon with reports and answers (issue 11): what is typed
beside a ticket is read (a request is done, a new report is asked about, a message for an
answered ticket is asked about), a password typed where none was asked is deleted and never
kept, the first sentence of a report is kept, urgent words get the on-call number in any
state, and a reply is never refused by the new-report limit."""

from __future__ import annotations

from bot.staff import button_label
from conversations.common import label
from core.texts import labels
from tests.botkit import active_customer, debtor
from tests.test_report_kept import customer_texts, reported, ticket_count

MINUTE = 60.0
DELETED = "(az üzenetét biztonsági okból töröltük)"
ON_CALL = "+36 30 555 7788"
SUPPORT = "+36 88 411 200"


async def all_bodies(env) -> str:
    rows = await env.db.fetch_all("SELECT body FROM ticket_messages")
    return "\n".join(row[0] for row in rows)


def inline_labels(message) -> list[str]:
    return [b["text"] for row in (message.inline_keyboard or []) for b in row]


def with_buttons(replies) -> object:
    [asked] = [m for m in replies if m.inline_keyboard]
    return asked


def was_deleted(person, text: str) -> bool:
    mine = [m for m in person.user.chat.messages if not m.from_bot and m.text == text]
    assert mine, text
    return all(m.deleted for m in mine)


async def answered_report(staff_bot):
    """Rózsi's report, answered by a clerk: (env, Rózsi)."""
    env = await staff_bot()
    rozsi = env.customer("Rózsi")
    await reported(rozsi, "Eltört a kerti csap, kérem, jöjjenek ki megnézni.")
    post = await env.staff_message("PK-000001", "Új bejelentés")
    await env.clerk().reply(post, "Kollégánk holnap 9 és 11 között érkezik.")
    await env.chat_message(rozsi, "holnap 9 és 11")
    return env, rozsi


def customer_label(name: str, **values: str) -> str:
    return labels("customer")[name].format(**values)


# --- 1. a follow-up joins only what is not a request of its own ---


async def test_a_complaint_or_a_request_typed_after_a_report_is_not_filed_into_it(staff_bot):
    env = await staff_bot()
    ilona = await active_customer(env, await debtor(env.db), "ilona.k", "Tulipan-Kert-61")
    await reported(ilona, "A lépcsőházban reggel óta csöpög a fűtéscső szelepe.")

    env.clock.advance(MINUTE)
    replies = await ilona.say("Panaszt szeretnék tenni a decemberi számlám miatt")
    said = ilona.texts(replies)
    assert "Hozzáfűztük" not in said and "új bejelentésként" in said
    asked = with_buttons(replies)
    assert inline_labels(asked) == [
        customer_label("report_new"),
        customer_label("report_add", number="PK-000001"),
    ]
    opened = ilona.texts(await ilona.press_on(asked, customer_label("report_new")))
    assert "Ügyszáma: PK-000002" in opened
    assert await customer_texts(env, 2) == ["Panaszt szeretnék tenni a decemberi számlám miatt"]

    # A request typed in the minutes of a report is done, not filed.
    asked_for = ilona.texts(await ilona.say("meg szeretném változtatni a jelszavamat"))
    assert "Hozzáfűztük" not in asked_for and "jelenlegi jelszav" in asked_for.lower()
    await ilona.press("cancel")
    assert await customer_texts(env, 1) == ["A lépcsőházban reggel óta csöpög a fűtéscső szelepe."]
    assert len(await customer_texts(env, 2)) == 1


async def test_more_of_a_report_may_be_joined_by_its_button(staff_bot):
    env = await staff_bot()
    pista = env.customer("Pista")
    await reported(pista, "A Táncsics utcai vízóraaknában megsüllyedt a fedlap.")
    replies = await pista.say("Hibát szeretnék bejelenteni, a fedlap mellett kilazult a járdalap")
    asked = with_buttons(replies)
    added = pista.texts(
        await pista.press_on(asked, customer_label("report_add", number="PK-000001"))
    )
    assert "Hozzáfűztük a PK-000001" in added
    assert len(await customer_texts(env, 1)) == 2 and await ticket_count(env) == 1


# --- 2. a password typed where none was asked ---


async def test_a_password_typed_after_a_report_or_in_the_menu_is_deleted_and_never_kept(
    staff_bot,
):
    env = await staff_bot()
    secret = "Rozsaviz1961"
    jolan = await active_customer(env, await debtor(env.db), "jolan.b", secret)
    await reported(jolan, "A pincében nedves a fal a vízóra mögött.")
    env.clock.advance(MINUTE)
    said = jolan.texts(await jolan.say(secret))
    assert DELETED in said and "Hozzáfűztük" not in said
    assert was_deleted(jolan, secret)
    assert secret not in await all_bodies(env)
    assert await customer_texts(env, 1) == ["A pincében nedves a fal a vízóra mögött."]

    # Later, in the menu: their own password, and one that only looks like one.
    env.clock.advance(10 * MINUTE)
    said = jolan.texts(await jolan.say(secret))
    assert DELETED in said and "nem értem" not in said and was_deleted(jolan, secret)
    said = jolan.texts(await jolan.say("Kokuszdio2031"))
    assert DELETED in said and was_deleted(jolan, "Kokuszdio2031")

    # A guest's password-like word is deleted too; an invoice number or a name is not.
    guest = env.customer("Vendég")
    await guest.command("start")
    assert DELETED in guest.texts(await guest.say("Almafa1957!"))
    assert was_deleted(guest, "Almafa1957!")
    assert DELETED not in guest.texts(await guest.say("2026-002168"))
    assert not was_deleted(guest, "2026-002168")


async def test_deleting_a_password_answers_no_guess(staff_bot):
    # Someone at the customer's unlocked phone types words to find the password: the note
    # reads the same for the password and for another word, and after ten comparisons a day
    # the hash is not compared any more (a plain word is then never deleted).
    env = await staff_bot()
    secret = "napraforgovirag"  # letters only: deleted only as the customer's own password
    jolan = await active_customer(env, await debtor(env.db), "jolan.c", secret)
    own = jolan.texts(await jolan.say(secret))
    assert was_deleted(jolan, secret)
    mixed = jolan.texts(await jolan.say("Kokuszdio2031"))
    assert [t for t in own if t != secret] == [t for t in mixed if t != "Kokuszdio2031"]
    for word in (
        "gyongyvirag",
        "margareta1",
        "tulipanok",
        "szegfuszeg",
        "ibolyakek",
        "rozsakert",
        "liliomok",
        "nefelejcs",
    ):
        await jolan.say(word)
    env.clock.advance(MINUTE)
    said = jolan.texts(await jolan.say(secret))
    assert DELETED not in said and not was_deleted(jolan, secret)


# --- 3. the first sentence is kept ---


async def test_a_typed_report_is_kept_as_the_first_message_and_an_urgent_one_gets_the_number(
    staff_bot,
):
    env = await staff_bot(PETKOMM_EMERGENCY_PHONE=ON_CALL)
    guest = env.customer("Margit")
    await guest.command("start")
    said = guest.texts(await guest.say("Nincs viz a Kossuth utcaban hajnal ota"))
    assert ON_CALL in said and "Ügyszáma: PK-000001" in said
    assert said.index(ON_CALL) < said.index("Ügyszáma")
    assert "nem kell újra leírnia" in said
    assert await customer_texts(env, 1) == ["Nincs viz a Kossuth utcaban hajnal ota"]

    calm = env.customer("Béla")
    await calm.command("start")
    said = calm.texts(
        await calm.say("hibát szeretnék bejelenteni a kerti csap kopott tömítése miatt")
    )
    assert "Ügyszáma: PK-000002" in said and ON_CALL not in said
    # Only the words of the button: the prompt, as before.
    said = calm.texts(await env.customer("Anna").say("Hibabejelentés"))
    assert "Ügyszáma" not in said and "miben segíthetünk" in said


# --- 4. a message after a clerk's answer ---


async def test_a_plain_message_after_an_answer_is_asked_about_and_valasz_erre_typed_works(
    staff_bot,
):
    env, rozsi = await answered_report(staff_bot)

    env.clock.advance(20 * MINUTE)
    thanks = "Koszonom, elzartam a focsapot, varom a kollegat"
    replies = await rozsi.say(thanks)
    said = rozsi.texts(replies)
    assert "Ez a PK-000001 számú bejelentéséhez tartozik?" in said and "nem értem" not in said
    joined = rozsi.texts(await rozsi.press_on(with_buttons(replies), customer_label("report_yes")))
    assert "csatoltuk" in joined
    assert (await customer_texts(env, 1))[-1] == thanks
    await env.staff_message("PK-000001", "Új üzenet", "elzartam a focsapot")

    # A text naming a page, said as a message: asked too; "Nem" keeps it out.
    replies = await rozsi.say("es meg valami: a szamlat postan is megkaptam")
    assert "bejelentéséhez tartozik?" in rozsi.texts(replies)
    no = rozsi.texts(await rozsi.press_on(with_buttons(replies), customer_label("report_no")))
    assert "nem fűztük hozzá" in no
    assert len(await customer_texts(env, 1)) == 2

    # "válasz erre" typed starts the reply to the newest answer.
    ask = rozsi.texts(await rozsi.say("valasz erre"))
    assert "PK-000001" in ask and "Mégse" in ask
    joined = rozsi.texts(await rozsi.say("A szerelő megjött, köszönöm."))
    assert "csatoltuk" in joined
    assert (await customer_texts(env, 1))[-1] == "A szerelő megjött, köszönöm."


async def test_igen_or_nem_typed_answers_the_question_and_a_short_text_is_never_dropped(
    staff_bot,
):
    # The second customer trial: "igen" typed to "Ez a PK-… bejelentéséhez tartozik?" said
    # "Rendben." and added nothing; "a szomszédnál is folyik" only opened the prompt and was lost.
    env, rozsi = await answered_report(staff_bot)
    env.clock.advance(20 * MINUTE)

    thanks = "köszönöm, elzártam a főcsapot"
    assert "bejelentéséhez tartozik?" in rozsi.texts(await rozsi.say(thanks))
    assert "csatoltuk" in rozsi.texts(await rozsi.say("igen"))
    assert (await customer_texts(env, 1))[-1] == thanks

    other = "es meg valami: a szamlat postan is megkaptam"
    assert "bejelentéséhez tartozik?" in rozsi.texts(await rozsi.say(other))
    assert "nem fűztük hozzá" in rozsi.texts(await rozsi.say("Nem."))
    assert other not in await customer_texts(env, 1)

    # A question left unanswered: an "igen" typed hours later does not send its text.
    forgotten = "a kerítésnél is nedves a föld"
    assert "bejelentéséhez tartozik?" in rozsi.texts(await rozsi.say(forgotten))
    env.clock.advance(3 * 60 * MINUTE)
    assert "csatoltuk" not in rozsi.texts(await rozsi.say("igen"))
    assert forgotten not in await customer_texts(env, 1)

    # A text that opens Hibabejelentés but says little is kept and sent with the next one;
    # a bare request for the prompt is not.
    assert "Ezt megjegyeztük" not in rozsi.texts(await rozsi.say("bejelentést tennék"))
    await rozsi.press("cancel")
    env.clock.advance(20 * MINUTE)
    env.clock.advance(24 * 60 * MINUTE * 4)  # the answer is old now: no question about it
    kept = rozsi.texts(await rozsi.say("a szomszédnál is folyik"))
    assert "Ezt megjegyeztük: „a szomszédnál is folyik”" in kept
    opened = rozsi.texts(await rozsi.say("most már a lépcsőházban is"))
    assert "rögzítettük" in opened
    number = await ticket_count(env)
    assert await customer_texts(env, number) == [
        "a szomszédnál is folyik\nmost már a lépcsőházban is"
    ]


# --- 5. urgent words anywhere ---


async def test_urgent_words_get_the_on_call_number_first_and_are_offered_as_a_report(staff_bot):
    env = await staff_bot(PETKOMM_EMERGENCY_PHONE=ON_CALL, PETKOMM_SUPPORT_PHONE=SUPPORT)
    guest = env.customer("Gyula")
    await guest.command("start")
    replies = await guest.say("eltort a cso")
    said = guest.texts(replies)
    assert said.startswith("🚨") and ON_CALL in said and "nem értem" not in said
    sent = guest.texts(await guest.press_on(with_buttons(replies), customer_label("report_send")))
    assert "Ügyszáma: PK-000001" in sent
    assert await customer_texts(env, 1) == ["eltort a cso"]

    # Help words beside urgent ones: the number first, not the whole Súgó page.
    aranka = await active_customer(env, await debtor(env.db), "aranka.t", "Nefelejcs-Ut-58")
    replies = await aranka.say("Segitseg! Eltort a cso a pinceben es")
    said = aranka.texts(replies)
    assert said.startswith("🚨") and ON_CALL in said and "főelzáró" in said
    more = aranka.texts(await aranka.press_on(with_buttons(replies), customer_label("report_more")))
    assert "Mégse" in more
    opened = aranka.texts(await aranka.say("ömlik a víz a kazán mellett, Fő utca 3."))
    assert "Ügyszáma: PK-000002" in opened
    assert await customer_texts(env, 2) == [
        "Segitseg! Eltort a cso a pinceben es\nömlik a víz a kazán mellett, Fő utca 3."
    ]


# --- 6. replies never count as new reports ---


async def test_a_reply_after_many_follow_ups_is_taken_and_a_refusal_says_what_to_do(staff_bot):
    env = await staff_bot(PETKOMM_SUPPORT_PHONE=SUPPORT)
    teri = env.customer("Teri")
    await reported(teri, "A Bem utcai ház előtt víz szivárog az útburkolat alól.")
    for i in range(5):
        assert "Hozzáfűztük" in teri.texts(await teri.say(f"Kiegészítés {i}: a hely pontosan"))
    env.clock.advance(6 * MINUTE)
    await reported(teri, "A kapualjban a vízóra üvege bepárásodott, nem látszik az állás.")
    for i in range(5):
        assert "Hozzáfűztük" in teri.texts(await teri.say(f"Még egy adat {i}: a harmadik emelet"))

    post = await env.staff_message("PK-000001", "Új bejelentés")
    await env.clerk().reply(post, "Kollégánk megnézte, a szivárgást megszüntettük.")
    answer = await env.chat_message(teri, "megszüntettük")
    await teri.press_on(answer, button_label("customer_reply"))
    thanks = teri.texts(await teri.say("Igen megjott, mar megjavitottak. Koszonom"))
    assert "csatoltuk" in thanks and "perc múlva" not in thanks
    assert (await customer_texts(env, 1))[-1] == "Igen megjott, mar megjavitottak. Koszonom"

    # New reports do have a limit: the refusal says the text was not kept, gives the phone,
    # and leaves the customer at the menu, not inside the dialogue.
    for i in range(8):
        env.clock.advance(6 * MINUTE / 10)
        await reported(teri, f"Újabb észrevétel a {i + 3}. lépcsőházról, kérem nézzék meg.")
    refused = await reported(teri, "Még egy bejelentés a tizenegyedik alkalommal.")
    assert "nem rögzítettük" in refused and SUPPORT in refused
    assert label("report") in teri.keyboard and label("cancel") not in teri.keyboard

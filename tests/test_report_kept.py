"""Keep what customers write (issue 11, points 3 and 7): a report in several messages is one
ticket, a long paste Telegram split is one report, the message after "Válasz erre" is the
reply (a restart between them too), and a report that sounds urgent is told whom to call at
once while staff see it marked 🚨 — in the chat and by mail."""

from __future__ import annotations

import re

import pytest

from bot.staff import button_label
from conversations.common import label
from core import tickets
from core.accounts import CodeMailer
from core.config import Settings
from core.inbound import InboundContext, process_mail
from core.mail import MailContext
from storage import tickets as tickets_store
from tests.botkit import start_bot, stop_bot
from tests.test_handled_once import handled_twice, newest, since

MINUTE = 60.0


async def customer_texts(env, number: int) -> list[str]:
    """What the customer wrote into ticket `number`, oldest first."""
    return [m.body for m in await tickets_store.messages(env.db, number) if m.direction == "in"]


async def ticket_count(env) -> int:
    return int(await env.db.fetch_value("SELECT count(*) FROM tickets"))


async def reported(person, text: str) -> str:
    """The person sends a report with Hibabejelentés; the bot's whole answer."""
    if label("report") not in person.keyboard:
        await person.command("start")
    await person.press("report")
    return person.texts(await person.say(text))


# --- a report in several messages ------------------------------------------------------------


async def test_a_report_typed_in_several_messages_is_one_ticket_and_each_part_is_told(staff_bot):
    env = await staff_bot()
    juli = env.customer("Juli")
    opened = await reported(juli, "Jó napot kívánok! A Rákóczi utca 14. alatt lakom,")
    assert "Ügyszáma: PK-000001" in opened and "a következő 5 percben" in opened

    env.clock.advance(3 * MINUTE)  # a slow typist
    added = juli.texts(await juli.say("és a múlt heti leolvasás óta bepárásodott a vízóra üvege."))
    assert "Hozzáfűztük a PK-000001 számú bejelentéséhez" in added
    env.clock.advance(4 * MINUTE)  # the minutes count from the last message, not the first
    added = juli.texts(await juli.say("Kérem, nézzék meg, mikor jöhet szerelő."))
    assert "Hozzáfűztük a PK-000001" in added

    assert await ticket_count(env) == 1
    assert await customer_texts(env, 1) == [
        "Jó napot kívánok! A Rákóczi utca 14. alatt lakom,",
        "és a múlt heti leolvasás óta bepárásodott a vízóra üvege.",
        "Kérem, nézzék meg, mikor jöhet szerelő.",
    ]
    await env.staff_message("PK-000001", "Új bejelentés", "Rákóczi utca 14.")
    await env.staff_message("PK-000001", "Új üzenet", "mikor jöhet szerelő")

    # Later than the minutes, a text is not more of the report.
    env.clock.advance(6 * MINUTE)
    later = juli.texts(await juli.say("Egy másik kérdésem is lenne a csatornadíjról."))
    assert "Hozzáfűztük" not in later
    assert len(await customer_texts(env, 1)) == 3


async def test_a_button_ends_the_minutes_after_a_report_a_reply_to_its_number_does_not(
    staff_bot,
):
    env = await staff_bot()
    bence = env.customer("Bence")
    await reported(bence, "A Kinizsi utcai lakásban a mérőóra plombája megsérült.")
    confirmation = bence.user.last_reply
    assert "Hozzáfűztük" in bence.texts(await bence.say("Tegnap este vettem észre."))
    await bence.press("help")  # the customer has moved on
    after = bence.texts(await bence.say("Hogyan tudok regisztrálni?"))
    assert "Hozzáfűztük" not in after
    assert len(await customer_texts(env, 1)) == 2

    # Days later, a Telegram reply to the confirmation with its number still joins the ticket.
    env.clock.advance(3 * 86400)
    [joined] = await bence._run(
        lambda: bence.user.send_text(
            "A plombát azóta sem cserélték ki.", reply_to=confirmation.message_id
        )
    )
    assert "csatoltuk" in joined.text and "PK-000001" in joined.text
    assert (await customer_texts(env, 1))[-1] == "A plombát azóta sem cserélték ki."


def pasted_letter() -> str:
    """A complaint of about 6 500 characters whose first line alone is longer than a subject,
    cut by Telegram at 4096 characters in the middle of a word."""
    first = (
        "Tisztelt PÉTKOMM Kft.! Az alábbiakban részletesen leírom a Jókai Mór utca 23. szám"
        " alatti ingatlan vízfogyasztásával kapcsolatos észrevételeimet, mert a legutóbbi"
        " elszámoló számla szerintem nem a valós fogyasztást mutatja."
    )
    paragraph = (
        "A vízórát minden hónap első napján magam is leolvasom és felírom egy füzetbe,"
        " a leolvasott értékeket összevetettem a számlán szereplő mennyiséggel,"
        " és jelentős eltérést találtam a két adat között. "
    )
    text = first + "\n\n" + paragraph * 40
    cut = 4096
    assert text[cut - 1].isalpha() and text[cut].isalpha()  # Telegram cuts inside a word
    return text


async def test_a_long_paste_split_by_telegram_is_one_report_with_a_subject_cut_at_a_word(
    staff_bot,
):
    env = await staff_bot()
    text = pasted_letter()
    first_part, second_part = text[:4096], text[4096:]
    kati = env.customer("Kati")
    opened = await reported(kati, first_part)  # Telegram's own limit is taken whole
    assert "Ügyszáma: PK-000001" in opened and "túl hosszú" not in opened
    added = kati.texts(await kati.say(second_part))
    assert "Hozzáfűztük a PK-000001" in added

    assert await ticket_count(env) == 1
    assert "".join(await customer_texts(env, 1)) == text.strip()
    ticket = await tickets.get(env.db, 1)
    first_line = text.splitlines()[0]
    assert ticket.subject.endswith("…")
    kept = ticket.subject.removesuffix("…")
    assert first_line.startswith(kept) and first_line[len(kept)] == " "  # ends at a word
    post = await env.staff_message("PK-000001", "Új bejelentés")
    assert f"Tárgy: {ticket.subject}" in post.text


# --- the reply after "Válasz erre" -------------------------------------------------------------


async def answered(env, person, report: str, answer: str):
    """The person's report, answered by a clerk; the answer in the person's chat."""
    await reported(person, report)
    post = await env.staff_message("PK-000001", "Új bejelentés")
    await env.clerk().reply(post, answer)
    return await env.chat_message(person, answer)


async def test_after_valasz_erre_the_next_plain_message_is_the_reply_even_after_a_restart(
    staff_bot,
):
    env = await staff_bot()
    feri = env.customer("Feri")
    answer = await answered(
        env,
        feri,
        "Hétfő óta gyenge a víznyomás a fürdőszobában.",
        "Kollégánk csütörtökön 10 és 12 óra között érkezik.",
    )
    env.clock.advance(2 * 3600)  # long after the report's own minutes

    [ask] = await feri.press_on(answer, button_label("customer_reply"))
    assert "PK-000001" in ask.text and "Mégse" in ask.text
    assert feri.keyboard == [label("cancel")]

    await stop_bot(env.service)  # the bot restarts before the customer has written
    env.service = await start_bot(dict(env.settings.env), env.db, env.clock, env.emulator)

    reply = "Csütörtökön délelőtt itthon leszünk, de a kapucsengő rossz: kérem, telefonáljanak."
    [thanks] = await feri.say(reply)  # a plain message, not a Telegram reply
    assert "csatoltuk" in thanks.text and "PK-000001" in thanks.text
    assert label("report") in feri.keyboard  # the menu is back
    await env.staff_message("PK-000001", "Új üzenet", "a kapucsengő rossz")
    assert await customer_texts(env, 1) == ["Hétfő óta gyenge a víznyomás a fürdőszobában.", reply]

    # One message is the reply; what comes after is not.
    after = feri.texts(await feri.say("Köszönöm szépen a gyors intézkedést!"))
    assert "csatoltuk" not in after
    assert len(await customer_texts(env, 1)) == 2

    # Mégse leaves the reply unwritten.
    await feri.press_on(answer, button_label("customer_reply"))
    cancelled = feri.texts(await feri.press("cancel"))
    assert "megszakítottuk" in cancelled
    assert "csatoltuk" not in feri.texts(await feri.say("Mégis inkább felhívom Önöket."))
    assert len(await customer_texts(env, 1)) == 2


async def test_a_reply_to_a_closed_ticket_after_valasz_erre_reopens_it(staff_bot):
    env = await staff_bot()
    gizi = env.customer("Gizi")
    answer = await answered(
        env, gizi, "Nem kaptam meg az októberi számlát.", "Újra elküldtük postán."
    )
    await env.clerk().command("close", "PK-000001")
    await env.chat_message(gizi, "értékelje")  # the rating offer of the closing (issue 17)
    env.clock.advance(86400)
    await gizi.press_on(answer, button_label("customer_reply"))
    [thanks] = await gizi.say("Sajnos postán sem érkezett meg, kérem e-mailben.")
    assert "csatoltuk" in thanks.text
    await env.staff_message("PK-000001", "Újranyitva", "kérem e-mailben")
    assert (await tickets.get(env.db, 1)).status == "open"


async def test_more_of_a_report_handled_again_after_a_crash_joins_once(staff_bot):
    env = await staff_bot()
    lali = env.customer("Lali")
    await reported(lali, "A Deák tér 3. előtt megsüllyedt az aknafedél,")
    seen = newest(lali.user.chat.messages)
    await handled_twice(env, lali.id, lambda: lali.user.send_text("kérem, jelöljék ki."))
    answers = [t for t in since(lali.user.replies, seen) if "Hozzáfűztük" in t]
    assert len(answers) == 2 and all("PK-000001" in t for t in answers), answers
    assert await customer_texts(env, 1) == [
        "A Deák tér 3. előtt megsüllyedt az aknafedél,",
        "kérem, jelöljék ki.",
    ]


# --- reports that sound urgent ------------------------------------------------------------------


async def test_an_urgent_report_gets_the_on_call_number_at_once_and_staff_see_it_marked(
    staff_bot,
):
    env = await staff_bot(
        PETKOMM_EMERGENCY_PHONE="+36 20 444 1122", PETKOMM_SUPPORT_PHONE="+36 88 400 300"
    )
    calm = await reported(env.customer("Irén"), "Kérem a tavalyi éves elszámolás másolatát.")
    assert "🚨" not in calm and "+36 20 444 1122" not in calm

    # Typed without accents, in lower case, as many do on a phone.
    urgent = await reported(
        env.customer("Zoli"), "csotores van a petofi utcaban, omlik a viz az uttestre"
    )
    assert urgent.startswith("🚨")  # before anything else
    assert "ügyeletünket: +36 20 444 1122" in urgent and "főelzáró" in urgent
    assert urgent.index("+36 20 444 1122") < urgent.index("Ügyszáma: PK-000002")

    announced = await env.staff_message("PK-000002", "Új bejelentés")
    assert announced.text.startswith("🚨 SÜRGŐS")
    calm_post = await env.staff_message("PK-000001", "Új bejelentés")
    assert "🚨" not in calm_post.text

    anna = env.clerk()
    [listing] = await anna.command("tickets")
    assert "🚨 PK-000002" in listing.text and "🚨 PK-000001" not in listing.text
    [thread] = await anna.command("ticket", "PK-000002")
    assert "🚨" in thread.text
    assert (await tickets.get(env.db, 2)).urgent and not (await tickets.get(env.db, 1)).urgent


async def test_without_an_on_call_number_an_urgent_report_is_told_what_to_do_instead(
    staff_bot,
):
    env = await staff_bot(PETKOMM_SUPPORT_PHONE="+36 88 400 300", PETKOMM_OPENING_HOURS="H–P 7–15")
    dry = await reported(env.customer("Teri"), "Reggel óta nincs vizünk, a szomszédoknak sincs.")
    assert "ügyfélszolgálatunkat: +36 88 400 300 (H–P 7–15)" in dry
    assert "ügyeletünket" not in dry

    gas = await reported(env.customer("Sanyi"), "Erős gázszagot érzünk a lépcsőházban!")
    assert "112" in gas and "hagyja el a lakást" in gas

    # A report that becomes urgent in a later message: told then, and marked then.
    ede = env.customer("Ede")
    first = await reported(ede, "Jó napot kívánok, a Széchenyi tér 2-ből írok.")
    assert "🚨" not in first
    added = ede.texts(await ede.say("Beázott a fürdőszoba plafonja, csöpög a víz a lámpára!"))
    assert added.startswith("🚨") and "112" in added and "Hozzáfűztük a PK-000003" in added
    announced = await env.staff_message("PK-000003", "Új üzenet")
    assert announced.text.startswith("🚨 SÜRGŐS")
    assert (await tickets.get(env.db, 3)).urgent


# --- by mail ------------------------------------------------------------------------------------

NOW = 1_718_000_000.0
SETTINGS = Settings({})


@pytest.fixture
def mail_ctx() -> InboundContext:
    return InboundContext(
        ours=MailContext.of("petkomm@petkomm.hu"),
        settings=SETTINGS,
        answer_days=15,
        code_mailer=CodeMailer(SETTINGS, lambda: "petkomm_bot"),
        bot_username="petkomm_bot",
    )


def mail(subject: str, body: str, message_id: str) -> bytes:
    head = (
        f"From: Varga Ilona <varga.ilona@example.hu>\nTo: petkomm@petkomm.hu\n"
        f"Subject: {subject}\nDate: Mon, 10 Jun 2024 08:00:00 +0200\n"
        f"Message-ID: {message_id}\nMIME-Version: 1.0\n"
        "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n"
    )
    return (head + body).replace("\n", "\r\n").encode("utf-8")


async def test_a_mailed_report_that_sounds_urgent_is_marked_for_staff(db, mail_ctx):
    async def receive(raw: bytes, now: float) -> int:
        result = await process_mail(
            db, raw, ctx=mail_ctx, folder="INBOX", uidvalidity=7, uid=None, now=now
        )
        assert result.ticket_id is not None
        return result.ticket_id

    dry = await receive(
        mail("Vízhiány", "Jó napot!\nNem jön víz a csapból reggel óta.\n", "<a@x>"), NOW
    )
    calm = await receive(
        mail("Számlamásolat", "Kérem a májusi számla másolatát.\n", "<b@x>"), NOW + 60
    )
    assert (await tickets.get(db, dry)).urgent and not (await tickets.get(db, calm)).urgent

    # The customer writes again into the calm ticket: now water is pouring into the cellar.
    number = tickets.ticket_number(calm)
    again = await receive(
        mail(f"Re: [#{number}] Számlamásolat", "Azóta elöntötte a pincét a víz!\n", "<c@x>"),
        NOW + 120,
    )
    assert again == calm and (await tickets.get(db, calm)).urgent


def test_a_report_subject_is_its_first_line_cut_at_a_word():
    line = "Nem érkezett meg " + "a novemberi vízdíjszámlám " * 8
    subject = tickets.subject_from_text("\n\n" + line + "\nMásodik sor.")
    assert len(subject) <= tickets.SUBJECT_MAX and subject.endswith("…")
    assert line.startswith(subject[:-1]) and line[len(subject) - 1] == " "
    assert re.match(r"^Nem érkezett", subject)
    assert tickets.subject_from_text("Rövid tárgy\nszöveg") == "Rövid tárgy"


@pytest.mark.parametrize("typed", ["Köszönöm!", "mégse", "Számlák"])
async def test_thanks_cancel_or_a_button_word_after_a_report_is_not_more_of_it(staff_bot, typed):
    env = await staff_bot()
    juli = env.customer("Juli")
    await reported(juli, "A Petőfi utca sarkán nyitva maradt egy akna fedele.")
    answer = juli.texts(await juli.say(typed))
    assert "Hozzáfűztük" not in answer
    assert await customer_texts(env, 1) == ["A Petőfi utca sarkán nyitva maradt egy akna fedele."]

"""The clerk's desk in the staff chat (issue 17): the customer beside the ticket, /link,
internal notes, taking and handing over.

The real bot polls the Bot API emulator with a staff group; customers are the
simulated people of the other chat tests, with the demo billing data behind them.
"""

from __future__ import annotations

import re
from datetime import datetime

from bot.staff import button_label
from core import staff, tickets
from core.accounts import BUDAPEST
from core.formats import format_amount, format_invoice_number
from storage import audit
from storage import tickets as tickets_store
from tests.botkit import STAFF_IDS, TODAY, active_customer, debtor

DAY = 86400.0


async def report(customer, text: str) -> str:
    """The customer reports a problem in the chat; returns the ticket number."""
    await customer.press("report")
    [reply] = await customer.say(text)
    assert "rögzítettük" in reply.text
    return reply.text.split("Ügyszáma: ")[1].split()[0]


async def audited(env, action: str) -> list[audit.AuditEntry]:
    return [e for e in await audit.entries(env.db) if e.action == action]


async def mail_ticket(env, address: str, subject: str, text: str) -> str:
    """A mail report from `address`, as the mail worker opens it (announcement marked sent)."""
    async with env.db.transaction() as tx:
        ticket = await tickets.open_ticket(
            tx,
            channel="mail",
            subject=subject,
            body=text,
            new_text=text,
            actor=f"mail:{address}",
            email=address,
            mail_message_id=f"<{subject.replace(' ', '.')}@example.hu>",
            now=env.clock.now,
        )
        await tx.execute("UPDATE staff_announcements SET sent_at = ?", (env.clock.now,))
    return tickets.ticket_number(ticket.id)


async def test_opening_a_ticket_shows_the_customer_beside_it(staff_bot):
    env = await staff_bot()
    customer_id = await debtor(env.db)
    name, address, method = await env.db.fetch_one(
        "SELECT name, address, payment_method FROM customers WHERE customer_id = ?",
        (customer_id,),
    )
    [overdue, *_] = await env.db.fetch_all(
        "SELECT invoice_no, outstanding FROM invoices WHERE customer_id = ? AND outstanding > 0"
        " AND due_date < ? ORDER BY due_date, invoice_no",
        (customer_id, TODAY.isoformat()),
    )
    paid_on, paid = await env.db.fetch_one(
        "SELECT booked_on, amount FROM transactions WHERE customer_id = ? AND kind = 'payment'"
        " ORDER BY booked_on DESC, id DESC LIMIT 1",
        (customer_id,),
    )
    eva = await active_customer(env, customer_id, "tartozo")
    first = await report(eva, "Miért ilyen magas a számlám? Nem értem az összeget.")
    post = await env.staff_message(first, "Új bejelentés")

    anna = env.clerk()
    [thread] = await anna.press(post, button_label("open"))
    text = thread.text
    assert f"{name} · {customer_id}" in text and f"Cím: {address}" in text
    assert f"Fizetési mód: {method or 'nincs megadva'}" in text
    assert "Egyenleg: " in text and "tartozás" in text
    line = next(li for li in text.splitlines() if format_invoice_number(overdue[0]) in li)
    assert line.startswith("⚠️") and format_amount(overdue[1]) in line and "(lejárt)" in line
    y, m, d = paid_on.split("-")
    assert f"Utolsó befizetés: {y}. {m}. {d}., {format_amount(paid)}" in text
    assert "Csevegés: használja, most is be van lépve" in text
    assert "Más bejelentése nincs." in text

    # A second report lists the first beside it; /ticket shows the same view.
    second = await report(eva, "És a múlt havi számlám sem jött meg e-mailben.")
    await env.staff_message(second, "Új bejelentés")
    [again] = await anna.command("ticket", second)
    assert "Más bejelentései (1 db):" in again.text and first in again.text
    # The first one lists the later one beside it: not "earlier" (Korábbi).
    [back] = await anna.command("ticket", first)
    assert "Más bejelentései (1 db):" in back.text and second in back.text
    assert "Korábbi" not in back.text


async def test_an_unknown_sender_is_said_so_and_a_clerk_links_the_ticket(staff_bot):
    env = await staff_bot()
    number = await mail_ticket(env, "ismeretlen@example.hu", "Vizora csere", "Mikor cserélik?")
    anna = env.clerk()
    [thread] = await anna.command("ticket", number)
    assert "Ismeretlen feladó: ez az e-mail cím egyetlen ügyfélhez sincs kötve." in thread.text
    assert f"/link {number} U1234" in thread.text

    customer_id = await debtor(env.db)
    name = await env.db.fetch_value(
        "SELECT name FROM customers WHERE customer_id = ?", (customer_id,)
    )
    [bad] = await anna.command("link", f"{number} U99999")
    assert "nem ügyfél-azonosító" in bad.text
    [missing] = await anna.command("link", f"{number} U9999")
    assert "Nincs ilyen ügyfél-azonosító" in missing.text
    # In reply to the thread, the ticket need not be named.
    [linked] = await anna.command("link", customer_id, reply_to=thread)
    assert f"{number}" in linked.text and f"{name} ({customer_id})" in linked.text
    [after] = await anna.command("ticket", number)
    assert f"{name} · {customer_id}" in after.text and "Ismeretlen feladó" not in after.text
    ticket = await tickets.get(env.db, tickets.parse_ticket_number(number))
    assert ticket.customer_id == customer_id
    [entry] = await audited(env, "ticket_linked")
    assert (entry.actor, entry.target, entry.details) == (f"staff:{anna.id}", number, customer_id)


async def test_a_note_is_for_staff_only_and_its_author_may_edit_it(staff_bot):
    env = await staff_bot()
    guest = env.customer("Béla")
    await guest.command("start")
    number = await report(guest, "Zajos a vízóra éjszaka.")
    post = await env.staff_message(number, "Új bejelentés")
    seen = len(guest.user.replies)

    anna = env.clerk()
    [noted] = await anna.command("note", f"{number} Tavaly is panaszkodott, a szerelő tudja.")
    assert "Belső jegyzet rögzítve" in noted.text and "nem jut el" in noted.text
    note_id = int(noted.text.split("rögzítve (")[1].split(".")[0])
    [thread] = await anna.press(post, button_label("open"))
    assert f"Belső jegyzet {note_id}" in thread.text
    assert "Tavaly is panaszkodott, a szerelő tudja." in thread.text

    # Another clerk may not change it; its author may.
    kata = env.clerk(STAFF_IDS[1], "Kata")
    [refused] = await kata.command("editnote", f"{note_id} Átírom.")
    assert "nem Ön írta" in refused.text
    [edited] = await anna.command("editnote", f"{note_id} Tavaly is panaszkodott; hívjuk vissza.")
    assert "Jegyzet szerkesztve" in edited.text
    [thread] = await anna.command("ticket", number)
    assert "hívjuk vissza" in thread.text and "szerkesztve" in thread.text
    assert "Átírom" not in thread.text

    # The answer reaches the customer; the note never does.
    await anna.reply(post, "Holnap megnézzük a vízórát.")
    await env.chat_message(guest, "Holnap megnézzük a vízórát.")
    customer_saw = " ".join(m.text or "" for m in guest.user.replies[seen:])
    assert "panaszkodott" not in customer_saw and "jegyzet" not in customer_saw.lower()
    ticket_id = tickets.parse_ticket_number(number)
    # The thread names the clerks as the notes do: Anna, and the command line's anna.
    await staff.answer(
        env.db, env.settings, ticket_id, "Kedden megyünk.", actor="cli:anna", now=env.clock.now
    )
    [thread] = await kata.command("ticket", number)
    assert "Munkatárs (Anna)" in thread.text
    assert "Munkatárs (anna (parancssor))" in thread.text
    assert "staff:" not in thread.text and "cli:" not in thread.text
    assert all(
        "panaszkodott" not in m.body for m in await tickets_store.messages(env.db, ticket_id)
    )
    assert [e.details for e in await audited(env, "note_added")] == [f"note {note_id}"]
    assert [e.actor for e in await audited(env, "note_edited")] == [f"staff:{anna.id}"]
    assert all("panaszkodott" not in e.details for e in await audit.entries(env.db))


async def test_a_clerk_takes_a_ticket_hands_it_over_and_the_holder_hears_of_the_customer(
    staff_bot,
):
    env = await staff_bot()
    guest = env.customer("Gizella")
    await guest.command("start")
    number = await report(guest, "Kérek egy visszahívást a számla miatt.")
    post = await env.staff_message(number, "Új bejelentés")
    anna = env.clerk()
    kata = env.clerk(STAFF_IDS[1], "Kata", username="kata")
    await kata.command("mine")  # Kata has used the bot: it knows her @name
    [empty] = await anna.command("mine")
    assert "Önnél nincs nyitott bejelentés" in empty.text

    [taken] = await anna.press(post, button_label("take"))
    assert f"{number}" in taken.text and "átvette Anna" in taken.text
    assert taken.text.count("Anna") == 1  # not "átvette Anna · Anna"
    [listing] = await anna.command("tickets")
    assert "🙋 Anna" in listing.text
    [mine] = await anna.command("mine")
    assert "Az Ön nyitott bejelentései" in mine.text and number in mine.text

    [handed] = await anna.command("assign", f"{number} @kata")
    assert "átadva neki: Kata" in handed.text and "(eddig: Anna)" in handed.text
    [anna_mine] = await anna.command("mine")
    assert number not in anna_mine.text
    [kata_mine] = await kata.command("mine")
    assert number in kata_mine.text
    [nobody] = await anna.command("assign", f"{number} @senki")
    assert "Nem ismerek ilyen nevű munkatársat (@senki)" in nobody.text
    assert f"/take {number}" in nobody.text
    # No number that could be taken for somebody's: the trial's clerk pasted Anna's own.
    assert not re.search(r"/assign \S+ \d", nobody.text), nobody.text

    # The customer writes again: the announcement names Kata with a mention.
    answer_to = await anna.reply(post, "Holnap hívjuk.")
    assert answer_to
    answer = await env.chat_message(guest, "Holnap hívjuk.")
    await guest._run(lambda: guest.user.send_text("Köszönöm, várom!", reply_to=answer.message_id))
    again = await env.staff_message(number, "Új üzenet", "Köszönöm, várom!")
    assert "Kezeli: Kata – az ügyfél ismét írt" in again.text
    mention = [e for e in again.entities if e["type"] == "text_link"]
    assert [e["url"] for e in mention] == [f"tg://user?id={kata.id}"]

    assert [(e.actor, e.target) for e in await audited(env, "ticket_taken")] == [
        (f"staff:{anna.id}", number)
    ]
    [assigned] = await audited(env, "ticket_assigned")
    assert assigned.details == f"to {kata.id} (was {anna.id})"


async def test_strangers_are_refused_every_desk_command_and_button(staff_bot):
    env = await staff_bot()
    guest = env.customer("Zoltán")
    await guest.command("start")
    number = await report(guest, "Hibás a számlám összege.")
    post = await env.staff_message(number, "Új bejelentés")
    stranger = env.clerk(4242, "Idegen")
    for command, payload in (
        ("link", f"{number} U0001"),
        ("note", f"{number} titok"),
        ("editnote", "1 titok"),
        ("take", number),
        ("assign", f"{number} 9001"),
        ("release", number),
        ("mine", None),
        ("search", "számla"),
        ("search", "Ökrös"),
        ("merge", f"{number} PK-000002"),
    ):
        [refused] = await stranger.command(command, payload)
        assert "ügyfélszolgálat munkatársai" in refused.text, command
        # In the group there is no ✉️ Hibabejelentés button: the bot's private chat is.
        assert "Hibabejelentés gombot" not in refused.text, command
        assert f"privát üzenetben: https://t.me/{env.emulator.bot_username}" in refused.text
    assert await stranger.press(post, button_label("take")) == []
    assert "munkatársai" in env.emulator.callback_answers[-1].text
    # A customer typing one in their own chat is refused too.
    [mine] = await guest.command("note", f"{number} hello")
    assert "ügyfélszolgálat munkatársai" in mine.text
    assert "nyomja meg a ✉️ Hibabejelentés gombot" in mine.text  # it is there, in her chat

    ticket = await tickets.get(env.db, tickets.parse_ticket_number(number))
    assert ticket.holder_id is None and ticket.customer_id is None
    assert await env.db.fetch_value("SELECT count(*) FROM ticket_notes") == 0
    refused = [(e.actor, e.target) for e in await audited(env, "staff_refused")]
    assert refused == [
        ("tg:4242", "/link"),
        ("tg:4242", "/note"),
        ("tg:4242", "/editnote"),
        ("tg:4242", "/take"),
        ("tg:4242", "/assign"),
        ("tg:4242", "/release"),
        ("tg:4242", "/mine"),
        ("tg:4242", "/search"),
        ("tg:4242", "/search"),
        ("tg:4242", "/merge"),
        ("tg:4242", "button take"),
        (f"tg:{guest.id}", "/note"),
    ]


PAYEE = {"PETKOMM_PAYEE_NAME": "PÉTKOMM Kft.", "PETKOMM_PAYEE_IBAN": "HU42117730161111101800000000"}


def labels(message) -> list[str]:
    return [b["text"] for row in message.reply_markup.get("inline_keyboard", []) for b in row]


async def test_a_canned_answer_carries_the_customers_real_debt_and_is_shown_before_it_goes(
    staff_bot,
):
    env = await staff_bot(**PAYEE)
    customer_id = await debtor(env.db)
    owed = await env.db.fetch_value(
        "SELECT sum(outstanding) FROM invoices WHERE customer_id = ? AND outstanding > 0",
        (customer_id,),
    )
    name = await env.db.fetch_value(
        "SELECT name FROM customers WHERE customer_id = ?", (customer_id,)
    )
    eva = await active_customer(env, customer_id, "sablonos")
    number = await report(eva, "Mennyivel tartozom, és hová fizessek?")
    post = await env.staff_message(number, "Új bejelentés")
    seen = len(eva.user.replies)

    anna = env.clerk()
    [choices] = await anna.press(post, button_label("canned"))
    assert "tartozas" in labels(choices) and "Tartozás és befizetés" in choices.text
    [preview] = await anna.press(choices, "tartozas")
    assert f"Tisztelt {name}!" in preview.text
    assert f"{format_amount(owed)} kiegyenlítetlen tartozása van" in preview.text
    assert "Kedvezményezett: PÉTKOMM Kft." in preview.text and "11773016-11111018" in preview.text
    assert labels(preview) == [button_label("send_canned"), button_label("drop_canned")]
    send_data = preview.reply_markup["inline_keyboard"][0][0]["callback_data"]
    assert "⚠️" not in preview.text  # her own chat, logged in, the payee set: nothing to warn
    assert len(eva.user.replies) == seen  # nothing went yet

    [sent] = await anna.press(preview, button_label("send_canned"))
    assert "Válasz elküldve" in sent.text
    answer = await env.chat_message(eva, number, "kiegyenlítetlen tartozása van")
    assert format_amount(owed) in answer.text and f"Tisztelt {name}!" in answer.text
    # Its buttons are gone; pressed again (a stale keyboard), it does not go twice.
    assert buttons_now(preview) == []
    [again] = await anna.press_data(preview, send_data)
    assert "már elment a válasz" in again.text and "Anna" in again.text
    await env.announcer.run_once()
    assert sum("kiegyenlítetlen" in (m.text or "") for m in eva.user.replies) == 1
    [entry] = await audited(env, "canned_sent")
    assert entry.target == number and entry.details.startswith("tartozas")


async def test_a_debt_answer_for_a_chat_not_logged_in_to_the_customer_is_flagged_before_it_goes(
    staff_bot,
):
    # No payee settings, and a chat nobody logged in to: the clerk linked it to a debtor.
    env = await staff_bot()
    customer_id = await debtor(env.db)
    guest = env.customer("Vendég")
    await guest.command("start")
    number = await report(guest, "Mennyi a tartozásom?")
    await env.staff_message(number, "Új bejelentés")
    anna = env.clerk()
    await anna.command("link", f"{number} {customer_id}")

    [preview] = await anna.command("reply", f"{number} #tartozas")
    assert "kiegyenlítetlen tartozása van" in preview.text
    assert "ez a csevegés most nincs belépve az ügyfél fiókjába" in preview.text
    assert "Az átutalás adatai kimaradtak" in preview.text
    assert "PETKOMM_PAYEE_NAME, PETKOMM_PAYEE_IBAN" in preview.text
    # An answer that tells nothing of the debt needs no warning about the reader.
    [plain] = await anna.command("reply", f"{number} #megoldva")
    assert "⚠️" not in plain.text
    # The clerk decides: ✅ Elküldöm is the confirmation.
    [sent] = await anna.press(preview, button_label("send_canned"))
    assert "Válasz elküldve" in sent.text


async def test_a_clerk_changes_a_canned_answer_before_it_goes_or_drops_it(staff_bot):
    env = await staff_bot()
    guest = env.customer("Ilona")
    await guest.command("start")
    number = await report(guest, "Elromlott a vízóra, mikor cserélik?")
    await env.staff_message(number, "Új bejelentés")
    anna = env.clerk()

    [preview] = await anna.command("reply", f"{number} #megoldva")
    assert "Tisztelt Ügyfelünk!" in preview.text and "rendeztük" in preview.text
    # The clerk sends a changed text in reply to the preview: that one goes, not the canned.
    await anna.reply(preview, "Tisztelt Ügyfelünk! A vízórát holnap cseréljük.")
    await env.chat_message(guest, "A vízórát holnap cseréljük.")
    assert not any("rendeztük" in (m.text or "") for m in guest.user.replies)

    [second] = await anna.command("reply", f"{number} #megoldva")
    send_data = second.reply_markup["inline_keyboard"][0][0]["callback_data"]
    [dropped] = await anna.press(second, button_label("drop_canned"))
    assert "nem ment el" in dropped.text
    [late] = await anna.press_data(second, send_data)
    assert "visszavonta" in late.text
    assert not any("rendeztük" in (m.text or "") for m in guest.user.replies)

    [unknown] = await anna.command("reply", f"{number} #nincsilyen")
    assert "Nincs „nincsilyen” nevű sablon" in unknown.text
    # A plain answer starting with # is still an answer.
    await anna.command("reply", f"{number} #1 kérdésére: igen.")
    await env.chat_message(guest, "#1 kérdésére: igen.")


async def test_a_draft_is_used_up_by_whichever_comes_first_send_changed_send_or_cancel(
    staff_bot,
):
    env = await staff_bot()
    guest = env.customer("Lili")
    await guest.command("start")
    number = await report(guest, "Elromlott a vízóra, mikor cserélik?")
    await env.staff_message(number, "Új bejelentés")
    anna, bela = env.clerk(), env.clerk(STAFF_IDS[1], "Béla")

    # Anna fills the draft; Béla answers it with a changed text: that uses it up.
    [preview] = await anna.command("reply", f"{number} #megoldva")
    [send_data] = [
        b["callback_data"]
        for row in preview.reply_markup["inline_keyboard"]
        for b in row
        if b["callback_data"].startswith("sd:send:")
    ]
    [changed] = await bela.reply(preview, "Tisztelt Ügyfelünk! A vízórát holnap cseréljük.")
    assert "Válasz elküldve" in changed.text and "Béla" in changed.text
    await env.chat_message(guest, "A vízórát holnap cseréljük.")
    assert buttons_now(preview) == []  # its buttons are gone
    # Anna's ✅ Elküldöm from her (stale) keyboard is refused, naming Béla; nothing more goes.
    [late] = await anna.press_data(preview, send_data)
    assert "már elment a válasz" in late.text and "Béla" in late.text
    [again] = await bela.reply(preview, "Még egyszer: holnap cseréljük.")
    assert "már elment a válasz" in again.text
    await env.announcer.run_once()
    texts = [m.text or "" for m in guest.user.replies]
    assert not any("rendeztük" in t for t in texts)
    assert not any("Még egyszer" in t for t in texts)

    # After ✖️ Mégse, a reply to the draft does not send.
    [second] = await anna.command("reply", f"{number} #megoldva")
    [dropped] = await anna.press(second, button_label("drop_canned"))
    assert "nem ment el" in dropped.text
    assert buttons_now(second) == []
    [refused] = await bela.reply(second, "Tisztelt Ügyfelünk! Mégis: holnap.")
    assert "visszavonta Anna" in refused.text
    await env.announcer.run_once()
    assert not any("Mégis: holnap" in (m.text or "") for m in guest.user.replies)

    # Two clerks pressing ✅ at once: one answer goes.
    [third] = await anna.command("reply", f"{number} #megoldva")
    first = anna.user.press_inline(third.message_id, button_label("send_canned"), chat=env.group)
    other = bela.user.press_inline(third.message_id, button_label("send_canned"), chat=env.group)
    await env.processed(first)
    await env.processed(other)
    await env.chat_message(guest, "rendeztük")
    await env.announcer.run_once()
    assert sum("rendeztük" in (m.text or "") for m in guest.user.replies) == 1
    assert len(await audited(env, "canned_sent")) == 2  # the changed one and this one


def buttons_now(message) -> list[str]:
    """The buttons the message has now (the bot may have taken them away)."""
    markup = message.reply_markup or {}
    return [b["text"] for row in markup.get("inline_keyboard", []) for b in row]


async def test_strangers_cannot_fill_or_send_canned_answers(staff_bot):
    env = await staff_bot()
    guest = env.customer("Ottó")
    await guest.command("start")
    number = await report(guest, "Nem kaptam számlát.")
    post = await env.staff_message(number, "Új bejelentés")
    anna = env.clerk()
    [preview] = await anna.command("reply", f"{number} #megoldva")
    [choices] = await anna.press(post, button_label("canned"))
    for n in range(11):  # Anna holds more than a page of tickets: /mine has ◀ ▶
        await anna.command("take", await mail_ticket(env, f"t{n}@example.hu", f"Ügy {n}", "…"))
    [mine] = await anna.command("mine")
    stranger = env.clerk(4242, "Idegen")
    [refused] = await stranger.command("reply", f"{number} #megoldva")
    assert "ügyfélszolgálat munkatársai" in refused.text
    for message, button in (
        (post, button_label("canned")),
        (choices, "megoldva"),
        (preview, button_label("send_canned")),
        (preview, button_label("drop_canned")),
        (mine, "▶"),
    ):
        assert await stranger.press(message, button) == []
        assert "munkatársai" in env.emulator.callback_answers[-1].text
    assert not any("rendeztük" in (m.text or "") for m in guest.user.replies)
    draft = await env.db.fetch_one("SELECT sent_at, dropped_at FROM canned_drafts")
    assert tuple(draft) == (None, None)
    assert await env.db.fetch_value("SELECT count(*) FROM canned_drafts") == 1
    refused_what = [e.target for e in await audited(env, "staff_refused")]
    assert refused_what == [
        "/reply",
        "button canned",
        "button cn",
        "button send",
        "button drop",
        "button mine",
    ]


def numbers_in(message) -> list[str]:
    """The ticket numbers a list or search shows, in order (an urgent one marked 🚨)."""
    lines = (line.removeprefix("🚨 ") for line in message.text.splitlines())
    return [line.split(" · ")[0] for line in lines if line.startswith("PK-")]


async def test_search_finds_tickets_by_number_customer_address_name_and_words(staff_bot):
    env = await staff_bot()
    customer_id = await debtor(env.db)
    name = await env.db.fetch_value(
        "SELECT name FROM customers WHERE customer_id = ?", (customer_id,)
    )
    eva = await active_customer(env, customer_id, "keresett")
    chat_ticket = await report(eva, "A vízóra aknában áll a víz, kérem, nézzék meg.")
    await env.staff_message(chat_ticket, "Új bejelentés")
    env.clock.advance(60)
    water = await mail_ticket(env, "kovacs@example.hu", "Nincs víz", "Reggel óta nincs víz.")
    env.clock.advance(60)
    bill = await mail_ticket(env, "nagy@example.hu", "Számla", "Kétszer kaptam meg a számlát.")
    anna = env.clerk()

    [words] = await anna.command("search", "viz")  # no accents: finds "víz" and "vízóra"
    assert numbers_in(words) == [water, chat_ticket]  # newest first
    assert "2 találat" in words.text
    # The hint opens a ticket that is there: the first one listed.
    assert f"Megnyitás: /ticket {water} " in words.text and "PK-000123" not in words.text
    await anna.command("take", chat_ticket)
    [held] = await anna.command("mine")
    assert f"Megnyitás: /ticket {chat_ticket} " in held.text and "PK-000123" not in held.text
    [two] = await anna.command("search", "vizora aknaban")
    assert numbers_in(two) == [chat_ticket]
    [by_id] = await anna.command("search", customer_id)
    assert numbers_in(by_id) == [chat_ticket]
    # The clerk trial: the short form finds it too, and so does the registered address.
    [short] = await anna.command("search", f"u{int(customer_id[1:])}")
    assert numbers_in(short) == [chat_ticket]
    [registered] = await anna.command("search", "Keresett@example.hu")
    assert numbers_in(registered) == [chat_ticket]
    [by_name] = await anna.command("search", name.split()[0])
    assert chat_ticket in numbers_in(by_name)
    [by_mail] = await anna.command("search", "NAGY@example.hu")
    assert numbers_in(by_mail) == [bill]
    [by_number] = await anna.command("search", water)
    assert numbers_in(by_number) == [water]
    [none] = await anna.command("search", "gázszag")
    assert "0 találat" in none.text and "Nincs találat" in none.text
    [odd] = await anna.command("search", 'víz" OR *')  # FTS5 syntax is only words here
    assert "váratlan hiba" not in odd.text


async def test_search_pages_newest_first_and_strangers_are_refused(staff_bot):
    env = await staff_bot()
    made = []
    for n in range(12):
        env.clock.advance(60)
        made.append(await mail_ticket(env, f"u{n}@example.hu", f"Óraállás {n}", "Leolvasás."))
    anna = env.clerk()
    [page] = await anna.command("search", "oraallas")
    assert numbers_in(page) == list(reversed(made))[:10] and "1/2. oldal" in page.text
    await anna.press(page, "▶")
    assert numbers_in(env.group.get(page.message_id)) == list(reversed(made))[10:]

    stranger = env.clerk(4242, "Idegen")
    [refused] = await stranger.command("search", "oraallas")
    assert "ügyfélszolgálat munkatársai" in refused.text
    assert await stranger.press(env.group.get(page.message_id), "◀") == []
    assert [e.target for e in await audited(env, "staff_refused")] == ["/search", "button search"]


async def test_a_closed_chat_ticket_is_rated_with_one_tap_and_the_digest_shows_the_average(
    staff_bot,
):
    env = await staff_bot(PETKOMM_DIGEST_TIME="06:00")
    guest = env.customer("Teréz")
    await guest.command("start")
    number = await report(guest, "Nem folyik meleg víz a lakásban.")
    post = await env.staff_message(number, "Új bejelentés")
    anna = env.clerk()
    await anna.reply(post, "A szerelő holnap megjavítja.")
    answer = await env.chat_message(guest, "A szerelő holnap megjavítja.")
    await anna.command("close", number)
    offer = await env.chat_message(guest, number, "értékelje")
    assert labels(offer) == ["1 ⭐", "2 ⭐", "3 ⭐", "4 ⭐", "5 ⭐"]

    await guest.press_on(offer, "4 ⭐")
    rated = guest.user.chat.get(offer.message_id)
    assert "Köszönjük az értékelését" in rated.text and "⭐⭐⭐⭐" in rated.text
    # Changed their mind: the new stars count, once.
    await guest.press_on(offer, "5 ⭐")
    assert "⭐⭐⭐⭐⭐" in guest.user.chat.get(offer.message_id).text
    stars = await env.db.fetch_all("SELECT stars FROM customer_ratings")
    assert [tuple(row) for row in stars] == [(5,)]
    # The rating is on the ticket, where the clerk opens it.
    [opened] = await anna.command("ticket", number)
    assert "⭐ Értékelés: 5/5" in opened.text

    env.clock.now = datetime(2026, 11, 30, 6, 30, tzinfo=BUDAPEST).timestamp()
    await env.announcer.run_once()
    digest = await env.staff_message("Reggeli összefoglaló")
    assert "Ügyfélértékelés ebben a hónapban: 5,0 az 5-ből (1 értékelés)" in digest.text

    # She writes again: reopened, the old closing's 5 stars are not this ticket's now.
    await guest._run(lambda: guest.user.send_text("Mégsem jó.", reply_to=answer.message_id))
    await env.staff_message(number, "Mégsem jó.")
    [listing] = await anna.command("tickets")
    assert number in listing.text and "⭐" not in listing.text
    [opened] = await anna.command("ticket", number)
    assert "Értékelés" not in opened.text
    # Closed again: rated anew, the new stars show; the old rating is kept.
    await anna.command("close", number)
    second = await env.chat_message(guest, number, "értékelje")
    [opened] = await anna.command("ticket", number)
    assert "Értékelés" not in opened.text
    await guest.press_on(second, "2 ⭐")
    [opened] = await anna.command("ticket", number)
    assert "⭐ Értékelés: 2/5" in opened.text
    stars = await env.db.fetch_all("SELECT stars FROM customer_ratings ORDER BY id")
    assert [tuple(row) for row in stars] == [(5,), (2,)]

"""Clerks in the staff chat: reports arrive, clerks read, answer and close them.

The real bot polls the Bot API emulator with a staff group configured
(PETKOMM_STAFF_CHAT_ID, PETKOMM_STAFF_IDS) and its announcer running; the
customers are the same simulated people the customer tests use.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from bot.staff import button_label
from core import tickets
from storage import audit
from storage import tickets as tickets_store
from tests.botkit import STAFF_IDS, active_customer

ROOT = Path(__file__).resolve().parents[1]
DAY = 86400.0


async def report(customer, text: str) -> str:
    """The customer reports a problem in the chat; returns the ticket number."""
    await customer.press("report")
    [reply] = await customer.say(text)
    assert "rögzítettük" in reply.text
    return reply.text.split("Ügyszáma: ")[1].split()[0]


def labels(message) -> list[str]:
    return [text for row in message.inline_keyboard or [] for text in (b["text"] for b in row)]


async def audited(env, action: str) -> list[audit.AuditEntry]:
    return [e for e in await audit.entries(env.db) if e.action == action]


async def test_a_chat_report_is_announced_and_the_clerks_answer_reaches_the_customer(staff_bot):
    env = await staff_bot()
    customer_id = env.demo.sample.customer_id
    name = await env.db.fetch_value(
        "SELECT name FROM customers WHERE customer_id = ?", (customer_id,)
    )
    eva = await active_customer(env, customer_id, "kovacseva")
    number = await report(eva, "Nem jött meg a novemberi számlám.\nKérem, küldjék el újra.")

    post = await env.staff_message(number, "Új bejelentés")
    assert "Telegram" in post.text and f"{name} ({customer_id})" in post.text
    assert "Nem jött meg a novemberi számlám." in post.text
    assert "most" in post.text and "(még 15 nap)" in post.text and "⚠️" not in post.text
    assert labels(post) == ["Megnyitás", "Válasz", "Lezárás", "🙋 Átveszem", "📝 Sablon"]

    anna = env.clerk()
    [thread] = await anna.press(post, button_label("open"))
    assert number in thread.text and "Kérem, küldjék el újra." in thread.text

    # A reply to the announcement answers the customer, in their own chat; values are escaped.
    [confirmation] = await anna.reply(post, "Újra elküldtük <b>e-mailben</b> & postán.")
    assert "Válasz elküldve" in confirmation.text and "nyitva marad" in confirmation.text
    assert button_label("close") in labels(confirmation)
    answer = await env.chat_message(eva, number, "Újra elküldtük")
    assert "Újra elküldtük <b>e-mailben</b> & postán." in answer.text
    assert labels(answer) == [button_label("customer_reply")]

    # /reply works as well, and a multi-line answer keeps its lines.
    await anna.command("reply", f"{number} Második sor\nés harmadik.")
    second = await env.chat_message(eva, number, "Második sor")
    assert "Második sor\nés harmadik." in second.text

    ticket = await tickets.get(env.db, tickets.parse_ticket_number(number))
    assert ticket.status == "open"  # answering does not close
    out = [m for m in await tickets_store.messages(env.db, ticket.id) if m.direction == "out"]
    assert [m.author for m in out] == [f"staff:{anna.id}"] * 2
    answered = await audited(env, "ticket_answered")
    assert [(e.actor, e.target) for e in answered] == [(f"staff:{anna.id}", number)] * 2
    assert all("Újra elküldtük" not in e.details for e in answered)  # never the message itself
    assert [e.actor for e in await audited(env, "ticket_viewed")] == [f"staff:{anna.id}"]


async def test_a_closed_chat_ticket_reopens_when_the_customer_answers_and_is_announced_again(
    staff_bot,
):
    env = await staff_bot()
    guest = env.customer("Béla")
    await guest.command("start")
    number = await report(guest, "Csöpög a vízóra a pincében.")
    post = await env.staff_message(number, "Új bejelentés")
    assert "ismeretlen" in post.text  # not logged in: no name or customer ID

    anna = env.clerk()
    [prompt] = await anna.press(post, button_label("reply"))
    assert number in prompt.text and prompt.reply_markup.get("force_reply")
    await anna.reply(prompt, "Holnap délelőtt megnézzük.")
    answer = await env.chat_message(guest, "Holnap délelőtt megnézzük.")
    await env.announcer.run_once()  # the round that sent it has recorded it too
    [closed] = await anna.command("close", number)
    assert "lezárva" in closed.text
    await env.chat_message(guest, "értékelje")  # the rating offer of the closing (issue 17)

    # The customer answers with the button under the answer: the ticket reopens.
    [ask] = await guest.press_on(answer, button_label("customer_reply"))
    assert number in ask.text
    [thanks] = await guest._run(
        lambda: guest.user.send_text("Még mindig csöpög, sürgős!", reply_to=ask.message_id)
    )
    assert "csatoltuk" in thanks.text and number in thanks.text
    again = await env.staff_message(number, "Újranyitva", "Még mindig csöpög, sürgős!")
    assert labels(again) == ["Megnyitás", "Válasz", "Lezárás", "🙋 Átveszem", "📝 Sablon"]
    ticket = await tickets.get(env.db, tickets.parse_ticket_number(number))
    assert ticket.status == "open" and ticket.reopened_at is not None

    # A plain reply to the answer message works too (the ticket is open: a new message).
    await guest._run(lambda: guest.user.send_text("Köszönöm!", reply_to=answer.message_id))
    await env.staff_message(number, "Új üzenet", "Köszönöm!")
    reopened = await audited(env, "ticket_reopened")
    assert [(e.actor, e.target) for e in reopened] == [(f"tg:{guest.id}", number)]


async def test_strangers_are_refused_politely_and_audited(staff_bot):
    env = await staff_bot()
    guest = env.customer("Zoltán")
    await guest.command("start")
    number = await report(guest, "Hibás a számlám összege.")
    post = await env.staff_message(number, "Új bejelentés")

    # A customer typing a staff command in their own chat: refused, not "unknown command".
    [refusal] = await guest.command("tickets")
    assert "ügyfélszolgálat munkatársai" in refusal.text
    assert "nem ismerek" not in refusal.text

    # A group member who is not staff: commands, buttons and replies are all refused.
    stranger = env.clerk(4242, "Idegen")
    [refused] = await stranger.command("close", number)
    assert "ügyfélszolgálat munkatársai" in refused.text
    assert await stranger.press(post, button_label("close")) == []
    assert "munkatársai" in env.emulator.callback_answers[-1].text
    assert env.emulator.callback_answers[-1].show_alert
    await stranger.reply(post, "Én is válaszolok!")
    ticket = await tickets.get(env.db, tickets.parse_ticket_number(number))
    assert ticket.status == "open"
    assert [m.direction for m in await tickets_store.messages(env.db, ticket.id)] == ["in"]

    # Staff in another group: refused too (commands belong in the staff chat).
    other = env.emulator.group(-1005555, "Baráti kör")
    anna = env.clerk()
    before = len(other.replies)
    await env.processed(anna.user.send_command("tickets", chat=other))
    assert "munkatársai" in other.replies[before].text

    refused_entries = await audited(env, "staff_refused")
    assert [(e.actor, e.target, e.details) for e in refused_entries] == [
        (f"tg:{guest.id}", "/tickets", "not staff"),
        ("tg:4242", "/close", "not staff"),
        ("tg:4242", "button close", "not staff"),
        ("tg:4242", "reply", "not staff"),
        (f"tg:{anna.id}", "/tickets", "not the staff chat"),
    ]

    # The same clerk in her private chat with the bot is welcome.
    [listing] = await anna.privately().command("tickets")
    assert number in listing.text


async def test_the_list_pages_oldest_first_and_marks_deadlines_by_the_configured_days(staff_bot):
    env = await staff_bot(PETKOMM_ANSWER_DAYS="5")
    start = env.clock.now
    async with env.db.transaction() as tx:
        for n in range(12):  # PK-000001 three days old, the rest a minute apart after it
            created = start - 3 * DAY if n == 0 else start - (12 - n) * 60
            await tickets.open_ticket(
                tx,
                channel="mail",
                subject=f"Bejelentés {n + 1}",
                body="…",
                new_text="…",
                actor="mail:teszt@example.hu",
                email=f"ugyfel{n + 1}@example.hu",
                now=created,
            )
        # Twelve announcements would hit Telegram's 20-a-minute group limit: not this test's topic.
        await tx.execute("UPDATE staff_announcements SET sent_at = ?", (start,))
    anna = env.clerk()

    [page] = await anna.command("tickets")
    lines = [line for line in page.text.splitlines() if line.startswith("PK-")]
    assert [line.split(" · ")[0] for line in lines] == [f"PK-{n:06d}" for n in range(1, 11)]
    assert "12 db, 1/2. oldal" in page.text
    assert "⚠️ Határidő" in lines[0] and "(még 2 nap)" in lines[0]  # 5 days, 3 gone
    assert all("⚠️" not in line and "(még 5 nap)" in line for line in lines[1:])
    assert labels(page) == ["▶"]

    await anna.press(page, "▶")
    edited = env.group.get(page.message_id)
    assert (
        "2/2. oldal" in edited.text
        and "PK-000011" in edited.text
        and "PK-000001" not in edited.text
    )
    assert labels(edited) == ["◀"]
    await anna.press(edited, "◀")
    assert "PK-000001" in env.group.get(page.message_id).text

    # Two and a half days later (the 27th, 22:46) the oldest is past its deadline (the 27th,
    # 10:46) and the rest, due on the 30th in under 3 days, are near.
    env.clock.advance(2.5 * DAY)
    [later] = await anna.command("tickets")
    lines = [line for line in later.text.splitlines() if line.startswith("PK-")]
    assert "⚠️" in lines[0] and "(lejárt)" in lines[0]
    assert all("⚠️ Határidő: 2026. 11. 30. (még 3 nap)" in line for line in lines[1:])


async def test_an_answer_from_the_command_line_reaches_the_customers_chat_while_the_bot_runs(
    staff_bot,
):
    env = await staff_bot()
    guest = env.customer("Gizella")
    await guest.command("start")
    number = await report(guest, "Mikor jön a leolvasó?")
    await env.staff_message(number, "Új bejelentés")

    environment = {
        k: v for k, v in os.environ.items() if not k.startswith(("PETKOMM_", "TELEGRAM_"))
    }
    environment["PETKOMM_DB"] = env.settings.env["PETKOMM_DB"]
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "run_bot.py"),
        "tickets",
        "reply",
        number,
        "--text",
        "Jövő kedden érkezik.",
        env=environment,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, stderr.decode()
    assert "az ügyfél Telegram-csevegésébe megy" in stdout.decode()

    answer = await env.chat_message(guest, number, "Jövő kedden érkezik.")
    assert labels(answer) == [button_label("customer_reply")]
    await env.announcer.run_once()  # the round that sent it has recorded it too
    [sent] = await tickets_store.telegram_answers_of(env.db, tickets.parse_ticket_number(number))
    assert sent.status == "sent" and sent.sent_message_id == answer.message_id


async def test_a_staff_command_may_name_its_ticket_by_replying_to_it(staff_bot):
    env = await staff_bot()
    guest = env.customer("Ilona")
    await guest.command("start")
    number = await report(guest, "Rossz címre jön a számla.")
    post = await env.staff_message(number, "Új bejelentés")
    anna = env.clerk(STAFF_IDS[1], "Kata")

    # A bare number in a reply to the ticket is part of the text, not another ticket.
    await anna.command("reply", "12 órakor visszahívjuk.", reply_to=post)
    await env.chat_message(guest, "12 órakor visszahívjuk.")
    [closed] = await anna.command("close", reply_to=post)
    assert number in closed.text and "lezárva" in closed.text
    [again] = await anna.command("close", reply_to=post)
    assert "már le van zárva" in again.text
    [missing] = await anna.command("ticket", "PK-000999")
    assert "Nincs PK-000999" in missing.text
    [usage] = await anna.command("reply")
    assert "Használat: /reply PK-000123" in usage.text


async def test_an_answer_to_a_customer_who_blocked_the_bot_is_reported_to_the_staff_chat(
    staff_bot,
):
    env = await staff_bot()
    guest = env.customer("Tamás")
    await guest.command("start")
    number = await report(guest, "Kérek egy visszahívást.")
    post = await env.staff_message(number, "Új bejelentés")
    guest.user.block()

    await env.clerk().reply(post, "Holnap hívjuk.")
    notice = await env.staff_message(number, "nem jutott el")
    assert "Forbidden" in notice.text or "blocked" in notice.text
    ticket_id = tickets.parse_ticket_number(number)
    [given_up] = await tickets_store.telegram_answers_of(env.db, ticket_id)
    assert given_up.status == "failed" and given_up.attempts == 1
    assert [e.target for e in await audited(env, "answer_undelivered")] == [number]


async def test_numbers_too_long_for_any_ticket_are_refused_plainly(staff_bot):
    # Found by the attacker trial: 20-digit numbers overflowed SQLite's integers and the
    # clerk got "váratlan hiba" (and the CLI a traceback).
    env = await staff_bot()
    eva = await active_customer(env, env.demo.sample.customer_id, "nagyszam")
    number = await report(eva, "A csatornafedél zörög az utcán.")
    anna = env.clerk()
    for command, args in (
        ("file", f"{number} 99999999999999999999"),
        ("ticket", "99999999999999999999999"),
        ("close", "99999999999999999999999"),
    ):
        answer = " ".join(m.text for m in await anna.command(command, args))
        assert "váratlan hiba" not in answer, (command, answer)

"""The clerk's desk with a mailed report, on real servers (issue 17).

Dovecot holds the support mailbox, the IMAP reader turns mail into tickets, the
bot announces them in the staff group, and the outbox sender hands our mail to
aiosmtpd: what the customer's mailbox receives is exactly what aiosmtpd got.
"""

from __future__ import annotations

from core.config import Settings
from core.inbound import InboundContext
from mailer.inbox import InboxReader
from mailer.sender import SmtpTransport
from storage import audit
from storage import tickets as tickets_store
from tests.botkit import STAFF_IDS
from tests.test_staff_mail import CUSTOMER, customer_mail, fetch, plain

NOTE = "Belső: a szomszéd is panaszkodott, a szerelő kedden megy."


async def test_a_note_never_reaches_the_customers_mailbox(
    staff_bot, dovecot, imap_user, smtp_server
):
    settings = Settings({**smtp_server.env, **imap_user.env})
    env = await staff_bot(transport=SmtpTransport.from_settings(settings))
    reader = InboxReader(
        env.db, settings, ctx=InboundContext.from_settings(settings), clock=env.clock
    )
    try:
        dovecot.deliver(
            imap_user.name,
            customer_mail(
                "<zaj.1@example.hu>", "Zajos a vízóra", "Jó napot!\nÉjszaka zúg a vízóra.\n"
            ),
        )
        await fetch(reader)
        post = await env.staff_message("Új bejelentés", CUSTOMER)
        number = post.text.split(" · ")[1].split()[0]
        anna = env.clerk()
        [noted] = await anna.command("note", f"{number} {NOTE}")
        assert "Belső jegyzet rögzítve" in noted.text
        [thread] = await anna.command("ticket", number)
        assert NOTE in thread.text and "Ismeretlen feladó" in thread.text
        # The acknowledgement's preview is its text, without the "write above" marker line.
        auto = thread.text.split("Automatikus válasz")[1].splitlines()[1]
        assert auto.strip() and "##-" not in auto and "##-" not in thread.text

        await anna.reply(post, "Kedden délelőtt megnézzük a vízórát.")
        mails = await smtp_server.wait_for(2)  # the acknowledgement, then the answer
        [answer] = [m for m in mails if "Kedden délelőtt" in plain(m)]
        assert answer["To"] == CUSTOMER
        for mail in smtp_server.messages:
            assert "panaszkodott" not in mail.as_string()
            assert "panaszkodott" not in plain(mail)
        assert len(smtp_server.messages) == 2
    finally:
        await reader.close()


async def test_a_mail_and_a_chat_report_merged_keep_both_threads_and_take_replies_to_either(
    staff_bot, dovecot, imap_user, smtp_server
):
    settings = Settings({**smtp_server.env, **imap_user.env})
    env = await staff_bot(transport=SmtpTransport.from_settings(settings))
    reader = InboxReader(
        env.db, settings, ctx=InboundContext.from_settings(settings), clock=env.clock
    )
    try:
        # The same customer reports the same leak by mail, then (a minute later) in the chat.
        dovecot.deliver(
            imap_user.name,
            customer_mail(
                "<akna.1@example.hu>", "Folyik a víz az aknában", "Az aknában áll a víz.\n"
            ),
        )
        await fetch(reader)
        mail_post = await env.staff_message("Új bejelentés", CUSTOMER)
        by_mail = mail_post.text.split(" · ")[1].split()[0]
        env.clock.advance(60)
        anna_customer = env.customer("Anna")
        await anna_customer.command("start")
        await anna_customer.press("report")
        [ack] = await anna_customer.say("Írtam e-mailt is: az aknában még mindig áll a víz.")
        by_chat = ack.text.split("Ügyszáma: ")[1].split()[0]
        chat_post = await env.staff_message(by_chat, "Új bejelentés")
        clerk = env.clerk()
        await clerk.reply(chat_post, "Megnéztük: a szomszéd aknája ereszt, holnap javítjuk.")
        chat_answer = await env.chat_message(anna_customer, "holnap javítjuk")
        await smtp_server.wait_for(1)  # the mail report's acknowledgement

        # The clerk merges them: the older (mail) number stays, with both threads in time order.
        [merged] = await clerk.command("merge", f"{by_chat} {by_mail}")
        assert f"{by_chat}" in merged.text and f"ezzel: {by_mail}" in merged.text
        [thread] = await clerk.command("ticket", by_mail)
        text = thread.text
        first = text.index("Az aknában áll a víz.")
        second = text.index("Írtam e-mailt is")
        third = text.index("holnap javítjuk")
        assert first < second < third
        # Both ways in one thread: each message says which way it came or went.
        assert "Ügyfél · e-mail" in text and "Ügyfél · csevegés" in text

        # The customer answers the chat answer of the merged number: it joins the kept ticket.
        await anna_customer._run(
            lambda: anna_customer.user.send_text("Köszönöm!", reply_to=chat_answer.message_id)
        )
        await env.staff_message(by_mail, "Köszönöm!")
        # And by mail, to our acknowledgement of the kept one: the same ticket.
        [ack_mail] = smtp_server.messages[:1]
        dovecot.deliver(
            imap_user.name,
            customer_mail(
                "<akna.2@example.hu>",
                f"Re: {ack_mail['Subject']}",
                "Ma reggel is folyt.\n",
                in_reply_to=ack_mail["Message-ID"],
                references=[ack_mail["Message-ID"]],
            ),
        )
        await fetch(reader)
        await env.staff_message(by_mail, "Ma reggel is folyt.")

        kept_id = int(by_mail[3:])
        gone = await tickets_store.get(env.db, int(by_chat[3:]), follow=False)
        assert gone.status == "closed" and gone.merged_into == kept_id
        bodies = [m.new_text for m in await tickets_store.messages(env.db, kept_id)]
        assert any("Köszönöm!" in b for b in bodies) and any("Ma reggel" in b for b in bodies)
        assert await tickets_store.messages(env.db, gone.id) == []
        [entry] = [e for e in await audit.entries(env.db) if e.action == "tickets_merged"]
        assert entry.target == by_mail and by_chat in entry.details

        # The next answer goes by mail, threaded to the customer's latest mail.
        before = len(smtp_server.messages)
        await clerk.command("reply", f"{by_mail} Kijavítottuk az aknát.")
        answer = (await smtp_server.wait_for(before + 1))[-1]
        assert "Kijavítottuk az aknát." in plain(answer)
        assert answer["In-Reply-To"] == "<akna.2@example.hu>"
        assert by_mail in answer["Subject"] and answer["To"] == CUSTOMER
    finally:
        await reader.close()


async def test_the_closing_mail_carries_rating_links_that_rate_with_one_tap(
    staff_bot, dovecot, imap_user, smtp_server
):
    settings = Settings({**smtp_server.env, **imap_user.env})
    env = await staff_bot(transport=SmtpTransport.from_settings(settings))
    reader = InboxReader(
        env.db, settings, ctx=InboundContext.from_settings(settings), clock=env.clock
    )
    try:
        dovecot.deliver(
            imap_user.name,
            customer_mail("<rate.1@example.hu>", "Számla kérdés", "Mikor jön a számla?\n"),
        )
        await fetch(reader)
        post = await env.staff_message("Új bejelentés", CUSTOMER)
        number = post.text.split(" · ")[1].split()[0]
        clerk = env.clerk()
        await clerk.reply(post, "A számlát holnap postázzuk.")
        await clerk.command("close", number)
        mails = await smtp_server.wait_for(3)  # acknowledgement, answer, closing mail
        [closing] = [m for m in mails if "értékelje" in m["Subject"]]
        assert closing["To"] == CUSTOMER and f"[#{number}]" in closing["Subject"]
        assert closing["Auto-Submitted"] == "auto-generated"  # auto-responders keep quiet
        text = plain(closing)
        links = [line.split(" – ")[1] for line in text.splitlines() if " – https://t.me/" in line]
        assert len(links) == 5 and all("start=rt_" in link for link in links)
        assert links[3] in closing.get_body(("html",)).get_content()

        # The customer opens the fourth link in Telegram: rated 4, thanked.
        person = env.customer("Anna")
        [thanks] = await person.open_link(links[3])
        assert "Köszönjük az értékelését" in thanks.text and number in thanks.text
        [row] = await env.db.fetch_all("SELECT stars FROM customer_ratings")
        assert tuple(row) == (4,)
        # A made-up link rates nothing.
        [unknown] = await person.open_link(links[3].replace("rt_", "rt_x"))
        assert "nem találom" in unknown.text
        [row] = await env.db.fetch_all("SELECT stars, token_hash FROM customer_ratings")
        assert row[0] == 4 and links[3].split("rt_")[1].split("_")[0] not in row[1]
    finally:
        await reader.close()


async def test_after_a_merge_mail_replies_are_no_flood_name_the_holder_and_get_mail_answers(
    staff_bot, dovecot, imap_user, smtp_server
):
    """The clerk trial: a chat report (kept) and a mail report merged; the customer's
    chat messages are no flood of mail, every announcement names the holder, and an
    answer goes the way the customer wrote last."""
    settings = Settings({**smtp_server.env, **imap_user.env})
    env = await staff_bot(transport=SmtpTransport.from_settings(settings))
    reader = InboxReader(
        env.db, settings, ctx=InboundContext.from_settings(settings), clock=env.clock
    )
    try:
        # The customer reports in the chat, and adds two more messages to it.
        person = env.customer("Anna")
        await person.command("start")
        await person.press("report")
        [ack] = await person.say("Zúg a vízóra éjszaka.")
        by_chat = ack.text.split("Ügyszáma: ")[1].split()[0]
        await person.say("Már harmadik éjszaka.")
        await person.say("A szomszédnál is.")
        await env.staff_message(by_chat, "Új bejelentés")
        # Then by mail: a second ticket, acknowledged by mail.
        env.clock.advance(60)
        dovecot.deliver(
            imap_user.name,
            customer_mail("<zug.1@example.hu>", "Zúg a vízóra", "Zúg a vízóra éjszaka.\n"),
        )
        await fetch(reader)
        mail_post = await env.staff_message("Új bejelentés", CUSTOMER)
        by_mail = mail_post.text.split(" · ")[1].split()[0]
        [ack_mail] = await smtp_server.wait_for(1)

        anna, bela = env.clerk(), env.clerk(STAFF_IDS[1], "Béla")
        await bela.command("take", by_mail)
        await anna.command("merge", f"{by_chat} {by_mail}")
        kept = by_chat
        assert len([m for m in await tickets_store.messages(env.db, int(kept[3:]))]) >= 4

        # She wrote last by mail: an answer to either number goes to her mailbox.
        [answered] = await anna.command("reply", f"{by_mail} Holnap kimegy a szerelő.")
        assert f"e-mailben: {CUSTOMER}" in answered.text, answered.text
        mails = await smtp_server.wait_for(2)
        assert "Holnap kimegy a szerelő." in plain(mails[-1])
        assert mails[-1]["To"] == CUSTOMER

        # Her reply to the acknowledgement: one more mail, announced as her message (no
        # flood: her chat messages are not mails), naming Béla, who holds the ticket.
        env.clock.advance(60)
        dovecot.deliver(
            imap_user.name,
            customer_mail(
                "<zug.2@example.hu>",
                f"Re: {ack_mail['Subject']}",
                "Ma éjjel is zúgott.\n",
                in_reply_to=ack_mail["Message-ID"],
                references=[ack_mail["Message-ID"]],
            ),
        )
        await fetch(reader)
        post = await env.staff_message(kept, "Ma éjjel is zúgott.")
        assert "Sok levél" not in post.text
        assert "Kezeli: Béla" in post.text
        mentions = [e for e in post.entities if e.get("url", "").startswith("tg://user?id=")]
        assert mentions and mentions[0]["url"] == f"tg://user?id={STAFF_IDS[1]}"

        # A fourth mail within ten minutes is a flood: the notice names Béla too.
        for n, text in ((3, "És most is.\n"), (4, "Még mindig.\n")):
            env.clock.advance(60)
            dovecot.deliver(
                imap_user.name,
                customer_mail(
                    f"<zug.{n}@example.hu>",
                    f"Re: {ack_mail['Subject']}",
                    text,
                    in_reply_to=ack_mail["Message-ID"],
                    references=[ack_mail["Message-ID"]],
                ),
            )
            await fetch(reader)
        await env.staff_message(kept, "És most is.")
        flood = await env.staff_message(kept, "Sok levél érkezik")
        assert "Kezeli: Béla" in flood.text
        assert any(e.get("url") == f"tg://user?id={STAFF_IDS[1]}" for e in flood.entities)
    finally:
        await reader.close()

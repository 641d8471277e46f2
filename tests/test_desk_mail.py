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

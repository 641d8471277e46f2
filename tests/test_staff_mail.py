"""A mailed report through the staff chat and back, on real servers.

Dovecot holds the support mailbox, the IMAP reader turns mail into tickets,
the bot (polling the Bot API emulator) announces them in the staff group, a
clerk answers there, and the outbox sender hands the answer to aiosmtpd —
threaded so that the customer's mail client puts it under their own mail and
their reply finds its way back into the same ticket.
"""

from __future__ import annotations

from email.message import EmailMessage

from core.config import Settings
from core.inbound import InboundContext
from core.mail import REPLY_ABOVE_MARKER
from core.tickets import parse_ticket_number
from mailer.inbox import InboxReader
from mailer.sender import SmtpTransport
from storage import tickets as tickets_store

CUSTOMER = "kiss.anna@example.hu"


def customer_mail(
    message_id: str, subject: str, body: str, *, in_reply_to: str | None = None, references=()
) -> bytes:
    """A mail as Kiss Anna's mail client would send it."""
    headers = [
        f"From: Kiss Anna <{CUSTOMER}>",
        "To: petkomm@petkomm.hu",
        f"Subject: {subject}",
        "Date: Wed, 25 Nov 2026 09:00:00 +0100",
        f"Message-ID: {message_id}",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: 8bit",
    ]
    if in_reply_to:
        headers.append(f"In-Reply-To: {in_reply_to}")
    if references:
        headers.append(f"References: {' '.join(references)}")
    return ("\r\n".join(headers) + "\r\n\r\n" + body.replace("\n", "\r\n") + "\r\n").encode()


async def fetch(reader: InboxReader) -> None:
    """Poll the mailbox and turn what arrived into tickets."""
    await reader.poll_once()
    await reader.processor.process_pending()  # the reader stores; its processor makes tickets


def plain(mail: EmailMessage) -> str:
    return mail.get_body(("plain",)).get_content()


async def test_a_mailed_report_is_answered_from_the_staff_chat_and_the_reply_reopens_it(
    staff_bot, dovecot, imap_user, smtp_server
):
    settings = Settings({**smtp_server.env, **imap_user.env})
    # The service's own outbox sender delivers to aiosmtpd.
    env = await staff_bot(transport=SmtpTransport.from_settings(settings))
    reader = InboxReader(
        env.db, settings, ctx=InboundContext.from_settings(settings), clock=env.clock
    )
    try:
        # The customer mails a report: it appears in the staff chat.
        dovecot.deliver(
            imap_user.name,
            customer_mail(
                "<report.1@example.hu>",
                "Csőtörés a Fő utcában",
                "Jó napot!\nA Fő utca 3. előtt folyik a víz az útra.\n\nKiss Anna",
            ),
        )
        await fetch(reader)
        post = await env.staff_message("Új bejelentés", "e-mail", CUSTOMER)
        number = post.text.split(" · ")[1].split()[0]
        assert "Csőtörés a Fő utcában" in post.text and "folyik a víz" in post.text

        # A clerk answers by replying to it; the mail goes out threaded to the customer's.
        anna = env.clerk()
        [confirmation] = await anna.reply(post, "Kollégáink úton vannak, délre elzárják.")
        assert f"e-mailben: {CUSTOMER}" in confirmation.text
        mails = await smtp_server.wait_for(2)  # the acknowledgement, then the answer
        assert len(smtp_server.messages) == 2
        [ack] = [m for m in mails if "Bejelentését rögzítettük" in m["Subject"]]
        [answer] = [m for m in mails if m is not ack]
        assert answer["To"] == CUSTOMER
        assert answer["Subject"] == f"[#{number}] Re: Csőtörés a Fő utcában"
        assert answer["In-Reply-To"] == "<report.1@example.hu>"
        assert answer["References"].split() == ["<report.1@example.hu>"]
        assert "Auto-Submitted" not in answer  # a person wrote it
        text = plain(answer)
        assert text.splitlines()[0] == REPLY_ABOVE_MARKER
        assert "Kollégáink úton vannak, délre elzárják." in text and number in text
        assert "Kollégáink úton vannak" in answer.get_body(("html",)).get_content()

        [closed] = await anna.command("close", number)
        assert "lezárva" in closed.text
        # Closing sends the customer a mail with rating links (issue 17).
        closing = (await smtp_server.wait_for(3))[2]
        assert "értékelje" in closing["Subject"] and number in closing["Subject"]

        # The customer replies to our answer from their mail client: same ticket, reopened.
        reply_id = "<report.2@example.hu>"
        dovecot.deliver(
            imap_user.name,
            customer_mail(
                reply_id,
                f"Re: {answer['Subject']}",
                "Még mindig folyik, kérem, siessenek!\n\n"
                "2026. 11. 25. 10:00 időpontban PÉTKOMM Kft. ezt írta:\n"
                + "\n".join(f"> {line}" for line in text.splitlines()),
                in_reply_to=answer["Message-ID"],
                references=[*answer["References"].split(), answer["Message-ID"]],
            ),
        )
        await fetch(reader)
        again = await env.staff_message(number, "Újranyitva", "Még mindig folyik")
        assert "Kollégáink úton vannak" not in again.text  # only the new text is announced
        ticket = await tickets_store.get(env.db, parse_ticket_number(number))
        assert ticket.status == "open"
        assert len(await tickets_store.all_tickets(env.db, 0, 10)) == 1

        # The next answer continues the chain: the customer's reply is its parent.
        await anna.command("reply", f"{number} A szerelők a helyszínen vannak.")
        [_, _, _, second] = await smtp_server.wait_for(4)
        assert len(smtp_server.messages) == 4
        assert second["In-Reply-To"] == reply_id
        assert second["References"].split() == [
            "<report.1@example.hu>",
            answer["Message-ID"],
            reply_id,
        ]
        assert second["Subject"] == f"[#{number}] Re: Csőtörés a Fő utcában"
        assert ack["In-Reply-To"] == "<report.1@example.hu>"
    finally:
        await reader.close()

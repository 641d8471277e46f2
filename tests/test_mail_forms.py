"""Web forms: the person in Reply-To owns the ticket and gets every answer (issue 12, point 2).

A contact form mails from its robot (WordPress, Drupal, a PHP script, JotForm, a
form on our own site) with the resident in `Reply-To`; a person may also ask for
answers at another address the same way (RFC 5322 3.6.2). Shapes in
tests/mail_corpus/forms/.
"""

from __future__ import annotations

import email
from email import policy

import pytest

from core.config import Settings
from core.inbound import InboundContext, process_mail
from mailer.inbox import InboxReader
from storage import tickets as tickets_store
from tests.machinekit import START, chain_context, corpus, corpus_names, outbox_rows

# file: (the person who owns the ticket, how the acknowledgement greets them, the robot)
EXPECTED = {
    "form_wordpress_cf7.eml": (
        "toth.erzsebet@freemail.hu",
        "Tisztelt Tóth Erzsébet!",
        "wordpress@petfurdo.hu",
    ),
    "form_drupal_noreply.eml": (
        "nagy.istvan@citromail.hu",
        "Tisztelt Ügyfelünk!",
        "noreply@petfurdo.hu",
    ),
    "form_own_site.eml": ("szabo.gabor@gmail.com", "Tisztelt Szabó Gábor!", "honlap@petkomm.hu"),
    "form_jotform_html.eml": (
        "varga.katalin@t-online.hu",
        "Tisztelt Ügyfelünk!",
        "noreply@jotform.com",
    ),
    "form_php_www_data.eml": (
        "molnar.pal@vipmail.hu",
        "Tisztelt Molnár Pál!",
        "www-data@web1.petfurdo.hu",
    ),
    "person_reply_to_outlook.eml": (
        "fekete.zsolt.magan@gmail.com",
        "Tisztelt Fekete Zsolt!",
        "fekete.zsolt@ceg4.hu",
    ),
}


def plain(raw: bytes) -> str:
    message = email.message_from_bytes(raw, policy=policy.default)
    return message.get_body(("plain",)).get_content()  # type: ignore[union-attr]


@pytest.mark.parametrize("name", corpus_names("forms"))
async def test_the_reply_to_person_owns_the_ticket_and_gets_the_acknowledgement(db, name):
    person, greeting, robot = EXPECTED[name]  # every file of the folder is expected here
    result = await process_mail(
        db,
        corpus("forms", name),
        ctx=chain_context(),
        folder="INBOX",
        uidvalidity=1,
        uid=1,
        now=START,
    )

    assert result.outcome == "new"
    ticket = await tickets_store.get(db, result.ticket_id)
    assert ticket.email == person
    [(kind, recipient, _subject)] = await outbox_rows(db)
    assert (kind, recipient) == ("ack", person)
    raw = bytes(await db.fetch_value("SELECT raw FROM outbox"))
    text = plain(raw)
    assert greeting in text and robot not in text
    assert "weboldal!" not in text and "JotForm!" not in text


async def test_a_form_mail_names_the_customer_whose_address_the_person_gave(db):
    await db.execute(
        "INSERT INTO customers(customer_id, name, address, email)"
        " VALUES ('U0231', 'Szabó Gábor', 'Pétfürdő, Fő utca 1.', 'szabo.gabor@gmail.com')"
    )
    result = await process_mail(
        db,
        corpus("forms", "form_own_site.eml"),
        ctx=chain_context(),
        folder="INBOX",
        uidvalidity=1,
        uid=1,
        now=START,
    )
    assert (await tickets_store.get(db, result.ticket_id)).customer_id == "U0231"


async def test_a_noreply_robot_is_answered_only_through_the_person_it_names(db):
    form = corpus("forms", "form_drupal_noreply.eml")
    with_person = await process_mail(
        db, form, ctx=chain_context(), folder="INBOX", uidvalidity=1, uid=1, now=START
    )
    assert with_person.answers == ("ack",)

    # The same robot with nobody in Reply-To is a notification: a ticket, no answer.
    notification = form.replace(b"Reply-To: nagy.istvan@citromail.hu\r\n", b"").replace(
        b"<drupal.webform.8841.", b"<drupal.notice.8842."
    )
    result = await process_mail(
        db,
        notification,
        ctx=chain_context(),
        folder="INBOX",
        uidvalidity=1,
        uid=2,
        now=START + 3600,
    )
    assert result.outcome == "new" and result.answers == ()
    assert result.reason == "machine sender: noreply@petfurdo.hu"
    assert [recipient for _kind, recipient, _subject in await outbox_rows(db)] == [
        "nagy.istvan@citromail.hu"
    ]


# --- end to end: the form's mail through the mailbox, answered from the staff chat ----------


async def test_a_web_form_report_is_answered_to_the_resident_from_the_staff_chat(
    staff_bot, dovecot, imap_user
):
    env = await staff_bot()
    settings = Settings({**env.settings.env, **imap_user.env})
    reader = InboxReader(
        env.db, settings, ctx=InboundContext.from_settings(settings), clock=env.clock
    )
    resident = "toth.erzsebet@freemail.hu"
    try:
        dovecot.deliver(imap_user.name, corpus("forms", "form_wordpress_cf7.eml"))
        await reader.poll_once()
        await reader.processor.process_pending()

        # Staff see the resident as the customer, not the website's robot.
        post = await env.staff_message("Új bejelentés", resident)
        assert "wordpress@petfurdo.hu" not in post.text
        assert "Vízóra leolvasás" in post.text and "Tisztelt PÉTKOMM!" in post.text
        [ack] = await env.mails_to(resident)
        assert "Tisztelt Tóth Erzsébet!" in ack.get_body(("plain",)).get_content()

        # A clerk answers: the answer goes to the resident, greeting her by name.
        [confirmation] = await env.clerk().reply(post, "Csütörtökön 17 órakor megyünk.")
        assert f"e-mailben: {resident}" in confirmation.text
        [_ack, answer] = await env.mails_to(resident)
        text = answer.get_body(("plain",)).get_content()
        assert "Tisztelt Tóth Erzsébet!" in text and "Csütörtökön 17 órakor" in text
        rows = await outbox_rows(env.db)
        assert [recipient for _kind, recipient, _subject in rows] == [resident, resident]
    finally:
        await reader.close()

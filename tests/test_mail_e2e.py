"""A registration in the chat, its mail over real SMTP, and the code in it."""

from __future__ import annotations

import re

from core.config import Settings
from mailer.sender import OutboxSender
from tests.botkit import proof_for

SUBJECT = "PÉTKOMM Kft. on-line ügyfélszolgálat – regisztrációjának aktiválása"


async def test_the_activation_mail_arrives_over_smtp_and_its_code_activates(bot_env, smtp_server):
    eva = bot_env.customer()
    proof = await proof_for(bot_env.db, "U0017")
    await eva.register(
        email_address="eva.tizenhet@example.hu",
        username="eva17",
        password="Tavaszi-Szel-42",
        **proof,
    )
    settings = Settings({**smtp_server.env, "PETKOMM_MAIL_FROM": bot_env.settings.mail_from})
    sender = OutboxSender(bot_env.db, settings, clock=bot_env.clock)
    assert await sender.send_due() == 1
    [mail] = await smtp_server.wait_for(1)

    assert mail["To"] == "eva.tizenhet@example.hu"
    assert str(mail["Subject"]) == SUBJECT  # the long accented subject decodes exactly
    assert mail["Auto-Submitted"] == "auto-generated"
    stored = await bot_env.db.fetch_value("SELECT message_id FROM outbox")
    assert mail["Message-ID"] == stored
    assert mail.get_content_type() == "multipart/alternative"
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    code = re.search(r"((?:[A-Z2-9]{4} ){5}[A-Z2-9]{4})", text)[1]
    assert code in html and "eva17" in text

    await eva.press("activate")
    assert "Fiókja aktív" in eva.texts(await eva.say(code))
    assert await sender.send_due() == 0  # nothing goes twice

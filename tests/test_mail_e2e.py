"""A registration in the chat, its mail over real SMTP, and the code in it."""

from __future__ import annotations

import re

from core.config import Settings
from mailer.sender import SmtpTransport
from tests.botkit import proof_for, start_bot, stop_bot

SUBJECT = "PÉTKOMM Kft. on-line ügyfélszolgálat – regisztrációjának aktiválása"


async def test_the_activation_mail_arrives_over_smtp_and_its_code_activates(bot_env, smtp_server):
    # The service again, its outbox sender delivering to aiosmtpd.
    settings = Settings({**smtp_server.env, "PETKOMM_MAIL_FROM": bot_env.settings.mail_from})
    await stop_bot(bot_env.service)
    bot_env.service = await start_bot(
        dict(bot_env.settings.env),
        bot_env.db,
        bot_env.clock,
        bot_env.emulator,
        transport=SmtpTransport.from_settings(settings),
    )
    eva = bot_env.customer()
    proof = await proof_for(bot_env.db, "U0017")
    await eva.register(
        email_address="eva.tizenhet@example.hu",
        username="eva17",
        password="Tavaszi-Szel-42",
        **proof,
    )
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
    queued = await bot_env.db.fetch_value("SELECT count(*) FROM outbox WHERE status = 'queued'")
    assert queued == 0 and len(smtp_server.messages) == 1  # nothing goes twice

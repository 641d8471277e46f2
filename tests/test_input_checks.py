"""Answers the bot cannot use: e-mail addresses the mailer would refuse or misroute, and
answers so long that echoing them whole would break Telegram's 4096-character limit."""

from __future__ import annotations

import pytest

from core.config import Settings
from core.emails import email_ok, normalised_email
from core.outbox import queue_mail
from core.texts import render
from mailer.sender import OutboxSender, classify
from storage import outbox
from tests.botkit import proof_for

PASSWORD = "Tavaszi-Szel-42"
# What a Telegram client lets a person send at most in one message (the emulator too).
LONGEST = 4096

# Each was accepted by the old pattern and then broke: a NUL reached the To: header and
# was retried for hours, `a[b@` crashed the confirmation, `nev:b@` was mailed to `b@`.
REPORTED = ["a\x00b@example.hu", "a[b@example.hu", "nev:b@example.hu"]
REFUSED = [
    *REPORTED,
    "",
    "eva",
    "eva@",
    "@example.hu",
    "eva@@example.hu",
    "eva@example",  # no dot in the domain
    "eva@localhost",
    "eva@example.test",  # a reserved name
    "eva @example.hu",
    "eva@exa mple.hu",
    "eva@example.hu\r\nBcc: x@example.hu",
    "eva\x01@example.hu",
    "Kovács Éva <eva@example.hu>",  # one bare address, no display name
    "eva@example.hu, bela@example.hu",
    '"eva kovacs"@example.hu',  # quoted local parts confuse the mail library
    "eva@[192.0.2.1]",
    "kovács.éva@example.hu",  # needs SMTPUTF8, which not every server speaks
    "a" * 250 + "@example.hu",
    "x" * LONGEST,
    # Encoded words: the mail library decoded them into another mailbox, or a CR LF.
    "=?utf-8?q?evil?=@example.hu",
    "=?utf-8?q?spy=40evil.hu?=@example.hu",
    "=?utf-8?q?a=0D=0ABcc=3A_spy2=40evil.hu?=@example.hu",
]


@pytest.mark.parametrize("text", REFUSED)
def test_addresses_the_mailer_would_refuse_or_misroute_are_refused(text):
    assert normalised_email(text) is None
    assert not email_ok(text)


@pytest.mark.parametrize(
    ("typed", "kept"),
    [
        ("eva@example.hu", "eva@example.hu"),
        ("  Eva.Kovacs+szamla@Example.HU \n", "Eva.Kovacs+szamla@example.hu"),
        ("kovacs-eva_1980@posta.example.hu", "kovacs-eva_1980@posta.example.hu"),
        ("eva@példa.hu", "eva@xn--plda-bpa.hu"),  # an accented domain, as every server takes it
    ],
)
def test_a_usable_address_is_kept_in_its_normalised_form(typed, kept):
    assert normalised_email(typed) == kept


async def test_registration_refuses_the_reported_addresses_and_keeps_the_normalised_one(bot_env):
    eva = bot_env.customer()
    await eva.command("start")
    await eva.press("register")
    for address in REPORTED:
        reply = eva.texts(await eva.say(address))
        assert "nem tűnik érvényes e-mail címnek" in reply
        assert "kovacs.eva@example.hu" in reply  # the example, and the step repeats
    assert "2/6." in eva.texts(await eva.say("Eva.Kovacs@Example.HU"))
    proof = await proof_for(bot_env.db, "U0021")
    for answer in ("eva21", PASSWORD, PASSWORD, proof["customer_id"], proof["invoice"]):
        await eva.say(answer)
    summary = eva.texts(await eva.say(proof["amount"]))
    assert "E-mail cím: Eva.Kovacs@example.hu" in summary
    assert "Köszönjük a regisztrációt" in eva.texts(await eva.press("confirm"))
    assert await bot_env.mails_to("Eva.Kovacs@example.hu")
    assert await bot_env.db.fetch_value("SELECT count(*) FROM outbox") == 1


async def test_asking_for_a_new_code_by_address_checks_the_address_too(bot_env):
    eva = bot_env.customer()
    await eva.command("start")
    await eva.press("activate")
    assert "e-mail" in eva.texts(await eva.press("resend"))
    reply = eva.texts(await eva.say("nev:b@example.hu"))
    assert "nem tűnik érvényes e-mail címnek" in reply
    assert "Ha a(z) b@example.hu" not in reply


async def test_a_mail_that_cannot_be_put_on_the_wire_fails_at_once(db, smtp_server):
    # An address queued before the check existed: aiosmtplib refuses the NUL itself.
    settings = Settings(
        {"PETKOMM_MAIL_FROM": "PÉTKOMM Kft. <petkomm@petkomm.hu>", **smtp_server.env}
    )
    queued = await queue_mail(
        db,
        settings,
        kind="answer",
        to="a\x00b@example.hu",
        subject="Válasz",
        template="answer",
        context={"marker": "", "name": None, "text": "Szöveg", "ticket_number": "PK-000001"},
    )
    assert await OutboxSender(db, settings).send_due() == 0
    mail = await outbox.get_mail(db, queued.id)
    assert (mail.status, mail.attempts) == ("failed", 1)  # not retried for hours
    assert "control character" in mail.last_error
    assert smtp_server.envelopes == []
    assert classify(ValueError("Command arg contains a prohibited control character")).permanent


# --- long answers are echoed as a short excerpt ------------------------------------------------


def test_a_refused_value_is_echoed_as_a_short_excerpt():
    for template in ("bad_email", "bad_customer_id", "bad_invoice", "bad_amount"):
        text = render(f"chat/registration/{template}.txt", value="x" * 5000, problem="form")
        assert "x" * 39 + "…</code>" in text and "x" * 40 not in text
        short = render(f"chat/registration/{template}.txt", value="2024-12", problem="form")
        assert "<code>2024-12</code>" in short  # a short answer is echoed as typed


@pytest.mark.parametrize("field", ["email", "customer_id", "invoice", "amount"])
async def test_an_over_long_answer_gets_the_usual_help_not_an_error(bot_env, field):
    eva = bot_env.customer()
    await eva.command("start")
    await eva.press("register")
    proof = await proof_for(bot_env.db, "U0022")
    answers = {
        "email": "eva@example.hu",
        "username": "eva22",
        "password": PASSWORD,
        **proof,
    }
    for name in ("email", "username", "password", "customer_id", "invoice", "amount"):
        if name == field:
            break
        await eva.say(answers[name])
        if name == "password":
            await eva.say(answers[name])  # asked twice (issue 11)
    long_answer = ("Kérem segítsen " * 300)[:LONGEST]
    reply = eva.texts(await eva.say(long_answer))
    assert "váratlan hiba" not in reply
    assert "Kérjük, így írja" in reply or "nem tűnik érvényes" in reply
    assert long_answer[:39] + "…" in reply
    assert len(reply) < 400
    await eva.say(answers[field])  # the same question again, then on as usual
    failed = [c for c in bot_env.emulator.requests if not c.ok and c.method != "getUpdates"]
    assert failed == []


async def test_an_over_long_address_for_a_new_code_gets_the_usual_help(bot_env):
    eva = bot_env.customer()
    await eva.command("start")
    await eva.press("activate")
    await eva.press("resend")
    reply = eva.texts(await eva.say("e" * LONGEST))
    assert "nem tűnik érvényes" in reply and "e" * 39 + "…" in reply
    failed = [c for c in bot_env.emulator.requests if not c.ok and c.method != "getUpdates"]
    assert failed == []


async def test_an_amount_with_thousands_of_digits_is_refused_with_the_usual_help(bot_env):
    # Found by the attacker trial: 4096 digits parsed as a number and the summary
    # was too long for Telegram ("váratlan hiba").
    eva = bot_env.customer()
    await eva.command("start")
    await eva.press("register")
    proof = await proof_for(bot_env.db, "U0023")
    for answer in (
        "eva@example.hu",
        "eva23",
        PASSWORD,
        PASSWORD,
        proof["customer_id"],
        proof["invoice"],
    ):
        await eva.say(answer)
    for digits in ("9" * LONGEST, "1" + "0" * 12):
        reply = eva.texts(await eva.say(digits))
        assert "váratlan hiba" not in reply
        assert "Kérjük, így írja: 12 345" in reply and len(reply) < 400
    summary = eva.texts(await eva.say(proof["amount"]))
    assert "Számla összege:" in summary and "Kérjük, ellenőrizze az adatait" in summary
    failed = [c for c in bot_env.emulator.requests if not c.ok and c.method != "getUpdates"]
    assert failed == []


@pytest.mark.parametrize(
    ("typed", "told"),
    [
        # 24 characters, but 0 and O never occur in a code: the length is not the problem.
        ("0BCD-EFGH-JKLM-NPQR-STUV-WXYO", "Ezek a jelek nem lehetnek benne: 0 O."),
        ("ABCD EFGH JKLM", "Ön 12 karaktert írt."),
        ("ABCD-EFGH-JKLM-NPQR-STUV-WXY<", "Ezek a jelek nem lehetnek benne: <."),
    ],
)
async def test_a_mistyped_code_is_told_what_is_wrong_with_it(bot_env, typed, told):
    eva = bot_env.customer()
    await eva.command("start")
    await eva.press("activate")
    sent = await eva.say(typed)
    reply = eva.texts(sent)
    assert told in reply
    if "Ön" not in told:
        assert "karaktert írt" not in reply  # not "24 characters; you wrote 24"
    assert "Kérjük, másolja be a kódot pontosan" in reply

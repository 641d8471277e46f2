"""How to reach a person and how to pay, from the operator's settings (issue 11, point 7):
the support phone, opening hours and on-call number where they help, the payee's account
and a közlemény for each unpaid invoice in Tartozás; nothing shown that was not set."""

from __future__ import annotations

import email
from email import policy
from pathlib import Path

import pytest

from core.config import ConfigError, Settings
from core.facts import facts_from
from core.outbox import queue_mail
from tests.botkit import active_customer, debtor

ROOT = Path(__file__).resolve().parents[1]

REACH = {
    "PETKOMM_SUPPORT_PHONE": "+36 88 555 010",
    "PETKOMM_OPENING_HOURS": "H–Cs 8–16, P 8–13",
    "PETKOMM_EMERGENCY_PHONE": "+36 30 555 0199",
}
PAY = {
    "PETKOMM_PAYEE_NAME": "PÉTKOMM Kft.",
    "PETKOMM_PAYEE_IBAN": "HU42 1177 3016 1111 1018 0000 0000",
    "PETKOMM_PAYMENT_REFERENCE": "{customer_id}/{invoice}",
}


async def test_the_welcome_help_and_report_prompt_tell_how_to_reach_a_person(staff_bot):
    env = await staff_bot(**REACH, PETKOMM_ANSWER_DAYS="10")
    eva = env.customer()
    welcome = eva.texts(await eva.command("start"))
    assert "Ügyfélszolgálat: +36 88 555 010 (H–Cs 8–16, P 8–13)" in welcome
    assert "éjjel-nappal: +36 30 555 0199" in welcome
    help_text = eva.texts(await eva.press("help"))
    assert "+36 88 555 010" in help_text and "+36 30 555 0199" in help_text
    prompt = eva.texts(await eva.press("report"))
    assert "legkésőbb 10 napon belül" in prompt  # PETKOMM_ANSWER_DAYS, not a fixed 15
    assert "azonnal hívja" in prompt and "+36 30 555 0199" in prompt


async def test_nothing_is_shown_that_the_operator_did_not_set(bot_env):
    eva = bot_env.customer()
    welcome = eva.texts(await eva.command("start"))
    assert "E-mail: petkomm@petkomm.hu" in welcome
    assert "Ügyfélszolgálat:" not in welcome and "éjjel-nappal" not in welcome
    prompt = eva.texts(await eva.press("report"))
    assert "legkésőbb 15 napon belül" in prompt and "azonnal hívja" not in prompt


async def test_tartozas_tells_how_to_pay_each_unpaid_invoice(staff_bot):
    env = await staff_bot(**PAY)
    customer_id = await debtor(env.db)
    unpaid = [
        row["invoice_no"]
        for row in await env.db.fetch_all(
            "SELECT invoice_no FROM invoices WHERE customer_id = ? AND outstanding > 0"
            " ORDER BY due_date",
            (customer_id,),
        )
    ]
    eva = await active_customer(env, customer_id, "fizeto1")
    page = eva.texts(await eva.press("debt"))
    assert "Kedvezményezett: PÉTKOMM Kft." in page
    assert "Számlaszám: 11773016-11111018" in page  # as a Hungarian transfer form asks for it
    for invoice_no in unpaid:
        number = f"{str(invoice_no)[:4]}-{str(invoice_no)[4:]}"
        assert f"{customer_id}/{number}" in page  # the közlemény, by the operator's pattern
    assert "\n\n\n" not in page


async def test_without_a_payee_tartozas_shows_the_debt_alone(bot_env):
    customer_id = await debtor(bot_env.db)
    eva = await active_customer(bot_env, customer_id, "fizeto2")
    page = eva.texts(await eva.press("debt"))
    assert "Összesen:" in page and "Számlaszám" not in page and "Közlemény" not in page


async def test_the_acknowledgement_mail_tells_the_phone_numbers(db):
    settings = Settings({**REACH, "PETKOMM_MAIL_OUTBOX_DIR": "/nonexistent"})
    queued = await queue_mail(
        db,
        settings,
        kind="ack",
        to="eva@example.hu",
        subject="Bejelentését rögzítettük",
        template="ack",
        context={
            "marker": "",
            "name": "Kovács Éva",
            "ticket_number": "PK-000001",
            "answer_days": 15,
            "due_date": "2026. 12. 12.",
            "bot_link": None,
            "subject": "Csőtörés",
        },
    )
    raw = await db.fetch_value("SELECT raw FROM outbox WHERE id = ?", (queued.id,))
    message = email.message_from_bytes(raw, policy=policy.default)
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    for body in (text, html):
        assert "+36 88 555 010" in body and "H–Cs 8–16, P 8–13" in body
        assert "+36 30 555 0199" in body


@pytest.mark.parametrize(
    ("variable", "value", "told"),
    [
        ("PETKOMM_PAYEE_IBAN", "HU43 1177 3016 1111 1018 0000 0000", "not a valid account number"),
        ("PETKOMM_PAYEE_IBAN", "1177301611111018", None),  # 16 digits: taken
        ("PETKOMM_SUPPORT_PHONE", "hívjon minket", "must be a phone number"),
        ("PETKOMM_PAYMENT_REFERENCE", "{ugyfel}", "knows only {customer_id} and {invoice}"),
        ("PETKOMM_PAYMENT_REFERENCE", "{customer_id", "cannot be read"),
    ],
)
def test_payee_and_phone_settings_are_checked(variable, value, told):
    settings = Settings({variable: value})
    if told is None:
        assert facts_from(settings).account_number == "11773016-11111018"
        return
    with pytest.raises(ConfigError, match=variable) as error:
        facts_from(settings)
    assert told in str(error.value)

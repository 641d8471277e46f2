"""The chat says things one way (issue 11, point 6): an amount reads the same on every page,
a balance is written one way, and one minus sign is used."""

from __future__ import annotations

import re

from tests.botkit import active_customer, debtor, proof_for

# A hyphen-minus before an amount (not the one inside an invoice number like 2026-002168).
HYPHEN_MINUS = re.compile(r"(?<![\d\w])-\s?\d")


async def test_an_invoice_reads_the_same_in_tartozas_and_szamlak(bot_env):
    """Ilona owes 4 800 Ft and 11 894 Ft: both pages write each amount the same way."""
    customer_id = await debtor(bot_env.db)
    newest = await bot_env.db.fetch_all(
        "SELECT invoice_no FROM invoices WHERE customer_id = ? ORDER BY issue_date DESC LIMIT 2",
        (customer_id,),
    )
    owed = {newest[0][0]: 11_894, newest[1][0]: 4_800}
    for number, amount in owed.items():
        await bot_env.db.execute(
            "UPDATE invoices SET amount = ?, outstanding = ? WHERE invoice_no = ?",
            (amount, amount, number),
        )
    ilona = await active_customer(bot_env, customer_id, "ilona.eotvos")
    debt = ilona.texts(await ilona.press("debt")).replace("\xa0", " ")
    invoices = ilona.texts(await ilona.press("invoices")).replace("\xa0", " ")
    for number, amount in owed.items():
        shown = f"{number // 1_000_000}-{number % 1_000_000:06d}"
        written = "11 894 Ft" if amount == 11_894 else "4800 Ft"
        assert f"{shown}: {written}," in debt
        block = invoices[invoices.index(shown) :].split("\n\n")[0]
        assert f"Még fizetendő: {written}" in block


async def test_the_balance_is_written_one_way_with_one_minus_sign(bot_env):
    """Kezdőlap and every line of Folyószámla say "… Ft tartozás", never "-12 345 Ft"."""
    customer_id = await debtor(bot_env.db)
    jolan = await active_customer(bot_env, customer_id, "jolan.kiss")
    home = jolan.texts(await jolan.command("menu")).replace("\xa0", " ")
    [page] = await jolan.press("account")
    account = page.text.replace("\xa0", " ")
    owed = re.search(r"Egyenleg: ([\d ]+ Ft tartozás)", home)
    assert owed, home
    assert f"Jelenlegi egyenleg: {owed[1]}" in account
    running = re.findall(r"Egyenleg utána: (.*)", account)
    assert running and all(re.fullmatch(r"[\d ]+ Ft( tartozás| túlfizetés)?", r) for r in running)
    assert not HYPHEN_MINUS.search(account) and not HYPHEN_MINUS.search(home)
    assert "−" in account  # a charge, with the minus sign (U+2212)


async def test_a_mail_only_queued_is_told_as_on_its_way(bot_env):
    """When the chat answers, the mail is only in the outbox: "elküldjük", never "elküldtük"."""
    proof = await proof_for(bot_env.db, "U0035")
    terez = bot_env.customer("Teréz")
    done = terez.texts(
        await terez.register(
            email_address="terez.antal@example.hu",
            username="antal.terez",
            password="Őszi-Levél-58",
            **proof,
        )
    )
    assert "elküldjük" in done and "néhány percen belül megérkezik" in done
    await terez.press("forgot")
    sent = terez.texts(await terez.say("antal.terez"))
    assert "elküldjük a kódot" in sent
    for text in (done, sent):
        assert "elküldtük" not in text and "kódot küldtünk," not in text

"""Issue 11, points 2, 4 and 5: a registration that takes values as people write them, says
how to write one it refuses, asks for the password twice, keeps everything when a
correction is called off, and tells that a proof's invoice must be recent.

Customer stories through the real bot and the Bot API emulator.
"""

from __future__ import annotations

import pytest

from cli.terminal_demo import secret_question
from conversations import dialogues
from conversations.common import label
from tests.botkit import Customer, proof_for

PASSWORD = "Tavaszi-Szel-42"
NBSP = "\u00a0"
NOT_UNDERSTOOD = "nem ismertem fel"


def grouped(amount: int, separator: str) -> str:
    """12345 -> `12<separator>345` (groups of three from the right)."""
    return f"{amount:,}".replace(",", separator)


async def to_the_amount(person: Customer, customer_id: str, invoice: str) -> None:
    """Start a registration and answer everything up to the amount's question."""
    await person.command("start")
    await person.press("register")
    for answer in ("eva@example.hu", f"eva{person.id}", PASSWORD, PASSWORD, customer_id):
        await person.say(answer)
    assert "6/6." in person.texts(await person.say(invoice))


# Each row: how the customer ID, the invoice number and the amount are typed, from the
# proof's own values (an invoice `year-serial` and an amount `n`).
SPELLINGS = [
    pytest.param(
        lambda c: c.lower().replace("u00", "u"),  # u24
        lambda year, serial: f"{year}/{serial}",  # 2026/2168
        lambda n: f"{grouped(n, '.')},- Ft",  # 11.894,- Ft
        id="u24 2026/2168 11.894,- Ft",
    ),
    pytest.param(
        lambda c: f"U-{int(c[1:])}",  # U-24
        lambda year, serial: f"{year} {serial}",  # 2026 2168
        lambda n: f"{grouped(n, NBSP)} forint",  # 11 894 forint (a no-break space)
        id="U-24 2026 2168 11 894 forint",
    ),
    pytest.param(
        lambda c: f"ü {c[1:]}",  # ü 0024 (the accented key beside it)
        lambda year, serial: f"Számlaszám: {year}–{serial:06d}.",  # an en dash, a full stop
        lambda n: f"HUF {n}",
        id="ü 0024 Számlaszám: 2026–002168. HUF 11894",
    ),
    pytest.param(
        lambda c: c[1:],  # 0024, the U left out
        lambda year, serial: f"{year}{serial:06d}",  # 2026002168
        lambda n: f"{grouped(n, chr(0x2009))} Ft.",  # 11 894 Ft. (a thin space)
        id="0024 2026002168 11 894 Ft.",
    ),
    pytest.param(
        lambda c: f"u {int(c[1:])}",  # u 24
        lambda year, serial: f"{year}.{serial}",  # 2026.2168
        lambda n: f"{n}.-",  # 11894.-
        id="u 24 2026.2168 11894.-",
    ),
    pytest.param(
        lambda c: f"ügyfél-azonosító: {c.lower()}",
        lambda year, serial: f"{year} - {serial}",
        lambda n: f"Ft {grouped(n, ' ')}",  # Ft 11 894
        id="ügyfél-azonosító: u0024 2026 - 2168 Ft 11 894",
    ),
]


@pytest.mark.parametrize(("typed_customer", "typed_invoice", "typed_amount"), SPELLINGS)
async def test_values_as_people_write_them_prove_the_account_and_show_normalised(
    bot_env, typed_customer, typed_invoice, typed_amount
):
    proof = await proof_for(bot_env.db, "U0024")
    year, serial = (int(part) for part in proof["invoice"].split("-"))
    amount = int(proof["amount"])
    eva = bot_env.customer()
    await to_the_amount(eva, typed_customer(proof["customer_id"]), typed_invoice(year, serial))
    summary = eva.texts(await eva.say(typed_amount(amount)))
    assert "Ügyfél-azonosító: U0024" in summary
    assert f"Számlaszám: {proof['invoice']}" in summary
    assert f"Számla összege: {grouped(amount, NBSP) if amount > 9999 else amount}{NBSP}Ft" in (
        summary
    )
    assert "Köszönjük a regisztrációt" in eva.texts(await eva.press("confirm"))


async def test_a_refused_value_is_told_how_to_write_it_and_what_was_wrong(bot_env):
    proof = await proof_for(bot_env.db, "U0025")
    eva = bot_env.customer()
    await eva.command("start")
    await eva.press("register")
    for answer in ("eva@example.hu", "eva25", PASSWORD, PASSWORD):
        await eva.say(answer)
    told = []

    async def refused(typed: str, *needles: str) -> None:
        reply = eva.texts(await eva.say(typed))
        told.append(reply)
        for needle in needles:
            assert needle in reply, (typed, reply)

    # The customer ID: another letter, too many digits, a word.
    await refused("V-125", "U betű, utána 4 számjegy", "Kérjük, így írja: U1234")
    await refused("U 12 345", "legfeljebb 4 számjegy", "Kérjük, így írja: U1234")
    await refused("nem tudom", "Kérjük, így írja: U1234")
    assert "5/6." in eva.texts(await eva.say("u25"))
    # The invoice number: no year first, the year alone, a customer ID, too long a serial.
    await refused("25/2168", "évszámmal kezdődik", "Kérjük, így írja: 2024-000123")
    await refused("2168", "évszámmal kezdődik")
    await refused("2025", "sorszáma is kell")
    await refused("U0025", "ügyfél-azonosítónak tűnik", "évszámmal kezdődik")
    await refused("2025-12345678", "legfeljebb 6 számjegy")
    assert "6/6." in eva.texts(await eva.say(proof["invoice"].replace("-0", "/", 1)))
    # The amount: fillér, another currency, nothing to prove with, no number at all.
    await refused("12 345,50", "fillér nélkül", "Kérjük, így írja: 12 345")
    await refused("120 EUR", "forintban")
    await refused("€ 45", "forintban")
    await refused("0,-", "nagyobb nullánál")
    await refused("-4 800 Ft", "nagyobb nullánál")
    await refused("tizenkétezer", "Kérjük, így írja: 12 345")
    assert all(NOT_UNDERSTOOD not in reply for reply in told)
    assert all("Ön ezt írta:" in reply for reply in told)  # what was refused, echoed
    summary = eva.texts(await eva.say(f"{proof['amount']},-"))
    assert "Kérjük, ellenőrizze" in summary and "Ügyfél-azonosító: U0025" in summary


async def test_the_password_is_asked_twice_and_a_mismatch_asks_both_again(bot_env):
    proof = await proof_for(bot_env.db, "U0026")
    eva = bot_env.customer()
    await eva.command("start")
    await eva.press("register")
    await eva.say("anna@example.hu")
    assert "3/6. Válasszon jelszót" in eva.texts(await eva.say("anna26"))
    again = eva.texts(await eva.say("Első-Tavasz-2026"))
    assert "3/6." in again and "még egyszer" in again and "4/6" not in again
    # A typo in the second: neither is kept, both are asked again, politely.
    mismatch = eva.texts(await eva.say("Első-Tavasz-2062"))
    assert "A két jelszó nem egyezik" in mismatch and "Egyiket sem őriztük meg" in mismatch
    assert "3/6. Válasszon jelszót" in mismatch
    await eva.say("Második-Nyár-77")
    assert "4/6." in eva.texts(await eva.say("Második-Nyár-77"))
    typed = [m for m in eva.user.chat.messages if not m.from_bot and "-" in (m.text or "")]
    assert len(typed) == 4 and all(m.deleted for m in typed)  # every password, both times
    for answer in (proof["customer_id"], proof["invoice"], proof["amount"]):
        await eva.say(answer)
    assert "Köszönjük a regisztrációt" in eva.texts(await eva.press("confirm"))
    _, link = await bot_env.code_mailed_to("anna@example.hu")
    await eva.open_link(link)
    await eva.press("logout")  # her own link logged her in
    # The one typed twice is the password; the mistyped pair was kept nowhere.
    assert "nem megfelelő" in eva.texts(await eva.login("anna26", "Első-Tavasz-2026"))
    await eva.press("cancel")
    assert "Sikeres belépés" in eva.texts(await eva.login("anna26", "Második-Nyár-77"))


def test_the_repeated_password_is_typed_unseen_in_the_demo_too():
    # The terminal demo hides what is typed where the bot asks for a password.
    assert secret_question(dialogues.ASKS["reg_password_again"])
    assert secret_question(dialogues.ASKS["reg_password_again_fix"])
    assert not secret_question(dialogues.ASKS["reg_choose"])


async def test_megse_while_correcting_goes_back_to_the_summary_with_everything_kept(bot_env):
    proof = await proof_for(bot_env.db, "U0027")
    eva = bot_env.customer()
    await eva.command("start")
    await eva.press("register")
    for answer in ("gizi@example.hu", "gizi27", PASSWORD, PASSWORD, "u27", proof["invoice"]):
        await eva.say(answer)
    first = eva.texts(await eva.say(proof["amount"]))
    summary_lines = [line for line in first.splitlines() if ":" in line]
    await eva.press("correct")
    assert "Melyik adatot javítaná?" in eva.last and "Mégse" in eva.last
    assert label("cancel") in eva.keyboard  # the Mégse it names is on the screen

    def kept(replies) -> bool:
        text = eva.texts(replies)
        return "nem változtattunk semmin" in text and all(line in text for line in summary_lines)

    # Mégse pressed while choosing the field: the summary again, nothing lost.
    assert kept(await eva.press("cancel"))
    # /megse, or a typed word that names no field ("vissza"), does the same.
    await eva.press("correct")
    assert kept(await eva.command("megse"))
    await eva.press("correct")
    assert kept(await eva.say("vissza"))
    # Mégse while the chosen field is asked again: its old value stays.
    await eva.press("correct")
    asked = eva.texts(await eva.press("field_invoice"))
    assert "5/6." in asked and "Mégse" in asked and "összesítőhöz" in asked
    assert kept(await eva.press("cancel"))
    # A field named by its button's words ("Számlaszám", typed) is asked again.
    await eva.press("correct")
    assert "5/6." in eva.texts(await eva.say("Számlaszám"))
    assert kept(await eva.command("megse"))
    # "mégse" typed while a field is asked again: back too, not out of the registration.
    await eva.press("correct")
    await eva.press("field_amount")
    assert kept(await eva.say("Mégse!"))
    # The field named in words. Mégse pressed at the repeated password is a button (it
    # stays); "mégse" typed there may have been the password, so it is deleted like one.
    await eva.press("correct")
    assert "3/6. Válasszon jelszót" in eva.texts(await eva.say("a jelszót"))
    await eva.say("Uj-Jelszo-Ketszer-1")
    assert kept(await eva.press("cancel"))
    await eva.press("correct")
    await eva.press("field_password")
    await eva.say("Uj-Jelszo-Ketszer-2")
    assert kept(await eva.say("mégse"))
    mine = [m for m in eva.user.chat.messages if not m.from_bot]
    assert not any(m.deleted for m in mine if m.text == label("cancel"))
    assert [m.deleted for m in mine if m.text == "mégse"] == [True]
    # A correction made after all that returns to the summary with the new value.
    await eva.press("correct")
    await eva.press("field_email")
    assert "E-mail cím: gizella@example.hu" in eva.texts(await eva.say("gizella@example.hu"))
    assert "Köszönjük a regisztrációt" in eva.texts(await eva.press("confirm"))
    assert await bot_env.mails_to("gizella@example.hu")
    # The password kept is the first one: the call-off changed nothing.
    _, link = await bot_env.code_mailed_to("gizella@example.hu")
    await eva.open_link(link)
    await eva.press("logout")  # her own link logged her in
    assert "Sikeres belépés" in eva.texts(await eva.login("gizi27", PASSWORD))


async def test_a_cancel_word_typed_at_the_repeated_password_leaves_and_is_deleted(bot_env):
    eva = bot_env.customer()
    await eva.command("start")
    await eva.press("register")
    for answer in ("eva@example.hu", "eva.megse", PASSWORD):
        await eva.say(answer)
    assert "megszakítottuk" in eva.texts(await eva.say("Mégsem"))
    typed = [m for m in eva.user.chat.messages if m.text in (PASSWORD, "Mégsem")]
    assert len(typed) == 2 and all(m.deleted for m in typed)
    assert label("register") in eva.keyboard


async def test_megse_at_the_summary_itself_still_leaves_the_registration(bot_env):
    eva = bot_env.customer()
    await eva.command("start")
    await eva.press("register")
    for answer in ("eva@example.hu", "eva.k", PASSWORD, PASSWORD, "U0030", "2026-30", "1000"):
        await eva.say(answer)
    assert "Kérjük, ellenőrizze" in eva.last
    assert "megszakítottuk" in eva.texts(await eva.press("cancel"))
    assert label("register") in eva.keyboard


async def old_invoice(bot_env, before_year: int) -> tuple[str, str, str]:
    """A real non-zero invoice numbered in a year before `before_year`."""
    row = await bot_env.db.fetch_one(
        "SELECT customer_id, invoice_no, amount FROM invoices"
        " WHERE invoice_no < ? AND amount > 0 ORDER BY invoice_no DESC LIMIT 1",
        (before_year * 1_000_000,),
    )
    assert row is not None, "the demo data has invoices of older years"
    return row[0], f"{row[1] // 1_000_000}-{row[1] % 1_000_000:06d}", str(row[2])


async def test_an_old_invoice_is_told_to_be_recent_without_telling_whether_it_exists(bot_env):
    # Today is 2026-11-25 and a proof may be 12 months old: an invoice numbered in 2024 or
    # before is older than that, whatever the billing data holds.
    customer_id, invoice, amount = await old_invoice(bot_env, 2025)
    year = invoice[:4]
    real, made_up, recent = bot_env.customer(), bot_env.customer(), bot_env.customer()

    async def refusal(person: Customer, invoice: str) -> str:
        replies = await person.register(
            email_address=f"p{person.id}@example.hu",
            username=f"p{person.id}",
            password=PASSWORD,
            customer_id=customer_id,
            invoice=invoice,
            amount=amount,
        )
        return person.texts(replies)

    told = await refusal(real, invoice)  # the customer's own old invoice: no proof
    assert "nem egyezik" in told
    assert f"A megadott számlaszám évszáma {year}" in told
    assert "12 hónapnál nem régebbi számlával lehet" in told and "legutóbbi számláját" in told
    # An invoice of that year that nobody has gets the very same answer.
    assert await refusal(made_up, f"{year}-999999") == told
    # A recent year's wrong number is no old invoice: the usual words only.
    usual = await refusal(recent, "2026-999999")
    assert "nem egyezik" in usual and "évszáma" not in usual
    assert "ellenőrizze mindhárom adatot" in usual


async def test_the_recent_invoice_hint_stays_when_the_wrong_proofs_lock(bot_env):
    customer_id, invoice, amount = await old_invoice(bot_env, 2025)
    eva = bot_env.customer()
    await eva.register(
        email_address="eva@example.hu",
        username="eva.regi",
        password=PASSWORD,
        customer_id=customer_id,
        invoice=invoice,
        amount=amount,
    )
    for _ in range(4):
        await eva.press("correct")
        await eva.press("field_amount")
        await eva.say(amount)
        replies = await eva.press("confirm")
    text = eva.texts(replies)
    assert "perc múlva" in text
    assert f"A megadott számlaszám évszáma {invoice[:4]}" in text

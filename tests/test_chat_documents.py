"""Folyószámla's documents (issue 16): the account statement as a PDF and the year's chart.

Stories through the emulator: a customer presses Kivonat under Folyószámla, picks the last
12 months or a year, and gets a PDF whose text (read back with pypdf, as a viewer would)
names them, has every accent and the right opening and closing balances; Grafikon sends
a PNG whose caption holds each month's numbers; a customer with nothing booked is told so.
The expected figures are counted here from the database, not by the product's queries.
"""

from __future__ import annotations

import io
import re

from PIL import Image
from pypdf import PdfReader

from core.formats import format_amount, format_balance, format_month
from tests.botkit import TODAY, active_customer, proof_for
from tests.test_chat_places import add_place, button_of

SIGNED = "CASE kind WHEN 'charge' THEN -amount ELSE amount END"


def _plain(text: str) -> str:
    """Text as compared: no-break spaces as spaces, runs of space as one."""
    return re.sub(r"[ \u00a0]+", " ", text)


async def _busiest_customer(db) -> str:
    """The demo customer with bookings in both years and the most of them."""
    return await db.fetch_value(
        "SELECT customer_id FROM transactions GROUP BY customer_id"
        " HAVING count(DISTINCT substr(booked_on, 1, 4)) > 1 ORDER BY count(*) DESC LIMIT 1"
    )


async def _balance(db, customer_id: str, before: str) -> int:
    return int(
        await db.fetch_value(
            f"SELECT coalesce(sum({SIGNED}), 0) FROM transactions"
            " WHERE customer_id = ? AND booked_on < ?",
            (customer_id, before),
        )
    )


def _file(env, message) -> bytes:
    media = message.media["document"] if "document" in message.media else message.media["photo"][-1]
    return env.emulator.file_content(media["file_id"])


def _pdf_text(data: bytes) -> str:
    return _plain("\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages))


async def test_kivonat_sends_the_last_12_months_as_a_pdf_with_accents_and_balances(bot_env):
    customer_id = await _busiest_customer(bot_env.db)
    name = await bot_env.db.fetch_value(
        "SELECT name FROM customers WHERE customer_id = ?", (customer_id,)
    )
    person = await active_customer(bot_env, customer_id, "kivonat")
    [page] = await person.press("account")

    [question] = await person.press_on(page, "statement")
    assert "Melyik időszakról" in question.text
    offered = [b["text"] for row in question.inline_keyboard for b in row]
    years = await bot_env.db.fetch_all(
        "SELECT DISTINCT substr(booked_on, 1, 4) FROM transactions WHERE customer_id = ?"
        " ORDER BY 1 DESC",
        (customer_id,),
    )
    assert offered == ["Az elmúlt 12 hónap", *(year for (year,) in years)]
    assert offered[1] == str(TODAY.year)

    [sent] = await person.press_on(question, "last_months")
    assert sent.kind == "document"
    assert sent.extra.get("has_protected_content") is True
    assert sent.document["file_name"].endswith(".pdf")
    data = _file(bot_env, sent)
    assert data.startswith(b"%PDF-") and len(data) < 100_000
    text = _pdf_text(data)

    first = f"{TODAY.year - 1}-12-01"  # this month and the eleven before it
    opening = await _balance(bot_env.db, customer_id, first)
    closing = await _balance(bot_env.db, customer_id, "9999")
    assert "PÉTKOMM Kft. – folyószámla-kivonat" in text
    assert name in text and customer_id in text
    # Words with ő and ű come back as written (the base PDF fonts would lose them).
    assert "Időszak" in text and "jellegű" in text and "Ügyfél-azonosító" in text
    assert f"Időszak: {TODAY.year - 1}. 12. 01. – 2026. 11. 25." in text
    assert _plain(f"Nyitó egyenleg ({TODAY.year - 1}. 12. 01.): {format_balance(opening)}") in text
    assert _plain(f"Záró egyenleg (2026. 11. 25.): {format_balance(closing)}") in text
    # Every booking of the period is a row.
    rows = await bot_env.db.fetch_value(
        "SELECT count(*) FROM transactions WHERE customer_id = ? AND booked_on >= ?",
        (customer_id, first),
    )
    assert len(re.findall(r"\b(Terhelés|Befizetés|Helyesbítés)\b", text)) == rows
    # The caption says the same balances.
    caption = _plain(sent.caption)
    assert _plain(f"Nyitó egyenleg: {format_balance(opening)}") in caption
    assert _plain(f"Záró egyenleg: {format_balance(closing)}") in caption


async def test_kivonat_for_last_year_runs_from_january_to_december(bot_env):
    customer_id = await _busiest_customer(bot_env.db)
    person = await active_customer(bot_env, customer_id, "evesek")
    [page] = await person.press("account")
    [question] = await person.press_on(page, "statement")

    year = TODAY.year - 1
    [sent] = await person.press_on(question, str(year))
    text = _pdf_text(_file(bot_env, sent))
    opening = await _balance(bot_env.db, customer_id, f"{year}-01-01")
    closing = await _balance(bot_env.db, customer_id, f"{year + 1}-01-01")
    assert f"Időszak: {year}. év, {year}. 01. 01. – {year}. 12. 31." in text
    assert _plain(f"Nyitó egyenleg ({year}. 01. 01.): {format_balance(opening)}") in text
    assert _plain(f"Záró egyenleg ({year}. 12. 31.): {format_balance(closing)}") in text
    assert "2026. 0" not in text.split("Záró egyenleg")[0].split("Egyenleg utána")[1]


async def test_grafikon_sends_a_png_of_12_months_with_the_numbers_in_its_caption(bot_env):
    customer_id = await _busiest_customer(bot_env.db)
    person = await active_customer(bot_env, customer_id, "grafikon")
    [page] = await person.press("account")

    [sent] = await person.press_on(page, "chart")
    assert sent.kind == "photo"
    assert sent.extra.get("has_protected_content") is True
    data = _file(bot_env, sent)
    assert len(data) < 30_000
    picture = Image.open(io.BytesIO(data))
    assert picture.format == "PNG"
    assert picture.width == 720 and 1000 < picture.height < 2000  # a tall phone picture

    caption = _plain(sent.caption)
    assert f"{format_month('2025-12')} – {format_month('2026-11')}" in caption
    months = await bot_env.db.fetch_all(
        f"SELECT substr(booked_on, 1, 7), sum(max(-({SIGNED}), 0)), sum(max({SIGNED}, 0))"
        " FROM transactions WHERE customer_id = ? AND booked_on >= '2025-12-01'"
        " GROUP BY 1",
        (customer_id,),
    )
    totals = {month: (charges, payments) for month, charges, payments in months}
    for number in range(12):
        month = f"{2025 + (number + 11) // 12}-{(number + 11) % 12 + 1:02d}"
        charges, payments = totals.get(month, (0, 0))
        line = f"{format_month(month)}: terhelés {format_amount(charges)}, befizetés "
        assert _plain(line + format_amount(payments)) in caption
    assert (
        _plain(f"Összesen: terhelés {format_amount(sum(c for c, _ in totals.values()))}") in caption
    )


async def test_a_customer_with_nothing_booked_is_told_so(bot_env):
    person = await active_customer(bot_env, "U0011", "ures")
    # The billing export has brought the customer's invoice but no booking yet.
    await bot_env.db.execute("DELETE FROM transactions WHERE customer_id = ?", ("U0011",))
    [page] = await person.press("account")

    for button in ("statement", "chart"):
        [answer] = await person.press_on(page, button)
        assert answer.kind == "text"
        assert "még nincs könyvelt tétel" in answer.text
        assert "kivonatot és grafikont" in answer.text


async def test_a_page_shown_before_a_fiokvaltas_still_gives_its_own_accounts_statement(bot_env):
    eva = await active_customer(bot_env, "U0030", "eva30docs")
    [own_page] = await eva.press("account")
    other = await bot_env.db.fetch_value(
        "SELECT customer_id FROM invoices WHERE outstanding > 0 AND customer_id <> 'U0030'"
        " ORDER BY customer_id LIMIT 1"
    )
    await add_place(eva, await proof_for(bot_env.db, other))  # shows the added one now
    [other_page] = await eva.press("account")
    assert other_page.text.startswith(f"🏠 {other}")

    # Kivonat under the page of U0030, shown before the switch: U0030's statement.
    [question] = await eva.press_on(own_page, "statement")
    assert question.text.startswith("🏠 U0030")
    [sent] = await eva.press_on(question, button_of(question, "Az elmúlt"))
    assert "U0030" in sent.document["file_name"]
    text = _pdf_text(_file(bot_env, sent))
    assert "Ügyfél-azonosító: U0030" in text and other not in text
    # Grafikon under the page shown now: the added account's, headed by it.
    [chart] = await eva.press_on(other_page, "chart")
    assert chart.kind == "photo" and chart.caption.startswith(f"🏠 {other}")


async def test_a_made_up_button_for_a_customer_id_not_of_the_login_sends_nothing(bot_env):
    eva = await active_customer(bot_env, "U0025", "eva25docs")
    [page] = await eva.press("account")
    # A modified client can send any callback data for a message it has.
    page.reply_markup = {
        "inline_keyboard": [
            [{"text": "x", "callback_data": "doc:chart:U0026"}],
            [{"text": "y", "callback_data": "stmt:last:U0026"}],
        ]
    }
    for button in ("x", "y"):
        [answer] = await eva.press_on(page, button)
        assert "már nem tartozik az Ön belépéséhez" in answer.text
    assert bot_env.emulator.calls("sendDocument") == []
    assert bot_env.emulator.calls("sendPhoto") == []

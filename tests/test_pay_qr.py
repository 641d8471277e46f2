"""Fizetés (issue 15, point 1): every unpaid invoice in Tartozás and Számlák, and the
total, has a button that answers with the MNB instant-payment QR code ("HCT" "001": 17
LF-ended fields, UTF-8, level M, version 13 at most), buttons that copy the account
number, the amount and the közlemény, and the three values as text.

The expected payloads are written out here field by field from the MNB guide, never made
by the code under test; the bot's PNG is read back with a real QR reader (zxing-cpp).
"""

from __future__ import annotations

import html
import io
import logging
import re
from datetime import datetime, timedelta, timezone

import pytest
import zxingcpp
from PIL import Image

from core import paying, payment_qr, texts
from core.accounts.links import Place
from core.config import Settings
from core.facts import Facts, facts_from
from core.formats import format_amount, format_invoice_number
from core.payment_qr import Payee, QrError, Transfer
from storage.billing import Invoice
from tests.botkit import active_customer, proof_for
from tests.test_chat_places import add_place, button_of
from tests.test_notifications import Billing, invoice, subscribed, told

NAME, IBAN, BIC = "PÉTKOMM Kft.", "HU42117730161111101800000000", "OTPVHUHBXXX"
PAY = {
    "PETKOMM_PAYEE_NAME": NAME,
    "PETKOMM_PAYEE_IBAN": "HU42 1177 3016 1111 1018 0000 0000",
    "PETKOMM_PAYEE_BIC": "OTPVHUHB",  # 8 characters: the code carries OTPVHUHBXXX
    "PETKOMM_PAYMENT_PURPOSE": "WTER",
}
PAYEE = Payee(NAME, IBAN, BIC, "WTER")
BUDAPEST_WINTER = timezone(timedelta(hours=1))
# The bot's clock (tests.botkit.START) is 2026-11-25 noon in Budapest: a code made then
# is valid to the end of 2026-11-27, in winter time (UTC+1).
VALID = "20261127235959+1"


def mnb(*fields: str) -> bytes:
    """A payload as the MNB guide writes it: the 17 fields, each ended by LF, in UTF-8."""
    assert len(fields) == 17
    return "".join(f"{field}\n" for field in fields).encode("utf-8")


def fields_of(amount: int, reference: str, invoice: str, customer_id: str) -> bytes:
    """The payload the bot's settings (PAY) give for this transfer."""
    return mnb(
        "HCT",  # 1 identification code: transfer order
        "001",  # 2 version
        "1",  # 3 character set: UTF-8
        BIC,  # 4 BIC, 11 characters
        NAME,  # 5 payee
        IBAN,  # 6 IBAN, 28 characters
        f"HUF{amount}",  # 7 currency and amount
        VALID,  # 8 validity
        "WTER",  # 9 purpose
        reference,  # 10 közlemény
        "",  # 11 shop
        "",  # 12 merchant device
        invoice,  # 13 invoice
        customer_id,  # 14 customer
        "",  # 15 payee's transaction ID
        "",  # 16 loyalty ID
        "",  # 17 NAV code
    )


def read_qr(png: bytes) -> zxingcpp.Result:
    """The one QR code in a PNG, read as a bank app's camera would."""
    results = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert len(results) == 1, f"{len(results)} codes in the image"
    return results[0]


# --- the payload, byte for byte ------------------------------------------------------------


def test_the_payload_of_one_invoice_in_winter_byte_for_byte():
    transfer = Transfer(
        77_966,
        "U0027 2026-002168",
        datetime(2026, 11, 27, 23, 59, 59, tzinfo=payment_qr.BUDAPEST),
        invoice="2026-002168",
        customer_id="U0027",
    )
    assert payment_qr.payload(PAYEE, transfer).encode("utf-8") == (
        b"HCT\n001\n1\nOTPVHUHBXXX\nP\xc3\x89TKOMM Kft.\nHU42117730161111101800000000\n"
        b"HUF77966\n20261127235959+1\nWTER\nU0027 2026-002168\n\n\n2026-002168\nU0027\n\n\n\n"
    )


def test_the_payload_in_summer_time_without_purpose_for_several_invoices():
    payee = Payee("Pétfürdői Vízmű Zrt.", "HU93116000060000000012345676", "GIBAHUHBXXX")
    transfer = Transfer(
        1_234_567_890_12,  # 12 digits, the most the field takes
        "U1234/2026-000001 2026-000002",
        datetime(2026, 7, 31, 8, 0, 0, tzinfo=payment_qr.BUDAPEST),
        customer_id="U1234",
    )
    assert payment_qr.payload(payee, transfer).encode("utf-8") == mnb(
        "HCT",
        "001",
        "1",
        "GIBAHUHBXXX",
        "Pétfürdői Vízmű Zrt.",
        "HU93116000060000000012345676",
        "HUF123456789012",
        "20260731080000+2",  # Budapest in summer is UTC+2
        "",
        "U1234/2026-000001 2026-000002",
        "",
        "",
        "",
        "U1234",
        "",
        "",
        "",
    )


def test_the_validity_is_the_end_of_the_second_day_after_in_budapest():
    assert payment_qr.validity_field(payment_qr.validity(1_795_600_000.0)) == VALID
    late = datetime(2026, 3, 28, 23, 30, tzinfo=payment_qr.BUDAPEST).timestamp()  # DST on 29th
    assert payment_qr.validity_field(payment_qr.validity(late)) == "20260330235959+2"
    assert payment_qr.validity_field(datetime(2026, 1, 2, 3, 4, 5, tzinfo=BUDAPEST_WINTER)) == (
        "20260102030405+1"
    )
    with pytest.raises(QrError, match="time zone"):
        payment_qr.validity_field(datetime(2026, 1, 2, 3, 4, 5))


# --- what the fields take ------------------------------------------------------------------


def _transfer(reference: str = "U0027 2026-002168", amount: int = 1000) -> Transfer:
    valid = datetime(2026, 11, 27, 23, 59, 59, tzinfo=payment_qr.BUDAPEST)
    return Transfer(amount, reference, valid, invoice="2026-002168", customer_id="U0027")


def test_the_name_and_the_kozlemeny_take_70_characters():
    for limit_name in ("Ő" * 70, "A" * 70):
        payment_qr.payload(Payee(limit_name, IBAN, BIC), _transfer())
    with pytest.raises(QrError, match="71 characters"):
        payment_qr.payload(Payee("A" * 71, IBAN, BIC), _transfer())
    payment_qr.payload(PAYEE, _transfer("x" * 70))
    with pytest.raises(QrError, match="71 characters"):
        payment_qr.payload(PAYEE, _transfer("x" * 71))


@pytest.mark.parametrize(
    "bad",
    ["\n", "\r", "\r\n", "\t", "\x00", "\x85", "\u2028", "\u2029", "\x7f", "–", "😀", "Ş"],
)
def test_a_character_that_could_break_the_lines_is_refused_never_sent(bad):
    with pytest.raises(QrError, match="cannot carry"):
        payment_qr.payload(PAYEE, _transfer(f"U0027{bad}2026-002168"))
    with pytest.raises(QrError, match="cannot carry"):
        payment_qr.payload(Payee(f"PÉTKOMM{bad}Kft.", IBAN, BIC), _transfer())


def test_hungarian_letters_and_punctuation_go_through():
    text = "Árvíztűrő tükörfúrógép ÁRVÍZTŰRŐ TÜKÖRFÚRÓGÉP 0-9 /?:().,'+"
    assert f"\n{text}\n" in payment_qr.payload(PAYEE, _transfer(text))


@pytest.mark.parametrize("amount", [0, -1, 1_000_000_000_000])
def test_an_amount_outside_12_digits_or_not_owed_is_refused(amount):
    with pytest.raises(QrError, match="amount"):
        payment_qr.payload(PAYEE, _transfer(amount=amount))


def test_a_bic_is_written_with_11_characters():
    assert payment_qr.bic_field("otpv huhb") == "OTPVHUHBXXX"
    assert payment_qr.bic_field("GIBAHUHB123", "HU") == "GIBAHUHB123"
    for wrong in ("OTPV", "OTPVHUHB1", "OTPV1UHB", "OTPVHUHBXXXX"):
        with pytest.raises(QrError, match="is not a BIC"):
            payment_qr.bic_field(wrong)
    with pytest.raises(QrError, match="another country"):
        payment_qr.bic_field("DEUTDEFF", "HU")


def test_a_code_larger_than_version_13_is_refused():
    fits = "x" * payment_qr.MAX_BYTES
    assert payment_qr.symbol(fits).version == 13
    assert read_qr(payment_qr.png(fits)).extra["Version"] == "13"
    with pytest.raises(QrError, match="version 14"):
        payment_qr.symbol(fits + "x")
    name = "Ő" * 70  # 140 bytes: with a 70-character accented közlemény, too much
    with pytest.raises(QrError, match="bytes"):
        payment_qr.payload(Payee(name, IBAN, BIC), _transfer("ő" * 70))


def test_the_png_reads_back_as_the_payload_at_level_m():
    text = payment_qr.payload(PAYEE, _transfer())
    code = read_qr(payment_qr.png(text))
    assert code.bytes == text.encode("utf-8")
    assert code.format == zxingcpp.BarcodeFormat.QRCode  # not Micro QR
    assert code.extra["ECLevel"] == "M" and int(code.extra["Version"]) <= 13


# --- the settings ----------------------------------------------------------------------------


def test_the_payee_settings_make_the_codes():
    facts = facts_from(Settings(PAY))
    assert facts.qr_payee == PAYEE and facts.qr_off is None


@pytest.mark.parametrize(
    ("changes", "told"),
    [
        ({"PETKOMM_PAYEE_BIC": ""}, "PETKOMM_PAYEE_BIC is not set"),
        ({"PETKOMM_PAYEE_BIC": "OTPV HU"}, "PETKOMM_PAYEE_BIC is not a BIC"),
        ({"PETKOMM_PAYEE_BIC": "DEUTDEFF"}, "PETKOMM_PAYEE_BIC is a BIC of another country"),
        ({"PETKOMM_PAYEE_IBAN": ""}, "PETKOMM_PAYEE_IBAN is not set"),
        (
            {"PETKOMM_PAYEE_IBAN": "DE89 3704 0044 0532 0130 00"},
            "PETKOMM_PAYEE_IBAN is not a Hungarian IBAN",
        ),
        ({"PETKOMM_PAYEE_NAME": ""}, "PETKOMM_PAYEE_NAME is not set"),
        ({"PETKOMM_PAYEE_NAME": "PÉTKOMM – Kft."}, "PETKOMM_PAYEE_NAME contains '–'"),
        ({"PETKOMM_PAYEE_NAME": "P" * 71}, "PETKOMM_PAYEE_NAME is 71 characters long"),
        ({"PETKOMM_PAYMENT_PURPOSE": "víz"}, "PETKOMM_PAYMENT_PURPOSE is not an ISO 20022"),
        (
            {"PETKOMM_PAYMENT_REFERENCE": "Ügyfél: {customer_id}, számla: {invoice}" + "!" * 40},
            "PETKOMM_PAYMENT_REFERENCE: the közlemény it makes",
        ),
    ],
)
def test_a_wrong_or_missing_payment_setting_turns_the_codes_off(changes, told):
    facts = facts_from(Settings({**PAY, **changes}))
    assert facts.qr_payee is None
    assert facts.qr_off is not None and facts.qr_off.startswith(told)


def test_a_kozlemeny_for_several_invoices_lists_them_or_counts_them():
    facts = facts_from(Settings(PAY))
    two = [2026_000243, 2026_000283]
    assert facts.total_reference("U0003", two) == "U0003 2026-000243 2026-000283"
    five = [2026_000243 + 40 * i for i in range(5)]
    assert len(facts.total_reference("U0003", five)) == 65  # 5 numbers still fit 70
    six = [2026_000243 + 40 * i for i in range(6)]
    assert facts.total_reference("U0003", six) == "U0003 6 számla"
    slashed = facts_from(Settings({**PAY, "PETKOMM_PAYMENT_REFERENCE": "{customer_id}/{invoice}"}))
    assert slashed.total_reference("U0003", two) == "U0003/2026-000243 2026-000283"


def test_no_request_without_the_codes_or_without_a_debt():
    owed = Invoice(2026_000414, "U0014", "2026-11-01", "2026-11-16", 14_882, 7_400)
    paid = Invoice(2026_000374, "U0014", "2026-10-01", "2026-10-16", 9_000, 0)
    assert paying.for_invoice(Facts(), owed, 0) is None  # no settings: no code
    facts = facts_from(Settings(PAY))
    assert paying.for_invoice(facts, paid, 0) is None
    assert paying.for_total(facts, "U0014", [paid], 0) is None
    request = paying.for_invoice(facts, owed, 0)
    assert request is not None and request.amount == 7_400  # what is still owed on it


def test_the_longest_caption_stays_within_telegram_s_1024_characters():
    longest = {
        **PAY,
        "PETKOMM_PAYEE_NAME": "Ő" * 70,
        "PETKOMM_PAYMENT_REFERENCE": "{customer_id} {invoice} " + "x" * 52,
    }
    facts = facts_from(Settings(longest))
    assert facts.qr_payee is not None
    owed = Invoice(2026_000414, "U0014", "2026-11-01", "2026-11-16", 10**12 - 1, 10**12 - 1)
    request = paying.for_invoice(facts, owed, 0)
    assert request is not None and len(request.reference) == 70
    with texts.telling(facts):
        # A login with several customer IDs: the place it pays named, with a long address.
        address = "8105 Pétfürdő, " + "Hosszú " * 20 + "u. 1."
        place = Place("U0014", "Kiss Anna", address, own=True, shown=True)
        caption = texts.render(
            "chat/pay/qr.txt", request=request, invoice="x", invoices=1, place=place
        )
    assert len(re.sub(r"<[^>]+>", "", html.unescape(caption))) <= 1024


async def test_an_invoice_of_no_customer_id_of_the_login_gets_no_code(db):
    for customer_id in ("U0014", "U0040"):
        await db.execute(
            "INSERT INTO customers (customer_id, name, address) VALUES (?, 'Kiss Anna', 'Pét')",
            (customer_id,),
        )
    await db.execute(
        "INSERT INTO invoices (invoice_no, customer_id, issue_date, due_date, amount,"
        " outstanding) VALUES (2026000414, 'U0014', '2026-11-01', '2026-11-16', 14882, 7400)"
    )
    facts = facts_from(Settings(PAY))
    theirs = await paying.asked(db, facts, ["U0014"], 2026_000414, 0, total_of="U0014")
    assert theirs.request is not None and theirs.request.amount == 7_400
    other = await paying.asked(db, facts, ["U0003"], 2026_000414, 0, total_of="U0003")
    assert other.request is None and other.refusal is paying.Refusal.NOT_THEIRS
    # A login that has it among its customer IDs pays it, whichever one it shows now.
    linked = await paying.asked(db, facts, ["U0040", "U0014"], 2026_000414, 0, total_of="U0040")
    assert linked.request is not None and linked.request.customer_id == "U0014"
    # The whole debt of a customer ID the login no longer has (removed since): refused.
    gone = await paying.asked(db, facts, ["U0040"], None, 0, total_of="U0014")
    assert gone.request is None and gone.refusal is paying.Refusal.NOT_THEIRS


# --- through the bot -------------------------------------------------------------------------


async def _unpaid(env, customer_id: str) -> list:
    return await env.db.fetch_all(
        "SELECT invoice_no, outstanding FROM invoices WHERE customer_id = ? AND outstanding > 0"
        " ORDER BY due_date, invoice_no",
        (customer_id,),
    )


async def _most_in_debt(env) -> str:
    """The customer with the most unpaid invoices (the demo has one with five)."""
    return await env.db.fetch_value(
        "SELECT customer_id FROM invoices WHERE outstanding > 0 GROUP BY customer_id"
        " ORDER BY count(*) DESC, customer_id LIMIT 1"
    )


def _labels(message) -> list[str]:
    return [button["text"] for row in (message.inline_keyboard or []) for button in row]


async def test_fizetes_answers_with_a_qr_code_the_bank_app_reads(staff_bot):
    env = await staff_bot(**PAY)
    customer_id = await _most_in_debt(env)
    unpaid = await _unpaid(env, customer_id)
    assert len(unpaid) >= 2
    eva = await active_customer(env, customer_id, "fizeto1")

    (page,) = await eva.press("debt")
    numbers = [format_invoice_number(row["invoice_no"]) for row in unpaid]
    assert _labels(page) == [f"💳 Fizetés: {n}" for n in numbers] + ["💳 Fizetés egyben"]
    assert "Fizetés egyben" in page.text and "QR-kódot" in page.text
    assert eva.keyboard, "the menu keyboard stays on the screen"

    first, owed = numbers[0], unpaid[0]["outstanding"]
    (photo,) = await eva.press_on(page, f"💳 Fizetés: {first}")
    assert photo.kind == "photo" and photo.extra.get("has_protected_content") is True
    reference = f"{customer_id} {first}"
    expected = fields_of(owed, reference, first, customer_id)
    code = read_qr(env.emulator.file_content(photo.photo[-1]["file_id"]))
    assert code.bytes == expected  # what the bank app reads, byte for byte
    assert code.extra["ECLevel"] == "M" and int(code.extra["Version"]) <= 13

    caption = photo.caption
    assert len(caption) <= 1024
    for shown in (
        f"Kedvezményezett: {NAME}",
        "Számlaszám: 11773016-11111018",
        f"Közlemény: {reference}",
        "Olvassa be a QR-kódot a bankja mobilalkalmazásával",
        "2026. 11. 27. 23:59-ig",
    ):
        assert shown in caption
    assert f"Összeg: {format_amount(owed)}" in caption

    copied = {}
    for label in ("📋 Számlaszám", "📋 Összeg", "📋 Közlemény"):
        assert eva.user.press_inline(photo.message_id, label) is None  # no update: a copy
        copied[label] = eva.user.clipboard
    assert copied == {
        "📋 Számlaszám": "11773016-11111018",
        "📋 Összeg": str(owed),
        "📋 Közlemény": reference,
    }

    (whole,) = await eva.press_on(page, "💳 Fizetés egyben")
    total = sum(row["outstanding"] for row in unpaid)
    listed = f"{customer_id} {' '.join(numbers)}"
    assert len(listed) <= 70
    code = read_qr(env.emulator.file_content(whole.photo[-1]["file_id"]))
    assert code.bytes == fields_of(total, listed, "", customer_id)
    assert f"{len(numbers)} számla egyben" in whole.caption


async def test_szamlak_has_a_button_for_each_unpaid_invoice_on_the_page(staff_bot):
    env = await staff_bot(**PAY)
    customer_id = "U0014"  # one invoice half paid: the code asks for the rest
    (row,) = await _unpaid(env, customer_id)
    eva = await active_customer(env, customer_id, "fizeto2")
    (page,) = await eva.press("invoices")
    number = format_invoice_number(row["invoice_no"])
    assert _labels(page)[0] == f"💳 Fizetés: {number}"
    assert sum(label.startswith("💳") for label in _labels(page)) == 1  # paid ones have none
    (photo,) = await eva.press_on(page, f"💳 Fizetés: {number}")
    code = read_qr(env.emulator.file_content(photo.photo[-1]["file_id"]))
    assert code.bytes == fields_of(
        row["outstanding"], f"{customer_id} {number}", number, customer_id
    )

    # Paid in the meantime (the next import): the button says so instead of a code.
    await env.db.execute("UPDATE invoices SET outstanding = 0 WHERE invoice_no = ?", (row[0],))
    (said,) = await eva.press_on(page, f"💳 Fizetés: {number}")
    assert said.kind == "text" and "már ki van egyenlítve" in said.text


async def test_a_notice_s_button_works_in_the_middle_of_a_report(staff_bot):
    env = await staff_bot(**PAY)
    customer_id = "U0014"
    eva = await active_customer(env, customer_id, "fizeto3")
    (page,) = await eva.press("debt")
    await eva.press("report")
    (photo,) = await eva.press_on(page, _labels(page)[0])
    assert photo.kind == "photo"
    answer = eva.texts(await eva.say("Csöpög a csap a fürdőszobában, kérem nézzék meg."))
    assert "Elküldöm így" in answer or "PK-" in answer  # still the report dialogue


async def test_without_a_bic_there_is_no_button_and_one_warning_at_start(staff_bot, caplog):
    caplog.set_level(logging.WARNING, logger="petkomm")
    settings = {k: v for k, v in PAY.items() if k != "PETKOMM_PAYEE_BIC"}
    env = await staff_bot(**settings)
    warnings = [r.getMessage() for r in caplog.records if "QR" in r.getMessage()]
    assert warnings == [
        "payment QR codes are off, no Fizetés buttons: PETKOMM_PAYEE_BIC is not set"
    ]
    customer_id = await _most_in_debt(env)
    eva = await active_customer(env, customer_id, "fizeto4")
    (page,) = await eva.press("debt")
    assert not page.inline_keyboard and "Fizetés" not in page.text
    assert "Számlaszám: 11773016-11111018" in page.text  # the transfer data still shown
    (listing,) = await eva.press("invoices")
    assert not any(label.startswith("💳") for label in _labels(listing))


async def test_a_notice_s_fizetes_of_the_login_s_other_customer_id_gives_its_code(
    staff_bot, caplog
):
    # The customer trial: a login with its home (U0027) and a holiday house (U0040), the
    # home shown; the holiday house's new-invoice notice's Fizetés button was refused
    # ("nem annak az ügyfélnek a számlája…"). It is the same login's own place.
    caplog.set_level(logging.WARNING, logger="petkomm")
    env = await staff_bot(**PAY)
    eva = await subscribed(env, "U0027", "eva27")
    await add_place(eva, await proof_for(env.db, "U0040"))
    listing = await eva.press("switch")
    await eva.press_on(listing[-1], button_of(listing[-1], "U0027"))  # the home shown again
    address = await env.db.fetch_value("SELECT address FROM customers WHERE customer_id = 'U0040'")

    await Billing(env).load(
        invoices=[
            invoice("U0040", 9500, 12_000, "2026-12-10"),
            invoice("U0040", 9501, 3_500, "2026-12-10"),
        ]
    )
    notice = await told(env, eva, "számlája érkezett", "Ügyfél-azonosító: U0040")
    # Számlák shows the home now: the notice says how to see the holiday house's.
    assert "a 🔁 Fiókváltás gombbal átvált erre a fiókra (U0040)" in notice.text
    (photo,) = await eva.press_on(notice, "💳 Fizetés: 2026-009500")
    assert photo.kind == "photo"
    code = read_qr(env.emulator.file_content(photo.photo[-1]["file_id"]))
    assert code.bytes == fields_of(12_000, "U0040 2026-009500", "2026-009500", "U0040")
    # The caption names the place it pays, as the notices and the pages' headings do.
    assert f"Ügyfél-azonosító: U0040 · {address}" in photo.caption
    assert not [r for r in caplog.records if "Fizetés" in r.getMessage()]

    # "Fizetés egyben" of the holiday house names it too, and pays it even when pressed
    # after switching back to the home.
    listing = await eva.press("switch")
    await eva.press_on(listing[-1], button_of(listing[-1], "U0040"))
    (page,) = await eva.press("debt")
    unpaid = await _unpaid(env, "U0040")
    total = sum(row["outstanding"] for row in unpaid)
    (whole,) = await eva.press_on(page, "💳 Fizetés egyben")
    assert f"Ügyfél-azonosító: U0040 · {address}" in whole.caption
    assert f"Összeg: {format_amount(total)}" in whole.caption
    listing = await eva.press("switch")
    await eva.press_on(listing[-1], button_of(listing[-1], "U0027"))
    (again,) = await eva.press_on(page, "💳 Fizetés egyben")
    assert f"Ügyfél-azonosító: U0040 · {address}" in again.caption
    assert f"Összeg: {format_amount(total)}" in again.caption


async def test_with_one_customer_id_the_code_names_no_place(staff_bot):
    env = await staff_bot(**PAY)
    eva = await active_customer(env, "U0014", "fizeto5")
    (page,) = await eva.press("debt")
    (photo,) = await eva.press_on(page, _labels(page)[0])
    assert "Ügyfél-azonosító" not in photo.caption

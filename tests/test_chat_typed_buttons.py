"""What a 65-year-old typed in the customer trial and did not get (issues 15/16 follow-up):
an inline question's buttons typed (Kivonat's periods, Számlák's PDF), Fiókváltás's
words, her own customer ID when adding, a wrong amount corrected, a person asked for,
notifications switched off in words, and no quiet hours."""

from __future__ import annotations

from core.billing_import import import_folder
from core.formats import format_invoice_number
from core.intents import normalise
from tests.botkit import active_customer, proof_for
from tests.test_chat_documents import _busiest_customer, _file, _pdf_text
from tests.test_chat_places import add_place, customer_row
from tests.test_invoice_pdfs import _demo_copy, pdf, with_pdfs
from tests.test_notifications import subscribed

TODAY_YEAR = 2026


async def test_the_kivonat_questions_buttons_typed_do_what_the_buttons_do(bot_env):
    customer_id = await _busiest_customer(bot_env.db)
    person = await active_customer(bot_env, customer_id, "tipelt")
    [page] = await person.press("account")
    [question] = await person.press_on(page, "statement")
    assert "Melyik időszakról" in question.text

    [sent] = await person.say("az elmúlt 12 hónap")
    assert sent.kind == "document", sent.text
    assert f"Időszak: {TODAY_YEAR - 1}. 12. 01. – 2026. 11. 25." in _pdf_text(_file(bot_env, sent))

    # A year offered on the question, bare or in a sentence, as long as the question is
    # the last thing asked.
    [sent] = await person.say(str(TODAY_YEAR - 1))
    assert sent.kind == "document", sent.text
    year = TODAY_YEAR - 1
    assert f"Időszak: {year}. év" in _pdf_text(_file(bot_env, sent))
    [sent] = await person.say(f"A {TODAY_YEAR}-es évet kérem")
    assert sent.kind == "document", sent.text
    assert f"Időszak: {TODAY_YEAR}. év" in _pdf_text(_file(bot_env, sent))

    # Once she went on to something else, a year typed is no longer that answer.
    await person.press("invoices")
    replies = await person.say(str(TODAY_YEAR - 1))
    assert all(m.kind != "document" for m in replies)


async def test_fiokvaltas_typed_adds_and_switches_by_id_or_address(bot_env):
    eva = await active_customer(bot_env, "U0027", "eva27")
    other = "U0031"
    await add_place(eva, await proof_for(bot_env.db, other))  # the pages show U0031 now

    # Her own customer ID, shortened, on the list: the pages show it.
    await eva.press("switch")
    home = eva.texts(await eva.say("u27"))
    assert home.startswith("🏠 U0027"), home[:80]
    # A word of the other one's address: that one.
    _, address = await customer_row(bot_env, other)
    _, own_address = await customer_row(bot_env, "U0027")
    own_words = set(normalise(own_address).split())
    words = address.replace(".", " ").split()
    word = next(w for w in words if len(w) >= 5 and normalise(w) not in own_words)
    await eva.press("switch")
    home = eva.texts(await eva.say(word))
    assert home.startswith(f"🏠 {other}"), (word, home[:80])

    # The add button's words, however said, start adding.
    for typed in ("hozzáadás", "Másik ügyfél-azonosító hozzáadása"):
        await eva.press("switch")
        asked = eva.texts(await eva.say(typed))
        assert "1/3." in asked and "hozzáadandó ügyfél-azonosítót" in asked, typed
        await eva.press("cancel")
    # Said anywhere, not only on the list.
    asked = eva.texts(await eva.say("hozzá szeretném adni a nyaralómat"))
    assert "1/3." in asked and "hozzáadandó ügyfél-azonosítót" in asked


async def test_adding_her_own_customer_id_is_told_at_the_first_step(bot_env):
    eva = await active_customer(bot_env, "U0021", "eva21")
    listing = await eva.press("switch")
    asked = eva.texts(await eva.press_on(listing[-1], "place_add"))
    assert "1/3. Adja meg a hozzáadandó ügyfél-azonosítót" in asked
    told = eva.texts(await eva.say("U0021"))
    assert "U0021 ügyfél-azonosító már szerepel a belépésében" in told
    assert "1/3. Adja meg a hozzáadandó ügyfél-azonosítót" in told
    assert "2/3." not in told  # not on to the invoice number


async def test_a_wrong_amount_goes_back_to_the_summary_with_the_answers_kept(bot_env):
    eva = await active_customer(bot_env, "U0022", "eva22")
    proof = await proof_for(bot_env.db, "U0023")
    wrong = {**proof, "amount": str(int(proof["amount"]) + 1)}
    refused = eva.texts(await add_place(eva, wrong))
    assert "nem egyezik" in refused
    assert "1/3." not in refused  # not from the start
    # The right amount typed now replaces the amount; the other two are kept.
    summary = await eva.say(proof["amount"])
    text = eva.texts(summary)
    assert "U0023" in text and proof["invoice"] in text, text
    added = eva.texts(await eva.press_on(summary[-1], "confirm"))
    assert "hozzáadtuk az U0023 ügyfél-azonosítót" in added


async def test_asking_for_a_person_gives_the_contacts_and_a_report_button(bot_env):
    guest = bot_env.customer()
    await guest.command("start")
    for typed in (
        "telefonon szeretnék beszélni valakivel",
        "hogyan tudok beszélni valakivel?",
        "ügyintézőt kérek",
        "embert kérek",
    ):
        [reply] = await guest.say(typed)
        assert "Munkatársainkat így éri el" in reply.text, typed
        assert "E-mail:" in reply.text and "nem értem" not in reply.text
        assert "✉️ Hibabejelentés" in str(reply.inline_keyboard), typed
    started = guest.texts(await guest.press_on(reply, "report"))
    assert "Kérjük, írja le, miben segíthetünk" in started


async def test_switching_notifications_off_in_words_names_the_button_and_it_does_it(bot_env):
    eva = await subscribed(bot_env, "U0024", "eva24")
    [page] = await eva.say("kapcsolja ki az értesítéseket")
    assert "🔔 Értesítések" in page.text
    assert "a Mindet kikapcsolom gombbal kapcsolhatja ki" in page.text
    # The words switch nothing themselves.
    assert "✅ Új számla" in str(page.inline_keyboard)
    await eva.press_on(page, "notify_all_off")
    buttons = [text for row in eva.user.inline_buttons() for text, _ in row]
    assert "⬜ Új számla" in buttons and "⬜ Üzemzavar, tervezett munka" in buttons
    assert "🔔 Mindet bekapcsolom" in buttons
    [page] = await eva.say("mindet kikapcsolom")
    assert "Most minden értesítés ki van kapcsolva" in page.text
    await eva.press_on(page, "notify_all_on")
    buttons = [text for row in eva.user.inline_buttons() for text, _ in row]
    assert "✅ Új számla" in buttons and "🔕 Mindet kikapcsolom" in buttons


async def test_equal_quiet_hours_are_no_quiet_hours_on_the_page(staff_bot):
    env = await staff_bot(PETKOMM_QUIET_HOURS="12-12")
    eva = await active_customer(env, "U0025", "eva25")
    [page] = await eva.press("notifications")
    assert "🔔 Értesítések" in page.text
    assert "óra között" not in page.text


async def test_a_pdf_buttons_words_typed_under_szamlak_send_that_pdf(bot_env, tmp_path):
    eva = await active_customer(bot_env, "U0026", "eva26")
    number = await bot_env.db.fetch_value(
        "SELECT invoice_no FROM invoices WHERE customer_id = 'U0026'"
        " ORDER BY issue_date DESC LIMIT 1"
    )
    shown = format_invoice_number(number)
    export = await _demo_copy(bot_env, tmp_path)
    content = pdf(f"Számla {shown}")
    with_pdfs(export, {f"{shown}.pdf": content})
    await import_folder(bot_env.db, export)

    page = (await eva.press("invoices"))[-1]
    assert f"📄 PDF: {shown}" in str(page.inline_keyboard)
    for typed in (f"PDF: {shown}", f"kérem a {shown} számla pdf-jét"):
        [sent] = await eva.say(typed)
        assert sent.document is not None, (typed, sent.text)
        assert bot_env.emulator.file_content(sent.document["file_id"]) == content


async def test_another_customer_id_typed_on_the_list_starts_adding_it(bot_env):
    eva = await active_customer(bot_env, "U0032", "eva32")
    proof = await proof_for(bot_env.db, "U0033")
    await eva.press("switch")
    asked = eva.texts(await eva.say("U0033"))
    assert "Az U0033 ügyfél-azonosítót adná hozzá" in asked
    assert "2/3." in asked and "1/3." not in asked
    await eva.say(proof["invoice"])
    summary = await eva.say(proof["amount"])
    added = eva.texts(await eva.press_on(summary[-1], "confirm"))
    assert "hozzáadtuk az U0033 ügyfél-azonosítót" in added


async def test_the_contact_names_the_phone_numbers_and_hours_of_the_settings(staff_bot):
    env = await staff_bot(
        PETKOMM_SUPPORT_PHONE="+36 88 555 123",
        PETKOMM_OPENING_HOURS="H–Cs 8–16, P 8–13",
        PETKOMM_EMERGENCY_PHONE="+36 30 555 9999",
    )
    eva = await active_customer(env, "U0034", "eva34")
    [reply] = await eva.say("telefonon szeretnék beszélni valakivel")
    assert "📞 Ügyfélszolgálat: +36 88 555 123 (H–Cs 8–16, P 8–13)" in reply.text
    assert "+36 30 555 9999" in reply.text
    started = eva.texts(await eva.press_on(reply, "report"))
    assert "Kérjük, írja le, miben segíthetünk" in started


async def test_after_a_wrong_proof_the_buttons_correct_a_field_or_open_a_report(bot_env):
    eva = await active_customer(bot_env, "U0035", "eva35")
    proof = await proof_for(bot_env.db, "U0036")
    wrong = {**proof, "amount": str(int(proof["amount"]) + 1)}
    refused = (await add_place(eva, wrong))[-1]
    assert "nem egyezik" in refused.text
    # Javítok: which field, then only the amount is asked; the summary keeps the others.
    await eva.press_on(refused, "correct")
    chosen = eva.user.replies[-1]
    asked = eva.texts(await eva.press_on(chosen, "field_amount"))
    assert "3/3." in asked
    summary = await eva.say(proof["amount"])
    assert "U0036" in eva.texts(summary) and proof["invoice"] in eva.texts(summary)
    assert "hozzáadtuk az U0036" in eva.texts(await eva.press_on(summary[-1], "confirm"))
    # Hibabejelentés under a refusal opens a report instead.
    other = await proof_for(bot_env.db, "U0037")
    refused = (await add_place(eva, {**other, "amount": str(int(other["amount"]) + 1)}))[-1]
    assert "nem egyezik" in refused.text
    started = eva.texts(await eva.press_on(refused, "report"))
    assert "Kérjük, írja le, miben segíthetünk" in started

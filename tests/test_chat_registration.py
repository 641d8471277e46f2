"""Registration and activation as customers really type them."""

from __future__ import annotations

from tests.botkit import proof_for

PASSWORD = "Tavaszi-Szel-42"


async def test_every_field_is_checked_at_once_with_an_example_and_the_step_repeats(bot_env):
    eva = bot_env.customer()
    await eva.command("start")
    await eva.press("register")
    assert "kovacs.eva@example.hu" in eva.texts(await eva.say("eva kukac example"))
    assert "2/6. Válasszon felhasználónevet" in eva.texts(await eva.say("eva@example.hu"))
    assert "3–32 karakter" in eva.texts(await eva.say("ev"))
    assert "szóköz nem" in eva.texts(await eva.say("kovács éva"))
    await eva.say("Kovács.Éva")  # accented letters are letters
    assert "legalább 8 karakter" in eva.texts(await eva.say("rovid"))
    assert "nem egyezhet a felhasználónévvel" in eva.texts(await eva.say("kovács.éva"))
    assert "túl gyakori" in eva.texts(await eva.say("jelszo123"))
    await eva.say(PASSWORD)
    await eva.say(PASSWORD)  # asked twice (issue 11)
    assert "U1234" in eva.texts(await eva.say("X-12"))
    await eva.say("u 0001")
    assert "2024-000123" in eva.texts(await eva.say("24-12"))  # 2024-12 is 2024-000012 now
    await eva.say("2025 000001")
    assert "12 345" in eva.texts(await eva.say("sok pénz"))
    summary = eva.texts(await eva.say("12.345"))
    assert "Ügyfél-azonosító: U0001" in summary
    assert "Számlaszám: 2025-000001" in summary
    assert "12\u00a0345\u00a0Ft" in summary
    assert "••••••••" in summary and PASSWORD not in summary


async def test_one_field_can_be_corrected_from_the_summary(bot_env):
    eva = bot_env.customer()
    proof = await proof_for(bot_env.db, "U0011")
    await eva.command("start")
    await eva.press("register")
    for answer in (
        "eva@example.hu",
        "eva",
        PASSWORD,
        PASSWORD,
        proof["customer_id"],
        proof["invoice"],
        "1",
    ):
        await eva.say(answer)
    assert "Kérjük, ellenőrizze" in eva.last
    await eva.press("correct")
    await eva.press("field_amount")
    assert "végösszegét" in eva.last
    summary = eva.texts(await eva.say(proof["amount"]))
    assert "E-mail cím: eva@example.hu" in summary  # back at the summary, nothing lost
    done = await eva.press("confirm")
    assert "Köszönjük a regisztrációt" in eva.texts(done)


async def test_a_wrong_proof_says_so_without_saying_which_part_and_locks_after_five(bot_env):
    eva = bot_env.customer()
    proof = await proof_for(bot_env.db, "U0012")
    wrong_amount = dict(proof, amount=str(int(proof["amount"]) + 1))
    replies = await eva.register(
        email_address="a@example.hu", username="aaa", password=PASSWORD, **wrong_amount
    )
    text = eva.texts(replies)
    assert "nem egyezik" in text
    assert "összeg" in text and "számlaszám" in text  # names all three, blames none
    for attempt in range(4):
        await eva.press("correct")
        await eva.press("field_amount")
        await eva.say(str(int(proof["amount"]) + 2 + attempt))
        replies = await eva.press("confirm")
    assert "perc múlva" in eva.texts(replies)
    # The guesser now waits even with the right proof (issue 10: counted before the check) ...
    await eva.press("correct")
    await eva.press("field_amount")
    await eva.say(proof["amount"])
    assert "perc múlva" in eva.texts(await eva.press("confirm"))
    # ... but someone else with the right proof is not locked out by the guesser's failures.
    other = bot_env.customer()
    replies = await other.register(
        email_address="b@example.hu", username="bbb", password=PASSWORD, **proof
    )
    assert "Köszönjük a regisztrációt" in other.texts(replies)
    bot_env.clock.advance(61 * 60)
    assert "Köszönjük a regisztrációt" in eva.texts(await eva.press("confirm"))


async def test_an_old_or_zero_invoice_is_no_proof(bot_env):
    eva = bot_env.customer()
    row = await bot_env.db.fetch_one(
        "SELECT customer_id, invoice_no, amount FROM invoices WHERE issue_date < '2025-10-01'"
        " AND amount > 0 LIMIT 1"
    )
    replies = await eva.register(
        email_address="a@example.hu",
        username="aaa",
        password=PASSWORD,
        customer_id=row[0],
        invoice=str(row[1]),
        amount=str(row[2]),
    )
    assert "nem egyezik" in eva.texts(replies)


async def test_activation_by_typed_code_tolerates_spaces_and_case_and_works_once(bot_env):
    eva = bot_env.customer()
    proof = await proof_for(bot_env.db, "U0013")
    await eva.register(email_address="eva@example.hu", username="eva13", password=PASSWORD, **proof)
    code, _ = await bot_env.code_mailed_to("eva@example.hu")
    await eva.press("activate")
    spaced = " ".join(code[i : i + 4] for i in range(0, 24, 4)).lower()
    replies = await eva.say(spaced)
    assert "Fiókja aktív" in eva.texts(replies)
    typed = [m for m in eva.user.chat.messages if not m.from_bot and m.text == spaced]
    assert typed and typed[0].deleted
    await eva.command("aktivalas")  # she is logged in now: Aktiválás is no button of hers
    assert "már aktiválták" in eva.texts(await eva.say(code))


async def test_an_expired_code_can_be_replaced_by_a_new_one(bot_env):
    eva = bot_env.customer()
    proof = await proof_for(bot_env.db, "U0014")
    await eva.register(email_address="eva@example.hu", username="eva14", password=PASSWORD, **proof)
    old_code, old_link = await bot_env.code_mailed_to("eva@example.hu")
    bot_env.clock.advance(49 * 3600)
    assert "már nem érvényes" in eva.texts(await eva.open_link(old_link))
    replies = await eva.press("resend")
    assert "Új kódot küldünk" in eva.texts(replies)
    new_code, _ = await bot_env.code_mailed_to("eva@example.hu")
    assert new_code != old_code
    assert "Fiókja aktív" in eva.texts(await eva.say(new_code))


async def test_an_old_new_code_button_pressed_after_activating_says_no_code_is_needed(bot_env):
    # The second customer trial: it asked for the registration's address instead.
    eva = bot_env.customer()
    proof = await proof_for(bot_env.db, "U0016")
    await eva.register(
        email_address="eva16@example.hu", username="eva16", password=PASSWORD, **proof
    )
    await eva.press("activate")
    asked = eva.user.last_reply  # "Új kód kérése" under the code question
    code, _ = await bot_env.code_mailed_to("eva16@example.hu")
    assert "Fiókja aktív" in eva.texts(await eva.say(code))
    said = eva.texts(await eva.press_on(asked, "resend"))
    assert "már aktív" in said and "e-mail címmel" not in said
    assert len(await bot_env.mails_to("eva16@example.hu")) == 1  # no new code mailed


async def test_a_new_registration_replaces_a_pending_one_and_its_code(bot_env):
    proof = await proof_for(bot_env.db, "U0015")
    first, second = bot_env.customer(), bot_env.customer("Péter")
    await first.register(
        email_address="first@example.hu", username="first15", password=PASSWORD, **proof
    )
    first_code, _ = await bot_env.code_mailed_to("first@example.hu")
    await second.register(
        email_address="second@example.hu", username="second15", password=PASSWORD, **proof
    )
    await first.press("activate")
    assert "nem ismerjük" in first.texts(await first.say(first_code))
    _code, link = await bot_env.code_mailed_to("second@example.hu")
    assert "Fiókja aktív" in second.texts(await second.open_link(link))


async def test_a_taken_customer_id_sends_the_customer_to_staff(bot_env):
    proof = await proof_for(bot_env.db, "U0016")
    owner, stranger = bot_env.customer(), bot_env.customer("Béla")
    await owner.register(
        email_address="owner@example.hu", username="owner16", password=PASSWORD, **proof
    )
    _, link = await bot_env.code_mailed_to("owner@example.hu")
    await owner.open_link(link)
    replies = await stranger.register(
        email_address="b@example.hu", username="bela16", password=PASSWORD, **proof
    )
    text = stranger.texts(replies)
    assert "már tartozik aktív fiók" in text and "Hibabejelentés" in text
    assert "✉️ Hibabejelentés" in stranger.keyboard


async def test_wrong_codes_are_throttled(bot_env):
    eva = bot_env.customer()
    await eva.command("start")
    await eva.press("activate")
    for _ in range(4):
        assert "nem ismerjük" in eva.texts(await eva.say("A" * 24))
    assert "perc múlva" in eva.texts(await eva.say("B" * 24))


async def test_a_user_name_is_unique_whatever_its_case(bot_env):
    await test_a_taken_customer_id_sends_the_customer_to_staff(bot_env)
    eva = bot_env.customer()
    proof = await proof_for(bot_env.db, "U0017")
    # Told at the end, once the proof holds (issue 10: step 2 is no oracle of who has an account).
    replies = await eva.register(
        email_address="x@example.hu", username="OWNER16", password=PASSWORD, **proof
    )
    assert "foglalt" in eva.texts(replies)
    await eva.say("eva17")
    assert "Köszönjük a regisztrációt" in eva.texts(await eva.press("confirm"))

"""A customer ID under siege (issue 10, second round): strangers' wrong registration proofs
stop the guessers, never the first-time owner; every spelling of a customer ID is one
target; a Telegram user who may not try at all is told before the six questions.

The throttle is exercised on a real SQLite file; what a customer sees, through the real bot
and the Bot API emulator.
"""

from __future__ import annotations

from conversations.common import label
from core import throttle
from tests.botkit import proof_for

PASSWORD = "Tavaszi-Szel-42"
NOW = 1_795_600_000.0
BESIEGED = "naponta egy próbálkozást"


async def test_fifty_guessers_hammering_one_customer_id_for_a_day_get_one_guess_each(db):
    """Every guesser tries once an hour for 24 hours (well within its own 5 an hour)."""
    guessers = [f"tg:{i}" for i in range(50)]
    evaluated = 0
    for hour in range(24):
        async with db.transaction() as tx:  # one round a transaction: the figure, not a race
            for guesser in guessers:
                attempt = await throttle.reserve(
                    tx, throttle.PROOF, guesser, "U0031", NOW + 3600 * hour
                )
                evaluated += attempt.id is not None
    # One each, the first ten before the siege among them (was 10 an hour: 240 a day). At
    # most 10 a day plus one per account that was not among those ten.
    assert evaluated == 50


async def test_a_siege_lifts_a_day_after_the_guessing_stops(db):
    for i in range(throttle.PROOF.per_target.count):
        async with db.transaction() as tx:
            await throttle.reserve(tx, throttle.PROOF, f"tg:{i}", "U0031", NOW)
    async with db.transaction() as tx:
        refused = await throttle.reserve(tx, throttle.PROOF, "tg:0", "U0031", NOW + 3600)
        newcomer = await throttle.reserve(tx, throttle.PROOF, "tg:new", "U0031", NOW + 3600)
    assert refused.locked_by == "siege" and refused.locked_until == NOW + 86400
    assert newcomer.id is not None
    async with db.transaction() as tx:
        again = await throttle.reserve(tx, throttle.PROOF, "tg:0", "U0031", NOW + 86401)
    assert again.id is not None


async def test_a_first_time_owner_gets_in_and_a_stranger_is_told_when_and_who_can_help(bot_env):
    proof = await proof_for(bot_env.db, "U0021")
    wrong = dict(proof, amount=str(int(proof["amount"]) + 1))
    crowd = [bot_env.customer(f"Idegen {i}") for i in range(throttle.PROOF.per_target.count)]
    for i, person in enumerate(crowd):
        await person.register(
            email_address=f"x{i}@example.hu", username=f"idegen{i}", password=PASSWORD, **wrong
        )
    # A stranger who already had a guess today is refused, honestly and helpfully.
    await crowd[0].press("correct")
    await crowd[0].press("field_amount")
    await crowd[0].say(str(int(proof["amount"]) + 2))
    refusal = crowd[0].texts(await crowd[0].press("confirm"))
    assert BESIEGED in refusal  # what happened
    assert "2026. 11. 26. 10:46 után" in refusal and "kb. 24 óra múlva" in refusal  # when
    assert "Hibabejelentés" in refusal and "petkomm@petkomm.hu" in refusal  # who can help
    # The owner, new to the bot, with the paper invoice: their first attempt is evaluated.
    owner = bot_env.customer("Tulajdonos")
    replies = await owner.register(
        email_address="tulaj21@example.hu", username="tulaj21", password=PASSWORD, **proof
    )
    assert "Köszönjük a regisztrációt" in owner.texts(replies)
    # A second newcomer who mistypes the amount learns that, and that today's try is spent.
    late = bot_env.customer("Késő")
    replies = await late.register(
        email_address="keso@example.hu", username="keso21", password=PASSWORD, **wrong
    )
    assert "nem egyezik" in late.texts(replies) and BESIEGED in late.texts(replies)


async def test_every_spelling_of_a_customer_id_is_the_same_customer_id(bot_env):
    proof = await proof_for(bot_env.db, "U0022")
    fullwidth = "U" + "".join(chr(0xFF10 + int(d)) for d in "0022")  # U + fullwidth digits
    # The owner types the ID with fullwidth digits (a phone keyboard may): it is theirs.
    owner = bot_env.customer("Tulajdonos")
    replies = await owner.register(
        email_address="tulaj22@example.hu",
        username="tulaj22",
        password=PASSWORD,
        **dict(proof, customer_id=fullwidth),
    )
    assert "Köszönjük a regisztrációt" in owner.texts(replies)
    # Strangers' guesses in every spelling count against that one customer ID.
    target = await proof_for(bot_env.db, "U0023")
    wrong = dict(target, amount=str(int(target["amount"]) + 1))
    spellings = ["U0023", "u 0023", "U-0023"]
    spellings += ["U" + "".join(chr(0xFF10 + int(d)) for d in "0023")]
    spellings += ["u" + "".join(chr(0x0660 + int(d)) for d in "0023")]
    crowd = [bot_env.customer(f"Idegen {i}") for i in range(throttle.PROOF.per_target.count)]
    for i, person in enumerate(crowd):
        await person.register(
            email_address=f"x{i}@example.hu",
            username=f"idegen{i}",
            password=PASSWORD,
            **dict(wrong, customer_id=spellings[i % len(spellings)]),
        )
    stranger = crowd[0]
    await stranger.press("correct")
    await stranger.press("field_amount")
    await stranger.say(str(int(target["amount"]) + 2))
    assert BESIEGED in stranger.texts(await stranger.press("confirm"))


async def test_a_telegram_user_locked_out_of_every_proof_is_told_before_the_questions(bot_env):
    guesser = bot_env.customer("Próbálkozó")
    for i in range(throttle.PROOF.per_guesser.count):
        target = await proof_for(bot_env.db, f"U00{24 + i}")
        wrong = dict(target, amount=str(int(target["amount"]) + 1))
        await guesser.register(
            email_address="p@example.hu", username=f"probal{i}", password=PASSWORD, **wrong
        )
        await guesser.press("cancel")
    answer = guesser.texts(await guesser.press("register"))
    assert "most nem kezdhet új regisztrációt" in answer
    assert "60 perc múlva" in answer and "(2026. 11. 25. 11:46 után)" in answer
    assert "Hibabejelentés" in answer and "1/6" not in answer  # no question asked
    assert label("register") in guesser.keyboard
    # An hour later the questions come again.
    bot_env.clock.advance(3600)
    assert "1/6" in guesser.texts(await guesser.press("register"))

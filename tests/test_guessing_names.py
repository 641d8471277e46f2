"""User names (issue 10, second round): whether a name is taken is told a few times an hour
per customer ID too, not only per Telegram user; a customer who used them up is told
precisely, keeping their answers; and a name that only looks like a taken one (another
script's letters, a dotless i, a small capital) is taken.
"""

from __future__ import annotations

import asyncio
import itertools

from conversations.common import label
from core import accounts, throttle
from tests.botkit import proof_for

PASSWORD = "Tavaszi-Szel-42"
NOW = 1_795_600_000.0
NAME_LOOKUPS = 10  # an hour, per Telegram user and per customer ID
NAMES_LOCKED = "foglalt volt"


async def test_fifty_users_with_one_valid_proof_learn_ten_names_an_hour(db):
    """Each asks every six minutes for an hour (each within its own ten an hour)."""
    answered = 0
    for minute in range(0, 60, 6):
        async with db.transaction() as tx:  # one round a transaction: the figure, not a race
            for i in range(50):
                lookup = await throttle.reserve(
                    tx, throttle.USERNAME_LOOKUP, f"tg:{i}", "U0035", NOW + 60 * minute
                )
                answered += lookup.id is not None
    assert answered == NAME_LOOKUPS  # was 500: ten for each Telegram user


async def test_users_sharing_a_proof_at_once_are_told_about_ten_names_in_all(bot_env):
    owner = bot_env.customer("Tulajdonos")
    taken = await proof_for(bot_env.db, "U0034")
    await owner.register(
        email_address="foglalt60@example.hu", username="foglalt60", password=PASSWORD, **taken
    )
    proof = await proof_for(bot_env.db, "U0035")
    probers = [bot_env.customer(f"Kíváncsi {i}") for i in range(NAME_LOOKUPS + 5)]

    async def to_the_summary(i: int, person):
        await person.command("regisztracio")
        for answer in (f"k{i}@example.hu", "foglalt60", PASSWORD, PASSWORD, *proof.values()):
            await person.say(answer)
        return person.user.last_reply

    summaries = [await to_the_summary(i, p) for i, p in enumerate(probers)]
    sent = [
        p.user.press_inline(s.message_id, label("confirm"))
        for p, s in zip(probers, summaries, strict=True)
    ]
    await asyncio.gather(*(bot_env.processed(u) for u in sent))
    told = [p for p in probers if "már foglalt" in p.last]
    refused = [p for p in probers if NAMES_LOCKED in p.last]
    assert len(told) == NAME_LOOKUPS  # was every one of them (ten each, an hour)
    assert len(refused) == len(probers) - NAME_LOOKUPS
    assert all("Ehhez az ügyfél-azonosítóhoz" in p.last for p in refused)


async def test_who_tried_too_many_taken_names_is_told_so_and_keeps_the_other_answers(bot_env):
    owner = bot_env.customer("Tulajdonos")
    taken = await proof_for(bot_env.db, "U0036")
    await owner.register(
        email_address="foglalt61@example.hu", username="foglalt61", password=PASSWORD, **taken
    )
    customer = bot_env.customer("Ügyfél")
    proof = await proof_for(bot_env.db, "U0037")
    replies = await customer.register(
        email_address="ugyfel37@example.hu", username="foglalt61", password=PASSWORD, **proof
    )
    for _ in range(NAME_LOOKUPS - 1):
        assert "már foglalt" in customer.texts(replies)
        await customer.say("FOGLALT61")  # the name "corrected", back at the summary
        replies = await customer.press("confirm")
    assert "már foglalt" in customer.texts(replies)
    await customer.say("Foglalt61")
    answer = customer.texts(await customer.press("confirm"))
    # Not "too many failed attempts": what was too many, until when, and that nothing is lost.
    assert "túl sok" not in answer.lower()
    assert "Az elmúlt órában már sok olyan felhasználónevet adott meg, amely foglalt volt" in answer
    assert "60 perc múlva (2026. 11. 25. 11:46 után)" in answer
    assert "Minden más adatát megőriztük" in answer
    # An hour later a free name is all it takes: the other five answers were kept.
    bot_env.clock.advance(3600)
    await customer.press("correct")
    await customer.press("field_username")
    await customer.say("ugyfel37")
    done = customer.texts(await customer.press("confirm"))
    assert "Köszönjük a regisztrációt" in done and "ugyfel37@example.hu" in done


async def test_a_name_that_only_looks_like_a_taken_one_is_taken(bot_env):
    for customer_id, name in [("U0001", "papa"), ("U0002", "ABE"), ("U0003", "victim1")]:
        await bot_env.customer().register(
            email_address=f"{name}@example.hu",
            username=name,
            password=PASSWORD,
            **await proof_for(bot_env.db, customer_id),
        )
    await bot_env.customer().register(
        email_address="odon@example.hu",
        username="Odon",
        password=PASSWORD,
        **await proof_for(bot_env.db, "U0004"),
    )
    # The admin's account was made before look-alikes were kept (as the migration leaves it).
    await bot_env.customer().register(
        email_address="admin@example.hu",
        username="admin",
        password=PASSWORD,
        **await proof_for(bot_env.db, "U0005"),
    )
    await bot_env.db.execute(
        "UPDATE portal_accounts SET username_look_caps = NULL, username_look_small = NULL"
        " WHERE username = 'admin'"
    )
    twin = bot_env.customer("Iker")
    look_alikes = [
        "\u0440\u0430\u0440\u0430",  # Cyrillic er, a, er, a: "papa"
        "\u0391\u0392\u0395",  # Greek capital alpha, beta, epsilon: "ABE"
        "vict\u0131m1",  # a dotless i: "victim1"
        "\u1d00dmin",  # a small capital A: "admin"
    ]
    replies = await twin.register(
        email_address="iker@example.hu",
        username=look_alikes[0],
        password=PASSWORD,
        **await proof_for(bot_env.db, "U0006"),
    )
    answers = [twin.texts(replies)]
    for name in look_alikes[1:]:
        await twin.say(name)
        answers.append(twin.texts(await twin.press("confirm")))
    assert all("már foglalt, vagy összetéveszthetően hasonlít" in a for a in answers), answers
    # Accents are letters of their own: Ödön is not Odon.
    await twin.say("Ödön")
    assert "Köszönjük a regisztrációt" in twin.texts(await twin.press("confirm"))


def test_hungarian_accents_stay_apart_and_look_alikes_come_together():
    vowels = "aáeéiíoóöőuúüű"
    looks = {v: accounts.username_looks(v * 3) for v in vowels}
    assert [(a, b) for a, b in itertools.combinations(vowels, 2) if looks[a] == looks[b]] == []
    assert accounts.username_looks("Kovács.Éva") == accounts.username_looks("KOVÁCS.éva")
    assert accounts.username_looks("Kovács.Éva") != accounts.username_looks("Kovacs.Eva")
    assert accounts.username_looks("rnama") == accounts.username_looks("mama")

"""An attacker's afternoon (issue 10, points 1-4 and 12): many Telegram users guessing at
once, a real account used to reset the counters, a stranger locking the owner out, probing
which names exist, and names that look like someone else's.

Every attack runs against the real bot through the Bot API emulator, with real
concurrency: the guesses arrive together and are handled side by side, with
Argon2's verification held at a gate so that the race window is as wide as it
can be.
"""

from __future__ import annotations

import asyncio
import re
import threading
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher

from conversations.common import label
from core import accounts, passwords
from core.accounts import codes as account_codes
from tests.botkit import active_customer, proof_for

PASSWORD = "Tavaszi-Szel-42"
LOCKED = "perc múlva"

# The limits the README states ("Limits against guessing").
LOGIN_PER_USER_AND_ACCOUNT = 5  # in 15 minutes
LOGIN_PER_USER = 10  # an hour, against every account
LOGIN_PER_ACCOUNT = 20  # an hour, strangers together
PROOF_PER_USER = 5  # an hour
PROOF_PER_CUSTOMER = 10  # a day, strangers together; then the customer ID is under siege
PROOF_UNDER_SIEGE = 1  # a day per Telegram user, against a customer ID under siege
BESIEGED = "naponta egy próbálkozást"
NAME_LOOKUPS_PER_USER = 10  # an hour
CODE_REQUESTS_PER_USER = 5  # an hour


class GateAtWrongPasswords(PasswordHasher):
    """Cheap Argon2id whose verification of a wrong guess (`rossz-…`) waits at a gate.

    Counts the guesses that reached the slow check: the ones "evaluated".
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(time_cost=1, memory_cost=64, parallelism=1)
        self.evaluated = 0
        self.gate = threading.Event()
        self.entered = asyncio.Event()
        self._loop = loop
        self._count = threading.Lock()

    def verify(self, hash, password):  # noqa: A002
        if password.startswith("rossz-"):
            with self._count:
                self.evaluated += 1
            self._loop.call_soon_threadsafe(self.entered.set)
            self.gate.wait(20)
        return super().verify(hash, password)


async def held_at_the_gate(env, hasher: GateAtWrongPasswords, update_ids: list[int]) -> None:
    """Wait until every update has either reached the gated check or been answered."""
    done = [asyncio.ensure_future(env.processed(u)) for u in update_ids]
    async with asyncio.timeout(30):
        while hasher.evaluated + sum(t.done() for t in done) < len(update_ids):
            hasher.entered.clear()
            entered = asyncio.ensure_future(hasher.entered.wait())
            await asyncio.wait(
                [*[t for t in done if not t.done()], entered], return_when="FIRST_COMPLETED"
            )
            entered.cancel()
    hasher.gate.set()
    await asyncio.gather(*done)


def wide_thread_pool() -> None:
    """Enough worker threads that 50 verifications can wait at the gate side by side (as
    many as a machine with many cores would run at once)."""
    asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(max_workers=64))
    passwords.use_threads(64)  # Argon2id has threads of its own


async def guess_login(person, username: str, password: str) -> str:
    """One login attempt; back out of the dialogue if it asks again. Returns the answer."""
    await person.command("belepes")
    await person.say(username)
    answer = person.texts(await person.say(password))
    if label("cancel") in person.keyboard:
        await person.press("cancel")
    return answer


async def audited(env, action: str, actor: str | None = None) -> int:
    return await env.db.fetch_value(
        "SELECT count(*) FROM audit_log WHERE action = ? AND (? IS NULL OR actor = ?)",
        (action, actor, actor),
    )


# --- 1. races: concurrency buys no extra guess ------------------------------------------


async def test_fifty_users_guessing_one_password_at_once_get_only_the_limit_evaluated(bot_env):
    owner = await active_customer(bot_env, "U0030", "celpont")
    await owner.press("logout")
    wide_thread_pool()
    hasher = GateAtWrongPasswords(asyncio.get_running_loop())
    passwords.use_hasher(hasher)
    attackers = [bot_env.customer(f"Támadó {i}") for i in range(50)]

    async def to_the_password_question(person):
        await person.command("belepes")
        await person.say("celpont")

    for attacker in attackers:  # one after the other: quicker than side by side
        await to_the_password_question(attacker)
    sent = [a.user.send_text(f"rossz-jelszo-{i}") for i, a in enumerate(attackers)]
    await held_at_the_gate(bot_env, hasher, sent)

    assert hasher.evaluated <= LOGIN_PER_ACCOUNT  # strangers together, an hour (was 50 at once)
    assert all(LOCKED in a.last for a in attackers)  # now everyone else waits for the hour
    assert await audited(bot_env, "login_failed") == hasher.evaluated
    # The owner, who logged in before, is not locked out by the crowd.
    assert "Sikeres belépés" in owner.texts(await owner.login("celpont", PASSWORD))
    passwords.use_threads()


async def test_fifty_users_besieging_one_customer_id_get_one_guess_each_not_the_owners_door(
    bot_env,
):
    proof = await proof_for(bot_env.db, "U0031")
    attackers = [bot_env.customer(f"Támadó {i}") for i in range(50)]

    async def to_the_summary(i: int, person):
        await person.command("regisztracio")
        amount = str(int(proof["amount"]) + 1 + i)  # every one a different wrong guess
        for answer in (
            f"t{i}@example.hu",
            f"tamado{i}",
            PASSWORD,
            PASSWORD,
            "U0031",
            proof["invoice"],
        ):
            await person.say(answer)
        await person.say(amount)
        return person.user.last_reply

    async def all_at_once(presses) -> None:
        await asyncio.gather(*(bot_env.processed(u) for u in presses))

    summaries = [await to_the_summary(i, a) for i, a in enumerate(attackers)]
    await all_at_once(
        a.user.press_inline(s.message_id, label("confirm"))
        for a, s in zip(attackers, summaries, strict=True)
    )
    # Every newcomer's first guess is evaluated (that is what lets the owner in), one each.
    assert await audited(bot_env, "registration_proof_failed") == len(attackers)
    # An hour later they all guess again at once: the customer ID is under siege, and each
    # has had their guess of the day (was: 10 an hour, every hour).
    bot_env.clock.advance(3600)
    await all_at_once(
        a.user.press_inline(s.message_id, label("confirm"))
        for a, s in zip(attackers, summaries, strict=True)
    )
    assert await audited(bot_env, "registration_proof_failed") == len(attackers)
    assert all(BESIEGED in a.last and "óra múlva" in a.last for a in attackers)
    # The owner, registering for the first time with the paper invoice, is not locked out.
    owner = bot_env.customer("Tulajdonos")
    replies = await owner.register(
        email_address="tulaj31@example.hu", username="tulaj31", password=PASSWORD, **proof
    )
    assert "Köszönjük a regisztrációt" in owner.texts(replies)


# --- 2. a success forgives only its own target ---------------------------------------------


async def test_logging_in_to_ones_own_account_does_not_reset_the_count_against_others(bot_env):
    attacker = await active_customer(bot_env, "U0032", "sajat32")
    victim = await active_customer(bot_env, "U0033", "aldozat33")
    await victim.press("logout")
    answers = []
    for guess in range(LOGIN_PER_USER + 1):
        await attacker.press("logout")
        target = "aldozat33" if guess < 4 else f"ismeretlen{guess}"  # 4 < the pair's limit
        answers.append(await guess_login(attacker, target, f"rossz-jelszo-{guess}"))
        # Their own account stays open to them (and used to forgive everything).
        assert "Sikeres belépés" in attacker.texts(await attacker.login("sajat32", PASSWORD))
    evaluated = await audited(bot_env, "login_failed", f"tg:{attacker.id}")
    assert evaluated == LOGIN_PER_USER  # an hour, whatever succeeds between (was unlimited)
    assert all("nem megfelelő" in a for a in answers[: LOGIN_PER_USER - 1])
    assert all(LOCKED in a for a in answers[LOGIN_PER_USER - 1 :])
    # The victim was never locked out by it.
    assert "Sikeres belépés" in victim.texts(await victim.login("aldozat33", PASSWORD))


async def test_registering_ones_own_customer_does_not_reset_the_count_against_others(bot_env):
    attacker = bot_env.customer("Támadó")
    own = await proof_for(bot_env.db, "U0001")
    answers = []
    for guess in range(PROOF_PER_USER + 1):
        target = await proof_for(bot_env.db, f"U000{2 + guess}")
        wrong = dict(target, amount=str(int(target["amount"]) + 1))
        replies = await attacker.register(
            email_address="t@example.hu", username=f"tamado{guess}", password=PASSWORD, **wrong
        )
        answers.append(attacker.texts(replies))
        await attacker.press("cancel")
        done = await attacker.register(
            email_address="t@example.hu", username=f"sajat{guess}", password=PASSWORD, **own
        )
        assert "Köszönjük a regisztrációt" in attacker.texts(done)
    evaluated = await audited(bot_env, "registration_proof_failed", f"tg:{attacker.id}")
    assert evaluated == PROOF_PER_USER  # an hour (was 75 in 5 minutes)
    assert all(LOCKED in a for a in answers[PROOF_PER_USER - 1 :])
    # None of the customers guessed at is locked out of registering.
    owner = bot_env.customer("Tulajdonos")
    proof = await proof_for(bot_env.db, "U0002")
    replies = await owner.register(
        email_address="o@example.hu", username="tulaj02", password=PASSWORD, **proof
    )
    assert "Köszönjük a regisztrációt" in owner.texts(replies)


# --- 3. the guesser is stopped, the owner is not ----------------------------------------------


async def test_strangers_wrong_logins_never_lock_out_an_owner_who_logged_in_before(bot_env):
    owner = await active_customer(bot_env, "U0040", "tulaj40")
    await owner.press("logout")
    stranger = bot_env.customer("Idegen")
    answers = [await guess_login(stranger, "tulaj40", f"rossz-jelszo-{g}") for g in range(5)]
    assert LOCKED in answers[-1]
    assert "Sikeres belépés" in owner.texts(await owner.login("tulaj40", PASSWORD))
    await owner.press("logout")
    # A crowd of strangers, one guess each: the account is closed to strangers for the hour ...
    crowd = [bot_env.customer(f"Idegen {i}") for i in range(LOGIN_PER_ACCOUNT)]
    for i, person in enumerate(crowd):
        await guess_login(person, "tulaj40", f"rossz-jelszo-{i}")
    newcomer = bot_env.customer("Új eszköz")
    assert LOCKED in newcomer.texts(await newcomer.login("tulaj40", PASSWORD))
    # ... but not to its owner, and a new device of the owner gets in with a reset code.
    assert "Sikeres belépés" in owner.texts(await owner.login("tulaj40", PASSWORD))
    await newcomer.press("forgot")
    await newcomer.say("tulaj40")
    _, link = await bot_env.code_mailed_to("tulaj40@example.hu")
    await newcomer.open_link(link)
    await newcomer.say("Uj-Jelszo-2026")
    assert "beállítottuk" in newcomer.texts(await newcomer.say("Uj-Jelszo-2026"))
    assert "Sikeres belépés" in newcomer.texts(await newcomer.login("tulaj40", "Uj-Jelszo-2026"))


async def guess_amount_again(person, amount: str) -> str:
    """At a refused summary: correct the amount and send it again. Returns the answer."""
    await person.press("correct")
    await person.press("field_amount")
    await person.say(amount)
    return person.texts(await person.press("confirm"))


async def test_a_strangers_wrong_proofs_do_not_lock_the_customer_out_of_registering(bot_env):
    proof = await proof_for(bot_env.db, "U0009")
    customer = bot_env.customer("Ügyfél")
    # The customer registered once (say with a mistyped address) and will register again.
    await customer.register(
        email_address="elirt@example.hu", username="ugyfel09", password=PASSWORD, **proof
    )

    async def guess(i: int, stranger) -> str:
        wrong = dict(proof, amount=str(int(proof["amount"]) + 100 * i + 1))
        await stranger.register(
            email_address="x@example.hu", username=f"idegen{i}", password=PASSWORD, **wrong
        )
        for g in range(2, PROOF_PER_USER + 1):
            answer = await guess_amount_again(stranger, str(int(proof["amount"]) + 100 * i + g))
        return answer

    strangers = [bot_env.customer(f"Idegen {i}") for i in range(2)]
    answers = [await guess(i, s) for i, s in enumerate(strangers)]
    # The first is stopped for the hour; the second's last guess, the tenth against the
    # customer ID, puts it under siege: one guess a day for each stranger from then on.
    assert LOCKED in answers[0] and BESIEGED in answers[1]
    replies = await customer.register(
        email_address="ugyfel@example.hu", username="ugyfel09b", password=PASSWORD, **proof
    )
    assert "Köszönjük a regisztrációt" in customer.texts(replies)


# --- 4. nothing tells who has an account ------------------------------------------------


async def test_step_two_of_registration_tells_nothing_about_taken_names(bot_env):
    await active_customer(bot_env, "U0010", "foglalt42")
    prober = bot_env.customer("Kíváncsi")
    await prober.command("start")
    await prober.press("register")
    await prober.say("k@example.hu")
    taken = prober.texts(await prober.say("foglalt42"))
    await prober.press("cancel")
    await prober.press("register")
    await prober.say("k@example.hu")
    free = prober.texts(await prober.say("szabad42"))
    assert taken == free and "3/6" in taken


async def test_whether_a_name_is_taken_is_told_ten_times_an_hour_at_most(bot_env):
    await active_customer(bot_env, "U0011", "foglalt43")
    prober = bot_env.customer("Kíváncsi")
    proof = await proof_for(bot_env.db, "U0012")
    replies = await prober.register(
        email_address="k@example.hu", username="foglalt43", password=PASSWORD, **proof
    )
    answers = [prober.texts(replies)]
    for _ in range(NAME_LOOKUPS_PER_USER):
        await prober.say("FOGLALT43")  # the name "corrected", back at the summary
        answers.append(prober.texts(await prober.press("confirm")))
    assert all("foglalt" in a for a in answers[:NAME_LOOKUPS_PER_USER])
    assert LOCKED in answers[NAME_LOOKUPS_PER_USER]


async def test_a_forgotten_password_answers_known_and_unknown_names_alike(bot_env):
    await active_customer(bot_env, "U0013", "ismert45")
    asker = bot_env.customer("Kérdező")
    await asker.command("start")
    answers = {}
    for who in ("ismert45", "nincs-ilyen", "ismert45@example.hu", "nincs@example.hu"):
        await asker.press("forgot")
        answers[who] = asker.texts(await asker.say(who))
        await asker.press("cancel")
    assert len(set(answers.values())) == 1
    assert len(await bot_env.mails_to("ismert45@example.hu")) == 3  # activation + 2 resets
    # Throttled per Telegram user, whoever is named.
    assert len(answers) == CODE_REQUESTS_PER_USER - 1
    await asker.press("forgot")
    await asker.say("nincs-ilyen")
    await asker.press("cancel")
    await asker.press("forgot")
    assert LOCKED in asker.texts(await asker.say("ismert45"))
    assert len(await bot_env.mails_to("ismert45@example.hu")) == 3


async def test_a_new_code_by_address_answers_known_and_unknown_addresses_alike(bot_env):
    pending = bot_env.customer("Függő")
    proof = await proof_for(bot_env.db, "U0014")
    await pending.register(
        email_address="fuggo@example.hu", username="fuggo46", password=PASSWORD, **proof
    )
    asker = bot_env.customer("Kérdező")
    await asker.command("start")
    answers = []
    for address in ("fuggo@example.hu", "senki@example.hu"):
        await asker.press("activate")
        await asker.press("resend")
        texts = asker.texts(await asker.say(address))
        answers.append(texts.replace(address, "<cím>"))
        await asker.press("cancel")
    assert answers[0] == answers[1]
    assert len(await bot_env.mails_to("fuggo@example.hu")) == 2  # registration + the new code
    # Throttled per Telegram user, whichever address is named.
    more = [f"senki{i}@example.hu" for i in range(CODE_REQUESTS_PER_USER - len(answers) + 1)]
    for address in more:
        await asker.press("activate")
        await asker.press("resend")
        texts = asker.texts(await asker.say(address))
        if LOCKED not in texts:
            await asker.press("cancel")
    assert LOCKED in texts and address == more[-1]


def _shape(statement: str) -> str:
    """A traced statement without its values (SQLite expands the bound parameters)."""
    statement = re.sub(r"'(?:[^']|'')*'|X'[0-9A-Fa-f]*'", "?", statement)
    return re.sub(r"\b\d+(?:\.\d+)?(?:e[+-]?\d+)?\b", "?", statement)


async def _statements_of_one_request(env, ask) -> list[str]:
    """The statements of the request's transaction, as shapes."""
    traced: list[str] = []
    await env.db.conn.set_trace_callback(traced.append)
    try:
        await ask()
    finally:
        await env.db.conn.set_trace_callback(None)
    begin = traced.index("BEGIN IMMEDIATE")
    return [_shape(s) for s in traced[begin : traced.index("COMMIT", begin) + 1]]


async def test_a_code_request_does_the_same_work_for_a_known_and_an_unknown_name(
    bot_env, monkeypatch
):
    await active_customer(bot_env, "U0015", "ismert47")
    services = bot_env.application.services
    composed: list[str] = []
    real_queue = account_codes.queue_code_mail

    async def composing(db, settings, **mail):
        composed.append(mail["to"])
        return await real_queue(db, settings, **mail)

    monkeypatch.setattr(account_codes, "queue_code_mail", composing)

    def asking(who: str, user: int):
        return lambda: accounts.request_reset_code(
            bot_env.db,
            who,
            telegram_user_id=user,
            policy=services.policy,
            mailer=services.mailer,
            now=bot_env.clock(),
        )

    known = await _statements_of_one_request(bot_env, asking("ismert47", 1))
    unknown = await _statements_of_one_request(bot_env, asking("ismeretlen47", 2))
    # Both compose a whole code mail; the unknown one's is dropped instead of stored.
    assert len(composed) == 2 and composed[0] == "ismert47@example.hu"
    # The same statements, but the writes that store the code and queue its mail.
    extra = list(known)
    for statement in unknown:
        extra.remove(statement)
    assert extra and all(
        re.match(r"(INSERT INTO|DELETE FROM) (account_codes|outbox)\b", s) for s in extra
    )


# --- 12. names that look like someone else's -----------------------------------------------


async def test_invisible_and_look_alike_user_names_are_refused_with_an_example(bot_env):
    eva = bot_env.customer()
    await eva.command("start")
    await eva.press("register")
    await eva.say("eva@example.hu")
    invisible = eva.texts(await eva.say("\u3164\u3164\u3164"))  # three Hangul fillers
    assert "láthatatlan" in invisible and "kovacs.eva" in invisible
    assert "láthatatlan" in eva.texts(await eva.say("eva\u200b.k"))  # a zero-width space
    mixed = eva.texts(await eva.say("\u0430dmin"))  # a Cyrillic a (U+0430), then Latin letters
    assert "ábécé" in mixed and "kovacs.eva" in mixed
    assert "3/6" in eva.texts(await eva.say("Kovács.Éva_Őrző"))  # Hungarian letters are Latin


async def test_a_fullwidth_name_is_the_same_name_and_old_names_keep_working(bot_env):
    await active_customer(bot_env, "U0016", "eva48")
    twin = bot_env.customer("Iker")
    proof = await proof_for(bot_env.db, "U0017")
    replies = await twin.register(
        email_address="iker@example.hu",
        username="\uff45\uff56\uff41\uff14\uff18",  # fullwidth "eva48"
        password=PASSWORD,
        **proof,
    )
    assert "foglalt" in twin.texts(replies)
    # The owner may type it either way.
    owner = bot_env.customer("Éva")
    fullwidth = "\uff25\uff36\uff21\uff14\uff18"
    assert "Sikeres belépés" in owner.texts(await owner.login(fullwidth, PASSWORD))
    # A name kept by the old rules (fullwidth, key only casefolded) still logs in.
    await active_customer(bot_env, "U0018", "regi50")
    old_name = "\uff52\uff45\uff47\uff49\uff15\uff10"
    await bot_env.db.execute(
        "UPDATE portal_accounts SET username = ?, username_key = ? WHERE customer_id = 'U0018'",
        (old_name, old_name.casefold()),
    )
    person = bot_env.customer()
    assert "Sikeres belépés" in person.texts(await person.login(old_name, PASSWORD))

"""A customer's message survives kill -9: kept before Telegram forgets it, answered once.

The bot runs as the operator runs it (`run_bot.py run`, or the same service behind a
webhook) in a process of its own, against the Bot API emulator of this test process. The
emulator holds the bot's answer to the customer (a gate), so the bot is killed with
SIGKILL at a known point: after it fetched the message, before the customer saw an
answer; or right after the answer, before the bot could note it. Then it is started again.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from botapi_emulator import BotApiEmulator, ChatMessage, Gate, SimulatedUser
from conversations.common import label
from core import updates
from core.billing_import import import_folder
from core.config import Settings
from core.db import Database, open_database, open_state_database
from service import WebhookOptions, run_service
from tests.botkit import BOT_USERNAME, TOKEN, proof_for
from tests.test_run import ROOT, free_port, service_env

PASSWORD = "Tavaszi-Szel-42"
ANSWER_TIMEOUT = 20.0  # a restart included: a fresh Python with python-telegram-bot

# The webhook variant: the same service as `run --webhook-url`, over plain http on loopback
# (the command line insists on https, which the emulator does not speak).
WEBHOOK_MAIN = """
import asyncio, logging, os, sys
from core.config import Settings
from service import WebhookOptions, run_service
logging.basicConfig(level=logging.INFO, stream=sys.stderr)
port = int(os.environ["TEST_WEBHOOK_PORT"])
hook = WebhookOptions(url=f"http://127.0.0.1:{port}/telegram", port=port)
asyncio.run(run_service(Settings(dict(os.environ)), webhook=hook))
"""


@dataclass
class BotProcess:
    """The service in a process of its own, started, killed and started again by the test."""

    tmp: Path
    emulator: BotApiEmulator
    webhook_port: int | None = None
    settings: dict[str, str] = field(default_factory=dict)  # more PETKOMM_ settings
    process: asyncio.subprocess.Process | None = None
    runs: int = 0
    logs: list[Path] = field(default_factory=list)

    @property
    def db_path(self) -> Path:
        return self.tmp / "run.sqlite3"

    @property
    def state_path(self) -> Path:
        """The bot's own file, beside the main one: the updates and dialogue states."""
        return self.tmp / "run-state.sqlite3"

    async def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PETKOMM_", "TELEGRAM_"))}
        env.update(service_env(self.tmp, self.emulator), PYTHONPATH=str(ROOT))
        env.update(self.settings)
        if self.webhook_port is None:
            command = [str(ROOT / "run_bot.py"), "run"]
        else:
            command = ["-c", WEBHOOK_MAIN]
            env["TEST_WEBHOOK_PORT"] = str(self.webhook_port)
        self.runs += 1
        log = self.tmp / f"run-{self.runs}.log"
        self.logs.append(log)
        with log.open("wb") as sink:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, *command, env=env, cwd=self.tmp, stdout=sink, stderr=sink
            )

    async def kill(self) -> None:
        """kill -9: no handler runs, nothing is flushed."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        await asyncio.wait_for(self.process.wait(), timeout=30)
        self.process = None

    async def stop(self) -> None:
        """SIGTERM: a clean stop."""
        if self.process is None:
            return
        self.process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(self.process.wait(), timeout=30)
        self.process = None
        assert code == 0, self.log_text()

    def log_text(self) -> str:
        return "\n".join(log.read_text(errors="replace") for log in self.logs if log.exists())


@pytest.fixture
async def emulator() -> AsyncIterator[BotApiEmulator]:
    async with BotApiEmulator(token=TOKEN, bot_username=BOT_USERNAME) as emu:
        yield emu


@pytest.fixture
async def proof(tmp_path, demo_folder) -> dict[str, str]:
    """The bot's database with the billing data imported; a registration proof for U0005."""
    folder, _summary = demo_folder
    db = await open_database(tmp_path / "run.sqlite3")
    try:
        await import_folder(db, folder)
        return await proof_for(db, "U0005")
    finally:
        await db.close()


@pytest.fixture
async def state_db(tmp_path) -> AsyncIterator[Database]:
    """The bot's own state file, freshly migrated."""
    database = await open_state_database(tmp_path / "petkomm-state.sqlite3")
    yield database
    await database.close()


@pytest.fixture
async def bot(tmp_path, emulator) -> AsyncIterator[BotProcess]:
    running = BotProcess(tmp_path, emulator)
    try:
        yield running
    finally:
        if running.process is not None:
            await running.kill()


def answers_to(emulator: BotApiEmulator, user: SimulatedUser, *, after: bool = False) -> Gate:
    """Hold the bot's messages to this customer: on their way (the bot is mid-answer), or
    with `after` once the customer has them (the bot has not heard that they went)."""
    return emulator.hold(
        "sendMessage", where=lambda p: p.get("chat_id") == user.user_id, after=after
    )


def replies_after(user: SimulatedUser, seen: int) -> list[ChatMessage]:
    return [m for m in user.messages if m.from_bot and m.message_id > seen]


def newest_id(user: SimulatedUser) -> int:
    return max((m.message_id for m in user.messages), default=0)


async def wait_replies(
    emulator: BotApiEmulator, user: SimulatedUser, seen: int, needles: tuple[str, ...]
) -> list[ChatMessage]:
    """The bot's messages since `seen`, once one has come for each needle, in order."""

    def arrived() -> list[ChatMessage] | None:
        replies = replies_after(user, seen)
        texts = iter(m.text or "" for m in replies)
        return replies if all(any(n in t for t in texts) for n in needles) else None

    return await emulator.wait_for(arrived, timeout=ANSWER_TIMEOUT, what=f"answers {needles}")


async def killed_mid_answer(
    bot: BotProcess, user: SimulatedUser, send: Callable[[], int | None]
) -> None:
    """Send, let the bot fetch and start answering, kill it there, start it again."""
    gate = answers_to(bot.emulator, user)
    send()
    await bot.emulator.wait_for(lambda: gate.held, timeout=ANSWER_TIMEOUT, what="the answer")
    await bot.kill()
    await until(lambda: gate.hung_up, "the emulator to see the bot gone")
    gate.release()  # the held answer is dropped: the customer never got it
    await bot.start()


def done_in_store(db_path: Path, update_id: int) -> bool:
    """Whether the bot's store marks this update done (read as a second process would)."""
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as conn:
        row = conn.execute(
            "SELECT status FROM telegram_updates WHERE update_id = ?", (update_id,)
        ).fetchone()
    return row is not None and row[0] == "done"


async def until(predicate: Callable[[], bool], what: str, timeout: float = 15.0) -> None:  # noqa: ASYNC109
    """Poll a condition nobody announces (another process's database, a closed socket)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


# --- polling ------------------------------------------------------------------------------


async def test_a_bot_killed_while_answering_loses_no_message_and_answers_each_once(
    emulator, bot, proof
):
    eva = emulator.private_user(7101, "Éva")
    steps: list[tuple[bool, Callable[[], int | None], tuple[str, ...]]] = [
        # (killed while answering?, what Éva does, what she must read once)
        (False, lambda: eva.send_command("start"), ("PÉTKOMM",)),
        (True, lambda: eva.press(label("register")), ("Hat adatot kérünk",)),  # with 1/6.
        (True, lambda: eva.send_text("eva@example.hu"), ("2/6.",)),
        (False, lambda: eva.send_text("kovacs.eva"), ("3/6.",)),
        (True, lambda: eva.send_text(PASSWORD), ("még egyszer",)),  # asked twice (issue 11)
        (True, lambda: eva.send_text(PASSWORD), ("4/6.",)),
        (False, lambda: eva.send_text(proof["customer_id"]), ("5/6.",)),
        (True, lambda: eva.send_text(proof["invoice"]), ("6/6.",)),
        (False, lambda: eva.send_text(proof["amount"]), ("Kérjük, ellenőrizze",)),
        (
            True,
            lambda: eva.press_inline(eva.last_reply.message_id, label("confirm")),
            ("Köszönjük a regisztrációt",),
        ),
    ]
    await bot.start()
    lost: list[str] = []  # killed mid-answer, and no answer ever came
    wrong: list[str] = []  # answered, but not as the dialogue should go on (or cannot go on)
    transcript: list[tuple[str, ...]] = []
    for killed, send, needles in steps:
        seen = newest_id(eva)
        try:
            if killed:
                await killed_mid_answer(bot, eva, send)
            else:
                send()
            await wait_replies(emulator, eva, seen, needles)
        except LookupError:  # the button to press is not there: the dialogue broke earlier
            wrong.append(needles[0])
        except TimeoutError:
            (wrong if replies_after(eva, seen) else lost).append(needles[0])
        else:
            transcript.append(needles)
    await bot.stop()

    kills = sum(1 for killed, _, _ in steps if killed)
    assert (lost, wrong) == ([], []), (
        f"{len(lost)} of {kills} messages killed mid-answer were lost: {lost};"
        f" answered wrongly or not at all: {wrong}"
    )
    # Each message answered exactly once, in order: no answer twice, none missing.
    expected = [n for needles in transcript for n in needles]
    got = [m.text or "" for m in eva.replies]
    assert len(got) == len(expected), got
    assert all(n in text for n, text in zip(expected, got, strict=True)), got
    password = next(m for m in eva.messages if m.text == PASSWORD)
    assert password.deleted  # deleted by the run that was killed, the retry let it be
    log = bot.log_text()
    assert "Traceback" not in log
    assert PASSWORD not in log
    # Nothing a customer typed stays in the store once handled (the password was in one),
    # not even in the file's free space.
    with sqlite3.connect(bot.state_path) as conn:
        rows = conn.execute("SELECT status, payload FROM telegram_updates").fetchall()
    assert rows and all(status == "done" and payload is None for status, payload in rows)
    assert PASSWORD.encode() not in bot.state_path.read_bytes()
    assert PASSWORD.encode() not in bot.db_path.read_bytes()


async def test_a_bot_killed_right_after_answering_keeps_the_dialogue_where_it_was(emulator, bot):
    eva = emulator.private_user(7102, "Éva")
    await bot.start()
    eva.send_command("start")
    await wait_replies(emulator, eva, 0, ("PÉTKOMM",))
    for send, needle in (
        (lambda: eva.press(label("register")), "1/6."),
        (lambda: eva.send_text("eva@example.hu"), "2/6."),
    ):
        seen = newest_id(eva)
        send()
        await wait_replies(emulator, eva, seen, (needle,))
    # The user name is answered (Éva reads "3/6."), and the bot dies before it notes that.
    gate = answers_to(emulator, eva, after=True)
    seen = newest_id(eva)
    eva.send_text("kovacs.eva")
    await emulator.wait_for(lambda: gate.held, timeout=ANSWER_TIMEOUT, what="the answer")
    assert "3/6." in (eva.last_reply.text or "")
    await bot.kill()
    gate.release()
    await bot.start()
    # The message is handled again (the one repeat a crash here can cost: the question),
    # and Éva's next answer is taken for what it is, the password.
    await wait_replies(emulator, eva, seen, ("3/6.", "3/6."))
    seen = newest_id(eva)
    eva.send_text(PASSWORD)
    await wait_replies(emulator, eva, seen, ("még egyszer",))  # asked twice (issue 11)
    seen = newest_id(eva)
    eva.send_text(PASSWORD)
    replies = await wait_replies(emulator, eva, seen, ("4/6.",))
    await bot.stop()
    assert [m.text for m in replies if "4/6." in (m.text or "")] and len(replies) == 1
    assert not any(PASSWORD in (m.text or "") for m in eva.replies)


async def test_a_bot_killed_after_noting_an_answer_does_not_answer_it_again(emulator, bot):
    eva = emulator.private_user(7103, "Éva")
    await bot.start()
    eva.send_command("start")
    await wait_replies(emulator, eva, 0, ("PÉTKOMM",))
    # The bot handles the press and notes it done, but Telegram never hears that it has it
    # (the getUpdates after it is held): after the restart Telegram sends it again.
    pressed: list[int] = []
    gate = emulator.hold(
        "getUpdates", where=lambda p: bool(pressed) and (p.get("offset") or 0) > pressed[0]
    )
    seen = newest_id(eva)
    update_id = eva.press(label("register"))
    assert update_id is not None
    pressed.append(update_id)
    await wait_replies(emulator, eva, seen, ("1/6.",))
    await until(lambda: done_in_store(bot.state_path, update_id), "the update to be done")
    await bot.kill()
    await until(lambda: gate.hung_up, "the emulator to see the bot gone")
    gate.release()  # the held getUpdates is dropped: Telegram still has the update
    assert [u["update_id"] for u in emulator.pending_updates] == [update_id]
    await bot.start()
    seen_after = newest_id(eva)
    eva.send_text("eva@example.hu")
    await wait_replies(emulator, eva, seen_after, ("2/6.",))
    await bot.stop()
    texts = [m.text or "" for m in replies_after(eva, seen)]
    assert sum("1/6." in t for t in texts) == 1, texts  # answered once, not again
    assert emulator.delivered(update_id) and emulator.pending_updates == []


async def test_a_message_no_run_survives_is_set_aside_and_the_customer_told(emulator, bot):
    eva = emulator.private_user(7105, "Éva")
    await bot.start()
    eva.send_command("start")
    await wait_replies(emulator, eva, 0, ("PÉTKOMM",))
    seen = newest_id(eva)
    # The same message kills the bot three times over (MAX_ATTEMPTS).
    gate = answers_to(emulator, eva)
    eva.press(label("register"))
    for run in range(updates.MAX_ATTEMPTS):
        await emulator.wait_for(
            lambda run=run: gate.arrived > run, timeout=ANSWER_TIMEOUT, what="the answer"
        )
        await bot.kill()
        await until(lambda run=run: gate.hung_up > run, "the emulator to see the bot gone")
        if run == updates.MAX_ATTEMPTS - 1:
            gate.release()
        await bot.start()
    replies = await wait_replies(emulator, eva, seen, ("váratlan hiba",))
    assert len(replies) == 1  # told once; the message is not tried a fourth time
    seen = newest_id(eva)
    eva.press(label("register"))  # and nothing is stuck: she tries again
    await wait_replies(emulator, eva, seen, ("1/6.",))
    await bot.stop()
    assert "set aside" in bot.log_text()
    with sqlite3.connect(bot.state_path) as conn:
        status, payload = conn.execute(
            "SELECT status, payload FROM telegram_updates ORDER BY id LIMIT 1 OFFSET 1"
        ).fetchone()
    assert (status, payload) == ("failed", None)


async def test_a_bot_killed_after_writing_a_registration_and_a_report_makes_each_once(
    emulator, bot, proof
):
    # Killed after the effect committed (the account and its code mail, the ticket and its
    # staff announcement), before the message was noted handled: the next start handles
    # it again, and must find what it did instead of doing it twice.
    staff_chat = emulator.group(-1001987654321, "PÉTKOMM ügyfélszolgálat")
    bot.settings = {"PETKOMM_STAFF_CHAT_ID": str(staff_chat.chat_id)}
    eva = emulator.private_user(7106, "Éva")
    await bot.start()
    for send, needle in (
        (lambda: eva.send_command("start"), "PÉTKOMM"),
        (lambda: eva.press(label("register")), "1/6."),
        (lambda: eva.send_text("eva@example.hu"), "2/6."),
        (lambda: eva.send_text("kovacs.eva"), "3/6."),
        (lambda: eva.send_text(PASSWORD), "még egyszer"),  # asked twice (issue 11)
        (lambda: eva.send_text(PASSWORD), "4/6."),
        (lambda: eva.send_text(proof["customer_id"]), "5/6."),
        (lambda: eva.send_text(proof["invoice"]), "6/6."),
        (lambda: eva.send_text(proof["amount"]), "Kérjük, ellenőrizze"),
    ):
        seen = newest_id(eva)
        send()
        await wait_replies(emulator, eva, seen, (needle,))
    seen = newest_id(eva)
    await killed_mid_answer(
        bot, eva, lambda: eva.press_inline(eva.last_reply.message_id, label("confirm"))
    )
    await wait_replies(emulator, eva, seen, ("Köszönjük a regisztrációt",))
    seen = newest_id(eva)
    eva.press(label("report"))
    await wait_replies(emulator, eva, seen, ("Hibabejelentés",))
    # The staff chat's post is held too: the killed run's announcement never arrives.
    announcements = emulator.hold(
        "sendMessage", where=lambda p: p.get("chat_id") == staff_chat.chat_id
    )
    seen = newest_id(eva)
    await killed_mid_answer(bot, eva, lambda: eva.send_text("Nem jön víz a csapból."))
    announcements.release()
    await wait_replies(emulator, eva, seen, ("rögzítettük",))
    await emulator.wait_for(
        lambda: any("Új bejelentés" in (m.text or "") for m in staff_chat.messages),
        timeout=ANSWER_TIMEOUT,
        what="the staff announcement",
    )
    await bot.stop()

    texts = [m.text or "" for m in eva.replies]
    with sqlite3.connect(bot.db_path) as conn:
        tickets = conn.execute("SELECT count(*) FROM tickets").fetchone()[0]
        code_mails = conn.execute(
            "SELECT count(*) FROM outbox WHERE kind = 'activation' AND recipient = ?",
            ("eva@example.hu",),
        ).fetchone()[0]
    made = {
        "tickets": tickets,
        "staff announcements": sum("Új bejelentés" in (m.text or "") for m in staff_chat.messages),
        "answers with a ticket number": sum("rögzítettük" in t for t in texts),
        "activation mails": code_mails,
        "registration answers": sum("Köszönjük a regisztrációt" in t for t in texts),
    }
    assert made == dict.fromkeys(made, 1), made
    assert "PK-000001" in next(t for t in texts if "rögzítettük" in t)
    assert "Traceback" not in bot.log_text()


# --- webhook ------------------------------------------------------------------------------


async def test_the_webhook_answers_only_once_the_update_is_stored_and_a_kill_loses_nothing(
    tmp_path, emulator
):
    bot = BotProcess(tmp_path, emulator, webhook_port=free_port())
    stored_when_answered: dict[int, bool] = {}

    def on_answered(update: dict) -> None:
        # The moment the bot's 200 arrives: is the update in its database already?
        try:
            with sqlite3.connect(f"file:{bot.state_path}?mode=ro", uri=True) as conn:
                row = conn.execute(
                    "SELECT 1 FROM telegram_updates WHERE update_id = ?", (update["update_id"],)
                ).fetchone()
        except sqlite3.OperationalError:  # no such table (or file): not stored
            row = None
        stored_when_answered[update["update_id"]] = row is not None

    emulator.add_webhook_listener(on_answered)
    eva = emulator.private_user(7104, "Éva")
    try:
        await bot.start()
        await emulator.wait_for(lambda: emulator.webhook_url, timeout=ANSWER_TIMEOUT)
        eva.send_command("start")
        await wait_replies(emulator, eva, 0, ("PÉTKOMM",))
        seen = newest_id(eva)
        await killed_mid_answer(bot, eva, lambda: eva.press(label("register")))
        await wait_replies(emulator, eva, seen, ("Hat adatot kérünk",))  # with 1/6.
        seen = newest_id(eva)
        eva.send_text("eva@example.hu")
        await wait_replies(emulator, eva, seen, ("2/6.",))
        await bot.stop()
    finally:
        if bot.process is not None:
            await bot.kill()
    assert len(stored_when_answered) == 3
    assert all(stored_when_answered.values()), stored_when_answered
    texts = [m.text or "" for m in eva.replies]
    assert sum("1/6." in t for t in texts) == 1 and sum("2/6." in t for t in texts) == 1, texts


async def test_the_webhook_refuses_what_is_not_telegrams_and_stores_nothing_of_it(
    tmp_path, emulator
):
    port = free_port()
    stop = asyncio.Event()
    settings = Settings(service_env(tmp_path, emulator))
    hook = WebhookOptions(url=f"http://127.0.0.1:{port}/telegram", port=port, secret_token="t-1")
    service = asyncio.create_task(run_service(settings, webhook=hook, stop=stop))
    url = f"http://127.0.0.1:{port}/telegram"
    secret = {"X-Telegram-Bot-Api-Secret-Token": "t-1"}
    try:
        await emulator.wait_for(lambda: emulator.webhook_url, timeout=ANSWER_TIMEOUT)
        async with httpx.AsyncClient() as client:
            forged = await client.post(url, json={"update_id": 41})
            wrong = await client.post(
                url,
                json={"update_id": 42},
                headers={**secret, "X-Telegram-Bot-Api-Secret-Token": "x"},
            )
            garbage = await client.post(url, content=b"\xff{", headers=secret)
            no_id = await client.post(url, json={"message": {}}, headers=secret)
            real = await client.post(url, json={"update_id": 43}, headers=secret)
        await until(
            lambda: done_in_store(tmp_path / "run-state.sqlite3", 43), "update 43 to be done"
        )
    finally:
        stop.set()
        await asyncio.wait_for(service, timeout=30)
    assert [r.status_code for r in (forged, wrong, garbage, no_id, real)] == [
        403,
        403,
        400,
        400,
        200,
    ]
    with sqlite3.connect(tmp_path / "run-state.sqlite3") as conn:
        stored = [row[0] for row in conn.execute("SELECT update_id FROM telegram_updates")]
    assert stored == [43]


async def test_an_update_sent_twice_is_kept_once_and_forgotten_two_days_after_it_was_handled(
    state_db,
):
    db = state_db  # the bot's own file keeps the updates
    now = 1_800_000_000.0
    assert await updates.store(db, [(7, '{"update_id": 7}'), (8, '{"update_id": 8}')], now) == 2
    assert await updates.store(db, [(8, '{"update_id": 8}'), (9, '{"update_id": 9}')], now) == 1
    batch = await updates.take(db, 0, 10, now)
    assert [(u.update_id, u.attempts) for u in batch.handle] == [(7, 1), (8, 1), (9, 1)]
    assert await updates.take(db, batch.last, 10, now) == updates.Batch()
    await updates.finish(db, [7, 8], [], now)
    assert [await updates.status(db, i) for i in (7, 8, 9)] == ["done", "done", "received"]
    assert await db.fetch_value("SELECT payload FROM telegram_updates WHERE update_id = 7") is None
    assert await updates.store(db, [(7, '{"update_id": 7}')], now + 60) == 0  # recognised
    assert await updates.housekeeping(db, now + updates.KEEP_FINISHED - 1) == 0
    assert await updates.housekeeping(db, now + updates.KEEP_FINISHED + 1) == 2
    assert [await updates.status(db, i) for i in (7, 8, 9)] == [None, None, "received"]
    # The next process starts from the beginning: what waits is taken again, counted again.
    again = await updates.take(db, 0, 10, now)
    assert [(u.update_id, u.attempts) for u in again.handle] == [(9, 2)]

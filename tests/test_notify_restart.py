"""A notifier killed mid-broadcast (kill -9) resumes where it stopped: none lost, none twice.

The service runs in a process of its own (`run_bot.py run`) against the emulator of this
test process; 30 subscribed customers each have a new invoice. The emulator holds the
bot's sends at a known point and the bot is killed there, then started again.
"""

from __future__ import annotations

import sqlite3
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from botapi_emulator import BotApiEmulator
from core.billing_import import import_folder
from core.db import open_database
from tests.botkit import BOT_USERNAME, TOKEN
from tests.notifykit import new_invoices_export, subscribe
from tests.test_durable_updates import ANSWER_TIMEOUT, BotProcess, until

CUSTOMERS = 30
NOTICE = "Új számlája érkezett"


@pytest.fixture
async def api() -> AsyncIterator[BotApiEmulator]:
    async with BotApiEmulator(token=TOKEN, bot_username=BOT_USERNAME) as emu:
        yield emu


@pytest.fixture
async def service(tmp_path, api) -> AsyncIterator[BotProcess]:
    """The service in a process of its own (never quiet: it runs on the real clock)."""
    running = BotProcess(tmp_path, api, settings={"PETKOMM_QUIET_HOURS": "0-0"})
    try:
        yield running
    finally:
        if running.process is not None:
            await running.kill()


async def broadcast_waiting(
    tmp_path: Path, demo_folder, emulator: BotApiEmulator
) -> dict[str, object]:
    """The bot's database: billing data, CUSTOMERS subscribers (each with a chat in the
    emulator), and an import that brought each a new invoice; the people, by customer."""
    folder, _ = demo_folder
    db = await open_database(tmp_path / "run.sqlite3")
    try:
        await import_folder(db, folder)
        rows = await db.fetch_all(
            "SELECT customer_id FROM customers ORDER BY customer_id LIMIT ?", (CUSTOMERS,)
        )
        customers = [row[0] for row in rows]
        users = await subscribe(db, customers, time.time())
        result = await import_folder(
            db, new_invoices_export(tmp_path / "new", customers), only=["invoices"]
        )
        assert result.notices.new_invoice == CUSTOMERS
    finally:
        await db.close()
    return {c: emulator.private_user(u, f"Ügyfél {c}") for c, u in users.items()}


def told(people: dict) -> Counter:
    """How many new-invoice messages each customer's chat holds."""
    return Counter({c: sum(NOTICE in (m.text or "") for m in p.replies) for c, p in people.items()})


def statuses(db_path: Path) -> dict[str, int]:
    """The deliveries by status, read as another process would."""
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as conn:
        rows = conn.execute(
            "SELECT status, count(*) FROM notification_deliveries GROUP BY status"
        ).fetchall()
    return dict(rows)


async def test_killed_while_sends_wait_the_restart_sends_each_once(
    tmp_path, demo_folder, api, service
):
    emulator, bot = api, service
    people = await broadcast_waiting(tmp_path, demo_folder, emulator)
    await bot.start()
    await emulator.wait_for(
        lambda: sum(told(people).values()) >= 10, timeout=ANSWER_TIMEOUT, what="ten sent"
    )
    gate = emulator.hold("sendMessage")  # every later send waits before Telegram sees it
    await emulator.wait_for(lambda: gate.held, timeout=ANSWER_TIMEOUT, what="a held send")
    # What Telegram accepted before the gate is marked sent; then the kill.
    await until(
        lambda: statuses(bot.db_path).get("sent", 0) == sum(told(people).values()),
        "the marks of the sends Telegram accepted",
    )
    before = sum(told(people).values())
    assert statuses(bot.db_path).get("sending", 0) >= 1  # claimed, mid-send
    await bot.kill()
    await until(lambda: gate.hung_up == gate.held, "the emulator to see the bot gone")
    gate.release()  # the held sends are dropped: Telegram never saw them

    await bot.start()
    await emulator.wait_for(
        lambda: sum(told(people).values()) >= CUSTOMERS, timeout=60, what="all sent"
    )
    await until(lambda: statuses(bot.db_path) == {"sent": CUSTOMERS}, "every delivery marked")
    counts = told(people)
    assert before < CUSTOMERS
    assert sorted(counts.values()) == [1] * CUSTOMERS, counts  # none lost, none twice
    assert "sending them again" in bot.log_text()


async def test_killed_after_telegram_accepted_sends_they_come_again_never_lost(
    tmp_path, demo_folder, api, service
):
    """The one window the Bot API leaves: Telegram has the message, and the bot had not
    heard so when it died. Its claim is sent again (claims are mostly sends that never
    left), so exactly those messages come twice; none is lost."""
    emulator, bot = api, service
    people = await broadcast_waiting(tmp_path, demo_folder, emulator)
    gate = emulator.hold("sendMessage", after=True)  # in the chat, the answer held
    await bot.start()
    await emulator.wait_for(lambda: gate.held, timeout=ANSWER_TIMEOUT, what="held answers")
    await until(lambda: gate.held == statuses(bot.db_path).get("sending", -1), "every claim held")
    accepted_unheard = gate.held
    await bot.kill()
    gate.release()
    await bot.start()
    await emulator.wait_for(
        lambda: sum(told(people).values()) >= CUSTOMERS + accepted_unheard,
        timeout=60,
        what="all sent",
    )
    await until(lambda: statuses(bot.db_path) == {"sent": CUSTOMERS}, "every delivery marked")
    counts = told(people)
    assert min(counts.values()) == 1  # none lost
    assert sum(n - 1 for n in counts.values()) == accepted_unheard  # only those came twice

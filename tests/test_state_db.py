"""The bot's own state file: dialogue states and received updates, beside the main database.

Only the running service writes it, so the daily import holding the main database's
write lock never stalls a chat (tests/test_db_lock.py). Here: where it is, that the
operator can name it, that customers mid-dialogue during the upgrade keep their place,
that a backup taken while the bot runs holds it too, so a restore resumes dialogues,
and that a customer is told when another process (an operator's `sqlite3` shell) holds
its write lock.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from botapi_emulator import BotApiEmulator
from conversations.common import label
from core import chat_state
from core.config import ConfigError, Settings
from core.db import Database, open_database, open_state_database
from core.texts import render
from tests.botkit import BOT_USERNAME, TOKEN, BotEnv, Clock, Customer, start_bot, stop_bot
from tests.test_db_lock import WAIT_NOTICE, chat_message, last_id, write_lock_held

ROOT = Path(__file__).resolve().parents[1]


def tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as conn:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def conversation_rows(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        query = "SELECT count(*) FROM bot_state WHERE kind LIKE 'conversation:%'"
        return int(conn.execute(query).fetchone()[0])


async def halfway_through_registration(person: Customer) -> None:
    """Start registering: the e-mail address is given, the user name is asked for."""
    await person.command("start")
    await person.press("register")
    assert "2/6." in person.texts(await person.say("eva@example.hu"))


# --- where it is -------------------------------------------------------------------------------


def test_the_state_file_is_named_after_the_main_database_unless_the_operator_names_it():
    assert Settings({}).state_db_path == Path("./data/petkomm-state.sqlite3")
    beside = Settings({"PETKOMM_DB": "/srv/petkomm/ugyfel.db"})
    assert beside.state_db_path == Path("/srv/petkomm/ugyfel-state.db")
    named = Settings({"PETKOMM_DB": "/srv/a.sqlite3", "PETKOMM_STATE_DB": "/var/lib/chat.sqlite3"})
    assert named.state_db_path == Path("/var/lib/chat.sqlite3")
    same = Settings({"PETKOMM_DB": "/srv/a.sqlite3", "PETKOMM_STATE_DB": "/srv/a.sqlite3"})
    with pytest.raises(ConfigError, match="PETKOMM_STATE_DB"):
        _ = same.state_db_path


async def test_a_customers_messages_and_dialogue_are_kept_beside_the_main_database(bot_env):
    eva = bot_env.customer()
    await halfway_through_registration(eva)
    state = bot_env.tmp / "bot-state.sqlite3"  # PETKOMM_DB is bot.sqlite3 there
    assert bot_env.service.state_db.path == state
    with sqlite3.connect(state) as conn:
        statuses = [r[0] for r in conn.execute("SELECT status FROM telegram_updates")]
    assert statuses == ["done"] * 3  # /start, the button, the address
    assert conversation_rows(state) == 1
    assert "telegram_updates" not in tables(bot_env.db.path)
    assert await bot_env.db.fetch_value("SELECT count(*) FROM bot_state") == 0


@dataclass
class Parts:
    """A main database, the emulator and a clock: what a service is started around."""

    tmp: Path
    db: Database
    emulator: BotApiEmulator
    clock: Clock


@pytest.fixture
async def parts(tmp_path) -> AsyncIterator[Parts]:
    db = await open_database(tmp_path / "petkomm.sqlite3")
    async with BotApiEmulator(token=TOKEN, bot_username=BOT_USERNAME) as emulator:
        try:
            yield Parts(tmp_path, db, emulator, Clock())
        finally:
            await db.close()


async def started(parts: Parts, **settings: str) -> BotEnv:
    """The service around `parts`, with these settings beside PETKOMM_DB."""
    env_values = {
        "PETKOMM_DB": str(parts.db.path),
        "PETKOMM_MAIL_OUTBOX_DIR": str(parts.tmp / "mail"),
        **settings,
    }
    service = await start_bot(env_values, parts.db, parts.clock, parts.emulator)
    return BotEnv(parts.emulator, parts.db, service, parts.clock, None, service.settings, parts.tmp)


async def test_the_operator_can_put_the_state_file_elsewhere(parts):
    elsewhere = parts.tmp / "elsewhere" / "chat.sqlite3"
    env = await started(parts, PETKOMM_STATE_DB=str(elsewhere))
    eva = env.customer()
    try:
        await halfway_through_registration(eva)
    finally:
        await stop_bot(env.service)
    assert conversation_rows(elsewhere) == 1
    assert not (parts.tmp / "petkomm-state.sqlite3").exists()

    # Started again with the same setting, Éva goes on where she was.
    env.service = (await started(parts, PETKOMM_STATE_DB=str(elsewhere))).service
    try:
        assert "3/6." in eva.texts(await eva.say("kovacs.eva"))
    finally:
        await stop_bot(env.service)


# --- the upgrade ---------------------------------------------------------------------------------


def as_before_the_upgrade(main: Path, state: Path) -> None:
    """What a deployment looked like before the state file: the dialogue states in the main
    database's `bot_state`, and no state file."""
    with sqlite3.connect(main) as conn:
        conn.execute("ATTACH DATABASE ? AS state", (str(state),))
        conn.execute("INSERT INTO main.bot_state SELECT * FROM state.bot_state")
        conn.commit()
        conn.execute("DETACH DATABASE state")
    for path in (state, Path(f"{state}-wal"), Path(f"{state}-shm")):
        path.unlink(missing_ok=True)


async def test_a_customer_mid_dialogue_during_the_upgrade_keeps_their_place(parts):
    env = await started(parts)
    eva = env.customer()
    try:
        await halfway_through_registration(eva)
    finally:
        await stop_bot(env.service)
    state = parts.tmp / "petkomm-state.sqlite3"
    as_before_the_upgrade(parts.db.path, state)
    assert conversation_rows(parts.db.path) == 1
    assert not state.exists()

    env.service = (await started(parts)).service  # the new version's first start
    try:
        assert "3/6." in eva.texts(await eva.say("kovacs.eva"))
    finally:
        await stop_bot(env.service)
    assert conversation_rows(state) == 1
    # The main database's copy is forgotten: it would only ever be stale.
    assert await parts.db.fetch_value("SELECT count(*) FROM bot_state") == 0


async def test_the_carry_over_happens_once_and_does_not_wait_for_an_import(tmp_path):
    main = await open_database(tmp_path / "petkomm.sqlite3")
    state = await open_state_database(tmp_path / "petkomm-state.sqlite3")
    try:
        await chat_state.set_conversation(main, "dialogues", (1, 1), "ASK_USERNAME")
        await chat_state.set_user_data(main, 1, {"email": "eva@example.hu"})
        loop = asyncio.get_running_loop()
        async with write_lock_held(main.path) as lock:
            began = loop.time()
            assert await chat_state.carry_over(state, main, 1.0) == 2
            assert loop.time() - began < 1.0  # the import's lock held nothing up
            assert lock.holding
        # The main database was busy: its rows are left for the next start to forget.
        assert await main.fetch_value("SELECT count(*) FROM bot_state") == 2
        assert await chat_state.conversations(state, "dialogues") == {(1, 1): "ASK_USERNAME"}
        assert await chat_state.user_data(state) == {1: {"email": "eva@example.hu"}}

        # The dialogue moves on in the state file; the next start copies nothing again.
        await chat_state.set_conversation(state, "dialogues", (1, 1), "ASK_PASSWORD")
        assert await chat_state.carry_over(state, main, 2.0) == 0
        assert await chat_state.conversations(state, "dialogues") == {(1, 1): "ASK_PASSWORD"}
        assert await main.fetch_value("SELECT count(*) FROM bot_state") == 0
    finally:
        await state.close()
        await main.close()


# --- backup --------------------------------------------------------------------------------------


async def test_a_backup_taken_while_the_bot_runs_holds_both_files_and_a_restore_resumes(parts):
    env = await started(parts)
    eva = env.customer()
    backup = parts.tmp / "mentes" / "backup.sqlite3"
    try:
        await halfway_through_registration(eva)
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(ROOT / "run_bot.py"),
            "db",
            "backup",
            str(backup),
            env={
                **{k: v for k, v in os.environ.items() if not k.startswith("PETKOMM_")},
                "PETKOMM_DB": str(parts.db.path),
            },
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    finally:
        await stop_bot(env.service)
    assert process.returncode == 0, stderr.decode()
    state_backup = parts.tmp / "mentes" / "backup-state.sqlite3"
    assert stdout.decode().splitlines() == [
        f"Backed up {parts.db.path} to {backup}",
        f"Backed up {parts.tmp / 'petkomm-state.sqlite3'} to {state_backup}",
    ]

    # The bot is restored from the backup: Éva goes on where she was.
    restored = Parts(parts.tmp, await open_database(backup), parts.emulator, parts.clock)
    try:
        env = await started(restored)
        assert env.service.state_db.path == state_backup
        try:
            assert "3/6." in eva.texts(await Customer(env, eva.user).say("kovacs.eva"))
        finally:
            await stop_bot(env.service)
    finally:
        await restored.db.close()


# --- another process holds the state file's write lock ------------------------------------------

KEPT = "Üzenetét nem veszítjük el"


def replies_since(person: Customer, seen: int) -> list[str]:
    return [m.text or "" for m in person.user.replies if m.message_id > seen]


async def test_a_message_waits_for_the_locked_state_file_says_so_and_is_answered_after(
    bot_env, caplog
):
    caplog.set_level(logging.INFO, logger="petkomm.bot.waiting")
    state = bot_env.service.state_db
    state.write_notice_after = 0.3  # the product says it after 2 s; the test is quicker
    eva = bot_env.customer()
    await eva.command("start")
    seen = last_id(eva)

    async with write_lock_held(state.path, statement="") as lock:
        loop = asyncio.get_running_loop()
        sent = loop.time()
        pressed = eva.user.press(label("register"))
        await chat_message(bot_env, eva, WAIT_NOTICE, after=seen)
        assert loop.time() - sent < 0.3 + 1.5
        assert lock.holding and replies_since(eva, seen) == [render("chat/common/busy_wait.txt")]
        await lock.release()
        await bot_env.processed(pressed)

    # Answered once the lock is gone, without being sent again; told to wait once.
    texts = replies_since(eva, seen)
    assert texts[0] == render("chat/common/busy_wait.txt")
    assert sum("1/6." in t for t in texts) == 1 and len(texts) == 2  # the button's one
    logged = [r.getMessage() for r in caplog.records if r.name == "petkomm.bot.waiting"]
    assert any(
        str(state.path) in line and f"process {lock.process.pid} (python" in line for line in logged
    ), logged
    assert any("writable again" in line for line in logged), logged


async def test_a_message_kept_waiting_long_is_said_to_be_kept_and_answered_when_it_can(bot_env):
    state = bot_env.service.state_db
    state.write_notice_after = 0.3
    state.write_timeout = 1.5  # the product waits 30 s
    eva = bot_env.customer()
    await eva.command("start")
    seen = last_id(eva)

    async with write_lock_held(state.path, statement="") as lock:
        pressed = eva.user.press(label("register"))
        await chat_message(bot_env, eva, KEPT, after=seen)
        # The bot goes on fetching while the lock stays: Anna's message is told too.
        anna = bot_env.customer("Anna")
        anna_seen = last_id(anna)
        anna_sent = anna.user.send_command("start")
        await chat_message(bot_env, anna, WAIT_NOTICE, after=anna_seen)
        assert lock.holding
        assert replies_since(eva, seen) == [
            render("chat/common/busy_wait.txt"),
            render("chat/common/busy_kept.txt"),
        ]
        await lock.release()
        await bot_env.processed(pressed)
        await bot_env.processed(anna_sent)

    # Nothing lost, nothing to send again: each message answered once.
    texts = replies_since(eva, seen)
    assert sum("1/6." in t for t in texts) == 1 and len(texts) == 3
    assert "PÉTKOMM" in replies_since(anna, anna_seen)[-1]
    assert "váratlan hiba" not in " ".join(texts)

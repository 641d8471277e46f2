"""No secret at rest or in a log: once a code mail is sent, neither the database, nor the
bot's state file beside it, nor a backup of them holds a code, a code's link or a password;
and no log level prints them or the bot token, not even DEBUG with every library's chatter."""

from __future__ import annotations

import asyncio
import email
import json
import logging
import os
import re
import signal
import sqlite3
import sys
from collections.abc import Callable
from datetime import date
from email import policy
from pathlib import Path

from botapi_emulator import BotApiEmulator, ChatMessage, SimulatedUser
from cli.common import RedactSecret
from conversations.common import label
from core import updates
from core.billing_import import import_folder
from core.config import Settings
from core.demodata import write_demo_data
from core.outbox import BODY_REMOVED, at_rest, queue_code_mail, queue_mail
from mailer.sender import OutboxSender
from storage import outbox
from storage.db import ERASED_WITHIN, open_database, open_state_database
from storage.migrations import available_migrations
from tests.botkit import BOT_USERNAME, TOKEN, BotEnv, proof_for
from tests.test_durable_updates import until

ROOT = Path(__file__).resolve().parents[1]
FIRST_PASSWORD = "Tavaszi-Szel-42"
WRONG_PASSWORD = "Nyari-Zapor-17"
NEW_PASSWORD = "Oszi-Avar-2026"
SETTINGS = Settings({"PETKOMM_MAIL_FROM": "PÉTKOMM Kft. <petkomm@petkomm.hu>"})
CODE = "ABCDEFGHJKLMNPQRSTUVWXYZ"
LINK = f"https://t.me/petkomm_bot?start=act_{CODE}"


def code_traces(code: str, link: str) -> list[bytes]:
    """Every form a code can take in a mail or a log: whole, grouped, halves, its link."""
    grouped = " ".join(code[i : i + 4] for i in range(0, len(code), 4))
    forms = [code, grouped, code[:12], code[12:], link, link.rpartition("=")[2]]
    return [form.encode() for form in forms]


def secret_traces(secrets: dict[str, list[bytes]], data: bytes) -> list[str]:
    """The names of the secrets found in `data`."""
    return [name for name, forms in secrets.items() if any(form in data for form in forms)]


def read_code(raw: bytes) -> tuple[str, str]:
    """(code, link) from a delivered code mail."""
    text = email.message_from_bytes(raw, policy=policy.default).get_body(("plain",))
    body = text.get_content()
    code = re.search(r"((?:[A-Z2-9]{4} ){5}[A-Z2-9]{4})", body)[1].replace(" ", "")
    link = re.search(r"https://t\.me/\S+", body)[0]
    return code, link


# --- at rest -------------------------------------------------------------------------------


async def sent(env: BotEnv) -> None:
    """Every queued mail handed to the transport by the service's own sender, and marked."""
    await env.service.sender.send_due()


async def test_no_code_link_or_password_is_left_in_the_database_or_a_backup(bot_env):
    db = bot_env.db
    state_db = bot_env.service.state_db  # the typed messages were stored there
    # Many SQLite builds free replaced bytes without overwriting them (Debian's overwrites).
    await db.execute("PRAGMA secure_delete = OFF")
    await state_db.execute("PRAGMA secure_delete = OFF")
    address = "titkos@example.hu"
    eva = bot_env.customer()
    proof = await proof_for(db, "U0031")
    await eva.register(email_address=address, username="titkos31", password=FIRST_PASSWORD, **proof)
    await sent(bot_env)
    activation = await bot_env.code_mailed_to(address)
    assert "Fiókja aktív" in eva.texts(await eva.open_link(activation[1]))
    await eva.press("logout")  # her own link logged her in
    assert "nem megfelelő" in eva.texts(await eva.login("titkos31", WRONG_PASSWORD))
    await eva.press("cancel")

    await eva.press("forgot")
    await eva.say("titkos31")
    await sent(bot_env)
    reset = await bot_env.code_mailed_to(address)
    await eva.say(reset[0])  # typed
    await eva.say(NEW_PASSWORD)
    assert "beállítottuk" in eva.texts(await eva.say(NEW_PASSWORD))
    assert "Sikeres belépés" in eva.texts(await eva.login("titkos31", NEW_PASSWORD))
    await eva.press("logout")
    # A reset asked for and never used: its code works for 48 hours.
    await eva.press("forgot")
    await eva.say(address)
    await sent(bot_env)
    unused = await bot_env.code_mailed_to(address)
    assert len({activation[0], reset[0], unused[0]}) == 3

    secrets = {
        "activation code": code_traces(*activation),
        "reset code": code_traces(*reset),
        "unused reset code": code_traces(*unused),
        "first password": [FIRST_PASSWORD.encode()],
        "wrong password": [WRONG_PASSWORD.encode()],
        "new password": [NEW_PASSWORD.encode()],
    }
    delivered = b"".join(p.read_bytes() for p in (bot_env.tmp / "mail").glob("*.eml"))
    assert secret_traces(secrets, delivered) == [  # the customer has them, of course
        "activation code",
        "reset code",
        "unused reset code",
    ]
    assert await db.fetch_value("SELECT count(*) FROM outbox WHERE status = 'queued'") == 0

    backup = bot_env.tmp / "backup.sqlite3"
    result = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "run_bot.py"),
        "db",
        "backup",
        str(backup),
        env={**os.environ, "PETKOMM_DB": str(db.path)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(result.communicate(), timeout=60)
    assert result.returncode == 0, stderr.decode()
    state_backup = bot_env.tmp / "backup-state.sqlite3"
    assert state_backup.exists()
    for copy in (backup, state_backup):
        assert secret_traces(secrets, copy.read_bytes()) == [], copy

    # The database files themselves, with everything the write-ahead log holds written in.
    assert state_db.path == bot_env.tmp / "bot-state.sqlite3"
    for opened in (db, state_db):
        await opened.fetch_value("PRAGMA wal_checkpoint(TRUNCATE)")
        wal = Path(f"{opened.path}-wal")
        on_disk = opened.path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")
        assert secret_traces(secrets, on_disk) == [], opened.path

    # What is left of a code mail is its headers: threading still finds its Message-ID.
    raw = await db.fetch_value("SELECT raw FROM outbox WHERE kind = 'reset' ORDER BY id LIMIT 1")
    kept = email.message_from_bytes(raw, policy=policy.default)
    assert kept["To"] == address and kept["Message-ID"] and kept[BODY_REMOVED]


async def test_a_code_mail_keeps_its_headers_and_no_body_once_sent_or_failed(db, tmp_path):
    settings = Settings({**SETTINGS.env, "PETKOMM_MAIL_OUTBOX_DIR": str(tmp_path / "mail")})
    code_mail = await queue_code_mail(
        db,
        settings,
        purpose="activation",
        to="eva@example.hu",
        username="eva",
        code=CODE,
        link=LINK,
        expires_at="2024. 05. 03. 10:00",
    )
    answer = await queue_mail(
        db,
        settings,
        kind="answer",
        to="eva@example.hu",
        subject="Re: Számla",
        template="answer",
        context={"marker": "", "name": None, "text": "Válasz", "ticket_number": "PK-000001"},
    )
    whole = (await outbox.get_mail(db, answer.id)).raw
    assert await OutboxSender(db, settings).send_due() == 2

    kept = await outbox.get_mail(db, code_mail.id)
    assert kept.status == "sent"
    assert secret_traces({"code": code_traces(CODE, LINK)}, kept.raw) == []
    msg = email.message_from_bytes(kept.raw, policy=policy.default)
    assert msg["Message-ID"] == code_mail.message_id
    assert msg["To"] == "eva@example.hu"
    assert msg["Subject"] == code_mail.subject
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg.get_content_type() == "text/plain" and "removed" in msg.get_content()
    assert not msg.defects
    assert (await outbox.get_mail(db, answer.id)).raw == whole  # no code: kept whole
    assert CODE.encode() in (tmp_path / "mail" / f"{code_mail.id}-activation.eml").read_bytes()

    failed = await queue_code_mail(
        db,
        settings,
        purpose="reset",
        to="eva@example.hu",
        username="eva",
        code=CODE,
        link=LINK,
        expires_at="2024. 05. 03. 10:00",
    )
    mail = await outbox.get_mail(db, failed.id)
    assert at_rest(mail) is not None
    async with db.transaction() as tx:
        assert await outbox.mark_failed(tx, mail.id, "550 no such user", raw=at_rest(mail))
    assert CODE.encode() not in (await outbox.get_mail(db, failed.id)).raw


async def test_the_upgrade_removes_the_codes_of_mails_sent_before(db):
    for status, kind in (("sent", "activation"), ("failed", "reset"), ("queued", "reset")):
        queued = await queue_code_mail(
            db,
            SETTINGS,
            purpose=kind,
            to="eva@example.hu",
            username="eva",
            code=CODE,
            link=LINK,
            expires_at="2024. 05. 03. 10:00",
        )
        await db.execute("UPDATE outbox SET status = ? WHERE id = ?", (status, queued.id))
    [migration] = [m for m in available_migrations() if m.name == "outbox_code_bodies_removed"]
    await db.conn.executescript(f"BEGIN;\n{migration.sql}\nCOMMIT;")
    rows = await db.fetch_all("SELECT status, message_id, raw FROM outbox ORDER BY id")
    for status, message_id, raw in rows:
        if status == "queued":
            assert CODE.encode() in raw  # still to be sent
        else:
            assert CODE.encode() not in raw and LINK.encode() not in raw
            assert message_id.encode() in raw


# --- in logs ---------------------------------------------------------------------------------


def test_the_log_filter_redacts_the_token_and_code_shaped_words():
    redact = RedactSecret(TOKEN)
    record = logging.LogRecord(
        "x", logging.INFO, __file__, 1, "%s %s %s", (f"bot{TOKEN}/getMe", LINK, "ab"), None
    )
    assert redact.filter(record)
    line = record.getMessage()
    assert TOKEN not in line and CODE not in line and CODE[:12] not in line
    grouped = " ".join(CODE[i : i + 4] for i in range(0, 24, 4)).lower()
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "code %s", (grouped,), None)
    redact.filter(record)
    assert record.getMessage() == "code <code>"


async def wait_text(emulator: BotApiEmulator, user: SimulatedUser, send: Callable, *needles):
    """Do `send()`, then wait for a bot reply after it that holds every needle."""
    before = max((m.message_id for m in user.chat.messages), default=0)
    send()

    def found() -> ChatMessage | None:
        for message in user.chat.replies:
            if message.message_id > before and all(n in (message.text or "") for n in needles):
                return message
        return None

    return await emulator.wait_for(found, timeout=20, what=f"a reply with {needles}")


async def delivered_code(folder: Path, kind: str, seen: set[Path]) -> tuple[str, str]:
    """The newest code mail the service wrote into the mail folder (another process)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 20
    while True:
        files = [p for p in folder.glob(f"*-{kind}.eml") if p not in seen]
        if files:
            seen.update(files)
            return read_code(files[0].read_bytes())
        assert loop.time() < deadline, f"no {kind} mail written"
        await asyncio.sleep(0.05)  # another process writes it: no event to await here


async def billing_database(path: Path, export: Path) -> dict[str, str]:
    """A main database at `path` with a few demo customers; a registration proof for one."""
    write_demo_data(export, customers=5, seed=3, years=1, today=date.today())
    db = await open_database(path)
    try:
        await import_folder(db, export)
        customer_id = await db.fetch_value("SELECT customer_id FROM customers ORDER BY 1 LIMIT 1")
        return await proof_for(db, customer_id)
    finally:
        await db.close()


async def run_bot(
    emulator: BotApiEmulator, cwd: Path, log_file: Path, **settings: str
) -> asyncio.subprocess.Process:
    """`run_bot.py run` as the operator starts it, with these PETKOMM_ settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PETKOMM_", "TELEGRAM_"))}
    env.update(TELEGRAM_BOT_TOKEN=TOKEN, PETKOMM_TELEGRAM_API_URL=emulator.base_url, **settings)
    return await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "run_bot.py"),
        "run",
        env=env,
        cwd=cwd,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=log_file.open("wb"),  # a file, not a pipe: a full pipe would stall it
    )


async def customer_afternoon(
    emulator: BotApiEmulator, proof: dict[str, str], mail: Path
) -> tuple[tuple[str, str], tuple[str, str]]:
    """Éva registers (typing FIRST_PASSWORD), activates with the mailed link (which logs her
    in) and logs out, mistypes her password (WRONG_PASSWORD), logs in and out, resets her
    password with the mailed code, typed (NEW_PASSWORD, twice), and logs in with it.
    Returns the activation and the reset (code, link)."""
    seen: set[Path] = set()
    eva = emulator.private_user(7101, "Éva")
    await wait_text(emulator, eva, lambda: eva.send_command("start"), "PÉTKOMM")
    await wait_text(emulator, eva, lambda: eva.press(label("register")), "1/6.")
    answers = ("naplo@example.hu", "naplo31", FIRST_PASSWORD, FIRST_PASSWORD, *proof.values())
    for answer in answers[:-1]:
        await wait_text(emulator, eva, lambda a=answer: eva.send_text(a), "/6.")
    summary = await wait_text(emulator, eva, lambda: eva.send_text(answers[-1]), "ellenőrizze")
    await wait_text(
        emulator,
        eva,
        lambda: eva.press_inline(summary.message_id, label("confirm")),
        "Köszönjük a regisztrációt",
    )
    activation = await delivered_code(mail, "activation", seen)
    await wait_text(emulator, eva, lambda: eva.open_link(activation[1]), "Egyenleg")
    # Her own link logged her in: she logs out to try the login.
    await wait_text(emulator, eva, lambda: eva.press(label("logout")), "Kijelentkezett")

    async def login(password: str, *needles: str) -> None:
        await wait_text(emulator, eva, lambda: eva.press(label("login")), "Belépés")
        await wait_text(emulator, eva, lambda: eva.send_text("naplo31"), "jelszavát")
        await wait_text(emulator, eva, lambda: eva.send_text(password), *needles)

    # Each wait names the step's last message: the next button is on it.
    await login(WRONG_PASSWORD, "adja meg a felhasználónevét")
    await wait_text(emulator, eva, lambda: eva.press(label("cancel")), "megszakítottuk")
    await login(FIRST_PASSWORD, "Egyenleg")
    await wait_text(emulator, eva, lambda: eva.press(label("logout")), "Kijelentkezett")
    await wait_text(emulator, eva, lambda: eva.press(label("forgot")), "Elfelejtett")
    await wait_text(emulator, eva, lambda: eva.send_text("naplo31"), "Ha ilyen")
    reset = await delivered_code(mail, "reset", seen)
    await wait_text(emulator, eva, lambda: eva.send_text(reset[0]), "új jelszót")
    await wait_text(emulator, eva, lambda: eva.send_text(NEW_PASSWORD), "még egyszer")
    await wait_text(emulator, eva, lambda: eva.send_text(NEW_PASSWORD), "beállítottuk")
    await login(NEW_PASSWORD, "Egyenleg")
    return activation, reset


def afternoon_secrets(
    activation: tuple[str, str], reset: tuple[str, str]
) -> dict[str, list[bytes]]:
    """Every secret of `customer_afternoon`, in every form it can take."""
    return {
        "activation code": code_traces(*activation),
        "reset code": code_traces(*reset),
        "first password": [FIRST_PASSWORD.encode()],
        "wrong password": [WRONG_PASSWORD.encode()],
        "new password": [NEW_PASSWORD.encode()],
    }


async def test_a_debug_log_of_a_whole_customer_afternoon_holds_no_secret(tmp_path):
    path = tmp_path / "run.sqlite3"
    proof = await billing_database(path, tmp_path / "export")
    mail = tmp_path / "mail"
    async with BotApiEmulator(token=TOKEN, bot_username=BOT_USERNAME) as emulator:
        log_file = tmp_path / "stderr.log"
        process = await run_bot(
            emulator,
            tmp_path,
            log_file,
            PETKOMM_DB=str(path),
            PETKOMM_MAIL_OUTBOX_DIR=str(mail),
            PETKOMM_LOG_LEVEL="DEBUG",
        )
        try:
            activation, reset = await customer_afternoon(emulator, proof, mail)
        finally:
            process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(process.wait(), timeout=30)
    stderr = log_file.read_bytes()
    log = stderr.decode()
    assert process.returncode == 0, log[-3000:]
    assert " DEBUG petkomm." in log or " DEBUG " in log  # the level is really DEBUG
    assert "outbox 1 (activation) to @example.hu sent" in log  # and says what happened
    secrets = {
        **afternoon_secrets(activation, reset),
        "token": [TOKEN.encode(), TOKEN.split(":")[1].encode()],
    }
    assert secret_traces(secrets, stderr) == []


# --- after kill -9 ---------------------------------------------------------------------------


def secrets_in_folder(folder: Path, secrets: dict[str, list[bytes]]) -> dict[str, list[str]]:
    """Each file of `folder` (the databases, their -wal, -shm, journals) that holds a
    secret, with the names of the secrets it holds."""
    found = {}
    for path in sorted(folder.iterdir()):
        names = secret_traces(secrets, path.read_bytes())
        if names:
            found[path.name] = names
    return found


def all_handled(data: Path) -> bool:
    """Whether the bot has finished every message and sent every mail (read as another
    process would): every secret it had is erased from the tables by now."""
    with sqlite3.connect(f"file:{data / 'petkomm-state.sqlite3'}?mode=ro", uri=True) as state:
        waiting = state.execute(
            "SELECT count(*) FROM telegram_updates WHERE status = 'received'"
        ).fetchone()[0]
    with sqlite3.connect(f"file:{data / 'petkomm.sqlite3'}?mode=ro", uri=True) as main:
        queued = main.execute("SELECT count(*) FROM outbox WHERE status = 'queued'").fetchone()[0]
    return waiting == 0 and queued == 0


async def test_a_bot_killed_after_an_afternoon_leaves_no_secret_in_its_data_folder(tmp_path):
    # The databases in a folder of their own (the state file beside the main one); the
    # mail the customer gets is written elsewhere.
    data = tmp_path / "data"
    data.mkdir()
    proof = await billing_database(data / "petkomm.sqlite3", tmp_path / "export")
    mail = tmp_path / "mail"
    async with BotApiEmulator(token=TOKEN, bot_username=BOT_USERNAME) as emulator:
        log_file = tmp_path / "stderr.log"
        process = await run_bot(
            emulator,
            tmp_path,
            log_file,
            PETKOMM_DB=str(data / "petkomm.sqlite3"),
            PETKOMM_MAIL_OUTBOX_DIR=str(mail),
        )
        try:
            activation, reset = await customer_afternoon(emulator, proof, mail)
            secrets = afternoon_secrets(activation, reset)
            loop = asyncio.get_running_loop()
            await until(lambda: all_handled(data), "the last message and mail to be done")
            erased = loop.time()
            # Within the stated bound of the erasure, no file holds a secret any more...
            while found := secrets_in_folder(data, secrets):
                if loop.time() - erased > ERASED_WITHIN:
                    break
                await asyncio.sleep(0.02)  # another process's files: nothing to await
        finally:
            # ... and a kill -9 then (no clean close, no last checkpoint) changes nothing.
            process.send_signal(signal.SIGKILL)
            await asyncio.wait_for(process.wait(), timeout=30)
    assert found == {}, f"{ERASED_WITHIN} s after the last erasure: {found}"
    assert secrets_in_folder(data, secrets) == {}
    assert "Traceback" not in log_file.read_text()


# A second process reading the state file: its read transaction keeps the snapshot it began
# with until its stdin closes (an operator's `sqlite3` query, a `db backup` in progress).
READER = r"""
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN")
conn.execute("SELECT count(*) FROM telegram_updates").fetchone()
print("reading", flush=True)
sys.stdin.read()
conn.execute("COMMIT")
"""


async def test_an_erased_message_leaves_the_log_as_soon_as_an_old_reader_lets_go(tmp_path):
    db = await open_state_database(tmp_path / "state.sqlite3")
    message = json.dumps({"update_id": 1, "message": {"text": FIRST_PASSWORD}})
    files = [tmp_path / name for name in ("state.sqlite3", "state.sqlite3-wal")]
    reader = None
    try:
        await updates.store(db, [(1, message)], 1.0)
        reader = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            READER,
            str(db.path),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        assert (await reader.stdout.readline()).strip() == b"reading"
        batch = await updates.take(db, 0, 10, 2.0)
        await updates.finish(db, [u.update_id for u in batch.handle], [], 3.0)

        # The reader's snapshot still needs the log's older pages: the log cannot be emptied
        # yet, and meanwhile the bot's writes do not wait for it.
        loop = asyncio.get_running_loop()
        began = loop.time()
        await updates.store(db, [(2, '{"update_id": 2}')], 4.0)
        assert loop.time() - began < 0.5
        assert any(FIRST_PASSWORD.encode() in path.read_bytes() for path in files)

        reader.stdin.close()
        await reader.wait()
        await asyncio.wait_for(db.erased_everywhere(), timeout=ERASED_WITHIN)
        assert not any(FIRST_PASSWORD.encode() in p.read_bytes() for p in files if p.exists())
    finally:
        if reader is not None and reader.returncode is None:
            reader.kill()
            await reader.wait()
        await db.close()

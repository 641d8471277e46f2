"""`run_bot.py check`: one line per part, each OK or the reason, exit 0 only when every
configured part works. Run as monitoring runs it: a real subprocess with a timeout,
against real aiosmtpd (with a login), Dovecot and the Bot API emulator."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword

from botapi_emulator import BotApiEmulator
from core.db import open_database, open_state_database
from tests.botkit import BOT_USERNAME, STAFF_CHAT_ID, TOKEN
from tests.smtp_server import _Controller

ROOT = Path(__file__).resolve().parents[1]
SMTP_USER, SMTP_PASSWORD = "petkomm", "smtp-titok-42"


class _Sink:
    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802
        return "250 OK"


def _authenticator(server, session, envelope, mechanism, auth_data) -> AuthResult:
    def text(value: str | bytes) -> str:
        return value.decode() if isinstance(value, bytes) else value

    ok = isinstance(auth_data, LoginPassword) and (
        text(auth_data.login),
        text(auth_data.password),
    ) == (SMTP_USER, SMTP_PASSWORD)
    return AuthResult(success=ok, handled=False)  # not handled: aiosmtpd answers 535 itself


@pytest.fixture
def smtp_with_login() -> dict[str, str]:
    controller = _Controller(  # binds port 0 and learns the port
        _Sink(),
        hostname="127.0.0.1",
        port=0,
        authenticator=_authenticator,
        auth_require_tls=False,
    )
    controller.start()
    port = controller.port
    yield {
        "PETKOMM_SMTP_HOST": "127.0.0.1",
        "PETKOMM_SMTP_PORT": str(port),
        "PETKOMM_SMTP_SECURITY": "none",
        "PETKOMM_SMTP_USER": SMTP_USER,
        "PETKOMM_SMTP_PASSWORD": SMTP_PASSWORD,
    }
    controller.stop()


@pytest.fixture
async def telegram() -> AsyncIterator[BotApiEmulator]:
    emulator = BotApiEmulator(token=TOKEN, bot_username=BOT_USERNAME)
    await emulator.start()
    emulator.group(STAFF_CHAT_ID, "PÉTKOMM ügyfélszolgálat")
    yield emulator
    await emulator.stop()


@pytest.fixture
async def installed(tmp_path, smtp_with_login, imap_user, telegram) -> dict[str, str]:
    """A working installation's settings: migrated databases, every server reachable."""
    db_path = tmp_path / "data" / "petkomm.sqlite3"
    db_path.parent.mkdir()
    await (await open_database(db_path)).close()
    await (await open_state_database(tmp_path / "data" / "petkomm-state.sqlite3")).close()
    return {
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "PETKOMM_TELEGRAM_API_URL": telegram.base_url,
        "PETKOMM_STAFF_CHAT_ID": str(STAFF_CHAT_ID),
        "PETKOMM_DB": str(db_path),
        **smtp_with_login,
        **imap_user.env,
    }


async def check(settings: dict[str, str]) -> tuple[int, dict[str, str]]:
    """Run `check` as monitoring would; returns the exit code and part -> its line."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PETKOMM_", "TELEGRAM_"))}
    env.update(settings)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "run_bot.py"),
        "check",
        env=env,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert b"Traceback" not in err, err.decode()
    lines = out.decode().splitlines()
    parts = {line[:12].strip(): line[12:].strip() for line in lines}
    return process.returncode, parts


async def test_a_working_installation_is_ok_in_every_part(installed):
    code, parts = await check(installed)
    assert list(parts) == [
        "settings",
        "database",
        "state file",
        "smtp",
        "imap",
        "telegram",
        "staff chat",
    ]
    assert all(line.startswith("OK") for line in parts.values()), parts
    assert code == 0
    assert f"@{BOT_USERNAME}" in parts["telegram"] and "version" in parts["database"]
    assert SMTP_PASSWORD not in str(parts) and TOKEN not in str(parts)


@pytest.mark.parametrize(
    ("setting", "value", "part", "told"),
    [
        ("PETKOMM_SMTP_PASSWORD", "rossz", "smtp", "535"),
        ("PETKOMM_IMAP_PASSWORD", "rossz", "imap", "FAILED"),
        ("PETKOMM_IMAP_FOLDER", "Nincs-Ilyen", "imap", "no folder 'Nincs-Ilyen'"),
        ("TELEGRAM_BOT_TOKEN", "999:WRONGTOKEN", "telegram", "FAILED"),
        ("PETKOMM_STAFF_CHAT_ID", "-100777", "staff chat", "FAILED"),
        ("PETKOMM_SMTP_PORT", "1", "smtp", "FAILED"),
    ],
)
async def test_each_broken_part_is_named_with_its_reason(installed, setting, value, part, told):
    code, parts = await check({**installed, setting: value})
    assert code == 1
    assert parts[part].startswith("FAILED") and told in parts[part], parts
    others = [name for name, line in parts.items() if name != part and line.startswith("FAILED")]
    assert others == []  # only the broken part fails
    assert value not in parts[part] or "Nincs" in value or value == "-100777" or value == "1"


async def test_a_database_that_is_not_migrated_damaged_or_missing_is_named(installed, tmp_path):
    db = Path(installed["PETKOMM_DB"])
    connection = sqlite3.connect(db)
    connection.execute("DELETE FROM schema_migrations WHERE version > 3")
    connection.commit()
    connection.close()
    code, parts = await check(installed)
    assert code == 1 and "at version 3" in parts["database"] and "db migrate" in parts["database"]

    not_a_db = tmp_path / "notes.txt"
    not_a_db.write_text("ez nem adatbázis\n" * 100)
    code, parts = await check(
        {
            **installed,
            "PETKOMM_DB": str(not_a_db),
            "PETKOMM_STATE_DB": installed["PETKOMM_DB"] + "-x",
        }
    )
    assert code == 1 and "not a usable database" in parts["database"]

    code, parts = await check({**installed, "PETKOMM_DB": str(tmp_path / "nincs" / "x.sqlite3")})
    assert code == 1 and "does not exist" in parts["database"]
    assert not (tmp_path / "nincs").exists()  # a check creates nothing


async def test_a_missing_setting_is_the_one_failed_line(installed):
    settings = {k: v for k, v in installed.items() if k != "TELEGRAM_BOT_TOKEN"}
    code, parts = await check(settings)
    assert code == 1
    assert parts == {"settings": "FAILED: TELEGRAM_BOT_TOKEN: is not set"}


@pytest.mark.parametrize(
    ("setting", "value", "unchecked"),
    [
        ("PETKOMM_SUPPORT_PHONE", "call Anna", None),
        ("PETKOMM_SMTP_PORT", "abc", "smtp"),
        ("PETKOMM_SMTP_PORT", "70000", "smtp"),  # was an OverflowError traceback
        ("PETKOMM_IMAP_PORT", "99999", "imap"),  # was accepted
        ("PETKOMM_SMTP_SECURITY", "ssl", "smtp"),
        ("TELEGRAM_BOT_TOKEN", "token", "telegram"),
    ],
)
async def test_a_malformed_setting_exits_2_and_every_other_part_is_still_checked(
    installed, setting, value, unchecked
):
    # Found by the operator trial: exit 1 and only the settings line.
    code, parts = await check({**installed, setting: value})
    assert code == 2
    assert parts["settings"].startswith(f"FAILED: {setting}: ")
    assert ["database", "state file", "smtp", "imap", "telegram"] == [
        name for name in parts if name not in ("settings", "staff chat")
    ]
    for name, line in parts.items():
        if name == unchecked:
            assert line == f"FAILED: not checked: {setting} is malformed"
        elif name != "settings":
            assert line.startswith("OK"), parts


async def test_with_an_import_folder_check_tells_when_the_last_import_finished(installed, tmp_path):
    # Found by the operator trial: nothing told the operator the 06:15 import had failed.
    settings = {**installed, "PETKOMM_IMPORT_FOLDER": str(tmp_path / "export")}
    code, parts = await check(settings)
    assert code == 1
    assert parts["import"].startswith("FAILED: none finished in the last 26 h")
    assert "no import has finished yet" in parts["import"]

    db = Path(installed["PETKOMM_DB"])
    connection = sqlite3.connect(db)
    two_days = time.time() - 50 * 3600
    connection.execute(
        "INSERT INTO import_runs(folder, started_at, finished_at) VALUES (?, ?, ?)",
        ("/srv/export", two_days, two_days + 60),
    )
    connection.commit()
    code, parts = await check(settings)
    assert code == 1 and "(2d ago" in parts["import"] and "FAILED" in parts["import"]

    connection.execute(
        "INSERT INTO import_runs(folder, started_at, finished_at) VALUES (?, ?, ?)",
        ("/srv/export", time.time() - 3 * 3600, time.time() - 3 * 3600 + 60),
    )
    connection.commit()
    connection.close()
    code, parts = await check(settings)
    assert code == 0, parts
    assert parts["import"].startswith("OK: last finished ") and "(2h ago" in parts["import"]
    assert parts["import"].endswith("from /srv/export")

"""`run_bot.py run` as the operator starts it: polling, webhook, SIGTERM."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from botapi_emulator import BotApiEmulator
from core.config import Settings
from service import WebhookOptions, run_service
from tests.botkit import BOT_USERNAME, TOKEN

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def service_env(tmp_path: Path, emulator: BotApiEmulator) -> dict[str, str]:
    return {
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "PETKOMM_TELEGRAM_API_URL": emulator.base_url,
        "PETKOMM_DB": str(tmp_path / "run.sqlite3"),
        "PETKOMM_MAIL_OUTBOX_DIR": str(tmp_path / "mail"),
    }


async def test_the_service_polls_survives_a_failed_command_list_and_stops_on_sigterm(tmp_path):
    async with BotApiEmulator(token=TOKEN, bot_username=BOT_USERNAME) as emulator:
        emulator.fail_next("setMyCommands", error_code=500, description="Internal Server Error")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PETKOMM_", "TELEGRAM_"))}
        env.update(service_env(tmp_path, emulator), PETKOMM_LOG_LEVEL="DEBUG")
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(ROOT / "run_bot.py"),
            "run",
            env=env,
            cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            eva = emulator.private_user(7001, "Éva")
            eva.send_command("start")  # waits in the emulator until the service polls
            reply = await eva.wait_reply(timeout=15)
            assert "PÉTKOMM" in reply.text
        finally:
            process.send_signal(signal.SIGTERM)
            _, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
        log = stderr.decode()
        assert process.returncode == 0, log
        assert "could not set the bot's command list" in log
        assert "stopped" in log and "Traceback" not in log
        assert TOKEN not in log and TOKEN.split(":")[1] not in log  # even at DEBUG


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


async def test_webhook_mode_receives_updates_by_post(tmp_path):
    async with BotApiEmulator(token=TOKEN, bot_username=BOT_USERNAME) as emulator:
        port = free_port()
        stop = asyncio.Event()
        settings = Settings(service_env(tmp_path, emulator))
        hook = WebhookOptions(
            url=f"http://127.0.0.1:{port}/telegram", port=port, secret_token="titok-123"
        )
        service = asyncio.create_task(run_service(settings, webhook=hook, stop=stop))
        try:
            await emulator.wait_for(
                lambda: emulator.webhook_url, timeout=15, what="the webhook to be set"
            )
            eva = emulator.private_user(7002, "Éva")
            eva.send_command("start")
            reply = await eva.wait_reply(timeout=15)
            assert "PÉTKOMM" in reply.text
            assert emulator.calls("getUpdates") == []
            # The load balancer's health check: 200 with counts, never an update's content.
            health = await asyncio.to_thread(_get, f"http://127.0.0.1:{port}/healthz")
            assert health[0] == 200, health
            report = json.loads(health[1])
            assert report["status"] == "ok" and report["waiting_updates"] in (0, 1)
            assert set(report) == {"status", "waiting_updates", "oldest_waiting_seconds"}
        finally:
            stop.set()
            await asyncio.wait_for(service, timeout=30)


async def test_the_webhook_listens_on_the_path_of_its_url(tmp_path):
    # Found by the operator trial: `--webhook-url https://bot.example.hu/hook` listened on
    # /telegram, and Telegram's POST /hook was a 404.
    async with BotApiEmulator(token=TOKEN, bot_username=BOT_USERNAME) as emulator:
        port = free_port()
        stop = asyncio.Event()
        settings = Settings(service_env(tmp_path, emulator))
        hook = WebhookOptions(url=f"http://127.0.0.1:{port}/petkomm/hook", port=port)
        service = asyncio.create_task(run_service(settings, webhook=hook, stop=stop))
        try:
            await emulator.wait_for(
                lambda: emulator.webhook_url, timeout=15, what="the webhook to be set"
            )
            eva = emulator.private_user(7003, "Éva")
            eva.send_command("start")
            assert "PÉTKOMM" in (await eva.wait_reply(timeout=15)).text
            other = await asyncio.to_thread(_post, f"http://127.0.0.1:{port}/telegram")
            assert other == 404
        finally:
            stop.set()
            await asyncio.wait_for(service, timeout=30)


def _post(url: str) -> int:
    request = urllib.request.Request(url, data=b"{}", method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.mark.parametrize(
    ("setting", "told"),
    [
        (
            {"PETKOMM_STAFF_IDS": "12, anna"},
            "PETKOMM_STAFF_IDS: must be numeric Telegram user ids, got 'anna'",
        ),
        (  # read by the texts' facts, checked at start too
            {"PETKOMM_PAYEE_IBAN": "HU43 1177 3016 1111 1018 0000 0000"},
            "PETKOMM_PAYEE_IBAN: is not a valid account number",
        ),
    ],
    ids=["staff-ids", "payee-iban"],
)
def test_a_malformed_setting_stops_the_service_at_once_with_one_line(tmp_path, setting, told):
    import subprocess

    env = {k: v for k, v in os.environ.items() if not k.startswith(("PETKOMM_", "TELEGRAM_"))}
    env.update(
        TELEGRAM_BOT_TOKEN=TOKEN,
        PETKOMM_DB=str(tmp_path / "x.sqlite3"),
        PETKOMM_MAIL_OUTBOX_DIR=str(tmp_path / "mail"),
        **setting,
    )
    result = subprocess.run(
        [sys.executable, str(ROOT / "run_bot.py"), "run"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert told in result.stderr
    assert "Traceback" not in result.stderr

"""A long SMTP outage: staff hear once that mail is failing and once that it works again,
and the operator lists the failed mail and requeues it (`run_bot.py outbox …`)."""

from __future__ import annotations

import getpass
import os
import subprocess
import sys
import time
from pathlib import Path

from core import staff
from core.config import Settings
from core.outbox import (
    ALERT_ATTEMPTS,
    MAIL_FAILING,
    MAIL_RECOVERED,
    MAX_ATTEMPTS,
    queue_code_mail,
    queue_mail,
)
from mailer.sender import OutboxSender
from storage import audit, outbox
from storage.db import open_database

ROOT = Path(__file__).resolve().parents[1]
FROM = "PÉTKOMM Kft. <petkomm@petkomm.hu>"
T0 = 1_795_600_000.0
ME = f"cli:{getpass.getuser()}"


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def run(db_path: Path, *args: str) -> subprocess.CompletedProcess:
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith(("PETKOMM_", "TELEGRAM_"))
    }
    environment["PETKOMM_DB"] = str(db_path)
    return subprocess.run(
        [sys.executable, str(ROOT / "run_bot.py"), *args],
        env=environment,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def queue_answer(db, settings, to="kiss.anna@example.hu", now=T0):
    return await queue_mail(
        db,
        settings,
        kind="answer",
        to=to,
        subject="Re: Csőtörés",
        template="answer",
        context={
            "marker": "",
            "name": None,
            "text": "Kollégánk holnap megy.",
            "ticket_number": "PK-000001",
        },
        now=now,
    )


async def queue_activation(db, settings, now=T0):
    return await queue_code_mail(
        db,
        settings,
        purpose="activation",
        to="eva@example.hu",
        username="eva",
        code="ABCDEFGHJKLMNPQRSTUVWXYZ",
        link="https://t.me/petkomm_bot?start=act_ABCDEFGHJKLMNPQRSTUVWXYZ",
        expires_at="2026. 11. 27. 12:00",
        now=now,
    )


async def outage(sender: OutboxSender, clock: Clock, passes: int) -> None:
    """Passes of the sender an hour apart while nothing listens on the SMTP port."""
    for _ in range(passes):
        clock.now += 3600
        await sender.send_due()


async def topics(db) -> list[str]:
    return [n.topic for n in await staff.pending_notices(db)]


async def test_staff_hear_once_when_retries_pile_up_and_once_when_mail_works_again(db, smtp_server):
    settings = Settings({"PETKOMM_MAIL_FROM": FROM, **smtp_server.env})
    clock = Clock()
    sender = OutboxSender(db, settings, clock=clock)
    await queue_answer(db, settings)
    await queue_answer(db, settings, to="bela@example.hu")
    smtp_server.stop()

    await outage(sender, clock, ALERT_ATTEMPTS - 1)
    assert await topics(db) == []  # a short hiccup is not worth a message
    await outage(sender, clock, 1)
    [notice] = await staff.pending_notices(db)
    assert notice.topic == MAIL_FAILING
    assert notice.details["waiting"] == 2 and notice.details["failed"] == 0  # both wait
    assert (
        "ConnectionRefused" in notice.details["reason"]
        or "connect" in notice.details["reason"].lower()
    )
    await outage(sender, clock, 2 * MAX_ATTEMPTS)  # both given up: still the one notice
    assert await topics(db) == [MAIL_FAILING]
    assert (await outbox.count_by_status(db))["failed"] == 2

    smtp_server.start()
    await queue_answer(db, settings, to="cecil@example.hu", now=clock.now)
    assert await sender.send_due() == 1
    assert await topics(db) == [MAIL_FAILING, MAIL_RECOVERED]
    recovered = (await staff.pending_notices(db))[1]
    assert recovered.details == {"waiting": 0, "failed": 2}
    await queue_answer(db, settings, to="dora@example.hu", now=clock.now)
    assert await sender.send_due() == 1
    assert len(await topics(db)) == 2  # working mail says nothing more

    # A mail refused for good (a 5xx) is its recipient's matter, not the server's: staff
    # hear nothing (issue 10, second round; tests/test_mail_notices.py).
    smtp_server.refuse_next(550, "5.1.1 Mailbox unavailable")
    await queue_answer(db, settings, to="nincs@example.hu", now=clock.now)
    await sender.send_due()
    assert await topics(db) == [MAIL_FAILING, MAIL_RECOVERED]


async def test_the_staff_chat_is_told_and_the_operator_requeues_what_can_be_sent(
    staff_bot, smtp_server, tmp_path
):
    env = await staff_bot()
    settings = Settings({"PETKOMM_MAIL_FROM": FROM, **smtp_server.env})
    # A second connection, as another process would hold: the service's own sender is
    # not woken by it, so this test's sender alone works these mails.
    db = await open_database(env.db.path)
    try:
        clock = Clock()
        sender = OutboxSender(db, settings, clock=clock)
        answer = await queue_answer(db, settings)
        code = await queue_activation(db, settings)
        smtp_server.stop()
        await outage(sender, clock, 2 * MAX_ATTEMPTS)
        assert (await outbox.count_by_status(db))["failed"] == 2

        post = await env.staff_message("A levélküldés akadozik")
        assert "Utolsó hiba" in post.text and "üzemeltetőnek" in post.text
        await env.announcer.run_once()
        failing = [m for m in env.group.replies if "akadozik" in (m.text or "")]
        assert len(failing) == 1  # 24 failed attempts, 2 mails given up: one message

        listed = run(env.db.path, "outbox", "list", "--failed")
        assert listed.returncode == 0, listed.stderr
        assert f"{answer.id}  failed  answer" in listed.stdout
        assert f"{code.id}  failed  activation*" in listed.stdout
        assert "kiss.anna@example.hu" in listed.stdout and "gave up after 12" in listed.stdout
        assert "cannot be requeued" in listed.stdout
        assert "No queued mail." in run(env.db.path, "outbox", "list", "--queued").stdout

        requeued = run(env.db.path, "outbox", "requeue", str(answer.id), str(code.id), "999")
        assert requeued.returncode == 1  # not everything named could be requeued
        assert f"outbox {answer.id} (answer): queued again" in requeued.stdout
        assert f"outbox {code.id} (activation): not requeued" in requeued.stdout
        assert "ask for a new code" in requeued.stdout
        assert "outbox 999: not requeued: no such mail" in requeued.stdout
        mail = await outbox.get_mail(db, answer.id)
        assert (mail.status, mail.attempts) == ("queued", 0)
        entries = await audit.entries(db, None, ME, limit=-1)
        assert [(e.action, e.target, e.details) for e in entries] == [
            ("outbox_requeued", f"outbox {answer.id}", "answer")
        ]
        again = run(env.db.path, "outbox", "requeue", "--all-failed")
        assert again.returncode == 1  # only the code mail is left: nothing requeued
        assert f"outbox {code.id} (activation): not requeued" in again.stdout
        assert again.stdout.strip().endswith("Nothing requeued.")

        smtp_server.start()
        # The command line requeued with the wall clock; the sender probes a server that
        # was down at most an hour apart.
        clock.now = time.time() + 3600
        assert await sender.send_due() == 1
        [delivered] = await smtp_server.wait_for(1)
        assert delivered["Message-ID"] == answer.message_id  # the very mail, as queued
        post = await env.staff_message("A levélküldés helyreállt")
        assert "Végleg sikertelen levelek: 1 db" in post.text
        assert "requeue --all-failed" in post.text and "új kódot" in post.text
        assert "Outbox, queued and failed: 1" in run(env.db.path, "outbox", "list").stdout
    finally:
        await db.close()


def test_requeue_wants_ids_or_all_failed(tmp_path):
    assert run(tmp_path / "x.sqlite3", "db", "migrate").returncode == 0  # an installed database
    result = run(tmp_path / "x.sqlite3", "outbox", "requeue")
    assert result.returncode == 2 and "--all-failed" in result.stderr
    result = run(tmp_path / "x.sqlite3", "outbox", "requeue", "--all-failed")
    assert result.returncode == 1  # nothing to requeue is not a success
    assert result.stdout.strip() == "No failed mail: nothing requeued."
    result = run(tmp_path / "x.sqlite3", "outbox", "list")
    assert result.returncode == 0 and result.stdout.strip() == "No queued and failed mail."

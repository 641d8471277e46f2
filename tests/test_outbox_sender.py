"""The mail worker delivers the outbox to a real SMTP server (aiosmtpd) and to a folder."""

from __future__ import annotations

import asyncio
import logging
from email import message_from_bytes, policy

import pytest

from core.config import Settings
from core.outbox import (
    MAX_ATTEMPTS,
    activation_link,
    mail_subject,
    next_delay,
    queue_code_mail,
)
from mailer.sender import OutboxSender
from storage import outbox

T0 = 1_714_550_400.0
CODE = "ABCDEFGHJKLMNPQRSTUVWXYZ"
FROM = "PÉTKOMM Kft. <petkomm@petkomm.hu>"


class Clock:
    """A wall clock the test moves by hand."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def smtp_settings(server, **extra: str) -> Settings:
    return Settings({"PETKOMM_MAIL_FROM": FROM, **server.env, **extra})


async def queue_activation(db, settings, username="Éva", to="kovacs.eva@example.hu", now=None):
    return await queue_code_mail(
        db,
        settings,
        purpose="activation",
        to=to,
        username=username,
        code=CODE,
        link=activation_link("PetkommBot", "act_tok-123"),
        expires_at="2024. 05. 03. 10:00",
        now=now,
    )


async def test_a_customer_gets_the_activation_mail_exactly_as_queued(db, smtp_server):
    settings = smtp_settings(smtp_server)
    queued = await queue_activation(db, settings, username="<b>&x")
    stored = await outbox.get_by_message_id(db, queued.message_id)  # as queued
    sender = OutboxSender(db, settings)

    assert await sender.send_due() == 1
    [msg] = await smtp_server.wait_for(1)
    [envelope] = smtp_server.envelopes

    assert envelope.mail_from == "petkomm@petkomm.hu"
    assert envelope.rcpt_tos == ["kovacs.eva@example.hu"]
    assert envelope.raw.replace(b"\r\n", b"\n") == stored.raw.replace(b"\r\n", b"\n")
    assert msg["From"].addresses[0].display_name == "PÉTKOMM Kft."
    assert msg["From"].addresses[0].addr_spec == "petkomm@petkomm.hu"
    assert msg["To"] == "kovacs.eva@example.hu"
    assert msg["Message-ID"] == queued.message_id
    assert msg["Auto-Submitted"] == "auto-generated"
    expected_subject = "PÉTKOMM Kft. on-line ügyfélszolgálat – regisztrációjának aktiválása"
    assert mail_subject("activation") == expected_subject
    assert msg["Subject"] == expected_subject
    assert msg.get_content_type() == "multipart/alternative"

    text_part = msg.get_body(("plain",))
    html_part = msg.get_body(("html",))
    link = "https://t.me/PetkommBot?start=act_tok-123"
    for part in (text_part, html_part):
        assert part.get_content_charset() == "utf-8"
        assert part["Content-Transfer-Encoding"] == "quoted-printable"
        body = part.get_content()
        assert "ABCD EFGH JKLM NPQR STUV WXYZ" in body
        assert link in body
        assert "Köszönjük, hogy regisztrált a PÉTKOMM Kft. on-line ügyfélszolgálatán." in body
        assert "2024. 05. 03. 10:00" in body
    assert "<b>&x" in text_part.get_content()
    html = html_part.get_content()
    assert "&lt;b&gt;&amp;x" in html and "<b>&x" not in html

    mail = await outbox.get_mail(db, queued.id)
    assert (mail.status, mail.attempts, mail.last_error) == ("sent", 1, None)


async def test_an_outage_is_retried_with_back_off_and_the_mail_arrives_once(db, smtp_server):
    settings = smtp_settings(smtp_server)
    clock = Clock()
    queued = await queue_activation(db, settings, now=T0)
    smtp_server.stop()  # nothing listens on the port now
    sender = OutboxSender(db, settings, clock=clock)

    assert await sender.send_due() == 0
    mail = await outbox.get_mail(db, queued.id)
    assert (mail.status, mail.attempts, mail.next_attempt_at) == ("queued", 1, T0 + 30)
    assert mail.last_error

    clock.now = T0 + 29  # not due yet: nothing is tried
    assert await sender.send_due() == 0
    assert (await outbox.get_mail(db, queued.id)).attempts == 1

    clock.now = T0 + 30  # still down: the next wait doubles
    assert await sender.send_due() == 0
    mail = await outbox.get_mail(db, queued.id)
    assert (mail.attempts, mail.next_attempt_at) == (2, T0 + 30 + 60)

    smtp_server.start()
    clock.now = T0 + 90
    assert await sender.send_due() == 1
    [msg] = await smtp_server.wait_for(1)
    assert msg["Message-ID"] == queued.message_id  # the same message on every attempt

    clock.now = T0 + 10_000
    assert await sender.send_due() == 0
    assert await sender.send_due() == 0
    restarted = OutboxSender(db, settings, clock=clock)
    assert await restarted.send_due() == 0
    assert len(smtp_server.messages) == 1
    mail = await outbox.get_mail(db, queued.id)
    assert (mail.status, mail.attempts, mail.sent_at) == ("sent", 3, T0 + 90)


async def test_an_outage_pauses_the_pass_instead_of_trying_every_mail(db, smtp_server):
    settings = smtp_settings(smtp_server)
    clock = Clock()
    first = await queue_activation(db, settings, to="a@example.hu", now=T0)
    second = await queue_activation(db, settings, to="b@example.hu", now=T0)
    smtp_server.stop()
    sender = OutboxSender(db, settings, clock=clock)

    assert await sender.send_due() == 0
    assert (await outbox.get_mail(db, first.id)).attempts == 1
    assert (await outbox.get_mail(db, second.id)).attempts == 0  # untouched, still due
    assert await sender.seconds_to_next() == 30

    smtp_server.start()
    clock.now = T0 + 30
    assert await sender.send_due() == 2
    await smtp_server.wait_for(2)


async def test_a_mail_that_never_gets_through_is_failed_after_the_cap(db, smtp_server):
    settings = smtp_settings(smtp_server)
    clock = Clock()
    queued = await queue_activation(db, settings, now=T0)
    smtp_server.stop()
    sender = OutboxSender(db, settings, clock=clock)

    for attempt in range(1, MAX_ATTEMPTS + 1):
        assert await sender.send_due() == 0
        mail = await outbox.get_mail(db, queued.id)
        assert mail.attempts == attempt
        if attempt < MAX_ATTEMPTS:
            assert mail.status == "queued"
            assert mail.next_attempt_at == clock.now + next_delay(attempt)
            clock.now = mail.next_attempt_at
    assert mail.status == "failed"
    assert mail.last_error.startswith(f"gave up after {MAX_ATTEMPTS} attempts")


@pytest.mark.parametrize("stage", ["rcpt", "data"])
async def test_a_permanent_refusal_fails_the_mail_with_the_servers_reason(db, smtp_server, stage):
    settings = smtp_settings(smtp_server)
    clock = Clock()
    queued = await queue_activation(db, settings, now=T0)
    smtp_server.refuse_next(550, "5.1.1 Mailbox unavailable", stage=stage)
    sender = OutboxSender(db, settings, clock=clock)

    assert await sender.send_due() == 0
    mail = await outbox.get_mail(db, queued.id)
    assert (mail.status, mail.attempts) == ("failed", 1)
    assert "550" in mail.last_error and "Mailbox unavailable" in mail.last_error
    assert [m.id for m in await outbox.list_failed(db)] == [queued.id]

    clock.now = T0 + 10**6  # never retried
    assert await sender.send_due() == 0
    assert smtp_server.messages == []
    assert (await outbox.get_mail(db, queued.id)).attempts == 1


@pytest.mark.parametrize("stage", ["rcpt", "data"])
async def test_a_temporary_refusal_is_retried(db, smtp_server, stage):
    settings = smtp_settings(smtp_server)
    clock = Clock()
    queued = await queue_activation(db, settings, now=T0)
    smtp_server.refuse_next(451, "4.3.0 Try again later", stage=stage)
    sender = OutboxSender(db, settings, clock=clock)

    assert await sender.send_due() == 0
    mail = await outbox.get_mail(db, queued.id)
    assert (mail.status, mail.attempts, mail.next_attempt_at) == ("queued", 1, T0 + 30)
    assert "451" in mail.last_error

    clock.now = T0 + 30
    assert await sender.send_due() == 1
    [msg] = await smtp_server.wait_for(1)
    assert msg["Message-ID"] == queued.message_id
    assert (await outbox.get_mail(db, queued.id)).status == "sent"


async def test_the_folder_transport_writes_a_parseable_eml(db, tmp_path):
    folder = tmp_path / "outbox-files"
    settings = Settings({"PETKOMM_MAIL_FROM": FROM, "PETKOMM_MAIL_OUTBOX_DIR": str(folder)})
    queued = await queue_activation(db, settings)
    sender = OutboxSender(db, settings)

    assert await sender.send_due() == 1
    assert [p.name for p in folder.iterdir()] == [f"{queued.id}-activation.eml"]
    msg = message_from_bytes(
        (folder / f"{queued.id}-activation.eml").read_bytes(), policy=policy.default
    )
    assert msg["Message-ID"] == queued.message_id
    assert msg["Subject"] == mail_subject("activation")
    assert "ABCD EFGH" in msg.get_body(("plain",)).get_content()
    assert (await outbox.get_mail(db, queued.id)).status == "sent"
    assert await sender.send_due() == 0
    assert len(list(folder.iterdir())) == 1


async def test_the_running_worker_sends_as_soon_as_a_mail_is_queued(db, smtp_server):
    settings = smtp_settings(smtp_server)
    sender = OutboxSender(db, settings)
    stop = asyncio.Event()
    worker = asyncio.create_task(sender.run(stop))
    try:
        await queue_activation(db, settings, to="a@example.hu")
        await smtp_server.wait_for(1)
        await queue_activation(db, settings, to="b@example.hu")
        await smtp_server.wait_for(2)
    finally:
        stop.set()
        await asyncio.wait_for(worker, timeout=5)
    assert (await outbox.count_by_status(db))["sent"] == 2


async def test_a_login_problem_is_retried_and_neither_password_nor_mailbox_is_logged(
    db, smtp_server, caplog
):
    # The test server offers no AUTH: a configuration problem, not the mail's fault.
    settings = smtp_settings(
        smtp_server, PETKOMM_SMTP_USER="mailer", PETKOMM_SMTP_PASSWORD="s3cret-Pw0rd"
    )
    clock = Clock()
    queued = await queue_activation(db, settings, now=T0)
    sender = OutboxSender(db, settings, clock=clock)
    caplog.set_level("DEBUG", logger="petkomm")  # our logs (aiosqlite stays at INFO: README)

    assert await sender.send_due() == 0
    mail = await outbox.get_mail(db, queued.id)
    assert (mail.status, mail.attempts) == ("queued", 1)
    assert "s3cret-Pw0rd" not in caplog.text and "s3cret-Pw0rd" not in repr(sender.transport)
    assert "kovacs.eva" not in caplog.text
    assert "@example.hu" in caplog.text and f"outbox {queued.id}" in caplog.text
    assert CODE not in caplog.text


async def test_a_failing_round_is_logged_under_the_senders_own_name(db, caplog):
    settings = Settings({"PETKOMM_MAIL_FROM": FROM, "PETKOMM_SMTP_HOST": "127.0.0.1"})
    sender = OutboxSender(db, settings, max_wait=0.01)
    await db.close()  # every round now fails: the database is gone
    failed: list[logging.LogRecord] = []
    seen = asyncio.Event()

    class Failures(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "outbox sender failed" in record.getMessage():
                failed.append(record)
                seen.set()

    watcher = Failures()
    logging.getLogger().addHandler(watcher)
    caplog.set_level("WARNING")
    stop = asyncio.Event()
    worker = asyncio.create_task(sender.run(stop))
    try:
        await asyncio.wait_for(seen.wait(), timeout=5)
    finally:
        stop.set()
        await asyncio.wait_for(worker, timeout=5)
        logging.getLogger().removeHandler(watcher)
    assert failed[0].name == "petkomm.mailer.sender"

"""`python run_bot.py run`: the bot and the mail worker in one process.

Polling by default, a webhook by option; the Bot API base URL comes from
PETKOMM_TELEGRAM_API_URL. SIGTERM or SIGINT stop everything cleanly: the
updater stops fetching, handlers in flight finish, persistence is flushed,
the outbox sender finishes its current mail, the database is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from telegram.ext import Application

from bot.announcer import Announcer
from bot.app import build_application
from core import outbox as outbox_domain
from core import throttle
from core.config import Settings
from core.inbound import TOPIC_SCOPE, InboundContext
from mailer.inbox import InboxReader
from mailer.sender import OutboxSender, transport_from_settings
from storage.db import open_database

log = logging.getLogger(f"petkomm.{__name__}")


@dataclass(frozen=True)
class WebhookOptions:
    url: str  # the public https URL Telegram posts to
    listen: str = "127.0.0.1"
    port: int = 8443
    secret_token: str | None = None


async def start_application(application: Application) -> None:
    """Initialise (getMe), run post_init (command list) and start handling updates."""
    await application.initialize()
    if application.post_init is not None:
        await application.post_init(application)
    await application.start()


async def stop_application(application: Application) -> None:
    """Stop fetching, let handlers finish, flush persistence, free resources."""
    if application.updater is not None and application.updater.running:
        await application.updater.stop()
    if application.running:
        await application.stop()
    await application.shutdown()


async def _housekeeping(db, stop: asyncio.Event, every: float = 3600.0) -> None:  # noqa: ANN001
    """Hourly: forget throttling attempts older than any window."""
    while not stop.is_set():
        try:
            dropped = await throttle.housekeeping(db, time.time(), keep_scopes=(TOPIC_SCOPE,))
            log.debug("housekeeping: %d old throttling rows dropped", dropped)
        except Exception:  # never let housekeeping take the service down
            log.exception("housekeeping failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=every)


def _install_signal_handlers(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):  # not on every platform
            loop.add_signal_handler(sig, stop.set)


async def run_service(
    settings: Settings,
    *,
    webhook: WebhookOptions | None = None,
    extra_workers: list[Callable[[asyncio.Event], Awaitable[None]]] | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Run until SIGTERM/SIGINT (or until `stop` is set, for embedding and tests)."""
    # Every setting is checked before anything starts: a missing one stops here, named.
    token = settings.telegram_token
    api_url = settings.telegram_api_url
    transport = transport_from_settings(settings)
    read_mail = settings.env.get("PETKOMM_IMAP_HOST", "").strip() != ""
    if read_mail:  # the support mailbox is optional; when named, all of it must be right
        settings.imap_port, settings.imap_user, settings.imap_password  # noqa: B018
    db = await open_database(settings.db_path)
    try:
        await _serve(
            settings, db, token, api_url, transport, read_mail, webhook, extra_workers, stop
        )
    finally:
        await db.close()  # always: an open connection's thread would keep the process alive
        log.info("stopped")


async def _serve(
    settings,
    db,
    token,
    api_url,
    transport,
    read_mail,
    webhook,  # noqa: ANN001
    extra_workers,
    stop,
) -> None:
    if stop is None:
        stop = asyncio.Event()
        _install_signal_handlers(stop)
    application = build_application(settings, db, token=token, api_url=api_url)
    sender = OutboxSender(db, settings, transport=transport)
    outbox_domain.set_queue_listener(sender.wake)
    workers: list[asyncio.Task] = []
    try:
        # The workers start once the bot knows its name (getMe): code mails carry deep links.
        await start_application(application)
        workers.append(asyncio.create_task(sender.run(stop), name="outbox-sender"))
        # Tickets into the staff chat, staff answers into customers' chats (bot/announcer.py).
        announcer = Announcer.of(application)
        workers.append(asyncio.create_task(announcer.run(stop), name="staff-announcer"))
        if read_mail:
            services = application.bot_data["services"]
            ctx = InboundContext.from_settings(settings, code_mailer=services.mailer)
            reader = InboxReader(db, settings, ctx=ctx)
            workers.append(asyncio.create_task(reader.run(stop), name="inbox-reader"))
        else:
            log.info("PETKOMM_IMAP_HOST is not set: the support mailbox is not read")
        workers.append(asyncio.create_task(_housekeeping(db, stop), name="housekeeping"))
        for worker in extra_workers or []:
            workers.append(asyncio.create_task(worker(stop)))
        if webhook is None:
            await application.updater.start_polling(drop_pending_updates=False)
            log.info("polling %s as @%s", api_url, application.bot.username)
        else:
            await application.updater.start_webhook(
                listen=webhook.listen,
                port=webhook.port,
                url_path="telegram",
                webhook_url=webhook.url,
                secret_token=webhook.secret_token,
            )
            log.info("webhook %s (listening on %s:%s)", webhook.url, webhook.listen, webhook.port)
        await stop.wait()
        log.info("stopping")
    finally:
        stop.set()
        await stop_application(application)
        for task in workers:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(task, timeout=30)
        outbox_domain.set_queue_listener(None)

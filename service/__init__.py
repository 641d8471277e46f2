"""The composition root: the whole assistant built from `Settings`, with one lifecycle.

`run`, the terminal demo and the test fixtures all build the service here and
override only what they must (the Bot API URL and token, the mail transport,
the clock, how often the staff announcer polls). Nothing else starts a part of
the service: the doors (`bot`, `mailer`) never start each other.

The parts:
- the main database (opened here unless the caller hands one in);
- the bot's own state file beside it (PETKOMM_STATE_DB, always opened here):
  dialogue states and received updates, written by this process alone, so that
  another process holding the main database's write lock (the daily import)
  never stalls a chat; on its first start the main database's old dialogue
  states are carried over into it (`core.chat_state.carry_over`);
- the Telegram application (`bot.app`), its updates received polling or behind a
  webhook into the state file before Telegram is told, and handled from there
  (`bot.updates`: a message being handled survives kill -9);
- the outbox sender (SMTP or a folder), woken whenever a mail is queued;
- the staff announcer (tickets into the staff chat, answers into customers' chats);
- the notifier (new invoices, reminders, payments, outages into customers' chats) and,
  hourly, the due-date reminders pass that queues reminders (`core.notifications`);
- the support-mailbox reader and its processor, when PETKOMM_IMAP_HOST is set;
- hourly housekeeping of old throttling rows, handled updates, effect-journal entries and
  finished notifications (PETKOMM_NOTIFICATION_KEEP_DAYS);
- with PETKOMM_RETENTION_YEARS, a daily purge of what the law no longer asks us to keep
  (`core.retention`: closed tickets, old audit rows and mail older than that many years).

Start order: the Telegram application first (getMe: code mails carry the bot's
name in their deep links), then the workers, then the updates (those the last
run left unfinished first, then fetching). Stop order is the reverse, and every
part is stopped whatever failed before it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass

from bot.announcer import POLL_INTERVAL, Announcer
from bot.app import AssistantApplication, build_application
from bot.notifier import POLL_INTERVAL as NOTIFY_INTERVAL
from bot.notifier import Notifier
from bot.updates import DurableUpdates
from core import chat_state, journal, notifications, retention, throttle, updates
from core.config import Settings
from core.db import Database, open_database, open_state_database
from core.facts import facts_from
from core.inbound import TOPIC_SCOPE, InboundContext
from core.texts import telling
from core.worker import Worker
from mailer.inbox import InboxReader
from mailer.sender import OutboxSender, Transport, transport_from_settings

log = logging.getLogger(f"petkomm.{__name__}")

HOUSEKEEPING_EVERY = 3600.0  # seconds
REMINDERS_EVERY = 3600.0  # seconds between looks for due-date reminders to queue


@dataclass(frozen=True)
class WebhookOptions:
    """Receive updates on a webhook instead of polling."""

    url: str  # the public https URL Telegram posts to
    listen: str = "127.0.0.1"
    port: int = 8443
    secret_token: str | None = None


@dataclass(frozen=True)
class Polling:
    """How getUpdates long-polls (the tests and the demo poll a local emulator quickly)."""

    interval: float = 0.0
    timeout: int = 10


@dataclass(frozen=True)
class Overrides:
    """What a caller may replace; everything else comes from `Settings`."""

    token: str | None = None  # else TELEGRAM_BOT_TOKEN
    api_url: str | None = None  # else PETKOMM_TELEGRAM_API_URL
    transport: Transport | None = None  # else SMTP, or the folder of PETKOMM_MAIL_OUTBOX_DIR
    clock: Callable[[], float] = time.time
    announce_interval: float = POLL_INTERVAL
    notify_interval: float = NOTIFY_INTERVAL  # how often the notifier looks for others' work
    read_mail: bool | None = None  # else: when PETKOMM_IMAP_HOST is set


class Service:
    """Every part of the running assistant; `start` and `stop` it once.

    Built with `open` (from the settings alone) or `build` (around a main database
    the caller opened and closes); both open the state file, which `stop` closes.
    """

    def __init__(
        self,
        settings: Settings,
        db: Database,
        state_db: Database,
        *,
        overrides: Overrides = Overrides(),
        owns_db: bool = False,
    ) -> None:
        """Build every part around open databases (nothing runs yet); `build` and `open`
        do this. `stop` closes `state_db`, and `db` if the service owns it."""
        self.settings = settings
        self.db = db
        self.state_db = state_db
        self._owns_db = owns_db
        self.clock = overrides.clock
        self.api_url = overrides.api_url or settings.telegram_api_url
        self.application: AssistantApplication = build_application(
            settings,
            db,
            state_db,
            token=overrides.token or settings.telegram_token,
            api_url=self.api_url,
            clock=self.clock,
        )
        transport = overrides.transport or transport_from_settings(settings)
        self.sender = OutboxSender(db, settings, transport=transport, clock=self.clock)
        self.announcer = Announcer(
            db,
            self.application.bot,
            staff_chat_id=settings.staff_chat_id,
            answer_days=settings.answer_days,
            clock=self.clock,
            interval=overrides.announce_interval,
            digest_at=settings.digest_time,
            mail_settings=settings,
        )
        self.notifier = Notifier(
            db,
            self.application.bot,
            quiet=notifications.QuietHours(*settings.quiet_hours),
            facts=self.application.services.facts,
            clock=self.clock,
            interval=overrides.notify_interval,
        )
        self.reminders = Worker("due-date reminders", self._remind)
        read_mail = settings.reads_mail if overrides.read_mail is None else overrides.read_mail
        self.reader: InboxReader | None = None
        if read_mail:
            ctx = InboundContext.from_settings(
                settings, code_mailer=self.application.services.mailer
            )
            self.reader = InboxReader(db, settings, ctx=ctx)
        self.updates = DurableUpdates(self.application, state_db, self.clock)
        self.housekeeping = Worker("housekeeping", self._housekeep)
        self.retention: Worker | None = None
        if settings.retention_years is not None:
            self.retention = Worker("retention purge", self._purge_old)
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    @classmethod
    async def build(
        cls,
        settings: Settings,
        db: Database,
        *,
        overrides: Overrides = Overrides(),
        owns_db: bool = False,
    ) -> Service:
        """Open the state file (`settings.state_db_path`) beside the open main database
        `db`, carry the main database's old dialogue states over into it if it is new,
        and build the service around both. Unless it `owns_db`, the caller closes `db`."""
        state_db = await open_state_database(settings.state_db_path)
        try:
            await chat_state.carry_over(state_db, db, overrides.clock())
            return cls(settings, db, state_db, overrides=overrides, owns_db=owns_db)
        except BaseException:
            await state_db.close()
            raise

    @classmethod
    async def open(cls, settings: Settings, *, overrides: Overrides = Overrides()) -> Service:
        """Check the settings, open both databases and build the service around them."""
        settings.check_service()
        facts_from(settings)  # the phones, payee and közlemény pattern the texts show
        if overrides.transport is None:
            transport_from_settings(settings)  # a missing SMTP setting stops us here, named
        db = await open_database(settings.db_path)
        try:
            return await cls.build(settings, db, overrides=overrides, owns_db=True)
        except BaseException:
            await db.close()
            raise

    # --- lifecycle -------------------------------------------------------------------------

    async def start(
        self, *, webhook: WebhookOptions | None = None, polling: Polling = Polling()
    ) -> None:
        """Start the application (getMe, command list), the workers, then fetching updates."""
        application = self.application
        await application.initialize()
        if application.post_init is not None:
            await application.post_init(application)
        await application.start()
        # The workers' texts (chat notices, staff posts, mail) tell this service's facts:
        # each task keeps the context it was started in.
        with telling(application.services.facts):
            self._spawn("outbox-sender", self.sender.run)
            self._spawn("staff-announcer", self.announcer.run)
            self._spawn("notifier", self.notifier.run)
            self._spawn("reminders", self.reminders.run)
            if self.reader is not None:
                self._spawn("inbox-reader", self.reader.run)
            else:
                log.info("PETKOMM_IMAP_HOST is not set: the support mailbox is not read")
            self._spawn("housekeeping", self.housekeeping.run)
            if self.retention is not None:
                self._spawn("retention", self.retention.run)
        if webhook is None:
            await self.updates.start_polling(interval=polling.interval, timeout=polling.timeout)
            log.info("polling %s as @%s", self.api_url, application.bot.username)
        else:
            await self.updates.start_webhook(
                url=webhook.url,
                listen=webhook.listen,
                port=webhook.port,
                secret_token=webhook.secret_token,
            )
            log.info("webhook %s (listening on %s:%s)", webhook.url, webhook.listen, webhook.port)

    async def stop(self) -> None:
        """Stop fetching, finish handlers in flight, flush persistence, stop the workers
        (each finishes the item in hand), close the state file, and the main database
        if it was opened here."""
        self._stop.set()
        application = self.application
        try:
            await self.updates.stop()  # what is stored and not handed over waits for the next run
            # Notifications under way are sent and marked while the bot can still send.
            for task in self._tasks:
                if task.get_name() == "notifier":
                    with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                        await asyncio.wait_for(asyncio.shield(task), timeout=30)
            if application.running:
                await application.stop()
            await application.shutdown()
        finally:
            for task in self._tasks:
                with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                    await asyncio.wait_for(task, timeout=30)
            self._tasks.clear()
            # An open connection's thread would keep the process alive.
            try:
                await self.state_db.close()
            finally:
                if self._owns_db:
                    await self.db.close()

    async def serve(
        self,
        stop: asyncio.Event,
        *,
        webhook: WebhookOptions | None = None,
        polling: Polling = Polling(),
    ) -> None:
        """Start, run until `stop` is set, stop (also when starting failed half-way)."""
        try:
            await self.start(webhook=webhook, polling=polling)
            await stop.wait()
            log.info("stopping")
        finally:
            await self.stop()
            log.info("stopped")

    # --- the parts' loops ----------------------------------------------------------------

    def _spawn(self, name: str, run: Callable[[asyncio.Event], object]) -> None:
        self._tasks.append(asyncio.create_task(run(self._stop), name=name))  # type: ignore[arg-type]

    async def _housekeep(self, stop: asyncio.Event) -> float:
        """Forget throttling attempts older than any window (keeping the self-help memory),
        Telegram updates handled long enough ago that Telegram cannot send them again,
        effect-journal entries older than a week (`core.journal.KEEP`), and notifications
        finished more than PETKOMM_NOTIFICATION_KEEP_DAYS ago (never one still waiting)."""
        now = self.clock()
        dropped = await throttle.housekeeping(self.db, now, keep_scopes=(TOPIC_SCOPE,))
        forgotten = await updates.housekeeping(self.state_db, now)
        journaled = await journal.housekeeping(self.db, now)
        told = await notifications.housekeeping(
            self.db, now, self.settings.notification_keep_days, self.settings.remind_after_days
        )
        if told.deliveries or told.notifications:
            log.info(
                "notifications: forgot %d finished deliveries and %d notifications"
                " older than %d days (PETKOMM_NOTIFICATION_KEEP_DAYS)",
                told.deliveries,
                told.notifications,
                self.settings.notification_keep_days,
            )
        log.debug(
            "housekeeping: %d old throttling rows dropped, %d handled updates and %d"
            " effect-journal entries forgotten",
            dropped,
            forgotten,
            journaled,
        )
        return HOUSEKEEPING_EVERY

    async def remind(self) -> int:
        """Queue the due-date reminders due now (PETKOMM_REMIND_BEFORE_DAYS before an unpaid
        invoice's due date, PETKOMM_REMIND_AFTER_DAYS after it); how many were queued."""
        queued = await notifications.queue_reminders(
            self.db,
            self.clock(),
            self.settings.remind_before_days,
            self.settings.remind_after_days,
        )
        if queued:
            log.info("queued %d due-date reminders", queued)
        return queued

    async def _remind(self, stop: asyncio.Event) -> float:
        await self.remind()
        return REMINDERS_EVERY

    async def _purge_old(self, stop: asyncio.Event) -> float:
        """Remove what is older than PETKOMM_RETENTION_YEARS years (at start, then daily);
        one line with the counts when something went, nothing when nothing did."""
        years = self.settings.retention_years
        assert years is not None  # the loop runs only with the setting
        purged = await retention.purge_for_years(self.db, years, self.clock())
        if purged.total:
            log.info(
                "retention: removed what is older than %s (%d years): %s",
                purged.before.isoformat(),
                years,
                purged.summary(),
            )
        return retention.EVERY


def _install_signal_handlers(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):  # not on every platform
            loop.add_signal_handler(sig, stop.set)


async def run_service(
    settings: Settings,
    *,
    webhook: WebhookOptions | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """`run`: the whole service until SIGTERM/SIGINT (or until `stop` is set, for tests).

    Every setting it needs is checked before anything starts: a missing one
    raises ConfigError here, named.
    """
    service = await Service.open(settings)
    if stop is None:
        stop = asyncio.Event()
        _install_signal_handlers(stop)
    await service.serve(stop, webhook=webhook)


__all__ = ["Overrides", "Polling", "Service", "WebhookOptions", "run_service"]

"""Customer messages made durable: received into the store, handled from it, done with their state.

The receivers (`bot.receiving`: getUpdates or the webhook) store every
update before Telegram is told the bot has it. From there:

- `UpdateFeed` hands the stored updates to the application, oldest first
  (so one customer's stay in order; `bot.ordering` keeps them so), each once
  per process. When the service starts, that includes the updates the last
  run stored but did not finish: they are handled again.
- `DurableApplication` commits each flush of the dialogue state together
  with the done marks of the updates whose handlers finished before it
  (`core.updates.finish`). An update is thus either done with the state it
  left, or waiting with the state from before it: never handled in a state
  it already moved on from, never lost.
- `DurableUpdates` is the lifecycle the composition root starts and stops.

The store and the dialogue states are the bot's own state file (PETKOMM_STATE_DB),
which only this process writes: another process holding the main database's
write lock (the daily import, `tickets reply`) never holds up a customer's
message. A handler's own writes (a report, a login) still go to the main
database and wait for that lock as they must.

What a customer can notice when an update is handled again after a crash is
only a reply the killed run had sent before the commit that marks the update
done: it comes a second time. That window is the time a handler takes to send
its replies. A step whose own write had committed is not done again: the
handlers pass the update's key (`conversations.common.once_key`) to the domain,
which commits each effect with its entry in the effect journal
(`core.journal`), so the step handled again finds what it did (the ticket it
opened, the account it activated) and answers as it did. A wrong guess (a
password, a code) is counted again: the limits err on the safe side. A
secret's message the killed run deleted is deleted again without fuss, and a
button press is handled even though Telegram no longer takes its
acknowledgement (`bot.pacing.Pacer`).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any

from telegram import Update
from telegram.error import TelegramError

from bot.ordering import PerUserUpdateProcessor
from bot.persistence import SqlitePersistence
from bot.receiving import UpdatePoller, WebhookReceiver
from conversations.common import AssistantApplication
from core import updates
from core.db import Database, DatabaseBusy
from core.texts import render
from core.updates import StoredUpdate
from core.worker import Worker, describe

log = logging.getLogger(f"petkomm.{__name__}")

FEED_BATCH = 100  # stored updates read at once
FEED_IDLE = 60.0  # seconds between looks at the store when nobody says something came
FEED_RETRY = 1.0  # seconds before the next look when the state file stayed locked


class DurableApplication(AssistantApplication):
    """The application whose persistence flushes mark the handled updates done with it."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._flushing = asyncio.Lock()

    async def update_persistence(self) -> None:
        """Collect the changed dialogue states (python-telegram-bot's flush) and commit them
        in one transaction with the done marks of the updates whose handlers finished
        before it (the processor's flush after each update, the periodic one, the last)."""
        processor = self.update_processor
        persistence = self.persistence
        assert isinstance(processor, PerUserUpdateProcessor)
        assert isinstance(persistence, SqlitePersistence)
        async with self._flushing:  # one flush at a time: each takes what is its own
            # No await between these two: the updates taken here are exactly those whose
            # state changes the flush below collects (python-telegram-bot takes them at its
            # start, and its own lock is free: every flush comes through here).
            handled = processor.take_handled()
            await super().update_persistence()
            writes = persistence.take_writes()
            if not handled and not writes:
                return
            try:
                # In the persistence's file, the state file: the states and marks together.
                await updates.finish(persistence.db, handled, writes, self.services.now())
            except Exception as error:  # noqa: BLE001 - kept for the next flush, not lost
                log.error(
                    "the dialogue state of updates %s could not be saved (%s); trying again"
                    " with the next one",
                    handled,
                    describe(error),
                )
                persistence.put_back(writes)
                processor.put_back(handled)


class UpdateFeed:
    """Hands the stored updates to the application, oldest first, each once per process.

    `db` is the bot's state file, where the receivers store the updates.
    """

    def __init__(
        self, application: AssistantApplication, db: Database, clock: Callable[[], float]
    ) -> None:
        self.application = application
        self.db = db
        self.clock = clock
        self._after = 0  # the newest stored row handed over (or set aside) so far
        self.worker = Worker(
            "telegram-updates",
            self._round,
            what_failed=lambda: "handing stored Telegram updates to the handlers",
        )

    async def run(self, stop: asyncio.Event) -> None:
        """Until `stop`: woken whenever updates are stored."""
        unlisten = self.db.listen(updates.TOPIC, self.worker.wake)
        try:
            waiting = await updates.waiting_count(self.db)
            if waiting:
                log.info("%d Telegram updates the last run did not finish: handling them", waiting)
            await self.worker.run(stop)
        finally:
            unlisten()

    async def _round(self, stop: asyncio.Event) -> float:
        while not stop.is_set():
            try:
                batch = await updates.take(self.db, self._after, FEED_BATCH, self.clock())
            except DatabaseBusy:  # the state file stayed locked (storage logged by whom)
                return FEED_RETRY  # soon again, not after a growing back-off
            self._after = max(self._after, batch.last)
            for stored in batch.set_aside:
                await self._give_up(stored)
            for stored in batch.handle:
                update = await self._read(stored)
                if update is None:
                    continue
                if stored.attempts > 1:
                    log.info(
                        "Telegram update %d handled again (start %d): a run stopped during it",
                        stored.update_id,
                        stored.attempts,
                    )
                await self.application.update_queue.put(update)
            if len(batch.handle) + len(batch.set_aside) < FEED_BATCH:
                return FEED_IDLE
        return 0.0

    async def _read(self, stored: StoredUpdate) -> Update | None:
        """The stored update for the handlers; an unreadable one is set aside."""
        try:
            update = Update.de_json(json.loads(stored.payload), self.application.bot)
        except Exception as error:  # noqa: BLE001 - one bad update must not stop the rest
            log.error("Telegram update %d cannot be read: %s", stored.update_id, describe(error))
            await updates.set_aside(self.db, stored.update_id, self.clock())
            return None
        return update

    async def _give_up(self, stored: StoredUpdate) -> None:
        """An update no run survived: log it, and tell the customer something went wrong."""
        try:
            chat = Update.de_json(json.loads(stored.payload), self.application.bot).effective_chat
        except Exception:  # noqa: BLE001 - unreadable: then there is nobody to tell
            chat = None
        log.error(
            "Telegram update %d (chat %s) set aside: %d runs stopped while handling it",
            stored.update_id,
            chat.id if chat else "?",
            stored.attempts,
        )
        if chat is not None:
            try:
                await chat.send_message(render("chat/common/error.txt"))
            except TelegramError as exc:
                log.warning("could not tell chat %s about it: %s", chat.id, exc)


class DurableUpdates:
    """Receiving updates into the store and feeding them to the handlers: one start, one stop.

    `db` is the bot's state file (the one its persistence writes).
    """

    def __init__(
        self, application: AssistantApplication, db: Database, clock: Callable[[], float]
    ) -> None:
        self.application = application
        self.db = db
        self.clock = clock
        self.feed = UpdateFeed(application, db, clock)
        self._webhook: WebhookReceiver | None = None
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    async def start_polling(self, *, interval: float, timeout: int) -> None:  # noqa: ASYNC109 - getUpdates' own
        """Handle what the store holds, then long-poll Telegram into it."""
        poller = UpdatePoller(
            self.application.bot, self.db, self.clock, interval=interval, timeout=timeout
        )
        await poller.start()
        self._spawn("telegram-updates", self.feed.run)
        self._spawn("telegram-poller", poller.run)

    async def start_webhook(
        self, *, url: str, listen: str, port: int, secret_token: str | None
    ) -> None:
        """Handle what the store holds, then serve the webhook into it."""
        self._webhook = WebhookReceiver(
            self.application.bot,
            self.db,
            self.clock,
            url=url,
            listen=listen,
            port=port,
            secret_token=secret_token,
        )
        self._spawn("telegram-updates", self.feed.run)
        await self._webhook.start()

    async def stop(self) -> None:
        """Stop receiving and feeding. What is stored and not yet handed over waits in the
        store for the next start; what was handed over is finished by the application's stop."""
        self._stop.set()
        processor = self.application.update_processor
        if isinstance(processor, PerUserUpdateProcessor):
            processor.stop_retrying()  # updates waiting for a locked database: next start
        if self._webhook is not None:
            await self._webhook.stop()
            self._webhook = None
        for task in self._tasks:
            try:
                await asyncio.wait_for(task, timeout=30)
            except (asyncio.CancelledError, TimeoutError):
                log.warning("%s did not stop in time", task.get_name())
        self._tasks.clear()

    def _spawn(self, name: str, run: Callable[[asyncio.Event], Any]) -> None:
        self._tasks.append(asyncio.create_task(run(self._stop), name=name))

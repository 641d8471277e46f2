"""Sends the queued notifications (`core.notifications`) into the customers' chats.

Each delivery is sent once, and a kill -9 at any point loses none:

1. claim: a batch of due deliveries is marked 'sending' in a committed transaction;
2. send: the message goes to Telegram, as a background send (`bot.pacing`), so a
   customer's own conversation goes first and broadcasts use what is left;
3. mark: 'sent' (with Telegram's message id) in its own commit, right after the answer.

A process that dies leaves its claims 'sending'; the next start puts them back in the
queue and sends them (`core.notifications.release_left_claims`). The Bot API has no
way to ask whether a message arrived, so that is the one place a message can come
twice: one that Telegram accepted in the moment before the process died, its mark not
yet committed. Claimed deliveries are mostly still waiting for their turn at the pacer
when a process dies (never sent), so sending them again is right far more often than
not; losing them instead would lose exactly those. The window is kept small: the mark
is committed alone, at once, and the claim takes no more than there are free sending
slots.

Up to `IN_FLIGHT` sends are under way at once, so the sender can use the pacer's
whole allowance (~25 a second) while each call takes its round trip. Telegram's
answers: 403 (the user blocked the bot) stops every notification to that user; 400
(the chat is gone) gives this one up; 429 beyond the pacer's own retries puts the
delivery back and pauses the sender for the time Telegram asks; other failures are
retried with back-off (`core.notifications.failed`).

What is due is looked at when this process queues a delivery (the "notify" topic), and
every `interval` seconds for what other processes (the import, the command line) queued.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from telegram import Bot, InlineKeyboardMarkup
from telegram.error import BadRequest, Forbidden, RetryAfter, TelegramError

from bot import pacing
from conversations import pay
from core import notifications
from core.db import Database, DatabaseBusy
from core.facts import Facts
from core.notifications import Delivery, QuietHours, ToSend
from core.worker import Backoff, Worker

log = logging.getLogger(f"petkomm.{__name__}")

IN_FLIGHT = 25  # sends under way at once
POLL_INTERVAL = 5.0  # seconds between looks for what other processes queued
BACKOFF_MAX = 60.0


def buttons_for(facts: Facts, message: ToSend) -> InlineKeyboardMarkup | None:
    """The buttons under a notification: a Fizetés button for each unpaid invoice (none
    when the payment QR codes are off)."""
    row = [
        button
        for invoice_no in message.payable
        if (button := pay.unpaid_invoice_button(facts, invoice_no)) is not None
    ]
    return InlineKeyboardMarkup([[b] for b in row]) if row else None


class Notifier:
    """Sends due notifications, at most `in_flight` at once, until stopped."""

    def __init__(
        self,
        db: Database,
        bot: Bot,
        *,
        quiet: QuietHours,
        facts: Facts,
        clock: Callable[[], float],
        interval: float = POLL_INTERVAL,
        in_flight: int = IN_FLIGHT,
    ) -> None:
        self.db = db
        self.bot = bot
        self.quiet = quiet
        self.facts = facts
        self.clock = clock
        self.interval = interval
        self.in_flight = in_flight
        self._paused_until = 0.0
        self._worker = Worker(
            "notification sender",
            self._round,
            backoff=Backoff(base=2.0, limit=BACKOFF_MAX),
            what_failed=lambda: "sending notifications",
            logger=log,
        )
        self.sent = 0  # this process's count, for the log and the benchmark
        self._one_round = asyncio.Lock()
        self._released = False  # the claims a dead process left are put back first
        self._stop = asyncio.Event()  # set by `run`'s caller; `run_once` rounds never stop

    def wake(self) -> None:
        """Look at the queue now."""
        self._worker.wake()

    async def run(self, stop: asyncio.Event) -> None:
        """Send until `stop` (the first round puts back what a dead process left claimed)."""
        stop_listening = self.db.listen(notifications.TOPIC, self.wake)
        try:
            await self._worker.run(stop)
        finally:
            stop_listening()

    # --- one round: everything due ---------------------------------------------------------

    async def run_once(self) -> float:
        """One round now (a test's): returns after the loop's current round, and this one,
        are done."""
        return await self._round(self._stop)

    async def _round(self, stop: asyncio.Event) -> float:
        """Send what is due, keeping up to `in_flight` sends under way; the seconds until
        the next delivery is due (at most `interval`). Rounds never overlap."""
        async with self._one_round:
            if not self._released:  # in a round: a database busy at start is retried
                await self._release_left_claims()
                self._released = True
            return await self._send_due(stop)

    async def _release_left_claims(self) -> None:
        left = await notifications.release_left_claims(self.db, self.clock())
        if left:
            log.warning(
                "%d notifications were being sent when the service last stopped: sending them"
                " again (one that Telegram had accepted just before may arrive twice)",
                left,
            )

    async def _send_due(self, stop: asyncio.Event) -> float:
        tasks: set[asyncio.Task[None]] = set()
        try:
            while not stop.is_set() and self.clock() >= self._paused_until:
                free = self.in_flight - len(tasks)
                # Claim in bunches (a quarter of the slots), not one by one: fewer commits.
                if tasks and free < max(1, self.in_flight // 4):
                    await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
                    continue
                batch = await notifications.claim(self.db, self.clock(), free, self.quiet)
                if not batch:
                    break
                for delivery in batch:
                    task = asyncio.create_task(self._deliver(delivery), name="notify-send")
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if tasks:  # those under way finish (and are marked) before the round ends
                await asyncio.gather(*tasks, return_exceptions=True)
        now = self.clock()
        if now < self._paused_until:
            return self._paused_until - now
        due = await notifications.next_due(self.db, now, self.quiet)
        if due is None:
            return self.interval
        return max(0.0, min(self.interval, due - now))

    async def _deliver(self, delivery: Delivery) -> None:
        """Send one claimed delivery and record what became of it."""
        try:
            message = await notifications.message_for(self.db, delivery)
            if isinstance(message, str):
                await notifications.dropped(self.db, delivery, message, self.clock())
                log.info("notification %d not sent: %s", delivery.id, message)
                return
            with pacing.background():
                sent = await self.bot.send_message(
                    delivery.chat_id, message.text, reply_markup=buttons_for(self.facts, message)
                )
        except Forbidden as exc:
            dropped = await notifications.refused_blocked(
                self.db, delivery, _error(exc), self.clock()
            )
            log.info(
                "Telegram user %s blocked the bot: notifications to them stop (%d more dropped)",
                delivery.telegram_user_id,
                dropped,
            )
            return
        except BadRequest as exc:
            await notifications.failed(self.db, delivery, _error(exc), self.clock(), permanent=True)
            log.warning(
                "notification %d (%s of %s) refused by Telegram: %s; given up",
                delivery.id,
                delivery.kind,
                delivery.customer_id,
                exc,
            )
            return
        except RetryAfter as exc:
            wait = exc.retry_after
            seconds = wait if isinstance(wait, int | float) else wait.total_seconds()
            self._paused_until = max(self._paused_until, self.clock() + seconds)
            await notifications.postpone(self.db, [delivery], self.clock() + seconds)
            log.warning("Telegram asked the notifications to wait %.0f s", seconds)
            return
        except Exception as exc:  # noqa: BLE001 - one delivery's failure must not stop the rest
            gave_up = await notifications.failed(
                self.db, delivery, _error(exc), self.clock(), permanent=False
            )
            log.warning(
                "notification %d (%s of %s) not sent (%s)%s",
                delivery.id,
                delivery.kind,
                delivery.customer_id,
                _error(exc),
                "; given up" if gave_up else "; will retry",
            )
            return
        await self._mark_sent(delivery, sent.message_id)

    async def _mark_sent(self, delivery: Delivery, message_id: int) -> None:
        """Record the send; a database busy with an import is waited for, never given up
        (an unmarked send would be sent again after a restart)."""
        while True:
            try:
                await notifications.delivered(self.db, delivery, message_id, self.clock())
                break
            except DatabaseBusy:
                log.warning("notification %d sent; waiting to record it", delivery.id)
        self.sent += 1


def _error(exc: BaseException) -> str:
    if isinstance(exc, TelegramError):
        return f"{type(exc).__name__}: {exc.message}"[:300]
    return f"{type(exc).__name__}: {exc}"[:300]

"""Updates of different customers run concurrently; one customer's run in order.

python-telegram-bot's concurrent mode alone would let a customer's second
message overtake the first (a slow Argon2 login, then a menu press). This
processor keeps one FIFO lock per user (or chat), so a customer's updates are
handled strictly in order while other customers are never delayed. After each
update it flushes the application's persistence, so a conversation's state is
on disk before the next update, and a restart resumes where the customer was.

It also notes which updates' handlers have finished (`take_handled`): the
flush marks those done in the transaction that keeps the state they left
(`bot.updates.DurableApplication`).

An update whose write gave up because another process kept the database's
write lock (the error handler calls `retry_later`) is handled again, still in
its customer's turn, until the lock is gone or `BUSY_GIVE_UP` has passed: a
message is never dropped because of an import or an operator's shell. Should
the service stop meanwhile, the update is left unfinished in the store and
handled at the next start.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

log = logging.getLogger(f"petkomm.{__name__}")

BUSY_RETRY_PAUSE = 1.0  # seconds between tries; each try itself waits up to 30 s for the lock
BUSY_GIVE_UP = 15 * 60.0  # then the customer is told to send it again later


def ordering_key(update: object) -> int | None:
    """The user (or else chat) whose updates must not overtake each other."""
    if isinstance(update, Update):
        if update.effective_user is not None:
            return update.effective_user.id
        if update.effective_chat is not None:
            return update.effective_chat.id
    return None


class PerUserUpdateProcessor(BaseUpdateProcessor):
    """Concurrent across users, sequential within one user."""

    def __init__(self, max_concurrent_updates: int = 256) -> None:
        super().__init__(max_concurrent_updates)
        self._locks: dict[int, asyncio.Lock] = {}
        self._waiting: dict[int, int] = {}
        self.after_update: Callable[[], Awaitable[Any]] | None = None
        self._handled: list[int] = []  # update ids whose handlers finished, not yet flushed
        self._done: dict[int, None] = {}  # recent update ids, oldest first (bounded)
        self._done_event = asyncio.Event()
        # Handling an update again after its write gave up: python-telegram-bot's own
        # process_update, set by the composition root.
        self.reprocess: Callable[[object], Awaitable[Any]] | None = None
        self._retry: set[int] = set()  # update ids whose handling asked to be tried again
        self._busy_since: dict[int, float] = {}  # update id -> first give-up (loop time)
        self._stopping = asyncio.Event()

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        key = ordering_key(update)
        try:
            if key is None:
                await self._handle(update, coroutine)
            else:
                lock = self._locks.setdefault(key, asyncio.Lock())
                self._waiting[key] = self._waiting.get(key, 0) + 1
                try:
                    async with lock:
                        await self._handle(update, coroutine)
                finally:
                    self._waiting[key] -= 1
                    if not self._waiting[key]:  # forget idle users: no growth
                        del self._waiting[key]
                        del self._locks[key]
        finally:
            if isinstance(update, Update):
                self._done[update.update_id] = None
                if len(self._done) > 10_000:
                    del self._done[next(iter(self._done))]
                self._done_event.set()

    async def _handle(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Run the handlers (again while a locked database makes them give up), note the
        update handled, flush the state it left."""
        await coroutine
        if isinstance(update, Update):
            while update.update_id in self._retry:
                self._retry.discard(update.update_id)
                if await self._stopped_within(BUSY_RETRY_PAUSE) or self.reprocess is None:
                    log.info(
                        "update %d is left for the next start: the service stops while the"
                        " database is locked",
                        update.update_id,
                    )
                    return  # not marked handled: the next start handles it again
                await self.reprocess(update)
            self._busy_since.pop(update.update_id, None)
        # No await between the handlers' end (the new dialogue state is in memory from
        # then on) and this note: a flush that takes this id also takes that state.
        if isinstance(update, Update):
            self._handled.append(update.update_id)
        if self.after_update is not None:
            await self.after_update()

    def retry_later(self, update_id: int) -> str | None:
        """The update's write gave up (the database stayed locked): handle it again, in its
        customer's turn. Returns "first" the first time (its customer should hear that it
        is kept), "again" after that, and None once it has been tried for `BUSY_GIVE_UP`:
        then it is not tried again."""
        now = asyncio.get_running_loop().time()
        first = update_id not in self._busy_since
        since = self._busy_since.setdefault(update_id, now)
        if now - since >= BUSY_GIVE_UP:
            self._busy_since.pop(update_id, None)
            return None
        self._retry.add(update_id)
        return "first" if first else "again"

    def stop_retrying(self) -> None:
        """The service stops: updates waiting for the lock are left for the next start."""
        self._stopping.set()

    async def _stopped_within(self, seconds: float) -> bool:
        try:
            await asyncio.wait_for(self._stopping.wait(), seconds)
        except TimeoutError:
            return False
        return True

    def take_handled(self) -> list[int]:
        """The updates whose handlers finished since the last call (for the flush that
        commits the state they left, to mark them done with it)."""
        handled, self._handled = self._handled, []
        return handled

    def put_back(self, handled: list[int]) -> None:
        """Handled updates whose flush failed: the next flush marks them done."""
        self._handled[:0] = handled

    async def wait_processed(self, update_id: int, timeout: float = 15.0) -> None:  # noqa: ASYNC109
        """Wait until the update with this id has been handled (tests and the demo)."""

        async def wait() -> None:
            while update_id not in self._done:
                self._done_event.clear()
                await self._done_event.wait()

        await asyncio.wait_for(wait(), timeout)

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to free."""

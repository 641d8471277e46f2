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
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

log = logging.getLogger(f"petkomm.{__name__}")


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
        """Run the handlers, note the update handled, flush the state it left."""
        await coroutine
        # No await between the handlers' end (the new dialogue state is in memory from
        # then on) and this note: a flush that takes this id also takes that state.
        if isinstance(update, Update):
            self._handled.append(update.update_id)
        if self.after_update is not None:
            await self.after_update()

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

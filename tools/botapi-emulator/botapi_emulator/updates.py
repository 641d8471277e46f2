"""The bot's update queue: getUpdates long polling semantics and delivery tracking."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .errors import conflict

# Update kinds Telegram does not send unless listed in allowed_updates.
OPT_IN_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})


@dataclass
class _Poll:
    event: asyncio.Event = field(default_factory=asyncio.Event)
    superseded: bool = False


class UpdateQueue:
    """Unconfirmed updates, in order.

    An update is *delivered* once it was handed to the bot (in a getUpdates answer or by a
    successful webhook POST) and is dropped once confirmed (a later getUpdates ``offset``,
    or the webhook's 2xx answer).
    """

    def __init__(self, on_change: Callable[[], None], first_update_id: int = 1) -> None:
        self._on_change = on_change
        self._pending: list[dict[str, Any]] = []
        self._next_id = first_update_id
        self._delivered: set[int] = set()
        self._delivery_events: dict[int, asyncio.Event] = {}
        self._arrival_waiters: set[asyncio.Event] = set()
        self._poll: _Poll | None = None
        self.allowed_updates: list[str] | None = None
        self.closed = False

    # -- producing -------------------------------------------------------------------------

    def accepts(self, kind: str) -> bool:
        """Whether the bot currently wants updates of this kind (``allowed_updates``)."""
        if self.allowed_updates:
            return kind in self.allowed_updates
        return kind not in OPT_IN_UPDATES

    def push(self, kind: str, payload: dict[str, Any]) -> int | None:
        """Queue an update; its id, or None when ``allowed_updates`` filters it out."""
        if not self.accepts(kind):
            return None
        update_id = self._next_id
        self._next_id += 1
        self._pending.append({"update_id": update_id, kind: payload})
        self._wake()
        self._on_change()
        return update_id

    def _wake(self) -> None:
        if self._poll is not None:
            self._poll.event.set()
        for waiter in self._arrival_waiters:
            waiter.set()

    # -- consuming -------------------------------------------------------------------------

    @property
    def pending(self) -> list[dict[str, Any]]:
        """Unconfirmed updates, oldest first."""
        return list(self._pending)

    def apply_offset(self, offset: int | None) -> None:
        """getUpdates ``offset``: confirm (drop) earlier updates; negative keeps the last N."""
        if not offset:
            return
        if offset > 0:
            self._pending = [u for u in self._pending if u["update_id"] >= offset]
        else:
            self._pending = self._pending[offset:]

    def confirm(self, update_id: int) -> None:
        """Drop one update (a webhook accepted it)."""
        self._pending = [u for u in self._pending if u["update_id"] != update_id]

    def drop_pending(self) -> None:
        """Forget all unconfirmed updates (``drop_pending_updates=True``)."""
        self._pending.clear()

    async def long_poll(
        self, offset: int | None, limit: int, wait_seconds: float
    ) -> list[dict[str, Any]]:
        """getUpdates: answer at once if updates are queued, else after ``wait_seconds``
        or as soon as one arrives. A newer call ends an older one with 409 Conflict."""
        if self._poll is not None:
            self._poll.superseded = True
            self._poll.event.set()
            self._poll = None
        self.apply_offset(offset)
        if not self._pending and wait_seconds > 0 and not self.closed:
            poll = _Poll()
            self._poll = poll
            try:
                await asyncio.wait_for(poll.event.wait(), wait_seconds)
            except TimeoutError:
                pass
            finally:
                if self._poll is poll:
                    self._poll = None
            if poll.superseded:
                raise conflict(
                    "terminated by other getUpdates request; "
                    "make sure that only one bot instance is running"
                )
        batch = self._pending[:limit]
        self.mark_delivered(u["update_id"] for u in batch)
        return batch

    async def wait_pending(self) -> None:
        """Return once at least one update is queued (or the queue is closed)."""
        while not self._pending and not self.closed:
            waiter = asyncio.Event()
            self._arrival_waiters.add(waiter)
            try:
                await waiter.wait()
            finally:
                self._arrival_waiters.discard(waiter)

    def close(self) -> None:
        """Wake every waiter; pending long polls answer with what they have."""
        self.closed = True
        self._wake()

    # -- delivery tracking -----------------------------------------------------------------

    def mark_delivered(self, update_ids: Any) -> None:
        """Record that these updates reached the bot."""
        changed = False
        for update_id in update_ids:
            if update_id not in self._delivered:
                self._delivered.add(update_id)
                event = self._delivery_events.pop(update_id, None)
                if event is not None:
                    event.set()
                changed = True
        if changed:
            self._on_change()

    def is_delivered(self, update_id: int) -> bool:
        """Whether the update has been handed to the bot."""
        return update_id in self._delivered

    async def wait_delivered(self, update_id: int, wait_seconds: float) -> None:
        """Wait until the update reaches the bot; TimeoutError after ``wait_seconds``."""
        if update_id in self._delivered:
            return
        if update_id >= self._next_id:
            raise ValueError(f"update {update_id} was never queued")
        event = self._delivery_events.setdefault(update_id, asyncio.Event())
        try:
            await asyncio.wait_for(event.wait(), wait_seconds)
        except TimeoutError:
            raise TimeoutError(
                f"update {update_id} was not delivered to the bot within {wait_seconds} s "
                "(is the bot polling, or is its webhook reachable?)"
            ) from None

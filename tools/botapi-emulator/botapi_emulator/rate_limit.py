"""Telegram's flood control for outgoing messages: rolling windows.

Telegram allows a bot about 30 messages a second overall and 20 a minute in one
group; a call over either limit is answered 429 with a ``retry_after``. A limit
of 0 switches that window off (a benchmark measuring the bot itself).
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable


class RollingWindowLimiter:
    """Allows at most ``limit`` events in any rolling ``window`` seconds (0: no limit)."""

    def __init__(
        self,
        limit: int,
        window: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if limit < 0:
            raise ValueError("limit must be 0 (no limit) or more")
        self.limit = limit
        self.window = window
        self._clock = clock
        self._events: deque[float] = deque()

    def retry_after(self) -> int | None:
        """None if one more event fits into the window now, else the whole seconds to wait
        (at least 1) until it would."""
        if not self.limit:
            return None
        now = self._clock()
        while self._events and now - self._events[0] >= self.window:
            self._events.popleft()
        if len(self._events) >= self.limit:
            return max(1, math.ceil(self.window - (now - self._events[0])))
        return None

    def record(self) -> None:
        """Count one event now."""
        if self.limit:
            self._events.append(self._clock())

    def reset(self) -> None:
        """Forget all counted events."""
        self._events.clear()


class PerChatLimiter:
    """One rolling window per chat (Telegram's 20 messages a minute in one group)."""

    def __init__(
        self, limit: int, window: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if limit < 0:
            raise ValueError("limit must be 0 (no limit) or more")
        self.limit = limit
        self.window = window
        self._clock = clock
        self._chats: dict[int, RollingWindowLimiter] = {}

    def _of(self, chat_id: int) -> RollingWindowLimiter:
        limiter = self._chats.get(chat_id)
        if limiter is None:
            limiter = self._chats[chat_id] = RollingWindowLimiter(
                self.limit, self.window, self._clock
            )
        return limiter

    def retry_after(self, chat_id: int) -> int | None:
        """None if one more message to this chat fits now, else the seconds to wait."""
        return self._of(chat_id).retry_after() if self.limit else None

    def record(self, chat_id: int) -> None:
        """Count one message to this chat now."""
        if self.limit:
            self._of(chat_id).record()

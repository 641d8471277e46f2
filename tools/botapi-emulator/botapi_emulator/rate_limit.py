"""Telegram's flood control for outgoing messages: a rolling one-second window."""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable


class RollingWindowLimiter:
    """Allows at most ``limit`` events in any rolling ``window`` seconds."""

    def __init__(
        self,
        limit: int,
        window: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.limit = limit
        self.window = window
        self._clock = clock
        self._events: deque[float] = deque()

    def retry_after(self) -> int | None:
        """None if one more event fits into the window now, else the whole seconds to wait
        (at least 1) until it would."""
        now = self._clock()
        while self._events and now - self._events[0] >= self.window:
            self._events.popleft()
        if len(self._events) >= self.limit:
            return max(1, math.ceil(self.window - (now - self._events[0])))
        return None

    def record(self) -> None:
        """Count one event now."""
        self._events.append(self._clock())

    def reset(self) -> None:
        """Forget all counted events."""
        self._events.clear()

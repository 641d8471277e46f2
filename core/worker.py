"""One small primitive for the service's background loops.

The outbox sender, the mailbox reader and its processor, the staff announcer
and housekeeping all do the same thing: a round of work, then wait until the
round says the next one is due, someone wakes them, or they are told to stop.
A failed round never ends the loop: it backs off by one rule (`Backoff`) and
tries again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

log = logging.getLogger(f"petkomm.{__name__}")

# A round gets the stop event (to stop between two items) and returns how many
# seconds the loop may wait before the next round (0 for at once).
Round = Callable[[asyncio.Event], Awaitable[float]]


@dataclass(frozen=True)
class Backoff:
    """The pause after consecutive failures: base, doubling, capped at `limit`."""

    base: float = 2.0
    limit: float = 300.0

    def delay(self, failures: int) -> float:
        """Seconds to wait after the `failures`-th failure in a row (1 for the first)."""
        return min(self.limit, self.base * 2.0 ** max(failures - 1, 0))


def describe(error: BaseException) -> str:
    """A short, one-line account of a failure for the log."""
    return f"{type(error).__name__}: {str(error)[:200]}".rstrip(": ")


class Worker:
    """Runs `round` until stopped: wakes early on `wake()`, backs off on failures."""

    def __init__(
        self,
        name: str,
        round: Round,  # noqa: A002 - the word the docs use
        *,
        backoff: Backoff = Backoff(),
        what_failed: Callable[[], str] | None = None,
        logger: logging.Logger | None = None,
    ) -> None:
        self.name = name
        self.log = logger or log  # the owner's, so its messages carry the owner's name
        self._round = round
        self.backoff = backoff
        self._what_failed = what_failed or (lambda: name)
        self._wake = asyncio.Event()
        self.failures = 0

    def wake(self) -> None:
        """Start the next round now (a wake-up during a round makes another one follow)."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Rounds until `stop` is set; the round in hand is finished first."""
        self.log.info("%s started", self.name)
        while not stop.is_set():
            self._wake.clear()
            try:
                pause = await self._round(stop)
                self.failures = 0
            except Exception as error:  # noqa: BLE001 - the loop must outlive any one failure
                if stop.is_set():
                    break
                self.failures += 1
                pause = self.backoff.delay(self.failures)
                self.log.warning(
                    "%s failed (%s); trying again in %.0f s",
                    self._what_failed(),
                    describe(error),
                    pause,
                )
                await wait_any(stop, None, pause)  # backing off: a wake-up does not cut it
                continue
            await wait_any(stop, self._wake, pause)
        self.log.info("%s stopped", self.name)


async def wait_any(stop: asyncio.Event, wake: asyncio.Event | None, seconds: float) -> None:
    """Return when `stop` (or `wake`) is set or `seconds` have passed."""
    events = [e for e in (stop, wake) if e is not None]
    if seconds <= 0 or any(e.is_set() for e in events):
        return
    waiters = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*waiters, return_exceptions=True)

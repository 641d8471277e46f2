"""The mail worker's second stage: stored mail into tickets and answers.

The IMAP reader (`mailer.inbox`) only fetches: it stores each new mail raw
as 'received' in `inbound_mails` and moves it off the server. This processor
takes the 'received' mails oldest first (so a reply never overtakes the mail
it answers) and runs each through the domain chain
(`core.inbound.process_stored`), which gives the mail its final status in the
same transaction as its ticket and answers. A slow or failing chain therefore
never holds up fetching, and a crash between the stages loses nothing: what
is stored but not yet processed waits in the table, and `run` starts by
finishing it.

- A mail the chain chokes on is quarantined by the domain, with the reason;
  the queue goes on.
- A database error leaves the mail 'received'; `run` backs off and tries it
  again (the mails after it wait: their order matters).
- Every start on a mail is counted (`attempts`, committed before the work),
  so a mail that keeps failing, or that took the process down with it, is
  quarantined after `max_attempts` starts instead of blocking the queue.

The reader calls `wake()` after each batch it commits. `wait_idle()` returns
once the running processor has found the queue empty (for tests and tools).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Callable

from core import inbound
from core.db import Database
from core.inbound import InboundContext, InboundResult, process_stored, quarantine_stored
from core.worker import Backoff, Worker

log = logging.getLogger(f"petkomm.{__name__}")

MAX_ATTEMPTS = 3  # starts on one mail before it is set aside
BATCH = 100  # ids read from the queue at a time
BACKOFF_BASE = 2.0  # seconds before the first retry after a database error
BACKOFF_MAX = 300.0
IDLE_CHECK = 300.0  # look at the queue now and then even when nobody woke us


class InboundProcessor:
    """Turns stored 'received' mails into tickets, oldest first; `run` keeps at it."""

    def __init__(
        self,
        db: Database,
        *,
        ctx: InboundContext,
        on_result: Callable[[InboundResult], None] | None = None,
        clock: Callable[[], float] = time.time,
        max_attempts: int = MAX_ATTEMPTS,
        batch: int = BATCH,
        backoff_base: float = BACKOFF_BASE,
        backoff_max: float = BACKOFF_MAX,
        idle_check: float = IDLE_CHECK,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.db = db
        self.ctx = ctx
        self.on_result = on_result  # told of every processed mail (e.g. to wake the bot)
        self.clock = clock
        self.max_attempts = max_attempts
        self.batch = batch
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.idle_check = idle_check
        self._stored = asyncio.Event()  # set by wake(): new mail since the last look
        self._idle = asyncio.Event()
        self._worker = Worker(
            "inbound processor",
            self._round,
            backoff=Backoff(base=backoff_base, limit=backoff_max),
            what_failed=lambda: "inbound processing",
            logger=log,
        )
        self._last_error: dict[int, str] = {}  # mail id -> why its last attempt failed

    def wake(self) -> None:
        """New mail was stored: look at the queue soon."""
        self._idle.clear()
        self._stored.set()
        self._worker.wake()

    async def wait_idle(self) -> None:
        """Return once the running processor has found nothing left to do.

        Only meaningful while `run` is running (or after `process_pending`
        returned): nothing else sets it.
        """
        await self._idle.wait()

    # --- the work ---------------------------------------------------------------------
    async def process_pending(self, stop: asyncio.Event | None = None) -> int:
        """Process every waiting mail, oldest first, until none is left; returns how many.

        Mails stored meanwhile are processed too. Stops between two mails once
        `stop` is set. A database error propagates (the mail stays waiting).
        """
        done = 0
        while True:
            self._stored.clear()
            ids = await inbound.waiting_mails(self.db, self.batch)
            if not ids:
                if self._stored.is_set():  # stored while we looked: look again
                    continue
                self._idle.set()
                return done
            for mail_id in ids:
                if stop is not None and stop.is_set():
                    return done
                if await self.process_one(mail_id) is not None:
                    done += 1

    async def process_one(self, mail_id: int) -> InboundResult | None:
        """One waiting mail through the chain (None when it is not waiting any more).

        Raises sqlite3.Error when the database fails; the mail then waits for a retry.
        """
        attempt = await inbound.start_attempt(self.db, mail_id)
        if attempt is None:
            return None
        if attempt > self.max_attempts:
            last = self._last_error.pop(mail_id, "the process stopped while processing it")
            reason = f"processing failed {attempt - 1} times (last: {last})"[:500]
            result = await quarantine_stored(self.db, mail_id, reason)
        else:
            try:
                result = await process_stored(self.db, mail_id, ctx=self.ctx, now=self.clock())
            except sqlite3.Error as error:
                self._last_error[mail_id] = f"{type(error).__name__}: {error}"[:300]
                raise
            self._last_error.pop(mail_id, None)
        if self.on_result is not None:
            try:
                self.on_result(result)
            except Exception:  # a listener's bug must not stall the queue
                log.exception("mail #%d: the on_result listener failed", mail_id)
        return result

    # --- running ----------------------------------------------------------------------
    async def _round(self, stop: asyncio.Event) -> float:
        await self.process_pending(stop)
        return self.idle_check

    async def run(self, stop: asyncio.Event) -> None:
        """Process what waits (a crash may have left some), then whatever the reader stores.

        Runs until `stop` is set; the mail in hand is finished first. Database
        errors back off and retry; nothing else ends the loop.
        """
        await self._worker.run(stop)

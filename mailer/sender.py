"""The mail worker's sending half: delivers queued outbox mails, with retries.

Each mail's bytes were flattened once when it was queued (`core.outbox`); they
go to the server exactly as stored, so every retry carries the same Message-ID.

Outcomes of one attempt:
- accepted → marked sent (per-recipient refusals the server reported are kept
  in `last_error`);
- a permanent refusal of this mail (a 5xx reply to RCPT or DATA), or a mail
  that cannot be put on the wire at all (a ValueError, e.g. a control
  character in the address) → failed at once with the reason, never retried;
- anything else (no connection, timeouts, 4xx, a wrong password, an
  unreachable folder) → retried with `core.outbox.next_delay` back-off, failed
  after `MAX_ATTEMPTS`. Login, greeting and sender-address refusals (and 421,
  "closing") are problems of the server or our configuration, not of the mail,
  so even their 5xx codes are retried.

Each failure is also sorted by whose trouble it is (`core.outbox.Trouble`): the
server's (everyone's mail waits) or this mail's recipient's. Only the server's
count toward an outage, which staff hear of once in their chat, and once again
when it is over (`core.outbox.MailHealth`, with hysteresis); one customer's
refused address is that customer's matter: a failed code mail is told in the
chat of the customer entitled to know (`core.outbox.mark_failed`). Once sent or
given up, a code mail keeps only its headers (`core.outbox.at_rest`).

Crash safety: a mail is marked sent only after the server accepted it, in the
transaction right after `send` returns. A crash in that tiny window (accepted but
not yet committed) makes the restarted worker send that one mail again; SMTP
offers no way to close the window. Everything not confirmed is simply still
queued, so a restart loses nothing.

When the server cannot be reached the pass stops early and the worker pauses
for the same back-off instead of timing out on every queued mail in turn.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parseaddr
from pathlib import Path
from typing import Protocol

import aiosmtplib

from core import outbox
from core.config import Settings
from core.db import OUTBOX_TOPIC, Database
from core.outbox import MAX_ATTEMPTS, MailHealth, OutboxMail, Trouble, next_delay
from core.worker import Backoff, Worker

log = logging.getLogger(f"petkomm.{__name__}")

DEFAULT_TIMEOUT = 30.0  # seconds, per socket operation (aiosmtplib's meaning)
MAX_WAIT = 60.0  # the longest the loop sleeps without looking at the queue
BATCH_SIZE = 50

_KIND = re.compile(r"[^a-z0-9_-]+")
_LOCAL_PART = re.compile(r"[^\s<>\"'@:;,]+@")


# --- transports --------------------------------------------------------------------


class Transport(Protocol):
    """Something that delivers one stored mail or raises."""

    async def deliver(self, mail: OutboxMail, sender: str) -> str | None:
        """Deliver `mail.raw` to `mail.recipient`; return a note on partial refusals."""
        ...


class SmtpTransport:
    """Delivery over SMTP with aiosmtplib, one connection per mail."""

    def __init__(
        self,
        host: str,
        port: int,
        security: str,
        username: str | None = None,
        password: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        if security not in ("none", "starttls", "tls"):
            raise ValueError(f"unknown SMTP security {security!r}")
        self.host = host
        self.port = port
        self.security = security
        self.username = username
        self._password = password
        self.timeout = timeout

    @classmethod
    def from_settings(cls, settings: Settings, timeout: float = DEFAULT_TIMEOUT) -> SmtpTransport:
        """Read PETKOMM_SMTP_* (a missing host raises ConfigError at start-up)."""
        return cls(
            host=settings.smtp_host,
            port=settings.smtp_port,
            security=settings.smtp_security,
            username=settings.smtp_user,
            password=settings.smtp_password,
            timeout=timeout,
        )

    def __repr__(self) -> str:  # never shows the password
        return f"SmtpTransport({self.host}:{self.port}, {self.security})"

    async def deliver(self, mail: OutboxMail, sender: str) -> str | None:
        """Send the stored bytes unchanged; raises aiosmtplib errors on refusal."""
        refused, _reply = await aiosmtplib.send(
            mail.raw,
            sender=sender,
            recipients=[mail.recipient],
            hostname=self.host,
            port=self.port,
            use_tls=self.security == "tls",
            start_tls=self.security == "starttls",
            username=self.username if self.username else None,
            password=self._password if self.username else None,
            timeout=self.timeout,
        )
        if not refused:
            return None
        return "; ".join(
            f"refused {address}: {response.code} {response.message}"
            for address, response in refused.items()
        )


class FolderTransport:
    """Writes each mail as `<outbox id>-<kind>.eml` into a folder (for trials and demos)."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def __repr__(self) -> str:
        return f"FolderTransport({self.folder})"

    async def deliver(self, mail: OutboxMail, sender: str) -> str | None:
        """Write the file atomically: a temporary file in the folder, then a rename."""
        await asyncio.to_thread(self._write, mail)
        return None

    def path_for(self, mail: OutboxMail) -> Path:
        """Where `mail` is (or will be) written."""
        kind = _KIND.sub("_", mail.kind.lower()) or "mail"
        return self.folder / f"{mail.id}-{kind}.eml"

    def _write(self, mail: OutboxMail) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        target = self.path_for(mail)
        fd, temp = tempfile.mkstemp(dir=self.folder, prefix=".outbox-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(mail.raw)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise


def transport_from_settings(settings: Settings, timeout: float = DEFAULT_TIMEOUT) -> Transport:
    """The folder transport when PETKOMM_MAIL_OUTBOX_DIR is set, otherwise SMTP."""
    folder = settings.mail_outbox_dir
    if folder is not None:
        return FolderTransport(folder)
    return SmtpTransport.from_settings(settings, timeout=timeout)


# --- outcomes ----------------------------------------------------------------------


@dataclass(frozen=True)
class _Failure:
    reason: str
    permanent: bool
    server_down: bool  # nothing else will get through either: pause the pass
    trouble: Trouble  # whose problem it is: the server's (an outage) or this mail's


# Replies that concern the server, our login or our sender address, not this mail: every
# mail would get them, so they are retried even when 5xx.
_SERVER_REPLIES = (
    aiosmtplib.SMTPAuthenticationError,
    aiosmtplib.SMTPHeloError,
    aiosmtplib.SMTPConnectResponseError,
    aiosmtplib.SMTPSenderRefused,
)
_UNREACHABLE = (
    aiosmtplib.SMTPConnectError,
    aiosmtplib.SMTPServerDisconnected,
    aiosmtplib.SMTPTimeoutError,
    aiosmtplib.SMTPNotSupported,
    aiosmtplib.SMTPException,  # e.g. "AUTH not supported": our configuration, not the mail
    OSError,
    TimeoutError,
)
SERVICE_CLOSING = 421  # "service not available, closing": the server's, whatever it answers


def _server_failure(reason: str) -> _Failure:
    return _Failure(reason, permanent=False, server_down=True, trouble=Trouble.SERVER)


def _reply_failure(reason: str, code: int) -> _Failure:
    """A reply about this mail (RCPT or DATA): 5xx for good, 4xx for now, 421 the server's."""
    if code == SERVICE_CLOSING:
        return _server_failure(reason)
    if code >= 500:
        return _Failure(reason, permanent=True, server_down=False, trouble=Trouble.REFUSED)
    return _Failure(reason, permanent=False, server_down=False, trouble=Trouble.DEFERRED)


def classify(error: BaseException) -> _Failure:
    """Decide whether a failed attempt is permanent (5xx about this mail) or worth a retry,
    and whether it was the server's trouble (everyone's) or this mail's."""
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused):
        reason = "; ".join(f"{r.code} {r.message}" for r in error.recipients) or str(error)
        codes = [r.code for r in error.recipients]
        return _reply_failure(reason, max(codes) if codes else 400)
    if isinstance(error, _SERVER_REPLIES):
        return _server_failure(f"{error.code} {error.message}")
    if isinstance(error, aiosmtplib.SMTPResponseException):
        return _reply_failure(f"{error.code} {error.message}", error.code)
    reason = f"{type(error).__name__}: {error}".rstrip(": ")
    if isinstance(error, ValueError):
        # The mail itself cannot be put on the wire (e.g. aiosmtplib refuses a control
        # character in the address): every retry would fail the same way.
        return _Failure(reason, permanent=True, server_down=False, trouble=Trouble.REFUSED)
    return _Failure(
        reason,
        permanent=False,
        server_down=isinstance(error, _UNREACHABLE),
        trouble=Trouble.SERVER,
    )


def _domain(address: str) -> str:
    return address.rpartition("@")[2] or "?"


def _for_log(text: str) -> str:
    """A server reason without mailbox names (servers often echo the address)."""
    return _LOCAL_PART.sub("…@", text)[:300]


# --- the worker --------------------------------------------------------------------


class OutboxSender:
    """Sends due outbox mails; `run` keeps doing it until told to stop."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        *,
        transport: Transport | None = None,
        clock: Callable[[], float] = time.time,
        batch_size: int = BATCH_SIZE,
        max_wait: float = MAX_WAIT,
    ) -> None:
        self.db = db
        self.sender = _envelope_sender(settings.mail_from)
        self.transport = transport if transport is not None else transport_from_settings(settings)
        self.clock = clock
        self.batch_size = batch_size
        self.max_wait = max_wait
        self._worker = Worker(
            "outbox sender", self._round, backoff=Backoff(base=2.0, limit=max_wait), logger=log
        )
        self._stop: asyncio.Event | None = None
        self._paused_until = 0.0
        self._outages = 0
        self.health = MailHealth()  # what staff should hear of the server (core.outbox)

    def wake(self) -> None:
        """Look at the queue now; call it from the loop `run` runs in (e.g. after queueing)."""
        self._worker.wake()

    async def send_due(self) -> int:
        """One pass: try every due mail once; returns how many were sent."""
        if self.clock() < self._paused_until:
            return 0
        sent = 0
        while True:
            batch = await outbox.fetch_due(self.db, self.clock(), self.batch_size)
            if not batch:
                return sent
            for mail in batch:
                if self._stop is not None and self._stop.is_set():
                    return sent  # the rest stays queued for the next start
                ok, server_down = await self._attempt(mail)
                sent += ok
                if server_down:
                    return sent

    async def _attempt(self, mail: OutboxMail) -> tuple[bool, bool]:
        """Deliver one mail and record the outcome; returns (sent, server unreachable)."""
        context = f"outbox {mail.id} ({mail.kind}) to @{_domain(mail.recipient)}"
        try:
            note = await self.transport.deliver(mail, self.sender)
        except Exception as error:  # noqa: BLE001 - every failure is recorded; none stops the worker
            failure = classify(error)
            await self._record_failure(mail, failure, context)
            if failure.server_down:
                self._outages += 1
                self._paused_until = self.clock() + next_delay(self._outages)
            return False, failure.server_down
        # Accepted: commit at once, so the resend-on-crash window stays tiny. A code
        # mail keeps no code from here on (core.outbox.at_rest).
        await outbox.mark_sent(self.db, mail, self.clock(), note, health=self.health)
        self._outages = 0
        self._paused_until = 0.0
        if note:
            log.warning("%s sent with refusals: %s", context, _for_log(note))
        else:
            log.info("%s sent (attempt %d)", context, mail.attempts + 1)
        return True, False

    async def _record_failure(self, mail: OutboxMail, failure: _Failure, context: str) -> None:
        attempts = mail.attempts + 1
        now = self.clock()
        trouble, health = failure.trouble, self.health
        if failure.permanent:
            await outbox.mark_failed(
                self.db, mail, failure.reason, now, trouble=trouble, health=health
            )
            log.error("%s refused for good: %s", context, _for_log(failure.reason))
        elif attempts >= MAX_ATTEMPTS:
            reason = f"gave up after {attempts} attempts: {failure.reason}"
            await outbox.mark_failed(self.db, mail, reason, now, trouble=trouble, health=health)
            log.error("%s failed: %s", context, _for_log(reason))
        else:
            delay = next_delay(attempts)
            await outbox.schedule_retry(
                self.db, mail, now + delay, failure.reason, now, trouble=trouble, health=health
            )
            log.warning(
                "%s attempt %d failed, retry in %.0f s: %s",
                context,
                attempts,
                delay,
                _for_log(failure.reason),
            )

    async def seconds_to_next(self) -> float:
        """How long the loop may sleep: until the next due mail or the pause's end, capped."""
        now = self.clock()
        due = await outbox.next_due_at(self.db)
        if due is None:
            return self.max_wait
        wake_at = max(due, self._paused_until)
        return min(max(wake_at - now, 0.0), self.max_wait)

    async def _round(self, stop: asyncio.Event) -> float:
        await self.send_due()
        return await self.seconds_to_next()

    async def run(self, stop: asyncio.Event) -> None:
        """Send, then sleep until the next due mail, a `wake()` or `stop`; until `stop` is set.

        Wakes by itself whenever a mail is queued through this process's database.
        """
        log.info("outbox sender uses %r", self.transport)
        self._stop = stop
        stop_listening = self.db.listen(OUTBOX_TOPIC, self.wake)
        try:
            await self._worker.run(stop)
        finally:
            stop_listening()


def _envelope_sender(mail_from: str) -> str:
    """The bare address for MAIL FROM; bounces come back to our own mailbox."""
    address = parseaddr(mail_from)[1]
    if "@" not in address:
        raise ValueError(f"not an e-mail address: {mail_from!r}")
    return address

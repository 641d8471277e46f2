"""The mail worker's first stage: the support mailbox over IMAP into the database.

The reader's one job is to get every new mail safely into `inbound_mails` and
off the server's inbox as fast as IMAP allows. Turning mails into tickets and
answers is the second stage, `mailer.processor.InboundProcessor`, which reads
the stored mails: the reader owns one, wakes it after each committed batch
and runs it next to itself in `run`. A slow or failing chain never holds up
fetching, and a crash between the stages loses nothing.

One imap-tools `MailBox`, and every blocking call on it goes through one
single-thread executor, so two calls never run on it at once (imap-tools is
synchronous and not thread-safe).

How nothing is lost or repeated (docs/mail-notes.md, "Fetching without losing or
repeating mail"):

- The folder's (UIDVALIDITY, last UID) is kept in `inbox_state`; a poll
  fetches only UIDs above the last one, filtering the `UID last+1:*` answer
  itself (that range always includes the newest message, RFC 3501 6.4.8).
- Each fetched batch is stored in ONE transaction: every mail raw as
  'received' under its Message-ID (read from the header block only; an md5
  stand-in when missing), a Message-ID already known skipped, and the last
  UID moved to the batch's newest. Only after that commit is the batch moved
  to the processed folder (in one UID MOVE per `move_batch` mails, and at the
  end of the poll). A crash in between leaves mails the database already
  knows: they are skipped as duplicates on the next fetch, or, when the last
  UID already passed them, moved on the next connect.
- A new UIDVALIDITY (the folder was recreated) restarts the folder from UID
  0; the Message-ID index turns every mail seen before into a duplicate.
- The reader never parses a body, so no mail can stop it; an unreadable one
  is quarantined by the processor.

A poll with nothing new costs a NOOP and a STATUS, whatever the folder holds
(the folder stays selected; SELECT, which grows with the folder, runs once
per connection). Mails are fetched in batches of UIDs, headers and body in
one `BODY.PEEK[]` (never marked seen), and moved in one UID MOVE per batch.

Between polls the reader waits in IMAP IDLE when the server offers it
(re-issued well within 29 minutes; the event loop watches the socket, so a
stop is noticed at once), otherwise it polls every `poll_interval` seconds. A
broken connection is logged, and the reader backs off and reconnects.
Logs carry UIDs, Message-IDs and ticket numbers, never bodies or passwords.

While one batch is stored (the database thread), the next is already being
fetched (the IMAP thread): the two overlap, and the move of a batch queues in
the IMAP thread behind that fetch, still after its own commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import imaplib
import logging
import re
import ssl
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from imap_tools import BaseMailBox, MailBox, MailBoxStartTls, MailBoxUnencrypted

from core import inbound
from core.config import Settings
from core.db import Database
from core.inbound import InboundContext, InboundResult
from core.worker import Backoff, Worker, wait_any
from mailer.processor import InboundProcessor

log = logging.getLogger(f"petkomm.{__name__}")

T = TypeVar("T")

DEFAULT_PROCESSED_FOLDER = "Processed"
DEFAULT_TIMEOUT = 60.0  # seconds, per socket operation
BATCH_SIZE = 200  # mails per UID FETCH
BATCH_BYTES = 20 * 1024 * 1024  # and at most this much mail per UID FETCH
# Stored mails are moved in one UID MOVE per this many (and at the end of each poll):
# every MOVE costs the server a pass over the folder (Dovecot's maildir rewrites its
# UID list), so few large moves beat one per fetch batch.
MOVE_BATCH = 1000
POLL_INTERVAL = 60.0  # seconds between polls when the server has no IDLE
IDLE_RENEW = 25 * 60.0  # re-issue IDLE before the server's 30-minute limit (RFC 2177)
RESELECT_INTERVAL = 600.0  # seconds: SELECT again now and then, whatever NOOP said
BACKOFF_BASE = 2.0
BACKOFF_MAX = 300.0

_UID = re.compile(rb"\bUID\s+(\d+)", re.IGNORECASE)
_SIZE = re.compile(rb"\bRFC822\.SIZE\s+(\d+)", re.IGNORECASE)
_INTERNALDATE = re.compile(rb'\bINTERNALDATE\s+"[^"]*"', re.IGNORECASE)


def _arrival(line: bytes) -> float | None:
    """The INTERNALDATE of a FETCH response line as unix seconds (None if absent)."""
    match = _INTERNALDATE.search(line)
    moment = imaplib.Internaldate2tuple(match[0]) if match else None
    return time.mktime(moment) if moment else None


class InboxError(Exception):
    """The IMAP server refused something or the connection broke."""


@dataclass(frozen=True)
class FolderStatus:
    """What STATUS tells about the folder."""

    uidvalidity: int
    uidnext: int | None


# --- plain helpers (run in the IMAP thread or anywhere) -------------------------------


def uid_set(uids: Iterable[int]) -> str:
    """`1,2,3,7,9,10` -> `1:3,7,9:10`: short UID sets for long runs of mail."""
    ordered = sorted(set(uids))
    parts: list[str] = []
    start = prev = None
    for uid in ordered:
        if prev is not None and uid == prev + 1:
            prev = uid
            continue
        if start is not None:
            parts.append(str(start) if start == prev else f"{start}:{prev}")
        start = prev = uid
    if start is not None:
        parts.append(str(start) if start == prev else f"{start}:{prev}")
    return ",".join(parts)


def batches(sized: list[tuple[int, int]], max_count: int, max_bytes: int) -> Iterator[list[int]]:
    """UIDs in fetch batches of at most `max_count` mails and (about) `max_bytes`."""
    batch: list[int] = []
    total = 0
    for uid, size in sized:
        if batch and (len(batch) >= max_count or total + size > max_bytes):
            yield batch
            batch, total = [], 0
        batch.append(uid)
        total += size
    if batch:
        yield batch


def _check(result: tuple[str, Any], what: str) -> list[Any]:
    typ, data = result
    if typ != "OK":
        raise InboxError(f"{what}: {typ} {data!r}"[:300])
    return list(data or [])


def _fetch_items(data: list[Any]) -> Iterator[tuple[bytes, bytes | None]]:
    """(response line, literal or None) per FETCH response from imaplib's flat list.

    imaplib gives a tuple (line up to the literal, literal) followed by the rest
    of the line as bytes; a response without a literal comes as bytes alone.
    """
    pending: tuple[bytes, bytes] | None = None
    for item in data:
        if isinstance(item, tuple):
            if pending is not None:
                yield pending
            pending = (bytes(item[0]), bytes(item[1]))
        elif isinstance(item, bytes):
            if pending is not None:
                # The closing part of the same response (may hold UID after the literal).
                yield pending[0] + b" " + item, pending[1]
                pending = None
            elif item.strip() and item.strip() != b")":
                yield item, None
    if pending is not None:
        yield pending


# --- the reader -------------------------------------------------------------------------


class InboxReader:
    """Reads new mail from one IMAP folder into the database; `run` keeps doing it until stopped.

    `processor` (one is made when not given) turns the stored mail into
    tickets; `run` runs it too, and `on_result` is handed to it.
    """

    def __init__(
        self,
        db: Database,
        settings: Settings,
        *,
        ctx: InboundContext,
        folder: str | None = None,
        processed_folder: str | None = DEFAULT_PROCESSED_FOLDER,
        batch_size: int = BATCH_SIZE,
        batch_bytes: int = BATCH_BYTES,
        move_batch: int = MOVE_BATCH,
        poll_interval: float = POLL_INTERVAL,
        use_idle: bool = True,
        idle_renew: float = IDLE_RENEW,
        timeout: float = DEFAULT_TIMEOUT,
        backoff_base: float = BACKOFF_BASE,
        backoff_max: float = BACKOFF_MAX,
        clock: Callable[[], float] = time.time,
        on_result: Callable[[InboundResult], None] | None = None,
        processor: InboundProcessor | None = None,
    ) -> None:
        if not 0 < idle_renew <= 29 * 60:
            raise ValueError("IDLE must be re-issued within 29 minutes (RFC 2177)")
        self.db = db
        self.ctx = ctx
        self.host = settings.imap_host
        self.port = settings.imap_port
        self.security = settings.imap_security
        self.user = settings.imap_user
        self._password = settings.imap_password
        self.folder = folder or settings.imap_folder
        # None: leave processed mail where it is (the cursor alone tracks progress).
        self.processed_folder = processed_folder
        self.batch_size = batch_size
        self.batch_bytes = batch_bytes
        self.move_batch = move_batch
        self.poll_interval = poll_interval
        self.use_idle = use_idle
        self.idle_renew = idle_renew
        self.timeout = timeout
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.clock = clock
        # The second stage; told after each committed batch.
        self.processor = processor or InboundProcessor(
            db,
            ctx=ctx,
            on_result=on_result,
            clock=clock,
            backoff_base=backoff_base,
            backoff_max=backoff_max,
        )
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="imap")
        self._mailbox: BaseMailBox | None = None
        self._sweep_due = True  # move processed leftovers once per connection
        self._selected_uidvalidity: int | None = None  # these two: the IMAP thread only
        self._selected_at = 0.0
        self._stop: asyncio.Event | None = None
        self._worker = Worker(
            "inbox reader",
            self._round,
            backoff=Backoff(base=backoff_base, limit=backoff_max),
            what_failed=lambda: f"IMAP {self.host}:{self.port}",
            logger=log,
        )

    def __repr__(self) -> str:  # never shows the password
        return f"InboxReader({self.user}@{self.host}:{self.port}/{self.folder}, {self.security})"

    # --- the IMAP thread ---------------------------------------------------------------
    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run one blocking IMAP step in the reader's single IMAP thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args))

    def _open(self) -> BaseMailBox:
        """Connect, log in, learn the capabilities, make sure the folders exist."""
        if self.security == "none":
            mailbox: BaseMailBox = MailBoxUnencrypted(self.host, self.port, timeout=self.timeout)
        elif self.security == "starttls":
            mailbox = MailBoxStartTls(
                self.host, self.port, timeout=self.timeout, ssl_context=ssl.create_default_context()
            )
        else:
            mailbox = MailBox(
                self.host, self.port, timeout=self.timeout, ssl_context=ssl.create_default_context()
            )
        self._selected_uidvalidity = None
        try:
            mailbox.login(self.user, self._password, initial_folder=None)
            # The greeting's capabilities predate the login; servers add MOVE and more after it.
            capabilities = _check(mailbox.client.capability(), "CAPABILITY")
            if capabilities and isinstance(capabilities[-1], bytes):
                mailbox.client.capabilities = tuple(capabilities[-1].decode().upper().split())
            if self.processed_folder and not mailbox.folder.exists(self.processed_folder):
                mailbox.folder.create(self.processed_folder)
        except BaseException:
            _close_quietly(mailbox)
            raise
        return mailbox

    def _status(self, mailbox: BaseMailBox) -> FolderStatus:
        """The folder's UIDVALIDITY and UIDNEXT, selecting it when needed.

        SELECT grows with the folder (Dovecot: about 1 ms per 1 000 mails) while
        NOOP and STATUS do not, so the folder stays selected (IDLE needs that
        anyway) and each poll costs one NOOP and one STATUS. STATUS answers from
        the session's view: NOOP first brings the view up to date, and a server
        complaint there (the folder was deleted under us), a changed UIDVALIDITY
        or `RESELECT_INTERVAL` since the last SELECT select the folder afresh.
        """
        client = mailbox.client
        # Unsolicited EXISTS/RECENT/FETCH lines pile up in imaplib; none is needed here.
        client.untagged_responses.clear()
        if self._selected_uidvalidity is not None:
            _check(client.noop(), "NOOP")
            troubled = any(key in client.untagged_responses for key in ("NO", "BAD", "BYE"))
            if troubled or time.monotonic() - self._selected_at > RESELECT_INTERVAL:
                self._selected_uidvalidity = None
        if self._selected_uidvalidity is None:
            return self._select(mailbox)
        status = mailbox.folder.status(self.folder, ["UIDVALIDITY", "UIDNEXT"])
        if status["UIDVALIDITY"] != self._selected_uidvalidity:
            return self._select(mailbox)
        return FolderStatus(status["UIDVALIDITY"], status.get("UIDNEXT"))

    def _select(self, mailbox: BaseMailBox) -> FolderStatus:
        """SELECT the folder; its answer carries UIDVALIDITY and UIDNEXT."""
        client = mailbox.client
        client.untagged_responses.clear()
        mailbox.folder.set(self.folder)
        uidvalidity = _first_int(client.response("UIDVALIDITY")[1])
        uidnext = _first_int(client.response("UIDNEXT")[1])
        if uidvalidity is None:  # a server that does not say it on SELECT
            status = mailbox.folder.status(self.folder, ["UIDVALIDITY", "UIDNEXT"])
            uidvalidity, uidnext = status["UIDVALIDITY"], status.get("UIDNEXT")
        self._selected_uidvalidity = uidvalidity
        self._selected_at = time.monotonic()
        return FolderStatus(uidvalidity, uidnext)

    def _list_new(self, mailbox: BaseMailBox, last_uid: int) -> list[tuple[int, int]]:
        """(UID, size) of every mail above `last_uid`, oldest first."""
        data = _check(
            mailbox.client.uid("FETCH", f"{last_uid + 1}:*", "(UID RFC822.SIZE)"), "UID FETCH"
        )
        found: dict[int, int] = {}
        for line, _literal in _fetch_items(data):
            uid = _UID.search(line)
            size = _SIZE.search(line)
            # `last+1:*` always includes the newest mail, even when it is not new.
            if uid and int(uid[1]) > last_uid:
                found[int(uid[1])] = int(size[1]) if size else 0
        return sorted(found.items())

    def _fetch(
        self, mailbox: BaseMailBox, uids: list[int]
    ) -> list[tuple[int, bytes, float | None]]:
        """(UID, raw bytes, arrival) of these mails, without marking them seen (BODY.PEEK)."""
        data = _check(
            mailbox.client.uid("FETCH", uid_set(uids), "(UID INTERNALDATE BODY.PEEK[])"), "FETCH"
        )
        wanted = set(uids)
        mails: dict[int, tuple[bytes, float | None]] = {}
        for line, literal in _fetch_items(data):
            uid = _UID.search(line)
            if uid and literal is not None and int(uid[1]) in wanted:
                mails[int(uid[1])] = (literal, _arrival(line))
        return [(uid, raw, arrived) for uid, (raw, arrived) in sorted(mails.items())]

    def _move(self, mailbox: BaseMailBox, uids: list[int]) -> None:
        """Move processed mail out of the folder (UID MOVE, or COPY + delete)."""
        if uids and self.processed_folder:
            mailbox.move(uid_set(uids), self.processed_folder)

    def _uids_up_to(self, mailbox: BaseMailBox, last_uid: int) -> list[int]:
        """Mails still in the folder although the cursor passed them (a crash before the move)."""
        found = mailbox.uids(f"UID 1:{last_uid}")
        return [int(uid) for uid in found if int(uid) <= last_uid]

    def _idle_start(self, mailbox: BaseMailBox) -> list[bytes]:
        """Enter IDLE; returns what the server already said (it may be in our buffer)."""
        mailbox.idle.start()
        return _drain(mailbox)

    def _idle_stop(self, mailbox: BaseMailBox) -> None:
        mailbox.idle.stop()

    # --- connection ----------------------------------------------------------------------
    async def _connection(self) -> BaseMailBox:
        if self._mailbox is None:
            self._mailbox = await self._call(self._open)
            self._sweep_due = True
            log.info("IMAP connected: %r", self)
        return self._mailbox

    def _drop_connection(self) -> None:
        """Forget the connection; its logout runs in the IMAP thread after whatever is there."""
        mailbox, self._mailbox = self._mailbox, None
        if mailbox is not None:
            with contextlib.suppress(RuntimeError):  # the executor is already shut down
                self._executor.submit(_close_quietly, mailbox)

    async def close(self) -> None:
        """Log out and stop the IMAP thread."""
        mailbox, self._mailbox = self._mailbox, None
        if mailbox is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._call(_close_quietly, mailbox), self.timeout)
        self._executor.shutdown(wait=False, cancel_futures=True)

    # --- one poll --------------------------------------------------------------------------
    async def poll_once(self) -> int:
        """Fetch and store every mail that is new since the last poll; returns how many.

        The count includes mails recognised as stored before (by Message-ID).
        Processing them is the processor's job (woken after each batch).

        Raises InboxError or OSError (after dropping the connection) when the
        server fails; what was committed before stays committed.
        """
        try:
            return await self._poll()
        except BaseException:
            self._drop_connection()
            raise

    async def _poll(self) -> int:
        reused = self._mailbox is not None
        mailbox = await self._connection()
        try:
            status = await self._call(self._status, mailbox)
        except (imaplib.IMAP4.abort, OSError) as error:
            if not reused:
                raise
            # A connection that went stale while we waited (a server timeout, the
            # folder deleted under the session): one fresh try before giving up.
            log.info("IMAP connection lost while idle (%s); reconnecting", str(error)[:200])
            self._drop_connection()
            mailbox = await self._connection()
            status = await self._call(self._status, mailbox)
        last_uid = await self._cursor(status)
        if self._sweep_due:
            await self._sweep(mailbox, last_uid)
        if status.uidnext is not None and status.uidnext <= last_uid + 1:
            return 0  # nothing new: one STATUS was the whole cost
        new = await self._call(self._list_new, mailbox, last_uid)
        count = 0
        stored: list[int] = []  # committed, not yet moved
        # One batch is fetched ahead: the IMAP thread reads it while this one is stored.
        pending = iter(batches(new, self.batch_size, self.batch_bytes))
        ahead = self._fetch_ahead(mailbox, next(pending, None))
        try:
            while ahead is not None:
                mails = await ahead
                ahead = None
                if self._stop is not None and self._stop.is_set():
                    break
                ahead = self._fetch_ahead(mailbox, next(pending, None))
                done = await self._store(mails, status.uidvalidity)
                count += len(done)
                stored += done
                if len(stored) >= self.move_batch:
                    await self._move_processed(mailbox, stored)
                    stored = []
            await self._move_processed(mailbox, stored)
        finally:
            if ahead is not None:  # stopped or failed: nobody wants that batch any more
                ahead.cancel()
                with contextlib.suppress(BaseException):
                    await ahead
        return count

    def _fetch_ahead(
        self, mailbox: BaseMailBox, uids: list[int] | None
    ) -> asyncio.Future[list[tuple[int, bytes, float | None]]] | None:
        """Start fetching a batch in the IMAP thread (None when there is none)."""
        if uids is None:
            return None
        return asyncio.ensure_future(self._call(self._fetch, mailbox, uids))

    async def _cursor(self, status: FolderStatus) -> int:
        """The last UID read in this folder; restarts at 0 under a new UIDVALIDITY."""
        state = await inbound.folder_cursor(self.db, self.folder)
        if state is not None and state.uidvalidity == status.uidvalidity:
            return state.last_uid
        if state is not None:
            log.warning(
                "IMAP folder %s: UIDVALIDITY changed %d -> %d; reading it again from the start"
                " (mails seen before are recognised by Message-ID)",
                self.folder,
                state.uidvalidity,
                status.uidvalidity,
            )
        await inbound.restart_folder(self.db, self.folder, status.uidvalidity, self.clock())
        return 0

    async def _sweep(self, mailbox: BaseMailBox, last_uid: int) -> None:
        """Move mails the cursor already passed (committed, but not moved before a crash)."""
        if self.processed_folder and last_uid > 0:
            leftovers = await self._call(self._uids_up_to, mailbox, last_uid)
            if leftovers:
                log.info("IMAP moving %d processed mail(s) left behind", len(leftovers))
                await self._call(self._move, mailbox, leftovers)
        self._sweep_due = False

    async def _store(
        self, mails: list[tuple[int, bytes, float | None]], uidvalidity: int
    ) -> list[int]:
        """A fetched batch into the queue with the cursor past it, in one transaction.

        Returns the UIDs stored (or recognised); then wakes the processor.
        """
        if not mails:
            return []
        newest = max(uid for uid, _raw, _arrived in mails)
        added = await inbound.store_batch(
            self.db, mails, folder=self.folder, uidvalidity=uidvalidity, now=self.clock()
        )
        self.processor.wake()
        log.info(
            "IMAP %s uid %d-%d: %d mail(s) stored%s",
            self.folder,
            mails[0][0],
            newest,
            added,
            f", {len(mails) - added} seen before" if added < len(mails) else "",
        )
        return [uid for uid, _raw, _arrived in mails]

    async def _move_processed(self, mailbox: BaseMailBox, uids: list[int]) -> None:
        """Move committed mails to the processed folder (a failure only leaves duplicates)."""
        if uids and self.processed_folder:
            await self._call(self._move, mailbox, uids)

    # --- waiting between polls ---------------------------------------------------------------
    async def _wait_for_news(self, stop: asyncio.Event) -> None:
        """IDLE until the server reports something (or it is time to renew), or poll later."""
        mailbox = self._mailbox
        if not self.use_idle or mailbox is None or "IDLE" not in mailbox.client.capabilities:
            await wait_any(stop, None, self.poll_interval)
            return
        try:
            said = await self._call(self._idle_start, mailbox)
            if not said:
                await _readable(mailbox.client.sock, stop, self.idle_renew)
            await self._call(self._idle_stop, mailbox)
        except BaseException:
            self._drop_connection()
            raise

    async def run(self, stop: asyncio.Event) -> None:
        """Poll, then wait for news; until `stop` is set. Failures back off and reconnect.

        The processor runs alongside (it first finishes what a crash left
        behind) and stops with the reader, after the mail in hand.
        """
        log.info("inbox reader reads %r", self)
        self._stop = stop
        processing = asyncio.create_task(self.processor.run(stop), name="inbound-processor")
        try:
            await self._worker.run(stop)
        finally:
            await self.close()
            if stop.is_set():
                await processing  # it stops after the mail in hand
            else:  # cancelled
                processing.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await processing

    async def _round(self, stop: asyncio.Event) -> float:
        """Fetch what is new, then wait for news; the next round follows at once."""
        await self.poll_once()
        if not stop.is_set():
            await self._wait_for_news(stop)
        return 0.0


# --- small helpers --------------------------------------------------------------------------


def _first_int(values: list[Any] | None) -> int | None:
    for value in values or []:
        if isinstance(value, bytes | str):
            text = value.decode() if isinstance(value, bytes) else value
            if text.strip().isdigit():
                return int(text)
    return None


def _drain(mailbox: BaseMailBox) -> list[bytes]:
    """Lines the server already sent (buffered or on the socket), without waiting."""
    client = mailbox.client
    sock = client.sock
    previous = sock.gettimeout()
    sock.settimeout(0)
    lines: list[bytes] = []
    try:
        while True:
            try:
                lines.append(client._get_line())  # noqa: SLF001 - imaplib reads no line otherwise
            except (TimeoutError, OSError, imaplib.IMAP4.abort):
                break
    finally:
        sock.settimeout(previous)
    return lines


async def _readable(sock: Any, stop: asyncio.Event, seconds: float) -> None:
    """Wait until the socket has data, `stop` is set or `seconds` passed (in the event loop)."""
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[None] = loop.create_future()

    def on_readable() -> None:
        if not ready.done():
            ready.set_result(None)

    fd = sock.fileno()
    loop.add_reader(fd, on_readable)
    stopper = asyncio.ensure_future(stop.wait())
    try:
        waiters: list[asyncio.Future[Any]] = [ready, stopper]
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        loop.remove_reader(fd)
        stopper.cancel()
        ready.cancel()
        await asyncio.gather(stopper, return_exceptions=True)


def _close_quietly(mailbox: BaseMailBox) -> None:
    """Log out, or at least close the socket; never raises."""
    try:
        mailbox.logout()
    except Exception:  # noqa: BLE001 - a broken connection cannot log out
        with contextlib.suppress(Exception):
            mailbox.client.shutdown()

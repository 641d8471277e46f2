"""Receiving Telegram's updates into the store, before Telegram is told the bot has them.

Telegram forgets an update once the bot confirms it: by asking getUpdates
for a higher offset, or by answering the webhook's POST with 200.
python-telegram-bot's Updater confirms what it has merely fetched, so a
process killed mid-answer lost the message. These two receivers confirm
only what `core.updates.store` has committed; the handlers take the updates
from the store (`bot.updates.UpdateFeed`).

- `UpdatePoller`: getUpdates (long polling); each batch is stored in one
  transaction, and only then is the next getUpdates, whose offset confirms
  it, sent. A failed store sends the same offset again: nothing is skipped.
  While another process holds the state file's write lock, it fetches again
  every second (new messages too) and tries again (`bot.waiting.StoreWaiting`
  tells the waiting chats).
- `WebhookReceiver`: a small tornado server; each POST is checked (secret
  token, JSON with an update_id), stored, and only then answered 200. A
  store that fails answers 500 (503 when the state file stayed locked), and
  Telegram sends the update again.

An update Telegram sends twice (the bot died between storing and
confirming) is recognised by its id and stored once. Logs carry update ids,
never an update's content. The store is the bot's own state file
(PETKOMM_STATE_DB), which no other process writes: storing never waits for the
main database's write lock (the daily import may hold it for a while).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import re
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import TypeVar
from urllib.parse import urlsplit

import tornado.web
from telegram import Bot
from telegram.error import TelegramError, TimedOut
from tornado.httpserver import HTTPServer

from bot.waiting import STORE_ATTEMPT, StoreWaiting
from core import updates
from core.db import Database
from core.worker import Backoff, Worker

log = logging.getLogger(f"petkomm.{__name__}")

T = TypeVar("T")

WEBHOOK_PATH = "/telegram"  # what the examples use; the server listens on the URL's own path
HEALTH_PATH = "/healthz"  # for the load balancer: GET, 200 or 503, JSON
STUCK_AFTER = 300.0  # seconds an update may wait to be handled before the bot is unhealthy
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# A failed getUpdates is retried soon: customers are waiting (the mail worker waits longer).
POLL_BACKOFF = Backoff(base=1.0, limit=30.0)


async def _unless_stopped(stop: asyncio.Event, work: Awaitable[T]) -> T | None:
    """`work`'s result, or None as soon as `stop` is set (the work is cancelled then)."""
    task = asyncio.ensure_future(work)
    stopped = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait((task, stopped), return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
    if task.done():
        return task.result()
    task.cancel()  # a long poll cut short: whatever it brought is fetched again next time
    with contextlib.suppress(asyncio.CancelledError, TelegramError):
        await task
    return None


class UpdatePoller:
    """Long-polls getUpdates; stores each batch before the next call confirms it."""

    def __init__(
        self,
        bot: Bot,
        db: Database,
        clock: Callable[[], float],
        *,
        interval: float = 0.0,
        timeout: int = 10,
    ) -> None:
        self.bot = bot
        self.db = db
        self.clock = clock
        self.interval = interval  # seconds between two getUpdates
        self.timeout = timeout  # seconds Telegram holds a getUpdates open
        self._offset: int | None = None  # the next update wanted; None: the oldest unconfirmed
        self.storing = StoreWaiting(db, bot)
        self.worker = Worker(
            "telegram-poller",
            self._round,
            backoff=POLL_BACKOFF,
            what_failed=lambda: "fetching Telegram updates",
        )

    async def start(self) -> None:
        """Make sure no webhook is set (getUpdates does not work beside one)."""
        await self.bot.delete_webhook(drop_pending_updates=False)

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until `stop`; then confirm what was stored, so it is not fetched again."""
        await self.worker.run(stop)
        if self._offset is not None:
            try:
                await self.bot.get_updates(offset=self._offset, timeout=0, limit=1)
            except TelegramError as exc:  # it comes again and is recognised as stored
                log.warning("could not confirm the last Telegram updates: %s", exc)

    async def _round(self, stop: asyncio.Event) -> float:
        try:
            fetched = await _unless_stopped(
                stop, self.bot.get_updates(offset=self._offset, timeout=self.timeout)
            )
        except TimedOut:  # the long poll outlived the connection: simply ask again
            return 0.0
        if not fetched:
            return self.interval
        added = await self.storing.store(
            [(u.update_id, u.to_json()) for u in fetched], self.clock(), within=STORE_ATTEMPT
        )
        if added is None:  # the state file is locked: fetch again (and what came since)
            return 0.0
        # Stored and committed: the next getUpdates may confirm them.
        self._offset = fetched[-1].update_id + 1
        log.debug(
            "stored Telegram updates %d-%d (%d new)",
            fetched[0].update_id,
            fetched[-1].update_id,
            added,
        )
        return self.interval


def parse_update(body: bytes) -> tuple[int, str]:
    """A webhook body's update id and JSON text; ValueError unless it is an update."""
    text = body.decode("utf-8")  # UnicodeDecodeError is a ValueError
    data = json.loads(text)
    update_id = data.get("update_id") if isinstance(data, dict) else None
    if not isinstance(update_id, int) or isinstance(update_id, bool):
        raise ValueError("not a Telegram update")
    return update_id, text


def webhook_path(url: str) -> str:
    """The path Telegram posts to, as `--webhook-url` names it (no trailing slash):
    `https://bot.example.hu/hook` -> `/hook`; a URL without one posts to `/`."""
    return urlsplit(url).path.rstrip("/")


class WebhookReceiver:
    """Serves the webhook: each update is stored before its POST is answered 200."""

    def __init__(
        self,
        bot: Bot,
        db: Database,
        clock: Callable[[], float],
        *,
        url: str,
        listen: str,
        port: int,
        secret_token: str | None,
    ) -> None:
        self.bot = bot
        self.db = db
        self.clock = clock
        self.url = url
        self.listen = listen
        self.port = port
        self.secret_token = secret_token
        self._server: HTTPServer | None = None
        self.storing = StoreWaiting(db, bot)

    async def start(self) -> None:
        """Listen, then ask Telegram to post here (so its first POST finds us)."""
        app = tornado.web.Application(
            [
                (rf"{re.escape(webhook_path(self.url))}/?", _WebhookHandler, {"receiver": self}),
                (rf"{HEALTH_PATH}/?", _HealthHandler, {"receiver": self}),
            ],
            log_function=lambda _handler: None,  # no access log: one line per message is noise
        )
        self._server = HTTPServer(app)
        self._server.listen(self.port, address=self.listen)
        await self.bot.set_webhook(
            url=self.url, secret_token=self.secret_token, drop_pending_updates=False
        )

    async def stop(self) -> None:
        """Stop listening; a POST in hand is finished first (Telegram resends the rest)."""
        if self._server is not None:
            self._server.stop()
            await self._server.close_all_connections()
            self._server = None

    def authentic(self, token: str | None) -> bool:
        """Whether a POST carries our secret token (when we set one)."""
        if self.secret_token is None:
            return True
        return token is not None and hmac.compare_digest(token, self.secret_token)

    async def keep(self, body: bytes) -> int:
        """Store one POSTed update; its id. ValueError when the body is not an update;
        HTTPError 503 when the state file stayed locked (Telegram sends it again)."""
        update_id, payload = parse_update(body)
        if await self.storing.store([(update_id, payload)], self.clock()) is None:
            raise tornado.web.HTTPError(503)
        return update_id


class _HealthHandler(tornado.web.RequestHandler):
    """GET /healthz: 200 when updates can be stored and are being handled, else 503.

    It tells a load balancer (or monitoring) whether this process does its job: the
    state file answers, and no stored update has waited `STUCK_AFTER` to be handled.
    It shows counts only, never an update.
    """

    SUPPORTED_METHODS = ("GET", "HEAD")

    def initialize(self, receiver: WebhookReceiver) -> None:
        self.receiver = receiver

    async def _report(self) -> dict[str, object]:
        try:
            state = await updates.backlog(self.receiver.db, self.receiver.clock())
        except Exception as error:  # noqa: BLE001 - any failure is the answer: unhealthy
            self.set_status(503)
            return {"status": "failing", "problem": f"the state file: {type(error).__name__}"}
        stuck = state.oldest_age is not None and state.oldest_age > STUCK_AFTER
        self.set_status(503 if stuck else 200)
        return {
            "status": "stuck" if stuck else "ok",
            "waiting_updates": state.waiting,
            "oldest_waiting_seconds": None if state.oldest_age is None else round(state.oldest_age),
        }

    async def get(self) -> None:
        self.set_header("Cache-Control", "no-store")
        self.write(await self._report())

    async def head(self) -> None:
        await self._report()


class _WebhookHandler(tornado.web.RequestHandler):
    """POST /telegram: check, store, and only then 200."""

    SUPPORTED_METHODS = ("POST",)

    def initialize(self, receiver: WebhookReceiver) -> None:
        self.receiver = receiver

    async def post(self) -> None:
        if not self.receiver.authentic(self.request.headers.get(SECRET_HEADER)):
            log.warning("webhook POST without the right secret token (%s)", self.request.remote_ip)
            raise tornado.web.HTTPError(403)
        try:
            update_id = await self.receiver.keep(self.request.body)
        except ValueError as exc:
            log.warning("webhook POST that is not a Telegram update: %s", type(exc).__name__)
            raise tornado.web.HTTPError(400) from None
        # Only now may Telegram forget it: it is in the database.
        log.debug("stored Telegram update %d (webhook)", update_id)
        self.set_status(200)

    def log_exception(
        self,
        typ: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """One line, without the request (its headers hold the secret token)."""
        if isinstance(value, tornado.web.HTTPError):
            return  # said above
        log.error(
            "webhook POST could not be stored (Telegram will send it again): %s",
            f"{typ.__name__ if typ else 'error'}: {value}",
        )

"""Telling a customer when a database keeps their update waiting.

Another process (the daily import, an operator's `sqlite3` shell) may hold the
database's write lock for a while. Pages only read and do not wait for it; a
step that writes waits, up to `Database.write_timeout`. Once a write has waited
about two seconds, storage calls its write-wait listeners in the waiting task's
context. `watch`, the first handler of every update, has put the update there,
so `tell_to_wait` knows whose chat to tell, once an update, that the answer is
coming. Should the write give up, the error handler (`bot.errors`) says that
nothing was lost and to try again.

The bot's own state file (PETKOMM_STATE_DB) is written before any handler runs:
every update is stored there first (`bot.receiving`). Should another process
hold that file's write lock, `StoreWaiting` keeps trying, tells each waiting
update's chat the same "one moment" after about two seconds and, once
`write_timeout` has passed, that the message is kept and will be answered
without being sent again: Telegram keeps an update until the bot confirms it,
which it does only once it is stored, and it is handled then. The operator's
log names the locked file and, where it can tell, the process holding it.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from contextvars import ContextVar
from dataclasses import dataclass

from telegram import Bot, Update
from telegram.error import TelegramError
from telegram.ext import TypeHandler

from conversations.common import BotContext
from core import updates
from core.db import Database, DatabaseBusy, write_lock_holders
from core.texts import render

log = logging.getLogger(f"petkomm.{__name__}")


@dataclass
class _Handling:
    """The update a task is handling, and whether its chat was told to wait."""

    update: Update
    told: bool = False


# Set in each update's own task (python-telegram-bot runs every update in one), so the
# listener, called in the context of the task whose write waits, finds that update.
_handling: ContextVar[_Handling | None] = ContextVar("petkomm_update_handling", default=None)
_notices: set[asyncio.Task[None]] = set()  # notices being sent (a task needs a reference)


async def watch(update: Update, context: BotContext) -> None:
    """Remember the update this task handles, for `tell_to_wait`. The same update handled
    again in its task (its write gave up: `bot.ordering`) keeps what its chat was told."""
    current = _handling.get()
    if current is not None and current.update.update_id == update.update_id:
        return
    _handling.set(_Handling(update))


def watcher() -> TypeHandler[Update, BotContext, None]:
    """The handler that remembers every update (bot.app runs it before all others)."""
    return TypeHandler(Update, watch)


def tell_to_wait() -> None:
    """A `Database.on_write_wait` listener: tell the waiting update's chat, once, to wait."""
    handling = _handling.get()
    if handling is None or handling.told or handling.update.effective_chat is None:
        return
    handling.told = True
    task = asyncio.get_running_loop().create_task(_send_notice(handling.update))
    _notices.add(task)
    task.add_done_callback(_notices.discard)


async def _send_notice(update: Update) -> None:
    chat = update.effective_chat
    assert chat is not None  # checked by tell_to_wait
    user = update.effective_user
    log.info(
        "update %s of Telegram user %s waits for the database's write lock",
        update.update_id,
        user.id if user else "?",
    )
    try:
        await chat.send_message(render("chat/common/busy_wait.txt"))
    except TelegramError as exc:
        log.warning("could not tell chat %s to wait: %s", chat.id, exc)


# --- the state file: storing a received update ---------------------------------------------

# One attempt at storing, at most: between attempts the poller fetches again, so that a
# message sent meanwhile is seen (and its chat told) as soon as the others.
STORE_ATTEMPT = 1.0
MIN_ATTEMPT = 0.2  # shorter, and this process's own writes in the queue could time it out
WAIT = "wait"  # told to wait a moment
KEPT = "kept"  # told the message is kept and will be answered


class StoreWaiting:
    """Stores received updates in the state file, telling their chats while its lock is taken.

    `db` is the bot's state file; its `write_notice_after` (2 s) and `write_timeout`
    (30 s) time the two messages, counted from when the bot first tried to store
    each update. Each chat is told each thing once an update, however often the
    poller fetches it again.
    """

    def __init__(self, db: Database, bot: Bot) -> None:
        self.db = db
        self.bot = bot
        self._first_try: dict[int, float] = {}  # update id -> loop time, while not stored
        self._told: dict[int, str] = {}  # update id -> WAIT or KEPT
        self._locked_since: float | None = None  # the operator has been told, at that time
        self._sending: set[asyncio.Task[None]] = set()

    async def store(
        self, rows: Sequence[tuple[int, str]], now: float, *, within: float | None = None
    ) -> int | None:
        """`core.updates.store` the (update_id, JSON) rows, trying for `within` seconds
        (the state file's `write_timeout` by default); how many were new, or None when
        its write lock stayed taken (nothing was stored: Telegram still has them)."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        deadline = started + (self.db.write_timeout if within is None else within)
        for update_id, _ in rows:
            self._first_try.setdefault(update_id, started)
        while True:
            attempt = min(self._next_due(rows), deadline) - loop.time()
            try:
                with self.db.patience(min(max(attempt, MIN_ATTEMPT), STORE_ATTEMPT)):
                    added = await updates.store(self.db, rows, now)
            except DatabaseBusy:
                self._still_locked(rows)
                if loop.time() >= deadline:
                    return None
                continue
            self._stored(rows)
            return added

    def _next_due(self, rows: Sequence[tuple[int, str]]) -> float:
        """When the next chat of these updates is to be told something."""
        dues = []
        for update_id, _ in rows:
            told, first = self._told.get(update_id), self._first_try[update_id]
            if told is None:
                dues.append(first + self.db.write_notice_after)
            elif told == WAIT:
                dues.append(first + self.db.write_timeout)
        return min(dues, default=float("inf"))

    def _still_locked(self, rows: Sequence[tuple[int, str]]) -> None:
        """An attempt found the lock taken: tell the operator once, and each chat what is due."""
        now = asyncio.get_running_loop().time()
        if self._locked_since is None:
            self._locked_since = now
            holders = write_lock_holders(self.db.path)
            log.warning(
                "the bot's state file %s is locked by another process%s: Telegram updates %s"
                " wait to be stored (their chats are told after %g s; kept at Telegram until"
                " then)",
                self.db.path,
                f" ({', '.join(holders)})" if holders else "",
                ", ".join(str(update_id) for update_id, _ in rows),
                self.db.write_notice_after,
            )
        for update_id, payload in rows:
            waited = now - self._first_try[update_id]
            told = self._told.get(update_id)
            if waited >= self.db.write_timeout and told != KEPT:
                self._told[update_id] = KEPT
                self._tell(update_id, payload, KEPT, waited)
            elif waited >= self.db.write_notice_after and told is None:
                self._told[update_id] = WAIT
                self._tell(update_id, payload, WAIT, waited)

    def _stored(self, rows: Sequence[tuple[int, str]]) -> None:
        for update_id, _ in rows:
            self._first_try.pop(update_id, None)
            self._told.pop(update_id, None)
        if self._locked_since is not None:
            log.info(
                "the bot's state file %s is writable again after %.0f s: the waiting updates"
                " are stored",
                self.db.path,
                asyncio.get_running_loop().time() - self._locked_since,
            )
            self._locked_since = None

    def _tell(self, update_id: int, payload: str, what: str, waited: float) -> None:
        task = asyncio.get_running_loop().create_task(self._send(update_id, payload, what, waited))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _send(self, update_id: int, payload: str, what: str, waited: float) -> None:
        try:
            update = Update.de_json(json.loads(payload), self.bot)
        except Exception:  # noqa: BLE001 - unreadable: then there is nobody to tell
            return
        chat, user = update.effective_chat, update.effective_user
        log.log(
            logging.WARNING if what == KEPT else logging.INFO,
            "update %d of Telegram user %s not stored after %.0f s (%s is locked): %s",
            update_id,
            user.id if user else "?",
            waited,
            self.db.path,
            "told it is kept and will be answered" if what == KEPT else "told to wait",
        )
        if chat is None:
            return
        template = "chat/common/busy_kept.txt" if what == KEPT else "chat/common/busy_wait.txt"
        try:
            await chat.send_message(render(template))
        except TelegramError as exc:
            log.warning("could not tell chat %s that its message waits: %s", chat.id, exc)

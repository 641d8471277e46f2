"""Telegram's pace for the bot's calls: conversations first, background sends after, no 429.

Telegram lets a bot send about 30 messages a second (20 a minute into one
group) and answers a call beyond that with 429 "retry after N s". Every call
the bot makes goes through one `Pacer` (the application's rate limiter),
which keeps the bot below the limit instead of bumping into it:

- **The budget.** At most `rate` message calls (send…, edit…, copy…,
  forward…: what Telegram counts) in any second, at most 20 a minute into one
  group. A call holds its place from when it starts until a whole period after
  its answer came back: Telegram counts it somewhere in between, so however
  the network delays calls, Telegram never sees more in one of its periods.
  Other calls (acknowledging a button, deleting a message, "typing…") are not
  counted by Telegram and go at once.
- **Conversations first.** A call made while handling a customer's update is
  interactive; one made inside `background()` (staff announcements, staff
  answers delivered to a chat, notifications) waits while any interactive
  call waits, takes a place only while `BACKGROUND_RESERVE` more stay free,
  and starts at most `BACKGROUND_SHARE` of the rate a second (25 of 30): a
  customer pressing a button during a broadcast is answered first and at
  once, and a broadcast uses all the rest. Among interactive
  calls the earliest deadline goes first. The deadline depends on what is
  answered (`watcher` marks each update): a page the customer pressed for (a
  menu button, an inline button, /menu) is due within `PAGE_DUE`, a step of a
  dialogue (a login's password, a report's text) within `STEP_DUE`, and the
  first answer to a chat that starts talking within `NEW_CHAT_DUE`. In a storm
  of logins the customers reading their pages are still answered at once, the
  logins under way go next and the newcomers after them; nobody waits for
  ever, since a deadline once passed goes before every later one.
- **Told when late.** A customer whose answer waits shows "typing…" once after
  `TYPING_AFTER` (a chat action Telegram does not count as a message) and,
  should it wait `LATE_AFTER`, gets the "egy pillanat…" message, once, ahead
  of everything else (at most `LATE_NOTICES_PER_SECOND` such messages: in a
  storm they would otherwise take the budget the answers need).
- **Nothing dropped.** Should Telegram answer 429 all the same (another
  process with the same token, a stricter Telegram), every call pauses for
  the time it asks and the call is made again, as often as it takes: an
  update's reply is never given up for flood control.

`PETKOMM_TELEGRAM_RATE` sets `rate` (messages a second, default 30; a bot with
paid broadcasts may raise it); 0 switches the pacing off (a bench measuring
the bot itself), keeping the 429 retries.

Also: a button press whose acknowledgement Telegram no longer takes (it allows
one, within seconds) is still handled. That happens when a press is handled
again after a crash, or late; the acknowledgement only stops the button's
spinner, so the press goes on without it.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import heapq
import itertools
import logging
import math
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from telegram import Update
from telegram.error import BadRequest, RetryAfter
from telegram.ext import BaseRateLimiter, TypeHandler

log = logging.getLogger(f"petkomm.{__name__}")

PERIOD = 1.0  # seconds: Telegram's overall budget is counted per second
GROUP_RATE = 20  # messages a minute into one group or channel
GROUP_PERIOD = 60.0
BACKGROUND_SHARE = 25 / 30  # of the rate, at most, for background sends (25 of 30 a second)
# How many places a background send leaves free: a customer's answer arriving meanwhile
# takes one at once instead of waiting for the next place to come free.
BACKGROUND_RESERVE = 1
PAGE_DUE = 1.0  # seconds: a page the customer pressed for is due within
# A dialogue's step may take a moment anyway (a login checks its password for a while): in
# a storm the pages go first, and a step waits up to this long behind them.
STEP_DUE = 30.0  # seconds
NEW_CHAT_DUE = 45.0  # seconds: the first answer to a chat that starts talking
CONVERSATION_KEEPS = 60.0  # seconds since the bot's last message: still a conversation
TYPING_AFTER = 1.0  # seconds an answer waited: the chat shows "typing…" (for about five)
LATE_AFTER = 15.0  # seconds an answer waited: the customer is told to be patient, once
LATE_NOTICES_PER_SECOND = 1  # at most: in a storm, telling everyone would slow everyone
MAX_CHATS = 10_000  # chats remembered for "conversation under way"

_MESSAGE_CALLS = ("send", "edit", "copy", "forward")
_NOT_MESSAGES = frozenset({"sendChatAction"})

_background: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "petkomm_background_send", default=False
)
_urgent: contextvars.ContextVar[bool] = contextvars.ContextVar("petkomm_urgent_send", default=False)
# Within how many seconds the answers to the update this task handles are due.
_due: contextvars.ContextVar[float] = contextvars.ContextVar("petkomm_answer_due", default=STEP_DUE)


@contextlib.contextmanager
def background() -> Iterator[None]:
    """Mark the bot calls made inside (in this task) as background sends."""
    token = _background.set(True)
    try:
        yield
    finally:
        _background.reset(token)


def is_background() -> bool:
    """Whether the current call is a background send."""
    return _background.get()


def answering(due: float) -> None:
    """The answers to the update this task handles are due within `due` seconds (set by the
    first handler of every update: `watcher`)."""
    _due.set(due)


def watcher(is_page: Callable[[Update], bool]) -> TypeHandler[Update, Any, None]:
    """The handler (before all others) that marks each update a page (`is_page`: due within
    `PAGE_DUE`) or a dialogue's step (`STEP_DUE`)."""

    async def mark(update: Update, _context: Any) -> None:
        answering(PAGE_DUE if is_page(update) else STEP_DUE)

    return TypeHandler(Update, mark)


def counts_as_message(endpoint: str) -> bool:
    """Whether Telegram counts a call of this method against its message limits."""
    return endpoint.startswith(_MESSAGE_CALLS) and endpoint not in _NOT_MESSAGES


# Told to a chat whose answer waits: (chat id, "typing" or "late"). Set by the composition
# root; the pacer itself knows no bot.
WaitNotice = Callable[[int | str, str], Awaitable[None]]


@dataclass(order=True)
class _Waiter:
    """A call waiting for its place; the earliest (deadline, arrival) goes first."""

    deadline: float
    order: int
    future: asyncio.Future[None] = field(compare=False)
    background: bool = field(compare=False)


class _Window:
    """At most `capacity` calls in any `period`, each counted from its start to a whole
    period after its answer; interactive calls before background ones. A background call
    takes a place only while `reserve` more stay free for a customer's answer arriving
    meanwhile, and at most `background_rate` background calls start in any period."""

    def __init__(
        self,
        capacity: int,
        period: float,
        *,
        reserve: int = 0,
        background_rate: int | None = None,
    ) -> None:
        self.capacity = capacity
        self.period = period
        self.reserve = reserve
        self.background_rate = background_rate
        self.used = 0
        self._interactive: list[_Waiter] = []  # a heap by deadline
        self._background: deque[_Waiter] = deque()
        self._background_starts: deque[float] = deque()  # loop times, the last period's
        self._wake: asyncio.TimerHandle | None = None  # hands on when the rate allows again

    def idle(self) -> bool:
        return not self.used and not self._interactive and not self._background

    def interactive_waiting(self) -> int:
        return len(self._interactive)

    def free_now(self, background: bool) -> bool:
        """Whether a call would get its place at once (nobody ahead, a place free)."""
        if self._interactive:
            return False
        if background:
            return not self._background and self._background_fits()
        return self.used < self.capacity

    def _background_fits(self) -> bool:
        if self.used >= self.capacity - self.reserve:
            return False
        if self.background_rate is None:
            return True
        now = asyncio.get_running_loop().time()
        starts = self._background_starts
        while starts and now - starts[0] >= self.period:
            starts.popleft()
        return len(starts) < self.background_rate

    async def acquire(self, deadline: float, order: int, background: bool) -> None:
        """Wait for a place (taken when this returns)."""
        if self.free_now(background):
            self._take(background)
            return
        waiter = _Waiter(deadline, order, asyncio.get_running_loop().create_future(), background)
        if background:
            self._background.append(waiter)
            self._wake_for_rate()
        else:
            heapq.heappush(self._interactive, waiter)
        try:
            await waiter.future
        except asyncio.CancelledError:
            if waiter.future.done() and not waiter.future.cancelled():
                self.release(background)  # given a place it will not use
            else:
                self._forget(waiter)
            raise

    def _take(self, background: bool) -> None:
        self.used += 1
        if background and self.background_rate is not None:
            self._background_starts.append(asyncio.get_running_loop().time())

    def _forget(self, waiter: _Waiter) -> None:
        if waiter.background:
            with contextlib.suppress(ValueError):
                self._background.remove(waiter)
        else:
            with contextlib.suppress(ValueError):
                self._interactive.remove(waiter)
                heapq.heapify(self._interactive)

    def release(self, background: bool = False) -> None:
        """Give a place back (its call is done and a period has passed since)."""
        self.used -= 1
        self._hand_on()

    def release_later(self, background: bool = False) -> None:
        asyncio.get_running_loop().call_later(self.period, self.release, background)

    def _hand_on(self) -> None:
        while self.used < self.capacity:
            if self._interactive:
                waiter = heapq.heappop(self._interactive)
            elif self._background and self._background_fits():
                waiter = self._background.popleft()
            else:
                self._wake_for_rate()
                return
            if waiter.future.done():  # cancelled meanwhile
                continue
            self._take(waiter.background)
            waiter.future.set_result(None)

    def _wake_for_rate(self) -> None:
        """Background calls held back by the rate alone (a place is free): hand on when the
        oldest start of the period leaves it (a release may never come)."""
        if self._wake is not None or not self._background or not self._background_starts:
            return
        if self.used >= self.capacity - self.reserve or self._background_fits():
            return
        loop = asyncio.get_running_loop()
        delay = self._background_starts[0] + self.period - loop.time()

        def wake() -> None:
            self._wake = None
            self._hand_on()

        self._wake = loop.call_later(max(0.0, delay) + 0.001, wake)


class Pacer(BaseRateLimiter[int]):
    """The bot's rate limiter: see the module's docstring."""

    def __init__(
        self,
        rate: float,
        *,
        group_rate: int = GROUP_RATE,
        group_period: float = GROUP_PERIOD,
    ) -> None:
        self.rate = rate
        self._overall: _Window | None = None
        if rate > 0:
            capacity = max(1, math.floor(rate))
            self._overall = _Window(
                capacity,
                PERIOD,
                reserve=min(BACKGROUND_RESERVE, capacity - 1),
                background_rate=max(1, math.floor(rate * BACKGROUND_SHARE)),
            )
        self._group_rate = group_rate
        self._group_period = group_period
        self._groups: dict[int | str, _Window] = {}
        self._order = itertools.count()
        self._last_sent: dict[int | str, float] = {}  # chat -> loop time of its last message
        self._resume_at = 0.0  # loop time: Telegram asked for a pause until then
        self.wait_notice: WaitNotice | None = None
        self._told_late: dict[int | str, float] = {}  # chat -> loop time it was told
        self._late_times: deque[float] = deque()  # when the last second's notices went
        self._notices: set[asyncio.Task[None]] = set()
        self.retried = 0  # 429 answers retried (for the log and the bench)

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to free."""

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        """Make the call at Telegram's pace, again after every 429."""
        chat = _chat_of(data)
        paced = self.rate > 0 and counts_as_message(endpoint)
        while True:
            await self._pause_over()
            try:
                if paced:
                    return await self._paced(callback, args, kwargs, chat)
                return await callback(*args, **kwargs)
            except RetryAfter as exc:
                self._pause(exc, endpoint, chat)
            except BadRequest as exc:
                if endpoint == "answerCallbackQuery" and _query_expired(exc):
                    log.info("a button press could not be acknowledged any more: %s", exc.message)
                    return True
                raise

    async def _paced(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        chat: int | str | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        assert self._overall is not None
        loop = asyncio.get_running_loop()
        now = loop.time()
        background = is_background()
        deadline = self._deadline(chat, now)
        order = next(self._order)
        group = self._group(chat)
        watch = None
        # Only an answer that must wait is watched (no task on the hot path otherwise).
        waits = not self._overall.free_now(background) or (
            group is not None and not group.free_now(background)
        )
        if waits and not background and chat is not None and not _urgent.get():
            watch = loop.create_task(self._tell_while_waiting(chat))
        try:
            if group is not None:
                await group.acquire(deadline, order, background)
            try:
                await self._overall.acquire(deadline, order, background)
            except BaseException:
                if group is not None:
                    group.release(background)
                raise
        finally:
            if watch is not None:
                watch.cancel()
        try:
            result = await callback(*args, **kwargs)
        finally:
            self._overall.release_later(background)
            if group is not None:
                group.release_later(background)
        if chat is not None:
            self._remember(chat, loop.time())
        return result

    def _deadline(self, chat: int | str | None, now: float) -> float:
        if _urgent.get():
            return -math.inf
        due = _due.get()
        last = self._last_sent.get(chat) if chat is not None else None
        if chat is not None and (last is None or now - last > CONVERSATION_KEEPS):
            due = max(due, NEW_CHAT_DUE)  # a chat that starts talking: after those under way
        return now + due

    def _remember(self, chat: int | str, now: float) -> None:
        self._last_sent.pop(chat, None)  # re-inserted last: the dict stays oldest first
        self._last_sent[chat] = now
        while len(self._last_sent) > MAX_CHATS:
            del self._last_sent[next(iter(self._last_sent))]

    def _group(self, chat: int | str | None) -> _Window | None:
        if chat is None or (isinstance(chat, int) and chat > 0) or not self._group_rate:
            return None
        window = self._groups.get(chat)
        if window is None:
            if len(self._groups) > 512:  # forget the idle ones
                for key in [key for key, w in self._groups.items() if w.idle()]:
                    del self._groups[key]
            window = self._groups[chat] = _Window(self._group_rate, self._group_period)
        return window

    async def _tell_while_waiting(self, chat: int | str) -> None:
        """While an answer waits for its place: "typing…" once, then once the late notice
        (a crowd waiting must not make the crowd of calls it waits behind larger)."""
        if self.wait_notice is None:
            return
        await asyncio.sleep(TYPING_AFTER)
        self._notify(chat, "typing")
        await asyncio.sleep(LATE_AFTER - TYPING_AFTER)
        if self._first_late_notice(chat):  # not told a moment ago, for an earlier answer
            self._notify(chat, "late")

    def _first_late_notice(self, chat: int | str) -> bool:
        """Whether the chat is to be told to be patient now: not told within a conversation's
        time, and fewer than `LATE_NOTICES_PER_SECOND` told in the last second (each notice
        is a message too: a storm's hundred of them would hold up everybody's answers; the
        others have seen "typing…")."""
        now = asyncio.get_running_loop().time()
        told = self._told_late.get(chat)
        if told is not None and now - told <= CONVERSATION_KEEPS:
            return False
        while self._late_times and now - self._late_times[0] >= PERIOD:
            self._late_times.popleft()
        if len(self._late_times) >= LATE_NOTICES_PER_SECOND:
            return False
        self._late_times.append(now)
        self._told_late[chat] = now
        if len(self._told_late) > MAX_CHATS:
            del self._told_late[next(iter(self._told_late))]
        return True

    def _notify(self, chat: int | str, what: str) -> None:
        """Send a wait notice in a task of its own (the waiting call must not wait for it)."""
        assert self.wait_notice is not None
        notice = self.wait_notice

        async def send() -> None:
            _urgent.set(what == "late")  # this task's own context: the notice goes first
            _background.set(False)
            try:
                await notice(chat, what)
            except Exception as exc:  # noqa: BLE001 - a notice is a courtesy: log, go on
                log.info("could not tell chat %s that its answer is on its way: %s", chat, exc)

        task = asyncio.get_running_loop().create_task(send())
        self._notices.add(task)
        task.add_done_callback(self._notices.discard)

    async def _pause_over(self) -> None:
        loop = asyncio.get_running_loop()
        # (a pause Telegram asks for while this one runs may make it longer)
        left = self._resume_at - loop.time()
        while left > 0:
            await asyncio.sleep(left)
            left = self._resume_at - loop.time()

    def _pause(self, error: RetryAfter, endpoint: str, chat: int | str | None) -> None:
        wait = error.retry_after
        seconds = wait.total_seconds() if isinstance(wait, timedelta) else float(wait)
        self.retried += 1
        log.warning(
            "Telegram asked the bot to slow down (%s to chat %s): every call waits %.0f s,"
            " then this one is made again",
            endpoint,
            chat if chat is not None else "-",
            seconds,
        )
        loop = asyncio.get_running_loop()
        self._resume_at = max(self._resume_at, loop.time() + seconds + 0.1)

    def waiting(self) -> int:
        """Interactive calls waiting for their place now (the bench, the log)."""
        return self._overall.interactive_waiting() if self._overall is not None else 0


def _chat_of(data: dict[str, Any]) -> int | str | None:
    chat = data.get("chat_id")
    if chat is None:
        return None
    try:
        return int(chat)
    except (TypeError, ValueError):
        return str(chat)  # a channel's @username


def _query_expired(error: BadRequest) -> bool:
    message = error.message.lower()
    return "query is too old" in message or "query_id_invalid" in message

"""The bot's own worker: tickets into the staff chat, staff answers into customers' chats.

Any door may open, thread or reopen a ticket (the chat, the mail worker) and
any door may answer one (the staff chat, the command line); each only queues
in the database (`staff_announcements`, `telegram_outbox`). This loop posts
what is queued and marks it done, so nothing is lost while the bot is down:

- each announcement goes to the staff chat (PETKOMM_STAFF_CHAT_ID) with the
  Megnyitás / Válasz / Lezárás buttons, and is remembered as the ticket's
  staff post (a reply to it answers the ticket);
- each notice about no ticket (`staff_notices`: outgoing mail is failing, or
  works again) goes to the staff chat as it is;
- each notice for one customer's chat (`chat_notices`: their activation or
  reset mail could not be delivered) goes to that chat; a blocked bot or a
  vanished chat gives it up, other failures retry with back-off;
- each staff answer goes to the customer's chat with the ticket number and a
  "↩️ Válasz erre" button, and is remembered as the ticket's customer post (the
  customer's reply to it joins the ticket). A blocked bot or a vanished chat
  gives the answer up and tells the staff chat; other failures retry with
  back-off.

It polls every `interval` seconds (one indexed query), and looks at once when
this process queues work for it (the database's "staff" change topic). Delivery is at
least once: a crash between sending and marking sends that one message again.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable
from datetime import date, datetime, time

from telegram import Bot, Message
from telegram.error import BadRequest, Forbidden, RetryAfter, TelegramError

from bot import pacing
from bot.desk import rating_buttons
from bot.staff import customer_answer_buttons, ticket_buttons
from core import digest, outbox, ratings, staff
from core.accounts import BUDAPEST
from core.db import STAFF_TOPIC, Database
from core.outbox import HasMailFrom
from core.texts import render
from core.tickets import ticket_number
from core.worker import Backoff, Worker

log = logging.getLogger(f"petkomm.{__name__}")

POLL_INTERVAL = 1.0  # seconds between looks at the queues
BACKOFF_MAX = 60.0  # seconds: the longest pause after Telegram failures


class Announcer:
    """Posts pending staff announcements and delivers queued staff answers."""

    def __init__(
        self,
        db: Database,
        bot: Bot,
        *,
        staff_chat_id: int | None,
        answer_days: int,
        clock: Callable[[], float],
        interval: float = POLL_INTERVAL,
        digest_at: time | None = None,
        mail_settings: HasMailFrom | None = None,
    ) -> None:
        self.db = db
        self.mail_settings = mail_settings  # for closing mails with rating links (core.ratings)
        self.digest_at = digest_at  # PETKOMM_DIGEST_TIME: the morning digest (core.digest)
        self._digest_done: date | None = None  # the day whose digest is known to be posted
        self.bot = bot
        self.staff_chat_id = staff_chat_id
        self.answer_days = answer_days
        self.clock = clock
        self.interval = interval
        self._worker = Worker(
            "staff announcer",
            self._round,
            backoff=Backoff(base=2.0, limit=BACKOFF_MAX),
            logger=log,
        )
        self._one_round = asyncio.Lock()
        self._warned_no_chat = False

    def wake(self) -> None:
        """Look at the queues now."""
        self._worker.wake()

    # --- one round ------------------------------------------------------------------------

    async def run_once(self) -> int:
        """Post what is pending; returns how many messages went out.

        Rounds never overlap (one lock), so a round called from outside the loop
        (a test, a shutdown) returns only after the loop's current round is done.
        """
        async with self._one_round:
            with pacing.background():  # customers' conversations go first
                return await self._post_all()

    async def _post_all(self) -> int:
        """Each step in turn; a failing one does not hold up the others."""
        sent = 0
        failure: TelegramError | None = None
        # A staff chat Telegram refuses must not hold up the customers' answers.
        steps = (
            self.post_announcements,
            self.post_notices,
            self.deliver_answers,
            self.deliver_chat_notices,
            self.post_digest,
            self.offer_ratings,
        )
        for step in steps:
            try:
                sent += await step()
            except TelegramError as exc:
                failure = failure or exc
        if failure is not None:
            raise failure
        return sent

    async def post_announcements(self) -> int:
        """Every pending announcement into the staff chat, oldest first."""
        if self.staff_chat_id is None:
            if not self._warned_no_chat:
                log.warning("PETKOMM_STAFF_CHAT_ID is not set: tickets are not announced")
                self._warned_no_chat = True
            return 0
        posted = 0
        now = self.clock()
        for item in await staff.pending_announcements(
            self.db, answer_days=self.answer_days, now=now
        ):
            summary = item.summary
            sent = await self.bot.send_message(
                self.staff_chat_id,
                render(
                    "chat/staff/announcement.txt",
                    event=item.event,
                    summary=summary,
                    excerpt=item.excerpt,
                    cut=item.cut,
                ),
                reply_markup=ticket_buttons(summary.ticket.id, summary.closed),
            )
            await staff.announcement_posted(
                self.db, item, self.staff_chat_id, sent.message_id, self.clock()
            )
            log.info("announced %s (%s) in the staff chat", summary.number, item.event)
            posted += 1
        return posted

    async def post_notices(self) -> int:
        """Every pending notice about no ticket (e.g. mail is failing) into the staff chat."""
        if self.staff_chat_id is None:
            return 0  # post_announcements has warned; they wait for a staff chat
        posted = 0
        for notice in await staff.pending_notices(self.db):
            await self.bot.send_message(
                self.staff_chat_id,
                render("chat/staff/notice.txt", topic=notice.topic, details=notice.details),
            )
            await staff.notice_posted(self.db, notice, self.clock())
            log.info("posted the %s notice in the staff chat", notice.topic)
            posted += 1
        return posted

    async def post_digest(self) -> int:
        """The working morning's digest of deadlines into the staff chat, once a day."""
        if self.staff_chat_id is None or self.digest_at is None:
            return 0
        now = self.clock()
        today = datetime.fromtimestamp(now, BUDAPEST).date()
        if self._digest_done == today:  # most rounds: no query at all
            return 0
        day = digest.digest_day(now, self.digest_at)
        if day is None:  # before the time (no query), or none due later today
            if digest.over_for_today(now, self.digest_at):
                self._digest_done = today
            return 0
        if await digest.already_sent(self.db, day):
            self._digest_done = today
            return 0
        composed = await digest.compose(self.db, day, answer_days=self.answer_days, now=now)
        await self.bot.send_message(
            self.staff_chat_id, render("chat/staff/desk/digest.txt", digest=composed)
        )
        await digest.sent(self.db, day, self.clock())
        self._digest_done = today
        log.info(
            "posted the digest of %s: %d overdue, %d due soon, %d waiting",
            day.isoformat(),
            len(composed.overdue),
            len(composed.due_soon),
            len(composed.waiting),
        )
        return 1

    async def offer_ratings(self) -> int:
        """Each closed ticket's rating offer: five buttons in the customer's chat, or the
        closing mail with five links to this bot (queued in the outbox)."""
        offered = 0
        for offer in await ratings.pending(self.db):
            if offer.chat_id is None:
                if self.mail_settings is None:
                    await ratings.chat_offer_sent(self.db, offer, self.clock())  # cannot: drop it
                    continue
                await ratings.mail_offer(
                    self.db, self.mail_settings, offer, self.bot.username, self.clock()
                )
                log.info("queued the closing mail of %s with its rating links", offer.number)
                offered += 1
                continue
            sent = await _sent_or_failed(
                self.bot.send_message(
                    offer.chat_id,
                    render("chat/staff/desk/rate_offer.txt", number=offer.number),
                    reply_markup=rating_buttons(offer.rating.id),
                ),
                functools.partial(self._offer_failed, offer),
            )
            if sent is None:
                continue
            await ratings.chat_offer_sent(self.db, offer, self.clock())
            log.info("offered the customer of %s a rating in their chat", offer.number)
            offered += 1
        return offered

    async def _offer_failed(
        self, offer: ratings.Offer, exc: TelegramError, *, permanent: bool
    ) -> None:
        log.warning("the rating offer of %s was not delivered (%s)", offer.number, exc)
        if permanent:  # blocked or gone: no rating from this chat
            await ratings.chat_offer_sent(self.db, offer, self.clock())

    async def deliver_answers(self) -> int:
        """Every due staff answer into its customer's chat."""
        delivered = 0
        for item in await staff.due_telegram_answers(self.db, self.clock()):
            number = ticket_number(item.ticket_id)
            sent = await _sent_or_failed(
                self.bot.send_message(
                    item.chat_id,
                    render("chat/staff/to_customer.txt", number=number, text=item.text),
                    reply_markup=customer_answer_buttons(item.ticket_id),
                ),
                functools.partial(self._failed, item),
            )
            if sent is None:
                continue
            await staff.telegram_answer_delivered(self.db, item, sent.message_id, self.clock())
            log.info("delivered the answer of %s to its customer's chat", number)
            delivered += 1
        return delivered

    async def deliver_chat_notices(self) -> int:
        """Every due notice for a customer's own chat (e.g. their code mail failed)."""
        delivered = 0
        for notice in await outbox.due_chat_notices(self.db, self.clock()):
            sent = await _sent_or_failed(
                self.bot.send_message(notice.chat_id, outbox.chat_notice_text(notice)),
                functools.partial(self._notice_failed, notice),
            )
            if sent is None:
                continue
            await outbox.chat_notice_posted(self.db, notice, self.clock())
            log.info("posted the %s notice %d in its customer's chat", notice.topic, notice.id)
            delivered += 1
        return delivered

    async def _notice_failed(
        self, notice: outbox.ChatNotice, exc: TelegramError, *, permanent: bool
    ) -> None:
        error = f"{type(exc).__name__}: {exc}"
        gave_up = await outbox.chat_notice_failed(
            self.db, notice, error, permanent=permanent, now=self.clock()
        )
        log.warning(
            "the %s notice %d was not delivered (%s)%s",
            notice.topic,
            notice.id,
            error,
            "; given up" if gave_up else "; will retry",
        )

    async def _failed(
        self, item: staff.TelegramAnswer, exc: TelegramError, *, permanent: bool
    ) -> None:
        number = ticket_number(item.ticket_id)
        error = f"{type(exc).__name__}: {exc}"
        gave_up = await staff.telegram_answer_failed(
            self.db, item, error, permanent=permanent, now=self.clock()
        )
        log.warning(
            "the answer of %s was not delivered (%s)%s",
            number,
            error,
            "; given up" if gave_up else "; will retry",
        )
        if gave_up and self.staff_chat_id is not None:
            with contextlib.suppress(TelegramError):
                await self.bot.send_message(
                    self.staff_chat_id,
                    render("chat/staff/undelivered.txt", number=number, error=str(exc)),
                )

    # --- the loop ---------------------------------------------------------------------------

    async def _round(self, stop: asyncio.Event) -> float:
        await self.run_once()
        return self.interval

    async def run(self, stop: asyncio.Event) -> None:
        """Until `stop`: a round, then wait for `interval`, a wake-up or the stop.

        Work queued through this process's database wakes it at once; the poll
        finds what other processes (the command line) queued.
        """
        stop_listening = self.db.listen(STAFF_TOPIC, self.wake)
        try:
            await self._worker.run(stop)
        finally:
            stop_listening()


async def _sent_or_failed(
    sending: Awaitable[Message],
    failed: Callable[..., Awaitable[None]],  # failed(error, permanent=…)
) -> Message | None:
    """Send one message into a customer's chat; a refusal is recorded with `failed`.

    Blocked, or the chat gone: recorded for good, None (the caller goes on with the
    rest). Flood control beyond the rate limiter: raised, the loop backs off. Network
    trouble: recorded to try later, then raised (the rest later too).
    """
    try:
        return await sending
    except (Forbidden, BadRequest) as exc:
        await failed(exc, permanent=True)
        return None
    except RetryAfter:
        raise
    except TelegramError as exc:
        await failed(exc, permanent=False)
        raise

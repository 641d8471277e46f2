"""Notifications in the customers' chats (issue 15): who wants them, what is queued, when
it may go, and what each one says.

Four kinds, each turned on or off by the customer (🔔 Értesítések):
- a new invoice: the billing import queues one message per customer per import
  (`after_import`, called inside the import's transaction, so the import and its
  notifications commit together);
- due-date reminders: `queue_reminders` (the service runs it hourly) queues one
  PETKOMM_REMIND_BEFORE_DAYS before the due date and one PETKOMM_REMIND_AFTER_DAYS
  after it, each once per invoice; whether it is still unpaid is checked when it is
  sent (`message_for`), so a paid invoice is never reminded of;
- a payment received: an import that books a payment settling an invoice;
- outages and planned works: staff draft a notice for a town (and street), see its
  recipient count and confirm (`draft_outage`, `send_outage`).

A notification goes to every Telegram user bound to the account (logged in, even
if that login has since idled out; a logout, a login to another account or a
password change elsewhere ends it) who wants its kind and has not blocked the bot.
Quiet hours (PETKOMM_QUIET_HOURS, Budapest time) hold everything but outages until
the morning. The running service sends them (`bot.notifier`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from core.accounts.rules import BUDAPEST
from core.texts import render
from storage import audit
from storage import notifications as store
from storage.db import Database, Queryable
from storage.notifications import PREF_OF_KIND, PREFS, TOPIC, Delivery, Prefs

__all__ = [
    "PREFS",
    "TOPIC",
    "Delivery",
    "OutageDraft",
    "Prefs",
    "QuietHours",
    "ToSend",
    "after_import",
    "draft_outage",
    "queue_reminders",
]

# How long after its due date an unpaid invoice may still get its first "after" reminder:
# a service stopped for a few days catches up, a customer subscribing today is not
# reminded of an invoice years overdue.
AFTER_REMINDER_GRACE_DAYS = 7
# A failed send (not a refusal) is tried again after this many seconds, doubling.
RETRY_BASE = 30.0
RETRY_LIMIT = 3600.0
MAX_ATTEMPTS = 10


# --- quiet hours ------------------------------------------------------------------------


@dataclass(frozen=True)
class QuietHours:
    """From `start` o'clock to `end` o'clock Budapest time only outages go out."""

    start: int = 21
    end: int = 7

    def quiet(self, now: float) -> bool:
        """Whether `now` falls in the quiet hours."""
        hour = datetime.fromtimestamp(now, BUDAPEST).hour
        if self.start == self.end:
            return False
        if self.start < self.end:
            return self.start <= hour < self.end
        return hour >= self.start or hour < self.end

    def ends_after(self, now: float) -> float:
        """The moment the current quiet hours end (`now` if not quiet)."""
        if not self.quiet(now):
            return now
        local = datetime.fromtimestamp(now, BUDAPEST)
        end = local.replace(hour=self.end, minute=0, second=0, microsecond=0)
        if end <= local:
            end = (local + timedelta(days=1)).replace(hour=self.end, minute=0, second=0)
        return end.timestamp()


def local_date(now: float) -> date:
    return datetime.fromtimestamp(now, BUDAPEST).date()


# --- the customer's choices -------------------------------------------------------------


async def ask_once(
    db: Database, telegram_user_id: int, account_id: int, chat_id: int, now: float
) -> bool:
    """Whether to ask this user now if they want notifications: True only the first time
    they log in to this account (the question is recorded as asked, everything off)."""
    return await store.create_prefs(db, telegram_user_id, account_id, chat_id, now)


async def prefs_of(
    db: Database, telegram_user_id: int, account_id: int, chat_id: int, now: float
) -> Prefs:
    """This user's choices for this account (made, all off, if they were never asked).
    Opening the page says the user can be reached: a block mark is forgotten. Only those
    two write: the page is a read, shown at once while an import holds the write lock."""
    prefs = await store.get_prefs(db, telegram_user_id, account_id)
    if prefs is not None and prefs.blocked_at is None:
        return prefs
    async with db.transaction() as tx:
        await store.create_prefs(tx, telegram_user_id, account_id, chat_id, now)
        await store.unblock(tx, telegram_user_id, now)
        prefs = await store.get_prefs(tx, telegram_user_id, account_id)
    assert prefs is not None
    return prefs


async def choose(
    db: Database,
    telegram_user_id: int,
    account_id: int,
    chat_id: int,
    values: dict[str, bool],
    now: float,
) -> Prefs:
    """Turn kinds on or off (`PREFS` names); returns the choices now."""
    async with db.transaction() as tx:
        await store.create_prefs(tx, telegram_user_id, account_id, chat_id, now)
        await store.set_prefs(tx, telegram_user_id, account_id, values, now)
        prefs = await store.get_prefs(tx, telegram_user_id, account_id)
    assert prefs is not None
    return prefs


# --- what the import brought ----------------------------------------------------------


@dataclass
class ImportNotices:
    """What `after_import` queued: notifications per kind."""

    new_invoice: int = 0
    payment: int = 0


async def after_import(tx: Queryable, run_id: int, now: float) -> ImportNotices:
    """Inside the import's transaction, once its data is in: one new-invoice message per
    subscribed customer whose invoices this run brought, and a payment message to each
    whose new payment settled an invoice the last import left unpaid. Then remembers
    what is unpaid now, for the next import."""
    queued = ImportNotices()
    for pref in ("new_invoice", "payment"):
        wanted = await store.subscribers(tx, pref)
        by_customer = _by_customer(wanted)
        if not by_customer:
            continue
        if pref == "new_invoice":
            found = await store.new_invoices_of_run(tx, run_id, set(by_customer))
            for customer_id, rows in found.items():
                details: dict[str, object] = {
                    "invoices": [
                        {"invoice_no": n, "amount": a, "outstanding": o, "due_date": d}
                        for n, a, o, d in rows
                    ]
                }
                if await _queue(
                    tx,
                    customer_id,
                    "new_invoice",
                    details,
                    by_customer[customer_id],
                    now,
                    once_key=f"new_invoice:{run_id}:{customer_id}",
                ):
                    queued.new_invoice += 1
        else:
            paid = await store.new_payments(tx)
            settled = await store.settled_since_last(tx)
            for customer_id, invoices in settled.items():
                if customer_id not in by_customer or customer_id not in paid:
                    continue
                details = {
                    "paid": paid[customer_id],
                    "invoices": [{"invoice_no": n, "amount": a} for n, a in invoices],
                }
                if await _queue(
                    tx,
                    customer_id,
                    "payment",
                    details,
                    by_customer[customer_id],
                    now,
                    once_key=f"payment:{run_id}:{customer_id}",
                ):
                    queued.payment += 1
    await store.remember_import_state(tx)
    return queued


def _by_customer(subscribers: list[store.Subscriber]) -> dict[str, list[tuple[int, int]]]:
    found: dict[str, list[tuple[int, int]]] = {}
    for s in subscribers:
        found.setdefault(s.customer_id, []).append((s.telegram_user_id, s.chat_id))
    return found


async def _queue(
    db: Queryable,
    customer_id: str,
    kind: str,
    details: Mapping[str, object],
    recipients: list[tuple[int, int]],
    now: float,
    *,
    once_key: str | None = None,
) -> bool:
    notification_id = await store.add_notification(db, customer_id, kind, details, now, once_key)
    if notification_id is None:
        return False
    await store.add_deliveries(db, notification_id, recipients, now, urgent=kind == "outage")
    return True


# --- reminders --------------------------------------------------------------------------


async def queue_reminders(db: Database, now: float, before_days: int, after_days: int) -> int:
    """Queue the due-date reminders due today (Budapest): for unpaid invoices due within
    `before_days`, and for those `after_days` past their due date (up to a week later),
    each once per invoice and kind, to those who want reminders. Returns how many."""
    today = local_date(now)
    windows = {
        "reminder_before": (today, today + timedelta(days=before_days)),
        "reminder_after": (
            today - timedelta(days=after_days + AFTER_REMINDER_GRACE_DAYS),
            today - timedelta(days=after_days),
        ),
    }
    wanted = _by_customer(await store.subscribers(db, "reminder"))
    if not wanted:
        return 0
    queued = 0
    async with db.transaction() as tx:
        for kind, (first, last) in windows.items():
            for customer_id, number, outstanding, due in await store.unpaid_due_between(
                tx, first.isoformat(), last.isoformat()
            ):
                if customer_id not in wanted:
                    continue
                details = {"invoice_no": number, "outstanding": outstanding, "due_date": due}
                if await _queue(
                    tx,
                    customer_id,
                    kind,
                    details,
                    wanted[customer_id],
                    now,
                    once_key=f"{kind}:{number}",
                ):
                    queued += 1
    return queued


# --- staff notices about outages and planned works -------------------------------------


_STREET_WORDS = frozenset(
    {
        "u",
        "utca",
        "ut",
        "út",
        "ter",
        "tér",
        "krt",
        "korut",
        "körút",
        "koz",
        "köz",
        "sor",
        "sétány",
        "setany",
        "dulo",
        "dűlő",
        "lakotelep",
        "ltp",
        "tere",
        "utja",
        "útja",
    }
)


def fold(text: str) -> str:
    """Lower case without accents, one space between words: how addresses are compared."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(re.sub(r"[^\w/]+", " ", bare).split())


def _street_words(street: str) -> list[str]:
    words = fold(street).split()
    folded_types = {fold(w) for w in _STREET_WORDS}
    return [w for w in words if w not in folded_types and not w[:1].isdigit()]


def address_matches(address: str, town: str, street: str = "") -> bool:
    """Whether a customer's address (`8105 Pétfürdő, Ady Endre u. 3.`) lies in `town`
    (and on `street`, when given): accents, case and `u.`/`utca` do not matter."""
    head, _, rest = address.partition(",")
    place = " ".join(w for w in fold(head).split() if not w.isdigit())
    if place != fold(town):
        return False
    if not street.strip():
        return True
    wanted = _street_words(street)
    have = _street_words(rest)
    return bool(wanted) and have[: len(wanted)] == wanted


@dataclass(frozen=True)
class OutageDraft:
    """A notice staff are about to send: its id, recipients and the text customers get."""

    id: int
    customers: int
    users: int
    preview: str
    town: str
    street: str


async def _outage_recipients(
    db: Queryable, town: str, street: str
) -> dict[str, list[tuple[int, int]]]:
    wanted = [
        s for s in await store.subscribers(db, "outage") if address_matches(s.address, town, street)
    ]
    return _by_customer(wanted)


def outage_text(customer_id: str, town: str, street: str, text: str) -> str:
    """What a customer reads (also the staff's preview)."""
    return render(
        "chat/notify/outage.txt", customer_id=customer_id, town=town, street=street, text=text
    )


async def draft_outage(
    db: Database, town: str, street: str, text: str, author: str, now: float
) -> OutageDraft:
    """Keep a notice as a draft and count whom it would reach now."""
    town, street, text = town.strip(), street.strip(), text.strip()
    if not town or not text:
        raise ValueError("a notice needs a town and a text")
    recipients = await _outage_recipients(db, town, street)
    notice_id = await store.add_outage_draft(db, town, street, text, author, now)
    return OutageDraft(
        notice_id,
        len(recipients),
        sum(len(r) for r in recipients.values()),
        outage_text("", town, street, text),
        town,
        street,
    )


async def send_outage(db: Database, notice_id: int, actor: str, now: float) -> int | None:
    """Queue a drafted notice to those it reaches now; how many customers (None when it
    was sent or cancelled already). Audited."""
    async with db.transaction() as tx:
        notice = await store.get_outage(tx, notice_id)
        if notice is None or notice.status != "draft":
            return None
        recipients = await _outage_recipients(tx, notice.town, notice.street)
        details = {"town": notice.town, "street": notice.street, "text": notice.text}
        for customer_id, users in recipients.items():
            await _queue(
                tx,
                customer_id,
                "outage",
                details,
                users,
                now,
                once_key=f"outage:{notice_id}:{customer_id}",
            )
        await store.close_outage(tx, notice_id, "sent", len(recipients), now)
        where = notice.town + (f", {notice.street}" if notice.street else "")
        await audit.record(tx, now, actor, "notice_sent", where, f"{len(recipients)} customers")
    return len(recipients)


async def cancel_outage(db: Database, notice_id: int, now: float) -> bool:
    """Drop a draft; False when it was no draft any more."""
    return await store.close_outage(db, notice_id, "cancelled", None, now)


# --- sending --------------------------------------------------------------------------


@dataclass(frozen=True)
class ToSend:
    """One message as it goes out: its text and the unpaid invoices it is about (the door
    may put a payment button under it for each)."""

    text: str
    payable: list[int] = field(default_factory=list)


async def release_left_claims(db: Database, now: float) -> int:
    """At start: deliveries a process left claimed (it died mid-send) go back to the queue.

    Whether Telegram got such a message cannot be asked (the Bot API has no way), so it is
    sent again: of the deliveries claimed at a crash most were still waiting for their
    turn and were never sent; only one that Telegram accepted in the last moment (its
    mark not yet committed) comes twice. Losing those would be worse.
    """
    left = await store.claimed(db)
    if left:
        await store.release(db, [d.id for d in left], now)
    return len(left)


@dataclass(frozen=True)
class Forgotten:
    """What a housekeeping round removed from the queue."""

    deliveries: int
    notifications: int


async def housekeeping(db: Database, now: float, keep_days: int, after_days: int) -> Forgotten:
    """Forget what was sent, dropped or given up more than `keep_days` days ago
    (PETKOMM_NOTIFICATION_KEEP_DAYS), and the notifications left with no delivery: the
    queue would otherwise keep every message ever told. Nothing still waiting goes.

    A reminder's notification is kept until its invoice is past every reminder window
    (`after_days`, PETKOMM_REMIND_AFTER_DAYS, and the grace): forgotten earlier, the
    reminders pass would queue that reminder again.
    """
    closed = local_date(now) - timedelta(days=after_days + AFTER_REMINDER_GRACE_DAYS)
    async with db.transaction() as tx:
        deliveries, told = await store.purge_finished(
            tx, now - keep_days * 86400.0, closed.isoformat()
        )
    return Forgotten(deliveries, told)


async def claim(db: Database, now: float, limit: int, quiet: QuietHours) -> list[Delivery]:
    """Claim up to `limit` due deliveries (only outages in quiet hours), committed before
    anything is sent."""
    async with db.transaction() as tx:
        return await store.claim_due(tx, now, limit, urgent_only=quiet.quiet(now))


async def next_due(db: Database, now: float, quiet: QuietHours) -> float | None:
    """When the next delivery may go (None: nothing queued)."""
    if quiet.quiet(now):
        urgent = await store.next_due(db, urgent_only=True)
        rest = await store.next_due(db, urgent_only=False)
        morning = quiet.ends_after(now) if rest is not None else None
        candidates = [t for t in (urgent, morning) if t is not None]
        return min(candidates) if candidates else None
    return await store.next_due(db, urgent_only=False)


async def message_for(db: Database, delivery: Delivery) -> ToSend | str:
    """The message a claimed delivery is to send now, or why it is no longer wanted (the
    user logged out or turned the kind off; a reminder's invoice has been paid)."""
    prefs = await store.prefs_for_customer(db, delivery.telegram_user_id, delivery.customer_id)
    if prefs is None or not prefs.active:
        return "not logged in to the account"
    if prefs.blocked_at is not None:
        return "the user blocked the bot"
    if not prefs.wants(PREF_OF_KIND[delivery.kind]):
        return "turned off"
    details = delivery.details
    # The place as the pages name it (Fiókváltás: a login may have several customer IDs),
    # read with the claim: one query for the batch.
    address = delivery.address
    if delivery.kind in ("reminder_before", "reminder_after"):
        owed = await store.invoice_outstanding(db, int(details["invoice_no"]))
        if not owed:
            return "paid"
        text = render(
            f"chat/notify/{delivery.kind}.txt",
            customer_id=delivery.customer_id,
            address=address,
            invoice_no=details["invoice_no"],
            outstanding=owed,
            due_date=details["due_date"],
        )
        return ToSend(text, [int(details["invoice_no"])])
    if delivery.kind == "new_invoice":
        invoices = details["invoices"]
        text = render(
            "chat/notify/new_invoice.txt",
            customer_id=delivery.customer_id,
            address=address,
            invoices=invoices,
            # Számlák shows another customer ID of the login now: say to switch first.
            elsewhere=bool(delivery.shown) and delivery.shown != delivery.customer_id,
        )
        shown = invoices[:10]  # as many as the text lists
        return ToSend(text, [int(i["invoice_no"]) for i in shown if i["outstanding"] > 0])
    if delivery.kind == "payment":
        text = render(
            "chat/notify/payment.txt",
            customer_id=delivery.customer_id,
            address=address,
            paid=details["paid"],
            invoices=details["invoices"],
        )
        return ToSend(text)
    return ToSend(
        outage_text(delivery.customer_id, details["town"], details["street"], details["text"])
    )


async def delivered(db: Database, delivery: Delivery, message_id: int, now: float) -> None:
    """Telegram accepted the message."""
    await store.mark_sent(db, delivery.id, message_id, now)


async def dropped(db: Database, delivery: Delivery, reason: str, now: float) -> None:
    """Not sent: no longer wanted."""
    await store.mark_dropped(db, delivery.id, reason, now)


async def refused_blocked(db: Database, delivery: Delivery, error: str, now: float) -> int:
    """The user blocked the bot (403): this one failed, their others are dropped, and
    nothing more goes to them until they come back. Returns how many were dropped."""
    async with db.transaction() as tx:
        await store.mark_failed(tx, delivery.id, error, now, None)
        return await store.blocked(tx, delivery.telegram_user_id, now, error)


async def failed(
    db: Database, delivery: Delivery, error: str, now: float, *, permanent: bool
) -> bool:
    """A failed send: tried again later with back-off, or given up (permanent, or after
    `MAX_ATTEMPTS`). Returns whether it was given up."""
    give_up = permanent or delivery.attempts + 1 >= MAX_ATTEMPTS
    retry_at = None if give_up else now + min(RETRY_LIMIT, RETRY_BASE * 2.0**delivery.attempts)
    await store.mark_failed(db, delivery.id, error, now, retry_at)
    return give_up


async def postpone(db: Database, deliveries: list[Delivery], until: float) -> None:
    """Claimed deliveries not sent (Telegram asked to slow down, or the service stops):
    back to the queue, due at `until`, no attempt counted."""
    await store.release(db, [d.id for d in deliveries], until)


async def counts(db: Database) -> dict[str, int]:
    """Deliveries by status."""
    return await store.status_counts(db)

"""How did we do (issue 17, point 8): the customer rates a closed ticket's answer, 1 to 5.

Closing a ticket (the staff chat or the command line, `core.staff.close`) offers a
rating (`offer`, in the closing's transaction). The bot delivers the offer (only it
knows its own Telegram link): a chat ticket's customer gets a message with five
buttons; a mail ticket's customer gets a closing mail with five links that open
the bot and rate with one tap (`https://t.me/<bot>?start=rt_<token>_<stars>`). The
link's token is random and kept hashed. Rating again changes the stars. The
digest shows the month's average.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from core.accounts import BUDAPEST
from core.db import Database, Queryable
from core.mail import REPLY_ABOVE_MARKER
from core.outbox import HasMailFrom, activation_link, mail_subject, queue_mail
from core.tickets import ticket_number
from storage import billing
from storage import desk as store
from storage.tickets import Ticket
from storage.tickets import get as get_ticket

LINK_PREFIX = "rt_"  # /start rt_<token>_<stars>
STARS = range(1, 6)

Rating = store.Rating


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def offer(tx: Queryable, ticket: Ticket, now: float) -> int | None:
    """Inside the closing's transaction: offer the customer a rating, if we can reach them."""
    if ticket.channel == "telegram" and ticket.telegram_chat_id is None:
        return None
    if ticket.channel == "mail" and not ticket.email:
        return None
    return await store.offer_rating(tx, ticket.id, ticket.channel, None, now)


@dataclass(frozen=True)
class Offer:
    """A rating the bot has to offer: to a chat (`chat_id`) or by mail."""

    rating: Rating
    ticket: Ticket
    number: str

    @property
    def chat_id(self) -> int | None:
        return self.ticket.telegram_chat_id if self.rating.channel == "telegram" else None


async def pending(db: Queryable) -> list[Offer]:
    """Offers the bot has yet to deliver, oldest first."""
    found = []
    for item in await store.ratings_to_send(db):
        ticket = await get_ticket(db, item.ticket_id)
        if ticket is not None:
            found.append(Offer(item, ticket, ticket_number(ticket.id)))
    return found


async def chat_offer_sent(db: Queryable, offer: Offer, now: float) -> None:
    """The offer's buttons are in the customer's chat (or it could not be delivered)."""
    await store.rating_sent(db, offer.rating.id, None, now)


async def mail_offer(
    db: Database, settings: HasMailFrom, offer: Offer, bot_username: str, now: float
) -> None:
    """Queue the closing mail with a link for each number of stars, and mark the offer made."""
    token = secrets.token_urlsafe(16)
    ticket = offer.ticket
    name = None
    if ticket.customer_id:
        customer = await billing.get_customer(db, ticket.customer_id)
        name = customer.name if customer else None
    links = [
        (stars, activation_link(bot_username, f"{LINK_PREFIX}{token}_{stars}")) for stars in STARS
    ]
    assert ticket.email is not None
    async with db.transaction() as tx:
        await queue_mail(
            tx,
            settings,
            kind="closed",
            to=ticket.email,
            subject=mail_subject("closed", ticket_number=offer.number),
            template="closed",
            context={
                "marker": REPLY_ABOVE_MARKER,
                "name": name,
                "ticket_number": offer.number,
                "links": links,
            },
            ticket_number=offer.number,
            ticket_id=ticket.id,
            now=now,
        )
        await store.rating_sent(tx, offer.rating.id, _hash(token), now)


@dataclass(frozen=True)
class Rated:
    number: str
    stars: int


async def rate_in_chat(
    db: Queryable, rating_id: int, stars: int, telegram_user_id: int, now: float
) -> Rated | None:
    """A tap on a star button; None when it is not this customer's ticket."""
    item = await store.rating(db, rating_id)
    if item is None or stars not in STARS:
        return None
    ticket = await get_ticket(db, item.ticket_id)
    if ticket is None or ticket.telegram_user_id != telegram_user_id:
        return None
    await store.rate(db, item.id, stars, now)
    return Rated(ticket_number(ticket.id), stars)


async def rate_by_link(db: Queryable, payload: str, now: float) -> Rated | None:
    """`rt_<token>_<stars>` from the closing mail's link; None when it is not one of ours."""
    token, _, stars_text = payload.removeprefix(LINK_PREFIX).rpartition("_")
    if not token or not stars_text.isdigit() or int(stars_text) not in STARS:
        return None
    item = await store.rating_by_token(db, _hash(token))
    if item is None:
        return None
    await store.rate(db, item.id, int(stars_text), now)
    return Rated(ticket_number(item.ticket_id), int(stars_text))


@dataclass(frozen=True)
class Average:
    """The month's ratings: their average (None: none yet) and how many."""

    average: float | None
    count: int


async def month_average(db: Queryable, now: float) -> Average:
    """The average of the ratings given this calendar month (Budapest), up to `now`.

    Bounded on both sides by the clock it is asked with: a digest of an earlier day (the
    tests', or the demo's moved clock) counts no rating given after it."""
    local = datetime.fromtimestamp(now, BUDAPEST)
    start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0).timestamp()
    average, count = await store.average_rating(db, start, now + 1)
    return Average(average, count)

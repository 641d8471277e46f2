"""Several customer accounts under one login: a parent's flat, a holiday house, a firm's sites.

A portal account belongs to the customer ID it registered with, and that stays
so: one portal account per customer ID. A logged-in customer may add further
customer IDs with the same proof a registration asks for (customer ID, the
number and amount of a recent invoice), counted against the same limits
(`throttle.PROOF`, per Telegram user and per customer ID), and look at any of
them in turn ("Fiókváltás"); every page then names the one it shows. An added
ID can be removed again; the account's own cannot.

A customer ID that has a portal account of its own (registered, even if not yet
activated) is not added to another: its owner chose who may see it. A second
person of the same household (a spouse) logs in to that account with its user
name and password on their own phone — one account takes any number of Telegram
logins at once — and any of them may add the places the household pays for.
An ID added to one login may also be added to another (each proves it with an
invoice); whoever registers it later becomes its owner and the others keep it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from core import journal, throttle
from core.accounts.registration import canonical_customer_id, proof_holds
from core.accounts.rules import BUDAPEST, Policy, wrong_guess_lock
from storage import accounts as store
from storage import audit, billing
from storage.accounts import Account
from storage.db import Database, Queryable


class LinkOutcome(Enum):
    ADDED = "added"
    ALREADY = "already"  # the login has it already (its own, or added before)
    OWNED = "owned"  # it has a portal account of its own
    PROOF_MISMATCH = "proof_mismatch"
    LOCKED = "locked"


@dataclass(frozen=True)
class LinkResult:
    """What became of adding a customer ID; a refusal for guessing says until when."""

    outcome: LinkOutcome
    customer_id: str
    locked_until: float | None = None
    locked_by: throttle.LockedBy | None = None
    proof_mismatch: bool = False


@dataclass(frozen=True)
class Place:
    """One customer account a login may look at."""

    customer_id: str
    name: str
    address: str
    own: bool  # the one the portal account registered with
    shown: bool  # the one the pages show now


def own_customer_id(account: Account) -> str:
    """The customer ID the portal account registered with (whichever one is shown)."""
    return account.own_customer_id or account.customer_id


async def places(db: Queryable, account: Account) -> list[Place]:
    """The account's own customer ID first, then the added ones in the order added."""
    own = own_customer_id(account)
    ids = [own, *await store.linked_customers(db, account.id)]
    result = []
    for customer_id in ids:
        customer = await billing.get_customer(db, customer_id)
        result.append(
            Place(
                customer_id,
                customer.name if customer else "",
                customer.address if customer else "",
                own=customer_id == own,
                shown=customer_id == account.customer_id,
            )
        )
    return result


async def has_several(db: Queryable, account: Account) -> bool:
    """Whether the login has more than its own customer ID (then pages name the one shown)."""
    return account.own_customer_id is not None or bool(await store.linked_customers(db, account.id))


async def add(
    db: Database,
    account: Account,
    customer_id: str,
    invoice_no: int,
    amount: int,
    *,
    telegram_user_id: int,
    policy: Policy,
    once: str | None = None,
    now: float,
) -> LinkResult:
    """Add a customer ID to the login after checking its proof (counted as a registration's
    proof is, before it is checked); the added one is shown from then on."""
    tg_key = f"tg:{telegram_user_id}"
    customer_id = canonical_customer_id(customer_id)
    async with db.transaction() as tx:
        attempt = await throttle.reserve(tx, throttle.PROOF, tg_key, customer_id, now)
    if attempt.locked_until is not None:
        return LinkResult(
            LinkOutcome.LOCKED,
            customer_id,
            locked_until=attempt.locked_until,
            locked_by=attempt.locked_by,
        )
    today = datetime.fromtimestamp(now, BUDAPEST).date()
    if not await proof_holds(db, customer_id, invoice_no, amount, policy, today):
        async with db.transaction() as tx:
            lock = await wrong_guess_lock(
                tx,
                attempt,
                actor=tg_key,
                action="link_proof_failed",
                target=customer_id,
                lock_reason="adding a customer account",
                now=now,
            )
        if lock is not None:
            return LinkResult(
                LinkOutcome.LOCKED,
                customer_id,
                locked_until=lock.until,
                locked_by=lock.by,
                proof_mismatch=True,
            )
        return LinkResult(LinkOutcome.PROOF_MISMATCH, customer_id)
    async with db.transaction() as tx:
        await throttle.succeeded(tx, attempt, now)
        if await journal.done(tx, once, "customer_linked") is not None:
            return LinkResult(LinkOutcome.ADDED, customer_id)
        if customer_id == own_customer_id(account) or await store.is_linked(
            tx, account.id, customer_id
        ):
            await store.set_viewing(tx, telegram_user_id, _viewing(account, customer_id))
            return LinkResult(LinkOutcome.ALREADY, customer_id)
        owner = await store.by_customer(tx, customer_id)
        if owner is not None:
            await audit.record(tx, now, tg_key, "link_owned", customer_id)
            return LinkResult(LinkOutcome.OWNED, customer_id)
        await store.link_customer(tx, account.id, customer_id, telegram_user_id, now)
        await store.set_viewing(tx, telegram_user_id, customer_id)
        await audit.record(
            tx, now, tg_key, "customer_linked", f"{customer_id} to {own_customer_id(account)}"
        )
        await journal.record(tx, once, "customer_linked", now)
    return LinkResult(LinkOutcome.ADDED, customer_id)


def _viewing(account: Account, customer_id: str) -> str | None:
    return None if customer_id == own_customer_id(account) else customer_id


async def show(db: Database, account: Account, telegram_user_id: int, customer_id: str) -> bool:
    """Let this login's pages show `customer_id`; False when the login does not have it
    (removed meanwhile: a stale button)."""
    if customer_id != own_customer_id(account) and not await store.is_linked(
        db, account.id, customer_id
    ):
        return False
    await store.set_viewing(db, telegram_user_id, _viewing(account, customer_id))
    return True


async def remove(
    db: Database, account: Account, telegram_user_id: int, customer_id: str, now: float
) -> bool:
    """Remove an added customer ID from the account (every login of it stops showing it);
    False for the account's own or one it does not have."""
    if customer_id == own_customer_id(account):
        return False
    async with db.transaction() as tx:
        removed = await store.unlink_customer(tx, account.id, customer_id)
        if removed:
            await audit.record(
                tx,
                now,
                f"tg:{telegram_user_id}",
                "customer_unlinked",
                f"{customer_id} from {own_customer_id(account)}",
            )
    return removed


def showing(account: Account) -> Account:
    """The account as its own customer ID shows it (after the shown one was removed)."""
    if account.own_customer_id is None:
        return account
    return dataclasses.replace(account, customer_id=account.own_customer_id, own_customer_id=None)

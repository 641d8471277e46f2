"""Registration with proof of a customer account (docs/product.md, "Regisztráció")."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import Enum

from core import throttle
from core.accounts.codes import CodeMailer, issue_code
from core.accounts.rules import BUDAPEST, Policy, find_by_username, username_key, wrong_guess
from storage import accounts as store
from storage import audit, billing
from storage.db import Database, Queryable

# --- registration -------------------------------------------------------------------


@dataclass(frozen=True)
class Registration:
    """What the customer typed; the password only as its Argon2id hash."""

    email: str
    username: str
    password_hash: str
    customer_id: str
    invoice_no: int
    amount: int


class RegisterOutcome(Enum):
    OK = "ok"
    PROOF_MISMATCH = "proof_mismatch"
    LOCKED = "locked"
    TAKEN = "taken"  # the customer ID already has an active account
    USERNAME_TAKEN = "username_taken"


@dataclass(frozen=True)
class RegisterResult:
    outcome: RegisterOutcome
    locked_until: float | None = None
    account_id: int | None = None


async def username_free(db: Queryable, username: str, customer_id: str | None = None) -> bool:
    """Nobody else uses this name (a pending account of the same customer does not count)."""
    account = await find_by_username(db, username)
    if account is None:
        return True
    return account.status == "pending" and account.customer_id == customer_id


async def _proof_holds(db: Queryable, reg: Registration, policy: Policy, today: date) -> bool:
    invoice = await billing.get_invoice(db, reg.invoice_no)
    if invoice is None or invoice.customer_id != reg.customer_id:
        return False
    oldest = today - timedelta(days=round(policy.proof_months * 30.44))
    return (
        invoice.amount != 0
        and invoice.amount == reg.amount
        and date.fromisoformat(invoice.issue_date) >= oldest
    )


async def register(
    db: Database,
    reg: Registration,
    *,
    telegram_user_id: int | None,
    policy: Policy,
    mailer: CodeMailer,
    now: float,
) -> RegisterResult:
    """Check the proof and create a pending account with its activation mail queued.

    The proof is counted before it is checked (`throttle.PROOF`). Whether the
    user name is free is told only here, to someone whose proof holds, and
    each such look-up counts (`throttle.USERNAME_LOOKUP`).
    """
    tg_key = f"tg:{telegram_user_id}"
    async with db.transaction() as tx:
        attempt = await throttle.reserve(tx, throttle.PROOF, tg_key, reg.customer_id, now)
    if attempt.locked_until is not None:
        return RegisterResult(RegisterOutcome.LOCKED, locked_until=attempt.locked_until)
    today = datetime.fromtimestamp(now, BUDAPEST).date()
    if not await _proof_holds(db, reg, policy, today):
        async with db.transaction() as tx:
            until = await wrong_guess(
                tx,
                attempt,
                actor=tg_key,
                action="registration_proof_failed",
                target=reg.customer_id,
                lock_reason="registration",
                now=now,
            )
        if until is not None:
            return RegisterResult(RegisterOutcome.LOCKED, locked_until=until)
        return RegisterResult(RegisterOutcome.PROOF_MISMATCH)

    async with db.transaction() as tx:
        await throttle.succeeded(tx, attempt, now)
        existing = await store.by_customer(tx, reg.customer_id)
        if existing is not None and existing.status != "pending":
            await audit.record(tx, now, tg_key, "registration_taken", reg.customer_id)
            return RegisterResult(RegisterOutcome.TAKEN)
        lookup = await throttle.reserve(tx, throttle.USERNAME_LOOKUP, tg_key, "", now)
        if lookup.locked_until is not None:
            return RegisterResult(RegisterOutcome.LOCKED, locked_until=lookup.locked_until)
        if not await username_free(tx, reg.username, reg.customer_id):
            return RegisterResult(RegisterOutcome.USERNAME_TAKEN)
        if existing is not None:
            await store.delete(tx, existing.id)
        account_id = await store.create(
            tx,
            customer_id=reg.customer_id,
            username=reg.username,
            username_key=username_key(reg.username),
            email=reg.email,
            password_hash=reg.password_hash,
            now=now,
            registered_by_tg=telegram_user_id,
        )
        account = await store.by_id(tx, account_id)
        assert account is not None
        await issue_code(tx, account, "activation", policy, mailer, now)
        await audit.record(
            tx,
            now,
            tg_key,
            "registered",
            reg.customer_id,
            "replaced a pending registration" if existing else "",
        )
    return RegisterResult(RegisterOutcome.OK, account_id=account_id)

"""Registration with proof of a customer account (docs/product.md, "Regisztráció")."""

from __future__ import annotations

import dataclasses
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import Enum

from core import journal, throttle
from core.accounts.codes import CodeMailer, issue_code
from core.accounts.rules import (
    BUDAPEST,
    KEY_CHARS,
    Policy,
    find_by_username,
    username_key,
    username_looks,
    wrong_guess_lock,
)
from core.formats import parse_customer_id
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
    USERNAME_TAKEN = "username_taken"  # the name, or one that looks like it, is someone's
    NAMES_LOCKED = "names_locked"  # too many "is this name taken?" look-ups for now


@dataclass(frozen=True)
class RegisterResult:
    """What became of a registration; a refusal says until when and which limit held it
    (`throttle.LockedBy`), and whether this very attempt's proof was wrong."""

    outcome: RegisterOutcome
    locked_until: float | None = None
    account_id: int | None = None
    locked_by: throttle.LockedBy | None = None
    proof_mismatch: bool = False


def parse_typed_customer_id(text: str) -> str:
    """A customer ID as typed, in its one spelling: `u 1234`, `U-1234`, fullwidth letters
    and digits (U+FF35 U+FF11…) and other scripts' digits (Arabic-Indic U+0661…) are all
    `U1234`, what the billing data holds. ValueError if it is no customer ID."""
    value = parse_customer_id(unicodedata.normalize("NFKC", text), lenient=True)
    return "U" + "".join(str(unicodedata.digit(c)) for c in value[1:])


def canonical_customer_id(text: str) -> str:
    """The customer ID a registration names, the proof's throttle target: every spelling of
    one customer ID is one target (`parse_typed_customer_id`). Text that is no customer ID
    is kept trimmed and in capitals: it proves nothing, but still counts as a guess."""
    try:
        return parse_typed_customer_id(text)
    except ValueError:
        return text.strip().upper()[:KEY_CHARS]


async def registration_locked(
    db: Queryable, telegram_user_id: int | None, now: float
) -> float | None:
    """When this Telegram user may try a registration proof again, if they may try none now
    (`throttle.PROOF`'s limit per Telegram user): told before the questions, not after."""
    return await throttle.guesser_locked(db, throttle.PROOF, f"tg:{telegram_user_id}", now)


async def username_free(db: Queryable, username: str, customer_id: str | None = None) -> bool:
    """Nobody else uses this name or one that looks like it (`username_looks`); a pending
    account of the same customer does not count. Accounts whose look is not computed yet
    (`fill_username_looks`) are found by the name alone."""
    found = await store.by_looks(db, username_looks(username))
    exact = await find_by_username(db, username)
    if exact is not None:
        found.append(exact)
    return all(a.status == "pending" and a.customer_id == customer_id for a in found)


async def fill_username_looks(db: Queryable) -> int:
    """Compute the look of the accounts that have none yet (made before it was kept, or
    stored by other means); returns how many. After the first time, one indexed look."""
    missing = await store.without_looks(db)
    for account_id, username in missing:
        await store.set_looks(db, account_id, username_looks(username))
    return len(missing)


def _oldest_proof(policy: Policy, today: date) -> date:
    """The earliest issue date an invoice proving a customer account may have."""
    return today - timedelta(days=round(policy.proof_months * 30.44))


def outdated_invoice_year(invoice_no: int, policy: Policy, now: float) -> int | None:
    """The year of a typed invoice number, when that whole year lies before the oldest
    issue date a proof may have (an invoice is numbered in the year it is issued); else
    None. It reads only what the customer typed, never the billing data, so a refusal may
    say it without telling whether such an invoice exists."""
    year = invoice_no // 1_000_000
    today = datetime.fromtimestamp(now, BUDAPEST).date()
    return year if year < _oldest_proof(policy, today).year else None


async def proof_holds(
    db: Queryable, customer_id: str, invoice_no: int, amount: int, policy: Policy, today: date
) -> bool:
    """Whether the invoice is the customer's, recent, non-zero and of that amount (the
    proof of a customer account, for a registration and for adding one to a login)."""
    invoice = await billing.get_invoice(db, invoice_no)
    if invoice is None or invoice.customer_id != customer_id:
        return False
    oldest = _oldest_proof(policy, today)
    return (
        invoice.amount != 0
        and invoice.amount == amount
        and date.fromisoformat(invoice.issue_date) >= oldest
    )


async def register(
    db: Database,
    reg: Registration,
    *,
    telegram_user_id: int | None,
    policy: Policy,
    mailer: CodeMailer,
    once: str | None = None,
    now: float,
) -> RegisterResult:
    """Check the proof and create a pending account with its activation mail queued.

    The proof is counted before it is checked (`throttle.PROOF`), against the
    customer ID however it was spelt (`canonical_customer_id`). Whether the
    user name is free is told only here, to someone whose proof holds, and
    each such look-up counts, per Telegram user and per customer ID
    (`throttle.USERNAME_LOOKUP`).
    """
    tg_key = f"tg:{telegram_user_id}"
    reg = dataclasses.replace(reg, customer_id=canonical_customer_id(reg.customer_id))
    async with db.transaction() as tx:
        attempt = await throttle.reserve(tx, throttle.PROOF, tg_key, reg.customer_id, now)
    if attempt.locked_until is not None:
        return RegisterResult(
            RegisterOutcome.LOCKED, locked_until=attempt.locked_until, locked_by=attempt.locked_by
        )
    today = datetime.fromtimestamp(now, BUDAPEST).date()
    if not await proof_holds(db, reg.customer_id, reg.invoice_no, reg.amount, policy, today):
        async with db.transaction() as tx:
            lock = await wrong_guess_lock(
                tx,
                attempt,
                actor=tg_key,
                action="registration_proof_failed",
                target=reg.customer_id,
                lock_reason="registration",
                now=now,
            )
        if lock is not None:
            return RegisterResult(
                RegisterOutcome.LOCKED,
                locked_until=lock.until,
                locked_by=lock.by,
                proof_mismatch=True,
            )
        return RegisterResult(RegisterOutcome.PROOF_MISMATCH)

    async with db.transaction() as tx:
        await throttle.succeeded(tx, attempt, now)
        # The message `once` that registered already: OK again, no second code mail.
        registered = await journal.done(tx, once, "registered")
        if registered is not None:
            return RegisterResult(RegisterOutcome.OK, account_id=registered["account"])
        existing = await store.by_customer(tx, reg.customer_id)
        if existing is not None and existing.status != "pending":
            await audit.record(tx, now, tg_key, "registration_taken", reg.customer_id)
            return RegisterResult(RegisterOutcome.TAKEN)
        lookup = await throttle.reserve(tx, throttle.USERNAME_LOOKUP, tg_key, reg.customer_id, now)
        if lookup.locked_until is not None:
            return RegisterResult(
                RegisterOutcome.NAMES_LOCKED,
                locked_until=lookup.locked_until,
                locked_by=lookup.locked_by,
            )
        await fill_username_looks(tx)
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
            username_looks=username_looks(reg.username),
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
        await journal.record(tx, once, "registered", now, account=account_id)
    return RegisterResult(RegisterOutcome.OK, account_id=account_id)

"""Portal accounts: registration with proof, activation and reset codes, login.

Every rule of docs/product.md's account flows lives here once; the chat (and the
mail worker, for re-sending codes) call these functions and turn the outcomes
into their own texts.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import Enum
from zoneinfo import ZoneInfo

from core import throttle
from core.config import Settings
from core.outbox import activation_link, queue_code_mail
from core.passwords import verify_password, verify_unknown_user
from storage import accounts as store
from storage import audit, billing
from storage.db import Database, DatabaseBusy, Queryable

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no I, O, 0, 1: nothing to confuse
CODE_LENGTH = 24
ACTIVATION_PREFIX = "act_"
RESET_PREFIX = "rst_"
BUDAPEST = ZoneInfo("Europe/Budapest")
_USERNAME_EXTRA = set("._-")
_EMAIL = re.compile(r"^[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[^@\s<>\"',;.]{2,}$")


@dataclass(frozen=True)
class Policy:
    """The configurable numbers of the account rules."""

    code_ttl_hours: int = 48
    idle_minutes: int = 30
    proof_months: int = 12

    @classmethod
    def from_settings(cls, settings: Settings) -> Policy:
        return cls(settings.code_ttl_hours, settings.idle_minutes, settings.proof_months)


# --- checks of single answers ---------------------------------------------------


def username_problem(username: str) -> str | None:
    """'length' or 'chars' when the user name breaks the rules (3-32 letters, digits, . _ -)."""
    if not 3 <= len(username) <= 32:
        return "length"
    if not all(c.isalnum() or c in _USERNAME_EXTRA for c in username):
        return "chars"
    return None


def username_key(username: str) -> str:
    """The case-insensitive form user names are unique and looked up by."""
    return username.strip().casefold()


def email_ok(email: str) -> bool:
    """A plausible single e-mail address."""
    return len(email) <= 254 and bool(_EMAIL.match(email))


def normalise_code(text: str) -> str:
    """What the customer typed, without spaces or hyphens, upper-case."""
    return re.sub(r"[\s\-]", "", text).upper()


def looks_like_code(text: str) -> bool:
    """Could this be a code we sent (24 characters of our alphabet)?"""
    code = normalise_code(text)
    return len(code) == CODE_LENGTH and all(c in CODE_ALPHABET for c in code)


def new_code() -> str:
    """A fresh random code (about 120 bits)."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def hash_code(code: str) -> str:
    """Codes are long and random, so a plain SHA-256 is a safe stored form."""
    return hashlib.sha256(normalise_code(code).encode()).hexdigest()


def local_time(moment: float) -> str:
    """`2024. 05. 01. 14:30` in Budapest time, for texts."""
    when = datetime.fromtimestamp(moment, UTC).astimezone(BUDAPEST)
    return f"{when.year}. {when.month:02d}. {when.day:02d}. {when.hour:02d}:{when.minute:02d}"


def wait_minutes(until: float, now: float) -> int:
    """Whole minutes left of a lock, at least 1."""
    return max(1, int((until - now + 59) // 60))


# --- a wrong guess ----------------------------------------------------------------------


async def _failed_attempt(
    db: Database,
    keys: Iterable[tuple[throttle.Rule, str | int]],
    *,
    actor: str,
    action: str,
    target: str,
    lock_reason: str,
    now: float,
) -> float | None:
    """Count a wrong guess against every (rule, key), audit it, and audit the lockout it caused.

    One transaction, so the counts and the audit trail agree. Returns when the
    lock ends if this failure locked any key (the last such key's end).
    """
    until: float | None = None
    async with db.transaction() as tx:
        for rule, key in keys:
            until = await throttle.failure(tx, rule, key, now) or until
        await audit.record(tx, now, actor, action, target)
        if until:
            await audit.record(tx, now, actor, "lockout", target, lock_reason)
    return until


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
    account = await store.by_username(db, username_key(username))
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
    """Check the proof and create a pending account with its activation mail queued."""
    tg_key = f"tg:{telegram_user_id}"
    for rule, key in ((throttle.PROOF_USER, tg_key), (throttle.PROOF_CUSTOMER, reg.customer_id)):
        until = await throttle.locked(db, rule, key, now)
        if until:
            return RegisterResult(RegisterOutcome.LOCKED, locked_until=until)
    today = datetime.fromtimestamp(now, BUDAPEST).date()
    if not await _proof_holds(db, reg, policy, today):
        until = await _failed_attempt(
            db,
            ((throttle.PROOF_USER, tg_key), (throttle.PROOF_CUSTOMER, reg.customer_id)),
            actor=tg_key,
            action="registration_proof_failed",
            target=reg.customer_id,
            lock_reason="registration",
            now=now,
        )
        if until:
            return RegisterResult(RegisterOutcome.LOCKED, locked_until=until)
        return RegisterResult(RegisterOutcome.PROOF_MISMATCH)

    async with db.transaction() as tx:
        existing = await store.by_customer(tx, reg.customer_id)
        if existing is not None and existing.status != "pending":
            await audit.record(tx, now, tg_key, "registration_taken", reg.customer_id)
            return RegisterResult(RegisterOutcome.TAKEN)
        if not await username_free(tx, reg.username, reg.customer_id):
            return RegisterResult(RegisterOutcome.USERNAME_TAKEN)
        await throttle.success(tx, throttle.PROOF_USER, tg_key)
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
        await _issue_code(tx, account, "activation", policy, mailer, now)
        await audit.record(
            tx,
            now,
            tg_key,
            "registered",
            reg.customer_id,
            "replaced a pending registration" if existing else "",
        )
    return RegisterResult(RegisterOutcome.OK, account_id=account_id)


# --- codes by mail --------------------------------------------------------------------


class CodeMailer:
    """Queues the mails carrying codes; the domain's only link to the outbox.

    Built by whoever wires the application, with the bot's user name for deep
    links and the settings for the sender address.
    """

    def __init__(self, settings: Settings, bot_username: Callable[[], str]) -> None:
        self.settings = settings
        self.bot_username = bot_username  # known once the bot has asked Telegram (getMe)

    async def send(
        self,
        db: Queryable,
        account: store.Account,
        purpose: str,
        code: str,
        expires_at: float,
        now: float,
    ) -> str:
        """Queue the mail; returns its Message-ID."""
        prefix = ACTIVATION_PREFIX if purpose == "activation" else RESET_PREFIX
        queued = await queue_code_mail(
            db,
            self.settings,
            purpose=purpose,
            to=account.email,
            username=account.username,
            code=code,
            link=activation_link(self.bot_username(), prefix + code),
            expires_at=local_time(expires_at),
            now=now,
        )
        return queued.message_id


async def _issue_code(
    db: Queryable,
    account: store.Account,
    purpose: str,
    policy: Policy,
    mailer: CodeMailer,
    now: float,
) -> str:
    """Store a fresh code's hash and queue its mail; returns the mail's Message-ID."""
    code = new_code()
    expires_at = now + policy.code_ttl_hours * 3600
    await store.add_code(db, account.id, purpose, hash_code(code), now, expires_at)
    return await mailer.send(db, account, purpose, code, expires_at, now)


@dataclass(frozen=True)
class NewCode:
    """A code mail queued (its Message-ID), or when one may be sent again."""

    message_id: str | None = None
    limited_until: float | None = None


async def issue_new_code(
    tx: Queryable,
    account: store.Account,
    purpose: str,
    *,
    policy: Policy,
    mailer: CodeMailer,
    actor: str,
    now: float,
) -> NewCode:
    """Inside the caller's transaction: a fresh code (replacing the old) and its mail."""
    until = await throttle.use(tx, throttle.CODE_MAIL_ACCOUNT, account.id, now)
    if until:
        return NewCode(limited_until=until)
    message_id = await _issue_code(tx, account, purpose, policy, mailer, now)
    await audit.record(tx, now, actor, f"{purpose}_code_sent", account.customer_id)
    return NewCode(message_id=message_id)


async def send_new_code(
    db: Database,
    account: store.Account,
    purpose: str,
    *,
    policy: Policy,
    mailer: CodeMailer,
    actor: str,
    now: float,
) -> float | None:
    """Mail a fresh code (replacing the old); returns when allowed again if rate-limited."""
    async with db.transaction() as tx:
        sent = await issue_new_code(
            tx, account, purpose, policy=policy, mailer=mailer, actor=actor, now=now
        )
    return sent.limited_until


class CodeOutcome(Enum):
    OK = "ok"
    INVALID = "invalid"
    EXPIRED = "expired"
    USED = "used"
    LOCKED = "locked"


@dataclass(frozen=True)
class CodeResult:
    outcome: CodeOutcome
    account: store.Account | None = None
    locked_until: float | None = None
    code_id: int | None = None


async def check_code(
    db: Database, text: str, purpose: str, *, telegram_user_id: int, now: float
) -> CodeResult:
    """Look a typed (or deep-linked) code up, throttled per Telegram user."""
    key = f"tg:{telegram_user_id}"
    until = await throttle.locked(db, throttle.CODE_USER, key, now)
    if until:
        return CodeResult(CodeOutcome.LOCKED, locked_until=until)
    code = await store.code_by_hash(db, purpose, hash_code(text))
    if code is None:
        until = await _failed_attempt(
            db,
            [(throttle.CODE_USER, key)],
            actor=key,
            action=f"{purpose}_code_wrong",
            target="",
            lock_reason=f"{purpose} code",
            now=now,
        )
        if until:
            return CodeResult(CodeOutcome.LOCKED, locked_until=until)
        return CodeResult(CodeOutcome.INVALID)
    account = await store.by_id(db, code.account_id)
    if code.used_at is not None:
        return CodeResult(CodeOutcome.USED, account=account)
    if code.expires_at <= now:
        return CodeResult(CodeOutcome.EXPIRED, account=account)
    return CodeResult(CodeOutcome.OK, account=account, code_id=code.id)


async def activate(db: Database, text: str, *, telegram_user_id: int, now: float) -> CodeResult:
    """Activate the account the activation code belongs to (single use)."""
    result = await check_code(db, text, "activation", telegram_user_id=telegram_user_id, now=now)
    if result.outcome is not CodeOutcome.OK:
        return result
    assert result.account is not None and result.code_id is not None
    async with db.transaction() as tx:
        if not await store.use_code(tx, result.code_id, now):
            return CodeResult(CodeOutcome.USED, account=result.account)
        await store.activate(tx, result.account.id, now)
        await throttle.success(tx, throttle.CODE_USER, f"tg:{telegram_user_id}")
        await audit.record(
            tx, now, f"tg:{telegram_user_id}", "activated", result.account.customer_id
        )
    return CodeResult(CodeOutcome.OK, account=await store.by_id(db, result.account.id))


async def reset_password(
    db: Database,
    code_id: int,
    account: store.Account,
    password_hash: str,
    *,
    telegram_user_id: int,
    now: float,
) -> bool:
    """Set a new password with a checked reset code; every login of the account ends."""
    async with db.transaction() as tx:
        if not await store.use_code(tx, code_id, now):
            return False
        await store.set_password(tx, account.id, password_hash, now)
        await store.drop_logins_of_account(tx, account.id)
        await throttle.success(tx, throttle.LOGIN_ACCOUNT, account.id)
        await audit.record(tx, now, f"tg:{telegram_user_id}", "password_reset", account.customer_id)
    return True


async def find_for_reset(db: Queryable, text: str) -> store.Account | None:
    """The account a forgotten-password request names, by user name or e-mail."""
    text = text.strip()
    if "@" in text:
        found = [a for a in await store.by_email(db, text) if a.status == "active"]
        return found[0] if len(found) == 1 else None
    account = await store.by_username(db, username_key(text))
    return account if account and account.status == "active" else None


# --- login ------------------------------------------------------------------------------


class LoginOutcome(Enum):
    OK = "ok"
    WRONG = "wrong"
    LOCKED = "locked"
    PENDING = "pending"
    DISABLED = "disabled"


@dataclass(frozen=True)
class LoginResult:
    outcome: LoginOutcome
    account: store.Account | None = None
    locked_until: float | None = None


async def login(
    db: Database,
    username: str,
    password: str,
    *,
    telegram_user_id: int,
    chat_id: int,
    now: float,
) -> LoginResult:
    """Check user name and password (throttled per account and per Telegram user) and bind."""
    tg_key = f"tg:{telegram_user_id}"
    account = await store.by_username(db, username_key(username))
    account_key = account.id if account else f"name:{username_key(username)}"
    for rule, key in ((throttle.LOGIN_USER, tg_key), (throttle.LOGIN_ACCOUNT, account_key)):
        until = await throttle.locked(db, rule, key, now)
        if until:
            return LoginResult(LoginOutcome.LOCKED, locked_until=until)
    if account is None:
        await verify_unknown_user(password)
        ok = False
    else:
        ok = await verify_password(account.password_hash, password)
    target = account.customer_id if account else ""
    if not ok:
        until = await _failed_attempt(
            db,
            ((throttle.LOGIN_USER, tg_key), (throttle.LOGIN_ACCOUNT, account_key)),
            actor=tg_key,
            action="login_failed",
            target=target,
            lock_reason="login",
            now=now,
        )
        if until:
            return LoginResult(LoginOutcome.LOCKED, locked_until=until)
        return LoginResult(LoginOutcome.WRONG)
    assert account is not None
    if account.status == "pending":
        return LoginResult(LoginOutcome.PENDING, account=account)
    if account.status == "disabled":
        return LoginResult(LoginOutcome.DISABLED, account=account)
    async with db.transaction() as tx:
        await throttle.success(tx, throttle.LOGIN_ACCOUNT, account.id)
        await throttle.success(tx, throttle.LOGIN_USER, tg_key)
        await store.bind_login(tx, telegram_user_id, account.id, chat_id, now)
        await audit.record(tx, now, tg_key, "login", account.customer_id)
    return LoginResult(LoginOutcome.OK, account=account)


async def logout(db: Database, telegram_user_id: int, now: float) -> bool:
    """End this Telegram user's login; False when there was none."""
    login_row = await store.login_of(db, telegram_user_id)
    if login_row is None:
        return False
    async with db.transaction() as tx:
        await store.drop_login(tx, telegram_user_id)
        account = await store.by_id(tx, login_row.account_id)
        await audit.record(
            tx, now, f"tg:{telegram_user_id}", "logout", account.customer_id if account else ""
        )
    return True


class SessionState(Enum):
    ACTIVE = "active"
    NONE = "none"
    EXPIRED = "expired"


async def current_account(
    db: Database, telegram_user_id: int, policy: Policy, now: float
) -> tuple[SessionState, store.Account | None]:
    """The account this Telegram user is logged in to; an idle login ends here."""
    login_row = await store.login_of(db, telegram_user_id)
    if login_row is None:
        return SessionState.NONE, None
    if now - login_row.last_seen_at > policy.idle_minutes * 60:
        await store.drop_login(db, telegram_user_id)
        await audit.record(db, now, f"tg:{telegram_user_id}", "logout_idle")
        return SessionState.EXPIRED, None
    account = await store.by_id(db, login_row.account_id)
    if account is None or account.status != "active":
        await store.drop_login(db, telegram_user_id)
        return SessionState.NONE, None
    # "Last seen" is refreshed at most once a minute, and only if the write lock is free
    # within half a second: a page is a read and must not wait for another process's
    # import. Skipping a recent one costs at most a minute of the idle allowance; one
    # skipped for a busy database is made at the next page.
    if now - login_row.last_seen_at >= 60:
        with contextlib.suppress(DatabaseBusy), db.patience(0.5):
            await store.touch_login(db, telegram_user_id, now)
    return SessionState.ACTIVE, account


async def check_current_password(
    db: Database, account: store.Account, password: str, *, telegram_user_id: int, now: float
) -> LoginResult:
    """Verify the current password before a change, throttled like a login."""
    until = await throttle.locked(db, throttle.LOGIN_ACCOUNT, account.id, now)
    if until:
        return LoginResult(LoginOutcome.LOCKED, account, until)
    if await verify_password(account.password_hash, password):
        return LoginResult(LoginOutcome.OK, account)
    until = await _failed_attempt(
        db,
        [(throttle.LOGIN_ACCOUNT, account.id)],
        actor=f"tg:{telegram_user_id}",
        action="password_check_failed",
        target=account.customer_id,
        lock_reason="password check",
        now=now,
    )
    if until:
        return LoginResult(LoginOutcome.LOCKED, account, until)
    return LoginResult(LoginOutcome.WRONG, account)


async def change_password(
    db: Database,
    account: store.Account,
    password_hash: str,
    *,
    telegram_user_id: int,
    now: float,
) -> None:
    """Store the new password; other Telegram logins of the account end."""
    async with db.transaction() as tx:
        await store.set_password(tx, account.id, password_hash, now)
        await store.drop_logins_of_account(tx, account.id, except_user=telegram_user_id)
        await audit.record(
            tx, now, f"tg:{telegram_user_id}", "password_changed", account.customer_id
        )

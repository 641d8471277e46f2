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
import sqlite3
import unicodedata
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import Enum
from typing import Any
from zoneinfo import ZoneInfo

from core import throttle
from core.config import Settings
from core.outbox import activation_link, queue_code_mail
from core.passwords import verify_password, verify_unknown_user
from storage import accounts as store
from storage import audit, billing
from storage.db import Database, DatabaseBusy, Queryable, Transaction

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no I, O, 0, 1: nothing to confuse
CODE_LENGTH = 24
ACTIVATION_PREFIX = "act_"
RESET_PREFIX = "rst_"
BUDAPEST = ZoneInfo("Europe/Budapest")
_USERNAME_EXTRA = set("._-")
# What a throttle keeps of a typed name or address nobody has (a message may be 4096 long).
_KEY_CHARS = 254
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


# Letters that show nothing (the Hangul fillers; NFKC turns U+3164 and U+FFA0 into U+1160).
_INVISIBLE_LETTERS = frozenset("\u115f\u1160\u3164\uffa0")
# Marks that show nothing: the grapheme joiner and the variation selectors.
_INVISIBLE_MARKS = frozenset(
    [
        "\u034f",
        "\u17b4",
        "\u17b5",
        *map(chr, range(0x180B, 0x1810)),
        *map(chr, range(0xFE00, 0xFE10)),
    ]
)
# Format and control characters (zero-width space and joiners, direction marks, …).
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Co", "Cn", "Cs", "Zl", "Zp"})
_LETTER_CATEGORIES = frozenset({"Lu", "Ll", "Lt", "Lo"})
_DIGITS = frozenset("0123456789")
# Japanese writes one name with three of Unicode's scripts.
_SCRIPT_FAMILY = {"HIRAGANA": "CJK", "KATAKANA": "CJK", "KATAKANA-HIRAGANA": "CJK"}


def normalise_username(text: str) -> str:
    """A typed user name as it is kept: NFKC (the fullwidth U+FF45 U+FF56 U+FF41 is `eva`),
    trimmed."""
    return unicodedata.normalize("NFKC", text).strip()


def _invisible(char: str) -> bool:
    return (
        char in _INVISIBLE_LETTERS
        or char in _INVISIBLE_MARKS
        or unicodedata.category(char) in _INVISIBLE_CATEGORIES
    )


def _letter(char: str) -> bool:
    return unicodedata.category(char) in _LETTER_CATEGORIES and char not in _INVISIBLE_LETTERS


def _script(letter: str) -> str:
    """The writing system of a letter: the first word of its Unicode name (LATIN, CYRILLIC)."""
    word = unicodedata.name(letter, "?").split(" ", 1)[0]
    return _SCRIPT_FAMILY.get(word, word)


def username_problem(username: str) -> str | None:
    """Why a (normalised) user name cannot be chosen, or None.

    'invisible' (a zero-width, format or filler character), 'length' (3-32),
    'chars' (only letters, digits 0-9 and . _ -), 'mixed' (letters of two
    scripts, e.g. a Cyrillic a (U+0430) among Latin letters: a look-alike of another
    name). Accented Latin letters (á, ő, ű) are Latin.
    """
    if any(_invisible(c) for c in username):
        return "invisible"
    if not 3 <= len(username) <= 32:
        return "length"
    if not all(c in _DIGITS or c in _USERNAME_EXTRA or _letter(c) for c in username):
        return "chars"
    if len({_script(c) for c in username if _letter(c)}) > 1:
        return "mixed"
    return None


def username_key(username: str) -> str:
    """The form user names are unique and looked up by: NFKC, case-insensitive."""
    return unicodedata.normalize("NFKC", normalise_username(username).casefold())


def _lookup_keys(username: str) -> list[str]:
    """A typed name's keys: first as names were stored before NFKC (casefolded only, so
    every existing name keeps working), then normalised. Usually both are the same."""
    return list(dict.fromkeys((username.strip().casefold(), username_key(username))))


async def find_by_username(db: Queryable, username: str) -> store.Account | None:
    """The account a typed user name names (any case, any Unicode form), if any."""
    for key in _lookup_keys(username):
        account = await store.by_username(db, key)
        if account is not None:
            return account
    return None


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


async def _wrong_guess(
    tx: Transaction,
    attempt: throttle.Attempt,
    *,
    actor: str,
    action: str,
    target: str,
    lock_reason: str,
    now: float,
) -> float | None:
    """Audit a wrong guess (its reservation already counts it) and the lockout it caused.

    Returns when the guesser may try this target again, if this failure
    reached a limit.
    """
    until = await throttle.lock_after_failure(tx, attempt, now)
    await audit.record(tx, now, actor, action, target)
    if until is not None:
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
            until = await _wrong_guess(
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


class _Nowhere:
    """A Queryable that drops every statement.

    A code asked for an unknown name or address is still made and its mail
    composed in full, then dropped here instead of stored: the same work as a
    real one, so the answer takes the same time.
    """

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        return 0

    async def insert(self, sql: str, params: Sequence[Any] = ()) -> int:
        return 0

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        return None

    async def fetch_one(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        return None

    async def fetch_all(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        return []

    async def fetch_value(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return None

    def changed(self, topic: str) -> None:
        return None


_NOWHERE = _Nowhere()


def _stand_in(now: float) -> store.Account:
    """The account a code for nobody is made for (its mail goes nowhere)."""
    return store.Account(
        id=0,
        customer_id="U0000",
        username="kovacs.eva",
        email="senki@petkomm.invalid",
        password_hash="",
        status="active",
        created_at=now,
        activated_at=now,
        registered_by_tg=None,
    )


async def _code_on_request(
    db: Database,
    purpose: str,
    find: Callable[[Queryable], Awaitable[store.Account | None]],
    asked_for: str,
    *,
    telegram_user_id: int,
    policy: Policy,
    mailer: CodeMailer,
    now: float,
) -> float | None:
    """Mail a fresh code to the account `find` finds; the same work and the same outcome
    when it finds none, so neither the answer nor its time tells whether it exists.

    Throttled per Telegram user (`throttle.CODE_REQUEST`, counted whatever the
    answer) and per account (`throttle.CODE_MAIL_ACCOUNT`, keyed by what was
    asked for when there is no account). Returns when the Telegram user may
    ask again, if they asked too often: the only thing the answer may tell.
    """
    actor = f"tg:{telegram_user_id}"
    async with db.transaction() as tx:
        asked = await throttle.reserve(tx, throttle.CODE_REQUEST, actor, "", now)
        if asked.locked_until is not None:
            return asked.locked_until
        account = await find(tx)
        key: str | int = account.id if account is not None else f"asked:{asked_for[:_KEY_CHARS]}"
        limited = await throttle.use(tx, throttle.CODE_MAIL_ACCOUNT, key, now)
        if account is not None and limited is None:
            await _issue_code(tx, account, purpose, policy, mailer, now)
            await audit.record(tx, now, actor, f"{purpose}_code_sent", account.customer_id)
        else:
            await _issue_code(_NOWHERE, _stand_in(now), purpose, policy, mailer, now)
            reason = "limited" if account is not None else "unknown"
            await audit.record(tx, now, actor, f"{purpose}_code_not_sent", "", reason)
    return None


async def request_reset_code(
    db: Database,
    text: str,
    *,
    telegram_user_id: int,
    policy: Policy,
    mailer: CodeMailer,
    now: float,
) -> float | None:
    """A forgotten password: mail a reset code to the active account named by user name or
    e-mail address, telling nobody whether there is one (see `_code_on_request`)."""
    return await _code_on_request(
        db,
        "reset",
        lambda tx: find_for_reset(tx, text),
        text.strip().casefold(),
        telegram_user_id=telegram_user_id,
        policy=policy,
        mailer=mailer,
        now=now,
    )


async def request_activation_code(
    db: Database,
    email: str,
    *,
    telegram_user_id: int,
    policy: Policy,
    mailer: CodeMailer,
    now: float,
) -> float | None:
    """A new activation code for the newest pending registration with this address, telling
    nobody whether there is one (see `_code_on_request`)."""

    async def pending(tx: Queryable) -> store.Account | None:
        found = await store.pending_by_email(tx, email)
        return found[0] if found else None

    return await _code_on_request(
        db,
        "activation",
        pending,
        email.strip().casefold(),
        telegram_user_id=telegram_user_id,
        policy=policy,
        mailer=mailer,
        now=now,
    )


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
    """Look a typed (or deep-linked) code up, counted per Telegram user before the look-up."""
    key = f"tg:{telegram_user_id}"
    async with db.transaction() as tx:
        attempt = await throttle.reserve(tx, throttle.CODE, key, "", now)
        if attempt.locked_until is not None:
            return CodeResult(CodeOutcome.LOCKED, locked_until=attempt.locked_until)
        code = await store.code_by_hash(tx, purpose, hash_code(text))
        if code is None:
            until = await _wrong_guess(
                tx,
                attempt,
                actor=key,
                action=f"{purpose}_code_wrong",
                target="",
                lock_reason=f"{purpose} code",
                now=now,
            )
            if until is not None:
                return CodeResult(CodeOutcome.LOCKED, locked_until=until)
            return CodeResult(CodeOutcome.INVALID)
        # A code we issued, even a used or expired one, is no wrong guess; earlier
        # wrong ones stay counted (they were guesses at other codes).
        await throttle.not_a_guess(tx, attempt)
        account = await store.by_id(tx, code.account_id)
    if code.used_at is not None:
        return CodeResult(CodeOutcome.USED, account=account)
    if code.expires_at <= now:
        return CodeResult(CodeOutcome.EXPIRED, account=account)
    return CodeResult(CodeOutcome.OK, account=account, code_id=code.id)


async def activate(db: Database, text: str, *, telegram_user_id: int, now: float) -> CodeResult:
    """Activate the account the activation code belongs to (single use).

    Whoever activates has the mailed code: they are the owner, so strangers'
    failed logins never lock them out of the account.
    """
    result = await check_code(db, text, "activation", telegram_user_id=telegram_user_id, now=now)
    if result.outcome is not CodeOutcome.OK:
        return result
    assert result.account is not None and result.code_id is not None
    tg_key = f"tg:{telegram_user_id}"
    async with db.transaction() as tx:
        if not await store.use_code(tx, result.code_id, now):
            return CodeResult(CodeOutcome.USED, account=result.account)
        await store.activate(tx, result.account.id, now)
        await throttle.vouch(tx, throttle.LOGIN, tg_key, str(result.account.id), now)
        await audit.record(tx, now, tg_key, "activated", result.account.customer_id)
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
    """Set a new password with a checked reset code; every login of the account ends.

    The mailed code proves the owner: their failed logins are forgiven and
    strangers' failures no longer lock them out (the strangers stay counted).
    """
    tg_key = f"tg:{telegram_user_id}"
    async with db.transaction() as tx:
        if not await store.use_code(tx, code_id, now):
            return False
        await store.set_password(tx, account.id, password_hash, now)
        await store.drop_logins_of_account(tx, account.id)
        await throttle.vouch(tx, throttle.LOGIN, tg_key, str(account.id), now)
        await audit.record(tx, now, tg_key, "password_reset", account.customer_id)
    return True


async def find_for_reset(db: Queryable, text: str) -> store.Account | None:
    """The account a forgotten-password request names, by user name or e-mail."""
    text = text.strip()
    if "@" in text:
        found = [a for a in await store.by_email(db, text) if a.status == "active"]
        return found[0] if len(found) == 1 else None
    account = await find_by_username(db, text)
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
    """Check user name and password and bind this Telegram user to the account.

    The guess is counted before the password is verified (`throttle.LOGIN`),
    so concurrent guesses get no more than the limits; a right password
    forgives only this Telegram user's failures against this account.
    """
    tg_key = f"tg:{telegram_user_id}"
    account = await find_by_username(db, username)
    target = str(account.id) if account else f"name:{username_key(username)[:_KEY_CHARS]}"
    async with db.transaction() as tx:
        attempt = await throttle.reserve(tx, throttle.LOGIN, tg_key, target, now)
    if attempt.locked_until is not None:
        return LoginResult(LoginOutcome.LOCKED, locked_until=attempt.locked_until)
    if account is None:
        await verify_unknown_user(password)
        ok = False
    else:
        ok = await verify_password(account.password_hash, password)
    if not ok:
        async with db.transaction() as tx:
            until = await _wrong_guess(
                tx,
                attempt,
                actor=tg_key,
                action="login_failed",
                target=account.customer_id if account else "",
                lock_reason="login",
                now=now,
            )
        if until is not None:
            return LoginResult(LoginOutcome.LOCKED, locked_until=until)
        return LoginResult(LoginOutcome.WRONG)
    assert account is not None
    async with db.transaction() as tx:
        await throttle.succeeded(tx, attempt, now, remember=account.status == "active")
        if account.status == "pending":
            return LoginResult(LoginOutcome.PENDING, account=account)
        if account.status == "disabled":
            return LoginResult(LoginOutcome.DISABLED, account=account)
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
    """Verify the current password before a change, counted like a login before the check."""
    tg_key = f"tg:{telegram_user_id}"
    async with db.transaction() as tx:
        attempt = await throttle.reserve(tx, throttle.LOGIN, tg_key, str(account.id), now)
    if attempt.locked_until is not None:
        return LoginResult(LoginOutcome.LOCKED, account, attempt.locked_until)
    if await verify_password(account.password_hash, password):
        async with db.transaction() as tx:
            await throttle.succeeded(tx, attempt, now)
        return LoginResult(LoginOutcome.OK, account)
    async with db.transaction() as tx:
        until = await _wrong_guess(
            tx,
            attempt,
            actor=tg_key,
            action="password_check_failed",
            target=account.customer_id,
            lock_reason="password check",
            now=now,
        )
    if until is not None:
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

"""Activation and reset codes: issued, mailed, asked for again, checked, used."""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from core import journal, throttle
from core.accounts.rules import (
    ACTIVATION_PREFIX,
    KEY_CHARS,
    RESET_PREFIX,
    Policy,
    find_by_username,
    hash_code,
    local_time,
    new_code,
    wrong_guess,
)
from core.config import Settings
from core.outbox import activation_link, mail_subject, queue_code_mail, queue_mail
from storage import accounts as store
from storage import audit
from storage import notifications as notify_store
from storage.db import Database, Queryable

# --- codes by mail --------------------------------------------------------------------


class CodeMailer:
    """Queues the mails of the account flows (codes, and notices to the owner); the
    domain's only link to the outbox.

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
            account_id=account.id or None,
        )
        return queued.message_id

    async def notice(
        self,
        db: Queryable,
        account: store.Account,
        template: str,
        now: float,
        *,
        ticket_number: str | None = None,
        **context: Any,
    ) -> str:
        """Queue a notice to the account's registered address (`mail/<template>.*`, also its
        outbox kind), with `username` and `context`; returns its Message-ID."""
        values = {"username": account.username, **context}
        queued = await queue_mail(
            db,
            self.settings,
            kind=template,
            to=account.email,
            subject=mail_subject(template, **values),
            template=template,
            context=values,
            ticket_number=ticket_number,
            now=now,
            account_id=account.id or None,
        )
        return queued.message_id


async def issue_code(
    db: Queryable,
    account: store.Account,
    purpose: str,
    policy: Policy,
    mailer: CodeMailer,
    now: float,
) -> str:
    """Store a fresh code's hash and queue its mail; returns the mail's Message-ID.

    Every code mail to an account counts toward its cap (`throttle.CODE_MAIL_ACCOUNT`),
    the registration's own included; a caller that may be refused asks `throttle.locked`
    first.
    """
    code = new_code()
    expires_at = now + policy.code_ttl_hours * 3600
    await store.add_code(db, account.id, purpose, hash_code(code), now, expires_at)
    message_id = await mailer.send(db, account, purpose, code, expires_at, now)
    if account.id:  # not the stand-in for nobody, whose mail goes nowhere
        await throttle.failure(db, throttle.CODE_MAIL_ACCOUNT, account.id, now)
    return message_id


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
    until = await throttle.locked(tx, throttle.CODE_MAIL_ACCOUNT, account.id, now)
    if until:
        return NewCode(limited_until=until)
    message_id = await issue_code(tx, account, purpose, policy, mailer, now)
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
    once: str | None = None,
    now: float,
) -> float | None:
    """Mail a fresh code (replacing the old); returns when allowed again if rate-limited.

    Once for the message `once`: asked again, it returns what it did then.
    """
    async with db.transaction() as tx:
        sent_before = await journal.done(tx, once, f"{purpose}_code_sent")
        if sent_before is not None:
            until: float | None = sent_before["until"]
            return until
        sent = await issue_new_code(
            tx, account, purpose, policy=policy, mailer=mailer, actor=actor, now=now
        )
        await journal.record(tx, once, f"{purpose}_code_sent", now, until=sent.limited_until)
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

    def erased(self) -> None:
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
    once: str | None,
    now: float,
) -> float | None:
    """Mail a fresh code to the account `find` finds; the same work and the same outcome
    when it finds none, so neither the answer nor its time tells whether it exists.

    Throttled per Telegram user (`throttle.CODE_REQUEST`, counted whatever the
    answer) and per account (`throttle.CODE_MAIL_ACCOUNT`, keyed by what was
    asked for when there is no account). Returns when the Telegram user may
    ask again, if they asked too often: the only thing the answer may tell.
    Once for the message `once`: asked again, it is answered as then, and
    nothing is mailed or counted again.
    """
    actor = f"tg:{telegram_user_id}"
    effect = f"{purpose}_code_requested"
    async with db.transaction() as tx:
        if await journal.done(tx, once, effect) is not None:
            return None

        asked = await throttle.reserve(tx, throttle.CODE_REQUEST, actor, "", now)
        if asked.locked_until is not None:
            return asked.locked_until
        account = await find(tx)
        if account is not None:  # counted by issue_code, as every code mail to an account
            limited = await throttle.locked(tx, throttle.CODE_MAIL_ACCOUNT, account.id, now)
        else:
            key = f"asked:{asked_for[:KEY_CHARS]}"
            limited = await throttle.use(tx, throttle.CODE_MAIL_ACCOUNT, key, now)
        if account is not None and limited is None:
            await issue_code(tx, account, purpose, policy, mailer, now)
            await audit.record(tx, now, actor, f"{purpose}_code_sent", account.customer_id)
        else:
            await issue_code(_NOWHERE, _stand_in(now), purpose, policy, mailer, now)
            reason = "limited" if account is not None else "unknown"
            await audit.record(tx, now, actor, f"{purpose}_code_not_sent", "", reason)

        await journal.record(tx, once, effect, now)
    return None


async def request_reset_code(
    db: Database,
    text: str,
    *,
    telegram_user_id: int,
    policy: Policy,
    mailer: CodeMailer,
    once: str | None = None,
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
        once=once,
        now=now,
    )


async def request_activation_code(
    db: Database,
    email: str,
    *,
    telegram_user_id: int,
    policy: Policy,
    mailer: CodeMailer,
    once: str | None = None,
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
        once=once,
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
    logged_in: bool = False  # an activation that logged its registrant in at once
    purpose: str = ""  # what the code found is for (activation | reset); "" when none was


async def check_code(
    db: Database,
    text: str,
    purpose: str | tuple[str, ...],
    *,
    telegram_user_id: int,
    now: float,
) -> CodeResult:
    """Look a typed (or deep-linked) code up, counted per Telegram user before the look-up.

    Several purposes (a code typed outside any dialogue may be an activation or a reset
    code) are looked up under the one attempt: one message is one guess.
    """
    purposes = (purpose,) if isinstance(purpose, str) else purpose
    purpose = purposes[0]
    key = f"tg:{telegram_user_id}"
    async with db.transaction() as tx:
        attempt = await throttle.reserve(tx, throttle.CODE, key, "", now)
        if attempt.locked_until is not None:
            return CodeResult(CodeOutcome.LOCKED, locked_until=attempt.locked_until)
        code = None
        for each in purposes:
            code = await store.code_by_hash(tx, each, hash_code(text))
            if code is not None:
                break
        if code is None:
            until = await wrong_guess(
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
        return CodeResult(CodeOutcome.USED, account=account, purpose=code.purpose)
    if code.expires_at <= now:
        return CodeResult(CodeOutcome.EXPIRED, account=account, purpose=code.purpose)
    return CodeResult(CodeOutcome.OK, account=account, code_id=code.id, purpose=code.purpose)


async def activate(
    db: Database,
    text: str,
    *,
    telegram_user_id: int,
    chat_id: int | None = None,
    once: str | None = None,
    now: float,
) -> CodeResult:
    """Activate the account the activation code belongs to (single use).

    Whoever activates has the mailed code: they are the owner, so strangers'
    failed logins never lock them out of the account. The Telegram user who
    registered the account chose its password and proved its customer ID, and
    the code now proves its address: activating in their `chat_id` logs them in
    at once (`logged_in`); anyone else logs in with the password. The message
    `once` that activated it is answered OK again, not "already used".
    """
    activated = await journal.done(db, once, "activated")
    account = await store.by_id(db, activated["account"]) if activated else None
    if activated is not None and account is not None:
        return CodeResult(
            CodeOutcome.OK,
            account=account,
            code_id=activated["code"],
            logged_in=bool(activated.get("logged_in")),
        )
    result = await check_code(db, text, "activation", telegram_user_id=telegram_user_id, now=now)
    if result.outcome is not CodeOutcome.OK:
        return result
    assert result.account is not None and result.code_id is not None
    tg_key = f"tg:{telegram_user_id}"
    log_in = chat_id is not None and result.account.registered_by_tg == telegram_user_id
    async with db.transaction() as tx:
        if not await store.use_code(tx, result.code_id, now):
            return CodeResult(CodeOutcome.USED, account=result.account)
        await store.activate(tx, result.account.id, now)
        await throttle.vouch(tx, throttle.LOGIN, tg_key, str(result.account.id), now)
        await audit.record(tx, now, tg_key, "activated", result.account.customer_id)
        if log_in:
            assert chat_id is not None
            await store.bind_login(tx, telegram_user_id, result.account.id, chat_id, now)
            await notify_store.logged_in(tx, telegram_user_id, result.account.id, chat_id, now)
            await audit.record(tx, now, tg_key, "login", result.account.customer_id, "activation")
        await journal.record(
            tx,
            once,
            "activated",
            now,
            account=result.account.id,
            code=result.code_id,
            logged_in=log_in,
        )
    return CodeResult(
        CodeOutcome.OK, account=await store.by_id(db, result.account.id), logged_in=log_in
    )


async def reset_password(
    db: Database,
    code_id: int,
    account: store.Account,
    password_hash: str,
    *,
    telegram_user_id: int,
    mailer: CodeMailer,
    once: str | None = None,
    now: float,
) -> bool:
    """Set a new password with a checked reset code; every login of the account ends, and
    the registered address hears of it (`mail/password_changed`: if it was not its owner,
    they learn it at once).

    The mailed code proves the owner: their failed logins are forgiven and
    strangers' failures no longer lock them out (the strangers stay counted).
    The message `once` that set it is told True again, not that the code is used.
    """
    tg_key = f"tg:{telegram_user_id}"
    async with db.transaction() as tx:
        if await journal.done(tx, once, "password_reset") is not None:
            return True
        if not await store.use_code(tx, code_id, now):
            return False
        await store.set_password(tx, account.id, password_hash, now)
        await store.drop_logins_of_account(tx, account.id)
        await notify_store.account_logins_ended(tx, account.id, now)
        await throttle.vouch(tx, throttle.LOGIN, tg_key, str(account.id), now)
        await audit.record(tx, now, tg_key, "password_reset", account.customer_id)
        await mailer.notice(tx, account, "password_changed", now, how="reset", when=local_time(now))
        await journal.record(tx, once, "password_reset", now, account=account.id)
    return True


async def find_for_reset(db: Queryable, text: str) -> store.Account | None:
    """The account a forgotten-password request names, by user name or e-mail."""
    text = text.strip()
    if "@" in text:
        found = [a for a in await store.by_email(db, text) if a.status == "active"]
        return found[0] if len(found) == 1 else None
    account = await find_by_username(db, text)
    return account if account and account.status == "active" else None

"""`check`: one line per part of the installation, each OK or the reason; for monitoring.

Exit code 0 only when every configured part works; a part that is not configured
(the support mailbox, the staff chat) is said to be so and does not fail the check.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from cli.common import REFUSED, USAGE, Subparsers, age, database_missing, local_time
from core.config import ConfigError, Settings

PART_TIMEOUT = 20.0  # seconds a part may take before it counts as failed


@dataclass(frozen=True)
class Part:
    name: str
    ok: bool
    detail: str

    def line(self) -> str:
        verdict = "OK" if self.ok else "FAILED"
        return (
            f"{self.name:<12} {verdict}: {self.detail}"
            if self.detail
            else f"{self.name:<12} {verdict}"
        )


def register(sub: Subparsers) -> None:
    """Add `check` to the subcommands."""
    p = sub.add_parser(
        "check",
        help="check settings, databases, mail servers and Telegram (for monitoring)",
        description="Check every part of the installation without changing anything: the"
        " settings, both database files (reachable, migrated, writable, intact), SMTP"
        " (connect, EHLO, login), IMAP (login, folder), Telegram (getMe with the token) and"
        " the staff chat. One line per part; exit 0 only when all that is configured works.",
    )
    p.set_defaults(func=cmd_check)


async def cmd_check(args: argparse.Namespace, settings: Settings) -> int:
    """Print one line per part; exit 0 if every configured part is OK, 2 for a malformed
    setting, 1 otherwise."""
    first = await _settings(settings)
    parts = [first.part]
    if first.error is None or not first.error.missing:
        # A malformed setting does not hide the rest: each part that does not need it is
        # checked, one that does says so.
        parts += await _guarded(["database", "state file"], lambda: _databases(settings))
        if settings.import_folder is not None:  # the daily import is set up: is it running?
            parts.append(await asyncio.to_thread(_import, settings))
        parts += await _guarded(["smtp"], lambda: _one(_timed("smtp", lambda: _smtp(settings))))
        parts += await _guarded(["imap"], lambda: _one(_timed("imap", lambda: _imap(settings))))
        parts += await _guarded(["telegram"], lambda: _telegram(settings))
    for part in parts:
        print(part.line())
    if first.error is not None and not first.error.missing:
        return USAGE
    return 0 if all(part.ok for part in parts) else REFUSED


async def _one(part: Awaitable[Part]) -> list[Part]:
    return [await part]


async def _guarded(names: list[str], probe: Callable[[], Awaitable[list[Part]]]) -> list[Part]:
    """The probe's parts, or one failed line a name when a setting it needs is malformed."""
    try:
        return await probe()
    except ConfigError as error:
        return [Part(name, False, f"not checked: {error.variable} is malformed") for name in names]


async def _timed(name: str, probe: Callable[[], Awaitable[Part]]) -> Part:
    try:
        return await asyncio.wait_for(probe(), PART_TIMEOUT)
    except TimeoutError:
        return Part(name, False, f"no answer within {PART_TIMEOUT:.0f} s")


@dataclass(frozen=True)
class SettingsCheck:
    part: Part
    error: ConfigError | None


async def _settings(settings: Settings) -> SettingsCheck:
    from core.facts import facts_from

    try:
        settings.check_service()
        if settings.mail_outbox_dir is None:
            settings.smtp_host  # noqa: B018 - read to check
        facts_from(settings)
    except ConfigError as error:
        return SettingsCheck(Part("settings", False, str(error)), error)
    return SettingsCheck(Part("settings", True, ""), None)


async def _databases(settings: Settings) -> list[Part]:
    from core.db import DatabaseMissing, database_health

    parts = []
    for name, path, state in (
        ("database", settings.db_path, False),
        ("state file", settings.state_db_path, True),
    ):
        health = await asyncio.to_thread(database_health, path, state=state)
        variable = "PETKOMM_STATE_DB" if state else "PETKOMM_DB"
        if health.problem is None:
            note = f" ({health.note})" if health.note else ""
            parts.append(Part(name, True, f"{path}, version {health.version}{note}"))
        elif health.problem == DatabaseMissing(path).reason:
            parts.append(Part(name, False, database_missing(settings, path)))
        else:  # as every other command words it
            parts.append(Part(name, False, f"{variable}: {path}: {health.problem}"))
    return parts


# The daily import runs at 06:15 (deploy/), give or take: a day and two hours without one
# that finished means at least one morning's import failed or did not run.
IMPORT_DUE_HOURS = 26


def _import(settings: Settings) -> Part:
    """When the last billing import finished; FAILED when none finished within
    IMPORT_DUE_HOURS (the import unit's OnFailure= tells of a failure at once)."""
    import time

    from core.db import last_import

    health = last_import(settings.db_path)
    if health.problem is not None:
        return Part("import", False, health.problem)
    if health.finished_at is None:
        last = "no import has finished yet"
    else:
        hours = (time.time() - health.finished_at) / 3600
        last = f"last finished {local_time(health.finished_at)} ({age(hours * 3600)} ago)"
        if hours <= IMPORT_DUE_HOURS:
            return Part("import", True, f"{last}, from {health.folder}")
    return Part(
        "import",
        False,
        f"none finished in the last {IMPORT_DUE_HOURS} h ({last}; PETKOMM_IMPORT_FOLDER is "
        f"{settings.import_folder}): see journalctl -u petkomm-import",
    )


async def _smtp(settings: Settings) -> Part:
    from mailer.probes import smtp_problem

    problem = await smtp_problem(settings)
    if settings.mail_outbox_dir is not None:
        where = f"writing .eml files to {settings.mail_outbox_dir} (PETKOMM_MAIL_OUTBOX_DIR)"
    else:
        where = f"{settings.smtp_host}:{settings.smtp_port} ({settings.smtp_security})"
    return Part("smtp", problem is None, f"{where}: {problem}" if problem else where)


async def _imap(settings: Settings) -> Part:
    if not settings.reads_mail:
        return Part("imap", True, "not configured (PETKOMM_IMAP_HOST): mail is not read")
    from mailer.probes import imap_problem

    problem = await imap_problem(settings)
    where = f"{settings.imap_user}@{settings.imap_host}:{settings.imap_port}/{settings.imap_folder}"
    return Part("imap", problem is None, f"{where}: {problem}" if problem else where)


async def _telegram(settings: Settings) -> list[Part]:
    from bot.probes import telegram_health

    try:
        health = await asyncio.wait_for(telegram_health(settings), PART_TIMEOUT)
    except TimeoutError:
        return [Part("telegram", False, f"no answer within {PART_TIMEOUT:.0f} s")]
    if health.problem is not None:
        return [Part("telegram", False, health.problem)]
    parts = [Part("telegram", True, f"@{health.bot}")]
    chat = settings.staff_chat_id
    if chat is None:
        parts.append(Part("staff chat", True, "not configured (PETKOMM_STAFF_CHAT_ID)"))
    elif health.staff_problem is not None:
        parts.append(Part("staff chat", False, f"{chat}: {health.staff_problem}"))
    else:
        parts.append(Part("staff chat", True, str(chat)))
    return parts

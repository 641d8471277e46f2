"""Retention: what the service forgets, and from when.

Hungarian law keeps a complaint and its answer for five years (Fgytv. 17/A (7)).
A purge removes what is older than a day: closed tickets whose last activity
was before it, with everything that refers to them (messages and notes, raw
mails, attached files, staff-chat and chat links, their mail), and the
ephemeral rows of that age (audit rows, sent or failed mail, sent notices,
guessing limits, expired codes, idle logins). Open tickets and mail still
waiting are never removed, however old.

The day must be at least five years back (`MINIMUM_RETENTION_YEARS`): a later one
is refused unless the operator forces it, so a typo cannot wipe last year's
complaints. With PETKOMM_RETENTION_YEARS set, the running service purges what
is older than that many years once a day (`EVERY`).

A purge is one transaction (a crash midway removes nothing); what it removes is
overwritten in the file (secure_delete) and then scrubbed from the write-ahead
log; it writes one audit row with the date and the counts, kept for ever.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time

from core.accounts.rules import BUDAPEST
from core.config import MINIMUM_RETENTION_YEARS
from storage import audit
from storage import retention as store
from storage.db import Database

EVERY = 24 * 3600.0  # seconds between the service's purges
PURGE_ACTION = store.PURGE_ACTION


@dataclass(frozen=True)
class Purged:
    """What a purge removed (or, as a dry run, would remove): each kind with its count."""

    before: date
    dry_run: bool
    counts: tuple[tuple[str, str, int], ...]  # (key, the operator's label, count), in order

    @property
    def total(self) -> int:
        """Rows of every kind together."""
        return sum(count for _, _, count in self.counts)

    def summary(self) -> str:
        """The kinds that had rows, for a log line: `3 closed tickets, 7 ticket messages`."""
        return ", ".join(f"{count} {label}" for _, label, count in self.counts if count)

    def details(self) -> str:
        """The audit row's details: every kind's count by its key."""
        return " ".join(f"{key}={count}" for key, _, count in self.counts)


def budapest_day(now: float) -> date:
    """The day it is in Budapest at `now` (unix seconds)."""
    return datetime.fromtimestamp(now, BUDAPEST).date()


def years_before(day: date, years: int) -> date:
    """The same day `years` years earlier (29 February becomes the 28th)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def latest_allowed(today: date) -> date:
    """The latest day a purge may name without forcing it: five years before `today`."""
    return years_before(today, MINIMUM_RETENTION_YEARS)


def refusal(before: date, today: date, *, force: bool) -> str | None:
    """Why a purge of what is older than `before` is refused today; None when it may run.

    A day after today is never allowed; one within the law's five years only when forced.
    """
    if before > today:
        return f"{before.isoformat()} is after today"
    latest = latest_allowed(today)
    if before > latest and not force:
        return (
            f"{before.isoformat()} is less than {MINIMUM_RETENTION_YEARS} years ago: the law "
            f"(Fgytv. 17/A (7)) keeps a complaint and its answer for {MINIMUM_RETENTION_YEARS} "
            f"years, so the latest date today is {latest.isoformat()} (--force overrides)"
        )
    return None


def cutoff_for_years(years: int, now: float) -> date:
    """The day a purge keeping `years` years names today (PETKOMM_RETENTION_YEARS)."""
    return years_before(budapest_day(now), years)


def start_of(day: date) -> float:
    """The first moment of `day` in Budapest (unix seconds): "before DATE" means before it."""
    return datetime.combine(day, time.min, BUDAPEST).timestamp()


async def purge(
    db: Database, before: date, *, dry_run: bool = False, actor: str, now: float
) -> Purged:
    """Remove what is older than the start of `before` (Budapest time), in one transaction;
    with `dry_run` only count it. A purge that removed something writes one audit row
    (`retention_purge`, the date, the counts) by `actor`, and has the removed bytes gone
    from the write-ahead log too (soon; `Database.erased_everywhere` waits for it).

    The caller checks `refusal` first: this removes whatever it is told to.
    """
    labels = {kind.key: kind.label for kind in store.KINDS}
    async with db.transaction() as tx:
        counts = await store.purge(tx, start_of(before), dry_run=dry_run)
        result = Purged(
            before,
            dry_run,
            tuple((key, labels[key], counts[key]) for key in store.REPORT_ORDER),
        )
        if not dry_run and result.total:
            await audit.record(tx, now, actor, PURGE_ACTION, before.isoformat(), result.details())
            tx.erased()
    return result


async def purge_for_years(db: Database, years: int, now: float, actor: str = "system") -> Purged:
    """The daily purge of PETKOMM_RETENTION_YEARS: what is older than `years` years."""
    return await purge(db, cutoff_for_years(years, now), actor=actor, now=now)

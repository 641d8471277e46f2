"""The morning digest of deadlines (issue 17, point 7): what comes to the clerk each working day.

Every working morning (Monday to Friday but Hungary's public holidays and moved
days off, and the Saturdays worked instead) at PETKOMM_DIGEST_TIME (08:00
Budapest by default) the staff chat gets one message: the tickets past their
answer deadline, those due within three days, those whose customer has waited
more than a day for an answer, and the median and 90th percentile of the time
to a first answer over the last 30 days
(and, point 8, the month's average rating). The clock is the service's, so the
tests move it. A service started later in the morning still posts it, up to
`LATE` after the time; once a day, across restarts (`staff_digests`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import holidays

from core.accounts import BUDAPEST
from core.db import Queryable
from core.ratings import Average, month_average
from core.staff import WARN_DAYS, Summary, summarise
from core.tickets import DAY
from storage import desk as store

LATE = timedelta(hours=4)  # a digest not posted by then waits for the next working day
WINDOW_DAYS = 30  # first answers counted over this many days
WAITING = DAY  # "unanswered for more than a day"
SHOWN = 10  # tickets listed under each heading (the rest counted)


# Hungary's calendar as the `holidays` library keeps it: the public holidays (Mt. 102. §,
# Easter and Whit Monday computed) and, from each year's decree of the ministry, the days
# off moved to a weekday (áthelyezett pihenőnap) and the Saturdays worked instead
# (áthelyezett munkanap). Years are filled in as they are asked for.
_HUNGARY = holidays.country_holidays("HU")


def working_day(day: date) -> bool:
    """A day Hungary works: Monday to Friday but public holidays and moved days off, and
    the Saturdays a decree made working days."""
    return bool(_HUNGARY.is_working_day(day))


def digest_day(now: float, at: time) -> date | None:
    """The working day whose digest is due at `now` (from `at` until `LATE` after), or None."""
    local = datetime.fromtimestamp(now, BUDAPEST)
    start = datetime.combine(local.date(), at, BUDAPEST)
    if not working_day(local.date()) or not start <= local < start + LATE:
        return None
    return local.date()


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile (`share` 0.5 is the median of an odd count)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


@dataclass(frozen=True)
class Digest:
    """One morning's digest."""

    day: date
    overdue: list[Summary]
    due_soon: list[Summary]
    waiting: list[Summary]
    answered: int  # first answers in the window
    median: float | None  # seconds to a first answer
    p90: float | None
    rating: Average | None = None  # the month's ratings (point 8)
    shown: int = SHOWN


async def compose(db: Queryable, day: date, *, answer_days: int, now: float) -> Digest:
    """The digest as of `now`: deadlines from `answer_days`, first answers over 30 days."""
    near = await store.open_due_before(db, now - (answer_days - WARN_DAYS) * DAY)
    summaries = [await summarise(db, t, answer_days=answer_days, now=now) for t in near]
    overdue = [s for s in summaries if s.overdue]
    due_soon = [s for s in summaries if not s.overdue and s.near]
    waiting = [
        await summarise(db, t, answer_days=answer_days, now=now)
        for t in await store.waiting_since(db, now - WAITING)
    ]
    times = await store.first_answer_times(db, now - WINDOW_DAYS * DAY)
    return Digest(
        day=day,
        overdue=overdue,
        due_soon=due_soon,
        waiting=waiting,
        answered=len(times),
        median=percentile(times, 0.5) if times else None,
        p90=percentile(times, 0.9) if times else None,
        rating=await month_average(db, now),
    )


def over_for_today(now: float, at: time) -> bool:
    """No digest is due later today: not a working day, or its window has passed."""
    local = datetime.fromtimestamp(now, BUDAPEST)
    late = datetime.combine(local.date(), at, BUDAPEST) + LATE
    return not working_day(local.date()) or local >= late


async def already_sent(db: Queryable, day: date) -> bool:
    """Whether the day's digest went out (this process or an earlier run)."""
    return await store.digest_sent(db, day.isoformat())


async def sent(db: Queryable, day: date, now: float) -> None:
    """The day's digest is in the staff chat."""
    await store.mark_digest_sent(db, day.isoformat(), now)

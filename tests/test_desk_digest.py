"""The morning digest of deadlines (issue 17, point 7), computed with the injected clock.

The bot runs with a staff chat and PETKOMM_DIGEST_TIME; the test sets the clock the
announcer reads to a working morning, a weekend and a holiday.
"""

from __future__ import annotations

from datetime import date, datetime

from core import tickets
from core.accounts import BUDAPEST
from core.digest import percentile, working_day
from storage import tickets as tickets_store

DAY = 86400.0
HOUR = 3600.0


def budapest(*when: int) -> float:
    return datetime(*when, tzinfo=BUDAPEST).timestamp()


MONDAY = budapest(2026, 11, 30, 6, 30)


async def ticket(env, subject: str, created: float, answered_after: float | None = None) -> str:
    """A mail report made at `created`, answered by a clerk `answered_after` seconds later."""
    async with env.db.transaction() as tx:
        made = await tickets.open_ticket(
            tx,
            channel="mail",
            subject=subject,
            body="…",
            new_text="…",
            actor="mail:ugyfel@example.hu",
            email="ugyfel@example.hu",
            now=created,
        )
        if answered_after is not None:
            await tickets_store.add_message(
                tx,
                made.id,
                direction="out",
                author="staff:9001",
                body="Válasz.",
                new_text="Válasz.",
                mail_message_id=None,
                inbound_mail_id=None,
                now=created + answered_after,
            )
        await tx.execute("UPDATE staff_announcements SET sent_at = ?", (created,))
    return tickets.ticket_number(made.id)


def section(text: str, heading: str) -> str:
    """The lines under a heading of the digest, up to the next blank line."""
    after = text.split(heading, 1)[1]
    return after.split("\n\n", 1)[0]


def digests(env) -> list:
    return [m for m in env.group.replies if "Reggeli összefoglaló" in (m.text or "")]


async def test_the_digest_comes_once_each_working_morning_with_deadlines_and_answer_times(
    staff_bot,
):
    # 06:00: the bot starts at 10:46 on a Wednesday, past that morning's digest.
    env = await staff_bot(PETKOMM_DIGEST_TIME="06:00")
    overdue = await ticket(env, "Lejárt", MONDAY - 16 * DAY)
    soon = await ticket(env, "Hamarosan lejár", MONDAY - 13 * DAY)
    waiting = await ticket(env, "Két napja vár", MONDAY - 2 * DAY)
    quick = await ticket(env, "Gyors válasz", MONDAY - 3 * DAY, answered_after=5 * HOUR)
    slow = await ticket(env, "Lassú válasz", MONDAY - 10 * DAY, answered_after=30 * HOUR)
    old = await ticket(env, "Régi", MONDAY - 45 * DAY, answered_after=2 * DAY)  # outside 30 days
    await tickets_store.set_status(env.db, tickets.parse_ticket_number(old), "closed", MONDAY)
    await env.announcer.run_once()
    assert digests(env) == []  # Wednesday, 10:46: past the morning's digest

    env.clock.now = MONDAY - HOUR  # 05:30: not yet
    await env.announcer.run_once()
    assert digests(env) == []
    env.clock.now = MONDAY  # 06:30
    await env.announcer.run_once()
    await env.announcer.run_once()
    [digest] = digests(env)
    text = digest.text
    assert "2026. 11. 30. hétfő" in text
    assert overdue in section(text, "Lejárt a válaszadási határidő (1 db)")
    due = section(text, "3 napon belül lejár (1 db)")
    assert soon in due and "(még 2 nap)" in due
    late = section(text, "Egy napnál régebben vár válaszra")
    assert waiting in late and overdue in late and soon in late
    assert quick not in text and slow not in text
    # Two first answers in 30 days: 5 hours and 30 hours.
    assert "medián 5,0 óra, a válaszok 90%-a 30,0 óra alatt (2 bejelentés)" in text
    assert "Ügyfélértékelés ebben a hónapban: nincs még értékelés" in text

    # Later that day, on the weekend and on Christmas Day (a Friday): no other digest.
    env.clock.now = MONDAY + 3 * HOUR
    await env.announcer.run_once()
    env.clock.now = budapest(2026, 12, 5, 6, 30)  # Saturday
    await env.announcer.run_once()
    env.clock.now = budapest(2026, 12, 25, 6, 30)  # Friday, a public holiday
    await env.announcer.run_once()
    assert len(digests(env)) == 1
    # The next working morning: the next digest.
    env.clock.now = MONDAY + DAY
    await env.announcer.run_once()
    assert len(digests(env)) == 2 and "2026. 12. 01. kedd" in digests(env)[-1].text


async def test_no_digest_when_it_is_switched_off(staff_bot):
    env = await staff_bot()  # the fixture's PETKOMM_DIGEST_TIME=off
    env.clock.now = MONDAY
    await env.announcer.run_once()
    assert digests(env) == []


async def test_a_saturday_worked_instead_gets_its_digest_and_a_moved_day_off_none(staff_bot):
    env = await staff_bot(PETKOMM_DIGEST_TIME="06:00")
    env.clock.now = budapest(2026, 1, 2, 6, 30)  # Friday: a day off moved to 10 January
    await env.announcer.run_once()
    env.clock.now = budapest(2027, 3, 26, 6, 30)  # Good Friday (Easter 2027: 28 March)
    await env.announcer.run_once()
    assert digests(env) == []
    env.clock.now = budapest(2026, 1, 10, 6, 30)  # Saturday, a working day in its place
    await env.announcer.run_once()
    [digest] = digests(env)
    assert "2026. 01. 10. szombat" in digest.text


def test_working_days_know_hungarys_public_holidays_and_moved_days():
    assert not working_day(date(2027, 3, 26)) and not working_day(date(2027, 3, 29))  # Easter
    assert not working_day(date(2026, 4, 3))  # Good Friday
    assert not working_day(date(2026, 4, 6))  # Easter Monday
    assert not working_day(date(2026, 5, 25))  # Whit Monday
    assert not working_day(date(2026, 10, 23)) and working_day(date(2026, 3, 16))
    assert working_day(date(2026, 11, 30)) and not working_day(date(2026, 11, 29))
    # The decree's moved days (áthelyezett munkanapok): Friday 2 January 2026 is off, worked
    # on Saturday 10 January; so Friday 21 August for Saturday 8 August.
    assert not working_day(date(2026, 1, 2)) and working_day(date(2026, 1, 10))
    assert not working_day(date(2026, 8, 21)) and working_day(date(2026, 8, 8))
    assert not working_day(date(2025, 5, 2)) and working_day(date(2025, 5, 17))
    assert percentile([5.0], 0.9) == 5.0 and percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.0

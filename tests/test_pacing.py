"""Telegram's pace: a crowd is answered without a 429, customers before broadcasts, nothing dropped.

Through the real application and the Bot API emulator, whose flood control
answers a 31st message within a rolling second with 429 as Telegram does.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from bot import pacing
from botapi_emulator import BotApiEmulator
from conversations.common import label
from core.config import ConfigError, Settings
from core.db import open_database
from core.texts import render
from tests.botkit import BOT_USERNAME, TOKEN, Clock, start_bot, stop_bot

Start = Callable[..., Awaitable[tuple[BotApiEmulator, object]]]


@pytest.fixture
async def paced_bot(tmp_path) -> AsyncIterator[Start]:
    """Start the bot (no billing data: these customers only say hello) with settings."""
    started: list[tuple[BotApiEmulator, object, object]] = []

    async def start(**settings: str) -> tuple[BotApiEmulator, object]:
        db = await open_database(tmp_path / f"bot-{len(started)}.sqlite3")
        emulator = BotApiEmulator(token=TOKEN, bot_username=BOT_USERNAME)
        await emulator.start()
        env_values = {
            "PETKOMM_DB": str(tmp_path / f"bot-{len(started)}.sqlite3"),
            "PETKOMM_MAIL_OUTBOX_DIR": str(tmp_path / "mail"),
            **settings,
        }
        service = await start_bot(env_values, db, Clock(), emulator)
        started.append((emulator, service, db))
        return emulator, service

    yield start
    for emulator, service, db in started:
        await stop_bot(service)
        await emulator.stop()
        await db.close()


def refused_for_flood(emulator: BotApiEmulator) -> list[str]:
    return [call.method for call in emulator.requests if call.error_code == 429]


async def test_a_crowd_saying_hello_at_once_is_answered_without_a_single_429(paced_bot):
    emulator, _ = await paced_bot()
    people = [emulator.private_user(50_000 + n, f"Ügyfél {n}") for n in range(75)]
    for person in people:
        person.send_command("start")
    await emulator.wait_for(
        lambda: all(person.replies for person in people), timeout=30, what="every greeting"
    )
    assert refused_for_flood(emulator) == []
    assert all("PÉTKOMM" in person.replies[0].text for person in people)


async def test_a_customer_is_answered_before_a_broadcast_already_under_way(paced_bot):
    emulator, service = await paced_bot()
    bot = service.application.bot
    readers = [emulator.private_user(60_000 + n, f"Olvasó {n}") for n in range(90)]

    async def broadcast(chat_id: int) -> None:
        with pacing.background():
            await bot.send_message(chat_id, "Tervezett karbantartás")

    sending = [asyncio.create_task(broadcast(reader.user_id)) for reader in readers]
    await emulator.wait_for(
        lambda: sum(bool(r.replies) for r in readers) >= 5, timeout=10, what="the broadcast"
    )
    eva = emulator.private_user(1001, "Éva")
    eva.send_command("start")
    await emulator.wait_for(lambda: eva.replies, timeout=10, what="Éva's greeting")
    delivered_before_eva = sum(bool(r.replies) for r in readers)
    await asyncio.gather(*sending)
    # 90 background messages take over three seconds at 25 a second; Éva waited for none
    # of the ones still queued when she wrote (she would have waited for all of them).
    assert delivered_before_eva < 60, delivered_before_eva
    assert all(r.replies for r in readers)  # and the broadcast lost nothing
    assert refused_for_flood(emulator) == []


async def test_a_429_from_telegram_is_waited_out_and_the_answer_still_comes(paced_bot):
    emulator, _ = await paced_bot()
    eva = emulator.private_user(1001, "Éva")
    for _ in range(5):  # more than any fixed number of retries the bot used to give up after
        emulator.fail_next("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1)
    eva.send_command("start")
    await emulator.wait_for(lambda: eva.replies, timeout=20, what="the greeting after the 429s")
    assert "PÉTKOMM" in eva.replies[0].text


async def test_an_answer_that_waits_shows_typing_then_tells_the_customer_once(
    paced_bot, monkeypatch
):
    monkeypatch.setattr(pacing, "TYPING_AFTER", 0.3)
    monkeypatch.setattr(pacing, "LATE_AFTER", 1.2)
    emulator, _ = await paced_bot(PETKOMM_TELEGRAM_RATE="2")  # two messages a second
    people = [emulator.private_user(70_000 + n, f"Ügyfél {n}") for n in range(8)]
    for person in people:
        person.send_command("start")
    await emulator.wait_for(
        lambda: all(p.replies and "PÉTKOMM" in p.replies[-1].text for p in people),
        timeout=30,
        what="every greeting",
    )
    patience = render("chat/common/busy_wait.txt").strip()
    # The updates are handled side by side: whose answer went first depends on the machine.
    answered = [str(call.params.get("chat_id")) for call in emulator.calls("sendMessage")]
    first = next(p for p in people if str(p.user_id) == answered[0])
    last = next(p for p in people if str(p.user_id) == answered[-1])
    # The first is answered at once, with nothing else; those who waited seconds saw
    # "typing…", and some (at most one a second: each notice is a message too) were told
    # once to be patient, before their answer.
    assert [m.text for m in first.replies] == [first.replies[0].text]
    told = [p for p in people if any(m.text.strip() == patience for m in p.replies)]
    assert told and first not in told
    for person in told:
        texts = [m.text.strip() for m in person.replies]
        assert texts.count(patience) == 1 and texts[0] == patience
    typing_to = {call.params.get("chat_id") for call in emulator.calls("sendChatAction")}
    assert str(last.user_id) in {str(chat) for chat in typing_to}
    assert str(first.user_id) not in {str(chat) for chat in typing_to}
    assert refused_for_flood(emulator) == []


async def test_pacing_off_sends_as_fast_as_asked(paced_bot):
    # PETKOMM_TELEGRAM_RATE=0: no pacing (a bench measuring the bot itself), so a crowd
    # meets the emulator's own flood control: what the pacer otherwise prevents.
    emulator, _ = await paced_bot(PETKOMM_TELEGRAM_RATE="0")
    emulator.set_rate_limit(5)
    people = [emulator.private_user(80_000 + n, f"Ügyfél {n}") for n in range(20)]
    for person in people:
        person.send_command("start")
    await emulator.wait_for(
        lambda: all(person.replies for person in people), timeout=30, what="every greeting"
    )
    assert refused_for_flood(emulator)  # waited out and retried, but met


@pytest.mark.parametrize("value", ["sok", "-1", "2.5"])
def test_a_malformed_rate_setting_names_itself(value):
    with pytest.raises(ConfigError) as error:
        _ = Settings({"PETKOMM_TELEGRAM_RATE": value}).telegram_rate
    assert "PETKOMM_TELEGRAM_RATE" in str(error.value)


async def test_the_window_hands_places_to_the_earliest_deadline_and_background_last():
    window = pacing._Window(capacity=1, period=0.05)
    order: list[str] = []

    async def call(name: str, deadline: float, background: bool) -> None:
        await window.acquire(deadline, len(order) + 100, background)
        order.append(name)
        window.release_later(background)

    await window.acquire(0.0, 0, False)  # the place is taken
    tasks = [
        asyncio.create_task(call("broadcast", 0.0, True)),
        asyncio.create_task(call("new chat", 8.0, False)),
        asyncio.create_task(call("conversation", 1.0, False)),
    ]
    await asyncio.sleep(0)
    window.release_later(False)
    await asyncio.gather(*tasks)
    assert order == ["conversation", "new chat", "broadcast"]


async def test_a_broadcast_keeps_to_its_rate_and_leaves_places_free_for_customers():
    window = pacing._Window(capacity=6, period=0.2, reserve=2, background_rate=3)
    placed: list[int] = []

    async def broadcast(n: int) -> None:
        await window.acquire(0.0, n, True)
        placed.append(n)  # and keeps its place: nothing is released in this test

    tasks = [asyncio.create_task(broadcast(n)) for n in range(10)]
    await asyncio.sleep(0.05)
    assert placed == [0, 1, 2]  # three a period, though three more places are free
    await asyncio.sleep(0.25)
    # A period later the rate allows three more, but two places stay free for customers:
    # a fourth broadcast message only.
    assert placed == [0, 1, 2, 3]
    for n in range(2):  # customers' answers: a place at once, each
        await asyncio.wait_for(window.acquire(1.0, 100 + n, False), timeout=0.01)
    assert window.used == window.capacity and placed == [0, 1, 2, 3]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def test_a_page_is_answered_before_a_crowds_dialogue_steps(paced_bot):
    emulator, _ = await paced_bot(PETKOMM_TELEGRAM_RATE="3")  # three messages a second
    eva = emulator.private_user(1001, "Éva")
    crowd = [emulator.private_user(90_000 + n, f"Ügyfél {n}") for n in range(12)]
    for person in [eva, *crowd]:  # everyone has been talking with the bot
        person.send_command("start")
    await emulator.wait_for(
        lambda: all(p.replies for p in [eva, *crowd]), timeout=30, what="every greeting"
    )
    for person in crowd:  # a dialogue's first step each: "Adja meg a felhasználónevét"
        person.press(label("login"))
    eva.press(label("help"))  # Súgó: a page, pressed just after them
    asked = [len(p.replies) for p in crowd]
    await emulator.wait_for(lambda: len(eva.replies) >= 2, timeout=20, what="Éva's Súgó")
    answered_first = sum(len(p.replies) > n for p, n in zip(crowd, asked, strict=True))
    # At three a second the crowd's twelve questions take four seconds; Éva's page went
    # before those still waiting (in arrival order she would have waited for all of them).
    assert answered_first <= 4, answered_first
    await emulator.wait_for(
        lambda: all(len(p.replies) > n for p, n in zip(crowd, asked, strict=True)),
        timeout=30,
        what="every login question",
    )
    assert refused_for_flood(emulator) == []

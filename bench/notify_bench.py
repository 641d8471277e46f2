"""Benchmark of the notifications at Telegram's pace (issue 15; run on demand).

    .venv/bin/python bench/notify_bench.py [--customers N] [--menu-users M] [--think A-B]
                                           [--keep DIR] [--skip-full] [--skip-kill]

10 000 customers, every one subscribed to every kind, each gets one new invoice from
an import; the service (`run_bot.py run`, a process of its own, as the operator runs it)
sends the 10 000 notifications through the Bot API emulator with Telegram's flood
control on (30 messages a second). Meanwhile 20 logged-in customers press menu buttons
(🏠 Kezdőlap, 💰 Tartozás) one after another, reading each page 3 to 8 seconds (`--think`)
before the next press.

The two targets share Telegram's 30 messages a second: 10 000 in 7 minutes needs 24 a
second for the notifications, which leaves 6 for the customers. Customers who press every
second or two (`--think 1-2`: 20 of them ask ~13 pages a second) are answered first, and
the notifications get what is left (~16 a second: 10 000 in ~10.5 minutes).

Two runs on the same database:
1. full: the time to deliver all (target ≤ 7 min), the 429 answers the emulator gave
   (target 0), and the menu presses' answer time: median, p99 (target ≤ 1 s), worst;
2. killed: a second import's 10 000 notifications; the service is killed (SIGKILL)
   when half are delivered and started again: lost (a chat without its message) and
   duplicated (a message twice), target 0 and 0.

Prints figures and a table of the targets with PASS/MISS; it is not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from botapi_emulator import BotApiEmulator, ChatMessage, SimulatedUser  # noqa: E402
from conversations.common import label  # noqa: E402
from core.billing_import import import_folder  # noqa: E402
from core.db import open_database  # noqa: E402
from core.demodata import write_demo_data  # noqa: E402
from tests.botkit import BOT_USERNAME, TOKEN  # noqa: E402
from tests.notifykit import new_invoices_export, subscribe  # noqa: E402
from tests.test_durable_updates import BotProcess  # noqa: E402

NOTICE = "Új számlája érkezett"
TARGET_SECONDS = 7 * 60
TARGET_P99 = 1.0
MENU_BUTTONS = ("home", "debt")


@dataclass
class Watch:
    """What the emulator saw the bot send, counted as it happens."""

    serial_prefix: str = ""  # the invoice numbers of the import being sent
    told: Counter = field(default_factory=Counter)  # chat -> notifications of this import
    waiting: dict[int, asyncio.Future[float]] = field(default_factory=dict)  # chat -> answer

    def __call__(self, event: str, message: ChatMessage) -> None:
        if event != "sent":
            return
        text = message.text or ""
        if NOTICE in text:
            if self.serial_prefix in text:
                self.told[message.chat_id] += 1
            return
        future = self.waiting.pop(message.chat_id, None)
        if future is not None and not future.done():
            future.set_result(time.monotonic())


async def menu_presses(
    people: list[SimulatedUser],
    watch: Watch,
    stop: asyncio.Event,
    seed: int,
    think: tuple[float, float],
) -> list[float]:
    """Each person presses a menu button, waits for the answer, reads it for `think`
    seconds (between the two, at random), again. The first press of each, made while the
    service starts, is not counted."""
    rnd = random.Random(seed)
    latencies: list[float] = []

    async def one(person: SimulatedUser) -> None:
        loop = asyncio.get_running_loop()
        first = True  # pressed while the service starts: its answer waits for the start
        while not stop.is_set():
            future: asyncio.Future[float] = loop.create_future()
            watch.waiting[person.user_id] = future
            started = time.monotonic()
            person.send_text(label(rnd.choice(MENU_BUTTONS)))  # as pressed: the same text
            try:
                answered = await asyncio.wait_for(future, timeout=60)
            except TimeoutError:
                answered = time.monotonic()
            if not first:
                latencies.append(answered - started)
            first = False
            await asyncio.sleep(rnd.uniform(*think))

    await asyncio.gather(*(one(p) for p in people))
    return latencies


async def prepare(folder: Path, customers: int) -> tuple[list[str], dict[str, int]]:
    """Billing data for `customers`, each subscribed; returns the customers and their
    Telegram users."""
    export = folder / "export"
    write_demo_data(export, customers=customers, seed=5, years=1, today=date(2026, 11, 25))
    db = await open_database(folder / "run.sqlite3")
    try:
        await import_folder(db, export)
        rows = await db.fetch_all("SELECT customer_id FROM customers ORDER BY customer_id")
        ids = [row[0] for row in rows]
        users = await subscribe(db, ids, time.time())
    finally:
        await db.close()
    return ids, users


async def queue_import(folder: Path, ids: list[str], first_serial: int, name: str) -> None:
    db = await open_database(folder / "run.sqlite3")
    try:
        result = await import_folder(
            db, new_invoices_export(folder / name, ids, first_serial), only=["invoices"]
        )
    finally:
        await db.close()
    assert result.notices.new_invoice == len(ids), result.notices


def too_many(emulator: BotApiEmulator) -> int:
    return sum(1 for call in emulator.requests if call.error_code == 429)


async def wait_until(predicate, timeout: float) -> bool:  # noqa: ASYNC109
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.2)
    return True


async def run(args: argparse.Namespace) -> dict[str, object]:
    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="notify-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    figures: dict[str, object] = {
        "customers": args.customers,
        "menu_users": args.menu_users,
        "think_seconds": list(args.think),
    }
    started = time.monotonic()
    ids, users = await prepare(folder, args.customers)
    figures["prepare_seconds"] = round(time.monotonic() - started, 1)
    print(f"prepared {len(ids)} subscribed customers in {figures['prepare_seconds']} s")

    async with BotApiEmulator(
        token=TOKEN, bot_username=BOT_USERNAME, max_messages_per_second=30
    ) as emulator:
        people = {c: emulator.private_user(users[c], f"Ügyfél {c}") for c in ids}
        watch = Watch()
        emulator.add_listener(watch)
        menu_people = [people[c] for c in ids[: args.menu_users]]
        bot = BotProcess(
            folder,
            emulator,
            settings={"PETKOMM_QUIET_HOURS": "0-0", "PETKOMM_LOG_LEVEL": "WARNING"},
        )
        try:
            if not args.skip_full:
                await queue_import(folder, ids, 900_000, "new-1")
                watch.serial_prefix = "2026-9"
                before_429 = too_many(emulator)
                stop = asyncio.Event()
                t0 = time.monotonic()
                await bot.start()
                pressing = asyncio.create_task(
                    menu_presses(menu_people, watch, stop, 1, args.think)
                )
                done = await wait_until(lambda: len(watch.told) >= len(ids), args.timeout)
                elapsed = time.monotonic() - t0
                stop.set()
                latencies = await pressing
                figures["full"] = {
                    "delivered": len(watch.told),
                    "all_delivered": done,
                    "seconds_to_deliver_all": round(elapsed, 1),
                    "rate_per_second": round(len(watch.told) / elapsed, 1),
                    "responses_429": too_many(emulator) - before_429,
                    "menu_presses": len(latencies),
                    "menu_presses_per_second": round(len(latencies) / elapsed, 1),
                    "menu_median_s": round(statistics.median(latencies), 3) if latencies else None,
                    "menu_p99_s": round(_p99(latencies), 3) if latencies else None,
                    "menu_worst_s": round(max(latencies), 3) if latencies else None,
                    "duplicated": sum(n - 1 for n in watch.told.values() if n > 1),
                }
                print("full run:", json.dumps(figures["full"]))
                await bot.stop()

            if not args.skip_kill:
                await queue_import(folder, ids, 950_000, "new-2")
                watch.serial_prefix = "2026-95"
                watch.told = Counter()
                before_429 = too_many(emulator)
                t0 = time.monotonic()
                await bot.start()
                await wait_until(lambda: len(watch.told) >= len(ids) // 2, args.timeout)
                await bot.kill()
                at_kill = sum(watch.told.values())
                await asyncio.sleep(1.0)  # the emulator answers what was on its way
                await bot.start()
                done = await wait_until(lambda: len(watch.told) >= len(ids), args.timeout)
                # A duplicate would come right after the restart; give it time to show.
                await asyncio.sleep(5.0)
                elapsed = time.monotonic() - t0
                counts = [watch.told.get(users[c], 0) for c in ids]
                figures["killed"] = {
                    "killed_after": at_kill,
                    "all_delivered": done,
                    "seconds_with_restart": round(elapsed, 1),
                    "lost": sum(1 for n in counts if n == 0),
                    "duplicated": sum(n - 1 for n in counts if n > 1),
                    "responses_429": too_many(emulator) - before_429,
                    "restart_log": _resend_line(bot.log_text()),
                }
                print("killed run:", json.dumps(figures["killed"]))
                await bot.stop()
        finally:
            if bot.process is not None:
                await bot.kill()
    if not args.keep:
        shutil.rmtree(folder, ignore_errors=True)
    return figures


def _seconds_range(text: str) -> tuple[float, float]:
    low, _, high = text.partition("-")
    try:
        pair = (float(low), float(high or low))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not seconds A-B: {text!r}") from None
    if not 0 <= pair[0] <= pair[1]:
        raise argparse.ArgumentTypeError(f"not seconds A-B with A <= B: {text!r}")
    return pair


def _p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


def _resend_line(log: str) -> str:
    for line in log.splitlines():
        if "sending them again" in line:
            return line.split(": ", 1)[-1][:160]
    return ""


def report(figures: dict[str, object]) -> None:
    rows = []
    full = figures.get("full")
    if isinstance(full, dict):
        rows += [
            (
                "deliver all",
                f"{full['seconds_to_deliver_all']} s",
                f"≤ {TARGET_SECONDS} s",
                full["all_delivered"] and full["seconds_to_deliver_all"] <= TARGET_SECONDS,
            ),
            ("429 answers", full["responses_429"], "0", full["responses_429"] == 0),
            (
                "menu p99",
                f"{full['menu_p99_s']} s",
                f"≤ {TARGET_P99} s",
                full["menu_p99_s"] is not None and full["menu_p99_s"] <= TARGET_P99,
            ),
        ]
    killed = figures.get("killed")
    if isinstance(killed, dict):
        rows += [
            ("killed: lost", killed["lost"], "0", killed["lost"] == 0),
            ("killed: duplicated", killed["duplicated"], "0", killed["duplicated"] == 0),
        ]
    print()
    print(f"{'figure':<20} {'measured':>12} {'target':>10}  result")
    for name, value, target, ok in rows:
        print(f"{name:<20} {value!s:>12} {target:>10}  {'PASS' if ok else 'MISS'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--menu-users", type=int, default=20)
    parser.add_argument(
        "--think",
        type=_seconds_range,
        default=(3.0, 8.0),
        help="seconds a menu user reads a page before the next press, A-B (default 3-8)",
    )
    parser.add_argument("--timeout", type=float, default=1200.0, help="seconds per run")
    parser.add_argument("--keep", help="keep the database and logs in this folder")
    parser.add_argument("--skip-full", action="store_true", help="only the killed run")
    parser.add_argument("--skip-kill", action="store_true", help="only the full run")
    args = parser.parse_args()
    figures = asyncio.run(run(args))
    print(json.dumps(figures, ensure_ascii=False))
    report(figures)


if __name__ == "__main__":
    main()

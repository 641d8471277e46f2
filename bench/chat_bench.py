"""Benchmark: the chat against a bare python-telegram-bot echo bot, through the Bot API emulator.

    .venv/bin/python bench/chat_bench.py [--customers 20] [--seconds 15] [--rounds 1]
    .venv/bin/python bench/chat_bench.py --storm [--logins 200] [--customers 20]
    .venv/bin/python bench/chat_bench.py --profile FILE   # cProfile of the bot's process

Both bots run in processes of their own, as they would beside Telegram; this
process runs the emulator (`botapi_emulator`) and the simulated customers. In
one run, minutes apart at most, so both meet the same machine:

1. echo     - a bare python-telegram-bot v22 `Application` (concurrent updates,
              polling, no rate limiter) answering every text with the same text
              and a reply keyboard: the floor a Telegram bot in Python reaches here.
2. this bot - the whole service as `tests/botkit.py` builds it (`service.Service`,
              real SQLite files in a temporary folder, demo billing data), with
              `--customers` customers logged in through the chat pressing
              Tartozás / Számlák / Kezdőlap, each as soon as the last answer came.
              The emulator's flood limit is off for both, and so is the bot's own
              pacing (PETKOMM_TELEGRAM_RATE=0), so the bot itself is measured.
   Printed: round trips per second, p50/p99 of a round trip (press to answer), the
   ratio, and the CPU each bot's process spent per round trip (steadier than the
   rates when other work shares the machine's two cores; `--rounds N` alternates the
   two bots N times). Targets: this bot >= 0.5x the echo bot's throughput, and its
   p99 <= 1.5x the echo bot's p99.
3. calls    - the Bot API calls one action costs (a menu page, an inline page turn,
              each login step, a registration step, a report), counted in the
              emulator's request log (getUpdates left out), one customer at a time.
              Targets: one call for a page or a page turn (plus answerCallbackQuery
              for an inline button); a login's password step adds the deleteMessage
              that takes the password off the screen.

`--storm`: `--logins` customers log in at once (Belépés, user name, password, each
as soon as the bot answers) while `--customers` others use the menu (each reading
a page for `--think` seconds, 1 by default, before pressing the next: a person;
with 0 they press as fast as answered and alone could take Telegram's whole 30 a
second, which the pacing gives them first, starving the logins), with
Telegram's limit ON in the emulator (30 messages a second, 20 a minute a group) and
the bot's pacing at its default. Printed: the menu's p50/p99 during the storm, how
long the logins took (Argon2id with the product's parameters: each takes real CPU),
the 429 answers, and the failed updates (an update never answered within
`--patience` seconds, an update the bot set aside, an ERROR line in its log).
Targets: 0 failed, 0 x 429, menu p99 <= 2 s.

`--profile FILE` runs this bot's process under cProfile during the throughput
part and writes its stats to FILE (read them with `python -m pstats FILE`);
`--py-spy FILE` samples every thread of it with py-spy (on PATH; raw collapsed
stacks); CHAT_BENCH_SQL=FILE in the environment makes each bot process write
how often it ran each SQL statement to FILE.<pid> (JSON) when it ends.

Prints the figures and the targets with PASS/MISS; it is not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

TOKEN = "123456:BENCHTOKEN"
BOT_USERNAME = "petkomm_bench_bot"
PASSWORD = "Tavaszi-Szel-42"
STAFF_CHAT_ID = -1001987654321
FIRST_USER = 50_000
TARGET_RATIO = 0.5  # this bot's throughput at least half the echo bot's
TARGET_P99 = 1.5  # and its p99 at most 1.5x the echo bot's
STORM_P99 = 2.0  # seconds: the menu's p99 while the logins storm
MENU = ("debt", "invoices", "home")  # Tartozás, Számlák, Kezdőlap


# --- the bots' processes --------------------------------------------------------------------


def serve_echo(api_url: str) -> None:
    """The bare echo bot: a plain Application, concurrent updates, polling."""
    from telegram import ReplyKeyboardMarkup, Update
    from telegram.ext import Application, ContextTypes, MessageHandler, filters

    keyboard = ReplyKeyboardMarkup(
        [["Kezdőlap", "Tartozás"], ["Számlák", "Folyószámla"]], resize_keyboard=True
    )

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message is not None
        await update.message.reply_text(update.message.text or "?", reply_markup=keyboard)

    application = (
        Application.builder().token(TOKEN).base_url(api_url).concurrent_updates(True).build()
    )
    application.add_handler(MessageHandler(filters.TEXT, echo))

    async def run() -> None:
        stop = _stop_on_sigterm()
        async with application:
            await application.start()
            assert application.updater is not None
            await application.updater.start_polling(poll_interval=0, timeout=10)
            print("ready", flush=True)
            await stop.wait()
            await application.updater.stop()
            await application.stop()

    asyncio.run(run())


def serve_bot(api_url: str) -> None:
    """This bot: the whole service (`service.Service`) from the PETKOMM_* environment."""
    import logging

    from core.config import Settings
    from core.db import open_database
    from service import Overrides, Polling, Service

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    settings = Settings(dict(os.environ))
    if os.environ.get("CHAT_BENCH_SQL"):
        _count_statements(os.environ["CHAT_BENCH_SQL"])

    async def run() -> None:
        stop = _stop_on_sigterm()
        db = await open_database(settings.db_path)
        service = await Service.build(
            settings, db, overrides=Overrides(token=TOKEN, api_url=api_url, read_mail=False)
        )
        profile = os.environ.get("CHAT_BENCH_PROFILE")
        profiler = None
        if profile:  # from SIGUSR1 (the measured part) to the stop: the event loop's thread
            import cProfile

            profiler = cProfile.Profile()
            asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, profiler.enable)
        try:
            await service.start(polling=Polling(interval=0, timeout=10))
            print("ready", flush=True)
            await stop.wait()
        finally:
            if profiler is not None:
                profiler.disable()
                profiler.dump_stats(profile)
            await service.stop()
            await db.close()

    asyncio.run(run())


def _count_statements(out: str) -> None:
    """Count the SQL statements each database file runs (written to `out` at exit)."""
    import atexit
    import json

    import storage.db

    counts: Counter[str] = Counter()
    connect = storage.db._connect  # the bench looks inside

    async def traced(path: Path, busy: int) -> object:
        conn = await connect(path, busy)
        name = Path(path).name
        await conn.set_trace_callback(
            lambda sql: counts.update([f"{name}: {' '.join(sql.split())[:90]}"])
        )
        return conn

    storage.db._connect = traced  # type: ignore[assignment]
    mine = Path(f"{out}.{os.getpid()}")
    atexit.register(lambda: mine.write_text(json.dumps(counts.most_common(), ensure_ascii=False)))


def _stop_on_sigterm() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    return stop


@dataclass
class BotProcess:
    """A bot running in a child process (this script with --serve)."""

    name: str
    process: subprocess.Popen[str]
    log_path: Path
    profiled: bool = False

    @classmethod
    async def start(
        cls,
        kind: str,
        api_url: str,
        env: dict[str, str],
        log_path: Path,
        profile: Path | None = None,
    ) -> BotProcess:
        command = [sys.executable, str(Path(__file__).resolve()), "--serve", kind]
        command += ["--api-url", api_url]
        if profile is not None:
            env = {**env, "CHAT_BENCH_PROFILE": str(profile)}
        log_file = log_path.open("w")
        process = await asyncio.to_thread(
            subprocess.Popen,
            command,
            stdout=subprocess.PIPE,
            stderr=log_file,
            text=True,
            env={**os.environ, **env},
            cwd=ROOT,
        )
        log_file.close()
        assert process.stdout is not None
        line = await asyncio.to_thread(process.stdout.readline)
        if line.strip() != "ready":
            process.kill()
            raise RuntimeError(f"the {kind} bot did not start: {log_path.read_text()[-2000:]}")
        return cls(kind, process, log_path, profiled=profile is not None)

    async def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            await asyncio.to_thread(self.process.wait, 60)
        except subprocess.TimeoutExpired:
            self.process.kill()

    def cpu(self) -> float:
        """CPU seconds the process (all its threads) has used so far."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def errors(self) -> list[str]:
        """The ERROR (and worse) lines of its log."""
        return [
            line
            for line in self.log_path.read_text(errors="replace").splitlines()
            if line.startswith(("ERROR", "CRITICAL"))
        ]


# --- the customers --------------------------------------------------------------------------


class Answers:
    """Waits for the bot's next message (sent or edited) in a chat."""

    # "Please be patient" notices (bot.waiting) come before the answer they announce.
    NOTICES = ("Egy pillanat türelmet kérünk", "Elnézést kérünk, a rendszer most hosszabban")

    def __init__(self, emulator: object) -> None:
        self._waiting: dict[int, asyncio.Future[object]] = {}
        self.notices = 0  # such notices seen
        emulator.add_listener(self._heard)  # type: ignore[attr-defined]

    def _heard(self, event: str, message: object) -> None:
        if event == "deleted" or not message.from_bot:  # type: ignore[attr-defined]
            return
        if (message.text or "").startswith(self.NOTICES):  # type: ignore[attr-defined]
            self.notices += 1
            return
        waiter = self._waiting.pop(message.chat_id, None)  # type: ignore[attr-defined]
        if waiter is not None and not waiter.done():
            waiter.set_result(message)

    async def round_trip(
        self, chat_id: int, act: Callable[[], object], patience: float
    ) -> tuple[float, object | None]:
        """Do `act` (a press, a typed text) and wait for the next answer: (seconds, message),
        message None when none came within `patience` seconds."""
        waiter: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        self._waiting[chat_id] = waiter
        started = time.perf_counter()
        act()
        try:
            message = await asyncio.wait_for(waiter, patience)
        except TimeoutError:
            self._waiting.pop(chat_id, None)
            return time.perf_counter() - started, None
        return time.perf_counter() - started, message

    async def until(
        self,
        chat_id: int,
        done: Callable[[object], bool],
        act: Callable[[], object],
        patience: float,
    ) -> tuple[float, bool]:
        """Do `act` and wait for answers until one satisfies `done`: (seconds, whether it came)."""
        started = time.perf_counter()
        deadline = started + patience
        waiter: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        self._waiting[chat_id] = waiter
        act()
        while True:
            try:
                message = await asyncio.wait_for(waiter, max(0.0, deadline - time.perf_counter()))
            except TimeoutError:
                self._waiting.pop(chat_id, None)
                return time.perf_counter() - started, False
            if done(message):
                return time.perf_counter() - started, True
            waiter = asyncio.get_running_loop().create_future()
            self._waiting[chat_id] = waiter


@dataclass
class Load:
    """Round trips measured while customers press buttons."""

    times: list[float] = field(default_factory=list)
    unanswered: int = 0
    elapsed: float = 0.0
    bot_cpu: float = 0.0  # CPU seconds the bot's process used meanwhile
    driver_cpu: float = 0.0  # and this process (the emulator and the customers)

    @property
    def rate(self) -> float:
        return len(self.times) / self.elapsed if self.elapsed else 0.0

    def percentile(self, share: float) -> float:
        ordered = sorted(self.times)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, int(len(ordered) * share))]

    def line(self, name: str) -> str:
        return (
            f"{name:<10} {self.rate:7.1f} round trips/s   p50 {self.percentile(0.5) * 1000:6.1f} ms"
            f"   p99 {self.percentile(0.99) * 1000:7.1f} ms   ({len(self.times)} in"
            f" {self.elapsed:.1f} s{f', {self.unanswered} unanswered' if self.unanswered else ''})"
        ) + (
            f"\n{'':<10} CPU per round trip: the bot {self.cpu_each * 1000:5.2f} ms, the emulator"
            f" and customers {self.driver_cpu / max(1, len(self.times)) * 1000:5.2f} ms"
            if self.bot_cpu
            else ""
        )

    @property
    def cpu_each(self) -> float:
        """The bot's CPU seconds per round trip."""
        return self.bot_cpu / max(1, len(self.times))


async def press_loop(
    answers: Answers,
    users: list[object],
    labels: list[str],
    seconds: float,
    patience: float,
    stop: asyncio.Event | None = None,
    think: float = 0.0,
) -> Load:
    """Each user presses the labels in turn, each `think` seconds after the last answer
    came, for `seconds` (or until `stop`)."""
    load = Load()
    started = time.perf_counter()
    deadline = started + seconds

    async def customer(user: object, offset: int) -> None:
        n = offset
        while time.perf_counter() < deadline and not (stop is not None and stop.is_set()):
            text = labels[n % len(labels)]
            n += 1
            took, message = await answers.round_trip(
                user.user_id,  # type: ignore[attr-defined]
                lambda text=text: user.press(text),  # type: ignore[attr-defined]
                patience,
            )
            if message is None:
                load.unanswered += 1
            else:
                load.times.append(took)
            if think:
                await asyncio.sleep(think)  # reading the page: a person, not a loop

    await asyncio.gather(*(customer(u, i) for i, u in enumerate(users)))
    load.elapsed = time.perf_counter() - started
    return load


# --- setting up this bot's world ------------------------------------------------------------


async def prepare_database(folder: Path, accounts: int) -> tuple[dict[str, str], list[str]]:
    """Demo billing data imported into a fresh database, `accounts` active accounts (the
    password `PASSWORD`, Argon2id with the product's parameters); the bot's environment
    and the user names."""
    from core import passwords
    from core.accounts import username_key
    from core.billing_import import import_folder
    from core.db import open_database
    from core.demodata import write_demo_data
    from storage import accounts as store

    export = folder / "export"
    write_demo_data(export, customers=max(accounts, 50), seed=7, years=2, today=date.today())
    db = await open_database(folder / "petkomm.sqlite3")
    try:
        await import_folder(db, export)
        customer_ids = [
            str(r[0])
            for r in await db.fetch_all(
                "SELECT customer_id FROM customers ORDER BY customer_id LIMIT ?", (accounts,)
            )
        ]
        password_hash = await passwords.hash_password(PASSWORD)
        now = time.time()
        names = []
        async with db.transaction() as tx:
            for n, customer_id in enumerate(customer_ids):
                name = f"ugyfel{n:04d}"
                account = await store.create(
                    tx,
                    customer_id=customer_id,
                    username=name,
                    username_key=username_key(name),
                    email=f"{name}@example.hu",
                    password_hash=password_hash,
                    now=now,
                    registered_by_tg=None,
                )
                await store.activate(tx, account, now)
                names.append(name)
    finally:
        await db.close()
    env = {
        "PETKOMM_DB": str(folder / "petkomm.sqlite3"),
        "PETKOMM_MAIL_OUTBOX_DIR": str(folder / "mail"),
        "PETKOMM_STAFF_CHAT_ID": str(STAFF_CHAT_ID),
        "PETKOMM_STAFF_IDS": "9001",
        "PETKOMM_LOG_LEVEL": "WARNING",
    }
    return env, names


def label(name: str) -> str:
    from conversations.common import label as customer_label

    return customer_label(name)


def is_home(message: object) -> bool:
    """The home page: what a login ends with."""
    markup = getattr(message, "reply_markup", None) or {}
    rows = markup.get("keyboard") or []
    return any(b.get("text") == label("logout") for row in rows for b in row)


async def log_in(answers: Answers, user: object, name: str, patience: float) -> tuple[float, bool]:
    """Belépés, the user name, the password, each as soon as the bot asks; (seconds, ok)."""
    chat = user.user_id  # type: ignore[attr-defined]
    started = time.perf_counter()
    keyboard = [b for row in user.reply_keyboard or [] for b in row]  # type: ignore[attr-defined]
    if label("login") not in keyboard:  # a new chat: /start shows the guest's menu
        _, shown = await answers.round_trip(chat, lambda: user.send_command("start"), patience)  # type: ignore[attr-defined]
        if shown is None:
            return time.perf_counter() - started, False
    try:
        _, asked = await answers.round_trip(chat, lambda: user.press(label("login")), patience)  # type: ignore[attr-defined]
    except LookupError:  # /start was answered, but not with the menu (an error message)
        shown_text = getattr(user.last_reply, "text", "")  # type: ignore[attr-defined]
        print(f"  no Belépés button after /start; the bot said: {shown_text[:100]!r}")
        return time.perf_counter() - started, False
    if asked is None:
        return time.perf_counter() - started, False
    _, asked = await answers.round_trip(chat, lambda: user.send_text(name), patience)  # type: ignore[attr-defined]
    if asked is None:
        return time.perf_counter() - started, False
    _, ok = await answers.until(chat, is_home, lambda: user.send_text(PASSWORD), patience)  # type: ignore[attr-defined]
    return time.perf_counter() - started, ok


# --- the parts of the run -------------------------------------------------------------------


async def measure_echo(
    emulator: object, answers: Answers, users: list[object], args: argparse.Namespace, tmp: Path
) -> Load:
    echo = await BotProcess.start("echo", emulator.base_url, {}, tmp / "echo.log")  # type: ignore[attr-defined]
    try:
        for user in users:  # the keyboard first, as a customer has it
            await answers.round_trip(user.user_id, lambda u=user: u.send_text("szia"), 10)  # type: ignore[attr-defined]
        labels = ["Tartozás", "Számlák", "Kezdőlap"]
        await press_loop(answers, users, labels, 1.0, args.patience)  # warm up
        return await measured(echo, answers, users, labels, args)
    finally:
        await echo.stop()


async def measured(
    bot: BotProcess,
    answers: Answers,
    users: list[object],
    labels: list[str],
    args: argparse.Namespace,
) -> Load:
    """The press loop, with the CPU both processes spent on it."""
    if bot.profiled:
        bot.process.send_signal(signal.SIGUSR1)  # starts its profiler
    spy = None
    if args.py_spy is not None and bot.name == "bot":  # every thread, SQLite's too
        spy = await asyncio.create_subprocess_exec(
            "py-spy",
            "record",
            "--pid",
            str(bot.process.pid),
            "--duration",
            str(int(args.seconds)),
            "--rate",
            "250",
            "--threads",
            "--nonblocking",
            "--format",
            "raw",
            "--output",
            str(args.py_spy),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
    bot_before, driver_before = bot.cpu(), time.process_time()
    load = await press_loop(answers, users, labels, args.seconds, args.patience)
    if spy is not None:
        await spy.wait()
    load.bot_cpu = bot.cpu() - bot_before
    load.driver_cpu = time.process_time() - driver_before
    return load


async def measure_bot(
    emulator: object,
    answers: Answers,
    users: list[object],
    names: list[str],
    env: dict[str, str],
    args: argparse.Namespace,
    tmp: Path,
    profile: Path | None,
) -> tuple[Load, BotProcess]:
    bot = await BotProcess.start(
        "bot",
        emulator.base_url,  # type: ignore[attr-defined]
        {**env, "PETKOMM_TELEGRAM_RATE": "0"},
        tmp / "bot.log",
        profile,
    )
    try:
        results = await asyncio.gather(
            *(log_in(answers, u, n, args.patience) for u, n in zip(users, names, strict=True))
        )
        if not all(ok for _, ok in results):
            raise RuntimeError(f"some logins failed: {bot.errors()[-5:]}")
        labels = [label(name) for name in MENU]
        await press_loop(answers, users, labels, 1.0, args.patience)  # warm up
        load = await measured(bot, answers, users, labels, args)
    finally:
        await bot.stop()
    return load, bot


# --- Bot API calls per action ---------------------------------------------------------------


async def settled(emulator: object, quiet: float = 0.4) -> None:
    """Wait until the bot has made no call but getUpdates for `quiet` seconds."""
    seen = -1
    while True:
        calls = [c for c in emulator.requests if c.method != "getUpdates"]  # type: ignore[attr-defined]
        if len(calls) == seen:
            return
        seen = len(calls)
        await asyncio.sleep(quiet)


async def counted(
    emulator: object, answers: Answers, chat: int, act: Callable[[], object]
) -> Counter[str]:
    """The calls (but getUpdates) the bot makes for `act`, by method; a call to another chat
    (the staff group's post of a report) is counted as `other chat: <method>`. Counted
    from `act` until its answer has come and the bot has been quiet for a moment."""
    await settled(emulator)
    mark = emulator.request_count  # type: ignore[attr-defined]
    await answers.round_trip(chat, act, 60.0)
    await settled(emulator)
    calls: Counter[str] = Counter()
    for call in emulator.calls(since=mark):  # type: ignore[attr-defined]
        if call.method == "getUpdates":
            continue
        to = call.params.get("chat_id")
        calls[call.method if to in (None, chat, str(chat)) else f"other chat: {call.method}"] += 1
    return calls


def _own(calls: Counter[str]) -> int:
    """The calls in the customer's own chat."""
    return sum(n for method, n in calls.items() if not method.startswith("other chat"))


async def calls_per_action(
    emulator: object, answers: Answers, env: dict[str, str], names: list[str], tmp: Path
) -> list[tuple[str, Counter[str], int]]:
    """(action, calls by method, the minimum it could take)."""
    bot = await BotProcess.start(
        "bot",
        emulator.base_url,
        {**env, "PETKOMM_TELEGRAM_RATE": "0"},
        tmp / "calls.log",  # type: ignore[attr-defined]
    )
    rows: list[tuple[str, Counter[str], int]] = []
    try:
        user = emulator.private_user(FIRST_USER + 90_000, "Mérő")  # type: ignore[attr-defined]
        rows.append(
            (
                "/start",
                await counted(emulator, answers, user.user_id, lambda: user.send_command("start")),
                1,
            )
        )
        rows.append(
            (
                "login: Belépés",
                await counted(emulator, answers, user.user_id, lambda: user.press(label("login"))),
                1,
            )
        )
        rows.append(
            (
                "login: user name",
                await counted(emulator, answers, user.user_id, lambda: user.send_text(names[-1])),
                2,
            )
        )
        rows.append(
            (
                "login: password",
                await counted(emulator, answers, user.user_id, lambda: user.send_text(PASSWORD)),
                2,
            )
        )
        for name in MENU:
            rows.append(
                (
                    f"menu: {label(name)}",
                    await counted(
                        emulator, answers, user.user_id, lambda n=name: user.press(label(n))
                    ),
                    1,
                )
            )
        pages = [m for m in user.replies if m.inline_keyboard]
        if pages:
            page = pages[-1]
            rows.append(
                (
                    "inline page turn ▶",
                    await counted(
                        emulator,
                        answers,
                        user.user_id,
                        lambda: user.press_inline(page.message_id, label("next")),
                    ),
                    2,
                )
            )
        rows.append(
            (
                "report: Hibabejelentés",
                await counted(emulator, answers, user.user_id, lambda: user.press(label("report"))),
                1,
            )
        )
        rows.append(
            (
                "report: the text",
                await counted(
                    emulator,
                    answers,
                    user.user_id,
                    lambda: user.send_text("A vízóra mellett csöpög a cső a pincében."),
                ),
                1,
            )
        )
        guest = emulator.private_user(FIRST_USER + 90_001, "Új")  # type: ignore[attr-defined]
        await counted(emulator, answers, guest.user_id, lambda: guest.send_command("start"))
        rows.append(
            (
                "registration: Regisztráció",
                await counted(
                    emulator, answers, guest.user_id, lambda: guest.press(label("register"))
                ),
                1,
            )
        )
        rows.append(
            (
                "registration: e-mail",
                await counted(
                    emulator,
                    answers,
                    guest.user_id,
                    lambda: guest.send_text("uj.ugyfel@example.hu"),
                ),
                1,
            )
        )
    finally:
        await bot.stop()
    return rows


def print_calls(rows: list[tuple[str, Counter[str], int]]) -> None:
    print("\nBot API calls per action (the emulator's log, getUpdates left out):")
    print(f"  {'action':<28} {'calls':>5} {'minimum':>7}  methods (the customer's chat first)")
    for action, calls, minimum in rows:
        total = _own(calls)
        methods = ", ".join(f"{m} {n}" for m, n in sorted(calls.items()))
        mark = "" if total <= minimum else "  MORE"
        print(f"  {action:<28} {total:>5} {minimum:>7}  {methods}{mark}")
    print(
        "  (minimum: one message a page or step; answerCallbackQuery beside an inline button's"
        " edit; deleteMessage for the user name and password; another chat's calls, the"
        " report's staff post, are shown but not counted)"
    )


# --- the storm ------------------------------------------------------------------------------


async def storm(args: argparse.Namespace, tmp: Path) -> None:
    from botapi_emulator import BotApiEmulator

    env, names = await prepare_database(tmp, args.logins + args.customers)
    async with BotApiEmulator(token=TOKEN, bot_username=BOT_USERNAME) as emulator:
        emulator.group(STAFF_CHAT_ID, "PÉTKOMM ügyfélszolgálat")
        answers = Answers(emulator)
        menu_users = [
            emulator.private_user(FIRST_USER + n, f"Menü{n}") for n in range(args.customers)
        ]
        storm_users = [
            emulator.private_user(FIRST_USER + 10_000 + n, f"Vihar{n}") for n in range(args.logins)
        ]
        bot = await BotProcess.start("bot", emulator.base_url, env, tmp / "storm.log")
        try:
            emulator.set_rate_limit(0)  # the menu users' own logins are not the storm
            results = await asyncio.gather(
                *(
                    log_in(answers, u, n, args.patience)
                    for u, n in zip(menu_users, names[args.logins :], strict=True)
                )
            )
            if not all(ok for _, ok in results):
                raise RuntimeError(f"some logins failed: {bot.errors()[-5:]}")
            await settled(emulator)
            emulator.set_rate_limit(30, 20)  # Telegram's limits from here on
            mark = emulator.request_count
            notices_before = answers.notices
            labels = [label(name) for name in MENU]
            stop = asyncio.Event()
            menu = asyncio.create_task(
                press_loop(answers, menu_users, labels, 3600, args.patience, stop, args.think)
            )
            started = time.perf_counter()
            logins = await asyncio.gather(
                *(
                    log_in(answers, u, n, args.patience)
                    for u, n in zip(storm_users, names[: args.logins], strict=True)
                )
            )
            storm_took = time.perf_counter() - started
            stop.set()
            load = await menu
            await settled(emulator, 1.0)
            refused = emulator.count(error_code=429, since=mark)
            notices = answers.notices - notices_before
        finally:
            await bot.stop()
    failed_logins = sum(1 for _, ok in logins if not ok)
    login_times = sorted(t for t, ok in logins if ok)
    set_aside, never = _unfinished(Path(env["PETKOMM_DB"]))
    errors = bot.errors()
    failed = load.unanswered + failed_logins + set_aside + never + len(errors)
    print(
        f"storm: {args.logins} customers logging in at once while {args.customers} use the"
        " menu (Telegram's limits on, the bot's pacing at its default)"
    )
    print(f"  {load.line('menu')}")
    if login_times:
        print(
            f"  logins: all done in {storm_took:.1f} s; one login (3 steps) p50"
            f" {statistics.median(login_times):.2f} s, max {login_times[-1]:.2f} s"
            f" (Argon2id, the product's parameters)"
        )
    print(
        f"  failed: {failed} ({load.unanswered} menu presses and {failed_logins} logins"
        f" unanswered within {args.patience:.0f} s, {set_aside} updates set aside,"
        f" {never} never handled,"
        f" {len(errors)} ERROR lines in the bot's log)"
    )
    print(f"  429 answers: {refused}; 'please be patient' notices: {notices}")
    for line in errors[:5]:
        print(f"    {line[:200]}")
    print("targets:")
    _target("no failed update", failed == 0, f"{failed}")
    _target("no 429", refused == 0, f"{refused}")
    p99 = load.percentile(0.99)
    _target(f"menu p99 <= {STORM_P99:.0f} s", p99 <= STORM_P99, f"{p99:.2f} s")


def _unfinished(db_path: Path) -> tuple[int, int]:
    """Updates the bot gave up on ('failed' in its state file), and those still waiting
    when it stopped (stored, never handled)."""
    state = db_path.with_name(db_path.stem + "-state" + db_path.suffix)
    if not state.exists():
        return 0, 0
    with contextlib.closing(sqlite3.connect(state)) as con:
        counts = dict(
            con.execute("SELECT status, count(*) FROM telegram_updates GROUP BY status").fetchall()
        )
    return int(counts.get("failed", 0)), int(counts.get("received", 0))


def _target(what: str, met: bool, value: str) -> None:
    print(f"  {'PASS' if met else 'MISS'}  {what}: {value}")


# --- main -----------------------------------------------------------------------------------


async def throughput(args: argparse.Namespace, tmp: Path) -> None:
    from botapi_emulator import BotApiEmulator

    env, names = await prepare_database(tmp, args.customers + 1)
    echo_loads: list[Load] = []
    bot_loads: list[Load] = []
    async with BotApiEmulator(
        token=TOKEN, bot_username=BOT_USERNAME, max_messages_per_second=0
    ) as emulator:
        emulator.group(STAFF_CHAT_ID, "PÉTKOMM ügyfélszolgálat")
        emulator.set_rate_limit(0, 0)
        answers = Answers(emulator)
        for round_ in range(args.rounds):
            base = FIRST_USER + 1000 * round_
            echo_users = [
                emulator.private_user(base + n, f"Echo{n}") for n in range(args.customers)
            ]
            bot_users = [
                emulator.private_user(base + 500 + n, f"Ügyfél{n}") for n in range(args.customers)
            ]
            echo_loads.append(await measure_echo(emulator, answers, echo_users, args, tmp))
            # Each round logs the same accounts in again, from other Telegram users.
            load, _ = await measure_bot(
                emulator, answers, bot_users, names[: args.customers], env, args, tmp, args.profile
            )
            bot_loads.append(load)
        rows = await calls_per_action(emulator, answers, env, names, tmp)
    print(
        f"{args.customers} customers pressing {' / '.join(label(n) for n in MENU)} for"
        f" {args.seconds:.0f} s each, flood limit and pacing off:"
    )
    for n, (echo, mine) in enumerate(zip(echo_loads, bot_loads, strict=True)):
        if args.rounds > 1:
            print(f" round {n + 1}:")
        print(f"  {echo.line('echo bot')}")
        print(f"  {mine.line('this bot')}")
        print(
            f"  ratio {mine.rate / echo.rate:.2f}x the echo bot's throughput, p99"
            f" {mine.percentile(0.99) / echo.percentile(0.99):.2f}x its p99; CPU per round trip"
            f" {mine.cpu_each / echo.cpu_each:.2f}x the echo bot's"
        )
    echo_rate = statistics.median(e.rate for e in echo_loads)
    bot_rate = statistics.median(b.rate for b in bot_loads)
    echo_p99 = statistics.median(e.percentile(0.99) for e in echo_loads)
    bot_p99 = statistics.median(b.percentile(0.99) for b in bot_loads)
    print_calls(rows)
    print("targets:")
    ratio = bot_rate / echo_rate
    _target(f"throughput >= {TARGET_RATIO}x the echo bot", ratio >= TARGET_RATIO, f"{ratio:.2f}x")
    p99_ratio = bot_p99 / echo_p99
    _target(f"p99 <= {TARGET_P99}x the echo bot's", p99_ratio <= TARGET_P99, f"{p99_ratio:.2f}x")
    more = [a for a, calls, minimum in rows if _own(calls) > minimum]
    _target("every action at its minimum of calls", not more, ", ".join(more) or "all")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=20, help="menu users (20)")
    parser.add_argument("--seconds", type=float, default=15.0, help="each bot's measured time")
    parser.add_argument("--rounds", type=int, default=1, help="echo, bot, echo, bot… (1)")
    parser.add_argument("--storm", action="store_true", help="the login storm instead")
    parser.add_argument("--logins", type=int, default=200, help="the storm's logins (200)")
    parser.add_argument(
        "--patience", type=float, default=60.0, help="seconds before an answer counts as missing"
    )
    parser.add_argument(
        "--think", type=float, default=1.0, help="storm: seconds a menu user reads a page (1)"
    )
    parser.add_argument("--profile", type=Path, help="cProfile the bot's process into FILE")
    parser.add_argument(
        "--py-spy", type=Path, help="py-spy (on PATH) samples the bot's process into FILE (raw)"
    )
    parser.add_argument("--serve", choices=("echo", "bot"), help=argparse.SUPPRESS)
    parser.add_argument("--api-url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve == "echo":
        serve_echo(args.api_url)
        return
    if args.serve == "bot":
        serve_bot(args.api_url)
        return
    if args.profile is not None:
        args.profile = args.profile.resolve()
    if args.py_spy is not None:
        args.py_spy = args.py_spy.resolve()
    with tempfile.TemporaryDirectory(dir=ROOT) as tmp:  # the working disk, not a tmpfs
        asyncio.run((storm if args.storm else throughput)(args, Path(tmp)))


if __name__ == "__main__":
    main()

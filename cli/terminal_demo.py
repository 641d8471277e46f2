"""`python run_bot.py demo`: the real bot, chatted with in a terminal.

Nothing is faked but Telegram itself: demo billing data is generated and
imported into a fresh database, the real application (handlers, persistence,
ordering) polls the local Bot API emulator, and the real outbox sender writes
outgoing mail as `.eml` files into a folder. The person at the terminal is one
simulated Telegram user: each line they type is sent as a message (or presses a
numbered button), and the bot's answers are printed once the bot has fully
handled it, so the output never interleaves with the prompt.

When standard input is not a terminal the lines are read from it and echoed
with `> `, so `python run_bot.py demo < session.txt` replays a whole session;
placeholders such as `{customer_id}` or `{code}` (listed in the subcommand's
`--help`) let a script register without knowing the generated data in advance.
"""

from __future__ import annotations

import asyncio
import contextlib
import email
import logging
import queue
import re
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from email import policy
from pathlib import Path
from typing import TextIO

from telegram.ext import Application

from bot.ordering import PerUserUpdateProcessor
from botapi_emulator import BotApiEmulator, ChatMessage, SimulatedUser
from core.billing_import import import_folder
from core.config import Settings, state_path_beside
from core.db import OUTBOX_TOPIC, Database, open_database
from core.demodata import DemoSummary, write_demo_data
from core.formats import format_amount
from core.outbox import OutboxMail
from core.texts import render
from mailer.sender import FolderTransport
from service import Overrides, Polling, Service

log = logging.getLogger(f"petkomm.{__name__}")

DEMO_TOKEN = "424242:petkomm-demo-local"
BOT_USERNAME = "petkomm_demo_bot"
USER_ID = 700_001
USER_FIRST_NAME = "Demó"
DB_NAME = "demo.sqlite3"

QUIT_WORDS = frozenset({":q", "/quit"})
BOT_PREFIX = "🤖 "
INDENT = "   "
MAIL_WAIT = 5.0  # seconds to wait for mails queued by one update to be written

# Settings that would point the demo at real servers or chats: never inherited.
_EXTERNAL_SETTINGS = (
    "TELEGRAM_BOT_TOKEN",
    "PETKOMM_TELEGRAM_API_URL",
    "PETKOMM_STAFF_CHAT_ID",
    "PETKOMM_STAFF_IDS",
    "PETKOMM_SMTP_",
    "PETKOMM_IMAP_",
)

_CODE = re.compile(r"\b((?:[A-Z2-9]{4} ){5}[A-Z2-9]{4})\b")
_LINK = re.compile(r"https://t\.me/\S+")
_NUMBER = re.compile(r"[0-9]{1,3}")


@dataclass(frozen=True)
class DemoOptions:
    """What the `demo` subcommand was asked for."""

    customers: int = 200
    seed: int = 1
    years: int = 3
    today: date | None = None
    mail_dir: Path | None = None
    keep: Path | None = None


# --- output ------------------------------------------------------------------------


class Console:
    """Where the demo writes: one flush per line, so a pipe shows it at once."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        if hasattr(stream, "reconfigure"):  # never die on a terminal that lacks an emoji
            with contextlib.suppress(ValueError, OSError):
                stream.reconfigure(errors="replace")

    def line(self, text: str = "") -> None:
        """Print `text` (may hold several lines)."""
        print(text, file=self.stream, flush=True)

    def block(self, first_prefix: str, text: str) -> None:
        """Print `text` with `first_prefix` before its first line and the rest indented."""
        lines = text.splitlines() or [""]
        self.line(first_prefix + lines[0])
        for rest in lines[1:]:
            self.line(INDENT + rest if rest else "")


# --- mail --------------------------------------------------------------------------


def read_mail(raw: bytes) -> tuple[str, str, str | None, str | None]:
    """(recipient, subject, first t.me link, 24-character code) of a flattened mail."""
    message = email.message_from_bytes(raw, policy=policy.default)
    body = message.get_body(("plain",))
    text = body.get_content() if body is not None else ""
    link = _LINK.search(text)
    code = _CODE.search(text)
    return (
        str(message.get("To", "")),
        str(message.get("Subject", "")),
        link.group(0) if link else None,
        code.group(1).replace(" ", "") if code else None,
    )


class MailAnnouncer:
    """Counts queued and written mails, announces each written one, keeps the latest code."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.queued = 0
        self.written = 0
        self.latest_code: str | None = None
        self.latest_link: str | None = None
        self._changed = asyncio.Event()

    def on_queued(self) -> None:
        """A mail was queued through the demo's database: count it."""
        self.queued += 1

    def on_written(self, mail: OutboxMail, path: Path) -> None:
        """The folder transport wrote `mail` to `path`: announce it."""
        self.written += 1
        self._changed.set()
        try:
            recipient, subject, link, code = read_mail(mail.raw)
        except Exception:  # a mail we cannot parse is still announced by its path
            log.exception("could not read outbox mail %s", mail.id)
            recipient, subject, link, code = mail.recipient, mail.subject, None, None
        if code:
            self.latest_code = code
            self.latest_link = link
        self.console.line(
            render(
                "demo/mail_written.txt",
                path=path,
                recipient=recipient,
                subject=subject,
                link=link,
                code=code,
            )
        )

    async def settle(self, timeout: float = MAIL_WAIT) -> None:  # noqa: ASYNC109
        """Wait until every mail queued so far is written (or `timeout` passed)."""
        deadline = time.monotonic() + timeout
        while self.written < self.queued:
            left = deadline - time.monotonic()
            if left <= 0:
                self.console.line(note("mail_late"))
                return
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), left)


class AnnouncingFolderTransport(FolderTransport):
    """The folder transport that tells the terminal where each mail went."""

    def __init__(self, folder: Path, on_written: Callable[[OutboxMail, Path], None]) -> None:
        super().__init__(folder)
        self._on_written = on_written

    async def deliver(self, mail: OutboxMail, sender: str) -> str | None:
        """Write the mail like the folder transport, then announce it."""
        note = await super().deliver(mail, sender)
        self._on_written(mail, self.path_for(mail))
        return note


# --- the chat window ---------------------------------------------------------------


@dataclass(frozen=True)
class Choice:
    """One numbered button: an inline button of a message, or a reply-keyboard label."""

    label: str
    message_id: int | None  # None: a reply-keyboard button


@dataclass
class ChatView:
    """Prints what the customer sees in their private chat, as it happens."""

    console: Console
    chat_id: int
    printed: bool = False  # anything printed since the last prompt
    touched: list[int] = field(default_factory=list)  # bot messages sent/edited this step
    choices: list[Choice] = field(default_factory=list)

    def on_event(self, event: str, message: ChatMessage) -> None:
        """The emulator's listener: the bot sent, edited or deleted a message."""
        if message.chat_id != self.chat_id:
            return
        self.printed = True
        if event == "deleted":
            if message.from_bot:
                self.console.line(BOT_PREFIX + note("bot_deleted"))
            else:
                self.console.line(INDENT + note("secret_deleted"))
            return
        self.touched.append(message.message_id)
        prefix = BOT_PREFIX + (note("edited") + " " if event == "edited" else "")
        self.console.block(prefix, describe(message))

    def begin_step(self) -> None:
        """A new line of the customer: forget what the previous step touched."""
        self.printed = False
        self.touched.clear()

    def show_choices(self, user: SimulatedUser) -> None:
        """After a step with output: number the buttons now on screen and print them."""
        if not self.printed:
            return
        choices: list[Choice] = []
        rows: list[list[Choice]] = []
        inline_message = self._touched_inline_message(user)
        if inline_message is not None:
            for row in user.inline_buttons(inline_message):
                rows.append([Choice(text, inline_message.message_id) for text, _ in row])
        for row in user.reply_keyboard or []:
            rows.append([Choice(text, None) for text in row])
        for row in rows:
            cells = []
            for choice in row:
                choices.append(choice)
                cells.append(f"[{len(choices)}] {choice.label}")
            self.console.line(INDENT + "  ".join(cells))
        self.choices = choices

    def _touched_inline_message(self, user: SimulatedUser) -> ChatMessage | None:
        """The newest bot message with inline buttons that this step sent or edited."""
        for message_id in reversed(self.touched):
            message = user.chat.get(message_id)
            if message is not None and not message.deleted and message.inline_keyboard:
                return message
        return None

    def choice(self, number: int) -> Choice | None:
        """The button numbered `number` in the last printed list, if any."""
        if 1 <= number <= len(self.choices):
            return self.choices[number - 1]
        return None


def describe(message: ChatMessage) -> str:
    """A message's plain text, or what kind of message it is."""
    if message.text is not None:
        return message.text
    kind = message.kind
    document = message.document
    name = f" {document.get('file_name')}" if document and document.get("file_name") else ""
    caption = f"\n{message.caption}" if message.caption else ""
    return f"[{kind}{name}]{caption}"


# --- reading lines -----------------------------------------------------------------


class LineReader:
    """Reads the customer's lines in a daemon thread, one when asked, keeping the loop free.

    A daemon thread (not the loop's executor) so that Ctrl-C never waits for a
    pending `input()` before the process can exit.
    """

    def __init__(self, stream: TextIO, interactive: bool) -> None:
        self.stream = stream
        self.interactive = interactive
        self._requests: queue.SimpleQueue[tuple[str, asyncio.Future[str | None]]] = (
            queue.SimpleQueue()
        )
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._serve, name="demo-stdin", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            prompt, future = self._requests.get()
            line: str | None
            try:
                if self.interactive:
                    line = input(prompt)
                else:
                    raw = self.stream.readline()
                    line = raw.rstrip("\r\n") if raw else None
            except (EOFError, OSError, ValueError):
                line = None
            self._loop.call_soon_threadsafe(_resolve, future, line)
            if line is None:
                return

    async def read(self, prompt: str) -> str | None:
        """The next line without its newline, or None at the end of input."""
        if not self._thread.is_alive():
            return None
        future: asyncio.Future[str | None] = self._loop.create_future()
        self._requests.put((prompt, future))
        return await future


def _resolve(future: asyncio.Future[str | None], line: str | None) -> None:
    if not future.done():
        future.set_result(line)


# --- the session -------------------------------------------------------------------


class TerminalChat:
    """Turns the customer's lines into Telegram actions and waits for the bot each time."""

    def __init__(
        self,
        console: Console,
        emulator: BotApiEmulator,
        user: SimulatedUser,
        application: Application,
        view: ChatView,
        mail: MailAnnouncer,
        values: dict[str, str],
    ) -> None:
        self.console = console
        self.emulator = emulator
        self.user = user
        self.application = application
        self.view = view
        self.mail = mail
        self.values = values

    def expand(self, line: str) -> str | None:
        """Fill in the placeholders; None when `{code}`/`{link}` is used before any code mail."""
        known = dict(self.values)
        if self.mail.latest_code:
            known["code"] = self.mail.latest_code
        if self.mail.latest_link:
            known["link"] = self.mail.latest_link
        if any("{" + name + "}" in line and name not in known for name in ("code", "link")):
            return None
        for name, value in known.items():
            line = line.replace("{" + name + "}", value)
        return line

    def action(self, line: str) -> Callable[[], int | None]:
        """What typing `line` does: press a numbered button, open a link, command or text."""
        if _NUMBER.fullmatch(line):
            choice = self.view.choice(int(line))
            if choice is not None:
                return lambda: self._press(choice)
        if line.startswith(("https://t.me/", "http://t.me/")) and " " not in line:
            return lambda: self.user.open_link(line)
        if line.startswith("/") and len(line) > 1 and not line[1].isspace():
            command, _, payload = line[1:].partition(" ")
            payload = payload.strip()
            return lambda: self.user.send_command(command, payload or None)
        return lambda: self.user.send_text(line)

    def _press(self, choice: Choice) -> int | None:
        if choice.message_id is not None:
            return self.user.press_inline(choice.message_id, choice.label)
        # `press` would prefer an inline button with the same label: send the keyboard's text.
        inline_labels = {text for row in self.user.inline_buttons() for text, _ in row}
        if choice.label in inline_labels:
            return self.user.send_text(choice.label)
        return self.user.press(choice.label)

    async def step(self, line: str) -> None:
        """Send one line and wait until the bot has handled it and its mail is written."""
        self.view.begin_step()
        answered = len(self.emulator.callback_answers)
        try:
            update_id = self.action(line)()
        except (LookupError, ValueError) as exc:
            self.console.line(note("cannot_send", reason=exc))
            return
        if update_id is None:
            self.console.line(note("foreign_link"))
            return
        try:
            processor = self.application.update_processor
            assert isinstance(processor, PerUserUpdateProcessor)
            await processor.wait_processed(update_id)
        except TimeoutError:
            self.console.line(note("no_answer"))
        for answer in self.emulator.callback_answers[answered:]:
            if answer.text:  # the little notice Telegram shows after a button press
                self.console.line(f"🔔 {answer.text}")
        await self.mail.settle()
        self.view.show_choices(self.user)

    async def run(self, reader: LineReader, echo: bool) -> None:
        """Until :q, /quit or the end of input."""
        while True:
            line = await reader.read("> ")
            if line is None:
                if reader.interactive:
                    self.console.line()
                return
            text = line.strip()
            if text.lower() in QUIT_WORDS:
                if echo:
                    self.console.line(f"> {text}")
                return
            expanded = self.expand(text)
            if echo:  # what the customer "typed", placeholders filled in
                self.console.line(f"> {expanded if expanded is not None else text}")
            if expanded is None:
                missing = [n for n in ("code", "link") if "{" + n + "}" in text]
                self.console.line(note("no_code_yet", placeholder=missing[0]))
            elif expanded:
                await self.step(expanded)


# --- putting it together -----------------------------------------------------------


def demo_settings(base: Settings, db_path: Path, mail_dir: Path) -> Settings:
    """The user's settings minus anything reaching outside, plus the demo's db and mail."""
    env = {k: v for k, v in base.env.items() if not k.startswith(_EXTERNAL_SETTINGS)}
    env["PETKOMM_DB"] = str(db_path)
    # Never the operator's PETKOMM_STATE_DB: the demo's state file goes beside its db.
    env["PETKOMM_STATE_DB"] = str(state_path_beside(db_path))
    env["PETKOMM_MAIL_OUTBOX_DIR"] = str(mail_dir)
    return Settings(env)


def quiet_logging(settings: Settings) -> None:
    """Only warnings and errors on the terminal, unless PETKOMM_LOG_LEVEL=DEBUG."""
    level = getattr(logging, settings.log_level)
    if level != logging.DEBUG:
        logging.getLogger().setLevel(max(level, logging.WARNING))
        # The demo has no staff chat by design: the announcer's warning about it is noise.
        logging.getLogger("petkomm.bot.announcer").setLevel(logging.ERROR)


def sample_values(summary: DemoSummary) -> dict[str, str]:
    """Placeholder values from the registration sample."""
    sample = summary.sample
    return {
        "customer_id": sample.customer_id,
        "invoice": sample.invoice_number,
        "amount": format_amount(sample.amount).replace("\u00a0", " "),
        "email": sample.email,
    }


def print_intro(
    console: Console,
    summary: DemoSummary,
    values: dict[str, str],
    mail_dir: Path,
    db_path: Path | None,
) -> None:
    """What this is, how to type, and what to register with."""
    console.line(
        render(
            "demo/intro.txt",
            customers=summary.customers,
            invoices=summary.invoices,
            db_path=db_path,
            mail_dir=mail_dir,
            **values,
        )
    )
    console.line()


def note(name: str, **context: object) -> str:
    """One of the demo's one-line notes (`core/texts/demo/notes.txt`)."""
    text = render("demo/notes.txt", note=name, **context)
    if not text:
        raise KeyError(f"no demo note {name!r}")
    return text


def make_clock(today: date | None) -> Callable[[], float]:
    """Real time, moved to `today` when the demo pretends to run on another day."""
    offset = (today - date.today()).days * 86_400.0 if today else 0.0
    return lambda: time.time() + offset


async def run_demo(
    options: DemoOptions,
    settings: Settings,
    *,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
) -> int:
    """The whole demo; returns the exit code. Ctrl-C cancels it after a clean stop."""
    stdin = stdin if stdin is not None else sys.stdin
    console = Console(stdout if stdout is not None else sys.stdout)
    quiet_logging(settings)
    db_path = options.keep / DB_NAME if options.keep else None
    for kept in (db_path, state_path_beside(db_path)) if db_path is not None else ():
        if kept.exists():
            print(f"error: {kept} exists; remove it or choose another folder", file=sys.stderr)
            return 2

    with tempfile.TemporaryDirectory(prefix="petkomm-demo-") as tmp:
        export = Path(tmp) / "export"
        try:
            summary = write_demo_data(
                export,
                customers=options.customers,
                seed=options.seed,
                years=options.years,
                today=options.today or date.today(),
            )
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        mail_dir = options.mail_dir or Path(tempfile.mkdtemp(prefix="petkomm-demo-mail-"))
        mail_dir.mkdir(parents=True, exist_ok=True)
        path = db_path or Path(tmp) / DB_NAME
        db = await open_database(path)
        try:
            await import_folder(db, export)
            values = sample_values(summary)
            print_intro(console, summary, values, mail_dir, db_path)
            await _serve(
                console, db, demo_settings(settings, path, mail_dir), options, values, stdin
            )
        finally:
            await db.close()
            console.line(render("demo/goodbye.txt", mail_dir=mail_dir, db_path=db_path))
    return 0


async def _serve(
    console: Console,
    db: Database,
    settings: Settings,
    options: DemoOptions,
    values: dict[str, str],
    stdin: TextIO,
) -> None:
    """Run the emulator and the whole service (as `run` does) around the terminal chat."""
    mail = MailAnnouncer(console)
    transport = AnnouncingFolderTransport(settings.mail_outbox_dir or Path("."), mail.on_written)
    emulator = BotApiEmulator(token=DEMO_TOKEN, bot_username=BOT_USERNAME)
    user = emulator.private_user(USER_ID, USER_FIRST_NAME)
    view = ChatView(console, user.chat.chat_id)
    emulator.add_listener(view.on_event)

    service: Service | None = None
    stop_listening = db.listen(OUTBOX_TOPIC, mail.on_queued)
    await emulator.start()
    try:
        service = await Service.build(
            settings,
            db,
            overrides=Overrides(
                token=DEMO_TOKEN,
                api_url=emulator.base_url,
                transport=transport,
                clock=make_clock(options.today),
                read_mail=False,
            ),
        )
        await service.start(polling=Polling(interval=0, timeout=1))
        chat = TerminalChat(console, emulator, user, service.application, view, mail, values)
        interactive = stdin.isatty()
        if interactive:
            with contextlib.suppress(ImportError):
                import readline  # noqa: F401 - line editing and history for input()
        reader = LineReader(stdin, interactive)
        await chat.run(reader, echo=not interactive)
    except asyncio.CancelledError:  # Ctrl-C: stop as cleanly as after :q
        console.line()
        raise
    finally:
        if service is not None:
            await service.stop()
        stop_listening()
        await emulator.stop()

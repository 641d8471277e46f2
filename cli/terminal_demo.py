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
import functools
import logging
import queue
import re
import shlex
import shutil
import sys
import tempfile
import threading
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from email import policy
from pathlib import Path
from typing import Any, TextIO

from bot.ordering import PerUserUpdateProcessor
from botapi_emulator import BotApiEmulator, ChatMessage, SimulatedUser
from cli.common import QUIET_LOGGERS, program
from conversations import dialogues
from core import chat_state, tickets
from core.billing_import import import_folder
from core.config import Settings, state_path_beside
from core.db import OUTBOX_TOPIC, Database, open_database
from core.demodata import DemoSummary, write_demo_data
from core.formats import format_amount
from core.outbox import OutboxMail
from core.texts import render
from core.tickets import ticket_number
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
PROMPT = "> "
SECRET_PROMPT = "> 🔒 "  # typing here is not shown
MASK = "••••••••"  # a secret's line on the screen (its length tells nothing)
CLEAR_ROW = "\r\x1b[K"  # to the row's start, erase it
RUN_BOT = Path(__file__).resolve().parents[1] / "run_bot.py"
TELEGRAM_TEXT_LIMIT = 4096  # a longer paste goes as several messages, as Telegram sends it
EARLIER_BUTTON_MESSAGES = 2  # earlier messages whose inline buttons stay numbered
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

# What the texts tell about the company (core.facts), as examples where the operator's
# environment sets nothing: the welcome, Súgó and Tartozás show them.
DEMO_FACTS = {
    "PETKOMM_SUPPORT_PHONE": "+36 88 555 0100",
    "PETKOMM_OPENING_HOURS": "H–Cs 8–16, P 8–13",
    "PETKOMM_EMERGENCY_PHONE": "+36 30 555 0199",
    "PETKOMM_PAYEE_NAME": "PÉTKOMM Kft.",
    "PETKOMM_PAYEE_IBAN": "HU42 1177 3016 1111 1018 0000 0000",
    "PETKOMM_PAYEE_BIC": "OTPVHUHB",  # the IBAN's bank (117: OTP): Fizetés gives QR codes
}

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
    """Where the demo writes: one flush per line, so a pipe shows it at once.

    On a terminal (`live`) a line printed while the customer's prompt is open (a
    staff answer arriving, a mail written meanwhile) first clears the prompt's
    row, and the prompt with what was typed so far is drawn again after it.
    """

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.live = False  # a terminal we may move the cursor on (set once we know)
        self.prompt: str | None = None  # the prompt waiting for a line now (live only)
        self.typed: Callable[[], str] = lambda: ""  # what is typed at the prompt so far
        self._cleared = False  # the open prompt's row is cleared, to be drawn again
        if hasattr(stream, "reconfigure"):  # never die on a terminal that lacks an emoji
            with contextlib.suppress(ValueError, OSError):
                stream.reconfigure(errors="replace")

    def line(self, text: str = "") -> None:
        """Print `text` (may hold several lines)."""
        if self.live and self.prompt is not None and not self._cleared:
            self.stream.write(CLEAR_ROW)
            self._cleared = True
            asyncio.get_running_loop().call_soon(self._redraw_prompt)
        print(text, file=self.stream, flush=True)

    def prompt_opened(self, prompt: str, typed: Callable[[], str]) -> None:
        """The reader shows `prompt` now; `typed` tells what is typed after it."""
        self.prompt, self.typed, self._cleared = prompt, typed, False

    def prompt_closed(self) -> None:
        """The line was entered: nothing to draw again."""
        self.prompt, self._cleared = None, False

    def _redraw_prompt(self) -> None:
        if self.prompt is None or not self._cleared:
            return
        self._cleared = False
        self.stream.write(self.prompt + self.typed())
        self.stream.flush()

    def rewrite_entered(self, entered: str, shown: str) -> None:
        """Replace the line just entered at a prompt (`entered`, the prompt included), the
        last thing on the screen, with `shown`."""
        if not self.live:
            return
        columns = max(shutil.get_terminal_size().columns, 1)
        rows = max(1, -(-display_width(entered) // columns))
        # Up to the entered line's first row, clear from there down, write it anew.
        self.stream.write(f"\x1b[{rows}F\x1b[J{shown}\n")
        self.stream.flush()

    def block(self, first_prefix: str, text: str) -> None:
        """Print `text` with `first_prefix` before its first line and the rest indented."""
        lines = text.splitlines() or [""]
        self.line(first_prefix + lines[0])
        for rest in lines[1:]:
            self.line(INDENT + rest if rest else "")


def display_width(text: str) -> int:
    """How many terminal columns `text` takes (wide characters two, combining marks none)."""
    return sum(
        0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1
        for c in text
    )


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
    """Prints what the customer sees in their private chat, as it happens.

    Between the customer's steps the bot may send a message by itself (a staff
    answer the announcer delivers): it is printed at once, its buttons numbered.
    """

    console: Console
    user: SimulatedUser
    printed: bool = False  # anything printed since the last prompt
    stepping: bool = False  # a line of the customer is being handled
    touched: list[int] = field(default_factory=list)  # bot messages sent/edited this step
    choices: list[Choice] = field(default_factory=list)
    # A message asking for a reply (ForceReply): a Telegram client sends the next text as a
    # reply to it, so the demo does too.
    reply_to: int | None = None
    # Called when the bot deletes the customer's message before printing anything else.
    on_own_deleted: Callable[[], None] = lambda: None

    def on_event(self, event: str, message: ChatMessage) -> None:
        """The emulator's listener: the bot sent, edited or deleted a message."""
        if message.chat_id != self.user.chat.chat_id:
            return
        if event == "deleted":
            if message.from_bot:
                self.console.line(BOT_PREFIX + note("bot_deleted"))
            else:
                if self.stepping and not self.printed:  # the line typed is the last shown
                    self.on_own_deleted()
                self.console.line(INDENT + note("secret_deleted"))
            self.printed = True
            return
        pushed = not self.stepping
        if pushed:  # nobody typed anything: the bot speaks by itself
            self.touched.clear()
        self.printed = True
        self.touched.append(message.message_id)
        prefix = BOT_PREFIX + (note("edited") + " " if event == "edited" else "")
        self.console.block(prefix, describe(message))
        if event == "sent" and (message.reply_markup or {}).get("force_reply"):
            self.reply_to = message.message_id
            self.console.line(INDENT + note("force_reply"))
        if pushed:
            self.show_choices()

    def begin_step(self) -> None:
        """A new line of the customer: forget what the previous step touched."""
        self.stepping = True
        self.printed = False
        self.touched.clear()

    def end_step(self) -> None:
        """The bot has answered the line: number the buttons now on screen."""
        self.show_choices()
        self.stepping = False

    def show_choices(self) -> None:
        """After output: number the buttons now on screen and print them."""
        user = self.user
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
        # Telegram lets a button of an earlier message still on screen be pressed: they keep
        # numbers too, after the newest ones.
        earlier = self._earlier_inline_messages(user, inline_message)
        if earlier:
            self.console.line(INDENT + note("earlier_buttons"))
        for message in earlier:
            cells = []
            for row in user.inline_buttons(message):
                for text, _ in row:
                    choices.append(Choice(text, message.message_id))
                    cells.append(f"[{len(choices)}] {text}")
            self.console.line(INDENT + "  ".join(cells))
        self.choices = choices

    @staticmethod
    def _earlier_inline_messages(
        user: SimulatedUser, newest: ChatMessage | None
    ) -> list[ChatMessage]:
        """The last few bot messages with inline buttons still on screen, newest first,
        but the one whose buttons are numbered first."""
        found: list[ChatMessage] = []
        for message in reversed(user.chat.messages):
            if len(found) == EARLIER_BUTTON_MESSAGES:
                break
            shown = message.from_bot and not message.deleted and message.inline_keyboard
            if shown and (newest is None or message.message_id != newest.message_id):
                found.append(message)
        return found

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


@dataclass(frozen=True)
class Entered:
    """A line the customer entered, and whether it was typed unseen (a secret's prompt)."""

    text: str
    hidden: bool = False


class LineReader:
    """Reads the customer's lines in a daemon thread, one when asked, keeping the loop free.

    A daemon thread (not the loop's executor) so that Ctrl-C never waits for a
    pending `input()` before the process can exit. At a prompt for a password or
    a code a terminal does not echo what is typed (as `getpass` would); the
    terminal's settings are put back by `close`, even after Ctrl-C.
    """

    def __init__(self, stream: TextIO, interactive: bool, console: Console) -> None:
        self.stream = stream
        self.interactive = interactive
        self.console = console
        self._requests: queue.SimpleQueue[tuple[str, bool, asyncio.Future[Entered | None]]] = (
            queue.SimpleQueue()
        )
        self._loop = asyncio.get_running_loop()
        self._terminal = _terminal_settings(stream) if interactive else None
        self._thread = threading.Thread(target=self._serve, name="demo-stdin", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            prompt, secret, future = self._requests.get()
            entered: Entered | None
            try:
                if not self.interactive:
                    raw = self.stream.readline()
                    entered = Entered(raw.rstrip("\r\n")) if raw else None
                elif secret and self._terminal is not None:
                    entered = self._read_unseen(prompt, self._terminal)
                else:
                    entered = Entered(input(prompt))
            except (EOFError, OSError, ValueError):
                entered = None
            self._loop.call_soon_threadsafe(_resolve, future, entered)
            if entered is None:
                return

    def _read_unseen(self, prompt: str, terminal: list[Any]) -> Entered | None:
        """One line typed with the terminal's echo off."""
        import termios

        fd = self.stream.fileno()
        quiet = [*terminal[:3], terminal[3] & ~termios.ECHO, *terminal[4:]]
        out = self.console.stream
        try:  # echo off before the prompt shows, so that nothing typed ever shows
            termios.tcsetattr(fd, termios.TCSADRAIN, quiet)
        except termios.error:  # the terminal refuses: typed visibly, as anywhere else
            return Entered(input(prompt))
        try:
            out.write(prompt)
            out.flush()
            raw = self.stream.readline()
        finally:
            termios.tcsetattr(fd, termios.TCSADRAIN, terminal)
        return Entered(raw.rstrip("\r\n"), hidden=True) if raw else None

    async def read(self, prompt: str, *, secret: bool = False) -> Entered | None:
        """The next line without its newline, or None at the end of input; with `secret`,
        typed unseen on a terminal."""
        if not self._thread.is_alive():
            return None
        future: asyncio.Future[Entered | None] = self._loop.create_future()
        self._requests.put((prompt, secret, future))
        if self.interactive:
            hidden = secret and self._terminal is not None
            self.console.prompt_opened(prompt, (lambda: "") if hidden else _readline_buffer)
        try:
            return await future
        finally:
            self.console.prompt_closed()

    def close(self) -> None:
        """Put the terminal's settings back (echo on), whatever the reading thread did."""
        if self._terminal is not None:
            import termios

            with contextlib.suppress(OSError, ValueError, termios.error):
                termios.tcsetattr(self.stream.fileno(), termios.TCSADRAIN, self._terminal)


def _terminal_settings(stream: TextIO) -> list[Any] | None:
    """The terminal's settings (termios), or None where echo cannot be switched off."""
    try:
        import termios
    except ImportError:  # not a POSIX system: typing stays visible
        return None
    try:
        return termios.tcgetattr(stream.fileno())
    except (termios.error, OSError, ValueError, AttributeError):
        return None


def _readline_buffer() -> str:
    """What is typed at input()'s prompt so far, when readline edits the line."""
    readline = sys.modules.get("readline")
    return readline.get_line_buffer() if readline is not None else ""


def _forget_last_history_line() -> None:
    """Drop the line just entered from readline's history (arrow-up must not bring back a
    password)."""
    readline = sys.modules.get("readline")
    if readline is not None and readline.get_current_history_length() > 0:
        readline.remove_history_item(readline.get_current_history_length() - 1)


def _resolve(future: asyncio.Future[Entered | None], entered: Entered | None) -> None:
    if not future.done():
        future.set_result(entered)


# --- the session -------------------------------------------------------------------


class TerminalChat:
    """Turns the customer's lines into Telegram actions and waits for the bot each time."""

    def __init__(
        self,
        console: Console,
        emulator: BotApiEmulator,
        user: SimulatedUser,
        service: Service,
        view: ChatView,
        mail: MailAnnouncer,
        values: dict[str, str],
    ) -> None:
        self.console = console
        self.emulator = emulator
        self.user = user
        self.service = service
        self.application = service.application
        self.view = view
        self.mail = mail
        self.values = values
        self.interactive = False  # lines come from a person at a terminal (set by `run`)
        self._entered: Entered | None = None  # the line being handled, as typed
        self._next_ticket = 1  # the first ticket number not yet seen
        self._told_unseen = False  # the note on unseen typing was printed
        view.on_own_deleted = self._own_line_deleted

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
        """What typing `line` does: press a numbered button, open a link, command or text
        (a reply to the message that asked for one)."""
        reply_to, self.view.reply_to = self.view.reply_to, None
        if _NUMBER.fullmatch(line):
            choice = self.view.choice(int(line))
            if choice is not None:
                return lambda: self._press(choice)
        if line.startswith(("https://t.me/", "http://t.me/")) and " " not in line:
            return lambda: self.user.open_link(line)
        if self.is_command(line):
            command, _, payload = line[1:].partition(" ")
            payload = payload.strip()
            return lambda: self.user.send_command(command, payload or None)
        return lambda: self.user.send_text(line, reply_to=reply_to)

    @staticmethod
    def is_command(line: str) -> bool:
        """Whether `line` is sent as a /command."""
        return line.startswith("/") and len(line) > 1 and not line[1].isspace()

    def sent_as_text(self, line: str) -> bool:
        """Whether `line` goes to the bot as typed text (not a button press or a command):
        what a secret's prompt hides."""
        pressed = _NUMBER.fullmatch(line) is not None and self.view.choice(int(line)) is not None
        return not pressed and not self.is_command(line)

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
        try:
            await self._step(line)
        finally:
            self.view.end_step()
        await self._tell_new_tickets()

    async def _step(self, line: str) -> None:
        answered = len(self.emulator.callback_answers)
        if self.sent_as_text(line) and len(line) > TELEGRAM_TEXT_LIMIT:
            # A paste too long for one message: Telegram's clients send it in parts.
            reply_to, self.view.reply_to = self.view.reply_to, None
            for part in split_like_telegram(line):
                send = functools.partial(self.user.send_text, part, reply_to=reply_to)
                if not await self._send(send):
                    return
                reply_to = None
        elif not await self._send(self.action(line)):
            return
        for answer in self.emulator.callback_answers[answered:]:
            if answer.text:  # the little notice Telegram shows after a button press
                self.console.line(f"🔔 {answer.text}")
        await self.mail.settle()

    async def _send(self, send: Callable[[], int | None]) -> bool:
        """Send one update and wait until the bot has handled it; False when it could not go."""
        self.user.clipboard = None
        try:
            update_id = send()
        except (LookupError, ValueError) as exc:
            self.console.line(note("cannot_send", reason=exc))
            return False
        if update_id is None:  # a copy button (the app copies, the bot hears nothing) or a link
            copied = self.user.clipboard
            self.console.line(
                note("copied", text=copied) if copied is not None else note("foreign_link")
            )
            return False
        try:
            processor = self.application.update_processor
            assert isinstance(processor, PerUserUpdateProcessor)
            await processor.wait_processed(update_id)
        except TimeoutError:
            self.console.line(note("no_answer"))
        return True

    async def asks_for_secret(self) -> bool:
        """Whether the bot's open question wants a password or a code (`secret_question`)."""
        states = await chat_state.conversations(self.service.state_db, dialogues.NAME)
        for key, state in states.items():
            if self.user.user_id in key and isinstance(state, str):
                return secret_question(dialogues.ASKS.get(state))
        return False

    def _own_line_deleted(self) -> None:
        """The bot deleted the line just typed (a secret it did not ask for): on a terminal,
        dots replace it on the screen, and it leaves readline's history."""
        entered = self._entered
        if entered is None or entered.hidden or not self.interactive:
            return
        self.console.rewrite_entered(PROMPT + entered.text, PROMPT + MASK)
        _forget_last_history_line()

    async def _tell_new_tickets(self) -> None:
        """After the customer's report opens a ticket: how to answer it as staff."""
        while (ticket := await tickets.get(self.service.db, self._next_ticket)) is not None:
            self._next_ticket += 1
            # A merged ticket's number gives the one it joined: that one was told already.
            merged = ticket.id != self._next_ticket - 1
            if ticket.telegram_chat_id != self.user.chat.chat_id or merged:
                continue
            number = ticket_number(ticket.id)
            command = staff_command(
                self.service.settings,
                "tickets",
                "reply",
                number,
                "--text",
                note("example_answer"),
            )
            self.console.line(render("demo/staff_hint.txt", number=number, command=command))

    async def run(self, reader: LineReader, echo: bool) -> None:
        """Until :q, /quit or the end of input."""
        self.interactive = reader.interactive
        while True:
            secret = await self.asks_for_secret()
            if secret and reader.interactive and not self._told_unseen:
                self._told_unseen = True
                self.console.line(note("typing_unseen"))
            entered = await reader.read(SECRET_PROMPT if secret else PROMPT, secret=secret)
            self._entered = entered
            if entered is None:
                if reader.interactive:
                    self.console.line()
                return
            text = entered.text.strip()
            if text.lower() in QUIT_WORDS:
                if echo:
                    self.console.line(f"{PROMPT}{text}")
                elif entered.hidden:
                    self.console.line(text)  # the prompt's row, not echoed by the terminal
                return
            expanded = self.expand(text)
            shown = expanded if expanded is not None else text
            if secret and expanded and self.sent_as_text(expanded):
                shown = MASK
            if echo:  # what the customer "typed", placeholders filled in
                self.console.line(f"{PROMPT}{shown}")
            elif entered.hidden:
                self.console.line(shown)
            if expanded is None:
                missing = [n for n in ("code", "link") if "{" + n + "}" in text]
                self.console.line(note("no_code_yet", placeholder=missing[0]))
            elif expanded:
                await self.step(expanded)


def split_like_telegram(text: str, limit: int = TELEGRAM_TEXT_LIMIT) -> list[str]:
    """A text too long for one message, in parts of at most `limit` characters, as Telegram's
    clients send a long paste: each cut at the last line break, else the last space, before
    the limit (a word longer than a whole message is cut where the limit falls)."""
    parts = []
    while len(text) > limit:
        cut = text.rfind("\n", 0, limit + 1)
        if cut <= 0:
            cut = text.rfind(" ", 0, limit + 1)
        if cut <= 0:
            cut = limit
        parts.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    if text:
        parts.append(text)
    return [part for part in parts if part]


def secret_question(asks: str | None) -> bool:
    """Whether a dialogue's question, by its template's name, asks for a password or a code
    (`login/ask_password`, `password/ask_new`, `activation/ask_code`…): the answers the bot
    deletes from the chat, so the terminal does not show them either."""
    if asks is None:
        return False
    folder, _, name = asks.rpartition("/")
    return folder == "password" or "password" in name or name.endswith("_code")


# What the staff commands fill their texts with, as the bot does (core.facts, the canned
# answers): passed on in the printed command, so `tickets reply --canned tartozas` there
# writes the same payee block as the staff chat. Public facts only: never a token or a
# password (those stay out of the demo altogether, _EXTERNAL_SETTINGS).
STAFF_SETTINGS = (
    "PETKOMM_MAIL_FROM",
    "PETKOMM_ANSWER_DAYS",
    "PETKOMM_CANNED_DIR",
    *DEMO_FACTS,
    "PETKOMM_PAYMENT_REFERENCE",
    "PETKOMM_PAYMENT_PURPOSE",
)


def staff_command(settings: Settings, *arguments: str) -> str:
    """The command line that runs `run_bot.py ARGUMENTS` on the demo's database, with the
    demo's settings of the staff texts, to be pasted into another terminal (any folder:
    every path is absolute)."""
    if program() == "petkomm":
        command = [str(Path(sys.argv[0]).absolute())]
    else:
        command = [sys.executable, str(RUN_BOT)]
    env = [f"PETKOMM_DB={shlex.quote(str(settings.db_path))}"]
    for name in STAFF_SETTINGS:
        value = settings.env.get(name, "").strip()
        if name == "PETKOMM_CANNED_DIR" and settings.canned_dir is not None:
            value = str(settings.canned_dir.absolute())  # the other terminal is elsewhere
        if value:
            env.append(f"{name}={shlex.quote(value)}")
    return f"{' '.join(env)} {shlex.join([*command, *arguments])}"


# --- putting it together -----------------------------------------------------------


def demo_settings(base: Settings, db_path: Path, mail_dir: Path) -> Settings:
    """The user's settings minus anything reaching outside, plus the demo's db and mail."""
    env = {k: v for k, v in base.env.items() if not k.startswith(_EXTERNAL_SETTINGS)}
    env["PETKOMM_DB"] = str(db_path)
    # Never the operator's PETKOMM_STATE_DB: the demo's state file goes beside its db.
    env["PETKOMM_STATE_DB"] = str(state_path_beside(db_path))
    env["PETKOMM_MAIL_OUTBOX_DIR"] = str(mail_dir)
    for name, example in DEMO_FACTS.items():
        if not env.get(name, "").strip():
            env[name] = example
    return Settings(env)


def quiet_logging(settings: Settings) -> None:
    """Only warnings and errors on the terminal, unless PETKOMM_LOG_LEVEL=DEBUG."""
    level = getattr(logging, settings.log_level)
    if level != logging.DEBUG:
        logging.getLogger().setLevel(max(level, logging.WARNING))
        for name in QUIET_LOGGERS:  # their own levels would let "Application started" through
            library = logging.getLogger(name)
            library.setLevel(max(library.level, logging.WARNING))
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
        console.line(note("preparing", customers=options.customers))  # not a hang: data first
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
    view = ChatView(console, user)
    emulator.add_listener(view.on_event)

    service: Service | None = None
    reader: LineReader | None = None
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
        chat = TerminalChat(console, emulator, user, service, view, mail, values)
        interactive = stdin.isatty()
        if interactive:
            with contextlib.suppress(ImportError):
                import readline  # noqa: F401 - line editing and history for input()
        console.live = interactive and console.stream.isatty()
        reader = LineReader(stdin, interactive, console)
        await chat.run(reader, echo=not interactive)
    except asyncio.CancelledError:  # Ctrl-C: stop as cleanly as after :q
        console.line()
        raise
    finally:
        if reader is not None:
            reader.close()
        if service is not None:
            await service.stop()
        stop_listening()
        await emulator.stop()

"""What every subcommand shares: settings, errors, logging and shared options.

A subcommand is an `async def cmd_x(args, settings) -> int` set as the parser's
`func`; it prints its errors as one line (`error(...)`) and returns the exit
code. A missing or malformed setting raises `ConfigError`, which `run_command`
turns into one `configuration error:` line and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import re
import sqlite3
import sys
import unicodedata
from datetime import datetime
from pathlib import Path

from core.config import ConfigError, Settings

Subparsers = argparse._SubParsersAction  # noqa: SLF001 - argparse names no public type; what `add_subparsers` returns; each module adds to it

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
TOKEN_PLACEHOLDER = "<TELEGRAM_BOT_TOKEN>"

# Exit codes: 2 for a usage or configuration problem (argparse's own), 1 for a refused action.
USAGE = 2
REFUSED = 1


def program() -> str:
    """How the operator called us: `petkomm` when installed, else `run_bot.py`."""
    name = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    return "petkomm" if name == "petkomm" else "run_bot.py"


# Whether the final lines are JSON too (PETKOMM_LOG_FORMAT=json, set by configure_logging).
_json_lines = False


def error(message: str, code: int = USAGE) -> int:
    """Print `message` as one line on standard error and return `code`, the exit code.

    With PETKOMM_LOG_FORMAT=json the line is a JSON object like every log line, so a log
    collector reads a command's last word too.
    """
    if _json_lines:
        record = logging.LogRecord("petkomm.cli", logging.ERROR, __file__, 0, message, None, None)
        message = JsonLines().format(record)
    print(message, file=sys.stderr)
    return code


# Libraries that print what customers type, or our token, below a certain level: at DEBUG
# python-telegram-bot logs every update and every Bot API call with its parameters
# (passwords, codes, deep links), aiosqlite every statement with its values (a queued code
# mail), httpcore the requests; httpx logs every URL, with the token in it, at INFO. They
# stay at these levels whatever PETKOMM_LOG_LEVEL says (README, "Configuration").
QUIET_LOGGERS = {
    "telegram": logging.INFO,
    "aiosqlite": logging.INFO,
    "httpcore": logging.INFO,
    "httpx": logging.WARNING,
}
CODE_PLACEHOLDER = "<code>"


def _code_pattern() -> re.Pattern[str]:
    """A code we mail (24 characters of our alphabet, grouped by 4 or not), with its
    deep-link prefix if any: never in a log line, whoever wrote it."""
    from core.accounts import ACTIVATION_PREFIX, CODE_ALPHABET, CODE_LENGTH, RESET_PREFIX

    char = f"[{re.escape(CODE_ALPHABET)}]"
    groups = CODE_LENGTH // 4
    prefixes = "|".join(re.escape(p) for p in (ACTIVATION_PREFIX, RESET_PREFIX))
    return re.compile(
        rf"(?:{prefixes})?(?<![A-Za-z0-9])(?:{char}{{{CODE_LENGTH}}}"
        rf"|(?:{char}{{4}} ){{{groups - 1}}}{char}{{4}})(?![A-Za-z0-9])",
        re.IGNORECASE,  # as a customer may type it
    )


class RedactSecret(logging.Filter):
    """Replaces the bot token (e.g. in a URL) and anything shaped like one of our codes
    wherever it would appear in a log line: a second line of defence behind the levels."""

    def __init__(self, secret: str | None) -> None:
        super().__init__()
        self.secret = secret
        self.codes = _code_pattern()

    def clean(self, text: str) -> str:
        """`text` without the token and without anything shaped like a code."""
        if self.secret and self.secret in text:
            text = text.replace(self.secret, TOKEN_PLACEHOLDER)
        return self.codes.sub(CODE_PLACEHOLDER, text)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = self.clean(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:  # a traceback's text, cleaned too
            record.exc_text = self.clean(logging.Formatter().formatException(record.exc_info))
        return True


class JsonLines(logging.Formatter):
    """One JSON object a line for a log collector: time, level, logger, message (and the
    traceback). Only these fields: a library's `extra` attributes, which the redaction
    never sees, are left out (why this is not python-json-logger, which adds them)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created)
            .astimezone()
            .isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_text:
            entry["exception"] = record.exc_text
        elif record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(settings: Settings) -> None:
    """Log at PETKOMM_LOG_LEVEL to standard error, never showing a password, a code, a
    code's link or the bot token: the chatty libraries stay quieter (`QUIET_LOGGERS`) and
    a filter redacts the token and code-shaped words.

    Raises ConfigError when the level is malformed.
    """
    global _json_lines  # one process, one logging set-up
    logging.basicConfig(level=settings.log_level, format=LOG_FORMAT)
    _json_lines = settings.log_format == "json"
    if settings.log_format == "json":
        for handler in logging.getLogger().handlers:
            handler.setFormatter(JsonLines())
    for name, floor in QUIET_LOGGERS.items():
        logging.getLogger(name).setLevel(max(floor, logging.root.level))
    secret = settings.env.get("TELEGRAM_BOT_TOKEN", "").strip()
    # A shorter "token" would redact ordinary words.
    redact = RedactSecret(secret if len(secret) >= 8 else None)
    for handler in logging.getLogger().handlers:
        handler.addFilter(redact)


def run_command(args: argparse.Namespace) -> int:
    """Load the settings, set up logging and run the chosen subcommand to its exit code.

    What stops a command outside its own errors is one line too: a missing or malformed
    setting, a database file that cannot serve, a database busy for too long, a closed
    pipe (`| head`) — never a traceback.
    """
    from core.db import DatabaseMissing, DatabaseUnusable, is_busy

    settings = Settings.from_environment()
    try:
        try:
            configure_logging(settings)
            code = asyncio.run(args.func(args, settings))
            sys.stdout.flush()  # a closed pipe shows here, while it can still be caught
            return code
        except ConfigError as exc:
            return fatal(settings, f"configuration error: {exc}", USAGE)
        except DatabaseMissing as exc:
            return fatal(settings, "error: " + database_missing(settings, exc.path), USAGE)
        except DatabaseUnusable as exc:
            return fatal(
                settings,
                f"configuration error: {_database_variable(settings, exc.path)}: {exc}",
                USAGE,
            )
        except sqlite3.OperationalError as exc:
            if not is_busy(exc):
                raise
            return fatal(settings, "error: " + database_busy(settings), REFUSED)
        except KeyboardInterrupt:
            return 130
    except BrokenPipeError:
        # Whoever read our output (`| head -1`) has had enough: leave quietly, and keep
        # Python from complaining about the pipe again when it flushes at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141  # as a program killed by SIGPIPE: 128 + 13


def fatal(settings: Settings, line: str, code: int) -> int:
    """The last line of a command that stops, on standard error: plain, or a JSON object
    like every other log line with PETKOMM_LOG_FORMAT=json (even when the logging was not
    set up: a setting it needs was malformed); returns `code`."""
    global _json_lines  # one process, one logging set-up
    _json_lines = _json_lines or settings.env.get("PETKOMM_LOG_FORMAT", "").strip() == "json"
    return error(line, code)


def database_missing(settings: Settings, path: object) -> str:
    """`no database at … (PETKOMM_DB): the file does not exist; …`: for every command and check."""
    from core.db import DatabaseMissing

    reason = DatabaseMissing(Path(str(path))).reason
    return f"no database at {path} ({_database_variable(settings, path)}): {reason}"


def database_busy(settings: Settings, what: str = "nothing was changed") -> str:
    """One line for a write that gave up: who holds the lock, and `what` it means."""
    from core.db import write_lock_holders

    holders = write_lock_holders(settings.db_path)
    who = ", ".join(holders) if holders else "another process"
    return (
        f"{settings.db_path} (PETKOMM_DB) is busy: {who} held its write lock too long "
        f"(the daily import?); {what}: try again when it has finished"
    )


# Kept as they are although Unicode files them with the invisible characters: the zero-width
# joiner holds an emoji sequence together (👨‍👩‍👧).
_KEPT_FORMAT = frozenset("\u200d")
# What a terminal could take for something else than text: C0 and C1 controls and DEL (an
# ESC starts a sequence that can recolour, hide or retitle, even write to the clipboard),
# format characters (the bidi overrides and isolates that reverse what follows, U+202E;
# zero-width ones that hide), line and paragraph separators, lone surrogates.
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _visible(char: str) -> str:
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def printable(text: str, *, lines: bool = False) -> str:
    """Text that a customer (or any outsider) wrote, safe to print on an operator's terminal.

    Every control, format (bidi override, zero-width) or separator character is replaced
    by a visible escape: ESC becomes `\\x1b`, U+202E `\\u202e`, so nothing can move the
    cursor, recolour, retitle or reverse the operator's screen, and nothing stays hidden.
    Letters of every script stay as they are (`árvíztűrő`). With `lines`, the text is a
    body: its newlines (and tabs) stay, a Windows line end counts as one.
    """
    if lines:
        text = text.replace("\r\n", "\n")
    out: list[str] = []
    for char in text:
        if (lines and char in "\n\t") or char in _KEPT_FORMAT:
            out.append(char)
        elif unicodedata.category(char) in _UNSAFE_CATEGORIES:
            out.append(_visible(char))
        else:
            out.append(char)
    return "".join(out)


def _database_variable(settings: Settings, path: object) -> str:
    """Which setting named the database file that could not be used."""
    try:
        if str(path) == str(settings.state_db_path):
            return "PETKOMM_STATE_DB"
    except ConfigError:
        pass
    return "PETKOMM_DB"


def os_user() -> str:
    """Who runs the command (the audit's `cli:<user>`)."""
    import getpass
    import os

    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name in this environment
        return str(os.getuid())


def age(seconds: float) -> str:
    """A short age for a listing: `45m`, `5h`, `3d`."""
    seconds = max(seconds, 0.0)
    if seconds < 3600:
        return f"{int(seconds // 60)}m"
    if seconds < 86400:
        return f"{int(seconds // 3600)}h"
    return f"{int(seconds // 86400)}d"


def local_time(moment: float, pattern: str = "%Y-%m-%d %H:%M") -> str:
    """A moment in Budapest time, as operators read it: `2024-05-01 14:30`."""
    from core.accounts import BUDAPEST

    return datetime.fromtimestamp(moment, BUDAPEST).strftime(pattern)


def add_demo_data_options(parser: argparse.ArgumentParser, customers_help: str) -> None:
    """--customers, --seed and --years, shared by `demo-data` and `demo`."""
    parser.add_argument("--customers", type=int, default=200, metavar="N", help=customers_help)
    parser.add_argument("--seed", type=int, default=1, metavar="S", help="random seed (default 1)")
    parser.add_argument(
        "--years", type=int, default=3, metavar="Y", help="years of monthly invoices (default 3)"
    )

"""What every subcommand shares: settings, errors, logging and shared options.

A subcommand is an `async def cmd_x(args, settings) -> int` set as the parser's
`func`; it prints its errors as one line (`error(...)`) and returns the exit
code. A missing or malformed setting raises `ConfigError`, which `run_command`
turns into one `configuration error:` line and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime

from core.config import ConfigError, Settings

Command = Callable[[argparse.Namespace, Settings], Awaitable[int]]
Subparsers = argparse._SubParsersAction  # noqa: SLF001 - argparse names no public type; what `add_subparsers` returns; each module adds to it

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
TOKEN_PLACEHOLDER = "<TELEGRAM_BOT_TOKEN>"

# Exit codes: 2 for a usage or configuration problem (argparse's own), 1 for a refused action.
USAGE = 2
REFUSED = 1


def error(message: str, code: int = USAGE) -> int:
    """Print `message` as one line on standard error and return `code`, the exit code."""
    print(message, file=sys.stderr)
    return code


class RedactSecret(logging.Filter):
    """Replaces a secret wherever it would appear in a log line (e.g. PTB's URL at DEBUG)."""

    def __init__(self, secret: str) -> None:
        super().__init__()
        self.secret = secret

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self.secret in message:
            record.msg, record.args = message.replace(self.secret, TOKEN_PLACEHOLDER), None
        return True


def configure_logging(settings: Settings) -> None:
    """Log at PETKOMM_LOG_LEVEL to standard error, never showing the bot token.

    Raises ConfigError when the level is malformed.
    """
    logging.basicConfig(level=settings.log_level, format=LOG_FORMAT)
    # httpx logs every request URL at INFO, and Bot API URLs contain the token.
    logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.root.level))
    secret = settings.env.get("TELEGRAM_BOT_TOKEN", "").strip()
    if len(secret) >= 8:  # a shorter "token" would redact ordinary words
        for handler in logging.getLogger().handlers:
            handler.addFilter(RedactSecret(secret))


def run_command(args: argparse.Namespace) -> int:
    """Load the settings, set up logging and run the chosen subcommand to its exit code."""
    settings = Settings.from_environment()
    try:
        configure_logging(settings)
        return asyncio.run(args.func(args, settings))
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return USAGE
    except KeyboardInterrupt:
        return 130


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

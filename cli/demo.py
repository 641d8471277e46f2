"""`demo`: the real bot in a terminal chat, with no token and no servers.

The demo needs the Bot API emulator (`botapi_emulator`), a tool of its own
distribution that production installs leave out; so `cli.terminal_demo`, which imports
it, is imported only when the demo starts, and its absence is one line.
"""

from __future__ import annotations

import argparse
import datetime
from pathlib import Path

from cli.common import Subparsers, add_demo_data_options, error
from core.config import Settings

EMULATOR = "botapi_emulator"
NO_EMULATOR = (
    "error: the demo needs the Bot API emulator: pip install ./tools/botapi-emulator "
    "(./scripts/demo does it for you)"
)

EPILOG = """\
placeholders, replaced in every typed or replayed line:
  {customer_id}  the sample customer's ID (e.g. U0027)
  {invoice}      the sample's invoice number (e.g. 2026-002027)
  {amount}       the sample invoice's amount (e.g. 10 055 Ft)
  {email}        the sample customer's e-mail address
  {code}         the code in the latest activation or password-reset mail
  {link}         that mail's link (a line that is a https://t.me/ link opens it)

A number presses the button shown with that number; /command [payload] sends a
command; :q, /quit, end of input (Ctrl-D) or Ctrl-C ends the demo.
Example: python run_bot.py demo --seed 3 --today 2026-11-25 < session.txt"""


def register(sub: Subparsers) -> None:
    """Add `demo` to the subcommands."""
    p = sub.add_parser(
        "demo",
        help="try it without a token or servers",
        description="Chat with the real bot in this terminal: demo data in a throwaway\n"
        "database, a local Telegram Bot API emulator, outgoing mail as .eml files.\n"
        "The whole service runs: after a report the demo prints the `tickets reply`\n"
        "command that answers it from a second terminal, and the answer arrives here.\n"
        "Typing where the bot asks for a password or a code is not shown.\n"
        "Not on a terminal, lines are read from standard input and echoed, so\n"
        "`run_bot.py demo < session.txt` replays a whole session.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_demo_data_options(p, customers_help="demo customers (default 200)")
    p.add_argument(
        "--today",
        type=iso_date,
        default=None,
        metavar="YYYY-MM-DD",
        help="pretend today is this day (data and the bot's clock), for stable transcripts",
    )
    p.add_argument(
        "--mail-dir",
        metavar="DIR",
        help="write outgoing mail here (default: a new petkomm-demo-mail-* temporary folder)",
    )
    p.add_argument(
        "--keep",
        metavar="DIR",
        help="keep the demo database as DIR/demo.sqlite3 (default: thrown away)",
    )
    p.set_defaults(func=cmd_demo)


def iso_date(value: str) -> datetime.date:
    """argparse type of --today: a YYYY-MM-DD date."""
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a YYYY-MM-DD date: {value!r}") from None


async def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    """The real bot in a terminal chat: demo data, the Bot API emulator, mail to a folder."""
    try:
        from cli.terminal_demo import DemoOptions, run_demo
    except ModuleNotFoundError as missing:
        # Only the emulator's absence is expected; anything else missing is a real bug.
        if missing.name is None or missing.name.partition(".")[0] != EMULATOR:
            raise
        return error(NO_EMULATOR)

    options = DemoOptions(
        customers=args.customers,
        seed=args.seed,
        years=args.years,
        today=args.today,
        mail_dir=Path(args.mail_dir) if args.mail_dir else None,
        keep=Path(args.keep) if args.keep else None,
    )
    return await run_demo(options, settings)

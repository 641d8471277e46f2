"""The command line: `python run_bot.py SUBCOMMAND` (installed as `petkomm` too).

This module only parses arguments and calls the domain; every subcommand has
`--help`. A missing or malformed setting stops a command with one line naming
the variable, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Callable
from pathlib import Path

from core.config import ConfigError, Settings

log = logging.getLogger("petkomm.cli")


# --- output helpers --------------------------------------------------------------


def _progress_factory() -> Callable[[str, int], Callable[[int], None]] | None:
    """A tqdm bar per file when stderr is a terminal and the file is big."""
    if not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    def factory(name: str, size: int) -> Callable[[int], None]:
        if size < 4 * 1024 * 1024:
            return lambda done: None
        bar = tqdm(total=size, unit="B", unit_scale=True, desc=name, leave=False)

        def update(done: int) -> None:
            bar.update(done - bar.n)
            if done >= size:
                bar.close()

        return update

    return factory


def _print_import(result) -> None:  # noqa: ANN001 - ImportResult, imported lazily
    print(f"Import finished in {result.seconds:.1f} s:")
    for name, counts in result.counts.items():
        print(
            f"  {name:<17} {counts.rows:>9} rows: {counts.new} new, {counts.changed} changed, "
            f"{counts.unchanged} unchanged"
        )
    if result.new_invoice_count:
        listed = ", ".join(result.new_invoices)
        more = result.new_invoice_count - len(result.new_invoices)
        print(
            f"  new invoices ({result.new_invoice_count}): {listed}"
            + (f" … and {more} more" if more else "")
        )


# --- subcommands ------------------------------------------------------------------


async def cmd_import(args: argparse.Namespace, settings: Settings) -> int:
    from core.billing_import import ImportFailed, import_folder
    from storage.db import open_database

    folder = Path(args.folder)
    if not folder.is_dir():
        print(f"error: {folder} is not a folder", file=sys.stderr)
        return 2
    db = await open_database(settings.db_path)
    try:
        result = await import_folder(
            db, folder, encoding=args.encoding, progress=_progress_factory()
        )
    except ImportFailed as failed:
        for error in failed.errors:
            print(error, file=sys.stderr)
        if failed.total > len(failed.errors):
            print(f"… and {failed.total - len(failed.errors)} more problems", file=sys.stderr)
        print(f"Import rejected: {failed.total} problem(s); nothing was changed.", file=sys.stderr)
        return 1
    finally:
        await db.close()
    _print_import(result)
    return 0


async def cmd_demo_data(args: argparse.Namespace, settings: Settings) -> int:
    from core.demodata import write_demo_data

    try:
        summary = write_demo_data(
            Path(args.folder), customers=args.customers, seed=args.seed, years=args.years
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(
        f"Wrote {summary.customers} customers, {summary.invoices} invoices and "
        f"{summary.transactions} transactions to {args.folder}"
    )
    return 0


async def cmd_db(args: argparse.Namespace, settings: Settings) -> int:
    from storage.db import open_database

    db = await open_database(settings.db_path)
    try:
        if args.db_command == "migrate":
            version = await db.fetch_value("SELECT max(version) FROM schema_migrations")
            print(f"{settings.db_path}: schema at version {version}")
        elif args.db_command == "backup":
            target = Path(args.file)
            if target.exists() and not args.force:
                print(f"error: {target} exists (use --force to overwrite)", file=sys.stderr)
                return 2
            if target.exists():
                target.unlink()
            await db.backup(target)
            print(f"Backed up {settings.db_path} to {target}")
    finally:
        await db.close()
    return 0


async def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    """The real bot in a terminal chat: demo data, the Bot API emulator, mail to a folder."""
    from bot.demo import DemoOptions, run_demo

    options = DemoOptions(
        customers=args.customers,
        seed=args.seed,
        years=args.years,
        today=args.today,
        mail_dir=Path(args.mail_dir) if args.mail_dir else None,
        keep=Path(args.keep) if args.keep else None,
    )
    return await run_demo(options, settings)


async def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    """The bot and the mail worker, until SIGTERM/SIGINT."""
    from telegram.error import InvalidToken, NetworkError

    from service import WebhookOptions, run_service

    webhook = None
    if args.webhook_url:
        if not args.webhook_url.startswith("https://"):
            print("error: --webhook-url must be an https:// URL", file=sys.stderr)
            return 2
        webhook = WebhookOptions(args.webhook_url, args.listen, args.port, args.secret_token)
    try:
        await run_service(settings, webhook=webhook)
    except InvalidToken:
        print("error: TELEGRAM_BOT_TOKEN was refused by the Bot API", file=sys.stderr)
        return 2
    except NetworkError as exc:
        print(
            f"error: cannot reach the Bot API at {settings.telegram_api_url} "
            f"(PETKOMM_TELEGRAM_API_URL): {exc}",
            file=sys.stderr,
        )
        return 1
    return 0


# --- staff: tickets and the audit trail -------------------------------------------------

_STAFF_ERRORS = {
    "not_found": "error: no ticket {number}",
    "empty": "error: the answer is empty",
    "too_long": "error: the answer is too long for {number}'s channel (at most {limit} characters)",
    "no_address": "error: {number} has no address to answer to",
}


def _os_user() -> str:
    """Who runs the command (the audit's `cli:<user>`)."""
    import getpass
    import os

    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name in this environment
        return str(os.getuid())


def _local(moment: float, with_time: bool = True) -> str:
    """A moment in Budapest time, as operators read it: `2024-05-01 14:30`."""
    from datetime import datetime

    from core.accounts import BUDAPEST

    when = datetime.fromtimestamp(moment, BUDAPEST)
    return when.strftime("%Y-%m-%d %H:%M" if with_time else "%Y-%m-%d")


def _customer(summary) -> str:  # noqa: ANN001 - core.staff.Summary, imported lazily
    if summary.customer_name:
        return f"{summary.customer_name} ({summary.customer_id})"
    return summary.customer_id or summary.email or "unknown"


def _age(summary) -> str:  # noqa: ANN001
    if summary.age_days:
        return f"{summary.age_days}d"
    return f"{summary.age_hours}h"


def _deadline(summary) -> str:  # noqa: ANN001
    if summary.closed:
        return "closed"
    days = summary.days_left
    if summary.overdue:
        left = "overdue"
    elif days <= 0:
        left = "due today"
    else:
        left = f"{days} day{'s' if days > 1 else ''} left"
    mark = "! " if summary.near else "  "
    return f"{mark}{summary.due_date.isoformat()} ({left})"


def _print_ticket_list(items: list, include_closed: bool, total: int, answer_days: int) -> None:
    kind = "Tickets" if include_closed else "Open tickets"
    print(f"{kind}: {total} (oldest first; answer within {answer_days} days; ! = 3 days or less)")
    for s in items:
        subject = s.subject if len(s.subject) <= 50 else s.subject[:49] + "…"
        print(
            f"{s.number}  {_age(s):>4}  {_deadline(s):<32} {s.channel:<8}  "
            f"{_customer(s)[:30]:<30}  {subject}"
        )


def _print_thread(view) -> None:  # noqa: ANN001 - core.staff.Thread
    s = view.summary
    print(f"{s.number}  {s.ticket.status}  {s.channel}")
    contact = f" <{s.email}>" if s.email and s.customer_id else ""
    print(f"Customer: {_customer(s)}{contact}")
    print(f"Subject:  {s.subject}")
    print(f"Received: {_local(s.ticket.created_at)} ({_age(s)} ago)")
    print(f"Deadline: {_deadline(s).strip()}")
    for entry in view.entries:
        who = {"customer": "customer", "auto": "automatic answer"}.get(
            entry.who, f"staff {entry.author}"
        )
        print(f"\n--- {who}, {_local(entry.message.created_at)} ---")
        print(entry.text.rstrip())


def _answer_text(args: argparse.Namespace) -> tuple[str | None, str | None]:
    """(the answer, None) from --text or --file (`-` is standard input), or (None, problem)."""
    if args.text is not None:
        return args.text, None
    if args.file == "-":
        return sys.stdin.read(), None
    try:
        return Path(args.file).read_text(encoding="utf-8"), None
    except UnicodeDecodeError:
        return None, f"error: --file: {args.file} is not UTF-8 text"
    except OSError as exc:
        return None, f"error: --file: cannot read {args.file}: {exc.strerror or exc}"


async def cmd_tickets(args: argparse.Namespace, settings: Settings) -> int:
    """List, show, answer, close and reopen tickets: the staff chat's work, without Telegram."""
    import time

    from core import staff
    from core.staff import StaffError
    from core.tickets import parse_ticket_number
    from storage.db import open_database

    action = args.tickets_command
    number = None
    if action != "list":
        number = parse_ticket_number(args.number)
        if number is None:
            print(
                f"error: not a ticket number: {args.number!r} (use 123 or PK-000123)",
                file=sys.stderr,
            )
            return 2
    text = None
    if action == "reply":
        text, problem = _answer_text(args)
        if problem:
            print(problem, file=sys.stderr)
            return 2
    answer_days = settings.answer_days
    actor = staff.cli_actor(_os_user())
    db = await open_database(settings.db_path)
    try:
        now = time.time()
        if action == "list":
            items, page = [], 0
            while True:
                listing = await staff.list_tickets(
                    db,
                    answer_days=answer_days,
                    now=now,
                    page=page,
                    per_page=200,
                    include_closed=args.all,
                )
                items += listing.items
                page += 1
                if page >= listing.pages:
                    break
            _print_ticket_list(items, args.all, listing.total, answer_days)
        elif action == "show":
            view = await staff.thread(db, number, answer_days=answer_days, actor=actor, now=now)
            _print_thread(view)
        elif action == "reply":
            result = await staff.answer(db, settings, number, text or "", actor=actor, now=now)
            if result.via == "mail":
                print(
                    f"{result.number}: answer queued as mail to {result.recipient} "
                    f"(Message-ID {result.mail_message_id})."
                )
            else:
                print(
                    f"{result.number}: answer queued for the customer's Telegram chat; "
                    "the bot delivers it when it runs."
                )
            print(f"The ticket stays open; close it with: run_bot.py tickets close {result.number}")
        else:
            change = staff.close if action == "close" else staff.reopen
            result = await change(db, number, actor=actor, now=now)
            done = "closed" if action == "close" else "reopened"
            state = "closed" if action == "close" else "open"
            print(
                f"{result.number} {done}."
                if result.changed
                else f"{result.number} was already {state}."
            )
    except StaffError as error:
        message = _STAFF_ERRORS.get(error.kind, "error: {number}: " + error.kind)
        print(message.format(number=error.number, limit=error.limit), file=sys.stderr)
        return 1
    finally:
        await db.close()
    return 0


async def cmd_audit(args: argparse.Namespace, settings: Settings) -> int:
    """The audit trail, oldest first, in Budapest time."""
    from datetime import date, datetime
    from datetime import time as day_start

    from core import staff
    from core.accounts import BUDAPEST
    from storage.db import open_database

    since = None
    if args.since is not None:
        try:
            day = date.fromisoformat(args.since.strip())
        except ValueError:
            print(f"error: --since: not a YYYY-MM-DD date: {args.since!r}", file=sys.stderr)
            return 2
        since = datetime.combine(day, day_start.min, BUDAPEST).timestamp()
    db = await open_database(settings.db_path)
    try:
        entries = await staff.audit_trail(db, since=since, actor=args.actor)
    finally:
        await db.close()
    for entry in entries:
        when = datetime.fromtimestamp(entry.at, BUDAPEST).strftime("%Y-%m-%d %H:%M:%S")
        line = f"{when}  {entry.actor:<20} {entry.action:<26} {entry.target:<12} {entry.details}"
        print(line.rstrip())
    if not entries:
        print("No audit entries.")
    return 0


# --- parser -----------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="run_bot.py", description="PÉTKOMM customer-service assistant."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="SUBCOMMAND")

    p = sub.add_parser(
        "import",
        help="import the billing system's CSV exports",
        description="Import customers.csv, invoices.csv and transactions.csv "
        "from FOLDER into the database (PETKOMM_DB). All or nothing.",
    )
    p.add_argument("folder", metavar="FOLDER")
    p.add_argument(
        "--encoding",
        choices=["utf-8", "cp1250"],
        default=None,
        help="force the files' encoding (default: detect UTF-8 or Windows-1250)",
    )
    p.set_defaults(func=cmd_import)

    p = sub.add_parser(
        "demo-data",
        help="write generated demo CSV files",
        description="Write realistic, deterministic demo billing exports.",
    )
    p.add_argument("folder", metavar="FOLDER")
    p.add_argument(
        "--customers",
        type=int,
        default=200,
        metavar="N",
        help="number of customers, 1-10000 (default 200)",
    )
    p.add_argument("--seed", type=int, default=1, metavar="S", help="random seed (default 1)")
    p.add_argument(
        "--years", type=int, default=3, metavar="Y", help="years of monthly invoices (default 3)"
    )
    p.set_defaults(func=cmd_demo_data)

    p = sub.add_parser(
        "db", help="database maintenance", description="Database maintenance on PETKOMM_DB."
    )
    db_sub = p.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    db_sub.add_parser(
        "migrate",
        help="apply pending migrations",
        description="Apply the pending schema migrations and print the version.",
    )
    b = db_sub.add_parser(
        "backup",
        help="copy the live database to FILE",
        description="Copy the database to FILE with SQLite's online backup; "
        "safe while the bot runs.",
    )
    b.add_argument("file", metavar="FILE")
    b.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
    p.set_defaults(func=cmd_db)

    p = sub.add_parser(
        "run",
        help="run the bot and the mail worker",
        description="Run the Telegram bot and the mail worker until SIGTERM or SIGINT. "
        "Polling by default; --webhook-url switches to a webhook.",
    )
    p.add_argument("--webhook-url", metavar="URL", help="public https URL for Telegram's updates")
    p.add_argument(
        "--listen",
        default="127.0.0.1",
        metavar="HOST",
        help="address the webhook server binds (default 127.0.0.1)",
    )
    p.add_argument("--port", type=int, default=8443, help="webhook server port (default 8443)")
    p.add_argument(
        "--secret-token", metavar="TOKEN", help="secret Telegram sends back in each webhook request"
    )
    p.set_defaults(func=cmd_run)

    import datetime

    def iso_date(value: str) -> datetime.date:
        """argparse type of --today: a YYYY-MM-DD date."""
        try:
            return datetime.date.fromisoformat(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a YYYY-MM-DD date: {value!r}") from None

    p = sub.add_parser(
        "demo",
        help="try it without a token or servers",
        description="Chat with the real bot in this terminal: demo data in a throwaway\n"
        "database, a local Telegram Bot API emulator, outgoing mail as .eml files.\n"
        "Not on a terminal, lines are read from standard input and echoed, so\n"
        "`run_bot.py demo < session.txt` replays a whole session.",
        epilog="""\
placeholders, replaced in every typed or replayed line:
  {customer_id}  the sample customer's ID (e.g. U0027)
  {invoice}      the sample's invoice number (e.g. 2026-002027)
  {amount}       the sample invoice's amount (e.g. 10 055 Ft)
  {email}        the sample customer's e-mail address
  {code}         the code in the latest activation or password-reset mail
  {link}         that mail's link (a line that is a https://t.me/ link opens it)

A number presses the button shown with that number; /command [payload] sends a
command; :q, /quit, end of input (Ctrl-D) or Ctrl-C ends the demo.
Example: python run_bot.py demo --seed 3 --today 2026-11-25 < session.txt""",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--customers", type=int, default=200, metavar="N", help="demo customers (default 200)"
    )
    p.add_argument("--seed", type=int, default=1, metavar="S", help="random seed (default 1)")
    p.add_argument(
        "--years", type=int, default=3, metavar="Y", help="years of monthly invoices (default 3)"
    )
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

    p = sub.add_parser(
        "tickets",
        help="list, show, answer, close and reopen tickets",
        description="The staff chat's work from the command line, with the same rules "
        "and audit (actor cli:<your user name>). N is a ticket number: 123 or PK-000123.",
    )
    t_sub = p.add_subparsers(dest="tickets_command", required=True, metavar="ACTION")
    t = t_sub.add_parser(
        "list",
        help="open tickets, oldest first",
        description="Open tickets oldest first, with age and answer deadline "
        "(PETKOMM_ANSWER_DAYS; ! marks 3 days or less, or past).",
    )
    t.add_argument("--all", action="store_true", help="closed tickets too")
    t = t_sub.add_parser("show", help="a ticket's whole thread", description="Print a thread.")
    t.add_argument("number", metavar="N")
    t = t_sub.add_parser(
        "reply",
        help="answer the customer",
        description="Answer the way the report came: a threaded mail through the outbox, "
        "or a message the bot delivers to the customer's Telegram chat. "
        "The ticket stays open.",
    )
    t.add_argument("number", metavar="N")
    source = t.add_mutually_exclusive_group(required=True)
    source.add_argument("--text", metavar="T", help="the answer")
    source.add_argument("--file", metavar="F", help="read the answer from F (UTF-8; - is stdin)")
    t = t_sub.add_parser("close", help="close a ticket", description="Close a ticket.")
    t.add_argument("number", metavar="N")
    t = t_sub.add_parser("reopen", help="reopen a ticket", description="Reopen a ticket.")
    t.add_argument("number", metavar="N")
    p.set_defaults(func=cmd_tickets)

    p = sub.add_parser(
        "audit",
        help="show the audit trail",
        description="Staff actions, refused staff attempts, logins, lockouts, activations "
        "and password changes, oldest first, in Budapest time.",
    )
    p.add_argument("--since", metavar="YYYY-MM-DD", help="from this day on (Budapest time)")
    p.add_argument("--actor", metavar="X", help="only this actor, e.g. cli:anna or staff:123")
    p.set_defaults(func=cmd_audit)
    return parser


class _Redact(logging.Filter):
    """Replaces a secret wherever it would appear in a log line (e.g. PTB's URL at DEBUG)."""

    def __init__(self, secret: str) -> None:
        super().__init__()
        self.secret = secret

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self.secret in message:
            record.msg, record.args = message.replace(self.secret, "<TELEGRAM_BOT_TOKEN>"), None
        return True


def _redact_in_logs(secret: str) -> None:
    if len(secret.strip()) >= 8:
        for handler in logging.getLogger().handlers:
            handler.addFilter(_Redact(secret.strip()))


def main(argv: list[str] | None = None) -> int:
    """Entry point of `python run_bot.py` and the `petkomm` console script."""
    args = build_parser().parse_args(argv)
    settings = Settings.from_environment()
    try:
        logging.basicConfig(
            level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
        # httpx logs every request URL at INFO, and Bot API URLs contain the token.
        logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.root.level))
        _redact_in_logs(settings.env.get("TELEGRAM_BOT_TOKEN", ""))
        return asyncio.run(args.func(args, settings))
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())

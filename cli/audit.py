"""`audit`: the audit trail, oldest first, in Budapest time."""

from __future__ import annotations

import argparse

from cli.common import Subparsers, error, local_time, printable
from core.config import Settings

# (field index in a row, its least width): actor, action, target.
WIDTHS = ((1, 20), (2, 26), (3, 12))


def register(sub: Subparsers) -> None:
    """Add `audit` to the subcommands."""
    p = sub.add_parser(
        "audit",
        help="show the audit trail",
        description="Staff actions, refused staff attempts, logins, lockouts, activations "
        "and password changes, oldest first, in Budapest time.",
    )
    p.add_argument("--since", metavar="YYYY-MM-DD", help="from this day on (Budapest time)")
    p.add_argument(
        "--actor",
        metavar="X",
        help="only this actor: cli:anna (the command line), staff:9001 (a staff member in "
        "Telegram), tg:3001 (a Telegram user, e.g. a refused stranger), mail:addr, system; "
        "a bare Telegram user ID (3001) means both staff:3001 and tg:3001",
    )
    p.set_defaults(func=cmd_audit)


async def cmd_audit(args: argparse.Namespace, settings: Settings) -> int:
    """The audit trail, oldest first, in Budapest time; never a message's text."""
    from datetime import date, datetime
    from datetime import time as day_start

    from core import staff
    from core.accounts import BUDAPEST
    from core.db import open_database

    since = None
    if args.since is not None:
        try:
            day = date.fromisoformat(args.since.strip())
        except ValueError:
            return error(f"error: --since: not a YYYY-MM-DD date: {args.since!r}")
        since = datetime.combine(day, day_start.min, BUDAPEST).timestamp()
    db = await open_database(settings.db_path, create=False)
    try:
        actors = [args.actor]
        if args.actor is not None and args.actor.strip().isdigit():
            # A Telegram user ID: what they did as staff, and what was refused them.
            actors = [f"staff:{args.actor.strip()}", f"tg:{args.actor.strip()}"]
        entries = []
        for actor in actors:
            entries += await staff.audit_trail(db, since=since, actor=actor)
        entries.sort(key=lambda entry: entry.at)
    finally:
        await db.close()
    # Each field printable: a stranger's refused command is kept as its target.
    rows = [
        (
            local_time(entry.at, "%Y-%m-%d %H:%M:%S"),
            *(
                printable(field)
                for field in (entry.actor, entry.action, entry.target, entry.details)
            ),
        )
        for entry in entries
    ]
    # Columns as wide as their longest value (a long actor no longer shifts the rest).
    widths = [max([minimum, *(len(row[i]) for row in rows)]) for i, minimum in WIDTHS]
    for when, actor, action, target, details in rows:
        line = f"{when}  {actor:<{widths[0]}} {action:<{widths[1]}} {target:<{widths[2]}} {details}"
        print(line.rstrip())
    if not entries:
        print("No audit entries.")
        if args.actor is not None and ":" not in args.actor and not args.actor.strip().isdigit():
            print("An actor is written cli:NAME, staff:ID, tg:ID, mail:ADDRESS or system.")
    return 0

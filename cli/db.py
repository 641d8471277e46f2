"""`db migrate` and `db backup FILE`: database maintenance on PETKOMM_DB."""

from __future__ import annotations

import argparse
from pathlib import Path

from cli.common import Subparsers, error
from core.config import Settings


def register(sub: Subparsers) -> None:
    """Add `db` and its actions to the subcommands."""
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


async def cmd_db(args: argparse.Namespace, settings: Settings) -> int:
    """Open the database (which applies pending migrations), then run the action."""
    from core.db import open_database, schema_version

    db = await open_database(settings.db_path)
    try:
        if args.db_command == "migrate":
            version = await schema_version(db)
            print(f"{settings.db_path}: schema at version {version}")
        elif args.db_command == "backup":
            target = Path(args.file)
            if target.exists() and not args.force:
                return error(f"error: {target} exists (use --force to overwrite)")
            if target.exists():
                target.unlink()
            await db.backup(target)
            print(f"Backed up {settings.db_path} to {target}")
    finally:
        await db.close()
    return 0

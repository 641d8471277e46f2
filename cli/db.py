"""`db migrate`, `db backup FILE` and `db purge`: maintenance of PETKOMM_DB and the bot's
state file.

The bot keeps its dialogue states and received updates in a file of its own
(PETKOMM_STATE_DB, by default beside PETKOMM_DB): both are migrated, and a
backup copies both (the state file to `FILE`'s name with `-state`). A purge
removes from PETKOMM_DB what the law no longer asks us to keep (`core.retention`).
"""

from __future__ import annotations

import argparse
import os
import re
import sqlite3
from datetime import datetime
from pathlib import Path

from cli.common import REFUSED, Subparsers, error, os_user, program
from core.config import Settings, state_path_beside

BACKUP_PREFIX = "petkomm-"
_DATED = re.compile(r"^petkomm-(\d{8}-\d{6})(-state)?\.sqlite3$")


def _old_backups(folder: Path, keep: int) -> list[Path]:
    """The files of every dated backup in `folder` but the newest `keep` (each backup is
    a main file and its `-state` file); files of other names are never touched."""
    stamps: dict[str, list[Path]] = {}
    for path in folder.iterdir():
        match = _DATED.match(path.name)
        if match and path.is_file():
            stamps.setdefault(match[1], []).append(path)
    old = sorted(stamps, reverse=True)[keep:]
    return [path for stamp in old for path in sorted(stamps[stamp])]


def _why(path: Path, exc: OSError | sqlite3.Error) -> str:
    """Why a backup file could not be written, in a few words (naming the folder when it
    is the folder's permissions)."""
    folder = path.parent
    if folder.is_dir() and not os.access(folder, os.W_OK | os.X_OK):
        return f"the folder {folder} is not writable by user {os_user()}"
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    return str(exc)


def register(sub: Subparsers) -> None:
    """Add `db` and its actions to the subcommands."""
    p = sub.add_parser(
        "db",
        help="database maintenance",
        description="Database maintenance on PETKOMM_DB and the bot's state file "
        "(PETKOMM_STATE_DB).",
    )
    db_sub = p.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    db_sub.add_parser(
        "migrate",
        help="apply pending migrations",
        description="Apply the pending schema migrations of both files and print their versions.",
    )
    b = db_sub.add_parser(
        "backup",
        help="copy the live database and state file to FILE and FILE-state",
        description="Copy the database to FILE and the bot's state file beside it "
        "(backup.sqlite3 -> backup-state.sqlite3) with SQLite's online backup; "
        "safe while the bot runs.",
    )
    b.add_argument("file", metavar="FILE", nargs="?")
    b.add_argument("--force", action="store_true", help="overwrite the files if they exist")
    b.add_argument(
        "--into",
        metavar="FOLDER",
        help="instead of FILE: a new dated backup in FOLDER (petkomm-YYYYMMDD-HHMMSS.sqlite3)",
    )
    b.add_argument(
        "--keep",
        metavar="N",
        type=int,
        help="with --into: then delete all but the newest N backups in FOLDER",
    )
    r = db_sub.add_parser(
        "restore",
        help="put a backup back in place of the database and state file",
        description="Replace PETKOMM_DB and the state file with a backup made by `db backup` "
        "(FILE and FILE-state), checked first. Refused while another process (the service, "
        "an import) has the database open. The files replaced are kept beside, with their "
        "-wal, as NAME.before-restore-YYYYMMDD-HHMMSS; a stale -wal is never mixed into the "
        "backup. The new files get the owner and mode of the ones they replace.",
    )
    r.add_argument("--from", dest="source", metavar="FILE", required=True, help="the backup")
    u = db_sub.add_parser(
        "purge",
        help="remove closed tickets, old mail and audit rows older than a date",
        description="Remove from PETKOMM_DB what is older than DATE (Budapest time): closed "
        "tickets whose last activity was before it, with their messages, raw mails, files and "
        "mail; audit rows, sent or failed mail, sent notices and old guessing-limit rows. Open "
        "tickets and mail still waiting are never removed. The law keeps a complaint and its "
        "answer five years (Fgytv. 17/A (7)): a later DATE needs --force. Prints one line per "
        "kind with its count; removed data is overwritten in the file, not just freed.",
    )
    u.add_argument(
        "--before",
        metavar="YYYY-MM-DD",
        help="the first day to keep (default: PETKOMM_RETENTION_YEARS years before today)",
    )
    u.add_argument("--dry-run", action="store_true", help="only show what would be removed")
    u.add_argument("--force", action="store_true", help="allow a DATE less than five years ago")
    p.set_defaults(func=cmd_db)


async def cmd_purge(args: argparse.Namespace, settings: Settings) -> int:
    """`db purge`: check the date, then remove (or count) what is older, one line per kind."""
    import time
    from datetime import date

    from core import retention
    from core.db import open_database

    now = time.time()
    today = retention.budapest_day(now)
    if args.before is not None:
        try:
            before = date.fromisoformat(args.before.strip())
        except ValueError:
            return error(f"error: --before: not a YYYY-MM-DD date: {args.before!r}")
    else:
        years = settings.retention_years
        if years is None:
            return error("error: name --before YYYY-MM-DD (or set PETKOMM_RETENTION_YEARS)")
        before = retention.cutoff_for_years(years, now)
    why = retention.refusal(before, today, force=args.force)
    if why is not None:
        return error(f"error: --before: {why}")
    db = await open_database(settings.db_path)
    try:
        purged = await retention.purge(
            db, before, dry_run=args.dry_run, actor=f"cli:{os_user()}", now=now
        )
        # The command's promise: once it returns, no file holds what it removed.
        await db.erased_everywhere()
    finally:
        await db.close()
    verb = "would remove" if purged.dry_run else "removed"
    print(f"{settings.db_path}: what is older than {before.isoformat()} (Budapest time)")
    for _, label, count in purged.counts:
        print(f"{verb} {count} {label}")
    if purged.dry_run:
        print("dry run: nothing was removed")
    return 0


def cmd_restore(backup: Path, settings: Settings) -> int:
    """`db restore --from FILE`: check both backup files, refuse while the database is in
    use, then put each in place (the replaced file kept aside with its -wal)."""
    from core.db import MAIN, STATE, RestoreRefused, backup_problem, refuse_if_in_use, restore_file

    pairs = [(backup, settings.db_path, MAIN)]
    state_backup = state_path_beside(backup)
    if state_backup.exists():
        pairs.append((state_backup, settings.state_db_path, STATE))
    for source, _, package in pairs:
        problem = backup_problem(source, package)
        if problem is not None:
            return error(f"error: not restored: {problem}", REFUSED)
    try:
        for _, target, _ in pairs:
            refuse_if_in_use(target)
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        for source, target, _ in pairs:
            restored = restore_file(source, target, stamp)
            aside = f" (the file it replaced is kept as {restored.kept})" if restored.kept else ""
            print(f"Restored {target} from {source}{aside}")
    except RestoreRefused as refused:
        return error(f"error: not restored: {refused}", REFUSED)
    except OSError as exc:
        return error(f"error: restore stopped: {exc.strerror or exc}: {exc.filename}", REFUSED)
    if len(pairs) == 1:
        print(f"No {state_backup.name} beside the backup: the state file was left as it is.")
    print(f"Now: {program()} check, then start the service.")
    return 0


async def cmd_db(args: argparse.Namespace, settings: Settings) -> int:
    """Open both files (which applies pending migrations), then run the action."""
    from core.db import open_database, open_state_database, schema_version

    if args.db_command == "purge":
        return await cmd_purge(args, settings)
    if args.db_command == "restore":
        return cmd_restore(Path(args.source), settings)
    sources = (settings.db_path, settings.state_db_path)
    if args.db_command == "backup":
        if (args.file is None) == (args.into is None):
            return error("error: name either FILE or --into FOLDER")
        if args.keep is not None and (args.into is None or args.keep < 1):
            return error("error: --keep N (N at least 1) goes with --into FOLDER")
        if args.into is not None:
            folder = Path(args.into)
            if not folder.is_dir():
                return error(f"error: {folder} is not a folder")
            stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
            target = folder / f"{BACKUP_PREFIX}{stamp}.sqlite3"
        else:
            target = Path(args.file)
        targets = (target, state_path_beside(target))
        live = {path.resolve() for path in sources}
        for path in targets:
            if path.resolve() in live:
                return error(f"error: {path} is a live database file, not a backup")
            if path.exists() and not args.force:
                return error(f"error: {path} exists (use --force to overwrite)")
    # A backup of a database that is not there would be a fresh, empty one: refuse.
    db = await open_database(settings.db_path, create=args.db_command == "migrate")
    try:
        state_db = await open_state_database(settings.state_db_path)
        try:
            if args.db_command == "migrate":
                for source, opened in zip(sources, (db, state_db), strict=True):
                    print(f"{source}: schema at version {await schema_version(opened)}")
            elif args.db_command == "backup":
                for source, opened, path in zip(sources, (db, state_db), targets, strict=True):
                    try:
                        path.unlink(missing_ok=True)
                        await opened.backup(path)
                    except (OSError, sqlite3.Error) as exc:
                        return error(f"error: cannot write the backup {path}: {_why(path, exc)}")
                    print(f"Backed up {source} to {path}")
                if args.keep is not None:
                    for old in _old_backups(Path(args.into), args.keep):
                        old.unlink()
                        print(f"Deleted the old backup {old}")
        finally:
            await state_db.close()
    finally:
        await db.close()
    return 0

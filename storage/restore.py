"""Putting a backup back in place of a database file (`db restore`), safely.

A live database is more than its file: SQLite keeps the latest changes in a `-wal`
file beside it (and an index of it, `-shm`). A backup copied over the file while
such a `-wal` lies beside it — left by the stopped service, or by a crash — would
have those later changes replayed into it: a mix of two databases. So the file it
replaces is moved aside *with* its `-wal` (kept whole, under a new name), and only
then is the backup copied in, owned like the file it replaces. Nothing is done while
another process has the database open.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from storage.db import database_users
from storage.migrations import available_migrations


class RestoreRefused(Exception):
    """The restore was not started; the message says why in a few words."""


@dataclass(frozen=True)
class Restored:
    """One file restored: `kept` is the file it replaced, moved aside (None if none was)."""

    target: Path
    kept: Path | None


def backup_problem(backup: Path, package: str) -> str | None:
    """Why `backup` cannot be restored as a database of `package`'s schema, or None."""
    if not backup.is_file():
        return f"{backup} is not a file"
    try:
        # immutable: read as it is, no lock, no -wal or -shm made beside the backup.
        connection = sqlite3.connect(f"{backup.resolve().as_uri()}?mode=ro&immutable=1", uri=True)
    except sqlite3.Error as error:
        return f"{backup} cannot be opened: {error}"
    try:
        latest = max((m.version for m in available_migrations(package)), default=0)
        row = connection.execute("SELECT max(version) FROM schema_migrations").fetchone()
        version = int(row[0] or 0)
        if version > latest:
            return f"{backup} is at version {version}, newer than this program ({latest})"
        result = [tuple(r) for r in connection.execute("PRAGMA quick_check").fetchall()]
        if result != [("ok",)]:
            return f"{backup} is damaged: {result[0][0]}"
    except sqlite3.DatabaseError as error:
        return f"{backup} is not a database of this program: {error}"
    finally:
        connection.close()
    return None


def refuse_if_in_use(target: Path) -> None:
    """RestoreRefused while another process (the service, an import) has `target` open."""
    users = database_users(target)
    if users:
        raise RestoreRefused(
            f"{target} is in use by {', '.join(users)}: stop the service first "
            "(systemctl stop petkomm.service petkomm-import.timer)"
        )


def restore_file(backup: Path, target: Path, stamp: str) -> Restored:
    """Put a copy of `backup` at `target`, the file it replaces (and its `-wal`) moved aside
    as `target.before-restore-STAMP`, the stale `-shm` removed; owned and moded like it."""
    refuse_if_in_use(target)
    folder = target.parent
    folder.mkdir(parents=True, exist_ok=True)
    like = target.stat() if target.exists() else folder.stat()
    kept = None
    if target.exists():
        kept = target.with_name(f"{target.name}.before-restore-{stamp}")
        os.replace(target, kept)
        wal = Path(f"{target}-wal")
        if wal.exists():  # its changes belong to the file moved aside: they go with it
            os.replace(wal, Path(f"{kept}-wal"))
    Path(f"{target}-wal").unlink(missing_ok=True)
    Path(f"{target}-shm").unlink(missing_ok=True)
    partial = target.with_name(f".{target.name}.restoring")
    with backup.open("rb") as source, partial.open("wb") as copy:
        shutil.copyfileobj(source, copy)
        copy.flush()
        os.fsync(copy.fileno())
    os.chmod(partial, like.st_mode & 0o7777 if kept is not None else 0o640)
    if os.geteuid() == 0:  # root restores for the service's user, not for itself
        os.chown(partial, like.st_uid, like.st_gid)
    os.replace(partial, target)
    return Restored(target, kept)

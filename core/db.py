"""The database handle as the doors see it.

Doors (the chat, the mail worker, the command line) never import `storage`:
they hold a `Database` opened by the composition root and hand it to domain
calls. This module names those types for them, and `DatabaseBusy` (`is_busy`):
a write gave up because another process held the write lock too long
(`write_lock_holders` says which, for the operator's log).

There are two files: the main database (`open_database`, PETKOMM_DB), which the
command line and the operator's tools write too, and the bot's own state file
(`open_state_database`, PETKOMM_STATE_DB: dialogue states and received Telegram
updates), which only the running service writes.
"""

from storage.db import (
    Database,
    DatabaseBusy,
    DatabaseMissing,
    DatabaseUnusable,
    Queryable,
    Transaction,
    is_busy,
    open_database,
    open_state_database,
    write_lock_holders,
)
from storage.health import FileHealth, ImportHealth, database_health, last_import
from storage.migrations import MAIN, STATE, schema_version
from storage.outbox import TOPIC as OUTBOX_TOPIC
from storage.restore import Restored, RestoreRefused, backup_problem, refuse_if_in_use, restore_file
from storage.tickets import STAFF_TOPIC

# Change topics for `Database.listen`: OUTBOX_TOPIC when a mail is queued, STAFF_TOPIC
# when a ticket event waits for the staff chat or a staff answer for a customer's chat.

__all__ = [
    "MAIN",
    "OUTBOX_TOPIC",
    "STAFF_TOPIC",
    "STATE",
    "Database",
    "DatabaseBusy",
    "DatabaseMissing",
    "DatabaseUnusable",
    "FileHealth",
    "ImportHealth",
    "Queryable",
    "RestoreRefused",
    "Restored",
    "Transaction",
    "backup_problem",
    "database_health",
    "is_busy",
    "last_import",
    "open_database",
    "open_state_database",
    "refuse_if_in_use",
    "restore_file",
    "schema_version",
    "write_lock_holders",
]

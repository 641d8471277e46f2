"""The database handle as the doors see it.

Doors (the chat, the mail worker, the command line) never import `storage`:
they hold a `Database` opened by the composition root and hand it to domain
calls. This module names those types for them.
"""

from storage.db import Database, Queryable, Transaction, open_database

__all__ = ["Database", "Queryable", "Transaction", "open_database"]

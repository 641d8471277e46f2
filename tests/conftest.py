"""Shared fixtures: a real SQLite file in a temporary folder."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from storage.db import Database, open_database

pytest_plugins = ["tests.smtp_server", "tests.botkit", "tests.dovecot"]


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    """A freshly migrated database file."""
    database = await open_database(tmp_path / "petkomm.sqlite3")
    yield database
    await database.close()

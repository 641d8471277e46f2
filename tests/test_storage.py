"""The database file: migrations, pragmas, transactions, backup."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest

from storage.db import open_database, open_state_database
from storage.migrations import STATE, available_migrations


async def test_migrations_build_the_schema_from_an_empty_file_and_record_themselves(tmp_path):
    path = tmp_path / "fresh.sqlite3"
    db = await open_database(path)
    tables = {r[0] for r in await db.fetch_all("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {
        "customers",
        "invoices",
        "transactions",
        "portal_accounts",
        "account_codes",
        "telegram_logins",
        "throttle_events",
        "tickets",
        "ticket_messages",
        "outbox",
        "inbound_mails",
        "inbox_state",
        "audit_log",
        "bot_state",
    } <= tables
    versions = [r[0] for r in await db.fetch_all("SELECT version FROM schema_migrations")]
    assert versions == [m.version for m in available_migrations()]
    assert await db.fetch_value("PRAGMA journal_mode") == "wal"
    assert await db.fetch_value("PRAGMA foreign_keys") == 1
    assert await db.fetch_value("PRAGMA busy_timeout") > 0
    await db.close()


async def test_the_state_file_has_its_own_schema_and_the_main_one_no_updates(tmp_path):
    main = await open_database(tmp_path / "petkomm.sqlite3")
    state = await open_state_database(tmp_path / "petkomm-state.sqlite3")
    try:
        tables = "SELECT name FROM sqlite_master WHERE type='table'"
        state_tables = {r[0] for r in await state.fetch_all(tables)}
        assert {"bot_state", "telegram_updates", "carried_over"} <= state_tables
        assert "customers" not in state_tables
        main_tables = {r[0] for r in await main.fetch_all(tables)}
        assert "bot_state" in main_tables  # old deployments have it: carried over from there
        assert "telegram_updates" not in main_tables
        versions = [r[0] for r in await state.fetch_all("SELECT version FROM schema_migrations")]
        assert versions == [m.version for m in available_migrations(STATE)] == [1]
        assert await state.fetch_value("PRAGMA journal_mode") == "wal"
    finally:
        await state.close()
        await main.close()


async def test_running_migrations_again_changes_nothing(tmp_path):
    path = tmp_path / "again.sqlite3"
    db = await open_database(path)
    await db.execute("INSERT INTO customers(customer_id, name, address) VALUES ('U0001', 'A', 'B')")
    await db.close()
    db = await open_database(path)
    assert await db.fetch_value("SELECT count(*) FROM schema_migrations") == len(
        available_migrations()
    )
    assert await db.fetch_value("SELECT name FROM customers") == "A"
    await db.close()


async def test_a_failing_migration_leaves_no_trace(tmp_path, monkeypatch):
    from storage import migrations

    good = migrations.available_migrations()
    broken = migrations.Migration(9999, "broken", "CREATE TABLE half_done(x); SELECT nope();")
    monkeypatch.setattr(
        migrations, "available_migrations", lambda package=migrations.MAIN: [*good, broken]
    )
    with pytest.raises(sqlite3.OperationalError):
        await open_database(tmp_path / "broken.sqlite3")
    raw = sqlite3.connect(tmp_path / "broken.sqlite3")
    assert raw.execute("SELECT count(*) FROM sqlite_master WHERE name='half_done'").fetchone() == (
        0,
    )
    assert raw.execute("SELECT max(version) FROM schema_migrations").fetchone() == (
        good[-1].version,
    )
    raw.close()


async def test_a_transaction_rolls_back_on_error(db):
    with pytest.raises(RuntimeError):
        async with db.transaction() as tx:
            await tx.execute(
                "INSERT INTO customers(customer_id, name, address) VALUES ('U0001', 'A', 'B')"
            )
            raise RuntimeError("boom")
    assert await db.fetch_value("SELECT count(*) FROM customers") == 0


async def test_foreign_keys_are_enforced(db):
    with pytest.raises(sqlite3.IntegrityError):
        await db.execute(
            "INSERT INTO invoices(invoice_no, customer_id, issue_date, due_date,"
            " amount, outstanding) VALUES (1, 'U0404', '2024-01-01', '2024-01-15', 1, 0)"
        )


async def test_backup_copies_the_live_database(db, tmp_path):
    await db.execute("INSERT INTO customers(customer_id, name, address) VALUES ('U0001', 'Á', 'B')")
    await db.backup(tmp_path / "copy" / "backup.sqlite3")
    copy = sqlite3.connect(tmp_path / "copy" / "backup.sqlite3")
    assert copy.execute("SELECT name FROM customers").fetchall() == [("Á",)]
    copy.close()


async def test_a_read_sees_every_write_committed_before_it(db):
    async def write_then_read(n: int) -> str | None:
        await db.execute(
            "INSERT INTO customers(customer_id, name, address) VALUES (?, ?, 'B')",
            (f"U{n:04d}", f"Ügyfél {n}"),
        )
        return await db.fetch_value(
            "SELECT name FROM customers WHERE customer_id = ?", (f"U{n:04d}",)
        )

    # Many at once: reads go to the reader connections, writes to the writer.
    names = await asyncio.gather(*(write_then_read(n) for n in range(1, 41)))
    assert names == [f"Ügyfél {n}" for n in range(1, 41)]
    assert await db.fetch_value("SELECT count(*) FROM customers") == 40


async def test_a_read_does_not_wait_for_a_transaction_in_progress(db):
    async with db.transaction() as tx:
        await tx.execute(
            "INSERT INTO customers(customer_id, name, address) VALUES ('U0001', 'A', 'B')"
        )
        # Outside the transaction: at once, and without its uncommitted row.
        count = await asyncio.wait_for(db.fetch_value("SELECT count(*) FROM customers"), 2)
        assert count == 0
        assert await tx.fetch_value("SELECT count(*) FROM customers") == 1
    assert await db.fetch_value("SELECT count(*) FROM customers") == 1


async def test_the_readers_cannot_write(db):
    # Only plain reads go to the readers; a write that returns rows goes to the writer.
    row = await db.fetch_one(
        "INSERT INTO customers(customer_id, name, address) VALUES ('U0001', 'A', 'B')"
        " RETURNING customer_id"
    )
    assert row[0] == "U0001"
    assert await db.fetch_value("SELECT count(*) FROM customers") == 1

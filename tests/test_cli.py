"""The operator's command line, run as the operator runs it."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from storage.migrations import STATE, available_migrations
from tests.test_billing_import import write_all

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None):
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith(("PETKOMM_", "TELEGRAM_"))
    }
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, str(ROOT / "run_bot.py"), *args],
        env=environment,
        cwd=cwd or ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def env(tmp_path):
    return {"PETKOMM_DB": str(tmp_path / "db" / "petkomm.sqlite3")}


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["import"],
        ["demo-data"],
        ["db"],
        ["db", "migrate"],
        ["db", "backup"],
        ["demo"],
        ["check"],
    ],
)
def test_every_subcommand_has_help(command):
    result = run(*command, "--help")
    assert result.returncode == 0
    assert "usage:" in result.stdout


def test_import_prints_what_changed(tmp_path, env):
    folder = write_all(tmp_path / "export")
    result = run("import", str(folder), env=env)
    assert result.returncode == 0, result.stderr
    assert "invoices.csv" in result.stdout and "3 new, 0 changed, 0 unchanged" in result.stdout
    assert "new invoices (3): 2024-000001, 2024-000002, 2024-000003" in result.stdout
    again = run("import", str(folder), env=env)
    assert "0 new, 0 changed, 3 unchanged" in again.stdout


def test_a_bad_import_prints_file_line_reasons_and_exits_non_zero(tmp_path, env):
    folder = write_all(tmp_path / "export")
    (folder / "invoices.csv").write_text(
        "invoice_number;customer_id;issue_date;due_date;amount;outstanding\n"
        "2024-000001;U0001;2024.05.01;2024.05.15;sok;0\n",
        encoding="utf-8",
    )
    result = run("import", str(folder), env=env)
    assert result.returncode == 1
    assert "invoices.csv:2: bad amount 'sok'" in result.stderr
    assert "nothing was changed" in result.stderr
    assert "Traceback" not in result.stderr
    db = sqlite3.connect(env["PETKOMM_DB"])
    assert db.execute("SELECT count(*) FROM customers").fetchone() == (0,)


def test_an_import_missing_a_file_is_refused_unless_told_which_files_it_has(tmp_path, env):
    folder = write_all(tmp_path / "export")
    (folder / "transactions.csv").unlink()
    result = run("import", str(folder), env=env)
    assert result.returncode == 1, result.stderr
    assert "transactions.csv: missing from" in result.stderr
    assert "--only customers,invoices" in result.stderr and "Traceback" not in result.stderr
    told = run("import", str(folder), "--only", "customers,invoices", env=env)
    assert told.returncode == 0, told.stderr
    assert "transactions.csv" not in told.stdout and "3 new" in told.stdout
    wrong = run("import", str(folder), "--only", "customers,szamlak", env=env)
    assert wrong.returncode == 2
    assert "error: --only takes customers, invoices and transactions, got szamlak" in wrong.stderr


def test_a_malformed_setting_is_one_clear_line(tmp_path, env):
    result = run("db", "migrate", env={**env, "PETKOMM_LOG_LEVEL": "LOUD"})
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "configuration error: PETKOMM_LOG_LEVEL: must be DEBUG, INFO, WARNING or ERROR, got 'LOUD'"
    ]


def test_settings_come_from_a_dot_env_file_too(tmp_path):
    (tmp_path / ".env").write_text(f"PETKOMM_DB={tmp_path / 'from-dotenv.sqlite3'}\n")
    result = run("db", "migrate", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "from-dotenv.sqlite3").exists()


def test_db_migrate_and_backup(tmp_path, env):
    latest = available_migrations()[-1].version
    migrated = run("db", "migrate", env=env).stdout
    assert f"schema at version {latest}" in migrated
    state = tmp_path / "db" / "petkomm-state.sqlite3"  # the bot's own file, beside PETKOMM_DB
    state_latest = available_migrations(STATE)[-1].version
    assert f"{state}: schema at version {state_latest}" in migrated.splitlines()
    target = tmp_path / "backup.sqlite3"
    result = run("db", "backup", str(target), env=env)
    assert result.returncode == 0, result.stderr
    copy = sqlite3.connect(target)
    assert copy.execute("SELECT count(*) FROM schema_migrations").fetchone() == (latest,)
    state_copy = sqlite3.connect(tmp_path / "backup-state.sqlite3")
    assert state_copy.execute("SELECT max(version) FROM schema_migrations").fetchone() == (
        state_latest,
    )
    assert f"to {tmp_path / 'backup-state.sqlite3'}" in result.stdout
    refused = run("db", "backup", str(target), env=env)
    assert refused.returncode == 2 and "exists" in refused.stderr
    target.unlink()  # the state file's copy is still there: refused all the same, one line
    refused = run("db", "backup", str(target), env=env)
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines() == [
        f"error: {tmp_path / 'backup-state.sqlite3'} exists (use --force to overwrite)"
    ]
    assert not target.exists()
    assert run("db", "backup", str(target), "--force", env=env).returncode == 0
    assert target.exists()


def test_importing_a_missing_folder_is_a_clear_error(tmp_path, env):
    result = run("import", str(tmp_path / "nope"), env=env)
    assert result.returncode == 2
    assert "is not a folder" in result.stderr


# Runs run_bot.py as `python run_bot.py` would, with the Bot API emulator (a test and demo
# tool of its own distribution) unimportable, as in a production install.
WITHOUT_EMULATOR = """\
import os, runpy, sys
sys.modules["botapi_emulator"] = None
script = sys.argv[1]
sys.argv = sys.argv[1:]
sys.path[0] = os.path.dirname(script)
runpy.run_path(script, run_name="__main__")
"""


def run_without_emulator(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith(("PETKOMM_", "TELEGRAM_"))
    }
    environment.update(env)
    return subprocess.run(
        [sys.executable, "-c", WITHOUT_EMULATOR, str(ROOT / "run_bot.py"), *args],
        env=environment,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_without_the_emulator_only_the_demo_is_missing_and_says_how_to_get_it(env):
    for command in ([], ["demo"], ["tickets"]):
        helped = run_without_emulator(*command, "--help", env=env)
        assert helped.returncode == 0, helped.stderr
        assert "usage:" in helped.stdout
    assert run_without_emulator("db", "migrate", env=env).returncode == 0

    result = run_without_emulator("demo", "--seed", "3", env=env)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        "error: the demo needs the Bot API emulator: pip install ./tools/botapi-emulator "
        "(./scripts/demo does it for you)"
    ]
    assert result.stdout == ""


def test_installed_it_names_itself_petkomm(tmp_path):
    petkomm = Path(sys.executable).with_name("petkomm")  # the console script of the install
    if not petkomm.exists():
        pytest.skip("the product is not installed in this interpreter's environment")
    done = subprocess.run(
        [str(petkomm), "--help"], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert done.returncode == 0 and done.stdout.startswith("usage: petkomm ")
    done = subprocess.run(
        [sys.executable, str(ROOT / "run_bot.py"), "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert done.stdout.startswith("usage: run_bot.py ")


def test_json_logs_are_one_object_a_line_and_redacted(tmp_path, env):
    import json
    import logging

    from cli.common import JsonLines, RedactSecret

    result = run("db", "migrate", env={**env, "PETKOMM_LOG_FORMAT": "json"})
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stderr.splitlines()]
    assert lines and all(set(e) == {"time", "level", "logger", "message"} for e in lines)
    assert any("applied migration 0001" in e["message"] for e in lines)

    code = "ABCD EFGH JKLM NPQR STUV WXYZ"
    token = "123456:SECRETTOKENVALUE"
    record = logging.LogRecord("petkomm.x", logging.ERROR, __file__, 1, "code %s", (code,), None)
    try:
        raise ValueError(f"{token} {code}")
    except ValueError:
        import sys

        record.exc_info = sys.exc_info()
    assert RedactSecret(token).filter(record)
    entry = json.loads(JsonLines().format(record))
    assert entry["message"] == "code <code>"
    assert code not in entry["exception"] and token not in entry["exception"]
    assert "ValueError" in entry["exception"]
    wrong = run("db", "migrate", env={**env, "PETKOMM_LOG_FORMAT": "xml"})
    assert wrong.returncode == 2 and "PETKOMM_LOG_FORMAT" in wrong.stderr


@pytest.mark.parametrize("command", [["tickets", "list"], ["run"]])
@pytest.mark.parametrize(
    ("make", "told"),
    [
        (lambda tmp: tmp / "adatok", "is a folder, not a database file"),
        (lambda tmp: tmp / "jegyzet.txt", "is not a SQLite database"),
        (lambda tmp: tmp / "jegyzet.txt" / "petkomm.sqlite3", "is a file, not a folder"),
        (lambda tmp: Path("/proc/nincs/petkomm.sqlite3"), "cannot be made"),
    ],
    ids=["folder", "not-a-database", "under-a-file", "folder-cannot-be-made"],
)
def test_a_database_path_that_cannot_work_is_one_line_at_once(tmp_path, command, make, told):
    # Found by the operator trial: tracebacks, and a text file made `run` hang.
    (tmp_path / "adatok").mkdir()
    (tmp_path / "jegyzet.txt").write_text("ez egy jegyzet, nem adatbázis\n" * 50)
    path = make(tmp_path)
    result = run(
        *command,
        env={
            "PETKOMM_DB": str(path),
            "TELEGRAM_BOT_TOKEN": "123456:TESTTOKEN",
            "PETKOMM_MAIL_OUTBOX_DIR": str(tmp_path / "mail"),
        },
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip() == f"configuration error: PETKOMM_DB: {path}: " + (
        result.stderr.split(f"{path}: ", 1)[1].strip()
    )
    assert told in result.stderr and "Traceback" not in result.stderr
    assert (tmp_path / "jegyzet.txt").read_text().startswith("ez egy jegyzet")  # untouched


def test_a_state_file_that_cannot_work_names_its_own_setting(tmp_path):
    (tmp_path / "allapot").mkdir()
    result = run(
        "db",
        "migrate",
        env={
            "PETKOMM_DB": str(tmp_path / "petkomm.sqlite3"),
            "PETKOMM_STATE_DB": str(tmp_path / "allapot"),
        },
    )
    assert result.returncode == 2
    assert "configuration error: PETKOMM_STATE_DB:" in result.stderr
    assert "is a folder" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["tickets", "show", "9" * 23],
        ["tickets", "close", "9" * 23],
        ["tickets", "reply", "9" * 20, "--text", "x"],
        ["tickets", "attachment", "1", "9" * 20],
    ],
)
def test_numbers_too_long_for_any_ticket_are_one_line(args, env):
    # Found by the attacker trial: a traceback (SQLite's integers overflowed).
    result = run(*args, env=env)
    assert result.returncode in (1, 2) and "Traceback" not in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) <= 2

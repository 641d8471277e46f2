"""What the second operator trial (issue 13) found at the command line: a database file
the service may not write, one a newer program migrated, a mistyped PETKOMM_DB, a
database busy with the morning import, and a reader that closes the pipe. Each is one
line and an exit code, never a traceback, and never a fresh database where none was.
Run as the operator runs them: real subprocesses with a timeout, on real SQLite files.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from storage.migrations import available_migrations
from tests.test_db_lock import write_lock_held
from tests.test_staff_cli import env, run  # noqa: F401 - `env` is a fixture used here

ROOT = Path(__file__).resolve().parents[1]
LATEST = max(m.version for m in available_migrations())


def as_service_user() -> list[str]:
    """A prefix that runs a command as a user the file's permissions apply to: root
    without the capabilities that let it write any file (the test runs as root here)."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("setpriv (util-linux) is needed to drop root's file capabilities")
    return [setpriv, "--bounding-set=-dac_override,-dac_read_search,-fowner"]


def run_as_service(settings: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith(("PETKOMM_", "TELEGRAM_"))
    }
    environment.update(settings)
    return subprocess.run(
        [*as_service_user(), sys.executable, str(ROOT / "run_bot.py"), *args],
        env=environment,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


RUN_SETTINGS = {
    "TELEGRAM_BOT_TOKEN": "123456:TESTTOKEN",
    "PETKOMM_MAIL_OUTBOX_DIR": "/nonexistent/mail",
}


@pytest.mark.parametrize(
    "command",
    [
        ["tickets", "list"],
        ["tickets", "close", "1"],
        ["outbox", "list"],
        ["db", "migrate"],
        ["run"],
    ],
)
def test_a_database_restored_read_only_stops_every_command_with_one_line(env, command):  # noqa: F811
    # Found by the trial: `database OK`, then `run` logged "attempt to write a readonly
    # database" forever and `import` printed a traceback.
    path = Path(env["PETKOMM_DB"])
    path.chmod(0o444)  # root restored it; the service's user may only read it
    result = run_as_service({**env, **RUN_SETTINGS}, *command)
    assert result.returncode == 2
    line = one_line(result)
    assert line.startswith(f"configuration error: PETKOMM_DB: {path}: cannot be written: ")
    assert f"{path} is not writable by user" in line and "mode 0444" in line


def test_check_reports_a_database_it_could_not_write(env):  # noqa: F811
    path = Path(env["PETKOMM_DB"])
    path.chmod(0o444)
    result = run_as_service({**env, **RUN_SETTINGS}, "check")
    database = next(line for line in result.stdout.splitlines() if line.startswith("database"))
    assert "FAILED" in database and "cannot be written" in database and "0444" in database
    assert result.returncode == 1


@pytest.mark.parametrize(
    "command",
    [["db", "migrate"], ["tickets", "list"], ["outbox", "list"], ["audit"], ["run"]],
)
def test_a_database_from_a_newer_program_is_refused_with_one_line(env, command):  # noqa: F811
    # Found by the trial: `db migrate` said "schema at version 15", exit 0, and every
    # other command went on with it.
    path = Path(env["PETKOMM_DB"])
    with sqlite3.connect(path) as connection:
        connection.execute(
            "INSERT INTO schema_migrations VALUES (?, 'from_the_future', 0)", (LATEST + 1,)
        )
    connection.close()
    result = run({**env, **RUN_SETTINGS}, *command)
    assert result.returncode == 2
    assert one_line(result) == (
        f"configuration error: PETKOMM_DB: {path}: at version {LATEST + 1}, newer than this "
        f"program ({LATEST}): upgrade the program, or restore a backup made with this version"
    )
    check = run({**env, **RUN_SETTINGS}, "check")
    assert f"at version {LATEST + 1}, newer than this program ({LATEST})" in check.stdout


@pytest.mark.parametrize(
    "command",
    [
        ["tickets", "list"],
        ["tickets", "show", "1"],
        ["outbox", "list"],
        ["outbox", "requeue", "--all-failed"],
        ["audit"],
        ["db", "backup", "{tmp}/mentes.sqlite3"],
    ],
)
def test_a_mistyped_database_path_is_not_made_into_a_fresh_database(tmp_path, command):
    # Found by the trial: `tickets list` printed 13 "applied migration" lines and
    # "Open tickets: 0" on a new, empty file.
    mistyped = tmp_path / "petkom" / "petkomm.sqlite3"
    args = [word.replace("{tmp}", str(tmp_path)) for word in command]
    result = run({"PETKOMM_DB": str(mistyped)}, *args)
    assert result.returncode == 2
    assert one_line(result) == (
        f"error: no database at {mistyped} (PETKOMM_DB): the file does not exist; "
        "`db migrate` or the first `run` creates it"
    )
    assert result.stdout == ""
    assert sorted(tmp_path.iterdir()) == []  # nothing made, not even the folder


def test_check_words_a_missing_database_and_a_path_under_a_file_as_the_commands_do(tmp_path):
    for path in (tmp_path / "petkom" / "petkomm.sqlite3", Path("/dev/null/p.sqlite3")):
        command = run({"PETKOMM_DB": str(path)}, "tickets", "list")
        check = run({"PETKOMM_DB": str(path), **RUN_SETTINGS}, "check")
        database = next(line for line in check.stdout.splitlines() if line.startswith("database"))
        told = one_line(command).split(": ", 1)[1]
        assert database.split("FAILED: ", 1)[1] in (told, told.split(": ", 1)[1])


async def test_check_during_the_import_says_the_database_is_busy_not_failed(env):  # noqa: F811
    # Found by the trial: "database FAILED: another process has held its write lock for
    # more than 2 s" every morning, and monitoring alarmed.
    path = Path(env["PETKOMM_DB"])
    async with write_lock_held(path) as holder:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(ROOT / "run_bot.py"),
            "check",
            env={
                **{k: v for k, v in os.environ.items() if not k.startswith("PETKOMM_")},
                **env,
                **RUN_SETTINGS,
            },
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(process.communicate(), timeout=60)
        pid = holder.process.pid
    assert b"Traceback" not in err
    database = next(line for line in out.decode().splitlines() if line.startswith("database"))
    assert database.split()[1].startswith("OK"), database
    assert f"busy: process {pid} (python" in database and "write lock" in database


async def test_a_reply_during_the_import_is_one_line_and_not_saved(env):  # noqa: F811
    # Found by the trial: after 30 s a 60-line traceback ending in DatabaseBusy.
    path = Path(env["PETKOMM_DB"])
    async with write_lock_held(path) as holder:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(ROOT / "run_bot.py"),
            "tickets",
            "reply",
            "1",
            "--text",
            "Holnap kimegyünk.",
            env={
                **{k: v for k, v in os.environ.items() if not k.startswith("PETKOMM_")},
                **env,
            },
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        _, err = await asyncio.wait_for(process.communicate(), timeout=90)
        pid = holder.process.pid
    assert process.returncode == 1
    lines = err.decode().strip().splitlines()
    assert "Traceback" not in err.decode(), err.decode()
    # Log lines say it waits; the last one says what happened.
    assert all(" WARNING petkomm.storage.db: " in line for line in lines[:-1]), lines
    assert lines[-1].startswith(f"Hiba: {path} (PETKOMM_DB) foglalt: process {pid} (python")
    assert "a választ nem mentettem el: próbálja újra, ha végzett." in lines[-1]
    with sqlite3.connect(path) as connection:
        saved = connection.execute(
            "SELECT count(*) FROM ticket_messages WHERE body LIKE '%Holnap kimegyünk%'"
        ).fetchone()[0]
    connection.close()
    assert saved == 0


@pytest.mark.parametrize("command", [["tickets", "list"], ["tickets", "show", "1"], ["audit"]])
def test_a_reader_that_closes_the_pipe_gets_no_traceback(env, command):  # noqa: F811
    # Found by the trial: `tickets show 2 | head -1` ended in a BrokenPipeError traceback.
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PETKOMM_")}
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "run_bot.py"), *command],
        env={**environment, **env},
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # as `| head -0` would: nobody reads what it prints
    err = process.stderr.read().decode()
    process.wait(timeout=60)
    assert err == ""
    assert process.returncode == 141


@pytest.mark.parametrize("into", [True, False], ids=["into-folder", "file"])
def test_a_backup_into_a_folder_the_user_cannot_write_is_one_line(env, tmp_path, into):  # noqa: F811
    # Found by the trial: `db backup --into` such a folder ended in a traceback
    # (sqlite3.OperationalError: unable to open database file).
    assert run(env, "db", "migrate").returncode == 0  # the state file too
    folder = tmp_path / "mentesek"
    folder.mkdir(mode=0o555)
    args = ["--into", str(folder)] if into else [str(folder / "mentes.sqlite3")]
    result = run_as_service(env, "db", "backup", *args)
    assert result.returncode == 2
    line = one_line(result)
    assert line.startswith("error: cannot write the backup ")
    assert line.endswith(f"the folder {folder} is not writable by user root") or (
        os.geteuid() != 0 and "not writable" in line
    )
    assert list(folder.iterdir()) == []


@pytest.mark.parametrize(
    "command",
    [
        ["tickets", "reply", "1", "--text", "Rendben."],
        ["tickets", "close", "1"],
        ["tickets", "attachment", "1", "1"],
        ["outbox", "requeue", "--all-failed"],
    ],
)
def test_a_database_file_the_user_cannot_read_names_the_file_not_the_folder(env, command):  # noqa: F811
    # Found by the trial: "cannot be opened (check the folder's permissions)" when the file
    # was the problem, and at times a 24-line "Event loop is closed" traceback after it.
    path = Path(env["PETKOMM_DB"])
    for left in (Path(f"{path}-wal"), Path(f"{path}-shm")):
        left.unlink(missing_ok=True)
    path.chmod(0o200)  # its owner may write it but not read it: SQLite cannot open it
    result = run_as_service(env, *command)
    assert result.returncode == 2
    line = one_line(result)
    assert line.startswith(f"configuration error: PETKOMM_DB: {path}: cannot be opened: ")
    assert f"{path} is not readable by user" in line and "mode 0200" in line
    assert "folder" not in line


def test_requeue_without_arguments_asks_for_them(env):  # noqa: F811
    # Found by the trial: "… or use --all-failed, not both" though neither was given.
    line = one_line(run(env, "outbox", "requeue"))
    assert line == "error: name the mail to requeue (ID …, see `outbox list`) or use --all-failed"
    both = one_line(run(env, "outbox", "requeue", "3", "--all-failed"))
    assert both.endswith("or use --all-failed, not both")


def test_with_json_logs_the_last_line_of_a_failed_command_is_json_too(env, tmp_path):  # noqa: F811
    # Found by the trial: `error: …` and `configuration error: …` stayed plain text.
    json_env = {**env, "PETKOMM_LOG_FORMAT": "json"}
    for result in (
        run(json_env, "tickets", "show", "99"),
        run({**json_env, "PETKOMM_DB": str(tmp_path / "adatok")}, "tickets", "list"),
        run({**json_env, "PETKOMM_STAFF_IDS": "anna"}, "run"),
    ):
        assert result.stderr.strip(), result
        for line in result.stderr.strip().splitlines():
            entry = json.loads(line)
            assert entry["level"] in ("INFO", "WARNING", "ERROR") and entry["message"]
    assert json.loads(run(json_env, "tickets", "show", "99").stderr)["message"] == (
        "Hiba: nincs PK-000099 számú bejelentés."
    )


def test_the_listings_have_a_header_and_keep_their_columns_with_a_long_actor(env):  # noqa: F811
    listing = run(env, "tickets", "list").stdout.splitlines()
    header = listing[1]
    assert header.split() == ["ÜGYSZÁM", "KOR", "HATÁRIDŐ", "CSATORNA", "ÜGYFÉL", "TÁRGY"]
    first = listing[2]
    assert first.startswith("PK-000001")
    assert first.index("e-mail") == header.index("CSATORNA")
    assert first.index("Juhász") == header.index("ÜGYFÉL")

    long_actor = "mail:" + "nagyon.hosszu.nev" * 3 + "@example.hu"
    with sqlite3.connect(env["PETKOMM_DB"]) as connection:
        connection.execute(
            "INSERT INTO audit_log(at, actor, action, target, details) VALUES (?, ?, ?, ?, '')",
            (1.7e9, long_actor, "ticket_opened", "PK-000002"),
        )
    connection.close()
    lines = run(env, "audit").stdout.splitlines()
    columns = {line.index(line.split()[3]) for line in lines}
    assert len(columns) == 1, lines  # every action starts in the same column


# A process that writes to the database and dies without closing it (kill -9, a crash):
# its committed change stays in the -wal beside the file, not yet in the file.
CRASHER = r"""
import os, sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("PRAGMA wal_autocheckpoint = 0")
conn.execute("INSERT INTO audit_log(at, actor, action) VALUES (1, 'system', 'after_backup')")
os._exit(0)
"""


def test_restore_puts_the_backup_back_without_the_stale_wal_and_keeps_what_it_replaced(
    env,  # noqa: F811
    tmp_path,
):
    # Found by the trial: copying a backup over the database while a crash's -wal lay
    # beside it silently mixed the later changes into the restored file.
    path = Path(env["PETKOMM_DB"])
    backup = tmp_path / "mentes.sqlite3"
    assert run(env, "db", "backup", str(backup)).returncode == 0
    subprocess.run([sys.executable, "-c", CRASHER, str(path)], check=True, timeout=30)
    assert Path(f"{path}-wal").stat().st_size > 0  # the crash's change waits there

    result = run(env, "db", "restore", "--from", str(backup))
    assert result.returncode == 0, result.stderr
    assert f"Restored {path} from {backup}" in result.stdout
    with sqlite3.connect(path) as connection:
        actions = [row[0] for row in connection.execute("SELECT action FROM audit_log")]
    connection.close()
    assert "after_backup" not in actions  # the backup as it was, nothing mixed in
    kept = next(
        p for p in tmp_path.glob(f"{path.name}.before-restore-*") if not p.name.endswith("-wal")
    )
    with sqlite3.connect(kept) as connection:  # the replaced file, whole, with its change
        assert connection.execute(
            "SELECT count(*) FROM audit_log WHERE action = 'after_backup'"
        ).fetchone() == (1,)
    connection.close()


async def test_restore_is_refused_while_the_database_is_in_use(env, tmp_path):  # noqa: F811
    path = Path(env["PETKOMM_DB"])
    backup = tmp_path / "mentes.sqlite3"
    assert run(env, "db", "backup", str(backup)).returncode == 0
    async with write_lock_held(path, "") as holder:
        result = run(env, "db", "restore", "--from", str(backup))
        pid = holder.process.pid
    assert result.returncode == 1
    assert one_line(result).startswith(
        f"error: not restored: {path} is in use by process {pid} (python"
    )
    assert "stop the service first" in result.stderr
    assert not list(tmp_path.glob("*.before-restore-*"))
    bad = tmp_path / "jegyzet.sqlite3"
    bad.write_text("nem adatbázis\n" * 100)
    refused = run(env, "db", "restore", "--from", str(bad))
    assert refused.returncode == 1 and "not a database of this program" in one_line(refused)

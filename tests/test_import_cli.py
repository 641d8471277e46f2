"""The daily import run as the operator (or the import timer) runs it: a real process."""

from __future__ import annotations

import os
import pwd
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_billing_import import write_all

ROOT = Path(__file__).resolve().parents[1]


def run(
    *args: str, env: dict[str, str], prefix: list[str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`run_bot.py ARGS` in a process of its own, with only the settings in `env`."""
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith(("PETKOMM_", "TELEGRAM_"))
    }
    return subprocess.run(
        [*(prefix or []), sys.executable, str(ROOT / "run_bot.py"), *args],
        env=environment | env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def env(tmp_path):
    return {"PETKOMM_DB": str(tmp_path / "db" / "petkomm.sqlite3")}


def customers_in(env: dict[str, str]) -> int:
    if not Path(env["PETKOMM_DB"]).exists():
        return 0
    with sqlite3.connect(env["PETKOMM_DB"]) as db:
        return db.execute("SELECT count(*) FROM customers").fetchone()[0]


def as_the_service_user(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`run`, without the right to read what its user may not (root keeps its uid, which
    the interpreter under /root needs, but loses the capabilities that bypass modes)."""
    if os.geteuid() != 0:
        return run(*args, env=env)
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("needs setpriv (util-linux) to drop root's file capabilities")
    drop = "-dac_override,-dac_read_search"
    return run(*args, env=env, prefix=[setpriv, f"--bounding-set={drop}", f"--inh-caps={drop}"])


def test_an_export_the_service_user_cannot_read_is_one_line_and_changes_nothing(tmp_path, env):
    folder = write_all(tmp_path / "export")
    user = pwd.getpwuid(os.geteuid()).pw_name
    folder.chmod(0o000)
    try:
        locked = as_the_service_user("import", str(folder), env=env)
    finally:
        folder.chmod(0o755)
    assert locked.returncode == 1, locked.stderr
    assert locked.stderr.splitlines() == [
        f"{folder}: permission denied: {user}, the user this import runs as, cannot read this"
        " folder; the export folder and its files must be readable by it (e.g. setfacl -R -m"
        f" u:{user}:rX -m d:u:{user}:rX {folder}, which new files inherit)",
        "Import rejected: 1 problem(s); nothing was changed.",
    ]
    customers = folder / "customers.csv"
    if os.geteuid() == 0:  # as the trial had it: a file of another user, mode 600
        os.chown(customers, pwd.getpwnam("nobody").pw_uid, -1)
        customers.chmod(0o600)
    else:
        customers.chmod(0o000)
    unreadable = as_the_service_user("import", str(folder), env=env)
    assert unreadable.returncode == 1, unreadable.stderr
    assert unreadable.stderr.splitlines()[0].startswith(
        f"customers.csv: permission denied: {user}, the user this import runs as, cannot read"
        " this file;"
    )
    assert "Traceback" not in unreadable.stderr and customers_in(env) == 0


def test_old_mac_line_breaks_import_and_notes_are_one_line_each(tmp_path, env):
    folder = write_all(tmp_path / "export")
    for name in ("customers.csv", "invoices.csv", "transactions.csv"):
        path = folder / name
        path.write_bytes(path.read_bytes().replace(b"\r\n", b"\r").removesuffix(b"\r"))
    result = run("import", str(folder), "--only", "customers,invoices", env=env)
    assert result.returncode == 0, result.stderr
    assert "customers.csv             2 rows: 2 new" in result.stdout
    assert [line for line in result.stderr.splitlines() if "INFO" not in line] == [
        f"warning: transactions.csv: left out (--only customers,invoices), though {folder} has it",
        "warning: customers.csv:3: the file ends without a line break after this line: if"
        " the export was cut short, its last field may be incomplete (check it)",
        "warning: invoices.csv:4: the file ends without a line break after this line: if"
        " the export was cut short, its last field may be incomplete (check it)",
    ]
    assert customers_in(env) == 2


def test_a_forced_encoding_names_each_line_once(tmp_path, env):
    folder = write_all(tmp_path / "export", encoding="cp1250")
    result = run("import", str(folder), "--encoding", "utf-8", env=env)
    assert result.returncode == 1
    told = re.findall(r"^(\w+\.csv:\d+): (.*?) \(", result.stderr, re.MULTILINE)
    assert told == [
        ("customers.csv:2", "undecodable bytes"),
        ("customers.csv:3", "undecodable bytes"),
        ("transactions.csv:2", "undecodable bytes"),
        ("transactions.csv:3", "undecodable bytes"),
        ("transactions.csv:4", "undecodable bytes"),
    ]
    assert "not UTF-8, the encoding --encoding utf-8 asked for" in result.stderr
    assert "Windows-1250;" not in result.stderr and "bad kind" not in result.stderr

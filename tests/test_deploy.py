"""The server installation in deploy/: the systemd units verify, the service is hardened,
and the nightly backup keeps the newest N."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_cli import run

ROOT = Path(__file__).resolve().parents[1]
UNITS = ROOT / "deploy" / "systemd"
INSTALLED = "/opt/petkomm/.venv/bin/petkomm"


@pytest.fixture
def units(tmp_path) -> Path:
    """The unit files with the program path pointing at this checkout's installed command
    (verify checks that each command is executable)."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("systemd-analyze is missing (scripts/install-test-deps installs it)")
        pytest.skip("systemd-analyze is missing")
    command = Path(sys.executable).parent / "petkomm"
    assert command.exists(), "the petkomm command is installed into the venv"
    folder = tmp_path / "units"
    folder.mkdir()
    for unit in UNITS.iterdir():
        (folder / unit.name).write_text(unit.read_text().replace(INSTALLED, str(command)))
    return folder


def test_every_unit_file_verifies(units):
    names = sorted(p.name for p in units.iterdir())
    assert names == [
        "petkomm-backup.service",
        "petkomm-backup.timer",
        "petkomm-import.service",
        "petkomm-import.timer",
        "petkomm.service",
    ]
    result = subprocess.run(
        ["systemd-analyze", "verify", *names],
        cwd=units,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == ""


def test_the_service_is_hardened(units):
    unit = (units / "petkomm.service").read_text()
    for line in (
        "User=petkomm",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ReadWritePaths=/var/lib/petkomm",
        "Restart=on-failure",
        "RestartPreventExitStatus=2",
    ):
        assert line in unit.splitlines()
    result = subprocess.run(
        ["systemd-analyze", "security", "--offline=yes", "petkomm.service"],
        cwd=units,
        capture_output=True,
        text=True,
        timeout=60,
    )
    exposure = re.search(r"Overall exposure level for petkomm.service: ([\d.]+)", result.stdout)
    assert exposure is not None, result.stdout + result.stderr
    assert float(exposure[1]) <= 2.0  # systemd calls up to 2.0 "OK"


def test_the_nightly_backup_keeps_the_newest_n(tmp_path):
    env = {"PETKOMM_DB": str(tmp_path / "data" / "petkomm.sqlite3")}
    assert run("db", "migrate", env=env).returncode == 0  # an installed database
    backups = tmp_path / "backups"
    backups.mkdir()
    (backups / "kezzel-mentve.sqlite3").write_bytes(b"")  # another name: never touched
    for stamp in ("20260101-023000", "20260102-023000", "20260103-023000"):
        for suffix in ("", "-state"):
            (backups / f"petkomm-{stamp}{suffix}.sqlite3").write_bytes(b"old")
    result = run("db", "backup", "--into", str(backups), "--keep", "2", env=env)
    assert result.returncode == 0, result.stderr
    left = sorted(p.name for p in backups.iterdir())
    assert "kezzel-mentve.sqlite3" in left
    dated = [name for name in left if name.startswith("petkomm-")]
    assert len(dated) == 4  # the new backup and the newest old one, each with its state file
    assert "petkomm-20260103-023000.sqlite3" in dated
    assert "petkomm-20260101-023000.sqlite3" not in dated
    assert "Deleted the old backup" in result.stdout
    both = run("db", "backup", "x.sqlite3", "--into", str(backups), env=env)
    assert both.returncode == 2 and "either FILE or --into FOLDER" in both.stderr
    stray = run("db", "backup", "x.sqlite3", "--keep", "3", env=env)
    assert stray.returncode == 2 and "--keep N" in stray.stderr


def test_the_import_makes_its_folder_and_says_at_err_when_it_failed(units):
    # Found by the operator trial: nothing told the operator the 06:15 import had failed,
    # and the import relied on the service having made /var/lib/petkomm.
    unit = (units / "petkomm-import.service").read_text().splitlines()
    assert "StateDirectory=petkomm" in unit
    hook = next(line for line in unit if line.startswith("ExecStopPost="))
    script = hook.split("-c ", 1)[1].strip("'").replace("$$", "$")
    for result, told in (("exit-code", True), ("success", False)):
        said = subprocess.run(
            ["sh", "-c", script],
            env={"SERVICE_RESULT": result, "EXIT_STATUS": "1", "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert said.returncode == 0
        # "<3>": systemd's journal files the line at priority err.
        assert said.stdout.startswith("<3>the billing import failed (exit-code") == told


def test_the_example_settings_file_reads_the_same_in_a_shell_as_in_systemd():
    # Found by the operator trial: `. /etc/petkomm/petkomm.env` broke on
    # `PETKOMM_MAIL_FROM=PÉTKOMM Kft. <…>` (sh read `<` as a redirection).
    example = ROOT / "deploy" / "petkomm.env.example"
    shell = subprocess.run(
        ["sh", "-c", 'set -a; . "$1"; set +a; env -0', "sh", str(example)],
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
        capture_output=True,
        timeout=30,
    )
    assert shell.returncode == 0 and shell.stderr == b"", shell.stderr
    seen = dict(
        entry.decode().split("=", 1) for entry in shell.stdout.split(b"\0") if b"=" in entry
    )
    # As systemd's EnvironmentFile= reads it: KEY=VALUE, one pair of quotes taken off.
    for line in example.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, value = line.split("=", 1)
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        assert seen.get(key) == value, key
    assert seen["PETKOMM_MAIL_FROM"] == "PÉTKOMM Kft. <petkomm@petkomm.hu>"

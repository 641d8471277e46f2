"""The product's wheel: what an operator installs holds the product and nothing else.

The Bot API emulator, the tests and the benchmarks stay out of it, and so does aiohttp,
which only the emulator needs.
"""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
import sys
import zipfile
from email.parser import HeaderParser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Top-level folders of the repository that are not the product.
NOT_PRODUCT = {"tests", "bench", "tools"}
# What a checkout gathers that is not source (see .gitignore); never copied to the build.
NOT_SOURCE_AT_TOP = {".git", ".venv", "build", "dist", "data", "demo-mail", ".env"}
NOT_SOURCE_ANYWHERE = shutil.ignore_patterns(
    "__pycache__",
    "*.pyc",
    "*.egg-info",
    ".pytest_cache",
    ".ruff_cache",
    ".mypy_cache",
    "*.sqlite3",
    "*.sqlite3-*",
)


def ignore_non_source(folder: str, names: list[str]) -> set[str]:
    """copytree's filter: skip caches and build output everywhere, runtime data at the top."""
    ignored = set(NOT_SOURCE_ANYWHERE(folder, names))
    if Path(folder) == ROOT:
        ignored |= NOT_SOURCE_AT_TOP & set(names)
    return ignored


def build_wheel(tmp_path: Path) -> Path:
    """Build the product's wheel from a clean copy of the checkout, offline.

    A copy, because setuptools reuses ./build: files of an earlier build (say, of a
    package that has since moved out) would end up in a wheel built in place.
    """
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=ignore_non_source)
    out = tmp_path / "dist"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "build",
            "--wheel",
            "--no-isolation",
            "--outdir",
            str(out),
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    (wheel,) = out.glob("petkomm_assistant-*.whl")
    return wheel


def product_files() -> set[str]:
    """Every file of the product's packages in the checkout, as paths inside a wheel."""
    packages = [
        path.parent for path in ROOT.glob("*/__init__.py") if path.parent.name not in NOT_PRODUCT
    ]
    assert packages, "no product packages found"
    return {
        path.relative_to(ROOT).as_posix()
        for package in packages
        for path in package.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }


def requirement_name(requirement: str) -> str:
    """The normalised distribution name at the start of a Requires-Dist value."""
    name = re.match(r"[A-Za-z0-9._-]+", requirement)
    assert name, requirement
    return re.sub(r"[-_.]+", "-", name.group(0)).lower()


def test_the_wheel_is_the_product_without_the_emulator(tmp_path: Path) -> None:
    wheel_path = build_wheel(tmp_path)
    with zipfile.ZipFile(wheel_path) as wheel:
        names = set(wheel.namelist())
        (dist_info,) = {name.split("/")[0] for name in names if ".dist-info/" in name}
        metadata = HeaderParser().parsestr(wheel.read(f"{dist_info}/METADATA").decode())
        entry_points = configparser.ConfigParser()
        entry_points.read_string(wheel.read(f"{dist_info}/entry_points.txt").decode())

    assert [name for name in names if "botapi_emulator" in name or "telegram-bot-api" in name] == []
    requires = {requirement_name(value) for value in metadata.get_all("Requires-Dist") or []}
    assert "aiohttp" not in requires
    assert "petkomm-botapi-emulator" not in requires
    assert "python-telegram-bot" in requires

    # Exactly the product's packages with their templates, data and migrations: nothing
    # missing, and no tests, benchmarks or tools.
    shipped = {name for name in names if not name.startswith(f"{dist_info}/")}
    top_level_modules = {name for name in shipped if "/" not in name}
    assert shipped - top_level_modules == product_files()
    assert top_level_modules <= {path.name for path in ROOT.glob("*.py")}
    # The command `petkomm` runs a module that is in the wheel.
    (target,) = entry_points["console_scripts"].values()
    module = target.split(":")[0]
    module_path = module.replace(".", "/")
    assert f"{module_path}.py" in shipped or f"{module_path}/__init__.py" in shipped

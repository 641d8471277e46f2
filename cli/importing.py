"""`import FOLDER` (the billing system's CSV exports) and `demo-data FOLDER` (generated ones)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from cli.common import REFUSED, Subparsers, add_demo_data_options, error, printable
from core.config import Settings

if TYPE_CHECKING:
    from core.billing_import import ImportResult


def register(sub: Subparsers) -> None:
    """Add `import` and `demo-data` to the subcommands."""
    p = sub.add_parser(
        "import",
        help="import the billing system's CSV exports",
        description="Import customers.csv, invoices.csv and transactions.csv "
        "from FOLDER into the database (PETKOMM_DB). All or nothing.",
    )
    p.add_argument("folder", metavar="FOLDER")
    p.add_argument(
        "--only",
        metavar="FILES",
        default=None,
        help="the files this export has, comma-separated (customers,invoices,transactions);"
        " without it all three must be there",
    )
    p.add_argument(
        "--encoding",
        choices=["utf-8", "cp1250"],
        default=None,
        help="force the files' encoding (default: detect UTF-8 or Windows-1250)",
    )
    p.set_defaults(func=cmd_import)

    p = sub.add_parser(
        "demo-data",
        help="write generated demo CSV files",
        description="Write realistic, deterministic demo billing exports.",
    )
    p.add_argument("folder", metavar="FOLDER")
    add_demo_data_options(p, customers_help="number of customers, 1-10000 (default 200)")
    p.set_defaults(func=cmd_demo_data)


async def cmd_import(args: argparse.Namespace, settings: Settings) -> int:
    """Import FOLDER's three CSV files in one transaction and print what changed."""
    from core.billing_import import (
        ImportFailed,
        cannot_read,
        check_folder,
        import_folder,
        wanted_files,
    )
    from core.db import open_database

    folder = Path(args.folder)
    only = args.only.split(",") if args.only is not None else None
    try:
        wanted_files(only)
    except ValueError as exc:
        return error(f"error: {exc}")
    try:
        is_folder = folder.is_dir()
    except PermissionError:  # a folder on the way to FOLDER may not be entered
        return _rejected([f"{folder}: {cannot_read('folder', folder)}"], 1)
    if not is_folder:
        return error(f"error: {folder} is not a folder")
    try:
        check_folder(folder, only)  # before the database is opened: an unreadable export
        db = await open_database(settings.db_path)
        try:
            result = await import_folder(
                db, folder, encoding=args.encoding, progress=_progress_factory(), only=only
            )
        finally:
            await db.close()
    except ImportFailed as failed:
        problems = [
            printable(str(problem)) for problem in failed.errors
        ]  # a cell may hold anything
        if failed.total > len(failed.errors):
            problems.append(f"… and {failed.total - len(failed.errors)} more problems")
        return _rejected(problems, failed.total)
    for warning in result.warnings:
        print(f"warning: {printable(str(warning))}", file=sys.stderr)
    _print_import(result)
    return 0


def _rejected(problems: list[str], total: int) -> int:
    """Print the problems, one a line, and the refusal; the exit code."""
    for problem in problems:
        print(problem, file=sys.stderr)
    return error(f"Import rejected: {total} problem(s); nothing was changed.", REFUSED)


async def cmd_demo_data(args: argparse.Namespace, settings: Settings) -> int:
    """Write deterministic demo exports to FOLDER."""
    from core.demodata import write_demo_data

    try:
        summary = write_demo_data(
            Path(args.folder), customers=args.customers, seed=args.seed, years=args.years
        )
    except ValueError as exc:
        return error(f"error: {exc}")
    print(
        f"Wrote {summary.customers} customers, {summary.invoices} invoices and "
        f"{summary.transactions} transactions to {args.folder}"
    )
    return 0


def _progress_factory() -> Callable[[str, int], Callable[[int], None]] | None:
    """A tqdm bar per file when stderr is a terminal and the file is big."""
    if not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    def factory(name: str, size: int) -> Callable[[int], None]:
        if size < 4 * 1024 * 1024:
            return lambda done: None
        bar = tqdm(total=size, unit="B", unit_scale=True, desc=name, leave=False)

        def update(done: int) -> None:
            bar.update(done - bar.n)
            if done >= size:
                bar.close()

        return update

    return factory


def _print_import(result: ImportResult) -> None:
    print(f"Import finished in {result.seconds:.1f} s:")
    for name, counts in result.counts.items():
        print(
            f"  {name:<17} {counts.rows:>9} rows: {counts.new} new, {counts.changed} changed, "
            f"{counts.unchanged} unchanged"
        )
    if result.pdfs is not None:
        pdfs = result.pdfs
        print(
            f"  {'pdf/':<17} {pdfs.files:>9} PDFs: {pdfs.new} new, {pdfs.changed} changed, "
            f"{pdfs.unchanged} unchanged"
        )
    if result.new_invoice_count:
        listed = ", ".join(result.new_invoices)
        more = result.new_invoice_count - len(result.new_invoices)
        print(
            f"  new invoices ({result.new_invoice_count}): {listed}"
            + (f" … and {more} more" if more else "")
        )
    notices = result.notices
    if notices.new_invoice or notices.payment:
        print(
            f"  notifications queued: {notices.new_invoice} new-invoice,"
            f" {notices.payment} payment-received (the running service sends them)"
        )

"""The daily billing import (../shared/docs/billing-import.md).

All or nothing: the three files are applied in one transaction, customers
first, then invoices, then transactions. Rows are streamed from disk straight
into SQLite, so memory does not grow with the file; every problem is collected
as `file:line: reason` and any problem rolls the whole import back.
"""

from __future__ import annotations

import csv
import json
import time
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.formats import (
    format_invoice_number,
    parse_amount,
    parse_customer_id,
    parse_date,
    parse_invoice_number,
)
from storage import billing
from storage.db import Database, Transaction

FILES = ("customers.csv", "invoices.csv", "transactions.csv")
COLUMNS = {
    "customers.csv": ("customer_id", "name", "address", "phone", "email", "payment_method"),
    "invoices.csv": (
        "invoice_number",
        "customer_id",
        "issue_date",
        "due_date",
        "amount",
        "outstanding",
    ),
    "transactions.csv": (
        "transaction_id",
        "customer_id",
        "date",
        "kind",
        "amount",
        "invoice_number",
        "description",
    ),
}
KINDS = {
    "charge": "charge",
    "terhelés": "charge",
    "terheles": "charge",
    "payment": "payment",
    "befizetés": "payment",
    "befizetes": "payment",
    "adjustment": "adjustment",
    "helyesbítés": "adjustment",
    "helyesbites": "adjustment",
}
MAX_ERRORS_KEPT = 1000
NEW_INVOICES_LISTED = 10
# Bytes that are undefined in Windows-1250: a file holding them is not cp1250 either.
_CP1250_UNDEFINED = frozenset(b"\x81\x83\x88\x90\x98")


@dataclass(frozen=True)
class RowError:
    file: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}"


class ImportFailed(Exception):
    """The import changed nothing; `errors` says why (the first MAX_ERRORS_KEPT)."""

    def __init__(self, errors: list[RowError], total: int) -> None:
        super().__init__(f"{total} problem(s) in the import files")
        self.errors = errors
        self.total = total


@dataclass
class FileCounts:
    rows: int = 0
    new: int = 0
    changed: int = 0

    @property
    def unchanged(self) -> int:
        return self.rows - self.new - self.changed


@dataclass
class ImportResult:
    run_id: int
    counts: dict[str, FileCounts] = field(default_factory=dict)
    new_invoice_count: int = 0
    new_invoices: list[str] = field(default_factory=list)  # the first NEW_INVOICES_LISTED
    seconds: float = 0.0

    def summary_json(self) -> str:
        return json.dumps(
            {
                name: {"rows": c.rows, "new": c.new, "changed": c.changed, "unchanged": c.unchanged}
                for name, c in self.counts.items()
            }
            | {"new_invoices": self.new_invoice_count}
        )


ProgressFactory = Callable[[str, int], Callable[[int], None]]
"""Given a file name and its size, returns a callback taking bytes read so far."""


class _Errors:
    """Collects row errors; keeps the first MAX_ERRORS_KEPT and counts the rest."""

    def __init__(self) -> None:
        self.kept: list[RowError] = []
        self.total = 0

    def add(self, file: str, line: int, reason: str) -> None:
        self.total += 1
        if len(self.kept) < MAX_ERRORS_KEPT:
            self.kept.append(RowError(file, line, reason))


# --- reading a file -------------------------------------------------------------


class _Lines:
    """Decoded lines of a CSV file with their numbers, the encoding found on the way.

    UTF-8 (BOM or not) is tried first; a file that turns out not to be UTF-8
    before any multi-byte UTF-8 character was seen switches to Windows-1250
    (ASCII is the same in both). A line that fits neither is an error.
    """

    def __init__(
        self,
        path: Path,
        encoding: str | None,
        errors: _Errors,
        progress: Callable[[int], None] | None,
    ) -> None:
        self.path = path
        self.name = path.name
        self.encoding = (encoding or "utf-8").lower().replace("_", "-")
        self.fixed = encoding is not None
        self.errors = errors
        self.progress = progress
        self.line_no = 0
        self.seen_multibyte = False

    def _decode(self, raw: bytes) -> str:
        if self.encoding in ("utf-8", "utf8", "utf-8-sig"):
            try:
                text = raw.decode("utf-8")
                if not self.seen_multibyte and not raw.isascii():
                    self.seen_multibyte = True
                return text
            except UnicodeDecodeError as exc:
                if self.fixed or self.seen_multibyte or _CP1250_UNDEFINED & set(raw):
                    self.errors.add(
                        self.name,
                        self.line_no,
                        f"undecodable bytes (byte {exc.start + 1} of the line is "
                        "not UTF-8 or Windows-1250; save the file as UTF-8)",
                    )
                    return raw.decode("utf-8", "replace")
                self.encoding = "cp1250"
        try:
            return raw.decode(self.encoding)
        except UnicodeDecodeError as exc:
            self.errors.add(
                self.name,
                self.line_no,
                f"undecodable bytes (byte {exc.start + 1} of the line is not "
                f"valid {self.encoding})",
            )
            return raw.decode(self.encoding, "replace")

    def __iter__(self) -> Iterator[str]:
        done = 0
        with self.path.open("rb") as handle:
            for raw in handle:
                self.line_no += 1
                done += len(raw)
                if self.line_no == 1 and raw.startswith(b"\xef\xbb\xbf"):
                    raw = raw[3:]
                if self.progress is not None and self.line_no % 8192 == 0:
                    self.progress(done)
                yield self._decode(raw)
        if self.progress is not None:
            self.progress(done)


class _Table:
    """One CSV file as (line, dict-free row tuple) records after the header."""

    def __init__(
        self,
        path: Path,
        encoding: str | None,
        errors: _Errors,
        progress: Callable[[int], None] | None,
    ) -> None:
        self.lines = _Lines(path, encoding, errors, progress)
        self.name = path.name
        self.errors = errors

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        """Yield (line number, fields in COLUMNS order); header problems are errors."""
        lines = iter(self.lines)
        first = next(lines, None)
        if first is None:
            self.errors.add(self.name, 1, "empty file: expected a header row")
            return
        delimiter = ";" if first.count(";") > first.count(",") else ","
        header = [h.strip().lower() for h in next(csv.reader([first], delimiter=delimiter))]
        wanted = COLUMNS[self.name]
        missing = [c for c in wanted if c not in header]
        if missing:
            self.errors.add(
                self.name,
                1,
                f"missing column(s): {', '.join(missing)} (header has: {', '.join(header)})",
            )
            return
        index = [header.index(c) for c in wanted]
        needed = max(index) + 1
        reader = csv.reader(lines, delimiter=delimiter, strict=False)
        previous = 1
        for fields in reader:
            line = previous + 1
            previous = self.lines.line_no
            if not fields or (len(fields) == 1 and not fields[0].strip()):
                continue
            if len(fields) < needed:
                self.errors.add(
                    self.name, line, f"expected {len(header)} columns, found {len(fields)}"
                )
                continue
            yield line, [fields[i].strip() for i in index]


class _KeyTracker:
    """Finds keys repeated within one file in little memory (64-bit hashes).

    Candidates from equal hashes are confirmed exactly by a second read of the
    file, which only happens when a repeat was seen.
    """

    def __init__(self) -> None:
        self.hashes = array("q")

    def add(self, key: Any) -> None:
        self.hashes.append(hash(key))

    def repeated_hashes(self) -> set[int]:
        ordered = sorted(self.hashes)
        self.hashes = array("q")
        return {a for a, b in zip(ordered, ordered[1:], strict=False) if a == b}


# --- rows of each file ------------------------------------------------------------


class _Importer:
    def __init__(
        self,
        tx: Transaction,
        folder: Path,
        encoding: str | None,
        progress: ProgressFactory | None,
        run_id: int,
    ) -> None:
        self.tx = tx
        self.folder = folder
        self.encoding = encoding
        self.progress = progress
        self.run_id = run_id
        self.errors = _Errors()
        self.customers: set[str] = set()

    def _table(self, name: str) -> _Table:
        path = self.folder / name
        callback = self.progress(name, path.stat().st_size) if self.progress else None
        return _Table(path, self.encoding, self.errors, callback)

    async def apply(
        self,
        name: str,
        convert: Callable[[int, list[str]], tuple | None],
        key_of: Callable[[tuple], Any],
    ) -> FileCounts:
        """Stream one file through `convert` into its table and count what changed."""
        counts = FileCounts()
        table_name = name.removesuffix(".csv")
        before_rows = await billing.count_rows(self.tx, table_name)
        before_changes = self.tx.total_changes
        keys = _KeyTracker()

        def records() -> Iterator[tuple]:
            for line, fields in self._table(name).rows():
                counts.rows += 1
                try:
                    record = convert(line, fields)
                except ValueError as exc:
                    self.errors.add(name, line, str(exc))
                    continue
                keys.add(key_of(record))
                if not self.errors.total:  # after an error nothing is written any more
                    yield record

        await billing.upsert_rows(self.tx, table_name, records())
        counts.new = await billing.count_rows(self.tx, table_name) - before_rows
        counts.changed = self.tx.total_changes - before_changes - counts.new
        repeated = keys.repeated_hashes()
        if repeated:
            self._report_repeats(name, convert, key_of, repeated)
        return counts

    def _report_repeats(
        self,
        name: str,
        convert: Callable[[int, list[str]], tuple | None],
        key_of: Callable[[tuple], Any],
        repeated: set[int],
    ) -> None:
        """Second read: name each line that repeats an earlier line's key."""
        first_line: dict[Any, int] = {}
        quiet = _Errors()
        table = _Table(self.folder / name, self.encoding, quiet, None)
        for line, fields in table.rows():
            try:
                key = key_of(convert(line, fields))
            except ValueError:
                continue
            if hash(key) not in repeated:
                continue
            if key in first_line:
                shown = format_invoice_number(key) if isinstance(key, int) else key
                self.errors.add(
                    name, line, f"duplicate key {shown} (first on line {first_line[key]})"
                )
            else:
                first_line[key] = line

    # Converters: fields in COLUMNS order -> the upsert's parameters.

    def customer(self, line: int, f: list[str]) -> tuple:
        customer_id = parse_customer_id(f[0])
        self.customers.add(customer_id)  # known even if another field is wrong: one error
        if not f[1]:
            raise ValueError("name is empty")
        if not f[2]:
            raise ValueError("address is empty")
        if f[4] and ("@" not in f[4] or " " in f[4]):
            raise ValueError(f"bad e-mail address {f[4]!r}")
        return (customer_id, f[1], f[2], f[3], f[4], f[5], self.run_id)

    def _known_customer(self, text: str) -> str:
        customer_id = parse_customer_id(text)
        if customer_id not in self.customers:
            raise ValueError(
                f"unknown customer {customer_id} (not in customers.csv nor the database)"
            )
        return customer_id

    def invoice(self, line: int, f: list[str]) -> tuple:
        number = parse_invoice_number(f[0])
        customer_id = self._known_customer(f[1])
        issued, due = parse_date(f[2]), parse_date(f[3])
        if due < issued:
            raise ValueError(f"due date {f[3]} is before the issue date {f[2]}")
        amount, outstanding = parse_amount(f[4]), parse_amount(f[5])
        if outstanding < 0:
            raise ValueError(f"outstanding {f[5]!r} is negative")
        if amount >= 0 and outstanding > amount:
            raise ValueError(f"outstanding {f[5]!r} is more than the amount {f[4]!r}")
        return (
            number,
            customer_id,
            issued.isoformat(),
            due.isoformat(),
            amount,
            outstanding,
            self.run_id,
        )

    def transaction(self, line: int, f: list[str]) -> tuple:
        if not f[0]:
            raise ValueError("transaction_id is empty")
        customer_id = self._known_customer(f[1])
        booked = parse_date(f[2])
        kind = KINDS.get(f[3].lower())
        if kind is None:
            raise ValueError(
                f"bad kind {f[3]!r}: expected charge, payment or adjustment "
                "(terhelés, befizetés, helyesbítés)"
            )
        amount = parse_amount(f[4])
        if kind != "adjustment" and amount <= 0:
            raise ValueError(f"amount {f[4]!r} of a {kind} must be positive")
        invoice_no = parse_invoice_number(f[5]) if f[5] else None
        return (f[0], customer_id, booked.isoformat(), kind, amount, invoice_no, f[6])


async def import_folder(
    db: Database,
    folder: Path,
    *,
    encoding: str | None = None,
    progress: ProgressFactory | None = None,
) -> ImportResult:
    """Import whatever of the three files `folder` holds; raise ImportFailed on any error."""
    present = [name for name in FILES if (folder / name).is_file()]
    if not present:
        raise ImportFailed(
            [RowError(str(folder), 0, "no customers.csv, invoices.csv or transactions.csv here")], 1
        )
    started = time.monotonic()
    async with db.transaction() as tx:
        run_id = await billing.start_import_run(tx, str(folder), time.time())
        importer = _Importer(tx, folder, encoding, progress, run_id)
        importer.customers = await billing.customer_ids(tx)
        result = ImportResult(run_id)
        plan = {
            "customers.csv": (importer.customer, lambda r: r[0]),
            "invoices.csv": (importer.invoice, lambda r: r[0]),
            "transactions.csv": (importer.transaction, lambda r: r[0]),
        }
        for name in present:
            convert, key_of = plan[name]
            result.counts[name] = await importer.apply(name, convert, key_of)
        if importer.errors.total:
            order = {name: i for i, name in enumerate(FILES)}
            errors = sorted(importer.errors.kept, key=lambda e: (order.get(e.file, 9), e.line))
            raise ImportFailed(errors, importer.errors.total)
        if "invoices.csv" in present:
            result.new_invoice_count = result.counts["invoices.csv"].new
            listed = await billing.invoices_of_run(tx, run_id, NEW_INVOICES_LISTED)
            result.new_invoices = [format_invoice_number(n) for n in listed]
        result.seconds = time.monotonic() - started
        await billing.finish_import_run(tx, run_id, time.time(), result.summary_json())
    return result

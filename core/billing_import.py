"""The daily billing import (docs/billing-import.md).

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
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from itertools import islice, pairwise, repeat
from operator import eq, itemgetter
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
        if self.line == 0:  # about the whole file
            return f"{self.file}: {self.reason}"
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

_UTF8 = ("utf-8", "utf8", "utf-8-sig")
_BLOCK_BYTES = 1 << 18  # lines are read and decoded this many bytes at a time


class _Lines:
    """Decoded lines of a CSV file, the encoding found on the way.

    UTF-8 (BOM or not) is tried first; a file that turns out not to be UTF-8
    before any multi-byte UTF-8 character was seen switches to Windows-1250
    (ASCII is the same in both). A line that fits neither is an error.

    Lines are read in blocks of about `_BLOCK_BYTES` and a block is decoded in
    one go; only a block that fails to decode is taken again line by line, so
    the switch and the errors land on the right line. `line_no` counts the
    lines decoded so far (the csv reader counts the ones it has consumed).
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
        if self.encoding in _UTF8:
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

    def _decode_block(self, block: list[bytes]) -> list[str]:
        """The block's lines decoded: at C speed when it decodes cleanly, else one by one."""
        utf8 = self.encoding in _UTF8
        try:
            lines = list(map(str, block, repeat("utf-8" if utf8 else self.encoding)))
        except UnicodeDecodeError:
            lines = []
            for raw in block:
                self.line_no += 1
                lines.append(self._decode(raw))
            return lines
        self.line_no += len(block)
        if utf8 and not self.seen_multibyte and not all(map(bytes.isascii, block)):
            self.seen_multibyte = True
        return lines

    def __iter__(self) -> Iterator[str]:
        done = 0
        with self.path.open("rb") as handle:
            while block := handle.readlines(_BLOCK_BYTES):
                done += sum(map(len, block))
                if self.line_no == 0 and block[0].startswith(b"\xef\xbb\xbf"):
                    block[0] = block[0][3:]
                yield from self._decode_block(block)
                if self.progress is not None:
                    self.progress(done)
        if self.progress is not None:
            self.progress(done)


class _Table:
    """One CSV file as (line, fields) records after the header."""

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
        """Yield (first line of the record, stripped fields in COLUMNS order).

        Structural damage is an error on the line where it starts, and that
        record is not yielded: a header problem (then nothing is read), a
        record with another number of fields than the header has, a field
        running over a line break (a stray quote swallows the lines after it:
        it would merge rows silently), a second header row. Blank lines are
        skipped; a file without a single row after its header is an error.
        """
        lines = iter(self.lines)
        first = next(lines, None)
        if first is None or not first.strip():
            self.errors.add(self.name, 1, "empty file: expected a header row")
            return
        if "\x00" in first:
            self.errors.add(
                self.name, 1, "the file is UTF-16 or binary, not text: save it as UTF-8 CSV"
            )
            return
        delimiter = ";" if first.count(";") > first.count(",") else ","
        raw_header = next(csv.reader([first], delimiter=delimiter))
        header = [h.strip().lower() for h in raw_header]
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
        key_width = len(raw_header[index[0]])
        width = len(header)
        pick = itemgetter(*index)  # every file has several columns: this returns a tuple
        strip = str.strip
        reader = csv.reader(lines, delimiter=delimiter, strict=False)
        previous = 1  # the line the previous record ended on (the header's at first)
        found = 0
        while True:
            line = previous + 1
            try:
                fields = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:  # e.g. a stray quote that runs to the end of the file
                self.errors.add(self.name, line, f"unreadable CSV from here on ({exc})")
                return
            previous = reader.line_num + 1  # the reader did not see the header line
            if previous != line:
                self.errors.add(
                    self.name,
                    line,
                    f"a field runs over lines {line}–{previous}: a stray or unbalanced quote"
                    ' (") or a line break inside a field; a record must be one line',
                )
                continue
            if len(fields) != width:
                if not fields or (len(fields) == 1 and not fields[0].strip()):
                    continue  # a blank line
                self.errors.add(self.name, line, f"expected {width} columns, found {len(fields)}")
                continue
            found += 1
            # A second header (exports pasted together): the key cell is as long as the
            # header's before anything else is compared, which keeps this off the hot path.
            key = fields[index[0]]
            if len(key) == key_width and key.strip().lower() == wanted[0]:
                if [f.strip().lower() for f in fields] == header:
                    self.errors.add(
                        self.name, line, "a second header row (two exports pasted together?)"
                    )
                    continue
            yield line, list(map(strip, pick(fields)))
        if not found:
            self.errors.add(
                self.name, 2, "no rows after the header (an empty export? nothing was imported)"
            )


class _KeyTracker:
    """Finds keys repeated within one file in little memory (64-bit hashes).

    Candidates from equal hashes are confirmed exactly by a second read of the
    file, which only happens when a repeat was seen.
    """

    def __init__(self) -> None:
        self.hashes = array("q")
        self.add_hash = self.hashes.append  # called once a row: `add_hash(hash(key))`

    def repeated_hashes(self) -> set[int]:
        ordered = sorted(self.hashes)
        self.hashes = array("q")
        self.add_hash = self.hashes.append
        if not any(map(eq, ordered, islice(ordered, 1, None))):  # the usual case, at C speed
            return set()
        return {a for a, b in pairwise(ordered) if a == b}


class _ParseCache(dict[str, Any]):
    """`cache[text]` is `parse(text)`, remembered for up to `limit` distinct texts.

    The files repeat the same few thousand dates and amounts millions of times,
    and a dict lookup is far cheaper than parsing them again. A text that does
    not parse raises parse's ValueError every time and is not remembered.
    """

    def __init__(self, parse: Callable[[str], Any], limit: int = 50_000) -> None:
        super().__init__()
        self.parse = parse
        self.limit = limit

    def __missing__(self, text: str) -> Any:
        value = self.parse(text)
        if len(self) < self.limit:
            self[text] = value
        return value


def _iso_date(text: str) -> str:
    """`2024.05.01` (any form parse_date takes) -> `2024-05-01`, as stored."""
    return parse_date(text).isoformat()


def _invoice_number(text: str) -> int:
    """`parse_invoice_number`, with a fast path for the usual `2024-000123` (already stripped)."""
    if len(text) == 11 and text[4] == "-" and text.isascii():
        digits = text[:4] + text[5:]
        if digits.isdigit():
            return int(digits)  # year * 1 000 000 + serial
    return parse_invoice_number(text)


# --- rows of each file ------------------------------------------------------------


class _UnknownCustomer(ValueError):
    """A row names a customer that is neither in customers.csv nor the database."""


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
        # customers.csv is damaged: rows naming a customer not found are a consequence,
        # counted per file and told once after the cause, not one error each.
        self.customers_damaged = False
        self.orphans: dict[str, int] = {}
        self.dates = _ParseCache(_iso_date)  # text -> ISO date
        self.amounts = _ParseCache(parse_amount)  # text -> forints

    def _table(self, name: str) -> _Table:
        path = self.folder / name
        callback = self.progress(name, path.stat().st_size) if self.progress else None
        return _Table(path, self.encoding, self.errors, callback)

    async def apply(self, name: str, convert: Callable[[list[str]], tuple[Any, ...]]) -> FileCounts:
        """Stream one file through `convert` into its table and count what changed.

        A record's key (what must not repeat within the file) is its first field.
        """
        counts = FileCounts()
        table_name = name.removesuffix(".csv")
        before_rows = await billing.count_rows(self.tx, table_name)
        before_changes = self.tx.total_changes
        keys = _KeyTracker()
        errors = self.errors

        def records() -> Iterator[tuple[Any, ...]]:
            # Runs once a row, millions of times: local names only.
            add_hash = keys.add_hash
            rows = 0
            for line, fields in self._table(name).rows():
                rows += 1
                try:
                    record = convert(fields)
                except _UnknownCustomer as exc:
                    if self.customers_damaged:
                        self.orphans[name] = self.orphans.get(name, 0) + 1
                    else:
                        errors.add(name, line, str(exc))
                    continue
                except ValueError as exc:
                    errors.add(name, line, str(exc))
                    continue
                add_hash(hash(record[0]))
                if not errors.total:  # after an error nothing is written any more
                    yield record
            counts.rows = rows

        await billing.upsert_rows(self.tx, table_name, records())
        counts.new = await billing.count_rows(self.tx, table_name) - before_rows
        counts.changed = self.tx.total_changes - before_changes - counts.new
        repeated = keys.repeated_hashes()
        if repeated:
            self._report_repeats(name, convert, repeated)
        return counts

    def _report_repeats(
        self, name: str, convert: Callable[[list[str]], tuple[Any, ...]], repeated: set[int]
    ) -> None:
        """Second read: name each line that repeats an earlier line's key."""
        first_line: dict[Any, int] = {}
        quiet = _Errors()
        table = _Table(self.folder / name, self.encoding, quiet, None)
        for line, fields in table.rows():
            try:
                key = convert(fields)[0]
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

    # Converters: fields in COLUMNS order -> the upsert's parameters, the key first.
    # The invoice and transaction converters run millions of times: dates and
    # amounts come from `_ParseCache`s, known customer IDs skip parsing.

    def customer(self, f: list[str]) -> tuple[Any, ...]:
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
        if text in self.customers:  # the usual case: the ID exactly as stored
            return text
        customer_id = parse_customer_id(text)
        if customer_id not in self.customers:
            raise _UnknownCustomer(
                f"unknown customer {customer_id} (not in customers.csv nor the database)"
            )
        return customer_id

    def invoice(self, f: list[str]) -> tuple[Any, ...]:
        number = _invoice_number(f[0])
        customer_id = self._known_customer(f[1])
        issued, due = self.dates[f[2]], self.dates[f[3]]
        if due < issued:  # ISO dates order as text
            raise ValueError(f"due date {f[3]} is before the issue date {f[2]}")
        amount, outstanding = self.amounts[f[4]], self.amounts[f[5]]
        if outstanding < 0:
            raise ValueError(f"outstanding {f[5]!r} is negative")
        if amount >= 0 and outstanding > amount:
            raise ValueError(f"outstanding {f[5]!r} is more than the amount {f[4]!r}")
        return (number, customer_id, issued, due, amount, outstanding, self.run_id)

    def transaction(self, f: list[str]) -> tuple[Any, ...]:
        if not f[0]:
            raise ValueError("transaction_id is empty")
        customer_id = self._known_customer(f[1])
        booked = self.dates[f[2]]
        kind = KINDS.get(f[3].lower())
        if kind is None:
            raise ValueError(
                f"bad kind {f[3]!r}: expected charge, payment or adjustment "
                "(terhelés, befizetés, helyesbítés)"
            )
        amount = self.amounts[f[4]]
        if kind != "adjustment" and amount <= 0:
            raise ValueError(f"amount {f[4]!r} of a {kind} must be positive")
        invoice_no = _invoice_number(f[5]) if f[5] else None
        return (f[0], customer_id, booked, kind, amount, invoice_no, f[6])


async def import_folder(
    db: Database,
    folder: Path,
    *,
    encoding: str | None = None,
    progress: ProgressFactory | None = None,
    only: Collection[str] | None = None,
) -> ImportResult:
    """Import the three files of `folder` (or just those named in `only`: `customers`,
    `invoices.csv`…); raise ImportFailed on any error, a missing file included."""
    wanted = wanted_files(only)
    missing = [name for name in wanted if not (folder / name).is_file()]
    if missing:
        if len(missing) == len(FILES):
            reason = "no customers.csv, invoices.csv or transactions.csv here"
            raise ImportFailed([RowError(str(folder), 0, reason)], 1)
        hint = ",".join(n.removesuffix(".csv") for n in FILES if n not in missing)
        raise ImportFailed(
            [
                RowError(
                    name,
                    0,
                    f"missing from {folder}: an import takes all three files, or name the ones"
                    f" it has (--only {hint})",
                )
                for name in missing
            ],
            len(missing),
        )
    started = time.monotonic()
    async with db.transaction() as tx, billing.import_cache(tx):
        run_id = await billing.start_import_run(tx, str(folder), time.time())
        importer = _Importer(tx, folder, encoding, progress, run_id)
        importer.customers = await billing.customer_ids(tx)
        result = ImportResult(run_id)
        convert = {
            "customers.csv": importer.customer,
            "invoices.csv": importer.invoice,
            "transactions.csv": importer.transaction,
        }
        for name in wanted:
            result.counts[name] = await importer.apply(name, convert[name])
            if name == "customers.csv" and importer.errors.total:
                importer.customers_damaged = True
        if importer.errors.total:
            order = {name: i for i, name in enumerate(FILES)}
            errors = sorted(importer.errors.kept, key=lambda e: (order.get(e.file, 9), e.line))
            errors += [
                RowError(
                    name,
                    0,
                    f"{count} row(s) name a customer that is not in customers.csv: fix"
                    " customers.csv first (see above), these may then be right",
                )
                for name, count in importer.orphans.items()
            ]
            raise ImportFailed(errors, importer.errors.total + len(importer.orphans))
        if "invoices.csv" in wanted:
            result.new_invoice_count = result.counts["invoices.csv"].new
            listed = await billing.invoices_of_run(tx, run_id, NEW_INVOICES_LISTED)
            result.new_invoices = [format_invoice_number(n) for n in listed]
        result.seconds = time.monotonic() - started
        await billing.finish_import_run(tx, run_id, time.time(), result.summary_json())
    return result


def wanted_files(only: Collection[str] | None) -> list[str]:
    """The files an import takes, in the order they are applied (ValueError names a
    file that is not one of the three)."""
    if only is None:
        return list(FILES)
    names = {name.strip().lower().removesuffix(".csv") + ".csv" for name in only if name.strip()}
    unknown = sorted(name.removesuffix(".csv") for name in names - set(FILES))
    if unknown or not names:
        got = ", ".join(unknown) or "nothing"
        raise ValueError(f"--only takes customers, invoices and transactions, got {got}")
    return [name for name in FILES if name in names]

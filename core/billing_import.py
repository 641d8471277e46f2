"""The daily billing import (docs/billing-import.md).

All or nothing: the three files are applied in one transaction, customers
first, then invoices, then transactions. Rows are streamed from disk straight
into SQLite, so memory does not grow with the file; every problem is collected
as `file:line: reason` and any problem rolls the whole import back.
"""

from __future__ import annotations

import csv
import json
import os
import pwd
import re
import time
from array import array
from collections import deque
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice, pairwise, repeat
from operator import eq, gt, itemgetter, lt
from pathlib import Path
from typing import Any, BinaryIO

from core import invoice_pdfs, notifications
from core.emails import normalised_email
from core.formats import (
    format_invoice_number,
    parse_amount,
    parse_customer_id,
    parse_date,
    parse_invoice_number,
)
from core.invoice_pdfs import PdfCounts
from core.notifications import ImportNotices
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
    warnings: list[RowError] = field(default_factory=list)  # imported, but worth a look
    pdfs: PdfCounts | None = None  # the export's pdf/ folder, when it has one
    notices: ImportNotices = field(default_factory=ImportNotices)  # notifications queued

    def summary_json(self) -> str:
        return json.dumps(
            {
                name: {"rows": c.rows, "new": c.new, "changed": c.changed, "unchanged": c.unchanged}
                for name, c in self.counts.items()
            }
            | {"new_invoices": self.new_invoice_count}
            | (
                {
                    "pdf": {
                        "files": self.pdfs.files,
                        "new": self.pdfs.new,
                        "changed": self.pdfs.changed,
                        "unchanged": self.pdfs.unchanged,
                    }
                }
                if self.pdfs is not None
                else {}
            )
        )


ProgressFactory = Callable[[str, int], Callable[[int], None]]
"""Given a file name and its size, returns a callback taking bytes read so far."""


class _Errors:
    """Collects row errors; keeps the first MAX_ERRORS_KEPT and counts the rest.

    Warnings (a doubt that does not refuse the import) are kept beside them.
    """

    def __init__(self) -> None:
        self.kept: list[RowError] = []
        self.total = 0
        self.warnings: list[RowError] = []

    def add(self, file: str, line: int, reason: str) -> None:
        self.total += 1
        if len(self.kept) < MAX_ERRORS_KEPT:
            self.kept.append(RowError(file, line, reason))

    def warn(self, file: str, line: int, reason: str) -> None:
        self.warnings.append(RowError(file, line, reason))


# --- reading a file -------------------------------------------------------------

_UTF8 = ("utf-8", "utf8", "utf-8-sig")
_BLOCK_BYTES = 1 << 18  # lines are read and decoded this many bytes at a time
# No export line comes near this; a longer one is not CSV (or lost its line breaks), and
# reading on would hold all of it in memory before the CSV reader's field limit refuses it.
_MAX_LINE_BYTES = 1 << 20
_NAMES = {"utf-8": "UTF-8", "cp1250": "Windows-1250"}

# UTF-8 converted to UTF-8 again: each Hungarian letter's two bytes read as two letters of
# Windows-1252, Latin-1 or Windows-1250 ("KovÃ¡cs" or "KovĂˇcs" for "Kovács"). No real name
# holds these pairs. The raw bytes are searched first for the first letters' UTF-8 forms
# (Ã Å Ă Ĺ), at C speed, so a clean file never reaches the pattern.
_HUNGARIAN = "áéíóöőúüűÁÉÍÓÖŐÚÜŰ"
_MOJIBAKE_PAIRS: dict[str, str] = {}
for _letter in _HUNGARIAN:
    for _codec in ("cp1252", "latin-1", "cp1250"):
        try:
            _MOJIBAKE_PAIRS[_letter.encode().decode(_codec)] = _letter
        except UnicodeDecodeError:
            continue
_MOJIBAKE = re.compile("|".join(map(re.escape, _MOJIBAKE_PAIRS)))
_MOJIBAKE_LEADS = tuple(lead.encode() for lead in "ÃÅĂĹ")


def _mojibake_problem(line: str) -> str | None:
    """Why `line` looks converted to UTF-8 twice, or None."""
    found = _MOJIBAKE.search(line)
    if found is None:
        return None
    start = max(line.rfind(c, 0, found.start()) for c in ' ;,"\t') + 1
    ends = [i for i in (line.find(c, found.end()) for c in ' ;,"\t\r') if i >= 0]
    word = line[start : min(ends, default=len(line))][:60]
    fixed = _MOJIBAKE.sub(lambda m: _MOJIBAKE_PAIRS[m.group()], word)
    return (
        f"the file was converted to UTF-8 twice ({word!r} should read {fixed!r}): export it"
        " again, or convert it back once; nothing of this file was read"
    )


def _quotes_pattern(delimiter: str) -> re.Pattern[str]:
    """A line whose every field is either quoted as CSV wants it or holds no quote."""
    d = re.escape(delimiter)
    field_ = f'(?:"(?:[^"]|"")*"|[^"{d}]*)'
    return re.compile(f"{field_}(?:{d}{field_})*\r?")


def _quote_problem(line: str, delimiter: str) -> tuple[int, str]:
    """Where (0-based column) and how a quote breaks `line` (one that failed the pattern).

    A quote may only open a field and close it just before the delimiter or the line
    end, with a quote inside written twice; anything else shifts fields silently.
    """
    line = line.removesuffix("\r")
    column, i, n = 0, 0, len(line)
    fix = 'remove the stray quote, or quote the whole field and write a quote inside it twice ("")'
    while i <= n:
        start = i
        if line.startswith('"', i):
            i += 1
            while True:
                j = line.find('"', i)
                if j < 0:
                    return column, f'a quote (") opens the field and is never closed: {fix}'
                if line.startswith('""', j):
                    i = j + 2
                    continue
                i = j + 1
                break
            if i < n and line[i] != delimiter:
                after = line[i:].split(delimiter, 1)[0][:20]
                return column, (
                    f'a quote (") closes after {line[start + 1 : i - 1][-30:]!r} and is'
                    f" followed by {after!r}, not by {delimiter!r}: a stray quote shifts the"
                    f" fields after it; {fix}"
                )
        else:
            j = line.find(delimiter, i)
            end = n if j < 0 else j
            if '"' in line[i:end]:
                return column, (
                    f'a quote (") inside the unquoted value {line[i:end][:40]!r}: {fix}'
                )
            i = end
        i += 1  # over the delimiter
        column += 1
    return column, "an unbalanced quote"  # not reached for a line that failed the pattern


class _Lines:
    """Decoded lines of a CSV file, the encoding and delimiter found on the way.

    UTF-8 (BOM or not) is tried first; a file that turns out not to be UTF-8
    before any multi-byte UTF-8 character was seen switches to Windows-1250
    (ASCII is the same in both). A line that fits neither is an error, and so is
    a file converted to UTF-8 twice (then nothing more of it is read).

    The line break is the first of `\\n` or `\\r` (old Mac files) the file has.
    Lines are read in blocks of about `_BLOCK_BYTES` and a block is decoded in
    one go; only a block that fails to decode is taken again line by line, so
    the switch and the errors land on the right line. `line_no` counts the
    lines decoded so far (the csv reader counts the ones it has consumed).

    What the reader cannot see is noted by line for `_Table.rows`: lines whose
    bytes did not decode (`undecodable`: the error is told, the record is
    dropped) and lines whose quotes break the CSV rules (`quote_problems`).
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
        self.delimiter = ","
        self.header_line = 1  # 2 after Excel's `sep=;` line
        self.undecodable: set[int] = set()
        self.quote_problems: dict[int, tuple[int, str]] = {}
        self.stopped = False  # the rest of the file was not read (an error says why)
        self.ended_lines = False  # some line ends with a line break
        self.unended_line = 0  # the last line, when it has no line break
        self.separator = b""  # the line break found: b"\n" (the lines keep a "\r") or b"\r"

    def _decode(self, raw: bytes) -> str:
        if self.encoding in _UTF8:
            try:
                text = raw.decode("utf-8")
                if not self.seen_multibyte and not raw.isascii():
                    self.seen_multibyte = True
                return text
            except UnicodeDecodeError as exc:
                if self.fixed:
                    return self._undecodable(raw, exc.start, "utf-8")
                if self.seen_multibyte or _CP1250_UNDEFINED & set(raw):
                    self.undecodable.add(self.line_no)
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
            if self.fixed:
                return self._undecodable(raw, exc.start, self.encoding)
            self.undecodable.add(self.line_no)
            self.errors.add(
                self.name,
                self.line_no,
                f"undecodable bytes (byte {exc.start + 1} of the line is not "
                f"valid {self.encoding})",
            )
            return raw.decode(self.encoding, "replace")

    def _undecodable(self, raw: bytes, at: int, encoding: str) -> str:
        """The error for a line that is not in the encoding the operator forced."""
        self.undecodable.add(self.line_no)
        self.errors.add(
            self.name,
            self.line_no,
            f"undecodable bytes (byte {at + 1} of the line is not {_NAMES[encoding]}, the"
            f" encoding --encoding {encoding} asked for; without --encoding the import"
            " detects UTF-8 or Windows-1250)",
        )
        return raw.decode(encoding, "replace")

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

    def _sniff(self, lines: list[str]) -> None:
        """The delimiter: Excel's `sep=;` first line names it, else the header's commonest."""
        first = lines[0].strip()
        if len(first) == 5 and first.lower().startswith("sep="):
            self.delimiter = first[4]
            self.header_line = 2
            return
        self.delimiter = ";" if first.count(";") > first.count(",") else ","

    def _check(self, data: bytes, lines: list[str]) -> bool:
        """Note the block's lines that break the quoting rules; False for a file
        converted to UTF-8 twice (told once, at its first such line)."""
        first = self.line_no - len(lines) + 1
        if self.encoding in _UTF8 and any(map(data.__contains__, _MOJIBAKE_LEADS)):
            for number, line in enumerate(lines, first):
                reason = _mojibake_problem(line)
                if reason is not None:
                    self.errors.add(self.name, number, reason)
                    return False
        if b'"' in data:
            valid = _quotes_pattern(self.delimiter).fullmatch
            delimiter = self.delimiter
            for number, line in enumerate(lines, first):
                if '"' in line and valid(line) is None:
                    self.quote_problems[number] = _quote_problem(line, delimiter)
        return True

    def _blocks(self, handle: BinaryIO) -> Iterator[tuple[bytes, list[bytes]]]:
        """(the bytes, their lines without line breaks) a block at a time."""
        carry = b""
        done = 0
        while chunk := handle.read(_BLOCK_BYTES):
            if not done and chunk.startswith(b"\xef\xbb\xbf"):
                chunk = chunk[3:]
            done += len(chunk)
            data = carry + chunk if carry else chunk
            if not self.separator:
                self.separator = b"\n" if b"\n" in data else b"\r" if b"\r" in data else b""
            separator = self.separator
            if not separator or separator not in data:
                carry = data
                if len(carry) > _MAX_LINE_BYTES:
                    self.errors.add(
                        self.name,
                        self.line_no + 1,
                        f"a line longer than {_MAX_LINE_BYTES >> 20} MB: not a CSV export, or"
                        " its line breaks were lost; nothing more of this file was read",
                    )
                    self.stopped = True
                    return
                continue
            block = data.split(separator)
            carry = block.pop()  # the start of a line the next read ends
            self.ended_lines = True
            yield data, block  # the checks of `data` are filters: its carry does no harm
            if self.progress is not None:
                self.progress(done)
        if carry:
            self.unended_line = self.line_no + 1
            yield carry, [carry]
        if self.progress is not None:
            self.progress(done)

    def blocks(self) -> Iterator[tuple[bytes, list[str]]]:
        """(the block's bytes, its decoded lines), checked, a block at a time.

        The bytes may hold the start of the next block's first line too: what is
        looked for in them is a filter (a hit sends the block the careful way).
        """
        with self.path.open("rb") as handle:
            for data, block in self._blocks(handle):
                first_block = self.line_no == 0
                lines = self._decode_block(block)
                if first_block:
                    self._sniff(lines)
                if not self._check(data, lines):
                    self.stopped = True
                    return
                yield data, lines


@dataclass(frozen=True)
class _Block:
    """The records of consecutive lines `lines`, one a line, as columns: `columns[i]`
    holds field COLUMNS[i] of each record, stripped."""

    lines: range
    columns: list[list[str]]


class _Clean:
    """Whether a block of lines is clean (see `_Table.batches`), and then its columns.

    Every test is a filter run at C speed over the whole block: a block it
    cannot vouch for goes the careful way, which tells what is wrong, if anything.
    """

    def __init__(
        self, lines: _Lines, delimiter: str, width: int, index: list[int], key: str
    ) -> None:
        self.lines = lines
        self.delimiter = delimiter
        self.width = width
        self.index = index
        # A second header holds the key column's name (ASCII; `str.lower` maps no other
        # letter to one of its letters): the raw bytes, lowered, would show it.
        self.key = key.encode()

    def __call__(self, data: bytes, lines: list[str], first: int) -> list[list[str]] | None:
        if b'"' in data or self.key in data.lower():
            return None
        undecodable = self.lines.undecodable
        if undecodable and not undecodable.isdisjoint(range(first, first + len(lines))):
            return None
        # Without quotes the csv reader splits a line at each delimiter, and so does
        # str.split, but for the line breaks it reads within a line (an error there)
        # and its field size limit: a block with either goes the careful way. A "\r"
        # before each "\n" ends the line's last field, which strip() takes off.
        if self.lines.separator == b"\r":
            if b"\n" in data:
                return None
        elif data.count(b"\r") != data.count(b"\r\n"):
            return None
        if max(map(len, lines), default=0) > csv.field_size_limit():
            return None
        records = list(map(str.split, lines, repeat(self.delimiter)))
        width = self.width
        lengths = set(map(len, records))
        if lengths != {width}:
            # A trailing delimiter's empty field is left out (zip stops at the shortest);
            # any other width, a blank line included, is for the careful way to tell.
            if not lengths <= {width, width + 1}:
                return None
            if any(r[width].strip() for r in records if len(r) > width):
                return None
        columns = list(zip(*records, strict=False))  # leaves a trailing empty field out
        strip = str.strip
        return [list(map(strip, columns[i])) for i in self.index]


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
        """(first line of the record, stripped fields in COLUMNS order), one by one
        (`batches`, with the clean blocks taken apart)."""
        for item in self.batches():
            if isinstance(item, _Block):
                yield from zip(item.lines, map(list, zip(*item.columns, strict=True)), strict=True)
            else:
                yield item

    def batches(self) -> Iterator[tuple[int, list[str]] | _Block]:
        """The records: a clean block's at once (`_Block`), else one by one as
        (first line of the record, stripped fields in COLUMNS order).

        Structural damage is an error on the line where it starts, and that
        record is not yielded: a header problem (then nothing is read), a
        record with another number of fields than the header has, a field
        running over a line break (a stray quote swallows the lines after it:
        it would merge rows silently), a quote that shifts fields within a line,
        a second header row. Blank lines are skipped, so is an empty field after
        the last column (a trailing delimiter, as Excel writes it); a file
        without a single row after its header is an error. When every row has
        the same wrong number of fields, that is told once.

        A block read from the file whose lines can hold none of that damage
        (`_clean`: no quote, no undecodable line, no blank line, every line one
        record of the header's width, nothing like the header's key) is split
        at C speed and yielded whole; any other is read record by record, as
        every line was before, and so are the lines after a block that ends
        inside a record. Which way a block goes changes no record and no error.
        """
        blocks = self.lines.blocks()
        pending: deque[str] = deque()  # lines of the current careful block, not yet read

        def careful() -> Iterator[str]:
            """Lines for the record-by-record reader: the pending ones, then whole blocks
            (a record that runs past its block's end takes the next block this way)."""
            while True:
                while pending:
                    yield pending.popleft()
                got = next(blocks, None)
                if got is None:
                    return
                pending.extend(got[1])

        lines = careful()
        first = next(lines, None)
        if first is not None and self.lines.header_line == 2:
            first = next(lines, None)  # Excel's `sep=;` line
        header_line = self.lines.header_line
        if first is None or not first.strip():
            if not self.lines.stopped:
                self.errors.add(self.name, header_line, "empty file: expected a header row")
            return
        if "\x00" in first:
            self.errors.add(
                self.name, 1, "the file is UTF-16 or binary, not text: save it as UTF-8 CSV"
            )
            return
        delimiter = self.lines.delimiter
        raw_header = next(csv.reader([first], delimiter=delimiter))
        header = [h.strip().lower() for h in raw_header]
        wanted = COLUMNS[self.name]
        missing = [c for c in wanted if c not in header]
        if missing:
            self.errors.add(
                self.name,
                header_line,
                f"missing column(s): {', '.join(missing)} (header has: {', '.join(header)})",
            )
            return
        index = [header.index(c) for c in wanted]
        key_width = len(raw_header[index[0]])
        width = len(header)
        pick = itemgetter(*index)  # every file has several columns: this returns a tuple
        strip = str.strip
        undecodable = self.lines.undecodable
        quote_problems = self.lines.quote_problems
        reader = csv.reader(lines, delimiter=delimiter, strict=False)
        clean = _Clean(self.lines, delimiter, width, index, wanted[0])
        skipped = header_line  # lines the reader did not see: the header, the clean blocks
        previous = header_line  # the line the previous record ended on
        found = 0
        refused = 0  # records refused for their shape (told as errors)
        shapes: list[tuple[int, int]] = []  # (line, fields) of rows of another width
        shaped = 0  # how many rows had another width (`shapes` keeps the first ones)
        widths: set[int] = set()  # the numbers of fields they had
        last = 0  # the line of the last record yielded
        while True:
            if not pending:  # the reader has ended a record and read all it was given
                got = next(blocks, None)
                if got is None:
                    break
                columns = clean(got[0], got[1], previous + 1)
                if columns is None:
                    pending.extend(got[1])
                else:
                    count = len(got[1])
                    yield _Block(range(previous + 1, previous + 1 + count), columns)
                    previous += count
                    skipped += count
                    found += count
                    last = previous
                    continue
            line = previous + 1
            try:
                fields = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:  # e.g. a stray quote that runs to the end of the file
                self.errors.add(self.name, line, f"unreadable CSV from here on ({exc})")
                return
            previous = reader.line_num + skipped
            if previous != line:
                refused += 1
                self.errors.add(
                    self.name,
                    line,
                    f"a field runs over lines {line}–{previous}: a stray or unbalanced quote"
                    ' (") or a line break inside a field; a record must be one line',
                )
                continue
            if undecodable and line in undecodable:
                refused += 1  # its error is told
                continue
            if quote_problems and line in quote_problems:
                refused += 1
                column, what = quote_problems.pop(line)
                where = f"column {column + 1}" + (f" ({header[column]})" if column < width else "")
                self.errors.add(self.name, line, f"stray quote in {where}: {what}")
                continue
            if len(fields) != width:
                if not fields or (len(fields) == 1 and not fields[0].strip()):
                    continue  # a blank line
                if len(fields) != width + 1 or fields[-1].strip():
                    # Not a trailing delimiter's empty field (which `pick` leaves out).
                    refused += 1
                    shaped += 1
                    widths.add(len(fields))
                    if shaped <= MAX_ERRORS_KEPT:
                        shapes.append((line, len(fields)))
                    continue
            found += 1
            # A second header (exports pasted together): the key cell is as long as the
            # header's before anything else is compared, which keeps this off the hot path.
            key = fields[index[0]]
            if len(key) == key_width and key.strip().lower() == wanted[0]:
                if [f.strip().lower() for f in fields[:width]] == header:
                    self.errors.add(
                        self.name, line, "a second header row (two exports pasted together?)"
                    )
                    continue
            last = line
            yield line, list(map(strip, pick(fields)))
        self._tell_shapes(shapes, shaped, widths, refused - shaped + found, width)
        if last and last == self.lines.unended_line and self.lines.ended_lines:
            self.errors.warn(
                self.name,
                last,
                "the file ends without a line break after this line: if the export was cut"
                " short, its last field may be incomplete (check it)",
            )
        if not found and not refused and not self.lines.stopped:
            self.errors.add(
                self.name,
                header_line + 1,
                "no rows after the header (an empty export? nothing was imported)",
            )

    def _tell_shapes(
        self,
        shapes: list[tuple[int, int]],
        shaped: int,
        widths: set[int],
        others: int,
        width: int,
    ) -> None:
        """Errors for the `shaped` rows of another width than the header (`shapes` holds
        the first ones, `widths` the numbers of fields of all): once when every row has
        the same wrong width (the header or every row is off; `others` rows were not),
        else one a row."""
        if not shapes:
            return
        if not others and shaped > 1 and len(widths) == 1:
            count = next(iter(widths))
            hint = (
                "a trailing delimiter with something after it, or a column the header does"
                " not name?"
                if count > width
                else "the header names columns the rows do not have?"
            )
            self.errors.add(
                self.name,
                shapes[0][0],
                f"every row has {count} columns, the header {width}: {hint}",
            )
            return
        unended = self.lines.unended_line
        for line, count in shapes:
            if line == unended and count < width and self.lines.ended_lines:
                reason = (
                    f"the last line has {count} of the {width} columns and no line break:"
                    " the file was cut short? copy the export again"
                )
            else:
                reason = f"expected {width} columns, found {count}"
            self.errors.add(self.name, line, reason)
        self.errors.total += shaped - len(shapes)  # counted, not listed


class _KeyTracker:
    """Finds keys repeated within one file in little memory (64-bit hashes).

    Candidates from equal hashes are confirmed exactly by a second read of the
    file, which only happens when a repeat was seen.
    """

    def __init__(self) -> None:
        self.hashes = array("q")
        self.add_hash = self.hashes.append  # called once a row: `add_hash(hash(key))`
        self.add_hashes = self.hashes.extend  # a block's: `add_hashes(map(hash, keys))`

    def repeated_hashes(self) -> set[int]:
        ordered = sorted(self.hashes)
        self.hashes = array("q")
        self.add_hash = self.hashes.append
        self.add_hashes = self.hashes.extend
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


_USUAL_NUMBER = "[0-9]{4}-[0-9]{6}"  # `_invoice_number`'s fast path: year-serial, ASCII
_INVOICE_NUMBERS = re.compile(f"{_USUAL_NUMBER}(?:\n{_USUAL_NUMBER})*")
_OPTIONAL_INVOICE_NUMBERS = re.compile(f"(?:{_USUAL_NUMBER})?(?:\n(?:{_USUAL_NUMBER})?)*")


def _invoice_numbers(texts: list[str]) -> list[int] | None:
    """`_invoice_number` of each text, at C speed, when every one has the usual form."""
    joined = "\n".join(texts)
    if _INVOICE_NUMBERS.fullmatch(joined) is None:
        return None
    return list(map(int, joined.replace("-", "").split("\n")))


def _optional_invoice_numbers(texts: list[str]) -> list[int | None] | None:
    """The same for a column that may be empty (None), as `transaction` reads it."""
    joined = "\n".join(texts)
    if _OPTIONAL_INVOICE_NUMBERS.fullmatch(joined) is None:
        return None
    digits = joined.replace("-", "").split("\n")
    if "" in digits:
        return [int(d) if d else None for d in digits]
    return list(map(int, digits))


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

    async def apply(
        self,
        name: str,
        convert: Callable[[Sequence[str]], tuple[Any, ...]],
        convert_block: Callable[[list[list[str]]], list[tuple[Any, ...]] | None] | None = None,
    ) -> FileCounts:
        """Stream one file through `convert` into its table and count what changed.

        A record's key (what must not repeat within the file) is its first field.
        A clean block of records (`_Table.batches`) goes through `convert_block`
        whole, when there is one; where it cannot vouch for every record of the
        block (None), `convert` takes them one by one and names what is wrong.
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
            add_hashes = keys.add_hashes
            first = itemgetter(0)
            rows = 0
            batch: Iterable[tuple[int, Sequence[str]]]
            for item in self._table(name).batches():
                if isinstance(item, _Block):
                    rows += len(item.lines)
                    converted = convert_block(item.columns) if convert_block else None
                    if converted is not None:
                        add_hashes(map(hash, map(first, converted)))
                        if not errors.total:  # after an error nothing is written any more
                            yield from converted
                        continue
                    batch = zip(item.lines, zip(*item.columns, strict=True), strict=True)
                else:
                    rows += 1
                    batch = (item,)
                for line, fields in batch:
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
                    if not errors.total:
                        yield record
            counts.rows = rows

        await billing.load_rows(self.tx, table_name, records(), into_empty=not before_rows)
        counts.new = await billing.count_rows(self.tx, table_name) - before_rows
        counts.changed = self.tx.total_changes - before_changes - counts.new
        if not before_rows and not errors.total and counts.new == counts.rows:
            # Every record was written into a table empty before: no key repeated.
            return counts
        repeated = keys.repeated_hashes()
        if repeated:
            self._report_repeats(name, convert, repeated)
        return counts

    def _report_repeats(
        self, name: str, convert: Callable[[Sequence[str]], tuple[Any, ...]], repeated: set[int]
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

    def customer(self, f: Sequence[str]) -> tuple[Any, ...]:
        customer_id = parse_customer_id(f[0])
        self.customers.add(customer_id)  # known even if another field is wrong: one error
        if not f[1]:
            raise ValueError("name is empty")
        if not f[2]:
            raise ValueError("address is empty")
        if f[4] and normalised_email(f[4]) is None:  # as the chat checks one typed
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

    def invoice(self, f: Sequence[str]) -> tuple[Any, ...]:
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

    def transaction(self, f: Sequence[str]) -> tuple[Any, ...]:
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

    # Block converters: the columns of a clean block -> the upsert's parameters of each
    # record, when every value has its usual form and every check passes at C speed;
    # else None, and the row converters above take the block and name what is wrong.

    def invoice_block(self, c: list[list[str]]) -> list[tuple[Any, ...]] | None:
        numbers = _invoice_numbers(c[0])
        if numbers is None or not self.customers.issuperset(c[1]):
            return None
        dates, amounts = self.dates.__getitem__, self.amounts.__getitem__
        try:
            issued, due = list(map(dates, c[2])), list(map(dates, c[3]))
            amount, outstanding = list(map(amounts, c[4])), list(map(amounts, c[5]))
        except ValueError:
            return None
        if any(map(lt, due, issued)) or min(outstanding) < 0:
            return None
        if any(map(gt, outstanding, amount)):  # a credit (amount < 0) comes here too
            return None
        return list(
            zip(numbers, c[1], issued, due, amount, outstanding, repeat(self.run_id), strict=False)
        )

    def transaction_block(self, c: list[list[str]]) -> list[tuple[Any, ...]] | None:
        ids, customers, days, kinds, amounts, invoices, descriptions = c
        if "" in ids or not self.customers.issuperset(customers):
            return None
        kind = list(map(KINDS.get, map(str.lower, kinds)))
        numbers = _optional_invoice_numbers(invoices)
        if None in kind or numbers is None:
            return None
        try:
            booked, amount = (
                list(map(self.dates.__getitem__, days)),
                list(map(self.amounts.__getitem__, amounts)),
            )
        except ValueError:
            return None
        if min(amount) <= 0 and any(
            a <= 0 and k != "adjustment" for k, a in zip(kind, amount, strict=True)
        ):
            return None
        return list(zip(ids, customers, booked, kind, amount, numbers, descriptions, strict=True))


async def import_folder(
    db: Database,
    folder: Path,
    *,
    encoding: str | None = None,
    progress: ProgressFactory | None = None,
    only: Collection[str] | None = None,
) -> ImportResult:
    """Import the three files of `folder` (or just those named in `only`: `customers`,
    `invoices.csv`…); raise ImportFailed on any error, a missing or unreadable file
    included."""
    wanted = check_folder(folder, only)
    started = time.monotonic()
    async with db.transaction() as tx, billing.import_cache(tx):
        run_id = await billing.start_import_run(tx, str(folder), time.time())
        importer = _Importer(tx, folder, encoding, progress, run_id)
        importer.customers = await billing.customer_ids(tx)
        result = ImportResult(run_id)
        convert = {
            "customers.csv": (importer.customer, None),
            "invoices.csv": (importer.invoice, importer.invoice_block),
            "transactions.csv": (importer.transaction, importer.transaction_block),
        }
        for name in wanted:
            result.counts[name] = await importer.apply(name, *convert[name])
            if name == "customers.csv" and importer.errors.total:
                importer.customers_damaged = True
        # The invoices' PDFs (core.invoice_pdfs), in the same run: a bad one refuses it all.
        result.pdfs = await invoice_pdfs.import_pdfs(
            tx,
            folder,
            run_id,
            lambda file, why: importer.errors.add(file, 0, why),
            lambda file, why: importer.errors.warn(file, 0, why),
        )
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
        # Issue 15: the notifications this import brings (new invoices, settled ones),
        # queued in its own transaction so that they commit, or not, with its data.
        result.notices = await notifications.after_import(tx, run_id, time.time())
        result.seconds = time.monotonic() - started
        result.warnings = _left_out(folder, wanted) + importer.errors.warnings
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


def check_folder(folder: Path, only: Collection[str] | None) -> list[str]:
    """The files an import of `folder` takes (see `wanted_files`), once each is there and
    readable; else ImportFailed, one line a file, before anything is opened or changed."""
    wanted = wanted_files(only)
    if not os.access(folder, os.X_OK):  # its files cannot be opened
        raise ImportFailed([RowError(str(folder), 0, cannot_read("folder", folder))], 1)
    missing, unreadable = [], []
    for name in wanted:
        try:
            with (folder / name).open("rb"):
                pass
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            missing.append(name)
        except OSError as exc:
            unreadable.append(
                RowError(
                    name,
                    0,
                    cannot_read("file", folder)
                    if isinstance(exc, PermissionError)
                    else f"cannot be read: {exc.strerror or exc}",
                )
            )
    if unreadable:
        raise ImportFailed(unreadable, len(unreadable))
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
    return wanted


def cannot_read(what: str, folder: Path) -> str:
    """Why a `what` ("folder", "file") of the export in `folder` cannot be read, and what
    to do about it."""
    try:
        user = pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:  # a uid without a name (a container)
        user = str(os.geteuid())
    return (
        f"permission denied: {user}, the user this import runs as, cannot read this {what};"
        " the export folder and its files must be readable by it (e.g. setfacl -R -m"
        f" u:{user}:rX -m d:u:{user}:rX {folder}, which new files inherit)"
    )


def _left_out(folder: Path, wanted: list[str]) -> list[RowError]:
    """A warning for each export file in `folder` that `--only` left out."""
    named = ",".join(name.removesuffix(".csv") for name in wanted)
    return [
        RowError(name, 0, f"left out (--only {named}), though {folder} has it")
        for name in FILES
        if name not in wanted and (folder / name).is_file()
    ]

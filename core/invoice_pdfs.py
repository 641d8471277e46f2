"""Invoice PDFs: read from the export's `pdf/` folder in the import's run, sent in the chat.

The billing export may carry each invoice's PDF beside the CSV files, as
`pdf/<invoice number>.pdf` (`2026-000123.pdf` or `2026000123.pdf`). The import
(`core.billing_import`) takes them in its one transaction, after the CSV files:
each must be a PDF (it starts with `%PDF-` and ends with `%%EOF`: a file still
being copied does not), at most `MAX_BYTES`, named after an invoice that exists
(in this export or from before), and no invoice may be named twice. Any problem
refuses the whole import, naming the file. Each document is stored once by its
content's SHA-256: an unchanged PDF costs one hash, a replaced one drops the old
document. Files whose names start with a dot (a Mac's `.DS_Store`) are not read.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from core.formats import format_invoice_number, parse_invoice_number
from storage import invoice_documents as store
from storage.db import Queryable
from storage.invoice_documents import InvoiceDocument

FOLDER = "pdf"
MAX_BYTES = 10 * 1024 * 1024  # an invoice is a few hundred kB; Telegram sends up to 50 MB
_HEAD = 1024  # the PDF header may follow a little junk within the first kilobyte
_TAIL = 2048  # and "%%EOF" may be followed by a line break or a little padding


@dataclass
class PdfCounts:
    files: int = 0
    new: int = 0
    changed: int = 0

    @property
    def unchanged(self) -> int:
        return self.files - self.new - self.changed


# Where a problem goes: (file name as shown, why); and where a doubt goes.
Problem = Callable[[str, str], None]


def _problem_with(data: bytes) -> str | None:
    """Why these bytes are not a whole PDF, or None."""
    if not data:
        return "is empty"
    if b"%PDF-" not in data[:_HEAD]:
        start = data[:8].decode("latin-1").encode("unicode_escape").decode("ascii")
        return f"is not a PDF: it starts with {start!r}, a PDF with %PDF-"
    if b"%%EOF" not in data[-_TAIL:]:
        return "looks cut short: a PDF ends with %%EOF (was it still being copied?)"
    return None


async def import_pdfs(
    tx: Queryable, folder: Path, run_id: int, problem: Problem, doubt: Problem
) -> PdfCounts | None:
    """Take `folder`/pdf/ into the database (None when there is no such folder)."""
    pdf_folder = folder / FOLDER
    if not pdf_folder.is_dir():
        return None
    counts = PdfCounts()
    seen: dict[int, str] = {}
    try:
        entries = sorted(os.scandir(pdf_folder), key=lambda e: e.name)
    except OSError as exc:
        problem(f"{FOLDER}/", f"cannot be read: {exc.strerror or exc}")
        return counts
    for entry in entries:
        shown = f"{FOLDER}/{entry.name}"
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            doubt(shown, "a folder inside pdf/ is not read: the PDFs lie in pdf/ itself")
            continue
        stem, dot, suffix = entry.name.rpartition(".")
        try:
            if not dot or suffix.lower() != "pdf":
                raise ValueError
            invoice_no = parse_invoice_number(stem)
        except ValueError:
            problem(
                shown,
                "is not named after an invoice: each PDF is named <invoice number>.pdf,"
                " e.g. 2026-000123.pdf or 2026000123.pdf",
            )
            continue
        if invoice_no in seen:
            problem(shown, f"names the same invoice as {FOLDER}/{seen[invoice_no]}")
            continue
        seen[invoice_no] = entry.name
        try:
            size = entry.stat().st_size
            if size > MAX_BYTES:
                problem(
                    shown,
                    f"is {size / 1024 / 1024:.1f} MB; an invoice PDF may be at most"
                    f" {MAX_BYTES // 1024 // 1024} MB",
                )
                continue
            data = Path(entry.path).read_bytes()
        except OSError as exc:
            problem(shown, f"cannot be read: {exc.strerror or exc}")
            continue
        why = _problem_with(data)
        if why is not None:
            problem(shown, why)
            continue
        if not await store.invoice_exists(tx, invoice_no):
            problem(
                shown,
                f"names invoice {format_invoice_number(invoice_no)}, which is neither in"
                " invoices.csv nor imported before",
            )
            continue
        counts.files += 1
        digest = hashlib.sha256(data).hexdigest()
        before = await store.document_of(tx, invoice_no)
        if before == digest:
            continue
        if before is None:
            counts.new += 1
        else:
            counts.changed += 1
        if not await store.has_document(tx, digest):
            await store.store_document(tx, digest, data, run_id)
        await store.attach(tx, invoice_no, digest, run_id)
    if counts.changed:
        await store.drop_unused(tx)
    return counts


# --- the chat -------------------------------------------------------------------------


async def with_documents(db: Queryable, invoice_nos: list[int]) -> set[int]:
    """Which of these invoices have a PDF (Számlák offers a button for each)."""
    return await store.with_documents(db, invoice_nos)


async def document(db: Queryable, invoice_no: int) -> InvoiceDocument | None:
    """An invoice's PDF, with the customer the invoice belongs to (never its bytes)."""
    return await store.document(db, invoice_no)


async def content(db: Queryable, sha256: str) -> bytes | None:
    """A PDF's bytes (for its first upload to Telegram)."""
    return await store.content(db, sha256)


async def remember_file_id(db: Queryable, sha256: str, file_id: str) -> None:
    """Telegram's id of an uploaded PDF: later sends name it instead of uploading again."""
    await store.remember_file_id(db, sha256, file_id)


def file_name(invoice_no: int) -> str:
    """The PDF's name as the customer's phone saves it."""
    return f"szamla-{format_invoice_number(invoice_no)}.pdf"

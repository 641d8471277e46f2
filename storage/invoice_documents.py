"""Invoice PDFs: each document once by its content's SHA-256, each invoice naming its own."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from storage.db import Queryable


@dataclass(frozen=True)
class InvoiceDocument:
    invoice_no: int
    customer_id: str
    sha256: str
    size: int
    telegram_file_id: str | None


async def document_of(db: Queryable, invoice_no: int) -> str | None:
    """The SHA-256 of the PDF an invoice has, or None."""
    row = await db.fetch_one("SELECT sha256 FROM invoice_pdfs WHERE invoice_no = ?", (invoice_no,))
    return row[0] if row else None


async def has_document(db: Queryable, sha256: str) -> bool:
    row = await db.fetch_one("SELECT 1 FROM invoice_documents WHERE sha256 = ?", (sha256,))
    return row is not None


async def invoice_exists(db: Queryable, invoice_no: int) -> bool:
    row = await db.fetch_one("SELECT 1 FROM invoices WHERE invoice_no = ?", (invoice_no,))
    return row is not None


async def store_document(db: Queryable, sha256: str, content: bytes, run_id: int) -> None:
    await db.execute(
        "INSERT INTO invoice_documents(sha256, content, size, first_import) VALUES (?, ?, ?, ?)"
        " ON CONFLICT(sha256) DO NOTHING",
        (sha256, content, len(content), run_id),
    )


async def attach(db: Queryable, invoice_no: int, sha256: str, run_id: int) -> None:
    await db.execute(
        "INSERT INTO invoice_pdfs(invoice_no, sha256, import_run) VALUES (?, ?, ?)"
        " ON CONFLICT(invoice_no) DO UPDATE SET sha256 = excluded.sha256,"
        " import_run = excluded.import_run",
        (invoice_no, sha256, run_id),
    )


async def drop_unused(db: Queryable) -> int:
    """Remove the documents no invoice names any more (replaced by a newer PDF)."""
    return await db.execute(
        "DELETE FROM invoice_documents WHERE sha256 NOT IN (SELECT sha256 FROM invoice_pdfs)"
    )


async def with_documents(db: Queryable, invoice_nos: Collection[int]) -> set[int]:
    """Which of these invoices have a PDF."""
    if not invoice_nos:
        return set()
    marks = ",".join("?" * len(invoice_nos))
    rows = await db.fetch_all(
        f"SELECT invoice_no FROM invoice_pdfs WHERE invoice_no IN ({marks})",
        tuple(invoice_nos),
    )
    return {row[0] for row in rows}


async def document(db: Queryable, invoice_no: int) -> InvoiceDocument | None:
    """An invoice's PDF (without its bytes), with the customer the invoice belongs to."""
    row = await db.fetch_one(
        "SELECT p.invoice_no, i.customer_id, d.sha256, d.size, d.telegram_file_id"
        " FROM invoice_pdfs p JOIN invoices i USING (invoice_no)"
        " JOIN invoice_documents d ON d.sha256 = p.sha256 WHERE p.invoice_no = ?",
        (invoice_no,),
    )
    return InvoiceDocument(*row) if row else None


async def content(db: Queryable, sha256: str) -> bytes | None:
    row = await db.fetch_one("SELECT content FROM invoice_documents WHERE sha256 = ?", (sha256,))
    return bytes(row[0]) if row else None


async def remember_file_id(db: Queryable, sha256: str, file_id: str) -> None:
    await db.execute(
        "UPDATE invoice_documents SET telegram_file_id = ? WHERE sha256 = ?", (file_id, sha256)
    )

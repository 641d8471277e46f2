"""Invoice PDFs: imported from the export's pdf/ folder in the import's run, sent from Számlák."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from core import invoice_pdfs
from core.billing_import import ImportFailed, import_folder
from core.formats import format_invoice_number
from tests.botkit import active_customer
from tests.test_billing_import import snapshot, write_all
from tests.test_import_cli import run


def pdf(text: str = "számla") -> bytes:
    """A small whole PDF (header, one object, trailer, %%EOF)."""
    body = f"1 0 obj << /Title ({text.encode('utf-8').hex()}) >> endobj\n"
    return b"%PDF-1.4\n" + body.encode() + b"trailer << /Root 1 0 R >>\n%%EOF\n"


def with_pdfs(folder: Path, files: dict[str, bytes]) -> Path:
    (folder / "pdf").mkdir(exist_ok=True)
    for name, data in files.items():
        (folder / "pdf" / name).write_bytes(data)
    return folder


async def stored(db) -> dict[int, int]:
    rows = await db.fetch_all(
        "SELECT p.invoice_no, d.size FROM invoice_pdfs p JOIN invoice_documents d USING (sha256)"
    )
    return {row[0]: row[1] for row in rows}


async def test_pdfs_are_imported_once_counted_and_replaced(db, tmp_path):
    folder = with_pdfs(
        write_all(tmp_path / "in"),
        {"2024-000001.pdf": pdf("egy"), "2024000002.PDF": pdf("kettő"), ".DS_Store": b"\0\0"},
    )
    result = await import_folder(db, folder)
    assert (result.pdfs.files, result.pdfs.new, result.pdfs.unchanged) == (2, 2, 0)
    assert await stored(db) == {2024000001: len(pdf("egy")), 2024000002: len(pdf("kettő"))}
    # Again, unchanged: nothing new.
    again = await import_folder(db, folder)
    assert (again.pdfs.new, again.pdfs.changed, again.pdfs.unchanged) == (0, 0, 2)
    # The same PDF for two invoices is kept once; a replaced one drops the old.
    with_pdfs(folder, {"2024-000001.pdf": pdf("új"), "2024-000003.pdf": pdf("kettő")})
    third = await import_folder(db, folder)
    assert (third.pdfs.new, third.pdfs.changed, third.pdfs.unchanged) == (1, 1, 1)
    assert await db.fetch_value("SELECT COUNT(*) FROM invoice_documents") == 2
    assert '"pdf": {"files": 3, "new": 1, "changed": 1, "unchanged": 1}' in third.summary_json()


@pytest.mark.parametrize(
    ("name", "data", "why"),
    [
        ("2024-000001.pdf", b"\x89PNG\r\n\x1a\nrest", "is not a PDF"),
        ("2024-000001.pdf", pdf()[:-8], "looks cut short"),
        ("2024-000001.pdf", b"", "is empty"),
        ("szamla-1.pdf", pdf(), "is not named after an invoice"),
        ("2024-000001.txt", pdf(), "is not named after an invoice"),
        ("2024-000999.pdf", pdf(), "names invoice 2024-000999, which is neither in"),
    ],
)
async def test_a_bad_pdf_refuses_the_whole_import_naming_the_file(db, tmp_path, name, data, why):
    await import_folder(db, write_all(tmp_path / "first"))
    before = await snapshot(db)
    folder = write_all(tmp_path / "in")
    # This export also changes an invoice: that must not land either.
    text = (folder / "invoices.csv").read_text("utf-8").replace("12 500;12 500", "12 500;0")
    (folder / "invoices.csv").write_text(text, "utf-8")
    with_pdfs(folder, {"2024-000002.pdf": pdf(), name: data})
    with pytest.raises(ImportFailed) as failed:
        await import_folder(db, folder)
    assert [str(e) for e in failed.value.errors] == [f"pdf/{name}: {why}"] or any(
        str(e).startswith(f"pdf/{name}: {why}") for e in failed.value.errors
    )
    assert await snapshot(db) == before
    assert await stored(db) == {}


async def test_two_pdfs_of_one_invoice_and_a_too_big_one_are_refused(db, tmp_path, monkeypatch):
    monkeypatch.setattr(invoice_pdfs, "MAX_BYTES", 100)
    folder = with_pdfs(
        write_all(tmp_path / "in"),
        {
            "2024-000001.pdf": pdf(),
            "2024000001.pdf": pdf(),
            "2024-000002.pdf": pdf() + b"x" * 200,
        },
    )
    with pytest.raises(ImportFailed) as failed:
        await import_folder(db, folder)
    lines = [str(e) for e in failed.value.errors]
    assert "pdf/2024000001.pdf: names the same invoice as pdf/2024-000001.pdf" in lines
    assert any(line.startswith("pdf/2024-000002.pdf: is 0.0 MB; an invoice PDF") for line in lines)


def test_the_import_command_counts_the_pdfs(tmp_path):
    env = {"PETKOMM_DB": str(tmp_path / "db" / "petkomm.sqlite3")}
    folder = with_pdfs(write_all(tmp_path / "in"), {"2024-000001.pdf": pdf()})
    done = run("import", str(folder), env=env)
    assert done.returncode == 0, done.stderr
    assert "pdf/" in done.stdout and "1 PDFs: 1 new, 0 changed, 0 unchanged" in done.stdout
    broken = with_pdfs(folder, {"2024-000002.pdf": b"<html>"})
    refused = run("import", str(broken), env=env)
    assert refused.returncode != 0
    assert "pdf/2024-000002.pdf: is not a PDF" in refused.stdout + refused.stderr


async def test_a_customer_gets_an_invoice_pdf_from_szamlak_protected(bot_env, tmp_path):
    eva = await active_customer(bot_env, "U0024", "eva24")
    number = await bot_env.db.fetch_value(
        "SELECT invoice_no FROM invoices WHERE customer_id = 'U0024'"
        " ORDER BY issue_date DESC LIMIT 1"
    )
    shown = format_invoice_number(number)
    export = await _demo_copy(bot_env, tmp_path)
    content = pdf(f"Számla {shown}")
    with_pdfs(export, {f"{shown}.pdf": content})
    await import_folder(bot_env.db, export)

    page = (await eva.press("invoices"))[-1]
    button = f"📄 PDF: {shown}"
    assert button in str(page.inline_keyboard)
    replies = await eva.press_on(page, button)
    document = replies[-1]
    assert document.document is not None
    assert bot_env.emulator.file_content(document.document["file_id"]) == content
    call = bot_env.emulator.calls("sendDocument", ok=True)[-1]
    assert call.params.get("protect_content") in (True, "true", "True")
    assert shown in (document.caption or "")
    # The second time it is named by Telegram's id, not uploaded again.
    await eva.press_on(page, button)
    again = bot_env.emulator.calls("sendDocument", ok=True)[-1]
    assert isinstance(again.params.get("document"), str)


async def test_a_made_up_button_for_another_customers_pdf_sends_nothing(bot_env, tmp_path):
    eva = await active_customer(bot_env, "U0025", "eva25")
    other = await bot_env.db.fetch_value(
        "SELECT invoice_no FROM invoices WHERE customer_id = 'U0026' LIMIT 1"
    )
    export = await _demo_copy(bot_env, tmp_path)
    with_pdfs(export, {f"{format_invoice_number(other)}.pdf": pdf()})
    await import_folder(bot_env.db, export)
    page = (await eva.press("invoices"))[-1]
    # A modified client can send any callback data for a message it has.
    page.reply_markup = {"inline_keyboard": [[{"text": "x", "callback_data": f"pdf:{other}"}]]}
    replies = await eva.press_on(page, "x")
    assert "nem érhető el" in eva.texts(replies)
    assert bot_env.emulator.calls("sendDocument") == []


async def _demo_copy(bot_env, tmp_path) -> Path:
    """A copy of the export the bot was started with (to add a pdf/ folder to)."""
    source = Path(
        await bot_env.db.fetch_value("SELECT folder FROM import_runs ORDER BY id LIMIT 1")
    )
    export = tmp_path / "export-copy"
    shutil.copytree(source, export)
    return export

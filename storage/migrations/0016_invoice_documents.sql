-- Invoice PDFs from the billing export's pdf/ folder (issue 16): each stored once by
-- content hash, each invoice naming the one it has. `telegram_file_id` is Telegram's id
-- of a document once uploaded, so it is sent again without uploading it again.
CREATE TABLE invoice_documents (
    sha256           TEXT PRIMARY KEY,
    content          BLOB NOT NULL,
    size             INTEGER NOT NULL,
    first_import     INTEGER REFERENCES import_runs(id),
    telegram_file_id TEXT
);
CREATE TABLE invoice_pdfs (
    invoice_no  INTEGER PRIMARY KEY REFERENCES invoices(invoice_no),
    sha256      TEXT NOT NULL REFERENCES invoice_documents(sha256),
    import_run  INTEGER REFERENCES import_runs(id)
);
CREATE INDEX invoice_pdfs_by_document ON invoice_pdfs(sha256);

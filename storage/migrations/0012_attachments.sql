-- Files that came with a customer's mail (issue 12): kept apart from the raw mail so
-- staff can list and open them. `position` numbers them within their ticket (1, 2, …),
-- as staff name them (`tickets attachment 123 2`). `content` is NULL when the file was
-- not kept, and `withheld` says why (too_big, too_many, program).
CREATE TABLE ticket_attachments (
    id                INTEGER PRIMARY KEY,
    ticket_id         INTEGER NOT NULL REFERENCES tickets(id),
    ticket_message_id INTEGER REFERENCES ticket_messages(id),
    inbound_mail_id   INTEGER REFERENCES inbound_mails(id),
    position          INTEGER NOT NULL,
    filename          TEXT NOT NULL,
    declared_type     TEXT NOT NULL,   -- what the mail said (Content-Type)
    content_type      TEXT NOT NULL,   -- what the content is (magic bytes)
    size              INTEGER NOT NULL,
    content           BLOB,
    withheld          TEXT,
    created_at        REAL NOT NULL,
    UNIQUE (ticket_id, position)
);
CREATE INDEX ticket_attachments_by_message ON ticket_attachments(ticket_message_id);

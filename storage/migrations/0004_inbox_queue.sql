-- The mail worker in two stages: the reader stores each fetched mail as
-- 'received' and the processor turns it into a ticket later, so
-- inbound_mails.status gains 'received', plus `attempts` (the processor's
-- starts on a mail) and an index over what waits.
--
-- SQLite cannot alter a CHECK constraint, so the table is rebuilt. The usual
-- "new table, copy, drop old, rename new" fails here with foreign keys on:
-- dropping the old table deletes rows ticket_messages still references, and
-- a rename does not settle that. So, with foreign key checks deferred to the
-- commit (the migration runs in one transaction; defer_foreign_keys switches
-- itself off at COMMIT): copy the rows aside, drop the table, create it anew
-- under its own name and copy the rows back with their ids. Copying the
-- parents back clears the references the drop broke; if any stayed broken,
-- the COMMIT would fail and the migration would leave no trace.
PRAGMA defer_foreign_keys = ON;

CREATE TABLE inbound_mails_0004_copy AS
    SELECT id, message_id, folder, uidvalidity, uid, raw, status, reason, ticket_id, received_at
    FROM inbound_mails;

DROP TABLE inbound_mails;

CREATE TABLE inbound_mails (
    id          INTEGER PRIMARY KEY,
    message_id  TEXT NOT NULL UNIQUE,         -- header, or md5 of the raw mail
    folder      TEXT NOT NULL,
    uidvalidity INTEGER,
    uid         INTEGER,
    raw         BLOB NOT NULL,
    status      TEXT NOT NULL
                CHECK (status IN ('received', 'ticket', 'ignored', 'quarantined')),
    reason      TEXT,
    ticket_id   INTEGER REFERENCES tickets(id),
    received_at REAL NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0    -- the processor's starts on this mail
);

INSERT INTO inbound_mails(
    id, message_id, folder, uidvalidity, uid, raw, status, reason, ticket_id, received_at
)
    SELECT id, message_id, folder, uidvalidity, uid, raw, status, reason, ticket_id, received_at
    FROM inbound_mails_0004_copy ORDER BY id;

DROP TABLE inbound_mails_0004_copy;

-- The processor's queue: the waiting mails, oldest first.
CREATE INDEX inbound_mails_received ON inbound_mails(id) WHERE status = 'received';

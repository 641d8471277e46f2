-- Mail as real clients send it (issue 12): machine mail, web forms, floods, double sends.
--
-- A mail that no person wrote (a read receipt, a delivery report, a vacation
-- notice, a spam filter's challenge, our own mail come back) joins its ticket
-- as a machine note: `ticket_messages.machine` names its kind, NULL for a
-- person's message. Such a note never reopens a ticket and never gets an
-- automatic answer.
ALTER TABLE ticket_messages ADD COLUMN machine TEXT
    CHECK (machine IN ('bounce', 'delayed', 'delivered', 'receipt', 'auto_reply',
                       'challenge', 'echo'));

-- The flood guard counts the customer messages of the last minutes, by their time.
CREATE INDEX ticket_messages_in_by_time ON ticket_messages(created_at)
    WHERE direction = 'in' AND machine IS NULL;

-- Double sends: the same sender, subject and body a few minutes apart make one
-- ticket. `fingerprint` is a hash of those three, set when the mail is processed.
ALTER TABLE inbound_mails ADD COLUMN fingerprint TEXT;
CREATE INDEX inbound_mails_by_fingerprint ON inbound_mails(fingerprint)
    WHERE fingerprint IS NOT NULL;

-- Staff-chat announcements gain the events of machine mail and floods
-- ('undelivered': our mail did not reach the customer; 'held': the customer's
-- spam filter holds our mail until someone confirms; 'flood': a sender's burst
-- is threaded quietly from here on) and name the ticket message they are about
-- (`message_id`; the n-th announcement of a ticket no longer is about its n-th
-- customer message once machine notes and quiet messages exist).
--
-- SQLite cannot alter a CHECK constraint, so the table is rebuilt; nothing
-- references it, so the plain copy-drop-rename is safe. Earlier announcements
-- get the message the old rule meant: the ticket's n-th incoming message.
CREATE TABLE staff_announcements_rebuilt (
    id          INTEGER PRIMARY KEY,
    ticket_id   INTEGER NOT NULL REFERENCES tickets(id),
    event       TEXT NOT NULL
                CHECK (event IN ('new', 'reopened', 'message', 'undelivered', 'held', 'flood')),
    created_at  REAL NOT NULL,
    sent_at     REAL,
    message_id  INTEGER REFERENCES ticket_messages(id)
);

WITH numbered AS (
    SELECT id, row_number() OVER (PARTITION BY ticket_id ORDER BY id) AS n
    FROM staff_announcements
), incoming AS (
    SELECT id, ticket_id, row_number() OVER (PARTITION BY ticket_id ORDER BY id) AS n
    FROM ticket_messages WHERE direction = 'in'
)
INSERT INTO staff_announcements_rebuilt(id, ticket_id, event, created_at, sent_at, message_id)
    SELECT a.id, a.ticket_id, a.event, a.created_at, a.sent_at, m.id
    FROM staff_announcements a
    JOIN numbered USING (id)
    LEFT JOIN incoming m ON m.ticket_id = a.ticket_id AND m.n = numbered.n
    ORDER BY a.id;

DROP TABLE staff_announcements;
ALTER TABLE staff_announcements_rebuilt RENAME TO staff_announcements;
CREATE INDEX staff_announcements_pending ON staff_announcements(id) WHERE sent_at IS NULL;

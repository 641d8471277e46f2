-- Tickets waiting to be announced in the staff chat (new, reopened, a new
-- customer message). Any door may open or reopen a ticket; the bot posts
-- these and marks them sent, so nothing is lost when the bot is down.
CREATE TABLE staff_announcements (
    id          INTEGER PRIMARY KEY,
    ticket_id   INTEGER NOT NULL REFERENCES tickets(id),
    event       TEXT NOT NULL CHECK (event IN ('new', 'reopened', 'message')),
    created_at  REAL NOT NULL,
    sent_at     REAL
);
CREATE INDEX staff_announcements_pending ON staff_announcements(id) WHERE sent_at IS NULL;

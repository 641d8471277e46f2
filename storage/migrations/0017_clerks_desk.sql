-- The clerk's desk (issue 17): internal notes, who holds a ticket, and the staff
-- members the bot has met (so `/assign PK-… @kata` can find Kata).

-- Notes only staff see: never a ticket message, so no answer, mail or chat delivery
-- can carry one. Editable by their author (`edited_at`).
CREATE TABLE ticket_notes (
    id          INTEGER PRIMARY KEY,
    ticket_id   INTEGER NOT NULL REFERENCES tickets(id),
    author      TEXT NOT NULL,             -- the audit actor: staff:<id> or cli:<user>
    author_name TEXT NOT NULL DEFAULT '',  -- as staff see it (a Telegram name, an OS user)
    body        TEXT NOT NULL,
    created_at  REAL NOT NULL,
    edited_at   REAL
);
CREATE INDEX ticket_notes_by_ticket ON ticket_notes(ticket_id, id);

-- The staff member (Telegram user id) who holds a ticket; NULL: nobody yet.
ALTER TABLE tickets ADD COLUMN holder_id INTEGER;
CREATE INDEX tickets_by_holder ON tickets(holder_id, status, created_at)
    WHERE holder_id IS NOT NULL;

-- Staff members as the bot last saw them (a command, a button, a reply).
CREATE TABLE staff_members (
    user_id   INTEGER PRIMARY KEY,
    username  TEXT,                        -- Telegram @name without the @, if they have one
    name      TEXT NOT NULL,
    seen_at   REAL NOT NULL
);
CREATE INDEX staff_members_by_username ON staff_members(username COLLATE NOCASE);

-- Canned answers filled for a ticket, shown to the clerk before they go: the ✅ button
-- sends exactly the text the clerk saw (`sent_at`: it went, once).
CREATE TABLE canned_drafts (
    id          INTEGER PRIMARY KEY,
    ticket_id   INTEGER NOT NULL REFERENCES tickets(id),
    name        TEXT NOT NULL,             -- the canned answer's file name, without .txt
    author      TEXT NOT NULL,             -- the audit actor who filled it
    text        TEXT NOT NULL,
    created_at  REAL NOT NULL,
    sent_at     REAL,
    dropped_at  REAL
);
CREATE INDEX canned_drafts_by_ticket ON canned_drafts(ticket_id);

-- Two tickets about the same thing become one: the newer one is closed and names the
-- older one it joined (its messages, files and posts moved there). No foreign key: the
-- purge may remove the two in either order, and a number whose ticket is gone is
-- simply unknown.
ALTER TABLE tickets ADD COLUMN merged_into INTEGER;

-- The morning digest of deadlines: the working days it was posted on (once a day, also
-- across restarts).
CREATE TABLE staff_digests (
    day      TEXT PRIMARY KEY,             -- ISO date, Budapest
    sent_at  REAL NOT NULL
) WITHOUT ROWID;

-- How did we do (point 8): each closing offers the customer a rating, 1 to 5, by one tap in
-- the chat or by a link in the closing mail. `sent_at` NULL: the bot has yet to offer it
-- (the command line closes tickets too; only the bot knows its own link). The link's token
-- is kept hashed, as codes are.
CREATE TABLE customer_ratings (
    id          INTEGER PRIMARY KEY,
    ticket_id   INTEGER NOT NULL REFERENCES tickets(id),
    channel     TEXT NOT NULL CHECK (channel IN ('mail', 'telegram')),
    token_hash  TEXT UNIQUE,
    offered_at  REAL NOT NULL,
    sent_at     REAL,
    stars       INTEGER CHECK (stars BETWEEN 1 AND 5),
    rated_at    REAL
);
CREATE INDEX customer_ratings_to_send ON customer_ratings(id) WHERE sent_at IS NULL;
CREATE INDEX customer_ratings_by_time ON customer_ratings(rated_at) WHERE rated_at IS NOT NULL;

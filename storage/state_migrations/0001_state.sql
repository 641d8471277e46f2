-- The bot's own bookkeeping, in a file of its own that only the running service
-- writes: another process holding the main database's write lock (the daily
-- import, `tickets reply` from the command line, an sqlite3 shell) never keeps a
-- customer's message from being stored or finished. An update and the dialogue
-- state it left are committed together, in this one file.

-- python-telegram-bot persistence: conversation states and per-user data.
-- (The main database keeps its old `bot_state` table: what a deployment had there
-- is carried over into this file once, on its first start with it.)
CREATE TABLE bot_state (
    kind    TEXT NOT NULL,     -- 'conversation:<name>', 'user', 'chat', 'bot'
    key     TEXT NOT NULL,
    value   TEXT NOT NULL,     -- JSON
    PRIMARY KEY (kind, key)
) WITHOUT ROWID;

-- When the main database's `bot_state` rows were carried over (one row, once; in the
-- transaction that copied them, so a start that dies half-way copies them again).
CREATE TABLE carried_over (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    at      REAL NOT NULL,
    rows    INTEGER NOT NULL   -- how many were copied
);

-- Customer messages made durable: every Telegram update is kept here before
-- Telegram is told the bot has it (the next getUpdates offset, or the webhook's
-- 200), handled from here, and marked 'done' in the transaction that keeps the
-- dialogue state it left. After a crash, the 'received' ones are handled again.
--
-- `id` is the arrival order (updates are handled in it: Telegram's update_id
-- may restart at random after a quiet week), never reused (AUTOINCREMENT: the
-- handlers read what is newer than the last row they took, and housekeeping
-- may have deleted every older row); `update_id` is unique, so an
-- update Telegram sends again is recognised. `payload` is the update's JSON
-- while it waits, NULL once handled (a message may hold a password).
-- `attempts` counts the handler's starts, so an update that keeps killing the
-- process is set aside ('failed') rather than retried for ever.
CREATE TABLE telegram_updates (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    update_id   INTEGER NOT NULL UNIQUE,
    payload     TEXT,
    status      TEXT NOT NULL DEFAULT 'received'
                CHECK (status IN ('received', 'done', 'failed')),
    attempts    INTEGER NOT NULL DEFAULT 0,
    received_at REAL NOT NULL,
    done_at     REAL
);

-- What waits for the handlers, oldest first; and what housekeeping may forget.
CREATE INDEX telegram_updates_waiting ON telegram_updates(id) WHERE status = 'received';
CREATE INDEX telegram_updates_finished ON telegram_updates(done_at) WHERE status <> 'received';

-- A code mail remembers the account it carries a code for, so that when it fails
-- for good the customer entitled to know can be told in the chat (core.outbox);
-- other mail has none. No foreign key: a newer registration deletes the pending
-- account it replaces, and its old mails stay as they are.
ALTER TABLE outbox ADD COLUMN account_id INTEGER;

-- Notices for one customer's private chat that belong to no ticket, e.g. "your
-- activation mail could not be delivered to this address". Queued in the
-- transaction that gives the mail up; the bot's announcer posts them, retrying
-- with back-off, and gives one up when the chat refuses it (a blocked bot).
-- `details` is JSON for the notice's template.
CREATE TABLE chat_notices (
    id              INTEGER PRIMARY KEY,
    chat_id         INTEGER NOT NULL,
    topic           TEXT NOT NULL,          -- activation_mail_failed | reset_mail_failed
    details         TEXT NOT NULL DEFAULT '{}',
    status          TEXT NOT NULL CHECK (status IN ('queued', 'sent', 'failed')) DEFAULT 'queued',
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL,
    last_error      TEXT,
    created_at      REAL NOT NULL,
    sent_at         REAL
);
CREATE INDEX chat_notices_due ON chat_notices(next_attempt_at) WHERE status = 'queued';

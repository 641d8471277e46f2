-- Staff answers to customers who reported in the Telegram chat. The answer is
-- queued here in the same transaction as its ticket message, by whichever door
-- gave it (the staff chat or the command line); the bot's announcer sends it
-- and marks it, so an answer given while the bot is down arrives when it runs.
CREATE TABLE telegram_outbox (
    id              INTEGER PRIMARY KEY,
    ticket_id       INTEGER NOT NULL REFERENCES tickets(id),
    chat_id         INTEGER NOT NULL,          -- the customer's private chat
    text            TEXT NOT NULL,             -- the clerk's words, as typed
    status          TEXT NOT NULL CHECK (status IN ('queued', 'sent', 'failed')) DEFAULT 'queued',
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL,
    last_error      TEXT,
    created_at      REAL NOT NULL,
    sent_at         REAL,
    sent_message_id INTEGER                    -- the message in the customer's chat
);
CREATE INDEX telegram_outbox_due ON telegram_outbox(next_attempt_at) WHERE status = 'queued';

-- Bot messages in a customer's chat that belong to a ticket (a staff answer,
-- the prompt to reply to it): the customer's reply to one goes into that ticket.
CREATE TABLE customer_posts (
    chat_id     INTEGER NOT NULL,
    message_id  INTEGER NOT NULL,
    ticket_id   INTEGER NOT NULL REFERENCES tickets(id),
    PRIMARY KEY (chat_id, message_id)
) WITHOUT ROWID;

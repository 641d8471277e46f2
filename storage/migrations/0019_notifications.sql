-- Notifications (issue 15): new invoices, due-date reminders, payments received,
-- outages and planned works, told in the customers' chats.

-- Who wants which kinds, per Telegram user and the account they logged in to.
-- `active` is 1 while that user is logged in to that account as far as notifications
-- go: a login sets it, a logout, a login to another account, a password changed or
-- reset elsewhere clears it. An idle login that ended does not: it is what the
-- customer expects to keep hearing from. `blocked_at`: Telegram refused a send with
-- 403 (the user blocked the bot); nothing is sent until they open the page or log in.
CREATE TABLE notification_prefs (
    telegram_user_id INTEGER NOT NULL,
    account_id       INTEGER NOT NULL REFERENCES portal_accounts(id) ON DELETE CASCADE,
    chat_id          INTEGER NOT NULL,
    new_invoice      INTEGER NOT NULL DEFAULT 0,
    reminder         INTEGER NOT NULL DEFAULT 0,
    payment          INTEGER NOT NULL DEFAULT 0,
    outage           INTEGER NOT NULL DEFAULT 0,
    active           INTEGER NOT NULL DEFAULT 1,
    blocked_at       REAL,
    asked_at         REAL NOT NULL,
    updated_at       REAL NOT NULL,
    PRIMARY KEY (telegram_user_id, account_id)
) WITHOUT ROWID;
CREATE INDEX notification_prefs_by_account ON notification_prefs(account_id) WHERE active = 1;

-- What is to be told about one customer account; `details` (JSON) holds the facts its
-- template shows; `once_key` makes it once (e.g. 'reminder_before:2026000123').
CREATE TABLE notifications (
    id          INTEGER PRIMARY KEY,
    customer_id TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('new_invoice', 'reminder_before',
                                              'reminder_after', 'payment', 'outage')),
    details     TEXT NOT NULL,
    once_key    TEXT UNIQUE,
    created_at  REAL NOT NULL
);

-- One notification for one Telegram user. queued -> sending (claimed by the running
-- service, committed before the message goes to Telegram) -> sent (committed after
-- Telegram accepted it); or dropped (no longer wanted: logged out, opted out, paid) or
-- failed (Telegram refused it for good). `urgent` (outages) may go in quiet hours.
CREATE TABLE notification_deliveries (
    id               INTEGER PRIMARY KEY,
    notification_id  INTEGER NOT NULL REFERENCES notifications(id) ON DELETE CASCADE,
    telegram_user_id INTEGER NOT NULL,
    chat_id          INTEGER NOT NULL,
    urgent           INTEGER NOT NULL DEFAULT 0,
    status           TEXT NOT NULL DEFAULT 'queued'
                     CHECK (status IN ('queued', 'sending', 'sent', 'dropped', 'failed')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  REAL NOT NULL,
    claimed_at       REAL,
    done_at          REAL,
    message_id       INTEGER,
    last_error       TEXT,
    UNIQUE (notification_id, telegram_user_id)
);
-- The queue in order: nearly every queued delivery is due, so the claim walks this
-- index from its start and stops after a batch.
CREATE INDEX notification_deliveries_queued ON notification_deliveries(id)
    WHERE status = 'queued';
CREATE INDEX notification_deliveries_claimed ON notification_deliveries(id)
    WHERE status = 'sending';
CREATE INDEX notification_deliveries_by_user ON notification_deliveries(telegram_user_id)
    WHERE status = 'queued';

-- Staff notices about outages and planned works: a draft (shown with its recipient
-- count) until staff confirm it, then sent (queued as notifications) or cancelled.
CREATE TABLE outage_notices (
    id         INTEGER PRIMARY KEY,
    town       TEXT NOT NULL,
    street     TEXT NOT NULL DEFAULT '',
    text       TEXT NOT NULL,
    author     TEXT NOT NULL,
    status     TEXT NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'sent', 'cancelled')),
    recipients INTEGER,
    created_at REAL NOT NULL,
    sent_at    REAL
);

-- What the last import left unpaid, and the newest booking it had seen: the next
-- import's notifications compare with them (which invoices a new payment settled).
CREATE TABLE notify_unpaid (
    invoice_no  INTEGER PRIMARY KEY,
    customer_id TEXT NOT NULL
);
CREATE TABLE notify_marks (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO notify_unpaid(invoice_no, customer_id)
    SELECT invoice_no, customer_id FROM invoices WHERE outstanding > 0;
INSERT INTO notify_marks(name, value)
    SELECT 'transactions_seen', coalesce(max(id), 0) FROM transactions;

-- The whole product's schema. Money in integer forints; dates of the billing
-- system as ISO text (YYYY-MM-DD); moments as REAL unix seconds (UTC).

-- Billing data (imported; the billing system is the source of truth) ----------
CREATE TABLE import_runs (
    id            INTEGER PRIMARY KEY,
    started_at    REAL NOT NULL,
    finished_at   REAL,
    folder        TEXT NOT NULL,
    summary       TEXT                      -- JSON counts, written on success
);

CREATE TABLE customers (
    customer_id    TEXT PRIMARY KEY CHECK (customer_id GLOB 'U[0-9][0-9][0-9][0-9]'),
    name           TEXT NOT NULL,
    address        TEXT NOT NULL,
    phone          TEXT NOT NULL DEFAULT '',
    email          TEXT NOT NULL DEFAULT '',
    payment_method TEXT NOT NULL DEFAULT '',
    first_import   INTEGER REFERENCES import_runs(id)
);

-- invoice_no is the invoice number as an integer: year * 1 000 000 + serial
-- (2024-000123 -> 2024000123); the rowid itself, so no extra index is needed.
CREATE TABLE invoices (
    invoice_no    INTEGER PRIMARY KEY,
    customer_id   TEXT NOT NULL REFERENCES customers(customer_id),
    issue_date    TEXT NOT NULL,
    due_date      TEXT NOT NULL,
    amount        INTEGER NOT NULL,
    outstanding   INTEGER NOT NULL,
    first_import  INTEGER REFERENCES import_runs(id)
);
-- A customer's invoices newest first.
CREATE INDEX invoices_by_customer ON invoices(customer_id, issue_date DESC, invoice_no DESC);
-- Unpaid invoices of a customer by due date.
CREATE INDEX invoices_unpaid ON invoices(customer_id, due_date) WHERE outstanding > 0;

-- kind: charge raises the debt, payment lowers it, adjustment lowers it when
-- positive (a credit) and raises it when negative.
CREATE TABLE transactions (
    id             INTEGER PRIMARY KEY,
    transaction_id TEXT NOT NULL UNIQUE,
    customer_id    TEXT NOT NULL REFERENCES customers(customer_id),
    booked_on      TEXT NOT NULL,
    kind           TEXT NOT NULL CHECK (kind IN ('charge', 'payment', 'adjustment')),
    amount         INTEGER NOT NULL,
    invoice_no     INTEGER,
    description    TEXT NOT NULL DEFAULT ''
);
-- A customer's account history by date.
CREATE INDEX transactions_by_customer ON transactions(customer_id, booked_on, id);

-- Portal accounts and their secrets -------------------------------------------
CREATE TABLE portal_accounts (
    id                  INTEGER PRIMARY KEY,
    customer_id         TEXT NOT NULL UNIQUE REFERENCES customers(customer_id),
    username            TEXT NOT NULL,
    username_key        TEXT NOT NULL UNIQUE,      -- casefolded, for uniqueness and login
    email               TEXT NOT NULL,
    password_hash       TEXT NOT NULL,
    status              TEXT NOT NULL CHECK (status IN ('pending', 'active', 'disabled')),
    created_at          REAL NOT NULL,
    activated_at        REAL,
    password_changed_at REAL,
    registered_by_tg    INTEGER                     -- Telegram user who registered, if any
);
CREATE INDEX portal_accounts_by_email ON portal_accounts(email COLLATE NOCASE);

-- Activation and password-reset codes: only a hash is stored.
CREATE TABLE account_codes (
    id          INTEGER PRIMARY KEY,
    account_id  INTEGER NOT NULL REFERENCES portal_accounts(id) ON DELETE CASCADE,
    purpose     TEXT NOT NULL CHECK (purpose IN ('activation', 'reset')),
    code_hash   TEXT NOT NULL UNIQUE,
    created_at  REAL NOT NULL,
    expires_at  REAL NOT NULL,
    used_at     REAL
);
CREATE INDEX account_codes_by_account ON account_codes(account_id, purpose);

-- Which Telegram user is logged in to which account.
CREATE TABLE telegram_logins (
    telegram_user_id INTEGER PRIMARY KEY,
    account_id       INTEGER NOT NULL REFERENCES portal_accounts(id) ON DELETE CASCADE,
    chat_id          INTEGER NOT NULL,
    logged_in_at     REAL NOT NULL,
    last_seen_at     REAL NOT NULL
);
CREATE INDEX telegram_logins_by_account ON telegram_logins(account_id);

-- Throttling: attempts within a window, and lockouts.
CREATE TABLE throttle_events (
    scope   TEXT NOT NULL,        -- e.g. 'login:user', 'login:account', 'autoreply'
    key     TEXT NOT NULL,
    at      REAL NOT NULL
);
CREATE INDEX throttle_events_by_key ON throttle_events(scope, key, at);

CREATE TABLE throttle_locks (
    scope        TEXT NOT NULL,
    key          TEXT NOT NULL,
    locked_until REAL NOT NULL,
    PRIMARY KEY (scope, key)
) WITHOUT ROWID;

-- Tickets (reports) from mail and chat ---------------------------------------
-- The ticket number shown to people is 'PK-' || printf('%06d', id).
CREATE TABLE tickets (
    id               INTEGER PRIMARY KEY,
    channel          TEXT NOT NULL CHECK (channel IN ('mail', 'telegram')),
    status           TEXT NOT NULL CHECK (status IN ('open', 'closed')) DEFAULT 'open',
    subject          TEXT NOT NULL,
    customer_id      TEXT REFERENCES customers(customer_id),
    email            TEXT,                    -- the sender's address (mail tickets)
    telegram_user_id INTEGER,
    telegram_chat_id INTEGER,
    created_at       REAL NOT NULL,
    updated_at       REAL NOT NULL,
    closed_at        REAL,
    reopened_at      REAL
);
CREATE INDEX tickets_open ON tickets(status, created_at);
CREATE INDEX tickets_by_email ON tickets(email COLLATE NOCASE);

CREATE TABLE ticket_messages (
    id              INTEGER PRIMARY KEY,
    ticket_id       INTEGER NOT NULL REFERENCES tickets(id),
    direction       TEXT NOT NULL CHECK (direction IN ('in', 'out')),
    author          TEXT NOT NULL,           -- 'customer', 'auto' or a staff member
    body            TEXT NOT NULL,           -- the whole text as received or sent
    new_text        TEXT NOT NULL,           -- without the quoted part (for display)
    mail_message_id TEXT,                    -- Message-ID when it travelled by mail
    inbound_mail_id INTEGER REFERENCES inbound_mails(id),
    created_at      REAL NOT NULL
);
CREATE INDEX ticket_messages_by_ticket ON ticket_messages(ticket_id, id);
CREATE INDEX ticket_messages_by_mail_id ON ticket_messages(mail_message_id);

-- Staff-chat messages that announce a ticket (so a reply to them answers it).
CREATE TABLE staff_posts (
    chat_id     INTEGER NOT NULL,
    message_id  INTEGER NOT NULL,
    ticket_id   INTEGER NOT NULL REFERENCES tickets(id),
    PRIMARY KEY (chat_id, message_id)
) WITHOUT ROWID;

-- Mail ----------------------------------------------------------------------
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    message_id      TEXT NOT NULL UNIQUE,
    kind            TEXT NOT NULL,            -- activation, reset, ack, self_help, answer
    recipient       TEXT NOT NULL,
    subject         TEXT NOT NULL,
    raw             BLOB NOT NULL,            -- the final message, flattened once
    ticket_id       INTEGER REFERENCES tickets(id),
    status          TEXT NOT NULL CHECK (status IN ('queued', 'sent', 'failed')) DEFAULT 'queued',
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL,
    last_error      TEXT,
    created_at      REAL NOT NULL,
    sent_at         REAL
);
CREATE INDEX outbox_due ON outbox(next_attempt_at) WHERE status = 'queued';

CREATE TABLE inbound_mails (
    id          INTEGER PRIMARY KEY,
    message_id  TEXT NOT NULL UNIQUE,         -- header, or md5 of the raw mail
    folder      TEXT NOT NULL,
    uidvalidity INTEGER,
    uid         INTEGER,
    raw         BLOB NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('ticket', 'ignored', 'quarantined')),
    reason      TEXT,
    ticket_id   INTEGER REFERENCES tickets(id),
    received_at REAL NOT NULL
);

CREATE TABLE inbox_state (
    folder      TEXT PRIMARY KEY,
    uidvalidity INTEGER NOT NULL,
    last_uid    INTEGER NOT NULL,
    updated_at  REAL NOT NULL
);

-- Audit and conversation state ---------------------------------------------
CREATE TABLE audit_log (
    id      INTEGER PRIMARY KEY,
    at      REAL NOT NULL,
    actor   TEXT NOT NULL,     -- 'tg:123', 'staff:123', 'cli:<user>', 'mail:<addr>', 'system'
    action  TEXT NOT NULL,     -- e.g. 'login', 'login_failed', 'lockout', 'ticket_reply'
    target  TEXT NOT NULL DEFAULT '',
    details TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_by_time ON audit_log(at);
CREATE INDEX audit_log_by_actor ON audit_log(actor, at);

-- python-telegram-bot persistence: conversation states and per-user data.
CREATE TABLE bot_state (
    kind    TEXT NOT NULL,     -- 'conversation:<name>', 'user', 'chat', 'bot'
    key     TEXT NOT NULL,
    value   TEXT NOT NULL,     -- JSON
    PRIMARY KEY (kind, key)
) WITHOUT ROWID;

-- Several customer accounts under one login (issue 16): a parent's flat, a holiday house.
--
-- A portal account belongs to the customer ID that registered it (`portal_accounts.
-- customer_id`, one portal account per customer ID). With the same proof as a
-- registration (customer ID, a recent invoice's number and amount) it may add further
-- customer IDs that have no portal account of their own; each added one is a row here.
CREATE TABLE account_links (
    account_id  INTEGER NOT NULL REFERENCES portal_accounts(id) ON DELETE CASCADE,
    customer_id TEXT NOT NULL REFERENCES customers(customer_id),
    added_at    REAL NOT NULL,
    added_by_tg INTEGER,                  -- the Telegram user who added it
    PRIMARY KEY (account_id, customer_id)
);
CREATE INDEX account_links_by_customer ON account_links(customer_id);

-- The customer ID a Telegram login is looking at: NULL for the account's own.
ALTER TABLE telegram_logins ADD COLUMN viewing TEXT;

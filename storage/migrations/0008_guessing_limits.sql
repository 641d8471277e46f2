-- Limits against guessing (issue 10). An attempt now names what it was made
-- against (`target`: an account, a customer ID), so that
--   * a success forgives only the failures against that same target,
--   * a limit can count one guesser against one target, one guesser against
--     every target, and every guesser against one target;
-- and whoever has succeeded against a target before is remembered
-- (`throttle_trust`), so that strangers' failures never lock its owner out.
ALTER TABLE throttle_events ADD COLUMN target TEXT NOT NULL DEFAULT '';
CREATE INDEX throttle_events_by_target ON throttle_events(scope, target, at);

CREATE TABLE throttle_trust (
    scope   TEXT NOT NULL,   -- 'login' (target: account id), 'proof' (target: customer ID)
    target  TEXT NOT NULL,
    guesser TEXT NOT NULL,   -- 'tg:<Telegram user id>'
    at      REAL NOT NULL,   -- the latest success
    PRIMARY KEY (scope, target, guesser)
) WITHOUT ROWID;

-- What the database already knows: who is logged in now, who logged in to an
-- account since its activation (the audit log names the customer), and who
-- registered a customer ID.
INSERT OR IGNORE INTO throttle_trust(scope, target, guesser, at)
SELECT 'login', CAST(account_id AS TEXT), 'tg:' || telegram_user_id, logged_in_at
FROM telegram_logins;

INSERT OR IGNORE INTO throttle_trust(scope, target, guesser, at)
SELECT 'login', CAST(p.id AS TEXT), a.actor, max(a.at)
FROM audit_log a JOIN portal_accounts p ON p.customer_id = a.target
WHERE a.action = 'login' AND a.actor LIKE 'tg:%' AND p.activated_at IS NOT NULL
  AND a.at >= p.activated_at
GROUP BY p.id, a.actor;

INSERT OR IGNORE INTO throttle_trust(scope, target, guesser, at)
SELECT 'proof', customer_id, 'tg:' || registered_by_tg, created_at
FROM portal_accounts WHERE registered_by_tg IS NOT NULL;

INSERT OR IGNORE INTO throttle_trust(scope, target, guesser, at)
SELECT 'proof', target, actor, max(at)
FROM audit_log WHERE action = 'registered' AND actor LIKE 'tg:%' AND target <> ''
GROUP BY target, actor;

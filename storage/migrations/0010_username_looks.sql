-- Look-alike user names (issue 10, second round): two keys of how a name looks (Unicode's
-- UTS #39 skeleton of the name in capitals and in small letters, see
-- core.accounts.rules.username_looks), so that "is a name like this taken?" is an indexed
-- equality. Not unique: accounts made before this rule may already look alike. NULL until
-- computed: SQL cannot compute them, so the application fills them in for the existing
-- accounts before it next looks a name up.
ALTER TABLE portal_accounts ADD COLUMN username_look_caps TEXT;
ALTER TABLE portal_accounts ADD COLUMN username_look_small TEXT;
CREATE INDEX portal_accounts_by_look_caps ON portal_accounts(username_look_caps);
CREATE INDEX portal_accounts_by_look_small ON portal_accounts(username_look_small);

-- "Has this Telegram user proven any customer ID?", asked when a registration starts.
CREATE INDEX throttle_trust_by_guesser ON throttle_trust(scope, guesser);

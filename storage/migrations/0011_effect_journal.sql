-- The effect journal (issue 10): what a message has already done, so that the same
-- message handled again after a crash does not do it twice. A Telegram message is
-- stored before it is handled and marked handled only with the dialogue state it left
-- (in the bot's state file), so a crash in between handles it again at the next start;
-- its effect (a ticket, a code mail, an activation) and its row here commit in one
-- transaction of this database, and the second handling finds the row and answers
-- from it instead of doing the effect again.
CREATE TABLE effect_journal (
    message TEXT NOT NULL,  -- the message: 'tg:<update id>:<Telegram user id>'
    effect  TEXT NOT NULL,  -- what it did: 'report', 'registered', 'activated', …
    result  TEXT NOT NULL,  -- JSON: what its answer needs again (ids, times; never a secret)
    at      REAL NOT NULL,
    PRIMARY KEY (message, effect)
) WITHOUT ROWID;
CREATE INDEX effect_journal_by_age ON effect_journal(at);

-- Notices for the staff chat that are about no ticket, e.g. "outgoing mail is
-- failing" and "it works again". Any part of the service (the mail sender)
-- queues one here; the bot's announcer posts it and marks it sent, so a notice
-- raised while the bot is down arrives when it runs. `details` is JSON for the
-- notice's template. The newest mail notice also tells whether mail is failing.
CREATE TABLE staff_notices (
    id          INTEGER PRIMARY KEY,
    topic       TEXT NOT NULL,             -- mail_failing | mail_recovered
    details     TEXT NOT NULL DEFAULT '{}',
    created_at  REAL NOT NULL,
    sent_at     REAL
);
CREATE INDEX staff_notices_pending ON staff_notices(id) WHERE sent_at IS NULL;
CREATE INDEX staff_notices_by_topic ON staff_notices(topic, id);

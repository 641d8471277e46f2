-- When a mail reached the support mailbox (IMAP INTERNALDATE), so mail that
-- waited there long (a mailbox read for the first time, a long outage) still
-- becomes a ticket but gets no automatic answer days later.
ALTER TABLE inbound_mails ADD COLUMN arrived_at REAL;

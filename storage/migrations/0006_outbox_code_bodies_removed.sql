-- A sent or failed activation or reset mail keeps no code at rest (issue 10):
-- from this release on the sender replaces such a mail's `raw` with its headers
-- alone once it is sent or given up (core.outbox.at_rest). Mails sent before
-- keep their Message-ID (threading needs it), recipient and subject in their
-- columns, and this short note instead of the message. secure_delete has the
-- replaced bytes overwritten, so the file keeps no trace of them.
PRAGMA secure_delete = ON;

UPDATE outbox
SET raw = CAST(
    'Message-ID: ' || message_id || char(13, 10)
    || 'X-Petkomm-Body-Removed: a code mail, sent or failed before this was kept'
    || char(13, 10) || char(13, 10)
    || 'The body of this mail was removed: it carried a single-use code.' || char(13, 10)
    AS BLOB)
WHERE kind IN ('activation', 'reset') AND status IN ('sent', 'failed');

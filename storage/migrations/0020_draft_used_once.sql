-- A filled canned answer is used up by whichever comes first: ✅ Elküldöm, a changed text
-- sent in reply to it, or ✖️ Mégse (issue 17, clerk trial). The staff-chat message that
-- shows it (`chat_id`, `message_id`) tells a reply to the draft from a reply to the
-- ticket; `used_by` names the clerk who used it up (shown to whoever comes later).
ALTER TABLE canned_drafts ADD COLUMN chat_id INTEGER;
ALTER TABLE canned_drafts ADD COLUMN message_id INTEGER;
ALTER TABLE canned_drafts ADD COLUMN used_by TEXT;
CREATE INDEX canned_drafts_by_post ON canned_drafts(chat_id, message_id);

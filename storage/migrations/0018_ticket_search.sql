-- Staff search tickets by the words of their messages and subjects (issue 17, point 5).
--
-- Two FTS5 indexes over the existing text (external content: the words are indexed, the
-- text stays only where it was), kept in step by triggers. `remove_diacritics 2` lets
-- "viz" find "víz" and "vizora" "vízóra", as clerks type in a hurry.
CREATE VIRTUAL TABLE ticket_messages_search USING fts5(
    new_text, content = 'ticket_messages', content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER ticket_messages_search_added AFTER INSERT ON ticket_messages BEGIN
    INSERT INTO ticket_messages_search(rowid, new_text) VALUES (new.id, new.new_text);
END;
CREATE TRIGGER ticket_messages_search_removed AFTER DELETE ON ticket_messages BEGIN
    INSERT INTO ticket_messages_search(ticket_messages_search, rowid, new_text)
        VALUES ('delete', old.id, old.new_text);
END;
CREATE TRIGGER ticket_messages_search_changed AFTER UPDATE OF new_text ON ticket_messages BEGIN
    INSERT INTO ticket_messages_search(ticket_messages_search, rowid, new_text)
        VALUES ('delete', old.id, old.new_text);
    INSERT INTO ticket_messages_search(rowid, new_text) VALUES (new.id, new.new_text);
END;
INSERT INTO ticket_messages_search(ticket_messages_search) VALUES ('rebuild');

CREATE VIRTUAL TABLE tickets_search USING fts5(
    subject, content = 'tickets', content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER tickets_search_added AFTER INSERT ON tickets BEGIN
    INSERT INTO tickets_search(rowid, subject) VALUES (new.id, new.subject);
END;
CREATE TRIGGER tickets_search_removed AFTER DELETE ON tickets BEGIN
    INSERT INTO tickets_search(tickets_search, rowid, subject)
        VALUES ('delete', old.id, old.subject);
END;
CREATE TRIGGER tickets_search_changed AFTER UPDATE OF subject ON tickets BEGIN
    INSERT INTO tickets_search(tickets_search, rowid, subject)
        VALUES ('delete', old.id, old.subject);
    INSERT INTO tickets_search(rowid, subject) VALUES (new.id, new.subject);
END;
INSERT INTO tickets_search(tickets_search) VALUES ('rebuild');

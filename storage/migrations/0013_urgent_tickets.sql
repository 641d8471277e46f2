-- Urgent reports (issue 11): a report that speaks of a burst pipe, flowing water, no water,
-- a flood or a gas smell (core/urgency.py) is marked, so staff see it first (🚨). Set when
-- the ticket opens or when a later message of the customer sounds urgent; never unset.
ALTER TABLE tickets ADD COLUMN urgent INTEGER NOT NULL DEFAULT 0 CHECK (urgent IN (0, 1));

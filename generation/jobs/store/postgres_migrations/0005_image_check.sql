-- As migrations/0004_image_check.sql: a done job's image check (decision and scores) as JSON text;
-- NULL when it was not checked.

ALTER TABLE jobs ADD COLUMN image_check TEXT;

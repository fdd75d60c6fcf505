-- As migrations/0002_artifact_keys.sql: rows hold artifact keys ("<job_id>/0.png"), errors are
-- problems as JSON.

ALTER TABLE jobs RENAME COLUMN grid_path TO grid_key;
ALTER TABLE images RENAME COLUMN path TO key;

-- Results are artifacts (generation.jobs.artifacts): rows hold keys like "<job_id>/0.png" instead
-- of file paths. Rows written before this keep their paths, which the local artifact store still
-- reads. `jobs.error` holds a problem as JSON from now on ({"code": ..., fields...}); older plain
-- text reads back as a problem with code "legacy".

ALTER TABLE jobs RENAME COLUMN grid_path TO grid_key;
ALTER TABLE images RENAME COLUMN path TO key;

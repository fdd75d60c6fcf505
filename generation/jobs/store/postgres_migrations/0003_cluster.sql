-- What only the cluster needs (several processes on one database):
-- * submit_key: a front end's key for one submission (its interaction), so a retried submit
--   writes the job and its reservation once;
-- * previews: the latest preview of each running job, which the dispatcher writes and bot
--   processes read when a NOTIFY names the job (NOTIFY payloads are limited to 8,000 bytes);
-- * an index for the dispatcher's look for queued jobs and for finished_between.

ALTER TABLE jobs ADD COLUMN submit_key TEXT UNIQUE;
CREATE INDEX jobs_queued ON jobs (created_at) WHERE status = 'queued';
CREATE INDEX jobs_by_finished ON jobs (finished_at);

CREATE TABLE previews (
    job_id  TEXT PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
    step    INTEGER NOT NULL,
    total   INTEGER NOT NULL,
    png     BYTEA NOT NULL,
    at      DOUBLE PRECISION NOT NULL
);

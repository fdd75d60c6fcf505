-- The SQLite schema of migrations/0001_initial.sql, in PostgreSQL's types: Discord ids are BIGINT,
-- times DOUBLE PRECISION, JSON columns TEXT as there (both stores read and write the same values),
-- and `seq` stands in for SQLite's implicit rowid (the order rows were written in).

CREATE TABLE jobs (
    id          TEXT PRIMARY KEY,
    seq         BIGSERIAL NOT NULL UNIQUE,
    user_id     BIGINT NOT NULL,
    guild_id    BIGINT,
    channel_id  BIGINT,
    role_ids    TEXT NOT NULL DEFAULT '[]',
    priority    INTEGER NOT NULL DEFAULT 1,
    request     TEXT NOT NULL,
    status      TEXT NOT NULL
                CHECK (status IN ('queued', 'running', 'done', 'failed', 'cancelled')),
    created_at  DOUBLE PRECISION NOT NULL,
    started_at  DOUBLE PRECISION,
    finished_at DOUBLE PRECISION,
    gpu_seconds DOUBLE PRECISION NOT NULL DEFAULT 0,
    error       TEXT,
    model_name  TEXT,
    model_hash  TEXT,
    grid_path   TEXT,
    parent_id   TEXT,
    meta        TEXT NOT NULL DEFAULT '{}',
    attempts    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX jobs_by_status ON jobs (status);
CREATE INDEX jobs_by_user ON jobs (user_id, created_at);
CREATE INDEX jobs_by_parent ON jobs (parent_id);

CREATE TABLE images (
    job_id  TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    idx     INTEGER NOT NULL,
    seed    BIGINT NOT NULL,
    path    TEXT NOT NULL,
    PRIMARY KEY (job_id, idx)
);

CREATE TABLE quota_reservations (
    job_id      TEXT PRIMARY KEY,
    user_id     BIGINT NOT NULL,
    seconds     DOUBLE PRECISION NOT NULL,
    created_at  DOUBLE PRECISION NOT NULL
);
CREATE INDEX quota_reservations_by_user ON quota_reservations (user_id);

-- One row per job: a charge is inserted once (ON CONFLICT DO NOTHING), whoever tries again.
CREATE TABLE quota_charges (
    job_id      TEXT PRIMARY KEY,
    user_id     BIGINT NOT NULL,
    day         TEXT NOT NULL,
    seconds     DOUBLE PRECISION NOT NULL,
    charged_at  DOUBLE PRECISION NOT NULL
);
CREATE INDEX quota_charges_by_user_day ON quota_charges (user_id, day);

CREATE TABLE quota_grants (
    id          BIGSERIAL PRIMARY KEY,
    user_id     BIGINT NOT NULL,
    day         TEXT NOT NULL,
    seconds     DOUBLE PRECISION NOT NULL,
    granted_at  DOUBLE PRECISION NOT NULL
);
CREATE INDEX quota_grants_by_user_day ON quota_grants (user_id, day);

CREATE TABLE quota_overrides (
    user_id     BIGINT PRIMARY KEY,
    seconds     DOUBLE PRECISION,
    updated_at  DOUBLE PRECISION NOT NULL
);

CREATE TABLE guild_settings (
    guild_id    BIGINT NOT NULL,
    key         TEXT NOT NULL,
    value       TEXT NOT NULL,
    PRIMARY KEY (guild_id, key)
);

CREATE TABLE state (
    key         TEXT PRIMARY KEY,
    value       TEXT NOT NULL
);

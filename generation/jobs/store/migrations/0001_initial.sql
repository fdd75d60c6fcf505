-- Jobs, their images, quotas and per-server settings. Applied by generation.store at start;
-- PRAGMA user_version records the last migration applied.

CREATE TABLE jobs (
    id          TEXT PRIMARY KEY,                -- short, url-safe
    user_id     INTEGER NOT NULL,
    guild_id    INTEGER,
    channel_id  INTEGER,
    role_ids    TEXT NOT NULL DEFAULT '[]',      -- JSON list of ints
    priority    INTEGER NOT NULL DEFAULT 1,      -- 0: a priority role's class
    request     TEXT NOT NULL,                   -- GenerationRequest.to_dict() as JSON
    status      TEXT NOT NULL
                CHECK (status IN ('queued', 'running', 'done', 'failed', 'cancelled')),
    created_at  REAL NOT NULL,
    started_at  REAL,
    finished_at REAL,
    gpu_seconds REAL NOT NULL DEFAULT 0,
    error       TEXT,
    model_name  TEXT,
    model_hash  TEXT,
    grid_path   TEXT,
    parent_id   TEXT,
    meta        TEXT NOT NULL DEFAULT '{}',      -- front-end data, JSON object
    attempts    INTEGER NOT NULL DEFAULT 0       -- times the job was started
);
CREATE INDEX jobs_by_status ON jobs (status);
CREATE INDEX jobs_by_user ON jobs (user_id, created_at);
CREATE INDEX jobs_by_parent ON jobs (parent_id);

CREATE TABLE images (
    job_id  TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    idx     INTEGER NOT NULL,
    seed    INTEGER NOT NULL,
    path    TEXT NOT NULL,
    PRIMARY KEY (job_id, idx)
);

-- GPU seconds held by a job from submit until it is charged, failed or cancelled.
CREATE TABLE quota_reservations (
    job_id      TEXT PRIMARY KEY,
    user_id     INTEGER NOT NULL,
    seconds     REAL NOT NULL,
    created_at  REAL NOT NULL
);
CREATE INDEX quota_reservations_by_user ON quota_reservations (user_id);

-- What a finished job cost; one row per job, so charging is idempotent.
CREATE TABLE quota_charges (
    job_id      TEXT PRIMARY KEY,
    user_id     INTEGER NOT NULL,
    day         TEXT NOT NULL,                   -- quota day, YYYY-MM-DD
    seconds     REAL NOT NULL,
    charged_at  REAL NOT NULL
);
CREATE INDEX quota_charges_by_user_day ON quota_charges (user_id, day);

CREATE TABLE quota_grants (
    id          INTEGER PRIMARY KEY,
    user_id     INTEGER NOT NULL,
    day         TEXT NOT NULL,
    seconds     REAL NOT NULL,
    granted_at  REAL NOT NULL
);
CREATE INDEX quota_grants_by_user_day ON quota_grants (user_id, day);

CREATE TABLE quota_overrides (
    user_id     INTEGER PRIMARY KEY,
    seconds     REAL,                            -- NULL: unlimited
    updated_at  REAL NOT NULL
);

CREATE TABLE guild_settings (
    guild_id    INTEGER NOT NULL,
    key         TEXT NOT NULL,
    value       TEXT NOT NULL,                   -- JSON
    PRIMARY KEY (guild_id, key)
);

-- The scheduler's own state (the active model).
CREATE TABLE state (
    key         TEXT PRIMARY KEY,
    value       TEXT NOT NULL                    -- JSON
);

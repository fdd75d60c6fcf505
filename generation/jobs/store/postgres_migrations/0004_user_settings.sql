-- Each user's own defaults (the bot's /settings: model, sampler, steps, remix, ...), one JSON
-- object a user (SQLite's migration 0003). The front end owns the keys; the store keeps the object.

CREATE TABLE user_settings (
    user_id     BIGINT PRIMARY KEY,
    value       TEXT NOT NULL,                   -- JSON object
    updated_at  DOUBLE PRECISION NOT NULL
);

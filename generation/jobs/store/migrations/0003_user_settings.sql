-- Each user's own defaults (the bot's /settings: model, sampler, steps, remix, ...), one JSON
-- object a user. The front end owns the keys; the store keeps the object as given.

CREATE TABLE user_settings (
    user_id     INTEGER PRIMARY KEY,
    value       TEXT NOT NULL,                   -- JSON object
    updated_at  REAL NOT NULL
);

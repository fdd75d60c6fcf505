-- What a job's images were made with, as its worker reported it (SQLite's migration 0005): the
-- LoRAs, embeddings, VAE and clip skip, and what was left out and why, as JSON. NULL for jobs not
-- done, and for those done before this was kept.

ALTER TABLE jobs ADD COLUMN applied TEXT;

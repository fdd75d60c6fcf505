-- The image check (generation.safety): a done job's decision and its scores, as JSON
-- (ImageCheck.to_dict: the mode, each image's scores and whether it was flagged, a failure).
-- NULL: not checked (the mode was off, or the job is older than the check).

ALTER TABLE jobs ADD COLUMN image_check TEXT;

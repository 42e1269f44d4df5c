-- Files of a job whose parse records came from the parse cache (issue 10: /status filesReused).
ALTER TABLE jobs ADD COLUMN files_reused INTEGER NOT NULL DEFAULT 0;

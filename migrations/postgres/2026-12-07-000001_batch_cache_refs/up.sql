-- A counted parse batch's parse-cache refs (JSON: {"refs": [[key, pack], ...], "reused": n}),
-- read by merge in one query instead of one work blob per batch.
ALTER TABLE batch_results ADD COLUMN cache_refs TEXT;

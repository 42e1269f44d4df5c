ALTER TABLE batch_results DROP COLUMN cache_refs;

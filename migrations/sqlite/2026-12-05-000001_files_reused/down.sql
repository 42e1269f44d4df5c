ALTER TABLE jobs DROP COLUMN files_reused;

-- The claim picks the oldest claimable task: ORDER BY available_at, created_at. With only
-- available_at in the index, the tie-break sorted every queued task of the queue on each claim
-- (all of a job's parse batches share one available_at), so claiming n batches cost O(n²).
DROP INDEX tasks_claim_idx;
CREATE INDEX tasks_claim_idx ON tasks (state, queue, available_at, created_at);

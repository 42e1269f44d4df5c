DROP INDEX tasks_claim_idx;
CREATE INDEX tasks_claim_idx ON tasks (state, queue, available_at);

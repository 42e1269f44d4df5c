//! Every Redis key the queue touches, built in one place (Python RQ 3.x layout,
//! docs/operations.md#queues-and-keys).
//!
//! The prefix is `rq` by default and comes from the `rq_key_prefix` setting (env
//! `RQ_KEY_PREFIX`, the variable Python RQ reads too), so a provis worker and `rq info` started
//! with the same value see the same keys. Tests use a unique prefix each so they can share one
//! Redis.

/// Builds the RQ key names under one prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keys {
    prefix: String,
}

impl Keys {
    /// Keys under `prefix` (e.g. `rq`). The prefix must be non-empty and use only the characters
    /// RQ accepts (letters, digits and `_ . : - { }`), so Python RQ can be pointed at the same keys.
    pub fn new(prefix: &str) -> Result<Self, String> {
        crate::config::check_rq_key_prefix(prefix)?;
        Ok(Self {
            prefix: prefix.to_string(),
        })
    }

    /// The prefix itself.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// `rq:queues` — set of queue keys (not names).
    pub fn queues(&self) -> String {
        format!("{}:queues", self.prefix)
    }

    /// `rq:queue:` — prefix of queue keys, used to turn a queue key back into a name.
    pub fn queue_prefix(&self) -> String {
        format!("{}:queue:", self.prefix)
    }

    /// `rq:queue:<q>` — list of job ids waiting in queue `q`.
    pub fn queue(&self, q: &str) -> String {
        format!("{}:queue:{q}", self.prefix)
    }

    /// `rq:queue:<q>:intermediate` — ids popped by a worker but not yet started.
    pub fn intermediate(&self, q: &str) -> String {
        format!("{}:queue:{q}:intermediate", self.prefix)
    }

    /// `rq:queue:<q>:intermediate:first_seen:` — prefix of the markers (RQ's own format) the
    /// recovery sweep uses to age intermediate entries.
    pub fn first_seen_prefix(&self, q: &str) -> String {
        format!("{}:queue:{q}:intermediate:first_seen:", self.prefix)
    }

    /// `rq:job:` — prefix of job hashes.
    pub fn job_prefix(&self) -> String {
        format!("{}:job:", self.prefix)
    }

    /// `rq:job:<id>` — the job hash.
    pub fn job(&self, id: &str) -> String {
        format!("{}:job:{id}", self.prefix)
    }

    /// `rq:results:` — prefix of result streams.
    pub fn results_prefix(&self) -> String {
        format!("{}:results:", self.prefix)
    }

    /// `rq:results:<id>` — stream of execution results of a job.
    pub fn results(&self, id: &str) -> String {
        format!("{}:results:{id}", self.prefix)
    }

    /// `rq:wip:<q>` — started registry; members `<job_id>:<execution_id>`, scored by lease expiry.
    pub fn wip(&self, q: &str) -> String {
        format!("{}:wip:{q}", self.prefix)
    }

    /// `rq:finished:<q>` — finished registry, scored by expiry.
    pub fn finished(&self, q: &str) -> String {
        format!("{}:finished:{q}", self.prefix)
    }

    /// `rq:failed:<q>` — failed registry, scored by expiry.
    pub fn failed(&self, q: &str) -> String {
        format!("{}:failed:{q}", self.prefix)
    }

    /// `rq:scheduled:<q>` — retries waiting for their backoff, scored by due unix time.
    pub fn scheduled(&self, q: &str) -> String {
        format!("{}:scheduled:{q}", self.prefix)
    }

    /// `rq:workers` — set of worker keys.
    pub fn workers(&self) -> String {
        format!("{}:workers", self.prefix)
    }

    /// `rq:workers:` — prefix of the per-queue worker sets.
    pub fn workers_by_queue_prefix(&self) -> String {
        format!("{}:workers:", self.prefix)
    }

    /// `rq:workers:<q>` — worker keys listening on queue `q`.
    pub fn workers_by_queue(&self, q: &str) -> String {
        format!("{}:workers:{q}", self.prefix)
    }

    /// `rq:worker:<name>` — worker hash (heartbeat, state, counters), with a TTL.
    pub fn worker(&self, name: &str) -> String {
        format!("{}:worker:{name}", self.prefix)
    }

    /// `rq:provis:lock:<name>` — a lock provis's own maintenance takes so that one process
    /// at a time runs it (the reconciler); not part of RQ's layout, RQ ignores it.
    pub fn lock(&self, name: &str) -> String {
        format!("{}:provis:lock:{name}", self.prefix)
    }

    /// `rq:suspended` — when present, workers start no new job (`rq suspend`).
    pub fn suspended(&self) -> String {
        format!("{}:suspended", self.prefix)
    }
}

impl Default for Keys {
    fn default() -> Self {
        Self {
            prefix: crate::config::DEFAULT_RQ_KEY_PREFIX.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_layout_is_rq() {
        let k = Keys::default();
        assert_eq!(k.queue("high"), "rq:queue:high");
        assert_eq!(k.intermediate("high"), "rq:queue:high:intermediate");
        assert_eq!(k.wip("normal"), "rq:wip:normal");
        assert_eq!(k.worker("w1"), "rq:worker:w1");
        assert_eq!(k.workers_by_queue("low"), "rq:workers:low");
        assert_eq!(k.job("ingest_x"), "rq:job:ingest_x");
    }

    #[test]
    fn prefix_is_validated() {
        assert!(Keys::new("provis-test-1").is_ok());
        assert!(Keys::new("").is_err());
        assert!(Keys::new("bad prefix").is_err());
        assert_eq!(Keys::new("t1").expect("valid").queues(), "t1:queues");
    }
}

//! Redis key and field names of the status overlay and event streams: the only place they are
//! formed (docs/events.md#where-they-live). A bus-wide prefix (empty in production) isolates tests
//! and deployments.

use std::time::Duration;

use uuid::Uuid;

/// How long a status hash and an event stream live after their last write (refreshed on write).
pub const DEFAULT_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// Approximate cap on entries kept per event stream (`XADD MAXLEN ~`); the `events` table keeps
/// everything, the stream only has to cover live followers.
pub const STREAM_MAXLEN: u64 = 100_000;

/// Stream entry field holding the event's `seq`.
pub const FIELD_SEQ: &str = "seq";
/// Stream entry field holding the event's JSON.
pub const FIELD_EVENT: &str = "event";

/// `job:<job_id>:status` — the status overlay hash.
pub fn status_key(prefix: &str, job_id: Uuid) -> String {
    format!("{prefix}job:{job_id}:status")
}

/// `job:<job_id>:events` — the live event stream.
pub fn events_key(prefix: &str, job_id: Uuid) -> String {
    format!("{prefix}job:{job_id}:events")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_shapes() {
        let id = Uuid::nil();
        assert_eq!(
            status_key("", id),
            "job:00000000-0000-0000-0000-000000000000:status"
        );
        assert_eq!(
            events_key("t1:", id),
            "t1:job:00000000-0000-0000-0000-000000000000:events"
        );
    }
}

//! The one Diesel schema for both backends, written by hand (docs/architecture.md#state).
//!
//! `diesel print-schema` cannot be used: it needs libpq and knows nothing of the custom
//! [`PUuid`](super::types::PUuid), [`PTimestamptz`](super::types::PTimestamptz) and
//! [`PJson`](super::types::PJson) types. Keep this file in step with both trees under
//! `migrations/`; the tests in `tests/integration/db.rs` run every query against both, so a column that
//! drifts fails there.
//!
//! Columns are documented on the row structs of [`models`](super::models), which mirror them.
#![allow(missing_docs)]

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::{PUuid, PTimestamptz};

    /// A repository, identified by its name.
    repos (id) {
        id -> PUuid,
        name -> Text,
        owner_id -> Nullable<Text>,
        created_at -> PTimestamptz,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::{PUuid, PTimestamptz};

    /// One analysed state of a repo: content hash plus settings hash.
    snapshots (id) {
        id -> PUuid,
        repo_id -> PUuid,
        commit_hash -> Text,
        settings_hash -> Text,
        source -> Text,
        status -> Text,
        created_at -> PTimestamptz,
        updated_at -> PTimestamptz,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::{PUuid, PTimestamptz, PJson};

    /// One run of the pipeline for an upload, with its progress counters.
    jobs (id) {
        id -> PUuid,
        repo_id -> PUuid,
        snapshot_id -> Nullable<PUuid>,
        phase -> Text,
        pct -> Integer,
        priority -> Text,
        error -> Nullable<Text>,
        upload_key -> Nullable<Text>,
        upload_bytes -> BigInt,
        files_total -> Integer,
        batches_total -> Integer,
        batches_done -> Integer,
        files_parsed -> Integer,
        files_reused -> Integer,
        imports_total -> Integer,
        imports_internal -> Integer,
        imports_external -> Integer,
        imports_unresolved -> Integer,
        warnings_count -> Integer,
        cache_hit -> Bool,
        merge_enqueued -> Bool,
        settings -> PJson,
        timings -> PJson,
        started_at -> Nullable<PTimestamptz>,
        finished_at -> Nullable<PTimestamptz>,
        created_at -> PTimestamptz,
        updated_at -> PTimestamptz,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::{PUuid, PTimestamptz, PJson};

    /// Every task execution, and the durable embedded queue.
    tasks (id) {
        id -> PUuid,
        job_id -> Nullable<PUuid>,
        name -> Text,
        batch_index -> Nullable<Integer>,
        queue -> Text,
        state -> Text,
        attempt -> Integer,
        max_attempts -> Integer,
        payload -> PJson,
        available_at -> PTimestamptz,
        lease_until -> Nullable<PTimestamptz>,
        worker -> Nullable<Text>,
        started_at -> Nullable<PTimestamptz>,
        ended_at -> Nullable<PTimestamptz>,
        error -> Nullable<Text>,
        created_at -> PTimestamptz,
        updated_at -> PTimestamptz,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::{PUuid, PTimestamptz};

    /// Versioned, create-only artifacts of a snapshot.
    artifacts (id) {
        id -> PUuid,
        snapshot_id -> PUuid,
        kind -> Text,
        version -> Integer,
        uri -> Text,
        bytes -> BigInt,
        schema_version -> Integer,
        generator_version -> Text,
        job_id -> Nullable<PUuid>,
        ready -> Bool,
        created_at -> PTimestamptz,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::{PUuid, PTimestamptz, PJson};

    /// The durable event log of a job; `seq` is 1, 2, 3… per job.
    events (id) {
        id -> PUuid,
        job_id -> PUuid,
        seq -> BigInt,
        #[sql_name = "type"]
        event_type -> Text,
        payload -> PJson,
        created_at -> PTimestamptz,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::{PUuid, PTimestamptz};

    /// Non-fatal problems found while processing a job.
    warnings (id) {
        id -> PUuid,
        job_id -> PUuid,
        snapshot_id -> Nullable<PUuid>,
        file_path -> Nullable<Text>,
        code -> Text,
        message -> Text,
        created_at -> PTimestamptz,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::{PUuid, PTimestamptz};

    /// Fan-in guard: one row per parse batch that has been counted.
    batch_results (job_id, batch_index) {
        job_id -> PUuid,
        batch_index -> Integer,
        files_parsed -> Integer,
        done -> Bool,
        created_at -> PTimestamptz,
        cache_refs -> Nullable<Text>,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    repos,
    snapshots,
    jobs,
    tasks,
    artifacts,
    events,
    warnings,
    batch_results,
);

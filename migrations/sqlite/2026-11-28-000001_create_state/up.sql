-- provis state (DESIGN §3), SQLite flavour. Keep in step with migrations/postgres and
-- src/db/schema.rs. UUIDs are hyphenated TEXT; times are TEXT in fixed-width RFC 3339
-- ('2026-11-28T12:00:00.000000Z', so text order is time order) and always written by the
-- application; JSON is TEXT so the sqlite3 CLI of any version can read it; booleans are 0/1.

CREATE TABLE repos (
    id          TEXT NOT NULL PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    owner_id    TEXT,
    created_at  TEXT NOT NULL
);

CREATE TABLE snapshots (
    id             TEXT NOT NULL PRIMARY KEY,
    repo_id        TEXT NOT NULL REFERENCES repos (id) ON DELETE CASCADE,
    commit_hash    TEXT NOT NULL,
    settings_hash  TEXT NOT NULL,
    source         TEXT NOT NULL,
    status         TEXT NOT NULL DEFAULT 'processing'
                   CHECK (status IN ('processing', 'completed', 'failed')),
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    UNIQUE (repo_id, commit_hash, settings_hash)
);
CREATE INDEX snapshots_repo_status_idx ON snapshots (repo_id, status, updated_at);

CREATE TABLE jobs (
    id                  TEXT NOT NULL PRIMARY KEY,
    repo_id             TEXT NOT NULL REFERENCES repos (id) ON DELETE CASCADE,
    snapshot_id         TEXT REFERENCES snapshots (id) ON DELETE SET NULL,
    phase               TEXT NOT NULL DEFAULT 'queued',
    pct                 INTEGER NOT NULL DEFAULT 0 CHECK (pct BETWEEN 0 AND 100),
    priority            TEXT NOT NULL DEFAULT 'normal',
    error               TEXT,
    upload_key          TEXT,
    upload_bytes        BIGINT NOT NULL DEFAULT 0,
    files_total         INTEGER NOT NULL DEFAULT 0,
    batches_total       INTEGER NOT NULL DEFAULT 0,
    batches_done        INTEGER NOT NULL DEFAULT 0,
    files_parsed        INTEGER NOT NULL DEFAULT 0,
    imports_total       INTEGER NOT NULL DEFAULT 0,
    imports_internal    INTEGER NOT NULL DEFAULT 0,
    imports_external    INTEGER NOT NULL DEFAULT 0,
    imports_unresolved  INTEGER NOT NULL DEFAULT 0,
    warnings_count      INTEGER NOT NULL DEFAULT 0,
    cache_hit           INTEGER NOT NULL DEFAULT 0 CHECK (cache_hit IN (0, 1)),
    merge_enqueued      INTEGER NOT NULL DEFAULT 0 CHECK (merge_enqueued IN (0, 1)),
    settings            TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(settings)),
    timings             TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(timings)),
    started_at          TEXT,
    finished_at         TEXT,
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL
);
CREATE INDEX jobs_repo_idx ON jobs (repo_id, created_at);
CREATE INDEX jobs_snapshot_idx ON jobs (snapshot_id);

-- Every task execution, and the durable embedded queue (claimed by state/queue/available_at).
CREATE TABLE tasks (
    id            TEXT NOT NULL PRIMARY KEY,
    job_id        TEXT REFERENCES jobs (id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    batch_index   INTEGER,
    queue         TEXT NOT NULL,
    state         TEXT NOT NULL DEFAULT 'queued'
                  CHECK (state IN ('queued', 'running', 'done', 'failed')),
    attempt       INTEGER NOT NULL DEFAULT 0,
    max_attempts  INTEGER NOT NULL DEFAULT 1,
    payload       TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(payload)),
    available_at  TEXT NOT NULL,
    lease_until   TEXT,
    worker        TEXT,
    started_at    TEXT,
    ended_at      TEXT,
    error         TEXT,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);
CREATE INDEX tasks_claim_idx ON tasks (state, queue, available_at);
CREATE INDEX tasks_lease_idx ON tasks (state, lease_until);
CREATE INDEX tasks_job_idx ON tasks (job_id);

CREATE TABLE artifacts (
    id                 TEXT NOT NULL PRIMARY KEY,
    snapshot_id        TEXT NOT NULL REFERENCES snapshots (id) ON DELETE CASCADE,
    kind               TEXT NOT NULL,
    version            INTEGER NOT NULL CHECK (version >= 1),
    uri                TEXT NOT NULL DEFAULT '',
    bytes              BIGINT NOT NULL DEFAULT 0,
    schema_version     INTEGER NOT NULL,
    generator_version  TEXT NOT NULL,
    job_id             TEXT REFERENCES jobs (id) ON DELETE SET NULL,
    ready              INTEGER NOT NULL DEFAULT 0 CHECK (ready IN (0, 1)),
    created_at         TEXT NOT NULL,
    UNIQUE (snapshot_id, kind, version)
);
CREATE INDEX artifacts_job_idx ON artifacts (snapshot_id, kind, job_id);

CREATE TABLE events (
    id          TEXT NOT NULL PRIMARY KEY,
    job_id      TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    seq         BIGINT NOT NULL CHECK (seq >= 1),
    type        TEXT NOT NULL,
    payload     TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(payload)),
    created_at  TEXT NOT NULL,
    UNIQUE (job_id, seq)
);

CREATE TABLE warnings (
    id           TEXT NOT NULL PRIMARY KEY,
    job_id       TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    snapshot_id  TEXT REFERENCES snapshots (id) ON DELETE SET NULL,
    file_path    TEXT,
    code         TEXT NOT NULL,
    message      TEXT NOT NULL,
    created_at   TEXT NOT NULL
);
CREATE INDEX warnings_job_idx ON warnings (job_id, created_at);

-- Fan-in guard: a parse batch is counted once, however often it is retried.
CREATE TABLE batch_results (
    job_id        TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    batch_index   INTEGER NOT NULL CHECK (batch_index >= 0),
    files_parsed  INTEGER NOT NULL DEFAULT 0,
    done          INTEGER NOT NULL DEFAULT 1 CHECK (done IN (0, 1)),
    created_at    TEXT NOT NULL,
    PRIMARY KEY (job_id, batch_index)
);

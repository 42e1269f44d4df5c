-- provis state (DESIGN §3), Postgres flavour. Keep in step with migrations/sqlite and
-- src/db/schema.rs. Times are written by the application (UTC, microseconds); the
-- defaults only help people who insert rows by hand in psql.

CREATE TABLE repos (
    id          UUID PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    owner_id    TEXT,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE snapshots (
    id             UUID PRIMARY KEY,
    repo_id        UUID NOT NULL REFERENCES repos (id) ON DELETE CASCADE,
    commit_hash    TEXT NOT NULL,
    settings_hash  TEXT NOT NULL,
    source         TEXT NOT NULL,
    status         TEXT NOT NULL DEFAULT 'processing'
                   CHECK (status IN ('processing', 'completed', 'failed')),
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (repo_id, commit_hash, settings_hash)
);
CREATE INDEX snapshots_repo_status_idx ON snapshots (repo_id, status, updated_at);

CREATE TABLE jobs (
    id                  UUID PRIMARY KEY,
    repo_id             UUID NOT NULL REFERENCES repos (id) ON DELETE CASCADE,
    snapshot_id         UUID REFERENCES snapshots (id) ON DELETE SET NULL,
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
    cache_hit           BOOLEAN NOT NULL DEFAULT FALSE,
    merge_enqueued      BOOLEAN NOT NULL DEFAULT FALSE,
    settings            JSONB NOT NULL DEFAULT '{}',
    timings             JSONB NOT NULL DEFAULT '{}',
    started_at          TIMESTAMPTZ,
    finished_at         TIMESTAMPTZ,
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at          TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX jobs_repo_idx ON jobs (repo_id, created_at);
CREATE INDEX jobs_snapshot_idx ON jobs (snapshot_id);

-- Every task execution, and the durable embedded queue (claimed by state/queue/available_at).
CREATE TABLE tasks (
    id            UUID PRIMARY KEY,
    job_id        UUID REFERENCES jobs (id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    batch_index   INTEGER,
    queue         TEXT NOT NULL,
    state         TEXT NOT NULL DEFAULT 'queued'
                  CHECK (state IN ('queued', 'running', 'done', 'failed')),
    attempt       INTEGER NOT NULL DEFAULT 0,
    max_attempts  INTEGER NOT NULL DEFAULT 1,
    payload       JSONB NOT NULL DEFAULT '{}',
    available_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    lease_until   TIMESTAMPTZ,
    worker        TEXT,
    started_at    TIMESTAMPTZ,
    ended_at      TIMESTAMPTZ,
    error         TEXT,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX tasks_claim_idx ON tasks (state, queue, available_at);
CREATE INDEX tasks_lease_idx ON tasks (state, lease_until);
CREATE INDEX tasks_job_idx ON tasks (job_id);

CREATE TABLE artifacts (
    id                 UUID PRIMARY KEY,
    snapshot_id        UUID NOT NULL REFERENCES snapshots (id) ON DELETE CASCADE,
    kind               TEXT NOT NULL,
    version            INTEGER NOT NULL CHECK (version >= 1),
    uri                TEXT NOT NULL DEFAULT '',
    bytes              BIGINT NOT NULL DEFAULT 0,
    schema_version     INTEGER NOT NULL,
    generator_version  TEXT NOT NULL,
    job_id             UUID REFERENCES jobs (id) ON DELETE SET NULL,
    ready              BOOLEAN NOT NULL DEFAULT FALSE,
    created_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (snapshot_id, kind, version)
);
CREATE INDEX artifacts_job_idx ON artifacts (snapshot_id, kind, job_id);

CREATE TABLE events (
    id          UUID PRIMARY KEY,
    job_id      UUID NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    seq         BIGINT NOT NULL CHECK (seq >= 1),
    type        TEXT NOT NULL,
    payload     JSONB NOT NULL DEFAULT '{}',
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (job_id, seq)
);

CREATE TABLE warnings (
    id           UUID PRIMARY KEY,
    job_id       UUID NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    snapshot_id  UUID REFERENCES snapshots (id) ON DELETE SET NULL,
    file_path    TEXT,
    code         TEXT NOT NULL,
    message      TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX warnings_job_idx ON warnings (job_id, created_at);

-- Fan-in guard: a parse batch is counted once, however often it is retried.
CREATE TABLE batch_results (
    job_id        UUID NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    batch_index   INTEGER NOT NULL CHECK (batch_index >= 0),
    files_parsed  INTEGER NOT NULL DEFAULT 0,
    done          BOOLEAN NOT NULL DEFAULT TRUE,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (job_id, batch_index)
);

#!/usr/bin/env bash
# `scripts/bench e2e`: end-to-end wall times and peak memory of the release binary.
#
#   analyze      `provis analyze <zip>` into a fresh --out (no cache), BENCH_RUNS times per corpus,
#                with the sandbox on (default) and PARSER_SANDBOX=false
#   all-in-one   `provis all-in-one` on a fresh data dir; POST /ingest of the zip, then the job's
#                SSE stream until `event: done` (upload→done), sandbox on and off
#   cluster      `provis serve` + BENCH_CLUSTER_WORKERS `provis work` processes on Postgres (fresh
#                schema) / Redis (private RQ prefix) / S3 (moto, fresh bucket); upload→done
#
# Peak memory is `/usr/bin/time -v`'s "Maximum resident set size" of each provis process (it
# covers the largest of its waited-for children too, i.e. parser children). A benchmark, not a
# test: it checks only that every job ended `done`.
#
# Environment: PROVIS_BIN (required), BENCH_CORPORA (from corpora.sh), BENCH_RUNS (default 3),
# BENCH_E2E ("analyze all-in-one cluster" by default), BENCH_CLUSTER_WORKERS ("1 2"),
# BENCH_WORKER_CONCURRENCY (`provis work --concurrency`, default 2: one slot per core),
# BENCH_E2E_ZIPS (space-separated zips instead of mui-material and django),
# TEST_DATABASE_URL, TEST_REDIS_URL, TEST_S3_ENDPOINT (the test services' defaults),
# BENCH_S3_KEY / BENCH_S3_SECRET (default bench/bench, which moto takes; another S3 server
# may want its own),
# BENCH_JOB_TIMEOUT_S (default 300: a job not done by then fails the run), BENCH_KEEP=1 (keep
# the logs and data dirs).
set -euo pipefail

bin="${PROVIS_BIN:?PROVIS_BIN must name a provis release binary}"
corpora="${BENCH_CORPORA:?BENCH_CORPORA must name the corpora directory}"
runs="${BENCH_RUNS:-3}"
read -r -a parts <<<"${BENCH_E2E:-analyze all-in-one cluster}"
read -r -a cluster_workers <<<"${BENCH_CLUSTER_WORKERS:-1 2}"
worker_concurrency="${BENCH_WORKER_CONCURRENCY:-2}"
db_url="${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
redis_url="${TEST_REDIS_URL:-redis://127.0.0.1:6379}"
s3_endpoint="${TEST_S3_ENDPOINT:-http://127.0.0.1:9000}"
s3_key="${BENCH_S3_KEY:-bench}"
s3_secret="${BENCH_S3_SECRET:-bench}"
if [[ -n "${BENCH_E2E_ZIPS:-}" ]]; then read -r -a zips <<<"$BENCH_E2E_ZIPS"; else zips=("$corpora/mui-material.zip" "$corpora/django.zip"); fi
timev=/usr/bin/time
[[ -x "$timev" ]] || { echo "bench e2e: /usr/bin/time is missing (apt-get install time)" >&2; exit 2; }

work=$(mktemp -d /var/tmp/provis-bench/e2e.XXXXXX)
pids=()
cleanup() {
    local p
    for p in "${pids[@]}"; do stop "$p"; done
    wait 2>/dev/null || true
    if [[ "${BENCH_KEEP:-0}" == 1 ]]; then echo "bench e2e: logs kept in $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
source "$here/lib.sh"

echo "bench e2e: load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for zip in "${zips[@]}"; do
    name=$(basename "$zip" .zip)
    size=$(stat -c %s "$zip")
    echo "== corpus $name ($zip, $size bytes zipped)"
    for part in "${parts[@]}"; do
        case "$part" in
        analyze)
            for sandbox in true false; do
                for run in $(seq 1 "$runs"); do
                    out="$work/analyze-$name-$sandbox-$run"
                    t0=$(now)
                    PARSER_SANDBOX=$sandbox RUST_LOG=warn "$timev" -v -o "$out.time" \
                        "$bin" analyze "$zip" --out "$out" --json >"$out.json"
                    t1=$(now)
                    files=$(jq -r '.files // .totalFiles // empty' "$out.json" 2>/dev/null | head -1)
                    echo "analyze $name sandbox=$sandbox run=$run: $(secs "$t0" "$t1") s, max RSS $(maxrss "$out.time") MB${files:+, files $files}"
                done
            done
            ;;
        all-in-one)
            for sandbox in true false; do
                for run in $(seq 1 "$runs"); do
                    port=$(free_port)
                    dir="$work/aio-$name-$sandbox-$run"
                    mkdir -p "$dir"
                    PARSER_SANDBOX=$sandbox RUST_LOG=warn "$timev" -v -o "$dir.time" \
                        "$bin" all-in-one --port "$port" --data-dir "$dir" >"$dir.log" 2>&1 &
                    pid=$!
                    pids+=("$pid")
                    wait_health "$port"
                    read -r s job < <(upload "$zip" "$port")
                    stop "$pid"
                    echo "all-in-one $name sandbox=$sandbox run=$run: upload→done $s s, max RSS $(maxrss "$dir.time") MB (job $job)"
                done
            done
            ;;
        cluster)
            for nw in "${cluster_workers[@]}"; do
                for run in $(seq 1 "$runs"); do
                    tag="bench$$x${nw}x$run$(date +%s%N | tail -c 6)"
                    schema="provis_$tag"
                    psql "$db_url" -qc "CREATE SCHEMA $schema" >/dev/null
                    export DATABASE_URL="$db_url?options=-csearch_path%3D$schema"
                    export REDIS_URL="$redis_url" RQ_KEY_PREFIX="$tag"
                    export S3_ENDPOINT_URL="$s3_endpoint" S3_BUCKET="$tag"
                    export S3_ACCESS_KEY_ID="$s3_key" S3_SECRET_ACCESS_KEY="$s3_secret"
                    export RUST_S3_SKIP_LOCATION_CONSTRAINT=true RUST_LOG=warn
                    dir="$work/cluster-$name-$nw-$run"
                    mkdir -p "$dir"
                    "$bin" migrate >"$dir.migrate.log" 2>&1
                    port=$(free_port)
                    "$timev" -v -o "$dir.serve.time" "$bin" serve --port "$port" >"$dir.serve.log" 2>&1 &
                    serve=$!
                    pids+=("$serve")
                    workers=()
                    for w in $(seq 1 "$nw"); do
                        PROVIS_DATA_DIR="$dir/w$w" "$timev" -v -o "$dir.work$w.time" \
                            "$bin" work --name "$tag-$w" --concurrency "$worker_concurrency" >"$dir.work$w.log" 2>&1 &
                        workers+=("$!")
                        pids+=("$!")
                    done
                    wait_health "$port"
                    s3_port=$(sed -E 's#^[a-z]+://[^:/]+:?([0-9]*).*#\1#' <<<"$s3_endpoint")
                    s3_cpu0=$(listener_cpu "${s3_port:-80}")
                    read -r s job < <(upload "$zip" "$port")
                    s3_cpu1=$(listener_cpu "${s3_port:-80}")
                    for w in "${workers[@]}"; do stop "$w"; done
                    stop "$serve"
                    rss="serve $(maxrss "$dir.serve.time") MB"
                    for w in $(seq 1 "$nw"); do rss="$rss, worker$w $(maxrss "$dir.work$w.time") MB"; done
                    echo "cluster $name workers=$nw (--concurrency $worker_concurrency) run=$run: upload→done $s s, max RSS $rss (job $job)"
                    # How evenly the parse batches spread (goal: with 2 workers none over 60%).
                    psql "$db_url" -qAt -F ' ' -c "SELECT coalesce(worker, '?'), count(*) FROM $schema.tasks WHERE job_id = '$job' AND name = 'parse_batch' GROUP BY 1 ORDER BY 1" |
                        awk -v nw="$nw" '{n[$1] = $2; t += $2} END {for (w in n) printf "  parse batches on %s: %d of %d (%.0f%%)\n", w, n[w], t, 100 * n[w] / t}'
                    # Where the time went: each stage from its first start to its last end.
                    psql "$db_url" -qAt -F ' ' -c "SELECT name, count(*), round(extract(epoch FROM max(ended_at) - min(started_at))::numeric, 2) FROM $schema.tasks WHERE job_id = '$job' GROUP BY name ORDER BY min(started_at)" |
                        awk '{printf "%s%s %s s%s", (NR == 1 ? "  stages (wall): " : ", "), $1, $3, ($2 > 1 ? " (" $2 " tasks)" : "")} END {print ""}'
                    # The S3 server shares these cores: its CPU during the job (when it is a local
                    # process this user can read).
                    if [[ -n "$s3_cpu0" && -n "$s3_cpu1" ]]; then
                        awk -v a="$s3_cpu0" -v b="$s3_cpu1" 'BEGIN {printf "  S3 server CPU during the job: %.1f s\n", b - a}'
                    fi

                    psql "$db_url" -qc "DROP SCHEMA $schema CASCADE" >/dev/null 2>&1 || true
                    unset DATABASE_URL REDIS_URL RQ_KEY_PREFIX S3_ENDPOINT_URL S3_BUCKET
                done
            done
            ;;
        *)
            echo "bench e2e: unknown part $part" >&2
            exit 2
            ;;
        esac
    done
done
echo "bench e2e: load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

#!/usr/bin/env bash
# `scripts/bench warm` (issue 10 goal 3): incremental re-analysis. One all-in-one server takes
# the monorepo of monorepo.sh (BENCH_WARM_COPIES, default 16: 53.7k files) cold, then the same
# repository with 1% of its source files changed (a comment appended to every 100th .ts/.js/.py
# file, in sorted order). Prints both upload→done times, the ratio (goal: warm <= 25% of cold)
# and `filesReused` of the warm job from /status; then, from the server's log, each task's
# time, the detectors' and the resolution's reuse, and how many zip entries each inspection
# knew from the last upload (not inflated).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
source "$here/lib.sh"
bin="${PROVIS_BIN:?}"
copies="${BENCH_WARM_COPIES:-16}"
work=$(mktemp -d /var/tmp/provis-bench/warm.XXXXXX)
on_exit_stop_and_remove "$work"

zip=$("$here/monorepo.sh" "$copies")
src="${zip%.zip}"
changed="$src-1pct"
if [[ ! -f "$changed.zip" ]]; then
    echo "bench warm: building $changed (1% of the source files changed)" >&2
    rm -rf "$changed"
    cp -al "$src" "$changed"
    # Replace (not write through) the hard-linked files that change.
    (cd "$changed" && find . -type f \( -name '*.ts' -o -name '*.tsx' -o -name '*.js' -o -name '*.py' \) |
        LC_ALL=C sort | awk 'NR % 100 == 0') >"$work/changed.txt"
    while IFS= read -r f; do
        cp --remove-destination "$src/$f" "$changed/$f"
        printf '\n// changed for the warm bench\n' >>"$changed/$f"
    done <"$work/changed.txt"
    zip_dir "$changed" "$changed.zip"
fi
n_changed=$(cd "$changed" && find . -type f \( -name '*.ts' -o -name '*.tsx' -o -name '*.js' -o -name '*.py' \) | LC_ALL=C sort | awk 'NR % 100 == 0' | wc -l)

echo "bench warm: $copies copies, $n_changed files changed, load average before: $(load)"
port=$(free_port)
data="$work/aio"
mkdir -p "$data"
RUST_LOG=warn,provis::queue::worker=info,provis::pipeline::caps=info,provis::pipeline::plan=info,provis::pipeline::ingest=info LOG_FORMAT=json "$bin" all-in-one --port "$port" --data-dir "$data" >"$data.log" 2>&1 &
pid=$!
pids+=("$pid")
wait_health "$port"
read -r cold job_cold < <(upload "$zip" "$port" bench-warm)
read -r warm job_warm < <(upload "$changed.zip" "$port" bench-warm)
status=$(curl -fsS "http://127.0.0.1:$port/status/$job_warm")
reused=$(jq -r .filesReused <<<"$status")
files=$(jq -r .filesDiscovered <<<"$status")
awk -v c="$cold" -v w="$warm" -v r="$reused" -v f="$files" 'BEGIN {
    printf "cold upload→done %.2f s; warm (1%% changed) %.2f s = %.0f%% of cold (goal <= 25%%); files reused %s of %s\n",
        c, w, 100 * w / c, r, f }'
# Where the time goes: each task's wall time (summed over the parse batches) from the log.
for which in cold warm; do
    job=$([[ $which == cold ]] && echo "$job_cold" || echo "$job_warm")
    jq -rs --arg job "$job" --arg which "$which" '
        [.[] | select(.message == "task done" and .job_id == $job)]
        | group_by(.task_name)
        | map("\(.[0].task_name) \(map(.duration_ms) | add) ms" + (if length > 1 then " (\(length) tasks)" else "" end))
        | "  \($which) tasks: " + join(", ")' <(grep '^{' "$data.log")
done
# Inside summarize: the detectors, capabilities and summaries (cold first, then warm).
jq -r 'select(.message == "capabilities and summaries built")
    | "  summarize inside: detect \(.detect_ms) ms (files scanned \(.scanned // "?"), reused \(.reused // "?")), capabilities \(.capabilities_ms) ms, summaries \(.summaries_ms) ms"' \
    <(grep '^{' "$data.log")
# Intake: the zip's inspection, and how many entries an earlier upload's inspection knew.
jq -r 'select(.message == "zip accepted")
    | "  zip inspection: \(.files) files, \(.recognised // 0) known (not inflated), \(.duration_ms) ms"' \
    <(grep '^{' "$data.log")
# Import resolution: JS/TS imports taken from the kept resolutions and resolved afresh.
jq -r 'select(.message == "imports resolved")
    | "  resolution: \(.js_reused) JS/TS imports reused, \(.js_resolved) resolved, \(.resolve_ms) ms"' \
    <(grep '^{' "$data.log")
echo "bench warm: load average after: $(load)"

#!/usr/bin/env bash
# `scripts/bench warm` (issue 10 goal 3): incremental re-analysis. In each of BENCH_WARM_ROUNDS
# rounds (default 3) a fresh all-in-one server takes the monorepo of monorepo.sh
# (BENCH_WARM_COPIES, default 16: 53.7k files) cold, then the same repository with 1% of its
# source files changed (a comment appended to every 100th .ts/.js/.py file in sorted order,
# starting at the round's own offset, so each round changes other files). Prints each round's
# upload→done times, its ratio and `filesReused` of the warm job from /status, then the median
# and range of the ratios (goal: warm <= 25% of cold; this machine's speed drifts from run to
# run, so one round is not a figure); then, from the median round's server log, each task's
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

rounds="${BENCH_WARM_ROUNDS:-3}"
zip=$("$here/monorepo.sh" "$copies")
src="${zip%.zip}"
# changed_zip ROUND: the zip of the monorepo with the round's 1% of its source files changed
# (built once, kept beside the monorepo; round 1's is the `-1pct` one of earlier versions).
changed_zip() {
    local round="$1" changed list
    changed="$src-1pct$([[ $round == 1 ]] || echo "-r$round")"
    if [[ ! -f "$changed.zip" ]]; then
        echo "bench warm: building $changed (1% of the source files changed)" >&2
        rm -rf "$changed"
        cp -al "$src" "$changed"
        list="$work/changed-$round.txt"
        # Replace (not write through) the hard-linked files that change.
        (cd "$changed" && find . -type f \( -name '*.ts' -o -name '*.tsx' -o -name '*.js' -o -name '*.py' \) |
            LC_ALL=C sort | awk -v k="$(((round - 1) % 100))" 'NR % 100 == k') >"$list"
        while IFS= read -r f; do
            cp --remove-destination "$src/$f" "$changed/$f"
            printf '\n// changed for the warm bench\n' >>"$changed/$f"
        done <"$list"
        zip_dir "$changed" "$changed.zip"
        rm -rf "$changed"
    fi
    echo "$changed.zip"
}
changed_zips=()
for r in $(seq 1 "$rounds"); do changed_zips+=("$(changed_zip "$r")"); done

echo "bench warm: $copies copies, $rounds rounds, 1% of the source files changed in each, load average before: $(load)"
ratios=()
for r in $(seq 1 "$rounds"); do
    port=$(free_port)
    data="$work/aio-$r"
    mkdir -p "$data"
    RUST_LOG=warn,provis::queue::worker=info,provis::pipeline::caps=info,provis::pipeline::plan=info,provis::pipeline::ingest=info LOG_FORMAT=json "$bin" all-in-one --port "$port" --data-dir "$data" >"$data.log" 2>&1 &
    pid=$!
    pids+=("$pid")
    wait_health "$port"
    read -r cold job_cold < <(upload "$zip" "$port" bench-warm)
    read -r warm job_warm < <(upload "${changed_zips[$((r - 1))]}" "$port" bench-warm)
    status=$(curl -fsS "http://127.0.0.1:$port/status/$job_warm")
    stop_direct "$pid"
    echo "$job_cold $job_warm" >"$data.jobs"
    reused=$(jq -r .filesReused <<<"$status")
    files=$(jq -r .filesDiscovered <<<"$status")
    ratio=$(awk -v c="$cold" -v w="$warm" 'BEGIN { printf "%.1f", 100 * w / c }')
    ratios+=("$ratio $r")
    awk -v r="$r" -v c="$cold" -v w="$warm" -v p="$ratio" -v u="$reused" -v f="$files" 'BEGIN {
        printf "round %d: cold upload→done %.2f s; warm (1%% changed) %.2f s = %s%% of cold; files reused %s of %s\n",
            r, c, w, p, u, f }'
done
# The median round (of an even count, the lower middle one) and the range.
read -r median_ratio median_round < <(printf '%s\n' "${ratios[@]}" | sort -n | sed -n "$(((rounds + 1) / 2))p")
lo=$(printf '%s\n' "${ratios[@]}" | sort -n | head -1 | cut -d' ' -f1)
hi=$(printf '%s\n' "${ratios[@]}" | sort -n | tail -1 | cut -d' ' -f1)
echo "warm/cold over $rounds rounds: median $median_ratio% (round $median_round), range $lo–$hi% (goal <= 25%)"
data="$work/aio-$median_round"
read -r job_cold job_warm <"$data.jobs"
echo "  round $median_round in detail:"
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

#!/usr/bin/env bash
# `scripts/bench overhead` (issue 10 goal 1): provis's whole pipeline against a bare parse +
# resolve of the same files, in the same run, on the ~2.7k-file TS app (npm @mui/material).
#
#   reference    bench_parse reference: read + oxc_parser + oxc_resolver of every JS/TS file the
#                discovery rules keep, BENCH_THREADS (default: all cores) threads, nothing of provis
#   analyze      `provis analyze mui-material.zip --out <fresh dir>` (process start to exit)
#   all-in-one   a fresh `provis all-in-one`; POST /ingest of the zip → `event: done`
#
# Prints best and median of BENCH_RUNS (default 5) runs of each, and the ratios of analyze to
# the reference (goal: <= 3) and all-in-one's upload→done (goal: <= 0.4 s). Numbers, not a test.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
source "$here/lib.sh"
bin="${PROVIS_BIN:?}"
parse_bin="${BENCH_PARSE_BIN:?}"
corpora="${BENCH_CORPORA:?}"
runs="${BENCH_RUNS:-5}"
threads="${BENCH_THREADS:-$(nproc)}"
dir="$corpora/mui-material"
zip="$corpora/mui-material.zip"
work=$(mktemp -d /var/tmp/provis-bench/overhead.XXXXXX)
on_exit_stop_and_remove "$work"

echo "bench overhead: $(nproc) cores, load average before: $(load)"
ref=$(BENCH_THREADS=$threads "$parse_bin" reference "$dir" "$runs" 2>/dev/null)
echo "$ref"
ref_best=$(sed -E 's/.*best_ms=([0-9.]+).*/\1/' <<<"$ref")
ref_median=$(sed -E 's/.*median_ms=([0-9.]+).*/\1/' <<<"$ref")

an=""
for run in $(seq 1 "$runs"); do
    out="$work/analyze-$run"
    t0=$(now)
    RUST_LOG=warn "$bin" analyze "$zip" --out "$out" --json >"$out.json"
    t1=$(now)
    s=$(secs "$t0" "$t1")
    an="$an $s"
    echo "analyze run=$run: $s s ($(jq -r .files "$out.json") files)"
    rm -rf "$out"
done
read -r _ an_best _ an_median <<<"$(stats "$an")"

aio=""
for run in $(seq 1 "$runs"); do
    port=$(free_port)
    data="$work/aio-$run"
    mkdir -p "$data"
    RUST_LOG=warn "$bin" all-in-one --port "$port" --data-dir "$data" >"$data.log" 2>&1 &
    pid=$!
    pids+=("$pid")
    wait_health "$port"
    read -r s job < <(upload "$zip" "$port")
    aio="$aio $s"
    echo "all-in-one run=$run: upload→done $s s (job $job)"
    stop_direct "$pid"
done
read -r _ aio_best _ aio_median <<<"$(stats "$aio")"

awk -v rb="$ref_best" -v rm="$ref_median" -v ab="$an_best" -v am="$an_median" \
    -v ob="$aio_best" -v om="$aio_median" 'BEGIN {
    printf "reference (parse+resolve)   best %7.1f ms  median %7.1f ms\n", rb, rm
    printf "provis analyze              best %7.1f ms  median %7.1f ms\n", ab * 1000, am * 1000
    printf "ratio analyze/reference     best %7.2f     median %7.2f     (goal <= 3)\n", ab * 1000 / rb, am * 1000 / rm
    printf "all-in-one upload->done     best %7.3f s   median %7.3f s   (goal <= 0.4 s)\n", ob, om
}'
echo "bench overhead: load average after: $(load)"

#!/usr/bin/env bash
# `scripts/bench parse`: parse throughput and parse + resolve + graph time of the pure pipeline
# functions (examples/bench_parse.rs, release build), and the parser sandbox's overhead.
#
#   per core     BENCH_THREADS=1: MB/s of pipeline::parse_file (parse + fact extraction) per
#                language on every corpus (goal: JS/TS >= 80 MB/s, Python >= 30 MB/s)
#   all cores    the same on 2 threads
#   app          parse (2 threads) + resolve_imports + build_graph of mui-material with its
#                generated tsconfig paths, and of django (goal: <= 0.5 s for ~2,500 TS files)
#   sandbox      ParserPool::parse_batch over the mui-material files in batches of 50:
#                in-process (PARSER_SANDBOX=false) vs sandboxed child processes
#
# Environment: BENCH_PARSE_BIN (the bench_parse example), PROVIS_BIN (for the sandbox children),
# BENCH_CORPORA, BENCH_RUNS (default 5).
set -euo pipefail

parse_bin="${BENCH_PARSE_BIN:?BENCH_PARSE_BIN must name the bench_parse example binary}"
bin="${PROVIS_BIN:?PROVIS_BIN must name a provis release binary}"
corpora="${BENCH_CORPORA:?BENCH_CORPORA must name the corpora directory}"
runs="${BENCH_RUNS:-5}"
cores=$(nproc)

echo "bench parse: $cores cores, load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== per core (1 thread)"
for c in mui-material rxjs-src effect-src django; do
    BENCH_THREADS=1 "$parse_bin" throughput "$corpora/$c" "$runs" | sed "s/^/$c /"
done
echo "== all cores ($cores threads)"
for c in mui-material django; do
    BENCH_THREADS=$cores "$parse_bin" throughput "$corpora/$c" "$runs" | sed "s/^/$c /"
done
echo "== parse + resolve + graph ($cores threads)"
for c in mui-material django; do
    BENCH_THREADS=$cores "$parse_bin" app "$corpora/$c" "$runs" | sed "s/^/$c /"
done
echo "== sandbox overhead"
BENCH_THREADS=$cores "$parse_bin" sandbox "$corpora/mui-material" "$bin" 3 | sed "s/^/mui-material /"
echo "bench parse: load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

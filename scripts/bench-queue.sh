#!/usr/bin/env bash
# Queue throughput: N no-op tasks through Redis (RQ layout), drained by one `provis work
# --burst` process, then the same N jobs through Python RQ's SimpleWorker (JSONSerializer) on
# the same Redis. Prints both rates. Builds nothing: it runs $PROVIS_BIN (default
# target/release/provis). A benchmark, not a test: numbers from a debug binary do not count.
#
#   PROVIS_BIN=target/release/provis N=20000 scripts/bench-queue.sh
#
# Environment: PROVIS_BIN, N (default 20000), BENCH_REDIS_URL (default redis://127.0.0.1:6379/0),
# PROVIS_TEST_VENV (Python venv with rq; default /var/tmp/provis-ci/venv),
# BENCH_CONCURRENCY (provis worker slots; default 1, like one RQ worker).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
bin="${PROVIS_BIN:-$root/target/release/provis}"
n="${N:-20000}"
venv="${PROVIS_TEST_VENV:-/var/tmp/provis-ci/venv}"
py="$venv/bin/python"
export BENCH_REDIS_URL="${BENCH_REDIS_URL:-redis://127.0.0.1:6379/0}"
concurrency="${BENCH_CONCURRENCY:-1}"

[[ -x "$bin" ]] || { echo "bench-queue: no provis binary at $bin (build it, or set PROVIS_BIN)" >&2; exit 2; }
[[ -x "$py" ]] || { echo "bench-queue: no Python venv with rq at $venv (set PROVIS_TEST_VENV)" >&2; exit 2; }

# A private key prefix, read by provis and by Python RQ alike; removed at exit.
export RQ_KEY_PREFIX="provis-bench-$$"
cleanup() { "$py" "$here/bench_queue.py" cleanup || true; }
trap cleanup EXIT

now() { date +%s.%N; }
rate() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f", n / s }'; }

echo "bench-queue: $n no-op tasks, redis $BENCH_REDIS_URL, prefix $RQ_KEY_PREFIX"

# provis: Python RQ enqueues provis.diag_noop (JSONSerializer); one provis process drains it.
"$py" "$here/bench_queue.py" enqueue bench-provis "$n" provis.diag_noop
t0=$(now)
REDIS_URL="$BENCH_REDIS_URL" PROVIS_DIAG_TASKS=1 RUST_LOG=warn \
    "$bin" work --queues bench-provis --burst --concurrency "$concurrency" --name "bench-$$"
t1=$(now)
done_provis=$("$py" "$here/bench_queue.py" finished bench-provis)
secs_provis=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
if [[ "$done_provis" != "$n" ]]; then
    echo "bench-queue: provis finished $done_provis of $n tasks" >&2
    exit 1
fi

# Python RQ: the same number of jobs calling a Python no-op, one SimpleWorker --burst.
"$py" "$here/bench_queue.py" enqueue bench-rq "$n" bench_queue.noop
read -r done_rq secs_rq < <(cd "$here" && "$py" bench_queue.py rq-worker bench-rq)
finished_rq=$("$py" "$here/bench_queue.py" finished bench-rq)
if [[ "$finished_rq" != "$n" ]]; then
    echo "bench-queue: RQ finished $finished_rq of $n jobs" >&2
    exit 1
fi

provis_rate=$(rate "$n" "$secs_provis")
rq_rate=$(rate "$done_rq" "$secs_rq")
echo "provis worker (1 process, concurrency $concurrency): $n tasks in ${secs_provis}s = ${provis_rate} tasks/s"
echo "python rq SimpleWorker (JSONSerializer):        $done_rq jobs in ${secs_rq}s = ${rq_rate} jobs/s"
awk -v a="$provis_rate" -v b="$rq_rate" 'BEGIN { printf "ratio: %.1fx\n", a / b }'

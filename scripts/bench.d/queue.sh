#!/usr/bin/env bash
# `scripts/bench queue`: no-op task throughput through Redis (RQ layout).
#
# N no-op tasks (provis.diag_noop, enqueued by Python RQ with the JSONSerializer) are drained by
# ONE `provis work --burst` process, once per value of BENCH_CONCURRENCY; then the same N jobs
# (a Python no-op) are drained by Python RQ's SimpleWorker on the same Redis. Prints every rate
# and the ratio of the best provis rate to RQ's. A benchmark, not a test: it asserts only that
# every task finished.
#
# Environment: PROVIS_BIN (required, a release binary), N (default 20000), BENCH_REDIS_URL
# (default redis://127.0.0.1:6379/0), PROVIS_TEST_VENV (Python venv with rq; default
# /var/tmp/provis-ci/venv), BENCH_CONCURRENCY (space-separated worker slot counts; default
# "1 4 16 64").
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bin="${PROVIS_BIN:?PROVIS_BIN must name a provis release binary}"
n="${N:-20000}"
venv="${PROVIS_TEST_VENV:-/var/tmp/provis-ci/venv}"
py="$venv/bin/python"
export BENCH_REDIS_URL="${BENCH_REDIS_URL:-redis://127.0.0.1:6379/0}"
read -r -a concurrencies <<<"${BENCH_CONCURRENCY:-1 4 16 64}"

[[ -x "$bin" ]] || { echo "bench queue: no provis binary at $bin" >&2; exit 2; }
[[ -x "$py" ]] || { echo "bench queue: no Python venv with rq at $venv (set PROVIS_TEST_VENV)" >&2; exit 2; }

# A private key prefix, read by provis and by Python RQ alike; removed at exit.
export RQ_KEY_PREFIX="provis-bench-$$"
cleanup() { "$py" "$here/bench_queue.py" cleanup || true; }
trap cleanup EXIT

now() { date +%s.%N; }
rate() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f", n / s }'; }

echo "bench queue: $n no-op tasks per run, redis $BENCH_REDIS_URL, prefix $RQ_KEY_PREFIX"
echo "bench queue: load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

best_rate=0
for c in "${concurrencies[@]}"; do
    queue="bench-provis-c$c"
    # provis: Python RQ enqueues provis.diag_noop (JSONSerializer); one provis process drains it.
    "$py" "$here/bench_queue.py" enqueue "$queue" "$n" provis.diag_noop
    t0=$(now)
    REDIS_URL="$BENCH_REDIS_URL" PROVIS_DIAG_TASKS=1 RUST_LOG=warn \
        "$bin" work --queues "$queue" --burst --concurrency "$c" --name "bench-$$-c$c"
    t1=$(now)
    done_provis=$("$py" "$here/bench_queue.py" finished "$queue")
    secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
    if [[ "$done_provis" != "$n" ]]; then
        echo "bench queue: provis finished $done_provis of $n tasks" >&2
        exit 1
    fi
    r=$(rate "$n" "$secs")
    echo "provis worker (1 process, --concurrency $c): $n tasks in ${secs}s = ${r} tasks/s"
    if ((r > best_rate)); then best_rate=$r; best_c=$c; fi
done

# Python RQ: the same number of jobs calling a Python no-op, one SimpleWorker --burst.
"$py" "$here/bench_queue.py" enqueue bench-rq "$n" bench_queue.noop
read -r done_rq secs_rq < <(cd "$here" && "$py" bench_queue.py rq-worker bench-rq)
finished_rq=$("$py" "$here/bench_queue.py" finished bench-rq)
if [[ "$finished_rq" != "$n" ]]; then
    echo "bench queue: RQ finished $finished_rq of $n jobs" >&2
    exit 1
fi
rq_rate=$(rate "$done_rq" "$secs_rq")
echo "python rq SimpleWorker (JSONSerializer): $done_rq jobs in ${secs_rq}s = ${rq_rate} jobs/s"
awk -v a="$best_rate" -v b="$rq_rate" -v c="$best_c" \
    'BEGIN { printf "ratio: %.1fx (best provis rate, --concurrency %s, over RQ; goal >= 10x)\n", a / b, c }'
echo "bench queue: load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

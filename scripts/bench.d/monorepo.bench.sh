#!/usr/bin/env bash
# `scripts/bench monorepo` (issue 10 goal 2): the monorepo of monorepo.sh at 8 and 16 copies
# (26.8k files / 234 MB and 53.7k files / 467 MB).
#
#   analyze      `provis analyze <zip>`: wall time, peak RSS of the process tree (provis and
#                its parser children, summed, sampled every 50 ms by rss_tree.py)
#   all-in-one   a fresh server: upload→done, peak RSS of the tree, and the idle RSS of the
#                tree 5 s after the job (memory given back)
#
# Prints best and median of BENCH_RUNS (default 2) runs and the 16/8 ratios (goal: <= 2.1).
# Goals at 16 copies: all-in-one <= 10 s and <= 500 MB, analyze <= 600 MB, idle <= 150 MB.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
source "$here/lib.sh"
bin="${PROVIS_BIN:?}"
runs="${BENCH_RUNS:-2}"
read -r -a sizes <<<"${BENCH_MONOREPO_COPIES:-8 16}"
work=$(mktemp -d /var/tmp/provis-bench/monorepo.XXXXXX)
on_exit_stop_and_remove "$work"
declare -A res

echo "bench monorepo: $(nproc) cores, load average before: $(load)"
for c in "${sizes[@]}"; do
    zip=$("$here/monorepo.sh" "$c")
    an_t="" an_m="" ai_t="" ai_m="" ai_i=""
    for run in $(seq 1 "$runs"); do
        out="$work/analyze-$c-$run"
        t0=$(now)
        RUST_LOG=warn "$bin" analyze "$zip" --out "$out" --json >"$out.json" &
        pid=$!
        python3 "$here/rss_tree.py" watch "$pid" "$out.rss" &
        watcher=$!
        wait "$pid"
        t1=$(now)
        wait "$watcher" || true
        s=$(secs "$t0" "$t1")
        m=$(cat "$out.rss")
        an_t="$an_t $s" an_m="$an_m $m"
        echo "analyze copies=$c run=$run: $s s, peak tree RSS $m MB ($(jq -r .files "$out.json") files)"
        rm -rf "$out"

        port=$(free_port)
        data="$work/aio-$c-$run"
        mkdir -p "$data"
        RUST_LOG=warn "$bin" all-in-one --port "$port" --data-dir "$data" >"$data.log" 2>&1 &
        pid=$!
        pids+=("$pid")
        wait_health "$port"
        python3 "$here/rss_tree.py" watch "$pid" "$data.rss" &
        watcher=$!
        read -r s job < <(upload "$zip" "$port")
        m=$(cat "$data.rss")
        sleep 5
        idle=$(python3 "$here/rss_tree.py" now "$pid")
        stop_direct "$pid"
        wait "$watcher" || true
        ai_t="$ai_t $s" ai_m="$ai_m $m" ai_i="$ai_i $idle"
        echo "all-in-one copies=$c run=$run: upload→done $s s, peak tree RSS $m MB, idle after 5 s $idle MB (job $job)"
        rm -rf "$data"
    done
    res[$c]="$(stats "$an_t" | awk '{print $2}') $(stats "$an_m" | awk '{print $2}') $(stats "$ai_t" | awk '{print $2}') $(stats "$ai_m" | awk '{print $2}') $(stats "$ai_i" | awk '{print $2}')"
    echo "copies=$c best: analyze $(stats "$an_t") s, $(stats "$an_m") MB; all-in-one $(stats "$ai_t") s, $(stats "$ai_m") MB, idle $(stats "$ai_i") MB"
done
if [[ ${#sizes[@]} == 2 ]]; then
    read -r a1 m1 t1 p1 _ <<<"${res[${sizes[0]}]}"
    read -r a2 m2 t2 p2 _ <<<"${res[${sizes[1]}]}"
    awk -v a1="$a1" -v a2="$a2" -v m1="$m1" -v m2="$m2" -v t1="$t1" -v t2="$t2" -v p1="$p1" -v p2="$p2" \
        -v c1="${sizes[0]}" -v c2="${sizes[1]}" 'BEGIN {
        printf "growth %s→%s copies (best runs): analyze time %.2fx, memory %.2fx; all-in-one time %.2fx, memory %.2fx (goal <= 2.1)\n",
            c1, c2, a2 / a1, m2 / m1, t2 / t1, p2 / p1 }'
fi
echo "bench monorepo: load average after: $(load)"

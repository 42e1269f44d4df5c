#!/usr/bin/env bash
# `scripts/bench budget` (issue 10 goal 5, issue 9 item 12): a 210 KB TypeScript file whose
# nested class heritage makes the parser's record grow quadratically, analysed by
# `provis analyze <dir>` under the default parser memory budget (PARSER_MEMORY_MB unset: 1/16 of
# the machine, split between NODE_SUBPROC_CONCURRENCY children) and under the old cap of 4 GiB
# per child (PARSER_MEMORY_MB=8192 with two children). Prints wall time, the file's warning and
# the peak RSS of the process tree, BENCH_RUNS (default 3) times each. Numbers, not a test.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
source "$here/lib.sh"
bin="${PROVIS_BIN:?}"
runs="${BENCH_RUNS:-3}"
work=$(mktemp -d /var/tmp/provis-bench/budget.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/repo"
python3 - "$work/repo/heritage.ts" <<'PY'
import sys
n = 210_000 // 24
open(sys.argv[1], "w").write("x = " + "class A extends (" * n + "class B {}" + ") {}" * n + ";\n")
PY
printf 'export const fine = 1;\n' >"$work/repo/fine.ts"
echo "bench budget: $(nproc) cores, $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo), load average before: $(load)"
for budget in default 8192; do
    for run in $(seq 1 "$runs"); do
        out="$work/out-$budget-$run"
        t0=$(now)
        if [[ "$budget" == default ]]; then
            env -u PARSER_MEMORY_MB RUST_LOG=info "$bin" analyze "$work/repo" --out "$out" --json >"$out.json" 2>"$out.log" &
        else
            PARSER_MEMORY_MB=$budget RUST_LOG=info "$bin" analyze "$work/repo" --out "$out" --json >"$out.json" 2>"$out.log" &
        fi
        pid=$!
        python3 "$here/rss_tree.py" watch "$pid" "$out.rss" &
        watcher=$!
        wait "$pid" || true
        t1=$(now)
        wait "$watcher" || true
        warning=$(jq -r '[.files[] | select(.path == "heritage.ts") | .warnings[0].code // "none"][0]' "$out/files.json" 2>/dev/null || echo "?")
        said=$(grep -o 'children=[0-9]* per_child_mb=[0-9]*' "$out.log" | head -1 || true)
        echo "budget=$budget run=$run: $(secs "$t0" "$t1") s, heritage.ts → $warning, peak tree RSS $(cat "$out.rss") MB ($said)"
    done
done
echo "bench budget: load average after: $(load)"

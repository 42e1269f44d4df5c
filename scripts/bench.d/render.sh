#!/usr/bin/env bash
# `scripts/bench render`: first render of the web page's graph view in headless chromium, for
# the 2.6k-file TS app (corpora/mui-material) and for a ~54k-file monorepo (monorepo.sh 16:
# 16 copies of mui-material and effect in sub-folders). Goals (issue 12): ≤ 1 s and ≤ 3 s.
# Starts a release `all-in-one` with a private data dir, uploads both zips, then runs
# scripts/browser/render-bench.mjs (BENCH_RENDER_RUNS, default 3, fresh browser context each).
# BENCH_RENDER_COPIES sets the monorepo's copies (default 16).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
source "$here/lib.sh"
corpora="${BENCH_DIR:-/var/tmp/provis-bench}/corpora"
copies="${BENCH_RENDER_COPIES:-16}"
big_zip=$("$here/monorepo.sh" "$copies")
"$here/../browser/install"
tools="${PROVIS_CI_DIR:-/var/tmp/provis-ci}/browser"
cp "$here/../browser/"*.mjs "$tools/"

work=$(mktemp -d "${BENCH_DIR:-/var/tmp/provis-bench}/render.XXXXXX")
on_exit_stop_and_remove "$work"
port=$(free_port)
(cd "$work" && exec env -u PROVIS_API_TOKEN "$PROVIS_BIN" all-in-one --port "$port" --data-dir "$work/data" >"$work/server.log" 2>&1) &
pids+=($!)
wait_health "$port"

targets=()
for spec in "mui-material=$corpora/mui-material.zip" "monorepo-$copies=$big_zip"; do
    label=${spec%%=*}
    zip=${spec#*=}
    read -r secs job < <(BENCH_JOB_TIMEOUT_S=1800 upload "$zip" "$port" "$label")
    st=$(curl -fsS "http://127.0.0.1:$port/status/$job")
    echo "render: $label analysed in ${secs}s ($(jq -r .filesDiscovered <<<"$st") files)" >&2
    targets+=("$label=$(jq -r .repoId <<<"$st")/$(jq -r .snapshotId <<<"$st")")
done
echo "render: load $(load)" >&2
(cd "$tools" && node render-bench.mjs "http://127.0.0.1:$port" "${BENCH_RENDER_RUNS:-3}" "${targets[@]}")

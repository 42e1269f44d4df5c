# Shared helpers of the bench scripts (sourced, not run).
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
# maxrss FILE: "Maximum resident set size" of a `time -v` report, in MB.
maxrss() { awk -F': ' '/Maximum resident set size/ { printf "%.0f", $2 / 1024 }' "$1"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_health() { # wait_health PORT
    local i
    for i in $(seq 1 300); do
        curl -fsS "http://127.0.0.1:$1/health" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "bench: no /health on port $1" >&2
    return 1
}
# upload ZIP PORT [REPO]: POST /ingest, follow the SSE stream to the end; prints "<seconds> <jobId>".
upload() {
    local zip="$1" port="$2" repo="${3:-}" t0 t1 resp job last
    t0=$(now)
    resp=$(curl -fsS -F "file=@$zip" ${repo:+-F "repo=$repo"} "http://127.0.0.1:$port/ingest")
    job=$(jq -r .jobId <<<"$resp")
    last=$(curl -sSN --max-time "${BENCH_JOB_TIMEOUT_S:-300}" "http://127.0.0.1:$port/jobs/$job/events" |
        grep -m1 -E '^event: done|"terminal": ?true' || true)
    t1=$(now)
    if [[ "$last" != "event: done" ]]; then
        echo "bench: job $job did not end done: $last" >&2
        curl -sS "http://127.0.0.1:$port/status/$job" >&2 || true
        return 1
    fi
    echo "$(secs "$t0" "$t1") $job"
}
# stop PID: PID is a `time -v` wrapper; SIGTERM goes to the provis process it runs (time itself
# would die without a report), then the wrapper is waited for, so its report is complete.
stop() {
    local child
    child=$(pgrep -P "$1" || true)
    if [[ -n "$child" ]]; then kill -TERM $child 2>/dev/null || true; else kill -TERM "$1" 2>/dev/null || true; fi
    wait "$1" 2>/dev/null || true
}
# stats "v1 v2 …": "best B median M" (smallest and middle value).
stats() { tr ' ' '\n' <<<"$1" | grep . | sort -g | awk '{v[NR]=$1} END {printf "best %s median %s", v[1], v[int((NR+1)/2)]}'; }
load() { cut -d' ' -f1-3 /proc/loadavg; }
# stop_direct PID: SIGTERM to a provis process started directly (not under `time -v`), then wait.
stop_direct() {
    kill -TERM "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}
# zip_dir DIR ZIP: a zip whose entries are DIR's contents (paths relative to DIR), deflate level
# 6, entries sorted, written to ZIP.partial and renamed.
zip_dir() {
    python3 - "$1" "$2" <<'PY'
import os, sys, zipfile
src, dst = sys.argv[1], sys.argv[2]
tmp = dst + ".partial"
with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as z:
    for base, dirs, files in os.walk(src):
        dirs.sort()
        for name in sorted(files):
            full = os.path.join(base, name)
            z.write(full, os.path.relpath(full, src))
os.replace(tmp, dst)
PY
}
# on_exit_stop_and_remove DIR: at exit, stops the pids in the array `pids` and removes DIR.
on_exit_stop_and_remove() {
    bench_work_dir="$1"
    pids=()
    trap 'for p in "${pids[@]}"; do stop_direct "$p"; done; rm -rf "$bench_work_dir"' EXIT
}
# listener_cpu PORT: CPU seconds (user + system, with reaped children) used so far by the
# process listening on 127.0.0.1:PORT, or nothing when none is found (e.g. not ours to read).
listener_cpu() {
    local pid
    pid=$(ss -Hltnp "sport = :$1" 2>/dev/null | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2)
    [[ -n "$pid" && -r "/proc/$pid/stat" ]] || return 0
    awk -v hz="$(getconf CLK_TCK)" '{ printf "%.1f", ($14 + $15 + $16 + $17) / hz }' "/proc/$pid/stat"
}

#!/usr/bin/env bash
# `monorepo.sh COPIES`: builds (when missing) a monorepo out of the real corpora and prints the
# path of its zip. Needs the corpora of corpora.sh ($BENCH_DIR/corpora).
#
#   corpora/monorepo-COPIES/
#     package.json                    {"private": true, "workspaces": ["packages/*"]}
#     packages/mui-NN/                npm @mui/material 5.15.20 (2,781 files, 10.8 MB) with its
#                                     own package.json (renamed @bench/mui-NN) and tsconfig.json
#                                     (paths @mui/material → the copy itself)
#     packages/effect-NN/             npm effect 4.1.0 src/ (573 files, 18.4 MB) with its own
#                                     package.json (renamed @bench/effect-NN)
#   corpora/monorepo-COPIES.zip       deflate level 6, entries sorted
#
# One copy of each is a unit of 3,354 files and 29.2 MB; 16 copies are 53.7k files and 467 MB
# (the ~50k-file, ~500 MB monorepo of the goals), 8 copies half of that. Idempotent.
set -euo pipefail
# shellcheck source=lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

copies="${1:?usage: monorepo.sh COPIES}"
bench_dir="${BENCH_DIR:-/var/tmp/provis-bench}"
corpora="$bench_dir/corpora"
dest="$corpora/monorepo-$copies"
zip="$dest.zip"
[[ -d "$corpora/mui-material" && -d "$corpora/effect-src" ]] || {
    echo "monorepo.sh: run scripts/bench corpora first" >&2
    exit 2
}

if [[ ! -d "$dest" ]]; then
    echo "bench monorepo: building $dest ($copies copies)" >&2
    tmp="$dest.partial"
    rm -rf "$tmp"
    mkdir -p "$tmp/packages"
    printf '{\n  "name": "bench-monorepo",\n  "private": true,\n  "workspaces": ["packages/*"]\n}\n' >"$tmp/package.json"
    for i in $(seq -w 1 "$copies"); do
        m="$tmp/packages/mui-$i"
        e="$tmp/packages/effect-$i"
        # Hard links: the zip reads contents; the two edited files are replaced, not written through.
        cp -al "$corpora/mui-material" "$m"
        cp -al "$corpora/effect-src" "$e"
        rm "$m/package.json" "$m/tsconfig.json" "$e/package.json"
        jq --arg n "@bench/mui-$i" '.name = $n' "$corpora/mui-material/package.json" >"$m/package.json"
        cp "$corpora/mui-material/tsconfig.json" "$m/tsconfig.json"
        jq --arg n "@bench/effect-$i" '.name = $n' "$corpora/effect-src/package.json" >"$e/package.json"
    done
    mv "$tmp" "$dest"
fi
if [[ ! -f "$zip" ]]; then
    echo "bench monorepo: zipping $dest" >&2
    zip_dir "$dest" "$zip"
fi
echo "$zip"

"""`scripts/agreement routes`: provis's route table against the framework's own, on real apps.

For every app of apps.json: fetch its published source (a wheel from PyPI, a tarball from
npm), run `provis analyze <source> --json --out …` and read the routes of the files artifact
(files with role "test" excluded, and counted: there must be none); install the app and read
its true route table by loading it and asking the framework (truth_py.py, truth_express.js,
truth_fastify.js, truth_koa.js; truth_nextjs.js runs the route collection of `next build` on the source);
normalise both sides; match them; label every difference with the reason the app's entry in
apps.json gives (each label names the rule or limit that explains it); print per app the
truth size, provis size, matches, precision and recall, and the differences. Routes an
installed library adds (FastAPI's /docs, Flask's /static, Django's admin) are not in the
analysed source: they are listed apart and left out of recall.

Exit status: 1 when a difference has no label, 0 otherwise. Downloads stay under $AGREE_WORK.
"""
import argparse
import glob
import json
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def log(msg):
    print(f">> {msg}", file=sys.stderr, flush=True)


def run(cmd, **kw):
    log(" ".join(cmd) if isinstance(cmd, list) else cmd)
    return subprocess.run(cmd, check=True, **kw)


# ------------------------------------------------------------------ normalisation

PARAM = "{}"


def norm_path(path, family):
    p = path
    if family == "django":
        # DRF's format suffix converter matches the dot too (`.json`).
        p = p.replace("<drf_format_suffix:format>", ".<format>")
        p = p.replace("^", "").replace("$", "")
        p = re.sub(r"\(\?P<\w+>(?:[^()]|\([^()]*\))*\)", PARAM, p)
        p = re.sub(r"\((?:[^()]|\([^()]*\))*\)", PARAM, p)
        p = p.replace("\\.", ".").replace("\\-", "-").replace("/?", "/")
    p = re.sub(r"<(?:[\w.]+:)?\w+>", PARAM, p)  # <int:pk>, <name>
    p = re.sub(r"\{[\w.]+(?::[^}]*)?\}", PARAM, p)  # {id}, {path:path}
    p = re.sub(r":\w+(?:\([^)]*\))?\??", PARAM, p)  # :id, :id(\d+), :id?
    p = re.sub(r"\[\[?\.{0,3}\w+\]?\]", PARAM, p)  # [id], [...slug], [[...slug]]
    p = re.sub(r"/+", "/", "/" + p.lstrip("/"))
    if len(p) > 1:
        p = p.rstrip("/")
    return p


def norm_method(method, family):
    m = method.upper()
    if family in ("django", "nextjs") or m in ("ANY", "ALL", "*", "PAGE"):
        return "*"
    return m


# Truth scripts that already tell a HEAD the framework adds beside a GET from one the app
# declares (they drop the first and keep the second): their HEADs are all declared.
PRECISE_HEAD = ("fastify", "koa")


def truth_entries(raw, kind):
    """Drops the HEAD/OPTIONS a framework adds on its own next to a declared method, unless
    the truth script of `kind` has already told them from declared ones."""
    if kind in PRECISE_HEAD:
        return raw
    by_path = {}
    for e in raw:
        by_path.setdefault(e["path"], set()).add(e["method"].upper())
    out = []
    for e in raw:
        m = e["method"].upper()
        others = by_path[e["path"]] - {"HEAD", "OPTIONS"}
        if m in ("HEAD", "OPTIONS") and others:
            continue
        out.append(e)
    return out


def provis_routes(out_dir):
    files = sorted(os.path.join(d, f) for d, _, names in os.walk(out_dir) for f in names
                   if re.fullmatch(r"files(\.v\d+)?\.json", f))
    if not files:
        raise SystemExit(f"no files artifact under {out_dir}")
    doc = json.load(open(files[-1]))
    routes, from_tests = [], 0
    for f in doc["files"]:
        if f.get("role") == "test":
            from_tests += len(f.get("routes", []))
            continue
        for r in f.get("routes", []):
            routes.append({"method": r["method"], "path": r["path"], "file": f["path"],
                           "line": r["line"], "dynamic": r.get("dynamicPrefix", False)})
    return routes, from_tests


# ------------------------------------------------------------------ fetching and truth


def fetch(app, work):
    src = os.path.join(work, "src", app["name"])
    if os.path.exists(os.path.join(src, ".fetched")):
        return src
    run(["rm", "-rf", src])
    os.makedirs(src)
    if app["registry"] == "pypi":
        run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary", ":all:",
             "-d", src, app["spec"]])
        (whl,) = glob.glob(os.path.join(src, "*.whl"))
        run([sys.executable, "-m", "zipfile", "-e", whl, src])
        os.remove(whl)
    else:
        tgz = subprocess.run(["npm", "pack", "--silent", app["spec"]], cwd=src, check=True,
                             capture_output=True, text=True).stdout.strip().splitlines()[-1]
        run(["tar", "-xzf", tgz], cwd=src)
        os.remove(os.path.join(src, tgz))
    open(os.path.join(src, ".fetched"), "w").close()
    return src


def truth(app, work, target):
    cache = os.path.join(work, "out", app["name"], "truth.json")
    os.makedirs(os.path.dirname(cache), exist_ok=True)
    if os.path.exists(cache):
        return json.load(open(cache))
    kind = app["truth"][0]
    env = dict(os.environ, **app.get("env", {}))
    if app["registry"] == "pypi":
        venv = os.path.join(work, "venv", app["name"])
        py = os.path.join(venv, "bin", "python")
        if not os.path.exists(os.path.join(venv, ".installed")):
            run([sys.executable, "-m", "venv", venv])
            run([py, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"] + app["install"])
            open(os.path.join(venv, ".installed"), "w").close()
        cwd = os.path.join(work, "run", app["name"])
        os.makedirs(cwd, exist_ok=True)
        for setup in app.get("setup_files", []):
            dst = os.path.join(cwd, os.path.basename(setup))
            run(["cp", os.path.join(HERE, setup), dst])
        env["PYTHONPATH"] = cwd
        out = subprocess.run([py, os.path.join(HERE, "truth_py.py"), kind, app["truth"][1]], cwd=cwd,
                             env=env, check=True, capture_output=True, text=True)
    else:
        node_dir = os.path.join(work, "node", app["name"])
        if not os.path.exists(os.path.join(node_dir, ".installed")):
            os.makedirs(node_dir, exist_ok=True)
            open(os.path.join(node_dir, "package.json"), "w").write('{"private": true}')
            run(["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"] + app.get("npm_flags", [])
                + app["install"], cwd=node_dir)
            open(os.path.join(node_dir, ".installed"), "w").close()
        setup = [os.path.join(HERE, app["truth"][1])] if len(app["truth"]) > 1 else []
        env["NODE_PATH"] = os.path.join(node_dir, "node_modules")
        env["AGREE_SRC"] = target  # the analysed source, for truths read from it (Next.js)
        env["TRUTH_OUT"] = cache + ".tmp"
        subprocess.run(["node", os.path.join(HERE, f"truth_{kind}.js"), *setup], cwd=node_dir,
                       env=env, check=True, capture_output=True, text=True, timeout=300)
        out = subprocess.CompletedProcess([], 0, stdout=open(cache + ".tmp").read())
    data = json.loads(out.stdout)
    os.makedirs(os.path.dirname(cache), exist_ok=True)
    json.dump(data, open(cache, "w"), indent=1)
    return data


# ------------------------------------------------------------------ comparison


def compare(app, truth_raw, provis, verbose):
    fam = app["family"]
    own = tuple(app.get("own_modules", []))
    # Routes a dependency adds, for truths that cannot name a route's module (Express):
    # declared per app with the package that adds them.
    lib_rx = [re.compile(l["match"]) for l in app.get("library_routes", [])]
    in_scope, library = [], []
    for e in truth_entries(truth_raw, app["truth"][0]):
        text = f"{norm_method(e['method'], fam)} {norm_path(e['path'], fam)}"
        from_library = any(rx.search(text) for rx in lib_rx) or (
            own and e.get("module") and not e["module"].startswith(own))
        (library if from_library else in_scope).append(e)
    key = lambda m, p: (norm_method(m, fam), norm_path(p, fam))
    t = {}
    for e in in_scope:
        t.setdefault(key(e["method"], e["path"]), e)
    pv = {}
    for r in provis:
        pv.setdefault(key(r["method"], r["path"]), r)
    matched = set(t) & set(pv)
    labels = [(l["side"], re.compile(l["match"]), l["reason"]) for l in app.get("labels", [])]

    def label(side, k):
        text = f"{k[0]} {k[1]}"
        for s, rx, reason in labels:
            if s in (side, "both") and rx.search(text):
                return reason
        return None

    diffs = []
    for k in sorted(set(t) - matched):
        diffs.append(("only in truth", k, label("truth", k), t[k]))
    for k in sorted(set(pv) - matched):
        r = pv[k]
        diffs.append(("only in provis", k, label("provis", k), f"{r['file']}:{r['line']}" + (" dyn" if r["dynamic"] else "")))
    precision = len(matched) / len(pv) if pv else 1.0
    recall = len(matched) / len(t) if t else 1.0
    return {"app": app["name"], "family": fam, "version": app["spec"], "truth": len(t), "library": len(library),
            "provis": len(pv), "matched": len(matched), "precision": precision, "recall": recall,
            "diffs": diffs}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("--apps", default=os.path.join(HERE, "apps.json"))
    ap.add_argument("--only", nargs="*")
    ap.add_argument("--provis", required=True)
    ap.add_argument("--work", required=True)
    args = ap.parse_args()
    apps = json.load(open(args.apps))
    work = os.path.join(args.work, "routes")
    reports, status = [], 0
    for app in apps:
        if args.only and app["name"] not in args.only:
            continue
        src = fetch(app, work)
        out = os.path.join(work, "out", app["name"])
        os.makedirs(out, exist_ok=True)
        target = os.path.join(src, app.get("analyze", ""))
        run(["rm", "-rf", os.path.join(out, "provis")])
        with open(os.path.join(out, "provis.log"), "w") as logf:
            run([args.provis, "analyze", target, "--json", "--out", os.path.join(out, "provis")],
                stdout=logf, stderr=subprocess.STDOUT)
        provis, from_tests = provis_routes(os.path.join(out, "provis"))
        try:
            truth_raw = truth(app, work, target)
        except subprocess.CalledProcessError as e:
            log(f"{app['name']}: truth failed:\n{e.stderr[-3000:] if e.stderr else e}")
            status = 2
            continue
        rep = compare(app, truth_raw, provis, args.verbose)
        rep["from_tests"] = from_tests
        reports.append(rep)
        unexplained = [d for d in rep["diffs"] if d[2] is None]
        print(f"\n== {rep['app']} ({rep['family']}, {rep['version']})")
        for side, k, reason, where in rep["diffs"]:
            if reason is None or args.verbose:
                print(f"  {side:15} {k[0]:7} {k[1]}  [{reason or 'UNEXPLAINED'}]  {where if isinstance(where, str) else where.get('module', '')}")
        if unexplained or from_tests:
            status = 1
    print("\n| app | family | version | truth | provis | matched | precision | recall | library routes (not in source) | labelled diffs | unexplained | test-file routes |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in reports:
        labelled = sum(1 for d in r["diffs"] if d[2])
        unexplained = sum(1 for d in r["diffs"] if d[2] is None)
        print(f"| {r['app']} | {r['family']} | {r['version']} | {r['truth']} | {r['provis']} | {r['matched']} | "
              f"{r['precision']:.2f} | {r['recall']:.2f} | {r['library']} | {labelled} | {unexplained} | {r['from_tests']} |")
    json.dump([{k: v for k, v in r.items() if k != "diffs"} | {"diffs": [[d[0], list(d[1]), d[2]] for d in r["diffs"]]}
               for r in reports], open(os.path.join(work, "report.json"), "w"), indent=1)
    sys.exit(status)


if __name__ == "__main__":
    main()

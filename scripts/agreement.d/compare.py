"""Compare provis's import edges with an independent tool's and label every difference.

    compare.py depcruise PROVIS_OUT TOOL_JSON [--report FILE]
    compare.py grimp PROVIS_OUT TOOL_JSON --prefix lib/ --package lib/sqlalchemy [--report FILE]
    compare.py summary REPORT.json...

PROVIS_OUT is a `provis analyze --out` directory (graph.json, files.json). TOOL_JSON is
dependency-cruiser's `-T json` output (paths relative to the same root provis analysed) or the
output of grimp_edges.py (paths relative to the sys.path root; `--prefix` maps them onto
provis's paths, `--package` limits provis's side to the files grimp analyses).

Both edge sets are normalised to (from_file, to) pairs: `to` is a file of the snapshot for an
internal edge, `ext:<package>` for an external one (Node builtins as `ext:node:<name>` on both
sides). Unresolved imports are not edges. Only edges leaving files that both sides analysed are
compared; files analysed by one side only are listed first.

Each difference is labelled by the first rule of RULES_* that explains it under provis's edge
policy (docs/pipeline.md) or a documented behaviour of the tool; the rest are UNEXPLAINED. The exit
status is 1 when anything is unexplained.
"""

import argparse
import json
import os
import re
import sys
from collections import defaultdict
from dataclasses import dataclass, field

UNEXPLAINED = "UNEXPLAINED"
# docs/pipeline.md#discovery: folders provis never reads (kept in step with src/pipeline/discover.rs).
IGNORED_DIRS = {
    "node_modules", ".git", ".svn", ".hg", "__pycache__", ".venv", "venv", ".tox", ".mypy_cache",
    ".pytest_cache", "dist", "build", ".next", ".nuxt", "coverage", ".cache", ".turbo",
}
CODE_EXTENSIONS = (".js", ".mjs", ".cjs", ".jsx", ".ts", ".mts", ".cts", ".tsx")


@dataclass
class Fact:
    """One import statement as one side saw it: specifier, kind, line and where it leads."""

    raw: str
    kind: str
    line: object  # int, list of ints, or None (dependency-cruiser gives no lines)
    target: tuple  # ("int", path) | ("ext", package) | ("unres", reason)
    names: list = field(default_factory=list)
    level: int = 0
    extra: dict = field(default_factory=dict)


def edge_key(target):
    """The normalised `to` of an edge, or None for an unresolved import."""
    kind, value = target
    if kind == "int":
        return value
    if kind == "ext":
        return "ext:" + value
    return None


def package_root(spec):
    """`@scope/name/sub` → `@scope/name`, `name/sub` → `name`."""
    parts = spec.split("/")
    if spec.startswith("@") and len(parts) > 1:
        return "/".join(parts[:2])
    return parts[0]


# ---------------------------------------------------------------------------------------------
# Loading


def load_provis(out_dir):
    """Provis's facts per file (from files.json), its edge set and its analysed files."""
    with open(os.path.join(out_dir, "files.json"), encoding="utf-8") as fh:
        files = json.load(fh)["files"]
    with open(os.path.join(out_dir, "graph.json"), encoding="utf-8") as fh:
        graph = json.load(fh)
    facts = defaultdict(list)
    analysed = {}
    for rec in files:
        if rec["language"] not in ("js", "ts", "py") or rec.get("skipped"):
            continue
        analysed[rec["path"]] = rec["language"]
        for imp in rec["imports"]:
            if imp.get("resolved"):
                target = ("int", imp["resolved"])
            elif imp.get("external"):
                target = ("ext", imp.get("package") or package_root(imp["raw"]))
            else:
                target = ("unres", imp.get("unresolvedReason") or "unknown")
            facts[rec["path"]].append(
                Fact(
                    raw=imp["raw"],
                    kind=imp["kind"],
                    line=imp.get("line"),
                    target=target,
                    names=imp.get("names") or [],
                    level=imp.get("level") or 0,
                )
            )
    edges = set()
    for e in graph["edges"]:
        edges.add((e["from"], ("ext:" + e["to"]) if e["external"] else e["to"]))
    return facts, edges, analysed


def all_files(out_dir):
    """Every path of the snapshot, code or not (for `__init__.py` look-ups)."""
    with open(os.path.join(out_dir, "files.json"), encoding="utf-8") as fh:
        return {rec["path"] for rec in json.load(fh)["files"]}


def package_name(root):
    """The `name` of `<root>/package.json`, if any."""
    if not root:
        return None
    try:
        with open(os.path.join(root, "package.json"), encoding="utf-8") as fh:
            return json.load(fh).get("name")
    except (OSError, ValueError):
        return None


def depcruise_target(dep):
    if dep.get("coreModule"):
        name = dep["module"].removeprefix("node:").split("/")[0]
        return ("ext", "node:" + name)
    if dep.get("couldNotResolve"):
        spec = dep["module"]
        if spec.startswith(".") or spec.startswith("/"):
            return ("unres", "could_not_resolve")
        return ("ext", package_root(spec))
    resolved = dep["resolved"]
    if "node_modules/" in resolved:
        return ("ext", package_root(resolved.rsplit("node_modules/", 1)[1]))
    return ("int", resolved)


def load_depcruise(path):
    """dependency-cruiser's facts per file, edge set and cruised files."""
    with open(path, encoding="utf-8") as fh:
        data = json.load(fh)
    facts = defaultdict(list)
    analysed = {}
    for mod in data["modules"]:
        src = mod["source"]
        if mod.get("coreModule") or mod.get("couldNotResolve") or mod.get("matchesDoNotFollow"):
            continue  # a package, or a file of a folder provis ignores (only an edge target)
        if not src.endswith(CODE_EXTENSIONS):
            continue  # a JSON/CSS/… file is a module of the tool (an import's target), not code
        analysed[src] = "js"
        for dep in mod["dependencies"]:
            facts[src].append(
                Fact(
                    raw=dep["module"],
                    kind=dep.get("moduleSystem", ""),
                    line=None,
                    target=depcruise_target(dep),
                    extra={
                        "types": dep.get("dependencyTypes", []),
                        "dynamic": dep.get("dynamic", False),
                    },
                )
            )
    edges = {(f, edge_key(x.target)) for f, xs in facts.items() for x in xs}
    return facts, {e for e in edges if e[1] is not None}, analysed


def load_grimp(path, prefix):
    """grimp's facts per file (one per edge: its statements and lines), edge set and modules."""
    with open(path, encoding="utf-8") as fh:
        data = json.load(fh)
    facts = defaultdict(list)
    analysed = {prefix + f: "py" for f in data["modules"].values() if f}
    for e in data["edges"]:
        src = prefix + e["from"]
        target = ("ext", e["to"]) if e["external"] else ("int", prefix + e["to"])
        facts[src].append(
            Fact(
                raw=" | ".join(e["statements"]),
                kind="grimp",
                line=e["lines"],
                target=target,
                extra={"module": e["toModule"], "statements": e["statements"]},
            )
        )
    edges = {(f, edge_key(x.target)) for f, xs in facts.items() for x in xs}
    return facts, edges, analysed


# ---------------------------------------------------------------------------------------------
# Classification rules. Each rule sees the difference and returns True when it explains it.


@dataclass
class Diff:
    """One edge present on one side only, with the statements behind it on both sides."""

    side: str  # "provis" or the tool's name
    src: str
    to: str
    mine: list  # facts on this side that produce the edge
    theirs: list  # facts on the other side for the same statement(s)
    category: str = UNEXPLAINED


def is_file(to):
    return not to.startswith("ext:")


# --- dependency-cruiser --------------------------------------------------------------------


def dc_triple_slash(d, ctx):
    return d.side != "provis" and all(
        any(t.startswith("triple-slash") for t in f.extra.get("types", [])) for f in d.mine
    )


def dc_self_reference(d, ctx):
    """The package imports itself by name: provis follows its `exports`, the tool does not."""
    name = ctx.get("self_name")
    if not name:
        return False
    if d.side == "provis":
        return (
            is_file(d.to)
            and all(package_root(f.raw) == name for f in d.mine)
            and bool(d.theirs)
            and all(o.target == ("ext", name) for o in d.theirs)
        )
    return (
        d.to == "ext:" + name
        and bool(d.theirs)
        and all(o.target[0] == "int" for o in d.theirs)
    )


def in_ignored_dir(path):
    return any(part in IGNORED_DIRS for part in path.split("/")[:-1]) or path.endswith(".min.js")


def dc_build_output(d, ctx):
    """The tool resolved into dist/build output, which provis's discovery never reads."""
    if d.side != "provis":
        return is_file(d.to) and in_ignored_dir(d.to)
    return bool(d.theirs) and all(
        o.target[0] == "int" and in_ignored_dir(o.target[1]) for o in d.theirs
    )


TS_IMPORTER = (".ts", ".tsx", ".mts", ".cts")
JS_OF_DECLARATION = {".d.ts": (".js", ".jsx"), ".d.mts": (".mjs",), ".d.cts": (".cjs",)}


def js_sibling(decl, other):
    """`other` is the JavaScript file the declaration file `decl` describes."""
    for dext, jexts in JS_OF_DECLARATION.items():
        if decl.endswith(dext):
            stem = decl[: -len(dext)]
            return any(other == stem + j for j in jexts)
    return False


def dc_declaration_order(d, ctx):
    """A TypeScript importer: provis takes x.d.ts, the tool the x.js beside it."""
    if not d.src.endswith(TS_IMPORTER) or not is_file(d.to):
        return False
    if d.side == "provis":
        return bool(d.theirs) and all(
            o.target[0] == "int" and js_sibling(d.to, o.target[1]) for o in d.theirs
        )
    return bool(d.theirs) and all(
        o.target[0] == "int" and js_sibling(o.target[1], d.to) for o in d.theirs
    )


_blocks_cache = {}


def ambient_blocks(root, path):
    """Line ranges of `declare module "…" { … }` blocks of a file (a brace matcher that skips
    strings and comments)."""
    key = (root, path)
    if key in _blocks_cache:
        return _blocks_cache[key]
    try:
        with open(os.path.join(root, path), encoding="utf-8", errors="replace") as fh:
            text = fh.read()
    except OSError:
        text = ""
    blocks = []
    for m in re.finditer(r"(?m)(?:^|[;}])[ \t]*(?:export\s+)?declare\s+module\s+['\"][^'\"]*['\"]\s*\{", text):
        depth, i, n = 1, m.end(), len(text)
        while i < n and depth:
            c = text[i]
            if c in "'\"`":
                j = i + 1
                while j < n and text[j] != c:
                    j += 2 if text[j] == "\\" else 1
                i = j
            elif text.startswith("//", i):
                i = text.find("\n", i)
                i = n if i < 0 else i
            elif text.startswith("/*", i):
                i = text.find("*/", i)
                i = n if i < 0 else i + 1
            elif c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
            i += 1
        blocks.append((text.count("\n", 0, m.start()) + 1, text.count("\n", 0, i) + 1))
    _blocks_cache[key] = blocks
    return blocks


def dc_ambient_module(d, ctx):
    """Imports inside `declare module "x" { … }`: provis records them, the tool skips them."""
    if d.side != "provis" or d.theirs or not ctx.get("root"):
        return False
    blocks = ambient_blocks(ctx["root"], d.src)
    return bool(d.mine) and all(
        isinstance(f.line, int) and any(a < f.line <= b for a, b in blocks) for f in d.mine
    )


RULES_DEPCRUISE = [
    (
        "triple-slash-directive",
        "`/// <reference path|types>` is a compiler directive, not an import: docs/pipeline.md lists "
        "the import forms provis records (ESM, re-export, import(), require(), import = "
        "require(), type-only) and this is not one; dependency-cruiser records it as `tsd`",
        dc_triple_slash,
    ),
    (
        "package-self-reference",
        "the package imports itself by its own name (`zod/v4` inside zod): Node resolves a "
        "self-reference through the package's own `exports` and provis does too (docs/pipeline.md: "
        "JS as Node does, package.json exports) — an internal edge; dependency-cruiser leaves "
        "it unresolved, i.e. an external package",
        dc_self_reference,
    ),
    (
        "build-output-ignored",
        "dependency-cruiser resolved the import into dist/build output (a `main`/`module` "
        "field, or a path), a folder provis's discovery ignores (docs/pipeline.md), so that file is "
        "no node of provis; provis resolves the same statement to the package's `source` entry "
        "or leaves it unresolved",
        dc_build_output,
    ),
    (
        "declaration-file-order",
        "a TypeScript file imports `./x` (or `./x.js`) where x.js and x.d.ts sit side by side: "
        "the TypeScript compiler reads x.d.ts and provis follows it for TypeScript importers "
        "(docs/pipeline.md: JS/TS as Node/TypeScript do); dependency-cruiser takes x.js",
        dc_declaration_order,
    ),
    (
        "ambient-module-block",
        "the import sits inside a `declare module \"x\" { … }` block of a declaration file: "
        "TypeScript resolves it and provis records it (a type-only import, docs/pipeline.md); "
        "dependency-cruiser reads only top-level statements",
        dc_ambient_module,
    ),
]


# --- grimp ---------------------------------------------------------------------------------


def in_namespace_subpackage(path, ctx):
    """`path` lies in a folder without `__init__.py` below one of the analysed packages."""
    for pkg in ctx["packages"]:
        if not path.startswith(pkg + "/"):
            continue
        parts = path[len(pkg) + 1 :].split("/")[:-1]
        d = pkg
        for part in parts:
            d = d + "/" + part
            if d + "/__init__.py" not in ctx["all_files"]:
                return True
    return False


def outside_packages(path, ctx):
    return not any(path.startswith(pkg + "/") for pkg in ctx["packages"])


def top_name(fact):
    return fact.raw.split(".")[0] if fact.level == 0 else None


def gr_namespace_subpackage(d, ctx):
    """PEP 420 folders inside a package: provis resolves into them, grimp cannot see them."""
    if d.side == "provis":
        # grimp files the same statement under a package above the namespace folder.
        return (
            is_file(d.to)
            and in_namespace_subpackage(d.to, ctx)
            and any(
                o.target[0] == "int"
                and o.target[1].endswith("/__init__.py")
                and d.to.startswith(o.target[1][: -len("__init__.py")])
                for o in d.theirs
            )
        )
    if not (is_file(d.to) and d.to.endswith("__init__.py")):
        return False
    pkg_dir = d.to.rsplit("/", 1)[0] + "/"
    # provis's statements on these lines that grimp maps to this package.
    mine = [o for o in d.theirs if edge_key(o.target) != d.to]
    return bool(mine) and all(
        o.target[0] == "int"
        and o.target[1].startswith(pkg_dir)
        and in_namespace_subpackage(o.target[1], ctx)
        for o in mine
    )


def module_root(fact, path):
    """The folder under which `path` is the module an absolute import names (`a.b` → `a/b.py`,
    `a/b/__init__.py`, or `a/b/<name>.py` for `from a.b import name`), else None."""
    if fact.level != 0:
        return None
    mod = fact.raw.replace(".", "/")
    for m in [mod] + [mod + "/" + n for n in fact.names if n != "*"]:
        for tail in (".py", ".pyi", "/__init__.py", "/__init__.pyi"):
            whole = m + tail
            if path == whole:
                return ""
            if path.endswith("/" + whole):
                return path[: -len(whole) - 1]
    return None


def vendored_module(fact, path, ctx):
    """`path` is the module `fact` names, under a source root other than grimp's, and the name
    is not the standard library's (which no such root may shadow: docs/pipeline.md resolves as the
    interpreter does, and installed code comes after the stdlib on sys.path)."""
    return (
        path not in ctx["t_files"]
        and top_name(fact) not in sys.stdlib_module_names
        and module_root(fact, path) is not None
    )


def gr_other_source_root(d, ctx):
    """provis resolves a top-level name into another source root of the snapshot; grimp, not
    knowing the module, calls it external."""
    if d.side == "provis":
        return (
            is_file(d.to)
            and bool(d.theirs)
            and all(vendored_module(f, d.to, ctx) for f in d.mine)
            and all(
                o.target[0] == "ext" and any(o.target[1] == top_name(f) for f in d.mine)
                for o in d.theirs
            )
        )
    if is_file(d.to):
        return False
    top = d.to[len("ext:") :]
    mine = [o for o in d.theirs if top_name(o) == top]
    return bool(mine) and all(
        o.target[0] == "int" and vendored_module(o, o.target[1], ctx) for o in mine
    )


RULES_GRIMP = [
    (
        "other-source-root",
        "the module is a file of the snapshot under another source root (a vendored folder "
        "such as setuptools/_vendor, whose packages make it a root: docs/pipeline.md 'each top "
        "package'), so provis gives an internal edge; grimp builds only the packages it is "
        "given and counts every other import as an external package",
        gr_other_source_root,
    ),
    (
        "namespace-subpackage",
        "a folder without __init__.py inside a package is a PEP 420 namespace subpackage "
        "(`flask/sansio/`): Python imports its modules and provis resolves to them (docs/pipeline.md: "
        "namespace packages); grimp only walks folders with __init__.py, so it does not know "
        "these modules and files the import under a package above them (the top-level one)",
        gr_namespace_subpackage,
    ),
]


def classify_file(path, side, ctx):
    """Why a file is analysed by one side only (its edges are then not compared)."""
    if side == "provis" and ctx["tool"] == "grimp" and in_namespace_subpackage(path, ctx):
        return "namespace-subpackage"
    return UNEXPLAINED


def classify(diffs, rules, ctx):
    for d in diffs:
        for name, _why, rule in rules:
            if rule(d, ctx):
                d.category = name
                break


# ---------------------------------------------------------------------------------------------
# Matching statements across sides


def same_statement_js(fact, others):
    return [o for o in others if o.raw == fact.raw]


def lines_of(fact):
    if fact.line is None:
        return set()
    if isinstance(fact.line, list):
        return set(fact.line)
    return {fact.line}


def same_statement_py(fact, others):
    lines = lines_of(fact)
    return [o for o in others if lines_of(o) & lines]


def fmt_fact(f):
    line = f.line
    if isinstance(line, list):
        line = ",".join(str(x) for x in line[:4]) + ("…" if len(line) > 4 else "")
    where = f"{f.target[0]}:{f.target[1]}"
    names = f" names={f.names}" if f.names else ""
    kind = f.kind
    if f.extra.get("types"):
        kind += "/" + "+".join(f.extra["types"])
    raw = f.raw if len(f.raw) < 90 else f.raw[:87] + "..."
    return f"[{kind} L{line}] {raw!r}{names} -> {where}"


def summarize(paths):
    """One table over the reports of several targets, and the categories added up."""
    rows = []
    for path in paths:
        with open(path, encoding="utf-8") as fh:
            rows.append(json.load(fh))
    print("=== summary")
    head = ("target", "tool", "provis", "tool", "common", "only-provis", "only-tool", "unexpl.")
    print("  {:<22} {:<19} {:>7} {:>7} {:>7} {:>11} {:>9} {:>7}".format(*head))
    totals = defaultdict(lambda: [0, 0])
    for r in rows:
        print(
            "  {:<22} {:<19} {:>7} {:>7} {:>7} {:>11} {:>9} {:>7}".format(
                r["label"], r["tool"], r["edgesProvis"], r["edgesTool"], r["common"],
                r["onlyProvis"], r["onlyTool"], r["unexplained"],
            )
        )
        for name, c in r["categories"].items():
            totals[(r["tool"], "edges", name)][0] += c["onlyProvis"]
            totals[(r["tool"], "edges", name)][1] += c["onlyTool"]
        for name, c in r.get("fileCategories", {}).items():
            totals[(r["tool"], "files", name)][0] += c["onlyProvis"]
            totals[(r["tool"], "files", name)][1] += c["onlyTool"]
    print("  categories, all targets (only-in-provis / only-in-tool):")
    for (tool, what, name), (a, b) in sorted(
        totals.items(), key=lambda kv: (kv[0][2] == UNEXPLAINED, kv[0])
    ):
        print(f"    {tool:<19} {what} {name}: {a} / {b}")
    bad = sum(r["unexplained"] for r in rows)
    print(f"unexplained differences: {bad}")
    return 1 if bad else 0


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "summary":
        return summarize(sys.argv[2:])
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("tool", choices=["depcruise", "grimp"])
    ap.add_argument("provis_out")
    ap.add_argument("tool_json")
    ap.add_argument("--prefix", default="", help="grimp: path of the sys.path root in the snapshot")
    ap.add_argument(
        "--package",
        action="append",
        default=[],
        help="grimp: snapshot folder of an analysed package (repeatable)",
    )
    ap.add_argument("--label", default="", help="name of the target, for the report")
    ap.add_argument("--root", help="depcruise: the package folder (its package.json names it)")
    ap.add_argument("--report", help="also write the summary as JSON here")
    ap.add_argument(
        "--verbose", action="store_true", help="show the statements behind every difference"
    )
    args = ap.parse_args()

    p_facts, p_edges, p_files = load_provis(args.provis_out)
    if args.tool == "depcruise":
        tool = "dependency-cruiser"
        t_facts, t_edges, t_files = load_depcruise(args.tool_json)
        p_files = {f: l for f, l in p_files.items() if l in ("js", "ts")}
        same = same_statement_js
        rules = RULES_DEPCRUISE
    else:
        tool = "grimp"
        prefix = args.prefix if not args.prefix or args.prefix.endswith("/") else args.prefix + "/"
        t_facts, t_edges, t_files = load_grimp(args.tool_json, prefix)
        pkgs = [p.rstrip("/") + "/" for p in args.package]
        p_files = {
            f: l for f, l in p_files.items() if l == "py" and any(f.startswith(p) for p in pkgs)
        }
        same = same_statement_py
        rules = RULES_GRIMP

    both = set(p_files) & set(t_files)
    only_p_files = sorted(set(p_files) - set(t_files))
    only_t_files = sorted(set(t_files) - set(p_files))
    p_cmp = {e for e in p_edges if e[0] in both}
    t_cmp = {e for e in t_edges if e[0] in both}
    common = p_cmp & t_cmp

    diffs = []
    for side, edges, facts, other_facts in (
        ("provis", p_cmp - t_cmp, p_facts, t_facts),
        (tool, t_cmp - p_cmp, t_facts, p_facts),
    ):
        for src, to in sorted(edges):
            mine = [f for f in facts.get(src, []) if edge_key(f.target) == to]
            theirs = []
            for f in mine:
                for o in same(f, other_facts.get(src, [])):
                    if o not in theirs:
                        theirs.append(o)
            diffs.append(Diff(side, src, to, mine, theirs))
    ctx = {
        "tool": tool,
        "p_files": p_files,
        "t_files": t_files,
        "all_files": all_files(args.provis_out),
        "packages": [p.rstrip("/") for p in args.package],
        "self_name": package_name(args.root),
        "root": args.root,
    }
    classify(diffs, rules, ctx)

    label = args.label or os.path.basename(os.path.normpath(args.provis_out))
    print(f"=== {label}: provis vs {tool}")
    print(f"files analysed by both: {len(both)}; only provis: {len(only_p_files)}; "
          f"only {tool}: {len(only_t_files)}")
    file_diffs = [(f, "provis", classify_file(f, "provis", ctx)) for f in only_p_files] + [
        (f, tool, classify_file(f, tool, ctx)) for f in only_t_files
    ]
    for f, side, cat in file_diffs:
        print(f"  [{cat}] file analysed only by {side}: {f}")
    only_p = [d for d in diffs if d.side == "provis"]
    only_t = [d for d in diffs if d.side != "provis"]
    print(f"edges: provis {len(p_cmp)}, {tool} {len(t_cmp)}, common {len(common)}, "
          f"only-in-provis {len(only_p)}, only-in-{tool} {len(only_t)}")
    cats = defaultdict(lambda: [0, 0])
    for d in diffs:
        cats[d.category][0 if d.side == "provis" else 1] += 1
    fcats = defaultdict(lambda: [0, 0])
    for _, side, cat in file_diffs:
        fcats[cat][0 if side == "provis" else 1] += 1
    why = {name: text for name, text, _ in rules}
    why[UNEXPLAINED] = "no rule explains it: a provis bug or a new policy question"
    for name, (a, b) in sorted(fcats.items()):
        print(f"  files {name}: {a} / {b}")
    print("categories (only-in-provis / only-in-tool):")
    for name in sorted(cats, key=lambda c: (c == UNEXPLAINED, c)):
        a, b = cats[name]
        print(f"  {name}: {a} / {b}\n      {why[name]}")
    for title, group in (("only in provis", only_p), (f"only in {tool}", only_t)):
        if group:
            print(f"--- {title}")
        for d in group:
            print(f"  [{d.category}] {d.src} -> {d.to}")
            if not args.verbose and d.category != UNEXPLAINED:
                continue
            for f in d.mine:
                print(f"      this side : {fmt_fact(f)}")
            for f in d.theirs:
                print(f"      other side: {fmt_fact(f)}")
            if not d.theirs:
                print("      other side: (no import on the same statement)")
    unexplained = sum(1 for d in diffs if d.category == UNEXPLAINED) + sum(
        1 for _, _, cat in file_diffs if cat == UNEXPLAINED
    )
    print(f"unexplained: {unexplained}")
    if args.report:
        summary = {
            "label": label,
            "tool": tool,
            "filesBoth": len(both),
            "filesOnlyProvis": len(only_p_files),
            "filesOnlyTool": len(only_t_files),
            "edgesProvis": len(p_cmp),
            "edgesTool": len(t_cmp),
            "common": len(common),
            "onlyProvis": len(only_p),
            "onlyTool": len(only_t),
            "categories": {k: {"onlyProvis": v[0], "onlyTool": v[1]} for k, v in cats.items()},
            "fileCategories": {
                k: {"onlyProvis": v[0], "onlyTool": v[1]} for k, v in fcats.items()
            },
            "unexplained": unexplained,
        }
        with open(args.report, "w", encoding="utf-8") as fh:
            json.dump(summary, fh, indent=1)
    return 1 if unexplained else 0


if __name__ == "__main__":
    sys.exit(main())

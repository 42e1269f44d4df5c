"""Dump grimp's import graph of one or more packages as JSON, with module names mapped to files.

Run with the agreement venv's interpreter (grimp installed):
    grimp_edges.py ROOT PKG [PKG...] > grimp.json
ROOT is the directory put on sys.path (the sdist's `lib/`, `src/` or top folder); paths in the
output are relative to it. Output:
    {"modules": {module: file}, "edges": [{"from", "to", "external", "lines": [...]}]}
`to` is a file for internal edges and grimp's squashed top-level name for external ones.
Type-checking imports are kept (grimp's default; provis's edge policy counts them too).
"""

import json
import os
import sys

import grimp


def module_file(root, module):
    """The file a module name stands for: `pkg/mod.py` or `pkg/mod/__init__.py`."""
    base = os.path.join(*module.split("."))
    for cand in (base + ".py", os.path.join(base, "__init__.py")):
        if os.path.isfile(os.path.join(root, cand)):
            return cand.replace(os.sep, "/")
    return None


def main():
    root = os.path.abspath(sys.argv[1])
    packages = sys.argv[2:]
    sys.path.insert(0, root)
    graph = grimp.build_graph(*packages, include_external_packages=True, cache_dir=None)
    modules = {}
    external = set()
    for m in graph.modules:
        if graph.is_module_squashed(m):
            external.add(m)
        else:
            modules[m] = module_file(root, m)
    edges = []
    for importer in sorted(modules):
        for imported in sorted(graph.find_modules_directly_imported_by(importer)):
            details = graph.get_import_details(importer=importer, imported=imported)
            lines = sorted({d["line_number"] for d in details})
            is_ext = imported in external
            edges.append(
                {
                    "from": modules[importer],
                    "to": imported if is_ext else modules.get(imported),
                    "toModule": imported,
                    "external": is_ext,
                    "lines": lines,
                    "statements": sorted({d["line_contents"] for d in details}),
                }
            )
    json.dump({"modules": modules, "edges": edges}, sys.stdout, indent=1)


if __name__ == "__main__":
    main()

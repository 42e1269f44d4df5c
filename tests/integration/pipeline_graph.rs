//! The graph artifact built from resolved records, and the discovery rules.

use provis::pipeline::discover::{discover, language_of, normalize_path, DiscoveredFile};
use provis::pipeline::graph::{build_graph, strongly_connected, Resolution};
use provis::pipeline::model::{FileRecord, Import, ImportKind, Language};

fn import(raw: &str, kind: ImportKind, line: u32, resolution: Option<Resolution>) -> Import {
    let mut i = Import {
        raw: raw.into(),
        kind,
        line,
        names: Vec::new(),
        level: 0,
        resolved: None,
        external: false,
        package: None,
        unresolved_reason: None,
    };
    if let Some(r) = resolution {
        r.apply_to(&mut i);
    }
    i
}

fn internal(to: &str) -> Option<Resolution> {
    Some(Resolution::Internal(to.to_string()))
}

fn file(path: &str, language: Language, imports: Vec<Import>) -> FileRecord {
    let mut r = FileRecord::new(path, language, "", b"");
    r.imports = imports;
    r
}

/// a → b → c → a (3-cycle), d → d (self-import), e ⇄ f (2-cycle), g → a; externals and
/// unresolved imports on the side; README.md is a node of language other.
fn sample() -> Vec<FileRecord> {
    use ImportKind::*;
    vec![
        file(
            "src/g.ts",
            Language::Ts,
            vec![
                import("./a", Esm, 1, internal("src/a.ts")),
                import("react", Esm, 2, Some(Resolution::External("react".into()))),
            ],
        ),
        file(
            "src/a.ts",
            Language::Ts,
            vec![
                import("./b", Esm, 3, internal("src/b.ts")),
                // The same edge again, later and earlier: merged, smallest line kept.
                import("./b", Esm, 9, internal("src/b.ts")),
                import("./b", Esm, 2, internal("src/b.ts")),
                // Neither the first nor the last of them holds the smallest line.
                import("./b", Esm, 8, internal("src/b.ts")),
                // Same target, other kind: a separate edge.
                import("./b", Type, 5, internal("src/b.ts")),
                import("react", Esm, 1, Some(Resolution::External("react".into()))),
                import(
                    "./missing",
                    Esm,
                    7,
                    Some(Resolution::Unresolved("not_found".into())),
                ),
            ],
        ),
        file(
            "src/b.ts",
            Language::Ts,
            vec![import("./c", Reexport, 1, internal("src/c.ts"))],
        ),
        file(
            "src/c.ts",
            Language::Ts,
            vec![import("./a", Cjs, 4, internal("src/a.ts"))],
        ),
        file(
            "pkg/d.py",
            Language::Py,
            vec![import(".d", PyRelative, 1, internal("pkg/d.py"))],
        ),
        file(
            "pkg/e.py",
            Language::Py,
            vec![
                import("pkg.f", Py, 1, internal("pkg/f.py")),
                import("os", Py, 2, Some(Resolution::External("os".into()))),
                import(
                    "..x",
                    PyRelative,
                    3,
                    Some(Resolution::Unresolved("beyond_top_level".into())),
                ),
                // Resolved to a path that is not a file of the snapshot.
                import("pkg.gone", Py, 4, internal("pkg/gone.py")),
                // Never resolved.
                import("pkg.raw", Py, 5, None),
            ],
        ),
        file(
            "pkg/f.py",
            Language::Py,
            vec![import("pkg.e", Py, 1, internal("pkg/e.py"))],
        ),
        file("README.md", Language::Other, vec![]),
    ]
}

#[test]
fn nodes_have_degrees_over_internal_edges_only() {
    let g = build_graph(&sample());
    let nodes: Vec<(&str, u32, u32)> = g
        .nodes
        .iter()
        .map(|n| (n.id.as_str(), n.in_degree, n.out_degree))
        .collect();
    assert_eq!(
        nodes,
        vec![
            ("README.md", 0, 0),
            ("pkg/d.py", 1, 1),
            ("pkg/e.py", 1, 1),
            ("pkg/f.py", 1, 1),
            ("src/a.ts", 2, 2),
            ("src/b.ts", 2, 1),
            ("src/c.ts", 1, 1),
            ("src/g.ts", 0, 1),
        ]
    );
    assert_eq!(g.nodes[0].language, Language::Other);
}

#[test]
fn edges_are_merged_sorted_and_typed() {
    let g = build_graph(&sample());
    let edges: Vec<String> = g
        .edges
        .iter()
        .map(|e| {
            let kind = serde_json::to_value(e.kind).unwrap();
            format!(
                "{} -> {} {} ext={} L{}",
                e.from,
                e.to,
                kind.as_str().unwrap(),
                e.external,
                e.line
            )
        })
        .collect();
    assert_eq!(
        edges,
        vec![
            "pkg/d.py -> pkg/d.py py ext=false L1",
            "pkg/e.py -> pkg/f.py py ext=false L1",
            "pkg/e.py -> os py ext=true L2",
            "pkg/f.py -> pkg/e.py py ext=false L1",
            "src/a.ts -> src/b.ts esm ext=false L2",
            "src/a.ts -> src/b.ts type ext=false L5",
            "src/a.ts -> react esm ext=true L1",
            "src/b.ts -> src/c.ts reexport ext=false L1",
            "src/c.ts -> src/a.ts cjs ext=false L4",
            "src/g.ts -> src/a.ts esm ext=false L1",
            "src/g.ts -> react esm ext=true L2",
        ]
    );
    assert_eq!(g.metrics.num_nodes, 8);
    assert_eq!(g.metrics.num_edges, 11);
    assert_eq!(g.metrics.internal, 8);
    assert_eq!(g.metrics.external, 3);
}

#[test]
fn unresolved_is_counted_apart_from_external() {
    let g = build_graph(&sample());
    let un: Vec<(&str, &str, u32, &str)> = g
        .unresolved
        .iter()
        .map(|u| (u.from.as_str(), u.raw.as_str(), u.line, u.reason.as_str()))
        .collect();
    assert_eq!(
        un,
        vec![
            ("pkg/e.py", "..x", 3, "beyond_top_level"),
            ("pkg/e.py", "pkg.gone", 4, "target_not_in_snapshot"),
            ("pkg/e.py", "pkg.raw", 5, "not_resolved"),
            ("src/a.ts", "./missing", 7, "not_found"),
        ]
    );
    assert_eq!(g.metrics.unresolved_local, 4);
    assert_eq!(g.metrics.external, 3);
}

#[test]
fn cycles_include_three_cycle_two_cycle_and_self_import() {
    let g = build_graph(&sample());
    assert_eq!(
        g.metrics.cycles,
        vec![
            vec!["pkg/d.py".to_string()],
            vec!["pkg/e.py".to_string(), "pkg/f.py".to_string()],
            vec![
                "src/a.ts".to_string(),
                "src/b.ts".to_string(),
                "src/c.ts".to_string()
            ],
        ]
    );
}

#[test]
fn top_hubs_by_in_degree_then_path() {
    let g = build_graph(&sample());
    let hubs: Vec<(&str, u32)> = g
        .metrics
        .top_hubs
        .iter()
        .map(|h| (h.id.as_str(), h.in_degree))
        .collect();
    assert_eq!(
        hubs,
        vec![
            ("src/a.ts", 2),
            ("src/b.ts", 2),
            ("pkg/d.py", 1),
            ("pkg/e.py", 1),
            ("pkg/f.py", 1),
            ("src/c.ts", 1),
        ]
    );
    // More than ten candidates: only ten, the most imported first.
    let mut many = vec![file(
        "hub.py",
        Language::Py,
        (0..12)
            .map(|i| import("x", ImportKind::Py, i + 1, internal(&format!("m{i:02}.py"))))
            .collect(),
    )];
    many.extend((0..12).map(|i| file(&format!("m{i:02}.py"), Language::Py, vec![])));
    many.push(file(
        "z.py",
        Language::Py,
        vec![import("m11", ImportKind::Py, 1, internal("m11.py"))],
    ));
    let g = build_graph(&many);
    let hubs: Vec<&str> = g.metrics.top_hubs.iter().map(|h| h.id.as_str()).collect();
    assert_eq!(hubs.len(), 10);
    assert_eq!(hubs[0], "m11.py");
    assert_eq!(
        &hubs[1..],
        &[
            "m00.py", "m01.py", "m02.py", "m03.py", "m04.py", "m05.py", "m06.py", "m07.py",
            "m08.py"
        ]
    );
}

#[test]
fn long_chain_and_big_cycle_need_no_recursion() {
    // 200,000 files in one import ring: a recursive Tarjan would overflow a small stack.
    let n = 200_000;
    let adjacency: Vec<Vec<usize>> = (0..n).map(|i| vec![(i + 1) % n]).collect();
    let sccs = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(move || strongly_connected(&adjacency))
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(sccs.len(), 1);
    assert_eq!(sccs[0].len(), n);
}

#[test]
fn artifact_json_has_camel_case_shape() {
    let g = build_graph(&sample());
    let v = serde_json::to_value(&g).unwrap();
    let keys = |v: &serde_json::Value| {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(keys(&v), vec!["edges", "metrics", "nodes", "unresolved"]);
    assert_eq!(
        keys(&v["nodes"][0]),
        vec!["id", "inDegree", "language", "outDegree"]
    );
    assert_eq!(v["nodes"][0]["language"], "other");
    assert_eq!(
        keys(&v["edges"][0]),
        vec!["external", "from", "kind", "line", "to"]
    );
    assert_eq!(
        keys(&v["unresolved"][0]),
        vec!["from", "line", "raw", "reason"]
    );
    assert_eq!(
        keys(&v["metrics"]),
        vec![
            "cycles",
            "external",
            "internal",
            "numEdges",
            "numNodes",
            "topHubs",
            "unresolvedLocal"
        ]
    );
    assert_eq!(keys(&v["metrics"]["topHubs"][0]), vec!["id", "inDegree"]);
    assert_eq!(v["edges"][0]["kind"], "py");
    // Round trip.
    let back: provis::pipeline::graph::Graph = serde_json::from_value(v).unwrap();
    assert_eq!(back, g);
}

#[test]
fn build_graph_is_deterministic_whatever_the_input_order() {
    let a = build_graph(&sample());
    let mut reversed = sample();
    reversed.reverse();
    let b = build_graph(&reversed);
    assert_eq!(
        serde_json::to_string(&a).unwrap(),
        serde_json::to_string(&b).unwrap()
    );
}

fn paths(files: &[DiscoveredFile]) -> Vec<&str> {
    files.iter().map(|f| f.path.as_str()).collect()
}

#[test]
fn discovery_normalises_sorts_and_ignores() {
    let input = vec![
        ("./src\\app.ts", 10u64),
        ("src/app.min.js", 10),
        ("node_modules/react/index.js", 10),
        ("packages/web/node_modules/x/y.js", 10),
        ("a/__pycache__/m.cpython-311.pyc", 10),
        (".git/HEAD", 10),
        ("web/.next/server.js", 10),
        ("lib/build/out.js", 10),
        ("tools/build.py", 10), // a file named like an ignored dir is kept
        ("dist", 10),           // so is a file named `dist`
        ("logo.PNG", 10),
        ("fonts/a.woff2", 10),
        ("native/lib.so", 10),
        ("package-lock.json", 10),
        ("sub/yarn.lock", 10),
        ("poetry.lock", 10),
        ("Cargo.lock", 10),
        ("docs/guide.md", 10),
        ("tests/test_app.py", 10),
        ("examples/demo.tsx", 10),
        ("src/", 0),
        ("../etc/passwd", 10),
        ("C:/x.py", 10),
        ("src/app.ts", 99), // duplicate after normalisation
        ("types/index.d.ts", 10),
        ("icon.svg", 10),
        (".gitignore", 10),
        ("Makefile", 10),
        ("mod.pyi", 10),
        ("cli.mjs", 10),
    ];
    let d = discover(input);
    assert_eq!(
        paths(&d.files),
        vec![
            ".gitignore",
            "Makefile",
            "cli.mjs",
            "dist",
            "docs/guide.md",
            "examples/demo.tsx",
            "icon.svg",
            "mod.pyi",
            "src/app.ts",
            "tests/test_app.py",
            "tools/build.py",
            "types/index.d.ts",
        ]
    );
    let counts: Vec<(&str, u64)> = d.ignored.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    assert_eq!(
        counts,
        vec![
            ("binary", 3),
            ("directory", 1),
            ("duplicate", 1),
            ("ignored_dir", 6),
            ("lock_file", 4),
            ("minified", 1),
            ("unsafe_path", 2),
        ]
    );
    let app = d.files.iter().find(|f| f.path == "src/app.ts").unwrap();
    assert_eq!(app.size, 10, "the first of duplicate entries is kept");
    let by_path = |p: &str| d.files.iter().find(|f| f.path == p).unwrap();
    assert_eq!(
        (
            by_path("types/index.d.ts").language,
            by_path("types/index.d.ts").ext.as_str()
        ),
        (Language::Ts, "d.ts")
    );
    assert_eq!(
        (by_path("mod.pyi").language, by_path("mod.pyi").ext.as_str()),
        (Language::Py, "pyi")
    );
    assert_eq!(by_path("cli.mjs").language, Language::Js);
    assert_eq!(
        (
            by_path("docs/guide.md").language,
            by_path("docs/guide.md").ext.as_str()
        ),
        (Language::Other, "md")
    );
    assert_eq!(by_path(".gitignore").ext, "");
    assert!(by_path("src/app.ts").should_parse(10));
    assert!(!by_path("src/app.ts").should_parse(9));
    assert!(!by_path("docs/guide.md").should_parse(1_000_000));
}

#[test]
fn path_normalisation_and_languages() {
    assert_eq!(normalize_path("./a//b/./c.py").as_deref(), Ok("a/b/c.py"));
    assert_eq!(normalize_path("/abs/x.js").as_deref(), Ok("abs/x.js"));
    assert!(normalize_path("a/../b").is_err());
    assert!(normalize_path("").is_err());
    assert_eq!(
        language_of("x/Component.TSX"),
        (Language::Ts, "tsx".to_string())
    );
    assert_eq!(
        language_of("lib.d.mts"),
        (Language::Ts, "d.mts".to_string())
    );
    assert_eq!(language_of("d.ts"), (Language::Ts, "ts".to_string()));
    assert_eq!(language_of("é.py"), (Language::Py, "py".to_string()));
    assert_eq!(
        language_of("data.json"),
        (Language::Other, "json".to_string())
    );
}

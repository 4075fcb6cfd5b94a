//! The library's top-level modules form layers without circles (README "How it works"):
//! read from the `crate::…` paths in `src/`, the import graph between `rules`, `store`,
//! `crm`, `calls`, `engine`, … has no cycle, and `exit` (which knows every layer's errors)
//! is imported by none of them but `app`, the use-case layer on top, which nothing imports.
//! The binary's `cli` sits above the library: it talks to `app`, never to `store` or `crm`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Edges between top-level modules, each with one place that makes it: (from, to) → file:line.
type Graph = BTreeMap<String, BTreeMap<String, String>>;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Top-level module names that `line` (comments removed) refers to through `crate::`.
fn referenced(line: &str) -> Vec<String> {
    referenced_after(line, "crate::")
}

/// Module names that `line` refers to through `prefix` (`crate::`, `crate::calls::`).
fn referenced_after(line: &str, prefix: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = line;
    while let Some(at) = rest.find(prefix) {
        // `amocrm_bin::crate::` never occurs; `$crate::` in macros is not a module edge.
        let before = &rest[..at];
        rest = &rest[at + prefix.len()..];
        if before.ends_with('$') || before.ends_with(|c: char| c.is_alphanumeric() || c == '_') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            // `use crate::{a::X, b};`: the first segment of each item at brace depth 0.
            let mut depth = 0;
            let mut item = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        found.push(first_segment(&item));
                        item.clear();
                        continue;
                    }
                    _ => {}
                }
                item.push(c);
            }
            found.push(first_segment(&item));
        } else {
            found.push(first_segment(rest));
        }
    }
    found.retain(|m| !m.is_empty());
    found
}

fn first_segment(path: &str) -> String {
    path.trim()
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect()
}

fn library_graph() -> Graph {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut graph = Graph::new();
    for file in files {
        let rel = file.strip_prefix(&src).unwrap();
        let top = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_string();
        if matches!(top.as_str(), "lib" | "main" | "cli") {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for to in referenced(code) {
                if to != top {
                    add_edge(&mut graph, &top, to, || {
                        format!("src/{}:{}", rel.display(), n + 1)
                    });
                }
            }
        }
    }
    graph
}

/// Records the first place that makes the edge `from → to`.
fn add_edge(graph: &mut Graph, from: &str, to: String, at: impl FnOnce() -> String) {
    graph
        .entry(from.to_string())
        .or_default()
        .entry(to)
        .or_insert_with(at);
}

/// Fails with the circle, edge by edge with where each is made, if the graph has one.
fn assert_acyclic(graph: &Graph, what: &str, fix: &str) {
    if let Some(cycle) = find_cycle(graph) {
        let edges: Vec<String> = cycle
            .windows(2)
            .map(|w| format!("{} → {} ({})", w[0], w[1], graph[&w[0]][&w[1]]))
            .collect();
        panic!(
            "import circle between {what}:\n  {}\n{fix}",
            edges.join("\n  ")
        );
    }
}

/// One cycle as a path `a → b → … → a`, if there is any.
fn find_cycle(graph: &Graph) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &Graph,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|p| p == node) {
            let mut cycle = path[i..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flat_map(|m| m.keys()) {
            if let Some(c) = visit(next, graph, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|n| visit(n, graph, &mut Vec::new(), &mut done))
}

#[test]
fn the_cycle_finder_finds_a_circle_and_reads_grouped_imports() {
    let mut g = Graph::new();
    for (a, b) in [("exit", "lock"), ("lock", "exit"), ("engine", "rules")] {
        g.entry(a.into())
            .or_default()
            .insert(b.into(), String::new());
    }
    assert_eq!(
        find_cycle(&g),
        Some(vec!["exit".into(), "lock".into(), "exit".into()])
    );
    assert_eq!(
        referenced("use crate::{crm::{Crm, Dictionaries}, store::Store};"),
        ["crm", "store"]
    );
    assert_eq!(
        referenced("let x = crate::phone::same(a, b) && $crate::log::x();"),
        ["phone"]
    );
}

#[test]
fn top_level_modules_import_each_other_without_circles() {
    let graph = library_graph();
    // The graph is really read: the engine builds on the rules and the store.
    assert!(graph["engine"].contains_key("rules") && graph["engine"].contains_key("store"));
    assert_acyclic(
        &graph,
        "top-level modules",
        "move the shared piece below both (see README \"How it works\")",
    );
    // `app`, the use-case layer, sits above `exit`; every other module sits below it.
    let into_exit: Vec<String> = graph
        .iter()
        .filter(|(from, _)| *from != "app")
        .filter_map(|(from, to)| to.get("exit").map(|at| format!("{from} ({at})")))
        .collect();
    assert!(
        into_exit.is_empty(),
        "exit.rs sits on top; these import it back (use crate::status instead): {into_exit:?}"
    );
}

/// Where `from` imports one of `rooms`, each as `to (file:line)`: the edges a layer forbids.
fn edges_into(graph: &Graph, from: &str, rooms: &[&str]) -> Vec<String> {
    rooms
        .iter()
        .filter_map(|to| {
            let at = graph.get(from)?.get(*to)?;
            Some(format!("{to} ({at})"))
        })
        .collect()
}

#[test]
fn nothing_in_the_library_imports_the_use_case_layer() {
    let graph = library_graph();
    // Really read: `app` builds on the engine, the store and the client.
    for to in ["engine", "store", "crm", "exit"] {
        assert!(graph["app"].contains_key(to), "app → {to}: {graph:?}");
    }
    let into_app: Vec<String> = graph
        .iter()
        .filter_map(|(from, to)| to.get("app").map(|at| format!("{from} ({at})")))
        .collect();
    assert!(
        into_app.is_empty(),
        "app sits on top of the library; these import it back: {into_app:?}"
    );
}

/// Where the binary (`src/main.rs`, `src/cli/**`) names one of `rooms` through
/// `amocrm_bin::` (grouped imports included), each as `room (file:line)`.
fn binary_edges_into(rooms: &[&str]) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![root.join("src/main.rs")];
    rust_files(&root.join("src/cli"), &mut files);
    let mut found = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        // A grouped `use` may span lines: read each statement whole.
        let code: String = text
            .lines()
            .map(|l| l.split("//").next().unwrap_or(""))
            .collect::<Vec<_>>()
            .join(" ");
        for to in referenced_after(&code, "amocrm_bin::") {
            if rooms.contains(&to.as_str()) {
                found.push(format!("{to} ({})", file.display()));
            }
        }
    }
    found
}

#[test]
fn the_cli_talks_to_the_use_case_layer_not_to_the_store_or_the_client() {
    // The reader sees grouped and plain paths.
    assert_eq!(
        referenced_after(
            "use amocrm_bin::{app, store::Store}; amocrm_bin::crm::amo::AmoCrm::new",
            "amocrm_bin::"
        ),
        ["app", "store", "crm"]
    );
    // Really read: the CLI calls `app`.
    assert!(!binary_edges_into(&["app"]).is_empty());
    let direct = binary_edges_into(&["store", "crm"]);
    assert!(
        direct.is_empty(),
        "src/cli and src/main.rs go through `amocrm_bin::app` (re-export what they print): \
         {direct:?}"
    );
}

#[test]
fn the_sync_engine_imports_neither_the_setup_room_nor_call_tracking() {
    let graph = library_graph();
    // Really read: `check` builds on the engine's resolvers and on the calls' own.
    assert!(graph["setup"].contains_key("engine") && graph["setup"].contains_key("calls"));
    // And a wrong edge is caught.
    let mut wrong = Graph::new();
    add_edge(&mut wrong, "engine", "setup".into(), || {
        "src/engine/x.rs:1".into()
    });
    assert_eq!(
        edges_into(&wrong, "engine", &["setup", "calls"]),
        ["setup (src/engine/x.rs:1)"]
    );
    let back = edges_into(&graph, "engine", &["setup", "calls"]);
    assert!(
        back.is_empty(),
        "the sync engine imports what stands above it; `init`, `setup-fields` and `check` \
         belong in src/setup, call tracking in src/calls: {back:?}"
    );
}

/// The file-level import graph inside `dir` (relative to the repository; a file, or a
/// sub-directory, is a node), read from `super::…` and `prefix` paths (the directory's own
/// module path) outside `#[cfg(test)]` modules.
fn files_graph(dir: &str, prefix: &str) -> Graph {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut files = Vec::new();
    rust_files(&dir, &mut files);
    let node = |f: &Path| {
        let rel = f.strip_prefix(&dir).unwrap();
        let first = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy();
        first.trim_end_matches(".rs").to_string()
    };
    let nodes: BTreeSet<String> = files.iter().map(|f| node(f)).collect();
    let mut graph = Graph::new();
    for file in &files {
        let from = node(file);
        let nested = file.parent() != Some(dir.as_path());
        let text = std::fs::read_to_string(file).unwrap();
        for (n, line) in text.lines().enumerate() {
            if line.trim_start().starts_with("#[cfg(test)]") {
                break;
            }
            let code = line.split("//").next().unwrap_or("");
            // `super::` is the directory in a top file; one level down it takes
            // `super::super::`.
            let code = if nested {
                code.replace("super::super::", prefix)
            } else {
                code.replace("super::", prefix)
            };
            for to in referenced_after(&code, prefix) {
                if to != from && nodes.contains(&to) {
                    add_edge(&mut graph, &from, to, || {
                        format!("{}:{}", file.display(), n + 1)
                    });
                }
            }
        }
    }
    graph
}

fn calls_graph() -> Graph {
    files_graph("src/calls", "crate::calls::")
}

#[test]
fn files_of_the_cli_and_of_the_sandbox_import_each_other_without_circles() {
    let cli = files_graph("src/cli", "crate::cli::");
    // Really read: commands build on their arguments and the shared context.
    assert!(cli["sync"].contains_key("args"), "{cli:?}");
    assert!(cli["outbox"].contains_key("args"), "{cli:?}");
    assert_acyclic(
        &cli,
        "files of src/cli",
        "keep argument types in args.rs and shared helpers in a file both import",
    );
    let sandbox = files_graph("sandbox/src", "crate::");
    assert!(sandbox["oauth"].contains_key("message"), "{sandbox:?}");
    assert!(sandbox["http"].contains_key("shared"), "{sandbox:?}");
    assert_acyclic(
        &sandbox,
        "files of sandbox/src",
        "move the shared piece into a file both import (as message.rs holds the HTTP messages)",
    );
}

#[test]
fn files_inside_calls_import_each_other_without_circles() {
    let graph = calls_graph();
    // The graph is really read: the parsers and the planner build on the events.
    for from in ["parse", "ringostat", "plan"] {
        assert!(graph[from].contains_key("event"), "{from}: {graph:?}");
    }
    assert_acyclic(
        &graph,
        "files of src/calls",
        "move the shared piece into a file both import",
    );
}

#[test]
fn files_inside_setup_import_each_other_without_circles() {
    let graph = files_graph("src/setup", "crate::setup::");
    // The graph is really read: `check` gathers the names and the field checks.
    assert!(graph["check"].contains_key("names") && graph["check"].contains_key("field_check"));
    assert_acyclic(
        &graph,
        "files of src/setup",
        "move the shared piece into a file both import (as finding.rs holds the findings)",
    );
}

#[test]
fn files_inside_app_import_each_other_without_circles() {
    let graph = files_graph("src/app", "crate::app::");
    // Really read: `check` takes the account's name from `init`, `backfill` starts the
    // hook's drain.
    assert!(graph["check"].contains_key("init") && graph["backfill"].contains_key("hook"));
    assert_acyclic(
        &graph,
        "files of src/app",
        "move the shared piece into a file both import (as run.rs holds a run's result)",
    );
}

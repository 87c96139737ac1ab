//! The house as docs/architecture.md draws it: its Layout table of which crate uses
//! which must be the workspace's real dependency graph (`cargo metadata`),
//! every arrow must point to a crate listed before it (no cycle, nothing runs
//! back up), and no crate may hold more than about a quarter of the code.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The Layout table of docs/architecture.md: crate → the topolab crates it uses, in table order.
fn layout_table() -> Vec<(String, BTreeSet<String>)> {
    let doc =
        std::fs::read_to_string(root().join("docs/architecture.md")).expect("docs/architecture.md");
    let start = doc
        .find("| crate | uses |")
        .expect("the Layout table `| crate | uses |`");
    doc[start..]
        .lines()
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            let name = cells[1].trim_matches('`');
            let name = name
                .split_whitespace()
                .next()
                .unwrap_or(name)
                .trim_matches('`');
            let uses = cells[2]
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect();
            (name.to_string(), uses)
        })
        .collect()
}

/// `cargo metadata`'s normal (not dev, not build) edges between workspace crates,
/// with the `topolab-` prefix taken off, and each crate's folder.
fn workspace_graph() -> BTreeMap<String, (PathBuf, BTreeSet<String>)> {
    let out = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(root())
        .output()
        .expect("cargo metadata");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: Value = serde_json::from_slice(&out.stdout).expect("metadata JSON");
    let short = |n: &str| n.strip_prefix("topolab-").unwrap_or(n).to_string();
    meta["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .map(|p| {
            let uses = p["dependencies"]
                .as_array()
                .expect("dependencies")
                .iter()
                .filter(|d| d["kind"].is_null())
                .filter_map(|d| d["name"].as_str())
                .filter(|n| n.starts_with("topolab-"))
                .map(short)
                .collect();
            let manifest = PathBuf::from(p["manifest_path"].as_str().expect("manifest_path"));
            let dir = manifest.parent().expect("a crate's folder").to_path_buf();
            (short(p["name"].as_str().expect("name")), (dir, uses))
        })
        .collect()
}

#[test]
fn the_layout_table_is_the_dependency_graph() {
    let table = layout_table();
    let graph = workspace_graph();
    let listed: BTreeSet<&String> = table.iter().map(|(n, _)| n).collect();
    let real: BTreeSet<&String> = graph.keys().collect();
    assert_eq!(
        listed, real,
        "the Layout table of docs/architecture.md lists other crates than the workspace"
    );
    for (name, uses) in &table {
        assert_eq!(
            uses, &graph[name].1,
            "docs/architecture.md says `{name}` uses {uses:?}; Cargo.toml says {:?}",
            graph[name].1
        );
    }
    let mut before = BTreeSet::new();
    for (name, uses) in &table {
        let later: Vec<&String> = uses.difference(&before).collect();
        assert!(
            later.is_empty(),
            "`{name}` uses {later:?}, listed after it: an arrow runs back up"
        );
        before.insert(name.clone());
    }
}

/// Lines of Rust under `dir`, skipping nested crates' folders.
fn rust_lines(dir: &Path, crates: &BTreeSet<PathBuf>, top: &Path) -> usize {
    let mut n = 0;
    for entry in std::fs::read_dir(dir).expect("read_dir").flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if path.is_dir() {
            if name == "target" || name == ".git" || (path != top && crates.contains(&path)) {
                continue;
            }
            n += rust_lines(&path, crates, top);
        } else if path.extension().is_some_and(|e| e == "rs") {
            n += std::fs::read_to_string(&path).map_or(0, |s| s.lines().count());
        }
    }
    n
}

#[test]
fn no_crate_holds_more_than_a_quarter_of_the_code() {
    let graph = workspace_graph();
    let dirs: BTreeSet<PathBuf> = graph.values().map(|(d, _)| d.clone()).collect();
    let sizes: BTreeMap<&String, usize> = graph
        .iter()
        .map(|(name, (dir, _))| {
            // The root package is the command line: its `src/` and `tests/`.
            let lines = if *dir == root() {
                rust_lines(&dir.join("src"), &dirs, dir)
                    + rust_lines(&dir.join("tests"), &dirs, dir)
            } else {
                rust_lines(dir, &dirs, dir)
            };
            (name, lines)
        })
        .collect();
    let total: usize = sizes.values().sum();
    for (name, lines) in &sizes {
        assert!(
            *lines * 100 <= total * 27,
            "`{name}` holds {lines} of {total} lines ({:.0}%), more than about a quarter",
            *lines as f64 * 100.0 / total as f64
        );
    }
}

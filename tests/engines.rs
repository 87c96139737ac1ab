//! The engines table: every word of the topology format (read from the
//! model's types, `engines/features.rs`) against the four engines (local
//! processes, Docker Swarm, the simulator, a Kubernetes export), each cell
//! earned by a run of a composite topology whose figures a check read
//! (`engines/checks*.rs`). The test writes `docs/engines.md` and the
//! README's "What runs where" with `TOPOLAB_WRITE_ENGINES=1`, and otherwise
//! fails when they differ from what the engines did, naming every ✓ that
//! the runs no longer back. A missing Docker Swarm, `kubernetes-validate`
//! or network namespaces fail it in CI and skip it elsewhere.

#[path = "engines/checks.rs"]
mod checks;
#[path = "engines/checks_load.rs"]
mod checks_load;
mod common;
#[path = "engines/features.rs"]
mod features;
#[path = "engines/figures.rs"]
mod figures;
#[path = "engines/run.rs"]
mod run;
#[path = "engines/table.rs"]
mod table;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::{Sandbox, peers, require_peer};
use figures::Figures;
use run::{Engine, Outcome};
use table::Cell;

/// The README's section the compact table is written under.
const SECTION: &str = "## What runs where";
/// The section it goes before when the README has none yet.
const BEFORE: &str = "## Where to go next";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn every_word_of_the_format_has_a_check() {
    let rows = features::all();
    let missing: Vec<String> = rows
        .iter()
        .filter(|f| checks::check_for(f).is_none())
        .map(|f| f.to_string())
        .collect();
    assert!(
        missing.is_empty(),
        "rows of the format with no check in tests/engines/checks*.rs: {missing:?}"
    );
    let mut labels: Vec<String> = rows.iter().map(table::label).collect();
    labels.sort();
    labels.dedup();
    assert_eq!(labels.len(), rows.len(), "one row per word: {labels:?}");
    // The words are the format's own: a few that must be there.
    for (group, word) in [
        ("balance policy", "p2c"),
        ("fault kind", "kill"),
        ("setting", "warmup"),
    ] {
        assert!(
            rows.contains(&features::Feature { group, word }),
            "{group}: {word}"
        );
    }
}

/// A ✓ needs a check that saw the feature: figures that hold nothing earn
/// none, from any check, on any engine, and the table built from them has
/// no ✓ and no claim of the committed page survives it.
#[test]
fn figures_without_a_feature_earn_no_tick() {
    let rows = features::all();
    for f in &rows {
        let check = checks::check_for(f).unwrap();
        assert!(
            (check.seen)(&Figures::empty()).is_err(),
            "{f}: seen in empty figures"
        );
    }
    let file = root().join("tests/topologies/engines-mesh.yaml");
    let outcomes: Vec<(Engine, PathBuf, Outcome)> = Engine::ALL
        .iter()
        .map(|e| {
            let o = match e {
                Engine::Kubernetes => Outcome::Expressed,
                _ => Outcome::Ran(Box::new(Figures::empty())),
            };
            (*e, file.clone(), o)
        })
        .collect();
    let built = table::build(&rows, &outcomes);
    for (f, _, cells) in &built.rows {
        assert!(!cells.contains(&Cell::Tick), "{f}: {cells:?}");
    }
    if let Ok(committed) = std::fs::read_to_string(root().join("docs/engines.md")) {
        let claims = committed.lines().filter(|l| l.contains("| ✓")).count();
        let broken = table::broken_ticks(&committed, &built);
        assert!(
            claims == 0 || !broken.is_empty(),
            "the page claims {claims} ✓ and none was found unbacked"
        );
    }
}

#[test]
fn the_engines_table_is_what_the_engines_did() {
    if !require_peer(&peers::SWARM)
        || !require_peer(&peers::KUBERNETES_VALIDATE)
        || !require_peer(&peers::NETNS)
    {
        return;
    }
    let sandbox = Sandbox::new();
    let files = run::topologies();
    assert!(files.len() >= 2, "{files:?}");
    let mut outcomes = Vec::new();
    let mut starved = Vec::new();
    for engine in Engine::ALL {
        for file in &files {
            let started = Instant::now();
            let outcome = on_a_calm_machine(engine, file, &sandbox);
            if let Outcome::Ran(figures) = &outcome
                && let Some(why) = figures.starved()
            {
                starved.push(format!("{engine:?} {}: {why}", file.display()));
            }
            let what = match &outcome {
                Outcome::Ran(_) => "ran".to_string(),
                Outcome::Expressed => "expressed".to_string(),
                Outcome::Refused(why) => format!("refused: {why:?}"),
            };
            eprintln!(
                "{engine:?} {}: {what} ({:.1} s)",
                file.display(),
                started.elapsed().as_secs_f64()
            );
            outcomes.push((engine, file.clone(), outcome));
        }
    }
    let left = sandbox.wait_all_gone(Duration::from_secs(10));
    assert!(
        left.is_empty(),
        "processes of the runs left behind: {left:?}"
    );
    let stacks = run::stacks_left();
    assert!(
        stacks.is_empty(),
        "Swarm stacks of the runs left behind: {stacks:?}"
    );
    let built = table::build(&features::all(), &outcomes);
    for (f, _, cells) in &built.rows {
        for (engine, cell) in Engine::ALL.iter().zip(cells) {
            if let Cell::Unseen(found) = cell {
                eprintln!("✗ {f} on {engine:?}: {found}");
            }
        }
    }
    let starved = if starved.is_empty() {
        String::new()
    } else {
        format!(
            "\n(the machine starved these runs at every attempt; try again when it is quieter: {starved:?})"
        )
    };
    // Local processes are the reference: a word they did not exercise is a
    // composite topology without it (or a check that cannot see it).
    let local: Vec<String> = built
        .rows
        .iter()
        .filter(|(_, _, cells)| cells[0] != Cell::Tick) // Engine::ALL[0] is Local
        .map(|(f, _, cells)| format!("{f}: {:?}", cells[0]))
        .collect();
    assert!(
        local.is_empty(),
        "local runs did not exercise:\n{}{starved}",
        local.join("\n")
    );
    let page = table::page(&built);
    let readme_path = root().join("README.md");
    let readme = std::fs::read_to_string(&readme_path).unwrap();
    let new_readme = with_section(&readme, &table::compact(&built));
    let page_path = root().join("docs/engines.md");
    if std::env::var_os("TOPOLAB_WRITE_ENGINES").is_some() {
        std::fs::write(&page_path, &page).unwrap();
        std::fs::write(&readme_path, &new_readme).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&page_path).unwrap_or_default();
    let broken = table::broken_ticks(&committed, &built);
    assert!(
        broken.is_empty(),
        "docs/engines.md claims ✓ where the runs did not exercise the feature:\n{}{starved}",
        broken.join("\n")
    );
    let regenerate =
        "regenerate with `TOPOLAB_WRITE_ENGINES=1 cargo test --test engines` and commit";
    assert!(
        committed == page,
        "docs/engines.md differs from what the engines did; {regenerate}:\n{page}"
    );
    assert!(
        readme == new_readme,
        "README.md's `{SECTION}` differs from what the engines did; {regenerate}"
    );
}

/// Runs left to an engine whose runs a busy machine starves.
const ATTEMPTS: usize = 3;

/// `engine` given `file`, again (up to [`ATTEMPTS`] times) while the run's
/// own figures say the machine starved it; the last run stands.
fn on_a_calm_machine(engine: Engine, file: &std::path::Path, sandbox: &Sandbox) -> Outcome {
    for attempt in 1.. {
        let outcome = run::on(engine, file, sandbox);
        let starved = match &outcome {
            Outcome::Ran(figures) => figures.starved(),
            _ => None,
        };
        match starved {
            Some(why) if attempt < ATTEMPTS => {
                eprintln!("{engine:?} {}: starved ({why}); again", file.display());
            }
            _ => return outcome,
        }
    }
    unreachable!("the loop returns by its last attempt")
}

/// `readme` with the body of [`SECTION`] replaced by `body` (or the section
/// added before [`BEFORE`]).
fn with_section(readme: &str, body: &str) -> String {
    let section = format!("{SECTION}\n\n{body}\n");
    if let Some(at) = readme.find(&format!("\n{SECTION}\n")) {
        let start = at + 1;
        let end = readme[start + SECTION.len()..]
            .find("\n## ")
            .map_or(readme.len(), |i| start + SECTION.len() + i + 1);
        return format!("{}{section}{}", &readme[..start], &readme[end..]);
    }
    let at = readme.find(BEFORE).expect("the README's last sections");
    format!("{}{section}{}", &readme[..at], &readme[at..])
}

#[test]
fn the_section_is_replaced_in_place() {
    let readme = "# t\n\nintro\n\n## Where to go next\n\nlinks\n";
    let once = with_section(readme, "table A\n");
    assert_eq!(
        once,
        "# t\n\nintro\n\n## What runs where\n\ntable A\n\n## Where to go next\n\nlinks\n"
    );
    let twice = with_section(&once, "table B\n");
    assert_eq!(twice, once.replace("table A", "table B"));
}

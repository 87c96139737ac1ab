//! From outcomes to cells, and cells to the two tables: every feature in
//! `docs/engines.md`, and the groups in the README's "What runs where".

use std::path::PathBuf;

use super::checks::check_for;
use super::features::{self, Feature};
use super::run::{Engine, Outcome};

/// What one engine did with one feature.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// A run or prediction on it exercised the feature and the check saw it
    /// (Kubernetes: the manifests express a file whose local run did).
    Tick,
    /// The engine refused the file that exercises it, in its own words.
    Refused(String),
    /// It means nothing on that engine, and why.
    Meaningless(&'static str),
    /// The engine took the file, but its figures did not show the feature;
    /// what the check found (for the test's output, not the table, since
    /// it holds the run's own numbers).
    Unseen(String),
}

/// Cells that mean nothing on an engine, each with its reason.
pub fn meaningless(engine: Engine, feature: &Feature) -> Option<&'static str> {
    match (engine, feature.group, feature.word) {
        (Engine::Predict, "setting", "trace" | "trace_budget") => {
            Some("the simulator makes no spans and writes no traces.jsonl")
        }
        _ => None,
    }
}

/// One row per feature, one cell per engine of [`Engine::ALL`].
pub struct Table {
    /// Each feature, what its check reads, and its cells.
    pub rows: Vec<(Feature, &'static str, Vec<Cell>)>,
}

/// Every feature's cells, from every (engine, file, outcome).
pub fn build(rows: &[Feature], outcomes: &[(Engine, PathBuf, Outcome)]) -> Table {
    let rows = rows
        .iter()
        .map(|f| {
            let check = check_for(f).unwrap_or_else(|| panic!("{f}: no check"));
            let cells = Engine::ALL.iter().map(|e| cell(*e, f, outcomes)).collect();
            (f.clone(), check.what, cells)
        })
        .collect();
    Table { rows }
}

fn cell(engine: Engine, f: &Feature, outcomes: &[(Engine, PathBuf, Outcome)]) -> Cell {
    let seen = check_for(f).unwrap().seen;
    // The files whose local run exercised the feature: the ones that speak for it.
    let exercising: Vec<&PathBuf> = outcomes
        .iter()
        .filter(|(e, _, o)| *e == Engine::Local && matches!(o, Outcome::Ran(r) if seen(r).is_ok()))
        .map(|(_, file, _)| file)
        .collect();
    let mine = || outcomes.iter().filter(|(e, _, _)| *e == engine);
    let ticked = mine().any(|(_, file, o)| match o {
        Outcome::Ran(r) => seen(r).is_ok(),
        Outcome::Expressed => exercising.contains(&file),
        Outcome::Refused(_) => false,
    });
    let why = meaningless(engine, f);
    assert!(
        !(ticked && why.is_some()),
        "{f} on {engine:?} is declared meaningless ({}) yet its check saw it: drop the declaration in tests/engines/table.rs",
        why.unwrap_or_default()
    );
    if ticked {
        return Cell::Tick;
    }
    if let Some(why) = why {
        return Cell::Meaningless(why);
    }
    let refusal = mine().find_map(|(_, file, o)| match o {
        Outcome::Refused(reasons) if exercising.contains(&file) => Some(
            reasons
                .iter()
                .find(|r| r.contains(&format!("`{}`", f.word)))
                .unwrap_or(&reasons[0])
                .clone(),
        ),
        _ => None,
    });
    if let Some(reason) = refusal {
        return Cell::Refused(reason);
    }
    let findings: Vec<String> = mine()
        .filter_map(|(_, file, o)| match o {
            Outcome::Ran(r) if exercising.is_empty() || exercising.contains(&file) => {
                seen(r).err().map(|e| format!("{}: {e}", stem(file)))
            }
            _ => None,
        })
        .collect();
    Cell::Unseen(if findings.is_empty() {
        "no local run exercised it".into()
    } else {
        findings.join("; ")
    })
}

fn stem(file: &std::path::Path) -> String {
    file.file_name().unwrap().to_string_lossy().into_owned()
}

/// A cell as the table shows it: Markdown, one line, no bare `|`.
fn show(cell: &Cell) -> String {
    let text = match cell {
        Cell::Tick => "✓".to_string(),
        Cell::Refused(why) => format!("refused: {why}"),
        Cell::Meaningless(why) => format!("— {why}"),
        Cell::Unseen(_) => "✗ not seen".to_string(),
    };
    text.replace('|', "\\|")
}

/// The first column of a row, unique per feature.
pub fn label(f: &Feature) -> String {
    format!("{}: `{}`", f.group, f.word)
}

/// The header row and rule of a table with `first` columns before the engines.
fn header(first: &[&str]) -> String {
    let titles: Vec<&str> = first
        .iter()
        .copied()
        .chain(Engine::ALL.iter().map(|e| e.title()))
        .collect();
    format!(
        "| {} |\n|{}\n",
        titles.join(" | "),
        "---|".repeat(titles.len())
    )
}

/// The text of `docs/engines.md`.
pub fn page(table: &Table) -> String {
    let mut out = String::from(include_str!("page_head.md"));
    out.push_str(&header(&["feature", "what the check reads"]));
    for (f, what, cells) in &table.rows {
        let cells: Vec<String> = cells.iter().map(show).collect();
        out.push_str(&format!(
            "| {} | {what} | {} |\n",
            label(f),
            cells.join(" | ")
        ));
    }
    out
}

/// The body of the README's "What runs where" section: one row per group.
pub fn compact(table: &Table) -> String {
    let mut out = String::from(
        "The format's words by group against each engine, from runs a test makes\nand checks; every word, and what each mark means:\n[docs/engines.md](docs/engines.md).\n\n",
    );
    out.push_str(&header(&["feature"]));
    let all: Vec<Feature> = table.rows.iter().map(|(f, _, _)| f.clone()).collect();
    for group in features::groups(&all) {
        let rows: Vec<_> = table
            .rows
            .iter()
            .filter(|(f, _, _)| f.group == group)
            .collect();
        let cells: Vec<String> = (0..Engine::ALL.len())
            .map(|i| summarize(rows.iter().map(|(f, _, cells)| (f.word, &cells[i]))))
            .collect();
        out.push_str(&format!("| {group} | {} |\n", cells.join(" | ")));
    }
    out
}

/// A group's cells on one engine in a few words: `✓`, or the exceptions.
fn summarize<'a>(cells: impl Iterator<Item = (&'static str, &'a Cell)>) -> String {
    let (mut ticks, mut refused, mut nothing, mut unseen) = (0, vec![], vec![], vec![]);
    for (word, cell) in cells {
        let word = format!("`{word}`");
        match cell {
            Cell::Tick => ticks += 1,
            Cell::Refused(_) => refused.push(word),
            Cell::Meaningless(_) => nothing.push(word),
            Cell::Unseen(_) => unseen.push(word),
        }
    }
    let mut parts = Vec::new();
    for (words, what) in [
        (refused, "refused"),
        (nothing, "mean nothing"),
        (unseen, "not seen"),
    ] {
        if !words.is_empty() {
            parts.push(format!("{} {what}", words.join(", ")));
        }
    }
    match (ticks, parts.is_empty()) {
        (_, true) => "✓".into(),
        (0, false) => parts.join("; "),
        _ => format!("✓ but {}", parts.join("; ")),
    }
}

/// The features `committed` (a `docs/engines.md`) marks ✓ on an engine
/// where `table` does not: a claim the runs behind it no longer back.
pub fn broken_ticks(committed: &str, table: &Table) -> Vec<String> {
    let mut broken = Vec::new();
    for (f, _, cells) in &table.rows {
        let label = label(f);
        let Some(line) = committed
            .lines()
            .find(|l| l.starts_with(&format!("| {label} |")))
        else {
            continue;
        };
        let claimed: Vec<&str> = line
            .split(" | ")
            .skip(2)
            .map(|c| c.trim_end_matches(" |"))
            .collect();
        for (i, engine) in Engine::ALL.iter().enumerate() {
            if claimed.get(i) == Some(&"✓") && cells[i] != Cell::Tick {
                broken.push(format!(
                    "{label} on {engine:?} claims ✓, but: {:?}",
                    cells[i]
                ));
            }
        }
    }
    broken
}

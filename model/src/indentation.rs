//! YAML indentation mistakes, said as such. The parser reports them in its
//! own terms ("while parsing a block mapping, did not find expected key",
//! "mapping values are not allowed in this context") at the line where it
//! gave up; this module checks whether that line is indented to a column no
//! open block above it uses and, if so, says "indentation", names the
//! columns that would fit and the keys they belong to.

use crate::diagnostic::Diag;
use crate::tree::{Loc, SyntaxError};

/// Parser messages that an indentation mistake produces.
const SYMPTOMS: &[&str] = &[
    "did not find expected key",
    "mapping values are not allowed",
    "did not find expected '-'",
    "could not find expected ':'",
    "block indentation",
    "expected <block end>",
    "invalid indentation",
];

/// A diagnostic about indentation in place of `e`, when `e` comes from a line
/// indented to a column no enclosing block uses (or from a tab used to indent).
pub fn explain(text: &str, e: &SyntaxError) -> Option<Diag> {
    let lower = e.message.to_ascii_lowercase();
    if !SYMPTOMS.iter().any(|s| lower.contains(s)) {
        return None;
    }
    let lines: Vec<&str> = text.lines().collect();
    let at = (e.loc.line as usize).checked_sub(1)?;
    let line = *lines.get(at)?;
    let lead: &str = &line[..line.len() - line.trim_start_matches([' ', '\t']).len()];
    if let Some(tab) = lead.find('\t') {
        let loc = Loc {
            line: e.loc.line,
            col: tab as u32 + 1,
            len: 1,
        };
        return Some(
            Diag::error(
                format!("indentation: line {} is indented with a tab", e.loc.line),
                loc,
            )
            .help("YAML indents with spaces only: replace the tab with spaces"),
        );
    }
    let indent = lead.len();
    let open = open_blocks(&lines[..at]);
    if open.iter().any(|b| b.col == indent) {
        return None;
    }
    let loc = Loc {
        line: e.loc.line,
        col: indent as u32 + 1,
        len: line
            .trim()
            .split(':')
            .next()
            .map_or(1, |k| k.chars().count() as u32),
    };
    let columns: Vec<String> = open.iter().rev().map(|b| b.col.to_string()).collect();
    let mut d = Diag::error(
        format!(
            "indentation: line {} is indented by {indent} space(s), but no block above it starts there (they start at {})",
            e.loc.line,
            columns.join(", ")
        ),
        loc,
    )
    .note(format!("the YAML parser said: {}", e.message));
    let deeper = open.iter().filter(|b| b.col > indent).min_by_key(|b| b.col);
    let shallower = open.iter().filter(|b| b.col < indent).max_by_key(|b| b.col);
    let beside = |b: &Block| {
        format!(
            "by {} to line it up with `{}` (line {})",
            b.col, b.key, b.line
        )
    };
    let fits: Vec<String> = [shallower, deeper]
        .into_iter()
        .flatten()
        .map(beside)
        .collect();
    if !fits.is_empty() {
        d = d.help(format!("indent it {}", fits.join(", or ")));
    }
    if let Some(b) = shallower
        && b.scalar
    {
        d = d.help(format!(
            "`{}` (line {}) holds a value, so nothing can be nested under it",
            b.key, b.line
        ));
    }
    Some(d)
}

/// A block a line may continue: a key (or a list item's content) at `col`.
#[derive(Debug)]
struct Block {
    col: usize,
    line: usize,
    key: String,
    /// `key: value` with the value on the line: nothing nests under it.
    scalar: bool,
}

/// The blocks still open after `above` (its lines, from the top): walking
/// up from the last line, each line less indented than every line below it
/// opens one; a list item `- key:` opens two (the dash and its content).
fn open_blocks(above: &[&str]) -> Vec<Block> {
    let mut out: Vec<Block> = Vec::new();
    let mut floor = usize::MAX;
    for (i, raw) in above.iter().enumerate().rev() {
        let body = raw.trim_start_matches(' ');
        if body.is_empty() || body.starts_with('#') || body.starts_with("---") {
            continue;
        }
        let col = raw.len() - body.len();
        if col >= floor {
            continue;
        }
        let (item, content) = match body.strip_prefix("- ") {
            Some(rest) => (true, rest.trim_start_matches(' ')),
            None => (false, body),
        };
        let key = content.split(':').next().unwrap_or("").trim().to_string();
        let value = content.split_once(':').map(|(_, v)| v.trim()).unwrap_or("");
        let scalar = !value.is_empty() && !value.starts_with('#');
        if item {
            let inner = raw.len() - content.len();
            if inner < floor {
                out.push(Block {
                    col: inner,
                    line: i + 1,
                    key: key.clone(),
                    scalar,
                });
            }
            out.push(Block {
                col,
                line: i + 1,
                key: format!("- {key}"),
                scalar: false,
            });
        } else {
            out.push(Block {
                col,
                line: i + 1,
                key,
                scalar,
            });
        }
        floor = col;
        if col == 0 {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::load_str;

    fn first_error(text: &str) -> String {
        load_str("t.yaml", text, &[]).unwrap_err().errors.remove(0)
    }

    #[test]
    fn a_key_between_two_levels_is_an_indentation_error_on_its_line() {
        let e = first_error(
            "name: x\nservices:\n  kitchen:\n    workers: 1\n   queue: 10\n    endpoints:\n      Cook: {}\n",
        );
        assert!(
            e.starts_with("error: indentation: line 5 is indented by 3 space(s)"),
            "{e}"
        );
        assert!(e.contains("--> t.yaml:5:4"), "{e}");
        assert!(
            e.contains("by 2 to line it up with `kitchen` (line 3)"),
            "{e}"
        );
        assert!(
            e.contains("by 4 to line it up with `workers` (line 4)"),
            "{e}"
        );
    }

    #[test]
    fn a_key_nested_under_a_value_says_so() {
        let e = first_error(
            "name: x\nservices:\n  kitchen:\n    workers: 1\n      queue: 10\n    endpoints:\n      Cook: {}\n",
        );
        assert!(e.contains("indentation: line 5 is indented by 6"), "{e}");
        assert!(e.contains("--> t.yaml:5:7"), "{e}");
        assert!(e.contains("`workers` (line 4) holds a value"), "{e}");
    }

    #[test]
    fn list_items_and_tabs() {
        let e = first_error(
            "name: x\nservices:\n  k:\n    endpoints:\n      Cook:\n        steps:\n        - work: 1ms\n         - work: 2ms\n",
        );
        assert!(e.contains("indentation: line 8 is indented by 9"), "{e}");
        let e = first_error("name: x\nservices:\n\tk:\n    workers: 1\n");
        assert!(
            e.contains("indentation: line 3 is indented with a tab"),
            "{e}"
        );
        assert!(e.contains("--> t.yaml:3:1"), "{e}");
    }

    #[test]
    fn other_syntax_errors_keep_the_parsers_words() {
        let e = first_error("name: x\nservices: [a, b\n");
        assert!(e.contains("invalid YAML"), "{e}");
        assert!(!e.contains("indentation"), "{e}");
    }
}

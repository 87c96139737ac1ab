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

/// Parser messages raised on the line *before* the mistake: a plain value
/// (`workers: 1`) is read on into a following line indented deeper than its
/// key, and the scanner gives up at that value's trailing comment or at the
/// tab that indents the next line.
const CONTINUED: &[&str] = &["comment intercepting the multiline text", "found a tab"];

/// A diagnostic about indentation in place of `e`, when `e` comes from a line
/// indented to a column no enclosing block uses (or from a tab used to indent).
pub fn explain(text: &str, e: &SyntaxError) -> Option<Diag> {
    let lower = e.message.to_ascii_lowercase();
    let lines: Vec<&str> = text.lines().collect();
    let reported = (e.loc.line as usize).checked_sub(1)?;
    let at = if CONTINUED.iter().any(|s| lower.contains(s)) {
        next_content_line(&lines, reported)?
    } else if SYMPTOMS.iter().any(|s| lower.contains(s)) {
        reported
    } else {
        return None;
    };
    let number = at as u32 + 1;
    let line = *lines.get(at)?;
    let lead: &str = &line[..line.len() - line.trim_start_matches([' ', '\t']).len()];
    if let Some(tab) = lead.find('\t') {
        let loc = Loc {
            line: number,
            col: tab as u32 + 1,
            len: 1,
        };
        return Some(
            Diag::error(
                format!("indentation: line {} is indented with a tab", number),
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
        line: number,
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
            number,
            columns.join(", ")
        ),
        loc,
    )
    .note(parser_said(e, number));
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

/// The parser's own words, with the line it gave up on when that is not the
/// line the hint points at.
fn parser_said(e: &SyntaxError, number: u32) -> String {
    if e.loc.line == number {
        format!("the YAML parser said: {}", e.message)
    } else {
        format!(
            "the YAML parser said, at line {}: {}",
            e.loc.line, e.message
        )
    }
}

/// The first line after `after` (0-based) holding more than blanks or a
/// comment: the line a value on `after` was read on into.
fn next_content_line(lines: &[&str], after: usize) -> Option<usize> {
    (after + 1..lines.len()).find(|&i| {
        let body = lines[i].trim_start_matches([' ', '\t']);
        !body.is_empty() && !body.starts_with('#')
    })
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

    /// The diner as users read it: every line ends in a comment.
    const DINER: &str = include_str!("../../topologies/diner.yaml");

    fn diner_with(line: &str, instead: &str) -> String {
        assert!(DINER.contains(line), "the diner no longer has {line:?}");
        DINER.replacen(line, instead, 1)
    }

    fn line_of(text: &str, start: &str) -> usize {
        text.lines().position(|l| l.starts_with(start)).unwrap() + 1
    }

    #[test]
    fn a_key_indented_under_a_commented_value_is_named_on_its_own_line() {
        let text = diner_with("    queue: 10 ", "     queue: 10");
        let n = line_of(&text, "     queue:");
        let e = first_error(&text);
        assert!(
            e.starts_with(&format!(
                "error: indentation: line {n} is indented by 5 space(s)"
            )),
            "{e}"
        );
        assert!(e.contains(&format!("--> t.yaml:{n}:6")), "{e}");
        assert!(
            e.contains(&format!(
                "by 4 to line it up with `workers` (line {})",
                n - 1
            )),
            "{e}"
        );
        assert!(!e.contains("invalid YAML"), "{e}");
    }

    #[test]
    fn a_tab_after_a_plain_value_is_named_on_its_own_line() {
        let text = diner_with("    rate: 3/s", "\trate: 3/s");
        let n = line_of(&text, "\trate:");
        let e = first_error(&text);
        assert!(
            e.contains(&format!("indentation: line {n} is indented with a tab")),
            "{e}"
        );
        assert!(e.contains(&format!("--> t.yaml:{n}:1")), "{e}");
    }

    /// Every example as written, each key that follows a sibling holding a
    /// value pushed one space deeper: the hint names that key's line, or the
    /// file still reads (a deeper key can continue a value legally).
    #[test]
    fn a_key_one_space_too_deep_is_named_in_every_example() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../topologies");
        let mut checked = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "yaml") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let lines: Vec<&str> = text.lines().collect();
            for (i, pair) in lines.windows(2).enumerate() {
                let [above, line] = pair else { unreachable!() };
                let indent = |l: &str| l.len() - l.trim_start_matches(' ').len();
                let sibling = indent(above) == indent(line)
                    && !above.trim_start().starts_with(['#', '-'])
                    && !line.trim_start().starts_with(['#', '-'])
                    && above.split_once(':').is_some_and(|(_, v)| {
                        !v.trim().is_empty() && !v.trim().starts_with(['#', '|', '>'])
                    })
                    && line.contains(':');
                if !sibling || line.trim().is_empty() {
                    continue;
                }
                let n = i + 2;
                let mut broken: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
                broken[i + 1].insert(0, ' ');
                let broken = broken.join("\n") + "\n";
                let Err(report) = load_str("t.yaml", &broken, &[]) else {
                    continue;
                };
                let e = &report.errors[0];
                assert!(
                    e.contains(&format!("indentation: line {n} ")),
                    "{}: line {n} one space deeper:\n{e}",
                    path.display()
                );
                checked += 1;
            }
        }
        assert!(checked > 50, "only {checked} lines checked");
    }

    #[test]
    fn other_syntax_errors_keep_the_parsers_words() {
        let e = first_error("name: x\nservices: [a, b\n");
        assert!(e.contains("invalid YAML"), "{e}");
        assert!(!e.contains("indentation"), "{e}");
    }
}

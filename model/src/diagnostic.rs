//! Diagnostics and their rendering, in the style of rustc: what is wrong,
//! `file:line:col`, the offending line with a caret under the span, then
//! notes and help on how to mend it.

use std::fmt::Write;

use crate::tree::Loc;

/// Whether a diagnostic stops the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// The topology starts nothing.
    Error,
    /// Legal, but probably not what the user meant.
    Warning,
}

/// One finding about a topology, before rendering.
#[derive(Debug, Clone, PartialEq)]
pub struct Diag {
    /// Whether it stops the run.
    pub severity: Severity,
    /// What is wrong, on the `error:` line.
    pub message: String,
    /// `None` when the finding has no place in the file (a bad `--set`).
    pub loc: Option<Loc>,
    /// `= note:` lines: context, such as the `--set` that wrote a value.
    pub notes: Vec<String>,
    /// `= help:` lines: how to mend it.
    pub help: Vec<String>,
}

impl Diag {
    /// An error at `loc`.
    pub fn error(message: impl Into<String>, loc: Loc) -> Self {
        Diag {
            severity: Severity::Error,
            message: message.into(),
            loc: Some(loc),
            notes: Vec::new(),
            help: Vec::new(),
        }
    }

    /// A warning at `loc`.
    pub fn warning(message: impl Into<String>, loc: Loc) -> Self {
        Diag {
            severity: Severity::Warning,
            ..Diag::error(message, loc)
        }
    }

    /// An error that has no place in the file.
    pub fn unplaced(message: impl Into<String>) -> Self {
        Diag {
            loc: None,
            ..Diag::error(message, Loc::default())
        }
    }

    /// Adds a `= help:` line.
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help.push(help.into());
        self
    }

    /// Adds a `= note:` line.
    pub fn note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }

    /// Renders the diagnostic against the text it was found in.
    pub fn render(&self, file: &str, text: &str) -> String {
        let mut out = String::new();
        let label = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        // Writing to a String cannot fail, so the results are ignored below.
        let _ = writeln!(out, "{label}: {}", self.message);
        let source_line = self
            .loc
            .filter(|l| l.line >= 1)
            .and_then(|l| text.lines().nth(l.line as usize - 1).map(|s| (l, s)));
        let pad = match self.loc {
            Some(l) => digits(l.line) + 1,
            None => 2,
        };
        let blank = " ".repeat(pad + 1);
        match (self.loc, source_line) {
            (Some(loc), Some((_, line))) => {
                let _ = writeln!(
                    out,
                    "{}--> {file}:{}:{}",
                    " ".repeat(pad),
                    loc.line,
                    loc.col
                );
                let _ = writeln!(out, "{blank}|");
                let _ = writeln!(out, "{:>pad$} | {line}", loc.line);
                let indent: String = line
                    .chars()
                    .take(loc.col.saturating_sub(1) as usize)
                    .map(|c| if c == '\t' { '\t' } else { ' ' })
                    .collect();
                let width = caret_width(loc, line);
                let _ = writeln!(out, "{blank}| {indent}{}", "^".repeat(width));
            }
            (Some(loc), None) => {
                let _ = writeln!(
                    out,
                    "{}--> {file}:{}:{}",
                    " ".repeat(pad),
                    loc.line,
                    loc.col
                );
            }
            (None, _) => {
                let _ = writeln!(out, "{}--> {file}", " ".repeat(pad));
            }
        }
        for n in &self.notes {
            let _ = writeln!(out, "{blank}= note: {n}");
        }
        for h in &self.help {
            let _ = writeln!(out, "{blank}= help: {h}");
        }
        out.truncate(out.trim_end().len());
        out
    }
}

fn digits(n: u32) -> usize {
    n.max(1).to_string().len()
}

/// The span's width, or the rest of the word at the column when the parser
/// gave none (maps and lists start at a column but have no width).
fn caret_width(loc: Loc, line: &str) -> usize {
    let rest: Vec<char> = line
        .chars()
        .skip(loc.col.saturating_sub(1) as usize)
        .collect();
    let len = loc.len as usize;
    if len > 0 {
        return len.min(rest.len().max(1));
    }
    let word = rest
        .iter()
        .take_while(|c| !c.is_whitespace() && **c != ':')
        .count();
    word.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_like_rustc() {
        let text = "name: diner\nservices:\n  kitchen:\n    endpoints: {}\n    wrokers: 1\n";
        let d = Diag::error(
            "unknown key `wrokers` in service `kitchen`",
            Loc {
                line: 5,
                col: 5,
                len: 7,
            },
        )
        .help("did you mean `workers`?");
        let want = "\
error: unknown key `wrokers` in service `kitchen`
  --> topologies/diner.yaml:5:5
   |
 5 |     wrokers: 1
   |     ^^^^^^^
   = help: did you mean `workers`?";
        assert_eq!(d.render("topologies/diner.yaml", text), want);
    }

    #[test]
    fn warnings_and_wide_line_numbers() {
        let text = "x\n".repeat(11);
        let d = Diag::warning(
            "hm",
            Loc {
                line: 11,
                col: 1,
                len: 0,
            },
        )
        .note("because");
        let want = "\
warning: hm
   --> f.yaml:11:1
    |
 11 | x
    | ^
    = note: because";
        assert_eq!(d.render("f.yaml", &text), want);
    }

    #[test]
    fn unplaced_diagnostics_name_the_file() {
        let d = Diag::unplaced("bad override").help("write KEY=VALUE");
        assert_eq!(
            d.render("f.yaml", ""),
            "error: bad override\n  --> f.yaml\n   = help: write KEY=VALUE"
        );
    }
}

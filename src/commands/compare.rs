//! `topolab compare A B [--fail-if EXPR]... [--json]`: two run folders side
//! by side. Exit 3 when a `--fail-if` gate holds, 1 for a folder without a
//! readable `summary.json` or a bad expression, 0 otherwise.

use std::process::ExitCode;

use topolab_results::compare::{self, gate};

use crate::cli::CompareArgs;

/// Exit status when a `--fail-if` gate holds.
pub const EXIT_GATE: u8 = 3;

/// Compares the two folders and applies the gates.
pub fn compare(args: &CompareArgs) -> ExitCode {
    let gates = match args
        .fail_if
        .iter()
        .map(|e| gate::parse(e))
        .collect::<Result<Vec<_>, _>>()
    {
        Ok(g) => g,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    let c = match compare::compare(&args.a, &args.b) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: cannot compare: {e}");
            return ExitCode::from(1);
        }
    };
    let verdicts = match gates
        .iter()
        .map(|g| gate::evaluate(g, &c))
        .collect::<Result<Vec<_>, _>>()
    {
        Ok(v) => v,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    if args.json {
        let doc = serde_json::json!({ "comparison": c, "gates": verdicts });
        println!("{doc:#}");
    } else {
        print!("{}", compare::render(&c));
        for v in &verdicts {
            let what = if v.held { "HOLDS" } else { "does not hold" };
            println!("\n--fail-if '{}': {what}", v.expr);
            for h in &v.hits {
                println!("  {h}");
            }
        }
    }
    if verdicts.iter().any(|v| v.held) {
        ExitCode::from(EXIT_GATE)
    } else {
        ExitCode::SUCCESS
    }
}

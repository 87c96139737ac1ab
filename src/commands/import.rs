//! `topolab import TRACES...`: a topology inferred from traces, written as a
//! commented topology file (to `--out` or stdout) with the import summary
//! (to stdout with `--out`, else stderr).

use std::process::ExitCode;

use anyhow::{Context, bail};
use topolab_import::{Columns, Format, ImportError, Options};

use super::{EXIT_INVALID, EXIT_SANDBOX};
use crate::cli::{ImportArgs, ImportFormat};
use crate::out::out;

/// Imports; exit 1 for input it cannot read (with the line), 2 when what
/// it inferred does not validate.
pub fn import(args: &ImportArgs) -> ExitCode {
    let opts = match options(args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(EXIT_INVALID);
        }
    };
    if let Some(out) = &args.out
        && out.exists()
        && !args.force
    {
        eprintln!(
            "error: {} exists; pass --force to replace it",
            out.display()
        );
        return ExitCode::from(EXIT_INVALID);
    }
    let imported = match topolab_import::import(&args.traces, &opts) {
        Ok(i) => i,
        Err(e @ ImportError::Invalid { .. }) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_SANDBOX);
        }
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_INVALID);
        }
    };
    let summary = imported.summary.render();
    match &args.out {
        Some(path) => {
            if let Err(e) = std::fs::write(path, &imported.yaml)
                .with_context(|| format!("writing {}", path.display()))
            {
                eprintln!("error: {e:#}");
                return ExitCode::from(EXIT_SANDBOX);
            }
            out!("{summary}");
            out!("wrote {}\n", path.display());
        }
        None => {
            out!("{}", imported.yaml);
            eprint!("{summary}");
        }
    }
    ExitCode::SUCCESS
}

fn options(args: &ImportArgs) -> anyhow::Result<Options> {
    if !(args.tolerance_ms >= 0.0 && args.tolerance_ms.is_finite()) {
        bail!("--tolerance-ms must be a non-negative number of milliseconds");
    }
    let mut columns = Columns::default();
    for c in &args.columns {
        let (field, column) = c
            .split_once('=')
            .with_context(|| format!("--column {c}: expected FIELD=COLUMN"))?;
        columns
            .set(field.trim(), column.trim())
            .map_err(anyhow::Error::msg)?;
    }
    Ok(Options {
        format: args.format.map(|f| match f {
            ImportFormat::Otlp => Format::Otlp,
            ImportFormat::Jaeger => Format::Jaeger,
            ImportFormat::Zipkin => Format::Zipkin,
            ImportFormat::Csv => Format::Csv,
        }),
        name: args.name.clone(),
        tolerance_ns: (args.tolerance_ms * 1e6) as u64,
        columns,
    })
}

//! `report.html`: one self-contained page per run folder (inline SVG and CSS,
//! no script, nothing fetched), readable offline. [`page`] lays it out,
//! [`charts`] draws the charts with plotters, [`graph_svg`] draws the
//! topology.

pub mod charts;
mod graph_svg;
mod page;

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::run_dir::RunDir;

/// Reads the run folder `dir` and writes `dir/report.html`; returns its path.
pub fn write(dir: &Path) -> anyhow::Result<PathBuf> {
    let run = RunDir::read(dir)?;
    let html = page::render(&run)?;
    let out = dir.join("report.html");
    std::fs::write(&out, html).with_context(|| format!("writing {}", out.display()))?;
    Ok(out)
}

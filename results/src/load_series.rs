//! `load_timeseries.csv`, as `run` writes it beside `timeseries.csv`: per load
//! generator and interval, requests sent and how they ended, and the latency
//! percentiles of the interval. The report draws the load over time from it.

use std::path::Path;

/// The header the file starts with.
pub const HEADER: &str = "t_s,generator,sent,ok,rejected,timeouts,errors,p50_ms,p99_ms";

/// One generator over one interval; percentiles are absent when nothing
/// succeeded in it.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadRow {
    pub t_s: f64,
    pub generator: String,
    pub sent: u64,
    pub ok: u64,
    pub rejected: u64,
    pub timeouts: u64,
    pub errors: u64,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
}

/// Reads the file; an error names the line.
pub fn read(path: &Path) -> anyhow::Result<Vec<LoadRow>> {
    let text = std::fs::read_to_string(path)?;
    parse(&text).map_err(|(line, why)| anyhow::anyhow!("{}:{line}: {why}", path.display()))
}

/// Parses the text; columns are found by name, so added columns do no harm.
pub fn parse(text: &str) -> Result<Vec<LoadRow>, (usize, String)> {
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| h.trim() == name)
            .ok_or((1, format!("no column {name:?} (expected {HEADER})")))
    };
    let idx: Vec<usize> = HEADER.split(',').map(col).collect::<Result<_, _>>()?;
    let mut rows = Vec::new();
    for (i, line) in lines.enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let f: Vec<&str> = line.split(',').collect();
        let get = |k: usize| f.get(idx[k]).copied().unwrap_or("").trim();
        let bad = |k: usize| (i + 2, format!("bad value {:?} in column {k}", get(k)));
        let n = |k: usize| get(k).parse::<u64>().map_err(|_| bad(k));
        let ms = |k: usize| match get(k) {
            "" => Ok(None),
            v => v.parse::<f64>().map(Some).map_err(|_| bad(k)),
        };
        rows.push(LoadRow {
            t_s: get(0).parse().map_err(|_| bad(0))?,
            generator: get(1).to_string(),
            sent: n(2)?,
            ok: n(3)?,
            rejected: n(4)?,
            timeouts: n(5)?,
            errors: n(6)?,
            p50_ms: ms(7)?,
            p99_ms: ms(8)?,
        });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_rows_with_and_without_percentiles() {
        let rows = parse(&format!(
            "{HEADER}\n0.1,rush,10,8,1,1,0,2.5,9.75\n0.2,rush,3,0,3,0,0,,\n"
        ))
        .unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].p99_ms, Some(9.75));
        assert_eq!((rows[1].rejected, rows[1].p50_ms), (3, None));
        assert!(parse("t_s,x\n").is_err());
    }
}

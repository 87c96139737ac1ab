//! `sweep.csv`, left by `topolab sweep`: one row per step with the offered
//! load, the throughput and the latency it got. The report draws the curve.

use std::path::Path;

/// One step of a sweep.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepPoint {
    pub value: String,
    pub offered_per_s: f64,
    pub throughput_per_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

/// Reads `sweep.csv`; columns are found by name.
pub fn read(path: &Path) -> anyhow::Result<Vec<SweepPoint>> {
    parse(&std::fs::read_to_string(path)?)
        .map_err(|why| anyhow::anyhow!("{}: {why}", path.display()))
}

/// Parses the text of `sweep.csv`.
pub fn parse(text: &str) -> Result<Vec<SweepPoint>, String> {
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    let col = |n: &str| {
        header
            .iter()
            .position(|h| h.trim() == n)
            .ok_or(format!("no column {n:?}"))
    };
    let (v, o, t, p50, p99) = (
        col("value")?,
        col("offered_per_s")?,
        col("throughput_per_s")?,
        col("p50_ms")?,
        col("p99_ms")?,
    );
    lines
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            let f: Vec<&str> = l.split(',').collect();
            let num = |k: usize| {
                f.get(k)
                    .and_then(|x| x.trim().parse::<f64>().ok())
                    .ok_or(format!("line {}: column {} is not a number", i + 2, k + 1))
            };
            Ok(SweepPoint {
                value: f.get(v).unwrap_or(&"").to_string(),
                offered_per_s: num(o)?,
                throughput_per_s: num(t)?,
                p50_ms: num(p50)?,
                p99_ms: num(p99)?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_the_sweep_columns_by_name() {
        let text = "step,value,offered_per_s,throughput_per_s,p50_ms,p99_ms,within_goal\n1,4/s,4,3.9,10,20,true\n";
        let p = super::parse(text).unwrap();
        assert_eq!(p[0].value, "4/s");
        assert_eq!(p[0].throughput_per_s, 3.9);
    }
}

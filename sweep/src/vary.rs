//! `--vary KEY=FROM..TO --steps N`: the values a sweep runs, evenly spaced
//! from FROM to TO in FROM's unit (`1/s..12/s`, `10ms..200ms`, `1..32`).
//! Each value becomes a `--set KEY=VALUE` of one step.

use thiserror::Error;

/// Why a `--vary` cannot be swept.
#[derive(Debug, Error, PartialEq)]
pub enum VaryError {
    #[error("`--vary {0}` is not KEY=FROM..TO (like `load.customers.rate=1/s..12/s`)")]
    Malformed(String),
    #[error("`{0}` does not start with a number")]
    NotANumber(String),
    #[error("`{from}` and `{to}` have different units; write both in one unit")]
    UnitsDiffer { from: String, to: String },
    #[error("--steps must be at least 2, found {0}")]
    TooFewSteps(usize),
}

/// The key and its values, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Vary {
    /// The dotted YAML path, e.g. `load.customers.rate`.
    pub key: String,
    /// Each step's value as written in `--set`, e.g. `4.5/s`.
    pub values: Vec<String>,
}

impl Vary {
    /// Parses `KEY=FROM..TO` into `steps` values. Unitless whole numbers
    /// (clients, workers) stay whole.
    pub fn parse(spec: &str, steps: usize) -> Result<Self, VaryError> {
        if steps < 2 {
            return Err(VaryError::TooFewSteps(steps));
        }
        let malformed = || VaryError::Malformed(spec.to_string());
        let (key, range) = spec.split_once('=').ok_or_else(malformed)?;
        let (from, to) = range.split_once("..").ok_or_else(malformed)?;
        let key = key.trim();
        if key.is_empty() || key.split('.').any(str::is_empty) {
            return Err(malformed());
        }
        let (a, unit_a) = split(from.trim())?;
        let (b, unit_b) = split(to.trim())?;
        if unit_a != unit_b {
            return Err(VaryError::UnitsDiffer {
                from: from.trim().into(),
                to: to.trim().into(),
            });
        }
        let whole = unit_a.is_empty() && a.fract() == 0.0 && b.fract() == 0.0;
        let values = (0..steps)
            .map(|i| {
                let x = a + (b - a) * i as f64 / (steps - 1) as f64;
                let x = if whole { x.round() } else { x };
                format!("{}{unit_a}", number(x))
            })
            .collect();
        Ok(Vary {
            key: key.to_string(),
            values,
        })
    }

    /// The `--set` of step `i`.
    pub fn set(&self, i: usize) -> String {
        format!("{}={}", self.key, self.values[i])
    }
}

/// `12.5/s` → (12.5, "/s").
fn split(text: &str) -> Result<(f64, &str), VaryError> {
    let end = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let n = text[..end]
        .parse()
        .map_err(|_| VaryError::NotANumber(text.to_string()))?;
    Ok((n, &text[end..]))
}

/// At most three decimals, no trailing zeros.
fn number(x: f64) -> String {
    let s = format!("{x:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_evenly_spaced_in_their_unit() {
        let v = Vary::parse("load.customers.rate=1/s..12/s", 12).unwrap();
        assert_eq!(v.key, "load.customers.rate");
        assert_eq!(v.values.first().unwrap(), "1/s");
        assert_eq!(v.values[1], "2/s");
        assert_eq!(v.values.last().unwrap(), "12/s");
        let v = Vary::parse("load.c.rate=1/s..2/s", 3).unwrap();
        assert_eq!(v.values, ["1/s", "1.5/s", "2/s"]);
        assert_eq!(v.set(1), "load.c.rate=1.5/s");
    }

    #[test]
    fn clients_stay_whole() {
        let v = Vary::parse("load.c.clients=1..10", 4).unwrap();
        assert_eq!(v.values, ["1", "4", "7", "10"]);
    }

    #[test]
    fn bad_specs_say_why() {
        assert!(matches!(
            Vary::parse("load.c.rate", 3),
            Err(VaryError::Malformed(_))
        ));
        assert!(matches!(
            Vary::parse("load.c.rate=1/s..2/m", 3),
            Err(VaryError::UnitsDiffer { .. })
        ));
        assert!(matches!(
            Vary::parse("load.c.rate=fast..2/s", 3),
            Err(VaryError::NotANumber(_))
        ));
        assert_eq!(
            Vary::parse("load.c.rate=1/s..2/s", 1),
            Err(VaryError::TooFewSteps(1))
        );
    }
}

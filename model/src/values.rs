//! The value kinds of the topology format (durations, distributions, rates,
//! ramps, sizes, percentages, factors, status codes, counts), each parsed from
//! its text. A bad value says what was expected, with an example, so the
//! checker only has to add the location.

use std::time::Duration;

use crate::dist::Dist;
use crate::model::ErrorInjection;
use crate::status::{CODE_NAMES, StatusCode};

/// Why a value did not parse: the problem, and what a good one looks like.
#[derive(Debug, Clone, PartialEq)]
pub struct ValueError {
    /// What is wrong with this text, e.g. "unknown unit `h`".
    pub problem: String,
    /// What was expected, with an example, e.g. "a duration like `250ms`".
    pub expected: &'static str,
}

/// What a duration looks like, for messages.
pub const DURATION: &str = "a duration like `250ms` or `1.5s` (units: us, ms, s, m)";
/// What a distribution looks like, for messages.
pub const DIST: &str = "a duration like `2ms`, or `exp(MEAN)`, `uniform(LOW, HIGH)`, \
                        `normal(MEAN, SD)` or `lognormal(MEAN, SD)`, e.g. `exp(200ms)`";
/// What a rate looks like, for messages.
pub const RATE: &str = "a rate like `4/s`, `2.5/s` or `300/m`";
/// What a ramp looks like, for messages.
pub const RAMP: &str = "a ramp like `1/s -> 20/s`";
/// What a size looks like, for messages.
pub const SIZE: &str = "a size like `0B`, `512B`, `4KiB`, `1MiB` or `2GiB`";
/// What a percentage looks like, for messages.
pub const PERCENT: &str = "a percentage like `1%` or `0.5%`, at most `100%`";
/// What a factor looks like, for messages.
pub const FACTOR: &str = "a factor like `10x` or `1.5x`";
/// What a status looks like, for messages.
pub const STATUS: &str = "a gRPC status name like `UNAVAILABLE`, `INTERNAL` or `NOT_FOUND`";
/// What an error injection looks like, for messages.
pub const ERRORS: &str = "a percentage and a status, like `1% UNAVAILABLE`";
/// What a count looks like, for messages.
pub const COUNT: &str = "a whole number like `4`";

fn err<T>(problem: impl Into<String>, expected: &'static str) -> Result<T, ValueError> {
    Err(ValueError {
        problem: problem.into(),
        expected,
    })
}

/// A linear change of rate over a load stage, `1/s -> 20/s`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ramp {
    /// Requests per second at the start of the stage.
    pub from: f64,
    /// Requests per second at its end.
    pub to: f64,
}

/// Splits `1.5ms` into its number and the unit after it.
fn number_and_unit<'a>(
    text: &'a str,
    expected: &'static str,
) -> Result<(f64, &'a str), ValueError> {
    let t = text.trim();
    if let Some(rest) = t.strip_prefix('-')
        && rest.starts_with(|c: char| c.is_ascii_digit() || c == '.')
    {
        return err(format!("`{t}` is negative"), expected);
    }
    let end = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(end);
    if num.is_empty() || !num.contains(|c: char| c.is_ascii_digit()) {
        return err(format!("`{t}` does not start with a number"), expected);
    }
    match num.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok((v, unit.trim_start())),
        _ => err(format!("`{num}` is not a number"), expected),
    }
}

/// `250us`, `2ms`, `1.5s`, `2m` (also `µs`).
pub fn duration(text: &str) -> Result<Duration, ValueError> {
    let (v, unit) = number_and_unit(text, DURATION)?;
    let nanos_per = match unit {
        "us" | "µs" | "μs" => 1e3,
        "ms" => 1e6,
        "s" => 1e9,
        "m" => 60e9,
        "" => return err(format!("`{}` has no unit", text.trim()), DURATION),
        _ => {
            return err(
                format!("unknown unit `{unit}` in `{}`", text.trim()),
                DURATION,
            );
        }
    };
    let nanos = (v * nanos_per).round();
    if nanos >= u64::MAX as f64 {
        return err(format!("`{}` is too long", text.trim()), DURATION);
    }
    Ok(Duration::from_nanos(nanos as u64))
}

/// A constant duration or one of `exp(MEAN)`, `uniform(LOW, HIGH)`,
/// `normal(MEAN, SD)`, `lognormal(MEAN, SD)`.
pub fn dist(text: &str) -> Result<Dist, ValueError> {
    let t = text.trim();
    let Some(open) = t.find('(') else {
        return duration(t).map(Dist::Const).map_err(|e| ValueError {
            expected: DIST,
            ..e
        });
    };
    let Some(inner) = t[open + 1..].strip_suffix(')') else {
        let hint = if t.contains(',') {
            ""
        } else {
            " (inside `{...}` or `[...]` a comma ends a value: quote it)"
        };
        return err(format!("`{t}` lacks its closing `)`{hint}"), DIST);
    };
    let name = t[..open].trim();
    let args: Vec<&str> = inner.split(',').map(str::trim).collect();
    let want = match name {
        "exp" => 1,
        "uniform" | "normal" | "lognormal" => 2,
        _ => return err(format!("unknown distribution `{name}`"), DIST),
    };
    if args.len() != want || args.iter().any(|a| a.is_empty()) {
        return err(
            format!("`{name}` takes {want} duration(s), found `{inner}`"),
            DIST,
        );
    }
    let mut ds = Vec::with_capacity(want);
    for a in args {
        ds.push(duration(a).map_err(|e| ValueError {
            expected: DIST,
            ..e
        })?);
    }
    Ok(match (name, ds.as_slice()) {
        ("exp", [mean]) => Dist::Exp { mean: *mean },
        ("uniform", [low, high]) if low > high => {
            return err(format!("`{t}` has LOW above HIGH"), DIST);
        }
        ("uniform", [low, high]) => Dist::Uniform {
            low: *low,
            high: *high,
        },
        ("normal", [mean, sd]) => Dist::Normal {
            mean: *mean,
            sd: *sd,
        },
        ("lognormal", [mean, sd]) => Dist::LogNormal {
            mean: *mean,
            sd: *sd,
        },
        _ => unreachable!("argument counts were checked above"),
    })
}

/// `4/s`, `300/m`, `2.5/s`, as requests per second.
pub fn rate(text: &str) -> Result<f64, ValueError> {
    let t = text.trim();
    let Some((num, per)) = t.split_once('/') else {
        return err(format!("`{t}` has no `/s` or `/m`"), RATE);
    };
    let (v, rest) = number_and_unit(num, RATE)?;
    if !rest.is_empty() {
        return err(format!("`{num}` is not a number"), RATE);
    }
    match per.trim() {
        "s" => Ok(v),
        "m" => Ok(v / 60.0),
        other => err(format!("unknown unit `/{other}` in `{t}`"), RATE),
    }
}

/// `1/s -> 20/s`.
pub fn ramp(text: &str) -> Result<Ramp, ValueError> {
    let Some((a, b)) = text.split_once("->") else {
        return err(format!("`{}` has no `->`", text.trim()), RAMP);
    };
    let from = rate(a).map_err(|e| ValueError {
        expected: RAMP,
        ..e
    })?;
    let to = rate(b).map_err(|e| ValueError {
        expected: RAMP,
        ..e
    })?;
    Ok(Ramp { from, to })
}

/// `0B`, `512B`, `4KiB`, `1MiB`, `2GiB`, as bytes.
pub fn size(text: &str) -> Result<u64, ValueError> {
    let (v, unit) = number_and_unit(text, SIZE)?;
    let per = match unit {
        "B" => 1.0,
        "KiB" => 1024.0,
        "MiB" => 1024.0 * 1024.0,
        "GiB" => 1024.0 * 1024.0 * 1024.0,
        "" => return err(format!("`{}` has no unit", text.trim()), SIZE),
        _ => return err(format!("unknown unit `{unit}` in `{}`", text.trim()), SIZE),
    };
    let bytes = (v * per).round();
    if bytes >= u64::MAX as f64 {
        return err(format!("`{}` is too large", text.trim()), SIZE);
    }
    Ok(bytes as u64)
}

/// `1%`, `0.5%`, as a share in 0.0..=1.0; above 100% is an error.
pub fn percent(text: &str) -> Result<f64, ValueError> {
    let (v, unit) = number_and_unit(text, PERCENT)?;
    if unit != "%" {
        return err(format!("`{}` does not end in `%`", text.trim()), PERCENT);
    }
    if v > 100.0 {
        return err(format!("`{}` is over 100%", text.trim()), PERCENT);
    }
    Ok(v / 100.0)
}

/// `10x`, as a multiplier.
pub fn factor(text: &str) -> Result<f64, ValueError> {
    let (v, unit) = number_and_unit(text, FACTOR)?;
    if unit != "x" {
        return err(format!("`{}` does not end in `x`", text.trim()), FACTOR);
    }
    Ok(v)
}

/// A gRPC code name; a near miss (`Unavailable`) is named in the problem.
pub fn status(text: &str) -> Result<StatusCode, ValueError> {
    let t = text.trim();
    if let Some(code) = StatusCode::from_name(t) {
        return Ok(code);
    }
    let upper = t.to_ascii_uppercase().replace(['-', ' '], "_");
    let guess = CODE_NAMES
        .iter()
        .map(|n| (strsim::jaro_winkler(n, &upper), *n))
        .filter(|(score, _)| *score > 0.85)
        .max_by(|a, b| a.0.total_cmp(&b.0));
    match guess {
        Some((_, name)) => err(
            format!("unknown status `{t}` (did you mean `{name}`?)"),
            STATUS,
        ),
        None => err(format!("unknown status `{t}`"), STATUS),
    }
}

/// `PERCENT STATUS`, e.g. `1% UNAVAILABLE`.
pub fn errors(text: &str) -> Result<ErrorInjection, ValueError> {
    let t = text.trim();
    let Some((p, s)) = t.split_once(char::is_whitespace) else {
        return err(format!("`{t}` is not `PERCENT STATUS`"), ERRORS);
    };
    let rate = percent(p).map_err(|e| ValueError {
        expected: ERRORS,
        ..e
    })?;
    let status = status(s).map_err(|e| ValueError {
        expected: ERRORS,
        ..e
    })?;
    Ok(ErrorInjection { rate, status })
}

/// A non-negative whole number that fits a `u32`.
pub fn count(text: &str) -> Result<u32, ValueError> {
    let t = text.trim();
    if t.starts_with('-') {
        return err(format!("`{t}` is negative"), COUNT);
    }
    match t.parse::<u64>() {
        Ok(v) if v <= u32::MAX as u64 => Ok(v as u32),
        Ok(_) => err(format!("`{t}` is too large"), COUNT),
        Err(_) => err(format!("`{t}` is not a whole number"), COUNT),
    }
}

/// A `u64`, for seeds.
pub fn seed(text: &str) -> Result<u64, ValueError> {
    text.trim()
        .parse()
        .or_else(|_| err(format!("`{}` is not a whole number", text.trim()), COUNT))
}

#[cfg(test)]
#[path = "values_tests.rs"]
mod tests;

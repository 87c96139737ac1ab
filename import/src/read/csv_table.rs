//! CSV span tables, the form research datasets publish (for example
//! `TraceID,SpanID,ParentID,PodName,OperationName,StartTimeUnixNano,
//! EndTimeUnixNano,Duration`): columns found by their usual names, or by
//! `--column FIELD=COLUMN`; times in the unit the column's name says, or
//! judged from their size.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::Path;

use topolab_results::trace::{Kind, Span};

use super::{Input, Loc, Sink};
use crate::error::ImportError;
use crate::names;

/// The fields a span table may have, with the column names each is found
/// under when not named by flag (compared without case, `_` or spaces).
const FIELDS: [(&str, &[&str]); 12] = [
    ("trace_id", &["traceid", "trace"]),
    ("span_id", &["spanid", "span", "id"]),
    (
        "parent_id",
        &["parentid", "parentspanid", "parent", "pspanid"],
    ),
    ("service", &["servicename", "service", "svc"]),
    (
        "instance",
        &[
            "podname",
            "pod",
            "instance",
            "instanceid",
            "host",
            "nodename",
        ],
    ),
    (
        "name",
        &[
            "operationname",
            "operation",
            "name",
            "spanname",
            "endpoint",
            "rpc",
        ],
    ),
    ("kind", &["kind", "spankind"]),
    (
        "start",
        &[
            "starttimeunixnano",
            "starttime",
            "start",
            "timestamp",
            "startts",
        ],
    ),
    ("end", &["endtimeunixnano", "endtime", "end", "endts"]),
    ("duration", &["duration", "durationnano", "latency", "rt"]),
    ("status", &["statuscode", "status", "code", "grpcstatus"]),
    // The callee a CLIENT span names (Alibaba's `dm`): names untraced ones.
    (
        "peer",
        &["peerservice", "peer", "remoteservice", "callee", "dm"],
    ),
];

/// Column names given by flag, by field.
#[derive(Debug, Clone, Default)]
pub struct Columns {
    named: BTreeMap<&'static str, String>,
}

impl Columns {
    /// Names the column that holds `field`.
    pub fn set(&mut self, field: &str, column: &str) -> Result<(), String> {
        let f = FIELDS.iter().find(|(f, _)| *f == field).ok_or_else(|| {
            let known: Vec<&str> = FIELDS.iter().map(|(f, _)| *f).collect();
            format!("unknown CSV field `{field}`: one of {}", known.join(", "))
        })?;
        self.named.insert(f.0, column.to_string());
        Ok(())
    }
}

fn squash(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// Nanoseconds per unit of a time column, from its name.
fn unit_of(name: &str) -> Option<f64> {
    let n = squash(name);
    if n.contains("nano") || n.ends_with("ns") {
        Some(1.0)
    } else if n.contains("micro") || n.ends_with("us") {
        Some(1e3)
    } else if n.contains("milli") || n.ends_with("ms") {
        Some(1e6)
    } else {
        None
    }
}

/// Nanoseconds per unit of an epoch time, from its size.
fn unit_by_size(v: f64) -> f64 {
    match v {
        v if v > 1e17 => 1.0,
        v if v > 1e14 => 1e3,
        v if v > 1e11 => 1e6,
        _ => 1e9,
    }
}

/// Reads a table; a row without the fields a span needs is reported and skipped.
pub fn read(
    path: &Path,
    reader: Box<dyn BufRead>,
    input: &Input<'_>,
    sink: &mut dyn Sink,
) -> Result<(), ImportError> {
    let mut csv = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(reader);
    let header = csv
        .headers()
        .map_err(|e| ImportError::Parse {
            path: path.to_path_buf(),
            line: 1,
            why: format!("not a CSV header: {e}"),
        })?
        .clone();
    let mut col: BTreeMap<&str, usize> = BTreeMap::new();
    for (field, aliases) in FIELDS {
        let found =
            match input.columns.named.get(field) {
                Some(name) => Some(header.iter().position(|h| h == name).ok_or_else(|| {
                    ImportError::Parse {
                        path: path.to_path_buf(),
                        line: 1,
                        why: format!(
                            "--column {field}={name}: no such column in {:?}",
                            header.iter().collect::<Vec<_>>()
                        ),
                    }
                })?),
                None => aliases
                    .iter()
                    .find_map(|a| header.iter().position(|h| squash(h) == *a)),
            };
        if let Some(i) = found {
            col.insert(field, i);
        }
    }
    let need = |f: &str| {
        col.contains_key(f).then_some(()).ok_or_else(|| ImportError::Parse {
            path: path.to_path_buf(),
            line: 1,
            why: format!(
                "the header names no {f} column (columns: {}); name it with --column {f}=COLUMN",
                header.iter().collect::<Vec<_>>().join(",")
            ),
        })
    };
    need("trace_id")?;
    need("span_id")?;
    need("start")?;
    if !col.contains_key("end") && !col.contains_key("duration") {
        need("end")?;
    }
    if !col.contains_key("service") && !col.contains_key("instance") {
        need("service")?;
    }
    let start_unit = unit_of(&header[col["start"]]);
    let mut record = csv::StringRecord::new();
    loop {
        let line = csv.position().line();
        let at = Loc {
            file: input.file,
            line,
            item: false,
        };
        match csv.read_record(&mut record) {
            Ok(false) => return Ok(()),
            Ok(true) => match row(&record, &col, start_unit, &header) {
                Ok(span) => sink.span(span, at),
                Err(why) => sink.bad(at, why),
            },
            Err(e) => sink.bad(at, format!("not a CSV row: {e}")),
        }
    }
}

fn row(
    r: &csv::StringRecord,
    col: &BTreeMap<&str, usize>,
    start_unit: Option<f64>,
    header: &csv::StringRecord,
) -> Result<Span, String> {
    let get = |f: &str| col.get(f).and_then(|&i| r.get(i)).filter(|v| !v.is_empty());
    let trace_id = get("trace_id").ok_or("no trace id")?.to_string();
    let span_id = get("span_id").ok_or("no span id")?.to_string();
    let num = |f: &str| -> Result<Option<f64>, String> {
        get(f)
            .map(|v| {
                v.parse::<f64>()
                    .map_err(|_| format!("{f} `{v}` is not a number"))
            })
            .transpose()
    };
    let start = num("start")?.ok_or("no start time")?;
    let unit = start_unit.unwrap_or_else(|| unit_by_size(start));
    let start_ns = (start * unit) as u64;
    let end_ns = match (num("end")?, num("duration")?) {
        (Some(e), _) => {
            let u = col
                .get("end")
                .and_then(|&i| unit_of(&header[i]))
                .unwrap_or(unit);
            (e * u) as u64
        }
        (None, Some(d)) => {
            let u = col
                .get("duration")
                .and_then(|&i| unit_of(&header[i]))
                .unwrap_or(unit);
            start_ns + (d * u) as u64
        }
        (None, None) => return Err("neither an end time nor a duration".into()),
    };
    let instance = get("instance").map(str::to_string);
    let service = match (get("service"), &instance) {
        (Some(s), _) => s.to_string(),
        (None, Some(i)) => names::strip_replica(i).to_string(),
        (None, None) => return Err("neither a service nor an instance".into()),
    };
    let parent_id = get("parent_id")
        .filter(|p| {
            !matches!(
                p.to_ascii_lowercase().as_str(),
                "0" | "-1" | "null" | "none" | "(?)"
            )
        })
        .map(str::to_string);
    let kind = match get("kind").map(squash).as_deref() {
        Some(k) if k.contains("server") || k == "2" => Kind::Server,
        Some(k) if k.contains("client") || k == "3" => Kind::Client,
        _ => Kind::Other,
    };
    let code = match get("status") {
        None => 0,
        Some(s) => match s.parse::<i64>() {
            Ok(c) if c >= 400 => 2,
            Ok(c) if (0..=16).contains(&c) => c,
            Ok(_) => 2,
            Err(_) => match squash(s).as_str() {
                "ok" | "unset" | "statuscodeok" | "statuscodeunset" | "" => 0,
                other => topolab_model::StatusCode::from_name(&other.to_ascii_uppercase())
                    .map_or(2, |c| i64::from(c.0)),
            },
        },
    };
    Ok(Span {
        trace_id,
        span_id,
        parent_id,
        name: get("name").unwrap_or("unknown").to_string(),
        kind,
        process: instance.unwrap_or_else(|| service.clone()),
        service,
        endpoint: None,
        callee: None,
        callee_replica: None,
        attempt: None,
        start_ns,
        end_ns: end_ns.max(start_ns),
        code,
        message: String::new(),
        queue_ns: None,
        work_ns: None,
        downstream_ns: None,
        held_ns: None,
        attributes: get("peer")
            .map(|p| BTreeMap::from([("peer.service".to_string(), p.to_string())]))
            .unwrap_or_default(),
    })
}

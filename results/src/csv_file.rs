//! Reading and writing the run folder's CSV files with the `csv` crate and
//! serde: each file's owner module declares a row type (its fields named as
//! the columns) and its header, and goes through here, so every CSV file is
//! quoted, parsed and reported the same way.

use std::path::Path;

use serde::Serialize;
use serde::de::DeserializeOwned;

/// Why a CSV file could not be written or read; the message names the file
/// and, for a bad row, its line.
#[derive(Debug, thiserror::Error)]
pub enum CsvError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Csv { path: String, source: csv::Error },
    #[error("{path}: expected the columns {expected:?}, found {found:?}")]
    Header {
        path: String,
        expected: String,
        found: String,
    },
}

/// The text of a CSV file: `header` (the row type's field names, which a
/// test of each owner checks) then one line per row. The header is written
/// even when there are no rows.
pub fn to_string<T: Serialize>(header: &str, rows: &[T]) -> Result<String, csv::Error> {
    let mut w = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(Vec::new());
    w.write_record(header.split(','))?;
    for r in rows {
        w.serialize(r)?;
    }
    let bytes = w.into_inner().map_err(|e| e.into_error())?;
    // Cannot fail: every field written is a Rust string or number.
    Ok(String::from_utf8(bytes).expect("CSV of UTF-8 fields"))
}

/// Writes `rows` to `path` under `header`.
pub fn write<T: Serialize>(path: &Path, header: &str, rows: &[T]) -> Result<(), CsvError> {
    let p = path.display().to_string();
    let text = to_string(header, rows).map_err(|source| CsvError::Csv {
        path: p.clone(),
        source,
    })?;
    std::fs::write(path, text).map_err(|source| CsvError::Io { path: p, source })
}

/// Reads every row of `path`. Columns are matched by name, so columns added
/// later do no harm; one of `header`'s missing is an error naming both.
pub fn read<T: DeserializeOwned>(path: &Path, header: &str) -> Result<Vec<T>, CsvError> {
    let p = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| CsvError::Io {
        path: p.clone(),
        source,
    })?;
    parse(&text, header).map_err(|e| match e {
        ParseError::Csv(source) => CsvError::Csv { path: p, source },
        ParseError::Header(found) => CsvError::Header {
            path: p,
            expected: header.to_string(),
            found,
        },
    })
}

/// Calls `each` with every row of `path` in file order, holding one row at a
/// time, so a file of any size reads in bounded memory. Errors as [`read`].
pub fn for_each<T: DeserializeOwned>(
    path: &Path,
    header: &str,
    mut each: impl FnMut(T),
) -> Result<(), CsvError> {
    let p = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|source| CsvError::Io {
        path: p.clone(),
        source,
    })?;
    let csv_err = |source| CsvError::Csv {
        path: p.clone(),
        source,
    };
    let mut r = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(std::io::BufReader::new(file));
    let found = r.headers().map_err(csv_err)?.clone();
    if !header.split(',').all(|c| found.iter().any(|f| f == c)) {
        return Err(CsvError::Header {
            path: p.clone(),
            expected: header.to_string(),
            found: found.iter().collect::<Vec<_>>().join(","),
        });
    }
    for row in r.deserialize() {
        each(row.map_err(csv_err)?);
    }
    Ok(())
}

/// A CSV file of `T` rows written a row at a time as they become known, so
/// whoever produces them need not hold them all (a long run's time series).
pub struct Writer<T> {
    path: String,
    inner: csv::Writer<std::io::BufWriter<std::fs::File>>,
    rows: std::marker::PhantomData<fn(&T)>,
}

impl<T: Serialize> Writer<T> {
    /// Creates (or truncates) `path` and writes `header`.
    pub fn create(path: &Path, header: &str) -> Result<Self, CsvError> {
        let p = path.display().to_string();
        let file = std::fs::File::create(path).map_err(|source| CsvError::Io {
            path: p.clone(),
            source,
        })?;
        let mut inner = csv::WriterBuilder::new()
            .has_headers(false)
            .from_writer(std::io::BufWriter::new(file));
        inner
            .write_record(header.split(','))
            .map_err(|source| CsvError::Csv {
                path: p.clone(),
                source,
            })?;
        Ok(Writer {
            path: p,
            inner,
            rows: std::marker::PhantomData,
        })
    }

    /// Appends one row.
    pub fn row(&mut self, row: &T) -> Result<(), CsvError> {
        self.inner.serialize(row).map_err(|source| CsvError::Csv {
            path: self.path.clone(),
            source,
        })
    }

    /// Writes out what is buffered and closes the file.
    pub fn finish(mut self) -> Result<(), CsvError> {
        self.inner.flush().map_err(|source| CsvError::Io {
            path: self.path.clone(),
            source,
        })
    }
}

/// What [`parse`] found wrong.
#[derive(Debug)]
pub enum ParseError {
    Csv(csv::Error),
    /// The header line as found, lacking a column.
    Header(String),
}

/// Parses CSV text; see [`read`].
pub fn parse<T: DeserializeOwned>(text: &str, header: &str) -> Result<Vec<T>, ParseError> {
    let mut r = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let found = r.headers().map_err(ParseError::Csv)?.clone();
    if !header.split(',').all(|c| found.iter().any(|f| f == c)) {
        return Err(ParseError::Header(
            found.iter().collect::<Vec<_>>().join(","),
        ));
    }
    r.deserialize()
        .collect::<Result<_, _>>()
        .map_err(ParseError::Csv)
}

/// Serializes seconds with at most millisecond digits and no trailing zeros
/// (`0.1`, `12.35`, `2`), as the contract's examples show them.
pub fn seconds<S: serde::Serializer>(t: &f64, s: S) -> Result<S::Ok, S::Error> {
    let text = format!("{t:.3}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    s.serialize_str(if text.is_empty() || text == "-" || text == "-0" {
        "0"
    } else {
        text
    })
}

/// Serializes optional milliseconds with three decimals, empty when absent.
pub fn millis<S: serde::Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(ms) => s.serialize_str(&format!("{ms:.3}")),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct R {
        #[serde(serialize_with = "super::seconds")]
        t_s: f64,
        name: String,
        #[serde(serialize_with = "super::millis")]
        ms: Option<f64>,
    }

    #[test]
    fn writes_the_header_once_and_reads_columns_by_name() {
        let rows = vec![
            R {
                t_s: 0.1,
                name: "a,b".into(),
                ms: Some(1.5),
            },
            R {
                t_s: 2.0,
                name: "c".into(),
                ms: None,
            },
        ];
        let text = super::to_string("t_s,name,ms", &rows).unwrap();
        assert_eq!(text, "t_s,name,ms\n0.1,\"a,b\",1.500\n2,c,\n");
        let back: Vec<R> = super::parse(
            &format!(
                "extra,{}",
                text.replace('\n', "\nx,").trim_end_matches("x,")
            ),
            "t_s,name,ms",
        )
        .unwrap();
        assert_eq!(back, rows);
        assert!(super::parse::<R>("t_s,name\n1,a\n", "t_s,name,ms").is_err());
        assert_eq!(
            super::to_string::<R>("t_s,name,ms", &[]).unwrap(),
            "t_s,name,ms\n"
        );
    }
}

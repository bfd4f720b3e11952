//! Multi-row station writes rendered as SQL text.
//!
//! # Why
//!
//! A station batch writes up to 500 rows in one `INSERT`. Through diesel-async every
//! statement is a server-side prepared statement, and one whose shape depends on the row
//! count cannot be cached: each batch then prepared a statement of some 9 000 to 12 000
//! placeholders, the server answered with a column definition for every one of them, and
//! then executed and closed it. The profile of a pipeline drain showed that overhead
//! (placeholder objects and metadata in MariaDB, their decoding in the worker) as the
//! largest part of both sides' database work.
//!
//! These statements are instead rendered as text with literal values and sent in one
//! round trip with the text protocol (`batch_execute`). Nothing user-controlled is ever
//! spliced in as SQL: table and column names are the schema's constants, numbers are
//! formatted by Rust (floats in exponent notation, which round-trips every finite `f64`
//! exactly; non-finite values are refused), dates and times are formatted from chrono
//! values, and byte strings and text are written as hexadecimal literals, so no value
//! needs quoting or escaping whatever its content or the server's SQL mode.

use std::fmt::Write as _;

use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};

use crate::convert::StationColumns;
use crate::error::DbError;

/// The shared station columns, in the order [`push_columns`] writes them.
pub(crate) const STATION_COLUMNS: [&str; 17] = [
    "created",
    "lat",
    "lon",
    "max_lat",
    "min_lat",
    "max_lon",
    "min_lon",
    "modified",
    "radius",
    "region",
    "samples",
    "source",
    "weight",
    "last_seen",
    "block_first",
    "block_last",
    "block_count",
];

/// A statement being rendered.
#[derive(Debug, Default)]
pub(crate) struct SqlText {
    sql: String,
}

impl SqlText {
    /// An empty statement with room for `capacity` bytes.
    pub(crate) fn with_capacity(capacity: usize) -> SqlText {
        SqlText {
            sql: String::with_capacity(capacity),
        }
    }

    /// Appends SQL (keywords, identifiers and punctuation written by this crate).
    pub(crate) fn sql(&mut self, sql: &str) -> &mut Self {
        self.sql.push_str(sql);
        self
    }

    /// Appends a back-quoted identifier; names are this crate's constants, never input.
    pub(crate) fn ident(&mut self, name: &str) -> &mut Self {
        self.sql.push('`');
        self.sql.push_str(name);
        self.sql.push('`');
        self
    }

    /// Appends `NULL`.
    pub(crate) fn null(&mut self) -> &mut Self {
        self.sql.push_str("NULL");
        self
    }

    /// Appends a byte string as a hexadecimal literal (`X'…'`).
    pub(crate) fn bytes(&mut self, bytes: &[u8]) -> &mut Self {
        self.sql.push_str("X'");
        push_hex(&mut self.sql, bytes);
        self.sql.push('\'');
        self
    }

    /// Appends text as a hexadecimal literal in utf8mb4, or `NULL`.
    pub(crate) fn text(&mut self, text: Option<&str>) -> &mut Self {
        match text {
            None => self.null(),
            Some(text) => {
                self.sql.push_str("_utf8mb4 X'");
                push_hex(&mut self.sql, text.as_bytes());
                self.sql.push('\'');
                self
            }
        }
    }

    /// Appends an integer, or `NULL`.
    pub(crate) fn int<T: std::fmt::Display + Copy>(&mut self, value: Option<T>) -> &mut Self {
        match value {
            None => self.null(),
            Some(value) => {
                // Infallible: writing to a String.
                let _ = write!(self.sql, "{value}");
                self
            }
        }
    }

    /// Appends a float in exponent notation (exact), or `NULL`; non-finite values are an
    /// error, as they are for the server.
    pub(crate) fn float(&mut self, value: Option<f64>) -> Result<&mut Self, DbError> {
        match value {
            None => Ok(self.null()),
            Some(value) if value.is_finite() => {
                // Infallible: writing to a String.
                let _ = write!(self.sql, "{value:e}");
                Ok(self)
            }
            Some(value) => Err(DbError::invalid(format!(
                "cannot store the non-finite number {value}"
            ))),
        }
    }

    /// Appends a `DATETIME` literal, or `NULL`.
    pub(crate) fn datetime(&mut self, value: Option<NaiveDateTime>) -> &mut Self {
        match value {
            None => self.null(),
            Some(value) => {
                let (date, time) = (value.date(), value.time());
                let _ = write!(
                    self.sql,
                    "'{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:06}'",
                    date.year(),
                    date.month(),
                    date.day(),
                    time.hour(),
                    time.minute(),
                    time.second(),
                    time.nanosecond() / 1000
                );
                self
            }
        }
    }

    /// Appends a `DATE` literal, or `NULL`.
    pub(crate) fn date(&mut self, value: Option<NaiveDate>) -> &mut Self {
        match value {
            None => self.null(),
            Some(value) => {
                let _ = write!(
                    self.sql,
                    "'{:04}-{:02}-{:02}'",
                    value.year(),
                    value.month(),
                    value.day()
                );
                self
            }
        }
    }

    /// The rendered statement.
    pub(crate) fn as_str(&self) -> &str {
        &self.sql
    }
}

fn push_hex(out: &mut String, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    out.reserve(bytes.len() * 2);
    for byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
}

/// Appends the shared station columns' values, comma-separated, in
/// [`STATION_COLUMNS`] order.
pub(crate) fn push_columns(out: &mut SqlText, c: &StationColumns) -> Result<(), DbError> {
    out.datetime(c.created).sql(",");
    for value in [c.lat, c.lon, c.max_lat, c.min_lat, c.max_lon, c.min_lon] {
        out.float(value)?.sql(",");
    }
    out.datetime(c.modified).sql(",");
    out.int(c.radius).sql(",");
    out.text(c.region.as_deref()).sql(",");
    out.int(c.samples).sql(",");
    out.int(c.source).sql(",");
    out.float(c.weight)?.sql(",");
    out.date(c.last_seen).sql(",");
    out.date(c.block_first).sql(",");
    out.date(c.block_last).sql(",");
    out.int(c.block_count);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_render_as_literals() {
        let mut s = SqlText::default();
        s.bytes(&[0x00, 0xab, 0x7f])
            .sql(",")
            .text(Some("DE'); --"))
            .sql(",")
            .int(Some(-12i16))
            .sql(",")
            .int(None::<u32>)
            .sql(",");
        s.float(Some(52.5)).unwrap().sql(",");
        s.float(Some(-1e-300)).unwrap().sql(",");
        s.datetime(
            NaiveDate::from_ymd_opt(2026, 1, 2)
                .unwrap()
                .and_hms_opt(3, 4, 5),
        )
        .sql(",")
        .date(NaiveDate::from_ymd_opt(2026, 11, 28));
        assert_eq!(
            s.as_str(),
            "X'00AB7F',_utf8mb4 X'444527293B202D2D',-12,NULL,5.25e1,-1e-300,\
             '2026-01-02 03:04:05.000000','2026-11-28'"
        );
    }

    #[test]
    fn floats_round_trip_and_non_finite_is_refused() {
        for value in [0.1, 1.0 / 3.0, f64::MAX, f64::MIN_POSITIVE, -0.0, 13.404954] {
            let mut s = SqlText::default();
            s.float(Some(value)).unwrap();
            assert_eq!(s.as_str().parse::<f64>().unwrap(), value);
        }
        for value in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            assert!(SqlText::default().float(Some(value)).is_err());
        }
    }
}

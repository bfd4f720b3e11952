//! The station dump format (`pipeline.md` §11.3), written by `ichnaea-admin dump`.
//!
//! One header line, then one line per station row, `\n`-terminated, every column of the
//! station tables: the operator's complete copy of one station type, blocked and
//! unpositioned stations included. The reference built each line in SQL; here the same
//! values are formatted from a [`StationRow`]: coordinates rounded to 7 decimals or
//! empty; `radius`, `samples`, `weight` and `block_count` `0` when NULL; `region`, `psc`
//! and `source` empty when NULL; times and dates as Unix seconds (dates at 00:00 UTC) or
//! empty. Cell radios are written `GSM`, `WCDMA`, `LTE` (unlike the public export's
//! `UMTS`), and `NR` for 5G cells, which the reference lacks.
//!
//! The format is pure text work; the admin command streams pages of rows through it.

use std::io::{self, Write};

use crate::cellcsv::write_cell_columns;
use crate::enums::Radio;
use crate::pipeline::{StationKey, StationRow};

/// The header of a cell dump (without line ending).
pub const CELL_HEADER: &str = "radio,mcc,mnc,lac,cid,psc,lat,lon,max_lat,min_lat,max_lon,min_lon,radius,region,samples,source,weight,created,modified,last_seen,block_first,block_last,block_count";

/// The header of a WiFi or Bluetooth dump (without line ending).
pub const MAC_HEADER: &str = "mac,lat,lon,max_lat,min_lat,max_lon,min_lon,radius,region,samples,source,weight,created,modified,last_seen,block_first,block_last,block_count";

/// The radio as the dump writes it.
const fn radio_name(radio: Radio) -> &'static str {
    match radio {
        Radio::Gsm => "GSM",
        Radio::Wcdma => "WCDMA",
        Radio::Lte => "LTE",
        Radio::Nr => "NR",
    }
}

fn opt(out: &mut impl Write, value: Option<impl std::fmt::Display>) -> io::Result<()> {
    match value {
        Some(v) => write!(out, ",{v}"),
        None => out.write_all(b","),
    }
}

fn coordinate(out: &mut impl Write, value: Option<f64>) -> io::Result<()> {
    opt(out, value.map(|x| (x * 1e7).round() / 1e7))
}

/// Writes the dump line of a station row, `\n`-terminated.
pub fn write_line(out: &mut impl Write, row: &StationRow) -> io::Result<()> {
    match row.key {
        StationKey::Cell(cell) => {
            write_cell_columns(out, radio_name(cell.radio()), &cell, row.psc)?;
        }
        StationKey::Mac(mac) => out.write_all(mac.to_hex().as_bytes())?,
    }
    for value in [
        row.lat,
        row.lon,
        row.max_lat,
        row.min_lat,
        row.max_lon,
        row.min_lon,
    ] {
        coordinate(out, value)?;
    }
    write!(out, ",{}", row.radius.unwrap_or(0))?;
    opt(out, row.region.as_ref().map(|r| r.as_str()))?;
    write!(out, ",{}", row.samples.unwrap_or(0))?;
    opt(out, row.source.map(|s| s.code()))?;
    write!(out, ",{}", row.weight.unwrap_or(0.0))?;
    opt(out, row.created.map(|t| t.unix_seconds()))?;
    opt(out, row.modified.map(|t| t.unix_seconds()))?;
    for day in [row.last_seen, row.block_first, row.block_last] {
        opt(out, day.map(|d| d.start().unix_seconds()))?;
    }
    writeln!(out, ",{}", row.block_count.unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::enums::ReportSource;
    use crate::ids::{CellId, Mac};
    use crate::pipeline::RegionCode;
    use crate::time::{Date, DateTime};

    fn empty(key: StationKey) -> StationRow {
        StationRow::new(key)
    }

    fn line(row: &StationRow) -> String {
        let mut out = Vec::new();
        write_line(&mut out, row).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn headers_have_the_reference_columns() {
        assert_eq!(CELL_HEADER.split(',').count(), 23);
        assert_eq!(MAC_HEADER.split(',').count(), 18);
        assert!(CELL_HEADER.ends_with(MAC_HEADER.trim_start_matches("mac")));
    }

    #[test]
    fn a_full_cell_row() {
        let mut row = empty(StationKey::Cell(
            CellId::new(Radio::Wcdma, 202, 1, 2120, 12842).unwrap(),
        ));
        row.psc = Some(5);
        row.lat = Some(38.857_435_06);
        row.lon = Some(23.412_316_74);
        row.max_lat = Some(38.9);
        row.min_lat = Some(38.8);
        row.max_lon = Some(23.5);
        row.min_lon = Some(23.3);
        row.radius = Some(900);
        row.region = RegionCode::new("GR");
        row.samples = Some(3);
        row.source = Some(ReportSource::Gnss);
        row.weight = Some(2.5);
        row.created = Some(DateTime::from_unix_seconds(1_568_220_564));
        row.modified = Some(DateTime::from_unix_seconds(1_568_220_600));
        row.last_seen = Date::from_ymd(2019, 9, 11);
        row.block_count = Some(0);
        assert_eq!(
            line(&row),
            "WCDMA,202,1,2120,12842,5,38.8574351,23.4123167,38.9,38.8,23.5,23.3,900,GR,3,3,2.5,\
             1568220564,1568220600,1568160000,,,0\n"
        );
    }

    #[test]
    fn a_blocked_wifi_row_has_defaults() {
        let mut row = empty(StationKey::Mac(Mac::parse("a8:20:66:12:34:56").unwrap()));
        row.block_first = Date::from_ymd(1970, 1, 2);
        row.block_last = Date::from_ymd(1970, 1, 3);
        row.block_count = Some(2);
        assert_eq!(line(&row), "a82066123456,,,,,,,0,,0,,0,,,,86400,172800,2\n");
    }
}

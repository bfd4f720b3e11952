//! The public cell CSV format (`pipeline.md` §11.1, §12): the daily and hourly exports
//! written by the worker, and the MLS / OpenCellID files `ichnaea-admin load-cells` reads.
//!
//! Both directions are pure text work, kept here without IO so the exact bytes can be
//! golden-tested and the importer's row rules unit-tested; the callers stream rows in and
//! out of the database page by page and never hold a whole file.
//!
//! # Format
//!
//! Header `radio,mcc,net,area,cell,unit,lon,lat,range,samples,changeable,created,updated,averageSignal`,
//! CRLF line endings, empty fields written as nothing between two commas. The reference
//! computed each line in SQL (`CONCAT_WS`, `ROUND(x, 7)`); here the same values are
//! formatted in Rust: coordinates rounded to 7 decimals (half away from zero, as MySQL's
//! `ROUND` on exact decimals) and printed in their shortest form (`1` rather than `1.0`,
//! as MySQL prints a double), timestamps as Unix seconds.
//!
//! # 5G NR (an extension)
//!
//! The reference writes an empty radio for anything but GSM, UMTS and LTE and had no NR
//! cells. We export NR cells with radio `NR` (the value OpenCellID uses), the 24-bit
//! tracking area code in `area` and the 36-bit NR cell identity in `cell`, and accept the
//! same on import. GSM, UMTS and LTE lines are byte-identical to the reference's.
//!
//! # Import rules
//!
//! A line that does not make a valid cell is skipped with a [`SkipReason`], never an
//! error for the whole file (the reference aborted on unknown radios and on a bad first
//! row). `CDMA` lines are skipped (the reference never stores CDMA). Values are checked
//! with the pipeline's cell ranges ([`crate::ranges::CellRanges`]) and position bounds;
//! `range` is capped at 100 000 m; an out-of-range `unit` (PSC/PCI) becomes empty rather
//! than rejecting the cell; an empty `unit` stays empty (the reference stored `0`, which
//! is a real scrambling code).

use std::fmt;
use std::io::{self, Write};

use crate::enums::Radio;
use crate::geo::{MAX_LAT, MAX_LON, MIN_LAT, MIN_LON};
use crate::ids::CellId;
use crate::pipeline::{StationKey, StationRow};
use crate::ranges::{CellRanges, is_valid_mcc};
use crate::time::DateTime;

/// The header line of export files (without line ending).
pub const HEADER: &str =
    "radio,mcc,net,area,cell,unit,lon,lat,range,samples,changeable,created,updated,averageSignal";

/// Largest `range` kept on import, metres (the cell station schema's radius limit).
pub const MAX_IMPORT_RADIUS: u32 = 100_000;

/// The `radio` column value of a radio.
pub const fn radio_name(radio: Radio) -> &'static str {
    match radio {
        Radio::Gsm => "GSM",
        Radio::Wcdma => "UMTS",
        Radio::Lte => "LTE",
        Radio::Nr => "NR",
    }
}

/// Which export: the daily full file or the hourly differential one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportKind {
    /// Every positioned cell modified within the last 365 days.
    Full,
    /// Cells modified in the last whole hour.
    Diff,
}

/// What an export run selects and where it goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportPlan {
    /// Rows with `modified >= from` …
    pub from: DateTime,
    /// … and, for diffs, `modified < until`.
    pub until: Option<DateTime>,
    /// The object name, `export/<file>`.
    pub object: String,
}

impl ExportKind {
    /// The task name in the periodic catalogue.
    pub const fn task_name(self) -> &'static str {
        match self {
            ExportKind::Full => "data.cell_export_full",
            ExportKind::Diff => "data.cell_export_diff",
        }
    }

    /// The selection and file name of a run at `now` (`pipeline.md` §11.1): a diff covers
    /// the hour before `now` truncated to the hour and is named after its end; a full
    /// export covers 365 days back from today's midnight and is named after today.
    pub fn plan(self, now: DateTime) -> ExportPlan {
        let secs = now.unix_seconds();
        match self {
            ExportKind::Diff => {
                let end = DateTime::from_unix_seconds(secs - secs.rem_euclid(3600));
                ExportPlan {
                    from: end.add_seconds(-3600),
                    until: Some(end),
                    object: format!("export/MLS-diff-cell-export-{}.csv.gz", stamp(end)),
                }
            }
            ExportKind::Full => {
                let today = now.date().start();
                ExportPlan {
                    from: today.add_days(-365),
                    until: None,
                    object: format!("export/MLS-full-cell-export-{}.csv.gz", stamp(today)),
                }
            }
        }
    }
}

/// `YYYY-MM-DDTHHMMSS`.
fn stamp(at: DateTime) -> String {
    let (y, mo, d, h, mi, s) = at.to_ymd_hms();
    format!("{y:04}-{mo:02}-{d:02}T{h:02}{mi:02}{s:02}")
}

/// A coordinate as the reference printed `ROUND(x, 7)`.
struct Coordinate(f64);

impl fmt::Display for Coordinate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rounded = (self.0 * 1e7).round() / 1e7;
        // MySQL prints negative zero as `-0`; so does Rust.
        write!(f, "{rounded}")
    }
}

/// Writes the leading `radio,mcc,mnc,lac,cid,psc` columns that the export and the station
/// dump share (each names the radios its own way), without a trailing separator.
pub(crate) fn write_cell_columns(
    out: &mut impl Write,
    radio: &str,
    cell: &CellId,
    psc: Option<i16>,
) -> io::Result<()> {
    write!(
        out,
        "{radio},{},{},{},{},",
        cell.mcc(),
        cell.mnc(),
        cell.lac(),
        cell.cid()
    )?;
    if let Some(psc) = psc {
        write!(out, "{psc}")?;
    }
    Ok(())
}

/// Writes the export line of a cell row, CRLF-terminated. Rows that are not cells or have
/// no position are not exported: `Ok(false)`, nothing written.
pub fn write_export_line(out: &mut impl Write, row: &StationRow) -> io::Result<bool> {
    let (StationKey::Cell(cell), Some(lat), Some(lon)) = (row.key, row.lat, row.lon) else {
        return Ok(false);
    };
    write_cell_columns(out, radio_name(cell.radio()), &cell, row.psc)?;
    write!(
        out,
        ",{},{},{},{},1,",
        Coordinate(lon),
        Coordinate(lat),
        row.radius.unwrap_or(0),
        row.samples.unwrap_or(0)
    )?;
    if let Some(created) = row.created {
        write!(out, "{}", created.unix_seconds())?;
    }
    out.write_all(b",")?;
    if let Some(modified) = row.modified {
        write!(out, "{}", modified.unix_seconds())?;
    }
    out.write_all(b",\r\n")?;
    Ok(true)
}

/// One cell read from an import file.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportCell {
    /// The cell.
    pub id: CellId,
    /// `unit`: PSC / PCI, if given and in range.
    pub psc: Option<i16>,
    /// Latitude.
    pub lat: f64,
    /// Longitude.
    pub lon: f64,
    /// `range`, capped at [`MAX_IMPORT_RADIUS`].
    pub radius: u32,
    /// `samples`.
    pub samples: u32,
    /// `created`, if given.
    pub created: Option<DateTime>,
    /// `updated`.
    pub modified: DateTime,
}

/// Why an import line was skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SkipReason {
    /// Fewer than 13 comma-separated fields.
    FieldCount,
    /// The radio column is empty.
    NoRadio,
    /// CDMA cells are never stored.
    Cdma,
    /// A radio name we do not know.
    UnknownRadio,
    /// A field that must be a number is not one.
    NotANumber,
    /// The MCC is not a valid mobile country code.
    InvalidMcc,
    /// The MNC is outside 0–999.
    InvalidMnc,
    /// The area code is outside the radio's range.
    InvalidArea,
    /// The cell id is outside the radio's range.
    InvalidCell,
    /// The position is outside the valid latitude / longitude bounds.
    InvalidPosition,
    /// The `updated` timestamp is missing.
    NoTimestamp,
    /// The line is not UTF-8 text.
    NotText,
}

impl SkipReason {
    /// A short description for the import summary.
    pub const fn as_str(self) -> &'static str {
        match self {
            SkipReason::FieldCount => "too few fields",
            SkipReason::NoRadio => "empty radio",
            SkipReason::Cdma => "CDMA cell",
            SkipReason::UnknownRadio => "unknown radio",
            SkipReason::NotANumber => "not a number",
            SkipReason::InvalidMcc => "invalid mcc",
            SkipReason::InvalidMnc => "mnc out of range",
            SkipReason::InvalidArea => "area out of range",
            SkipReason::InvalidCell => "cell out of range",
            SkipReason::InvalidPosition => "position out of range",
            SkipReason::NoTimestamp => "no updated timestamp",
            SkipReason::NotText => "not UTF-8 text",
        }
    }
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether a line is the header line (what the reference compares the first row with).
pub fn is_header(line: &str) -> bool {
    line.trim_end_matches(['\r', '\n']).trim() == HEADER
}

/// A field without surrounding whitespace and quotes.
fn clean(field: &str) -> &str {
    let field = field.trim();
    field
        .strip_prefix('"')
        .and_then(|f| f.strip_suffix('"'))
        .unwrap_or(field)
}

fn number<T: std::str::FromStr>(field: &str) -> Result<T, SkipReason> {
    clean(field).parse().map_err(|_| SkipReason::NotANumber)
}

fn in_range(value: i64, (low, high): (i64, i64)) -> bool {
    (low..=high).contains(&value)
}

/// Parses one data line of an MLS or OpenCellID file (line ending optional).
pub fn parse_line(line: &str) -> Result<ImportCell, SkipReason> {
    let line = line.trim_end_matches(['\r', '\n']);
    let mut fields = [""; 14];
    let mut count = 0;
    for field in line.split(',') {
        if count < fields.len() {
            fields[count] = field;
        }
        count += 1;
    }
    if count < 13 {
        return Err(SkipReason::FieldCount);
    }
    let [
        radio,
        mcc,
        mnc,
        area,
        cell,
        unit,
        lon,
        lat,
        range,
        samples,
        _changeable,
        created,
        updated,
        _signal,
    ] = fields;
    let radio = match clean(radio).to_ascii_uppercase().as_str() {
        "" => return Err(SkipReason::NoRadio),
        "GSM" => Radio::Gsm,
        "UMTS" | "WCDMA" => Radio::Wcdma,
        "LTE" => Radio::Lte,
        "NR" => Radio::Nr,
        "CDMA" => return Err(SkipReason::Cdma),
        _ => return Err(SkipReason::UnknownRadio),
    };
    let ranges = CellRanges::for_radio(radio);
    let mcc: i64 = number(mcc)?;
    if !is_valid_mcc(mcc) {
        return Err(SkipReason::InvalidMcc);
    }
    let mnc: i64 = number(mnc)?;
    if !in_range(mnc, (0, 999)) {
        return Err(SkipReason::InvalidMnc);
    }
    let area: i64 = number(area)?;
    if !in_range(area, ranges.lac) {
        return Err(SkipReason::InvalidArea);
    }
    let cell: i64 = number(cell)?;
    if !in_range(cell, ranges.cid) {
        return Err(SkipReason::InvalidCell);
    }
    let psc = match clean(unit) {
        "" => None,
        text => {
            let psc: i64 = text.parse().map_err(|_| SkipReason::NotANumber)?;
            in_range(psc, ranges.psc)
                .then(|| i16::try_from(psc).ok())
                .flatten()
        }
    };
    let lon: f64 = number(lon)?;
    let lat: f64 = number(lat)?;
    if !(MIN_LAT..=MAX_LAT).contains(&lat) || !(MIN_LON..=MAX_LON).contains(&lon) {
        return Err(SkipReason::InvalidPosition);
    }
    let range: i64 = number(range)?;
    let samples: i64 = number(samples)?;
    let created = match clean(created) {
        "" => None,
        text => Some(DateTime::from_unix_seconds(
            text.parse().map_err(|_| SkipReason::NotANumber)?,
        )),
    };
    let modified = match clean(updated) {
        "" => return Err(SkipReason::NoTimestamp),
        text => DateTime::from_unix_seconds(text.parse().map_err(|_| SkipReason::NotANumber)?),
    };
    // The ranges above make these conversions lossless; the fallbacks are unreachable.
    let id = CellId::new(
        radio,
        u16::try_from(mcc).map_err(|_| SkipReason::InvalidMcc)?,
        u16::try_from(mnc).map_err(|_| SkipReason::InvalidMnc)?,
        u32::try_from(area).map_err(|_| SkipReason::InvalidArea)?,
        u64::try_from(cell).map_err(|_| SkipReason::InvalidCell)?,
    )
    .map_err(|_| SkipReason::InvalidCell)?;
    Ok(ImportCell {
        id,
        psc,
        lat,
        lon,
        radius: u32::try_from(range.clamp(0, i64::from(MAX_IMPORT_RADIUS))).unwrap_or(0),
        samples: u32::try_from(samples.clamp(0, i64::from(u32::MAX))).unwrap_or(0),
        created,
        modified,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell_row(id: CellId) -> StationRow {
        StationRow {
            key: StationKey::Cell(id),
            psc: Some(120),
            lat: Some(38.857_435_06),
            lon: Some(23.412_316_74),
            max_lat: None,
            min_lat: None,
            max_lon: None,
            min_lon: None,
            created: Some(DateTime::from_unix_seconds(1_568_220_564)),
            modified: Some(DateTime::from_unix_seconds(1_568_230_000)),
            radius: Some(1500),
            region: None,
            samples: Some(7),
            source: None,
            weight: None,
            last_seen: None,
            block_first: None,
            block_last: None,
            block_count: None,
        }
    }

    fn line(row: &StationRow) -> String {
        let mut out = Vec::new();
        assert!(write_export_line(&mut out, row).unwrap());
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn export_lines_are_the_reference_format() {
        let id = CellId::new(Radio::Wcdma, 202, 1, 2120, 12842).unwrap();
        assert_eq!(
            line(&cell_row(id)),
            "UMTS,202,1,2120,12842,120,23.4123167,38.8574351,1500,7,1,1568220564,1568230000,\r\n"
        );
        let mut bare = cell_row(CellId::new(Radio::Gsm, 208, 10, 30014, 20669).unwrap());
        bare.psc = None;
        bare.radius = None;
        bare.samples = None;
        bare.created = None;
        bare.modified = None;
        bare.lat = Some(48.0);
        bare.lon = Some(-2.5);
        assert_eq!(line(&bare), "GSM,208,10,30014,20669,,-2.5,48,0,0,1,,,\r\n");
        let nr = cell_row(CellId::new(Radio::Nr, 262, 1, 16_000_000, (1 << 36) - 1).unwrap());
        assert!(line(&nr).starts_with("NR,262,1,16000000,68719476735,120,"));
        let lte = cell_row(CellId::new(Radio::Lte, 202, 1, 2120, 12842).unwrap());
        assert!(line(&lte).starts_with("LTE,"));
    }

    #[test]
    fn unpositioned_rows_are_not_exported() {
        let mut row = cell_row(CellId::new(Radio::Lte, 202, 1, 2, 3).unwrap());
        row.lat = None;
        let mut out = Vec::new();
        assert!(!write_export_line(&mut out, &row).unwrap());
        assert!(out.is_empty());
    }

    #[test]
    fn coordinates_round_to_seven_decimals() {
        assert_eq!(Coordinate(0.123_456_789).to_string(), "0.1234568");
        assert_eq!(Coordinate(-0.123_456_749).to_string(), "-0.1234567");
        assert_eq!(Coordinate(10.0).to_string(), "10");
        assert_eq!(Coordinate(-179.999_999_99).to_string(), "-180");
    }

    #[test]
    fn export_plans_match_the_reference_names() {
        // 2024-01-12T14:03:00Z
        let now = DateTime::from_ymd_hms(2024, 1, 12, 14, 3, 0).unwrap();
        let diff = ExportKind::Diff.plan(now);
        assert_eq!(
            diff.object,
            "export/MLS-diff-cell-export-2024-01-12T140000.csv.gz"
        );
        assert_eq!(
            diff.from,
            DateTime::from_ymd_hms(2024, 1, 12, 13, 0, 0).unwrap()
        );
        assert_eq!(
            diff.until,
            Some(DateTime::from_ymd_hms(2024, 1, 12, 14, 0, 0).unwrap())
        );
        let full = ExportKind::Full.plan(DateTime::from_ymd_hms(2024, 1, 12, 0, 37, 0).unwrap());
        assert_eq!(
            full.object,
            "export/MLS-full-cell-export-2024-01-12T000000.csv.gz"
        );
        assert_eq!(
            full.from,
            DateTime::from_ymd_hms(2023, 1, 12, 0, 0, 0).unwrap()
        );
        assert_eq!(full.until, None);
    }

    #[test]
    fn header_is_exact() {
        assert_eq!(
            HEADER,
            "radio,mcc,net,area,cell,unit,lon,lat,range,samples,changeable,created,updated,averageSignal"
        );
        assert!(is_header(&format!("{HEADER}\r\n")));
        assert!(!is_header("UMTS,202,1,2120,12842,,23.4,38.8,0,0,1,1,1,"));
    }

    #[test]
    fn export_lines_parse_back() {
        let id = CellId::new(Radio::Wcdma, 202, 1, 2120, 12842).unwrap();
        let cell = parse_line(&line(&cell_row(id))).unwrap();
        assert_eq!(cell.id, id);
        assert_eq!(cell.psc, Some(120));
        assert_eq!(cell.lat, 38.857_435_1);
        assert_eq!(cell.lon, 23.412_316_7);
        assert_eq!(cell.radius, 1500);
        assert_eq!(cell.samples, 7);
        assert_eq!(
            cell.created,
            Some(DateTime::from_unix_seconds(1_568_220_564))
        );
        assert_eq!(cell.modified, DateTime::from_unix_seconds(1_568_230_000));
    }

    #[test]
    fn opencellid_lines_parse() {
        let cell = parse_line(
            "LTE,262,2,1234,26435842,318,13.405,52.52,2500,12,1,1459692500,1700000000,0",
        )
        .unwrap();
        assert_eq!(
            cell.id,
            CellId::new(Radio::Lte, 262, 2, 1234, 26_435_842).unwrap()
        );
        assert_eq!(cell.psc, Some(318));
        let nr = parse_line("NR,310,260,7340032,68719476000,1000,-97.7,30.3,200,3,1,1,2,").unwrap();
        assert_eq!(nr.id.radio(), Radio::Nr);
        assert_eq!(nr.id.lac(), 7_340_032);
        assert_eq!(nr.id.cid(), 68_719_476_000);
        let capped = parse_line("GSM,262,2,1,2,,13.4,52.5,250000,1,1,,5,").unwrap();
        assert_eq!(capped.radius, MAX_IMPORT_RADIUS);
        assert_eq!(capped.psc, None);
        assert_eq!(capped.created, None);
        let bad_psc = parse_line("LTE,262,2,1,2,700,13.4,52.5,1,1,1,1,5,").unwrap();
        assert_eq!(bad_psc.psc, None);
    }

    #[test]
    fn bad_lines_say_why() {
        let cases = [
            ("GSM,262,2,1,2", SkipReason::FieldCount),
            (",262,2,1,2,,13.4,52.5,1,1,1,1,5,", SkipReason::NoRadio),
            ("CDMA,262,2,1,2,,13.4,52.5,1,1,1,1,5,", SkipReason::Cdma),
            (
                "WIMAX,262,2,1,2,,13.4,52.5,1,1,1,1,5,",
                SkipReason::UnknownRadio,
            ),
            (
                "GSM,abc,2,1,2,,13.4,52.5,1,1,1,1,5,",
                SkipReason::NotANumber,
            ),
            (
                "GSM,999,2,1,2,,13.4,52.5,1,1,1,1,5,",
                SkipReason::InvalidMcc,
            ),
            (
                "GSM,262,1000,1,2,,13.4,52.5,1,1,1,1,5,",
                SkipReason::InvalidMnc,
            ),
            (
                "GSM,262,2,0,2,,13.4,52.5,1,1,1,1,5,",
                SkipReason::InvalidArea,
            ),
            (
                "LTE,262,2,65534,2,,13.4,52.5,1,1,1,1,5,",
                SkipReason::InvalidArea,
            ),
            (
                "GSM,262,2,1,0,,13.4,52.5,1,1,1,1,5,",
                SkipReason::InvalidCell,
            ),
            (
                "GSM,262,2,1,2,,13.4,89.5,1,1,1,1,5,",
                SkipReason::InvalidPosition,
            ),
            (
                "GSM,262,2,1,2,,13.4,52.5,1,1,1,1,,",
                SkipReason::NoTimestamp,
            ),
        ];
        for (text, reason) in cases {
            assert_eq!(parse_line(text), Err(reason), "{text}");
        }
    }
}

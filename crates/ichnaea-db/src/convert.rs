//! Conversions between diesel rows and the core types.
//!
//! ichnaea-core is pure and has no date library or database types: times are
//! [`DateTime`] (UTC seconds), days are [`Date`], identifiers are [`Mac`], [`CellId`],
//! [`CellAreaId`] and [`Grid`], enumerations are Rust enums. MySQL stores naive UTC
//! `DATETIME`/`DATE` columns (every connection runs with `time_zone = '+00:00'`), binary
//! big-endian ids, small integer codes and `varchar(2)` region codes. This module is the
//! one place where the two meet, so the rules are uniform:
//!
//! * times have second precision on both sides; sub-second parts of a stored value are
//!   dropped;
//! * writing a time or day outside what chrono / MySQL can represent is an
//!   [`DbError::invalid`] error, never a silent clamp;
//! * reading is lenient: a row whose **id** cannot be decoded (wrong length, unknown radio
//!   code, out-of-range component) is skipped by the callers (`None` here) rather than
//!   failing a whole locate query or batch; an unknown `source` code or a malformed
//!   `region` reads as `NULL` in the typed pipeline row (the locate row keeps the raw
//!   region text, as the reference does).
//!
//! Privacy: nothing here logs; ids are redacted in the core types' `Debug` output.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::Queryable;
use ichnaea_core::grid::Grid;
use ichnaea_core::locate::station::{AreaStation, CellStation, MacStation, Station};
use ichnaea_core::pipeline::StationKind;
use ichnaea_core::pipeline::area::CellAreaRow;
use ichnaea_core::pipeline::region::RegionCode;
use ichnaea_core::pipeline::station::{StationKey, StationRow};
use ichnaea_core::time::{Date, DateTime};
use ichnaea_core::{CellAreaId, CellId, Mac, ReportSource};

use crate::error::DbError;

/// Days from 0001-01-01 (chrono's day 1 of the common era) to 1970-01-01.
const EPOCH_DAYS_FROM_CE: i32 = 719_163;

/// A core time as a MySQL `DATETIME` value.
pub fn datetime_to_sql(time: DateTime) -> Result<NaiveDateTime, DbError> {
    chrono::DateTime::from_timestamp(time.unix_seconds(), 0)
        .map(|t| t.naive_utc())
        .ok_or_else(|| DbError::invalid(format!("time {time} is out of range")))
}

/// A MySQL `DATETIME` value (UTC) as a core time; sub-second parts are dropped.
pub fn datetime_from_sql(time: NaiveDateTime) -> DateTime {
    DateTime::from_unix_seconds(time.and_utc().timestamp())
}

/// A core day as a MySQL `DATE` value.
pub fn date_to_sql(day: Date) -> Result<NaiveDate, DbError> {
    day.days()
        .checked_add(EPOCH_DAYS_FROM_CE)
        .and_then(NaiveDate::from_num_days_from_ce_opt)
        .ok_or_else(|| DbError::invalid(format!("day {day} is out of range")))
}

/// A MySQL `DATE` value as a core day.
pub fn date_from_sql(day: NaiveDate) -> Date {
    use chrono::Datelike;
    Date::from_days(day.num_days_from_ce() - EPOCH_DAYS_FROM_CE)
}

fn opt_datetime_to_sql(time: Option<DateTime>) -> Result<Option<NaiveDateTime>, DbError> {
    time.map(datetime_to_sql).transpose()
}

fn opt_date_to_sql(day: Option<Date>) -> Result<Option<NaiveDate>, DbError> {
    day.map(date_to_sql).transpose()
}

/// The binary `grid` column value of a datamap grid cell.
pub fn grid_to_sql(grid: Grid) -> Vec<u8> {
    grid.to_bytes().to_vec()
}

/// Decodes a `grid` column value; `None` for malformed bytes.
pub fn grid_from_sql(bytes: &[u8]) -> Option<Grid> {
    Grid::from_bytes(bytes).ok()
}

/// The binary primary key of a station: the 6-byte `mac` or the 11/13-byte `cellid`.
pub fn station_key_to_sql(key: &StationKey) -> Vec<u8> {
    match key {
        StationKey::Mac(mac) => mac.as_bytes().to_vec(),
        StationKey::Cell(cell) => cell.to_bytes(),
    }
}

/// Decodes a station's binary primary key for a table of `kind`; `None` if it does not
/// decode.
pub fn station_key_from_sql(kind: StationKind, bytes: &[u8]) -> Option<StationKey> {
    match kind {
        StationKind::Blue | StationKind::Wifi => Mac::from_bytes(bytes).ok().map(StationKey::Mac),
        StationKind::Cell => CellId::from_bytes(bytes).ok().map(StationKey::Cell),
    }
}

/// The columns every station table shares, in table order, as diesel reads and writes
/// them (`pipeline.md` §2.3).
#[derive(Debug, Clone, PartialEq, Default, Queryable)]
pub struct StationColumns {
    /// `lat`.
    pub lat: Option<f64>,
    /// `lon`.
    pub lon: Option<f64>,
    /// `max_lat`.
    pub max_lat: Option<f64>,
    /// `min_lat`.
    pub min_lat: Option<f64>,
    /// `max_lon`.
    pub max_lon: Option<f64>,
    /// `min_lon`.
    pub min_lon: Option<f64>,
    /// `created` (naive UTC).
    pub created: Option<NaiveDateTime>,
    /// `modified` (naive UTC).
    pub modified: Option<NaiveDateTime>,
    /// `radius`, metres.
    pub radius: Option<u32>,
    /// `region`, raw text.
    pub region: Option<String>,
    /// `samples`.
    pub samples: Option<u32>,
    /// `source`, a [`ReportSource`] code.
    pub source: Option<i8>,
    /// `weight`.
    pub weight: Option<f64>,
    /// `last_seen`.
    pub last_seen: Option<NaiveDate>,
    /// `block_first`.
    pub block_first: Option<NaiveDate>,
    /// `block_last`.
    pub block_last: Option<NaiveDate>,
    /// `block_count`.
    pub block_count: Option<u8>,
}

/// A whole station row in diesel types: binary key, `psc` (cells only) and the shared
/// columns. (A cell's `radio, mcc, mnc, lac, cid` columns are derived from the key.)
#[derive(Debug, Clone, PartialEq)]
pub struct StationSqlRow {
    /// `mac` or `cellid`.
    pub id: Vec<u8>,
    /// `psc`; always `None` for MAC tables, which have no such column.
    pub psc: Option<i16>,
    /// The shared columns.
    pub columns: StationColumns,
}

impl StationSqlRow {
    /// The diesel values of a pipeline row.
    pub fn from_station_row(row: &StationRow) -> Result<StationSqlRow, DbError> {
        Ok(StationSqlRow {
            id: station_key_to_sql(&row.key),
            psc: row.key.cell().and(row.psc),
            columns: StationColumns {
                lat: row.lat,
                lon: row.lon,
                max_lat: row.max_lat,
                min_lat: row.min_lat,
                max_lon: row.max_lon,
                min_lon: row.min_lon,
                created: opt_datetime_to_sql(row.created)?,
                modified: opt_datetime_to_sql(row.modified)?,
                radius: row.radius,
                region: row.region.map(|r| r.as_str().to_owned()),
                samples: row.samples,
                source: row.source.map(ReportSource::code),
                weight: row.weight,
                last_seen: opt_date_to_sql(row.last_seen)?,
                block_first: opt_date_to_sql(row.block_first)?,
                block_last: opt_date_to_sql(row.block_last)?,
                block_count: row.block_count,
            },
        })
    }

    /// The pipeline row, for a table of `kind`; `None` if the id does not decode.
    pub fn to_station_row(&self, kind: StationKind) -> Option<StationRow> {
        let key = station_key_from_sql(kind, &self.id)?;
        let c = &self.columns;
        Some(StationRow {
            key,
            psc: key.cell().and(self.psc),
            lat: c.lat,
            lon: c.lon,
            max_lat: c.max_lat,
            min_lat: c.min_lat,
            max_lon: c.max_lon,
            min_lon: c.min_lon,
            created: c.created.map(datetime_from_sql),
            modified: c.modified.map(datetime_from_sql),
            radius: c.radius,
            region: c.region.as_deref().and_then(RegionCode::new),
            samples: c.samples,
            source: c.source.and_then(ReportSource::from_code),
            weight: c.weight,
            last_seen: c.last_seen.map(date_from_sql),
            block_first: c.block_first.map(date_from_sql),
            block_last: c.block_last.map(date_from_sql),
            block_count: c.block_count,
        })
    }

    /// The locate view of a WiFi or Bluetooth row; `None` if the id is not a MAC.
    pub fn to_mac_station(&self) -> Option<MacStation> {
        Mac::from_bytes(&self.id).ok().map(|id| self.to_station(id))
    }

    /// The locate view of a cell row; `None` if the id is not a valid cell id.
    pub fn to_cell_station(&self) -> Option<CellStation> {
        CellId::from_bytes(&self.id)
            .ok()
            .map(|id| self.to_station(id))
    }

    fn to_station<I>(&self, id: I) -> Station<I> {
        let c = &self.columns;
        Station {
            id,
            lat: c.lat,
            lon: c.lon,
            radius: c.radius,
            region: c.region.clone(),
            samples: c.samples,
            source: c.source.and_then(ReportSource::from_code),
            weight: c.weight,
            created: c.created.map(datetime_from_sql),
            modified: c.modified.map(datetime_from_sql),
            last_seen: c.last_seen.map(date_from_sql),
            block_first: c.block_first.map(date_from_sql),
            block_last: c.block_last.map(date_from_sql),
            block_count: c.block_count,
        }
    }
}

/// The `cell_area` columns locate reads, in select order.
#[derive(Debug, Clone, PartialEq, Queryable)]
pub struct CellAreaSqlRow {
    /// `areaid`.
    pub areaid: Vec<u8>,
    /// `lat`.
    pub lat: Option<f64>,
    /// `lon`.
    pub lon: Option<f64>,
    /// `radius` (a signed column).
    pub radius: Option<i32>,
    /// `region`.
    pub region: Option<String>,
    /// `avg_cell_radius`.
    pub avg_cell_radius: Option<u32>,
    /// `num_cells`.
    pub num_cells: Option<u32>,
    /// `created`.
    pub created: Option<NaiveDateTime>,
    /// `modified`.
    pub modified: Option<NaiveDateTime>,
    /// `last_seen`.
    pub last_seen: Option<NaiveDate>,
}

impl CellAreaSqlRow {
    /// The locate view of the row; `None` if the area id does not decode. A negative
    /// radius (the column is signed) reads as unknown.
    pub fn to_area_station(&self) -> Option<AreaStation> {
        let id = CellAreaId::from_bytes(&self.areaid).ok()?;
        Some(AreaStation {
            id,
            lat: self.lat,
            lon: self.lon,
            radius: self.radius.and_then(|r| u32::try_from(r).ok()),
            region: self.region.clone(),
            num_cells: self.num_cells,
            avg_cell_radius: self.avg_cell_radius,
            created: self.created.map(datetime_from_sql),
            modified: self.modified.map(datetime_from_sql),
            last_seen: self.last_seen.map(date_from_sql),
        })
    }
}

/// The values written for a `cell_area` row.
#[derive(Debug, Clone, PartialEq)]
pub struct CellAreaValues {
    /// `areaid`: 7 bytes, 8 for NR.
    pub areaid: Vec<u8>,
    /// `radio` code.
    pub radio: i8,
    /// `mcc`.
    pub mcc: i16,
    /// `mnc`.
    pub mnc: i16,
    /// `lac`.
    pub lac: u32,
    /// `created` (insert only).
    pub created: NaiveDateTime,
    /// `modified`.
    pub modified: NaiveDateTime,
    /// `lat`.
    pub lat: f64,
    /// `lon`.
    pub lon: f64,
    /// `radius`, saturated to the signed column.
    pub radius: i32,
    /// `region`.
    pub region: Option<String>,
    /// `avg_cell_radius`.
    pub avg_cell_radius: Option<u32>,
    /// `num_cells`.
    pub num_cells: u32,
    /// `last_seen`.
    pub last_seen: Option<NaiveDate>,
}

impl CellAreaValues {
    /// The diesel values of a recomputed area.
    pub fn from_area_row(row: &CellAreaRow) -> Result<CellAreaValues, DbError> {
        let area = row.area;
        Ok(CellAreaValues {
            areaid: area.to_bytes(),
            radio: area.radio().code(),
            mcc: small_code("mcc", area.mcc())?,
            mnc: small_code("mnc", area.mnc())?,
            lac: area.lac(),
            created: datetime_to_sql(row.created)?,
            modified: datetime_to_sql(row.modified)?,
            lat: row.lat,
            lon: row.lon,
            radius: i32::try_from(row.radius).unwrap_or(i32::MAX),
            region: row.region.map(|r| r.as_str().to_owned()),
            avg_cell_radius: row.avg_cell_radius,
            num_cells: row.num_cells,
            last_seen: opt_date_to_sql(row.last_seen)?,
        })
    }
}

/// An MCC or MNC for a signed `smallint` column.
pub(crate) fn small_code(name: &str, value: u16) -> Result<i16, DbError> {
    i16::try_from(value).map_err(|_| DbError::invalid(format!("{name} {value} is out of range")))
}

/// Narrows an identifier component (`lac`, `cid`) to its column's Rust type, which
/// differs between the reference cell tables and `cell_nr`.
pub(crate) fn fit<T: TryFrom<u64>>(name: &str, value: u64) -> Result<T, DbError> {
    T::try_from(value).map_err(|_| DbError::invalid(format!("{name} is out of range")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_constant_matches_chrono() {
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();
        assert_eq!(date_from_sql(epoch), Date::EPOCH);
        assert_eq!(date_to_sql(Date::EPOCH).unwrap(), epoch);
    }

    #[test]
    fn out_of_range_values_are_errors() {
        assert!(
            date_to_sql(Date::from_days(i32::MAX))
                .unwrap_err()
                .is_invalid()
        );
        assert!(
            datetime_to_sql(DateTime::from_unix_seconds(i64::MAX))
                .unwrap_err()
                .is_invalid()
        );
        assert!(small_code("mcc", 40_000).is_err());
    }
}

//! The `cell_area` table: locate reads and the area aggregation (`pipeline.md` §6).
//!
//! An area row is a pure function of its positioned member cells
//! ([`update_area`]), recomputed whenever a station batch touched one of them. One
//! `update_cellarea` run handles up to 100 area ids in one transaction:
//!
//! 1. optionally claim a batch marker (`crate::markers`). Area updates are idempotent —
//!    a replay recomputes the same rows — so the marker only saves work;
//! 2. lock the existing area rows, `SELECT areaid … FOR UPDATE`, so two runs for the same
//!    area serialise and the later one writes what it computed from the newer cells;
//! 3. per area, read its positioned cells from the radio's table (`cell_nr` for 5G) and
//!    call [`update_area`];
//! 4. no positioned cell left → `DELETE`; otherwise `INSERT IGNORE` a new row or `UPDATE`
//!    every column but the key and `created`.
//!
//! The transaction runs under the lock-retry policy (`crate::retry`; the reference's
//! metric tag is `type:cellarea`).

use std::collections::{BTreeSet, HashSet};

use chrono::NaiveDate;
use diesel::prelude::*;
use diesel_async::{AsyncMysqlConnection, RunQueryDsl};
use ichnaea_core::CellAreaId;
use ichnaea_core::locate::station::AreaStation;
use ichnaea_core::pipeline::area::{AreaCell, AreaOutcome, update_area};
use ichnaea_core::pipeline::region::{RegionCode, RegionLookup};
use ichnaea_core::shard::CellShard;
use ichnaea_core::time::DateTime;

use crate::convert::{CellAreaSqlRow, CellAreaValues, date_from_sql, fit, small_code};
use crate::error::DbError;
use crate::in_list::InList;
use crate::markers::{self, BatchMarker};
use crate::retry::{BatchStatus, Retried, retry_transaction};
use crate::schema::cell_area;
use crate::shards::with_cell_table;

/// What happened to one area.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AreaChange {
    /// A new row was inserted.
    Inserted,
    /// The existing row was rewritten.
    Updated,
    /// The row was deleted: no positioned cell is left.
    Deleted,
    /// No row and no positioned cell: nothing to do.
    Absent,
}

/// Loads the positioned areas among `areas` (locate, `api.md` §8.4). Areas are never
/// blocked, so every returned row is usable.
pub async fn load_area_stations(
    conn: &mut AsyncMysqlConnection,
    areas: &[CellAreaId],
) -> Result<Vec<AreaStation>, DbError> {
    let ids: BTreeSet<Vec<u8>> = areas.iter().map(CellAreaId::to_bytes).collect();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<CellAreaSqlRow> = cell_area::table
        .filter(InList::new(cell_area::areaid, ids))
        .filter(cell_area::lat.is_not_null())
        .filter(cell_area::lon.is_not_null())
        .select((
            cell_area::areaid,
            cell_area::lat,
            cell_area::lon,
            cell_area::radius,
            cell_area::region,
            cell_area::avg_cell_radius,
            cell_area::num_cells,
            cell_area::created,
            cell_area::modified,
            cell_area::last_seen,
        ))
        .load(conn)
        .await?;
    Ok(rows
        .iter()
        .filter_map(CellAreaSqlRow::to_area_station)
        .collect())
}

/// Recomputes the given areas from their cells, exactly once per `marker` if one is
/// given, in one lock-retried transaction (see the module documentation). Duplicate ids
/// are handled once; the result lists each area in first-appearance order.
pub async fn update_cell_areas(
    conn: &mut AsyncMysqlConnection,
    marker: Option<&BatchMarker>,
    areas: &[CellAreaId],
    now: DateTime,
    regions: &(dyn RegionLookup + Sync),
) -> Result<Retried<BatchStatus<Vec<(CellAreaId, AreaChange)>>>, DbError> {
    let mut seen = HashSet::new();
    let areas: Vec<CellAreaId> = areas.iter().copied().filter(|a| seen.insert(*a)).collect();
    if areas.is_empty() {
        return Ok(Retried {
            value: BatchStatus::Applied(Vec::new()),
            lock_failures: Vec::new(),
        });
    }
    let areas = &areas;
    retry_transaction!(conn, async |c| {
        areas_attempt(c, marker, areas, now, regions).await
    })
}

async fn areas_attempt(
    conn: &mut AsyncMysqlConnection,
    marker: Option<&BatchMarker>,
    areas: &[CellAreaId],
    now: DateTime,
    regions: &(dyn RegionLookup + Sync),
) -> Result<BatchStatus<Vec<(CellAreaId, AreaChange)>>, DbError> {
    if !markers::claim(conn, marker, now).await? {
        return Ok(BatchStatus::AlreadyProcessed);
    }
    let ids: Vec<Vec<u8>> = areas.iter().map(CellAreaId::to_bytes).collect();
    let existing: HashSet<Vec<u8>> = cell_area::table
        .filter(cell_area::areaid.eq_any(&ids))
        .select(cell_area::areaid)
        .for_update()
        .load::<Vec<u8>>(conn)
        .await?
        .into_iter()
        .collect();
    let mut changes = Vec::with_capacity(areas.len());
    for (area, id) in areas.iter().zip(&ids) {
        let cells = load_area_cells(conn, *area).await?;
        let exists = existing.contains(id);
        let change = match update_area(*area, &cells, now, regions) {
            AreaOutcome::Delete if exists => {
                diesel::delete(cell_area::table.filter(cell_area::areaid.eq(id)))
                    .execute(conn)
                    .await?;
                AreaChange::Deleted
            }
            AreaOutcome::Delete => AreaChange::Absent,
            AreaOutcome::Upsert(row) => {
                let v = CellAreaValues::from_area_row(&row)?;
                let columns = (
                    cell_area::modified.eq(v.modified),
                    cell_area::lat.eq(v.lat),
                    cell_area::lon.eq(v.lon),
                    cell_area::radius.eq(v.radius),
                    cell_area::region.eq(v.region.as_deref()),
                    cell_area::avg_cell_radius.eq(v.avg_cell_radius),
                    cell_area::num_cells.eq(v.num_cells),
                    cell_area::last_seen.eq(v.last_seen),
                );
                if exists {
                    diesel::update(cell_area::table.filter(cell_area::areaid.eq(&v.areaid)))
                        .set(columns)
                        .execute(conn)
                        .await?;
                    AreaChange::Updated
                } else {
                    diesel::insert_or_ignore_into(cell_area::table)
                        .values((
                            (
                                cell_area::areaid.eq(&v.areaid),
                                cell_area::radio.eq(v.radio),
                                cell_area::mcc.eq(v.mcc),
                                cell_area::mnc.eq(v.mnc),
                                cell_area::lac.eq(v.lac),
                                cell_area::created.eq(v.created),
                            ),
                            columns,
                        ))
                        .execute(conn)
                        .await?;
                    AreaChange::Inserted
                }
            }
        };
        changes.push((*area, change));
    }
    Ok(BatchStatus::Applied(changes))
}

/// The cell columns the area aggregation reads, in select order.
#[derive(Queryable)]
struct AreaCellSql {
    lat: Option<f64>,
    lon: Option<f64>,
    radius: Option<u32>,
    region: Option<String>,
    last_seen: Option<NaiveDate>,
    max_lat: Option<f64>,
    min_lat: Option<f64>,
    max_lon: Option<f64>,
    min_lon: Option<f64>,
}

/// The positioned cells of an area, from its radio's table (blocked cells have no
/// position and are left out, as in the reference).
async fn load_area_cells(
    conn: &mut AsyncMysqlConnection,
    area: CellAreaId,
) -> Result<Vec<AreaCell>, DbError> {
    let radio = area.radio().code();
    let mcc = small_code("mcc", area.mcc())?;
    let mnc = small_code("mnc", area.mnc())?;
    let shard = CellShard::for_radio(area.radio());
    let rows: Vec<AreaCellSql> = with_cell_table!(shard, t, Lac, _Cid => {
        Ok::<_, DbError>(
            t::table
                .filter(t::radio.eq(radio))
                .filter(t::mcc.eq(mcc))
                .filter(t::mnc.eq(mnc))
                .filter(t::lac.eq(fit::<Lac>("lac", u64::from(area.lac()))?))
                .filter(t::lat.is_not_null())
                .filter(t::lon.is_not_null())
                .select((
                    t::lat,
                    t::lon,
                    t::radius,
                    t::region,
                    t::last_seen,
                    t::max_lat,
                    t::min_lat,
                    t::max_lon,
                    t::min_lon,
                ))
                .load(conn)
                .await?,
        )
    })?;
    Ok(rows
        .into_iter()
        .map(|c| AreaCell {
            lat: c.lat,
            lon: c.lon,
            radius: c.radius,
            region: c.region.as_deref().and_then(RegionCode::new),
            last_seen: c.last_seen.map(date_from_sql),
            max_lat: c.max_lat,
            min_lat: c.min_lat,
            max_lon: c.max_lon,
            min_lon: c.min_lon,
        })
        .collect())
}

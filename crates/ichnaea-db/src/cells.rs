//! Bulk station reads and cell imports: the SQL behind the public cell export, the
//! station dump and `ichnaea-admin load-cells`.
//!
//! # Paged reads
//!
//! Exports and dumps cover whole tables (tens of millions of rows), so they never load a
//! table at once: [`page_stations`] reads one page in primary-key order after a cursor
//! (keyset pagination, `WHERE <key> > ? ORDER BY <key> LIMIT n`, `pipeline.md` §11.1). Each
//! page is an index range scan that starts where the last one ended, so the cost per page
//! stays constant however deep into the table it is, and memory is one page. Pages are
//! separate statements, not one long transaction: rows changed while a file is written
//! appear in it or not, as with the reference.
//!
//! # Imports
//!
//! [`import_cells`] writes up to a few thousand parsed rows of one radio in **one**
//! transaction of multi-row `INSERT … ON DUPLICATE KEY UPDATE` statements (1 000 rows per
//! statement): one round trip per thousand rows is what makes a million-row import take
//! seconds instead of minutes. The update side is guarded with
//! `IF(modified IS NULL OR modified < VALUES(modified), VALUES(col), col)` on each column,
//! `modified` last (MySQL evaluates the assignments left to right, so the guard must see
//! the old `modified` until the end): an existing station is only overwritten by a newer
//! row, so importing a file twice, or an older file after a newer one, changes nothing.
//! Which rows are new, updated or already present is read first with a primary-key
//! `SELECT` inside the same transaction. It takes no locks (locking reads would also
//! gap-lock the missing keys and make parallel importers deadlock), so the counts are
//! exact unless another writer changes the same cells at the same moment; the guarded
//! upsert keeps the data right either way. As in the
//! reference (`pipeline.md` §12), updates touch `psc, lat, lon, radius, samples, created,
//! modified` only (bounding box, region and weight stay), and new rows get a one-point
//! bounding box and the region the caller computed.

use std::collections::{BTreeSet, HashMap};

use chrono::NaiveDateTime;
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{Datetime, Double, Nullable, SmallInt, Unsigned};
use diesel_async::{AsyncMysqlConnection, RunQueryDsl};
use ichnaea_core::cellcsv::ImportCell;
use ichnaea_core::pipeline::RegionCode;
use ichnaea_core::pipeline::station::StationRow;
use ichnaea_core::shard::CellShard;
use ichnaea_core::time::DateTime;
use ichnaea_core::{CellAreaId, CellId};

use crate::convert::{StationColumns, StationSqlRow, datetime_to_sql, fit, small_code};
use crate::error::DbError;
use crate::retry::retry_transaction;
use crate::shards::{StationTable, TableLayout, station_columns, with_cell_table, with_mac_table};

/// Rows per import statement (a cell row binds 21 values; MySQL allows 65 535).
pub const IMPORT_ROWS_PER_STATEMENT: usize = 1000;

/// Which rows a paged read returns.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PageFilter {
    /// Only rows with a position (`lat` and `lon` not NULL).
    pub positioned: bool,
    /// Only rows with `modified >= this`.
    pub modified_from: Option<DateTime>,
    /// Only rows with `modified < this`.
    pub modified_before: Option<DateTime>,
    /// Only rows inside `(max_lat, min_lat, max_lon, min_lon)`, bounds included.
    pub bbox: Option<(f64, f64, f64, f64)>,
}

/// One page of a paged read.
#[derive(Debug, Clone, Default)]
pub struct Page {
    /// The rows, in key order (rows whose key does not decode are left out).
    pub rows: Vec<StationRow>,
    /// The key of the last row read: the cursor of the next page; `None` at the end.
    pub next: Option<Vec<u8>>,
}

fn opt_sql_time(time: Option<DateTime>) -> Result<Option<NaiveDateTime>, DbError> {
    time.map(datetime_to_sql).transpose()
}

/// Reads the page of `table` after the key `after` (from the start when `None`): at most
/// `limit` rows matching `filter`, in primary-key order.
pub async fn page_stations(
    conn: &mut AsyncMysqlConnection,
    table: StationTable,
    after: Option<&[u8]>,
    filter: &PageFilter,
    limit: i64,
) -> Result<Page, DbError> {
    let from = opt_sql_time(filter.modified_from)?;
    let before = opt_sql_time(filter.modified_before)?;
    let after = after.unwrap_or(&[]);
    // The same filters for either key layout; `$t` is the table's schema module.
    macro_rules! filtered {
        ($t:ident, $key:ident) => {{
            let mut query = $t::table.filter($t::$key.gt(after)).into_boxed();
            if filter.positioned {
                query = query.filter($t::lat.is_not_null().and($t::lon.is_not_null()));
            }
            if let Some(from) = from {
                query = query.filter($t::modified.ge(from));
            }
            if let Some(before) = before {
                query = query.filter($t::modified.lt(before));
            }
            if let Some((max_lat, min_lat, max_lon, min_lon)) = filter.bbox {
                query = query
                    .filter($t::lat.le(max_lat))
                    .filter($t::lat.ge(min_lat))
                    .filter($t::lon.le(max_lon))
                    .filter($t::lon.ge(min_lon));
            }
            query.order($t::$key.asc()).limit(limit)
        }};
    }
    let rows: Vec<StationSqlRow> = match table.layout() {
        TableLayout::Mac(mac_table) => with_mac_table!(mac_table, t => {
            let rows: Vec<(Vec<u8>, StationColumns)> = filtered!(t, mac)
                .select((t::mac, station_columns!(t)))
                .load(conn)
                .await?;
            Ok::<_, DbError>(
                rows.into_iter()
                    .map(|(id, columns)| StationSqlRow { id, psc: None, columns })
                    .collect(),
            )
        })?,
        TableLayout::Cell(shard) => with_cell_table!(shard, t, _Lac, _Cid => {
            let rows: Vec<(Vec<u8>, Option<i16>, StationColumns)> = filtered!(t, cellid)
                .select((t::cellid, t::psc, station_columns!(t)))
                .load(conn)
                .await?;
            Ok::<_, DbError>(
                rows.into_iter()
                    .map(|(id, psc, columns)| StationSqlRow { id, psc, columns })
                    .collect(),
            )
        })?,
    };
    let next = rows.last().map(|r| r.id.clone());
    let kind = table.kind();
    Ok(Page {
        rows: rows.iter().filter_map(|r| r.to_station_row(kind)).collect(),
        next,
    })
}

/// A parsed import row with the region of its position (used for new stations only).
#[derive(Debug, Clone, PartialEq)]
pub struct CellImportRow {
    /// The row.
    pub cell: ImportCell,
    /// Its region, if any.
    pub region: Option<RegionCode>,
}

/// What an import call did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportOutcome {
    /// Stations created.
    pub new: u64,
    /// Existing stations overwritten by a newer row.
    pub updated: u64,
    /// Rows that changed nothing (the station is as new or newer).
    pub unchanged: u64,
    /// The areas of the new and updated stations, to be recomputed.
    pub areas: BTreeSet<CellAreaId>,
}

/// The guarded update of one column (see the module documentation).
fn guarded(column: &str) -> String {
    format!(
        "IF(`modified` IS NULL OR `modified` < VALUES(`modified`), VALUES(`{column}`), `{column}`)"
    )
}

/// Imports rows of the cell table `shard` in one transaction (see the module
/// documentation). Every row must be of `shard`'s radio. A cell given twice keeps the
/// newer row.
pub async fn import_cells(
    conn: &mut AsyncMysqlConnection,
    shard: CellShard,
    rows: &[CellImportRow],
) -> Result<ImportOutcome, DbError> {
    if rows.iter().any(|r| r.cell.id.radio() != shard.radio()) {
        return Err(DbError::invalid("an import row of another radio"));
    }
    // The newest row of each cell, in first-appearance order.
    let mut index: HashMap<CellId, usize> = HashMap::with_capacity(rows.len());
    let mut unique: Vec<&CellImportRow> = Vec::with_capacity(rows.len());
    let mut duplicates = 0u64;
    for row in rows {
        match index.get(&row.cell.id) {
            Some(&i) => {
                duplicates += 1;
                if unique[i].cell.modified < row.cell.modified {
                    unique[i] = row;
                }
            }
            None => {
                index.insert(row.cell.id, unique.len());
                unique.push(row);
            }
        }
    }
    if unique.is_empty() {
        return Ok(ImportOutcome::default());
    }
    let unique = &unique;
    let mut outcome = retry_transaction!(conn, async |c| {
        let mut outcome = ImportOutcome::default();
        for chunk in unique.chunks(IMPORT_ROWS_PER_STATEMENT) {
            import_chunk(c, shard, chunk, &mut outcome).await?;
        }
        Ok(outcome)
    })?
    .value;
    outcome.unchanged += duplicates;
    Ok(outcome)
}

async fn import_chunk(
    conn: &mut AsyncMysqlConnection,
    shard: CellShard,
    rows: &[&CellImportRow],
    outcome: &mut ImportOutcome,
) -> Result<(), DbError> {
    let ids: Vec<Vec<u8>> = rows.iter().map(|r| r.cell.id.to_bytes()).collect();
    let existing: HashMap<Vec<u8>, Option<NaiveDateTime>> =
        with_cell_table!(shard, t, _Lac, _Cid => {
            t::table
                .filter(t::cellid.eq_any(&ids))
                .select((t::cellid, t::modified))
                .load::<(Vec<u8>, Option<NaiveDateTime>)>(conn)
                .await
        })?
        .into_iter()
        .collect();
    let mut modified = Vec::with_capacity(rows.len());
    let mut created = Vec::with_capacity(rows.len());
    for (row, id) in rows.iter().zip(&ids) {
        let new_modified = datetime_to_sql(row.cell.modified)?;
        modified.push(new_modified);
        created.push(opt_sql_time(row.cell.created)?);
        match existing.get(id) {
            None => outcome.new += 1,
            Some(old) if old.is_none_or(|old| old < new_modified) => outcome.updated += 1,
            Some(_) => {
                outcome.unchanged += 1;
                continue;
            }
        }
        outcome.areas.insert(row.cell.id.area());
    }
    with_cell_table!(shard, t, Lac, Cid => {
        let mut values = Vec::with_capacity(rows.len());
        for (i, (row, id)) in rows.iter().zip(&ids).enumerate() {
            let cell = &row.cell;
            let region = row.region.as_ref().map(RegionCode::as_str);
            values.push((
                (
                    t::cellid.eq(id),
                    t::radio.eq(cell.id.radio().code()),
                    t::mcc.eq(small_code("mcc", cell.id.mcc())?),
                    t::mnc.eq(small_code("mnc", cell.id.mnc())?),
                    t::lac.eq(fit::<Lac>("lac", u64::from(cell.id.lac()))?),
                    t::cid.eq(fit::<Cid>("cid", cell.id.cid())?),
                    t::psc.eq(cell.psc),
                    t::lat.eq(cell.lat),
                    t::lon.eq(cell.lon),
                    t::max_lat.eq(cell.lat),
                    t::min_lat.eq(cell.lat),
                    t::max_lon.eq(cell.lon),
                    t::min_lon.eq(cell.lon),
                ),
                (
                    t::created.eq(created[i]),
                    t::modified.eq(modified[i]),
                    t::radius.eq(cell.radius),
                    t::region.eq(region),
                    t::samples.eq(cell.samples),
                ),
            ));
        }
        diesel::insert_into(t::table)
            .values(values)
            .on_conflict(diesel::dsl::DuplicatedKeys)
            .do_update()
            .set((
                t::psc.eq(sql::<Nullable<SmallInt>>(&guarded("psc"))),
                t::lat.eq(sql::<Nullable<Double>>(&guarded("lat"))),
                t::lon.eq(sql::<Nullable<Double>>(&guarded("lon"))),
                t::radius.eq(sql::<Nullable<Unsigned<diesel::sql_types::Integer>>>(&guarded("radius"))),
                t::samples.eq(sql::<Nullable<Unsigned<diesel::sql_types::Integer>>>(&guarded("samples"))),
                t::created.eq(sql::<Nullable<Datetime>>(&guarded("created"))),
                // Last: the guards above compare against the old value.
                t::modified.eq(sql::<Nullable<Datetime>>(&guarded("modified"))),
            ))
            .execute(conn)
            .await
            .map(|_| ())
            .map_err(DbError::from)
    })
}

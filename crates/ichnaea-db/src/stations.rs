//! Station tables: the locate reads and the station updater's batch writes.
//!
//! # Locate reads (read pool)
//!
//! [`load_wifi_stations`], [`load_blue_stations`] and [`load_cell_stations`] fetch the rows
//! of a query's networks: one `SELECT … WHERE <key> IN (…)` per shard table touched, on the
//! primary key, as a prepared statement reused across requests (`crate::in_list`). Only
//! rows with a position are returned (`api.md` §8.4): a blocked station has none. Whether
//! a positioned station is *currently* blocked depends on "today", so that rule stays with
//! the locate algorithm (`Station::is_usable` in ichnaea-core), which applies it however
//! the rows were fetched.
//!
//! # Batch writes (write pool)
//!
//! [`apply_station_batch`] persists one dequeued batch of one shard (`pipeline.md`
//! §5.1–§5.10), in **one** transaction:
//!
//! 1. claim the batch marker (`crate::markers`): a replay writes nothing;
//! 2. lock the batch's existing rows, `SELECT … WHERE <key> IN (<all keys>) FOR UPDATE`
//!    (§5.2). The lock makes the read-modify-write safe: observations merge into the row
//!    as committed by any concurrent batch, never into a stale copy. Locking reads also
//!    take gap locks on the missing keys, so two batches creating the same new station
//!    serialise (one of them deadlocks and is retried, then sees the other's row);
//! 3. run the pure [`StationBatch::apply`] with the caller's `now` and region lookup;
//! 4. write what it returns: `new` rows in one multi-row `INSERT IGNORE`, `new_block` rows
//!    in a second, the full updates (block, change, replace) in one multi-row
//!    `INSERT … ON DUPLICATE KEY UPDATE` of the locked rows, then the `last_seen`-only
//!    confirms, one `UPDATE` per day (§5.9). A batch is a handful of statements whatever
//!    its size, never one round trip per station.
//!
//! Before the transaction, the batch takes its table's named lock (`crate::shard_lock`),
//! so batches of one table never run concurrently in different workers; if another batch
//! holds it, [`apply_station_batch`] returns a [`DbError::is_busy`] error at once, having
//! done nothing, and the caller tries again.
//!
//! The whole transaction runs under the lock-retry policy (`crate::retry`): a deadlock or
//! lock wait timeout rolls everything back, marker included, and the next attempt starts
//! again from step 1 with fresh rows. The caller does the post-commit work (area queue,
//! stat counters, metrics) from the returned [`BatchOutcome`], only for
//! [`BatchStatus::Applied`].
//!
//! Nothing here logs station ids or positions.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use diesel::prelude::*;
use diesel_async::{AsyncMysqlConnection, RunQueryDsl, SimpleAsyncConnection};
use ichnaea_core::locate::station::{CellStation, MacStation};
use ichnaea_core::pipeline::batch::{BatchOutcome, StationBatch};
use ichnaea_core::pipeline::region::RegionLookup;
use ichnaea_core::pipeline::station::{StationKey, StationRow};
use ichnaea_core::shard::{BlueShard, CellShard, WifiShard};
use ichnaea_core::time::{Date, DateTime};
use ichnaea_core::{CellId, Mac};

use crate::convert::{
    StationColumns, StationSqlRow, date_to_sql, fit, small_code, station_key_to_sql,
};
use crate::error::DbError;
use crate::in_list::InList;
use crate::markers::{self, BatchMarker};
use crate::retry::{BatchStatus, Retried, retry_transaction};
use crate::shard_lock;
use crate::shards::{
    MacTable, StationShard, StationTable, TableLayout, station_columns, with_cell_table,
    with_mac_table,
};
use crate::sql_text::{STATION_COLUMNS, SqlText, push_columns};

/// Rows per written statement: 1 000 rows are about 350 KB of SQL text, far below the
/// default `max_allowed_packet`. Larger batches take several statements.
const MAX_ROWS_PER_STATEMENT: usize = 1000;

/// Keys per `IN` list of a locking read or a confirm: a power of two, so the padded list
/// (`crate::in_list`) has exactly this many placeholders, and below MariaDB's
/// `in_predicate_conversion_threshold` (1 000), above which the server turns the list
/// into a derived table that it materialises and scans for every statement.
const MAX_KEYS_PER_IN_LIST: usize = 512;

/// Loads the positioned WiFi access points among `macs` (locate, `api.md` §8.4).
pub async fn load_wifi_stations(
    conn: &mut AsyncMysqlConnection,
    macs: &[Mac],
) -> Result<Vec<MacStation>, DbError> {
    load_mac_stations(conn, macs, |mac| MacTable::Wifi(WifiShard::for_mac(mac))).await
}

/// Loads the positioned Bluetooth beacons among `macs` (locate, `api.md` §8.4).
pub async fn load_blue_stations(
    conn: &mut AsyncMysqlConnection,
    macs: &[Mac],
) -> Result<Vec<MacStation>, DbError> {
    load_mac_stations(conn, macs, |mac| MacTable::Blue(BlueShard::for_mac(mac))).await
}

async fn load_mac_stations(
    conn: &mut AsyncMysqlConnection,
    macs: &[Mac],
    table_of: impl Fn(&Mac) -> MacTable,
) -> Result<Vec<MacStation>, DbError> {
    let mut by_table: BTreeMap<MacTable, BTreeSet<Mac>> = BTreeMap::new();
    for mac in macs {
        by_table.entry(table_of(mac)).or_default().insert(*mac);
    }
    let mut out = Vec::new();
    for (table, macs) in by_table {
        let ids = macs.iter().map(|m| m.as_bytes().to_vec());
        let rows: Vec<(Vec<u8>, StationColumns)> = with_mac_table!(table, t => {
            Ok::<_, DbError>(
                t::table
                    .filter(InList::new(t::mac, ids))
                    .filter(t::lat.is_not_null())
                    .filter(t::lon.is_not_null())
                    .select((t::mac, station_columns!(t)))
                    .load(conn)
                    .await?,
            )
        })?;
        out.extend(rows.into_iter().filter_map(|(id, columns)| {
            StationSqlRow {
                id,
                psc: None,
                columns,
            }
            .to_mac_station()
        }));
    }
    Ok(out)
}

/// Loads the positioned cells among `cells`, one query per radio table (locate,
/// `api.md` §8.4).
pub async fn load_cell_stations(
    conn: &mut AsyncMysqlConnection,
    cells: &[CellId],
) -> Result<Vec<CellStation>, DbError> {
    let mut by_table: BTreeMap<CellShard, BTreeSet<CellId>> = BTreeMap::new();
    for cell in cells {
        by_table
            .entry(CellShard::for_radio(cell.radio()))
            .or_default()
            .insert(*cell);
    }
    let mut out = Vec::new();
    for (shard, cells) in by_table {
        let ids = cells.iter().map(CellId::to_bytes);
        let rows: Vec<(Vec<u8>, StationColumns)> = with_cell_table!(shard, t, _Lac, _Cid => {
            Ok::<_, DbError>(
                t::table
                    .filter(InList::new(t::cellid, ids))
                    .filter(t::lat.is_not_null())
                    .filter(t::lon.is_not_null())
                    .select((t::cellid, station_columns!(t)))
                    .load(conn)
                    .await?,
            )
        })?;
        out.extend(rows.into_iter().filter_map(|(id, columns)| {
            StationSqlRow {
                id,
                psc: None,
                columns,
            }
            .to_cell_station()
        }));
    }
    Ok(out)
}

/// Loads the rows of `keys` from one station table, positioned or not (keys of other
/// tables are an error). Rows whose id does not decode are skipped.
pub async fn load_station_rows(
    conn: &mut AsyncMysqlConnection,
    table: StationTable,
    keys: &[StationKey],
) -> Result<HashMap<StationKey, StationRow>, DbError> {
    check_keys(table, keys.iter())?;
    select_rows(conn, table, keys, false).await
}

/// Inserts complete station rows into one table with `INSERT IGNORE` (existing keys are
/// left alone); returns how many rows were inserted. For imports and test fixtures.
pub async fn insert_station_rows(
    conn: &mut AsyncMysqlConnection,
    table: StationTable,
    rows: &[StationRow],
) -> Result<usize, DbError> {
    check_keys(table, rows.iter().map(|r| &r.key))?;
    let rows: Vec<&StationRow> = rows.iter().collect();
    insert_rows(conn, table, &rows).await
}

/// Applies one dequeued batch of observations to its shard table, exactly once per
/// `marker`, in one lock-retried transaction (see the module documentation).
///
/// Every station of the batch must belong to `shard`'s table, else nothing is written
/// and an [`DbError::is_invalid`] error is returned. An empty batch touches nothing (no
/// marker either, as the reference does no database work for it); callers normally
/// skip it before calling. While another batch of the same table runs (in any worker),
/// the call returns a [`DbError::is_busy`] error without doing anything. `regions` must
/// be `Sync` because the transaction's future holds it across awaits.
pub async fn apply_station_batch<S: StationShard>(
    conn: &mut AsyncMysqlConnection,
    shard: S,
    marker: &BatchMarker,
    batch: &StationBatch<S::Observation>,
    now: DateTime,
    regions: &(dyn RegionLookup + Sync),
) -> Result<Retried<BatchStatus<BatchOutcome>>, DbError> {
    let table = shard.table();
    let keys = batch.keys();
    check_keys(table, keys.iter())?;
    if batch.is_empty() {
        return Ok(Retried {
            value: BatchStatus::Applied(batch.apply(&HashMap::new(), now, regions)),
            lock_failures: Vec::new(),
        });
    }
    let keys = &keys;
    shard_lock::try_acquire(conn, table.name()).await?;
    let result = retry_transaction!(conn, async |c| {
        apply_attempt(c, table, marker, batch, keys, now, regions).await
    });
    let released = shard_lock::release(conn).await;
    let result = result?;
    released?;
    Ok(result)
}

/// One attempt of [`apply_station_batch`], inside its transaction.
async fn apply_attempt<O>(
    conn: &mut AsyncMysqlConnection,
    table: StationTable,
    marker: &BatchMarker,
    batch: &StationBatch<O>,
    keys: &[StationKey],
    now: DateTime,
    regions: &(dyn RegionLookup + Sync),
) -> Result<BatchStatus<BatchOutcome>, DbError>
where
    O: ichnaea_core::pipeline::observation::StationObservation,
{
    if !markers::claim(conn, Some(marker), now).await? {
        return Ok(BatchStatus::AlreadyProcessed);
    }
    let rows = select_rows(conn, table, keys, true).await?;
    let outcome = batch.apply(&rows, now, regions);

    for (label, rows) in [
        ("new", outcome.new_rows()),
        ("new_block", outcome.new_block_rows()),
    ] {
        if rows.is_empty() {
            continue;
        }
        let inserted = insert_rows(conn, table, &rows).await?;
        if inserted < rows.len() {
            tracing::warn!(
                table = table.name(),
                transition = label,
                ignored = rows.len() - inserted,
                "station insert ignored existing rows"
            );
        }
    }
    let updates = outcome.full_update_rows();
    if !updates.is_empty() {
        upsert_rows(conn, table, &updates).await?;
    }
    let mut confirms: BTreeMap<Date, Vec<Vec<u8>>> = BTreeMap::new();
    for (key, day) in outcome.confirms() {
        confirms
            .entry(day)
            .or_default()
            .push(station_key_to_sql(&key));
    }
    for (day, ids) in confirms {
        for chunk in ids.chunks(MAX_KEYS_PER_IN_LIST) {
            confirm_rows(conn, table, chunk, day).await?;
        }
    }
    Ok(BatchStatus::Applied(outcome))
}

fn check_keys<'k>(
    table: StationTable,
    mut keys: impl Iterator<Item = &'k StationKey>,
) -> Result<(), DbError> {
    if keys.all(|key| table.holds(key)) {
        Ok(())
    } else {
        Err(DbError::invalid(format!(
            "a station does not belong to table {}",
            table.name()
        )))
    }
}

/// Loads the rows of `keys`; with `lock`, `SELECT … FOR UPDATE`.
async fn select_rows(
    conn: &mut AsyncMysqlConnection,
    table: StationTable,
    keys: &[StationKey],
    lock: bool,
) -> Result<HashMap<StationKey, StationRow>, DbError> {
    let mut out = HashMap::with_capacity(keys.len());
    for chunk in keys.chunks(MAX_KEYS_PER_IN_LIST) {
        out.extend(select_chunk(conn, table, chunk, lock).await?);
    }
    Ok(out)
}

async fn select_chunk(
    conn: &mut AsyncMysqlConnection,
    table: StationTable,
    keys: &[StationKey],
    lock: bool,
) -> Result<HashMap<StationKey, StationRow>, DbError> {
    let ids: Vec<Vec<u8>> = keys.iter().map(station_key_to_sql).collect();
    let rows: Vec<StationSqlRow> = match table.layout() {
        TableLayout::Mac(mac_table) => with_mac_table!(mac_table, t => {
            let query = t::table
                .filter(InList::new(t::mac, ids))
                .select((t::mac, station_columns!(t)));
            let rows: Vec<(Vec<u8>, StationColumns)> = if lock {
                query.for_update().load(conn).await?
            } else {
                query.load(conn).await?
            };
            Ok::<_, DbError>(
                rows.into_iter()
                    .map(|(id, columns)| StationSqlRow { id, psc: None, columns })
                    .collect(),
            )
        })?,
        TableLayout::Cell(shard) => with_cell_table!(shard, t, _Lac, _Cid => {
            let query = t::table
                .filter(InList::new(t::cellid, ids))
                .select((t::cellid, t::psc, station_columns!(t)));
            let rows: Vec<(Vec<u8>, Option<i16>, StationColumns)> = if lock {
                query.for_update().load(conn).await?
            } else {
                query.load(conn).await?
            };
            Ok::<_, DbError>(
                rows.into_iter()
                    .map(|(id, psc, columns)| StationSqlRow { id, psc, columns })
                    .collect(),
            )
        })?,
    };
    let kind = table.kind();
    Ok(rows
        .iter()
        .filter_map(|row| row.to_station_row(kind))
        .map(|row| (row.key, row))
        .collect())
}

/// How [`write_chunk`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WriteMode {
    /// New rows: `INSERT IGNORE`, so a row that appeared meanwhile is kept.
    InsertIgnore,
    /// Full updates of locked rows (block, change, replace): every column but the key
    /// and `created` is overwritten, through `ON DUPLICATE KEY UPDATE`, so that a whole
    /// batch of updates is one statement instead of one round trip per row.
    Upsert,
}

/// `INSERT IGNORE` of whole rows in multi-row statements; returns the rows inserted.
async fn insert_rows(
    conn: &mut AsyncMysqlConnection,
    table: StationTable,
    rows: &[&StationRow],
) -> Result<usize, DbError> {
    let mut inserted = 0;
    for chunk in rows.chunks(MAX_ROWS_PER_STATEMENT) {
        write_chunk(conn, table, chunk, WriteMode::InsertIgnore).await?;
        let count: i64 =
            diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>("ROW_COUNT()"))
                .get_result(conn)
                .await?;
        inserted += usize::try_from(count).unwrap_or(0);
    }
    Ok(inserted)
}

/// Full updates of locked rows in multi-row statements ([`WriteMode::Upsert`]).
async fn upsert_rows(
    conn: &mut AsyncMysqlConnection,
    table: StationTable,
    rows: &[&StationRow],
) -> Result<(), DbError> {
    for chunk in rows.chunks(MAX_ROWS_PER_STATEMENT) {
        write_chunk(conn, table, chunk, WriteMode::Upsert).await?;
    }
    Ok(())
}

/// Renders and runs one multi-row statement (as SQL text, see `crate::sql_text`).
async fn write_chunk(
    conn: &mut AsyncMysqlConnection,
    table: StationTable,
    rows: &[&StationRow],
    mode: WriteMode,
) -> Result<(), DbError> {
    const CELL_KEY: [&str; 7] = ["cellid", "radio", "mcc", "mnc", "lac", "cid", "psc"];
    const MAC_KEY: [&str; 1] = ["mac"];
    let cell_table = match table.layout() {
        TableLayout::Cell(shard) => Some(shard),
        TableLayout::Mac(_) => None,
    };
    let key_columns: &[&str] = if cell_table.is_some() {
        &CELL_KEY
    } else {
        &MAC_KEY
    };
    let mut sql = SqlText::with_capacity(512 + rows.len() * 360);
    sql.sql(match mode {
        WriteMode::InsertIgnore => "INSERT IGNORE INTO ",
        WriteMode::Upsert => "INSERT INTO ",
    })
    .ident(table.name())
    .sql(" (");
    for (i, name) in key_columns.iter().chain(&STATION_COLUMNS).enumerate() {
        sql.sql(if i == 0 { "" } else { "," }).ident(name);
    }
    sql.sql(") VALUES ");
    for (i, row) in rows.iter().enumerate() {
        let r = StationSqlRow::from_station_row(row)?;
        sql.sql(if i == 0 { "(" } else { ",(" })
            .bytes(&r.id)
            .sql(",");
        if let Some(shard) = cell_table {
            let Some(cell) = row.key.cell() else {
                return Err(DbError::invalid("a MAC station cannot go to a cell table"));
            };
            // The reference's tables have 16-bit area codes and 32-bit cell ids.
            let (lac, cid) = if shard.radio() == ichnaea_core::Radio::Nr {
                (u64::from(cell.lac()), cell.cid())
            } else {
                (
                    u64::from(fit::<u16>("lac", u64::from(cell.lac()))?),
                    u64::from(fit::<u32>("cid", cell.cid())?),
                )
            };
            sql.int(Some(cell.radio().code()))
                .sql(",")
                .int(Some(small_code("mcc", cell.mcc())?))
                .sql(",")
                .int(Some(small_code("mnc", cell.mnc())?))
                .sql(",")
                .int(Some(lac))
                .sql(",")
                .int(Some(cid))
                .sql(",")
                .int(r.psc)
                .sql(",");
        }
        push_columns(&mut sql, &r.columns)?;
        sql.sql(")");
    }
    if mode == WriteMode::Upsert {
        // Every column but the key and `created` takes the proposed value (`VALUES()` is
        // what both MariaDB and MySQL 8 accept here).
        sql.sql(" ON DUPLICATE KEY UPDATE ");
        let psc: &[&str] = if cell_table.is_some() { &["psc"] } else { &[] };
        let updated = psc
            .iter()
            .chain(STATION_COLUMNS.iter().filter(|c| **c != "created"));
        for (i, name) in updated.enumerate() {
            sql.sql(if i == 0 { "" } else { "," })
                .ident(name)
                .sql("=VALUES(")
                .ident(name)
                .sql(")");
        }
    }
    conn.batch_execute(sql.as_str()).await?;
    Ok(())
}

/// The confirm `UPDATE`: `last_seen = day` for every id, in one statement.
async fn confirm_rows(
    conn: &mut AsyncMysqlConnection,
    table: StationTable,
    ids: &[Vec<u8>],
    day: Date,
) -> Result<(), DbError> {
    let day = date_to_sql(day)?;
    match table.layout() {
        TableLayout::Mac(mac_table) => with_mac_table!(mac_table, t => {
            diesel::update(t::table.filter(InList::new(t::mac, ids.iter().cloned())))
                .set(t::last_seen.eq(day))
                .execute(conn)
                .await?;
            Ok(())
        }),
        TableLayout::Cell(shard) => with_cell_table!(shard, t, _Lac, _Cid => {
            diesel::update(t::table.filter(InList::new(t::cellid, ids.iter().cloned())))
                .set(t::last_seen.eq(day))
                .execute(conn)
                .await?;
            Ok(())
        }),
    }
}

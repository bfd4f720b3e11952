//! The `stat` and `region_stat` tables (`pipeline.md` §8).
//!
//! # Stat counters → `stat`
//!
//! Station updaters only `INCRBY` daily Redis counters; [`fold_stat_counters`] moves their
//! values into the `stat` running totals. The caller reads the counters (for each
//! [`STAT_KEY_ORDER`](ichnaea_core::pipeline::stats::STAT_KEY_ORDER) key, yesterday then
//! today), passes them here, and after the commit applies the returned decrements
//! (`DECRBY` + `EXPIRE`). Folding is not idempotent: a fold repeated before its `DECRBY`
//! counts twice. Passing a [`BatchMarker`] makes the database half exactly-once (a
//! replay writes nothing and returns [`BatchStatus::AlreadyProcessed`]); the caller must
//! then still make sure its decrement happened.
//!
//! Per counter, inside one transaction: lock the `(key, day)` row if it exists
//! (`SELECT … FOR UPDATE`), read the most recent earlier total, let the pure
//! [`fold_stat_counter`] decide, then `UPDATE value = value + n` or `INSERT … ON
//! DUPLICATE KEY UPDATE value = value + n`.
//!
//! # Region statistics
//!
//! [`update_region_stats`] recomputes `region_stat` from scratch (idempotent): it gathers
//! the counts in a `READ COMMITTED` transaction — `SUM(num_cells)` of `cell_area` per
//! region and radio (including the `nr` column) and `COUNT(*)` per region of each of the
//! 32 WiFi and Bluetooth shards — so the long scans neither see a stale snapshot nor hold
//! gap locks, then writes the differences in a second, short transaction.

use std::collections::BTreeMap;

use diesel::dsl::{AsExprOf, count_star, sum};
use diesel::expression::{SqlLiteral, UncheckedBind};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Unsigned};
use diesel_async::{AsyncConnection, AsyncMysqlConnection, RunQueryDsl, SimpleAsyncConnection};
use ichnaea_core::pipeline::region::RegionCode;
use ichnaea_core::pipeline::stats::{
    RegionStatCounts, RegionStatPlan, RegionStatRow, StatWrite, fold_stat_counter,
    plan_region_stats, region_stats, stat_cleanup_cutoff,
};
use ichnaea_core::shard::{BlueShard, WifiShard};
use ichnaea_core::time::{Date, DateTime};
use ichnaea_core::{Radio, StatKey};

use crate::convert::{date_from_sql, date_to_sql};
use crate::error::DbError;
use crate::markers::{self, BatchMarker};
use crate::retry::{BatchStatus, Retried, retry_transaction};
use crate::schema::{cell_area, region_stat, stat};
use crate::shards::{MacTable, with_mac_table};

/// A daily counter value: read from Redis and passed to [`fold_stat_counters`], or a
/// decrement it returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatCounter {
    /// The statistic.
    pub key: StatKey,
    /// The day of the counter.
    pub day: Date,
    /// The counter value (or the amount to `DECRBY`).
    pub value: i64,
}

/// Folds counter values into the `stat` totals, in the given order, in one lock-retried
/// transaction (exactly once per `marker` if one is given). Returns the decrements to
/// apply to the Redis counters after the commit.
pub async fn fold_stat_counters(
    conn: &mut AsyncMysqlConnection,
    marker: Option<&BatchMarker>,
    counters: &[StatCounter],
    now: DateTime,
) -> Result<Retried<BatchStatus<Vec<StatCounter>>>, DbError> {
    retry_transaction!(conn, async |c| fold_attempt(c, marker, counters, now).await)
}

async fn fold_attempt(
    conn: &mut AsyncMysqlConnection,
    marker: Option<&BatchMarker>,
    counters: &[StatCounter],
    now: DateTime,
) -> Result<BatchStatus<Vec<StatCounter>>, DbError> {
    if !markers::claim(conn, marker, now).await? {
        return Ok(BatchStatus::AlreadyProcessed);
    }
    let mut decrements = Vec::new();
    for counter in counters {
        let code = counter.key.code();
        let day = date_to_sql(counter.day)?;
        let row_exists = stat::table
            .filter(stat::key.eq(code))
            .filter(stat::time.eq(day))
            .select(stat::value)
            .for_update()
            .first::<Option<u64>>(conn)
            .await
            .optional()?
            .is_some();
        let previous_total = if row_exists {
            None
        } else {
            stat::table
                .filter(stat::key.eq(code))
                .filter(stat::time.lt(day))
                .order(stat::time.desc())
                .select(stat::value)
                .first::<Option<u64>>(conn)
                .await
                .optional()?
                .flatten()
        };
        let fold = fold_stat_counter(row_exists, previous_total, counter.value);
        let row = stat::table
            .filter(stat::key.eq(code))
            .filter(stat::time.eq(day));
        match fold.write {
            StatWrite::None => {}
            StatWrite::Add(add) => {
                diesel::update(row)
                    .set(stat::value.eq(value_shifted_by(add)))
                    .execute(conn)
                    .await?;
            }
            StatWrite::Insert { value, add } => {
                diesel::insert_into(stat::table)
                    .values((
                        stat::key.eq(code),
                        stat::time.eq(day),
                        stat::value.eq(Some(value)),
                    ))
                    .on_conflict(diesel::dsl::DuplicatedKeys)
                    .do_update()
                    .set(stat::value.eq(value_shifted_by(add)))
                    .execute(conn)
                    .await?;
            }
        }
        if let Some(value) = fold.decrement {
            decrements.push(StatCounter {
                key: counter.key,
                day: counter.day,
                value,
            });
        }
    }
    Ok(BatchStatus::Applied(decrements))
}

/// The SQL expression type of [`value_shifted_by`].
type ShiftedValue =
    UncheckedBind<SqlLiteral<Nullable<Unsigned<BigInt>>>, AsExprOf<u64, Unsigned<BigInt>>>;

/// `value + n` (or `value - |n|`) on the `stat` row being written.
///
/// diesel's `table!` only derives arithmetic operators for signed column types, so the
/// expression on the unsigned `value` column is a fixed SQL fragment with a bound
/// operand (column text only, never a table name or a value).
fn value_shifted_by(add: i64) -> ShiftedValue {
    let fragment = if add >= 0 { "`value` + " } else { "`value` - " };
    diesel::dsl::sql::<Nullable<Unsigned<BigInt>>>(fragment)
        .bind::<Unsigned<BigInt>, _>(add.unsigned_abs())
}

/// The stored totals of one statistic, oldest first (`NULL` values are skipped).
pub async fn load_stats(
    conn: &mut AsyncMysqlConnection,
    key: StatKey,
) -> Result<Vec<(Date, u64)>, DbError> {
    let rows: Vec<(chrono::NaiveDate, Option<u64>)> = stat::table
        .filter(stat::key.eq(key.code()))
        .order(stat::time.asc())
        .select((stat::time, stat::value))
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(day, value)| Some((date_from_sql(day), value?)))
        .collect())
}

/// `cleanup_stat`: deletes the rows older than two years before `today`; returns how
/// many were deleted.
pub async fn cleanup_stats(conn: &mut AsyncMysqlConnection, today: Date) -> Result<usize, DbError> {
    let cutoff = date_to_sql(stat_cleanup_cutoff(today))?;
    Ok(diesel::delete(stat::table.filter(stat::time.lt(cutoff)))
        .execute(conn)
        .await?)
}

/// Gathers the per-region station counts (`update_statregion` step 1) in a
/// `READ COMMITTED` transaction. Rows without (or with a malformed) region are ignored.
pub async fn gather_region_stats(
    conn: &mut AsyncMysqlConnection,
) -> Result<BTreeMap<RegionCode, RegionStatCounts>, DbError> {
    // Without SESSION/GLOBAL, the level applies to the next transaction only.
    conn.batch_execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
        .await?;
    conn.transaction::<_, DbError, _>(async |c| gather(c).await)
        .await
}

async fn gather(
    conn: &mut AsyncMysqlConnection,
) -> Result<BTreeMap<RegionCode, RegionStatCounts>, DbError> {
    let cells: Vec<(Option<String>, i8, Option<u64>)> = cell_area::table
        .filter(cell_area::region.is_not_null())
        .group_by((cell_area::region, cell_area::radio))
        .select((
            cell_area::region,
            cell_area::radio,
            sum(cell_area::num_cells),
        ))
        .load(conn)
        .await?;
    let mut blue = Vec::new();
    let mut wifi = Vec::new();
    let tables = BlueShard::ALL
        .into_iter()
        .map(MacTable::Blue)
        .chain(WifiShard::ALL.into_iter().map(MacTable::Wifi));
    for table in tables {
        let counts: Vec<(Option<String>, i64)> = with_mac_table!(table, t => {
            Ok::<_, DbError>(
                t::table
                    .filter(t::region.is_not_null())
                    .group_by(t::region)
                    .select((t::region, count_star()))
                    .load(conn)
                    .await?,
            )
        })?;
        let target = match table {
            MacTable::Blue(_) => &mut blue,
            MacTable::Wifi(_) => &mut wifi,
        };
        target.extend(counts.into_iter().map(|(region, n)| {
            (
                region.as_deref().and_then(RegionCode::new),
                u64::try_from(n).unwrap_or(0),
            )
        }));
    }
    let cells = cells.into_iter().filter_map(|(region, radio, n)| {
        Some((
            region.as_deref().and_then(RegionCode::new),
            Radio::from_code(radio)?,
            n.unwrap_or(0),
        ))
    });
    Ok(region_stats(cells, blue, wifi))
}

/// `update_statregion`: recomputes `region_stat`. Returns `None` (and writes nothing)
/// when no station has a region; otherwise the plan that was written, after which the
/// caller deletes the website's cache key
/// ([`STATS_REGIONS_CACHE_KEY`](ichnaea_core::pipeline::stats::STATS_REGIONS_CACHE_KEY)).
pub async fn update_region_stats(
    conn: &mut AsyncMysqlConnection,
) -> Result<Retried<Option<RegionStatPlan>>, DbError> {
    let counts = gather_region_stats(conn).await?;
    if counts.is_empty() {
        return Ok(Retried {
            value: None,
            lock_failures: Vec::new(),
        });
    }
    let counts = &counts;
    retry_transaction!(conn, async |c| write_region_stats(c, counts).await)
}

async fn write_region_stats(
    conn: &mut AsyncMysqlConnection,
    counts: &BTreeMap<RegionCode, RegionStatCounts>,
) -> Result<Option<RegionStatPlan>, DbError> {
    let existing = select_region_stats(conn, true).await?;
    let Some(plan) = plan_region_stats(counts, &existing) else {
        return Ok(None);
    };
    let narrow = |n: u64| u32::try_from(n).unwrap_or(u32::MAX);
    for (region, c) in &plan.upsert {
        let columns = (
            region_stat::gsm.eq(Some(narrow(c.gsm))),
            region_stat::wcdma.eq(Some(narrow(c.wcdma))),
            region_stat::lte.eq(Some(narrow(c.lte))),
            region_stat::nr.eq(Some(narrow(c.nr))),
            region_stat::blue.eq(Some(c.blue)),
            region_stat::wifi.eq(Some(c.wifi)),
        );
        diesel::insert_into(region_stat::table)
            .values((region_stat::region.eq(region.as_str()), columns))
            .on_conflict(diesel::dsl::DuplicatedKeys)
            .do_update()
            .set(columns)
            .execute(conn)
            .await?;
    }
    if !plan.delete.is_empty() {
        let stale: Vec<&str> = plan.delete.iter().map(RegionCode::as_str).collect();
        diesel::delete(region_stat::table.filter(region_stat::region.eq_any(stale)))
            .execute(conn)
            .await?;
    }
    Ok(Some(plan))
}

/// Every `region_stat` row with a valid region code.
pub async fn load_region_stats(
    conn: &mut AsyncMysqlConnection,
) -> Result<BTreeMap<RegionCode, RegionStatRow>, DbError> {
    select_region_stats(conn, false).await
}

type RegionStatSql = (
    String,
    Option<u32>,
    Option<u32>,
    Option<u32>,
    Option<u32>,
    Option<u64>,
    Option<u64>,
);

async fn select_region_stats(
    conn: &mut AsyncMysqlConnection,
    lock: bool,
) -> Result<BTreeMap<RegionCode, RegionStatRow>, DbError> {
    let query = region_stat::table.select((
        region_stat::region,
        region_stat::gsm,
        region_stat::wcdma,
        region_stat::lte,
        region_stat::nr,
        region_stat::blue,
        region_stat::wifi,
    ));
    let rows: Vec<RegionStatSql> = if lock {
        query.for_update().load(conn).await?
    } else {
        query.load(conn).await?
    };
    Ok(rows
        .into_iter()
        .filter_map(|(region, gsm, wcdma, lte, nr, blue, wifi)| {
            Some((
                RegionCode::new(&region)?,
                RegionStatRow {
                    gsm: gsm.map(u64::from),
                    wcdma: wcdma.map(u64::from),
                    lte: lte.map(u64::from),
                    nr: nr.map(u64::from),
                    blue,
                    wifi,
                },
            ))
        })
        .collect())
}

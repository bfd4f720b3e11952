//! Statistics tasks (`pipeline.md` §8): `update_statcounter`, `cleanup_stat`,
//! `update_statregion`, and our `cleanup_batch_markers`.
//!
//! `update_statcounter` moves the daily Redis counters that station updaters increment
//! into the `stat` table's running totals, exactly once even if it is interrupted:
//!
//! 1. the counter values to fold are saved under a pending key named after the run (the
//!    trigger's batch id), or taken from it when a previous delivery of the same run saved
//!    them already;
//! 2. the database fold records the run in the same transaction (a replay writes nothing);
//! 3. the counters are decremented by the saved values and the pending key is deleted in
//!    one atomic step (a replay finds no pending key and decrements nothing).
//!
//! The reference reads, folds and decrements with no such protection.

use ichnaea_core::StatKey;
use ichnaea_core::pipeline::stats::{
    STAT_KEY_ORDER, STATS_REGIONS_CACHE_KEY, stat_counter_key, stat_fold_days,
};
use ichnaea_core::time::Date;
use ichnaea_db::markers::BatchMarker;
use ichnaea_db::stats::StatCounter;
use serde::{Deserialize, Serialize};

use crate::WorkerState;
use crate::tasks::station::now;

/// Lifetime of a daily counter key after each change (2 days).
const COUNTER_TTL: u64 = 172_800;

/// Processed-batch markers older than this many days are deleted.
pub const MARKER_MAX_AGE_DAYS: u32 = 7;

/// KEYS: the pending key, then the counters. ARGV: the TTL, then one amount per counter.
const DECREMENT_ONCE: &str = r#"
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
for i = 2, #KEYS do
  redis.call('DECRBY', KEYS[i], ARGV[i])
  redis.call('EXPIRE', KEYS[i], ARGV[1])
end
redis.call('DEL', KEYS[1])
return 1
"#;

#[derive(Serialize, Deserialize)]
struct Saved {
    key: i8,
    day: i32,
    value: i64,
}

/// `update_statcounter`, for the run identified by `run_id`.
pub async fn update_statcounter(state: &WorkerState, run_id: u64) -> anyhow::Result<()> {
    let today = now().date();
    let pending_key = format!("statcounter:pending:{run_id}");
    let mut redis = state.redis.get().await?;

    // 1. The values of this run: saved earlier, or read now and saved.
    let saved: Option<String> = redis::cmd("GET")
        .arg(&pending_key)
        .query_async(&mut redis)
        .await?;
    let counters: Vec<StatCounter> = match saved {
        Some(json) => serde_json::from_str::<Vec<Saved>>(&json)?
            .into_iter()
            .filter_map(|s| {
                Some(StatCounter {
                    key: StatKey::from_code(s.key)?,
                    day: Date::from_days(s.day),
                    value: s.value,
                })
            })
            .collect(),
        None => {
            let mut counters = Vec::new();
            for key in STAT_KEY_ORDER {
                for day in stat_fold_days(today) {
                    let value: Option<i64> = redis::cmd("GET")
                        .arg(stat_counter_key(key, day))
                        .query_async(&mut redis)
                        .await?;
                    if let Some(value) = value.filter(|v| *v != 0) {
                        counters.push(StatCounter { key, day, value });
                    }
                }
            }
            let json = serde_json::to_string(
                &counters
                    .iter()
                    .map(|c| Saved {
                        key: c.key.code(),
                        day: c.day.days(),
                        value: c.value,
                    })
                    .collect::<Vec<_>>(),
            )?;
            let _: () = redis::cmd("SET")
                .arg(&pending_key)
                .arg(json)
                .arg("EX")
                .arg(COUNTER_TTL)
                .query_async(&mut redis)
                .await?;
            counters
        }
    };

    // 2. Fold into the database, once per run.
    let marker = BatchMarker::new("statcounter", run_id)?;
    {
        let pool = state.db.write()?;
        let mut conn = pool.get().await?;
        ichnaea_db::stats::fold_stat_counters(&mut conn, Some(&marker), &counters, now()).await?;
    }

    // 3. Decrement what was folded, once: only while the pending key exists (one script,
    // so two deliveries of the same run cannot both decrement).
    let script = redis::Script::new(DECREMENT_ONCE);
    let mut invocation = script.prepare_invoke();
    invocation.key(&pending_key).arg(COUNTER_TTL);
    for c in &counters {
        invocation.key(stat_counter_key(c.key, c.day)).arg(c.value);
    }
    let _: i64 = invocation.invoke_async(&mut redis).await?;
    Ok(())
}

/// `cleanup_stat`: deletes `stat` rows older than two years.
pub async fn cleanup_stat(state: &WorkerState) -> anyhow::Result<()> {
    let pool = state.db.write()?;
    let mut conn = pool.get().await?;
    let deleted = ichnaea_db::stats::cleanup_stats(&mut conn, now().date()).await?;
    tracing::info!(deleted, "cleaned up old statistics");
    Ok(())
}

/// `update_statregion`: recomputes `region_stat` and drops the website's cached copy.
pub async fn update_statregion(state: &WorkerState) -> anyhow::Result<()> {
    let pool = state.db.write()?;
    let mut conn = pool.get().await?;
    let result = ichnaea_db::stats::update_region_stats(&mut conn).await?;
    if result.value.is_some() {
        let mut redis = state.redis.get().await?;
        let _: () = redis::cmd("DEL")
            .arg(STATS_REGIONS_CACHE_KEY)
            .query_async(&mut redis)
            .await?;
    }
    Ok(())
}

/// `cleanup_batch_markers`: forgets processed-batch markers older than a week (a batch is
/// redelivered within minutes, so old markers protect nothing).
pub async fn cleanup_batch_markers(state: &WorkerState) -> anyhow::Result<()> {
    let pool = state.db.write()?;
    let mut conn = pool.get().await?;
    let deleted =
        ichnaea_db::markers::cleanup_batch_markers(&mut conn, now(), MARKER_MAX_AGE_DAYS).await?;
    tracing::info!(deleted, "cleaned up processed-batch markers");
    Ok(())
}

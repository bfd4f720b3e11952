//! The monitoring tasks (`pipeline.md` §9): gauges of API key use and queue sizes, and
//! the automated control of the global locate sample rate.
//!
//! * `data.monitor_api_key_limits` (every 10 min): today's request count per API key and
//!   path, from the api's `apilimit:<key>:<path>:<YYYYMMDD>` counters.
//! * `data.monitor_api_users` (every 10 min): unique client IPs per key over 1 and 7 days,
//!   from the api's `apiuser:<type>:<key>:<YYYY-MM-DD>` HyperLogLogs; older ones are
//!   deleted.
//! * `data.monitor_queue_size_and_rate_control` (every minute): the length of every data
//!   queue and of the task queue, the InnoDB undo history length, and one step of the rate
//!   controller (`ichnaea_core::rate_control`), which lowers the locate sample rate when the
//!   station queues back up or stops it while the database cannot purge its history.
//!
//! The Redis key names hold API key text, as the reference's do (they are the api's
//! counters); metric tags carry the key's public label (`apikey::key_label`) instead, and
//! nothing here logs a key. Keys are discovered with `SCAN`, never `KEYS`, which would
//! block Redis for the duration of a full key walk.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{TimeDelta, Utc};
use diesel::QueryableByName;
use diesel::sql_types::BigInt;
use diesel_async::RunQueryDsl;
use ichnaea_core::QueueName;
use ichnaea_core::apikey::key_label;
use ichnaea_core::metrics::MetricName;
use ichnaea_core::rate_control::{self, RawParams, keys};
use ichnaea_runtime::DataQueue;

use crate::WorkerState;

/// Keys per `SCAN` step, as the reference.
const SCAN_COUNT: u64 = 100;
/// Keys per `MGET` / `DEL`.
const CHUNK: usize = 500;

/// The InnoDB undo history length (`pipeline.md` §9.3 step 3).
const HISTORY_QUERY: &str = "SELECT count AS history_length FROM information_schema.innodb_metrics \
     WHERE name = 'trx_rseg_history_len'";

/// Every key matching `pattern`, each once (`SCAN` may return a key twice).
async fn scan<C>(conn: &mut C, pattern: &str) -> anyhow::Result<Vec<String>>
where
    C: redis::aio::ConnectionLike + Send,
{
    let mut found = BTreeSet::new();
    let mut cursor: u64 = 0;
    loop {
        let (next, batch): (u64, Vec<Vec<u8>>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(pattern)
            .arg("COUNT")
            .arg(SCAN_COUNT)
            .query_async(conn)
            .await?;
        found.extend(batch.into_iter().filter_map(|k| String::from_utf8(k).ok()));
        if next == 0 {
            break;
        }
        cursor = next;
    }
    Ok(found.into_iter().collect())
}

/// `(api key, path)` of an `apilimit:<key>:<path>:<date>` key.
fn parse_limit_key(key: &str) -> Option<(&str, &str)> {
    let mut parts = key.split(':');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some("apilimit"), Some(api_key), Some(path), Some(_)) if parts.next().is_none() => {
            Some((api_key, path))
        }
        _ => None,
    }
}

/// `(api type, api key, date)` of an `apiuser:<type>:<key>:<date>` key.
fn parse_user_key(key: &str) -> Option<(&str, &str, &str)> {
    let mut parts = key.split(':');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some("apiuser"), Some(api_type), Some(api_key), Some(day)) if parts.next().is_none() => {
            Some((api_type, api_key, day))
        }
        _ => None,
    }
}

/// `data.monitor_api_key_limits`: gauge `api.limit` per key (label) and path with today's
/// request count. Earlier days' counters are ignored (they expire by themselves).
pub async fn api_key_limits(state: &WorkerState) -> anyhow::Result<()> {
    let today = Utc::now().format("%Y%m%d").to_string();
    let mut conn = state.redis.get().await?;
    let keys = scan(&mut conn, &format!("apilimit:*:{today}")).await?;
    for chunk in keys.chunks(CHUNK) {
        let values: Vec<Option<Vec<u8>>> =
            redis::cmd("MGET").arg(chunk).query_async(&mut conn).await?;
        for (key, value) in chunk.iter().zip(values) {
            let Some((api_key, path)) = parse_limit_key(key) else {
                continue;
            };
            // A counter that expired since the scan, or that is not a count, is skipped.
            let Some(count) = value
                .and_then(|v| String::from_utf8(v).ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
            else {
                continue;
            };
            let label = key_label(api_key);
            state.metrics.gauge(
                MetricName::ApiLimit,
                count,
                &[("key", label.as_str()), ("path", path)],
            );
        }
    }
    Ok(())
}

/// The unique-user counters of one API type and key.
#[derive(Default)]
struct UserKeys {
    today: Vec<String>,
    week: Vec<String>,
}

/// `data.monitor_api_users`: gauges `locate.user` / `submit.user` per key (label) with the
/// number of unique client IPs today (`interval:1d`) and over the last 7 days
/// (`interval:7d`). Counters of older days are deleted.
pub async fn api_users(state: &WorkerState) -> anyhow::Result<()> {
    let today = Utc::now().date_naive();
    let days: Vec<String> = (0..7)
        .map(|i| (today - TimeDelta::days(i)).format("%Y-%m-%d").to_string())
        .collect();
    let mut conn = state.redis.get().await?;
    let mut stale = Vec::new();
    let mut groups: BTreeMap<(String, String), UserKeys> = BTreeMap::new();
    for key in scan(&mut conn, "apiuser:*").await? {
        let Some((api_type, api_key, day)) = parse_user_key(&key) else {
            continue;
        };
        if !days.iter().any(|d| d == day) {
            stale.push(key);
            continue;
        }
        let group = groups
            .entry((api_type.to_owned(), api_key.to_owned()))
            .or_default();
        if day == days[0] {
            group.today.push(key.clone());
        }
        group.week.push(key);
    }
    for chunk in stale.chunks(CHUNK) {
        let _: u64 = redis::cmd("DEL").arg(chunk).query_async(&mut conn).await?;
    }

    let mut pipe = redis::pipe();
    let mut gauges = Vec::new();
    for ((api_type, api_key), users) in &groups {
        // The reference only ever reports these two (`region.user` is documented but
        // never produced).
        let metric = match api_type.as_str() {
            "locate" => MetricName::LocateUser,
            "submit" => MetricName::SubmitUser,
            _ => continue,
        };
        let label = key_label(api_key);
        if !users.today.is_empty() {
            pipe.cmd("PFCOUNT").arg(&users.today);
            gauges.push((metric, label.clone(), "1d"));
        }
        pipe.cmd("PFCOUNT").arg(&users.week);
        gauges.push((metric, label, "7d"));
    }
    if gauges.is_empty() {
        return Ok(());
    }
    let counts: Vec<u64> = pipe.query_async(&mut conn).await?;
    for ((metric, label, interval), count) in gauges.iter().zip(counts) {
        state.metrics.gauge(
            *metric,
            count,
            &[("key", label.as_str()), ("interval", interval)],
        );
    }
    Ok(())
}

/// A queue the monitor reports on, with its metric tags.
struct Monitored {
    queue: QueueName,
    queue_type: &'static str,
    data_type: Option<&'static str>,
}

impl Monitored {
    fn is_backlog(&self) -> bool {
        matches!(self.data_type, Some("bluetooth" | "cell" | "wifi"))
    }
}

/// Every fixed data queue (`queue_type:data`, with its `data_type`) and the task queue
/// (`queue_type:task`). Export queues are not monitored, as in the reference.
fn monitored_queues() -> Vec<Monitored> {
    let mut all: Vec<Monitored> = QueueName::all_fixed()
        .into_iter()
        .map(|queue| Monitored {
            data_type: Some(queue.data_type()),
            queue,
            queue_type: "data",
        })
        .collect();
    all.push(Monitored {
        queue: QueueName::Tasks,
        queue_type: "task",
        data_type: None,
    });
    all
}

/// `data.monitor_queue_size_and_rate_control` (`pipeline.md` §9.3): loads the rate
/// controller parameters (writing defaults and resets), gauges the queue lengths, reads the
/// InnoDB history length, runs the controller when it is enabled, and gauges the rate.
pub async fn queue_size_and_rate_control(state: &WorkerState) -> anyhow::Result<()> {
    // 1. Parameters.
    let loaded = {
        let mut conn = state.redis.get().await?;
        let mut pipe = redis::pipe();
        for key in keys::ALL {
            pipe.cmd("GET").arg(key);
        }
        let values: Vec<Option<Vec<u8>>> = pipe.query_async(&mut conn).await?;
        let raw = RawParams::from_values(
            values
                .into_iter()
                .map(|v| v.map(|b| String::from_utf8_lossy(&b).into_owned()))
                .collect(),
        );
        let loaded = rate_control::load(&raw);
        for invalid in &loaded.invalid {
            tracing::warn!(
                redis.key = invalid.key,
                value = ?invalid.value,
                reset_to = %invalid.reset_to,
                "invalid rate controller parameter; reset"
            );
        }
        if !loaded.writes.is_empty() {
            let mut pipe = redis::pipe();
            for (key, value) in &loaded.writes {
                pipe.cmd("SET").arg(*key).arg(value).ignore();
            }
            let () = pipe.query_async(&mut conn).await?;
        }
        loaded
    };

    // 2. Queue sizes and the backlog.
    let queues = monitored_queues();
    let lengths: Vec<u64> = {
        let mut conn = state.redis.get().await?;
        let mut pipe = redis::pipe();
        for m in &queues {
            pipe.cmd("LLEN").arg(m.queue.key().as_ref());
        }
        pipe.query_async(&mut conn).await?
    };
    let mut backlog: u64 = 0;
    for (m, length) in queues.iter().zip(lengths) {
        let key = m.queue.key();
        let mut tags = vec![("queue", key.as_ref()), ("queue_type", m.queue_type)];
        if let Some(data_type) = m.data_type {
            tags.push(("data_type", data_type));
        }
        state.metrics.gauge(MetricName::Queue, length, &tags);
        if m.is_backlog() {
            backlog = backlog.saturating_add(length);
        }
        // Batches held by consumers and items parked after repeated failures: invisible
        // to LLEN, and the first sign of a stuck or poisoned queue.
        let queue = DataQueue::new(state.redis.clone(), &m.queue);
        state
            .metrics
            .gauge(MetricName::QueueInflight, queue.inflight().await?, &tags);
        state
            .metrics
            .gauge(MetricName::QueueDead, queue.dead().await?, &tags);
    }

    // 3. InnoDB history length.
    let history = history_length(state).await?;
    if let Some(length) = history {
        state
            .metrics
            .gauge(MetricName::TrxHistoryLength, length, &[]);
    }

    // 4. Rate control.
    let mut rate = loaded.rate;
    if let Some(settings) = &loaded.settings {
        let outcome = rate_control::control(settings, backlog, history, wall_clock_seconds());
        rate = outcome.rate;
        let mut pipe = redis::pipe();
        pipe.cmd("SET")
            .arg(keys::RATE)
            .arg(rate_control::rate_text(rate))
            .ignore();
        pipe.cmd("SET")
            .arg(keys::TRX_PURGING)
            .arg(if outcome.purging { "1" } else { "0" })
            .ignore();
        if let Some(saved) = &outcome.state {
            pipe.cmd("SET")
                .arg(keys::STATE)
                .arg(saved.to_json()?)
                .ignore();
        }
        let mut conn = state.redis.get().await?;
        let () = pipe.query_async(&mut conn).await?;
        if rate != loaded.rate || outcome.purging != settings.trx_purging {
            tracing::info!(
                backlog,
                rate,
                purging = outcome.purging,
                "rate controller changed the locate sample rate"
            );
        }

        let m = &state.metrics;
        if history.is_some() {
            m.gauge(MetricName::TrxHistoryMin, settings.trx_min, &[]);
            m.gauge(MetricName::TrxHistoryMax, settings.trx_max, &[]);
            m.gauge(
                MetricName::TrxHistoryPurging,
                u64::from(outcome.purging),
                &[],
            );
        }
        m.gauge(MetricName::RateControlLocateTarget, settings.target, &[]);
        m.gauge_f64(MetricName::RateControlLocateKp, settings.gains.kp, &[]);
        m.gauge_f64(MetricName::RateControlLocateKi, settings.gains.ki, &[]);
        m.gauge_f64(MetricName::RateControlLocateKd, settings.gains.kd, &[]);
        let (p, i, d) = outcome.terms;
        // `+ 0.0` turns a −0 into 0: a leading minus reads as a decrement to some statsd
        // servers.
        m.gauge_f64(MetricName::RateControlLocatePterm, p + 0.0, &[]);
        m.gauge_f64(MetricName::RateControlLocateIterm, i + 0.0, &[]);
        m.gauge_f64(MetricName::RateControlLocateDterm, d + 0.0, &[]);
    }

    // 5. The current rate, manual or controlled.
    state
        .metrics
        .gauge_f64(MetricName::RateControlLocate, rate, &[]);
    Ok(())
}

/// Seconds since the Unix epoch: the controller's persisted time base.
fn wall_clock_seconds() -> f64 {
    Utc::now().timestamp_micros() as f64 / 1e6
}

#[derive(QueryableByName)]
struct HistoryLength {
    #[diesel(sql_type = BigInt)]
    history_length: i64,
}

/// The InnoDB undo history length through the write pool, or `None` when the database
/// user lacks the `PROCESS` privilege (MySQL error 1227), as the reference tolerates.
/// Other errors fail the task.
async fn history_length(state: &WorkerState) -> anyhow::Result<Option<u64>> {
    let mut conn = state.db.write()?.get().await?;
    match diesel::sql_query(HISTORY_QUERY)
        .load::<HistoryLength>(&mut conn)
        .await
    {
        Ok(rows) => Ok(rows
            .into_iter()
            .next()
            .and_then(|r| u64::try_from(r.history_length).ok())),
        Err(diesel::result::Error::DatabaseError(_, info))
            if is_missing_privilege(info.message()) =>
        {
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

/// Whether a server error message is error 1227 (`ER_SPECIFIC_ACCESS_DENIED_ERROR`).
/// diesel-async keeps only the message of a server error, not its number; both MySQL and
/// MariaDB word this one "Access denied; you need (at least one of) the … privilege(s)".
fn is_missing_privilege(message: &str) -> bool {
    message.starts_with("Access denied; you need")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_parsing() {
        assert_eq!(
            parse_limit_key("apilimit:test:v1.geolocate:20240105"),
            Some(("test", "v1.geolocate"))
        );
        assert_eq!(parse_limit_key("apilimit:test:20240105"), None);
        assert_eq!(parse_limit_key("apilimit:a:b:c:d"), None);
        assert_eq!(
            parse_user_key("apiuser:submit:test:2024-01-05"),
            Some(("submit", "test", "2024-01-05"))
        );
        assert_eq!(parse_user_key("apiuser:submit:test"), None);
        assert_eq!(parse_user_key("apilimit:submit:test:2024-01-05"), None);
    }

    #[test]
    fn monitored_queues_cover_data_and_tasks() {
        let queues = monitored_queues();
        assert_eq!(queues.len(), QueueName::all_fixed().len() + 1);
        let backlog: Vec<_> = queues
            .iter()
            .filter(|m| m.is_backlog())
            .map(|m| m.queue.key().into_owned())
            .collect();
        assert_eq!(backlog.len(), 16 + 16 + 4);
        assert!(backlog.contains(&"update_cell_nr".to_owned()));
        let tasks = queues
            .last()
            .map(|m| (m.queue.key(), m.queue_type, m.data_type));
        assert_eq!(tasks, Some(("ichnaea_tasks".into(), "task", None)));
    }

    #[test]
    fn privilege_errors_are_recognised() {
        assert!(is_missing_privilege(
            "Access denied; you need (at least one of) the PROCESS privilege(s) for this operation"
        ));
        assert!(!is_missing_privilege("Table 'x' doesn't exist"));
    }
}

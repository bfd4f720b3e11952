//! Times the worker draining the queues the submit benchmark filled, and checks that
//! every observation arrived.
//!
//! The benchmark starts worker processes (the real binary, with its production batch
//! sizes), polls every data queue until nothing is pending or claimed, and then reads
//! the station tables: the number of stations and the sum of their `samples` must be
//! exactly what was submitted, so a fast but lossy (or double-counting) pipeline fails
//! the benchmark instead of winning it.

use std::time::{Duration, Instant};

use anyhow::Context;
use ichnaea_core::queue::QueueName;
use ichnaea_core::shard::{BlueShard, WifiShard};
use mysql_async::prelude::Queryable;

/// The station counts a workload must produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expected {
    /// WiFi stations and their total samples.
    pub wifi: (u64, u64),
    /// LTE cells and their total samples.
    pub cell: (u64, u64),
    /// Bluetooth beacons and their total samples.
    pub blue: (u64, u64),
}

impl Expected {
    /// Observations in all.
    pub fn observations(&self) -> u64 {
        self.wifi.1 + self.cell.1 + self.blue.1
    }
}

/// Every queue that must be empty before the pipeline is done: the fixed data queues
/// and the internal export's queue.
fn queues() -> Vec<String> {
    let mut keys: Vec<String> = QueueName::all_fixed()
        .iter()
        .map(|q| q.key().into_owned())
        .collect();
    keys.push(
        QueueName::Export {
            name: "internal".into(),
            partition: None,
        }
        .key()
        .into_owned(),
    );
    keys
}

/// Pending, claimed and dead-lettered items over all queues.
async fn backlog(conn: &mut redis::aio::MultiplexedConnection) -> anyhow::Result<(u64, u64, u64)> {
    let mut pipe = redis::pipe();
    let keys = queues();
    for key in &keys {
        pipe.cmd("LLEN").arg(key);
        pipe.cmd("ZCARD").arg(format!("{key}:inflight"));
        pipe.cmd("LLEN").arg(format!("{key}:dead"));
    }
    let counts: Vec<u64> = pipe.query_async(conn).await?;
    let mut sums = (0, 0, 0);
    for chunk in counts.chunks(3) {
        sums.0 += chunk[0];
        sums.1 += chunk[1];
        sums.2 += chunk[2];
    }
    Ok(sums)
}

/// Runs `workers` worker processes until the queues are empty, then stops them and
/// returns the wall time. The workers inherit this process's environment.
pub async fn drain(
    worker_bin: &str,
    workers: usize,
    redis_url: &str,
    log: &std::path::Path,
) -> anyhow::Result<Duration> {
    let client = redis::Client::open(redis_url)?;
    let mut conn = client.get_multiplexed_async_connection().await?;
    let (pending, _, _) = backlog(&mut conn).await?;
    anyhow::ensure!(
        pending > 0,
        "nothing is queued: run the submit benchmark first"
    );
    let log_file = std::fs::File::create(log).context("creating the worker log")?;
    let started = Instant::now();
    let mut children = Vec::new();
    for _ in 0..workers.max(1) {
        children.push(
            tokio::process::Command::new(worker_bin)
                .stdout(log_file.try_clone()?)
                .stderr(log_file.try_clone()?)
                .kill_on_drop(true)
                .spawn()
                .with_context(|| format!("starting {worker_bin}"))?,
        );
    }
    let mut empty_polls = 0;
    let elapsed = loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        for child in &mut children {
            if let Some(status) = child.try_wait()? {
                anyhow::bail!("a worker exited early ({status}); see {}", log.display());
            }
        }
        let (pending, inflight, dead) = backlog(&mut conn).await?;
        anyhow::ensure!(
            dead == 0,
            "{dead} items were dead-lettered; see {}",
            log.display()
        );
        if pending + inflight == 0 {
            empty_polls += 1;
            // Twice in a row: a batch being handed from one queue to the next is never
            // invisible for a whole poll interval.
            if empty_polls == 2 {
                break started.elapsed().saturating_sub(Duration::from_millis(100));
            }
        } else {
            empty_polls = 0;
        }
    };
    for child in &mut children {
        if let Some(pid) = child.id() {
            let _ = tokio::process::Command::new("kill")
                .arg("-TERM")
                .arg(pid.to_string())
                .status()
                .await;
        }
    }
    for child in &mut children {
        let _ = tokio::time::timeout(Duration::from_secs(30), child.wait()).await;
    }
    Ok(elapsed)
}

/// Station counts and sample sums of the WiFi, LTE and Bluetooth tables.
pub async fn station_totals(db_url: &str) -> anyhow::Result<Expected> {
    let pool = mysql_async::Pool::new(db_url);
    let mut conn = pool.get_conn().await?;
    let sum = |tables: Vec<&'static str>| {
        let sql = tables
            .iter()
            .map(|t| format!("SELECT COUNT(*) AS n, COALESCE(SUM(samples), 0) AS s FROM {t}"))
            .collect::<Vec<_>>()
            .join(" UNION ALL ");
        format!("SELECT CAST(SUM(n) AS UNSIGNED), CAST(SUM(s) AS UNSIGNED) FROM ({sql}) AS t")
    };
    let wifi_sql = sum(WifiShard::ALL.iter().map(|s| s.table_name()).collect());
    let blue_sql = sum(BlueShard::ALL.iter().map(|s| s.table_name()).collect());
    let cell_sql = sum(vec!["cell_lte"]);
    let mut one = async |sql: String| -> anyhow::Result<(u64, u64)> {
        let row: Option<(u64, u64)> = conn.query_first(sql).await?;
        row.context("no totals")
    };
    let totals = Expected {
        wifi: one(wifi_sql).await?,
        cell: one(cell_sql).await?,
        blue: one(blue_sql).await?,
    };
    drop(conn);
    pool.disconnect().await?;
    Ok(totals)
}

//! An HTTP load generator for the api: closed loop (as fast as the connections go) or
//! open loop (a fixed request rate).
//!
//! In open-loop mode every request has a scheduled send time, and its latency is
//! measured from that time, not from when a connection became free: when the server
//! falls behind, the queueing shows up in the percentiles instead of silently lowering
//! the rate (no coordinated omission). Any answer other than the expected status is an
//! error, so a benchmark can never report the speed of failing requests.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::json;

use crate::http1::{Connection, Target};

/// What to send and how.
#[derive(Debug, Clone)]
pub struct LoadSpec {
    /// The full request URL (with `?key=`).
    pub url: String,
    /// Request bodies, used in turn.
    pub bodies: Arc<Vec<Bytes>>,
    /// Extra request headers.
    pub headers: Vec<(String, String)>,
    /// Concurrent connections.
    pub connections: usize,
    /// How long to run (ignored with `once`).
    pub duration: Duration,
    /// Requests per second (open loop), or `None` for as fast as possible.
    pub rate: Option<f64>,
    /// Send every body exactly once, then stop (closed loop only).
    pub once: bool,
    /// The status every answer must have.
    pub expect: u16,
}

/// What a run measured.
#[derive(Debug, Clone, Default)]
pub struct LoadReport {
    /// Answers with the expected status.
    pub ok: u64,
    /// Other answers and transport errors, by status (0 = no answer).
    pub failed: BTreeMap<u16, u64>,
    /// Wall time of the run.
    pub elapsed: Duration,
    /// Latency of every request, in microseconds, sorted.
    pub latencies_us: Vec<u64>,
}

impl LoadReport {
    /// Requests per second that got the expected answer.
    pub fn rate(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// A latency percentile in milliseconds (`p` in 0–100).
    pub fn percentile_ms(&self, p: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return 0.0;
        }
        let rank = ((p / 100.0) * (self.latencies_us.len() - 1) as f64).round() as usize;
        self.latencies_us[rank.min(self.latencies_us.len() - 1)] as f64 / 1000.0
    }

    /// Number of failed requests.
    pub fn failures(&self) -> u64 {
        self.failed.values().sum()
    }

    /// The machine-readable summary printed by the commands.
    pub fn to_json(&self, label: &str) -> serde_json::Value {
        json!({
            "label": label,
            "ok": self.ok,
            "failed": self.failures(),
            "failed_by_status": self.failed.iter().map(|(k, v)| (k.to_string(), *v)).collect::<BTreeMap<_, _>>(),
            "seconds": (self.elapsed.as_secs_f64() * 1000.0).round() / 1000.0,
            "req_per_s": self.rate().round(),
            "p50_ms": self.percentile_ms(50.0),
            "p90_ms": self.percentile_ms(90.0),
            "p99_ms": self.percentile_ms(99.0),
            "p999_ms": self.percentile_ms(99.9),
            "max_ms": self.percentile_ms(100.0),
        })
    }
}

#[derive(Default)]
struct Partial {
    ok: u64,
    failed: BTreeMap<u16, u64>,
    latencies_us: Vec<u64>,
}

impl Partial {
    fn merge(&mut self, other: Partial) {
        self.ok += other.ok;
        for (k, v) in other.failed {
            *self.failed.entry(k).or_insert(0) += v;
        }
        self.latencies_us.extend(other.latencies_us);
    }
}

/// Runs the load and reports.
pub async fn run(spec: LoadSpec) -> anyhow::Result<LoadReport> {
    anyhow::ensure!(!spec.bodies.is_empty(), "no request bodies");
    // The request head is rendered once (`crate::http1`): the generator shares the
    // machine with the api, so its own CPU per request counts.
    let target = Arc::new(Target::post(&spec.url, &spec.headers)?);
    let started = Instant::now();
    let total = match spec.rate {
        None => closed_loop(&spec, &target, started).await?,
        Some(rate) => open_loop(&spec, &target, rate, started).await?,
    };
    let elapsed = started.elapsed();
    let mut latencies_us = total.latencies_us;
    latencies_us.sort_unstable();
    Ok(LoadReport {
        ok: total.ok,
        failed: total.failed,
        elapsed,
        latencies_us,
    })
}

async fn send(
    conn: &mut Connection,
    target: &Target,
    spec: &LoadSpec,
    body: &[u8],
    since: Instant,
    into: &mut Partial,
) {
    // A transport error counts as status 0.
    let status = conn.post(target, body).await.unwrap_or(0);
    into.latencies_us
        .push(u64::try_from(since.elapsed().as_micros()).unwrap_or(u64::MAX));
    if status == spec.expect {
        into.ok += 1;
    } else {
        *into.failed.entry(status).or_insert(0) += 1;
    }
}

async fn closed_loop(
    spec: &LoadSpec,
    target: &Arc<Target>,
    started: Instant,
) -> anyhow::Result<Partial> {
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..spec.connections.max(1) {
        let (spec, target, next) = (spec.clone(), target.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut part = Partial::default();
            let mut conn = Connection::default();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if spec.once && i >= spec.bodies.len() {
                    break;
                }
                if !spec.once && started.elapsed() >= spec.duration {
                    break;
                }
                let body = &spec.bodies[i % spec.bodies.len()];
                send(&mut conn, &target, &spec, body, Instant::now(), &mut part).await;
            }
            part
        }));
    }
    let mut total = Partial::default();
    for task in tasks {
        total.merge(task.await?);
    }
    Ok(total)
}

async fn open_loop(
    spec: &LoadSpec,
    target: &Arc<Target>,
    rate: f64,
    started: Instant,
) -> anyhow::Result<Partial> {
    anyhow::ensure!(rate > 0.0, "the rate must be positive");
    let (tx, rx) = job_queue();
    let mut tasks = Vec::new();
    for _ in 0..spec.connections.max(1) {
        let (spec, target, rx) = (spec.clone(), target.clone(), rx.clone());
        tasks.push(tokio::spawn(async move {
            let mut part = Partial::default();
            let mut conn = Connection::default();
            loop {
                let job = rx.lock().await.recv().await;
                let Some((i, scheduled)) = job else { break };
                let body = &spec.bodies[i % spec.bodies.len()];
                send(&mut conn, &target, &spec, body, scheduled, &mut part).await;
            }
            part
        }));
    }
    drop(rx);
    let interval = Duration::from_secs_f64(1.0 / rate);
    let count = (spec.duration.as_secs_f64() * rate) as usize;
    for i in 0..count {
        let scheduled = started + interval.mul_f64(i as f64);
        tokio::time::sleep_until(scheduled.into()).await;
        // An unbounded queue: requests the connections cannot take yet wait, and their
        // wait counts in their latency.
        if tx.send((i, scheduled)).is_err() {
            break;
        }
    }
    drop(tx);
    let mut total = Partial::default();
    for task in tasks {
        total.merge(task.await?);
    }
    Ok(total)
}

type Job = (usize, Instant);
type SharedReceiver = Arc<tokio::sync::Mutex<tokio::sync::mpsc::UnboundedReceiver<Job>>>;

/// An unbounded multi-consumer queue of jobs.
fn job_queue() -> (tokio::sync::mpsc::UnboundedSender<Job>, SharedReceiver) {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    (tx, Arc::new(tokio::sync::Mutex::new(rx)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_come_from_the_sorted_latencies() {
        let report = LoadReport {
            ok: 100,
            failed: BTreeMap::new(),
            elapsed: Duration::from_secs(2),
            latencies_us: (1..=100).map(|i| i * 1000).collect(),
        };
        assert_eq!(report.rate(), 50.0);
        assert_eq!(report.percentile_ms(50.0), 51.0);
        assert_eq!(report.percentile_ms(99.0), 99.0);
        assert_eq!(report.percentile_ms(100.0), 100.0);
        assert_eq!(LoadReport::default().percentile_ms(99.0), 0.0);
    }
}

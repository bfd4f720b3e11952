//! The `load` command: a locate load run with a realistic mix of query kinds.
//!
//! Two modes:
//! * **Open loop** at a target rate: request `i` is *scheduled* at `start + i / rate`,
//!   whatever happened to earlier ones, and its latency is measured from that scheduled
//!   time, not from when it was actually sent. A server that stalls therefore shows the
//!   whole stall in the percentiles instead of silently slowing the client down
//!   (coordinated omission). If more than `max_inflight` requests are outstanding, a
//!   scheduled request is counted as *dropped* (the client is saturated, so the target
//!   rate was not achievable) rather than delayed.
//! * **Max rate**: `concurrency` closed-loop senders, each sending its next request as
//!   soon as the previous answer arrived; latency from send time. This measures peak
//!   throughput, not latency under a given load.
//!
//! Queries are drawn from the dataset's `queries.jsonl` by kind according to the mix, at
//! random from the kind's list (seeded, so runs are repeatable).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use hdrhistogram::Histogram;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::dataset::read_jsonl;
use crate::http::Target;
use crate::query::{Kind, Query};

/// A mix of query kinds with weights.
#[derive(Clone, Debug)]
pub struct Mix(pub Vec<(Kind, f64)>);

impl Mix {
    /// Parses `wifi=60,cell=20,wifi_cell=10,blue=5,ip=5`.
    pub fn parse(s: &str) -> Result<Mix> {
        let mut out = Vec::new();
        for part in s.split(',').filter(|p| !p.trim().is_empty()) {
            let Some((k, w)) = part.split_once('=') else {
                bail!("mix entry {part:?} is not KIND=WEIGHT");
            };
            let Some(kind) = Kind::parse(k.trim()) else {
                bail!("unknown query kind {k:?} (wifi, cell, wifi_cell, blue, ip)");
            };
            let w: f64 = w
                .trim()
                .parse()
                .map_err(|_| anyhow::anyhow!("bad weight in {part:?}"))?;
            if w < 0.0 || !w.is_finite() {
                bail!("bad weight in {part:?}");
            }
            out.push((kind, w));
        }
        if out.iter().map(|(_, w)| w).sum::<f64>() <= 0.0 {
            bail!("the mix has no positive weight");
        }
        Ok(Mix(out))
    }

    fn pick(&self, rng: &mut ChaCha8Rng) -> Kind {
        let total: f64 = self.0.iter().map(|(_, w)| w).sum();
        let mut r = rng.random_range(0.0..total);
        for &(k, w) in &self.0 {
            if r < w {
                return k;
            }
            r -= w;
        }
        self.0.last().map_or(Kind::Wifi, |&(k, _)| k)
    }
}

/// Options of `load`.
#[derive(Clone, Debug)]
pub struct LoadOptions {
    /// Mix of kinds.
    pub mix: Mix,
    /// Target rate (requests per second); `None` for max rate.
    pub rate: Option<f64>,
    /// Length of the run.
    pub duration: Duration,
    /// Closed-loop senders in max-rate mode.
    pub concurrency: usize,
    /// Most requests outstanding in open-loop mode.
    pub max_inflight: usize,
    /// Seed of the query choice.
    pub seed: u64,
}

/// Latency summary of one kind (or all), milliseconds.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Latency {
    /// Requests completed.
    pub count: u64,
    /// Answers 200.
    pub ok: u64,
    /// Answers 404.
    pub not_found: u64,
    /// Other statuses and transport errors.
    pub errors: u64,
    /// Percentiles.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Maximum.
    pub max: f64,
}

/// Results of a load run.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct LoadReport {
    /// `open-loop` or `max-rate`.
    pub mode: String,
    /// Target rate, if open loop.
    pub target_rate: Option<f64>,
    /// Seconds the run lasted (until the last answer).
    pub seconds: f64,
    /// Requests scheduled.
    pub scheduled: u64,
    /// Requests not sent because `max_inflight` were outstanding.
    pub dropped: u64,
    /// Completed requests per second.
    pub throughput: f64,
    /// All kinds together.
    pub total: Latency,
    /// Per kind.
    pub kinds: BTreeMap<String, Latency>,
}

impl LoadReport {
    /// A Markdown table.
    pub fn markdown(&self) -> String {
        let mut s = format!(
            "{} {}: {:.0} req/s completed over {:.1} s, {} scheduled, {} dropped\n\n| kind | requests | 200 | 404 | errors | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms |\n|---|---|---|---|---|---|---|---|---|---|\n",
            self.mode,
            self.target_rate
                .map(|r| format!("at {r:.0} req/s"))
                .unwrap_or_default(),
            self.throughput,
            self.seconds,
            self.scheduled,
            self.dropped
        );
        let row = |name: &str, l: &Latency| {
            format!(
                "| {name} | {} | {} | {} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} |\n",
                l.count, l.ok, l.not_found, l.errors, l.p50, l.p90, l.p99, l.p999, l.max
            )
        };
        for (k, l) in &self.kinds {
            s.push_str(&row(k, l));
        }
        s.push_str(&row("all", &self.total));
        s
    }
}

struct Sample {
    kind: Kind,
    status: u16,
    micros: u64,
}

struct Acc {
    hist: Histogram<u64>,
    lat: Latency,
}

impl Acc {
    /// Microsecond resolution up to ten minutes, three significant digits.
    fn new() -> Result<Acc> {
        Ok(Acc {
            hist: Histogram::new_with_bounds(1, 600_000_000, 3)?,
            lat: Latency::default(),
        })
    }

    fn record(&mut self, s: &Sample) {
        self.hist.saturating_record(s.micros.max(1));
        self.lat.count += 1;
        match s.status {
            200 => self.lat.ok += 1,
            404 => self.lat.not_found += 1,
            _ => self.lat.errors += 1,
        }
    }

    fn finish(mut self) -> Latency {
        if self.lat.count > 0 {
            let h = &self.hist;
            let ms = |v: u64| v as f64 / 1000.0;
            self.lat.p50 = ms(h.value_at_quantile(0.5));
            self.lat.p90 = ms(h.value_at_quantile(0.9));
            self.lat.p99 = ms(h.value_at_quantile(0.99));
            self.lat.p999 = ms(h.value_at_quantile(0.999));
            self.lat.max = ms(h.max());
        }
        self.lat
    }
}

/// Runs a load test with the queries of `queries.jsonl` in `dir`.
pub async fn run(dir: &std::path::Path, target: &Target, opts: &LoadOptions) -> Result<LoadReport> {
    let all: Vec<Query> = read_jsonl(&dir.join("queries.jsonl"))?;
    let mut by: BTreeMap<Kind, Vec<Arc<Query>>> = BTreeMap::new();
    for q in all {
        by.entry(q.kind).or_default().push(Arc::new(q));
    }
    for (k, _) in &opts.mix.0 {
        if !by.contains_key(k) {
            bail!("the dataset has no {} queries", k.name());
        }
    }
    let by = Arc::new(by);
    let (tx, mut rx) = mpsc::unbounded_channel::<Sample>();
    let started = Instant::now();
    let mut report = LoadReport::default();
    let inflight = Arc::new(AtomicU64::new(0));
    let deadline = started + opts.duration;
    let send = |q: Arc<Query>,
                target: Target,
                scheduled: Instant,
                tx: mpsc::UnboundedSender<Sample>| async move {
        let status = match target
            .geolocate(&q.body, &q.user_agent, q.ip.as_deref())
            .await
        {
            Ok(r) => r.status,
            Err(_) => 0,
        };
        let micros = scheduled.elapsed().as_micros().min(u128::from(u64::MAX)) as u64;
        let _ = tx.send(Sample {
            kind: q.kind,
            status,
            micros,
        });
    };
    match opts.rate {
        Some(rate) => {
            report.mode = "open-loop".into();
            report.target_rate = Some(rate);
            let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
            let interval = Duration::from_secs_f64(1.0 / rate.max(1e-3));
            let mut handles = Vec::new();
            let mut i: u32 = 0;
            loop {
                let scheduled = started + interval * i;
                if scheduled >= deadline {
                    break;
                }
                tokio::time::sleep_until(scheduled.into()).await;
                report.scheduled += 1;
                i = i.saturating_add(1);
                let kind = opts.mix.pick(&mut rng);
                let list = &by[&kind];
                let q = list[rng.random_range(0..list.len())].clone();
                if inflight.load(Ordering::Relaxed) >= opts.max_inflight as u64 {
                    report.dropped += 1;
                    continue;
                }
                inflight.fetch_add(1, Ordering::Relaxed);
                let inflight = inflight.clone();
                let fut = send(q, target.clone(), scheduled, tx.clone());
                handles.push(tokio::spawn(async move {
                    fut.await;
                    inflight.fetch_sub(1, Ordering::Relaxed);
                }));
                if handles.len() > 10_000 {
                    handles.retain(|h| !h.is_finished());
                }
            }
            for h in handles {
                let _ = h.await;
            }
        }
        None => {
            report.mode = "max-rate".into();
            let scheduled = Arc::new(AtomicU64::new(0));
            let mut handles = Vec::new();
            for w in 0..opts.concurrency.max(1) {
                let by = by.clone();
                let mix = opts.mix.clone();
                let target = target.clone();
                let tx = tx.clone();
                let scheduled = scheduled.clone();
                let mut rng = ChaCha8Rng::seed_from_u64(opts.seed.wrapping_add(w as u64));
                handles.push(tokio::spawn(async move {
                    while Instant::now() < deadline {
                        let kind = mix.pick(&mut rng);
                        let list = &by[&kind];
                        let q = list[rng.random_range(0..list.len())].clone();
                        scheduled.fetch_add(1, Ordering::Relaxed);
                        send(q, target.clone(), Instant::now(), tx.clone()).await;
                    }
                }));
            }
            for h in handles {
                let _ = h.await;
            }
            report.scheduled = scheduled.load(Ordering::Relaxed);
        }
    }
    drop(tx);
    let mut total = Acc::new()?;
    let mut kinds: BTreeMap<Kind, Acc> = BTreeMap::new();
    while let Some(s) = rx.recv().await {
        total.record(&s);
        let acc = match kinds.entry(s.kind) {
            std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::btree_map::Entry::Vacant(e) => e.insert(Acc::new()?),
        };
        acc.record(&s);
    }
    report.seconds = started.elapsed().as_secs_f64();
    report.total = total.finish();
    report.throughput = report.total.count as f64 / report.seconds.max(1e-9);
    report.kinds = kinds
        .into_iter()
        .map(|(k, a)| (k.name().to_owned(), a.finish()))
        .collect();
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mix_parsing_and_picking() {
        let m = Mix::parse("wifi=3, cell=1").expect("mix");
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let wifi = (0..4000).filter(|_| m.pick(&mut rng) == Kind::Wifi).count();
        assert!((2800..3200).contains(&wifi), "{wifi}");
        assert!(Mix::parse("wifi=0").is_err());
        assert!(Mix::parse("gps=1").is_err());
        assert!(Mix::parse("wifi").is_err());
    }

    #[test]
    fn latency_summary() {
        let mut a = Acc::new().expect("histogram");
        for ms in 1..=1000u64 {
            a.record(&Sample {
                kind: Kind::Wifi,
                status: if ms % 10 == 0 { 404 } else { 200 },
                micros: ms * 1000,
            });
        }
        let l = a.finish();
        assert_eq!((l.count, l.ok, l.not_found, l.errors), (1000, 900, 100, 0));
        assert!((l.p50 - 500.0).abs() < 2.0, "{}", l.p50);
        assert!((l.p99 - 990.0).abs() < 3.0, "{}", l.p99);
    }
}

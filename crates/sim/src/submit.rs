//! The `submit` command: posts a dataset's training uploads to a server and waits until the
//! server's pipeline has caught up.
//!
//! Uploads are sent in file order with bounded concurrency; a failed request (transport
//! error, `429` or `5xx`) is retried with exponential back-off, since a server under load
//! shedding or restarting must not make the dataset incomplete.
//!
//! Catching up is observed from outside, through `/v1/geolocate` only: after the last
//! training upload, one final upload carries *probe* reports about stations invented for
//! this run (fresh random identities, placed 2 km north of the region, so they affect no
//! query): 16 WiFi groups and 16 Bluetooth groups of 3, one group for every hexadecimal
//! shard digit, and one cell per radio. The pipeline's queues are first-in first-out per
//! shard, so when every probe group can be located, everything submitted before it has
//! been processed. The time from the first upload to that moment gives the ingestion
//! rate. (Against a database that already holds the dataset the wait is just as valid:
//! the probes are new each run.)

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Result;
use futures::StreamExt;
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::dataset::{self, Manifest};
use crate::geo::{Xy, haversine};
use crate::http::Target;
use crate::radio::Radio;

/// Options of `submit`.
#[derive(Clone, Debug)]
pub struct SubmitOptions {
    /// Requests in flight.
    pub concurrency: usize,
    /// Longest wait for the pipeline after the last upload.
    pub wait_timeout: Duration,
    /// Interval between probe rounds.
    pub poll_interval: Duration,
}

/// What `submit` did and measured.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct SubmitSummary {
    /// Uploads accepted (2xx).
    pub uploads_ok: u64,
    /// Uploads rejected for good (4xx other than 429, or retries exhausted).
    pub uploads_failed: u64,
    /// Retried requests.
    pub retries: u64,
    /// Reports in accepted uploads.
    pub reports: u64,
    /// Station entries in accepted uploads.
    pub observations: u64,
    /// Seconds from the first to the last upload's answer.
    pub submit_secs: f64,
    /// Seconds from the last upload's answer until every probe was locatable.
    pub catchup_secs: f64,
    /// Whether every probe became locatable before the timeout.
    pub caught_up: bool,
    /// Probes located in the last round / all probes.
    pub probes_found: u64,
    /// All probes.
    pub probes_total: u64,
    /// Reports accepted by the API per second.
    pub submit_reports_per_sec: f64,
    /// Observations through the whole pipeline per second (submit + catch-up).
    pub ingest_observations_per_sec: f64,
}

/// A probe: a geolocate body and where the answer must be.
struct Probe {
    body: Value,
    at: (f64, f64),
}

/// Builds the probe upload and its queries with fresh random identities.
fn probes(manifest: &Manifest) -> (Value, Vec<Probe>) {
    let mut rng = rand::rng();
    let world = &manifest.world;
    let y0 = world.half() + 2_000.0;
    let now_ms = world.end_ms();
    let mut items = Vec::new();
    let mut queries = Vec::new();
    let report = |p: Xy, key: &str, entries: Value, rng: &mut rand::rngs::ThreadRng| {
        let jitter = Xy::new(
            p.x + rng.random_range(-3.0..3.0),
            p.y + rng.random_range(-3.0..3.0),
        );
        let (lat, lon) = world.centre.to_latlon(jitter);
        let mut item = json!({"timestamp": now_ms,
            "position": {"latitude": lat, "longitude": lon, "accuracy": 5.0, "source": "gps"}});
        item[key] = entries;
        item
    };
    for shard in 0..16u64 {
        for (kind, first, dy) in [
            ("wifiAccessPoints", 0x02u64, 0.0),
            ("bluetoothBeacons", 0x06, 400.0),
        ] {
            let p = Xy::new(-4_800.0 + 640.0 * shard as f64, y0 + dy);
            let tail: u64 = rng.random::<u64>() & 0xff_ffff;
            let macs: Vec<String> = (0..3u64)
                .map(|j| {
                    // Hex digit 4 (the shard digit) is the high nibble of the third octet.
                    let mac = (first << 40) | (0x5a << 32) | (((shard << 4) | j) << 24) | tail;
                    format!("{mac:012x}")
                })
                .collect();
            let entries: Vec<Value> = macs
                .iter()
                .map(|m| json!({"macAddress": m, "signalStrength": -50, "age": 500}))
                .collect();
            for _ in 0..3 {
                items.push(report(p, kind, Value::from(entries.clone()), &mut rng));
            }
            let body = if kind == "wifiAccessPoints" {
                json!({"considerIp": false, "wifiAccessPoints": entries})
            } else {
                json!({"considerIp": false, "bluetoothBeacons": entries})
            };
            queries.push(Probe {
                body,
                at: world.centre.to_latlon(p),
            });
        }
    }
    let mnc = world.operators.first().copied().unwrap_or(1);
    for (i, radio) in Radio::CELLS.into_iter().enumerate() {
        let p = Xy::new(-3_000.0 + 2_000.0 * i as f64, y0 + 800.0);
        let cid: u64 = match radio {
            Radio::Gsm => rng.random_range(1..65_535),
            _ => rng.random_range(70_000..268_435_455),
        };
        let cell = json!({"radioType": radio.name(), "mobileCountryCode": world.mcc,
            "mobileNetworkCode": mnc, "locationAreaCode": rng.random_range(60_000..65_000),
            "cellId": cid, "signalStrength": -70, "age": 500});
        for _ in 0..3 {
            items.push(report(p, "cellTowers", json!([cell.clone()]), &mut rng));
        }
        queries.push(Probe {
            body: json!({"considerIp": false, "fallbacks": {"lacf": false, "ipf": false},
                         "cellTowers": [cell]}),
            at: world.centre.to_latlon(p),
        });
    }
    (json!({ "items": items }), queries)
}

/// Posts with retries; returns whether the upload was accepted.
async fn post(target: &Target, body: &Value, ua: &str, gzip: bool, retries: &AtomicU64) -> bool {
    let mut delay = Duration::from_millis(200);
    for attempt in 0..10 {
        match target.geosubmit(body, ua, gzip).await {
            Ok(s) if (200..300).contains(&s) => return true,
            Ok(s) if s != 429 && s < 500 => return false,
            _ => {}
        }
        if attempt < 9 {
            retries.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(10));
        }
    }
    false
}

/// Counts the probes the server can locate (within 1 km of where they are).
async fn probe_round(target: &Target, probes: &[Probe]) -> u64 {
    let found = futures::stream::iter(probes)
        .map(|p| async move {
            match target.geolocate(&p.body, "ichnaea-sim", None).await {
                Ok(r) => r
                    .position
                    .is_some_and(|(lat, lon, _)| haversine(lat, lon, p.at.0, p.at.1) < 1_000.0),
                Err(_) => false,
            }
        })
        .buffer_unordered(8)
        .collect::<Vec<bool>>()
        .await;
    found.into_iter().filter(|&f| f).count() as u64
}

/// Submits a dataset. `progress` is called with the number of reports sent so far.
pub async fn submit(
    dir: &std::path::Path,
    target: &Target,
    opts: &SubmitOptions,
    progress: impl Fn(u64) + Send + Sync,
) -> Result<SubmitSummary> {
    let manifest = Manifest::load(dir)?;
    let retries = Arc::new(AtomicU64::new(0));
    let sent = AtomicU64::new(0);
    let started = Instant::now();
    let mut summary = SubmitSummary::default();
    let mut results = futures::stream::iter(dataset::read_uploads(dir, &manifest))
        .map(|upload| {
            let retries = retries.clone();
            let sent = &sent;
            let progress = &progress;
            async move {
                let upload = upload?;
                let ok = post(
                    target,
                    &upload.body,
                    &upload.user_agent,
                    upload.gzip,
                    &retries,
                )
                .await;
                progress(
                    sent.fetch_add(upload.counts.reports, Ordering::Relaxed)
                        + upload.counts.reports,
                );
                anyhow::Ok((ok, upload.counts))
            }
        })
        .buffer_unordered(opts.concurrency.max(1));
    while let Some(r) = results.next().await {
        let (ok, counts) = r?;
        if ok {
            summary.uploads_ok += 1;
            summary.reports += counts.reports;
            summary.observations += counts.observations();
        } else {
            summary.uploads_failed += 1;
        }
    }
    drop(results);
    let (probe_upload, probe_queries) = probes(&manifest);
    let probe_ok = post(target, &probe_upload, "ichnaea-sim", false, &retries).await;
    anyhow::ensure!(probe_ok, "the server did not accept the probe upload");
    summary.submit_secs = started.elapsed().as_secs_f64();
    let waiting = Instant::now();
    summary.probes_total = probe_queries.len() as u64;
    loop {
        summary.probes_found = probe_round(target, &probe_queries).await;
        if summary.probes_found == summary.probes_total {
            summary.caught_up = true;
            break;
        }
        if waiting.elapsed() > opts.wait_timeout {
            break;
        }
        tokio::time::sleep(opts.poll_interval).await;
    }
    summary.catchup_secs = waiting.elapsed().as_secs_f64();
    summary.retries = retries.load(Ordering::Relaxed);
    summary.submit_reports_per_sec = summary.reports as f64 / summary.submit_secs.max(1e-9);
    summary.ingest_observations_per_sec =
        summary.observations as f64 / (summary.submit_secs + summary.catchup_secs).max(1e-9);
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::presets::Size;

    #[test]
    fn probes_cover_every_shard_and_radio() {
        let dir = tempfile::tempdir().expect("tempdir");
        let opts = dataset::GenerateOptions {
            size: Size::Tiny,
            seed: 1,
            reports: Some(20),
            queries_per_kind: Some(1),
        };
        let m = dataset::generate(dir.path(), &opts, |_| {}).expect("generate");
        let (upload, queries) = probes(&m);
        assert_eq!(queries.len(), 36);
        let items = upload["items"].as_array().expect("items");
        let mut wifi_shards = std::collections::BTreeSet::new();
        for item in items {
            for ap in item["wifiAccessPoints"].as_array().into_iter().flatten() {
                let mac = ap["macAddress"].as_str().expect("mac");
                assert_eq!(mac.len(), 12);
                wifi_shards.insert(mac.as_bytes()[4]);
            }
        }
        assert_eq!(wifi_shards.len(), 16);
        // Fresh identities per run.
        let (again, _) = probes(&m);
        assert_ne!(upload, again);
    }
}

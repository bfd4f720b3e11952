//! `export_reports`: sends the reports queued for one export target (`pipeline.md` §3.5).
//!
//! Every `export_config` row has its own queue, `queue_export_<name>`, drained when it
//! holds a full batch (`export_config.batch`) or its oldest report waited
//! `EXPORT_MAX_AGE_SECS`. The exporter depends on the row's `schema`:
//!
//! * `internal`: validates the reports into observations and queues them for the station
//!   updaters (and datamap grid cells), in one atomic, batch-marked Redis step;
//! * `dummy`: discards them (pipeline testing);
//! * `geosubmit`: POSTs them, gzip-compressed, to another Ichnaea-compatible server;
//! * `backup` (or the reference's name `s3`): writes them to an object store
//!   (`super::backup`);
//!
//! Rows with an unknown schema keep their reports queued. Sending is retried three times
//! within one delivery (1 s, 2 s, 5 s apart); after that the batch fails and is redelivered
//! after its lease, so nothing is dropped (the reference drops it).

use std::collections::HashMap;
use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ichnaea_core::QueueName;
use ichnaea_core::metrics::MetricName;
use ichnaea_core::pipeline::export::{ExportItem, internal_export};
use ichnaea_db::export_config::{self, ExportConfigRow};
use ichnaea_runtime::queue::push_once;
use ichnaea_runtime::{Batch, DataQueue};
use tokio::sync::watch;

use crate::WorkerState;
use crate::consumer::{self, Consumer, Handler, Readiness};

/// How long an export batch's "already sent" marker is kept.
const MARKER_TTL: Duration = Duration::from_secs(2 * 86_400);

/// How often the supervisor reloads `export_config`.
const RELOAD: Duration = Duration::from_secs(30);

/// Runs one consumer per export target, following changes to `export_config`.
pub async fn supervise(state: WorkerState, shutdown: watch::Receiver<bool>) {
    let mut running: HashMap<String, (ExportConfigRow, watch::Sender<bool>)> = HashMap::new();
    let mut stop = shutdown.clone();
    loop {
        match load(&state).await {
            Ok(configs) => {
                running.retain(|name, (row, tx)| {
                    let keep = configs.iter().any(|c| c == row);
                    if !keep {
                        tracing::info!(export.name = %name, "export target changed or removed");
                        let _ = tx.send(true);
                    }
                    keep
                });
                for config in configs {
                    if running.contains_key(&config.name) {
                        continue;
                    }
                    let (tx, rx) = watch::channel(false);
                    let merged = merge_shutdown(shutdown.clone(), rx);
                    let consumer = consumer_for(&state, &config);
                    tokio::spawn(consumer::run(
                        consumer,
                        state.consumer_id.clone(),
                        state.timing,
                        state.metrics.clone(),
                        merged,
                    ));
                    running.insert(config.name.clone(), (config, tx));
                }
            }
            Err(e) => tracing::warn!(error = %format!("{e:#}"), "cannot load export_config"),
        }
        tokio::select! {
            _ = tokio::time::sleep(RELOAD) => {}
            _ = stop.changed() => {}
        }
        if *stop.borrow() {
            for (_, (_, tx)) in running {
                let _ = tx.send(true);
            }
            break;
        }
    }
}

/// A receiver that turns true when either input does.
fn merge_shutdown(
    mut a: watch::Receiver<bool>,
    mut b: watch::Receiver<bool>,
) -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(*a.borrow() || *b.borrow());
    tokio::spawn(async move {
        loop {
            tokio::select! {
                r = a.changed() => if r.is_err() { break },
                r = b.changed() => if r.is_err() { break },
            }
            if *a.borrow() || *b.borrow() {
                let _ = tx.send(true);
                break;
            }
        }
    });
    rx
}

async fn load(state: &WorkerState) -> anyhow::Result<Vec<ExportConfigRow>> {
    let pool = state.db.write()?;
    let mut conn = pool.get().await?;
    Ok(export_config::list(&mut conn).await?)
}

/// The consumer of one export target.
pub fn consumer_for(state: &WorkerState, config: &ExportConfigRow) -> Consumer {
    let queue = DataQueue::new(
        state.redis.clone(),
        &QueueName::Export {
            name: config.name.clone(),
            partition: None,
        },
    );
    let handler_state = state.clone();
    let handler_config = Arc::new(config.clone());
    let handler: Handler = Arc::new(move |batch| {
        let state = handler_state.clone();
        let config = handler_config.clone();
        Box::pin(async move { export(&state, &config, &batch).await })
    });
    Consumer {
        queue,
        task: "data.export_reports",
        batch: config.batch_size(),
        readiness: Readiness::FullOrOld {
            batch: config.batch_size() as u64,
            max_age: state.export_max_age,
        },
        handler,
    }
}

/// Exports one batch.
pub async fn export(
    state: &WorkerState,
    config: &ExportConfigRow,
    batch: &Batch,
) -> anyhow::Result<()> {
    let items: Vec<ExportItem> = batch
        .items
        .iter()
        .filter_map(|raw| serde_json::from_slice(raw).ok())
        .collect();
    let key_tag = [("key", config.name.as_str())];
    match config.schema.as_deref() {
        Some("internal") => export_internal(state, config, batch, &items).await?,
        Some("dummy") => {}
        Some(schema @ ("geosubmit" | "s3" | "backup")) => {
            let mut attempt = 0u32;
            loop {
                let started = Instant::now();
                let result = if schema == "geosubmit" {
                    send_geosubmit(state, config, &items).await
                } else {
                    let sent = super::backup::send(state, config, batch.id, &batch.items).await;
                    let status = if sent.is_ok() { "success" } else { "failure" };
                    state.metrics.incr(
                        MetricName::DataExportUpload,
                        &[("key", config.name.as_str()), ("status", status)],
                    );
                    sent
                };
                let millis = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
                state
                    .metrics
                    .timing(MetricName::DataExportUploadTiming, millis, &key_tag);
                match result {
                    Ok(()) => break,
                    Err(e) if attempt < 2 => {
                        tracing::warn!(export.name = %config.name, error = %format!("{e:#}"), "export failed; retrying");
                        let wait = f64::from(attempt * attempt + 1);
                        tokio::time::sleep(Duration::from_secs_f64(wait)).await;
                        attempt += 1;
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        other => anyhow::bail!(
            "export {:?} has unknown schema {:?}; its reports stay queued",
            config.name,
            other
        ),
    }
    state.metrics.incr(MetricName::DataExportBatch, &key_tag);
    Ok(())
}

/// The `internal` exporter: reports → observations on the station queues.
async fn export_internal(
    state: &WorkerState,
    config: &ExportConfigRow,
    batch: &Batch,
    items: &[ExportItem],
) -> anyhow::Result<()> {
    let result = internal_export(items, &state.geocoder, state.record_datamap);
    let mut pushes: Vec<(String, Vec<Vec<u8>>)> = result
        .queue_payloads()?
        .into_iter()
        .map(|(queue, json)| {
            (
                queue.key().into_owned(),
                json.into_iter().map(String::into_bytes).collect(),
            )
        })
        .collect();
    // Grid cells already queued today by this process are left out (`RecentGrids`).
    let today = super::station::now().date();
    let mut queued_grids = Vec::new();
    for (shard, grids) in &result.datamap {
        let unseen = state.recent_grids.unseen(today, grids);
        if !unseen.is_empty() {
            pushes.push((
                QueueName::UpdateDatamap(*shard).key().into_owned(),
                unseen.iter().map(|g| g.to_bytes().to_vec()).collect(),
            ));
            queued_grids.extend(unseen);
        }
    }
    let marker = format!("queue_export_{}:exported:{}", config.name, batch.id);
    let fresh = push_once(&state.redis, &marker, MARKER_TTL, &pushes).await?;
    state.recent_grids.remember(today, &queued_grids);
    if fresh {
        for (api_key, counts) in &result.counts {
            let label = api_key
                .as_deref()
                .map_or_else(|| "none".to_owned(), ichnaea_core::apikey::key_label);
            let key = [("key", label.as_str())];
            state.metrics.count(
                MetricName::DataReportUpload,
                counts.report_upload as i64,
                &key,
            );
            state
                .metrics
                .count(MetricName::DataReportDrop, counts.report_drop as i64, &key);
            for (i, kind) in ["blue", "wifi", "cell"].iter().enumerate() {
                let tags = [("type", *kind), ("key", label.as_str())];
                state.metrics.count(
                    MetricName::DataObservationUpload,
                    counts.observation_upload[i] as i64,
                    &tags,
                );
                state.metrics.count(
                    MetricName::DataObservationDrop,
                    counts.observation_drop[i] as i64,
                    &tags,
                );
            }
        }
    }
    Ok(())
}

/// The `geosubmit` exporter: one gzip-compressed POST of `{"items": [report, …]}`.
async fn send_geosubmit(
    state: &WorkerState,
    config: &ExportConfigRow,
    items: &[ExportItem],
) -> anyhow::Result<()> {
    let url = config
        .url
        .as_deref()
        .ok_or_else(|| anyhow::anyhow!("geosubmit export {:?} has no url", config.name))?;
    let reports: Vec<&serde_json::Value> = items.iter().map(|i| &i.report).collect();
    let json = serde_json::to_vec(&serde_json::json!({ "items": reports }))?;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(5));
    encoder.write_all(&json)?;
    let body = encoder.finish()?;
    let response = state
        .http
        .post(url)
        .header("Content-Encoding", "gzip")
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await;
    let status = match &response {
        Ok(r) => r.status().as_u16().to_string(),
        Err(_) => "failure".to_owned(),
    };
    state.metrics.incr(
        MetricName::DataExportUpload,
        &[("key", config.name.as_str()), ("status", status.as_str())],
    );
    let response = response.map_err(|e| anyhow::anyhow!("{}", e.without_url()))?;
    anyhow::ensure!(
        response.status().is_success(),
        "the export target answered {}",
        response.status()
    );
    Ok(())
}

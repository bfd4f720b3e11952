//! `update_incoming`: copies every incoming report to the queue of each export target
//! that wants it (`pipeline.md` §3.5).
//!
//! The batch's reports are grouped by (API key, source); each `export_config` row gets the
//! groups its `skip_keys` / `skip_sources` allow, as `{"api_key", "report"}` items on
//! `queue_export_<name>`. All pushes happen in one atomic Redis step marked with the
//! batch id, so a redelivered batch is not copied twice. (The reference partitions
//! object-store exports into one queue per source and key; here the exporter groups
//! within a batch instead, which gives the same objects with one queue per export.)

use std::time::Duration;

use ichnaea_core::QueueName;
use ichnaea_db::export_config;
use ichnaea_runtime::Batch;
use ichnaea_runtime::queue::{decode_incoming, push_once};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::WorkerState;

/// Items taken from `update_incoming` per batch. The reference takes 5000 items of one
/// report each; an item here holds the reports of one submission, up to
/// [`INCOMING_REPORTS_PER_ITEM`](ichnaea_runtime::queue::INCOMING_REPORTS_PER_ITEM), so a
/// batch is at most 25 000 reports.
pub const BATCH: usize = 500;

/// How long the "already distributed" marker of a batch is kept.
const MARKER_TTL: Duration = Duration::from_secs(2 * 86_400);

/// Reports of one (API key, source) pair, in arrival order.
type Group = ((Option<String>, String), Vec<Box<RawValue>>);

/// An `update_incoming` item. The report is carried as its JSON text: this task only
/// routes it, so it is neither parsed into a tree nor re-serialised.
#[derive(Deserialize)]
struct Incoming {
    #[serde(default)]
    api_key: Option<String>,
    #[serde(default)]
    source: Option<String>,
    report: Box<RawValue>,
}

/// An export queue item: the report with its key and source (the source rides along
/// for object-store backups, which file reports by it).
#[derive(Serialize)]
struct ExportEntry<'a> {
    api_key: Option<&'a str>,
    source: &'a str,
    report: &'a RawValue,
}

/// Distributes one batch of `update_incoming`.
pub async fn handle(state: &WorkerState, batch: &Batch) -> anyhow::Result<()> {
    let mut undecodable = 0usize;
    let decoded: Vec<Incoming> = batch
        .items
        .iter()
        .filter_map(|raw| {
            let entries = decode_incoming::<Incoming>(raw).ok();
            undecodable += usize::from(entries.is_none());
            entries
        })
        .flatten()
        .collect();
    let groups: Vec<Group> = super::group_in_order(decoded.into_iter().map(|item| {
        let source = item.source.unwrap_or_else(|| "gnss".to_owned());
        ((item.api_key, source), item.report)
    }));
    if undecodable > 0 {
        tracing::warn!(
            items = undecodable,
            "dropped undecodable items of update_incoming"
        );
    }

    let configs = {
        let pool = state.db.write()?;
        let mut conn = pool.get().await?;
        export_config::list(&mut conn).await?
    };
    let mut pushes = Vec::new();
    for config in &configs {
        let mut items = Vec::new();
        for ((api_key, source), entries) in &groups {
            if config.allowed(api_key.as_deref(), source) {
                for report in entries {
                    items.push(serde_json::to_vec(&ExportEntry {
                        api_key: api_key.as_deref(),
                        source,
                        report,
                    })?);
                }
            }
        }
        if !items.is_empty() {
            let queue = QueueName::Export {
                name: config.name.clone(),
                partition: None,
            };
            pushes.push((queue.key().into_owned(), items));
        }
    }
    let marker = format!("update_incoming:distributed:{}", batch.id);
    if !push_once(&state.redis, &marker, MARKER_TTL, &pushes).await? {
        tracing::info!(batch.id = batch.id, "batch was already distributed");
    }
    Ok(())
}

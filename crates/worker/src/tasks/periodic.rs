//! Runs the periodic tasks the scheduler triggers (`ichnaea_core::tasks::CATALOGUE`).
//!
//! Triggers arrive on the `ichnaea_tasks` queue, one per batch. A trigger that waited
//! past its expiry is dropped (the next one comes soon), so workers that were down do
//! not run a task many times in a row. Unknown task names are dropped with a warning:
//! a newer scheduler may know tasks this worker does not.

use ichnaea_core::cellcsv::ExportKind;
use ichnaea_core::tasks::Trigger;
use ichnaea_runtime::Batch;

use crate::WorkerState;
use crate::tasks::monitor;

/// Handles one batch of the task queue.
pub async fn handle(state: &WorkerState, batch: &Batch) -> anyhow::Result<()> {
    let now_ms = chrono::Utc::now().timestamp_millis();
    for raw in &batch.items {
        let Ok(trigger) = serde_json::from_slice::<Trigger>(raw) else {
            tracing::warn!("dropped an unreadable task trigger");
            continue;
        };
        if trigger.expired(now_ms) {
            tracing::info!(task = %trigger.task, "dropped an expired task trigger");
            continue;
        }
        run(state, &trigger.task, batch.id).await?;
    }
    Ok(())
}

/// Runs one periodic task by name; `run_id` identifies this run (the trigger's batch id)
/// for tasks that must not repeat their effects.
pub async fn run(state: &WorkerState, task: &str, run_id: u64) -> anyhow::Result<()> {
    match task {
        "data.update_statcounter" => super::stats::update_statcounter(state, run_id).await,
        "data.cleanup_stat" => super::stats::cleanup_stat(state).await,
        "data.update_statregion" => super::stats::update_statregion(state).await,
        "data.cleanup_datamap" => super::datamap::cleanup(state).await,
        "data.cleanup_batch_markers" => super::stats::cleanup_batch_markers(state).await,
        "data.cell_export_diff" => super::cell_export::run(state, ExportKind::Diff).await,
        "data.cell_export_full" => super::cell_export::run(state, ExportKind::Full).await,
        "data.monitor_api_key_limits" => monitor::api_key_limits(state).await,
        "data.monitor_api_users" => monitor::api_users(state).await,
        "data.monitor_queue_size_and_rate_control" => {
            monitor::queue_size_and_rate_control(state).await
        }
        other => {
            tracing::warn!(task = other, "no such task in this worker; trigger dropped");
            Ok(())
        }
    }
}

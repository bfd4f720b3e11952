//! The loop that drains one data queue.
//!
//! A consumer claims a batch under a lease, keeps the lease alive while its handler works,
//! and acknowledges the batch only when the handler succeeded, so its effects are
//! committed before the batch disappears. A failing (or panicking) handler leaves the
//! batch claimed; when the lease runs out the queue hands it out again under the same
//! batch id, and handlers use that id to make redelivery harmless. An empty queue is
//! polled again after the poll interval. On shutdown the consumer finishes and
//! acknowledges the batch in hand, then stops.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ichnaea_core::metrics::MetricName;
use ichnaea_runtime::queue::QueueState;
use ichnaea_runtime::{Batch, DataQueue, Metrics};
use tokio::sync::watch;

/// What a handler returns.
pub type HandlerFuture = Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send>>;

/// A batch handler.
pub type Handler = Arc<dyn Fn(Batch) -> HandlerFuture + Send + Sync>;

/// When a queue is worth draining.
#[derive(Debug, Clone, Copy)]
pub enum Readiness {
    /// Whenever it holds anything (area and datamap queues, `update_incoming`; station
    /// queues when `WORKER_STATION_MAX_AGE_MS` is 0).
    Always,
    /// When it holds a full batch or it has held items for `max_age` since it was last
    /// empty (export queues, station queues).
    FullOrOld {
        /// Items that make a full batch.
        batch: u64,
        /// Longest wait of a partial batch.
        max_age: Duration,
    },
}

/// One consumer's settings.
#[derive(Clone)]
pub struct Consumer {
    /// The queue.
    pub queue: DataQueue,
    /// The task name for logs and the `task` metric (`data.update_wifi`, …).
    pub task: &'static str,
    /// Most items per batch.
    pub batch: usize,
    /// When to drain.
    pub readiness: Readiness,
    /// Processes one batch.
    pub handler: Handler,
}

/// Timing shared by all consumers of a worker.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// Wait between polls of an empty (or not ready) queue.
    pub poll: Duration,
    /// How long a claimed batch is reserved; renewed every third of it.
    pub lease: Duration,
}

/// Runs a consumer until `shutdown` turns true.
pub async fn run(
    consumer: Consumer,
    consumer_id: Arc<str>,
    timing: Timing,
    metrics: Metrics,
    mut shutdown: watch::Receiver<bool>,
) {
    let queue_key = consumer.queue.key().to_owned();
    loop {
        if *shutdown.borrow() {
            break;
        }
        match next_batch(&consumer, &consumer_id, timing).await {
            Ok(Some(batch)) => {
                process(&consumer, &consumer_id, timing, &metrics, batch).await;
                // Drain back to back while there is work.
                continue;
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(queue.name = %queue_key, error = %e, "cannot read a queue");
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(timing.poll) => {}
            _ = shutdown.changed() => {}
        }
    }
}

async fn next_batch(
    consumer: &Consumer,
    consumer_id: &str,
    timing: Timing,
) -> Result<Option<Batch>, ichnaea_runtime::RedisError> {
    if let Readiness::FullOrOld { batch, max_age } = consumer.readiness {
        let state: QueueState = consumer.queue.state().await?;
        // Redelivered batches are picked up whatever the readiness.
        if !state.is_ready(batch, max_age) && consumer.queue.inflight().await? == 0 {
            return Ok(None);
        }
    }
    consumer
        .queue
        .claim(consumer_id, consumer.batch, timing.lease)
        .await
}

async fn process(
    consumer: &Consumer,
    consumer_id: &Arc<str>,
    timing: Timing,
    metrics: &Metrics,
    batch: Batch,
) {
    let started = Instant::now();
    let queue_key = consumer.queue.key().to_owned();
    let items = batch.items.len();
    if batch.is_redelivery() {
        tracing::info!(
            queue.name = %queue_key,
            batch.id = batch.id,
            batch.deliveries = batch.deliveries,
            "processing a redelivered batch"
        );
    }
    // Keep the lease while the handler runs.
    let renewer = {
        let queue = consumer.queue.clone();
        let batch = batch.clone();
        let id = consumer_id.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(timing.lease / 3);
            tick.tick().await;
            loop {
                tick.tick().await;
                match queue.renew(&batch, &id, timing.lease).await {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::warn!(batch.id = batch.id, "lost the lease of a batch");
                        break;
                    }
                    Err(e) => tracing::warn!(error = %e, "cannot renew a batch lease"),
                }
            }
        })
    };
    // A panic in the handler must not take the worker down: run it as its own task.
    let outcome = tokio::spawn((consumer.handler)(batch.clone())).await;
    renewer.abort();
    let millis = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    metrics.timing(MetricName::Task, millis, &[("task", consumer.task)]);
    match outcome {
        Ok(Ok(())) => match consumer.queue.ack(&batch).await {
            Ok(()) => tracing::info!(
                queue.name = %queue_key,
                task = consumer.task,
                batch.id = batch.id,
                batch.items = items,
                duration_ms = millis,
                "processed a batch"
            ),
            Err(e) => tracing::warn!(
                queue.name = %queue_key,
                batch.id = batch.id,
                error = %e,
                "cannot acknowledge a processed batch; it will be redelivered"
            ),
        },
        Ok(Err(e)) => tracing::error!(
            queue.name = %queue_key,
            task = consumer.task,
            batch.id = batch.id,
            error = %format!("{e:#}"),
            "batch failed; it will be retried after its lease"
        ),
        Err(join) => tracing::error!(
            queue.name = %queue_key,
            task = consumer.task,
            batch.id = batch.id,
            error = %join,
            "batch handler panicked; it will be retried after its lease"
        ),
    }
}

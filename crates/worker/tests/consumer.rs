//! The consumer loop against a real Redis: success acknowledges, failure and panic
//! redeliver under the same batch id, shutdown finishes the batch in hand.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use ichnaea_core::QueueName;
use ichnaea_runtime::{DataQueue, Metrics};
use ichnaea_testing::TestRedis;
use ichnaea_worker::consumer::{self, Consumer, Handler, Readiness, Timing};
use tokio::sync::watch;

fn timing() -> Timing {
    Timing {
        poll: Duration::from_millis(20),
        lease: Duration::from_millis(300),
    }
}

#[tokio::test]
async fn failures_and_panics_are_redelivered_then_acknowledged() {
    let redis = TestRedis::new().await;
    let queue = DataQueue::new(redis.client(), &QueueName::UpdateCellArea);
    queue
        .push(&[b"a".to_vec(), b"b".to_vec(), b"c".to_vec()])
        .await
        .unwrap();
    let seen: Arc<Mutex<Vec<(u64, u32, usize)>>> = Arc::default();
    let log = seen.clone();
    let handler: Handler = Arc::new(move |batch| {
        let log = log.clone();
        Box::pin(async move {
            log.lock()
                .unwrap()
                .push((batch.id, batch.deliveries, batch.items.len()));
            match batch.deliveries {
                1 => anyhow::bail!("transient failure"),
                2 => panic!("a bug"),
                _ => Ok(()),
            }
        })
    });
    let (stop, shutdown) = watch::channel(false);
    let task = tokio::spawn(consumer::run(
        Consumer {
            queue: queue.clone(),
            task: "data.test",
            batch: 10,
            readiness: Readiness::Always,
            handler,
        },
        Arc::from("worker-1"),
        timing(),
        Metrics::noop(),
        shutdown,
    ));
    for _ in 0..100 {
        if seen.lock().unwrap().len() >= 3 && queue.inflight().await.unwrap() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.send(true).unwrap();
    task.await.unwrap();
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert!(
        seen.iter().all(|(id, _, n)| *id == seen[0].0 && *n == 3),
        "same batch: {seen:?}"
    );
    assert_eq!(seen.iter().map(|s| s.1).collect::<Vec<_>>(), [1, 2, 3]);
    assert_eq!(queue.inflight().await.unwrap(), 0);
    assert_eq!(queue.state().await.unwrap().size, 0);
}

#[tokio::test]
async fn export_readiness_waits_for_a_full_or_old_batch() {
    let redis = TestRedis::new().await;
    let queue = DataQueue::new(
        redis.client(),
        &QueueName::Export {
            name: "internal".into(),
            partition: None,
        },
    );
    queue.push(&[b"1".to_vec()]).await.unwrap();
    let count: Arc<Mutex<usize>> = Arc::default();
    let c = count.clone();
    let handler: Handler = Arc::new(move |batch| {
        let c = c.clone();
        Box::pin(async move {
            *c.lock().unwrap() += batch.items.len();
            Ok(())
        })
    });
    let (stop, shutdown) = watch::channel(false);
    let task = tokio::spawn(consumer::run(
        Consumer {
            queue: queue.clone(),
            task: "data.export_reports",
            batch: 3,
            readiness: Readiness::FullOrOld {
                batch: 3,
                max_age: Duration::from_millis(600),
            },
            handler,
        },
        Arc::from("worker-1"),
        timing(),
        Metrics::noop(),
        shutdown,
    ));
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(*count.lock().unwrap(), 0, "one item is not a batch yet");
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(*count.lock().unwrap(), 1, "but it is old enough now");
    queue
        .push(&[b"2".to_vec(), b"3".to_vec(), b"4".to_vec()])
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(*count.lock().unwrap(), 4, "a full batch goes at once");
    stop.send(true).unwrap();
    task.await.unwrap();
}

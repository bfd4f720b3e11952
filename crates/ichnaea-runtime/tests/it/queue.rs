//! The reliable data queue: nothing is lost when a consumer dies, redelivered batches keep
//! their id, poison batches are parked.

use std::collections::BTreeSet;
use std::time::Duration;

use ichnaea_core::{QueueName, WifiShard};
use ichnaea_runtime::DataQueue;
use ichnaea_runtime::queue::MAX_DELIVERIES;
use ichnaea_testing::TestRedis;

fn items(range: std::ops::Range<u32>) -> Vec<Vec<u8>> {
    range.map(|i| format!("item-{i}").into_bytes()).collect()
}

#[tokio::test]
async fn push_claim_ack_in_order() {
    let redis = TestRedis::new().await;
    let q = DataQueue::new(redis.client(), &QueueName::UpdateIncoming);
    assert_eq!(q.key(), "update_incoming");
    assert_eq!(q.push(&items(0..1200)).await.unwrap(), 1200);
    assert_eq!(q.state().await.unwrap().size, 1200);

    let lease = Duration::from_secs(30);
    let first = q.claim("c1", 500, lease).await.unwrap().unwrap();
    assert_eq!(first.items, items(0..500));
    assert_eq!(first.deliveries, 1);
    assert!(!first.is_redelivery());
    assert!(
        first.id > 1_600_000_000_000,
        "ids start from the clock, so they never repeat after a Redis reset: {}",
        first.id
    );
    let second = q.claim("c1", 500, lease).await.unwrap().unwrap();
    assert_eq!(second.items, items(500..1000));
    assert_ne!(first.id, second.id);
    assert_eq!(q.inflight().await.unwrap(), 2);
    assert_eq!(q.state().await.unwrap().size, 200);

    q.ack(&first).await.unwrap();
    q.ack(&second).await.unwrap();
    let rest = q.claim("c1", 500, lease).await.unwrap().unwrap();
    assert_eq!(rest.items, items(1000..1200));
    q.ack(&rest).await.unwrap();
    assert_eq!(q.claim("c1", 500, lease).await.unwrap(), None);
    assert_eq!(q.inflight().await.unwrap(), 0);

    // Nothing is left behind in Redis once everything is acknowledged.
    let mut conn = redis.conn().await;
    let keys: Vec<String> = ::redis::cmd("KEYS")
        .arg("update_incoming*")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(keys, vec!["update_incoming:seq".to_owned()], "{keys:?}");
}

#[tokio::test]
async fn abandoned_batch_is_redelivered_with_the_same_id() {
    let redis = TestRedis::new().await;
    let q = DataQueue::new(redis.client(), &QueueName::UpdateWifi(WifiShard::ALL[3]));
    q.push(&items(0..10)).await.unwrap();

    // A consumer claims a batch and "dies": it never acknowledges.
    let lost = q
        .claim("dead-worker", 4, Duration::from_millis(200))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(lost.items, items(0..4));

    // While the lease runs, others get new items, not the claimed ones.
    let other = q
        .claim("live-worker", 4, Duration::from_secs(30))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(other.items, items(4..8));
    q.ack(&other).await.unwrap();

    tokio::time::sleep(Duration::from_millis(300)).await;
    let again = q
        .claim("live-worker", 4, Duration::from_secs(30))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.id, lost.id, "redelivered under the same batch id");
    assert_eq!(again.items, lost.items);
    assert_eq!(again.deliveries, 2);
    assert!(again.is_redelivery());

    // The dead consumer can no longer renew what it lost.
    assert!(
        !q.renew(&lost, "dead-worker", Duration::from_secs(30))
            .await
            .unwrap()
    );
    assert!(
        q.renew(&again, "live-worker", Duration::from_secs(30))
            .await
            .unwrap()
    );
    q.ack(&again).await.unwrap();

    let last = q
        .claim("live-worker", 4, Duration::from_secs(30))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(last.items, items(8..10));
}

#[tokio::test]
async fn renewal_keeps_a_slow_batch() {
    let redis = TestRedis::new().await;
    let q = DataQueue::new(redis.client(), &QueueName::UpdateCellArea);
    q.push(&items(0..3)).await.unwrap();
    let lease = Duration::from_millis(300);
    let batch = q.claim("slow", 10, lease).await.unwrap().unwrap();
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(150)).await;
        assert!(q.renew(&batch, "slow", lease).await.unwrap());
    }
    assert_eq!(
        q.claim("other", 10, lease).await.unwrap(),
        None,
        "still leased"
    );
}

#[tokio::test]
async fn poison_batch_is_parked_after_max_deliveries() {
    let redis = TestRedis::new().await;
    let q = DataQueue::new(redis.client(), &QueueName::UpdateIncoming);
    q.push(&items(0..2)).await.unwrap();
    let lease = Duration::from_millis(50);
    let mut id = None;
    for n in 1..=MAX_DELIVERIES {
        let b = q.claim("crashy", 10, lease).await.unwrap().unwrap();
        assert_eq!(b.deliveries, n);
        assert_eq!(*id.get_or_insert(b.id), b.id);
        tokio::time::sleep(Duration::from_millis(80)).await;
    }
    assert_eq!(q.claim("crashy", 10, lease).await.unwrap(), None);
    assert_eq!(
        q.dead().await.unwrap(),
        2,
        "items kept for inspection, not lost"
    );
    assert_eq!(q.inflight().await.unwrap(), 0);
}

#[tokio::test]
async fn concurrent_consumers_see_every_item_exactly_once() {
    let redis = TestRedis::new().await;
    let q = DataQueue::new(redis.client(), &QueueName::UpdateIncoming);
    q.push(&items(0..2000)).await.unwrap();
    let mut tasks = Vec::new();
    for c in 0..4 {
        let q = q.clone();
        tasks.push(tokio::spawn(async move {
            let mut seen = Vec::new();
            let consumer = format!("c{c}");
            while let Some(b) = q
                .claim(&consumer, 37, Duration::from_secs(30))
                .await
                .unwrap()
            {
                seen.extend(b.items.clone());
                q.ack(&b).await.unwrap();
            }
            seen
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    assert_eq!(all.len(), 2000);
    let unique: BTreeSet<_> = all.into_iter().collect();
    assert_eq!(unique.len(), 2000);
}

#[tokio::test]
async fn state_reports_size_and_age() {
    let redis = TestRedis::new().await;
    let q = DataQueue::new(redis.client(), &QueueName::UpdateIncoming);
    let empty = q.state().await.unwrap();
    assert_eq!((empty.size, empty.age), (0, None));
    q.push(&items(0..3)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(120)).await;
    q.push(&items(3..4)).await.unwrap();
    let s = q.state().await.unwrap();
    assert_eq!(s.size, 4);
    let age = s.age.unwrap();
    assert!(
        age >= Duration::from_millis(100),
        "age counts from the first push: {age:?}"
    );
    assert!(s.is_ready(4, Duration::from_secs(3600)));
    assert!(!s.is_ready(5, Duration::from_secs(3600)));
    assert!(s.is_ready(5, Duration::from_millis(100)));
    let b = q
        .claim("c", 10, Duration::from_secs(5))
        .await
        .unwrap()
        .unwrap();
    q.ack(&b).await.unwrap();
    assert_eq!(
        q.state().await.unwrap().age,
        None,
        "age resets when drained"
    );
}

#[tokio::test]
async fn push_of_nothing_is_a_no_op() {
    let redis = TestRedis::new().await;
    let q = DataQueue::new(redis.client(), &QueueName::UpdateIncoming);
    assert_eq!(q.push(&[]).await.unwrap(), 0);
    assert_eq!(q.state().await.unwrap().age, None);
}

#[tokio::test]
async fn push_once_is_atomic_and_deduplicated() {
    use ichnaea_core::CellShard;
    use ichnaea_runtime::queue::push_once;
    let redis = TestRedis::new().await;
    let client = redis.client();
    let a = DataQueue::new(client.clone(), &QueueName::UpdateCell(CellShard::ALL[2]));
    let b = DataQueue::new(client.clone(), &QueueName::UpdateCellArea);
    let pushes = vec![
        (a.key().to_owned(), items(0..1200)),
        (b.key().to_owned(), items(0..3)),
        ("update_datamap_ne".to_owned(), Vec::new()),
    ];
    assert!(
        push_once(&client, "marker:7", Duration::from_secs(60), &pushes)
            .await
            .unwrap()
    );
    assert!(
        !push_once(&client, "marker:7", Duration::from_secs(60), &pushes)
            .await
            .unwrap(),
        "second delivery pushes nothing"
    );
    assert_eq!(a.state().await.unwrap().size, 1200);
    assert_eq!(b.state().await.unwrap().size, 3);
    assert!(b.state().await.unwrap().age.is_some());
    let batch = a
        .claim("c", 2000, Duration::from_secs(5))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(batch.items, items(0..1200), "order kept across chunks");
}

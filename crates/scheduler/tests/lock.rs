//! Exactly one scheduler holds the lock; a standby takes over when the holder dies.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers panic when their setup fails"
)]

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ichnaea_scheduler::{LOCK_KEY, LeaderLock};
use ichnaea_testing::TestRedis;

async fn holder(redis: &TestRedis) -> Option<String> {
    let mut conn = redis.conn().await;
    redis::cmd("GET")
        .arg(LOCK_KEY)
        .query_async(&mut conn)
        .await
        .unwrap()
}

#[tokio::test]
async fn only_one_contender_holds_the_lock() {
    let redis = TestRedis::new().await;
    let a = LeaderLock::new(redis.client(), Duration::from_millis(600));
    let b = LeaderLock::new(redis.client(), Duration::from_millis(600));
    assert_ne!(a.id(), b.id());
    assert!(a.acquire_or_renew().await.unwrap());
    assert!(!b.acquire_or_renew().await.unwrap());
    assert!(a.acquire_or_renew().await.unwrap(), "the holder renews");
    assert_eq!(holder(&redis).await.as_deref(), Some(a.id()));

    // The holder stops renewing (it died): the lease runs out and b takes over.
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(b.acquire_or_renew().await.unwrap());
    assert!(
        !a.acquire_or_renew().await.unwrap(),
        "the old holder cannot come back"
    );
    // A stale holder cannot release the new holder's lock.
    a.release().await.unwrap();
    assert_eq!(holder(&redis).await.as_deref(), Some(b.id()));
    b.release().await.unwrap();
    assert_eq!(holder(&redis).await, None);
}

fn spawn_scheduler(redis_url: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_ichnaea-scheduler"))
        .args(["--lease-secs", "3"])
        .env("REDIS_URI", redis_url)
        .env("LOCAL_DEV_ENV", "true")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

async fn wait_for_holder(redis: &TestRedis, not: Option<&str>, within: Duration) -> String {
    let started = Instant::now();
    loop {
        if let Some(h) = holder(redis).await
            && Some(h.as_str()) != not
        {
            return h;
        }
        assert!(
            started.elapsed() < within,
            "no new holder within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn two_scheduler_processes_fail_over() {
    let redis = TestRedis::new().await;
    let mut first = spawn_scheduler(&redis.url());
    let first_id = wait_for_holder(&redis, None, Duration::from_secs(20)).await;
    let mut second = spawn_scheduler(&redis.url());
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        holder(&redis).await,
        Some(first_id.clone()),
        "the standby waits"
    );

    // SIGKILL the holder: no chance to release; the standby takes over within a lease.
    let pid = first.id() as i32;
    let (holder_child, standby) = if first_id.contains(&format!("-{pid}-")) {
        (&mut first, &mut second)
    } else {
        (&mut second, &mut first)
    };
    holder_child.kill().unwrap();
    holder_child.wait().unwrap();
    let new_id = wait_for_holder(&redis, Some(&first_id), Duration::from_secs(5)).await;
    assert_ne!(new_id, first_id);

    // SIGTERM: the holder releases the lock on the way out.
    let pid = standby.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = standby.wait().unwrap();
    assert!(status.success());
    assert_eq!(holder(&redis).await, None, "released on clean shutdown");
}

#[tokio::test]
async fn the_active_scheduler_triggers_interval_tasks() {
    let redis = TestRedis::new().await;
    let mut child = spawn_scheduler(&redis.url());
    wait_for_holder(&redis, None, Duration::from_secs(20)).await;
    let mut conn = redis.conn().await;
    let mut triggers: Vec<Vec<u8>> = Vec::new();
    for _ in 0..50 {
        triggers = redis::cmd("LRANGE")
            .arg("ichnaea_tasks")
            .arg(0)
            .arg(-1)
            .query_async(&mut conn)
            .await
            .unwrap();
        if triggers.len() >= 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let mut names: Vec<String> = triggers
        .iter()
        .map(|t| {
            serde_json::from_slice::<ichnaea_core::tasks::Trigger>(t)
                .unwrap()
                .task
        })
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "data.monitor_api_key_limits",
            "data.monitor_api_users",
            "data.monitor_queue_size_and_rate_control",
            "data.update_statcounter",
        ]
    );
}

#[test]
fn plans_fire_and_move_on() {
    let tasks = ichnaea_scheduler::catalogue(false, &[]).unwrap();
    let now = 1_705_017_600; // midnight UTC
    let mut plan = ichnaea_scheduler::Plan::new(tasks, now);
    let first: Vec<_> = plan.due(now).iter().map(|t| t.name).collect();
    assert_eq!(first.len(), 4, "interval tasks run at once: {first:?}");
    assert!(plan.due(now + 59).is_empty());
    let at_60: Vec<_> = plan.due(now + 60).iter().map(|t| t.name).collect();
    assert_eq!(at_60, ["data.monitor_queue_size_and_rate_control"]);
    let daily: Vec<_> = plan.due(now + 7 * 60).iter().map(|t| t.name).collect();
    assert!(daily.contains(&"data.update_statregion"), "{daily:?}");
}

#[test]
fn cell_exports_are_scheduled_only_when_enabled() {
    let names = |enabled| -> Vec<&str> {
        ichnaea_scheduler::catalogue(enabled, &[])
            .unwrap()
            .iter()
            .map(|t| t.name)
            .filter(|n| n.starts_with("data.cell_export"))
            .collect()
    };
    assert_eq!(
        names(true),
        ["data.cell_export_diff", "data.cell_export_full"]
    );
    assert!(names(false).is_empty());
}

#[test]
fn intervals_can_be_overridden() {
    let tasks =
        ichnaea_scheduler::catalogue(false, &[("data.update_statcounter".into(), 5)]).unwrap();
    let stat = tasks
        .iter()
        .find(|t| t.name == "data.update_statcounter")
        .unwrap();
    assert_eq!(stat.schedule, ichnaea_core::tasks::Schedule::Every(5));
    assert!(ichnaea_scheduler::catalogue(false, &[("data.cleanup_stat".into(), 5)]).is_err());
    assert!(ichnaea_scheduler::catalogue(false, &[("nope".into(), 5)]).is_err());
}

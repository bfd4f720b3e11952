//! The worker process starts with its configuration and stops cleanly on SIGTERM.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ichnaea_testing::{TestDb, TestRedis};

#[tokio::test]
async fn worker_starts_and_stops_on_sigterm() {
    let db = TestDb::new().await;
    let redis = TestRedis::new().await;
    let mut child = Command::new(env!("CARGO_BIN_EXE_ichnaea-worker"))
        .env("DB_READWRITE_URI", db.url())
        .env("REDIS_URI", redis.url())
        .env("LOCAL_DEV_ENV", "true")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(child.try_wait().unwrap().is_none(), "worker exited early");
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let started = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "no clean stop");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success());
}

#[test]
fn worker_refuses_missing_configuration() {
    let out = Command::new(env!("CARGO_BIN_EXE_ichnaea-worker"))
        .env_remove("DB_READWRITE_URI")
        .env_remove("REDIS_URI")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("DB_READWRITE_URI must be set") && err.contains("REDIS_URI must be set"),
        "{err}"
    );
}

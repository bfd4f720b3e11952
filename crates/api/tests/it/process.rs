//! The real `ichnaea-api` binary: starts with its configuration, answers, and shuts down
//! cleanly on SIGTERM.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ichnaea_testing::{TestDb, TestRedis};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One raw HTTP/1.1 request; returns the whole response text.
fn http(port: u16, request: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    stream.write_all(request.as_bytes()).ok()?;
    let mut out = String::new();
    stream.read_to_string(&mut out).ok()?;
    Some(out)
}

#[tokio::test]
async fn binary_serves_and_stops_on_sigterm() {
    let db = TestDb::new().await;
    let redis = TestRedis::new().await;
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ichnaea-api"))
        .args(["--bind", &format!("127.0.0.1:{port}")])
        .env("DB_READONLY_URI", db.url())
        .env("REDIS_URI", redis.url())
        .env("LOCAL_DEV_ENV", "true")
        .env("ICHNAEA_API_WORKERS", "1")
        .env_remove("GEOIP_PATH")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    let started = Instant::now();
    let mut answer = None;
    while started.elapsed() < Duration::from_secs(20) {
        answer = http(
            port,
            "GET /__lbheartbeat__ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        );
        if answer.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let answer = answer.expect("the api did not start");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with("{\"status\":\"OK\"}"), "{answer}");

    let head = http(
        port,
        "HEAD /__lbheartbeat__ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/json")
    );
    assert!(head.ends_with("\r\n\r\n"), "HEAD has no body: {head:?}");

    // Without a GeoIP database the heartbeat is 503 but the service runs.
    let hb = http(
        port,
        "GET /__heartbeat__ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    assert!(hb.starts_with("HTTP/1.1 503"), "{hb}");
    assert!(hb.contains("\"database\":{\"alembic_version\""), "{hb}");

    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let stopped = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            stopped.elapsed() < Duration::from_secs(35),
            "did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "exit status {status}");
    let mut logs = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut logs)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut logs)
        .unwrap();
    assert!(
        logs.contains("GEOIP_PATH is not set"),
        "says so in its log: {logs}"
    );
    assert!(
        logs.contains("GET /__lbheartbeat__ - 200"),
        "canonical log line: {logs}"
    );
}

#[test]
fn binary_refuses_bad_configuration() {
    let out = Command::new(env!("CARGO_BIN_EXE_ichnaea-api"))
        .env_remove("DB_READONLY_URI")
        .env_remove("REDIS_URI")
        .env_remove("LOCAL_DEV_ENV")
        .env_remove("SECRET_KEY")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    for needle in [
        "DB_READONLY_URI must be set",
        "REDIS_URI must be set",
        "SECRET_KEY",
    ] {
        assert!(err.contains(needle), "{needle}: {err}");
    }
}

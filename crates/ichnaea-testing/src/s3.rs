//! A real S3-compatible server for tests: moto's server mode, started on a free loopback
//! port for the life of the value.
//!
//! `moto_server` comes from PyPI (`pip install moto flask flask-cors`); the test command
//! installs it. A missing `moto_server` fails the test with a message saying so; tests
//! never skip.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running S3-compatible server with one bucket.
pub struct TestS3 {
    child: Child,
    endpoint: String,
    bucket: String,
}

impl TestS3 {
    /// Starts a server and creates the bucket `bucket`.
    pub async fn start(bucket: &str) -> TestS3 {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let binary = std::env::var("TEST_MOTO_SERVER").unwrap_or_else(|_| "moto_server".into());
        let child = Command::new(&binary)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start {binary} ({e}); install it with: pip install moto flask flask-cors")
            });
        let endpoint = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        let client = reqwest::Client::new();
        loop {
            if client.get(&endpoint).send().await.is_ok() {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "moto_server did not start"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // Creating a bucket is a plain PUT; moto accepts unsigned requests.
        let res = client
            .put(format!("{endpoint}/{bucket}"))
            .send()
            .await
            .expect("create the bucket");
        assert!(
            res.status().is_success(),
            "bucket creation: {}",
            res.status()
        );
        TestS3 {
            child,
            endpoint,
            bucket: bucket.to_owned(),
        }
    }

    /// The endpoint URL (`S3_ENDPOINT_URL`).
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The bucket.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The AWS variables S3 clients need for this server (fixed test credentials and
    /// region), for child processes.
    pub const AWS_ENV: [(&'static str, &'static str); 3] = [
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_REGION", "us-east-1"),
    ];

    /// Checks that this process has [`TestS3::AWS_ENV`] in its environment (the test
    /// command sets it; setting it from a test would race with other threads).
    pub fn require_aws_env() {
        for (k, v) in Self::AWS_ENV {
            assert!(
                std::env::var(k).as_deref() == Ok(v),
                "set {k}={v} for the S3 tests (scripts/test.sh does)"
            );
        }
    }
}

impl Drop for TestS3 {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

//! Helpers for the system tests: the deployment's binaries (`ichnaea-admin`,
//! `ichnaea-api`, `ichnaea-worker`, `ichnaea-scheduler`) started as real processes that
//! talk to each other only through MySQL and Redis, as in production.
//!
//! Each crate's own tests cover its binary alone; this crate exists so that the
//! architecture itself, separate services sharing nothing but the database and the
//! queues, has a test. The binaries are the ones cargo built beside this test
//! executable: `scripts/test.sh` (or `cargo nextest run --workspace`) builds them all
//! before any test runs.

use std::fs::File;
use std::io::Read as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The path of a workspace binary built with this test (`target/<profile>/<name>`).
///
/// # Panics
/// When the binary was not built: the message says how to build it.
pub fn service_bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable's path");
    // Test executables live in `target/<profile>/deps/`, binaries one level up.
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test executable is in target/<profile>/deps");
    let bin = profile_dir.join(name);
    assert!(
        bin.is_file(),
        "{} was not built; run the system tests through scripts/test.sh or \
         `cargo nextest run --workspace`, which build every service binary",
        bin.display()
    );
    bin
}

/// A free TCP port on the loopback interface.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// Runs a workspace binary to completion with `env`; returns its exit status and its
/// stdout and stderr.
pub fn run(name: &str, args: &[&str], env: &[(&str, &str)]) -> (ExitStatus, String, String) {
    let out = Command::new(service_bin(name))
        .args(args)
        .envs(env.iter().copied())
        .env_remove("GEOIP_PATH")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {name}: {e}"));
    (
        out.status,
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A service process, killed when dropped. Its output goes to a temporary file, shown by
/// [`Service::output`] when a test needs to explain a failure.
pub struct Service {
    name: String,
    child: Child,
    log: tempfile::NamedTempFile,
}

impl Service {
    /// Starts the workspace binary `name` with `args` and `env` (on top of the test's own
    /// environment, without `GEOIP_PATH`).
    pub fn start(name: &str, args: &[&str], env: &[(&str, &str)]) -> Service {
        let log = tempfile::NamedTempFile::new().expect("a log file");
        let out = log.reopen().expect("the log file");
        let err = out.try_clone().expect("the log file");
        let child = Command::new(service_bin(name))
            .args(args)
            .envs(env.iter().copied())
            .env_remove("GEOIP_PATH")
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Service {
            name: name.to_owned(),
            child,
            log,
        }
    }

    /// Everything the process wrote so far (stdout and stderr).
    pub fn output(&self) -> String {
        let mut text = String::new();
        if let Ok(mut file) = File::open(self.log.path()) {
            let _ = file.read_to_string(&mut text);
        }
        format!("--- {} output ---\n{text}", self.name)
    }

    /// Sends SIGTERM and waits up to `within` for the process to exit; returns its status,
    /// or `None` if it did not stop in time (it is then killed).
    pub fn terminate(mut self, within: Duration) -> Option<ExitStatus> {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let started = Instant::now();
        while started.elapsed() < within {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Polls `probe` every 100 ms until it returns `Some`, for at most `within`.
pub async fn wait_for<T, F, Fut>(within: Duration, mut probe: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let started = Instant::now();
    loop {
        if let Some(value) = probe().await {
            return Some(value);
        }
        if started.elapsed() > within {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The API key the system tests create.
pub const KEY: &str = "system-test";

/// Migrates the empty database at `db_url` with `ichnaea-admin migrate` and creates
/// [`KEY`] with `ichnaea-admin api-key create`. Locate queries of the key are not fed back
/// into the pipeline, so what the tests count is exactly what they submitted.
pub fn migrate_and_create_key(db_url: &str) {
    let env = [("DB_READWRITE_URI", db_url)];
    let (status, _, stderr) = run("ichnaea-admin", &["migrate"], &env);
    assert!(status.success(), "migrate failed: {stderr}");
    let (status, _, stderr) = run(
        "ichnaea-admin",
        &["api-key", "create", KEY, "--store-sample-locate", "0"],
        &env,
    );
    assert!(status.success(), "api-key create failed: {stderr}");
}

/// A running `ichnaea-api` and an HTTP client for it.
pub struct Api {
    /// The process.
    pub service: Service,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// A client with a 10 s timeout.
    pub http: reqwest::Client,
}

impl Api {
    /// Starts `ichnaea-api` on a free port with a production configuration (a private
    /// `SECRET_KEY`, not `LOCAL_DEV_ENV`) plus `env`, and waits until it answers.
    pub async fn start(db_url: &str, redis_url: &str, env: &[(&str, &str)]) -> Api {
        let bind = format!("127.0.0.1:{}", free_port());
        let mut all = vec![
            ("DB_READONLY_URI", db_url),
            ("REDIS_URI", redis_url),
            ("ICHNAEA_API_WORKERS", "1"),
            ("LOGGING_LEVEL", "WARNING"),
            ("SECRET_KEY", "a-private-secret-for-the-system-test"),
        ];
        all.extend_from_slice(env);
        let service = Service::start("ichnaea-api", &["--bind", &bind], &all);
        let api = Api {
            service,
            base: format!("http://{bind}"),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .expect("an HTTP client"),
        };
        let up = wait_for(Duration::from_secs(30), || async {
            let res = api
                .http
                .get(format!("{}/__lbheartbeat__", api.base))
                .send()
                .await
                .ok()?;
            res.status().is_success().then_some(())
        })
        .await;
        assert!(
            up.is_some(),
            "the api did not start\n{}",
            api.service.output()
        );
        api
    }

    /// Posts `{"items": items}` to `/v2/geosubmit` with [`KEY`] and checks the reference's
    /// `200 {}` answer.
    pub async fn geosubmit(&self, items: &[serde_json::Value]) {
        let res = self
            .http
            .post(format!("{}/v2/geosubmit?key={KEY}", self.base))
            .json(&serde_json::json!({ "items": items }))
            .send()
            .await
            .expect("the submission is answered");
        assert_eq!(res.status().as_u16(), 200, "{}", self.service.output());
        assert_eq!(res.text().await.unwrap_or_default(), "{}");
    }

    /// `/v1/geolocate` with [`KEY`]: the answer's JSON when the status is 200.
    pub async fn locate(&self, query: &serde_json::Value) -> Option<serde_json::Value> {
        let res = self
            .http
            .post(format!("{}/v1/geolocate?key={KEY}", self.base))
            .json(query)
            .send()
            .await
            .ok()?;
        if res.status().as_u16() != 200 {
            return None;
        }
        res.json().await.ok()
    }
}

/// Starts `ichnaea-worker` with batches that never wait (a single report reaches the
/// station tables at once) plus `env`.
pub fn start_worker(db_url: &str, redis_url: &str, env: &[(&str, &str)]) -> Service {
    let mut all = vec![
        ("DB_READWRITE_URI", db_url),
        ("REDIS_URI", redis_url),
        ("LOGGING_LEVEL", "WARNING"),
        ("WORKER_POLL_INTERVAL_MS", "100"),
        ("EXPORT_MAX_AGE_SECS", "0"),
        ("WORKER_STATION_MAX_AGE_MS", "0"),
    ];
    all.extend_from_slice(env);
    Service::start("ichnaea-worker", &[], &all)
}

/// A small submission: three GNSS reports a few metres apart, each seeing the same three
/// WiFi access points and one LTE cell.
pub struct Sample {
    /// The access points, as a locate query's `wifiAccessPoints`.
    pub wifis: serde_json::Value,
    /// The cell, as one entry of `cellTowers`.
    pub cell: serde_json::Value,
    /// The geosubmit reports.
    pub items: Vec<serde_json::Value>,
}

impl Sample {
    /// The sample around (`lat`, `lon`), with access points `3c:a6:2f:00:10:0<n>` and the
    /// LTE cell 208/1/9000/1234567, timestamped now.
    pub fn at(lat: f64, lon: f64) -> Sample {
        use serde_json::json;
        let wifis = json!([
            {"macAddress": "3c:a6:2f:00:10:01", "signalStrength": -52},
            {"macAddress": "3c:a6:2f:00:10:02", "signalStrength": -63},
            {"macAddress": "3c:a6:2f:00:10:03", "signalStrength": -71}]);
        let cell = json!({"radioType": "lte", "mobileCountryCode": 208, "mobileNetworkCode": 1,
                          "locationAreaCode": 9000, "cellId": 1_234_567, "signalStrength": -90});
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        let items = (0..3)
            .map(|i| {
                json!({"timestamp": now_ms, "wifiAccessPoints": wifis, "cellTowers": [cell],
                       "position": {"latitude": lat + 0.000_005 * f64::from(i),
                                    "longitude": lon, "accuracy": 5.0, "source": "gnss"}})
            })
            .collect();
        Sample { wifis, cell, items }
    }
}

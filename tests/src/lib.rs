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

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
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

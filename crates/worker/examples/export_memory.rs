//! Memory benchmark of the full public cell export (`docs/benchmarks.md`, "Cell import"):
//! exports every cell of the database at `BENCH_DB_URL` (for example the one
//! `scripts/bench-load-cells.sh` fills) into a temporary directory and prints the peak
//! resident memory of the process. It fails if that exceeds 100 MiB.
//!
//! `BENCH_DB_URL=mysql://root@127.0.0.1:3306/ichnaea_bench_cells cargo run --release -p ichnaea-worker --example export_memory`

use anyhow::Context;
use ichnaea_core::cellcsv::{ExportKind, ExportPlan};
use ichnaea_core::time::DateTime;
use ichnaea_db::DbPool;
use ichnaea_runtime::config::AssetSettings;
use ichnaea_worker::tasks::cell_export::export;

/// The process's peak resident memory (`VmHWM`), in KiB.
fn peak_rss_kib() -> anyhow::Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmHWM in /proc/self/status")
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let url = std::env::var("BENCH_DB_URL").context("set BENCH_DB_URL to a filled database")?;
    let pool = DbPool::new(&ichnaea_db::PoolConfig {
        url: url.into(),
        max_size: 1,
        timeout: std::time::Duration::from_secs(30),
    })?;
    let dir = tempfile::tempdir()?;
    let store = ichnaea_runtime::object_store::build(&AssetSettings {
        bucket: None,
        url: None,
        dir: dir.path().to_owned(),
        s3_endpoint: None,
        cell_exports: true,
    })?;
    let before = peak_rss_kib()?;
    let started = std::time::Instant::now();
    let plan = ExportKind::Full.plan(DateTime::from_unix_seconds(chrono::Utc::now().timestamp()));
    // Benchmark files hold cells modified long ago: export everything.
    let plan = ExportPlan {
        from: DateTime::from_unix_seconds(0),
        ..plan
    };
    let result = export(&pool, store, &plan).await?;
    let peak = peak_rss_kib()?;
    println!(
        "exported {} rows, {} bytes in {:.1} s; peak RSS {peak} KiB (before the export {before} KiB)",
        result.rows,
        result.bytes,
        started.elapsed().as_secs_f64(),
    );
    anyhow::ensure!(peak < 100 * 1024, "peak RSS {peak} KiB exceeds 100 MiB");
    Ok(())
}

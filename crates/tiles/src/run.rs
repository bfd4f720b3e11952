//! One rendering run: datamap → pyramid → object store.
//!
//! Three stages run at once, joined by bounded channels so memory stays bounded however
//! large the datamap is: the database reader (async, one page at a time), the pyramid
//! (a blocking thread whose tile rendering uses a rayon pool of `concurrency` threads),
//! and the publisher (async uploads of new or changed tiles). Deletions of tiles no
//! longer rendered, the manifest and `data.json` are written only after everything else
//! succeeded; an empty datamap renders nothing and leaves the store alone, as the
//! reference does.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use anyhow::Context;
use ichnaea_core::time::Date;
use ichnaea_db::DbPool;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::sync::mpsc;

use crate::pyramid::{Pyramid, PyramidStats, TileImage};
use crate::source::{self, Cell, SourceStats};
use crate::store::{SyncStats, TileStore};

/// How a run renders.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Rendering threads (default: all CPUs available to the process).
    pub concurrency: Option<usize>,
    /// Deepest zoom (the reference's 11).
    pub max_zoom: u8,
    /// Rows per database page.
    pub page_size: usize,
    /// Show a progress bar on a terminal (never drawn when stderr is not one).
    pub progress: bool,
}

impl Default for RunOptions {
    fn default() -> RunOptions {
        RunOptions {
            concurrency: None,
            max_zoom: crate::mercator::MAX_ZOOM,
            page_size: source::DEFAULT_PAGE_SIZE,
            progress: true,
        }
    }
}

/// The statistics of a run (also written to `tiles/data.json`).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct RunStats {
    /// What was read.
    pub source: SourceStats,
    /// What was rendered.
    pub pyramid: PyramidStats,
    /// What was published.
    pub sync: SyncStats,
    /// Wall time of the run.
    pub duration_s: f64,
}

/// Renders the datamap of `pool` into `output`; `today` dates the cells' age.
pub async fn run(
    pool: &DbPool,
    output: &TileStore,
    options: &RunOptions,
    today: Date,
) -> anyhow::Result<RunStats> {
    let started = Instant::now();
    let threads = options
        .concurrency
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let rayon_pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("tiles-render-{i}"))
        .build()
        .context("starting the render threads")?;

    let progress = progress_bar(options.progress);
    let mut state = output.begin().await.context("listing the stored tiles")?;

    // `None` marks the end of the data: a reader that fails just drops the sender, and
    // the pyramid is then abandoned instead of finished, so a failed read never publishes
    // shallow tiles that lack the unread part of the world.
    let (cells_tx, mut cells_rx) = mpsc::channel::<Option<Vec<Cell>>>(2);
    let (tiles_tx, mut tiles_rx) = mpsc::channel::<Vec<TileImage>>(4);
    let max_zoom = options.max_zoom;
    let render = tokio::task::spawn_blocking(move || {
        rayon_pool.install(|| {
            let mut pyramid = Pyramid::with_max_zoom(max_zoom, |tiles| {
                tiles_tx
                    .blocking_send(tiles)
                    .map_err(|_| "the publisher stopped".to_owned())
            });
            while let Some(message) = cells_rx.blocking_recv() {
                let Some(cells) = message else {
                    return pyramid.finish().map(Some);
                };
                for cell in cells {
                    pyramid.add_cell(cell.lat_scaled, cell.lon_scaled, cell.months)?;
                }
            }
            Ok(None)
        })
    });

    let read = {
        let progress = progress.clone();
        async move {
            let stats = source::read_cells(pool, today, options.page_size, async |cells| {
                progress.inc(cells.len() as u64);
                cells_tx.send(Some(cells)).await.is_ok()
            })
            .await;
            if stats.is_ok() {
                // The renderer may have stopped already; its error is reported below.
                let _ = cells_tx.send(None).await;
            }
            drop(cells_tx);
            stats
        }
    };
    let upload_concurrency = threads * 4;
    let publish = async {
        let mut tiles_seen = 0u64;
        while let Some(tiles) = tiles_rx.recv().await {
            tiles_seen += tiles.len() as u64;
            output
                .publish(&mut state, tiles, upload_concurrency)
                .await
                .context("uploading tiles")?;
            let sync = state.stats();
            progress.set_message(format!(
                "{tiles_seen} tiles, {} uploaded",
                sync.tile_new + sync.tile_changed
            ));
        }
        anyhow::Ok(())
    };
    let (read, published) = tokio::join!(read, publish);
    let rendered = render.await.context("the render thread panicked")?;
    let source_stats = read.context("reading the datamap tables")?;
    let pyramid_stats = rendered.context("rendering tiles")?;
    published?;
    let Some(pyramid_stats) = pyramid_stats else {
        anyhow::bail!("the datamap reader stopped before the end of the data");
    };

    let mut stats = RunStats {
        source: source_stats,
        pyramid: pyramid_stats,
        sync: state.stats(),
        duration_s: 0.0,
    };
    if stats.pyramid.tiles > 0 {
        stats.duration_s = started.elapsed().as_secs_f64();
        let mut summary = serde_json::to_value(&stats).unwrap_or_default();
        if let Some(map) = summary.as_object_mut() {
            map.insert(
                "updated".to_owned(),
                serde_json::Value::String(chrono::Utc::now().to_rfc3339()),
            );
        }
        output
            .finish(&mut state, &summary)
            .await
            .context("finishing the tile upload")?;
        stats.sync = state.stats();
    }
    stats.duration_s = started.elapsed().as_secs_f64();
    progress.finish_and_clear();
    Ok(stats)
}

fn progress_bar(enabled: bool) -> ProgressBar {
    let target = if enabled && std::io::stderr().is_terminal() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    };
    let bar = ProgressBar::with_draw_target(None, target);
    if let Ok(style) = ProgressStyle::with_template("{spinner} {elapsed} {pos} cells read, {msg}") {
        bar.set_style(style);
    }
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

//! `ichnaea-admin load-cells FILE…`: imports public cell CSV files (MLS exports or
//! OpenCellID downloads, plain or gzip, full or differential; `pipeline.md` §12).
//!
//! Built for files of tens of millions of rows:
//!
//! * The file is streamed line by line (gzip detected by its magic bytes, not its name);
//!   memory is a few batches of rows, whatever the file size.
//! * Parsing and region lookup run on this task while two writer tasks, each with its own
//!   connection, import the previous batches, so the database and the CPU work overlap.
//!   Each batch is [`BATCH_ROWS`] rows of one radio, written by
//!   [`ichnaea_db::cells::import_cells`]: `LOAD DATA LOCAL INFILE` into a staging table,
//!   then one guarded `INSERT … SELECT … ON DUPLICATE KEY UPDATE` in one transaction (the
//!   server's CPU per row is what limits an import; see that module for why this form).
//!   A server that refuses `LOAD DATA LOCAL` gets the slower multi-row `INSERT` staging
//!   instead; the summary says which one ran, and after a refusal the next files start
//!   with `INSERT` rather than asking again.
//! * A bad row is counted under its [`SkipReason`] and skipped; it never aborts the file
//!   (the reference aborted on unknown radios and on a bad first row).
//! * Re-importing a file changes nothing: a station is only overwritten by a row with a
//!   newer `updated` time.
//!
//! Afterwards the areas of new and updated cells are pushed to the `update_cellarea` queue
//! and a `data.update_statregion` trigger to the task queue, so running workers recompute
//! areas and region statistics (the reference ran both inline). Without `REDIS_URI` that
//! step is skipped and said so.
//!
//! Unlike the reference, the command does not require `LOCAL_DEV_ENV`: the import is
//! idempotent and never makes a station older, so it is safe on a production database.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use ichnaea_core::cellcsv::{SkipReason, is_header, parse_line};
use ichnaea_core::shard::CellShard;
use ichnaea_core::tasks::{CATALOGUE, Trigger};
use ichnaea_core::{CellAreaId, QueueName, Radio};
use ichnaea_db::cells::{
    CellImportRow, IMPORT_ROWS_PER_CHUNK, ImportConnection, ImportOutcome, StageMethod,
    import_cells,
};
use ichnaea_geocode::Geocoder;
use ichnaea_runtime::config::Settings;
use ichnaea_runtime::{DataQueue, RedisClient};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use secrecy::SecretString;
use tokio::sync::{Mutex, mpsc};

/// Rows per import call (one staged chunk, one transaction).
pub const BATCH_ROWS: usize = IMPORT_ROWS_PER_CHUNK;

/// Concurrent writer connections: on the 2-core benchmark machine two keep the server
/// busy on both cores while this task parses.
const WRITERS: usize = 2;

/// Area ids per queue push.
const AREA_PUSH: usize = 1000;

/// The totals of an import, for the summary.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadSummary {
    /// Data lines read (header lines and blank lines not counted).
    pub rows: u64,
    /// Stations created.
    pub new: u64,
    /// Stations overwritten by newer rows.
    pub updated: u64,
    /// Valid rows that changed nothing (already loaded, or older than the station).
    pub unchanged: u64,
    /// Rows skipped, by reason.
    pub skipped: BTreeMap<SkipReason, u64>,
    /// Areas of new and updated cells.
    pub areas: BTreeSet<CellAreaId>,
    /// How rows were staged: `None` when nothing was written, [`StageMethod::Insert`]
    /// when any connection had to fall back to it.
    pub stage: Option<StageMethod>,
}

impl LoadSummary {
    fn add(&mut self, outcome: ImportOutcome) {
        self.new += outcome.new;
        self.updated += outcome.updated;
        self.unchanged += outcome.unchanged;
        self.areas.extend(outcome.areas);
    }

    /// Records a connection's staging method (the fallback wins: it is the one to report).
    fn add_stage(&mut self, stage: Option<StageMethod>) {
        self.stage = self.stage.max(stage);
    }

    /// Rows skipped, all reasons.
    pub fn skipped_total(&self) -> u64 {
        self.skipped.values().sum()
    }

    fn write(&self, out: &mut impl Write, elapsed: Duration) -> std::io::Result<()> {
        let secs = elapsed.as_secs_f64().max(1e-9);
        writeln!(
            out,
            "rows read: {}, imported: {} (new {}, updated {}, unchanged {}), skipped: {}; {:.1} s, {:.0} rows/s",
            self.rows,
            self.new + self.updated + self.unchanged,
            self.new,
            self.updated,
            self.unchanged,
            self.skipped_total(),
            secs,
            self.rows as f64 / secs,
        )?;
        for (reason, count) in &self.skipped {
            writeln!(out, "  skipped, {reason}: {count}")?;
        }
        if let Some(stage) = self.stage {
            writeln!(out, "  staged with {stage}")?;
        }
        Ok(())
    }
}

/// Counts the bytes read through it (progress of a compressed file).
struct Counting<R> {
    inner: R,
    bar: ProgressBar,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bar.inc(n as u64);
        Ok(n)
    }
}

/// Opens a file as lines, gunzipping it when it starts with the gzip magic bytes.
fn open_lines(path: &Path, bar: &ProgressBar) -> Result<Box<dyn BufRead>> {
    let mut file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut magic = [0u8; 2];
    let n = file.read(&mut magic)?;
    let counting = Counting {
        inner: std::io::Cursor::new(magic[..n].to_vec()).chain(file),
        bar: bar.clone(),
    };
    let reader = BufReader::with_capacity(1 << 16, counting);
    Ok(if n == 2 && magic == [0x1f, 0x8b] {
        Box::new(BufReader::with_capacity(
            1 << 16,
            flate2::bufread::MultiGzDecoder::new(reader),
        ))
    } else {
        Box::new(reader)
    })
}

/// Imports `files` into the database at `url` (`DB_READWRITE_URI`), writing progress to
/// stderr (when it is a terminal) and the summaries to `out`.
pub async fn load_cells(
    settings: &Settings,
    url: &SecretString,
    files: &[PathBuf],
    out: &mut impl Write,
) -> Result<LoadSummary> {
    for path in files {
        if !path.is_file() {
            anyhow::bail!("{} does not exist or is not a file", path.display());
        }
    }
    let geocoder = Geocoder::new()?;
    let mut total = LoadSummary::default();
    let started = Instant::now();
    // Until the server refuses it; a refusal holds for the following files too.
    let mut stage = StageMethod::LoadData;
    for path in files {
        let file_started = Instant::now();
        writeln!(out, "{}:", path.display())?;
        let summary = load_file(url, &geocoder, path, stage).await?;
        if summary.stage == Some(StageMethod::Insert) {
            stage = StageMethod::Insert;
        }
        summary.write(out, file_started.elapsed())?;
        total.rows += summary.rows;
        total.new += summary.new;
        total.updated += summary.updated;
        total.unchanged += summary.unchanged;
        for (reason, count) in summary.skipped {
            *total.skipped.entry(reason).or_default() += count;
        }
        total.areas.extend(summary.areas);
        total.add_stage(summary.stage);
    }
    if files.len() > 1 {
        writeln!(out, "total:")?;
        total.write(out, started.elapsed())?;
    }
    queue_follow_ups(settings, &total.areas, out).await?;
    Ok(total)
}

/// Imports one file, staging with `stage` first.
async fn load_file(
    url: &SecretString,
    geocoder: &Geocoder,
    path: &Path,
    stage: StageMethod,
) -> Result<LoadSummary> {
    let size = std::fs::metadata(path)?.len();
    let bar = ProgressBar::with_draw_target(Some(size), ProgressDrawTarget::stderr());
    bar.set_style(ProgressStyle::with_template(
        "{bar:40} {bytes}/{total_bytes} {elapsed_precise} (eta {eta}) {msg}",
    )?);
    let mut lines = open_lines(path, &bar)?;

    // Writers import batches while this task parses the next ones.
    let (send, receive) = mpsc::channel::<(CellShard, Vec<CellImportRow>)>(2 * WRITERS);
    let receive = Arc::new(Mutex::new(receive));
    let mut writers = Vec::with_capacity(WRITERS);
    for _ in 0..WRITERS {
        let url = url.clone();
        let receive = receive.clone();
        writers.push(tokio::spawn(async move {
            let mut conn = ImportConnection::connect_with(&url, stage).await?;
            let mut done = LoadSummary::default();
            loop {
                let next = receive.lock().await.recv().await;
                let Some((shard, rows)) = next else { break };
                done.add(import_cells(&mut conn, shard, &rows).await?);
                done.add_stage(Some(conn.stage_method()));
            }
            conn.close().await?;
            Ok::<_, anyhow::Error>(done)
        }));
    }

    let mut summary = LoadSummary::default();
    let mut batches: BTreeMap<Radio, Vec<CellImportRow>> = BTreeMap::new();
    let mut line = String::new();
    let mut first = true;
    loop {
        line.clear();
        let read = match lines.read_line(&mut line) {
            Ok(n) => n,
            // Not UTF-8: count the line as unreadable and go on.
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                summary.rows += 1;
                *summary.skipped.entry(SkipReason::NotText).or_default() += 1;
                continue;
            }
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        if read == 0 {
            break;
        }
        if line.trim().is_empty() {
            continue;
        }
        if std::mem::take(&mut first) && is_header(&line) {
            continue;
        }
        summary.rows += 1;
        match parse_line(&line) {
            Ok(cell) => {
                let region = geocoder.region_for_cell(cell.lat, cell.lon, cell.id.mcc());
                let radio = cell.id.radio();
                let batch = batches.entry(radio).or_default();
                batch.push(CellImportRow { cell, region });
                if batch.len() >= BATCH_ROWS {
                    let rows = std::mem::replace(batch, Vec::with_capacity(BATCH_ROWS));
                    if send
                        .send((CellShard::for_radio(radio), rows))
                        .await
                        .is_err()
                    {
                        break; // the writer failed; its error is reported below
                    }
                }
            }
            Err(reason) => *summary.skipped.entry(reason).or_default() += 1,
        }
        if summary.rows % 10_000 == 0 {
            bar.set_message(format!("{} rows", summary.rows));
        }
    }
    for (radio, rows) in batches {
        if !rows.is_empty()
            && send
                .send((CellShard::for_radio(radio), rows))
                .await
                .is_err()
        {
            break;
        }
    }
    drop(send);
    bar.finish_and_clear();
    for writer in writers {
        let written = writer.await.context("an import writer stopped")??;
        summary.new += written.new;
        summary.updated += written.updated;
        summary.unchanged += written.unchanged;
        summary.areas.extend(written.areas);
        summary.add_stage(written.stage);
    }
    Ok(summary)
}

/// Queues the touched areas and a region statistics run for the workers.
async fn queue_follow_ups(
    settings: &Settings,
    areas: &BTreeSet<CellAreaId>,
    out: &mut impl Write,
) -> Result<()> {
    let Some(uri) = settings.redis.uri.as_ref() else {
        writeln!(
            out,
            "REDIS_URI is not set: {} cell areas were not queued for recomputation",
            areas.len()
        )?;
        return Ok(());
    };
    let redis = RedisClient::new(uri, settings.redis.pool_max_size, settings.redis.timeout)?;
    let queue = DataQueue::new(redis.clone(), &QueueName::UpdateCellArea);
    let ids: Vec<Vec<u8>> = areas.iter().map(CellAreaId::to_bytes).collect();
    for chunk in ids.chunks(AREA_PUSH) {
        queue.push(chunk).await?;
    }
    if let Some(task) = CATALOGUE
        .iter()
        .find(|t| t.name == "data.update_statregion")
    {
        let trigger = Trigger::new(task, chrono::Utc::now().timestamp_millis());
        DataQueue::new(redis, &QueueName::Tasks)
            .push(&[serde_json::to_vec(&trigger)?])
            .await?;
    }
    writeln!(
        out,
        "queued {} cell areas and a region statistics update for the workers",
        areas.len()
    )?;
    Ok(())
}

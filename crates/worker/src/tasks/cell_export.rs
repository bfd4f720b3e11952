//! `data.cell_export_full` and `data.cell_export_diff`: the public cell export
//! (`pipeline.md` §11.1) to the object store, as `export/MLS-full-cell-export-….csv.gz`
//! (daily) and `export/MLS-diff-cell-export-….csv.gz` (hourly).
//!
//! The export streams, so its memory is bounded whatever the size of the cell tables:
//! one page of 25 000 rows is read at a time ([`ichnaea_db::cells::page_stations`], keyset
//! pagination on `cellid`), each page is formatted ([`ichnaea_core::cellcsv`]) into a gzip
//! encoder (level 5, as the reference), and the compressed bytes are handed to an
//! `object_store` [`BufWriter`] that turns them into a multipart upload of 6 MiB parts,
//! at most two in flight. Peak memory is one page plus about three parts (~30 MB), for a
//! table of any size. A failed export aborts its upload, so no truncated file appears.
//!
//! Tables are exported in the order `cell_gsm`, `cell_wcdma`, `cell_lte`, then `cell_nr`
//! (an extension, radio `NR`). Only positioned rows are written; a diff takes rows
//! modified in the previous whole hour, a full export those modified within 365 days.
//!
//! The reference scheduled the exports only with `ASSET_BUCKET` set; here they are
//! scheduled unless `CELL_EXPORT_ENABLED` is off (the catalogue's
//! [`ichnaea_core::tasks::Requirement::CellExports`]), and without a bucket they go to the
//! local asset directory like every other asset.

use std::future::poll_fn;
use std::io::Write;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use ichnaea_core::cellcsv::{ExportKind, ExportPlan, HEADER, write_export_line};
use ichnaea_core::shard::CellShard;
use ichnaea_core::time::DateTime;
use ichnaea_db::cells::{PageFilter, page_stations};
use ichnaea_db::{DbPool, StationTable};
use object_store::ObjectStore;
use object_store::buffered::BufWriter;
use object_store::path::Path;
use tokio::io::AsyncWrite;

use crate::WorkerState;

/// Rows per database page (the reference's `LIMIT`).
pub const PAGE: i64 = 25_000;

/// Multipart part size (S3 needs at least 5 MiB).
const PART: usize = 6 * 1024 * 1024;

/// What an export wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportResult {
    /// The object written.
    pub object: String,
    /// Cell lines written.
    pub rows: u64,
    /// Compressed bytes written.
    pub bytes: u64,
}

/// Runs one export of `kind` now, to the configured asset store.
pub async fn run(state: &WorkerState, kind: ExportKind) -> anyhow::Result<()> {
    let store = ichnaea_runtime::object_store::build(&state.assets)?;
    let now = DateTime::from_unix_seconds(chrono::Utc::now().timestamp());
    let plan = kind.plan(now);
    let result = export(state.db.write()?, store, &plan).await?;
    tracing::info!(
        task = kind.task_name(),
        object = %result.object,
        rows = result.rows,
        bytes = result.bytes,
        "public cell export written"
    );
    Ok(())
}

/// Writes the export `plan` from the cell tables of `pool` to `store`.
pub async fn export(
    pool: &DbPool,
    store: Arc<dyn ObjectStore>,
    plan: &ExportPlan,
) -> anyhow::Result<ExportResult> {
    let mut upload = BufWriter::with_capacity(store, Path::from(plan.object.as_str()), PART)
        .with_max_concurrency(2);
    match write_all(pool, plan, &mut upload).await {
        Ok((rows, bytes)) => {
            poll_fn(|cx| Pin::new(&mut upload).poll_shutdown(cx)).await?;
            Ok(ExportResult {
                object: plan.object.clone(),
                rows,
                bytes,
            })
        }
        Err(e) => {
            if let Err(abort) = upload.abort().await {
                tracing::warn!(error = %abort, "could not abort the export upload");
            }
            Err(e)
        }
    }
}

/// Moves the compressed bytes produced so far into the upload.
async fn drain(
    gz: &mut flate2::write::GzEncoder<Vec<u8>>,
    upload: &mut BufWriter,
    bytes: &mut u64,
) -> anyhow::Result<()> {
    let chunk = std::mem::take(gz.get_mut());
    if !chunk.is_empty() {
        *bytes += chunk.len() as u64;
        upload.put(Bytes::from(chunk)).await?;
    }
    Ok(())
}

async fn write_all(
    pool: &DbPool,
    plan: &ExportPlan,
    upload: &mut BufWriter,
) -> anyhow::Result<(u64, u64)> {
    let filter = PageFilter {
        positioned: true,
        modified_from: Some(plan.from),
        modified_before: plan.until,
        bbox: None,
    };
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(5));
    write!(gz, "{HEADER}\r\n")?;
    let mut conn = pool.get().await?;
    let (mut rows, mut bytes) = (0u64, 0u64);
    for shard in CellShard::ALL {
        let mut cursor: Option<Vec<u8>> = None;
        loop {
            let page = page_stations(
                &mut conn,
                StationTable::Cell(shard),
                cursor.as_deref(),
                &filter,
                PAGE,
            )
            .await?;
            for row in &page.rows {
                if write_export_line(&mut gz, row)? {
                    rows += 1;
                }
            }
            drain(&mut gz, upload, &mut bytes).await?;
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
    }
    let rest = gz.finish()?;
    bytes += rest.len() as u64;
    upload.put(Bytes::from(rest)).await?;
    Ok((rows, bytes))
}

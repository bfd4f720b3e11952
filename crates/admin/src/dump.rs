//! `ichnaea-admin dump`: writes every station of one type to a gzip CSV file
//! (`pipeline.md` §11.3, the reference's `location_dump`).
//!
//! The tables of the type are read in shard order, each in primary-key pages of 25 000
//! rows ([`ichnaea_db::cells::page_stations`]), and every page goes straight through the
//! gzip encoder into the file: memory is one page, whatever the table size. The line
//! format is [`ichnaea_core::dumpcsv`]. With `--lat --lon --radius` only stations inside
//! the box of `radius` metres around the point (rounded to 5 decimals, as the reference)
//! are written. The file must not exist; a failed dump removes its partial file.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use ichnaea_core::dumpcsv::{CELL_HEADER, MAC_HEADER, write_line};
use ichnaea_core::geo::bbox;
use ichnaea_core::shard::{BlueShard, CellShard, WifiShard};
use ichnaea_db::cells::{PageFilter, page_stations};
use ichnaea_db::{DbPool, StationTable};

/// Rows per page.
const PAGE: i64 = 25_000;

/// The station types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DataType {
    /// Bluetooth beacons.
    Blue,
    /// Cells.
    Cell,
    /// WiFi access points.
    Wifi,
}

/// `dump` arguments.
#[derive(Debug, Clone, Args)]
pub struct DumpArgs {
    /// Which stations.
    #[arg(long, value_enum)]
    pub datatype: DataType,
    /// The output file (gzip); must not exist.
    #[arg(long)]
    pub filename: PathBuf,
    /// Only stations near this latitude (needs --lon and --radius).
    #[arg(long, requires_all = ["lon", "radius"], allow_negative_numbers = true)]
    pub lat: Option<f64>,
    /// Only stations near this longitude (needs --lat and --radius).
    #[arg(long, requires_all = ["lat", "radius"], allow_negative_numbers = true)]
    pub lon: Option<f64>,
    /// The radius around --lat/--lon, metres (needs both).
    #[arg(long, requires_all = ["lat", "lon"])]
    pub radius: Option<f64>,
}

/// The box of the area filter: `(max_lat, min_lat, max_lon, min_lon)` rounded to 5
/// decimals.
pub fn area_box(lat: f64, lon: f64, radius: f64) -> (f64, f64, f64, f64) {
    let round = |x: f64| (x * 1e5).round() / 1e5;
    let (max_lat, min_lat, max_lon, min_lon) = bbox(lat, lon, radius);
    (
        round(max_lat),
        round(min_lat),
        round(max_lon),
        round(min_lon),
    )
}

fn tables(datatype: DataType) -> Vec<StationTable> {
    match datatype {
        DataType::Cell => CellShard::ALL.into_iter().map(StationTable::Cell).collect(),
        DataType::Wifi => WifiShard::ALL.into_iter().map(StationTable::Wifi).collect(),
        DataType::Blue => BlueShard::ALL.into_iter().map(StationTable::Blue).collect(),
    }
}

/// Runs the dump.
pub async fn dump(pool: &DbPool, args: &DumpArgs, out: &mut impl Write) -> Result<()> {
    let filter = PageFilter {
        bbox: match (args.lat, args.lon, args.radius) {
            (Some(lat), Some(lon), Some(radius)) => Some(area_box(lat, lon, radius)),
            (None, None, None) => None,
            _ => bail!("--lat, --lon and --radius go together"),
        },
        ..PageFilter::default()
    };
    let file = match OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&args.filename)
    {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            bail!("File already exists.")
        }
        Err(e) => {
            return Err(e).with_context(|| format!("cannot create {}", args.filename.display()));
        }
    };
    match write_dump(pool, args.datatype, &filter, file).await {
        Ok(rows) => {
            writeln!(out, "Wrote {rows} rows to {}.", args.filename.display())?;
            Ok(())
        }
        Err(e) => {
            remove_partial(&args.filename);
            Err(e)
        }
    }
}

fn remove_partial(path: &Path) {
    if let Err(e) = std::fs::remove_file(path) {
        tracing::warn!(error = %e, "could not remove the partial dump file");
    }
}

async fn write_dump(
    pool: &DbPool,
    datatype: DataType,
    filter: &PageFilter,
    file: File,
) -> Result<u64> {
    let mut gz = flate2::write::GzEncoder::new(
        BufWriter::with_capacity(1 << 16, file),
        flate2::Compression::new(6),
    );
    let header = if datatype == DataType::Cell {
        CELL_HEADER
    } else {
        MAC_HEADER
    };
    writeln!(gz, "{header}")?;
    let mut conn = pool.get().await?;
    let mut rows = 0u64;
    for table in tables(datatype) {
        let mut cursor: Option<Vec<u8>> = None;
        loop {
            let page = page_stations(&mut conn, table, cursor.as_deref(), filter, PAGE).await?;
            for row in &page.rows {
                write_line(&mut gz, row)?;
            }
            rows += page.rows.len() as u64;
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
    }
    gz.finish()?.flush()?;
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_area_box_matches_the_reference() {
        assert_eq!(
            area_box(51.5, -0.1, 25_000.0),
            (51.7247, 51.27529, 0.26002, -0.46002)
        );
    }
}

//! Seeds the station tables with the locate world, straight through SQL.
//!
//! The locate benchmark needs a realistic table size (a million WiFi stations, a
//! hundred thousand cells) more than it needs realistic history: going through the
//! pipeline would take minutes and measure the pipeline instead. Rows get the values a
//! well-observed station has after many submissions, and every cell's area exists, as
//! the pipeline's `update_cellarea` would have made it. Multi-row inserts of literal
//! values keep it to a few seconds per million rows.

use std::collections::BTreeMap;

use anyhow::Context;
use ichnaea_core::enums::Radio;
use ichnaea_core::geo::distance;
use ichnaea_core::ids::{CellAreaId, CellId, Mac};
use ichnaea_core::shard::WifiShard;
use mysql_async::prelude::Queryable;

use crate::rng::Rng;
use crate::world::{MCC, SITE_WIFI, World, hex};

/// Rows per INSERT statement.
const ROWS_PER_INSERT: usize = 2_000;
/// The columns shared by every station table, in insert order after the id columns.
const COMMON: &str = "lat, lon, max_lat, min_lat, max_lon, min_lon, radius, region, samples, \
                      weight, created, modified, last_seen";

/// Buffers rows of one table and flushes them as multi-row inserts.
struct Inserter {
    head: String,
    rows: Vec<String>,
}

impl Inserter {
    fn new(table: &str, id_columns: &str) -> Inserter {
        Inserter::with_columns(table, &format!("{id_columns}, {COMMON}"))
    }

    fn with_columns(table: &str, columns: &str) -> Inserter {
        Inserter {
            head: format!("INSERT INTO {table} ({columns}) VALUES "),
            rows: Vec::with_capacity(ROWS_PER_INSERT),
        }
    }

    async fn push(&mut self, conn: &mut mysql_async::Conn, row: String) -> anyhow::Result<()> {
        self.rows.push(row);
        if self.rows.len() >= ROWS_PER_INSERT {
            self.flush(conn).await?;
        }
        Ok(())
    }

    async fn flush(&mut self, conn: &mut mysql_async::Conn) -> anyhow::Result<()> {
        if self.rows.is_empty() {
            return Ok(());
        }
        let sql = format!("{}{}", self.head, self.rows.join(","));
        conn.query_drop(sql).await.context("inserting stations")?;
        self.rows.clear();
        Ok(())
    }
}

/// The common column values of a station at a position with a radius.
fn common(lat: f64, lon: f64, radius: u32, samples: u32) -> String {
    let d = f64::from(radius) / 111_320.0;
    format!(
        "{lat:.7}, {lon:.7}, {:.7}, {:.7}, {:.7}, {:.7}, {radius}, 'DE', {samples}, {samples}.0, \
         NOW(), NOW(), CURDATE()",
        lat + d,
        lat - d,
        lon + d,
        lon - d
    )
}

/// A cell of an area: latitude, longitude, radius; areas are keyed by (mnc, lac).
type Member = (f64, f64, u32);

/// Inserts `wifi` access points (in sites of eight) and `cells` LTE cells of the locate
/// world. The tables must be empty.
pub async fn seed(url: &str, world: &World, wifi: u64, cells: u64) -> anyhow::Result<()> {
    let pool = mysql_async::Pool::new(url);
    let mut conn = pool.get_conn().await.context("connecting to MySQL")?;
    let mut shards: Vec<Inserter> = WifiShard::ALL
        .iter()
        .map(|s| Inserter::new(s.table_name(), "mac"))
        .collect();
    let mut rng = Rng::new(11);
    for index in 0..wifi {
        let site = index / SITE_WIFI as u64;
        let mac = world.wifi_mac(site, (index % SITE_WIFI as u64) as usize);
        let shard = WifiShard::for_mac(&Mac::from_bytes(&mac.0)?);
        let (lat, lon) = world.near(site, 20.0, &mut rng);
        let row = format!(
            "(X'{}', {})",
            mac.to_hex(),
            common(lat, lon, 40 + rng.below(80) as u32, 20)
        );
        shards[shard.index()].push(&mut conn, row).await?;
    }
    for shard in &mut shards {
        shard.flush(&mut conn).await?;
    }
    let mut lte = Inserter::new("cell_lte", "cellid, radio, mcc, mnc, lac, cid");
    let mut areas: BTreeMap<(u16, u32), Vec<Member>> = BTreeMap::new();
    for index in 0..cells {
        let cell = world.cell(index);
        let id = CellId::new(Radio::Lte, MCC, cell.mnc, cell.lac, cell.cid)?;
        let (lat, lon) = world.site_position(index);
        let radius = 1_000 + rng.below(3_000) as u32;
        let row = format!(
            "(X'{}', {}, {MCC}, {}, {}, {}, {})",
            hex(&id.to_bytes()),
            Radio::Lte.code(),
            cell.mnc,
            cell.lac,
            cell.cid,
            common(lat, lon, radius, 100)
        );
        lte.push(&mut conn, row).await?;
        areas
            .entry((cell.mnc, cell.lac))
            .or_default()
            .push((lat, lon, radius));
    }
    lte.flush(&mut conn).await?;
    let mut area_rows = Inserter::with_columns(
        "cell_area",
        "areaid, radio, mcc, mnc, lac, avg_cell_radius, num_cells, lat, lon, radius, region, \
         created, modified, last_seen",
    );
    for ((mnc, lac), members) in &areas {
        let id = CellAreaId::new(Radio::Lte, MCC, *mnc, *lac)?;
        let n = members.len() as f64;
        let lat = members.iter().map(|m| m.0).sum::<f64>() / n;
        let lon = members.iter().map(|m| m.1).sum::<f64>() / n;
        // As update_cellarea: the farthest member plus its radius, and the mean radius.
        let radius = members
            .iter()
            .map(|m| distance(lat, lon, m.0, m.1) + f64::from(m.2))
            .fold(0.0, f64::max)
            .round() as u32;
        let avg = (members.iter().map(|m| f64::from(m.2)).sum::<f64>() / n).round() as u32;
        let row = format!(
            "(X'{}', {}, {MCC}, {mnc}, {lac}, {avg}, {}, {lat:.7}, {lon:.7}, {radius}, 'DE', \
             NOW(), NOW(), CURDATE())",
            hex(&id.to_bytes()),
            Radio::Lte.code(),
            members.len(),
        );
        area_rows.push(&mut conn, row).await?;
    }
    area_rows.flush(&mut conn).await?;
    drop(conn);
    pool.disconnect().await?;
    Ok(())
}

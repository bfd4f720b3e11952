//! Bulk station reads and cell imports: the SQL behind the public cell export, the
//! station dump and `ichnaea-admin load-cells`.
//!
//! # Paged reads
//!
//! Exports and dumps cover whole tables (tens of millions of rows), so they never load a
//! table at once: [`page_stations`] reads one page in primary-key order after a cursor
//! (keyset pagination, `WHERE <key> > ? ORDER BY <key> LIMIT n`, `pipeline.md` §11.1). Each
//! page is an index range scan that starts where the last one ended, so the cost per page
//! stays constant however deep into the table it is, and memory is one page. Pages are
//! separate statements, not one long transaction: rows changed while a file is written
//! appear in it or not, as with the reference.
//!
//! # Imports
//!
//! [`import_cells`] writes parsed rows of one radio through an [`ImportConnection`], a
//! plain `mysql_async` connection next to the diesel pool, because the fast path needs
//! two things diesel cannot express: `LOAD DATA LOCAL INFILE` and a session temporary
//! table. Measured on the 2-core benchmark machine (docs/benchmarks.md, "Cell import"),
//! the server's CPU per row is what limits an import, and most of it is the maintenance
//! of the cell tables' five secondary indexes, which no statement form avoids; of the
//! rest, parsing SQL text or binding 21 parameters per row, and a separate counting
//! `SELECT` with a 1 000-key `IN` list, were the avoidable parts. So each chunk of up to
//! [`IMPORT_ROWS_PER_CHUNK`] rows:
//!
//! 1. is sorted by primary key and streamed as tab-separated text by `LOAD DATA LOCAL
//!    INFILE` into `cell_import_stage`, a `MEMORY` temporary table private to the
//!    connection (no SQL parsing per value, no redo log, no indexes), or, where the
//!    server refuses that, inserted into the same table by multi-row `INSERT`s (see
//!    "Staging without `LOAD DATA LOCAL`" below);
//! 2. is counted by one non-locking `LEFT JOIN` of the stage against the cell table,
//!    grouped by area: stations missing (new), older than the row (updated) or not
//!    (unchanged), and so the areas of the new and updated ones;
//! 3. is written by one `INSERT … SELECT … ON DUPLICATE KEY UPDATE` from the stage, in
//!    key order, unless the count found nothing new or newer (a re-imported file then
//!    costs only the stage and the count).
//!
//! Steps 2 and 3 are one transaction, retried from the start on a deadlock or lock wait
//! timeout like the pipeline's transactions ([`crate::retry`]); the stage is not
//! transactional and is still complete for the retry. The count takes no locks (locking
//! reads would also gap-lock the missing keys and make parallel importers deadlock), so
//! it is exact unless another writer changes the same cells at the same moment; the
//! guarded upsert keeps the data right either way.
//!
//! The update side is guarded with
//! `IF(modified IS NULL OR modified < VALUES(modified), VALUES(col), col)` on each column,
//! `modified` last (MySQL evaluates the assignments left to right, so the guard must see
//! the old `modified` until the end): an existing station is only overwritten by a newer
//! row, so importing a file twice, or an older file after a newer one, changes nothing.
//! As in the reference (`pipeline.md` §12), updates touch `psc, lat, lon, radius,
//! samples, created, modified` only (bounding box, region and weight stay), and new rows
//! get a one-point bounding box and the region the caller computed.
//!
//! These are the only statements outside the shard macros that name a table in SQL text:
//! diesel has no `LOAD DATA` or `INSERT … SELECT … ON DUPLICATE KEY UPDATE` with a
//! guard, and the names come from the closed [`CellShard`] set, never from input.
//! `LOAD DATA LOCAL` is answered only from the buffer built for that statement (a
//! one-shot handler on the connection); no file is ever read on the server's request.
//! The user needs the `CREATE TEMPORARY TABLES` privilege. With statement-based binary
//! logging MySQL flags `INSERT … SELECT … ON DUPLICATE KEY UPDATE` as unsafe; use `MIXED`
//! or `ROW`.
//!
//! # Staging without `LOAD DATA LOCAL`
//!
//! A server only accepts `LOAD DATA LOCAL` with `local_infile = ON`: MariaDB's default, but
//! MySQL 8 defaults to `OFF`, and an operator may turn it off for its security history
//! (a server can ask the client for any file). `mysql_async` always offers the capability,
//! so the refusal only shows when the statement is sent: MariaDB answers error 4166
//! (`ER_LOAD_INFILE_CAPABILITY_DISABLED`), MySQL 8 error 3948
//! (`ER_CLIENT_LOCAL_FILES_DISABLED`), older servers 1148 (`ER_NOT_ALLOWED_COMMAND`).
//! On one of those the connection switches to [`StageMethod::Insert`] for good and the
//! chunk is staged again that way: parameterised `INSERT INTO cell_import_stage VALUES
//! (…), (…)` statements of up to [`STAGE_INSERT_ROWS`] rows (14 binds a row, well under the
//! protocol's 65 535). Steps 2 and 3 are the same statements either way, so both paths
//! store the same values and count the same; only the staging costs more server CPU
//! (every value is a bound parameter, converted on its own, and each row goes through the
//! `INSERT` machinery). The decision is made once per connection:
//! a refused statement costs one round trip, and [`ImportConnection::stage_method`] tells
//! the caller which path ran (`load-cells` prints it). [`ImportConnection::connect_with`]
//! can choose the `INSERT` path from the start (tests, or a caller that already knows).

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::{AsyncMysqlConnection, RunQueryDsl};
use futures::StreamExt as _;
use ichnaea_core::cellcsv::ImportCell;
use ichnaea_core::pipeline::RegionCode;
use ichnaea_core::pipeline::station::StationRow;
use ichnaea_core::shard::CellShard;
use ichnaea_core::time::DateTime;
use ichnaea_core::{CellAreaId, CellId, Radio};
use mysql_async::prelude::Queryable;
use secrecy::{ExposeSecret, SecretString};

use crate::convert::{StationColumns, StationSqlRow, datetime_to_sql, fit, small_code};
use crate::error::{DbError, LockFailure};
use crate::pool::{SESSION_SETUP, normalize_url};
use crate::retry::wait_to_retry;
use crate::shards::{StationTable, TableLayout, station_columns, with_cell_table, with_mac_table};

/// Rows per staged chunk and transaction of an import. The stage is a `MEMORY` table,
/// bounded by the server's `max_heap_table_size` (16 MiB by default); a chunk of this
/// size takes a few MiB of it.
pub const IMPORT_ROWS_PER_CHUNK: usize = 20_000;

/// Rows per `INSERT` statement when staging without `LOAD DATA LOCAL`.
pub const STAGE_INSERT_ROWS: usize = 1000;

/// The server errors that mean "`LOAD DATA LOCAL` is disabled": MariaDB 10.5+ (4166),
/// MySQL 8 (3948), older servers (1148).
const LOCAL_INFILE_REFUSED: [u16; 3] = [4166, 3948, 1148];

/// How an [`ImportConnection`] fills its staging table (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StageMethod {
    /// `LOAD DATA LOCAL INFILE` from a buffer: the fast path, used while the server
    /// allows it.
    LoadData,
    /// Multi-row `INSERT … VALUES` statements with bound values, for servers that refuse
    /// `LOAD DATA LOCAL`.
    Insert,
}

impl std::fmt::Display for StageMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            StageMethod::LoadData => "LOAD DATA LOCAL INFILE",
            StageMethod::Insert => "multi-row INSERT (the server refuses LOAD DATA LOCAL)",
        })
    }
}

/// Which rows a paged read returns.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PageFilter {
    /// Only rows with a position (`lat` and `lon` not NULL).
    pub positioned: bool,
    /// Only rows with `modified >= this`.
    pub modified_from: Option<DateTime>,
    /// Only rows with `modified < this`.
    pub modified_before: Option<DateTime>,
    /// Only rows inside `(max_lat, min_lat, max_lon, min_lon)`, bounds included.
    pub bbox: Option<(f64, f64, f64, f64)>,
}

/// One page of a paged read.
#[derive(Debug, Clone, Default)]
pub struct Page {
    /// The rows, in key order (rows whose key does not decode are left out).
    pub rows: Vec<StationRow>,
    /// The key of the last row read: the cursor of the next page; `None` at the end.
    pub next: Option<Vec<u8>>,
}

fn opt_sql_time(time: Option<DateTime>) -> Result<Option<NaiveDateTime>, DbError> {
    time.map(datetime_to_sql).transpose()
}

/// Reads the page of `table` after the key `after` (from the start when `None`): at most
/// `limit` rows matching `filter`, in primary-key order.
pub async fn page_stations(
    conn: &mut AsyncMysqlConnection,
    table: StationTable,
    after: Option<&[u8]>,
    filter: &PageFilter,
    limit: i64,
) -> Result<Page, DbError> {
    let from = opt_sql_time(filter.modified_from)?;
    let before = opt_sql_time(filter.modified_before)?;
    let after = after.unwrap_or(&[]);
    // The same filters for either key layout; `$t` is the table's schema module.
    macro_rules! filtered {
        ($t:ident, $key:ident) => {{
            let mut query = $t::table.filter($t::$key.gt(after)).into_boxed();
            if filter.positioned {
                query = query.filter($t::lat.is_not_null().and($t::lon.is_not_null()));
            }
            if let Some(from) = from {
                query = query.filter($t::modified.ge(from));
            }
            if let Some(before) = before {
                query = query.filter($t::modified.lt(before));
            }
            if let Some((max_lat, min_lat, max_lon, min_lon)) = filter.bbox {
                query = query
                    .filter($t::lat.le(max_lat))
                    .filter($t::lat.ge(min_lat))
                    .filter($t::lon.le(max_lon))
                    .filter($t::lon.ge(min_lon));
            }
            query.order($t::$key.asc()).limit(limit)
        }};
    }
    let rows: Vec<StationSqlRow> = match table.layout() {
        TableLayout::Mac(mac_table) => with_mac_table!(mac_table, t => {
            let rows: Vec<(Vec<u8>, StationColumns)> = filtered!(t, mac)
                .select((t::mac, station_columns!(t)))
                .load(conn)
                .await?;
            Ok::<_, DbError>(
                rows.into_iter()
                    .map(|(id, columns)| StationSqlRow { id, psc: None, columns })
                    .collect(),
            )
        })?,
        TableLayout::Cell(shard) => with_cell_table!(shard, t, _Lac, _Cid => {
            let rows: Vec<(Vec<u8>, Option<i16>, StationColumns)> = filtered!(t, cellid)
                .select((t::cellid, t::psc, station_columns!(t)))
                .load(conn)
                .await?;
            Ok::<_, DbError>(
                rows.into_iter()
                    .map(|(id, psc, columns)| StationSqlRow { id, psc, columns })
                    .collect(),
            )
        })?,
    };
    let next = rows.last().map(|r| r.id.clone());
    let kind = table.kind();
    Ok(Page {
        rows: rows.iter().filter_map(|r| r.to_station_row(kind)).collect(),
        next,
    })
}

/// A parsed import row with the region of its position (used for new stations only).
#[derive(Debug, Clone, PartialEq)]
pub struct CellImportRow {
    /// The row.
    pub cell: ImportCell,
    /// Its region, if any.
    pub region: Option<RegionCode>,
}

/// What an import call did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportOutcome {
    /// Stations created.
    pub new: u64,
    /// Existing stations overwritten by a newer row.
    pub updated: u64,
    /// Rows that changed nothing (the station is as new or newer).
    pub unchanged: u64,
    /// The areas of the new and updated stations, to be recomputed.
    pub areas: BTreeSet<CellAreaId>,
}

/// The staging table of an [`ImportConnection`]. `MEMORY`: a chunk is loaded, read twice
/// and thrown away, so it needs neither durability nor indexes. The key columns are wide
/// enough for every cell table (`cell_nr` has the widest).
const CREATE_STAGE: &str = "CREATE TEMPORARY TABLE IF NOT EXISTS `cell_import_stage` (\
     `cellid` varbinary(16) NOT NULL, `radio` tinyint NOT NULL, `mcc` smallint NOT NULL, \
     `mnc` smallint NOT NULL, `lac` int unsigned NOT NULL, `cid` bigint unsigned NOT NULL, \
     `psc` smallint NULL, `lat` double NOT NULL, `lon` double NOT NULL, \
     `created` datetime NULL, `modified` datetime NOT NULL, `radius` int unsigned NOT NULL, \
     `region` varchar(2) NULL, `samples` int unsigned NOT NULL) ENGINE=MEMORY";

/// The columns of the stage in the order both staging paths send them.
const STAGE_COLUMNS: &str = "`cellid`, `radio`, `mcc`, `mnc`, `lac`, `cid`, `psc`, `lat`, `lon`, \
     `created`, `modified`, `radius`, `region`, `samples`";

/// Values per staged row (the columns of [`STAGE_COLUMNS`]).
const STAGE_ROW_VALUES: usize = 14;

/// Loads one chunk (tab-separated, in the column order below, `\N` for NULL) from the
/// connection's one-shot infile handler. The file name is ignored by the handler.
const LOAD_STAGE: &str = "LOAD DATA LOCAL INFILE 'cell-import-chunk' INTO TABLE `cell_import_stage` \
     CHARACTER SET latin1 FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' \
     (@cellid, `radio`, `mcc`, `mnc`, `lac`, `cid`, `psc`, `lat`, `lon`, `created`, `modified`, \
     `radius`, `region`, `samples`) SET `cellid` = UNHEX(@cellid)";

/// A connection for [`import_cells`]: a plain `mysql_async` connection (diesel cannot
/// send `LOAD DATA LOCAL INFILE`) with the pool's session settings and its own staging
/// table. One per concurrent writer; close it with [`ImportConnection::close`].
pub struct ImportConnection {
    conn: mysql_async::Conn,
    stage: StageMethod,
}

impl std::fmt::Debug for ImportConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImportConnection")
            .field("id", &self.conn.id())
            .field("stage", &self.stage)
            .finish()
    }
}

impl ImportConnection {
    /// Connects to the read-write database at `url` (the same URL forms as the pools).
    /// Chunks are staged with `LOAD DATA LOCAL` until the server refuses it.
    pub async fn connect(url: &SecretString) -> Result<ImportConnection, DbError> {
        Self::connect_with(url, StageMethod::LoadData).await
    }

    /// Connects like [`ImportConnection::connect`], staging with `stage` from the start
    /// ([`StageMethod::LoadData`] still falls back to [`StageMethod::Insert`] when refused).
    pub async fn connect_with(
        url: &SecretString,
        stage: StageMethod,
    ) -> Result<ImportConnection, DbError> {
        let url = normalize_url(url.expose_secret())?;
        let opts = mysql_async::Opts::from_url(&url)
            .map_err(|e| DbError::config(format!("invalid database URL: {e}")))?;
        let mut conn = mysql_async::Conn::new(opts).await?;
        conn.query_drop(SESSION_SETUP).await?;
        conn.query_drop(CREATE_STAGE).await?;
        Ok(ImportConnection { conn, stage })
    }

    /// How this connection stages chunks now: the method it was opened with, or
    /// [`StageMethod::Insert`] after the server refused `LOAD DATA LOCAL`.
    pub fn stage_method(&self) -> StageMethod {
        self.stage
    }

    /// Disconnects (the staging table goes with the session).
    pub async fn close(self) -> Result<(), DbError> {
        Ok(self.conn.disconnect().await?)
    }
}

/// The guarded update of one column of `table` (see the module documentation). The
/// target column is qualified: the `SELECT` of the insert has columns of the same names.
fn guarded(table: &str, column: &str) -> String {
    format!(
        "`{column}` = IF(`{table}`.`modified` IS NULL OR `{table}`.`modified` < VALUES(`modified`), \
         VALUES(`{column}`), `{table}`.`{column}`)"
    )
}

/// The statements of one cell table: the count of step 2 and the upsert of step 3.
/// The table name comes from the closed [`CellShard`] set, never from input.
fn table_statements(shard: CellShard) -> (String, String) {
    let table = shard.table_name();
    let count = format!(
        "SELECT s.`mcc`, s.`mnc`, s.`lac`, \
         CAST(SUM(t.`cellid` IS NULL) AS UNSIGNED), \
         CAST(SUM(t.`cellid` IS NOT NULL AND (t.`modified` IS NULL OR t.`modified` < s.`modified`)) AS UNSIGNED), \
         COUNT(*) \
         FROM `cell_import_stage` s LEFT JOIN `{table}` t ON t.`cellid` = s.`cellid` \
         GROUP BY s.`mcc`, s.`mnc`, s.`lac`"
    );
    // Every column except `modified` first: the guards compare against the old value.
    let updates: Vec<String> = [
        "psc", "lat", "lon", "radius", "samples", "created", "modified",
    ]
    .iter()
    .map(|c| guarded(table, c))
    .collect();
    let upsert = format!(
        "INSERT INTO `{table}` (`cellid`, `radio`, `mcc`, `mnc`, `lac`, `cid`, `psc`, `lat`, \
         `lon`, `max_lat`, `min_lat`, `max_lon`, `min_lon`, `created`, `modified`, `radius`, \
         `region`, `samples`) \
         SELECT `cellid`, `radio`, `mcc`, `mnc`, `lac`, `cid`, `psc`, `lat`, `lon`, `lat`, \
         `lat`, `lon`, `lon`, `created`, `modified`, `radius`, `region`, `samples` \
         FROM `cell_import_stage` ORDER BY `cellid` \
         ON DUPLICATE KEY UPDATE {}",
        updates.join(", ")
    );
    (count, upsert)
}

/// One import row checked against the columns of its cell table, ready for either
/// staging path.
struct StageRow<'a> {
    cellid: Vec<u8>,
    radio: i8,
    mcc: i16,
    mnc: i16,
    lac: u64,
    cid: u64,
    psc: Option<i16>,
    lat: f64,
    lon: f64,
    created: Option<NaiveDateTime>,
    modified: NaiveDateTime,
    radius: u32,
    region: Option<&'a str>,
    samples: u32,
}

impl<'a> StageRow<'a> {
    /// Checks every value of `row` against its column in the shard's table (a value
    /// that does not fit is the caller's bug, as with the pipeline's writes).
    fn new(shard: CellShard, row: &'a CellImportRow) -> Result<StageRow<'a>, DbError> {
        let cell = &row.cell;
        let id = cell.id;
        // The column types of `lac` and `cid` in each table, as in `with_cell_table!`.
        let (lac, cid) = match shard.radio() {
            Radio::Nr => (
                u64::from(fit::<u32>("lac", u64::from(id.lac()))?),
                fit::<u64>("cid", id.cid())?,
            ),
            Radio::Gsm | Radio::Wcdma | Radio::Lte => (
                u64::from(fit::<u16>("lac", u64::from(id.lac()))?),
                u64::from(fit::<u32>("cid", id.cid())?),
            ),
        };
        if !cell.lat.is_finite() || !cell.lon.is_finite() {
            return Err(DbError::invalid("a position that is not a finite number"));
        }
        Ok(StageRow {
            cellid: id.to_bytes(),
            radio: id.radio().code(),
            mcc: small_code("mcc", id.mcc())?,
            mnc: small_code("mnc", id.mnc())?,
            lac,
            cid,
            psc: cell.psc,
            lat: cell.lat,
            lon: cell.lon,
            created: cell.created.map(datetime_to_sql).transpose()?,
            modified: datetime_to_sql(cell.modified)?,
            radius: cell.radius,
            region: row.region.as_ref().map(RegionCode::as_str),
            samples: cell.samples,
        })
    }

    /// Appends the row as one line of the `LOAD DATA` text (tab-separated, `\N` for
    /// NULL, in the order of [`STAGE_COLUMNS`]).
    fn write_line(&self, out: &mut String) {
        // Writing to a `String` cannot fail; the results are ignored for that reason only.
        for byte in &self.cellid {
            let _ = write!(out, "{byte:02x}");
        }
        let _ = write!(
            out,
            "\t{}\t{}\t{}\t{}\t{}\t",
            self.radio, self.mcc, self.mnc, self.lac, self.cid
        );
        match self.psc {
            Some(psc) => {
                let _ = write!(out, "{psc}");
            }
            None => out.push_str("\\N"),
        }
        // `Display` of an `f64` is the shortest text that parses back to the same value and
        // never uses an exponent.
        let _ = write!(out, "\t{}\t{}\t", self.lat, self.lon);
        match self.created {
            Some(created) => {
                let _ = write!(out, "{}", created.format(SQL_TIME));
            }
            None => out.push_str("\\N"),
        }
        let _ = writeln!(
            out,
            "\t{}\t{}\t{}\t{}",
            self.modified.format(SQL_TIME),
            self.radius,
            self.region.unwrap_or("\\N"),
            self.samples
        );
    }

    /// Appends the row's values as the binds of one `INSERT` row (the order of
    /// [`STAGE_COLUMNS`]).
    fn push_values(&self, out: &mut Vec<mysql_async::Value>) {
        use mysql_async::Value;
        out.extend([
            Value::Bytes(self.cellid.clone()),
            Value::Int(i64::from(self.radio)),
            Value::Int(i64::from(self.mcc)),
            Value::Int(i64::from(self.mnc)),
            Value::UInt(self.lac),
            Value::UInt(self.cid),
            self.psc
                .map_or(Value::NULL, |psc| Value::Int(i64::from(psc))),
            Value::Double(self.lat),
            Value::Double(self.lon),
            self.created
                .map_or(Value::NULL, |t| Value::Bytes(sql_time_text(t))),
            Value::Bytes(sql_time_text(self.modified)),
            Value::UInt(u64::from(self.radius)),
            self.region
                .map_or(Value::NULL, |r| Value::Bytes(r.as_bytes().to_vec())),
            Value::UInt(u64::from(self.samples)),
        ]);
    }
}

/// The text form of a `DATETIME` value that both staging paths send.
const SQL_TIME: &str = "%Y-%m-%d %H:%M:%S";

/// A `DATETIME` value as the text the server parses (the same text as the `LOAD DATA`
/// path, so both store the same second).
fn sql_time_text(time: NaiveDateTime) -> Vec<u8> {
    time.format(SQL_TIME).to_string().into_bytes()
}

/// The server's error number when a statement failed because the server does not allow
/// `LOAD DATA LOCAL`.
fn local_infile_refusal(err: &mysql_async::Error) -> Option<u16> {
    match err {
        mysql_async::Error::Server(e) if LOCAL_INFILE_REFUSED.contains(&e.code) => Some(e.code),
        _ => None,
    }
}

/// Stages rows with `LOAD DATA LOCAL INFILE`; returns the rows the server stored.
async fn stage_by_load_data(
    conn: &mut mysql_async::Conn,
    rows: &[StageRow<'_>],
) -> Result<u64, mysql_async::Error> {
    let mut data = String::with_capacity(rows.len() * 120);
    for row in rows {
        row.write_line(&mut data);
    }
    let chunk = bytes::Bytes::from(data);
    // A one-shot handler: it answers this statement only, whatever file name the
    // server asks for.
    conn.set_infile_handler(async move {
        let stream: mysql_async::InfileData =
            futures::stream::once(async move { Ok::<_, std::io::Error>(chunk) }).boxed();
        Ok::<_, mysql_async::Error>(stream)
    });
    match conn.query_drop(LOAD_STAGE).await {
        Ok(()) => Ok(conn.affected_rows()),
        Err(err) => {
            // A refused statement leaves the handler (and its chunk) unused on the
            // connection: replace it by one that offers nothing.
            conn.set_infile_handler(async {
                Err::<mysql_async::InfileData, _>(mysql_async::Error::Other(
                    "no local data is offered".into(),
                ))
            });
            Err(err)
        }
    }
}

/// Stages rows with parameterised multi-row `INSERT`s of up to [`STAGE_INSERT_ROWS`]
/// rows; returns the rows the server stored.
async fn stage_by_insert(
    conn: &mut mysql_async::Conn,
    rows: &[StageRow<'_>],
) -> Result<u64, mysql_async::Error> {
    let mut staged = 0u64;
    let mut values = Vec::with_capacity(STAGE_INSERT_ROWS.min(rows.len()) * STAGE_ROW_VALUES);
    let placeholders = format!("({})", vec!["?"; STAGE_ROW_VALUES].join(", "));
    for group in rows.chunks(STAGE_INSERT_ROWS) {
        // One statement text per group size: a chunk needs at most two, and the
        // connection's statement cache prepares each once.
        let statement = format!(
            "INSERT INTO `cell_import_stage` ({STAGE_COLUMNS}) VALUES {}",
            vec![placeholders.as_str(); group.len()].join(", ")
        );
        values.clear();
        for row in group {
            row.push_values(&mut values);
        }
        conn.exec_drop(
            statement,
            mysql_async::Params::Positional(std::mem::take(&mut values)),
        )
        .await?;
        staged += conn.affected_rows();
    }
    Ok(staged)
}

/// Imports rows of the cell table `shard` (see the module documentation). Every row must
/// be of `shard`'s radio. A cell given twice keeps the newer row. Each chunk of
/// [`IMPORT_ROWS_PER_CHUNK`] rows is one transaction.
pub async fn import_cells(
    conn: &mut ImportConnection,
    shard: CellShard,
    rows: &[CellImportRow],
) -> Result<ImportOutcome, DbError> {
    if rows.iter().any(|r| r.cell.id.radio() != shard.radio()) {
        return Err(DbError::invalid("an import row of another radio"));
    }
    // The newest row of each cell.
    let mut index: HashMap<CellId, usize> = HashMap::with_capacity(rows.len());
    let mut unique: Vec<&CellImportRow> = Vec::with_capacity(rows.len());
    let mut duplicates = 0u64;
    for row in rows {
        match index.get(&row.cell.id) {
            Some(&i) => {
                duplicates += 1;
                if unique[i].cell.modified < row.cell.modified {
                    unique[i] = row;
                }
            }
            None => {
                index.insert(row.cell.id, unique.len());
                unique.push(row);
            }
        }
    }
    // Key order: the upsert then walks each index in as few places as possible.
    unique.sort_by_cached_key(|r| r.cell.id.to_bytes());
    let statements = table_statements(shard);
    let mut outcome = ImportOutcome {
        unchanged: duplicates,
        ..ImportOutcome::default()
    };
    for chunk in unique.chunks(IMPORT_ROWS_PER_CHUNK) {
        import_chunk(conn, shard, &statements, chunk, &mut outcome).await?;
    }
    Ok(outcome)
}

/// Stages one chunk, then counts and upserts it in one transaction, retried on lock
/// failures.
async fn import_chunk(
    import: &mut ImportConnection,
    shard: CellShard,
    (count, upsert): &(String, String),
    rows: &[&CellImportRow],
    outcome: &mut ImportOutcome,
) -> Result<(), DbError> {
    let staged_rows: Vec<StageRow<'_>> = rows
        .iter()
        .map(|row| StageRow::new(shard, row))
        .collect::<Result<_, _>>()?;
    let conn = &mut import.conn;
    conn.query_drop("TRUNCATE TABLE `cell_import_stage`")
        .await?;
    let mut staged = None;
    if import.stage == StageMethod::LoadData {
        match stage_by_load_data(conn, &staged_rows).await {
            Ok(n) => staged = Some(n),
            Err(err) if let Some(errno) = local_infile_refusal(&err) => {
                tracing::info!(
                    errno,
                    "the server refuses LOAD DATA LOCAL; this import connection stages \
                     cells with multi-row INSERTs instead"
                );
                import.stage = StageMethod::Insert;
                // A refused statement stores nothing, but start from an empty stage.
                conn.query_drop("TRUNCATE TABLE `cell_import_stage`")
                    .await?;
            }
            Err(err) => return Err(err.into()),
        }
    }
    let staged = match staged {
        Some(n) => n,
        None => stage_by_insert(conn, &staged_rows).await?,
    };
    if staged != rows.len() as u64 {
        return Err(DbError::invalid(format!(
            "staged {staged} of {} import rows",
            rows.len()
        )));
    }
    let mut lock_failures: Vec<LockFailure> = Vec::new();
    loop {
        match count_and_upsert(conn, shard, count, upsert).await {
            Ok(chunk_outcome) => {
                outcome.new += chunk_outcome.new;
                outcome.updated += chunk_outcome.updated;
                outcome.unchanged += chunk_outcome.unchanged;
                outcome.areas.extend(chunk_outcome.areas);
                return Ok(());
            }
            Err(err) => {
                // The transaction is over either way; a failed rollback surfaces on the
                // next statement.
                let _ = conn.query_drop("ROLLBACK").await;
                if !wait_to_retry(&err, &mut lock_failures).await {
                    return Err(err);
                }
            }
        }
    }
}

/// Steps 2 and 3 of the module documentation on the staged chunk, in one transaction.
async fn count_and_upsert(
    conn: &mut mysql_async::Conn,
    shard: CellShard,
    count: &str,
    upsert: &str,
) -> Result<ImportOutcome, DbError> {
    conn.query_drop("START TRANSACTION").await?;
    let groups: Vec<(u16, u16, u32, u64, u64, u64)> = conn.query(count).await?;
    let mut outcome = ImportOutcome::default();
    for (mcc, mnc, lac, new, updated, rows) in groups {
        outcome.new += new;
        outcome.updated += updated;
        outcome.unchanged += rows.saturating_sub(new + updated);
        if new + updated > 0 {
            let area = CellAreaId::new(shard.radio(), mcc, mnc, lac)
                .map_err(|e| DbError::invalid(format!("a staged area: {e}")))?;
            outcome.areas.insert(area);
        }
    }
    // Nothing new or newer: the guarded upsert would change nothing, so skip its
    // per-row work (a re-import of the same file costs only the stage and the count).
    if outcome.new + outcome.updated > 0 {
        conn.query_drop(upsert).await?;
    }
    conn.query_drop("COMMIT").await?;
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server_error(code: u16) -> mysql_async::Error {
        mysql_async::Error::Server(mysql_async::ServerError {
            code,
            message: String::new(),
            state: "HY000".to_owned(),
        })
    }

    #[test]
    fn local_infile_refusals_of_mariadb_and_mysql_are_recognised() {
        // MariaDB 10.5+, MySQL 8, older servers.
        for code in [4166, 3948, 1148] {
            assert_eq!(local_infile_refusal(&server_error(code)), Some(code));
        }
        // A deadlock, a syntax error, a full table: real failures, not a refusal.
        for code in [1213, 1064, 1114] {
            assert_eq!(local_infile_refusal(&server_error(code)), None, "{code}");
        }
        assert_eq!(
            local_infile_refusal(&mysql_async::Error::Other("x".into())),
            None
        );
    }

    #[test]
    fn both_staging_forms_carry_the_same_values() {
        let cell = ichnaea_core::cellcsv::parse_line(
            "NR,262,1,120003,60000000001,511,13.2855124,52.5222021,3200,102,1,,1568220600,",
        )
        .expect("a valid line");
        let row = CellImportRow { cell, region: None };
        let staged = StageRow::new(CellShard::for_radio(Radio::Nr), &row).expect("fits");
        let mut line = String::new();
        staged.write_line(&mut line);
        let mut values = Vec::new();
        staged.push_values(&mut values);
        assert_eq!(values.len(), STAGE_ROW_VALUES);
        let fields: Vec<&str> = line.trim_end_matches('\n').split('\t').collect();
        assert_eq!(fields.len(), STAGE_ROW_VALUES);
        // Same order, same values: NULL as `\N`, times as text, the key as hex.
        use mysql_async::Value;
        for (field, value) in fields.iter().zip(&values) {
            match value {
                Value::NULL => assert_eq!(*field, "\\N"),
                Value::Bytes(b) if b.len() == staged.cellid.len() && b == &staged.cellid => {
                    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
                    assert_eq!(*field, hex);
                }
                Value::Bytes(b) => assert_eq!(field.as_bytes(), b.as_slice()),
                Value::Int(i) => assert_eq!(field.parse::<i64>().ok(), Some(*i)),
                Value::UInt(u) => assert_eq!(field.parse::<u64>().ok(), Some(*u)),
                Value::Double(d) => assert_eq!(field.parse::<f64>().ok(), Some(*d)),
                other => panic!("unexpected bind {other:?}"),
            }
        }
        assert_eq!(fields[6], "511");
        assert_eq!(fields[10], "2019-09-11 16:50:00");
    }
}

//! The public cell export (`pipeline.md` §11.1) from the real database to a local
//! directory and to an S3-compatible server (moto).

#![expect(clippy::unwrap_used, reason = "tests panic on setup failures")]

use std::io::Read;
use std::sync::Arc;

use ichnaea_core::cellcsv::{ExportKind, HEADER};
use ichnaea_core::pipeline::station::{StationKey, StationRow};
use ichnaea_core::shard::CellShard;
use ichnaea_core::time::DateTime;
use ichnaea_core::{CellId, Radio};
use ichnaea_db::stations::insert_station_rows;
use ichnaea_db::{DbPool, StationTable};
use ichnaea_runtime::config::AssetSettings;
use ichnaea_testing::TestDb;
use ichnaea_worker::tasks::cell_export::export;
use object_store::ObjectStore;
use object_store::ObjectStoreExt;
use object_store::path::Path;

/// 2024-01-12T14:03:00Z, when the hourly export of 13:00–14:00 runs.
fn now() -> DateTime {
    DateTime::from_ymd_hms(2024, 1, 12, 14, 3, 0).unwrap()
}

fn cell(radio: Radio, cid: u64, modified: DateTime, positioned: bool) -> StationRow {
    let lac = if radio == Radio::Nr { 7_000_000 } else { 2120 };
    let id = CellId::new(radio, 202, 1, lac, cid).unwrap();
    StationRow {
        lat: positioned.then_some(38.857_435_06),
        lon: positioned.then_some(23.412_316_74),
        radius: Some(1500),
        samples: Some(7),
        psc: Some(12),
        created: Some(DateTime::from_unix_seconds(1_568_220_564)),
        modified: Some(modified),
        ..StationRow::new(StationKey::Cell(id))
    }
}

/// Cells: in the last hour (GSM 1, NR 2), earlier today (LTE 3), 300 days ago (WCDMA 4),
/// 400 days ago (GSM 5), unpositioned in the last hour (GSM 6).
async fn fixture(db: &TestDb) -> DbPool {
    let pool = DbPool::new(&db.pool_config()).unwrap();
    let mut conn = pool.get().await.unwrap();
    let in_hour = now().add_seconds(-30 * 60);
    let rows = [
        cell(Radio::Gsm, 1, in_hour, true),
        cell(Radio::Nr, 2, in_hour, true),
        cell(Radio::Lte, 3, now().add_seconds(-5 * 3600), true),
        cell(Radio::Wcdma, 4, now().add_days(-300), true),
        cell(Radio::Gsm, 5, now().add_days(-400), true),
        cell(Radio::Gsm, 6, in_hour, false),
    ];
    for row in rows {
        let shard = CellShard::for_radio(row.key.cell().unwrap().radio());
        insert_station_rows(&mut conn, StationTable::Cell(shard), &[row])
            .await
            .unwrap();
    }
    pool
}

async fn read_gzip(store: &Arc<dyn ObjectStore>, object: &str) -> String {
    let bytes = store
        .get(&Path::from(object))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let mut text = String::new();
    flate2::read::GzDecoder::new(&bytes[..])
        .read_to_string(&mut text)
        .unwrap();
    text
}

fn cids(text: &str) -> Vec<&str> {
    text.split("\r\n")
        .skip(1)
        .filter(|l| !l.is_empty())
        .map(|l| l.split(',').nth(4).unwrap())
        .collect()
}

#[tokio::test]
async fn full_and_diff_exports_to_a_local_directory() {
    let db = TestDb::new().await;
    let pool = fixture(&db).await;
    let dir = tempfile::tempdir().unwrap();
    let store = ichnaea_runtime::object_store::build(&AssetSettings {
        bucket: None,
        url: None,
        dir: dir.path().to_owned(),
        s3_endpoint: None,
        cell_exports: true,
    })
    .unwrap();

    let plan = ExportKind::Diff.plan(now());
    let result = export(&pool, store.clone(), &plan).await.unwrap();
    assert_eq!(
        result.object,
        "export/MLS-diff-cell-export-2024-01-12T140000.csv.gz"
    );
    assert_eq!(result.rows, 2);
    assert!(
        dir.path()
            .join("export/MLS-diff-cell-export-2024-01-12T140000.csv.gz")
            .is_file()
    );
    let text = read_gzip(&store, &result.object).await;
    assert!(text.starts_with(&format!("{HEADER}\r\n")));
    assert_eq!(cids(&text), ["1", "2"]);
    let modified = now().add_seconds(-30 * 60).unix_seconds();
    assert_eq!(
        text.split("\r\n").nth(1).unwrap(),
        format!("GSM,202,1,2120,1,12,23.4123167,38.8574351,1500,7,1,1568220564,{modified},")
    );
    assert!(
        text.split("\r\n")
            .nth(2)
            .unwrap()
            .starts_with("NR,202,1,7000000,2,")
    );

    let plan = ExportKind::Full.plan(now());
    let result = export(&pool, store.clone(), &plan).await.unwrap();
    assert_eq!(
        result.object,
        "export/MLS-full-cell-export-2024-01-12T000000.csv.gz"
    );
    // Table order gsm, wcdma, lte, nr; nothing older than 365 days, nothing unpositioned.
    assert_eq!(
        cids(&read_gzip(&store, &result.object).await),
        ["1", "4", "3", "2"]
    );
}

#[tokio::test]
async fn full_export_to_an_s3_compatible_store() {
    ichnaea_testing::TestS3::require_aws_env();
    let s3 = ichnaea_testing::TestS3::start("assets").await;
    let db = TestDb::new().await;
    let pool = fixture(&db).await;
    let store = ichnaea_runtime::object_store::build(&AssetSettings {
        bucket: Some(s3.bucket().to_owned()),
        url: None,
        dir: std::env::temp_dir(),
        s3_endpoint: Some(s3.endpoint().to_owned()),
        cell_exports: true,
    })
    .unwrap();
    let plan = ExportKind::Full.plan(now());
    let result = export(&pool, store.clone(), &plan).await.unwrap();
    assert_eq!(result.rows, 4);
    let text = read_gzip(
        &store,
        "export/MLS-full-cell-export-2024-01-12T000000.csv.gz",
    )
    .await;
    assert_eq!(cids(&text), ["1", "4", "3", "2"]);
    assert!(text.ends_with(",\r\n"));
}

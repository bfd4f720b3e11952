//! `load-cells` and `dump` through the real `ichnaea-admin` binary, against the real
//! MariaDB and Redis.

#![expect(clippy::unwrap_used, reason = "tests panic on setup failures")]

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Output};

use ichnaea_testing::{TestDb, TestRedis};
use mysql_async::prelude::Queryable;

/// An MLS diff export: CRLF lines, gzip. The three cells of the reference's own test
/// (`pipeline.md` §12): UMTS and LTE cells in Greece, a GSM cell in France.
const MLS_SAMPLE: &str = "radio,mcc,net,area,cell,unit,lon,lat,range,samples,changeable,created,updated,averageSignal\r\n\
UMTS,202,1,2120,12842,,23.4123167,38.8574351,0,6,1,1568220564,1570120316,\r\n\
GSM,208,10,30014,20669,,2.5559,46.6327,0,15,1,1568220588,1570120328,\r\n\
LTE,202,1,2120,12842,,23.4123167,38.8574351,0,6,1,1568220564,1570120316,\r\n";

fn admin(db: &TestDb, redis: Option<&TestRedis>, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ichnaea-admin"));
    cmd.args(args)
        .env_remove("DB_READONLY_URI")
        .env_remove("REDIS_URI")
        .env_remove("SECRET_KEY")
        .env_remove("LOCAL_DEV_ENV")
        .env("DB_READWRITE_URI", db.url());
    if let Some(redis) = redis {
        cmd.env("REDIS_URI", redis.url());
    }
    cmd.output().expect("run ichnaea-admin")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "stdout: {}\nstderr: {}",
        stdout(o),
        String::from_utf8_lossy(&o.stderr)
    );
    stdout(o)
}

fn write_gzip(path: &Path, text: &str) {
    let file = std::fs::File::create(path).unwrap();
    let mut gz = flate2::write::GzEncoder::new(file, flate2::Compression::default());
    gz.write_all(text.as_bytes()).unwrap();
    gz.finish().unwrap();
}

fn gunzip(path: &Path) -> String {
    let mut text = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap())
        .read_to_string(&mut text)
        .unwrap();
    text
}

#[tokio::test(flavor = "multi_thread")]
async fn mls_export_loads_with_regions_areas_and_idempotence() {
    let db = TestDb::new().await;
    let redis = TestRedis::new().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir
        .path()
        .join("MLS-diff-cell-export-2019-10-03T170000.csv.gz");
    write_gzip(&file, MLS_SAMPLE);
    let arg = file.to_str().unwrap();

    let first = ok(&admin(&db, Some(&redis), &["load-cells", arg]));
    assert!(
        first.contains("rows read: 3, imported: 3 (new 3, updated 0, unchanged 0), skipped: 0"),
        "{first}"
    );
    assert!(first.contains("queued 3 cell areas"), "{first}");
    // This server allows LOAD DATA LOCAL (the INSERT fallback is tested in ichnaea-db).
    assert!(
        first.contains("  staged with LOAD DATA LOCAL INFILE\n"),
        "{first}"
    );

    let mut conn = db.conn().await;
    let cells: Vec<(u16, String, u32, Option<u32>)> = conn
        .query(
            "SELECT mcc, region, UNIX_TIMESTAMP(created), psc FROM cell_wcdma \
             UNION ALL SELECT mcc, region, UNIX_TIMESTAMP(created), psc FROM cell_gsm \
             UNION ALL SELECT mcc, region, UNIX_TIMESTAMP(created), psc FROM cell_lte",
        )
        .await
        .unwrap();
    assert_eq!(
        cells,
        vec![
            (202, "GR".to_owned(), 1_568_220_564, None),
            (208, "FR".to_owned(), 1_568_220_588, None),
            (202, "GR".to_owned(), 1_568_220_564, None),
        ]
    );
    let mut r = redis.conn().await;
    let areas: u64 = redis::cmd("LLEN")
        .arg("update_cellarea")
        .query_async(&mut r)
        .await
        .unwrap();
    assert_eq!(areas, 3);
    let triggers: Vec<Vec<u8>> = redis::cmd("LRANGE")
        .arg("ichnaea_tasks")
        .arg(0)
        .arg(-1)
        .query_async(&mut r)
        .await
        .unwrap();
    assert_eq!(triggers.len(), 1);
    assert!(String::from_utf8_lossy(&triggers[0]).contains("data.update_statregion"));

    // The same file again changes nothing and queues no area.
    let again = ok(&admin(&db, Some(&redis), &["load-cells", arg]));
    assert!(
        again.contains("imported: 3 (new 0, updated 0, unchanged 3)"),
        "{again}"
    );
    assert!(again.contains("queued 0 cell areas"), "{again}");
}

#[tokio::test(flavor = "multi_thread")]
async fn opencellid_file_loads_and_reports_bad_rows() {
    let db = TestDb::new().await;
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/opencellid-sample.csv");
    let out = ok(&admin(&db, None, &["load-cells", sample.to_str().unwrap()]));
    assert!(
        out.contains("rows read: 8, imported: 4 (new 4, updated 0, unchanged 0), skipped: 4"),
        "{out}"
    );
    for reason in [
        "skipped, CDMA cell: 1",
        "skipped, invalid mcc: 1",
        "skipped, not a number: 1",
        "skipped, position out of range: 1",
    ] {
        assert!(out.contains(reason), "{reason} missing from {out}");
    }
    assert!(out.contains("REDIS_URI is not set: 4 cell areas were not queued"));
    let mut conn = db.conn().await;
    let nr: Vec<(u32, u64, Option<i16>, String)> = conn
        .query("SELECT lac, cid, psc, region FROM cell_nr")
        .await
        .unwrap();
    assert_eq!(
        nr,
        vec![(120_003, 60_000_000_001, Some(511), "DE".to_owned())]
    );
    let lte: Vec<(u16, u32, Option<i16>, u32, u32)> = conn
        .query("SELECT lac, cid, psc, radius, samples FROM cell_lte")
        .await
        .unwrap();
    assert_eq!(lte, vec![(42_007, 26_435_842, Some(318), 3200, 102)]);

    // Dump every cell, then only those near Berlin's centre.
    let dir = tempfile::tempdir().unwrap();
    let all = dir.path().join("cells.csv.gz");
    let dumped = ok(&admin(
        &db,
        None,
        &[
            "dump",
            "--datatype",
            "cell",
            "--filename",
            all.to_str().unwrap(),
        ],
    ));
    assert!(dumped.contains("Wrote 4 rows"), "{dumped}");
    let text = gunzip(&all);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], ichnaea_core::dumpcsv::CELL_HEADER);
    assert_eq!(lines.len(), 5);
    assert!(lines[1].starts_with("GSM,262,2,801,86355,0,52.522202,13.285512,52.522202,"));
    assert!(lines[4].starts_with("NR,262,1,120003,60000000001,511,"));
    assert!(!text.contains('\r'));

    let again = admin(
        &db,
        None,
        &[
            "dump",
            "--datatype",
            "cell",
            "--filename",
            all.to_str().unwrap(),
        ],
    );
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("File already exists."));

    let near = dir.path().join("near.csv.gz");
    let near_out = ok(&admin(
        &db,
        None,
        &[
            "dump",
            "--datatype",
            "cell",
            "--filename",
            near.to_str().unwrap(),
            "--lat",
            "52.52",
            "--lon",
            "13.405",
            "--radius",
            "2000",
        ],
    ));
    assert!(near_out.contains("Wrote 2 rows"), "{near_out}");

    let wifi = dir.path().join("wifi.csv.gz");
    ok(&admin(
        &db,
        None,
        &[
            "dump",
            "--datatype",
            "wifi",
            "--filename",
            wifi.to_str().unwrap(),
        ],
    ));
    assert_eq!(
        gunzip(&wifi),
        format!("{}\n", ichnaea_core::dumpcsv::MAC_HEADER)
    );
}

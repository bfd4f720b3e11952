//! Paged station reads (exports, dumps) and cell imports against the real server.

use ichnaea_core::cellcsv::parse_line;
use ichnaea_core::pipeline::station::{StationKey, StationRow};
use ichnaea_core::shard::{CellShard, WifiShard};
use ichnaea_core::{CellId, Mac, Radio};
use ichnaea_db::StationTable;
use ichnaea_db::cells::{
    CellImportRow, IMPORT_ROWS_PER_CHUNK, ImportConnection, PageFilter, STAGE_INSERT_ROWS,
    StageMethod, import_cells, page_stations,
};
use ichnaea_db::stations::{insert_station_rows, load_station_rows};
use ichnaea_testing::TestDb;

use crate::fixtures::*;

fn gsm(cid: u64, modified_days_ago: i64, positioned: bool) -> StationRow {
    let id = CellId::new(Radio::Gsm, 234, 30, 7, cid).unwrap();
    StationRow {
        lat: positioned.then_some(LAT),
        lon: positioned.then_some(LON),
        created: Some(ago(400)),
        modified: Some(ago(modified_days_ago)),
        ..StationRow::new(StationKey::Cell(id))
    }
}

fn cids(rows: &[StationRow]) -> Vec<u64> {
    rows.iter().map(|r| r.key.cell().unwrap().cid()).collect()
}

#[tokio::test]
async fn pages_follow_the_key_and_apply_filters() {
    let db = TestDb::new().await;
    let (_pool, mut conn) = connect(&db).await;
    let table = StationTable::Cell(CellShard::for_radio(Radio::Gsm));
    let rows: Vec<StationRow> = (1..=7)
        .map(|cid| gsm(cid, i64::try_from(cid).unwrap() * 100, cid != 4))
        .collect();
    insert_station_rows(&mut conn, table, &rows).await.unwrap();

    // Everything, three rows per page.
    let filter = PageFilter::default();
    let mut seen = Vec::new();
    let mut cursor: Option<Vec<u8>> = None;
    let mut pages = 0;
    loop {
        let page = page_stations(&mut conn, table, cursor.as_deref(), &filter, 3)
            .await
            .unwrap();
        let Some(next) = page.next else { break };
        assert!(page.rows.len() <= 3);
        seen.extend(cids(&page.rows));
        cursor = Some(next);
        pages += 1;
    }
    assert_eq!(seen, vec![1, 2, 3, 4, 5, 6, 7]);
    assert_eq!(pages, 3);

    // Positioned rows modified in [ago(450), ago(150)): cids 2, 3 (4 has no position).
    let filter = PageFilter {
        positioned: true,
        modified_from: Some(ago(450)),
        modified_before: Some(ago(150)),
        bbox: None,
    };
    let page = page_stations(&mut conn, table, None, &filter, 100)
        .await
        .unwrap();
    assert_eq!(cids(&page.rows), vec![2, 3]);

    // A box that excludes London finds nothing; one around it finds the positioned rows.
    let away = PageFilter {
        bbox: Some((10.0, 9.0, 10.0, 9.0)),
        ..PageFilter::default()
    };
    let page = page_stations(&mut conn, table, None, &away, 100)
        .await
        .unwrap();
    assert!(page.rows.is_empty() && page.next.is_none());
    let around = PageFilter {
        bbox: Some((LAT + 0.1, LAT - 0.1, LON + 0.1, LON - 0.1)),
        ..PageFilter::default()
    };
    let page = page_stations(&mut conn, table, None, &around, 100)
        .await
        .unwrap();
    assert_eq!(cids(&page.rows), vec![1, 2, 3, 5, 6, 7]);
}

#[tokio::test]
async fn wifi_pages_read_mac_tables() {
    let db = TestDb::new().await;
    let (_pool, mut conn) = connect(&db).await;
    let mac = Mac::parse("a82066123456").unwrap();
    let shard = WifiShard::for_mac(&mac);
    let row = StationRow {
        lat: Some(LAT),
        lon: Some(LON),
        ..StationRow::new(StationKey::Mac(mac))
    };
    insert_station_rows(
        &mut conn,
        StationTable::Wifi(shard),
        std::slice::from_ref(&row),
    )
    .await
    .unwrap();
    let page = page_stations(
        &mut conn,
        StationTable::Wifi(shard),
        None,
        &PageFilter::default(),
        10,
    )
    .await
    .unwrap();
    assert_eq!(page.rows, vec![row]);
}

async fn import_conn(db: &TestDb, stage: StageMethod) -> ImportConnection {
    ImportConnection::connect_with(&db.url().into(), stage)
        .await
        .unwrap()
}

/// Runs an import test once per staging method; each must keep its method (this server
/// allows `LOAD DATA LOCAL`, so the fast path must not have fallen back).
macro_rules! both_stage_methods {
    ($check:ident: $load_data:ident, $insert:ident) => {
        #[tokio::test]
        async fn $load_data() {
            $check(StageMethod::LoadData).await;
        }

        #[tokio::test]
        async fn $insert() {
            $check(StageMethod::Insert).await;
        }
    };
}

fn import_row(line: &str) -> CellImportRow {
    CellImportRow {
        cell: parse_line(line).unwrap(),
        region: gb(),
    }
}

both_stage_methods!(insert_update_only_when_newer_and_are_idempotent:
    imports_insert_update_only_when_newer_and_are_idempotent,
    inserted_stages_insert_update_only_when_newer_and_are_idempotent);

async fn insert_update_only_when_newer_and_are_idempotent(stage: StageMethod) {
    let db = TestDb::new().await;
    let (_pool, mut conn) = connect(&db).await;
    let mut import = import_conn(&db, stage).await;
    let shard = CellShard::for_radio(Radio::Gsm);
    let table = StationTable::Cell(shard);
    let first = vec![
        import_row("GSM,234,30,7,1,5,-0.1,51.5,1000,3,1,1568220564,1568220600,"),
        import_row("GSM,234,30,7,2,,-0.2,51.6,200,4,1,1568220564,1568220600,"),
        import_row("GSM,234,30,8,3,,-0.3,51.7,300,5,1,1568220564,1568220600,"),
    ];
    let outcome = import_cells(&mut import, shard, &first).await.unwrap();
    assert_eq!((outcome.new, outcome.updated, outcome.unchanged), (3, 0, 0));
    assert_eq!(outcome.areas.len(), 2);

    // The same rows again: nothing changes.
    let again = import_cells(&mut import, shard, &first).await.unwrap();
    assert_eq!((again.new, again.updated, again.unchanged), (0, 0, 3));
    assert!(again.areas.is_empty());

    // A newer row for cell 1, an older one for cell 2, a duplicate in the same call.
    let second = vec![
        import_row("GSM,234,30,7,1,6,-0.15,51.55,1500,9,1,1568220564,1568300000,"),
        import_row("GSM,234,30,7,2,,10.0,10.0,1,1,1,1,1000,"),
        import_row("GSM,234,30,7,1,6,-0.15,51.55,1500,9,1,1568220564,1568200000,"),
    ];
    let outcome = import_cells(&mut import, shard, &second).await.unwrap();
    assert_eq!((outcome.new, outcome.updated, outcome.unchanged), (0, 1, 2));

    let keys: Vec<StationKey> = [1, 2]
        .iter()
        .map(|&cid| StationKey::Cell(CellId::new(Radio::Gsm, 234, 30, 7, cid).unwrap()))
        .collect();
    let rows = load_station_rows(&mut conn, table, &keys).await.unwrap();
    let one = &rows[&keys[0]];
    assert_eq!(one.lat, Some(51.55));
    assert_eq!(one.lon, Some(-0.15));
    assert_eq!(one.psc, Some(6));
    assert_eq!(one.radius, Some(1500));
    assert_eq!(one.samples, Some(9));
    assert_eq!(one.modified.unwrap().unix_seconds(), 1_568_300_000);
    // The bounding box and region stay those of the first import.
    assert_eq!(one.max_lat, Some(51.5));
    assert_eq!(one.region, gb());
    let two = &rows[&keys[1]];
    assert_eq!(two.lat, Some(51.6));
    assert_eq!(two.modified.unwrap().unix_seconds(), 1_568_220_600);
    assert_eq!(two.created.unwrap().unix_seconds(), 1_568_220_564);
    assert_eq!(import.stage_method(), stage);
}

#[tokio::test]
async fn imports_refuse_rows_of_another_radio() {
    let db = TestDb::new().await;
    let mut import = import_conn(&db, StageMethod::LoadData).await;
    let rows = vec![import_row("LTE,234,30,7,1,,-0.1,51.5,1,1,1,1,2,")];
    let err = import_cells(&mut import, CellShard::for_radio(Radio::Gsm), &rows)
        .await
        .unwrap_err();
    assert!(err.is_invalid());
}

both_stage_methods!(store_nulls_and_exact_values_in_every_cell_table:
    imports_store_nulls_and_exact_values_in_every_cell_table,
    inserted_stages_store_nulls_and_exact_values_in_every_cell_table);

async fn store_nulls_and_exact_values_in_every_cell_table(stage: StageMethod) {
    let db = TestDb::new().await;
    let (_pool, mut conn) = connect(&db).await;
    let mut import = import_conn(&db, stage).await;
    // No PSC, no created time, no region; a position with many digits; NR's wide ids.
    let lines = [
        ("GSM", Radio::Gsm, 65_533u32, 65_535u64),
        ("UMTS", Radio::Wcdma, 1, 268_435_455),
        ("LTE", Radio::Lte, 7, 268_435_455),
        ("NR", Radio::Nr, 16_000_000, 68_719_476_735),
    ];
    for (name, radio, lac, cid) in lines {
        let mut row = import_row(&format!(
            "{name},234,30,{lac},{cid},,-0.123456789012,51.987654321098,4000,12,1,,1568220600,"
        ));
        row.region = None;
        let shard = CellShard::for_radio(radio);
        let outcome = import_cells(&mut import, shard, std::slice::from_ref(&row))
            .await
            .unwrap();
        assert_eq!((outcome.new, outcome.updated, outcome.unchanged), (1, 0, 0));
        assert_eq!(outcome.areas.len(), 1);
        let key = StationKey::Cell(CellId::new(radio, 234, 30, lac, cid).unwrap());
        let rows = load_station_rows(
            &mut conn,
            StationTable::Cell(shard),
            std::slice::from_ref(&key),
        )
        .await
        .unwrap();
        let stored = &rows[&key];
        assert_eq!(stored.psc, None);
        assert_eq!(stored.created, None);
        assert_eq!(stored.region, None);
        assert_eq!(stored.lat, Some(51.987654321098));
        assert_eq!(stored.lon, Some(-0.123456789012));
        assert_eq!(stored.min_lon, Some(-0.123456789012));
        assert_eq!(stored.radius, Some(4000));
        assert_eq!(stored.samples, Some(12));
        assert_eq!(stored.modified.unwrap().unix_seconds(), 1_568_220_600);
    }
    assert_eq!(import.stage_method(), stage);
    import.close().await.unwrap();
}

both_stage_methods!(larger_than_a_chunk_count_every_row_once:
    imports_larger_than_a_chunk_count_every_row_once,
    inserted_stages_larger_than_a_chunk_count_every_row_once);

async fn larger_than_a_chunk_count_every_row_once(stage: StageMethod) {
    // The second chunk (1 234 rows) ends with a partial INSERT group.
    assert_ne!((IMPORT_ROWS_PER_CHUNK + 1234) % STAGE_INSERT_ROWS, 0);
    let db = TestDb::new().await;
    let mut import = import_conn(&db, stage).await;
    let shard = CellShard::for_radio(Radio::Lte);
    let total = IMPORT_ROWS_PER_CHUNK + 1234;
    let row = |cid: usize, modified: u64| {
        import_row(&format!(
            "LTE,262,1,{},{},,13.4,52.5,100,1,1,1500000000,{modified},",
            cid / 1000 + 1,
            cid + 1
        ))
    };
    // Every third cell exists already, one in six of them older than the file.
    let existing: Vec<CellImportRow> = (0..total)
        .step_by(3)
        .map(|cid| {
            row(
                cid,
                if cid % 2 == 0 {
                    1_500_000_000
                } else {
                    1_700_000_000
                },
            )
        })
        .collect();
    let first = import_cells(&mut import, shard, &existing).await.unwrap();
    assert_eq!(first.new, existing.len() as u64);
    let all: Vec<CellImportRow> = (0..total).map(|cid| row(cid, 1_600_000_000)).collect();
    let outcome = import_cells(&mut import, shard, &all).await.unwrap();
    let older = (0..total).step_by(3).filter(|cid| cid % 2 == 0).count() as u64;
    assert_eq!(outcome.new, (total - existing.len()) as u64);
    assert_eq!(outcome.updated, older);
    assert_eq!(outcome.unchanged, existing.len() as u64 - older);
    assert_eq!(
        outcome.new + outcome.updated + outcome.unchanged,
        total as u64
    );
    // Areas of 1 000 cells each: every one has new cells.
    assert_eq!(outcome.areas.len(), total.div_ceil(1000));
    let again = import_cells(&mut import, shard, &all).await.unwrap();
    assert_eq!((again.new, again.updated), (0, 0));
    assert!(again.areas.is_empty());
    assert_eq!(import.stage_method(), stage);
}

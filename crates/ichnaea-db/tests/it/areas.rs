//! Cell areas are inserted, updated and deleted from their cells (`pipeline.md` §6,
//! §19.2).

use ichnaea_core::locate::station::AreaStation;
use ichnaea_core::pipeline::station::{StationKey, StationRow};
use ichnaea_core::shard::CellShard;
use ichnaea_core::{CellAreaId, CellId, Radio};
use ichnaea_db::areas::{AreaChange, load_area_stations, update_cell_areas};
use ichnaea_db::stations::insert_station_rows;
use ichnaea_db::{BatchMarker, BatchStatus, DbConn, StationTable};
use ichnaea_testing::TestDb;
use mysql_async::prelude::Queryable;

use crate::fixtures::*;

/// A positioned cell of area (234, 30, lac 7).
fn cell(cid: u64, lat: f64, radius: u32, last_seen_days_ago: i32) -> StationRow {
    let id = CellId::new(Radio::Gsm, 234, 30, 7, cid).unwrap();
    StationRow {
        lat: Some(lat),
        lon: Some(LON),
        max_lat: Some(lat),
        min_lat: Some(lat),
        max_lon: Some(LON),
        min_lon: Some(LON),
        radius: Some(radius),
        region: gb(),
        samples: Some(1),
        weight: Some(1.0),
        created: Some(ago(5)),
        modified: Some(ago(5)),
        last_seen: Some(today().add_days(-last_seen_days_ago)),
        ..StationRow::new(StationKey::Cell(id))
    }
}

fn area() -> CellAreaId {
    CellAreaId::new(Radio::Gsm, 234, 30, 7).unwrap()
}

async fn insert_cells(conn: &mut DbConn, radio: Radio, rows: &[StationRow]) {
    insert_station_rows(conn, StationTable::Cell(CellShard::for_radio(radio)), rows)
        .await
        .unwrap();
}

async fn update(
    conn: &mut DbConn,
    areas: &[CellAreaId],
    at: ichnaea_core::DateTime,
) -> Vec<(CellAreaId, AreaChange)> {
    let result = update_cell_areas(conn, None, areas, at, &TestRegions)
        .await
        .unwrap();
    assert!(result.lock_failures.is_empty());
    result.value.applied().unwrap()
}

async fn stored(conn: &mut DbConn, area: CellAreaId) -> Option<AreaStation> {
    load_area_stations(conn, &[area]).await.unwrap().pop()
}

#[tokio::test]
async fn new_area_from_one_cell() {
    let db = TestDb::new().await;
    let (_pool, mut conn) = connect(&db).await;
    insert_cells(&mut conn, Radio::Gsm, &[cell(1, LAT, 1500, 2)]).await;
    assert_eq!(
        update(&mut conn, &[area(), area()], now()).await,
        vec![(area(), AreaChange::Inserted)]
    );
    assert_eq!(
        stored(&mut conn, area()).await,
        Some(AreaStation {
            radius: Some(0),
            region: Some("GB".to_owned()),
            avg_cell_radius: Some(1500),
            last_seen: Some(today().add_days(-2)),
            ..AreaStation::new(area(), LAT, LON, now())
        })
    );
}

#[tokio::test]
async fn area_is_updated_and_deleted() {
    let db = TestDb::new().await;
    let (_pool, mut conn) = connect(&db).await;
    insert_cells(&mut conn, Radio::Gsm, &[cell(1, LAT, 200, 0)]).await;
    update(&mut conn, &[area()], ago(1)).await;

    // A second cell (radius 300, seen yesterday), a blocked cell (no position) and a cell
    // of another area.
    let blocked = StationRow {
        block_count: Some(1),
        ..without_position(cell(3, LAT + 1.0, 999, 0))
    };
    let other = StationRow {
        key: StationKey::Cell(CellId::new(Radio::Gsm, 234, 30, 8, 1).unwrap()),
        ..cell(1, LAT + 2.0, 5000, 0)
    };
    insert_cells(
        &mut conn,
        Radio::Gsm,
        &[cell(2, LAT, 300, 1), blocked, other],
    )
    .await;
    assert_eq!(
        update(&mut conn, &[area()], now()).await,
        vec![(area(), AreaChange::Updated)]
    );
    let row = stored(&mut conn, area()).await.unwrap();
    assert_eq!(row.avg_cell_radius, Some(250));
    assert_eq!(row.num_cells, Some(2));
    assert_eq!(row.last_seen, Some(today()));
    assert_eq!(row.radius, Some(0));
    assert_eq!((row.created, row.modified), (Some(ago(1)), Some(now())));

    // Every cell of the area loses its position (blocked): the area is deleted.
    let mut raw = db.conn().await;
    raw.query_drop("UPDATE cell_gsm SET lat = NULL, lon = NULL WHERE lac = 7")
        .await
        .unwrap();
    let missing = CellAreaId::new(Radio::Lte, 262, 1, 5).unwrap();
    assert_eq!(
        update(&mut conn, &[area(), missing], now()).await,
        vec![(area(), AreaChange::Deleted), (missing, AreaChange::Absent)]
    );
    assert_eq!(stored(&mut conn, area()).await, None);
    let count: Vec<u64> = raw.query("SELECT COUNT(*) FROM cell_area").await.unwrap();
    assert_eq!(count, vec![0]);
}

#[tokio::test]
async fn nr_areas_use_cell_nr() {
    let db = TestDb::new().await;
    let (_pool, mut conn) = connect(&db).await;
    let nr = CellId::new(Radio::Nr, 310, 260, 0xFF_FFFD, (1 << 36) - 1).unwrap();
    let row = StationRow {
        key: StationKey::Cell(nr),
        lat: Some(40.0),
        lon: Some(-100.0),
        max_lat: Some(40.0),
        min_lat: Some(40.0),
        max_lon: Some(-100.0),
        min_lon: Some(-100.0),
        region: ichnaea_core::pipeline::region::RegionCode::new("US"),
        ..cell(1, 0.0, 300, 0)
    };
    insert_cells(&mut conn, Radio::Nr, &[row]).await;
    assert_eq!(
        update(&mut conn, &[nr.area()], now()).await,
        vec![(nr.area(), AreaChange::Inserted)]
    );
    let stored = stored(&mut conn, nr.area()).await.unwrap();
    assert_eq!(stored.region.as_deref(), Some("US"));
    assert_eq!(stored.avg_cell_radius, Some(300));
    let mut raw = db.conn().await;
    let cols: Vec<(u8, i8, u32)> = raw
        .query("SELECT LENGTH(areaid), radio, lac FROM cell_area")
        .await
        .unwrap();
    assert_eq!(cols, vec![(8, 4, 0xFF_FFFD)]);
}

#[tokio::test]
async fn area_batches_can_use_markers() {
    let db = TestDb::new().await;
    let (_pool, mut conn) = connect(&db).await;
    insert_cells(&mut conn, Radio::Gsm, &[cell(1, LAT, 100, 0)]).await;
    let marker = BatchMarker::new("update_cellarea", 9).unwrap();
    let first = update_cell_areas(&mut conn, Some(&marker), &[area()], now(), &TestRegions)
        .await
        .unwrap();
    assert_eq!(
        first.value,
        BatchStatus::Applied(vec![(area(), AreaChange::Inserted)])
    );
    let replay = update_cell_areas(
        &mut conn,
        Some(&marker),
        &[area()],
        now().add_seconds(60),
        &TestRegions,
    )
    .await
    .unwrap();
    assert_eq!(replay.value, BatchStatus::AlreadyProcessed);
    assert_eq!(
        stored(&mut conn, area()).await.unwrap().modified,
        Some(now())
    );
}

//! The locate reads return the positioned rows of the requested networks, across shards
//! (`api.md` §8.4).

use std::collections::BTreeMap;

use ichnaea_core::locate::station::{AreaStation, Station};
use ichnaea_core::pipeline::station::{StationKey, StationRow};
use ichnaea_core::shard::{BlueShard, CellShard, WifiShard};
use ichnaea_core::{CellAreaId, CellId, Mac, Radio, ReportSource};
use ichnaea_db::areas::load_area_stations;
use ichnaea_db::stations::{
    insert_station_rows, load_blue_stations, load_cell_stations, load_wifi_stations,
};
use ichnaea_db::{DbConn, StationTable};
use ichnaea_testing::TestDb;
use mysql_async::prelude::Queryable;

use crate::fixtures::*;

fn positioned(key: StationKey, lat: f64) -> StationRow {
    StationRow {
        lat: Some(lat),
        lon: Some(LON),
        max_lat: Some(lat + 0.001),
        min_lat: Some(lat - 0.001),
        max_lon: Some(LON),
        min_lon: Some(LON),
        created: Some(ago(30)),
        modified: Some(ago(3)),
        radius: Some(111),
        region: gb(),
        samples: Some(17),
        source: Some(ReportSource::Query),
        weight: Some(12.5),
        last_seen: Some(today()),
        block_first: Some(ago(20).date()),
        block_last: Some(ago(20).date()),
        block_count: Some(1),
        ..StationRow::new(key)
    }
}

/// What locate should see of a row.
fn locate_view<I>(id: I, row: &StationRow) -> Station<I> {
    Station {
        id,
        lat: row.lat,
        lon: row.lon,
        radius: row.radius,
        region: row.region.map(|r| r.as_str().to_owned()),
        samples: row.samples,
        source: row.source,
        weight: row.weight,
        created: row.created,
        modified: row.modified,
        last_seen: row.last_seen,
        block_first: row.block_first,
        block_last: row.block_last,
        block_count: row.block_count,
    }
}

/// Inserts rows into the tables `table_of` picks.
async fn insert_all(
    conn: &mut DbConn,
    rows: &[StationRow],
    table_of: impl Fn(&StationKey) -> StationTable,
) {
    let mut by_table: BTreeMap<StationTable, Vec<StationRow>> = BTreeMap::new();
    for row in rows {
        by_table
            .entry(table_of(&row.key))
            .or_default()
            .push(row.clone());
    }
    for (table, rows) in by_table {
        assert_eq!(
            insert_station_rows(conn, table, &rows).await.unwrap(),
            rows.len()
        );
    }
}

fn sorted<I: Ord + Clone>(mut stations: Vec<Station<I>>) -> Vec<Station<I>> {
    stations.sort_by(|a, b| a.id.cmp(&b.id));
    stations
}

#[tokio::test]
async fn mac_stations_are_read_across_shards() {
    let db = TestDb::new().await;
    let (_pool, mut conn) = connect(&db).await;
    let wanted = [mac_in_shard(0, 1), mac_in_shard(6, 2), mac_in_shard(15, 3)];
    let unpositioned = mac_in_shard(6, 4);
    let not_asked = mac_in_shard(3, 5);
    let missing = mac_in_shard(9, 6);
    let mut rows: Vec<StationRow> = wanted
        .iter()
        .enumerate()
        .map(|(i, m)| positioned(StationKey::Mac(*m), LAT + i as f64 * 0.01))
        .collect();
    rows.push(without_position(positioned(
        StationKey::Mac(unpositioned),
        LAT,
    )));
    rows.push(positioned(StationKey::Mac(not_asked), LAT));
    let wifi_table = |key: &StationKey| StationTable::Wifi(WifiShard::for_mac(&key.mac().unwrap()));
    insert_all(&mut conn, &rows, wifi_table).await;
    // The same MAC as a Bluetooth beacon, in the Bluetooth table only.
    let beacon = positioned(StationKey::Mac(wanted[1]), 10.0);
    insert_all(&mut conn, std::slice::from_ref(&beacon), |key| {
        StationTable::Blue(BlueShard::for_mac(&key.mac().unwrap()))
    })
    .await;

    let query = [
        wanted[2],
        unpositioned,
        missing,
        wanted[0],
        wanted[1],
        wanted[1],
    ];
    let found = sorted(load_wifi_stations(&mut conn, &query).await.unwrap());
    let expected: Vec<Station<Mac>> = sorted(
        rows[..3]
            .iter()
            .zip(wanted)
            .map(|(row, mac)| locate_view(mac, row))
            .collect(),
    );
    assert_eq!(found, expected);

    let beacons = load_blue_stations(&mut conn, &query).await.unwrap();
    assert_eq!(beacons, vec![locate_view(wanted[1], &beacon)]);
    assert!(load_wifi_stations(&mut conn, &[]).await.unwrap().is_empty());
    assert!(
        load_blue_stations(&mut conn, &[missing])
            .await
            .unwrap()
            .is_empty()
    );
    // The statements are prepared once per connection and reused: other widths in between
    // change nothing.
    let single = load_wifi_stations(&mut conn, &[wanted[0]]).await.unwrap();
    let first: Vec<Station<Mac>> = expected
        .iter()
        .filter(|s| s.id == wanted[0])
        .cloned()
        .collect();
    assert_eq!(single, first);
    let again = sorted(load_wifi_stations(&mut conn, &query).await.unwrap());
    assert_eq!(again, expected);
}

#[tokio::test]
async fn cells_and_areas_are_read_per_radio() {
    let db = TestDb::new().await;
    let (_pool, mut conn) = connect(&db).await;
    let gsm = gsm_cell(0);
    let gsm_blocked = gsm_cell(1);
    let lte = CellId::new(Radio::Lte, 262, 1, 0xABCD, 0x0102_0304).unwrap();
    let nr = CellId::new(Radio::Nr, 310, 260, 0xFF_FFFD, (1 << 36) - 1).unwrap();
    let wcdma_missing = CellId::new(Radio::Wcdma, 262, 2, 5, 6).unwrap();
    let rows = vec![
        StationRow {
            psc: Some(5),
            ..positioned(StationKey::Cell(gsm), LAT)
        },
        without_position(positioned(StationKey::Cell(gsm_blocked), LAT)),
        positioned(StationKey::Cell(lte), 52.0),
        positioned(StationKey::Cell(nr), 40.0),
    ];
    insert_all(&mut conn, &rows, |key| {
        StationTable::Cell(CellShard::for_radio(key.cell().unwrap().radio()))
    })
    .await;

    let found = sorted(
        load_cell_stations(&mut conn, &[nr, gsm_blocked, wcdma_missing, lte, gsm])
            .await
            .unwrap(),
    );
    let expected = sorted(vec![
        locate_view(gsm, &rows[0]),
        locate_view(lte, &rows[2]),
        locate_view(nr, &rows[3]),
    ]);
    assert_eq!(found, expected);
    assert!(load_cell_stations(&mut conn, &[]).await.unwrap().is_empty());

    let mut raw = db.conn().await;
    let insert = "INSERT INTO cell_area (areaid, radio, mcc, mnc, lac, lat, lon, radius, region, \
                  avg_cell_radius, num_cells, created, modified, last_seen) \
                  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
    let gsm_area = gsm.area();
    let nr_area = nr.area();
    let empty_area = CellAreaId::new(Radio::Lte, 262, 1, 7).unwrap();
    for (area, lat) in [
        (gsm_area, Some(LAT)),
        (nr_area, Some(40.0)),
        (empty_area, None),
    ] {
        let params: Vec<mysql_async::Value> = vec![
            area.to_bytes().into(),
            area.radio().code().into(),
            area.mcc().into(),
            area.mnc().into(),
            area.lac().into(),
            lat.into(),
            lat.map(|_| LON).into(),
            (if lat.is_some() { 2500i32 } else { -5 }).into(),
            "GB".into(),
            1500u32.into(),
            3u32.into(),
            "2024-01-02 03:04:05".into(),
            "2024-01-10 00:00:00".into(),
            "2024-01-11".into(),
        ];
        raw.exec_drop(insert, mysql_async::Params::Positional(params))
            .await
            .unwrap();
    }
    let mut areas = load_area_stations(
        &mut conn,
        &[nr_area, empty_area, gsm_area, lte.area(), gsm_area],
    )
    .await
    .unwrap();
    areas.sort_by_key(|a| a.id);
    let created = ichnaea_core::DateTime::from_ymd_hms(2024, 1, 2, 3, 4, 5).unwrap();
    let area = |id: CellAreaId, lat: f64| AreaStation {
        radius: Some(2500),
        region: Some("GB".to_owned()),
        num_cells: Some(3),
        avg_cell_radius: Some(1500),
        created: Some(created),
        modified: Some(ichnaea_core::DateTime::from_ymd_hms(2024, 1, 10, 0, 0, 0).unwrap()),
        last_seen: ichnaea_core::Date::from_ymd(2024, 1, 11),
        ..AreaStation::new(id, lat, LON, created)
    };
    assert_eq!(areas, vec![area(gsm_area, LAT), area(nr_area, 40.0)]);
    assert!(load_area_stations(&mut conn, &[]).await.unwrap().is_empty());
}

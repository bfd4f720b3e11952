//! Every conversion between diesel rows and the core types round-trips, in memory and
//! through the database.

use chrono::NaiveDate;
use ichnaea_core::pipeline::StationKind;
use ichnaea_core::pipeline::area::CellAreaRow;
use ichnaea_core::pipeline::region::RegionCode;
use ichnaea_core::pipeline::station::{StationKey, StationRow};
use ichnaea_core::shard::{BlueShard, CellShard, DataMapShard, WifiShard};
use ichnaea_core::time::{Date, DateTime};
use ichnaea_core::{CellAreaId, CellId, Grid, Mac, Radio, ReportSource};
use ichnaea_db::StationTable;
use ichnaea_db::convert::{
    CellAreaSqlRow, CellAreaValues, StationColumns, StationSqlRow, date_from_sql, date_to_sql,
    datetime_from_sql, datetime_to_sql, grid_from_sql, grid_to_sql, station_key_from_sql,
    station_key_to_sql,
};
use ichnaea_db::datamap::load_datamap;
use ichnaea_db::stations::{insert_station_rows, load_station_rows};
use ichnaea_testing::TestDb;
use mysql_async::prelude::Queryable;

use crate::fixtures::*;

#[test]
fn times_and_days_round_trip() {
    let times = [
        DateTime::from_unix_seconds(0),
        DateTime::from_unix_seconds(-1),
        DateTime::from_ymd_hms(1000, 1, 1, 0, 0, 0).unwrap(),
        DateTime::from_ymd_hms(2024, 2, 29, 23, 59, 59).unwrap(),
        DateTime::from_ymd_hms(9999, 12, 31, 23, 59, 59).unwrap(),
    ];
    for time in times {
        let sql = datetime_to_sql(time).unwrap();
        assert_eq!(datetime_from_sql(sql), time);
        assert_eq!(sql.to_string(), {
            let (y, mo, d, h, mi, s) = time.to_ymd_hms();
            format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}")
        });
        let day = time.date();
        let sql_day = date_to_sql(day).unwrap();
        assert_eq!(date_from_sql(sql_day), day);
        assert_eq!(sql_day.to_string(), day.to_string());
    }
    let with_micros = NaiveDate::from_ymd_opt(2024, 1, 12)
        .unwrap()
        .and_hms_micro_opt(10, 30, 0, 999_999)
        .unwrap();
    assert_eq!(
        datetime_from_sql(with_micros),
        now(),
        "sub-seconds are dropped"
    );
}

fn full_row(key: StationKey) -> StationRow {
    StationRow {
        psc: key.cell().map(|_| 511),
        lat: Some(-33.123456789012),
        lon: Some(151.000000000001),
        max_lat: Some(-33.1),
        min_lat: Some(-33.2),
        max_lon: Some(151.1),
        min_lon: Some(150.9),
        created: Some(ago(400)),
        modified: Some(ago(1).add_seconds(59)),
        radius: Some(u32::MAX),
        region: RegionCode::new("AU"),
        samples: Some(u32::MAX),
        source: Some(ReportSource::Fused),
        weight: Some(1e9),
        last_seen: Some(today()),
        block_first: Some(Date::from_ymd(2020, 2, 29).unwrap()),
        block_last: Some(today().add_days(-2)),
        block_count: Some(255),
        ..StationRow::new(key)
    }
}

fn keys() -> Vec<(StationTable, StationKey)> {
    let wifi = Mac::parse("0123f56789ab").unwrap();
    let blue = Mac::parse("a82066123456").unwrap();
    let mut out = vec![
        (
            StationTable::Wifi(WifiShard::for_mac(&wifi)),
            StationKey::Mac(wifi),
        ),
        (
            StationTable::Blue(BlueShard::for_mac(&blue)),
            StationKey::Mac(blue),
        ),
    ];
    for cell in [
        CellId::new(
            Radio::Gsm,
            234,
            30,
            u32::from(u16::MAX),
            u64::from(u32::MAX),
        )
        .unwrap(),
        CellId::new(Radio::Wcdma, 999, 999, 1, 2).unwrap(),
        CellId::new(Radio::Lte, 262, 1, 0xABCD, 0x0102_0304).unwrap(),
        CellId::new(Radio::Nr, 310, 260, 0xFF_FFFF, (1 << 36) - 1).unwrap(),
    ] {
        out.push((
            StationTable::Cell(CellShard::for_radio(cell.radio())),
            StationKey::Cell(cell),
        ));
    }
    out
}

#[test]
fn station_rows_round_trip_in_memory() {
    for (table, key) in keys() {
        for row in [full_row(key), StationRow::new(key)] {
            let sql = StationSqlRow::from_station_row(&row).unwrap();
            assert_eq!(sql.id, station_key_to_sql(&key));
            assert_eq!(station_key_from_sql(table.kind(), &sql.id), Some(key));
            assert_eq!(sql.to_station_row(table.kind()), Some(row.clone()));
            match key {
                StationKey::Mac(mac) => {
                    assert_eq!(sql.to_mac_station().unwrap().id, mac);
                    assert!(sql.psc.is_none());
                }
                StationKey::Cell(cell) => {
                    let station = sql.to_cell_station().unwrap();
                    assert_eq!(station.id, cell);
                    assert_eq!(station.lat, row.lat);
                    assert_eq!(station.created, row.created);
                    assert_eq!(station.block_count, row.block_count);
                    assert_eq!(
                        station.region.as_deref(),
                        row.region.as_ref().map(RegionCode::as_str)
                    );
                }
            }
        }
    }
    // A MAC row never carries a psc.
    let mac_key = keys()[0].1;
    let row = StationRow {
        psc: Some(3),
        ..StationRow::new(mac_key)
    };
    let sql = StationSqlRow::from_station_row(&row).unwrap();
    assert_eq!(sql.psc, None);
    assert_eq!(sql.to_station_row(StationKind::Wifi).unwrap().psc, None);
}

#[test]
fn undecodable_values_read_as_missing() {
    let sql = StationSqlRow {
        id: vec![1; 11],
        psc: None,
        columns: StationColumns {
            region: Some("gb".to_owned()),
            source: Some(42),
            ..StationColumns::default()
        },
    };
    assert_eq!(sql.to_station_row(StationKind::Cell), None, "radio code 1");
    assert_eq!(sql.to_cell_station(), None);
    assert_eq!(sql.to_mac_station(), None, "11 bytes are not a MAC");
    assert_eq!(station_key_from_sql(StationKind::Wifi, &[1, 2, 3]), None);
    let mac = StationSqlRow {
        id: vec![0xa8, 0x20, 0x66, 1, 2, 3],
        ..sql
    };
    let row = mac.to_station_row(StationKind::Blue).unwrap();
    assert_eq!((row.region, row.source), (None, None));
    let station = mac.to_mac_station().unwrap();
    assert_eq!(
        station.region.as_deref(),
        Some("gb"),
        "locate keeps the raw text"
    );
    assert_eq!(grid_from_sql(&[0xff; 8]), None);
    assert_eq!(grid_from_sql(&[0; 7]), None);
    let grid = Grid::from_position(51.5, -0.1);
    assert_eq!(grid_from_sql(&grid_to_sql(grid)), Some(grid));
}

#[test]
fn area_rows_convert() {
    let area = CellAreaId::new(Radio::Nr, 310, 260, 0xFF_FFFD).unwrap();
    let row = CellAreaRow {
        area,
        created: ago(3),
        modified: now(),
        lat: 40.5,
        lon: -100.25,
        radius: u32::MAX,
        region: RegionCode::new("US"),
        avg_cell_radius: Some(1500),
        num_cells: 4,
        last_seen: Some(today()),
    };
    let values = CellAreaValues::from_area_row(&row).unwrap();
    assert_eq!(values.areaid, area.to_bytes());
    assert_eq!(
        (values.radio, values.mcc, values.mnc, values.lac),
        (4, 310, 260, 0xFF_FFFD)
    );
    assert_eq!(values.radius, i32::MAX, "saturated to the signed column");
    assert_eq!(datetime_from_sql(values.created), ago(3));
    let sql = CellAreaSqlRow {
        areaid: values.areaid.clone(),
        lat: Some(values.lat),
        lon: Some(values.lon),
        radius: Some(-1),
        region: values.region.clone(),
        avg_cell_radius: values.avg_cell_radius,
        num_cells: Some(values.num_cells),
        created: Some(values.created),
        modified: Some(values.modified),
        last_seen: values.last_seen,
    };
    let station = sql.to_area_station().unwrap();
    assert_eq!(station.id, area);
    assert_eq!(station.radius, None, "a negative radius is unknown");
    assert_eq!(station.region.as_deref(), Some("US"));
    assert_eq!(
        (station.created, station.modified),
        (Some(ago(3)), Some(now()))
    );
    assert_eq!(station.last_seen, Some(today()));
    let bad = CellAreaSqlRow {
        areaid: vec![3, 0, 0],
        ..sql
    };
    assert_eq!(bad.to_area_station(), None);
}

/// Complete and empty rows of every station table come back from MySQL unchanged.
#[tokio::test]
async fn station_rows_round_trip_through_the_database() {
    let db = TestDb::new().await;
    let (_pool, mut conn) = connect(&db).await;
    for (table, key) in keys() {
        let full = full_row(key);
        assert_eq!(
            insert_station_rows(&mut conn, table, std::slice::from_ref(&full))
                .await
                .unwrap(),
            1
        );
        assert_eq!(
            insert_station_rows(&mut conn, table, std::slice::from_ref(&full))
                .await
                .unwrap(),
            0,
            "INSERT IGNORE leaves existing rows alone"
        );
        let loaded = load_station_rows(&mut conn, table, &[key]).await.unwrap();
        assert_eq!(loaded.get(&key), Some(&full), "{}", table.name());
    }
    let empty_key = StationKey::Cell(gsm_cell(9));
    let table = StationTable::Cell(CellShard::for_radio(Radio::Gsm));
    insert_station_rows(&mut conn, table, &[StationRow::new(empty_key)])
        .await
        .unwrap();
    let loaded = load_station_rows(&mut conn, table, &[empty_key])
        .await
        .unwrap();
    assert_eq!(loaded[&empty_key], StationRow::new(empty_key));
}

/// A malformed row in a datamap table is skipped, not an error.
#[tokio::test]
async fn malformed_grids_are_skipped() {
    let db = TestDb::new().await;
    let (_pool, mut conn) = connect(&db).await;
    let mut raw = db.conn().await;
    let good = Grid::from_position(50.0, 10.0);
    raw.exec_drop(
        "INSERT INTO datamap_ne (grid, created, modified) VALUES (?, '2024-01-01', '2024-01-02'), \
         (?, '2024-01-01', '2024-01-02'), (?, NULL, NULL)",
        (
            grid_to_sql(good),
            vec![0xffu8; 8],
            grid_to_sql(Grid::from_position(51.0, 10.0)),
        ),
    )
    .await
    .unwrap();
    let rows = load_datamap(&mut conn, DataMapShard::Ne).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].grid, good);
    assert_eq!(rows[0].created, Date::from_ymd(2024, 1, 1).unwrap());
    assert_eq!(rows[0].modified, Date::from_ymd(2024, 1, 2).unwrap());
}

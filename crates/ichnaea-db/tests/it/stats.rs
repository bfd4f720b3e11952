//! `stat` running totals and `region_stat` counts (`pipeline.md` §8, §19.7).

use std::collections::{BTreeMap, HashMap};

use ichnaea_core::pipeline::region::RegionCode;
use ichnaea_core::pipeline::station::{StationKey, StationRow};
use ichnaea_core::pipeline::stats::{RegionStatRow, STAT_KEY_ORDER, stat_fold_days};
use ichnaea_core::shard::{BlueShard, WifiShard};
use ichnaea_core::time::Date;
use ichnaea_core::{CellAreaId, Radio, StatKey};
use ichnaea_db::stations::insert_station_rows;
use ichnaea_db::stats::{
    StatCounter, cleanup_stats, fold_stat_counters, load_region_stats, load_stats,
    update_region_stats,
};
use ichnaea_db::{BatchMarker, BatchStatus, DbConn, StationTable};
use ichnaea_testing::TestDb;
use mysql_async::prelude::Queryable;

use crate::fixtures::*;

/// The Redis counters, folded into the database like `update_statcounter` does.
#[derive(Default)]
struct Counters(HashMap<(StatKey, Date), i64>);

impl Counters {
    fn add(&mut self, key: StatKey, day: Date, n: i64) {
        *self.0.entry((key, day)).or_default() += n;
    }

    async fn fold(&mut self, conn: &mut DbConn, marker: Option<&BatchMarker>) -> BatchStatus<()> {
        let counters: Vec<StatCounter> = STAT_KEY_ORDER
            .iter()
            .flat_map(|&key| {
                stat_fold_days(today()).map(|day| StatCounter {
                    key,
                    day,
                    value: self.0.get(&(key, day)).copied().unwrap_or(0),
                })
            })
            .collect();
        let result = fold_stat_counters(conn, marker, &counters, now())
            .await
            .unwrap();
        match result.value {
            BatchStatus::Applied(decrements) => {
                for d in decrements {
                    self.add(d.key, d.day, -d.value);
                }
                BatchStatus::Applied(())
            }
            BatchStatus::AlreadyProcessed => BatchStatus::AlreadyProcessed,
        }
    }
}

async fn insert_stat(db: &TestDb, key: StatKey, day: Date, value: u64) {
    db.conn()
        .await
        .exec_drop(
            "INSERT INTO stat (`key`, time, value) VALUES (?, ?, ?)",
            (key.code(), day.to_string(), value),
        )
        .await
        .unwrap();
}

async fn value(conn: &mut DbConn, key: StatKey, day: Date) -> Option<u64> {
    load_stats(conn, key)
        .await
        .unwrap()
        .into_iter()
        .find(|(d, _)| *d == day)
        .map(|(_, v)| v)
}

fn yesterday() -> Date {
    today().add_days(-1)
}

#[tokio::test]
async fn first_day_and_adding_to_yesterday() {
    let db = TestDb::new().await;
    let (_pool, mut conn) = connect(&db).await;
    insert_stat(&db, StatKey::UniqueWifi, yesterday(), 2).await;
    let mut counters = Counters::default();
    counters.add(StatKey::UniqueCell, today(), 3);
    counters.add(StatKey::UniqueWifi, today(), 4);
    counters.fold(&mut conn, None).await;
    assert_eq!(
        value(&mut conn, StatKey::UniqueCell, today()).await,
        Some(3)
    );
    assert_eq!(
        value(&mut conn, StatKey::UniqueCell, yesterday()).await,
        Some(0),
        "carried forward"
    );
    assert_eq!(
        counters.0[&(StatKey::UniqueCell, today())],
        0,
        "decremented"
    );
    assert_eq!(
        value(&mut conn, StatKey::UniqueWifi, today()).await,
        Some(6)
    );
    assert_eq!(
        value(&mut conn, StatKey::UniqueWifi, yesterday()).await,
        Some(2)
    );
    assert_eq!(
        load_stats(&mut conn, StatKey::Blue).await.unwrap(),
        vec![(yesterday(), 0), (today(), 0)],
        "every key gets rows for both days"
    );
}

#[tokio::test]
async fn second_run_adds_only_the_new_delta_and_replays_are_skipped() {
    let db = TestDb::new().await;
    let (_pool, mut conn) = connect(&db).await;
    insert_stat(&db, StatKey::UniqueCell, yesterday(), 5).await;
    let mut counters = Counters::default();
    counters.add(StatKey::UniqueCell, today(), 4);
    let marker = BatchMarker::new("update_statcounter", 1).unwrap();
    assert_eq!(
        counters.fold(&mut conn, Some(&marker)).await,
        BatchStatus::Applied(())
    );
    assert_eq!(
        value(&mut conn, StatKey::UniqueCell, today()).await,
        Some(9)
    );
    counters.add(StatKey::UniqueCell, today(), 3);
    assert_eq!(
        counters.fold(&mut conn, Some(&marker)).await,
        BatchStatus::AlreadyProcessed,
        "the same batch is not folded twice"
    );
    assert_eq!(
        value(&mut conn, StatKey::UniqueCell, today()).await,
        Some(9)
    );
    counters.fold(&mut conn, None).await;
    assert_eq!(
        value(&mut conn, StatKey::UniqueCell, today()).await,
        Some(12)
    );
    counters.fold(&mut conn, None).await;
    assert_eq!(
        value(&mut conn, StatKey::UniqueCell, today()).await,
        Some(12),
        "a run without new counts changes nothing"
    );
}

#[tokio::test]
async fn gaps_and_both_days() {
    let db = TestDb::new().await;
    let (_pool, mut conn) = connect(&db).await;
    insert_stat(&db, StatKey::UniqueCell, today().add_days(-7), 7).await;
    insert_stat(&db, StatKey::Wifi, today().add_days(-2), 1).await;
    insert_stat(&db, StatKey::Wifi, yesterday(), 3).await;
    let mut counters = Counters::default();
    counters.add(StatKey::UniqueCell, today(), 3);
    counters.add(StatKey::Wifi, yesterday(), 5);
    counters.add(StatKey::Wifi, today(), 7);
    counters.fold(&mut conn, None).await;
    assert_eq!(
        value(&mut conn, StatKey::UniqueCell, today()).await,
        Some(10)
    );
    assert_eq!(
        value(&mut conn, StatKey::UniqueCell, yesterday()).await,
        Some(7)
    );
    assert_eq!(value(&mut conn, StatKey::Wifi, yesterday()).await, Some(8));
    assert_eq!(value(&mut conn, StatKey::Wifi, today()).await, Some(15));
}

#[tokio::test]
async fn all_keys() {
    let db = TestDb::new().await;
    let (_pool, mut conn) = connect(&db).await;
    let mut counters = Counters::default();
    for (key, old, new) in [
        (StatKey::Blue, 8, 1),
        (StatKey::Cell, 9, 2),
        (StatKey::Wifi, 10, 3),
    ] {
        insert_stat(&db, key, yesterday(), old).await;
        counters.add(key, today(), new);
    }
    for (key, new) in [
        (StatKey::UniqueBlue, 4),
        (StatKey::UniqueCell, 5),
        (StatKey::UniqueWifi, 6),
    ] {
        counters.add(key, today(), new);
    }
    counters.fold(&mut conn, None).await;
    let mut got = Vec::new();
    for key in [
        StatKey::Blue,
        StatKey::Cell,
        StatKey::Wifi,
        StatKey::UniqueBlue,
        StatKey::UniqueCell,
        StatKey::UniqueWifi,
    ] {
        got.push(value(&mut conn, key, today()).await.unwrap());
    }
    assert_eq!(got, [9, 11, 13, 4, 5, 6]);
}

#[tokio::test]
async fn cleanup_keeps_two_years() {
    let db = TestDb::new().await;
    let (_pool, mut conn) = connect(&db).await;
    for days in [0, 1, 365, 729, 730, 731, 800, 1000] {
        insert_stat(&db, StatKey::Wifi, today().add_days(-days), 1).await;
    }
    assert_eq!(cleanup_stats(&mut conn, today()).await.unwrap(), 3);
    assert_eq!(load_stats(&mut conn, StatKey::Wifi).await.unwrap().len(), 5);
}

fn code(text: &str) -> Option<RegionCode> {
    RegionCode::new(text)
}

/// `(gsm, wcdma, lte, nr, blue, wifi)` as stored.
fn stored(gsm: u64, wcdma: u64, lte: u64, nr: u64, blue: u64, wifi: u64) -> RegionStatRow {
    RegionStatRow {
        gsm: Some(gsm),
        wcdma: Some(wcdma),
        lte: Some(lte),
        nr: Some(nr),
        blue: Some(blue),
        wifi: Some(wifi),
    }
}

async fn insert_mac_regions(conn: &mut DbConn, blue: bool, regions: &[(&str, u8)]) {
    let mut n = 0u8;
    for (region, count) in regions {
        for _ in 0..*count {
            n += 1;
            // Spread the stations over several shards.
            let mac = mac_in_shard(n % 16, n);
            let table = if blue {
                StationTable::Blue(BlueShard::for_mac(&mac))
            } else {
                StationTable::Wifi(WifiShard::for_mac(&mac))
            };
            let row = StationRow {
                region: code(region),
                ..StationRow::new(StationKey::Mac(mac))
            };
            insert_station_rows(conn, table, &[row]).await.unwrap();
        }
    }
}

async fn insert_area(db: &TestDb, radio: Radio, lac: u32, region: Option<&str>, cells: u32) {
    let area = CellAreaId::new(radio, 234, 1, lac).unwrap();
    db.conn()
        .await
        .exec_drop(
            "INSERT INTO cell_area (areaid, radio, mcc, mnc, lac, region, num_cells) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                area.to_bytes(),
                radio.code(),
                area.mcc(),
                area.mnc(),
                lac,
                region,
                cells,
            ),
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn region_stats_are_gathered_and_corrected() {
    let db = TestDb::new().await;
    let (_pool, mut conn) = connect(&db).await;
    assert_eq!(update_region_stats(&mut conn).await.unwrap().value, None);

    insert_mac_regions(&mut conn, true, &[("CA", 2), ("GB", 3)]).await;
    insert_mac_regions(&mut conn, false, &[("DE", 5), ("US", 6), ("", 4)]).await;
    insert_area(&db, Radio::Gsm, 1, Some("DE"), 1).await;
    insert_area(&db, Radio::Gsm, 2, Some("DE"), 2).await;
    insert_area(&db, Radio::Gsm, 3, Some("CA"), 2).await;
    insert_area(&db, Radio::Wcdma, 4, Some("DE"), 3).await;
    insert_area(&db, Radio::Lte, 5, Some("CA"), 4).await;
    insert_area(&db, Radio::Lte, 6, None, 9).await;
    insert_area(&db, Radio::Nr, 0xFF_FFFD, Some("US"), 7).await;

    let plan = update_region_stats(&mut conn).await.unwrap().value.unwrap();
    assert_eq!(plan.upsert.len(), 4);
    assert!(plan.delete.is_empty());
    let expected: BTreeMap<RegionCode, RegionStatRow> = [
        ("CA", stored(2, 0, 4, 0, 2, 0)),
        ("DE", stored(3, 3, 0, 0, 0, 5)),
        ("GB", stored(0, 0, 0, 0, 3, 0)),
        ("US", stored(0, 0, 0, 7, 0, 6)),
    ]
    .into_iter()
    .map(|(r, row)| (RegionCode::new(r).unwrap(), row))
    .collect();
    assert_eq!(load_region_stats(&mut conn).await.unwrap(), expected);

    let mut raw = db.conn().await;
    raw.query_drop("UPDATE region_stat SET blue = 666 WHERE region = 'DE'")
        .await
        .unwrap();
    raw.query_drop(
        "INSERT INTO region_stat (region, gsm, wcdma, lte, nr, blue, wifi) \
         VALUES ('XX', 1, 1, 1, 1, 1, 1)",
    )
    .await
    .unwrap();
    let plan = update_region_stats(&mut conn).await.unwrap().value.unwrap();
    let upserted: Vec<&str> = plan.upsert.iter().map(|(r, _)| r.as_str()).collect();
    assert_eq!(upserted, ["DE"], "accurate rows are left alone");
    assert_eq!(plan.delete, vec![RegionCode::new("XX").unwrap()]);
    assert_eq!(load_region_stats(&mut conn).await.unwrap(), expected);
}

#[tokio::test]
async fn region_stats_without_data_keep_existing_rows() {
    let db = TestDb::new().await;
    let (_pool, mut conn) = connect(&db).await;
    insert_mac_regions(&mut conn, false, &[("", 3)]).await;
    insert_area(&db, Radio::Gsm, 1, None, 4).await;
    db.conn()
        .await
        .query_drop("INSERT INTO region_stat (region, wifi) VALUES ('XX', 1)")
        .await
        .unwrap();
    assert_eq!(update_region_stats(&mut conn).await.unwrap().value, None);
    assert_eq!(load_region_stats(&mut conn).await.unwrap().len(), 1);
}

//! Datamap grid recording and cleanup (`pipeline.md` §7, §19.3).

use std::collections::BTreeSet;

use ichnaea_core::Grid;
use ichnaea_core::pipeline::datamap::grids_by_shard;
use ichnaea_core::shard::DataMapShard;
use ichnaea_core::time::{Date, DateTime};
use ichnaea_db::datamap::{cleanup_datamap, load_datamap, update_datamap};
use ichnaea_db::{BatchMarker, BatchStatus, DbConn};
use ichnaea_testing::TestDb;

use crate::fixtures::*;

/// Queues positions the way the internal export does and runs every quadrant's update.
async fn record(conn: &mut DbConn, positions: &[(f64, f64)], at: DateTime) {
    for (shard, grids) in grids_by_shard(positions) {
        let grids: Vec<Grid> = grids.into_iter().collect();
        let result = update_datamap(conn, shard, None, &grids, at).await.unwrap();
        assert!(result.value.applied().is_some());
    }
}

async fn all_rows(conn: &mut DbConn) -> Vec<(i32, i32, Date, Date)> {
    let mut out = Vec::new();
    for shard in DataMapShard::ALL {
        for row in load_datamap(conn, shard).await.unwrap() {
            out.push((
                row.grid.lat_scaled(),
                row.grid.lon_scaled(),
                row.created,
                row.modified,
            ));
        }
    }
    out.sort();
    out
}

#[tokio::test]
async fn update_one_and_existing() {
    let db = TestDb::new().await;
    let (_pool, mut conn) = connect(&db).await;
    record(&mut conn, &[(1.234567, 2.345678)], now()).await;
    assert_eq!(
        all_rows(&mut conn).await,
        vec![(1235, 2346, today(), today())]
    );
    let yesterday = today().add_days(-1);
    record(&mut conn, &[(1.0, 2.0)], ago(1)).await;
    record(&mut conn, &[(1.0, 2.0)], now()).await;
    assert_eq!(
        all_rows(&mut conn).await,
        vec![
            (1000, 2000, yesterday, today()),
            (1235, 2346, today(), today())
        ]
    );
}

#[tokio::test]
async fn update_multiple() {
    let db = TestDb::new().await;
    let (_pool, mut conn) = connect(&db).await;
    let yesterday = today().add_days(-1);
    record(&mut conn, &[(0.0, 1.0)], now()).await;
    record(&mut conn, &[(1.0, 2.0), (-10.0, 40.0)], ago(1)).await;
    let positions = [
        (0.0, 1.0),
        (1.0, 2.0),
        (1.0, 2.0),
        (1.0, 2.0),
        (40.0011, 3.0011),
        (40.0012, 3.0012),
        (40.0013, 3.0013),
        (0.0, 0.0),
        (1.00001, 2.00001),
    ];
    record(&mut conn, &positions, now()).await;
    let rows = all_rows(&mut conn).await;
    let grids: BTreeSet<(i32, i32)> = rows.iter().map(|r| (r.0, r.1)).collect();
    assert_eq!(
        grids,
        [
            (0, 0),
            (0, 1000),
            (1000, 2000),
            (-10_000, 40_000),
            (40_001, 3001)
        ]
        .into()
    );
    let created: BTreeSet<Date> = rows.iter().map(|r| r.2).collect();
    assert_eq!(created, [today(), yesterday].into());
    assert!(
        rows.contains(&(-10_000, 40_000, yesterday, yesterday)),
        "untouched"
    );
    assert!(rows.contains(&(1000, 2000, yesterday, today())), "touched");
    assert!(rows.contains(&(40_001, 3001, today(), today())), "inserted");
}

#[tokio::test]
async fn replays_and_wrong_quadrants() {
    let db = TestDb::new().await;
    let (_pool, mut conn) = connect(&db).await;
    let grid = Grid::from_position(50.0, 10.0);
    let marker = BatchMarker::new("update_datamap_ne", 1).unwrap();
    let first = update_datamap(&mut conn, DataMapShard::Ne, Some(&marker), &[grid], ago(1))
        .await
        .unwrap();
    assert_eq!(first.value.applied().unwrap().insert.len(), 1);
    let replay = update_datamap(&mut conn, DataMapShard::Ne, Some(&marker), &[grid], now())
        .await
        .unwrap();
    assert_eq!(replay.value, BatchStatus::AlreadyProcessed);
    let same_day = update_datamap(&mut conn, DataMapShard::Ne, None, &[grid], ago(1))
        .await
        .unwrap();
    assert_eq!(same_day.value.applied().unwrap().unchanged, vec![grid]);
    let yesterday = today().add_days(-1);
    assert_eq!(
        all_rows(&mut conn).await,
        vec![(50_000, 10_000, yesterday, yesterday)]
    );

    let err = update_datamap(&mut conn, DataMapShard::Sw, None, &[grid], now())
        .await
        .unwrap_err();
    assert!(err.is_invalid());
    let empty = update_datamap(&mut conn, DataMapShard::Sw, None, &[], now())
        .await
        .unwrap();
    assert_eq!(empty.value.applied().unwrap(), Default::default());
}

#[tokio::test]
async fn cleanup_keeps_one_year() {
    let db = TestDb::new().await;
    let (_pool, mut conn) = connect(&db).await;
    // One recent and one 366-day-old cell per quadrant.
    for (lat, lon) in [(50.0, 10.0), (50.0, 0.0), (20.0, 10.0), (20.0, 0.0)] {
        record(&mut conn, &[(lat, lon)], now()).await;
        record(&mut conn, &[(lat + 1.0, lon)], ago(366)).await;
    }
    assert_eq!(all_rows(&mut conn).await.len(), 8);
    for shard in DataMapShard::ALL {
        assert_eq!(cleanup_datamap(&mut conn, shard, today()).await.unwrap(), 1);
        assert_eq!(load_datamap(&mut conn, shard).await.unwrap().len(), 1);
    }
    let rows = all_rows(&mut conn).await;
    assert!(rows.iter().all(|r| r.3 == today()));
}

/// Batches of one quadrant take turns across workers on a named lock, as station
/// batches do: while another connection holds it, a batch writes nothing and reports
/// the table busy.
#[tokio::test]
async fn batches_of_one_quadrant_take_turns() {
    use mysql_async::prelude::Queryable;

    let db = TestDb::new().await;
    let (_pool, mut conn) = connect(&db).await;
    let mut raw = db.conn().await;
    let shard = DataMapShard::Ne;
    let name = format!("SHA1(CONCAT(DATABASE(), '/', '{}'))", shard.table_name());
    let taken: Option<i32> = raw
        .query_first(format!("SELECT GET_LOCK({name}, 0)"))
        .await
        .unwrap();
    assert_eq!(taken, Some(1));
    let grids = [Grid::from_position(52.5, 13.4)];
    assert_eq!(grids[0].shard(), shard);
    let refused = update_datamap(&mut conn, shard, None, &grids, now())
        .await
        .unwrap_err();
    assert!(refused.is_busy(), "{refused}");
    assert!(all_rows(&mut conn).await.is_empty(), "nothing written");

    let _: Option<i32> = raw
        .query_first(format!("SELECT RELEASE_LOCK({name})"))
        .await
        .unwrap();
    let result = update_datamap(&mut conn, shard, None, &grids, now())
        .await
        .unwrap();
    assert!(result.value.applied().is_some());
    assert_eq!(all_rows(&mut conn).await.len(), 1);
    let free: Option<i32> = raw
        .query_first(format!("SELECT IS_FREE_LOCK({name})"))
        .await
        .unwrap();
    assert_eq!(free, Some(1), "the batch released the lock");
}

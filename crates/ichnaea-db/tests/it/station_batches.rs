//! `apply_station_batch` persists exactly what the pure station updater decides
//! (`pipeline.md` §19.1), for Bluetooth, WiFi and cells, exactly once per batch marker.

use std::collections::HashMap;

use ichnaea_core::pipeline::batch::{BatchOutcome, StationBatch};
use ichnaea_core::pipeline::observation::{BlueObservation, CellObservation, WifiObservation};
use ichnaea_core::pipeline::station::{StationKey, StationRow, Transition};
use ichnaea_core::shard::{CellShard, WifiShard};
use ichnaea_core::{CellId, Radio, ReportSource};
use ichnaea_db::markers::is_batch_processed;
use ichnaea_db::stations::{apply_station_batch, insert_station_rows, load_station_rows};
use ichnaea_db::{BatchMarker, BatchStatus, DbConn, StationShard};
use ichnaea_testing::TestDb;
use mysql_async::prelude::Queryable;

use crate::fixtures::*;

fn marker<O: Kind>(id: u64) -> BatchMarker {
    BatchMarker::new(format!("test_{}", O::shard().table().name()), id).unwrap()
}

/// Inserts `existing`, applies `obs` as batch `id` and returns the outcome.
async fn run<O: Kind>(
    conn: &mut DbConn,
    existing: &[StationRow],
    obs: Vec<O>,
    id: u64,
) -> BatchOutcome {
    let table = O::shard().table();
    assert_eq!(
        insert_station_rows(conn, table, existing).await.unwrap(),
        existing.len()
    );
    let batch = StationBatch::new(obs);
    let result = apply_station_batch(
        conn,
        O::shard(),
        &marker::<O>(id),
        &batch,
        now(),
        &TestRegions,
    )
    .await
    .unwrap();
    assert!(result.lock_failures.is_empty());
    result.value.applied().expect("first application")
}

async fn stored<O: Kind>(
    conn: &mut DbConn,
    keys: &[StationKey],
) -> HashMap<StationKey, StationRow> {
    load_station_rows(conn, O::shard().table(), keys)
        .await
        .unwrap()
}

/// Every row the outcome says to write is in the table, column for column.
async fn assert_persisted<O: Kind>(conn: &mut DbConn, outcome: &BatchOutcome) {
    let keys: Vec<StationKey> = outcome.stations.iter().map(|u| u.key).collect();
    let rows = stored::<O>(conn, &keys).await;
    for update in &outcome.stations {
        if let Some(row) = update.row() {
            assert_eq!(
                rows.get(&update.key),
                Some(row),
                "{:?}",
                update.transition()
            );
        }
    }
}

/// The single written station of an outcome.
fn single(outcome: &BatchOutcome) -> (Transition, StationRow) {
    assert_eq!(outcome.stations.len(), 1);
    let update = &outcome.stations[0];
    (update.transition().unwrap(), update.row().unwrap().clone())
}

async fn new<O: Kind>() {
    let db = TestDb::new().await;
    let (_pool, mut conn) = connect(&db).await;
    for (n, source) in [(0, ReportSource::Gnss), (1, ReportSource::Query)] {
        let obs = vec![
            O::build(n, LAT, LON, source),
            O::build(n, LAT + 0.0001, LON, source),
            O::build(n, LAT - 0.0003, LON, source),
            O::build(n, LAT, LON + 0.0002, source),
            O::build(n, LAT, LON - 0.0004, source),
        ];
        let outcome = run(&mut conn, &[], obs, u64::from(n)).await;
        assert_persisted::<O>(&mut conn, &outcome).await;
        let (transition, _) = single(&outcome);
        assert_eq!(transition, Transition::New);
        let row = stored::<O>(&mut conn, &[O::key(n)]).await[&O::key(n)].clone();
        close(row.lat.unwrap(), LAT - 0.00004, 1e-12);
        close(row.max_lat.unwrap(), LAT + 0.0001, 1e-12);
        close(row.min_lat.unwrap(), LAT - 0.0003, 1e-12);
        close(row.lon.unwrap(), LON - 0.00004, 1e-12);
        close(row.max_lon.unwrap(), LON + 0.0002, 1e-12);
        close(row.min_lon.unwrap(), LON - 0.0004, 1e-12);
        assert_eq!(row.radius, Some(38));
        assert_eq!(row.region, gb());
        assert_eq!((row.samples, row.weight), (Some(5), Some(5.0)));
        assert_eq!(row.source, Some(source));
        assert_eq!(
            (row.block_first, row.block_last, row.block_count),
            (None, None, None)
        );
        assert_eq!(
            (row.created, row.modified, row.last_seen),
            (Some(now()), Some(now()), Some(today()))
        );
    }
}

async fn new_block<O: Kind>() {
    let db = TestDb::new().await;
    let (_pool, mut conn) = connect(&db).await;
    let outcome = run(&mut conn, &[], make_obs::<O>(ReportSource::Gnss, 1.0), 1).await;
    assert_persisted::<O>(&mut conn, &outcome).await;
    assert_eq!(single(&outcome).0, Transition::NewBlock);
    let row = stored::<O>(&mut conn, &[O::key(0)]).await[&O::key(0)].clone();
    assert_eq!(
        row,
        StationRow {
            created: Some(now()),
            modified: Some(now()),
            block_first: Some(today()),
            block_last: Some(today()),
            block_count: Some(1),
            ..StationRow::new(O::key(0))
        }
    );
}

async fn confirm<O: Kind>() {
    let db = TestDb::new().await;
    let (_pool, mut conn) = connect(&db).await;
    let seen_today = station::<O>(0, LAT, LON);
    let seen_before = StationRow {
        created: Some(ago(10)),
        modified: Some(ago(10)),
        last_seen: Some(ago(10).date()),
        ..station::<O>(1, LAT, LON)
    };
    let obs = vec![
        O::build(0, LAT, LON, ReportSource::Query),
        O::build(1, LAT, LON, ReportSource::Query),
    ];
    let outcome = run(
        &mut conn,
        &[seen_today.clone(), seen_before.clone()],
        obs,
        1,
    )
    .await;
    assert_eq!(outcome.count(Transition::Confirm), 1);
    assert_persisted::<O>(&mut conn, &outcome).await;
    let rows = stored::<O>(&mut conn, &[O::key(0), O::key(1)]).await;
    assert_eq!(
        rows[&O::key(0)],
        seen_today,
        "already seen today: untouched"
    );
    assert_eq!(
        rows[&O::key(1)],
        StationRow {
            last_seen: Some(today()),
            ..seen_before
        },
        "only last_seen changes; modified stays 10 days ago"
    );
}

async fn change<O: Kind>() {
    let db = TestDb::new().await;
    let (_pool, mut conn) = connect(&db).await;
    let existing = StationRow {
        block_first: Some(ago(50).date()),
        block_last: Some(ago(50).date()),
        block_count: Some(1),
        created: Some(ago(50)),
        modified: Some(ago(50)),
        ..without_position(station::<O>(0, LAT, LON))
    };
    let outcome = run(
        &mut conn,
        &[existing],
        make_obs::<O>(ReportSource::Gnss, 0.0),
        1,
    )
    .await;
    assert_persisted::<O>(&mut conn, &outcome).await;
    assert_eq!(single(&outcome).0, Transition::Change);
    let row = stored::<O>(&mut conn, &[O::key(0)]).await[&O::key(0)].clone();
    assert_eq!(
        (row.lat, row.max_lat, row.min_lat),
        (Some(LAT), Some(LAT), Some(LAT))
    );
    close(row.lon.unwrap(), LON, 1e-12);
    assert_eq!(row.radius, Some(0));
    assert_eq!(row.region, gb());
    assert_eq!((row.samples, row.weight), (Some(3), Some(3.0)));
    assert_eq!(row.source, Some(ReportSource::Gnss));
    assert_eq!(
        (row.block_first, row.block_last, row.block_count),
        (Some(ago(50).date()), Some(ago(50).date()), Some(1)),
        "block columns are kept"
    );
    assert_eq!(
        (row.created, row.modified, row.last_seen),
        (Some(ago(50)), Some(now()), Some(today()))
    );
}

async fn block<O: Kind>() {
    let db = TestDb::new().await;
    let (_pool, mut conn) = connect(&db).await;
    let existing = StationRow {
        created: Some(ago(10)),
        modified: Some(ago(10)),
        last_seen: Some(ago(10).date()),
        ..station::<O>(0, LAT, LON)
    };
    let outcome = run(
        &mut conn,
        &[existing],
        make_obs::<O>(ReportSource::Gnss, 1.0),
        1,
    )
    .await;
    assert_persisted::<O>(&mut conn, &outcome).await;
    assert_eq!(single(&outcome).0, Transition::Block);
    let row = stored::<O>(&mut conn, &[O::key(0)]).await[&O::key(0)].clone();
    assert_eq!(
        row,
        StationRow {
            created: Some(ago(10)),
            modified: Some(now()),
            region: gb(),
            block_first: Some(today()),
            block_last: Some(today()),
            block_count: Some(1),
            ..StationRow::new(O::key(0))
        },
        "position cleared, region kept"
    );
}

async fn replace<O: Kind>() {
    let db = TestDb::new().await;
    let (_pool, mut conn) = connect(&db).await;
    let existing = StationRow {
        samples: Some(10),
        weight: Some(15.0),
        created: Some(ago(10)),
        modified: Some(ago(10)),
        last_seen: Some(ago(10).date()),
        source: Some(ReportSource::Query),
        ..station::<O>(0, LAT, LON)
    };
    let outcome = run(
        &mut conn,
        &[existing],
        make_obs::<O>(ReportSource::Gnss, 0.0),
        1,
    )
    .await;
    assert_persisted::<O>(&mut conn, &outcome).await;
    assert_eq!(single(&outcome).0, Transition::Replace);
    let row = stored::<O>(&mut conn, &[O::key(0)]).await[&O::key(0)].clone();
    assert_eq!((row.samples, row.weight), (Some(3), Some(3.0)));
    assert_eq!(row.source, Some(ReportSource::Gnss));
    assert_eq!((row.created, row.modified), (Some(ago(10)), Some(now())));
}

async fn blocklist_skip<O: Kind>() {
    let db = TestDb::new().await;
    let (_pool, mut conn) = connect(&db).await;
    let blocked = StationRow {
        created: Some(now()),
        block_first: Some(today().add_days(-10)),
        block_last: Some(today()),
        block_count: Some(1),
        ..StationRow::new(O::key(0))
    };
    let obs: Vec<O> = (0..3)
        .map(|n| O::build(n, LAT, LON, ReportSource::Gnss))
        .collect();
    let outcome = run(&mut conn, std::slice::from_ref(&blocked), obs, 1).await;
    assert_eq!(outcome.count(Transition::New), 2);
    assert_eq!(outcome.counters.observations, 3);
    assert_persisted::<O>(&mut conn, &outcome).await;
    let rows = stored::<O>(&mut conn, &[O::key(0), O::key(1), O::key(2)]).await;
    assert_eq!(
        rows[&O::key(0)],
        blocked,
        "the blocked station is untouched"
    );
    assert_eq!(rows.len(), 3);
}

/// A replayed batch (same marker) writes nothing; a new batch id is applied again.
async fn idempotent<O: Kind>() {
    let db = TestDb::new().await;
    let (_pool, mut conn) = connect(&db).await;
    let obs = make_obs::<O>(ReportSource::Gnss, 0.0);
    let batch = StationBatch::new(obs);
    let first_marker = marker::<O>(42);
    assert!(!is_batch_processed(&mut conn, &first_marker).await.unwrap());
    let first = apply_station_batch(
        &mut conn,
        O::shard(),
        &first_marker,
        &batch,
        now(),
        &TestRegions,
    )
    .await
    .unwrap();
    let outcome = first.value.applied().unwrap();
    assert_eq!(outcome.count(Transition::New), 1);
    assert!(is_batch_processed(&mut conn, &first_marker).await.unwrap());
    let after_first = stored::<O>(&mut conn, &[O::key(0)]).await;

    let later = now().add_seconds(3600);
    let replay = apply_station_batch(
        &mut conn,
        O::shard(),
        &first_marker,
        &batch,
        later,
        &TestRegions,
    )
    .await
    .unwrap();
    assert_eq!(replay.value, BatchStatus::AlreadyProcessed);
    assert_eq!(stored::<O>(&mut conn, &[O::key(0)]).await, after_first);

    let again = apply_station_batch(
        &mut conn,
        O::shard(),
        &marker::<O>(43),
        &batch,
        later,
        &TestRegions,
    )
    .await
    .unwrap();
    let outcome = again.value.applied().unwrap();
    assert_eq!(outcome.count(Transition::Change), 1);
    let row = stored::<O>(&mut conn, &[O::key(0)]).await[&O::key(0)].clone();
    assert_eq!(row.samples, Some(6), "a different batch id merges again");
}

macro_rules! station_catalogue {
    ($module:ident, $obs:ty) => {
        mod $module {
            use super::*;

            #[tokio::test]
            async fn new() {
                super::new::<$obs>().await;
            }
            #[tokio::test]
            async fn new_block() {
                super::new_block::<$obs>().await;
            }
            #[tokio::test]
            async fn confirm() {
                super::confirm::<$obs>().await;
            }
            #[tokio::test]
            async fn change() {
                super::change::<$obs>().await;
            }
            #[tokio::test]
            async fn block() {
                super::block::<$obs>().await;
            }
            #[tokio::test]
            async fn replace() {
                super::replace::<$obs>().await;
            }
            #[tokio::test]
            async fn blocklist_skip() {
                super::blocklist_skip::<$obs>().await;
            }
            #[tokio::test]
            async fn idempotent() {
                super::idempotent::<$obs>().await;
            }
        }
    };
}

station_catalogue!(blue, BlueObservation);
station_catalogue!(wifi, WifiObservation);
station_catalogue!(cell, CellObservation);

/// The kind-specific weighted merges of §19.1, persisted.
#[tokio::test]
async fn weighted_merges_are_persisted() {
    let db = TestDb::new().await;
    let (_pool, mut conn) = connect(&db).await;
    let existing = |source| StationRow {
        samples: Some(2),
        weight: Some(3.0),
        source: Some(source),
        ..station::<BlueObservation>(0, LAT, LON)
    };

    // Blue change: the third observation has weight 0 and is dropped.
    let obs = vec![
        with(
            BlueObservation::build(0, LAT, LON - 0.0001, ReportSource::Gnss),
            |o| {
                o.report.accuracy = Some(20.0);
                o.signal = Some(-30);
            },
        ),
        with(
            BlueObservation::build(0, LAT, LON - 0.0002, ReportSource::Gnss),
            |o| {
                o.report.accuracy = Some(40.0);
                o.age = Some(-8000);
                o.signal = Some(-60);
            },
        ),
        with(
            BlueObservation::build(0, LAT, LON - 0.0003, ReportSource::Gnss),
            |o| {
                o.report.accuracy = Some(100.1);
            },
        ),
    ];
    let outcome = run(&mut conn, &[existing(ReportSource::Gnss)], obs, 1).await;
    assert_persisted::<BlueObservation>(&mut conn, &outcome).await;
    let row = stored::<BlueObservation>(&mut conn, &[BlueObservation::key(0)]).await
        [&BlueObservation::key(0)]
        .clone();
    close(row.lon.unwrap(), LON - 0.0000305, 5e-8);
    close(row.min_lon.unwrap(), LON - 0.0002, 1e-12);
    assert_eq!((row.radius, row.samples), (Some(12), Some(4)));
    close(row.weight.unwrap(), 3.957107, 5e-7);

    // WiFi change: 7 observations, 3 with weight 0.
    let wifi_existing = StationRow {
        key: WifiObservation::key(0),
        ..existing(ReportSource::Gnss)
    };
    let at = |dlon: f64| WifiObservation::build(0, LAT, LON - dlon, ReportSource::Gnss);
    let obs = vec![
        with(at(0.002), |o| {
            o.report.accuracy = Some(20.0);
            o.signal = Some(-30);
        }),
        with(at(0.004), |o| {
            o.age = Some(-8000);
            o.report.accuracy = Some(40.0);
            o.signal = Some(-60);
        }),
        with(at(0.006), |o| {
            o.age = Some(1000);
            o.signal = Some(-90);
        }),
        with(at(0.006), |o| o.report.speed = Some(20.0)),
        with(at(0.008), |o| o.age = Some(40_000)),
        with(at(0.008), |o| o.report.speed = Some(50.1)),
        with(at(0.010), |o| o.report.accuracy = Some(200.1)),
    ];
    let outcome = run(&mut conn, &[wifi_existing], obs, 2).await;
    assert_persisted::<WifiObservation>(&mut conn, &outcome).await;
    let row = stored::<WifiObservation>(&mut conn, &[WifiObservation::key(0)]).await
        [&WifiObservation::key(0)]
        .clone();
    close(row.lon.unwrap(), LON - 0.0019971, 5e-8);
    close(row.min_lon.unwrap(), LON - 0.006, 1e-12);
    assert_eq!((row.radius, row.samples), (Some(278), Some(6)));
    close(row.weight.unwrap(), 16.10707, 5e-6);

    // Cell change (GSM, samples 1, weight 2).
    let cell_existing = StationRow {
        key: CellObservation::key(0),
        samples: Some(1),
        weight: Some(2.0),
        ..existing(ReportSource::Gnss)
    };
    let at = |dlon: f64| CellObservation::build(0, LAT, LON - dlon, ReportSource::Gnss);
    let obs = vec![
        with(at(0.002), |o| {
            o.report.accuracy = Some(20.0);
            o.signal = Some(-51);
        }),
        with(at(0.004), |o| {
            o.report.accuracy = Some(1000.0);
            o.signal = Some(-111);
        }),
        with(at(0.004), |o| o.report.accuracy = Some(1000.1)),
    ];
    let outcome = run(&mut conn, &[cell_existing], obs, 3).await;
    assert_persisted::<CellObservation>(&mut conn, &outcome).await;
    assert_eq!(outcome.areas.len(), 1);
    let row = stored::<CellObservation>(&mut conn, &[CellObservation::key(0)]).await
        [&CellObservation::key(0)]
        .clone();
    close(row.lon.unwrap(), LON - 0.0015793, 5e-8);
    close(row.min_lon.unwrap(), LON - 0.004, 1e-12);
    assert_eq!((row.radius, row.samples), (Some(168), Some(3)));
    close(row.weight.unwrap(), 9.2452954, 5e-8);
}

/// `LENGTH(cellid), radio, mcc, mnc, lac, cid, psc` of a cell row.
type CellColumns<Lac, Cid> = (u8, i8, i16, i16, Lac, Cid, Option<i16>);

/// New cells get their key columns and psc, in the reference tables and in `cell_nr`.
#[tokio::test]
async fn cell_key_columns_are_written() {
    let db = TestDb::new().await;
    let (_pool, mut conn) = connect(&db).await;
    let nr = CellId::new(Radio::Nr, 310, 260, 0xFF_FFFD, (1 << 36) - 1).unwrap();
    let obs: Vec<CellObservation> = (0..2)
        .map(|i| {
            with(
                CellObservation::build(0, 40.0 + f64::from(i) * 0.001, -100.0, ReportSource::Gnss),
                |o| {
                    o.cell = nr;
                    o.signal = Some(-105);
                    o.psc = Some(1007);
                },
            )
        })
        .collect();
    let shard = CellShard::for_radio(Radio::Nr);
    let result = apply_station_batch(
        &mut conn,
        shard,
        &BatchMarker::new("update_cell_nr", 1).unwrap(),
        &StationBatch::new(obs),
        now(),
        &TestRegions,
    )
    .await
    .unwrap();
    let outcome = result.value.applied().unwrap();
    assert_eq!(outcome.count(Transition::New), 1);
    let rows = load_station_rows(&mut conn, shard.table(), &[StationKey::Cell(nr)])
        .await
        .unwrap();
    let row = &rows[&StationKey::Cell(nr)];
    assert_eq!((row.psc, row.samples), (Some(1007), Some(2)));
    assert_eq!(row.region.unwrap().as_str(), "US");

    let gsm = CellObservation {
        psc: Some(12),
        ..CellObservation::build(3, LAT, LON, ReportSource::Gnss)
    };
    run(&mut conn, &[], vec![gsm], 2).await;

    let mut raw = db.conn().await;
    let nr_cols: Vec<CellColumns<u32, u64>> = raw
        .query("SELECT LENGTH(cellid), radio, mcc, mnc, lac, cid, psc FROM cell_nr")
        .await
        .unwrap();
    assert_eq!(
        nr_cols,
        vec![(13, 4, 310, 260, 0xFF_FFFD, (1 << 36) - 1, Some(1007))]
    );
    let gsm_cols: Vec<CellColumns<u16, u32>> = raw
        .query("SELECT LENGTH(cellid), radio, mcc, mnc, lac, cid, psc FROM cell_gsm")
        .await
        .unwrap();
    assert_eq!(gsm_cols, vec![(11, 0, 234, 30, 103, 4, Some(12))]);
}

/// A batch holding a station of another shard is refused before anything is written.
#[tokio::test]
async fn stations_of_another_shard_are_refused() {
    let db = TestDb::new().await;
    let (_pool, mut conn) = connect(&db).await;
    let other = WifiShard::from_id('7').unwrap();
    let batch = StationBatch::new(make_obs::<WifiObservation>(ReportSource::Gnss, 0.0));
    let marker = BatchMarker::new("update_wifi_7", 1).unwrap();
    let err = apply_station_batch(&mut conn, other, &marker, &batch, now(), &TestRegions)
        .await
        .unwrap_err();
    assert!(err.is_invalid(), "{err}");
    assert!(!is_batch_processed(&mut conn, &marker).await.unwrap());
    let err = insert_station_rows(
        &mut conn,
        other.table(),
        &[station::<WifiObservation>(0, LAT, LON)],
    )
    .await
    .unwrap_err();
    assert!(err.is_invalid());
    assert!(
        stored::<WifiObservation>(&mut conn, &[WifiObservation::key(0)])
            .await
            .is_empty(),
        "nothing written"
    );
    // An empty batch touches nothing, marker included.
    let empty = StationBatch::<WifiObservation>::new(Vec::new());
    let result = apply_station_batch(
        &mut conn,
        WifiObservation::shard(),
        &marker,
        &empty,
        now(),
        &TestRegions,
    )
    .await
    .unwrap();
    assert!(result.value.applied().unwrap().stations.is_empty());
    assert!(!is_batch_processed(&mut conn, &marker).await.unwrap());
}

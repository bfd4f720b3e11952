//! Batch markers are recorded with their batch and cleaned up by age.

use ichnaea_core::ReportSource;
use ichnaea_core::pipeline::batch::StationBatch;
use ichnaea_core::pipeline::observation::WifiObservation;
use ichnaea_db::BatchMarker;
use ichnaea_db::markers::{DEFAULT_MARKER_MAX_AGE_DAYS, cleanup_batch_markers, is_batch_processed};
use ichnaea_db::stations::apply_station_batch;
use ichnaea_testing::TestDb;
use mysql_async::prelude::Queryable;

use crate::fixtures::*;

#[tokio::test]
async fn old_markers_are_deleted() {
    let db = TestDb::new().await;
    let (_pool, mut conn) = connect(&db).await;
    let batch = StationBatch::new(make_obs::<WifiObservation>(ReportSource::Gnss, 0.0));
    let old = BatchMarker::new("update_wifi_6", 1).unwrap();
    let recent = BatchMarker::new("update_wifi_6", 2).unwrap();
    let other_queue = BatchMarker::new("update_wifi_7", 1).unwrap();
    for (marker, at) in [(&old, ago(8)), (&recent, ago(6))] {
        apply_station_batch(
            &mut conn,
            WifiObservation::shard(),
            marker,
            &batch,
            at,
            &TestRegions,
        )
        .await
        .unwrap();
    }
    assert!(is_batch_processed(&mut conn, &old).await.unwrap());
    assert!(is_batch_processed(&mut conn, &recent).await.unwrap());
    assert!(
        !is_batch_processed(&mut conn, &other_queue).await.unwrap(),
        "ids are per queue"
    );
    let processed: Vec<String> = db
        .conn()
        .await
        .query("SELECT CAST(processed AS CHAR) FROM pipeline_batch ORDER BY batch_id")
        .await
        .unwrap();
    assert_eq!(processed, ["2024-01-04 10:30:00", "2024-01-06 10:30:00"]);

    let deleted = cleanup_batch_markers(&mut conn, now(), DEFAULT_MARKER_MAX_AGE_DAYS)
        .await
        .unwrap();
    assert_eq!(deleted, 1);
    assert!(!is_batch_processed(&mut conn, &old).await.unwrap());
    assert!(is_batch_processed(&mut conn, &recent).await.unwrap());
    assert_eq!(cleanup_batch_markers(&mut conn, now(), 0).await.unwrap(), 1);
}

//! API key rows round-trip through the query functions.

use ichnaea_db::DbPool;
use ichnaea_db::api_key::{self, ApiKeyChanges, ApiKeyRow};
use ichnaea_testing::TestDb;

#[tokio::test]
async fn create_show_update_delete() {
    let db = TestDb::new().await;
    let pool = DbPool::new(&db.pool_config()).unwrap();
    let mut conn = pool.get().await.unwrap();

    let row = ApiKeyRow::with_defaults("test-key-1");
    assert!(api_key::insert(&mut conn, &row).await.unwrap());
    assert!(
        !api_key::insert(&mut conn, &row).await.unwrap(),
        "duplicate is reported"
    );
    assert_eq!(
        api_key::find(&mut conn, "test-key-1").await.unwrap(),
        Some(row.clone())
    );
    assert_eq!(
        api_key::find(&mut conn, "TEST-KEY-1")
            .await
            .unwrap()
            .unwrap()
            .valid_key,
        "test-key-1",
        "lookup is case-insensitive and returns the stored spelling"
    );

    let changes = ApiKeyChanges {
        maxreq: Some(Some(5)),
        allow_locate: Some(Some(false)),
        fallback_name: Some(Some("fall".into())),
        fallback_url: Some(Some("http://127.0.0.1:9/?api".into())),
        store_sample_locate: Some(None),
        ..Default::default()
    };
    assert!(
        api_key::update(&mut conn, "test-key-1", &changes)
            .await
            .unwrap()
    );
    let mut expected = row.clone();
    changes.apply_to(&mut expected);
    let stored = api_key::find(&mut conn, "test-key-1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored, expected);
    assert_eq!(stored.maxreq, Some(5));
    assert_eq!(stored.store_sample_locate, None);
    assert!(
        api_key::update(&mut conn, "test-key-1", &changes)
            .await
            .unwrap(),
        "no-op update still finds the row"
    );
    assert!(
        !api_key::update(&mut conn, "missing", &changes)
            .await
            .unwrap()
    );

    assert_eq!(api_key::list(&mut conn).await.unwrap().len(), 1);
    assert!(api_key::delete(&mut conn, "test-key-1").await.unwrap());
    assert!(!api_key::delete(&mut conn, "test-key-1").await.unwrap());
    assert_eq!(api_key::find(&mut conn, "test-key-1").await.unwrap(), None);
}

#[test]
fn debug_output_hides_the_key() {
    let row = ApiKeyRow::with_defaults("0123456789abcdef");
    assert!(!format!("{row:?}").contains("0123456789abcdef"));
}

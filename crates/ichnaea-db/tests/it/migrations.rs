//! Migrations build the full schema, are idempotent, and adopt a reference database.

use ichnaea_db::migrate;
use ichnaea_testing::ScratchDb;
use mysql_async::prelude::Queryable;

async fn tables(db: &ScratchDb) -> Vec<String> {
    let mut conn = mysql_async::Conn::new(mysql_async::Opts::from_url(&db.url()).unwrap())
        .await
        .unwrap();
    conn.exec(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = ? ORDER BY 1",
        (db.name(),),
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn migrate_creates_every_table_and_is_idempotent() {
    let db = ScratchDb::new().await;
    let url = db.url().into();
    let (before, unknown) = migrate::status(&url).await.unwrap();
    assert!(before.iter().all(|m| !m.applied));
    assert!(unknown.is_empty());

    let applied = migrate::run_pending(&url).await.unwrap();
    let all: Vec<String> = migrate::embedded()
        .unwrap()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(applied, all);

    let names = tables(&db).await;
    let count = |prefix: &str| names.iter().filter(|t| t.starts_with(prefix)).count();
    assert_eq!(count("wifi_shard_"), 16);
    assert_eq!(count("blue_shard_"), 16);
    assert_eq!(count("datamap_"), 4);
    for t in [
        "cell_gsm",
        "cell_wcdma",
        "cell_lte",
        "cell_nr",
        "cell_area",
        "api_key",
        "export_config",
        "region_stat",
        "stat",
        "alembic_version",
    ] {
        assert!(names.iter().any(|n| n == t), "missing {t}: {names:?}");
    }

    assert!(
        migrate::run_pending(&url).await.unwrap().is_empty(),
        "second run does nothing"
    );
    let (after, _) = migrate::status(&url).await.unwrap();
    assert!(after.iter().all(|m| m.applied));

    let mut conn = mysql_async::Conn::new(mysql_async::Opts::from_url(&db.url()).unwrap())
        .await
        .unwrap();
    let seeded: Vec<(String, Option<i32>, Option<String>)> = conn
        .query("SELECT name, batch, `schema` FROM export_config")
        .await
        .unwrap();
    assert_eq!(
        seeded,
        vec![(
            "internal".to_owned(),
            Some(100),
            Some("internal".to_owned())
        )]
    );
    let stamp: Vec<String> = conn
        .query("SELECT version_num FROM alembic_version")
        .await
        .unwrap();
    assert_eq!(stamp, vec!["3be4004781bc".to_owned()]);
}

#[tokio::test]
async fn indexes_match_the_reference_schema() {
    let db = ScratchDb::new().await;
    migrate::run_pending(&db.url().into()).await.unwrap();
    let mut conn = mysql_async::Conn::new(mysql_async::Opts::from_url(&db.url()).unwrap())
        .await
        .unwrap();
    let rows: Vec<(String, String, i64, String)> = conn
        .exec(
            "SELECT table_name, index_name, non_unique, \
             GROUP_CONCAT(column_name ORDER BY seq_in_index) \
             FROM information_schema.statistics WHERE table_schema = ? \
             GROUP BY table_name, index_name, non_unique ORDER BY 1, 2",
            (db.name(),),
        )
        .await
        .unwrap();
    let has = |table: &str, index: &str, unique: bool, cols: &str| {
        rows.iter()
            .any(|(t, i, nu, c)| t == table && i == index && (*nu == 0) == unique && c == cols)
    };
    for t in ["cell_gsm", "cell_wcdma", "cell_lte", "cell_nr"] {
        assert!(has(t, "PRIMARY", true, "cellid"), "{t}");
        assert!(
            has(
                t,
                &format!("{t}_cellid_unique"),
                true,
                "radio,mcc,mnc,lac,cid"
            ),
            "{t}"
        );
        assert!(has(t, &format!("{t}_region_idx"), false, "region"), "{t}");
        assert!(has(t, &format!("{t}_created_idx"), false, "created"), "{t}");
        assert!(
            has(t, &format!("{t}_modified_idx"), false, "modified"),
            "{t}"
        );
        assert!(has(t, &format!("{t}_latlon_idx"), false, "lat,lon"), "{t}");
    }
    for kind in ["wifi", "blue"] {
        for c in "0123456789abcdef".chars() {
            let t = format!("{kind}_shard_{c}");
            assert!(has(&t, "PRIMARY", true, "mac"), "{t}");
            assert!(has(&t, &format!("{t}_latlon_idx"), false, "lat,lon"), "{t}");
            assert!(has(&t, &format!("{t}_region_idx"), false, "region"), "{t}");
        }
    }
    assert!(has(
        "cell_area",
        "cell_area_areaid_unique",
        true,
        "radio,mcc,mnc,lac"
    ));
    assert!(has(
        "cell_area",
        "cell_area_region_radio_idx",
        false,
        "region,radio"
    ));
    for q in ["ne", "nw", "se", "sw"] {
        let t = format!("datamap_{q}");
        assert!(has(&t, "PRIMARY", true, "grid"));
        assert!(has(&t, &format!("{t}_created_idx"), false, "created"));
        assert!(has(&t, &format!("{t}_modified_idx"), false, "modified"));
    }
    assert!(has("stat", "PRIMARY", true, "key,time"));
    let engines: Vec<(String, String)> = conn
        .exec(
            "SELECT table_name, engine FROM information_schema.tables WHERE table_schema = ? AND engine <> 'InnoDB'",
            (db.name(),),
        )
        .await
        .unwrap();
    assert!(engines.is_empty(), "non-InnoDB tables: {engines:?}");
}

/// An existing reference database (at the last Alembic revision) is adopted: the baseline
/// finds its tables and the later migrations add NR support without touching the data.
#[tokio::test]
async fn migrate_adopts_a_reference_database() {
    let db = ScratchDb::new().await;
    let baseline = include_str!("../../../../migrations/2026-11-27-000001_baseline/up.sql");
    let mut conn = mysql_async::Conn::new(mysql_async::Opts::from_url(&db.url()).unwrap())
        .await
        .unwrap();
    conn.query_drop(baseline).await.unwrap();
    conn.query_drop(
        "INSERT INTO cell_area (areaid, radio, mcc, mnc, lac, num_cells) \
         VALUES (0x03010600010002, 3, 262, 1, 2, 5)",
    )
    .await
    .unwrap();

    let applied = migrate::run_pending(&db.url().into()).await.unwrap();
    assert_eq!(applied.len(), migrate::embedded().unwrap().len());

    let rows: Vec<(Vec<u8>, u32, Option<u32>)> = conn
        .query("SELECT areaid, lac, num_cells FROM cell_area")
        .await
        .unwrap();
    assert_eq!(rows, vec![(vec![3, 1, 6, 0, 1, 0, 2], 2, Some(5))]);
    // NR areas (8-byte ids, 24-bit codes) now fit.
    conn.query_drop(
        "INSERT INTO cell_area (areaid, radio, mcc, mnc, lac) VALUES (0x0401360104FFFFFF, 4, 310, 260, 16777215)",
    )
    .await
    .unwrap();
}

//! The object-store duties of a running deployment (issue "data out and in"): with S3
//! pointed at a local S3-compatible server, and with the default local asset directory,
//! submitted reports are backed up, the public cell exports (full and diff) are written
//! when triggered, and `ichnaea-tiles` renders the datamap into the same store.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt as _;

use ichnaea_runtime::config::AssetSettings;
use ichnaea_runtime::object_store::build;
use ichnaea_system_tests::{
    Api, KEY, Sample, Service, migrate_and_create_key, run, start_worker, wait_for,
};
use ichnaea_testing::{ScratchDb, TestRedis, TestS3};
use mysql_async::prelude::Queryable as _;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt as _};

// Paris: the sample's cell has a French MCC, and so do the others (an import derives a
// cell's region from its MCC and position, the pipeline from its position alone).
const LAT: f64 = 48.8566;
const LON: f64 = 2.3522;

/// Where the deployment keeps its assets, read back by the test through the same
/// object store code the services use.
struct Store {
    /// The variables that point a service at the store.
    env: Vec<(&'static str, String)>,
    /// The `export_config.url` of a backup export into the store.
    backup_url: String,
    objects: Arc<dyn ObjectStore>,
}

impl Store {
    /// A bucket on the S3-compatible test server (the test's environment carries its
    /// credentials: `scripts/test.sh` sets them).
    fn s3(server: &TestS3) -> Store {
        TestS3::require_aws_env();
        let settings = AssetSettings {
            bucket: Some(server.bucket().to_owned()),
            url: None,
            dir: PathBuf::new(),
            s3_endpoint: Some(server.endpoint().to_owned()),
            cell_exports: true,
        };
        let mut env = vec![
            ("ASSET_BUCKET", server.bucket().to_owned()),
            ("S3_ENDPOINT_URL", server.endpoint().to_owned()),
        ];
        env.extend(TestS3::AWS_ENV.map(|(k, v)| (k, v.to_owned())));
        Store {
            env,
            backup_url: format!(
                "s3://{}/backups/{{source}}/{{api_key}}/{{year}}/{{month}}/{{day}}",
                server.bucket()
            ),
            objects: build(&settings).expect("the S3 store"),
        }
    }

    /// The local asset directory `dir`.
    fn dir(dir: &Path) -> Store {
        let settings = AssetSettings {
            bucket: None,
            url: None,
            dir: dir.to_owned(),
            s3_endpoint: None,
            cell_exports: true,
        };
        Store {
            env: vec![("ASSET_DIR", dir.display().to_string())],
            backup_url: format!(
                "file://{}/backups/{{source}}/{{api_key}}/{{year}}/{{month}}/{{day}}",
                dir.display()
            ),
            objects: build(&settings).expect("the local store"),
        }
    }

    /// [`Store::env`] borrowed, for [`run`] and [`start_worker`].
    fn vars(&self) -> Vec<(&str, &str)> {
        self.env.iter().map(|(k, v)| (*k, v.as_str())).collect()
    }

    /// The object names that start with `prefix`, sorted.
    async fn keys(&self, prefix: &str) -> Vec<String> {
        let listed: Vec<_> = self.objects.list(None).collect().await;
        let mut keys: Vec<String> = listed
            .into_iter()
            .filter_map(Result::ok)
            .map(|meta| meta.location.to_string())
            .filter(|k| k.starts_with(prefix))
            .collect();
        keys.sort();
        keys
    }

    /// The bytes of one object, as stored.
    async fn get(&self, key: &str) -> Vec<u8> {
        let object = self
            .objects
            .get(&ObjectPath::from(key))
            .await
            .unwrap_or_else(|e| panic!("GET {key}: {e}"));
        object.bytes().await.expect("the object's body").to_vec()
    }

    /// Waits up to a minute for objects under `prefix`; returns their names.
    async fn wait_for_keys(&self, prefix: &str, services: &[&Service]) -> Vec<String> {
        let keys = wait_for(Duration::from_secs(60), || async {
            let keys = self.keys(prefix).await;
            (!keys.is_empty()).then_some(keys)
        })
        .await;
        keys.unwrap_or_else(|| {
            let logs: Vec<String> = services.iter().map(|s| s.output()).collect();
            panic!("no object under {prefix:?} appeared\n{}", logs.join("\n"))
        })
    }
}

fn gunzip(bytes: &[u8]) -> String {
    use std::io::Read as _;
    let mut text = String::new();
    if let Err(e) = flate2::read::GzDecoder::new(bytes).read_to_string(&mut text) {
        panic!(
            "not a gzip text object ({e}): {:?}",
            String::from_utf8_lossy(&bytes[..bytes.len().min(300)])
        );
    }
    text
}

/// Every cell of the database at `url`, as text, with the columns the MLS format carries
/// (coordinates rounded to its 7 decimals).
async fn cell_rows(db: &ScratchDb) -> Vec<String> {
    let mut conn = db.conn().await;
    let mut rows = Vec::new();
    for table in ["cell_gsm", "cell_wcdma", "cell_lte", "cell_nr"] {
        let part: Vec<String> = conn
            .query(format!(
                "SELECT CONCAT_WS('|', `radio`, `mcc`, `mnc`, `lac`, `cid`, IFNULL(`psc`, '-'), \
                 ROUND(`lat`, 7), ROUND(`lon`, 7), `radius`, `samples`, IFNULL(`region`, '-'), \
                 UNIX_TIMESTAMP(`created`), UNIX_TIMESTAMP(`modified`)) \
                 FROM `{table}` ORDER BY `cellid`"
            ))
            .await
            .expect("the cell rows");
        rows.extend(part);
    }
    let _ = conn.disconnect().await;
    rows
}

/// Submit, back up, export, render: the same steps against either store.
async fn backup_export_and_tiles(store: &Store) {
    let db = ScratchDb::new().await;
    let redis = TestRedis::new().await;
    let db_url = db.url();
    let redis_url = redis.url();
    migrate_and_create_key(&db_url);
    let mut conn = db.conn().await;
    conn.exec_drop(
        "INSERT INTO `export_config` (`name`, `batch`, `schema`, `url`) \
         VALUES ('backup', 1, 'backup', ?)",
        (store.backup_url.clone(),),
    )
    .await
    .expect("the backup export row");
    let _ = conn.disconnect().await;

    let api = Api::start(&db_url, &redis_url, &[]).await;
    let worker = start_worker(&db_url, &redis_url, &store.vars());
    let sample = Sample::at(LAT, LON);
    api.geosubmit(&sample.items).await;
    // Cells of the other radios, for the export and its re-import.
    let others = serde_json::json!([
        {"radioType": "gsm", "mobileCountryCode": 208, "mobileNetworkCode": 1,
         "locationAreaCode": 100, "cellId": 2001},
        {"radioType": "wcdma", "mobileCountryCode": 208, "mobileNetworkCode": 5,
         "locationAreaCode": 200, "cellId": 300_001, "primaryScramblingCode": 77},
        {"radioType": "nr", "mobileCountryCode": 208, "mobileNetworkCode": 1,
         "locationAreaCode": 70_000, "cellId": 12_345_678_901_u64}]);
    let other_items: Vec<serde_json::Value> = (0..4)
        .map(|i| {
            serde_json::json!({"cellTowers": others, "position": {
                "latitude": LAT + 0.01 + 0.0005 * f64::from(i), "longitude": LON - 0.01,
                "accuracy": 10.0}})
        })
        .collect();
    api.geosubmit(&other_items).await;
    for query in [
        serde_json::json!({"considerIp": false, "cellTowers": [sample.cell]}),
        serde_json::json!({"considerIp": false, "cellTowers": [others[2]]}),
    ] {
        let located = wait_for(Duration::from_secs(60), || api.locate(&query)).await;
        assert!(
            located.is_some(),
            "the cells did not become locatable\n{}",
            worker.output()
        );
    }
    let cells = cell_rows(&db).await;
    assert_eq!(cells.len(), 4, "{cells:#?}");

    // The backup: the raw reports, under the key's name.
    let prefix = format!("backups/gnss/{KEY}/");
    let submitted = sample.items.len() + other_items.len();
    let backups = wait_for(Duration::from_secs(60), || async {
        let keys = store.keys(&prefix).await;
        let mut backed_up = 0;
        for key in &keys {
            let doc: serde_json::Value =
                serde_json::from_str(&gunzip(&store.get(key).await)).expect("a JSON backup");
            backed_up += doc["items"].as_array().map_or(0, Vec::len);
        }
        (backed_up == submitted).then_some(keys)
    })
    .await
    .unwrap_or_else(|| {
        panic!(
            "the {submitted} reports were not backed up under {prefix}\n{}",
            worker.output()
        )
    });
    assert!(
        backups.iter().all(|k| k.ends_with(".json.gz")),
        "{backups:?}"
    );

    // The public cell exports, triggered by hand as the scheduler does on its schedule.
    let mut env = store.vars();
    env.extend([
        ("REDIS_URI", redis_url.as_str()),
        ("LOGGING_LEVEL", "WARNING"),
    ]);
    let (status, _, stderr) = run(
        "ichnaea-scheduler",
        &[
            "--trigger",
            "data.cell_export_full",
            "--trigger",
            "data.cell_export_diff",
        ],
        &env,
    );
    assert!(status.success(), "--trigger failed: {stderr}");
    let full = store
        .wait_for_keys("export/MLS-full-cell-export-", &[&worker])
        .await;
    let text = gunzip(&store.get(&full[0]).await);
    assert!(
        text.starts_with("radio,mcc,net,area,cell,unit,lon,lat,range,samples,changeable,created,updated,averageSignal\r\n"),
        "{text}"
    );
    assert!(text.contains("\r\nLTE,208,1,9000,1234567,"), "{text}");
    // The export restores the same cells in an empty database.
    let copy = ScratchDb::new().await;
    let copy_url = copy.url();
    migrate_and_create_key(&copy_url);
    let file = tempfile::Builder::new()
        .suffix(".csv.gz")
        .tempfile()
        .expect("a temporary file");
    std::fs::write(file.path(), store.get(&full[0]).await).expect("the export's copy");
    let (status, stdout, stderr) = run(
        "ichnaea-admin",
        &["load-cells", file.path().to_str().expect("a UTF-8 path")],
        &[("DB_READWRITE_URI", copy_url.as_str())],
    );
    assert!(status.success(), "load-cells failed: {stdout}\n{stderr}");
    assert!(
        stdout.contains("imported: 4 (new 4, updated 0, unchanged 0), skipped: 0"),
        "{stdout}"
    );
    assert_eq!(cell_rows(&copy).await, cells, "{text}");

    let diff = store
        .wait_for_keys("export/MLS-diff-cell-export-", &[&worker])
        .await;
    assert!(
        gunzip(&store.get(&diff[0]).await).starts_with("radio,mcc,net,area,cell,"),
        "{diff:?}"
    );

    // The coverage map, rendered one-shot from the datamap the worker recorded.
    let mut env = store.vars();
    env.extend([("DB_READONLY_URI", db_url.as_str())]);
    let (status, stdout, stderr) = run("ichnaea-tiles", &["--no-progress"], &env);
    assert!(status.success(), "ichnaea-tiles failed: {stdout}\n{stderr}");
    let tiles = store.keys("tiles/").await;
    assert!(tiles.contains(&"tiles/0/0/0.png".to_owned()), "{tiles:?}");
    let png = store.get("tiles/0/0/0.png").await;
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG tile");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_store_gets_backups_exports_and_tiles() {
    let server = TestS3::start("assets").await;
    backup_export_and_tiles(&Store::s3(&server)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_directory_gets_backups_exports_and_tiles() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    backup_export_and_tiles(&Store::dir(&dir.path().join("assets"))).await;
}

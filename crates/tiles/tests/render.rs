//! End-to-end runs: datamap rows in a real MariaDB → tiles in a local directory, in the
//! real S3-compatible server (moto), and through the binary.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers panic when their setup fails"
)]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use ichnaea_core::grid::Grid;
use ichnaea_core::time::{Date, DateTime};
use ichnaea_db::DbPool;
use ichnaea_testing::{TestDb, TestS3};
use ichnaea_tiles::{RunOptions, RunStats, TileStore, mercator};
use mysql_async::prelude::Queryable;
use object_store::local::LocalFileSystem;
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, ObjectStoreExt};

fn today() -> Date {
    DateTime::from_unix_seconds(chrono::Utc::now().timestamp()).date()
}

fn options() -> RunOptions {
    RunOptions {
        concurrency: Some(2),
        progress: false,
        page_size: 3, // several pages per table, to exercise the keyset merge
        ..RunOptions::default()
    }
}

async fn insert(db: &TestDb, cells: &[(f64, f64, i32)]) {
    let mut conn = db.conn().await;
    for &(lat, lon, age_days) in cells {
        let grid = Grid::from_position(lat, lon);
        let day = today().add_days(-age_days).to_string();
        let sql = format!(
            "INSERT INTO {} (grid, created, modified) VALUES (?, ?, ?)",
            grid.shard().table_name()
        );
        conn.exec_drop(sql, (grid.to_bytes().to_vec(), day.clone(), day))
            .await
            .unwrap();
    }
}

async fn delete(db: &TestDb, lat: f64, lon: f64) {
    let grid = Grid::from_position(lat, lon);
    let mut conn = db.conn().await;
    let sql = format!("DELETE FROM {} WHERE grid = ?", grid.shard().table_name());
    conn.exec_drop(sql, (grid.to_bytes().to_vec(),))
        .await
        .unwrap();
}

fn pool(db: &TestDb) -> DbPool {
    DbPool::new(&db.pool_config()).unwrap()
}

async fn render(db: &TestDb, store: &TileStore) -> RunStats {
    ichnaea_tiles::run(&pool(db), store, &options(), today())
        .await
        .unwrap()
}

/// Every file below `dir`, by relative path.
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                out.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    if dir.exists() {
        walk(dir, dir, &mut out);
    }
    out
}

fn decode_rgba(bytes: &[u8]) -> Vec<[u8; 4]> {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::EXPAND);
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    buf[..info.buffer_size()]
        .chunks_exact(4)
        .map(|c| [c[0], c[1], c[2], c[3]])
        .collect()
}

/// The tile path of a position at a zoom, and the pixel index inside it.
fn locate(lat: f64, lon: f64, zoom: u8) -> (String, usize) {
    let (px, py) = mercator::pixel(lat, lon, zoom).unwrap();
    (
        format!("tiles/{zoom}/{}/{}.png", px >> 8, py >> 8),
        ((py & 255) * 256 + (px & 255)) as usize,
    )
}

/// The tiles containing any jittered point of a grid cell, at every zoom.
fn ancestors(lat: f64, lon: f64) -> Vec<String> {
    let grid = Grid::from_position(lat, lon);
    let mut out: Vec<String> =
        ichnaea_tiles::jitter::random_points(grid.lat_scaled(), grid.lon_scaled(), 0)
            .flat_map(|(plat, plon)| (0..=11).map(move |z| locate(plat, plon, z).0))
            .collect();
    out.push("tiles/0/0/0@2x.png".into());
    out.sort();
    out.dedup();
    out
}

const LONDON: (f64, f64) = (51.5074, -0.1278);
const SYDNEY: (f64, f64) = (-33.8688, 151.2093);
const NEAR_LONDON: (f64, f64) = (51.5080, -0.1290);

#[tokio::test]
async fn local_directory_pixels_and_only_changed_uploads() {
    let db = TestDb::new().await;
    // A dense block in Madrid (0.03° square, visible down to low zooms), single cells in
    // London and Sydney, an old cell (shown with fewer points) and one older than a year
    // (not shown).
    let mut cells = vec![
        (LONDON.0, LONDON.1, 0),
        (SYDNEY.0, SYDNEY.1, 3),
        (60.0, 10.0, 200),
        (-10.0, -60.0, 400),
    ];
    for i in 0..30 {
        for j in 0..30 {
            cells.push((
                40.400 + f64::from(i) / 1000.0,
                -3.700 + f64::from(j) / 1000.0,
                0,
            ));
        }
    }
    insert(&db, &cells).await;
    let dir = tempfile::tempdir().unwrap();
    let store = TileStore::new(
        Arc::new(LocalFileSystem::new_with_prefix(dir.path()).unwrap()),
        false,
    );

    let first = render(&db, &store).await;
    assert_eq!(first.source.rows, cells.len() as u64);
    let files = snapshot(dir.path());
    let tiles: Vec<&String> = files.keys().filter(|k| k.ends_with(".png")).collect();
    assert_eq!(tiles.len() as u64, first.pyramid.tiles);
    assert_eq!(first.sync.tile_new, first.pyramid.tiles);
    assert_eq!(first.sync.tile_changed + first.sync.tile_unchanged, 0);
    assert!(files.contains_key("tiles/manifest.json"));
    let data: serde_json::Value = serde_json::from_slice(&files["tiles/data.json"]).unwrap();
    assert!(data["updated"].is_string());
    assert_eq!(data["pyramid"]["tiles"], first.pyramid.tiles);

    // Every file is a tile of zooms 0-11 or the @2x tile.
    for t in &tiles {
        let parts: Vec<&str> = t.trim_start_matches("tiles/").split('/').collect();
        assert_eq!(parts.len(), 3, "{t}");
        let zoom: u8 = parts[0].parse().unwrap();
        assert!(zoom <= 11, "{t}");
    }
    assert!(files.contains_key("tiles/0/0/0@2x.png"));
    let retina = decode_rgba(&files["tiles/0/0/0@2x.png"]);
    assert_eq!(retina.len(), 512 * 512);

    // London at zoom 11: the cell's jittered points are drawn in the blue of the map,
    // and the rest of the tile is transparent.
    let grid = Grid::from_position(LONDON.0, LONDON.1);
    let (tile, _) = locate(LONDON.0, LONDON.1, 11);
    assert!(tile.ends_with("/11/1023/681.png"), "{tile}");
    let pixels = decode_rgba(&files[&tile]);
    let expected: std::collections::BTreeSet<usize> =
        ichnaea_tiles::jitter::random_points(grid.lat_scaled(), grid.lon_scaled(), 0)
            .map(|(lat, lon)| locate(lat, lon, 11).1)
            .collect();
    for (i, p) in pixels.iter().enumerate() {
        if expected.contains(&i) {
            assert_eq!(*p, [0x00, 0x88, 0xFF, p[3]]);
            assert!(p[3] > 0, "pixel {i} should be drawn");
        } else {
            assert_eq!(p[3], 0, "pixel {i} should be transparent");
        }
    }
    // The Madrid block shows at zoom 6 at the right pixel, surrounded by transparency.
    let (tile, index) = locate(40.415, -3.685, 6);
    let pixels = decode_rgba(&files[&tile]);
    assert!(pixels[index][3] > 0);
    let block: std::collections::BTreeSet<usize> = cells[4..]
        .iter()
        .flat_map(|&(lat, lon, _)| {
            let g = Grid::from_position(lat, lon);
            ichnaea_tiles::jitter::random_points(g.lat_scaled(), g.lon_scaled(), 0)
                .map(|(plat, plon)| locate(plat, plon, 6))
                .collect::<Vec<_>>()
        })
        .filter(|(t, _)| *t == tile)
        .map(|(_, i)| i)
        .collect();
    for (i, p) in pixels.iter().enumerate() {
        if p[3] > 0 {
            assert!(block.contains(&i), "pixel {i} drawn outside the block");
        }
    }
    // The year-old cell has no tile; the 200-day-old one has.
    assert!(!files.contains_key(&locate(-10.0005, -59.9995, 11).0));
    assert!(files.contains_key(&locate(60.0005, 10.0005, 11).0));

    // Second run: nothing changes, nothing is written (the files keep their mtimes).
    let mtimes = |dir: &Path| -> BTreeMap<String, std::time::SystemTime> {
        snapshot(dir)
            .keys()
            .filter(|k| k.ends_with(".png") || k.ends_with("manifest.json"))
            .map(|k| {
                (
                    k.clone(),
                    std::fs::metadata(dir.join(k)).unwrap().modified().unwrap(),
                )
            })
            .collect()
    };
    let before = mtimes(dir.path());
    std::thread::sleep(std::time::Duration::from_millis(20));
    let second = render(&db, &store).await;
    assert_eq!(
        second.sync.tile_new + second.sync.tile_changed + second.sync.tile_deleted,
        0
    );
    assert_eq!(second.sync.tile_unchanged, first.pyramid.tiles);
    assert_eq!(mtimes(dir.path()), before);
    assert_eq!(snapshot(dir.path()).len(), files.len());

    // One more cell next to London: only tiles on its path up the pyramid change.
    insert(&db, &[(NEAR_LONDON.0, NEAR_LONDON.1, 0)]).await;
    let third = render(&db, &store).await;
    let after = snapshot(dir.path());
    let changed: Vec<String> = after
        .iter()
        .filter(|(k, v)| k.ends_with(".png") && files.get(*k) != Some(*v))
        .map(|(k, _)| k.clone())
        .collect();
    assert!(!changed.is_empty());
    assert_eq!(
        third.sync.tile_new + third.sync.tile_changed,
        changed.len() as u64
    );
    let allowed = ancestors(NEAR_LONDON.0, NEAR_LONDON.1);
    for path in &changed {
        assert!(
            allowed.contains(path),
            "{path} changed but holds no new point"
        );
    }
    assert!(changed.contains(&locate(NEAR_LONDON.0 + 0.0005, NEAR_LONDON.1 + 0.0005, 11).0));
    assert!(!changed.contains(&locate(SYDNEY.0, SYDNEY.1, 11).0));

    // Sydney's cell is gone: its deepest tiles are deleted.
    delete(&db, SYDNEY.0, SYDNEY.1).await;
    let fourth = render(&db, &store).await;
    assert!(fourth.sync.tile_deleted > 0);
    let after = snapshot(dir.path());
    assert!(!after.contains_key(&locate(SYDNEY.0 + 0.0005, SYDNEY.1 + 0.0005, 11).0));
    assert_eq!(
        after.keys().filter(|k| k.ends_with(".png")).count() as u64,
        fourth.pyramid.tiles
    );
}

#[tokio::test]
async fn stable_output_across_stores() {
    // The same datamap renders byte-identical tiles into two fresh directories.
    let db = TestDb::new().await;
    let cells: Vec<(f64, f64, i32)> = (0..50)
        .map(|i| {
            (
                -20.0 + f64::from(i) * 0.0013,
                30.0 + f64::from(i) * 0.0029,
                i * 7,
            )
        })
        .collect();
    insert(&db, &cells).await;
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    for dir in [&a, &b] {
        let store = TileStore::new(
            Arc::new(LocalFileSystem::new_with_prefix(dir.path()).unwrap()),
            false,
        );
        render(&db, &store).await;
    }
    let strip = |mut m: BTreeMap<String, Vec<u8>>| {
        m.remove("tiles/data.json");
        m
    };
    let (sa, sb) = (strip(snapshot(a.path())), strip(snapshot(b.path())));
    assert!(sa.len() > 12);
    assert_eq!(sa.keys().collect::<Vec<_>>(), sb.keys().collect::<Vec<_>>());
    for (name, bytes) in &sa {
        assert!(sb[name] == *bytes, "{name} differs");
    }
}

#[tokio::test]
async fn empty_datamap_leaves_the_store_alone() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("tiles/3/1/1")).unwrap();
    std::fs::write(dir.path().join("tiles/3/1/1/1.png"), b"old").unwrap();
    let store = TileStore::new(
        Arc::new(LocalFileSystem::new_with_prefix(dir.path()).unwrap()),
        false,
    );
    let stats = render(&db, &store).await;
    assert_eq!(stats.pyramid.tiles, 0);
    assert_eq!(stats.sync.tile_deleted, 0);
    assert_eq!(snapshot(dir.path()).len(), 1);
}

#[tokio::test]
async fn s3_upload_only_changed_tiles() {
    TestS3::require_aws_env();
    let s3 = TestS3::start("assets").await;
    let db = TestDb::new().await;
    insert(&db, &[(LONDON.0, LONDON.1, 0), (SYDNEY.0, SYDNEY.1, 0)]).await;
    let settings = ichnaea_runtime::config::AssetSettings {
        bucket: Some(s3.bucket().to_owned()),
        url: None,
        dir: std::env::temp_dir(),
        s3_endpoint: Some(s3.endpoint().to_owned()),
        cell_exports: true,
    };
    let raw: Arc<dyn ObjectStore> = ichnaea_runtime::object_store::build(&settings).unwrap();
    let store = TileStore::new(raw.clone(), true);

    let first = render(&db, &store).await;
    assert!(first.pyramid.tiles >= 20);
    assert_eq!(first.sync.tile_new, first.pyramid.tiles);
    let (tile, _) = locate(LONDON.0 + 0.0005, LONDON.1 + 0.0005, 11);
    let got = raw.get(&StorePath::from(tile.as_str())).await.unwrap();
    assert_eq!(
        got.attributes
            .get(&object_store::Attribute::ContentType)
            .map(|v| v.as_ref()),
        Some("image/png")
    );
    assert_eq!(
        got.attributes
            .get(&object_store::Attribute::CacheControl)
            .map(|v| v.as_ref()),
        Some(ichnaea_tiles::store::CACHE_CONTROL)
    );
    let bytes = got.bytes().await.unwrap();
    assert!(decode_rgba(&bytes).iter().any(|p| p[3] > 0));
    let retina = raw
        .head(&StorePath::from("tiles/0/0/0@2x.png"))
        .await
        .unwrap();
    assert!(retina.size > 0);

    let second = render(&db, &store).await;
    assert_eq!(
        second.sync.tile_new + second.sync.tile_changed + second.sync.tile_deleted,
        0
    );
    assert_eq!(second.sync.tile_unchanged, first.pyramid.tiles);

    // A tile removed behind our back is repaired even though the manifest lists it.
    raw.delete(&StorePath::from(tile.as_str())).await.unwrap();
    let third = render(&db, &store).await;
    assert_eq!(third.sync.tile_new, 1);
    assert!(raw.head(&StorePath::from(tile.as_str())).await.is_ok());

    delete(&db, SYDNEY.0, SYDNEY.1).await;
    let fourth = render(&db, &store).await;
    assert!(fourth.sync.tile_deleted > 0);
    assert!(
        raw.head(&StorePath::from(
            locate(SYDNEY.0 + 0.0005, SYDNEY.1 + 0.0005, 11).0.as_str()
        ))
        .await
        .is_err()
    );
}

#[tokio::test]
async fn binary_renders_into_a_directory() {
    let db = TestDb::new().await;
    insert(&db, &[(LONDON.0, LONDON.1, 0)]).await;
    let dir = tempfile::tempdir().unwrap();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_ichnaea-tiles"))
        .arg("--output")
        .arg(dir.path())
        .args(["--concurrency", "1"])
        .env_clear()
        .env("DB_READONLY_URI", db.url())
        .env("LOCAL_DEV_ENV", "true")
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let files = snapshot(dir.path());
    assert!(files.contains_key(&locate(LONDON.0 + 0.0005, LONDON.1 + 0.0005, 11).0));
    assert!(files.contains_key("tiles/0/0/0.png"));

    // Without a database URL it refuses to start and says why.
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_ichnaea-tiles"))
        .arg("--output")
        .arg(dir.path())
        .env_clear()
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("DB_READONLY_URI"));
}

#[tokio::test]
async fn unreachable_database_fails_and_writes_nothing() {
    let db = TestDb::new().await;
    insert(&db, &[(LONDON.0, LONDON.1, 0)]).await;
    let dir = tempfile::tempdir().unwrap();
    let store = TileStore::new(
        Arc::new(LocalFileSystem::new_with_prefix(dir.path()).unwrap()),
        false,
    );
    let mut config = db.pool_config();
    config.url = format!("{}_missing", db.url()).into();
    config.timeout = std::time::Duration::from_millis(500);
    let pool = DbPool::new(&config).unwrap();
    let result = ichnaea_tiles::run(&pool, &store, &options(), today()).await;
    assert!(result.is_err());
    assert!(snapshot(dir.path()).is_empty());
}

//! Publishing tiles to the object store, uploading only what changed.
//!
//! Tiles live under `tiles/` (`tiles/{z}/{x}/{y}.png`, `tiles/0/0/0@2x.png`), where the
//! website expects them (`pipeline.md` §13.5). A run renders the whole pyramid, but most
//! tiles are the same as last time (the jitter is stable), so each tile is uploaded only
//! when it is new or its content differs. The reference compares S3 ETags (MD5); a local
//! directory has no such ETag, so the comparison uses a manifest object,
//! `tiles/manifest.json`, mapping each tile to a 64-bit prefix of its SHA-256, written at
//! the end of every run that changed something. A tile counts as unchanged only if the
//! manifest has its hash **and** the store still lists an object of the same size, so a
//! deleted or replaced object is repaired by the next run. Tiles the run did not render
//! are deleted, but only after a successful run, never after a failed one.
//!
//! After the tiles, `tiles/data.json` records the run (`{"updated": …, …statistics}`), as
//! the reference does.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{Attribute, Attributes, ObjectStore, ObjectStoreExt, PutOptions, PutPayload};
use sha2::{Digest, Sha256};

use crate::pyramid::TileImage;

/// The folder of the tiles in the store.
pub const TILE_ROOT: &str = "tiles";

/// The manifest object, below [`TILE_ROOT`].
pub const MANIFEST: &str = "manifest.json";

/// The run summary object, below [`TILE_ROOT`].
pub const DATA_JSON: &str = "data.json";

/// `Cache-Control` of tiles and `data.json` (the reference's).
pub const CACHE_CONTROL: &str = "max-age=3600, public";

/// What publishing did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct SyncStats {
    /// Tiles not in the store before.
    pub tile_new: u64,
    /// Tiles whose content changed.
    pub tile_changed: u64,
    /// Tiles left as they were.
    pub tile_unchanged: u64,
    /// Tiles deleted because the run no longer renders them.
    pub tile_deleted: u64,
}

/// The tile folder of an object store.
#[derive(Debug, Clone)]
pub struct TileStore {
    store: Arc<dyn ObjectStore>,
    attributes: bool,
}

/// The state of the store before a run, and the decisions taken during it.
#[derive(Debug, Default)]
pub struct SyncState {
    /// Tiles in the store (path below the root → size), minus those rendered so far.
    listed: HashMap<String, u64>,
    /// The previous manifest.
    previous: HashMap<String, String>,
    /// The manifest being built.
    current: HashMap<String, String>,
    stats: SyncStats,
}

impl SyncState {
    /// What was uploaded, kept and deleted so far.
    pub fn stats(&self) -> SyncStats {
        self.stats
    }
}

#[derive(serde::Serialize, serde::Deserialize, Default)]
struct ManifestFile {
    version: u32,
    // Sorted, so the same tiles give the same manifest bytes.
    tiles: BTreeMap<String, String>,
}

/// The hash recorded for a tile: the first 8 bytes of its SHA-256, in hex.
pub fn tile_hash(png: &[u8]) -> String {
    let digest = Sha256::digest(png);
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

impl TileStore {
    /// Tiles in `store`; `attributes` says whether objects can carry `Content-Type` and
    /// `Cache-Control` (S3 can, a local directory cannot).
    pub fn new(store: Arc<dyn ObjectStore>, attributes: bool) -> TileStore {
        TileStore { store, attributes }
    }

    fn path(name: &str) -> Path {
        Path::from(format!("{TILE_ROOT}/{name}"))
    }

    fn options(&self, content_type: &'static str) -> PutOptions {
        let mut attributes = Attributes::new();
        if self.attributes {
            attributes.insert(Attribute::ContentType, content_type.into());
            attributes.insert(Attribute::CacheControl, CACHE_CONTROL.into());
        }
        PutOptions {
            attributes,
            ..PutOptions::default()
        }
    }

    /// Lists the tiles in the store and reads the manifest.
    pub async fn begin(&self) -> Result<SyncState, object_store::Error> {
        let root = Path::from(TILE_ROOT);
        let mut listed = HashMap::new();
        let mut objects = self.store.list(Some(&root));
        while let Some(meta) = objects.try_next().await? {
            let Some(parts) = meta.location.prefix_match(&root) else {
                continue;
            };
            let name = parts
                .map(|p| p.as_ref().to_owned())
                .collect::<Vec<_>>()
                .join("/");
            if name.ends_with(".png") {
                listed.insert(name, meta.size);
            }
        }
        let previous = match self.store.get(&Self::path(MANIFEST)).await {
            Ok(got) => {
                let bytes = got.bytes().await?;
                // A damaged manifest only costs a full upload.
                serde_json::from_slice::<ManifestFile>(&bytes)
                    .map(|m| m.tiles.into_iter().collect())
                    .unwrap_or_default()
            }
            Err(object_store::Error::NotFound { .. }) => HashMap::new(),
            Err(e) => return Err(e),
        };
        Ok(SyncState {
            listed,
            previous,
            current: HashMap::new(),
            stats: SyncStats::default(),
        })
    }

    /// Uploads those of `tiles` that are new or changed, `concurrency` at a time.
    pub async fn publish(
        &self,
        state: &mut SyncState,
        tiles: Vec<TileImage>,
        concurrency: usize,
    ) -> Result<(), object_store::Error> {
        let mut uploads = Vec::new();
        for tile in tiles {
            let name = tile.path();
            let hash = tile_hash(&tile.png);
            let stored_size = state.listed.remove(&name);
            let same_hash = state.previous.get(&name) == Some(&hash);
            match stored_size {
                Some(size) if same_hash && size == tile.png.len() as u64 => {
                    state.stats.tile_unchanged += 1;
                }
                Some(_) => {
                    state.stats.tile_changed += 1;
                    uploads.push((name.clone(), tile.png));
                }
                None => {
                    state.stats.tile_new += 1;
                    uploads.push((name.clone(), tile.png));
                }
            }
            state.current.insert(name, hash);
        }
        futures::stream::iter(uploads)
            .map(|(name, png)| async move {
                self.store
                    .put_opts(
                        &Self::path(&name),
                        PutPayload::from(png),
                        self.options("image/png"),
                    )
                    .await
                    .map(|_| ())
            })
            .buffer_unordered(concurrency.max(1))
            .try_collect::<()>()
            .await
    }

    /// Deletes the tiles that were not rendered, writes the manifest if anything changed
    /// and `data.json` with `summary`.
    pub async fn finish(
        &self,
        state: &mut SyncState,
        summary: &serde_json::Value,
    ) -> Result<(), object_store::Error> {
        let stale: Vec<String> = std::mem::take(&mut state.listed).into_keys().collect();
        state.stats.tile_deleted = stale.len() as u64;
        let locations =
            futures::stream::iter(stale.into_iter().map(|n| Ok(Self::path(&n)))).boxed();
        self.store
            .delete_stream(locations)
            .try_collect::<Vec<_>>()
            .await?;
        if state.current != state.previous {
            let manifest = ManifestFile {
                version: 1,
                tiles: std::mem::take(&mut state.current).into_iter().collect(),
            };
            let bytes =
                serde_json::to_vec(&manifest).map_err(|e| object_store::Error::Generic {
                    store: "tiles",
                    source: Box::new(e),
                })?;
            self.store
                .put_opts(
                    &Self::path(MANIFEST),
                    PutPayload::from(bytes),
                    self.options("application/json"),
                )
                .await?;
        }
        let data = serde_json::to_vec(summary).map_err(|e| object_store::Error::Generic {
            store: "tiles",
            source: Box::new(e),
        })?;
        self.store
            .put_opts(
                &Self::path(DATA_JSON),
                PutPayload::from(data),
                self.options("application/json"),
            )
            .await?;
        Ok(())
    }
}

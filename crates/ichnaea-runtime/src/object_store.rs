//! The object store for assets, exports and backups.
//!
//! With `ASSET_BUCKET` set, objects go to that S3 bucket (or an S3-compatible store at
//! `S3_ENDPOINT_URL`), with credentials and region from the standard `AWS_*` variables or
//! the instance profile. Without it, a local directory (`ASSET_DIR`) stands in, so a
//! self-hosted install needs no cloud account.

use std::sync::Arc;

use object_store::ObjectStore;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;

use crate::config::AssetSettings;

/// Builds the configured object store.
pub fn build(settings: &AssetSettings) -> Result<Arc<dyn ObjectStore>, object_store::Error> {
    match &settings.bucket {
        Some(bucket) => {
            let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
            if let Some(endpoint) = &settings.s3_endpoint {
                builder = builder
                    .with_endpoint(endpoint)
                    .with_allow_http(endpoint.starts_with("http://"))
                    .with_virtual_hosted_style_request(false);
            }
            Ok(Arc::new(builder.build()?))
        }
        None => {
            std::fs::create_dir_all(&settings.dir).map_err(|e| object_store::Error::Generic {
                store: "LocalFileSystem",
                source: Box::new(e),
            })?;
            Ok(Arc::new(LocalFileSystem::new_with_prefix(&settings.dir)?))
        }
    }
}

/// Where an export writes: a store, the path template inside it, and whether the store
/// keeps object metadata (content type and encoding: S3 does, a local directory does not).
#[derive(Debug, Clone)]
pub struct Target {
    /// The store.
    pub store: Arc<dyn ObjectStore>,
    /// The object path template, without leading or trailing `/`.
    pub template: String,
    /// Whether objects can carry `Content-Type` / `Content-Encoding`.
    pub attributes: bool,
}

/// The store and path template of an export URL: `s3://bucket/path/template` (S3, or the
/// S3-compatible store of `S3_ENDPOINT_URL`, credentials from the usual AWS chain) or
/// `file:///absolute/path/template` (a local directory).
pub fn for_url(url: &str, settings: &AssetSettings) -> Result<Target, object_store::Error> {
    let generic = |msg: String| object_store::Error::Generic {
        store: "export",
        source: msg.into(),
    };
    if let Some(rest) = url.strip_prefix("s3://") {
        let (bucket, template) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(generic("export URL names no bucket".into()));
        }
        let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
        if let Some(endpoint) = &settings.s3_endpoint {
            builder = builder
                .with_endpoint(endpoint)
                .with_allow_http(endpoint.starts_with("http://"))
                .with_virtual_hosted_style_request(false);
        }
        Ok(Target {
            store: Arc::new(builder.build()?),
            template: template.trim_matches('/').to_owned(),
            attributes: true,
        })
    } else if let Some(path) = url.strip_prefix("file://") {
        if !path.starts_with('/') {
            return Err(generic(
                "a file:// export URL needs an absolute path".into(),
            ));
        }
        Ok(Target {
            store: Arc::new(LocalFileSystem::new()),
            template: path.trim_matches('/').to_owned(),
            attributes: false,
        })
    } else {
        Err(generic(
            "export URL must start with s3:// or file://".to_owned(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use object_store::path::Path;
    use object_store::{ObjectStoreExt, PutPayload};

    #[tokio::test]
    async fn local_directory_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let settings = AssetSettings {
            bucket: None,
            url: None,
            dir: dir.path().join("assets"),
            s3_endpoint: None,
            cell_exports: true,
        };
        let store = build(&settings).unwrap();
        let path = Path::from("tiles/0/0/0.png");
        store
            .put(&path, PutPayload::from_static(b"png"))
            .await
            .unwrap();
        let got = store.get(&path).await.unwrap().bytes().await.unwrap();
        assert_eq!(&got[..], b"png");
        assert!(dir.path().join("assets/tiles/0/0/0.png").is_file());
    }
}

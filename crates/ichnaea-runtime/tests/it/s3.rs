//! The object store against a real S3-compatible server (moto).

use ichnaea_runtime::config::AssetSettings;
use ichnaea_runtime::object_store::{build, for_url};
use ichnaea_testing::TestS3;
use object_store::path::Path;
use object_store::{ObjectStoreExt, PutPayload};

#[tokio::test]
async fn s3_round_trip() {
    TestS3::require_aws_env();
    let s3 = TestS3::start("assets").await;
    let settings = AssetSettings {
        bucket: Some(s3.bucket().to_owned()),
        url: None,
        dir: std::env::temp_dir(),
        s3_endpoint: Some(s3.endpoint().to_owned()),
        cell_exports: true,
    };
    let store = build(&settings).unwrap();
    let path = Path::from("export/MLS-full-cell-export-2024-01-12T000000.csv.gz");
    store
        .put(&path, PutPayload::from_static(b"cells"))
        .await
        .unwrap();
    let got = store.get(&path).await.unwrap().bytes().await.unwrap();
    assert_eq!(&got[..], b"cells");

    let target = for_url(
        &format!("s3://{}/backups/{{source}}", s3.bucket()),
        &settings,
    )
    .unwrap();
    assert_eq!(target.template, "backups/{source}");
    assert!(target.attributes);
    target
        .store
        .put(
            &Path::from("backups/gnss/1-0.json.gz"),
            PutPayload::from_static(b"x"),
        )
        .await
        .unwrap();
    let listed = store
        .list_with_delimiter(Some(&Path::from("backups/gnss")))
        .await
        .unwrap();
    assert_eq!(listed.objects.len(), 1);
}

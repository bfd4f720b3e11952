//! The real `ichnaea-admin` binary against a real database.

use std::process::{Command, Output};

use ichnaea_testing::ScratchDb;

fn admin(db_url: Option<&str>, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ichnaea-admin"));
    cmd.args(args)
        .env_remove("DB_READONLY_URI")
        .env_remove("DB_READWRITE_URI")
        .env_remove("REDIS_URI")
        .env_remove("SECRET_KEY")
        .env_remove("LOCAL_DEV_ENV");
    if let Some(url) = db_url {
        cmd.env("DB_READWRITE_URI", url);
    }
    cmd.output().expect("run ichnaea-admin")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn migrate_then_api_keys_round_trip() {
    let db = ScratchDb::new().await;
    let url = db.url();

    let status = admin(Some(&url), &["migrate", "--status"]);
    assert!(status.status.success(), "{}", stderr(&status));
    assert!(stdout(&status).contains("[pending] 2026-11-27-000001_baseline"));

    let first = admin(Some(&url), &["migrate"]);
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(stdout(&first).contains("Applied migration 2026-11-27-000001_baseline"));
    assert!(stdout(&first).contains("Applied migration 2026-11-27-000003_cell_nr"));
    let second = admin(Some(&url), &["migrate"]);
    assert!(second.status.success());
    assert!(
        stdout(&second).contains("up to date"),
        "{}",
        stdout(&second)
    );
    assert!(stdout(&admin(Some(&url), &["migrate", "--status"])).contains("0 pending"));

    let created = admin(
        Some(&url),
        &[
            "api-key",
            "create",
            "round-trip-key",
            "--maxreq",
            "5",
            "--allow-fallback",
            "true",
            "--allow-locate",
            "false",
            "--allow-region",
            "false",
            "--fallback-name",
            "fall",
            "--fallback-schema",
            "unwiredlabs/v1",
            "--fallback-url",
            "https://eu1.unwiredlabs.com/v2/process.php#token",
            "--fallback-ratelimit",
            "10",
            "--fallback-ratelimit-interval",
            "60",
            "--fallback-cache-expire",
            "3600",
            "--store-sample-locate",
            "50",
            "--store-sample-submit",
            "25",
        ],
    );
    assert!(created.status.success(), "{}", stderr(&created));
    assert_eq!(stdout(&created), "Created API key: 'round-trip-key'\n");

    let shown = admin(Some(&url), &["api-key", "show", "round-trip-key"]);
    assert!(shown.status.success());
    assert_eq!(
        stdout(&shown),
        "valid_key : round-trip-key\n\
         maxreq : 5\n\
         allow_fallback : true\n\
         allow_locate : false\n\
         allow_region : false\n\
         fallback_name : fall\n\
         fallback_schema : unwiredlabs/v1\n\
         fallback_url : https://eu1.unwiredlabs.com/v2/process.php#token\n\
         fallback_ratelimit : 10\n\
         fallback_ratelimit_interval : 60\n\
         fallback_cache_expire : 3600\n\
         store_sample_submit : 25\n\
         store_sample_locate : 50\n\
         label : k3208412b\n"
    );

    let updated = admin(
        Some(&url),
        &[
            "api-key",
            "update",
            "round-trip-key",
            "--maxreq",
            "null",
            "--allow-locate",
            "true",
        ],
    );
    assert!(updated.status.success(), "{}", stderr(&updated));
    let shown = stdout(&admin(Some(&url), &["api-key", "show", "round-trip-key"]));
    assert!(
        shown.contains("maxreq : null\n") && shown.contains("allow_locate : true\n"),
        "{shown}"
    );

    let defaults = admin(Some(&url), &["api-key", "create"]);
    assert!(defaults.status.success());
    let created_key = stdout(&defaults)
        .trim()
        .trim_start_matches("Created API key: '")
        .trim_end_matches('\'')
        .to_owned();
    assert_eq!(created_key.len(), 36, "a UUID: {created_key}");
    let shown = stdout(&admin(Some(&url), &["api-key", "show", &created_key]));
    for line in [
        "maxreq : 100",
        "allow_fallback : false",
        "allow_locate : true",
        "allow_region : true",
        "fallback_name : null",
        "store_sample_submit : 100",
        "store_sample_locate : 100",
    ] {
        assert!(shown.contains(line), "{line} missing in {shown}");
    }

    let listed = stdout(&admin(Some(&url), &["api-key", "list"]));
    assert!(listed.starts_with("2 api keys.\n"), "{listed}");
    assert!(listed.contains("valid_key"));
    let row: Vec<&str> = listed
        .lines()
        .find(|l| l.starts_with("round-trip-key"))
        .unwrap()
        .split('|')
        .map(str::trim)
        .collect();
    assert_eq!(row, ["round-trip-key", "true", "true", "false"]);

    let dup = admin(Some(&url), &["api-key", "create", "round-trip-key"]);
    assert_eq!(dup.status.code(), Some(1));
    assert_eq!(stderr(&dup), "error: API key 'round-trip-key' exists\n");

    let deleted = admin(Some(&url), &["api-key", "delete", "round-trip-key"]);
    assert!(deleted.status.success());
    let missing = admin(Some(&url), &["api-key", "show", "round-trip-key"]);
    assert_eq!(missing.status.code(), Some(1));
    assert_eq!(
        stderr(&missing),
        "error: API key 'round-trip-key' does not exist\n"
    );
}

#[test]
fn errors_are_one_line_and_nonzero() {
    let no_db = admin(None, &["migrate"]);
    assert_eq!(no_db.status.code(), Some(1));
    let err = stderr(&no_db);
    assert!(
        err.starts_with("error: ") && err.contains("DB_READWRITE_URI must be set"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");

    let dead = admin(Some("mysql://root@127.0.0.1:1/location"), &["migrate"]);
    assert_eq!(dead.status.code(), Some(1));
    assert!(
        stderr(&dead).starts_with("error: database unavailable"),
        "{}",
        stderr(&dead)
    );

    let bad_key = admin(
        Some("mysql://root@127.0.0.1:1/location"),
        &["api-key", "create", "bad_key"],
    );
    assert_eq!(bad_key.status.code(), Some(1));
    assert!(
        stderr(&bad_key).contains("invalid API key"),
        "{}",
        stderr(&bad_key)
    );

    let no_changes = admin(
        Some("mysql://root@127.0.0.1:1/location"),
        &["api-key", "update", "abcd"],
    );
    assert_eq!(no_changes.status.code(), Some(1));
}

#[test]
fn check_config_hides_secrets_and_names_problems() {
    let out = Command::new(env!("CARGO_BIN_EXE_ichnaea-admin"))
        .args(["check-config", "--role", "api"])
        .env("DB_READONLY_URI", "mysql://reader:hunter2@db/location")
        .env("REDIS_URI", "redis://127.0.0.1:6379/0")
        .env("SECRET_KEY", "very-secret-value")
        .env("STATSD_PORT", "8126")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        !text.contains("hunter2") && !text.contains("very-secret-value"),
        "{text}"
    );
    assert!(text.contains("mysql://reader:***@db/location"));
    assert!(
        text.contains("STATSD_PORT") && text.contains("8126") && text.contains("(environment)")
    );
    assert!(text.contains("configuration is valid for role api"));

    let bad = Command::new(env!("CARGO_BIN_EXE_ichnaea-admin"))
        .args(["check-config", "--role", "worker"])
        .env_remove("DB_READWRITE_URI")
        .env_remove("REDIS_URI")
        .env("STATSD_PORT", "http")
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(1));
    let err = stderr(&bad);
    for needle in [
        "DB_READWRITE_URI must be set",
        "REDIS_URI must be set",
        "STATSD_PORT",
    ] {
        assert!(err.contains(needle), "{needle} missing: {err}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn migrate_can_create_the_database() {
    use mysql_async::prelude::Queryable;
    let name = format!("ichnaea_created_{:08x}", rand::random::<u32>());
    let url = format!("{}/{name}", ichnaea_testing::mysql_server_url());
    let out = admin(Some(&url), &["migrate", "--create-database"]);
    let again = admin(Some(&url), &["migrate", "--create-database"]);
    let mut conn = mysql_async::Conn::new(
        mysql_async::Opts::from_url(&ichnaea_testing::mysql_server_url()).unwrap(),
    )
    .await
    .unwrap();
    conn.query_drop(format!("DROP DATABASE IF EXISTS `{name}`"))
        .await
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).starts_with("Created the database.\nApplied migration"),
        "{}",
        stdout(&out)
    );
    assert!(again.status.success());
    assert!(
        stdout(&again).starts_with("Database schema is up to date"),
        "{}",
        stdout(&again)
    );
}

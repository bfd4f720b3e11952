//! The monitoring tasks against real Redis and MySQL, with metrics captured by a UDP
//! socket standing in for statsd (`pipeline.md` §9).

#![expect(
    clippy::unwrap_used,
    reason = "test helpers panic when their setup fails"
)]

use std::net::UdpSocket;
use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use diesel_async::RunQueryDsl;
use ichnaea_core::QueueName;
use ichnaea_core::apikey::key_label;
use ichnaea_db::{DbPools, PoolConfig};
use ichnaea_runtime::{DataQueue, Metrics};
use ichnaea_testing::{TestDb, TestRedis};
use ichnaea_worker::WorkerState;
use ichnaea_worker::consumer::Timing;
use ichnaea_worker::tasks::{monitor, periodic};
use redis::aio::MultiplexedConnection;

/// A UDP socket standing in for statsd, and metrics that send to it.
fn statsd() -> (UdpSocket, Metrics) {
    let server = UdpSocket::bind("127.0.0.1:0").unwrap();
    server
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let port = server.local_addr().unwrap().port();
    (server, Metrics::udp("127.0.0.1", port).unwrap())
}

/// Every metric line received so far.
fn received(server: &UdpSocket) -> Vec<String> {
    let mut lines = Vec::new();
    let mut buf = [0u8; 2048];
    while let Ok(n) = server.recv(&mut buf) {
        lines.extend(
            String::from_utf8_lossy(&buf[..n])
                .lines()
                .map(str::to_owned),
        );
    }
    lines
}

/// The gauges named `name` as `(value, tags)`.
fn gauges(lines: &[String], name: &str) -> Vec<(String, String)> {
    let prefix = format!("location.{name}:");
    lines
        .iter()
        .filter_map(|l| l.strip_prefix(&prefix))
        .filter_map(|rest| {
            let (value, rest) = rest.split_once("|g")?;
            let tags = rest.strip_prefix("|#").unwrap_or("").to_owned();
            Some((value.to_owned(), tags))
        })
        .collect()
}

/// The single untagged gauge `name`, if sent.
fn gauge(lines: &[String], name: &str) -> Option<String> {
    let found = gauges(lines, name);
    assert!(found.len() <= 1, "{name} sent {} times", found.len());
    found.into_iter().next().map(|(v, _)| v)
}

fn worker_state(db: DbPools, redis: &TestRedis, metrics: Metrics) -> WorkerState {
    WorkerState {
        db,
        redis: redis.client(),
        metrics,
        geocoder: ichnaea_geocode::Geocoder::new().unwrap(),
        http: reqwest::Client::new(),
        consumer_id: Arc::from("monitor-test"),
        timing: Timing {
            poll: Duration::from_millis(20),
            lease: Duration::from_secs(5),
        },
        export_max_age: Duration::from_secs(3600),
        station_batch: 500,
        station_max_age: Duration::ZERO,
        record_datamap: true,
        recent_grids: Default::default(),
        assets: ichnaea_runtime::config::AssetSettings {
            bucket: None,
            url: None,
            dir: std::env::temp_dir(),
            s3_endpoint: None,
            cell_exports: true,
        },
    }
}

async fn set(conn: &mut MultiplexedConnection, key: &str, value: impl redis::ToRedisArgs) {
    let () = redis::cmd("SET")
        .arg(key)
        .arg(value)
        .query_async(conn)
        .await
        .unwrap();
}

async fn get(conn: &mut MultiplexedConnection, key: &str) -> Option<String> {
    redis::cmd("GET").arg(key).query_async(conn).await.unwrap()
}

async fn push(conn: &mut MultiplexedConnection, key: &str, n: usize) {
    let items: Vec<String> = (0..n).map(|i| i.to_string()).collect();
    let _: u64 = redis::cmd("RPUSH")
        .arg(key)
        .arg(&items)
        .query_async(conn)
        .await
        .unwrap();
}

/// The reference's test fixture of an enabled controller.
async fn enable_controller(conn: &mut MultiplexedConnection) {
    for (key, value) in [
        ("rate_controller_kp", "1.0"),
        ("rate_controller_ki", "0.002"),
        ("rate_controller_kd", "0.2"),
        ("rate_controller_target", "1000"),
        ("rate_controller_enabled", "1"),
        ("rate_controller_trx_purging", "0"),
        ("rate_controller_trx_min", "1000"),
        ("rate_controller_trx_max", "1000000"),
    ] {
        set(conn, key, value).await;
    }
}

fn state_json(raw: Option<String>) -> serde_json::Value {
    serde_json::from_str(&raw.expect("a stored state")).unwrap()
}

// §9.1

#[tokio::test]
async fn api_key_limits_gauge_todays_counts_only() {
    let db = TestDb::new().await;
    let redis = TestRedis::new().await;
    let mut conn = redis.conn().await;
    let (server, metrics) = statsd();
    let state = worker_state(db.pools(), &redis, metrics);

    monitor::api_key_limits(&state).await.unwrap();
    assert!(gauges(&received(&server), "api.limit").is_empty());

    let now = Utc::now();
    let today = now.format("%Y%m%d").to_string();
    let yesterday = (now - TimeDelta::hours(24)).format("%Y%m%d").to_string();
    let data = [
        ("test", "v1.search", 11),
        ("test", "v1.geolocate", 13),
        ("no-key-1", "v1.search", 12),
        ("no-key-2", "v1.geolocate", 15),
    ];
    for (key, path, value) in data {
        set(&mut conn, &format!("apilimit:{key}:{path}:{today}"), value).await;
        set(
            &mut conn,
            &format!("apilimit:{key}:{path}:{yesterday}"),
            value - 10,
        )
        .await;
    }
    push(&mut conn, "default", 2).await;
    set(&mut conn, "cache_something", "{}").await;

    periodic::run(&state, "data.monitor_api_key_limits", 1)
        .await
        .unwrap();
    let lines = received(&server);
    let mut found = gauges(&lines, "api.limit");
    found.sort();
    let mut expected: Vec<(String, String)> = data
        .iter()
        .map(|(key, path, value)| {
            (
                value.to_string(),
                format!("key:{},path:{path}", key_label(key)),
            )
        })
        .collect();
    expected.sort();
    assert_eq!(found, expected);
    assert!(
        lines
            .iter()
            .all(|l| !l.contains("key:test") && !l.contains("no-key")),
        "raw API keys in tags: {lines:?}"
    );
}

// §9.2

#[tokio::test]
async fn api_users_count_unique_ips_per_day_and_week() {
    let db = TestDb::new().await;
    let redis = TestRedis::new().await;
    let mut conn = redis.conn().await;
    let (server, metrics) = statsd();
    let state = worker_state(db.pools(), &redis, metrics);

    monitor::api_users(&state).await.unwrap();
    let lines = received(&server);
    assert!(gauges(&lines, "submit.user").is_empty());
    assert!(gauges(&lines, "locate.user").is_empty());

    let bhutan = "67.43.156.1";
    let london = "81.2.69.192";
    let today = Utc::now().date_naive();
    let day = |n: i64| (today - TimeDelta::days(n)).format("%Y-%m-%d").to_string();
    let pfadd = |key: String, ips: Vec<&'static str>| {
        let mut conn = conn.clone();
        async move {
            let _: u64 = redis::cmd("PFADD")
                .arg(key)
                .arg(ips)
                .query_async(&mut conn)
                .await
                .unwrap();
        }
    };
    pfadd(
        format!("apiuser:submit:test:{}", day(0)),
        vec!["127.0.0.1", bhutan],
    )
    .await;
    // The same IPs and one new one, six days ago.
    pfadd(
        format!("apiuser:submit:test:{}", day(6)),
        vec!["127.0.0.1", bhutan, london],
    )
    .await;
    // Too old: deleted.
    pfadd(format!("apiuser:submit:test:{}", day(7)), vec![bhutan]).await;
    // Only in the week.
    pfadd(format!("apiuser:locate:valid-key:{}", day(3)), vec![london]).await;
    // Not reported (no such metric), but still cleaned up when old.
    pfadd(format!("apiuser:region:test:{}", day(0)), vec![london]).await;
    pfadd(format!("apiuser:region:test:{}", day(30)), vec![london]).await;

    periodic::run(&state, "data.monitor_api_users", 1)
        .await
        .unwrap();
    let lines = received(&server);
    let test = key_label("test");
    let mut submit = gauges(&lines, "submit.user");
    submit.sort();
    assert_eq!(
        submit,
        vec![
            ("2".to_owned(), format!("key:{test},interval:1d")),
            ("3".to_owned(), format!("key:{test},interval:7d")),
        ]
    );
    assert_eq!(
        gauges(&lines, "locate.user"),
        vec![(
            "1".to_owned(),
            format!("key:{},interval:7d", key_label("valid-key"))
        )]
    );
    assert!(gauges(&lines, "region.user").is_empty());
    let mut keys: Vec<String> = redis::cmd("KEYS")
        .arg("apiuser:*")
        .query_async(&mut conn)
        .await
        .unwrap();
    keys.sort();
    let mut expected = vec![
        format!("apiuser:locate:valid-key:{}", day(3)),
        format!("apiuser:region:test:{}", day(0)),
        format!("apiuser:submit:test:{}", day(0)),
        format!("apiuser:submit:test:{}", day(6)),
    ];
    expected.sort();
    assert_eq!(keys, expected, "older keys are deleted");
    assert!(lines.iter().all(|l| !l.contains("key:test")));
}

// §9.3

#[tokio::test]
async fn queue_gauges_and_backlog() {
    let db = TestDb::new().await;
    let redis = TestRedis::new().await;
    let mut conn = redis.conn().await;
    let (server, metrics) = statsd();
    let state = worker_state(db.pools(), &redis, metrics);

    // Empty queues: every queue reports 0 and the rate is 100.
    monitor::queue_size_and_rate_control(&state).await.unwrap();
    let lines = received(&server);
    let queues = gauges(&lines, "queue");
    assert_eq!(queues.len(), QueueName::all_fixed().len() + 1);
    for name in QueueName::all_fixed() {
        let tags = format!(
            "queue:{},queue_type:data,data_type:{}",
            name.key(),
            name.data_type()
        );
        assert!(queues.contains(&("0".to_owned(), tags.clone())), "{tags}");
        assert!(gauges(&lines, "queue.inflight").contains(&("0".to_owned(), tags.clone())));
        assert!(gauges(&lines, "queue.dead").contains(&("0".to_owned(), tags)));
    }
    assert!(queues.contains(&(
        "0".to_owned(),
        "queue:ichnaea_tasks,queue_type:task".to_owned()
    )));
    assert_eq!(gauge(&lines, "rate_control.locate").as_deref(), Some("100"));
    assert_eq!(gauge(&lines, "rate_control.locate.target"), None);
    // The controller is not enabled: its state is reset, and missing `enabled` is
    // written as 0.
    assert_eq!(
        get(&mut conn, "rate_controller_enabled").await.as_deref(),
        Some("0")
    );
    assert_eq!(
        get(&mut conn, "rate_controller_state").await.as_deref(),
        Some("{}")
    );

    // Backlog = bluetooth + cell + wifi queues: 10 + 3 + 4 = 17 > target 10 → rate 0.
    push(&mut conn, "update_wifi_b", 10).await;
    push(&mut conn, "update_cell_nr", 3).await;
    push(&mut conn, "update_blue_0", 6).await;
    push(&mut conn, "update_incoming", 50).await;
    push(&mut conn, "update_datamap_ne", 50).await;
    push(&mut conn, "ichnaea_tasks", 2).await;
    let blue = DataQueue::new(
        redis.client(),
        &QueueName::UpdateBlue(ichnaea_core::BlueShard::ALL[0]),
    );
    let claimed = blue
        .claim("someone", 2, Duration::from_secs(60))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claimed.items.len(), 2);
    enable_controller(&mut conn).await;
    set(&mut conn, "rate_controller_target", "10").await;
    monitor::queue_size_and_rate_control(&state).await.unwrap();
    let lines = received(&server);
    let queues = gauges(&lines, "queue");
    for (value, tags) in [
        ("10", "queue:update_wifi_b,queue_type:data,data_type:wifi"),
        ("3", "queue:update_cell_nr,queue_type:data,data_type:cell"),
        (
            "4",
            "queue:update_blue_0,queue_type:data,data_type:bluetooth",
        ),
        (
            "50",
            "queue:update_incoming,queue_type:data,data_type:report",
        ),
        (
            "50",
            "queue:update_datamap_ne,queue_type:data,data_type:datamap",
        ),
        ("2", "queue:ichnaea_tasks,queue_type:task"),
    ] {
        assert!(
            queues.contains(&(value.to_owned(), tags.to_owned())),
            "{value} {tags}"
        );
    }
    assert!(gauges(&lines, "queue.inflight").contains(&(
        "1".to_owned(),
        "queue:update_blue_0,queue_type:data,data_type:bluetooth".to_owned()
    )));
    let saved = state_json(get(&mut conn, "rate_controller_state").await);
    assert_eq!(saved["last_input"], 17.0);
    assert_eq!(saved["p_term"], -7.0);
    assert_eq!(gauge(&lines, "rate_control.locate").as_deref(), Some("0"));
    assert_eq!(
        get(&mut conn, "global_locate_sample_rate").await.as_deref(),
        Some("0.0")
    );
}

/// Target 1000, kp 1, empty queues → rate 100 and the stored state of the reference.
#[tokio::test]
async fn rate_control_runs_and_stores_its_state() {
    let db = TestDb::new().await;
    let redis = TestRedis::new().await;
    let mut conn = redis.conn().await;
    let (server, metrics) = statsd();
    let state = worker_state(db.pools(), &redis, metrics);
    enable_controller(&mut conn).await;

    let before = Utc::now().timestamp() as f64;
    periodic::run(&state, "data.monitor_queue_size_and_rate_control", 1)
        .await
        .unwrap();
    let lines = received(&server);

    assert_eq!(
        get(&mut conn, "rate_controller_enabled").await.as_deref(),
        Some("1")
    );
    assert_eq!(
        get(&mut conn, "rate_controller_trx_purging")
            .await
            .as_deref(),
        Some("0")
    );
    assert_eq!(
        get(&mut conn, "global_locate_sample_rate").await.as_deref(),
        Some("100.0")
    );
    let raw = get(&mut conn, "rate_controller_state").await;
    assert!(
        raw.as_deref().unwrap().contains("\"d_term\":-0.0"),
        "{raw:?}"
    );
    let saved = state_json(raw);
    assert_eq!(saved["state"], "running");
    assert_eq!(saved["p_term"], 1000.0);
    assert_eq!(saved["last_input"], 0.0);
    assert_eq!(saved["last_output"], 1000.0);
    let last_time = saved["last_time"].as_f64().unwrap();
    assert!(
        last_time >= before && last_time < before + 60.0,
        "wall clock"
    );

    assert_eq!(
        gauge(&lines, "rate_control.locate.target").as_deref(),
        Some("1000")
    );
    assert_eq!(
        gauge(&lines, "rate_control.locate.kp").as_deref(),
        Some("1")
    );
    assert_eq!(
        gauge(&lines, "rate_control.locate.ki").as_deref(),
        Some("0.002")
    );
    assert_eq!(
        gauge(&lines, "rate_control.locate.kd").as_deref(),
        Some("0.2")
    );
    assert_eq!(
        gauge(&lines, "rate_control.locate.pterm").as_deref(),
        Some("1000")
    );
    assert!(gauge(&lines, "rate_control.locate.iterm").is_some());
    assert_eq!(
        gauge(&lines, "rate_control.locate.dterm").as_deref(),
        Some("0")
    );
    assert_eq!(gauge(&lines, "rate_control.locate").as_deref(), Some("100"));
    // MariaDB reports its history length to root.
    assert!(gauge(&lines, "trx_history.length").is_some());
    assert_eq!(gauge(&lines, "trx_history.min").as_deref(), Some("1000"));
    assert_eq!(gauge(&lines, "trx_history.max").as_deref(), Some("1000000"));
    assert_eq!(gauge(&lines, "trx_history.purging").as_deref(), Some("0"));

    // The next run, a minute later, resumes the stored state: backlog 10 → p_term 990,
    // rate 100, and the integral and time moved on.
    push(&mut conn, "update_wifi_b", 10).await;
    let mut saved = saved;
    saved["last_time"] = (last_time - 60.0).into();
    set(&mut conn, "rate_controller_state", saved.to_string()).await;
    monitor::queue_size_and_rate_control(&state).await.unwrap();
    let next = state_json(get(&mut conn, "rate_controller_state").await);
    assert_eq!(next["p_term"], 990.0);
    assert_eq!(next["last_input"], 10.0);
    assert_eq!(next["last_output"], 1000.0);
    assert!(next["i_term"].as_f64() > saved["i_term"].as_f64());
    assert!(next["d_term"].as_f64().unwrap() < 0.0);
    assert!(next["last_time"].as_f64().unwrap() >= last_time);
    assert_eq!(
        get(&mut conn, "global_locate_sample_rate").await.as_deref(),
        Some("100.0")
    );
}

/// A restored state a minute old, backlog above a lowered target → p_term −5, rate 0.
#[tokio::test]
async fn rate_control_follows_a_new_target() {
    let db = TestDb::new().await;
    let redis = TestRedis::new().await;
    let mut conn = redis.conn().await;
    let (_server, metrics) = statsd();
    let state = worker_state(db.pools(), &redis, metrics);
    enable_controller(&mut conn).await;
    set(&mut conn, "rate_controller_target", "5").await;
    push(&mut conn, "update_wifi_b", 10).await;
    let old = serde_json::json!({
        "state": "running", "p_term": 990.0, "i_term": 0.0001, "d_term": 0.0,
        "last_input": 10, "last_output": 1000,
        "last_time": Utc::now().timestamp() as f64 - 60.0,
    });
    set(&mut conn, "rate_controller_state", old.to_string()).await;

    monitor::queue_size_and_rate_control(&state).await.unwrap();

    assert_eq!(
        get(&mut conn, "global_locate_sample_rate").await.as_deref(),
        Some("0.0")
    );
    let saved = state_json(get(&mut conn, "rate_controller_state").await);
    assert_eq!(saved["p_term"], -5.0);
    assert_eq!(saved["last_output"], 0.0);
    assert_eq!(
        saved["i_term"], 0.0,
        "the integral fell and was clamped to 0"
    );
    assert!(saved["last_time"].as_f64() > old["last_time"].as_f64());
}

/// Controller disabled with a manual rate "56.4" → gauge 56.4, the rate untouched, no
/// controller gauges.
#[tokio::test]
async fn disabled_controller_reports_the_manual_rate() {
    let db = TestDb::new().await;
    let redis = TestRedis::new().await;
    let mut conn = redis.conn().await;
    let (server, metrics) = statsd();
    let state = worker_state(db.pools(), &redis, metrics);
    enable_controller(&mut conn).await;
    set(&mut conn, "rate_controller_enabled", "0").await;
    set(&mut conn, "global_locate_sample_rate", "56.4").await;

    monitor::queue_size_and_rate_control(&state).await.unwrap();
    let lines = received(&server);

    assert_eq!(
        get(&mut conn, "global_locate_sample_rate").await.as_deref(),
        Some("56.4")
    );
    assert_eq!(
        get(&mut conn, "rate_controller_state").await.as_deref(),
        Some("{}")
    );
    assert_eq!(
        gauge(&lines, "rate_control.locate").as_deref(),
        Some("56.4")
    );
    assert!(gauge(&lines, "trx_history.length").is_some());
    assert_eq!(gauge(&lines, "trx_history.purging"), None);
    assert_eq!(gauge(&lines, "rate_control.locate.target"), None);
    assert_eq!(gauge(&lines, "rate_control.locate.pterm"), None);
}

/// An invalid gain is reset to its default and disables the controller; an invalid target
/// is reset to 0; a missing gain just takes its default.
#[tokio::test]
async fn invalid_parameters_reset_and_disable() {
    let db = TestDb::new().await;
    let redis = TestRedis::new().await;
    let mut conn = redis.conn().await;
    let (server, metrics) = statsd();
    let state = worker_state(db.pools(), &redis, metrics);

    for (key, value, reset) in [
        ("rate_controller_kp", "-1", "8"),
        ("rate_controller_ki", "a string", "0"),
        ("rate_controller_target", "-1", "0"),
        ("rate_controller_trx_max", "10", "1000000"),
    ] {
        enable_controller(&mut conn).await;
        set(
            &mut conn,
            "rate_controller_state",
            "{\"state\": \"running\"}",
        )
        .await;
        set(&mut conn, key, value).await;
        monitor::queue_size_and_rate_control(&state).await.unwrap();
        let lines = received(&server);
        assert_eq!(get(&mut conn, key).await.as_deref(), Some(reset), "{key}");
        assert_eq!(
            get(&mut conn, "rate_controller_enabled").await.as_deref(),
            Some("0"),
            "{key}"
        );
        assert_eq!(
            get(&mut conn, "rate_controller_state").await.as_deref(),
            Some("{}"),
            "{key}"
        );
        assert_eq!(get(&mut conn, "global_locate_sample_rate").await, None);
        assert_eq!(gauge(&lines, "rate_control.locate").as_deref(), Some("100"));
        assert_eq!(gauge(&lines, "rate_control.locate.target"), None);
    }

    // Missing: the default is written and used.
    enable_controller(&mut conn).await;
    for key in [
        "rate_controller_kd",
        "rate_controller_trx_min",
        "rate_controller_trx_max",
        "rate_controller_trx_purging",
    ] {
        let _: u64 = redis::cmd("DEL")
            .arg(key)
            .query_async(&mut conn)
            .await
            .unwrap();
    }
    monitor::queue_size_and_rate_control(&state).await.unwrap();
    let lines = received(&server);
    assert_eq!(
        get(&mut conn, "rate_controller_kd").await.as_deref(),
        Some("0")
    );
    assert_eq!(
        get(&mut conn, "rate_controller_trx_min").await.as_deref(),
        Some("1000")
    );
    assert_eq!(
        get(&mut conn, "rate_controller_trx_max").await.as_deref(),
        Some("1000000")
    );
    assert_eq!(
        get(&mut conn, "rate_controller_enabled").await.as_deref(),
        Some("1")
    );
    assert_eq!(
        state_json(get(&mut conn, "rate_controller_state").await)["state"],
        "running"
    );
    assert_eq!(
        gauge(&lines, "rate_control.locate.kd").as_deref(),
        Some("0")
    );
}

/// Purging mode ends once the history is below `trx_min` (any real history is below
/// 10¹²): purging off, rate 100.
#[tokio::test]
async fn purging_ends_below_min() {
    let db = TestDb::new().await;
    let redis = TestRedis::new().await;
    let mut conn = redis.conn().await;
    let (server, metrics) = statsd();
    let state = worker_state(db.pools(), &redis, metrics);
    enable_controller(&mut conn).await;
    set(&mut conn, "rate_controller_trx_purging", "1").await;
    set(&mut conn, "rate_controller_trx_min", "1000000000000").await;
    set(&mut conn, "rate_controller_trx_max", "1000000000001").await;
    set(&mut conn, "global_locate_sample_rate", "0").await;

    monitor::queue_size_and_rate_control(&state).await.unwrap();
    let lines = received(&server);
    assert_eq!(
        get(&mut conn, "rate_controller_trx_purging")
            .await
            .as_deref(),
        Some("0")
    );
    assert_eq!(
        get(&mut conn, "global_locate_sample_rate").await.as_deref(),
        Some("100.0")
    );
    assert_eq!(gauge(&lines, "trx_history.purging").as_deref(), Some("0"));
    assert_eq!(
        gauge(&lines, "trx_history.min").as_deref(),
        Some("1000000000000")
    );
}

/// Without the PROCESS privilege (error 1227) the history length is unknown: no
/// `trx_history.*` gauges, and purging mode stays as it was (rate 0, state not saved).
#[tokio::test]
async fn missing_process_privilege_means_unknown_history() {
    let db = TestDb::new().await;
    let redis = TestRedis::new().await;
    let mut conn = redis.conn().await;
    let (server, metrics) = statsd();

    let user = format!("ichnaea_noproc_{:08x}", rand::random::<u32>());
    let root = db.pools();
    let mut admin = root.write().unwrap().get().await.unwrap();
    for statement in [
        format!("CREATE USER '{user}'@'%' IDENTIFIED BY 'pw'"),
        format!("GRANT ALL ON `{}`.* TO '{user}'@'%'", db.name()),
    ] {
        diesel::sql_query(statement)
            .execute(&mut admin)
            .await
            .unwrap();
    }
    let server_url = ichnaea_testing::mysql_server_url();
    let host = server_url
        .rsplit_once('@')
        .map_or_else(|| server_url.trim_start_matches("mysql://"), |(_, h)| h);
    let limited = PoolConfig {
        url: format!("mysql://{user}:pw@{host}/{}", db.name()).into(),
        max_size: 2,
        timeout: Duration::from_secs(5),
    };
    let state = worker_state(DbPools::new(None, Some(&limited)).unwrap(), &redis, metrics);
    enable_controller(&mut conn).await;
    set(&mut conn, "rate_controller_trx_purging", "1").await;
    set(&mut conn, "global_locate_sample_rate", "100").await;

    let result = monitor::queue_size_and_rate_control(&state).await;
    state.db.write().unwrap().close();
    let _ = diesel::sql_query(format!("DROP USER '{user}'@'%'"))
        .execute(&mut admin)
        .await;
    result.unwrap();

    let lines = received(&server);
    for name in [
        "trx_history.length",
        "trx_history.min",
        "trx_history.max",
        "trx_history.purging",
    ] {
        assert_eq!(gauge(&lines, name), None, "{name}");
    }
    assert_eq!(
        get(&mut conn, "rate_controller_trx_purging")
            .await
            .as_deref(),
        Some("1")
    );
    assert_eq!(
        get(&mut conn, "global_locate_sample_rate").await.as_deref(),
        Some("0.0")
    );
    assert_eq!(get(&mut conn, "rate_controller_state").await, None);
    assert_eq!(gauge(&lines, "rate_control.locate").as_deref(), Some("0"));
    assert_eq!(
        gauge(&lines, "rate_control.locate.target").as_deref(),
        Some("1000")
    );
}

/// Other database errors fail the task before the rate is touched.
#[tokio::test]
async fn other_database_errors_fail_the_task() {
    let redis = TestRedis::new().await;
    let mut conn = redis.conn().await;
    let (server, metrics) = statsd();
    let missing = PoolConfig {
        url: format!(
            "{}/ichnaea_no_such_database",
            ichnaea_testing::mysql_server_url()
        )
        .into(),
        max_size: 1,
        timeout: Duration::from_secs(2),
    };
    let state = worker_state(DbPools::new(None, Some(&missing)).unwrap(), &redis, metrics);
    enable_controller(&mut conn).await;

    assert!(monitor::queue_size_and_rate_control(&state).await.is_err());
    let lines = received(&server);
    assert_eq!(gauge(&lines, "rate_control.locate"), None);
    assert_eq!(get(&mut conn, "global_locate_sample_rate").await, None);
    assert_eq!(get(&mut conn, "rate_controller_state").await, None);
}

#[tokio::test]
async fn unknown_tasks_are_dropped() {
    let db = TestDb::new().await;
    let redis = TestRedis::new().await;
    let state = worker_state(db.pools(), &redis, Metrics::noop());
    periodic::run(&state, "data.no_such_task", 1).await.unwrap();
}

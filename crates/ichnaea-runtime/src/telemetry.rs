//! Logs, metrics and error reporting.
//!
//! * **Logs** go through `tracing`: MozLog-style JSON lines on stdout in production (the
//!   format Mozilla's log pipeline ingests), readable text with `LOCAL_DEV_ENV=true`.
//!   Messages are readable on their own and details go in fields. Never log an IP address,
//!   a MAC address, a cell id with a position, an API key or a request body: for this
//!   service those *are* the personal data. The identifier types of `ichnaea-core` redact
//!   themselves in `Debug` output as a second line of defence.
//! * **Metrics** go to statsd with DogStatsD tags through `cadence`, prefixed `location.`;
//!   off when `STATSD_HOST` is unset, logged at debug level in local development. Sending
//!   never blocks the caller: a background thread drains a bounded queue.
//! * **Sentry** receives only real surprises (panics and `error!` events), never expected
//!   failures such as a database outage (those are metrics and `503`s). Every event is
//!   scrubbed before it leaves: no request body, cookies, query string (it carries the API
//!   key), forwarding headers or user IP.

use std::collections::BTreeMap;
use std::fmt;
use std::net::UdpSocket;
use std::sync::Arc;

use cadence::prelude::*;
use cadence::{MetricSink, QueuingMetricSink, StatsdClient, UdpMetricSink};
use ichnaea_core::metrics::MetricName;
use secrecy::ExposeSecret;
use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::Settings;

/// The metric prefix, as in the reference.
pub const METRIC_PREFIX: &str = "location";

/// Our crates, whose logs follow `LOGGING_LEVEL`; everything else logs warnings only.
const OUR_TARGETS: &[&str] = &[
    "ichnaea_core",
    "ichnaea_db",
    "ichnaea_runtime",
    "ichnaea_api",
    "ichnaea_worker",
    "ichnaea_scheduler",
    "ichnaea_tiles",
    "ichnaea_admin",
    "canonical-log-line",
];

/// The log filter for a settings value, unless `RUST_LOG` overrides it.
pub fn log_filter(settings: &Settings) -> EnvFilter {
    if let Ok(filter) = EnvFilter::try_from_env("RUST_LOG") {
        return filter;
    }
    let level = settings.telemetry.log_level.directive();
    let mut directives = String::from("warn");
    for target in OUR_TARGETS {
        directives.push_str(&format!(",{target}={level}"));
    }
    EnvFilter::new(directives)
}

/// Installs the global log subscriber (MozLog JSON, or text in local development), with a
/// Sentry layer when Sentry is enabled. Call once, early in `main`.
pub fn init_logging(settings: &Settings, logger: &'static str) {
    let filter = log_filter(settings);
    // Errors become Sentry events; info and warnings become breadcrumbs attached to them.
    let sentry_layers = settings.telemetry.sentry_dsn.as_ref().map(|_| {
        use sentry::integrations::tracing::{BreadcrumbLayer, ErrorLayer};
        use tracing_subscriber::Layer;
        use tracing_subscriber::filter::LevelFilter;
        ErrorLayer::new()
            .with_filter(LevelFilter::ERROR)
            .and_then(BreadcrumbLayer::new().with_filter(LevelFilter::INFO))
    });
    let registry = tracing_subscriber::registry()
        .with(filter)
        .with(sentry_layers);
    let result = if settings.local_dev_env {
        registry
            .with(tracing_subscriber::fmt::layer().with_target(true))
            .try_init()
    } else {
        registry
            .with(
                tracing_subscriber::fmt::layer()
                    .event_format(MozLog::new(logger))
                    .with_writer(std::io::stdout),
            )
            .try_init()
    };
    // A second initialisation (tests building several apps) keeps the first subscriber.
    drop(result);
}

/// Formats events as MozLog JSON: `Timestamp` (ns), `Type` (the event target), `Logger`,
/// `Hostname`, `EnvVersion`, `Severity` (syslog numbers), `Pid` and the event's `Fields`
/// with the message as `msg`.
pub struct MozLog {
    logger: &'static str,
    hostname: String,
    pid: u32,
}

impl MozLog {
    /// A formatter for the given logger name (e.g. `ichnaea`).
    pub fn new(logger: &'static str) -> MozLog {
        MozLog {
            logger,
            hostname: hostname(),
            pid: std::process::id(),
        }
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_owned())
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| "localhost".to_owned())
}

struct JsonFields(Map<String, Value>);

impl Visit for JsonFields {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .insert(field_name(field), Value::String(format!("{value:?}")));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0
            .insert(field_name(field), Value::String(value.to_owned()));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field_name(field), Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field_name(field), Value::from(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field_name(field), Value::from(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field_name(field), Value::from(value));
    }
}

fn field_name(field: &Field) -> String {
    match field.name() {
        "message" => "msg".to_owned(),
        other => other.to_owned(),
    }
}

impl<S, N> FormatEvent<S, N> for MozLog
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut fields = JsonFields(Map::new());
        event.record(&mut fields);
        let meta = event.metadata();
        let severity = match *meta.level() {
            tracing::Level::ERROR => 3,
            tracing::Level::WARN => 4,
            tracing::Level::INFO => 6,
            _ => 7,
        };
        let timestamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let mut line = BTreeMap::new();
        line.insert("Timestamp", Value::from(timestamp as u64));
        line.insert("Type", Value::from(meta.target()));
        line.insert("Logger", Value::from(self.logger));
        line.insert("Hostname", Value::from(self.hostname.as_str()));
        line.insert("EnvVersion", Value::from("2.0"));
        line.insert("Severity", Value::from(severity));
        line.insert("Pid", Value::from(self.pid));
        line.insert("Fields", Value::Object(fields.0));
        let text = serde_json::to_string(&line).map_err(|_| fmt::Error)?;
        writeln!(writer, "{text}")
    }
}

/// Initialises Sentry when `SENTRY_DSN` is set; keep the guard alive for the process's
/// lifetime (dropping it flushes pending events).
pub fn init_sentry(settings: &Settings, release: &str) -> Option<sentry::ClientInitGuard> {
    let dsn = settings.telemetry.sentry_dsn.as_ref()?;
    let mut options = sentry::ClientOptions::default();
    options.release = Some(release.to_owned().into());
    options.environment = settings
        .telemetry
        .sentry_environment
        .clone()
        .map(Into::into);
    options.send_default_pii = false;
    options.before_send = Some(Arc::new(|event| Some(scrub_event(event))));
    Some(sentry::init((dsn.expose_secret(), options)))
}

/// Request headers that may carry secrets or personal data.
const SENSITIVE_HEADERS: &[&str] = &[
    "authorization",
    "cookie",
    "forwarded",
    "x-forwarded-for",
    "x-real-ip",
    "x-nickname",
    "x-email",
];

/// Removes everything personal or secret from a Sentry event.
pub fn scrub_event(
    mut event: sentry::protocol::Event<'static>,
) -> sentry::protocol::Event<'static> {
    event.user = None;
    if let Some(request) = event.request.as_mut() {
        request.data = None;
        request.cookies = None;
        request.query_string = None;
        request.env.clear();
        if let Some(url) = request.url.as_mut() {
            url.set_query(None);
            url.set_fragment(None);
        }
        request
            .headers
            .retain(|name, _| !SENSITIVE_HEADERS.contains(&name.to_ascii_lowercase().as_str()));
    }
    event
}

/// Writes metrics to the log instead of sending them (local development).
struct LogSink;

impl MetricSink for LogSink {
    fn emit(&self, metric: &str) -> std::io::Result<usize> {
        tracing::debug!(target: "ichnaea_runtime::metrics", metric, "metric");
        Ok(metric.len())
    }
}

/// The statsd client, cheap to clone. Metric names come from [`MetricName`] only.
#[derive(Clone)]
pub struct Metrics {
    /// `None` when metrics are off: nothing is formatted at all.
    client: Option<Arc<StatsdClient>>,
}

impl fmt::Debug for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Metrics")
    }
}

impl Metrics {
    /// Metrics as configured: statsd when `STATSD_HOST` is set, the log in local
    /// development, otherwise off.
    pub fn from_settings(settings: &Settings) -> Metrics {
        match &settings.telemetry.statsd_host {
            Some(host) => match Metrics::udp(host, settings.telemetry.statsd_port) {
                Ok(m) => m,
                Err(e) => {
                    tracing::error!(error = %e, "cannot set up statsd; metrics are disabled");
                    Metrics::noop()
                }
            },
            None if settings.local_dev_env => Metrics::with_sink(LogSink),
            None => Metrics::noop(),
        }
    }

    /// Metrics sent over UDP to `host:port` from a background thread.
    pub fn udp(host: &str, port: u16) -> std::io::Result<Metrics> {
        let socket = UdpSocket::bind("0.0.0.0:0")?;
        socket.set_nonblocking(true)?;
        let sink = UdpMetricSink::from((host, port), socket)
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        Ok(Metrics::with_sink(QueuingMetricSink::from(sink)))
    }

    /// Metrics that go nowhere.
    pub fn noop() -> Metrics {
        Metrics { client: None }
    }

    fn with_sink<T: MetricSink + Send + Sync + std::panic::RefUnwindSafe + 'static>(
        sink: T,
    ) -> Metrics {
        let client = StatsdClient::builder(METRIC_PREFIX, sink)
            .with_error_handler(|e| tracing::debug!(error = %e, "metric not sent"))
            .build();
        Metrics {
            client: Some(Arc::new(client)),
        }
    }

    /// Increments a counter by one.
    pub fn incr(&self, name: MetricName, tags: &[(&str, &str)]) {
        self.count(name, 1, tags);
    }

    /// Adds to a counter.
    pub fn count(&self, name: MetricName, value: i64, tags: &[(&str, &str)]) {
        let Some(client) = &self.client else {
            return;
        };
        let mut b = client.count_with_tags(name.as_str(), value);
        for (k, v) in tags {
            b = b.with_tag(k, v);
        }
        b.send();
    }

    /// Sets a gauge.
    pub fn gauge(&self, name: MetricName, value: u64, tags: &[(&str, &str)]) {
        let Some(client) = &self.client else {
            return;
        };
        let mut b = client.gauge_with_tags(name.as_str(), value);
        for (k, v) in tags {
            b = b.with_tag(k, v);
        }
        b.send();
    }

    /// Sets a floating-point gauge.
    pub fn gauge_f64(&self, name: MetricName, value: f64, tags: &[(&str, &str)]) {
        let Some(client) = &self.client else {
            return;
        };
        let mut b = client.gauge_with_tags(name.as_str(), value);
        for (k, v) in tags {
            b = b.with_tag(k, v);
        }
        b.send();
    }

    /// Records a duration in milliseconds.
    pub fn timing(&self, name: MetricName, millis: u64, tags: &[(&str, &str)]) {
        let Some(client) = &self.client else {
            return;
        };
        let mut b = client.time_with_tags(name.as_str(), millis);
        for (k, v) in tags {
            b = b.with_tag(k, v);
        }
        b.send();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn metrics_reach_statsd_with_prefix_and_tags() {
        let server = UdpSocket::bind("127.0.0.1:0").unwrap();
        server
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let port = server.local_addr().unwrap().port();
        let metrics = Metrics::udp("127.0.0.1", port).unwrap();
        metrics.incr(
            MetricName::Request,
            &[
                ("path", "v1.geolocate"),
                ("method", "post"),
                ("status", "200"),
            ],
        );
        let mut buf = [0u8; 512];
        let n = server.recv(&mut buf).unwrap();
        assert_eq!(
            std::str::from_utf8(&buf[..n]).unwrap(),
            "location.request:1|c|#path:v1.geolocate,method:post,status:200"
        );
        metrics.timing(MetricName::RequestTiming, 12, &[("path", "x")]);
        let n = server.recv(&mut buf).unwrap();
        assert_eq!(
            std::str::from_utf8(&buf[..n]).unwrap(),
            "location.request.timing:12|ms|#path:x"
        );
    }

    #[test]
    fn sentry_events_are_scrubbed() {
        use sentry::protocol::{Event, Request, User};
        let mut headers = BTreeMap::new();
        headers.insert("X-Forwarded-For".to_owned(), "81.2.69.192".to_owned());
        headers.insert("Authorization".to_owned(), "Bearer x".to_owned());
        headers.insert("User-Agent".to_owned(), "curl".to_owned());
        let mut env = BTreeMap::new();
        env.insert("REMOTE_ADDR".to_owned(), "81.2.69.192".to_owned());
        let event = Event {
            user: Some(User {
                ip_address: Some("81.2.69.192".parse().unwrap()),
                ..Default::default()
            }),
            request: Some(Request {
                url: Some("https://h/v1/geolocate?key=SECRETKEY".parse().unwrap()),
                data: Some("{\"wifiAccessPoints\": []}".into()),
                query_string: Some("key=SECRETKEY".into()),
                cookies: Some("session=1".into()),
                headers: headers.into_iter().collect(),
                env: env.into_iter().collect(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let scrubbed = scrub_event(event);
        let text = serde_json::to_string(&scrubbed).unwrap();
        for secret in [
            "81.2.69.192",
            "SECRETKEY",
            "wifiAccessPoints",
            "session=1",
            "Bearer",
        ] {
            assert!(!text.contains(secret), "{secret} leaked: {text}");
        }
        assert!(text.contains("curl"), "harmless headers stay: {text}");
        assert!(text.contains("/v1/geolocate"));
    }

    #[test]
    fn mozlog_lines_are_json_with_fields() {
        use std::sync::Mutex;
        use tracing_subscriber::fmt::MakeWriter;

        #[derive(Clone, Default)]
        struct Buf(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Buf {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        impl<'a> MakeWriter<'a> for Buf {
            type Writer = Buf;
            fn make_writer(&'a self) -> Buf {
                self.clone()
            }
        }
        let buf = Buf::default();
        let subscriber = tracing_subscriber::registry().with(
            tracing_subscriber::fmt::layer()
                .event_format(MozLog::new("ichnaea"))
                .with_writer(buf.clone()),
        );
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(target: "canonical-log-line", http_status = 200u64, duration_s = 0.012, "GET /x - 200");
        });
        let out = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        let line: Value = serde_json::from_str(out.trim()).unwrap();
        assert_eq!(line["Type"], "canonical-log-line");
        assert_eq!(line["Logger"], "ichnaea");
        assert_eq!(line["Severity"], 6);
        assert_eq!(line["EnvVersion"], "2.0");
        assert_eq!(line["Fields"]["msg"], "GET /x - 200");
        assert_eq!(line["Fields"]["http_status"], 200);
        assert!(line["Timestamp"].as_u64().unwrap() > 1_600_000_000_000_000_000);
    }
}

//! Behaviour shared by every response (`api.md` §1.2, Appendix C).
//!
//! * Security headers: `Strict-Transport-Security` and `X-Content-Type-Options` on every
//!   response; HTML responses also get a content security policy and frame/XSS protection.
//! * For every request that matched a route: the `request` counter and `request.timing`
//!   metrics, and one canonical log line (`"<METHOD> <path> - <status>"` with method, path,
//!   status and duration). Requests to unknown paths produce neither, so scanners cannot
//!   flood the logs or create metric series.
//!
//! The log line never contains the query string (it carries the API key) or the client IP.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web;
use ichnaea_core::metrics::MetricName;

use crate::state::AppState;

/// Content security policy of HTML pages.
const CSP: &str = "default-src 'self'; img-src 'self' data: https:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'";

/// The `path` metric tag of a request path: `/` → `.`, leading `.` stripped, `@` → `-`,
/// lower case, at most 200 characters; the home page is `.homepage`.
pub fn path_tag(path: &str) -> String {
    if path == "/" {
        return ".homepage".to_owned();
    }
    let tag: String = path
        .replace('/', ".")
        .trim_start_matches('.')
        .replace('@', "-")
        .to_lowercase();
    tag.chars().take(200).collect()
}

/// Adds the security headers, records request metrics and writes the canonical log line.
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.path().to_owned();
    let matched = req.match_pattern().is_some();
    let metrics = req
        .app_data::<web::Data<AppState>>()
        .map(|s| s.metrics.clone());
    let fields = crate::logctx::install(&req);

    let mut res = next.call(req).await?;

    let headers = res.headers_mut();
    headers.insert(
        header::STRICT_TRANSPORT_SECURITY,
        HeaderValue::from_static("max-age=31536000; includeSubDomains"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    let is_html = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if is_html {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        );
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        headers.insert(
            header::X_XSS_PROTECTION,
            HeaderValue::from_static("1; mode=block"),
        );
    }

    if matched {
        let status = res.status().as_u16();
        let elapsed = started.elapsed();
        if let Some(metrics) = metrics {
            let tag = path_tag(&path);
            let method_tag = method.as_str().to_ascii_lowercase();
            let status_tag = status.to_string();
            metrics.incr(
                MetricName::Request,
                &[
                    ("path", &tag),
                    ("method", &method_tag),
                    ("status", &status_tag),
                ],
            );
            metrics.timing(
                MetricName::RequestTiming,
                elapsed.as_millis().try_into().unwrap_or(u64::MAX),
                &[("path", &tag), ("method", &method_tag)],
            );
        }
        let duration_s = (elapsed.as_secs_f64() * 1000.0).round() / 1000.0;
        let f = fields.borrow();
        tracing::info!(
            target: "canonical-log-line",
            http_method = %method,
            http_path = %path,
            http_status = status,
            duration_s,
            api_key = f.api_key.as_deref(),
            api_key_allowed = f.api_key_allowed,
            api_key_db_fail = f.api_key_db_fail,
            api_path = f.api_path,
            api_type = f.api_type,
            invalid_api_key = f.invalid_api_key,
            api_key_count = f.api_key_count,
            rate_allowed = f.rate_allowed,
            rate_quota = f.rate_quota,
            rate_remaining = f.rate_remaining,
            region = f.region.as_deref(),
            has_ip = f.has_ip,
            has_geoip = f.has_geoip,
            blue = f.blue,
            blue_valid = f.blue_valid,
            cell = f.cell,
            cell_valid = f.cell_valid,
            wifi = f.wifi,
            wifi_valid = f.wifi_valid,
            accuracy = f.accuracy,
            accuracy_min = f.accuracy_min,
            result_status = f.result_status,
            fallback_allowed = f.fallback_allowed,
            source = f.source,
            "{method} {path} - {status}"
        );
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_tags_follow_the_reference() {
        assert_eq!(path_tag("/"), ".homepage");
        assert_eq!(path_tag("/v1/geolocate"), "v1.geolocate");
        assert_eq!(path_tag("/__heartbeat__"), "__heartbeat__");
        assert_eq!(path_tag("/A@B"), "a-b");
        assert_eq!(path_tag(&format!("/{}", "x".repeat(300))).len(), 200);
    }
}

//! The steps every API request goes through, in the reference's order (`api.md` §1.3):
//!
//! 1. the API key from the `key` query parameter (bad text counts as no key);
//! 2. no key: locate and region refuse (`400 keyInvalid`), submit continues anonymously;
//! 3. the key lookup (cached); a database failure continues with the default key;
//! 4. a known key: refused if not allowed for this API; otherwise (locate and submit only)
//!    the client IP is counted and the daily limit applied (`403 dailyLimitExceeded`, or
//!    `429` with `Retry-After` when `DAILY_LIMIT_HTTP_429` is on);
//! 5. an unknown key: locate and region refuse, submit continues anonymously;
//! 6. the body is decoded (`400 parseError` with `details.decode` on failure).
//!
//! So key problems are reported before body problems, and every request of an allowed key
//! counts against its limit, even one whose body then fails to parse.

use std::net::IpAddr;

use actix_web::HttpRequest;
use actix_web::http::header;
use ichnaea_core::json::JsonValue;
use ichnaea_core::metrics::MetricName;

use crate::body;
use crate::error::ApiError;
use crate::keys::{ApiType, Key, Lookup, key_from_query};
use crate::limits;
use crate::logctx;
use crate::state::AppState;

/// An API request that passed the key checks and whose body decoded.
#[derive(Debug)]
pub struct ApiRequest {
    /// The key the request runs with (the default key when anonymous).
    pub key: Key,
    /// The client address, if there is a usable one.
    pub client_ip: Option<IpAddr>,
    /// The decoded body; `None` when it was empty.
    pub json: Option<JsonValue>,
}

/// The client address (`api.md` §1.5): the first element of `X-Forwarded-For` when
/// present (the load balancer's view), else the socket peer. Unparsable values count as
/// no address.
pub fn client_ip(req: &HttpRequest) -> Option<IpAddr> {
    match req.headers().get("x-forwarded-for") {
        Some(value) => value.to_str().ok()?.split(',').next()?.trim().parse().ok(),
        None => req.peer_addr().map(|a| a.ip()),
    }
}

/// Runs the shared steps for an API request.
pub async fn begin(
    req: &HttpRequest,
    bytes: &[u8],
    state: &AppState,
    api: ApiType,
    path: &'static str,
) -> Result<ApiRequest, ApiError> {
    let request_metric = match api {
        ApiType::Locate => MetricName::LocateRequest,
        ApiType::Region => MetricName::RegionRequest,
        ApiType::Submit => MetricName::SubmitRequest,
    };
    let count_request = |label: &str| {
        state
            .metrics
            .incr(request_metric, &[("key", label), ("path", path)]);
    };
    logctx::update(req, |f| {
        f.api_path = Some(path);
        f.api_type = Some(api.as_str());
    });
    let client_ip = client_ip(req);
    let anonymous_ok = api == ApiType::Submit;

    let key = match key_from_query(req.query_string()) {
        None => {
            logctx::update(req, |f| {
                f.api_key = Some("none".into());
                f.invalid_api_key = req.query_string().contains("key=").then_some(true);
            });
            count_request("none");
            if !anonymous_ok {
                return Err(ApiError::InvalidApiKey);
            }
            Key::default_key()
        }
        Some(text) => match state.keys.lookup(&state.db, &text).await {
            Lookup::Found(row) => {
                let key = Key { row: Some(row) };
                let label = key.label();
                logctx::update(req, |f| f.api_key = Some(label.clone()));
                count_request(&label);
                if !key.allowed(api) {
                    logctx::update(req, |f| f.api_key_allowed = Some(false));
                    return Err(ApiError::InvalidApiKey);
                }
                if api != ApiType::Region {
                    check_limit(req, state, api, path, &key, client_ip).await?;
                }
                key
            }
            Lookup::Unknown => {
                logctx::update(req, |f| {
                    f.api_key = Some("invalid".into());
                    f.invalid_api_key = Some(true);
                });
                count_request("invalid");
                if !anonymous_ok {
                    return Err(ApiError::InvalidApiKey);
                }
                Key::default_key()
            }
            Lookup::DbFailed => {
                logctx::update(req, |f| {
                    f.api_key = Some("none".into());
                    f.api_key_db_fail = Some(true);
                });
                count_request("none");
                Key::default_key()
            }
        },
    };

    let json = body::decode(req, bytes)?;
    Ok(ApiRequest {
        key,
        client_ip,
        json,
    })
}

/// Counts the request for the key's daily limit and unique users; refuses it when the
/// limit is exceeded. Redis failures let the request through.
async fn check_limit(
    req: &HttpRequest,
    state: &AppState,
    api: ApiType,
    path: &'static str,
    key: &Key,
    client_ip: Option<IpAddr>,
) -> Result<(), ApiError> {
    let Some(valid_key) = key.valid_key() else {
        return Ok(());
    };
    let now = chrono::Utc::now();
    match limits::record_request(&state.redis, api, valid_key, path, client_ip, now).await {
        Ok(count) => {
            logctx::update(req, |f| f.api_key_count = Some(count));
            if let Some(max) = key.maxreq() {
                let allowed = count <= max;
                logctx::update(req, |f| {
                    f.rate_allowed = Some(allowed);
                    f.rate_quota = Some(max);
                    f.rate_remaining = Some(max.saturating_sub(count));
                });
                if !allowed {
                    return Err(if state.settings.daily_limit_http_429 {
                        ApiError::DailyLimitRetryAfter(limits::seconds_until_reset(now))
                    } else {
                        ApiError::DailyLimitExceeded
                    });
                }
            }
            Ok(())
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot count a request in Redis; not limiting it");
            Ok(())
        }
    }
}

/// An empty `200` answer to `OPTIONS` on an API path: only the CORS headers, no content
/// type, no key check.
pub async fn options() -> actix_web::HttpResponse {
    let mut builder = actix_web::HttpResponse::Ok();
    crate::error::with_cors(&mut builder);
    let mut res = builder.finish();
    res.headers_mut().remove(header::CONTENT_TYPE);
    res
}

/// The key for metrics of the data pipeline: the label, or `None` when anonymous.
pub fn key_tag(key: &Key) -> Option<String> {
    key.valid_key().map(crate::keys::key_label)
}

//! Errors at the HTTP edge.
//!
//! Policy:
//!
//! * Inside the service, libraries return their own error types (`DbError`, `RedisError`,
//!   …) and callers decide with predicates such as `is_unavailable()`.
//! * At the edge every failure a client can see becomes one [`ApiError`], rendered in the
//!   reference's Google-style body (`api.md` §2.1), byte for byte:
//!   `{"error":{"errors":[{"domain":…,"reason":…,"message":…}],"code":…,"message":…}}`,
//!   with a top-level `details` sibling for parse errors that have details. API errors carry
//!   the CORS headers, like every API response.
//! * Client errors (bad key, limits, parse errors, nothing found) are expected: they are
//!   counted in metrics and never sent to Sentry. `ServiceUnavailable` (a backend down) is
//!   expected too. Only `Internal` is a surprise worth a Sentry event.
//! * `anyhow` is for `main`, admin commands and job bodies, never for request handling.

use std::fmt;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, HttpResponseBuilder, ResponseError};
use serde_json::{Value, json};

/// The CORS max-age of API responses: 30 days.
pub const CORS_MAX_AGE: &str = "2592000";

/// Adds the API views' CORS headers (`Access-Control-Allow-Origin: *`, max-age 30 days).
pub fn with_cors(builder: &mut HttpResponseBuilder) -> &mut HttpResponseBuilder {
    builder
        .insert_header((
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        ))
        .insert_header((
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static(CORS_MAX_AGE),
        ))
}

/// Details of a parse error: why the body could not be decoded, or which fields are
/// invalid (a map from dotted path to message).
#[derive(Debug, Clone, PartialEq)]
pub enum ParseDetails {
    /// No details (an empty submission).
    None,
    /// The body could not be decoded (gzip, charset or JSON); Python's `repr` of the error.
    Decode(String),
    /// Schema validation failures, path → message.
    Validation(serde_json::Map<String, Value>),
}

/// An error answered to an API client.
#[derive(Debug, Clone, PartialEq)]
pub enum ApiError {
    /// 400 `keyInvalid`: no key, a malformed key, an unknown key, or a key not allowed for
    /// this API.
    InvalidApiKey,
    /// 403 `dailyLimitExceeded`.
    DailyLimitExceeded,
    /// The same error answered as `429` with `Retry-After` (seconds until the limit resets),
    /// when `DAILY_LIMIT_HTTP_429` is on.
    DailyLimitRetryAfter(u64),
    /// 404 `notFound`: no position could be found.
    LocationNotFound,
    /// 400 `parseError`, with optional details.
    ParseError(ParseDetails),
    /// 503 `serviceUnavailable`: a backend the request needs is down.
    ServiceUnavailable,
    /// 500: a bug. The text is logged and reported, never sent to the client.
    Internal(String),
}

impl ApiError {
    /// `(status, domain, reason, message)` of the error.
    fn parts(&self) -> (StatusCode, &'static str, &'static str, &'static str) {
        match self {
            ApiError::InvalidApiKey => (
                StatusCode::BAD_REQUEST,
                "usageLimits",
                "keyInvalid",
                "Missing or invalid API key.",
            ),
            ApiError::DailyLimitExceeded => (
                StatusCode::FORBIDDEN,
                "usageLimits",
                "dailyLimitExceeded",
                "You have exceeded your daily limit.",
            ),
            ApiError::DailyLimitRetryAfter(_) => (
                StatusCode::TOO_MANY_REQUESTS,
                "usageLimits",
                "dailyLimitExceeded",
                "You have exceeded your daily limit.",
            ),
            ApiError::LocationNotFound => (
                StatusCode::NOT_FOUND,
                "geolocation",
                "notFound",
                "Not found",
            ),
            ApiError::ParseError(_) => (
                StatusCode::BAD_REQUEST,
                "global",
                "parseError",
                "Parse Error",
            ),
            ApiError::ServiceUnavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "global",
                "serviceUnavailable",
                "Service Unavailable",
            ),
            ApiError::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "global",
                "internalError",
                "Internal Error",
            ),
        }
    }

    /// The JSON body, exactly as the reference renders it.
    pub fn body(&self) -> Value {
        let (status, domain, reason, message) = self.parts();
        let mut body = json!({
            "error": {
                "errors": [{"domain": domain, "reason": reason, "message": message}],
                "code": status.as_u16(),
                "message": message,
            }
        });
        if let ApiError::ParseError(details) = self {
            match details {
                ParseDetails::None => {}
                ParseDetails::Decode(text) => body["details"] = json!({"decode": text}),
                ParseDetails::Validation(map) if map.is_empty() => {}
                ParseDetails::Validation(map) => {
                    body["details"] = json!({"validation": Value::Object(map.clone())});
                }
            }
        }
        body
    }

    /// Whether this error is a surprise that Sentry should see.
    pub fn is_sentry_event(&self) -> bool {
        matches!(self, ApiError::Internal(_))
    }

    /// A low-cardinality label for logs and metrics.
    pub fn metric_label(&self) -> &'static str {
        self.parts().2
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (status, _, reason, _) = self.parts();
        match self {
            ApiError::Internal(text) => write!(f, "{reason} ({}): {text}", status.as_u16()),
            _ => write!(f, "{reason} ({})", status.as_u16()),
        }
    }
}

impl std::error::Error for ApiError {}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.parts().0
    }

    fn error_response(&self) -> HttpResponse {
        if let ApiError::Internal(text) = self {
            tracing::error!(error = %text, "internal error answering an API request");
        }
        let mut builder = HttpResponse::build(self.status_code());
        if let ApiError::DailyLimitRetryAfter(seconds) = self {
            builder.insert_header((header::RETRY_AFTER, seconds.to_string()));
        }
        with_cors(&mut builder)
            .content_type("application/json")
            .body(self.body().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::MessageBody;

    fn rendered(e: &ApiError) -> (u16, String) {
        let res = e.error_response();
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        assert_eq!(headers.get("access-control-allow-origin").unwrap(), "*");
        assert_eq!(headers.get("access-control-max-age").unwrap(), "2592000");
        assert_eq!(headers.get("content-type").unwrap(), "application/json");
        let bytes = res.into_body().try_into_bytes().unwrap();
        (status, String::from_utf8(bytes.to_vec()).unwrap())
    }

    #[test]
    fn bodies_match_the_reference_byte_for_byte() {
        let cases = [
            (
                ApiError::InvalidApiKey,
                400,
                r#"{"error":{"code":400,"errors":[{"domain":"usageLimits","message":"Missing or invalid API key.","reason":"keyInvalid"}],"message":"Missing or invalid API key."}}"#,
            ),
            (
                ApiError::DailyLimitExceeded,
                403,
                r#"{"error":{"code":403,"errors":[{"domain":"usageLimits","message":"You have exceeded your daily limit.","reason":"dailyLimitExceeded"}],"message":"You have exceeded your daily limit."}}"#,
            ),
            (
                ApiError::LocationNotFound,
                404,
                r#"{"error":{"code":404,"errors":[{"domain":"geolocation","message":"Not found","reason":"notFound"}],"message":"Not found"}}"#,
            ),
            (
                ApiError::ParseError(ParseDetails::None),
                400,
                r#"{"error":{"code":400,"errors":[{"domain":"global","message":"Parse Error","reason":"parseError"}],"message":"Parse Error"}}"#,
            ),
            (
                ApiError::ServiceUnavailable,
                503,
                r#"{"error":{"code":503,"errors":[{"domain":"global","message":"Service Unavailable","reason":"serviceUnavailable"}],"message":"Service Unavailable"}}"#,
            ),
        ];
        for (error, status, body) in cases {
            assert_eq!(rendered(&error), (status, body.to_owned()), "{error}");
        }
    }

    #[test]
    fn parse_error_details_are_a_top_level_sibling() {
        let decode = ApiError::ParseError(ParseDetails::Decode(
            "JSONDecodeError('Expecting value: line 1 column 1 (char 0)')".into(),
        ));
        let body = decode.body();
        assert_eq!(
            body["details"],
            json!({"decode": "JSONDecodeError('Expecting value: line 1 column 1 (char 0)')"})
        );
        assert!(body["error"].get("details").is_none());

        let mut map = serde_json::Map::new();
        map.insert("items".into(), json!("Required"));
        let validation = ApiError::ParseError(ParseDetails::Validation(map));
        assert_eq!(
            validation.body()["details"],
            json!({"validation": {"items": "Required"}})
        );
        let empty = ApiError::ParseError(ParseDetails::Validation(serde_json::Map::new()));
        assert!(empty.body().get("details").is_none());
    }

    #[test]
    fn optional_429_carries_retry_after() {
        let res = ApiError::DailyLimitRetryAfter(3600).error_response();
        assert_eq!(res.status().as_u16(), 429);
        assert_eq!(res.headers().get("retry-after").unwrap(), "3600");
        let body = ApiError::DailyLimitRetryAfter(3600).body();
        assert_eq!(body["error"]["errors"][0]["reason"], "dailyLimitExceeded");
        assert_eq!(body["error"]["code"], 429);
    }

    #[test]
    fn only_internal_errors_reach_sentry() {
        assert!(ApiError::Internal("bug".into()).is_sentry_event());
        for e in [
            ApiError::InvalidApiKey,
            ApiError::DailyLimitExceeded,
            ApiError::LocationNotFound,
            ApiError::ServiceUnavailable,
            ApiError::ParseError(ParseDetails::None),
        ] {
            assert!(!e.is_sentry_event(), "{e}");
        }
        let (status, body) = rendered(&ApiError::Internal("secret detail".into()));
        assert_eq!(status, 500);
        assert!(!body.contains("secret detail"));
        assert_eq!(ApiError::InvalidApiKey.metric_label(), "keyInvalid");
    }
}

//! The submission APIs: `/v2/geosubmit`, `/v1/geosubmit` and `/v1/submit` (`api.md` §5).
//!
//! A submission is validated and normalised to geosubmit-v2 reports, which are pushed to
//! the `update_incoming` queue in one atomic Redis operation, as LZ4-compressed JSON
//! arrays of up to
//! [`INCOMING_REPORTS_PER_ITEM`](ichnaea_runtime::queue::INCOMING_REPORTS_PER_ITEM)
//! reports (the reference gzips each report on its own, which cost half of the submit
//! path's CPU; gzip of whole arrays was still about a sixth). The client is told "accepted" only after Redis has the items; if
//! Redis is down it gets `503` and nothing is half stored, so it can retry.
//!
//! The key is optional: missing, malformed or unknown keys submit anonymously. A key's
//! `store_sample_submit` decides, once per request, whether its data is kept.

use actix_web::{HttpRequest, HttpResponse, web};
use ichnaea_core::metrics::MetricName;
use ichnaea_core::schema::{QueueItem, SubmitVersion, parse_submit};
use ichnaea_runtime::queue::encode_incoming;

use crate::error::{ApiError, ParseDetails, with_cors};
use crate::keys::ApiType;
use crate::state::AppState;
use crate::view;

/// Handles one submission request.
async fn submit(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
    version: SubmitVersion,
    path: &'static str,
) -> Result<HttpResponse, ApiError> {
    let request = view::begin(&req, &body, &state, ApiType::Submit, path).await?;
    // An empty body (any GET) is a parse error without details.
    let Some(json) = request.json else {
        return Err(ApiError::ParseError(ParseDetails::None));
    };
    let now_ms = chrono::Utc::now().timestamp_millis();
    let reports = parse_submit(version, &json, now_ms)
        .map_err(|e| ApiError::ParseError(ParseDetails::Validation(validation_map(&e))))?;

    let kept = !reports.is_empty() && request.key.sampled(ApiType::Submit, 100.0, rand::random());
    if kept {
        let api_key = request.key.valid_key().map(str::to_owned);
        let entries: Vec<QueueItem> = reports
            .into_iter()
            .map(|report| QueueItem::new(api_key.clone(), report))
            .collect();
        let items = encode_incoming(&entries)
            .map_err(|e| ApiError::Internal(format!("cannot encode a report: {e}")))?;
        if let Err(e) = state.incoming.push(&items).await {
            tracing::warn!(error = %e, "cannot queue a submission; answering 503");
            return Err(ApiError::ServiceUnavailable);
        }
        let tag = view::key_tag(&request.key);
        let tags: Vec<(&str, &str)> = tag.as_deref().map(|t| ("key", t)).into_iter().collect();
        state.metrics.incr(MetricName::DataBatchUpload, &tags);
    }

    let mut builder = match version {
        SubmitVersion::V0 => HttpResponse::NoContent(),
        SubmitVersion::V1 | SubmitVersion::V2 => HttpResponse::Ok(),
    };
    with_cors(&mut builder);
    Ok(match version {
        SubmitVersion::V0 => builder.finish(),
        SubmitVersion::V1 | SubmitVersion::V2 => {
            builder.content_type("application/json").body("{}")
        }
    })
}

/// The validation details as a JSON map.
pub fn validation_map(
    e: &ichnaea_core::schema::ValidationError,
) -> serde_json::Map<String, serde_json::Value> {
    match e.to_json() {
        serde_json::Value::Object(map) => map,
        _ => serde_json::Map::new(),
    }
}

/// `/v2/geosubmit`.
pub async fn geosubmit_v2(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    submit(req, body, state, SubmitVersion::V2, "v2.geosubmit").await
}

/// `/v1/geosubmit`.
pub async fn geosubmit_v1(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    submit(req, body, state, SubmitVersion::V1, "v1.geosubmit").await
}

/// `/v1/submit`.
pub async fn submit_v0(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    submit(req, body, state, SubmitVersion::V0, "v1.submit").await
}

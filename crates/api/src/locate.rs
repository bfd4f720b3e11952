//! `/v1/geolocate` and `/v1/country` (`api.md` §3, §4, §8).
//!
//! The handler does the IO around the pure locate rules of `ichnaea_core::locate`: it
//! validates the request, looks the client IP up in GeoIP, loads the query's stations
//! from the read-only database pool, runs the sources, asks the external fallback provider
//! when the key allows it and our answer is not good enough, and answers. A database
//! failure is not fatal: the sources that need it contribute nothing and GeoIP (and the
//! provider) can still answer (`api.md` §7.6).
//!
//! Sampled locate queries are fed back into the data pipeline (`api.md` §8.12): a query
//! answered from our own stations says where those stations were seen.

use actix_web::{HttpRequest, HttpResponse, web};
use ichnaea_core::json::{JsonObject, JsonValue};
use ichnaea_core::locate::geoip::geoip_info;
use ichnaea_core::locate::search::{
    SourceName, StationRows, position_candidates, region_candidates_by_source, source_hit,
};
use ichnaea_core::locate::{ApiType as LocateApi, DataAccuracy, LocateQuery, PositionResults};
use ichnaea_core::metrics::MetricName;
use ichnaea_core::schema::{LocateRequest, parse_locate};
use ichnaea_core::time::DateTime;
use ichnaea_db::{DbConn, DbError, DbPool};
use serde_json::{Value, json};

use crate::error::{ApiError, ParseDetails, with_cors};
use crate::keys::{ApiType, Key};
use crate::logctx;
use crate::state::AppState;
use crate::submit::validation_map;
use crate::view;

/// `/v1/geolocate`.
pub async fn geolocate(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let request = view::begin(&req, &body, &state, ApiType::Locate, "v1.geolocate").await?;
    let (query, locate_request) = build_query(&req, &state, &request, LocateApi::Locate)?;
    let now = now();
    let rows = load_rows(&state, &query, None).await;
    let mut candidates = position_candidates(&query, &rows, now);
    searched_source_metrics(&state, &request.key, &query, &candidates.searched);

    let fallback_allowed = request.key.can_fallback();
    if ichnaea_core::locate::fallback::fallback_should_search(
        fallback_allowed,
        &query,
        &candidates.all,
    ) && let Some(row) = request.key.row.as_deref()
    {
        let report = locate_request.query_report();
        let found = state
            .fallback
            .search(
                &state.redis,
                &state.metrics,
                row,
                &query,
                &report,
                now.unix_seconds(),
            )
            .await
            .map(|found| found.to_position());
        let accuracies: Vec<DataAccuracy> = found.iter().map(|p| p.data_accuracy()).collect();
        source_metric(
            &state,
            &request.key,
            &query,
            SourceName::Fallback,
            &accuracies,
        );
        candidates.all.extend(found);
    }

    export_query(
        &state,
        &request.key,
        &query,
        &locate_request,
        &candidates.internal,
    )
    .await?;

    let best = candidates.all.best().cloned();
    result_metric(
        &req,
        &state,
        &request.key,
        &query,
        fallback_allowed,
        best.as_ref()
            .map(|b| (b.data_accuracy(), b.source.as_str())),
    );
    let Some(best) = best else {
        return Err(ApiError::LocationNotFound);
    };
    let mut body = json!({
        "location": {"lat": best.lat, "lng": best.lon},
        "accuracy": best.accuracy,
    });
    if let Some(tag) = best.fallback {
        body["fallback"] = Value::from(tag.as_str());
    }
    Ok(json_response(&body))
}

/// `/v1/country`.
pub async fn country(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let request = view::begin(&req, &body, &state, ApiType::Region, "v1.country").await?;
    let (query, _) = build_query(&req, &state, &request, LocateApi::Region)?;
    let now = now();
    let areas = ichnaea_core::locate::cell::ambiguous_area_ids(&query, &state.geocoder);
    let rows = load_rows(&state, &query, Some(&areas)).await;
    let (candidates, searched) = region_candidates_by_source(&query, &rows, &state.geocoder, now);
    searched_source_metrics(&state, &request.key, &query, &searched);
    let best = candidates.best().cloned();
    result_metric(
        &req,
        &state,
        &request.key,
        &query,
        false,
        best.as_ref()
            .map(|b| (b.data_accuracy(), b.source.as_str())),
    );
    let Some(best) = best else {
        return Err(ApiError::LocationNotFound);
    };
    let mut body = json!({"country_code": best.code, "country_name": best.name});
    if let Some(tag) = best.fallback {
        body["fallback"] = Value::from(tag.as_str());
    }
    Ok(json_response(&body))
}

fn now() -> DateTime {
    DateTime::from_unix_seconds(chrono::Utc::now().timestamp())
}

fn json_response(body: &Value) -> HttpResponse {
    let mut builder = HttpResponse::Ok();
    with_cors(&mut builder)
        .content_type("application/json")
        .body(body.to_string())
}

/// Validates the body and builds the locate query (with the client's GeoIP facts).
fn build_query(
    req: &HttpRequest,
    state: &AppState,
    request: &view::ApiRequest,
    api: LocateApi,
) -> Result<(LocateQuery, LocateRequest), ApiError> {
    let empty = JsonValue::Object(JsonObject::new());
    let locate_request = match parse_locate(request.json.as_ref().unwrap_or(&empty)) {
        Ok(r) => r,
        Err(e) if request.json.is_some() => {
            return Err(ApiError::ParseError(ParseDetails::Validation(
                validation_map(&e),
            )));
        }
        // An empty body is not a validation error: it is an IP-only query.
        Err(_) => LocateRequest::default(),
    };
    let record = request.client_ip.and_then(|ip| state.geoip.lookup(ip));
    let info = record.as_ref().and_then(geoip_info);
    logctx::update(req, |f| {
        f.has_ip = Some(request.client_ip.is_some());
        f.has_geoip = Some(info.is_some());
        f.region = info.as_ref().map(|i| i.region_code.clone());
        let counts = locate_request.raw_counts;
        f.blue = Some(counts.blue as u64);
        f.cell = Some(counts.cell as u64);
        f.wifi = Some(counts.wifi as u64);
        f.blue_valid = Some(locate_request.blue.len() as u64);
        f.cell_valid = Some(locate_request.cell.len() as u64);
        f.wifi_valid = Some(locate_request.wifi.len() as u64);
    });
    let query = locate_request.to_query(api, request.client_ip.is_some(), info);
    query_metric(state, &request.key, &query, api);
    Ok((query, locate_request))
}

/// Loads the query's stations; a failing source contributes nothing (logged, counted in
/// the pool metrics) rather than failing the request. `region_areas` selects the areas of
/// a region query; position queries load the query's own areas.
async fn load_rows(
    state: &AppState,
    query: &LocateQuery,
    region_areas: Option<&[ichnaea_core::CellAreaId]>,
) -> StationRows {
    if !query.has_networks() {
        return StationRows::default();
    }
    let blue: Vec<_> = query.blue().iter().map(|b| b.mac).collect();
    let wifi: Vec<_> = query.wifi().iter().map(|w| w.mac).collect();
    let cells: Vec<_> = query.cell().iter().map(|c| c.id).collect();
    let areas: Vec<_> = match region_areas {
        Some(ids) => ids.to_vec(),
        None => query.cell_area().iter().map(|a| a.id).collect(),
    };
    let cache = &state.stations;
    let blue = cache.blue.lookup(&blue);
    let wifi = cache.wifi.lookup(&wifi);
    let cells = cache.cell.lookup(&cells);
    let areas = cache.area.lookup(&areas);
    let mut rows = StationRows {
        blue: blue.rows,
        wifi: wifi.rows,
        cell: cells.rows,
        area: areas.rows,
    };
    let missing = Missing {
        blue: blue.missing,
        wifi: wifi.missing,
        cell: cells.missing,
        area: areas.missing,
    };
    if missing.is_empty() {
        return rows;
    }
    let result: Result<StationRows, DbError> = async {
        let pool = state.db.read()?;
        let mut conn = pool.get().await?;
        let loaded = load_with(&mut conn, &missing).await;
        DbPool::release(conn, loaded)
    }
    .await;
    match result {
        Ok(loaded) => {
            cache.blue.remember(&loaded.blue);
            cache.wifi.remember(&loaded.wifi);
            cache.cell.remember(&loaded.cell);
            cache.area.remember(&loaded.area);
            rows.blue.extend(loaded.blue);
            rows.wifi.extend(loaded.wifi);
            rows.cell.extend(loaded.cell);
            rows.area.extend(loaded.area);
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot load stations; answering from the other sources");
        }
    }
    rows
}

/// The station identifiers a query needs that the cache did not have.
struct Missing {
    blue: Vec<ichnaea_core::ids::Mac>,
    wifi: Vec<ichnaea_core::ids::Mac>,
    cell: Vec<ichnaea_core::ids::CellId>,
    area: Vec<ichnaea_core::CellAreaId>,
}

impl Missing {
    fn is_empty(&self) -> bool {
        self.blue.is_empty() && self.wifi.is_empty() && self.cell.is_empty() && self.area.is_empty()
    }
}

/// The station reads of [`load_rows`] on one connection.
async fn load_with(conn: &mut DbConn, missing: &Missing) -> Result<StationRows, DbError> {
    let mut rows = StationRows::default();
    if !missing.blue.is_empty() {
        rows.blue = ichnaea_db::stations::load_blue_stations(conn, &missing.blue).await?;
    }
    if !missing.wifi.is_empty() {
        rows.wifi = ichnaea_db::stations::load_wifi_stations(conn, &missing.wifi).await?;
    }
    if !missing.cell.is_empty() {
        rows.cell = ichnaea_db::stations::load_cell_stations(conn, &missing.cell).await?;
    }
    if !missing.area.is_empty() {
        rows.area = ichnaea_db::areas::load_area_stations(conn, &missing.area).await?;
    }
    Ok(rows)
}

/// `none`, `one` or `many`, as the query metric tags network counts.
fn amount(n: usize) -> &'static str {
    match n {
        0 => "none",
        1 => "one",
        _ => "many",
    }
}

fn query_metric(state: &AppState, key: &Key, query: &LocateQuery, api: LocateApi) {
    let Some(label) = view::key_tag(key) else {
        return;
    };
    let metric = match api {
        LocateApi::Locate => MetricName::LocateQuery,
        LocateApi::Region => MetricName::RegionQuery,
    };
    let mut tags = vec![
        ("key", label.as_str()),
        ("blue", amount(query.blue().len())),
        ("cell", amount(query.cell().len())),
        ("wifi", amount(query.wifi().len())),
    ];
    if query.geoip().is_none() {
        tags.push(("geoip", "false"));
    }
    state.metrics.incr(metric, &tags);
}

/// The `<api>.source` metric of every source that ran, in search order.
fn searched_source_metrics(
    state: &AppState,
    key: &Key,
    query: &LocateQuery,
    searched: &[(SourceName, Vec<DataAccuracy>)],
) {
    for (source, accuracies) in searched {
        source_metric(state, key, query, *source, accuracies);
    }
}

/// The `<api>.source` metric of one source that ran: `hit` when any of its candidates
/// is precise enough. Like `<api>.result`, only for keyed queries that could produce
/// a result.
fn source_metric(
    state: &AppState,
    key: &Key,
    query: &LocateQuery,
    source: SourceName,
    accuracies: &[DataAccuracy],
) {
    let Some(label) = view::key_tag(key) else {
        return;
    };
    let expected = query.expected_accuracy();
    if expected == DataAccuracy::None {
        return;
    }
    let status = if source_hit(accuracies, expected) {
        "hit"
    } else {
        "miss"
    };
    let metric = match query.api_type() {
        LocateApi::Locate => MetricName::LocateSource,
        LocateApi::Region => MetricName::RegionSource,
    };
    state.metrics.incr(
        metric,
        &[
            ("key", &label),
            ("source", source.as_str()),
            ("accuracy", expected.as_str()),
            ("status", status),
        ],
    );
}

fn hit_or_miss(found: Option<DataAccuracy>, expected: DataAccuracy) -> &'static str {
    match found {
        Some(accuracy) if accuracy <= expected => "hit",
        _ => "miss",
    }
}

/// The `<api>.result` metric and the result fields of the log line, for keyed queries
/// that could produce a result.
fn result_metric(
    req: &HttpRequest,
    state: &AppState,
    key: &Key,
    query: &LocateQuery,
    fallback_allowed: bool,
    best: Option<(DataAccuracy, &'static str)>,
) {
    let expected = query.expected_accuracy();
    let Some(label) = view::key_tag(key) else {
        return;
    };
    if expected == DataAccuracy::None {
        return;
    }
    let status = hit_or_miss(best.map(|b| b.0), expected);
    logctx::update(req, |f| {
        f.accuracy = best.map(|b| b.0.as_str());
        f.accuracy_min = Some(expected.as_str());
        f.result_status = Some(status);
        f.fallback_allowed = Some(fallback_allowed);
        f.source = best.map(|b| b.1);
    });
    let metric = match query.api_type() {
        LocateApi::Locate => MetricName::LocateResult,
        LocateApi::Region => MetricName::RegionResult,
    };
    let allowed = if fallback_allowed { "true" } else { "false" };
    let mut tags = vec![
        ("key", label.as_str()),
        ("fallback_allowed", allowed),
        ("accuracy", expected.as_str()),
        ("status", status),
    ];
    if status == "hit"
        && let Some((_, source)) = best
    {
        tags.push(("source", source));
    }
    state.metrics.incr(metric, &tags);
}

/// Feeds a sampled query with its internal answer into the pipeline (`api.md` §8.12).
/// Reading the global sample rate must work (a Redis failure there is a `503`, where the
/// reference answers `500`); queueing failures are only logged.
async fn export_query(
    state: &AppState,
    key: &Key,
    query: &LocateQuery,
    request: &LocateRequest,
    internal: &PositionResults,
) -> Result<(), ApiError> {
    let Some(best) = ichnaea_core::locate::export::export_candidate(query, internal) else {
        return Ok(());
    };
    let global_rate = global_sample_rate(state).await?;
    if !key.sampled(ApiType::Locate, global_rate, rand::random()) {
        return Ok(());
    }
    let mut report = request.query_report();
    report["position"] = json!({
        "latitude": best.lat,
        "longitude": best.lon,
        "accuracy": best.accuracy,
        "source": "query",
    });
    let item = json!({"api_key": key.valid_key(), "source": "query", "report": report});
    match ichnaea_runtime::queue::encode_incoming(&[item]) {
        Ok(items) => {
            if let Err(e) = state.incoming.push(&items).await {
                tracing::warn!(error = %e, "cannot queue a locate query for the pipeline");
            }
        }
        Err(e) => tracing::error!(error = %e, "cannot encode a locate query"),
    }
    Ok(())
}

/// `global_locate_sample_rate` from Redis: missing or not a number means 100.
async fn global_sample_rate(state: &AppState) -> Result<f64, ApiError> {
    let mut conn = state.redis.shared().await.map_err(|e| {
        tracing::warn!(error = %e, "cannot read the global locate sample rate");
        ApiError::ServiceUnavailable
    })?;
    let value: Option<String> = redis::cmd("GET")
        .arg("global_locate_sample_rate")
        .query_async(&mut conn)
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, "cannot read the global locate sample rate");
            ApiError::ServiceUnavailable
        })?;
    Ok(value
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|v| v.is_finite())
        .unwrap_or(100.0))
}

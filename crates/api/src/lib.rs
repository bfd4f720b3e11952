//! `ichnaea-api`: the HTTP service.
//!
//! Today it serves the Dockerflow monitoring endpoints; the locate, region and submit APIs
//! are added as their own modules. [`build_app`] assembles the actix application from an
//! [`AppState`], so tests run the very same app against their own backends; [`run`] serves
//! it until SIGTERM or SIGINT, then stops accepting connections and lets in-flight requests
//! finish (up to 30 seconds).
//!
//! Routing rules from the reference (`api.md` §1): paths match exactly (a trailing slash is
//! another path), every route serves GET, HEAD and POST, other methods get `405`, and an
//! unknown path gets `404` with the body `<h1>404 Not Found</h1>`.

use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::{App, HttpResponse, HttpServer, Route, web};
use ichnaea_core::metrics::MetricName;

pub mod body;
pub mod dockerflow;
pub mod error;
pub mod fallback;
pub mod keys;
pub mod limits;
pub mod locate;
pub mod logctx;
pub mod middleware;
pub mod state;
pub mod station_cache;
pub mod submit;
pub mod view;

pub use state::AppState;

/// How long in-flight requests may run after a shutdown signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// A route that answers `405 Method Not Allowed`.
fn method_not_allowed() -> Route {
    web::route().to(|| async {
        HttpResponse::MethodNotAllowed()
            .content_type("text/plain; charset=utf-8")
            .body("405 Method Not Allowed")
    })
}

/// A resource serving `handler` for GET, HEAD and POST and `405` for anything else.
fn get_head_post<F, Args>(path: &str, handler: F) -> actix_web::Resource
where
    F: actix_web::Handler<Args> + Clone,
    Args: actix_web::FromRequest + 'static,
    F::Output: actix_web::Responder + 'static,
{
    web::resource(path)
        .route(web::get().to(handler.clone()))
        .route(web::head().to(handler.clone()))
        .route(web::post().to(handler))
        .default_service(method_not_allowed())
}

/// The `404` answer for unknown paths.
async fn not_found() -> HttpResponse {
    HttpResponse::NotFound()
        .content_type("text/html; charset=UTF-8")
        .body("<h1>404 Not Found</h1>")
}

/// An API resource: GET, HEAD and POST run `handler`, OPTIONS answers the CORS
/// preflight, other methods get `405`.
fn api_resource<F, Args>(path: &str, handler: F) -> actix_web::Resource
where
    F: actix_web::Handler<Args> + Clone,
    Args: actix_web::FromRequest + 'static,
    F::Output: actix_web::Responder + 'static,
{
    web::resource(path)
        .route(web::get().to(handler.clone()))
        .route(web::head().to(handler.clone()))
        .route(web::post().to(handler))
        .route(web::method(actix_web::http::Method::OPTIONS).to(view::options))
        .default_service(method_not_allowed())
}

/// Builds the application.
pub fn build_app(
    state: AppState,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    App::new()
        .app_data(web::Data::new(state))
        .app_data(web::PayloadConfig::new(body::MAX_BODY))
        .wrap(actix_web::middleware::from_fn(middleware::observe))
        // A Sentry hub per request, so an event carries (scrubbed) request context. Error
        // responses are not reported by it: expected failures (4xx, 503) are metrics, and
        // bugs are reported where they are logged (`ApiError::Internal`).
        .wrap(
            sentry::integrations::actix::Sentry::builder()
                .capture_server_errors(false)
                .finish(),
        )
        .service(get_head_post("/__heartbeat__", dockerflow::heartbeat))
        .service(get_head_post("/__lbheartbeat__", dockerflow::lbheartbeat))
        .service(get_head_post("/__version__", dockerflow::version))
        .service(get_head_post("/contribute.json", dockerflow::contribute))
        .service(api_resource("/v1/geolocate", locate::geolocate))
        .service(api_resource("/v1/country", locate::country))
        .service(api_resource("/v2/geosubmit", submit::geosubmit_v2))
        .service(api_resource("/v1/geosubmit", submit::geosubmit_v1))
        .service(api_resource("/v1/submit", submit::submit_v0))
        .default_service(web::to(not_found))
}

/// Reports the database pool gauges every 10 seconds.
async fn report_pools(state: AppState) {
    let mut tick = tokio::time::interval(Duration::from_secs(10));
    loop {
        tick.tick().await;
        for (pool, status) in state.db.status() {
            for (name, value) in [
                ("size", status.size),
                ("available", status.available),
                ("waiting", status.waiting),
            ] {
                state.metrics.gauge(
                    MetricName::DbPool,
                    value as u64,
                    &[("pool", pool), ("state", name)],
                );
            }
        }
    }
}

/// Serves the application on `bind` until a shutdown signal.
pub async fn run(state: AppState, bind: std::net::SocketAddr) -> anyhow::Result<()> {
    let workers = state
        .settings
        .api
        .workers
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    let reporter = tokio::spawn(report_pools(state.clone()));
    let server_state = state.clone();
    let server = HttpServer::new(move || build_app(server_state.clone()))
        .workers(workers)
        .shutdown_timeout(SHUTDOWN_GRACE.as_secs())
        .bind(bind)
        .map_err(|e| anyhow::anyhow!("cannot listen on {bind}: {e}"))?;
    tracing::info!(bind = %bind, workers, "ichnaea-api listening on http://{bind}");
    // actix handles SIGTERM and SIGINT: it stops accepting, finishes in-flight requests
    // for up to SHUTDOWN_GRACE, then returns.
    server.run().await?;
    reporter.abort();
    tracing::info!("ichnaea-api stopped");
    Ok(())
}

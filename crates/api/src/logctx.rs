//! Fields of the canonical log line that handlers add while they work (`api.md`
//! Appendix C).
//!
//! The middleware puts an empty [`LogFields`] into each request's extensions; handlers
//! fill in what they learn (key label, network counts, result, …); the middleware writes
//! them all on the one canonical line when the response is done. The reference logs the
//! raw API key and the rejected key text; we log the key's one-way label and only whether
//! a key was rejected, never a secret.

use std::cell::RefCell;
use std::rc::Rc;

use actix_web::HttpMessage;
use actix_web::dev::ServiceRequest;

/// The request-scoped fields of the canonical log line; `None` fields are not logged.
#[derive(Debug, Default, Clone)]
pub struct LogFields {
    /// The key label, `none` or `invalid`.
    pub api_key: Option<String>,
    /// `false` when the key exists but may not use this API.
    pub api_key_allowed: Option<bool>,
    /// `true` when the key could not be looked up (database failure).
    pub api_key_db_fail: Option<bool>,
    /// The API path (`v1.geolocate`, …).
    pub api_path: Option<&'static str>,
    /// The API type (`locate`, `region`, `submit`).
    pub api_type: Option<&'static str>,
    /// `true` when a key was given but rejected (its text is never logged).
    pub invalid_api_key: Option<bool>,
    /// Today's request count of the key on this path.
    pub api_key_count: Option<u64>,
    /// Whether the request was within the daily limit (keys with a limit).
    pub rate_allowed: Option<bool>,
    /// The daily limit.
    pub rate_quota: Option<u64>,
    /// Requests left today.
    pub rate_remaining: Option<u64>,
    /// The GeoIP region of the client.
    pub region: Option<String>,
    /// Whether the request had a usable client IP.
    pub has_ip: Option<bool>,
    /// Whether the client IP had a GeoIP record.
    pub has_geoip: Option<bool>,
    /// Bluetooth entries sent / valid.
    pub blue: Option<u64>,
    /// Valid Bluetooth entries.
    pub blue_valid: Option<u64>,
    /// Cell entries sent.
    pub cell: Option<u64>,
    /// Valid cells.
    pub cell_valid: Option<u64>,
    /// WiFi entries sent.
    pub wifi: Option<u64>,
    /// Valid WiFi entries.
    pub wifi_valid: Option<u64>,
    /// Accuracy class of the answer (`high`, `medium`, `low`).
    pub accuracy: Option<&'static str>,
    /// The accuracy class the query could have reached.
    pub accuracy_min: Option<&'static str>,
    /// `hit` or `miss`.
    pub result_status: Option<&'static str>,
    /// Whether the key may use the fallback provider.
    pub fallback_allowed: Option<bool>,
    /// Which source answered (`internal`, `geoip`, `fallback`).
    pub source: Option<&'static str>,
}

/// Shared handle to the fields of one request.
pub type SharedFields = Rc<RefCell<LogFields>>;

/// Installs empty fields on a request (called by the middleware).
pub fn install(req: &ServiceRequest) -> SharedFields {
    let fields = SharedFields::default();
    req.extensions_mut().insert(fields.clone());
    fields
}

/// Updates the fields of the request being handled; a no-op outside the middleware.
pub fn update(req: &actix_web::HttpRequest, f: impl FnOnce(&mut LogFields)) {
    if let Some(fields) = req.extensions().get::<SharedFields>() {
        f(&mut fields.borrow_mut());
    }
}

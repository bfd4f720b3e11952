//! Parsing and validation of every incoming request body (`api.md` §2.2, §3–§5).
//!
//! Each endpoint's body goes through two stages, as in the reference:
//!
//! 1. **Outer validation** (colander-style conversions) checks JSON types. A type error
//!    anywhere rejects the whole request with 400 `parseError` and a
//!    [`ValidationError`] listing *every* failing field by dotted path.
//! 2. **Normalisation** never fails: it drops or nulls bad values and entries —
//!    [`locate`] builds the validated lookups of a locate query, [`submit`] builds the
//!    geosubmit-v2 reports queued to Redis.
//!
//! The code is pure: no clock (callers pass `now_ms`), no IO, no logging. Request bytes
//! are turned into a [`crate::json::JsonValue`] by [`crate::json::parse_body`] first.

mod colander;
pub mod locate;
pub mod submit;
pub mod time;

use std::fmt;

use serde_json::{Map, Value};

pub use locate::{
    AreaLookup, BlueLookup, CellInput, CellLookup, Fallbacks, LocateRequest, RawCounts, WifiLookup,
    parse_locate,
};
pub use submit::{
    QueueItem, SubmitBlue, SubmitCell, SubmitPosition, SubmitRadio, SubmitReport, SubmitVersion,
    SubmitWifi, parse_submit,
};

/// A 400 `parseError` caused by schema validation: colander's `Invalid.asdict()`, a map
/// from dotted path (`""` for the root, list indices as numbers, e.g.
/// `items.0.wifiAccessPoints.0.macAddress`) to message. Sent as `details.validation`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationError {
    entries: Vec<(String, String)>,
}

impl ValidationError {
    fn new(entries: Vec<(String, String)>) -> ValidationError {
        ValidationError { entries }
    }

    /// Every `(path, message)` pair, in the order the fields were checked.
    pub fn entries(&self) -> &[(String, String)] {
        &self.entries
    }

    /// The message for one path.
    pub fn get(&self, path: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(p, _)| p == path)
            .map(|(_, m)| m.as_str())
    }

    /// The `details.validation` object.
    pub fn to_json(&self) -> Value {
        let map: Map<String, Value> = self
            .entries
            .iter()
            .map(|(p, m)| (p.clone(), Value::String(m.clone())))
            .collect();
        Value::Object(map)
    }

    /// The whole top-level `details` object: `{"validation": {...}}`.
    pub fn details(&self) -> Value {
        let mut details = Map::new();
        details.insert("validation".to_owned(), self.to_json());
        Value::Object(details)
    }

    /// Whether the only problem is a submission object without `items` (body `{}`).
    /// The reference answers 400 (kept here); Tower Collector sends `{}` when it has no
    /// measurements, so an HTTP layer wanting to be lenient can test this.
    pub fn is_only_missing_items(&self) -> bool {
        self.entries.len() == 1 && self.get("items") == Some("Required")
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("request validation failed:")?;
        for (path, msg) in &self.entries {
            write!(f, " {path:?}: {msg};")?;
        }
        Ok(())
    }
}

impl std::error::Error for ValidationError {}

pub use crate::ranges::{VALID_MCCS, is_valid_mcc};

/// Privacy rule beyond the reference: a WiFi network whose SSID ends with `_nomap` (the
/// Google/Mozilla opt-out convention) or contains `_optout` (the beaconDB convention)
/// is dropped at ingest — from submissions and from locate queries alike, so its BSSID
/// is never stored, exported or used. The comparison ignores ASCII case, erring on the
/// side of the owner's wish.
pub fn ssid_opted_out(ssid: &str) -> bool {
    let lower = ssid.to_ascii_lowercase();
    lower.ends_with("_nomap") || lower.contains("_optout")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opt_out_ssids() {
        for ssid in [
            "home_nomap",
            "HOME_NOMAP",
            "x_optout",
            "a_optout_b",
            "_nomap",
        ] {
            assert!(ssid_opted_out(ssid), "{ssid}");
        }
        for ssid in ["home", "nomap", "_nomap_", "optout", "home_nomapx"] {
            assert!(!ssid_opted_out(ssid), "{ssid}");
        }
    }

    #[test]
    fn validation_error_shapes_the_details() {
        let err = ValidationError::new(vec![("items".to_owned(), "Required".to_owned())]);
        assert_eq!(
            err.details(),
            serde_json::json!({"validation": {"items": "Required"}})
        );
        assert!(err.is_only_missing_items());
        assert_eq!(err.get("items"), Some("Required"));
    }
}

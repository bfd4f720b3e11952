//! The submission schemas: `/v2/geosubmit`, `/v1/geosubmit` and `/v1/submit`
//! (`api.md` §5, catalogue §12.18–§12.21), normalised into the geosubmit-v2 report
//! queued to Redis (`pipeline.md` §3.4 (a)).
//!
//! Why so permissive? The submit API is the intake of crowd-sourced data from many
//! independent clients (NeoStumbler, Tower Collector, GeoClue, microG, MozStumbler
//! leftovers; `clients.md` §3). The reference validates only JSON *types* here; MACs,
//! identifiers and ranges are queued verbatim and checked by the pipeline. So:
//!
//! * a type error anywhere rejects the request (400 with colander-style details);
//! * unknown keys (NeoStumbler's `mobileCountryCodeStr`, `arfcn`, `estimatedDistance`,
//!   `beaconType`…) are ignored, `null`/empty values are omitted — they never cost the
//!   report;
//! * a Bluetooth or WiFi entry without `macAddress` is dropped; cell entries never are;
//! * a report left with no network entry at all is dropped;
//! * floats that are NaN/±Infinity are omitted; `timestamp` is replaced by `now_ms`
//!   when missing or outside (10^12, 10^13) ms, so every report carries one;
//! * the report-level `radioType` is copied into cells without one, `umts` becomes
//!   `wcdma`, and the report-level key is removed;
//! * `/v1/geosubmit` and `/v1/submit` take the position fields flat and rename their
//!   fields; their reports get a `position` object only when a position field is
//!   present, while `/v2/geosubmit` always has `position` (`null` by default).
//!
//! Extensions beyond the reference: `nr` is part of the cell radio vocabulary (case
//! insensitive, so OpenCelliD's `NR` works) and an NR cell's `newRadioCellId` (Google's
//! name) fills `cellId`; the WiFi opt-out rule of [`super::ssid_opted_out`] drops
//! `_nomap` / `_optout` networks at ingest. Integers beyond the `i64` range are omitted
//! (the reference queues them and the pipeline then discards them as out of range).

use serde::Serialize;

use super::ValidationError;
use super::colander::{
    Errors, float_field, int_field, join, mapping, sequence_field, set_index_path, str_field,
    vocabulary_field,
};
use super::ssid_opted_out;
use super::time::{iso_timestamp_or_now, timestamp_or_now};
use crate::enums::{Radio, ReportSource};
use crate::json::{JsonObject, JsonValue};

/// Which submission endpoint a body came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubmitVersion {
    /// `/v1/submit`: the oldest format (`lat`, `lon`, `time`, `wifi[].key`…).
    V0,
    /// `/v1/geosubmit`: position fields at the top of each item, cell `psc`.
    V1,
    /// `/v2/geosubmit`: the current format.
    V2,
}

/// Cell radio names accepted in submissions (the reference's vocabulary plus `nr`).
const RADIO_VOCABULARY: [&str; 6] = ["gsm", "cdma", "umts", "wcdma", "lte", "nr"];
/// Position sources accepted (`gps` and `manual`, which microG sends, are not).
const SOURCE_VOCABULARY: [&str; 4] = ["fixed", "gnss", "fused", "query"];

/// The radio type of a queued cell; `umts` is stored as `wcdma`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SubmitRadio {
    /// GSM.
    Gsm,
    /// CDMA: queued as sent, discarded by the pipeline.
    Cdma,
    /// WCDMA (also `umts`).
    Wcdma,
    /// LTE.
    Lte,
    /// 5G NR.
    Nr,
}

impl SubmitRadio {
    fn from_name(name: &str) -> Option<SubmitRadio> {
        Some(match name {
            "gsm" => SubmitRadio::Gsm,
            "cdma" => SubmitRadio::Cdma,
            "umts" | "wcdma" => SubmitRadio::Wcdma,
            "lte" => SubmitRadio::Lte,
            "nr" => SubmitRadio::Nr,
            _ => return None,
        })
    }

    /// The storable radio, `None` for CDMA.
    pub fn radio(self) -> Option<Radio> {
        match self {
            SubmitRadio::Gsm => Some(Radio::Gsm),
            SubmitRadio::Cdma => None,
            SubmitRadio::Wcdma => Some(Radio::Wcdma),
            SubmitRadio::Lte => Some(Radio::Lte),
            SubmitRadio::Nr => Some(Radio::Nr),
        }
    }
}

/// The position of a report. Values are not range-checked here.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SubmitPosition {
    /// Latitude, degrees.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latitude: Option<f64>,
    /// Longitude, degrees.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub longitude: Option<f64>,
    /// Horizontal accuracy, m.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accuracy: Option<f64>,
    /// Age of the fix relative to the report timestamp, ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub age: Option<i64>,
    /// Altitude, m.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub altitude: Option<f64>,
    /// Altitude accuracy, m.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub altitude_accuracy: Option<f64>,
    /// Heading, degrees.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub heading: Option<f64>,
    /// Air pressure, hPa.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pressure: Option<f64>,
    /// Speed, m/s.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub speed: Option<f64>,
    /// Where the position came from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<ReportSource>,
}

impl SubmitPosition {
    fn is_empty(&self) -> bool {
        *self == SubmitPosition::default()
    }
}

/// A queued Bluetooth beacon.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SubmitBlue {
    /// The MAC as sent (normalised later by the pipeline).
    pub mac_address: String,
    /// Observation age, ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub age: Option<i64>,
    /// Advertised name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Signal, dBm.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signal_strength: Option<i64>,
}

/// A queued WiFi network.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SubmitWifi {
    /// The BSSID as sent.
    pub mac_address: String,
    /// Observation age, ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub age: Option<i64>,
    /// Channel.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<i64>,
    /// Frequency, MHz.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frequency: Option<i64>,
    /// Free text such as `802.11n`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub radio_type: Option<String>,
    /// Signal, dBm.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signal_strength: Option<i64>,
    /// Signal to noise ratio.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signal_to_noise_ratio: Option<i64>,
    /// Network name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ssid: Option<String>,
}

/// A queued cell.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SubmitCell {
    /// Radio type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub radio_type: Option<SubmitRadio>,
    /// MCC.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mobile_country_code: Option<i64>,
    /// MNC.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mobile_network_code: Option<i64>,
    /// LAC / TAC.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location_area_code: Option<i64>,
    /// Cell id (NR: the NR cell identity).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cell_id: Option<i64>,
    /// Primary scrambling code / physical cell id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub primary_scrambling_code: Option<i64>,
    /// Observation age, ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub age: Option<i64>,
    /// Arbitrary strength unit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub asu: Option<i64>,
    /// Serving-cell flag as sent (ignored by the pipeline).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub serving: Option<i64>,
    /// Signal, dBm.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signal_strength: Option<i64>,
    /// Timing advance.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timing_advance: Option<i64>,
}

/// One normalised report: the `report` of an `update_incoming` queue item.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SubmitReport {
    /// Carrier name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub carrier: Option<String>,
    /// Home MCC.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub home_mobile_country_code: Option<i64>,
    /// Home MNC.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub home_mobile_network_code: Option<i64>,
    /// Milliseconds since the epoch; "now" when the client's value was unusable.
    pub timestamp: i64,
    /// Bluetooth beacons.
    pub bluetooth_beacons: Vec<SubmitBlue>,
    /// WiFi networks.
    pub wifi_access_points: Vec<SubmitWifi>,
    /// Cells.
    pub cell_towers: Vec<SubmitCell>,
    /// `None`: no `position` key (v0/v1 without position fields); `Some(None)`:
    /// `"position": null` (v2 default); `Some(Some(_))`: the position object.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<Option<SubmitPosition>>,
}

impl SubmitReport {
    /// The queue item's `source`: the position's source, else `gnss`.
    pub fn source(&self) -> ReportSource {
        self.position
            .as_ref()
            .and_then(Option::as_ref)
            .and_then(|p| p.source)
            .unwrap_or(ReportSource::Gnss)
    }
}

/// An item of the `update_incoming` queue (`pipeline.md` §3.4 (a)).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueueItem {
    /// The API key if it exists in the `api_key` table, else `None` (anonymous).
    pub api_key: Option<String>,
    /// The report.
    pub report: SubmitReport,
    /// The position source, `gnss` by default.
    pub source: ReportSource,
}

impl QueueItem {
    /// Wraps a report for the queue.
    pub fn new(api_key: Option<String>, report: SubmitReport) -> QueueItem {
        let source = report.source();
        QueueItem {
            api_key,
            report,
            source,
        }
    }
}

/// Input field names of one entry kind, per API version.
struct BlueNames {
    mac: &'static str,
    signal: &'static str,
}

struct WifiNames {
    mac: &'static str,
    radio: &'static str,
    signal: &'static str,
}

struct CellNames {
    radio: &'static str,
    mcc: &'static str,
    mnc: &'static str,
    lac: &'static str,
    cid: &'static str,
    psc: &'static str,
    signal: &'static str,
    ta: &'static str,
    nr_cid: Option<&'static str>,
}

struct PositionNames {
    latitude: &'static str,
    longitude: &'static str,
    altitude_accuracy: &'static str,
}

const V2_BLUE: BlueNames = BlueNames {
    mac: "macAddress",
    signal: "signalStrength",
};
const V0_BLUE: BlueNames = BlueNames {
    mac: "key",
    signal: "signal",
};
const V2_WIFI: WifiNames = WifiNames {
    mac: "macAddress",
    radio: "radioType",
    signal: "signalStrength",
};
const V0_WIFI: WifiNames = WifiNames {
    mac: "key",
    radio: "radio",
    signal: "signal",
};
const V2_CELL: CellNames = CellNames {
    radio: "radioType",
    mcc: "mobileCountryCode",
    mnc: "mobileNetworkCode",
    lac: "locationAreaCode",
    cid: "cellId",
    psc: "primaryScramblingCode",
    signal: "signalStrength",
    ta: "timingAdvance",
    nr_cid: Some("newRadioCellId"),
};
const V1_CELL: CellNames = CellNames {
    psc: "psc",
    ..V2_CELL
};
const V0_CELL: CellNames = CellNames {
    radio: "radio",
    mcc: "mcc",
    mnc: "mnc",
    lac: "lac",
    cid: "cid",
    psc: "psc",
    signal: "signal",
    ta: "ta",
    nr_cid: None,
};
const V1_POSITION: PositionNames = PositionNames {
    latitude: "latitude",
    longitude: "longitude",
    altitude_accuracy: "altitudeAccuracy",
};
const V0_POSITION: PositionNames = PositionNames {
    latitude: "lat",
    longitude: "lon",
    altitude_accuracy: "altitude_accuracy",
};

/// Runs `entry` over the objects of an optional array field; `None` results (dropped
/// entries) are skipped.
fn entries<T>(
    obj: &JsonObject,
    name: &str,
    path: &str,
    errors: &mut Errors,
    entry: impl Fn(&JsonObject, &str, &mut Errors) -> Option<T>,
) -> Vec<T> {
    let Some(items) = sequence_field(obj, name, path, errors) else {
        return Vec::new();
    };
    let list_path = join(path, name);
    let mut out = Vec::with_capacity(items.len());
    // One buffer for the entries' paths (`<list>.<index>`): they are only read when an
    // entry has an error, but every entry needs one.
    let mut item_path = String::with_capacity(list_path.len() + 6);
    for (i, item) in items.iter().enumerate() {
        set_index_path(&mut item_path, &list_path, i);
        if let Some(item) = mapping(item, &item_path, errors)
            && let Some(value) = entry(item, &item_path, errors)
        {
            out.push(value);
        }
    }
    out
}

fn blue_entry(names: &BlueNames, o: &JsonObject, p: &str, e: &mut Errors) -> Option<SubmitBlue> {
    let mac = str_field(o, names.mac, p, e);
    let age = int_field(o, "age", p, e);
    let name = str_field(o, "name", p, e);
    let signal = int_field(o, names.signal, p, e);
    Some(SubmitBlue {
        mac_address: mac?,
        age,
        name,
        signal_strength: signal,
    })
}

fn wifi_entry(names: &WifiNames, o: &JsonObject, p: &str, e: &mut Errors) -> Option<SubmitWifi> {
    let mac = str_field(o, names.mac, p, e);
    let age = int_field(o, "age", p, e);
    let channel = int_field(o, "channel", p, e);
    let frequency = int_field(o, "frequency", p, e);
    let radio_type = str_field(o, names.radio, p, e);
    let signal = int_field(o, names.signal, p, e);
    let snr = int_field(o, "signalToNoiseRatio", p, e);
    let ssid = str_field(o, "ssid", p, e);
    if ssid.as_deref().is_some_and(ssid_opted_out) {
        return None;
    }
    Some(SubmitWifi {
        mac_address: mac?,
        age,
        channel,
        frequency,
        radio_type,
        signal_strength: signal,
        signal_to_noise_ratio: snr,
        ssid,
    })
}

/// A cell and its NR `newRadioCellId`, folded in once the radio is known.
fn cell_entry(
    names: &CellNames,
    o: &JsonObject,
    p: &str,
    e: &mut Errors,
) -> Option<(SubmitCell, Option<i64>)> {
    let radio = vocabulary_field(o, names.radio, &RADIO_VOCABULARY, p, e);
    let cell = SubmitCell {
        radio_type: radio.as_deref().and_then(SubmitRadio::from_name),
        mobile_country_code: int_field(o, names.mcc, p, e),
        mobile_network_code: int_field(o, names.mnc, p, e),
        location_area_code: int_field(o, names.lac, p, e),
        cell_id: int_field(o, names.cid, p, e),
        age: int_field(o, "age", p, e),
        asu: int_field(o, "asu", p, e),
        primary_scrambling_code: int_field(o, names.psc, p, e),
        serving: int_field(o, "serving", p, e),
        signal_strength: int_field(o, names.signal, p, e),
        timing_advance: int_field(o, names.ta, p, e),
    };
    let nr_cid = names.nr_cid.and_then(|name| int_field(o, name, p, e));
    Some((cell, nr_cid))
}

fn position_fields(
    names: &PositionNames,
    o: &JsonObject,
    p: &str,
    e: &mut Errors,
) -> SubmitPosition {
    let source = vocabulary_field(o, "source", &SOURCE_VOCABULARY, p, e);
    SubmitPosition {
        latitude: float_field(o, names.latitude, p, e),
        longitude: float_field(o, names.longitude, p, e),
        accuracy: float_field(o, "accuracy", p, e),
        age: int_field(o, "age", p, e),
        altitude: float_field(o, "altitude", p, e),
        altitude_accuracy: float_field(o, names.altitude_accuracy, p, e),
        heading: float_field(o, "heading", p, e),
        pressure: float_field(o, "pressure", p, e),
        speed: float_field(o, "speed", p, e),
        source: source.and_then(|s| s.parse::<ReportSource>().ok()),
    }
}

/// Parses one report object; `None` when it has no network entry left.
fn report(
    version: SubmitVersion,
    o: &JsonObject,
    p: &str,
    e: &mut Errors,
    now_ms: i64,
) -> Option<SubmitReport> {
    let (blue_names, wifi_names, cell_names) = match version {
        SubmitVersion::V0 => (&V0_BLUE, &V0_WIFI, &V0_CELL),
        SubmitVersion::V1 => (&V2_BLUE, &V2_WIFI, &V1_CELL),
        SubmitVersion::V2 => (&V2_BLUE, &V2_WIFI, &V2_CELL),
    };
    let (blue_key, wifi_key, cell_key, radio_key) = match version {
        SubmitVersion::V0 => ("blue", "wifi", "cell", "radio"),
        SubmitVersion::V1 | SubmitVersion::V2 => (
            "bluetoothBeacons",
            "wifiAccessPoints",
            "cellTowers",
            "radioType",
        ),
    };
    let (carrier, home_mcc, home_mnc) = match version {
        SubmitVersion::V0 => (None, None, None),
        SubmitVersion::V1 | SubmitVersion::V2 => (
            str_field(o, "carrier", p, e),
            int_field(o, "homeMobileCountryCode", p, e),
            int_field(o, "homeMobileNetworkCode", p, e),
        ),
    };
    let top_radio = vocabulary_field(o, radio_key, &RADIO_VOCABULARY, p, e)
        .as_deref()
        .and_then(SubmitRadio::from_name);
    let timestamp = match version {
        SubmitVersion::V0 => {
            let time = str_field(o, "time", p, e);
            iso_timestamp_or_now(time.as_deref(), now_ms)
        }
        SubmitVersion::V1 | SubmitVersion::V2 => {
            timestamp_or_now(int_field(o, "timestamp", p, e), now_ms)
        }
    };
    let position = match version {
        SubmitVersion::V2 => match o.get("position") {
            None => Some(None),
            Some(value) => {
                let path = join(p, "position");
                mapping(value, &path, e)
                    .map(|pos| Some(position_fields(&V1_POSITION, pos, &path, e)))
            }
        },
        SubmitVersion::V1 => {
            let pos = position_fields(&V1_POSITION, o, p, e);
            (!pos.is_empty()).then_some(Some(pos))
        }
        SubmitVersion::V0 => {
            let pos = position_fields(&V0_POSITION, o, p, e);
            (!pos.is_empty()).then_some(Some(pos))
        }
    };
    let blue = entries(o, blue_key, p, e, |o, p, e| blue_entry(blue_names, o, p, e));
    let wifi = entries(o, wifi_key, p, e, |o, p, e| wifi_entry(wifi_names, o, p, e));
    let cells = entries(o, cell_key, p, e, |o, p, e| cell_entry(cell_names, o, p, e));
    if blue.is_empty() && wifi.is_empty() && cells.is_empty() {
        return None;
    }
    let cells = cells
        .into_iter()
        .map(|(mut cell, nr_cid)| {
            if cell.radio_type.is_none() {
                cell.radio_type = top_radio;
            }
            if cell.radio_type == Some(SubmitRadio::Nr) && nr_cid.is_some() {
                cell.cell_id = nr_cid;
            }
            cell
        })
        .collect();
    Some(SubmitReport {
        carrier,
        home_mobile_country_code: home_mcc,
        home_mobile_network_code: home_mnc,
        timestamp,
        bluetooth_beacons: blue,
        wifi_access_points: wifi,
        cell_towers: cells,
        position,
    })
}

/// Parses and normalises a submission body into the reports to queue, in order.
/// Pass an empty object for an empty body (the HTTP layer answers an empty body with a
/// detail-less 400 itself, `api.md` §5.1). `now_ms` replaces unusable timestamps.
///
/// `Ok` with an empty list means "success, nothing to queue".
pub fn parse_submit(
    version: SubmitVersion,
    body: &JsonValue,
    now_ms: i64,
) -> Result<Vec<SubmitReport>, ValidationError> {
    let mut errors = Errors::default();
    let Some(root) = mapping(body, "", &mut errors) else {
        return Err(ValidationError::new(errors.entries));
    };
    let Some(items) = root.get("items") else {
        errors.add("items", "Required".to_owned());
        return Err(ValidationError::new(errors.entries));
    };
    let reports = match super::colander::sequence(items, "items", &mut errors) {
        Some(items) => {
            let mut reports = Vec::new();
            let mut path = String::with_capacity(12);
            for (i, item) in items.iter().enumerate() {
                set_index_path(&mut path, "items", i);
                if let Some(obj) = mapping(item, &path, &mut errors)
                    && let Some(r) = report(version, obj, &path, &mut errors, now_ms)
                {
                    reports.push(r);
                }
            }
            reports
        }
        None => Vec::new(),
    };
    if errors.is_empty() {
        Ok(reports)
    } else {
        Err(ValidationError::new(errors.entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::parse;
    use serde_json::{Value, json};

    const NOW: i64 = 1_700_000_000_123;

    fn submit(version: SubmitVersion, text: &str) -> Vec<SubmitReport> {
        parse_submit(version, &parse(text).unwrap(), NOW).unwrap()
    }

    fn reports(version: SubmitVersion, text: &str) -> Value {
        serde_json::to_value(submit(version, text)).unwrap()
    }

    fn invalid(version: SubmitVersion, text: &str) -> Value {
        parse_submit(version, &parse(text).unwrap(), NOW)
            .unwrap_err()
            .to_json()
    }

    const ALL: [SubmitVersion; 3] = [SubmitVersion::V0, SubmitVersion::V1, SubmitVersion::V2];

    #[test]
    fn common_errors() {
        for v in ALL {
            assert_eq!(invalid(v, "{}"), json!({"items": "Required"}));
            assert_eq!(
                invalid(v, "[1]"),
                json!({"": "\"[1]\" is not a mapping type: Does not implement dict-like functionality."})
            );
            assert_eq!(
                invalid(v, r#"{"items": null}"#),
                json!({"items": "\"None\" is not iterable"})
            );
            assert_eq!(
                invalid(v, r#"{"items": [1]}"#),
                json!({"items.0": "\"1\" is not a mapping type: Does not implement dict-like functionality."})
            );
            assert!(submit(v, r#"{"items": []}"#).is_empty());
        }
        assert!(
            parse_submit(SubmitVersion::V2, &parse("{}").unwrap(), NOW)
                .unwrap_err()
                .is_only_missing_items()
        );
        assert_eq!(
            invalid(
                SubmitVersion::V0,
                r#"[{"lat": 51.5, "lon": -0.1, "cell": []}]"#
            ),
            json!({"": "\"[{'lat': 51.5, 'lon': -0.1, 'cell': []}]\" is not a mapping type: Does not implement dict-like functionality."})
        );
    }

    #[test]
    fn mac_type_error_reports_the_path() {
        assert_eq!(
            invalid(
                SubmitVersion::V2,
                r#"{"items": [{"wifiAccessPoints": [{"macAddress": 10}]}]}"#
            ),
            json!({"items.0.wifiAccessPoints.0.macAddress": "10 is not a string: {'macAddress': ''}"})
        );
        assert_eq!(
            invalid(
                SubmitVersion::V0,
                r#"{"items": [{"wifi": [{"key": 10}], "cell": [{"radio": 5, "mcc": "x"}]}]}"#
            ),
            json!({
                "items.0.wifi.0.key": "10 is not a string: {'key': ''}",
                "items.0.cell.0.radio": "5 is not a string: {'radio': ''}",
                "items.0.cell.0.mcc": "\"x\" is not a number",
            })
        );
        assert_eq!(
            invalid(
                SubmitVersion::V2,
                r#"{"items": [{"position": null, "timestamp": NaN,
                    "cellTowers": [{}]}]}"#
            ),
            json!({
                "items.0.position": "\"None\" is not a mapping type: Does not implement dict-like functionality.",
                "items.0.timestamp": "\"nan\" is not a number",
            })
        );
        assert_eq!(
            invalid(SubmitVersion::V0, r#"{"items": [{"time": 1460000000}]}"#),
            json!({"items.0.time": "1460000000 is not a string: {'time': ''}"})
        );
    }

    #[test]
    fn v2_bluetooth_report() {
        let body = r#"{"items": [{"position": {"latitude": 51.5, "longitude": -0.1},
            "bluetoothBeacons": [
                {"macAddress": "a82066000001", "name": "my-beacon", "age": 3,
                 "signalStrength": -90, "xtra_field": 4},
                {"name": "beacon-2", "signalStrength": -92}],
            "wifiAccessPoints": [{"signalStrength": -52}]}]}"#;
        assert_eq!(
            reports(SubmitVersion::V2, body),
            json!([{
                "timestamp": NOW,
                "position": {"latitude": 51.5, "longitude": -0.1},
                "bluetoothBeacons": [{"macAddress": "a82066000001", "name": "my-beacon",
                                      "age": 3, "signalStrength": -90}],
                "wifiAccessPoints": [],
                "cellTowers": [],
            }])
        );
    }

    #[test]
    fn v2_cell_report_keeps_every_field() {
        let body = format!(
            r#"{{"items": [{{"carrier": "Some Carrier", "homeMobileCountryCode": 208,
                "homeMobileNetworkCode": 1, "timestamp": {NOW}, "xtra_field": 1,
                "position": {{"latitude": -22.75, "longitude": -43.43, "accuracy": 10.0,
                  "age": 1000, "altitude": 100.0, "altitudeAccuracy": 50.0, "heading": 45.0,
                  "pressure": 1013.25, "speed": 3.6, "source": "fused", "xtra_field": 2}},
                "cellTowers": [{{"radioType": "umts", "mobileCountryCode": 208,
                  "mobileNetworkCode": 1, "locationAreaCode": 2, "cellId": 12345,
                  "primaryScramblingCode": 5, "psc": 6, "age": 3, "asu": 31, "serving": 1,
                  "signalStrength": -51, "timingAdvance": 1, "xtra_field": 3}}]}}]}}"#
        );
        let out = submit(SubmitVersion::V2, &body);
        assert_eq!(out[0].source(), ReportSource::Fused);
        assert_eq!(
            serde_json::to_value(QueueItem::new(Some("test".to_owned()), out[0].clone())).unwrap(),
            json!({
                "api_key": "test",
                "source": "fused",
                "report": {
                    "carrier": "Some Carrier", "homeMobileCountryCode": 208,
                    "homeMobileNetworkCode": 1, "timestamp": NOW,
                    "position": {"latitude": -22.75, "longitude": -43.43, "accuracy": 10.0,
                        "age": 1000, "altitude": 100.0, "altitudeAccuracy": 50.0,
                        "heading": 45.0, "pressure": 1013.25, "speed": 3.6, "source": "fused"},
                    "bluetoothBeacons": [],
                    "wifiAccessPoints": [],
                    "cellTowers": [{"radioType": "wcdma", "mobileCountryCode": 208,
                        "mobileNetworkCode": 1, "locationAreaCode": 2, "cellId": 12345,
                        "primaryScramblingCode": 5, "age": 3, "asu": 31, "serving": 1,
                        "signalStrength": -51, "timingAdvance": 1}],
                }
            })
        );
    }

    #[test]
    fn v2_wifi_and_missing_positions() {
        let body = r#"{"items": [
            {"position": {"latitude": 1.0, "longitude": 2.0},
             "wifiAccessPoints": [{"macAddress": "AB:CD", "radioType": "802.11n", "age": 4,
               "channel": 5, "frequency": 2437, "signalStrength": -90,
               "signalToNoiseRatio": 5, "ssid": "my-wifi", "xtra_field": 1}]},
            {"position": {"accuracy": 16.0}, "wifiAccessPoints": [{"macAddress": "ab"}]},
            {"wifiAccessPoints": [{"macAddress": "ab"}]}]}"#;
        let out = reports(SubmitVersion::V2, body);
        assert_eq!(out.as_array().unwrap().len(), 3);
        assert_eq!(
            out[0]["wifiAccessPoints"][0],
            json!({"macAddress": "AB:CD", "radioType": "802.11n", "age": 4, "channel": 5,
                   "frequency": 2437, "signalStrength": -90, "signalToNoiseRatio": 5,
                   "ssid": "my-wifi"})
        );
        assert_eq!(out[1]["position"], json!({"accuracy": 16.0}));
        assert_eq!(out[2]["position"], Value::Null);
        assert!(out[2].as_object().unwrap().contains_key("position"));
        assert_eq!(
            submit(SubmitVersion::V2, body)[2].source(),
            ReportSource::Gnss
        );
    }

    #[test]
    fn reports_without_networks_are_dropped() {
        for v in ALL {
            let (blue, wifi) = match v {
                SubmitVersion::V0 => ("blue", "wifi"),
                _ => ("bluetoothBeacons", "wifiAccessPoints"),
            };
            let body = format!(
                r#"{{"items": [{{"{blue}": [{{}}]}}, {{"{wifi}": [{{}}]}}, {{}},
                    {{"{wifi}": [{{"ssid": "x"}}]}}]}}"#
            );
            assert!(submit(v, &body).is_empty(), "{v:?}");
        }
        // One WiFi is enough.
        let one = r#"{"items": [{"wifi": [{"key": "ab"}]}]}"#;
        assert_eq!(submit(SubmitVersion::V0, one).len(), 1);
        // Cell entries are never dropped, even empty ones.
        let cell = r#"{"items": [{"cellTowers": [{}]}]}"#;
        assert_eq!(
            reports(SubmitVersion::V2, cell)[0]["cellTowers"],
            json!([{}])
        );
    }

    #[test]
    fn radio_handling() {
        let cases = [
            (
                r#""radioType": "gsm", "cellTowers": [{"radioType": "lte"}]"#,
                json!("lte"),
            ),
            (r#""cellTowers": [{"radioType": "18"}]"#, Value::Null),
            (r#""radioType": "gsm", "cellTowers": [{}]"#, json!("gsm")),
            (r#""cellTowers": [{"radioType": "wcdma"}]"#, json!("wcdma")),
            (
                r#""radioType": "UMTS", "cellTowers": [{"radioType": ""}]"#,
                json!("wcdma"),
            ),
            (r#""cellTowers": [{"radioType": "NR"}]"#, json!("nr")),
            (r#""cellTowers": [{"radioType": "cdma"}]"#, json!("cdma")),
        ];
        for (fields, expected) in cases {
            for v in [SubmitVersion::V1, SubmitVersion::V2] {
                let out = reports(v, &format!(r#"{{"items": [{{{fields}}}]}}"#));
                assert_eq!(out[0]["cellTowers"][0]["radioType"], expected, "{fields}");
                assert!(out[0].get("radioType").is_none());
            }
            let v0 = fields
                .replace("\"radioType\"", "\"radio\"")
                .replace("cellTowers", "cell");
            let out = reports(SubmitVersion::V0, &format!(r#"{{"items": [{{{v0}}}]}}"#));
            assert_eq!(out[0]["cellTowers"][0]["radioType"], expected, "v0 {v0}");
        }
    }

    #[test]
    fn timestamps() {
        for v in [SubmitVersion::V1, SubmitVersion::V2] {
            let ts = |t: &str| {
                submit(
                    v,
                    &format!(r#"{{"items": [{{"timestamp": {t}, "cellTowers": [{{}}]}}]}}"#),
                )[0]
                .timestamp
            };
            assert_eq!(ts("1460000000000"), 1_460_000_000_000);
            assert_eq!(ts("146000000000"), NOW);
            assert_eq!(ts("1000000000000"), NOW);
            assert_eq!(ts("1000000000001"), 1_000_000_000_001);
            assert_eq!(ts("1460000000000.7"), 1_460_000_000_000);
            assert_eq!(ts("\"1460000000000\""), 1_460_000_000_000);
            assert_eq!(ts("null"), NOW);
            assert_eq!(ts("0"), NOW);
            assert_eq!(ts("99999999999999999999999"), NOW);
        }
        let v0 = |t: &str| {
            submit(
                SubmitVersion::V0,
                &format!(r#"{{"items": [{{"time": {t}, "cell": [{{}}]}}]}}"#),
            )[0]
            .timestamp
        };
        assert_eq!(v0("\"2016-04-07T03:33:20\""), 1_460_000_000_000);
        assert_eq!(v0("\"2016-04-07T03:33:20+02:00\""), 1_460_000_000_000);
        assert_eq!(v0("\"2024-05-01T10:00:00+01\""), 1_714_557_600_000);
        assert_eq!(v0("\"2016-04-07\""), 1_459_987_200_000);
        assert_eq!(v0("\"1710-02-28\""), NOW);
        assert_eq!(v0("\"\""), NOW);
        let absent = submit(SubmitVersion::V0, r#"{"items": [{"cell": [{}]}]}"#);
        assert_eq!(absent[0].timestamp, NOW);
    }

    #[test]
    fn invalid_floats_are_omitted() {
        let body = r#"{"items": [{"latitude": 51.5, "longitude": -0.1, "accuracy": NaN,
            "altitude": -Infinity, "heading": "inf",
            "bluetoothBeacons": [{"macAddress": "a82066000001"}]}]}"#;
        assert_eq!(
            reports(SubmitVersion::V1, body)[0]["position"],
            json!({"latitude": 51.5, "longitude": -0.1})
        );
    }

    #[test]
    fn v1_bluetooth_and_cell() {
        let body = r#"{"items": [{"latitude": 51.5, "longitude": -0.1,
            "bluetoothBeacons": [{"macAddress": "a82066000001", "age": 3,
              "signalStrength": -90, "name": "my-beacon", "xtra_field": 3}]}]}"#;
        assert_eq!(
            reports(SubmitVersion::V1, body),
            json!([{"timestamp": NOW, "position": {"latitude": 51.5, "longitude": -0.1},
                    "bluetoothBeacons": [{"macAddress": "a82066000001", "age": 3,
                      "signalStrength": -90, "name": "my-beacon"}],
                    "wifiAccessPoints": [], "cellTowers": []}])
        );
        let body = format!(
            r#"{{"items": [{{"latitude": 51.5, "longitude": -0.1, "accuracy": 12.4, "age": 1,
                "altitude": 100.1, "altitudeAccuracy": 23.7, "carrier": "Some Carrier",
                "heading": 45.0, "homeMobileCountryCode": 123, "homeMobileNetworkCode": 1,
                "pressure": 1013.25, "source": "fused", "speed": 3.6, "timestamp": {NOW},
                "xtra_field": 2,
                "cellTowers": [{{"radioType": "umts", "mobileCountryCode": 208,
                  "mobileNetworkCode": 1, "locationAreaCode": 2, "cellId": 3, "psc": 7,
                  "primaryScramblingCode": 8, "age": 3, "asu": 31, "serving": 1,
                  "signalStrength": -51, "timingAdvance": 1, "xtra_field": 3}}]}}]}}"#
        );
        let out = reports(SubmitVersion::V1, &body);
        assert_eq!(
            out[0],
            json!({"carrier": "Some Carrier", "homeMobileCountryCode": 123,
                   "homeMobileNetworkCode": 1, "timestamp": NOW,
                   "position": {"latitude": 51.5, "longitude": -0.1, "accuracy": 12.4,
                     "age": 1, "altitude": 100.1, "altitudeAccuracy": 23.7, "heading": 45.0,
                     "pressure": 1013.25, "speed": 3.6, "source": "fused"},
                   "bluetoothBeacons": [], "wifiAccessPoints": [],
                   "cellTowers": [{"radioType": "wcdma", "mobileCountryCode": 208,
                     "mobileNetworkCode": 1, "locationAreaCode": 2, "cellId": 3,
                     "primaryScramblingCode": 7, "age": 3, "asu": 31, "serving": 1,
                     "signalStrength": -51, "timingAdvance": 1}]})
        );
        let no_position = r#"{"items": [{"wifiAccessPoints": [{"macAddress": "ab"}]}]}"#;
        assert!(
            reports(SubmitVersion::V1, no_position)[0]
                .get("position")
                .is_none()
        );
    }

    #[test]
    fn v0_reports() {
        let blue = r#"{"items": [{"lat": 51.5, "lon": -0.1, "source": "",
            "blue": [{"key": "a82066000001", "age": 3000, "name": "beacon", "signal": -101}]}]}"#;
        let out = submit(SubmitVersion::V0, blue);
        assert_eq!(out[0].source(), ReportSource::Gnss);
        assert_eq!(
            serde_json::to_value(&out[0]).unwrap(),
            json!({"timestamp": NOW, "position": {"latitude": 51.5, "longitude": -0.1},
                   "bluetoothBeacons": [{"macAddress": "a82066000001", "age": 3000,
                     "name": "beacon", "signalStrength": -101}],
                   "wifiAccessPoints": [], "cellTowers": []})
        );
        let cell = r#"{"items": [{"lat": 51.5, "lon": -0.1, "time": "2016-04-07",
            "accuracy": 10.6, "altitude": 123.1, "altitude_accuracy": 7.0, "heading": 45.2,
            "pressure": 1020.23, "speed": 3.6, "source": "GNSS", "radio": "wcdma",
            "cell": [{"radio": "umts", "mcc": 234, "mnc": 30, "lac": 1, "cid": 2, "age": 1000,
              "asu": 3, "psc": 7, "serving": 1, "signal": -85, "ta": 2}]}]}"#;
        assert_eq!(
            reports(SubmitVersion::V0, cell)[0],
            json!({"timestamp": 1_459_987_200_000_i64,
                   "position": {"latitude": 51.5, "longitude": -0.1, "accuracy": 10.6,
                     "altitude": 123.1, "altitudeAccuracy": 7.0, "heading": 45.2,
                     "pressure": 1020.23, "speed": 3.6, "source": "gnss"},
                   "bluetoothBeacons": [], "wifiAccessPoints": [],
                   "cellTowers": [{"radioType": "wcdma", "mobileCountryCode": 234,
                     "mobileNetworkCode": 30, "locationAreaCode": 1, "cellId": 2,
                     "age": 1000, "asu": 3, "primaryScramblingCode": 7, "serving": 1,
                     "signalStrength": -85, "timingAdvance": 2}]})
        );
        let wifi = r#"{"items": [{"lat": 51.5, "lon": -0.1, "accuracy": 17.1, "source": "2",
            "wifi": [{"key": "A8:20:66:00:00:01", "age": 2500, "channel": 1,
              "frequency": 2437, "radio": "802.11g", "signal": -70, "signalToNoiseRatio": 5,
              "ssid": "my-wifi"}]}]}"#;
        assert_eq!(
            reports(SubmitVersion::V0, wifi)[0],
            json!({"timestamp": NOW,
                   "position": {"latitude": 51.5, "longitude": -0.1, "accuracy": 17.1},
                   "bluetoothBeacons": [], "cellTowers": [],
                   "wifiAccessPoints": [{"macAddress": "A8:20:66:00:00:01", "age": 2500,
                     "channel": 1, "frequency": 2437, "radioType": "802.11g",
                     "signalStrength": -70, "signalToNoiseRatio": 5, "ssid": "my-wifi"}]})
        );
        let foo = r#"{"items": [{"cell": [{"radio": "foo", "mcc": 1}]}]}"#;
        assert!(
            reports(SubmitVersion::V0, foo)[0]["cellTowers"][0]
                .get("radioType")
                .is_none()
        );
    }

    #[test]
    fn batches_keep_every_report() {
        let item = r#"{"latitude": 51.5, "longitude": -0.1, "cellTowers": [{"radioType": "gsm",
            "mobileCountryCode": 234, "mobileNetworkCode": 30, "locationAreaCode": 1,
            "cellId": 2}]}"#;
        let mut items = vec![item; 110];
        items.push(r#"{"latitude": 51.5, "longitude": -0.1}"#);
        let body = format!(r#"{{"items": [{}]}}"#, items.join(","));
        assert_eq!(submit(SubmitVersion::V1, &body).len(), 110);
    }

    #[test]
    fn opted_out_wifi_is_dropped_at_ingest() {
        let body = r#"{"items": [
            {"wifiAccessPoints": [{"macAddress": "ab", "ssid": "car_nomap"},
                                  {"macAddress": "cd", "ssid": "ok"}]},
            {"wifiAccessPoints": [{"macAddress": "ef", "ssid": "x_optout"}]}]}"#;
        let out = submit(SubmitVersion::V2, body);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].wifi_access_points.len(), 1);
        assert_eq!(out[0].wifi_access_points[0].mac_address, "cd");
    }

    #[test]
    fn neostumbler_payload() {
        let body = r#"{"items": [{"timestamp": 1700000000000,
            "position": {"latitude": 60.1, "longitude": 24.9, "accuracy": 5.2, "age": 120,
              "altitude": 20.0, "altitudeAccuracy": 3.0, "heading": 90.0, "pressure": 1001.1,
              "speed": 2.0, "source": "gps"},
            "cellTowers": [
              {"radioType": "nr", "mobileCountryCode": 244, "mobileCountryCodeStr": "244",
               "mobileNetworkCode": 5, "mobileNetworkCodeStr": "05", "locationAreaCode": 700000,
               "cellId": 68719476735, "primaryScramblingCode": 1000, "arfcn": 632628,
               "signalStrength": -90, "asu": 50, "serving": 1, "age": 10},
              {"radioType": "lte", "mobileCountryCode": 244, "mobileNetworkCode": 5,
               "locationAreaCode": null, "cellId": null, "primaryScramblingCode": 100}],
            "wifiAccessPoints": [{"macAddress": "a8:20:66:00:00:01", "radioType": "802.11ax",
               "estimatedDistance": {"distance": 3.5, "accuracy": 1.0, "type": "TWO_SIDED"},
               "frequency": 5180, "signalStrength": -60, "ssid": null}],
            "bluetoothBeacons": [{"macAddress": "a8:20:66:00:00:02", "beaconType": 533,
               "id1": "abc", "id2": "1", "id3": "2", "signalStrength": -80, "age": 5}]}]}"#;
        let out = submit(SubmitVersion::V2, body);
        assert_eq!(out.len(), 1);
        let r = &out[0];
        assert_eq!(r.timestamp, 1_700_000_000_000);
        assert_eq!(
            r.source(),
            ReportSource::Gnss,
            "gps is not in the vocabulary"
        );
        assert_eq!(
            serde_json::to_value(&r.cell_towers).unwrap(),
            json!([
                {"radioType": "nr", "mobileCountryCode": 244, "mobileNetworkCode": 5,
                 "locationAreaCode": 700000, "cellId": 68719476735_i64,
                 "primaryScramblingCode": 1000, "signalStrength": -90, "asu": 50,
                 "serving": 1, "age": 10},
                {"radioType": "lte", "mobileCountryCode": 244, "mobileNetworkCode": 5,
                 "primaryScramblingCode": 100},
            ])
        );
        assert_eq!(
            serde_json::to_value(&r.wifi_access_points).unwrap(),
            json!([{"macAddress": "a8:20:66:00:00:01", "radioType": "802.11ax",
                    "frequency": 5180, "signalStrength": -60}])
        );
        assert_eq!(
            serde_json::to_value(&r.bluetooth_beacons).unwrap(),
            json!([{"macAddress": "a8:20:66:00:00:02", "signalStrength": -80, "age": 5}])
        );
    }

    #[test]
    fn google_nr_cell_id() {
        let body = r#"{"items": [{"radioType": "nr", "cellTowers": [
            {"mobileCountryCode": 310, "mobileNetworkCode": 260, "locationAreaCode": 5,
             "newRadioCellId": 123456789012},
            {"radioType": "lte", "mobileCountryCode": 310, "mobileNetworkCode": 260,
             "locationAreaCode": 5, "cellId": 7, "newRadioCellId": 8}]}]}"#;
        let out = submit(SubmitVersion::V2, body);
        assert_eq!(out[0].cell_towers[0].cell_id, Some(123_456_789_012));
        assert_eq!(out[0].cell_towers[0].radio_type, Some(SubmitRadio::Nr));
        assert_eq!(out[0].cell_towers[1].cell_id, Some(7));
        assert_eq!(SubmitRadio::Nr.radio(), Some(Radio::Nr));
        assert_eq!(SubmitRadio::Cdma.radio(), None);
    }

    #[test]
    fn tower_collector_payload() {
        let body = r#"{"items": [{"timestamp": 1700000000000,
            "position": {"latitude": 52.2, "longitude": 21.0, "accuracy": 8.0,
              "altitude": 110.0, "heading": 10.0, "speed": 0.0, "source": "gps"},
            "cellTowers": [{"radioType": "gsm", "mobileCountryCode": 260,
              "mobileNetworkCode": 3, "locationAreaCode": 1000, "cellId": 2000, "asu": 20,
              "signalStrength": -73, "timingAdvance": 2, "arfcn": 60, "serving": 1},
              {"radioType": "nr", "mobileCountryCode": 260, "mobileNetworkCode": 3,
               "locationAreaCode": 100000, "cellId": 3000000000, "serving": 0}]}]}"#;
        let out = reports(SubmitVersion::V2, body);
        assert_eq!(
            out[0]["position"],
            json!({"latitude": 52.2, "longitude": 21.0, "accuracy": 8.0, "altitude": 110.0,
                   "heading": 10.0, "speed": 0.0})
        );
        assert_eq!(out[0]["cellTowers"][1]["cellId"], json!(3_000_000_000_i64));
        assert_eq!(out[0]["cellTowers"][1]["serving"], json!(0));
    }

    #[test]
    fn geoclue_payloads() {
        // GeoClue 2.7 (v2) and ≤ 2.6 legacy /v1/submit.
        let v2 = r#"{"items": [{"timestamp": 1700000000000,
            "position": {"latitude": 48.1, "longitude": 11.5, "accuracy": 20.0,
              "altitude": 500.0, "speed": 0.0},
            "wifiAccessPoints": [{"macAddress": "a8:20:66:00:00:01", "signalStrength": -60,
              "frequency": 2412, "age": 100}],
            "cellTowers": [{"radioType": "lte", "cellId": 1, "mobileCountryCode": 262,
              "mobileNetworkCode": 2, "locationAreaCode": 3}]}]}"#;
        assert_eq!(submit(SubmitVersion::V2, v2).len(), 1);
        let v0 = r#"{"items": [{"lat": 48.1, "lon": 11.5, "accuracy": 20.0,
            "time": "2024-05-01T10:00:00+01", "radioType": "lte",
            "wifi": [{"key": "a8:20:66:00:00:01", "signal": -60, "frequency": 2412}],
            "cell": [{"radio": "gsm", "cid": 1, "mcc": 262, "mnc": 2, "lac": 3}]}]}"#;
        let out = reports(SubmitVersion::V0, v0);
        assert_eq!(out[0]["timestamp"], json!(1_714_557_600_000_i64));
        assert_eq!(out[0]["cellTowers"][0]["radioType"], json!("gsm"));
        assert_eq!(
            out[0]["wifiAccessPoints"][0],
            json!({"macAddress": "a8:20:66:00:00:01", "signalStrength": -60, "frequency": 2412})
        );
    }

    #[test]
    fn microg_and_mozstumbler_payloads() {
        let microg = r#"{"items": [{"timestamp": 1700000000000,
            "position": {"latitude": 1.0, "longitude": 2.0, "accuracy": 3.0,
              "altitude": 4.0, "altitudeAccuracy": 5.0, "heading": 6.0, "pressure": 7.0,
              "speed": 8.0, "source": "manual"},
            "wifiAccessPoints": [{"macAddress": "a8:20:66:00:00:01", "ssid": "x",
              "channel": 1, "frequency": 2412, "signalStrength": -50, "age": 0}]}]}"#;
        let out = submit(SubmitVersion::V2, microg);
        assert_eq!(out[0].source(), ReportSource::Gnss);
        assert_eq!(
            out[0].position.clone().flatten().map(|p| p.pressure),
            Some(Some(7.0))
        );
        let mozstumbler = r#"{"items": [{"latitude": 51.123456, "longitude": -0.1,
            "timestamp": 1500000000000, "accuracy": 10, "altitude": 5,
            "cellTowers": [{"radioType": "gsm", "mobileCountryCode": 234,
              "mobileNetworkCode": 30, "locationAreaCode": 1, "cellId": 2, "age": -500}],
            "wifiAccessPoints": [{"macAddress": "a8:20:66:00:00:01", "frequency": 2412,
              "signalStrength": -50, "age": -1500}]}]}"#;
        let out = reports(SubmitVersion::V1, mozstumbler);
        assert_eq!(out[0]["position"]["accuracy"], json!(10.0));
        assert_eq!(out[0]["wifiAccessPoints"][0]["age"], json!(-1500));
        assert_eq!(out[0]["cellTowers"][0]["age"], json!(-500));
    }
}

//! Observations: one report position paired with one station, as queued for the station
//! updaters (`pipeline.md` §3.4 (c)).
//!
//! The internal export produces them after validation (§4); the `update_blue_*`,
//! `update_wifi_*` and `update_cell_*` queues carry them as sparse JSON objects (null
//! fields omitted) with the reference's internal field names, so that Python and Rust
//! producers and consumers can share the queues:
//!
//! * report part: `lat`, `lon`, `accuracy`, `altitude`, `altitude_accuracy`, `heading`,
//!   `pressure`, `speed`, `source` (integer [`ReportSource`] code), `timestamp` (ms);
//! * Bluetooth: `mac` (12 lowercase hex digits), `age`, `signal`;
//! * WiFi: `mac`, `age`, `channel`, `frequency`, `signal`, `snr`;
//! * cell: `radio` (integer [`Radio`] code), `mcc`, `mnc`, `lac`, `cid`, `psc`, `age`,
//!   `asu`, `signal`, `ta`.
//!
//! Consumers rebuild observations **without re-validating** them (as the reference does);
//! the typed structs still guarantee that identifiers are well formed, because a cell id
//! that does not fit its radio's layout cannot even be deserialized.

use serde::{Deserialize, Serialize};

use crate::enums::{Radio, ReportSource};
use crate::ids::{CellId, IdError, Mac};
use crate::pipeline::StationKind;
use crate::pipeline::station::StationKey;
use crate::pipeline::weight;
use crate::queue::QueueName;
use crate::shard::{BlueShard, CellShard, WifiShard};

/// The report fields every observation carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObservationReport {
    /// Latitude, degrees.
    pub lat: f64,
    /// Longitude, degrees.
    pub lon: f64,
    /// Position accuracy, metres.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accuracy: Option<f64>,
    /// Altitude, metres.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub altitude: Option<f64>,
    /// Altitude accuracy, metres.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub altitude_accuracy: Option<f64>,
    /// Heading, degrees.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heading: Option<f64>,
    /// Air pressure, hPa.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pressure: Option<f64>,
    /// Speed, m/s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speed: Option<f64>,
    /// Where the position came from; `None` counts as GNSS in the station updater.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "source_code")]
    pub source: Option<ReportSource>,
    /// Time of the GNSS fix, ms since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<i64>,
}

impl ObservationReport {
    /// A report part with only a position.
    pub fn at(lat: f64, lon: f64) -> ObservationReport {
        ObservationReport {
            lat,
            lon,
            accuracy: None,
            altitude: None,
            altitude_accuracy: None,
            heading: None,
            pressure: None,
            speed: None,
            source: None,
            timestamp: None,
        }
    }

    /// The product of the accuracy, age and speed weight factors.
    fn base_weight(&self, kind: StationKind, age: Option<i32>) -> f64 {
        weight::accuracy_weight(self.accuracy, kind.max_accuracy())
            * weight::age_weight(age.map(i64::from))
            * weight::speed_weight(self.speed)
    }
}

/// An observation of a Bluetooth beacon.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlueObservation {
    /// The report part.
    #[serde(flatten)]
    pub report: ObservationReport,
    /// The beacon.
    pub mac: Mac,
    /// Age of the reading relative to the GNSS fix, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub age: Option<i32>,
    /// Signal strength, dBm.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<i32>,
}

/// An observation of a WiFi access point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WifiObservation {
    /// The report part.
    #[serde(flatten)]
    pub report: ObservationReport,
    /// The access point.
    pub mac: Mac,
    /// Age of the reading relative to the GNSS fix, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub age: Option<i32>,
    /// WiFi channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<i32>,
    /// Frequency, MHz.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frequency: Option<i32>,
    /// Signal strength, dBm.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<i32>,
    /// Signal to noise ratio, dB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snr: Option<i32>,
}

/// An observation of a cell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "CellObservationJson", into = "CellObservationJson")]
pub struct CellObservation {
    /// The report part.
    pub report: ObservationReport,
    /// The cell.
    pub cell: CellId,
    /// Primary scrambling code (WCDMA) or physical cell id (LTE, NR).
    pub psc: Option<i16>,
    /// Age of the reading relative to the GNSS fix, ms.
    pub age: Option<i32>,
    /// Arbitrary strength unit.
    pub asu: Option<i32>,
    /// Signal strength, dBm.
    pub signal: Option<i32>,
    /// Timing advance.
    pub ta: Option<i32>,
}

/// The flat wire form of [`CellObservation`].
#[derive(Serialize, Deserialize)]
struct CellObservationJson {
    #[serde(flatten)]
    report: ObservationReport,
    #[serde(with = "radio_code")]
    radio: Radio,
    mcc: u16,
    mnc: u16,
    lac: u32,
    cid: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    psc: Option<i16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    age: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    asu: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    signal: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ta: Option<i32>,
}

impl TryFrom<CellObservationJson> for CellObservation {
    type Error = IdError;

    fn try_from(json: CellObservationJson) -> Result<Self, IdError> {
        Ok(CellObservation {
            cell: CellId::new(json.radio, json.mcc, json.mnc, json.lac, json.cid)?,
            report: json.report,
            psc: json.psc,
            age: json.age,
            asu: json.asu,
            signal: json.signal,
            ta: json.ta,
        })
    }
}

impl From<CellObservation> for CellObservationJson {
    fn from(obs: CellObservation) -> Self {
        CellObservationJson {
            report: obs.report,
            radio: obs.cell.radio(),
            mcc: obs.cell.mcc(),
            mnc: obs.cell.mnc(),
            lac: obs.cell.lac(),
            cid: obs.cell.cid(),
            psc: obs.psc,
            age: obs.age,
            asu: obs.asu,
            signal: obs.signal,
            ta: obs.ta,
        }
    }
}

/// What the station updater needs from an observation, for each station kind.
pub trait StationObservation {
    /// The kind of station observed.
    const KIND: StationKind;

    /// The observed station.
    fn station_key(&self) -> StationKey;

    /// The report part (position, source, ...).
    fn report(&self) -> &ObservationReport;

    /// The observation weight (`pipeline.md` §4.7); 0 means "ignore".
    fn weight(&self) -> f64;

    /// The cell's psc, for cells; `None` otherwise.
    fn psc(&self) -> Option<i16> {
        None
    }

    /// Whether the kept entry `self` beats a later duplicate `other` of the same station in
    /// one report (`better()`, `pipeline.md` §4.4). True as soon as **any** comparator has
    /// both values and favours `self` — it never stops early on a comparator that favours
    /// `other` (quirk 6, kept).
    fn better_than(&self, other: &Self) -> bool;
}

/// `Some(true)` if both values exist and `ours` is strictly better by `better`.
fn wins<T: PartialOrd>(ours: Option<T>, theirs: Option<T>, better: fn(&T, &T) -> bool) -> bool {
    matches!((ours, theirs), (Some(a), Some(b)) if better(&a, &b))
}

impl StationObservation for BlueObservation {
    const KIND: StationKind = StationKind::Blue;

    fn station_key(&self) -> StationKey {
        StationKey::Mac(self.mac)
    }
    fn report(&self) -> &ObservationReport {
        &self.report
    }
    fn weight(&self) -> f64 {
        self.report.base_weight(Self::KIND, self.age)
    }
    fn better_than(&self, other: &Self) -> bool {
        wins(self.signal, other.signal, |a, b| a > b) || wins(self.age, other.age, |a, b| a < b)
    }
}

impl StationObservation for WifiObservation {
    const KIND: StationKind = StationKind::Wifi;

    fn station_key(&self) -> StationKey {
        StationKey::Mac(self.mac)
    }
    fn report(&self) -> &ObservationReport {
        &self.report
    }
    fn weight(&self) -> f64 {
        self.report.base_weight(Self::KIND, self.age) * weight::wifi_signal_weight(self.signal)
    }
    fn better_than(&self, other: &Self) -> bool {
        wins(self.signal, other.signal, |a, b| a > b)
            || wins(self.snr, other.snr, |a, b| a > b)
            || wins(self.age, other.age, |a, b| a < b)
    }
}

impl StationObservation for CellObservation {
    const KIND: StationKind = StationKind::Cell;

    fn station_key(&self) -> StationKey {
        StationKey::Cell(self.cell)
    }
    fn report(&self) -> &ObservationReport {
        &self.report
    }
    fn weight(&self) -> f64 {
        self.report.base_weight(Self::KIND, self.age)
            * weight::cell_signal_weight(self.cell.radio(), self.signal)
    }
    fn psc(&self) -> Option<i16> {
        self.psc
    }
    fn better_than(&self, other: &Self) -> bool {
        wins(self.ta, other.ta, |a, b| a < b)
            || wins(self.signal, other.signal, |a, b| a > b)
            || wins(self.asu, other.asu, |a, b| a > b)
            || wins(self.age, other.age, |a, b| a < b)
    }
}

/// An observation of any kind, as produced by the internal export.
#[derive(Debug, Clone, PartialEq)]
pub enum Observation {
    /// A Bluetooth observation.
    Blue(BlueObservation),
    /// A WiFi observation.
    Wifi(WifiObservation),
    /// A cell observation.
    Cell(CellObservation),
}

impl Observation {
    /// The station queue this observation goes to: `update_blue_<c>` / `update_wifi_<c>` by
    /// the MAC's 5th hex digit, `update_cell_<radio>` by radio.
    pub fn queue(&self) -> QueueName {
        match self {
            Observation::Blue(o) => QueueName::UpdateBlue(BlueShard::for_mac(&o.mac)),
            Observation::Wifi(o) => QueueName::UpdateWifi(WifiShard::for_mac(&o.mac)),
            Observation::Cell(o) => QueueName::UpdateCell(CellShard::for_radio(o.cell.radio())),
        }
    }

    /// The sparse queue JSON (§3.4 (c)).
    pub fn to_json(&self) -> serde_json::Result<String> {
        match self {
            Observation::Blue(o) => serde_json::to_string(o),
            Observation::Wifi(o) => serde_json::to_string(o),
            Observation::Cell(o) => serde_json::to_string(o),
        }
    }

    /// The report part.
    pub fn report(&self) -> &ObservationReport {
        match self {
            Observation::Blue(o) => &o.report,
            Observation::Wifi(o) => &o.report,
            Observation::Cell(o) => &o.report,
        }
    }

    /// The observed station.
    pub fn station_key(&self) -> StationKey {
        match self {
            Observation::Blue(o) => o.station_key(),
            Observation::Wifi(o) => o.station_key(),
            Observation::Cell(o) => o.station_key(),
        }
    }

    /// The kind of station observed.
    pub fn kind(&self) -> StationKind {
        match self {
            Observation::Blue(_) => StationKind::Blue,
            Observation::Wifi(_) => StationKind::Wifi,
            Observation::Cell(_) => StationKind::Cell,
        }
    }
}

/// `ReportSource` as its integer code on the wire.
mod source_code {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::enums::ReportSource;

    pub(super) fn serialize<S: Serializer>(
        value: &Option<ReportSource>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(source) => serializer.serialize_i8(source.code()),
            None => serializer.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<ReportSource>, D::Error> {
        match Option::<i64>::deserialize(deserializer)? {
            None => Ok(None),
            Some(code) => i8::try_from(code)
                .ok()
                .and_then(ReportSource::from_code)
                .map(Some)
                .ok_or_else(|| serde::de::Error::custom("unknown report source code")),
        }
    }
}

/// `Radio` as its integer code on the wire.
mod radio_code {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::enums::Radio;

    pub(super) fn serialize<S: Serializer>(
        value: &Radio,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_i8(value.code())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Radio, D::Error> {
        let code = i64::deserialize(deserializer)?;
        i8::try_from(code)
            .ok()
            .and_then(Radio::from_code)
            .ok_or_else(|| serde::de::Error::custom("unknown radio code"))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn report() -> ObservationReport {
        ObservationReport {
            accuracy: Some(10.0),
            source: Some(ReportSource::Gnss),
            timestamp: Some(1_460_700_008_000),
            ..ObservationReport::at(51.5, -0.1)
        }
    }

    #[test]
    fn wifi_json_is_sparse_and_uses_internal_names() {
        let obs = WifiObservation {
            report: report(),
            mac: Mac::parse("a82066123456").unwrap(),
            age: Some(-2000),
            channel: None,
            frequency: Some(2412),
            signal: Some(-80),
            snr: None,
        };
        let value: serde_json::Value = serde_json::to_value(&obs).unwrap();
        assert_eq!(
            value,
            json!({
                "lat": 51.5, "lon": -0.1, "accuracy": 10.0, "source": 3,
                "timestamp": 1_460_700_008_000_i64, "mac": "a82066123456", "age": -2000,
                "frequency": 2412, "signal": -80
            })
        );
        let back: WifiObservation = serde_json::from_value(value).unwrap();
        assert_eq!(back, obs);
        assert_eq!(
            Observation::Wifi(obs).queue(),
            QueueName::UpdateWifi(WifiShard::from_id('6').unwrap())
        );
    }

    #[test]
    fn blue_json_round_trips_with_integer_positions() {
        let back: BlueObservation = serde_json::from_str(
            r#"{"lat": 1, "lon": 2, "mac": "A8:20:66:00:00:01", "source": 9}"#,
        )
        .unwrap();
        assert_eq!(back.report.lat, 1.0);
        assert_eq!(back.report.source, Some(ReportSource::Query));
        assert_eq!(back.mac.to_hex(), "a82066000001");
        assert_eq!(back.age, None);
        let text = serde_json::to_string(&back).unwrap();
        assert_eq!(
            text,
            r#"{"lat":1.0,"lon":2.0,"source":9,"mac":"a82066000001"}"#
        );
    }

    #[test]
    fn cell_json_uses_integer_radio_and_flat_ids() {
        let obs = CellObservation {
            report: report(),
            cell: CellId::new(Radio::Wcdma, 234, 30, 123, 456_789).unwrap(),
            psc: Some(5),
            age: None,
            asu: None,
            signal: Some(-90),
            ta: None,
        };
        let value = serde_json::to_value(&obs).unwrap();
        assert_eq!(value["radio"], 2);
        assert_eq!(value["mcc"], 234);
        assert_eq!(value["lac"], 123);
        assert_eq!(value["cid"], 456_789);
        assert_eq!(value["psc"], 5);
        assert!(value.get("asu").is_none());
        let back: CellObservation = serde_json::from_value(value).unwrap();
        assert_eq!(back, obs);
        assert_eq!(Observation::Cell(back).queue().key(), "update_cell_wcdma");
    }

    #[test]
    fn nr_cells_carry_wide_ids() {
        let text = r#"{"lat": 1.0, "lon": 2.0, "radio": 4, "mcc": 310, "mnc": 260,
                       "lac": 16777213, "cid": 68719476735}"#;
        let obs: CellObservation = serde_json::from_str(text).unwrap();
        assert_eq!(obs.cell.radio(), Radio::Nr);
        assert_eq!(obs.cell.cid(), (1 << 36) - 1);
        assert_eq!(Observation::Cell(obs).queue().key(), "update_cell_nr");
    }

    #[test]
    fn malformed_items_are_rejected() {
        for text in [
            r#"{"lat": 1.0, "lon": 2.0, "radio": 1, "mcc": 1, "mnc": 1, "lac": 1, "cid": 1}"#,
            r#"{"lat": 1.0, "lon": 2.0, "radio": 3, "mcc": 1, "mnc": 1, "lac": 70000, "cid": 1}"#,
            r#"{"lat": 1.0, "lon": 2.0, "radio": 3, "mcc": 1, "mnc": 1, "lac": 1}"#,
            r#"{"lon": 2.0, "radio": 3, "mcc": 1, "mnc": 1, "lac": 1, "cid": 1}"#,
            r#"{"lat": 1.0, "lon": 2.0, "radio": 3, "mcc": 1, "mnc": 1, "lac": 1, "cid": 1, "source": 4}"#,
        ] {
            assert!(
                serde_json::from_str::<CellObservation>(text).is_err(),
                "{text}"
            );
        }
        assert!(
            serde_json::from_str::<BlueObservation>(r#"{"lat":1,"lon":2,"mac":"zz"}"#).is_err()
        );
    }

    fn wifi(signal: Option<i32>, snr: Option<i32>, age: Option<i32>) -> WifiObservation {
        WifiObservation {
            report: report(),
            mac: Mac::parse("a82066123456").unwrap(),
            age,
            channel: None,
            frequency: None,
            signal,
            snr,
        }
    }

    #[test]
    fn better_is_true_when_any_comparator_wins() {
        assert!(wifi(Some(-70), None, None).better_than(&wifi(Some(-80), None, None)));
        assert!(!wifi(Some(-80), None, None).better_than(&wifi(Some(-70), None, None)));
        // Worse signal but better snr: still "better" (quirk 6).
        assert!(wifi(Some(-80), Some(30), None).better_than(&wifi(Some(-70), Some(20), None)));
        assert!(!wifi(None, None, Some(10)).better_than(&wifi(None, None, None)));
        assert!(wifi(None, None, Some(10)).better_than(&wifi(None, None, Some(20))));
    }

    #[test]
    fn weights_use_the_station_kind_limits() {
        let mut obs = wifi(Some(-80), None, None);
        assert_eq!(obs.weight(), 1.0);
        obs.report.accuracy = Some(200.1);
        assert_eq!(obs.weight(), 0.0);
        let blue = BlueObservation {
            report: ObservationReport {
                accuracy: Some(100.1),
                ..report()
            },
            mac: Mac::parse("a82066123456").unwrap(),
            age: None,
            signal: Some(-30),
        };
        assert_eq!(blue.weight(), 0.0);
    }
}

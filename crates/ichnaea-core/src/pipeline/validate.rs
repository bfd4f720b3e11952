//! Validation of transformed reports and their station entries (`pipeline.md` §4.2–§4.3).
//!
//! Contributors' data is noisy: wrong units, swapped fields, impossible identifiers. The
//! reference distinguishes two failure modes, and so do we:
//!
//! * **invalid** — the report (no usable position) or the entry (no usable identifier) is
//!   dropped and counted;
//! * **field reset** — a value outside its plausible range becomes null and the rest is
//!   kept.
//!
//! Input is the transformed report of [`crate::pipeline::export::transform_report`], a JSON
//! object with internal field names. Values are read leniently, like the reference's
//! colander schemas: numbers and numeric strings are accepted, integers are truncated from
//! floats, and anything else counts as missing. Non-finite numbers are treated as missing
//! (the reference lets NaN through its range checks).
//!
//! 5G NR entries (`"radio": "nr"`) follow the same rules with wide ranges: TAC 1–16 777 213
//! (24-bit, excluding the reserved 0xFFFFFE/0xFFFFFF as LTE excludes 0xFFFE/0xFFFF), NCI
//! 1–2³⁶−1, PCI (`psc`) 0–1007, ASU 0–97 and signal −140…−43 dBm (Android's NR SS-RSRP
//! scale, identical to LTE's), timing advance 0–3846 (the NR TA command range).

use serde_json::{Map, Value};

use crate::enums::{Radio, ReportSource};
use crate::geo::{MAX_LAT, MAX_LON, MIN_LAT, MIN_LON};
use crate::ids::{CellId, Mac};
use crate::pipeline::observation::{
    BlueObservation, CellObservation, ObservationReport, WifiObservation,
};
use crate::pipeline::region::RegionLookup;
use crate::ranges::{
    CellRanges, channel_frequency, frequency_channel, is_valid_mcc, signal_from_asu,
};

/// Largest accepted accuracy, metres.
pub const MAX_ACCURACY: f64 = 1_000_000.0;
/// Accepted altitudes, metres.
pub const ALTITUDE_RANGE: (f64, f64) = (-10_911.0, 100_000.0);
/// Largest accepted altitude accuracy, metres.
pub const MAX_ALTITUDE_ACCURACY: f64 = 110_911.0;
/// Largest accepted heading, degrees.
pub const MAX_HEADING: f64 = 360.0;
/// Accepted air pressures, hPa.
pub const PRESSURE_RANGE: (f64, f64) = (100.0, 1_200.0);
/// Largest accepted speed, m/s.
pub const MAX_SPEED: f64 = 300.0;
/// Accepted timestamps, ms since the epoch.
pub const TIMESTAMP_RANGE: (i64, i64) = (1_000_000_000_000, 10_000_000_000_000);
/// Accepted ages of a station reading, ms.
pub const AGE_RANGE: (i64, i64) = (-3_600_000, 3_600_000);

/// A JSON value as a finite float (numbers and numeric strings).
pub(crate) fn json_f64(value: Option<&Value>) -> Option<f64> {
    let number = match value? {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().parse::<f64>().ok()?,
        _ => return None,
    };
    number.is_finite().then_some(number)
}

/// A JSON value as an integer: integers, floats truncated toward zero, integer strings.
pub(crate) fn json_i64(value: Option<&Value>) -> Option<i64> {
    match value? {
        Value::Number(n) => n.as_i64().or_else(|| {
            let f = n.as_f64()?;
            (f.is_finite() && f.abs() < 9.0e18).then_some(f.trunc() as i64)
        }),
        Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    }
}

fn float_in(map: &Map<String, Value>, field: &str, min: f64, max: f64) -> Option<f64> {
    json_f64(map.get(field)).filter(|v| (min..=max).contains(v))
}

fn int_in(value: Option<i64>, min: i64, max: i64) -> Option<i64> {
    value.filter(|v| (min..=max).contains(v))
}

fn int_field(map: &Map<String, Value>, field: &str, min: i64, max: i64) -> Option<i64> {
    int_in(json_i64(map.get(field)), min, max)
}

/// `i32` of an already range-checked value.
fn narrow(value: Option<i64>) -> Option<i32> {
    value.and_then(|v| i32::try_from(v).ok())
}

/// A report source given as a name (`gnss`) or an integer code (`3`).
fn parse_source(value: Option<&Value>) -> Option<ReportSource> {
    match value? {
        Value::String(name) => name.parse().ok(),
        other => json_i64(Some(other))
            .and_then(|code| i8::try_from(code).ok())
            .and_then(ReportSource::from_code),
    }
}

/// Validates the report-level fields (`ValidReportSchema`). `None` means the report is
/// invalid: latitude or longitude missing or out of range, or the position outside every
/// region's buffered shape. Other out-of-range fields become `None`.
pub fn validate_report(
    report: &Map<String, Value>,
    regions: &dyn RegionLookup,
) -> Option<ObservationReport> {
    let lat = float_in(report, "lat", MIN_LAT, MAX_LAT)?;
    let lon = float_in(report, "lon", MIN_LON, MAX_LON)?;
    if !regions.any_region(lat, lon) {
        return None;
    }
    Some(ObservationReport {
        lat,
        lon,
        accuracy: float_in(report, "accuracy", 0.0, MAX_ACCURACY),
        altitude: float_in(report, "altitude", ALTITUDE_RANGE.0, ALTITUDE_RANGE.1),
        altitude_accuracy: float_in(report, "altitude_accuracy", 0.0, MAX_ALTITUDE_ACCURACY),
        heading: float_in(report, "heading", 0.0, MAX_HEADING),
        pressure: float_in(report, "pressure", PRESSURE_RANGE.0, PRESSURE_RANGE.1),
        speed: float_in(report, "speed", 0.0, MAX_SPEED),
        source: parse_source(report.get("source")),
        timestamp: int_field(report, "timestamp", TIMESTAMP_RANGE.0, TIMESTAMP_RANGE.1),
    })
}

fn parse_mac(entry: &Map<String, Value>) -> Option<Mac> {
    match entry.get("mac") {
        Some(Value::String(text)) => Mac::parse(text).ok(),
        _ => None,
    }
}

fn age(entry: &Map<String, Value>) -> Option<i32> {
    narrow(int_field(entry, "age", AGE_RANGE.0, AGE_RANGE.1))
}

/// Validates a Bluetooth entry and combines it with the report; `None` if malformed (bad
/// or missing MAC). Signal range −127…0 dBm.
pub fn validate_blue(
    report: &ObservationReport,
    entry: &Map<String, Value>,
) -> Option<BlueObservation> {
    Some(BlueObservation {
        report: report.clone(),
        mac: parse_mac(entry)?,
        age: age(entry),
        signal: narrow(int_field(entry, "signal", -127, 0)),
    })
}

/// Validates a WiFi entry and combines it with the report; `None` if malformed (bad or
/// missing MAC). Ranges: channel 1–199, frequency 2400–5999 MHz, signal −100…−10 dBm, SNR
/// 1–100; if exactly one of channel and frequency is known the other is derived.
pub fn validate_wifi(
    report: &ObservationReport,
    entry: &Map<String, Value>,
) -> Option<WifiObservation> {
    let mac = parse_mac(entry)?;
    let mut channel = int_field(entry, "channel", 1, 199);
    let mut frequency = int_field(entry, "frequency", 2400, 5999);
    match (channel, frequency) {
        (Some(c), None) => frequency = channel_frequency(c),
        (None, Some(f)) => channel = frequency_channel(f),
        _ => {}
    }
    Some(WifiObservation {
        report: report.clone(),
        mac,
        age: age(entry),
        channel: narrow(channel),
        frequency: narrow(frequency),
        signal: narrow(int_field(entry, "signal", -100, -10)),
        snr: narrow(int_field(entry, "snr", 1, 100)),
    })
}

fn parse_radio(value: Option<&Value>) -> Option<Radio> {
    match value? {
        Value::String(name) => match name.as_str() {
            "gsm" => Some(Radio::Gsm),
            "wcdma" => Some(Radio::Wcdma),
            "lte" => Some(Radio::Lte),
            "nr" => Some(Radio::Nr),
            _ => None,
        },
        _ => None,
    }
}

/// Validates a cell entry and combines it with the report; `None` if malformed. In order:
///
/// 1. an `asu` below −5 with a missing or non-negative `signal` is moved to `signal`;
/// 2. `radio` must be `gsm`, `wcdma`, `lte` or `nr` (`cdma` and anything else: malformed);
/// 3. a GSM cell with `cid` > 65 535 becomes WCDMA;
/// 4. `mcc` must be valid and `mnc` in 0–999 (else malformed); `lac`, `cid`, `psc`, `age`,
///    `asu`, `signal` and `ta` out of the radio's range become null (an LTE `psc` > 503 is
///    simply out of LTE's range);
/// 5. a missing signal is derived from a valid ASU;
/// 6. `lac` and `cid` are required (psc-only neighbour cells are dropped); `serving` is
///    ignored.
pub fn validate_cell(
    report: &ObservationReport,
    entry: &Map<String, Value>,
) -> Option<CellObservation> {
    let mut asu = json_i64(entry.get("asu"));
    let mut signal = json_i64(entry.get("signal"));
    if let Some(a) = asu
        && a < -5
        && signal.is_none_or(|s| s >= 0)
    {
        signal = Some(a);
        asu = None;
    }

    let mut radio = parse_radio(entry.get("radio"))?;
    let raw_cid = json_i64(entry.get("cid"));
    if radio == Radio::Gsm && raw_cid.is_some_and(|cid| cid > 65_535) {
        radio = Radio::Wcdma;
    }
    let ranges = CellRanges::for_radio(radio);

    let mcc = json_i64(entry.get("mcc")).filter(|&mcc| is_valid_mcc(mcc))?;
    let mnc = int_field(entry, "mnc", 0, 999)?;
    let lac = int_field(entry, "lac", ranges.lac.0, ranges.lac.1);
    let cid = int_in(raw_cid, ranges.cid.0, ranges.cid.1);
    let psc = int_field(entry, "psc", ranges.psc.0, ranges.psc.1);
    let asu = int_in(asu, ranges.asu.0, ranges.asu.1);
    let mut signal = int_in(signal, ranges.signal.0, ranges.signal.1);
    let ta = ranges
        .ta
        .and_then(|(min, max)| int_field(entry, "ta", min, max));
    if signal.is_none()
        && let Some(asu) = asu
    {
        signal = Some(signal_from_asu(radio, asu));
    }

    let cell = CellId::new(
        radio,
        u16::try_from(mcc).ok()?,
        u16::try_from(mnc).ok()?,
        u32::try_from(lac?).ok()?,
        u64::try_from(cid?).ok()?,
    )
    .ok()?;
    Some(CellObservation {
        report: report.clone(),
        cell,
        psc: psc.and_then(|p| i16::try_from(p).ok()),
        age: age(entry),
        asu: narrow(asu),
        signal: narrow(signal),
        ta: narrow(ta),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::pipeline::region::fake::FakeRegions;

    fn obj(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => panic!("not an object"),
        }
    }

    fn base() -> ObservationReport {
        ObservationReport::at(51.5, -0.1)
    }

    #[test]
    fn report_requires_a_position_inside_a_region() {
        let regions = FakeRegions::world();
        assert!(validate_report(&obj(json!({"lat": 51.5, "lon": -0.1})), &regions).is_some());
        for bad in [
            json!({"lat": -90.1, "lon": -0.1}),
            json!({"lat": 85.052, "lon": -0.1}),
            json!({"lat": 51.5, "lon": 180.1}),
            json!({"lon": -0.1}),
            json!({"lat": 51.5}),
            json!({"lat": "x", "lon": -0.1}),
            json!({"lat": 0.0, "lon": 0.0}),
        ] {
            assert!(
                validate_report(&obj(bad.clone()), &regions).is_none(),
                "{bad}"
            );
        }
    }

    #[test]
    fn report_fields_out_of_range_become_null() {
        let regions = FakeRegions::world();
        let good = validate_report(
            &obj(json!({
                "lat": 51.5, "lon": -0.1, "accuracy": 1_000_000.0, "altitude": -10911,
                "altitude_accuracy": 110_911, "heading": 360, "pressure": 100,
                "speed": 300, "timestamp": 1_000_000_000_000_i64, "source": "fused"
            })),
            &regions,
        )
        .unwrap();
        assert_eq!(good.accuracy, Some(1_000_000.0));
        assert_eq!(good.altitude, Some(-10_911.0));
        assert_eq!(good.altitude_accuracy, Some(110_911.0));
        assert_eq!(good.heading, Some(360.0));
        assert_eq!(good.pressure, Some(100.0));
        assert_eq!(good.speed, Some(300.0));
        assert_eq!(good.timestamp, Some(1_000_000_000_000));
        assert_eq!(good.source, Some(ReportSource::Fused));

        let bad = validate_report(
            &obj(json!({
                "lat": 51.5, "lon": -0.1, "accuracy": -1, "altitude": 100_001,
                "altitude_accuracy": -0.1, "heading": 360.1, "pressure": 1200.5,
                "speed": 300.1, "timestamp": 999_999_999_999_i64, "source": "gps"
            })),
            &regions,
        )
        .unwrap();
        assert_eq!(bad, ObservationReport::at(51.5, -0.1));
        let by_code = validate_report(
            &obj(json!({"lat": "51.5", "lon": -0.1, "source": 9})),
            &regions,
        )
        .unwrap();
        assert_eq!(by_code.source, Some(ReportSource::Query));
        assert_eq!(by_code.lat, 51.5);
    }

    #[test]
    fn blue_entries() {
        let obs = validate_blue(
            &base(),
            &obj(json!({"mac": "A8:20:66:12:34:56", "age": 3_600_001, "signal": -127})),
        )
        .unwrap();
        assert_eq!(obs.mac.to_hex(), "a82066123456");
        assert_eq!(obs.age, None);
        assert_eq!(obs.signal, Some(-127));
        assert!(validate_blue(&base(), &obj(json!({"mac": "abcd"}))).is_none());
        assert!(validate_blue(&base(), &obj(json!({"signal": -50}))).is_none());
        assert!(validate_blue(&base(), &obj(json!({"mac": "01005e901000"}))).is_none());
    }

    #[test]
    fn wifi_channel_and_frequency_vectors() {
        type Case = (Option<i64>, Option<i64>, Option<i32>, Option<i32>);
        let cases: [Case; 15] = [
            (Some(0), None, None, None),
            (Some(1), None, Some(1), Some(2412)),
            (Some(13), None, Some(13), Some(2472)),
            (Some(14), None, Some(14), Some(2484)),
            (Some(36), None, Some(36), Some(5180)),
            (Some(186), None, Some(186), Some(4930)),
            (Some(200), None, None, None),
            (Some(4), None, Some(4), Some(2427)),
            (None, Some(2412), Some(1), Some(2412)),
            (Some(3), Some(2412), Some(3), Some(2412)),
            (None, Some(2399), None, None),
            (None, Some(2484), Some(14), Some(2484)),
            (None, Some(4915), Some(183), Some(4915)),
            (None, Some(5180), Some(36), Some(5180)),
            (None, Some(6000), None, None),
        ];
        for (channel, frequency, want_channel, want_frequency) in cases {
            let mut entry = json!({"mac": "a82066123456"});
            if let Some(c) = channel {
                entry["channel"] = json!(c);
            }
            if let Some(f) = frequency {
                entry["frequency"] = json!(f);
            }
            let obs = validate_wifi(&base(), &obj(entry)).unwrap();
            assert_eq!(
                (obs.channel, obs.frequency),
                (want_channel, want_frequency),
                "{channel:?}/{frequency:?}"
            );
        }
    }

    #[test]
    fn wifi_ranges() {
        let obs = validate_wifi(
            &base(),
            &obj(json!({"mac": "a82066123456", "signal": -101, "snr": 100, "age": -3_600_000})),
        )
        .unwrap();
        assert_eq!(
            (obs.signal, obs.snr, obs.age),
            (None, Some(100), Some(-3_600_000))
        );
        let obs = validate_wifi(
            &base(),
            &obj(json!({"mac": "a82066123456", "signal": -10, "snr": 0})),
        )
        .unwrap();
        assert_eq!((obs.signal, obs.snr), (Some(-10), None));
        assert!(validate_wifi(&base(), &obj(json!({"mac": "abcd"}))).is_none());
    }

    fn cell(entry: Value) -> Option<CellObservation> {
        validate_cell(&base(), &obj(entry))
    }

    #[test]
    fn cell_identifiers() {
        let c =
            cell(json!({"radio": "lte", "mcc": 234, "mnc": 30, "lac": 1, "cid": 2, "psc": 503}))
                .unwrap();
        assert_eq!(c.cell, CellId::new(Radio::Lte, 234, 30, 1, 2).unwrap());
        assert_eq!(c.psc, Some(503));
        let c =
            cell(json!({"radio": "lte", "mcc": 234, "mnc": 30, "lac": 1, "cid": 2, "psc": 504}))
                .unwrap();
        assert_eq!(c.psc, None);
        for bad in [
            json!({"radio": "cdma", "mcc": 234, "mnc": 30, "lac": 1, "cid": 2}),
            json!({"radio": "GSM", "mcc": 234, "mnc": 30, "lac": 1, "cid": 2}),
            json!({"mcc": 234, "mnc": 30, "lac": 1, "cid": 2}),
            json!({"radio": "gsm", "mcc": -2, "mnc": 30, "lac": 1, "cid": 2}),
            json!({"radio": "gsm", "mcc": 553, "mnc": 30, "lac": 1, "cid": 2}),
            json!({"radio": "gsm", "mcc": 234, "mnc": 1000, "lac": 1, "cid": 2}),
            json!({"radio": "gsm", "mcc": 234, "lac": 1, "cid": 2}),
            json!({"radio": "gsm", "mcc": 234, "mnc": 30, "lac": 0, "cid": 2}),
            json!({"radio": "gsm", "mcc": 234, "mnc": 30, "lac": 65_534, "cid": 2}),
            json!({"radio": "gsm", "mcc": 234, "mnc": 30, "cid": 2, "psc": 1}),
            json!({"radio": "wcdma", "mcc": 234, "mnc": 30, "lac": 1, "cid": 268_435_456}),
            json!({"radio": "lte", "mcc": 234, "mnc": 30, "lac": 1, "cid": 0}),
        ] {
            assert!(cell(bad.clone()).is_none(), "{bad}");
        }
    }

    #[test]
    fn big_gsm_cell_ids_become_wcdma() {
        let c =
            cell(json!({"radio": "gsm", "mcc": 234, "mnc": 30, "lac": 1, "cid": 65_536})).unwrap();
        assert_eq!(c.cell.radio(), Radio::Wcdma);
        let c =
            cell(json!({"radio": "gsm", "mcc": 234, "mnc": 30, "lac": 1, "cid": 65_535})).unwrap();
        assert_eq!(c.cell.radio(), Radio::Gsm);
    }

    #[test]
    fn cell_signal_rules() {
        let entry = |radio: &str, extra: Value| {
            let mut e = json!({"radio": radio, "mcc": 234, "mnc": 30, "lac": 1, "cid": 2});
            for (k, v) in obj(extra) {
                e[k] = v;
            }
            cell(e).unwrap()
        };
        // Derivation from asu 15.
        assert_eq!(entry("gsm", json!({"asu": 15})).signal, Some(-83));
        assert_eq!(entry("wcdma", json!({"asu": 15})).signal, Some(-101));
        assert_eq!(entry("lte", json!({"asu": 15})).signal, Some(-125));
        assert_eq!(entry("nr", json!({"asu": 15})).signal, Some(-125));
        // Swap of asu and signal.
        let c = entry("lte", json!({"asu": -70, "signal": 5}));
        assert_eq!((c.asu, c.signal), (None, Some(-70)));
        let c = entry("lte", json!({"asu": -70, "signal": -80}));
        assert_eq!(
            (c.asu, c.signal),
            (None, Some(-80)),
            "no swap, asu out of range"
        );
        // Radio-specific ranges.
        let c = entry("gsm", json!({"asu": 32, "signal": -50}));
        assert_eq!((c.asu, c.signal), (None, None));
        let c = entry("wcdma", json!({"asu": -5, "signal": -25, "ta": 3}));
        assert_eq!((c.asu, c.signal, c.ta), (Some(-5), Some(-25), None));
        let c = entry("lte", json!({"signal": -141, "ta": 64}));
        assert_eq!((c.signal, c.ta), (None, None));
        let c = entry("gsm", json!({"ta": 63, "age": 3_600_000, "serving": 1}));
        assert_eq!((c.ta, c.age), (Some(63), Some(3_600_000)));
    }

    #[test]
    fn nr_cells_use_wide_ranges() {
        let nci = (1i64 << 36) - 1;
        let c = cell(json!({
            "radio": "nr", "mcc": 310, "mnc": 260, "lac": 16_777_213, "cid": nci,
            "psc": 1007, "ta": 3846, "asu": 97
        }))
        .unwrap();
        assert_eq!(c.cell.radio(), Radio::Nr);
        assert_eq!(c.cell.lac(), 16_777_213);
        assert_eq!(c.cell.cid(), nci as u64);
        assert_eq!((c.psc, c.ta, c.signal), (Some(1007), Some(3846), Some(-43)));
        let c =
            cell(json!({"radio": "nr", "mcc": 310, "mnc": 260, "lac": 1, "cid": 1, "psc": 1008}))
                .unwrap();
        assert_eq!(c.psc, None);
        for bad in [
            json!({"radio": "nr", "mcc": 310, "mnc": 260, "lac": 16_777_214, "cid": 1}),
            json!({"radio": "nr", "mcc": 310, "mnc": 260, "lac": 1, "cid": nci + 1}),
            json!({"radio": "nr", "mcc": 310, "mnc": 260, "lac": 1, "cid": 0}),
        ] {
            assert!(cell(bad.clone()).is_none(), "{bad}");
        }
        // A large NR cell id is not a GSM-to-WCDMA case.
        let c = cell(json!({"radio": "nr", "mcc": 310, "mnc": 260, "lac": 70_000, "cid": 70_000}))
            .unwrap();
        assert_eq!(c.cell.radio(), Radio::Nr);
    }

    #[test]
    fn lenient_number_parsing() {
        assert_eq!(json_i64(Some(&json!(12.9))), Some(12));
        assert_eq!(json_i64(Some(&json!(-12.9))), Some(-12));
        assert_eq!(json_i64(Some(&json!(" 012 "))), Some(12));
        assert_eq!(json_i64(Some(&json!("1.5"))), None);
        assert_eq!(json_i64(Some(&json!(true))), None);
        assert_eq!(json_i64(Some(&json!(1e30))), None);
        assert_eq!(json_f64(Some(&json!("nan"))), None);
        assert_eq!(json_f64(Some(&json!("2.5"))), Some(2.5));
        assert_eq!(json_f64(None), None);
        let c = cell(json!({"radio": "gsm", "mcc": "234", "mnc": "030", "lac": 1.0, "cid": 2}))
            .unwrap();
        assert_eq!((c.cell.mcc(), c.cell.mnc()), (234, 30));
    }
}

//! Observation weights (`pipeline.md` §4.7).
//!
//! Not every observation is equally trustworthy: a fix with 10 m accuracy, taken a second
//! ago while standing still next to a strong transmitter says much more about where a
//! station is than a 150 m fix from a moving car at the edge of coverage. The reference
//! multiplies four factors into one weight; a weight of 0 means "ignore this observation"
//! (the station updater drops it before anything else, §5.1).
//!
//! `weight = accuracy × age × speed × signal`, each factor 1.0 for a "typical good"
//! observation.
//!
//! # 5G NR
//!
//! The cell signal factor is `(10000 / (signal + offset)²)²`, where each radio's offset puts
//! its "weight 1" signal at −100 after the offset (GSM −95, WCDMA −100, LTE −105). NR
//! reports SS-RSRP, which uses the same dBm reporting scale as LTE RSRP (Android clamps both
//! to −140…−43/−44 and derives the same ASU, `dBm + 140`), so NR uses LTE's values:
//! default / "weight 1" signal −105 dBm, offset +5.

use crate::enums::Radio;

/// Accuracy (m) below which all observations count the same.
const MIN_ACCURACY: f64 = 10.0;
/// Age (ms) below which all observations count the same.
const MIN_AGE: f64 = 2_000.0;
/// Age (ms) above which an observation is ignored.
const MAX_AGE: f64 = 20_000.0;
/// Speed (m/s) below which all observations count the same.
const MIN_SPEED: f64 = 1.0;
/// Speed (m/s) giving weight 1; faster observations count less.
const REFERENCE_SPEED: f64 = 5.0;
/// Speed (m/s) above which an observation is ignored.
const MAX_SPEED: f64 = 50.0;
/// The WiFi signal assumed when none was reported, dBm (weight 1).
pub const WIFI_DEFAULT_SIGNAL: i32 = -80;

/// The accuracy factor: `sqrt(10 / max(|accuracy|, 10))`, or 0 above `max_accuracy`
/// (Bluetooth 100 m, WiFi 200 m, cell 1000 m). Missing or zero accuracy counts as 10 m.
pub fn accuracy_weight(accuracy: Option<f64>, max_accuracy: f64) -> f64 {
    let accuracy = match accuracy.map(f64::abs) {
        None => MIN_ACCURACY,
        Some(0.0) => MIN_ACCURACY,
        Some(a) => a.max(MIN_ACCURACY),
    };
    if accuracy > max_accuracy || accuracy.is_nan() {
        return 0.0;
    }
    (MIN_ACCURACY / accuracy).sqrt()
}

/// The age factor: `min(sqrt(2000 / max(|age|, 2000)), 1)`, or 0 above 20 s. Missing or
/// zero age counts as 2 s.
pub fn age_weight(age_ms: Option<i64>) -> f64 {
    let age = match age_ms {
        None | Some(0) => MIN_AGE,
        Some(a) => (a.unsigned_abs() as f64).max(MIN_AGE),
    };
    if age > MAX_AGE {
        return 0.0;
    }
    (MIN_AGE / age).sqrt().min(1.0)
}

/// The speed factor: `min(sqrt(5 / max(|speed|, 1)), 1)`, or 0 above 50 m/s. Missing or
/// zero speed counts as 1 m/s.
pub fn speed_weight(speed: Option<f64>) -> f64 {
    let speed = match speed.map(f64::abs) {
        None => MIN_SPEED,
        Some(0.0) => MIN_SPEED,
        Some(v) => v.max(MIN_SPEED),
    };
    if speed > MAX_SPEED || speed.is_nan() {
        return 0.0;
    }
    (REFERENCE_SPEED / speed).sqrt().min(1.0)
}

/// The WiFi signal factor: `(10000 / (signal − 20)²)²`; a missing signal counts as −80 dBm
/// (factor 1).
pub fn wifi_signal_weight(signal: Option<i32>) -> f64 {
    signal_formula(signal.unwrap_or(WIFI_DEFAULT_SIGNAL), -20)
}

/// The signal (dBm) a cell observation of `radio` is assumed to have when none was
/// reported; it is also the signal with factor 1.
pub const fn cell_default_signal(radio: Radio) -> i32 {
    match radio {
        Radio::Gsm => -95,
        Radio::Wcdma => -100,
        Radio::Lte | Radio::Nr => -105,
    }
}

/// The per-radio offset of the cell signal formula.
pub const fn cell_signal_offset(radio: Radio) -> i32 {
    match radio {
        Radio::Gsm => -5,
        Radio::Wcdma => 0,
        Radio::Lte | Radio::Nr => 5,
    }
}

/// The cell signal factor: `(10000 / (signal + offset)²)²` with the radio's offset and
/// default signal.
pub fn cell_signal_weight(radio: Radio, signal: Option<i32>) -> f64 {
    signal_formula(
        signal.unwrap_or(cell_default_signal(radio)),
        cell_signal_offset(radio),
    )
}

/// `(10000 / (signal + offset)²)²`. Validated signals never make the denominator zero; an
/// unvalidated one that does (the station queues are not re-validated, §3.4) gets weight
/// 0 instead of an infinite weight.
fn signal_formula(signal: i32, offset: i32) -> f64 {
    let shifted = f64::from(signal) + f64::from(offset);
    let value = (10_000.0 / (shifted * shifted)).powi(2);
    if value.is_finite() { value } else { 0.0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(actual: f64, expected: f64, digits: i32) {
        let tolerance = 0.5 * 10f64.powi(-digits);
        assert!(
            (actual - expected).abs() <= tolerance,
            "{actual} != {expected} (±{tolerance})"
        );
    }

    #[test]
    fn accuracy_reference_values() {
        close(accuracy_weight(Some(10.0), 1000.0), 1.0, 2);
        close(accuracy_weight(Some(40.0), 1000.0), 0.5, 2);
        close(accuracy_weight(Some(100.0), 1000.0), 0.32, 2);
        close(accuracy_weight(Some(200.0), 1000.0), 0.22, 2);
        assert_eq!(accuracy_weight(None, 100.0), 1.0);
        assert_eq!(accuracy_weight(Some(0.0), 100.0), 1.0);
        assert_eq!(accuracy_weight(Some(5.0), 100.0), 1.0);
        assert_eq!(accuracy_weight(Some(-40.0), 100.0), 0.5);
        assert_eq!(accuracy_weight(Some(100.1), 100.0), 0.0);
        assert_eq!(accuracy_weight(Some(200.1), 200.0), 0.0);
        assert_eq!(accuracy_weight(Some(1000.1), 1000.0), 0.0);
        assert!(accuracy_weight(Some(1000.0), 1000.0) > 0.0);
    }

    #[test]
    fn age_reference_values() {
        close(age_weight(Some(1000)), 1.0, 2);
        close(age_weight(Some(5000)), 0.63, 2);
        close(age_weight(Some(8000)), 0.5, 2);
        close(age_weight(Some(-8000)), 0.5, 2);
        assert_eq!(age_weight(Some(20_001)), 0.0);
        assert_eq!(age_weight(Some(40_000)), 0.0);
        assert_eq!(age_weight(None), 1.0);
        assert_eq!(age_weight(Some(0)), 1.0);
    }

    #[test]
    fn speed_reference_values() {
        close(speed_weight(Some(1.0)), 1.0, 2);
        close(speed_weight(Some(20.0)), 0.5, 2);
        assert_eq!(speed_weight(Some(50.1)), 0.0);
        assert_eq!(speed_weight(None), 1.0);
        assert_eq!(speed_weight(Some(0.0)), 1.0);
    }

    #[test]
    fn wifi_signal_reference_values() {
        close(wifi_signal_weight(Some(-100)), 0.48, 2);
        close(wifi_signal_weight(Some(-80)), 1.0, 2);
        close(wifi_signal_weight(Some(-30)), 16.0, 2);
        close(wifi_signal_weight(Some(-10)), 123.46, 2);
        assert_eq!(wifi_signal_weight(None), 1.0);
        assert_eq!(wifi_signal_weight(Some(20)), 0.0, "never infinite");
    }

    #[test]
    fn cell_signal_reference_values() {
        close(cell_signal_weight(Radio::Gsm, Some(-113)), 0.52, 2);
        close(cell_signal_weight(Radio::Gsm, Some(-95)), 1.0, 2);
        close(cell_signal_weight(Radio::Gsm, Some(-51)), 10.17, 2);
        close(cell_signal_weight(Radio::Wcdma, Some(-121)), 0.47, 2);
        close(cell_signal_weight(Radio::Wcdma, Some(-25)), 256.0, 2);
        close(cell_signal_weight(Radio::Lte, Some(-140)), 0.3, 2);
        close(cell_signal_weight(Radio::Lte, Some(-43)), 47.96, 2);
        for radio in Radio::ALL {
            assert_eq!(cell_signal_weight(radio, None), 1.0, "{radio}");
            assert_eq!(
                cell_signal_weight(radio, Some(cell_default_signal(radio))),
                1.0
            );
        }
    }

    #[test]
    fn nr_uses_the_lte_signal_scale() {
        for signal in [-140, -105, -80, -43] {
            assert_eq!(
                cell_signal_weight(Radio::Nr, Some(signal)),
                cell_signal_weight(Radio::Lte, Some(signal))
            );
        }
    }

    #[test]
    fn combined_reference_values() {
        let gsm = accuracy_weight(Some(160.0), 1000.0) * cell_signal_weight(Radio::Gsm, Some(-51));
        close(gsm, 2.54, 2);
        let wifi = accuracy_weight(Some(100.0), 200.0) * wifi_signal_weight(Some(-10));
        close(wifi, 39.04, 2);
    }
}

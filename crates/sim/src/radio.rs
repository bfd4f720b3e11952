//! The radio model: what a receiver at a point hears from a transmitter.
//!
//! Received power follows the log-distance path-loss model with log-normal shadowing:
//! `P_rx = P_tx − PL(d0) − 10·n·log10(d / d0) − A(φ) + X_σ`, where `X_σ` is a normal
//! variable in dB. The per-type parameters below are chosen so that the resulting ranges
//! match what stumbling apps see in a city: WiFi at 2.4 GHz up to ~100 m (5 GHz ~60 m)
//! from an indoor access point, Bluetooth beacons ~50 m, urban macro cells one to a few
//! kilometres (GSM 900 the farthest, NR 3.5 GHz the shortest). Cell sectors use the
//! 3GPP horizontal antenna pattern `A(φ) = min(12·(φ/φ3dB)², 20)` dB with a 65° beam.
//!
//! Shadowing is drawn independently per observation. That is pessimistic compared with
//! real, spatially correlated shadowing, which favours the server under test less than
//! reality would, never more.

use rand::Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

/// The kinds of radio a station can be.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Radio {
    /// WiFi access point.
    Wifi,
    /// Bluetooth LE beacon.
    Blue,
    /// GSM (2G) cell, 900 MHz.
    Gsm,
    /// WCDMA (3G) cell, 2100 MHz.
    Wcdma,
    /// LTE (4G) cell, 1800 MHz.
    Lte,
    /// NR (5G) cell, 3.5 GHz.
    Nr,
}

/// Path-loss parameters of one radio type.
#[derive(Clone, Copy, Debug)]
pub struct PathLoss {
    /// Loss at the reference distance `d0`, dB.
    pub pl0: f64,
    /// Reference distance, metres.
    pub d0: f64,
    /// Path-loss exponent.
    pub exponent: f64,
    /// Standard deviation of the shadowing, dB.
    pub shadowing: f64,
    /// Weakest signal the receiver reports, dBm.
    pub sensitivity: f64,
    /// Range of values a client reports (`signalStrength` is clamped to it), dBm.
    pub report_range: (f64, f64),
}

impl Radio {
    /// The cell radios.
    pub const CELLS: [Radio; 4] = [Radio::Gsm, Radio::Wcdma, Radio::Lte, Radio::Nr];

    /// The name used in geosubmit and geolocate bodies.
    pub fn name(self) -> &'static str {
        match self {
            Radio::Wifi => "wifi",
            Radio::Blue => "blue",
            Radio::Gsm => "gsm",
            Radio::Wcdma => "wcdma",
            Radio::Lte => "lte",
            Radio::Nr => "nr",
        }
    }

    /// Whether this is a cell radio.
    pub fn is_cell(self) -> bool {
        !matches!(self, Radio::Wifi | Radio::Blue)
    }

    /// Path-loss parameters. WiFi and Bluetooth values are for 1 m reference distance
    /// (free-space loss 40 dB at 2.4 GHz, 46.4 dB at 5.2 GHz, applied by the caller
    /// through `wifi_band_offset`); cell values for 1 km (Okumura–Hata-like urban
    /// losses per band, exponent 3.76).
    pub fn path_loss(self) -> PathLoss {
        match self {
            Radio::Wifi => PathLoss {
                pl0: 40.0,
                d0: 1.0,
                exponent: 3.2,
                shadowing: 5.0,
                sensitivity: -92.0,
                report_range: (-99.0, -20.0),
            },
            Radio::Blue => PathLoss {
                pl0: 40.0,
                d0: 1.0,
                exponent: 3.0,
                shadowing: 5.0,
                sensitivity: -98.0,
                report_range: (-110.0, -30.0),
            },
            Radio::Gsm => PathLoss {
                pl0: 126.0,
                d0: 1000.0,
                exponent: 3.76,
                shadowing: 7.0,
                sensitivity: -107.0,
                report_range: (-113.0, -51.0),
            },
            Radio::Wcdma => PathLoss {
                pl0: 136.0,
                d0: 1000.0,
                exponent: 3.76,
                shadowing: 7.0,
                sensitivity: -117.0,
                report_range: (-121.0, -25.0),
            },
            Radio::Lte => PathLoss {
                pl0: 134.0,
                d0: 1000.0,
                exponent: 3.76,
                shadowing: 7.0,
                sensitivity: -122.0,
                report_range: (-140.0, -44.0),
            },
            Radio::Nr => PathLoss {
                pl0: 142.0,
                d0: 1000.0,
                exponent: 3.76,
                shadowing: 7.0,
                sensitivity: -120.0,
                report_range: (-140.0, -44.0),
            },
        }
    }
}

/// Extra loss of the 5 GHz band over 2.4 GHz at the reference distance, dB.
pub fn wifi_band_offset(frequency: u16) -> f64 {
    if frequency >= 4900 { 6.4 } else { 0.0 }
}

/// Horizontal antenna attenuation of a sector, dB, for an angle `off` (degrees) from
/// its boresight.
pub fn sector_attenuation(off_deg: f64) -> f64 {
    let mut off = off_deg.rem_euclid(360.0);
    if off > 180.0 {
        off = 360.0 - off;
    }
    (12.0 * (off / 65.0).powi(2)).min(20.0)
}

/// Mean received power (no shadowing) at distance `d` metres from a transmitter of
/// effective power `tx` dBm, with `extra` dB of additional loss (antenna pattern, band).
pub fn mean_rx(pl: &PathLoss, tx: f64, d: f64, extra: f64) -> f64 {
    let d = d.max(pl.d0 / 10.0).max(1.0);
    tx - pl.pl0 - 10.0 * pl.exponent * (d / pl.d0).log10() - extra
}

/// The distance beyond which even a +2σ shadowing draw stays below the sensitivity:
/// the search radius for candidate transmitters. Draws above +2σ farther out (2.3 % of
/// the draws at that distance, fewer beyond) are not simulated, which trims the far tail
/// of the shadowing distribution and keeps candidate searches small.
pub fn max_range(pl: &PathLoss, tx: f64) -> f64 {
    let budget = tx - pl.pl0 + 2.0 * pl.shadowing - pl.sensitivity;
    pl.d0 * 10f64.powf(budget / (10.0 * pl.exponent))
}

/// One received-power draw, or `None` when the signal is below the sensitivity.
/// The returned value is rounded to whole dBm and clamped to the reported range, as
/// phones do.
pub fn sample_rx<R: Rng>(rng: &mut R, pl: &PathLoss, tx: f64, d: f64, extra: f64) -> Option<i32> {
    let mean = mean_rx(pl, tx, d, extra);
    let z: f64 = StandardNormal.sample(rng);
    let rx = mean + pl.shadowing * z;
    if rx < pl.sensitivity {
        return None;
    }
    let (lo, hi) = pl.report_range;
    // In range by construction; the float-to-int conversion saturates anyway.
    Some(rx.clamp(lo, hi).round() as i32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn power_falls_with_distance_by_the_exponent() {
        let pl = Radio::Wifi.path_loss();
        let a = mean_rx(&pl, 10.0, 10.0, 0.0);
        let b = mean_rx(&pl, 10.0, 100.0, 0.0);
        assert!((a - b - 32.0).abs() < 1e-9, "one decade costs 10·n dB");
    }

    #[test]
    fn ranges_are_realistic() {
        let wifi = Radio::Wifi.path_loss();
        let r = max_range(&wifi, 10.0);
        assert!((100.0..400.0).contains(&r), "wifi search radius {r}");
        let lte = Radio::Lte.path_loss();
        let r = max_range(&lte, 33.0);
        assert!((2_000.0..15_000.0).contains(&r), "lte search radius {r}");
        let gsm = Radio::Gsm.path_loss();
        assert!(max_range(&gsm, 58.0) > max_range(&lte, 33.0));
    }

    #[test]
    fn sector_pattern() {
        assert_eq!(sector_attenuation(0.0), 0.0);
        assert!((sector_attenuation(65.0) - 12.0).abs() < 1e-9);
        assert_eq!(sector_attenuation(180.0), 20.0);
        assert_eq!(sector_attenuation(-30.0), sector_attenuation(30.0));
        assert_eq!(sector_attenuation(350.0), sector_attenuation(10.0));
    }

    #[test]
    fn detection_probability_drops_with_distance() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let pl = Radio::Wifi.path_loss();
        let seen = |rng: &mut rand_chacha::ChaCha8Rng, d: f64| {
            (0..2000)
                .filter(|_| sample_rx(rng, &pl, 10.0, d, 0.0).is_some())
                .count()
        };
        let near = seen(&mut rng, 20.0);
        let mid = seen(&mut rng, 80.0);
        let far = seen(&mut rng, 600.0);
        assert_eq!(near, 2000);
        assert!(mid > 200 && mid < 1900, "{mid}");
        assert_eq!(far, 0);
    }

    #[test]
    fn reported_values_are_clamped_and_above_sensitivity() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2);
        let pl = Radio::Gsm.path_loss();
        for d in [10.0, 500.0, 3_000.0, 8_000.0] {
            for _ in 0..500 {
                if let Some(s) = sample_rx(&mut rng, &pl, 58.0, d, 0.0) {
                    assert!((-113..=-51).contains(&s), "{s}");
                }
            }
        }
    }
}

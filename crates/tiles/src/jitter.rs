//! The reference's stable pseudo-random jitter (`pipeline.md` §13.3).
//!
//! The map must not reveal where exactly a contribution happened, but the tiles must not
//! change from one run to the next when the data did not (else every run would re-upload
//! the whole pyramid). So each 1/1000° grid cell is drawn as a few points at offsets that
//! look random but are a pure function of the cell's coordinates: two fixed tables of
//! offsets in `[0, 1)` (the reference's `RANDOM_LAT` / `RANDOM_LON`, reproduced verbatim)
//! indexed by a hash of the scaled coordinates. Older cells get fewer points, so areas
//! fade from the map over a year.

use ichnaea_core::time::Date;

/// The most points one grid cell produces (cells modified within the last month).
pub const MAX_POINTS_PER_CELL: usize = 6;

/// Latitude offsets, in grid units (1/1000°), of the reference.
#[expect(
    clippy::approx_constant,
    reason = "the reference's table happens to contain 0.4343"
)]
const RANDOM_LAT: [f64; 200] = [
    0.8218, 0.1382, 0.8746, 0.0961, 0.8159, 0.2876, 0.6191, 0.0897, 0.3755, 0.9412, 0.3231, 0.5353,
    0.225, 0.0555, 0.1591, 0.3871, 0.8714, 0.2496, 0.7499, 0.0279, 0.3794, 0.8224, 0.1459, 0.5992,
    0.3004, 0.5599, 0.8807, 0.1546, 0.7401, 0.834, 0.7581, 0.2057, 0.4496, 0.1683, 0.3266, 0.1515,
    0.9731, 0.4078, 0.9517, 0.6511, 0.9287, 0.8405, 0.4579, 0.9462, 0.2645, 0.7315, 0.458, 0.3744,
    0.4637, 0.3643, 0.5599, 0.815, 0.8971, 0.6997, 0.1595, 0.0066, 0.8548, 0.6805, 0.9786, 0.8293,
    0.0041, 0.5027, 0.6556, 0.0273, 0.0949, 0.6407, 0.0867, 0.2891, 0.9741, 0.2599, 0.3148, 0.8786,
    0.6432, 0.2424, 0.195, 0.4672, 0.3097, 0.0697, 0.493, 0.5484, 0.7611, 0.2611, 0.6947, 0.632,
    0.466, 0.1275, 0.4001, 0.7947, 0.8693, 0.8536, 0.686, 0.9742, 0.8517, 0.6809, 0.0395, 0.7739,
    0.4133, 0.5117, 0.9562, 0.7003, 0.261, 0.9772, 0.1694, 0.2982, 0.3459, 0.3611, 0.7994, 0.6209,
    0.2771, 0.8388, 0.9764, 0.698, 0.1615, 0.3205, 0.0766, 0.0832, 0.3695, 0.4471, 0.8077, 0.4343,
    0.716, 0.6502, 0.351, 0.1502, 0.9186, 0.3677, 0.8139, 0.6609, 0.2635, 0.1418, 0.4809, 0.15,
    0.1809, 0.1874, 0.0272, 0.6513, 0.6073, 0.5867, 0.8034, 0.744, 0.3532, 0.2124, 0.2574, 0.0536,
    0.2066, 0.4326, 0.4771, 0.5265, 0.1183, 0.0778, 0.7552, 0.9647, 0.4392, 0.3256, 0.4935, 0.8999,
    0.1643, 0.4203, 0.8042, 0.8463, 0.1369, 0.0638, 0.7694, 0.9243, 0.3213, 0.1072, 0.8301, 0.4133,
    0.731, 0.5625, 0.3609, 0.1266, 0.8004, 0.5228, 0.5915, 0.533, 0.8568, 0.9744, 0.1226, 0.2214,
    0.8163, 0.3973, 0.0492, 0.0257, 0.4362, 0.6687, 0.7528, 0.1546, 0.8486, 0.1903, 0.3155, 0.4483,
    0.2951, 0.625, 0.1373, 0.3942, 0.7765, 0.1284, 0.3895, 0.0197,
];

/// Longitude offsets, in grid units (1/1000°), of the reference.
const RANDOM_LON: [f64; 200] = [
    0.3366, 0.9381, 0.9013, 0.7668, 0.4397, 0.0931, 0.4599, 0.7187, 0.2778, 0.9749, 0.8002, 0.867,
    0.6856, 0.5892, 0.0715, 0.1547, 0.6151, 0.8931, 0.0535, 0.0219, 0.669, 0.7393, 0.3453, 0.2699,
    0.2595, 0.3468, 0.5989, 0.5349, 0.6499, 0.973, 0.1924, 0.6981, 0.0049, 0.7285, 0.2222, 0.907,
    0.2086, 0.6255, 0.438, 0.7481, 0.3976, 0.8766, 0.0788, 0.072, 0.4321, 0.7367, 0.5851, 0.7282,
    0.4919, 0.7602, 0.8871, 0.6833, 0.7713, 0.7626, 0.1701, 0.2766, 0.7929, 0.9612, 0.5676, 0.0297,
    0.1039, 0.1106, 0.3217, 0.7889, 0.9967, 0.4868, 0.1648, 0.9118, 0.5572, 0.2365, 0.2466, 0.4317,
    0.2269, 0.107, 0.359, 0.8855, 0.8001, 0.6695, 0.659, 0.9648, 0.3251, 0.7101, 0.5131, 0.693,
    0.7862, 0.5623, 0.3496, 0.3707, 0.4111, 0.5193, 0.4851, 0.5421, 0.7793, 0.163, 0.4101, 0.5883,
    0.7102, 0.7474, 0.1109, 0.4315, 0.2044, 0.0695, 0.9451, 0.8879, 0.349, 0.7498, 0.7603, 0.2392,
    0.6879, 0.8437, 0.8868, 0.5658, 0.2767, 0.6489, 0.1796, 0.3364, 0.7185, 0.966, 0.4197, 0.0102,
    0.8892, 0.2361, 0.9872, 0.5313, 0.9641, 0.8675, 0.8401, 0.253, 0.8521, 0.3932, 0.9406, 0.1951,
    0.2688, 0.5872, 0.0671, 0.5138, 0.4509, 0.0914, 0.8911, 0.2342, 0.2115, 0.4977, 0.0297, 0.3052,
    0.5143, 0.5642, 0.0268, 0.8893, 0.9661, 0.0796, 0.5527, 0.8903, 0.3143, 0.7346, 0.0573, 0.3421,
    0.4941, 0.4112, 0.6782, 0.8287, 0.5729, 0.6492, 0.2224, 0.8022, 0.9722, 0.5225, 0.5149, 0.092,
    0.4232, 0.6636, 0.7266, 0.5325, 0.4495, 0.8719, 0.9192, 0.2562, 0.327, 0.3825, 0.1051, 0.4907,
    0.167, 0.9088, 0.3463, 0.511, 0.0884, 0.071, 0.1059, 0.0939, 0.5202, 0.6005, 0.9173, 0.5957,
    0.8279, 0.7611, 0.8101, 0.9157, 0.004, 0.9844, 0.3872, 0.7046,
];

/// How many points a cell last modified `num` months ago produces:
/// `min(max(13 − num, 0), 13) div 2`, so 6 for 0–1 months down to 0 from 12 months on.
pub fn points_for_age(num: u32) -> usize {
    let num = i64::from(num);
    ((13 - num).clamp(0, 13) / 2) as usize
}

/// Months since `modified` as the reference's export query computes it:
/// `ROUND(DATEDIFF(today, modified) / 30)` (half away from zero); a date in the future
/// counts as zero months.
pub fn months_since(modified: Date, today: Date) -> u32 {
    let days = today.days_since(modified).max(0);
    // round(days / 30) with halves rounded up, in integers: (2·days + 30) div 60.
    u32::try_from((2 * days + 30) / 60).unwrap_or(u32::MAX)
}

/// The jittered points of one grid cell, as `(lat, lon)` in degrees: the reference's
/// `random_points(lat_scaled, lon_scaled, num)`.
pub fn random_points(
    lat_scaled: i32,
    lon_scaled: i32,
    num: u32,
) -> impl Iterator<Item = (f64, f64)> {
    let (lat, lon) = (i64::from(lat_scaled), i64::from(lon_scaled));
    // Python's `%` (non-negative result for a positive divisor) is `rem_euclid`.
    let lat_idx = (lon * (lat * 17)).rem_euclid(1021).rem_euclid(179) as usize;
    let lon_idx = (lat * (lon * 11)).rem_euclid(1913).rem_euclid(181) as usize;
    let count = points_for_age(num);
    (0..count).map(move |i| {
        (
            (f64::from(lat_scaled) + RANDOM_LAT[lat_idx + i]) / 1000.0,
            (f64::from(lon_scaled) + RANDOM_LON[lon_idx + i]) / 1000.0,
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn formatted(lat: i32, lon: i32, num: u32) -> Vec<String> {
        random_points(lat, lon, num)
            .map(|(a, b)| format!("{a:.6},{b:.6}"))
            .collect()
    }

    #[test]
    fn matches_the_reference_output() {
        // Values computed with the reference's formula and tables.
        assert_eq!(
            formatted(51_500, -100, 0),
            [
                "51.500327,-0.099933",
                "51.500152,-0.099486",
                "51.500973,-0.099549",
                "51.500408,-0.099909",
                "51.500952,-0.099109",
                "51.500651,-0.099766",
            ]
        );
        assert_eq!(
            formatted(-33_869, 151_209, 3),
            [
                "-33.868700,151.209492",
                "-33.868440,151.209760",
                "-33.868119,151.209887",
                "-33.868845,151.209683",
                "-33.868260,151.209771",
            ]
        );
        assert_eq!(formatted(0, 0, 11), ["0.000822,0.000337"]);
    }

    #[test]
    fn stable_and_inside_the_cell() {
        for (lat, lon) in [(-90_000, -180_000), (90_000, 180_000), (1, -1), (12_345, 6)] {
            let a: Vec<_> = random_points(lat, lon, 0).collect();
            let b: Vec<_> = random_points(lat, lon, 0).collect();
            assert_eq!(a, b);
            assert_eq!(a.len(), MAX_POINTS_PER_CELL);
            for (plat, plon) in a {
                let (dlat, dlon) = (
                    plat * 1000.0 - f64::from(lat),
                    plon * 1000.0 - f64::from(lon),
                );
                assert!((0.0..1.0).contains(&dlat) && (0.0..1.0).contains(&dlon));
            }
        }
        // Neighbouring cells get different patterns.
        let a: Vec<_> = random_points(10, 10, 0)
            .map(|p| p.0 * 1000.0 - 10.0)
            .collect();
        let b: Vec<_> = random_points(11, 10, 0)
            .map(|p| p.0 * 1000.0 - 11.0)
            .collect();
        assert_ne!(a, b);
    }

    #[test]
    fn point_count_by_age() {
        let counts: Vec<usize> = (0..=14).map(points_for_age).collect();
        assert_eq!(counts, [6, 6, 5, 5, 4, 4, 3, 3, 2, 2, 1, 1, 0, 0, 0]);
        let today = Date::from_ymd(2024, 6, 30).unwrap();
        assert_eq!(months_since(today, today), 0);
        assert_eq!(months_since(today.add_days(-14), today), 0);
        assert_eq!(months_since(today.add_days(-15), today), 1);
        assert_eq!(months_since(today.add_days(-45), today), 2);
        assert_eq!(months_since(today.add_days(-365), today), 12);
        assert_eq!(months_since(today.add_days(3), today), 0);
    }
}

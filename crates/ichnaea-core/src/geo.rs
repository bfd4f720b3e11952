//! Geodesy on the WGS-84 ellipsoid.
//!
//! The reference measures every distance with Vincenty's inverse formula, falling back to
//! the haversine formula when Vincenty does not converge (nearly antipodal points), and
//! moves points with Vincenty's direct formula (`api.md` §11, `pipeline.md` §5.11). Cluster
//! sizes, station radii, accuracy values and tie-breaks all depend on these numbers, so they
//! are reproduced exactly rather than approximated.

/// WGS-84 semi-major axis, metres.
const A: f64 = 6_378_137.0;
/// WGS-84 semi-minor axis, metres.
const B: f64 = 6_356_752.314_245;
/// WGS-84 flattening.
const F: f64 = 1.0 / 298.257_223_563;
/// Mean earth radius of the haversine fallback, metres.
const MEAN_RADIUS: f64 = 6_371_009.0;
/// Latitude limits of positions (the Web Mercator limit).
pub const MAX_LAT: f64 = 85.051;
/// Latitude limits of positions.
pub const MIN_LAT: f64 = -85.051;
/// Longitude limits.
pub const MAX_LON: f64 = 180.0;
/// Longitude limits.
pub const MIN_LON: f64 = -180.0;

const CONVERGENCE: f64 = 1e-11;
const MAX_ITERATIONS: usize = 25;

/// Distance in metres between two points given in degrees.
pub fn distance(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    vincenty_inverse(lat1, lon1, lat2, lon2).unwrap_or_else(|| haversine(lat1, lon1, lat2, lon2))
}

/// Great-circle distance on a sphere of the mean earth radius.
pub fn haversine(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (phi1, phi2) = (lat1.to_radians(), lat2.to_radians());
    let dphi = (lat2 - lat1).to_radians();
    let dlambda = (lon2 - lon1).to_radians();
    let a = (dphi / 2.0).sin().powi(2) + phi1.cos() * phi2.cos() * (dlambda / 2.0).sin().powi(2);
    2.0 * MEAN_RADIUS * a.sqrt().atan2((1.0 - a).sqrt())
}

/// Vincenty's inverse formula; `None` when it does not converge.
fn vincenty_inverse(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> Option<f64> {
    if lat1 == lat2 && lon1 == lon2 {
        return Some(0.0);
    }
    let u1 = ((1.0 - F) * lat1.to_radians().tan()).atan();
    let u2 = ((1.0 - F) * lat2.to_radians().tan()).atan();
    let l = (lon2 - lon1).to_radians();
    let (sin_u1, cos_u1) = u1.sin_cos();
    let (sin_u2, cos_u2) = u2.sin_cos();
    let mut lambda = l;
    for _ in 0..MAX_ITERATIONS {
        let (sin_lambda, cos_lambda) = lambda.sin_cos();
        let sin_sigma = ((cos_u2 * sin_lambda).powi(2)
            + (cos_u1 * sin_u2 - sin_u1 * cos_u2 * cos_lambda).powi(2))
        .sqrt();
        if sin_sigma == 0.0 {
            return Some(0.0);
        }
        let cos_sigma = sin_u1 * sin_u2 + cos_u1 * cos_u2 * cos_lambda;
        let sigma = sin_sigma.atan2(cos_sigma);
        let sin_alpha = cos_u1 * cos_u2 * sin_lambda / sin_sigma;
        let cos_sq_alpha = 1.0 - sin_alpha * sin_alpha;
        let cos_2sigma_m = if cos_sq_alpha != 0.0 {
            cos_sigma - 2.0 * sin_u1 * sin_u2 / cos_sq_alpha
        } else {
            // Both points on the equator.
            0.0
        };
        let c = F / 16.0 * cos_sq_alpha * (4.0 + F * (4.0 - 3.0 * cos_sq_alpha));
        let previous = lambda;
        lambda = l
            + (1.0 - c)
                * F
                * sin_alpha
                * (sigma
                    + c * sin_sigma
                        * (cos_2sigma_m + c * cos_sigma * (-1.0 + 2.0 * cos_2sigma_m.powi(2))));
        if (lambda - previous).abs() < CONVERGENCE {
            let u_sq = cos_sq_alpha * (A * A - B * B) / (B * B);
            let big_a =
                1.0 + u_sq / 16384.0 * (4096.0 + u_sq * (-768.0 + u_sq * (320.0 - 175.0 * u_sq)));
            let big_b = u_sq / 1024.0 * (256.0 + u_sq * (-128.0 + u_sq * (74.0 - 47.0 * u_sq)));
            let delta_sigma = big_b
                * sin_sigma
                * (cos_2sigma_m
                    + big_b / 4.0
                        * (cos_sigma * (-1.0 + 2.0 * cos_2sigma_m.powi(2))
                            - big_b / 6.0
                                * cos_2sigma_m
                                * (-3.0 + 4.0 * sin_sigma.powi(2))
                                * (-3.0 + 4.0 * cos_2sigma_m.powi(2))));
            return Some(B * big_a * (sigma - delta_sigma));
        }
    }
    None
}

/// The point `meters` away from `(lat, lon)` on the initial `bearing` (degrees clockwise
/// from north), by Vincenty's direct formula. Returns `(lat, lon)` in degrees.
pub fn destination(lat: f64, lon: f64, bearing: f64, meters: f64) -> (f64, f64) {
    if meters == 0.0 {
        // The iteration would return the start point up to rounding; return it exactly.
        return (lat, lon);
    }
    let alpha1 = bearing.to_radians();
    let (sin_alpha1, cos_alpha1) = alpha1.sin_cos();
    let tan_u1 = (1.0 - F) * lat.to_radians().tan();
    let cos_u1 = 1.0 / (1.0 + tan_u1 * tan_u1).sqrt();
    let sin_u1 = tan_u1 * cos_u1;
    let sigma1 = tan_u1.atan2(cos_alpha1);
    let sin_alpha = cos_u1 * sin_alpha1;
    let cos_sq_alpha = 1.0 - sin_alpha * sin_alpha;
    let u_sq = cos_sq_alpha * (A * A - B * B) / (B * B);
    let big_a = 1.0 + u_sq / 16384.0 * (4096.0 + u_sq * (-768.0 + u_sq * (320.0 - 175.0 * u_sq)));
    let big_b = u_sq / 1024.0 * (256.0 + u_sq * (-128.0 + u_sq * (74.0 - 47.0 * u_sq)));
    let mut sigma = meters / (B * big_a);
    let mut cos_2sigma_m;
    let mut sin_sigma;
    let mut cos_sigma;
    let mut iterations = 0;
    loop {
        cos_2sigma_m = (2.0 * sigma1 + sigma).cos();
        sin_sigma = sigma.sin();
        cos_sigma = sigma.cos();
        let delta_sigma = big_b
            * sin_sigma
            * (cos_2sigma_m
                + big_b / 4.0
                    * (cos_sigma * (-1.0 + 2.0 * cos_2sigma_m.powi(2))
                        - big_b / 6.0
                            * cos_2sigma_m
                            * (-3.0 + 4.0 * sin_sigma.powi(2))
                            * (-3.0 + 4.0 * cos_2sigma_m.powi(2))));
        let previous = sigma;
        sigma = meters / (B * big_a) + delta_sigma;
        iterations += 1;
        if (sigma - previous).abs() < CONVERGENCE || iterations >= 100 {
            break;
        }
    }
    let tmp = sin_u1 * sin_sigma - cos_u1 * cos_sigma * cos_alpha1;
    let lat2 = (sin_u1 * cos_sigma + cos_u1 * sin_sigma * cos_alpha1)
        .atan2((1.0 - F) * (sin_alpha * sin_alpha + tmp * tmp).sqrt());
    let lambda =
        (sin_sigma * sin_alpha1).atan2(cos_u1 * cos_sigma - sin_u1 * sin_sigma * cos_alpha1);
    let c = F / 16.0 * cos_sq_alpha * (4.0 + F * (4.0 - 3.0 * cos_sq_alpha));
    let l = lambda
        - (1.0 - c)
            * F
            * sin_alpha
            * (sigma
                + c * sin_sigma
                    * (cos_2sigma_m + c * cos_sigma * (-1.0 + 2.0 * cos_2sigma_m.powi(2))));
    let lon2 = lon.to_radians() + l;
    (lat2.to_degrees(), lon2.to_degrees())
}

/// Latitude moved `meters` north (negative: south), clamped to ±85.051°.
pub fn latitude_add(lat: f64, lon: f64, meters: f64) -> f64 {
    let (bearing, m) = if meters < 0.0 {
        (180.0, -meters)
    } else {
        (0.0, meters)
    };
    destination(lat, lon, bearing, m).0.clamp(MIN_LAT, MAX_LAT)
}

/// Longitude moved `meters` east (negative: west), clamped to ±180°.
pub fn longitude_add(lat: f64, lon: f64, meters: f64) -> f64 {
    let (bearing, m) = if meters < 0.0 {
        (270.0, -meters)
    } else {
        (90.0, meters)
    };
    destination(lat, lon, bearing, m).1.clamp(MIN_LON, MAX_LON)
}

/// The box `meters` around a point: `(max_lat, min_lat, max_lon, min_lon)`.
pub fn bbox(lat: f64, lon: f64, meters: f64) -> (f64, f64, f64, f64) {
    (
        latitude_add(lat, lon, meters),
        latitude_add(lat, lon, -meters),
        longitude_add(lat, lon, meters),
        longitude_add(lat, lon, -meters),
    )
}

/// The largest distance from `(lat, lon)` to the corners of a bounding box, rounded to
/// whole metres (half to even, as Python's `round`).
pub fn circle_radius(
    lat: f64,
    lon: f64,
    max_lat: f64,
    max_lon: f64,
    min_lat: f64,
    min_lon: f64,
) -> u32 {
    let corners = [
        (min_lat, min_lon),
        (min_lat, max_lon),
        (max_lat, min_lon),
        (max_lat, max_lon),
    ];
    let max = corners
        .iter()
        .map(|&(clat, clon)| distance(lat, lon, clat, clon))
        .fold(0.0, f64::max);
    max.round_ties_even() as u32
}

/// The largest distance from `(lat, lon)` to any of `points`; 0 for no points.
pub fn max_distance(lat: f64, lon: f64, points: &[(f64, f64)]) -> f64 {
    points
        .iter()
        .map(|&(plat, plon)| distance(lat, lon, plat, plon))
        .fold(0.0, f64::max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vincenty_reference_example() {
        // Flinders Peak to Buninyong, Vincenty's own worked example: 54 972.271 m.
        let d = distance(
            -(37.0 + 57.0 / 60.0 + 3.72030 / 3600.0),
            144.0 + 25.0 / 60.0 + 29.52440 / 3600.0,
            -(37.0 + 39.0 / 60.0 + 10.15610 / 3600.0),
            143.0 + 55.0 / 60.0 + 35.38390 / 3600.0,
        );
        assert!((d - 54_972.271).abs() < 0.001, "{d}");
    }

    #[test]
    fn identical_points_are_zero_and_antipodes_fall_back() {
        assert_eq!(distance(51.5, -0.1, 51.5, -0.1), 0.0);
        let d = distance(0.0, 0.0, 0.5, 179.7);
        assert!(d > 19_900_000.0 && d < 20_100_000.0, "{d}");
        let h = haversine(0.0, 0.0, 0.0, 180.0);
        assert!((h - std::f64::consts::PI * MEAN_RADIUS).abs() < 1e-6);
    }

    #[test]
    fn one_degree_of_latitude_and_longitude() {
        let d = distance(0.0, 0.0, 1.0, 0.0);
        assert!((d - 110_574.389).abs() < 0.01, "{d}");
        let d = distance(0.0, 0.0, 0.0, 1.0);
        assert!((d - 111_319.491).abs() < 0.01, "{d}");
    }

    #[test]
    fn destination_inverts_distance() {
        let (lat, lon) = destination(51.5, -0.1, 37.0, 12_345.0);
        let d = distance(51.5, -0.1, lat, lon);
        assert!((d - 12_345.0).abs() < 1e-3, "{d}");
        let north = latitude_add(51.5, -0.1, 1000.0);
        let d = distance(51.5, -0.1, north, -0.1);
        assert!((d - 1000.0).abs() < 1e-3, "{d}");
        assert!(north > 51.5);
        let west = longitude_add(51.5, -0.1, -1000.0);
        assert!(west < -0.1);
        assert_eq!(latitude_add(85.0, 0.0, 100_000.0), MAX_LAT);
        assert_eq!(destination(51.5, -0.1, 180.0, 0.0), (51.5, -0.1));
        assert_eq!(longitude_add(0.0, 179.99, 100_000.0), MAX_LON);
    }

    #[test]
    fn bbox_and_radius() {
        let (max_lat, min_lat, max_lon, min_lon) = bbox(51.5, -0.1, 500.0);
        assert!(max_lat > 51.5 && min_lat < 51.5 && max_lon > -0.1 && min_lon < -0.1);
        let r = circle_radius(51.5, -0.1, max_lat, max_lon, min_lat, min_lon);
        // The corners of a 500 m box are about 707 m away.
        assert!((706..=708).contains(&r), "{r}");
        assert_eq!(circle_radius(1.0, 1.0, 1.0, 1.0, 1.0, 1.0), 0);
        assert_eq!(max_distance(0.0, 0.0, &[]), 0.0);
        let m = max_distance(0.0, 0.0, &[(0.0, 1.0), (1.0, 0.0)]);
        assert!((m - 111_319.491).abs() < 0.01);
    }
}

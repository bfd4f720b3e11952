//! Flat-earth geometry around the world's centre.
//!
//! The simulated region is at most a few tens of kilometres wide, so the generator works in
//! metres on a local east/north plane (equirectangular projection at the centre latitude),
//! which keeps the radio maths cheap and exact enough: the projection error at 20 km is
//! far below GPS noise. Errors reported by `evaluate` use the haversine distance on the
//! real coordinates, independent of this projection.

use serde::{Deserialize, Serialize};

/// Mean earth radius in metres.
const EARTH_RADIUS: f64 = 6_371_008.8;

/// A point on the local plane, in metres east (`x`) and north (`y`) of the centre.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Xy {
    /// Metres east of the centre.
    pub x: f64,
    /// Metres north of the centre.
    pub y: f64,
}

impl Xy {
    /// A point.
    pub const fn new(x: f64, y: f64) -> Xy {
        Xy { x, y }
    }

    /// Euclidean distance in metres.
    pub fn dist(self, other: Xy) -> f64 {
        (self.x - other.x).hypot(self.y - other.y)
    }

    /// Distance from the centre.
    pub fn norm(self) -> f64 {
        self.x.hypot(self.y)
    }
}

/// The projection between the local plane and WGS84 coordinates.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct Frame {
    /// Latitude of the centre.
    pub lat: f64,
    /// Longitude of the centre.
    pub lon: f64,
}

impl Frame {
    /// Coordinates (latitude, longitude) of a point.
    pub fn to_latlon(self, p: Xy) -> (f64, f64) {
        let lat = self.lat + (p.y / EARTH_RADIUS).to_degrees();
        let lon = self.lon + (p.x / (EARTH_RADIUS * self.lat.to_radians().cos())).to_degrees();
        (lat, lon)
    }

    /// The point of the given coordinates.
    pub fn to_xy(self, lat: f64, lon: f64) -> Xy {
        Xy {
            x: (lon - self.lon).to_radians() * EARTH_RADIUS * self.lat.to_radians().cos(),
            y: (lat - self.lat).to_radians() * EARTH_RADIUS,
        }
    }
}

/// Great-circle distance in metres (haversine).
pub fn haversine(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = p2 - p1;
    let dl = (lon2 - lon1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS * a.sqrt().min(1.0).asin()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn projection_round_trips_and_agrees_with_haversine() {
        let f = Frame {
            lat: 52.52,
            lon: 13.405,
        };
        let p = Xy::new(7_000.0, -4_000.0);
        let (lat, lon) = f.to_latlon(p);
        let q = f.to_xy(lat, lon);
        assert!((p.x - q.x).abs() < 1e-6 && (p.y - q.y).abs() < 1e-6);
        let d = haversine(f.lat, f.lon, lat, lon);
        assert!(
            (d - p.norm()).abs() / p.norm() < 1e-3,
            "{d} vs {}",
            p.norm()
        );
    }

    #[test]
    fn haversine_known_distance() {
        // One degree of latitude is about 111.2 km.
        let d = haversine(52.0, 13.0, 53.0, 13.0);
        assert!((d - 111_195.0).abs() < 50.0, "{d}");
    }
}

//! Datamap grid cells: positions rounded to a 0.001° grid, stored as 8-byte keys.
//!
//! Encoding (`pipeline.md` §2.5): big-endian `u32(lat_scaled + 90000)` followed by
//! `u32(lon_scaled + 180000)`, where `x_scaled = round(x × 1000)` with ties to even, as the
//! reference's Python `round` does.

use crate::ids::IdError;
use crate::shard::DataMapShard;

/// One cell of the datamap grid, as scaled integer coordinates (degrees × 1000).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Grid {
    lat_scaled: i32,
    lon_scaled: i32,
}

impl Grid {
    /// The grid cell containing a position.
    pub fn from_position(lat: f64, lon: f64) -> Grid {
        let (lat_scaled, lon_scaled) = scale(lat, lon);
        Grid::from_scaled(lat_scaled, lon_scaled)
    }

    /// A grid cell from already scaled coordinates, clamped to the valid range.
    pub fn from_scaled(lat_scaled: i32, lon_scaled: i32) -> Grid {
        Grid {
            lat_scaled: lat_scaled.clamp(-90_000, 90_000),
            lon_scaled: lon_scaled.clamp(-180_000, 180_000),
        }
    }

    /// Scaled latitude (degrees × 1000).
    pub fn lat_scaled(&self) -> i32 {
        self.lat_scaled
    }

    /// Scaled longitude (degrees × 1000).
    pub fn lon_scaled(&self) -> i32 {
        self.lon_scaled
    }

    /// The quadrant table this grid cell is stored in.
    pub fn shard(&self) -> DataMapShard {
        DataMapShard::for_scaled(self.lat_scaled, self.lon_scaled)
    }

    /// The 8-byte `grid` column value.
    pub fn to_bytes(&self) -> [u8; 8] {
        let lat = (self.lat_scaled + 90_000) as u32;
        let lon = (self.lon_scaled + 180_000) as u32;
        let mut out = [0u8; 8];
        out[..4].copy_from_slice(&lat.to_be_bytes());
        out[4..].copy_from_slice(&lon.to_be_bytes());
        out
    }

    /// Decodes an 8-byte `grid` column value.
    pub fn from_bytes(bytes: &[u8]) -> Result<Grid, IdError> {
        let array: [u8; 8] = bytes
            .try_into()
            .map_err(|_| IdError::BadLength(bytes.len()))?;
        let lat = u32::from_be_bytes([array[0], array[1], array[2], array[3]]);
        let lon = u32::from_be_bytes([array[4], array[5], array[6], array[7]]);
        let lat_scaled = i64::from(lat) - 90_000;
        let lon_scaled = i64::from(lon) - 180_000;
        if !(-90_000..=90_000).contains(&lat_scaled) || !(-180_000..=180_000).contains(&lon_scaled)
        {
            return Err(IdError::OutOfRange {
                field: "grid",
                value: u64::from(lat) << 32 | u64::from(lon),
            });
        }
        Ok(Grid {
            lat_scaled: lat_scaled as i32,
            lon_scaled: lon_scaled as i32,
        })
    }
}

/// Scales a position to the 0.001° grid with round-half-to-even.
pub fn scale(lat: f64, lon: f64) -> (i32, i32) {
    (
        (lat * 1000.0).round_ties_even() as i32,
        (lon * 1000.0).round_ties_even() as i32,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_test_vectors() {
        assert_eq!(
            Grid::from_scaled(0, 0).to_bytes(),
            [0x00, 0x01, 0x5F, 0x90, 0x00, 0x02, 0xBF, 0x20]
        );
        assert_eq!(Grid::from_scaled(-90_000, -180_000).to_bytes(), [0; 8]);
        assert_eq!(
            Grid::from_scaled(90_000, 180_000).to_bytes(),
            [0x00, 0x02, 0xBF, 0x20, 0x00, 0x05, 0x7E, 0x40]
        );
        assert_eq!(scale(-1.12345678, 2.23456789), (-1123, 2235));
    }

    #[test]
    fn scaling_rounds_half_to_even() {
        assert_eq!(scale(0.0005, 0.0015), (0, 2));
        assert_eq!(scale(-0.0025, 0.0035), (-2, 4));
    }

    #[test]
    fn bytes_round_trip_and_reject_garbage() {
        let grid = Grid::from_position(51.5, -0.1);
        assert_eq!((grid.lat_scaled(), grid.lon_scaled()), (51_500, -100));
        assert_eq!(Grid::from_bytes(&grid.to_bytes()).unwrap(), grid);
        assert_eq!(grid.shard(), DataMapShard::Nw);
        assert!(Grid::from_bytes(&[0; 7]).is_err());
        assert!(Grid::from_bytes(&[0xff; 8]).is_err());
    }
}

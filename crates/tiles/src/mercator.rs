//! Web Mercator ("slippy map") pixel and tile coordinates.
//!
//! The website shows the tiles as a Mapbox raster source (`pipeline.md` §13.5), so they
//! use the standard XYZ scheme: at zoom `z` the world is `2^z × 2^z` tiles of 256 × 256
//! pixels, `x` grows eastwards from 180°W and `y` southwards from 85.0511°N. Points are
//! placed in the pixel that contains them (no anti-aliasing), which keeps the rendering
//! a pure count per pixel: exact, reproducible, and summable from one zoom to the next.

use std::f64::consts::PI;

/// Tile edge in pixels.
pub const TILE_SIZE: u32 = 256;

/// log2 of [`TILE_SIZE`].
pub const TILE_BITS: u32 = 8;

/// The deepest zoom rendered (the reference's `enumerate -z 11`; the website's raster
/// source has `maxzoom 11` and over-zooms to 12).
pub const MAX_ZOOM: u8 = 11;

/// The latitude limit of Web Mercator (the square world).
pub const MAX_LAT: f64 = 85.051_128_779_806_59;

/// The fractional world position of a point: `x` and `y` in `[0, 1]`, `(0, 0)` at the
/// north-west corner. `None` for latitudes outside the Mercator square or non-finite input.
pub fn world(lat: f64, lon: f64) -> Option<(f64, f64)> {
    if !lat.is_finite() || !lon.is_finite() || lat.abs() > MAX_LAT {
        return None;
    }
    let x = (lon + 180.0) / 360.0;
    let phi = lat.to_radians();
    let y = (1.0 - (phi.tan() + 1.0 / phi.cos()).ln() / PI) / 2.0;
    Some((x.clamp(0.0, 1.0), y.clamp(0.0, 1.0)))
}

/// The number of pixels along one side of the world at `zoom` with `tile_size` tiles.
pub fn world_pixels(zoom: u8, tile_size: u32) -> u32 {
    tile_size << zoom
}

/// The global pixel `(x, y)` containing a point at `zoom`, with 256-pixel tiles.
pub fn pixel(lat: f64, lon: f64, zoom: u8) -> Option<(u32, u32)> {
    let (x, y) = world(lat, lon)?;
    let size = world_pixels(zoom, TILE_SIZE);
    Some((to_pixel(x, size), to_pixel(y, size)))
}

/// The pixel row containing a latitude at `zoom`, with the latitude clamped to the
/// Mercator square (used to know which rows can still receive points).
pub fn pixel_row(lat: f64, zoom: u8) -> u32 {
    let lat = if lat.is_nan() {
        0.0
    } else {
        lat.clamp(-MAX_LAT, MAX_LAT)
    };
    world(lat, 0.0).map_or(0, |(_, y)| to_pixel(y, world_pixels(zoom, TILE_SIZE)))
}

fn to_pixel(fraction: f64, size: u32) -> u32 {
    let max = size - 1;
    let scaled = (fraction * f64::from(size)).floor();
    if scaled <= 0.0 {
        0
    } else if scaled >= f64::from(max) {
        max
    } else {
        scaled as u32
    }
}

/// The north-west corner of a tile as `(lat, lon)` in degrees (for tests and tools).
pub fn tile_corner(zoom: u8, x: u32, y: u32) -> (f64, f64) {
    let n = f64::from(1u32 << zoom);
    let lon = f64::from(x) / n * 360.0 - 180.0;
    let lat = (PI * (1.0 - 2.0 * f64::from(y) / n))
        .sinh()
        .atan()
        .to_degrees();
    (lat, lon)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_positions() {
        // Null island is the centre of the world: the corner of four tiles at zoom 1.
        assert_eq!(pixel(0.0, 0.0, 0), Some((128, 128)));
        assert_eq!(pixel(0.0, 0.0, 1), Some((256, 256)));
        // The corners.
        assert_eq!(pixel(MAX_LAT, -180.0, 3), Some((0, 0)));
        assert_eq!(pixel(-MAX_LAT, 180.0, 3), Some((2047, 2047)));
        // Outside the Mercator square.
        assert_eq!(pixel(86.0, 0.0, 3), None);
        assert_eq!(pixel(f64::NAN, 0.0, 3), None);
        // London (51.5074, -0.1278) is in tile 11/1023/681 (the usual OSM tile).
        let (px, py) = pixel(51.5074, -0.1278, 11).unwrap();
        assert_eq!((px >> TILE_BITS, py >> TILE_BITS), (1023, 681));
        // Sydney (-33.8688, 151.2093) is in tile 10/942/614.
        let (px, py) = pixel(-33.8688, 151.2093, 10).unwrap();
        assert_eq!((px >> TILE_BITS, py >> TILE_BITS), (942, 614));
    }

    #[test]
    fn tile_corners_map_to_tile_origins() {
        for (z, x, y) in [
            (0u8, 0u32, 0u32),
            (5, 17, 11),
            (11, 1023, 681),
            (11, 2000, 1500),
        ] {
            let (lat, lon) = tile_corner(z, x, y);
            // Nudge inside the tile to avoid the shared edge.
            let (px, py) = pixel(lat - 1e-9, lon + 1e-9, z).unwrap();
            assert_eq!((px, py), (x * TILE_SIZE, y * TILE_SIZE), "tile {z}/{x}/{y}");
        }
    }

    #[test]
    fn rows_grow_southwards() {
        assert!(pixel_row(10.0, 11) < pixel_row(9.999, 11));
        assert_eq!(pixel_row(90.0, 4), 0);
        assert_eq!(pixel_row(-90.0, 4), world_pixels(4, TILE_SIZE) - 1);
        assert_eq!(pixel_row(51.5074, 11), pixel(51.5074, 3.0, 11).unwrap().1);
    }
}

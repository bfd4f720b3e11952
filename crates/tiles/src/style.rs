//! How point counts become pixels: the reference's tile look.
//!
//! The reference renders with datamaps `render -B 12:0.0379:0.874 -c0088FF -t0 -G 0.5`
//! and quantises to 32 colours (`pipeline.md` §13.2). In datamaps terms every point adds
//! a brightness to its pixel; at the base zoom 12 that is `0.0379`, and each zoom level
//! out multiplies the per-pixel brightness by `1 / 0.874` while a pixel covers four
//! times the area, so a point's share is `0.0379 × 0.874^(z − 12) / 4^(12 − z)`.
//! (datamaps draws only every `2^(12−z)`th point at low zooms and scales the brightness
//! up to compensate; counting every point gives the same expected brightness without the
//! sampling noise.) The sum is capped at 1 and shown with gamma 0.5 as the opacity of a
//! single colour, `#0088FF`, on a fully transparent background. Opacity is quantised to
//! [`LEVELS`] steps, like the reference's 32-colour palette.

/// The colour of observed areas (`-c0088FF`).
pub const COLOR: [u8; 3] = [0x00, 0x88, 0xFF];

/// The zoom at which one point is one pixel (`-B 12:…`).
pub const BASE_ZOOM: i32 = 12;

/// Brightness of one point at the base zoom (`-B …:0.0379:…`).
pub const BASE_BRIGHTNESS: f64 = 0.0379;

/// Per-zoom brightness ramp (`-B …:…:0.874`).
pub const RAMP: f64 = 0.874;

/// Display gamma (`-G 0.5`).
pub const GAMMA: f64 = 0.5;

/// Opacity steps (the reference's 32-colour palette); level 0 is fully transparent.
pub const LEVELS: u8 = 32;

/// The brightness one point adds to its pixel at `zoom` (256-pixel tiles).
pub fn point_brightness(zoom: u8) -> f64 {
    let dz = i32::from(zoom) - BASE_ZOOM;
    BASE_BRIGHTNESS * RAMP.powi(dz) * 4f64.powi(dz)
}

/// The brightness one point adds to a pixel of the 512-pixel zoom-0 tile (`0@2x`): its
/// pixels are zoom-1 pixels, but the image stands for zoom 0, drawn with a brush four
/// pixels in area (datamaps `-T 512`).
pub fn retina_point_brightness() -> f64 {
    point_brightness(0) * 4.0
}

/// The opacity level (0 = transparent … `LEVELS − 1` = opaque) of a pixel holding
/// `count` points, each adding `brightness`.
pub fn level(count: u32, brightness: f64) -> u8 {
    let value = (f64::from(count) * brightness).min(1.0).powf(GAMMA);
    let max = f64::from(LEVELS - 1);
    (value * max).round().clamp(0.0, max) as u8
}

/// The 8-bit alpha of an opacity level.
pub fn alpha(level: u8) -> u8 {
    let max = u32::from(LEVELS - 1);
    let level = u32::from(level).min(max);
    ((level * 255 + max / 2) / max) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brightness_per_zoom() {
        assert!((point_brightness(12) - 0.0379).abs() < 1e-12);
        // One zoom out: four times fewer pixels, each 1/0.874 brighter.
        let z11 = 0.0379 / 0.874 / 4.0;
        assert!((point_brightness(11) - z11).abs() < 1e-12);
        // A fully covered area (one point per zoom-12 pixel) is as bright at any zoom as
        // 0.0379 × (1/0.874)^(12 − z).
        let covered = point_brightness(0) * 4f64.powi(12);
        assert!((covered - 0.0379 / 0.874f64.powi(12)).abs() < 1e-9);
        assert!((retina_point_brightness() - 4.0 * point_brightness(0)).abs() < 1e-15);
    }

    #[test]
    fn levels_and_alpha() {
        assert_eq!(level(0, 0.5), 0);
        assert_eq!(level(2, 0.5), LEVELS - 1);
        assert_eq!(level(1000, 0.5), LEVELS - 1);
        // Gamma 0.5: a quarter of full brightness shows at half opacity.
        assert_eq!(level(1, 0.25), 16);
        assert_eq!(alpha(0), 0);
        assert_eq!(alpha(LEVELS - 1), 255);
        assert_eq!(alpha(200), 255);
        // One fresh cell (six points over a few pixels) is visible at zoom 11.
        assert!(level(2, point_brightness(11)) > 0);
        // Monotonic.
        let levels: Vec<u8> = (0..200).map(|c| level(c, point_brightness(11))).collect();
        assert!(levels.windows(2).all(|w| w[0] <= w[1]));
    }
}

//! Turning one tile's pixel counts into a PNG.
//!
//! A tile has a single colour and varying opacity, so it is written as an indexed PNG:
//! palette entry `i` is [`style::COLOR`] with the alpha of opacity level `i` (a `tRNS`
//! chunk), and the palette stops at the highest level used. That is a few hundred bytes
//! for a sparse tile and the same look as the reference's 32-colour pngquant output,
//! without an external quantiser. The encoding is deterministic, so identical counts give
//! identical bytes and an unchanged tile is recognised by its hash.

use crate::style;

/// One non-empty pixel of a tile: its index (`y × size + x`) and its point count.
pub type PixelCount = (u32, u32);

/// Renders a square tile of `size × size` pixels into PNG bytes. Pixels not listed are
/// transparent; indices outside the tile are ignored.
pub fn render_png(
    size: u32,
    pixels: &[PixelCount],
    brightness: f64,
) -> Result<Vec<u8>, png::EncodingError> {
    let area = (size as usize) * (size as usize);
    let mut indices = vec![0u8; area];
    let mut max_level = 0u8;
    for &(index, count) in pixels {
        if let Some(slot) = indices.get_mut(index as usize) {
            let level = style::level(count, brightness);
            *slot = level;
            max_level = max_level.max(level);
        }
    }
    let entries = usize::from(max_level) + 1;
    let palette: Vec<u8> = (0..entries).flat_map(|_| style::COLOR).collect();
    let trns: Vec<u8> = (0..entries as u8).map(style::alpha).collect();

    let mut out = Vec::with_capacity(256 + area / 16);
    let mut encoder = png::Encoder::new(&mut out, size, size);
    encoder.set_color(png::ColorType::Indexed);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_palette(palette);
    encoder.set_trns(trns);
    encoder.set_compression(png::Compression::Balanced);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(&indices)?;
    writer.finish()?;
    Ok(out)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Decodes a PNG into RGBA pixels (test helper shared with the crate's other tests).
    pub(crate) fn decode_rgba(bytes: &[u8]) -> (u32, u32, Vec<[u8; 4]>) {
        let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
        decoder.set_transformations(png::Transformations::EXPAND);
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!(info.color_type, png::ColorType::Rgba);
        let pixels = buf[..info.buffer_size()]
            .chunks_exact(4)
            .map(|c| [c[0], c[1], c[2], c[3]])
            .collect();
        (info.width, info.height, pixels)
    }

    #[test]
    fn pixels_land_where_they_are_put() {
        let png = render_png(256, &[(0, 100), (256 * 10 + 20, 1), (65_535, 3)], 0.25).unwrap();
        let (w, h, px) = decode_rgba(&png);
        assert_eq!((w, h), (256, 256));
        assert_eq!(px[0], [0x00, 0x88, 0xFF, 255]);
        assert_eq!(px[256 * 10 + 20], [0x00, 0x88, 0xFF, style::alpha(16)]);
        assert_eq!(px[65_535][3], style::alpha(style::level(3, 0.25)));
        assert!(px[65_535][3] > 200);
        let visible = px.iter().filter(|p| p[3] > 0).count();
        assert_eq!(visible, 3);
    }

    #[test]
    fn empty_tile_is_transparent_and_output_is_deterministic() {
        let a = render_png(256, &[], 0.1).unwrap();
        let (_, _, px) = decode_rgba(&a);
        assert!(px.iter().all(|p| p[3] == 0));
        let pixels = [(5, 2), (700, 9)];
        assert_eq!(
            render_png(512, &pixels, 0.01).unwrap(),
            render_png(512, &pixels, 0.01).unwrap()
        );
        // Out-of-range indices are ignored rather than panicking.
        assert!(render_png(256, &[(70_000, 1)], 0.1).is_ok());
    }
}

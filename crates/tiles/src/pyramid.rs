//! The tile pyramid, built in one pass over grid cells sorted by latitude.
//!
//! Rendering a zoom level only needs the number of points per pixel, and a pixel's count
//! at zoom `z` is the sum of its four children at `z + 1`. So points are counted once, at
//! the deepest zoom, and every shallower level is summed from the level below; no point
//! is ever projected twice.
//!
//! Memory stays bounded by one *row of tiles* per level rather than by the datamap: the
//! cells arrive in ascending latitude (the datamap tables' key order), which is
//! descending Mercator `y`. Once a cell at latitude `L` arrives, no later point can fall
//! into a tile row south of `L` (a cell's jitter only moves points north and east, inside
//! the cell), so those rows are complete: they are rendered, handed to the sink, summed
//! into their parent level, and dropped. A level's row is complete when all its child
//! rows are. The 512-pixel `0/0/0@2x` tile is the zoom-1 counts, kept until the end (at
//! most 512 × 512 pixels).
//!
//! The tiles of the rows completed by one step are rendered in parallel on the rayon
//! pool (PNG encoding is the expensive part).

use std::collections::BTreeMap;

use rayon::prelude::*;

use crate::jitter;
use crate::mercator::{self, MAX_ZOOM, TILE_BITS, TILE_SIZE};
use crate::raster::{self, PixelCount};
use crate::style;

/// A row-local pixel key: tile column (bits 16–31), then pixel `y` and `x` inside the tile
/// (8 bits each), so sorting a row's keys groups them by tile.
type RowKey = u32;

/// An accumulator grows to this many entries before it is compacted (sorted and summed).
const COMPACT_AT: usize = 1 << 20;

/// A rendered tile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TileImage {
    /// Zoom level.
    pub zoom: u8,
    /// Column.
    pub x: u32,
    /// Row.
    pub y: u32,
    /// The 512-pixel high-resolution variant (`@2x`, zoom 0 only).
    pub retina: bool,
    /// PNG bytes.
    pub png: Vec<u8>,
}

impl TileImage {
    /// The path below the tile root: `z/x/y.png` or `0/0/0@2x.png`.
    pub fn path(&self) -> String {
        let suffix = if self.retina { "@2x" } else { "" };
        format!("{}/{}/{}{suffix}.png", self.zoom, self.x, self.y)
    }
}

/// What a pyramid has seen and produced.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct PyramidStats {
    /// Grid cells added.
    pub cells: u64,
    /// Jittered points drawn (outside the Mercator square ones are dropped).
    pub points: u64,
    /// Tiles rendered, including `0/0/0@2x`.
    pub tiles: u64,
}

/// Errors of the pyramid.
#[derive(Debug, thiserror::Error)]
pub enum PyramidError {
    /// Cells must come in ascending latitude.
    #[error("grid cells out of latitude order: {got} after {previous}")]
    OutOfOrder {
        /// The latitude (scaled) of the previous cell.
        previous: i32,
        /// The latitude (scaled) that came after it.
        got: i32,
    },
    /// PNG encoding failed.
    #[error("PNG encoding: {0}")]
    Png(#[from] png::EncodingError),
    /// The sink refused a batch of tiles.
    #[error("tile sink: {0}")]
    Sink(String),
}

/// A tile to render: its place and sorted pixel counts (`index = y × size + x`).
struct TileJob {
    zoom: u8,
    x: u32,
    y: u32,
    retina: bool,
    pixels: Vec<PixelCount>,
}

/// Builds the pyramid for zooms `0..=max_zoom`, handing finished tiles to a sink.
pub struct Pyramid<S> {
    max_zoom: u8,
    /// Per zoom: open tile rows → (row key, count) entries, possibly unsorted.
    levels: Vec<BTreeMap<u32, Vec<(RowKey, u32)>>>,
    /// Zoom-1 pixel counts for the `@2x` tile, by `y × 512 + x`.
    retina: Vec<PixelCount>,
    last_lat: Option<i32>,
    stats: PyramidStats,
    sink: S,
}

impl<S> Pyramid<S>
where
    S: FnMut(Vec<TileImage>) -> Result<(), String>,
{
    /// A pyramid for the reference's zoom range (0–11).
    pub fn new(sink: S) -> Pyramid<S> {
        Pyramid::with_max_zoom(MAX_ZOOM, sink)
    }

    /// A pyramid for zooms `0..=max_zoom` (at least 1, at most [`MAX_ZOOM`] + 4).
    pub fn with_max_zoom(max_zoom: u8, sink: S) -> Pyramid<S> {
        let max_zoom = max_zoom.clamp(1, MAX_ZOOM + 4);
        Pyramid {
            max_zoom,
            levels: (0..=max_zoom).map(|_| BTreeMap::new()).collect(),
            retina: Vec::new(),
            last_lat: None,
            stats: PyramidStats::default(),
            sink,
        }
    }

    /// Adds one grid cell (scaled coordinates) last modified `months` months ago. Cells
    /// must come in ascending `lat_scaled`; tile rows south of it are finished first.
    pub fn add_cell(
        &mut self,
        lat_scaled: i32,
        lon_scaled: i32,
        months: u32,
    ) -> Result<(), PyramidError> {
        match self.last_lat {
            Some(previous) if lat_scaled < previous => {
                return Err(PyramidError::OutOfOrder {
                    previous,
                    got: lat_scaled,
                });
            }
            Some(previous) if lat_scaled == previous => {}
            _ => {
                // No point from here on lies south of this latitude.
                let south_edge = f64::from(lat_scaled) / 1000.0;
                let row = mercator::pixel_row(south_edge, self.max_zoom) >> TILE_BITS;
                self.last_lat = Some(lat_scaled);
                self.flush(Some(row))?;
            }
        }
        self.stats.cells += 1;
        let zoom = self.max_zoom;
        for (lat, lon) in jitter::random_points(lat_scaled, lon_scaled, months) {
            let Some((px, py)) = mercator::pixel(lat, lon, zoom) else {
                continue;
            };
            self.stats.points += 1;
            let row = py >> TILE_BITS;
            let entries = self.levels[usize::from(zoom)].entry(row).or_default();
            entries.push((row_key(px, py), 1));
            if entries.len() >= COMPACT_AT {
                compact(entries);
            }
        }
        Ok(())
    }

    /// Finishes every open row and the `@2x` tile; returns the statistics.
    pub fn finish(mut self) -> Result<PyramidStats, PyramidError> {
        self.flush(None)?;
        if !self.retina.is_empty() {
            let mut pixels = std::mem::take(&mut self.retina);
            pixels.sort_unstable();
            let job = TileJob {
                zoom: 0,
                x: 0,
                y: 0,
                retina: true,
                pixels,
            };
            let image = render(job)?;
            self.stats.tiles += 1;
            (self.sink)(vec![image]).map_err(PyramidError::Sink)?;
        }
        Ok(self.stats)
    }

    /// Finishes the rows that lie south of `row` at the deepest zoom (all rows with
    /// `None`), level by level from the deepest up, and renders their tiles.
    fn flush(&mut self, row: Option<u32>) -> Result<(), PyramidError> {
        let mut jobs = Vec::new();
        for zoom in (0..=self.max_zoom).rev() {
            let level = &mut self.levels[usize::from(zoom)];
            let done = match row {
                // Rows strictly greater than the limit are complete.
                Some(limit) => match (limit >> (self.max_zoom - zoom)).checked_add(1) {
                    Some(first) => level.split_off(&first),
                    None => BTreeMap::new(),
                },
                None => std::mem::take(level),
            };
            for (tile_row, mut entries) in done.into_iter().rev() {
                compact(&mut entries);
                self.finish_row(zoom, tile_row, &entries, &mut jobs);
            }
        }
        if jobs.is_empty() {
            return Ok(());
        }
        let images: Vec<TileImage> = jobs.into_par_iter().map(render).collect::<Result<_, _>>()?;
        self.stats.tiles += images.len() as u64;
        (self.sink)(images).map_err(PyramidError::Sink)
    }

    /// Splits a finished, compacted row into tile jobs and sums it into the parent level.
    fn finish_row(
        &mut self,
        zoom: u8,
        tile_row: u32,
        entries: &[(RowKey, u32)],
        jobs: &mut Vec<TileJob>,
    ) {
        let mut current: Option<TileJob> = None;
        for &(key, count) in entries {
            let (tile_x, ly, lx) = split_key(key);
            if current.as_ref().is_none_or(|job| job.x != tile_x) {
                jobs.extend(current.take());
                current = Some(TileJob {
                    zoom,
                    x: tile_x,
                    y: tile_row,
                    retina: false,
                    pixels: Vec::new(),
                });
            }
            if let Some(job) = current.as_mut() {
                job.pixels.push((ly * TILE_SIZE + lx, count));
            }
            let px = (tile_x << TILE_BITS) | lx;
            let py = (tile_row << TILE_BITS) | ly;
            if zoom > 0 {
                let (ppx, ppy) = (px >> 1, py >> 1);
                let parent = self.levels[usize::from(zoom - 1)]
                    .entry(ppy >> TILE_BITS)
                    .or_default();
                parent.push((row_key(ppx, ppy), count));
                if parent.len() >= COMPACT_AT {
                    compact(parent);
                }
            }
            if zoom == 1 {
                self.retina.push((py * 2 * TILE_SIZE + px, count));
            }
        }
        jobs.extend(current);
    }
}

fn row_key(px: u32, py: u32) -> RowKey {
    ((px >> TILE_BITS) << 16) | ((py & (TILE_SIZE - 1)) << 8) | (px & (TILE_SIZE - 1))
}

fn split_key(key: RowKey) -> (u32, u32, u32) {
    (key >> 16, (key >> 8) & 0xff, key & 0xff)
}

/// Sorts entries by key and sums the counts of equal keys.
fn compact(entries: &mut Vec<(RowKey, u32)>) {
    entries.sort_unstable_by_key(|e| e.0);
    let mut out = 0usize;
    for i in 0..entries.len() {
        if out > 0 && entries[out - 1].0 == entries[i].0 {
            entries[out - 1].1 = entries[out - 1].1.saturating_add(entries[i].1);
        } else {
            entries[out] = entries[i];
            out += 1;
        }
    }
    entries.truncate(out);
}

fn render(job: TileJob) -> Result<TileImage, png::EncodingError> {
    let (size, brightness) = if job.retina {
        (2 * TILE_SIZE, style::retina_point_brightness())
    } else {
        (TILE_SIZE, style::point_brightness(job.zoom))
    };
    let png = raster::render_png(size, &job.pixels, brightness)?;
    Ok(TileImage {
        zoom: job.zoom,
        x: job.x,
        y: job.y,
        retina: job.retina,
        png,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raster::tests::decode_rgba;
    use std::collections::BTreeMap;

    fn build(max_zoom: u8, cells: &[(i32, i32, u32)]) -> (BTreeMap<String, Vec<u8>>, PyramidStats) {
        let mut tiles = BTreeMap::new();
        let mut sorted = cells.to_vec();
        sorted.sort();
        let mut pyramid = Pyramid::with_max_zoom(max_zoom, |batch: Vec<TileImage>| {
            for t in batch {
                assert!(
                    tiles.insert(t.path(), t.png).is_none(),
                    "tile rendered twice"
                );
            }
            Ok(())
        });
        for &(lat, lon, months) in &sorted {
            pyramid.add_cell(lat, lon, months).unwrap();
        }
        let stats = pyramid.finish().unwrap();
        (tiles, stats)
    }

    #[test]
    fn one_cell_appears_in_one_tile_per_zoom_at_the_right_pixel() {
        // London, a fresh cell.
        let (tiles, stats) = build(11, &[(51_507, -128, 0)]);
        assert_eq!(stats.cells, 1);
        assert_eq!(stats.points, 6);
        // One tile per zoom 0–11 plus 0/0/0@2x.
        assert_eq!(stats.tiles, 13);
        assert_eq!(tiles.len(), 13);
        assert!(tiles.contains_key("0/0/0@2x.png"));
        for zoom in 0..=11u8 {
            let (px, py) = mercator::pixel(51.5075, -0.1275, zoom).unwrap();
            let path = format!("{zoom}/{}/{}.png", px >> 8, py >> 8);
            assert!(tiles.contains_key(&path), "missing {path}");
        }
        // At zoom 11 the points are drawn where they are: every opaque pixel holds a
        // jittered point, and everything else is transparent.
        let (px, py) = mercator::pixel(51.5075, -0.1275, 11).unwrap();
        let png = &tiles[&format!("11/{}/{}.png", px >> 8, py >> 8)];
        let (_, _, pixels) = decode_rgba(png);
        let expected: std::collections::BTreeSet<u32> = jitter::random_points(51_507, -128, 0)
            .map(|(lat, lon)| {
                let (x, y) = mercator::pixel(lat, lon, 11).unwrap();
                (y & 255) * 256 + (x & 255)
            })
            .collect();
        let drawn: std::collections::BTreeSet<u32> = pixels
            .iter()
            .enumerate()
            .filter(|(_, p)| p[3] > 0)
            .map(|(i, _)| i as u32)
            .collect();
        assert_eq!(drawn, expected);
        for i in &drawn {
            assert_eq!(&pixels[*i as usize][..3], &style::COLOR);
        }
    }

    #[test]
    fn old_cells_are_dropped_and_output_is_stable() {
        let (tiles, stats) = build(11, &[(10_000, 10_000, 12)]);
        assert!(tiles.is_empty());
        assert_eq!(stats.points, 0);

        let cells: Vec<(i32, i32, u32)> = (0..400)
            .map(|i| (-33_900 + i % 20, 151_100 + i / 20, (i % 14) as u32))
            .collect();
        let (a, _) = build(11, &cells);
        let (b, _) = build(11, &cells);
        assert_eq!(a, b);
    }

    #[test]
    fn dense_areas_show_at_low_zoom() {
        // A dense 0.1° × 0.1° block shows at zoom 4 where a single cell would not.
        let mut cells = Vec::new();
        for lat in 40_000..40_100 {
            for lon in -3_750..-3_650 {
                cells.push((lat, lon, 0));
            }
        }
        let (tiles, stats) = build(11, &cells);
        assert_eq!(stats.points, 60_000);
        let (px, py) = mercator::pixel(40.05, -3.7, 4).unwrap();
        let (_, _, pixels) = decode_rgba(&tiles[&format!("4/{}/{}.png", px >> 8, py >> 8)]);
        let centre = ((py & 255) * 256 + (px & 255)) as usize;
        assert!(pixels[centre][3] > 0, "dense block visible at zoom 4");
        // 0.1° spans at most two zoom-4 pixels each way.
        let visible = pixels.iter().filter(|p| p[3] > 0).count();
        assert!((1..=4).contains(&visible), "{visible} pixels");
    }

    #[test]
    fn cells_spanning_many_rows_and_hemispheres() {
        let cells = [
            (-85_050, -179_999, 0),
            (-33_869, 151_209, 0),
            (0, 0, 0),
            (35_999, 4_999, 0),
            (36_000, 5_000, 0),
            (85_050, 179_999, 0),
            (89_000, 0, 0),
        ];
        let (tiles, stats) = build(6, &cells);
        // The cell at 89°N is outside the Mercator square.
        assert_eq!(stats.cells, 7);
        assert_eq!(stats.points, 36);
        assert!(tiles.contains_key("0/0/0.png"));
        assert!(tiles.contains_key("6/0/63.png"));
        assert!(tiles.contains_key("6/63/0.png"));
    }

    #[test]
    fn out_of_order_cells_are_refused() {
        let mut pyramid = Pyramid::new(|_: Vec<TileImage>| Ok(()));
        pyramid.add_cell(10, 0, 0).unwrap();
        pyramid.add_cell(10, -5, 0).unwrap();
        assert!(matches!(
            pyramid.add_cell(9, 0, 0),
            Err(PyramidError::OutOfOrder {
                previous: 10,
                got: 9
            })
        ));
    }

    #[test]
    fn compact_sums_duplicates() {
        let mut entries = vec![(5, 1), (2, 1), (5, 3), (2, 2), (9, 1)];
        compact(&mut entries);
        assert_eq!(entries, [(2, 3), (5, 4), (9, 1)]);
    }
}

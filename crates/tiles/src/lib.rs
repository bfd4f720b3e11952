//! `ichnaea-tiles`: renders the coverage map from the datamap tables into a PNG tile
//! pyramid in the object store (`pipeline.md` §13).
//!
//! The reference exports the datamap to CSV, builds quadtree files with the external
//! datamaps tools, renders each tile with them and quantises with pngquant. This crate
//! does the same job in one process with no external tools and no intermediate files:
//!
//! * [`jitter`]: each grid cell becomes up to six points at stable pseudo-random offsets
//!   (the reference's tables), so the map hides exact positions and unchanged data gives
//!   unchanged tiles;
//! * [`mercator`]: Web Mercator tile and pixel coordinates, zooms 0–11;
//! * [`style`]: the reference's look (colour `#0088FF`, brightness ramp, gamma 0.5, 32
//!   opacity levels on a transparent background);
//! * [`raster`]: one tile's pixel counts → an indexed PNG;
//! * [`pyramid`]: counts points once at zoom 11 and sums them up the levels, streaming
//!   rows of tiles in latitude order so memory stays bounded;
//! * [`source`]: reads the four datamap tables as one latitude-ordered stream;
//! * [`store`]: uploads only new or changed tiles, deletes stale ones;
//! * [`mod@run`]: joins them with bounded channels.

pub mod jitter;
pub mod mercator;
pub mod pyramid;
pub mod raster;
pub mod run;
pub mod source;
pub mod store;
pub mod style;

pub use run::{RunOptions, RunStats, run};
pub use store::TileStore;

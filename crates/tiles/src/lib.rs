//! `ichnaea-tiles`: renders the coverage map tiles from the datamap tables to the object
//! store.
//!
//! Rendering is not built yet; the binary exists so deployments and scripts can already
//! refer to it, and it says plainly that it has nothing to do.

/// The message printed by the binary until rendering exists.
pub const NOT_BUILT: &str =
    "tile rendering is not implemented yet; the datamap tables are not rendered";

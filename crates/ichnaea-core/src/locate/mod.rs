//! The locate algorithm: from a query's observations, the station rows loaded for them
//! and the client's GeoIP record to candidate positions and regions and the answer
//! (`api.md` §8, §10.2, §11).
//!
//! Everything here is pure: no IO, no clock. The service loads rows, looks up the IP
//! and calls the provider, and passes `now` in; this module holds every rule that
//! decides the answer, so the rules can be tested with exact numbers. The modules follow
//! the reference's structure:
//!
//! * [`query`]: the normalized query and its expected accuracy;
//! * [`station`], [`score`], [`crate::time`]: station rows, which rows may be used, how far
//!   each is trusted;
//! * [`mac`] (shared by [`wifi`] and [`blue`]), [`cell`], [`geoip`]: the sources;
//! * [`result`]: candidates and the choice of the answer; [`search`]: the order of the
//!   sources; [`fallback`]: the pure parts of the external provider; [`export`]:
//!   whether a query feeds the pipeline;
//! * [`constants`], [`region_radius`]: reference data; [`crate::numeric`], [`minpack`],
//!   [`linkage`]: the numerical routines the reference takes from NumPy and SciPy.
//!
//! A position request runs, in order: [`search::position_candidates`];
//! [`export::export_candidate`] on its `internal` list;
//! [`fallback::fallback_should_search`] on its `all` list (then the provider, whose
//! answer [`fallback::ExternalResult::to_position`] adds); and
//! [`result::PositionResults::best`]. A region request runs
//! [`search::region_candidates`] and [`result::RegionResults::best`].
//!
//! Deliberate differences from the reference are documented where they live:
//! [`mac`] (the station sample of large clusters), [`fallback`] (cache agreement uses
//! the longitude), [`cell`] (NR, missing radii), [`station`]/[`score`] (missing
//! values), [`geoip`] (regions outside the table).

pub mod blue;
pub mod cell;
pub mod constants;
pub mod export;
pub mod fallback;
pub mod geoip;
pub mod linkage;
pub mod mac;
pub mod minpack;

pub mod query;
pub mod region_radius;
pub mod result;
pub mod score;
pub mod search;
pub mod station;

pub mod wifi;

pub use crate::time::{Date, DateTime};
pub use constants::{DataAccuracy, DataSource};
pub use query::{
    ApiType, AreaObservation, BlueObservation, CellObservation, FallbackFlags, LocateQuery,
    QueryInput, RequestedFallbacks, WifiObservation,
};
pub use result::{FallbackTag, PositionResult, PositionResults, RegionResult, RegionResults};
pub use station::{AreaStation, CellStation, MacStation, Station};

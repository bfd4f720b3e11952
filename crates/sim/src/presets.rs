//! Dataset sizes, from a CI-sized town to a city with a million stations.
//!
//! One preset fixes both the world and the traffic, so a size name plus a seed is all it
//! takes to reproduce a dataset exactly.

use clap::ValueEnum;
use serde::{Deserialize, Serialize};

use crate::geo::Frame;
use crate::world::WorldConfig;

/// Named dataset sizes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Size {
    /// A 2 × 2 km town, ~10 000 observations: the CI accuracy test.
    Tiny,
    /// A 6 × 6 km district, ~0.3 million observations.
    Small,
    /// A 20 × 20 km city with 200 000 access points, ~3 million observations.
    Medium,
    /// A 20 × 20 km city with 1 million access points, ≥ 10 million observations.
    Large,
}

/// How much contributors and queriers do.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TrafficConfig {
    /// Training reports to generate (trips are added until this is reached).
    pub reports: u64,
    /// Reports per trip, inclusive range.
    pub trip_reports: (u32, u32),
    /// Queries per query kind.
    pub queries_per_kind: u32,
    /// Spacing of the street grid, metres.
    pub street_spacing: f64,
}

/// Start of every preset's simulated period: 2026-01-01T00:00:00Z.
pub const START_MS: i64 = 1_767_225_600_000;

impl Size {
    /// The world of this size.
    pub fn world(self, seed: u64) -> WorldConfig {
        let (size_m, wifi, blue, sites) = match self {
            Size::Tiny => (2_000.0, 600, 150, 6),
            Size::Small => (6_000.0, 20_000, 2_000, 60),
            Size::Medium => (20_000.0, 200_000, 20_000, 300),
            Size::Large => (20_000.0, 1_000_000, 100_000, 600),
        };
        WorldConfig {
            seed,
            centre: Frame {
                lat: 52.52,
                lon: 13.405,
            },
            size_m,
            wifi,
            blue,
            sites,
            centre_share: 0.5,
            moving_fraction: 0.02,
            replanned_fraction: 0.03,
            hidden_fraction: 0.05,
            nomap_fraction: 0.03,
            start_ms: START_MS,
            period_ms: 7 * 86_400_000,
            mcc: 262,
            operators: vec![1, 2, 3],
        }
    }

    /// The traffic of this size.
    pub fn traffic(self) -> TrafficConfig {
        match self {
            Size::Tiny => TrafficConfig {
                reports: 1_500,
                trip_reports: (20, 60),
                queries_per_kind: 40,
                street_spacing: 100.0,
            },
            Size::Small => TrafficConfig {
                reports: 20_000,
                trip_reports: (40, 200),
                queries_per_kind: 500,
                street_spacing: 120.0,
            },
            Size::Medium => TrafficConfig {
                reports: 150_000,
                trip_reports: (60, 300),
                queries_per_kind: 2_000,
                street_spacing: 150.0,
            },
            Size::Large => TrafficConfig {
                reports: 500_000,
                trip_reports: (60, 400),
                queries_per_kind: 5_000,
                street_spacing: 150.0,
            },
        }
    }
}

#![doc = include_str!("../README.md")]

mod mcc_table;

use std::cell::OnceCell;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Arc;

use country_boundaries::{BOUNDARIES_ODBL_360X180, BoundingBox, CountryBoundaries, LatLon};
use ichnaea_core::locate::cell::MccRegions;
use ichnaea_core::locate::region_radius;
use ichnaea_core::pipeline::RegionLookup;

pub use ichnaea_core::locate::region_radius::Region;
pub use ichnaea_core::pipeline::RegionCode;

/// Radius of the buffer around every region, in degrees of latitude and longitude (planar,
/// like the reference's `regions_buffer.geojson`): a point belongs to a region's buffered
/// shape when some land of that region lies within this distance of it.
pub const BUFFER_DEGREES: f64 = 0.5;

/// Spacing of the probe grid that approximates the buffer, in degrees (about 5.6 km of
/// latitude).
pub const PROBE_SPACING_DEGREES: f64 = 0.05;

/// Boundary ids of the data set that name a GENC region under another code. Every other id
/// names the region of the same code, if that code is a valid region, or nothing.
const ID_ALIASES: &[(&str, &str)] = &[
    // The reference maps ISO 3166 `PS` (West Bank and Gaza) to GENC `XW`.
    ("PS", "XW"),
    // The data set has no `XR`; Svalbard is the Norwegian subdivision NO-21. (Jan Mayen,
    // NO-22, has no GENC region of its own in A.1 and stays part of Norway.)
    ("NO-21", "XR"),
];

/// Why the geocoder could not be built.
#[derive(Debug, thiserror::Error)]
pub enum GeocodeError {
    /// The embedded boundary data did not deserialize.
    #[error("cannot read the embedded country boundaries: {0}")]
    Boundaries(#[from] country_boundaries::ReadError),
    /// The generated MCC table names a code that is not a known region.
    #[error("the MCC table names {code:?} for MCC {mcc}, which is not a known region")]
    MccTable {
        /// The MCC of the bad entry.
        mcc: u16,
        /// The unknown region code.
        code: &'static str,
    },
}

/// The region geocoder: which region a position is in, which regions an MCC belongs to.
///
/// Build it once with [`Geocoder::new`] (it deserializes about 1 MB of embedded boundary
/// data) and share it: cloning is a reference-count increment.
#[derive(Clone)]
pub struct Geocoder {
    inner: Arc<Inner>,
}

struct Inner {
    boundaries: CountryBoundaries,
    /// Boundary id → the region it names.
    region_by_id: HashMap<&'static str, RegionCode>,
    /// Region → the boundary id that names it.
    id_by_region: HashMap<RegionCode, &'static str>,
    /// `(mcc, regions)`, sorted by MCC.
    mcc_regions: Vec<(u16, Vec<RegionCode>)>,
    /// The probe grid, nearest first.
    probes: Vec<Probe>,
}

/// One point of the probe grid: an offset of `(i, j)` grid steps in latitude and longitude.
#[derive(Debug, Clone, Copy)]
struct Probe {
    /// Distance from the centre in grid steps.
    steps: f64,
    dlat: f64,
    dlon: f64,
}

/// Bisection steps that locate a region's edge between the position and a probe on its
/// land: the edge is then known to 1/64 of the probe distance (at most 0.008°, 900 m).
const EDGE_BISECTIONS: u32 = 6;

impl Geocoder {
    /// Loads the embedded boundaries and the MCC table.
    ///
    /// Fails only if the data compiled into the binary is corrupt, so a caller may treat an
    /// error as a startup failure.
    pub fn new() -> Result<Geocoder, GeocodeError> {
        let boundaries = CountryBoundaries::from_reader(BOUNDARIES_ODBL_360X180)?;

        // Each region is named by the boundary id of the same code, or by its alias.
        let mut region_by_id = HashMap::new();
        let mut id_by_region = HashMap::new();
        for region in &region_radius::REGIONS {
            let Some(code) = RegionCode::new(region.code) else {
                continue;
            };
            let id = ID_ALIASES
                .iter()
                .find(|(_, target)| *target == region.code)
                .map_or(region.code, |(id, _)| id);
            region_by_id.insert(id, code);
            id_by_region.insert(code, id);
        }

        let mut mcc_regions = Vec::with_capacity(mcc_table::MCC_REGIONS.len());
        for &(mcc, codes) in mcc_table::MCC_REGIONS {
            let mut regions = Vec::with_capacity(codes.len());
            for &code in codes {
                let region = region_radius::region_for_code(code)
                    .and_then(|r| RegionCode::new(r.code))
                    .ok_or(GeocodeError::MccTable { mcc, code })?;
                regions.push(region);
            }
            mcc_regions.push((mcc, regions));
        }
        mcc_regions.sort_unstable_by_key(|(mcc, _)| *mcc);

        Ok(Geocoder {
            inner: Arc::new(Inner {
                boundaries,
                region_by_id,
                id_by_region,
                mcc_regions,
                probes: probe_grid(),
            }),
        })
    }

    /// The region of a position: the region whose land contains it, else the nearest region
    /// with land within [`BUFFER_DEGREES`]; `None` elsewhere (open sea, Antarctica, invalid
    /// coordinates). See the crate documentation for the rules.
    pub fn region(&self, lat: f64, lon: f64) -> Option<RegionCode> {
        Position::new(&self.inner, lat, lon)?.region()
    }

    /// Whether the buffered shape of `code` contains the position: whether land of that
    /// region lies within [`BUFFER_DEGREES`]. False for codes that are not regions.
    pub fn in_region(&self, lat: f64, lon: f64, code: RegionCode) -> bool {
        Position::new(&self.inner, lat, lon).is_some_and(|at| at.in_region(code))
    }

    /// Whether any region's buffered shape contains the position (reports elsewhere are
    /// invalid).
    pub fn any_region(&self, lat: f64, lon: f64) -> bool {
        Position::new(&self.inner, lat, lon).is_some_and(|at| at.any_region())
    }

    /// The region of a position for a cell of country code `mcc`: the MCC's regions whose
    /// buffered shape contains the position; none → `None`, one → it, several →
    /// [`Geocoder::region`] (which, as in the reference, may name a region outside the
    /// MCC's list).
    pub fn region_for_cell(&self, lat: f64, lon: f64, mcc: u16) -> Option<RegionCode> {
        let regions = self.regions_for_mcc(mcc);
        if regions.is_empty() {
            return None;
        }
        let at = Position::new(&self.inner, lat, lon)?;
        let mut found = None;
        for &code in regions {
            if at.in_region(code) {
                if found.is_some() {
                    return at.region();
                }
                found = Some(code);
            }
        }
        found
    }

    /// The regions of a mobile country code, sorted; empty for unknown MCCs.
    pub fn regions_for_mcc(&self, mcc: u16) -> &[RegionCode] {
        let table = &self.inner.mcc_regions;
        table
            .binary_search_by_key(&mcc, |(m, _)| *m)
            .map_or(&[], |i| table[i].1.as_slice())
    }

    /// The GENC code, name and radius of a region (`api.md` Appendix A.1); `None` for codes
    /// that are not regions, such as `XX` or lowercase `us`.
    pub fn region_for_code(&self, code: &str) -> Option<&'static Region> {
        region_radius::region_for_code(code)
    }
}

impl fmt::Debug for Geocoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Geocoder")
            .field("regions", &self.inner.id_by_region.len())
            .field("mccs", &self.inner.mcc_regions.len())
            .field("probes", &self.inner.probes.len())
            .finish_non_exhaustive()
    }
}

impl RegionLookup for Geocoder {
    fn region(&self, lat: f64, lon: f64) -> Option<RegionCode> {
        Geocoder::region(self, lat, lon)
    }

    fn in_region(&self, lat: f64, lon: f64, code: RegionCode) -> bool {
        Geocoder::in_region(self, lat, lon, code)
    }

    fn any_region(&self, lat: f64, lon: f64) -> bool {
        Geocoder::any_region(self, lat, lon)
    }

    fn region_for_cell(&self, lat: f64, lon: f64, mcc: u16) -> Option<RegionCode> {
        Geocoder::region_for_cell(self, lat, lon, mcc)
    }
}

impl MccRegions for Geocoder {
    fn regions_for_mcc(&self, mcc: u16) -> Vec<&str> {
        Geocoder::regions_for_mcc(self, mcc)
            .iter()
            .map(RegionCode::as_str)
            .collect()
    }
}

/// The probe grid: every point of a square grid of [`PROBE_SPACING_DEGREES`] within
/// [`BUFFER_DEGREES`] of the centre (the centre excluded), nearest first.
fn probe_grid() -> Vec<Probe> {
    let steps = (BUFFER_DEGREES / PROBE_SPACING_DEGREES).round() as i32;
    let mut probes = Vec::new();
    for i in -steps..=steps {
        for j in -steps..=steps {
            let steps_squared = i * i + j * j;
            if steps_squared > 0 && steps_squared <= steps * steps {
                probes.push((
                    steps_squared,
                    i,
                    j,
                    Probe {
                        steps: f64::from(steps_squared).sqrt(),
                        dlat: f64::from(i) * PROBE_SPACING_DEGREES,
                        dlon: f64::from(j) * PROBE_SPACING_DEGREES,
                    },
                ));
            }
        }
    }
    probes.sort_unstable_by_key(|&(d, i, j, _)| (d, i, j));
    probes.into_iter().map(|(_, _, _, probe)| probe).collect()
}

/// One position being geocoded, with what has been learnt about it so far: several
/// questions about the same position (as in `region_for_cell`) share the lookups.
struct Position<'a> {
    inner: &'a Inner,
    lat: f64,
    lon: f64,
    /// The region whose land contains the position.
    owner: Option<RegionCode>,
    /// The ids of regions in the boundary raster cells within the buffer, once needed.
    nearby: OnceCell<HashSet<&'a str>>,
}

impl<'a> Position<'a> {
    /// `None` for coordinates that are not finite or outside ±90° latitude.
    fn new(inner: &'a Inner, lat: f64, lon: f64) -> Option<Position<'a>> {
        let point = LatLon::new(lat, lon).ok()?;
        Some(Position {
            inner,
            lat,
            lon,
            owner: inner.owner(point),
            nearby: OnceCell::new(),
        })
    }

    /// Candidate ids for the buffer: the region ids of every raster cell the buffer's
    /// bounding box touches. Empty means no region within the buffer (open sea), which
    /// answers most off-shore questions without probing.
    fn nearby(&self) -> &HashSet<&'a str> {
        let inner = self.inner;
        let (lat, lon) = (self.lat, self.lon);
        self.nearby.get_or_init(|| {
            let min_lat = (lat - BUFFER_DEGREES).max(-90.0);
            let max_lat = (lat + BUFFER_DEGREES).min(90.0);
            BoundingBox::new(min_lat, lon - BUFFER_DEGREES, max_lat, lon + BUFFER_DEGREES)
                .map(|bbox| {
                    inner
                        .boundaries
                        .intersecting_ids(bbox)
                        .into_iter()
                        .filter(|id| inner.region_by_id.contains_key(id))
                        .collect()
                })
                .unwrap_or_default()
        })
    }

    /// The point at `fraction` of the way to a probe; `None` beyond a pole.
    fn towards(&self, probe: &Probe, fraction: f64) -> Option<LatLon> {
        LatLon::new(
            self.lat + fraction * probe.dlat,
            self.lon + fraction * probe.dlon,
        )
        .ok()
    }

    /// The probe points around the position, nearest first.
    fn probes(&self) -> impl Iterator<Item = (&'a Probe, LatLon)> + '_ {
        self.inner
            .probes
            .iter()
            .filter_map(|probe| self.towards(probe, 1.0).map(|point| (probe, point)))
    }

    /// How far towards `probe` (which is on land of the region named by `id`) the region
    /// starts, in grid steps, by bisection between the position (outside every region) and
    /// the probe.
    fn edge_distance(&self, probe: &Probe, id: &str) -> f64 {
        let (mut outside, mut inside) = (0.0, 1.0);
        for _ in 0..EDGE_BISECTIONS {
            let middle = (outside + inside) / 2.0;
            if self
                .towards(probe, middle)
                .is_some_and(|point| self.inner.boundaries.is_in(point, id))
            {
                inside = middle;
            } else {
                outside = middle;
            }
        }
        inside * probe.steps
    }

    fn region(&self) -> Option<RegionCode> {
        if self.owner.is_some() {
            return self.owner;
        }
        let inner = self.inner;
        let nearby = self.nearby();
        if nearby.is_empty() {
            return None;
        }
        // The nearest region wins. The first probe on land bounds the distance to the
        // nearest edge; the edges towards it and towards every probe on land up to one grid
        // step farther are located by bisection, and the nearest edge's region is the
        // answer. Equally near edges go to the smaller code, so the answer never depends on
        // the probe order.
        let mut first_hit: Option<f64> = None;
        let mut best: Option<(f64, RegionCode)> = None;
        for (probe, point) in self.probes() {
            if first_hit.is_some_and(|steps| probe.steps > steps + 1.0) {
                break;
            }
            if !inner.boundaries.is_in_any(point, nearby) {
                continue;
            }
            let Some(code) = inner.owner(point) else {
                continue;
            };
            let Some(&id) = inner.id_by_region.get(&code) else {
                continue;
            };
            first_hit.get_or_insert(probe.steps);
            let distance = self.edge_distance(probe, id);
            let nearer = match best {
                None => true,
                Some((d, current)) => distance < d || (distance == d && code < current),
            };
            if nearer {
                best = Some((distance, code));
            }
        }
        best.map(|(_, code)| code)
    }

    fn in_region(&self, code: RegionCode) -> bool {
        if self.owner == Some(code) {
            return true;
        }
        let inner = self.inner;
        let Some(&id) = inner.id_by_region.get(&code) else {
            return false;
        };
        // Also false for a region without land in the data (Antarctica).
        if !self.nearby().contains(id) {
            return false;
        }
        // A probe counts when the region owns the land there: Guam is `US` land too in the
        // data, but it is Guam's, not the United States'.
        self.probes()
            .any(|(_, point)| inner.boundaries.is_in(point, id) && inner.owner(point) == Some(code))
    }

    fn any_region(&self) -> bool {
        if self.owner.is_some() {
            return true;
        }
        let inner = self.inner;
        let nearby = self.nearby();
        !nearby.is_empty()
            && self
                .probes()
                .any(|(_, point)| inner.boundaries.is_in_any(point, nearby))
    }
}

impl Inner {
    /// The region that owns a point: the smallest valid region containing it. The data
    /// nests territories in their countries (Guam in the United States, Hong Kong in
    /// China, Åland in Finland) and `ids` lists the smallest first, so this is the most
    /// specific valid region, and invalid ones (`AX`) fall back to their parent (`FI`).
    fn owner(&self, point: LatLon) -> Option<RegionCode> {
        self.boundaries
            .ids(point)
            .into_iter()
            .find_map(|id| self.region_by_id.get(id).copied())
    }
}

#[cfg(test)]
mod tests;

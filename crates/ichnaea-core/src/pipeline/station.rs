//! The station state machine: how one batch of observations changes one station row
//! (`pipeline.md` §5.2–§5.8).
//!
//! A station's row is a model of where it is. New observations either agree with the model
//! (the position is refined or just confirmed), or they do not — then the station may have
//! moved, and it is blocked for a while instead of being trusted. Positions derived from the
//! service's own answers (`query` observations) are weaker evidence than GNSS fixes: they
//! can create and confirm stations, but never move a GNSS-based one.
//!
//! [`update_station`] runs the whole decision for one station: block check, source
//! selection, aggregation, classification, the transition table and the exact row values
//! per transition. The caller persists the returned row; see [`Transition::write_kind`] for
//! which columns each transition writes.
//!
//! Not idempotent: applying the same observations twice merges them twice (see the module
//! documentation of [`crate::pipeline`]).

use crate::enums::ReportSource;
use crate::geo;
use crate::ids::{CellAreaId, CellId, Mac};
use crate::numeric::pairwise_sum;
use crate::pipeline::observation::StationObservation;
use crate::pipeline::region::{RegionCode, RegionLookup};
use crate::pipeline::{
    MAX_OLD_DAYS, MAX_OLD_WEIGHT, MAX_SAMPLES, MAX_WEIGHT, StationKind, TEMPORARY_BLOCK_DAYS,
};
use crate::time::{Date, DateTime};

/// The primary key of a station row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StationKey {
    /// A Bluetooth beacon or WiFi access point (`mac` column).
    Mac(Mac),
    /// A cell (`cellid` column plus `radio`, `mcc`, `mnc`, `lac`, `cid`).
    Cell(CellId),
}

impl StationKey {
    /// The MAC, for Bluetooth and WiFi stations.
    pub fn mac(&self) -> Option<Mac> {
        match self {
            StationKey::Mac(mac) => Some(*mac),
            StationKey::Cell(_) => None,
        }
    }

    /// The cell id, for cells.
    pub fn cell(&self) -> Option<CellId> {
        match self {
            StationKey::Mac(_) => None,
            StationKey::Cell(cell) => Some(*cell),
        }
    }

    /// The location area of a cell, whose aggregate must be recomputed when the cell changes.
    pub fn area(&self) -> Option<CellAreaId> {
        self.cell().map(|cell| cell.area())
    }
}

/// A station row, column for column (`pipeline.md` §2.3). `None` is SQL `NULL`.
#[derive(Debug, Clone, PartialEq)]
pub struct StationRow {
    /// The key columns (`mac`, or `cellid` with `radio, mcc, mnc, lac, cid`).
    pub key: StationKey,
    /// `psc` (cells only; always `None` for Bluetooth and WiFi).
    pub psc: Option<i16>,
    /// `lat`: position estimate; `None` when blocked or never positioned.
    pub lat: Option<f64>,
    /// `lon`.
    pub lon: Option<f64>,
    /// `max_lat`: bounding box of the observations merged into the position.
    pub max_lat: Option<f64>,
    /// `min_lat`.
    pub min_lat: Option<f64>,
    /// `max_lon`.
    pub max_lon: Option<f64>,
    /// `min_lon`.
    pub min_lon: Option<f64>,
    /// `created`.
    pub created: Option<DateTime>,
    /// `modified`: last position or block change.
    pub modified: Option<DateTime>,
    /// `radius`: metres from the position to the farthest bounding box corner.
    pub radius: Option<u32>,
    /// `region`.
    pub region: Option<RegionCode>,
    /// `samples`: observations merged.
    pub samples: Option<u32>,
    /// `source` of the position (GNSS or query when written by the updater).
    pub source: Option<ReportSource>,
    /// `weight`: sum of merged observation weights.
    pub weight: Option<f64>,
    /// `last_seen`: last day confirmed or changed.
    pub last_seen: Option<Date>,
    /// `block_first`: first day blocked.
    pub block_first: Option<Date>,
    /// `block_last`: last day blocked.
    pub block_last: Option<Date>,
    /// `block_count`: times blocked.
    pub block_count: Option<u8>,
}

impl StationRow {
    /// A row with only its key set.
    pub fn new(key: StationKey) -> StationRow {
        StationRow {
            key,
            psc: None,
            lat: None,
            lon: None,
            max_lat: None,
            min_lat: None,
            max_lon: None,
            min_lon: None,
            created: None,
            modified: None,
            radius: None,
            region: None,
            samples: None,
            source: None,
            weight: None,
            last_seen: None,
            block_first: None,
            block_last: None,
            block_count: None,
        }
    }

    /// The position, if both `lat` and `lon` are set.
    pub fn position(&self) -> Option<(f64, f64)> {
        self.lat.zip(self.lon)
    }

    /// Whether the station is blocked on `today` ([`station_blocked`]).
    pub fn is_blocked(&self, today: Date) -> bool {
        station_blocked(self, today)
    }
}

/// Whether a station is blocked on `today` (`pipeline.md` §5.2):
///
/// * **temporarily**: `block_last` is set and `today − block_last < 2` days (the day of
///   blocking and the next);
/// * **long-term**: `created` and a non-zero `block_count` are set and
///   `block_count ≥ round(|today − created| days / 30)`, rounding half to even like Python
///   (45 days → 2, 75 days → 2, 15 days → 0; quirk 9, kept). A station blocked more often
///   than its age in 30-day months stays blocked.
pub fn station_blocked(row: &StationRow, today: Date) -> bool {
    if let Some(last) = row.block_last
        && today.days_since(last) < TEMPORARY_BLOCK_DAYS
    {
        return true;
    }
    match (row.created, row.block_count) {
        (Some(created), Some(count)) if count > 0 => {
            u64::from(count) >= long_term_block_threshold(today.days_since(created.date()))
        }
        _ => false,
    }
}

/// `round(|age_days| / 30)` with ties to even: the number of blocks a station of this age
/// may have had and still be used.
pub fn long_term_block_threshold(age_days: i64) -> u64 {
    (age_days.unsigned_abs() as f64 / 30.0).round_ties_even() as u64
}

/// A bounding box in degrees.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BBox {
    /// Northern edge.
    pub max_lat: f64,
    /// Southern edge.
    pub min_lat: f64,
    /// Eastern edge.
    pub max_lon: f64,
    /// Western edge.
    pub min_lon: f64,
}

impl BBox {
    /// The box of one point.
    pub fn point(lat: f64, lon: f64) -> BBox {
        BBox {
            max_lat: lat,
            min_lat: lat,
            max_lon: lon,
            min_lon: lon,
        }
    }

    /// Grows the box to include a latitude and a longitude; NaN values are ignored (numpy's
    /// `nanmax` / `nanmin`).
    fn include(&mut self, lat: Option<f64>, lon: Option<f64>) {
        if let Some(lat) = lat {
            self.max_lat = self.max_lat.max(lat);
            self.min_lat = self.min_lat.min(lat);
        }
        if let Some(lon) = lon {
            self.max_lon = self.max_lon.max(lon);
            self.min_lon = self.min_lon.min(lon);
        }
    }

    /// The geodesic length of the diagonal, metres.
    pub fn diagonal(&self) -> f64 {
        geo::distance(self.min_lat, self.min_lon, self.max_lat, self.max_lon)
    }

    /// The distance from `(lat, lon)` to the farthest corner, whole metres (half to even).
    pub fn radius_from(&self, lat: f64, lon: f64) -> u32 {
        geo::circle_radius(
            lat,
            lon,
            self.max_lat,
            self.max_lon,
            self.min_lat,
            self.min_lon,
        )
    }
}

/// The aggregate of a station's selected observations ("obs data", `pipeline.md` §5.4).
#[derive(Debug, Clone, PartialEq)]
pub struct ObsAggregate {
    /// Weight-weighted mean latitude.
    pub lat: f64,
    /// Weight-weighted mean longitude.
    pub lon: f64,
    /// Bounding box of the observation positions.
    pub bbox: BBox,
    /// `circle_radius` of the mean position and the box.
    pub radius: u32,
    /// Number of observations (capped at [`MAX_SAMPLES`]).
    pub samples: u32,
    /// Sum of the observation weights (capped at [`MAX_WEIGHT`]).
    pub weight: f64,
}

/// Aggregates observations; `None` if they are **inconsistent** (the diagonal of their
/// bounding box exceeds `kind.max_dist()`) or there are none.
///
/// Sums follow numpy's evaluation order so results match the reference to the last bit in
/// practice: the weighted coordinate sums are sequential (an axis-0 reduction) and the
/// weight sum is numpy's pairwise summation.
pub fn aggregate_observations<O: StationObservation>(
    kind: StationKind,
    observations: &[&O],
) -> Option<ObsAggregate> {
    let (first, rest) = observations.split_first()?;
    let first = first.report();
    let mut bbox = BBox::point(first.lat, first.lon);
    for obs in rest {
        bbox.include(Some(obs.report().lat), Some(obs.report().lon));
    }
    if bbox.diagonal() > kind.max_dist() {
        return None;
    }
    let weights: Vec<f64> = observations.iter().map(|o| o.weight()).collect();
    let total = pairwise_sum(&weights);
    let (mut lat_sum, mut lon_sum) = (0.0, 0.0);
    for (obs, w) in observations.iter().zip(&weights) {
        lat_sum += obs.report().lat * w;
        lon_sum += obs.report().lon * w;
    }
    let (lat, lon) = (lat_sum / total, lon_sum / total);
    Some(ObsAggregate {
        lat,
        lon,
        bbox,
        radius: bbox.radius_from(lat, lon),
        samples: bounded_samples(observations.len() as u64),
        weight: total.min(MAX_WEIGHT),
    })
}

fn bounded_samples(samples: u64) -> u32 {
    u32::try_from(samples).unwrap_or(MAX_SAMPLES)
}

/// The values of a weighted merge of obs data into an existing row (`pipeline.md` §5.8).
#[derive(Debug, Clone, PartialEq)]
pub struct MergedPosition {
    /// New latitude.
    pub lat: f64,
    /// New longitude.
    pub lon: f64,
    /// New bounding box.
    pub bbox: BBox,
    /// New radius.
    pub radius: u32,
    /// New region.
    pub region: Option<RegionCode>,
    /// New sample count.
    pub samples: u32,
    /// New stored weight.
    pub weight: f64,
}

/// Merges obs data into an existing row (the **change** transition):
///
/// * bounding box: NaN-ignoring extremes of the observation box and the row's position,
///   `(max_lat, max_lon)` and `(min_lat, min_lon)`;
/// * position: weighted mean of the obs position (obs weight) and the row position (row
///   weight capped at 10 000; 0 if the row has no position);
/// * region: kept if still inside the row region's buffered shape, else looked up again;
/// * samples and weight: sums, capped (the stored weight is not capped at 10 000).
///
/// A row with NULL weight (imported) is re-positioned entirely by its first change while
/// keeping its box and sample count (quirk 8, kept).
pub fn merge_position(
    row: &StationRow,
    obs: &ObsAggregate,
    regions: &dyn RegionLookup,
) -> MergedPosition {
    let mut bbox = obs.bbox;
    bbox.include(row.lat, row.lon);
    bbox.include(row.max_lat, row.max_lon);
    bbox.include(row.min_lat, row.min_lon);
    let old_weight = match row.position() {
        None => 0.0,
        Some(_) => row.weight.unwrap_or(0.0).min(MAX_OLD_WEIGHT),
    };
    let lat =
        (obs.lat * obs.weight + row.lat.unwrap_or(0.0) * old_weight) / (obs.weight + old_weight);
    let lon =
        (obs.lon * obs.weight + row.lon.unwrap_or(0.0) * old_weight) / (obs.weight + old_weight);
    let region = row
        .region
        .filter(|&code| regions.in_region(lat, lon, code))
        .or_else(|| regions.region(lat, lon));
    let samples = u64::from(row.samples.unwrap_or(0)) + u64::from(obs.samples);
    MergedPosition {
        lat,
        lon,
        bbox,
        radius: bbox.radius_from(lat, lon),
        region,
        samples: bounded_samples(samples),
        weight: (row.weight.unwrap_or(0.0) + obs.weight).min(MAX_WEIGHT),
    }
}

/// The source group used for a station (`pipeline.md` §5.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SelectedSource {
    /// At least one non-query observation (gnss, fused, fixed or unknown source).
    Gnss,
    /// Only query observations.
    Query,
}

impl SelectedSource {
    /// The `source` column value written by new, change and replace (3 or 9).
    pub fn report_source(self) -> ReportSource {
        match self {
            SelectedSource::Gnss => ReportSource::Gnss,
            SelectedSource::Query => ReportSource::Query,
        }
    }
}

/// Splits observations into query and non-query ones and keeps the non-query group if it is
/// not empty (query observations of this batch are then ignored for the station).
pub fn select_source<'a, O: StationObservation>(
    observations: &[&'a O],
) -> (SelectedSource, Vec<&'a O>) {
    let is_query = |o: &&O| o.report().source == Some(ReportSource::Query);
    let gnss: Vec<&O> = observations
        .iter()
        .copied()
        .filter(|o| !is_query(o))
        .collect();
    if gnss.is_empty() {
        let query = observations.iter().copied().filter(is_query).collect();
        (SelectedSource::Query, query)
    } else {
        (SelectedSource::Gnss, gnss)
    }
}

/// The state of the station row relative to the selected observations (`pipeline.md` §5.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StationState {
    /// No row exists.
    None,
    /// The row has no position.
    NoPosition,
    /// Every observation is within `MAX_DIST` of a GNSS-based (or unknown source) position.
    AgreeGnssPosition,
    /// Every observation is within `MAX_DIST` of a query-based position.
    AgreeQueryPosition,
    /// Some observation is farther than `MAX_DIST`; the row was modified within a year.
    DisagreePosition,
    /// Some observation is farther than `MAX_DIST`; the row was last modified more than
    /// 365 days before today.
    DisagreeOldPosition,
}

/// The state of the selected observations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ObsState {
    /// GNSS observations, consistent with each other.
    GnssConsistent,
    /// Query observations, consistent with each other.
    QueryConsistent,
    /// GNSS observations spread wider than `MAX_DIST`.
    GnssInconsistent,
    /// Query observations spread wider than `MAX_DIST`.
    QueryInconsistent,
}

impl ObsState {
    /// The state for a source and consistency.
    pub fn new(source: SelectedSource, consistent: bool) -> ObsState {
        match (source, consistent) {
            (SelectedSource::Gnss, true) => ObsState::GnssConsistent,
            (SelectedSource::Query, true) => ObsState::QueryConsistent,
            (SelectedSource::Gnss, false) => ObsState::GnssInconsistent,
            (SelectedSource::Query, false) => ObsState::QueryInconsistent,
        }
    }
}

/// Classifies the station row against the selected observations.
pub fn classify_station<O: StationObservation>(
    kind: StationKind,
    row: Option<&StationRow>,
    observations: &[&O],
    today: Date,
) -> StationState {
    let Some(row) = row else {
        return StationState::None;
    };
    let Some((lat, lon)) = row.position() else {
        return StationState::NoPosition;
    };
    let agree = observations
        .iter()
        .all(|o| geo::distance(o.report().lat, o.report().lon, lat, lon) <= kind.max_dist());
    if agree {
        if row.source == Some(ReportSource::Query) {
            StationState::AgreeQueryPosition
        } else {
            StationState::AgreeGnssPosition
        }
    } else if row
        .modified
        .is_some_and(|m| m.date() < today.add_days(-MAX_OLD_DAYS))
    {
        StationState::DisagreeOldPosition
    } else {
        StationState::DisagreePosition
    }
}

/// What happens to a station (`pipeline.md` §5.6–§5.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Transition {
    /// Insert a positioned row.
    New,
    /// Insert a blocked row without position.
    NewBlock,
    /// Merge the observations into the row's position.
    Change,
    /// Replace the row's position by the observations'.
    Replace,
    /// Only set `last_seen = today`.
    Confirm,
    /// Clear the position and block the station.
    Block,
}

/// How a transition is persisted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WriteKind {
    /// `INSERT IGNORE` of the whole row (new rows and new-block rows in separate
    /// statements).
    Insert,
    /// `UPDATE` by primary key of the key columns, `psc`, `lat`, `lon`, the box, `radius`,
    /// `region`, `samples`, `source`, `weight`, `last_seen`, `modified` and the three block
    /// columns (not `created`).
    Update,
    /// `UPDATE` by primary key of `last_seen` only.
    UpdateLastSeen,
}

impl Transition {
    /// The reference's name (`new`, `new_block`, `change`, `replace`, `confirm`, `block`).
    pub const fn name(self) -> &'static str {
        match self {
            Transition::New => "new",
            Transition::NewBlock => "new_block",
            Transition::Change => "change",
            Transition::Replace => "replace",
            Transition::Confirm => "confirm",
            Transition::Block => "block",
        }
    }

    /// How the returned row must be written.
    pub const fn write_kind(self) -> WriteKind {
        match self {
            Transition::New | Transition::NewBlock => WriteKind::Insert,
            Transition::Change | Transition::Replace | Transition::Block => WriteKind::Update,
            Transition::Confirm => WriteKind::UpdateLastSeen,
        }
    }

    /// Counted in `new` (`data.station.new`, `unique_*` stat counter).
    pub const fn counts_as_new(self) -> bool {
        matches!(self, Transition::New | Transition::NewBlock)
    }

    /// Counted in `block` (`data.station.blocklist`).
    pub const fn counts_as_block(self) -> bool {
        matches!(self, Transition::Block | Transition::NewBlock)
    }

    /// Counted in `confirm` (`data.station.confirm`): change, confirm **and replace**
    /// (quirk 3, kept).
    pub const fn counts_as_confirm(self) -> bool {
        matches!(
            self,
            Transition::Change | Transition::Confirm | Transition::Replace
        )
    }

    /// Whether a cell's area must be recomputed: every transition except confirm.
    pub const fn marks_area(self) -> bool {
        !matches!(self, Transition::Confirm)
    }
}

/// The transition table (`pipeline.md` §5.6); `None` is the no-op of a row without position
/// and inconsistent observations.
pub fn transition(station: StationState, obs: ObsState) -> Option<Transition> {
    use ObsState::*;
    use StationState as S;
    use Transition::*;
    let consistent = matches!(obs, GnssConsistent | QueryConsistent);
    match (station, obs) {
        (S::None, _) if consistent => Some(New),
        (S::None, _) => Some(NewBlock),
        (S::NoPosition, _) if consistent => Some(Change),
        (S::NoPosition, _) => None,
        (S::AgreeGnssPosition, GnssConsistent) => Some(Change),
        (S::AgreeGnssPosition, QueryConsistent) => Some(Confirm),
        (S::AgreeQueryPosition, GnssConsistent) => Some(Replace),
        (S::AgreeQueryPosition, QueryConsistent) => Some(Change),
        (S::AgreeGnssPosition | S::AgreeQueryPosition, _) => Some(Block),
        (S::DisagreePosition, _) => Some(Block),
        (S::DisagreeOldPosition, _) if consistent => Some(Replace),
        (S::DisagreeOldPosition, _) => Some(Block),
    }
}

/// Why a station was left untouched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SkipReason {
    /// No observation with non-zero weight for this station.
    NoObservations,
    /// The station is blocked; its observations are still counted.
    Blocked,
    /// The row has no position and the observations are inconsistent.
    NoTransition,
    /// A confirm of a station already seen today (not counted).
    AlreadyConfirmedToday,
}

/// The result of a station update.
#[derive(Debug, Clone, PartialEq)]
pub enum StationOutcome {
    /// Nothing to write.
    Skipped(SkipReason),
    /// Write `row` as [`Transition::write_kind`] says.
    Write {
        /// What happened.
        transition: Transition,
        /// The complete row after the transition.
        row: Box<StationRow>,
    },
}

/// Everything the persistence layer needs to know about one station of a batch.
#[derive(Debug, Clone, PartialEq)]
pub struct StationUpdate {
    /// The station.
    pub key: StationKey,
    /// Observations with non-zero weight for it, counted even if the station is blocked.
    pub observations: u64,
    /// What to write.
    pub outcome: StationOutcome,
}

impl StationUpdate {
    /// The transition, if something is written.
    pub fn transition(&self) -> Option<Transition> {
        match &self.outcome {
            StationOutcome::Write { transition, .. } => Some(*transition),
            StationOutcome::Skipped(_) => None,
        }
    }

    /// The row to write, if any.
    pub fn row(&self) -> Option<&StationRow> {
        match &self.outcome {
            StationOutcome::Write { row, .. } => Some(row.as_ref()),
            StationOutcome::Skipped(_) => None,
        }
    }

    /// The cell area to recompute after commit, if any.
    pub fn area_to_update(&self) -> Option<CellAreaId> {
        self.transition()
            .filter(|t| t.marks_area())
            .and(self.key.area())
    }
}

/// Updates one station from its observations of one batch.
///
/// `observations` are this station's observations in queue order; observations of other
/// stations and observations with zero weight are ignored. "Today" is `now.date()`. The
/// returned row is complete (unchanged columns copied from `existing`), so the caller can
/// persist it without reading anything else.
pub fn update_station<O: StationObservation>(
    key: StationKey,
    existing: Option<&StationRow>,
    observations: &[O],
    now: DateTime,
    regions: &dyn RegionLookup,
) -> StationUpdate {
    let today = now.date();
    let kind = O::KIND;
    let mine: Vec<&O> = observations
        .iter()
        .filter(|o| o.station_key() == key && o.weight() > 0.0)
        .collect();
    let skip = |reason| StationUpdate {
        key,
        observations: mine.len() as u64,
        outcome: StationOutcome::Skipped(reason),
    };
    if mine.is_empty() {
        return skip(SkipReason::NoObservations);
    }
    if existing.is_some_and(|row| row.is_blocked(today)) {
        return skip(SkipReason::Blocked);
    }

    let (source, selected) = select_source(&mine);
    let obs_data = aggregate_observations(kind, &selected);
    let station_state = classify_station(kind, existing, &selected, today);
    let obs_state = ObsState::new(source, obs_data.is_some());
    let Some(transition) = transition(station_state, obs_state) else {
        return skip(SkipReason::NoTransition);
    };
    let psc = submit_psc(existing, &selected);

    let row = match (transition, existing, obs_data) {
        (Transition::New, _, Some(obs)) => {
            let mut row = StationRow::new(key);
            row.psc = psc;
            row.created = Some(now);
            set_position(
                &mut row,
                &PositionValues::from_obs(&obs, regions),
                source,
                now,
            );
            row
        }
        (Transition::NewBlock, _, _) => StationRow {
            psc,
            created: Some(now),
            modified: Some(now),
            block_first: Some(today),
            block_last: Some(today),
            block_count: Some(1),
            ..StationRow::new(key)
        },
        (Transition::Change, Some(existing), Some(obs)) => {
            let merged = merge_position(existing, &obs, regions);
            let mut row = existing.clone();
            row.psc = psc;
            set_position(&mut row, &PositionValues::from_merge(merged), source, now);
            row
        }
        (Transition::Replace, Some(existing), Some(obs)) => {
            let mut row = existing.clone();
            row.psc = psc;
            set_position(
                &mut row,
                &PositionValues::from_obs(&obs, regions),
                source,
                now,
            );
            row
        }
        (Transition::Confirm, Some(existing), _) => {
            if existing.last_seen == Some(today) {
                return skip(SkipReason::AlreadyConfirmedToday);
            }
            StationRow {
                last_seen: Some(today),
                ..existing.clone()
            }
        }
        (Transition::Block, Some(existing), _) => StationRow {
            psc,
            lat: None,
            lon: None,
            max_lat: None,
            min_lat: None,
            max_lon: None,
            min_lon: None,
            radius: None,
            samples: None,
            source: None,
            weight: None,
            last_seen: None,
            modified: Some(now),
            block_first: existing.block_first.or(Some(today)),
            block_last: Some(today),
            block_count: Some(existing.block_count.unwrap_or(0).saturating_add(1)),
            ..existing.clone()
        },
        // The transition table only yields these combinations; anything else would be a
        // bug in `transition`, and writing nothing is the safe answer.
        _ => return skip(SkipReason::NoTransition),
    };
    StationUpdate {
        key,
        observations: mine.len() as u64,
        outcome: StationOutcome::Write {
            transition,
            row: Box::new(row),
        },
    }
}

/// Cells: the psc of the last selected observation that has one, else the row's.
fn submit_psc<O: StationObservation>(
    existing: Option<&StationRow>,
    selected: &[&O],
) -> Option<i16> {
    selected
        .iter()
        .rev()
        .find_map(|o| o.psc())
        .or(existing.and_then(|row| row.psc))
}

/// The position columns written by new, change and replace.
struct PositionValues {
    lat: f64,
    lon: f64,
    bbox: BBox,
    radius: u32,
    region: Option<RegionCode>,
    samples: u32,
    weight: f64,
}

impl PositionValues {
    fn from_obs(obs: &ObsAggregate, regions: &dyn RegionLookup) -> PositionValues {
        PositionValues {
            lat: obs.lat,
            lon: obs.lon,
            bbox: obs.bbox,
            radius: obs.radius,
            region: regions.region(obs.lat, obs.lon),
            samples: obs.samples,
            weight: obs.weight,
        }
    }

    fn from_merge(merged: MergedPosition) -> PositionValues {
        PositionValues {
            lat: merged.lat,
            lon: merged.lon,
            bbox: merged.bbox,
            radius: merged.radius,
            region: merged.region,
            samples: merged.samples,
            weight: merged.weight,
        }
    }
}

fn set_position(
    row: &mut StationRow,
    values: &PositionValues,
    source: SelectedSource,
    now: DateTime,
) {
    row.lat = Some(values.lat);
    row.lon = Some(values.lon);
    row.max_lat = Some(values.bbox.max_lat);
    row.min_lat = Some(values.bbox.min_lat);
    row.max_lon = Some(values.bbox.max_lon);
    row.min_lon = Some(values.bbox.min_lon);
    row.radius = Some(values.radius);
    row.region = values.region;
    row.samples = Some(values.samples);
    row.weight = Some(values.weight);
    row.source = Some(source.report_source());
    row.modified = Some(now);
    row.last_seen = Some(now.date());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::observation::{ObservationReport, WifiObservation};
    use crate::pipeline::region::NoRegions;

    fn today() -> Date {
        Date::from_ymd(2024, 1, 12).unwrap()
    }

    fn mac_key() -> StationKey {
        StationKey::Mac(Mac::parse("a82066123456").unwrap())
    }

    fn row() -> StationRow {
        StationRow::new(mac_key())
    }

    #[test]
    fn long_term_threshold_rounds_half_to_even() {
        assert_eq!(long_term_block_threshold(45), 2);
        assert_eq!(long_term_block_threshold(75), 2);
        assert_eq!(long_term_block_threshold(15), 0);
        assert_eq!(long_term_block_threshold(44), 1);
        assert_eq!(long_term_block_threshold(-45), 2);
        assert_eq!(long_term_block_threshold(0), 0);
    }

    #[test]
    fn temporary_block_lasts_two_days() {
        let mut r = row();
        r.block_last = Some(today());
        assert!(station_blocked(&r, today()));
        r.block_last = Some(today().add_days(-1));
        assert!(station_blocked(&r, today()));
        r.block_last = Some(today().add_days(-2));
        assert!(!station_blocked(&r, today()));
    }

    #[test]
    fn long_term_block_depends_on_age() {
        let created = |days: i64| Some(today().start().add_days(-days).add_seconds(3600));
        let mut r = row();
        r.block_count = Some(1);
        r.created = created(44);
        assert!(station_blocked(&r, today()), "1 >= round(44/30) = 1");
        r.created = created(45);
        assert!(!station_blocked(&r, today()), "1 < round(45/30) = 2");
        r.block_count = Some(2);
        r.created = created(75);
        assert!(station_blocked(&r, today()), "2 >= round(75/30) = 2");
        r.block_count = Some(0);
        r.created = created(1);
        assert!(!station_blocked(&r, today()), "a zero count never blocks");
        r.block_count = Some(1);
        r.created = None;
        assert!(!station_blocked(&r, today()));
        assert!(!station_blocked(&row(), today()));
    }

    #[test]
    fn transition_table() {
        use ObsState::*;
        use StationState as S;
        use Transition::*;
        let table = [
            (
                S::None,
                [Some(New), Some(New), Some(NewBlock), Some(NewBlock)],
            ),
            (S::NoPosition, [Some(Change), Some(Change), None, None]),
            (
                S::AgreeGnssPosition,
                [Some(Change), Some(Confirm), Some(Block), Some(Block)],
            ),
            (
                S::AgreeQueryPosition,
                [Some(Replace), Some(Change), Some(Block), Some(Block)],
            ),
            (
                S::DisagreePosition,
                [Some(Block), Some(Block), Some(Block), Some(Block)],
            ),
            (
                S::DisagreeOldPosition,
                [Some(Replace), Some(Replace), Some(Block), Some(Block)],
            ),
        ];
        let columns = [
            GnssConsistent,
            QueryConsistent,
            GnssInconsistent,
            QueryInconsistent,
        ];
        for (station, expected) in table {
            for (obs, want) in columns.iter().zip(expected) {
                assert_eq!(transition(station, *obs), want, "{station:?} × {obs:?}");
            }
        }
    }

    #[test]
    fn transition_bookkeeping() {
        use Transition::*;
        let all = [New, NewBlock, Change, Replace, Confirm, Block];
        let names: Vec<_> = all.iter().map(|t| t.name()).collect();
        assert_eq!(
            names,
            ["new", "new_block", "change", "replace", "confirm", "block"]
        );
        let new: Vec<_> = all.iter().filter(|t| t.counts_as_new()).collect();
        assert_eq!(new, [&New, &NewBlock]);
        let block: Vec<_> = all.iter().filter(|t| t.counts_as_block()).collect();
        assert_eq!(block, [&NewBlock, &Block]);
        let confirm: Vec<_> = all.iter().filter(|t| t.counts_as_confirm()).collect();
        assert_eq!(confirm, [&Change, &Replace, &Confirm]);
        assert!(all.iter().filter(|t| !t.marks_area()).eq([&Confirm]));
        assert_eq!(Confirm.write_kind(), WriteKind::UpdateLastSeen);
        assert_eq!(NewBlock.write_kind(), WriteKind::Insert);
        assert_eq!(Replace.write_kind(), WriteKind::Update);
    }

    #[test]
    fn pairwise_sum_matches_numpy_blocking() {
        let values: Vec<f64> = (0..300).map(|i| 0.1 * f64::from(i)).collect();
        for n in [0, 1, 7, 8, 9, 17, 128, 129, 300] {
            let expected: f64 = values[..n].iter().sum();
            assert!((pairwise_sum(&values[..n]) - expected).abs() < 1e-9, "{n}");
        }
        // With 8 or more values the order differs from a plain left fold.
        let tricky = [1e16, 1.0, -1e16, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0];
        assert_eq!(
            pairwise_sum(&tricky),
            ((1e16 + 1.0) + (-1e16 + 1.0)) + 4.0 + 1.0
        );
    }

    fn wifi_at(lat: f64, lon: f64) -> WifiObservation {
        WifiObservation {
            report: ObservationReport::at(lat, lon),
            mac: Mac::parse("a82066123456").unwrap(),
            age: None,
            channel: None,
            frequency: None,
            signal: None,
            snr: None,
        }
    }

    #[test]
    fn disagreeing_station_becomes_old_after_a_year() {
        let mut r = row();
        r.lat = Some(10.0);
        r.lon = Some(10.0);
        let far = wifi_at(11.0, 10.0);
        let obs = [&far];
        r.modified = Some(today().add_days(-365).start());
        assert_eq!(
            classify_station(StationKind::Wifi, Some(&r), &obs, today()),
            StationState::DisagreePosition
        );
        r.modified = Some(today().add_days(-366).start());
        assert_eq!(
            classify_station(StationKind::Wifi, Some(&r), &obs, today()),
            StationState::DisagreeOldPosition
        );
        r.modified = None;
        assert_eq!(
            classify_station(StationKind::Wifi, Some(&r), &obs, today()),
            StationState::DisagreePosition,
            "unknown modification time is not old"
        );
    }

    #[test]
    fn block_count_saturates() {
        let mut r = row();
        r.lat = Some(10.0);
        r.lon = Some(10.0);
        r.block_count = Some(255);
        r.created = Some(today().start().add_days(-100_000));
        r.modified = Some(today().start());
        let now = today().start().add_seconds(60);
        let update = update_station(r.key, Some(&r), &[wifi_at(11.0, 10.0)], now, &NoRegions);
        assert_eq!(update.transition(), Some(Transition::Block));
        assert_eq!(update.row().unwrap().block_count, Some(255));
        assert_eq!(update.area_to_update(), None, "MAC stations have no area");
    }

    #[test]
    fn merge_caps_old_weight_but_not_stored_weight() {
        let mut r = row();
        r.lat = Some(0.0);
        r.lon = Some(0.0);
        r.weight = Some(1e9);
        r.samples = Some(u32::MAX);
        let obs = ObsAggregate {
            lat: 1.0,
            lon: 0.0,
            bbox: BBox::point(1.0, 0.0),
            radius: 0,
            samples: 5,
            weight: 10_000.0,
        };
        let merged = merge_position(&r, &obs, &NoRegions);
        assert_eq!(merged.lat, 0.5, "history counts at most 10 000");
        assert_eq!(merged.weight, MAX_WEIGHT);
        assert_eq!(merged.samples, u32::MAX);
        assert_eq!(merged.bbox.max_lat, 1.0);
        assert_eq!(merged.bbox.min_lat, 0.0);
    }

    #[test]
    fn imported_station_without_weight_is_repositioned() {
        let mut r = row();
        r.lat = Some(0.0);
        r.lon = Some(0.0);
        r.max_lat = Some(0.01);
        r.min_lat = Some(-0.01);
        r.samples = Some(7);
        let obs = ObsAggregate {
            lat: 0.001,
            lon: 0.0,
            bbox: BBox::point(0.001, 0.0),
            radius: 0,
            samples: 1,
            weight: 1.0,
        };
        let merged = merge_position(&r, &obs, &NoRegions);
        assert_eq!((merged.lat, merged.lon), (0.001, 0.0));
        assert_eq!((merged.bbox.max_lat, merged.bbox.min_lat), (0.01, -0.01));
        assert_eq!(merged.samples, 8);
        assert_eq!(merged.weight, 1.0);
    }
}

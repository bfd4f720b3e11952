//! The `generate` command: writes a dataset folder.
//!
//! Layout:
//! * `manifest.json`: seed, size, world and traffic parameters, counts;
//! * `train/part-NNNNN.jsonl.gz`: the training uploads in time order, one JSON object per
//!   line: `{"client", "userAgent", "gzip", "counts", "body"}`, where `body` is the
//!   geosubmit v2 batch exactly as that client posts it (gzip is how the client sends it,
//!   the file itself is always gzip-compressed);
//! * `queries.jsonl`: `{"id", "kind", "userAgent", "ip"?, "body"}` per query;
//! * `truth.jsonl`: `{"id", "kind", "lat", "lon"}` per query;
//! * `geoip.mmdb`: a GeoIP2-City database placing the world's address block in the city,
//!   for servers run with `GEOIP_PATH` pointing at it (IP-only queries).
//!
//! Uploads are written as they are produced, trip after trip, so memory stays bounded by
//! the world whatever the number of observations.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use flate2::Compression;
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;
use serde::{Deserialize, Serialize};

use crate::contrib::{self, Produced, Upload};
use crate::presets::{Size, TrafficConfig};
use crate::query::{self, IP_BLOCK, Kind};
use crate::world::{StationCounts, World, WorldConfig};

/// Reports per training file.
const REPORTS_PER_FILE: u64 = 100_000;

/// Distinct stations that appear in the training data.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Observed {
    /// WiFi access points.
    pub wifi: u64,
    /// Bluetooth beacons.
    pub blue: u64,
    /// Cells.
    pub cell: u64,
}

/// `manifest.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Manifest {
    /// Generator version.
    pub generator: String,
    /// Size preset.
    pub size: Size,
    /// Seed.
    pub seed: u64,
    /// World parameters.
    pub world: WorldConfig,
    /// Traffic parameters.
    pub traffic: TrafficConfig,
    /// Stations in the world.
    pub stations: StationCounts,
    /// Stations that occur in the training data.
    pub observed: Observed,
    /// Trips simulated.
    pub trips: u64,
    /// Uploads (HTTP requests) in the training data.
    pub uploads: u64,
    /// Reports and station entries in the training data.
    pub training: Produced,
    /// Training files, relative to the dataset folder, in submission order.
    pub train_files: Vec<String>,
    /// Queries per kind.
    pub queries: std::collections::BTreeMap<String, u64>,
}

impl Manifest {
    /// Reads `manifest.json` of a dataset folder.
    pub fn load(dir: &Path) -> Result<Manifest> {
        let path = dir.join("manifest.json");
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
    }
}

/// Options of `generate`.
#[derive(Clone, Debug)]
pub struct GenerateOptions {
    /// Size preset.
    pub size: Size,
    /// Seed.
    pub seed: u64,
    /// Override of the number of training reports.
    pub reports: Option<u64>,
    /// Override of the queries per kind.
    pub queries_per_kind: Option<u32>,
}

/// A writer of gzip-compressed JSON lines, split into numbered parts.
struct PartWriter {
    dir: PathBuf,
    files: Vec<String>,
    current: Option<GzEncoder<BufWriter<File>>>,
    reports_in_part: u64,
}

impl PartWriter {
    fn write(&mut self, upload: &Upload) -> Result<()> {
        if self.current.is_none() || self.reports_in_part >= REPORTS_PER_FILE {
            self.finish()?;
            let name = format!("train/part-{:05}.jsonl.gz", self.files.len());
            let file =
                File::create(self.dir.join(&name)).with_context(|| format!("creating {name}"))?;
            self.current = Some(GzEncoder::new(BufWriter::new(file), Compression::fast()));
            self.files.push(name);
            self.reports_in_part = 0;
        }
        if let Some(w) = self.current.as_mut() {
            serde_json::to_writer(&mut *w, upload)?;
            w.write_all(b"\n")?;
        }
        self.reports_in_part += upload.counts.reports;
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        if let Some(w) = self.current.take() {
            w.finish()?.flush()?;
        }
        Ok(())
    }
}

/// Generates a dataset into `dir` (created if missing). `progress` is called with the
/// number of reports written so far.
pub fn generate(
    dir: &Path,
    opts: &GenerateOptions,
    mut progress: impl FnMut(u64),
) -> Result<Manifest> {
    std::fs::create_dir_all(dir.join("train"))
        .with_context(|| format!("creating {}", dir.display()))?;
    let config = opts.size.world(opts.seed);
    let mut traffic = opts.size.traffic();
    if let Some(r) = opts.reports {
        traffic.reports = r;
    }
    if let Some(q) = opts.queries_per_kind {
        traffic.queries_per_kind = q;
    }
    let world = World::generate(config.clone());
    let trips = contrib::schedule(&world, &traffic);
    let mut seen = vec![false; world.stations.len()];
    let mut parts = PartWriter {
        dir: dir.to_owned(),
        files: Vec::new(),
        current: None,
        reports_in_part: 0,
    };
    let mut training = Produced::default();
    let mut uploads = 0u64;
    let mut failure: Option<anyhow::Error> = None;
    for trip in &trips {
        contrib::run_trip(&world, &traffic, trip, &mut seen, |u| {
            if failure.is_some() {
                return;
            }
            training.add(&u.counts);
            uploads += 1;
            if let Err(e) = parts.write(&u) {
                failure = Some(e);
            }
        });
        if let Some(e) = failure.take() {
            return Err(e);
        }
        progress(training.reports);
    }
    parts.finish()?;

    let mut queries = std::collections::BTreeMap::new();
    {
        let mut qw = BufWriter::new(File::create(dir.join("queries.jsonl"))?);
        let mut tw = BufWriter::new(File::create(dir.join("truth.jsonl"))?);
        let mut failure: Option<anyhow::Error> = None;
        query::generate(&world, &traffic, |q, t| {
            *queries.entry(q.kind.name().to_owned()).or_insert(0) += 1;
            let r = (|| -> Result<()> {
                serde_json::to_writer(&mut qw, &q)?;
                qw.write_all(b"\n")?;
                serde_json::to_writer(&mut tw, &t)?;
                tw.write_all(b"\n")?;
                Ok(())
            })();
            if let Err(e) = r {
                failure.get_or_insert(e);
            }
        });
        if let Some(e) = failure {
            return Err(e);
        }
        qw.flush()?;
        tw.flush()?;
    }
    write_geoip(dir, &config)?;

    let mut observed = Observed::default();
    for (s, seen) in world.stations.iter().zip(&seen) {
        if *seen {
            match s.radio {
                crate::radio::Radio::Wifi => observed.wifi += 1,
                crate::radio::Radio::Blue => observed.blue += 1,
                _ => observed.cell += 1,
            }
        }
    }
    let manifest = Manifest {
        generator: format!("ichnaea-sim {}", env!("CARGO_PKG_VERSION")),
        size: opts.size,
        seed: opts.seed,
        stations: world.counts(),
        world: config,
        traffic,
        observed,
        trips: trips.len() as u64,
        uploads,
        training,
        train_files: parts.files,
        queries,
    };
    let mut f = BufWriter::new(File::create(dir.join("manifest.json"))?);
    serde_json::to_writer_pretty(&mut f, &manifest)?;
    f.write_all(b"\n")?;
    f.flush()?;
    Ok(manifest)
}

/// Writes `geoip.mmdb`: the world's address block located at the centre, with an
/// accuracy radius covering the region.
fn write_geoip(dir: &Path, config: &WorldConfig) -> Result<()> {
    let network = format!("{}/{}", IP_BLOCK.0, IP_BLOCK.1);
    let radius_km = ((config.size_m / 1000.0).ceil() as u16).max(5);
    // Built "at" the start of the period, so the file is byte-identical per seed.
    let built = UNIX_EPOCH + Duration::from_millis(config.start_ms.max(0) as u64);
    let built: SystemTime = built;
    ichnaea_testing::geoip::write_city_db(
        &dir.join("geoip.mmdb"),
        &[(
            network.as_str(),
            "DE",
            "Germany",
            Some(("Berlin", 2_950_159)),
            config.centre.lat,
            config.centre.lon,
            radius_km,
        )],
        built,
    )
}

/// Iterates over the uploads of a dataset's training files, in order.
pub fn read_uploads(dir: &Path, manifest: &Manifest) -> impl Iterator<Item = Result<Upload>> {
    let files: Vec<PathBuf> = manifest.train_files.iter().map(|f| dir.join(f)).collect();
    files.into_iter().flat_map(|path| {
        let lines: Box<dyn Iterator<Item = Result<Upload>>> = match File::open(&path) {
            Ok(f) => Box::new(
                BufReader::new(MultiGzDecoder::new(BufReader::new(f)))
                    .lines()
                    .map(|line| -> Result<Upload> { Ok(serde_json::from_str(&line?)?) }),
            ),
            Err(e) => Box::new(std::iter::once(Err(
                anyhow::Error::new(e).context(format!("opening {}", path.display()))
            ))),
        };
        lines
    })
}

/// Reads a JSON-lines file of `T`.
pub fn read_jsonl<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Vec<T>> {
    let f = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut out = Vec::new();
    for (i, line) in BufReader::new(f).lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        out.push(
            serde_json::from_str(&line)
                .with_context(|| format!("{} line {}", path.display(), i + 1))?,
        );
    }
    Ok(out)
}

/// Reads the queries and truths of a dataset, checking that they pair up.
pub fn read_queries(dir: &Path) -> Result<Vec<(query::Query, query::Truth)>> {
    let queries: Vec<query::Query> = read_jsonl(&dir.join("queries.jsonl"))?;
    let truths: Vec<query::Truth> = read_jsonl(&dir.join("truth.jsonl"))?;
    anyhow::ensure!(
        queries.len() == truths.len(),
        "queries.jsonl and truth.jsonl differ in length"
    );
    for (q, t) in queries.iter().zip(&truths) {
        anyhow::ensure!(
            q.id == t.id && q.kind == t.kind,
            "query {} has no matching truth",
            q.id
        );
    }
    Ok(queries.into_iter().zip(truths).collect())
}

/// The kinds present in a dataset, in the standard order.
pub fn kinds(manifest: &Manifest) -> Vec<Kind> {
    Kind::ALL
        .into_iter()
        .filter(|k| manifest.queries.get(k.name()).copied().unwrap_or(0) > 0)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiny_dataset_round_trips_and_is_deterministic() {
        let a = tempfile::tempdir().expect("tempdir");
        let b = tempfile::tempdir().expect("tempdir");
        let opts = GenerateOptions {
            size: Size::Tiny,
            seed: 42,
            reports: None,
            queries_per_kind: Some(10),
        };
        let m = generate(a.path(), &opts, |_| {}).expect("generate");
        generate(b.path(), &opts, |_| {}).expect("generate again");
        for f in [
            "manifest.json",
            "queries.jsonl",
            "truth.jsonl",
            "geoip.mmdb",
            "train/part-00000.jsonl.gz",
        ] {
            let x = std::fs::read(a.path().join(f)).expect("read");
            let y = std::fs::read(b.path().join(f)).expect("read");
            assert!(x == y, "{f} differs between two runs of one seed");
        }
        let uploads: Vec<Upload> = read_uploads(a.path(), &m)
            .collect::<Result<_>>()
            .expect("read");
        assert_eq!(uploads.len() as u64, m.uploads);
        let reports: u64 = uploads.iter().map(|u| u.counts.reports).sum();
        assert_eq!(reports, m.training.reports);
        assert!(m.training.reports >= 300, "{}", m.training.reports);
        assert!(m.observed.wifi > 100 && m.observed.cell > 0);
        let q = read_queries(a.path()).expect("queries");
        assert_eq!(q.len() as u64, m.queries.values().sum::<u64>());
    }
}

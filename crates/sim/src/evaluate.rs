//! The `evaluate` command: runs a dataset's queries against a server and measures its
//! accuracy per query kind.
//!
//! For every kind: the found rate (answers with a position / queries), the median, p90
//! and p95 of the error in metres (haversine distance between the answer and the true
//! position, over found answers), and the fraction of found answers whose true position
//! lies within the reported accuracy radius. Ichnaea documents its accuracy as a 95 %
//! radius, so a well-calibrated server scores about 0.95 there; much less means the
//! server is overconfident.

use std::collections::BTreeMap;
use std::time::Instant;

use anyhow::Result;
use futures::StreamExt;
use serde::{Deserialize, Serialize};

use crate::dataset::{self, Manifest};
use crate::geo::haversine;
use crate::http::{Target, percentile};
use crate::query::Kind;

/// One query's outcome.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Outcome {
    /// Query number.
    pub id: u64,
    /// Kind.
    pub kind: Kind,
    /// HTTP status (0 for a transport error).
    pub status: u16,
    /// Error in metres, when an answer came.
    pub error_m: Option<f64>,
    /// Reported accuracy, when an answer came.
    pub accuracy_m: Option<f64>,
    /// The answer's `fallback`, if any.
    pub fallback: Option<String>,
    /// Latency in milliseconds.
    pub latency_ms: f64,
}

/// Results of one kind.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct KindReport {
    /// Kind name.
    pub kind: String,
    /// Queries run.
    pub queries: u64,
    /// Answers with a position.
    pub found: u64,
    /// `found / queries`.
    pub found_rate: f64,
    /// Median error, metres.
    pub median_m: Option<f64>,
    /// 90th percentile error, metres.
    pub p90_m: Option<f64>,
    /// 95th percentile error, metres.
    pub p95_m: Option<f64>,
    /// Fraction of found answers whose true position is within the accuracy radius.
    pub within_accuracy: Option<f64>,
    /// Median reported accuracy, metres.
    pub median_accuracy_m: Option<f64>,
    /// Answers that were neither 200 nor 404 (errors, limits, transport failures).
    pub failures: u64,
    /// Median latency, ms.
    pub latency_p50_ms: Option<f64>,
}

/// The whole evaluation.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct EvalReport {
    /// Dataset size and seed.
    pub dataset: String,
    /// Per kind, in the standard order.
    pub kinds: Vec<KindReport>,
    /// Wall-clock seconds.
    pub seconds: f64,
}

impl EvalReport {
    /// The report of one kind.
    pub fn kind(&self, kind: Kind) -> Option<&KindReport> {
        self.kinds.iter().find(|k| k.kind == kind.name())
    }

    /// A Markdown table.
    pub fn markdown(&self) -> String {
        let f =
            |v: Option<f64>, digits: usize| v.map_or("–".to_owned(), |v| format!("{v:.digits$}"));
        let mut s = String::from(
            "| kind | queries | found | median m | p90 m | p95 m | in accuracy radius | median accuracy m | failures |\n|---|---|---|---|---|---|---|---|---|\n",
        );
        for k in &self.kinds {
            s.push_str(&format!(
                "| {} | {} | {:.1} % | {} | {} | {} | {} | {} | {} |\n",
                k.kind,
                k.queries,
                100.0 * k.found_rate,
                f(k.median_m, 0),
                f(k.p90_m, 0),
                f(k.p95_m, 0),
                k.within_accuracy
                    .map_or("–".to_owned(), |v| format!("{:.1} %", 100.0 * v)),
                f(k.median_accuracy_m, 0),
                k.failures
            ));
        }
        s
    }
}

/// Summarises outcomes per kind.
pub fn summarise(outcomes: &[Outcome]) -> Vec<KindReport> {
    let mut by: BTreeMap<Kind, Vec<&Outcome>> = BTreeMap::new();
    for o in outcomes {
        by.entry(o.kind).or_default().push(o);
    }
    by.into_iter()
        .map(|(kind, os)| {
            let mut errors: Vec<f64> = os.iter().filter_map(|o| o.error_m).collect();
            errors.sort_by(f64::total_cmp);
            let mut acc: Vec<f64> = os.iter().filter_map(|o| o.accuracy_m).collect();
            acc.sort_by(f64::total_cmp);
            let mut lat: Vec<f64> = os.iter().map(|o| o.latency_ms).collect();
            lat.sort_by(f64::total_cmp);
            let within = os
                .iter()
                .filter(|o| matches!((o.error_m, o.accuracy_m), (Some(e), Some(a)) if e <= a))
                .count();
            let found = errors.len() as u64;
            KindReport {
                kind: kind.name().to_owned(),
                queries: os.len() as u64,
                found,
                found_rate: found as f64 / os.len().max(1) as f64,
                median_m: percentile(&errors, 0.5),
                p90_m: percentile(&errors, 0.9),
                p95_m: percentile(&errors, 0.95),
                within_accuracy: (found > 0).then(|| within as f64 / found as f64),
                median_accuracy_m: percentile(&acc, 0.5),
                failures: os
                    .iter()
                    .filter(|o| o.status != 200 && o.status != 404)
                    .count() as u64,
                latency_p50_ms: percentile(&lat, 0.5),
            }
        })
        .collect()
}

/// Runs every query of a dataset; `progress` is called with the number done.
pub async fn evaluate(
    dir: &std::path::Path,
    target: &Target,
    concurrency: usize,
    progress: impl Fn(u64),
) -> Result<(EvalReport, Vec<Outcome>)> {
    let manifest = Manifest::load(dir)?;
    let queries = dataset::read_queries(dir)?;
    let started = Instant::now();
    let mut done = 0;
    let mut stream = futures::stream::iter(queries.iter())
        .map(|(q, t)| async move {
            let sent = Instant::now();
            let r = target
                .geolocate(&q.body, &q.user_agent, q.ip.as_deref())
                .await;
            let latency_ms = sent.elapsed().as_secs_f64() * 1000.0;
            let (status, position, fallback) = match r {
                Ok(l) => (l.status, l.position, l.fallback),
                Err(_) => (0, None, None),
            };
            Outcome {
                id: q.id,
                kind: q.kind,
                status,
                error_m: position.map(|(lat, lon, _)| haversine(lat, lon, t.lat, t.lon)),
                accuracy_m: position.map(|(_, _, a)| a),
                fallback,
                latency_ms,
            }
        })
        .buffer_unordered(concurrency.max(1));
    let mut outcomes = Vec::with_capacity(queries.len());
    while let Some(o) = stream.next().await {
        outcomes.push(o);
        done += 1;
        progress(done);
    }
    outcomes.sort_by_key(|o| o.id);
    let report = EvalReport {
        dataset: format!("{:?} seed {}", manifest.size, manifest.seed).to_lowercase(),
        kinds: summarise(&outcomes),
        seconds: started.elapsed().as_secs_f64(),
    };
    Ok((report, outcomes))
}

/// Writes `report.json`, `report.md`, `outcomes.jsonl` and `errors.png` into `out`.
pub fn write(out: &std::path::Path, report: &EvalReport, outcomes: &[Outcome]) -> Result<()> {
    use std::io::Write;
    std::fs::create_dir_all(out)?;
    std::fs::write(
        out.join("report.json"),
        serde_json::to_string_pretty(report)? + "\n",
    )?;
    std::fs::write(out.join("report.md"), report.markdown())?;
    let mut f = std::io::BufWriter::new(std::fs::File::create(out.join("outcomes.jsonl"))?);
    for o in outcomes {
        serde_json::to_writer(&mut f, o)?;
        f.write_all(b"\n")?;
    }
    f.flush()?;
    crate::plot::error_cdf(&out.join("errors.png"), outcomes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn o(id: u64, kind: Kind, status: u16, err: Option<f64>, acc: Option<f64>) -> Outcome {
        Outcome {
            id,
            kind,
            status,
            error_m: err,
            accuracy_m: acc,
            fallback: None,
            latency_ms: 1.0,
        }
    }

    #[test]
    fn summary_counts_found_errors_and_coverage() {
        let outcomes = vec![
            o(0, Kind::Wifi, 200, Some(10.0), Some(20.0)),
            o(1, Kind::Wifi, 200, Some(30.0), Some(20.0)),
            o(2, Kind::Wifi, 404, None, None),
            o(3, Kind::Wifi, 500, None, None),
            o(4, Kind::Cell, 200, Some(500.0), Some(1000.0)),
        ];
        let r = summarise(&outcomes);
        let wifi = &r[0];
        assert_eq!((wifi.queries, wifi.found, wifi.failures), (4, 2, 1));
        assert_eq!(wifi.found_rate, 0.5);
        assert_eq!(wifi.median_m, Some(20.0));
        assert_eq!(wifi.within_accuracy, Some(0.5));
        let cell = &r[1];
        assert_eq!(cell.within_accuracy, Some(1.0));
        let report = EvalReport {
            dataset: "tiny".into(),
            kinds: r,
            seconds: 1.0,
        };
        let md = report.markdown();
        assert!(md.contains("| wifi | 4 | 50.0 % | 20 |"), "{md}");
    }
}

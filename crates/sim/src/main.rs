//! `ichnaea-sim`: generate a simulated world, submit it to a server, evaluate the server's
//! accuracy on held-out queries and load-test it. See `docs/benchmarks.md`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use std::time::Duration;

use ichnaea_sim::dataset::{self, GenerateOptions};
use ichnaea_sim::evaluate;
use ichnaea_sim::http::Target;
use ichnaea_sim::load::{self, LoadOptions, Mix};
use ichnaea_sim::presets::Size;
use ichnaea_sim::submit::{self, SubmitOptions};
use indicatif::{ProgressBar, ProgressStyle};

/// Simulated world for benchmarks and accuracy measurements.
#[derive(Debug, Parser)]
#[command(name = "ichnaea-sim", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Generate a dataset folder: training uploads, queries, truth, manifest, GeoIP file.
    Generate {
        /// Output folder.
        #[arg(long)]
        out: PathBuf,
        /// Size preset.
        #[arg(long, value_enum, default_value = "medium")]
        size: Size,
        /// Seed of every random draw.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Override the number of training reports of the preset.
        #[arg(long)]
        reports: Option<u64>,
        /// Override the number of queries per kind of the preset.
        #[arg(long)]
        queries_per_kind: Option<u32>,
    },
    /// Post a dataset's training uploads to a server and wait until its pipeline caught up.
    Submit {
        /// Dataset folder.
        #[arg(long)]
        data: PathBuf,
        #[command(flatten)]
        server: Server,
        /// Uploads in flight.
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
        /// Longest wait for the pipeline after the last upload, seconds.
        #[arg(long, default_value_t = 1800)]
        wait_timeout: u64,
        /// Write the summary as JSON to this file too.
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// Run a dataset's queries and report accuracy per query kind.
    Evaluate {
        /// Dataset folder.
        #[arg(long)]
        data: PathBuf,
        #[command(flatten)]
        server: Server,
        /// Queries in flight.
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
        /// Output folder for report.json, report.md, outcomes.jsonl and errors.png
        /// (default: DATA/eval).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Locate load run with a mix of query kinds, open loop at a rate or at max rate.
    Load {
        /// Dataset folder.
        #[arg(long)]
        data: PathBuf,
        #[command(flatten)]
        server: Server,
        /// Mix of query kinds with weights.
        #[arg(long, default_value = "wifi=60,cell=20,wifi_cell=10,blue=5,ip=5")]
        mix: String,
        /// Target rate in requests per second (open loop); omit for max rate.
        #[arg(long)]
        rate: Option<f64>,
        /// Length of the run, seconds.
        #[arg(long, default_value_t = 30)]
        duration: u64,
        /// Closed-loop senders for max rate.
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
        /// Most requests outstanding in open-loop mode (more are counted as dropped).
        #[arg(long, default_value_t = 2048)]
        max_inflight: usize,
        /// Seed of the query choice.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Write the report as JSON to this file too.
        #[arg(long)]
        json: Option<PathBuf>,
    },
}

/// The server to talk to.
#[derive(Debug, clap::Args)]
struct Server {
    /// Base URL of an Ichnaea-compatible server.
    #[arg(long)]
    url: String,
    /// API key (sent as `?key=`).
    #[arg(long)]
    key: Option<String>,
}

fn bar(len: u64, what: &str) -> ProgressBar {
    let pb = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template(
        "{msg} [{elapsed_precise}] {wide_bar} {pos}/{len} ({per_sec}, eta {eta})",
    ) {
        pb.set_style(style);
    }
    pb.set_message(what.to_owned());
    pb
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Generate {
            out,
            size,
            seed,
            reports,
            queries_per_kind,
        } => {
            let opts = GenerateOptions {
                size,
                seed,
                reports,
                queries_per_kind,
            };
            let total = reports.unwrap_or(size.traffic().reports);
            let pb = bar(total, "generating");
            let started = std::time::Instant::now();
            let m = dataset::generate(&out, &opts, |n| pb.set_position(n))?;
            pb.finish_and_clear();
            println!(
                "wrote {}: {} stations ({} observed), {} uploads, {} reports, {} observations, {} queries in {:.1} s",
                out.display(),
                m.stations.wifi + m.stations.blue + m.stations.cells.iter().sum::<u64>(),
                m.observed.wifi + m.observed.blue + m.observed.cell,
                m.uploads,
                m.training.reports,
                m.training.observations(),
                m.queries.values().sum::<u64>(),
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Command::Submit {
            data,
            server,
            concurrency,
            wait_timeout,
            json,
        } => {
            let manifest = dataset::Manifest::load(&data)?;
            let target = Target::new(&server.url, server.key, concurrency)?;
            let pb = bar(manifest.training.reports, "submitting");
            let opts = SubmitOptions {
                concurrency,
                wait_timeout: Duration::from_secs(wait_timeout),
                poll_interval: Duration::from_secs(1),
            };
            let summary = runtime()?.block_on(submit::submit(&data, &target, &opts, |n| {
                pb.set_position(n)
            }))?;
            pb.finish_and_clear();
            let text = serde_json::to_string_pretty(&summary)?;
            println!("{text}");
            if let Some(path) = json {
                std::fs::write(path, text + "\n")?;
            }
            anyhow::ensure!(
                summary.caught_up,
                "the pipeline did not catch up within {wait_timeout} s"
            );
            Ok(())
        }
        Command::Evaluate {
            data,
            server,
            concurrency,
            out,
        } => {
            let out = out.unwrap_or_else(|| data.join("eval"));
            std::fs::create_dir_all(&out)?;
            let total =
                dataset::read_jsonl::<serde_json::Value>(&data.join("truth.jsonl"))?.len() as u64;
            let target = Target::new(&server.url, server.key, concurrency)?;
            let pb = bar(total, "evaluating");
            let (report, outcomes) =
                runtime()?.block_on(evaluate::evaluate(&data, &target, concurrency, |n| {
                    pb.set_position(n)
                }))?;
            pb.finish_and_clear();
            evaluate::write(&out, &report, &outcomes)?;
            println!("{}", report.markdown());
            println!("written to {}", out.display());
            Ok(())
        }
        Command::Load {
            data,
            server,
            mix,
            rate,
            duration,
            concurrency,
            max_inflight,
            seed,
            json,
        } => {
            let opts = LoadOptions {
                mix: Mix::parse(&mix)?,
                rate,
                duration: Duration::from_secs(duration),
                concurrency,
                max_inflight,
                seed,
            };
            let target = Target::new(
                &server.url,
                server.key,
                concurrency.max(max_inflight.min(1024)),
            )?;
            let report = runtime()?.block_on(load::run(&data, &target, &opts))?;
            println!("{}", report.markdown());
            if let Some(path) = json {
                std::fs::write(path, serde_json::to_string_pretty(&report)? + "\n")?;
            }
            Ok(())
        }
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ichnaea-sim: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn verify_cli() {
        Cli::command().debug_assert();
    }
}

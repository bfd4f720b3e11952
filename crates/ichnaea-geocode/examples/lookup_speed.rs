//! Informal timing of the geocoder's lookups (`cargo run --release -p ichnaea-geocode
//! --example lookup_speed`). Not a benchmark suite: it prints the mean time per call for a
//! few typical and worst-case positions, so the numbers in the README can be re-checked.

use std::hint::black_box;
use std::time::Instant;

use ichnaea_geocode::{GeocodeError, Geocoder, RegionCode};

fn time<T>(label: &str, mut f: impl FnMut() -> T) {
    const CALLS: u32 = 20_000;
    let start = Instant::now();
    for _ in 0..CALLS {
        black_box(f());
    }
    let nanos = start.elapsed().as_nanos() / u128::from(CALLS);
    println!("{label:<55} {:>8.2} µs", nanos as f64 / 1000.0);
}

fn main() -> Result<(), GeocodeError> {
    let start = Instant::now();
    let g = Geocoder::new()?;
    println!(
        "Geocoder::new                                           {:>8.2} ms",
        start.elapsed().as_secs_f64() * 1000.0
    );
    let fr = RegionCode::new("FR");
    let positions = [
        ("London (land)", 51.5142, -0.0931),
        ("Dallas (land, subdivision first)", 33.0, -97.0),
        ("Geneva (land near a border)", 46.2130, 6.1290),
        (
            "mid-Channel, outside the data's waters (buffer)",
            50.52,
            -0.14,
        ),
        (
            "sea, land in nearby cells, none within 0.5° (worst)",
            60.785,
            -8.375,
        ),
        ("open Atlantic", 45.0, -30.0),
    ];
    for (name, lat, lon) in positions {
        time(&format!("region: {name}"), || {
            g.region(black_box(lat), black_box(lon))
        });
    }
    for (name, lat, lon) in positions {
        time(&format!("any_region: {name}"), || {
            g.any_region(black_box(lat), black_box(lon))
        });
    }
    if let Some(fr) = fr {
        time("in_region FR: Geneva (probe finds France)", || {
            g.in_region(46.2130, 6.1290, fr)
        });
        time("in_region FR: London (no French cell nearby)", || {
            g.in_region(51.5142, -0.0931, fr)
        });
    }
    time("region_for_cell 234: London", || {
        g.region_for_cell(51.5142, -0.0931, 234)
    });
    time("region_for_cell 208: Nice (FR and MC nearby)", || {
        g.region_for_cell(43.70, 7.27, 208)
    });
    time("region_for_cell 310: Dallas (six regions)", || {
        g.region_for_cell(33.0, -97.0, 310)
    });
    time("regions_for_mcc 310", || {
        g.regions_for_mcc(black_box(310)).len()
    });
    worst_cases(&g);
    Ok(())
}

/// The slowest positions of a grid over Europe and the North Atlantic.
fn worst_cases(g: &Geocoder) {
    let mut timings = Vec::new();
    let mut lat = 30.0;
    while lat < 70.0 {
        let mut lon = -30.0;
        while lon < 40.0 {
            let start = Instant::now();
            for _ in 0..20 {
                black_box(g.region(black_box(lat), black_box(lon)));
            }
            timings.push((start.elapsed().as_nanos() / 20, lat, lon));
            lon += 0.173;
        }
        lat += 0.131;
    }
    timings.sort_unstable_by_key(|t| t.0);
    let pct = |p: f64| timings[((timings.len() - 1) as f64 * p) as usize].0 as f64 / 1000.0;
    println!(
        "region over {} grid points: median {:.2} µs, p90 {:.2} µs, p99 {:.2} µs",
        timings.len(),
        pct(0.5),
        pct(0.9),
        pct(0.99)
    );
    // The single slowest samples are often preemption noise; time them again.
    for &(_, lat, lon) in timings.iter().rev().take(5) {
        time(
            &format!("  slow: {lat:.3},{lon:.3} -> {:?}", g.region(lat, lon)),
            || g.region(black_box(lat), black_box(lon)),
        );
    }
}

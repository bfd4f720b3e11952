//! The error-distribution plot of `evaluate`: one cumulative curve per query kind, error
//! on a logarithmic axis from 1 m to 100 km, share of *all* queries of the kind on the
//! vertical axis (so a curve ends at the kind's found rate).
//!
//! Drawn with plotters' bitmap backend only. Plotters needs a font library (and system
//! fonts) for text, which this dev tool should not depend on, so the few labels are drawn
//! with a small built-in 5×7 pixel font.

use std::path::Path;

use anyhow::{Result, anyhow};
use plotters::prelude::*;

use crate::evaluate::Outcome;
use crate::query::Kind;

const W: u32 = 960;
const H: u32 = 560;
const LEFT: i32 = 80;
const RIGHT: i32 = 220;
const TOP: i32 = 50;
const BOTTOM: i32 = 70;
/// Decades on the error axis: 10^0 … 10^5 m.
const DECADES: f64 = 5.0;

/// 5×7 glyphs of the characters the labels use.
fn glyph(c: char) -> [&'static str; 7] {
    match c {
        '0' => [
            ".###.", "#...#", "#..##", "#.#.#", "##..#", "#...#", ".###.",
        ],
        '1' => [
            "..#..", ".##..", "..#..", "..#..", "..#..", "..#..", ".###.",
        ],
        '2' => [
            ".###.", "#...#", "....#", "...#.", "..#..", ".#...", "#####",
        ],
        '3' => [
            "#####", "...#.", "..#..", "...#.", "....#", "#...#", ".###.",
        ],
        '4' => [
            "...#.", "..##.", ".#.#.", "#..#.", "#####", "...#.", "...#.",
        ],
        '5' => [
            "#####", "#....", "####.", "....#", "....#", "#...#", ".###.",
        ],
        '6' => [
            "..##.", ".#...", "#....", "####.", "#...#", "#...#", ".###.",
        ],
        '7' => [
            "#####", "....#", "...#.", "..#..", ".#...", ".#...", ".#...",
        ],
        '8' => [
            ".###.", "#...#", "#...#", ".###.", "#...#", "#...#", ".###.",
        ],
        '9' => [
            ".###.", "#...#", "#...#", ".####", "....#", "...#.", ".##..",
        ],
        '.' => [
            ".....", ".....", ".....", ".....", ".....", ".##..", ".##..",
        ],
        '(' => [
            "...#.", "..#..", ".#...", ".#...", ".#...", "..#..", "...#.",
        ],
        ')' => [
            ".#...", "..#..", "...#.", "...#.", "...#.", "..#..", ".#...",
        ],
        '_' => [
            ".....", ".....", ".....", ".....", ".....", ".....", "#####",
        ],
        '%' => [
            "##...", "##..#", "...#.", "..#..", ".#...", "#..##", "...##",
        ],
        'a' => [
            ".....", ".....", ".###.", "....#", ".####", "#...#", ".####",
        ],
        'b' => [
            "#....", "#....", "#.##.", "##..#", "#...#", "#...#", "####.",
        ],
        'c' => [
            ".....", ".....", ".###.", "#....", "#....", "#...#", ".###.",
        ],
        'd' => [
            "....#", "....#", ".##.#", "#..##", "#...#", "#...#", ".####",
        ],
        'e' => [
            ".....", ".....", ".###.", "#...#", "#####", "#....", ".###.",
        ],
        'f' => [
            "..##.", ".#..#", ".#...", "###..", ".#...", ".#...", ".#...",
        ],
        'h' => [
            "#....", "#....", "#.##.", "##..#", "#...#", "#...#", "#...#",
        ],
        'i' => [
            "..#..", ".....", ".##..", "..#..", "..#..", "..#..", ".###.",
        ],
        'k' => [
            "#....", "#....", "#..#.", "#.#..", "##...", "#.#..", "#..#.",
        ],
        'l' => [
            ".##..", "..#..", "..#..", "..#..", "..#..", "..#..", ".###.",
        ],
        'm' => [
            ".....", ".....", "##.#.", "#.#.#", "#.#.#", "#...#", "#...#",
        ],
        'n' => [
            ".....", ".....", "#.##.", "##..#", "#...#", "#...#", "#...#",
        ],
        'o' => [
            ".....", ".....", ".###.", "#...#", "#...#", "#...#", ".###.",
        ],
        'p' => [
            ".....", ".....", "####.", "#...#", "####.", "#....", "#....",
        ],
        'q' => [
            ".....", ".....", ".####", "#...#", ".####", "....#", "....#",
        ],
        'r' => [
            ".....", ".....", "#.##.", "##..#", "#....", "#....", "#....",
        ],
        's' => [
            ".....", ".....", ".####", "#....", ".###.", "....#", "####.",
        ],
        't' => [
            ".#...", ".#...", "###..", ".#...", ".#...", ".#..#", "..##.",
        ],
        'u' => [
            ".....", ".....", "#...#", "#...#", "#...#", "#..##", ".##.#",
        ],
        'w' => [
            ".....", ".....", "#...#", "#...#", "#.#.#", "#.#.#", ".#.#.",
        ],
        'x' => [
            ".....", ".....", "#...#", ".#.#.", "..#..", ".#.#.", "#...#",
        ],
        'y' => [
            ".....", ".....", "#...#", "#...#", ".####", "....#", ".###.",
        ],
        _ => [
            ".....", ".....", ".....", ".....", ".....", ".....", ".....",
        ],
    }
}

/// Width in pixels of `text` at `scale`.
fn text_width(text: &str, scale: i32) -> i32 {
    text.chars().count() as i32 * 6 * scale
}

/// Draws `text` with its top-left corner at `(x, y)`.
fn text<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    x: i32,
    y: i32,
    s: &str,
    scale: i32,
    color: &RGBColor,
) -> Result<()> {
    for (i, c) in s.chars().enumerate() {
        let gx = x + i as i32 * 6 * scale;
        for (row, bits) in glyph(c).iter().enumerate() {
            for (col, b) in bits.bytes().enumerate() {
                if b != b'#' {
                    continue;
                }
                let (px, py) = (gx + col as i32 * scale, y + row as i32 * scale);
                area.draw(&Rectangle::new(
                    [(px, py), (px + scale - 1, py + scale - 1)],
                    color.filled(),
                ))
                .map_err(|e| anyhow!("drawing: {e:?}"))?;
            }
        }
    }
    Ok(())
}

/// Colour of a kind's curve.
fn colour(kind: Kind) -> RGBColor {
    match kind {
        Kind::Wifi => RGBColor(31, 119, 180),
        Kind::Cell => RGBColor(214, 39, 40),
        Kind::WifiCell => RGBColor(44, 160, 44),
        Kind::Blue => RGBColor(148, 103, 189),
        Kind::Ip => RGBColor(255, 127, 14),
    }
}

/// Writes the error distribution of `outcomes` as a PNG.
pub fn error_cdf(path: &Path, outcomes: &[Outcome]) -> Result<()> {
    let root = BitMapBackend::new(path, (W, H)).into_drawing_area();
    let err = |e: DrawingAreaErrorKind<_>| anyhow!("plotting: {e:?}");
    root.fill(&WHITE).map_err(err)?;
    let (pw, ph) = (W as i32 - LEFT - RIGHT, H as i32 - TOP - BOTTOM);
    let px = |decades: f64| LEFT + (decades / DECADES * f64::from(pw)).round() as i32;
    let py = |share: f64| TOP + ph - (share * f64::from(ph)).round() as i32;
    let grey = RGBColor(220, 220, 220);
    let line =
        |pts: Vec<(i32, i32)>, c: &RGBColor, w: u32| PathElement::new(pts, c.stroke_width(w));
    for d in 0..=5 {
        let x = px(f64::from(d));
        root.draw(&line(vec![(x, TOP), (x, TOP + ph)], &grey, 1))
            .map_err(err)?;
        let label = ["1", "10", "100", "1k", "10k", "100k"][d as usize];
        text(
            &root,
            x - text_width(label, 2) / 2,
            TOP + ph + 10,
            label,
            2,
            &BLACK,
        )?;
    }
    for q in 0..=4 {
        let share = f64::from(q) / 4.0;
        let y = py(share);
        root.draw(&line(vec![(LEFT, y), (LEFT + pw, y)], &grey, 1))
            .map_err(err)?;
        let label = format!("{}%", q * 25);
        text(
            &root,
            LEFT - 10 - text_width(&label, 2),
            y - 7,
            &label,
            2,
            &BLACK,
        )?;
    }
    root.draw(&line(
        vec![(LEFT, TOP), (LEFT, TOP + ph), (LEFT + pw, TOP + ph)],
        &BLACK,
        2,
    ))
    .map_err(err)?;
    let title = "share of queries located within error (m)";
    text(
        &root,
        LEFT + (pw - text_width(title, 2)) / 2,
        15,
        title,
        2,
        &BLACK,
    )?;
    text(
        &root,
        LEFT + pw / 2 - text_width("error (m)", 2) / 2,
        H as i32 - 30,
        "error (m)",
        2,
        &BLACK,
    )?;
    let mut legend_y = TOP + 10;
    for kind in Kind::ALL {
        let mut errors: Vec<f64> = outcomes
            .iter()
            .filter(|o| o.kind == kind)
            .filter_map(|o| o.error_m)
            .collect();
        let n = outcomes.iter().filter(|o| o.kind == kind).count();
        if n == 0 {
            continue;
        }
        errors.sort_by(f64::total_cmp);
        let c = colour(kind);
        let mut pts = vec![(px(0.0), py(0.0))];
        for (i, e) in errors.iter().enumerate() {
            let d = e.max(1.0).log10().min(DECADES);
            let x = px(d);
            pts.push((x, py(i as f64 / n as f64)));
            pts.push((x, py((i + 1) as f64 / n as f64)));
        }
        if let Some(&(_, y)) = pts.last() {
            pts.push((px(DECADES), y));
        }
        root.draw(&line(pts, &c, 2)).map_err(err)?;
        let lx = LEFT + pw + 20;
        root.draw(&line(
            vec![(lx, legend_y + 7), (lx + 30, legend_y + 7)],
            &c,
            3,
        ))
        .map_err(err)?;
        text(&root, lx + 40, legend_y, kind.name(), 2, &BLACK)?;
        legend_y += 28;
    }
    root.present().map_err(err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glyphs_are_five_by_seven() {
        for c in "0123456789.()_%abcdefhiklmnopqrstuwxy ".chars() {
            for row in glyph(c) {
                assert_eq!(row.len(), 5, "{c:?}");
            }
        }
        assert_eq!(text_width("abc", 2), 36);
        // Every character of the labels has a glyph (only the space is blank).
        let blank = glyph(' ');
        for c in "share of queries located within error (m) wifi_cell blue ip 100k 25%".chars() {
            assert!(c == ' ' || glyph(c) != blank, "no glyph for {c:?}");
        }
    }

    #[test]
    fn writes_a_png() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("e.png");
        let outcomes: Vec<Outcome> = (0..50)
            .map(|i| Outcome {
                id: i,
                kind: if i % 2 == 0 { Kind::Wifi } else { Kind::Cell },
                status: 200,
                error_m: Some(i as f64 * 17.0),
                accuracy_m: Some(100.0),
                fallback: None,
                latency_ms: 1.0,
            })
            .collect();
        error_cdf(&path, &outcomes).expect("plot");
        let bytes = std::fs::read(&path).expect("read");
        assert_eq!(&bytes[1..4], b"PNG");
        assert!(bytes.len() > 2_000);
    }
}

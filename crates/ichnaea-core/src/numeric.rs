//! The few numerical primitives whose exact behaviour the reference inherits from
//! Python and NumPy (`api.md` Appendix E).
//!
//! Results are compared by clients and tests to 7 decimals, so the last bits matter
//! where a value sits near a rounding boundary. Each function here reproduces the
//! reference's arithmetic, including its summation order:
//!
//! * [`round_decimals`] is Python's `round(x, n)`: correctly rounded from the exact
//!   binary value, ties to even.
//! * [`numpy_sum`] is NumPy's pairwise summation (8-way unrolled blocks of up to 128
//!   values), started from the additive identity, as `ndarray.sum()` does.
//! * [`weighted_mean`] is `numpy.average(points, axis=0, weights=w)`: a sequential
//!   weighted sum per coordinate divided by the pairwise sum of the weights.
//! * [`percentile`] is `numpy.percentile` with the default linear method, including
//!   NumPy's two-sided interpolation formula.

/// Orders floats like Python's `<` does for sorting: `-0.0 == 0.0`, and NaN (never
/// expected here) compares equal to everything instead of failing.
pub fn cmp_f64(a: f64, b: f64) -> std::cmp::Ordering {
    a.partial_cmp(&b).unwrap_or(std::cmp::Ordering::Equal)
}

/// Python's `round(x, digits)` for `digits >= 0`: the decimal value closest to the
/// exact binary `x`, ties to even. Non-finite values are returned unchanged.
pub fn round_decimals(x: f64, digits: i32) -> f64 {
    if !x.is_finite() {
        return x;
    }
    let digits = usize::try_from(digits).unwrap_or(0);
    // Rust formats the exact binary value and rounds half to even, and parsing a
    // decimal string is correctly rounded: together exactly Python's algorithm.
    format!("{x:.digits$}").parse().unwrap_or(x)
}

/// NumPy's `ndarray.sum()` of a one-dimensional array.
pub fn numpy_sum(values: &[f64]) -> f64 {
    -0.0 + pairwise_sum(values)
}

/// NumPy's `pairwise_sum_DOUBLE`: the summation order NumPy uses for a contiguous
/// `float64` array, so sums (and everything derived from them) match the reference to the
/// last bit.
pub fn pairwise_sum(values: &[f64]) -> f64 {
    const BLOCK: usize = 128;
    let n = values.len();
    if n < 8 {
        let mut sum = 0.0;
        for &v in values {
            sum += v;
        }
        sum
    } else if n <= BLOCK {
        let mut r = [0.0; 8];
        r.copy_from_slice(&values[..8]);
        let whole = n - n % 8;
        let mut i = 8;
        while i < whole {
            for (j, acc) in r.iter_mut().enumerate() {
                *acc += values[i + j];
            }
            i += 8;
        }
        let mut sum = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for &v in &values[whole..] {
            sum += v;
        }
        sum
    } else {
        let mut half = n / 2;
        half -= half % 8;
        pairwise_sum(&values[..half]) + pairwise_sum(&values[half..])
    }
}

/// `numpy.average(points, axis=0, weights=weights)` of `(lat, lon)` points.
///
/// `None` when there are no points, the lengths differ or the weights sum to zero.
pub fn weighted_mean(points: &[(f64, f64)], weights: &[f64]) -> Option<(f64, f64)> {
    if points.is_empty() || points.len() != weights.len() {
        return None;
    }
    let total = numpy_sum(weights);
    if total == 0.0 {
        return None;
    }
    let (mut lat, mut lon) = (0.0, 0.0);
    for (&(plat, plon), &w) in points.iter().zip(weights) {
        lat += plat * w;
        lon += plon * w;
    }
    Some((lat / total, lon / total))
}

/// `numpy.percentile(values, q)` with the default linear interpolation; `None` for no
/// values. NaNs are not expected (distances never are).
pub fn percentile(values: &[f64], q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    let last = n - 1;
    let index = last as f64 * (q / 100.0);
    let below = index.floor();
    let gamma = index - below;
    let (lo, hi) = if index >= last as f64 {
        (last, last)
    } else {
        let lo = below.max(0.0) as usize;
        (lo, (lo + 1).min(last))
    };
    let (a, b) = (sorted[lo], sorted[hi]);
    let diff = b - a;
    // NumPy's `_lerp`: interpolate from the nearer end for better rounding.
    Some(if gamma >= 0.5 {
        b - diff * (1.0 - gamma)
    } else {
        a + diff * gamma
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_matches_python() {
        // Values checked against CPython's round().
        assert_eq!(round_decimals(2.675, 2), 2.67);
        assert_eq!(round_decimals(0.125, 2), 0.12);
        assert_eq!(round_decimals(0.375, 2), 0.38);
        assert_eq!(round_decimals(1.0 / 256.0, 7), 0.0039062);
        assert_eq!(round_decimals(51.50000349999, 7), 51.5000035);
        assert_eq!(round_decimals(-0.0931, 7), -0.0931);
        assert_eq!(round_decimals(0.5, 0), 0.0);
        assert_eq!(round_decimals(1.5, 0), 2.0);
        assert_eq!(round_decimals(205.5555, 3), 205.555);
        assert!(round_decimals(f64::NAN, 7).is_nan());
        assert_eq!(round_decimals(f64::INFINITY, 7), f64::INFINITY);
        assert_eq!(round_decimals(1e300, 7), 1e300);
    }

    #[test]
    fn pairwise_sum_groups_like_numpy() {
        assert_eq!(numpy_sum(&[]), 0.0);
        assert_eq!(numpy_sum(&[1.0, 2.0, 3.0]), 6.0);
        // Nine values: eight accumulators, then the ninth added sequentially. A naive
        // left-to-right sum gives a different last bit here.
        let v = [1e16, 1.0, -1e16, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0];
        let pairwise = ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7])) + v[8];
        assert_eq!(numpy_sum(&v), pairwise);
        let long: Vec<f64> = (0..300).map(|i| f64::from(i) * 0.1).collect();
        let expected: f64 = (0..300).map(|i| f64::from(i) * 0.1).sum();
        assert!((numpy_sum(&long) - expected).abs() < 1e-9);
    }

    #[test]
    fn weighted_mean_and_its_failures() {
        let m = weighted_mean(&[(51.5, -0.1), (52.5, 0.9)], &[2.0, 1.0]).unwrap();
        assert_eq!(round_decimals(m.0, 7), 51.8333333);
        assert_eq!(round_decimals(m.1, 7), 0.2333333);
        assert_eq!(weighted_mean(&[], &[]), None);
        assert_eq!(weighted_mean(&[(1.0, 1.0)], &[0.0]), None);
        assert_eq!(weighted_mean(&[(1.0, 1.0)], &[1.0, 2.0]), None);
    }

    #[test]
    fn percentile_is_numpy_linear() {
        assert_eq!(percentile(&[], 95.0), None);
        assert_eq!(percentile(&[7.0], 95.0), Some(7.0));
        // h = 0.95: 0 + 0.95 * 10, computed from the upper end.
        assert_eq!(
            percentile(&[10.0, 0.0], 95.0),
            Some(10.0 - 10.0 * (1.0 - 0.95))
        );
        // h = 0.95 * 3 = 2.85 over [1, 2, 3, 4].
        let p = percentile(&[4.0, 1.0, 3.0, 2.0], 95.0).unwrap();
        assert!((p - 3.85).abs() < 1e-12, "{p}");
        // h = 0.95 * 20 = 19.0 exactly: no interpolation.
        let v: Vec<f64> = (0..21).map(f64::from).collect();
        assert_eq!(percentile(&v, 95.0), Some(19.0));
    }
}

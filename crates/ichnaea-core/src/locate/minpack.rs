//! A port of MINPACK's `lmdif` (Levenberg–Marquardt with a forward-difference
//! Jacobian), as called by SciPy's `scipy.optimize.leastsq`.
//!
//! The reference refines every WiFi/Bluetooth position with `leastsq` (`api.md` §8.6.1)
//! and its answers are compared to 7 decimals. `lmdif` stops on a tolerance that is
//! *relative* to the parameter values, so for latitudes around 50° it stops up to
//! ~1e-6° away from the exact optimum; another solver, even a better one, would return
//! different 7th decimals. This is therefore a line-by-line port of the Fortran
//! routines `lmdif`, `fdjac2`, `qrfac`, `lmpar`, `qrsolv` and `enorm` (MINPACK-1,
//! Argonne 1980), with the same operation order, using SciPy's defaults:
//! `ftol = xtol = 1.49012e-8`, `gtol = 0`, `maxfev = 200·(n+1)`, `factor = 100`,
//! automatic scaling (`mode = 1`) and `epsfcn` = machine epsilon.
//!
//! Matrices are column-major like Fortran's: element (i, j) of an `m`-row matrix is at
//! `i + j·m`, with 0-based indices.

/// Machine precision (MINPACK `dpmpar(1)`).
const EPSMCH: f64 = f64::EPSILON;
/// Smallest positive normal magnitude (MINPACK `dpmpar(2)`).
const DWARF: f64 = f64::MIN_POSITIVE;

/// SciPy's default `ftol` and `xtol` for `leastsq`.
pub const DEFAULT_TOLERANCE: f64 = 1.49012e-8;

/// The outcome of [`leastsq`].
#[derive(Debug, Clone, PartialEq)]
pub struct LeastSquares {
    /// The final parameters.
    pub x: Vec<f64>,
    /// MINPACK's `info` (SciPy's `ier`): 1–4 mean a solution was found; 0 is bad
    /// input; 5 means too many function evaluations; 6–8 mean the tolerances are too
    /// small to improve further.
    pub info: i32,
    /// Number of function evaluations.
    pub nfev: usize,
}

impl LeastSquares {
    /// Whether SciPy would report success (`ier` in 1..=4).
    pub fn converged(&self) -> bool {
        (1..=4).contains(&self.info)
    }
}

/// Minimises the sum of squares of the `m` residuals computed by `fcn(x, residuals)`
/// over the parameters `x`, starting at `x0`, exactly as
/// `scipy.optimize.leastsq(fcn, x0)` does.
pub fn leastsq<F>(mut fcn: F, x0: &[f64], m: usize) -> LeastSquares
where
    F: FnMut(&[f64], &mut [f64]),
{
    let n = x0.len();
    let mut x = x0.to_vec();
    let maxfev = 200 * (n + 1);
    lmdif(
        &mut fcn,
        m,
        &mut x,
        DEFAULT_TOLERANCE,
        DEFAULT_TOLERANCE,
        0.0,
        maxfev,
        100.0,
    )
}

/// MINPACK `lmdif` with `mode = 1`, `epsfcn = 0` (i.e. machine precision) and no
/// printing. Returns the final `x` with `info` and `nfev`.
#[expect(
    clippy::too_many_arguments,
    reason = "mirrors MINPACK's lmdif signature so the port can be checked line by line"
)]
fn lmdif<F>(
    fcn: &mut F,
    m: usize,
    x: &mut [f64],
    ftol: f64,
    xtol: f64,
    gtol: f64,
    maxfev: usize,
    factor: f64,
) -> LeastSquares
where
    F: FnMut(&[f64], &mut [f64]),
{
    let n = x.len();
    let done = |x: &[f64], info: i32, nfev: usize| LeastSquares {
        x: x.to_vec(),
        info,
        nfev,
    };
    if n == 0 || m < n || ftol < 0.0 || xtol < 0.0 || gtol < 0.0 || maxfev == 0 || factor <= 0.0 {
        return done(x, 0, 0);
    }

    let mut fvec = vec![0.0; m];
    let mut fjac = vec![0.0; m * n];
    let mut diag = vec![0.0; n];
    let mut qtf = vec![0.0; n];
    let mut ipvt = vec![0usize; n];
    let mut wa1 = vec![0.0; n];
    let mut wa2 = vec![0.0; n];
    let mut wa3 = vec![0.0; n];
    let mut wa4 = vec![0.0; m];

    fcn(x, &mut fvec);
    let mut nfev = 1;
    let mut fnorm = enorm(&fvec);

    let mut par = 0.0;
    let mut iter = 1;
    let mut delta = 0.0;
    let mut xnorm = 0.0;

    loop {
        // Outer loop: Jacobian, QR factorisation, scaling.
        fdjac2(fcn, m, x, &fvec, &mut fjac, &mut wa4);
        nfev += n;

        qrfac(m, n, &mut fjac, &mut ipvt, &mut wa1, &mut wa2, &mut wa3);

        if iter == 1 {
            for j in 0..n {
                diag[j] = if wa2[j] == 0.0 { 1.0 } else { wa2[j] };
                wa3[j] = diag[j] * x[j];
            }
            xnorm = enorm(&wa3);
            delta = factor * xnorm;
            if delta == 0.0 {
                delta = factor;
            }
        }

        // Form (Q transpose)·fvec and store its first n components in qtf.
        wa4.copy_from_slice(&fvec);
        for j in 0..n {
            let jj = j + j * m;
            if fjac[jj] != 0.0 {
                let mut sum = 0.0;
                for i in j..m {
                    sum += fjac[i + j * m] * wa4[i];
                }
                let temp = -sum / fjac[jj];
                for i in j..m {
                    wa4[i] += fjac[i + j * m] * temp;
                }
            }
            fjac[jj] = wa1[j];
            qtf[j] = wa4[j];
        }

        // The norm of the scaled gradient.
        let mut gnorm: f64 = 0.0;
        if fnorm != 0.0 {
            for j in 0..n {
                let l = ipvt[j];
                if wa2[l] != 0.0 {
                    let mut sum = 0.0;
                    for i in 0..=j {
                        sum += fjac[i + j * m] * (qtf[i] / fnorm);
                    }
                    gnorm = gnorm.max((sum / wa2[l]).abs());
                }
            }
        }
        if gnorm <= gtol {
            return done(x, 4, nfev);
        }

        for j in 0..n {
            diag[j] = diag[j].max(wa2[j]);
        }

        // Inner loop: try steps until one reduces the sum of squares.
        loop {
            lmpar(
                n, m, &mut fjac, &ipvt, &diag, &qtf, delta, &mut par, &mut wa1, &mut wa2, &mut wa3,
                &mut wa4,
            );
            for j in 0..n {
                wa1[j] = -wa1[j];
                wa2[j] = x[j] + wa1[j];
                wa3[j] = diag[j] * wa1[j];
            }
            let pnorm = enorm(&wa3);
            if iter == 1 {
                delta = delta.min(pnorm);
            }

            fcn(&wa2, &mut wa4);
            nfev += 1;
            let fnorm1 = enorm(&wa4);

            // Scaled actual reduction.
            let mut actred = -1.0;
            if 0.1 * fnorm1 < fnorm {
                actred = 1.0 - (fnorm1 / fnorm).powi(2);
            }

            // Scaled predicted reduction and scaled directional derivative.
            for j in 0..n {
                wa3[j] = 0.0;
                let temp = wa1[ipvt[j]];
                for i in 0..=j {
                    wa3[i] += fjac[i + j * m] * temp;
                }
            }
            let temp1 = enorm(&wa3[..n]) / fnorm;
            let temp2 = (par.sqrt() * pnorm) / fnorm;
            let prered = temp1 * temp1 + temp2 * temp2 / 0.5;
            let dirder = -(temp1 * temp1 + temp2 * temp2);

            let ratio = if prered != 0.0 { actred / prered } else { 0.0 };

            // Update the step bound.
            if ratio <= 0.25 {
                let mut temp = if actred >= 0.0 {
                    0.5
                } else {
                    0.5 * dirder / (dirder + 0.5 * actred)
                };
                if 0.1 * fnorm1 >= fnorm || temp < 0.1 {
                    temp = 0.1;
                }
                delta = temp * delta.min(pnorm / 0.1);
                par /= temp;
            } else if par == 0.0 || ratio >= 0.75 {
                delta = pnorm / 0.5;
                par *= 0.5;
            }

            // A successful iteration: accept the step.
            if ratio >= 1e-4 {
                for j in 0..n {
                    x[j] = wa2[j];
                    wa2[j] = diag[j] * x[j];
                }
                fvec.copy_from_slice(&wa4);
                xnorm = enorm(&wa2);
                fnorm = fnorm1;
                iter += 1;
            }

            // Convergence tests.
            let mut info = 0;
            let small_reduction = actred.abs() <= ftol && prered <= ftol && 0.5 * ratio <= 1.0;
            if small_reduction {
                info = 1;
            }
            if delta <= xtol * xnorm {
                info = if small_reduction { 3 } else { 2 };
            }
            if info != 0 {
                return done(x, info, nfev);
            }

            // Termination and stringent-tolerance tests.
            if nfev >= maxfev {
                info = 5;
            }
            if actred.abs() <= EPSMCH && prered <= EPSMCH && 0.5 * ratio <= 1.0 {
                info = 6;
            }
            if delta <= EPSMCH * xnorm {
                info = 7;
            }
            if gnorm <= EPSMCH {
                info = 8;
            }
            if info != 0 {
                return done(x, info, nfev);
            }

            if ratio >= 1e-4 {
                break;
            }
        }
    }
}

/// MINPACK `fdjac2`: the forward-difference Jacobian, column by column.
fn fdjac2<F>(fcn: &mut F, m: usize, x: &mut [f64], fvec: &[f64], fjac: &mut [f64], wa: &mut [f64])
where
    F: FnMut(&[f64], &mut [f64]),
{
    let eps = EPSMCH.sqrt();
    for j in 0..x.len() {
        let temp = x[j];
        let mut h = eps * temp.abs();
        if h == 0.0 {
            h = eps;
        }
        x[j] = temp + h;
        fcn(x, wa);
        x[j] = temp;
        for i in 0..m {
            fjac[i + j * m] = (wa[i] - fvec[i]) / h;
        }
    }
}

/// MINPACK `qrfac` with column pivoting: Householder QR of the `m`×`n` matrix `a`.
/// Returns the pivot order in `ipvt`, the diagonal of R in `rdiag` and the column norms
/// of the input in `acnorm`.
fn qrfac(
    m: usize,
    n: usize,
    a: &mut [f64],
    ipvt: &mut [usize],
    rdiag: &mut [f64],
    acnorm: &mut [f64],
    wa: &mut [f64],
) {
    for j in 0..n {
        acnorm[j] = enorm(&a[j * m..(j + 1) * m]);
        rdiag[j] = acnorm[j];
        wa[j] = rdiag[j];
        ipvt[j] = j;
    }

    for j in 0..m.min(n) {
        // Bring the column of largest norm into the pivot position.
        let mut kmax = j;
        for k in j..n {
            if rdiag[k] > rdiag[kmax] {
                kmax = k;
            }
        }
        if kmax != j {
            for i in 0..m {
                a.swap(i + j * m, i + kmax * m);
            }
            rdiag[kmax] = rdiag[j];
            wa[kmax] = wa[j];
            ipvt.swap(j, kmax);
        }

        // The Householder transformation reducing column j to a multiple of e_j.
        let mut ajnorm = enorm(&a[j + j * m..(j + 1) * m]);
        if ajnorm != 0.0 {
            if a[j + j * m] < 0.0 {
                ajnorm = -ajnorm;
            }
            for i in j..m {
                a[i + j * m] /= ajnorm;
            }
            a[j + j * m] += 1.0;

            // Apply it to the remaining columns and update their norms.
            for k in j + 1..n {
                let mut sum = 0.0;
                for i in j..m {
                    sum += a[i + j * m] * a[i + k * m];
                }
                let temp = sum / a[j + j * m];
                for i in j..m {
                    a[i + k * m] -= temp * a[i + j * m];
                }
                if rdiag[k] != 0.0 {
                    let temp = a[j + k * m] / rdiag[k];
                    rdiag[k] *= (1.0 - temp * temp).max(0.0).sqrt();
                    if 0.05 * (rdiag[k] / wa[k]).powi(2) <= EPSMCH {
                        rdiag[k] = enorm(&a[j + 1 + k * m..(k + 1) * m]);
                        wa[k] = rdiag[k];
                    }
                }
            }
        }
        rdiag[j] = -ajnorm;
    }
}

/// MINPACK `lmpar`: the Levenberg–Marquardt parameter `par` for the trust region
/// `delta`, and the step `x` that goes with it.
#[expect(
    clippy::too_many_arguments,
    reason = "mirrors MINPACK's lmpar signature so the port can be checked line by line"
)]
fn lmpar(
    n: usize,
    ldr: usize,
    r: &mut [f64],
    ipvt: &[usize],
    diag: &[f64],
    qtb: &[f64],
    delta: f64,
    par: &mut f64,
    x: &mut [f64],
    sdiag: &mut [f64],
    wa1: &mut [f64],
    wa2: &mut [f64],
) {
    // The Gauss-Newton direction; a least squares solution if R is singular.
    let mut nsing = n;
    for j in 0..n {
        wa1[j] = qtb[j];
        if r[j + j * ldr] == 0.0 && nsing == n {
            nsing = j;
        }
        if nsing < n {
            wa1[j] = 0.0;
        }
    }
    for j in (0..nsing).rev() {
        wa1[j] /= r[j + j * ldr];
        let temp = wa1[j];
        for i in 0..j {
            wa1[i] -= r[i + j * ldr] * temp;
        }
    }
    for j in 0..n {
        x[ipvt[j]] = wa1[j];
    }

    // Accept the Gauss-Newton direction if it lies within the trust region.
    let mut iter = 0;
    for j in 0..n {
        wa2[j] = diag[j] * x[j];
    }
    let mut dxnorm = enorm(&wa2[..n]);
    let mut fp = dxnorm - delta;
    if fp <= 0.1 * delta {
        *par = 0.0;
        return;
    }

    // Lower bound parl of the zero of the secular function (zero if rank deficient).
    let mut parl = 0.0;
    if nsing >= n {
        for j in 0..n {
            let l = ipvt[j];
            wa1[j] = diag[l] * (wa2[l] / dxnorm);
        }
        for j in 0..n {
            let mut sum = 0.0;
            for i in 0..j {
                sum += r[i + j * ldr] * wa1[i];
            }
            wa1[j] = (wa1[j] - sum) / r[j + j * ldr];
        }
        let temp = enorm(&wa1[..n]);
        parl = ((fp / delta) / temp) / temp;
    }

    // Upper bound paru.
    for j in 0..n {
        let mut sum = 0.0;
        for i in 0..=j {
            sum += r[i + j * ldr] * qtb[i];
        }
        wa1[j] = sum / diag[ipvt[j]];
    }
    let gnorm = enorm(&wa1[..n]);
    let mut paru = gnorm / delta;
    if paru == 0.0 {
        paru = DWARF / delta.min(0.1);
    }

    *par = par.max(parl).min(paru);
    if *par == 0.0 {
        *par = gnorm / dxnorm;
    }

    loop {
        iter += 1;
        if *par == 0.0 {
            *par = DWARF.max(0.001 * paru);
        }
        let temp = par.sqrt();
        for j in 0..n {
            wa1[j] = temp * diag[j];
        }
        qrsolv(n, ldr, r, ipvt, wa1, qtb, x, sdiag, wa2);
        for j in 0..n {
            wa2[j] = diag[j] * x[j];
        }
        dxnorm = enorm(&wa2[..n]);
        let previous = fp;
        fp = dxnorm - delta;

        if fp.abs() <= 0.1 * delta
            || (parl == 0.0 && fp <= previous && previous < 0.0)
            || iter == 10
        {
            return;
        }

        // Newton correction.
        for j in 0..n {
            let l = ipvt[j];
            wa1[j] = diag[l] * (wa2[l] / dxnorm);
        }
        for j in 0..n {
            wa1[j] /= sdiag[j];
            let temp = wa1[j];
            for i in j + 1..n {
                wa1[i] -= r[i + j * ldr] * temp;
            }
        }
        let temp = enorm(&wa1[..n]);
        let parc = ((fp / delta) / temp) / temp;

        if fp > 0.0 {
            parl = parl.max(*par);
        }
        if fp < 0.0 {
            paru = paru.min(*par);
        }
        *par = parl.max(*par + parc);
    }
}

/// MINPACK `qrsolv`: solves `A·x = b, D·x = 0` in the least squares sense, given the QR
/// factorisation of A (R in the upper triangle of `r`) and the diagonal `diag` of D.
#[expect(
    clippy::too_many_arguments,
    reason = "mirrors MINPACK's qrsolv signature so the port can be checked line by line"
)]
fn qrsolv(
    n: usize,
    ldr: usize,
    r: &mut [f64],
    ipvt: &[usize],
    diag: &[f64],
    qtb: &[f64],
    x: &mut [f64],
    sdiag: &mut [f64],
    wa: &mut [f64],
) {
    // Copy R and Qᵀb; keep the diagonal of R in x.
    for j in 0..n {
        for i in j..n {
            r[i + j * ldr] = r[j + i * ldr];
        }
        x[j] = r[j + j * ldr];
        wa[j] = qtb[j];
    }

    // Eliminate the diagonal matrix D with Givens rotations.
    for j in 0..n {
        let l = ipvt[j];
        if diag[l] != 0.0 {
            for s in sdiag.iter_mut().take(n).skip(j) {
                *s = 0.0;
            }
            sdiag[j] = diag[l];
            let mut qtbpj = 0.0;
            for k in j..n {
                if sdiag[k] == 0.0 {
                    continue;
                }
                let rkk = r[k + k * ldr];
                let (sin, cos) = if rkk.abs() < sdiag[k].abs() {
                    let cotan = rkk / sdiag[k];
                    let sin = 0.5 / (0.25 + 0.25 * cotan * cotan).sqrt();
                    (sin, sin * cotan)
                } else {
                    let tan = sdiag[k] / rkk;
                    let cos = 0.5 / (0.25 + 0.25 * tan * tan).sqrt();
                    (cos * tan, cos)
                };
                r[k + k * ldr] = cos * rkk + sin * sdiag[k];
                let temp = cos * wa[k] + sin * qtbpj;
                qtbpj = -sin * wa[k] + cos * qtbpj;
                wa[k] = temp;
                for i in k + 1..n {
                    let temp = cos * r[i + k * ldr] + sin * sdiag[i];
                    sdiag[i] = -sin * r[i + k * ldr] + cos * sdiag[i];
                    r[i + k * ldr] = temp;
                }
            }
        }
        sdiag[j] = r[j + j * ldr];
        r[j + j * ldr] = x[j];
    }

    // Solve the triangular system; least squares if singular.
    let mut nsing = n;
    for j in 0..n {
        if sdiag[j] == 0.0 && nsing == n {
            nsing = j;
        }
        if nsing < n {
            wa[j] = 0.0;
        }
    }
    for j in (0..nsing).rev() {
        let mut sum = 0.0;
        for i in j + 1..nsing {
            sum += r[i + j * ldr] * wa[i];
        }
        wa[j] = (wa[j] - sum) / sdiag[j];
    }
    for j in 0..n {
        x[ipvt[j]] = wa[j];
    }
}

/// MINPACK `enorm`: the Euclidean norm, with scaling against over- and underflow.
fn enorm(x: &[f64]) -> f64 {
    const RDWARF: f64 = 3.834e-20;
    const RGIANT: f64 = 1.304e19;
    let (mut s1, mut s2, mut s3) = (0.0_f64, 0.0_f64, 0.0_f64);
    let (mut x1max, mut x3max) = (0.0_f64, 0.0_f64);
    let agiant = RGIANT / x.len() as f64;
    for &xi in x {
        let xabs = xi.abs();
        if xabs > RDWARF && xabs < agiant {
            s2 += xabs * xabs;
        } else if xabs <= RDWARF {
            if xabs > x3max {
                s3 = 1.0 + s3 * (x3max / xabs).powi(2);
                x3max = xabs;
            } else if xabs != 0.0 {
                s3 += (xabs / x3max).powi(2);
            }
        } else if xabs > x1max {
            s1 = 1.0 + s1 * (x1max / xabs).powi(2);
            x1max = xabs;
        } else {
            s1 += (xabs / x1max).powi(2);
        }
    }
    if s1 != 0.0 {
        x1max * (s1 + (s2 / x1max) / x1max).sqrt()
    } else if s2 != 0.0 {
        if s2 >= x3max {
            (s2 * (1.0 + (x3max / s2) * (x3max * s3))).sqrt()
        } else {
            (x3max * ((s2 / x3max) + (x3max * s3))).sqrt()
        }
    } else {
        x3max * s3.sqrt()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enorm_matches_the_plain_norm_in_the_normal_range() {
        assert_eq!(enorm(&[3.0, 4.0]), 5.0);
        assert_eq!(enorm(&[]), 0.0);
        assert_eq!(enorm(&[0.0, 0.0]), 0.0);
        let tiny = enorm(&[3e-21, 4e-21]);
        assert!((tiny - 5e-21).abs() < 1e-35, "{tiny}");
        let huge = enorm(&[3e19, 4e19]);
        assert!((huge / 5e19 - 1.0).abs() < 1e-15, "{huge}");
    }

    #[test]
    fn solves_a_linear_fit_exactly() {
        // y = 2x + 1 sampled without noise: the minimum has zero residuals.
        let xs = [0.0, 1.0, 2.0, 3.0, 4.0];
        let fit = leastsq(
            |p, out| {
                for (o, &x) in out.iter_mut().zip(&xs) {
                    *o = p[0] * x + p[1] - (2.0 * x + 1.0);
                }
            },
            &[0.5, 0.5],
            xs.len(),
        );
        assert!(fit.converged(), "{fit:?}");
        assert!(
            (fit.x[0] - 2.0).abs() < 1e-7 && (fit.x[1] - 1.0).abs() < 1e-7,
            "{fit:?}"
        );
    }

    #[test]
    fn solves_rosenbrock() {
        // The classic test: residuals (10(y - x²), 1 - x), minimum at (1, 1).
        let fit = leastsq(
            |p, out| {
                out[0] = 10.0 * (p[1] - p[0] * p[0]);
                out[1] = 1.0 - p[0];
            },
            &[-1.2, 1.0],
            2,
        );
        assert!(fit.converged(), "{fit:?}");
        assert!(
            (fit.x[0] - 1.0).abs() < 1e-6 && (fit.x[1] - 1.0).abs() < 1e-6,
            "{fit:?}"
        );
    }

    #[test]
    fn zero_residuals_at_the_start_stop_immediately() {
        let fit = leastsq(
            |p, out| {
                out[0] = p[0] - 3.0;
                out[1] = p[1] + 1.0;
            },
            &[3.0, -1.0],
            2,
        );
        assert_eq!(fit.info, 4);
        assert_eq!(fit.x, vec![3.0, -1.0]);
        assert_eq!(fit.nfev, 3);
    }

    #[test]
    fn improper_input_is_reported() {
        let fit = leastsq(|_, _| {}, &[1.0, 2.0], 1);
        assert_eq!(fit.info, 0);
        assert!(!fit.converged());
        assert_eq!(fit.x, vec![1.0, 2.0]);
    }
}

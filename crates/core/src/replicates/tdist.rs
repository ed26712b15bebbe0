//! Student's t distribution: the two-sided quantile a 95 % interval needs, computed
//! (not a printed table) so any degrees of freedom work, Welch's fractional ones too.
//!
//! The t CDF is written with the regularized incomplete beta function,
//! `P(|T| > t) = I_x(ν/2, 1/2)` with `x = ν / (ν + t²)`, evaluated by its continued
//! fraction (Lentz's method, as in Numerical Recipes §6.4); the quantile is found by
//! bisection, which cannot fail to converge because the tail probability falls
//! monotonically in t.

/// `q` such that `P(|T| ≤ q) = confidence` for `df` degrees of freedom: 12.706 for
/// df = 1 at 95 %, 2.776 for df = 4, 1.960 as df grows. `None` for df ≤ 0 (one
/// replicate says nothing about its own noise) or a confidence outside (0, 1).
pub fn two_sided_quantile(df: f64, confidence: f64) -> Option<f64> {
    if df.is_nan() || df <= 0.0 || confidence.is_nan() || confidence <= 0.0 || confidence >= 1.0 {
        return None;
    }
    let tail = 1.0 - confidence;
    // The tail at `hi` is below `tail` for any df ≥ 1e-3 and confidence ≤ 1 − 1e-12.
    let (mut lo, mut hi) = (0.0_f64, 1e12_f64);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if two_sided_tail(mid, df) > tail {
            lo = mid;
        } else {
            hi = mid;
        }
        if hi - lo <= 1e-12 * hi.max(1.0) {
            break;
        }
    }
    Some(0.5 * (lo + hi))
}

/// `P(|T| > t)` for `t ≥ 0`.
fn two_sided_tail(t: f64, df: f64) -> f64 {
    let x = df / (df + t * t);
    incomplete_beta(x, df / 2.0, 0.5)
}

/// The regularized incomplete beta function `I_x(a, b)`.
fn incomplete_beta(x: f64, a: f64, b: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let ln_front = ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln();
    let front = ln_front.exp();
    // The continued fraction converges fast for x < (a + 1) / (a + b + 2); use the
    // symmetry I_x(a, b) = 1 − I_{1−x}(b, a) on the other side.
    if x < (a + 1.0) / (a + b + 2.0) {
        front * beta_fraction(x, a, b) / a
    } else {
        1.0 - front * beta_fraction(1.0 - x, b, a) / b
    }
}

/// The continued fraction of the incomplete beta function (modified Lentz).
fn beta_fraction(x: f64, a: f64, b: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 - qab * x / qap;
    if d.abs() < TINY {
        d = TINY;
    }
    d = 1.0 / d;
    let mut h = d;
    for m in 1..1000 {
        let m = m as f64;
        let m2 = 2.0 * m;
        let aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 + aa * d;
        d = if d.abs() < TINY { TINY } else { d };
        c = 1.0 + aa / c;
        c = if c.abs() < TINY { TINY } else { c };
        d = 1.0 / d;
        h *= d * c;
        let aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 + aa * d;
        d = if d.abs() < TINY { TINY } else { d };
        c = 1.0 + aa / c;
        c = if c.abs() < TINY { TINY } else { c };
        d = 1.0 / d;
        let delta = d * c;
        h *= delta;
        if (delta - 1.0).abs() < 1e-15 {
            break;
        }
    }
    h
}

/// ln Γ(x) for x > 0 (Lanczos, g = 7, nine terms: about 15 significant digits).
fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection: Γ(x) Γ(1 − x) = π / sin(πx).
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut sum = C[0];
    for (i, c) in C.iter().enumerate().skip(1) {
        sum += c / (x + i as f64);
    }
    let t = x + G + 0.5;
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + sum.ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The printed table (e.g. NIST/SEMATECH e-Handbook 1.3.6.7.2, 0.975 column).
    #[test]
    fn matches_the_printed_table() {
        for (df, q) in [
            (1.0, 12.706),
            (2.0, 4.303),
            (3.0, 3.182),
            (4.0, 2.776),
            (5.0, 2.571),
            (9.0, 2.262),
            (19.0, 2.093),
            (29.0, 2.045),
            (100.0, 1.984),
            (1e9, 1.960),
        ] {
            let got = two_sided_quantile(df, 0.95).unwrap();
            assert!((got - q).abs() < 5e-4, "df {df}: {got} against {q}");
        }
        // 99 % too, and a fractional (Welch) df between its neighbours.
        assert!((two_sided_quantile(4.0, 0.99).unwrap() - 4.604).abs() < 5e-4);
        let frac = two_sided_quantile(4.5, 0.95).unwrap();
        assert!(frac < 2.776 && frac > 2.571, "{frac}");
    }

    #[test]
    fn no_quantile_without_degrees_of_freedom() {
        assert_eq!(two_sided_quantile(0.0, 0.95), None);
        assert_eq!(two_sided_quantile(f64::NAN, 0.95), None);
        assert_eq!(two_sided_quantile(3.0, 1.0), None);
    }

    #[test]
    fn ln_gamma_of_known_values() {
        assert!(ln_gamma(1.0).abs() < 1e-12);
        assert!((ln_gamma(5.0) - 24f64.ln()).abs() < 1e-12);
        assert!((ln_gamma(0.5) - std::f64::consts::PI.sqrt().ln()).abs() < 1e-12);
    }
}

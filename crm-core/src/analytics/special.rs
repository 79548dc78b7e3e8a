//! The Gauss hypergeometric function for the BG/NBD predictions.
//!
//! No maintained pure-Rust crate offers `2F1` without pulling in a numerical framework
//! (`statrs` and `special` have none; `special-fun` binds Cephes and `GSL` binds libgsl, both
//! C, whose symbols may clash with a host program's). It is written here for the domain the
//! BG/NBD needs: `2F1(a, b; c; z)` with real `a`, `b`, `c` (`c` not 0, -1, -2, ...) and
//! `0 <= z < 1`. The model's `c` is `a + b + x - 1` of its own parameters, below zero when
//! their `a + b < 1`, and its `z` comes near 1 for long horizons.
//!
//! Method (Abramowitz and Stegun 15.1.1, 15.3.3 and 15.3.6):
//! - the Gauss series, of `F(a, b; c; z)` or, by Euler's transformation, of
//!   `(1 - z)^(c-a-b) F(c-a, c-b; c; z)`: of those whose terms keep one sign (alternating
//!   terms lose precision to cancellation), the one whose terms fall faster;
//! - for `z > 0.9` where that takes more than 100,000 terms, the connection to `1 - z`:
//!   `F = A1 F(a, b; a+b-c+1; 1-z) + A2 (1-z)^(c-a-b) F(c-a, c-b; c-a-b+1; 1-z)`, whose
//!   series converge fast (it is not used sooner: for large parameters its two terms cancel);
//! - its coefficients have poles where `c - a - b` is an integer `m`: there (within 1e-7) the
//!   limits with logarithms and digammas are summed instead (15.3.10 for `m = 0`, 15.3.11 for
//!   `m > 0`, and for `m < 0` 15.3.11 after Euler's transformation). Near such a pole the
//!   connection formula loses about `1e-16 / |c - a - b - m|` of relative precision, at most
//!   about 1e-9; everywhere else the result is within a few 1e-14.
//! - `a` or `b` a non-positive integer makes `F` a polynomial, summed as it is.
//!
//! Values are carried as a sign and a logarithm, so that results beyond `f64` (heavy buyers,
//! long horizons) stay usable when the caller multiplies them by a small factor. Tested
//! against mpmath on a grid (`tests/fixtures/hyp2f1_reference.csv`).

use statrs::function::gamma::{digamma, ln_gamma};

use crate::error::{Error, Result};

/// Most series terms summed before giving up.
const MAX_TERMS: usize = 5_000_000;

/// Above this `z` the series is tried with [`NEAR_ONE_TERMS`] terms, then the connection to
/// `1 - z` is used.
const NEAR_ONE: f64 = 0.9;

/// Terms the series may take above [`NEAR_ONE`] (enough up to about `z = 0.9995`).
const NEAR_ONE_TERMS: usize = 100_000;

/// Closer than this to an integer, `c - a - b` is taken as that integer near `z = 1`.
const INTEGER_GAP: f64 = 1e-7;

/// A real number as its sign (-1, 0 or 1) and the logarithm of its magnitude.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Signed {
    /// -1, 0 or 1.
    pub sign: f64,
    /// `ln |value|` (minus infinity for 0).
    pub ln: f64,
}

impl Signed {
    const ZERO: Signed = Signed { sign: 0.0, ln: f64::NEG_INFINITY };

    fn new(sign: f64, ln: f64) -> Signed {
        if sign == 0.0 || sign.is_nan() || ln == f64::NEG_INFINITY {
            Signed::ZERO
        } else {
            Signed { sign, ln }
        }
    }

    /// The product with a plain number.
    pub fn times_value(self, v: f64) -> Signed {
        self.times(Signed::new(v.signum(), v.abs().ln()))
    }

    fn times(self, other: Signed) -> Signed {
        Signed::new(self.sign * other.sign, self.ln + other.ln)
    }

    fn plus(self, other: Signed) -> Signed {
        if self.sign == 0.0 {
            return other;
        }
        if other.sign == 0.0 {
            return self;
        }
        let (big, small) = if self.ln >= other.ln { (self, other) } else { (other, self) };
        let rest = 1.0 + big.sign * small.sign * (small.ln - big.ln).exp();
        if rest == 0.0 {
            return Signed::ZERO;
        }
        Signed::new(big.sign * rest.signum(), big.ln + rest.abs().ln())
    }

    /// The value as an `f64` (infinite when beyond it).
    #[cfg(test)]
    pub fn value(self) -> f64 {
        self.sign * self.ln.exp()
    }
}

/// `Γ(x)` as sign and logarithm, for any real `x`; `None` at the poles (0, -1, -2, ...).
fn gamma(x: f64) -> Option<Signed> {
    if x > 0.0 {
        return Some(Signed::new(1.0, ln_gamma(x)));
    }
    if x == x.floor() {
        return None;
    }
    // Reflection: Γ(x) Γ(1 - x) = π / sin(π x).
    let s = (std::f64::consts::PI * x).sin();
    Some(Signed::new(s.signum(), std::f64::consts::PI.ln() - s.abs().ln() - ln_gamma(1.0 - x)))
}

/// `1 / Γ(x)`: zero at the poles.
fn inv_gamma(x: f64) -> Signed {
    gamma(x).map_or(Signed::ZERO, |g| Signed::new(g.sign, -g.ln))
}

fn outside(a: f64, b: f64, c: f64, z: f64, why: &str) -> Error {
    Error::validation("model", format!("2F1({a}, {b}; {c}; {z}) {why} (check the parameters and t)"))
}

/// `2F1(a, b; c; z)` for real `a`, `b`, `c` (`c` not 0, -1, -2, ...) and `0 <= z < 1`.
pub(crate) fn hyp2f1(a: f64, b: f64, c: f64, z: f64) -> Result<Signed> {
    if ![a, b, c, z].iter().all(|v| v.is_finite()) || !(0.0..1.0).contains(&z) {
        return Err(outside(a, b, c, z, "is outside finite a, b, c and 0 <= z < 1"));
    }
    if c <= 0.0 && c == c.floor() {
        return Err(outside(a, b, c, z, "is undefined: c is 0 or a negative integer"));
    }
    let s = c - a - b;
    let polynomial = |v: f64| v <= 0.0 && v == v.floor();
    // A polynomial (a or b a non-positive integer): its terms end.
    if polynomial(a) || polynomial(b) {
        return sum(a, b, c, z);
    }
    if z <= NEAR_ONE {
        return euler_or_direct(a, b, c, z, MAX_TERMS)?
            .ok_or_else(|| outside(a, b, c, z, &format!("did not converge in {MAX_TERMS} terms")));
    }
    // Near 1 the series is still exact and, unless z is very close, short enough.
    if let Some(f) = euler_or_direct(a, b, c, z, NEAR_ONE_TERMS)? {
        return Ok(f);
    }
    let m = s.round();
    if (s - m).abs() < INTEGER_GAP {
        if m >= 0.0 {
            return integer_gap(a, b, c, z, m);
        }
        // Euler: F = (1-z)^s F(c-a, c-b; c; z), whose own c - a - b is -m > 0 (a polynomial
        // when c - a or c - b is a non-positive integer).
        let euler = Signed::new(1.0, s * (1.0 - z).ln());
        if polynomial(c - a) || polynomial(c - b) {
            return Ok(euler.times(sum(c - a, c - b, c, z)?));
        }
        return Ok(euler.times(integer_gap(c - a, c - b, c, z, -m)?));
    }
    // F = A1 F(a, b; 1-s; 1-z) + A2 (1-z)^s F(c-a, c-b; 1+s; 1-z).
    let w = 1.0 - z;
    let gc = gamma(c).ok_or_else(|| outside(a, b, c, z, "is undefined"))?;
    let first = match gamma(s) {
        Some(gs) => gc.times(gs).times(inv_gamma(c - a)).times(inv_gamma(c - b)).times(sum(a, b, 1.0 - s, w)?),
        None => Signed::ZERO,
    };
    let second = match gamma(-s) {
        Some(gs) => gc
            .times(gs)
            .times(inv_gamma(a))
            .times(inv_gamma(b))
            .times(Signed::new(1.0, s * w.ln()))
            .times(sum(c - a, c - b, 1.0 + s, w)?),
        None => Signed::ZERO,
    };
    Ok(first.plus(second))
}

/// `F(a, b; c; z)` for `c = a + b + m` with an integer `m >= 0` and `z` near 1 (Abramowitz
/// and Stegun 15.3.10 and 15.3.11, with `w = 1 - z`):
/// `m = 0`: `Γ(c)/(Γ(a)Γ(b)) Σ (a)_n (b)_n / n!² [2ψ(n+1) - ψ(a+n) - ψ(b+n) - ln w] w^n`;
/// `m > 0`: `Γ(m)Γ(c)/(Γ(a+m)Γ(b+m)) Σ_{n<m} (a)_n (b)_n / (n! (1-m)_n) w^n
///   - (-w)^m Γ(c)/(Γ(a)Γ(b)) Σ (a+m)_n (b+m)_n / (n! (n+m)!) w^n
///     [ln w - ψ(n+1) - ψ(n+m+1) + ψ(a+n+m) + ψ(b+n+m)]`.
fn integer_gap(a: f64, b: f64, c: f64, z: f64, m: f64) -> Result<Signed> {
    let w = 1.0 - z;
    let ln_w = w.ln();
    let gc = gamma(c).ok_or_else(|| outside(a, b, c, z, "is undefined"))?;
    let mut finite = Signed::ZERO;
    if m > 0.0 {
        // The finite sum, then its factor Γ(m) Γ(c) / (Γ(a+m) Γ(b+m)).
        let (mut sum, mut term) = (1.0f64, 1.0f64);
        for n in 0..(m as usize - 1) {
            let n = n as f64;
            term *= (a + n) * (b + n) / ((n + 1.0) * (1.0 - m + n)) * w;
            sum += term;
        }
        let factor = gamma(m)
            .ok_or_else(|| outside(a, b, c, z, "is undefined"))?
            .times(gc)
            .times(inv_gamma(a + m))
            .times(inv_gamma(b + m));
        finite = factor.times_value(sum);
    }
    // The logarithmic series: term_n = (a+m)_n (b+m)_n / (n! (n+m)!) w^n, relative to 1/m!.
    let (mut sum, mut term) = (0.0f64, 1.0f64);
    for n in 0..MAX_TERMS {
        let k = n as f64;
        let bracket = ln_w - digamma(k + 1.0) - digamma(k + m + 1.0) + digamma(a + k + m) + digamma(b + k + m);
        let add = term * bracket;
        sum += add;
        if !sum.is_finite() {
            return Err(outside(a, b, c, z, "overflowed"));
        }
        term *= (a + m + k) * (b + m + k) / ((k + 1.0) * (k + m + 1.0)) * w;
        if k > (a + m).abs() + (b + m).abs() && add.abs() <= sum.abs() * 1e-17 && term.abs() <= 1e-17 * sum.abs() {
            break;
        }
        if n == MAX_TERMS - 1 {
            return Err(outside(a, b, c, z, &format!("did not converge in {MAX_TERMS} terms")));
        }
    }
    // - (-w)^m Γ(c) / (Γ(a) Γ(b) m!) * sum; for m = 0 the bracket's sign is the other way.
    let sign = if m as i64 % 2 == 0 { -1.0 } else { 1.0 };
    let log_part = gc
        .times(inv_gamma(a))
        .times(inv_gamma(b))
        .times(Signed::new(sign, m * ln_w - ln_gamma(m + 1.0)))
        .times_value(sum);
    Ok(finite.plus(log_part))
}

/// The Gauss series of `F(a, b; c; z)` or, by Euler's transformation, of
/// `(1-z)^(c-a-b) F(c-a, c-b; c; z)`, within `max_terms` (`None` beyond). Of the two, those
/// whose parameters are at least -1 (every term after the first then has one sign, so no
/// precision is lost to cancellation) are candidates, and the one whose terms fall faster is
/// taken: `k^(a+b-c-1) z^k` against `k^(c-a-b-1) z^k`.
fn euler_or_direct(a: f64, b: f64, c: f64, z: f64, max_terms: usize) -> Result<Option<Signed>> {
    let direct_ok = a.min(b) >= -1.0;
    let euler_ok = (c - a).min(c - b) >= -1.0;
    let s = c - a - b;
    let euler = euler_ok && (!direct_ok || s < 0.0);
    if euler {
        let f = series(c - a, c - b, c, z, max_terms)?;
        Ok(f.map(|f| Signed::new(1.0, s * (1.0 - z).ln()).times(f)))
    } else {
        series(a, b, c, z, max_terms)
    }
}

/// [`series`] with the default budget, as an error when it does not converge.
fn sum(a: f64, b: f64, c: f64, z: f64) -> Result<Signed> {
    series(a, b, c, z, MAX_TERMS)?.ok_or_else(|| outside(a, b, c, z, &format!("did not converge in {MAX_TERMS} terms")))
}

/// The Gauss series `sum (a)_k (b)_k / ((c)_k k!) z^k`, `0 <= z < 1`, summed with a running
/// scale so that terms beyond `f64` do not overflow; `None` when `max_terms` do not reach
/// the end.
fn series(a: f64, b: f64, c: f64, z: f64, max_terms: usize) -> Result<Option<Signed>> {
    if z == 0.0 {
        return Ok(Some(Signed::new(1.0, 0.0)));
    }
    // value = sum * exp(ln_scale); term is kept relative to the same scale.
    let (mut sum, mut term, mut ln_scale) = (1.0f64, 1.0f64, 0.0f64);
    // Past this k no factor changes sign any more, so the bound on the tail holds.
    let settled = [a, b, c].iter().fold(0.0f64, |m, v| m.max(-v)) + 1.0;
    for k in 0..max_terms {
        let k = k as f64;
        if c + k == 0.0 {
            return Err(outside(a, b, c, z, "is undefined: c is 0 or a negative integer"));
        }
        term *= (a + k) * (b + k) / ((c + k) * (k + 1.0)) * z;
        sum += term;
        if term == 0.0 {
            break; // a or b is a non-positive integer: a polynomial, ended.
        }
        let big = sum.abs().max(term.abs());
        if big > 1e280 {
            ln_scale += big.ln();
            term /= big;
            sum /= big;
        }
        if k + 1.0 >= settled {
            // Later ratios lie between this one and z: the tail is below term * q / (1 - q).
            let ratio = (a + k + 1.0) * (b + k + 1.0) / ((c + k + 1.0) * (k + 2.0)) * z;
            let q = ratio.max(z);
            if q < 1.0 && term.abs() * q / (1.0 - q) <= sum.abs() * 1e-17 {
                break;
            }
        }
        if k as usize == max_terms - 1 {
            return Ok(None);
        }
    }
    if sum == 0.0 {
        return Ok(Some(Signed::ZERO));
    }
    Ok(Some(Signed::new(sum.signum(), ln_scale + sum.abs().ln())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(a: f64, b: f64, c: f64, z: f64) -> f64 {
        hyp2f1(a, b, c, z).unwrap().value()
    }

    #[test]
    fn closed_forms() {
        // 2F1(1, 1; 2; z) = -ln(1 - z) / z, on both sides of the switch to 1 - z.
        for z in [0.0001, 0.3, 0.9, 0.95, 0.999, 0.999_999] {
            let want = -(1.0f64 - z).ln() / z;
            let got = f(1.0, 1.0, 2.0, z);
            assert!((got - want).abs() <= 1e-12 * want, "z={z}: {got} vs {want}");
        }
        // 2F1(a, b; b; z) = (1 - z)^-a, including values far beyond f64.
        let ln = hyp2f1(900.0, 3.5, 3.5, 0.9).unwrap().ln;
        assert!((ln - 900.0 * -(0.1f64.ln())).abs() < 1e-9 * ln);
        assert_eq!(hyp2f1(2.0, 3.0, 4.0, 0.0).unwrap(), Signed::new(1.0, 0.0));
        // A polynomial: 2F1(-2, b; c; z) = 1 - 2bz/c + b(b+1)z^2/(c(c+1)).
        let (b, c, z) = (1.5, -0.5, 0.7);
        let want = 1.0 - 2.0 * b * z / c + b * (b + 1.0) * z * z / (c * (c + 1.0));
        assert!((f(-2.0, b, c, z) - want).abs() < 1e-13 * want.abs());
        assert!(hyp2f1(2.0, 3.0, 4.0, 1.0).is_err());
        assert!(hyp2f1(2.0, 3.0, 0.0, 0.5).is_err());
        assert!(hyp2f1(2.0, 3.0, -2.0, 0.5).is_err());
        assert!(hyp2f1(2.0, 3.0, 4.0, f64::NAN).is_err());
    }

    /// Against mpmath on the grid of `tests/fixtures/hyp2f1_reference.py`: the logarithm of
    /// the magnitude within 1e-11 relative (1e-14 absolute near 0), and the same sign.
    #[test]
    fn matches_mpmath_on_the_grid() {
        let csv = include_str!("../../tests/fixtures/hyp2f1_reference.csv");
        let mut worst = (0.0f64, String::new());
        for line in csv.lines().skip(1) {
            let cols: Vec<&str> = line.split(',').collect();
            let [a, b, c, z] = [0, 1, 2, 3].map(|i| cols[i].parse::<f64>().unwrap());
            let sign: f64 = cols[4].parse().unwrap();
            let got = hyp2f1(a, b, c, z).unwrap_or_else(|e| panic!("{line}: {e}"));
            assert_eq!(got.sign, sign, "{line}: {got:?}");
            if sign != 0.0 {
                let want: f64 = cols[5].parse().unwrap();
                let err = (got.ln - want).abs() / want.abs().max(1e-3);
                if err > worst.0 {
                    worst = (err, line.to_string());
                }
            }
        }
        assert!(worst.0 < 1e-11, "worst relative error {} at {}", worst.0, worst.1);
    }

    #[test]
    fn signed_arithmetic() {
        let two = Signed::new(1.0, 2f64.ln());
        let minus_three = Signed::new(-1.0, 3f64.ln());
        assert!((two.plus(minus_three).value() + 1.0).abs() < 1e-15);
        assert_eq!(two.plus(Signed::new(-1.0, 2f64.ln())), Signed::ZERO);
        assert!((two.times(minus_three).value() + 6.0).abs() < 1e-14);
        assert!((gamma(-0.5).unwrap().value() + 2.0 * std::f64::consts::PI.sqrt()).abs() < 1e-14);
        assert!(gamma(-1.0).is_none());
    }
}

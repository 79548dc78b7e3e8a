//! The Gauss hypergeometric function for the BG/NBD predictions.
//!
//! No maintained pure-Rust crate offers `2F1` without pulling in a numerical framework
//! (`statrs` and `special` have none; `special-fun` binds Cephes in C, whose symbols may clash
//! with libc's inside a host program). The BG/NBD only needs `2F1(a, b; c; z)` with `a, b,
//! c > 0` and `0 <= z < 1`, where the Gauss series has positive terms and converges: it is
//! summed here in log space, so that values beyond `f64` (heavy buyers, long horizons) stay
//! usable when the caller multiplies them by a small factor.

use crate::error::{Error, Result};

/// Most series terms summed before giving up.
const MAX_TERMS: usize = 2_000_000;

/// `ln 2F1(a, b; c; z)` for `a, b, c > 0` and `0 <= z < 1`.
pub(crate) fn ln_hyp2f1(a: f64, b: f64, c: f64, z: f64) -> Result<f64> {
    if !(a > 0.0 && b > 0.0 && c > 0.0 && (0.0..1.0).contains(&z)) {
        return Err(Error::validation(
            "model",
            format!("2F1({a}, {b}; {c}; {z}) is outside a, b, c > 0 and 0 <= z < 1 (check the parameters and t)"),
        ));
    }
    // sum = scale * exp(ln_scale); terms are kept relative to the same scale.
    let (mut sum, mut term, mut ln_scale) = (1.0f64, 1.0f64, 0.0f64);
    for k in 0..MAX_TERMS {
        let k = k as f64;
        term *= (a + k) * (b + k) / ((c + k) * (k + 1.0)) * z;
        sum += term;
        if sum > 1e280 {
            ln_scale += sum.ln();
            term /= sum;
            sum = 1.0;
        }
        // Once the ratio of successive terms is below one, the tail is at most term * r / (1 - r).
        let ratio = (a + k + 1.0) * (b + k + 1.0) / ((c + k + 1.0) * (k + 2.0)) * z;
        if ratio < 1.0 && term * ratio / (1.0 - ratio) <= sum * 1e-16 {
            return Ok(ln_scale + sum.ln());
        }
    }
    Err(Error::validation("model", format!("2F1({a}, {b}; {c}; {z}) did not converge in {MAX_TERMS} terms")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closed_forms() {
        // 2F1(1, 1; 2; z) = -ln(1 - z) / z
        for z in [0.0001, 0.3, 0.9, 0.999] {
            let want = -(1.0f64 - z).ln() / z;
            let got = ln_hyp2f1(1.0, 1.0, 2.0, z).unwrap().exp();
            assert!((got - want).abs() <= 1e-12 * want, "z={z}: {got} vs {want}");
        }
        // 2F1(a, b; b; z) = (1 - z)^-a, including values far beyond f64.
        let ln = ln_hyp2f1(900.0, 3.5, 3.5, 0.9).unwrap();
        assert!((ln - 900.0 * -(0.1f64.ln())).abs() < 1e-9 * ln);
        assert_eq!(ln_hyp2f1(2.0, 3.0, 4.0, 0.0).unwrap(), 0.0);
        assert!(ln_hyp2f1(2.0, 3.0, 4.0, 1.0).is_err());
        assert!(ln_hyp2f1(-2.0, 3.0, 4.0, 0.5).is_err());
        assert!(ln_hyp2f1(2.0, 3.0, 4.0, f64::NAN).is_err());
    }
}

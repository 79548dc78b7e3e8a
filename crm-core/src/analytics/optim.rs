//! Maximum-likelihood plumbing shared by the models: L-BFGS with a More-Thuente line search
//! (argmin) on log-parameters, a numerical Hessian from the analytic gradient, and standard
//! errors from its inverse.

use std::cell::{Cell, RefCell};
use std::ops::ControlFlow;

use argmin::core::{CostFunction, Executor, Gradient, State};
use argmin::solver::linesearch::MoreThuenteLineSearch;
use argmin::solver::quasinewton::LBFGS;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Settings of a maximum-likelihood fit.
///
/// ```
/// let o = crm_core::analytics::FitOptions::default();
/// assert_eq!(o.penalizer, 0.0);
/// assert_eq!(o.max_iterations, 500);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(default, deny_unknown_fields)]
pub struct FitOptions {
    /// L2 penalty on the parameters, added to the mean negative log-likelihood as
    /// `penalizer * sum(param^2)` (as `penalizer_coef` in `lifetimes`). BG/NBD applies it with
    /// time scaled so that the largest T is 1, exactly as `lifetimes` does; Gamma-Gamma applies
    /// it to `p`, `q` and `gamma` divided by the mean spend, so that it does not depend on the
    /// currency's minor unit (`lifetimes` penalises `gamma` in whatever unit the money has).
    /// 0 for plain maximum likelihood.
    pub penalizer: f64,
    /// Most L-BFGS iterations; a fit that needs more fails with a validation error.
    pub max_iterations: u64,
    /// Convergence tolerance on the gradient norm of the mean negative log-likelihood.
    pub tolerance: f64,
}

impl Default for FitOptions {
    fn default() -> Self {
        FitOptions { penalizer: 0.0, max_iterations: 500, tolerance: 1e-7 }
    }
}

impl FitOptions {
    pub(crate) fn validate(&self) -> Result<()> {
        if !(self.penalizer.is_finite() && self.penalizer >= 0.0) {
            return Err(Error::validation("penalizer", format!("{} is not a finite number >= 0", self.penalizer)));
        }
        if self.max_iterations == 0 {
            return Err(Error::validation("max_iterations", "must be at least 1"));
        }
        if !(self.tolerance.is_finite() && self.tolerance > 0.0) {
            return Err(Error::validation("tolerance", format!("{} is not a finite number > 0", self.tolerance)));
        }
        Ok(())
    }
}

/// A smooth function of log-parameters to minimise: the mean negative log-likelihood plus penalty.
pub(crate) trait Objective {
    /// Value and gradient at `x`.
    fn value_grad(&self, x: &[f64]) -> (f64, Vec<f64>);
}

/// The caller's callback, told the number of likelihood evaluations so far before each new
/// one; once it says stop, every later check fails too.
pub(crate) struct Watch<'a, 'f> {
    hook: RefCell<&'a mut (dyn FnMut(u64) -> ControlFlow<()> + 'f)>,
    evaluations: Cell<u64>,
    stopped: Cell<bool>,
}

impl<'a, 'f> Watch<'a, 'f> {
    pub(crate) fn new(hook: &'a mut (dyn FnMut(u64) -> ControlFlow<()> + 'f)) -> Self {
        Watch { hook: RefCell::new(hook), evaluations: Cell::new(0), stopped: Cell::new(false) }
    }

    /// `Err(Error::Cancelled)` once the callback has stopped the fit.
    fn check(&self) -> Result<()> {
        if self.stopped.get() {
            Err(Error::Cancelled)
        } else {
            Ok(())
        }
    }

    /// Counts one evaluation; `Err(Error::Cancelled)` when the callback stops the fit.
    fn tick(&self) -> Result<()> {
        if !self.stopped.get() {
            let n = self.evaluations.get();
            self.evaluations.set(n + 1);
            self.stopped.set((self.hook.borrow_mut())(n).is_break());
        }
        self.check()
    }
}

/// The last point evaluated, its value and gradient: argmin asks for cost and gradient separately.
type Evaluation = (Vec<f64>, f64, Vec<f64>);

struct Problem<'a, 'w, 'f, O> {
    obj: &'a O,
    watch: &'a Watch<'w, 'f>,
    last: RefCell<Option<Evaluation>>,
}

impl<O: Objective> Problem<'_, '_, '_, O> {
    /// Value and gradient at `x`; an error once the caller has stopped the fit, which ends
    /// argmin's run at once.
    fn eval(&self, x: &[f64]) -> std::result::Result<(f64, Vec<f64>), argmin::core::Error> {
        if let Some((lx, v, g)) = &*self.last.borrow() {
            if lx.as_slice() == x {
                return Ok((*v, g.clone()));
            }
        }
        self.watch.tick()?;
        let (v, g) = if x.iter().all(|v| v.abs() < 50.0) {
            self.obj.value_grad(x)
        } else {
            // Beyond e^±50 the parameters are degenerate; steer the line search back.
            (f64::INFINITY, vec![0.0; x.len()])
        };
        *self.last.borrow_mut() = Some((x.to_vec(), v, g.clone()));
        Ok((v, g))
    }
}

impl<O: Objective> CostFunction for Problem<'_, '_, '_, O> {
    type Param = Vec<f64>;
    type Output = f64;
    fn cost(&self, p: &Vec<f64>) -> std::result::Result<f64, argmin::core::Error> {
        Ok(self.eval(p)?.0)
    }
}

impl<O: Objective> Gradient for Problem<'_, '_, '_, O> {
    type Param = Vec<f64>;
    type Gradient = Vec<f64>;
    fn gradient(&self, p: &Vec<f64>) -> std::result::Result<Vec<f64>, argmin::core::Error> {
        Ok(self.eval(p)?.1)
    }
}

/// Where a fit ended.
#[derive(Debug, Clone)]
pub(crate) struct Optimum {
    /// Log-parameters.
    pub x: Vec<f64>,
    /// L-BFGS iterations.
    pub iterations: u64,
}

/// Gradient norm below which a point counts as an optimum when the line search cannot make
/// progress any more (rounding noise in the gradient near the optimum).
const STALL_GRADIENT: f64 = 1e-5;

/// Minimises `obj` from `x0`; fails (never returns NaN) when the run does not converge, and
/// with [`Error::Cancelled`] as soon as `watch`'s callback says stop (it is asked before
/// every likelihood evaluation).
///
/// When L-BFGS stops short of the gradient tolerance without running out of iterations (near
/// an optimum its direction can stop being a descent direction in floating point, and the
/// line search gives up), damped Newton steps finish the job; failing that, L-BFGS restarts
/// from the best point with a fresh memory, at most three times.
pub(crate) fn minimize<O: Objective>(
    obj: &O,
    x0: Vec<f64>,
    opts: &FitOptions,
    model: &str,
    watch: &Watch<'_, '_>,
) -> Result<Optimum> {
    let fail = |why: String| Error::validation("model", format!("{model} fit did not converge: {why}"));
    // argmin reports a stop as the error the cost function returned; it is the caller's.
    let failed = |e: argmin::core::Error| if watch.stopped.get() { Error::Cancelled } else { fail(e.to_string()) };
    let (v0, g0) = obj.value_grad(&x0);
    if !v0.is_finite() || g0.iter().any(|g| !g.is_finite()) {
        return Err(fail("the log-likelihood is not finite at the starting point".into()));
    }
    let grad_norm = |x: &[f64]| obj.value_grad(x).1.iter().map(|v| v * v).sum::<f64>().sqrt();
    let mut x = x0;
    let mut iterations = 0u64;
    for _restart in 0..4 {
        let problem = Problem { obj, watch, last: RefCell::new(None) };
        let solver = LBFGS::new(MoreThuenteLineSearch::new(), 10)
            .with_tolerance_grad(opts.tolerance)
            .and_then(|s| s.with_tolerance_cost(1e-14))
            .map_err(|e| fail(e.to_string()))?;
        let budget = opts.max_iterations.saturating_sub(iterations);
        let res = Executor::new(problem, solver)
            .configure(|s| s.param(x.clone()).max_iters(budget))
            .timer(false)
            .run()
            .map_err(failed)?;
        watch.check()?;
        let state = res.state();
        iterations += state.get_iter();
        if let Some(best) = state.get_best_param() {
            if best.iter().all(|v| v.is_finite()) && state.get_best_cost().is_finite() {
                x = best.clone();
            }
        }
        let gnorm = grad_norm(&x);
        if !gnorm.is_finite() {
            return Err(fail(format!("the gradient is not finite after {iterations} iterations")));
        }
        if gnorm <= opts.tolerance {
            return Ok(Optimum { x, iterations });
        }
        if iterations >= opts.max_iterations {
            return Err(fail(format!(
                "no optimum after {iterations} iterations, gradient norm {gnorm:.3e} (raise max_iterations or add a \
                 penalizer)"
            )));
        }
        if let Some((polished, steps)) =
            newton_polish(obj, &x, opts.tolerance, opts.max_iterations - iterations, watch)?
        {
            return Ok(Optimum { x: polished, iterations: iterations + steps });
        }
    }
    let gnorm = grad_norm(&x);
    if gnorm <= STALL_GRADIENT {
        return Ok(Optimum { x, iterations });
    }
    Err(fail(format!(
        "the search stalled with gradient norm {gnorm:.3e} after {iterations} iterations (the data may not identify \
         the model; add a penalizer)"
    )))
}

/// Finishes a stalled search with damped Newton steps (numerical Hessian of the analytic
/// gradient): near an optimum they converge in a few steps where the quasi-Newton line
/// search can no longer make progress. `Some((x, steps))` once the gradient norm is within
/// `tolerance`, within `budget` steps; `Err(Error::Cancelled)` when `watch` stops it.
fn newton_polish<O: Objective>(
    obj: &O,
    x0: &[f64],
    tolerance: f64,
    budget: u64,
    watch: &Watch<'_, '_>,
) -> Result<Option<(Vec<f64>, u64)>> {
    let mut x = x0.to_vec();
    for n in 0..budget.min(20) {
        watch.tick()?;
        let (v, g) = obj.value_grad(&x);
        if g.iter().map(|v| v * v).sum::<f64>().sqrt() <= tolerance {
            return Ok(Some((x, n)));
        }
        let Some(inv) = invert(&hessian(obj, &x, watch)?) else { return Ok(None) };
        let step: Vec<f64> = inv.iter().map(|row| row.iter().zip(&g).map(|(h, g)| h * g).sum()).collect();
        let decrement: f64 = step.iter().zip(&g).map(|(s, g)| s * g).sum();
        if !(decrement > 0.0 && decrement.is_finite()) {
            return Ok(None); // not a descent direction: the Hessian is not positive definite here
        }
        let mut t = 1.0;
        loop {
            let trial: Vec<f64> = x.iter().zip(&step).map(|(x, s)| x - t * s).collect();
            let (tv, _) = obj.value_grad(&trial);
            if tv.is_finite() && tv <= v - 1e-4 * t * decrement {
                x = trial;
                break;
            }
            t *= 0.5;
            if t < 1e-8 {
                // No decrease to be had in floating point: accept if the gradient is tiny.
                let (_, g) = obj.value_grad(&x);
                let gnorm = g.iter().map(|v| v * v).sum::<f64>().sqrt();
                return Ok((gnorm <= tolerance.max(1e-9) * 100.0).then_some((x, n + 1)));
            }
        }
    }
    Ok(None)
}

/// Hessian of `obj` at `x` by central differences of its analytic gradient, symmetrised;
/// `watch` is asked before each pair of gradients.
pub(crate) fn hessian<O: Objective>(obj: &O, x: &[f64], watch: &Watch<'_, '_>) -> Result<Vec<Vec<f64>>> {
    let n = x.len();
    let mut h = vec![vec![0.0; n]; n];
    for j in 0..n {
        watch.tick()?;
        let step = 1e-5 * x[j].abs().max(1.0);
        let mut xp = x.to_vec();
        let mut xm = x.to_vec();
        xp[j] += step;
        xm[j] -= step;
        let (gp, gm) = (obj.value_grad(&xp).1, obj.value_grad(&xm).1);
        for i in 0..n {
            h[i][j] = (gp[i] - gm[i]) / (2.0 * step);
        }
    }
    let mut sym = h.clone();
    for (i, row) in sym.iter_mut().enumerate() {
        for (j, v) in row.iter_mut().enumerate() {
            *v = 0.5 * (h[i][j] + h[j][i]);
        }
    }
    Ok(sym)
}

/// Inverse of a small symmetric matrix by Gauss-Jordan elimination with partial pivoting;
/// `None` when singular.
pub(crate) fn invert(m: &[Vec<f64>]) -> Option<Vec<Vec<f64>>> {
    let n = m.len();
    let mut a: Vec<Vec<f64>> = m
        .iter()
        .enumerate()
        .map(|(i, row)| {
            let mut r = row.clone();
            r.extend((0..n).map(|j| if i == j { 1.0 } else { 0.0 }));
            r
        })
        .collect();
    for col in 0..n {
        let piv = (col..n).max_by(|&x, &y| a[x][col].abs().total_cmp(&a[y][col].abs()))?;
        if a[piv][col].abs() < 1e-300 || !a[piv][col].is_finite() {
            return None;
        }
        a.swap(col, piv);
        let d = a[col][col];
        for v in &mut a[col] {
            *v /= d;
        }
        let pivot_row = a[col].clone();
        for (r, row) in a.iter_mut().enumerate() {
            let f = row[col];
            if r != col && f != 0.0 {
                for (v, p) in row.iter_mut().zip(&pivot_row) {
                    *v -= f * p;
                }
            }
        }
    }
    Some(a.into_iter().map(|r| r[n..].to_vec()).collect())
}

/// Standard errors as [`standard_errors`] computes them, or the reason the fit is no maximum:
/// a singular or indefinite Hessian means the likelihood keeps rising towards the edge of the
/// parameter space (for example all customers one-time buyers), which is reported as a fit
/// that did not converge rather than as NaN.
pub(crate) fn checked_standard_errors<O: Objective>(
    obj: &O,
    x: &[f64],
    n: f64,
    model: &str,
    watch: &Watch<'_, '_>,
) -> Result<Vec<f64>> {
    let se = standard_errors(obj, x, n, watch)?;
    if se.iter().all(|s| s.is_finite()) {
        return Ok(se);
    }
    Err(Error::validation(
        "model",
        format!(
            "{model} fit did not converge: the likelihood has no interior maximum (it rises towards the edge of \
             the parameter space, so the data do not identify the model); add data or a penalizer"
        ),
    ))
}

/// Standard errors of the parameters `p = exp(x)` by the delta method, from the Hessian `H`
/// of the mean objective over `n` (total weight) observations: `se_i = p_i * sqrt(inv(n H)_ii)`.
/// `NaN` entries where the Hessian is singular or not
/// positive definite (the estimate is not identified along that direction).
pub(crate) fn standard_errors<O: Objective>(obj: &O, x: &[f64], n: f64, watch: &Watch<'_, '_>) -> Result<Vec<f64>> {
    let mut h = hessian(obj, x, watch)?;
    for row in &mut h {
        for v in row.iter_mut() {
            *v *= n;
        }
    }
    Ok(match invert(&h) {
        Some(inv) => {
            (0..x.len()).map(|i| if inv[i][i] > 0.0 { x[i].exp() * inv[i][i].sqrt() } else { f64::NAN }).collect()
        }
        None => vec![f64::NAN; x.len()],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Quad;
    impl Objective for Quad {
        fn value_grad(&self, x: &[f64]) -> (f64, Vec<f64>) {
            let (a, b) = (x[0] - 1.0, x[1] + 2.0);
            (a * a + 3.0 * b * b + a * b, vec![2.0 * a + b, 6.0 * b + a])
        }
    }

    #[test]
    fn finds_a_quadratic_minimum_and_its_curvature() {
        let o = minimize(&Quad, vec![0.0, 0.0], &FitOptions::default(), "test", &Watch::new(&mut go_on)).unwrap();
        assert!((o.x[0] - 1.0).abs() < 1e-6 && (o.x[1] + 2.0).abs() < 1e-6, "{:?}", o.x);
        let h = hessian(&Quad, &o.x, &Watch::new(&mut go_on)).unwrap();
        assert!((h[0][0] - 2.0).abs() < 1e-6 && (h[0][1] - 1.0).abs() < 1e-6 && (h[1][1] - 6.0).abs() < 1e-6);
        let inv = invert(&h).unwrap();
        let det = 2.0 * 6.0 - 1.0;
        assert!((inv[0][0] - 6.0 / det).abs() < 1e-6 && (inv[0][1] + 1.0 / det).abs() < 1e-6);
        assert!(invert(&[vec![1.0, 2.0], vec![2.0, 4.0]]).is_none());
    }

    #[test]
    fn running_out_of_iterations_is_an_error() {
        let opts = FitOptions { max_iterations: 1, ..Default::default() };
        let e = minimize(&Quad, vec![40.0, -30.0], &opts, "test", &Watch::new(&mut go_on)).unwrap_err();
        assert!(e.to_string().contains("did not converge"), "{e}");
    }

    fn go_on(_: u64) -> ControlFlow<()> {
        ControlFlow::Continue(())
    }

    #[test]
    fn the_callback_is_asked_before_each_evaluation_and_stops_the_fit() {
        let mut seen = Vec::new();
        let o = minimize(
            &Quad,
            vec![3.0, 3.0],
            &FitOptions::default(),
            "test",
            &Watch::new(&mut |n| {
                seen.push(n);
                ControlFlow::Continue(())
            }),
        )
        .unwrap();
        assert!((o.x[0] - 1.0).abs() < 1e-6);
        assert!(seen.len() > 2 && seen.iter().enumerate().all(|(i, n)| *n == i as u64), "{seen:?}");
        for stop_at in [0, 1, 3, seen.len() as u64 - 1] {
            let mut asked = 0;
            let e = minimize(
                &Quad,
                vec![3.0, 3.0],
                &FitOptions::default(),
                "test",
                &Watch::new(&mut |n| {
                    asked += 1;
                    if n >= stop_at {
                        ControlFlow::Break(())
                    } else {
                        ControlFlow::Continue(())
                    }
                }),
            )
            .unwrap_err();
            assert!(matches!(e, Error::Cancelled), "stop at {stop_at}: {e}");
            assert_eq!(asked, stop_at + 1, "nothing is asked after the stop");
        }
    }
}

//! Progress of the long analytics calls, and the caller's way to stop them: the same
//! callback shape as bulk ingest's ([`IngestOptions::progress`](crate::ingest::IngestOptions)),
//! `FnMut(Progress) -> ControlFlow<()>`. A binding shows a progress bar with it, and stops a
//! fit when its user presses Ctrl-C; a service stops one at a deadline.
//!
//! Unlike an ingest, which keeps the batches it committed, a stopped analytics call has no
//! partial result: it fails with [`Error::Cancelled`]. None of these calls writes anything.

use std::ops::ControlFlow;

use serde::Serialize;

use crate::error::{Error, Result};

/// What a long analytics call is doing when it reports [`Progress`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Step {
    /// Reading completed orders into a summary: `done` counts the orders summarised so far;
    /// the total is not known in advance. A summary as of now reads one row of maintained
    /// state per customer instead of every order, and reports every
    /// [`SUMMARY_EVERY`] customers (with the orders they hold) rather than every
    /// [`SUMMARY_EVERY`] orders.
    Summary,
    /// Fitting BG/NBD: `done` counts likelihood evaluations (an L-BFGS iteration takes one
    /// or a few, the standard errors at the end a few more); the total is not known in advance
    /// ([`FitOptions::max_iterations`](crate::analytics::FitOptions::max_iterations) bounds it).
    FitBgNbd,
    /// Fitting Gamma-Gamma, counted as for [`Step::FitBgNbd`].
    FitGammaGamma,
    /// Scoring the customers of a summary (probability alive, expected purchases, lifetime
    /// value, churn risk): `done` of `total` customers.
    Score,
}

impl Step {
    /// The lower-case name used by the bindings: `summary`, `fit_bgnbd`, `fit_gamma_gamma`,
    /// `score`.
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Summary => "summary",
            Step::FitBgNbd => "fit_bgnbd",
            Step::FitGammaGamma => "fit_gamma_gamma",
            Step::Score => "score",
        }
    }
}

/// Progress of a long analytics call, handed to the caller's callback between units of
/// work: every [`SUMMARY_EVERY`] orders read, every likelihood evaluation of a fit, and
/// every [`SCORE_EVERY`] customers scored. `done` starts again from 0 at each step.
///
/// ```
/// use std::ops::ControlFlow;
/// use crm_core::analytics::{FitOptions, Progress, Step, SummaryOptions};
/// use crm_core::synth::{Synth, SynthConfig};
/// let crm = crm_core::Crm::in_memory()?;
/// let synth = Synth::new(SynthConfig { customers: 200, ..Default::default() });
/// crm.ingest_customers(synth.customers(), Default::default())?;
/// crm.ingest_orders(synth.orders(), Default::default())?;
/// let opts = SummaryOptions::new("USD".parse()?, synth.config().end);
///
/// // Stop the fit after 5 likelihood evaluations: the call fails with Error::Cancelled.
/// let mut stop = |p: Progress| {
///     if p.step == Step::FitBgNbd && p.done >= 5 { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
/// };
/// let e = crm.fit_purchase_models_with_progress(&opts, &FitOptions::default(), &mut stop).unwrap_err();
/// assert!(matches!(e, crm_core::Error::Cancelled));
/// # Ok::<(), crm_core::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// What the call is doing.
    pub step: Step,
    /// Units of the step done so far (see [`Step`]).
    pub done: u64,
    /// Units of the step in all, when known.
    pub total: Option<u64>,
}

/// The callback of the `*_with_progress` calls: [`ControlFlow::Break`] stops the call,
/// which then fails with [`Error::Cancelled`].
pub type ProgressFn<'a> = dyn FnMut(Progress) -> ControlFlow<()> + 'a;

/// Orders read between two progress reports of a summary: often enough that a stop is
/// seen within milliseconds, rarely enough that the callback costs nothing measurable.
pub const SUMMARY_EVERY: u64 = 4096;

/// Customers scored between two progress reports.
pub const SCORE_EVERY: u64 = 512;

/// A callback that never stops anything, for the calls without `_with_progress`.
pub(crate) fn ignore(_: Progress) -> ControlFlow<()> {
    ControlFlow::Continue(())
}

/// Reports `done` of `step` to the callback; `Err(Error::Cancelled)` when it says stop.
pub(crate) fn report(progress: &mut ProgressFn<'_>, step: Step, done: u64, total: Option<u64>) -> Result<()> {
    match progress(Progress { step, done, total }) {
        ControlFlow::Continue(()) => Ok(()),
        ControlFlow::Break(()) => Err(Error::Cancelled),
    }
}

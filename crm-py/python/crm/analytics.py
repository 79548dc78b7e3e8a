"""Predictive and descriptive analytics, in the style of the Python package ``lifetimes``.

Everything is computed by crm's Rust core, with the GIL released for the long calls:

* :func:`summary` and :func:`calibration_and_holdout`: per-customer frequency, recency, T and
  monetary value from the store's completed orders in one currency (a DataFrame indexed by
  ``customer_id``, as ``lifetimes.utils.summary_data_from_transaction_data``).
* :class:`BetaGeoFitter` and :class:`GammaGammaFitter`: the BG/NBD and Gamma-Gamma models with
  ``lifetimes``' method names (``conditional_expected_number_of_purchases_up_to_time``,
  ``conditional_probability_alive``, ``customer_lifetime_value``, ...).
* :func:`customer_values`, :func:`churn_risk`, :func:`customers_at_risk`,
  :func:`probability_alive_path`: model results per customer, straight from the store.
* :func:`co_purchase_model` and :class:`CoPurchaseModel`: "customers who bought X also
  bought Y" and recommendations; :func:`category_affinity`.
* :func:`reports`: revenue, new versus returning customers, average order value, channels,
  cohort retention and the orders-per-customer distribution.

Money is integer minor units in one currency per call; model expectations (mean spend,
lifetime value) are floats in minor units, and ``clv_minor`` is rounded half to even.
A fitter that has not been fitted raises :class:`crm.ValidationError` (field ``model``).

The long calls (summaries, fits, scoring a population) take ``progress`` (see
:data:`ProgressArg`) and stop on Ctrl-C within a fraction of a second, raising
``KeyboardInterrupt``.

>>> import crm
>>> from crm.analytics import BetaGeoFitter
>>> bgf = BetaGeoFitter()
>>> bgf.conditional_probability_alive(2, 30.4, 38.9)
Traceback (most recent call last):
...
crm.exceptions.ValidationError: the BetaGeoFitter is not fitted: call fit() first
>>> bgf = BetaGeoFitter.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426)
>>> round(bgf.conditional_probability_alive(2, 30.43, 38.86), 4)
0.7266
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, TypeVar, Union

from . import _crm
from .exceptions import ValidationError
from .frames import require_pandas, utc_times
from .ingest import _have_tqdm

if TYPE_CHECKING:
    from .client import Crm

__all__ = [
    "ProgressArg", "summary", "calibration_and_holdout", "summaries", "SummaryWarning",
    "BetaGeoFitter", "GammaGammaFitter",
    "customer_values", "churn_risk", "customers_at_risk", "probability_alive_path",
    "CoPurchaseModel", "co_purchase_model", "category_affinity",
    "Reports", "reports",
]

When = Union[str, _dt.datetime]

ProgressArg = Union[None, bool, Callable[[str, int, Optional[int]], Any]]
"""Progress of a long analytics call, as for ingest (:data:`crm.ingest.ProgressArg`):
``None``: a tqdm bar for each step that runs longer than a second, when tqdm is
installed; ``False``: none; ``True``: a tqdm bar always; a callable: called
``(step, done, total)`` with the GIL held, at most about every 100 ms and at each new step.
``step`` is ``"summary"`` (``done`` orders summarised; ``total`` known at its end),
``"fit_bgnbd"`` or ``"fit_gamma_gamma"`` (``done`` likelihood evaluations, ``total``
None) or ``"score"`` (``done`` of ``total`` customers). The callable returning ``False``
(exactly) stops the call with :class:`crm.CancelledError`; an exception it raises is
raised from the call. Nothing is written either way."""

# With progress=None, a step shows a bar once it has run this long (seconds).
AUTO_PROGRESS_DELAY = 1.0

_STEPS = {
    "summary": ("reading orders", " orders"),
    "fit_bgnbd": ("fitting BG/NBD", " evaluations"),
    "fit_gamma_gamma": ("fitting Gamma-Gamma", " evaluations"),
    "score": ("scoring customers", " customers"),
}


class _StepBar:
    """A tqdm bar per step of a long analytics call, driven by ``(step, done, total)``."""

    def __init__(self, desc: str, delay: float = 0.0) -> None:
        self._desc = desc
        self._delay = delay
        self._bar: Any = None
        self._step: Optional[str] = None
        self._done = 0

    def __call__(self, step: str, done: int, total: Optional[int]) -> None:
        from tqdm.auto import tqdm

        if step != self._step:
            self.close()
            label, unit = _STEPS.get(step, (step, ""))
            self._bar = tqdm(desc=f"{self._desc}: {label}", unit=unit, unit_scale=True, total=total,
                             delay=self._delay)
            self._step, self._done = step, 0
        if total is not None and self._bar.total != total:
            self._bar.total = total
        self._bar.update(done - self._done)
        self._done = done

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def _progress(progress: ProgressArg, desc: str) -> Optional[Callable[[str, int, Optional[int]], Any]]:
    """The callback for ``progress`` (see :data:`ProgressArg`)."""
    if progress is False:
        return None
    if callable(progress):
        return progress
    if progress is None:
        return _StepBar(desc, AUTO_PROGRESS_DELAY) if _have_tqdm() else None
    if not _have_tqdm():
        raise ImportError("progress=True needs tqdm: pip install 'crm[progress]'")
    return _StepBar(desc)


_R = TypeVar("_R")


def _watched(progress: ProgressArg, desc: str, call: Callable[[Any], _R]) -> _R:
    """Runs ``call(callback)`` with the callback for ``progress``, closing a bar after."""
    cb = _progress(progress, desc)
    try:
        return call(cb)
    finally:
        if isinstance(cb, _StepBar):
            cb.close()


def _when(t: When, field: str) -> str:
    """An instant as RFC 3339 UTC text; naive datetimes are refused."""
    if isinstance(t, _dt.datetime):
        if t.tzinfo is None:
            raise ValidationError(f"invalid {field}: {t} has no time zone", field=field, reason="has no time zone")
        return t.astimezone(_dt.timezone.utc).isoformat().replace("+00:00", "Z")
    return str(t)


def _period(freq: str) -> str:
    p = {"D": "day", "day": "day", "W": "week", "week": "week"}.get(freq)
    if p is None:
        raise ValidationError(f'invalid freq: {freq!r} is not "D" or "W"', field="freq", reason='is not "D" or "W"')
    return p


def _summary_options(
    currency: str, observation_end: When, freq: str, calibration_end: Optional[When], freq_multiplier: int = 1
) -> str:
    return json.dumps({
        "currency": currency,
        "period": _period(freq),
        "observation_end": _when(observation_end, "observation_end"),
        "calibration_end": None if calibration_end is None else _when(calibration_end, "calibration_end"),
        "freq_multiplier": freq_multiplier,
    })


class SummaryWarning(UserWarning):
    """Orders after ``observation_end`` (or ``calibration_end``) were counted: the period holding
    it (a whole day or week, as ``lifetimes`` counts) reaches past it. End at the end of a
    period to leave them out."""


def _warn(d: Mapping[str, Any]) -> None:
    """Passes on the core's warnings about a summary."""
    for w in d.get("warnings", []):
        warnings.warn(w["message"], SummaryWarning, stacklevel=3)


def _fit_options(penalizer_coef: float, max_iterations: int, tolerance: float) -> Dict[str, Any]:
    return {"penalizer": float(penalizer_coef), "max_iterations": int(max_iterations), "tolerance": float(tolerance)}


def _summary_frame(d: Mapping[str, Any], holdout: bool) -> Any:
    pd = require_pandas()
    rows = d["rows"]
    suffix = "_cal" if holdout else ""
    data: Dict[str, Any] = {
        "customer_id": pd.Series([r["customer_id"] for r in rows], dtype="int64"),
        "frequency" + suffix: pd.Series([r["frequency"] for r in rows], dtype="int64"),
        "recency" + suffix: pd.Series([r["recency"] for r in rows], dtype="float64"),
        "T" + suffix: pd.Series([r["t"] for r in rows], dtype="float64"),
        "monetary_value" + suffix: pd.Series([r["monetary_value"] for r in rows], dtype="float64"),
        "repeat_spend_minor" + suffix: pd.Series([r["repeat_spend_minor"] for r in rows], dtype="int64"),
    }
    if holdout:
        data["frequency_holdout"] = pd.Series([r["frequency_holdout"] for r in rows], dtype="int64")
        data["monetary_value_holdout"] = pd.Series([r["monetary_value_holdout"] for r in rows], dtype="float64")
        data["duration_holdout"] = pd.Series([d["duration_holdout"]] * len(rows), dtype="int64")
    return pd.DataFrame(data).set_index("customer_id")


def summary(
    db: "Crm",
    currency: str,
    observation_end: When,
    *,
    freq: str = "D",
    freq_multiplier: int = 1,
    progress: ProgressArg = None,
) -> Any:
    """Per-customer ``frequency``, ``recency``, ``T`` (in days, ``freq="D"``, or weeks,
    ``freq="W"``), ``monetary_value`` (mean value of the repeat purchase periods, minor
    units) and ``repeat_spend_minor`` of the completed orders in ``currency`` up to the
    period holding ``observation_end``; a DataFrame indexed by ``customer_id``. Orders in
    other currencies are left out. ``progress``: see :data:`ProgressArg`.

    ``freq_multiplier`` (1 to 366) divides ``recency`` and ``T`` as ``lifetimes``' does:
    ``freq="D", freq_multiplier=7`` counts purchases per day and tells times in weeks, as the
    published BTYD tables do. When the last period takes in orders after
    ``observation_end`` (it is counted whole), a :class:`SummaryWarning` says how many.

    Raises :class:`crm.ValidationError`: field ``orders`` when no completed order is in the
    currency, ``observation_end`` when it is before every such order, ``freq``,
    ``freq_multiplier``. ``progress``: see :data:`ProgressArg`."""
    opts = _summary_options(currency, observation_end, freq, None, freq_multiplier)
    d = json.loads(_watched(progress, "summary", lambda cb: db._native.analytics_summary(opts, cb)))
    _warn(d)
    return _summary_frame(d, holdout=False)


def calibration_and_holdout(
    db: "Crm",
    currency: str,
    calibration_end: When,
    observation_end: When,
    *,
    freq: str = "D",
    freq_multiplier: int = 1,
    progress: ProgressArg = None,
) -> Any:
    """As ``lifetimes.utils.calibration_and_holdout_data``: the summary up to
    ``calibration_end`` (columns ``frequency_cal``, ``recency_cal``, ``T_cal``,
    ``monetary_value_cal``, ``repeat_spend_minor_cal``) with ``frequency_holdout``,
    ``monetary_value_holdout`` (mean order value) and ``duration_holdout`` for the periods
    after it up to ``observation_end``.

    ``freq_multiplier`` and :class:`SummaryWarning` are as for :func:`summary` (the
    warning also for orders after ``calibration_end`` counted in the calibration).

    Raises :class:`crm.ValidationError` on field ``calibration_end`` when it is before every
    completed order, or not in a period before the observation end. ``progress``: see
    :data:`ProgressArg`."""
    opts = _summary_options(currency, observation_end, freq, calibration_end, freq_multiplier)
    d = json.loads(_watched(progress, "summary", lambda cb: db._native.analytics_summary(opts, cb)))
    _warn(d)
    return _summary_frame(d, holdout=True)


def summaries(
    db: "Crm", observation_end: When, *, freq: str = "D", freq_multiplier: int = 1, progress: ProgressArg = None
) -> Any:
    """:func:`summary` of every currency with completed orders, in one pass over the orders,
    stacked with a ``currency`` column (a customer who bought in two currencies has two rows).
    ``progress``: see :data:`ProgressArg`."""
    pd = require_pandas()
    opts = _summary_options("USD", observation_end, freq, None, freq_multiplier)
    text = _watched(progress, "summaries", lambda cb: db._native.analytics_summaries(opts, cb))
    frames = []
    for d in json.loads(text):
        _warn(d)
        f = _summary_frame(d, holdout=False)
        f.insert(0, "currency", d["currency"])
        frames.append(f)
    return pd.concat(frames)


def _column(values: Any, name: str) -> Tuple[List[float], bool]:
    """Floats of a scalar, list, numpy array or pandas Series; and whether it was a scalar."""
    if hasattr(values, "tolist"):
        values = values.tolist()
    if isinstance(values, (int, float)):
        return [float(values)], True
    try:
        return [float(v) for v in values], False
    except (TypeError, ValueError) as e:
        raise ValidationError(f"invalid {name}: {e}", field=name, reason=str(e)) from None


def _counts(values: Any, name: str) -> Tuple[List[int], bool]:
    floats, scalar = _column(values, name)
    for v in floats:
        if not (v >= 0 and math.isfinite(v) and float(v).is_integer() and v < 2**32):
            raise ValidationError(
                f"invalid {name}: {v} is not a whole number of purchases", field=name,
                reason="is not a whole number of purchases",
            )
    return [int(v) for v in floats], scalar


def _result(values: Sequence[float], scalar: bool) -> Any:
    if scalar:
        return float(values[0])
    try:
        import numpy
    except ImportError:
        return list(values)
    return numpy.asarray(values, dtype="float64")


def _not_fitted(kind: str) -> ValidationError:
    return ValidationError(f"the {kind} is not fitted: call fit() first", field="model", reason="is not fitted")


class _Fitter:
    """The fitted state both models share: parameters, standard errors, log-likelihood and
    iterations from a fit (all None before one)."""

    def __init__(self, penalizer_coef: float = 0.0) -> None:
        self.penalizer_coef = float(penalizer_coef)
        self.params_: Optional[Dict[str, float]] = None
        self.standard_errors_: Optional[Dict[str, float]] = None
        self.log_likelihood_: Optional[float] = None
        self.iterations_: Optional[int] = None

    def _take(self, d: Mapping[str, Any]) -> None:
        self.params_ = {k: float(v) for k, v in d["params"].items()}
        self.standard_errors_ = {k: float(v) for k, v in d["standard_errors"].items()}
        self.log_likelihood_ = float(d["log_likelihood"])
        self.iterations_ = int(d["iterations"])

    def _params(self) -> str:
        if self.params_ is None:
            raise _not_fitted(type(self).__name__)
        return json.dumps(self.params_)


class BetaGeoFitter(_Fitter):
    """The BG/NBD model (``lifetimes.BetaGeoFitter``), fitted by maximum likelihood in Rust.

    Methods taking customer columns accept scalars (and then return a float) or array-likes
    (lists, numpy arrays, pandas Series; they return a numpy array). Before :meth:`fit` (or
    :meth:`from_params`) every prediction raises :class:`crm.ValidationError` (field ``model``).

    ``penalizer_coef`` is ``lifetimes``' L2 penalty (on the parameters with time scaled so the
    largest T is 1)."""

    @classmethod
    def from_params(cls, r: float, alpha: float, a: float, b: float) -> "BetaGeoFitter":
        """A model with given parameters (each finite and > 0, else :class:`crm.ValidationError`)."""
        m = cls()
        params = {"r": float(r), "alpha": float(alpha), "a": float(a), "b": float(b)}
        _crm.bgnbd_expected_new(json.dumps(params), [])
        m.params_ = params
        return m

    def fit(
        self,
        frequency: Any,
        recency: Any,
        T: Any,
        weights: Any = None,
        *,
        max_iterations: int = 500,
        tolerance: float = 1e-7,
        progress: ProgressArg = None,
    ) -> "BetaGeoFitter":
        """Fits r, alpha, a, b; sets ``params_``, ``standard_errors_``, ``log_likelihood_``
        (total, in the data's time unit) and ``iterations_``; returns ``self``.
        ``progress``: see :data:`ProgressArg` (step ``fit_bgnbd``); Ctrl-C stops the fit.

        Raises :class:`crm.ValidationError`: field ``data`` (empty), ``frequency``,
        ``recency``, ``weights``, and ``model`` for a fit that does not converge (with the
        reason; try a small ``penalizer_coef``)."""
        f, _ = _counts(frequency, "frequency")
        r, _ = _column(recency, "recency")
        t, _ = _column(T, "T")
        w = None if weights is None else _column(weights, "weights")[0]
        fit = json.dumps(_fit_options(self.penalizer_coef, max_iterations, tolerance))
        d = json.loads(_watched(progress, "BetaGeoFitter.fit",
                                lambda cb: _crm.bgnbd_fit(f, r, t, w, fit, cb)))
        self._take(d)
        return self

    def _predict(self, horizon: float, frequency: Any, recency: Any, T: Any) -> Tuple[Any, Any, Any]:
        params = self._params()
        f, scalar = _counts(frequency, "frequency")
        r, _ = _column(recency, "recency")
        t, _ = _column(T, "T")
        alive, expected, ll = _crm.bgnbd_predict(params, f, r, t, float(horizon))
        return _result(alive, scalar), _result(expected, scalar), _result(ll, scalar)

    def conditional_expected_number_of_purchases_up_to_time(self, t: float, frequency: Any, recency: Any, T: Any) -> Any:
        """Expected purchases in the next ``t`` periods of customers with these histories."""
        return self._predict(t, frequency, recency, T)[1]

    predict = conditional_expected_number_of_purchases_up_to_time

    def conditional_probability_alive(self, frequency: Any, recency: Any, T: Any) -> Any:
        """Probability that each customer is alive at the end of observation."""
        return self._predict(0.0, frequency, recency, T)[0]

    def log_likelihood(self, frequency: Any, recency: Any, T: Any) -> Any:
        """Log-likelihood of each history under the model."""
        return self._predict(0.0, frequency, recency, T)[2]

    def expected_number_of_purchases_up_to_time(self, t: Any) -> Any:
        """Expected purchases of a new customer in their first ``t`` periods."""
        params = self._params()
        ts, scalar = _column(t, "t")
        return _result(_crm.bgnbd_expected_new(params, ts), scalar)

    def probability_alive_path(self, purchases: Sequence[int], T: int) -> List[float]:
        """Probability alive at each period ``0..=T`` after the first purchase, given the
        periods (0 = the first purchase) with a purchase."""
        return list(_crm.bgnbd_alive_path(self._params(), [int(p) for p in purchases], int(T)))

    def __repr__(self) -> str:
        return f"<crm.analytics.BetaGeoFitter: {'not fitted' if self.params_ is None else self.params_}>"


class GammaGammaFitter(_Fitter):
    """The Gamma-Gamma model of spend per purchase (``lifetimes.GammaGammaFitter``), with
    parameters ``p``, ``q`` and ``gamma`` (``v`` in ``lifetimes``), money in minor units.
    ``penalizer_coef`` penalises ``p``, ``q`` and ``gamma`` divided by the mean spend (so it
    does not depend on the currency's unit). Unfitted, predictions raise
    :class:`crm.ValidationError` (field ``model``)."""

    @classmethod
    def from_params(cls, p: float, q: float, gamma: float) -> "GammaGammaFitter":
        """A model with given parameters (each finite and > 0)."""
        m = cls()
        params = {"p": float(p), "q": float(q), "gamma": float(gamma)}
        _crm.gamma_gamma_expected_value(json.dumps(params), [], [])
        m.params_ = params
        return m

    def fit(
        self,
        frequency: Any,
        monetary_value: Any,
        weights: Any = None,
        *,
        max_iterations: int = 500,
        tolerance: float = 1e-7,
        progress: ProgressArg = None,
    ) -> "GammaGammaFitter":
        """Fits on repeat buyers (every frequency > 0, every monetary value > 0); returns ``self``.
        ``progress``: see :data:`ProgressArg` (step ``fit_gamma_gamma``); Ctrl-C stops the fit.

        Raises :class:`crm.ValidationError`: field ``data`` (empty), ``frequency`` (a 0),
        ``monetary_value`` (not > 0), ``weights``, ``model`` (no convergence)."""
        f, _ = _counts(frequency, "frequency")
        m, _ = _column(monetary_value, "monetary_value")
        w = None if weights is None else _column(weights, "weights")[0]
        fit = json.dumps(_fit_options(self.penalizer_coef, max_iterations, tolerance))
        d = json.loads(_watched(progress, "GammaGammaFitter.fit",
                                lambda cb: _crm.gamma_gamma_fit(f, m, w, fit, cb)))
        self._take(d)
        return self

    def conditional_expected_average_profit(self, frequency: Any, monetary_value: Any) -> Any:
        """Expected mean purchase value of each customer (minor units; the population mean
        for frequency 0). Needs q > 1."""
        params = self._params()
        f, scalar = _counts(frequency, "frequency")
        m, _ = _column(monetary_value, "monetary_value")
        return _result(_crm.gamma_gamma_expected_value(params, f, m), scalar)

    def customer_lifetime_value(
        self,
        transaction_prediction_model: BetaGeoFitter,
        frequency: Any,
        recency: Any,
        T: Any,
        monetary_value: Any,
        time: int = 12,
        discount_rate: float = 0.01,
        freq: str = "D",
        *,
        progress: ProgressArg = None,
    ) -> Any:
        """Expected lifetime value over ``time`` months with a monthly ``discount_rate``, in
        minor units (floats: round half to even to report them), as ``lifetimes``;
        ``freq`` is the unit of recency and T (``"D"``: months of 30 days, ``"W"``: 4.345 weeks).
        ``progress``: see :data:`ProgressArg` (step ``score``)."""
        gg = self._params()
        bg = transaction_prediction_model._params()
        f, scalar = _counts(frequency, "frequency")
        r, _ = _column(recency, "recency")
        t, _ = _column(T, "T")
        m, _ = _column(monetary_value, "monetary_value")
        period = _period(freq)
        values = _watched(
            progress, "customer_lifetime_value",
            lambda cb: _crm.customer_lifetime_value(bg, gg, f, r, t, m, period, int(time), float(discount_rate), cb),
        )
        return _result(values, scalar)

    def __repr__(self) -> str:
        return f"<crm.analytics.GammaGammaFitter: {'not fitted' if self.params_ is None else self.params_}>"


def customer_values(
    db: "Crm",
    currency: str,
    observation_end: When,
    *,
    freq: str = "D",
    horizon: float = 30.0,
    months: int = 12,
    discount_rate: float = 0.01,
    penalizer_coef: float = 0.0,
    progress: ProgressArg = None,
) -> Any:
    """Summarises the store, fits both models and predicts, per customer (index
    ``customer_id``): ``frequency``, ``recency``, ``T``, ``p_alive``, ``expected_purchases``
    (next ``horizon`` periods), ``expected_average_value`` and ``clv_expected`` (minor units,
    floats) and ``clv_minor`` (int64, rounded half to even). ``progress``: see
    :data:`ProgressArg` (steps ``summary``, ``fit_bgnbd``, ``fit_gamma_gamma``, ``score``)."""
    pd = require_pandas()
    opts = {
        "summary": json.loads(_summary_options(currency, observation_end, freq, None)),
        "fit": _fit_options(penalizer_coef, 500, 1e-7),
        "horizon": float(horizon), "months": int(months), "discount_rate": float(discount_rate),
    }
    text = json.dumps(opts)
    d = json.loads(_watched(progress, "customer_values",
                            lambda cb: db._native.analytics_customer_values(text, cb)))
    rows = d["rows"]
    return pd.DataFrame({
        "customer_id": pd.Series([r["customer_id"] for r in rows], dtype="int64"),
        "frequency": pd.Series([r["history"]["frequency"] for r in rows], dtype="int64"),
        "recency": pd.Series([r["history"]["recency"] for r in rows], dtype="float64"),
        "T": pd.Series([r["history"]["t"] for r in rows], dtype="float64"),
        "p_alive": pd.Series([r["p_alive"] for r in rows], dtype="float64"),
        "expected_purchases": pd.Series([r["expected_purchases"] for r in rows], dtype="float64"),
        "expected_average_value": pd.Series([r["expected_average_value"] for r in rows], dtype="float64"),
        "clv_expected": pd.Series([r["clv_expected"] for r in rows], dtype="float64"),
        "clv_minor": pd.Series([r["clv_minor"] for r in rows], dtype="int64"),
    }).set_index("customer_id")


def _churn_options(
    currency: str, observation_end: When, freq: str, threshold: float, penalizer_coef: float,
    model: Optional[BetaGeoFitter],
) -> str:
    return json.dumps({
        "summary": json.loads(_summary_options(currency, observation_end, freq, None)),
        "fit": _fit_options(penalizer_coef, 500, 1e-7),
        "params": None if model is None else json.loads(model._params()),
        "threshold": float(threshold),
    })


def _churn_frame(rows: Sequence[Mapping[str, Any]]) -> Any:
    pd = require_pandas()
    cols: Dict[str, Any] = {"customer_id": pd.Series([r["customer_id"] for r in rows], dtype="int64")}
    for c in ("p_alive", "gap", "rhythm", "overdue", "risk"):
        cols[c] = pd.Series([r[c] for r in rows], dtype="float64")
    cols["at_risk"] = pd.Series([r["at_risk"] for r in rows], dtype="bool")
    return pd.DataFrame(cols).set_index("customer_id")


def churn_risk(
    db: "Crm",
    currency: str,
    observation_end: When,
    *,
    freq: str = "D",
    threshold: float = 0.7,
    penalizer_coef: float = 0.0,
    model: Optional[BetaGeoFitter] = None,
    progress: ProgressArg = None,
) -> Any:
    """Churn risk per customer (index ``customer_id``): ``p_alive``, ``gap`` (periods since
    the last purchase), ``rhythm`` (mean gap between purchases; the population's for one-time
    buyers), ``overdue`` (gap / rhythm), ``risk = 1 - p_alive * exp(-max(0, overdue - 1))``
    and ``at_risk`` (risk >= ``threshold``). With ``model``, its parameters are used instead
    of a fit. ``progress``: see :data:`ProgressArg` (steps ``summary``, ``fit_bgnbd`` unless
    ``model`` is given, ``score``)."""
    opts = _churn_options(currency, observation_end, freq, threshold, penalizer_coef, model)
    return _churn_frame(json.loads(_watched(progress, "churn_risk",
                                            lambda cb: db._native.analytics_churn_risk(opts, cb))))


def customers_at_risk(
    db: "Crm",
    currency: str,
    observation_end: When,
    *,
    freq: str = "D",
    threshold: float = 0.7,
    penalizer_coef: float = 0.0,
    model: Optional[BetaGeoFitter] = None,
    progress: ProgressArg = None,
) -> Any:
    """The rows of :func:`churn_risk` at risk, riskiest first (``progress`` as there)."""
    opts = _churn_options(currency, observation_end, freq, threshold, penalizer_coef, model)
    return _churn_frame(json.loads(_watched(progress, "customers_at_risk",
                                            lambda cb: db._native.analytics_customers_at_risk(opts, cb))))


def probability_alive_path(
    db: "Crm", model: BetaGeoFitter, customer_id: int, currency: str, observation_end: When, *, freq: str = "D"
) -> Any:
    """Probability alive of one customer period by period from their first completed order
    in ``currency``: a DataFrame of ``period_start`` (the period's first day, midnight
    ``datetime64[us, UTC]``), ``periods`` (int64) and ``p_alive``. One row per day or week
    since that order, computed in microseconds each, so it takes no progress callback."""
    pd = require_pandas()
    opts = _summary_options(currency, observation_end, freq, None)
    rows = json.loads(db._native.analytics_alive_path(model._params(), int(customer_id), opts))
    return pd.DataFrame({
        "period_start": utc_times([r["period_start"] for r in rows]),
        "periods": pd.Series([r["periods"] for r in rows], dtype="int64"),
        "p_alive": pd.Series([r["p_alive"] for r in rows], dtype="float64"),
    })


class CoPurchaseModel:
    """Co-purchase similarities between SKUs, learnt by :func:`co_purchase_model` (cosine on
    customer-SKU incidence; each customer's most recent ``max_items_per_customer`` SKUs)."""

    def __init__(self, native: Any) -> None:
        self._native = native

    def __len__(self) -> int:
        return int(len(self._native))

    @property
    def customers(self) -> int:
        """Number of customers counted."""
        return int(self._native.customers)

    def buyers(self, sku: str) -> Optional[int]:
        """Customers who bought ``sku``, or None for an unknown SKU."""
        n = self._native.buyers(sku)
        return None if n is None else int(n)

    def similar_items(self, sku: str, k: int = 10) -> Any:
        """"Customers who bought ``sku`` also bought": ``sku``, ``similarity``, ``customers``
        (who bought both), most similar first. Unknown SKU: :class:`crm.ValidationError`."""
        pd = require_pandas()
        rows = json.loads(self._native.similar_items(sku, int(k)))
        return pd.DataFrame({
            "sku": pd.Series([r["sku"] for r in rows], dtype=object),
            "similarity": pd.Series([r["similarity"] for r in rows], dtype="float64"),
            "customers": pd.Series([r["customers"] for r in rows], dtype="int64"),
        })

    def recommend(self, owned: Sequence[str], k: int = 10) -> Any:
        """The ``k`` best SKUs (``sku``, ``score``) for someone who owns ``owned``, leaving those out."""
        return _recommendations(json.loads(self._native.recommend([str(s) for s in owned], int(k))))

    def recommend_for_customer(self, db: "Crm", customer_id: int, k: int = 10) -> Any:
        """:meth:`recommend` for what the customer bought (completed orders) in ``db``."""
        return _recommendations(json.loads(db._native.analytics_recommend(self._native, int(customer_id), int(k))))


def _recommendations(rows: Sequence[Mapping[str, Any]]) -> Any:
    pd = require_pandas()
    return pd.DataFrame({
        "sku": pd.Series([r["sku"] for r in rows], dtype=object),
        "score": pd.Series([r["score"] for r in rows], dtype="float64"),
    })


def co_purchase_model(
    db: "Crm", *, max_items_per_customer: int = 50, neighbors: int = 50, min_customers: int = 1
) -> CoPurchaseModel:
    """Learns SKU similarities from the line items of every completed order (one pass)."""
    opts = {"max_items_per_customer": int(max_items_per_customer), "neighbors": int(neighbors),
            "min_customers": int(min_customers)}
    return CoPurchaseModel(db._native.analytics_co_purchase_model(json.dumps(opts)))


def category_affinity(db: "Crm", currency: str, customer_id: Optional[int] = None) -> Any:
    """Per customer (or one customer) and category: ``items`` (units), ``spend_minor``
    (int64, quantity times unit price in ``currency``), ``item_share`` and ``spend_share``,
    largest spend first."""
    pd = require_pandas()
    rows = json.loads(db._native.analytics_category_affinity(currency, None if customer_id is None else int(customer_id)))
    return pd.DataFrame({
        "customer_id": pd.Series([r["customer_id"] for r in rows], dtype="int64"),
        "category": pd.Series([r["category"] for r in rows], dtype=object),
        "items": pd.Series([r["items"] for r in rows], dtype="int64"),
        "spend_minor": pd.Series([r["spend_minor"] for r in rows], dtype="int64"),
        "currency": pd.Series([r["currency"] for r in rows], dtype=object),
        "item_share": pd.Series([r["item_share"] for r in rows], dtype="float64"),
        "spend_share": pd.Series([r["spend_share"] for r in rows], dtype="float64"),
    })


@dataclass(frozen=True)
class Reports:
    """The tables of :func:`reports` (money int64 minor units of ``currency``; periods and
    cohorts as their first day, midnight ``datetime64[us, UTC]``)."""

    currency: str
    period: str
    #: Per period: orders, customers, new_customers, returning_customers, revenue_minor,
    #: new_revenue_minor, returning_revenue_minor, average_order_minor.
    revenue: Any
    #: Per period and channel: orders, revenue_minor.
    channels: Any
    #: Per monthly cohort and months since: cohort_customers, active_customers, retention.
    cohorts: Any
    #: Orders per customer and how many customers placed that many.
    frequency: Any
    #: Per period and requested segment (today's members): orders, customers, revenue_minor.
    segments: Any


def _table(rows: Sequence[Mapping[str, Any]], columns: Mapping[str, str]) -> Any:
    pd = require_pandas()
    data: Dict[str, Any] = {}
    for name, dtype in columns.items():
        values = [r[name] for r in rows]
        if dtype == "date":
            data[name] = utc_times(values)
        else:
            data[name] = pd.Series(values, dtype=dtype)
    return pd.DataFrame(data)


def reports(
    db: "Crm",
    currency: str,
    *,
    period: str = "month",
    before: Optional[When] = None,
    segments: Sequence[str] = (),
) -> Reports:
    """Revenue, orders, average order value and new versus returning customers per
    ``period`` (``"month"`` or ``"week"``), revenue per channel, monthly cohort retention,
    the orders-per-customer distribution and, for each saved segment named in ``segments``,
    the revenue of its current members, over completed orders in ``currency`` (before
    ``before``, if given), in one pass."""
    opts = {
        "currency": currency,
        "period": period,
        "before": None if before is None else _when(before, "before"),
        "segments": list(segments),
    }
    d = json.loads(db._native.analytics_reports(json.dumps(opts)))
    i64 = "int64"
    return Reports(
        currency=d["currency"],
        period=d["period"],
        revenue=_table(d["revenue"], {
            "period_start": "date", "orders": i64, "customers": i64, "new_customers": i64,
            "returning_customers": i64, "revenue_minor": i64, "new_revenue_minor": i64,
            "returning_revenue_minor": i64, "average_order_minor": i64,
        }),
        channels=_table(d["channels"], {"period_start": "date", "channel": "object", "orders": i64,
                                        "revenue_minor": i64}),
        cohorts=_table(d["cohorts"], {"cohort": "date", "months_since": i64, "cohort_customers": i64,
                                      "active_customers": i64, "retention": "float64"}),
        frequency=_table(d["frequency"], {"orders": i64, "customers": i64}),
        segments=_table(d["segments"], {"period_start": "date", "segment": "object", "orders": i64,
                                        "customers": i64, "revenue_minor": i64}),
    )

"""Probabilistic purchase models for customer-base analysis (CLV): BG/NBD, MBG/NBD, Pareto/NBD, BG/BB, Gamma-Gamma.

All purchase models share one shape (scikit-learn / lifetimes style): ``fit(summary)`` returns ``self`` and sets
``params_``, ``standard_errors_``, ``log_likelihood_``, ``notes_``, ``n_customers_``, ``unit_``; they answer
``expected_purchases(summary, t)``, ``p_alive(summary)``, ``probability_of_purchase(summary, t)``,
``probability_of_n_purchases(t, n)`` and ``expected_purchases_new(t)``.

Conventions (those of ``lifetimes``): ``frequency`` (x) counts **repeat** purchase periods, ``recency`` (t_x) is the
time from the first to the last purchase, ``T`` the time from the first purchase to the end of calibration, all in
the summary's time ``unit``. The discrete-time BG/BB model reads ``frequency`` (x), ``recency`` (t_x, the
opportunity of the last transaction) and ``periods`` (n, opportunities observed). Every fit runs on unique rows
weighted by their counts (a ``weight`` column is honoured), so a million customers cost what their distinct
histories cost.

The models
----------
- **BG/NBD** (Fader, Hardie & Lee 2005): Poisson purchases at rate λ ~ Gamma(r, α) while alive; after each repeat
  purchase the customer drops out with probability p ~ Beta(a, b). One-time buyers have P(alive) = 1.
- **MBG/NBD** (Batislam, Denizel & Filiztekin 2007): as BG/NBD, but the customer may also drop out right after the
  first purchase, so one-time buyers can be gone (P(alive) < 1 at x = 0).
- **Pareto/NBD** (Schmittlein, Morrison & Colombo 1987): lifetimes are exponential with rate μ ~ Gamma(s, β), so
  dropout can happen at any time, not only at purchases. Its likelihood needs ∫ (α+τ)^-(r+x) (β+τ)^-(s+1) dτ,
  usually written with Gauss hypergeometric functions ₂F₁; ``scipy.special.hyp2f1`` silently returns NaN or wrong
  values for some of the arguments it meets (z → 1, large r + x), so this module evaluates the integral itself
  (:func:`_log_tail`: a substitution that removes the end-point singularity, then 32-point Gauss–Legendre), which
  also yields the exact gradient in all four parameters.
- **BG/BB** (Fader, Hardie & Shang 2010): discrete opportunities (a weekly livestream, a monthly member day): a
  transaction at each opportunity with probability p ~ Beta(α, β) while alive; before each opportunity the
  customer becomes inactive with probability θ ~ Beta(γ, δ).
- **Gamma-Gamma** (Fader, Hardie & Lee 2005, *RFM and CLV*): the average value of a customer's repeat purchases.
"""

from __future__ import annotations

import copy
import dataclasses
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import integrate, optimize
from scipy.special import betaln, digamma, expit, gammaln, hyp2f1

from helpers.base import FittedModel, numerical_hessian, standard_errors_from_information

__all__ = [
    "UNITS",
    "BetaGeo",
    "BetaGeoBetaBinom",
    "ConvergenceError",
    "GammaGamma",
    "ModifiedBetaGeo",
    "ParetoNBD",
    "PurchaseModel",
    "average_value",
    "customer_lifetime_value",
    "discounted_purchases",
]

#: Time units: name -> days.
UNITS = {"D": 1.0, "W": 7.0}

_BOUND = 12.0  # bound on every log-parameter in the optimiser (e^12 ≈ 160 000)


class ConvergenceError(RuntimeError):
    """The likelihood maximisation did not converge; the message says what to try."""


# ------------------------------------------------------------------------------------------------ helpers
def _collapse(summary: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    """Collapse to unique rows of ``cols`` with their counts as ``weight`` (the fit runs on these).

    A ``weight`` column already in ``summary`` (rows that stand for several customers) is summed.
    """
    if "weight" in summary.columns:
        return summary.groupby(cols, sort=False)["weight"].sum().reset_index()
    return summary.groupby(cols, sort=False).size().rename("weight").reset_index()


def _n_customers(summary: pd.DataFrame) -> int:
    return int(round(float(summary["weight"].sum()))) if "weight" in summary.columns else len(summary)


def _factorize(arrays: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Distinct rows of several aligned arrays (hash-based) and the code of every row: (uniques (k, n), codes)."""
    arrays = [np.asarray(a, float) for a in arrays]
    n = len(arrays[0])
    if n == 0:
        return np.zeros((0, len(arrays))), np.zeros(0, dtype=np.intp)
    key = np.zeros(n, dtype=np.int64)
    for a in arrays:
        c, u = pd.factorize(a)
        if len(u) and (int(key.max()) + 1) * len(u) >= 2**62:  # combined key would overflow: re-code first
            key = pd.factorize(key)[0].astype(np.int64)
        key = key * len(u) + c
    codes, uniq = pd.factorize(key)
    first = np.empty(len(uniq), dtype=np.intp)
    first[codes[::-1]] = np.arange(n)[::-1]
    return np.column_stack([a[first] for a in arrays]), codes


def _unique_rows(summary: pd.DataFrame, cols: list[str]) -> tuple[pd.DataFrame, np.ndarray]:
    """Return the unique rows of ``cols`` (predictions depend on nothing else) and the index mapping back."""
    uniq, inv = _factorize([summary[c].to_numpy(float) for c in cols])
    return pd.DataFrame(uniq, columns=cols), inv


def _one_minus_pow_ratio(c: np.ndarray, log_ratio: np.ndarray) -> np.ndarray:
    """Return (1 − e^(−c·L)) / c, continuous at c = 0 (where it is L)."""
    c = np.asarray(c, float)
    small = np.abs(c) < 1e-10
    with np.errstate(invalid="ignore", divide="ignore"):
        out = -np.expm1(-c * log_ratio) / np.where(small, 1.0, c)
    return np.where(small, log_ratio, out)


_GL_X, _GL_W = np.polynomial.legendre.leggauss(32)


def _log_tail(
    p: np.ndarray, q: np.ndarray, a: np.ndarray, b: np.ndarray, t: np.ndarray, grad: bool = False
) -> tuple[np.ndarray, np.ndarray | None]:
    """Compute log ∫_t^∞ (a+τ)^−p (b+τ)^−q dτ for p, q > 0, p + q > 1, and optionally its gradient.

    This is the integral behind the Pareto/NBD ₂F₁ terms: with m = max(a, b) it equals
    (m+t)^−k ₂F₁(k, ·; k+1; |a−b|/(m+t)) / k, k = p + q − 1. Substituting m + τ = (m+t)·e^v and
    v + ε = ε·e^w (ε = (min(a, b) + t)/(m + t)) removes the peak at the lower end that makes ₂F₁ hard when
    |a−b|/(m+t) → 1; the smooth remainder is integrated by 32-point Gauss–Legendre on a range cut where the
    integrand has fallen by e^−60. Everything stays in logs, so nothing overflows.

    Returns
    -------
    (ndarray, ndarray or None)
        log of the integral, and (when ``grad``) its derivatives with respect to p, q, a, b (last axis).

    Examples
    --------
    >>> from scipy.integrate import quad
    >>> ref = quad(lambda u: (10 + u) ** -1.5 * (12 + u) ** -1.6, 3, np.inf)[0]
    >>> got, _ = _log_tail(np.array([1.5]), np.array([1.6]), np.array([10.0]), np.array([12.0]), np.array([3.0]))
    >>> bool(abs(np.exp(got[0]) / ref - 1) < 1e-10)
    True
    """
    p, q, a, b, t = (np.asarray(v, float).reshape(-1) for v in np.broadcast_arrays(p, q, a, b, t))
    shape = np.broadcast_shapes(*(np.shape(v) for v in (p, q, a, b, t)))
    a_max = a >= b
    m = np.where(a_max, a, b)
    mt = m + t
    k = p + q - 1.0
    p_max = np.where(a_max, p, q)  # exponent of the factor with the larger of a, b
    q_min = np.where(a_max, q, p)
    eps = (np.where(a_max, b, a) + t) / mt
    w1 = np.log1p((60.0 - np.minimum(np.log(eps), 0.0)) / k / eps)
    w2 = 71.0 / np.maximum(q_min - 1.0, 1e-300)
    with np.errstate(over="ignore"):
        cut2 = (q_min > 1.0) & (np.maximum(1.0 - p_max, 0.0) * eps * np.expm1(np.minimum(w2, 700.0)) <= 1.0)
    width = np.minimum(w1, np.where(cut2, w2, np.inf))[:, None]
    w = (_GL_X + 1.0) / 2.0 * width
    v = eps[:, None] * np.expm1(w)
    ev = np.exp(-v)
    l_min = np.log1p(-(1.0 - eps)[:, None] * ev)  # log(min(a,b) + τ) − log(m + τ)
    lmt = np.log(mt)
    # log integrand in w: −p_max·log(m+τ) − q_min·log(min+τ) + log(dτ/dw), with log(m+τ) = log(m+t) + v and
    # dτ/dw = (m+t)·e^v·(v+ε); the −k·log(m+t) part is added back at the end
    lg = -k[:, None] * v - q_min[:, None] * l_min + np.log(v + eps[:, None])
    top = lg.max(axis=1, keepdims=True)
    e = np.exp(lg - top) * (_GL_W / 2.0)
    tot = e.sum(axis=1)
    out = (top[:, 0] + np.log(tot * width[:, 0]) - k * lmt).reshape(shape)
    if not grad:
        return out, None
    e /= tot[:, None]
    ev_mean = (e * v).sum(axis=1)
    e_lmin = (e * l_min).sum(axis=1)
    l_max = lmt + ev_mean  # E[log(m + τ)]
    l_mn = l_max + e_lmin  # E[log(min + τ)]
    inv_max = (e * ev).sum(axis=1) / mt  # E[1/(m + τ)]
    inv_min = (e * (ev / np.exp(l_min))).sum(axis=1) / mt  # E[1/(min + τ)]
    la, lb = np.where(a_max, l_max, l_mn), np.where(a_max, l_mn, l_max)
    ia, ib = np.where(a_max, inv_max, inv_min), np.where(a_max, inv_min, inv_max)
    g = np.stack([-la, -lb, -p * ia, -q * ib], axis=-1)
    return out, g.reshape(*shape, 4)


def _log_diff(l1: np.ndarray, l2: np.ndarray) -> np.ndarray:
    """Return log(e^l1 − e^l2) for l1 ≥ l2 (−inf where they are equal)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return l1 + np.log(-np.expm1(np.minimum(l2 - l1, 0.0)))


def _projected_gradient(res: optimize.OptimizeResult) -> float:
    """Largest gradient component that the bounds do not block (an optimum at a bound has a blocked push)."""
    g = np.array(res.jac, float)
    x = np.asarray(res.x, float)
    g[(x >= _BOUND - 1e-9) & (g < 0)] = 0.0
    g[(x <= -_BOUND + 1e-9) & (g > 0)] = 0.0
    return float(np.max(np.abs(g))) if np.all(np.isfinite(g)) else float("inf")


# --------------------------------------------------------------------------------------------- base class
class PurchaseModel(FittedModel):
    """Shared fitting machinery of the purchase models (maximum likelihood in log parameters).

    Subclasses define ``_names`` (parameter names), ``_time_params`` (parameters in units of time, rescaled
    during the search), ``_columns`` (summary columns of a customer's history), ``_prepare`` and ``_ll_grad``.
    """

    _names: tuple[str, ...] = ()
    _time_params: tuple[str, ...] = ()
    _columns: tuple[str, ...] = ("frequency", "recency", "T")
    _label = ""
    _starts: tuple[tuple[float, ...], ...] = ((0.0, 0.0, 0.0, 0.0),)

    def __init__(self, penalizer: float = 0.0) -> None:
        self.penalizer = penalizer

    # -- subclass hooks
    def _prepare(self, u: pd.DataFrame):  # pragma: no cover - abstract
        raise NotImplementedError

    def _scale_data(self, data, scale: float):
        """Return the prepared data with times divided by ``scale`` (models without time parameters: as is)."""
        return data

    def _ll_grad(self, logp: np.ndarray, data) -> tuple[float, np.ndarray]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _validate(self, summary: pd.DataFrame, n: int) -> None:
        if n < 10:
            raise ValueError(f"{self._label} needs at least 10 customers; got {n}")
        if (summary["frequency"] > 0).sum() == 0:
            raise ValueError(
                f"{self._label} needs repeat purchases: none of the {n:,} customers bought on a second day, so "
                "the dropout process cannot be estimated (widen the window or wait for more data)"
            )
        bad = summary["recency"] > summary["T"] + 1e-9
        if bad.any():
            raise ValueError(f"{int(bad.sum())} customers have recency > T: the summary is inconsistent")

    def _time_scale(self, u: pd.DataFrame) -> float:
        return float(u["T"].max()) / 10.0 or 1.0

    # -- fitting
    @property
    def n_params(self) -> int:
        """Number of free parameters (for AIC / BIC)."""
        return len(self._names)

    def fit(self, summary: pd.DataFrame, unit: str | None = None, start: dict | None = None) -> PurchaseModel:
        """Fit by maximum likelihood on the unique rows of a summary, weighted by their counts.

        Parameters
        ----------
        summary : DataFrame
            One row per customer (or per group of identical customers with a ``weight`` column).
        unit : str, optional
            Time unit of the summary (default ``summary.attrs["unit"]`` or ``"D"``).
        start : dict, optional
            Parameters to start the search from (e.g. a previous fit, for bootstrap refits); the default starting
            points are tried after it.

        Returns
        -------
        self

        Raises
        ------
        ValueError
            Too few customers, no repeat purchases, or an inconsistent summary.
        ConvergenceError
            The optimiser failed from every starting point.
        """
        n = _n_customers(summary)
        self._validate(summary, n)
        u = _collapse(summary, list(self._columns))
        scale = self._time_scale(u)
        data1 = self._prepare(u)
        data = self._scale_data(data1, scale) if scale != 1.0 else data1
        pen = self.penalizer
        total = float(u["weight"].sum())

        def neg(logp: np.ndarray) -> tuple[float, np.ndarray]:
            ll, g = self._ll_grad(logp, data)
            return (-ll + pen * np.sum(logp**2)) / total, (-g + 2 * pen * logp) / total

        starts = list(self._starts)
        if start is not None:
            lp0 = [np.log(start[k] / (scale if k in self._time_params else 1.0)) for k in self._names]
            starts.insert(0, tuple(np.clip(lp0, -_BOUND + 1e-6, _BOUND - 1e-6)))
        best, last = None, None
        for x0 in starts:
            with np.errstate(all="ignore"):
                res = optimize.minimize(
                    neg,
                    np.array(x0, float),
                    jac=True,
                    method="L-BFGS-B",
                    bounds=[(-_BOUND, _BOUND)] * len(self._names),
                    options={"maxiter": 3000, "gtol": 1e-9, "ftol": 1e-12},
                )
            last = res
            if np.isfinite(res.fun) and (res.success or _projected_gradient(res) < 1e-6):
                best = res
                break
        if best is None:
            msg = last.message if last is not None and np.isfinite(last.fun) else "non-finite likelihood"
            raise ConvergenceError(
                f"{self._label} did not converge ({msg}); try a coarser unit (unit='W'), a longer calibration "
                f"period, or a small penalizer (e.g. {type(self).__name__}(penalizer=0.001))"
            )
        theta = np.exp(best.x)
        for i, name in enumerate(self._names):
            if name in self._time_params:
                theta[i] *= scale
        lp = np.log(theta)
        self.params_ = {k: float(v) for k, v in zip(self._names, theta, strict=True)}
        self.log_likelihood_ = float(self._ll_grad(lp, data1)[0])
        H = numerical_hessian(None, lp, grad=lambda v: self._ll_grad(v, data1)[1])
        at_bound = np.abs(best.x) >= _BOUND - 1e-6
        self.standard_errors_, self.notes_ = standard_errors_from_information(
            H, list(theta), list(self._names), at_bound=at_bound
        )
        self._set_covariance(H)
        self.unit_ = unit or summary.attrs.get("unit", "D")
        self.n_customers_ = n
        k = self.n_params
        self.aic_ = 2 * k - 2 * self.log_likelihood_
        self.bic_ = k * np.log(n) - 2 * self.log_likelihood_
        return self

    def _set_covariance(self, H: np.ndarray) -> None:
        """Covariance of the log parameters, inverse of the observed information; NaN where not identified."""
        names = list(self._names)
        nan = np.array([not np.isfinite(self.standard_errors_[k]) for k in names])
        cov = np.full((len(names), len(names)), np.nan)
        if np.all(np.isfinite(H)):
            try:
                c = np.linalg.inv(-H)
                if np.all(np.linalg.eigvalsh((c + c.T) / 2) > 0):
                    cov = (c + c.T) / 2
            except np.linalg.LinAlgError:
                pass
        cov[nan, :] = np.nan
        cov[:, nan] = np.nan
        self.log_params_covariance_ = pd.DataFrame(cov, index=names, columns=names)

    def log_likelihood(self, summary: pd.DataFrame, params: dict | None = None) -> float:
        """Return the log-likelihood of ``summary`` at ``params`` (default: the fitted ones).

        With the fitted parameters on the fitted summary this is ``log_likelihood_``; at other values (planted ones,
        say) it gives a likelihood-ratio test: 2 × (``log_likelihood_`` − LL at the other values) is about χ² with
        as many degrees of freedom as parameters when those values are the truth.
        """
        self._check_fitted()
        params = self.params_ if params is None else params
        data = self._prepare(_collapse(summary, list(self._columns)))
        return float(self._ll_grad(np.log([float(params[k]) for k in self._names]), data)[0])

    def with_params(self, params: dict) -> PurchaseModel:
        """Return a copy of this fitted model with other parameter values (for draws and what-ifs)."""
        self._check_fitted()
        out = copy.copy(self)
        out.params_ = {k: float(params[k]) for k in self._names}
        return out

    @classmethod
    def from_params(cls, params: dict, unit: str = "D") -> PurchaseModel:
        """Return a model with given parameter values instead of fitted ones (planted truth, what-ifs).

        >>> BetaGeo.from_params({"r": 10, "alpha": 70, "a": 2, "b": 300}).params_["alpha"]
        70.0
        """
        out = cls()
        out.params_, out.unit_ = {k: float(params[k]) for k in cls._names}, unit
        return out

    @property
    def unit_days_(self) -> float:
        """Length of the model's time unit in days."""
        self._check_fitted()
        return UNITS[self.unit_]

    def _hist(self, summary: pd.DataFrame) -> tuple[np.ndarray, ...]:
        return tuple(summary[c].to_numpy(float) for c in self._columns)

    def expected_purchases_grid(self, summary: pd.DataFrame, ts: np.ndarray) -> np.ndarray:
        """Return expected purchases in the next ``t`` for every ``t`` in ``ts``: array (customers, len(ts))."""
        ts = np.atleast_1d(np.asarray(ts, float))
        return np.column_stack([self.expected_purchases(summary, float(t)).to_numpy() for t in ts])

    def discounted_purchases_grid(self, summary: pd.DataFrame, ts: np.ndarray, discount: np.ndarray) -> np.ndarray:
        """Return Σ_k discount_k · E[purchases in (ts_{k−1}, ts_k]] per customer (ts_0 = 0): one value per row."""
        return np.diff(self.expected_purchases_grid(summary, ts), axis=1, prepend=0.0) @ discount


# ----------------------------------------------------------------------------------------------- BG/NBD
@dataclass
class _Rows:
    """Collapsed rows with the distinct values of x, t_x and T, so special functions run once per value.

    ``wx`` holds the total weight per distinct x and ``w_x`` each row's weight × x: the parts of the
    likelihood that depend on x alone are summed per distinct x, not per row.
    """

    x: np.ndarray
    w: np.ndarray
    pos: np.ndarray
    ux: np.ndarray
    ix: np.ndarray
    utx: np.ndarray
    itx: np.ndarray
    uT: np.ndarray
    iT: np.ndarray
    wx: np.ndarray
    w_x: np.ndarray


def _prepare(x, tx, T, w) -> _Rows:
    x, w = np.asarray(x, float), np.asarray(w, float)
    ux, ix = np.unique(x, return_inverse=True)
    utx, itx = np.unique(np.asarray(tx, float), return_inverse=True)
    uT, iT = np.unique(np.asarray(T, float), return_inverse=True)
    wx = np.bincount(ix, weights=w, minlength=len(ux))
    return _Rows(x, w, x > 0, ux, ix, utx, itx, uT, iT, wx, w * x)


def _rescaled(rows: _Rows, scale: float) -> _Rows:
    """Return the same rows with times divided by ``scale`` (the distinct values stay distinct and in order)."""
    return dataclasses.replace(rows, utx=rows.utx / scale, uT=rows.uT / scale)


def _bgnbd_ll_grad(logp: np.ndarray, d: _Rows, modified: bool = False) -> tuple[float, np.ndarray]:
    """Weighted (M)BG/NBD log-likelihood and its gradient with respect to the log parameters.

    BG/NBD: L = B(a, b+x)/B(a, b)·A(T) + [x>0]·B(a+1, b+x−1)/B(a, b)·A(t_x), A(t) = Γ(r+x)α^r / (Γ(r)(α+t)^(r+x)).
    MBG/NBD: L = B(a, b+x+1)/B(a, b)·A(T) + B(a+1, b+x)/B(a, b)·A(t_x) (dropout also possible at time 0).

    Written as log L = [terms of x alone] − (r+x)·log(α+T) + log(1 + e^δ), δ = G(x) − (r+x)·(log(α+t_x) −
    log(α+T)), so each row costs two gathers, one ``logaddexp`` and one ``expit``; everything that depends on x
    alone is summed over the distinct x with their total weights.
    """
    r, alpha, a, b = np.exp(logp)
    ux, w = d.ux, d.w
    sh = 1.0 if modified else 0.0  # the MBG/NBD beta arguments are shifted by one purchase
    upos = np.ones_like(ux, bool) if modified else ux > 0
    W = float(d.wx.sum())
    lnb = betaln(a, b)
    bx = b + ux + sh
    bx2 = np.where(upos, bx - 1.0, 1.0)
    lb1 = betaln(a, bx)
    G = np.where(upos, betaln(a + 1.0, bx2) - lb1, -np.inf)
    lT_u, ltx_u = np.log(alpha + d.uT), np.log(alpha + d.utx)
    lT, ltx = lT_u[d.iT], ltx_u[d.itx]
    diff = ltx - lT
    wrx = r * w + d.w_x  # w · (r + x)
    delta = G[d.ix] - (r + d.x) * diff
    w2 = expit(delta)  # weight of the "dropped out after the last purchase" term
    sw2 = w * w2
    g_rx = gammaln(r + ux) - gammaln(r)
    ll = float(
        np.dot(d.wx, g_rx + lb1) + W * (r * np.log(alpha) - lnb) - np.dot(wrx, lT) + np.dot(w, np.logaddexp(0.0, delta))
    )
    iT, itx = (1.0 / (alpha + d.uT))[d.iT], (1.0 / (alpha + d.utx))[d.itx]
    dr = np.dot(d.wx, digamma(r + ux) - digamma(r)) + W * np.log(alpha) - np.dot(w, lT) - np.dot(sw2, diff)
    dalpha = W * r / alpha - np.dot(wrx, iT) - np.dot(wrx * w2, itx - iT)
    d_abx = digamma(a + bx)
    da = (
        np.dot(d.wx, digamma(a) - d_abx) - W * (digamma(a) - digamma(a + b)) + (digamma(a + 1) - digamma(a)) * sw2.sum()
    )
    s_x = np.bincount(d.ix, weights=sw2, minlength=len(ux))
    dbx = digamma(bx)
    db = (
        np.dot(d.wx, dbx - d_abx)
        - W * (digamma(b) - digamma(a + b))
        + np.dot(s_x, np.where(upos, digamma(bx2) - dbx, 0.0))
    )
    return ll, np.array([dr, dalpha, da, db]) * np.array([r, alpha, a, b])


def _bg_alive_expectation(r: np.ndarray, alpha: np.ndarray, a: float, b: np.ndarray, t: float) -> np.ndarray:
    """E[purchases in (0, t]] of a customer alive now with λ ~ Gamma(r, α) and p ~ Beta(a, b) (BG dropout).

    (a + b − 1)/(a − 1) · [1 − (α/(α+t))^r ₂F₁(r, b; a+b−1; t/(α+t))]; rows where ``hyp2f1`` returns a
    non-finite or impossible value are recomputed from E[(1 − (α/(α+pt))^r)/p] by adaptive quadrature over p.
    """
    r, alpha, b = np.broadcast_arrays(np.asarray(r, float), np.asarray(alpha, float), np.asarray(b, float))
    z = t / (alpha + t)
    with np.errstate(all="ignore"):
        h = hyp2f1(r, b, a + b - 1, z)
        out = (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * h)
    bad = ~np.isfinite(out) | (out < -1e-12)
    if t > 0 and bad.any():
        out = np.array(out, dtype=float)
        for i in np.flatnonzero(bad):
            ri, ai, bi = float(r.flat[i]), float(alpha.flat[i]), float(b.flat[i])
            lb = betaln(a, bi)

            def f(p, ri=ri, ai=ai, bi=bi, lb=lb):
                return (
                    -np.expm1(-ri * np.log1p(p * t / ai))
                    / p
                    * np.exp((a - 1) * np.log(p) + (bi - 1) * np.log1p(-p) - lb)
                )

            out.flat[i] = integrate.quad(f, 0.0, 1.0, limit=200)[0]
    return np.clip(out, 0.0, None)


class BetaGeo(PurchaseModel):
    """BG/NBD model of repeat purchasing, fitted by maximum likelihood.

    Parameters
    ----------
    penalizer : float
        Optional L2 penalty on the log parameters (0 = plain maximum likelihood).

    Attributes
    ----------
    params_ : dict
        ``r``, ``alpha`` (in the summary's time unit), ``a``, ``b``.
    standard_errors_ : dict
        Asymptotic standard errors from the observed information (delta method from log parameters); ``NaN``
        for a parameter the data do not identify (see ``notes_``).
    log_params_covariance_ : DataFrame
        Covariance of the log parameters (inverse observed information); the Laplace draws use it.
    log_likelihood_ : float
        Maximised log-likelihood (sum over customers).
    aic_, bic_ : float
        Information criteria (4 parameters; BIC with the number of customers).
    notes_ : list of str
        What the fit could not pin down (unidentified parameters, a parameter at the optimiser's bound).
    unit_ : str
        Time unit of the summary it was fitted on.
    n_customers_ : int
        Customers in the fit.

    Examples
    --------
    >>> from helpers.simulate import bgnbd_summary
    >>> m = BetaGeo().fit(bgnbd_summary(5000, r=0.5, alpha=10, a=0.8, b=2.5, T=52, seed=1))
    >>> {k: round(v, 1) for k, v in m.params_.items()}
    {'r': 0.5, 'alpha': 9.6, 'a': 0.8, 'b': 2.5}
    """

    _names = ("r", "alpha", "a", "b")
    _time_params = ("alpha",)
    _label = "BG/NBD"
    _starts = ((0.0, 0.0, 0.0, 0.0), (np.log(0.5), np.log(2.0), 0.0, np.log(3.0)), (1.0, 1.0, 1.0, 2.0))
    _modified = False

    def _prepare(self, u: pd.DataFrame) -> _Rows:
        return _prepare(u["frequency"], u["recency"], u["T"], u["weight"])

    def _scale_data(self, data: _Rows, scale: float) -> _Rows:
        return _rescaled(data, scale)

    def _ll_grad(self, logp: np.ndarray, data: _Rows) -> tuple[float, np.ndarray]:
        return _bgnbd_ll_grad(logp, data, modified=self._modified)

    def p_alive(self, summary: pd.DataFrame) -> pd.Series:
        """P(still alive at T | frequency, recency, T); exactly 1 for customers with no repeat purchase."""
        self._check_fitted()
        r, alpha, a, b = self.params_.values()
        x, tx, T = self._hist(summary)
        with np.errstate(divide="ignore"):
            log_ratio = (
                np.log(a) - np.log(np.maximum(b + x - 1, 1e-300)) + (r + x) * (np.log(alpha + T) - np.log(alpha + tx))
            )
        p = np.where(x > 0, 1.0 / (1.0 + np.exp(log_ratio)), 1.0)
        return pd.Series(p, index=summary.index, name="p_alive")

    _shift = 0.0  # MBG/NBD: an alive customer has survived one more dropout toss

    def expected_purchases(self, summary: pd.DataFrame, t: float) -> pd.Series:
        """Return expected purchases in the next ``t`` time units, given each customer's history."""
        return pd.Series(
            self.expected_purchases_grid(summary, [t])[:, 0], index=summary.index, name=f"expected_purchases_{t:g}"
        )

    def expected_purchases_grid(self, summary: pd.DataFrame, ts: np.ndarray) -> np.ndarray:
        """Return expected purchases in the next ``t`` for every ``t`` in ``ts``: array (customers, len(ts)).

        P(alive) × E[purchases | alive]; the second depends on (x, T) only, so it is computed once per distinct
        pair (``hyp2f1`` is the cost).
        """
        e, inv = self._alive_grid(summary, ts)
        return e[inv] * self.p_alive(summary).to_numpy()[:, None]

    def discounted_purchases_grid(self, summary: pd.DataFrame, ts: np.ndarray, discount: np.ndarray) -> np.ndarray:
        """Return Σ_k discount_k · E[purchases in (ts_{k−1}, ts_k]] per customer (ts_0 = 0).

        The steps are discounted per distinct (x, T) pair and only the sum is mapped to the customers: at 1 M
        customers the (customers × steps) matrix is never built.
        """
        e, inv = self._alive_grid(summary, ts)
        return (np.diff(e, axis=1, prepend=0.0) @ discount)[inv] * self.p_alive(summary).to_numpy()

    def _alive_grid(self, summary: pd.DataFrame, ts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """E[purchases by each t | alive] per distinct (x, T) pair (pairs × len(ts)) and every row's pair."""
        self._check_fitted()
        r, alpha, a, b = self.params_.values()
        x, _, T = self._hist(summary)
        pairs, inv = _factorize([x, T])
        ux, uT = pairs[:, 0], pairs[:, 1]
        ts = np.atleast_1d(np.asarray(ts, float))
        e = np.column_stack([_bg_alive_expectation(r + ux, alpha + uT, a, b + ux + self._shift, t) for t in ts])
        return e, inv

    def probability_of_purchase(self, summary: pd.DataFrame, t: float) -> pd.Series:
        """P(at least one purchase in the next ``t`` time units | history).

        Alive customers keep their posterior rate Gamma(r + x, α + T); no purchase also means no dropout.
        """
        self._check_fitted()
        r, alpha = self.params_["r"], self.params_["alpha"]
        x, _, T = self._hist(summary)
        p0_alive = ((alpha + T) / (alpha + T + t)) ** (r + x)
        return pd.Series(
            self.p_alive(summary).to_numpy() * (1 - p0_alive), index=summary.index, name=f"p_purchase_{t:g}"
        )

    def expected_purchases_new(self, t: np.ndarray | float) -> np.ndarray:
        """E[X(t)]: expected repeat purchases in ``(0, t]`` after the first purchase, for a new customer."""
        self._check_fitted()
        r, alpha, a, b = self.params_.values()
        t = np.asarray(t, dtype=float)
        return (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp2f1(r, b, a + b - 1, t / (alpha + t)))

    def probability_of_n_purchases(self, t: float, n: int) -> float:
        """P(X(t) = n): probability that a new customer makes exactly ``n`` repeat purchases in ``(0, t]``."""
        self._check_fitted()
        r, alpha, a, b = self.params_.values()
        lnb = betaln(a, b)
        first = np.exp(
            betaln(a, b + n)
            - lnb
            + gammaln(r + n)
            - gammaln(r)
            - gammaln(n + 1)
            + r * np.log(alpha / (alpha + t))
            + n * np.log(t / (alpha + t))
        )
        if n == 0:
            return float(first)
        j = np.arange(n)
        s = np.sum(np.exp(gammaln(r + j) - gammaln(r) - gammaln(j + 1) + j * np.log(t / (alpha + t))))
        second = np.exp(betaln(a + 1, b + n - 1) - lnb) * (1 - (alpha / (alpha + t)) ** r * s)
        return float(first + second)


class ModifiedBetaGeo(BetaGeo):
    """MBG/NBD: BG/NBD in which a customer may also drop out right after the first purchase.

    Batislam, Denizel & Filiztekin (2007): the dropout coin p ~ Beta(a, b) is also tossed at time 0, so a
    one-time buyer has P(alive) = 1 / (1 + a/b · ((α+T)/α)^r) < 1 — the BG/NBD trap (one-time buyers counted as
    certainly alive) disappears. Same attributes as :class:`BetaGeo`.

    Examples
    --------
    >>> from helpers.simulate import mbgnbd_summary
    >>> m = ModifiedBetaGeo().fit(mbgnbd_summary(20000, r=0.5, alpha=6, a=0.9, b=1.6, T=39, seed=4))
    >>> {k: round(v, 1) for k, v in m.params_.items()}
    {'r': 0.5, 'alpha': 6.2, 'a': 0.9, 'b': 1.5}
    """

    _label = "MBG/NBD"
    _modified = True

    def p_alive(self, summary: pd.DataFrame) -> pd.Series:
        """P(still alive at T | frequency, recency, T), below 1 for one-time buyers too."""
        self._check_fitted()
        r, alpha, a, b = self.params_.values()
        x, tx, T = self._hist(summary)
        log_ratio = np.log(a) - np.log(b + x) + (r + x) * (np.log(alpha + T) - np.log(alpha + tx))
        return pd.Series(1.0 / (1.0 + np.exp(log_ratio)), index=summary.index, name="p_alive")

    _shift = 1.0  # an alive customer has survived x + 1 dropout tosses: posterior p ~ Beta(a, b + x + 1)

    def expected_purchases_new(self, t: np.ndarray | float) -> np.ndarray:
        """E[X(t)] for a new customer: b/(a−1) · [1 − (α/(α+t))^r ₂F₁(r, b+1; a+b; t/(α+t))]."""
        self._check_fitted()
        r, alpha, a, b = self.params_.values()
        t = np.asarray(t, dtype=float)
        return b / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp2f1(r, b + 1, a + b, t / (alpha + t)))

    def probability_of_n_purchases(self, t: float, n: int) -> float:
        """P(X(t) = n) for a new customer.

        Alive after the first purchase with probability 1 − p; then E[(1−p)^(n+1)]·NBD(n) plus
        E[p(1−p)^n]·P(NBD ≥ n) (dropout right after the n-th purchase).
        """
        self._check_fitted()
        r, alpha, a, b = self.params_.values()
        lnb = betaln(a, b)
        lq = np.log(t / (alpha + t))
        j = np.arange(n + 1)
        nbd = np.exp(gammaln(r + j) - gammaln(r) - gammaln(j + 1) + r * np.log(alpha / (alpha + t)) + j * lq)
        alive = np.exp(betaln(a, b + n + 1) - lnb) * nbd[n]
        dead = np.exp(betaln(a + 1, b + n) - lnb) * (1.0 - nbd[:n].sum())
        return float(alive + dead)


# ------------------------------------------------------------------------------------------- Pareto/NBD
@dataclass
class _ParetoRows:
    """Collapsed rows plus the distinct (x, t) pairs whose tail integrals the likelihood needs."""

    x: np.ndarray
    w: np.ndarray
    px: np.ndarray  # x of each distinct pair
    pt: np.ndarray  # t of each distinct pair
    i_tx: np.ndarray  # row -> pair of (x, t_x)
    i_T: np.ndarray  # row -> pair of (x, T)
    open_: np.ndarray  # t_x < T (the "died in between" term exists)
    ux: np.ndarray  # distinct x, row -> ix, total weight per x
    ix: np.ndarray
    wx: np.ndarray
    uT: np.ndarray  # distinct T, row -> iT
    iT: np.ndarray


def _pareto_prepare(x, tx, T, w) -> _ParetoRows:
    x, tx, T, w = (np.asarray(v, float) for v in (x, tx, T, w))
    n = len(x)
    pairs, codes = _factorize([np.concatenate([x, x]), np.concatenate([tx, T])])
    ux, ix = np.unique(x, return_inverse=True)
    uT, iT = np.unique(T, return_inverse=True)
    wx = np.bincount(ix, weights=w, minlength=len(ux))
    return _ParetoRows(x, w, pairs[:, 0], pairs[:, 1], codes[:n], codes[n:], tx < T - 1e-12, ux, ix, wx, uT, iT)


def _pareto_scaled(d: _ParetoRows, scale: float) -> _ParetoRows:
    return dataclasses.replace(d, pt=d.pt / scale, uT=d.uT / scale)


def _pareto_terms(logp: np.ndarray, d: _ParetoRows) -> tuple[np.ndarray, np.ndarray]:
    """Per row: log "alive at T" term A and log "died in (t_x, T)" term B (common factors left out)."""
    r, alpha, s, beta = np.exp(logp)
    lF, _ = _log_tail(r + d.px, s + 1.0, alpha, beta, d.pt)
    l1, l2 = lF[d.i_tx], lF[d.i_T]
    A = -(r + d.x) * np.log(alpha + d.uT)[d.iT] - s * np.log(beta + d.uT)[d.iT]
    B = np.where(d.open_, np.log(s) + _log_diff(l1, np.where(d.open_, l2, l1 - 1.0)), -np.inf)
    return A, B


def _pareto_ll_grad(logp: np.ndarray, d: _ParetoRows) -> tuple[float, np.ndarray]:
    """Weighted Pareto/NBD log-likelihood and its gradient with respect to the log parameters.

    L = Γ(r+x)α^r β^s / Γ(r) · [(α+T)^−(r+x) (β+T)^−s + s·(F(t_x) − F(T))], F(t) = ∫_t^∞ (α+τ)^−(r+x)
    (β+τ)^−(s+1) dτ (:func:`_log_tail`). Row sums of gradient pieces are folded onto the distinct (x, t) pairs
    and distinct T with ``bincount``, so a row costs a handful of array operations.
    """
    r, alpha, s, beta = np.exp(logp)
    lF, gF = _log_tail(r + d.px, s + 1.0, alpha, beta, d.pt, grad=True)
    l1, l2 = lF[d.i_tx], lF[d.i_T]
    la_u, lb_u = np.log(alpha + d.uT), np.log(beta + d.uT)
    laT, lbT = la_u[d.iT], lb_u[d.iT]
    A = -(r + d.x) * laT - s * lbT
    gap = np.where(d.open_, l2 - l1, -1.0)  # log ρ, ρ = F(T)/F(t_x) < 1 on open rows
    B = np.where(d.open_, np.log(s) + l1 + np.log(-np.expm1(gap)), -np.inf)
    M = np.logaddexp(A, B)
    wB = np.exp(B - M)
    W = float(d.wx.sum())
    ll = float(
        np.dot(d.wx, gammaln(r + d.ux) - gammaln(r)) + W * (r * np.log(alpha) + s * np.log(beta)) + np.dot(d.w, M)
    )
    # "died" term: d log(F1 − F2) = (g1 − ρ g2) / (1 − ρ), summed per pair
    rho = np.exp(gap)
    c = np.where(d.open_, d.w * wB / (-np.expm1(gap)), 0.0)
    n_pairs = len(d.px)
    c1 = np.bincount(d.i_tx, weights=c, minlength=n_pairs)
    c2 = np.bincount(d.i_T, weights=c * rho, minlength=n_pairs)
    gD = c1 @ gF - c2 @ gF  # Σ w·wB·d log D / d(p, q, a, b)
    # "alive" term: per distinct T
    u = d.w - d.w * wB  # w · wA
    uT = np.bincount(d.iT, weights=u, minlength=len(d.uT))
    uxT = np.bincount(d.iT, weights=u * d.x, minlength=len(d.uT))
    sB = float(np.dot(d.w, wB))
    dr = np.dot(d.wx, digamma(r + d.ux) - digamma(r)) + W * np.log(alpha) - np.dot(uT, la_u) + gD[0]
    dalpha = W * r / alpha - np.dot(r * uT + uxT, 1.0 / (alpha + d.uT)) + gD[2]
    ds = W * np.log(beta) - np.dot(uT, lb_u) + sB / s + gD[1]
    dbeta = W * s / beta - s * np.dot(uT, 1.0 / (beta + d.uT)) + gD[3]
    return ll, np.array([dr, dalpha, ds, dbeta]) * np.array([r, alpha, s, beta])


class ParetoNBD(PurchaseModel):
    """Pareto/NBD model: Poisson purchases at rate λ ~ Gamma(r, α), exponential lifetimes with rate μ ~ Gamma(s, β).

    Fitted by maximum likelihood on collapsed rows with an exact gradient; the ₂F₁ terms are evaluated as the
    integrals they stand for (see :func:`_log_tail`), once per distinct (x, t) pair.

    Parameters
    ----------
    penalizer : float
        Optional L2 penalty on the log parameters.

    Attributes
    ----------
    params_ : dict
        ``r``, ``alpha``, ``s``, ``beta`` (α and β in the summary's time unit).
    standard_errors_, log_params_covariance_, log_likelihood_, aic_, bic_, notes_, unit_, n_customers_
        As for :class:`BetaGeo`.

    Examples
    --------
    >>> from helpers.simulate import paretonbd_summary
    >>> m = ParetoNBD().fit(paretonbd_summary(20000, r=0.55, alpha=10.6, s=0.6, beta=11.7, T=39, seed=2))
    >>> {k: round(v, 1) for k, v in m.params_.items()}
    {'r': 0.5, 'alpha': 10.3, 's': 0.6, 'beta': 11.7}
    """

    _names = ("r", "alpha", "s", "beta")
    _time_params = ("alpha", "beta")
    _label = "Pareto/NBD"
    _starts = ((0.0, 0.0, 0.0, 0.0), (np.log(0.5), 0.0, np.log(0.5), 1.0), (1.0, 1.0, 1.0, 2.0))

    def _prepare(self, u: pd.DataFrame) -> _ParetoRows:
        return _pareto_prepare(u["frequency"], u["recency"], u["T"], u["weight"])

    def _scale_data(self, data: _ParetoRows, scale: float) -> _ParetoRows:
        return _pareto_scaled(data, scale)

    def _ll_grad(self, logp: np.ndarray, data: _ParetoRows) -> tuple[float, np.ndarray]:
        return _pareto_ll_grad(logp, data)

    def _terms(self, summary: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """x, T and P(alive) per row."""
        self._check_fitted()
        x, tx, T = self._hist(summary)
        d = _pareto_prepare(x, tx, T, np.ones_like(x))
        A, B = _pareto_terms(np.log(list(self.params_.values())), d)
        return x, T, np.exp(A - np.logaddexp(A, B))

    def p_alive(self, summary: pd.DataFrame) -> pd.Series:
        """P(still alive at T | frequency, recency, T)."""
        return pd.Series(self._terms(summary)[2], index=summary.index, name="p_alive")

    def _alive_expectation(self, x: np.ndarray, T: np.ndarray, ts: np.ndarray) -> np.ndarray:
        r, alpha, s, beta = self.params_.values()
        L = np.log1p(np.asarray(ts, float)[None, :] / (beta + T)[:, None])
        return ((r + x) * (beta + T) / (alpha + T))[:, None] * _one_minus_pow_ratio(s - 1.0, L)

    def expected_purchases(self, summary: pd.DataFrame, t: float) -> pd.Series:
        """Return expected purchases in the next ``t`` time units, given each customer's history.

        P(alive) · (r+x)(β+T)/((α+T)(s−1)) · [1 − ((β+T)/(β+T+t))^(s−1)] (continuous at s = 1).
        """
        return pd.Series(
            self.expected_purchases_grid(summary, [t])[:, 0], index=summary.index, name=f"expected_purchases_{t:g}"
        )

    def expected_purchases_grid(self, summary: pd.DataFrame, ts: np.ndarray) -> np.ndarray:
        """Return expected purchases in the next ``t`` for every ``t`` in ``ts`` (P(alive) computed once)."""
        x, T, pa = self._terms(summary)
        return pa[:, None] * self._alive_expectation(x, T, np.atleast_1d(np.asarray(ts, float)))

    def discounted_purchases_grid(self, summary: pd.DataFrame, ts: np.ndarray, discount: np.ndarray) -> np.ndarray:
        """Return Σ_k discount_k · E[purchases in (ts_{k−1}, ts_k]] per customer (ts_0 = 0), P(alive) applied once."""
        x, T, pa = self._terms(summary)
        alive = self._alive_expectation(x, T, np.atleast_1d(np.asarray(ts, float)))
        return pa * (np.diff(alive, axis=1, prepend=0.0) @ discount)

    def probability_of_purchase(self, summary: pd.DataFrame, t: float) -> pd.Series:
        """P(at least one purchase in the next ``t`` time units | history).

        For an alive customer (posterior λ ~ Gamma(r+x, α+T), μ ~ Gamma(s, β+T)), P(≥ 1) = E[λ ∫₀ᵗ e^−(λ+μ)τ dτ]
        = (r+x)(α+T)^(r+x)(β+T)^s ∫₀ᵗ (α+T+τ)^−(r+x+1) (β+T+τ)^−s dτ.
        """
        r, alpha, s, beta = self.params_.values()
        x, T, pa = self._terms(summary)
        a1, b1 = alpha + T, beta + T
        l0, _ = _log_tail(r + x + 1.0, s, a1, b1, np.zeros_like(T))
        lt, _ = _log_tail(r + x + 1.0, s, a1, b1, np.full_like(T, float(t)))
        log_p = np.log(r + x) + (r + x) * np.log(a1) + s * np.log(b1) + _log_diff(l0, lt)
        return pd.Series(pa * np.exp(log_p), index=summary.index, name=f"p_purchase_{t:g}")

    def expected_purchases_new(self, t: np.ndarray | float) -> np.ndarray:
        """E[X(t)] for a new customer: rβ/(α(s−1)) · [1 − (β/(β+t))^(s−1)]."""
        self._check_fitted()
        r, alpha, s, beta = self.params_.values()
        t = np.asarray(t, dtype=float)
        return r * beta / alpha * _one_minus_pow_ratio(s - 1.0, np.log1p(t / beta))

    def probability_of_n_purchases(self, t: float, n: int) -> float:
        """P(X(t) = n) for a new customer: alive through t with n purchases, or died at τ < t after n purchases.

        The second part, ∫₀ᵗ sβ^s (β+τ)^−(s+1) · NBD(n; τ) dτ, is one smooth integral (adaptive quadrature).
        """
        self._check_fitted()
        r, alpha, s, beta = self.params_.values()
        c = gammaln(r + n) - gammaln(r) - gammaln(n + 1)

        def nbd(tau: float) -> float:
            if tau <= 0:
                return 1.0 if n == 0 else 0.0
            return float(np.exp(c + r * np.log(alpha / (alpha + tau)) + n * np.log(tau / (alpha + tau))))

        alive = nbd(t) * (beta / (beta + t)) ** s
        dead = integrate.quad(lambda u: s * beta**s * (beta + u) ** (-s - 1) * nbd(u), 0.0, t, limit=200)[0]
        return float(alive + dead)


# -------------------------------------------------------------------------------------------------- BG/BB
@dataclass
class _BBRows:
    x: np.ndarray
    tx: np.ndarray
    n: np.ndarray
    w: np.ndarray
    i: np.ndarray  # (rows, max gap) opportunity offsets of the "died after t_x + i" terms
    mask: np.ndarray


def _bgbb_prepare(x, tx, n, w) -> _BBRows:
    x, tx, n, w = (np.asarray(v, float) for v in (x, tx, n, w))
    gap = (n - tx).astype(int)
    width = max(int(gap.max(initial=0)), 1)
    i = np.broadcast_to(np.arange(width, dtype=float), (len(x), width))
    return _BBRows(x, tx, n, w, i, i < gap[:, None])


def _bgbb_ll_grad(logp: np.ndarray, d: _BBRows) -> tuple[float, np.ndarray]:
    """Weighted BG/BB log-likelihood (Fader, Hardie & Shang 2010, eq. 5) and its gradient in log parameters."""
    al, be, ga, de = np.exp(logp)
    x, tx, n = d.x[:, None], d.tx[:, None], d.n[:, None]
    # term 0: alive through n; terms i: transacted last at t_x, inactive from t_x + i + 1
    t0 = betaln(al + x, be + n - x) + betaln(ga, de + n)
    ti = np.where(d.mask, betaln(al + x, be + tx - x + d.i) + betaln(ga + 1, de + tx + d.i), -np.inf)
    terms = np.concatenate([t0, ti], axis=1)
    top = terms.max(axis=1, keepdims=True)
    e = np.exp(terms - top)
    tot = e.sum(axis=1, keepdims=True)
    norm = betaln(al, be) + betaln(ga, de)
    ll_rows = (top + np.log(tot))[:, 0] - norm
    p = e / tot
    nn = np.concatenate([n, tx + d.i], axis=1)  # opportunities survived by each term
    ga_k = np.concatenate([np.full_like(n, ga), np.full_like(d.i, ga + 1)], axis=1)
    dal = digamma(al + x) - digamma(al + be + nn)
    dbe = digamma(be + nn - x) - digamma(al + be + nn)
    dga = digamma(ga_k) - digamma(ga_k + de + nn)
    dde = digamma(de + nn) - digamma(ga_k + de + nn)
    with np.errstate(invalid="ignore"):
        parts = [np.where(p > 0, p * g, 0.0).sum(axis=1) for g in (dal, dbe, dga, dde)]
    dnorm = [
        digamma(al) - digamma(al + be),
        digamma(be) - digamma(al + be),
        digamma(ga) - digamma(ga + de),
        digamma(de) - digamma(ga + de),
    ]
    grad = np.array([np.dot(d.w, g - c) for g, c in zip(parts, dnorm, strict=True)]) * np.array([al, be, ga, de])
    return float(np.dot(d.w, ll_rows)), grad


class BetaGeoBetaBinom(PurchaseModel):
    """BG/BB model of repeat transactions at discrete opportunities (Fader, Hardie & Shang 2010).

    Fit on ``frequency`` (x: transactions after the first), ``recency`` (t_x: opportunity of the last one, 0 if
    none) and ``periods`` (n: opportunities observed), with an optional ``weight`` column. Time here counts
    opportunities; ``period_days`` (given to :meth:`fit`) says how long one is, for CLV in days.

    Attributes
    ----------
    params_ : dict
        ``alpha``, ``beta`` (transaction probability p ~ Beta(α, β)), ``gamma``, ``delta`` (dropout probability
        θ ~ Beta(γ, δ)).
    standard_errors_, log_params_covariance_, log_likelihood_, aic_, bic_, notes_, n_customers_
        As for :class:`BetaGeo`.
    unit_ : str
        ``"opportunity"``.
    period_days_ : float
        Days per opportunity (NaN when not given).

    Examples
    --------
    >>> from helpers.simulate import bgbb_summary
    >>> m = BetaGeoBetaBinom().fit(bgbb_summary(20000, alpha=1.2, beta=0.75, gamma=0.66, delta=2.8, periods=6, seed=4))
    >>> {k: round(v, 1) for k, v in m.params_.items()}
    {'alpha': 1.2, 'beta': 0.7, 'gamma': 0.7, 'delta': 2.7}
    """

    _names = ("alpha", "beta", "gamma", "delta")
    _columns = ("frequency", "recency", "periods")
    _label = "BG/BB"
    _starts = ((0.0, 0.0, 0.0, 0.0), (0.5, 0.5, -0.5, 1.0), (-1.0, -1.0, 0.0, 0.0))

    def _validate(self, summary: pd.DataFrame, n: int) -> None:
        if n < 10:
            raise ValueError(f"BG/BB needs at least 10 customers; got {n}")
        x, tx, per = (summary[c] for c in self._columns)
        if (x > 0).sum() == 0:
            raise ValueError(f"BG/BB needs repeat transactions: none of the {n:,} customers made one")
        bad = (tx > per) | (x > tx) | ((x == 0) & (tx != 0)) | ((x > 0) & (tx < 1))
        if bad.any():
            raise ValueError(
                f"{int(bad.sum())} rows break 0 < frequency <= recency <= periods (or recency 0 without transactions)"
            )

    def _time_scale(self, u: pd.DataFrame) -> float:
        return 1.0

    def _prepare(self, u: pd.DataFrame) -> _BBRows:
        return _bgbb_prepare(u["frequency"], u["recency"], u["periods"], u["weight"])

    def _ll_grad(self, logp: np.ndarray, data: _BBRows) -> tuple[float, np.ndarray]:
        return _bgbb_ll_grad(logp, data)

    def fit(
        self,
        summary: pd.DataFrame,
        unit: str | None = None,
        start: dict | None = None,
        period_days: float | None = None,
    ) -> BetaGeoBetaBinom:
        """Fit on ``frequency``, ``recency``, ``periods`` (+ ``weight``); ``period_days`` = days per opportunity."""
        super().fit(summary, unit="opportunity", start=start)
        self.period_days_ = float(period_days) if period_days is not None else float("nan")
        return self

    @property
    def unit_days_(self) -> float:
        """Days per opportunity (NaN unless ``period_days`` was given to :meth:`fit`)."""
        self._check_fitted()
        return self.period_days_

    def _loglik_rows(self, x, tx, n) -> np.ndarray:
        d = _bgbb_prepare(x, tx, n, np.ones_like(x))
        al, be, ga, de = self.params_.values()
        xx, tt, nn = d.x[:, None], d.tx[:, None], d.n[:, None]
        t0 = betaln(al + xx, be + nn - xx) + betaln(ga, de + nn)
        ti = np.where(d.mask, betaln(al + xx, be + tt - xx + d.i) + betaln(ga + 1, de + tt + d.i), -np.inf)
        terms = np.concatenate([t0, ti], axis=1)
        top = terms.max(axis=1)
        return top + np.log(np.exp(terms - top[:, None]).sum(axis=1))  # without the normalising betas

    def p_alive(self, summary: pd.DataFrame) -> pd.Series:
        """P(alive at opportunity n + 1 | x, t_x, n) (FHS 2010, eq. 11)."""
        self._check_fitted()
        al, be, ga, de = self.params_.values()
        x, tx, n = self._hist(summary)
        num = betaln(al + x, be + n - x) + betaln(ga, de + n + 1)
        return pd.Series(np.exp(num - self._loglik_rows(x, tx, n)), index=summary.index, name="p_alive")

    def expected_purchases(self, summary: pd.DataFrame, t: float) -> pd.Series:
        """Return expected transactions in the next ``t`` opportunities (n+1 … n+t) given the history (FHS eq. 13)."""
        self._check_fitted()
        al, be, ga, de = self.params_.values()
        x, tx, n = self._hist(summary)
        k = int(np.floor(t))
        if k <= 0:
            return pd.Series(0.0, index=summary.index, name=f"expected_purchases_{t:g}")
        j = np.arange(1, k + 1, dtype=float)[None, :]
        lsum = betaln(ga, de + n[:, None] + j)
        top = lsum.max(axis=1)
        lsum = top + np.log(np.exp(lsum - top[:, None]).sum(axis=1))
        num = betaln(al + x + 1, be + n - x) + lsum
        return pd.Series(
            np.exp(num - self._loglik_rows(x, tx, n)), index=summary.index, name=f"expected_purchases_{t:g}"
        )

    def probability_of_purchase(self, summary: pd.DataFrame, t: float) -> pd.Series:
        """P(at least one transaction in the next ``t`` opportunities | history)."""
        self._check_fitted()
        al, be, ga, de = self.params_.values()
        x, tx, n = self._hist(summary)
        k = int(np.floor(t))
        ll = self._loglik_rows(x, tx, n)
        a0 = np.exp(betaln(al + x, be + n - x) + betaln(ga, de + n) - ll)
        j = np.arange(k, dtype=float)[None, :]
        died = np.exp(
            betaln(al + x[:, None], be + (n - x)[:, None] + j) + betaln(ga + 1, de + n[:, None] + j) - ll[:, None]
        )
        quiet = np.exp(betaln(al + x, be + n - x + k) + betaln(ga, de + n + k) - ll)
        return pd.Series(np.clip(a0 - died.sum(axis=1) - quiet, 0, 1), index=summary.index, name=f"p_purchase_{t:g}")

    def expected_purchases_new(self, t: np.ndarray | float) -> np.ndarray:
        """E[X(t)] for a new customer over its first ``t`` opportunities: α/(α+β) · Σ_j B(γ, δ+j)/B(γ, δ)."""
        self._check_fitted()
        al, be, ga, de = self.params_.values()
        t = np.asarray(t, dtype=float)
        kmax = int(np.floor(np.max(t, initial=0)))
        cum = np.concatenate([[0.0], np.cumsum(np.exp(betaln(ga, de + np.arange(1, kmax + 1)) - betaln(ga, de)))])
        return al / (al + be) * cum[np.floor(t).astype(int)]

    def probability_of_n_purchases(self, t: float, n: int) -> float:
        """P(X(t) = n): exactly ``n`` transactions in the first ``t`` opportunities of a new customer (FHS eq. 8)."""
        self._check_fitted()
        al, be, ga, de = self.params_.values()
        k = int(t)
        if n > k:
            return 0.0
        lc = gammaln(k + 1) - gammaln(n + 1) - gammaln(k - n + 1)
        first = np.exp(lc + betaln(al + n, be + k - n) - betaln(al, be) + betaln(ga, de + k) - betaln(ga, de))
        i = np.arange(n, k, dtype=float)
        lci = gammaln(i + 1) - gammaln(n + 1) - gammaln(i - n + 1)
        rest = np.exp(lci + betaln(al + n, be + i - n) - betaln(al, be) + betaln(ga + 1, de + i) - betaln(ga, de))
        return float(first + rest.sum())


# ------------------------------------------------------------------------------------------- Gamma-Gamma
class GammaGamma(FittedModel):
    """Gamma-Gamma model of the average value of a customer's repeat purchases.

    Each purchase value is Gamma(p, ν); ν varies across customers as Gamma(q, γ). The model assumes the
    average value is independent of purchase frequency — :meth:`frequency_monetary_correlation` checks it (and
    :func:`helpers.clv_value.compare_value_models` offers a model without that assumption).

    Attributes
    ----------
    params_ : dict
        ``p``, ``q``, ``gamma``.
    standard_errors_ : dict
        Asymptotic standard errors; ``NaN`` for a parameter the data do not identify (see ``notes_``).
    log_params_covariance_ : DataFrame
        Covariance of the log parameters (for Laplace draws).
    log_likelihood_ : float
        Maximised log-likelihood over the repeat buyers.
    mean_value_ : float
        Mean purchase value across customers, p·γ / (q − 1) (infinite when q ≤ 1).
    notes_ : list of str
        What the fit could not pin down.
    n_customers_ : int
        Repeat buyers in the fit.
    """

    _names = ("p", "q", "gamma")

    def __init__(self, penalizer: float = 0.0) -> None:
        self.penalizer = penalizer

    @staticmethod
    def _rows(p: float, q: float, g: float, x, m) -> np.ndarray:
        """Log density of each repeat buyer's average value ``m`` over ``x`` repeat purchases."""
        return (
            gammaln(p * x + q)
            - gammaln(p * x)
            - gammaln(q)
            + q * np.log(g)
            + (p * x - 1) * np.log(m)
            + p * x * np.log(x)
            - (p * x + q) * np.log(g + x * m)
        )

    @staticmethod
    def _ll(logp: np.ndarray, x, m, w) -> float:
        p, q, g = np.exp(logp)
        return float(np.sum(w * GammaGamma._rows(p, q, g, x, m)))

    def fit(self, summary: pd.DataFrame) -> GammaGamma:
        """Fit on the repeat buyers (``frequency > 0`` and ``monetary_value > 0``) of a summary."""
        rep = summary[(summary["frequency"] > 0) & (summary["monetary_value"] > 0)]
        n = _n_customers(rep)
        if n < 10:
            raise ValueError(f"Gamma-Gamma needs at least 10 repeat buyers with a positive value; got {n}")
        u = _collapse(rep, ["frequency", "monetary_value"])
        x, m, w = (u[c].to_numpy(float) for c in ("frequency", "monetary_value", "weight"))
        scale = float(np.median(m))
        mm = m / scale

        def neg(lp: np.ndarray) -> float:
            return -self._ll(lp, x, mm, w) + self.penalizer * np.sum(lp**2)

        res = optimize.minimize(
            neg, np.zeros(3), method="L-BFGS-B", bounds=[(-_BOUND, _BOUND)] * 3, options={"maxiter": 5000}
        )
        if not res.success:
            res = optimize.minimize(
                neg, res.x, method="Nelder-Mead", options={"maxiter": 20000, "xatol": 1e-10, "fatol": 1e-12}
            )
        if not res.success:
            raise ConvergenceError(f"Gamma-Gamma did not converge ({res.message}); try a small penalizer")
        p, q, g = np.exp(res.x)
        g *= scale
        self.params_ = {"p": float(p), "q": float(q), "gamma": float(g)}
        lp = np.log([p, q, g])
        self.log_likelihood_ = self._ll(lp, x, m, w)
        H = numerical_hessian(lambda v: self._ll(v, x, m, w), lp, h=1e-4)
        self.standard_errors_, self.notes_ = standard_errors_from_information(
            H, list(self.params_.values()), list(self.params_), at_bound=np.abs(res.x) >= _BOUND - 1e-6
        )
        PurchaseModel._set_covariance(self, H)  # same rule: NaN rows / columns where not identified
        self.mean_value_ = p * g / (q - 1) if q > 1 else float("inf")
        self.n_customers_ = n
        return self

    def log_likelihood(self, summary: pd.DataFrame, params: dict | None = None) -> float:
        """Return the log-likelihood of the repeat buyers of ``summary`` at ``params`` (default: the fitted ones)."""
        self._check_fitted()
        params = self.params_ if params is None else params
        rep = summary[(summary["frequency"] > 0) & (summary["monetary_value"] > 0)]
        u = _collapse(rep, ["frequency", "monetary_value"])
        x, m, w = (u[c].to_numpy(float) for c in ("frequency", "monetary_value", "weight"))
        return self._ll(np.log([float(params[k]) for k in ("p", "q", "gamma")]), x, m, w)

    def with_params(self, params: dict) -> GammaGamma:
        """Return a copy of this fitted model with other parameter values (for draws)."""
        self._check_fitted()
        out = copy.copy(self)
        out._set_params(params)
        return out

    @classmethod
    def from_params(cls, params: dict) -> GammaGamma:
        """Return a model with given parameter values instead of fitted ones (planted truth, what-ifs).

        >>> GammaGamma.from_params({"p": 10, "q": 30, "gamma": 1740}).mean_value_
        600.0
        """
        out = cls()
        out._set_params(params)
        return out

    def _set_params(self, params: dict) -> None:
        self.params_ = {k: float(params[k]) for k in self._names}
        p, q, g = self.params_.values()
        self.mean_value_ = p * g / (q - 1) if q > 1 else float("inf")

    def expected_average_value(self, summary: pd.DataFrame) -> pd.Series:
        """E[average purchase value | frequency, monetary_value]; the population mean for non-repeaters."""
        self._check_fitted()
        p, q, g = self.params_.values()
        x = summary["frequency"].to_numpy(float)
        m = summary["monetary_value"].to_numpy(float)
        v = (p * (g + x * m)) / (p * x + q - 1)
        return pd.Series(v, index=summary.index, name="expected_average_value")

    @property
    def population_mean_value(self) -> float:
        """Deprecated alias of :attr:`mean_value_`."""
        warnings.warn(
            "GammaGamma.population_mean_value is deprecated: use mean_value_", PendingDeprecationWarning, stacklevel=2
        )
        self._check_fitted()
        return self.mean_value_

    @staticmethod
    def frequency_monetary_correlation(summary: pd.DataFrame) -> float:
        """Pearson correlation of frequency and average value among repeat buyers (the model assumes ≈ 0)."""
        rep = summary[summary["frequency"] > 0]
        return float(rep["frequency"].corr(rep["monetary_value"])) if len(rep) > 2 else float("nan")


# ---------------------------------------------------------------------------------------------------- CLV
def discounted_purchases(
    model: PurchaseModel,
    summary: pd.DataFrame,
    horizon_days: float = 365,
    step_days: float = 30,
    annual_discount_rate: float = 0.1,
    collapse: bool = True,
) -> np.ndarray:
    """Return Σ_k E[purchases in step k] / (1 + d)^k per customer over the next ``horizon_days``.

    Steps of ``step_days``, the annual rate converted to the step; days are converted to the model's unit here,
    once (mixing weeks and days is the classic way to overstate CLV several-fold). Predictions are computed once
    per distinct history and mapped back (``collapse=False`` when the rows are distinct already).
    """
    k = model.unit_days_
    if not np.isfinite(k):
        raise ValueError(
            f"{type(model).__name__} does not know how many days one of its time units lasts: "
            "fit it with period_days=… (BG/BB) to turn a horizon in days into opportunities"
        )
    steps = int(np.ceil(horizon_days / step_days))
    ts = np.array([min(i * step_days, horizon_days) / k for i in range(1, steps + 1)])
    d_step = (1 + annual_discount_rate) ** (step_days / 365.0) - 1
    if collapse:
        uniq, inv = _unique_rows(summary, list(model._columns))
    else:
        uniq, inv = summary, np.arange(len(summary))
    disc = (1 + d_step) ** -np.arange(1, steps + 1)
    return np.clip(model.discounted_purchases_grid(uniq, ts, disc), 0, None)[inv]


def average_value(value_model, summary: pd.DataFrame) -> np.ndarray:
    """Return the expected value of one future purchase per customer, from a value model, a Series or a number.

    ``value_model`` may be a fitted :class:`GammaGamma`, any object with ``expected_average_value(summary)``
    (e.g. :class:`helpers.clv_analysis.SpendRegression`), a Series aligned on the summary's index, or a number.
    """
    if hasattr(value_model, "expected_average_value"):
        return value_model.expected_average_value(summary).to_numpy(float)
    if isinstance(value_model, pd.Series):
        return value_model.reindex(summary.index).to_numpy(float)
    return np.full(len(summary), float(value_model))


def customer_lifetime_value(
    model: PurchaseModel,
    value_model,
    summary: pd.DataFrame,
    horizon_days: int = 365,
    step_days: int = 30,
    margin: float = 1.0,
    annual_discount_rate: float = 0.1,
) -> pd.Series:
    """Discounted expected value of each customer's purchases over the next ``horizon_days``.

    CLV = Σ_k E[purchases in step k] × E[value of a purchase] × margin / (1 + d)^k. Works with any purchase
    model of this module (BG/NBD, MBG/NBD, Pareto/NBD, BG/BB fitted with ``period_days``) and any value model
    accepted by :func:`average_value`. Never negative.

    Returns
    -------
    Series
        CLV per customer, in the currency of ``monetary_value``.

    Examples
    --------
    >>> from helpers.simulate import bgnbd_summary
    >>> s = bgnbd_summary(2000, r=0.5, alpha=10, a=0.8, b=2.5, T=52, seed=1).assign(monetary_value=20.0)
    >>> s.attrs["unit"] = "W"
    >>> m = BetaGeo().fit(s)
    >>> clv = customer_lifetime_value(m, 20.0, s, horizon_days=364, annual_discount_rate=0.0)
    >>> bool(np.isclose(clv.sum(), 20.0 * m.expected_purchases(s, 52).sum()))
    True
    """
    dp = discounted_purchases(model, summary, horizon_days, step_days, annual_discount_rate)
    clv = dp * average_value(value_model, summary) * margin
    return pd.Series(np.clip(clv, 0, None), index=summary.index, name=f"clv_{horizon_days}d")

"""Repurchase (复购): purchase summaries, BG/NBD, Gamma-Gamma, CLV, holdout validation and the contact list.

The probabilistic models follow Fader, Hardie & Lee (2005), *"Counting your customers" the easy way* (BG/NBD)
and *RFM and CLV* (Gamma-Gamma), in the conventions of the ``lifetimes`` package: ``frequency`` is the number
of **repeat** purchase periods, ``recency`` the time from the first to the last purchase, ``T`` the time from
the first purchase to the end of the calibration period, all in one explicit time ``unit``.

The BG/NBD story: while *alive* a customer buys at a Poisson rate λ (heterogeneous: Gamma(r, α)); after every
repeat purchase they may *drop out* for good with probability p (heterogeneous: Beta(a, b)). Dropping out is
never observed, so a frequent buyer who goes quiet becomes less likely to be alive, while a one-time buyer
(frequency 0) has had no chance to drop out and gets P(alive) = 1 — a known limit of the model.
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from lifelines import KaplanMeierFitter
from scipy import optimize
from scipy.special import betaln, digamma, gammaln, hyp2f1

from helpers.base import FittedModel, numerical_hessian, standard_errors_from_information
from helpers.features import as_table, purchase_summary

__all__ = [
    "UNITS",
    "next_best_contacts",
    "plot_p_alive_matrix",
    "plot_repurchase_curves",
    "repeat_rate",
    "repurchase_curves",
    "BetaGeo",
    "ConvergenceError",
    "GammaGamma",
    "customer_lifetime_value",
    "holdout_accuracy",
    "plot_holdout_by_frequency",
    "plot_interpurchase_gaps",
    "plot_tracking",
    "summarize",
    "tracking",
]

#: Time units: name -> days.
UNITS = {"D": 1.0, "W": 7.0}


class ConvergenceError(RuntimeError):
    """The likelihood maximisation did not converge; the message says what to try."""


# ------------------------------------------------------------------------------------------------ summary
def summarize(
    orders: pd.DataFrame | ibis.Table,
    end: str | pd.Timestamp,
    unit: str = "D",
    calibration_end: str | pd.Timestamp | None = None,
) -> pd.DataFrame:
    """One row per customer: ``frequency``, ``recency``, ``T``, ``monetary_value`` (+ holdout columns).

    Same-day orders count as one purchase period (their amounts are added). The reduction runs in the engine
    (:func:`helpers.features.purchase_summary`); a pandas frame is wrapped as an in-memory DuckDB table.

    Parameters
    ----------
    orders : DataFrame or ibis.Table
        ``user_id``, ``ordered_at``, ``amount`` and optionally ``status`` (only ``paid`` counts).
    end : str or Timestamp
        Last day observed (inclusive).
    unit : {"D", "W"}
        Time unit of ``recency``, ``T`` and ``duration_holdout`` (days or weeks of 7 days).
    calibration_end : str or Timestamp, optional
        End of the calibration period (inclusive). Customers whose first purchase comes later are left out;
        ``frequency_holdout``, ``monetary_value_holdout`` and ``duration_holdout`` describe the rest.

    Returns
    -------
    DataFrame
        Indexed by ``user_id``; ``attrs["unit"]`` records the unit.
    """
    if unit not in UNITS:
        raise ValueError(f"unit must be one of {list(UNITS)}, not {unit!r}")
    s = purchase_summary(as_table(orders), end, calibration_end).to_pandas().set_index("user_id").sort_index()
    k = UNITS[unit]
    out = pd.DataFrame(
        {
            "frequency": s["frequency"].astype("int64"),
            "recency": s["recency_days"] / k,
            "T": s["T_days"] / k,
            "monetary_value": s["monetary_value"].astype("float64"),
        },
        index=s.index,
    )
    if calibration_end is not None:
        out["frequency_holdout"] = s["frequency_holdout"].astype("int64")
        out["monetary_value_holdout"] = s["monetary_value_holdout"].astype("float64")
        out["duration_holdout"] = s["duration_holdout_days"] / k
    out.attrs["unit"] = unit
    return out


def _collapse(summary: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    """Collapse to unique rows of ``cols`` with their counts as ``weight`` (the fit runs on these).

    A ``weight`` column already in ``summary`` (rows that stand for several customers) is summed.
    """
    if "weight" in summary.columns:
        return summary.groupby(cols, sort=False)["weight"].sum().reset_index()
    return summary.groupby(cols, sort=False).size().rename("weight").reset_index()


def _unit_days(summary: pd.DataFrame, unit: str | None) -> float:
    u = unit or summary.attrs.get("unit", "D")
    return UNITS[u]


# ----------------------------------------------------------------------------------------------- BG/NBD
@dataclass
class _Rows:
    """Collapsed BG/NBD rows with the distinct values of x, t_x and T, so special functions run per value."""

    x: np.ndarray
    w: np.ndarray
    pos: np.ndarray
    ux: np.ndarray
    ix: np.ndarray
    utx: np.ndarray
    itx: np.ndarray
    uT: np.ndarray
    iT: np.ndarray


def _prepare(x, tx, T, w) -> _Rows:
    ux, ix = np.unique(np.asarray(x, float), return_inverse=True)
    utx, itx = np.unique(np.asarray(tx, float), return_inverse=True)
    uT, iT = np.unique(np.asarray(T, float), return_inverse=True)
    x = np.asarray(x, float)
    return _Rows(x, np.asarray(w, float), x > 0, ux, ix, utx, itx, uT, iT)


def _bgnbd_ll_grad(logp: np.ndarray, d: _Rows) -> tuple[float, np.ndarray]:
    """Weighted BG/NBD log-likelihood and its gradient with respect to the log parameters."""
    r, alpha, a, b = np.exp(logp)
    ux, x, pos, w = d.ux, d.x, d.pos, d.w
    upos = ux > 0
    lnb_ab = betaln(a, b)
    # functions of x alone, evaluated once per distinct x
    g_rx = (gammaln(r + ux) - gammaln(r))[d.ix]
    dg_rx = digamma(r + ux)[d.ix]
    lb1 = betaln(a, b + ux)[d.ix]
    lb2 = np.where(upos, betaln(a + 1, np.where(upos, b + ux - 1, 1.0)), 0.0)[d.ix]
    dabx = digamma(a + b + ux)[d.ix]
    dbx = digamma(b + ux)[d.ix]
    dbx1 = np.where(upos, digamma(np.where(upos, b + ux - 1, 1.0)), 0.0)[d.ix]
    # functions of T and t_x, once per distinct value
    lT, iT = np.log(alpha + d.uT)[d.iT], (1.0 / (alpha + d.uT))[d.iT]
    ltx, itx = np.log(alpha + d.utx)[d.itx], (1.0 / (alpha + d.utx))[d.itx]
    rx = r + x
    L1 = lb1 - lnb_ab - rx * lT
    L2 = np.where(pos, lb2 - lnb_ab - rx * ltx, -np.inf)
    M = np.logaddexp(L1, L2)
    ll = float(np.dot(w, g_rx + r * np.log(alpha) + M))
    w1 = np.exp(L1 - M)
    w2 = np.where(pos, 1.0 - w1, 0.0)
    d_ab = digamma(a + b)
    dr = dg_rx - digamma(r) + np.log(alpha) - w1 * lT - w2 * ltx
    dalpha = r / alpha - w1 * rx * iT - w2 * rx * itx
    base_a = digamma(a) - d_ab
    base_b = digamma(b) - d_ab
    da = w1 * (digamma(a) - dabx - base_a) + w2 * (digamma(a + 1) - dabx - base_a)
    db = w1 * (dbx - dabx - base_b) + w2 * (dbx1 - dabx - base_b)
    grad = np.array([np.dot(w, g) for g in (dr, dalpha, da, db)]) * np.array([r, alpha, a, b])
    return ll, grad


class BetaGeo(FittedModel):
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
    log_likelihood_ : float
        Maximised log-likelihood (sum over customers).
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

    def __init__(self, penalizer: float = 0.0) -> None:
        self.penalizer = penalizer

    def fit(self, summary: pd.DataFrame, unit: str | None = None) -> BetaGeo:
        """Fit on a :func:`summarize` table (unique ``frequency, recency, T`` rows, weighted).

        A ``weight`` column, if present, says how many customers each row stands for (already collapsed data).

        Raises
        ------
        ValueError
            Too few customers, or nobody made a repeat purchase (the dropout process is then unidentified).
        ConvergenceError
            The optimiser failed from every starting point.
        """
        n = int(summary["weight"].sum()) if "weight" in summary.columns else len(summary)
        if n < 10:
            raise ValueError(f"BG/NBD needs at least 10 customers; got {n}")
        if (summary["frequency"] > 0).sum() == 0:
            raise ValueError(
                f"BG/NBD needs repeat purchases: none of the {n:,} customers bought on a second day, so the "
                "dropout process cannot be estimated (widen the window or wait for more data)"
            )
        bad = summary["recency"] > summary["T"] + 1e-9
        if bad.any():
            raise ValueError(f"{int(bad.sum())} customers have recency > T: the summary is inconsistent")
        u = _collapse(summary, ["frequency", "recency", "T"])
        scale = float(u["T"].max()) / 10.0 or 1.0  # rescale time so alpha starts near 1
        x = u["frequency"].to_numpy(float)
        tx = u["recency"].to_numpy(float)
        T = u["T"].to_numpy(float)
        w = u["weight"].to_numpy(float)
        rows = _prepare(x, tx / scale, T / scale, w)
        pen = self.penalizer

        def neg(logp: np.ndarray) -> tuple[float, np.ndarray]:
            ll, g = _bgnbd_ll_grad(logp, rows)
            return -ll + pen * np.sum(logp**2), -g + 2 * pen * logp

        best = None
        for start in ([0.0, 0.0, 0.0, 0.0], [np.log(0.5), np.log(2.0), np.log(1.0), np.log(3.0)], [1.0, 1.0, 1.0, 2.0]):
            res = optimize.minimize(
                neg,
                np.array(start),
                jac=True,
                method="L-BFGS-B",
                bounds=[(-12, 12)] * 4,
                options={"maxiter": 2000, "gtol": 1e-9},
            )
            if np.isfinite(res.fun) and (best is None or res.fun < best.fun):
                best = res
            if res.success:
                break
        if best is None or not best.success:
            msg = best.message if best is not None else "non-finite likelihood"
            raise ConvergenceError(
                f"BG/NBD did not converge ({msg}); try a coarser unit (unit='W'), a longer calibration period, "
                "or a small penalizer (e.g. BetaGeo(penalizer=0.001))"
            )
        r, alpha, a, b = np.exp(best.x)
        alpha *= scale
        self.params_ = {"r": float(r), "alpha": float(alpha), "a": float(a), "b": float(b)}
        rows = _prepare(x, tx, T, w)
        lp = np.log([r, alpha, a, b])
        self.log_likelihood_ = float(_bgnbd_ll_grad(lp, rows)[0])
        H = numerical_hessian(None, lp, grad=lambda v: _bgnbd_ll_grad(v, rows)[1])
        self.standard_errors_, self.notes_ = standard_errors_from_information(
            H, list(self.params_.values()), list(self.params_), at_bound=np.abs(best.x) >= 12 - 1e-6
        )
        self.unit_ = unit or summary.attrs.get("unit", "D")
        self.n_customers_ = n
        return self

    def p_alive(self, summary: pd.DataFrame) -> pd.Series:
        """P(still alive at T | frequency, recency, T); exactly 1 for customers with no repeat purchase."""
        self._check_fitted()
        r, alpha, a, b = self.params_.values()
        x, tx, T = (summary[c].to_numpy(float) for c in ("frequency", "recency", "T"))
        with np.errstate(divide="ignore"):
            log_ratio = (
                np.log(a) - np.log(np.maximum(b + x - 1, 1e-300)) + (r + x) * (np.log(alpha + T) - np.log(alpha + tx))
            )
        p = np.where(x > 0, 1.0 / (1.0 + np.exp(log_ratio)), 1.0)
        return pd.Series(p, index=summary.index, name="p_alive")

    def expected_purchases(self, summary: pd.DataFrame, t: float) -> pd.Series:
        """Return expected purchases in the next ``t`` time units, given each customer's history."""
        self._check_fitted()
        r, alpha, a, b = self.params_.values()
        x, tx, T = (summary[c].to_numpy(float) for c in ("frequency", "recency", "T"))
        z = t / (alpha + T + t)
        term = 1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp2f1(r + x, b + x, a + b + x - 1, z)
        num = (a + b + x - 1) / (a - 1) * term
        p_alive = self.p_alive(summary).to_numpy()
        return pd.Series(np.clip(num * p_alive, 0, None), index=summary.index, name=f"expected_purchases_{t:g}")

    def probability_of_purchase(self, summary: pd.DataFrame, t: float) -> pd.Series:
        """P(at least one purchase in the next ``t`` time units | history).

        Alive customers keep their posterior rate Gamma(r + x, α + T); no purchase also means no dropout.
        """
        self._check_fitted()
        r, alpha, _, _ = self.params_.values()
        x, T = summary["frequency"].to_numpy(float), summary["T"].to_numpy(float)
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


# ------------------------------------------------------------------------------------------- Gamma-Gamma
class GammaGamma(FittedModel):
    """Gamma-Gamma model of the average value of a customer's repeat purchases.

    Each purchase value is Gamma(p, ν); ν varies across customers as Gamma(q, γ). The model assumes the
    average value is independent of purchase frequency — :meth:`frequency_monetary_correlation` checks it.

    Attributes
    ----------
    params_ : dict
        ``p``, ``q``, ``gamma``.
    standard_errors_ : dict
        Asymptotic standard errors; ``NaN`` for a parameter the data do not identify (see ``notes_``).
    log_likelihood_ : float
        Maximised log-likelihood over the repeat buyers.
    notes_ : list of str
        What the fit could not pin down.
    n_customers_ : int
        Repeat buyers in the fit.
    """

    def __init__(self, penalizer: float = 0.0) -> None:
        self.penalizer = penalizer

    @staticmethod
    def _ll(logp: np.ndarray, x, m, w) -> float:
        p, q, g = np.exp(logp)
        ll = (
            gammaln(p * x + q)
            - gammaln(p * x)
            - gammaln(q)
            + q * np.log(g)
            + (p * x - 1) * np.log(m)
            + p * x * np.log(x)
            - (p * x + q) * np.log(g + x * m)
        )
        return float(np.sum(w * ll))

    def fit(self, summary: pd.DataFrame) -> GammaGamma:
        """Fit on the repeat buyers (``frequency > 0`` and ``monetary_value > 0``) of a summary."""
        rep = summary[(summary["frequency"] > 0) & (summary["monetary_value"] > 0)]
        if len(rep) < 10:
            raise ValueError(f"Gamma-Gamma needs at least 10 repeat buyers with a positive value; got {len(rep)}")
        u = _collapse(rep, ["frequency", "monetary_value"])
        x, m, w = (u[c].to_numpy(float) for c in ("frequency", "monetary_value", "weight"))
        scale = float(np.median(m))
        mm = m / scale

        def neg(lp: np.ndarray) -> float:
            return -self._ll(lp, x, mm, w) + self.penalizer * np.sum(lp**2)

        res = optimize.minimize(neg, np.zeros(3), method="L-BFGS-B", bounds=[(-12, 12)] * 3, options={"maxiter": 5000})
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
            H, list(self.params_.values()), list(self.params_), at_bound=np.abs(res.x) >= 12 - 1e-6
        )
        self.n_customers_ = len(rep)
        return self

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
        """Mean purchase value across customers, p·γ / (q − 1) (infinite when q ≤ 1)."""
        self._check_fitted()
        p, q, g = self.params_.values()
        return p * g / (q - 1) if q > 1 else float("inf")

    @staticmethod
    def frequency_monetary_correlation(summary: pd.DataFrame) -> float:
        """Pearson correlation of frequency and average value among repeat buyers (the model assumes ≈ 0)."""
        rep = summary[summary["frequency"] > 0]
        return float(rep["frequency"].corr(rep["monetary_value"])) if len(rep) > 2 else float("nan")


# ---------------------------------------------------------------------------------------------------- CLV
def customer_lifetime_value(
    bgf: BetaGeo,
    ggf: GammaGamma,
    summary: pd.DataFrame,
    horizon_days: int = 365,
    step_days: int = 30,
    margin: float = 1.0,
    annual_discount_rate: float = 0.1,
) -> pd.Series:
    """Discounted expected value of each customer's purchases over the next ``horizon_days``.

    CLV = Σ_k E[purchases in step k] × E[average value] × margin / (1 + d)^k, with steps of ``step_days`` and
    the annual discount rate converted to the step. Days are converted to the model's time unit here, once —
    mixing weeks and days is the classic way to overstate CLV several-fold. Never negative.

    Returns
    -------
    Series
        CLV per customer, in the currency of ``monetary_value``.
    """
    k = UNITS[bgf.unit_]
    steps = int(np.ceil(horizon_days / step_days))
    value = ggf.expected_average_value(summary).to_numpy() * margin
    d_step = (1 + annual_discount_rate) ** (step_days / 365.0) - 1
    prev = np.zeros(len(summary))
    clv = np.zeros(len(summary))
    for i in range(1, steps + 1):
        t = min(i * step_days, horizon_days) / k
        cum = bgf.expected_purchases(summary, t).to_numpy()
        clv += (cum - prev) * value / (1 + d_step) ** i
        prev = cum
    return pd.Series(np.clip(clv, 0, None), index=summary.index, name=f"clv_{horizon_days}d")


# --------------------------------------------------------------------------------------------- validation
def holdout_accuracy(bgf: BetaGeo, summary: pd.DataFrame) -> dict:
    """Predicted vs actual holdout purchases: totals, mean absolute error and Spearman rank correlation."""
    pred = bgf.expected_purchases(summary, float(summary["duration_holdout"].iloc[0]))
    act = summary["frequency_holdout"]
    return {
        "customers": int(len(summary)),
        "actual_total": int(act.sum()),
        "predicted_total": float(pred.sum()),
        "total_error_pct": float(100 * (pred.sum() - act.sum()) / max(act.sum(), 1)),
        "mae_per_customer": float((pred - act).abs().mean()),
        "spearman": float(pred.corr(act, method="spearman")),
    }


def plot_holdout_by_frequency(
    bgf: BetaGeo, summary: pd.DataFrame, max_frequency: int = 7, ax: plt.Axes | None = None
) -> plt.Axes:
    """Mean predicted and actual holdout purchases by calibration frequency (the conditional expectation plot).

    Parameters
    ----------
    bgf : BetaGeo
        Fitted on the calibration period.
    summary : DataFrame
        Summary with holdout columns.
    max_frequency : int
        Frequencies above are pooled into the last group.
    ax : Axes, optional
        Where to draw.

    Returns
    -------
    Axes
        The axes drawn on.
    """
    if ax is None:
        _, ax = plt.subplots()
    pred = bgf.expected_purchases(summary, float(summary["duration_holdout"].iloc[0]))
    g = summary["frequency"].clip(upper=max_frequency)
    df = pd.DataFrame({"actual 实际": summary["frequency_holdout"], "BG/NBD prediction 预测": pred}).groupby(g).mean()
    df.plot(ax=ax, marker="o")
    ax.set_xlabel(f"repeat purchases in calibration ({max_frequency} = {max_frequency} or more) 校准期复购次数")
    ax.set_ylabel("mean purchases in holdout 留出期平均购买次数")
    ax.set_title("Holdout purchases by calibration frequency 按校准期频次的留出期预测")
    return ax


def tracking(
    bgf: BetaGeo,
    counts: pd.DataFrame,
    start: str | pd.Timestamp | None = None,
    end: str | pd.Timestamp | None = None,
    unit_days: float | None = None,
) -> pd.DataFrame:
    """Cumulative repeat purchases over time, actual vs BG/NBD (Fader, Hardie & Lee 2005, fig. 4).

    The model's curve on day d is the sum over first-purchase days f < d of (customers who first bought on f) ×
    E[repeats by age d - f]; it needs one row per day, not per customer, so it scales to millions of buyers.

    Parameters
    ----------
    bgf : BetaGeo
        Fitted model.
    counts : DataFrame
        ``day``, ``first`` and ``repeats`` per day, from :func:`helpers.features.purchase_day_counts` for the
        customers in the fit.
    start, end : str or Timestamp, optional
        Days to track (default: the first and last day in ``counts``).
    unit_days : float, optional
        Length of the model's unit in days (default from the model).

    Returns
    -------
    DataFrame
        Index day; ``actual`` and ``model`` cumulative repeat purchases.
    """
    k = unit_days or UNITS[bgf.unit_]
    c = counts.assign(day=pd.to_datetime(counts["day"])).groupby("day")[["first", "repeats"]].sum()
    days = pd.date_range(pd.Timestamp(start or c.index.min()), pd.Timestamp(end or c.index.max()), freq="D")
    firsts = c.loc[c["first"] > 0, "first"]
    age = days.to_numpy(dtype="datetime64[D]")[:, None] - firsts.index.to_numpy(dtype="datetime64[D]")[None, :]
    age = age.astype(float)
    expected = np.zeros(age.shape)
    pos = age > 0
    if pos.any():
        expected[pos] = bgf.expected_purchases_new(age[pos] / k)
    model = expected @ firsts.to_numpy(dtype=float)
    actual = c["repeats"].reindex(days, fill_value=0).cumsum()
    return pd.DataFrame({"actual": actual.to_numpy(), "model": model}, index=days)


def plot_tracking(track: pd.DataFrame, calibration_end: str | pd.Timestamp, ax: plt.Axes | None = None) -> plt.Axes:
    """Cumulative repeat purchases, actual vs model, with the calibration end marked.

    Parameters
    ----------
    track : DataFrame
        Output of :func:`tracking`.
    calibration_end : str or Timestamp
        Drawn as a vertical line.
    ax : Axes, optional
        Where to draw.

    Returns
    -------
    Axes
        The axes drawn on.
    """
    if ax is None:
        _, ax = plt.subplots()
    ax.plot(track.index, track["actual"], label="actual 实际")
    ax.plot(track.index, track["model"], ls="--", label="BG/NBD model 模型")
    ax.axvline(pd.Timestamp(calibration_end), color="grey", lw=1)
    ax.annotate(
        "calibration | holdout", (pd.Timestamp(calibration_end), ax.get_ylim()[1] * 0.95), ha="center", fontsize="small"
    )
    ax.set_xlabel("date 日期")
    ax.set_ylabel("cumulative repeat purchases 累计复购次数")
    ax.set_title("Tracking: cumulative repeat purchases, actual vs model 累计复购跟踪")
    ax.legend()
    return ax


# ------------------------------------------------------------------------------------------- descriptives
def repeat_rate(ranked: pd.DataFrame) -> dict:
    """Repurchase rate = buyers with a second purchase day ÷ buyers, over the whole observed period.

    Parameters
    ----------
    ranked : DataFrame
        ``user_id``, ``n`` from :func:`helpers.features.purchase_days_ranked` (``max_rank >= 2``).

    Returns
    -------
    dict
        ``buyers``, ``repeat_buyers``, ``repeat_rate``.
    """
    buyers = int(ranked.loc[ranked["n"] == 1, "user_id"].nunique())
    repeat = int(ranked.loc[ranked["n"] == 2, "user_id"].nunique())
    return {"buyers": buyers, "repeat_buyers": repeat, "repeat_rate": repeat / buyers if buyers else float("nan")}


def repurchase_curves(ranked: pd.DataFrame, end: str | pd.Timestamp, freq: str = "Q") -> dict:
    """Kaplan–Meier share of buyers who made a second purchase within ``t`` days, per first-purchase cohort.

    A buyer without a second purchase is censored at ``end`` (they may still come back), so young cohorts are
    not mistaken for disloyal ones.

    Parameters
    ----------
    ranked : DataFrame
        ``user_id``, ``day``, ``n`` from :func:`helpers.features.purchase_days_ranked`.
    end : str or Timestamp
        Last observed day.
    freq : str
        Cohort period of the first purchase: ``"Q"`` quarters or ``"M"`` months.

    Returns
    -------
    dict
        Cohort label → fitted ``KaplanMeierFitter`` on days from first to second purchase.
    """
    w = ranked.pivot(index="user_id", columns="n", values="day")
    first = pd.to_datetime(w[1])
    second = pd.to_datetime(w[2]) if 2 in w.columns else pd.Series(pd.NaT, index=w.index)
    done = second.notna()
    days = ((second.where(done, pd.Timestamp(end))) - first).dt.days.clip(lower=0)
    cohort = first.dt.to_period(freq).astype(str)
    out = {}
    for c, idx in cohort.groupby(cohort).groups.items():
        km = KaplanMeierFitter(label=f"first purchase {c}")
        km.fit(days.loc[idx], done.loc[idx])
        out[c] = km
    return out


def plot_repurchase_curves(fits: dict, ax: plt.Axes | None = None, max_days: int = 180) -> plt.Axes:
    """Share of buyers with a second purchase by days since the first (1 − KM), one line per cohort.

    Parameters
    ----------
    fits : dict
        Output of :func:`repurchase_curves`.
    ax : Axes, optional
        Where to draw.
    max_days : int
        Right end of the x axis.

    Returns
    -------
    Axes
        The axes drawn on.
    """
    if ax is None:
        _, ax = plt.subplots()
    for km in fits.values():
        sf = km.survival_function_
        ax.step(sf.index, 1 - sf.iloc[:, 0], where="post", label=km._label)
    ax.set_xlim(0, max_days)
    ax.yaxis.set_major_formatter(plt.matplotlib.ticker.PercentFormatter(1.0))
    ax.set_xlabel("days since first purchase 首次购买后天数")
    ax.set_ylabel("bought a second time (KM) 已复购比例")
    ax.set_title("Repurchase curves by first-purchase cohort 按首购同期群的复购曲线")
    ax.legend(fontsize="small")
    return ax


def plot_p_alive_matrix(bgf: BetaGeo, T: float, max_frequency: int = 20, ax: plt.Axes | None = None) -> plt.Axes:
    """P(alive) for every (frequency, recency) at a fixed customer age ``T`` — why quiet frequent buyers fade.

    Parameters
    ----------
    bgf : BetaGeo
        Fitted model.
    T : float
        Customer age (time since first purchase) in the model's unit.
    max_frequency : int
        Largest frequency shown.
    ax : Axes, optional
        Where to draw.

    Returns
    -------
    Axes
        The axes drawn on.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 5))
    rec = np.linspace(0, T, 60)
    f = np.arange(0, max_frequency + 1)
    grid = pd.DataFrame([(fi, ri, T) for fi in f for ri in rec], columns=["frequency", "recency", "T"])
    z = bgf.p_alive(grid).to_numpy().reshape(len(f), len(rec))
    im = ax.imshow(
        z, origin="lower", aspect="auto", cmap="RdYlGn", vmin=0, vmax=1, extent=[0, T, -0.5, max_frequency + 0.5]
    )
    plt.colorbar(im, ax=ax, label="P(alive) 存活概率")
    ax.grid(False)
    ax.set_xlabel(f"recency: time of the last purchase ({bgf.unit_}) 最近一次购买时间")
    ax.set_ylabel("repeat purchases (frequency) 复购次数")
    ax.set_title(f"P(alive) at customer age T = {T:g} {bgf.unit_} 存活概率矩阵")
    return ax


def next_best_contacts(scores: pd.DataFrame, top_n: int = 200, max_recent_touches: int = 2) -> pd.DataFrame:
    """Whom to contact next: high P(alive) × expected value, still a friend, not recently over-contacted.

    Parameters
    ----------
    scores : DataFrame
        Indexed by ``user_id``; columns ``p_alive``, ``expected_orders``, ``expected_value``,
        ``days_since_last_order``, ``touches_last_7d``, ``is_friend``.
    top_n : int
        Length of the list.
    max_recent_touches : int
        Contacts touched more often than this in the last 7 days are left out (fatigue).

    Returns
    -------
    DataFrame
        ``user_id``, ``score`` and the reason columns, best first, with a ``reason`` sentence; no personal data.
    """
    s = scores[scores["is_friend"] & (scores["touches_last_7d"] <= max_recent_touches)].copy()
    s["score"] = s["p_alive"] * s["expected_value"]
    s = s.sort_values(["score", "p_alive"], ascending=False, kind="stable").head(top_n)
    s["reason"] = [
        f"P(alive) {pa:.0%}, ~{eo:.1f} orders / ¥{ev:,.0f} expected, last order {int(d)} days ago, "
        f"{int(t)} touches in 7 days"
        for pa, eo, ev, d, t in zip(
            s["p_alive"],
            s["expected_orders"],
            s["expected_value"],
            s["days_since_last_order"],
            s["touches_last_7d"],
            strict=True,
        )
    ]
    cols = [
        "score",
        "p_alive",
        "expected_orders",
        "expected_value",
        "days_since_last_order",
        "touches_last_7d",
        "reason",
    ]
    return s[cols].reset_index()


def plot_interpurchase_gaps(gaps: pd.DataFrame, max_days: int = 180, ax: plt.Axes | None = None) -> plt.Axes:
    """Histogram of days between consecutive purchase days (from :func:`helpers.features.interpurchase_gaps`).

    Parameters
    ----------
    gaps : DataFrame
        ``gap_days``, ``gaps``.
    max_days : int
        Longest gap shown.
    ax : Axes, optional
        Where to draw.

    Returns
    -------
    Axes
        The axes drawn on; says so when there is no repeat purchase at all.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 3.5))
    g = gaps[gaps["gap_days"] <= max_days].set_index("gap_days")["gaps"].reindex(range(max_days + 1), fill_value=0)
    ax.bar(g.index, g.to_numpy(), width=1.0)
    if g.sum() == 0:
        ax.annotate("no repeat purchases 无复购", (0.5, 0.5), xycoords="axes fraction", ha="center")
    ax.set_xlim(-1, max_days + 1)
    ax.set_xlabel("days between consecutive purchase days 两次购买间隔天数")
    ax.set_ylabel("purchase gaps 次数")
    ax.set_title("Inter-purchase time 复购间隔分布")
    return ax

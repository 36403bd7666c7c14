"""Repurchase (复购): purchase summaries, CLV, holdout validation, tracking and the contact list.

The purchase models (BG/NBD, MBG/NBD, Pareto/NBD, BG/BB) and Gamma-Gamma live in :mod:`helpers.clv` and are
re-exported here (``rp.BetaGeo`` keeps working); model choice on the holdout, intervals, value models and the value
of a new contact are in :mod:`helpers.clv_analysis`. Conventions are those of the ``lifetimes`` package:
``frequency`` is the number of **repeat** purchase periods, ``recency`` the time from the first to the last
purchase, ``T`` the time from the first purchase to the end of the calibration period, all in one explicit time
``unit``.

The BG/NBD story: while *alive* a customer buys at a Poisson rate λ (heterogeneous: Gamma(r, α)); after every
repeat purchase they may *drop out* for good with probability p (heterogeneous: Beta(a, b)). Dropping out is
never observed, so a frequent buyer who goes quiet becomes less likely to be alive, while a one-time buyer
(frequency 0) has had no chance to drop out and gets P(alive) = 1 — a known limit of the model (MBG/NBD lifts it).
"""

from __future__ import annotations

import ibis
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from lifelines import KaplanMeierFitter

from helpers.clv import (  # noqa: F401 (re-exported: the models moved to helpers.clv)
    UNITS,
    BetaGeo,
    BetaGeoBetaBinom,
    ConvergenceError,
    GammaGamma,
    ModifiedBetaGeo,
    ParetoNBD,
    PurchaseModel,
    _bgnbd_ll_grad,
    _collapse,
    _prepare,
    customer_lifetime_value,
)
from helpers.features import as_table, purchase_opportunities, purchase_summary

__all__ = [
    "UNITS",
    "next_best_contacts",
    "plot_p_alive_matrix",
    "plot_repurchase_curves",
    "repeat_rate",
    "repurchase_curves",
    "BetaGeo",
    "BetaGeoBetaBinom",
    "ConvergenceError",
    "GammaGamma",
    "ModifiedBetaGeo",
    "ParetoNBD",
    "PurchaseModel",
    "customer_lifetime_value",
    "holdout_accuracy",
    "plot_holdout_by_frequency",
    "plot_interpurchase_gaps",
    "plot_tracking",
    "summarize",
    "summarize_discrete",
    "tracking",
]


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


def summarize_discrete(
    orders: pd.DataFrame | ibis.Table, end: str | pd.Timestamp, period_days: int = 7
) -> pd.DataFrame:
    """One row per customer in discrete opportunities of ``period_days`` days: the input of BG/BB.

    ``frequency`` (x) counts the opportunities after the first purchase with a purchase, ``recency`` (t_x) is the
    last of them (0 if none) and ``periods`` (n) the complete opportunities observed (see
    :func:`helpers.features.purchase_opportunities`). Fit with ``BetaGeoBetaBinom().fit(s, period_days=…)``.

    Returns
    -------
    DataFrame
        Indexed by ``user_id``; ``attrs["period_days"]`` records the opportunity length.
    """
    out = purchase_opportunities(as_table(orders), end, period_days).to_pandas().set_index("user_id").sort_index()
    out.attrs["period_days"] = period_days
    return out


# ---------------------------------------------------------------------------------------------------- CLV
# --------------------------------------------------------------------------------------------- validation
def holdout_accuracy(bgf: PurchaseModel, summary: pd.DataFrame) -> dict:
    """Predicted vs actual holdout purchases (any purchase model): totals, mean absolute error and Spearman."""
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
    bgf: PurchaseModel, summary: pd.DataFrame, max_frequency: int = 7, ax: plt.Axes | None = None
) -> plt.Axes:
    """Mean predicted and actual holdout purchases by calibration frequency (the conditional expectation plot).

    Parameters
    ----------
    bgf : PurchaseModel
        Fitted on the calibration period (BG/NBD, MBG/NBD or Pareto/NBD).
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
    label = f"{getattr(bgf, '_label', 'model')} prediction 预测"
    df = pd.DataFrame({"actual 实际": summary["frequency_holdout"], label: pred}).groupby(g).mean()
    df.plot(ax=ax, marker="o")
    ax.set_xlabel(f"repeat purchases in calibration ({max_frequency} = {max_frequency} or more) 校准期复购次数")
    ax.set_ylabel("mean purchases in holdout 留出期平均购买次数")
    ax.set_title("Holdout purchases by calibration frequency 按校准期频次的留出期预测")
    return ax


def tracking(
    bgf: PurchaseModel,
    counts: pd.DataFrame,
    start: str | pd.Timestamp | None = None,
    end: str | pd.Timestamp | None = None,
    unit_days: float | None = None,
) -> pd.DataFrame:
    """Cumulative repeat purchases over time, actual vs a purchase model (Fader, Hardie & Lee 2005, fig. 4).

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
    k = unit_days or bgf.unit_days_
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

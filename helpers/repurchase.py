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

from collections.abc import Callable

import ibis
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

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
from helpers.engine import frame
from helpers.features import as_table, purchase_opportunities, purchase_summary
from helpers.survival import km_by_group, plot_km

__all__ = [
    "TEXT",
    "note_text",
    "with_notes",
    "UNITS",
    "next_best_contacts",
    "next_steps",
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

#: Sentences of notebook 03, filled with results (``Labels.text(TEXT, key, ...)``).
TEXT: dict[str, dict[str, str]] = {
    "repeat_rate": {
        "zh": "复购率 = 在至少两个不同日子购买的客户 {repeat} ÷ 购买客户 {buyers} = {rate}（截至 {end} 的全部购买；"
        "同一天的多笔订单算一次购买，全额退款的不算）。",
        "en": "Repurchase rate = buyers with purchases on 2+ days {repeat} ÷ buyers {buyers} = {rate} (every purchase "
        "through {end}; same-day orders are one purchase, fully refunded ones none).",
    },
    "median_gap": {
        "zh": "相邻两次购买的间隔中位数为 {days} 天。",
        "en": "The median gap between consecutive purchases is {days} days.",
    },
    "holdout_no_repeat": {"zh": "留出期里没有一次复购", "en": "the holdout holds no repeat purchase"},
    "no_holdout": {
        "zh": "没有留出期检验：{why}。模型只用全部历史拟合，无法检验预测。",
        "en": "No holdout validation: {why}. The models are fitted on all history; their predictions are not checked.",
    },
    "no_models": {
        "zh": "没有任何购买模型能拟合这份数据：{why}",
        "en": "No purchase model could be fitted to these data: {why}",
    },
    "fit_line": {
        "zh": "{model}：{n} 位客户，对数似然 {ll}，时间单位 {unit}，用 {through} 及之前的购买拟合。",
        "en": "{model}: {n} customers, log-likelihood {ll}, time unit {unit}, fitted on purchases through {through}.",
    },
    "no_dropout": {
        "zh": "本次数据识别不出流失：{share} 的买家仍活跃概率在 99.9% 以上，包括已经 {days} 天没买的人。"
        "这里的 P(alive) 不是测量结果；本页的终身价值都假定没有人离开（第 4 节用留出期检验它们是不是上限）。",
        "en": "The data do not identify dropout: {share} of buyers have P(alive) of 99.9 % or more, including some "
        "silent for {days} days. P(alive) is not a measurement here; every lifetime value on this page assumes "
        "nobody leaves (section 4 checks on the holdout whether that makes them upper bounds).",
    },
    "clv_upper": {
        "zh": "这些都是上限：数据识别不出流失，模型假定没有人离开（见第 2 节）。",
        "en": " These are upper bounds: the data do not identify dropout, so the model assumes nobody leaves "
        "(section 2).",
    },
    "clv_not_upper": {
        "zh": "模型假定没有人离开，但留出期实际消费是预测的 {ratio:.2f} 倍（见上），所以这些不是上限。",
        "en": " The model assumes nobody leaves, yet the holdout spent {ratio:.2f}× the prediction (above), so these "
        "are not upper bounds.",
    },
    "clv_line": {
        "zh": "未来 {h} 天的终身价值（毛利率 {margin}，年贴现率 {disc}）：人均 {mean}，中位数 {median}；"
        "价值最高的 10% 客户占 {top}；全部客户合计 {total}{interval}。",
        "en": "Lifetime value over the next {h} days (margin {margin}, discount {disc} a year): mean {mean}, median "
        "{median}; the top 10 % of customers hold {top}; all customers {total}{interval}.",
    },
    "gini": {
        "zh": "排序检验：按预测价值排序，标准化基尼系数 {gini}（1 为完美排序，0 为随机）；预测留出期消费合计 {pred}，"
        "实际 {act}。",
        "en": "Ranking check: normalised Gini of the predicted value {gini} (1 = perfect order, 0 = random); "
        "predicted holdout spend {pred}, actual {act}.",
    },
    "holdout": {
        "zh": "留出期（{start} 至 {end}）{n} 位客户实际复购 {actual} 次，{model} 预测 {pred} 次（误差 {err}）；"
        "人均绝对误差 {mae}，秩相关 {rho}。",
        "en": "Holdout ({start} to {end}): {n} customers made {actual} repeat purchases; {model} predicted {pred} "
        "({err}); mean absolute error per customer {mae}, rank correlation {rho}.",
    },
    "value_no_draws": {
        "zh": "消费回归没有参数抽样，区间只包含购买模型的不确定性，偏窄。",
        "en": " The spend regression has no parameter draws: the interval holds only the purchase model's "
        "uncertainty and is too narrow.",
    },
    "no_tiers": {
        "zh": "没有 02 的分层结果（exports/tiers.csv）：按分层的终身价值未测量。先运行 02_user_tiers。",
        "en": "No tiers from 02 (exports/tiers.csv): lifetime value per tier is not measured. Run 02_user_tiers first.",
    },
    "ml_frame": {
        "zh": "训练：{train} 位购买客户，截点 {train_at}；检验：{test} 位购买客户，截点 {test_at}，"
        "其中 {share} 在之后 {h} 天内购买。",
        "en": "Train: {train} buyers at {train_at}; test: {test} buyers at {test_at}, {share} bought in the "
        "next {h} days.",
    },
    "ml_failed": {
        "zh": "机器学习对比无法运行：{why}",
        "en": "The machine-learning comparison cannot run: {why}",
    },
}

_PLOT = {
    "zh": {
        "actual": "实际",
        "prediction": "{model} 预测",
        "model": "{model} 模型",
        "cal_freq": "校准期复购次数（{m} 表示 {m} 次及以上）",
        "holdout_mean": "留出期人均购买次数",
        "holdout_title": "按校准期复购次数看留出期：预测与实际",
        "cal_hold": "校准期 | 留出期",
        "date": "日期",
        "cum_repeats": "累计复购次数",
        "tracking_title": "累计复购跟踪：实际与模型",
        "cohort": "{c} 首购",
        "since_first": "首次购买后天数",
        "second": "已复购比例（KM 估计）",
        "curves_title": "按首购季度看复购曲线",
        "no_repeat": "没有复购",
        "gap_days": "相邻两次购买间隔（天）",
        "gaps": "间隔次数",
        "gaps_title": "复购间隔分布",
        "p_alive": "仍活跃概率 P(alive)",
        "recency": "最近一次购买的时间（{unit}）",
        "frequency": "复购次数",
        "matrix_title": "客户年龄 T = {T} {unit} 时的仍活跃概率",
        "units": {"D": "天", "W": "周", "M": "月"},
    },
    "en": {
        "actual": "actual",
        "prediction": "{model} prediction",
        "model": "{model} model",
        "cal_freq": "repeat purchases in calibration ({m} = {m} or more)",
        "holdout_mean": "mean purchases in the holdout",
        "holdout_title": "Holdout purchases by calibration frequency: predicted vs actual",
        "cal_hold": "calibration | holdout",
        "date": "date",
        "cum_repeats": "cumulative repeat purchases",
        "tracking_title": "Tracking: cumulative repeat purchases, actual vs model",
        "cohort": "first purchase {c}",
        "since_first": "days since first purchase",
        "second": "bought a second time (Kaplan–Meier)",
        "curves_title": "Repurchase curves by first-purchase quarter",
        "no_repeat": "no repeat purchases",
        "gap_days": "days between consecutive purchase days",
        "gaps": "gaps",
        "gaps_title": "Inter-purchase time",
        "p_alive": "P(alive)",
        "recency": "recency: time of the last purchase ({unit})",
        "frequency": "repeat purchases (frequency)",
        "matrix_title": "P(alive) at customer age T = {T} {unit}",
        "units": {"D": "days", "W": "weeks", "M": "months"},
    },
}


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
    s = frame(purchase_summary(as_table(orders), end, calibration_end)).set_index("user_id").sort_index()
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
    out = frame(purchase_opportunities(as_table(orders), end, period_days)).set_index("user_id").sort_index()
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
    bgf: PurchaseModel, summary: pd.DataFrame, max_frequency: int = 7, ax: plt.Axes | None = None, lang: str = "zh"
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
    t = _PLOT[lang]
    label = t["prediction"].format(model=getattr(bgf, "_label", type(bgf).__name__))
    df = pd.DataFrame({t["actual"]: summary["frequency_holdout"], label: pred}).groupby(g).mean()
    df.plot(ax=ax, marker="o")
    ax.set_xlabel(t["cal_freq"].format(m=max_frequency))
    ax.set_ylabel(t["holdout_mean"])
    ax.set_title(t["holdout_title"])
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


def plot_tracking(
    track: pd.DataFrame,
    calibration_end: str | pd.Timestamp,
    ax: plt.Axes | None = None,
    lang: str = "zh",
    model_name: str = "BG/NBD",
) -> plt.Axes:
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
    t = _PLOT[lang]
    ax.plot(track.index, track["actual"], label=t["actual"])
    ax.plot(track.index, track["model"], ls="--", label=t["model"].format(model=model_name))
    ax.axvline(pd.Timestamp(calibration_end), color="grey", lw=1)
    ax.annotate(t["cal_hold"], (pd.Timestamp(calibration_end), ax.get_ylim()[1] * 0.95), ha="center", fontsize="small")
    ax.set_xlabel(t["date"])
    ax.set_ylabel(t["cum_repeats"])
    ax.set_title(t["tracking_title"])
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
    return km_by_group(days, done, first.dt.to_period(freq).astype(str))


def plot_repurchase_curves(fits: dict, ax: plt.Axes | None = None, max_days: int = 180, lang: str = "zh") -> plt.Axes:
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
    t = _PLOT[lang]
    ax = plot_km(fits, ax=ax, max_days=max_days, cumulative=True, ci=False, name=lambda c: t["cohort"].format(c=c))
    ax.set_xlabel(t["since_first"])
    ax.set_ylabel(t["second"])
    ax.set_title(t["curves_title"])
    return ax


def plot_p_alive_matrix(
    bgf: BetaGeo, T: float, max_frequency: int = 20, ax: plt.Axes | None = None, lang: str = "zh"
) -> plt.Axes:
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
    t = _PLOT[lang]
    unit = t["units"].get(bgf.unit_, bgf.unit_)
    plt.colorbar(im, ax=ax, label=t["p_alive"])
    ax.grid(False)
    ax.set_xlabel(t["recency"].format(unit=unit))
    ax.set_ylabel(t["frequency"])
    ax.set_title(t["matrix_title"].format(T=f"{T:g}", unit=unit))
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


def plot_interpurchase_gaps(
    gaps: pd.DataFrame, max_days: int = 180, ax: plt.Axes | None = None, lang: str = "zh"
) -> plt.Axes:
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
    t = _PLOT[lang]
    ax.bar(g.index, g.to_numpy(), width=1.0)
    if g.sum() == 0:
        ax.annotate(t["no_repeat"], (0.5, 0.5), xycoords="axes fraction", ha="center")
    ax.set_xlim(-1, max_days + 1)
    ax.set_xlabel(t["gap_days"])
    ax.set_ylabel(t["gaps"])
    ax.set_title(t["gaps_title"])
    return ax


# ------------------------------------------------------------------------------------------- page helpers
#: Parameters named by a Greek letter, shown as the letter (the page's formulas write α, not "alpha").
_GREEK = {"alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ"}


def parameter_table(models: dict, lang: str = "zh", digits: int = 4) -> pd.DataFrame:
    """Every fitted model's parameters with standard errors, as text; a parameter the data cannot pin down says so.

    A missing (NaN) standard error means the likelihood is flat in that direction or the estimate sits on a
    bound: it is shown as *not identified*, never as 0.

    Parameters
    ----------
    models : dict
        Display name → fitted model (``None`` entries are skipped).
    lang : {"zh", "en"}
        Language of the *not identified* text.
    digits : int
        Decimals shown.

    Returns
    -------
    DataFrame
        ``model``, ``parameter``, ``estimate``, ``std_error`` (strings).

    Examples
    --------
    >>> class M:
    ...     params_ = pd.Series({"r": 0.2431, "a": 0.0})
    ...     standard_errors_ = pd.Series({"r": 0.0126, "a": float("nan")})
    >>> parameter_table({"BG/NBD": M()}, "en")["std_error"].tolist()
    ['0.0126', 'not identified']
    >>> class P:
    ...     params_, standard_errors_ = pd.Series({"alpha": 9.6}), pd.Series({"alpha": 0.3})
    >>> parameter_table({"Pareto/NBD": P()})["parameter"].tolist()
    ['α']
    """
    missing = "未识别" if lang == "zh" else "not identified"
    rows = []
    for name, m in models.items():
        if m is None:
            continue
        for p, v in m.params_.items():
            se = m.standard_errors_.get(p, np.nan)
            rows.append(
                {
                    "model": name,
                    "parameter": _GREEK.get(str(p), str(p)),  # the models' own symbols, as in the formulas
                    "estimate": f"{v:.{digits}f}",
                    "std_error": missing if not np.isfinite(se) else f"{se:.{digits}f}",
                }
            )
    return pd.DataFrame(rows, columns=["model", "parameter", "estimate", "std_error"])


def alive_identified(p_alive: pd.Series, floor: float = 0.999) -> bool:
    """Whether P(alive) tells customers apart: False when it is at least ``floor`` for 95 % of them or more.

    A purchase model whose dropout the data do not identify (BG/NBD with a → 0, as on a year of UCI Online Retail)
    gives P(alive) = 1 to everyone, a customer silent for a year included: not a measurement of who is still active.

    >>> alive_identified(pd.Series([1.0, 1.0, 0.9999])), alive_identified(pd.Series([1.0, 0.4, 0.9]))
    (False, True)
    """
    pa = p_alive.dropna()
    return bool(len(pa)) and float((pa >= floor).mean()) < 0.95


def alive_sentence(p_alive: pd.Series, summary: pd.DataFrame, lang: str = "zh") -> str | None:
    """Say that P(alive) is not a measurement when the model sees no dropout (:func:`alive_identified`), else None.

    The sentence gives the share of buyers at P(alive) ≥ 99.9 % and the longest silence among them, and says what
    follows: every lifetime value of the page assumes nobody leaves, so it is an upper bound.

    Examples
    --------
    >>> s = pd.DataFrame({"recency": [10.0, 50.0], "T": [300.0, 60.0]}, index=["a", "b"])
    >>> alive_sentence(pd.Series([1.0, 1.0], index=s.index), s).split("。")[0]
    '本次数据识别不出流失：100% 的买家仍活跃概率在 99.9% 以上，包括已经 290 天没买的人'
    >>> alive_sentence(pd.Series([0.2, 1.0], index=s.index), s) is None
    True
    """
    from helpers.labels import fmt_pct

    if alive_identified(p_alive):
        return None
    flat = p_alive.reindex(summary.index) >= 0.999
    silent = (summary["T"] - summary["recency"])[flat]
    days = silent.max() * (7 if summary.attrs.get("unit") == "W" else 1)
    return TEXT["no_dropout"][lang].format(share=fmt_pct(float(flat.mean()), 0), days=f"{days:,.0f}")


def clv_text(
    iv,
    horizon_days: int,
    margin: float,
    discount: float,
    currency: str = "¥",
    lang: str = "zh",
    alive: bool = True,
    spend_ratio: float | None = None,
) -> str:
    """Return the sentence on lifetime value from :func:`helpers.clv_analysis.clv_intervals` (one group: everyone).

    When the value model has no parameter draws (a spend regression), the sentence says the interval holds only
    the purchase model's uncertainty; with ``alive=False`` (the model sees no dropout) it says the values are upper
    bounds — unless the holdout spent more than :data:`SPEND_OFF` above the prediction (``spend_ratio`` = actual ÷
    predicted, :func:`holdout_spend_text` printed before it), as :func:`headline` does.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> g = pd.DataFrame({"total": [40.0], "total_lower": [30.0], "total_upper": [50.0]})
    >>> iv = SimpleNamespace(customers=pd.DataFrame({"estimate": [10.0, 30.0]}), groups=g, method="laplace", notes=[])
    >>> clv_text(iv, 365, 0.4, 0.1, alive=False).split("。")[1]
    '这些都是上限：数据识别不出流失，模型假定没有人离开（见第 2 节）'
    >>> clv_text(iv, 365, 0.4, 0.1, alive=False, spend_ratio=1.69).split("。")[1]
    '模型假定没有人离开，但留出期实际消费是预测的 1.69 倍（见上），所以这些不是上限'
    """
    from helpers.labels import fmt_money, fmt_pct

    clv = iv.customers["estimate"]
    g = iv.groups.iloc[0]
    top = clv.nlargest(max(1, len(clv) // 10)).sum() / clv.sum() if clv.sum() > 0 else np.nan
    method = {"laplace": ("参数的拉普拉斯近似", "Laplace approximation of the parameters")}.get(
        iv.method, ("自助法", "bootstrap")
    )
    text = TEXT["clv_line"][lang].format(
        h=horizon_days,
        margin=fmt_pct(margin, 0),
        disc=fmt_pct(discount, 0),
        mean=fmt_money(clv.mean(), currency),
        median=fmt_money(clv.median(), currency),
        top=fmt_pct(top, 0),
        total=fmt_money(g["total"], currency),
        interval=interval_text(g, currency, lang, method=method[0] if lang == "zh" else method[1]),
    )
    text += TEXT["value_no_draws"][lang] if any("no parameter draws" in n for n in iv.notes) else ""
    if alive:
        return text
    if _spent_above(spend_ratio):
        return text + TEXT["clv_not_upper"][lang].format(ratio=spend_ratio)
    return text + TEXT["clv_upper"][lang]


def _spent_above(spend_ratio: float | None) -> bool:
    """Whether the holdout spent more than :data:`SPEND_OFF` above the prediction (actual ÷ predicted)."""
    return spend_ratio is not None and bool(np.isfinite(spend_ratio)) and spend_ratio > 1 + SPEND_OFF


def interval_text(group: pd.Series, currency: str = "¥", lang: str = "zh", method: str | None = None) -> str:
    """Return the bracket after a total: its 90 % interval (and method), or that a parameter is not identified.

    ``group`` holds ``total_lower`` and ``total_upper``; a missing bound means no interval, and the text says why.

    Examples
    --------
    >>> interval_text(pd.Series({"total_lower": 900.0, "total_upper": 1100.0}), method="自助法")
    '（90% 区间 ¥900 – ¥1,100，自助法）'
    >>> interval_text(pd.Series({"total_lower": np.nan, "total_upper": np.nan}), lang="en")
    ' (no interval: a parameter is not identified by the data)'
    """
    from helpers.labels import fmt_money

    zh = lang == "zh"
    if pd.isna(group["total_lower"]) or pd.isna(group["total_upper"]):
        no_interval = " (no interval: a parameter is not identified by the data)"
        return "（没有区间：数据无法识别部分参数）" if zh else no_interval
    lo, hi = fmt_money(group["total_lower"], currency), fmt_money(group["total_upper"], currency)
    tail = f"，{method}" if zh and method else f", {method}" if method else ""
    return f"（90% 区间 {lo} – {hi}{tail}）" if zh else f" (90 % interval {lo} – {hi}{tail})"


#: Bullets of 03's "what to do", each chosen by what the run measured (``{channels}`` filled with names).
NEXT_STEPS: dict[str, dict[str, str]] = {
    "ltv_cac_low": {
        "zh": "**预算按终身价值，不按首单：** LTV / CAC 小于 1 的渠道：{channels}（第 6 节）。"
        "先查它们的首购率和复购，再决定是否加预算。",
        "en": "**Budget with lifetime value, not first-order value:** LTV / CAC is below 1 for {channels} "
        "(section 6). Look at their first-purchase rate and repurchase before adding budget.",
    },
    "ltv_cac_ok": {
        "zh": "**预算按终身价值，不按首单：** 测得获客成本的渠道 LTV / CAC 都不低于 1（第 6 节）；"
        "加预算先看区间下限最高的渠道。",
        "en": "**Budget with lifetime value, not first-order value:** every channel with a measured CAC has "
        "LTV / CAC of at least 1 (section 6); add budget first where the interval's lower bound is highest.",
    },
    "ltv_cac_missing": {
        "zh": "**预算按终身价值，不按首单：** 本次 LTV / CAC 未测量——导出里没有投放花费或活动成本。"
        "导出后，第 6 节给出每个渠道新好友的价值 ÷ 获客成本。",
        "en": "**Budget with lifetime value, not first-order value:** LTV / CAC is not measured in this run — the "
        "export has no spend or campaign costs. With them, section 6 divides a new friend's value by the "
        "channel's CAC.",
    },
    "tiers": {
        "zh": "**分层运营：** 价值高、区间也高的分层值得专人服务；区间跨度大的分层先别下结论，攒更多数据。",
        "en": "**Serve tiers by value:** a tier whose value and interval are both high deserves a named staff "
        "member; a tier with a wide interval needs more data before a decision.",
    },
    "tiers_missing": {
        "zh": "**分层运营：** 本次没有分层的价值（用户分层没有导出分层）；先运行「02 · 用户分层」，"
        "再按分层价值安排服务。",
        "en": "**Serve tiers by value:** no tier values in this run (no tiers were exported); run 02 · User "
        "tiers, then staff the tiers by their value.",
    },
    "contact": {
        "zh": "**谁该联系：** 不要只按 P(alive) × 价值排名单——那会挑出本来就会买的人。名单见 `06_targeting`："
        "随机对照测出的增量决定谁值得发消息。",
        "en": "**Whom to contact:** do not rank by P(alive) × value — that picks people who buy anyway. The list "
        "is in `06_targeting`: the uplift measured in randomised holdouts decides who is worth a message.",
    },
    "refit": {
        "zh": "**每月重新拟合；** 如果留出期误差变大，说明业务变了——缩短校准期。",
        "en": "**Re-fit monthly;** if the holdout error grows, the business changed — shorten the calibration period.",
    },
}


def next_steps(
    ltv_cac: pd.DataFrame | None, tiers_valued: bool, lang: str = "zh", name: Callable[[object], str] = str
) -> str:
    """Return 03's "what to do" as Markdown bullets that point only at what this run measured.

    Parameters
    ----------
    ltv_cac : DataFrame or None
        :func:`helpers.clv_analysis.ltv_to_cac` per channel (``ltv_cac``), ``None`` without costs.
    tiers_valued : bool
        Whether the tiers' values were computed (02's tiers exported and a purchase model fitted).
    lang : {"zh", "en"}
        Report language.
    name : callable
        Display name of a channel code.

    Returns
    -------
    str

    Examples
    --------
    >>> r = pd.DataFrame({"ltv_cac": [0.6, 2.0, float("nan")]}, index=["moments", "store_qr", "ads"])
    >>> print(next_steps(r, True).splitlines()[0].split("。")[0])
    - **预算按终身价值，不按首单：** LTV / CAC 小于 1 的渠道：moments（第 6 节）
    >>> "未测量" in next_steps(None, False).splitlines()[0]
    True
    """
    if ltv_cac is None or not ltv_cac["ltv_cac"].notna().any():
        budget = NEXT_STEPS["ltv_cac_missing"][lang]
    else:
        low = [name(c) for c in ltv_cac.index[ltv_cac["ltv_cac"] < 1]]
        sep = "、" if lang == "zh" else ", "
        budget = NEXT_STEPS["ltv_cac_low" if low else "ltv_cac_ok"][lang].format(channels=sep.join(low))
    keys = ["tiers" if tiers_valued else "tiers_missing", "contact", "refit"]
    return "\n".join(f"- {line}" for line in [budget, *(NEXT_STEPS[k][lang] for k in keys)])


#: Holdout spend off the prediction by more than this share is said on the page (:func:`holdout_spend_text`).
SPEND_OFF = 0.1


def holdout_spend_text(predicted: float, actual: float, alive: bool = True, lang: str = "zh") -> str:
    """Return what the holdout's spend says of the lifetime values, or ``""`` when it is within :data:`SPEND_OFF`.

    The purchase and value models extrapolate the calibration period's rhythm: a holdout that spent much more (a
    season, growth) or less than predicted says the values are likely too low or too high. A model that sees no
    dropout (``alive=False``) calls its values upper bounds; a holdout that spent more than predicted says they
    are not.

    Examples
    --------
    >>> t = holdout_spend_text(1_545_543, 2_605_589, alive=False)
    >>> t.startswith("留出期实际消费比预测多 68.6%"), t.endswith("下面的终身价值也不是上限。")
    (True, True)
    >>> holdout_spend_text(100.0, 105.0)
    ''
    >>> holdout_spend_text(100.0, 80.0, lang="en")
    'Holdout spend was 20.0% below the prediction: the lifetime values are likely too high.'
    """
    from helpers.labels import fmt_pct

    if not (predicted > 0) or not np.isfinite(actual) or abs(actual / predicted - 1) <= SPEND_OFF:
        return ""
    off = fmt_pct(abs(actual / predicted - 1))
    if actual < predicted:
        return {
            "zh": f"留出期实际消费比预测少 {off}：终身价值可能偏高。",
            "en": f"Holdout spend was {off} below the prediction: the lifetime values are likely too high.",
        }[lang]
    bound = {
        "zh": "；所以即使模型假定没有人离开，下面的终身价值也不是上限",
        "en": "; so although the model assumes nobody leaves, the lifetime values below are not upper bounds",
    }
    return {
        "zh": f"留出期实际消费比预测多 {off}：模型按校准期的节奏外推，不含季节和增长，终身价值可能偏低"
        f"{'' if alive else bound['zh']}。",
        "en": f"Holdout spend was {off} above the prediction: the models extrapolate the calibration period's rhythm, "
        f"without season or growth, so the lifetime values are likely too low{'' if alive else bound['en']}.",
    }[lang]


def headline(
    winner: str | None,
    iv,
    horizon_days: int,
    currency: str = "¥",
    lang: str = "zh",
    alive: bool = True,
    margin: float | None = None,
    spend_ratio: float | None = None,
) -> str:
    """Return 03's headline: the model chosen on the holdout and the total lifetime value with its interval.

    A total without an interval (a parameter the data cannot identify) says so instead of printing dashes; with
    ``alive=False`` (the model sees no dropout, :func:`alive_identified`) the total is called an upper bound —
    unless the holdout spent more than :data:`SPEND_OFF` above the prediction (``spend_ratio`` = actual ÷
    predicted), which the headline then says. ``margin`` names the gross margin the value is taken at.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> g = pd.DataFrame({"total": [1000.0], "total_lower": [np.nan], "total_upper": [np.nan]})
    >>> headline("BG/NBD", SimpleNamespace(groups=g), 365)
    '留出期选中 BG/NBD；未来 365 天终身价值合计 ¥1,000（没有区间：数据无法识别部分参数）'
    >>> g.loc[0, ["total_lower", "total_upper"]] = [900.0, 1100.0]
    >>> headline("BG/NBD", SimpleNamespace(groups=g), 365, lang="en")
    'BG/NBD chosen on the holdout; lifetime value over 365 days ¥1,000 (90 % interval ¥900 – ¥1,100)'
    >>> headline("BG/NBD", SimpleNamespace(groups=g), 365, alive=False).split("；")[1]
    '未来 365 天终身价值合计 ¥1,000，是上限（数据识别不出流失，假定没有人离开）（90% 区间 ¥900 – ¥1,100）'
    >>> h = headline("BG/NBD", SimpleNamespace(groups=g), 365, alive=False, margin=0.4, spend_ratio=1.69)
    >>> "终身价值（毛利，毛利率 40%）合计 ¥1,000（假定没有人离开，但留出期实际消费是预测的 1.69 倍，不是上限）" in h
    True
    """
    from helpers.labels import fmt_money, fmt_pct

    if iv is None or winner is None:
        return TEXT["no_models"][lang].format(why="—")
    g = iv.groups.iloc[0]
    total, interval = fmt_money(g["total"], currency), interval_text(g, currency, lang)
    zh = lang == "zh"
    what = (
        ""
        if margin is None or margin >= 1
        else (f"（毛利，毛利率 {fmt_pct(margin, 0)}）" if zh else f" (gross profit at a {fmt_pct(margin, 0)} margin)")
    )
    above = _spent_above(spend_ratio)
    if alive:
        bound = ""
    elif above:
        bound = (
            f"（假定没有人离开，但留出期实际消费是预测的 {spend_ratio:.2f} 倍，不是上限）"
            if zh
            else f" (nobody is assumed to leave, yet the holdout spent {spend_ratio:.2f}× the prediction: not an "
            "upper bound)"
        )
    else:
        bound = (
            "，是上限（数据识别不出流失，假定没有人离开）"
            if zh
            else ", an upper bound (the data do not identify dropout: nobody is assumed to leave)"
        )
    if zh:
        return f"留出期选中 {winner}；未来 {horizon_days} 天终身价值{what}合计 {total}{bound}{interval}"
    return f"{winner} chosen on the holdout; lifetime value{what} over {horizon_days} days {total}{bound}{interval}"


def plot_clv_histogram(clv: pd.Series, horizon_days: int, ax: plt.Axes | None = None, lang: str = "zh") -> plt.Axes:
    """Histogram of customers' lifetime value, capped at the 99th percentile (the cap is said on the axis)."""
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 3.5))
    ax.hist(clv.clip(upper=clv.quantile(0.99)), bins=60)
    zh = lang == "zh"
    ax.set_xlabel(
        f"未来 {horizon_days} 天终身价值（超过 99 分位数的计入最后一格）"
        if zh
        else f"lifetime value over {horizon_days} days (above the 99th percentile in the last bar)"
    )
    ax.set_ylabel("客户数" if zh else "customers")
    ax.set_title("客户终身价值分布" if zh else "Lifetime value per customer")
    return ax


def holdout_text(model, summary: pd.DataFrame, name: str, start, end, lang: str = "zh") -> str:
    """Return the sentence comparing a model's predicted holdout purchases with the actual ones."""
    acc = holdout_accuracy(model, summary)
    return TEXT["holdout"][lang].format(
        start=f"{pd.Timestamp(start):%Y-%m-%d}",
        end=f"{pd.Timestamp(end):%Y-%m-%d}",
        n=f"{acc['customers']:,}",
        actual=f"{acc['actual_total']:,}",
        model=name,
        pred=f"{acc['predicted_total']:,.0f}",
        err=f"{acc['total_error_pct']:+.1f}%",
        mae=f"{acc['mae_per_customer']:.3f}",
        rho=f"{acc['spearman']:.3f}",
    )


_NOTE_ZH = (
    (
        ("not identified", "bound", "no standard error"),
        "数据无法识别部分参数（似然平坦或在优化边界上）：这些参数没有标准误，也没有区间",
    ),
    (("customers <", "not fitted"), "客户太少，没有单独拟合"),
    (("likelihood ridge",), "部分参数在似然的平坦山脊上（只有它们的组合可识别）：区间抽样时固定在估计值"),
    (("random sample of",), "在随机抽取的部分客户上拟合或抽样：区间反映这一样本量"),
    (("EM stopped",), "EM 迭代没有完全收敛，结果仅供参考"),
    (("classes need at least",), "有记录金额的复购客户太少，分不出客户类别"),
    (("Singular matrix", "not positive definite"), "信息矩阵奇异：参数无法识别"),
    (("no parameter draws",), "价值模型没有参数抽样：区间只含购买模型的不确定性"),
    (("iteration limit", "did not converge"), "优化没有完全收敛，结果仅供参考"),
    (("one class only",), "训练标签只有一类：窗口内没有人（或人人都）购买"),
    (("needs repeat purchases",), "没有任何客户在第二天再次购买：流失过程无法估计（放宽窗口或等更多数据）"),
    (("needs at least 10 customers",), "客户不足 10 人，无法拟合"),
    (("cross-fitted",), "交叉拟合：按客户分折，每位客户的预测来自没见过他的模型"),
    (("< horizon",), "好友被跟踪的时间短于期限：未测量"),
    (("no repeat model",), "买家或复购买家太少，没有拟合复购模型：只测了首购概率"),
    (("valued by the pooled model",), "本组单独拟合失败：改用全体客户的同一个模型，按本组客户加总"),
)


def note_text(note: object, lang: str = "zh") -> str:
    """Return a model note in the report language (English notes come from the fitters; zh gets their gist).

    Examples
    --------
    >>> note_text("the optimiser's bound for b: no standard error", "zh")
    '数据无法识别部分参数（似然平坦或在优化边界上）：这些参数没有标准误，也没有区间'
    >>> note_text("cross-fitted, 5 folds", "zh")
    '交叉拟合：按客户分折，每位客户的预测来自没见过他的模型'
    >>> note_text("", "zh"), note_text(None, "en")
    ('', '')
    """
    text = "" if note is None or (isinstance(note, float) and np.isnan(note)) else str(note)
    if lang != "zh" or not text:
        return text
    found = [zh for keys, zh in _NOTE_ZH if any(k in text for k in keys)]
    return "；".join(dict.fromkeys(found)) if found else "模型说明（英文）：" + text


def with_notes(table: pd.DataFrame, lang: str = "zh") -> pd.DataFrame:
    """Return ``table`` with its ``note`` column in the report language."""
    return table.assign(note=table["note"].map(lambda n: note_text(n, lang))) if "note" in table.columns else table

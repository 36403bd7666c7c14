"""Acquisition (拉新): adds and deletions over time, funnels, invitation-script tests, friend survival, CAC, payback.

Every rate here names its window and its denominator, and respects censoring: a contact whose conversion window
has not closed by ``as_of`` is neither a conversion nor a drop-off — it is left out of that rate's denominator
and counted as ``censored``; a friendship still open at ``as_of`` is censored in the survival curves.
"""

from __future__ import annotations

import re

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from lifelines import KaplanMeierFitter
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint
from statsmodels.stats.proportion import test_proportions_2indep as _score_test

from helpers.definitions import input_missing, mark_not_measured, removals_measured
from helpers.labels import Labels

__all__ = [
    "acquisition_cost",
    "adds_over_time",
    "apply_channel_groups",
    "cohort_retention",
    "compare_variants",
    "conversion_flags",
    "deletion_rates",
    "friend_survival",
    "funnel",
    "minimum_detectable_effect",
    "name_campaigns",
    "payback",
    "payback_summary",
    "plot_cohort_heatmap",
    "plot_deletion_curves",
    "plot_funnel",
    "plot_net_adds",
    "plot_payback",
    "plot_variants",
]

DAY = pd.Timedelta(days=1)


def name_campaigns(labels: Labels, campaigns: pd.DataFrame | None) -> Labels:
    """Give each campaign id the ``name`` of the campaigns table as its display name (a names file wins).

    Campaign names are the team's own data values (shown as they are in either language); ids such as
    ``acq_parcel_card`` then never reach a page.

    Examples
    --------
    >>> L = name_campaigns(Labels("en"), pd.DataFrame({"campaign_id": ["live_01"], "name": ["1月品牌直播"]}))
    >>> L.name("campaign", "live_01"), L.name("campaign", "other")
    ('1月品牌直播', 'other')
    """
    if campaigns is None or "name" not in campaigns:
        return labels
    known = labels.names.setdefault("campaign", {})
    for cid, name in zip(campaigns["campaign_id"].astype(str), campaigns["name"], strict=True):
        if cid not in known and isinstance(name, str) and name.strip():
            known[cid] = {"zh": name.strip(), "en": name.strip()}
    return labels


# ------------------------------------------------------------------------------------------- preparation
def apply_channel_groups(contacts: pd.DataFrame, spec: str, column: str = "channel") -> pd.DataFrame:
    """Regroup channels with a ``"store_qr:offline; parcel_card:offline"`` mapping (unlisted channels unchanged).

    Parameters
    ----------
    contacts : DataFrame
        Any table with a ``channel`` column (contacts, leads, spend).
    spec : str
        ``old:new`` (or ``old=new``) pairs separated by ``;`` or ``,``; empty means no regrouping.
    column : str
        Column to regroup.

    Returns
    -------
    DataFrame
        A copy with the column regrouped.

    Examples
    --------
    >>> df = pd.DataFrame({"channel": ["store_qr", "parcel_card", "paid_ads"]})
    >>> apply_channel_groups(df, "store_qr:线下; parcel_card=线下")["channel"].tolist()
    ['线下', '线下', 'paid_ads']
    """
    if not spec or not spec.strip():
        return contacts
    pairs = [re.split(r"[=:：]", p, maxsplit=1) for p in re.split(r"[;,；，]", spec) if p.strip()]
    bad = [p for p in pairs if len(p) != 2]
    if bad:
        raise ValueError(f"channel grouping must be 'old:new; …' (or old=new), not {spec!r}")
    mapping = {a.strip(): b.strip() for a, b in pairs}
    out = contacts.copy()
    out[column] = out[column].map(lambda c: mapping.get(c, c))
    return out


# ---------------------------------------------------------------------------------------- adds over time
def adds_over_time(
    contacts: pd.DataFrame, freq: str = "W", by: str = "channel", start: str | None = None, end: str | None = None
) -> pd.DataFrame:
    """Count new adds, removals (deletions / blocks) and net adds per period and group.

    Removals are counted in the period they happen, whatever period the contact was added in.

    Parameters
    ----------
    contacts : DataFrame
        Contract ``contacts`` (``added_at``, ``removed_at`` and the ``by`` column).
    freq : str
        ``"W"`` (weeks starting Monday), ``"M"`` (calendar months) or ``"D"``.
    by : str
        Grouping column.
    start, end : str, optional
        First and last day (inclusive) of the window.

    Returns
    -------
    DataFrame
        ``period``, ``by``, ``adds``, ``removals``, ``net_adds``. When the export has no removal times at all,
        ``removals`` and ``net_adds`` are NaN (not measured; ``attrs["not_measured"]`` says why), never 0.
    """
    rule = {"W": "W-MON", "M": "MS", "D": "D"}.get(freq, freq)

    def floor(ts: pd.Series) -> pd.Series:
        if rule == "W-MON":
            return ts.dt.to_period("W-SUN").dt.start_time
        if rule == "MS":
            return ts.dt.to_period("M").dt.start_time
        return ts.dt.floor(rule)

    lo = pd.Timestamp(start) if start else contacts["added_at"].min().floor("D")
    hi = pd.Timestamp(end) + DAY if end else contacts["added_at"].max().floor("D") + DAY
    a = contacts[(contacts["added_at"] >= lo) & (contacts["added_at"] < hi)]
    r = contacts[contacts["removed_at"].notna() & (contacts["removed_at"] >= lo) & (contacts["removed_at"] < hi)]
    adds = a.groupby([floor(a["added_at"]).rename("period"), a[by]]).size().rename("adds")
    rem = r.groupby([floor(r["removed_at"]).rename("period"), r[by]]).size().rename("removals")
    out = pd.concat([adds, rem], axis=1).fillna(0).astype("int64").reset_index()
    out["net_adds"] = out["adds"] - out["removals"]
    out = out.sort_values(["period", by], kind="stable").reset_index(drop=True)
    if not removals_measured(contacts):
        out = mark_not_measured(out, ["removals", "net_adds"], input_missing("removals"))
    return out


# ------------------------------------------------------------------------------------------------ funnel
def conversion_flags(
    contacts: pd.DataFrame, first_orders: pd.DataFrame, window_days: int, as_of: pd.Timestamp
) -> pd.DataFrame:
    """Per contact: eligible (its conversion window closed by ``as_of``), converted within it, days to convert.

    Parameters
    ----------
    contacts : DataFrame
        Contract ``contacts``.
    first_orders : DataFrame
        ``user_id``, ``days_to_first_order``.
    window_days : int
        Conversion window.
    as_of : Timestamp
        Snapshot.

    Returns
    -------
    DataFrame
        Indexed like ``contacts``: ``user_id``, ``eligible``, ``converted`` (eligible and ordered within the
        window), ``days_to_first_order`` (where converted).
    """
    c = contacts[["user_id", "added_at"]].merge(
        first_orders[["user_id", "days_to_first_order"]], on="user_id", how="left"
    )
    eligible = c["added_at"] + window_days * DAY <= as_of
    converted = c["days_to_first_order"].notna() & (c["days_to_first_order"] < window_days)
    return pd.DataFrame(
        {
            "user_id": c["user_id"],
            "eligible": eligible.to_numpy(),
            "converted": (eligible & converted).to_numpy(),
            "days_to_first_order": c["days_to_first_order"].where(converted).to_numpy(),
        },
        index=contacts.index,
    )


def funnel(
    contacts: pd.DataFrame,
    first_orders: pd.DataFrame,
    *,
    as_of: str | pd.Timestamp,
    leads: pd.DataFrame | None = None,
    by: str = "channel",
    window_days: int = 30,
    lead_window_days: int = 7,
) -> pd.DataFrame:
    """Lead → added contact → first order within ``window_days``, per group, with censoring.

    Parameters
    ----------
    contacts : DataFrame
        Contract ``contacts``.
    first_orders : DataFrame
        ``user_id``, ``days_to_first_order`` (from :func:`helpers.features.first_orders_after_add`).
    as_of : str or Timestamp
        Snapshot time: windows not closed by then are censored.
    leads : DataFrame, optional
        Contract ``leads``. Without it the funnel starts at the added contact.
    by : str
        Group column present in both tables (``channel``, ``campaign_id``, ``variant``).
    window_days : int
        Conversion window after the add.
    lead_window_days : int
        A lead counts as added if it was added within this many days; younger leads are censored.

    Returns
    -------
    DataFrame
        Per group: ``leads`` (whose add window closed), ``leads_added``, ``add_rate`` = leads_added / leads;
        ``contacts``, ``eligible`` (conversion window closed), ``censored`` = contacts − eligible,
        ``first_orders`` (within the window, among eligible), ``conversion`` = first_orders / eligible,
        ``lead_to_order`` = add_rate × conversion, ``median_days_to_first_order`` (among converted).
    """
    as_of = pd.Timestamp(as_of)
    flags = conversion_flags(contacts, first_orders, window_days, as_of)
    g = contacts[by].fillna("(none)")
    out = pd.DataFrame(
        {
            "contacts": g.groupby(g).size(),
            "eligible": flags["eligible"].groupby(g).sum(),
            "first_orders": flags["converted"].groupby(g).sum(),
            "median_days_to_first_order": flags["days_to_first_order"].where(flags["converted"]).groupby(g).median(),
        }
    )
    out["censored"] = out["contacts"] - out["eligible"]
    out["conversion"] = out["first_orders"] / out["eligible"].where(out["eligible"] > 0)
    if leads is not None and len(leads):
        lm = leads[leads["created_at"] + lead_window_days * DAY <= as_of]
        lg = lm[by].fillna("(none)")
        c_added = contacts.set_index("user_id")["added_at"]
        added_at = lm["user_id"].map(c_added)
        added = added_at.notna() & (added_at - lm["created_at"] <= lead_window_days * DAY)
        out = out.join(
            pd.DataFrame({"leads": lg.groupby(lg).size(), "leads_added": added.groupby(lg).sum()}), how="outer"
        )
        out["add_rate"] = out["leads_added"] / out["leads"].where(out["leads"] > 0)
        out["lead_to_order"] = out["add_rate"] * out["conversion"]
        cols = [
            "leads",
            "leads_added",
            "add_rate",
            "contacts",
            "eligible",
            "censored",
            "first_orders",
            "conversion",
            "lead_to_order",
            "median_days_to_first_order",
        ]
    else:
        cols = ["contacts", "eligible", "censored", "first_orders", "conversion", "median_days_to_first_order"]
    out.index.name = by
    ints = [c for c in ("leads", "leads_added", "contacts", "eligible", "censored", "first_orders") if c in out]
    out[ints] = out[ints].fillna(0).astype("int64")
    return out[cols].sort_values("contacts", ascending=False).reset_index()


def plot_funnel(f: pd.DataFrame, by: str = "channel", ax: plt.Axes | None = None) -> plt.Axes:
    """Bars of the funnel's step rates per group: add rate (if leads), conversion within the window.

    Parameters
    ----------
    f : DataFrame
        Output of :func:`funnel`.
    by : str
        The group column of ``f``.
    ax : Axes, optional
        Where to draw.

    Returns
    -------
    Axes
        The axes drawn on.
    """
    if ax is None:
        _, ax = plt.subplots()
    cols = [c for c in ("add_rate", "conversion", "lead_to_order") if c in f]
    labels = {
        "add_rate": "lead → added 加好友率",
        "conversion": "added → first order 首单转化率",
        "lead_to_order": "lead → first order 线索到首单",
    }
    f.set_index(by)[cols].rename(columns=labels).plot.bar(ax=ax, rot=0)
    ax.yaxis.set_major_formatter(plt.matplotlib.ticker.PercentFormatter(1.0))
    ax.set_xlabel(by)
    ax.set_ylabel("rate (eligible denominators) 转化率")
    ax.set_title("Funnel step rates by group 分组漏斗转化率")
    return ax


# ------------------------------------------------------------------------------------------ variant tests
def minimum_detectable_effect(
    p0: float, n_control: int, n_variant: int, alpha: float = 0.05, power: float = 0.8
) -> float:
    """Smallest absolute increase over ``p0`` that a two-sided test detects with ``power``.

    Uses Cohen's h with the normal approximation (statsmodels ``NormalIndPower``).

    Examples
    --------
    >>> round(minimum_detectable_effect(0.30, 1000, 1000), 3)
    0.059
    """
    if min(n_control, n_variant) < 2 or not 0 <= p0 < 1:
        return float("nan")
    h = NormalIndPower().solve_power(
        effect_size=None, nobs1=n_control, alpha=alpha, power=power, ratio=n_variant / n_control
    )
    p1 = np.sin(np.arcsin(np.sqrt(p0)) + h / 2) ** 2
    return float(p1 - p0)


def compare_variants(
    df: pd.DataFrame,
    variant: str,
    success: str,
    control: str | None = None,
    alpha: float = 0.05,
    power: float = 0.8,
    min_count: int = 5,
) -> pd.DataFrame:
    """Compare success rates of variants (invitation scripts 话术, content versions) against a control.

    Parameters
    ----------
    df : DataFrame
        One row per unit (lead, contact) that could succeed; rows with an empty ``variant`` are ignored.
    variant : str
        Column naming the variant.
    success : str
        Boolean column: did the unit succeed (was added, ordered within the window …)?
    control : str, optional
        The reference variant; default the first in sorted order.
    alpha : float
        Significance level; intervals are ``1 - alpha`` (95 % by default).
    power : float
        Power for the minimum detectable effect.
    min_count : int
        Each arm needs at least this many successes and failures before a winner can be called.

    Returns
    -------
    DataFrame
        One row per variant: ``n``, ``successes``, ``rate``, ``ci_low``, ``ci_high`` (Wilson score interval);
        ``diff`` vs control with ``diff_ci_low``, ``diff_ci_high`` (Newcombe hybrid score interval), ``p_value``
        (score test), ``p_adjusted`` (Holm, for several variants), ``mde`` (minimum detectable effect at
        ``power``) and a plain-language ``verdict``.

    Examples
    --------
    >>> ok = [True] * 45 + [False] * 55 + [True] * 60 + [False] * 40
    >>> r = compare_variants(pd.DataFrame({"v": ["A"] * 100 + ["B"] * 100, "ok": ok}), "v", "ok")
    >>> r[["variant", "n", "successes", "rate"]].to_dict("records")  # doctest: +NORMALIZE_WHITESPACE
    [{'variant': 'A', 'n': 100, 'successes': 45, 'rate': 0.45},
     {'variant': 'B', 'n': 100, 'successes': 60, 'rate': 0.6}]
    """
    d = df[df[variant].notna()]
    if d.empty:
        raise ValueError(f"no rows with a {variant!r} value: nothing to compare")
    s = d[success].astype(bool)
    g = s.groupby(d[variant].astype(str))
    stats = pd.DataFrame({"n": g.size(), "successes": g.sum().astype("int64")})
    names = sorted(stats.index)
    if control is None or control == "":
        control = names[0]
    if control not in stats.index:
        raise ValueError(f"control variant {control!r} not found; variants are {', '.join(names)}")
    stats["rate"] = stats["successes"] / stats["n"]
    lo, hi = proportion_confint(stats["successes"], stats["n"], alpha=alpha, method="wilson")
    stats["ci_low"], stats["ci_high"] = lo, hi
    c_n, c_s = int(stats.loc[control, "n"]), int(stats.loc[control, "successes"])
    c_rate = c_s / c_n
    rows = []
    for v in [control, *[x for x in names if x != control]]:
        n, k = int(stats.loc[v, "n"]), int(stats.loc[v, "successes"])
        row = {"variant": v, **stats.loc[v].to_dict(), "n": n, "successes": k}
        if v == control:
            row.update(diff=0.0, diff_ci_low=np.nan, diff_ci_high=np.nan, p_value=np.nan, mde=np.nan)
        else:
            dlo, dhi = confint_proportions_2indep(k, n, c_s, c_n, method="newcomb", compare="diff", alpha=alpha)
            test = _score_test(k, n, c_s, c_n, method="score", compare="diff")
            row.update(
                diff=k / n - c_rate,
                diff_ci_low=float(dlo),
                diff_ci_high=float(dhi),
                p_value=float(test.pvalue),
                mde=minimum_detectable_effect(c_rate, c_n, n, alpha, power),
            )
        rows.append(row)
    out = pd.DataFrame(rows)
    others = out["variant"] != control
    out["p_adjusted"] = out["p_value"]  # one comparison: nothing to adjust
    if others.sum() > 1:
        out.loc[others, "p_adjusted"] = multipletests(out.loc[others, "p_value"], alpha=alpha, method="holm")[1]
    out["verdict"] = [_verdict(r, control, alpha, min_count, c_s, c_n) for r in out.itertuples()]
    cols = [
        "variant",
        "n",
        "successes",
        "rate",
        "ci_low",
        "ci_high",
        "diff",
        "diff_ci_low",
        "diff_ci_high",
        "p_value",
        "p_adjusted",
        "mde",
        "verdict",
    ]
    return out[cols]


def _verdict(r, control: str, alpha: float, min_count: int, c_s: int, c_n: int) -> str:
    if r.variant == control:
        return "control 对照"
    small = min(r.successes, r.n - r.successes, c_s, c_n - c_s) < min_count
    if small:
        return (
            f"too few to tell 样本不足: each arm needs ≥ {min_count} successes and failures; "
            f"only differences ≥ {r.mde:.1%} would show"
            if np.isfinite(r.mde)
            else "too few to tell 样本不足"
        )
    ci = f"{r.diff:+.1%} (95% CI {r.diff_ci_low:+.1%} to {r.diff_ci_high:+.1%})"
    if r.p_adjusted < alpha and r.diff_ci_low > 0:
        return f"{r.variant} beats {control} 胜出: {ci}"
    if r.p_adjusted < alpha and r.diff_ci_high < 0:
        return f"{r.variant} is worse than {control} 更差: {ci}"
    return f"no detectable difference 无显著差异: {ci}; this sample detects only ±{r.mde:.1%} or more"


def plot_variants(result: pd.DataFrame, ax: plt.Axes | None = None, title: str = "") -> plt.Axes:
    """Rates per variant with their 95 % intervals (error bars), control dashed.

    Parameters
    ----------
    result : DataFrame
        Output of :func:`compare_variants`.
    ax : Axes, optional
        Where to draw.
    title : str
        Title; default names the comparison.

    Returns
    -------
    Axes
        The axes drawn on.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    y = np.arange(len(result))
    err = np.vstack([result["rate"] - result["ci_low"], result["ci_high"] - result["rate"]])
    ax.errorbar(result["rate"], y, xerr=err, fmt="o", capsize=5)
    ax.axvline(result["rate"].iloc[0], ls="--", color="grey", lw=1)
    ax.set_yticks(y, [f"{v} (n={n:,})" for v, n in zip(result["variant"], result["n"], strict=True)])
    ax.invert_yaxis()
    ax.xaxis.set_major_formatter(plt.matplotlib.ticker.PercentFormatter(1.0))
    ax.set_xlabel("success rate with 95% Wilson interval 成功率及95%置信区间")
    ax.set_ylabel("variant 话术版本")
    ax.set_title(title or "Variant rates 各话术版本转化率")
    return ax


# --------------------------------------------------------------------------------- friend survival (好友流失)
def _durations(contacts: pd.DataFrame, as_of: pd.Timestamp) -> tuple[pd.Series, pd.Series]:
    c = contacts[contacts["added_at"] <= as_of]
    removed = c["removed_at"].notna() & (c["removed_at"] <= as_of)
    end = c["removed_at"].where(removed, as_of)
    days = (end - c["added_at"]).dt.total_seconds() / 86400.0
    return days.clip(lower=0), removed


def friend_survival(contacts: pd.DataFrame, as_of: str | pd.Timestamp, by: str | None = "channel") -> dict:
    """Kaplan–Meier survival of the friend relationship (still a contact), censored at ``as_of``.

    A contact removed (deleted or blocked) is an event at its removal; a contact still a friend at ``as_of``
    is censored there — it has survived *so far*, not forever.

    Parameters
    ----------
    contacts : DataFrame
        Contract ``contacts``.
    as_of : str or Timestamp
        End of observation.
    by : str, optional
        Group column; ``None`` for one curve.

    Returns
    -------
    dict
        Group name → fitted lifelines ``KaplanMeierFitter`` (days since add); empty when the export has no
        removal times at all (retention is then not measured — a flat 100 % curve would claim it was).
    """
    if not removals_measured(contacts):
        return {}
    as_of = pd.Timestamp(as_of)
    days, removed = _durations(contacts, as_of)
    groups = contacts.loc[days.index, by] if by else pd.Series("all", index=days.index)
    out = {}
    for name, idx in groups.groupby(groups).groups.items():
        km = KaplanMeierFitter(label=str(name))
        km.fit(days.loc[idx], removed.loc[idx])
        out[str(name)] = km
    return out


def deletion_rates(
    contacts: pd.DataFrame, as_of: str | pd.Timestamp, days: tuple[int, ...] = (7, 30, 90), by: str | None = "channel"
) -> pd.DataFrame:
    """Share of contacts who deleted / blocked us within ``d`` days of being added (1 − KM survival).

    Returns
    -------
    DataFrame
        One row per group and day: ``contacts``, ``at_risk`` (still observed at day ``d``), ``deletion_rate``,
        ``ci_low``, ``ci_high`` (95 % KM interval). NaN when nobody in the group was followed ``d`` days, and
        for every row when the export has no removal times (``attrs["not_measured"]`` says why).
    """
    if not removals_measured(contacts):
        groups = contacts[by].astype(str) if by else pd.Series("all", index=contacts.index)
        sizes = groups.value_counts()
        rows = [{"group": g, "day": d, "contacts": int(n), "at_risk": np.nan} for g, n in sizes.items() for d in days]
        frame = pd.DataFrame(rows, columns=["group", "day", "contacts", "at_risk"])
        return mark_not_measured(frame, ["deletion_rate", "ci_low", "ci_high"], input_missing("removals"))
    fits = friend_survival(contacts, as_of, by)
    rows = []
    for name, km in fits.items():
        n = int(km.event_table["at_risk"].iloc[0])
        followed = km.durations.max()
        ci = km.confidence_interval_survival_function_
        for d in days:
            if d > followed:
                rows.append(
                    {
                        "group": name,
                        "day": d,
                        "contacts": n,
                        "at_risk": 0,
                        "deletion_rate": np.nan,
                        "ci_low": np.nan,
                        "ci_high": np.nan,
                    }
                )
                continue
            s = float(km.survival_function_at_times(d).iloc[0])
            row_ci = ci[ci.index <= d].iloc[-1]
            at_risk = int((km.durations >= d).sum())
            rows.append(
                {
                    "group": name,
                    "day": d,
                    "contacts": n,
                    "at_risk": at_risk,
                    "deletion_rate": 1 - s,
                    "ci_low": 1 - float(row_ci.iloc[1]),
                    "ci_high": 1 - float(row_ci.iloc[0]),
                }
            )
    return pd.DataFrame(rows)


def plot_deletion_curves(fits: dict, ax: plt.Axes | None = None, max_days: int = 180) -> plt.Axes:
    """Kaplan–Meier curves of the share still a contact, one per group, with 95 % bands.

    Parameters
    ----------
    fits : dict
        Output of :func:`friend_survival`.
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
        km.plot_survival_function(ax=ax, ci_show=True, ci_alpha=0.15)
    ax.set_xlim(0, max_days)
    ax.yaxis.set_major_formatter(plt.matplotlib.ticker.PercentFormatter(1.0))
    ax.set_xlabel("days since added 加好友后天数")
    ax.set_ylabel("still a contact (KM) 好友留存率")
    ax.set_title("Friend retention by channel, censored at as_of 各渠道好友留存曲线")
    ax.legend(fontsize="small")
    return ax


# ---------------------------------------------------------------------------------------- CAC and payback
def acquisition_cost(
    contacts: pd.DataFrame,
    first_orders: pd.DataFrame,
    *,
    as_of: str | pd.Timestamp,
    start: str,
    end: str,
    spend: pd.DataFrame | None = None,
    campaigns: pd.DataFrame | None = None,
    window_days: int = 30,
) -> pd.DataFrame:
    """Spend, adds, CAC (spend / adds) and cost per first buyer by channel, over the window ``start..end``.

    Spend comes from ``spend`` (days in the window); without it, from ``campaigns.cost`` of the campaigns named
    by contacts' ``campaign_id``, split across channels in proportion to those contacts (whole-campaign cost,
    not prorated to the window).

    Returns
    -------
    DataFrame
        ``channel``, ``spend``, ``adds``, ``cac``, ``eligible``, ``first_buyers`` (first order within
        ``window_days``, among contacts whose window closed), ``cost_per_first_buyer`` (spend × eligible share
        / first buyers), ``spend_source``.
    """
    lo, hi = pd.Timestamp(start), pd.Timestamp(end) + DAY
    c = contacts[(contacts["added_at"] >= lo) & (contacts["added_at"] < hi)]
    flags = conversion_flags(c, first_orders, window_days, pd.Timestamp(as_of))
    out = pd.DataFrame(
        {
            "adds": c.groupby("channel").size(),
            "eligible": flags["eligible"].groupby(c["channel"]).sum(),
            "first_buyers": flags["converted"].groupby(c["channel"]).sum(),
        }
    )
    if spend is not None and len(spend):
        s = spend[(spend["date"] >= lo) & (spend["date"] < hi)]
        out["spend"] = s.groupby("channel")["cost"].sum()
        source = "spend table"
    elif campaigns is not None and len(campaigns) and campaigns["cost"].notna().any():
        share = c.groupby(["campaign_id", "channel"]).size()
        share = share / share.groupby(level=0).transform("sum")
        cost = campaigns.set_index("campaign_id")["cost"]
        alloc = share * cost.reindex(share.index.get_level_values(0)).to_numpy()
        out["spend"] = alloc.groupby(level=1).sum()
        source = "campaign cost"
    else:
        out["spend"] = np.nan
        source = "none"
    out = out.fillna({"adds": 0, "eligible": 0, "first_buyers": 0})
    out["cac"] = out["spend"] / out["adds"].where(out["adds"] > 0)
    eligible_spend = out["spend"] * out["eligible"] / out["adds"].where(out["adds"] > 0)
    out["cost_per_first_buyer"] = eligible_spend / out["first_buyers"].where(out["first_buyers"] > 0)
    out["spend_source"] = source
    out.index.name = "channel"
    for col in ("adds", "eligible", "first_buyers"):
        out[col] = out[col].astype("int64")
    cols = ["spend", "adds", "cac", "eligible", "first_buyers", "cost_per_first_buyer", "spend_source"]
    return out[cols].sort_values("adds", ascending=False).reset_index()


def _cohort_sizes(contacts: pd.DataFrame) -> pd.DataFrame:
    c = contacts.assign(cohort=contacts["added_at"].dt.to_period("M").dt.start_time)
    return c.groupby(["cohort", "channel"]).agg(contacts=("user_id", "size"), last_add=("added_at", "max"))


def payback(
    cohort_rev: pd.DataFrame,
    contacts: pd.DataFrame,
    cac: pd.DataFrame,
    *,
    as_of: str | pd.Timestamp,
    period_days: int = 30,
    margin: float = 1.0,
    max_periods: int = 12,
) -> pd.DataFrame:
    """Cumulative value per acquired contact by period since add, against the channel's CAC.

    Each period's value per contact pools only the monthly cohorts that were fully observed through that
    period (their last add + ``(k + 1) * period_days`` ≤ ``as_of``), so young cohorts never pull the curve down.

    Parameters
    ----------
    cohort_rev : DataFrame
        ``cohort``, ``channel``, ``period``, ``gmv`` (from :func:`helpers.features.cohort_revenue`).
    contacts : DataFrame
        Contract ``contacts`` (for cohort sizes).
    cac : DataFrame
        ``channel``, ``cac`` (from :func:`acquisition_cost`).
    as_of : str or Timestamp
        End of observation.
    period_days : int
        Period length used by ``cohort_rev``.
    margin : float
        Gross margin applied to GMV (1.0 = compare GMV itself with CAC).
    max_periods : int
        Periods shown.

    Returns
    -------
    DataFrame
        ``channel``, ``period``, ``contacts`` (in fully observed cohorts), ``value_per_contact`` (this period),
        ``cum_value_per_contact``, ``cac``, ``ltv_to_cac`` (cumulative value / CAC), ``paid_back``.
    """
    as_of = pd.Timestamp(as_of)
    sizes = _cohort_sizes(contacts).reset_index()
    rev = cohort_rev.set_index(["cohort", "channel", "period"])["gmv"]
    rows = []
    for ch, sz in sizes.groupby("channel"):
        cum = 0.0
        for k in range(max_periods):
            observed = sz[sz["last_add"] + (k + 1) * period_days * DAY <= as_of]
            if observed.empty:
                break
            n = int(observed["contacts"].sum())
            keys = [(co, ch, k) for co in observed["cohort"]]
            gmv = float(rev.reindex(keys).fillna(0).sum())
            v = margin * gmv / n
            cum += v
            rows.append(
                {"channel": ch, "period": k, "contacts": n, "value_per_contact": v, "cum_value_per_contact": cum}
            )
    out = pd.DataFrame(rows, columns=["channel", "period", "contacts", "value_per_contact", "cum_value_per_contact"])
    out = out.merge(cac[["channel", "cac"]], on="channel", how="left")
    out["ltv_to_cac"] = out["cum_value_per_contact"] / out["cac"]
    out["paid_back"] = out["cum_value_per_contact"] >= out["cac"]
    return out


def payback_summary(pb: pd.DataFrame, horizon_periods: int = 6) -> pd.DataFrame:
    """One row per channel: CAC, periods observed, the payback period and LTV/CAC after ``horizon_periods``.

    Parameters
    ----------
    pb : DataFrame
        Output of :func:`payback`.
    horizon_periods : int
        The LTV/CAC column is read after this many periods (6 × 30 days by default); NaN when a channel has not
        been observed that long (censored, not zero).

    Returns
    -------
    DataFrame
        Indexed by channel: ``cac``, ``periods_observed``, ``payback_period`` (the first period, counted from 1,
        whose cumulative value per contact reached CAC; NaN if not yet), ``ltv_to_cac_<horizon_periods>``.

    Examples
    --------
    >>> pb = pd.DataFrame({"channel": ["a"] * 3, "period": [0, 1, 2], "cac": 10.0,
    ...                    "paid_back": [False, True, True], "ltv_to_cac": [0.5, 1.1, 1.6]})
    >>> payback_summary(pb, horizon_periods=3).to_dict("records")
    [{'cac': 10.0, 'periods_observed': 3, 'payback_period': 2, 'ltv_to_cac_3': 1.6}]
    """
    g = pb.groupby("channel")
    out = g.agg(cac=("cac", "first"), periods_observed=("period", "max"))
    out["periods_observed"] += 1
    out["payback_period"] = (pb[pb["paid_back"]].groupby("channel")["period"].min() + 1).reindex(out.index)
    at = pb[pb["period"] == horizon_periods - 1].set_index("channel")["ltv_to_cac"]
    out[f"ltv_to_cac_{horizon_periods}"] = at.reindex(out.index)
    return out


def plot_payback(pb: pd.DataFrame, ax: plt.Axes | None = None) -> plt.Axes:
    """Cumulative value per contact ÷ CAC by period; the line at 1 is payback.

    Parameters
    ----------
    pb : DataFrame
        Output of :func:`payback`.
    ax : Axes, optional
        Where to draw.

    Returns
    -------
    Axes
        The axes drawn on.
    """
    if ax is None:
        _, ax = plt.subplots()
    for ch, d in pb.groupby("channel"):
        ax.plot(d["period"] + 1, d["ltv_to_cac"], marker="o", ms=3, label=str(ch))
    ax.axhline(1.0, color="black", lw=1, ls="--")
    ax.set_yscale("log")
    ax.set_xlabel("periods (30 days) since added 加好友后月数")
    ax.set_ylabel("cumulative value / CAC (log) 累计价值/获客成本")
    ax.set_title("Payback: cumulative value per contact over CAC 回本曲线")
    ax.legend(fontsize="small", ncol=2)
    return ax


def cohort_retention(
    contacts: pd.DataFrame,
    cohort_rev: pd.DataFrame,
    *,
    as_of: str | pd.Timestamp,
    period_days: int = 30,
    max_periods: int = 12,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Monthly acquisition cohorts: share still a contact and share purchasing, period by period.

    A cell is NaN (not 0) when the cohort has not been observed through that whole period.

    Returns
    -------
    still_contact : DataFrame
        Index cohort month, columns period 0..; share of the cohort still a friend at the period's end (all NaN
        when the export has no removal times: not measured).
    purchasing : DataFrame
        Same shape: share of the cohort with a paid order in the period.
    """
    as_of = pd.Timestamp(as_of)
    c = contacts.assign(cohort=contacts["added_at"].dt.to_period("M").dt.start_time)
    size = c.groupby("cohort").size()
    last_add = c.groupby("cohort")["added_at"].max()
    life = (c["removed_at"] - c["added_at"]).dt.total_seconds() / 86400.0
    buyers = cohort_rev.groupby(["cohort", "period"])["buyers"].sum()
    still, buying = {}, {}
    for k in range(max_periods):
        observed = last_add + (k + 1) * period_days * DAY <= as_of
        alive = (life.isna() | (life >= (k + 1) * period_days)).groupby(c["cohort"]).mean()
        still[k] = alive.where(observed)
        b = buyers.xs(k, level="period") if k in buyers.index.get_level_values("period") else pd.Series(dtype=float)
        buying[k] = (b.reindex(size.index).fillna(0) / size).where(observed)
    still, buying = pd.DataFrame(still), pd.DataFrame(buying)
    if not removals_measured(contacts):
        still = mark_not_measured(still, list(still.columns), input_missing("removals"))
    return still, buying


def plot_cohort_heatmap(table: pd.DataFrame, title: str, ax: plt.Axes | None = None) -> plt.Axes:
    """Heatmap of a cohort × period share table (from :func:`cohort_retention`), censored cells blank.

    Parameters
    ----------
    table : DataFrame
        Index cohort month, columns period.
    title : str
        Title.
    ax : Axes, optional
        Where to draw.

    Returns
    -------
    Axes
        The axes drawn on.
    """
    import seaborn as sns

    if ax is None:
        _, ax = plt.subplots(figsize=(10, 5))
    t = table.copy()
    t.index = [i.strftime("%Y-%m") for i in t.index]
    sns.heatmap(t, annot=True, fmt=".0%", cmap="Blues", cbar=False, ax=ax, annot_kws={"fontsize": 7})
    ax.grid(False)
    ax.set_xlabel("period (30 days) since added 加好友后第几个月")
    ax.set_ylabel("cohort (month added) 加好友月份")
    ax.set_title(title)
    return ax


def plot_net_adds(adds: pd.DataFrame, by: str = "channel", ax: plt.Axes | None = None) -> plt.Axes:
    """Net adds (adds − removals) per period, one line per group.

    Parameters
    ----------
    adds : DataFrame
        Output of :func:`adds_over_time`.
    by : str
        Group column of ``adds``.
    ax : Axes, optional
        Where to draw.

    Returns
    -------
    Axes
        The axes drawn on.
    """
    if ax is None:
        _, ax = plt.subplots()
    measured = adds["net_adds"].notna().any()
    value = "net_adds" if measured else "adds"
    wide = adds.pivot_table(index="period", columns=by, values=value, aggfunc="sum").fillna(0)
    wide.plot(ax=ax)
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xlabel("period 周期")
    if measured:
        ax.set_ylabel("net adds = adds − removals 净增好友")
        ax.set_title("Net adds per period by channel 各渠道净增好友")
    else:
        ax.set_ylabel("adds 新增好友")
        ax.set_title("Adds per period by channel (removals not measured: no net adds) 各渠道新增（删除未测量）")
    ax.legend(fontsize="small", ncol=3)
    return ax

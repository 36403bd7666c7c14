"""The one-page summary (总结): period KPIs and why revenue moved.

Revenue identity over a period, for the contacts who were friends during it:

    GMV = traffic × conversion × AOV × purchase frequency
        = contacts × (buyers / contacts) × (GMV / orders) × (orders / buyers)

The change in GMV between two periods is split into the four factors' contributions with the Shapley
decomposition (the average of each factor's effect over every order of changing them), which adds up exactly to
the change; the log-mean Divisia (LMDI) split is offered as a check.
"""

from __future__ import annotations

import itertools
from math import factorial, log

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from helpers.definitions import removals_measured

__all__ = ["FACTORS", "KPI_NAMES", "decompose", "kpi_table", "period_kpis", "plot_waterfall"]

#: Factors of the revenue identity, in order, with their Chinese names.
FACTORS = {
    "traffic": "流量 (contacts)",
    "conversion": "转化率 (buyers / contacts)",
    "aov": "客单价 (GMV / order)",
    "frequency": "购买频次 (orders / buyer)",
}


#: Display names of the KPIs of :func:`period_kpis`.
KPI_NAMES = {
    "contacts_end": "contacts 好友数",
    "traffic": "traffic 流量 (friends in period)",
    "adds": "adds 新增",
    "removals": "removals 删除",
    "net_adds": "net adds 净增",
    "deletion_rate": "deletion rate 删除率",
    "buyers": "buyers 购买人数",
    "conversion": "conversion 转化率",
    "orders": "orders 订单数",
    "aov": "AOV 客单价",
    "frequency": "orders per buyer 人均订单",
    "repurchase_rate": "repurchase rate 复购率",
    "gross_gmv": "gross GMV 成交额（含退款）",
    "refunds": "refunds 退款",
    "gmv": "net GMV 净成交额",
}


def kpi_table(kpis: dict[str, dict], currency: str = "¥"):
    """Side-by-side KPI table of two periods with change and % change, formatted for display.

    Parameters
    ----------
    kpis : dict
        Period name → output of :func:`period_kpis` (previous first, current second).
    currency : str
        Currency symbol.

    Returns
    -------
    pandas.io.formats.style.Styler
        The formatted table (``.data`` holds the numbers).
    """
    table = pd.DataFrame(kpis).drop(index="removals_measured", errors="ignore").astype(float)
    prev, cur = table.columns[:2]
    table["change 变化"] = table[cur] - table[prev]
    table["change % 变化率"] = table["change 变化"] / table[prev].where(table[prev] != 0)
    table = table.rename(index=KPI_NAMES)
    styled = table.style
    for key, label in KPI_NAMES.items():
        if key in ("deletion_rate", "conversion", "repurchase_rate"):
            f = "{:.1%}"
        elif key in ("aov", "gmv", "gross_gmv", "refunds"):
            f = currency + "{:,.0f}"
        elif key == "frequency":
            f = "{:,.2f}"
        else:
            f = "{:,.0f}"
        styled = styled.format(
            f, subset=pd.IndexSlice[[label], [prev, cur, "change 变化"]], na_rep="not measured 未测量"
        )
    return styled.format("{:+.1%}", subset=["change % 变化率"], na_rep="")


def period_kpis(
    contacts: pd.DataFrame, sales: pd.DataFrame, start: str | pd.Timestamp, end: str | pd.Timestamp
) -> dict:
    """KPIs of one period (days ``start..end`` inclusive), on the workbook's sales definitions.

    Parameters
    ----------
    contacts : DataFrame
        Contract ``contacts``.
    sales : DataFrame
        Per customer in the period (:func:`helpers.features.window_sales`): ``user_id``, ``gross``, ``refunds``,
        ``net``, ``purchase_days`` (occasions) and ``orders`` (paid orders on them).
    start, end : str or Timestamp
        The period.

    Returns
    -------
    dict
        ``contacts_end`` (friends at the end), ``traffic`` (friends at any time in the period), ``adds``,
        ``removals``, ``net_adds``, ``deletion_rate`` (removals ÷ (friends at start + adds)), ``buyers``
        (traffic contacts with a purchase occasion in the period), ``conversion`` (buyers ÷ traffic),
        ``orders`` (paid orders on those occasions), ``aov`` (net GMV ÷ orders), ``frequency`` (orders ÷ buyers),
        ``repurchase_rate`` (buyers with occasions on ≥ 2 days ÷ buyers, in the period), ``gross_gmv`` (paid orders
        placed in the period), ``refunds`` (processed in the period), ``gmv`` (net = gross − refunds), and
        ``removals_measured``. Without removal times in the export, removals, net adds and the deletion rate are
        NaN (not measured) and friend counts include everyone ever added (an upper bound).
    """
    lo, hi = pd.Timestamp(start).normalize(), pd.Timestamp(end).normalize() + pd.Timedelta(days=1)
    c = contacts
    measured = removals_measured(c)
    alive_at = lambda t: (c["added_at"] < t) & (c["removed_at"].isna() | (c["removed_at"] >= t))  # noqa: E731
    during = (c["added_at"] < hi) & (c["removed_at"].isna() | (c["removed_at"] >= lo))
    adds = int(((c["added_at"] >= lo) & (c["added_at"] < hi)).sum())
    removals = int((c["removed_at"].notna() & (c["removed_at"] >= lo) & (c["removed_at"] < hi)).sum())
    start_n = int(alive_at(lo).sum())
    s = sales[sales["user_id"].isin(c.loc[during, "user_id"])]
    b = s[s["purchase_days"] > 0]
    traffic = int(during.sum())
    n_buyers, orders = len(b), int(b["orders"].sum())
    gross, refunds = float(s["gross"].sum()), float(s["refunds"].sum())
    net = round(gross - refunds, 2)
    nan = float("nan")
    return {
        "contacts_end": int(alive_at(hi).sum()),
        "traffic": traffic,
        "adds": adds,
        "removals": removals if measured else nan,
        "net_adds": adds - removals if measured else nan,
        "deletion_rate": (removals / (start_n + adds) if start_n + adds else nan) if measured else nan,
        "buyers": n_buyers,
        "conversion": n_buyers / traffic if traffic else nan,
        "orders": orders,
        "aov": net / orders if orders else nan,
        "frequency": orders / n_buyers if n_buyers else nan,
        "repurchase_rate": float((b["purchase_days"] >= 2).mean()) if n_buyers else nan,
        "gross_gmv": gross,
        "refunds": refunds,
        "gmv": net,
        "removals_measured": measured,
    }


def decompose(before: dict, after: dict, method: str = "shapley") -> pd.Series:
    """Split the change of a product of factors into each factor's contribution (they sum to the change).

    Parameters
    ----------
    before, after : dict
        Factor values of the two periods (keys of :data:`FACTORS`, or any factors whose product is the total).
    method : {"shapley", "lmdi"}
        ``shapley``: average contribution over all orders of changing the factors (exact for any values);
        ``lmdi``: log-mean Divisia, L(Y1, Y0) · ln(x1 / x0) per factor (needs positive values).

    Returns
    -------
    Series
        Contribution per factor.

    Examples
    --------
    >>> c = decompose({"a": 10, "b": 2}, {"a": 12, "b": 3})
    >>> round(float(c.sum()), 9), c.round(3).to_dict()
    (16.0, {'a': 5.0, 'b': 11.0})
    """
    keys = list(before)
    if set(keys) != set(after):
        raise ValueError("both periods need the same factors")
    x0 = {k: float(before[k]) for k in keys}
    x1 = {k: float(after[k]) for k in keys}
    if method == "lmdi":
        y0, y1 = np.prod(list(x0.values())), np.prod(list(x1.values()))
        if min(*x0.values(), *x1.values()) <= 0:
            raise ValueError("LMDI needs positive factors; use method='shapley'")
        lm = (y1 - y0) / (log(y1) - log(y0)) if y1 != y0 else y0
        return pd.Series({k: lm * log(x1[k] / x0[k]) for k in keys})
    if method != "shapley":
        raise ValueError("method must be 'shapley' or 'lmdi'")
    n = len(keys)
    out = dict.fromkeys(keys, 0.0)
    for k in keys:
        others = [j for j in keys if j != k]
        for size in range(n):
            w = factorial(size) * factorial(n - size - 1) / factorial(n)
            for changed in itertools.combinations(others, size):
                base = np.prod([x1[j] if j in changed else x0[j] for j in others])
                out[k] += w * base * (x1[k] - x0[k])
    return pd.Series(out)


def plot_waterfall(
    start_value: float,
    contributions: pd.Series,
    end_value: float,
    labels: dict | None = None,
    ax: plt.Axes | None = None,
    currency: str = "¥",
) -> plt.Axes:
    """Waterfall from the previous period's GMV through each factor's contribution to this period's GMV.

    Parameters
    ----------
    start_value, end_value : float
        GMV of the previous and the current period.
    contributions : Series
        Output of :func:`decompose` (sums to ``end_value - start_value``).
    labels : dict, optional
        Display name per factor.
    ax : Axes, optional
        Where to draw.
    currency : str
        Currency symbol for the bar labels.

    Returns
    -------
    Axes
        The axes drawn on.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 4.5))
    names = ["previous 上期", *[(labels or {}).get(k, k) for k in contributions.index], "current 本期"]
    bottoms, heights, colors = [0.0], [start_value], ["#8c8c8c"]
    level = start_value
    for v in contributions:
        bottoms.append(level if v >= 0 else level + v)
        heights.append(abs(v))
        colors.append("#55a868" if v >= 0 else "#c44e52")
        level += v
    bottoms.append(0.0)
    heights.append(end_value)
    colors.append("#4c72b0")
    x = np.arange(len(names))
    ax.bar(x, heights, bottom=bottoms, color=colors, width=0.6)
    signed = [start_value, *contributions.tolist(), end_value]
    for xi, b, h, v in zip(x, bottoms, heights, signed, strict=True):
        sign = ("+" if v >= 0 else "−") if 0 < xi < len(x) - 1 else ""
        ax.annotate(f"{sign}{currency}{abs(v):,.0f}", (xi, b + h), ha="center", va="bottom", fontsize="small")
    ax.set_xticks(x, [n.replace(" (", "\n(") for n in names], fontsize="small")
    levels = np.cumsum([start_value, *contributions.tolist()])
    low, high = float(min(levels.min(), end_value)), float(max(levels.max(), end_value))
    if high > 0 and (high - low) < 0.5 * high:  # small changes: zoom in, and say the axis does not start at 0
        ax.set_ylim(max(0.0, low - 0.6 * (high - low) - 0.02 * high), high + 0.15 * (high - low) + 0.02 * high)
        ax.annotate(
            "y axis does not start at 0 纵轴未从0开始",
            (0.01, 0.01),
            xycoords="axes fraction",
            fontsize="x-small",
            color="grey",
        )
    ax.yaxis.set_major_formatter(plt.matplotlib.ticker.FuncFormatter(lambda v, _: f"{currency}{v:,.0f}"))
    ax.set_ylabel(f"GMV ({currency}) 成交额")
    ax.set_title("Why GMV moved: traffic × conversion × AOV × frequency 成交额变化分解")
    return ax

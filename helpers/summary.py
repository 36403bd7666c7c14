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

from helpers.definitions import adds_from_orders, input_missing, removals_measured

__all__ = [
    "FACTORS",
    "FACTOR_NAMES",
    "KPI_NAMES",
    "TEXT",
    "channel_period_table",
    "decompose",
    "headline",
    "kpi_frame",
    "kpi_table",
    "period_kpis",
    "plot_waterfall",
    "read_artifact",
    "show_kpis",
    "campaign_names",
    "campaign_table",
    "staff_table",
    "summary_periods",
]

#: Factors of the revenue identity, in order, with their Chinese names.
FACTORS = {
    "traffic": "流量 (contacts)",
    "conversion": "转化率 (buyers / contacts)",
    "aov": "客单价 (GMV / order)",
    "frequency": "购买频次 (orders / buyer)",
}


#: The factors' display names.
FACTOR_NAMES = {
    "traffic": {"zh": "流量（期内好友）", "en": "traffic (friends in period)"},
    "conversion": {"zh": "转化率", "en": "conversion"},
    "aov": {"zh": "客单价", "en": "AOV"},
    "frequency": {"zh": "购买频次", "en": "orders per buyer"},
}
#: Order value and orders per buyer moving in opposite directions, taken together by :func:`risk_sentence`.
SPEND_PER_BUYER = {"zh": "人均消费（客单价 × 购买频次）", "en": "spend per buyer (AOV × orders per buyer)"}

#: KPI rows of the lead's table: name, kind of value, and whether up is good (None: neither).
KPI_ROWS: dict[str, tuple[dict[str, str], str, bool | None]] = {
    "gmv": ({"zh": "净成交额（成交 − 退款）", "en": "net GMV (gross − refunds)"}, "money", True),
    "gross_gmv": ({"zh": "成交额（含退款）", "en": "gross GMV"}, "money", True),
    "refunds": ({"zh": "退款", "en": "refunds"}, "money", False),
    "traffic": (
        {"zh": "流量：期内任一时刻是好友的人", "en": "traffic: friends at any time in the period"},
        "int",
        True,
    ),
    "contacts_end": ({"zh": "期末好友数", "en": "friends at the end"}, "int", True),
    "adds": ({"zh": "新增好友", "en": "adds"}, "int", True),
    "removals": ({"zh": "删除好友", "en": "removals"}, "int", False),
    "net_adds": ({"zh": "净增好友", "en": "net adds"}, "int", True),
    "deletion_rate": (
        {"zh": "删除率：删除 ÷（期初好友 + 新增）", "en": "deletion rate: removals ÷ (friends at start + adds)"},
        "rate",
        False,
    ),
    "buyers": ({"zh": "购买人数", "en": "buyers"}, "int", True),
    "conversion": ({"zh": "转化率：购买人数 ÷ 流量", "en": "conversion: buyers ÷ traffic"}, "rate", True),
    "orders": ({"zh": "订单数", "en": "orders"}, "int", True),
    "aov": ({"zh": "客单价：净成交额 ÷ 订单数", "en": "AOV: net GMV ÷ orders"}, "money", True),
    "frequency": ({"zh": "人均订单：订单数 ÷ 购买人数", "en": "orders per buyer"}, "number", True),
    "repurchase_rate": (
        {"zh": "期内复购率：两天及以上购买 ÷ 购买人数", "en": "repurchase in period: buyers on 2+ days ÷ buyers"},
        "rate",
        True,
    ),
}

#: KPIs that are bounds when the export records no removal times (friend counts then include everyone ever added),
#: with the note appended to their name; their change is shown uncoloured.
BOUNDED_WITHOUT_REMOVALS: dict[str, dict[str, str]] = {
    "traffic": {"zh": "（上限：未记录删除时间）", "en": " (upper bound: no removal times)"},
    "contacts_end": {"zh": "（上限：未记录删除时间）", "en": " (upper bound: no removal times)"},
    "conversion": {"zh": "（下限：流量是上限）", "en": " (lower bound: traffic is an upper bound)"},
}

#: Sentences of the summary page, filled with results.
TEXT: dict[str, dict[str, str]] = {
    "periods": {
        "zh": "本期 {cur_lo} 至 {cur_hi}（{days} 天），与上期 {prev_lo} 至 {prev_hi} 相比。",
        "en": "This period {cur_lo} to {cur_hi} ({days} days), against the previous {prev_lo} to {prev_hi}.",
    },
    "no_previous": {
        "zh": "上期 {lo} 至 {hi} 早于数据开始（{first}）：没有可比的上期，变化未测量。",
        "en": "The previous period {lo} to {hi} starts before the data ({first}): no comparison, changes not measured.",
    },
    "decomposition": {
        "zh": "净成交额 {g0} → {g1}（{diff}）；{adds_up}；最大的因素是{lead}（{lead_value}）。",
        "en": "Net GMV {g0} → {g1} ({diff}); {adds_up}; the largest driver is {lead} ({lead_value}).",
    },
    "adds_up": {
        "zh": "四个因素的贡献相加正好等于这个变化",
        "en": "the four contributions add up exactly to the change",
    },
    "off_by": {
        "zh": "四个因素的贡献相加与这个变化相差 {gap}（分解不完整，请检查输入）",
        "en": "the four contributions miss the change by {gap} (the decomposition is incomplete: check the inputs)",
    },
    "no_decomposition": {
        "zh": "有一期没有购买或订单：收入恒等式里有一个因素为零，无法分解。",
        "en": "A period without buyers or orders: the revenue identity has a zero factor, nothing to decompose.",
    },
    "tiers_caption": {
        "zh": "各分层的人数和净成交额（02 在 {date} 的快照；这里的净成交额是截至当天的全部历史，不是本期 {days} 天）：",
        "en": "Contacts and net GMV per tier (02's snapshot on {date}; net GMV here is all history to that day, not "
        "this {days}-day period):",
    },
    "missing": {
        "zh": "{what}：未测量（{why}）。",
        "en": "{what}: not measured ({why}).",
    },
    "no_channel_activity": {
        "zh": "本期（{lo} 至 {hi}）没有新增好友、删除或花费：这份导出最后一次加好友在 {last}。",
        "en": "No adds, removals or spend this period ({lo} to {hi}): the export's last add was on {last}.",
    },
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
    table = pd.DataFrame(kpis).drop(index=["removals_measured", "refunds_measured"], errors="ignore").astype(float)
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
    contacts: pd.DataFrame,
    sales: pd.DataFrame,
    start: str | pd.Timestamp,
    end: str | pd.Timestamp,
    refunds_measured: bool = True,
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
    refunds_measured : bool
        Whether the export records refunds (:func:`helpers.definitions.refunds_measured`); without them
        ``refunds`` and ``top_refunds`` are NaN (not measured) and net GMV is the sales recorded.

    Returns
    -------
    dict
        ``contacts_end`` (friends at the end), ``traffic`` (friends at any time in the period), ``adds``,
        ``removals``, ``net_adds``, ``deletion_rate`` (removals ÷ (friends at start + adds)), ``buyers``
        (traffic contacts with a purchase occasion in the period), ``conversion`` (buyers ÷ traffic),
        ``orders`` (paid orders on those occasions), ``aov`` (net GMV ÷ orders), ``frequency`` (orders ÷ buyers),
        ``repurchase_rate`` (buyers with occasions on ≥ 2 days ÷ buyers, in the period), ``gross_gmv`` (paid orders
        placed in the period), ``refunds`` (processed in the period), ``top_refunds`` (the largest refunds of one
        customer in the period), ``gmv`` (net = gross − refunds), and ``removals_measured``. Without removal times
        in the export, removals, net adds and the deletion rate are NaN (not measured) and friend counts include
        everyone ever added (an upper bound).
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
        "refunds": refunds if refunds_measured else nan,
        "top_refunds": (float(s["refunds"].max()) if len(s) else 0.0) if refunds_measured else nan,
        "gmv": net,
        "removals_measured": measured,
        "refunds_measured": refunds_measured,
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


def decomposition_sentence(
    g0: float, g1: float, contributions: pd.Series, currency: str = "¥", lang: str = "zh"
) -> str:
    """Say how net GMV changed, whether the contributions add up to the change, and the largest driver.

    Examples
    --------
    >>> c = pd.Series({"traffic": 50.0, "conversion": -20.0, "order_value": 5.0, "frequency": 15.0})
    >>> decomposition_sentence(1000.0, 1050.0, c, lang="en")[:72]
    'Net GMV ¥1,000 → ¥1,050 (+¥50); the four contributions add up exactly to'
    >>> "相差 −¥10.00" in decomposition_sentence(1000.0, 1060.0, c)
    True
    >>> decomposition_sentence(1000.0, 1050.0, c).split("；")[-1]  # money, with its currency, as the chart shows it
    '最大的因素是流量（期内好友）（+¥50）。'
    """
    from helpers.labels import fmt_money

    t = {k: v[lang] for k, v in TEXT.items()}
    gap = float(contributions.sum() - (g1 - g0))
    exact = abs(gap) < 1e-6 * max(1.0, abs(g1))
    lead = contributions.abs().idxmax()
    return t["decomposition"].format(
        g0=fmt_money(g0, currency),
        g1=fmt_money(g1, currency),
        diff=fmt_money(g1 - g0, currency, sign=True),
        adds_up=t["adds_up"]
        if exact
        else t["off_by"].format(gap=f"{'−' if gap < 0 else '+'}{currency}{abs(gap):,.2f}"),
        lead=FACTOR_NAMES[lead][lang],
        lead_value=fmt_money(contributions[lead], currency, sign=True),
    )


def plot_waterfall(
    start_value: float,
    contributions: pd.Series,
    end_value: float,
    labels: dict | None = None,
    ax: plt.Axes | None = None,
    currency: str = "¥",
    lang: str = "zh",
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
    lang : {"zh", "en"}
        Language of the labels.

    Returns
    -------
    Axes
        The axes drawn on.
    """
    zh = lang == "zh"
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 4.5))
    labels = labels or {k: v[lang] for k, v in FACTOR_NAMES.items()}
    names = [
        "上期" if zh else "previous",
        *[labels.get(k, k) for k in contributions.index],
        "本期" if zh else "current",
    ]
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
    zoomed = high > 0 and (high - low) < 0.5 * high  # small changes: zoom in, and say the axis does not start at 0
    if zoomed:
        ax.set_ylim(max(0.0, low - 0.6 * (high - low) - 0.02 * high), high + 0.15 * (high - low) + 0.02 * high)
    ax.yaxis.set_major_formatter(plt.matplotlib.ticker.FuncFormatter(lambda v, _: f"{currency}{v:,.0f}"))
    # in the axis label, not inside the axes, where it sat on the first bar
    if zh:
        ax.set_ylabel(f"净成交额（{currency}{'，纵轴未从 0 开始' if zoomed else ''}）")
    else:
        ax.set_ylabel(f"net GMV ({currency}{'; the axis does not start at 0' if zoomed else ''})")
    ax.set_title(
        "净成交额为什么变化：流量 × 转化率 × 客单价 × 购买频次"
        if zh
        else "Why net GMV moved: traffic × conversion × AOV × frequency"
    )
    return ax


# ------------------------------------------------------------------------------------------------ the lead's page
def summary_periods(end: pd.Timestamp, period_days: int) -> dict[str, tuple[pd.Timestamp, pd.Timestamp]]:
    """Return the current period (the last ``period_days`` days through ``end``) and the previous one before it.

    Examples
    --------
    >>> p = summary_periods(pd.Timestamp("2025-12-31"), 28)
    >>> [f"{a:%m-%d}..{b:%m-%d}" for a, b in p.values()]
    ['11-06..12-03', '12-04..12-31']
    """
    end = pd.Timestamp(end).normalize()
    cur_lo = end - pd.Timedelta(days=period_days - 1)
    prev_hi = cur_lo - pd.Timedelta(days=1)
    return {"previous": (prev_hi - pd.Timedelta(days=period_days - 1), prev_hi), "current": (cur_lo, end)}


def _fmt(kind: str, v: float, currency: str, lang: str) -> str:
    from helpers.labels import fmt_int, fmt_money, fmt_pct

    if v is None or (isinstance(v, float) and np.isnan(v)):
        return "未测量" if lang == "zh" else "not measured"
    if kind == "money":
        return fmt_money(v, currency)
    if kind == "rate":
        return fmt_pct(v)
    if kind == "number":
        return f"{v:,.2f}"
    return fmt_int(v)


def _change(kind: str, a: float, b: float, currency: str, lang: str) -> tuple[str, float]:
    """Return the change as text (rates in percentage points, others as difference and %) and its sign."""
    from helpers.labels import fmt_money, fmt_pp

    if any(v is None or (isinstance(v, float) and np.isnan(v)) for v in (a, b)):
        return ("未测量" if lang == "zh" else "not measured"), np.nan
    d = b - a
    if kind == "rate":
        text = fmt_pp(d, lang)
    else:
        rel = f"（{d / a:+.1%}）" if lang == "zh" and a else f" ({d / a:+.1%})" if a else ""
        if kind == "money":
            text = fmt_money(d, currency, sign=True) + rel
        elif kind == "number":
            text = f"{d:+,.2f}" + rel
        else:
            text = f"{d:+,.0f}" + rel
    return text, d


def kpi_frame(kpis: dict[str, dict], currency: str = "¥", lang: str = "zh") -> pd.DataFrame:
    """Return the lead's KPI table: each KPI named with its definition, both periods, the change and its direction.

    Rates change in percentage points; money and counts as a difference and a percentage. ``good`` is True when
    the change is in the good direction (deletions and refunds down, everything else up), False when bad, and
    NaN when flat or not measured.

    Parameters
    ----------
    kpis : dict
        ``{"previous": period_kpis(...), "current": period_kpis(...)}`` (previous may be missing).
    currency, lang
        Display.

    Returns
    -------
    DataFrame
        Index KPI key; ``kpi``, ``previous``, ``current``, ``change`` (text), ``arrow``, ``good``.
    """
    prev, cur = kpis.get("previous", {}), kpis["current"]
    # without removal times every contact ever added still counts as a friend: counts are upper bounds and the
    # conversion over them a lower bound, so neither a level nor its change is judged good or bad
    bounded = {} if cur.get("removals_measured", True) else BOUNDED_WITHOUT_REMOVALS
    rows = {}
    for key, (names, kind, up_good) in KPI_ROWS.items():
        a, b = prev.get(key, np.nan), cur.get(key, np.nan)
        text, d = _change(kind, a, b, currency, lang)
        flat = np.isnan(d) or abs(d) < 1e-12
        arrow = "" if np.isnan(d) else "→" if flat else "▲" if d > 0 else "▼"
        good = np.nan if flat or up_good is None or key in bounded else float((d > 0) == up_good)
        rows[key] = {
            "kpi": names[lang] + (bounded[key][lang] if key in bounded else ""),
            "previous": _fmt(kind, a, currency, lang),
            "current": _fmt(kind, b, currency, lang),
            "change": f"{arrow} {text}".strip(),
            "good": good,
        }
    return pd.DataFrame.from_dict(rows, orient="index")


def show_kpis(frame: pd.DataFrame, lang: str = "zh"):
    """Return the KPI table styled for the page: the change coloured green when good, red when bad."""
    heads = {
        "zh": {"kpi": "指标", "previous": "上期", "current": "本期", "change": "变化"},
        "en": {"kpi": "KPI", "previous": "previous", "current": "current", "change": "change"},
    }[lang]
    shown = frame[["kpi", "previous", "current", "change"]].rename(columns=heads)
    colour = frame["good"].map({1.0: "color:#1a7f37;font-weight:600", 0.0: "color:#cf222e;font-weight:600"})
    styles = pd.DataFrame("", index=shown.index, columns=shown.columns)
    styles[heads["change"]] = colour.fillna("").to_numpy()
    return shown.style.apply(lambda _: styles, axis=None).hide(axis="index")


def channel_period_table(
    contacts: pd.DataFrame,
    first_orders: pd.DataFrame,
    periods: dict,
    as_of: pd.Timestamp,
    window_days: int,
    spend: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Per acquisition channel in the current period: adds, removals, net, spend, CAC, conversion, change in adds.

    Removals count deletions in the period of friends from the channel (whenever they were added); conversion is
    the share of the period's adds with a first order within ``window_days`` of the add, among adds whose window
    has closed by ``as_of`` (an open window is not a non-conversion; none closed → not measured).

    Parameters
    ----------
    contacts : DataFrame
        ``user_id``, ``channel``, ``added_at``, ``removed_at``.
    first_orders : DataFrame
        ``user_id``, ``days_to_first_order`` (:func:`helpers.features.first_purchase_after_add`).
    periods : dict
        :func:`summary_periods`.
    as_of : Timestamp
        End of observation.
    window_days : int
        Conversion window.
    spend : DataFrame, optional
        ``date``, ``channel``, ``cost``; without it spend and CAC are not measured.

    Returns
    -------
    DataFrame
        Index channel; ``adds``, ``removals``, ``net_adds``, ``spend``, ``cac``, ``eligible``, ``conversion``,
        ``adds_change`` (vs the previous period, relative).
    """

    def window(lo, hi):
        hi = hi + pd.Timedelta(days=1)
        return lo, hi

    c = contacts
    lo, hi = window(*periods["current"])
    plo, phi = window(*periods["previous"])
    added = c[(c["added_at"] >= lo) & (c["added_at"] < hi)]
    prev_added = c[(c["added_at"] >= plo) & (c["added_at"] < phi)]
    removed = c[c["removed_at"].notna() & (c["removed_at"] >= lo) & (c["removed_at"] < hi)]
    days = first_orders.set_index("user_id")["days_to_first_order"]
    closed = added["added_at"] + pd.Timedelta(days=window_days) <= pd.Timestamp(as_of)
    converted = days.reindex(added["user_id"]).le(window_days).to_numpy() & closed.to_numpy()
    out = pd.DataFrame(
        {
            "adds": added.groupby("channel").size(),
            "removals": removed.groupby("channel").size(),
            "eligible": closed.groupby(added["channel"]).sum(),
            "converted": pd.Series(converted, index=added.index).groupby(added["channel"]).sum(),
        }
    ).fillna(0)
    measured = removals_measured(c)
    out["removals"] = out["removals"] if measured else np.nan
    out["net_adds"] = out["adds"] - out["removals"]
    if spend is not None and len(spend):
        s = spend[(spend["date"] >= lo) & (spend["date"] < hi)]
        out["spend"] = s.groupby("channel")["cost"].sum().reindex(out.index).fillna(0.0)
        out["cac"] = out["spend"] / out["adds"].where(out["adds"] > 0)
    else:
        out["spend"] = np.nan
        out["cac"] = np.nan
    out["conversion"] = out["converted"] / out["eligible"].where(out["eligible"] > 0)
    prev = prev_added.groupby("channel").size().reindex(out.index)
    out["adds_change"] = out["adds"] / prev.where(prev > 0) - 1
    out.index.name = "channel"
    cols = ["adds", "removals", "net_adds", "spend", "cac", "eligible", "conversion", "adds_change"]
    out = out[cols].sort_values("adds", ascending=False)
    why = {}
    if not measured:
        why["removals"] = why["net_adds"] = "no removal times in the export"
    if spend is None or not len(spend):
        why["spend"] = why["cac"] = "no spend table"
    if not (out["eligible"] > 0).any():
        why["conversion"] = f"no add of the period has a closed {window_days}-day window yet"
    elif adds_from_orders(contacts, first_orders):
        out["conversion"] = np.nan
        why["conversion"] = "add times are first-order times"
    out.attrs["not_measured"] = why
    return out


def read_artifact(folder, name: str):
    """Read an earlier notebook's artifact (``.json`` → dict, ``.csv`` → DataFrame), or ``None`` when absent."""
    import json
    from pathlib import Path

    path = Path(folder) / name
    if not path.exists():
        return None
    if path.suffix == ".json":
        return json.loads(path.read_text(encoding="utf-8"))
    return pd.read_csv(path, encoding="utf-8-sig", dtype={"user_id": str, "staff_id": str, "campaign_id": str})


def campaign_names(campaigns: pd.DataFrame, L) -> list[str]:
    """Return each campaign's display name: the team's names file first, then the campaigns table's, then the code.

    Examples
    --------
    >>> from helpers.labels import Labels
    >>> L = Labels("zh", {"campaign": {"c2": {"zh": "双11直播", "en": "11.11 live"}}})
    >>> campaign_names(pd.DataFrame({"campaign_id": ["c1", "c2", "c3"], "name": ["新客券", "live", None]}), L)
    ['新客券', '双11直播', 'c3']
    """
    ids = campaigns["campaign_id"].astype(str)
    own = campaigns["name"] if "name" in campaigns.columns else pd.Series(np.nan, index=campaigns.index)
    return [
        L.name("campaign", i) if L.name("campaign", i) != i or pd.isna(n) else str(n)
        for i, n in zip(ids, own, strict=True)
    ]


def campaign_table(campaigns: pd.DataFrame, L) -> pd.DataFrame:
    """Return 04's campaign results (``artifacts/campaigns.csv``) as the summary shows them: one row a campaign.

    The index is the campaign's name (the team's names file first, then the campaigns table's ``name``, never the
    code); ``kind`` is in words; the holdout lift is one cell in percentage points with its interval, and the sales
    lift one cell in money with its interval (empty where no holdout was kept: not measured). Show it with
    ``L.show(table, hide_index=False, formats={"lift_p_value": "p"})``.

    Examples
    --------
    >>> from helpers.labels import Labels
    >>> c = pd.DataFrame({"campaign_id": ["c1", "c2"], "name": ["新客券", None], "kind": ["coupon", "livestream"],
    ...                   "cost": [100.0, 50.0], "attributed_gmv": [400.0, 20.0], "roas": [4.0, 0.4],
    ...                   "lift": [0.0768, None], "lift_ci_low": [0.0436, None], "lift_ci_high": [0.106, None],
    ...                   "lift_p_value": [0.0004, None], "value_lift": [34.8, None],
    ...                   "value_lift_ci_low": [15.5, None], "value_lift_ci_high": [54.1, None]})
    >>> t = campaign_table(c, Labels("zh"))
    >>> t.index.tolist(), t["kind"].tolist(), t.loc["新客券", "lift_interval"]
    (['新客券', 'c2'], ['优惠券', '直播'], '+7.7 个百分点（+4.4 – +10.6）')
    """
    from helpers.labels import fmt_money, fmt_pp

    t = campaigns.copy()
    t.index = pd.Index(campaign_names(t, L), name="campaign")
    if "kind" in t.columns:
        t["kind"] = [L.name("campaign_kind", k) for k in t["kind"]]

    def cell(col: str, fmt, bound) -> list:
        lo, hi = t.get(f"{col}_ci_low", t[col]), t.get(f"{col}_ci_high", t[col])
        return [
            np.nan if pd.isna(v) else f"{fmt(v)}（{bound(a)} – {bound(b)}）"
            for v, a, b in zip(t[col], lo, hi, strict=True)
        ]

    cur = L.currency
    out = t[[c for c in ("kind", "cost", "attributed_gmv", "roas") if c in t.columns]].copy()
    if "lift" in t.columns:
        out["lift_interval"] = cell("lift", lambda v: fmt_pp(v, L.lang), lambda v: f"{100 * v:+.1f}")
        out["lift_p_value"] = t.get("lift_p_value")
    if "value_lift" in t.columns:
        money = lambda v: fmt_money(v, cur, 2, sign=True)  # noqa: E731
        out["value_lift_interval"] = cell("value_lift", money, money)
    return out


def staff_table(staff: dict) -> pd.DataFrame:
    """Return the summary's per-staff table from 07's ``artifacts/staff.json`` (rank order, pseudonymous ids)."""
    t = pd.DataFrame(staff["staff"])
    cols = [
        "staff_id",
        "rank",
        "adds",
        "deletions",
        "net",
        "deletion_oe",
        "conversion_rate",
        "net_gmv",
        "reply_rate",
        "execution_rate",
        "loss_days",
    ]
    return t[[c for c in cols if c in t.columns]]


def headline(kpis: dict, contributions: pd.Series | None, risk: str, currency: str = "¥", lang: str = "zh") -> str:
    """Return the page's opening paragraph: what happened to net GMV, the largest driver, and the biggest risk."""
    from helpers.labels import fmt_money, fmt_pct

    cur, prev = kpis["current"], kpis.get("previous")
    zh = lang == "zh"
    if prev is None or not prev.get("gmv"):
        what = (
            f"本期净成交额 {fmt_money(cur['gmv'], currency)}；没有可比的上期。"
            if zh
            else f"Net GMV this period {fmt_money(cur['gmv'], currency)}; no previous period to compare with."
        )
    else:
        change = cur["gmv"] / prev["gmv"] - 1
        gross = cur["gross_gmv"] / prev["gross_gmv"] - 1 if prev["gross_gmv"] else np.nan
        if cur.get("refunds_measured", True):
            detail = (
                f"（含退款的成交额 {fmt_pct(gross, sign=True)}，退款 {fmt_money(cur['refunds'], currency)}）"
                if zh
                else f" (gross {fmt_pct(gross, sign=True)}, refunds {fmt_money(cur['refunds'], currency)})"
            )
        else:
            detail = (
                f"（退款未测量：{input_missing('refunds', lang)}）"
                if zh
                else f" (refunds not measured: {input_missing('refunds', lang)})"
            )
        what = (
            f"本期净成交额 {fmt_money(cur['gmv'], currency)}，比上期{'增长' if change >= 0 else '下降'} "
            f"{fmt_pct(abs(change))}{detail}。"
            if zh
            else f"Net GMV this period {fmt_money(cur['gmv'], currency)}, {'up' if change >= 0 else 'down'} "
            f"{fmt_pct(abs(change))} on the previous period{detail}."
        )
    driver = ""
    if contributions is not None:
        lead = contributions.abs().idxmax()
        v = contributions[lead]
        name = FACTOR_NAMES[lead][lang]
        other = {"aov": "frequency", "frequency": "aov"}.get(lead)
        offset = contributions.get(other, 0.0) if other else 0.0
        but = ""
        if offset * v < 0 and abs(offset) >= 0.5 * abs(v):  # fewer, larger orders or more, smaller ones
            o = fmt_money(offset, currency, sign=True)
            but = (
                f"，被{FACTOR_NAMES[other]['zh']}（{o}）抵消了大部分"
                if zh
                else f", mostly offset by {FACTOR_NAMES[other]['en']} ({o})"
            )
        driver = (
            f"最大的因素是{name}（{fmt_money(v, currency, sign=True)}）{but}。"
            if zh
            else f"The largest driver is {name} ({fmt_money(v, currency, sign=True)}){but}."
        )
    return " ".join(x for x in (what, driver, risk) if x) if not zh else "".join((what, driver, risk))


#: Who acts on each kind of action.
OWNERS = {
    "contact": {"zh": "导购", "en": "staff (导购)"},
    "staff": {"zh": "私域运营主管", "en": "private-domain lead"},
    "channel": {"zh": "投放负责人", "en": "acquisition owner"},
    "campaign": {"zh": "活动负责人", "en": "campaign owner"},
    "community": {"zh": "社群运营", "en": "community manager"},
    "data": {"zh": "数据负责人", "en": "data owner"},
}


def _link(target: str, text: str) -> str:
    return f"[{text}]({target})"


def actions(
    report_dir,
    channels: pd.DataFrame | None,
    best_hours: list[int] | None,
    currency: str = "¥",
    lang: str = "zh",
) -> pd.DataFrame:
    """Actions computed from what the notebooks measured, each with its owner and the page or file that carries it.

    Only what the data support is said: the contact list's counts come from 06's artifact, the staff member to
    review from 07's deletion O/E whose interval lies above 1, channels whose new-friend value is below their
    CAC from 03 and this page's CAC, campaigns with ROAS < 1 from 04's artifact, and broadcast hours from the
    group messages. A missing input gives no action (never a guess).

    Returns
    -------
    DataFrame
        ``owner``, ``action`` (Markdown with a link).
    """
    from helpers.labels import Labels, run_names

    L = Labels(lang, run_names(report_dir), currency=currency)  # the team's names (channels, staff …) 00 kept
    rows = [
        *_contact_actions(report_dir, lang),
        *_staff_actions(report_dir, L),
        *_channel_actions(report_dir, channels, L),
        *_campaign_actions(report_dir, L),
        *_community_actions(best_hours, lang),
        *_data_actions(report_dir, lang),
    ]
    return pd.DataFrame([{"owner": OWNERS[k][lang], "action": a} for k, a in rows], columns=["owner", "action"])


def _contact_actions(report_dir, lang: str) -> list[tuple[str, str]]:
    """Contact the list and leave the do-not-disturb list alone (06's artifact)."""
    from helpers.labels import fmt_int

    t = read_artifact(report_dir, "artifacts/targeting.json")
    if t is None or not t.get("listed"):
        return []
    ranked = read_artifact(report_dir, "exports/contact_list.csv")
    chats = int((ranked["action_key"] == "private_chat").sum()) if ranked is not None else 0
    uplift = t["score_kind"] == "incremental_value"
    measured = t.get("leave_alone") is not None  # None: no randomised test, the leave-alone list is not measured
    if lang == "zh":
        how = "按随机对照测出的增量排序" if uplift else "按“到期”得分排序，因为没有可用的随机对照"
        leave = f"{fmt_int(t['leave_alone'])} 位暂不打扰" if measured else "“暂不打扰”未测量（没有随机对照）"
        text = (
            f"联系名单上的 {fmt_int(t['listed'])} 位客户（{how}；私聊 {chats} 位，其余群发），"
            f"{leave}：见{_link('exports/workbook.xlsx', '员工工作簿')}的“联系名单”"
            + ("和“暂不打扰”" if measured else "")
            + f"表（CSV：{_link('exports/contact_list.csv', 'contact_list.csv')}），"
            f"方法见 {_link('06_targeting.html', '06')}。"
        )
    else:
        how = "by the uplift measured in randomised tests" if uplift else "by the due score (no usable randomised test)"
        leave = (
            f" and leave {fmt_int(t['leave_alone'])} alone"
            if measured
            else "; who to leave alone is not measured (no randomised test)"
        )
        text = (
            f"Contact the {fmt_int(t['listed'])} customers on the list (ranked {how}; {chats} private chats, "
            f"the rest broadcasts){leave}: "
            f"the contact list{' and leave-alone sheets' if measured else ' sheet'} of the "
            f"{_link('exports/workbook.xlsx', 'staff workbook')} (CSV: "
            f"{_link('exports/contact_list.csv', 'contact_list.csv')}); method in {_link('06_targeting.html', '06')}."
        )
    return [("contact", text)]


def _staff_actions(report_dir, L) -> list[tuple[str, str]]:
    """Review with at most two staff whose deletion O/E interval lies above 1 (07's artifact), by their shown names."""
    lang = L.lang
    s = read_artifact(report_dir, "artifacts/staff.json")
    if s is None or not s.get("measured", {}).get("removals"):
        return []
    rows = []
    for r in [r for r in s["staff"] if (r.get("deletion_oe_low") or 0) > 1][:2]:
        oe, lo, hi, who = r["deletion_oe"], r["deletion_oe_low"], r["deletion_oe_high"], L.name("staff", r["staff_id"])
        text = (
            f"和 {who} 复盘：他/她的客户删除数是同样渠道构成下预期的 {oe:.2f} 倍"
            f"（95% 区间 {lo:.2f}–{hi:.2f}），见 {_link('07_staff.html', '07')}。"
            if lang == "zh"
            else f"Review with {who}: their customers delete {oe:.2f}× as often as the same channel mix "
            f"would (95 % interval {lo:.2f}–{hi:.2f}); see {_link('07_staff.html', '07')}."
        )
        rows.append(("staff", text))
    return rows


def _channel_actions(report_dir, channels: pd.DataFrame | None, L) -> list[tuple[str, str]]:
    """Hold the budget of channels whose new friend's value, even at its upper bound, is below their CAC (03)."""
    value = read_artifact(report_dir, "artifacts/new_contact_value.csv")
    if value is None or channels is None or not channels["cac"].notna().any():
        return []
    v = value.set_index("channel")
    ratio = (v["value_upper"] / channels["cac"].reindex(v.index)).dropna()
    rows = []
    for ch in ratio[ratio < 1].index:
        up, cac = f"{L.currency}{v.loc[ch, 'value_upper']:,.0f}", f"{L.currency}{channels.loc[ch, 'cac']:,.2f}"
        text = (
            f"{L.name('channel', ch)}：新好友的价值上限 {up} 仍低于本期获客成本 {cac}，先停止加预算，"
            f"查首购率（{_link('03_repurchase.html', '03')}）。"
            if L.lang == "zh"
            else f"{L.name('channel', ch)}: even the upper bound of a new friend's value ({up}) is below this "
            f"period's CAC ({cac}); hold its budget and look at first purchases ({_link('03_repurchase.html', '03')})."
        )
        rows.append(("channel", text))
    return rows


def _campaign_actions(report_dir, L) -> list[tuple[str, str]]:
    """Name the campaigns whose ROAS is below 1, lowest first (04's artifact); "等" when more than five."""
    lang = L.lang
    camp = read_artifact(report_dir, "artifacts/campaigns.csv")
    if camp is None or "roas" not in camp.columns:
        return []
    low = camp[camp["roas"] < 1].sort_values("roas", kind="stable")
    if not len(low):
        return []
    shown = campaign_names(low.head(5), L)
    names = ("、" if lang == "zh" else ", ").join(shown)
    more = len(low) > len(shown)
    text = (
        f"{len(low)} 个活动 ROAS 低于 1（花的比带来的多）："
        f"{'最低的是 ' + names + ' 等' if more else names}，见 {_link('04_attribution.html', '04')}。"
        if lang == "zh"
        else f"{len(low)} campaigns return less than they cost (ROAS < 1): "
        f"{'the lowest ' + names + ' among them' if more else names}; see {_link('04_attribution.html', '04')}."
    )
    return [("campaign", text)]


def _community_actions(best_hours: list[int] | None, lang: str) -> list[tuple[str, str]]:
    """Schedule broadcasts at the groups' busiest hours (05's measure)."""
    if not best_hours:
        return []
    hours = ("、" if lang == "zh" else ", ").join(f"{h}:00" for h in best_hours)
    text = (
        f"群发和朋友圈安排在 {hours} 前后（最近 12 周群消息最多的时段），见 {_link('05_community.html', '05')}。"
        if lang == "zh"
        else f"Schedule broadcasts and Moments around {hours}, the busiest hours of the last 12 weeks; see "
        f"{_link('05_community.html', '05')}."
    )
    return [("community", text)]


def _data_actions(report_dir, lang: str) -> list[tuple[str, str]]:
    """Fix the quarantined rows at the source (00's accounting)."""
    from helpers.labels import fmt_int

    acc = read_artifact(report_dir, "quality/accounting.csv")
    if acc is None or acc["quarantined"].sum() <= 0:
        return []
    q = fmt_int(int(acc["quarantined"].sum()))
    text = (
        f"修好导出里被隔离的 {q} 行（原因和行号见 {_link('quality/quarantine.csv', 'quarantine.csv')}、"
        f"{_link('00_data_prep.html', '00')}），下次导出前修正。"
        if lang == "zh"
        else f"Fix the {q} quarantined rows at the source (reasons and row numbers in "
        f"{_link('quality/quarantine.csv', 'quarantine.csv')}, {_link('00_data_prep.html', '00')})."
    )
    return [("data", text)]


def actions_markdown(table: pd.DataFrame, lang: str = "zh") -> str:
    """Render the actions as a Markdown list: owner in bold, then the action."""
    if table.empty:
        return "没有可以从数据直接得出的行动。" if lang == "zh" else "No action follows directly from the data."
    sep = "：" if lang == "zh" else ": "
    return "\n".join(f"- **{r.owner}**{sep}{r.action}" for r in table.itertuples())


def risk_sentence(kpis: dict, contributions: pd.Series | None, lang: str = "zh", currency: str = "¥") -> str:
    """Return the sentence naming the biggest risk: the KPI that moved furthest in the bad direction.

    Candidates, each scaled so they compare: deletion rate (pp × 10), net adds and refunds (relative change),
    conversion (pp × 10) and the most negative factor of the GMV decomposition (share of previous GMV, said with
    its amount and what it is a share of). Nothing bad moved → an empty string.

    Examples
    --------
    >>> quiet = {"deletion_rate": None, "net_adds": None, "refunds": None, "conversion": None}
    >>> k = {"previous": {**quiet, "gmv": 1000.0}, "current": quiet}
    >>> risk_sentence(k, pd.Series({"traffic": 10.0, "aov": -150.0}))
    '最大的风险：客单价的变化使净成交额少了 ¥150（相当于上期净成交额的 15.0%）。'

    Order value down and orders per buyer up (more, smaller orders) are one move of spend per buyer:

    >>> risk_sentence(k, pd.Series({"traffic": 10.0, "aov": -150.0, "frequency": 140.0}))
    '最大的风险：人均消费（客单价 × 购买频次）的变化使净成交额少了 ¥10（相当于上期净成交额的 1.0%）。'
    """
    from helpers.labels import fmt_money, fmt_pct

    prev, cur = kpis.get("previous"), kpis["current"]
    if prev is None:
        return ""
    zh = lang == "zh"
    found: list[tuple[float, str]] = []

    def ok(*v):
        return all(x is not None and not (isinstance(x, float) and np.isnan(x)) for x in v)

    if ok(prev["deletion_rate"], cur["deletion_rate"]) and cur["deletion_rate"] > prev["deletion_rate"]:
        d = cur["deletion_rate"] - prev["deletion_rate"]
        found.append(
            (
                10 * d,
                f"删除率上升 {100 * d:.1f} 个百分点，到 {fmt_pct(cur['deletion_rate'])}"
                if zh
                else f"the deletion rate rose {100 * d:.1f} percentage points to {fmt_pct(cur['deletion_rate'])}",
            )
        )
    if ok(prev["net_adds"], cur["net_adds"]) and cur["net_adds"] < prev["net_adds"] and prev["net_adds"] > 0:
        r = cur["net_adds"] / prev["net_adds"] - 1
        found.append(
            (
                -r,
                f"净增好友减少 {fmt_pct(-r)}（{prev['net_adds']:,.0f} → {cur['net_adds']:,.0f}）"
                if zh
                else f"net adds fell {fmt_pct(-r)} ({prev['net_adds']:,.0f} → {cur['net_adds']:,.0f})",
            )
        )
    if ok(prev["refunds"], cur["refunds"]) and prev["refunds"] > 0 and cur["refunds"] > prev["refunds"]:
        r = cur["refunds"] / prev["refunds"] - 1
        text = f"退款增加 {fmt_pct(r)}" if zh else f"refunds rose {fmt_pct(r)}"
        top = cur.get("top_refunds", 0.0)
        if top >= 0.5 * cur["refunds"]:  # one customer's refunds, not a trend: ranked by the change without them
            rest = (cur["refunds"] - top) / prev["refunds"] - 1
            text += (
                f"（其中一位客户的退款占 {fmt_pct(top / cur['refunds'])}；不计这位客户为 {fmt_pct(rest, sign=True)}）"
                if zh
                else f" (one customer's refunds are {fmt_pct(top / cur['refunds'])} of them; "
                f"{fmt_pct(rest, sign=True)} without that customer)"
            )
            r = rest
        found.append((r / 2, text))
    if ok(prev["conversion"], cur["conversion"]) and cur["conversion"] < prev["conversion"]:
        d = prev["conversion"] - cur["conversion"]
        pp = f"{100 * d:.1f}"
        found.append((10 * d, f"转化率下降 {pp} 个百分点" if zh else f"conversion fell {pp} percentage points"))
    factors = None if contributions is None else contributions.copy()
    names = {k: v[lang] for k, v in FACTOR_NAMES.items()}
    pair = factors[["aov", "frequency"]] if factors is not None and {"aov", "frequency"} <= set(factors.index) else None
    if pair is not None and pair.min() < 0 < pair.max() and pair.max() >= -0.5 * pair.min():
        # more but smaller orders per buyer (or fewer, larger ones), one offsetting at least half the other: one move
        # of spend per buyer, not a risk and a gain
        factors["spend_per_buyer"] = factors.pop("aov") + factors.pop("frequency")
        names["spend_per_buyer"] = SPEND_PER_BUYER[lang]
    if factors is not None and factors.min() < 0 and prev.get("gmv"):
        k = factors.idxmin()
        share = -factors[k] / prev["gmv"]
        found.append(
            (
                share,
                f"{names[k]}的变化使净成交额少了 {fmt_money(-factors[k], currency)}"
                f"（相当于上期净成交额的 {fmt_pct(share)}）"
                if zh
                else f"the change in {names[k]} took {fmt_money(-factors[k], currency)} off net "
                f"GMV ({fmt_pct(share)} of the previous period's)",
            )
        )
    if not found:
        return ""
    worst = max(found, key=lambda x: x[0])[1]
    return f"最大的风险：{worst}。" if zh else f"The biggest risk: {worst}."

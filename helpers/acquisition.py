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

from helpers.definitions import NOT_MEASURED, adds_from_orders, input_missing, mark_not_measured, removals_measured
from helpers.labels import Labels, fmt_pp, labels_for
from helpers.stats import compare_variants, decisions, minimum_detectable_effect
from helpers.survival import km_by_group, plot_km
from helpers.truth import NO_TRUTH

__all__ = [
    "funnel_best_text",
    "acquisition_cost",
    "adds_over_time",
    "adds_note",
    "headline_text",
    "apply_channel_groups",
    "channel_period_text",
    "channel_table",
    "cohort_retention",
    "compare_variants",
    "conversion_flags",
    "decisions",
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
    "say",
    "variant_table",
    "verdict_text",
]

DAY = pd.Timedelta(days=1)

#: Result sentences of the acquisition page (filled from results with ``Labels.text``).
TEXT: dict[str, dict[str, str]] = {
    "data": {
        "zh": "共 {contacts} 位好友，其中 {buyers} 位加好友后下过单；线索表：{leads}；投放花费表：{spend}。",
        "en": "{contacts} contacts, {buyers} of them made a purchase after being added; leads table: {leads}; "
        "spend table: {spend}.",
    },
    "yes": {"zh": "有", "en": "yes"},
    "adds_caption": {
        "zh": "各渠道在分析窗口 {start} 至 {end} 内的新增、删除和净增（加好友或删除发生在窗口内）：",
        "en": "Adds, removals and net adds per channel in the analysis window {start} to {end} (the add or the "
        "removal falls in the window):",
    },
    "adds_first_seen": {
        "zh": "这里的“新增”是客户第一次在导出里下单的日子（导出没有加好友日期）：导出从 {first} 开始，头几个月里有许多"
        "早就在买、只是第一次出现在导出里的老客户，所以新增在开头偏高、随后回落，不能直接读成拉新变差。",
        "en": "An 'add' here is the day a customer first ordered in the export (it has no add date): the export "
        "starts on {first}, and its first months count many long-standing customers seen for the first time, so adds "
        "start high and fall back; do not read that as acquisition getting worse.",
    },
    "no_adds_in_window": {
        "zh": "分析窗口 {start} 至 {end} 内没有新加的好友：这份导出的 {n} 位好友都加于 {first} 至 {last}。"
        "要看他们的新增，把分析窗口的起止设在这段时间内；下面的漏斗、删除和回本不限加好友时间，照常计算。",
        "en": "Nobody was added in the analysis window {start} to {end}: the export's {n} contacts were all added "
        "between {first} and {last}. To see their adds, set the analysis window within those dates; the funnel, "
        "deletion and payback below count contacts added at any time, as usual.",
    },
    "funnel_caption": {
        "zh": "漏斗：截至 {as_of} 的全部 {n} 位好友（不限加好友时间）；首单转化率的分母只含加好友已满 {w} 天的好友：",
        "en": "Funnel: all {n} contacts up to {as_of} (added at any time); conversion counts only those added at least "
        "{w} days before:",
    },
    "no": {"zh": "无", "en": "no"},
    "not_measured": {"zh": "{what}：{why}", "en": "{what}: {why}"},
    "net_adds_what": {"zh": "删除与净增", "en": "removals and net adds"},
    "deletion_what": {"zh": "删除率", "en": "deletion rates"},
    "still_what": {"zh": "仍为好友的比例", "en": "share still a contact"},
    "cac_what": {"zh": "获客成本与回本", "en": "CAC and payback"},
    "net_adds_total": {
        "zh": "{start} 至 {end}：新增 {adds}，删除 {removals}，净增 {net}；净增最多的渠道是{best}（{best_net}），"
        "最少的是{worst}（{worst_net}）。",
        "en": "{start} to {end}: {adds} adds, {removals} removals, net {net}; most net adds: {best} ({best_net}), "
        "fewest: {worst} ({worst_net}).",
    },
    "net_adds_total_one": {
        "zh": "{start} 至 {end}：新增 {adds}，删除 {removals}，净增 {net}（只有一个渠道：{best}）。",
        "en": "{start} to {end}: {adds} adds, {removals} removals, net {net} (one channel: {best}).",
    },
    "funnel_best": {
        "zh": "加好友后 {w} 天内首单转化率最高的渠道是{best}（{rate}，分母为转化窗口已结束的 {n} 位好友），"
        "最低的是{worst}（{worst_rate}）。",
        "en": "Highest first-order conversion within {w} days of the add: {best} ({rate} of {n} contacts whose "
        "window has closed); lowest: {worst} ({worst_rate}).",
    },
    "no_leads": {
        "zh": "没有线索表：无法测量话术的加好友率（只知道已添加的好友）",
        "en": "no leads table: the add rate of a script cannot be measured (only added contacts are known)",
    },
    "one_script": {
        "zh": "线索中少于两个话术：没有可比较的",
        "en": "fewer than two invitation scripts in the leads: nothing to compare",
    },
    "one_script_eligible": {
        "zh": "转化窗口已结束的好友中少于两个话术：没有可比较的",
        "en": "fewer than two scripts among contacts whose conversion window has closed: nothing to compare",
    },
    "add_rate": {"zh": "加好友率", "en": "add rate"},
    "first_order_rate": {"zh": "首单率", "en": "first-order rate"},
    "verdicts": {"zh": "{test}：{verdicts}", "en": "{test}: {verdicts}"},
    "control": {"zh": "对照", "en": "control"},
    "beats": {"zh": "{v} 胜过 {c}", "en": "{v} beats {c}"},
    "worse": {"zh": "{v} 不如 {c}", "en": "{v} is worse than {c}"},
    "no_difference": {"zh": "无显著差异", "en": "no detectable difference"},
    "too_few": {"zh": "样本不足", "en": "too few to tell"},
    "ci": {"zh": "{diff}（95% 区间 {lo} 至 {hi}）", "en": "{diff} (95% CI {lo} to {hi})"},
    "mde": {
        "zh": "；这个样本只能发现 {mde} 及以上的差异",
        "en": "; this sample detects only differences of {mde} or more",
    },
    "too_few_why": {
        "zh": "：每组至少需要 {k} 个成功和 {k} 个失败；只有 ≥ {mde} 的差异才看得出",
        "en": ": each arm needs ≥ {k} successes and failures; only differences ≥ {mde} would show",
    },
    "cac_check": {
        "zh": "每个渠道的获客成本都恰好等于 花费 ÷ 新增：{ok}",
        "en": "CAC equals spend / adds exactly for every channel: {ok}",
    },
    "funnel_best_one": {
        "zh": "加好友后 {w} 天内首单转化率：{best} {rate}（分母为转化窗口已结束的 {n} 位好友；"
        "只有一个渠道，无从比较）。",
        "en": "First-order conversion within {w} days of the add: {best} {rate} (of {n} contacts whose window has "
        "closed; one channel, nothing to compare).",
    },
    "deletion_worst_one": {
        "zh": "加好友后 30 天删除率：{worst} {rate}（Kaplan–Meier 估计；只有一个渠道）。",
        "en": "30-day deletion rate after the add: {worst} {rate} (Kaplan–Meier; one channel).",
    },
    "deletion_worst": {
        "zh": "加好友后 30 天删除率最高的渠道是{worst}（{rate}，Kaplan–Meier 估计），最低的是{best}（{best_rate}）。",
        "en": "Highest 30-day deletion rate after the add: {worst} ({rate}, Kaplan–Meier); lowest: {best} "
        "({best_rate}).",
    },
    "payback_line": {
        "zh": "已回本的渠道：{paid}；在已观察的周期内尚未回本的：{not_yet}。",
        "en": "Channels that paid back: {paid}; not yet within the periods observed: {not_yet}.",
    },
    "list_sep": {"zh": "、", "en": ", "},
    "none": {"zh": "无", "en": "none"},
    "no_truth": NO_TRUTH,
    "headline_conversion": {
        "zh": "{w} 天首单转化率最高的渠道是{best}（{rate}）",
        "en": "Best {w}-day first-order conversion: {best} ({rate})",
    },
    "headline_no_conversion": {"zh": "{w} 天首单转化率未测量", "en": "{w}-day first-order conversion not measured"},
    "headline_script": {"zh": "话术测试：{verdict}", "en": "script test: {verdict}"},
    "headline_deletion": {
        "zh": "30 天删除率最高的是{worst}（{rate}）",
        "en": "highest 30-day deletion: {worst} ({rate})",
    },
    "headline_no_deletion": {"zh": "删除率未测量", "en": "deletion not measured"},
    "channel_period": {
        "zh": "最近 {days} 天（{start} 至 {end}）：新增 {adds}，删除 {removals}，净增 {net}，花费 {spend}；"
        "获客成本最高的是{cac_top}（{cac}）。这段时间新增的好友 {w} 天转化窗口大多还没结束，"
        "所以转化率用最近一批窗口已结束的好友（{c_start} 至 {c_end} 加的，{c_n} 位）：最高{conv_top}（{conv}）。"
        "表已保存到 artifacts/channels.csv。",
        "en": "Last {days} days ({start} to {end}): adds {adds}, removals {removals}, net adds {net}, spend {spend}; "
        "highest CAC: {cac_top} ({cac}). Most of these adds have not had their {w}-day conversion window yet, so "
        "conversion is read on the latest contacts whose window has closed (added {c_start} to {c_end}, {c_n} of "
        "them): highest {conv_top} ({conv}). Saved to artifacts/channels.csv.",
    },
    "channel_period_none": {
        "zh": "最近 {days} 天（{start} 至 {end}）没有新增好友、删除或花费：这份导出最后一次加好友在 {last}。",
        "en": "No adds, removals or spend in the last {days} days ({start} to {end}): the export's last add was on "
        "{last}.",
    },
    "answer_censoring": {
        "zh": "把转化窗口未结束的好友算作未转化，会把转化率算低：{ok}",
        "en": "counting contacts whose window is still open as non-converters lowers the rate: {ok}",
    },
}

_PLOT = {
    "zh": {
        "period": "周期",
        "net": "净增好友（新增 − 删除）",
        "adds": "新增好友",
        "net_title": "各渠道每{freq}净增好友",
        "adds_title": "各渠道每{freq}新增好友（删除未测量，没有净增）",
        "freq": {"W": "周", "M": "月", "D": "日"},
        "partial": "最后一期不完整",
        "funnel": {"add_rate": "线索 → 加好友", "conversion": "加好友 → 首单", "lead_to_order": "线索 → 首单"},
        "rate": "比率（分母为窗口已结束的人数）",
        "funnel_title": "各渠道漏斗转化率",
        "variant_x": "成功率及 95% Wilson 区间",
        "variant_y": "话术",
        "variant_title": "各话术成功率",
        "since_add": "加好友后天数",
        "still": "仍为好友的比例（KM）",
        "survival_title": "各渠道好友留存（还是好友的在导出日删失）",
        "periods": "加好友后第几个周期（30 天）",
        "ltv_cac": "累计毛利 ÷ 获客成本（对数）",
        "payback_title": "回本曲线：每位好友的累计毛利 ÷ 获客成本",
        "payback_line": "回本线",
        "cohort": "加好友月份",
        "heat_x": "加好友后第几个周期（30 天）",
    },
    "en": {
        "period": "period",
        "net": "net adds (adds − removals)",
        "adds": "adds",
        "net_title": "Net adds per {freq} by channel",
        "adds_title": "Adds per {freq} by channel (removals not measured: no net adds)",
        "freq": {"W": "week", "M": "month", "D": "day"},
        "partial": "last period partial",
        "funnel": {
            "add_rate": "lead → added",
            "conversion": "added → first order",
            "lead_to_order": "lead → first order",
        },
        "rate": "rate (denominators: closed windows)",
        "funnel_title": "Funnel step rates by channel",
        "variant_x": "success rate with 95% Wilson interval",
        "variant_y": "script",
        "variant_title": "Success rate by script",
        "since_add": "days since added",
        "still": "still a contact (KM)",
        "survival_title": "Friend retention by channel (still friends: censored at the export date)",
        "periods": "periods (30 days) since added",
        "ltv_cac": "cumulative gross profit / CAC (log)",
        "payback_title": "Payback: cumulative gross profit per contact over CAC",
        "payback_line": "payback",
        "cohort": "month added",
        "heat_x": "period (30 days) since added",
    },
}


def say(labels: Labels, key: str, groups: int, **values: object) -> str:
    """Return the sentence ``key`` of :data:`TEXT`, or its ``<key>_one`` form when there is a single group.

    A "best … worst …" sentence over one channel would name it twice; the one-group form says there is nothing
    to compare.

    Examples
    --------
    >>> say(Labels("en"), "deletion_worst", 1, worst="store QR code", rate="8.5%", best="store QR code", best_rate="")
    '30-day deletion rate after the add: store QR code 8.5% (Kaplan–Meier; one channel).'
    """
    one = f"{key}_one"
    return labels.text(TEXT, one if groups == 1 and one in TEXT else key, **values)


def _pp_size(x: float, lang: str) -> str:
    """Return a size in percentage points without a sign (an MDE is a size, not a change)."""
    return fmt_pp(abs(x), lang).lstrip("+")


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


# ------------------------------------------------------------------------------------------- recent period
def channel_table(
    contacts: pd.DataFrame,
    first_orders: pd.DataFrame,
    as_of: str | pd.Timestamp,
    end: str | pd.Timestamp,
    window_days: int,
    spend: pd.DataFrame | None = None,
    days: int = 28,
) -> pd.DataFrame:
    """Per acquisition channel for the last ``days`` days through ``end``: adds, removals, net, spend, CAC, conversion.

    The period's own conversion (first order within ``window_days`` of the add, among adds whose window has closed)
    is mostly *not measured* when ``days`` < ``window_days`` — those windows are still open. So the table adds the
    conversion of the latest cohort whose windows have all closed: the ``days`` days of adds ending ``window_days``
    days before ``as_of`` (``cohort_eligible``, ``cohort_conversion``). Removals are deletions in the period of friends
    from the channel, whenever they were added (:func:`helpers.summary.channel_period_table`, the same definitions as
    the summary page).

    Parameters
    ----------
    contacts : DataFrame
        ``user_id``, ``channel``, ``added_at``, ``removed_at``.
    first_orders : DataFrame
        ``user_id``, ``days_to_first_order``.
    as_of, end : str or Timestamp
        End of observation; last day of the period (inclusive).
    window_days : int
        Conversion window.
    spend : DataFrame, optional
        ``date``, ``channel``, ``cost``.
    days : int
        Length of the period.

    Returns
    -------
    DataFrame
        One row per channel (machine column names), with ``period_start``/``period_end`` and
        ``cohort_start``/``cohort_end`` naming the two windows; ``attrs["not_measured"]`` as in the summary.

    Examples
    --------
    >>> c = pd.DataFrame({"user_id": ["1", "2", "3"], "channel": ["a", "a", "b"],
    ...                   "added_at": pd.to_datetime(["2025-11-10", "2025-12-20", "2025-12-25"]),
    ...                   "removed_at": pd.to_datetime([None, "2025-12-28", None])})
    >>> f = pd.DataFrame({"user_id": ["1"], "days_to_first_order": [3]})
    >>> t = channel_table(c, f, "2026-01-01", "2025-12-31", 30)
    >>> t[["channel", "adds", "removals", "net_adds", "cohort_eligible", "cohort_conversion"]].to_dict("records")[0]
    {'channel': 'a', 'adds': 1, 'removals': 1.0, 'net_adds': 0.0, 'cohort_eligible': 1.0, 'cohort_conversion': 1.0}
    """
    from helpers.summary import channel_period_table, summary_periods

    as_of, end = pd.Timestamp(as_of), pd.Timestamp(end).normalize()
    periods = summary_periods(end, days)
    out = channel_period_table(contacts, first_orders, periods, as_of, window_days, spend)
    why = dict(out.attrs.get("not_measured", {}))
    c_end = (as_of - pd.Timedelta(days=window_days) - DAY).normalize()
    cohort = channel_period_table(contacts, first_orders, summary_periods(c_end, days), as_of, window_days)
    out["cohort_eligible"] = cohort["eligible"].reindex(out.index).fillna(0)
    out["cohort_conversion"] = cohort["conversion"].reindex(out.index)
    out = out.reset_index()
    out.insert(1, "period_start", periods["current"][0])
    out.insert(2, "period_end", periods["current"][1])
    out["cohort_start"], out["cohort_end"] = c_end - pd.Timedelta(days=days - 1), c_end
    out.attrs["not_measured"] = why
    out.attrs["period"] = periods["current"]  # the sentence names the period even when no channel had activity
    out.attrs["last_add"] = contacts["added_at"].max() if len(contacts) else pd.NaT
    return out


def channel_period_text(table: pd.DataFrame, labels: Labels, days: int, window_days: int) -> str:
    """Return the sentence summarising :func:`channel_table` in the labels' language (money in its currency).

    Examples
    --------
    >>> c = pd.DataFrame({"user_id": ["1", "2"], "channel": ["store_qr", "store_qr"],
    ...                   "added_at": pd.to_datetime(["2025-11-10", "2025-12-20"]), "removed_at": pd.NaT})
    >>> f = pd.DataFrame({"user_id": ["1"], "days_to_first_order": [3]})
    >>> channel_period_text(channel_table(c, f, "2026-01-01", "2025-12-31", 30), Labels("zh"), 28, 30).split("；")[0]
    '最近 28 天（2025-12-04 至 12-31）：新增 1，删除 未测量，净增 未测量，花费 未测量'
    >>> channel_period_text(channel_table(c, f, "2027-01-01", "2026-12-31", 30), Labels("zh"), 28, 30)
    '最近 28 天（2026-12-04 至 2026-12-31）没有新增好友、删除或花费：这份导出最后一次加好友在 2025-12-20。'
    """
    from helpers.labels import fmt_int, fmt_money, fmt_pct

    if table.empty:  # no add, removal or spend in the period (a cohort export): say when the last add was
        start, end = table.attrs["period"]
        last = table.attrs.get("last_add", pd.NaT)
        return labels.text(
            TEXT,
            "channel_period_none",
            days=days,
            start=f"{start:%Y-%m-%d}",
            end=f"{end:%Y-%m-%d}",
            last=f"{last:%Y-%m-%d}" if pd.notna(last) else "—",
        )
    r, t = table.iloc[0], table.set_index("channel")
    why = table.attrs.get("not_measured", {})

    def measured(col: str, text: str) -> str:
        return NOT_MEASURED[labels.lang] if col in why else text

    has_cac, has_conv = t["cac"].notna().any(), t["cohort_conversion"].notna().any()
    start, end = _date_span(r.period_start, r.period_end)
    c_start, c_end = _date_span(r.cohort_start, r.cohort_end)
    return labels.text(
        TEXT,
        "channel_period",
        days=days,
        start=start,
        end=end,
        adds=fmt_int(t["adds"].sum()),
        removals=measured("removals", fmt_int(t["removals"].sum(min_count=1))),
        net=measured("net_adds", fmt_int(t["net_adds"].sum(min_count=1))),
        spend=measured("spend", fmt_money(t["spend"].sum(min_count=1), labels.currency)),
        cac_top=labels.name("channel", t["cac"].idxmax()) if has_cac else "—",
        cac=measured("cac", fmt_money(t["cac"].max(), labels.currency, 2)),
        w=window_days,
        c_start=c_start,
        c_end=c_end,
        c_n=fmt_int(t["cohort_eligible"].sum()),
        conv_top=labels.name("channel", t["cohort_conversion"].idxmax()) if has_conv else "—",
        conv=fmt_pct(t["cohort_conversion"].max()) if has_conv else NOT_MEASURED[labels.lang],
    )


def _date_span(start: pd.Timestamp, end: pd.Timestamp) -> tuple[str, str]:
    """Return a period's two dates for a sentence: the start with its year, the end with its year if it differs.

    >>> _date_span(pd.Timestamp("2025-12-04"), pd.Timestamp("2025-12-31"))
    ('2025-12-04', '12-31')
    >>> _date_span(pd.Timestamp("2025-12-20"), pd.Timestamp("2026-01-16"))
    ('2025-12-20', '2026-01-16')
    """
    return f"{start:%Y-%m-%d}", f"{end:%m-%d}" if end.year == start.year else f"{end:%Y-%m-%d}"


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


def headline_text(
    funnel_table: pd.DataFrame, deletion_30: pd.Series | None, script_verdict: str | None, window_days: int, labels
) -> str:
    """Return the page's one-line result: best conversion, the script test, worst deletion — each only if measured.

    A figure that was not measured is said to be so in words, never shown as "—" beside a channel name.

    Parameters
    ----------
    funnel_table : DataFrame
        :func:`funnel` by channel (``conversion`` NaN where not measured).
    deletion_30 : Series or None
        30-day deletion rate per channel (``None`` or empty: not measured).
    script_verdict : str or None
        The add-rate test's short verdict (``None``: no script test ran; left out).
    window_days : int
        Conversion window.
    labels : Labels
        Report language and names.

    Examples
    --------
    >>> from helpers.labels import Labels
    >>> f = pd.DataFrame({"channel": ["a"], "conversion": [float("nan")]})
    >>> headline_text(f, None, None, 30, Labels("zh"))
    '30 天首单转化率未测量；删除率未测量'
    """
    from helpers.labels import fmt_pct

    best = funnel_table.dropna(subset=["conversion"]).sort_values("conversion")
    w = window_days
    if len(best):
        top = best.iloc[-1]
        parts = [
            labels.text(
                TEXT,
                "headline_conversion",
                w=w,
                best=labels.name("channel", top["channel"]),
                rate=fmt_pct(top["conversion"]),
            )
        ]
    else:
        parts = [labels.text(TEXT, "headline_no_conversion", w=w)]
    if script_verdict:
        parts.append(labels.text(TEXT, "headline_script", verdict=script_verdict))
    d30 = None if deletion_30 is None else deletion_30.dropna()
    if d30 is not None and len(d30):
        d30 = d30.sort_values()
        parts.append(
            labels.text(
                TEXT, "headline_deletion", worst=labels.name("channel", d30.index[-1]), rate=fmt_pct(d30.iloc[-1])
            )
        )
    else:
        parts.append(labels.text(TEXT, "headline_no_deletion"))
    return ("；" if labels.lang == "zh" else "; ").join(parts)


def adds_note(
    adds: pd.DataFrame, contacts: pd.DataFrame, start, end, labels: Labels, first_orders: pd.DataFrame | None = None
) -> str:
    """Say what :func:`adds_over_time`'s table counts — or, when nobody was added in the window, when they were.

    A cohort export (every contact added in one quarter, orders for years after) leaves a report's default
    window with no adds at all: the page then says when the contacts were added instead of showing an empty
    table and chart. When the export records no removal, the removals and net adds are said to be not measured.
    When the add times are first orders (``first_orders`` given, :func:`helpers.definitions.adds_from_orders`), an
    "add" is a customer's first appearance in the export: its first months count long-standing customers seen for
    the first time (left truncation), and the note says so before anyone reads the decline as worse acquisition.

    Parameters
    ----------
    adds : DataFrame
        :func:`adds_over_time` over the window.
    contacts : DataFrame
        Contract ``contacts`` (all of them, for the add dates).
    start, end : Timestamp
        The analysis window (inclusive).
    labels : Labels
        The report's labels (language).
    first_orders : DataFrame, optional
        :func:`helpers.features.first_orders_after_add` (to tell whether the add times are first orders).

    Returns
    -------
    str
        One or more lines.

    Examples
    --------
    >>> c = pd.DataFrame({"user_id": ["a"], "added_at": pd.to_datetime(["2020-01-05"]), "removed_at": pd.NaT,
    ...                   "channel": ["x"]})
    >>> w = pd.Timestamp("2021-01-01"), pd.Timestamp("2021-12-31")
    >>> lines = adds_note(adds_over_time(c, start=w[0], end=w[1]), c, *w, Labels("en")).splitlines()
    >>> lines[0][:65], lines[1][:35]
    ('Nobody was added in the analysis window 2021-01-01 to 2021-12-31:', 'removals and net adds: not measured')
    """
    from helpers.definitions import not_measured
    from helpers.labels import fmt_int

    window = {"start": f"{pd.Timestamp(start):%Y-%m-%d}", "end": f"{pd.Timestamp(end):%Y-%m-%d}"}
    lines = []
    if not adds["adds"].sum() and len(contacts):
        first, last = contacts["added_at"].min(), contacts["added_at"].max()
        lines.append(
            labels.text(
                TEXT,
                "no_adds_in_window",
                n=fmt_int(len(contacts)),
                first=f"{first:%Y-%m-%d}",
                last=f"{last:%Y-%m-%d}",
                **window,
            )
        )
    if adds.attrs.get("not_measured"):
        why = not_measured(input_missing("removals", labels.lang), labels.lang)
        lines.append(labels.text(TEXT, "not_measured", what=labels.text(TEXT, "net_adds_what"), why=why))
    if len(adds):
        lines.append(labels.text(TEXT, "adds_caption", **window))
    if len(adds) and first_orders is not None and adds_from_orders(contacts, first_orders):
        lines.append(labels.text(TEXT, "adds_first_seen", first=f"{contacts['added_at'].min():%Y-%m-%d}"))
    return "\n".join(lines)


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
    out = out[cols].sort_values("contacts", ascending=False).reset_index()
    if adds_from_orders(contacts, first_orders):  # conversion 100 % by construction: not measured
        steps = [c for c in ("conversion", "lead_to_order", "median_days_to_first_order") if c in out]
        out = mark_not_measured(out, steps, input_missing("adds_from_orders"))
    return out


def funnel_measured(f: pd.DataFrame) -> bool:
    """Whether any step rate of :func:`funnel` was measured (a chart of rates that are all "not measured" is empty).

    >>> funnel_measured(pd.DataFrame({"channel": ["a"], "conversion": [float("nan")]}))
    False
    """
    cols = [c for c in ("add_rate", "conversion", "lead_to_order") if c in f]
    return bool(cols) and bool(f[cols].notna().any().any())


def plot_funnel(
    f: pd.DataFrame, by: str = "channel", ax: plt.Axes | None = None, lang: str = "zh", labels: Labels | None = None
) -> plt.Axes:
    """Bars of the funnel's step rates per group: add rate (if leads), conversion within the window.

    The legend sits below the axes, off the bars.

    Parameters
    ----------
    f : DataFrame
        Output of :func:`funnel`.
    by : str
        The group column of ``f``.
    ax : Axes, optional
        Where to draw.
    lang : {"zh", "en"}
        Language of the labels.
    labels : Labels, optional
        Display names of the groups (a team's names file); default the package's names in ``lang``.

    Returns
    -------
    Axes
        The axes drawn on.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4.5))
    t, names = _PLOT[lang], labels_for(lang, labels)
    cols = [c for c in ("add_rate", "conversion", "lead_to_order") if c in f]
    wide = f.set_index(by)[cols].rename(columns=t["funnel"])
    wide.index = [names.name(by, v) for v in wide.index]
    wide.plot.bar(ax=ax, rot=0)
    ax.yaxis.set_major_formatter(plt.matplotlib.ticker.PercentFormatter(1.0))
    ax.set_xlabel(names.header(by))
    ax.set_ylabel(t["rate"])
    ax.set_title(t["funnel_title"])
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=len(cols), frameon=False)
    return ax


# ------------------------------------------------------------------------------------------ variant tests
def verdict_text(result: pd.DataFrame, lang: str = "zh", short: bool = False, alpha: float = 0.05) -> pd.Series:
    """Return each variant's verdict as a sentence in the report language (``short``: the decision only).

    Examples
    --------
    >>> ok = [True] * 45 + [False] * 55 + [True] * 60 + [False] * 40
    >>> r = compare_variants(pd.DataFrame({"v": ["A"] * 100 + ["B"] * 100, "ok": ok}), "v", "ok")
    >>> verdict_text(r, "en", short=True).tolist()
    ['control', 'B beats A']
    >>> verdict_text(r, "zh").iloc[1]
    'B 胜过 A：+15.0 个百分点（95% 区间 +1.2 个百分点 至 +28.0 个百分点）'
    """
    control = result["variant"].iloc[0]
    dec = decisions(result, alpha=alpha)
    out = []
    for r, d in zip(result.itertuples(), dec, strict=True):
        head = TEXT[d][lang].format(v=r.variant, c=control)
        if short or d == "control":
            out.append(head)
            continue
        if d == "too_few":
            tail = TEXT["too_few_why"][lang].format(k=5, mde=_pp_size(r.mde, lang)) if np.isfinite(r.mde) else ""
            out.append(head + tail)
            continue
        ci = TEXT["ci"][lang].format(
            diff=fmt_pp(r.diff, lang), lo=fmt_pp(r.diff_ci_low, lang), hi=fmt_pp(r.diff_ci_high, lang)
        )
        sep = "：" if lang == "zh" else ": "
        tail = TEXT["mde"][lang].format(mde=_pp_size(r.mde, lang)) if d == "no_difference" else ""
        out.append(head + sep + ci + tail)
    return pd.Series(out, index=result["variant"].to_numpy())


def variant_table(result: pd.DataFrame, lang: str = "zh") -> pd.DataFrame:
    """Return :func:`compare_variants`' result ready to show: verdict sentences in ``lang``, rate as ``success_rate``.

    Examples
    --------
    >>> ok = [True] * 45 + [False] * 55 + [True] * 60 + [False] * 40
    >>> r = compare_variants(pd.DataFrame({"v": ["A"] * 100 + ["B"] * 100, "ok": ok}), "v", "ok")
    >>> variant_table(r, "en")["verdict"].tolist()[0], list(variant_table(r)["success_rate"])
    ('control', [0.45, 0.6])
    """
    out = result.rename(columns={"rate": "success_rate"}).drop(columns=["p_value"])
    out["verdict"] = verdict_text(result, lang).to_numpy()
    return out


def plot_variants(result: pd.DataFrame, ax: plt.Axes | None = None, title: str = "", lang: str = "zh") -> plt.Axes:
    """Rates per variant with their 95 % intervals (error bars), control dashed.

    Parameters
    ----------
    result : DataFrame
        Output of :func:`compare_variants`.
    ax : Axes, optional
        Where to draw.
    title : str
        Title; default names the comparison.
    lang : {"zh", "en"}
        Language of the labels.

    Returns
    -------
    Axes
        The axes drawn on.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    t = _PLOT[lang]
    y = np.arange(len(result))
    err = np.vstack([result["rate"] - result["ci_low"], result["ci_high"] - result["rate"]])
    ax.errorbar(result["rate"], y, xerr=err, fmt="o", capsize=5)
    ax.axvline(result["rate"].iloc[0], ls="--", color="grey", lw=1)
    ax.set_yticks(y, [f"{v} (n={n:,})" for v, n in zip(result["variant"], result["n"], strict=True)])
    ax.invert_yaxis()
    ax.xaxis.set_major_formatter(plt.matplotlib.ticker.PercentFormatter(1.0))
    ax.set_xlabel(t["variant_x"])
    ax.set_ylabel(t["variant_y"])
    ax.set_title(title or t["variant_title"])
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
    days, removed = _durations(contacts, pd.Timestamp(as_of))
    return km_by_group(days, removed, contacts.loc[days.index, by] if by else None)


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


def plot_deletion_curves(
    fits: dict, ax: plt.Axes | None = None, max_days: int = 180, lang: str = "zh", labels: Labels | None = None
) -> plt.Axes:
    """Kaplan–Meier curves of the share still a contact, one per group, with 95 % bands; legend right of the axes.

    Parameters
    ----------
    fits : dict
        Output of :func:`friend_survival`.
    ax : Axes, optional
        Where to draw.
    max_days : int
        Right end of the x axis.
    lang : {"zh", "en"}
        Language of the labels.
    labels : Labels, optional
        Display names of the channels; default the package's names in ``lang``.

    Returns
    -------
    Axes
        The axes drawn on.
    """
    t, names = _PLOT[lang], labels_for(lang, labels)
    ax = plot_km(fits, ax=ax, max_days=max_days, name=lambda group: names.name("channel", group))
    ax.set_xlabel(t["since_add"])
    ax.set_ylabel(t["still"])
    ax.set_title(t["survival_title"])
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


def plot_payback(
    pb: pd.DataFrame, ax: plt.Axes | None = None, lang: str = "zh", labels: Labels | None = None
) -> plt.Axes:
    """Cumulative value per contact ÷ CAC by period; the line at 1 is payback; legend right of the axes.

    Parameters
    ----------
    pb : DataFrame
        Output of :func:`payback`.
    ax : Axes, optional
        Where to draw.
    lang : {"zh", "en"}
        Language of the labels.
    labels : Labels, optional
        Display names of the channels; default the package's names in ``lang``.

    Returns
    -------
    Axes
        The axes drawn on.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 4.5))
    t, names = _PLOT[lang], labels_for(lang, labels)
    for ch, d in pb.groupby("channel"):
        ax.plot(d["period"] + 1, d["ltv_to_cac"], marker="o", ms=3, label=names.name("channel", ch))
    ax.axhline(1.0, color="black", lw=1, ls="--", label=t["payback_line"])
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(plt.matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_major_locator(plt.matplotlib.ticker.MaxNLocator(integer=True))
    ax.set_xlabel(t["periods"])
    ax.set_ylabel(t["ltv_cac"])
    ax.set_title(t["payback_title"])
    ax.legend(fontsize="small", loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
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


def plot_cohort_heatmap(table: pd.DataFrame, title: str, ax: plt.Axes | None = None, lang: str = "zh") -> plt.Axes:
    """Heatmap of a cohort × period share table (from :func:`cohort_retention`), censored cells blank.

    Parameters
    ----------
    table : DataFrame
        Index cohort month, columns period.
    title : str
        Title (in the report language).
    ax : Axes, optional
        Where to draw.
    lang : {"zh", "en"}
        Language of the axis labels.

    Returns
    -------
    Axes
        The axes drawn on.
    """
    import seaborn as sns

    if ax is None:
        _, ax = plt.subplots(figsize=(10, 5))
    t = table.copy()
    t = t.dropna(how="all").dropna(axis=1, how="all")  # a cohort or period not yet observed at all is left out
    t.index = [i.strftime("%Y-%m") for i in t.index]
    if t.empty or not t.notna().to_numpy().any():  # no cohort observed for a whole period yet (a short export)
        empty = "还没有数据" if lang == "zh" else "no data yet"
        ax.annotate(empty, (0.5, 0.5), xycoords="axes fraction", ha="center")
        ax.set_title(title)
        return ax
    sns.heatmap(t, annot=True, fmt=".0%", cmap="Blues", cbar=False, ax=ax, annot_kws={"fontsize": 7})
    ax.grid(False)
    ax.set_xlabel(_PLOT[lang]["heat_x"])
    ax.set_ylabel(_PLOT[lang]["cohort"])
    ax.set_title(title)
    return ax


def plot_net_adds(
    adds: pd.DataFrame,
    by: str = "channel",
    ax: plt.Axes | None = None,
    lang: str = "zh",
    labels: Labels | None = None,
    freq: str = "W",
    end: str | pd.Timestamp | None = None,
) -> np.ndarray:
    """Net adds (adds − removals) per period as small multiples: one panel per group, bars, shared y axis.

    Bars are green above zero and red below, so a channel that shrinks shows at a glance; a partial last period
    is hatched and labelled rather than read as a drop.

    Parameters
    ----------
    adds : DataFrame
        Output of :func:`adds_over_time`.
    by : str
        Group column of ``adds``.
    ax : Axes, optional
        Ignored when there are several groups (the panels get their own figure); kept for a single group.
    lang : {"zh", "en"}
        Language of the labels.
    labels : Labels, optional
        Display names of the groups; default the package's names in ``lang``.
    freq : str
        The period of ``adds`` (``W``, ``M``, ``D``).
    end : str or Timestamp, optional
        Last day of the window: when the last period runs past it, that period is partial and is hatched.

    Returns
    -------
    numpy.ndarray
        The panels (Axes).
    """
    t, names = _PLOT[lang], labels_for(lang, labels)
    measured = adds["net_adds"].notna().any()
    value = "net_adds" if measured else "adds"
    wide = adds.pivot_table(index="period", columns=by, values=value, aggfunc="sum").fillna(0)
    wide = wide[wide.sum().sort_values(ascending=False).index]
    n = wide.shape[1]
    if n == 0:  # nobody added or removed in the window (see adds_note): no empty figure
        return np.array([], dtype=object)
    if n == 1 and ax is not None:
        axes = np.array([ax])
        fig = ax.figure
    else:
        cols = min(3, n)
        rows = int(np.ceil(n / cols))
        fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 2.6 * rows), sharex=True, sharey=True, squeeze=False)
        axes = axes.ravel()
    width = (wide.index[1] - wide.index[0]) * 0.8 if len(wide) > 1 else pd.Timedelta(days=5)
    step = {"W": pd.Timedelta(days=7), "M": pd.offsets.MonthBegin(1), "D": DAY}.get(freq, DAY)
    partial_last = end is not None and len(wide) > 0 and wide.index[-1] + step > pd.Timestamp(end) + DAY
    for a, group in zip(axes, wide.columns, strict=False):
        v = wide[group]
        colors = np.where(v >= 0, "#1a7f37", "#cf222e")
        bars = a.bar(wide.index, v, width=width, color=colors)
        if partial_last and len(bars):
            bars[-1].set_alpha(0.35)
            bars[-1].set_hatch("//")
        a.axhline(0, color="black", lw=0.8)
        a.set_title(names.name(by, group), fontsize="medium")
        a.yaxis.set_major_locator(plt.matplotlib.ticker.MaxNLocator(integer=True))
        a.tick_params(axis="x", labelrotation=30, labelsize="small")
    for a in axes[n:]:
        a.set_visible(False)
    f = t["freq"].get(freq, freq)
    title = t["net_title" if measured else "adds_title"].format(freq=f)
    if partial_last:
        title += f" · {t['partial']}"
    fig.suptitle(title)
    fig.supylabel(t["net" if measured else "adds"], fontsize="medium")
    fig.tight_layout()
    return axes[:n]


def funnel_best_text(L, funnel_table: pd.DataFrame, window_days: int) -> str:
    """Return the sentence naming the best and worst channel by first-order conversion — or saying it is not measured.

    Conversion is measured only where some contact's window has closed (``conversion`` not NaN) and the add times
    are not the first orders' (:func:`helpers.definitions.adds_from_orders`); otherwise the sentence says which
    instead of ranking nothing.
    """
    from helpers.definitions import not_measured
    from helpers.labels import fmt_int, fmt_pct

    best = funnel_table.dropna(subset=["conversion"]).sort_values("conversion")
    why = None
    if "conversion" in funnel_table.attrs.get("not_measured", {}):  # add times taken from the first orders
        why = input_missing("adds_from_orders", L.lang)
    elif best.empty:
        why = L.pick(f"还没有好友的 {window_days} 天转化窗口结束", f"no {window_days}-day window has closed yet")
    if why is not None:
        return f"{L.pick('首单转化率', 'First-order conversion')}{L.pick('：', ': ')}{not_measured(why, L.lang)}"
    return say(
        L,
        "funnel_best",
        len(best),
        w=window_days,
        best=L.name("channel", best["channel"].iloc[-1]),
        rate=fmt_pct(best["conversion"].iloc[-1]),
        n=fmt_int(best["eligible"].iloc[-1]),
        worst=L.name("channel", best["channel"].iloc[0]),
        worst_rate=fmt_pct(best["conversion"].iloc[0]),
    )

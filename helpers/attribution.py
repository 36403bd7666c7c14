"""Attribution (归因): conversion paths, heuristic / Markov / Shapley credit, ROI, referral K-factor and lift.

A *path* is the ordered list of touch types (or campaigns) a contact received before converting, or before the
end of observation when it did not convert. Paths are built in the engine and aggregated over identical
sequences: ``path`` (tuple), ``conversions``, ``nulls`` (journeys that did not convert), ``value``.

Models, and what each assumes:

- **first / last touch**: all credit to one end of the path — last touch over-credits closers such as coupons.
- **linear**: equal credit to every touch; **position-based** 40 / 20 / 40 to first, middle, last.
- **time decay**: credit ∝ 2^(−Δt / half-life) by the days between touch and conversion. The aggregated paths
  lose touch times, so :func:`build_paths` precomputes each path's summed decay credit (``decay_credit``).
- **Markov chain** (first order by default): transitions between touch states, absorbed in conversion or null;
  a channel's *removal effect* is the share of conversions lost when its state is removed. Computed exactly by
  absorbing-chain algebra, not by simulation.
- **Shapley** (simplified, Zhao et al. 2018): a coalition S is worth the conversions of journeys whose channel set
  is contained in S; the Shapley value then gives each converting journey's conversions equally to its distinct
  channels. Exact, fast, and efficient (values sum to total conversions).

None of these measures causation: only a randomised holdout (:func:`lift`) measures incremental conversions.
"""

from __future__ import annotations

import contextlib
import itertools
from math import factorial

import ibis
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from scipy import stats

from helpers.features import purchase_days
from helpers.features import timestamp_literal as _ts
from helpers.labels import Labels, fmt_int, fmt_money, fmt_p, fmt_pct, fmt_pp, labels_for
from helpers.stats import compare_variants
from helpers.truth import NO_TRUTH

__all__ = [
    "CREDIT_MODELS",
    "TEXT",
    "build_paths",
    "campaign_results",
    "campaign_roi",
    "compare_models",
    "credit_text",
    "efficiency_text",
    "headline_text",
    "heuristics",
    "holdout_lifts",
    "lift",
    "lift_table",
    "lift_text",
    "markov",
    "path_labels",
    "plot_lift",
    "plot_models",
    "plot_roas",
    "plot_tree_sizes",
    "read_channelattribution_paths",
    "referral_text",
    "referral_tree",
    "roas_text",
    "shapley",
    "shapley_bruteforce",
    "value_credit",
]

#: Result sentences of the attribution page (filled from results with ``Labels.text``).
TEXT: dict[str, dict[str, str]] = {
    "tables": {
        "zh": "触达表：{touches}；活动表：{campaigns}；实验分组表：{assignments}。",
        "en": "touches: {touches} | campaigns: {campaigns} | assignments: {assignments}",
    },
    "yes": {"zh": "有", "en": "yes"},
    "no_touches": {"zh": "无（跳过路径和归因模型）", "en": "no — paths and attribution models are skipped"},
    "no_campaigns": {"zh": "无（跳过活动 ROI）", "en": "no — ROI is skipped"},
    "no_assignments_short": {"zh": "无（无法测量增量）", "en": "no — lift cannot be measured"},
    "paths": {
        "zh": "{conv} 次转化、{nulls} 条未转化的旅程；其中 {touched} 次转化（{share}）在之前 {days} 天内有过触达，"
        "共 {n} 种不同路径。",
        "en": "{conv} conversions, {nulls} non-converting journeys; {touched} conversions ({share}) had a touch in "
        "the {days}-day window ({n} distinct paths)",
    },
    "no_paths": {
        "zh": "没有带触达的转化路径：归因模型需要触达表和转化",
        "en": "no converting paths with touches: attribution models need the touches table and conversions",
    },
    "p_conversion": {
        "zh": "马尔可夫链：从起点出发最终转化的概率 = {p}（每段旅程，分母为全部旅程）",
        "en": "Markov chain: P(conversion from start) = {p} (per journey, all journeys in the denominator)",
    },
    "credit_top": {
        "zh": "按马尔可夫模型，归因转化最多的是{m_top}（占 {m_share}）；按末次触点是{l_top}（占 {l_share}）。"
        "末次触点比马尔可夫多给最多的是{over}（{over_pp}），少给最多的是{under}（{under_pp}）。",
        "en": "Markov credits the most conversions to {m_top} ({m_share}); last touch to {l_top} ({l_share}). "
        "Last touch gives the most extra credit to {over} ({over_pp}) and takes the most from {under} "
        "({under_pp}) compared with Markov.",
    },
    "efficiency": {
        "zh": "按马尔可夫归因，每千次触达（首单前收到的触达）带来首单最多的是{best}（{best_v} 单），"
        "最少的是{worst}（{worst_v} 单）。",
        "en": "By Markov credit, first orders per 1,000 touches (touches received before the first order): highest "
        "{best} ({best_v}), lowest {worst} ({worst_v}).",
    },
    "no_roi": {"zh": "活动 ROI 需要触达表和活动表", "en": "campaign ROI needs the touches and campaigns tables"},
    "roas_low": {
        "zh": "{n} 个有成本的活动中，{low} 个 ROAS 低于 1（{model}归因的成交额少于花费）：{names}，ROAS {lo}–{hi}；"
        "ROAS 最高的是{best}（{best_roas}）。",
        "en": "{low} of {n} campaigns with a cost have ROAS below 1 (GMV credited by {model} below cost): {names}, "
        "ROAS {lo}–{hi}; the highest is {best} ({best_roas}).",
    },
    "and_more": {"zh": " 等（另有 {n} 个）", "en": " and {n} more"},
    "roas_ok": {
        "zh": "{n} 个有成本的活动 ROAS 都不低于 1（{model}归因）；最低的是{worst}（{worst_roas}），"
        "最高的是{best}（{best_roas}）。",
        "en": "All {n} campaigns with a cost have ROAS of at least 1 ({model} credit); lowest {worst} "
        "({worst_roas}), highest {best} ({best_roas}).",
    },
    "referral": {
        "zh": "K 因子 = {k}（95% 区间 {lo}–{hi}），按 {n} 位加好友满 {days} 天的好友计算：其中 {share} 邀请来了新好友；"
        "最深到第 {gen} 代；裂变把拉新放大约 1/(1−K) = {amp} 倍。",
        "en": "K-factor = {k} (95% CI {lo}–{hi}) from {n} contacts added at least {days} days ago; {share} of them "
        "brought someone; deepest generation {gen}; fission multiplies acquisition by about 1/(1-K) = {amp}.",
    },
    "top_concentrated": {
        "zh": "前 10% 的邀请人（{n} 人）带来了 {share} 的被邀请好友：裂变集中在头部，重点维护和奖励这些人。",
        "en": "The top 10% of inviters ({n} people) brought {share} of referred contacts: fission rests on a few — "
        "look after and reward them.",
    },
    "top_spread": {
        "zh": "前 10% 的邀请人（{n} 人）只带来了 {share} 的被邀请好友：邀请分散在很多老客身上，"
        "奖励要覆盖面广，不能只盯头部。",
        "en": "The top 10% of inviters ({n} people) brought only {share} of referred contacts: invitations are "
        "spread over many contacts, so rewards should reach them broadly rather than a few stars.",
    },
    "no_referrals": {
        "zh": "导出里没有推荐人（邀请人）数据：无法分析裂变树",
        "en": "the export names no referrer: no referral trees to analyse",
    },
    "generation": {"zh": "第 {g} 代", "en": "generation {g}"},
    "lift_line": {
        "zh": "{name}：实验组 {n_t} 人活动期内下单率 {conv}，对照组 {n_c} 人 {ctrl}；增量 {lift}"
        "（95% 区间 {lo} 至 {hi}，p {p}），{verdict}；人均成交额增量 {vl}（{vlo} 至 {vhi}），"
        "约 {inc} 单是活动带来的。",
        "en": "{name}: treatment {n_t} contacts ordered at {conv} in the campaign window, control {n_c} at {ctrl}; "
        "lift {lift} (95% CI {lo} to {hi}, p {p}), {verdict}; GMV per contact {vl} ({vlo} to {vhi}), about {inc} "
        "orders caused by the campaign.",
    },
    "lift_up": {"zh": "确实带来了增量", "en": "a real lift"},
    "lift_down": {"zh": "反而降低了下单", "en": "it lowered orders"},
    "lift_none": {"zh": "看不出增量（区间包含 0）", "en": "no detectable lift (the interval contains 0)"},
    "no_assignments": {
        "zh": "没有实验分组表（随机留出名单）：没有活动留出随机对照组，增量无法测量——上面的归因是相关，不是因果",
        "en": "no assignments table: no campaign kept a randomised holdout, so lift cannot be measured — "
        "attribution credit above is correlation, not causation",
    },
    "saved": {
        "zh": "活动结果（花费、归因成交额、ROAS、有留出组时的增量及区间）已保存到 artifacts/campaigns.csv，"
        "共 {n} 个活动。",
        "en": "Campaign results (cost, credited GMV, ROAS, lift with its interval where a holdout exists) saved to "
        "artifacts/campaigns.csv: {n} campaigns.",
    },
    "no_truth": NO_TRUTH,
    "not_first": {
        "zh": "conversion 参数不是 first：模拟真值只针对首单，因此不做对照",
        "en": "conversion is not 'first': the planted truth is about first orders, so it is not compared",
    },
    "answer": {
        "zh": "把刚加的好友也算进来（referral_min_age_days = 0），K 因子为 {k0}；只算加好友满 {days} 天的是 {k}。"
        "把还没来得及邀请的新好友算进分母会把 K 算低：{ok}",
        "en": "Counting every contact (referral_min_age_days = 0) gives K = {k0}; contacts added at least {days} days "
        "ago give {k}. Counting contacts who have not had time to invite lowers K: {ok}",
    },
    "headline": {"zh": "{best}；{roas}；{lift}", "en": "{best}; {roas}; {lift}"},
    "headline_best": {
        "zh": "每千次触达带来首单最多的是{best}",
        "en": "Most first orders per 1,000 touches: {best}",
    },
    "headline_no_best": {
        "zh": "每千次触达带来的首单未测量（没有可归因的触达路径）",
        "en": "First orders per 1,000 touches not measured (no touch paths to attribute)",
    },
    "headline_roas": {
        "zh": "{n} 个有成本的活动中 {low} 个 ROAS 低于 1",
        "en": "{low} of {n} campaigns with a cost have ROAS below 1",
    },
    "headline_no_roas": {"zh": "活动 ROAS 未测量", "en": "campaign ROAS not measured"},
    "headline_no_lift": {"zh": "没有留出组，增量未测量", "en": "no holdout: lift not measured"},
    "headline_lift": {
        "zh": "留出实验「{name}」的增量 {lift}（95% 区间 {lo} 至 {hi}）",
        "en": "holdout lift of {name} {lift} (95% CI {lo} to {hi})",
    },
}

_PLOT = {
    "zh": {
        "share": "归因转化占比",
        "credit_title": "归因转化最多的 {n} 种触达：马尔可夫（柱）与末次触点、夏普利值（点）",
        "roas": "ROAS（归因成交额 ÷ 花费）",
        "roas_title": "各活动 ROAS（{model}归因），红色低于 1",
        "break_even": "ROAS = 1（收支平衡）",
        "lift": "活动期下单率：实验组 − 对照组（百分点，95% 区间）",
        "lift_title": "留出实验测得的增量",
        "tree": "裂变树规模（人，含发起人）",
        "trees": "裂变树数量",
        "tree_title": "裂变树规模分布",
    },
    "en": {
        "share": "share of attributed conversions",
        "credit_title": "Top {n} touch types by credit: Markov (bars), last touch and Shapley (dots)",
        "roas": "ROAS (credited GMV ÷ cost)",
        "roas_title": "ROAS per campaign ({model} credit), red below 1",
        "break_even": "ROAS = 1 (break-even)",
        "lift": "order rate in the window: treatment − control (pp, 95% interval)",
        "lift_title": "Lift measured by the holdouts",
        "tree": "referral tree size (contacts, incl. the root inviter)",
        "trees": "trees",
        "tree_title": "Referral tree sizes",
    },
}


START, CONV, NULL = "(start)", "(conversion)", "(null)"


# ------------------------------------------------------------------------------------------------- paths


def build_paths(
    touches: ibis.Table,
    orders: ibis.Table,
    lookback_days: int = 14,
    *,
    contacts: ibis.Table | None = None,
    end: str | pd.Timestamp | None = None,
    conversion: str = "first",
    label: str = "touch_type",
    half_life_days: float = 7.0,
    max_touches: int = 30,
    collapse_repeats: bool = False,
    to_pandas=None,
) -> pd.DataFrame:
    """Conversion and non-conversion paths, aggregated over identical touch sequences.

    Parameters
    ----------
    touches, orders : ibis.Table
        Contract tables (the engine's, or ``ibis.memtable`` of pandas frames).
    lookback_days : int
        Touches within this many days before the conversion (or before the end of a non-converting journey)
        make up the path.
    contacts : ibis.Table, optional
        Contract ``contacts``: every contact who did not convert is a non-converting journey ending at ``end``
        (or at its removal). Without it, only touched users are considered.
    end : str or Timestamp, optional
        End of observation for non-converting journeys (default: the last touch or order).
    conversion : {"first", "all"}
        ``first``: a contact's first purchase occasion is the conversion (later ones are not journeys);
        ``all``: every purchase occasion (a day with paid orders not refunded in full) is a conversion, each with
        its own lookback window. Values are net of refunds.
    label : str
        Column naming a path step: ``touch_type`` (channels) or ``campaign_id`` (campaigns; touches without a
        campaign are labelled ``(<touch_type>)``).
    half_life_days : float
        Half-life of the time-decay credit.
    max_touches : int
        Longer paths keep their last ``max_touches`` touches (long paths are rare and mostly noise).
    collapse_repeats : bool
        Merge consecutive identical steps (``a > a > b`` becomes ``a > b``). Default keeps them: repeated
        exposure is information, and the Markov model handles self-transitions.
    to_pandas : callable, optional
        Executes an ibis expression (default ``expr.to_pandas()``); pass ``Engine.to_pandas``.

    Returns
    -------
    DataFrame
        ``path`` (tuple of labels, oldest first), ``conversions``, ``nulls``, ``value`` (GMV of the converting
        orders), ``decay_credit`` (tuple, per step: summed time-decay credit over the path's conversions).
        Conversions with no touch in the window are one row with the empty path ``()``.
    """
    run = to_pandas or (lambda e: e.to_pandas())
    if conversion not in ("first", "all"):
        raise ValueError("conversion must be 'first' or 'all'")
    end = pd.Timestamp(end) if end is not None else _last_event(touches, orders, run)
    with contextlib.ExitStack() as held:  # each step is computed once in the engine, and dropped on return

        def cached(t: ibis.Table) -> ibis.Table:
            return held.enter_context(t.cache())

        journeys = cached(_journeys(orders, touches, contacts, end, conversion))
        steps = _journey_steps(journeys, touches, label, lookback_days, half_life_days, max_touches, collapse_repeats)
        steps = cached(steps)
        keyed = cached(_journey_keys(steps))
        paths = run(
            keyed.group_by("key").aggregate(
                conversions=keyed.converted.cast("int64").sum(),
                nulls=(~keyed.converted).cast("int64").sum(),
                value=keyed.value.sum(),
            )
        )
        conv = steps.filter(steps.converted).join(keyed.select("conv_id", "key"), "conv_id")
        decay = run(conv.group_by(["key", "pos"]).aggregate(credit=conv.share.sum()))
        n_journeys = run(journeys.group_by("converted").aggregate(n=journeys.count(), value=journeys.value.sum()))
    return _assemble_paths(paths, decay, n_journeys)


def _last_event(touches: ibis.Table, orders: ibis.Table, run) -> pd.Timestamp:
    """Return the later of the last touch and the last order (the default end of observation)."""
    last_touch = pd.Timestamp(run(touches.aggregate(m=touches.touched_at.max()))["m"].iloc[0])
    return max(last_touch, pd.Timestamp(run(orders.aggregate(m=orders.ordered_at.max()))["m"].iloc[0]))


def _journeys(
    orders: ibis.Table, touches: ibis.Table, contacts: ibis.Table | None, end: pd.Timestamp, conversion: str
) -> ibis.Table:
    """One row per journey: conversions (``conv_id`` > 0, net value) and non-converting contacts (``conv_id`` < 0).

    A non-converting journey ends at ``end`` or at the contact's removal; without ``contacts``, only touched users
    are journeys.
    """
    occ = purchase_days(orders, end.normalize())  # purchases net of refunds: a cancelled order converts no one
    if conversion == "first":
        o = occ.group_by("user_id").aggregate(conv_at=occ.first_paid_at.min(), value=occ.amount.argmin(occ.d))
    else:
        o = occ.select("user_id", conv_at=occ.first_paid_at, value=occ.amount)
    o = o.filter(o.conv_at <= _ts(end))
    o = o.mutate(conv_id=ibis.row_number().over(ibis.window(order_by=["user_id", "conv_at"])), converted=True)
    if contacts is not None:
        base = contacts.select("user_id", stop=ibis.least(ibis.coalesce(contacts.removed_at, _ts(end)), _ts(end)))
    else:
        base = touches.group_by("user_id").aggregate(stop=_ts(end))
    nc = base.anti_join(o.select("user_id").distinct(), "user_id")
    nc = nc.select(
        "user_id",
        conv_at=nc.stop,
        value=ibis.literal(0.0),
        conv_id=-ibis.row_number().over(ibis.window(order_by="user_id")) - 1,
        converted=False,
    )

    def typed(t: ibis.Table) -> ibis.Table:
        return t.select(
            user_id=t.user_id.cast("string"),
            conv_at=t.conv_at.cast("timestamp"),
            value=t.value.cast("float64"),
            conv_id=t.conv_id.cast("int64"),
            converted=t.converted.cast("boolean"),
        )

    return typed(o).union(typed(nc))


#: Joins a path's steps into one engine string (a control character no label contains).
_STEP_SEP = "\x1f"


def _journey_steps(
    journeys: ibis.Table,
    touches: ibis.Table,
    label: str,
    lookback_days: int,
    half_life: float,
    max_touches: int,
    collapse: bool,
) -> ibis.Table:
    """Per journey, the touches of its path: ``step``, ``pos`` (0 = oldest) and ``share`` of its time-decay credit.

    Touches are ordered by time, then label. With ``collapse``, a step equal to the one before it is dropped; then
    the last ``max_touches`` are kept, and each keeps 2^(−age / half-life) of credit, normalised over the path.
    """
    step = touches[label] if label == "touch_type" else ibis.coalesce(touches[label], "(" + touches.touch_type + ")")
    t = touches.select("user_id", "touched_at", step=step)
    j = journeys.join(t, "user_id")
    j = j.filter((j.touched_at > j.conv_at - ibis.interval(days=lookback_days)) & (j.touched_at <= j.conv_at))
    if collapse:
        prev = j.step.lag().over(ibis.window(group_by=j.conv_id, order_by=[j.touched_at, j.step]))
        j = j.mutate(prev=prev)
        j = j.filter(j.prev.isnull() | (j.step != j.prev)).drop("prev")
    newest = ibis.window(group_by=j.conv_id, order_by=[j.touched_at.desc(), j.step.desc()])
    j = j.mutate(back=ibis.row_number().over(newest))
    j = j.filter(j.back < max_touches)
    age = (j.conv_at.epoch_seconds() - j.touched_at.epoch_seconds()) / 86400.0
    j = j.mutate(w=ibis.literal(0.5) ** (age / half_life))
    whole = ibis.window(group_by=j.conv_id)
    j = j.mutate(share=j.w / j.w.sum().over(whole), n=j.count().over(whole))
    return j.select("conv_id", "converted", "value", "step", pos=j.n - 1 - j.back, share=j.share)


def _journey_keys(steps: ibis.Table) -> ibis.Table:
    """One row per touched journey: its path as one string (steps oldest first, joined by :data:`_STEP_SEP`)."""
    ev = ibis.struct({"p": steps.pos, "k": steps.step})
    g = steps.group_by(["conv_id", "converted", "value"]).aggregate(ev=ev.collect())
    return g.select("conv_id", "converted", "value", key=g.ev.sort().map(lambda s: s.k).join(_STEP_SEP))


def _assemble_paths(paths: pd.DataFrame, decay: pd.DataFrame, n_journeys: pd.DataFrame) -> pd.DataFrame:
    """Turn the engine's per-path sums into :func:`build_paths`' frame, with the empty path for untouched journeys."""
    credit: dict[str, np.ndarray] = {}
    for key, d in decay.groupby("key", sort=False):
        arr = np.zeros(int(d["pos"].max()) + 1)
        arr[d["pos"].to_numpy(dtype=int)] = d["credit"].to_numpy(dtype=float)
        credit[key] = arr
    counts = n_journeys.set_index("converted")
    conv_total, null_total = int(counts["n"].get(True, 0)), int(counts["n"].get(False, 0))
    value_total = float(counts["value"].get(True, 0.0) or 0.0)
    conv, nulls = paths["conversions"].astype(int), paths["nulls"].astype(int)
    empty = (conv_total - int(conv.sum()), null_total - int(nulls.sum()), value_total - float(paths["value"].sum()))
    rows = []
    for key, c, n, v in zip(paths["key"], conv, nulls, paths["value"], strict=True):
        path = tuple(key.split(_STEP_SEP))
        rows.append((path, c, n, round(float(v), 2), tuple(credit.get(key, np.zeros(len(path)))), key))
    if empty[0] or empty[1]:
        rows.append(((), empty[0], empty[1], round(empty[2], 2), (), ""))
    out = pd.DataFrame(rows, columns=["path", "conversions", "nulls", "value", "decay_credit", "key"])
    # ties in order of the path, whichever engine ran
    out = out.sort_values(["conversions", "nulls", "key"], ascending=[False, False, True], kind="stable")
    return out.drop(columns="key").reset_index(drop=True)


def read_channelattribution_paths(path: str) -> pd.DataFrame:
    """Read ChannelAttribution-style paths (``a > b > c;conversions;value;null``) into the aggregated form."""
    raw = pd.read_csv(path, sep=";")
    return pd.DataFrame(
        {
            "path": raw["path"].map(lambda s: tuple(x.strip() for x in str(s).split(">"))),
            "conversions": raw["total_conversions"].astype(float),
            "nulls": raw["total_null"].astype(float),
            "value": raw["total_conversion_value"].astype(float),
        }
    )


def _touched(paths: pd.DataFrame) -> pd.DataFrame:
    return paths[paths["path"].map(len) > 0]


# ---------------------------------------------------------------------------------------------- heuristics
def heuristics(paths: pd.DataFrame) -> pd.DataFrame:
    """First-touch, last-touch, linear, position-based (40/20/40) and time-decay credit per channel.

    Parameters
    ----------
    paths : DataFrame
        Output of :func:`build_paths` (``decay_credit`` is needed for time decay; without it that column is NaN).

    Returns
    -------
    DataFrame
        Index channel; ``<model>_conversions`` and ``<model>_value`` for each model. Each column sums to the
        conversions (value) of paths with at least one touch.
    """
    p = _touched(paths[paths["conversions"] > 0])
    credit: dict[str, dict[str, float]] = {m: {} for m in ("first", "last", "linear", "position", "time_decay")}
    vcredit: dict[str, dict[str, float]] = {m: {} for m in credit}
    has_decay = "decay_credit" in p.columns

    def add(model: str, ch: str, conv: float, val: float) -> None:
        credit[model][ch] = credit[model].get(ch, 0.0) + conv
        vcredit[model][ch] = vcredit[model].get(ch, 0.0) + val

    for row in p.itertuples(index=False):
        path, n, v = row.path, float(row.conversions), float(row.value)
        k = len(path)
        add("first", path[0], n, v)
        add("last", path[-1], n, v)
        for ch in path:
            add("linear", ch, n / k, v / k)
        if k == 1:
            add("position", path[0], n, v)
        elif k == 2:
            add("position", path[0], n / 2, v / 2)
            add("position", path[1], n / 2, v / 2)
        else:
            add("position", path[0], 0.4 * n, 0.4 * v)
            add("position", path[-1], 0.4 * n, 0.4 * v)
            for ch in path[1:-1]:
                add("position", ch, 0.2 * n / (k - 2), 0.2 * v / (k - 2))
        if has_decay:
            dc = np.asarray(row.decay_credit, dtype=float)
            for ch, c in zip(path, dc, strict=True):
                add("time_decay", ch, c, v * c / n)
    out = {}
    for m in credit:
        if m == "time_decay" and not has_decay:
            continue
        out[f"{m}_conversions"] = pd.Series(credit[m], dtype=float)
        out[f"{m}_value"] = pd.Series(vcredit[m], dtype=float)
    res = pd.DataFrame(out).fillna(0.0)
    res.index.name = "channel"
    return res.sort_index()


# -------------------------------------------------------------------------------------------------- Markov
def _transitions_order1(paths: pd.DataFrame, weight_conv: str, weight_null: str) -> tuple[dict, list]:
    """First-order transition counts, vectorised: channel codes of all steps in one array, pairs counted at once."""
    wc = paths[weight_conv].to_numpy(dtype=float)
    wn = paths[weight_null].to_numpy(dtype=float)
    steps = [tuple(p) for p in paths["path"]]
    keep = np.array([len(p) > 0 for p in steps]) & ((wc != 0) | (wn != 0))
    steps = [p for p, k in zip(steps, keep, strict=True) if k]
    wc, wn = wc[keep], wn[keep]
    channels = sorted({c for p in paths["path"] for c in p})
    counts: dict = {}
    if not steps:
        return counts, channels
    code = {c: i for i, c in enumerate(channels)}
    k = len(channels)
    lengths = np.array([len(p) for p in steps])
    flat = np.fromiter((code[c] for p in steps for c in p), dtype=np.int64, count=int(lengths.sum()))
    ends = np.cumsum(lengths)
    starts = ends - lengths
    w = np.repeat(wc + wn, lengths)
    inner = np.ones(len(flat), dtype=bool)
    inner[ends - 1] = False  # the last step of a path has no next step
    pair = flat[:-1][inner[:-1]] * k + flat[1:][inner[:-1]]
    trans = np.bincount(pair, weights=w[:-1][inner[:-1]], minlength=k * k).reshape(k, k)
    first = np.bincount(flat[starts], weights=wc + wn, minlength=k)
    conv = np.bincount(flat[ends - 1], weights=wc, minlength=k)
    null = np.bincount(flat[ends - 1], weights=wn, minlength=k)
    counts[START] = {(channels[j],): float(first[j]) for j in range(k) if first[j]}
    for i, c in enumerate(channels):
        row = {(channels[j],): float(trans[i, j]) for j in range(k) if trans[i, j]}
        if conv[i]:
            row[CONV] = float(conv[i])
        if null[i]:
            row[NULL] = float(null[i])
        if row:
            counts[(c,)] = row
    return counts, channels


def _transitions(paths: pd.DataFrame, order: int, weight_conv: str, weight_null: str) -> tuple[dict, list]:
    """Weighted transition counts between order-k states, with start, conversion and null."""
    if order == 1:
        return _transitions_order1(paths, weight_conv, weight_null)
    return _transitions_loop(paths, order, weight_conv, weight_null)


def _transitions_loop(paths: pd.DataFrame, order: int, weight_conv: str, weight_null: str) -> tuple[dict, list]:
    """Any-order transition counts, path by path (the reference the vectorised first-order version must equal)."""
    counts: dict[tuple, dict] = {}
    for row in paths.itertuples(index=False):
        path = tuple(row.path)
        wc, wn = float(getattr(row, weight_conv)), float(getattr(row, weight_null))
        if not path or (wc == 0 and wn == 0):
            continue
        states = [START] + [path[max(0, i - order + 1) : i + 1] for i in range(len(path))]
        for end_state, w in ((CONV, wc), (NULL, wn)):
            if w == 0:
                continue
            seq = [*states, end_state]
            for a, b in itertools.pairwise(seq):
                row_counts = counts.setdefault(a, {})
                row_counts[b] = row_counts.get(b, 0.0) + w
    channels = sorted({c for p in paths["path"] for c in p})
    return counts, channels


def _absorb(counts: dict, removed: str | None, reward: dict | None = None) -> float:
    """Return the expected reward at conversion from start (P(conversion) when ``reward`` is None).

    States containing ``removed`` are taken out of the chain: transitions into them go nowhere (to null).
    """
    states = [s for s in counts if s != START]
    if removed is not None:
        states = [s for s in states if removed not in s]
    idx = {s: i + 1 for i, s in enumerate(states)}
    idx[START] = 0
    n = len(idx)
    Q = np.zeros((n, n))
    r = np.zeros(n)
    for a, row in counts.items():
        if a not in idx:
            continue
        total = sum(row.values())
        for b, w in row.items():
            if b == CONV:
                r[idx[a]] += w / total * (1.0 if reward is None else reward.get(a, 0.0))
            elif b in idx and b != START:
                Q[idx[a], idx[b]] += w / total
    return float(np.linalg.solve(np.eye(n) - Q, r)[0])


def markov(paths: pd.DataFrame, order: int = 1) -> pd.DataFrame:
    """Markov-chain attribution with exact removal effects (absorbing-chain algebra).

    The chain's transition probabilities come from all journeys (converting ones weighted by their
    conversions, the others by their nulls). A channel's removal effect is 1 − P(conversion without it) /
    P(conversion). For value, each conversion transition carries the mean value of the conversions reached
    from that state, and the removal effect is the share of expected value lost.

    Parameters
    ----------
    paths : DataFrame
        Aggregated paths (``path``, ``conversions``, ``nulls``, ``value``).
    order : int
        Markov order: a state is the last ``order`` steps.

    Returns
    -------
    DataFrame
        Index channel; ``removal_effect``, ``markov_conversions``, ``removal_effect_value``, ``markov_value``.
        ``attrs["p_conversion"]`` is P(conversion from start).

    Examples
    --------
    >>> p = pd.DataFrame({"path": [("a",), ("a", "b"), ("b",)], "conversions": [1, 1, 0], "nulls": [1, 0, 1],
    ...                   "value": [10.0, 20.0, 0.0]})
    >>> m = markov(p)
    >>> m["markov_conversions"].round(4).to_dict()
    {'a': 1.2, 'b': 0.8}
    """
    p = _touched(paths)
    if p["conversions"].sum() <= 0:
        raise ValueError("no converting path with a touch: nothing to attribute")
    counts, channels = _transitions(p, order, "conversions", "nulls")
    # mean value of the conversions reached from each state: the reward of the value chain
    vsum: dict[tuple, float] = {}
    csum: dict[tuple, float] = {}
    for path, n, v in zip(p["path"], p["conversions"], p["value"], strict=True):
        if n > 0:
            last = tuple(path)[-order:]
            vsum[last] = vsum.get(last, 0.0) + float(v)
            csum[last] = csum.get(last, 0.0) + float(n)
    reward = {k: vsum[k] / csum[k] for k in csum}
    base = _absorb(counts, None)
    base_v = _absorb(counts, None, reward)
    re = pd.Series({c: 1.0 - _absorb(counts, c) / base for c in channels})
    re_v = pd.Series({c: 1.0 - _absorb(counts, c, reward) / base_v for c in channels})
    res = pd.DataFrame(
        {
            "removal_effect": re,
            "markov_conversions": float(p["conversions"].sum()) * re / re.sum(),
            "removal_effect_value": re_v,
            "markov_value": float(p["value"].sum()) * re_v / re_v.sum(),
        }
    )
    res.index.name = "channel"
    res.attrs["p_conversion"] = base
    return res


# ------------------------------------------------------------------------------------------------- Shapley
def shapley(paths: pd.DataFrame) -> pd.DataFrame:
    """Simplified Shapley values (Zhao et al. 2018) for conversions and value.

    Worth function: v(S) = conversions (value) of converting journeys whose set of distinct channels is a subset
    of S. Its Shapley value splits each journey's conversions equally among its distinct channels, so the
    values sum exactly to the conversions of touched journeys (efficiency) and equal channels get equal credit
    (symmetry); :func:`shapley_bruteforce` checks this on small channel sets.

    Returns
    -------
    DataFrame
        Index channel; ``shapley_conversions``, ``shapley_value``.
    """
    p = _touched(paths[paths["conversions"] > 0])
    conv: dict[str, float] = {}
    val: dict[str, float] = {}
    for path, n, v in zip(p["path"], p["conversions"], p["value"], strict=True):
        chans = set(path)
        for c in chans:
            conv[c] = conv.get(c, 0.0) + float(n) / len(chans)
            val[c] = val.get(c, 0.0) + float(v) / len(chans)
    res = pd.DataFrame({"shapley_conversions": pd.Series(conv), "shapley_value": pd.Series(val)}).sort_index()
    res.index.name = "channel"
    return res


def shapley_bruteforce(players: list[str], worth) -> dict[str, float]:
    """Exact Shapley values by enumerating every coalition (for checking; 2^n coalitions).

    Parameters
    ----------
    players : list of str
        The players (channels).
    worth : callable
        ``worth(frozenset) -> float``.

    Returns
    -------
    dict
        Player → Shapley value.
    """
    n = len(players)
    out = {}
    cache: dict[frozenset, float] = {}

    def v(s: frozenset) -> float:
        if s not in cache:
            cache[s] = float(worth(s))
        return cache[s]

    for i in players:
        others = [p for p in players if p != i]
        total = 0.0
        for k in range(n):
            wgt = factorial(k) * factorial(n - k - 1) / factorial(n)
            for combo in itertools.combinations(others, k):
                s = frozenset(combo)
                total += wgt * (v(s | {i}) - v(s))
        out[i] = total
    return out


# ----------------------------------------------------------------------------------------- side by side
def compare_models(h: pd.DataFrame, m: pd.DataFrame, s: pd.DataFrame) -> pd.DataFrame:
    """All models' attributed conversions per channel side by side.

    Parameters
    ----------
    h, m, s : DataFrame
        Results of :func:`heuristics`, :func:`markov` and :func:`shapley` on the same paths (computed once by
        the caller, who usually needs them again for value and ROI).

    Returns
    -------
    DataFrame
        Index channel; one column of attributed conversions per model, named by the model's code (``first``,
        ``last``, ``linear``, ``position``, ``time_decay``, ``markov``, ``shapley``; display names in
        :data:`helpers.labels.NAMES` ``["model"]``).
    """
    cols = {
        "first": h["first_conversions"],
        "last": h["last_conversions"],
        "linear": h["linear_conversions"],
        "position": h["position_conversions"],
    }
    if "time_decay_conversions" in h:
        cols["time_decay"] = h["time_decay_conversions"]
    cols["markov"] = m["markov_conversions"]
    cols["shapley"] = s["shapley_conversions"]
    return pd.DataFrame(cols).fillna(0.0)


def plot_models(
    table: pd.DataFrame,
    ax: plt.Axes | None = None,
    lang: str = "zh",
    labels: Labels | None = None,
    top: int = 6,
    kind: str = "touch_type",
) -> plt.Axes:
    """Share of attributed conversions of the top channels: Markov as bars, last touch and Shapley as dots.

    One bar per channel instead of one per channel × model: the dots show where the last-click view most tools use
    (and Shapley) disagree with Markov. Legend below the axes, off the bars.

    Parameters
    ----------
    table : DataFrame
        Output of :func:`compare_models`.
    ax : Axes, optional
        Where to draw.
    lang : {"zh", "en"}
        Language of the labels.
    labels : Labels, optional
        Display names (a team's names file); default the package's names in ``lang``.
    top : int
        Channels shown (largest Markov credit first).
    kind : str
        Kind of the index values for their display names.

    Returns
    -------
    Axes
        The axes drawn on.
    """
    t, names = _PLOT[lang], labels_for(lang, labels)
    share = (table / table.sum()).sort_values("markov", ascending=False).head(top).iloc[::-1]
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 0.55 * len(share) + 1.8))
    y = np.arange(len(share))
    ax.barh(y, share["markov"], color="#4c72b0", label=names.name("model", "markov"))
    ax.scatter(
        share["last"], y, marker="|", s=400, linewidths=3, color="#c44e52", zorder=3, label=names.name("model", "last")
    )
    ax.scatter(
        share["shapley"],
        y,
        marker="o",
        s=40,
        facecolors="none",
        edgecolors="black",
        zorder=3,
        label=names.name("model", "shapley"),
    )
    ax.set_yticks(y, [names.name(kind, c) for c in share.index])
    ax.xaxis.set_major_formatter(plt.matplotlib.ticker.PercentFormatter(1.0))
    ax.set_xlabel(t["share"])
    ax.set_title(t["credit_title"].format(n=len(share)))
    ax.legend(fontsize="small", ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.18), frameon=False)
    return ax


def credit_text(table: pd.DataFrame, labels: Labels, kind: str = "touch_type") -> str:
    """Return the sentence comparing Markov and last-touch credit (shares of attributed conversions).

    Examples
    --------
    >>> t = pd.DataFrame({"last": [60.0, 40.0], "markov": [50.0, 50.0], "shapley": [50.0, 50.0]},
    ...                  index=["coupon", "moments"])
    >>> credit_text(t, Labels("en"))[:70]
    'Markov credits the most conversions to coupon (50.0%); last touch to c'
    """
    share = table / table.sum()
    gap = (share["last"] - share["markov"]).sort_values()
    m, lt = share["markov"].idxmax(), share["last"].idxmax()
    return labels.text(
        TEXT,
        "credit_top",
        m_top=labels.name(kind, m),
        m_share=fmt_pct(share.loc[m, "markov"]),
        l_top=labels.name(kind, lt),
        l_share=fmt_pct(share.loc[lt, "last"]),
        over=labels.name(kind, gap.index[-1]),
        over_pp=fmt_pp(gap.iloc[-1], labels.lang),
        under=labels.name(kind, gap.index[0]),
        under_pp=fmt_pp(gap.iloc[0], labels.lang),
    )


def efficiency_text(per_touch: pd.DataFrame, labels: Labels, model: str = "markov") -> str:
    """Return the sentence naming the most and least efficient channel (credit per 1,000 touches).

    Examples
    --------
    >>> t = pd.DataFrame({"markov": [120.0, 60.5]}, index=["private_chat", "moments"])
    >>> efficiency_text(t, Labels("zh"))
    '按马尔可夫归因，每千次触达（首单前收到的触达）带来首单最多的是私聊（120.0 单），最少的是朋友圈（60.5 单）。'
    """
    v = per_touch[model].dropna().sort_values()
    return labels.text(
        TEXT,
        "efficiency",
        best=labels.name("touch_type", v.index[-1]),
        best_v=f"{v.iloc[-1]:,.1f}",
        worst=labels.name("touch_type", v.index[0]),
        worst_v=f"{v.iloc[0]:,.1f}",
    )


def path_labels(paths: pd.DataFrame, labels: Labels, kind: str = "touch_type") -> pd.Series:
    """Return each path as display names joined by arrows (the empty path as "（无触达）" / "(no touch)").

    Examples
    --------
    >>> p = pd.DataFrame({"path": [("moments", "coupon"), ()]})
    >>> path_labels(p, Labels("zh")).tolist()
    ['朋友圈 → 优惠券', '（无触达）']
    """
    empty = labels.pick("（无触达）", "(no touch)")
    return paths["path"].map(lambda p: " → ".join(labels.name(kind, s) for s in p) if len(p) else empty)


# --------------------------------------------------------------------------------------------------- ROI
#: Models whose value credit :func:`value_credit` returns.
CREDIT_MODELS = ("markov", "shapley", "linear", "last", "first", "position", "time_decay")


def value_credit(paths: pd.DataFrame, model: str = "markov", order: int = 1) -> pd.Series:
    """GMV credited to each step of the paths by one attribution model.

    Parameters
    ----------
    paths : DataFrame
        Output of :func:`build_paths`.
    model : str
        One of :data:`CREDIT_MODELS`.
    order : int
        Markov chain order (``markov`` only).

    Returns
    -------
    Series
        Credited value per channel (or campaign), named ``<model>_value``.
    """
    if model == "markov":
        return markov(paths, order=order)["markov_value"]
    if model == "shapley":
        return shapley(paths)["shapley_value"]
    if model not in CREDIT_MODELS:
        raise ValueError(f"model must be one of {', '.join(CREDIT_MODELS)}, not {model!r}")
    return heuristics(paths)[f"{model}_value"]


def campaign_roi(attributed_value: pd.Series, campaigns: pd.DataFrame) -> pd.DataFrame:
    """ROI per campaign: attributed GMV ÷ cost (ROAS), for campaigns in the paths that have a cost.

    Parameters
    ----------
    attributed_value : Series
        Campaign id → attributed GMV (from any model run on campaign-labelled paths).
    campaigns : DataFrame
        Contract ``campaigns`` (``campaign_id``, ``name``, ``kind``, ``cost``).

    Returns
    -------
    DataFrame
        ``campaign_id``, ``name``, ``kind``, ``cost``, ``attributed_gmv``, ``roas`` (GMV / cost).
    """
    c = campaigns.set_index("campaign_id")[["name", "kind", "cost"]]
    c = c[c.index.isin(attributed_value.index)]  # campaigns that appear in the paths (touch campaigns)
    out = c.join(attributed_value.rename("attributed_gmv"), how="left").fillna({"attributed_gmv": 0.0})
    out = out[out["cost"].notna() & (out["cost"] > 0)]
    out["roas"] = out["attributed_gmv"] / out["cost"]
    return out.sort_values("roas", ascending=False).reset_index()


def roas_text(roi: pd.DataFrame, labels: Labels, model: str = "markov") -> str:
    """Return the sentence on ROAS: the campaigns below 1 (named, with their range) or that none is.

    Examples
    --------
    >>> roi = pd.DataFrame({"campaign_id": ["a", "b", "c"], "roas": [2.0, 0.5, 0.25]})
    >>> roas_text(roi, Labels("en")).split(" (")[0]
    '2 of 3 campaigns with a cost have ROAS below 1'
    >>> roas_text(roi, Labels("zh")).split("：")[1]
    'b、c，ROAS 0.25–0.50；ROAS 最高的是a（2.00）。'
    """
    r = roi.sort_values("roas", ascending=False)
    name = labels.names_of("campaign", r["campaign_id"])
    low = r["roas"] < 1
    sep = "、" if labels.lang == "zh" else ", "
    common = {
        "n": len(r),
        "model": labels.name("model", model),
        "best": name[0],
        "best_roas": f"{r['roas'].iloc[0]:.2f}",
    }
    if not low.any():
        return labels.text(TEXT, "roas_ok", worst=name[-1], worst_roas=f"{r['roas'].iloc[-1]:.2f}", **common)
    names = [n for n, is_low in zip(name, low, strict=True) if is_low]
    shown = sep.join(names[:5]) + (labels.text(TEXT, "and_more", n=len(names) - 5) if len(names) > 5 else "")
    return labels.text(
        TEXT,
        "roas_low",
        low=int(low.sum()),
        names=shown,
        lo=f"{r.loc[low, 'roas'].min():.2f}",
        hi=f"{r.loc[low, 'roas'].max():.2f}",
        **common,
    )


def plot_roas(
    roi: pd.DataFrame,
    ax: plt.Axes | None = None,
    lang: str = "zh",
    labels: Labels | None = None,
    model: str = "markov",
) -> plt.Axes:
    """Horizontal bars of ROAS per campaign with the break-even line at 1; campaigns below 1 in red.

    Parameters
    ----------
    roi : DataFrame
        Output of :func:`campaign_roi`.
    ax : Axes, optional
        Where to draw.
    lang : {"zh", "en"}
        Language of the labels.
    labels : Labels, optional
        Display names of the campaigns (see :func:`helpers.acquisition.name_campaigns`).
    model : str
        The attribution model behind the credited GMV (named in the title).

    Returns
    -------
    Axes
        The axes drawn on.
    """
    t, names = _PLOT[lang], labels_for(lang, labels)
    r = roi.sort_values("roas")
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 0.32 * len(r) + 1.6))
    colors = np.where(r["roas"] < 1, "#cf222e", "#4c72b0")
    y = np.arange(len(r))
    ax.barh(y, r["roas"], color=colors)
    ax.axvline(1.0, color="black", lw=1.2, ls="--", label=t["break_even"])
    for yi, v in zip(y, r["roas"], strict=True):
        ax.text(v, yi, f" {v:.2f}", va="center", fontsize="x-small")
    top = np.nanmax([*r["roas"].to_numpy(dtype=float), 1.0])
    ax.set_xlim(0, top * 1.15)  # room for the largest bar's label inside the plot (it ran into the edge)
    ax.set_yticks(y, names.names_of("campaign", r["campaign_id"]))
    ax.set_xlabel(t["roas"])
    ax.set_title(t["roas_title"].format(model=names.name("model", model)))
    ax.legend(fontsize="small", loc="lower right")
    return ax


def holdout_lifts(units: pd.DataFrame, alpha: float = 0.05, campaign: str = "campaign_id") -> pd.DataFrame:
    """Return :func:`lift` for every randomised campaign in ``units``, one row per campaign and treated arm.

    Parameters
    ----------
    units : DataFrame
        One row per assigned contact and campaign: ``campaign_id``, ``arm``, ``converted``, ``value``.
    alpha : float
        Intervals are ``1 - alpha``.
    campaign : str
        Campaign column.

    Returns
    -------
    DataFrame
        ``campaign_id`` then the columns of :func:`lift`.
    """
    parts = [lift(u, alpha=alpha).assign(**{campaign: cid}) for cid, u in units.groupby(campaign)]
    if not parts:
        return pd.DataFrame(columns=[campaign, "arm", "lift", "lift_ci_low", "lift_ci_high"])
    out = pd.concat(parts, ignore_index=True)
    return out[[campaign, *[c for c in out.columns if c != campaign]]]


def lift_table(lifts: pd.DataFrame) -> pd.DataFrame:
    """Return the columns of :func:`holdout_lifts` a reader needs, named for the page (arm sizes, rates, lift).

    Examples
    --------
    >>> lift_table(pd.DataFrame(columns=["campaign_id", "arm", "n", "conversion"])).columns.tolist()[:3]
    ['campaign_id', 'n_treated', 'n_control']
    """
    cols = ["campaign_id", "n_treated", "n_control", "conversion_treated", "conversion_control", "lift"]
    cols += ["lift_ci_low", "lift_ci_high", "p_value", "value_lift", "incremental_conversions"]
    return lifts.rename(columns={"n": "n_treated", "conversion": "conversion_treated"}).reindex(columns=cols)


def lift_text(lifts: pd.DataFrame, labels: Labels) -> list[str]:
    """Return one sentence per holdout campaign: rates per arm, lift in percentage points with interval, verdict.

    Examples
    --------
    >>> ok = [True] * 150 + [False] * 350 + [True] * 100 + [False] * 400
    >>> u = pd.DataFrame({"campaign_id": "c1", "arm": ["treatment"] * 500 + ["control"] * 500, "converted": ok})
    >>> lift_text(holdout_lifts(u.assign(value=u["converted"] * 10.0)), Labels("zh"))[0].split("（")[0]
    'c1：实验组 500 人活动期内下单率 30.0%，对照组 500 人 20.0%；增量 +10.0 个百分点'
    """
    out = []
    for r in lifts.itertuples(index=False):
        verdict = "lift_up" if r.lift_ci_low > 0 else ("lift_down" if r.lift_ci_high < 0 else "lift_none")
        money = labels.currency
        out.append(
            labels.text(
                TEXT,
                "lift_line",
                name=labels.name("campaign", r.campaign_id),
                n_t=fmt_int(r.n),
                conv=fmt_pct(r.conversion),
                n_c=fmt_int(r.n_control),
                ctrl=fmt_pct(r.conversion_control),
                lift=fmt_pp(r.lift, labels.lang),
                lo=fmt_pp(r.lift_ci_low, labels.lang),
                hi=fmt_pp(r.lift_ci_high, labels.lang),
                p=fmt_p(r.p_value),
                verdict=labels.text(TEXT, verdict),
                vl=fmt_money(r.value_lift, money, 2, sign=True),
                vlo=fmt_money(r.value_lift_ci_low, money, 2, sign=True),
                vhi=fmt_money(r.value_lift_ci_high, money, 2, sign=True),
                inc=fmt_int(r.incremental_conversions),
            )
        )
    return out


def plot_lift(
    lifts: pd.DataFrame, ax: plt.Axes | None = None, lang: str = "zh", labels: Labels | None = None
) -> plt.Axes:
    """Lift (treatment − control order rate) per holdout campaign with its interval, in percentage points.

    Parameters
    ----------
    lifts : DataFrame
        Output of :func:`holdout_lifts`.
    ax : Axes, optional
        Where to draw.
    lang : {"zh", "en"}
        Language of the labels.
    labels : Labels, optional
        Display names of the campaigns.

    Returns
    -------
    Axes
        The axes drawn on.
    """
    t, names = _PLOT[lang], labels_for(lang, labels)
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 0.6 * len(lifts) + 1.6))
    y = np.arange(len(lifts))
    pp = lifts[["lift", "lift_ci_low", "lift_ci_high"]].astype(float) * 100
    err = np.vstack([pp["lift"] - pp["lift_ci_low"], pp["lift_ci_high"] - pp["lift"]])
    colors = np.where(pp["lift_ci_low"] > 0, "#1a7f37", np.where(pp["lift_ci_high"] < 0, "#cf222e", "#666666"))
    for yi, x, e0, e1, c in zip(y, pp["lift"], err[0], err[1], colors, strict=True):
        ax.errorbar(x, yi, xerr=[[e0], [e1]], fmt="o", capsize=6, color=c)
        ax.annotate(f"{x:+.1f}", (x, yi), textcoords="offset points", xytext=(0, 8), ha="center", fontsize="small")
    ax.axvline(0, color="black", lw=1)
    ax.set_yticks(y, names.names_of("campaign", lifts["campaign_id"]))
    ax.set_ylim(-0.6, len(lifts) - 0.4)
    ax.invert_yaxis()  # first campaign on top, as in the table
    ax.set_xlabel(t["lift"])
    ax.set_title(t["lift_title"])
    return ax


def campaign_results(roi: pd.DataFrame | None, lifts: pd.DataFrame | None, campaigns: pd.DataFrame) -> pd.DataFrame:
    """One row per campaign with a cost or a holdout: cost, credited GMV, ROAS, and holdout lift with interval.

    Machine column names (for ``artifacts/campaigns.csv`` and the summary page): ``campaign_id``, ``name``,
    ``kind``, ``cost``, ``attributed_gmv``, ``roas``, ``roas_below_1``, ``lift``, ``lift_ci_low``, ``lift_ci_high``,
    ``lift_p_value``, ``value_lift``, ``value_lift_ci_low``, ``value_lift_ci_high``; lift columns are empty where
    no holdout was kept (not measured, not zero).

    Examples
    --------
    >>> camps = pd.DataFrame({"campaign_id": ["a", "b"], "name": ["A", "B"], "kind": ["coupon", "livestream"],
    ...                       "cost": [100.0, 50.0]})
    >>> roi = campaign_roi(pd.Series({"a": 250.0, "b": 20.0}), camps)
    >>> lifts = pd.DataFrame({"campaign_id": ["a"], "lift": [0.05], "lift_ci_low": [0.01], "lift_ci_high": [0.09]})
    >>> r = campaign_results(roi, lifts, camps)
    >>> r[["campaign_id", "roas", "roas_below_1"]].to_dict("list"), r["lift"].tolist()
    ({'campaign_id': ['a', 'b'], 'roas': [2.5, 0.4], 'roas_below_1': [False, True]}, [0.05, nan])
    """
    base = campaigns[["campaign_id", "name", "kind", "cost"]].copy()
    out = (
        base.merge(roi[["campaign_id", "attributed_gmv", "roas"]], on="campaign_id", how="left")
        if roi is not None
        else base.assign(attributed_gmv=np.nan, roas=np.nan)
    )
    out["roas_below_1"] = (out["roas"] < 1).where(out["roas"].notna())  # no ROAS: not measured, not "no"
    cols = ["lift", "lift_ci_low", "lift_ci_high", "p_value", "value_lift", "value_lift_ci_low", "value_lift_ci_high"]
    if lifts is not None and len(lifts):
        first = lifts.drop_duplicates("campaign_id").set_index("campaign_id").reindex(columns=cols)
        out = out.merge(
            first.rename(columns={"p_value": "lift_p_value"}), left_on="campaign_id", right_index=True, how="left"
        )
    else:
        for c in cols:
            out["lift_p_value" if c == "p_value" else c] = np.nan
    keep = out["roas"].notna() | out["lift"].notna()
    return out[keep].sort_values("roas", ascending=False, na_position="last").reset_index(drop=True)


def headline_text(
    per_touch: pd.DataFrame | None, roi: pd.DataFrame | None, lifts: pd.DataFrame | None, labels: Labels
) -> str:
    """Return the page's one-sentence result: the most efficient touch type, ROAS below 1, the holdout lift.

    Examples
    --------
    >>> pt = pd.DataFrame({"markov": [120.0, 60.0]}, index=["private_chat", "moments"])
    >>> roi = pd.DataFrame({"campaign_id": ["a", "b"], "roas": [2.0, 0.5]})
    >>> headline_text(pt, roi, None, Labels("zh"))
    '每千次触达带来首单最多的是私聊；2 个有成本的活动中 1 个 ROAS 低于 1；没有留出组，增量未测量'
    >>> headline_text(None, None, None, Labels("zh"))  # no touches: not measured, not a dash
    '每千次触达带来的首单未测量（没有可归因的触达路径）；活动 ROAS 未测量；没有留出组，增量未测量'
    """
    if per_touch is None or not len(per_touch):
        best = labels.text(TEXT, "headline_no_best")
    else:
        best = labels.text(TEXT, "headline_best", best=labels.name("touch_type", per_touch["markov"].idxmax()))
    if roi is None or not len(roi):
        roas = labels.text(TEXT, "headline_no_roas")
    else:
        roas = labels.text(TEXT, "headline_roas", n=len(roi), low=int((roi["roas"] < 1).sum()))
    if lifts is None or not len(lifts):
        lift_part = labels.text(TEXT, "headline_no_lift")
    else:
        r = lifts.iloc[0]
        lift_part = labels.text(
            TEXT,
            "headline_lift",
            name=labels.name("campaign", r["campaign_id"]),
            lift=fmt_pp(r["lift"], labels.lang),
            lo=fmt_pp(r["lift_ci_low"], labels.lang),
            hi=fmt_pp(r["lift_ci_high"], labels.lang),
        )
    return labels.text(TEXT, "headline", best=best, roas=roas, lift=lift_part)


# --------------------------------------------------------------------------------------------- referrals
def referral_tree(contacts: pd.DataFrame, end: str | pd.Timestamp, min_age_days: int = 90) -> dict:
    """Referral fission (裂变) from ``referrer_id``: K-factor, generations, tree sizes, top inviters' share.

    K-factor = new contacts brought per contact, measured on contacts added at least ``min_age_days`` before
    ``end`` (younger ones have not finished inviting: counting them would bias K down). With invitations known
    (leads), K = invites per inviter × invite conversion; here it is measured directly.

    Each contact has one referrer at most, so the referrals form trees: a contact whose referrer is missing or not
    a contact is a root, generation g is the contacts whose referrer is in generation g − 1, and a tree's size is
    its root and every contact reached from it. The generations are walked level by level in arrays (1 M contacts
    in about a second; the same figures as a networkx graph, tested). A contact whose chain of referrers loops
    back on itself is in no tree.

    Returns
    -------
    dict
        ``k_factor`` with ``k_ci`` (95 %, Poisson), ``eligible_inviters``, ``referred``, ``share_inviting``,
        ``max_generation``, ``generation_counts`` (Series), ``tree_sizes`` (Series: size → trees),
        ``top10pct_inviter_share`` (share of referred contacts brought by the top 10 % of inviters, who number
        ``top10pct_inviters`` of ``inviters``).

    Raises
    ------
    ValueError
        ``user_id`` is not unique (the contract's key; 00 quarantines repeats).
    """
    end = pd.Timestamp(end)
    ids = pd.Index(contacts["user_id"])
    if not ids.is_unique:
        raise ValueError("referral_tree needs one row per contact (user_id repeats)")
    n_all = len(ids)
    parent = ids.get_indexer(contacts["referrer_id"]) if n_all else np.zeros(0, np.intp)  # −1: none or unknown
    kids = np.bincount(parent[parent >= 0], minlength=n_all)
    old = (contacts["added_at"] <= end - pd.Timedelta(days=min_age_days)).to_numpy()
    children = kids[old].astype(float)
    n, total = len(children), float(children.sum())
    k = total / n if n else float("nan")
    lo, hi = (
        (stats.chi2.ppf(0.025, 2 * total) / 2 / n, stats.chi2.ppf(0.975, 2 * total + 2) / 2 / n)
        if n
        else (float("nan"), float("nan"))
    )
    depth, root = _generations(parent)
    reached = depth >= 0
    roots = np.flatnonzero(parent < 0)
    size = np.bincount(root[reached], minlength=n_all)
    sizes = pd.Series(size[roots[kids[roots] > 0]], dtype="int64")
    inv = pd.Series(kids, dtype=float)
    inv = inv[inv > 0].sort_values(ascending=False)
    n_top = max(1, int(np.ceil(0.1 * len(inv)))) if len(inv) else 0
    top = inv.head(n_top).sum() / inv.sum() if len(inv) else float("nan")
    return {
        "k_factor": k,
        "k_ci": (lo, hi),
        "eligible_inviters": n,
        "referred": int(total),
        "share_inviting": float((children > 0).mean()) if n else float("nan"),
        "max_generation": int(depth.max()) if reached.any() else 0,
        "generation_counts": pd.Series(depth[reached]).value_counts().sort_index(),
        "tree_sizes": sizes.value_counts().sort_index(),
        "top10pct_inviter_share": float(top),
        "inviters": len(inv),
        "top10pct_inviters": n_top,
    }


def _generations(parent: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return every node's generation (−1: not reached from a root) and root, walking the trees level by level.

    ``parent[i]`` is node i's parent (−1 for a root). Children are found by a binary search in the nodes sorted by
    parent, one level at a time.

    Examples
    --------
    >>> _generations(np.array([-1, 0, 0, 1, -1, 6, 5]))  # 5 and 6 refer each other: a loop, no root
    (array([ 0,  1,  1,  2,  0, -1, -1]), array([ 0,  0,  0,  0,  4, -1, -1]))
    """
    n = len(parent)
    depth, root = np.full(n, -1), np.full(n, -1)
    by_parent = np.argsort(parent, kind="stable")
    sorted_parent = parent[by_parent]
    frontier = np.flatnonzero(parent < 0)
    depth[frontier], root[frontier] = 0, frontier
    level = 0
    while frontier.size:
        first = np.searchsorted(sorted_parent, frontier, "left")
        count = np.searchsorted(sorted_parent, frontier, "right") - first
        offset = np.arange(int(count.sum())) - np.repeat(np.cumsum(count) - count, count)
        nodes = by_parent[np.repeat(first, count) + offset]
        level += 1
        depth[nodes], root[nodes] = level, np.repeat(root[frontier], count)
        frontier = nodes
    return depth, root


def referral_text(ref: dict, labels: Labels, min_age_days: int) -> list[str]:
    """Return the K-factor sentence and the top-inviters sentence (concentrated when the top 10 % bring ≥ 50 %).

    Examples
    --------
    >>> ref = {"k_factor": 0.2, "k_ci": (0.19, 0.21), "eligible_inviters": 1000, "share_inviting": 0.18,
    ...        "max_generation": 3, "top10pct_inviter_share": 0.18, "top10pct_inviters": 20}
    >>> referral_text(ref, Labels("zh"), 90)[1]
    '前 10% 的邀请人（20 人）只带来了 18.0% 的被邀请好友：邀请分散在很多老客身上，奖励要覆盖面广，不能只盯头部。'
    """
    k, (lo, hi) = ref["k_factor"], ref["k_ci"]
    first = labels.text(
        TEXT,
        "referral",
        k=f"{k:.3f}",
        lo=f"{lo:.3f}",
        hi=f"{hi:.3f}",
        n=fmt_int(ref["eligible_inviters"]),
        days=min_age_days,
        share=fmt_pct(ref["share_inviting"]),
        gen=ref["max_generation"],
        amp=f"{1 / (1 - k):.2f}" if k < 1 else "∞",
    )
    share = ref["top10pct_inviter_share"]
    key = "top_concentrated" if share >= 0.5 else "top_spread"
    return [first, labels.text(TEXT, key, n=fmt_int(ref["top10pct_inviters"]), share=fmt_pct(share))]


def plot_tree_sizes(tree_sizes: pd.Series, ax: plt.Axes | None = None, lang: str = "zh") -> plt.Axes:
    """Bars of referral-tree sizes (linear count scale, every bar labelled so the small ones stay readable).

    Parameters
    ----------
    tree_sizes : Series
        Size → number of trees (``referral_tree(...)["tree_sizes"]``).
    ax : Axes, optional
        Where to draw.
    lang : {"zh", "en"}
        Language of the labels.

    Returns
    -------
    Axes
        The axes drawn on.
    """
    t = _PLOT[lang]
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 3.5))
    x = [str(i) for i in tree_sizes.index]
    bars = ax.bar(x, tree_sizes.to_numpy(), color="#4c72b0")
    ax.bar_label(bars, labels=[f"{v:,}" for v in tree_sizes.to_numpy()], fontsize="small")
    ax.yaxis.set_major_locator(plt.matplotlib.ticker.MaxNLocator(integer=True))
    ax.set(xlabel=t["tree"], ylabel=t["trees"], title=t["tree_title"])
    return ax


# ---------------------------------------------------------------------------------------------------- lift
def lift(
    units: pd.DataFrame,
    arm: str = "arm",
    converted: str = "converted",
    value: str = "value",
    control: str = "control",
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Incremental effect of a randomised campaign: conversion and value per arm, lift with interval and p-value.

    Parameters
    ----------
    units : DataFrame
        One row per randomised contact: its ``arm``, whether it ``converted`` in the campaign window and the
        ``value`` (GMV) it brought in the window.
    arm, converted, value : str
        Column names.
    control : str
        The holdout arm.
    alpha : float
        Intervals are ``1 - alpha``.

    Returns
    -------
    DataFrame
        One row per treated arm: ``n``, ``n_control``, ``conversion``, ``conversion_control``, ``lift``
        (difference) with ``lift_ci_low`` / ``lift_ci_high`` (Newcombe) and ``p_value`` (score test);
        ``value_per_user``, ``value_per_user_control``, ``value_lift`` with a Welch interval and p-value;
        ``incremental_conversions`` = lift × n.
    """
    rates = compare_variants(
        units.assign(_c=units[converted].astype(bool)), arm, "_c", control=control, alpha=alpha
    ).set_index("variant")
    rows = []
    ctrl_v = units.loc[units[arm] == control, value].astype(float)
    for a in rates.index:
        if a == control:
            continue
        v = units.loc[units[arm] == a, value].astype(float)
        t = stats.ttest_ind(v, ctrl_v, equal_var=False)
        ci = t.confidence_interval(1 - alpha)
        r = rates.loc[a]
        rows.append(
            {
                "arm": a,
                "n": int(r["n"]),
                "n_control": int(rates.loc[control, "n"]),
                "conversion": r["rate"],
                "conversion_control": rates.loc[control, "rate"],
                "lift": r["diff"],
                "lift_ci_low": r["diff_ci_low"],
                "lift_ci_high": r["diff_ci_high"],
                "p_value": r["p_value"],
                "value_per_user": v.mean(),
                "value_per_user_control": ctrl_v.mean(),
                "value_lift": v.mean() - ctrl_v.mean(),
                "value_lift_ci_low": ci.low,
                "value_lift_ci_high": ci.high,
                "value_p_value": t.pvalue,
                "incremental_conversions": r["diff"] * r["n"],
            }
        )
    return pd.DataFrame(rows)

"""User tiers (用户分层): classic RFM scoring, clustering tiers, 80/20 concentration and tier migration.

Two ways to split contacts into tiers, side by side:

- **RFM scores** (:func:`rfm_scores`, :func:`rfm_classes`): recency, frequency and monetary value each scored 1–5
  by quintile, then the standard 8 classes (重要价值 … 一般挽留) by comparing each score with its mean. Everyone
  knows it; its cut points are arbitrary.
- **Clustering tiers** (:func:`fit_tiers`): lifecycle stages that are definitions, not patterns, are set by rule
  (``新客 new``: added fewer than ``new_days`` days ago; ``沉睡 dormant``: never bought since), and the
  established buyers are clustered with KMeans on log-scaled, standardised behaviour. k is chosen by silhouette
  over a range, and clusters are named from their centroid profiles and ordered by value.

Examples
--------
>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> X = pd.DataFrame(np.vstack([rng.normal(c, 0.3, (100, 2)) for c in (0, 4, 8)]), columns=["x", "y"])
>>> t = fit_tiers(X, k_range=range(2, 6), log=False)
>>> t.k_, t.labels_.nunique()
(3, 3)
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn import config_context
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.metrics import adjusted_rand_score, silhouette_score

from helpers.base import cpu_threads
from helpers.exports import written_whole
from helpers.labels import Labels, fmt_int, fmt_pct, labels_for
from helpers.truth import NO_TRUTH

__all__ = [
    "CLUSTER_FEATURES",
    "RFM_CLASSES",
    "TEXT",
    "TIER_NAMES",
    "numbered_tier",
    "qualified_tier",
    "qualified_tiers",
    "tier_base",
    "is_at_risk",
    "TierWarning",
    "Tiers",
    "check_planted",
    "export_tiers",
    "feature_summary",
    "feature_table",
    "fit_tiers",
    "lapse_days",
    "lapse_text",
    "headline_text",
    "lorenz",
    "migration_matrix",
    "migration_text",
    "movers",
    "note_text",
    "plot_k_selection",
    "plot_lorenz",
    "plot_migration",
    "plot_snake",
    "plot_tier_sizes",
    "profile_text",
    "rfm_classes",
    "rfm_scores",
    "rfm_table",
    "rfm_text",
    "stability_text",
    "top_share",
    "top_share_text",
    "user_table",
]

#: Behaviour columns clustered by default (from :func:`helpers.features.user_features`).
CLUSTER_FEATURES: tuple[str, ...] = ("recency_days", "orders_per_30d", "avg_order_value", "net_gmv")

#: Tier names: key → label shown to staff (Chinese first, English after).
TIER_NAMES: dict[str, str] = {
    "high_value": "高价值 high value",
    "potential": "潜力 potential",
    "regular": "一般 regular",
    "at_risk": "流失风险 at risk",
    "new": "新客 new",
    "dormant": "沉睡 dormant",
}


def numbered_tier(name: str, k: int) -> str:
    """Return the name of a second (third …) cluster of a kind, numbered in both languages so each half is unique.

    A page shows one half of a "中文 English" tier name; numbering only the end ("一般 regular 2") left two tiers
    both called 一般 on a Chinese page (a real export's 02 did, and 03's tier table failed on the repeated name).

    Examples
    --------
    >>> numbered_tier("一般 regular", 2), numbered_tier("tier 3", 2)
    ('一般 2 regular 2', 'tier 3 2')
    >>> from helpers.labels import bilingual_part
    >>> risk = numbered_tier("流失风险 at risk", 2)
    >>> bilingual_part(risk, "zh"), bilingual_part(risk, "en")
    ('流失风险 2', 'at risk 2')
    """
    from helpers.labels import bilingual_part

    zh, en = bilingual_part(name, "zh"), bilingual_part(name, "en")
    return f"{zh} {k} {en} {k}" if zh != en else f"{name} {k}"


#: Words that tell apart clusters given the same name (:func:`qualified_tiers`): per clustered column, what a
#: higher, a middle and a lower centre means, in Chinese and English.
QUALIFIERS: dict[str, dict[str, tuple[str, str]]] = {
    "recency_days": {
        "high": ("久未购买", "long lapsed"),
        "mid": ("较久未购买", "lapsing"),
        "low": ("近期购买", "recent"),
    },
    "orders_per_30d": {
        "high": ("高频", "frequent"),
        "mid": ("中频", "moderate frequency"),
        "low": ("低频", "infrequent"),
    },
    "avg_order_value": {
        "high": ("高客单", "high basket"),
        "mid": ("中客单", "mid basket"),
        "low": ("低客单", "low basket"),
    },
    "net_gmv": {"high": ("高消费", "high spend"), "mid": ("中等消费", "mid spend"), "low": ("低消费", "low spend")},
}


def qualified_tier(name: str, zh: str, en: str) -> str:
    """Return a tier name with a qualifier in both languages, so each half of the name is unique and says why.

    Examples
    --------
    >>> from helpers.labels import bilingual_part
    >>> risk = qualified_tier("流失风险 at risk", "高客单", "high basket")
    >>> risk, bilingual_part(risk, "zh"), bilingual_part(risk, "en")
    ('流失风险（高客单） at risk (high basket)', '流失风险（高客单）', 'at risk (high basket)')
    """
    from helpers.labels import bilingual_part

    base_zh, base_en = bilingual_part(name, "zh"), bilingual_part(name, "en")
    return f"{base_zh}（{zh}） {base_en} ({en})" if base_zh != base_en else f"{name} ({en})"


def qualified_tiers(centres: pd.DataFrame) -> dict[int, tuple[str, str]] | None:
    """Qualify clusters that share a name by the clustered column on which their centres differ most.

    ``centres`` holds the clusters' centres (rows) on the standardised scale the clustering used. Two clusters
    get "higher" and "lower" words of that column (:data:`QUALIFIERS`), three or more also "middle" ones (the
    caller numbers any name that still repeats). None when no column with words was clustered.

    Examples
    --------
    >>> c = pd.DataFrame({"recency_days": [1.0, 1.2], "avg_order_value": [0.9, -0.8]}, index=[4, 7])
    >>> qualified_tiers(c)
    {4: ('高客单', 'high basket'), 7: ('低客单', 'low basket')}
    """
    cols = [c for c in centres.columns if c in QUALIFIERS]
    if not cols or len(centres) < 2:
        return None
    spread = centres[cols].max() - centres[cols].min()
    col = str(spread.idxmax())
    order = centres[col].sort_values(ascending=False, kind="stable").index
    words = QUALIFIERS[col]
    return {int(i): words["high" if j == 0 else "low" if j == len(order) - 1 else "mid"] for j, i in enumerate(order)}


def tier_base(name: object) -> str:
    """Return a tier's name without the qualifier :func:`qualified_tier` or the number :func:`numbered_tier` gave it.

    >>> tier_base("流失风险 2 at risk 2"), tier_base("流失风险（高客单） at risk (high basket)")
    ('流失风险 at risk', '流失风险 at risk')
    >>> tier_base("高价值 high value")
    '高价值 high value'
    """
    name = re.sub(r"（[^（）]*）(?= |$)", "", str(name))
    name = re.sub(r" \([^()]*\)(?= |$)", "", name)
    return re.sub(r" \d+(?= |$)", "", name)


def is_at_risk(name: object) -> bool:
    """Return whether a tier name is the at-risk tier's, numbered or not.

    >>> is_at_risk("流失风险 2 at risk 2"), is_at_risk(TIER_NAMES["at_risk"]), is_at_risk("高价值 high value")
    (True, True, False)
    """
    return tier_base(name) == TIER_NAMES["at_risk"]


#: The standard 8 RFM classes, keyed by (R high, F high, M high).
RFM_CLASSES: dict[tuple[bool, bool, bool], str] = {
    (True, True, True): "重要价值 champions",
    (True, False, True): "重要发展 develop",
    (False, True, True): "重要保持 retain",
    (False, False, True): "重要挽留 win back",
    (True, True, False): "一般价值 loyal, low spend",
    (True, False, False): "一般发展 new, low spend",
    (False, True, False): "一般保持 fading, low spend",
    (False, False, False): "一般挽留 lost, low spend",
}
NEVER_BOUGHT = "未购 never bought"

#: Result sentences of the tiers page (filled from results with ``Labels.text``).
TEXT: dict[str, dict[str, str]] = {
    "snapshot": {
        "zh": "快照日 {date}：共 {users} 位好友，其中 {buyers} 位下过单（占好友的 {share}）。",
        "en": "snapshot {date}: {users} contacts, {buyers} of them made a purchase ({share} of contacts)",
    },
    "rfm_top": {
        "zh": "按净成交额，最大的 RFM 类别是{cls}：{users} 位好友（{share}）贡献了 {gmv_share} 的净成交额。",
        "en": "The largest RFM class by net GMV is {cls}: {users} contacts ({share}) bring {gmv_share} of net GMV.",
    },
    "top_share": {
        "zh": "前 {top} 的买家（{n} / {buyers} 人）贡献了 {share} 的净成交额（快照日 {date}）。",
        "en": "top {top} of buyers ({n} of {buyers}) bring {share} of net GMV (snapshot {date})",
    },
    "no_buyers": {
        "zh": "快照日没有买家：无所谓集中度",
        "en": "no buyers at this snapshot: nothing to concentrate",
    },
    "note": {"zh": "注意：{note}", "en": "note: {note}"},
    "rfm_lapsed": {
        "zh": "RFM 的高低是和这份导出的其他买家相比：R 高（最近买过）的 {n} 位买家里，有 {past} 位（{share}）"
        "已超过流失界线 {days} 天没买。所以“重要价值”“重要发展”等类别里也有已经流失的人；"
        "是否流失看上面的分层和流失界线。",
        "en": "RFM's high and low compare buyers of this export with each other: of the {n} R-high (recent) buyers, "
        "{past} ({share}) have been silent past the {days}-day lapse line. So champions and the other recent classes "
        "hold lapsed buyers too; whether someone lapsed is for the tiers and the lapse line above.",
    },
    "lapse_rule": {
        "zh": "流失的界线：至少买过两次的买家中，95% 的回购发生在上一次购买后 {days} 天之内；"
        "中位“距上次消费天数”超过 {days} 天的簇也算流失风险（本次 {n} 个簇）。",
        "en": "Where lapsing starts: among buyers who bought again, 95 % of returns came within {days} days of the "
        "previous purchase; a cluster whose median recency exceeds {days} days is at risk too (here: {n}).",
    },
    "lapse_none": {
        "zh": "没有买家买过两次，量不出回购间隔：流失风险只按相对规则判断（比平均高出半个标准差）。",
        "en": "No buyer bought twice, so there is no return gap to measure: at risk follows the relative rule only "
        "(half an SD above average).",
    },
    "clustered": {
        "zh": "参与聚类的老买家 {n} 位；簇数 k = {k}；轮廓系数 = {sil}。",
        "en": "established buyers clustered: {n}; k = {k}; silhouette = {sil}",
    },
    "stability": {
        "zh": "{n} 次自助重抽样（bootstrap）的 ARI：中位数 {median}，最小 {min}——{verdict}",
        "en": "bootstrap ARI over {n} resamples: median {median}, min {min} — {verdict}",
    },
    "stable": {"zh": "分层稳定，是客户本身的特征", "en": "the tiers are stable, a property of the customers"},
    "unstable": {
        "zh": "分层不够稳定，换一批样本可能分得不一样，谨慎使用",
        "en": "the tiers are not stable: another sample could split them differently, use with care",
    },
    "no_stability": {"zh": "少于两个簇：无所谓稳定性", "en": "fewer than two clusters: no stability to measure"},
    "profile_top": {
        "zh": "{tier}层 {users} 人，占好友的 {share}，贡献了 {gmv_share} 的净成交额；{risk}层 {risk_users} 人"
        "（占 {risk_share}）。",
        "en": "The {tier} tier has {users} contacts ({share}) and brings {gmv_share} of net GMV; the {risk} tier has "
        "{risk_users} ({risk_share}).",
    },
    "no_truth": NO_TRUTH,
    "ari": {
        "zh": "与模拟分层的调整兰德指数（ARI）：全部好友 {all}，老买家 {est}",
        "en": "adjusted Rand index vs planted tiers: {all} over all contacts, {est} among established buyers",
    },
    "total": {"zh": "合计", "en": "total"},
    "no_migration": {
        "zh": "不做分层迁移：previous_as_of — {why}",
        "en": "no migration to show: previous_as_of — {why}",
    },
    "migration": {
        "zh": "{before} → {after}：{moves}。",
        "en": "{before} → {after}: {moves}",
    },
    "exported": {
        "zh": "已把 {n} 位好友写入 exports/{file}（用户ID、分层、RFM 类别和关键指标）",
        "en": "{n} contacts written to exports/{file} (user_id, tier, rfm_class, key features)",
    },
    "answer": {
        "zh": "new_days 从 {days} 天改成 {half} 天：新客从 {new} 人变成 {new_half} 人，其余的按行为分进了其他层。"
        "新客层变小：{ok}",
        "en": "new_days {days} → {half}: new contacts {new} → {new_half}, the others are tiered by behaviour. "
        "The new tier shrinks: {ok}",
    },
    "headline": {
        "zh": "前 {top} 的买家贡献 {share} 的净成交额；{tier}层 {users} 人（{tier_share}），{risk}层 {risk_users} 人",
        "en": "Top {top} of buyers bring {share} of net GMV; {tier} tier {users} contacts ({tier_share}), {risk} "
        "tier {risk_users}",
    },
}

#: Notes of :class:`Tiers` (English, built in ``fit``) and their Chinese; ``note_text`` translates them.
_NOTES_ZH = [
    (
        r"^no established buyers to cluster: every user is set by a lifecycle rule$",
        "没有可以聚类的老买家：每个人都由生命周期规则分层",
    ),
    (
        r"^all ([\d,]+) established buyers have identical features: one tier, nothing to cluster$",
        r"\1 位老买家的特征完全相同：只有一层，无法聚类",
    ),
    (
        r"^only ([\d,]+) established buyers \(([\d,]+) distinct\): too few to split into tiers of at least (\d+) "
        r"users, so they form one tier$",
        r"只有 \1 位老买家（\2 种不同特征）：太少，分不出每层至少 \3 人的分层，合为一层",
    ),
    (
        r"^only ([\d,]+) established buyers \(([\d,]+) distinct\): k limited to at most (\d+) \(tiers of at least "
        r"(\d+) users; asked for (.*)\)$",
        r"只有 \1 位老买家（\2 种不同特征）：k 最多取 \3（每层至少 \4 人；参数要求 \5）",
    ),
    (
        r"^k = (\d+) is at the edge of the k tried; k = (\d+) cannot be tried$",
        r"k = \1 在所试范围的边上；k = \2 无法尝试",
    ),
    (
        r"^k = (\d+) was the (largest|smallest) k tried, and k = (\d+), outside the range, scores clearly higher "
        r"\(([\d.]+) vs ([\d.]+)\): the range was widened to include it$",
        r"k = \1 是所试范围的边界，范围外的 k = \3 轮廓系数明显更高（\4 对 \5）：已扩大范围把它包括进来",
    ),
    (
        r"^k = (\d+) is the (largest|smallest) k in the range \(silhouette ([\d.]+)\); k = (\d+), outside it, scores "
        r"([\d.]+) — clearly lower: (\d+) stands$",
        r"k = \1 在所试范围的边上（轮廓系数 \3）；范围外的 k = \4 得分 \5，明显更低：仍取 k = \6",
    ),
    (
        r"^k = (\d+) is the (largest|smallest) k in the range \(silhouette ([\d.]+)\); k = (\d+), outside it, scores "
        r"([\d.]+) — about the same \(within 0.01\): the silhouette cannot choose, the range decides$",
        r"k = \1 在所试范围的边上（轮廓系数 \3）；范围外的 k = \4 得分 \5，差不多（相差 0.01 以内）："
        r"轮廓系数选不出，由范围决定",
    ),
]

_PLOT = {
    "zh": {
        "silhouette": "轮廓系数（越高分得越开）",
        "silhouette_short": "轮廓系数",
        "inertia": "簇内平方和（肘部法）",
        "k": "簇数 k",
        "k_title": "选择簇数 k",
        "share_users": "人数占比",
        "share_gmv": "净成交额占比",
        "share": "占比",
        "sizes_title": "各层人数与净成交额占比",
        "scaled": "标准化均值（与买家平均相差几个标准差）",
        "snake_title": "蛇形图：各层的特征画像",
        "lorenz": "洛伦兹曲线",
        "equal": "人人相同",
        "lorenz_note": "前 {top} 的买家贡献 {share} 的净成交额",
        "buyers_x": "买家累计占比（价值从高到低）",
        "gmv_y": "净成交额累计占比",
        "lorenz_title": "二八法则：净成交额的集中度",
        "after": "现在的分层",
        "before": "之前的分层",
        "migration_title": "分层迁移（每行加起来为 100%）",
    },
    "en": {
        "silhouette": "silhouette (higher = better separated)",
        "silhouette_short": "silhouette",
        "inertia": "inertia (elbow)",
        "k": "clusters k",
        "k_title": "Choosing k",
        "share_users": "share of contacts",
        "share_gmv": "share of net GMV",
        "share": "share",
        "sizes_title": "Tier size and share of net GMV",
        "scaled": "scaled mean (SD from the buyer mean)",
        "snake_title": "Snake plot of tier profiles",
        "lorenz": "Lorenz curve",
        "equal": "equal value",
        "lorenz_note": "top {top} of buyers: {share} of net GMV",
        "buyers_x": "share of buyers (most valuable first)",
        "gmv_y": "share of net GMV",
        "lorenz_title": "Concentration of net GMV",
        "after": "tier now",
        "before": "tier before",
        "migration_title": "Tier migration (row shares)",
    },
}


def note_text(note: str, lang: str = "zh") -> str:
    """Return a :class:`Tiers` note (``note_``, ``k_note_``; several joined by "; ") in the report language.

    Examples
    --------
    >>> note_text("k = 3 is at the edge of the k tried; k = 2 cannot be tried")
    'k = 3 在所试范围的边上；k = 2 无法尝试'
    """
    import re

    if lang != "zh" or not note:
        return note
    parts = []
    for part in re.split(r"; (?=k = \d+ (?:was|is) |only |all |no )", note):
        for pattern, zh in _NOTES_ZH:
            if re.match(pattern, part):
                part = re.sub(pattern, zh, part)
                break
        parts.append(part)
    return "；".join(parts)


_VALUE_COLUMNS = ("orders_per_30d", "avg_order_value", "net_gmv", "orders", "gmv")
_MINIBATCH_ABOVE = 200_000  # rows; above this the final KMeans runs as MiniBatchKMeans
_SELECT_K_ROWS = 100_000  # rows; k is chosen on a seeded sample of this size when there are more buyers
#: MB of distances scikit-learn computes at a time for the silhouette. Its default (1 GB) takes a 10 000-buyer sample
#: in one 800 MB block, 5.8× slower than 64 MB blocks (3.68 s against 0.63 s per k, single-threaded BLAS) for the
#: same score to the last bit: each row's distances are computed the same way in either block.
_SILHOUETTE_MB = 64


class TierWarning(UserWarning):
    """The data do not support the requested tiering (identical users, fewer users than tiers, …)."""


# ---------------------------------------------------------------------------------------------------------------
# Classic RFM
# ---------------------------------------------------------------------------------------------------------------


def rfm_scores(features: pd.DataFrame, bins: int = 5) -> pd.DataFrame:
    """Quintile scores 1–``bins`` for recency, frequency and monetary value, for buyers.

    Scores come from percentile ranks (ties share a score), so a mass of one-order buyers gets one F score
    instead of being split arbitrarily. Recency is reversed: the most recent buyers score ``bins``.

    Parameters
    ----------
    features : DataFrame
        ``recency_days``, ``orders`` and ``net_gmv`` per user (see :func:`helpers.features.user_features`).
    bins : int
        Number of score levels (5 = quintiles).

    Returns
    -------
    DataFrame
        ``R``, ``F``, ``M`` (int) and ``RFM`` (e.g. ``"545"``) for users with at least one paid order.

    Examples
    --------
    >>> f = pd.DataFrame({"recency_days": [1, 10, 100, 200, None], "orders": [9, 3, 1, 1, 0],
    ...                   "net_gmv": [900, 300, 80, 50, 0]})
    >>> rfm_scores(f)["RFM"].tolist()
    ['555', '444', '323', '222']
    """
    b = features[features["orders"] > 0]

    def score(x: pd.Series) -> pd.Series:
        return np.ceil(x.rank(method="average", pct=True) * bins).clip(1, bins).astype(int)

    out = pd.DataFrame(
        {"R": score(-b["recency_days"]), "F": score(b["orders"]), "M": score(b["net_gmv"])}, index=b.index
    )
    out["RFM"] = out["R"].astype(str) + out["F"].astype(str) + out["M"].astype(str)
    return out


def rfm_high(scores: pd.DataFrame) -> pd.DataFrame:
    """Return whether each buyer's R, F and M scores are "high": above the score's mean over the buyers.

    >>> rfm_high(pd.DataFrame({"R": [5, 1, 3], "F": [2, 2, 5], "M": [1, 4, 4]}))["R"].tolist()
    [True, False, False]
    """
    return scores[["R", "F", "M"]] > scores[["R", "F", "M"]].mean()


def rfm_classes(scores: pd.DataFrame, index: pd.Index | None = None) -> pd.Series:
    """Label the standard 8 RFM classes (重要价值 … 一般挽留); a score is "high" when above its mean score.

    Parameters
    ----------
    scores : DataFrame
        Output of :func:`rfm_scores`.
    index : Index, optional
        Every user (e.g. ``features.index``); users without a score are labelled ``未购 never bought``.

    Returns
    -------
    Series
        Class label per user.

    Examples
    --------
    >>> s = pd.DataFrame({"R": [5, 1, 5], "F": [5, 1, 1], "M": [5, 5, 1]})
    >>> rfm_classes(s).tolist()
    ['重要价值 champions', '重要挽留 win back', '一般发展 new, low spend']
    """
    high = rfm_high(scores)
    lab = pd.Series(
        [RFM_CLASSES[(bool(r), bool(f), bool(m))] for r, f, m in high.itertuples(index=False)], index=scores.index
    )
    if index is not None:
        lab = lab.reindex(index).fillna(NEVER_BOUGHT)
    return lab


# ---------------------------------------------------------------------------------------------------------------
# Clustering tiers
# ---------------------------------------------------------------------------------------------------------------


class Tiers:
    """Lifecycle rules plus KMeans clustering of established buyers, with tiers named from their profiles.

    Parameters
    ----------
    k : int, optional
        Number of clusters among established buyers; ``None`` chooses it by silhouette over ``k_range``.
    k_range : iterable of int
        Candidate k values.
    random_state : int
        Seed of KMeans and of the silhouette / bootstrap samples: same seed, same tiers.
    columns : sequence of str, optional
        Columns to cluster. Default: :data:`CLUSTER_FEATURES` when present, else every numeric column.
    new_days : float or None
        Contacts with ``tenure_days`` below this are ``新客 new``; ``None`` turns lifecycle rules off. Rules
        apply only when ``tenure_days`` and ``orders`` are columns.
    log : bool
        ``log1p`` the columns before standardising (counts and money are right-skewed; a log turns "twice as
        much" into the same distance at every scale). Negative values are clipped at 0 first.
    sample_size : int
        Rows used to compute each silhouette (it is quadratic in rows).
    n_init : int
        KMeans restarts per k.
    min_tier_size : int
        k is capped so that tiers of this many buyers are possible (k <= buyers / ``min_tier_size``); too few
        buyers form one tier, with a note.
    n_threads : int, optional
        OpenMP threads of KMeans while clustering and in :meth:`stability` (``None``: every core). Default 1:
        beside two CPU-bound processes on a 2-core machine the bootstrap took 13.7 s instead of 1.4 s with one
        thread per core (see :func:`helpers.base.cpu_threads`).
    lapse_days : float, optional
        A cluster whose buyers' median days since the last purchase exceed this is *at risk*, whatever the other
        clusters look like (02 passes :func:`lapse_days`: a silence longer than 95 % of the gaps between one
        purchase and the next). Without it only the relative rule applies — recency more than half an SD above
        the buyers' mean — which names no cluster at risk when most buyers have lapsed (a cohort export: CDNOW's
        one-time buyers, silent for 16 months, were called *regular*).

    Attributes
    ----------
    labels_ : Series
        Tier name per user, indexed like the fitted features (ordered categorical, most valuable first).
    cluster_ : Series
        KMeans cluster per user (-1 for users set by a lifecycle rule).
    k_ : int
        Number of clusters used (0 when nothing was clustered).
    silhouette_ : float
        Silhouette of the chosen clustering (NaN when it is undefined).
    scores_ : DataFrame
        Per candidate k: ``inertia`` (the elbow) and ``silhouette``.
    profiles_ : DataFrame
        One row per tier: ``users``, ``share``, ``gmv_share`` and the median of each clustered column.
    centroids_ : DataFrame
        Cluster centres in the scaled space (standard deviations from the established-buyer mean).
    note_ : str
        Plain-language note on anything the data did not support ("" when all went as asked).
    k_note_ : str
        When k was chosen at the edge of ``k_range``: the silhouette of the next k outside it, and why k stands
        ("" otherwise). When the k outside scores clearly higher (by more than 0.01) the range is widened to it,
        step by step, and ``note_`` says so (with a :class:`TierWarning`).
    """

    def __init__(
        self,
        k: int | None = None,
        k_range: Iterable[int] = range(3, 9),
        random_state: int = 0,
        *,
        columns: Sequence[str] | None = None,
        new_days: float | None = 60,
        log: bool = True,
        sample_size: int = 10_000,
        n_init: int = 4,
        min_tier_size: int = 10,
        n_threads: int | None = 1,
        lapse_days: float | None = None,
    ) -> None:
        self.k = k
        self.lapse_days = lapse_days
        self.k_range = k_range
        self.random_state = random_state
        self.columns = columns
        self.new_days = new_days
        self.log = log
        self.sample_size = sample_size
        self.n_init = n_init
        self.min_tier_size = min_tier_size
        self.n_threads = n_threads

    # -- helpers ------------------------------------------------------------------------------------------------
    def _columns(self, features: pd.DataFrame) -> list[str]:
        if self.columns is not None:
            missing = [c for c in self.columns if c not in features.columns]
            if missing:
                raise ValueError(f"fit_tiers: columns not in the features table: {missing}")
            return list(self.columns)
        if all(c in features.columns for c in CLUSTER_FEATURES):
            return list(CLUSTER_FEATURES)
        cols = [c for c in features.columns if pd.api.types.is_numeric_dtype(features[c])]
        if not cols:
            raise ValueError("fit_tiers: the features table has no numeric column to cluster")
        return cols

    def _lifecycle(self, features: pd.DataFrame) -> pd.Series:
        stage = pd.Series("established", index=features.index, dtype=object)
        if self.new_days is None or not {"tenure_days", "orders"} <= set(features.columns):
            return stage
        stage[features["orders"] <= 0] = "dormant"
        stage[features["tenure_days"] < self.new_days] = "new"
        return stage

    def _logged(self, frame: pd.DataFrame) -> np.ndarray:
        """Return the clustered columns as an array, ``log1p``-ed when ``log`` (missing values are an error)."""
        x = frame[self.columns_].astype(float).to_numpy()
        if np.isnan(x).any():
            bad = [c for c, n in zip(self.columns_, np.isnan(x).sum(axis=0), strict=True) if n]
            raise ValueError(f"fit_tiers: missing values in {bad} among the users to cluster")
        return np.log1p(np.clip(x, 0, None)) if self.log else x

    def _transform(self, frame: pd.DataFrame) -> np.ndarray:
        return (self._logged(frame) - self.mean_) / self.scale_

    @staticmethod
    def _with_lifecycle(names: pd.Series, stage: pd.Series) -> pd.Series:
        for s in ("new", "dormant"):
            names[stage == s] = TIER_NAMES[s]
        return names

    def _kmeans(self, k: int, init: np.ndarray | None = None) -> KMeans | MiniBatchKMeans:
        start = {"init": init, "n_init": 1} if init is not None else {"n_init": self.n_init}
        if self._n_rows > _MINIBATCH_ABOVE:
            return MiniBatchKMeans(k, random_state=self.random_state, batch_size=4096, **start)
        return KMeans(k, random_state=self.random_state, **start)

    def _silhouette(self, x: np.ndarray, labels: np.ndarray) -> float:
        if not 2 <= len(np.unique(labels)) <= len(x) - 1:
            return float("nan")
        n = min(len(x), self.sample_size)
        with config_context(working_memory=_SILHOUETTE_MB):
            return float(silhouette_score(x, labels, sample_size=n, random_state=self.random_state))

    # -- fitting ------------------------------------------------------------------------------------------------
    def fit(self, features: pd.DataFrame) -> Tiers:
        """Assign lifecycle stages, choose k, cluster established buyers and name the tiers.

        Parameters
        ----------
        features : DataFrame
            One row per user (index = user), e.g. :func:`helpers.features.user_features` indexed by user_id.

        Returns
        -------
        Tiers
            ``self``, fitted.
        """
        if len(features) == 0:
            raise ValueError("fit_tiers: the features table is empty (no users to tier)")
        self.columns_ = self._columns(features)
        stage = self._lifecycle(features)
        est = features[stage == "established"]
        self._n_rows = len(est)
        notes: list[str] = []
        cluster = pd.Series(-1, index=features.index, dtype=int)
        self.scores_ = pd.DataFrame(columns=["inertia", "silhouette"], dtype=float)
        self.k_, self.silhouette_ = 0, float("nan")
        self.k_note_ = ""
        self.centroids_ = pd.DataFrame(columns=self.columns_, dtype=float)
        if len(est) == 0:
            notes.append("no established buyers to cluster: every user is set by a lifecycle rule")
        else:
            logged = self._logged(est)
            self.mean_ = logged.mean(axis=0)
            sd = logged.std(axis=0)
            self.scale_ = np.where(sd > 0, sd, 1.0)
            x = (logged - self.mean_) / self.scale_
            candidates, k_max = self._candidate_ks(x, notes)
            if k_max < 2:
                labels = np.zeros(len(est), dtype=int)
                self.centroids_ = pd.DataFrame([x.mean(axis=0)], columns=self.columns_)
                self.k_ = 1
            else:
                with cpu_threads(self.n_threads):
                    labels = self._cluster(x, candidates, k_max, notes)
            cluster.loc[est.index] = labels
        self.cluster_ = cluster
        self.cluster_recency_ = (  # median days since the last purchase per cluster, for the absolute lapse rule
            est["recency_days"].groupby(cluster.loc[est.index]).median()
            if len(est) and "recency_days" in est.columns
            else pd.Series(dtype=float)
        )
        self.names_ = self._name_clusters()
        names = self._with_lifecycle(cluster.map(self.names_).astype(object), stage)
        self.order_ = [n for n in self._orderedlabels_for() if n in set(names)]
        self.labels_ = pd.Series(pd.Categorical(names, categories=self.order_, ordered=True), index=features.index)
        self.labels_.name = "tier"
        self.profiles_ = self.profile(features)
        self.note_ = "; ".join(notes)
        if self.note_:
            warnings.warn(self.note_, TierWarning, stacklevel=2)
        return self

    def _candidate_ks(self, x: np.ndarray, notes: list[str]) -> tuple[list[int], int]:
        """Return the k to try and the largest k the buyers allow (below 2: one tier, said in ``notes``)."""
        n, n_distinct = len(x), len(np.unique(np.round(x, 9), axis=0))
        candidates = [self.k] if self.k is not None else sorted({int(k) for k in self.k_range})
        if not candidates or min(candidates) < 1:
            raise ValueError("fit_tiers: k and k_range must be positive integers")
        k_max = min(n_distinct, n // self.min_tier_size)
        if n_distinct < 2:
            notes.append(f"all {n:,} established buyers have identical features: one tier, nothing to cluster")
            return candidates, 1
        if k_max < 2:
            notes.append(
                f"only {n:,} established buyers ({n_distinct:,} distinct): too few to split into tiers "
                f"of at least {self.min_tier_size} users, so they form one tier"
            )
            return candidates, 1
        if max(candidates) > k_max:
            notes.append(
                f"only {n:,} established buyers ({n_distinct:,} distinct): k limited to at most {k_max} "
                f"(tiers of at least {self.min_tier_size} users; asked for "
                f"{self.k if self.k is not None else list(candidates)})"
            )
            candidates = [k for k in candidates if k <= k_max] or [k_max]
        return candidates, k_max

    def _cluster(self, x: np.ndarray, candidates: list[int], k_max: int, notes: list[str]) -> np.ndarray:
        """Choose k by silhouette (widening the range when the best k sits at its edge) and cluster every buyer."""
        # choosing k: on a seeded sample when there are many buyers (inertia per buyer keeps the elbow)
        xs = x
        if len(x) > _SELECT_K_ROWS:
            pick = np.random.default_rng(self.random_state).choice(len(x), _SELECT_K_ROWS, replace=False)
            xs = x[np.sort(pick)]
        rows, fitted = {}, {}

        def score(k: int) -> None:
            fitted[k] = KMeans(k, n_init=self.n_init, random_state=self.random_state).fit(xs)
            rows[k] = {
                "inertia": float(fitted[k].inertia_) * len(x) / len(xs),
                "silhouette": self._silhouette(xs, fitted[k].labels_),
            }

        for k in candidates:
            score(k)
        while True:
            self.scores_ = pd.DataFrame.from_dict(rows, orient="index").rename_axis("k").sort_index()
            if len(rows) == 1 or self.scores_["silhouette"].isna().all():
                best = candidates[0] if len(rows) == 1 else max(rows)
                break
            best = int(self.scores_["silhouette"].idxmax())
            tried = sorted(rows)
            if self.k is not None or best not in (tried[0], tried[-1]):
                break
            # k at the edge of the range: the next k outside it is tried; a clearly better one widens the
            # range (the assumption "the best k is inside k_range" failed, so the fit changes, not just a note)
            outside = best + 1 if best == tried[-1] else best - 1
            if outside < 2 or outside > k_max:
                self.k_note_ = f"k = {best} is at the edge of the k tried; k = {outside} cannot be tried"
                break
            score(outside)
            s_best, s_out = rows[best]["silhouette"], rows[outside]["silhouette"]
            side = "largest" if outside > best else "smallest"
            if s_out > s_best + 0.01:
                notes.append(
                    f"k = {best} was the {side} k tried, and k = {outside}, outside the range, scores clearly "
                    f"higher ({s_out:.3f} vs {s_best:.3f}): the range was widened to include it"
                )
                continue
            verdict = (
                f"clearly lower: {best} stands"
                if s_out < s_best - 0.01
                else "about the same (within 0.01): the silhouette cannot choose, the range decides"
            )
            self.k_note_ = (
                f"k = {best} is the {side} k in the range (silhouette {s_best:.3f}); k = {outside}, outside "
                f"it, scores {s_out:.3f} — {verdict}"
            )
            rows.pop(outside)  # shown in the note, not in the table of the range
            fitted.pop(outside)
            break
        if xs is x:
            self.model_ = fitted[best]
        else:  # the chosen k on every buyer, started from the sample's centres
            self.model_ = self._kmeans(best, init=fitted[best].cluster_centers_).fit(x)
        self.k_ = best
        self.silhouette_ = float(self.scores_.loc[best, "silhouette"])
        self.centroids_ = pd.DataFrame(self.model_.cluster_centers_, columns=self.columns_)
        return self.model_.labels_

    def _cluster_value(self) -> pd.Series | None:
        """Each cluster centre's mean over the value columns (None when the features are not RFM-like)."""
        c = self.centroids_
        value_cols = [col for col in _VALUE_COLUMNS if col in c.columns]
        if self.k_ == 0 or not value_cols or "recency_days" not in c.columns:
            return None
        return c[value_cols].mean(axis=1)

    def _name_clusters(self) -> dict[int, str]:
        """Name clusters from their centres: at risk if recency is high, else by value rank."""
        if self.k_ == 0:
            return {}
        c = self.centroids_
        value = self._cluster_value()
        if value is None:
            return {i: f"tier {i + 1}" for i in range(len(c))}
        at_risk = c["recency_days"] > 0.5
        if self.lapse_days is not None and len(self.cluster_recency_):
            at_risk |= self.cluster_recency_.reindex(c.index).gt(self.lapse_days).to_numpy()
        if at_risk.all():
            at_risk[c["recency_days"].idxmin()] = False
        names: dict[int, str] = {}
        active = value[~at_risk].sort_values(ascending=False).index
        keys = ["high_value", "potential"] + ["regular"] * max(len(active) - 2, 0)
        if len(active) == 1:
            keys = ["high_value"] if value[active[0]] > 0 else ["regular"]
        for i, key in zip(active, keys, strict=False):
            names[int(i)] = TIER_NAMES[key]
        for i in value[at_risk].sort_values(ascending=False).index:
            names[int(i)] = TIER_NAMES["at_risk"]
        # clusters with the same name are told apart by the column on which they differ most ("流失风险（久未购买）")
        shared: dict[str, list[int]] = {}
        for i, n in names.items():
            shared.setdefault(n, []).append(i)
        for n, ids in shared.items():
            words = qualified_tiers(c.loc[ids]) if len(ids) > 1 else None
            for i, (zh, en) in (words or {}).items():
                names[i] = qualified_tier(n, zh, en)
        # a name that still repeats (no such column; a third or fourth of a kind) gets a number, most valuable first
        seen: dict[str, int] = {}
        for i in sorted(names, key=lambda j: -value[j]):
            n = names[i]
            seen[n] = seen.get(n, 0) + 1
            if seen[n] > 1:
                names[i] = numbered_tier(n, seen[n])
        return names

    def _orderedlabels_for(self) -> list[str]:
        value = self._cluster_value()
        if value is not None:
            risk = set(v for v in self.names_.values() if is_at_risk(v))
            active = [self.names_[int(i)] for i in value.sort_values(ascending=False).index]
            cl = [n for n in active if n not in risk] + [n for n in active if n in risk]
        else:
            cl = [self.names_[i] for i in sorted(self.names_)]
        return cl + [TIER_NAMES["new"], TIER_NAMES["dormant"]]

    # -- using a fitted model -----------------------------------------------------------------------------------
    def predict(self, features: pd.DataFrame) -> pd.Series:
        """Tier of each user in ``features`` (e.g. at an earlier snapshot) with the fitted rules and centres.

        Parameters
        ----------
        features : DataFrame
            Same columns as the fitted table.

        Returns
        -------
        Series
            Tier name per user (ordered categorical, same categories as :attr:`labels_`).
        """
        stage = self._lifecycle(features)
        names = pd.Series(index=features.index, dtype=object)
        est = features[stage == "established"]
        if len(est) and self.k_:
            x = self._transform(est)
            d = ((x[:, None, :] - self.centroids_.to_numpy()[None, :, :]) ** 2).sum(axis=2)
            names.loc[est.index] = pd.Series(d.argmin(axis=1), index=est.index).map(self.names_)
        names = self._with_lifecycle(names, stage)
        cats = list(self.order_) + [n for n in self._orderedlabels_for() if n not in self.order_]
        return pd.Series(pd.Categorical(names, categories=cats, ordered=True), index=features.index, name="tier")

    def profile(self, features: pd.DataFrame, labels: pd.Series | None = None) -> pd.DataFrame:
        """One row per tier: users, share of users, share of GMV and medians of the clustered columns.

        Parameters
        ----------
        features : DataFrame
            The per-user table.
        labels : Series, optional
            Tiers to profile; default :attr:`labels_`.

        Returns
        -------
        DataFrame
            Indexed by tier, most valuable first.
        """
        lab = self.labels_ if labels is None else labels
        g = features.groupby(lab, observed=True)
        out = pd.DataFrame({"users": g.size()})
        out["share"] = out["users"] / out["users"].sum()
        if "net_gmv" in features.columns:
            total = features["net_gmv"].sum()
            out["gmv_share"] = g["net_gmv"].sum() / total if total > 0 else np.nan
        extra = [c for c in ("tenure_days", "orders", "touches", "messages") if c in features.columns]
        med = g[[*self.columns_, *[c for c in extra if c not in self.columns_]]].median()
        return out.join(med.add_prefix("median_"))

    def stability(self, features: pd.DataFrame, n_boot: int = 20, sample_size: int = 20_000) -> pd.Series:
        """Bootstrap stability: refit on resamples, compare with the fitted clusters (adjusted Rand index).

        Parameters
        ----------
        features : DataFrame
            The fitted per-user table.
        n_boot : int
            Bootstrap resamples.
        sample_size : int
            Rows per resample (at most the number of established buyers).

        Returns
        -------
        Series
            ARI per resample: near 1 means the same tiers come back from other samples of the same users.
        """
        est = self.cluster_[self.cluster_ >= 0].index
        if self.k_ < 2 or len(est) < 3:
            return pd.Series(dtype=float, name="ari")
        x = self._transform(features.loc[est])
        base = self.cluster_.loc[est].to_numpy()
        rng = np.random.default_rng(self.random_state)
        n = min(len(x), sample_size)
        out = []
        with cpu_threads(self.n_threads):
            for b in range(n_boot):
                idx = rng.integers(0, len(x), n)
                m = KMeans(self.k_, n_init=self.n_init, random_state=self.random_state + b + 1).fit(x[idx])
                out.append(adjusted_rand_score(base, m.predict(x)))
        return pd.Series(out, name="ari")


def lapse_days(gaps: pd.DataFrame, quantile: float = 0.95) -> float | None:
    """Return the silence after which a buyer has lapsed: a quantile of the gaps between consecutive purchases.

    Among buyers who did come back, ``quantile`` of the returns came within this many days; a buyer silent for
    longer is past almost every return the data show. Derived from the export, not from a calendar.

    Parameters
    ----------
    gaps : DataFrame
        :func:`helpers.features.interpurchase_gaps`: ``gap_days`` and ``gaps`` (count).
    quantile : float
        Share of returns that came sooner.

    Returns
    -------
    float or None
        Days; ``None`` when no buyer bought twice (nothing to measure a return by).

    Examples
    --------
    >>> lapse_days(pd.DataFrame({"gap_days": [7, 30, 200], "gaps": [90, 8, 2]}))
    30.0
    >>> lapse_days(pd.DataFrame({"gap_days": [], "gaps": []})) is None
    True
    """
    g = gaps[gaps["gaps"] > 0].sort_values("gap_days")
    if g.empty:
        return None
    share = g["gaps"].cumsum().to_numpy() / g["gaps"].sum()
    return float(g["gap_days"].iloc[int(np.searchsorted(share, quantile))])


def lapse_text(model: Tiers, labels: Labels) -> str:
    """Return the sentence stating the lapse line the tiers were named with (:func:`lapse_days`) and what it did.

    Examples
    --------
    >>> from helpers.labels import Labels
    >>> t = Tiers(lapse_days=200.0)
    >>> t.cluster_recency_ = pd.Series([27.5, 480.5, 492.5])
    >>> t.names_ = {0: TIER_NAMES["high_value"], 1: TIER_NAMES["at_risk"], 2: numbered_tier(TIER_NAMES["at_risk"], 2)}
    >>> lapse_text(t, Labels("zh")).endswith("超过 200 天的簇也算流失风险（本次 2 个簇）。")
    True

    Only clusters the line made at risk count: when every cluster is past it, the freshest stays active.

    >>> t.names_[0], t.cluster_recency_[0] = TIER_NAMES["high_value"], 300.0
    >>> lapse_text(t, Labels("zh")).endswith("（本次 2 个簇）。")
    True
    """
    if model.lapse_days is None:
        return labels.text(TEXT, "lapse_none")
    past = model.cluster_recency_[model.cluster_recency_.gt(model.lapse_days)].index
    n = sum(is_at_risk(model.names_.get(int(i))) for i in past)
    return labels.text(TEXT, "lapse_rule", days=f"{model.lapse_days:.0f}", n=n)


def fit_tiers(
    features: pd.DataFrame,
    k: int | None = None,
    k_range: Iterable[int] = range(3, 9),
    random_state: int = 0,
    **kwargs,
) -> Tiers:
    """Fit :class:`Tiers` on a per-user feature table (see the class for the method and the options).

    Parameters
    ----------
    features : DataFrame
        One row per user, index = user.
    k : int, optional
        Fixed number of clusters; default: chosen by silhouette over ``k_range``.
    k_range : iterable of int
        Candidate k values.
    random_state : int
        Seed: same seed, same tiers.
    **kwargs
        ``columns``, ``new_days``, ``log``, ``sample_size``, ``n_init``, ``min_tier_size``, ``n_threads``,
        ``lapse_days`` of :class:`Tiers`.

    Returns
    -------
    Tiers
        Fitted: ``labels_``, ``k_``, ``silhouette_``, ``profiles_``, ``scores_``, ``note_``.
    """
    return Tiers(k=k, k_range=k_range, random_state=random_state, **kwargs).fit(features)


# ---------------------------------------------------------------------------------------------------------------
# Concentration (二八法则) and migration
# ---------------------------------------------------------------------------------------------------------------


def lorenz(values: pd.Series) -> pd.DataFrame:
    """Lorenz curve of value over users sorted from most to least valuable.

    Parameters
    ----------
    values : Series
        Value per user (e.g. net GMV of buyers).

    Returns
    -------
    DataFrame
        ``user_share`` (top x of users) and ``value_share`` (their share of the total), starting at (0, 0).

    Examples
    --------
    >>> lorenz(pd.Series([10, 0, 30, 60])).round(2).values.tolist()
    [[0.0, 0.0], [0.25, 0.6], [0.5, 0.9], [0.75, 1.0], [1.0, 1.0]]
    """
    v = np.sort(np.asarray(values, dtype=float))[::-1]
    total = v.sum()
    cum = np.concatenate([[0.0], np.cumsum(v) / total]) if total > 0 else np.zeros(len(v) + 1)
    return pd.DataFrame({"user_share": np.arange(len(v) + 1) / max(len(v), 1), "value_share": cum})


def top_share(values: pd.Series, top: float = 0.2) -> float:
    """Share of the total value held by the top ``top`` fraction of users (the 80/20 number).

    Examples
    --------
    >>> top_share(pd.Series([100, 1, 1, 1, 1]), top=0.2)
    0.9615384615384616
    """
    v = np.sort(np.asarray(values, dtype=float))[::-1]
    if len(v) == 0 or v.sum() <= 0:
        return float("nan")
    n = max(int(np.ceil(top * len(v) - 1e-9)), 1)
    return float(v[:n].sum() / v.sum())


def migration_matrix(before: pd.Series, after: pd.Series, normalize: bool = False) -> pd.DataFrame:
    """Users moving between tiers from one snapshot to the next (rows: before, columns: after).

    Users present only at the later snapshot (added in between) appear in the row ``(not yet a contact)``.

    Parameters
    ----------
    before, after : Series
        Tier per user at each snapshot (ordered categoricals from :meth:`Tiers.predict` / ``labels_``).
    normalize : bool
        Row shares instead of counts.

    Returns
    -------
    DataFrame
        Counts (or row shares).
    """
    joined = pd.DataFrame({"before": before.astype(object), "after": after.astype(object)}).dropna(subset=["after"])
    joined["before"] = joined["before"].fillna("(not yet a contact)")
    order = list(after.cat.categories) if isinstance(after.dtype, pd.CategoricalDtype) else sorted(joined["after"])
    rows = [r for r in order if r in set(joined["before"])]
    if (joined["before"] == "(not yet a contact)").any():
        rows.append("(not yet a contact)")
    m = pd.crosstab(joined["before"], joined["after"]).reindex(index=rows, columns=order, fill_value=0)
    m = m.loc[:, m.sum() > 0]
    m.index.name, m.columns.name = "tier before", "tier after"
    return m.div(m.sum(axis=1), axis=0) if normalize else m


def movers(before: pd.Series, after: pd.Series) -> pd.DataFrame:
    """Who moved up or down between snapshots, by tier order (most valuable tier = rank 0).

    Parameters
    ----------
    before, after : Series
        Tier per user (ordered categoricals with the same categories).

    Returns
    -------
    DataFrame
        ``before``, ``after`` and ``move`` for users present at both snapshots: ``up`` / ``down`` between
        tiers in value order, ``from new`` for a new contact that was tiered since, or ``same``.
    """
    both = pd.DataFrame({"before": before, "after": after}).dropna()
    cats = list(after.cat.categories)
    rb = both["before"].astype(object).map(cats.index)
    ra = both["after"].astype(object).map(cats.index)
    was_new = both["before"].astype(object) == TIER_NAMES["new"]
    both["move"] = np.select([was_new & (ra != rb), ra < rb, ra > rb], ["from new", "up", "down"], "same")
    return both


def export_tiers(features: pd.DataFrame, tiers: pd.Series, path: str | Path, rfm: pd.Series | None = None) -> Path:
    """Write the staff list: user_id, tier, RFM class and key features (no personal data), most valuable first.

    Parameters
    ----------
    features : DataFrame
        Per-user table indexed by ``user_id`` (pseudonymised ids only).
    tiers : Series
        Tier per user.
    path : str or Path
        CSV to write (UTF-8 with BOM so Excel opens the Chinese names).
    rfm : Series, optional
        RFM class per user.

    Returns
    -------
    Path
        The written file.
    """
    keep = [
        c
        for c in ("tenure_days", "orders", "net_gmv", "recency_days", "orders_per_30d", "avg_order_value", "is_friend")
        if c in features.columns
    ]
    out = features[keep].copy()
    out.insert(0, "tier", tiers.reindex(out.index))
    if rfm is not None:
        out.insert(1, "rfm_class", rfm.reindex(out.index))
    for c in ("tenure_days", "recency_days", "orders_per_30d", "avg_order_value", "net_gmv"):
        if c in out.columns:
            out[c] = out[c].round(2)
    out.index.name = "user_id"
    by = ["tier", "net_gmv"] if "net_gmv" in out.columns else ["tier"]
    out = out.sort_values(by, ascending=[True, False][: len(by)], kind="stable")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with written_whole(path) as partial:  # 03 may be waiting for it (helpers.run.LATE)
        out.to_csv(partial, encoding="utf-8-sig")
    return path


# ---------------------------------------------------------------------------------------------------------------
# The page: per-user table, summaries and sentences in the report language
# ---------------------------------------------------------------------------------------------------------------


def user_table(eng, snapshot: pd.Timestamp) -> pd.DataFrame:
    """Return per-contact features at a snapshot, computed in the engine; only the per-user table reaches pandas.

    Parameters
    ----------
    eng : helpers.engine.Engine
        The run's engine (``run.engine``).
    snapshot : Timestamp
        Orders and touches after it are ignored.

    Returns
    -------
    DataFrame
        :func:`helpers.features.user_features` indexed by ``user_id``. ``is_friend`` is empty (not measured) when
        the export records no removal at all: every contact would otherwise read "still a friend".
    """
    from helpers import features

    contacts = eng.table("contacts")
    removals = int(eng.to_pandas(contacts.aggregate(n=contacts.removed_at.count()))["n"].iloc[0])
    expr = features.user_features(
        eng.table("contacts"),
        eng.table("orders"),
        snapshot,
        touches=eng.table("touches") if eng.has("touches") else None,
        messages=eng.table("messages") if eng.has("messages") else None,
    )
    users = eng.to_pandas(expr).set_index("user_id")
    if not removals:  # no removal recorded: whether someone is still a friend is not measured
        users["is_friend"] = pd.array([pd.NA] * len(users), dtype="boolean")
    return users


def feature_summary(users: pd.DataFrame) -> pd.DataFrame:
    """Return one row per numeric feature: contacts with a value, mean, median and maximum.

    Examples
    --------
    >>> feature_summary(pd.DataFrame({"orders": [1, 3, None]})).round(1).to_dict("records")
    [{'n_values': 2, 'mean_value': 2.0, 'median_value': 2.0, 'max_value': 3.0}]
    """
    num = users.select_dtypes("number")
    out = pd.DataFrame(
        {"n_values": num.count(), "mean_value": num.mean(), "median_value": num.median(), "max_value": num.max()}
    )
    out.index.name = "feature"
    return out


def feature_table(users: pd.DataFrame, labels: Labels) -> pd.DataFrame:
    """Return :func:`feature_summary` as a page shows it: each feature's figures in that feature's own unit.

    A row is one feature, so a column mixes units (orders, yuan, days): each cell is formatted by its row — money
    with the currency, counts and days without decimals, rates as percentages — not one format per column (the
    sample's table read 1,843 beside 93.66 beside 111.00).

    Examples
    --------
    >>> from helpers.labels import Labels
    >>> u = pd.DataFrame({"orders": [1, 3, 2], "net_gmv": [10.0, 2000.5, 30.25], "tenure_days": [3.5, 200.2, 9.0]})
    >>> feature_table(u, Labels("zh")).loc["net_gmv"].tolist()
    ['3', '¥680', '¥30', '¥2,000']
    >>> feature_table(u, Labels("zh")).loc["tenure_days"].tolist()
    ['3', '71', '9', '200']
    """
    from helpers.exports import column_kind
    from helpers.labels import fmt_money, fmt_pct

    summary = feature_summary(users)
    out = pd.DataFrame(index=summary.index, columns=summary.columns, dtype=object)
    for feature, row in summary.iterrows():
        kind = column_kind(str(feature), users[feature])
        whole = kind == "int" or "days" in str(feature).split("_")
        cents = 0 if row.drop("n_values").abs().max() >= 100 else 2  # one precision a row: ¥30 beside ¥2,000
        for col, v in row.items():
            if col == "n_values" or pd.isna(v):
                out.at[feature, col] = "—" if pd.isna(v) else f"{int(v):,}"
            elif kind == "money":
                out.at[feature, col] = fmt_money(v, labels.currency, cents)
            elif kind == "rate":
                out.at[feature, col] = fmt_pct(v)
            else:
                out.at[feature, col] = f"{v:,.0f}" if whole else f"{v:,.2f}"
    return out


def rfm_table(users: pd.DataFrame, rfm_class: pd.Series) -> pd.DataFrame:
    """Return contacts and net GMV per RFM class with their shares, largest net GMV first.

    Examples
    --------
    >>> u = pd.DataFrame({"net_gmv": [100.0, 0.0, 300.0]}, index=["a", "b", "c"])
    >>> rfm_table(u, pd.Series(["x", "y", "x"], index=u.index))["share_of_gmv"].tolist()
    [1.0, 0.0]
    """
    t = users.groupby(rfm_class)["net_gmv"].agg(contacts="size", net_gmv="sum")
    t["share_of_contacts"] = t["contacts"] / t["contacts"].sum()
    t["share_of_gmv"] = t["net_gmv"] / max(t["net_gmv"].sum(), 1e-9)
    t.index.name = "rfm_class"
    return t.sort_values("net_gmv", ascending=False)


def rfm_text(table: pd.DataFrame, labels: Labels) -> str:
    """Return the sentence on the RFM class with the most net GMV (from :func:`rfm_table`)."""
    top = table.iloc[0]
    return labels.text(
        TEXT,
        "rfm_top",
        cls=labels.name("rfm_class", table.index[0]),
        users=fmt_int(top["contacts"]),
        share=fmt_pct(top["share_of_contacts"]),
        gmv_share=fmt_pct(top["share_of_gmv"]),
    )


def rfm_lapse_text(
    users: pd.DataFrame, scores: pd.DataFrame, lapse_days: float | None, labels: Labels, at_least: float = 0.05
) -> str:
    """Say how many "recent" buyers of the classic RFM classes are silent past the lapse line (or ``""``).

    RFM's high and low are relative to this export's buyers (:func:`rfm_classes`): on a cohort that stopped buying
    a year ago, "R high" means less long ago than the others, and 重要价值 holds buyers who have lapsed by the
    export's own line (:func:`lapse_days`). Said when at least ``at_least`` of the R-high buyers are past it.

    Examples
    --------
    >>> from helpers.labels import Labels
    >>> u = pd.DataFrame({"recency_days": [10.0, 400.0, 500.0, 600.0]}, index=list("abcd"))
    >>> r = pd.DataFrame({"R": [5, 4, 2, 1], "F": 1, "M": 1}, index=list("abcd"))
    >>> rfm_lapse_text(u, r, 283.0, Labels("zh")).split("。")[0]
    'RFM 的高低是和这份导出的其他买家相比：R 高（最近买过）的 2 位买家里，有 1 位（50.0%）已超过流失界线 283 天没买'
    >>> rfm_lapse_text(u, r, 700.0, Labels("zh"))
    ''
    """
    if lapse_days is None or not len(scores):
        return ""
    recent = scores.index[rfm_high(scores)["R"]]
    past = int(users.loc[recent, "recency_days"].gt(lapse_days).sum())
    if not len(recent) or past < at_least * len(recent):
        return ""
    return labels.text(
        TEXT,
        "rfm_lapsed",
        n=fmt_int(len(recent)),
        past=fmt_int(past),
        share=fmt_pct(past / len(recent)),
        days=f"{lapse_days:.0f}",
    )


def top_share_text(values: pd.Series, top: float, snapshot: pd.Timestamp, labels: Labels) -> str:
    """Return the 80/20 sentence: the share of net GMV of the top ``top`` of buyers (counted, with the total).

    Examples
    --------
    >>> top_share_text(pd.Series([100.0, 1, 1, 1, 1]), 0.2, pd.Timestamp("2026-01-01"), Labels("zh"))
    '前 20% 的买家（1 / 5 人）贡献了 96.2% 的净成交额（快照日 2026-01-01）。'
    """
    n = max(int(np.ceil(top * len(values) - 1e-9)), 1)
    return labels.text(
        TEXT,
        "top_share",
        top=fmt_pct(top, 0),
        n=fmt_int(n),
        buyers=fmt_int(len(values)),
        share=fmt_pct(top_share(values, top)),
        date=f"{pd.Timestamp(snapshot):%Y-%m-%d}",
    )


def stability_text(ari: pd.Series, labels: Labels, stable_at: float = 0.8) -> str:
    """Return the bootstrap-stability sentence (stable when the median ARI reaches ``stable_at``).

    Examples
    --------
    >>> stability_text(pd.Series([0.95, 0.9, 0.99]), Labels("en"))
    'bootstrap ARI over 3 resamples: median 0.950, min 0.900 — the tiers are stable, a property of the customers'
    """
    if not len(ari):
        return labels.text(TEXT, "no_stability")
    verdict = labels.text(TEXT, "stable" if ari.median() >= stable_at else "unstable")
    return labels.text(
        TEXT, "stability", n=len(ari), median=f"{ari.median():.3f}", min=f"{ari.min():.3f}", verdict=verdict
    )


def profile_text(profiles: pd.DataFrame, labels: Labels) -> str:
    """Return the sentence on the most valuable tier and the at-risk tier (from :attr:`Tiers.profiles_`)."""
    top = profiles.iloc[0]
    risk = [t for t in profiles.index if is_at_risk(t)]
    r = profiles.loc[risk].sum() if risk else None
    return labels.text(
        TEXT,
        "profile_top",
        tier=labels.name("tier", profiles.index[0]),
        users=fmt_int(top["users"]),
        share=fmt_pct(top["share"]),
        gmv_share=fmt_pct(top.get("gmv_share")),
        risk=labels.name("tier", TIER_NAMES["at_risk"]),
        risk_users=fmt_int(r["users"]) if r is not None else "0",
        risk_share=fmt_pct(r["share"]) if r is not None else "0.0%",
    )


def check_planted(tc, model: Tiers, planted: pd.Series, truth: dict, labels: Labels | None = None) -> dict[str, float]:
    """Add the planted-truth checks of the tiers to ``tc`` and return the two adjusted Rand indices.

    Checks: ARI ≥ 0.8 over all contacts and among established buyers; k equals the planted buyer segments; each
    planted segment is mostly given its tier name.

    Parameters
    ----------
    tc : helpers.truth.TruthChecks
        Where the checks go.
    model : Tiers
        The fitted tiers.
    planted : Series
        Planted tier per contact (:func:`helpers.truth.planted_tiers`).
    truth : dict
        ``truth.json``.
    labels : Labels, optional
        When given, tier names are compared (and shown) as display names in its language.

    Returns
    -------
    dict
        ``all`` and ``established``: the adjusted Rand indices.
    """
    est = model.cluster_ >= 0
    ari = {
        "all": adjusted_rand_score(planted, model.labels_.astype(str)),
        "established": adjusted_rand_score(planted[est], model.cluster_[est]),
    }
    tc.at_least("ari_all", ari["all"], 0.8)
    tc.at_least("ari_established", ari["established"], 0.8)
    buyer_segments = sum(1 for s in truth["planted"]["segments"].values() if s["bgnbd"] is not None)
    tc.equal("k_silhouette", model.k_, buyer_segments)
    majority = pd.crosstab(planted, model.labels_.astype(str)).idxmax(axis=1)
    shown = labels.name if labels is not None else (lambda _kind, v: v)
    for seg in ["high_value", "potential", "at_risk", "new", "dormant"]:
        tc.equal("tier_named", shown("tier", majority.get(seg)), shown("tier", TIER_NAMES[seg]), tier=TIER_NAMES[seg])
    return ari


def migration_text(moves: pd.DataFrame, before: pd.Timestamp, after: pd.Timestamp, labels: Labels) -> str:
    """Return the migration sentence: how many contacts moved up, down, out of *new*, or stayed.

    Examples
    --------
    >>> m = pd.DataFrame({"move": ["up", "same", "same", "down"]})
    >>> migration_text(m, pd.Timestamp("2025-10-03"), pd.Timestamp("2026-01-01"), Labels("zh"))
    '2025-10-03 → 2026-01-01：不变 2，上移 1，下移 1。'
    """
    counts = moves["move"].value_counts()
    sep = "，" if labels.lang == "zh" else ", "
    parts = sep.join(f"{labels.name('move', k)} {fmt_int(v)}" for k, v in counts.items())
    return labels.text(TEXT, "migration", before=f"{before:%Y-%m-%d}", after=f"{after:%Y-%m-%d}", moves=parts)


def headline_text(buyers_gmv: pd.Series, top: float, profiles: pd.DataFrame, labels: Labels) -> str:
    """Return the page's one-sentence result: the 80/20 share, the top tier and the at-risk tier."""
    risk = [t for t in profiles.index if is_at_risk(t)]
    return labels.text(
        TEXT,
        "headline",
        top=fmt_pct(top, 0),
        share=fmt_pct(top_share(buyers_gmv, top)) if len(buyers_gmv) else "—",
        tier=labels.name("tier", profiles.index[0]),
        users=fmt_int(profiles["users"].iloc[0]),
        tier_share=fmt_pct(profiles["share"].iloc[0]),
        risk=labels.name("tier", TIER_NAMES["at_risk"]),
        risk_users=fmt_int(profiles.loc[risk, "users"].sum()),
    )


# ---------------------------------------------------------------------------------------------------------------
# Plots
# ---------------------------------------------------------------------------------------------------------------


def plot_k_selection(
    scores: pd.DataFrame, chosen: int | None = None, ax: plt.Axes | None = None, lang: str = "zh"
) -> plt.Axes:
    """Elbow (inertia) and silhouette per k, with the chosen k marked; legend below the axes.

    Parameters
    ----------
    scores : DataFrame
        :attr:`Tiers.scores_`.
    chosen : int, optional
        The k used.
    ax : Axes, optional
        Where to draw.
    lang : {"zh", "en"}
        Language of the labels.

    Returns
    -------
    Axes
        The silhouette axes (inertia is on its twin).
    """
    t = _PLOT[lang]
    ax = ax or plt.subplots(figsize=(7, 3.8))[1]
    ax.plot(scores.index, scores["silhouette"], "o-", color="C0", label=t["silhouette"])
    ax.set_xlabel(t["k"])
    ax.set_ylabel(t["silhouette_short"])
    ax.xaxis.set_major_locator(plt.matplotlib.ticker.MaxNLocator(integer=True))
    tw = ax.twinx()
    tw.plot(scores.index, scores["inertia"], "s--", color="C1", label=t["inertia"])
    tw.set_ylabel(t["inertia"])
    tw.grid(False)  # one grid (the silhouette axis) is enough
    if chosen is not None:
        ax.axvline(chosen, color="grey", lw=1, ls=":")
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = tw.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2, fontsize="small", frameon=False)
    ax.set_title(t["k_title"])
    return ax


def plot_tier_sizes(
    profiles: pd.DataFrame, ax: plt.Axes | None = None, lang: str = "zh", labels: Labels | None = None
) -> plt.Axes:
    """Share of contacts next to share of net GMV per tier (the 80/20 picture by tier); legend below the axes.

    Parameters
    ----------
    profiles : DataFrame
        :attr:`Tiers.profiles_`.
    ax : Axes, optional
        Where to draw.
    lang : {"zh", "en"}
        Language of the labels.
    labels : Labels, optional
        Display names of the tiers.

    Returns
    -------
    Axes
        The bar chart.
    """
    t, names = _PLOT[lang], labels_for(lang, labels)
    ax = ax or plt.subplots(figsize=(8, 3.8))[1]
    cols = {"share": t["share_users"], "gmv_share": t["share_gmv"]}
    p = profiles[[c for c in cols if c in profiles.columns]].rename(columns=cols)
    p.index = [names.name("tier", i) for i in p.index]
    p.iloc[::-1].plot.barh(ax=ax, width=0.75)
    ax.xaxis.set_major_formatter(plt.matplotlib.ticker.PercentFormatter(1.0))
    ax.set_xlabel(t["share"])
    ax.set_ylabel("")
    ax.set_title(t["sizes_title"])
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=2, fontsize="small", frameon=False)
    return ax


def plot_snake(
    centroids: pd.DataFrame,
    names: dict[int, str],
    ax: plt.Axes | None = None,
    lang: str = "zh",
    labels: Labels | None = None,
) -> plt.Axes:
    """Snake plot: each cluster's mean of every scaled feature (standard deviations from the buyer mean).

    Parameters
    ----------
    centroids : DataFrame
        :attr:`Tiers.centroids_`.
    names : dict
        Cluster number → tier name (:attr:`Tiers.names_`).
    ax : Axes, optional
        Where to draw.
    lang : {"zh", "en"}
        Language of the labels.
    labels : Labels, optional
        Display names of the tiers and feature headers.

    Returns
    -------
    Axes
        The line chart.
    """
    t, lab = _PLOT[lang], labels_for(lang, labels)
    ax = ax or plt.subplots(figsize=(8, 3.8))[1]
    for i, row in centroids.iterrows():
        ax.plot(range(len(row)), row.to_numpy(), "o-", label=lab.name("tier", names.get(int(i), str(i))))
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_xticks(range(centroids.shape[1]), [lab.header(c) for c in centroids.columns], rotation=15)
    ax.set_ylabel(t["scaled"])
    ax.set_title(t["snake_title"])
    ax.legend(fontsize="small", loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    return ax


def plot_lorenz(values: pd.Series, top: float = 0.2, ax: plt.Axes | None = None, lang: str = "zh") -> plt.Axes:
    """Lorenz curve of net GMV over buyers, with the top-``top`` share marked (二八法则).

    Parameters
    ----------
    values : Series
        Value per buyer.
    top : float
        Fraction of users to mark.
    ax : Axes, optional
        Where to draw.
    lang : {"zh", "en"}
        Language of the labels.

    Returns
    -------
    Axes
        The curve.
    """
    t = _PLOT[lang]
    ax = ax or plt.subplots(figsize=(5.5, 4.5))[1]
    lz = lorenz(values)
    ax.plot(lz["user_share"], lz["value_share"], color="C0", label=t["lorenz"])
    ax.plot([0, 1], [0, 1], color="grey", ls="--", lw=1, label=t["equal"])
    s = top_share(values, top)
    ax.plot([top, top, 0], [0, s, s], color="C3", lw=1, ls=":")
    ax.annotate(
        t["lorenz_note"].format(top=fmt_pct(top, 0), share=fmt_pct(s, 0)),
        (top, s),
        xytext=(top + 0.08, s - 0.18),
        fontsize="small",
        # an explicit colour: the style's white patch edges drew the arrow invisible, the label left unattached
        arrowprops={"arrowstyle": "->", "color": "#333333", "lw": 1},
    )
    ax.xaxis.set_major_formatter(plt.matplotlib.ticker.PercentFormatter(1.0))
    ax.yaxis.set_major_formatter(plt.matplotlib.ticker.PercentFormatter(1.0))
    ax.set_xlabel(t["buyers_x"])
    ax.set_ylabel(t["gmv_y"])
    ax.set_title(t["lorenz_title"])
    ax.legend(loc="lower right", fontsize="small")
    return ax


def plot_migration(
    matrix: pd.DataFrame, ax: plt.Axes | None = None, lang: str = "zh", labels: Labels | None = None
) -> plt.Axes:
    """Heatmap of a row-normalised migration matrix (share of each earlier tier ending in each later tier).

    Parameters
    ----------
    matrix : DataFrame
        :func:`migration_matrix` with ``normalize=True``.
    ax : Axes, optional
        Where to draw.
    lang : {"zh", "en"}
        Language of the labels.
    labels : Labels, optional
        Display names of the tiers.

    Returns
    -------
    Axes
        The heatmap.
    """
    import seaborn as sns

    t, names = _PLOT[lang], labels_for(lang, labels)
    m = matrix.copy()
    m.index = [names.name("tier", i) for i in m.index]
    m.columns = [names.name("tier", c) for c in m.columns]
    ax = ax or plt.subplots(figsize=(8, 4.5))[1]
    sns.heatmap(m, annot=True, fmt=".0%", cmap="Blues", vmin=0, vmax=1, cbar=False, ax=ax)
    ax.set_xlabel(t["after"])
    ax.set_ylabel(t["before"])
    ax.set_title(t["migration_title"])
    return ax

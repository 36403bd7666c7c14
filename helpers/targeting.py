"""Whom to contact next (触达名单): a list that adds sales instead of listing buyers who buy anyway.

A list ranked by "likely to buy" names the heaviest buyers, who order whether or not staff message them. This list:

1. **Candidates** are current friends (not deleted at the snapshot).
2. **Cool-down**: anyone who ordered, or was messaged (private chat, group broadcast, coupon), within
   ``cooldown_days`` is left out — they just bought or just heard from us.
3. **Monthly cap**: anyone already messaged ``monthly_cap`` times in the calendar month of the snapshot is left out
   (WeCom allows 4 group broadcasts per customer per month; the cap counts every message type).
4. **Score**: where an uplift model trained on a randomised holdout beats the average effect on held-out customers
   (:class:`helpers.uplift.UpliftVerdict` ``use == "model"``), the *expected incremental value*
   ``uplift × value`` of the best action; otherwise the **due score** (:func:`due_scores`). The decision record
   says which score was used and why.
5. **Leave alone**: customers whose predicted uplift is negative — a message lowers their order rate or raises
   their chance of deleting us (do-not-disturb) — are returned separately, never listed.

Each row names the owner (``staff_id``), the tier when given, *why now* and a suggested action (私聊 / 群发 / 优惠券):
a coupon only where the coupon's predicted uplift beats the message's and pays its cost; private chats, which cost
staff time, for the ``private_chats`` highest-scoring rows; a broadcast for the rest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from helpers.exports import written_whole
from helpers.repurchase import alive_identified
from helpers.truth import NO_TRUTH
from helpers.uplift import UpliftVerdict

__all__ = ["ACTIONS", "ContactList", "contact_list", "due_scores", "eligible_ids"]

#: Columns of the ``uplift`` input that name a tested action.
_UPLIFT_ACTIONS = ("message", "private_chat", "group_broadcast", "coupon")

#: Suggested actions in each report language.
ACTIONS: dict[str, dict[str, str]] = {
    "zh": {"private_chat": "私聊", "group_broadcast": "群发", "coupon": "优惠券"},
    "en": {"private_chat": "private chat", "group_broadcast": "broadcast", "coupon": "coupon"},
}

_TEXT = {
    "zh": {
        "uplift": "{a}预计使下单概率提高 {u:+.1f} 个百分点（扣除成本和删好友风险后，增量毛利约 {cur}{iv:,.0f}）",
        "beats": "优于{o}",
        "action_names": {"message": "消息", "private_chat": "私聊", "group_broadcast": "群发", "coupon": "优惠券"},
        "test_names": {
            "message": "消息测试",
            "private_chat": "私聊测试",
            "group_broadcast": "群发测试",
            "coupon": "优惠券测试",
        },
        "pp": " 个百分点",
        "sep": "；",
        "due": "平时约每 {g:.0f} 天买一次，距上次购买已 {s:.0f} 天；仍活跃概率 {pa:.0%}，未来 {h} 天购买概率 {pd:.0%}",
        "due_measured": (
            "平时约每 {g:.0f} 天买一次，距上次购买已 {s:.0f} 天；"
            "{h} 天前与其相似的客户（逾期倍数、平时间隔、购买次数相近）约 {pd:.0%} 在之后 {h} 天内又买了"
        ),
        "last_order": "上次下单 {d:.0f} 天前",
        "never_ordered": "尚未下单",
        "last_message": "上次消息 {d:.0f} 天前",
        "never_messaged": "从未收到消息",
        "month": "本月已发 {m:.0f} 条",
        "leave_order": "任何触达预计都会降低下单概率（最好的也只有 {u:+.1f} 个百分点）",
        "leave_delete": "消息预计使删好友概率提高 {d:+.1f} 个百分点",
        "why_model": "按个体增量价值（预测增量 × 客单价值）排序：{v}",
        "why_average": "未按个体增量排序：{v} 改按“到期”得分排序（公式见第 5 节）。",
        "why_no_model_measured": "没有基于随机留出组训练的增量模型，按“到期”得分排序。",
        "why_measured": (
            "03 选出的购买模型看不出流失（数据识别不了流失参数，人人的仍活跃概率都是 100%），所以“到期”得分改为实测："
            "用 {h} 天前（{cut}）的 {n:,} 位客户之后 {h} 天内是否又买，拟合回购概率与逾期倍数（距上次购买天数 ÷ "
            "平时间隔）、平时间隔和购买次数的关系（样条逻辑回归），再给今天的客户打分。"
        ),
        "why_no_model": (
            "没有基于随机留出组训练的增量模型，按“到期”得分排序：仍活跃概率 × 按本人平时购买间隔计算的"
            "未来 {h} 天购买概率。"
        ),
    },
    "en": {
        "uplift": (
            "a {a} is predicted to raise the order probability by {u:+.1f} percentage points (about "
            "{cur}{iv:,.0f} incremental profit, net of cost and deletion risk)"
        ),
        "beats": "better than {o}",
        "test_names": {
            "message": "message test",
            "private_chat": "private-chat test",
            "group_broadcast": "broadcast test",
            "coupon": "coupon test",
        },
        "pp": " pp",
        "action_names": {
            "message": "message",
            "private_chat": "private chat",
            "group_broadcast": "broadcast",
            "coupon": "coupon",
        },
        "sep": "; ",
        "due": (
            "usually buys every {g:.0f} days, last purchase {s:.0f} days ago; P(alive) {pa:.0%}, P(buys in the next "
            "{h} days) {pd:.0%}"
        ),
        "due_measured": (
            "usually buys every {g:.0f} days, last purchase {s:.0f} days ago; of customers like this one {h} days ago "
            "(as overdue, same usual gap and purchase count), about {pd:.0%} bought within the next {h} days"
        ),
        "last_order": "last order {d:.0f} days ago",
        "never_ordered": "has not ordered yet",
        "last_message": "last message {d:.0f} days ago",
        "never_messaged": "never messaged",
        "month": "{m:.0f} messages this month",
        "leave_order": (
            "every action is predicted to lower the order probability (the best by {u:+.1f} percentage points)"
        ),
        "leave_delete": "a message is predicted to raise the deletion probability by {d:+.1f} percentage points",
        "why_model": "ranked by expected incremental value (predicted uplift × value): {v}",
        "why_average": "not ranked by individual uplift: {v} Ranked by the due score instead (formula in section 5).",
        "why_no_model_measured": "no uplift model trained on a randomised holdout: ranked by the due score.",
        "why_measured": (
            " The purchase model 03 chose sees no dropout (the data do not identify it: P(alive) is 100 % for "
            "everyone), so the due score is measured instead: whether each of the {n:,} customers of {h} days earlier "
            "({cut}) bought within the next {h} days, fitted on how overdue they were (days since the last purchase "
            "÷ usual gap), their usual gap and purchase count (a logistic regression with splines), scores today's "
            "customers."
        ),
        "why_no_model": (
            "no uplift model trained on a randomised holdout: ranked by the due score, P(alive) × P(buys in the next "
            "{h} days given the customer's own usual gap)."
        ),
    },
}


def _text(lang: str) -> dict[str, str]:
    if lang not in _TEXT:
        raise ValueError(f"lang must be one of {', '.join(_TEXT)}, got {lang!r}")
    return _TEXT[lang]


def due_scores(
    summary: pd.DataFrame, p_alive: pd.Series, horizon_days: int = 30, gap_shape: float = 2.0
) -> pd.DataFrame:
    r"""Score how "due" each customer is: P(alive) × P(buys in the next H days, measured against their own gap).

    .. math::

        \text{due}_i = P(\text{alive})_i \times \frac{S_i(s_i) - S_i(s_i + H)}{S_i(s_i)}

    where ``s_i`` is the days since the customer's last purchase day (``T − recency``), ``H = horizon_days``, and
    ``S_i`` is the survival function of the customer's gap between purchases, modelled as a gamma distribution with
    shape ``k = gap_shape`` and mean ``g_i``, the customer's **own usual gap**: ``g_i = recency_i / frequency_i``
    (days between the first and last purchase day over the repeat purchases) for repeat buyers, and the median of
    ``g`` over repeat buyers for one-time buyers. The fraction is the probability that the next gap ends within the
    next ``H`` days given it has lasted ``s_i`` so far; with ``k > 1`` it rises as ``s_i`` approaches and passes
    ``g_i`` (the customer is "due"), while P(alive) (BG/NBD) falls once the silence is long for that customer's
    rhythm — the product peaks for customers somewhat overdue but still likely alive.

    Parameters
    ----------
    summary : DataFrame
        Per-customer ``frequency``, ``recency``, ``T`` in **days** (:func:`helpers.repurchase.summarize` with
        ``unit="D"``), indexed by ``user_id``.
    p_alive : Series
        P(alive) per customer, e.g. ``BetaGeo.p_alive(summary)``.
    horizon_days : int
        ``H``.
    gap_shape : float
        ``k``; 1 would make the gap exponential (memoryless: never "due").

    Returns
    -------
    DataFrame
        ``usual_gap_days``, ``days_since_last_purchase``, ``p_alive``, ``p_due`` and ``due_score``.

    Examples
    --------
    >>> s = pd.DataFrame({"frequency": [4, 4, 0], "recency": [120.0, 120.0, 0.0], "T": [130.0, 160.0, 50.0]})
    >>> d = due_scores(s, pd.Series([0.9, 0.8, 1.0]), horizon_days=30)
    >>> d["usual_gap_days"].tolist()
    [30.0, 30.0, 30.0]
    >>> bool(d.loc[1, "p_due"] > d.loc[0, "p_due"])  # 40 days after the last purchase is more due than 10
    True
    """
    if gap_shape <= 0:
        raise ValueError("gap_shape must be positive")
    gap, since = _gap_and_since(summary)
    scale = gap / gap_shape
    s_now = stats.gamma.sf(since, gap_shape, scale=scale)
    s_later = stats.gamma.sf(since + horizon_days, gap_shape, scale=scale)
    p_due = np.where(s_now > 0, 1.0 - s_later / np.where(s_now > 0, s_now, 1.0), 1.0)
    pa = p_alive.reindex(summary.index).astype(float)
    return pd.DataFrame(
        {
            "usual_gap_days": gap,
            "days_since_last_purchase": since,
            "p_alive": pa,
            "p_due": p_due,
            "due_score": pa * p_due,
        },
        index=summary.index,
    )


def _gap_and_since(summary: pd.DataFrame, typical: float | None = None) -> tuple[pd.Series, pd.Series]:
    """Return each customer's usual gap and days since the last purchase day (``T − recency``).

    The gap is recency / frequency for repeat buyers; the others get ``typical`` (default: the repeat buyers' median).
    """
    freq = summary["frequency"].astype(float)
    gap = (summary["recency"] / freq).where(freq > 0)
    if typical is None:
        typical = float(gap.median()) if gap.notna().any() else float("nan")
    return gap.fillna(typical).clip(lower=1.0), (summary["T"] - summary["recency"]).astype(float)


def measured_due_scores(
    summary: pd.DataFrame, past: pd.DataFrame, bought: pd.Index, horizon_days: int, cutoff: pd.Timestamp
) -> pd.DataFrame:
    r"""Measure the due score on the export instead of modelling it: for when P(alive) is not identified.

    ``horizon_days`` before the last day (``cutoff``), every buyer then (``past``) had an overdue ratio
    :math:`r = s / g` (days since the last purchase over their own usual gap, as in :func:`due_scores`), a usual gap
    :math:`g` and a purchase count :math:`n`; ``bought`` says who bought in the next ``horizon_days`` days. A
    logistic regression with a cubic spline of each of :math:`\log(1 + r)`, :math:`\log g` and :math:`\log(1 + n)`
    (an additive model: each term may bend, none is assumed linear) learns P(buys in the next H days) from those
    outcomes, and scores today's customers (``summary``); beyond the range seen at the cutoff a term stays at its
    edge value. Nothing is assumed about dropout: a long silence lowers the score by as much as it lowered the buying
    of customers that silent before.

    Parameters
    ----------
    summary, past : DataFrame
        Day-unit summaries (:func:`helpers.repurchase.summarize`) at the last day and at ``cutoff``.
    bought : Index
        The ``past`` customers with a purchase day in ``(cutoff, cutoff + horizon_days]``.
    horizon_days : int
        ``H``.
    cutoff : Timestamp
        The day ``past`` is summarised at (recorded in ``attrs``).

    Returns
    -------
    DataFrame
        As :func:`due_scores`, with ``p_alive`` missing (not measured) and ``p_due`` = ``due_score`` = the measured
        probability; ``attrs``: ``measured`` (True), ``cutoff`` and ``customers`` (buyers at the cutoff).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> T = rng.uniform(100, 300, 2000)
    >>> past = pd.DataFrame({"frequency": 3.0, "recency": 90.0, "T": T}, index=[f"u{i}" for i in range(2000)])
    >>> bought = past.index[rng.random(2000) < np.where(T < 150, 0.6, 0.05)]  # recent buyers return, lapsed do not
    >>> now = pd.DataFrame({"frequency": [3, 3], "recency": [90.0, 90.0], "T": [110.0, 290.0]}, index=["a", "b"])
    >>> d = measured_due_scores(now, past, bought, 60, pd.Timestamp("2025-06-01"))
    >>> bool(d.loc["a", "due_score"] > 0.5 > 0.1 > d.loc["b", "due_score"])
    True
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import SplineTransformer

    def features(s: pd.DataFrame, typical: float | None = None) -> tuple[np.ndarray, pd.Series, pd.Series]:
        gap, since = _gap_and_since(s, typical)
        x = np.column_stack([np.log1p(since / gap), np.log(gap), np.log1p(s["frequency"].to_numpy(float))])
        return x, gap, since

    x_past, _, _ = features(past)
    y = past.index.isin(bought).astype(int)
    typical = float((past["recency"] / past["frequency"]).where(past["frequency"] > 0).median())  # as at the cutoff
    x_now, gap_now, since_now = features(summary, typical)
    if y.min() == y.max():  # everybody or nobody bought: that share for everyone
        share = np.full(len(summary), float(y.mean()))
    else:
        model = make_pipeline(
            SplineTransformer(n_knots=5, degree=3, extrapolation="constant"), LogisticRegression(max_iter=1000)
        )
        share = model.fit(x_past, y).predict_proba(x_now)[:, 1]
    out = pd.DataFrame(
        {
            "usual_gap_days": gap_now,
            "days_since_last_purchase": since_now,
            "p_alive": np.nan,
            "p_due": share,
            "due_score": share,
        },
        index=summary.index,
    )
    out.attrs.update(measured=True, cutoff=pd.Timestamp(cutoff), customers=len(past))
    return out


def due_for_list(
    orders, summary: pd.DataFrame, p_alive: pd.Series, last_day: pd.Timestamp, horizon_days: int, to_pandas
) -> pd.DataFrame:
    """Return the due scores the list uses: modelled (:func:`due_scores`), or measured where P(alive) is not.

    When P(alive) does not tell customers apart (:func:`alive_identified`), the score is measured
    ``horizon_days`` before ``last_day`` (:func:`measured_due_scores`); an export too short to hold 100 buyers then
    keeps the modelled score, and so does one without a repeat buyer at the cutoff.

    Parameters
    ----------
    orders : ibis Table
        The engine's orders.
    summary : DataFrame
        Day-unit summary at ``last_day``.
    p_alive : Series
        P(alive) per customer from the chosen purchase model.
    last_day : Timestamp
        The last whole day observed.
    horizon_days : int
        ``H``.
    to_pandas : callable
        Runs an ibis expression (``Engine.to_pandas``).

    Returns
    -------
    DataFrame
        As :func:`due_scores`; ``attrs["measured"]`` when measured.
    """
    from helpers import features
    from helpers.repurchase import summarize

    if alive_identified(p_alive):
        return due_scores(summary, p_alive, horizon_days)
    cutoff = pd.Timestamp(last_day).normalize() - pd.Timedelta(days=horizon_days)
    try:
        past = summarize(orders, cutoff, unit="D")
    except ValueError:  # no purchase before the cutoff
        past = summary.iloc[:0]
    if len(past) < 100 or not (past["frequency"] > 0).any():  # too few buyers, or no usual gap to measure against
        return due_scores(summary, p_alive, horizon_days)
    later = features.purchase_days(orders, last_day, start=cutoff + pd.Timedelta(days=1))
    bought = pd.Index(to_pandas(later.select("user_id").distinct())["user_id"])
    return measured_due_scores(summary, past, bought, horizon_days, cutoff)


@dataclass
class ContactList:
    """The list, the customers to leave alone, and the decision record (which score, why, and the funnel)."""

    contacts: pd.DataFrame
    leave_alone: pd.DataFrame
    decision: dict = field(default_factory=dict)

    @property
    def leave_alone_measured(self) -> bool:
        """Whether any randomised test measured harm: without one an empty leave-alone list is *not measured*, not 0.

        Examples
        --------
        >>> ContactList(pd.DataFrame(), pd.DataFrame(), {"verdicts": {}}).leave_alone_measured
        False
        """
        return bool(self.decision.get("verdicts"))


def _by_user(df: pd.DataFrame | pd.Series | None) -> pd.DataFrame | pd.Series | None:
    if df is None:
        return None
    if isinstance(df, pd.DataFrame) and "user_id" in df.columns:
        df = df.set_index("user_id")
    return df


def _eligible(s: pd.DataFrame, cooldown_days: float, monthly_cap: int) -> tuple[pd.DataFrame, dict]:
    """Friends who may be contacted today (the list's funnel): no order or message in the cool-down, under the cap."""
    funnel = {"contacts": len(s)}
    s = s[s["is_friend"].astype(bool)]
    funnel["friends"] = len(s)
    s = s[~(s["days_since_last_order"] < cooldown_days)]
    funnel[f"no order in {cooldown_days:g} days"] = len(s)
    if "days_since_last_message" in s.columns:
        s = s[~(s["days_since_last_message"] < cooldown_days)]
        funnel[f"no message in {cooldown_days:g} days"] = len(s)
    if "messages_this_month" in s.columns:
        s = s[s["messages_this_month"].fillna(0) < monthly_cap]
        funnel[f"under {monthly_cap} messages this month"] = len(s)
    return s, funnel


def eligible_ids(state: pd.DataFrame, cooldown_days: float = 7, monthly_cap: int = 4) -> pd.Index:
    """Return the ``user_id`` of the friends :func:`contact_list` may list today.

    Score only these: at 1 M contacts, scoring everyone with the uplift models costs twice the time for rows the
    list drops anyway.

    Examples
    --------
    >>> st = pd.DataFrame({"user_id": ["a", "b", "c"], "is_friend": [True, True, False],
    ...                    "days_since_last_order": [30.0, 2.0, 30.0], "messages_this_month": [0, 0, 0]})
    >>> list(eligible_ids(st, cooldown_days=7))
    ['a']
    """
    return _eligible(_by_user(state), cooldown_days, monthly_cap)[0].index


def contact_list(
    state: pd.DataFrame,
    *,
    due: pd.DataFrame | None = None,
    uplift: pd.DataFrame | None = None,
    verdicts: dict[str, UpliftVerdict] | None = None,
    costs: dict[str, float] | None = None,
    tiers: pd.Series | None = None,
    top_n: int = 200,
    cooldown_days: float = 7,
    monthly_cap: int = 4,
    private_chats: int = 50,
    horizon_days: int = 30,
    margin: float = 1.0,
    currency: str = "¥",
    lang: str = "zh",
) -> ContactList:
    """Build the contact list: eligible friends ranked by incremental value (or the due score), with actions.

    Parameters
    ----------
    state : DataFrame
        One row per contact (``user_id`` column or index): ``is_friend``, ``staff_id``, ``days_since_last_order``
        (NaN = never ordered), and when touches exist ``days_since_last_message`` and ``messages_this_month``
        (:func:`helpers.features.contact_state`).
    due : DataFrame, optional
        :func:`due_scores` per customer: the score when no uplift model beats the average effect.
    uplift : DataFrame, optional
        Predicted uplift per contact (``user_id`` index or column) from models trained on randomised holdouts
        (:mod:`helpers.uplift`), one column per tested action — ``message`` (a message of any kind),
        ``private_chat``, ``group_broadcast``, ``coupon``: the predicted change in P(order) if the customer gets it —
        plus ``value`` (expected order value, CNY, required) and optionally ``deletion`` (predicted change in
        P(deleting us) if messaged) and ``deletion_value`` (profit lost if the customer deletes us, CNY).
    verdicts : dict of UpliftVerdict, optional
        Held-out verdict per column of ``uplift`` (same keys, and ``"deletion"``). An action's uplift is used only
        when its verdict says ``use == "model"``; when none does, the list falls back to the due score and the
        decision record quotes the verdict.
    costs : dict of float, optional
        Cost per action (CNY), e.g. ``{"coupon": 5.0}``, subtracted from its incremental value.
    tiers : Series, optional
        Tier label per ``user_id`` (:mod:`helpers.tiers`).
    top_n : int
        Length of the list.
    cooldown_days : float
        Leave out anyone who ordered or was messaged fewer than this many days before the snapshot.
    monthly_cap : int
        Leave out anyone already messaged this many times in the snapshot's calendar month.
    private_chats : int
        Staff capacity: the highest-scoring message rows get a private chat, the rest a broadcast (when the holdouts
        did not test the two separately).
    horizon_days : int
        ``H`` of the due score (for the reason text).
    margin : float
        Gross margin: an extra order is worth ``margin × value``. The expected incremental value of action ``a`` is
        ``uplift_a × margin × value − deletion × deletion_value − cost_a``; the deletion term uses the
        per-customer ``deletion`` prediction when the deletion verdict says ``"model"``, its average effect
        otherwise (never below 0: a predicted fall in deletions is mostly noise and earns nothing), and nothing
        without ``deletion_value``.
    currency : str
        Currency symbol of the reasons.
    lang : {"zh", "en"}
        Language of actions, reasons and the decision record.

    Returns
    -------
    ContactList
        ``contacts``: ``user_id``, ``staff_id``, ``tier``, ``score``, ``action``, ``why_now`` and the inputs of the
        score, best first; ``leave_alone``: ``user_id``, ``staff_id``, ``tier``, the predicted uplifts and ``why``;
        ``decision``: ``score`` (``"incremental_value"`` or ``"due"``), ``why``, ``actions`` (those ranked by their
        model), ``verdicts`` (dicts), ``funnel`` (contacts left after each rule) and the parameters.
    """
    t = _text(lang)
    costs = costs or {}
    verdicts = verdicts or {}
    due, uplift = _by_user(due), _by_user(uplift)
    kinds = _usable_actions(uplift, verdicts, due)
    s, funnel = _eligible(_by_user(state).copy(), cooldown_days, monthly_cap)
    s["tier"] = tiers.reindex(s.index) if tiers is not None else None
    leave, leave_alone = _leave_alone(s, uplift, verdicts, kinds, t)
    s = s[~leave]
    if verdicts:  # without a randomised test no one is known to delete us: no such rule was applied
        funnel["not 'leave alone'"] = len(s)
    if kinds:
        s, why = _score_by_uplift(s, uplift, verdicts, kinds, costs, margin, t)
    else:
        s, why = _score_by_due(s, due, verdicts, horizon_days, t)
    score_kind = "incremental_value" if kinds else "due"
    if due is not None and "due_score" not in s.columns:
        s["due_score"] = due["due_score"].reindex(s.index)
    funnel["scored" if kinds else "due scored"] = len(s)
    s = s.sort_values("score", ascending=False, kind="stable").head(top_n)
    funnel["listed"] = len(s)
    s = _assign_actions(s, private_chats, lang)
    s["why_now"] = [_why_now(r, t, score_kind, kinds, horizon_days, currency) for r in s.itertuples()]
    decision = {
        "score": score_kind,
        "why": why,
        "actions": kinds,
        "verdicts": {k: v.as_dict() for k, v in verdicts.items()},
        "funnel": funnel,
        "parameters": {
            "top_n": top_n,
            "cooldown_days": cooldown_days,
            "monthly_cap": monthly_cap,
            "private_chats": private_chats,
            "costs": costs,
            "horizon_days": horizon_days,
            "margin": margin,
        },
    }
    lead = ["staff_id", "tier", "score", "action_key", "action", "why_now"]
    rest = [c for c in s.columns if c.startswith(("uplift_", "incremental_value_")) or c in _LIST_DETAIL]
    contacts = s[lead + rest].rename_axis("user_id").reset_index()
    return ContactList(
        contacts=contacts, leave_alone=leave_alone.rename_axis("user_id").reset_index(), decision=decision
    )


#: Columns of the list kept after the leading ones (when present), in this order of appearance.
_LIST_DETAIL = (
    "value",
    "deletion_risk",
    "due_score",
    "p_alive",
    "p_due",
    "usual_gap_days",
    "days_since_last_order",
    "days_since_last_message",
    "messages_this_month",
)


def _usable_actions(uplift: pd.DataFrame | None, verdicts: dict, due: pd.DataFrame | None) -> list[str]:
    """Check the inputs; return the tested actions whose held-out verdict lets their model rank (may be empty)."""
    kinds: list[str] = []
    if uplift is not None:
        if "value" not in uplift.columns:
            raise ValueError("uplift needs a 'value' column (expected order value, CNY)")
        tested = [k for k in _UPLIFT_ACTIONS if k in uplift.columns]
        if not tested:
            raise ValueError(f"uplift needs at least one of the columns {', '.join(_UPLIFT_ACTIONS)}")
        kinds = [k for k in tested if k in verdicts and verdicts[k].use == "model"]
    if not kinds and due is None:
        raise ValueError("nothing to rank by: give due scores, or uplift predictions whose verdict says 'model'")
    return kinds


def _leave_alone(
    s: pd.DataFrame, uplift: pd.DataFrame | None, verdicts: dict, kinds: list[str], t: dict
) -> tuple[pd.Series, pd.DataFrame]:
    """Who to leave alone (do-not-disturb) among the eligible ``s``, and the exported rows with the reason.

    Every usable action is predicted to lower their order rate, or a message to raise their deletion rate, as far
    as the held-out groups where that harm was *measured* (UpliftVerdict.harm_below / harm_above: groups whose
    interval lies entirely on the harmful side), not only predicted.
    """
    leave = pd.Series(False, index=s.index)
    why_leave = pd.Series("", index=s.index)
    u = uplift.reindex(s.index) if uplift is not None else None
    harmful = [k for k in kinds if verdicts[k].harm_measured_below]
    if harmful and len(harmful) == len(kinds):
        worst = pd.concat([u[k] <= verdicts[k].harm_below for k in kinds], axis=1).all(axis=1)
        leave |= worst
        why_leave[worst] = [t["leave_order"].format(u=100 * v) for v in u.loc[worst, kinds].max(axis=1)]
    dv = verdicts.get("deletion")
    if u is not None and "deletion" in u.columns and dv is not None and dv.use == "model" and dv.harm_measured_above:
        dele = u["deletion"] >= dv.harm_above
        extra = [t["leave_delete"].format(d=100 * v) for v in u.loc[dele, "deletion"]]
        why_leave[dele] = [f"{a}; {b}" if a else b for a, b in zip(why_leave[dele], extra, strict=True)]
        leave |= dele
    cols = [c for c in (*_UPLIFT_ACTIONS, "deletion") if u is not None and c in u.columns]
    leave_alone = s.loc[leave, ["staff_id", "tier"]].join(
        u.loc[leave, cols].add_prefix("uplift_") if cols else pd.DataFrame(index=s.index[leave])
    )
    leave_alone["why"] = why_leave[leave]
    return leave, leave_alone


def _score_by_uplift(
    s: pd.DataFrame, uplift: pd.DataFrame, verdicts: dict, kinds: list[str], costs: dict, margin: float, t: dict
) -> tuple[pd.DataFrame, str]:
    """Score = uplift × margin × value − deletion risk − cost, best action per friend; keep positive scores."""
    s = s.copy()
    u = uplift.reindex(s.index)
    s["value"] = u["value"]
    risk = pd.Series(0.0, index=s.index)
    dv = verdicts.get("deletion")
    if "deletion_value" in u.columns and dv is not None:
        p_del = u["deletion"] if dv.use == "model" and "deletion" in u.columns else dv.average_effect
        risk = (p_del * u["deletion_value"]).fillna(0.0).clip(lower=0.0)  # a predicted fall earns nothing
    if "deletion" in u.columns:
        s["uplift_deletion"] = u["deletion"]
    s["deletion_risk"] = risk
    inc = pd.DataFrame({k: u[k] * margin * u["value"] - risk - costs.get(k, 0.0) for k in kinds}, index=s.index)
    for k in kinds:
        s[f"uplift_{k}"] = u[k]
        s[f"incremental_value_{k}"] = inc[k]
    s["score"] = inc.max(axis=1)
    s["chosen"] = inc.fillna(-np.inf).idxmax(axis=1)
    s = s[s["score"].notna() & (s["score"] > 0)]
    return s, t["why_model"].format(v=_verdicts_named(verdicts, kinds, t))


def _verdicts_named(verdicts: dict, kinds: list[str], t: dict) -> str:
    """Each test's verdict after the name of what it tested (两个测试的结论各自说明是哪一个)."""
    zh = t["sep"] == "；"  # each verdict is a sentence of its own, ending in its full stop
    colon, joiner = ("：", "") if zh else (": ", " ")
    return joiner.join(f"{t['test_names'][k]}{colon}{verdicts[k].message}" for k in kinds)


def _score_by_due(
    s: pd.DataFrame, due: pd.DataFrame, verdicts: dict, horizon_days: int, t: dict
) -> tuple[pd.DataFrame, str]:
    """Score = the due score (no uplift model beats the average effect, or none was tested), with the reason."""
    s = s.copy()
    d = due.reindex(s.index)
    for c in ("p_alive", "p_due", "usual_gap_days", "days_since_last_purchase", "due_score"):
        s[c] = d[c]
    s["score"] = d["due_score"]
    s["chosen"] = "message"
    s = s[s["score"].notna()]
    tested = [k for k in _UPLIFT_ACTIONS if k in verdicts]
    tested_verdicts = [_verdicts_named(verdicts, tested, t)] if tested else []
    measured = due.attrs.get("measured", False)  # the formula's P(alive) is not identified: not its sentence
    why = (
        t["why_average"].format(v=" ".join(tested_verdicts))
        if tested_verdicts
        else t["why_no_model_measured" if measured else "why_no_model"].format(h=horizon_days)
    )
    if measured:
        why += t["why_measured"].format(h=horizon_days, cut=f"{due.attrs['cutoff']:%Y-%m-%d}", n=due.attrs["customers"])
    return s, why


def _assign_actions(s: pd.DataFrame, private_chats: int, lang: str) -> pd.DataFrame:
    """Set the action: a private chat for the first ``private_chats`` rows given a message, a broadcast after."""
    is_msg = s["chosen"] == "message"
    chat_rank = is_msg.cumsum().where(is_msg)
    s["action_key"] = np.where(
        is_msg, np.where(chat_rank <= private_chats, "private_chat", "group_broadcast"), s["chosen"]
    )
    s["action"] = s["action_key"].map(ACTIONS[lang])
    return s


def _why_now(r, t: dict[str, str], kind: str, kinds: list[str], horizon_days: int, currency: str = "¥") -> str:
    parts = []
    if kind == "incremental_value":
        best = r.chosen
        u = getattr(r, f"uplift_{best}")
        parts.append(
            t["uplift"].format(
                a=t["action_names"][best], u=100 * u, iv=getattr(r, f"incremental_value_{best}"), cur=currency
            )
        )
        others = [k for k in kinds if k != best and pd.notna(getattr(r, f"uplift_{k}"))]
        if others:
            parts.append(
                t["beats"].format(
                    o=", ".join(
                        f"{t['action_names'][k]} {100 * getattr(r, f'uplift_{k}'):+.1f}{t['pp']}" for k in others
                    )
                )
            )
    else:
        due = "due" if pd.notna(r.p_alive) else "due_measured"  # no P(alive) to show: the measured share
        parts.append(
            t[due].format(g=r.usual_gap_days, s=r.days_since_last_purchase, pa=r.p_alive, pd=r.p_due, h=horizon_days)
        )
    if kind == "incremental_value":  # the due sentence already says how long ago the last purchase was
        d = getattr(r, "days_since_last_order", np.nan)  # whole days elapsed, as the exported column counts them
        parts.append(t["last_order"].format(d=np.floor(d)) if pd.notna(d) else t["never_ordered"])
    m = getattr(r, "days_since_last_message", None)
    if m is not None:
        parts.append(t["last_message"].format(d=np.floor(m)) if pd.notna(m) else t["never_messaged"])
    k = getattr(r, "messages_this_month", None)
    if k is not None and k > 0:
        parts.append(t["month"].format(m=k))
    return t["sep"].join(parts)


# ------------------------------------------------------------------------------------- holdouts → models
#: Pre-treatment features of the uplift models (:func:`helpers.features.pretreatment_features` columns; the
#: touch columns only when the export has touches).
FEATURES = (
    "channel",
    "tenure_days",
    "orders_before",
    "gmv_before",
    "orders_recent",
    "days_since_last_order",
    "touches_recent",
    "private_chat_recent",
    "group_broadcast_recent",
    "coupon_recent",
    "days_since_last_touch",
)

#: Who a randomised test was run among, by the share of its customers who had ordered before assignment.
POPULATIONS = ("buyers", "never_buyers", "all")


def _population(buyer_share: float) -> str:
    if buyer_share >= 0.95:
        return "buyers"
    if buyer_share <= 0.05:
        return "never_buyers"
    return "all"


def holdout_tests(
    features: pd.DataFrame, campaigns: pd.DataFrame, which: str = "auto", min_per_arm: int = 50
) -> pd.DataFrame:
    """List the randomised tests in ``assignments``: arms, whom they were run among, the action, the cost per treated.

    A model trained on a test scores only customers like those it was tested on: a win-back message tested among
    past buyers says nothing about people who never bought, a first-order coupon tested among never-buyers nothing
    about buyers. ``population`` records which: ``buyers`` (≥ 95 % had ordered before assignment), ``never_buyers``
    (≤ 5 %) or ``all``.

    Parameters
    ----------
    features : DataFrame
        :func:`helpers.features.pretreatment_features` of every assigned customer (``campaign_id``, ``arm``,
        ``orders_before``).
    campaigns : DataFrame
        The campaigns table (``campaign_id``, ``kind``, ``start``, ``end``, optionally ``cost``).
    which : str
        ``"auto"`` (every campaign with assignments) or campaign ids separated by commas.
    min_per_arm : int
        A test with fewer treated or control customers is listed but not ``usable``.

    Returns
    -------
    DataFrame
        ``campaign_id``, ``kind``, ``action`` (``coupon`` for coupon campaigns, else ``message``), ``start``,
        ``end``, ``n_treated``, ``n_control``, ``buyer_share``, ``population``, ``cost_per_treated`` (campaign cost
        / treated; 0 without a cost), ``usable``.

    Examples
    --------
    >>> f = pd.DataFrame({"campaign_id": ["m"] * 4, "arm": ["treatment", "control"] * 2, "orders_before": [1, 2, 1, 3]})
    >>> c = pd.DataFrame({"campaign_id": ["m"], "kind": ["message"], "start": ["2025-11-10"], "end": ["2025-11-23"],
    ...                   "cost": [4.0]})
    >>> t = holdout_tests(f, c, min_per_arm=2).iloc[0]
    >>> t["population"], t["action"], float(t["cost_per_treated"]), bool(t["usable"])
    ('buyers', 'message', 2.0, True)
    """
    f = features
    ids = list(dict.fromkeys(f["campaign_id"])) if which.strip().lower() == "auto" else None
    if ids is None:
        ids = [x.strip() for x in which.split(",") if x.strip()]
        unknown = [x for x in ids if x not in set(f["campaign_id"])]
        if unknown:
            raise ValueError(f"holdout_campaigns: no assignments for {', '.join(unknown)}")
    camp = campaigns.set_index("campaign_id")
    rows = []
    for cid in ids:
        g = f[f["campaign_id"] == cid]
        nt, nc = int((g["arm"] == "treatment").sum()), int((g["arm"] == "control").sum())
        kind = str(camp.at[cid, "kind"]) if cid in camp.index and "kind" in camp.columns else ""
        cost = float(camp.at[cid, "cost"]) if cid in camp.index and "cost" in camp.columns else float("nan")
        share = float((g["orders_before"] > 0).mean()) if len(g) else float("nan")
        rows.append(
            {
                "campaign_id": cid,
                "name": str(camp.at[cid, "name"]) if cid in camp.index and "name" in camp.columns else cid,
                "kind": kind,
                "action": "coupon" if kind == "coupon" else "message",
                "start": camp.at[cid, "start"] if cid in camp.index else pd.NaT,
                "end": camp.at[cid, "end"] if cid in camp.index else pd.NaT,
                "n_treated": nt,
                "n_control": nc,
                "buyer_share": share,
                "population": _population(share),
                "cost_per_treated": cost / nt if nt and np.isfinite(cost) else 0.0,
                "usable": min(nt, nc) >= min_per_arm,
            }
        )
    cols = ["campaign_id", "name", "kind", "action", "start", "end", "n_treated", "n_control", "buyer_share",
            "population", "cost_per_treated", "usable"]  # fmt: skip
    return pd.DataFrame(rows, columns=cols)


def holdout_data(engine, which: str = "auto", deletion_days: int = 30) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """Read the randomised tests of a clean dataset: :func:`holdout_tests` and a :func:`holdout_frame` per usable test.

    Parameters
    ----------
    engine : helpers.engine.Engine
        Connection to the clean tables (``assignments`` and ``campaigns`` optional: without them, no tests).
    which : str
        ``holdout_campaigns``: ``"auto"`` or campaign ids separated by commas.
    deletion_days : int
        A deletion counts up to this many days after a test's last day.

    Returns
    -------
    (DataFrame, dict)
        The tests, and the frames of the usable ones by campaign id.
    """
    from helpers import features as F

    if not (engine.has("assignments") and engine.has("campaigns")):
        return holdout_tests(pd.DataFrame(columns=["campaign_id", "arm", "orders_before"]), pd.DataFrame(
            columns=["campaign_id"]), which), {}  # fmt: skip
    a, c, k, o = (engine.table(n) for n in ("assignments", "campaigns", "contacts", "orders"))
    touches = engine.table("touches") if engine.has("touches") else None
    feats = engine.to_pandas(F.pretreatment_features(a, c, k, o, touches))
    tests = holdout_tests(feats, engine.to_pandas(c), which)
    outcomes = engine.to_pandas(F.campaign_window_outcomes(o, a, c))
    deletions = engine.to_pandas(F.campaign_window_deletions(a, c, k, extra_days=deletion_days))
    frames = {t: holdout_frame(feats, outcomes, deletions, t) for t in tests.loc[tests["usable"], "campaign_id"]}
    return tests, frames


def read_tiers(path) -> pd.Series | None:
    """Tier per ``user_id`` from ``exports/tiers.csv`` of notebook 02, or ``None`` when 02 has not run."""
    from pathlib import Path

    from helpers.exports import read_csv_ids_as_text

    if not Path(path).exists():
        return None
    t = read_csv_ids_as_text(path)
    return t.set_index("user_id")["tier"] if {"user_id", "tier"} <= set(t.columns) else None


def holdout_frame(
    features: pd.DataFrame, outcomes: pd.DataFrame, deletions: pd.DataFrame, campaign_id: str
) -> pd.DataFrame:
    """One row per customer of one randomised test: pre-treatment features, arm, order and deletion outcomes.

    Raises :class:`helpers.uplift.LeakageError` when a feature timestamp is not strictly before the assignment.

    Parameters
    ----------
    features : DataFrame
        :func:`helpers.features.pretreatment_features`.
    outcomes : DataFrame
        :func:`helpers.features.campaign_window_outcomes` (``converted``).
    deletions : DataFrame
        :func:`helpers.features.campaign_window_deletions` (``deleted``).
    campaign_id : str
        The test.

    Returns
    -------
    DataFrame
        ``user_id``, the :data:`FEATURES` present, ``treatment`` (0/1), ``converted`` and ``deleted`` (0/1).
    """
    from helpers.uplift import check_pretreatment

    keys = ["campaign_id", "user_id"]
    f = features[features["campaign_id"] == campaign_id]
    check_pretreatment(f)
    m = f.merge(outcomes[[*keys, "converted"]], on=keys, how="left").merge(
        deletions[[*keys, "deleted"]], on=keys, how="left"
    )
    cols = [c for c in FEATURES if c in m.columns]
    out = m[["user_id", *cols]].reset_index(drop=True)
    out["treatment"] = (m["arm"] == "treatment").astype(int).to_numpy()
    out["converted"] = m["converted"].fillna(False).astype(int).to_numpy()
    out["deleted"] = m["deleted"].fillna(False).astype(int).to_numpy()
    return out


@dataclass
class HoldoutModels:
    """The uplift models of one randomised test: orders (several models compared) and deletion (the chosen one)."""

    test: dict
    features: list
    order: object  # helpers.uplift.UpliftComparison
    deletion: object | None  # helpers.uplift.CrossFittedUplift, None when nobody deleted in one arm
    deletion_evaluation: object | None  # helpers.uplift.UpliftEvaluation
    rows: np.ndarray | None = None  # positions of the customers the models used (None: every row, in order)

    @property
    def customers_used(self) -> int:
        """Tested customers the models used (fewer than the test's when it was sampled down)."""
        return len(self.order.model.oof_)

    @property
    def verdicts(self) -> dict:
        """Verdicts for :func:`contact_list`: the action's (order) and ``deletion``'s."""
        out = {self.test["action"]: self.order.evaluation.verdict}
        if self.deletion_evaluation is not None:
            out["deletion"] = self.deletion_evaluation.verdict
        return out


def fit_holdout(
    frame: pd.DataFrame,
    test: dict | pd.Series,
    chosen: str = "x_learner_hgb",
    folds: int = 5,
    random_state: int = 0,
    alpha: float = 0.05,
    k: float = 0.3,
    lang: str = "zh",
    max_customers: int | None = 50_000,
) -> HoldoutModels:
    """Cross-fit the uplift models of one test: every model on orders, the chosen model on deletion.

    Parameters
    ----------
    frame : DataFrame
        :func:`holdout_frame` of the test.
    test : dict or Series
        Its row of :func:`holdout_tests`.
    chosen : str
        The model that drives the list (:data:`helpers.uplift.MODELS`), chosen in advance.
    folds, random_state, alpha, k, lang
        As in :func:`helpers.uplift.compare_models`.
    max_customers : int or None
        A larger test is sampled down to this many customers, stratified by arm × order × deletion (every cell
        keeps its share), before cross-fitting. 50 000 is about the size of Hillstrom's e-mail test (42 693), on
        which the models' Qini is measured to ±0.03 (bootstrap, README); at 1 M contacts the tests hold several
        hundred thousand customers and cross-fitting all of them costs minutes for little precision that the
        list's decision needs. ``None``: use every customer.

    Returns
    -------
    HoldoutModels
        ``customers_used`` says how many tested customers the models saw.
    """
    from helpers import uplift as U

    rows = _stratified_sample(frame, max_customers, random_state)
    frame = frame if rows is None else frame.iloc[rows].reset_index(drop=True)
    # a feature constant within the test (days since the last order among never-buyers) carries nothing
    feats = [c for c in FEATURES if c in frame.columns and frame[c].nunique(dropna=True) > 1]
    X, w = frame[feats], frame["treatment"]
    order = U.compare_models(X, w, frame["converted"], chosen, None, folds, random_state, k, alpha, lang)
    deletion = ev = None
    y = frame["deleted"].to_numpy()
    cells = np.bincount(w.to_numpy() * 2 + y, minlength=4)
    if cells.min() >= folds:
        deletion = U.CrossFittedUplift(U.make_model(chosen, random_state), folds, random_state).fit(X, w, y)
        ev = U.evaluate(y, w, deletion.oof_, k=k, alpha=alpha, random_state=random_state, lang=lang)
    return HoldoutModels(dict(test), feats, order, deletion, ev, rows)


def _stratified_sample(frame: pd.DataFrame, n: int | None, seed: int) -> np.ndarray | None:
    """Positions of ``n`` rows of ``frame`` keeping the share of every arm × converted × deleted cell (``None``: all).

    Examples
    --------
    >>> f = pd.DataFrame({"treatment": [0, 1] * 500, "converted": [0] * 900 + [1] * 100, "deleted": 0})
    >>> s = f.iloc[_stratified_sample(f, 200, 0)]
    >>> len(s), int(s["converted"].sum()), int(s["treatment"].sum())
    (200, 20, 100)
    """
    if n is None or len(frame) <= n:
        return None
    from helpers.uplift import stratified_split

    _, keep = stratified_split(frame["treatment"], frame["converted"], n, seed, also=frame["deleted"])
    return keep


def model_table(holdouts: list[HoldoutModels], lang: str = "zh") -> pd.DataFrame:
    """One row per test × model (orders) and per test (deletion, chosen model): Qini, AUUC, uplift@k, p, verdict.

    Returns
    -------
    DataFrame
        ``campaign_id``, ``outcome`` (``order`` / ``deletion``), ``model`` (display name), ``chosen``, ``qini``,
        ``auuc``, ``uplift_at_k``, ``p_value``, ``verdict`` (``model`` / ``average``).
    """
    from helpers.uplift import MODEL_NAMES

    rows = []
    for h in holdouts:
        t = h.order.table.assign(campaign_id=h.test["campaign_id"], outcome="order")
        rows.append(t)
        if h.deletion_evaluation is not None:
            e = h.deletion_evaluation
            rows.append(
                pd.DataFrame(
                    [
                        {
                            "campaign_id": h.test["campaign_id"],
                            "outcome": "deletion",
                            "model": h.order.chosen,
                            "chosen": True,
                            "qini": e.qini,
                            "auuc": e.auuc,
                            "uplift_at_k": e.uplift_at_k,
                            "p_value": e.verdict.qini_p_value,
                            "verdict": e.verdict.use,
                        }
                    ]
                )
            )
    cols = ["campaign_id", "outcome", "model", "chosen", "qini", "auuc", "uplift_at_k", "p_value", "verdict"]
    if not rows:
        return pd.DataFrame(columns=cols)
    out = pd.concat(rows, ignore_index=True)[cols]
    out["model"] = out["model"].map(lambda m: MODEL_NAMES.get(m, {}).get(lang, m))
    return out


# ------------------------------------------------------------------------------------------- values today
def buyer_values(
    summary: pd.DataFrame,
    horizon_days: int = 60,
    margin: float = 0.4,
    model: object | None = None,
    value_model: object | None = None,
) -> pd.DataFrame:
    """Per buyer: P(alive), expected orders and value in the next ``horizon_days``, order value, profit at risk.

    The purchase model gives P(alive) and the expected purchase occasions in ``H = horizon_days`` days; the value
    model the expected value of one occasion (``order_value``). Pass the models 03 chose on the holdout
    (``model``: any fitted purchase model of :mod:`helpers.clv`; ``value_model``: Gamma-Gamma, a spend regression,
    a Series or a number); without them BG/NBD and Gamma-Gamma are fitted here (the population mean for
    one-time buyers). ``value_lost`` is the gross
    profit of the expected purchases, ``margin × expected_orders × order_value``: what a deletion puts at risk (a
    customer who deletes us is not reached again; ignoring purchases they still make elsewhere, an upper bound).

    Parameters
    ----------
    summary : DataFrame
        :func:`helpers.repurchase.summarize` with ``unit="D"`` (``frequency``, ``recency``, ``T``,
        ``monetary_value``), indexed by ``user_id``.
    horizon_days : int
        ``H``.
    margin : float
        Gross margin.
    model, value_model : optional
        Fitted models to use (in the summary's unit); fitted here when omitted.

    Returns
    -------
    DataFrame
        ``p_alive``, ``expected_orders``, ``order_value``, ``expected_value``, ``value_lost``; ``attrs["models"]``
        holds the purchase and value models used.
    """
    from helpers.clv import UNITS, BetaGeo, GammaGamma, average_value

    bgf, ggf = model, value_model
    if bgf is None:
        try:
            bgf = BetaGeo().fit(summary)
        except ValueError:  # e.g. nobody bought twice: no repeat process to model
            bgf = None
    if ggf is None:
        try:
            ggf = GammaGamma().fit(summary)
        except ValueError:  # too few repeat buyers: the customer's own average (the overall mean for one-timers)
            ggf = None
    if ggf is not None:
        value = pd.Series(average_value(ggf, summary), index=summary.index)
    else:
        value = summary["monetary_value"].where(summary["frequency"] > 0)
        value = value.fillna(value.mean() if value.notna().any() else 0.0)
    # without a purchase model: no repeat purchase was observed, so none is expected (and P(alive) is unknown)
    units = horizon_days / UNITS[getattr(bgf, "unit_", "D")]
    eo = bgf.expected_purchases(summary, units) if bgf is not None else pd.Series(0.0, index=summary.index)
    out = pd.DataFrame(
        {
            "p_alive": bgf.p_alive(summary) if bgf is not None else np.nan,
            "expected_orders": eo,
            "order_value": value,
            "expected_value": eo * value,
        },
        index=summary.index,
    )
    out["value_lost"] = margin * out["expected_value"]
    out.attrs.update(models={"purchase": bgf, "value": ggf}, horizon_days=horizon_days, margin=margin)
    return out


def write_buyer_values(values: pd.DataFrame, path: str | Path, model_name: str, value_name: str) -> Path:
    """Save :func:`buyer_values` for 06 at ``path`` (03 writes ``artifacts/buyer_values.parquet``).

    The models that produced it and the horizon and margin it used are written beside the numbers, so 06 values
    buyers with the purchase and value models 03 chose on its holdout, and says which. The file appears whole (it
    is written beside and renamed): the report runner starts 06 as soon as it exists (:data:`helpers.run.EARLY`).
    """
    path = Path(path)
    out = values.rename_axis("user_id").reset_index()
    out = out.assign(model=model_name, value_model=value_name, horizon_days=values.attrs["horizon_days"],
                     margin=values.attrs["margin"])  # fmt: skip
    out.attrs = {}  # the fitted models stay in memory; their names say which they were
    out["user_id"] = out["user_id"].astype(str)
    with written_whole(path) as partial:
        out.to_parquet(partial, index=False)
    return path


_SAVED_COLUMNS = ["model", "value_model", "horizon_days", "margin"]


def read_buyer_values(path: str | Path, summary: pd.DataFrame, horizon_days: int, margin: float) -> pd.DataFrame | None:
    """Read 03's buyer values (:func:`write_buyer_values`) at ``path`` for the buyers of ``summary``.

    ``None`` when 03 did not write one, or wrote it for another horizon or margin (then 06 values buyers itself).
    Buyers 03 did not value raise (none when both ran on the same data: the two notebooks must agree on who
    bought). ``attrs["source"]`` holds the model names.
    """
    path = Path(path)
    if not path.exists():
        return None
    saved = pd.read_parquet(path).set_index("user_id")
    if len(saved) and (saved["horizon_days"].iloc[0] != horizon_days or saved["margin"].iloc[0] != margin):
        return None
    missing = summary.index.difference(saved.index)
    if len(missing):
        raise ValueError(f"{path} has no value for {len(missing):,} buyers (e.g. {missing[0]}): rerun 03 on this data")
    names = saved[_SAVED_COLUMNS[:2]].iloc[0] if len(saved) else pd.Series({"model": "", "value_model": ""})
    out = saved.loc[summary.index].drop(columns=_SAVED_COLUMNS)
    out.attrs.update(source={k: str(v) for k, v in names.items()}, horizon_days=horizon_days, margin=margin)
    return out


def chosen_buyer_values(path: str | Path, summary: pd.DataFrame, horizon_days: int, margin: float) -> pd.DataFrame:
    """Return 03's buyer values when it wrote them for this horizon and margin, else fit them here.

    :func:`read_buyer_values`, or :func:`buyer_values` with BG/NBD × Gamma-Gamma; ``attrs["source"]`` is ``None``
    in the second case.
    """
    values = read_buyer_values(path, summary, horizon_days, margin)
    if values is None:
        values = buyer_values(summary, horizon_days, margin)
        values.attrs["source"] = None
    return values


def values_sentence(values: pd.DataFrame, lang: str = "zh") -> str:
    """Say which models valued the buyers (03's choice, or BG/NBD × Gamma-Gamma fitted in 06)."""
    src, h = values.attrs.get("source"), values.attrs["horizon_days"]
    key = "values_from_03" if src else "values_here"
    return TEXT[key][lang].format(h=h, **(src or {}))


def score_today(
    snapshot: pd.DataFrame, holdouts: list[HoldoutModels], values: pd.DataFrame, new_order_value: float | None = None
) -> tuple[pd.DataFrame, dict]:
    """Predict today's uplift of each contact with the models of the test run among customers like them.

    A buyer is scored by tests among buyers (or all), a never-buyer by tests among never-buyers (or all): a model
    never scores customers unlike those it was tested on. The deletion prediction and verdict come from the
    first test (in :func:`holdout_tests` order) whose deletion verdict is ``"model"`` (else the first with a
    deletion model), and only for customers in that test's population.

    Parameters
    ----------
    snapshot : DataFrame
        :func:`helpers.features.snapshot_features` at the snapshot (``user_id``, the features).
    holdouts : list of HoldoutModels
        :func:`fit_holdout` per usable test.
    values : DataFrame
        :func:`buyer_values` per buyer (``order_value``, ``value_lost``).
    new_order_value : float, optional
        Order value of a never-buyer (default: the median ``order_value`` of buyers).

    Returns
    -------
    (DataFrame or None, dict)
        ``(None, {})`` without tests; else per ``user_id``: one column per tested action (``message``,
        ``coupon``), ``deletion``, ``value``,
        ``deletion_value``, ``population``; and the verdicts for :func:`contact_list`.
    """
    if not holdouts:
        return None, {}
    snap = snapshot.set_index("user_id")
    buyer = snap["orders_before"] > 0
    pop = pd.Series(np.where(buyer, "buyers", "never_buyers"), index=snap.index)
    nov = float(values["order_value"].median()) if new_order_value is None else new_order_value
    out = pd.DataFrame(index=snap.index)
    out["population"] = pop
    out["value"] = values["order_value"].reindex(snap.index).fillna(nov)
    out["deletion_value"] = values["value_lost"].reindex(snap.index)
    verdicts: dict = {}
    dels = [h for h in holdouts if h.deletion is not None]
    dels.sort(key=lambda h: h.deletion_evaluation.verdict.use != "model")
    for h in holdouts:
        who = pop.index if h.test["population"] == "all" else pop.index[pop == h.test["population"]]
        a = h.test["action"]
        if a in verdicts:  # a second test of the same action: the first one rules
            continue
        out[a] = np.nan
        if len(who):
            out.loc[who, a] = h.order.model.predict_uplift(snap.loc[who, h.features]).to_numpy()
        verdicts[a] = h.order.evaluation.verdict
        if dels and h is dels[0]:
            out["deletion"] = np.nan
            if len(who):
                out.loc[who, "deletion"] = h.deletion.predict_uplift(snap.loc[who, h.features]).to_numpy()
            verdicts["deletion"] = h.deletion_evaluation.verdict
    return out, verdicts


# ---------------------------------------------------------------------------------- old list, exports, truth
def old_list(values: pd.DataFrame, state: pd.DataFrame, touches_last_7d: pd.Series, top_n: int = 200) -> pd.DataFrame:
    """Rebuild the list of old (:func:`helpers.repurchase.next_best_contacts`): friends by P(alive) × value.

    It ranks "will buy", not "will buy because we contacted them": shown beside the new list to measure the
    difference.

    Returns
    -------
    DataFrame
        ``user_id``, ``score`` and its inputs, best first.
    """
    from helpers.repurchase import next_best_contacts

    st = _by_user(state)
    scores = values[["p_alive", "expected_orders", "expected_value"]].assign(
        days_since_last_order=st["days_since_last_order"].reindex(values.index),
        touches_last_7d=touches_last_7d.reindex(values.index).fillna(0),
        is_friend=st["is_friend"].reindex(values.index).fillna(False).astype(bool),
    )
    return next_best_contacts(scores, top_n=top_n)


def compare_lists(
    lists: dict[str, pd.Series], state: pd.DataFrame, planted: pd.Series | None = None, days: float = 7
) -> pd.DataFrame:
    """Describe contact lists side by side: who they name, how recently those ordered or were messaged.

    Parameters
    ----------
    lists : dict of Series
        List name → the listed ``user_id`` values.
    state : DataFrame
        :func:`helpers.features.contact_state` (``days_since_last_order``, ``days_since_last_message``).
    planted : Series, optional
        Planted uplift type per ``user_id`` (simulated data): adds the share of planted persuadables.
    days : float
        Window of "ordered / messaged in the last N days" (the cool-down).

    Returns
    -------
    DataFrame
        Indexed by list: ``listed``, ``ordered_recently`` and ``messaged_recently`` (shares of the listed, in the
        last ``days``), ``median_days_since_last_order`` and, with ``planted``, ``persuadable_share``.

    Examples
    --------
    >>> st = pd.DataFrame({"user_id": ["a", "b", "c"], "days_since_last_order": [2.0, 40.0, 90.0],
    ...                    "days_since_last_message": [1.0, None, 30.0]})
    >>> compare_lists({"new": pd.Series(["b", "c"])}, st).loc["new"].tolist()
    [2.0, 0.0, 0.0, 65.0]
    """
    st = _by_user(state)
    rows = {}
    for name, ids in lists.items():
        s = st.reindex(pd.Index(ids))
        row = {
            "listed": float(len(s)),
            "ordered_recently": float((s["days_since_last_order"] < days).mean()) if len(s) else np.nan,
            "messaged_recently": (
                float((s["days_since_last_message"] < days).mean())
                if "days_since_last_message" in s.columns and len(s)
                else np.nan
            ),
            "median_days_since_last_order": float(s["days_since_last_order"].median()),
        }
        if planted is not None:
            row["persuadable_share"] = float((planted.reindex(s.index) == "persuadable").mean()) if len(s) else np.nan
        rows[name] = row
    return pd.DataFrame(rows).T


#: Columns of ``exports/contact_list.csv``.
EXPORT_COLUMNS = (
    "rank",
    "user_id",
    "staff_id",
    "tier",
    "action_key",
    "action",
    "score",
    "score_kind",
    "uplift_order",
    "uplift_deletion",
    "order_value",
    "due_score",
    "days_since_last_order",
    "days_since_last_message",
    "messages_this_month",
    "why_now",
)


def _tier_labels(tier: pd.Series, lang: str) -> pd.Series:
    """Tier labels exactly as ``exports/tiers.csv`` writes them, so the two files join on tier; missing: not measured.

    Pages (``L.show(..., kinds={"tier": "tier"})``) and the staff workbook (:data:`helpers.exports.LABEL_COLUMNS`)
    show the report language's half of a bilingual label; the CSV keeps the label itself (it read 潜力 here and
    潜力 potential in tiers.csv, so a join on tier across the two files found nothing).

    Examples
    --------
    >>> _tier_labels(pd.Series(["潜力 potential", None]), "zh").tolist()
    ['潜力 potential', '未测量']
    """
    from helpers.definitions import NOT_MEASURED

    return tier.astype(object).where(tier.notna(), NOT_MEASURED[lang])


def export_frame(cl: ContactList, lang: str = "zh") -> pd.DataFrame:
    """Return the contact list as exported (:data:`EXPORT_COLUMNS`): rank, owner, tier, action, score, inputs.

    ``uplift_order`` is the predicted uplift of the suggested action (empty when ranked by the due score);
    ``tier`` reads *not measured* when no tiers were given; days since the last order or message are whole days
    (8.6 days is 8, as "why now" counts them; a cool-down of whole days leaves the same people out either way).

    Examples
    --------
    >>> c = pd.DataFrame({"user_id": ["a"], "staff_id": ["s1"], "tier": [None], "score": [0.4],
    ...                   "action_key": ["private_chat"], "action": ["私聊"], "why_now": ["…"]})
    >>> export_frame(ContactList(c, pd.DataFrame(), {"score": "due"}))[["tier", "score_kind"]].iloc[0].tolist()
    ['未测量', 'due']
    """
    from helpers.definitions import NOT_MEASURED

    c = cl.contacts.copy()
    kind = cl.decision.get("score", "")
    out = pd.DataFrame({"rank": np.arange(1, len(c) + 1), "user_id": c["user_id"]})
    for col in ("staff_id", "action_key", "action", "score", "why_now"):
        out[col] = c[col] if col in c.columns else np.nan
    out["tier"] = _tier_labels(c["tier"], lang) if "tier" in c.columns else NOT_MEASURED[lang]
    out["score_kind"] = kind
    chosen = c["action_key"].replace({"private_chat": "message", "group_broadcast": "message"})
    if kind == "incremental_value":
        out["uplift_order"] = [c.at[i, f"uplift_{a}"] for i, a in zip(c.index, chosen, strict=True)]
    else:
        out["uplift_order"] = np.nan
    for src, dst in (("uplift_deletion", "uplift_deletion"), ("value", "order_value"), ("due_score", "due_score")):
        out[dst] = c[src] if src in c.columns else np.nan
    for col in ("days_since_last_order", "days_since_last_message", "messages_this_month"):
        out[col] = c[col] if col in c.columns else np.nan
    for col in ("days_since_last_order", "days_since_last_message"):  # whole days, as "why now" counts them
        out[col] = np.floor(out[col].astype(float))
    return out[list(EXPORT_COLUMNS)]


def leave_alone_frame(cl: ContactList, lang: str = "zh") -> pd.DataFrame:
    """Return the "leave alone" list as exported: ``user_id``, ``staff_id``, ``tier``, predicted uplifts, ``why``."""
    out = cl.leave_alone.copy()
    if "tier" in out.columns:
        out["tier"] = _tier_labels(out["tier"], lang)
    return out.rename(columns={"uplift_message": "uplift_order"})


def planted_figures(
    holdout: HoldoutModels, frame: pd.DataFrame, truth_users: pd.DataFrame, k: float = 0.3
) -> dict[str, float]:
    """Compare a test's cross-fitted predictions with the planted uplift (simulated data only).

    Returns
    -------
    dict
        ``qini_model`` (out-of-fold Qini on orders), ``qini_planted`` (Qini of the planted ``tau_order`` on the same
        customers), ``qini_ratio``; ``persuadable_lift`` (share of planted persuadables in the top ``k`` by
        predicted order uplift ÷ their share overall); ``dnd_lift`` (the same for do-not-disturbs in the top ``k`` by
        predicted deletion uplift; NaN without a deletion model).
    """
    from helpers.uplift import qini_coefficient

    if holdout.rows is not None:  # the models saw a sample of the test: compare on the same customers
        frame = frame.iloc[holdout.rows]
    tu = truth_users.set_index("user_id").reindex(frame["user_id"])
    kind = tu["uplift_type"].to_numpy()
    y, w = frame["converted"].to_numpy(), frame["treatment"].to_numpy()
    oof = holdout.order.model.oof_.to_numpy()
    qm, qp = qini_coefficient(y, w, oof), qini_coefficient(y, w, tu["tau_order"].fillna(0).to_numpy())

    def lift(score: np.ndarray, target: str) -> float:
        top = score >= np.quantile(score, 1 - k)
        return float((kind[top] == target).mean() / (kind == target).mean())

    dnd = lift(holdout.deletion.oof_.to_numpy(), "do_not_disturb") if holdout.deletion is not None else np.nan
    return {
        "qini_model": qm,
        "qini_planted": qp,
        "qini_ratio": qm / qp,
        "persuadable_lift": lift(oof, "persuadable"),
        "dnd_lift": dnd,
    }


def write_artifact(path, cl: ContactList, holdouts: list[HoldoutModels], tests: pd.DataFrame, comparison: pd.DataFrame):
    """Write :func:`artifact` as JSON (``artifacts/targeting.json``) and return the path."""
    import json
    from pathlib import Path

    p = Path(path)
    p.write_text(json.dumps(artifact(cl, holdouts, tests, comparison), ensure_ascii=False, indent=1), encoding="utf-8")
    return p


def artifact(cl: ContactList, holdouts: list[HoldoutModels], tests: pd.DataFrame, comparison: pd.DataFrame) -> dict:
    """Machine data for the summary notebook (``artifacts/targeting.json``): the score used, tests, models, counts."""

    def clean(v):
        if isinstance(v, dict):
            return {str(k): clean(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [clean(x) for x in v]
        if isinstance(v, (np.floating, float)):
            return None if not np.isfinite(v) else float(v)
        if isinstance(v, (np.integer,)):
            return int(v)
        if isinstance(v, (np.bool_,)):
            return bool(v)
        if isinstance(v, pd.Timestamp):
            return f"{v:%Y-%m-%d}"
        return v

    return clean(
        {
            "score_kind": cl.decision.get("score"),
            "actions": cl.decision.get("actions"),
            "tests": tests.to_dict("records"),
            "models": [
                {"campaign_id": h.test["campaign_id"], "model": h.order.chosen, **h.order.evaluation.summary()}
                for h in holdouts
            ],
            "verdicts": cl.decision.get("verdicts"),
            "listed": len(cl.contacts),
            "leave_alone": len(cl.leave_alone) if cl.leave_alone_measured else None,
            "funnel": cl.decision.get("funnel"),
            "parameters": cl.decision.get("parameters"),
            "lists": comparison.to_dict("index"),
        }
    )


# -------------------------------------------------------------------------------------- page sentences
#: Result sentences of notebook 06 (``L.text(TEXT, key, …)``).
TEXT: dict[str, dict[str, str]] = {
    "values_from_03": {
        "zh": "客户价值沿用 03 在留出期选出的模型：购买次数 {model}，客单价 {value_model}（未来 {h} 天）。",
        "en": "Customer values use the models 03 chose on its holdout: purchases {model}, order value {value_model} "
        "(next {h} days).",
    },
    "values_here": {
        "zh": "没有 03 的客户价值（artifacts/buyer_values.parquet），这里用 BG/NBD × Gamma-Gamma 估计（未来 {h} 天）。",
        "en": "No customer values from 03 (artifacts/buyer_values.parquet): estimated here with BG/NBD × Gamma-Gamma "
        "(next {h} days).",
    },
    "no_tests": {
        "zh": "没有可用的随机实验（{why}）：个体增量未测量，名单按“到期”得分排序。",
        "en": (
            "No usable randomised test ({why}): individual uplift is not measured; the list is ranked by the due score."
        ),
    },
    "no_assignments": {"zh": "没有实验分组表", "en": "no assignments table"},
    "too_small": {"zh": "每组至少需要 50 人", "en": "each arm needs at least 50 customers"},
    "scope": {
        "zh": "{test}：在{pop}中随机分组（实验组 {nt:,} 人，对照组 {nc:,} 人）→ 它的模型只给{pop}打分。",
        "en": "{test}: randomised among {pop} ({nt:,} treated, {nc:,} control) → its model scores only {pop}.",
    },
    "sampled": {
        "zh": "{test}：受测客户 {n:,} 人，模型比较按组别 × 是否下单 × 是否删除分层抽取其中 {used:,} 人（比例不变）。",
        "en": "{test}: {n:,} tested customers; the model comparison uses a sample of {used:,}, stratified by arm × "
        "order × deletion (shares kept).",
    },
    "chosen": {
        "zh": "{test} 的名单由事先选定的模型“{model}”驱动：{verdict}",
        "en": "{test}: the list is driven by the model chosen in advance, {model}. {verdict}",
    },
    "score": {"zh": "名单得分：{kind}。{why}", "en": "List score: {kind}. {why}"},
    "written": {
        "zh": "已写出 {n:,} 位客户到 exports/contact_list.csv，{m:,} 位“暂不打扰”客户到 exports/leave_alone.csv。",
        "en": "{n:,} contacts written to exports/contact_list.csv, {m:,} to leave alone to exports/leave_alone.csv.",
    },
    "written_unmeasured": {
        "zh": "已写出 {n:,} 位客户到 exports/contact_list.csv；“暂不打扰”未测量（没有随机留出测试），不写该名单。",
        "en": "{n:,} contacts written to exports/contact_list.csv; 'leave alone' is not measured (no randomised "
        "holdout), so no such list is written.",
    },
    "leave_unmeasured": {
        "zh": "“暂不打扰”未测量：没有随机留出测试，就不知道消息会让谁删好友。",
        "en": "'Leave alone' is not measured: without a randomised holdout nobody knows whom a message makes delete "
        "us.",
    },
    "lists": {
        "zh": (
            "新名单中近 {d} 天下过单的占 {new_recent:.0%}（旧名单 {old_recent:.0%}），"
            "距上次下单天数中位数 {new_days:.0f} 天（旧名单 {old_days:.1f} 天）。"
        ),
        "en": (
            "Of the new list {new_recent:.0%} ordered in the last {d} days (old list {old_recent:.0%}); median days "
            "since the last order {new_days:.0f} (old list {old_days:.1f})."
        ),
    },
    "headline": {
        "zh": "触达名单 {n:,} 人，按{kind}排序；{la:,} 人暂不打扰（消息会让他们删好友）。",
        "en": "Contact list of {n:,} ranked by {kind}; {la:,} to leave alone (a message makes them delete us).",
    },
    "headline_unmeasured": {
        "zh": "触达名单 {n:,} 人，按{kind}排序；“暂不打扰”未测量（没有随机留出测试，无法知道消息会让谁删好友）。",
        "en": (
            "Contact list of {n:,} ranked by {kind}; 'leave alone' not measured (no randomised holdout, so no one is "
            "known to delete us after a message)."
        ),
    },
    "no_truth": NO_TRUTH,
}

_STAGES = {
    "contacts": {"zh": "全部好友记录", "en": "all contacts"},
    "friends": {"zh": "仍是好友", "en": "still friends"},
    "order": {"zh": "{n} 天内没下单", "en": "no order in {n} days"},
    "message": {"zh": "{n} 天内没收到消息", "en": "no message in {n} days"},
    "cap": {"zh": "本月消息少于 {n} 条", "en": "under {n} messages this month"},
    "leave": {"zh": "不在“暂不打扰”名单", "en": "not on the 'leave alone' list"},
    "scored": {"zh": "有得分（模型覆盖且增量为正）", "en": "scored (covered by a model, positive value)"},
    "due scored": {"zh": "有到期得分（无可用的增量模型）", "en": "scored by the due score (no usable uplift model)"},
    "listed": {"zh": "进入名单", "en": "listed"},
}


#: Bullets of 06's "what to do" (:func:`next_steps`).
NEXT_STEPS: dict[str, dict[str, str]] = {
    "contact": {
        "zh": "**按员工工作簿 `exports/workbook.xlsx` 的“联系名单”表联系这 {n:,} 人：** 前 {chats:,} 人私聊，"
        "其余群发；“为什么现在联系”一栏可以直接作为员工的开场理由。",
        "en": "**Contact the {n:,} customers on the contact list of the staff workbook (`exports/workbook.xlsx`):** "
        'private chats for the top {chats:,}, a broadcast for the rest; the "why now" column is the staff member\'s '
        "opening reason.",
    },
    "contact_chats": {
        "zh": "**按员工工作簿 `exports/workbook.xlsx` 的“联系名单”表联系这 {n:,} 人，都私聊：** “为什么现在联系”"
        "一栏可以直接作为员工的开场理由。",
        "en": "**Contact the {n:,} customers on the contact list of the staff workbook (`exports/workbook.xlsx`), "
        'all by private chat:** the "why now" column is the staff member\'s opening reason.',
    },
    "nobody": {
        "zh": "**这次没有人进入名单：** 见第 6 节的筛选表，是哪条规则筛掉了所有人。",
        "en": "**No one is listed this time:** the filter table of section 6 shows which rule left no one.",
    },
    "leave": {
        "zh": "**员工工作簿“暂不打扰”表里的 {m:,} 人这个月别发消息：** 对他们来说，消息换来的是删好友。",
        "en": "**Leave the {m:,} customers on the staff workbook's leave-alone sheet alone this month:** for them a "
        "message buys a deletion.",
    },
    "leave_none": {
        "zh": "**这次没有人需要“暂不打扰”：** 随机留出测试里没有哪一组因消息明显多删好友。",
        "en": "**No one needs leaving alone this time:** no group deleted us measurably more after a message in the "
        "randomised tests.",
    },
    "leave_unmeasured": {
        "zh": "**谁会因消息删好友还不知道：** 没有随机留出测试，“暂不打扰”未测量；先做一次（下一条）。",
        "en": "**Whom a message makes delete us is not known yet:** without a randomised holdout 'leave alone' is not "
        "measured; run one first (next point).",
    },
    "holdout": {
        "zh": "**保留对照组：** 每一轮都随机留出一部分名单上的人不联系，下次的模型才有新的、没有偏差的数据；"
        "没有留出组，就无法知道名单是不是真的带来了增量。",
        "en": "**Keep a control group:** hold out a random part of every list; the next model needs fresh, unbiased "
        "data, and without a holdout nobody can tell whether the list added sales.",
    },
    "due": {
        "zh": "**这份名单回答“谁该买了”，不回答“联系谁才会多买”：** 它按“到期”得分排序，排在前面的多是按自己的节奏"
        "本来就快要再买的人（稳买），联系他们不一定多卖。要按增量排序，先按下面“这次就留对照组”做。",
        "en": "**This list answers 'who is due', not 'whom a contact makes buy':** it is ranked by the due score, and "
        "its top is mostly customers about to buy again on their own rhythm (sure things), who may buy without a "
        "message. To rank by uplift, keep a control group first (below).",
    },
    "holdout_due": {
        "zh": "**这次就留对照组：** 把名单随机分组，一部分人（例如五分之一）这次不联系，分组记入实验分组表"
        "（活动 ID、用户 ID、组别 treatment / control），活动记入活动表；下次运行时本页就能测出谁因联系而多买，"
        "按增量排序。",
        "en": "**Keep a control group this time:** split the list at random, leave a part (a fifth, say) uncontacted, "
        "and record the split in the assignments table (campaign id, user id, arm treatment / control) and the "
        "campaign in the campaigns table; the next run then measures whom a contact makes buy and ranks by uplift.",
    },
    "summary": {"zh": "看 `08_summary`（汇总）。", "en": "Continue with `08_summary`."},
}


def next_steps(cl: ContactList, lang: str = "zh") -> str:
    """Return 06's "what to do" as Markdown bullets that point only at what this run wrote and measured.

    Examples
    --------
    >>> cl = ContactList(pd.DataFrame({"action_key": ["private_chat", "group_broadcast"]}), pd.DataFrame(),
    ...                  {"verdicts": {}})
    >>> print(next_steps(cl).splitlines()[1])
    - **谁会因消息删好友还不知道：** 没有随机留出测试，“暂不打扰”未测量；先做一次（下一条）。

    Ranked by the due score (no uplift model), it says the list is not incremental and asks for a holdout now.

    >>> cl.decision["score"] = "due"
    >>> [line[:16] for line in next_steps(cl).splitlines()[1:4]]
    ['- **这份名单回答“谁该买了”', '- **谁会因消息删好友还不知道', '- **这次就留对照组：** 把']
    """
    n = len(cl.contacts)
    chats = int((cl.contacts["action_key"] == "private_chat").sum()) if n else 0
    first = NEXT_STEPS["nobody" if not n else "contact_chats" if chats == n else "contact"][lang].format(
        n=n, chats=chats
    )
    key = "leave_unmeasured" if not cl.leave_alone_measured else "leave" if len(cl.leave_alone) else "leave_none"
    second = NEXT_STEPS[key][lang].format(m=len(cl.leave_alone))
    due = cl.decision.get("score") == "due"  # no uplift model: the list is who is due, not whom a contact moves
    lines = [first, *([NEXT_STEPS["due"][lang]] if due and n else []), second]
    lines += [NEXT_STEPS["holdout_due" if due else "holdout"][lang], NEXT_STEPS["summary"][lang]]
    return "\n".join(f"- {line}" for line in lines)


def headline(cl: ContactList, lang: str = "zh") -> str:
    """Return the page's one-line result: list size, score, and how many to leave alone or that it is not measured.

    Examples
    --------
    >>> cl = ContactList(pd.DataFrame(index=range(3)), pd.DataFrame(), {"score": "due", "verdicts": {}})
    >>> headline(cl, "en").split("; ")[1]
    "'leave alone' not measured (no randomised holdout, so no one is known to delete us after a message)."
    """
    from helpers.labels import Labels

    L = Labels(lang)
    key = "headline" if cl.leave_alone_measured else "headline_unmeasured"
    kind = L.name("score_kind", cl.decision["score"])
    return L.text(TEXT, key, n=len(cl.contacts), kind=kind, la=len(cl.leave_alone))


def funnel_table(decision: dict, lang: str = "zh") -> pd.DataFrame:
    """Return the eligibility funnel of :func:`contact_list` in the report language: each rule, the contacts left.

    Examples
    --------
    >>> f = funnel_table({"funnel": {"contacts": 10, "friends": 8, "no order in 7 days": 6, "listed": 2}}, "zh")
    >>> f["stage"].tolist(), f["left"].tolist()
    (['全部好友记录', '仍是好友', '7 天内没下单', '进入名单'], [10, 8, 6, 2])
    """
    rows = []
    for key, n in decision["funnel"].items():
        num = next(iter(re.findall(r"\d+(?:\.\d+)?", key)), "")
        stage = next((k for k in ("order", "message") if key.startswith(f"no {k} in")), None)
        stage = stage or ("cap" if key.startswith("under ") else "leave" if key.startswith("not ") else key)
        label = _STAGES.get(stage, {}).get(lang, key).format(n=num)
        rows.append({"stage": label, "left": int(n)})
    return pd.DataFrame(rows)

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

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from helpers.uplift import UpliftVerdict

__all__ = ["ACTIONS", "ContactList", "contact_list", "due_scores"]

#: Columns of the ``uplift`` input that name a tested action.
_UPLIFT_ACTIONS = ("message", "private_chat", "group_broadcast", "coupon")

#: Suggested actions in each report language.
ACTIONS: dict[str, dict[str, str]] = {
    "zh": {"private_chat": "私聊", "group_broadcast": "群发", "coupon": "优惠券"},
    "en": {"private_chat": "private chat", "group_broadcast": "broadcast", "coupon": "coupon"},
}

_TEXT = {
    "zh": {
        "uplift": "{a}预计使下单概率提高 {u:+.1%}（扣除成本后增量约 ¥{iv:,.0f}）",
        "beats": "优于{o}",
        "action_names": {"message": "消息", "private_chat": "私聊", "group_broadcast": "群发", "coupon": "优惠券"},
        "sep": "；",
        "due": "平时约每 {g:.0f} 天买一次，距上次购买已 {s:.0f} 天；仍活跃概率 {pa:.0%}，未来 {h} 天购买概率 {pd:.0%}",
        "last_order": "上次下单 {d:.0f} 天前",
        "never_ordered": "尚未下单",
        "last_message": "上次消息 {d:.0f} 天前",
        "never_messaged": "从未收到消息",
        "month": "本月已发 {m:.0f} 条",
        "leave_order": "任何触达预计都会降低下单概率（最好的也只有 {u:+.1%}）",
        "leave_delete": "消息预计使删好友概率提高 {d:+.1%}",
        "why_model": "按个体增量价值（预测增量 × 客单价值）排序：{v}",
        "why_average": "未按个体增量排序：{v} 改按“到期”得分排序（见 due_scores 的公式）。",
        "why_no_model": (
            "没有基于随机留出组训练的增量模型，按“到期”得分排序：仍活跃概率 × 按本人平时购买间隔计算的"
            "未来 {h} 天购买概率。"
        ),
    },
    "en": {
        "uplift": (
            "a {a} is predicted to raise the order probability by {u:+.1%} (about ¥{iv:,.0f} incremental, net of cost)"
        ),
        "beats": "better than {o}",
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
        "last_order": "last order {d:.0f} days ago",
        "never_ordered": "has not ordered yet",
        "last_message": "last message {d:.0f} days ago",
        "never_messaged": "never messaged",
        "month": "{m:.0f} messages this month",
        "leave_order": "every action is predicted to lower the order probability (the best by {u:+.1%})",
        "leave_delete": "a message is predicted to raise the deletion probability by {d:+.1%}",
        "why_model": "ranked by expected incremental value (predicted uplift × value): {v}",
        "why_average": "not ranked by individual uplift: {v} Ranked by the due score instead (formula in due_scores).",
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
    freq = summary["frequency"].astype(float)
    gap = (summary["recency"] / freq).where(freq > 0)
    typical = float(gap.median()) if gap.notna().any() else float("nan")
    gap = gap.fillna(typical).clip(lower=1.0)
    since = (summary["T"] - summary["recency"]).astype(float)
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


@dataclass
class ContactList:
    """The list, the customers to leave alone, and the decision record (which score, why, and the funnel)."""

    contacts: pd.DataFrame
    leave_alone: pd.DataFrame
    decision: dict = field(default_factory=dict)


def _by_user(df: pd.DataFrame | pd.Series | None) -> pd.DataFrame | pd.Series | None:
    if df is None:
        return None
    if isinstance(df, pd.DataFrame) and "user_id" in df.columns:
        df = df.set_index("user_id")
    return df


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
        P(deleting us) if messaged).
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
    acts = ACTIONS[lang]
    costs = costs or {}
    verdicts = verdicts or {}
    s = _by_user(state).copy()
    due = _by_user(due)
    uplift = _by_user(uplift)
    kinds: list[str] = []
    if uplift is not None:
        if "value" not in uplift.columns:
            raise ValueError("uplift needs a 'value' column (expected order value, CNY)")
        tested = [k for k in _UPLIFT_ACTIONS if k in uplift.columns]
        if not tested:
            raise ValueError(f"uplift needs at least one of the columns {', '.join(_UPLIFT_ACTIONS)}")
        kinds = [k for k in tested if k in verdicts and verdicts[k].use == "model"]
    use_model = bool(kinds)
    if not use_model and due is None:
        raise ValueError("nothing to rank by: give due scores, or uplift predictions whose verdict says 'model'")

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
    s["tier"] = tiers.reindex(s.index) if tiers is not None else None

    # leave alone (do-not-disturb): every usable action is predicted to lower their order rate, or a message to raise
    # their deletion rate, as far as the held-out groups where that harm was *measured* (UpliftVerdict.harm_below /
    # harm_above: groups whose interval lies entirely on the harmful side), not only predicted
    leave = pd.Series(False, index=s.index)
    why_leave = pd.Series("", index=s.index)
    u = uplift.reindex(s.index) if uplift is not None else None
    harmful = [k for k in kinds if verdicts[k].harm_measured_below]
    if harmful and len(harmful) == len(kinds):
        worst = pd.concat([u[k] <= verdicts[k].harm_below for k in kinds], axis=1).all(axis=1)
        leave |= worst
        why_leave[worst] = [t["leave_order"].format(u=v) for v in u.loc[worst, kinds].max(axis=1)]
    dv = verdicts.get("deletion")
    if u is not None and "deletion" in u.columns and dv is not None and dv.use == "model" and dv.harm_measured_above:
        dele = u["deletion"] >= dv.harm_above
        extra = [t["leave_delete"].format(d=v) for v in u.loc[dele, "deletion"]]
        why_leave[dele] = [f"{a}; {b}" if a else b for a, b in zip(why_leave[dele], extra, strict=True)]
        leave |= dele
    cols = [c for c in (*_UPLIFT_ACTIONS, "deletion") if u is not None and c in u.columns]
    leave_alone = s.loc[leave, ["staff_id", "tier"]].join(
        u.loc[leave, cols].add_prefix("uplift_") if cols else pd.DataFrame(index=s.index[leave])
    )
    leave_alone["why"] = why_leave[leave]
    s = s[~leave]
    funnel["not 'leave alone'"] = len(s)

    if use_model:
        u = uplift.reindex(s.index)
        s["value"] = u["value"]
        inc = pd.DataFrame({k: u[k] * u["value"] - costs.get(k, 0.0) for k in kinds}, index=s.index)
        for k in kinds:
            s[f"uplift_{k}"] = u[k]
            s[f"incremental_value_{k}"] = inc[k]
        best = inc.fillna(-np.inf).idxmax(axis=1)
        s["score"] = inc.max(axis=1)
        s["chosen"] = best
        s = s[s["score"].notna() & (s["score"] > 0)]
        score_kind = "incremental_value"
        why = t["why_model"].format(v=" ".join(verdicts[k].message for k in kinds))
    else:
        d = due.reindex(s.index)
        for c in ("p_alive", "p_due", "usual_gap_days", "days_since_last_purchase", "due_score"):
            s[c] = d[c]
        s["score"] = d["due_score"]
        s["chosen"] = "message"
        s = s[s["score"].notna()]
        score_kind = "due"
        tested_verdicts = [verdicts[k].message for k in _UPLIFT_ACTIONS if k in verdicts]
        why = (
            t["why_average"].format(v=" ".join(tested_verdicts))
            if tested_verdicts
            else t["why_no_model"].format(h=horizon_days)
        )
    funnel["scored"] = len(s)
    s = s.sort_values("score", ascending=False, kind="stable").head(top_n)
    funnel["listed"] = len(s)

    is_msg = s["chosen"] == "message"
    chat_rank = is_msg.cumsum().where(is_msg)
    s["action_key"] = np.where(
        is_msg, np.where(chat_rank <= private_chats, "private_chat", "group_broadcast"), s["chosen"]
    )
    s["action"] = s["action_key"].map(acts)
    s["why_now"] = [_why_now(r, t, score_kind, kinds, horizon_days) for r in s.itertuples()]
    lead = ["staff_id", "tier", "score", "action", "why_now"]
    rest = [
        c
        for c in s.columns
        if c.startswith(("uplift_", "incremental_value_"))
        or c
        in (
            "value",
            "p_alive",
            "p_due",
            "usual_gap_days",
            "days_since_last_order",
            "days_since_last_message",
            "messages_this_month",
        )
    ]
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
        },
    }
    contacts = s[lead + rest].rename_axis("user_id").reset_index()
    return ContactList(
        contacts=contacts, leave_alone=leave_alone.rename_axis("user_id").reset_index(), decision=decision
    )


def _why_now(r, t: dict[str, str], kind: str, kinds: list[str], horizon_days: int) -> str:
    parts = []
    if kind == "incremental_value":
        best = r.chosen
        u = getattr(r, f"uplift_{best}")
        parts.append(t["uplift"].format(a=t["action_names"][best], u=u, iv=getattr(r, f"incremental_value_{best}")))
        others = [k for k in kinds if k != best and pd.notna(getattr(r, f"uplift_{k}"))]
        if others:
            parts.append(
                t["beats"].format(
                    o=", ".join(f"{t['action_names'][k]} {getattr(r, f'uplift_{k}'):+.1%}" for k in others)
                )
            )
    else:
        parts.append(
            t["due"].format(g=r.usual_gap_days, s=r.days_since_last_purchase, pa=r.p_alive, pd=r.p_due, h=horizon_days)
        )
    d = getattr(r, "days_since_last_order", np.nan)
    parts.append(t["last_order"].format(d=d) if pd.notna(d) else t["never_ordered"])
    m = getattr(r, "days_since_last_message", None)
    if m is not None:
        parts.append(t["last_message"].format(d=m) if pd.notna(m) else t["never_messaged"])
    k = getattr(r, "messages_this_month", None)
    if k is not None and k > 0:
        parts.append(t["month"].format(m=k))
    return t["sep"].join(parts)

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

import itertools
from math import factorial

import ibis
import matplotlib.pyplot as plt
import networkx as nx
import numpy as np
import pandas as pd
from scipy import stats

from helpers.acquisition import compare_variants
from helpers.features import purchase_days
from helpers.features import timestamp_literal as _ts

__all__ = [
    "CREDIT_MODELS",
    "build_paths",
    "campaign_roi",
    "compare_models",
    "heuristics",
    "lift",
    "markov",
    "plot_models",
    "read_channelattribution_paths",
    "referral_tree",
    "shapley",
    "shapley_bruteforce",
    "value_credit",
]

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
    if end is None:
        end_expr = run(touches.aggregate(m=touches.touched_at.max()))["m"].iloc[0]
        end = max(pd.Timestamp(end_expr), pd.Timestamp(run(orders.aggregate(m=orders.ordered_at.max()))["m"].iloc[0]))
    end = pd.Timestamp(end)
    occ = purchase_days(orders, end.normalize())  # purchases net of refunds: a cancelled order converts no one
    if conversion == "first":
        o = occ.group_by("user_id").aggregate(conv_at=occ.first_paid_at.min(), value=occ.amount.argmin(occ.d))
    else:
        o = occ.select("user_id", conv_at=occ.first_paid_at, value=occ.amount)
    o = o.filter(o.conv_at <= _ts(end))
    o = o.mutate(conv_id=ibis.row_number().over(ibis.window(order_by=["user_id", "conv_at"])), converted=True)
    # non-converting journeys: contacts (or touched users) without a conversion, ending at end / removal
    if contacts is not None:
        base = contacts.select("user_id", stop=ibis.least(ibis.coalesce(contacts.removed_at, _ts(end)), _ts(end)))
    else:
        base = touches.group_by("user_id").aggregate(stop=_ts(end))
    converters = o.select("user_id").distinct()
    nc = base.anti_join(converters, "user_id")
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

    journeys = typed(o).union(typed(nc))
    step = touches[label] if label == "touch_type" else ibis.coalesce(touches[label], "(" + touches.touch_type + ")")
    t = touches.select("user_id", "touched_at", step=step)
    j = journeys.join(t, "user_id", how="left")
    lo = j.conv_at - ibis.interval(days=lookback_days)
    inside = (j.touched_at > lo) & (j.touched_at <= j.conv_at)
    j = j.filter(inside)
    age = (j.conv_at.epoch_seconds() - j.touched_at.epoch_seconds()) / 86400.0
    ev = ibis.struct({"t": j.touched_at, "k": j.step, "age": age})
    g = j.group_by(["conv_id", "converted", "value"]).aggregate(ev=ev.collect())
    g = g.mutate(ev=g.ev.sort())
    rows = run(g.mutate(steps=g.ev.map(lambda s: s.k), ages=g.ev.map(lambda s: s.age)).drop("ev"))
    n_journeys = run(journeys.group_by("converted").aggregate(n=journeys.count(), value=journeys.value.sum()))
    return _aggregate_paths(rows, n_journeys, half_life_days, max_touches, collapse_repeats)


def _aggregate_paths(
    rows: pd.DataFrame, n_journeys: pd.DataFrame, half_life: float, max_touches: int, collapse: bool
) -> pd.DataFrame:
    recs: dict[tuple, list] = {}
    for steps, ages, converted, value in zip(
        rows["steps"], rows["ages"], rows["converted"], rows["value"], strict=True
    ):
        steps, ages = list(steps), np.asarray(ages, dtype=float)
        if collapse:
            keep = [0] + [i for i in range(1, len(steps)) if steps[i] != steps[i - 1]]
            steps, ages = [steps[i] for i in keep], ages[keep]
        steps, ages = steps[-max_touches:], ages[-max_touches:]
        key = tuple(steps)
        rec = recs.setdefault(key, [0, 0, 0.0, np.zeros(len(key))])
        if converted:
            rec[0] += 1
            rec[2] += float(value)
            w = 0.5 ** (ages / half_life)
            rec[3] = rec[3] + w / w.sum()
        else:
            rec[1] += 1
    counts = n_journeys.set_index("converted")
    touched_conv = sum(r[0] for r in recs.values())
    touched_null = sum(r[1] for r in recs.values())
    conv_total = int(counts["n"].get(True, 0))
    null_total = int(counts["n"].get(False, 0))
    value_touched = sum(r[2] for r in recs.values())
    empty = recs.setdefault((), [0, 0, 0.0, np.zeros(0)])
    empty[0] += conv_total - touched_conv
    empty[1] += null_total - touched_null
    empty[2] += float(counts["value"].get(True, 0.0) or 0.0) - value_touched
    out = pd.DataFrame(
        [(k, v[0], v[1], round(v[2], 2), tuple(v[3])) for k, v in recs.items() if v[0] or v[1]],
        columns=["path", "conversions", "nulls", "value", "decay_credit"],
    )
    return out.sort_values(["conversions", "nulls"], ascending=False, kind="stable").reset_index(drop=True)


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
        Index channel; one column of attributed conversions per model.
    """
    cols = {
        "first touch 首次触点": h["first_conversions"],
        "last touch 末次触点": h["last_conversions"],
        "linear 线性": h["linear_conversions"],
        "position 40/20/40 位置": h["position_conversions"],
    }
    if "time_decay_conversions" in h:
        cols["time decay 时间衰减"] = h["time_decay_conversions"]
    cols["Markov 马尔可夫"] = m["markov_conversions"]
    cols["Shapley 夏普利"] = s["shapley_conversions"]
    return pd.DataFrame(cols).fillna(0.0)


def plot_models(table: pd.DataFrame, ax: plt.Axes | None = None) -> plt.Axes:
    """Draw grouped bars: each channel's share of attributed conversions under each model.

    Parameters
    ----------
    table : DataFrame
        Output of :func:`compare_models`.
    ax : Axes, optional
        Where to draw.

    Returns
    -------
    Axes
        The axes drawn on.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(10, 4.5))
    (table / table.sum()).plot.bar(ax=ax, rot=0, width=0.85)
    ax.yaxis.set_major_formatter(plt.matplotlib.ticker.PercentFormatter(1.0))
    ax.set_xlabel("channel (touch type) 触达渠道")
    ax.set_ylabel("share of attributed conversions 归因转化占比")
    ax.set_title("Credit by model 各归因模型的渠道贡献")
    ax.legend(fontsize="small", ncol=4, loc="upper center", bbox_to_anchor=(0.5, -0.18), frameon=False)
    return ax


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


# --------------------------------------------------------------------------------------------- referrals
def referral_tree(contacts: pd.DataFrame, end: str | pd.Timestamp, min_age_days: int = 90) -> dict:
    """Referral fission (裂变) from ``referrer_id``: K-factor, generations, tree sizes, top inviters' share.

    K-factor = new contacts brought per contact, measured on contacts added at least ``min_age_days`` before
    ``end`` (younger ones have not finished inviting: counting them would bias K down). With invitations known
    (leads), K = invites per inviter × invite conversion; here it is measured directly.

    Returns
    -------
    dict
        ``k_factor`` with ``k_ci`` (95 %, Poisson), ``eligible_inviters``, ``referred``, ``share_inviting``,
        ``max_generation``, ``generation_counts`` (Series), ``tree_sizes`` (Series: size → trees),
        ``top10pct_inviter_share``, ``graph`` (networkx DiGraph referrer → referred).
    """
    end = pd.Timestamp(end)
    c = contacts[["user_id", "referrer_id", "added_at"]]
    g = nx.DiGraph()
    g.add_nodes_from(c["user_id"])
    edges = c.dropna(subset=["referrer_id"])
    edges = edges[edges["referrer_id"].isin(c["user_id"])]
    g.add_edges_from(zip(edges["referrer_id"], edges["user_id"], strict=True))
    old = c[c["added_at"] <= end - pd.Timedelta(days=min_age_days)]["user_id"]
    children = pd.Series({u: g.out_degree(u) for u in old}, dtype=float)
    n, total = len(children), float(children.sum())
    k = total / n if n else float("nan")
    lo, hi = (
        (stats.chi2.ppf(0.025, 2 * total) / 2 / n, stats.chi2.ppf(0.975, 2 * total + 2) / 2 / n)
        if n
        else (float("nan"), float("nan"))
    )
    depth = {}
    roots = [u for u in g.nodes if g.in_degree(u) == 0]
    for r in roots:
        for node, d in nx.single_source_shortest_path_length(g, r).items():
            depth[node] = d
    sizes = pd.Series([len(nx.descendants(g, r)) + 1 for r in roots if g.out_degree(r) > 0], dtype="int64")
    inv = pd.Series(dict(g.out_degree()), dtype=float)
    inv = inv[inv > 0].sort_values(ascending=False)
    top = inv.head(max(1, int(np.ceil(0.1 * len(inv))))).sum() / inv.sum() if len(inv) else float("nan")
    return {
        "k_factor": k,
        "k_ci": (lo, hi),
        "eligible_inviters": n,
        "referred": int(total),
        "share_inviting": float((children > 0).mean()) if n else float("nan"),
        "max_generation": int(max(depth.values())) if depth else 0,
        "generation_counts": pd.Series(depth).value_counts().sort_index(),
        "tree_sizes": sizes.value_counts().sort_index(),
        "top10pct_inviter_share": float(top),
        "graph": g,
    }


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

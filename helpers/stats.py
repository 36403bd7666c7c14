"""Shared statistics: proportions and their intervals, two-group comparisons, rates of counts.

Generic pieces used by several methods — the acquisition A/B tests (01), the uplift and holdout work (04, 06) and the
staff scorecard (07) — kept here so that a method module never imports another method module for them.

Decisions are returned as data (:func:`decisions`: ``beats`` / ``worse`` / ``no_difference`` / ``too_few``); the
sentences that state them live with the notebook's text (:func:`helpers.acquisition.verdict_text`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import confint_proportions_2indep
from statsmodels.stats.proportion import test_proportions_2indep as _score_test

from helpers.base import thread_map

__all__ = [
    "compare_variants",
    "decisions",
    "minimum_detectable_effect",
    "poisson_interval",
    "row_quantiles",
    "wilson_interval",
]

#: Rows per block in :func:`row_quantiles` (300 draws × 20 000 rows × 8 bytes = 48 MB copied at a time).
QUANTILE_BLOCK = 20_000


def row_quantiles(a: np.ndarray, q: Sequence[float], block: int = QUANTILE_BLOCK) -> np.ndarray:
    """Quantiles of every row of a 2-D array: ``np.quantile(a, q, axis=1)``, equal to it bit for bit, faster.

    ``np.quantile`` copies the whole array (2.4 GB for a million customers' 300 parameter draws, strided when the
    matrix is column-major) and partitions each row around every order statistic. Here blocks of rows are copied
    row-major, partitioned in place around only the two order statistics each quantile needs, and interpolated
    with numpy's own linear rule; blocks run on a few threads (numpy's partition releases the GIL). A row with a
    NaN gets NaN, as in ``np.quantile``.

    Parameters
    ----------
    a : ndarray
        (rows × draws).
    q : sequence of float
        Probabilities in [0, 1].
    block : int
        Rows per block.

    Returns
    -------
    ndarray
        (len(q) × rows), like ``np.quantile(a, q, axis=1)``.

    Examples
    --------
    >>> a = np.arange(12.0).reshape(3, 4)[:, ::-1]
    >>> row_quantiles(a, [0.5, 0.9])
    array([[ 1.5,  5.5,  9.5],
           [ 2.7,  6.7, 10.7]])
    """
    a = np.asarray(a, dtype=float)
    qs = np.asarray(q, dtype=float)
    if a.ndim != 2 or qs.ndim != 1:
        raise ValueError("row_quantiles takes a 2-D array and a list of probabilities")
    if np.any((qs < 0) | (qs > 1)):
        raise ValueError("quantiles must be in [0, 1]")
    n = a.shape[1]
    if n == 0 or a.shape[0] == 0:
        return np.quantile(a, qs, axis=1)
    h = qs * (n - 1)  # numpy's "linear" method: the virtual index, its floor and the weight of the next value
    below = np.floor(h)
    gamma = h - below
    below = below.astype(np.intp)
    above = np.minimum(below + 1, n - 1)
    kth = np.unique(np.concatenate([below, above]))
    out = np.empty((len(qs), a.shape[0]))

    def one(start: int) -> None:
        rows = np.array(a[start : start + block], order="C")
        rows.partition(kth, axis=1)
        lo, hi = rows[:, below].T, rows[:, above].T
        g = gamma[:, None]
        diff = hi - lo
        value = lo + diff * g
        value = np.where(g >= 0.5, hi - diff * (1 - g), value)  # numpy's _lerp: exact at both ends
        value[:, np.isnan(rows).any(axis=1)] = np.nan
        out[:, start : start + block] = value

    thread_map(one, range(0, a.shape[0], block))
    return out


def wilson_interval(k: np.ndarray | float, n: np.ndarray | float, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of a proportion ``k / n`` (NaN where ``n`` is 0).

    Examples
    --------
    >>> lo, hi = wilson_interval(np.array([10, 0]), np.array([100, 0]))
    >>> np.round(lo, 4).tolist(), np.round(hi, 4).tolist()
    ([0.0552, nan], [0.1744, nan])
    """
    k, n = np.asarray(k, float), np.asarray(n, float)
    z = stats.norm.ppf(1 - alpha / 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / n
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z / (1 + z * z / n) * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    bad = n <= 0
    return np.where(bad, np.nan, centre - half), np.where(bad, np.nan, centre + half)


def poisson_interval(
    observed: np.ndarray | float, expected: np.ndarray | float, alpha: float = 0.05
) -> tuple[np.ndarray, np.ndarray]:
    """Exact (Garwood) interval of the ratio O/E, treating O as Poisson and E as fixed.

    Lower limit ``χ²(α/2; 2O) / 2E`` (0 when O = 0), upper ``χ²(1 − α/2; 2O + 2) / 2E``.

    Examples
    --------
    >>> lo, hi = poisson_interval(np.array([20.0, 0.0]), np.array([25.0, 4.0]))
    >>> np.round(lo, 4).tolist(), np.round(hi, 4).tolist()
    ([0.4887, 0.0], [1.2355, 0.9222])
    """
    o, e = np.asarray(observed, float), np.asarray(expected, float)
    low = np.where(o > 0, stats.chi2.ppf(alpha / 2, 2 * np.maximum(o, 1e-12)) / 2, 0.0)
    high = stats.chi2.ppf(1 - alpha / 2, 2 * o + 2) / 2
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(e > 0, low / e, np.nan), np.where(e > 0, high / e, np.nan)


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
    arms = pd.DataFrame({"n": g.size(), "successes": g.sum().astype("int64")})
    names = sorted(arms.index)
    if control is None or control == "":
        control = names[0]
    if control not in arms.index:
        raise ValueError(f"control variant {control!r} not found; variants are {', '.join(names)}")
    arms["rate"] = arms["successes"] / arms["n"]
    lo, hi = wilson_interval(arms["successes"].to_numpy(), arms["n"].to_numpy(), alpha)
    arms["ci_low"], arms["ci_high"] = lo, hi
    c_n, c_s = int(arms.loc[control, "n"]), int(arms.loc[control, "successes"])
    c_rate = c_s / c_n
    rows = []
    for v in [control, *[x for x in names if x != control]]:
        n, k = int(arms.loc[v, "n"]), int(arms.loc[v, "successes"])
        row = {"variant": v, **arms.loc[v].to_dict(), "n": n, "successes": k}
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


def _decision(r, alpha: float, min_count: int, c_s: int, c_n: int, control: str) -> str:
    if r.variant == control:
        return "control"
    if min(r.successes, r.n - r.successes, c_s, c_n - c_s) < min_count:
        return "too_few"
    if r.p_adjusted < alpha and r.diff_ci_low > 0:
        return "beats"
    if r.p_adjusted < alpha and r.diff_ci_high < 0:
        return "worse"
    return "no_difference"


def decisions(result: pd.DataFrame, alpha: float = 0.05, min_count: int = 5) -> pd.Series:
    """Return each variant's decision code: ``control``, ``beats``, ``worse``, ``no_difference`` or ``too_few``.

    The same rule as the ``verdict`` of :func:`compare_variants` (the first row is the control).

    Examples
    --------
    >>> ok = [True] * 45 + [False] * 55 + [True] * 60 + [False] * 40
    >>> r = compare_variants(pd.DataFrame({"v": ["A"] * 100 + ["B"] * 100, "ok": ok}), "v", "ok")
    >>> decisions(r).to_dict()
    {'A': 'control', 'B': 'beats'}
    """
    control = result["variant"].iloc[0]
    c = result.iloc[0]
    c_s, c_n = int(c["successes"]), int(c["n"])
    return pd.Series(
        [_decision(r, alpha, min_count, c_s, c_n, control) for r in result.itertuples()],
        index=result["variant"].to_numpy(),
    )

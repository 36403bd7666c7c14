"""Shared statistics: proportions and their intervals, two-group comparisons, rates of counts.

Generic pieces used by several methods — the acquisition A/B tests (01), the uplift and holdout work (04, 06) and the
staff scorecard (07) — kept here so that a method module never imports another method module for them.

Decisions are returned as data (:func:`decisions`: ``beats`` / ``worse`` / ``no_difference`` / ``too_few``); the
sentences that state them live with the notebook's text (:func:`helpers.acquisition.verdict_text`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import confint_proportions_2indep
from statsmodels.stats.proportion import test_proportions_2indep as _score_test

__all__ = [
    "compare_variants",
    "decisions",
    "minimum_detectable_effect",
    "poisson_interval",
    "wilson_interval",
]


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

"""Kaplan–Meier curves by group: the one survival estimator of the workbook, and its plot.

Used wherever time is censored: how long a friendship lasts (01, censored at ``as_of`` for contacts still friends)
and how long until a second purchase (03, censored at the end of the data for buyers who have not bought again).
An open window is not a drop-off: a censored subject leaves the risk set without an event.
"""

from __future__ import annotations

from collections.abc import Callable

import matplotlib.pyplot as plt
import pandas as pd
from lifelines import KaplanMeierFitter

__all__ = ["km_by_group", "plot_km"]


def km_by_group(
    durations: pd.Series, events: pd.Series, groups: pd.Series | None = None
) -> dict[str, KaplanMeierFitter]:
    """Fit one Kaplan–Meier curve per group.

    Parameters
    ----------
    durations : Series
        Time to the event, or to censoring, per subject (days).
    events : Series of bool
        True where the event happened (removal, second purchase); False where the subject is censored.
    groups : Series, optional
        Group label per subject (same index); ``None`` for one curve named ``"all"``.

    Returns
    -------
    dict
        Group label (as text, sorted) → fitted lifelines ``KaplanMeierFitter``.

    Examples
    --------
    >>> d = pd.Series([1.0, 2.0, 3.0, 4.0]); e = pd.Series([True, False, True, True])
    >>> km = km_by_group(d, e)["all"]
    >>> [round(float(s), 4) for s in km.survival_function_at_times([1, 3, 4])]
    [0.75, 0.375, 0.0]
    """
    groups = pd.Series("all", index=durations.index) if groups is None else groups.astype(str)
    out = {}
    for name, idx in groups.groupby(groups, sort=True).groups.items():
        out[str(name)] = KaplanMeierFitter(label=str(name)).fit(durations.loc[idx], events.loc[idx].astype(bool))
    return out


def plot_km(
    fits: dict[str, KaplanMeierFitter],
    ax: plt.Axes | None = None,
    max_days: float = 180,
    cumulative: bool = False,
    ci: bool = True,
    name: Callable[[str], str] = str,
) -> plt.Axes:
    """Draw Kaplan–Meier curves, one per group, as percentages; the caller sets titles and axis labels.

    Parameters
    ----------
    fits : dict
        Output of :func:`km_by_group`.
    ax : Axes, optional
        Where to draw.
    max_days : float
        Right end of the x axis.
    cumulative : bool
        Draw 1 − S(t) (the share that had the event by ``t``) instead of S(t).
    ci : bool
        Shade the 95 % interval.
    name : callable
        Display name of a group label.

    Returns
    -------
    Axes
        The axes drawn on.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 4.5))
    for group, km in fits.items():
        sf = km.survival_function_.iloc[:, 0]
        band = km.confidence_interval_survival_function_
        lo, hi = band.iloc[:, 0], band.iloc[:, 1]
        y, lo, hi = (1 - sf, 1 - hi, 1 - lo) if cumulative else (sf, lo, hi)
        (line,) = ax.step(sf.index, y, where="post", label=name(group))
        if ci:
            ax.fill_between(sf.index, lo, hi, step="post", alpha=0.15, color=line.get_color(), linewidth=0)
    ax.set_xlim(0, max_days)
    ax.yaxis.set_major_formatter(plt.matplotlib.ticker.PercentFormatter(1.0))
    ax.legend(fontsize="small", loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    return ax

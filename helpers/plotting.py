"""Plot style for the workbook: readable defaults and Chinese labels without missing-glyph boxes.

The package ships an OFL-licensed subset of Noto Sans CJK SC (ASCII, Latin-1, Greek, GB2312, arrows and math
operators; 2.9 MB) in
``helpers/fonts``, so Chinese labels render the same on every machine without installing system fonts.
"""

from __future__ import annotations

import logging
from pathlib import Path

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib import font_manager

__all__ = ["CJK_FONT_FAMILY", "FONT_PATH", "plot_accounting", "plot_daily_counts", "setup", "use_cjk_font"]

FONT_PATH = Path(__file__).resolve().parent / "fonts" / "NotoSansCJKsc-Regular-GB2312.otf"
CJK_FONT_FAMILY = "Noto Sans CJK SC"


def use_cjk_font() -> str:
    """Register the bundled CJK font with matplotlib and make it the default sans-serif font.

    Returns
    -------
    str
        The font family name now first in ``font.sans-serif``.

    Examples
    --------
    >>> use_cjk_font()
    'Noto Sans CJK SC'
    """
    if CJK_FONT_FAMILY not in {f.name for f in font_manager.fontManager.ttflist}:
        font_manager.fontManager.addfont(str(FONT_PATH))
    mpl.rcParams["font.family"] = "sans-serif"
    rest = [f for f in mpl.rcParams["font.sans-serif"] if f != CJK_FONT_FAMILY]
    mpl.rcParams["font.sans-serif"] = [CJK_FONT_FAMILY, *rest]
    # only a Regular face is bundled; bold text falls back to it, which matplotlib logs at every figure
    logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)
    return CJK_FONT_FAMILY


def setup(context: str = "notebook") -> None:
    """Apply the workbook style (seaborn whitegrid, readable sizes) and the CJK font.

    Parameters
    ----------
    context : str
        Seaborn context: ``paper``, ``notebook``, ``talk`` or ``poster``.
    """
    import seaborn as sns

    sns.set_theme(context=context, style="whitegrid")  # resets rcParams, so the font comes after
    mpl.rcParams.update({"figure.figsize": (9, 4.5), "figure.dpi": 100})
    use_cjk_font()


def plot_accounting(accounting: pd.DataFrame, ax: plt.Axes | None = None) -> plt.Axes:
    """Bars per table: rows kept and rows quarantined side by side (log scale), quarantined counts labelled.

    Parameters
    ----------
    accounting : DataFrame
        ``Dataset.accounting`` (table, read, kept, quarantined).
    ax : Axes, optional
        Where to draw; a new figure if omitted.

    Returns
    -------
    Axes
        The axes drawn on.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 0.55 * len(accounting) + 1.5))
    a = accounting.set_index("table")[["kept", "quarantined"]].iloc[::-1]
    y = np.arange(len(a))
    ax.barh(y + 0.2, a["kept"].clip(lower=0.8), height=0.4, color="#4c72b0", label="kept 保留")
    ax.barh(y - 0.2, a["quarantined"].clip(lower=0.8), height=0.4, color="#dd8452", label="quarantined 隔离")
    for yi, q, r in zip(y, a["quarantined"], a["kept"] + a["quarantined"], strict=True):
        ax.annotate(
            f"{q:,} of {r:,}",
            (max(q, 1), yi - 0.2),
            xytext=(4, 0),
            textcoords="offset points",
            va="center",
            fontsize="small",
        )
    ax.set_yticks(y, a.index)
    ax.set_xscale("log")
    ax.set_xlim(0.8, max(a["kept"].max(), 10) * 3)
    ax.set_xlabel("rows (log scale) 行数")
    ax.set_ylabel("table 表")
    ax.set_title("Rows kept and quarantined per table 每张表保留 / 隔离的行数")
    ax.legend(loc="lower right")
    return ax


def plot_daily_counts(daily: pd.DataFrame, ax: plt.Axes | None = None) -> plt.Axes:
    """Weekly totals of each table's events, one line per table (log scale), to spot gaps and spikes.

    Parameters
    ----------
    daily : DataFrame
        Output of :func:`helpers.quality.daily_counts`.
    ax : Axes, optional
        Where to draw.

    Returns
    -------
    Axes
        The axes drawn on.
    """
    if ax is None:
        _, ax = plt.subplots()
    bins = daily.resample("W-MON", label="left", closed="left")
    weekly = bins.sum()[bins.size() == 7]  # whole weeks only: a partial week looks like a drop
    names = {
        "contacts": "adds 加好友",
        "orders": "orders 订单",
        "touches": "touches 触达",
        "messages": "messages 群消息",
        "leads": "leads 线索",
    }
    for c in weekly.columns:
        ax.plot(weekly.index, weekly[c], label=names.get(c, c))
    ax.set_yscale("log")
    ax.set_xlabel("week 周")
    ax.set_ylabel("events per week (log) 每周事件数")
    ax.set_title("Weekly volume per table (whole weeks) 各表每周数据量")
    ax.legend(ncol=3, fontsize="small")
    return ax

"""Plot style for the workbook: readable defaults and Chinese labels without missing-glyph boxes.

The package ships an OFL-licensed subset of Noto Sans CJK SC (ASCII, Latin-1, Greek, GB2312, arrows and math
operators; 2.9 MB) in
``helpers/fonts``, so Chinese labels render the same on every machine without installing system fonts.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib as mpl
from matplotlib import font_manager

__all__ = ["CJK_FONT_FAMILY", "FONT_PATH", "date_axis", "setup", "use_cjk_font"]

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
    # only a Regular face is bundled: no element asks for bold, so matplotlib has no missing weight to warn about
    for key in ("axes.titleweight", "axes.labelweight", "figure.titleweight", "font.weight"):
        mpl.rcParams[key] = "normal"
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


#: Date tick formats of :func:`date_axis` per language (matplotlib's ConciseDateFormatter: years, months, days,
#: hours, minutes, seconds; the zero formats label the first tick of a larger unit). Portable strftime codes only
#: (``%-m`` fails on Windows): a leading zero before 月 / 日 is removed afterwards.
_DATE_FORMATS = {
    "zh": (["%Y年", "%m月", "%d日", "%H:%M", "%H:%M", "%S.%f"], ["", "%Y年", "%m月", "%m月%d日", "%H:%M", "%H:%M"]),
    "en": (["%Y", "%b", "%d", "%H:%M", "%H:%M", "%S.%f"], ["", "%Y", "%b", "%b-%d", "%H:%M", "%H:%M"]),
}


def date_axis(ax, lang: str = "zh", maxticks: int = 6):
    """Give ``ax`` a date x axis with at most ``maxticks`` short, non-overlapping ticks in the report language.

    ``2025年 · 7月 · 2026年`` instead of eleven ``2025-01`` labels running into each other (and no English month
    names on a Chinese page). Returns the Axes.

    Examples
    --------
    >>> import matplotlib.pyplot as plt, pandas as pd
    >>> _ = use_cjk_font()
    >>> fig, ax = plt.subplots(figsize=(3, 2))
    >>> _ = ax.plot(pd.date_range("2025-01-01", "2025-12-31", freq="W"), range(52))
    >>> _ = date_axis(ax, "zh", maxticks=3); fig.canvas.draw()
    >>> [t.get_text() for t in ax.get_xticklabels()]
    ['2025年', '7月', '2026年']
    >>> plt.close(fig)
    """
    import re

    import matplotlib.dates as mdates

    class Dates(mdates.ConciseDateFormatter):
        def format_ticks(self, values):
            return [re.sub(r"(?<!\d)0(\d[月日])", r"\1", s) for s in super().format_ticks(values)]

    locator = mdates.AutoDateLocator(minticks=2, maxticks=maxticks)
    formats, zero = _DATE_FORMATS.get(lang, _DATE_FORMATS["en"])
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(Dates(locator, formats=formats, zero_formats=zero))
    return ax

"""Plot style for the workbook: readable defaults and Chinese labels without missing-glyph boxes.

The package ships an OFL-licensed subset of Noto Sans CJK SC (ASCII, Latin-1, Greek, GB2312, arrows and math
operators; 2.9 MB) in
``helpers/fonts``, so Chinese labels render the same on every machine without installing system fonts.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib as mpl
from matplotlib import font_manager

__all__ = ["CJK_FONT_FAMILY", "FONT_PATH", "setup", "use_cjk_font"]

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

import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from helpers import plotting  # noqa: E402


def test_chinese_labels_render_without_missing_glyphs(tmp_path):
    plotting.setup()
    fig, ax = plt.subplots()
    ax.bar(["门店二维码", "包裹卡", "老带新裂变", "直播间"], [3, 2, 1, 4])
    ax.set_title("各渠道新增好友 ¥ 复购率 — 用户分层 λ ≥ α")
    ax.set_xlabel("渠道 → 净增 = 新增 − 删除")
    ax.set_ylim(-2, 5)  # negative tick labels use U+2212
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib warns "Glyph … missing from font(s)" for every box drawn
        fig.savefig(tmp_path / "zh.png")
    plt.close(fig)
    assert plotting.FONT_PATH.exists() and plotting.FONT_PATH.stat().st_size < 4 * 2**20


def test_missing_glyph_would_be_detected(tmp_path):
    """The check above can fail: a character outside the font does warn."""
    plotting.setup()
    fig, ax = plt.subplots()
    ax.set_title("\U0001f600")  # not in the font
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig.savefig(tmp_path / "x.png")
    plt.close(fig)
    assert any("missing from" in str(w.message) for w in caught)


def test_quality_plots_take_axes_and_return_them(sample_ds):
    from helpers import quality

    daily = quality.daily_counts(sample_ds)
    fig, axes = plt.subplots(1 + len(daily.columns), 1)
    assert quality.plot_accounting(sample_ds.accounting, ax=axes[0]) is axes[0]
    drawn = quality.plot_daily_counts(daily, axes=axes[1:])
    assert list(drawn) == list(axes[1:])
    assert axes[0].get_title() and axes[0].get_xlabel() and axes[1].get_ylabel()
    plt.close(fig)


def test_weekly_volume_keeps_weeks_with_a_closed_day_and_shows_empty_weeks():
    """A shop closed on Saturdays still has every week; a week without orders is drawn at 0, not dropped."""
    from helpers import quality
    from helpers.data import Dataset

    days = pd.date_range("2025-01-06", "2025-03-30", freq="D")  # Monday .. Sunday, 12 whole weeks
    open_days = days[(days.dayofweek != 5) & ~((days >= "2025-02-03") & (days < "2025-02-10"))]
    orders = pd.DataFrame({"ordered_at": open_days + pd.Timedelta(hours=10)})
    daily = quality.daily_counts(Dataset({"orders": orders}, pd.DataFrame(), pd.DataFrame()))
    assert len(daily) == len(days) and daily["orders"].sum() == len(open_days)
    axes = quality.plot_daily_counts(daily)
    x, y = axes[0].lines[0].get_data()
    assert len(y) == 12 and sorted(y)[:2] == [0, 6]  # the empty week at 0, the others 6 open days
    plt.close(axes[0].figure)


def test_the_lorenz_note_points_at_its_mark_with_a_visible_arrow():
    """02's Lorenz chart drew the arrow in the style's white patch edge: the note floated unattached."""
    import matplotlib
    import numpy as np
    import pandas as pd

    from helpers import plotting, tiers

    matplotlib.use("Agg")
    plotting.setup()
    ax = tiers.plot_lorenz(pd.Series(np.random.default_rng(0).pareto(1.5, 500)))
    note = next(c for c in ax.get_children() if isinstance(c, matplotlib.text.Annotation))
    r, g, b, _ = note.arrow_patch.get_edgecolor()
    assert max(r, g, b) < 0.5  # dark on a white plot


def test_the_topic_purchase_ratio_axis_reads_plain_numbers():
    """05's ratio chart read 8 × 10⁻¹ and 10⁰ on its log axis."""
    import matplotlib

    from helpers import topics

    matplotlib.use("Agg")
    t = pd.DataFrame({"name": ["a", "b"], "ratio": [0.85, 1.2], "ratio_ci_low": [0.8, 1.1], "ratio_ci_high": [0.9, 1.3],
                      "association": ["lower", "higher"]})  # fmt: skip
    ax = topics.plot_topic_purchase(t)
    ax.figure.canvas.draw()
    lo, hi = ax.get_xlim()
    shown = [
        x.get_text()
        for x in [*ax.get_xticklabels(), *ax.get_xticklabels(minor=True)]
        if lo <= x.get_position()[0] <= hi
    ]
    assert {"0.8", "0.9", "1"} <= set(shown) and not any("×" in s or "e" in s or "$" in s for s in shown)


def test_the_roas_chart_keeps_every_bar_label_inside_the_plot():
    """04's ROAS chart ran its largest bar's label (4.15) into the right edge."""
    import matplotlib

    from helpers import attribution

    matplotlib.use("Agg")
    roi = pd.DataFrame({"campaign_id": ["a", "b", "c"], "roas": [4.15, 1.7, 0.6]})
    ax = attribution.plot_roas(roi, ax=plt.subplots(figsize=(5, 2))[1])
    ax.figure.canvas.draw()
    box = ax.get_window_extent()
    for t in ax.texts:
        assert t.get_window_extent().x1 <= box.x1, t.get_text()

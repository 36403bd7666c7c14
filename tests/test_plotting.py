import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

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


def test_plot_helpers_take_ax_and_return_it(sample_ds):
    from helpers import quality

    fig, axes = plt.subplots(1, 2)
    assert plotting.plot_accounting(sample_ds.accounting, ax=axes[0]) is axes[0]
    assert plotting.plot_daily_counts(quality.daily_counts(sample_ds), ax=axes[1]) is axes[1]
    assert axes[0].get_title() and axes[0].get_xlabel() and axes[1].get_ylabel()
    plt.close(fig)

"""Shared statistics and the one Kaplan–Meier estimator (issue 17): hand-computed values, and the import flow."""

from __future__ import annotations

import ast

import matplotlib

matplotlib.use("Agg")
import numpy as np
import pandas as pd
import pytest

from helpers import stats, survival

from .conftest import REPO


def test_km_by_group_treats_censored_subjects_as_leaving_the_risk_set():
    # group a: events at 2 and 5, censored at 3; group b: one event at 1, one censored at 4
    d = pd.Series([2.0, 3.0, 5.0, 1.0, 4.0])
    e = pd.Series([True, False, True, True, False])
    fits = survival.km_by_group(d, e, pd.Series(["a", "a", "a", "b", "b"]))
    assert list(fits) == ["a", "b"]
    a = fits["a"].survival_function_at_times([1.9, 2, 4, 5]).round(6).tolist()
    assert a == [1.0, round(2 / 3, 6), round(2 / 3, 6), 0.0]  # the censored subject is not a drop-off
    assert fits["b"].survival_function_at_times([1, 4]).tolist() == [0.5, 0.5]
    assert list(survival.km_by_group(d, e)) == ["all"]


def test_plot_km_draws_the_cumulative_share_with_its_band():
    fits = survival.km_by_group(pd.Series([1.0, 2.0, 3.0, 4.0]), pd.Series([True, False, True, True]))
    ax = survival.plot_km(fits, cumulative=True, max_days=5, name=lambda g: f"<{g}>")
    (line,) = ax.get_lines()
    sf = fits["all"].survival_function_.iloc[:, 0]
    assert np.allclose(line.get_ydata(), 1 - sf.to_numpy()) and line.get_label() == "<all>"
    assert len(ax.collections) == 1 and ax.get_xlim() == (0, 5)  # the 95 % band
    assert len(survival.plot_km(fits, ci=False).collections) == 0


def test_two_proportion_comparison_lives_in_stats_and_is_the_one_everybody_uses():
    ok = [True] * 45 + [False] * 55 + [True] * 60 + [False] * 40
    r = stats.compare_variants(pd.DataFrame({"v": ["A"] * 100 + ["B"] * 100, "ok": ok}), "v", "ok")
    assert stats.decisions(r).to_dict() == {"A": "control", "B": "beats"}
    lo, hi = stats.wilson_interval(np.array([45]), np.array([100]))
    assert r["ci_low"].iloc[0] == pytest.approx(lo[0]) and r["ci_high"].iloc[0] == pytest.approx(hi[0])
    methods = {"acquisition", "attribution", "uplift", "staff", "targeting", "repurchase", "community", "tiers"}
    for name in ("attribution", "uplift", "staff"):
        tree = ast.parse((REPO / "helpers" / f"{name}.py").read_text(encoding="utf-8"))
        imported = {n.module.split(".")[-1] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
        assert not (imported & methods) - {name}, (name, imported & methods)  # shared statistics, not a sibling method


@pytest.mark.parametrize("shape", [(1, 1), (7, 2), (1_000, 300), (999, 301), (40_001, 50)])
@pytest.mark.parametrize("q", [[0.05, 0.95], [0.0, 1.0], [0.5], [0.025, 0.5, 0.975], [1 / 3]])
def test_row_quantiles_equal_numpy_bit_for_bit(shape, q):
    rng = np.random.default_rng(len(q) * shape[0])
    a = rng.gamma(2.0, size=shape)
    for layout in (np.ascontiguousarray(a), np.asfortranarray(a)):  # the CLV draws matrix is column-major
        assert np.array_equal(stats.row_quantiles(layout, q, block=97), np.quantile(a, q, axis=1))
    assert np.array_equal(stats.row_quantiles(a, q), np.quantile(a, q, axis=1))


def test_row_quantiles_give_nan_for_a_row_with_nan_and_check_their_input():
    a = np.random.default_rng(1).normal(size=(300, 40))
    a[[3, 299], [0, 39]] = np.nan
    got = stats.row_quantiles(a, [0.05, 0.95], block=64)
    assert np.isnan(got[:, [3, 299]]).all() and not np.isnan(np.delete(got, [3, 299], axis=1)).any()
    assert np.array_equal(got, np.quantile(a, [0.05, 0.95], axis=1), equal_nan=True)
    with pytest.raises(ValueError, match="in \\[0, 1\\]"):
        stats.row_quantiles(a, [1.5])
    with pytest.raises(ValueError, match="2-D"):
        stats.row_quantiles(a[0], [0.5])

"""Models that use OpenMP / BLAS run with the thread pools they are given (one thread by default), never all cores.

Measured on the 2-core reference machine beside two CPU-bound processes: with one OpenMP thread per core, 03 on the
sample took 727 s instead of 81 s; with one thread, 98 s (``bench/bench_report.py --busy 2``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
from sklearn.cluster import KMeans
from sklearn.decomposition import NMF
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from threadpoolctl import threadpool_info

from helpers import base, params, propensity, tiers, topics
from helpers import clv_analysis as ca
from helpers import uplift as U

from .conftest import REPO
from .test_clv_analysis import _add_values, _bgnbd_holdout


def _openmp_threads() -> set[int]:
    return {p["num_threads"] for p in threadpool_info() if p["user_api"] == "openmp"}


def _pool_threads() -> set[int]:
    return {p["num_threads"] for p in threadpool_info()}


@pytest.fixture
def seen(monkeypatch) -> list[set[int]]:
    """OpenMP and BLAS pool sizes in force whenever a boosting, KMeans or NMF model fits or predicts."""
    record: list[set[int]] = []
    for cls in (HistGradientBoostingClassifier, HistGradientBoostingRegressor, KMeans, NMF):
        for name in ("fit", "predict", "predict_proba", "transform"):
            if hasattr(cls, name):
                original = getattr(cls, name)

                def wrapped(self, *a, _original=original, **k):
                    record.append(_pool_threads())
                    return _original(self, *a, **k)

                monkeypatch.setattr(cls, name, wrapped)
    return record


def _classification(n: int = 600, seed: int = 0) -> tuple[pd.DataFrame, pd.Series, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
    w = rng.integers(0, 2, n)
    y = pd.Series((X["a"] + w * X["b"] + rng.normal(size=n) > 0).astype(int))
    return X, y, w


def _fit_all(n_threads: int | None) -> None:
    X, y, w = _classification()
    m = propensity.PropensityModel(n_threads=n_threads).fit(X, y)
    m.predict_proba(X)
    m.importance(X, y, n_repeats=1)
    s = _add_values(_bgnbd_holdout(1500, 1.0, 10.0, 0.5, 3.0, T=40.0, H=40.0, seed=8), seed=9, dependence=1.0)
    ca.SpendRegression(n_threads=n_threads).fit(s).expected_average_value(s)
    U.TwoModelUplift("hgb", n_threads=n_threads).fit(X, w, y).predict_uplift(X)
    rng = np.random.default_rng(1)
    users = pd.DataFrame({"orders": rng.poisson(3, 400) + 2, "gmv": rng.gamma(2, 100, 400), "tenure_days": 400})
    tiers.fit_tiers(users, k=3, n_threads=n_threads).stability(users, n_boot=2)
    words = ["优惠", "发货", "尺码", "退款", "直播", "新品", "会员", "积分"]
    lines = [" ".join(rng.choice(words, 4)) for _ in range(300)]
    corpus = topics.segment(pd.Series(lines))
    topics.ChatTopics(k=3, n_threads=n_threads).fit(corpus).transform(corpus)


@pytest.mark.skipif(not _openmp_threads(), reason="scikit-learn's OpenMP runtime is not loaded")
def test_models_run_on_one_thread_by_default(seen):
    before = _openmp_threads()
    _fit_all(n_threads=1)
    assert len(seen) >= 10 and all(s == {1} for s in seen), seen
    assert _openmp_threads() == before  # the limit is lifted afterwards


@pytest.mark.skipif(not _openmp_threads() or (os.cpu_count() or 1) < 2, reason="needs OpenMP and two cores")
def test_none_gives_every_core(seen):
    _fit_all(n_threads=None)
    assert seen and all(s == {os.cpu_count()} for s in seen), seen


def test_interval_draws_in_threads_equal_the_serial_draws(monkeypatch):
    """``thread_map`` computes each draw exactly as alone: intervals are bit-identical with one thread or two."""
    from helpers import base
    from helpers.clv import BetaGeo, GammaGamma
    from helpers.latent_class import LatentClassCLV, latent_class_intervals

    s = _add_values(_bgnbd_holdout(3000, 1.0, 10.0, 0.5, 3.0, T=40.0, H=40.0, seed=8), seed=9, dependence=0.0)
    s.attrs["unit"] = "D"
    by = pd.Series(np.where(np.arange(len(s)) % 3 == 0, "a", "b"), index=s.index)
    lc = LatentClassCLV(n_classes=2, max_iter=30).fit(s, by)
    out = {}
    for n in (1, 2):
        monkeypatch.setattr(base, "MAP_THREADS", n)
        iv = ca.clv_intervals(BetaGeo().fit(s), GammaGamma().fit(s), s, by=by, n_draws=40, horizon_days=60)
        out[n] = (iv.customers, iv.groups, latent_class_intervals(lc, s, by, by, horizon_days=60, n_draws=40))
    for one, two in zip(out[1], out[2], strict=True):
        pd.testing.assert_frame_equal(one, two, check_exact=True)


def test_propensity_threads_give_the_same_scores_and_importance(monkeypatch):
    """Row blocks and permuted features run side by side (``n_jobs``): the same numbers as one at a time."""
    monkeypatch.setattr(propensity, "PREDICT_BLOCK", 150)  # several blocks on a small frame
    X, y, _ = _classification(n=1000, seed=3)
    out = {}
    for jobs in (1, 2):
        m = propensity.PropensityModel(n_jobs=jobs).fit(X, y)
        out[jobs] = (m.predict_proba(X), m.importance(X, y, n_repeats=3))
    pd.testing.assert_series_equal(out[1][0], out[2][0], check_exact=True)
    pd.testing.assert_frame_equal(out[1][1], out[2][1], check_exact=True)
    one_block = propensity.PropensityModel(n_jobs=2).fit(X, y)
    monkeypatch.setattr(propensity, "PREDICT_BLOCK", 10**6)
    pd.testing.assert_series_equal(one_block.predict_proba(X), out[2][0], check_exact=True)


def test_cross_fitted_folds_in_threads_equal_the_serial_folds(monkeypatch):
    """The folds of :class:`helpers.uplift.CrossFittedUplift` are fitted side by side: the same out-of-fold scores."""
    from helpers import base
    from helpers.simulate import uplift_population

    d = uplift_population(2000, seed=2)
    X = d[["x0", "x1", "x2"]]
    out = {}
    for n in (1, 2):
        monkeypatch.setattr(base, "MAP_THREADS", n)
        cf = U.CrossFittedUplift(U.make_model("x_learner_hgb", 0), folds=3).fit(X, d["treatment"], d["y"])
        out[n] = (cf.oof_, cf.fold_, cf.predict_uplift(X))
    pd.testing.assert_series_equal(out[1][0], out[2][0], check_exact=True)
    np.testing.assert_array_equal(out[1][1], out[2][1])
    pd.testing.assert_series_equal(out[1][2], out[2][2], check_exact=True)


def test_a_notebook_holds_every_thread_pool_at_one_thread():
    """numpy's BLAS outside the models' limits (and libraries loaded later) starts one thread, not one per core.

    The busy-machine profile that found it: 03 up to its truth checks, beside two CPU-bound processes, took 210 s
    with OpenBLAS's default pools (their threads spin while they wait) and 74 s with one thread.
    """
    code = params.parameters_cell("00_data_prep") + textwrap.dedent(
        """
        import numpy
        from helpers import params
        params.start_notebook("00_data_prep", globals(), quiet=True)
        import scipy.linalg, sklearn.ensemble  # loaded after the first cell
        from threadpoolctl import threadpool_info
        print(json.dumps([[p["user_api"], p["num_threads"]] for p in threadpool_info()]))
        """
    )
    env = {k: v for k, v in os.environ.items() if k not in base._POOL_VARIABLES}
    run = subprocess.run(
        [sys.executable, "-c", "import json\n" + code], cwd=REPO / "notebooks", env=env, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    pools = json.loads(run.stdout.strip().splitlines()[-1])
    assert {api for api, _ in pools} >= {"blas", "openmp"}, pools
    assert all(n == 1 for _, n in pools), pools

"""Repurchase models: CDNOW published results, planted truth, time units, degenerate input, no leakage."""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd
import pytest
from scipy.optimize import check_grad

from helpers import repurchase as rp
from helpers.repurchase import BetaGeo, GammaGamma, summarize
from helpers.simulate import bgnbd_summary

from .conftest import SHARED, needs_shared

CDNOW = SHARED / "cdnow"
needs_cdnow = needs_shared(CDNOW)


@pytest.fixture(scope="module")
def cdnow_orders() -> pd.DataFrame:
    rows = [line.split() for line in (CDNOW / "CDNOW_sample.txt").read_text().splitlines() if line.strip()]
    return pd.DataFrame(
        {
            "user_id": [int(r[1]) for r in rows],
            "ordered_at": pd.to_datetime([r[2] for r in rows], format="%Y%m%d"),
            "amount": [float(r[4]) for r in rows],
        }
    )


@pytest.fixture(scope="module")
def cdnow_summary(cdnow_orders) -> pd.DataFrame:
    return summarize(cdnow_orders, "1998-06-30", unit="W", calibration_end="1997-09-30")


@needs_cdnow
def test_summary_reproduces_the_published_cdnow_summary(cdnow_summary):
    ref = pd.read_csv(CDNOW / "cdnow_customers_summary.csv").set_index("ID")
    s = cdnow_summary.loc[ref.index]
    assert len(cdnow_summary) == 2357 and (s["frequency"] > 0).sum() == 946
    assert (s["frequency"] == ref["frequency"]).all()
    assert (s["recency"] - ref["recency"]).abs().max() < 0.006  # the file is rounded to 2 decimals
    assert (s["T"] - ref["T"]).abs().max() < 0.006
    assert cdnow_summary["frequency_holdout"].sum() == 1882
    assert cdnow_summary["duration_holdout"].iloc[0] == pytest.approx(39.0)


@needs_cdnow
def test_bgnbd_reproduces_fader_hardie_lee_2005(cdnow_summary):
    m = BetaGeo().fit(cdnow_summary)
    got = {k: round(v, 3) for k, v in m.params_.items()}
    assert got == {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    assert round(m.log_likelihood_, 1) == -9582.4
    assert m.n_customers_ == 2357 and all(np.isfinite(list(m.standard_errors_.values())))


@needs_cdnow
def test_gamma_gamma_reproduces_fader_hardie_lee_2005(cdnow_summary):
    g = GammaGamma().fit(cdnow_summary)
    assert g.n_customers_ == 946
    assert {k: round(v, 2) for k, v in g.params_.items()} == {"p": 6.25, "q": 3.74, "gamma": 15.44}


def test_analytic_gradient_matches_numerical():
    s = bgnbd_summary(3000, 0.6, 8.0, 0.9, 3.0, 40.0, seed=2)
    x, tx, T = (s[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    rows = rp._prepare(x, tx, T, np.ones_like(x))
    lp = np.log([0.4, 6.0, 1.1, 2.0])
    err = check_grad(lambda p: rp._bgnbd_ll_grad(p, rows)[0], lambda p: rp._bgnbd_ll_grad(p, rows)[1], lp)
    assert err < 1e-3 * np.abs(rp._bgnbd_ll_grad(lp, rows)[1]).max()


@pytest.mark.parametrize("params", [(0.5, 10.0, 0.8, 2.5), (2.0, 60.0, 1.5, 5.0), (0.25, 4.0, 0.8, 2.4)])
def test_bgnbd_recovers_planted_parameters(params):
    r, alpha, a, b = params
    T = np.random.default_rng(9).uniform(20, 80, 30_000)
    m = BetaGeo().fit(bgnbd_summary(30_000, r, alpha, a, b, T, seed=4))
    for k, v in zip(("r", "alpha", "a", "b"), params, strict=True):
        assert abs(m.params_[k] - v) <= 3 * m.standard_errors_[k], (k, m.params_[k], v, m.standard_errors_[k])


def test_gamma_gamma_recovers_planted_parameters():
    rng = np.random.default_rng(5)
    n, p, q, gamma = 20_000, 6.0, 4.0, 50.0
    x = rng.integers(1, 8, n)
    nu = rng.gamma(q, 1 / gamma, n)
    m = np.array([rng.gamma(p, 1 / v, k).mean() for v, k in zip(nu, x, strict=True)])
    g = GammaGamma().fit(pd.DataFrame({"frequency": x, "monetary_value": m}))
    for k, v in (("p", p), ("q", q), ("gamma", gamma)):
        assert abs(g.params_[k] - v) <= 3 * g.standard_errors_[k], (k, g.params_[k], v)
    assert g.mean_value_ == pytest.approx(p * gamma / (q - 1), rel=0.05)


def test_weighted_rows_fit_like_one_row_per_customer():
    s = bgnbd_summary(4000, 0.5, 10.0, 0.8, 2.5, 30.0, seed=8)
    s["recency"] = s["recency"].round()
    collapsed = s.groupby(["frequency", "recency", "T"]).size().rename("weight").reset_index()
    a, b = BetaGeo().fit(s), BetaGeo().fit(collapsed)
    assert a.params_ == pytest.approx(b.params_, rel=1e-9) and a.log_likelihood_ == pytest.approx(b.log_likelihood_)
    assert b.n_customers_ == 4000


def test_model_quantities_are_coherent():
    s = bgnbd_summary(5000, 0.5, 10.0, 0.8, 2.5, 52.0, seed=6)
    m = BetaGeo().fit(s)
    pa = m.p_alive(s)
    assert (pa[s["frequency"] == 0] == 1).all()  # the one-time-buyer trap: P(alive) = 1 by construction
    quiet = pd.DataFrame({"frequency": [5, 5, 5], "recency": [50.0, 30.0, 10.0], "T": [52.0] * 3})
    assert m.p_alive(quiet).is_monotonic_decreasing  # a frequent buyer going quiet fades
    probs = [m.probability_of_n_purchases(26, n) for n in range(300)]
    assert sum(probs) == pytest.approx(1.0, abs=1e-9)
    assert sum(n * p for n, p in enumerate(probs)) == pytest.approx(float(m.expected_purchases_new(26)), rel=1e-6)
    p1 = m.probability_of_purchase(s, 10)
    assert ((p1 >= 0) & (p1 <= pa)).all()
    assert (m.expected_purchases(s, 20) >= m.expected_purchases(s, 10)).all()


def test_clv_is_the_same_in_days_and_weeks_and_never_negative():
    rng = np.random.default_rng(1)
    n = 4000
    first = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 120, n), unit="D")
    s = bgnbd_summary(n, 2.0, 60.0, 1.0, 6.0, 300.0, seed=7)
    rows = []
    for i, (f0, k) in enumerate(zip(first, s["frequency"], strict=True)):
        days = np.sort(rng.choice(np.arange(1, 240), size=k, replace=False)) if k else []
        for d in [0, *days]:
            rows.append((i, f0 + pd.Timedelta(days=int(d)), float(rng.gamma(6, 20))))
    orders = pd.DataFrame(rows, columns=["user_id", "ordered_at", "amount"])
    clvs = {}
    for unit in ("D", "W"):
        summ = summarize(orders, "2024-12-31", unit=unit)
        clvs[unit] = rp.customer_lifetime_value(BetaGeo().fit(summ), GammaGamma().fit(summ), summ, horizon_days=365)
    assert (clvs["D"] >= 0).all()
    assert clvs["W"].sum() == pytest.approx(clvs["D"].sum(), rel=0.03)


def test_summarize_counts_purchase_occasions_net_of_refunds_and_converts_units():
    """Same-day orders are one occasion; a partial refund nets the day; a full refund removes it."""
    o = pd.DataFrame(
        {
            "user_id": ["a", "a", "a", "a", "b", "c", "c", "c"],
            "ordered_at": pd.to_datetime(
                [
                    "2025-01-01 09:00",
                    "2025-01-01 20:00",
                    "2025-01-15 00:00",
                    "2025-01-20 00:00",
                    "2025-01-10 00:00",
                    "2025-01-02 10:00",
                    "2025-01-05 10:00",
                    "2025-01-05 10:12",
                ]
            ),
            "amount": [10.0, 5.0, 40.0, 10.0, 7.0, 20.0, 999.0, 999.0],
            "status": ["paid", "paid", "paid", "refunded", "paid", "paid", "paid", "refunded"],
        }
    )
    s = summarize(o, "2025-01-29", unit="D")
    assert s.loc["a"].to_dict() == {"frequency": 1, "recency": 14.0, "T": 28.0, "monetary_value": 30.0}
    assert s.loc["b", "frequency"] == 0 and s.loc["b", "monetary_value"] == 0
    # c's 999 order was cancelled 12 minutes later: no purchase occasion, no monetary value
    assert s.loc["c"].to_dict() == {"frequency": 0, "recency": 0.0, "T": 27.0, "monetary_value": 0.0}
    w = summarize(o, "2025-01-29", unit="W")
    assert w.loc["a", "T"] == pytest.approx(4.0) and w.attrs["unit"] == "W"
    h = summarize(o, "2025-01-29", unit="D", calibration_end="2025-01-12")
    assert h.loc["a", "frequency"] == 0 and h.loc["a", "frequency_holdout"] == 1
    assert h.loc["a", "monetary_value_holdout"] == 30.0 and h.loc["a", "duration_holdout"] == 17.0
    # the calibration history is what was known at its end: a refund after it does not reach back
    late = pd.concat(
        [
            o,
            pd.DataFrame(
                {"user_id": ["b"], "ordered_at": [pd.Timestamp("2025-01-14")], "amount": [7.0], "status": ["refunded"]}
            ),
        ]
    )
    assert "b" in summarize(late, "2025-01-29", unit="D", calibration_end="2025-01-12").index
    assert "b" not in summarize(late, "2025-01-29", unit="D").index


def test_summarize_accepts_any_pandas_datetime():
    """ns with sub-microsecond parts (float-day arithmetic), other resolutions, tz-aware: all give the same summary."""
    base = pd.DataFrame({"user_id": ["a", "a", "b"], "amount": [10.0, 20.0, 5.0]})
    t = pd.Series(pd.to_datetime(["2025-01-01 10:00", "2025-01-08 10:00", "2025-01-03 10:00"]))
    ref = summarize(base.assign(ordered_at=t), "2025-01-31")
    variants = [
        t + pd.to_timedelta(np.array([0.1, 0.7, 1 / 3]) * 1e-6, unit="D"),  # sub-microsecond nanoseconds
        t.astype("datetime64[s]"),
        t.astype("datetime64[ms]"),
        t.dt.tz_localize("Asia/Shanghai"),
    ]
    for v in variants:
        pd.testing.assert_frame_equal(summarize(base.assign(ordered_at=v), "2025-01-31"), ref)
    with pytest.raises(ValueError, match="unit must be"):
        summarize(base.assign(ordered_at=t), "2025-01-29", unit="M")


def test_degenerate_inputs_give_clear_messages():
    one_timers = pd.DataFrame({"frequency": [0] * 50, "recency": [0.0] * 50, "T": [30.0] * 50, "monetary_value": 0.0})
    with pytest.raises(ValueError, match="needs repeat purchases: none of the 50 customers"):
        BetaGeo().fit(one_timers)
    with pytest.raises(ValueError, match="at least 10 customers; got 1"):
        BetaGeo().fit(one_timers.head(1))
    with pytest.raises(ValueError, match="at least 10 repeat buyers"):
        GammaGamma().fit(one_timers)
    with pytest.raises(ValueError, match="recency > T"):
        BetaGeo().fit(one_timers.assign(frequency=1, recency=40.0))
    with pytest.raises(RuntimeError, match="not fitted yet: call fit"):
        BetaGeo().p_alive(one_timers)


def test_contact_list_filters_and_explains():
    scores = pd.DataFrame(
        {
            "p_alive": [0.9, 0.95, 0.5, 0.99],
            "expected_orders": [2.0, 3.0, 1.0, 5.0],
            "expected_value": [300.0, 500.0, 100.0, 900.0],
            "days_since_last_order": [5, 10, 40, 3],
            "touches_last_7d": [0, 1, 0, 6],
            "is_friend": [True, True, True, True],
        },
        index=pd.Index(["u1", "u2", "u3", "u4"], name="user_id"),
    )
    scores.loc["u2", "is_friend"] = False
    out = rp.next_best_contacts(scores, top_n=5, max_recent_touches=2)
    assert out["user_id"].tolist() == ["u1", "u3"]  # u2 deleted us, u4 was touched 6 times this week
    assert out["reason"].iloc[0].startswith("P(alive) 90%")


def test_propensity_features_do_not_leak_the_future(clean_sample):
    from helpers import propensity
    from helpers.engine import connect

    eng = connect(clean_sample)
    X1, y1, _ = propensity.build_frame(eng, "2025-09-01", 60)
    # the same features from data cut at the cutoff: identical
    import shutil
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        for p in clean_sample.glob("*.parquet"):
            df = pd.read_parquet(p)
            col = {"orders": "ordered_at", "touches": "touched_at"}.get(p.stem)
            if col:
                df = df[df[col] < pd.Timestamp("2025-09-02")]
            df.to_parquet(Path(tmp) / p.name)
        X2, y2, _ = propensity.build_frame(connect(tmp), "2025-09-01", 60)
        shutil.rmtree(tmp, ignore_errors=True)
    pd.testing.assert_frame_equal(X1.sort_index(), X2.sort_index(), check_dtype=False, check_categorical=False)
    assert y1.sum() > 0 and y2.sum() == 0  # the labels do come from after the cutoff


def test_tracking_from_day_counts_equals_the_per_customer_sum():
    from helpers.features import purchase_day_counts
    from helpers.simulate import bgnbd_summary

    bgf = rp.BetaGeo().fit(bgnbd_summary(3000, r=0.8, alpha=30, a=0.9, b=3, T=200, seed=4))
    orders = pd.DataFrame(
        {
            "user_id": ["a", "a", "a", "b", "b", "c", "d"],
            "ordered_at": pd.to_datetime(
                [
                    "2025-01-01 09:00",
                    "2025-01-01 18:00",
                    "2025-01-05 10:00",
                    "2025-01-02 10:00",
                    "2025-01-09 10:00",
                    "2025-01-02 10:00",
                    "2025-01-20 10:00",
                ]
            ),
            "amount": 10.0,
            "status": "paid",
        }
    )
    counts = purchase_day_counts(ibis.memtable(orders), "2025-01-31", first_through="2025-01-10").to_pandas()
    got = counts.set_index(pd.to_datetime(counts["day"]))[["first", "repeats"]].to_dict("index")
    # a: first 01-01 (two orders, one day), repeat 01-05; b: 01-02, repeat 01-09; c: 01-02; d: first after 01-10
    assert got == {
        pd.Timestamp("2025-01-01"): {"first": 1, "repeats": 0},
        pd.Timestamp("2025-01-02"): {"first": 2, "repeats": 0},
        pd.Timestamp("2025-01-05"): {"first": 0, "repeats": 1},
        pd.Timestamp("2025-01-09"): {"first": 0, "repeats": 1},
    }
    track = rp.tracking(bgf, counts, start="2025-01-01", end="2025-01-31")
    firsts = pd.to_datetime(["2025-01-01", "2025-01-02", "2025-01-02"])
    for day in (pd.Timestamp("2025-01-01"), pd.Timestamp("2025-01-15"), pd.Timestamp("2025-01-31")):
        ages = np.array([(day - f).days for f in firsts], dtype=float)
        ages = ages[ages > 0]
        brute = float(bgf.expected_purchases_new(ages).sum()) if ages.size else 0.0
        assert track.loc[day, "model"] == pytest.approx(brute, rel=1e-12)
    assert track["actual"].iloc[-1] == 2 and track.loc[pd.Timestamp("2025-01-05"), "actual"] == 1


def test_unidentified_dropout_gets_nan_standard_errors_not_zero():
    """Nobody drops out: a and b run off to the bound; their SEs are 'not measured', r and alpha keep theirs."""
    rng = np.random.default_rng(0)
    n = 3000
    lam = rng.gamma(2, 1 / 20, size=n)
    rows = []
    for rate in lam:
        k = rng.poisson(rate * 100)
        rows.append((k, float(np.sort(rng.uniform(0, 100, k))[-1]) if k else 0.0, 100.0))
    m = BetaGeo().fit(pd.DataFrame(rows, columns=["frequency", "recency", "T"]))
    assert np.isnan(m.standard_errors_["a"]) and np.isnan(m.standard_errors_["b"])
    assert 0 < m.standard_errors_["r"] < 0.2 and 0 < m.standard_errors_["alpha"] < 2
    named = {word.strip(",:") for note in m.notes_ for word in note.split()}
    assert {"a", "b"} <= named  # the notes say which parameters have no standard error (a at its bound, b unpinned)
    assert m.params_["r"] == pytest.approx(2, rel=0.1)
    assert "BetaGeo(penalizer=0.0; r=" in repr(m)


def test_next_steps_point_only_at_what_the_run_measured():
    """03's "what to do": LTV / CAC named per channel when measured, said to be not measured otherwise."""
    from helpers.repurchase import next_steps

    ratio = pd.DataFrame({"ltv_cac": [0.4, 0.9, 3.0]}, index=["moments", "ads", "store_qr"])
    names = {"moments": "朋友圈", "ads": "广告", "store_qr": "门店二维码"}
    low = next_steps(ratio, True, "zh", names.get)
    assert "朋友圈、广告" in low and "门店二维码" not in low and "未测量" not in low
    fine = next_steps(ratio.assign(ltv_cac=[1.5, 2.0, float("nan")]), True, "en")
    assert "at least 1" in fine.splitlines()[0]
    missing = next_steps(None, False, "en").splitlines()
    assert "not measured" in missing[0] and "no tier values" in missing[1] and len(missing) == 4
    no_cost = next_steps(ratio.assign(ltv_cac=float("nan")), True)  # channels without a CAC: not measured either
    assert no_cost.splitlines()[0] == next_steps(None, True).splitlines()[0]

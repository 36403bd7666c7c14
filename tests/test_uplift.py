"""Uplift models and their evaluation: planted customer types, metric definitions, leakage guard, and Hillstrom."""

from __future__ import annotations

import warnings

import ibis
import matplotlib
import numpy as np
import pandas as pd
import pytest

from helpers import features as F
from helpers import uplift as U
from helpers.simulate import UPLIFT_TYPES, uplift_population

from .conftest import SHARED, needs_shared

matplotlib.use("Agg")

FEATS = ["x0", "x1", "x2", "x3", "x4", "channel"]
MODELS = {
    "two-model": lambda: U.TwoModelUplift(),
    "class transformation": lambda: U.ClassTransformationUplift(),
    "class transformation (transformed outcome)": lambda: U.ClassTransformationUplift(method="transformed_outcome"),
    "X-learner": lambda: U.XLearnerUplift(),
    "X-learner (hgb)": lambda: U.XLearnerUplift("hgb"),
}


@pytest.fixture(scope="module")
def population():
    return uplift_population(20_000, seed=1), uplift_population(20_000, seed=2)


# ------------------------------------------------------------------------------------------ planted types
@pytest.mark.parametrize("name", MODELS)
def test_learners_rank_planted_persuadables_top_and_do_not_disturbs_bottom(population, name):
    train, test = population
    s = MODELS[name]().fit(train[FEATS], train["treatment"], train["y"]).predict_uplift(test[FEATS])
    top = test.loc[s.rank(ascending=False, method="first") <= len(test) // 10, "type"]
    bottom = test.loc[s.rank(ascending=True, method="first") <= len(test) // 10, "type"]
    # persuadables are 25 % of customers and do-not-disturbs 12.5 %; measured: ≥ 0.99 / ≥ 0.81 for every model
    # here except the plain logistic T-learner (0.90 / 0.68), whose per-arm linear models miss the interaction
    assert (top == "persuadable").mean() >= 0.85
    assert (bottom == "do_not_disturb").mean() >= 0.6
    assert np.corrcoef(s, test["tau"])[0, 1] > 0.7


@pytest.mark.parametrize("method", ["reweight", "transformed_outcome"])
def test_class_transformation_handles_an_unequal_split(method):
    train = uplift_population(20_000, seed=3, treatment_share=0.8)
    test = uplift_population(20_000, seed=4, treatment_share=0.8)
    m = U.ClassTransformationUplift(method=method).fit(train[FEATS], train["treatment"], train["y"])
    s = m.predict_uplift(test[FEATS])
    # an untreated 50/50 formula would shift every prediction by about 2 × (0.8 − 0.5) × P(y): the mean would be off
    assert abs(s.mean() - test["tau"].mean()) < 0.03
    assert np.corrcoef(s, test["tau"])[0, 1] > 0.7
    assert any("not 50 %" in n for n in m.notes_)


def test_verdict_prefers_the_model_on_heterogeneous_data(population):
    train, test = population
    s = U.TwoModelUplift().fit(train[FEATS], train["treatment"], train["y"]).predict_uplift(test[FEATS])
    ev = U.evaluate(test["y"], test["treatment"], s, lang="en")
    v = ev.verdict
    assert v.use == "model" and v.heterogeneous
    assert v.qini_p_value <= 0.01 and v.difference_ci_low > 0
    assert "distinguishable" in v.message and "not distinguishable" not in v.message
    # a difference of two rates is in percentage points, the interval named by its level, the permutation floor ≤
    assert " pp (95% interval " in v.message and "%)" not in v.message.split("interval")[1]
    assert "p ≤ 0.005" in v.message and "CI" not in v.message
    zh = U.evaluate(test["y"], test["treatment"], s, lang="zh", alpha=0.1).verdict.message
    assert "个百分点（90% 区间 " in zh and "p ≤ 0.005" in zh
    # deciles: the top group's measured uplift is near the planted persuadable uplift (0.30) and the bottom negative
    d = ev.deciles
    assert d.loc[0, "ci_low"] <= 0.30 <= d.loc[0, "ci_high"] + 0.02
    assert d.iloc[-1]["uplift"] < 0


@pytest.mark.parametrize("name", ["two-model", "class transformation", "X-learner"])
def test_verdict_says_no_heterogeneity_on_a_constant_effect(name):
    train = uplift_population(20_000, seed=5, constant_effect=0.05)
    test = uplift_population(20_000, seed=6, constant_effect=0.05)
    s = MODELS[name]().fit(train[FEATS], train["treatment"], train["y"]).predict_uplift(test[FEATS])
    v = U.evaluate(test["y"], test["treatment"], s, lang="zh").verdict
    assert v.use == "average" and not v.heterogeneous
    assert v.average_effect_ci_low <= 0.05 <= v.average_effect_ci_high
    assert "无法区分" in v.message and "平均效应" in v.message


def test_verdict_with_too_few_controls_falls_back_to_the_average():
    d = uplift_population(400, seed=7, treatment_share=0.9)
    v = U.evaluate(d["y"], d["treatment"], d["tau"], min_per_arm=50, lang="en").verdict
    assert v.use == "average" and np.isnan(v.qini_p_value) and "Too few" in v.message


def test_planted_types_match_their_rates():
    d = uplift_population(200_000, seed=8)
    for kind, r in UPLIFT_TYPES.items():
        g = d[d["type"] == kind]
        measured = g.loc[g["treatment"] == 1, "y"].mean() - g.loc[g["treatment"] == 0, "y"].mean()
        # the x2 shift of the log-odds moves the mean uplift a little away from p_treated − p_control
        assert abs(measured - g["tau"].mean()) < 0.02
        assert abs(g["tau"].mean() - (r["p_treated"] - r["p_control"])) < 0.03


# ---------------------------------------------------------------------------------------------- metrics
def test_metrics_by_hand_on_a_small_example():
    # sorted by score: (y, w) = (1,1) (0,0) (1,1) (0,1) (1,0) (0,0)
    y = [1, 0, 1, 0, 1, 0]
    w = [1, 0, 1, 1, 0, 0]
    s = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4]
    q = U.qini_curve(y, w, s)
    # n=1: 1 − 0; n=2: 1 − 0·1/1; n=3: 2 − 0; n=4: 2 − 0·3/1; n=5: 2 − 1·3/2; n=6: 2 − 1·3/3
    assert q["qini"].tolist() == [0.0, 1.0, 1.0, 2.0, 2.0, 0.5, 1.0]
    assert U.uplift_at_k(y, w, s, k=0.5) == pytest.approx(1.0 - 0.0)  # top 3: treated 2/2, control 0/1
    # by group: the top int(3 · 0.5) = 1 of each arm: treated (1), control (0)
    assert U.uplift_at_k(y, w, s, k=0.5, strategy="by_group") == pytest.approx(1.0)
    u = U.uplift_curve(y, w, s)
    assert u["uplift"].iloc[-1] == pytest.approx((2 / 3 - 1 / 3) * 6)


def test_metrics_match_scikit_uplift():
    sk = pytest.importorskip("sklift.metrics")
    rng = np.random.default_rng(0)
    n = 5000
    w = rng.integers(0, 2, n)
    y = (rng.random(n) < 0.2 + 0.1 * w * rng.random(n)).astype(int)
    for score in (rng.random(n), np.round(rng.random(n), 1), y * w - y * (1 - w) + rng.random(n) * 0.1):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # scikit-uplift's use of a deprecated scikit-learn helper
            warnings.simplefilter("ignore", RuntimeWarning)  # its own empty-slice means
            ref_q = sk.qini_auc_score(y, score, w)
            ref_a = sk.uplift_auc_score(y, score, w)
            ref_k = sk.uplift_at_k(y, score, w, strategy="overall", k=0.3)
            ref_g = sk.uplift_at_k(y, score, w, strategy="by_group", k=0.3)
            ref_x, ref_c = sk.qini_curve(y, score, w)
            ref_d = sk.uplift_by_percentile(y, score, w, strategy="overall", bins=10, total=False)
        assert U.qini_coefficient(y, w, score) == pytest.approx(ref_q, abs=1e-12)
        assert U.auuc(y, w, score) == pytest.approx(ref_a, abs=1e-12)
        assert U.uplift_at_k(y, w, score, 0.3) == pytest.approx(ref_k, abs=1e-12)
        assert U.uplift_at_k(y, w, score, 0.3, strategy="by_group") == pytest.approx(ref_g, abs=1e-12)
        c = U.qini_curve(y, w, score)
        np.testing.assert_allclose(c["n"], ref_x)
        np.testing.assert_allclose(c["qini"], ref_c, atol=1e-9)
        np.testing.assert_allclose(U.uplift_by_decile(y, w, score)["uplift"], ref_d["uplift"], atol=1e-12)


def test_decile_intervals_are_newcombe_from_compare_variants():
    from helpers.acquisition import compare_variants

    d = uplift_population(3000, seed=9)
    dec = U.uplift_by_decile(d["y"], d["treatment"], d["tau"], bins=5)
    order = np.argsort(d["tau"].to_numpy(), kind="mergesort")[::-1]
    first = d.iloc[order[:600]]
    r = compare_variants(
        first.assign(arm=np.where(first["treatment"] == 1, "treatment", "control"), ok=first["y"].astype(bool)),
        "arm",
        "ok",
        control="control",
    ).set_index("variant")
    assert dec.loc[0, "ci_low"] == pytest.approx(r.loc["treatment", "diff_ci_low"])
    assert dec.loc[0, "ci_high"] == pytest.approx(r.loc["treatment", "diff_ci_high"])


def test_treatment_accepts_arm_labels_and_rejects_others():
    assert U._as_treatment(["treatment", "control"]).tolist() == [1, 0]
    with pytest.raises(ValueError, match="arm labels"):
        U._as_treatment(["treatment", "holdout?"])
    with pytest.raises(ValueError, match="both outcomes"):
        U.TwoModelUplift().fit(pd.DataFrame({"x": [1.0, 2, 3, 4]}), [1, 1, 0, 0], [1, 1, 0, 1])


def test_not_fitted_and_missing_features_raise():
    from helpers.base import NotFittedError

    with pytest.raises(NotFittedError):
        U.TwoModelUplift().predict_uplift(pd.DataFrame({"x0": [0.1]}))
    d = uplift_population(2000, seed=1)
    m = U.TwoModelUplift().fit(d[["x0", "x1"]], d["treatment"], d["y"])
    with pytest.raises(ValueError, match="x1"):
        m.predict_uplift(d[["x0"]])
    assert np.isnan(m.standard_errors_["treatment_share"]) and np.isnan(m.log_likelihood_)


def test_large_inputs_train_on_a_stratified_sample():
    d = uplift_population(5000, seed=2)
    m = U.TwoModelUplift(max_train_rows=2000).fit(d[FEATS], d["treatment"], d["y"])
    assert m.params_["n_train"] == 2000 and "2,000 of 5,000" in m.notes_[0]


def test_plots_return_axes_in_both_languages(population):
    _, test = population
    ev = U.evaluate(test["y"], test["treatment"], test["tau"], n_permutations=9)
    for lang in ("zh", "en"):
        ax = U.plot_qini({"planted τ": ev.qini_curve}, lang=lang)
        assert len(ax.lines) == 3  # curve, random line, zero line
        ax2 = U.plot_uplift_by_decile(ev.deciles, ev.verdict.average_effect, lang=lang)
        assert len(ax2.patches) == 10
    assert "随机" in U.plot_qini(ev.qini_curve).get_legend().get_texts()[-1].get_text()


# ---------------------------------------------------------------------------------------------- leakage
def _events():
    contacts = pd.DataFrame(
        {
            "user_id": ["a", "b", "c"],
            "added_at": pd.to_datetime(["2025-01-01", "2025-06-01", "2025-10-01"]),
            "channel": ["store_qr", "livestream", "store_qr"],
            "removed_at": pd.to_datetime([None, "2025-10-25", None]),
        }
    )
    orders = pd.DataFrame(
        {
            "order_id": ["1", "2", "3", "4"],
            "user_id": ["a", "a", "b", "a"],
            # a's third order is on the assignment day: it must not count
            "ordered_at": pd.to_datetime(
                ["2025-03-01 00:00", "2025-10-10 00:00", "2025-09-01 00:00", "2025-10-20 09:00"]
            ),
            "amount": [100.0, 50.0, 80.0, 70.0],
            "status": ["paid", "paid", "paid", "paid"],
        }
    )
    touches = pd.DataFrame(
        {
            "user_id": ["a", "b", "b", "c"],
            "touched_at": pd.to_datetime(
                ["2025-10-19 23:00", "2025-10-20 00:00", "2025-10-01 00:00", "2025-08-01 00:00"]
            ),
            "touch_type": ["private_chat", "coupon", "group_broadcast", "moments"],
        }
    )
    assignments = pd.DataFrame({"campaign_id": ["k"] * 3, "user_id": ["a", "b", "c"], "arm": ["treatment"] * 3})
    campaigns = pd.DataFrame(
        {"campaign_id": ["k"], "start": pd.to_datetime(["2025-10-20"]), "end": pd.to_datetime(["2025-10-31"])}
    )
    return {
        k: ibis.memtable(v)
        for k, v in dict(
            contacts=contacts, orders=orders, touches=touches, assignments=assignments, campaigns=campaigns
        ).items()
    }


def test_pretreatment_features_use_only_events_before_the_assignment_date():
    t = _events()
    f = F.pretreatment_features(
        t["assignments"], t["campaigns"], t["contacts"], t["orders"], t["touches"], recent_days=30
    ).execute()
    f = f.set_index("user_id")
    assert f.loc["a", "orders_before"] == 2 and f.loc["a", "gmv_before"] == 150.0  # not the order on 10-20
    assert f.loc["a", "orders_recent"] == 1
    assert f.loc["a", "days_since_last_order"] == pytest.approx(10.0)
    assert f.loc["b", "coupon_recent"] == 0  # the coupon at 00:00 of the start day is the treatment itself
    assert f.loc["b", "group_broadcast_recent"] == 1 and f.loc["a", "private_chat_recent"] == 1
    assert f.loc["c", "touches_recent"] == 0 and pd.isna(f.loc["c", "last_order_at"])
    assert f.loc["c", "tenure_days"] == pytest.approx(19.0)
    U.check_pretreatment(f.reset_index())  # nothing leaks


def test_leakage_guard_raises_on_a_feature_from_the_assignment_day():
    t = _events()
    f = F.pretreatment_features(t["assignments"], t["campaigns"], t["contacts"], t["orders"], t["touches"]).execute()
    leaky = f.copy()
    leaky.loc[0, "last_order_at"] = leaky.loc[0, "assigned_at"]  # on the day: already may be the treatment's effect
    with pytest.raises(U.LeakageError, match="last_order_at on or after assigned_at"):
        U.check_pretreatment(leaky)
    later = f.copy()
    later.loc[1, "last_touch_at"] = pd.Timestamp("2025-11-01")
    with pytest.raises(U.LeakageError, match="last_touch_at"):
        U.check_pretreatment(later)
    with pytest.raises(U.LeakageError, match="no 'assigned_at'"):
        U.check_pretreatment(f.drop(columns="assigned_at"))


def test_window_deletions_count_removals_inside_the_campaign_window():
    t = _events()
    d = F.campaign_window_deletions(t["assignments"], t["campaigns"], t["contacts"]).execute().set_index("user_id")
    assert d["deleted"].to_dict() == {"a": False, "b": True, "c": False}


# --------------------------------------------------------------------------------------------- Hillstrom
HILLSTROM = SHARED / "hillstrom" / "hillstrom.csv"
# Spread over 50 stratified 70/30 splits (bench/uplift_hillstrom_splits.py, logistic learners, seeds 0–49):
# standard deviation of uplift@30 % and of the Qini coefficient per model.
SPLIT_SD = {
    "two-model": {"uplift_at_30": 0.0071, "qini": 0.0126},
    "class transformation": {"uplift_at_30": 0.0076, "qini": 0.0126},
    "X-learner": {"uplift_at_30": 0.0067, "qini": 0.0116},
}
# Published: scikit-uplift's pipeline tutorial (class transformation, XGBoost, 50/50 split, seed 42) reports
# uplift@30 % = 0.0661 (strategy "overall"); an independent scikit-learn reproduction gave uplift@30 % 0.068 / 0.071 and
# Qini 0.060 / 0.049 for two-model / class transformation.
PUBLISHED = {
    "two-model": {"uplift_at_30": [0.068], "qini": [0.060]},
    "class transformation": {"uplift_at_30": [0.0661, 0.071], "qini": [0.049]},
}


@pytest.fixture(scope="module")
def hillstrom():
    d = pd.read_csv(HILLSTROM)
    d = d[d["segment"] != "Mens E-Mail"].reset_index(drop=True)
    X = d[["recency", "history_segment", "history", "mens", "womens", "zip_code", "newbie", "channel"]]
    w = (d["segment"] == "Womens E-Mail").astype(int).to_numpy()
    return X, w, d["visit"].to_numpy()


@needs_shared(HILLSTROM)
@pytest.mark.parametrize(
    "name,make",
    [
        ("two-model", U.TwoModelUplift),
        ("class transformation", U.ClassTransformationUplift),
        ("X-learner", U.XLearnerUplift),
    ],
)
def test_hillstrom_womens_email_visit_matches_published_figures(hillstrom, name, make):
    X, w, y = hillstrom
    assert len(w) == 42_693 and w.sum() == 21_387
    tr, te = U.stratified_split(w, y, test_size=0.3, random_state=0)
    s = make().fit(X.iloc[tr], w[tr], y[tr]).predict_uplift(X.iloc[te]).to_numpy()
    ev = U.evaluate(y[te], w[te], s, k=0.3, lang="en")
    sd = SPLIT_SD[name]
    # one split of ours against one split of theirs: the difference of two draws has sd √2·sd; allow 3 of those
    for metric, value in (("uplift_at_30", ev.uplift_at_k), ("qini", ev.qini)):
        for published in PUBLISHED.get(name, {}).get(metric, []):
            assert abs(value - published) <= 3 * np.sqrt(2) * sd[metric], (metric, value, published)
    # and it must beat random targeting on this split (the tolerance alone would admit a random ranking)
    assert ev.verdict.use == "model" and ev.verdict.qini_p_value < 0.05
    assert ev.uplift_at_k > ev.verdict.average_effect + 2 * sd["uplift_at_30"]
    # the average effect of the Womens e-mail on visits: 15.14 % − 10.62 % on the full data
    assert abs(ev.verdict.average_effect - 0.0452) < 0.015


# ------------------------------------------------------------------------------------------- cross-fitting
def test_cross_fitting_scores_every_customer_out_of_fold_and_averages_the_fold_models():
    d = uplift_population(4000, seed=21)
    cf = U.CrossFittedUplift(U.TwoModelUplift(), folds=4, random_state=3).fit(d[FEATS], d["treatment"], d["y"])
    assert len(cf.models_) == 4 and cf.oof_.notna().all() and np.bincount(cf.fold_).min() >= 999
    # each out-of-fold prediction comes from the one model that did not see that row
    k = cf.fold_[0]
    assert cf.oof_[0] == pytest.approx(cf.models_[k].predict_uplift(d[FEATS].iloc[[0]]).iloc[0])
    new = d[FEATS].iloc[:5]
    mean = np.mean([m.predict_uplift(new).to_numpy() for m in cf.models_], axis=0)
    np.testing.assert_allclose(cf.predict_uplift(new).to_numpy(), mean)
    with pytest.raises(ValueError, match="at least 2"):
        U.CrossFittedUplift(U.TwoModelUplift(), folds=1).fit(d[FEATS], d["treatment"], d["y"])


def test_compare_models_puts_the_chosen_model_first_and_never_picks_by_result():
    d = uplift_population(6000, seed=22)
    cmp = U.compare_models(d[FEATS], d["treatment"], d["y"], chosen="two_model", models=("x_learner", "two_model"),
                           folds=3, lang="en")  # fmt: skip
    assert cmp.table["model"].tolist() == ["two_model", "x_learner"] and cmp.table["chosen"].tolist() == [True, False]
    assert cmp.model is cmp.fits["two_model"] and cmp.evaluation.verdict.use == "model"
    assert (cmp.table["qini"] > 0.1).all()
    with pytest.raises(ValueError, match="uplift model must be one of"):
        U.make_model("forest")


def test_uplift_model_parameter_offers_exactly_the_registered_models():
    from helpers.params import SCHEMA

    assert SCHEMA["uplift_model"].choices == tuple(U.MODELS) and set(U.MODEL_NAMES) == set(U.MODELS)
    assert SCHEMA["uplift_model"].default == "x_learner_hgb"

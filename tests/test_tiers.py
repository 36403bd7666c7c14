"""User tiers: clustering on known blobs, degenerate input, RFM classes, concentration, migration, features."""

from __future__ import annotations

import warnings

import ibis
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from helpers import features, tiers
from helpers.engine import connect
from helpers.truth import planted_tiers

from .conftest import AS_OF, SAMPLE


def blobs(k: int, n: int = 300, d: int = 3, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    grid = np.array(np.meshgrid(*[np.arange(3)] * d)).reshape(d, -1).T * 8.0  # centres at least 8 apart
    centres = grid[rng.choice(len(grid), k, replace=False)]
    truth = rng.integers(0, k, n)
    x = centres[truth] + rng.normal(0, 0.5, (n, d))
    return pd.DataFrame(x, columns=[f"x{i}" for i in range(d)], index=[f"u{i}" for i in range(n)]), truth


@pytest.mark.parametrize("k", [3, 4, 5, 7])
def test_blobs_are_recovered_and_k_is_found(k):
    X, truth = blobs(k, seed=k)
    t = tiers.fit_tiers(X, log=False)
    assert t.k_ == k
    assert adjusted_rand_score(truth, t.labels_.astype(str)) >= 0.95
    assert t.labels_.index.equals(X.index)
    assert t.silhouette_ > 0.5 and t.scores_["silhouette"].idxmax() == k
    assert t.profiles_["users"].sum() == len(X)


def test_k_at_the_edge_of_the_range_widens_the_range_when_outside_is_clearly_better():
    """The best k at the edge of k_range is checked against the next k outside it; a clearly better one is taken."""
    X, _ = blobs(5, seed=5)
    with pytest.warns(tiers.TierWarning, match="k = 4 was the largest k tried, and k = 5, outside the range"):
        t = tiers.fit_tiers(X, k_range=range(2, 5), log=False)
    assert t.k_ == 5 and 5 in t.scores_.index  # widened to 5; 6 was tried next and is clearly lower
    assert "k = 6, outside it" in t.k_note_ and "clearly lower: 5 stands" in t.k_note_ and 6 not in t.scores_.index
    inside = tiers.fit_tiers(X, k_range=range(3, 8), log=False)
    assert inside.k_ == 5 and inside.k_note_ == ""
    low = tiers.fit_tiers(X, k_range=range(5, 8), log=False)
    assert low.k_ == 5 and "k = 4, outside it" in low.k_note_ and "clearly lower: 5 stands" in low.k_note_
    assert list(low.scores_.index) == [5, 6, 7]


def test_fixed_k_and_same_seed_same_tiers():
    X, _ = blobs(4, seed=1)
    a = tiers.fit_tiers(X, k=4, log=False, random_state=3)
    b = tiers.fit_tiers(X, k=4, log=False, random_state=3)
    assert a.k_ == 4 and list(a.scores_.index) == [4]
    assert a.labels_.astype(str).equals(b.labels_.astype(str))


def test_identical_users_get_one_tier_and_a_message():
    X = pd.DataFrame({"x": [1.0] * 20, "y": [2.0] * 20})
    with pytest.warns(tiers.TierWarning, match="identical features"):
        t = tiers.fit_tiers(X)
    assert t.k_ == 1 and t.labels_.nunique() == 1 and "identical" in t.note_


def test_fewer_users_than_k_gives_fewer_tiers_with_a_message():
    X = pd.DataFrame({"x": [0.0, 10.0]}, index=["a", "b"])
    with pytest.warns(tiers.TierWarning, match="too few to split"):
        t = tiers.fit_tiers(X, k=5)
    assert t.k_ == 1 and t.labels_.nunique() == 1
    three = pd.DataFrame({"x": np.repeat([0.0, 5.0, 10.0], 10) + np.tile(np.linspace(0, 0.1, 10), 3)})
    with pytest.warns(tiers.TierWarning, match="k limited to at most 3"):
        t = tiers.fit_tiers(three, log=False)
    assert t.k_ == 3 and t.labels_.nunique() == 3


def test_empty_or_non_numeric_input_is_a_clear_error():
    with pytest.raises(ValueError, match="empty"):
        tiers.fit_tiers(pd.DataFrame({"x": []}))
    with pytest.raises(ValueError, match="no numeric column"):
        tiers.fit_tiers(pd.DataFrame({"name": ["a", "b"]}))
    with pytest.raises(ValueError, match="not in the features"):
        tiers.fit_tiers(pd.DataFrame({"x": [1.0, 2.0]}), columns=["recency_days"])


def rfm_users(n_per: int = 200, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    """Three buyer types with clear behaviour plus new and never-bought contacts."""
    rng = np.random.default_rng(seed)
    rows, kind = [], []
    spec = {  # recency, orders per 30d, order value
        "high_value": (5, 4.0, 600),
        "potential": (20, 1.2, 150),
        "at_risk": (150, 0.3, 40),
    }
    for name, (rec, rate, aov) in spec.items():
        tenure = rng.uniform(90, 360, n_per)
        r = rate * np.exp(rng.normal(0, 0.15, n_per))
        orders = np.maximum(np.round(r * tenure / 30), 1)
        v = aov * np.exp(rng.normal(0, 0.15, n_per))
        rows.append(
            pd.DataFrame(
                {
                    "tenure_days": tenure,
                    "orders": orders,
                    "recency_days": rec * np.exp(rng.normal(0, 0.3, n_per)),
                    "orders_per_30d": orders * 30 / tenure,
                    "avg_order_value": v,
                    "net_gmv": v * orders,
                }
            )
        )
        kind += [name] * n_per
    new = pd.DataFrame({"tenure_days": rng.uniform(1, 59, 50), "orders": 1.0, "recency_days": 3.0})
    new["orders_per_30d"], new["avg_order_value"], new["net_gmv"] = 1.0, 100.0, 100.0
    dormant = pd.DataFrame({"tenure_days": rng.uniform(60, 360, 50), "orders": 0.0, "recency_days": np.nan})
    dormant["orders_per_30d"], dormant["avg_order_value"], dormant["net_gmv"] = 0.0, np.nan, 0.0
    f = pd.concat([*rows, new, dormant], ignore_index=True)
    f.index = [f"u{i:04d}" for i in range(len(f))]
    return f, pd.Series(kind + ["new"] * 50 + ["dormant"] * 50, index=f.index)


def test_lifecycle_rules_and_names_from_profiles():
    f, truth = rfm_users()
    t = tiers.fit_tiers(f)
    assert t.k_ == 3
    names = t.labels_.astype(str)
    expected = {k: tiers.TIER_NAMES[k] for k in truth.unique()}
    assert (names == truth.map(expected)).mean() > 0.98
    assert list(t.profiles_.index) == [
        tiers.TIER_NAMES[k] for k in ("high_value", "potential", "at_risk", "new", "dormant")
    ]
    assert t.profiles_["gmv_share"].iloc[0] > 0.7
    # predict on the same table gives the fitted tiers
    assert t.predict(f).astype(str).equals(names)
    # stability on clean data is near 1
    assert t.stability(f, n_boot=5).min() > 0.95


def test_clusters_past_the_lapse_line_are_at_risk_even_when_most_buyers_have_lapsed():
    # a cohort export (CDNOW): three quarters of the buyers have been silent 16 months, so no cluster's recency is
    # half an SD above the mean and the relative rule called them "regular" and "potential"
    rng = np.random.default_rng(0)

    def group(n, recency, rate, aov):
        f = rng.normal(rate, rate * 0.1, n).clip(0.01)
        a = rng.normal(aov, aov * 0.1, n).clip(1)
        orders = np.maximum(1, np.round(f * 500 / 30))
        return pd.DataFrame(
            {
                "recency_days": rng.normal(recency, recency * 0.1, n).clip(1),
                "orders_per_30d": f,
                "avg_order_value": a,
                "net_gmv": a * orders,
                "tenure_days": 500.0,
                "orders": orders,
            }
        )

    users = pd.concat([group(200, 15, 1.0, 40), group(600, 480, 0.06, 45), group(900, 495, 0.06, 15)])
    users.index = [f"u{i}" for i in range(len(users))]
    relative = tiers.fit_tiers(users, k=3)
    assert not any(tiers.is_at_risk(t) for t in relative.labels_)
    gaps = pd.DataFrame({"gap_days": [10, 30, 60, 200], "gaps": [60, 25, 10, 5]})
    assert tiers.lapse_days(gaps) == 60.0  # 95 % of returns came within 60 days
    named = tiers.fit_tiers(users, k=3, lapse_days=tiers.lapse_days(gaps)).labels_
    assert named.value_counts().to_dict() == {
        "流失风险（低客单） at risk (low basket)": 900,  # the two lapsed groups differ in their basket (15 vs 45)
        "流失风险（高客单） at risk (high basket)": 600,
        "高价值 high value": 200,
    }
    assert (
        relative.cluster_ == tiers.fit_tiers(users, k=3, lapse_days=60.0).cluster_
    ).all()  # names change, not clusters


def test_all_new_contacts_are_tiered_by_rule_with_a_note():
    f, _ = rfm_users()
    f["tenure_days"] = 10.0
    with pytest.warns(tiers.TierWarning, match="no established buyers"):
        t = tiers.fit_tiers(f)
    assert t.k_ == 0 and set(t.labels_.astype(str)) == {tiers.TIER_NAMES["new"]}


def test_rfm_scores_and_the_eight_classes():
    f = pd.DataFrame(
        {
            "recency_days": [1, 2, 300, 310, 5, 6, 280, 290, np.nan],
            "orders": [10, 9, 10, 9, 1, 1, 1, 1, 0],
            "net_gmv": [900, 800, 900, 800, 850, 60, 50, 40, 0],
        }
    )
    s = tiers.rfm_scores(f)
    assert len(s) == 8 and s["R"].between(1, 5).all()
    assert s.loc[0, "R"] == 5 and s.loc[2, "R"] <= 2  # recent = high R score
    assert s.loc[4, "F"] == s.loc[5, "F"]  # ties share a score
    c = tiers.rfm_classes(s, f.index)
    assert c[0] == "重要价值 champions" and c[2] == "重要保持 retain"
    assert c[4] == "重要发展 develop" and c[7] == "一般挽留 lost, low spend"
    assert c[8] == tiers.NEVER_BOUGHT
    assert set(tiers.RFM_CLASSES.values()) >= set(c[:8])


def test_concentration_80_20():
    values = pd.Series([4.0] * 20 + [0.25] * 80)  # top 20 % hold 80 of 100 by construction
    assert tiers.top_share(values, 0.2) == pytest.approx(0.8)
    lz = tiers.lorenz(values)
    assert lz["value_share"].iloc[-1] == pytest.approx(1.0) and lz["value_share"].is_monotonic_increasing
    assert np.isnan(tiers.top_share(pd.Series([], dtype=float)))


def test_migration_matrix_and_movers():
    cats = ["A", "B", "C"]
    before = pd.Series(pd.Categorical(["A", "B", "C", "B"], categories=cats, ordered=True), index=list("wxyz"))
    after = pd.Series(pd.Categorical(["B", "A", "C", "B", "A"], categories=cats, ordered=True), index=list("wxyzv"))
    m = tiers.migration_matrix(before, after)
    assert m.loc["A", "B"] == 1 and m.loc["B", "A"] == 1 and m.loc["(not yet a contact)", "A"] == 1
    assert m.to_numpy().sum() == 5
    mv = tiers.movers(before, after)
    assert mv["move"].to_dict() == {"w": "down", "x": "up", "y": "same", "z": "same"}
    assert tiers.migration_matrix(before, after, normalize=True).sum(axis=1).round(9).eq(1).all()


def test_user_features_by_hand():
    contacts = pd.DataFrame(
        {
            "user_id": ["a", "b", "c", "late"],
            "added_at": pd.to_datetime(["2025-01-01", "2025-06-01", "2025-12-20", "2026-02-01"]),
            "channel": ["x", "y", "x", "x"],
            "removed_at": pd.to_datetime([None, "2025-07-01", None, None]),
        }
    )
    orders = pd.DataFrame(
        {
            "order_id": ["1", "2", "3", "4", "5"],
            "user_id": ["a", "a", "a", "b", "a"],
            "ordered_at": pd.to_datetime(["2025-03-01", "2025-12-01", "2025-12-02", "2025-06-10", "2026-01-05"]),
            "amount": [100.0, 50.0, 30.0, 80.0, 999.0],
            "status": ["paid", "paid", "refunded", "paid", "paid"],
        }
    )
    f = (
        features.user_features(ibis.memtable(contacts), ibis.memtable(orders), "2026-01-01")
        .to_pandas()
        .set_index("user_id")
    )
    assert list(f.index) == ["a", "b", "c"]  # not yet added at the snapshot: no row
    a = f.loc["a"]
    assert a["orders"] == 2 and a["net_gmv"] == pytest.approx(120.0) and a["recency_days"] == pytest.approx(31)
    assert a["tenure_days"] == pytest.approx(365) and a["orders_per_30d"] == pytest.approx(2 * 30 / 365)
    assert a["avg_order_value"] == pytest.approx(60.0) and a["is_friend"]
    assert not f.loc["b", "is_friend"]
    c = f.loc["c"]
    assert c["orders"] == 0 and np.isnan(c["recency_days"]) and c["orders_per_30d"] == 0 and c["net_gmv"] == 0


def test_tiers_recover_planted_tiers_on_the_sample(clean_sample):
    eng = connect(clean_sample)
    expr = features.user_features(eng.table("contacts"), eng.table("orders"), AS_OF)
    users = eng.to_pandas(expr).set_index("user_id")
    with warnings.catch_warnings():
        warnings.simplefilter("error", tiers.TierWarning)
        t = tiers.fit_tiers(users)
    planted = planted_tiers(SAMPLE, users["tenure_days"])
    assert t.k_ == 3
    assert adjusted_rand_score(planted, t.labels_.astype(str)) >= 0.8
    est = t.cluster_ >= 0
    assert adjusted_rand_score(planted[est], t.cluster_[est]) >= 0.8
    assert tiers.top_share(users.loc[users["orders"] > 0, "net_gmv"]) > 0.6


def test_the_silhouette_in_small_blocks_is_scikit_learns_score_to_the_last_bit():
    """tiers._SILHOUETTE_MB only changes how many distances are held at once, not the score."""
    from sklearn.metrics import silhouette_score

    rng = np.random.default_rng(5)
    x = np.vstack([rng.normal(c, 1.0, size=(4_000, 5)) for c in (0.0, 3.0, 6.0)])
    labels = np.repeat([0, 1, 2], 4_000)
    model = tiers.Tiers(random_state=3)
    assert model._silhouette(x, labels) == silhouette_score(x, labels, sample_size=10_000, random_state=3)

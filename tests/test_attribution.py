"""Attribution: exact references (ChannelAttribution paths), hand-computed Markov, Shapley axioms, paths, lift."""

from __future__ import annotations

import ibis
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np
import pandas as pd
import pytest

from helpers import attribution as attr

from .conftest import SHARED, needs_shared

REF = SHARED / "attribution"
HILLSTROM = SHARED / "hillstrom" / "hillstrom.csv"
needs_ref = needs_shared(REF)


@pytest.fixture(scope="module")
def ca_paths() -> pd.DataFrame:
    return attr.read_channelattribution_paths(REF / "paths.csv")


@needs_ref
def test_markov_matches_the_exact_reference_to_1e6(ca_paths):
    m = attr.markov(ca_paths)
    exp = pd.read_csv(REF / "expected_markov_order1.csv").set_index("channel_name").loc[m.index]
    assert np.abs(m["removal_effect"] - exp["removal_effect"]).max() < 1e-6
    assert np.abs(m["markov_conversions"] - exp["total_conversions"]).max() < 1e-6
    assert np.abs(m["removal_effect_value"] - exp["removal_effect_value"]).max() < 1e-6
    assert np.abs(m["markov_value"] - exp["total_conversion_value"]).max() < 1e-6
    assert m.attrs["p_conversion"] == pytest.approx(0.2238451356, abs=1e-10)
    # ChannelAttribution's own (simulated) estimate is visibly off; the exact one is not
    sim = pd.read_csv(REF / "channelattribution_markov_order1_simulated.csv").set_index("channel_name").loc[m.index]
    assert np.abs(sim["total_conversions"] - exp["total_conversions"]).max() > 1.0


@needs_ref
def test_heuristics_and_simplified_shapley_match_references(ca_paths):
    h = attr.heuristics(ca_paths)
    exp = pd.read_csv(REF / "expected_heuristics.csv").set_index("channel_name").loc[h.index]
    for ours, theirs in (("first", "first_touch"), ("last", "last_touch"), ("linear", "linear_touch")):
        assert np.abs(h[f"{ours}_conversions"] - exp[f"{theirs}_conversions"]).max() < 1e-6
        assert np.abs(h[f"{ours}_value"] - exp[f"{theirs}_value"]).max() < 1e-6
    s = attr.shapley(ca_paths)
    es = pd.read_csv(REF / "expected_shapley_simplified.csv").set_index("channel_name").loc[s.index]
    assert np.abs(s["shapley_conversions"] - es["shapley_simplified_conversions"]).max() < 1e-6
    assert np.abs(s["shapley_value"] - es["shapley_simplified_value"]).max() < 1e-6


def test_markov_removal_effects_by_hand_three_channels():
    # journeys: a>b converts 2, a>c converts 1, a null 1, b>c null 2, c converts 1
    paths = pd.DataFrame(
        {
            "path": [("a", "b"), ("a", "c"), ("a",), ("b", "c"), ("c",)],
            "conversions": [2, 1, 0, 0, 1],
            "nulls": [0, 0, 1, 2, 0],
            "value": [20.0, 5.0, 0.0, 0.0, 7.0],
        }
    )
    # transitions: start->a 4, start->b 2, start->c 1; a->b 2, a->c 1, a->null 1;
    # b->conv 2, b->c 2; c->conv 2, c->null 2
    p_c = 2 / 4
    p_b = 2 / 4 + 2 / 4 * p_c
    p_a = 2 / 4 * p_b + 1 / 4 * p_c
    base = 4 / 7 * p_a + 2 / 7 * p_b + 1 / 7 * p_c
    without_a = 2 / 7 * p_b + 1 / 7 * p_c
    without_b = 4 / 7 * (1 / 4 * p_c) + 1 / 7 * p_c
    without_c = 4 / 7 * (2 / 4 * (2 / 4)) + 2 / 7 * (2 / 4)
    re = {"a": 1 - without_a / base, "b": 1 - without_b / base, "c": 1 - without_c / base}
    m = attr.markov(paths)
    for ch, v in re.items():
        assert m.loc[ch, "removal_effect"] == pytest.approx(v, abs=1e-12)
    total = sum(re.values())
    for ch, v in re.items():
        assert m.loc[ch, "markov_conversions"] == pytest.approx(4 * v / total, abs=1e-12)
    assert m.attrs["p_conversion"] == pytest.approx(base)


@needs_ref
def test_higher_order_markov_runs_and_conserves_conversions(ca_paths):
    m2 = attr.markov(ca_paths.head(2000), order=2)
    assert m2["markov_conversions"].sum() == pytest.approx(ca_paths.head(2000)["conversions"].sum())
    assert (m2["removal_effect"] > 0).all()


def random_paths(seed: int, channels="abcd", n=40) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        k = rng.integers(1, 5)
        rows.append(
            (
                tuple(rng.choice(list(channels), k)),
                int(rng.integers(0, 4)),
                int(rng.integers(0, 4)),
                float(rng.gamma(2, 50)),
            )
        )
    return pd.DataFrame(rows, columns=["path", "conversions", "nulls", "value"])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_shapley_is_the_bruteforce_value_efficient_and_symmetric(seed):
    p = random_paths(seed)
    conv = p[p["conversions"] > 0]

    def worth(s: frozenset) -> float:
        return float(conv.loc[conv["path"].map(lambda x: set(x) <= s), "conversions"].sum())

    exact = attr.shapley_bruteforce(list("abcd"), worth)
    s = attr.shapley(p)["shapley_conversions"]
    for ch, v in exact.items():
        assert s.get(ch, 0.0) == pytest.approx(v, abs=1e-9)
    assert s.sum() == pytest.approx(conv["conversions"].sum())  # efficiency
    # symmetry: swapping the names of a and b swaps their values
    swapped = p.assign(path=p["path"].map(lambda x: tuple({"a": "b", "b": "a"}.get(c, c) for c in x)))
    s2 = attr.shapley(swapped)["shapley_conversions"]
    assert s2["a"] == pytest.approx(s["b"]) and s2["b"] == pytest.approx(s["a"])


def test_heuristics_each_sum_to_total_conversions():
    p = random_paths(4)
    p["decay_credit"] = [tuple(np.full(len(x), c / len(x))) for x, c in zip(p["path"], p["conversions"], strict=True)]
    h = attr.heuristics(p)
    total = p.loc[p["conversions"] > 0, "conversions"].sum()
    for model in ("first", "last", "linear", "position", "time_decay"):
        assert h[f"{model}_conversions"].sum() == pytest.approx(total), model
        assert h[f"{model}_value"].sum() == pytest.approx(p.loc[p["conversions"] > 0, "value"].sum()), model
    with pytest.raises(ValueError, match="nothing to attribute"):
        attr.markov(p.assign(conversions=0))


def test_build_paths_windows_nulls_and_decay():
    t0 = pd.Timestamp("2025-03-01")
    touches = pd.DataFrame(
        {
            "user_id": ["u1", "u1", "u1", "u2", "u3", "u3"],
            "touched_at": [
                t0 - pd.Timedelta(days=20),
                t0 - pd.Timedelta(days=7),
                t0 - pd.Timedelta(days=1),
                t0 - pd.Timedelta(days=2),
                t0 + pd.Timedelta(days=25),
                t0 + pd.Timedelta(days=29),
            ],
            "touch_type": ["moments", "group_broadcast", "private_chat", "coupon", "moments", "moments"],
            "campaign_id": [None, None, None, "c9", None, None],
        }
    )
    orders = pd.DataFrame(
        {
            "user_id": ["u1", "u1", "u2", "u4"],
            "ordered_at": [t0, t0 + pd.Timedelta(days=3), t0, t0],
            "amount": [100.0, 50.0, 30.0, 10.0],
            "status": ["paid", "paid", "paid", "paid"],
        }
    )
    contacts = pd.DataFrame({"user_id": ["u1", "u2", "u3", "u4", "u5"], "removed_at": pd.NaT})
    contacts["removed_at"] = contacts["removed_at"].astype("datetime64[ns]")
    p = attr.build_paths(
        ibis.memtable(touches),
        ibis.memtable(orders),
        14,
        contacts=ibis.memtable(contacts),
        end=t0 + pd.Timedelta(days=30),
        half_life_days=7,
    ).set_index("path")
    # u1: the 20-days-old touch is outside the window; the second order is not a first conversion
    assert p.loc[[("group_broadcast", "private_chat")], "conversions"].iloc[0] == 1
    assert p.loc[[("group_broadcast", "private_chat")], "value"].iloc[0] == 100.0
    credit = p.loc[[("group_broadcast", "private_chat")], "decay_credit"].iloc[0]
    assert credit[1] / credit[0] == pytest.approx(2 ** (6 / 7)) and sum(credit) == pytest.approx(1.0)
    assert p.loc[[("coupon",)], "conversions"].iloc[0] == 1
    assert p.loc[[("moments", "moments")], "nulls"].iloc[0] == 1  # u3 never bought: a null journey
    assert p.loc[[()], "conversions"].iloc[0] == 1 and p.loc[[()], "nulls"].iloc[0] == 1  # u4 (untouched), u5
    by_campaign = attr.build_paths(
        ibis.memtable(touches),
        ibis.memtable(orders),
        14,
        contacts=ibis.memtable(contacts),
        end=t0 + pd.Timedelta(days=30),
        label="campaign_id",
    )
    assert ("c9",) in set(by_campaign["path"]) and ("(moments)", "(moments)") in set(by_campaign["path"])


def test_referral_tree_counts_k_generations_and_sizes():
    added = pd.Timestamp("2025-01-01")
    contacts = pd.DataFrame(
        {
            "user_id": list("abcdefg"),
            "referrer_id": [None, "a", "a", "b", None, "e", None],
            "added_at": [added] * 6 + [pd.Timestamp("2025-12-20")],
        }
    )
    r = attr.referral_tree(contacts, "2025-12-31", min_age_days=90)
    assert r["eligible_inviters"] == 6 and r["referred"] == 4
    assert r["k_factor"] == pytest.approx(4 / 6) and r["k_ci"][0] < 4 / 6 < r["k_ci"][1]
    assert r["max_generation"] == 2
    assert r["tree_sizes"].to_dict() == {2: 1, 4: 1}  # e->f and a->{b,c}, b->d


def _networkx_referrals(contacts: pd.DataFrame, end, min_age_days: int) -> dict:
    """The referral figures from a networkx graph, as the workbook computed them before (the oracle)."""
    import networkx as nx

    g = nx.DiGraph()
    g.add_nodes_from(contacts["user_id"])
    edges = contacts.dropna(subset=["referrer_id"])
    edges = edges[edges["referrer_id"].isin(contacts["user_id"])]
    g.add_edges_from(zip(edges["referrer_id"], edges["user_id"], strict=True))
    old = contacts[contacts["added_at"] <= pd.Timestamp(end) - pd.Timedelta(days=min_age_days)]["user_id"]
    children = pd.Series({u: g.out_degree(u) for u in old}, dtype=float)
    depth = {}
    roots = [u for u in g.nodes if g.in_degree(u) == 0]
    for r in roots:
        depth.update(nx.single_source_shortest_path_length(g, r))
    sizes = pd.Series([len(nx.descendants(g, r)) + 1 for r in roots if g.out_degree(r) > 0], dtype="int64")
    inv = pd.Series(dict(g.out_degree()), dtype=float)
    inv = inv[inv > 0].sort_values(ascending=False)
    n_top = max(1, int(np.ceil(0.1 * len(inv))))
    return {
        "referred": int(children.sum()),
        "eligible_inviters": len(children),
        "share_inviting": float((children > 0).mean()),
        "max_generation": int(max(depth.values())),
        "generation_counts": pd.Series(depth).value_counts().sort_index(),
        "tree_sizes": sizes.value_counts().sort_index(),
        "top10pct_inviter_share": float(inv.head(n_top).sum() / inv.sum()),
        "inviters": len(inv),
        "top10pct_inviters": n_top,
    }


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_referral_trees_walked_in_arrays_equal_a_networkx_graph(seed):
    """Deep chains, wide trees, referrers who are not contacts, a self-referral and loops: the same figures."""
    rng = np.random.default_rng(seed)
    n = 5_000
    ids = np.array([f"u{i:05d}" for i in rng.permutation(n)])
    ref = np.where(rng.random(n) < 0.6, ids[rng.integers(0, n, n)], None).astype(object)  # loops happen by chance
    ref[rng.random(n) < 0.05] = "not-a-contact"
    ref[0] = ids[0]  # refers itself
    chain = rng.choice(n, 40, replace=False)  # one long chain: 39 generations at least
    ref[chain[1:]] = ids[chain[:-1]]
    ref[chain[0]] = None
    added = pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.integers(0, 365, n), unit="D")
    contacts = pd.DataFrame({"user_id": ids, "referrer_id": ref, "added_at": added})
    got = attr.referral_tree(contacts, "2025-12-31", min_age_days=90)
    want = _networkx_referrals(contacts, "2025-12-31", 90)
    for key, value in want.items():
        if isinstance(value, pd.Series):
            pd.testing.assert_series_equal(got[key], value)
        else:
            assert got[key] == value, key
    assert got["max_generation"] >= 39


def test_referral_tree_wants_one_row_per_contact():
    contacts = pd.DataFrame(
        {"user_id": ["a", "a"], "referrer_id": [None, None], "added_at": [pd.Timestamp("2025-01-01")] * 2}
    )
    with pytest.raises(ValueError, match="one row per contact"):
        attr.referral_tree(contacts, "2025-12-31")


@needs_shared(HILLSTROM)
def test_lift_reproduces_the_hillstrom_arm_rates():
    h = pd.read_csv(HILLSTROM)
    arm = h["segment"].map({"Mens E-Mail": "mens", "Womens E-Mail": "womens", "No E-Mail": "control"})
    published = {"mens": (0.1828, 0.0125, 1.42), "womens": (0.1514, 0.0088, 1.08)}
    for outcome, idx in (("visit", 0), ("conversion", 1)):
        res = attr.lift(pd.DataFrame({"arm": arm, "converted": h[outcome], "value": h["spend"]})).set_index("arm")
        for a, pub in published.items():
            assert round(res.loc[a, "conversion"], 4) == pub[idx]
        assert round(res["conversion_control"].iloc[0], 4) == (0.1062, 0.0057)[idx]
        assert (res["lift_ci_low"] > 0).all()  # both e-mails caused visits and conversions
    res = attr.lift(pd.DataFrame({"arm": arm, "converted": h["conversion"], "value": h["spend"]})).set_index("arm")
    assert round(res.loc["mens", "value_per_user"], 2) == 1.42 and round(res.loc["womens", "value_per_user"], 2) == 1.08
    assert round(res["value_per_user_control"].iloc[0], 2) == 0.65


def test_lift_with_no_effect_includes_zero():
    rng = np.random.default_rng(3)
    units = pd.DataFrame(
        {"arm": np.where(rng.random(4000) < 0.8, "treatment", "control"), "converted": rng.random(4000) < 0.1}
    )
    units["value"] = units["converted"] * 100.0
    r = attr.lift(units).iloc[0]
    assert r["lift_ci_low"] < 0 < r["lift_ci_high"] and r["value_lift_ci_low"] < 0 < r["value_lift_ci_high"]


def test_vectorised_first_order_transitions_equal_the_path_by_path_count():
    rng = np.random.default_rng(3)
    chans = list("abcde")
    paths = pd.DataFrame(
        {
            "path": [tuple(rng.choice(chans, rng.integers(0, 8))) for _ in range(400)],
            "conversions": rng.integers(0, 4, 400),
            "nulls": rng.integers(0, 6, 400),
        }
    )
    fast, ch_fast = attr._transitions_order1(paths, "conversions", "nulls")
    slow, ch_slow = attr._transitions_loop(paths, 1, "conversions", "nulls")
    assert ch_fast == ch_slow and fast.keys() == slow.keys()
    for state, row in slow.items():
        assert fast[state].keys() == row.keys()
        for nxt, w in row.items():
            assert fast[state][nxt] == pytest.approx(w, rel=1e-12)


def _units() -> pd.DataFrame:
    ok = [True] * 150 + [False] * 350 + [True] * 100 + [False] * 400
    u = pd.DataFrame({"campaign_id": "c1", "arm": ["treatment"] * 500 + ["control"] * 500, "converted": ok})
    return u.assign(value=u["converted"] * 10.0)


def test_campaign_results_join_roas_and_lift_without_inventing_either():
    camps = pd.DataFrame(
        {
            "campaign_id": ["c1", "c2", "c3"],
            "name": ["券", "直播", "无成本"],
            "kind": ["coupon", "livestream", "content"],
            "cost": [100.0, 50.0, None],
        }
    )
    roi = attr.campaign_roi(pd.Series({"c1": 250.0, "c2": 20.0, "c3": 5.0}), camps)
    lifts = attr.holdout_lifts(pd.concat([_units(), _units().assign(campaign_id="c9")]))
    res = attr.campaign_results(roi, lifts, camps).set_index("campaign_id")
    assert list(res.index) == ["c1", "c2"]  # c3 has no cost and no holdout; c9 is not a campaign
    assert res.loc["c1", "roas"] == 2.5 and res.loc["c2", "roas_below_1"] == True  # noqa: E712
    assert abs(res.loc["c1", "lift"] - 0.1) < 1e-12 and res.loc["c1", "lift_ci_low"] > 0
    assert pd.isna(res.loc["c2", "lift"])  # no holdout: not measured, not zero


def test_attribution_sentences_and_charts_follow_the_language():
    from helpers.labels import Labels

    models = pd.DataFrame(
        {
            "first": [5.0, 3.0],
            "last": [6.0, 2.0],
            "linear": [5.0, 3.0],
            "position": [5.0, 3.0],
            "markov": [4.0, 4.0],
            "shapley": [4.5, 3.5],
        },
        index=["coupon", "moments"],
    )
    roi = pd.DataFrame({"campaign_id": ["a", "b"], "roas": [1.5, 0.4]})
    lifts = attr.holdout_lifts(_units())
    for lang in ("zh", "en"):
        L = Labels(lang)
        texts = [attr.credit_text(models, L), attr.roas_text(roi, L), *attr.lift_text(lifts, L)]
        has_cjk = any("\u4e00" <= ch <= "\u9fff" for t in texts for ch in t)
        assert has_cjk == (lang == "zh")
        assert "coupon" not in texts[0] or lang == "en"  # codes shown by their names in zh
        for ax in (
            attr.plot_models(models, lang=lang),
            attr.plot_roas(roi, lang=lang),
            attr.plot_lift(lifts, lang=lang),
            attr.plot_tree_sizes(pd.Series({2: 10, 3: 2}), lang=lang),
        ):
            assert ax.get_title()
        plt.close("all")
    assert "+10.0 个百分点" in attr.lift_text(lifts, Labels("zh"))[0]


# The pre-engine implementation of build_paths' aggregation (a Python loop over every journey's touch list), kept
# as the reference the engine aggregation must match.
def _reference_touches(journeys: ibis.Table, touches: ibis.Table, label: str, lookback_days: int) -> ibis.Table:
    """Per journey, its touches in the lookback window as a time-sorted list of (time, step, age in days)."""
    step = touches[label] if label == "touch_type" else ibis.coalesce(touches[label], "(" + touches.touch_type + ")")
    t = touches.select("user_id", "touched_at", step=step)
    j = journeys.join(t, "user_id", how="left")
    lo = j.conv_at - ibis.interval(days=lookback_days)
    j = j.filter((j.touched_at > lo) & (j.touched_at <= j.conv_at))
    age = (j.conv_at.epoch_seconds() - j.touched_at.epoch_seconds()) / 86400.0
    ev = ibis.struct({"t": j.touched_at, "k": j.step, "age": age})
    g = j.group_by(["conv_id", "converted", "value"]).aggregate(ev=ev.collect())
    return g.mutate(ev=g.ev.sort())


def _reference_aggregate(
    rows: pd.DataFrame, n_journeys: pd.DataFrame, half_life: float, max_touches: int, collapse: bool
) -> pd.DataFrame:
    recs: dict[tuple, list] = {}
    for steps, ages, converted, value in zip(
        rows["steps"], rows["ages"], rows["converted"], rows["value"], strict=True
    ):
        steps, ages = list(steps), np.asarray(ages, dtype=float)
        if collapse:
            keep = [0] + [i for i in range(1, len(steps)) if steps[i] != steps[i - 1]]
            steps, ages = [steps[i] for i in keep], ages[keep]
        steps, ages = steps[-max_touches:], ages[-max_touches:]
        key = tuple(steps)
        rec = recs.setdefault(key, [0, 0, 0.0, np.zeros(len(key))])
        if converted:
            rec[0] += 1
            rec[2] += float(value)
            w = 0.5 ** (ages / half_life)
            rec[3] = rec[3] + w / w.sum()
        else:
            rec[1] += 1
    counts = n_journeys.set_index("converted")
    touched_conv = sum(r[0] for r in recs.values())
    touched_null = sum(r[1] for r in recs.values())
    conv_total = int(counts["n"].get(True, 0))
    null_total = int(counts["n"].get(False, 0))
    value_touched = sum(r[2] for r in recs.values())
    empty = recs.setdefault((), [0, 0, 0.0, np.zeros(0)])
    empty[0] += conv_total - touched_conv
    empty[1] += null_total - touched_null
    empty[2] += float(counts["value"].get(True, 0.0) or 0.0) - value_touched
    out = pd.DataFrame(
        [(k, v[0], v[1], round(v[2], 2), tuple(v[3])) for k, v in recs.items() if v[0] or v[1]],
        columns=["path", "conversions", "nulls", "value", "decay_credit"],
    )
    return out.sort_values(["conversions", "nulls"], ascending=False, kind="stable").reset_index(drop=True)


def _reference_paths(touches, orders, contacts, end, lookback, conversion, label, half_life, max_touches, collapse):
    journeys = attr._journeys(orders, touches, contacts, end, conversion)
    g = _reference_touches(journeys, touches, label, lookback)
    rows = g.mutate(steps=g.ev.map(lambda s: s.k), ages=g.ev.map(lambda s: s.age)).drop("ev").to_pandas()
    n = journeys.group_by("converted").aggregate(n=journeys.count(), value=journeys.value.sum()).to_pandas()
    return _reference_aggregate(rows, n, half_life, max_touches, collapse)


@pytest.mark.parametrize(
    "conversion, label, max_touches, collapse",
    [("first", "touch_type", 30, False), ("all", "touch_type", 3, True), ("all", "campaign_id", 2, False)],
)
def test_build_paths_matches_the_python_reference(conversion, label, max_touches, collapse):
    rng = np.random.default_rng(7)
    t0 = pd.Timestamp("2025-03-01")
    n = 3000
    touches = pd.DataFrame(
        {
            "user_id": rng.integers(0, 400, n).astype(str),
            # whole hours, so equal times (ties broken by the label) happen
            "touched_at": t0 + pd.to_timedelta(rng.integers(0, 60 * 24, n), unit="h"),
            "touch_type": rng.choice(["moments", "group_broadcast", "private_chat", "coupon"], n),
            "campaign_id": rng.choice(["c1", "c2", None], n),
        }
    )
    m = 900
    orders = pd.DataFrame(
        {
            "user_id": rng.integers(0, 500, m).astype(str),
            "ordered_at": t0 + pd.to_timedelta(rng.integers(0, 60 * 24, m), unit="h"),
            "amount": rng.integers(1, 50_000, m) / 100,
            "status": rng.choice(["paid", "paid", "paid", "refunded"], m),
        }
    )
    contacts = pd.DataFrame({"user_id": np.arange(520).astype(str)})
    contacts["removed_at"] = pd.Series(pd.NaT, index=contacts.index, dtype="datetime64[ns]")
    contacts.loc[::17, "removed_at"] = t0 + pd.Timedelta(days=40)
    args = (ibis.memtable(touches), ibis.memtable(orders), ibis.memtable(contacts), t0 + pd.Timedelta(days=61))
    kw = dict(conversion=conversion, label=label, half_life=5.0, max_touches=max_touches, collapse=collapse)
    want = _reference_paths(*args, 14, **kw).set_index("path").sort_index()
    opts = dict(contacts=args[2], end=args[3], conversion=conversion, label=label, half_life_days=5.0)
    got = attr.build_paths(args[0], args[1], 14, max_touches=max_touches, collapse_repeats=collapse, **opts)
    got = got.set_index("path")
    assert got.index.is_unique and len(got) > 20 and got.index.map(len).max() <= max_touches
    got = got.sort_index()
    assert list(got.index) == list(want.index)
    assert (got["conversions"] == want["conversions"]).all() and (got["nulls"] == want["nulls"]).all()
    assert np.allclose(got["value"], want["value"], atol=0.011)
    for a, b in zip(got["decay_credit"], want["decay_credit"], strict=True):
        assert np.allclose(a, b, rtol=1e-9, atol=1e-12)

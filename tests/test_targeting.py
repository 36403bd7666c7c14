"""The contact list: eligibility rules, incremental-value ranking on planted types, actions, fallback, due score."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from helpers import targeting as T
from helpers import uplift as U
from helpers.simulate import uplift_population

from .conftest import AS_OF

FEATS = ["x0", "x1", "x2", "x3", "x4", "channel"]


def _verdict(use: str = "model", harm_below: float = np.nan, harm_above: float = np.nan) -> U.UpliftVerdict:
    nan = float("nan")
    return U.UpliftVerdict(
        use=use, heterogeneous=use == "model", qini=nan, qini_p_value=nan, top_share=0.3, uplift_top=nan,
        uplift_rest=nan, difference=nan, difference_ci_low=nan, difference_ci_high=nan, average_effect=0.05,
        average_effect_ci_low=0.03, average_effect_ci_high=0.07, n_test=1000, message=f"verdict: {use}.",
        harm_below=harm_below, harm_above=harm_above,
    )  # fmt: skip


def _state(n: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "user_id": [f"u{i:05d}" for i in range(n)],
            "staff_id": [f"s{i % 3}" for i in range(n)],
            "is_friend": True,
            "days_since_last_order": np.nan,
            "days_since_last_message": np.nan,
            "messages_this_month": 0,
        }
    )


def test_eligibility_friends_cooldown_and_monthly_cap():
    s = _state(6)
    s.loc[1, "is_friend"] = False
    s.loc[2, "days_since_last_order"] = 3.0  # ordered inside the 7-day cool-down
    s.loc[3, "days_since_last_message"] = 6.9  # messaged inside it
    s.loc[4, "messages_this_month"] = 4  # at WeCom's monthly cap
    s.loc[5, "days_since_last_order"] = 7.0  # exactly at the cool-down: eligible
    due = pd.DataFrame(
        {"p_alive": 0.9, "p_due": 0.5, "usual_gap_days": 30.0, "days_since_last_purchase": 40.0, "due_score": 0.45},
        index=s["user_id"],
    )
    cl = T.contact_list(s, due=due, cooldown_days=7, monthly_cap=4, lang="en")
    assert cl.contacts["user_id"].tolist() == ["u00000", "u00005"]
    assert list(cl.decision["funnel"].values()) == [6, 5, 4, 3, 2, 2, 2]
    assert cl.decision["score"] == "due" and "no uplift model" in cl.decision["why"]
    # without an uplift model the funnel does not claim one: its scoring row names the due score; and without a
    # randomised test no "leave alone" rule was applied (Online Retail showed "not on the list: 3,910")
    stages = T.funnel_table(cl.decision, "zh")["stage"].tolist()
    assert "有到期得分（无可用的增量模型）" in stages and not any("模型覆盖" in x for x in stages)
    assert not any("暂不打扰" in x for x in stages) and not cl.leave_alone_measured
    steps = T.next_steps(cl, "zh")
    assert (
        "联系这 2 人，都私聊" in steps
        and "其余群发" not in steps
        and "“暂不打扰”未测量" in steps
        and "leave_alone.csv" not in steps
    )
    assert cl.contacts.loc[0, "action"] == "private chat"
    assert "usually buys every 30 days" in cl.contacts.loc[0, "why_now"]
    # the due sentence states the days since the last purchase once: not again from the order timestamps at as_of,
    # which differ from the purchase days' count by a day's rounding ("17 days since … last order 18 days ago")
    assert not any("last order" in w for w in cl.contacts["why_now"])


def test_actions_coupon_only_where_it_beats_the_message_and_pays_its_cost():
    s = _state(5)
    upl = pd.DataFrame(
        {
            "message": [0.10, 0.10, 0.10, 0.05, 0.04],
            "coupon": [0.20, 0.12, 0.05, 0.02, 0.01],
            "value": [100.0, 100.0, 100.0, 100.0, 100.0],
        },
        index=s["user_id"],
    )
    cl = T.contact_list(
        s, uplift=upl, verdicts={"message": _verdict(), "coupon": _verdict()}, costs={"coupon": 5.0}, private_chats=1
    )
    got = cl.contacts.set_index("user_id")
    # u0: coupon 20 − 5 = 15 > message 10 → coupon; u1: coupon 12 − 5 = 7 < 10 → message though its uplift is higher
    assert got.loc["u00000", "action"] == "优惠券" and got.loc["u00000", "score"] == pytest.approx(15.0)
    assert got.loc["u00001", "action"] == "私聊"  # the best message row gets the one private chat
    assert got.loc[["u00002", "u00003", "u00004"], "action"].tolist() == ["群发"] * 3
    assert cl.contacts["user_id"].tolist()[:1] == ["u00000"]
    assert "优于" in got.loc["u00001", "why_now"]
    assert cl.decision["score"] == "incremental_value" and cl.decision["actions"] == ["message", "coupon"]


def test_why_now_states_the_days_the_exported_columns_hold():
    """The sample's list read "距上次下单天数 269" beside "上次下单 270 天前": 269.6 days rounded in the sentence,
    floored in the column. Staff read the sentence to the customer: both count whole days elapsed."""
    s = _state(2)
    s["days_since_last_order"] = [269.6, 73.5]
    s["days_since_last_message"] = [12.7, np.nan]
    upl = pd.DataFrame({"message": [0.10, 0.08], "value": [100.0, 100.0]}, index=s["user_id"])
    cl = T.contact_list(s, uplift=upl, verdicts={"message": _verdict()}, private_chats=2)
    out = T.export_frame(cl, "zh")
    for r in out.itertuples():
        assert f"上次下单 {r.days_since_last_order:.0f} 天前" in r.why_now
    assert "上次消息 12 天前" in out.loc[out["user_id"] == "u00000", "why_now"].iloc[0]


def test_the_list_names_each_test_before_its_verdict():
    """06's page joined two unnamed verdicts ("个体增量可以区分：… 个体增量可以区分：…") with "。；" between them."""
    s = _state(2)
    upl = pd.DataFrame({"message": [0.10, 0.08], "coupon": [0.2, 0.1], "value": [100.0, 100.0]}, index=s["user_id"])
    from dataclasses import replace

    v = {"message": replace(_verdict(), message="可以区分。"), "coupon": replace(_verdict(), message="也可以。")}
    why = T.contact_list(s, uplift=upl, verdicts=v, costs={"coupon": 1.0}, lang="zh").decision["why"]
    assert "消息测试：可以区分。优惠券测试：也可以。" in why


def test_fallback_to_the_due_score_when_the_verdict_says_average():
    s = _state(3)
    upl = pd.DataFrame({"message": [0.3, 0.2, 0.1], "value": 100.0}, index=s["user_id"])
    due = pd.DataFrame(
        {"p_alive": 0.9, "p_due": [0.1, 0.2, 0.3], "usual_gap_days": 30.0, "days_since_last_purchase": 40.0},
        index=s["user_id"],
    ).assign(due_score=lambda d: d["p_alive"] * d["p_due"])
    cl = T.contact_list(s, due=due, uplift=upl, verdicts={"message": _verdict("average")}, lang="en")
    assert cl.decision["score"] == "due"
    assert "message test: verdict: average." in cl.decision["why"] and "due score" in cl.decision["why"]
    assert cl.contacts["user_id"].tolist() == ["u00002", "u00001", "u00000"]
    with pytest.raises(ValueError, match="nothing to rank by"):
        T.contact_list(s, uplift=upl, verdicts={"message": _verdict("average")})


def test_leave_alone_needs_measured_harm_not_only_predicted():
    s = _state(3)
    upl = pd.DataFrame({"message": [0.2, -0.1, 0.1], "deletion": [0.0, 0.0, 0.08], "value": 50.0}, index=s["user_id"])
    # predicted harm without measured harm: nobody is set aside
    cl = T.contact_list(s, uplift=upl, verdicts={"message": _verdict(), "deletion": _verdict()})
    assert cl.leave_alone.empty and len(cl.contacts) == 2  # u1's negative incremental value is not listed either
    # measured: held-out customers predicted ≤ −0.05 lost (CI below 0); predicted ≥ +0.05 deleted more (CI above 0)
    v = {"message": _verdict(harm_below=-0.05), "deletion": _verdict(harm_above=0.05)}
    cl = T.contact_list(s, uplift=upl, verdicts=v, lang="en")
    assert cl.leave_alone["user_id"].tolist() == ["u00001", "u00002"]
    assert "deletion probability by +8.0 percentage points" in cl.leave_alone.set_index("user_id").loc["u00002", "why"]
    assert cl.contacts["user_id"].tolist() == ["u00000"]


def test_due_score_formula_by_hand():
    # usual gap 30 days (120 days over 4 repeats), 40 days since the last purchase, H = 30, gamma shape 2
    summary = pd.DataFrame({"frequency": [4], "recency": [120.0], "T": [160.0]})
    d = T.due_scores(summary, pd.Series([0.8]), horizon_days=30, gap_shape=2.0)
    theta = 15.0

    def surv(t):  # Erlang-2 survival
        return np.exp(-t / theta) * (1 + t / theta)

    p_due = 1 - surv(70.0) / surv(40.0)
    assert d.loc[0, "p_due"] == pytest.approx(p_due)
    assert d.loc[0, "due_score"] == pytest.approx(0.8 * p_due)


def test_uplift_list_finds_planted_persuadables_and_sets_do_not_disturbs_aside():
    train, test = uplift_population(20_000, seed=11), uplift_population(20_000, seed=12)
    now = uplift_population(20_000, seed=13)  # today's friends, never in a test
    order = U.XLearnerUplift("hgb").fit(train[FEATS], train["treatment"], train["y"])
    dele = U.XLearnerUplift("hgb").fit(train[FEATS], train["treatment"], train["deleted"])
    v_order = U.evaluate(test["y"], test["treatment"], order.predict_uplift(test[FEATS])).verdict
    v_del = U.evaluate(test["deleted"], test["treatment"], dele.predict_uplift(test[FEATS])).verdict
    assert v_order.use == "model" and v_del.use == "model" and v_del.harm_measured_above
    state = _state(len(now))
    upl = pd.DataFrame(
        {
            "message": order.predict_uplift(now[FEATS]).to_numpy(),
            "deletion": dele.predict_uplift(now[FEATS]).to_numpy(),
        },
        index=state["user_id"],
    ).assign(value=now["value"].to_numpy())
    cl = T.contact_list(state, uplift=upl, verdicts={"message": v_order, "deletion": v_del}, top_n=500)
    kind = pd.Series(now["type"].to_numpy(), index=state["user_id"])
    listed = kind.loc[cl.contacts["user_id"]]
    # the "will buy" list of old: ranked by P(order) from a propensity model that ignores the treatment
    p = (
        LogisticRegression(max_iter=1000)
        .fit(train[["x0", "x1", "x2"]], train["y"])
        .predict_proba(now[["x0", "x1", "x2"]])
    )
    old = kind.iloc[np.argsort(-p[:, 1], kind="stable")[:500]]
    assert (listed == "persuadable").mean() >= 0.9
    assert (listed == "persuadable").mean() >= 2 * (old == "persuadable").mean()
    assert (listed == "do_not_disturb").sum() == 0
    # leave alone = the held-out groups where harm was measured: the bottom two order-uplift groups and the top two
    # deletion-uplift groups (the second only 27 % do-not-disturbs, yet measurably more deletions as a group)
    left = kind.loc[cl.leave_alone["user_id"]]
    dnd = (kind == "do_not_disturb").sum()
    assert (left == "do_not_disturb").sum() >= 0.9 * dnd  # measured: 0.99
    assert (left == "do_not_disturb").mean() >= 3 * dnd / len(kind)  # 12.5 % of customers; measured 46 % of the set


def test_sample_due_list_respects_the_cool_down(clean_sample):
    from helpers import features as F
    from helpers import repurchase as rp
    from helpers.engine import connect

    eng = connect(clean_sample, "duckdb")
    end = pd.Timestamp(AS_OF) - pd.Timedelta(days=1)
    full = rp.summarize(eng.table("orders"), end, unit="D")
    bgf = rp.BetaGeo().fit(full)
    state = eng.to_pandas(F.contact_state(eng.table("contacts"), eng.table("orders"), AS_OF, eng.table("touches")))
    cl = T.contact_list(state, due=T.due_scores(full, bgf.p_alive(full)), cooldown_days=14, top_n=200)
    c = cl.contacts
    assert len(c) == 200 and c["staff_id"].notna().all()
    assert (c["days_since_last_order"] >= 14).all() and (c["days_since_last_message"].fillna(1e9) >= 14).all()
    assert c["days_since_last_order"].median() > 14
    friends = state.set_index("user_id")["is_friend"]
    assert friends.loc[c["user_id"]].all()
    assert set(c["action"]) <= {"私聊", "群发"}


def test_without_an_identified_p_alive_the_due_score_is_measured_on_the_export(clean_sample):
    """P(alive) = 1 for everyone (dropout not identified, as on Online Retail): the modelled due score saturates for
    every customer whose gap is shorter than H; the measured one ranks by how often equally overdue customers bought
    (on the sample, scored 60 days before the end: AUC 0.886 for the next 60 days. buyers against 0.635)."""
    from helpers import features as F
    from helpers import repurchase as rp
    from helpers.engine import connect

    eng, h = connect(clean_sample, "duckdb"), 60
    end = pd.Timestamp(AS_OF) - pd.Timedelta(days=1)
    cut = end - pd.Timedelta(days=h)  # backtest: score at cut with orders up to cut only, then look at what came
    full = rp.summarize(eng.table("orders"), cut, unit="D")
    ones = pd.Series(1.0, index=full.index)
    assert not T.alive_identified(ones)
    modelled = T.due_scores(full, ones, h)
    measured = T.due_for_list(
        eng.table("orders").filter(lambda o: o.ordered_at < cut + pd.Timedelta(days=1)),
        full,
        ones,
        cut,
        h,
        eng.to_pandas,
    )
    assert measured.attrs["measured"] and measured["p_alive"].isna().all()
    assert measured["due_score"].between(0, 1).all() and measured["due_score"].nunique() >= 10
    assert (modelled["due_score"] >= 0.999).mean() > 0.3 > (measured["due_score"] >= 0.999).mean()
    later = F.purchase_days(eng.table("orders"), end, start=cut + pd.Timedelta(days=1))
    bought = full.index.isin(eng.to_pandas(later.select("user_id").distinct())["user_id"])
    from sklearn.metrics import roc_auc_score

    auc_measured, auc_modelled = (roc_auc_score(bought, d["due_score"]) for d in (measured, modelled))
    assert auc_measured > auc_modelled + 0.05 and auc_measured > 0.7, (auc_measured, auc_modelled)


def test_snapshot_of_some_contacts_equals_their_rows_of_everyones(clean_sample):
    from helpers import features as F
    from helpers.engine import connect

    eng = connect(clean_sample, "duckdb")
    t = {k: eng.table(k) for k in ("contacts", "orders", "touches")}
    everyone = eng.to_pandas(F.snapshot_features(t["contacts"], t["orders"], AS_OF, t["touches"]))
    state = eng.to_pandas(F.contact_state(t["contacts"], t["orders"], AS_OF, t["touches"]))
    ids = T.eligible_ids(state, cooldown_days=7, monthly_cap=4)
    some = eng.to_pandas(F.snapshot_features(t["contacts"], t["orders"], AS_OF, t["touches"], users=ids))
    assert 0 < len(some) < len(everyone) and set(some["user_id"]) == set(ids)
    want = everyone[everyone["user_id"].isin(ids)].reset_index(drop=True)
    pd.testing.assert_frame_equal(some.reset_index(drop=True), want)
    none = F.snapshot_features(t["contacts"], t["orders"], AS_OF, t["touches"], users=[])
    assert eng.to_pandas(none).empty


# ------------------------------------------------------------------------------- holdouts → models → list
def _holdout(seed: int, n: int, never_bought: bool, kind: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    d = uplift_population(n, seed=seed)
    f = pd.DataFrame(
        {
            "campaign_id": kind,
            "user_id": [f"{kind}{i:05d}" for i in range(n)],
            "arm": np.where(d["treatment"] == 1, "treatment", "control"),
            "assigned_at": pd.Timestamp("2025-11-10"),
            "channel": d["channel"],
            "tenure_days": d["x0"] * 10 + 100,
            "orders_before": 0 if never_bought else (d["x1"] > -3).astype(int) + 1,
            "gmv_before": d["x2"] * 10 + 100,
            "orders_recent": (d["x3"] > 0).astype(int),
            "days_since_last_order": np.nan if never_bought else d["x4"] * 10 + 60,
            "last_order_at": pd.NaT if never_bought else pd.Timestamp("2025-10-01"),
        }
    )
    return f, d


def test_holdout_tests_record_the_population_action_and_cost():
    fb, _ = _holdout(31, 400, False, "msg")
    fn, _ = _holdout(32, 400, True, "cpn")
    camps = pd.DataFrame({"campaign_id": ["msg", "cpn"], "name": ["M", "C"], "kind": ["message", "coupon"],
                          "start": ["2025-11-10"] * 2, "end": ["2025-11-23"] * 2, "cost": [200.0, 1000.0]})  # fmt: skip
    cols = ["campaign_id", "arm", "orders_before"]
    both = pd.concat([fb[cols], fn[cols]])
    t = T.holdout_tests(both, camps).set_index("campaign_id")
    assert t.loc["msg", "population"] == "buyers" and t.loc["cpn", "population"] == "never_buyers"
    assert t.loc["cpn", "action"] == "coupon" and t.loc["msg", "action"] == "message"
    assert t.loc["msg", "cost_per_treated"] == pytest.approx(200.0 / (fb["arm"] == "treatment").sum())
    assert T.holdout_tests(both, camps, which="cpn")["campaign_id"].tolist() == ["cpn"]
    with pytest.raises(ValueError, match="no assignments for nope"):
        T.holdout_tests(fb, camps, which="nope")
    assert T.holdout_tests(fb.iloc[:0], camps).empty


def test_a_model_scores_only_customers_like_those_it_was_tested_on():
    f, d = _holdout(33, 6000, False, "msg")
    out = pd.DataFrame({"campaign_id": "msg", "user_id": f["user_id"], "converted": d["y"].astype(bool)})
    dels = pd.DataFrame({"campaign_id": "msg", "user_id": f["user_id"], "deleted": d["deleted"].astype(bool)})
    frame = T.holdout_frame(f, out, dels, "msg")
    test = {"campaign_id": "msg", "name": "M", "action": "message", "population": "buyers"}
    h = T.fit_holdout(frame, test, chosen="two_model", folds=3)
    assert h.order.chosen == "two_model" and h.deletion is not None and set(h.verdicts) == {"message", "deletion"}
    snap = f.drop(columns=["campaign_id", "arm"]).iloc[:10].copy()
    snap.loc[snap.index[:4], "orders_before"] = 0  # never-buyers today: the buyers' test says nothing about them
    values = pd.DataFrame({"order_value": 100.0, "value_lost": 40.0}, index=snap["user_id"].iloc[4:])
    upl, verdicts = T.score_today(snap, [h], values)
    assert upl["message"].iloc[:4].isna().all() and upl["message"].iloc[4:].notna().all()
    assert upl["deletion"].iloc[:4].isna().all() and (upl["value"].iloc[:4] == 100.0).all()
    assert set(verdicts) == {"message", "deletion"}
    assert T.score_today(snap, [], values) == (None, {})
    leaky = f.copy()
    leaky.loc[0, "last_order_at"] = leaky.loc[0, "assigned_at"]
    with pytest.raises(U.LeakageError):
        T.holdout_frame(leaky, out, dels, "msg")


def test_a_test_above_the_cap_is_sampled_with_its_cells_kept_and_compared_on_the_same_customers():
    """fit_holdout samples a large test down (arm × order × deletion shares kept); planted_figures and the
    out-of-fold predictions then refer to the same sampled customers."""
    f, d = _holdout(35, 6000, False, "msg")
    out = pd.DataFrame({"campaign_id": "msg", "user_id": f["user_id"], "converted": d["y"].astype(bool)})
    dels = pd.DataFrame({"campaign_id": "msg", "user_id": f["user_id"], "deleted": d["deleted"].astype(bool)})
    frame = T.holdout_frame(f, out, dels, "msg")
    test = {"campaign_id": "msg", "name": "M", "action": "message", "population": "buyers"}
    h = T.fit_holdout(frame, test, chosen="two_model", folds=3, max_customers=2500)
    assert h.customers_used == len(h.rows) == len(h.order.model.oof_) == 2500
    used = frame.iloc[h.rows]
    cells = lambda fr: (fr["treatment"] * 4 + fr["converted"] * 2 + fr["deleted"]).value_counts(normalize=True)  # noqa: E731
    np.testing.assert_allclose(cells(used).sort_index(), cells(frame).sort_index(), atol=1e-3)
    truth_users = pd.DataFrame({"user_id": f["user_id"], "uplift_type": d["type"], "tau_order": d["tau"]})
    fig = T.planted_figures(h, frame, truth_users)
    assert np.isfinite(fig["qini_ratio"]) and fig["persuadable_lift"] > 1
    assert T.fit_holdout(frame, test, chosen="two_model", folds=3).rows is None  # under the cap: every customer


def test_eligible_ids_are_the_friends_the_list_may_contain():
    st = _state(6)
    st["is_friend"] = [True, True, True, True, False, True]
    st["days_since_last_order"] = [30.0, 3.0, np.nan, 30.0, 30.0, 30.0]
    st["days_since_last_message"] = [np.nan, np.nan, 2.0, np.nan, np.nan, np.nan]
    st["messages_this_month"] = [0, 0, 0, 0, 0, 4]
    assert list(T.eligible_ids(st, cooldown_days=7, monthly_cap=4)) == ["u00000", "u00003"]
    due = pd.DataFrame(
        {"p_alive": 0.9, "p_due": 0.5, "usual_gap_days": 30.0, "days_since_last_purchase": 40.0, "due_score": 0.45},
        index=st["user_id"],
    )
    cl = T.contact_list(st, due=due, cooldown_days=7, monthly_cap=4, top_n=10)
    assert set(cl.contacts["user_id"]) == {"u00000", "u00003"}


def test_score_is_margin_times_value_minus_deletion_risk_and_cost():
    s = _state(2)
    upl = pd.DataFrame({"message": [0.2, 0.2], "deletion": [0.0, 0.1], "deletion_value": [50.0, 50.0],
                        "value": [100.0, 100.0]}, index=s["user_id"])  # fmt: skip
    v = {"message": _verdict(), "deletion": _verdict()}
    cl = T.contact_list(s, uplift=upl, verdicts=v, costs={"message": 1.0}, margin=0.4)
    got = cl.contacts.set_index("user_id")["score"]
    assert got["u00000"] == pytest.approx(0.2 * 0.4 * 100 - 1.0)
    assert got["u00001"] == pytest.approx(0.2 * 0.4 * 100 - 0.1 * 50 - 1.0)
    # a deletion verdict of "average": everyone carries the average deletion effect (0.05 in _verdict)
    cl = T.contact_list(s, uplift=upl, verdicts={"message": _verdict(), "deletion": _verdict("average")}, margin=0.4)
    assert cl.contacts["score"].tolist() == pytest.approx([8.0 - 2.5, 8.0 - 2.5])
    out = T.export_frame(cl, "en")
    assert list(out.columns) == list(T.EXPORT_COLUMNS) and out["rank"].tolist() == [1, 2]
    assert (out["tier"] == "not measured").all() and (out["uplift_order"] == 0.2).all()


def test_compare_lists_counts_recent_buyers_and_planted_types():
    st = pd.DataFrame({"user_id": ["a", "b", "c", "d"], "days_since_last_order": [1.0, 50.0, 80.0, 3.0],
                       "days_since_last_message": [2.0, 20.0, np.nan, 1.0]})  # fmt: skip
    planted = pd.Series({"b": "persuadable", "c": "persuadable", "d": "sure_thing"})
    c = T.compare_lists({"new": pd.Series(["b", "c"]), "old": pd.Series(["a", "d"])}, st, planted, days=7)
    assert c.loc["new", "persuadable_share"] == 1.0 and c.loc["old", "persuadable_share"] == 0.0
    assert c.loc["old", "ordered_recently"] == 1.0 and c.loc["new", "median_days_since_last_order"] == 65.0


def test_buyer_values_use_the_models_03_chose_and_round_trip_through_its_artifact(tmp_path):
    from helpers import repurchase as rp
    from helpers.simulate import paretonbd_summary

    s = paretonbd_summary(3000, r=0.55, alpha=10.6, s=0.6, beta=11.7, T=39, seed=3)
    s.index = pd.Index([f"b{i:05d}" for i in range(len(s))], name="user_id")
    s["monetary_value"] = np.where(s["frequency"] > 0, 20 + 10 * (s.index.str[-1].astype(int) % 3), 0.0)
    s.attrs["unit"] = "W"
    pareto = rp.ParetoNBD().fit(s, unit="W")
    mean_value = 25.0
    v = T.buyer_values(s, horizon_days=70, margin=0.5, model=pareto, value_model=mean_value)
    # 70 days are 10 weeks in the model's unit; the value model's number is every buyer's order value
    assert np.allclose(v["expected_orders"], pareto.expected_purchases(s, 10.0))
    assert np.allclose(v["p_alive"], pareto.p_alive(s)) and (v["order_value"] == mean_value).all()
    assert np.allclose(v["value_lost"], 0.5 * v["expected_orders"] * mean_value)
    assert v.attrs["models"]["purchase"] is pareto
    assert T.read_buyer_values(tmp_path / "v.parquet", s, 70, 0.5) is None  # 03 did not run: 06 fits its own
    T.write_buyer_values(v, tmp_path / "v.parquet", "Pareto/NBD", "mean")
    back = T.read_buyer_values(tmp_path / "v.parquet", s.iloc[::7], 70, 0.5)
    pd.testing.assert_frame_equal(back, v.iloc[::7], check_names=False)
    assert back.attrs["source"] == {"model": "Pareto/NBD", "value_model": "mean"}
    assert "Pareto/NBD" in T.values_sentence(back, "zh") and "70" in T.values_sentence(back, "en")
    assert T.read_buyer_values(tmp_path / "v.parquet", s, 60, 0.5) is None  # saved for another horizon: not used
    assert (
        T.chosen_buyer_values(tmp_path / "v.parquet", s, 70, 0.4).attrs["source"] is None
    )  # another margin: fitted here
    with pytest.raises(ValueError, match="no value for 1 buyers"):
        T.read_buyer_values(tmp_path / "v.parquet", pd.concat([s, s.iloc[:1].rename(index={"b00000": "zzz"})]), 70, 0.5)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_headline_and_artifact_say_not_measured_without_a_randomised_test(lang):
    contacts = pd.DataFrame({"user_id": ["a", "b"]})
    none = T.ContactList(contacts, pd.DataFrame(), {"score": "due", "verdicts": {}})
    assert not none.leave_alone_measured
    text = T.headline(none, lang)
    assert ("未测量" in text and "0 人" not in text) if lang == "zh" else ("not measured" in text and " 0 " not in text)
    empty = pd.DataFrame(columns=["campaign_id"])
    assert T.artifact(none, [], empty, pd.DataFrame())["leave_alone"] is None
    measured = T.ContactList(contacts, pd.DataFrame({"user_id": []}), {"score": "due", "verdicts": {"order": 1}})
    assert measured.leave_alone_measured and T.artifact(measured, [], empty, pd.DataFrame())["leave_alone"] == 0
    said = T.headline(measured, lang)
    assert ("0 人暂不打扰" in said) if lang == "zh" else ("0 to leave alone" in said)


def test_exported_days_since_are_whole_days_as_why_now_counts_them():
    """Online Retail's list read "距上次下单天数 9" beside "距上次购买已 8 天": 8.6 days were rounded in one, counted in
    the other. The export floors them; the cool-down (``< cooldown_days``, whole days) keeps the same people."""
    c = pd.DataFrame({"user_id": ["a", "b"], "staff_id": ["s1", "s2"], "score": [0.4, 0.3],
                      "action_key": "private_chat", "action": "私聊", "why_now": "…",
                      "days_since_last_order": [8.6, 6.99], "days_since_last_message": [np.nan, 0.2]})  # fmt: skip
    out = T.export_frame(T.ContactList(c, pd.DataFrame(), {"score": "due"}))
    assert out["days_since_last_order"].tolist() == [8.0, 6.0]
    assert np.isnan(out.loc[0, "days_since_last_message"]) and out.loc[1, "days_since_last_message"] == 0.0
    assert ((out["days_since_last_order"] < 7) == (c["days_since_last_order"] < 7)).all()

"""Acquisition methods against hand computations and constructed cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from helpers import acquisition as acq
from helpers.labels import Labels

Z = norm.ppf(0.975)


def wilson(k: int, n: int) -> tuple[float, float]:
    p = k / n
    centre = (p + Z**2 / (2 * n)) / (1 + Z**2 / n)
    half = Z * np.sqrt(p * (1 - p) / n + Z**2 / (4 * n**2)) / (1 + Z**2 / n)
    return centre - half, centre + half


def units(counts: dict[str, tuple[int, int]]) -> pd.DataFrame:
    rows = []
    for v, (k, n) in counts.items():
        rows += [(v, True)] * k + [(v, False)] * (n - k)
    return pd.DataFrame(rows, columns=["variant", "ok"])


def test_compare_variants_matches_hand_computed_intervals():
    r = acq.compare_variants(units({"A": (45, 100), "B": (60, 100)}), "variant", "ok").set_index("variant")
    for v, k in (("A", 45), ("B", 60)):
        lo, hi = wilson(k, 100)
        assert r.loc[v, "ci_low"] == pytest.approx(lo, abs=1e-12)
        assert r.loc[v, "ci_high"] == pytest.approx(hi, abs=1e-12)
    # Newcombe hybrid score interval for pB - pA from the two Wilson intervals
    (la, ua), (lb, ub) = wilson(45, 100), wilson(60, 100)
    d = 0.60 - 0.45
    assert r.loc["B", "diff"] == pytest.approx(d)
    assert r.loc["B", "diff_ci_low"] == pytest.approx(d - np.sqrt((0.60 - lb) ** 2 + (ua - 0.45) ** 2), abs=1e-9)
    assert r.loc["B", "diff_ci_high"] == pytest.approx(d + np.sqrt((ub - 0.60) ** 2 + (0.45 - la) ** 2), abs=1e-9)
    # the score test is close to the pooled two-proportion z test
    pooled = 105 / 200
    z = d / np.sqrt(pooled * (1 - pooled) * (2 / 100))
    assert r.loc["B", "p_value"] == pytest.approx(2 * norm.sf(z), rel=0.05)
    assert r.loc["A", "verdict"].startswith("control")


def test_clear_winner_is_called_and_loser_too():
    r = acq.compare_variants(units({"A": (300, 1000), "B": (380, 1000), "C": (220, 1000)}), "variant", "ok")
    v = r.set_index("variant")["verdict"]
    assert v["B"].startswith("B beats A") and v["C"].startswith("C is worse than A")
    assert (r["p_adjusted"].dropna() >= r["p_value"].dropna()).all()  # Holm never lowers p


def test_no_difference_gives_no_false_winner():
    r = acq.compare_variants(units({"A": (300, 1000), "B": (300, 1000)}), "variant", "ok")
    b = r.set_index("variant").loc["B"]
    assert b["diff"] == 0 and b["diff_ci_low"] < 0 < b["diff_ci_high"]
    assert b["verdict"].startswith("no detectable difference")


def test_false_winner_rate_under_the_null_is_about_alpha():
    rng = np.random.default_rng(0)
    winners = 0
    for _ in range(300):
        a, b = rng.binomial(800, 0.25), rng.binomial(800, 0.25)
        r = acq.compare_variants(units({"A": (a, 800), "B": (b, 800)}), "variant", "ok")
        winners += "beats" in r["verdict"].iloc[1] or "worse" in r["verdict"].iloc[1]
    assert winners / 300 < 0.09  # two-sided 5 % test: about 15 of 300


def test_too_small_sample_refuses_and_shows_mde():
    r = acq.compare_variants(units({"A": (3, 10), "B": (8, 10)}), "variant", "ok")
    verdict = r["verdict"].iloc[1]
    assert verdict.startswith("too few to tell") and "%" in verdict
    assert r["mde"].iloc[1] > 0.4


def test_control_choice_and_errors():
    d = units({"A": (30, 100), "B": (40, 100)})
    assert acq.compare_variants(d, "variant", "ok", control="B")["variant"].tolist() == ["B", "A"]
    with pytest.raises(ValueError, match="control variant 'Z' not found"):
        acq.compare_variants(d, "variant", "ok", control="Z")
    with pytest.raises(ValueError, match="nothing to compare"):
        acq.compare_variants(d.assign(variant=None), "variant", "ok")


def test_mde_matches_textbook_formula():
    p, n = 0.3, 2000
    textbook = (norm.ppf(0.975) + norm.ppf(0.8)) * np.sqrt(2 * p * (1 - p) / n)
    assert acq.minimum_detectable_effect(p, n, n) == pytest.approx(textbook, rel=0.05)
    assert np.isnan(acq.minimum_detectable_effect(0.3, 1, 1))


# ------------------------------------------------------------------------------------------------ funnel
AS_OF = pd.Timestamp("2025-03-01")


def small_world():
    contacts = pd.DataFrame(
        {
            "user_id": ["a", "b", "c", "d", "e"],
            "added_at": pd.to_datetime(["2025-01-01", "2025-01-01", "2025-01-10", "2025-02-20", "2025-01-05"]),
            "channel": ["x", "x", "x", "x", "y"],
            "removed_at": pd.to_datetime([None, "2025-01-11", None, None, "2025-04-01"]),
        }
    )
    first = pd.DataFrame({"user_id": ["a", "b", "d"], "days_to_first_order": [3.0, 40.0, 1.0]})
    leads = pd.DataFrame(
        {
            "created_at": pd.to_datetime(["2025-01-01", "2025-01-01", "2025-01-09", "2025-02-27", "2025-01-20"]),
            "channel": ["x", "x", "x", "x", "x"],
            "user_id": ["a", "b", "c", None, None],
        }
    )
    return contacts, first, leads


def test_funnel_counts_censoring_and_denominators():
    contacts, first, leads = small_world()
    f = acq.funnel(contacts, first, as_of=AS_OF, leads=leads, window_days=30, lead_window_days=7).set_index("channel")
    x = f.loc["x"]
    # d was added 9 days before as_of: censored, not a drop-off; b ordered after 40 days: outside the window
    assert (x["contacts"], x["eligible"], x["censored"], x["first_orders"]) == (4, 3, 1, 1)
    assert x["conversion"] == pytest.approx(1 / 3)
    # the lead of 2025-02-27 is younger than the 7-day add window: not in the denominator
    assert (x["leads"], x["leads_added"]) == (4, 3)
    assert x["add_rate"] == pytest.approx(0.75)
    assert x["lead_to_order"] == pytest.approx(0.25)
    assert x["median_days_to_first_order"] == 3.0
    no_leads = acq.funnel(contacts, first, as_of=AS_OF)
    assert "add_rate" not in no_leads.columns


def test_adds_over_time_counts_removals_when_they_happen():
    contacts, _, _ = small_world()
    a = acq.adds_over_time(contacts, freq="M", start="2025-01-01", end="2025-03-31")
    jan_x = a[(a["period"] == "2025-01-01") & (a["channel"] == "x")].iloc[0]
    assert (jan_x["adds"], jan_x["removals"], jan_x["net_adds"]) == (3, 1, 2)
    assert a["net_adds"].sum() == a["adds"].sum() - a["removals"].sum() == 5 - 1  # e's removal is after the window


def test_a_window_with_no_adds_says_when_the_contacts_were_added_instead_of_an_empty_table():
    # a cohort export (CDNOW: every customer first bought in Q1 1997, orders until mid-1998): the default window,
    # the year before as_of, holds no add; 01 crashed drawing zero panels
    contacts, _, _ = small_world()
    a = acq.adds_over_time(contacts, freq="W", start="2026-01-01", end="2026-12-31")
    note = acq.adds_note(a, contacts, pd.Timestamp("2026-01-01"), pd.Timestamp("2026-12-31"), Labels("zh"))
    first, last = contacts["added_at"].min(), contacts["added_at"].max()
    assert a.empty and "分析窗口 2026-01-01 至 2026-12-31 内没有新加的好友" in note
    assert f"{len(contacts)} 位好友都加于 {first:%Y-%m-%d} 至 {last:%Y-%m-%d}" in note
    assert "各渠道在分析窗口" not in note  # no caption above a table that is not shown
    assert len(acq.plot_net_adds(a, lang="zh")) == 0
    inside = acq.adds_over_time(contacts, freq="M", start="2025-01-01", end="2025-03-31")
    note = acq.adds_note(inside, contacts, pd.Timestamp("2025-01-01"), pd.Timestamp("2025-03-31"), Labels("zh"))
    assert note.startswith("各渠道在分析窗口 2025-01-01 至 2025-03-31") and "没有新加" not in note
    # Online Retail: the "add" is the first invoice, so the export's first months count old customers seen first
    c = contacts["user_id"]
    on_add = pd.DataFrame({"user_id": c, "days_to_first_order": 0.0})
    note = acq.adds_note(inside, contacts, pd.Timestamp("2025-01-01"), pd.Timestamp("2025-03-31"), Labels("zh"), on_add)
    assert f"导出从 {contacts['added_at'].min():%Y-%m-%d} 开始，头几个月里有许多早就在买" in note
    later = on_add.assign(days_to_first_order=3.0)  # real add dates: no such caveat
    assert "第一次出现" not in acq.adds_note(
        inside, contacts, pd.Timestamp("2025-01-01"), pd.Timestamp("2025-03-31"), Labels("zh"), later
    )


def test_the_headline_names_only_measured_figures():
    f = pd.DataFrame({"channel": ["store_qr", "paid_ads"], "conversion": [0.42, 0.18]})
    d30 = pd.Series({"store_qr": 0.03, "paid_ads": 0.11})
    assert acq.headline_text(f, d30, "B 胜出", 30, Labels("zh")) == (
        "30 天首单转化率最高的渠道是门店二维码（42.0%）；话术测试：B 胜出；30 天删除率最高的是广告投放（11.0%）"
    )
    # CDNOW: add times are first orders and no removal is recorded: said in words, no "—（未测量）" beside a name
    unmeasured = f.assign(conversion=float("nan"))
    assert acq.headline_text(unmeasured, None, None, 30, Labels("en")) == (
        "30-day first-order conversion not measured; deletion not measured"
    )


def test_channel_groups():
    contacts, _, _ = small_world()
    assert set(acq.apply_channel_groups(contacts, "x=线下")["channel"]) == {"线下", "y"}
    assert acq.apply_channel_groups(contacts, "") is contacts
    with pytest.raises(ValueError, match="old=new"):
        acq.apply_channel_groups(contacts, "x")


# ------------------------------------------------------------------------------------------------ survival
def test_deletion_rates_are_kaplan_meier_with_censoring():
    added = pd.Timestamp("2025-01-01")
    durations = [5, 10, 10, 20, 30, 40]
    removed = [True, True, False, True, False, True]
    contacts = pd.DataFrame(
        {
            "user_id": list("abcdef"),
            "channel": "x",
            "added_at": added,
            "removed_at": [
                added + pd.Timedelta(days=d) if r else pd.NaT for d, r in zip(durations, removed, strict=True)
            ],
        }
    )
    # c and e are censored by as_of (still friends); give them observation ends by choosing as_of per contact:
    # here as_of is far away, so c and e would be observed to as_of. Censor them by adding them later instead.
    contacts.loc[2, "added_at"] = pd.Timestamp("2025-03-01") - pd.Timedelta(days=10)
    contacts.loc[4, "added_at"] = pd.Timestamp("2025-03-01") - pd.Timedelta(days=30)
    rates = acq.deletion_rates(contacts, "2025-03-01", days=(7, 15, 35), by="channel").set_index("day")
    # hand KM: t=5: 1-1/6; t=10: ×(1-1/5); t=20: ×(1-1/3) (c censored at 10); t=40: e censored at 30
    s7 = 5 / 6
    s15 = s7 * 4 / 5
    s35 = s15 * 2 / 3
    assert rates.loc[7, "deletion_rate"] == pytest.approx(1 - s7)
    assert rates.loc[15, "deletion_rate"] == pytest.approx(1 - s15)
    assert rates.loc[35, "deletion_rate"] == pytest.approx(1 - s35)
    assert (rates["ci_low"] <= rates["deletion_rate"]).all() and (rates["deletion_rate"] <= rates["ci_high"]).all()


def test_removal_after_as_of_is_censored_and_beyond_follow_up_is_nan():
    contacts = pd.DataFrame(
        {
            "user_id": ["a", "b"],
            "channel": "x",
            "added_at": pd.Timestamp("2025-01-01"),
            "removed_at": [pd.Timestamp("2025-01-05"), pd.Timestamp("2025-06-01")],
        }
    )
    r = acq.deletion_rates(contacts, "2025-01-21", days=(10, 60)).set_index("day")
    assert r.loc[10, "deletion_rate"] == pytest.approx(0.5)  # b's removal is in the future: censored at day 20
    assert np.isnan(r.loc[60, "deletion_rate"])


# ------------------------------------------------------------------------------------------------ CAC
def test_cac_is_spend_over_adds_and_campaign_fallback_splits_cost():
    contacts, first, _ = small_world()
    contacts["campaign_id"] = ["c1", "c1", "c2", "c2", "c2"]
    spend = pd.DataFrame(
        {
            "date": pd.to_datetime(["2025-01-01", "2025-02-01", "2024-12-31"]),
            "channel": ["x", "y", "x"],
            "cost": [100.0, 50.0, 999.0],
        }
    )
    c = acq.acquisition_cost(contacts, first, as_of=AS_OF, start="2025-01-01", end="2025-02-28", spend=spend).set_index(
        "channel"
    )
    assert c.loc["x", "cac"] == 100.0 / 4 and c.loc["y", "cac"] == 50.0
    assert c.loc["x", "cost_per_first_buyer"] == pytest.approx(100.0 * 3 / 4 / 1)
    camp = pd.DataFrame({"campaign_id": ["c1", "c2"], "cost": [60.0, 90.0]})
    c2 = acq.acquisition_cost(
        contacts, first, as_of=AS_OF, start="2025-01-01", end="2025-02-28", campaigns=camp
    ).set_index("channel")
    assert c2.loc["x", "spend"] == pytest.approx(60 + 90 * 2 / 3) and c2.loc["y", "spend"] == pytest.approx(30)
    assert c2["spend_source"].eq("campaign cost").all()
    none = acq.acquisition_cost(contacts, first, as_of=AS_OF, start="2025-01-01", end="2025-02-28")
    assert none["cac"].isna().all()


def test_payback_pools_only_fully_observed_cohorts():
    contacts = pd.DataFrame(
        {
            "user_id": ["a", "b", "c"],
            "channel": "x",
            "added_at": pd.to_datetime(["2025-01-05", "2025-01-20", "2025-03-10"]),
            "removed_at": pd.NaT,
        }
    )
    rev = pd.DataFrame(
        {
            "cohort": pd.to_datetime(["2025-01-01", "2025-01-01", "2025-03-01"]),
            "channel": "x",
            "period": [0, 1, 0],
            "gmv": [100.0, 50.0, 30.0],
        }
    )
    cac = pd.DataFrame({"channel": ["x"], "cac": [60.0]})
    pb = acq.payback(rev, contacts, cac, as_of="2025-04-01", margin=0.5).set_index("period")
    # period 0: Jan cohort (2 contacts) observed to 02-19 and Mar cohort to 04-09 > as_of: only Jan counts
    assert pb.loc[0, "contacts"] == 2 and pb.loc[0, "value_per_contact"] == pytest.approx(0.5 * 100 / 2)
    assert pb.loc[1, "cum_value_per_contact"] == pytest.approx(25 + 0.5 * 50 / 2)
    assert list(pb.index) == [0, 1]  # period 2 of January ends 2025-04-20 > as_of
    assert not pb["paid_back"].any() and pb.loc[1, "ltv_to_cac"] == pytest.approx(37.5 / 60)


def test_cohort_retention_leaves_unobserved_cells_blank():
    contacts = pd.DataFrame(
        {
            "user_id": ["a", "b", "c"],
            "channel": "x",
            "added_at": pd.to_datetime(["2025-01-05", "2025-01-20", "2025-03-10"]),
            "removed_at": pd.to_datetime(["2025-01-25", None, None]),
        }
    )
    rev = pd.DataFrame(
        {"cohort": pd.to_datetime(["2025-01-01"]), "channel": "x", "period": [1], "gmv": [10.0], "buyers": [1]}
    )
    still, buying = acq.cohort_retention(contacts, rev, as_of="2025-04-01", max_periods=3)
    jan = pd.Timestamp("2025-01-01")
    assert still.loc[jan, 0] == 0.5 and buying.loc[jan, 1] == 0.5 and buying.loc[jan, 0] == 0
    assert np.isnan(still.loc[jan, 2]) and np.isnan(still.loc[pd.Timestamp("2025-03-01"), 0])


def test_deletion_is_not_measured_without_any_removal_time():
    """No removed_at anywhere: deletion, net adds and retention are NaN with a reason, not 0 % / flat 100 %."""
    c = pd.DataFrame(
        {
            "user_id": [f"u{i}" for i in range(40)],
            "added_at": pd.date_range("2025-01-01", periods=40, freq="D"),
            "removed_at": pd.NaT,
            "channel": ["a", "b"] * 20,
        }
    )
    d = acq.deletion_rates(c, "2025-06-01", days=(7, 30))
    assert d["deletion_rate"].isna().all() and set(d.attrs["not_measured"]) == {"deletion_rate", "ci_low", "ci_high"}
    assert acq.friend_survival(c, "2025-06-01") == {}
    adds = acq.adds_over_time(c, freq="M")
    assert (
        adds["adds"].sum() == 40
        and adds["net_adds"].isna().all()
        and "删除时间" in adds.attrs["not_measured"]["net_adds"]
    )
    cohort_rev = pd.DataFrame(columns=["cohort", "channel", "period", "gmv", "buyers", "orders"])
    still, _ = acq.cohort_retention(c, cohort_rev, as_of="2025-06-01")
    assert still.isna().all().all()
    # one removal anywhere and the same data are measured
    d2 = acq.deletion_rates(c.assign(removed_at=[pd.Timestamp("2025-03-01")] + [pd.NaT] * 39), "2025-06-01")
    assert d2["deletion_rate"].notna().all()

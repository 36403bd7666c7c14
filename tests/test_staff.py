"""Staff scorecard: interval and O/E math by hand, planted ranking and loss day recovered, "not measured" is not 0."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from helpers import staff
from helpers.data import load
from helpers.engine import connect
from helpers.privacy import DEMO_KEY, pseudonym
from helpers.simulate import simulate
from helpers.truth import TruthChecks

AS_OF = "2026-01-01"
START, END = "2025-01-01", "2025-12-31"
BURST_DAY = pd.Timestamp("2025-08-14")
BURST = 40


# ------------------------------------------------------------------------------------------------ math by hand
def test_wilson_interval_matches_the_textbook_values():
    lo, hi = staff.wilson_interval(np.array([10, 0, 5]), np.array([100, 20, 0]))
    assert lo[0] == pytest.approx(0.05522, abs=1e-4) and hi[0] == pytest.approx(0.17437, abs=1e-4)
    assert lo[1] == 0.0 and hi[1] == pytest.approx(0.16113, abs=1e-4)  # 0 of 20: the upper limit is not 0
    assert np.isnan(lo[2]) and np.isnan(hi[2])  # no denominator: no interval


def test_poisson_interval_is_the_exact_garwood_interval():
    lo, hi = staff.poisson_interval(np.array([20.0, 0.0, 5.0]), np.array([20.0, 2.0, 0.0]))
    # exact 95% limits of a Poisson count: 20 → [12.22, 30.89], 0 → [0, 3.689]
    assert lo[0] == pytest.approx(12.217 / 20, abs=1e-3) and hi[0] == pytest.approx(30.889 / 20, abs=1e-3)
    assert lo[1] == 0.0 and hi[1] == pytest.approx(3.689 / 2, abs=1e-3)
    assert np.isnan(lo[2]) and np.isnan(hi[2])


def test_indirect_standardisation_removes_the_mix_and_keeps_real_differences():
    # a and b have the same rates inside each channel; b holds the cold channel. c is twice as bad in both.
    counts = pd.DataFrame(
        {
            "staff_id": ["a", "a", "b", "b", "c", "c"],
            "channel": ["warm", "cold", "warm", "cold", "warm", "cold"],
            "obs": [900, 100, 100, 900, 500, 500],
            "deleted": [45, 30, 5, 270, 50, 300],
        }
    )
    out = staff.indirect_standardise(counts, "deleted", "obs")
    # channel rates over everyone: warm 100/1500, cold 600/1500
    r_warm, r_cold = 100 / 1500, 600 / 1500
    e_a = 900 * r_warm + 100 * r_cold
    e_c = 500 * r_warm + 500 * r_cold
    assert out.at["a", "expected"] == pytest.approx(e_a)
    assert out.at["a", "oe"] == pytest.approx(75 / e_a) and out.at["c", "oe"] == pytest.approx(350 / e_c)
    assert out.at["b", "rate"] > 3 * out.at["a", "rate"]  # raw, b looks far worse than a …
    assert out.at["b", "oe"] == pytest.approx(275 / (100 * r_warm + 900 * r_cold))
    assert abs(out.at["a", "oe"] - out.at["b", "oe"]) < 0.25  # … adjusted, a and b are close
    assert out.at["c", "oe"] > out.at["b", "oe"] and out.at["c", "oe_low"] > 1.0  # c is really worse
    assert out["observed"].sum() == pytest.approx(out["expected"].sum())  # O and E add up over everyone
    lo, hi = staff.poisson_interval(out["observed"], out["expected"])
    assert np.allclose(out["oe_low"], lo) and np.allclose(out["oe_high"], hi)


def test_later_relationships_are_their_own_stratum():
    """A later relationship (a customer's second staff member) is deleted at its own rate: with channel alone, a
    staff member who makes only first adds looks better than they are; with channel × relationship they are 1."""
    counts = pd.DataFrame(
        {
            "staff_id": ["a", "b", "b"],
            "channel": ["x", "x", "x"],
            "relationship": ["first", "first", "later"],
            "obs": [1000, 500, 500],
            "deleted": [300, 150, 250],
        }
    )
    by_channel = staff.indirect_standardise(counts, "deleted", "obs", ["channel"])
    both = staff.indirect_standardise(counts, "deleted", "obs", ["channel", "relationship"])
    assert by_channel.at["a", "oe"] == pytest.approx(300 / 350)  # x's rate mixes first (0.30) and later (0.50)
    assert both.at["a", "oe"] == pytest.approx(1.0) and both.at["b", "oe"] == pytest.approx(1.0)


def test_composite_score_signs_and_skips():
    x = pd.DataFrame({"bad": [0.0, 1.0, 2.0], "good": [2.0, 1.0, 0.0], "none": np.nan}, index=["p", "q", "r"])
    s = staff.composite_score(x, {"bad": False, "good": True, "none": True})
    assert list(s.sort_values(ascending=False).index) == ["p", "q", "r"]
    assert s["q"] == pytest.approx(0.0)


# ------------------------------------------------------------------------------------------------ simulated data
def _clean(tmp_path, name: str, edit=None):
    raw = tmp_path / f"raw_{name}"
    simulate(12_000, seed=3, out=raw)
    if edit is not None:
        edit(raw)
    return load(raw, as_of=AS_OF, demo=True).write(tmp_path / name), json.loads((raw / "truth.json").read_text())


def _plant_loss_day(raw) -> None:
    """Make the planted cold staff member lose BURST customers at once on BURST_DAY (a mass deletion)."""
    c = pd.read_parquet(raw / "contacts.parquet")
    alive = (c["staff_id"] == "staff_02") & (c["added_at"] < BURST_DAY - pd.Timedelta(days=30))
    alive &= c["removed_at"].isna() | (c["removed_at"] > BURST_DAY + pd.Timedelta(days=1))
    pick = c.index[alive][:BURST]
    c.loc[pick, "removed_at"] = BURST_DAY + pd.Timedelta(hours=10)
    c.to_parquet(raw / "contacts.parquet", index=False)


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("staff")
    clean, truth = _clean(tmp, "sim", _plant_loss_day)
    eng = connect(clean)
    return staff.StaffScorecard().fit(eng, START, END, AS_OF), truth, eng


def test_planted_ranking_is_recovered_after_mix_adjustment(fitted):
    sc, truth, _ = fitted
    ids = staff.planted_staff_ids(truth)
    assert ids["best"] == pseudonym("staff_01", DEMO_KEY)
    t = sc.table_
    assert sc.strata_ == ["channel", "relationship"] and list(sc.mix_.columns.names) == ["channel"]
    assert set(sc.counts_["relationship"]) == {"first", "later"}  # the simulator plants second relationships
    assert len(t) >= 5 and t["rank"].notna().all()
    assert t.index[0] == ids["best"] and t.index[-1] == ids["worst"]
    assert t.at[ids["cold"], "rank"] < len(t)
    cold = sc.coldest_mix()
    assert cold["staff_id"] == ids["cold"] and cold["channel"] == "paid_ads" and cold["share"] > 0.35
    assert cold["low"] <= 1.0 <= cold["high"]  # average once the mix is taken into account
    tc = staff.truth_checks(sc, ids, truth, TruthChecks("en"))
    failed = tc.table().query("not ok")
    # the planted loss day is the one check expected to fail here (none is planted in the sample itself)
    assert tc.failed() == ["no_loss_days"] and list(failed["quantity"]) == ["loss days flagged (none planted)"], failed
    oe = t["deletion_oe"]
    assert oe[ids["best"]] == pytest.approx(0.6, abs=0.2) and oe[ids["worst"]] == pytest.approx(1.4, abs=0.25)


def test_planted_loss_day_is_flagged_with_its_date_and_count(fitted):
    sc, truth, _ = fitted
    ids = staff.planted_staff_ids(truth)
    days = sc.loss_days_
    assert len(days) == 1, days
    row = days.iloc[0]
    assert row["staff_id"] == ids["cold"] and row["date"] == BURST_DAY
    assert BURST <= row["deletions"] <= BURST + 5 and row["deletions"] > row["bound"] > row["expected"]
    assert sc.table_.at[ids["cold"], "loss_days"] == 1


def test_artifact_is_json_and_holds_every_staff_member(fitted, tmp_path):
    sc, _, _ = fitted
    art = sc.artifact(START, END)
    text = json.dumps(art, ensure_ascii=False)
    back = json.loads(text)
    assert back["window"] == [START, END] and back["strata"] == ["channel", "relationship"]
    assert len(back["staff"]) == len(sc.table_) and back["measured"] == {
        "removals": True,
        "messages": True,
        "broadcasts": True,
    }
    assert back["loss_days"][0]["date"] == f"{BURST_DAY:%Y-%m-%d}"
    assert "staff_0" not in text  # pseudonyms only


def test_the_page_table_puts_each_oe_beside_its_interval_and_leaves_the_rest_to_the_workbook(fitted):
    """A lead reads 13 columns across, not 21: each O/E reads "0.64（0.56–0.74）" from the fitted table's figures."""
    sc, _, _ = fitted
    page, t = sc.scorecard(), sc.table_
    assert list(page.columns) == [
        c if c not in ("deletion_oe", "conversion_oe") else f"{c}_interval" for c in staff.PAGE_COLUMNS
    ]
    first = t.index[0]
    d = t.loc[first, ["deletion_oe", "deletion_oe_low", "deletion_oe_high"]].astype(float)
    assert page.loc[first, "deletion_oe_interval"] == f"{d.iloc[0]:.2f}（{d.iloc[1]:.2f}–{d.iloc[2]:.2f}）"
    assert page.index.equals(t.index) and (page["rank"] == t["rank"]).all()
    from helpers.labels import Labels

    html = Labels("zh").show(page, index_kind="staff", hide_index=False).to_html()
    assert "删除 O/E（区间）" in html and "deletion_oe" not in html


def test_not_measured_is_not_zero(tmp_path):
    """No removal times, no messages, no broadcasts: those columns are NaN and marked, never 0; ranking still runs."""

    def strip(raw):
        c = pd.read_parquet(raw / "contacts.parquet")
        c["removed_at"] = pd.NaT
        c.to_parquet(raw / "contacts.parquet", index=False)
        for t in ("messages", "broadcasts", "group_members"):
            (raw / f"{t}.parquet").unlink()

    clean, _ = _clean(tmp_path, "bare", strip)
    sc = staff.StaffScorecard().fit(connect(clean), START, END, AS_OF)
    t = sc.table_
    assert sc.measured_ == {"removals": False, "messages": False, "broadcasts": False}
    assert set(sc.not_measured_) == {"removals", "messages", "broadcasts"}
    for col in ("deletions", "net", "deletion_rate_30d", "deletion_oe", "loss_days", "reply_rate", "execution_rate"):
        assert t[col].isna().all(), col
        assert col in t.attrs["not_measured"]
    assert (t["adds"] > 0).all() and t["rank"].notna().all()  # conversion still ranks them
    assert sc.loss_days_.empty and sc.coldest_mix() is None
    from helpers.labels import Labels

    page = sc.scorecard()
    assert page["deletion_oe_interval"].isna().all() and "deletion_oe_interval" in page.attrs["not_measured"]
    shown = Labels("en").show(page, hide_index=False).to_html()
    assert "not measured" in shown
    assert "not measured" in staff.headline(sc, Labels("en"))


def test_planted_staff_ids_follow_the_key_the_loader_used(monkeypatch):
    """A benchmark's simulated data run under the user's key, not the demo key: the ids follow that key."""
    truth = {"staff": {"best": "staff_01", "worst": "staff_09", "cold": "staff_07"}}
    key = "ab" * 32
    monkeypatch.setenv("SIYU_PII_KEY", key)
    user = {r: pseudonym(truth["staff"][r], bytes.fromhex(key)) for r in ("best", "worst", "cold")}
    demo = {r: pseudonym(truth["staff"][r], DEMO_KEY) for r in ("best", "worst", "cold")}
    assert staff.planted_staff_ids(truth) == demo  # nothing to match against: the sample's key
    assert staff.planted_staff_ids(truth, known=[*user.values(), "other"]) == user
    assert staff.planted_staff_ids(truth, known=["other"]) is None  # no key fits: no truth check


def test_the_raw_vs_adjusted_legend_covers_no_point():
    """Inside the axes the legend hid the bottom row's points: the last-ranked member, whom a lead looks for."""
    import matplotlib

    matplotlib.use("Agg")
    idx = [f"s{i}" for i in range(9)]
    t = pd.DataFrame(
        {"deletion_rate_30d": np.linspace(0.1, 0.21, 9), "deletion_rate_adjusted": np.linspace(0.11, 0.22, 9)},
        index=idx,
    )
    ax = staff.plot_raw_vs_adjusted(t)
    ax.figure.canvas.draw()
    box = ax.get_legend().get_window_extent()
    for points in ax.collections[1:]:  # the two scatters (the first collection is the lines)
        xy = ax.transData.transform(points.get_offsets())
        assert not any(box.contains(x, y) for x, y in xy)

"""Latent-class CLV against planted classes: parameters, channel shares, channel values inside their intervals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers import clv
from helpers.latent_class import LatentClassCLV, channel_values, choose_classes, latent_class_intervals, tier_values
from helpers.simulate import bgnbd_summary

# three kinds of customer (days), as different as a private domain's heavy, occasional and leaving buyers
CLASSES = [
    {"bg": {"r": 10.0, "alpha": 70.0, "a": 2.0, "b": 60.0}, "gg": {"p": 10.0, "q": 30.0, "gamma": 1740.0}},
    {"bg": {"r": 10.0, "alpha": 200.0, "a": 2.0, "b": 20.0}, "gg": {"p": 10.0, "q": 30.0, "gamma": 435.0}},
    {"bg": {"r": 10.0, "alpha": 1000.0, "a": 9.0, "b": 1.0}, "gg": {"p": 10.0, "q": 30.0, "gamma": 116.0}},
]
SHARES = {"qr": [0.20, 0.50, 0.30], "ads": [0.05, 0.35, 0.60]}
HORIZON = {"horizon_days": 365, "margin": 0.4, "annual_discount_rate": 0.1}


def planted(n: int = 6000, seed: int = 0) -> pd.DataFrame:
    """Customers of two channels drawn from the planted classes, with Gamma-Gamma average repeat values."""
    rng = np.random.default_rng(seed)
    parts = []
    for j, (ch, shares) in enumerate(SHARES.items()):
        cls = rng.choice(3, n // 2, p=shares)
        T = rng.uniform(30, 330, n // 2)
        for k, spec in enumerate(CLASSES):
            idx = np.flatnonzero(cls == k)
            s = bgnbd_summary(len(idx), T=T[idx], seed=seed * 100 + 10 * j + k, **spec["bg"])
            g = spec["gg"]
            nu = rng.gamma(g["q"], 1.0 / g["gamma"], len(idx))
            x = s["frequency"].to_numpy()
            m = np.where(x > 0, rng.gamma(g["p"] * np.maximum(x, 1), 1.0 / (nu * np.maximum(x, 1))), 0.0)
            parts.append(s.assign(monetary_value=m, channel=ch, true_class=k))
    out = pd.concat(parts, ignore_index=True)
    out.index = pd.Index([f"u{i}" for i in range(len(out))], name="user_id")
    out.attrs["unit"] = "D"
    return out


def planted_clv(s: pd.DataFrame) -> pd.Series:
    """Each customer's lifetime value at their own class's planted parameters (the truth per customer)."""
    out = pd.Series(0.0, index=s.index)
    for k, spec in enumerate(CLASSES):
        sub = s[s["true_class"] == k]
        bg, gg = clv.BetaGeo.from_params(spec["bg"]), clv.GammaGamma.from_params(spec["gg"])
        out.loc[sub.index] = clv.customer_lifetime_value(bg, gg, sub, **HORIZON).to_numpy()
    return out


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return planted()


@pytest.fixture(scope="module")
def fitted(data) -> LatentClassCLV:
    return LatentClassCLV(n_classes=3).fit(data, groups=data["channel"])


def test_recovers_the_planted_classes_and_channel_shares(data, fitted):
    c = fitted.classes_
    for k, spec in enumerate(CLASSES):  # classes come ordered by value, as planted
        rate = spec["bg"]["r"] / spec["bg"]["alpha"]
        g = spec["gg"]
        assert c.loc[k, "rate_per_day"] == pytest.approx(rate, rel=0.10)
        assert c.loc[k, "mean_value"] == pytest.approx(g["p"] * g["gamma"] / (g["q"] - 1), rel=0.10)
    for ch, shares in SHARES.items():
        np.testing.assert_allclose(fitted.shares_.loc[ch].to_numpy(), shares, atol=0.05)
    # most customers are assigned to their own class
    post = fitted.posterior(data, data["channel"]).to_numpy().argmax(axis=1)
    assert (post == data["true_class"].to_numpy()).mean() > 0.85


def test_channel_values_hold_the_planted_value_inside_their_intervals(data, fitted):
    truth = planted_clv(data).groupby(data["channel"]).sum()
    iv = latent_class_intervals(fitted, data, data["channel"], data["channel"], **HORIZON, level=0.99)
    assert ((iv["total_lower"] <= truth) & (truth <= iv["total_upper"])).all(), iv.assign(truth=truth)
    assert (iv["total"] / truth - 1).abs().max() < 0.06
    # the pooled model fitted per channel misses the mix: its own interval does not hold the truth here
    per_channel = []
    for ch, sub in data.groupby("channel"):
        bg, gg = clv.BetaGeo().fit(sub), clv.GammaGamma().fit(sub)
        per_channel.append(clv.customer_lifetime_value(bg, gg, sub, **HORIZON).sum() / truth[ch] - 1)
    assert max(np.abs(per_channel)) > (iv["total"] / truth - 1).abs().max()


def test_draws_use_dispersions_so_nothing_is_held_and_the_estimate_is_the_draws_centre(data, fitted):
    """On the interval scale a spread that is nearly homogeneous (class 3's rate: r ≈ 10 with α = 1000, which the
    log scale saw as a ridge of r and α) is a dispersion near zero with a finite standard error, not a parameter
    to hold fixed; unpacking the packed fit gives the fit back."""
    assert fitted.fixed_in_draws_ == [] and not any("likelihood ridge" in n for n in fitted.notes_)
    assert np.isfinite(np.diag(fitted.covariance_)).all()
    tp, tv, shares = fitted._unpack(fitted._pack())
    np.testing.assert_allclose(tp, fitted.theta_p_, rtol=1e-10)
    np.testing.assert_allclose(tv, fitted.theta_v_, rtol=1e-10)
    np.testing.assert_allclose(shares, fitted.share_matrix_, atol=1e-12)
    # a dispersion drawn below zero is the homogeneous class: r, a + b and q at their bounds, means unchanged
    v = fitted._pack()
    names = fitted._free_names()
    for nm in ("rate_dispersion_0", "dropout_dispersion_0", "value_dispersion_0"):
        v[names.index(nm)] = -0.5
    tp, tv, _ = fitted._unpack(v)
    assert tp[0, 0] == pytest.approx(100) and tp[0, 2] + tp[0, 3] == pytest.approx(999) and tv[0, 1] == 1001
    assert tp[0, 0] / tp[0, 1] == pytest.approx(fitted.theta_p_[0, 0] / fitted.theta_p_[0, 1])
    assert tp[0, 2] / (tp[0, 2] + tp[0, 3]) == pytest.approx(fitted.theta_p_[0, 2] / fitted.theta_p_[0, 2:].sum())


def test_only_parameters_past_the_identification_bound_are_held_in_the_draws(data, fitted):
    tight = LatentClassCLV(n_classes=3, max_log_se=0.05).fit(data, groups=data["channel"])
    names, held = tight._free_names(), tight.fixed_in_draws_
    assert held and any("likelihood ridge" in n for n in tight.notes_)
    se_kept = np.sqrt(np.diag(tight.covariance_))
    assert np.all(np.isfinite(se_kept) == [n not in held for n in names])
    assert np.nanmax(se_kept) <= tight.max_log_se
    # the parameters the rule held are among those whose standard error (nothing held) exceeds the bound
    se_all = pd.Series(np.sqrt(np.diag(fitted.covariance_)), index=names)
    assert (se_all[held] > tight.max_log_se).all(), se_all


def test_channel_intervals_are_not_lopsided_by_the_dropout_ridge(data, fitted):
    """Gaussian draws of log a and log b over-sample small a + b (which the likelihood quickly rules out) and
    under-sample the homogeneous side it barely penalises, so each group's interval leaned high; on the
    dispersion scale each side of the estimate is within a factor 2 of the other."""
    iv = latent_class_intervals(fitted, data, data["channel"], data["channel"], **HORIZON)
    up, down = iv["total_upper"] - iv["total"], iv["total"] - iv["total_lower"]
    assert ((up / down).between(0.5, 2.0)).all(), iv


def test_icl_chooses_the_planted_number_of_classes(data):
    choice = choose_classes(data, data["channel"], max_classes=4)
    assert choice.n_classes == 3, choice.table
    assert choice.table["icl"].idxmin() == 3
    assert choice.model.converged_


def test_fit_on_a_sample_says_so_and_still_predicts_everyone(data):
    m = LatentClassCLV(n_classes=2, max_customers=2000).fit(data, groups=data["channel"])
    assert m.n_customers_ == 2000
    assert any("random sample of 2,000" in n for n in m.notes_)
    assert m.clv(data, data["channel"], **HORIZON).notna().all()
    iv = latent_class_intervals(m, data, data["channel"], data["channel"], **HORIZON, n_draws=50, max_customers=1500)
    assert iv["note"].str.contains(r"random sample of 1,\d{3} customers \(per group\)").all()
    assert (iv["total_lower"] < iv["total"]).all() and (iv["total"] < iv["total_upper"]).all()


def test_unknown_channel_gets_the_overall_shares(data, fitted):
    new = data.head(5).assign(channel="brand_new")
    post = fitted.posterior(new, new["channel"]).to_numpy()
    overall = (fitted.share_matrix_ * fitted.group_sizes_[:, None]).sum(axis=0) / fitted.group_sizes_.sum()
    d = fitted._data(new, None)
    expected, _ = fitted._posterior(fitted.theta_p_, fitted.theta_v_, overall[None, :], d)
    np.testing.assert_allclose(post, expected, rtol=1e-10)
    assert not np.allclose(post, fitted.posterior(new, data.head(5)["channel"]).to_numpy())


def test_repeat_buyers_without_a_recorded_value_get_their_class_mean(data):
    s = data.copy()
    rep = s.index[s["frequency"] > 0]
    s.loc[rep[: int(0.6 * len(rep))], "monetary_value"] = np.nan  # most repeat buyers without a value
    m = LatentClassCLV(n_classes=1).fit(s)
    assert np.isfinite(m.log_likelihood_) and m.theta_v_[0, 2] > 0
    one = s.loc[[rep[0]]]
    ((bg, gg),) = m._class_models(m.theta_p_, m.theta_v_)
    mean_value = gg.params_["p"] * gg.params_["gamma"] / (gg.params_["q"] - 1)
    expected = clv.discounted_purchases(bg, one, **{k: HORIZON[k] for k in ("horizon_days", "annual_discount_rate")})
    got = m.clv(one, None, **HORIZON).iloc[0]
    assert got == pytest.approx(expected[0] * mean_value * HORIZON["margin"], rel=1e-9)


def test_channel_values_say_which_method_ran(data):
    table = channel_values(clv.BetaGeo().fit(data), clv.GammaGamma(), data, data["channel"], "en", **HORIZON)
    assert set(table["model"]) == {"latent_class"}
    assert table.attrs["sentence"].startswith("Latent classes: ICL chose 3 of 1–4 (compared on 5,000 sampled customers")
    zh = channel_values(clv.ParetoNBD().fit(data), clv.GammaGamma(), data, data["channel"], "zh", **HORIZON)
    assert "不是 BG/NBD" in zh.attrs["sentence"] and "latent_class" not in set(zh["model"])


def test_several_groupings_share_one_set_of_draws(data, fitted):
    """Channel and tier totals from one call equal two separate calls: the same draws, computed once."""
    sub = data.iloc[::4]
    tier = pd.Series(np.where(sub["frequency"] > 3, "many", "few"), index=sub.index)
    kw = {**HORIZON, "n_draws": 20}
    both = latent_class_intervals(
        fitted, sub, sub["channel"], pd.DataFrame({"channel": sub["channel"], "tier": tier}), **kw
    )
    assert set(both) == {"channel", "tier"}
    for name, by in (("channel", sub["channel"]), ("tier", tier)):
        pd.testing.assert_frame_equal(both[name], latent_class_intervals(fitted, sub, sub["channel"], by, **kw))
    assert both["tier"]["customers"].sum() == len(sub) and (both["tier"]["total_lower"] < both["tier"]["total"]).all()


def test_tier_values_reuse_the_tier_table_channel_values_computed(data):
    sub = data.iloc[::3]
    tier = pd.Series(np.where(sub["frequency"] > 3, "many", "few"), index=sub.index)
    model, kw = clv.BetaGeo().fit(sub), {**HORIZON, "n_draws": 20}
    channels = channel_values(model, clv.GammaGamma(), sub, sub["channel"], "en", tier=tier, **kw)
    tiers = tier_values(model, clv.GammaGamma(), sub, tier, channels, sub["channel"], "en", **kw)
    alone = latent_class_intervals(channels.attrs["classes"].model, sub, sub["channel"], tier, **kw)
    pd.testing.assert_frame_equal(tiers.drop(columns="model"), alone)
    assert set(tiers["model"]) == {"latent_class"} and tiers.attrs["sentence"].startswith("Tier values come from")


def test_the_truth_check_refits_the_reports_classes_on_the_planted_orders(data):
    """The refit keeps the report's number of classes (no new search), never sees the segment, and gives the same
    table as fitting that model by hand."""
    from helpers.latent_class import ClassChoice
    from helpers.truth import group_values_on_planted_orders

    sub = data.iloc[::3]
    tier = pd.Series(np.where(sub["frequency"] > 3, "many", "few"), index=sub.index)
    model = LatentClassCLV(n_classes=3).fit(sub, sub["channel"])
    channels = pd.DataFrame()
    channels.attrs["classes"] = ClassChoice(pd.DataFrame(), 3, model)
    kw = {**HORIZON, "n_draws": 20}
    planted_orders = sub.assign(segment=np.where(sub["true_class"] == 0, "high_value", "other"))
    by_channel, by_tier = group_values_on_planted_orders(
        planted_orders, channels, sub["channel"], tier, None, None, **kw
    )
    both = pd.DataFrame({"channel": sub["channel"], "tier": tier})
    expected = latent_class_intervals(model, sub, sub["channel"], both, level=0.99, **kw)
    pd.testing.assert_frame_equal(by_channel, expected["channel"])
    pd.testing.assert_frame_equal(by_tier, expected["tier"])
    assert group_values_on_planted_orders(planted_orders, channels, sub["channel"], None, None, None, **kw)[1] is None


def test_too_few_repeat_buyers_is_a_clear_error():
    s = bgnbd_summary(40, r=0.1, alpha=200, a=1, b=1, T=30, seed=3).assign(monetary_value=10.0)
    with pytest.raises(ValueError, match="repeat buyers with a recorded value"):
        LatentClassCLV(n_classes=3).fit(s)


def test_one_class_or_weeks_fall_back_to_per_channel_fits_with_the_reason_in_the_report_language(data, monkeypatch):
    from helpers import latent_class

    one = latent_class.ClassChoice(pd.DataFrame({"icl": [1.0]}, index=pd.Index([1], name="n_classes")), 1, None)
    monkeypatch.setattr(latent_class, "choose_classes", lambda *a, **k: one)
    model = clv.BetaGeo().fit(data)
    zh = channel_values(model, clv.GammaGamma(), data, data["channel"], "zh", n_draws=20, **HORIZON)
    assert zh.attrs["sentence"] == "各渠道分别拟合（ICL 选出 1 类：客户分不出几类）。"
    assert "latent_class" not in set(zh["model"]) and zh["total"].notna().all()
    weeks = data.assign(recency=data["recency"] / 7, T=data["T"] / 7)
    weeks.attrs["unit"] = "W"
    en = channel_values(clv.BetaGeo().fit(weeks), clv.GammaGamma(), weeks, weeks["channel"], "en", n_draws=20)
    assert en.attrs["sentence"] == "One fit per channel (latent classes work in days; this run is in weeks)."


def test_tier_values_come_from_the_channels_classes_and_hold_the_planted_value(data, fitted):
    """Tiers cut from behaviour mix the classes; with the channels' classes their totals are that model's
    predictions summed per tier, within 6 % of the planted value (a per-tier BG/NBD pools the mix), and without
    classes each tier gets its own fit."""
    tier = pd.Series(np.where(data["frequency"] >= 3, "heavy", "light"), index=data.index)
    one = pd.DataFrame()
    one.attrs["classes"] = type("Choice", (), {"n_classes": 3, "model": fitted})()
    table = tier_values(clv.BetaGeo().fit(data), clv.GammaGamma(), data, tier, one, data["channel"], "en", **HORIZON)
    assert set(table["model"]) == {"latent_class"} and table.attrs["sentence"].startswith("Tier values come from")
    expected = fitted.clv(data, data["channel"], **HORIZON).groupby(tier).sum()
    np.testing.assert_allclose(table["total"], expected.reindex(table.index), rtol=1e-9)
    truth = planted_clv(data).groupby(tier).sum()
    assert ((table["total"] / truth.reindex(table.index) - 1).abs() < 0.06).all()
    assert (table["total_lower"] < table["total"]).all() and (table["total"] < table["total_upper"]).all()
    fallback = tier_values(
        clv.BetaGeo().fit(data),
        clv.GammaGamma(),
        data,
        tier,
        pd.DataFrame(),
        data["channel"],
        "zh",
        n_draws=20,
        **HORIZON,
    )
    assert fallback.attrs["sentence"].startswith("各分层分别拟合") and "latent_class" not in set(fallback["model"])
    assert fallback["total"].notna().all() and not fallback["note"].str.contains("pooled", na=False).any()


def test_a_group_whose_own_fit_fails_is_valued_by_the_pooled_model_not_left_blank(data):
    """CDNOW's most valuable tier (1,417 buyers) did not converge in its own fit and showed only dashes, leaving 46 %
    of the value out of the tier totals. A group too small (or failing) for its own fit is valued by the model fitted
    on every customer, summed over the group, and its note says so."""
    from helpers.clv_analysis import clv_intervals
    from helpers.latent_class import POOLED_NOTE
    from helpers.repurchase import note_text

    tier = pd.Series(np.where(data["frequency"] >= 3, "heavy", "light"), index=data.index)
    tier.iloc[:150] = "tiny"  # fewer than the 200 customers a group's own fit needs
    model = clv.BetaGeo().fit(data)
    table = tier_values(
        model, clv.GammaGamma(), data, tier, pd.DataFrame(), data["channel"], "en", n_draws=20, **HORIZON
    )
    assert table["total"].notna().all() and table.at["tiny", "total_lower"] < table.at["tiny", "total"]
    tiny = tier == "tiny"
    pooled = clv_intervals(model, clv.GammaGamma().fit(data), data[tiny], by=tier[tiny], n_draws=20, **HORIZON)
    assert table.at["tiny", "total"] == pytest.approx(pooled.groups.at["tiny", "total"], rel=1e-9)
    assert table.at["tiny", "note"].endswith(POOLED_NOTE) and "not fitted" in table.at["tiny", "note"]
    assert POOLED_NOTE not in table.at["heavy", "note"]
    assert (
        note_text(table.at["tiny", "note"], "zh")
        == "客户太少，没有单独拟合；本组单独拟合失败：改用全体客户的同一个模型，按本组客户加总"
    )


def test_group_totals_count_a_weighted_row_as_that_many_customers(data, fitted):
    """A summary collapsed into rows with a ``weight`` gives the same totals and counts as the rows repeated."""
    part = data.iloc[:400]
    twice = pd.concat([part, part.set_axis([f"{i}b" for i in part.index])])
    weighted = part.assign(weight=2.0)
    a = latent_class_intervals(fitted, twice, "channel", twice["channel"], n_draws=10, **HORIZON)
    b = latent_class_intervals(fitted, weighted, "channel", weighted["channel"], n_draws=10, **HORIZON)
    np.testing.assert_allclose(b[["total", "total_lower", "total_upper"]], a[["total", "total_lower", "total_upper"]])
    assert (
        b["customers"].tolist() == a["customers"].tolist() == (2 * part["channel"].value_counts().sort_index()).tolist()
    )

"""The truth-check table: every check is named in both languages, and the notebooks name only known checks."""

from __future__ import annotations

import re
import string

import nbformat
import pytest

from helpers.truth import CHECKS, TruthChecks, summary_counts

from .conftest import REPO


def _fields(template: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(template) if f}


@pytest.mark.parametrize("key", sorted(CHECKS))
def test_every_check_has_both_languages_with_the_same_fields(key):
    text = CHECKS[key]
    assert set(text) == {"zh", "en"}
    assert _fields(text["zh"]) == _fields(text["en"]), key
    assert re.search(r"[\u4e00-\u9fff]", text["zh"]) and not re.search(r"[\u4e00-\u9fff]", text["en"]), key


def test_the_notebooks_and_helpers_name_only_known_checks():
    """A check key missing from CHECKS would raise only when that notebook reaches its truth cell."""
    sources = [p.read_text(encoding="utf-8") for p in (REPO / "helpers").glob("*.py")]
    for nb in sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        sources += [c.source for c in nbformat.read(nb, as_version=4).cells if c.cell_type == "code"]
    used = set()
    for src in sources:
        used |= set(re.findall(r"\btc\.(?:within|at_least|consistent|inside|equal)\(\s*\"(\w+)\"", src))
    assert used and used <= set(CHECKS), used - set(CHECKS)
    assert {"qini_ratio", "persuadable_lift", "dnd_lift", "persuadable_ratio", "days_over_cooldown"} <= set(CHECKS)


def test_names_fields_and_rules_follow_the_language():
    zh, en = TruthChecks("zh"), TruthChecks("en")
    for tc in (zh, en):
        tc.within("segment_rate", 0.05, 0.05, 0.0075, segment="at_risk")
        tc.within("reply_rate", 0.8, 0.9, 0.03, role="worst")
        tc.equal("best_lowest_oe", True, True)
        tc.consistent("segment_value_parameters", -10.0, -20.0, 3, segment="high_value")
    assert zh.table()["quantity"].tolist()[:2] == ["流失风险：平均购买率 r/α（每天）", "回复率，最差员工"]
    assert en.table()["quantity"].tolist()[1] == "reply rate, worst"
    assert zh.table()["estimate"].tolist()[2] == "是" and en.table()["truth"].tolist()[2] == "yes"
    assert zh.table()["rule"].tolist() == ["相差不超过 ±0.0075", "相差不超过 ±0.03", "相等", "似然比 χ²(3)，0.001 水平"]
    assert zh.failed() == ["reply_rate", "segment_value_parameters"]  # 0.1 off; LR 20 > χ²(3) bound 16.27
    assert summary_counts(zh.summary() + " " + en.summary()) == [(2, 4), (2, 4)]
    with pytest.raises(KeyError, match="unknown truth check"):
        zh.equal("not a check", 1, 1)


def test_no_checked_output_prints_a_python_boolean():
    """The stored checked outputs (teaching mode, answers included) say 是 / 否, never True / False."""
    for nb in sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        for c in nbformat.read(nb, as_version=4).cells:
            text = "".join(o.get("text", "") for o in c.get("outputs", []))
            assert not re.search(r"\b(True|False)\b", text), (nb.name, text)


def test_planted_values_equal_the_segment_value_when_a_group_holds_one_segment():
    """With one planted segment per channel the prior is certain, so the segment-unseen value is exactly the
    segment's own lifetime value; with the two channels mixed it is not (the posterior spreads)."""
    import numpy as np
    import pandas as pd

    from helpers.clv import BetaGeo, GammaGamma, customer_lifetime_value
    from helpers.simulate import PLANTED, bgnbd_summary
    from helpers.truth import planted_values

    segments = PLANTED["segments"]
    parts = []
    for i, seg in enumerate(["high_value", "potential"]):
        s = bgnbd_summary(3000, **segments[seg]["bgnbd"], T=np.linspace(30, 360, 3000), seed=i)
        g = segments[seg]["gamma_gamma"]
        value = np.random.default_rng(i).gamma(g["p"], 1 / np.random.default_rng(9 + i).gamma(g["q"], 1 / g["gamma"]))
        parts.append(s.assign(monetary_value=np.where(s["frequency"] > 0, value, 0.0), segment=seg, channel=f"c{i}"))
    summary = pd.concat(parts, ignore_index=True)
    summary.attrs["unit"] = "D"
    kw = {"horizon_days": 365, "margin": 0.4, "annual_discount_rate": 0.1}
    got = planted_values(summary, summary["channel"], segments, **kw)
    for seg, d in summary.groupby("segment"):
        bg, gg = BetaGeo.from_params(segments[seg]["bgnbd"]), GammaGamma.from_params(segments[seg]["gamma_gamma"])
        expected = customer_lifetime_value(bg, gg, d, **kw)
        np.testing.assert_allclose(got[d.index], expected, rtol=1e-6)
    mixed = planted_values(summary, pd.Series("all", index=summary.index), segments, **kw)
    assert not np.allclose(mixed, got, rtol=1e-3)


def test_planted_tiers_say_when_the_truth_does_not_join_the_contacts(tmp_path):
    """Ids pseudonymised with another key than the truth file's: a clear error, not NaN deep inside an ARI."""
    import json

    import pandas as pd

    from helpers.truth import planted_tiers

    (tmp_path / "truth.json").write_text(json.dumps({"planted": {"new_tier_days": 60}}), encoding="utf-8")
    pd.DataFrame({"user_id": ["a", "b"], "segment": ["high_value", "dormant"]}).to_parquet(
        tmp_path / "truth_users.parquet"
    )
    tenure = pd.Series([400.0, 10.0, 300.0], index=["a", "c", "b"])
    assert planted_tiers(tmp_path, tenure).tolist() == ["high_value", "new", "dormant"]  # c is new: no segment needed
    with pytest.raises(ValueError, match="1 contacts have no planted segment"):
        planted_tiers(tmp_path, pd.Series([400.0, 300.0], index=["a", "x"]))

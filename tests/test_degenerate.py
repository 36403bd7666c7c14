"""Degenerate-but-valid data runs through every notebook, and each notebook says what it cannot compute."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pandas as pd
import pytest

from helpers.run import load_params, run_report
from helpers.simulate import simulate
from helpers.truth import skip_reason

from .conftest import REPO

pytestmark = pytest.mark.notebooks
TABLES = ["contacts", "orders", "touches", "campaigns", "assignments", "leads", "messages", "spend"]


@pytest.fixture(scope="module")
def simulated(tmp_path_factory) -> dict[str, pd.DataFrame]:
    raw = tmp_path_factory.mktemp("raw")
    simulate(400, seed=21, out=raw)
    return {t: pd.read_parquet(raw / f"{t}.parquet") for t in TABLES}


def one_channel(t):
    spend = t["spend"].groupby("date", as_index=False)["cost"].sum().assign(channel="store_qr")
    return {
        **t,
        "contacts": t["contacts"].assign(channel="store_qr"),
        "leads": t["leads"].assign(channel="store_qr"),
        "spend": spend,
    }


def one_variant(t):
    return {**t, "contacts": t["contacts"].assign(variant="A"), "leads": t["leads"].assign(variant="A")}


def no_repeat_buyers(t):
    return {**t, "orders": t["orders"].sort_values("ordered_at").groupby("user_id").head(1)}


def single_day(t):
    day = pd.Timestamp("2025-06-01")
    c = t["contacts"].head(50).assign(added_at=day + pd.Timedelta(hours=9), removed_at=pd.NaT, referrer_id=None)
    ids = set(c["user_id"])
    keep = lambda df: df[df["user_id"].isin(ids)]  # noqa: E731
    return {
        "contacts": c,
        "orders": keep(t["orders"]).head(20).assign(ordered_at=day + pd.Timedelta(hours=15)),
        "touches": keep(t["touches"]).head(40).assign(touched_at=day + pd.Timedelta(hours=12)),
        "messages": t["messages"].head(30).assign(sent_at=day + pd.Timedelta(hours=20)),
    }


SCENARIOS = {
    "one_channel": (one_channel, {}),
    "one_variant": (one_variant, {"01_acquisition": "线索中少于两个话术"}),
    "no_repeat_buyers": (
        no_repeat_buyers,
        {"03_repurchase": "没有任何购买模型能拟合这份数据：BG/NBD"},
    ),
    "no_touches": (
        lambda t: {k: v for k, v in t.items() if k != "touches"},
        {"04_attribution": "没有带触达的转化路径"},
    ),
    "no_holdouts": (
        lambda t: {k: v for k, v in t.items() if k != "assignments"},
        {"04_attribution": "没有实验分组表（随机留出名单）：没有活动留出随机对照组"},
    ),
    "single_day": (
        single_day,
        {
            "01_acquisition": "没有线索表",
            "02_user_tiers": "没有可以聚类的老买家",
            "03_repurchase": "没有留出期检验：自动：无——数据只有",
        },
    ),
    "no_removals": (
        lambda t: {**t, "contacts": t["contacts"].drop(columns=["removed_at"])},
        {"01_acquisition": "删除率：未测量", "08_summary": "未测量"},
    ),
}


def text_of(path: Path) -> str:
    """Printed text and displayed tables (plain and HTML) of a notebook's outputs."""
    nb = nbformat.read(path, as_version=4)
    parts = []
    for c in nb.cells:
        for o in c.get("outputs", []):
            data = o.get("data", {})
            parts += [o.get("text", ""), data.get("text/plain", ""), data.get("text/html", "")]
    return "".join(parts)


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_degenerate_data_runs_every_notebook(name, simulated, tmp_path):
    build, says = SCENARIOS[name]
    folder = tmp_path / name
    folder.mkdir()
    for table, df in build(simulated).items():
        df.to_parquet(folder / f"{table}.parquet", index=False)
    out = run_report({"data_dir": str(folder)}, run_name=name, reports_dir=tmp_path / "reports", quiet=True, html=False)
    notebooks = sorted(out.glob("[0-9][0-9]_*.ipynb"))
    assert len(notebooks) == len(list((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb")))
    for nb in notebooks:
        errors = [
            o
            for c in nbformat.read(nb, as_version=4).cells
            if c.cell_type == "code"
            for o in c.get("outputs", [])
            if o.output_type == "error"
        ]
        assert not errors, nb.name
    for nb, sentence in says.items():
        assert sentence in text_of(out / f"{nb}.ipynb"), (nb, sentence)


#: Every documented parameter value must run: one report on the sample with non-default values throughout.
VARIANTS = {
    "unit": "W",
    "conversion": "all",
    "window_start": "2025-11-01",
    "window_end": "2025-11-30",
    "currency": "£",
    "freq": "M",
    "roi_model": "shapley",
    "markov_order": 2,
    "period_days": 7,
    "previous_as_of": "none",
    "k": 4,
    "lookback_days": 7,
    "top_n": 50,
    "channel_groups": "store_qr:线下; parcel_card:线下",
}


def test_non_default_parameter_values_run_every_notebook(tmp_path):
    params = {**load_params(REPO / "params" / "default.yaml")["parameters"], **VARIANTS}
    out = run_report(params, run_name="variants", reports_dir=tmp_path, quiet=True, html=False)
    for nb in sorted(out.glob("[0-9][0-9]_*.ipynb")):
        errors = [
            o for c in nbformat.read(nb, as_version=4).cells for o in c.get("outputs", []) if o.output_type == "error"
        ]
        assert not errors, nb.name
    assert skip_reason({"planted": {}}, "W", "zh") in text_of(out / "03_repurchase.ipynb")  # no truth check in weeks
    assert "conversion 参数不是 first" in text_of(out / "04_attribution.ipynb")
    assert "£" in text_of(out / "08_summary.ipynb") and "线下" in text_of(out / "01_acquisition.ipynb")
    assert "previous_as_of — none：跳过" in text_of(out / "02_user_tiers.ipynb")

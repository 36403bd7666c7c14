"""The Spark path: notebooks 00–04 run with ``engine=pyspark`` and give the same key numbers as with DuckDB."""

from __future__ import annotations

import importlib.util
import os
import re
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from helpers.run import load_params, run_report

from .conftest import REPO, SAMPLE

pytestmark = [
    pytest.mark.notebooks,
    pytest.mark.spark,
    pytest.mark.skipif(
        importlib.util.find_spec("pyspark") is None and not os.environ.get("CI"),
        reason="pyspark not installed (the spark extra); CI installs it, so there this test cannot skip",
    ),
]

NOTEBOOKS = ["00_data_prep", "01_acquisition", "02_user_tiers", "03_repurchase", "04_attribution"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    params = {**load_params(REPO / "params" / "default.yaml")["parameters"], "data_dir": str(SAMPLE)}
    reports = tmp_path_factory.mktemp("engines")
    return {
        engine: run_report(
            {**params, "engine": engine},
            run_name=engine,
            reports_dir=reports,
            notebooks=NOTEBOOKS,
            html=False,
            quiet=True,
        )
        for engine in ("duckdb", "pyspark")
    }


def checked_outputs(path: Path) -> list[str]:
    """Text of every cell nbval checks (``# NBVAL_CHECK_OUTPUT``), with the engine's name blanked."""
    nb = nbformat.read(path, as_version=4)
    out = []
    for c in nb.cells:
        if c.cell_type == "code" and "NBVAL_CHECK_OUTPUT" in c.source:
            text = "".join(o.get("text", "") or o.get("data", {}).get("text/plain", "") for o in c.outputs)
            out.append(re.sub(r"(engine|引擎) (duckdb|pyspark)", r"\1 <name>", text))
    return out


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_checked_cells_agree(runs, notebook):
    duck = checked_outputs(runs["duckdb"] / f"{notebook}.ipynb")
    spark = checked_outputs(runs["pyspark"] / f"{notebook}.ipynb")
    assert duck and spark == duck


def test_exports_and_artifacts_agree(runs):
    d, s = runs["duckdb"], runs["pyspark"]
    for rel, key in [
        ("exports/tiers.csv", "user_id"),
        ("artifacts/clv.csv", "user_id"),
        ("artifacts/attribution_by_channel.csv", None),
    ]:
        a = pd.read_csv(d / rel, dtype={"user_id": str}, encoding="utf-8-sig")
        b = pd.read_csv(s / rel, dtype={"user_id": str}, encoding="utf-8-sig")
        if key:
            a, b = a.sort_values(key).reset_index(drop=True), b.sort_values(key).reset_index(drop=True)
        pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-9, atol=1e-9, obj=rel)
    for name in ("accounting.csv", "quarantine.csv"):
        pd.testing.assert_frame_equal(pd.read_csv(d / "quality" / name), pd.read_csv(s / "quality" / name))

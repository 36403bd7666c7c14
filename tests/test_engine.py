"""The engine layer gives identical per-user reductions on DuckDB and on Spark (pyspark local mode)."""

from __future__ import annotations

import importlib.util
import os

import pandas as pd
import pytest

from helpers import features as F
from helpers.data import DataContractError
from helpers.engine import connect

from .conftest import AS_OF

needs_spark = pytest.mark.skipif(
    importlib.util.find_spec("pyspark") is None and not os.environ.get("CI"),
    reason="pyspark not installed (the spark extra); CI installs it, so there this test cannot skip",
)


def reductions(eng) -> tuple[pd.DataFrame, pd.DataFrame]:
    rfm = eng.to_pandas(F.order_summary(eng.table("orders"), AS_OF)).sort_values("user_id", ignore_index=True)
    paths = eng.to_pandas(F.touch_paths(eng.table("touches"))).sort_values("user_id", ignore_index=True)
    paths["path"] = paths["path"].map(tuple)
    return rfm, paths


@pytest.fixture(scope="module")
def duck(clean_sample):
    return reductions(connect(clean_sample, "duckdb"))


def test_duckdb_reductions_match_pandas(duck, sample_ds):
    rfm, paths = duck
    o = sample_ds.table("orders")
    paid = o[o["status"] == "paid"]
    exp = paid.groupby("user_id").agg(orders=("order_id", "size"), gmv=("amount", "sum"), last=("ordered_at", "max"))
    got = rfm.set_index("user_id").loc[exp.index.astype(object)]
    assert (got["orders"].to_numpy() == exp["orders"].to_numpy()).all()
    assert abs(got["gmv"].to_numpy() - exp["gmv"].round(2).to_numpy()).max() < 0.006
    assert (got["last_order_at"].to_numpy() == exp["last"].to_numpy()).all()
    refunds = o[o["status"] == "refunded"].groupby("user_id")["amount"].sum()
    got_ref = rfm.set_index("user_id").loc[refunds.index.astype(object), "refunds"].to_numpy()
    assert abs(got_ref - refunds.round(2).to_numpy()).max() < 0.006
    t = sample_ds.table("touches").sort_values(["user_id", "touched_at", "touch_type"])
    exp_paths = t.groupby("user_id")["touch_type"].agg(tuple)
    assert paths["user_id"].tolist() == exp_paths.index.tolist()
    assert paths["path"].tolist() == exp_paths.tolist()


@needs_spark
@pytest.mark.spark
def test_spark_and_duckdb_agree(duck, clean_sample):
    rfm_d, paths_d = duck
    rfm_s, paths_s = reductions(connect(clean_sample, "pyspark"))
    assert len(rfm_s) == len(rfm_d) > 1000
    for col in ("orders", "purchase_days"):
        assert (rfm_s[col].to_numpy() == rfm_d[col].to_numpy()).all(), col
    for col in ("gmv", "refunds", "net_gmv", "recency_days"):
        assert (rfm_s[col] - rfm_d[col]).abs().max() < 1e-6, col
    for col in ("first_order_at", "last_order_at"):
        assert rfm_s[col].equals(rfm_d[col]), col
    assert paths_s["user_id"].equals(paths_d["user_id"])
    assert paths_s["path"].equals(paths_d["path"])
    assert paths_s["touches"].to_numpy().tolist() == paths_d["touches"].to_numpy().tolist()


def test_connect_errors(tmp_path, clean_sample):
    with pytest.raises(DataContractError, match="run 00_data_prep"):
        connect(tmp_path / "missing")
    with pytest.raises(ValueError, match="engine must be one of"):
        connect(clean_sample, "polars")
    eng = connect(clean_sample)
    with pytest.raises(DataContractError, match="unknown table"):
        eng.table("nope")

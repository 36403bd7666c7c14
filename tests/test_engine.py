"""The engine layer gives identical per-user reductions on DuckDB and on Spark (pyspark local mode)."""

from __future__ import annotations

import importlib.util
import os

import numpy as np
import pandas as pd
import pytest

from helpers import features as F
from helpers.data import DataContractError
from helpers.engine import connect
from helpers.engine import frame as ibis_frame

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


def pandas_occasions(orders: pd.DataFrame) -> pd.DataFrame:
    """The sales definition written independently in pandas: purchase days net of the refunds that refer to them."""
    paid = orders[orders["status"] == "paid"].assign(day=lambda d: d["ordered_at"].dt.normalize())
    days = paid.groupby(["user_id", "day"], as_index=False).agg(
        first_paid_at=("ordered_at", "min"), paid=("amount", "sum"), orders=("order_id", "size")
    )
    ref = orders[orders["status"] == "refunded"].sort_values("ordered_at")
    matched = pd.merge_asof(
        ref, days.sort_values("first_paid_at"), left_on="ordered_at", right_on="first_paid_at", by="user_id"
    )
    per_day = matched.dropna(subset=["day"]).groupby(["user_id", "day"])["amount"].sum().rename("refunded")
    days = days.join(per_day, on=["user_id", "day"]).fillna({"refunded": 0.0})
    days["net"] = days["paid"] - days["refunded"]
    return days[(days["refunded"] <= 0) | (days["net"] > 0.005)]


def test_duckdb_reductions_match_pandas(duck, sample_ds):
    rfm, paths = duck
    o = sample_ds.table("orders")
    occ = pandas_occasions(o)
    exp = occ.groupby("user_id").agg(orders=("orders", "sum"), days=("day", "size"), last=("first_paid_at", "max"))
    got = rfm.set_index("user_id").loc[exp.index.astype(object)]
    assert (got["orders"].to_numpy() == exp["orders"].to_numpy()).all()
    assert (got["purchase_days"].to_numpy() == exp["days"].to_numpy()).all()
    assert (got["last_order_at"].to_numpy() == exp["last"].to_numpy()).all()
    gross = o[o["status"] == "paid"].groupby("user_id")["amount"].sum()
    assert abs(rfm.set_index("user_id").loc[gross.index.astype(object), "gmv"] - gross.round(2)).max() < 0.006
    refunds = o[o["status"] == "refunded"].groupby("user_id")["amount"].sum()
    got_ref = rfm.set_index("user_id").loc[refunds.index.astype(object), "refunds"].to_numpy()
    assert abs(got_ref - refunds.round(2).to_numpy()).max() < 0.006
    fully_refunded = len(o[o["status"] == "paid"].groupby(["user_id", o["ordered_at"].dt.normalize()])) - len(occ)
    assert fully_refunded > 0  # the sample holds cancelled orders, and they are no purchase occasions
    t = sample_ds.table("touches").sort_values(["user_id", "touched_at", "touch_type"])
    exp_paths = t.groupby("user_id")["touch_type"].agg(tuple)
    assert paths["user_id"].tolist() == exp_paths.index.tolist()
    assert paths["path"].tolist() == exp_paths.tolist()


def test_purchase_days_match_pandas_on_orders_dense_with_refunds():
    rng = np.random.default_rng(3)
    n = 4000
    t0 = pd.Timestamp("2025-01-01")
    orders = pd.DataFrame(
        {
            "order_id": [f"o{i}" for i in range(n)],
            "user_id": rng.integers(0, 300, n).astype(str),
            # whole hours over two months: several orders a day, and refunds at the same time as a paid order
            "ordered_at": t0 + pd.to_timedelta(rng.integers(0, 60 * 24, n), unit="h"),
            "amount": rng.integers(0, 30_000, n) / 100,
            "status": rng.choice(["paid", "paid", "refunded"], n),
        }
    )
    want = pandas_occasions(orders).sort_values(["user_id", "day"]).reset_index(drop=True)
    got = F.purchase_days(orders, t0 + pd.Timedelta(days=70)).execute().sort_values(["user_id", "day"])
    got = got.reset_index(drop=True)
    assert len(got) == len(want) > 1000 and (want["refunded"] > 0).sum() > 300
    assert (got["user_id"] == want["user_id"]).all() and (got["orders"] == want["orders"]).all()
    assert (pd.to_datetime(got["day"]) == want["day"]).all() and (got["first_paid_at"] == want["first_paid_at"]).all()
    for col, ref in (("paid", "paid"), ("refunded", "refunded"), ("amount", "net")):
        assert np.abs(got[col].to_numpy() - want[ref].to_numpy()).max() < 0.006, col


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


def test_a_file_uri_reads_the_same_tables_and_remote_storage_needs_spark(duck, clean_sample, tmp_path):
    eng = connect(clean_sample.resolve().as_uri(), "duckdb")
    assert eng.clean_dir == clean_sample.resolve() and eng.has("orders")
    rfm, paths = reductions(eng)
    assert rfm.equals(duck[0]) and paths.equals(duck[1])
    with pytest.raises(DataContractError, match="run 00_data_prep"):
        connect((tmp_path / "missing").as_uri())
    with pytest.raises(ValueError, match="use engine='pyspark' for hdfs:// or s3a://"):
        connect("s3a://bucket/run/clean", "duckdb")
    with pytest.raises(ValueError, match="must map a contract table"):
        connect(clean_sample, tables={"orders": "dw.orders"})


def test_a_duckdb_catalog_table_replaces_the_file_of_the_same_name(duck, clean_sample):
    eng = connect(clean_sample, "duckdb", tables={"orders": "table:main.orders_dw"})
    assert not eng.has("orders")  # not in the catalog yet: reported, not raised
    eng.con.raw_sql(f"CREATE TABLE main.orders_dw AS SELECT * FROM read_parquet('{clean_sample / 'orders.parquet'}')")
    eng._tables.clear()
    assert eng.has("orders") and eng.has("touches")  # touches still from the folder
    assert reductions(eng)[0].equals(duck[0])


@needs_spark
@pytest.mark.spark
def test_spark_reads_a_file_uri_and_tables_registered_in_a_warehouse(duck, clean_sample, tmp_path):
    eng = connect(clean_sample.resolve().as_uri(), "pyspark")
    rfm_uri = reductions(eng)[0]
    assert len(rfm_uri) == len(duck[0]) and (rfm_uri["orders"].to_numpy() == duck[0]["orders"].to_numpy()).all()
    spark = eng.con._session
    spark.sql(f"CREATE DATABASE IF NOT EXISTS dw_test LOCATION '{(tmp_path / 'warehouse').as_uri()}'")
    try:
        for name in ("orders", "touches"):
            spark.read.parquet(str(clean_sample / f"{name}.parquet")).write.saveAsTable(f"dw_test.{name}")
        cat = connect(
            clean_sample, "pyspark", tables={"orders": "table:dw_test.orders", "touches": "table:dw_test.touches"}
        )
        rfm, paths = reductions(cat)
        assert (rfm["orders"].to_numpy() == duck[0]["orders"].to_numpy()).all()
        assert (rfm["purchase_days"].to_numpy() == duck[0]["purchase_days"].to_numpy()).all()
        assert paths["path"].tolist() == duck[1]["path"].tolist()
        missing = connect(clean_sample, "pyspark", tables={"orders": "table:dw_test.no_such_table"})
        assert not missing.has("orders")
        with pytest.raises(DataContractError, match="not in the pyspark catalog"):
            missing.table("orders")
    finally:
        spark.sql("DROP DATABASE IF EXISTS dw_test CASCADE")


def test_duckdb_frames_come_back_exactly_as_ibis_makes_them(clean_sample):
    """The Arrow route of Engine.to_pandas gives ibis's own frame: every plain type, with and without missing values."""
    import ibis

    eng = connect(clean_sample, "duckdb")
    n = 2_000
    rng = np.random.default_rng(0)
    miss = rng.random(n) < 0.3
    day = pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.integers(0, 10**7, n), unit="s")
    frame = pd.DataFrame(
        {
            "s": pd.Series([f"u{i:05d}" for i in range(n)], dtype=object).mask(miss, None),
            "s_full": [f"用户{i}" for i in range(n)],
            "f": pd.Series(rng.normal(size=n)).mask(miss),
            "i": pd.Series(rng.integers(0, 9, n)).astype("Int64").mask(miss),
            "i_full": rng.integers(0, 9, n),
            "b": pd.Series(rng.random(n) < 0.5, dtype="boolean").mask(miss),
            "t": pd.Series(day).mask(miss),
            "t_full": day,
            "d": pd.Series(day.normalize()).mask(miss),
            "all_missing": pd.Series([None] * n, dtype="float64"),
            "i_all_missing": pd.Series([None] * n, dtype="Int64"),
            "d_full": day.normalize(),
        }
    )
    eng.con.con.register("mixed", frame)
    t = eng.con.table("mixed").mutate(
        d=ibis._.d.cast("date"),
        d_full=ibis._.d_full.cast("date"),
        dec=ibis._.f.cast("decimal(12, 2)"),
        dec_full=ibis._.i_full.cast("decimal(12, 2)"),
    )
    for expr in (
        t,
        t.limit(0),
        t.filter(t.s.isnull()),
        t.select("i", "t"),
        t.group_by("i").agg(n=t.count()).order_by("i"),
    ):
        got = eng.to_pandas(expr)
        want = expr.to_pandas()
        pd.testing.assert_frame_equal(ibis_frame(expr), want)  # ibis's frame itself, before the timestamps go to ns
        for c in want.columns:
            if pd.api.types.is_datetime64_any_dtype(want[c].dtype):
                want[c] = want[c].astype("datetime64[ns]")
        pd.testing.assert_frame_equal(got, want)
    assert eng.to_pandas(t)["t"].isna().sum() == miss.sum()

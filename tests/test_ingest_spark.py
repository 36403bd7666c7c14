"""The engine path on Spark (helpers.ingest with ``engine="pyspark"``): the same rules, the same dataset as DuckDB.

Every corpus case, turned into Parquet as in ``test_ingest``, is validated by DuckDB and by Spark: the quarantine
matches line for line, and the tables, accounting and notes are equal. Tables may also come from Spark's catalog
(``catalog=`` / the ``tables`` parameter): a table stored as several part files is numbered file by file, so its
quarantine names the same rows as the file it was made from.
"""

from __future__ import annotations

import importlib.util
import os
import re

import pandas as pd
import pytest

from helpers import quality
from helpers.data import DataContractError, load
from helpers.engine import connect
from tests.test_corpus import CASES
from tests.test_ingest import SAMPLE, assert_same, check_corpus_case

pytestmark = [
    pytest.mark.spark,
    pytest.mark.skipif(
        importlib.util.find_spec("pyspark") is None and not os.environ.get("CI"),
        reason="pyspark not installed (the spark extra); CI installs it, so there this test cannot skip",
    ),
]


@pytest.fixture(scope="module")
def spark():
    from helpers.engine import spark_session

    return spark_session()


def load_on_both(folder, **kw):
    """Validate ``folder`` in DuckDB and in Spark; the same error, or two datasets."""
    out = []
    for engine in ("duckdb", "pyspark"):
        try:
            out.append(load(folder, ingest="engine", engine=engine, **kw))
        except DataContractError as err:
            out.append(re.sub(r"\s+", " ", str(err)))
    return out


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_corpus_case_on_spark(case, tmp_path, spark):
    check_corpus_case(case, tmp_path, load_on_both)


def test_sample_on_spark(spark, tmp_path):
    duck, on_spark = load_on_both(SAMPLE, demo=True, as_of="2026-01-01")
    assert_same(duck, on_spark)
    assert len(on_spark.quarantine) > 0
    # Spark writes each table as a folder of part files: 00's quality tables and both engines read them
    pd.testing.assert_frame_equal(quality.coverage(duck), quality.coverage(on_spark))
    pd.testing.assert_frame_equal(quality.daily_counts(duck), quality.daily_counts(on_spark))
    clean = on_spark.write(tmp_path / "run")
    assert (clean / "touches.parquet").is_dir()
    for engine in ("duckdb", "pyspark"):
        eng = connect(clean, engine)
        for name in on_spark.tables:
            assert eng.to_pandas(eng.table(name).count().as_table()).iloc[0, 0] == on_spark.tables.rows(name), name


def _save_in_parts(spark, path, name: str, parts: int) -> None:
    """Save a Parquet file as a catalog table of ``parts`` part files, its records in their order across them."""
    df = spark.read.parquet(str(path)).select("*", "_metadata.row_index")
    df = df.repartitionByRange(parts, "row_index").sortWithinPartitions("row_index").drop("row_index")
    df.write.mode("overwrite").format("parquet").saveAsTable(name)


def test_catalog_tables_give_the_quarantine_of_their_files(tmp_path, spark):
    """Touches and messages from a temporary warehouse database (3 part files each) against the same files.

    Three touches rows are planted bad (an unknown customer) at the start, in the middle and at the end, so their
    quarantine lines name rows in each of the part files.
    """
    export, elsewhere = tmp_path / "export", tmp_path / "without"
    export.mkdir()
    elsewhere.mkdir()
    for p in SAMPLE.iterdir():
        if p.name != "touches.parquet":
            (export / p.name).symlink_to(p)
            if p.name != "messages.parquet":
                (elsewhere / p.name).symlink_to(p)
    touches = pd.read_parquet(SAMPLE / "touches.parquet")
    planted = [0, len(touches) // 2, len(touches) - 1]
    touches.loc[planted, "user_id"] = "nobody"
    touches.to_parquet(export / "touches.parquet", index=False)
    spark.sql(f"CREATE DATABASE IF NOT EXISTS siyu_test LOCATION '{tmp_path / 'warehouse'}'")
    for table in ("touches", "messages"):
        _save_in_parts(spark, export / f"{table}.parquet", f"siyu_test.{table}", 3)
    catalog = {"touches": "table:siyu_test.touches", "messages": "table:siyu_test.messages"}
    try:
        files = load(export, demo=True, as_of="2026-01-01", ingest="engine", engine="pyspark")
        tables = load(elsewhere, demo=True, as_of="2026-01-01", ingest="engine", engine="pyspark", catalog=catalog)
    finally:
        spark.sql("DROP DATABASE siyu_test CASCADE")
    pd.testing.assert_frame_equal(files.quarantine, tables.quarantine)
    q = tables.quarantine
    assert q.loc[q["table"] == "touches", "row"].tolist() == [r + 1 for r in planted]
    acc = tables.accounting.set_index("table")
    assert acc.loc["touches", "file"] == "table:siyu_test.touches"
    cols = ["table", "read", "kept", "quarantined"]
    pd.testing.assert_frame_equal(files.accounting[cols], tables.accounting[cols])
    for name in files.tables:
        pd.testing.assert_frame_equal(files.table(name), tables.table(name), obj=name)


def test_catalog_tables_need_spark_and_files(tmp_path, spark):
    with pytest.raises(DataContractError, match="read by engine='pyspark'"):
        load(SAMPLE, demo=True, catalog={"touches": "table:siyu_test.touches"})
    with pytest.raises(DataContractError, match="also given as catalog tables"):
        load(SAMPLE, demo=True, engine="pyspark", catalog={"touches": "table:dw.touches"})
    spark.range(3).createOrReplaceTempView("siyu_not_files")
    folder = tmp_path / "export"
    folder.mkdir()
    for p in SAMPLE.iterdir():
        if p.name != "touches.parquet":
            (folder / p.name).symlink_to(p)
    with pytest.raises(DataContractError, match="not stored as Parquet files"):
        load(folder, demo=True, engine="pyspark", catalog={"touches": "table:siyu_not_files"})

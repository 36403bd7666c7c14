"""The engine layer: per-event tables are reduced where they live, on DuckDB (default) or Spark.

Every heavy reduction in :mod:`helpers.features` is an ibis expression, written once. ``connect`` picks the
backend, so the same notebook runs on one laptop (DuckDB, embedded) or on an existing Spark cluster
(``engine="pyspark"``; install the ``spark`` extra). Only per-user or aggregate tables come back to pandas.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import ibis
import pandas as pd
import pyarrow as pa

from helpers.contract import DERIVED_TABLES, TABLES, DataContractError

__all__ = ["ENGINES", "Engine", "connect", "spark_session"]

ENGINES = ("duckdb", "pyspark")


def spark_session(app_name: str = "siyu-workbook", driver_memory: str = "4g"):
    """Return the active Spark session, or start a local one (all cores, UTC session time zone, quiet).

    The session time zone is UTC so that the naive local timestamps of the contract are read back unchanged.
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError as err:  # pragma: no cover - depends on the optional extra
        raise ImportError("engine='pyspark' needs the spark extra: pip install -e '.[spark]'") from err
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    session = (
        SparkSession.builder.master(os.environ.get("SPARK_MASTER", "local[*]"))
        .appName(app_name)
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.pyspark.python", sys.executable)  # workers run this environment's python (no env change)
        .config("spark.pyspark.driver.python", sys.executable)
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", os.environ.get("SPARK_SHUFFLE_PARTITIONS", "8"))
        .config("spark.driver.memory", driver_memory)
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.ui.showConsoleProgress", "false")  # no [Stage 3:> (0 + 2) / 8] bars in cell outputs
        .getOrCreate()
    )
    session.sparkContext.setLogLevel(os.environ.get("SPARK_LOG_LEVEL", "ERROR"))  # JVM warnings stay off the pages
    return session


@dataclass
class Engine:
    """An ibis connection bound to a folder of clean contract tables (``<output_dir>/clean``).

    Attributes
    ----------
    con : ibis backend
        The DuckDB or PySpark connection.
    name : str
        ``"duckdb"`` or ``"pyspark"``.
    clean_dir : Path
        Folder of ``<table>.parquet`` files written by notebook 00.
    """

    con: object
    name: str
    clean_dir: Path
    _tables: dict = field(default_factory=dict, repr=False)

    def has(self, table: str) -> bool:
        """Whether the clean folder holds ``table``."""
        return (self.clean_dir / f"{table}.parquet").exists()

    def table(self, table: str) -> ibis.Table:
        """Return ``table`` as a lazy ibis table (nothing is read until an expression is executed)."""
        if table not in TABLES and table not in DERIVED_TABLES:
            raise DataContractError(f"unknown table {table!r}")
        if table not in self._tables:
            path = self.clean_dir / f"{table}.parquet"
            if not path.exists():
                raise DataContractError(f"{path}: table {table!r} is not in the clean data (run 00_data_prep)")
            self._tables[table] = self.con.read_parquet(str(path), table_name=f"clean_{table}")
        return self._tables[table]

    def to_arrow(self, expr: ibis.Expr) -> pa.Table:
        """Execute ``expr`` and return an Arrow table (columnar; nested lists stay lists, not Python objects)."""
        return expr.to_pyarrow()

    def to_pandas(self, expr: ibis.Expr) -> pd.DataFrame:
        """Execute ``expr`` and return pandas with engine-independent dtypes (timestamps in ns)."""
        df = expr.to_pandas() if hasattr(expr, "to_pandas") else expr.execute()
        for c in df.columns:
            if pd.api.types.is_datetime64_any_dtype(df[c].dtype):
                df[c] = df[c].astype("datetime64[ns]")
        return df


def connect(clean_dir: str | Path, engine: str = "duckdb", *, threads: int | None = None) -> Engine:
    """Connect the engine to a folder of clean tables.

    Parameters
    ----------
    clean_dir : str or Path
        Folder with ``contacts.parquet``, ``orders.parquet`` … (notebook 00 writes ``<output_dir>/clean``).
    engine : {"duckdb", "pyspark"}
        Backend. ``pyspark`` uses the active Spark session or starts a local one.
    threads : int, optional
        DuckDB threads (default: all cores).

    Returns
    -------
    Engine
        The bound engine.
    """
    clean = Path(clean_dir)
    if not clean.is_dir():
        raise DataContractError(f"clean data folder not found: {clean} (run 00_data_prep first)")
    if engine == "duckdb":
        kw = {"threads": threads} if threads else {}
        return Engine(ibis.duckdb.connect(**kw), "duckdb", clean)
    if engine == "pyspark":
        return Engine(ibis.pyspark.connect(spark_session()), "pyspark", clean)
    raise ValueError(f"engine must be one of {ENGINES}, not {engine!r}")

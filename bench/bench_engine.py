"""Per-user RFM and touch-path building: the engine layer (ibis on DuckDB) vs a plain pandas implementation.

Both read the same clean Parquet tables in this one script and must give the same per-user results; the script
prints wall time and peak memory added by each, and the ratio. The baseline is what an analyst would write with
pandas: read the table, filter, group by user.

    python bench/bench_engine.py --clean bench/out/reports/bench_1000000_duckdb/clean
"""

from __future__ import annotations

import argparse
import gc
import threading
import time
from pathlib import Path

import pandas as pd
import psutil

from helpers import features
from helpers.engine import connect

AS_OF = "2026-01-01"
GIB = 2**30


class Peak(threading.Thread):
    """Peak RSS of this process while a block runs (sampled every 50 ms)."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.proc = psutil.Process()
        self.start_rss = self.proc.memory_info().rss
        self.peak = self.start_rss
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss)
            time.sleep(0.05)

    def __enter__(self) -> Peak:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.done.set()
        self.join()


def engine_version(clean: Path) -> tuple[pd.DataFrame, object]:
    """Per-user RFM to pandas; per-user paths kept as Arrow lists (what vectorised code downstream consumes)."""
    eng = connect(clean, "duckdb")
    rfm = eng.to_pandas(features.order_summary(eng.table("orders"), AS_OF))
    paths = eng.to_arrow(features.touch_paths(eng.table("touches"), AS_OF))
    return rfm, paths


def engine_version_python_lists(clean: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The same, with the paths converted to Python lists in pandas (like the baseline's output)."""
    eng = connect(clean, "duckdb")
    rfm = eng.to_pandas(features.order_summary(eng.table("orders"), AS_OF))
    paths = eng.to_pandas(features.touch_paths(eng.table("touches"), AS_OF))
    return rfm, paths


def pandas_version(clean: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    o = pd.read_parquet(clean / "orders.parquet")
    o = o[o["ordered_at"] <= pd.Timestamp(AS_OF)]
    paid = o["status"] == "paid"
    o = o.assign(
        paid=paid.astype("int64"),
        paid_amount=o["amount"].where(paid, 0.0),
        refund=o["amount"].where(~paid, 0.0),
        paid_day=o["ordered_at"].dt.normalize().where(paid),
        paid_at=o["ordered_at"].where(paid),
    )
    g = o.groupby("user_id", sort=False)
    rfm = pd.DataFrame(
        {
            "orders": g["paid"].sum(),
            "purchase_days": g["paid_day"].nunique(),
            "gmv": g["paid_amount"].sum().round(2),
            "refunds": g["refund"].sum().round(2),
            "first_order_at": g["paid_at"].min(),
            "last_order_at": g["paid_at"].max(),
        }
    ).reset_index()
    rfm["net_gmv"] = (rfm["gmv"] - rfm["refunds"]).round(2)
    rfm["recency_days"] = (pd.Timestamp(AS_OF) - rfm["last_order_at"]).dt.total_seconds() / 86400
    t = pd.read_parquet(clean / "touches.parquet", columns=["user_id", "touched_at", "touch_type"])
    t = t[t["touched_at"] <= pd.Timestamp(AS_OF)].sort_values(["user_id", "touched_at", "touch_type"])
    gt = t.groupby("user_id", sort=False)["touch_type"]
    paths = pd.DataFrame({"touches": gt.size(), "path": gt.agg(list)}).reset_index()
    return rfm, paths


def measure(fn, clean: Path) -> tuple[float, float, tuple]:
    gc.collect()
    with Peak() as p:
        t0 = time.perf_counter()
        out = fn(clean)
        secs = time.perf_counter() - t0
    return secs, (p.peak - p.start_rss) / GIB, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clean", required=True, help="a report's clean/ folder (from 00_data_prep)")
    args = ap.parse_args()
    clean = Path(args.clean)
    n_orders = pd.read_parquet(clean / "orders.parquet", columns=["user_id"]).shape[0]
    n_touches = pd.read_parquet(clean / "touches.parquet", columns=["user_id"]).shape[0]
    print(f"{n_orders:,} orders, {n_touches:,} touches ({psutil.cpu_count()} cores)")
    t_e, m_e, (rfm_e, paths_arrow) = measure(engine_version, clean)
    t_l, m_l, _ = measure(engine_version_python_lists, clean)
    t_p, m_p, (rfm_p, paths_p) = measure(pandas_version, clean)
    paths_e = paths_arrow.to_pandas()
    # same answers
    a = rfm_e.set_index("user_id").sort_index()
    b = rfm_p.set_index("user_id").sort_index()[a.columns]
    pd.testing.assert_frame_equal(a, b, check_dtype=False, check_exact=False, rtol=1e-9)
    pe = paths_e.set_index("user_id").sort_index()
    pp = paths_p.set_index("user_id").sort_index()
    assert pe["touches"].astype(int).equals(pp["touches"].astype(int))
    assert all(list(x) == y for x, y in zip(pe["path"], pp["path"], strict=True))
    print(f"{'implementation':<28}{'seconds':>9}{'extra peak GiB':>16}")
    print(f"{'engine (DuckDB), Arrow paths':<28}{t_e:>9.1f}{m_e:>16.2f}")
    print(f"{'engine, Python-list paths':<28}{t_l:>9.1f}{m_l:>16.2f}")
    print(f"{'plain pandas':<28}{t_p:>9.1f}{m_p:>16.2f}")
    print(
        f"per-user RFM + touch paths for {len(a):,} buyers and {len(pe):,} touched users: identical results; "
        f"engine {t_p / t_e:.1f}x faster with Arrow paths ({t_p / t_l:.1f}x when every path becomes a Python "
        f"list), {m_p / max(m_e, 1e-9):.1f}x less extra memory"
    )


if __name__ == "__main__":
    main()

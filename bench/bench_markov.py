"""Markov attribution (first order): helpers.attribution.markov vs the ChannelAttribution package, same paths.

Paths come from (1) the ChannelAttribution sample paths in ``../shared/data/attribution`` (public reference data,
read in place) when present, and (2) the simulated report's clean tables (``--clean``), built with
``helpers.attribution.build_paths``. Both implementations get the same aggregated paths, in this one script.
ChannelAttribution estimates removal effects by simulation, ours computes them exactly; the script prints the
largest difference per channel and, for the reference paths, the distance of each to the exact reference values.

    pip install ChannelAttribution   # GPL-3, builds from source; optional — without it only our timings print
    python bench/bench_markov.py --clean bench/out/reports/bench_1000000_duckdb/clean
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd

from helpers import attribution as attr
from helpers.engine import connect

REF = Path(__file__).resolve().parents[2] / "shared" / "data" / "attribution"


def best_of(fn, repeats: int = 3) -> tuple[float, object]:
    out, times = None, []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def to_channelattribution(paths: pd.DataFrame) -> pd.DataFrame:
    p = paths[paths["path"].map(len) > 0]
    return pd.DataFrame(
        {
            "path": p["path"].map(" > ".join),
            "total_conversions": p["conversions"].astype(float),
            "total_conversion_value": p["value"].astype(float),
            "total_null": p["nulls"].astype(float),
        }
    )


def compare(name: str, paths: pd.DataFrame, exact: pd.DataFrame | None = None) -> None:
    t_ours, ours = best_of(lambda: attr.markov(paths))
    line = f"{name:<34}{len(paths):>9,}{t_ours:>10.3f}"
    try:
        from ChannelAttribution import markov_model
    except ImportError:
        print(line + "   ChannelAttribution not installed: no baseline")
        return
    data = to_channelattribution(paths)

    def run_ca() -> pd.DataFrame:
        return markov_model(
            data,
            "path",
            "total_conversions",
            var_value="total_conversion_value",
            var_null="total_null",
            order=1,
            verbose=0,
            flg_pro=False,
        )

    t_ca, ca = best_of(run_ca, repeats=1)
    ca = ca.set_index("channel_name").loc[ours.index]
    diff = (ca["total_conversions"] - ours["markov_conversions"]).abs()
    big = ours["markov_conversions"].idxmax()
    line += (
        f"{t_ca:>10.3f}{t_ca / t_ours:>9.1f}x   max |Δ conversions| {diff.max():.2f}"
        f" of {ours['markov_conversions'].sum():,.0f}"
        f"; largest channel {big}: {diff[big] / ours.loc[big, 'markov_conversions']:.2%}"
    )
    print(line)
    if exact is not None:
        e = exact.loc[ours.index, "total_conversions"]
        print(
            f"{'':<34}vs the exact reference: ours {(ours['markov_conversions'] - e).abs().max():.1e}, "
            f"ChannelAttribution {(ca['total_conversions'] - e).abs().max():.2f} conversions"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clean", help="a report's clean/ folder: also compare on its simulated touch paths")
    args = ap.parse_args()
    print(f"{'paths':<34}{'rows':>9}{'ours s':>10}{'CA s':>10}{'CA/ours':>9}")
    if (REF / "paths.csv").exists():
        exact = pd.read_csv(REF / "expected_markov_order1.csv").set_index("channel_name")
        compare("ChannelAttribution sample paths", attr.read_channelattribution_paths(REF / "paths.csv"), exact)
    else:
        print(f"{REF} not found: reference paths skipped")
    if args.clean:
        eng = connect(args.clean)
        t0 = time.perf_counter()
        paths = attr.build_paths(
            eng.table("touches"), eng.table("orders"), 14, contacts=eng.table("contacts"), to_pandas=eng.to_pandas
        )
        print(f"(paths built in the engine in {time.perf_counter() - t0:.1f} s)")
        compare("simulated contacts, channel paths", paths)


if __name__ == "__main__":
    main()

"""Simulator benchmark: wall time, peak memory (RSS) and rows written, at scale and at a 10x smaller baseline.

Both runs happen in this script, each in its own process (so peak RSS is that run's own); the ratio of time per
contact shows whether generation scales linearly.

    python bench/bench_simulate.py --contacts 1000000
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run(n: int, out: Path) -> dict:
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "helpers.simulate", "--contacts", str(n), "--seed", "1", "--out", str(out), "--quiet"]
    )
    _, status, usage = os.wait4(proc.pid, 0)
    secs = time.perf_counter() - t0
    if status != 0:
        raise SystemExit(f"simulate failed for {n} contacts")
    truth = json.loads((out / "truth.json").read_text())
    size = sum(p.stat().st_size for p in out.iterdir())
    return {
        "contacts": truth["rows"]["contacts"],
        "rows": sum(truth["rows"].values()),
        "seconds": secs,
        "peak_rss_gib": usage.ru_maxrss / 2**20,
        "disk_mib": size / 2**20,
        "rows_by_table": truth["rows"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--contacts", type=int, default=1_000_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = run(max(args.contacts // 10, 1000), Path(tmp) / "base")
        big = run(args.contacts, Path(tmp) / "big")
    print(f"{'contacts':>10} {'rows':>12} {'seconds':>8} {'peak RSS GiB':>13} {'disk MiB':>9} {'µs/contact':>11}")
    for r in (base, big):
        print(
            f"{r['contacts']:>10,} {r['rows']:>12,} {r['seconds']:>8.1f} {r['peak_rss_gib']:>13.2f} "
            f"{r['disk_mib']:>9.0f} {1e6 * r['seconds'] / r['contacts']:>11.1f}"
        )
    print("rows by table at scale:", ", ".join(f"{k} {v:,}" for k, v in big["rows_by_table"].items()))
    scale = (big["seconds"] / big["contacts"]) / (base["seconds"] / base["contacts"])
    print(f"time per contact, {big['contacts']:,} vs {base['contacts']:,} contacts: ratio {scale:.2f} (1.0 = linear)")
    mem = big["peak_rss_gib"] / base["peak_rss_gib"]
    print(f"peak memory ratio: {mem:.2f} for {big['contacts'] / base['contacts']:.0f}x the contacts")


if __name__ == "__main__":
    main()

"""Loading and validating: this checkout's loader against an earlier commit's, on the same files, in one script.

Both loaders run in their own child process on the same contract folder, one after the other so they do not share
the cores, alternating ``--repeat`` times (the fastest run of each counts: a shared host has slow spells). Each writes
its clean tables and quality report; the script checks that every clean table, the quarantine, the accounting and
the notes are identical, then prints seconds, rows per second and peak memory of each, and the ratio. The baseline is
the loader as it was at ``--baseline`` (default: the last commit before the loader's duplicate index, soft-reference
counts and Arrow parsing were reworked), exported with ``git archive``.

    python bench/bench_load.py --data bench/out/data_1000000_1
    python bench/bench_load.py --data bench/out/data_1000000_1 --format csv    # the same tables as UTF-8 CSV
    python bench/bench_load.py --data bench/out/data_1000000_1 --baseline HEAD~3
    python bench/bench_load.py --data bench/out/data_1000000_1 --baseline chunks   # engine against chunks, here

``--baseline chunks`` compares this checkout's two paths: Parquet files validated by the engine (``ingest="auto"``,
:mod:`helpers.ingest`) against every file read by the chunked pandas loader (``ingest="chunks"``). ``--engine
pyspark`` validates this checkout's engine tables in Spark local mode instead of DuckDB.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
BASELINE = "e310f4a"  # the loader before this benchmark was written
GIB = 2**30

CHILD = """
import json, resource, sys, time
from helpers import data
t = time.perf_counter()
kw = {"ingest": sys.argv[5]} if sys.argv[5] else {}
if sys.argv[6] != "duckdb":
    kw["engine"] = sys.argv[6]
ds = data.load(sys.argv[1], as_of=sys.argv[2], demo=sys.argv[4] == "demo", **kw)
ds.write(sys.argv[3])
seconds = time.perf_counter() - t
print(json.dumps({"seconds": seconds, "read": int(ds.accounting["read"].sum()),
                  "quarantined": int(ds.accounting["quarantined"].sum()),
                  "peak_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
                  "worker_peak_gib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20}))
"""


def export_helpers(ref: str, into: Path) -> Path:
    """Write the ``helpers`` package as it was at ``ref`` into ``into`` and return that folder."""
    blob = subprocess.run(["git", "-C", str(ROOT), "archive", ref, "helpers"], check=True, capture_output=True).stdout
    with tarfile.open(fileobj=BytesIO(blob)) as tar:
        tar.extractall(into, filter="data")
    return into


def as_csv(data: Path, into: Path) -> Path:
    """Write every Parquet table of ``data`` as a UTF-8 CSV file in ``into``; copy its other files (CSV, truth.json)."""
    import duckdb

    into.mkdir(parents=True)
    for p in sorted(data.iterdir()):
        if p.suffix != ".parquet" or p.stem.startswith("truth"):  # files that are not Parquet are copied as they are
            if p.is_file() and not p.name.startswith("truth_"):
                shutil.copyfile(p, into / p.name)
            continue
        duckdb.sql(f"COPY (SELECT * FROM read_parquet('{p}')) TO '{into / (p.stem + '.csv')}' (HEADER, DELIMITER ',')")
    return into


def run_loader(
    pythonpath: Path, data: Path, as_of: str, out: Path, demo: bool, ingest: str = "", engine: str = "duckdb"
) -> dict:
    """Load ``data`` with the ``helpers`` package found on ``pythonpath``; return its figures.

    ``ingest`` is passed to ``data.load`` when given (commits before the engine path do not take it); so is an
    ``engine`` other than DuckDB.
    """
    env = {**os.environ, "PYTHONPATH": str(pythonpath)}
    args = [sys.executable, "-c", CHILD, str(data), as_of, str(out), "demo" if demo else "key", ingest, engine]
    done = subprocess.run(args, env=env, capture_output=True, text=True, cwd=pythonpath)
    if done.returncode:
        raise SystemExit(f"the loader in {pythonpath} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _plain(t: pa.Table) -> pa.Table:
    """The table without file metadata (pandas' dtype notes), every large_string column as string.

    DuckDB writes text as ``string`` and pandas as ``large_string`` with its own metadata, so the same clean table
    reads back as ``object`` or ``string`` columns in pandas depending on who wrote it; every engine reads both as
    text.
    """
    fields = [pa.field(f.name, pa.string() if f.type == pa.large_string() else f.type) for f in t.schema]
    return t.cast(pa.schema(fields)).replace_schema_metadata(None)


def differences(a: Path, b: Path) -> list[str]:
    """What differs between two loaders' outputs (clean tables, quarantine, accounting, notes); empty if nothing."""
    out = []
    names = sorted(p.name for p in (a / "clean").glob("*.parquet"))
    if names != sorted(p.name for p in (b / "clean").glob("*.parquet")):
        out.append("different clean tables")
    for name in names:  # values and logical types; a string column may be stored as string or large_string
        x, y = (_plain(pq.read_table(d / "clean" / name)) for d in (a, b))
        if not x.equals(y):
            out.append(f"{name}: {'schema' if x.schema != y.schema else 'values'} differ")
    for name in ("quarantine.csv", "accounting.csv"):
        if (a / "quality" / name).read_bytes() != (b / "quality" / name).read_bytes():
            out.append(f"{name} differs")
    notes = [json.loads((d / "quality" / "manifest.json").read_text(encoding="utf-8"))["notes"] for d in (a, b)]
    if notes[0] != notes[1]:
        out.append("load notes differ")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="bench/out/data_1000000_1", help="a contract folder (default: make bench's)")
    ap.add_argument("--as-of", default="2026-01-01")
    ap.add_argument(
        "--baseline",
        default=BASELINE,
        help=f"git commit of the baseline loader (default {BASELINE}), or 'chunks': this checkout without the engine",
    )
    ap.add_argument("--format", default="parquet", choices=["parquet", "csv"], help="input files (csv: converted)")
    ap.add_argument("--repeat", type=int, default=2, help="runs of each loader, alternating (the fastest is shown)")
    ap.add_argument(
        "--engine",
        default="duckdb",
        choices=["duckdb", "pyspark"],
        help="engine of this checkout's loader (pyspark: Spark local mode; its JVM's memory is not in the peak)",
    )
    args = ap.parse_args()
    data = Path(args.data).resolve()
    demo = (data / "truth.json").exists()  # the simulator's data: the public demo key; otherwise SIYU_PII_KEY
    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
        tmp = Path(tmp)
        chunks = args.baseline == "chunks"
        base = ROOT if chunks else export_helpers(args.baseline, tmp / "baseline")
        if args.format == "csv":
            data = as_csv(data, tmp / "csv")
        kinds = ", ".join(sorted({"".join(p.suffixes) for p in data.iterdir() if not p.name.startswith("truth")}))
        ours, theirs = [], []
        for i in range(args.repeat):  # alternate, so a slow spell of a shared host does not fall on one loader only
            ingest = "auto" if chunks else ""
            ours.append(run_loader(ROOT, data, args.as_of, tmp / f"ours{i}", demo, ingest, args.engine))
            theirs.append(run_loader(base, data, args.as_of, tmp / f"theirs{i}", demo, "chunks" if chunks else ""))
        diff = differences(tmp / "ours0", tmp / "theirs0")
    times = {"ours": [r["seconds"] for r in ours], "baseline": [r["seconds"] for r in theirs]}
    ours, theirs = min(ours, key=lambda r: r["seconds"]), min(theirs, key=lambda r: r["seconds"])
    rows = ours["read"]
    print(f"loading and validating {rows:,} rows from {args.data} ({kinds} files; {os.cpu_count()} cores)")
    print(f"{'loader':<28} {'seconds':>8} {'M rows/s':>9} {'peak GiB':>9} {'worker GiB':>11} {'quarantined':>12}")
    labels = (
        (f"{args.engine} (ingest=auto)", "chunks (ingest=chunks)")
        if chunks
        else (f"this checkout ({args.engine})", f"baseline {args.baseline}")
    )
    for label, r in zip(labels, (ours, theirs), strict=True):
        print(
            f"{label:<28} {r['seconds']:>8.1f} {r['read'] / r['seconds'] / 1e6:>9.2f} {r['peak_gib']:>9.2f} "
            f"{r.get('worker_peak_gib', 0):>11.2f} {r['quarantined']:>12,}"
        )
    print("(peak GiB: the loading process; worker GiB: the largest of its worker processes, each at its own peak)")
    print("every run (s):", "; ".join(f"{k} " + ", ".join(f"{t:.1f}" for t in v) for k, v in times.items()))
    print(f"ratio (fastest runs): {theirs['seconds'] / ours['seconds']:.2f}x faster (target: at least 2 M rows/s)")
    print("outputs identical" if not diff else "OUTPUTS DIFFER:\n  " + "\n  ".join(diff))
    if diff:
        raise SystemExit(1)


if __name__ == "__main__":
    main()

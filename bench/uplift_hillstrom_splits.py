"""Spread of uplift@30% and the Qini coefficient over random stratified splits of Hillstrom (Womens E-Mail vs none).

The CI test (tests/test_uplift.py) pins one split; this script measures how much the metrics move from split to
split, which sets that test's tolerance; ``--bootstrap B`` adds, on the CI test's split (seed 0), percentile
intervals from B bootstrap resamples of the held-out customers (within each arm), the models fitted once.
Run: .venv/bin/python bench/uplift_hillstrom_splits.py [--splits 50] [--bootstrap 1000]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from helpers import uplift as U

HILLSTROM = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "hillstrom" / "hillstrom.csv"
FEATURES = ["recency", "history_segment", "history", "mens", "womens", "zip_code", "newbie", "channel"]


def load(path: Path = HILLSTROM) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    d = pd.read_csv(path)
    d = d[d["segment"] != "Mens E-Mail"].reset_index(drop=True)
    return d[FEATURES], (d["segment"] == "Womens E-Mail").astype(int).to_numpy(), d["visit"].to_numpy()


def models() -> dict:
    return {
        "two-model (logistic)": lambda: U.TwoModelUplift("logistic", n_threads=1),
        "two-model (hgb)": lambda: U.TwoModelUplift("hgb", n_threads=1),
        "class transformation (logistic)": lambda: U.ClassTransformationUplift("logistic", n_threads=1),
        "class transformation (hgb)": lambda: U.ClassTransformationUplift("hgb", n_threads=1),
        "X-learner (logistic)": lambda: U.XLearnerUplift("logistic", n_threads=1),
        "X-learner (hgb)": lambda: U.XLearnerUplift("hgb", n_threads=1),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--splits", type=int, default=50)
    ap.add_argument("--test-size", type=float, default=0.3)
    ap.add_argument("--bootstrap", type=int, default=0, help="bootstrap resamples of the seed-0 test split")
    args = ap.parse_args(argv)
    X, w, y = load()
    if args.bootstrap:
        bootstrap(X, w, y, args.test_size, args.bootstrap)
    if not args.splits:
        return 0
    rows = []
    for seed in range(args.splits):
        tr, te = U.stratified_split(w, y, args.test_size, seed)
        for name, make in models().items():
            t0 = time.perf_counter()
            s = make().fit(X.iloc[tr], w[tr], y[tr]).predict_uplift(X.iloc[te]).to_numpy()
            secs = time.perf_counter() - t0
            rows.append(
                {
                    "seed": seed,
                    "model": name,
                    "uplift_at_30": U.uplift_at_k(y[te], w[te], s, 0.3),
                    "qini": U.qini_coefficient(y[te], w[te], s),
                    "auuc": U.auuc(y[te], w[te], s),
                    "seconds": secs,
                }
            )
        print(f"split {seed + 1}/{args.splits}", file=sys.stderr)
    r = pd.DataFrame(rows)
    out = r.groupby("model", sort=False).agg(
        uplift_at_30_mean=("uplift_at_30", "mean"),
        uplift_at_30_sd=("uplift_at_30", "std"),
        uplift_at_30_p2_5=("uplift_at_30", lambda v: v.quantile(0.025)),
        uplift_at_30_p97_5=("uplift_at_30", lambda v: v.quantile(0.975)),
        qini_mean=("qini", "mean"),
        qini_sd=("qini", "std"),
        qini_p2_5=("qini", lambda v: v.quantile(0.025)),
        qini_p97_5=("qini", lambda v: v.quantile(0.975)),
        auuc_mean=("auuc", "mean"),
        seconds_fit_predict=("seconds", "median"),
    )
    pd.set_option("display.width", 250)
    print(f"Hillstrom Womens E-Mail vs No E-Mail, target visit; {args.splits} stratified splits, test {args.test_size}")
    print(out.round(4).to_string())
    for name in r["model"].unique():
        s0 = r[(r["model"] == name) & (r["seed"] == 0)].iloc[0]
        print(f"seed 0 (the CI test's split): {name}: uplift@30% {s0.uplift_at_30:.4f}, Qini {s0.qini:.4f}")
    return 0


def bootstrap(X: pd.DataFrame, w: np.ndarray, y: np.ndarray, test_size: float, n: int) -> None:
    """Print uplift@30 % and Qini per model on the seed-0 split with 95 % percentile bootstrap intervals."""
    tr, te = U.stratified_split(w, y, test_size, 0)
    rng = np.random.default_rng(0)
    arms = [np.flatnonzero(w[te] == a) for a in (0, 1)]
    resamples = [np.concatenate([rng.choice(a, len(a)) for a in arms]) for _ in range(n)]
    print(f"Hillstrom, seed-0 split ({len(te):,} held-out customers), {n} bootstrap resamples within arms")
    for name, make in models().items():
        s = make().fit(X.iloc[tr], w[tr], y[tr]).predict_uplift(X.iloc[te]).to_numpy()
        yy, ww = y[te], w[te]
        point = U.uplift_at_k(yy, ww, s, 0.3), U.qini_coefficient(yy, ww, s)
        b = np.array(
            [(U.uplift_at_k(yy[i], ww[i], s[i], 0.3), U.qini_coefficient(yy[i], ww[i], s[i])) for i in resamples]
        )
        lo, hi = np.percentile(b, [2.5, 97.5], axis=0)
        print(
            f"{name:<34} uplift@30% {point[0]:.4f} [{lo[0]:.4f}, {hi[0]:.4f}]   "
            f"Qini {point[1]:.4f} [{lo[1]:.4f}, {hi[1]:.4f}]"
        )


if __name__ == "__main__":
    raise SystemExit(main())

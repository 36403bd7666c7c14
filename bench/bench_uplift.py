"""Uplift models at one million customers: fit + score time of each model against the logistic T-learner baseline.

The synthetic test (``helpers.simulate.uplift_population``, four planted customer types) is widened to the 11
features the workbook's uplift models use (``helpers.features.snapshot_features``: channel + 10 numbers). Each
model is fitted on the randomised customers of a 70 % split (the estimators' default ``max_train_rows`` = 500 000
applies) and scores all customers; ``evaluate`` (Qini, AUUC, deciles, 199-permutation verdict) runs on the 30 %
held out. One BLAS / OpenMP thread (the estimators' default).

    python bench/bench_uplift.py --customers 1000000
"""

from __future__ import annotations

import argparse
import resource
import time
import warnings

import numpy as np

from helpers import uplift as U
from helpers.simulate import uplift_population

FEATURES = ["channel", *(f"x{i}" for i in range(10))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--models", default="all", help="comma-separated subset of the model names, or 'all'")
    args = ap.parse_args()
    warnings.filterwarnings("ignore", category=FutureWarning)
    d = uplift_population(args.customers, seed=0)
    rng = np.random.default_rng(1)
    for i in range(5, 10):  # five more noise columns: counts and day gaps like the workbook's features
        d[f"x{i}"] = rng.poisson(2.0, len(d)) if i % 2 else rng.exponential(30.0, len(d))
    tr, te = U.stratified_split(d["treatment"], d["y"], test_size=0.3, random_state=0)
    X = d[FEATURES]
    models = {
        "two-model, logistic (baseline)": lambda: U.TwoModelUplift("logistic"),
        "two-model, hgb": lambda: U.TwoModelUplift("hgb"),
        "class transformation, logistic": lambda: U.ClassTransformationUplift("logistic"),
        "class transformation, hgb": lambda: U.ClassTransformationUplift("hgb"),
        "X-learner, logistic": lambda: U.XLearnerUplift("logistic"),
        "X-learner, hgb": lambda: U.XLearnerUplift("hgb"),
    }
    if args.models != "all":
        models = {k: v for k, v in models.items() if k in args.models.split(",")}
    print(f"{len(d):,} customers, {len(FEATURES)} features; train {len(tr):,}, held out {len(te):,}")
    base = None
    for name, make in models.items():
        t0 = time.perf_counter()
        m = make().fit(X.iloc[tr], d["treatment"].iloc[tr], d["y"].iloc[tr])
        t1 = time.perf_counter()
        s_all = m.predict_uplift(X)
        t2 = time.perf_counter()
        ev = U.evaluate(d["y"].iloc[te], d["treatment"].iloc[te], s_all.iloc[te], n_permutations=199)
        t3 = time.perf_counter()
        total = t2 - t0
        base = base or total
        print(
            f"{name:32s} fit {t1 - t0:6.1f} s  score {len(d):,} {t2 - t1:5.1f} s  fit+score {total:6.1f} s "
            f"(×{total / base:4.1f} baseline)  evaluate {t3 - t2:4.1f} s  Qini {ev.qini:.3f}  "
            f"uplift@30% {ev.uplift_at_k:.3f}  verdict {ev.verdict.use}",
            flush=True,
        )
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB")


if __name__ == "__main__":
    main()

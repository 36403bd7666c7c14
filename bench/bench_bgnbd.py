"""BG/NBD fit on 1 000 000 simulated customers: helpers.repurchase.BetaGeo vs lifetimes, in one script.

Two comparisons, both fitters on the same input each time:

1. the one-row-per-customer summary (how lifetimes' documentation fits it; ours collapses identical rows inside);
2. the same unique (frequency, recency, T) rows and weights for both (lifetimes' fastest use).

It prints wall times (best of ``--repeats``), the ratios, and both parameter sets (they must agree).

    python bench/bench_bgnbd.py --customers 1000000
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

from helpers.repurchase import BetaGeo
from helpers.simulate import bgnbd_summary


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    planted = {"r": 0.8, "alpha": 30.0, "a": 0.9, "b": 3.0}
    rng = np.random.default_rng(0)
    T = np.round(rng.uniform(1, 365, args.customers))  # whole days, as from summarize(unit="D")
    s = bgnbd_summary(args.customers, **planted, T=T, seed=1)
    s["recency"] = np.floor(s["recency"])
    u = s.groupby(["frequency", "recency", "T"]).size().rename("weight").reset_index()
    print(f"{args.customers:,} customers -> {len(u):,} unique (frequency, recency, T) rows")

    ours, t_ours = None, []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        ours = BetaGeo().fit(u)  # the same collapsed rows and weights
        t_ours.append(time.perf_counter() - t0)
    try:
        from lifetimes import BetaGeoFitter
    except ImportError:
        print("lifetimes not installed (pip install -e '.[bench]'): no baseline")
        print(f"helpers BetaGeo: best of {args.repeats}: {min(t_ours):.3f} s, params {ours.params_}")
        return
    t_lt = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            lt = BetaGeoFitter().fit(u["frequency"], u["recency"], u["T"], weights=u["weight"])
        t_lt.append(time.perf_counter() - t0)
    lt_params = {k: float(v) for k, v in lt.params_.items()}
    print(f"{'fitter':<22}{'best s':>9}{'r':>10}{'alpha':>10}{'a':>10}{'b':>10}")
    for name, secs, p in (
        ("planted", float("nan"), planted),
        ("helpers BetaGeo", min(t_ours), ours.params_),
        ("lifetimes BetaGeoFitter", min(t_lt), lt_params),
    ):
        print(f"{name:<22}{secs:>9.3f}" + "".join(f"{p[k]:>10.4f}" for k in ("r", "alpha", "a", "b")))
    rel = max(abs(ours.params_[k] - lt_params[k]) / lt_params[k] for k in planted)
    print(
        f"[same collapsed rows] speed-up vs lifetimes: {min(t_lt) / min(t_ours):.1f}x; "
        f"largest relative parameter difference {rel:.2e}"
    )

    t_full = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        full = BetaGeo().fit(s)
        t_full.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lt_full = BetaGeoFitter().fit(s["frequency"], s["recency"], s["T"])
    t_lt_full = time.perf_counter() - t0
    rel_full = max(abs(full.params_[k] - float(lt_full.params_[k])) / float(lt_full.params_[k]) for k in planted)
    print(
        f"[one row per customer, {len(s):,} rows] helpers BetaGeo {min(t_full):.3f} s (collapsing included), "
        f"lifetimes {t_lt_full:.3f} s (one run): speed-up {t_lt_full / min(t_full):.1f}x; "
        f"largest relative parameter difference {rel_full:.2e}"
    )


if __name__ == "__main__":
    main()

"""Purchase-model fits on 1 000 000 simulated customers: helpers.clv vs lifetimes, side by side on the same rows.

For each model the customers are drawn from that model (days; T uniform over a year, recency in whole days, as
from ``summarize(unit="D")``), collapsed once to unique (frequency, recency, T) rows with weights, and both fitters
get those same rows and weights — lifetimes' fastest use. It prints wall times (ours: best of ``--repeats``;
lifetimes: best of ``--repeats`` for BG/NBD and MBG/NBD, one run for Pareto/NBD, which takes minutes), the
speed-up ratios, and both parameter sets (they must agree).

    python bench/bench_clv.py --customers 1000000
"""

from __future__ import annotations

import argparse
import os
import platform
import time
import warnings

import numpy as np
import pandas as pd

from helpers import clv
from helpers.simulate import bgnbd_summary, mbgnbd_summary, paretonbd_summary

PLANTED = {
    "BG/NBD": ({"r": 0.8, "alpha": 30.0, "a": 0.9, "b": 3.0}, bgnbd_summary, clv.BetaGeo, "BetaGeoFitter"),
    "MBG/NBD": (
        {"r": 0.8, "alpha": 30.0, "a": 0.9, "b": 3.0},
        mbgnbd_summary,
        clv.ModifiedBetaGeo,
        "ModifiedBetaGeoFitter",
    ),
    "Pareto/NBD": (
        {"r": 0.8, "alpha": 30.0, "s": 0.6, "beta": 120.0},
        paretonbd_summary,
        clv.ParetoNBD,
        "ParetoNBDFitter",
    ),
}
TARGET = {"BG/NBD": 3.0, "Pareto/NBD": 10.0}


def _rows(gen, planted: dict, n: int) -> pd.DataFrame:
    T = np.round(np.random.default_rng(0).uniform(1, 365, n))
    s = gen(n, *planted.values(), T=T, seed=1)
    s["recency"] = np.floor(s["recency"])
    return s.groupby(["frequency", "recency", "T"]).size().rename("weight").reset_index()


def _best(fn, repeats: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--models", default="BG/NBD,MBG/NBD,Pareto/NBD", help="comma-separated subset")
    args = ap.parse_args()
    try:
        import lifetimes
    except ImportError:
        lifetimes = None
        print("lifetimes not installed (pip install -e '.[bench]'): our times only")
    print(
        f"{args.customers:,} customers per model; python {platform.python_version()}, numpy {np.__version__}, "
        f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, {os.cpu_count()} CPUs"
    )
    summary = []
    for name in args.models.split(","):
        planted, gen, ours_cls, lt_name = PLANTED[name]
        u = _rows(gen, planted, args.customers)
        keys = list(planted)
        t_ours, ours = _best(lambda cls=ours_cls, u=u: cls().fit(u), args.repeats)
        line = {"model": name, "rows": len(u), "seconds_ours": t_ours, **{f"ours_{k}": ours.params_[k] for k in keys}}
        if lifetimes is not None:
            fitter = getattr(lifetimes, lt_name)
            reps = 1 if name == "Pareto/NBD" else args.repeats

            def fit_lt(fitter=fitter, u=u):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    return fitter().fit(u["frequency"], u["recency"], u["T"], weights=u["weight"])

            t_lt, lt = _best(fit_lt, reps)
            lt_params = {k: float(lt.params_[k]) for k in keys}
            line.update(seconds_lifetimes=t_lt, speedup=t_lt / t_ours, **{f"lifetimes_{k}": lt_params[k] for k in keys})
            line["max_rel_param_diff"] = max(abs(ours.params_[k] - lt_params[k]) / abs(lt_params[k]) for k in keys)
            # which optimum is higher? (both evaluated with the same likelihood code)
            ll_lt = ours._ll_grad(np.log([lt_params[k] for k in keys]), ours._prepare(u))[0]
            line["ll_ours_minus_lifetimes"] = ours.log_likelihood_ - ll_lt
        summary.append(line)
        print(f"\n{name}: {len(u):,} unique (frequency, recency, T) rows")
        print(f"  {'':<12}{'seconds':>9}" + "".join(f"{k:>11}" for k in keys))
        print(f"  {'planted':<12}{'':>9}" + "".join(f"{planted[k]:>11.4f}" for k in keys))
        print(f"  {'helpers.clv':<12}{t_ours:>9.3f}" + "".join(f"{ours.params_[k]:>11.4f}" for k in keys))
        if lifetimes is not None:
            print(
                f"  {'lifetimes':<12}{line['seconds_lifetimes']:>9.3f}"
                + "".join(f"{lt_params[k]:>11.4f}" for k in keys)
            )
            target = TARGET.get(name)
            verdict = (
                ""
                if target is None
                else (f" (target >= {target:g}x: {'met' if line['speedup'] >= target else 'NOT met'})")
            )
            print(
                f"  speed-up vs lifetimes: {line['speedup']:.1f}x{verdict}; largest relative parameter difference "
                f"{line['max_rel_param_diff']:.1e}"
            )
    print("\n" + pd.DataFrame(summary).set_index("model").round(4).to_string())


if __name__ == "__main__":
    main()

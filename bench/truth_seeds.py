"""How often 03's value intervals hold the planted value, over simulator seeds (the figures 03's truth prose quotes).

For each seed the simulator writes a sample like the bundled one (``--contacts 20000``; the bundled sample is seed 7
made ``--messy``: the messy export joins its planted truth only under the demo key, which only the bundled folder
may use), the runner runs 00, 02 and 03 on it exactly as a user would, and 03's truth check saves its comparison
per planted segment, channel and tier (``truth/group_values.csv``). Printed per seed: the channels' mean error
against the planted value, the known-segment fit's error for the high-value segment, and how many 99 % intervals
hold the planted value; then the totals over all seeds.

    python bench/truth_seeds.py --seeds 1-7 --workdir bench/out/truth_seeds
"""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = ["00_data_prep", "02_user_tiers", "03_repurchase"]


def seeds(text: str) -> list[int]:
    """Parse ``1-7`` or ``1,3,5`` into a list of seeds.

    >>> seeds("1-3"), seeds("7,2")
    ([1, 2, 3], [7, 2])
    """
    if "-" in text:
        lo, hi = (int(v) for v in text.split("-"))
        return list(range(lo, hi + 1))
    return [int(v) for v in text.split(",")]


def run_seed(seed: int, work: Path, contacts: int, env: dict) -> pd.DataFrame:
    """Simulate one seed, run 00 → 02 → 03 through the runner, return 03's saved truth table."""
    data = work / f"data_{seed}"
    if not (data / "truth.json").exists():
        cmd = [sys.executable, "-m", "helpers.simulate", "--contacts", str(contacts), "--seed", str(seed)]
        subprocess.run([*cmd, "--out", str(data)], check=True, cwd=REPO, env=env)
    default = yaml.safe_load((REPO / "params" / "default.yaml").read_text())
    params = {"run_name": f"seed{seed}", "parameters": {**default["parameters"], "data_dir": str(data)}}
    pfile = work / f"seed{seed}.yaml"
    pfile.write_text(yaml.safe_dump(params, allow_unicode=True))
    cmd = [sys.executable, "-m", "helpers.run", "--params", str(pfile), "--reports-dir", str(work / "reports")]
    subprocess.run([*cmd, "--only", *NOTEBOOKS, "--no-html", "--quiet"], check=True, cwd=REPO, env=env)
    return pd.read_csv(work / "reports" / f"seed{seed}" / "truth" / "group_values.csv").assign(seed=seed)


def summarise(t: pd.DataFrame) -> pd.DataFrame:
    """Per seed: mean channel error, high-value segment error, and 99 % coverage per kind.

    >>> t = pd.DataFrame({"seed": [1, 1, 1], "kind": ["segment", "channel", "tier"],
    ...                   "group": ["high_value", "referral", "new"], "relative_error": [0.01, 0.02, -0.01],
    ...                   "inside_interval": [True, True, False]})
    >>> summarise(t).loc[1].astype(str).tolist()
    ['0.02', '0.01', '1/1', '0/1']
    """
    rows = {}
    for seed, g in t.groupby("seed"):
        ch, ti = g[g["kind"] == "channel"], g[g["kind"] == "tier"]
        hv = g[(g["kind"] == "segment") & (g["group"] == "high_value")]["relative_error"]
        rows[seed] = {
            "channel_error": round(float(ch["relative_error"].mean()), 4),
            "high_value_error": round(float(hv.iloc[0]), 4) if len(hv) else float("nan"),
            "channels_inside": f"{int(ch['inside_interval'].astype(bool).sum())}/{len(ch)}",
            "tiers_inside": f"{int(ti['inside_interval'].astype(bool).sum())}/{len(ti)}",
        }
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("seed")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="1-7", help="e.g. 1-7 or 2,7")
    ap.add_argument("--contacts", type=int, default=20_000)
    ap.add_argument("--workdir", default="bench/out/truth_seeds")
    args = ap.parse_args()
    work = Path(args.workdir).resolve()
    work.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "SIYU_PII_KEY": os.environ.get("SIYU_PII_KEY") or secrets.token_hex(32)}
    t0, tables = time.perf_counter(), []
    for seed in seeds(args.seeds):
        tables.append(run_seed(seed, work, args.contacts, env))
        print(f"seed {seed}: {time.perf_counter() - t0:.0f} s", flush=True)
    t = pd.concat(tables, ignore_index=True)
    t.to_csv(work / "group_values_all_seeds.csv", index=False)
    print(summarise(t).to_string())
    for kind in ("channel", "tier"):
        k = t[t["kind"] == kind]
        print(f"{kind}: 99 % intervals hold {int(k['inside_interval'].astype(bool).sum())} of {len(k)}")


if __name__ == "__main__":
    main()

"""Planted truth of simulated data, and the table that compares an estimate with it.

On the sample data every notebook ends its method with a checked cell: estimate, truth, tolerance, verdict.
On your own data there is no ``truth.json`` and those cells say so.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

__all__ = ["TRUTH_FILES", "TruthChecks", "check_purchase_segments", "copy_truth", "planted_tiers", "read_truth"]

#: The files of a simulated data folder that hold its planted truth.
TRUTH_FILES = ("truth.json", "truth_users.parquet")


def read_truth(data_dir: str | Path) -> dict | None:
    """Return the planted truth of a simulated data folder, or ``None`` for real data."""
    p = Path(data_dir) / "truth.json"
    return json.loads(p.read_text(encoding="utf-8")) if p.exists() else None


def copy_truth(data_dir: str | Path, output_dir: str | Path) -> Path | None:
    """Copy a simulated folder's truth files to ``output_dir/truth`` (so later notebooks need only the output).

    Returns
    -------
    Path or None
        The ``truth`` folder, or ``None`` for real data (no ``truth.json``).
    """
    import shutil

    src = Path(data_dir)
    if not (src / "truth.json").exists():
        return None
    dst = Path(output_dir) / "truth"
    dst.mkdir(parents=True, exist_ok=True)
    for name in TRUTH_FILES:
        if (src / name).exists():
            shutil.copyfile(src / name, dst / name)
    return dst


def planted_tiers(data_dir: str | Path, tenure_days: pd.Series, new_days: float | None = None) -> pd.Series | None:
    """Return the planted tier of each contact at a snapshot (simulated data only).

    A contact added fewer than ``new_days`` days before the snapshot is ``new``; any other contact has its
    simulated segment (``high_value``, ``potential``, ``at_risk``, ``dormant``).

    Parameters
    ----------
    data_dir : str or Path
        A simulated folder (with ``truth.json`` and ``truth_users.parquet``).
    tenure_days : Series
        Days from being added to the snapshot, indexed by ``user_id``.
    new_days : float, optional
        Default: the ``new_tier_days`` the simulator planted.

    Returns
    -------
    Series or None
        Planted tier per user (same index), or ``None`` for real data.
    """
    truth = read_truth(data_dir)
    users = Path(data_dir) / "truth_users.parquet"
    if truth is None or not users.exists():
        return None
    days = new_days if new_days is not None else truth["planted"].get("new_tier_days", 60)
    seg = pd.read_parquet(users, columns=["user_id", "segment"]).set_index("user_id")["segment"]
    out = seg.reindex(tenure_days.index).astype(object)
    out[tenure_days < days] = "new"
    return out.rename("planted_tier")


class TruthChecks:
    """Collect estimate-versus-truth comparisons and render them as one table.

    Examples
    --------
    >>> tc = TruthChecks()
    >>> tc.within("30-day deletion, paid_ads", estimate=0.29, truth=0.30, tol=0.03)
    >>> tc.inside("B - A add rate", truth=0.06, low=0.04, high=0.08)
    >>> tc.table()["ok"].tolist()
    [True, True]
    """

    def __init__(self) -> None:
        self.rows: list[dict] = []

    def within(self, quantity: str, estimate: float, truth: float, tol: float) -> None:
        """Check ``|estimate - truth| <= tol``."""
        ok = bool(abs(estimate - truth) <= tol)
        self.rows.append(
            {
                "quantity": quantity,
                "estimate": round(float(estimate), 4),
                "truth": round(float(truth), 4),
                "rule": f"within ±{tol:g}",
                "ok": ok,
            }
        )

    def at_least(self, quantity: str, estimate: float, bound: float) -> None:
        """Check ``estimate >= bound`` (a quality floor, e.g. an adjusted Rand index)."""
        self.rows.append(
            {
                "quantity": quantity,
                "estimate": round(float(estimate), 4),
                "truth": round(float(bound), 4),
                "rule": "at least",
                "ok": bool(estimate >= bound),
            }
        )

    def consistent(self, quantity: str, ll_fitted: float, ll_truth: float, df: int, level: float = 0.001) -> None:
        """Check that planted parameters are consistent with the data: a likelihood-ratio test.

        2 × (LL at the estimate − LL at the planted values) is about χ²(df) when the planted values are the truth;
        the check passes below the χ² quantile at ``1 − level``. Unlike one 3-SE band per parameter it respects
        how strongly estimates move together (r and α of BG/NBD, say).
        """
        from scipy.stats import chi2

        stat = 2.0 * (ll_fitted - ll_truth)
        bound = float(chi2.ppf(1 - level, df))
        self.rows.append(
            {
                "quantity": quantity,
                "estimate": round(stat, 2),
                "truth": f"≤ {bound:.2f}",
                "rule": f"LR χ²({df}) at {level:g}",
                "ok": bool(stat <= bound),
            }
        )

    def inside(self, quantity: str, truth: float, low: float, high: float) -> None:
        """Check that ``truth`` lies inside the reported interval ``[low, high]``."""
        ok = bool(low <= truth <= high)
        self.rows.append(
            {
                "quantity": quantity,
                "estimate": f"[{low:.4f}, {high:.4f}]",
                "truth": round(float(truth), 4),
                "rule": "truth inside interval",
                "ok": ok,
            }
        )

    def equal(self, quantity: str, estimate: object, truth: object) -> None:
        """Check exact equality (counts, rankings, labels)."""
        self.rows.append(
            {"quantity": quantity, "estimate": estimate, "truth": truth, "rule": "equal", "ok": bool(estimate == truth)}
        )

    def table(self) -> pd.DataFrame:
        """All checks so far, one row each."""
        return pd.DataFrame(self.rows, columns=["quantity", "estimate", "truth", "rule", "ok"])

    def summary(self) -> str:
        """One line: how many checks passed."""
        t = self.table()
        return f"{int(t['ok'].sum())} of {len(t)} checks against the planted truth pass"

    def report(self) -> None:
        """Print the summary line and, when any check fails, the failing quantities."""
        print(self.summary())
        failed = self.table().query("not ok")
        if len(failed):
            print("failing:", ", ".join(failed["quantity"]))


#: The one sentence every notebook prints when ``data_dir`` has no planted truth (real data).
NO_TRUTH = {
    "zh": "数据目录里没有 truth.json：这是真实数据，没有模拟真值可对照",
    "en": "no truth.json in data_dir: real data, nothing planted to compare with",
}
#: Printed instead when the truth is there but it, or the export, lacks what a section compares.
NOTHING_PLANTED = {
    "zh": "真值文件或导出里缺少本节要对照的数据：不作真值比较",
    "en": "the planted truth or the export lacks what this section compares: nothing to compare",
}
_SKIP = {
    "no_truth": NO_TRUTH,
    "unit": {
        "zh": "时间单位不是天：模拟参数以天为单位，不作比较",
        "en": "unit is not days: the planted parameters are in days, so they are not compared",
    },
}


def skip_reason(truth: dict | None, unit: str = "D", lang: str = "zh") -> str | None:
    """Say why the planted-truth checks of the repurchase models do not run (``None`` when they do).

    >>> skip_reason(None, lang="en")
    'no truth.json in data_dir: real data, nothing planted to compare with'
    >>> skip_reason({"segments": {}}, unit="D") is None
    True
    """
    if truth is None:
        return _SKIP["no_truth"][lang]
    return _SKIP["unit"][lang] if unit != "D" else None


PROCESS_MODELS = {"bgnbd": "BG/NBD", "paretonbd": "Pareto/NBD"}


def planted_process(truth: dict) -> tuple[str, str]:
    """Return the simulator's planted repeat-purchase process: its key and the name of the model that should win.

    >>> planted_process({"segments": {"purchase_process": "paretonbd"}})
    ('paretonbd', 'Pareto/NBD')
    >>> planted_process({"segments": {}})  # samples written before the switch existed
    ('bgnbd', 'BG/NBD')
    """
    key = truth["segments"].get("purchase_process", "bgnbd")
    return key, PROCESS_MODELS[key]


def planted_summary(orders, end: pd.Timestamp, output_dir: str | Path, truth: dict) -> pd.DataFrame:
    """Repurchase summary (days) of the orders the planted process made, with each buyer's planted ``segment``.

    The orders the message test caused (``truth["uplift"]["campaign_id"]``) are left out: they are not part of
    the planted purchase process. ``orders`` is the engine's orders table; the segments come from the run's
    ``truth/truth_users.parquet``.
    """
    from helpers.repurchase import summarize

    natural = orders.filter(orders.campaign_id.isnull() | (orders.campaign_id != truth["uplift"]["campaign_id"]))
    seg = pd.read_parquet(Path(output_dir) / "truth" / "truth_users.parquet").set_index("user_id")["segment"]
    return summarize(natural, end, unit="D").join(seg)


def check_purchase_segments(
    tc: TruthChecks,
    summary: pd.DataFrame,
    segments: dict,
    horizon_days: int = 365,
    margin: float = 1.0,
    annual_discount_rate: float = 0.1,
    n_draws: int = 200,
    level: float = 0.99,
    process: str = "bgnbd",
) -> pd.DataFrame:
    """Check the purchase and value models against the simulator's planted segments, segment by segment.

    Per planted segment with a purchase process (days; ``process`` is ``truth["segments"]["purchase_process"]``,
    BG/NBD or Pareto/NBD): the planted (r, α, a, b) or (r, α, s, β) and (p, q, γ) consistent with the data by
    likelihood-ratio tests at 0.1 %; the mean purchase rate r/α within 15 %, the mean dropout a/(a+b) within
    0.03 (BG/NBD) or the share still alive a year after the first purchase, (β/(β+365))^s, within 0.05
    (Pareto/NBD: its mean lifetime β/(s−1) is heavy-tailed and barely identified by a year of data) and the mean
    value pγ/(q−1) within 10 %; and the segment's lifetime value at the planted parameters
    inside the ``level`` interval of the fitted one (Laplace draws; 99 % by default: with three segments a
    90 % interval would miss one of them in about a quarter of samples by design) — or, where the data do not
    identify a parameter (no interval), the fitted total within 10 % of it.

    Parameters
    ----------
    tc : TruthChecks
        Collects the checks.
    summary : DataFrame
        :func:`helpers.repurchase.summarize` in days, with a ``segment`` column.
    segments : dict
        ``truth["planted"]["segments"]``.
    horizon_days, margin, annual_discount_rate, n_draws, level
        As in :func:`helpers.clv_analysis.clv_intervals`.
    process : {"bgnbd", "paretonbd"}
        The planted purchase process.

    Returns
    -------
    DataFrame
        Per segment: ``total`` (fitted), ``total_lower``, ``total_upper``, ``planted_total``.
    """
    from helpers.clv import BetaGeo, GammaGamma, ParetoNBD, customer_lifetime_value
    from helpers.clv_analysis import clv_intervals

    rows, planted_values = [], []
    model_cls, names = (ParetoNBD, "r, α, s, β") if process == "paretonbd" else (BetaGeo, "r, α, a, b")
    for seg, d in summary.groupby("segment"):
        planted = segments[seg]
        if planted[process] is None:
            continue
        pb, pg = planted[process], planted["gamma_gamma"]
        m, g = model_cls().fit(d), GammaGamma().fit(d)
        tc.consistent(f"{seg}: {m._label} parameters ({names})", m.log_likelihood_, m.log_likelihood(d, pb), 4)
        rate = pb["r"] / pb["alpha"]
        tc.within(f"{seg}: mean rate r/alpha (per day)", m.params_["r"] / m.params_["alpha"], rate, 0.15 * rate)
        if process == "paretonbd":  # share alive a year after the first purchase, E[e^(−365μ)] = (β/(β+365))^s
            alive = (pb["beta"] / (pb["beta"] + 365)) ** pb["s"]
            fit_alive = (m.params_["beta"] / (m.params_["beta"] + 365)) ** m.params_["s"]
            tc.within(f"{seg}: share alive a year after the first purchase", fit_alive, alive, 0.05)
        else:
            drop = pb["a"] / (pb["a"] + pb["b"])
            tc.within(f"{seg}: mean dropout a/(a+b)", m.params_["a"] / (m.params_["a"] + m.params_["b"]), drop, 0.03)
        tc.consistent(f"{seg}: Gamma-Gamma parameters (p, q, γ)", g.log_likelihood_, g.log_likelihood(d, pg), 3)
        value = pg["p"] * pg["gamma"] / (pg["q"] - 1)
        tc.within(f"{seg}: mean purchase value", g.mean_value_, value, 0.10 * value)
        kw = {"horizon_days": horizon_days, "margin": margin, "annual_discount_rate": annual_discount_rate}
        per_customer = customer_lifetime_value(m.with_params(pb), g.with_params(pg), d, **kw)
        planted_values.append(per_customer)
        true = float(per_customer.sum())
        by = pd.Series(seg, index=d.index)
        iv = clv_intervals(m, g, d, by=by, n_draws=n_draws, level=level, **kw).groups.iloc[0]
        if pd.notna(iv["total_lower"]):
            tc.inside(f"{seg}: lifetime value at the planted parameters", true, iv["total_lower"], iv["total_upper"])
        else:
            tc.within(f"{seg}: lifetime value (not identified: no interval)", iv["total"], true, 0.10 * true)
        rows.append({"segment": seg, **iv[["total", "total_lower", "total_upper"]].to_dict(), "planted_total": true})
    out = pd.DataFrame(rows).set_index("segment") if rows else pd.DataFrame()
    # every buyer's lifetime value at the planted parameters of their segment (0 where no process is planted)
    planted = pd.concat(planted_values) if planted_values else pd.Series(dtype=float)
    out.attrs["planted_clv"] = planted.reindex(summary.index).fillna(0.0).rename("planted_clv")
    return out


def check_group_values(
    tc: TruthChecks, planted_clv: pd.Series, estimates: pd.DataFrame, groups: pd.Series, tol: float = 0.10
) -> pd.DataFrame:
    """Compare lifetime value per group (channel, tier) with the planted value of the same customers.

    The planted value of a group is the sum of its buyers' lifetime values at their segments' planted parameters
    (``check_purchase_segments(...).attrs["planted_clv"]``). Each group's estimate must be within ``tol`` of it
    (a check); whether the estimate's interval contains it is reported, not checked: a model fitted per channel
    pools that channel's segments into one process (misspecified), and its interval covers the uncertainty of
    the parameters only, not that.

    Parameters
    ----------
    tc : TruthChecks
        Collects the checks.
    planted_clv : Series
        Planted lifetime value per buyer.
    estimates : DataFrame
        Per group: ``total``, ``total_lower``, ``total_upper``
        (:func:`helpers.clv_analysis.clv_intervals_per_group`).
    groups : Series
        Group per customer (indexed like ``planted_clv``; others are ignored).
    tol : float
        Relative tolerance of the estimate.

    Returns
    -------
    DataFrame
        Per group: the estimate and interval, ``planted_total``, ``relative_error`` and ``inside_interval``.
    """
    planted = planted_clv.groupby(groups.reindex(planted_clv.index)).sum()
    out = estimates[["total", "total_lower", "total_upper"]].join(planted.rename("planted_total"), how="inner")
    out["relative_error"] = out["total"] / out["planted_total"] - 1
    out["inside_interval"] = (out["total_lower"] <= out["planted_total"]) & (out["planted_total"] <= out["total_upper"])
    for group, row in out.iterrows():
        if pd.notna(row["total"]) and row["planted_total"] > 0:
            tc.within(f"{group}: lifetime value", row["total"], row["planted_total"], tol * row["planted_total"])
    return out

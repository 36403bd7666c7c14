"""Using the purchase models: model choice on the holdout, intervals, ranking checks, value models, new contacts.

- :func:`compare_models` fits every purchase model on the calibration period and scores it on the holdout; its
  ``decision`` (winner, runner-up, margin, reason) is data, and :func:`model_choice_sentence` writes the sentence.
- :func:`clv_intervals` / :func:`purchase_intervals`: CLV and expected purchases with intervals from parameter
  uncertainty, per customer and per group; a group's interval is computed draw by draw from the same parameters
  for every customer in it (the joint uncertainty), never by adding customers' intervals.
- :func:`decile_calibration`, :func:`normalized_gini`: whether a CLV ranking sorts customers by what they then
  spent (the checks of Wang, Liu & Miao 2019, Google's *lifetime_value*).
- :class:`SpendRegression`, :func:`compare_value_models`: the value of a future purchase without Gamma-Gamma's
  independence assumption, chosen on the holdout's spend when frequency and value are correlated.
- :func:`new_contact_value`: what a *new* contact from each channel is worth over a horizon — P(first purchase) by
  Kaplan–Meier (young contacts censored, not counted as non-buyers) combined with the channel's repeat model.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from scipy import stats

from helpers.base import FittedModel, cpu_threads, thread_map
from helpers.clv import (
    BetaGeo,
    GammaGamma,
    ModifiedBetaGeo,
    ParetoNBD,
    PurchaseModel,
    _collapse,
    _factorize,
    _unique_rows,
    average_value,
    discounted_purchases,
)
from helpers.stats import row_quantiles

__all__ = [
    "Intervals",
    "ModelComparison",
    "SpendRegression",
    "ValueModelChoice",
    "clv_intervals",
    "clv_intervals_per_group",
    "compare_models",
    "compare_value_models",
    "decile_calibration",
    "default_models",
    "ltv_to_cac",
    "model_choice_sentence",
    "new_contact_value",
    "normalized_gini",
    "parameter_draws",
    "plot_decile_calibration",
    "purchase_intervals",
    "ranking_check",
    "value_choice_sentence",
]


# ------------------------------------------------------------------------------------------ model choice
def default_models() -> dict[str, PurchaseModel]:
    """Return the candidate purchase models for continuous-time data, unfitted, by display name."""
    return {"BG/NBD": BetaGeo(), "MBG/NBD": ModifiedBetaGeo(), "Pareto/NBD": ParetoNBD()}


_LOWER_IS_BETTER = {
    "poisson_deviance": True,
    "rmse_per_customer": True,
    "mae_per_customer": True,
    "abs_total_error_pct": True,
    "aic": True,
    "bic": True,
    "spearman": False,
}


@dataclass
class ModelComparison:
    """Result of :func:`compare_models`.

    Attributes
    ----------
    table : DataFrame
        One row per model: ``fitted``, ``n_params``, ``log_likelihood``, ``aic``, ``bic`` (calibration) and
        ``actual_total``, ``predicted_total``, ``total_error_pct``, ``poisson_deviance`` (mean per customer),
        ``rmse_per_customer``, ``mae_per_customer``, ``spearman`` (holdout), ``note``.
    decision : dict
        ``winner``, ``runner_up``, ``criterion``, ``winner_value``, ``runner_up_value``, ``margin`` (relative
        advantage of the winner on the criterion), ``tie`` (margin below ``tie_tolerance``), ``tie_tolerance``,
        ``bic_difference`` (runner-up − winner), ``reason`` (``best_on_holdout``, ``holdout_tie_lowest_bic``,
        ``only_model_fitted``, ``no_model_fitted``), ``failed`` (models that could not be fitted).
    models : dict
        Name → fitted model (``None`` where fitting failed).
    """

    table: pd.DataFrame
    decision: dict
    models: dict = field(repr=False)

    @property
    def best(self) -> PurchaseModel | None:
        """The winning fitted model (``None`` when nothing could be fitted)."""
        w = self.decision["winner"]
        return self.models.get(w) if w is not None else None


def compare_models(
    summary: pd.DataFrame,
    models: dict[str, PurchaseModel] | None = None,
    criterion: str = "poisson_deviance",
    tie_tolerance: float = 0.01,
) -> ModelComparison:
    """Fit every model on the calibration period and score it on the holdout; pick a winner, as data.

    The winner is the best model on ``criterion`` over the holdout. The default is the mean Poisson deviance
    2·[y·log(y/μ) − (y − μ)] of each customer's predicted (μ) vs actual (y) holdout purchases: a proper score
    for a predicted *mean*, as expected purchases are. The mean absolute error is reported but not the
    default: it is minimised by the median, which for sparse counts is 0, so it rewards models that
    under-predict (on data simulated from BG/NBD it prefers Pareto/NBD). When the runner-up is within
    ``tie_tolerance`` (relative) the holdout cannot tell them apart, and the lower calibration BIC (likelihood
    penalised for parameters) decides. MBG/NBD and Pareto/NBD often tie: on Pareto/NBD data the two fit
    almost equally well.

    Parameters
    ----------
    summary : DataFrame
        A :func:`helpers.repurchase.summarize` table with holdout columns (``calibration_end`` given); without
        them only ``criterion="aic"`` or ``"bic"`` can compare the models (holdout metrics are then NaN).
    models : dict, optional
        Display name → unfitted model (default :func:`default_models`).
    criterion : str
        What "best" means: ``"poisson_deviance"`` (default), ``"rmse_per_customer"``, ``"mae_per_customer"``,
        ``"abs_total_error_pct"``, ``"spearman"`` (holdout) or ``"aic"``, ``"bic"`` (calibration).
    tie_tolerance : float
        Relative margin below which two models tie on the holdout.

    Returns
    -------
    ModelComparison

    Examples
    --------
    >>> from helpers.simulate import paretonbd_summary
    >>> s = paretonbd_summary(3000, r=0.6, alpha=10, s=0.7, beta=12, T=52, seed=1)
    >>> s = s.assign(frequency_holdout=0, duration_holdout=26.0)
    >>> cmp = compare_models(s)
    >>> sorted(cmp.decision)[:4]
    ['bic_difference', 'criterion', 'failed', 'margin']
    """
    if criterion not in _LOWER_IS_BETTER:
        raise ValueError(f"criterion must be one of {sorted(_LOWER_IS_BETTER)}, not {criterion!r}")
    need = {"frequency_holdout", "duration_holdout"}
    has_holdout = need <= set(summary.columns)
    if not has_holdout and criterion not in ("aic", "bic"):
        raise ValueError("compare_models needs holdout columns: summarize(..., calibration_end=...)")
    if not has_holdout:  # no holdout: the models are compared on the calibration criterion only
        summary = summary.assign(frequency_holdout=np.nan, duration_holdout=np.nan)
    models = default_models() if models is None else models
    duration = float(summary["duration_holdout"].iloc[0]) if len(summary) else float("nan")
    actual = summary["frequency_holdout"].to_numpy(float)
    rows, fitted = [], {}
    for name, model in models.items():
        row = {"model": name, "fitted": False, "n_params": model.n_params, "note": ""}
        try:
            m = model.fit(summary)
        except (ValueError, RuntimeError) as err:
            fitted[name] = None
            row["note"] = str(err)
            rows.append(row)
            continue
        fitted[name] = m
        pred = m.expected_purchases(summary, duration).to_numpy() if has_holdout else np.full(len(summary), np.nan)
        err_pct = 100 * (pred.sum() - actual.sum()) / actual.sum() if actual.sum() > 0 else float("nan")
        with np.errstate(divide="ignore", invalid="ignore"):
            mu = np.maximum(pred, 1e-12)
            dev = 2 * (np.where(actual > 0, actual * np.log(actual / mu), 0.0) - (actual - mu))
        row.update(
            fitted=True,
            log_likelihood=m.log_likelihood_,
            aic=m.aic_,
            bic=m.bic_,
            actual_total=float(actual.sum()),
            predicted_total=float(pred.sum()),
            total_error_pct=float(err_pct),
            abs_total_error_pct=float(abs(err_pct)),
            poisson_deviance=float(np.mean(dev)),
            rmse_per_customer=float(np.sqrt(np.mean((pred - actual) ** 2))),
            mae_per_customer=float(np.mean(np.abs(pred - actual))),
            spearman=float(stats.spearmanr(pred, actual).statistic)
            if has_holdout and np.ptp(actual) > 0
            else float("nan"),
            note="; ".join(m.notes_),
        )
        rows.append(row)
    cols = [
        "model",
        "fitted",
        "n_params",
        "log_likelihood",
        "aic",
        "bic",
        "actual_total",
        "predicted_total",
        "total_error_pct",
        "abs_total_error_pct",
        "poisson_deviance",
        "rmse_per_customer",
        "mae_per_customer",
        "spearman",
        "note",
    ]
    table = pd.DataFrame(rows).reindex(columns=cols).set_index("model")
    return ModelComparison(table, _decide(table, criterion, tie_tolerance), fitted)


def _decide(table: pd.DataFrame, criterion: str, tie_tolerance: float) -> dict:
    ok = table[table["fitted"] & table[criterion].notna()]
    failed = [str(i) for i in table.index[~table["fitted"].astype(bool)]]
    base = {
        "winner": None,
        "runner_up": None,
        "criterion": criterion,
        "winner_value": float("nan"),
        "runner_up_value": float("nan"),
        "margin": float("nan"),
        "tie": False,
        "tie_tolerance": tie_tolerance,
        "bic_difference": float("nan"),
        "failed": failed,
    }
    if ok.empty:
        return {**base, "reason": "no_model_fitted"}
    lower = _LOWER_IS_BETTER[criterion]
    order = ok[criterion].sort_values(ascending=lower, kind="stable")
    if len(order) == 1:
        w = order.index[0]
        return {**base, "winner": w, "winner_value": float(order.iloc[0]), "reason": "only_model_fitted"}
    best_v = float(order.iloc[0])

    def rel(v: float) -> float:
        return abs(v - best_v) / max(abs(v), abs(best_v), 1e-300)

    information = criterion in ("aic", "bic")  # differences of an information criterion are absolute, not relative
    tied = [i for i in order.index if rel(float(order[i])) < tie_tolerance] if not information else []
    if information:
        w, ru = order.index[0], order.index[1]
        reason, tie = "lowest_information_criterion", False
    elif len(tied) > 1:
        by_bic = ok.loc[tied, "bic"].sort_values(kind="stable")
        w, ru = by_bic.index[0], by_bic.index[1]
        reason, tie = "holdout_tie_lowest_bic", True
    else:
        w, ru = order.index[0], order.index[1]
        reason, tie = "best_on_holdout", False
    wv, rv = float(ok.loc[w, criterion]), float(ok.loc[ru, criterion])
    margin = (rv - wv) / abs(rv) if lower else (wv - rv) / abs(rv)
    return {
        **base,
        "winner": w,
        "runner_up": ru,
        "winner_value": wv,
        "runner_up_value": rv,
        "margin": float(margin) if rv != 0 else float("nan"),
        "tie": tie,
        "bic_difference": float(ok.loc[ru, "bic"] - ok.loc[w, "bic"]),
        "reason": reason,
    }


_CRITERION_NAMES = {
    "zh": {
        "poisson_deviance": "每位客户留出期购买次数的平均泊松偏差",
        "rmse_per_customer": "每位客户留出期购买次数的均方根误差",
        "mae_per_customer": "每位客户留出期购买次数的平均绝对误差",
        "abs_total_error_pct": "留出期总购买次数的误差",
        "spearman": "留出期排序相关（Spearman）",
        "aic": "校准期 AIC",
        "bic": "校准期 BIC",
    },
    "en": {
        "poisson_deviance": "mean Poisson deviance of each customer's holdout purchases",
        "rmse_per_customer": "root mean squared error of each customer's holdout purchases",
        "mae_per_customer": "mean absolute error of each customer's holdout purchases",
        "abs_total_error_pct": "error of total holdout purchases",
        "spearman": "holdout rank correlation (Spearman)",
        "aic": "calibration AIC",
        "bic": "calibration BIC",
    },
}


def model_choice_sentence(result: ModelComparison, lang: str = "zh") -> str:
    """Write the sentence that names the winning model and why, from :func:`compare_models`' decision.

    Examples
    --------
    >>> d = {"winner": "Pareto/NBD", "runner_up": "BG/NBD", "criterion": "poisson_deviance", "winner_value": 0.50,
    ...      "runner_up_value": 0.52, "margin": 0.03846, "tie": False, "tie_tolerance": 0.01, "bic_difference": 3.0,
    ...      "reason": "best_on_holdout", "failed": []}
    >>> t = pd.DataFrame({"total_error_pct": [-2.0]}, index=["Pareto/NBD"])
    >>> print(model_choice_sentence(ModelComparison(t, d, {}), lang="en"))  # doctest: +NORMALIZE_WHITESPACE
    Pareto/NBD wins on the holdout: mean Poisson deviance of each customer's holdout purchases 0.500 vs 0.520 for
    BG/NBD (3.8% better); total holdout purchases off by -2.0%.
    >>> d.update(reason="holdout_tie_lowest_bic", winner="BG/NBD", runner_up="MBG/NBD", bic_difference=0.0)
    >>> tied = model_choice_sentence(ModelComparison(t.rename(index={"Pareto/NBD": "BG/NBD"}), d, {}), lang="en")
    >>> "cannot be told apart" in tied and "lower" not in tied
    True
    """
    if lang not in _CRITERION_NAMES:
        raise ValueError(f"lang must be 'zh' or 'en', not {lang!r}")
    d = result.decision
    crit = _CRITERION_NAMES[lang][d["criterion"]]
    failed = d.get("failed") or []
    if d["reason"] == "no_model_fitted":
        return "没有一个模型能在校准期拟合。" if lang == "zh" else "No model could be fitted on the calibration period."
    w, ru = d["winner"], d["runner_up"]
    err = result.table.loc[w, "total_error_pct"] if "total_error_pct" in result.table.columns else float("nan")
    if d["reason"] == "only_model_fitted":
        s = (
            f"只有 {w} 能拟合，直接采用（{crit} {d['winner_value']:.3f}）。"
            if lang == "zh"
            else f"Only {w} could be fitted, so it is used ({crit} {d['winner_value']:.3f})."
        )
    elif d["reason"] == "holdout_tie_lowest_bic" and abs(d["bic_difference"]) < 0.05:
        s = (
            f"{w} 与 {ru} 在留出期（{crit} {d['winner_value']:.3f} 对 {d['runner_up_value']:.3f}）和校准期 BIC 上都"
            f"无法区分：它们对这份数据给出同一个拟合（通常是流失参数无法识别），采用排在前面的 {w}。"
            if lang == "zh"
            else f"{w} and {ru} cannot be told apart, neither on the holdout ({crit} {d['winner_value']:.3f} vs "
            f"{d['runner_up_value']:.3f}) nor by calibration BIC: they give the same fit on these data (usually "
            f"because the dropout parameters are not identified), so {w}, listed first, is used."
        )
    elif d["reason"] == "holdout_tie_lowest_bic":
        if lang == "zh":
            s = (
                f"{w} 与 {ru} 在留出期上差距不足 {d['tie_tolerance']:.0%}（{crit} {d['winner_value']:.3f} 对 "
                f"{d['runner_up_value']:.3f}），按校准期 BIC 选择 {w}（低 {d['bic_difference']:.1f}）。"
            )
        else:
            s = (
                f"{w} and {ru} tie on the holdout (within {d['tie_tolerance']:.0%}: {crit} {d['winner_value']:.3f} "
                f"vs {d['runner_up_value']:.3f}); {w} has the lower calibration BIC (by {d['bic_difference']:.1f})."
            )
    elif d["reason"] == "lowest_information_criterion":
        gap = d["runner_up_value"] - d["winner_value"]
        s = (
            f"没有留出期可以检验预测：按{crit}选择 {w}（{d['winner_value']:,.1f}，比次优的 {ru} 低 {gap:,.1f}）。"
            if lang == "zh"
            else f"No holdout to test predictions on: {w} chosen by {crit} ({d['winner_value']:,.1f}, "
            f"{gap:,.1f} below {ru})."
        )
    else:
        if lang == "zh":
            s = (
                f"留出期检验选择 {w}：{crit}为 {d['winner_value']:.3f}，次优的 {ru} 为 {d['runner_up_value']:.3f}"
                f"（好 {d['margin']:.1%}）"
            )
        else:
            s = (
                f"{w} wins on the holdout: {crit} {d['winner_value']:.3f} vs {d['runner_up_value']:.3f} for {ru} "
                f"({d['margin']:.1%} better)"
            )
        if np.isfinite(err):
            s += f"；总购买次数偏差 {err:+.1f}%。" if lang == "zh" else f"; total holdout purchases off by {err:+.1f}%."
        else:
            s += "。" if lang == "zh" else "."
    if failed:
        s += f"未能拟合：{'、'.join(failed)}。" if lang == "zh" else f" Not fitted: {', '.join(failed)}."
    return s


# ------------------------------------------------------------------------------------------------ draws
def parameter_draws(
    model: FittedModel,
    n_draws: int = 300,
    method: str = "laplace",
    summary: pd.DataFrame | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    """Draw parameter sets that express a fitted model's estimation uncertainty.

    ``"laplace"`` (the default) draws the log parameters from the asymptotic normal N(log θ̂, I⁻¹) — the same
    information matrix that gives the standard errors. It costs no refit, so hundreds of draws take
    milliseconds, and with thousands of customers the likelihood in log parameters is close to normal (the
    published CDNOW and donations fits have |θ̂/SE| > 4 everywhere). It cannot be used when a parameter is not
    identified (its standard error is NaN): then the draws raise, and ``"bootstrap"`` is the honest choice.

    ``"bootstrap"`` resamples customers: the summary is collapsed to unique rows and each draw gives them
    multinomial counts (cheap: the fit runs on collapsed rows anyway), then refits from the point estimate. It
    needs ``summary`` and makes no normality assumption, but costs one fit per draw.

    Returns
    -------
    DataFrame
        One row per draw, one column per parameter (the model's units).
    """
    model._check_fitted()
    rng = np.random.default_rng(seed)
    names = list(model.params_)
    theta = np.array([model.params_[k] for k in names])
    if method == "laplace":
        cov = model.log_params_covariance_.loc[names, names].to_numpy()
        if not np.all(np.isfinite(cov)):
            raise ValueError(
                f"{type(model).__name__}: some parameters are not identified (standard error NaN), so the Laplace "
                "approximation has no covariance — use method='bootstrap'"
            )
        z = rng.multivariate_normal(np.log(theta), cov, size=n_draws, method="cholesky")
        return pd.DataFrame(np.exp(z), columns=names)
    if method != "bootstrap":
        raise ValueError(f"method must be 'laplace' or 'bootstrap', not {method!r}")
    if summary is None:
        raise ValueError("method='bootstrap' needs the summary the model was fitted on")
    return _bootstrap_draws([model], summary, n_draws, rng)[0]


def _bootstrap_draws(models: list, summary: pd.DataFrame, n_draws: int, rng: np.random.Generator) -> list:
    """Refit every model on the same multinomial resamples of customers (joint bootstrap)."""
    cols = sorted({c for m in models for c in _model_columns(m)} & set(summary.columns))
    u = _collapse(summary, cols)
    w = u["weight"].to_numpy(float)
    n = int(round(w.sum()))
    out = [[] for _ in models]
    for _ in range(n_draws):
        counts = rng.multinomial(n, w / w.sum())
        sample = u.assign(weight=counts.astype(float))
        sample = sample[sample["weight"] > 0]
        sample.attrs = dict(summary.attrs)
        for i, m in enumerate(models):
            try:
                refit = _refit(m, sample)
                out[i].append([refit.params_[k] for k in m.params_])
            except (ValueError, RuntimeError):
                out[i].append([np.nan] * len(m.params_))
    return [pd.DataFrame(o, columns=list(m.params_)) for o, m in zip(out, models, strict=True)]


def _model_columns(model) -> tuple[str, ...]:
    if isinstance(model, GammaGamma):
        return ("frequency", "monetary_value")
    return tuple(getattr(model, "_columns", ()))


def _refit(model, sample: pd.DataFrame):
    clone = type(model)(**model._hyperparameters())
    if isinstance(model, PurchaseModel):
        return clone.fit(sample, unit=getattr(model, "unit_", None), start=model.params_)
    return clone.fit(sample)


@dataclass
class Intervals:
    """Point estimates with intervals from parameter uncertainty (:func:`clv_intervals`, :func:`purchase_intervals`).

    Attributes
    ----------
    customers : DataFrame
        Per customer (summary index): ``estimate`` (at the fitted parameters), ``lower``, ``upper``.
    groups : DataFrame or None
        Per group: ``customers``, ``total``, ``total_lower``, ``total_upper``, ``mean``, ``mean_lower``,
        ``mean_upper`` — each draw sums the group with the same parameters for every customer in it.
    method : str
        ``"laplace"`` or ``"bootstrap"``.
    n_draws : int
        Parameter draws used.
    level : float
        Coverage of the intervals (e.g. 0.9 → 5th and 95th percentiles of the draws).
    notes : list of str
        What the intervals leave out or could not compute.
    draws : _PairDraws or None
        The draws once per distinct (purchase, value) history and each customer's history, for :meth:`group`.
    """

    customers: pd.DataFrame
    groups: pd.DataFrame | None
    method: str
    n_draws: int
    level: float
    notes: list = field(default_factory=list)
    draws: _PairDraws | None = field(default=None, repr=False)

    def group(self, by: pd.Series) -> pd.DataFrame:
        """Return the group table for another grouping of the same customers (no new draws).

        Parameters
        ----------
        by : Series
            Group label per customer, on the same index as ``customers``.

        Returns
        -------
        DataFrame
            As ``groups``.
        """
        labels = by.reindex(self.customers.index) if isinstance(by, pd.Series) else pd.Series(by, self.customers.index)
        lo_q, hi_q = (1 - self.level) / 2, 1 - (1 - self.level) / 2
        return _group_table(labels, self.customers["estimate"].to_numpy(), self.draws, lo_q, hi_q)


def _draw_sets(model, value_model, summary, method, n_draws, seed) -> tuple[list, list, list[str]]:
    """Parameter draws for the purchase model and, if it has parameters, the value model."""
    notes: list[str] = []
    rng = np.random.default_rng(seed)
    has_value_params = isinstance(value_model, GammaGamma)
    if value_model is not None and not has_value_params:
        notes.append(
            "the value model has no parameter draws (a regression, a Series or a number): only the purchase "
            "model's uncertainty is in the intervals"
        )
    if method == "laplace":
        pm = parameter_draws(model, n_draws, "laplace", seed=int(rng.integers(2**31)))
        vm = (
            parameter_draws(value_model, n_draws, "laplace", seed=int(rng.integers(2**31)))
            if has_value_params
            else None
        )
    elif method == "bootstrap":
        ms = [model, value_model] if has_value_params else [model]
        draws = _bootstrap_draws(ms, summary, n_draws, rng)
        pm, vm = draws[0], (draws[1] if has_value_params else None)
        bad = pm.isna().any(axis=1) | (vm.isna().any(axis=1) if vm is not None else False)
        if bad.any():
            notes.append(f"{int(bad.sum())} of {n_draws} bootstrap refits failed and were dropped")
            pm = pm[~bad].reset_index(drop=True)
            vm = vm[~bad].reset_index(drop=True) if vm is not None else None
    else:
        raise ValueError(f"method must be 'laplace' or 'bootstrap', not {method!r}")
    p_list = [model.with_params(r) for r in pm.to_dict("records")]
    v_list = [value_model.with_params(r) for r in vm.to_dict("records")] if vm is not None else None
    return p_list, v_list, notes


def _intervals(
    purchase_fn,
    model,
    value_model,
    summary: pd.DataFrame,
    by,
    method: str,
    n_draws: int,
    level: float,
    seed: int,
    scale: float = 1.0,
) -> Intervals:
    """Per-customer ``purchase_fn(model, rows) × value`` at the estimate and at every parameter draw.

    Predictions depend only on a customer's purchase history (the model's columns) and value history
    (frequency, average value and the value model's features), so the draws are computed once per distinct
    *pair* of histories and kept as a (pairs × draws) matrix with every customer's pair code: at 1 M
    customers that is a few hundred thousand rows instead of a million, and the customer intervals and group
    totals come from it without ever expanding the draws to one row per customer.
    """
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), not {level}")
    up, inv_p = _unique_rows(summary, list(model._columns))
    # value histories: distinct rows of the value model's inputs; a Series or a number is its own value
    inv_v, v_rows, v_given = np.zeros(len(summary), dtype=np.intp), None, np.ones(1)
    if isinstance(value_model, pd.Series):
        inv_v, v_given = pd.factorize(value_model.reindex(summary.index).to_numpy(float), use_na_sentinel=False)
    elif isinstance(value_model, float | int):
        v_given = np.array([float(value_model)])
    elif value_model is not None:
        vcols = list(dict.fromkeys(["frequency", "monetary_value", *getattr(value_model, "features_", [])]))
        v_rows, inv_v = _unique_rows(summary, vcols)
    pairs, pair = _factorize([inv_p, inv_v])
    p_of, v_of = pairs[:, 0].astype(np.intp), pairs[:, 1].astype(np.intp)

    def value_of(v) -> np.ndarray:
        return (average_value(v, v_rows) if v_rows is not None else np.asarray(v_given, float))[v_of]

    def predict(m, values: np.ndarray) -> np.ndarray:
        return purchase_fn(m, up)[p_of] * values * scale

    v_hat = value_of(value_model)  # at the fitted value model (a regression predicts once, not twice)
    estimate = predict(model, v_hat)
    lo_q, hi_q = (1 - level) / 2, 1 - (1 - level) / 2
    groups = _group_labels(summary, by)
    try:
        p_list, v_list, notes = _draw_sets(model, value_model, summary, method, n_draws, seed)
    except ValueError as err:
        nan = np.full(len(summary), np.nan)
        cust = pd.DataFrame({"estimate": estimate[pair], "lower": nan, "upper": nan}, index=summary.index)
        g = _group_table(groups, estimate[pair], None, lo_q, hi_q) if groups is not None else None
        return Intervals(cust, g, method, 0, level, [f"no intervals: {err}"])
    fixed = v_hat * scale if v_list is None else None  # a value model without draws: once

    def draw(i: int, p) -> np.ndarray:
        if fixed is not None:
            return purchase_fn(p, up)[p_of] * fixed
        return predict(p, value_of(v_list[i]))

    # one column per draw, each written in place: no list of columns stacked into a second copy (at 1 M buyers the
    # matrix is 2.4 GB), and the per-row quantiles of a column-major matrix take half the time of a row-major one
    draws = np.empty((len(pairs), len(p_list)), order="F")

    def fill(i: int, p) -> None:
        draws[:, i] = draw(i, p)

    thread_map(fill, range(len(p_list)), p_list)
    lower, upper = row_quantiles(draws, [lo_q, hi_q])  # = np.quantile(draws, …, axis=1), a third of the time
    cust = pd.DataFrame({"estimate": estimate[pair], "lower": lower[pair], "upper": upper[pair]}, index=summary.index)
    d = _PairDraws(draws, pair)
    g = _group_table(groups, cust["estimate"].to_numpy(), d, lo_q, hi_q) if groups is not None else None
    notes.append(
        "intervals express parameter uncertainty of expected values; a customer's realised value also varies "
        "with the purchase process itself"
    )
    return Intervals(cust, g, method, draws.shape[1], level, notes, d)


#: Largest (pairs × groups) block of member counts :meth:`_PairDraws.totals` builds at once (8 bytes each).
_TOTALS_BLOCK = 16_000_000


@dataclass
class _PairDraws:
    """Parameter draws per distinct pair of histories (``values``: pairs × draws) and each customer's pair."""

    values: np.ndarray
    pair: np.ndarray

    def totals(self, codes: np.ndarray, n_groups: int) -> np.ndarray:
        """Sum the draws over the customers of each group (``codes``: group per customer, −1 = none).

        Returns
        -------
        ndarray
            (n_groups × draws): one total per draw, the same parameters for every member.
        """
        keep = codes >= 0
        pair, code = self.pair[keep], codes[keep]
        n_pairs = len(self.values)
        out = np.empty((n_groups, self.values.shape[1]))
        # members per (pair, group) as a dense block, and one matrix product with the draws' transpose (a C-ordered
        # view of the column-major draws, so no copy): 5–8× faster than a sparse product at 1 M buyers; groups in
        # blocks so that the block stays under about 128 MB
        step = max(1, _TOTALS_BLOCK // max(n_pairs, 1))
        for lo in range(0, n_groups, step):
            hi = min(lo + step, n_groups)
            sel = (code >= lo) & (code < hi)
            w = np.bincount(pair[sel] * (hi - lo) + (code[sel] - lo), minlength=n_pairs * (hi - lo))
            out[lo:hi] = (self.values.T @ w.reshape(n_pairs, hi - lo).astype(float)).T
        return out


def _group_labels(summary: pd.DataFrame, by) -> pd.Series | None:
    if by is None:
        return None
    if isinstance(by, str):
        return summary[by]
    return pd.Series(by, index=summary.index) if not isinstance(by, pd.Series) else by.reindex(summary.index)


def _group_table(groups: pd.Series, estimate: np.ndarray, draws, lo_q: float, hi_q: float) -> pd.DataFrame:
    codes, labels = pd.factorize(groups, sort=True)
    totals = draws.totals(codes, len(labels)) if draws is not None else None
    rows = []
    for k, label in enumerate(labels):
        members = codes == k
        row = {"group": label, "customers": int(members.sum()), "total": float(estimate[members].sum())}
        if totals is not None:
            row["total_lower"], row["total_upper"] = np.quantile(totals[k], [lo_q, hi_q])
        else:
            row["total_lower"] = row["total_upper"] = float("nan")
        rows.append(row)
    out = pd.DataFrame(rows).set_index("group")
    for c in ("total", "total_lower", "total_upper"):
        out[c.replace("total", "mean")] = out[c] / out["customers"]
    return out


def purchase_intervals(
    model: PurchaseModel,
    summary: pd.DataFrame,
    t: float,
    by: str | pd.Series | None = None,
    method: str = "laplace",
    n_draws: int = 300,
    level: float = 0.9,
    seed: int = 0,
) -> Intervals:
    """Predict expected purchases in the next ``t`` (model units) with intervals, per customer and per group.

    Parameters
    ----------
    model : PurchaseModel
        Fitted purchase model.
    summary : DataFrame
        Customers to predict for.
    t : float
        Horizon in the model's time unit.
    by : str or Series, optional
        Group label per customer (a column of ``summary`` or a Series on its index), e.g. tier or channel.
    method : {"laplace", "bootstrap"}
        See :func:`parameter_draws` (Laplace by default: no refits, and the fit's own information matrix).
    n_draws, level, seed
        Number of parameter draws, interval coverage, random seed.

    Returns
    -------
    Intervals
    """

    def purchases(m, rows):
        return m.expected_purchases(rows, t).to_numpy()

    return _intervals(purchases, model, None, summary, by, method, n_draws, level, seed)


def clv_intervals(
    model: PurchaseModel,
    value_model,
    summary: pd.DataFrame,
    by: str | pd.Series | None = None,
    horizon_days: float = 365,
    step_days: float = 30,
    margin: float = 1.0,
    annual_discount_rate: float = 0.1,
    method: str = "laplace",
    n_draws: int = 300,
    level: float = 0.9,
    seed: int = 0,
) -> Intervals:
    """CLV (as :func:`helpers.clv.customer_lifetime_value`) with intervals, per customer and per group.

    Each draw takes one parameter set of the purchase model and (for Gamma-Gamma) one of the value model, and
    computes every customer's CLV with them; a group's total in that draw is the sum over its members, so
    the group interval carries the joint uncertainty (customers' errors are not independent: they share the
    parameters). Laplace by default — see :func:`parameter_draws` for why and when to bootstrap instead.

    Returns
    -------
    Intervals
        ``customers`` (estimate / lower / upper CLV) and ``groups`` (total and mean CLV per group).

    Examples
    --------
    >>> from helpers.simulate import bgnbd_summary
    >>> s = bgnbd_summary(4000, r=0.5, alpha=10, a=0.8, b=2.5, T=52, seed=1).assign(monetary_value=25.0)
    >>> s.attrs["unit"] = "W"
    >>> iv = clv_intervals(BetaGeo().fit(s), 25.0, s, by=s["frequency"].clip(upper=1), n_draws=100)
    >>> g = iv.groups
    >>> bool(((g["total_lower"] < g["total"]) & (g["total"] < g["total_upper"])).all())
    True
    """

    def purchases(m, rows):
        return discounted_purchases(m, rows, horizon_days, step_days, annual_discount_rate, collapse=False)

    return _intervals(purchases, model, value_model, summary, by, method, n_draws, level, seed, scale=margin)


def clv_intervals_per_group(
    model: PurchaseModel,
    value_model,
    summary: pd.DataFrame,
    by: str | pd.Series,
    min_customers: int = 200,
    report_by: str | pd.Series | None = None,
    **kwargs,
) -> pd.DataFrame:
    """CLV per group from models fitted **separately in each group**, with intervals.

    :func:`clv_intervals` with ``by`` splits the predictions of one pooled fit; when groups differ in their
    purchase process (tiers planted as different segments, channels with different repeat behaviour) a pooled
    model smooths the difference away and its narrow interval does not cover the group's own process. Here each
    group of ``by`` gets its own purchase model and (if ``value_model`` is a Gamma-Gamma template) its own
    value model.

    With ``report_by`` the totals are reported for another grouping (e.g. fit per tier, report per channel):
    draw k of every fitted group is summed over the customers of each report group, so the interval keeps the
    joint uncertainty of each fit (fits of different groups are independent, so their draws combine freely).

    Parameters
    ----------
    model : PurchaseModel
        Template (its class and hyperparameters are used).
    value_model : GammaGamma, SpendRegression, Series or number
        A Gamma-Gamma template is refitted per group; a fitted regression, a Series or a number is used as is.
    summary : DataFrame
        All customers.
    by : str or Series
        Group label per customer: one fit per group.
    min_customers : int
        Smaller groups are not fitted: NaN and a note (with ``report_by``: their customers are left out of the
        totals and counted in ``customers_not_fitted``).
    report_by : str or Series, optional
        Grouping of the reported totals (default: ``by``).
    **kwargs
        Passed to :func:`clv_intervals` (horizon_days, margin, method, n_draws, level, …).

    Returns
    -------
    DataFrame
        Per group: ``customers``, ``total``, ``total_lower``, ``total_upper``, ``mean``, ``mean_lower``,
        ``mean_upper``, ``model`` and ``note`` (with ``report_by``: also ``customers_not_fitted``).
    """
    labels = _group_labels(summary, by)
    rows, fits = [], {}
    for label, idx in labels.groupby(labels, sort=True).groups.items():
        sub = summary.loc[idx]
        row = {"group": label, "customers": len(sub), "model": getattr(model, "_label", type(model).__name__)}
        try:
            if len(sub) < min_customers:
                raise ValueError(f"{len(sub)} customers < {min_customers}: not fitted")
            m = type(model)(**model._hyperparameters()).fit(sub, unit=summary.attrs.get("unit"))
            v = value_model
            if isinstance(value_model, GammaGamma):  # other value models are applied as given
                v = type(value_model)(**value_model._hyperparameters()).fit(sub)
            iv = clv_intervals(m, v, sub, by=pd.Series(label, index=sub.index), **kwargs)
            row.update(iv.groups.iloc[0].drop("customers").to_dict())
            row["note"] = "; ".join([*m.notes_, *(n for n in iv.notes if n.startswith("no intervals"))])
            fits[label] = iv
        except (ValueError, RuntimeError) as err:
            row["note"] = str(err)
        rows.append(row)
    cols = ["customers", "total", "total_lower", "total_upper", "mean", "mean_lower", "mean_upper", "model", "note"]
    table = pd.DataFrame(rows).set_index("group").reindex(columns=cols)
    if report_by is None:
        return table
    return _report_per_group(summary, labels, fits, table, _group_labels(summary, report_by), kwargs.get("level", 0.9))


def _report_per_group(summary, labels, fits: dict, table: pd.DataFrame, report: pd.Series, level: float):
    pos = pd.Series(np.arange(len(summary)), index=summary.index)
    codes, names = pd.factorize(report, sort=True)
    estimate = np.full(len(summary), np.nan)
    n_d = {iv.n_draws for iv in fits.values() if iv.draws is not None}
    totals = np.zeros((len(names), n_d.pop())) if len(n_d) == 1 else None
    for iv in fits.values():
        rows = pos.reindex(iv.customers.index).to_numpy()
        estimate[rows] = iv.customers["estimate"].to_numpy()
        if totals is not None and iv.draws is not None:  # draw k of every fit summed per report group
            totals += iv.draws.totals(codes[rows], len(names))
        elif totals is not None:  # a fit without draws: no interval for the report groups it reaches
            totals[np.unique(codes[rows][codes[rows] >= 0])] = np.nan
    fitted = np.isfinite(estimate)
    lo_q, hi_q = (1 - level) / 2, 1 - (1 - level) / 2
    out = []
    unfitted = sorted({str(g) for g in table.index[table["total"].isna()]})
    for k, name in enumerate(names):
        members = (codes == k) & fitted
        row = {
            "group": name,
            "customers": int(members.sum()),
            "customers_not_fitted": int(((codes == k) & ~fitted).sum()),
        }
        row["total"] = float(estimate[members].sum())
        ok = totals is not None and np.isfinite(totals[k]).all()
        row["total_lower"], row["total_upper"] = np.quantile(totals[k], [lo_q, hi_q]) if ok else (np.nan, np.nan)
        notes = []
        if row["customers_not_fitted"]:
            notes.append(
                f"{row['customers_not_fitted']} customers in groups not fitted ({', '.join(unfitted)}) left out"
            )
        if not ok:
            notes.append("no interval: a group's fit has no parameter draws")
        row["note"] = "; ".join(notes)
        out.append(row)
    res = pd.DataFrame(out).set_index("group")
    for c in ("total", "total_lower", "total_upper"):
        res[c.replace("total", "mean")] = res[c] / res["customers"].where(res["customers"] > 0)
    res["model"] = table["model"].iloc[0] if len(table) else ""
    cols = [
        "customers",
        "customers_not_fitted",
        "total",
        "total_lower",
        "total_upper",
        "mean",
        "mean_lower",
        "mean_upper",
        "model",
        "note",
    ]
    return res[cols]


# ----------------------------------------------------------------------------------------- ranking checks
def decile_calibration(predicted, actual, n_bins: int = 10) -> pd.DataFrame:
    """Mean predicted vs mean realised value per predicted decile (decile 1 = highest predictions).

    Ties in the prediction are broken by order of appearance, so every bin has the same number of customers
    (± 1).

    Returns
    -------
    DataFrame
        Index ``decile``; ``customers``, ``predicted_mean``, ``actual_mean``, ``predicted_total``,
        ``actual_total``, ``actual_share`` (of all realised value).
    """
    p = np.asarray(predicted, float)
    a = np.asarray(actual, float)
    order = np.argsort(-p, kind="stable")
    rank = np.empty(len(p), int)
    rank[order] = np.arange(len(p))
    dec = (rank * n_bins // max(len(p), 1)) + 1
    df = pd.DataFrame({"decile": dec, "p": p, "a": a})
    g = df.groupby("decile").agg(
        customers=("p", "size"),
        predicted_mean=("p", "mean"),
        actual_mean=("a", "mean"),
        predicted_total=("p", "sum"),
        actual_total=("a", "sum"),
    )
    g["actual_share"] = g["actual_total"] / a.sum() if a.sum() > 0 else np.nan
    return g


def normalized_gini(predicted, actual) -> float:
    """Gini of the realised value ordered by the prediction, divided by the Gini of the perfect ordering.

    1 means the prediction ranks customers exactly as their realised value does; 0 is a random ranking. Tied
    predictions share their realised value evenly (a constant prediction scores 0). NaN when nothing was
    realised.

    Examples
    --------
    >>> normalized_gini([3, 2, 1, 0], [10, 5, 0, 0])
    1.0
    >>> normalized_gini([1, 1, 1, 1], [10, 5, 0, 0])
    0.0
    """
    p = np.asarray(predicted, float)
    a = np.asarray(actual, float)
    if len(a) == 0 or a.sum() <= 0:
        return float("nan")

    def gini(score: np.ndarray) -> float:
        # average the realised value within tied scores, then the area between the gains curve and the diagonal
        df = pd.DataFrame({"s": score, "a": a})
        tie_mean = df.groupby("s")["a"].transform("mean").to_numpy()
        vals = tie_mean[np.argsort(-score, kind="stable")]
        cum = np.cumsum(vals) / vals.sum()
        n = len(vals)
        return float(np.sum(cum - np.arange(1, n + 1) / n) / n)

    g_best = gini(a)
    return gini(p) / g_best if g_best > 0 else float("nan")


def ranking_check(model: PurchaseModel, value_model, summary: pd.DataFrame, n_bins: int = 10) -> dict:
    """Decile calibration and normalised Gini of predicted vs realised holdout value.

    Predicted holdout value = E[holdout purchases | calibration history] × E[value of a purchase] (both models
    fitted on the calibration period); realised = ``frequency_holdout × monetary_value_holdout``.

    Returns
    -------
    dict
        ``deciles`` (:func:`decile_calibration`), ``normalized_gini``, ``predicted_total``, ``actual_total``.
    """
    if not {"frequency_holdout", "monetary_value_holdout", "duration_holdout"} <= set(summary.columns):
        raise ValueError("ranking_check needs holdout columns: summarize(..., calibration_end=...)")
    pred = model.expected_purchases(summary, float(summary["duration_holdout"].iloc[0])).to_numpy()
    pred = pred * average_value(value_model, summary)
    actual = (summary["frequency_holdout"] * summary["monetary_value_holdout"]).to_numpy(float)
    return {
        "deciles": decile_calibration(pred, actual, n_bins),
        "normalized_gini": normalized_gini(pred, actual),
        "predicted_total": float(pred.sum()),
        "actual_total": float(actual.sum()),
    }


_DECILE_LABELS = {
    "zh": {
        "pred": "预测均值",
        "act": "实际均值",
        "x": "预测十分位（1 = 预测最高）",
        "y": "留出期价值均值",
        "title": "CLV 十分位校准",
    },
    "en": {
        "pred": "predicted mean",
        "act": "actual mean",
        "x": "predicted decile (1 = highest)",
        "y": "mean holdout value",
        "title": "CLV decile calibration",
    },
}


def plot_decile_calibration(table: pd.DataFrame, ax: plt.Axes | None = None, lang: str = "zh") -> plt.Axes:
    """Bars of predicted and realised mean value per predicted decile (from :func:`decile_calibration`).

    Parameters
    ----------
    table : DataFrame
        Output of :func:`decile_calibration`.
    ax : Axes, optional
        Where to draw.
    lang : {"zh", "en"}
        Language of the labels.

    Returns
    -------
    Axes
        The axes drawn on.
    """
    lab = _DECILE_LABELS[lang]
    if ax is None:
        _, ax = plt.subplots()
    x = np.arange(len(table))
    ax.bar(x - 0.2, table["predicted_mean"], width=0.4, label=lab["pred"])
    ax.bar(x + 0.2, table["actual_mean"], width=0.4, label=lab["act"])
    ax.set_xticks(x, [str(i) for i in table.index])
    ax.set_xlabel(lab["x"])
    ax.set_ylabel(lab["y"])
    ax.set_title(lab["title"])
    ax.legend()
    return ax


# ---------------------------------------------------------------------------------------------- value
class SpendRegression(FittedModel):
    """Value of a customer's next purchases from their history, without assuming value ⟂ frequency.

    Gamma-Gamma shrinks each customer's average value toward one population mean and assumes the value of a
    purchase is independent of how often the customer buys. When the two are correlated (frequent buyers
    spend more per order, or less), this model learns E[value of a future purchase | frequency, average value,
    recency, age] directly: a gradient-boosted regression with Gamma deviance (scikit-learn's
    ``HistGradientBoostingRegressor``), trained on the holdout purchases of a calibration / holdout summary
    (target: a customer's mean holdout purchase value, weighted by the holdout purchases). Use it wherever a
    Gamma-Gamma model goes (:func:`helpers.clv.customer_lifetime_value`, :func:`clv_intervals`).

    Parameters
    ----------
    max_iter, learning_rate, min_samples_leaf, random_state
        Passed to ``HistGradientBoostingRegressor`` (small, regularised defaults: few hundred buyers suffice).
    n_threads : int, optional
        OpenMP threads while fitting and predicting (``None``: every core). Default 1: see
        :func:`helpers.base.cpu_threads` for what more threads cost on a shared machine.

    Attributes
    ----------
    params_ : dict
        ``mean_value`` (weighted mean target) and ``train_purchases``.
    estimator_ : HistGradientBoostingRegressor
        The fitted regression.
    features_ : list of str
        Summary columns it reads.
    n_customers_ : int
        Holdout buyers it was trained on.
    notes_ : list of str
        What to know about the fit.
    """

    features_ = ["frequency", "recency", "T", "monetary_value"]

    def __init__(
        self,
        max_iter: int = 150,
        learning_rate: float = 0.05,
        min_samples_leaf: int = 40,
        random_state: int = 0,
        n_threads: int | None = 1,
    ) -> None:
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.min_samples_leaf = min_samples_leaf
        self.random_state = random_state
        self.n_threads = n_threads

    @staticmethod
    def _X(summary: pd.DataFrame) -> np.ndarray:
        x = summary["frequency"].to_numpy(float)
        T = summary["T"].to_numpy(float)
        rec = summary["recency"].to_numpy(float)
        m = summary["monetary_value"].to_numpy(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            share = np.where(T > 0, rec / T, 0.0)
        return np.column_stack([np.log1p(x), np.log1p(np.maximum(m, 0)), share, np.log1p(T), (x > 0).astype(float)])

    def fit(self, summary: pd.DataFrame) -> SpendRegression:
        """Train on a summary with holdout columns (``frequency_holdout``, ``monetary_value_holdout``)."""
        from sklearn.ensemble import HistGradientBoostingRegressor

        if not {"frequency_holdout", "monetary_value_holdout"} <= set(summary.columns):
            raise ValueError("SpendRegression trains on holdout purchases: summarize(..., calibration_end=...)")
        train = summary[(summary["frequency_holdout"] > 0) & (summary["monetary_value_holdout"] > 0)]
        if len(train) < 2 * self.min_samples_leaf:
            raise ValueError(
                f"SpendRegression needs at least {2 * self.min_samples_leaf} holdout buyers; got {len(train)}"
            )
        y = train["monetary_value_holdout"].to_numpy(float)
        w = train["frequency_holdout"].to_numpy(float)
        self.estimator_ = HistGradientBoostingRegressor(
            loss="gamma",
            max_iter=self.max_iter,
            learning_rate=self.learning_rate,
            min_samples_leaf=self.min_samples_leaf,
            early_stopping=False,
            random_state=self.random_state,
        )
        with cpu_threads(self.n_threads):
            self.estimator_.fit(self._X(train), y, sample_weight=w)
        self.params_ = {"mean_value": float(np.average(y, weights=w)), "train_purchases": float(w.sum())}
        self.n_customers_ = len(train)
        self.log_likelihood_ = float("nan")
        self.standard_errors_ = {"mean_value": float("nan"), "train_purchases": float("nan")}
        self.notes_ = ["trained on calibration history → holdout purchase values; no parameter uncertainty"]
        return self

    def expected_average_value(self, summary: pd.DataFrame) -> pd.Series:
        """Predict E[value of a future purchase | history] per customer."""
        self._check_fitted()
        with cpu_threads(self.n_threads):
            v = self.estimator_.predict(self._X(summary)) if len(summary) else np.zeros(0)
        return pd.Series(v, index=summary.index, name="expected_average_value")


@dataclass
class ValueModelChoice:
    """Result of :func:`compare_value_models`.

    Attributes
    ----------
    table : DataFrame
        Per value model (``gamma_gamma``, ``spend_regression``): ``actual_total``, ``predicted_total``,
        ``total_error_pct``, ``mae_per_customer``, ``spearman`` on the holdout's spend, and ``note``.
    decision : dict
        ``use`` (``"gamma_gamma"`` or ``"spend_regression"``; ``None`` if neither could be fitted),
        ``reason`` (a code, see :func:`compare_value_models`), ``correlation``, ``threshold``,
        ``mae_gamma_gamma``, ``mae_spend_regression``, ``improvement`` (relative MAE reduction of the
        regression).
    models : dict
        ``gamma_gamma`` (fitted on the calibration period) and ``spend_regression`` (fitted on every holdout
        buyer, to apply to a summary of all history).
    holdout : DataFrame
        Per customer: ``actual`` holdout spend and each value model's predicted holdout spend (the regression's
        cross-fitted, so a ranking check on it is honest), for :func:`decile_calibration` /
        :func:`normalized_gini`.
    """

    table: pd.DataFrame
    decision: dict
    models: dict = field(repr=False)
    holdout: pd.DataFrame | None = field(default=None, repr=False)

    @property
    def value_model(self):
        """The chosen fitted value model (``None`` when neither could be fitted)."""
        return self.models.get(self.decision["use"]) if self.decision["use"] else None


def compare_value_models(
    summary: pd.DataFrame,
    purchase_model: PurchaseModel | None = None,
    threshold: float = 0.3,
    n_folds: int = 5,
    seed: int = 0,
) -> ValueModelChoice:
    """Check Gamma-Gamma's independence assumption and compare it with :class:`SpendRegression` on holdout spend.

    Both value models are multiplied by the same purchase model's expected holdout purchases, so only the value
    part differs. Gamma-Gamma is fitted on the calibration period only; the regression learns from holdout
    purchases, so its holdout predictions are cross-fitted (``n_folds`` folds of customers: each customer is
    predicted by a model that never saw them).

    Decision rule (``decision["reason"]``):

    - ``independence_holds``: |corr(frequency, average value)| ≤ ``threshold`` among repeat buyers → Gamma-Gamma.
    - ``dependence_and_regression_better_on_holdout``: the correlation exceeds the threshold and the regression
      has the lower holdout MAE → regression.
    - ``dependence_but_regression_not_better_on_holdout``: it exceeds the threshold, but the regression does not
      predict the holdout spend better → Gamma-Gamma, with the caveat.
    - ``correlation_not_measured`` (fewer than 3 repeat buyers), ``gamma_gamma_not_fitted``,
      ``regression_not_fitted``, ``nothing_fitted``.

    Parameters
    ----------
    summary : DataFrame
        Summary with holdout columns.
    purchase_model : PurchaseModel, optional
        Fitted on this summary's calibration period (default: a BG/NBD fitted here).
    threshold : float
        Largest |correlation| Gamma-Gamma is trusted with.
    n_folds : int
        Folds for the cross-fitted regression predictions.
    seed : int
        Seed of the fold assignment.

    Returns
    -------
    ValueModelChoice
    """
    if not {"frequency_holdout", "monetary_value_holdout", "duration_holdout"} <= set(summary.columns):
        raise ValueError("compare_value_models needs holdout columns: summarize(..., calibration_end=...)")
    pm = purchase_model if purchase_model is not None else BetaGeo().fit(summary)
    duration = float(summary["duration_holdout"].iloc[0])
    e_h = pm.expected_purchases(summary, duration).to_numpy()
    actual = (summary["frequency_holdout"] * summary["monetary_value_holdout"]).to_numpy(float)
    rho = GammaGamma.frequency_monetary_correlation(summary)
    rows, models = [], {}
    holdout = pd.DataFrame({"actual": actual}, index=summary.index)
    try:
        gg = GammaGamma().fit(summary)
        models["gamma_gamma"] = gg
        holdout["gamma_gamma"] = e_h * gg.expected_average_value(summary).to_numpy()
        rows.append(_spend_row("gamma_gamma", holdout["gamma_gamma"].to_numpy(), actual, ""))
    except (ValueError, RuntimeError) as err:
        models["gamma_gamma"] = None
        rows.append({"model": "gamma_gamma", "note": str(err)})
    try:
        v = _cross_fitted_values(summary, n_folds, seed)
        models["spend_regression"] = SpendRegression().fit(summary)
        holdout["spend_regression"] = e_h * v
        rows.append(_spend_row("spend_regression", e_h * v, actual, f"cross-fitted, {n_folds} folds"))
    except ValueError as err:
        models["spend_regression"] = None
        rows.append({"model": "spend_regression", "note": str(err)})
    cols = ["actual_total", "predicted_total", "total_error_pct", "mae_per_customer", "spearman", "note"]
    table = pd.DataFrame(rows).set_index("model").reindex(columns=cols)
    mae_gg = table.loc["gamma_gamma", "mae_per_customer"]
    mae_sr = table.loc["spend_regression", "mae_per_customer"]
    gg_ok, sr_ok = models["gamma_gamma"] is not None, models["spend_regression"] is not None
    if not gg_ok and not sr_ok:
        use, reason = None, "nothing_fitted"
    elif not np.isfinite(rho):
        use, reason = ("gamma_gamma" if gg_ok else "spend_regression"), "correlation_not_measured"
    elif not gg_ok:
        use, reason = "spend_regression", "gamma_gamma_not_fitted"
    elif abs(rho) <= threshold:
        use, reason = "gamma_gamma", "independence_holds"
    elif not sr_ok:
        use, reason = "gamma_gamma", "regression_not_fitted"
    elif mae_sr < mae_gg:
        use, reason = "spend_regression", "dependence_and_regression_better_on_holdout"
    else:
        use, reason = "gamma_gamma", "dependence_but_regression_not_better_on_holdout"
    improvement = (mae_gg - mae_sr) / mae_gg if gg_ok and sr_ok and mae_gg > 0 else float("nan")
    decision = {
        "use": use,
        "reason": reason,
        "correlation": float(rho),
        "threshold": threshold,
        "mae_gamma_gamma": float(mae_gg) if gg_ok else float("nan"),
        "mae_spend_regression": float(mae_sr) if sr_ok else float("nan"),
        "improvement": float(improvement),
    }
    return ValueModelChoice(table, decision, models, holdout)


def _spend_row(name: str, pred: np.ndarray, actual: np.ndarray, note: str) -> dict:
    tot = actual.sum()
    return {
        "model": name,
        "actual_total": float(tot),
        "predicted_total": float(pred.sum()),
        "total_error_pct": float(100 * (pred.sum() - tot) / tot) if tot > 0 else float("nan"),
        "mae_per_customer": float(np.mean(np.abs(pred - actual))),
        "spearman": float(stats.spearmanr(pred, actual).statistic) if np.ptp(actual) > 0 else float("nan"),
        "note": note,
    }


def _cross_fitted_values(summary: pd.DataFrame, n_folds: int, seed: int) -> np.ndarray:
    fold = np.random.default_rng(seed).permutation(len(summary)) % n_folds
    out = np.full(len(summary), np.nan)
    for k in range(n_folds):
        test = fold == k
        model = SpendRegression().fit(summary[~test])
        out[test] = model.expected_average_value(summary[test]).to_numpy()
    return out


_VALUE_SENTENCES = {
    "zh": {
        "independence_holds": "复购频次与客单价的相关系数为 {rho:.2f}（阈值 ±{thr:.2f} 以内），"
        "Gamma-Gamma 的独立性假设成立，价值用 Gamma-Gamma 估计。",
        "dependence_and_regression_better_on_holdout": "复购频次与客单价的相关系数为 {rho:.2f}，超过阈值 {thr:.2f}，"
        "Gamma-Gamma 的独立性假设不成立；按频次建模的消费回归在留出期消费上的平均绝对误差为 {sr:,.1f}，"
        "比 Gamma-Gamma 的 {gg:,.1f} 低 {imp:.0%}，因此改用消费回归。",
        "dependence_but_regression_not_better_on_holdout": "复购频次与客单价的相关系数为 {rho:.2f}，"
        "超过阈值 {thr:.2f}，但按频次建模的消费回归在留出期并不更准（平均绝对误差 {sr:,.1f} 对 {gg:,.1f}），"
        "仍用 Gamma-Gamma，CLV 可能有偏。",
        "correlation_not_measured": "复购客户太少，无法检验频次与客单价的相关性；价值模型的选择没有依据。",
        "gamma_gamma_not_fitted": "Gamma-Gamma 无法拟合，价值用消费回归估计。",
        "regression_not_fitted": "相关系数 {rho:.2f} 超过阈值，但留出期购买太少，无法训练消费回归；"
        "仍用 Gamma-Gamma，CLV 可能有偏。",
        "nothing_fitted": "两种价值模型都无法拟合。",
    },
    "en": {
        "independence_holds": "corr(frequency, average value) = {rho:.2f}, within ±{thr:.2f}: Gamma-Gamma's "
        "independence assumption holds, so value comes from Gamma-Gamma.",
        "dependence_and_regression_better_on_holdout": "corr(frequency, average value) = {rho:.2f} exceeds "
        "{thr:.2f}: Gamma-Gamma's independence assumption fails. The spend regression on frequency predicts the "
        "holdout spend with mean absolute error {sr:,.1f} vs {gg:,.1f} for Gamma-Gamma ({imp:.0%} lower), so it "
        "is used instead.",
        "dependence_but_regression_not_better_on_holdout": "corr(frequency, average value) = {rho:.2f} exceeds "
        "{thr:.2f}, but the spend regression is not better on the holdout (MAE {sr:,.1f} vs {gg:,.1f}): "
        "Gamma-Gamma stays, and CLV may be biased.",
        "correlation_not_measured": "Too few repeat buyers to check corr(frequency, value): the value model is "
        "chosen without evidence.",
        "gamma_gamma_not_fitted": "Gamma-Gamma cannot be fitted: value comes from the spend regression.",
        "regression_not_fitted": "corr = {rho:.2f} exceeds the threshold, but too few holdout purchases to train "
        "the spend regression: Gamma-Gamma stays, and CLV may be biased.",
        "nothing_fitted": "Neither value model could be fitted.",
    },
}


def value_choice_sentence(choice: ValueModelChoice, lang: str = "zh") -> str:
    """Write the sentence that says which value model is used and why, from :func:`compare_value_models`."""
    d = choice.decision
    return _VALUE_SENTENCES[lang][d["reason"]].format(
        rho=d["correlation"],
        thr=d["threshold"],
        sr=d["mae_spend_regression"],
        gg=d["mae_gamma_gamma"],
        imp=d["improvement"],
    )


# ------------------------------------------------------------------------------------- new contact value
def _km_first_purchase(days: np.ndarray, event: np.ndarray, horizon: int, counts: np.ndarray | None = None):
    """Return the daily first-purchase probability mass f(0..H) by Kaplan–Meier on whole days.

    A purchase on day u after the add (u = floor(days)) is an event at u; a contact without one is censored at
    its observed days (at risk through that day). ``counts`` (rows × draws) gives bootstrap weights.
    """
    d = np.floor(days).astype(int)
    e = event.astype(bool)
    d_c = np.minimum(d, horizon + 1)
    w = np.ones((len(d), 1)) if counts is None else counts
    n_bins = horizon + 2
    exits = np.zeros((n_bins, w.shape[1]))
    events = np.zeros((n_bins, w.shape[1]))
    np.add.at(exits, d_c, w)
    np.add.at(events, d_c[e], w[e])
    at_risk = w.sum(axis=0)[None, :] - np.vstack([np.zeros((1, w.shape[1])), np.cumsum(exits, axis=0)[:-1]])
    with np.errstate(invalid="ignore", divide="ignore"):
        h = np.where(at_risk > 0, events / at_risk, 0.0)
    S = np.cumprod(1 - h[: horizon + 1], axis=0)
    f = -np.diff(np.vstack([np.ones((1, w.shape[1])), S]), axis=0)
    return f  # (H + 1, draws)


def first_purchase_unmeasured(
    table: pd.DataFrame, contacts: pd.DataFrame, first_purchases: pd.DataFrame, lang: str = "zh"
) -> tuple[pd.DataFrame, str | None]:
    """Mark :func:`new_contact_value`'s first-purchase probability *not measured* when add times are first orders.

    An export mapped with the first order as the add date (:func:`helpers.definitions.adds_from_orders`) makes
    every buyer "buy" on day 0: P(first purchase) is near 100 % by construction, and the value is then that of a new
    *buyer*, not of a new contact who may never buy. The values stay; the probabilities and their intervals become
    NaN with the reason, and the sentence to print says what the value is.

    Returns
    -------
    table : DataFrame
        ``table`` with ``p_buy``, ``p_buy_lower`` and ``p_buy_upper`` not measured when the add times are first
        orders, else ``table`` itself.
    sentence : str or None
        What the table's value means then, in ``lang`` (None when the probability was measured).

    Examples
    --------
    >>> c = pd.DataFrame({"user_id": ["a", "b"]})
    >>> first = pd.DataFrame({"user_id": ["a", "b"], "days_to_first_order": [0.0, 0.0]})
    >>> t, why = first_purchase_unmeasured(pd.DataFrame({"p_buy": [1.0], "value": [9.0]}), c, first, "en")
    >>> bool(t["p_buy"].isna().all()), t["value"].tolist(), why.startswith("the contacts' add times are their first")
    (True, [9.0], True)
    """
    from helpers.definitions import adds_from_orders, input_missing, mark_not_measured

    if not adds_from_orders(contacts, first_purchases):
        return table, None
    why = input_missing("adds_from_orders", lang)
    cols = [c for c in ("p_buy", "p_buy_lower", "p_buy_upper") if c in table.columns]
    tail = (
        "：下表的价值是一位新买家的价值，不是一位可能不买的新好友的。"
        if lang == "zh"
        else (": the value below is a new buyer's, not a new contact's who may never buy.")
    )
    return mark_not_measured(table, cols, why), why + tail


def new_contact_value(
    contacts: pd.DataFrame,
    first_purchases: pd.DataFrame,
    summary: pd.DataFrame,
    end: str | pd.Timestamp,
    horizon_days: int = 180,
    model: type[PurchaseModel] = BetaGeo,
    min_buyers: int = 30,
    min_repeat_buyers: int = 10,
    margin: float = 1.0,
    annual_discount_rate: float = 0.0,
    n_draws: int = 300,
    level: float = 0.9,
    seed: int = 0,
) -> pd.DataFrame:
    """Estimate purchases and value of a NEW contact over ``horizon_days`` after being added, per channel.

    A new contact may never buy. Per channel:

    1. P(first purchase within u days of the add), u = 0 … H, by Kaplan–Meier: a contact added fewer than H
       days before ``end`` is censored at its observed time, never counted as a non-buyer;
    2. after a first purchase on day u, the repeat purchases of a new customer over the remaining H − u days,
       E[X(H − u)], from the purchase model fitted on the channel's buyers;
    3. value = first-purchase value + repeat purchases × mean repeat-purchase value (both measured per channel),
       times ``margin``, discounted daily at ``annual_discount_rate``.

    Intervals (``level``) come from ``n_draws`` joint draws: a bootstrap of the channel's contacts for the
    first-purchase curve, Laplace draws of the repeat model, and normal draws of the two mean values. A
    channel with fewer than ``min_buyers`` buyers or ``min_repeat_buyers`` repeat buyers gets NaN and a note
    (its repeat model is not identified), as does a horizon longer than the channel's longest follow-up. When the
    repeat model fits but one of its parameters is not identified (no standard error), the estimates stand and
    only the purchases' and value's intervals are NaN, with the model's note.

    Parameters
    ----------
    contacts : DataFrame
        ``user_id``, ``channel``, ``added_at`` (one row per contact).
    first_purchases : DataFrame
        ``user_id``, ``days_to_first_order``, ``first_purchase_value``
        (:func:`helpers.features.first_purchase_after_add`).
    summary : DataFrame
        :func:`helpers.repurchase.summarize` of all history (index ``user_id``) with a ``unit`` attribute.
    end : str or Timestamp
        Last observed moment (the censoring time of contacts without a purchase).
    horizon_days : int
        Horizon after the add, in days.
    model : type
        Purchase model class for the repeat process (default BG/NBD; pass the winner of :func:`compare_models`).
    min_buyers, min_repeat_buyers : int
        Below these a channel's repeat model is not fitted.
    margin : float
        Gross margin applied to value (1.0 = GMV).
    annual_discount_rate : float
        Discounting of purchases after the add.
    n_draws, level, seed
        Draws, interval coverage, random seed.

    Returns
    -------
    DataFrame
        One row per channel plus ``全部 / all``: ``contacts``, ``buyers``, ``repeat_buyers``,
        ``followup_days``, ``p_buy`` (P(first purchase within H)), ``p_buy_lower``, ``p_buy_upper``,
        ``expected_purchases``, ``purchases_lower``, ``purchases_upper``, ``first_value``, ``repeat_value``,
        ``value``, ``value_lower``, ``value_upper``, ``model``, ``note``.
    """
    end = pd.Timestamp(end)
    H = int(horizon_days)
    c = contacts[["user_id", "channel", "added_at"]].drop_duplicates("user_id").set_index("user_id")
    fp = first_purchases.set_index("user_id")[["days_to_first_order", "first_purchase_value"]]
    c = c.join(fp, how="left")
    observed = (end - c["added_at"]).dt.total_seconds() / 86400.0
    bought = c["days_to_first_order"].notna() & (c["days_to_first_order"] <= observed)
    c["days"] = np.where(bought, c["days_to_first_order"], observed)
    c["observed"] = observed  # follow-up since the add, bought or not (a buyer on day 0 was still followed)
    c["event"] = bought
    lo_q, hi_q = (1 - level) / 2, 1 - (1 - level) / 2
    rng = np.random.default_rng(seed)
    d_day = (1 + annual_discount_rate) ** (1 / 365.0) - 1
    disc = (1 + d_day) ** -np.arange(H + 1)
    unit = summary.attrs.get("unit", "D")
    s = summary.join(c["channel"], how="inner")
    groups = [(ch, g) for ch, g in c.groupby("channel", sort=True)] + [("全部 / all", c)]
    how = _ValueSettings(unit, H, model, min_buyers, min_repeat_buyers, margin, disc, n_draws, lo_q, hi_q)
    rows = [_channel_value(ch, g, s if ch == "全部 / all" else s[s["channel"] == ch], how, rng) for ch, g in groups]
    return pd.DataFrame(rows).set_index("channel")


@dataclass(frozen=True)
class _ValueSettings:
    """How :func:`new_contact_value` values one channel (horizon, model, thresholds, discounting, draws)."""

    unit: str
    H: int
    model_cls: type
    min_buyers: int
    min_rep: int
    margin: float
    disc: np.ndarray
    n_draws: int
    lo_q: float
    hi_q: float


_VALUE_KEYS = (
    "p_buy",
    "p_buy_lower",
    "p_buy_upper",
    "expected_purchases",
    "purchases_lower",
    "purchases_upper",
    "first_value",
    "repeat_value",
    "value",
    "value_lower",
    "value_upper",
)


def _channel_value(ch, g: pd.DataFrame, sub: pd.DataFrame, how: _ValueSettings, rng: np.random.Generator) -> dict:
    """One channel's row: P(first purchase) by Kaplan–Meier, then repeat purchases and value from its own fit."""
    n, H = len(g), how.H
    buyers = int(g["event"].sum())
    rep = sub[sub["frequency"] > 0]
    row = {
        "channel": ch,
        "contacts": n,
        "buyers": buyers,
        "repeat_buyers": len(rep),
        "followup_days": float(g["observed"].max()) if n else float("nan"),
        "model": getattr(how.model_cls, "_label", how.model_cls.__name__),
        **dict.fromkeys(_VALUE_KEYS, float("nan")),
        "note": "",  # last: a sentence-wide column before the values pushed them off a laptop's screen
    }
    if n == 0 or g["observed"].max() < H:
        row["note"] = f"contacts followed at most {row['followup_days']:.0f} days < horizon {H}: not measured"
        return row
    f_hat, f_draws = _first_purchase_draws(g, H, how.n_draws, rng)
    row["p_buy"] = float(f_hat.sum())
    row["p_buy_lower"], row["p_buy_upper"] = np.quantile(f_draws.sum(axis=0), [how.lo_q, how.hi_q])
    if buyers < how.min_buyers or len(rep) < how.min_rep:
        row["note"] = (
            f"{buyers} buyers / {len(rep)} repeat buyers (< {how.min_buyers} / {how.min_rep}): no repeat model, "
            "only P(first purchase) is measured"
        )
        return row
    try:
        m = how.model_cls().fit(sub.drop(columns=["channel"]), unit=how.unit)
    except (ValueError, RuntimeError) as err:
        row["note"] = f"repeat model: {err}"
        return row
    # values per channel, with normal draws of the means
    fv = g.loc[g["event"], "first_purchase_value"].dropna().to_numpy(float)
    x, mv = rep["frequency"].to_numpy(float), rep["monetary_value"].to_numpy(float)
    v1, v1_se = fv.mean(), fv.std(ddof=1) / np.sqrt(len(fv))
    vr = float((x * mv).sum() / x.sum())
    vr_se = float(np.sqrt(np.sum((x * (mv - vr)) ** 2)) / x.sum())
    row["first_value"], row["repeat_value"] = float(v1), vr
    row["expected_purchases"], row["value"] = _new_contact_value(m, f_hat, v1, vr, how)
    row["note"] = "; ".join(m.notes_)
    try:
        pdraws = parameter_draws(m, how.n_draws, "laplace", seed=int(rng.integers(2**31)))
    except ValueError as err:  # a parameter the data cannot identify: the estimate stands, its interval does not
        row["note"] = row["note"] or str(err)
        return row
    a1 = rng.normal(v1, v1_se, how.n_draws)
    ar = rng.normal(vr, vr_se, how.n_draws)
    sims = np.array(
        [
            _new_contact_value(m.with_params(p), f_draws[:, i], a1[i], ar[i], how)
            for i, p in enumerate(pdraws.to_dict("records"))
        ]
    )
    row["purchases_lower"], row["purchases_upper"] = np.quantile(sims[:, 0], [how.lo_q, how.hi_q])
    row["value_lower"], row["value_upper"] = np.quantile(sims[:, 1], [how.lo_q, how.hi_q])
    return row


def _first_purchase_draws(
    g: pd.DataFrame, H: int, n_draws: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """P(first purchase on day j) for j = 0…H by Kaplan–Meier: the estimate and on bootstrap resamples of contacts."""
    n = len(g)
    days, event = g["days"].to_numpy(float), g["event"].to_numpy(bool)
    u = pd.DataFrame({"d": np.minimum(np.floor(days), H + 1), "e": event}).value_counts().reset_index(name="w")
    d, e, w = u["d"].to_numpy(float), u["e"].to_numpy(bool), u["w"].to_numpy(float)
    f_hat = _km_first_purchase(d, e, H, w[:, None])[:, 0]
    counts = rng.multinomial(n, w / n, size=n_draws).T.astype(float)
    return f_hat, _km_first_purchase(d, e, H, counts)


def _new_contact_value(model, f: np.ndarray, a1: float, ar: float, how: _ValueSettings) -> tuple[float, float]:
    """Return the expected purchases and (discounted, margin) value of a new contact over H days.

    With ``f(j)`` = P(first purchase on day j), ``E(t)`` the model's expected repeat purchases of a new customer
    by age t and ``C(j) = Σ_{v ≤ j} ΔE(v) disc(v)``: purchases = Σ_j f(j) (1 + E(H − j)) and
    value = margin × Σ_j f(j) disc(j) (a1 + ar C(H − j)), with a1 / ar the first / repeat order values.
    """
    H = how.H
    e_new = np.asarray(model.expected_purchases_new(np.arange(H + 1) / model.unit_days_), float)
    cum_disc = np.cumsum(np.diff(e_new, prepend=0.0) * how.disc)
    remaining = H - np.arange(H + 1)
    purchases = float(np.sum(f * (1 + e_new[remaining])))
    value = float(np.sum(f * how.disc * (a1 + ar * cum_disc[remaining]))) * how.margin
    return purchases, value


def ltv_to_cac(value_table: pd.DataFrame, cac: pd.DataFrame | pd.Series) -> pd.DataFrame:
    """Divide each channel's new-contact value (with its interval) by its CAC.

    CAC is treated as known (spend / adds is counted, not estimated), so the interval of LTV / CAC is the value
    interval divided by CAC. A channel without a CAC (or CAC 0) gets NaN.

    Parameters
    ----------
    value_table : DataFrame
        Output of :func:`new_contact_value`.
    cac : DataFrame or Series
        ``channel``, ``cac`` (from :func:`helpers.acquisition.acquisition_cost`) or a Series by channel.

    Returns
    -------
    DataFrame
        ``value``, ``value_lower``, ``value_upper``, ``cac``, ``ltv_cac``, ``ltv_cac_lower``, ``ltv_cac_upper``.

    Examples
    --------
    >>> v = pd.DataFrame({"value": [30.0], "value_lower": [20.0], "value_upper": [45.0]}, index=["store_qr"])
    >>> out = ltv_to_cac(v, pd.Series({"store_qr": 10.0}))
    >>> out[["ltv_cac", "ltv_cac_lower", "ltv_cac_upper"]].round(1).to_numpy().tolist()
    [[3.0, 2.0, 4.5]]

    A CAC that names no channel of the value table is a mistake, not a missing figure (a column taken from
    ``acquisition_cost``'s table is indexed 0, 1, 2 …):

    >>> ltv_to_cac(v, pd.Series([10.0]))
    Traceback (most recent call last):
    ...
    ValueError: the CAC is indexed by [0], not by channel: pass acquisition_cost's table or a Series by channel
    """
    c = cac.set_index("channel")["cac"] if isinstance(cac, pd.DataFrame) else cac
    if c.notna().any() and not value_table.index.isin(c.index).any():
        raise ValueError(
            f"the CAC is indexed by {list(c.index[:3])}, not by channel: pass acquisition_cost's table or a Series "
            "by channel"
        )
    out = value_table[["value", "value_lower", "value_upper"]].copy()
    out["cac"] = c.reindex(out.index).astype(float)
    den = out["cac"].where(out["cac"] > 0)
    for a, b in (("value", "ltv_cac"), ("value_lower", "ltv_cac_lower"), ("value_upper", "ltv_cac_upper")):
        out[b] = out[a] / den
    return out

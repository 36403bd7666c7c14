"""Uplift (增量) models from randomised holdouts: whom a message or a coupon *changes*.

A propensity model answers "who will buy"; an uplift model answers "who will buy *because* we contacted them":
``τ(x) = P(buy | treated, x) − P(buy | not treated, x)``. Only a randomised holdout identifies it — on
non-randomised data the treated differ from the untreated before any message, and the "uplift" is selection.
Customers fall into four kinds: **persuadables** (τ > 0: contact them), **sure things** (buy anyway: a message is
wasted), **lost causes** (never buy: wasted too) and **do-not-disturbs** (τ < 0: a message lowers the order rate or
makes them delete us: leave them alone).

Estimators (on the :class:`helpers.base.FittedModel` shape: hyperparameters in ``__init__``, ``fit(X, treatment, y)``
returns ``self``, ``predict_uplift(X)``):

- :class:`TwoModelUplift` — the T-learner: one outcome model per arm, ``τ̂ = μ̂₁(x) − μ̂₀(x)``.
- :class:`ClassTransformationUplift` — Jaskowski & Jaroszewicz (2012): with ``Z = Y·W + (1 − Y)(1 − W)`` and a
  50 / 50 split, ``τ(x) = 2 P(Z = 1 | x) − 1``. An unequal split is handled by reweighting each arm to half the
  weight (``method="reweight"``, default) or by regressing the general transformed outcome
  ``Y* = Y (W − p) / (p (1 − p))``, whose conditional mean is ``τ(x)`` for any treatment share ``p``
  (``method="transformed_outcome"``; Athey & Imbens 2015).
- :class:`XLearnerUplift` — Künzel et al. (2019): outcome models per arm, imputed individual effects
  (``Y − μ̂₀(x)`` for the treated, ``μ̂₁(x) − Y`` for the controls), one effect regression per arm, combined with the
  treatment share as weight.

Base learners: ``"logistic"`` (one-hot + standardised, L2 logistic regression; default: on Hillstrom as good as
gradient boosting and 5–20× faster) or ``"hgb"`` (``HistGradientBoostingClassifier``, shallow, early stopping), or
any scikit-learn estimator. Fits and predictions run inside ``threadpoolctl.threadpool_limits(n_threads)``
(default one thread, through :func:`helpers.base.cpu_threads`) so BLAS and OpenMP pools never oversubscribe a
small shared machine.

Evaluation on held-out randomised customers (:func:`evaluate`): Qini curve and coefficient, uplift curve and AUUC,
uplift@k, uplift by decile with Newcombe intervals, and a :class:`UpliftVerdict` that says whether per-customer
uplift is distinguishable from the average effect. Conventions follow scikit-uplift 0.5 (``qini_auc_score`` with
``negative_effect=True``, ``uplift_auc_score``, ``uplift_at_k(strategy="overall")``, ``uplift_by_percentile``); the
tests check ours against it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler
from threadpoolctl import threadpool_limits

from helpers.base import FittedModel, cpu_threads, thread_map
from helpers.stats import compare_variants

__all__ = [
    "LEARNERS",
    "MODELS",
    "MODEL_NAMES",
    "ClassTransformationUplift",
    "CrossFittedUplift",
    "LeakageError",
    "TwoModelUplift",
    "UpliftComparison",
    "UpliftEvaluation",
    "UpliftVerdict",
    "XLearnerUplift",
    "auuc",
    "check_pretreatment",
    "compare_models",
    "evaluate",
    "make_model",
    "plot_qini",
    "plot_uplift_by_decile",
    "qini_coefficient",
    "qini_curve",
    "stratified_split",
    "uplift_at_k",
    "uplift_by_decile",
    "uplift_curve",
]

LEARNERS = ("logistic", "hgb")

_TEXT = {
    "zh": {
        "targeted": "按预测增量从高到低触达的客户占比",
        "qini_y": "增量转化人数 (Qini)",
        "qini_title": "Qini 曲线：模型排序 vs 随机",
        "random": "随机触达",
        "decile": "预测增量分组（1 = 最高）",
        "decile_y": "实测增量（实验组 − 对照组）",
        "decile_title": "各分组实测增量及95%置信区间",
        "average": "平均效应",
        "predicted": "预测增量均值",
        "model": "模型",
        "hetero": (
            "个体增量可以区分：Qini 系数 {qini:.3f}（置换检验 p {ptext}）；预测最高的 {top:.0%} 实测增量 {ut}，"
            "其余 {ur}，差 {d}（{level:.0%} 区间 {dl} 至 {dh}）。名单按个体预测增量排序。"
        ),
        "flat": (
            "个体增量与平均效应无法区分：Qini 系数 {qini:.3f}（置换检验 p {ptext}）；预测最高的 {top:.0%} 与其余的"
            "实测增量差 {d}（{level:.0%} 区间 {dl} 至 {dh}）。请按平均效应 {ate}（{level:.0%} 区间 {al} 至"
            " {ah}）决策，不要按个体预测排序。"
        ),
        "too_few": "对照组或实验组样本太少（各需至少 {m} 人），无法评估个体增量；只能使用平均效应。",
    },
    "en": {
        "targeted": "share of customers contacted, highest predicted uplift first",
        "qini_y": "incremental conversions (Qini)",
        "qini_title": "Qini curve: model ranking vs random",
        "random": "random targeting",
        "decile": "predicted-uplift group (1 = highest)",
        "decile_y": "measured uplift (treated − control)",
        "decile_title": "Measured uplift per group with 95% intervals",
        "average": "average effect",
        "predicted": "mean predicted uplift",
        "model": "model",
        "hetero": (
            "Per-customer uplift is distinguishable: Qini coefficient {qini:.3f} (permutation p {ptext}); the top "
            "{top:.0%} by predicted uplift gained {ut}, the rest {ur}, difference {d} "
            "({level:.0%} interval {dl} to {dh}). The list is ranked by predicted individual uplift."
        ),
        "flat": (
            "Per-customer uplift is not distinguishable from the average effect: Qini coefficient {qini:.3f} "
            "(permutation p {ptext}); top {top:.0%} minus the rest {d} ({level:.0%} interval {dl} to {dh}). Use "
            "the average effect {ate} ({level:.0%} interval {al} to {ah}) and do not rank by individual predictions."
        ),
        "too_few": (
            "Too few treated or control customers (at least {m} each) to judge per-customer uplift; only the average "
            "effect can be used."
        ),
    },
}


def _text(lang: str) -> dict[str, str]:
    if lang not in _TEXT:
        raise ValueError(f"lang must be one of {', '.join(_TEXT)}, got {lang!r}")
    return _TEXT[lang]


# ------------------------------------------------------------------------------------------------ inputs
def _as_treatment(treatment) -> np.ndarray:
    """Treatment indicator as 0/1 ints from bools, 0/1 numbers or the contract's ``arm`` strings."""
    t = pd.Series(np.asarray(treatment)).reset_index(drop=True)
    if t.dtype == object or isinstance(t.dtype, pd.CategoricalDtype | pd.StringDtype):
        s = t.astype(str)
        bad = ~s.isin(["treatment", "control"])
        if bad.any():
            raise ValueError(f"arm labels must be 'treatment' or 'control'; found {sorted(s[bad].unique())[:5]}")
        return (s == "treatment").to_numpy(np.int64)
    v = t.to_numpy()
    if not np.isin(v, [0, 1]).all():
        raise ValueError("treatment must be 0/1, boolean, or the arm labels 'treatment' / 'control'")
    return v.astype(np.int64)


def _as_binary(y, name: str = "y") -> np.ndarray:
    v = np.asarray(y)
    if v.dtype == bool:
        return v.astype(np.int64)
    if not np.isin(v, [0, 1]).all():
        raise ValueError(f"{name} must be binary (0/1 or boolean)")
    return v.astype(np.int64)


def stratified_split(
    treatment, y, test_size: float | int = 0.3, random_state: int = 0, also=None
) -> tuple[np.ndarray, np.ndarray]:
    """Split row positions into train and test, stratified by treatment × outcome (the four cells keep their shares).

    Parameters
    ----------
    treatment, y : array-like
        Arm (0/1 or control/treatment) and binary outcome per row.
    test_size : float or int
        Share (float) or number (int) of rows in the test part.
    random_state : int
        Seed.
    also : array-like of non-negative int, optional
        A further label to stratify by (e.g. a second outcome): the cells are treatment × outcome × ``also``.

    Returns
    -------
    tuple of ndarray
        Sorted positions of the train and the test rows.

    Examples
    --------
    >>> tr, te = stratified_split([0, 1] * 50, [0] * 60 + [1] * 40, test_size=0.3, random_state=0)
    >>> len(tr), len(te)
    (70, 30)
    """
    from sklearn.model_selection import train_test_split

    w, yy = _as_treatment(treatment), _as_binary(y)
    cell = w * 2 + yy
    if also is not None:
        extra = np.asarray(also, dtype=int)
        cell = cell * (int(extra.max()) + 1) + extra
    idx = np.arange(len(w))
    tr, te = train_test_split(idx, test_size=test_size, random_state=random_state, stratify=cell)
    return np.sort(tr), np.sort(te)


# ---------------------------------------------------------------------------------------------- learners
def _categorical_columns(X: pd.DataFrame) -> list[str]:
    return [
        c
        for c in X.columns
        if X[c].dtype == object or isinstance(X[c].dtype, pd.CategoricalDtype | pd.StringDtype) or X[c].dtype == bool
    ]


def _preprocessor(X: pd.DataFrame, kind: str) -> ColumnTransformer:
    cats = _categorical_columns(X)
    nums = [c for c in X.columns if c not in cats]
    if kind == "logistic":
        num = make_pipeline(
            SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True), StandardScaler()
        )
        cat = OneHotEncoder(handle_unknown="ignore", min_frequency=20, sparse_output=False)
    else:  # trees: categories as ordinal codes (unknown → missing), numbers as they are
        num = "passthrough"
        cat = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan, encoded_missing_value=np.nan)
    return ColumnTransformer([("cat", cat, cats), ("num", num, nums)], verbose_feature_names_out=False)


def _make_learner(learner, X: pd.DataFrame, task: str, random_state: int) -> BaseEstimator:
    """Build a fresh classifier (``task="classify"``) or regressor (``task="regress"``) with its preprocessing."""
    if not isinstance(learner, str):
        return clone(learner)
    if learner not in LEARNERS:
        raise ValueError(f"learner must be one of {', '.join(LEARNERS)} or a scikit-learn estimator, got {learner!r}")
    pre = _preprocessor(X, learner)
    n_cat = len(_categorical_columns(X))
    if learner == "logistic":
        model = LogisticRegression(C=1.0, max_iter=1000) if task == "classify" else Ridge(alpha=1.0)
    else:
        mask = [True] * n_cat + [False] * (X.shape[1] - n_cat)
        kw = dict(
            max_iter=200,
            learning_rate=0.05,
            max_leaf_nodes=8,
            min_samples_leaf=200,
            l2_regularization=1.0,
            early_stopping=True,
            validation_fraction=0.2,
            n_iter_no_change=20,
            categorical_features=mask if n_cat else None,
            random_state=random_state,
        )
        model = HistGradientBoostingClassifier(**kw) if task == "classify" else HistGradientBoostingRegressor(**kw)
    return Pipeline([("pre", pre), ("model", model)])


def _proba(model: BaseEstimator, X: pd.DataFrame) -> np.ndarray:
    return model.predict_proba(X)[:, 1]


class _UpliftModel(FittedModel):
    """Shared checks and bookkeeping of the uplift estimators."""

    def __init__(
        self,
        learner: str | BaseEstimator = "logistic",
        max_train_rows: int | None = 500_000,
        n_threads: int | None = 1,
        random_state: int = 0,
    ) -> None:
        self.learner = learner
        self.max_train_rows = max_train_rows
        self.n_threads = n_threads
        self.random_state = random_state

    def _threads(self) -> threadpool_limits:
        return cpu_threads(self.n_threads)

    def _prepare(self, X: pd.DataFrame, treatment, y) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
        X = pd.DataFrame(X).reset_index(drop=True)
        w, yy = _as_treatment(treatment), _as_binary(y)
        if not len(X) == len(w) == len(yy):
            raise ValueError(f"X, treatment and y differ in length: {len(X)}, {len(w)}, {len(yy)}")
        for arm, name in ((1, "treated"), (0, "control")):
            if (w == arm).sum() < 2 or np.unique(yy[w == arm]).size < 2:
                raise ValueError(f"the {name} arm needs both outcomes (some who converted and some who did not)")
        self.notes_: list[str] = []
        n = len(X)
        if self.max_train_rows is not None and n > self.max_train_rows:
            from sklearn.model_selection import train_test_split

            keep, _ = train_test_split(
                np.arange(n), train_size=self.max_train_rows, random_state=self.random_state, stratify=w * 2 + yy
            )
            keep = np.sort(keep)
            X, w, yy = X.iloc[keep].reset_index(drop=True), w[keep], yy[keep]
            self.notes_.append(
                f"trained on a stratified sample of {self.max_train_rows:,} of {n:,} customers (max_train_rows)"
            )
        self.features_ = list(X.columns)
        return X, w, yy

    def _finish(self, X: pd.DataFrame, w: np.ndarray, y: np.ndarray) -> None:
        p = float(w.mean())
        ate = float(y[w == 1].mean() - y[w == 0].mean())
        self.params_ = {"treatment_share": p, "n_train": float(len(w)), "average_effect_train": ate}
        self.standard_errors_ = dict.fromkeys(self.params_, float("nan"))
        self.log_likelihood_ = float("nan")
        self.notes_.append(
            "no likelihood: uncertainty comes from the held-out evaluation (Newcombe intervals, permutation test)"
        )

    def predict_uplift(self, X: pd.DataFrame) -> pd.Series:
        """Predicted uplift ``τ̂(x)`` (difference in outcome probability, treated − untreated), one per row of ``X``."""
        self._check_fitted()
        X = pd.DataFrame(X)
        missing = [c for c in self.features_ if c not in X.columns]
        if missing:
            raise ValueError(f"X lacks the training features {', '.join(missing)}")
        with self._threads():
            u = self._predict(X[self.features_])
        return pd.Series(u, index=X.index, name="uplift")

    def _predict(self, X: pd.DataFrame) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError


class TwoModelUplift(_UpliftModel):
    """Two-model (T-learner) uplift: ``τ̂(x) = μ̂₁(x) − μ̂₀(x)`` with one classifier per arm.

    Parameters
    ----------
    learner : {"logistic", "hgb"} or scikit-learn classifier
        Base classifier of each arm (an estimator is cloned and must handle the columns of ``X`` itself).
    max_train_rows : int or None
        Above this many rows, train on a sample stratified by treatment × outcome.
    n_threads : int, optional
        BLAS / OpenMP threads during fit and predict (``None``: all cores). Default 1: on the 2-core reference
        machine, shared with other work, two OpenMP threads made a 20 000-row gradient-boosting fit 10–45× slower
        (0.2 s → 2–9 s) through contention, and the models are fast on one thread.
    random_state : int
        Seed of the sample and of the learners.

    Examples
    --------
    >>> from helpers.simulate import uplift_population
    >>> d = uplift_population(4000, seed=1)
    >>> m = TwoModelUplift().fit(d[["x0", "x1", "x2"]], d["treatment"], d["y"])
    >>> round(m.params_["treatment_share"], 1)
    0.5
    >>> bool(m.predict_uplift(d[["x0", "x1", "x2"]]).between(-1, 1).all())
    True
    """

    def fit(self, X: pd.DataFrame, treatment, y) -> TwoModelUplift:
        """Fit one outcome model on the treated and one on the controls."""
        X, w, y = self._prepare(X, treatment, y)
        with self._threads():
            self.model_treated_ = _make_learner(self.learner, X, "classify", self.random_state)
            self.model_control_ = _make_learner(self.learner, X, "classify", self.random_state)
            self.model_treated_.fit(X[w == 1], y[w == 1])
            self.model_control_.fit(X[w == 0], y[w == 0])
        self._finish(X, w, y)
        return self

    def _predict(self, X: pd.DataFrame) -> np.ndarray:
        return _proba(self.model_treated_, X) - _proba(self.model_control_, X)


class ClassTransformationUplift(_UpliftModel):
    """Class-transformation uplift (Jaskowski & Jaroszewicz 2012), valid for any treatment share.

    With ``Z = 1`` for treated converters and untreated non-converters, and each arm weighted to half the total
    (weights ``1 / (2p)`` and ``1 / (2(1 − p))``), ``P_w(Z = 1 | x) = (μ₁(x) + 1 − μ₀(x)) / 2`` so
    ``τ(x) = 2 P_w(Z = 1 | x) − 1``. With ``method="transformed_outcome"`` a regressor is fitted to
    ``Y* = Y (W − p) / (p (1 − p))`` instead, whose conditional mean is ``τ(x)`` (noisier, but needs no classifier).

    Parameters
    ----------
    learner, max_train_rows, n_threads, random_state
        As in :class:`TwoModelUplift`.
    method : {"reweight", "transformed_outcome"}
        How an unequal treatment share is handled. With a 50 / 50 split ``"reweight"`` is the textbook method.

    Examples
    --------
    >>> from helpers.simulate import uplift_population
    >>> d = uplift_population(4000, seed=1, treatment_share=0.8)
    >>> m = ClassTransformationUplift().fit(d[["x0", "x1", "x2"]], d["treatment"], d["y"])
    >>> round(m.params_["treatment_share"], 1)
    0.8
    """

    def __init__(
        self,
        learner: str | BaseEstimator = "logistic",
        method: str = "reweight",
        max_train_rows: int | None = 500_000,
        n_threads: int | None = 1,
        random_state: int = 0,
    ) -> None:
        super().__init__(learner, max_train_rows, n_threads, random_state)
        self.method = method

    def fit(self, X: pd.DataFrame, treatment, y) -> ClassTransformationUplift:
        """Fit the classifier of the transformed class (or the regressor of the transformed outcome)."""
        if self.method not in ("reweight", "transformed_outcome"):
            raise ValueError(f"method must be 'reweight' or 'transformed_outcome', got {self.method!r}")
        X, w, y = self._prepare(X, treatment, y)
        p = float(w.mean())
        with self._threads():
            if self.method == "reweight":
                z = y * w + (1 - y) * (1 - w)
                sw = np.where(w == 1, 0.5 / p, 0.5 / (1 - p))
                self.model_ = _make_learner(self.learner, X, "classify", self.random_state)
                self.model_.fit(X, z, **{_weight_param(self.model_): sw})
            else:
                ystar = y * (w - p) / (p * (1 - p))
                self.model_ = _make_learner(self.learner, X, "regress", self.random_state)
                self.model_.fit(X, ystar)
        if abs(p - 0.5) > 0.05:
            self.notes_.append(
                f"treatment share {p:.0%} is not 50 %: handled by {self.method.replace('_', ' ')} (see docstring)"
            )
        self._finish(X, w, y)
        return self

    def _predict(self, X: pd.DataFrame) -> np.ndarray:
        if self.method == "reweight":
            return 2.0 * _proba(self.model_, X) - 1.0
        return self.model_.predict(X)


def _weight_param(model: BaseEstimator) -> str:
    """Name of the ``sample_weight`` fit parameter (``model__sample_weight`` inside our pipelines)."""
    return "model__sample_weight" if isinstance(model, Pipeline) else "sample_weight"


class XLearnerUplift(_UpliftModel):
    """X-learner (Künzel, Sekhon, Bickel & Yu 2019): imputed individual effects, regressed per arm.

    Stage 1: outcome classifiers ``μ̂₀``, ``μ̂₁`` per arm (as in the T-learner). Stage 2: imputed effects
    ``D₁ = Y − μ̂₀(x)`` on the treated and ``D₀ = μ̂₁(x) − Y`` on the controls, each regressed on ``x`` (``τ̂₁``,
    ``τ̂₀``). Combined as ``τ̂(x) = p τ̂₀(x) + (1 − p) τ̂₁(x)`` with ``p`` the treatment share (the propensity of a
    randomised test, constant): the effect model of the larger arm gets the larger weight.

    Parameters
    ----------
    learner, max_train_rows, n_threads, random_state
        As in :class:`TwoModelUplift` (``learner`` for stage 1).
    effect_learner : {"logistic", "hgb"} or scikit-learn regressor, optional
        Stage-2 regressor; ``"logistic"`` means ridge regression on the same preprocessing. Default: the regressor
        matching ``learner`` (ridge for ``"logistic"``, gradient boosting for ``"hgb"``).

    Examples
    --------
    >>> from helpers.simulate import uplift_population
    >>> d = uplift_population(4000, seed=1)
    >>> m = XLearnerUplift().fit(d[["x0", "x1", "x2"]], d["treatment"], d["y"])
    >>> m.predict_uplift(d[["x0", "x1", "x2"]]).shape
    (4000,)
    """

    def __init__(
        self,
        learner: str | BaseEstimator = "logistic",
        effect_learner: str | BaseEstimator | None = None,
        max_train_rows: int | None = 500_000,
        n_threads: int | None = 1,
        random_state: int = 0,
    ) -> None:
        super().__init__(learner, max_train_rows, n_threads, random_state)
        self.effect_learner = effect_learner

    def fit(self, X: pd.DataFrame, treatment, y) -> XLearnerUplift:
        """Fit the two outcome models, then the two effect models on the imputed effects."""
        X, w, y = self._prepare(X, treatment, y)
        eff = self.effect_learner
        if eff is None:
            eff = self.learner if isinstance(self.learner, str) else "hgb"
        with self._threads():
            m1 = _make_learner(self.learner, X, "classify", self.random_state).fit(X[w == 1], y[w == 1])
            m0 = _make_learner(self.learner, X, "classify", self.random_state).fit(X[w == 0], y[w == 0])
            d1 = y[w == 1] - _proba(m0, X[w == 1])
            d0 = _proba(m1, X[w == 0]) - y[w == 0]
            self.effect_treated_ = _make_learner(eff, X, "regress", self.random_state).fit(X[w == 1], d1)
            self.effect_control_ = _make_learner(eff, X, "regress", self.random_state).fit(X[w == 0], d0)
        self.model_treated_, self.model_control_ = m1, m0
        self._finish(X, w, y)
        return self

    def _predict(self, X: pd.DataFrame) -> np.ndarray:
        p = self.params_["treatment_share"]
        u = p * self.effect_control_.predict(X) + (1 - p) * self.effect_treated_.predict(X)
        return np.clip(u, -1.0, 1.0)


# ----------------------------------------------------------------------------------------------- metrics
def _sorted(y, treatment, score) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Outcome, treatment and score sorted by descending score (ties: later rows first, as scikit-uplift)."""
    yy, w = _as_binary(y), _as_treatment(treatment)
    s = np.asarray(score, dtype=float)
    if not len(yy) == len(w) == len(s):
        raise ValueError("y, treatment and score differ in length")
    if np.isnan(s).any():
        raise ValueError("the score has missing values")
    order = np.argsort(s, kind="mergesort")[::-1]
    return yy[order], w[order], s[order]


def _cumulative(y, treatment, score) -> dict[str, np.ndarray]:
    """Cumulative counts at each distinct score threshold (highest score first), starting at (0, 0)."""
    yy, w, s = _sorted(y, treatment, score)
    cut = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]
    nt = np.cumsum(w)[cut]
    yt = np.cumsum(yy * w)[cut]
    yc = np.cumsum(yy * (1 - w))[cut]
    n = cut + 1
    return {"n": np.r_[0, n], "nt": np.r_[0, nt], "nc": np.r_[0, n - nt], "yt": np.r_[0, yt], "yc": np.r_[0, yc]}


def _div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.divide(a, b, out=np.zeros_like(a, dtype=float), where=b != 0)


def _qini_values(c: dict[str, np.ndarray]) -> np.ndarray:
    return c["yt"] - c["yc"] * _div(c["nt"].astype(float), c["nc"].astype(float))


def _uplift_values(c: dict[str, np.ndarray]) -> np.ndarray:
    return (_div(c["yt"].astype(float), c["nt"]) - _div(c["yc"].astype(float), c["nc"])) * c["n"]


def qini_curve(y, treatment, score) -> pd.DataFrame:
    """Qini curve: incremental conversions when contacting the top ``n`` customers by ``score``.

    ``qini(n) = Y_T(n) − Y_C(n) · N_T(n) / N_C(n)`` (Radcliffe 2007): converters among the treated in the top ``n``
    minus the control converters scaled to the treated count. ``random`` is the straight line to the last point
    (contacting a random ``n``). Points at each distinct score, starting at ``(0, 0)``.

    Returns
    -------
    DataFrame
        ``n``, ``share`` (n / all), ``qini``, ``random``.

    Examples
    --------
    >>> qini_curve([1, 0, 0, 1], [1, 1, 0, 0], [0.9, 0.5, 0.4, 0.1])["qini"].tolist()
    [0.0, 1.0, 1.0, 1.0, 0.0]
    """
    c = _cumulative(y, treatment, score)
    q = _qini_values(c)
    n = c["n"]
    return pd.DataFrame({"n": n, "share": n / n[-1], "qini": q, "random": q[-1] * n / n[-1]})


def uplift_curve(y, treatment, score) -> pd.DataFrame:
    """Uplift curve: ``(Y_T(n)/N_T(n) − Y_C(n)/N_C(n)) · n``, the incremental conversions of contacting the top ``n``.

    Returns
    -------
    DataFrame
        ``n``, ``share``, ``uplift``, ``random``.
    """
    c = _cumulative(y, treatment, score)
    u = _uplift_values(c)
    n = c["n"]
    return pd.DataFrame({"n": n, "share": n / n[-1], "uplift": u, "random": u[-1] * n / n[-1]})


def _area_above_random(x: np.ndarray, v: np.ndarray) -> float:
    """Trapezoid area under ``v(x)`` minus the triangle under the straight line from ``(0, 0)`` to the last point."""
    return float(np.sum((v[1:] + v[:-1]) * np.diff(x)) / 2.0 - v[-1] * x[-1] / 2.0)


def qini_coefficient(y, treatment, score) -> float:
    """Qini coefficient: area between the Qini curve and the random line, over the same area of the perfect model.

    The perfect model ranks treated converters first and control converters last, so negative effects count
    (scikit-uplift's ``qini_auc_score(..., negative_effect=True)``). 1 = perfect, 0 = random, < 0 = worse than
    random. ``NaN`` when the perfect area is 0 (no conversions).

    Examples
    --------
    >>> y, w = [1, 0, 1, 0, 0, 1], [1, 1, 1, 0, 0, 0]
    >>> round(qini_coefficient(y, w, [0.9, 0.1, 0.8, 0.3, 0.2, 0.0]), 4)
    1.0
    """
    yy, w = _as_binary(y), _as_treatment(treatment)
    c = _cumulative(yy, w, score)
    perfect = _cumulative(yy, w, yy * w - yy * (1 - w))
    den = _area_above_random(perfect["n"].astype(float), _qini_values(perfect))
    num = _area_above_random(c["n"].astype(float), _qini_values(c))
    return num / den if den != 0 else float("nan")


def auuc(y, treatment, score) -> float:
    """Normalised area under the uplift curve (scikit-uplift's ``uplift_auc_score``): model over perfect, above random.

    Examples
    --------
    >>> y, w = [1, 0, 1, 0, 0, 1], [1, 1, 1, 0, 0, 0]
    >>> round(auuc(y, w, [0.9, 0.1, 0.8, 0.3, 0.2, 0.0]), 4)
    1.0
    """
    yy, w = _as_binary(y), _as_treatment(treatment)
    cr = int(((yy == 1) & (w == 0)).sum())
    tn = int(((yy == 0) & (w == 1)).sum())
    perfect_score = 2 * (yy == w) + (yy if cr > tn else w)
    perfect = _cumulative(yy, w, perfect_score)
    c = _cumulative(yy, w, score)
    den = _area_above_random(perfect["n"].astype(float), _uplift_values(perfect))
    num = _area_above_random(c["n"].astype(float), _uplift_values(c))
    return num / den if den != 0 else float("nan")


def uplift_at_k(y, treatment, score, k: float = 0.3, strategy: str = "overall") -> float:
    """Measured uplift among the top ``k`` share of customers by ``score``: treated rate − control rate there.

    ``strategy="overall"`` (default, as the scikit-uplift tutorial): the top ``int(k · n)`` customers of both arms
    together. ``"by_group"``: the top ``k`` of each arm separately. ``NaN`` when an arm is empty in the top group.

    Examples
    --------
    >>> uplift_at_k([1, 0, 0, 1, 0, 0], [1, 0, 1, 0, 1, 0], [6, 5, 4, 3, 2, 1], k=0.5)
    0.5
    """
    if not 0 < k < 1:
        raise ValueError(f"k is a share in (0, 1), got {k}")
    yy, w, _ = _sorted(y, treatment, score)
    if strategy == "overall":
        top = slice(0, int(len(yy) * k))
        yt, yc = yy[top][w[top] == 1], yy[top][w[top] == 0]
    elif strategy == "by_group":
        yt = yy[w == 1][: int((w == 1).sum() * k)]
        yc = yy[w == 0][: int((w == 0).sum() * k)]
    else:
        raise ValueError(f"strategy must be 'overall' or 'by_group', got {strategy!r}")
    if len(yt) == 0 or len(yc) == 0:
        return float("nan")
    return float(yt.mean() - yc.mean())


def uplift_by_decile(y, treatment, score, bins: int = 10, alpha: float = 0.05) -> pd.DataFrame:
    """Measured uplift per group of customers ranked by ``score`` (group 1 = highest), with Newcombe intervals.

    Customers are sorted by descending score and cut into ``bins`` groups of (nearly) equal size across both
    arms (scikit-uplift's ``uplift_by_percentile(strategy="overall")``). Each group's uplift is the treated minus
    the control conversion rate, its interval the Newcombe hybrid score interval
    (:func:`helpers.acquisition.compare_variants`). A group without treated or control customers gets ``NaN``.

    Returns
    -------
    DataFrame
        ``group``, ``n``, ``n_treated``, ``n_control``, ``rate_treated``, ``rate_control``, ``uplift``,
        ``ci_low``, ``ci_high``, ``predicted`` (mean score), ``score_min``, ``score_max``.
    """
    yy, w, s = _sorted(y, treatment, score)
    rows = []
    for g, idx in enumerate(np.array_split(np.arange(len(yy)), bins), start=1):
        r = _arm_difference(yy[idx], w[idx], alpha)
        sc = s[idx]
        rows.append(
            {
                "group": g,
                "n": len(idx),
                **r,
                "predicted": float(sc.mean()) if len(idx) else np.nan,
                "score_min": float(sc.min()) if len(idx) else np.nan,
                "score_max": float(sc.max()) if len(idx) else np.nan,
            }
        )
    return pd.DataFrame(rows)


def _arm_difference(y: np.ndarray, w: np.ndarray, alpha: float) -> dict:
    """Treated − control rate with the Newcombe interval, via compare_variants (NaN when an arm is empty)."""
    nt, nc = int((w == 1).sum()), int((w == 0).sum())
    out = {"n_treated": nt, "n_control": nc}
    if nt == 0 or nc == 0:
        return {**out, "rate_treated": np.nan, "rate_control": np.nan, "uplift": np.nan, "ci_low": np.nan,
                "ci_high": np.nan}  # fmt: skip
    arms = np.where(w == 1, "treatment", "control")
    with np.errstate(divide="ignore", invalid="ignore"):  # a group without converters: the score test divides by 0
        r = compare_variants(
            pd.DataFrame({"arm": arms, "y": y.astype(bool)}), "arm", "y", control="control", alpha=alpha
        )
    r = r.set_index("variant")
    t = r.loc["treatment"]
    return {
        **out,
        "rate_treated": float(t["rate"]),
        "rate_control": float(r.loc["control", "rate"]),
        "uplift": float(t["diff"]),
        "ci_low": float(t["diff_ci_low"]),
        "ci_high": float(t["diff_ci_high"]),
    }


# ------------------------------------------------------------------------------------------------ verdict
@dataclass(frozen=True)
class UpliftVerdict:
    """Whether per-customer uplift beats the average effect on held-out randomised customers (data, not prose).

    ``use`` is ``"model"`` only when both tests agree: the Qini coefficient is above its permutation null
    (``qini_p_value < alpha``) **and** the measured uplift of the top ``top_share`` by predicted uplift exceeds the
    rest's, with the interval of the difference above 0 (MOVER combination of the two Newcombe intervals,
    Zou & Donner 2008). Otherwise ``use = "average"``: rank nobody by individual predictions; the average effect
    (``average_effect`` with its Newcombe interval) applies to everyone. ``message`` says so in the chosen language.

    ``harm_below``: walking the predicted-uplift groups of :func:`uplift_by_decile` up from the lowest, the highest
    predicted uplift of the consecutive groups whose measured uplift interval lies entirely below 0 (``NaN`` when the
    lowest group's does not). Customers predicted at or below it are where a contact measurably *lowered* the
    outcome. ``harm_above`` mirrors it from the top (groups whose interval lies entirely above 0): for a deletion
    model, where a rise is the harm. A "leave alone" list needs measured harm, not only a negative prediction
    (:func:`helpers.targeting.contact_list`).
    """

    use: str
    heterogeneous: bool
    qini: float
    qini_p_value: float
    top_share: float
    uplift_top: float
    uplift_rest: float
    difference: float
    difference_ci_low: float
    difference_ci_high: float
    average_effect: float
    average_effect_ci_low: float
    average_effect_ci_high: float
    n_test: int
    message: str
    harm_below: float = float("nan")
    harm_above: float = float("nan")

    @property
    def harm_measured_below(self) -> bool:
        """Whether the lowest-predicted groups measurably lost on held-out customers (see ``harm_below``)."""
        return bool(np.isfinite(self.harm_below))

    @property
    def harm_measured_above(self) -> bool:
        """Whether the highest-predicted groups measurably rose on held-out customers (see ``harm_above``)."""
        return bool(np.isfinite(self.harm_above))

    def as_dict(self) -> dict:
        """Return the verdict as a plain dict (for JSON artifacts and the decision record)."""
        return {**asdict(self), "harm_measured_below": self.harm_measured_below,
                "harm_measured_above": self.harm_measured_above}  # fmt: skip


@dataclass(frozen=True)
class UpliftEvaluation:
    """Everything :func:`evaluate` measured on held-out customers."""

    qini_curve: pd.DataFrame
    uplift_curve: pd.DataFrame
    qini: float
    auuc: float
    uplift_at_k: float
    k: float
    deciles: pd.DataFrame
    verdict: UpliftVerdict

    def summary(self) -> dict:
        """Return the scalar metrics and the verdict's decision as one flat dict."""
        return {
            "qini": self.qini,
            "auuc": self.auuc,
            f"uplift_at_{round(self.k * 100)}pct": self.uplift_at_k,
            "use": self.verdict.use,
            "qini_p_value": self.verdict.qini_p_value,
        }


def _mover_difference(d1: float, l1: float, u1: float, d2: float, l2: float, u2: float) -> tuple[float, float]:
    """Interval of ``d1 − d2`` from intervals of each (MOVER, Zou & Donner 2008; Newcombe's method, one level up)."""
    d = d1 - d2
    return d - float(np.hypot(d1 - l1, u2 - d2)), d + float(np.hypot(u1 - d1, d2 - l2))


def _qini_permutation_p(yy: np.ndarray, w: np.ndarray, observed: float, n_permutations: int, seed: int) -> float:
    """P-value of the Qini coefficient against scores unrelated to the outcome (random orderings of the customers).

    Each permutation draws a random ranking; the normalising perfect area is fixed, so only the model area is
    recomputed. ``p = (1 + #{null ≥ observed}) / (1 + permutations)``.
    """
    perfect = _cumulative(yy, w, yy * w - yy * (1 - w))
    n = len(yy)
    den = _area_above_random(perfect["n"].astype(float), _qini_values(perfect))
    if den == 0 or not np.isfinite(observed):
        return float("nan")
    rng = np.random.default_rng(seed)
    x = np.arange(n + 1, dtype=float)
    ge = 0
    for _ in range(n_permutations):
        o = rng.permutation(n)
        yo, wo = yy[o], w[o]
        nt = np.r_[0, np.cumsum(wo)]
        nc = x - nt
        yt = np.r_[0, np.cumsum(yo * wo)]
        yc = np.r_[0, np.cumsum(yo * (1 - wo))]
        q = yt - yc * _div(nt.astype(float), nc)
        ge += _area_above_random(x, q) / den >= observed
    return (1 + ge) / (1 + n_permutations)


def _harm_edges(deciles: pd.DataFrame) -> tuple[float, float]:
    """Score edges of the consecutive bottom (top) groups whose measured uplift interval is below (above) 0."""
    below = above = float("nan")
    for _, g in deciles.iloc[::-1].iterrows():
        if not g["ci_high"] < 0:
            break
        below = float(g["score_max"])
    for _, g in deciles.iterrows():
        if not g["ci_low"] > 0:
            break
        above = float(g["score_min"])
    return below, above


def evaluate(
    y,
    treatment,
    score,
    k: float = 0.3,
    bins: int = 10,
    alpha: float = 0.05,
    n_permutations: int = 199,
    min_per_arm: int = 50,
    random_state: int = 0,
    lang: str = "zh",
) -> UpliftEvaluation:
    """Evaluate predicted uplift on held-out randomised customers, and decide whether to trust it over the average.

    Parameters
    ----------
    y, treatment, score : array-like
        Outcome (0/1), treatment (0/1 or arm labels) and predicted uplift of customers the model never saw.
    k : float
        Share of the top for uplift@k and for the top-vs-rest test of the verdict.
    bins : int
        Groups of :func:`uplift_by_decile`.
    alpha : float
        Level of the intervals (``1 − alpha``) and of the permutation test.
    n_permutations : int
        Random rankings for the Qini null.
    min_per_arm : int
        Below this many treated or control customers no verdict in favour of the model is possible.
    random_state : int
        Seed of the permutations.
    lang : {"zh", "en"}
        Language of the verdict's message.

    Returns
    -------
    UpliftEvaluation
        Curves, Qini coefficient, AUUC, uplift@k, deciles and the :class:`UpliftVerdict`.
    """
    t = _text(lang)
    yy, w = _as_binary(y), _as_treatment(treatment)
    s = np.asarray(score, dtype=float)
    q = qini_coefficient(yy, w, s)
    deciles = uplift_by_decile(yy, w, s, bins=bins, alpha=alpha)
    avg = _arm_difference(yy, w, alpha)
    ys, ws, _ = _sorted(yy, w, s)
    n_top = int(len(ys) * k)
    top = _arm_difference(ys[:n_top], ws[:n_top], alpha)
    rest = _arm_difference(ys[n_top:], ws[n_top:], alpha)
    d = top["uplift"] - rest["uplift"]
    if np.isfinite(d):
        dl, dh = _mover_difference(
            top["uplift"], top["ci_low"], top["ci_high"], rest["uplift"], rest["ci_low"], rest["ci_high"]
        )
    else:
        dl = dh = float("nan")
    enough = min(int(w.sum()), int((1 - w).sum())) >= min_per_arm
    p = _qini_permutation_p(yy, w, q, n_permutations, random_state) if enough else float("nan")
    hetero = bool(enough and p < alpha and dl > 0)
    harm_below, harm_above = _harm_edges(deciles)
    from helpers.labels import fmt_pp

    pp = lambda v: fmt_pp(v, lang)  # noqa: E731  differences of two rates: percentage points, never "%"
    bare = lambda v: "—" if not np.isfinite(v) else f"{100 * v:+.1f}"  # noqa: E731  an interval's lower bound
    floor = 1 / (1 + n_permutations)  # no permuted Qini reached the observed one: p is at most this
    fields = dict(
        qini=q, p=p, ptext=(f"≤ {floor:.3f}" if enough and p <= floor * (1 + 1e-9) else f"= {p:.3f}"), top=k,
        ut=pp(top["uplift"]), ur=pp(rest["uplift"]), d=pp(d), dl=bare(dl), dh=pp(dh), ate=pp(avg["uplift"]),
        al=bare(avg["ci_low"]), ah=pp(avg["ci_high"]), level=1 - alpha, m=min_per_arm,
    )  # fmt: skip
    message = t["hetero" if hetero else ("flat" if enough else "too_few")].format(**fields)
    verdict = UpliftVerdict(
        use="model" if hetero else "average",
        heterogeneous=hetero,
        qini=q,
        qini_p_value=p,
        top_share=k,
        uplift_top=top["uplift"],
        uplift_rest=rest["uplift"],
        difference=d,
        difference_ci_low=dl,
        difference_ci_high=dh,
        average_effect=avg["uplift"],
        average_effect_ci_low=avg["ci_low"],
        average_effect_ci_high=avg["ci_high"],
        n_test=len(yy),
        message=message,
        harm_below=harm_below,
        harm_above=harm_above,
    )
    return UpliftEvaluation(
        qini_curve=qini_curve(yy, w, s),
        uplift_curve=uplift_curve(yy, w, s),
        qini=q,
        auuc=auuc(yy, w, s),
        uplift_at_k=uplift_at_k(yy, w, s, k=k),
        k=k,
        deciles=deciles,
        verdict=verdict,
    )


# ------------------------------------------------------------------------------------------ leakage guard
class LeakageError(ValueError):
    """A feature was measured on or after the assignment date: it could carry the treatment's effect."""


def check_pretreatment(
    frame: pd.DataFrame, assigned_at: str = "assigned_at", time_columns: list[str] | None = None
) -> pd.DataFrame:
    """Raise :class:`LeakageError` if any feature timestamp is on or after its row's assignment time.

    Features of an uplift model must describe customers *before* they were assigned; an order or a touch on the
    assignment day or later may already be the treatment's effect, and a model trained on it would "predict" the
    outcome from itself.

    Parameters
    ----------
    frame : DataFrame
        One row per assigned customer, with ``assigned_at`` and the timestamps the features were built from
        (for :func:`helpers.features.pretreatment_features`: ``last_order_at``, ``last_touch_at``).
    assigned_at : str
        Column of the assignment time (the campaign's first day, 00:00).
    time_columns : list of str, optional
        Timestamp columns to check; default every datetime column except ``assigned_at``.

    Returns
    -------
    DataFrame
        ``frame`` unchanged, when nothing leaks.

    Examples
    --------
    >>> f = pd.DataFrame({"assigned_at": pd.to_datetime(["2025-10-20"] * 2),
    ...                   "last_order_at": pd.to_datetime(["2025-10-19 23:59", "2025-10-20 08:00"])})
    >>> check_pretreatment(f)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    helpers.uplift.LeakageError: 1 of 2 rows have last_order_at on or after assigned_at (first: row 1, ...
    """
    if assigned_at not in frame.columns:
        raise LeakageError(f"no {assigned_at!r} column: cannot check that features precede the assignment")
    if time_columns is None:
        time_columns = [c for c in frame.columns if c != assigned_at and pd.api.types.is_datetime64_any_dtype(frame[c])]
    at = pd.to_datetime(frame[assigned_at])
    for c in time_columns:
        bad = pd.to_datetime(frame[c]) >= at
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise LeakageError(
                f"{int(bad.sum())} of {len(frame)} rows have {c} on or after {assigned_at} (first: row {i}, "
                f"{frame[c].iloc[i]} >= {at.iloc[i]}): features must be measured strictly before the assignment date"
            )
    return frame


# -------------------------------------------------------------------------------------------------- plots
def plot_qini(curves: pd.DataFrame | dict[str, pd.DataFrame], ax: plt.Axes | None = None, lang: str = "zh") -> plt.Axes:
    """Qini curves (incremental conversions vs share contacted) with the random-targeting line.

    Parameters
    ----------
    curves : DataFrame or dict of DataFrame
        Output of :func:`qini_curve` (or ``UpliftEvaluation.qini_curve``), or several by model name.
    ax : Axes, optional
        Where to draw.
    lang : {"zh", "en"}
        Language of the labels.

    Returns
    -------
    Axes
        The axes drawn on.
    """
    t = _text(lang)
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4.5))
    if isinstance(curves, pd.DataFrame):
        curves = {t["model"]: curves}
    first = None
    for name, c in curves.items():
        ax.plot(c["share"], c["qini"], label=name, lw=1.8)
        first = c if first is None else first
    if first is not None:
        ax.plot(first["share"], first["random"], ls="--", color="grey", lw=1, label=t["random"])
    ax.axhline(0, color="black", lw=0.6)
    ax.xaxis.set_major_formatter(plt.matplotlib.ticker.PercentFormatter(1.0))
    ax.set_xlabel(t["targeted"])
    ax.set_ylabel(t["qini_y"])
    ax.set_title(t["qini_title"])
    ax.legend()
    return ax


def plot_uplift_by_decile(
    deciles: pd.DataFrame, average_effect: float | None = None, ax: plt.Axes | None = None, lang: str = "zh"
) -> plt.Axes:
    """Measured uplift per predicted-uplift group with 95 % Newcombe intervals, and the mean prediction per group.

    Parameters
    ----------
    deciles : DataFrame
        Output of :func:`uplift_by_decile`.
    average_effect : float, optional
        Drawn as a dashed line (the effect everyone gets when the model does not beat the average).
    ax : Axes, optional
        Where to draw.
    lang : {"zh", "en"}
        Language of the labels.

    Returns
    -------
    Axes
        The axes drawn on.
    """
    t = _text(lang)
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    g = deciles["group"].to_numpy()
    err = np.vstack([deciles["uplift"] - deciles["ci_low"], deciles["ci_high"] - deciles["uplift"]])
    ax.bar(g, deciles["uplift"], color="#4C72B0", alpha=0.8, label=t["decile_y"])
    ax.errorbar(g, deciles["uplift"], yerr=err, fmt="none", ecolor="black", capsize=3, lw=1)
    ax.plot(g, deciles["predicted"], "o-", color="#DD8452", ms=4, label=t["predicted"])
    if average_effect is not None and np.isfinite(average_effect):
        ax.axhline(average_effect, ls="--", color="grey", lw=1, label=f"{t['average']} {average_effect:+.1%}")
    ax.axhline(0, color="black", lw=0.6)
    ax.set_xticks(g)
    ax.yaxis.set_major_formatter(plt.matplotlib.ticker.PercentFormatter(1.0))
    ax.set_xlabel(t["decile"])
    ax.set_ylabel(t["decile_y"])
    ax.set_title(t["decile_title"])
    ax.legend()
    return ax


# -------------------------------------------------------------------------------------------- cross-fitting
#: Uplift models by name (the ``uplift_model`` parameter): a factory per name, given a seed.
MODELS: dict[str, Callable[[int], _UpliftModel]] = {
    "x_learner_hgb": lambda seed: XLearnerUplift("hgb", random_state=seed),
    "x_learner": lambda seed: XLearnerUplift("logistic", random_state=seed),
    "two_model_hgb": lambda seed: TwoModelUplift("hgb", random_state=seed),
    "two_model": lambda seed: TwoModelUplift("logistic", random_state=seed),
    "class_transformation": lambda seed: ClassTransformationUplift("logistic", random_state=seed),
}

#: Display names of :data:`MODELS`.
MODEL_NAMES: dict[str, dict[str, str]] = {
    "x_learner_hgb": {"zh": "X-learner（梯度提升树）", "en": "X-learner (gradient-boosted trees)"},
    "x_learner": {"zh": "X-learner（逻辑回归）", "en": "X-learner (logistic)"},
    "two_model_hgb": {"zh": "双模型（梯度提升树）", "en": "two-model (gradient-boosted trees)"},
    "two_model": {"zh": "双模型（逻辑回归）", "en": "two-model (logistic)"},
    "class_transformation": {"zh": "类别转换（逻辑回归）", "en": "class transformation (logistic)"},
}


def make_model(name: str, random_state: int = 0) -> _UpliftModel:
    """Return a fresh uplift model by its :data:`MODELS` name.

    Examples
    --------
    >>> make_model("x_learner_hgb")
    XLearnerUplift(learner='hgb', max_train_rows=500000, n_threads=1, random_state=0, effect_learner=None, not fitted)
    """
    if name not in MODELS:
        raise ValueError(f"uplift model must be one of {', '.join(MODELS)}, got {name!r}")
    return MODELS[name](random_state)


class CrossFittedUplift(FittedModel):
    """K-fold cross-fitting: every customer of the test is predicted by a model that never saw them.

    The randomised customers are cut into ``folds`` folds stratified by treatment × outcome; a clone of ``model``
    is fitted on all folds but one and predicts the one left out. The out-of-fold predictions ``oof_`` cover
    every tested customer, so the held-out evaluation (:func:`evaluate`) uses the whole test instead of a 30 %
    split — on a test of a few thousand customers one split's verdict flipped with its seed; five folds did not.
    New customers (today's friends) get the average of the ``folds`` fold models (:meth:`predict_uplift`).

    Parameters
    ----------
    model : uplift model
        An unfitted :class:`TwoModelUplift`, :class:`ClassTransformationUplift` or :class:`XLearnerUplift`
        (copied per fold; its ``random_state`` is kept).
    folds : int
        Number of folds (at least 2).
    random_state : int
        Seed of the fold assignment.

    Attributes
    ----------
    oof_ : Series
        Out-of-fold predicted uplift, one per training row (same order).
    fold_ : ndarray
        Fold of each training row.
    models_ : list
        The fitted fold models.

    Examples
    --------
    >>> from helpers.simulate import uplift_population
    >>> d = uplift_population(3000, seed=1)
    >>> cf = CrossFittedUplift(TwoModelUplift(), folds=3).fit(d[["x0", "x1", "x2"]], d["treatment"], d["y"])
    >>> len(cf.models_), cf.oof_.shape, sorted(set(cf.fold_.tolist()))
    (3, (3000,), [0, 1, 2])
    >>> bool(np.corrcoef(cf.oof_, d["tau"])[0, 1] > 0.5)
    True
    """

    def __init__(self, model: _UpliftModel, folds: int = 5, random_state: int = 0) -> None:
        self.model = model
        self.folds = folds
        self.random_state = random_state

    def fit(self, X: pd.DataFrame, treatment, y) -> CrossFittedUplift:
        """Fit one model per fold and predict the customers each model left out."""
        import copy

        from sklearn.model_selection import StratifiedKFold

        if self.folds < 2:
            raise ValueError(f"folds must be at least 2, got {self.folds}")
        X = pd.DataFrame(X).reset_index(drop=True)
        w, yy = _as_treatment(treatment), _as_binary(y)
        strata = w * 2 + yy
        if np.bincount(strata, minlength=4).min() < self.folds:
            raise ValueError(f"each arm × outcome cell needs at least {self.folds} customers for {self.folds} folds")
        skf = StratifiedKFold(self.folds, shuffle=True, random_state=self.random_state)
        oof = np.full(len(X), np.nan)
        self.fold_ = np.zeros(len(X), dtype=int)
        self.models_ = []
        splits = list(skf.split(X, strata))

        def fit_fold(tr: np.ndarray, te: np.ndarray) -> tuple:
            m = copy.deepcopy(self.model).fit(X.iloc[tr], w[tr], yy[tr])
            return m, m.predict_uplift(X.iloc[te]).to_numpy()

        # the folds are independent: fitted side by side in threads (the trees' compiled code releases the GIL)
        fitted = thread_map(fit_fold, [tr for tr, _ in splits], [te for _, te in splits])
        for k, ((_, te), (m, pred)) in enumerate(zip(splits, fitted, strict=True)):
            oof[te] = pred
            self.fold_[te] = k
            self.models_.append(m)
        self.oof_ = pd.Series(oof, name="uplift")
        self.features_ = list(X.columns)
        self.params_ = {
            "folds": float(self.folds),
            "n": float(len(X)),
            "treatment_share": float(w.mean()),
            "average_effect": float(yy[w == 1].mean() - yy[w == 0].mean()),
        }
        self.standard_errors_ = dict.fromkeys(self.params_, float("nan"))
        self.log_likelihood_ = float("nan")
        self.notes_ = [f"{self.folds}-fold cross-fitting: every tested customer scored by a model that never saw them"]
        return self

    def predict_uplift(self, X: pd.DataFrame) -> pd.Series:
        """Average predicted uplift of the fold models, one per row of ``X``."""
        self._check_fitted()
        preds = np.column_stack([m.predict_uplift(X).to_numpy() for m in self.models_])
        return pd.Series(preds.mean(axis=1), index=pd.DataFrame(X).index, name="uplift")


@dataclass
class UpliftComparison:
    """Several uplift models judged by cross-fitting on one randomised test (:func:`compare_models`)."""

    table: pd.DataFrame
    fits: dict
    evaluations: dict
    chosen: str

    @property
    def model(self) -> CrossFittedUplift:
        """The cross-fitted model chosen in advance (the one that drives the list)."""
        return self.fits[self.chosen]

    @property
    def evaluation(self) -> UpliftEvaluation:
        """The held-out evaluation of the chosen model."""
        return self.evaluations[self.chosen]


def compare_models(
    X: pd.DataFrame,
    treatment,
    y,
    chosen: str = "x_learner_hgb",
    models: tuple[str, ...] | None = None,
    folds: int = 5,
    random_state: int = 0,
    k: float = 0.3,
    alpha: float = 0.05,
    lang: str = "zh",
) -> UpliftComparison:
    """Cross-fit several uplift models on one randomised test and tabulate their out-of-fold evaluation.

    The model that drives the list is ``chosen`` **in advance** (a parameter); the others are shown beside it for
    comparison, never picked from the results — picking the best of five on the same test would overstate it.

    Parameters
    ----------
    X, treatment, y : array-like
        Pre-treatment features, arm and outcome of the randomised customers.
    chosen : str
        Name in :data:`MODELS` of the model that drives the list.
    models : tuple of str, optional
        Models to show (default: all of :data:`MODELS`; ``chosen`` is always included, first).
    folds, random_state : int
        Cross-fitting folds and seed (also the learners' and the permutation test's seed).
    k, alpha : float
        Top share of uplift@k / the verdict, and the level of the intervals and the permutation test.
    lang : {"zh", "en"}
        Language of the verdict messages.

    Returns
    -------
    UpliftComparison
        ``table`` (``model``, ``chosen``, ``qini``, ``auuc``, ``uplift_at_k``, ``p_value``, ``verdict``), the
        cross-fitted models and the evaluations by name.
    """
    names = [chosen] + [m for m in (models if models is not None else tuple(MODELS)) if m != chosen]
    fits, evals, rows = {}, {}, []
    for name in names:
        cf = CrossFittedUplift(make_model(name, random_state), folds=folds, random_state=random_state).fit(
            X, treatment, y
        )
        ev = evaluate(y, treatment, cf.oof_, k=k, alpha=alpha, random_state=random_state, lang=lang)
        fits[name], evals[name] = cf, ev
        rows.append(
            {
                "model": name,
                "chosen": name == chosen,
                "qini": ev.qini,
                "auuc": ev.auuc,
                "uplift_at_k": ev.uplift_at_k,
                "p_value": ev.verdict.qini_p_value,
                "verdict": ev.verdict.use,
            }
        )
    return UpliftComparison(pd.DataFrame(rows), fits, evals, chosen)

"""Purchase propensity (购买倾向): P(buys in the next H days) with gradient boosting, validated in time.

Features are computed *before* a cutoff, the label *after* it. The model is trained at an earlier cutoff
(cutoff − H, labels in the H days up to the cutoff) and evaluated at the cutoff (labels in the next H days),
so no information from the evaluation period leaks into training.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from joblib import parallel_config
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.inspection import permutation_importance
from sklearn.metrics import brier_score_loss, roc_auc_score

from helpers import features
from helpers.base import cpu_threads, map_threads, thread_map
from helpers.engine import Engine
from helpers.repurchase import summarize

__all__ = [
    "PropensityModel",
    "build_frame",
    "cumulative_gains",
    "plot_gains",
    "ranking_decision",
    "ranking_sentence",
    "ranking_verdict",
]


def build_frame(
    eng: Engine, cutoff: str | pd.Timestamp, horizon_days: int
) -> tuple[pd.DataFrame, pd.Series, pd.DataFrame]:
    """Features at ``cutoff`` and the label "bought in the next ``horizon_days``" for customers who bought by then.

    Features (all from data up to the cutoff day): BG/NBD summary (frequency, recency, T, monetary value, days
    since the last purchase), paid orders, GMV and refunds, touches received in the 30 days before the cutoff
    by type, tenure as a contact, still a friend, and acquisition channel.

    Returns
    -------
    X : DataFrame
        Features indexed by ``user_id``.
    y : Series
        1 if the customer made a purchase occasion on a day in ``(cutoff, cutoff + horizon_days]``.
    summary : DataFrame
        The calibration summary (days), for BG/NBD on the same customers.
    """
    cutoff = pd.Timestamp(cutoff).normalize()
    end = cutoff + pd.Timedelta(days=horizon_days)
    summ = summarize(eng.table("orders"), cutoff, unit="D")  # only what was known at the cutoff
    until = cutoff + pd.Timedelta(days=1)
    osum = eng.to_pandas(features.order_summary(eng.table("orders"), until))
    osum = osum.set_index("user_id")[["orders", "gmv", "refunds"]]
    later = features.purchase_days(eng.table("orders"), end, start=until)
    bought = set(eng.to_pandas(later.select("user_id").distinct())["user_id"])
    X = summ[["frequency", "recency", "T", "monetary_value"]].copy()
    X["days_since_last_purchase"] = X["T"] - X["recency"]
    X = X.join(osum)
    if eng.has("touches"):
        tc = eng.to_pandas(features.touch_counts(eng.table("touches"), cutoff - pd.Timedelta(days=29), until))
        tc = tc.set_index("user_id")
        tc = tc.loc[:, (tc != 0).any()]
        X = X.join(tc).fillna({c: 0 for c in tc.columns})
    c = eng.to_pandas(eng.table("contacts").select("user_id", "added_at", "removed_at", "channel")).set_index("user_id")
    c = c.reindex(X.index)
    X["tenure_days"] = (until - c["added_at"]).dt.days
    X["is_friend"] = (c["removed_at"].isna() | (c["removed_at"] >= until)).astype(int)
    X["channel"] = c["channel"].astype("category")
    y = pd.Series(summ.index.isin(bought).astype(int), index=summ.index, name="bought")
    return X, y, summ[["frequency", "recency", "T", "monetary_value"]]


_FEATURES = {
    "frequency": ("复购次数（截点前）", "repeat purchases (before the cutoff)"),
    "recency": ("首购到末次购买的天数", "days from first to last purchase"),
    "T": ("首购至今的天数", "days since the first purchase"),
    "monetary_value": ("复购单均金额", "average repeat order value"),
    "days_since_last_purchase": ("距上次购买的天数", "days since the last purchase"),
    "orders": ("已付订单数", "paid orders"),
    "gmv": ("成交额（GMV）", "GMV"),
    "refunds": ("退款数", "refunds"),
    "touches": ("近 30 天触达次数", "touches in the last 30 days"),
    "tenure_days": ("加好友天数", "days as a friend"),
    "is_friend": ("仍是好友", "still a friend"),
    "channel": ("获客渠道", "acquisition channel"),
}


def feature_name(code: str, labels) -> str:
    """Return a feature's display name in the report language (``touches_<type>`` names the touch type).

    Examples
    --------
    >>> from helpers.labels import Labels
    >>> feature_name("touches_private_chat", Labels("zh")), feature_name("gmv", Labels("en"))
    ('近 30 天触达次数：私聊', 'GMV')
    """
    zh = labels.lang == "zh"
    if code in _FEATURES:
        return _FEATURES[code][0 if zh else 1]
    if code.startswith("touches_"):
        kind = labels.name("touch_type", code.removeprefix("touches_"))
        return f"近 30 天触达次数：{kind}" if zh else f"touches in the last 30 days: {kind}"
    return code


#: Rows per block when :meth:`PropensityModel.predict_proba` predicts in threads.
PREDICT_BLOCK = 100_000


class PropensityModel:
    """Calibrated ``HistGradientBoostingClassifier`` for P(purchase within the horizon).

    Parameters
    ----------
    random_state : int
        Seed of the boosting model.
    calibration : {"isotonic", "sigmoid"}
        Probability calibration method (cross-validated, 3 folds).
    n_threads : int, optional
        OpenMP / BLAS threads while fitting, predicting and permuting (``None``: every core). Default 1: see
        :func:`helpers.base.cpu_threads` for what more threads cost on a shared machine.
    n_jobs : int, optional
        Python threads that predict row blocks and permute features side by side (``None``: one per core;
        :func:`helpers.base.thread_map`). The results are identical for any number: each block and each
        feature's permutations are computed as they would be alone.

    Attributes
    ----------
    features_ : list of str
        Columns used.
    model_ : CalibratedClassifierCV
        The fitted calibrated model.
    """

    def __init__(
        self, random_state: int = 0, calibration: str = "isotonic", n_threads: int | None = 1, n_jobs: int | None = None
    ) -> None:
        self.random_state = random_state
        self.calibration = calibration
        self.n_threads = n_threads
        self.n_jobs = n_jobs

    def fit(self, X: pd.DataFrame, y: pd.Series, max_rows: int = 200_000) -> PropensityModel:
        """Fit on features ``X`` (numeric or category columns) and binary labels ``y``.

        Above ``max_rows`` rows the model trains on a seeded random sample of that size: gradient boosting on
        a few hundred thousand customers already ranks as well as on millions, at a fraction of the time.
        """
        y = pd.Series(y).astype(int)
        if len(X) > max_rows:
            keep = np.sort(np.random.default_rng(self.random_state).choice(len(X), max_rows, replace=False))
            X, y = X.iloc[keep], y.iloc[keep]
        if y.nunique() < 2:
            raise ValueError("the training labels have one class only: nobody (or everybody) bought in the window")
        self.features_ = list(X.columns)
        cats = [c for c in X.columns if isinstance(X[c].dtype, pd.CategoricalDtype)]
        base = HistGradientBoostingClassifier(
            max_iter=300,
            learning_rate=0.05,
            early_stopping=True,
            random_state=self.random_state,
            categorical_features=[X.columns.get_loc(c) for c in cats] or None,
        )
        with cpu_threads(self.n_threads):
            self.model_ = CalibratedClassifierCV(base, method=self.calibration, cv=3).fit(X, y)
        return self

    def predict_proba(self, X: pd.DataFrame) -> pd.Series:
        """P(purchase in the horizon) per row (blocks of rows predicted side by side, see ``n_jobs``)."""
        X = X[self.features_]
        blocks = [X.iloc[i : i + PREDICT_BLOCK] for i in range(0, max(len(X), 1), PREDICT_BLOCK)]
        with cpu_threads(self.n_threads):  # one block: predicted here with n_threads; several: one thread each
            p = np.concatenate(thread_map(lambda b: self.model_.predict_proba(b)[:, 1], blocks, n_threads=self.n_jobs))
        return pd.Series(p, index=X.index, name="p_purchase")

    def importance(self, X: pd.DataFrame, y: pd.Series, n_repeats: int = 5, max_rows: int = 20_000) -> pd.DataFrame:
        """Permutation importance (drop in ROC AUC when a feature is shuffled), on held-out data.

        At most ``max_rows`` held-out rows are used (a seeded random sample): each repeat re-scores the model, and
        the ranking of features is stable long before a million rows.
        """
        if len(X) > max_rows:
            keep = np.random.default_rng(self.random_state).choice(len(X), max_rows, replace=False)
            X, y = X.iloc[np.sort(keep)], y.iloc[np.sort(keep)]
        jobs = map_threads(self.n_jobs)  # features permuted side by side in threads (same seeds)
        with cpu_threads(self.n_threads), parallel_config(backend="threading", n_jobs=jobs):
            r = permutation_importance(
                self.model_,
                X[self.features_],
                y,
                scoring="roc_auc",
                n_repeats=n_repeats,
                random_state=self.random_state,
                n_jobs=jobs,
            )
        return (
            pd.DataFrame({"feature": self.features_, "auc_drop": r.importances_mean, "std": r.importances_std})
            .sort_values("auc_drop", ascending=False)
            .reset_index(drop=True)
        )


def cumulative_gains(y: pd.Series, score: pd.Series, bins: int = 10) -> pd.DataFrame:
    """Share of all buyers captured when contacting the top x % by score (lift = captured share / x).

    Examples
    --------
    >>> g = cumulative_gains(pd.Series([1, 0, 1, 0]), pd.Series([0.9, 0.1, 0.8, 0.2]), bins=2)
    >>> g[["contacted", "captured", "lift"]].to_dict("records")
    [{'contacted': 0.5, 'captured': 1.0, 'lift': 2.0}, {'contacted': 1.0, 'captured': 1.0, 'lift': 1.0}]
    """
    order = np.argsort(-np.asarray(score, dtype=float), kind="stable")
    ys = np.asarray(y, dtype=float)[order]
    n, total = len(ys), ys.sum()
    cuts = np.ceil(np.linspace(0, n, bins + 1)[1:]).astype(int)
    captured = np.cumsum(ys)[cuts - 1] / total if total else np.zeros(bins)
    contacted = cuts / n
    return pd.DataFrame({"contacted": contacted, "captured": captured, "lift": captured / contacted})


def plot_gains(curves: dict[str, pd.DataFrame], ax: plt.Axes | None = None, lang: str = "zh") -> plt.Axes:
    """Cumulative gains curves of several scores, with the random baseline.

    Parameters
    ----------
    curves : dict
        Name → output of :func:`cumulative_gains`.
    ax : Axes, optional
        Where to draw.

    Returns
    -------
    Axes
        The axes drawn on.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4.5))
    for name, g in curves.items():
        ax.plot(np.r_[0, g["contacted"]], np.r_[0, g["captured"]], marker="o", ms=3, label=name)
    zh = lang == "zh"
    ax.plot([0, 1], [0, 1], color="grey", ls="--", label="随机" if zh else "random")
    fmt = plt.matplotlib.ticker.PercentFormatter(1.0)
    ax.xaxis.set_major_formatter(fmt)
    ax.yaxis.set_major_formatter(fmt)
    ax.set_xlabel("按得分从高到低触达的客户比例" if zh else "customers reached, best scores first")
    ax.set_ylabel("覆盖的下期购买者比例" if zh else "share of next-period buyers captured")
    ax.set_title("检验期的累计增益" if zh else "Cumulative gains on the test cutoff")
    ax.legend(fontsize="small")
    return ax


def ranking_verdict(y: pd.Series, scores: dict[str, pd.Series], lang: str = "en") -> tuple[pd.DataFrame, str]:
    """ROC AUC and Brier score of each score on the same holdout, and a plain verdict on which ranks better.

    Returns
    -------
    table : DataFrame
        ``model``, ``auc``, ``brier``, ``top_decile_lift`` (best AUC first).
    verdict : str
        One sentence, generated from :func:`ranking_decision`.
    """
    rows = []
    for name, s in scores.items():
        g = cumulative_gains(y, s)
        rows.append(
            {
                "model": name,
                "auc": roc_auc_score(y, s),
                "brier": brier_score_loss(y, np.clip(s, 0, 1)),
                "top_decile_lift": float(g["lift"].iloc[0]),
            }
        )
    t = pd.DataFrame(rows).sort_values("auc", ascending=False).reset_index(drop=True)
    return t, ranking_sentence(ranking_decision(t), lang)


def ranking_decision(table: pd.DataFrame, tie: float = 0.005) -> dict:
    """Return which score ranks better, as data: ``winner``, ``runner_up``, their ``auc``s and ``tie``.

    Two scores whose AUCs differ by less than ``tie`` rank about equally (``tie`` True: use the simpler one).

    Examples
    --------
    >>> t = pd.DataFrame({"model": ["ML", "BG/NBD"], "auc": [0.81, 0.78]})
    >>> d = ranking_decision(t)
    >>> d["winner"], d["runner_up"], d["tie"]
    ('ML', 'BG/NBD', False)
    """
    t = table.sort_values("auc", ascending=False, kind="stable")
    best = t.iloc[0]
    second = t.iloc[1] if len(t) > 1 else None
    return {
        "winner": str(best["model"]),
        "auc": float(best["auc"]),
        "runner_up": None if second is None else str(second["model"]),
        "runner_up_auc": None if second is None else float(second["auc"]),
        "tie": second is not None and float(best["auc"] - second["auc"]) < tie,
    }


def ranking_sentence(decision: dict, lang: str = "zh", auc: bool = True) -> str:
    """Say :func:`ranking_decision` in ``lang`` (``auc=False``: the decision without the figures).

    Examples
    --------
    >>> d = {"winner": "ML", "auc": 0.81, "runner_up": "BG/NBD", "runner_up_auc": 0.78, "tie": False}
    >>> ranking_sentence(d, "zh"), ranking_sentence(d, "en", auc=False)
    ('ML 排序更好：AUC 0.810，BG/NBD 为 0.780', 'ML ranks better')
    """
    w, r = decision["winner"], decision["runner_up"]
    a, b = f"{decision['auc']:.3f}", "" if r is None else f"{decision['runner_up_auc']:.3f}"
    if r is None:
        return f"{w}: AUC {a}"
    if decision["tie"]:
        head = {"zh": f"{w} 与 {r} 排序能力相当", "en": f"{w} and {r} rank about equally"}[lang]
        tail = {
            "zh": f"（AUC {a} 对 {b}），选更简单、可解释的那个",
            "en": f" (AUC {a} vs {b}); use the simpler, explainable one",
        }
        return head + (tail[lang] if auc else "")
    head = {"zh": f"{w} 排序更好", "en": f"{w} ranks better"}[lang]
    tail = {"zh": f"：AUC {a}，{r} 为 {b}", "en": f": AUC {a} vs {b} for {r}"}
    return head + (tail[lang] if auc else "")

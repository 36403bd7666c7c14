"""User tiers (用户分层): classic RFM scoring, clustering tiers, 80/20 concentration and tier migration.

Two ways to split contacts into tiers, side by side:

- **RFM scores** (:func:`rfm_scores`, :func:`rfm_classes`): recency, frequency and monetary value each scored 1–5
  by quintile, then the standard 8 classes (重要价值 … 一般挽留) by comparing each score with its mean. Everyone
  knows it; its cut points are arbitrary.
- **Clustering tiers** (:func:`fit_tiers`): lifecycle stages that are definitions, not patterns, are set by rule
  (``新客 new``: added fewer than ``new_days`` days ago; ``沉睡 dormant``: never bought since), and the
  established buyers are clustered with KMeans on log-scaled, standardised behaviour. k is chosen by silhouette
  over a range, and clusters are named from their centroid profiles and ordered by value.

Examples
--------
>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> X = pd.DataFrame(np.vstack([rng.normal(c, 0.3, (100, 2)) for c in (0, 4, 8)]), columns=["x", "y"])
>>> t = fit_tiers(X, k_range=range(2, 6), log=False)
>>> t.k_, t.labels_.nunique()
(3, 3)
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.metrics import adjusted_rand_score, silhouette_score

__all__ = [
    "CLUSTER_FEATURES",
    "RFM_CLASSES",
    "TIER_NAMES",
    "Tiers",
    "TierWarning",
    "export_tiers",
    "fit_tiers",
    "lorenz",
    "migration_matrix",
    "movers",
    "plot_k_selection",
    "plot_lorenz",
    "plot_migration",
    "plot_snake",
    "plot_tier_sizes",
    "rfm_classes",
    "rfm_scores",
    "top_share",
]

#: Behaviour columns clustered by default (from :func:`helpers.features.user_features`).
CLUSTER_FEATURES: tuple[str, ...] = ("recency_days", "orders_per_30d", "avg_order_value", "net_gmv")

#: Tier names: key → label shown to staff (Chinese first, English after).
TIER_NAMES: dict[str, str] = {
    "high_value": "高价值 high value",
    "potential": "潜力 potential",
    "regular": "一般 regular",
    "at_risk": "流失风险 at risk",
    "new": "新客 new",
    "dormant": "沉睡 dormant",
}

#: The standard 8 RFM classes, keyed by (R high, F high, M high).
RFM_CLASSES: dict[tuple[bool, bool, bool], str] = {
    (True, True, True): "重要价值 champions",
    (True, False, True): "重要发展 develop",
    (False, True, True): "重要保持 retain",
    (False, False, True): "重要挽留 win back",
    (True, True, False): "一般价值 loyal, low spend",
    (True, False, False): "一般发展 new, low spend",
    (False, True, False): "一般保持 fading, low spend",
    (False, False, False): "一般挽留 lost, low spend",
}
NEVER_BOUGHT = "未购 never bought"

_VALUE_COLUMNS = ("orders_per_30d", "avg_order_value", "net_gmv", "orders", "gmv")
_MINIBATCH_ABOVE = 200_000  # rows; above this the final KMeans runs as MiniBatchKMeans
_SELECT_K_ROWS = 100_000  # rows; k is chosen on a seeded sample of this size when there are more buyers


class TierWarning(UserWarning):
    """The data do not support the requested tiering (identical users, fewer users than tiers, …)."""


# ---------------------------------------------------------------------------------------------------------------
# Classic RFM
# ---------------------------------------------------------------------------------------------------------------


def rfm_scores(features: pd.DataFrame, bins: int = 5) -> pd.DataFrame:
    """Quintile scores 1–``bins`` for recency, frequency and monetary value, for buyers.

    Scores come from percentile ranks (ties share a score), so a mass of one-order buyers gets one F score
    instead of being split arbitrarily. Recency is reversed: the most recent buyers score ``bins``.

    Parameters
    ----------
    features : DataFrame
        ``recency_days``, ``orders`` and ``net_gmv`` per user (see :func:`helpers.features.user_features`).
    bins : int
        Number of score levels (5 = quintiles).

    Returns
    -------
    DataFrame
        ``R``, ``F``, ``M`` (int) and ``RFM`` (e.g. ``"545"``) for users with at least one paid order.

    Examples
    --------
    >>> f = pd.DataFrame({"recency_days": [1, 10, 100, 200, None], "orders": [9, 3, 1, 1, 0],
    ...                   "net_gmv": [900, 300, 80, 50, 0]})
    >>> rfm_scores(f)["RFM"].tolist()
    ['555', '444', '323', '222']
    """
    b = features[features["orders"] > 0]

    def score(x: pd.Series) -> pd.Series:
        return np.ceil(x.rank(method="average", pct=True) * bins).clip(1, bins).astype(int)

    out = pd.DataFrame(
        {"R": score(-b["recency_days"]), "F": score(b["orders"]), "M": score(b["net_gmv"])}, index=b.index
    )
    out["RFM"] = out["R"].astype(str) + out["F"].astype(str) + out["M"].astype(str)
    return out


def rfm_classes(scores: pd.DataFrame, index: pd.Index | None = None) -> pd.Series:
    """Label the standard 8 RFM classes (重要价值 … 一般挽留); a score is "high" when above its mean score.

    Parameters
    ----------
    scores : DataFrame
        Output of :func:`rfm_scores`.
    index : Index, optional
        Every user (e.g. ``features.index``); users without a score are labelled ``未购 never bought``.

    Returns
    -------
    Series
        Class label per user.

    Examples
    --------
    >>> s = pd.DataFrame({"R": [5, 1, 5], "F": [5, 1, 1], "M": [5, 5, 1]})
    >>> rfm_classes(s).tolist()
    ['重要价值 champions', '重要挽留 win back', '一般发展 new, low spend']
    """
    high = scores[["R", "F", "M"]] > scores[["R", "F", "M"]].mean()
    lab = pd.Series(
        [RFM_CLASSES[(bool(r), bool(f), bool(m))] for r, f, m in high.itertuples(index=False)], index=scores.index
    )
    if index is not None:
        lab = lab.reindex(index).fillna(NEVER_BOUGHT)
    return lab


# ---------------------------------------------------------------------------------------------------------------
# Clustering tiers
# ---------------------------------------------------------------------------------------------------------------


class Tiers:
    """Lifecycle rules plus KMeans clustering of established buyers, with tiers named from their profiles.

    Parameters
    ----------
    k : int, optional
        Number of clusters among established buyers; ``None`` chooses it by silhouette over ``k_range``.
    k_range : iterable of int
        Candidate k values.
    random_state : int
        Seed of KMeans and of the silhouette / bootstrap samples: same seed, same tiers.
    columns : sequence of str, optional
        Columns to cluster. Default: :data:`CLUSTER_FEATURES` when present, else every numeric column.
    new_days : float or None
        Contacts with ``tenure_days`` below this are ``新客 new``; ``None`` turns lifecycle rules off. Rules
        apply only when ``tenure_days`` and ``orders`` are columns.
    log : bool
        ``log1p`` the columns before standardising (counts and money are right-skewed; a log turns "twice as
        much" into the same distance at every scale). Negative values are clipped at 0 first.
    sample_size : int
        Rows used to compute each silhouette (it is quadratic in rows).
    n_init : int
        KMeans restarts per k.
    min_tier_size : int
        k is capped so that tiers of this many buyers are possible (k <= buyers / ``min_tier_size``); too few
        buyers form one tier, with a note.

    Attributes
    ----------
    labels_ : Series
        Tier name per user, indexed like the fitted features (ordered categorical, most valuable first).
    cluster_ : Series
        KMeans cluster per user (-1 for users set by a lifecycle rule).
    k_ : int
        Number of clusters used (0 when nothing was clustered).
    silhouette_ : float
        Silhouette of the chosen clustering (NaN when it is undefined).
    scores_ : DataFrame
        Per candidate k: ``inertia`` (the elbow) and ``silhouette``.
    profiles_ : DataFrame
        One row per tier: ``users``, ``share``, ``gmv_share`` and the median of each clustered column.
    centroids_ : DataFrame
        Cluster centres in the scaled space (standard deviations from the established-buyer mean).
    note_ : str
        Plain-language note on anything the data did not support ("" when all went as asked).
    k_note_ : str
        When k was chosen at the edge of ``k_range``: the silhouette of the next k outside it, and why k stands
        ("" otherwise). When the k outside scores clearly higher (by more than 0.01) the range is widened to it,
        step by step, and ``note_`` says so (with a :class:`TierWarning`).
    """

    def __init__(
        self,
        k: int | None = None,
        k_range: Iterable[int] = range(3, 9),
        random_state: int = 0,
        *,
        columns: Sequence[str] | None = None,
        new_days: float | None = 60,
        log: bool = True,
        sample_size: int = 10_000,
        n_init: int = 4,
        min_tier_size: int = 10,
    ) -> None:
        self.k = k
        self.k_range = k_range
        self.random_state = random_state
        self.columns = columns
        self.new_days = new_days
        self.log = log
        self.sample_size = sample_size
        self.n_init = n_init
        self.min_tier_size = min_tier_size

    # -- helpers ------------------------------------------------------------------------------------------------
    def _columns(self, features: pd.DataFrame) -> list[str]:
        if self.columns is not None:
            missing = [c for c in self.columns if c not in features.columns]
            if missing:
                raise ValueError(f"fit_tiers: columns not in the features table: {missing}")
            return list(self.columns)
        if all(c in features.columns for c in CLUSTER_FEATURES):
            return list(CLUSTER_FEATURES)
        cols = [c for c in features.columns if pd.api.types.is_numeric_dtype(features[c])]
        if not cols:
            raise ValueError("fit_tiers: the features table has no numeric column to cluster")
        return cols

    def _lifecycle(self, features: pd.DataFrame) -> pd.Series:
        stage = pd.Series("established", index=features.index, dtype=object)
        if self.new_days is None or not {"tenure_days", "orders"} <= set(features.columns):
            return stage
        stage[features["orders"] <= 0] = "dormant"
        stage[features["tenure_days"] < self.new_days] = "new"
        return stage

    def _logged(self, frame: pd.DataFrame) -> np.ndarray:
        """Return the clustered columns as an array, ``log1p``-ed when ``log`` (missing values are an error)."""
        x = frame[self.columns_].astype(float).to_numpy()
        if np.isnan(x).any():
            bad = [c for c, n in zip(self.columns_, np.isnan(x).sum(axis=0), strict=True) if n]
            raise ValueError(f"fit_tiers: missing values in {bad} among the users to cluster")
        return np.log1p(np.clip(x, 0, None)) if self.log else x

    def _transform(self, frame: pd.DataFrame) -> np.ndarray:
        return (self._logged(frame) - self.mean_) / self.scale_

    @staticmethod
    def _with_lifecycle(names: pd.Series, stage: pd.Series) -> pd.Series:
        for s in ("new", "dormant"):
            names[stage == s] = TIER_NAMES[s]
        return names

    def _kmeans(self, k: int, init: np.ndarray | None = None) -> KMeans | MiniBatchKMeans:
        start = {"init": init, "n_init": 1} if init is not None else {"n_init": self.n_init}
        if self._n_rows > _MINIBATCH_ABOVE:
            return MiniBatchKMeans(k, random_state=self.random_state, batch_size=4096, **start)
        return KMeans(k, random_state=self.random_state, **start)

    def _silhouette(self, x: np.ndarray, labels: np.ndarray) -> float:
        if not 2 <= len(np.unique(labels)) <= len(x) - 1:
            return float("nan")
        n = min(len(x), self.sample_size)
        return float(silhouette_score(x, labels, sample_size=n, random_state=self.random_state))

    # -- fitting ------------------------------------------------------------------------------------------------
    def fit(self, features: pd.DataFrame) -> Tiers:
        """Assign lifecycle stages, choose k, cluster established buyers and name the tiers.

        Parameters
        ----------
        features : DataFrame
            One row per user (index = user), e.g. :func:`helpers.features.user_features` indexed by user_id.

        Returns
        -------
        Tiers
            ``self``, fitted.
        """
        if len(features) == 0:
            raise ValueError("fit_tiers: the features table is empty (no users to tier)")
        self.columns_ = self._columns(features)
        stage = self._lifecycle(features)
        est = features[stage == "established"]
        self._n_rows = len(est)
        notes: list[str] = []
        cluster = pd.Series(-1, index=features.index, dtype=int)
        self.scores_ = pd.DataFrame(columns=["inertia", "silhouette"], dtype=float)
        self.k_, self.silhouette_ = 0, float("nan")
        self.k_note_ = ""
        self.centroids_ = pd.DataFrame(columns=self.columns_, dtype=float)
        if len(est) == 0:
            notes.append("no established buyers to cluster: every user is set by a lifecycle rule")
        else:
            logged = self._logged(est)
            self.mean_ = logged.mean(axis=0)
            sd = logged.std(axis=0)
            self.scale_ = np.where(sd > 0, sd, 1.0)
            x = (logged - self.mean_) / self.scale_
            n_distinct = len(np.unique(np.round(x, 9), axis=0))
            candidates = [self.k] if self.k is not None else sorted({int(k) for k in self.k_range})
            if not candidates or min(candidates) < 1:
                raise ValueError("fit_tiers: k and k_range must be positive integers")
            k_max = min(n_distinct, len(est) // self.min_tier_size)
            k_use = None
            if n_distinct < 2:
                notes.append(
                    f"all {len(est):,} established buyers have identical features: one tier, nothing to cluster"
                )
                k_use = 1
            elif k_max < 2:
                notes.append(
                    f"only {len(est):,} established buyers ({n_distinct:,} distinct): too few to split into tiers "
                    f"of at least {self.min_tier_size} users, so they form one tier"
                )
                k_use = 1
            elif max(candidates) > k_max:
                notes.append(
                    f"only {len(est):,} established buyers ({n_distinct:,} distinct): k limited to at most {k_max} "
                    f"(tiers of at least {self.min_tier_size} users; asked for "
                    f"{self.k if self.k is not None else list(candidates)})"
                )
                candidates = [k for k in candidates if k <= k_max] or [k_max]
            if k_use == 1:
                labels = np.zeros(len(est), dtype=int)
                self.centroids_ = pd.DataFrame([x.mean(axis=0)], columns=self.columns_)
                self.k_ = 1
            else:
                # choosing k: on a seeded sample when there are many buyers (inertia per buyer keeps the elbow)
                xs = x
                if len(x) > _SELECT_K_ROWS:
                    pick = np.random.default_rng(self.random_state).choice(len(x), _SELECT_K_ROWS, replace=False)
                    xs = x[np.sort(pick)]
                rows, fitted = {}, {}

                def score(k: int) -> None:
                    fitted[k] = KMeans(k, n_init=self.n_init, random_state=self.random_state).fit(xs)
                    rows[k] = {
                        "inertia": float(fitted[k].inertia_) * len(x) / len(xs),
                        "silhouette": self._silhouette(xs, fitted[k].labels_),
                    }

                for k in candidates:
                    score(k)
                while True:
                    self.scores_ = pd.DataFrame.from_dict(rows, orient="index").rename_axis("k").sort_index()
                    if len(rows) == 1 or self.scores_["silhouette"].isna().all():
                        best = candidates[0] if len(rows) == 1 else max(rows)
                        break
                    best = int(self.scores_["silhouette"].idxmax())
                    tried = sorted(rows)
                    if self.k is not None or best not in (tried[0], tried[-1]):
                        break
                    # k at the edge of the range: the next k outside it is tried; a clearly better one widens the
                    # range (the assumption "the best k is inside k_range" failed, so the fit changes, not just a note)
                    outside = best + 1 if best == tried[-1] else best - 1
                    if outside < 2 or outside > k_max:
                        self.k_note_ = f"k = {best} is at the edge of the k tried; k = {outside} cannot be tried"
                        break
                    score(outside)
                    s_best, s_out = rows[best]["silhouette"], rows[outside]["silhouette"]
                    side = "largest" if outside > best else "smallest"
                    if s_out > s_best + 0.01:
                        notes.append(
                            f"k = {best} was the {side} k tried, and k = {outside}, outside the range, scores clearly "
                            f"higher ({s_out:.3f} vs {s_best:.3f}): the range was widened to include it"
                        )
                        continue
                    verdict = (
                        f"clearly lower: {best} stands"
                        if s_out < s_best - 0.01
                        else "about the same (within 0.01): the silhouette cannot choose, the range decides"
                    )
                    self.k_note_ = (
                        f"k = {best} is the {side} k in the range (silhouette {s_best:.3f}); k = {outside}, outside "
                        f"it, scores {s_out:.3f} — {verdict}"
                    )
                    rows.pop(outside)  # shown in the note, not in the table of the range
                    fitted.pop(outside)
                    break
                if xs is x:
                    self.model_ = fitted[best]
                else:  # the chosen k on every buyer, started from the sample's centres
                    self.model_ = self._kmeans(best, init=fitted[best].cluster_centers_).fit(x)
                labels = self.model_.labels_
                self.k_ = best
                self.silhouette_ = float(self.scores_.loc[best, "silhouette"])
                self.centroids_ = pd.DataFrame(self.model_.cluster_centers_, columns=self.columns_)
            cluster.loc[est.index] = labels
        self.cluster_ = cluster
        self.names_ = self._name_clusters()
        names = self._with_lifecycle(cluster.map(self.names_).astype(object), stage)
        self.order_ = [n for n in self._ordered_names() if n in set(names)]
        self.labels_ = pd.Series(pd.Categorical(names, categories=self.order_, ordered=True), index=features.index)
        self.labels_.name = "tier"
        self.profiles_ = self.profile(features)
        self.note_ = "; ".join(notes)
        if self.note_:
            warnings.warn(self.note_, TierWarning, stacklevel=2)
        return self

    def _cluster_value(self) -> pd.Series | None:
        """Each cluster centre's mean over the value columns (None when the features are not RFM-like)."""
        c = self.centroids_
        value_cols = [col for col in _VALUE_COLUMNS if col in c.columns]
        if self.k_ == 0 or not value_cols or "recency_days" not in c.columns:
            return None
        return c[value_cols].mean(axis=1)

    def _name_clusters(self) -> dict[int, str]:
        """Name clusters from their centres: at risk if recency is high, else by value rank."""
        if self.k_ == 0:
            return {}
        c = self.centroids_
        value = self._cluster_value()
        if value is None:
            return {i: f"tier {i + 1}" for i in range(len(c))}
        at_risk = c["recency_days"] > 0.5
        if at_risk.all():
            at_risk[c["recency_days"].idxmin()] = False
        names: dict[int, str] = {}
        active = value[~at_risk].sort_values(ascending=False).index
        keys = ["high_value", "potential"] + ["regular"] * max(len(active) - 2, 0)
        if len(active) == 1:
            keys = ["high_value"] if value[active[0]] > 0 else ["regular"]
        for i, key in zip(active, keys, strict=False):
            names[int(i)] = TIER_NAMES[key]
        for i in value[at_risk].sort_values(ascending=False).index:
            names[int(i)] = TIER_NAMES["at_risk"]
        # two clusters with the same name get a number, most valuable first
        seen: dict[str, int] = {}
        for i in sorted(names, key=lambda j: -value[j]):
            n = names[i]
            seen[n] = seen.get(n, 0) + 1
            if seen[n] > 1:
                names[i] = f"{n} {seen[n]}"
        return names

    def _ordered_names(self) -> list[str]:
        value = self._cluster_value()
        if value is not None:
            risk = set(v for v in self.names_.values() if v.startswith(TIER_NAMES["at_risk"]))
            active = [self.names_[int(i)] for i in value.sort_values(ascending=False).index]
            cl = [n for n in active if n not in risk] + [n for n in active if n in risk]
        else:
            cl = [self.names_[i] for i in sorted(self.names_)]
        return cl + [TIER_NAMES["new"], TIER_NAMES["dormant"]]

    # -- using a fitted model -----------------------------------------------------------------------------------
    def predict(self, features: pd.DataFrame) -> pd.Series:
        """Tier of each user in ``features`` (e.g. at an earlier snapshot) with the fitted rules and centres.

        Parameters
        ----------
        features : DataFrame
            Same columns as the fitted table.

        Returns
        -------
        Series
            Tier name per user (ordered categorical, same categories as :attr:`labels_`).
        """
        stage = self._lifecycle(features)
        names = pd.Series(index=features.index, dtype=object)
        est = features[stage == "established"]
        if len(est) and self.k_:
            x = self._transform(est)
            d = ((x[:, None, :] - self.centroids_.to_numpy()[None, :, :]) ** 2).sum(axis=2)
            names.loc[est.index] = pd.Series(d.argmin(axis=1), index=est.index).map(self.names_)
        names = self._with_lifecycle(names, stage)
        cats = list(self.order_) + [n for n in self._ordered_names() if n not in self.order_]
        return pd.Series(pd.Categorical(names, categories=cats, ordered=True), index=features.index, name="tier")

    def profile(self, features: pd.DataFrame, labels: pd.Series | None = None) -> pd.DataFrame:
        """One row per tier: users, share of users, share of GMV and medians of the clustered columns.

        Parameters
        ----------
        features : DataFrame
            The per-user table.
        labels : Series, optional
            Tiers to profile; default :attr:`labels_`.

        Returns
        -------
        DataFrame
            Indexed by tier, most valuable first.
        """
        lab = self.labels_ if labels is None else labels
        g = features.groupby(lab, observed=True)
        out = pd.DataFrame({"users": g.size()})
        out["share"] = out["users"] / out["users"].sum()
        if "net_gmv" in features.columns:
            total = features["net_gmv"].sum()
            out["gmv_share"] = g["net_gmv"].sum() / total if total > 0 else np.nan
        extra = [c for c in ("tenure_days", "orders", "touches", "messages") if c in features.columns]
        med = g[[*self.columns_, *[c for c in extra if c not in self.columns_]]].median()
        return out.join(med.add_prefix("median_"))

    def stability(self, features: pd.DataFrame, n_boot: int = 20, sample_size: int = 20_000) -> pd.Series:
        """Bootstrap stability: refit on resamples, compare with the fitted clusters (adjusted Rand index).

        Parameters
        ----------
        features : DataFrame
            The fitted per-user table.
        n_boot : int
            Bootstrap resamples.
        sample_size : int
            Rows per resample (at most the number of established buyers).

        Returns
        -------
        Series
            ARI per resample: near 1 means the same tiers come back from other samples of the same users.
        """
        est = self.cluster_[self.cluster_ >= 0].index
        if self.k_ < 2 or len(est) < 3:
            return pd.Series(dtype=float, name="ari")
        x = self._transform(features.loc[est])
        base = self.cluster_.loc[est].to_numpy()
        rng = np.random.default_rng(self.random_state)
        n = min(len(x), sample_size)
        out = []
        for b in range(n_boot):
            idx = rng.integers(0, len(x), n)
            m = KMeans(self.k_, n_init=self.n_init, random_state=self.random_state + b + 1).fit(x[idx])
            out.append(adjusted_rand_score(base, m.predict(x)))
        return pd.Series(out, name="ari")


def fit_tiers(
    features: pd.DataFrame,
    k: int | None = None,
    k_range: Iterable[int] = range(3, 9),
    random_state: int = 0,
    **kwargs,
) -> Tiers:
    """Fit :class:`Tiers` on a per-user feature table (see the class for the method and the options).

    Parameters
    ----------
    features : DataFrame
        One row per user, index = user.
    k : int, optional
        Fixed number of clusters; default: chosen by silhouette over ``k_range``.
    k_range : iterable of int
        Candidate k values.
    random_state : int
        Seed: same seed, same tiers.
    **kwargs
        ``columns``, ``new_days``, ``log``, ``sample_size``, ``n_init``, ``min_tier_size`` of :class:`Tiers`.

    Returns
    -------
    Tiers
        Fitted: ``labels_``, ``k_``, ``silhouette_``, ``profiles_``, ``scores_``, ``note_``.
    """
    return Tiers(k=k, k_range=k_range, random_state=random_state, **kwargs).fit(features)


# ---------------------------------------------------------------------------------------------------------------
# Concentration (二八法则) and migration
# ---------------------------------------------------------------------------------------------------------------


def lorenz(values: pd.Series) -> pd.DataFrame:
    """Lorenz curve of value over users sorted from most to least valuable.

    Parameters
    ----------
    values : Series
        Value per user (e.g. net GMV of buyers).

    Returns
    -------
    DataFrame
        ``user_share`` (top x of users) and ``value_share`` (their share of the total), starting at (0, 0).

    Examples
    --------
    >>> lorenz(pd.Series([10, 0, 30, 60])).round(2).values.tolist()
    [[0.0, 0.0], [0.25, 0.6], [0.5, 0.9], [0.75, 1.0], [1.0, 1.0]]
    """
    v = np.sort(np.asarray(values, dtype=float))[::-1]
    total = v.sum()
    cum = np.concatenate([[0.0], np.cumsum(v) / total]) if total > 0 else np.zeros(len(v) + 1)
    return pd.DataFrame({"user_share": np.arange(len(v) + 1) / max(len(v), 1), "value_share": cum})


def top_share(values: pd.Series, top: float = 0.2) -> float:
    """Share of the total value held by the top ``top`` fraction of users (the 80/20 number).

    Examples
    --------
    >>> top_share(pd.Series([100, 1, 1, 1, 1]), top=0.2)
    0.9615384615384616
    """
    v = np.sort(np.asarray(values, dtype=float))[::-1]
    if len(v) == 0 or v.sum() <= 0:
        return float("nan")
    n = max(int(np.ceil(top * len(v) - 1e-9)), 1)
    return float(v[:n].sum() / v.sum())


def migration_matrix(before: pd.Series, after: pd.Series, normalize: bool = False) -> pd.DataFrame:
    """Users moving between tiers from one snapshot to the next (rows: before, columns: after).

    Users present only at the later snapshot (added in between) appear in the row ``(not yet a contact)``.

    Parameters
    ----------
    before, after : Series
        Tier per user at each snapshot (ordered categoricals from :meth:`Tiers.predict` / ``labels_``).
    normalize : bool
        Row shares instead of counts.

    Returns
    -------
    DataFrame
        Counts (or row shares).
    """
    joined = pd.DataFrame({"before": before.astype(object), "after": after.astype(object)}).dropna(subset=["after"])
    joined["before"] = joined["before"].fillna("(not yet a contact)")
    order = list(after.cat.categories) if isinstance(after.dtype, pd.CategoricalDtype) else sorted(joined["after"])
    rows = [r for r in order if r in set(joined["before"])]
    if (joined["before"] == "(not yet a contact)").any():
        rows.append("(not yet a contact)")
    m = pd.crosstab(joined["before"], joined["after"]).reindex(index=rows, columns=order, fill_value=0)
    m = m.loc[:, m.sum() > 0]
    m.index.name, m.columns.name = "tier before", "tier after"
    return m.div(m.sum(axis=1), axis=0) if normalize else m


def movers(before: pd.Series, after: pd.Series) -> pd.DataFrame:
    """Who moved up or down between snapshots, by tier order (most valuable tier = rank 0).

    Parameters
    ----------
    before, after : Series
        Tier per user (ordered categoricals with the same categories).

    Returns
    -------
    DataFrame
        ``before``, ``after`` and ``move`` for users present at both snapshots: ``up`` / ``down`` between
        tiers in value order, ``from new`` for a new contact that was tiered since, or ``same``.
    """
    both = pd.DataFrame({"before": before, "after": after}).dropna()
    cats = list(after.cat.categories)
    rb = both["before"].astype(object).map(cats.index)
    ra = both["after"].astype(object).map(cats.index)
    was_new = both["before"].astype(object) == TIER_NAMES["new"]
    both["move"] = np.select([was_new & (ra != rb), ra < rb, ra > rb], ["from new", "up", "down"], "same")
    return both


def export_tiers(features: pd.DataFrame, tiers: pd.Series, path: str | Path, rfm: pd.Series | None = None) -> Path:
    """Write the staff list: user_id, tier, RFM class and key features (no personal data), most valuable first.

    Parameters
    ----------
    features : DataFrame
        Per-user table indexed by ``user_id`` (pseudonymised ids only).
    tiers : Series
        Tier per user.
    path : str or Path
        CSV to write (UTF-8 with BOM so Excel opens the Chinese names).
    rfm : Series, optional
        RFM class per user.

    Returns
    -------
    Path
        The written file.
    """
    keep = [
        c
        for c in ("tenure_days", "orders", "net_gmv", "recency_days", "orders_per_30d", "avg_order_value", "is_friend")
        if c in features.columns
    ]
    out = features[keep].copy()
    out.insert(0, "tier", tiers.reindex(out.index))
    if rfm is not None:
        out.insert(1, "rfm_class", rfm.reindex(out.index))
    for c in ("tenure_days", "recency_days", "orders_per_30d", "avg_order_value", "net_gmv"):
        if c in out.columns:
            out[c] = out[c].round(2)
    out.index.name = "user_id"
    by = ["tier", "net_gmv"] if "net_gmv" in out.columns else ["tier"]
    out = out.sort_values(by, ascending=[True, False][: len(by)], kind="stable")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    out.to_csv(path, encoding="utf-8-sig")
    return path


# ---------------------------------------------------------------------------------------------------------------
# Plots
# ---------------------------------------------------------------------------------------------------------------


def plot_k_selection(scores: pd.DataFrame, chosen: int | None = None, ax: plt.Axes | None = None) -> plt.Axes:
    """Elbow (inertia) and silhouette per k, with the chosen k marked.

    Parameters
    ----------
    scores : DataFrame
        :attr:`Tiers.scores_`.
    chosen : int, optional
        The k used.
    ax : Axes, optional
        Where to draw.

    Returns
    -------
    Axes
        The silhouette axes (inertia is on its twin).
    """
    ax = ax or plt.subplots(figsize=(7, 3.5))[1]
    ax.plot(scores.index, scores["silhouette"], "o-", color="C0", label="轮廓系数 silhouette")
    ax.set_xlabel("簇数 k")
    ax.set_ylabel("轮廓系数 silhouette (higher = better separated)")
    tw = ax.twinx()
    tw.plot(scores.index, scores["inertia"], "s--", color="C1", label="簇内平方和 inertia (elbow)")
    tw.set_ylabel("簇内平方和 inertia")
    tw.grid(False)  # one grid (the silhouette axis) is enough
    if chosen is not None:
        ax.axvline(chosen, color="grey", lw=1, ls=":")
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = tw.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, loc="upper right", fontsize="small")
    ax.set_title("选择簇数 choosing k")
    return ax


def plot_tier_sizes(profiles: pd.DataFrame, ax: plt.Axes | None = None) -> plt.Axes:
    """Share of users next to share of GMV per tier (the 80/20 picture by tier).

    Parameters
    ----------
    profiles : DataFrame
        :attr:`Tiers.profiles_`.
    ax : Axes, optional
        Where to draw.

    Returns
    -------
    Axes
        The bar chart.
    """
    ax = ax or plt.subplots(figsize=(8, 3.8))[1]
    cols = {"share": "用户占比 share of users", "gmv_share": "GMV 占比 share of GMV"}
    p = profiles[[c for c in cols if c in profiles.columns]].rename(columns=cols)
    p.iloc[::-1].plot.barh(ax=ax, width=0.75)
    ax.xaxis.set_major_formatter(plt.matplotlib.ticker.PercentFormatter(1.0))
    ax.set_xlabel("占比 share")
    ax.set_ylabel("")
    ax.set_title("各层用户与 GMV 占比 tier size and GMV share")
    ax.legend(loc="lower right", fontsize="small")
    return ax


def plot_snake(centroids: pd.DataFrame, names: dict[int, str], ax: plt.Axes | None = None) -> plt.Axes:
    """Snake plot: each cluster's mean of every scaled feature (standard deviations from the buyer mean).

    Parameters
    ----------
    centroids : DataFrame
        :attr:`Tiers.centroids_`.
    names : dict
        Cluster number → tier name (:attr:`Tiers.names_`).
    ax : Axes, optional
        Where to draw.

    Returns
    -------
    Axes
        The line chart.
    """
    ax = ax or plt.subplots(figsize=(8, 3.8))[1]
    for i, row in centroids.iterrows():
        ax.plot(range(len(row)), row.to_numpy(), "o-", label=names.get(int(i), str(i)))
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_xticks(range(centroids.shape[1]), centroids.columns, rotation=15)
    ax.set_ylabel("标准化均值 scaled mean (SD)")
    ax.set_title("蛇形图 snake plot of tier profiles")
    ax.legend(fontsize="small")
    return ax


def plot_lorenz(values: pd.Series, top: float = 0.2, ax: plt.Axes | None = None) -> plt.Axes:
    """Lorenz curve of GMV over buyers, with the top-``top`` share marked (二八法则).

    Parameters
    ----------
    values : Series
        Value per buyer.
    top : float
        Fraction of users to mark.
    ax : Axes, optional
        Where to draw.

    Returns
    -------
    Axes
        The curve.
    """
    ax = ax or plt.subplots(figsize=(5, 4.5))[1]
    lz = lorenz(values)
    ax.plot(lz["user_share"], lz["value_share"], color="C0", label="洛伦兹曲线 Lorenz curve")
    ax.plot([0, 1], [0, 1], color="grey", ls="--", lw=1, label="人人相同 equal value")
    s = top_share(values, top)
    ax.plot([top, top, 0], [0, s, s], color="C3", lw=1, ls=":")
    ax.annotate(
        f"前 {top:.0%} 用户贡献 {s:.0%} GMV\ntop {top:.0%} of buyers: {s:.0%} of GMV",
        (top, s),
        xytext=(top + 0.08, s - 0.18),
        fontsize="small",
        arrowprops={"arrowstyle": "->"},
    )
    ax.set_xlabel("用户累计占比 share of buyers (most valuable first)")
    ax.set_ylabel("GMV 累计占比 share of GMV")
    ax.set_title("二八法则 concentration of GMV")
    ax.legend(loc="lower right", fontsize="small")
    return ax


def plot_migration(matrix: pd.DataFrame, ax: plt.Axes | None = None) -> plt.Axes:
    """Heatmap of a row-normalised migration matrix (share of each earlier tier ending in each later tier).

    Parameters
    ----------
    matrix : DataFrame
        :func:`migration_matrix` with ``normalize=True``.
    ax : Axes, optional
        Where to draw.

    Returns
    -------
    Axes
        The heatmap.
    """
    import seaborn as sns

    ax = ax or plt.subplots(figsize=(8, 4.5))[1]
    sns.heatmap(matrix, annot=True, fmt=".0%", cmap="Blues", vmin=0, vmax=1, cbar=False, ax=ax)
    ax.set_xlabel("之后 tier after")
    ax.set_ylabel("之前 tier before")
    ax.set_title("分层迁移 tier migration (row shares)")
    return ax

"""The one base of every model the package fits, and honest standard errors from the observed information.

Every fitted model follows scikit-learn's and lifetimes' conventions: hyperparameters are set in ``__init__``,
``fit`` returns ``self``, and everything learnt from data ends in ``_`` (``params_``, ``standard_errors_``,
``log_likelihood_``). Calling a method that needs a fit before ``fit`` raises :class:`NotFittedError`.

Standard errors come from the inverse of the observed information (minus the Hessian of the log-likelihood).
When the data cannot pin a parameter down the information is singular or not positive definite; then that
parameter's standard error is ``NaN`` — *not measured* — never a clipped ``0``, and the model's ``notes_`` say
which parameters and why.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from threadpoolctl import threadpool_limits

__all__ = [
    "FittedModel",
    "NotFittedError",
    "cpu_threads",
    "hold_thread_pools",
    "map_threads",
    "total_ram",
    "thread_map",
    "numerical_hessian",
    "standard_errors_from_information",
]


class NotFittedError(RuntimeError):
    """A method that needs fitted parameters was called before ``fit``."""


class FittedModel:
    """Base of the package's fitted models: a fitted check, plain fitted attributes and a readable ``repr``.

    Subclasses set ``params_`` (dict of floats), ``standard_errors_`` (dict of floats, ``NaN`` where not
    identified), ``log_likelihood_`` and ``notes_`` (list of sentences about the fit) in ``fit``.

    Examples
    --------
    >>> class Mean(FittedModel):
    ...     def fit(self, x):
    ...         self.params_ = {"mean": float(np.mean(x))}
    ...         return self
    >>> Mean()
    Mean(not fitted)
    >>> Mean().fit([1.0, 3.0])
    Mean(mean=2)
    """

    def _hyperparameters(self) -> dict:
        return {k: v for k, v in vars(self).items() if not k.endswith("_") and not k.startswith("_")}

    @property
    def is_fitted(self) -> bool:
        """Whether :meth:`fit` has run."""
        return hasattr(self, "params_")

    def _check_fitted(self) -> None:
        if not self.is_fitted:
            raise NotFittedError(f"{type(self).__name__} is not fitted yet: call fit() first")

    def __repr__(self) -> str:
        hyper = ", ".join(f"{k}={v!r}" for k, v in self._hyperparameters().items())
        if not self.is_fitted:
            return f"{type(self).__name__}({hyper + ', ' if hyper else ''}not fitted)"
        fitted = ", ".join(f"{k}={v:.4g}" for k, v in self.params_.items())
        return f"{type(self).__name__}({hyper + '; ' if hyper else ''}{fitted})"


def cpu_threads(n_threads: int | None = 1) -> threadpool_limits:
    """Context that caps the OpenMP and BLAS thread pools (scikit-learn's gradient boosting, numpy) at ``n_threads``.

    The models that use those pools (gradient boosting, KMeans, NMF) run inside it with one thread by default.
    Measured on the 2-core reference machine with two other CPU-bound processes running, 03 on the sample took
    727 s instead of 81 s with the libraries' default of one thread per core: OpenMP threads that wait for each
    other spin while the other processes hold the cores (the value-model comparison went from 6 s to 390 s). With
    one thread the slowdown is the fair share of the cores. ``None`` uses every core (fastest on a machine that does
    nothing else).

    Parameters
    ----------
    n_threads : int, optional
        Threads per pool; ``None`` means ``os.cpu_count()``.

    Returns
    -------
    threadpoolctl.threadpool_limits
        Use it as a context manager: ``with cpu_threads(1): model.fit(X, y)``.

    Examples
    --------
    >>> from threadpoolctl import threadpool_info
    >>> with cpu_threads(1):
    ...     all(p["num_threads"] == 1 for p in threadpool_info())
    True
    """
    return threadpool_limits(limits=n_threads or os.cpu_count() or 1)


def hold_thread_pools(n_threads: int = 1) -> None:
    """Hold the process's OpenMP and BLAS pools at ``n_threads`` from now on; every notebook's first cell does.

    :func:`cpu_threads` caps the pools around the models that are known to use them, but numpy reaches BLAS from
    many other places (a matrix product in a likelihood, a least-squares fit), and there OpenBLAS would start one
    thread per core. Those threads spin while they wait, so on a machine that is busy with other work they burn
    the time they wait for. Measured on the 2-core reference machine, 03 on a 20 000-contact simulation up to its
    truth checks, beside two CPU-bound processes: 210.1 s with the libraries' default pools, 74.2 s with the pools
    held at one thread; on the quiet machine 43.5 s and 39.9 s (one thread is faster there too). Models that
    gain from more threads ask for them inside :func:`cpu_threads`, which restores this limit when they finish.

    Parameters
    ----------
    n_threads : int
        Threads per pool.

    Examples
    --------
    >>> from threadpoolctl import threadpool_info, threadpool_limits
    >>> import os
    >>> saved = {v: os.environ.get(v) for v in _POOL_VARIABLES}
    >>> with threadpool_limits(limits=None):  # (restores the pools after this example)
    ...     hold_thread_pools(1)
    ...     all(p["num_threads"] == 1 for p in threadpool_info())
    True
    >>> os.environ["OPENBLAS_NUM_THREADS"]
    '1'
    >>> for v, value in saved.items():
    ...     _ = os.environ.pop(v, None) if value is None else os.environ.update({v: value})
    """
    for var in _POOL_VARIABLES:  # libraries loaded later (scipy's own OpenBLAS, an OpenMP runtime) start so
        os.environ[var] = str(n_threads)
    threadpool_limits(limits=n_threads)  # libraries already loaded


_POOL_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")

#: Threads :func:`thread_map` uses (None: one per core). Set to 1 to run the items one after another.
MAP_THREADS: int | None = None


def thread_map(fn: Callable, *iterables: Iterable, n_threads: int | None = None) -> list:
    """``list(map(fn, *iterables))`` over a few threads, in order: for work that releases the GIL.

    Parameter draws of the CLV intervals evaluate scipy's special functions (``hyp2f1``, ``gammaln``) and numpy
    array arithmetic; permutation importance and batch predictions run scikit-learn's compiled tree code. All of
    it runs without Python's global lock, so on two cores two items run side by side (measured: ``hyp2f1`` on
    200 000 rows 1.9× faster in two threads). Each item is computed exactly as it would be alone, so the result
    is identical to the serial map. Threads that wait do not spin (unlike OpenMP's), so a busy machine only
    gets its fair share; the BLAS and OpenMP pools are held at one thread meanwhile (no threads inside threads).

    Parameters
    ----------
    fn : callable
        Applied to one item of each iterable.
    *iterables
        As for :func:`map`, of equal lengths.
    n_threads : int, optional
        Threads; default :data:`MAP_THREADS`, else one per core (:func:`map_threads`). One item runs in the
        calling thread.

    Returns
    -------
    list
        ``fn``'s results in the order of the items.

    Examples
    --------
    >>> thread_map(lambda a, b: a * b, [1, 2, 3], [4, 5, 6], n_threads=2)
    [4, 10, 18]
    """
    items = list(zip(*iterables, strict=True))
    n = min(map_threads(n_threads), len(items))
    if n <= 1:  # one item (or one thread): run here, under whatever thread pools the caller set
        return [fn(*a) for a in items]
    with cpu_threads(1), ThreadPoolExecutor(n) as pool:  # BLAS inside an item stays on its thread: no nesting
        return list(pool.map(lambda a: fn(*a), items))


def total_ram() -> int:
    """Return the machine's physical memory in bytes (POSIX ``sysconf``; raises where there is none, e.g. Windows)."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def map_threads(n_threads: int | None = None) -> int:
    """Threads :func:`thread_map` uses: ``n_threads`` if given, else :data:`MAP_THREADS`, else one per core."""
    return n_threads or MAP_THREADS or os.cpu_count() or 1


def numerical_hessian(
    fun: Callable[[np.ndarray], float] | None,
    x: np.ndarray,
    grad: Callable[[np.ndarray], np.ndarray] | None = None,
    h: float = 1e-5,
) -> np.ndarray:
    """Symmetric finite-difference Hessian: central differences of ``grad`` if given, else of ``fun``.

    Examples
    --------
    >>> H = numerical_hessian(lambda v: -(v[0] ** 2) - 3 * v[0] * v[1] - 2 * v[1] ** 2, np.zeros(2), h=1e-3)
    >>> np.round(H, 6).tolist()
    [[-2.0, -3.0], [-3.0, -4.0]]
    """
    x = np.asarray(x, float)
    n = len(x)
    H = np.zeros((n, n))
    eye = np.eye(n) * h
    if grad is not None:
        for i in range(n):
            H[:, i] = (grad(x + eye[i]) - grad(x - eye[i])) / (2 * h)
    else:
        for i in range(n):
            for j in range(i, n):
                H[i, j] = H[j, i] = (
                    fun(x + eye[i] + eye[j])
                    - fun(x + eye[i] - eye[j])
                    - fun(x - eye[i] + eye[j])
                    + fun(x - eye[i] - eye[j])
                ) / (4 * h * h)
    return (H + H.T) / 2


def standard_errors_from_information(
    hessian_log: np.ndarray,
    theta: Sequence[float],
    names: Sequence[str],
    at_bound: Sequence[bool] | None = None,
    rel_tol: float = 1e-9,
    max_log_se: float = 10.0,
) -> tuple[dict[str, float], list[str]]:
    """Compute standard errors of positive parameters from the Hessian of the log-likelihood in their logs.

    ``SE(θ) = θ · sqrt(diag((−H)^{-1}))`` (delta method from ``log θ``). A parameter gets ``NaN`` when it is not
    identified: it loads on a direction in which the information is not positive (a flat or wrong-signed
    curvature: the likelihood does not pin it down), its variance comes out negative, the optimiser stopped
    at a bound for it, or its log has a standard error above ``max_log_se`` (a 95 % interval spanning a factor of
    e^40: numerically finite, but the data say nothing about it — typically a parameter left free when another
    one ran to its bound). A ``NaN`` is "not measured"; a ``0`` would claim perfect precision.

    Parameters
    ----------
    hessian_log : ndarray
        Hessian of the log-likelihood with respect to ``log θ`` at the maximum.
    theta : sequence of float
        The estimates (positive).
    names : sequence of str
        Parameter names.
    at_bound : sequence of bool, optional
        Which log-parameters sit at the optimiser's bound.
    rel_tol : float
        Eigenvalues of the information below ``rel_tol × max eigenvalue`` count as zero.
    max_log_se : float
        Largest standard error of ``log θ`` reported; above it the parameter counts as not identified.

    Returns
    -------
    (dict, list of str)
        Standard errors by name, and notes naming the parameters left without one.

    Examples
    --------
    >>> se, notes = standard_errors_from_information(np.diag([-4.0, -1.0]), [2.0, 1.0], ["a", "b"])
    >>> se
    {'a': 1.0, 'b': 1.0}
    >>> se, notes = standard_errors_from_information(np.array([[-1.0, -1.0], [-1.0, -1.0]]), [1.0, 1.0], ["a", "b"])
    >>> se, notes[0]
    ({'a': nan, 'b': nan}, 'not identified by the data (flat likelihood): a, b — no standard error')
    >>> standard_errors_from_information(np.diag([-4.0, -1e-4]), [2.0, 700.0], ["r", "b"], rel_tol=1e-12)[0]
    {'r': 1.0, 'b': nan}
    """
    theta = np.asarray(theta, float)
    info = -np.asarray(hessian_log, float)
    info = (info + info.T) / 2
    n = len(theta)
    nan = np.zeros(n, bool)
    notes: list[str] = []
    if not np.all(np.isfinite(info)):
        return dict.fromkeys(names, float("nan")), ["the information matrix is not finite: no standard errors"]
    vals, vecs = np.linalg.eigh(info)
    scale = max(float(np.max(np.abs(vals))), 1e-300)
    bad = vals <= rel_tol * scale
    if bad.any():
        loading = np.abs(vecs[:, bad]).max(axis=1)
        flat = loading > 0.05
        nan |= flat
        good = ~bad
        cov = (vecs[:, good] / vals[good]) @ vecs[:, good].T
    else:
        cov = (vecs / vals) @ vecs.T
    var = np.diag(cov).copy()
    if bad.any() and nan.any():
        notes.append(
            "not identified by the data (flat likelihood): "
            + ", ".join(np.asarray(names)[nan])
            + " — no standard error"
        )
    neg = (var <= 0) & ~nan
    if neg.any():
        nan |= neg
        notes.append("negative variance for " + ", ".join(np.asarray(names)[neg]) + " — no standard error")
    if at_bound is not None:
        ab = np.asarray(at_bound, bool) & ~nan
        if ab.any():
            nan |= ab
            notes.append(
                "the fit stopped at the optimiser's bound for "
                + ", ".join(np.asarray(names)[ab])
                + ": the data push it to an extreme — no standard error"
            )
    unpinned = (np.sqrt(np.clip(var, 0, None)) > max_log_se) & ~nan
    if unpinned.any():
        nan |= unpinned
        notes.append(
            "not pinned down by the data (standard error of the log above "
            + f"{max_log_se:g}): "
            + ", ".join(np.asarray(names)[unpinned])
            + " — no standard error"
        )
    se = np.where(nan, np.nan, np.sqrt(np.clip(var, 0, None)) * theta)
    return {k: float(v) for k, v in zip(names, se, strict=True)}, notes

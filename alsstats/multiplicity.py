"""Multiplicity adjustment of p-values, as R's ``p.adjust``."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["P_ADJUST_METHODS", "p_adjust"]

P_ADJUST_METHODS = ("holm", "hochberg", "hommel", "bonferroni", "BH", "BY", "fdr", "none")


def p_adjust(p: Sequence[float] | np.ndarray, method: str = "holm") -> np.ndarray:
    """Adjust p-values for multiple comparisons, exactly as R's ``p.adjust(p, method)``.

    Parameters
    ----------
    p : array-like of float
        p-values in [0, 1]; NaN entries are kept as NaN and not counted (R's default
        ``n = length(p[!is.na(p)])``).
    method : {"holm", "hochberg", "hommel", "bonferroni", "BH", "BY", "fdr", "none"}
        Family-wise error control (Holm, Hochberg, Hommel, Bonferroni) or false discovery rate
        (Benjamini-Hochberg ``"BH"`` = ``"fdr"``, Benjamini-Yekutieli ``"BY"``).

    Returns
    -------
    numpy.ndarray
        Adjusted p-values, same shape and order as ``p``.

    Examples
    --------
    >>> from alsstats import p_adjust
    >>> p_adjust([0.01, 0.02, 0.03, 0.5], method="holm").round(3).tolist()
    [0.04, 0.06, 0.06, 0.5]
    >>> p_adjust([0.01, 0.02, 0.03, 0.5], method="BH").round(3).tolist()
    [0.04, 0.04, 0.04, 0.5]
    """
    if method not in P_ADJUST_METHODS:
        raise ValueError(f"p_adjust: method must be one of {', '.join(P_ADJUST_METHODS)}; "
                         f"got {method!r}")
    arr = np.asarray(p, dtype=float)
    shape = arr.shape
    flat = arr.ravel()
    ok = ~np.isnan(flat)
    bad = flat[ok][(flat[ok] < 0) | (flat[ok] > 1)]
    if bad.size:
        raise ValueError(f"p_adjust: p-values must lie in [0, 1]; got {bad[:5].tolist()}")
    out = np.full(flat.shape, np.nan)
    out[ok] = _adjust(flat[ok], "BH" if method == "fdr" else method)
    return out.reshape(shape)


def _adjust(p: np.ndarray, method: str) -> np.ndarray:
    n = p.size
    if n <= 1 or method == "none":
        return p.copy()
    if method == "bonferroni":
        return np.minimum(1.0, n * p)
    if method == "holm":
        o = np.argsort(p, kind="stable")
        i = np.arange(1, n + 1)
        adj = np.minimum(1.0, np.maximum.accumulate((n - i + 1) * p[o]))
        return _unsort(adj, o)
    if method == "hommel":
        return _hommel(p)
    o = np.argsort(-p, kind="stable")  # decreasing, ties in input order (R's order())
    i = np.arange(n, 0, -1)
    if method == "hochberg":
        adj = np.minimum(1.0, np.minimum.accumulate((n - i + 1) * p[o]))
    else:  # BH, BY
        scale = np.sum(1.0 / np.arange(1, n + 1)) if method == "BY" else 1.0
        adj = np.minimum(1.0, np.minimum.accumulate(scale * n / i * p[o]))
    return _unsort(adj, o)


def _unsort(values: np.ndarray, order: np.ndarray) -> np.ndarray:
    out = np.empty_like(values)
    out[order] = values
    return out


def _hommel(p: np.ndarray) -> np.ndarray:
    """R's Hommel algorithm (Wright 1992), step for step."""
    n = p.size
    o = np.argsort(p, kind="stable")
    ps = p[o]
    i = np.arange(1, n + 1)
    q = np.full(n, np.min(n * ps / i))
    pa = q.copy()
    for m in range(n - 1, 1, -1):
        i1 = np.arange(n - m + 1)  # R's seq_len(n - m + 1), zero-based
        i2 = np.arange(n - m + 1, n)  # R's (n - m + 2):n
        q1 = np.min(m * ps[i2] / np.arange(2, m + 1))
        q[i1] = np.minimum(m * ps[i1], q1)
        q[i2] = q[n - m]
        pa = np.maximum(pa, q)
    return _unsort(np.maximum(pa, ps), o)

"""Bases with fitted state, as R computes them: orthogonal ``poly`` (``stats::poly`` and its
``predict``), ``splines::ns`` and ``splines::bs`` (B-splines of ``splineDesign``, knots at R's
type-7 quantiles, boundary knots at the range; linear / Taylor extension beyond the boundary
as ``predict.ns`` / ``predict.bs``)."""

from __future__ import annotations

import math

import numpy as np
from scipy.interpolate import BSpline

__all__ = ["bs_basis", "ns_basis", "poly_coefs", "poly_predict", "spline_design"]


def poly_coefs(x: np.ndarray, degree: int) -> tuple[np.ndarray, np.ndarray]:
    """R's ``poly`` coefficients (alpha, norm2) by the three-term recurrence."""
    n = len(x)
    alpha = np.empty(degree)
    norm2 = np.empty(degree + 2)
    norm2[0], norm2[1] = 1.0, float(n)
    z_prev, z = np.zeros(n), np.ones(n)
    for j in range(degree):
        alpha[j] = np.sum(x * z * z) / norm2[j + 1]
        z_next = (x - alpha[j]) * z - (norm2[j + 1] / norm2[j]) * z_prev
        norm2[j + 2] = np.sum(z_next * z_next)
        z_prev, z = z, z_next
    return alpha, norm2


def poly_predict(x, alpha, norm2, degree):
    """R's ``predict`` of ``poly``: the recurrence, scaled to unit norm on the fitted data."""
    n = len(x)
    out = np.empty((n, degree))
    z_prev, z = np.zeros(n), np.ones(n)
    for j in range(degree):
        z_next = (x - alpha[j]) * z - (norm2[j + 1] / norm2[j]) * z_prev
        out[:, j] = z_next / np.sqrt(norm2[j + 2])
        z_prev, z = z, z_next
    return out


def spline_design(knots, x, order, derivs=0) -> np.ndarray:
    """R's ``splines::splineDesign``: B-spline basis (or derivative) values at ``x``."""
    nb = len(knots) - order
    spl = BSpline(np.asarray(knots, float), np.eye(nb), order - 1, extrapolate=False)
    x = np.asarray(x, dtype=float)
    if np.isscalar(derivs) or np.ndim(derivs) == 0:
        return np.atleast_2d(spl(x, nu=int(derivs)))
    return np.vstack([spl(np.array([xi]), nu=int(d)) for xi, d in zip(x, derivs, strict=True)])


def ns_basis(x, knots, boundary, intercept=False) -> np.ndarray:
    """R's ``splines::ns`` basis (linear beyond the boundary knots, as ``predict.ns``)."""
    lo, hi = boundary
    aknots = np.sort(np.concatenate([[lo] * 4, knots, [hi] * 4]))
    nb = len(aknots) - 4
    basis = np.full((len(x), nb), np.nan)
    ok = np.isfinite(x)
    inside = ok & (x >= lo) & (x <= hi)
    if inside.any():
        basis[inside] = spline_design(aknots, x[inside], 4)
    for mask, pivot in ((ok & (x < lo), lo), (ok & (x > hi), hi)):
        if mask.any():
            tt = spline_design(aknots, [pivot, pivot], 4, [0, 1])
            basis[mask] = np.column_stack([np.ones(mask.sum()), x[mask] - pivot]) @ tt
    const = spline_design(aknots, [lo, hi], 4, [2, 2])
    if not intercept:
        const, basis = const[:, 1:], basis[:, 1:]
    q, _ = np.linalg.qr(const.T, mode="complete")
    return (basis @ q)[:, 2:]


def bs_basis(x, knots, boundary, degree=3, intercept=False) -> np.ndarray:
    """R's ``splines::bs`` basis (Taylor extension beyond the boundary, as ``predict.bs``)."""
    lo, hi = boundary
    order = degree + 1
    aknots = np.sort(np.concatenate([[lo] * order, knots, [hi] * order]))
    nb = len(aknots) - order
    basis = np.full((len(x), nb), np.nan)
    ok = np.isfinite(x)
    inside = ok & (x >= lo) & (x <= hi)
    if inside.any():
        basis[inside] = spline_design(aknots, x[inside], order)
    scale = np.array([math.factorial(k) for k in range(order)], dtype=float)
    for mask, pivot in ((ok & (x < lo), lo), (ok & (x > hi), hi)):
        if mask.any():
            tt = spline_design(aknots, [pivot] * order, order, list(range(order)))
            xl = np.power.outer(x[mask] - pivot, np.arange(order))
            basis[mask] = xl @ (tt / scale[:, None])
    return basis if intercept else basis[:, 1:]

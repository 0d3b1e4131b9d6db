"""Quadrature rules of the joint model, as JM uses them.

- Gauss-Hermite over the random effects, *pseudo-adaptive* (Rizopoulos 2012, JRSS-B 74:685):
  the grid of each subject is centred at its empirical-Bayes mode from the linear mixed model and
  scaled by the Cholesky factor of that mode's posterior covariance, both fixed for the whole fit.
- Gauss-Kronrod (15 nodes) over [0, T] for the Weibull cumulative hazard; 7-node Gauss-Legendre
  on each interval of the piecewise-constant baseline.
"""

from __future__ import annotations

import itertools

import numpy as np

__all__ = ["gauss_kronrod", "hermite_grid", "jm_default_nodes", "pseudo_adaptive_nodes"]

_K15_NODES = np.array([
    -0.949107912342758524526189684047851, -0.741531185599394439863864773280788,
    -0.405845151377397166906606412076961, 0.0, 0.405845151377397166906606412076961,
    0.741531185599394439863864773280788, 0.949107912342758524526189684047851,
    -0.991455371120812639206854697526329, -0.864864423359769072789712788640926,
    -0.586087235467691130294144838258730, -0.207784955007898467600689403773245,
    0.207784955007898467600689403773245, 0.586087235467691130294144838258730,
    0.864864423359769072789712788640926, 0.991455371120812639206854697526329])
_K15_WEIGHTS = np.array([
    0.063092092629978553290700663189204, 0.140653259715525918745189590510238,
    0.190350578064785409913256402421014, 0.209482141084727828012999174891714,
    0.190350578064785409913256402421014, 0.140653259715525918745189590510238,
    0.063092092629978553290700663189204, 0.022935322010529224963732008058970,
    0.104790010322250183839876322541518, 0.169004726639267902826583426598550,
    0.204432940075298892414161999234649, 0.204432940075298892414161999234649,
    0.169004726639267902826583426598550, 0.104790010322250183839876322541518,
    0.022935322010529224963732008058970])
_G7_WEIGHTS = np.array([
    0.129484966168869693270611432679082, 0.279705391489276667901467771423780,
    0.381830050505118944950369775488975, 0.417959183673469387755102040816327,
    0.381830050505118944950369775488975, 0.279705391489276667901467771423780,
    0.129484966168869693270611432679082])


def gauss_kronrod(k: int = 15) -> tuple[np.ndarray, np.ndarray]:
    """Nodes on [-1, 1] and weights: the 15-point Kronrod rule, or (k=7) its 7-point Gauss rule."""
    if k == 15:
        return _K15_NODES.copy(), _K15_WEIGHTS.copy()
    if k == 7:
        return _K15_NODES[:7].copy(), _G7_WEIGHTS.copy()
    raise ValueError(f"k must be 7 or 15, got {k}")


def jm_default_nodes(q: int, n_rows: int) -> int:
    """JM's default number of aGH nodes per dimension: 5 if q <= 3 and fewer than 2000
    longitudinal rows, else 3."""
    return 5 if q <= 3 and n_rows < 2000 else 3


def hermite_grid(n_nodes: int, q: int) -> tuple[np.ndarray, np.ndarray]:
    """Product Gauss-Hermite grid on R^q for plain integrals ``integral f(z) dz``.

    Returns nodes ``z`` (K, q), already multiplied by sqrt(2), and log weights (K,) with
    ``integral f(z) dz ~= sum_k exp(logw_k) f(z_k)``, exact when ``f`` is a standard normal
    density times a polynomial of low degree (JM's ``2^(q/2) prod(w) exp(sum x^2)`` weights).
    """
    x, w = np.polynomial.hermite.hermgauss(n_nodes)
    grid = np.array(list(itertools.product(x, repeat=q)))
    wgrid = np.array(list(itertools.product(w, repeat=q)))
    logw = 0.5 * q * np.log(2.0) + np.log(wgrid).sum(axis=1) + (grid ** 2).sum(axis=1)
    return np.sqrt(2.0) * grid, logw


def pseudo_adaptive_nodes(modes: np.ndarray, covs: np.ndarray, n_nodes: int
                          ) -> tuple[np.ndarray, np.ndarray]:
    """Per-subject nodes ``b_ik = mode_i + L_i z_k`` and log weights ``logw_k + log|L_i|``.

    ``L_i`` is JM's factor ``solve(chol(solve(cov_i)))``: the inverse of the upper Cholesky
    factor of the precision, so ``L_i L_i' = cov_i``. (Another square root of ``cov_i`` would
    rotate the grid and change the approximation slightly; this one reproduces JM.)
    """
    q = modes.shape[1]
    z, logw = hermite_grid(n_nodes, q)
    # JM: inv.chol.VCs = solve(chol(solve(V))): upper triangular U with U U' = V
    prec = np.linalg.inv(covs)
    r_upper = np.transpose(np.linalg.cholesky(prec), (0, 2, 1))  # chol(): upper R, R'R = prec
    factor = np.linalg.inv(r_upper)
    nodes = modes[:, None, :] + np.einsum("iqr,kr->ikq", factor, z)
    logdet = np.log(np.abs(np.diagonal(factor, axis1=1, axis2=2))).sum(axis=1)
    return nodes, logw[None, :] + logdet[:, None]

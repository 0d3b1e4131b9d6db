"""Cluster-robust (sandwich) standard errors of a mixed model's fixed effects, as clubSandwich.

``robust(fit, type="CR2")`` is ``clubSandwich::coef_test(m, vcov = "CR2", test =
"Satterthwaite")``: the working model is the fitted one (``Theta_j = V_j / sigma^2`` per
cluster, weights ``W_j = Theta_j^-1``), ``M = (sum_j X_j'W_j X_j)^-1``, and::

    V_CR = M [sum_j X_j'W_j A_j e_j e_j' A_j W_j X_j] M,   e = y - X beta,

with ``A_j = C_j' (C_j (Theta_j - X_j M X_j') C_j')^{-1/2} C_j`` (``Theta_j = C_j'C_j``;
Bell & McCaffrey's bias-reduced CR2, Pustejovsky & Tipton 2018) or ``A_j = I`` (CR0), times
``sqrt(J / (J - 1))`` (CR1, clubSandwich's). Satterthwaite df are clubSandwich's: with ``u_j = c'M X_j'W_j A_j``
and ``Omega = (I - H) Theta (I - H)'`` (block ``Omega_jk = delta_jk Theta_j - X_j M X_k'``),
``df = (sum_j u_j Omega_jj u_j')^2 / sum_jk (u_j Omega_jk u_k')^2``. Clusters of equal size are
processed together (batched n_j x n_j algebra).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from alsstats.lme.structure import ModelStructure, model_structure
from alsstats.summary import Summary, lines, render_summary, standard_frame, table

__all__ = ["RobustResult", "robust"]

ROBUST_TYPES = ("CR2", "CR1", "CR0")


@dataclass(frozen=True, repr=False)
class RobustResult:
    """Cluster-robust tests of the fixed effects.

    Attributes
    ----------
    coefficients : pandas.DataFrame
        Index ``term``; columns ``estimate, std_error, df, statistic, p_value, ci_low,
        ci_high`` (t-tests on clubSandwich's Satterthwaite df, Wald CIs on the same df).
    vcov : pandas.DataFrame
        The cluster-robust ``Var(beta)``.
    method : dict
        ``type`` (CR2, CR1, CR0), ``cluster`` (name), ``n_clusters``, ``test``,
        ``working_model``, ``ci_level``.
    ci_level : float
    n_obs, n_subjects : int
        Of the fit (``n_subjects``: levels of its first grouping factor; the clusters are
        counted in ``method["n_clusters"]``).
    """

    coefficients: pd.DataFrame
    vcov: pd.DataFrame
    method: dict[str, Any]
    ci_level: float
    n_obs: int
    n_subjects: int

    def to_frame(self) -> pd.DataFrame:
        """The cluster-robust tests as a tidy table.

        Returns
        -------
        pandas.DataFrame
            One row per fixed effect: ``term``, ``estimate``, ``std_error`` (robust),
            ``statistic`` (t), ``df`` (clubSandwich's Satterthwaite), ``p_value``, ``ci_low``,
            ``ci_high`` (Wald on the same df).
        """
        return standard_frame(self.coefficients)

    def __repr__(self) -> str:
        return (f"RobustResult({self.method['type']}, cluster={self.method['cluster']!r}, "
                f"n_clusters={self.method['n_clusters']})\n{self.coefficients}")

    def summary(self) -> Summary:
        """Method and the robust coefficient table."""
        return render_summary(f"Cluster-robust ({self.method['type']}) tests of fixed effects",
                              [lines(None, self.method), table("Fixed effects", self.to_frame())])


def robust(fit: Any, type: str = "CR2", cluster: str | np.ndarray | pd.Series | None = None,
           ci_level: float | None = None) -> RobustResult:
    """Cluster-robust standard errors and Satterthwaite t-tests, as clubSandwich's
    ``coef_test(m, vcov = type, test = "Satterthwaite")``.

    Parameters
    ----------
    fit : LMEResult
    type : {"CR2", "CR1", "CR0"}
        Bias-reduced linearisation (CR2, clubSandwich's recommendation), or the plain sandwich
        with (CR1, ``J / (J - 1)`` as clubSandwich) or without (CR0) the small-sample factor.
    cluster : str, array or Series, optional
        Clusters: a column of the model's data, or one value per row of the fit. Default: the
        outermost grouping factor (the one with the fewest levels). Every random-effect level
        must lie within one cluster.
    ci_level : float, optional
        Level of the CIs (default the fit's).

    Returns
    -------
    RobustResult
        ``coefficients`` (``estimate, std_error, df, statistic, p_value, ci_low, ci_high``),
        ``vcov``, ``method``.

    Examples
    --------
    >>> from alsstats.lme import fit_lme
    >>> from alsstats.lme.examples import example_data
    >>> fit = fit_lme(example_data(), "y ~ group * years + (1 + years | subject)")
    >>> rob = fit.robust("CR2")
    >>> list(rob.coefficients.columns)
    ['estimate', 'std_error', 'df', 'statistic', 'p_value', 'ci_low', 'ci_high']
    """
    if type not in ROBUST_TYPES:
        raise ValueError(f"robust: type must be one of {ROBUST_TYPES}, got {type!r}")
    st = model_structure(fit)
    codes, name = _clusters(st, cluster)
    vcov, df = _cr(st, codes, type)
    se = np.sqrt(np.diag(vcov))
    est = st.beta
    stat = est / se
    level = fit.ci_level if ci_level is None else ci_level
    crit = stats.t.ppf(0.5 + level / 2.0, df)
    table = pd.DataFrame({"estimate": est, "std_error": se, "df": df, "statistic": stat,
                          "p_value": 2.0 * stats.t.sf(np.abs(stat), df),
                          "ci_low": est - crit * se, "ci_high": est + crit * se},
                         index=pd.Index(st.names, name="term"))
    return RobustResult(coefficients=table,
                        vcov=pd.DataFrame(vcov, index=st.names, columns=st.names),
                        method={"type": type, "cluster": name,
                                "n_clusters": int(codes.max() + 1), "test": "Satterthwaite",
                                "working_model": "the fitted mixed model", "ci_level": level},
                        ci_level=level, n_obs=fit.nobs, n_subjects=fit.n_subjects)


def _clusters(st: ModelStructure, cluster) -> tuple[np.ndarray, str]:
    if cluster is None:
        block = min(st.blocks, key=lambda b: b.n_levels)
        codes, name = block.codes, block.grp
    else:
        if isinstance(cluster, str):
            if st.data is None or cluster not in st.data.columns:
                raise KeyError(f"robust: cluster column {cluster!r} is not among the model's "
                               "columns; pass one value per row of the fit instead")
            values, name = st.data[cluster].to_numpy(), cluster
        else:
            values, name = np.asarray(cluster), "cluster"
        if values.shape[0] != st.n:
            raise ValueError(f"robust: cluster has {values.shape[0]} values; the fit has {st.n} "
                             "rows")
        if pd.isna(values).any():
            raise ValueError("robust: cluster has missing values")
        codes = pd.factorize(values, sort=True)[0]
    codes = np.asarray(codes, dtype=np.int64)
    for b in st.blocks:  # the working covariance must be block diagonal by cluster
        per_level = pd.Series(codes).groupby(b.codes).nunique()
        if (per_level > 1).any():
            raise ValueError(f"robust: levels of {b.grp!r} span several clusters; random "
                             "effects must be nested within clusters")
    if codes.max() < 1:
        raise ValueError("robust: needs at least two clusters")
    return codes, name


def _matrix_power(g: np.ndarray, power: float, tol: float = 1e-12) -> np.ndarray:
    """clubSandwich's ``matrix_power``: eigenvalues below ``tol`` set to 0 (batched)."""
    vals, vecs = np.linalg.eigh(g)
    with np.errstate(divide="ignore", invalid="ignore"):
        vp = np.where(vals > tol, np.abs(vals) ** power, 0.0)
    return (vecs * vp[..., None, :]) @ np.swapaxes(vecs, -1, -2)


def _cr(st: ModelStructure, codes: np.ndarray, type: str) -> tuple[np.ndarray, np.ndarray]:
    X, e = st.X, st.y - st.X @ st.beta
    p = X.shape[1]
    n_clusters = int(codes.max() + 1)
    sizes = np.bincount(codes, minlength=n_clusters)
    order = np.argsort(codes, kind="stable")
    starts = np.concatenate([[0], np.cumsum(sizes)])
    groups = []  # per cluster size: (row indices (c, s), Theta, W)
    for s in np.unique(sizes):
        which = np.flatnonzero(sizes == s)
        rows = order[starts[which][:, None] + np.arange(s)[None, :]]  # (c, s)
        theta = np.broadcast_to(np.eye(s), (which.size, s, s)).copy()
        for b in st.blocks:
            Zr = b.Z[rows]  # (c, s, q)
            same = b.codes[rows][:, :, None] == b.codes[rows][:, None, :]
            theta += same * (Zr @ (b.cov / st.sigma2) @ np.swapaxes(Zr, 1, 2))
        groups.append((rows, theta, np.linalg.inv(theta)))
    xwx = sum(np.einsum("csa,cst,ctb->ab", X[r], w, X[r]) for r, _, w in groups)
    M = np.linalg.inv(xwx)
    meat = np.zeros((p, p))
    parts = []
    cr1 = np.sqrt(n_clusters / (n_clusters - 1.0)) if type == "CR1" else 1.0
    for rows, theta, w in groups:
        Xr = X[rows]  # (c, s, p)
        xw = np.swapaxes(Xr, 1, 2) @ w  # X_j'W_j (c, p, s)
        if type == "CR2":
            low = np.linalg.cholesky(theta)  # Theta = low low', R's chol() = low'
            resid = theta - Xr @ M @ np.swapaxes(Xr, 1, 2)
            g = np.swapaxes(low, 1, 2) @ resid @ low
            A = low @ _matrix_power(0.5 * (g + np.swapaxes(g, 1, 2)), -0.5) @ np.swapaxes(low, 1, 2)
            E = xw @ A
        else:
            E = xw * cr1
        comp = np.einsum("cps,cs->cp", E, e[rows])
        meat += comp.T @ comp
        parts.append((Xr, theta, M @ E))  # U_j = M E_j (c, p, s)
    vcov = M @ meat @ M
    # Satterthwaite df per coefficient (clubSandwich's P array, without forming it)
    e_sum = np.zeros(p)
    sq_sum = np.zeros(p)
    S = np.zeros((p, p, p))  # per coefficient: sum_j w_j w_j'
    for Xr, theta, U in parts:
        a = np.einsum("cis,cst,cit->ci", U, theta, U)  # (c, coef)
        Wj = U @ Xr  # (c, coef, p): w_j' per coefficient
        b = np.einsum("cia,ab,cib->ci", Wj, M, Wj)
        e_sum += np.sum(a - b, axis=0)
        sq_sum += np.sum((a - b) ** 2 - b**2, axis=0)
        S += np.einsum("cia,cib->iab", Wj, Wj)
    MS = M @ S  # (coef, p, p)
    sq_sum += np.einsum("iab,iba->i", MS, MS)
    return vcov, e_sum**2 / sq_sum

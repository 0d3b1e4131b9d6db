"""From a visit table to the arrays of :class:`~alsstats.joint.likelihood.JointProblem`.

The longitudinal mixed model is fitted first (REML, as JM's ``lme`` input); its empirical-Bayes
modes and their posterior covariances place the pseudo-adaptive quadrature grid, as JM does.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from alsstats._stack import user_stacklevel
from alsstats.errors import DroppedRowsWarning, FormulaError
from alsstats.joint import _formula
from alsstats.joint.checks import check_subject_survival, check_visits
from alsstats.joint.likelihood import JointProblem
from alsstats.joint.quadrature import gauss_kronrod, jm_default_nodes, pseudo_adaptive_nodes
from alsstats.validation import require_columns

__all__ = ["JointData", "build_joint", "piecewise_knots"]


@dataclass
class JointData:
    """Everything a fit needs besides the parameters."""

    problem: JointProblem
    long: _formula.LongitudinalDesign
    spec: _formula.SurvivalSpec
    base: pd.DataFrame          # first used row of each subject (covariates for m_i(t))
    time: str
    subjects: pd.Index
    event_time: np.ndarray
    event: np.ndarray
    W: np.ndarray
    w_names: list[str]
    knots: np.ndarray | None
    lme_start: dict
    n_nodes: int
    n_dropped_rows: int
    scale: float = 1.0          # the response is fitted as y / scale

    def _jacobian(self) -> np.ndarray:
        """d theta / d theta_internal (diagonal) of ``theta = external(theta_internal)``."""
        L, q = self.problem.layout, self.problem.q
        jac = np.ones(self.problem.n_params)
        jac[L["beta"]] = self.scale
        for name in ("alpha", "alpha_s"):
            if name in L:
                jac[L[name]] = 1.0 / self.scale
        rows, cols = np.triu_indices(q)
        order = np.lexsort((rows, cols))
        off = rows[order] != cols[order]
        jac[np.arange(L["D"].start, L["D"].stop)[off]] = self.scale
        return jac

    def _shift(self) -> np.ndarray:
        """Additive part of ``external``: log-scale parameters move by log(scale)."""
        L, q = self.problem.layout, self.problem.q
        shift = np.zeros(self.problem.n_params)
        shift[L["log_sigma"]] = np.log(self.scale)
        rows, cols = np.triu_indices(q)
        order = np.lexsort((rows, cols))
        diag = rows[order] == cols[order]
        shift[np.arange(L["D"].start, L["D"].stop)[diag]] = np.log(self.scale)
        return shift

    def external(self, theta_internal: np.ndarray) -> np.ndarray:
        """Parameters on the response's own scale from the internal (rescaled) ones."""
        return self._jacobian() * theta_internal + self._shift()

    def internal(self, theta: np.ndarray) -> np.ndarray:
        return (theta - self._shift()) / self._jacobian()

    def external_vcov(self, vcov_internal: np.ndarray) -> np.ndarray:
        jac = self._jacobian()
        return vcov_internal * np.outer(jac, jac)

    def loglik(self, theta: np.ndarray) -> float:
        """Log-likelihood of the response on its own scale at external ``theta``."""
        return self.problem.loglik(self.internal(theta)) - len(self.problem.y) * np.log(self.scale)


def _r_quantile(x: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """R's default (type 7) quantiles."""
    return np.quantile(x, probs, method="linear")


def piecewise_knots(times: np.ndarray, n_internal: int = 6) -> np.ndarray:
    """JM's default knots: quantiles of all observed times (events and censorings) at
    ``seq(0, 1, len = n_internal + 2)`` without 0 and 1, made unique, plus 1e-6, the largest
    kept below ``max(times)``."""
    q = n_internal + 1
    qs = np.unique(_r_quantile(times, np.linspace(0, 1, q + 1))[1:-1]) + 1e-6
    if qs.max() > times.max():
        qs[np.argmax(qs)] = times.max() - 1e-6
    return qs


def _integration_points(T: np.ndarray, baseline: str, knots: np.ndarray | None):
    """Points s (n, G), weights omega (n, G) and (piecewise) interval of each point and of T."""
    if baseline == "weibull":
        sk, wk = gauss_kronrod(15)
        half = T / 2
        return half[:, None] * (sk + 1), half[:, None] * wk, None, None
    sk, wk = gauss_kronrod(7)
    bounds = np.concatenate([[0.0], knots, [T.max() + 1]])
    n_int = len(bounds) - 1
    lo = np.minimum(T[:, None], bounds[None, :-1])
    up = np.minimum(T[:, None], bounds[None, 1:])
    half = (up - lo) / 2
    used = half >= np.sqrt(np.finfo(float).eps)                        # JM: P < tol3 -> NA
    half = np.where(used, half, 0.0)
    mid = (up + lo) / 2
    s = (mid[:, :, None] + half[:, :, None] * sk).reshape(len(T), -1)
    omega = (half[:, :, None] * wk).reshape(len(T), -1)
    s = np.where(omega > 0, s, np.maximum(T[:, None], 1e-12))           # unused: harmless point
    interval = np.repeat(np.arange(n_int), len(sk))[None, :].repeat(len(T), axis=0)
    # R's findInterval(T, bounds, rightmost.closed = TRUE)
    interval_T = np.clip(np.searchsorted(bounds, T, side="right") - 1, 0, n_int - 1)
    return s, omega, interval, interval_T


def build_joint(data: pd.DataFrame, longitudinal: str, survival: str, time: str,
                association: str, baseline: str, subject: str, n_nodes: int | None,
                lme_fit) -> JointData:
    """Parse, check and assemble the arrays of a joint fit."""
    spec = _formula.parse_survival(survival)
    require_columns(data, [subject, time], caller="fit_joint")
    surv_cols = spec.columns(data)
    require_columns(data, surv_cols, caller="fit_joint")
    t_all, e_all = _formula.survival_outcome(spec, data)
    check_subject_survival(data, subject, surv_cols, t_all, e_all, spec.time, spec.event)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DroppedRowsWarning)
        long = _formula.build_longitudinal(longitudinal, data, subject)
    n_dropped = long.frame.n_dropped
    for w in caught:  # re-issue from here so the user sees fit_joint's call site
        warnings.warn(str(w.message), w.category, stacklevel=user_stacklevel())

    subjects_all = pd.Index(pd.unique(data[subject].dropna())).sort_values()
    table = data.groupby(subject, sort=True, observed=True).head(1).set_index(subject, drop=False)
    T_all = pd.Series(t_all, index=data[subject]).groupby(level=0, observed=True).first()
    used = data.loc[long.rows]
    last_visit = used.groupby(subject, observed=True)[time].max()
    check_visits(subjects_all, long.subjects, last_visit, T_all, long.frame.parts.response,
                 time, spec.time)

    subjects = long.subjects
    table = table.loc[subjects]
    T, d, W, w_names = _formula.survival_arrays(spec, table.reset_index(drop=True))

    order = np.argsort(long.codes, kind="stable")
    codes = long.codes[order]
    y, X, Z = long.y[order], long.X[order], long.Z[order]
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    base = used.iloc[order].iloc[starts].reset_index(drop=True)

    # initial mixed model (REML, as the lme object JM starts from)
    lme = lme_fit(used, longitudinal)
    kept = lme.kept_columns
    X = X[:, kept]
    beta0 = lme.coefficients["estimate"].to_numpy()
    # fit y / scale: the optimiser then sees parameters of similar size whatever the units
    # (WMH in mm3 ~ 1e4); the model and the quadrature grid are equivariant under the change
    scale = float(np.std(y)) if np.std(y) > 0 else 1.0
    y = y / scale
    beta0 = beta0 / scale
    sigma0 = float(np.sqrt(lme.residual_variance)) / scale
    D0 = lme.random_effects_cov.to_numpy() / scale ** 2
    modes = lme.random_effects.loc[subjects].to_numpy() / scale
    q = Z.shape[1]
    ztz = np.add.reduceat(np.einsum("nq,nr->nqr", Z, Z), starts, axis=0)
    post_cov = np.linalg.inv(ztz / sigma0 ** 2 + np.linalg.inv(D0)[None])
    K1 = n_nodes if n_nodes is not None else jm_default_nodes(q, len(y))
    nodes, log_w = pseudo_adaptive_nodes(modes, post_cov, K1)

    knots = piecewise_knots(T) if baseline == "piecewise" else None
    s, omega, interval, interval_T = _integration_points(T, baseline, knots)
    value = association in ("value", "value+slope")
    slope = association in ("slope", "value+slope")

    def fixed_b(Zarr):  # z(t)' b_ik for every node: (..., K)
        return np.einsum("i...q,ikq->i...k", Zarr, nodes)

    arrays = {}
    if value:
        xT, zT = long.design_at(base, time, T[:, None])
        xS, zS = long.design_at(base, time, s)
        arrays.update(XT=xT[:, 0, kept], ZTb=fixed_b(zT[:, 0]), XS=xS[:, :, kept],
                      ZSb=fixed_b(zS))
    if slope:
        xT, zT = long.slope_at(base, time, T[:, None])
        xS, zS = long.slope_at(base, time, s)
        dx = np.concatenate([xT[:, 0, kept], xS[:, :, kept].reshape(-1, int(kept.sum()))])
        if np.allclose(np.concatenate([zT[:, 0], zS.reshape(-1, q)]), 0) and \
                np.allclose(dx, dx[0]):
            raise FormulaError(
                f"association {association!r}: the slope of {long.frame.parts.response!r} in "
                f"'{time}' is the same for every subject and time in {longitudinal!r}, so its "
                "effect on the hazard cannot be told apart from the baseline hazard; add a "
                f"random slope, e.g. (1 + {time} | {subject}), or use association='value'")
        arrays.update(dXT=xT[:, 0, kept], dZTb=fixed_b(zT[:, 0]), dXS=xS[:, :, kept],
                      dZSb=fixed_b(zS))
    problem = JointProblem(
        y=y, X=X, starts=starts, idx=codes, Zb=np.einsum("nq,nkq->nk", Z, nodes[codes]),
        nodes=nodes, log_weights=log_w, event=d, log_time=np.log(T), W=W, baseline=baseline,
        value=value, slope=slope, omega=omega, log_s=np.log(s), interval=interval,
        interval_T=interval_T, n_intervals=0 if knots is None else len(knots) + 1, **arrays)
    return JointData(problem=problem, long=long, spec=spec, base=base, time=time,
                     subjects=subjects, event_time=T, event=d, W=W, w_names=w_names,
                     knots=knots, n_nodes=K1, n_dropped_rows=n_dropped, scale=scale,
                     lme_start=dict(beta=beta0, sigma=sigma0, D=D0, x_names=list(
                         lme.coefficients.index), z_names=list(long.z_names), lme=lme))

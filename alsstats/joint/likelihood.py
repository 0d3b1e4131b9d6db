"""Log-likelihood and its analytic gradient of the shared-random-effects joint model.

Model (JM's ``weibull-PH-aGH`` / ``piecewise-PH-aGH``)::

    y_ij = m_i(t_ij) + e_ij,        m_i(t) = x_i(t)' beta + z_i(t)' b_i,   e ~ N(0, sigma^2)
    b_i ~ N(0, D)
    h_i(t) = h_0(t) exp(w_i' gamma + alpha m_i(t) + alpha_s m_i'(t))
    Weibull:   h_0(t) = rho t^(rho - 1) exp(gamma_0)
    piecewise: h_0(t) = xi_q on the q-th interval

The integral over ``b_i`` is a pseudo-adaptive Gauss-Hermite sum whose nodes are fixed
(:mod:`alsstats.joint.quadrature`), so the log-likelihood is a smooth function of the
parameters and its gradient is exact: ``sum_i sum_k pi_ik d l_ik / d theta`` with the
posterior weights ``pi_ik`` of the nodes. Every array is (subjects x nodes) or
(subjects x integration points x nodes); nothing loops over subjects.

Parameter vector, in JM's order: ``beta``, ``log sigma``, [Weibull ``gamma_0``], ``gamma``,
[``alpha``], [``alpha_s``], Weibull ``log rho`` | piecewise ``log xi_1..Q``, and the
upper-triangular log-Cholesky factor of ``D`` (JM's ``chol.transf``: ``D = U'U``, the elements
of ``U`` column by column with log diagonals).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.special import logsumexp

__all__ = ["JointProblem", "chol_params", "chol_to_cov"]

_LOG_2PI = np.log(2 * np.pi)


def chol_params(cov: np.ndarray) -> np.ndarray:
    """JM's ``chol.transf(D)``: upper Cholesky factor, log diagonal, column-major upper part."""
    u = np.linalg.cholesky(cov).T.copy()
    q = len(u)
    u[np.diag_indices(q)] = np.log(np.diag(u))
    rows, cols = np.triu_indices(q)
    order = np.lexsort((rows, cols))  # column-major
    return u[rows[order], cols[order]]


def _upper_index(q: int) -> tuple[np.ndarray, np.ndarray]:
    rows, cols = np.triu_indices(q)
    order = np.lexsort((rows, cols))
    return rows[order], cols[order]


def chol_to_cov(params: np.ndarray, q: int) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of :func:`chol_params`: ``(D, U)``."""
    rows, cols = _upper_index(q)
    u = np.zeros((q, q))
    u[rows, cols] = params
    u[np.diag_indices(q)] = np.exp(np.diag(u))
    return u.T @ u, u


@dataclass
class JointProblem:
    """Arrays of one fit; ``loglik`` and ``gradient`` take the parameter vector."""

    y: np.ndarray            # (N,) longitudinal responses, sorted by subject
    X: np.ndarray            # (N, p)
    starts: np.ndarray       # (n,) first row of each subject (for np.add.reduceat)
    idx: np.ndarray          # (N,) subject of each row
    Zb: np.ndarray           # (N, K) z_ij' b_ik at the fixed nodes
    nodes: np.ndarray        # (n, K, q) random-effect nodes b_ik
    log_weights: np.ndarray  # (n, K) log quadrature weights
    event: np.ndarray        # (n,)
    log_time: np.ndarray     # (n,)
    W: np.ndarray            # (n, r) survival covariates, no intercept
    baseline: str            # "weibull" | "piecewise"
    value: bool
    slope: bool
    omega: np.ndarray        # (n, G) integration weights over [0, T_i] (0 = unused point)
    log_s: np.ndarray        # (n, G) log of the integration points
    XT: np.ndarray | None = None     # (n, p) x_i(T_i)
    ZTb: np.ndarray | None = None    # (n, K)
    XS: np.ndarray | None = None     # (n, G, p)
    ZSb: np.ndarray | None = None    # (n, G, K)
    dXT: np.ndarray | None = None    # derivatives in time of the above
    dZTb: np.ndarray | None = None
    dXS: np.ndarray | None = None
    dZSb: np.ndarray | None = None
    interval: np.ndarray | None = None     # (n, G) piecewise interval of each point
    interval_T: np.ndarray | None = None   # (n,) piecewise interval of T_i
    n_intervals: int = 0
    layout: dict[str, slice] = field(default_factory=dict)

    def __post_init__(self) -> None:
        p, r, q = self.X.shape[1], self.W.shape[1], self.nodes.shape[2]
        sizes = [("beta", p), ("log_sigma", 1)]
        if self.baseline == "weibull":
            sizes.append(("gamma0", 1))
        sizes.append(("gamma", r))
        if self.value:
            sizes.append(("alpha", 1))
        if self.slope:
            sizes.append(("alpha_s", 1))
        sizes.append(("log_shape", 1) if self.baseline == "weibull"
                     else ("log_xi", self.n_intervals))
        sizes.append(("D", q * (q + 1) // 2))
        pos = 0
        for name, size in sizes:
            self.layout[name] = slice(pos, pos + size)
            pos += size
        self.n_params = pos
        self.q = q
        self._bb = np.einsum("ikq,ikr->ikqr", self.nodes, self.nodes)
        self._bb_flat = self._bb.reshape(self._bb.shape[:2] + (-1,))
        # integration points last: sums over them run along contiguous memory
        self._ZSb = None if self.ZSb is None else np.ascontiguousarray(self.ZSb.transpose(0, 2, 1))
        self._dZSb = (None if self.dZSb is None
                      else np.ascontiguousarray(self.dZSb.transpose(0, 2, 1)))
        with np.errstate(divide="ignore"):
            self._log_omega = np.log(self.omega)
        if self.baseline == "piecewise":
            self._interval_onehot = np.eye(self.n_intervals)[self.interval]      # (n, G, Q)
            self._event_onehot = np.eye(self.n_intervals)[self.interval_T] * self.event[:, None]

    # ------------------------------------------------------------------ pieces
    def unpack(self, theta: np.ndarray) -> dict[str, np.ndarray]:
        return {name: theta[sl] for name, sl in self.layout.items()}

    def _parts(self, theta: np.ndarray):
        par = self.unpack(theta)
        beta = par["beta"]
        sigma = float(np.exp(par["log_sigma"][0]))
        D, U = chol_to_cov(par["D"], self.q)
        wg = self.W @ par["gamma"] if self.W.shape[1] else np.zeros(len(self.event))
        alpha = float(par["alpha"][0]) if self.value else 0.0
        alpha_s = float(par["alpha_s"][0]) if self.slope else 0.0
        # longitudinal
        resid = (self.y - self.X @ beta)[:, None] - self.Zb                     # (N, K)
        ll_long = np.add.reduceat(-0.5 * resid ** 2 / sigma ** 2, self.starts, axis=0)
        counts = np.diff(np.append(self.starts, len(self.y)))
        ll_long -= (counts * (np.log(sigma) + 0.5 * _LOG_2PI))[:, None]
        # survival: linear predictor at T and at the integration points
        eta_T = np.zeros_like(self.log_weights)
        eta_S = np.zeros((len(self.event), self.nodes.shape[1], self.omega.shape[1]))
        mT = mS = dmT = dmS = None
        if self.value:
            mT = (self.XT @ beta)[:, None] + self.ZTb
            mS = (self.XS @ beta)[:, None, :] + self._ZSb
            eta_T = eta_T + alpha * mT
            eta_S += alpha * mS
        if self.slope:
            dmT = (self.dXT @ beta)[:, None] + self.dZTb
            dmS = (self.dXS @ beta)[:, None, :] + self._dZSb
            eta_T = eta_T + alpha_s * dmT
            eta_S += alpha_s * dmS
        if self.baseline == "weibull":
            log_rho = float(par["log_shape"][0])
            rho = np.exp(log_rho)
            g0 = float(par["gamma0"][0])
            log_h0_T = log_rho + (rho - 1) * self.log_time + g0
            log_h0_S = log_rho + (rho - 1) * self.log_s + g0
        else:
            log_xi = par["log_xi"]
            log_h0_T = log_xi[self.interval_T]
            log_h0_S = log_xi[self.interval]
        eta_S += (log_h0_S + wg[:, None] + self._log_omega)[:, None, :]
        with np.errstate(over="ignore"):
            E = np.exp(eta_S, out=eta_S)
        H = E.sum(axis=2)                                                          # (n, K)
        log_haz = (log_h0_T + wg)[:, None] + eta_T
        ll_surv = self.event[:, None] * log_haz - H
        # random effects
        Dinv = np.linalg.inv(D)
        quad = self._bb_flat @ Dinv.ravel()
        logdet = 2 * np.log(np.diag(U)).sum()
        ll_b = -0.5 * (self.q * _LOG_2PI + logdet + quad)
        total = ll_long + ll_surv + ll_b + self.log_weights
        return dict(par=par, sigma=sigma, D=D, U=U, Dinv=Dinv, resid=resid, E=E, H=H,
                    mT=mT, mS=mS, dmT=dmT, dmS=dmS, alpha=alpha, alpha_s=alpha_s,
                    total=total, wg=wg)

    def loglik_subjects(self, theta: np.ndarray) -> np.ndarray:
        """Log-likelihood contribution of each subject."""
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            return logsumexp(self._parts(theta)["total"], axis=1)

    def loglik(self, theta: np.ndarray) -> float:
        return float(self.loglik_subjects(theta).sum())

    def loglik_and_gradient(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        # far from the optimum exp() may overflow: the value is then -inf or nan and the
        # optimiser steps back; no numpy warning needs to reach the user
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            return self._loglik_and_gradient(theta)

    def _loglik_and_gradient(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        pt = self._parts(theta)
        total = pt["total"]
        li = logsumexp(total, axis=1)
        post = np.exp(total - li[:, None])                     # (n, K) posterior node weights
        grad = np.zeros(self.n_params)
        L = self.layout
        sigma2 = pt["sigma"] ** 2
        resid = pt["resid"]
        post_rows = post[self.idx]                                      # (N, K)
        # beta: longitudinal part
        g_beta = self.X.T @ (post_rows * resid).sum(axis=1) / sigma2
        grad[L["log_sigma"]] = -len(self.y) + (post_rows * resid ** 2).sum() / sigma2
        E = pt["E"]
        F = np.matmul(post[:, None, :], E)[:, 0, :]                     # (n, G)
        d = self.event
        if self.value:
            a = pt["alpha"]
            g_beta += a * (d @ self.XT - F.ravel() @ self.XS.reshape(-1, self.XS.shape[2]))
            grad[L["alpha"]] = (d * (post * pt["mT"]).sum(axis=1)).sum() \
                - np.vdot(post, np.einsum("ikg,ikg->ik", E, pt["mS"]))
        if self.slope:
            a_s = pt["alpha_s"]
            g_beta += a_s * (d @ self.dXT - F.ravel() @ self.dXS.reshape(-1, self.dXS.shape[2]))
            grad[L["alpha_s"]] = (d * (post * pt["dmT"]).sum(axis=1)).sum() \
                - np.vdot(post, np.einsum("ikg,ikg->ik", E, pt["dmS"]))
        grad[L["beta"]] = g_beta
        expected_H = (post * pt["H"]).sum(axis=1)                       # (n,)
        if self.W.shape[1]:
            grad[L["gamma"]] = self.W.T @ (d - expected_H)
        if self.baseline == "weibull":
            grad[L["gamma0"]] = (d - expected_H).sum()
            rho = np.exp(pt["par"]["log_shape"][0])
            grad[L["log_shape"]] = (d * (1 + rho * self.log_time)).sum() \
                - (F * (1 + rho * self.log_s)).sum()
        else:
            grad[L["log_xi"]] = self._event_onehot.sum(axis=0) \
                - np.einsum("ig,igq->q", F, self._interval_onehot)
        # D through its log-Cholesky factor
        S = np.einsum("ik,ikqr->qr", post, self._bb)
        n = len(self.event)
        Dinv = pt["Dinv"]
        G = 0.5 * Dinv @ (S - n * pt["D"]) @ Dinv                        # d loglik / d D
        U = pt["U"]
        dU = 2 * U @ G
        rows, cols = _upper_index(self.q)
        gD = dU[rows, cols].copy()
        diag = rows == cols
        gD[diag] *= U[rows[diag], cols[diag]]
        grad[L["D"]] = gD
        return float(li.sum()), grad

    def posterior_moments(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Posterior means (n, q) and covariances (n, q, q) of the random effects."""
        total = self._parts(theta)["total"]
        post = np.exp(total - logsumexp(total, axis=1)[:, None])
        mean = np.einsum("ik,ikq->iq", post, self.nodes)
        second = np.einsum("ik,ikqr->iqr", post, self._bb)
        return mean, second - np.einsum("iq,ir->iqr", mean, mean)

"""The exact engine: lme4's profiled deviance for one grouping factor, vectorised over subjects.

With a single grouping factor the random-effects model matrix is block diagonal (one small
``n_i x q`` block per subject), so everything the penalised least-squares problem of
Bates et al. (2015, J Stat Softw 67, section 3) needs is a handful of per-subject sufficient
statistics, computed once::

    Z_i'Z_i (q x q),   Z_i'[X y] (q x (p+1)),   [X y]'[X y] ((p+1) x (p+1)).

For a relative covariance factor ``Lambda(theta)`` (lower triangular, lme4's column-wise
``theta`` order) one evaluation of the profiled deviance is then

* ``L_i L_i' = Lambda' Z_i'Z_i Lambda + I`` per subject (closed form for q = 1 and 2, batched
  Cholesky otherwise), ``log|L|^2 = 2 sum log diag L_i``;
* ``C_i = L_i^{-1} Lambda' Z_i'[X y]``; the Schur complement
  ``M = [X y]'[X y] - sum_i C_i'C_i`` whose Cholesky factor holds ``R_X`` (top left),
  ``c_beta`` (last row) and the penalised residual sum of squares ``r^2`` (last diagonal²);
* ML: ``log|L|^2 + n (1 + log(2 pi r^2 / n))``;
  REML: ``log|L|^2 + log|R_X|^2 + (n - p)(1 + log(2 pi r^2 / (n - p)))``.

The cost is O(m q^3 + m q p^2 + p^3) per evaluation. The optimiser is BOBYQA (nlopt), as in
lme4's default ``nloptwrap``, with tighter tolerances, lme4's lower bound 0 on the diagonal of
``Lambda``, lme4's restart at the edge and its boundary check.
"""

from __future__ import annotations

import contextlib
import functools
from dataclasses import dataclass, field

import nlopt
import numpy as np
from scipy import sparse

__all__ = ["Evaluation", "LmeProblem", "OptimResult", "optimize_theta", "single_threaded_blas",
           "theta_layout"]

_LOG_2PI = float(np.log(2.0 * np.pi))
_OUTER_MAX = 4_000_000  # elements (32 MB) of precomputed per-subject outer products


def single_threaded_blas():
    """A context that keeps BLAS on one thread (threadpoolctl, when installed).

    The products here are small (p+1 <= ~20 columns); a multi-threaded BLAS spends more time
    waking threads than computing, and on a shared machine 10x more (measured: 0.4 ms vs 5 ms
    for one evaluation at 4,390 subjects).
    """
    controller = _threadpool_controller()
    if controller is None:  # pragma: no cover - threadpoolctl is a dependency
        return contextlib.nullcontext()
    return controller.limit(limits=1, user_api="blas")


@functools.lru_cache(maxsize=1)
def _threadpool_controller():
    """One scan of the loaded BLAS libraries (a fresh scan costs 0.6-5 ms a fit)."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover
        return None
    return ThreadpoolController()


def theta_layout(q: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row and column indices of ``theta`` in ``Lambda`` (lme4's column-wise lower triangle).

    Returns ``(rows, cols, is_diagonal)``; ``theta[k]`` sits at ``Lambda[rows[k], cols[k]]``.
    """
    rows, cols = [], []
    for j in range(q):
        for i in range(j, q):
            rows.append(i)
            cols.append(j)
    rows_a, cols_a = np.array(rows), np.array(cols)
    return rows_a, cols_a, rows_a == cols_a


@dataclass
class Evaluation:
    """Everything one profiled-deviance evaluation produces (at one ``theta``)."""

    theta: np.ndarray
    ldL2: float  # log|L|^2
    ldRX2: float  # log|R_X|^2
    r2: float  # penalised residual sum of squares
    beta: np.ndarray
    rx: np.ndarray  # lower-triangular factor of X'V^{-1}X / sigma^2 (R_X')
    kernel: object = field(repr=False)  # per-subject K_i (see LmeProblem._kernel)

    def deviance(self, n: int, reml: bool) -> float:
        """lme4's profiled deviance (REML criterion when ``reml``)."""
        p = self.beta.size
        if reml:
            dof = n - p
            return self.ldL2 + self.ldRX2 + dof * (1.0 + _LOG_2PI + np.log(self.r2 / dof))
        return self.ldL2 + n * (1.0 + _LOG_2PI + np.log(self.r2 / n))

    def sigma2(self, n: int, reml: bool) -> float:
        """The profiled residual variance: ``r^2 / (n - p)`` (REML) or ``r^2 / n`` (ML)."""
        return self.r2 / (n - self.beta.size if reml else n)

    def cov_beta_unscaled(self) -> np.ndarray:
        """``(R_X' R_X)^{-1}``, i.e. ``Var(beta_hat) / sigma^2``."""
        inv = np.linalg.inv(self.rx)  # p x p; scipy's solve_triangular call overhead dominates
        return inv.T @ inv


class LmeProblem:
    """A linear mixed model with one grouping factor, reduced to sufficient statistics.

    Parameters
    ----------
    X : ndarray (n, p)
        Fixed-effects model matrix (full column rank).
    y : ndarray (n,)
        Response.
    Z : ndarray (n, q)
        Random-effects model matrix of one subject's block, stacked over rows.
    codes : ndarray of int (n,)
        Group (subject) index of each row, ``0 .. n_groups - 1``.
    n_groups : int
        Number of groups.
    """

    def __init__(self, X: np.ndarray, y: np.ndarray, Z: np.ndarray, codes: np.ndarray,
                 n_groups: int):
        X = np.asarray(X, dtype=float)
        Z = np.asarray(Z, dtype=float)
        y = np.asarray(y, dtype=float)
        n, p = X.shape
        q = Z.shape[1]
        W = np.column_stack([X, y])
        self.indicator = sparse.csr_matrix(
            (np.ones(n), (np.asarray(codes), np.arange(n))), shape=(n_groups, n))
        ztz = self.indicator @ (Z[:, :, None] * Z[:, None, :]).reshape(n, q * q)
        ztw = self.indicator @ (Z[:, :, None] * W[:, None, :]).reshape(n, q * (p + 1))
        self._set_stats(np.asarray(ztz).reshape(n_groups, q, q),
                        np.asarray(ztw).reshape(n_groups, q, p + 1), W.T @ W, n)

    @classmethod
    def from_stats(cls, ztz: np.ndarray, ztw: np.ndarray, wtw: np.ndarray, n: int) -> LmeProblem:
        """A problem from precomputed sufficient statistics (used by the bootstrap)."""
        self = cls.__new__(cls)
        self.indicator = None
        self._set_stats(ztz, ztw, wtw, n)
        return self

    def _set_stats(self, ztz: np.ndarray, ztw: np.ndarray, wtw: np.ndarray, n: int) -> None:
        self.ztz = ztz
        self.ztw = ztw
        self.wtw = wtw
        self.n = int(n)
        self.n_groups, self.q, pp1 = ztw.shape
        self.p = pp1 - 1
        self.rows, self.cols, self.diag = theta_layout(self.q)
        # closed-form 1x1 / 2x2 algebra; False forces the generic batched path (tests use it)
        self.closed_form = self.q <= 2
        self._outer = None
        if self.q == 1:
            self._s = ztz[:, 0, 0].copy()
            self._w0 = ztw[:, 0, :].copy()
        elif self.q == 2:
            self._a = ztz[:, 0, 0].copy()
            self._b = ztz[:, 0, 1].copy()
            self._c = ztz[:, 1, 1].copy()
            self._w0 = ztw[:, 0, :].copy()
            self._w1 = ztw[:, 1, :].copy()
        if self.q <= 2 and self.n_groups * self.q * (self.q + 1) * pp1 * pp1 <= _OUTER_MAX:
            # per-subject outer products, so that sum_i (Z_i'W)' K_i (Z_i'W) is one product
            w0 = ztw[:, 0, :]
            outer = [w0[:, :, None] * w0[:, None, :]]
            if self.q == 2:
                w1 = ztw[:, 1, :]
                cross = w0[:, :, None] * w1[:, None, :]
                outer += [cross + np.swapaxes(cross, 1, 2), w1[:, :, None] * w1[:, None, :]]
            self._outer = np.concatenate([o.reshape(self.n_groups, -1) for o in outer])

    @property
    def n_theta(self) -> int:
        return self.rows.size

    @property
    def lower_bounds(self) -> np.ndarray:
        """lme4's bounds: 0 on the diagonal of ``Lambda``, unbounded off it."""
        return np.where(self.diag, 0.0, -np.inf)

    def theta_start(self) -> np.ndarray:
        """lme4's start: identity ``Lambda``."""
        return self.diag.astype(float)

    def lam(self, theta: np.ndarray) -> np.ndarray:
        out = np.zeros((self.q, self.q))
        out[self.rows, self.cols] = theta
        return out

    def _kernel(self, theta: np.ndarray):
        """Per-subject ``K_i = Lambda (Lambda' Z_i'Z_i Lambda + I)^{-1} Lambda'`` and log|L|^2.

        ``sum_i C_i'C_i = sum_i (Z_i'W)' K_i (Z_i'W)``, which is what the Schur complement
        needs; K is returned in a compact form: (k,) for q = 1, (k00, k01, k11) for q = 2,
        an (m, q, q) array otherwise.
        """
        if self.closed_form and self.q == 1:
            t2 = theta[0] * theta[0]
            det = 1.0 + t2 * self._s
            return t2 / det, float(np.sum(np.log(det)))
        if self.closed_form and self.q == 2:
            l11, l21, l22 = theta
            ab = l11 * self._a + l21 * self._b
            bc = l11 * self._b + l21 * self._c
            a00 = l11 * ab + l21 * bc + 1.0
            a01 = l22 * bc
            a11 = l22 * l22 * self._c + 1.0
            det = a00 * a11 - a01 * a01
            # (Lambda B)[1, :] with B = A^{-1} = [[a11, -a01], [-a01, a00]] / det
            r0 = (l21 * a11 - l22 * a01) / det
            r1 = (l22 * a00 - l21 * a01) / det
            k00 = (l11 * l11) * a11 / det
            k01 = l11 * r0
            k11 = r0 * l21 + r1 * l22
            return (k00, k01, k11), float(np.sum(np.log(det)))
        lam = self.lam(theta)
        a = lam.T @ self.ztz @ lam + np.eye(self.q)
        sign, logdet = np.linalg.slogdet(a)
        if np.any(sign <= 0):
            return None
        k = lam @ np.linalg.solve(a, np.broadcast_to(lam.T, a.shape))
        return k, float(np.sum(logdet))

    def _quad(self, k) -> np.ndarray:
        """``sum_i (Z_i'W)' K_i (Z_i'W)``, (p+1) x (p+1)."""
        pp1 = self.p + 1
        if self.closed_form and self._outer is not None:
            kk = k if self.q == 1 else np.concatenate(k)
            return (kk @ self._outer).reshape(pp1, pp1)
        if self.closed_form and self.q == 1:
            return (self._w0 * k[:, None]).T @ self._w0
        if self.closed_form and self.q == 2:
            k00, k01, k11 = (v[:, None] for v in k)
            w0, w1 = self._w0, self._w1
            return w0.T @ (k00 * w0 + k01 * w1) + w1.T @ (k01 * w0 + k11 * w1)
        kv = k @ self.ztw
        return self.ztw.reshape(-1, pp1).T @ kv.reshape(-1, pp1)

    def _factor(self, theta: np.ndarray):
        """Cholesky factor of the Schur complement and log|L|^2; None where not computable."""
        out = self._kernel(theta)
        if out is None:
            return None
        k, ldl2 = out
        schur = self.wtw - self._quad(k)
        try:
            low = np.linalg.cholesky(schur)
        except np.linalg.LinAlgError:
            return None
        return low, ldl2, k

    def deviance(self, theta: np.ndarray, reml: bool) -> float:
        """lme4's profiled deviance / REML criterion at ``theta`` (inf where not computable)."""
        out = self._factor(np.asarray(theta, dtype=float))
        if out is None:
            return np.inf
        low, ldl2, _ = out
        p, n = self.p, self.n
        diag = np.diagonal(low)
        r2 = diag[p] * diag[p]
        if not r2 > 0:
            return np.inf
        if reml:
            dof = n - p
            return float(ldl2 + 2.0 * np.sum(np.log(diag[:p]))
                         + dof * (1.0 + _LOG_2PI + np.log(r2 / dof)))
        return float(ldl2 + n * (1.0 + _LOG_2PI + np.log(r2 / n)))

    def evaluate(self, theta: np.ndarray) -> Evaluation | None:
        """Solve the penalised least-squares problem at ``theta``; None if not computable."""
        theta = np.asarray(theta, dtype=float)
        out = self._factor(theta)
        if out is None:
            return None
        low, ldl2, k = out
        p = self.p
        rx = low[:p, :p]
        diag_rx = np.diagonal(rx)
        r2 = float(low[p, p] ** 2)
        if not np.all(diag_rx > 0) or not r2 > 0 or not np.isfinite(r2):
            return None
        beta = np.linalg.solve(rx.T, low[p, :p])
        return Evaluation(theta=theta, ldL2=float(ldl2), ldRX2=float(2.0 * np.sum(np.log(diag_rx))),
                          r2=r2, beta=beta, rx=rx, kernel=k)

    def deviance_varpar(self, varpar: np.ndarray, reml: bool) -> float:
        """The deviance as a function of ``(theta, sigma)`` (lmerTest's ``devfun_vp``)."""
        theta, sigma = np.asarray(varpar[:-1]), float(varpar[-1])
        ev = self.evaluate(theta)
        if ev is None:
            return np.nan
        s2 = sigma * sigma
        dev = ev.ldL2 + ev.r2 / s2 + self.n * (_LOG_2PI + np.log(s2))
        if reml:
            dev += ev.ldRX2 - self.p * (_LOG_2PI + np.log(s2))
        return dev

    def cov_beta_varpar(self, varpar: np.ndarray) -> np.ndarray:
        """``Var(beta_hat)`` as a function of ``(theta, sigma)`` (lmerTest's ``get_covbeta``)."""
        ev = self.evaluate(np.asarray(varpar[:-1]))
        if ev is None:
            return np.full((self.p, self.p), np.nan)
        return float(varpar[-1]) ** 2 * ev.cov_beta_unscaled()

    def random_effects(self, ev: Evaluation) -> np.ndarray:
        """BLUPs ``b_i = K_i Z_i'(y_i - X_i beta)`` (= ``Lambda u_i``), shape (m, q)."""
        resid = self.ztw @ np.append(-ev.beta, 1.0)  # (m, q)
        k = ev.kernel
        if self.closed_form and self.q == 1:
            return k[:, None] * resid
        if self.closed_form and self.q == 2:
            k00, k01, k11 = k
            return np.column_stack([k00 * resid[:, 0] + k01 * resid[:, 1],
                                    k01 * resid[:, 0] + k11 * resid[:, 1]])
        return (k @ resid[:, :, None])[:, :, 0]


@dataclass
class OptimResult:
    """What the optimiser reports."""

    theta: np.ndarray
    deviance: float
    n_evaluations: int
    status: str
    converged: bool
    message: str


def optimize_theta(problem: LmeProblem, reml: bool, start: np.ndarray | None = None,
                   xtol_rel: float = 1e-10, ftol_abs: float = 1e-11, maxeval: int = 10_000,
                   boundary_tol: float = 1e-5) -> OptimResult:
    """Minimise the profiled deviance over ``theta`` with BOBYQA, as lme4 does.

    After the first run, lme4's ``restart_edge`` (restart when a parameter on the boundary has
    a negative one-sided slope) and ``check.boundary`` (snap parameters within
    ``boundary_tol`` of the boundary onto it when that does not raise the deviance) apply.
    """
    lower = problem.lower_bounds
    x0 = problem.theta_start() if start is None else np.maximum(np.asarray(start, float), lower)
    count = [0]
    best = [np.inf, x0.copy()]

    def objective(x, grad):
        count[0] += 1
        value = problem.deviance(x, reml)
        if value < best[0]:
            best[0], best[1] = value, x.copy()
        return value if np.isfinite(value) else 1e300

    def run(x_start):
        opt = nlopt.opt(nlopt.LN_BOBYQA, problem.n_theta)
        opt.set_min_objective(objective)
        opt.set_lower_bounds(np.where(np.isfinite(lower), lower, -1e300))
        opt.set_xtol_rel(xtol_rel)
        opt.set_xtol_abs(1e-12)
        opt.set_ftol_abs(ftol_abs)
        opt.set_maxeval(maxeval)
        step = np.maximum(0.1 * np.abs(x_start), 0.05)
        opt.set_initial_step(step)
        try:
            opt.optimize(x_start)
            code = opt.last_optimize_result()
        except nlopt.RoundoffLimited:
            code = nlopt.ROUNDOFF_LIMITED
        return code

    code = run(x0)
    on_edge = np.flatnonzero(problem.diag & (best[1] == 0.0))
    if on_edge.size:
        theta0, d0 = best[1].copy(), best[0]
        slopes = []
        for i in on_edge:
            trial = theta0.copy()
            trial[i] = 1e-5
            slopes.append((problem.deviance(trial, reml) - d0) / 1e-5)
        if min(slopes) < 0:
            code = run(theta0)
    theta, fval = best[1].copy(), best[0]
    near = np.flatnonzero(problem.diag & (theta > 0) & (theta < boundary_tol))
    for i in near:
        trial = theta.copy()
        trial[i] = 0.0
        value = problem.deviance(trial, reml)
        # lme4 snaps when strictly lower; ties within rounding also go to the boundary
        if value <= fval + 1e-12 * max(1.0, abs(fval)):
            theta, fval = trial, value
    names = {nlopt.SUCCESS: "success", nlopt.STOPVAL_REACHED: "stopval reached",
             nlopt.FTOL_REACHED: "ftol reached", nlopt.XTOL_REACHED: "xtol reached",
             nlopt.MAXEVAL_REACHED: "maximum number of evaluations reached",
             nlopt.MAXTIME_REACHED: "maximum time reached",
             nlopt.ROUNDOFF_LIMITED: "roundoff limited"}
    status = names.get(code, f"nlopt code {code}")
    converged = bool(np.isfinite(fval)) and code in (
        nlopt.SUCCESS, nlopt.FTOL_REACHED, nlopt.XTOL_REACHED, nlopt.ROUNDOFF_LIMITED)
    return OptimResult(theta=theta, deviance=float(fval), n_evaluations=count[0], status=status,
                       converged=converged, message=f"BOBYQA (nlopt): {status}")

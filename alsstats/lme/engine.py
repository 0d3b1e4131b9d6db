"""The exact engine: lme4's profiled deviance for one random-effect term, vectorised over subjects.

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

The cost is O(m q^3 + m q p^2 + p^3) per evaluation. The optimiser (:func:`optimize_theta`)
starts with Newton's method on the exact gradient and Hessian (:mod:`alsstats.lme.derivatives`)
from a moment estimate (:func:`scaled_start`, :func:`newton_minimize`); when Newton nears the
boundary or fails a check it is BOBYQA (nlopt), as in lme4's default ``nloptwrap``, with lme4's
lower bound 0 on the diagonal of ``Lambda`` and its boundary check, then Newton steps. At the boundary every sign pattern of the free entries below
a zero diagonal entry is tried (:func:`boundary_descent`), so the fit never ends at the saddle
that lme4's ``restart_edge`` (current signs only) can miss; :func:`check_convergence` is lme4's
``checkConv`` on exact derivatives. Several random-effect terms: :mod:`alsstats.lme.general`,
which runs this one-factor algebra on the largest term.
"""

from __future__ import annotations

import contextlib
import functools
from dataclasses import dataclass, field

import nlopt
import numpy as np
from scipy import sparse

from alsstats.lme import _lapack
from alsstats.lme.derivatives import (
    BlockStats,
    DerivativeParts,
    RowLayout,
    TermLayout,
    theta_layout,
)

__all__ = ["Evaluation", "LmeProblem", "OptimResult", "optimize_theta", "single_threaded_blas",
           "theta_layout"]

_LOG_2PI = float(np.log(2.0 * np.pi))
_OUTER_MAX = 4_000_000  # elements (32 MB) of precomputed per-subject outer products
_OUTER_AFTER = 40  # deviance evaluations before they are precomputed


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


def profiled_criterion(ld_l2, ld_rx2, r2, n: int, p: int, reml: bool):
    """lme4's profiled deviance (ML) or REML criterion from ``log|L|^2``, ``log|R_X|^2`` and the
    penalised residual sum of squares ``r^2`` (scalars or arrays of replicates)."""
    if reml:
        dof = n - p
        return ld_l2 + ld_rx2 + dof * (1.0 + _LOG_2PI + np.log(r2 / dof))
    return ld_l2 + n * (1.0 + _LOG_2PI + np.log(r2 / n))


@dataclass
class Evaluation:
    """Everything one profiled-deviance evaluation produces (at one ``theta``)."""

    theta: np.ndarray
    ldL2: float  # log|L|^2
    ldRX2: float  # log|R_X|^2
    r2: float  # penalised residual sum of squares
    beta: np.ndarray
    rx: np.ndarray  # lower-triangular factor of X'V^{-1}X / sigma^2 (R_X')
    kernel: object = field(repr=False)  # per-subject K_i (see LmeProblem.kernel)
    _cov_beta: np.ndarray | None = field(default=None, repr=False, compare=False)
    _rx_inv: np.ndarray | None = field(default=None, repr=False, compare=False)

    def deviance(self, n: int, reml: bool) -> float:
        """lme4's profiled deviance (REML criterion when ``reml``)."""
        return profiled_criterion(self.ldL2, self.ldRX2, self.r2, n, self.beta.size, reml)

    def sigma2(self, n: int, reml: bool) -> float:
        """The profiled residual variance: ``r^2 / (n - p)`` (REML) or ``r^2 / n`` (ML)."""
        return self.r2 / (n - self.beta.size if reml else n)

    def cov_beta_root(self) -> np.ndarray:
        """``A = R_X^{-1}`` (upper triangular): ``A A' = (R_X' R_X)^{-1}`` (read-only)."""
        if self._rx_inv is None:
            inv = _lapack.inv_lower(self.rx)
            inv.flags.writeable = False
            self._rx_inv = inv
        return self._rx_inv.T

    def cov_beta_unscaled(self) -> np.ndarray:
        """``(R_X' R_X)^{-1}``, i.e. ``Var(beta_hat) / sigma^2`` (computed once, read-only)."""
        if self._cov_beta is None:
            root = self.cov_beta_root()
            cov = root @ root.T
            cov.flags.writeable = False
            self._cov_beta = cov
        return self._cov_beta


class ProfiledProblem:
    """The profiled deviance and what follows from it, given a problem's penalised
    least-squares factor: ``_factor(theta)`` -> ``(L, log|L|^2, kernel)`` or None, where the
    last row of ``L`` (lower triangular, size p + 1) holds ``R_X`` and ``r``, and
    ``derivative_stats(evaluation)``. One deviance for every problem (one grouping factor or
    several), so the optimiser, Satterthwaite and the bootstrap all evaluate the same function.
    """

    n: int
    p: int
    rows: np.ndarray  # per theta entry: its row in the term's Lambda
    diag: np.ndarray  # per theta entry: on the diagonal of Lambda

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

    def _factor(self, theta: np.ndarray):
        raise NotImplementedError

    def derivative_stats(self, ev: Evaluation):
        raise NotImplementedError

    def deviance(self, theta: np.ndarray, reml: bool) -> float:
        """lme4's profiled deviance / REML criterion at ``theta`` (inf where not computable)."""
        out = self._factor(np.asarray(theta, dtype=float))
        if out is None:
            return np.inf
        low, ld_l2, _ = out
        p = self.p
        diag = np.diagonal(low)
        r2 = diag[p] * diag[p]
        if not r2 > 0 or not (diag[:p] > 0).all():
            return np.inf
        ld_rx2 = 2.0 * np.sum(np.log(diag[:p])) if reml else 0.0
        return float(profiled_criterion(ld_l2, ld_rx2, r2, self.n, p, reml))

    def evaluate(self, theta: np.ndarray) -> Evaluation | None:
        """Solve the penalised least-squares problem at ``theta``; None if not computable."""
        theta = np.asarray(theta, dtype=float)
        out = self._factor(theta)
        if out is None:
            return None
        low, ld_l2, kernel = out
        p = self.p
        rx = low[:p, :p]
        diag_rx = np.diagonal(rx)
        r2 = float(low[p, p] ** 2)
        if not (diag_rx > 0).all() or not r2 > 0 or not np.isfinite(r2):
            return None
        beta = _lapack.solve_lower(rx, low[p, :p], transposed=True)
        return Evaluation(theta=theta, ldL2=float(ld_l2),
                          ldRX2=float(2.0 * np.sum(np.log(diag_rx))),
                          r2=r2, beta=beta, rx=rx, kernel=kernel)

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

    def derivatives(self, theta: np.ndarray, reml: bool, second: bool = True
                    ) -> DerivativeParts | None:
        """Exact derivatives of the deviance at ``theta`` (None where not computable)."""
        ev = self.evaluate(theta)
        if ev is None:
            return None
        return self.derivatives_of(ev, reml, second)

    def derivatives_of(self, ev: Evaluation, reml: bool, second: bool = True,
                       covariance: bool = True) -> DerivativeParts:
        """:meth:`derivatives` from an evaluation already made (no second factorisation);
        ``covariance=False`` leaves out ``dVar(beta)/dtheta`` (``dcov`` None)."""
        return self.derivative_stats(ev).parts(reml, second, covariance)

    def evaluate_deviance(self, theta: np.ndarray, reml: bool) -> tuple[Evaluation | None, float]:
        """``(evaluate(theta), deviance(theta))`` from one factorisation."""
        ev = self.evaluate(theta)
        return ev, (np.inf if ev is None else float(ev.deviance(self.n, reml)))

    def gradient(self, theta: np.ndarray, reml: bool) -> np.ndarray:
        """The exact gradient of the profiled deviance over ``theta`` (NaN if not computable)."""
        parts = self.derivatives(theta, reml, second=False)
        if parts is None:
            return np.full(self.n_theta, np.nan)
        return parts.profiled_gradient()


class LmeProblem(ProfiledProblem):
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
        self._X, self._Z = X, Z
        self._codes = np.asarray(codes, dtype=np.intp)
        self._indicator = None
        zw = np.empty((q + p + 1, n))  # [Z, X, y]', one contiguous row per column
        zw[:q] = Z.T
        zw[q:q + p] = X.T
        zw[q + p] = y
        # every Z_i[:, a] * [Z_i, W_i][:, j] summed per subject, in one bincount
        products = zw[:q, None, :] * zw[None, :, :]  # (q, q + p + 1, n)
        slot = np.arange(q * (q + p + 1))[:, None] * n_groups + self._codes
        sums = np.bincount(slot.ravel(), weights=products.ravel(),
                           minlength=q * (q + p + 1) * n_groups).reshape(q, q + p + 1, n_groups)
        self._set_stats(np.ascontiguousarray(sums[:, :q].transpose(2, 0, 1)),
                        np.ascontiguousarray(sums[:, q:].transpose(2, 0, 1)),
                        zw[q:] @ zw[q:].T, n, lazy_outer=True)

    @property
    def indicator(self) -> sparse.csr_matrix | None:
        """The (n_groups x n) subject indicator (None for a problem built from statistics)."""
        if self._indicator is None and getattr(self, "_codes", None) is not None:
            n = self._codes.size
            self._indicator = sparse.csr_matrix(
                (np.ones(n), (self._codes, np.arange(n))), shape=(self.n_groups, n))
        return self._indicator

    @classmethod
    def from_stats(cls, ztz: np.ndarray, ztw: np.ndarray, wtw: np.ndarray, n: int) -> LmeProblem:
        """A problem from precomputed sufficient statistics (used by the bootstrap)."""
        self = cls.__new__(cls)
        self._codes = self._indicator = None
        self._set_stats(ztz, ztw, wtw, n)
        return self

    def with_response(self, y: np.ndarray) -> LmeProblem:
        """The same design with response ``y``: only ``Z_i'y``, ``X'y`` and ``y'y`` are new
        (lme4's ``refit``)."""
        if self.indicator is None:
            raise ValueError("with_response needs a problem built from X, y, Z and codes")
        y = np.asarray(y, dtype=float)
        p = self.p
        ztw = self.ztw.copy()
        ztw[:, :, p] = np.asarray(self.indicator @ (self._Z * y[:, None]))
        wtw = self.wtw.copy()
        wtw[:p, p] = wtw[p, :p] = self._X.T @ y
        wtw[p, p] = y @ y
        new = object.__new__(LmeProblem)
        new.__dict__.update(self.__dict__)
        new._set_stats(self.ztz, ztw, wtw, self.n)
        return new

    def _set_stats(self, ztz: np.ndarray, ztw: np.ndarray, wtw: np.ndarray, n: int,
                   lazy_outer: bool = False) -> None:
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
        # per-subject entries as contiguous rows over subjects: Z_i'W row j is _wt[j], (p+1, m)
        if self.q == 1:
            self._s = ztz[:, 0, 0].copy()
            self._w0t = np.ascontiguousarray(ztw[:, 0, :].T)
        elif self.q == 2:
            self._a = ztz[:, 0, 0].copy()
            self._b = ztz[:, 0, 1].copy()
            self._c = ztz[:, 1, 1].copy()
            self._w0t = np.ascontiguousarray(ztw[:, 0, :].T)
            self._w1t = np.ascontiguousarray(ztw[:, 1, :].T)
        # per-subject outer products (sum_i (Z_i'W)' K_i (Z_i'W) as one product) pay off only
        # over many evaluations (BOBYQA): with ``lazy_outer`` (a fit, which starts with Newton)
        # built at the _OUTER_AFTER-th evaluation, else at once (the bootstrap's refits)
        self._outer_ok = (self.q <= 2 and self.n_groups * self.q * (self.q + 1) * pp1 * pp1
                          <= _OUTER_MAX)
        self._quad_calls = 0
        if self._outer_ok and not lazy_outer:
            self._build_outer()

    def _build_outer(self) -> None:
        ztw = self.ztw
        w0 = ztw[:, 0, :]
        outer = [w0[:, :, None] * w0[:, None, :]]
        if self.q == 2:
            w1 = ztw[:, 1, :]
            cross = w0[:, :, None] * w1[:, None, :]
            outer += [cross + np.swapaxes(cross, 1, 2), w1[:, :, None] * w1[:, None, :]]
        self._outer = np.concatenate([o.reshape(self.n_groups, -1) for o in outer])

    def moment_start(self, skip: int = 0) -> np.ndarray | None:
        """A moment estimate of ``theta``: from ordinary least-squares residuals ``r`` (on the
        columns of ``W`` after the first ``skip``, i.e. without other terms' columns),
        ``sum_i (Z_i'r_i)(Z_i'r_i)' = sum_i S_i G S_i + sigma^2 sum_i S_i`` and
        ``r'r = sum_i tr(G S_i) + n sigma^2`` (``S_i = Z_i'Z_i``), solved for the relative
        covariance ``G / sigma^2``; None when that is not positive definite. A start for Newton,
        nothing more (it ignores the leverage of the fixed effects)."""
        p, q = self.p, self.q
        xtx = self.wtw[skip:p, skip:p]
        xty = self.wtw[skip:p, p]
        beta = _lapack.solve_spd(xtx, xty)  # full rank: aliased columns are gone
        if beta is None:
            beta = np.linalg.lstsq(xtx, xty, rcond=None)[0]
        w = np.zeros(p + 1)
        w[skip:p] = -beta
        w[p] = 1.0
        m = self.n_groups
        u = (self.ztw.reshape(m * q, p + 1) @ w).reshape(m, q)  # Z_i'r_i
        rss = float(w @ self.wtw @ w)
        S = self.ztz
        iu = np.triu_indices(q)
        off = iu[0] != iu[1]
        s2 = S.reshape(m, q * q)
        gram = (s2.T @ s2).reshape(q, q, q, q)  # sum_i S_i[a, b] S_i[c, d]
        ssum = S.sum(axis=0)
        # column j: sum_i S_i E_j S_i on the upper triangle for E_j the symmetric unit at pair j
        # (sum_i S_i[c, a] S_i[b, d] + the same with a, b swapped), and its trace term
        ses = gram.transpose(1, 2, 0, 3)  # [a, b, c, d] = sum_i S_i[c, a] S_i[b, d]
        ses = ses + np.where(np.not_equal.outer(np.arange(q), np.arange(q))[:, :, None, None],
                             ses.transpose(1, 0, 2, 3), 0.0)
        nq = off.size
        system = np.empty((nq + 1, nq + 1))
        system[:nq, :nq] = ses[iu][:, iu[0], iu[1]].T
        system[nq, :nq] = ssum[iu] * np.where(off, 2.0, 1.0)
        system[:nq, nq] = ssum[iu]
        system[nq, nq] = self.n
        rhs = np.append((u.T @ u)[iu], rss)
        try:
            sol = np.linalg.solve(system, rhs)
        except np.linalg.LinAlgError:
            return None
        sigma2 = sol[-1]
        if not sigma2 > 0:
            return None
        G = np.zeros((q, q))
        G[iu] = sol[:-1]
        G = G + np.triu(G, 1).T
        try:
            low = np.linalg.cholesky(G / sigma2)
        except np.linalg.LinAlgError:
            return None
        return low[self.rows, self.cols]

    def lam(self, theta: np.ndarray) -> np.ndarray:
        out = np.zeros((self.q, self.q))
        out[self.rows, self.cols] = theta
        return out

    def kernel(self, theta: np.ndarray):
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

    def quad(self, k) -> np.ndarray:
        """``sum_i (Z_i'W)' K_i (Z_i'W)``, (p+1) x (p+1)."""
        pp1 = self.p + 1
        if self._outer is None and self._outer_ok:
            self._quad_calls += 1
            if self._quad_calls >= _OUTER_AFTER:
                self._build_outer()
        if self.closed_form and self._outer is not None:
            kk = k if self.q == 1 else np.concatenate(k)
            return (kk @ self._outer).reshape(pp1, pp1)
        if self.closed_form and self.q == 1:
            return (self._w0t * k) @ self._w0t.T
        if self.closed_form and self.q == 2:
            k00, k01, k11 = k
            w0, w1 = self._w0t, self._w1t
            return (w0 * k00 + w1 * k01) @ w0.T + (w0 * k01 + w1 * k11) @ w1.T
        kv = k @ self.ztw
        return self.ztw.reshape(-1, pp1).T @ kv.reshape(-1, pp1)

    def _factor(self, theta: np.ndarray):
        """Cholesky factor of the Schur complement and log|L|^2; None where not computable."""
        out = self.kernel(theta)
        if out is None:
            return None
        k, ldl2 = out
        low = _lapack.cholesky_lower(self.wtw - self.quad(k))
        if low is None:
            return None
        return low, ldl2, k

    def full_kernel(self, k) -> np.ndarray:
        """The per-subject ``K_i`` as an (m, q, q) array, from any compact form."""
        if self.closed_form and self.q == 1:
            return np.asarray(k, dtype=float).reshape(-1, 1, 1)
        if self.closed_form and self.q == 2:
            k00, k01, k11 = k
            out = np.empty((k00.size, 2, 2))
            out[:, 0, 0] = k00
            out[:, 0, 1] = out[:, 1, 0] = k01
            out[:, 1, 1] = k11
            return out
        return k

    def derivative_stats(self, ev: Evaluation) -> BlockStats:
        """``Z_i'V0_i^{-1}Z_i``, ``Z_i'V0_i^{-1}X``, ``Z_i'V0_i^{-1}(y - X beta)`` per subject,
        for :mod:`alsstats.lme.derivatives`.

        With ``V0_i^{-1} = I - Z_i K_i Z_i'``: ``M_i = S_i - S_i K_i S_i`` and
        ``Z_i'V0_i^{-1}W_i = (I - S_i K_i) Z_i'W_i``; for q <= 2 in closed form on the per-subject
        entries, written straight into :class:`BlockStats`' rows (numpy's batched products of
        2 x 2 matrices cost ~3x more)."""
        p, q = self.p, self.q
        w = np.empty(p + 1)
        np.negative(ev.beta, out=w[:p])
        w[p] = 1.0
        term = TermLayout(offset=0, n_levels=self.n_groups, q=q, theta_offset=0,
                          lam=self.lam(ev.theta))
        C, root = ev.cov_beta_unscaled(), ev.cov_beta_root()
        if not self.closed_form or q > 2:
            SK = self.ztz @ ev.kernel
            M = self.ztz - SK @ self.ztz
            U = self.ztw - SK @ self.ztw  # Z_i'V0_i^{-1}[X_i, y_i]
            return BlockStats.from_blocks(M, U[:, :, :p], U @ w, C, root, ev.r2, self.n, term)
        layout = RowLayout(q, p)
        table = np.empty((layout.width, self.n_groups))  # one contiguous row per quantity
        table[0] = 1.0
        at_m, at_b, at_e = layout.m.start, layout.b.start, layout.e.start
        if q == 1:
            shrink = 1.0 - self._s * ev.kernel  # 1 - S_i K_i
            np.multiply(shrink, self._s, out=table[at_m])
            U = self._w0t * shrink  # (Z_i'V0_i^{-1}W_i)', (p+1, m)
            table[at_b:at_b + p] = U[:p]
            np.matmul(w, U, out=table[at_e])
        else:
            k00, k01, k11 = ev.kernel
            a, b, c = self._a, self._b, self._c
            # I - S_i K_i
            i00 = 1.0 - (a * k00 + b * k01)
            i01 = -(a * k01 + b * k11)
            i10 = -(b * k00 + c * k01)
            i11 = 1.0 - (b * k01 + c * k11)
            np.add(i00 * a, i01 * b, out=table[at_m])
            np.add(i00 * b, i01 * c, out=table[at_m + 1])
            table[at_m + 2] = table[at_m + 1]
            np.add(i10 * b, i11 * c, out=table[at_m + 3])
            w0, w1 = self._w0t, self._w1t
            U0 = w0 * i00 + w1 * i01  # rows of (Z_i'V0_i^{-1}W_i)', (p+1, m) each
            U1 = w0 * i10 + w1 * i11
            table[at_b:at_b + p] = U0[:p]
            table[at_b + p:at_b + 2 * p] = U1[:p]
            np.matmul(w, U0, out=table[at_e])
            np.matmul(w, U1, out=table[at_e + 1])
        return BlockStats.from_table(table, layout, C, root, ev.r2, self.n, term)

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
    """What the optimiser reports.

    ``messages`` holds lme4 ``checkConv``-style convergence messages (empty when the checks
    pass); ``gradient`` is the exact gradient of the profiled deviance at ``theta`` and
    ``n_restarts`` counts restarts from a boundary point with a descent direction.
    """

    theta: np.ndarray
    deviance: float
    n_evaluations: int
    status: str
    converged: bool
    message: str
    gradient: np.ndarray | None = None
    messages: list[str] = field(default_factory=list)
    n_restarts: int = 0
    derivatives: DerivativeParts | None = field(default=None, repr=False)  # exact, at theta
    method: str = "BOBYQA (nlopt)"
    evaluation: Evaluation | None = field(default=None, repr=False)  # at theta, when kept


GRAD_TOL = 2e-3  # lme4's check.conv.grad tolerance (on the Hessian-scaled gradient)
HESS_REL_TOL = 1e-6  # lme4's check.conv.hess: eigenvalue ratio of a nearly unidentifiable model
_MAX_RESTARTS = 6
_NEWTON_STEPS = 4


def _sign_patterns(k: int):
    """Every sign pattern of ``k`` entries but the identity."""
    for code in range(1, 2**k):
        yield np.array([-1.0 if code >> b & 1 else 1.0 for b in range(k)])


def boundary_descent(problem, theta: np.ndarray, fval: float, reml: bool,
                     slope_tol: float = 1e-6) -> np.ndarray | None:
    """A point of (at most) the same deviance with a descent direction off the boundary.

    When a diagonal entry of ``Lambda`` is 0, the free entries below it in its column enter the
    covariance only through products with the rest, and flipping their signs can leave the
    deviance unchanged while turning the one-sided slope along the zero diagonal entry negative
    (a saddle for a local optimiser, missed by lme4's ``restart_edge``, which tests the current
    signs only). Every sign pattern of those entries is tried; the first whose deviance is not
    higher and whose exact slope along a zero diagonal entry is below ``-slope_tol`` is returned
    (with that entry still 0), else None.
    """
    diag_at_zero = [k for k in np.flatnonzero(problem.diag) if theta[k] == 0.0]
    if not diag_at_zero:
        return None
    rows, cols = problem.rows, problem.cols
    term_of = getattr(problem, "theta_term", np.zeros(theta.size, dtype=int))
    tol = 1e-10 * max(1.0, abs(fval))
    candidates = [theta]
    for k in diag_at_zero:
        below = np.flatnonzero((term_of == term_of[k]) & (cols == cols[k]) & (rows > rows[k])
                               & (theta != 0.0))
        for signs in _sign_patterns(below.size):
            trial = theta.copy()
            trial[below] *= signs
            candidates.append(trial)
    for trial in candidates:
        if trial is not theta and not problem.deviance(trial, reml) <= fval + tol:
            continue
        grad = problem.gradient(trial, reml)
        slopes = grad[diag_at_zero]
        if np.all(np.isfinite(slopes)) and np.min(slopes) < -slope_tol * max(1.0, abs(fval)):
            return trial
    return None


def _newton_polish(problem, theta: np.ndarray, fval: float, reml: bool,
                   hess_parts: DerivativeParts | None = None
                   ) -> tuple[np.ndarray, float, DerivativeParts | None,
                              DerivativeParts | None]:
    """Newton steps on the free parameters with the exact gradient and Hessian (parameters at
    the boundary stay there).

    Near the optimum deviance differences are rounding noise (a BOBYQA stop leaves theta
    ~1e-6 off), while the exact gradient is not, so a step is kept when the deviance does not
    rise beyond that noise and the gradient shrinks; it stops at a step below 1e-12. The
    Hessian is computed once, at the starting point, and reused (it changes by ~1e-6 relative
    over the steps; the convergence is still superlinear from there).

    Returns ``(theta, deviance, derivatives at theta, derivatives with the Hessian)``; the
    third has first derivatives only when a step was taken.
    """
    if hess_parts is None:
        hess_parts = problem.derivatives(theta, reml)
    parts = hess_parts
    noise = 1e-13 * max(1.0, abs(fval))
    for _ in range(_NEWTON_STEPS):
        if parts is None or hess_parts is None:
            break
        free = ~(problem.diag & (theta == 0.0))
        if not free.any():
            break
        g = parts.profiled_gradient()[free]
        H = hess_parts.profiled_hessian()[np.ix_(free, free)]
        try:
            low = np.linalg.cholesky(H)
        except np.linalg.LinAlgError:
            break
        step = np.linalg.solve(low.T, np.linalg.solve(low, g))
        if np.max(np.abs(step)) <= 1e-12 * max(1.0, float(np.max(np.abs(theta)))):
            break
        trial = theta.copy()
        trial[free] -= step
        if np.any(trial[problem.diag] < 0.0) or not np.all(np.isfinite(trial)):
            break
        value = problem.deviance(trial, reml)
        if not value <= fval + noise:
            break
        new_parts = problem.derivatives(trial, reml, second=False)
        if new_parts is None or not (np.max(np.abs(new_parts.profiled_gradient()[free]))
                                     < np.max(np.abs(g))):
            break
        theta, fval, parts = trial, min(value, fval), new_parts
        if np.max(np.abs(step)) <= 1e-9 * max(1.0, float(np.max(np.abs(theta)))):
            break  # the next step would be below rounding
    return theta, fval, parts, hess_parts


def check_convergence(problem, theta: np.ndarray, fval: float, reml: bool,
                      parts: DerivativeParts | None,
                      hess_parts: DerivativeParts | None = None
                      ) -> tuple[list[str], np.ndarray | None]:
    """lme4's ``checkConv`` on the exact derivatives: the Hessian-scaled gradient of the free
    parameters (``check.conv.grad``, tol 0.002), the Hessian's eigenvalues
    (``check.conv.hess``) and, at the boundary, the one-sided slopes of zero diagonal entries.
    ``hess_parts`` supplies the Hessian when ``parts`` holds first derivatives only (the
    Newton steps' Hessian, ~1e-6 relative from the one at ``theta``)."""
    if hess_parts is None or hess_parts.hess_a is None:
        hess_parts = parts
    if parts is None or hess_parts is None or hess_parts.hess_a is None:
        return [f"deviance not computable at the optimum (theta = {theta})"], None
    messages = []
    grad = parts.profiled_gradient()
    at_zero = problem.diag & (theta == 0.0)
    free = ~at_zero
    if np.any(grad[at_zero] < -1e-4 * max(1.0, abs(fval))):
        k = int(np.flatnonzero(at_zero & (grad < 0))[0])
        messages.append(f"Model failed to converge: descent direction off the boundary "
                        f"(slope {grad[k]:.3g} at theta[{k}] = 0)")
    if free.any():
        g = grad[free]
        H = hess_parts.profiled_hessian()[np.ix_(free, free)]
        evals = _lapack.eigvalsh(H)
        if np.any(evals < -1e-6 * max(1.0, np.max(np.abs(evals)))):
            messages.append(f"Model failed to converge: degenerate Hessian with "
                            f"{int(np.sum(evals < 0))} negative eigenvalues")
        else:
            low = _lapack.cholesky_lower(H)
            # lme4: solve(chol(H), grad), R's upper factor chol(H) = low'
            scaled = g if low is None else _lapack.solve_lower(low, g, transposed=True)
            # lme4 takes the smaller of the scaled and the raw gradient per component: a flat
            # curvature can make the scaled gradient large while the deviance barely moves
            mingrad = np.minimum(np.abs(scaled), np.abs(g))
            big = int(np.argmax(mingrad))
            if mingrad[big] > GRAD_TOL:
                comp = int(np.flatnonzero(free)[big]) + 1
                messages.append(f"Model failed to converge with max|grad| = "
                                f"{mingrad[big]:.6g} (tol = {GRAD_TOL}, component {comp})")
            if evals[0] > 0 and evals[0] / evals[-1] < HESS_REL_TOL:
                messages.append("Model is nearly unidentifiable: very large eigenvalue ratio "
                                f"({evals[-1] / evals[0]:.3g}); rescale variables?")
    return messages, grad


_START_SCALES = (1.0, 2.0, 4.0, 8.0, 16.0, 32.0)
_NEWTON_MAX_ITER = 30
_NEWTON_HANDOFF = 1e-4  # relative Newton step below which the polish takes over


def _coordinate_pass(problem, reml: bool, x: np.ndarray, value: float, factors
                     ) -> tuple[np.ndarray, float, int]:
    """Each diagonal entry of ``Lambda`` in turn times the best of ``factors`` (or kept), then
    each entry below the diagonal plus the best of ``_OFF_SHIFTS`` times its column's diagonal
    entry."""
    count = 0
    for k in np.flatnonzero(problem.diag & (x > 0)):
        base = x
        for factor in factors:
            trial = base.copy()
            trial[k] *= factor
            trial_value = problem.deviance(trial, reml)
            count += 1
            if trial_value < value:
                x, value = trial, trial_value
    if not factors:
        return x, value, count
    term_of = getattr(problem, "theta_term", np.zeros(x.size, dtype=int))
    for k in np.flatnonzero(~problem.diag):
        head = np.flatnonzero(problem.diag & (term_of == term_of[k])
                              & (problem.cols == problem.cols[k]))[0]
        base = x
        for shift in _OFF_SHIFTS:
            trial = base.copy()
            trial[k] += shift * base[head]
            trial_value = problem.deviance(trial, reml)
            count += 1
            if trial_value < value:
                x, value = trial, trial_value
    return x, value, count


def scaled_start(problem, reml: bool, x0: np.ndarray
                 ) -> tuple[np.ndarray, float, int, Evaluation | None]:
    """A start for Newton: ``(theta, deviance, evaluations, the evaluation at theta or None)``.

    The problem's moment estimate (``moment_start``) when it has one, else lme4's start ``x0``
    times the best of a few common scales (random-effect SDs of 1 to 32 times the residual SD),
    then each diagonal entry of ``Lambda`` rescaled in turn by the best of a few factors: cheap
    deviance evaluations that put the start near the optimum's magnitude in every direction."""
    moment = problem.moment_start() if hasattr(problem, "moment_start") else None
    if moment is not None:
        # Newton in log(theta) takes the moment estimate as it is: a coordinate pass first
        # (as from lme4's start below) cost more evaluations than the Newton steps it saved
        ev, value = problem.evaluate_deviance(moment, reml)
        if np.isfinite(value):
            return moment, value, 1, ev
    count = 0
    best_x, best_v = x0, np.inf
    for s in _START_SCALES:
        value = problem.deviance(s * x0, reml)
        count += 1
        if value < best_v:
            best_x, best_v = s * x0, value
    x, value, more = _coordinate_pass(problem, reml, best_x, best_v, _COORD_FACTORS)
    return x, value, count + more, None


_COORD_FACTORS = (0.125, 0.25, 0.5, 2.0, 4.0, 8.0)
_OFF_SHIFTS = (-0.1, 0.1, 0.2)


def newton_minimize(problem, reml: bool, x0: np.ndarray, start: Evaluation | None = None
                    ) -> tuple[np.ndarray, float, DerivativeParts, int, np.ndarray,
                               Evaluation] | None:
    """Minimise the profiled deviance by Newton's method on the exact gradient and Hessian
    (:mod:`alsstats.lme.derivatives`), with a backtracking line search; an indefinite Hessian
    is replaced by its absolute eigenvalues (the step still descends).

    Interior optima only: returns ``(theta, deviance, derivatives at theta, evaluations, the
    Newton step there, the evaluation at theta)`` once
    the Newton step is below ``_NEWTON_HANDOFF`` relative at a positive definite Hessian with
    every diagonal entry of ``Lambda`` away from 0, else None (the caller then runs BOBYQA with
    lme4's boundary handling). ``start``: the evaluation at ``x0`` when already made. The
    derivatives returned leave out ``dVar(beta)/dtheta``.
    """
    x = np.asarray(x0, dtype=float).copy()
    diag = problem.diag
    if start is not None:
        ev, fval, count = start, float(start.deviance(problem.n, reml)), 0
    else:
        ev, fval = problem.evaluate_deviance(x, reml)
        count = 1
    if not np.isfinite(fval) or (x[diag] <= 0.0).any():
        return None
    noise = 1e-13 * max(1.0, abs(fval))
    for _ in range(_NEWTON_MAX_ITER):
        parts = problem.derivatives_of(ev, reml, covariance=False)
        count += 1
        g = parts.profiled_gradient()
        H = parts.profiled_hessian()
        if not np.isfinite(H.sum() + g.sum()):
            return None
        scale = max(1.0, float(np.abs(x).max()))
        # the move: Newton in phi = log(theta) for the diagonal of Lambda (the deviance is
        # closer to quadratic there, and the bounds cannot be crossed)
        J = np.where(diag, x, 1.0)
        g_phi = g * J
        H_phi = J[:, None] * H * J
        H_phi[diag, diag] += g[diag] * x[diag]
        ev_phi, vec_phi = _lapack.eigh(H_phi)
        top_phi = float(np.abs(ev_phi).max())
        if not top_phi > 0:
            return None
        move = -(vec_phi @ ((vec_phi.T @ g_phi) / np.maximum(np.abs(ev_phi), 1e-8 * top_phi)))
        if float(np.abs(move * J).max()) <= 1e-2 * scale:
            # near the optimum: hand over once the plain Newton step is below _NEWTON_HANDOFF
            # (far from it that step is large too, and this eigendecomposition is skipped)
            evals, evecs = _lapack.eigh(H)
            top = float(np.abs(evals).max())
            step = -(evecs @ ((evecs.T @ g) / np.maximum(np.abs(evals), 1e-8 * top)))
            if evals[0] > 1e-8 * top and float(np.abs(step).max()) <= _NEWTON_HANDOFF * scale:
                if np.min(x[diag]) < 1e-3 * scale:
                    return None  # near the boundary: lme4's boundary handling decides
                return x, fval, parts, count, step, ev
        limit = np.where(diag, 2.0, 2.0 * scale)
        t = min(1.0, float(np.min(limit / np.maximum(np.abs(move), 1e-300))))
        slope = float(g_phi @ move)
        move_size = float(np.max(np.abs(move) / limit))

        def point(t, move=move, x=x):
            return np.where(diag, x * np.exp(t * move), x + t * move)

        while True:
            trial = point(t)
            trial_ev, value = problem.evaluate_deviance(trial, reml)
            count += 1
            if value <= fval + 1e-4 * t * slope or (value <= fval + noise and t * move_size
                                                      <= 1e-8):
                break
            t *= 0.5
            if t * move_size < 1e-12:
                return None
        x, fval, ev = trial, min(value, fval), trial_ev
    return None


FAST_TOLERANCES = (1e-6, 1e-7)  # BOBYQA's xtol_rel, ftol_abs before the Newton polish
FAST_FTOL_REL = 1e-10
TIGHT_TOLERANCES = (1e-10, 1e-11)  # without a polish, or when the polished point fails a check


def _newton_first(problem, reml: bool, x0: np.ndarray, scale: bool, maxeval: int,
                  hessian: bool) -> OptimResult | None:
    """Newton from a start near the optimum (:func:`scaled_start`, :func:`newton_minimize`),
    its last step, and lme4's convergence checks; None when any of them fails (BOBYQA then runs
    as before).

    Newton hands over at a step below ``_NEWTON_HANDOFF`` relative; that step is taken (the
    error left is of the order of its square, ~1e-8 relative in theta and rounding in the
    deviance), and the derivatives are computed once at the final theta: with second
    derivatives when ``hessian`` (Satterthwaite needs them exactly there), else the gradient
    with the previous Hessian for the checks."""
    n_start, start_ev = 0, None
    if scale:
        x0, _, n_start, start_ev = scaled_start(problem, reml, x0)
    found = newton_minimize(problem, reml, x0, start_ev)
    if found is None:
        return None
    theta, fval, hess_parts, count, step, theta_ev = found
    count += n_start
    trial = theta + step
    trial_ev, value = problem.evaluate_deviance(trial, reml)
    count += 1
    # the last step changes the deviance by about its rounding error (~1e-12 relative), so
    # the smaller gradient decides, within a rounding allowance on the deviance
    parts = None
    if value <= fval + 1e-11 * max(1.0, abs(fval)):
        parts = problem.derivatives_of(trial_ev, reml, second=hessian)
        count += 1
    if parts is not None and (np.abs(parts.profiled_gradient()).max()
                              <= np.abs(hess_parts.profiled_gradient()).max()):
        theta, fval, theta_ev = trial, min(value, fval), trial_ev
    elif hessian:  # Newton's derivatives leave out dVar(beta)/dtheta, which Satterthwaite needs
        parts = problem.derivatives_of(theta_ev, reml)
        count += 1
    else:
        parts = hess_parts
    if count > maxeval:
        return None
    messages, grad = check_convergence(problem, theta, fval, reml, parts, hess_parts)
    if messages or not np.isfinite(fval):
        return None
    if parts.hess_a is None:
        parts = None  # the caller recomputes second derivatives at theta if it needs them
    return OptimResult(theta=theta, deviance=float(fval), n_evaluations=count,
                       status="success", converged=True,
                       message="Newton (exact gradient and Hessian): success", gradient=grad,
                       messages=[], n_restarts=0, derivatives=parts,
                       method="Newton (exact gradient and Hessian)", evaluation=theta_ev)


def optimize_theta(problem, reml: bool, start: np.ndarray | None = None,
                   xtol_rel: float | None = None, ftol_abs: float | None = None,
                   maxeval: int = 10_000, boundary_tol: float = 1e-5, check: bool = True,
                   hessian: bool = True) -> OptimResult:
    """Minimise the profiled deviance over ``theta`` as lme4 does, never at a saddle.

    0. With ``check`` and no BOBYQA tolerances given: Newton on the exact derivatives from a
       moment estimate (:func:`_newton_first`). It returns at once when it converges to an
       interior point that passes step 5's checks (``hessian``: with the exact second
       derivatives at the optimum in ``derivatives``, for Satterthwaite); else steps 1-5 run
       as if it had not been tried.
    1. BOBYQA (nlopt) from lme4's start, lme4's lower bound 0 on the diagonal of ``Lambda``.
    2. At the boundary, :func:`boundary_descent`: every sign pattern of the free entries below
       a zero diagonal entry; BOBYQA restarts from a pattern with a descent direction (lme4's
       ``restart_edge`` tests the current signs only).
    3. lme4's ``check.boundary``: parameters within ``boundary_tol`` of the boundary go onto it
       when that does not raise the deviance.
    4. Newton steps on the exact gradient and Hessian (:mod:`alsstats.lme.derivatives`).
    5. :func:`check_convergence` (lme4's ``checkConv`` on exact derivatives).

    With ``check`` (the default) BOBYQA stops early (``FAST_TOLERANCES``) and the Newton steps
    finish; if the result fails a check (e.g. BOBYQA stopped in a flat region of negative
    curvature), BOBYQA resumes with ``TIGHT_TOLERANCES`` and steps 2-5 repeat. Without
    ``check`` (the bootstrap's refits) BOBYQA runs with ``TIGHT_TOLERANCES``. ``xtol_rel`` and
    ``ftol_abs``, when given, are used for every BOBYQA run.
    """
    if xtol_rel is not None or ftol_abs is not None:
        given = (xtol_rel if xtol_rel is not None else TIGHT_TOLERANCES[0],
                 ftol_abs if ftol_abs is not None else TIGHT_TOLERANCES[1])
        schedule = [given]
    else:
        schedule = [FAST_TOLERANCES, TIGHT_TOLERANCES] if check else [TIGHT_TOLERANCES]
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

    def run(x_start, tolerances):
        opt = nlopt.opt(nlopt.LN_BOBYQA, problem.n_theta)
        opt.set_min_objective(objective)
        opt.set_lower_bounds(np.where(np.isfinite(lower), lower, -1e300))
        opt.set_xtol_rel(tolerances[0])
        opt.set_xtol_abs(1e-12)
        opt.set_ftol_abs(tolerances[1])
        if tolerances is FAST_TOLERANCES:
            # deviance differences below ~1e-11 relative are rounding noise on large data
            opt.set_ftol_rel(FAST_FTOL_REL)
        opt.set_maxeval(maxeval)
        step = np.maximum(0.1 * np.abs(x_start), 0.05)
        opt.set_initial_step(step)
        try:
            opt.optimize(x_start)
            code = opt.last_optimize_result()
        except nlopt.RoundoffLimited:
            code = nlopt.ROUNDOFF_LIMITED
        return code

    if check and xtol_rel is None and ftol_abs is None:
        fast = _newton_first(problem, reml, x0, start is None, maxeval, hessian)
        if fast is not None:
            return fast

    restarts = 0
    x_start = x0
    messages: list[str] = []
    grad = None
    parts = None
    for tolerances in schedule:
        code = run(x_start, tolerances)
        while restarts < _MAX_RESTARTS:
            point = boundary_descent(problem, best[1], best[0], reml)
            if point is None:
                break
            restarts += 1
            code = run(point, tolerances)
        theta, fval = best[1].copy(), best[0]
        near = np.flatnonzero(problem.diag & (theta > 0) & (theta < boundary_tol))
        for i in near:
            trial = theta.copy()
            trial[i] = 0.0
            value = problem.deviance(trial, reml)
            # lme4 snaps when strictly lower; ties within rounding also go to the boundary
            if value <= fval + 1e-12 * max(1.0, abs(fval)):
                theta, fval = trial, value
        if not check or not np.isfinite(fval):
            break
        theta, fval, parts, hess_parts = _newton_polish(problem, theta, fval, reml)
        messages, grad = check_convergence(problem, theta, fval, reml, parts, hess_parts)
        if parts is not None and parts.hess_a is None:
            parts = None  # the caller recomputes second derivatives at theta if it needs them
        if not messages:
            break
        x_start = theta
    names = {nlopt.SUCCESS: "success", nlopt.STOPVAL_REACHED: "stopval reached",
             nlopt.FTOL_REACHED: "ftol reached", nlopt.XTOL_REACHED: "xtol reached",
             nlopt.MAXEVAL_REACHED: "maximum number of evaluations reached",
             nlopt.MAXTIME_REACHED: "maximum time reached",
             nlopt.ROUNDOFF_LIMITED: "roundoff limited"}
    status = names.get(code, f"nlopt code {code}")
    converged = bool(np.isfinite(fval)) and code in (
        nlopt.SUCCESS, nlopt.FTOL_REACHED, nlopt.XTOL_REACHED, nlopt.ROUNDOFF_LIMITED)
    converged = converged and not messages
    message = f"BOBYQA (nlopt): {status}" + (f"; {restarts} restart(s) off a boundary saddle"
                                             if restarts else "")
    return OptimResult(theta=theta, deviance=float(fval), n_evaluations=count[0], status=status,
                       converged=converged, message=message, gradient=grad, messages=messages,
                       n_restarts=restarts, derivatives=parts)

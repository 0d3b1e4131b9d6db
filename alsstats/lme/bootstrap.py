"""Parametric bootstrap of mixed models (as lme4's ``bootMer(type = "parametric")``).

One random term with q = 1 has a vectorised path (every replicate of a chunk refitted in
lock-step, see :class:`_ScalarProfiles`); its algebra is the engine's one-factor deviance
(:class:`alsstats.lme.engine.LmeProblem`) written for many responses at once, and its results
are pinned against BOBYQA refits with the engine's deviance (tests/lme/test_lme_bootstrap.py).
Every other model is refitted replicate by replicate with the engine's own deviance function
(``problem.with_response(y*)`` and :func:`alsstats.lme.engine.optimize_theta`).
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import sparse

from alsstats.lme.engine import (
    LmeProblem,
    optimize_theta,
    profiled_criterion,
    single_threaded_blas,
)
from alsstats.summary import Summary, lines, render_summary, standard_frame, table

if TYPE_CHECKING:
    from alsstats.lme.result import LMEResult

__all__ = ["BootstrapResult", "parametric_bootstrap"]



@dataclass(frozen=True, repr=False)
class BootstrapResult:
    """A parametric bootstrap of a mixed model (lme4's ``bootMer(type = "parametric")``).

    Attributes
    ----------
    estimates : pandas.DataFrame
        One row per successful replicate, indexed by replicate number (``0 .. n-1``; failed
        ones are missing); columns the fixed-effect terms, then ``var_<term>`` /
        ``cov_<term>_<term>`` of the random effects and ``residual_variance``.
    ci : pandas.DataFrame
        Tidy, one row per parameter: ``term, estimate`` (the original fit), ``std_error`` (SD of
        the replicates), ``ci_low, ci_high`` (percentile interval).
    n : int
    n_failed : int
        Replicates whose refit failed (left out of ``estimates``).
    seed : int or None
    ci_level : float
    method : dict
        ``bootstrap`` (what is simulated), ``estimation`` (REML or ML refits), ``refits``
        (how they were computed), ``intervals`` (percentile), ``ci_level``, ``n_replicates``.
    n_obs, n_subjects : int
        Of the bootstrapped fit.
    """

    estimates: pd.DataFrame
    ci: pd.DataFrame
    n: int
    n_failed: int
    seed: int | None
    ci_level: float
    method: dict[str, Any]
    n_obs: int
    n_subjects: int

    def to_frame(self) -> pd.DataFrame:
        """One row per parameter.

        Returns
        -------
        pandas.DataFrame
            ``term`` (fixed effects, then ``var_``/``cov_`` of the random effects and
            ``residual_variance``), ``estimate`` (the original fit), ``std_error`` (SD of the
            replicates), ``ci_low``, ``ci_high`` (percentile interval); ``statistic``, ``df``,
            ``p_value`` NaN; then ``n_replicates`` (successful refits).
        """
        return standard_frame(self.ci, n_replicates=self.n - self.n_failed)

    def __repr__(self) -> str:
        return (f"BootstrapResult(n={self.n}, n_failed={self.n_failed}, seed={self.seed}, "
                f"ci_level={self.ci_level})")

    def summary(self) -> Summary:
        """Replicates, method and the percentile intervals."""
        return render_summary("Parametric bootstrap of a mixed model", [
            lines(None, {"replicates": self.n, "failed": self.n_failed, "seed": self.seed,
                         "ci_level": self.ci_level, **self.method}),
            table("Estimates and percentile intervals", self.ci)])


def _param_names(result: LMEResult) -> list[str]:
    names = list(result.coefficients.index)
    z = result.random_terms
    for j in range(len(z)):
        for i in range(j, len(z)):
            names.append(f"var_{z[i]}" if i == j else f"cov_{z[j]}_{z[i]}")
    return names + ["residual_variance"]


def _param_vector(beta: np.ndarray, lam: np.ndarray, sigma2: float) -> np.ndarray:
    cov = sigma2 * lam @ lam.T
    q = cov.shape[0]
    parts = [cov[i, j] for j in range(q) for i in range(j, q)]
    return np.concatenate([beta, parts, [sigma2]])


# ---------------------------------------------------------------- parametric bootstrap
_CHUNK = 125  # replicates per task: fixed, so that results never depend on n_jobs
_SIM_MAX = 4_000_000  # simulated response values held at once (32 MB)
_STEP = 4.0  # bracketing steps in u = theta^2 (theta doubles or halves)
_DOWN_STEPS = 10  # walking down to theta0 / 2^10, then theta = 0
_UP_STEPS = 40
_U_RTOL = 1e-10  # root of the slope in u = theta^2 to 1e-10 relative (theta: 5e-11)
_U_ATOL = 1e-20
_MAX_ITER = 100


@dataclass
class _BootShared:
    """What every chunk needs: how to simulate (``y* = mu + Z b* + e*``) and the X/Z
    statistics of the original fit."""

    mu: np.ndarray  # (nobs,) X beta
    zmap: sparse.csr_matrix  # (m q, nobs): b (r, m q) @ zmap = Z b per row
    b_scale: np.ndarray  # (q, q) sigma Lambda', so b* = N(0, 1) @ b_scale
    sigma: float
    X: np.ndarray  # (nobs, p)
    ztz: np.ndarray  # (m, q, q)
    ztx: np.ndarray  # (m, q, p)
    xtx: np.ndarray  # (p, p)
    nobs: int
    reml: bool
    theta: np.ndarray
    options: dict
    parent_pid: int = 0  # the process that started the bootstrap


def _boot_shared(result: LMEResult) -> _BootShared:
    block, problem = result.random_blocks[0], result.problem
    Z, codes, p = block.Z, np.asarray(block.codes), problem.p
    nobs, q, m = Z.shape[0], problem.q, problem.n_groups
    cols = (codes[:, None] * q + np.arange(q)).ravel()
    zmap = sparse.csr_matrix((Z.ravel(), (cols, np.repeat(np.arange(nobs), q))),
                             shape=(m * q, nobs))
    sigma = float(np.sqrt(result.residual_variance))
    return _BootShared(mu=result.model_matrix @ result.beta, zmap=zmap,
                       b_scale=sigma * problem.lam(result.theta).T, sigma=sigma, X=result.model_matrix,
                       ztz=problem.ztz, ztx=problem.ztw[:, :, :p].copy(),
                       xtx=problem.wtw[:p, :p].copy(), nobs=problem.n,
                       reml=result.estimation == "REML",
                       theta=np.asarray(result.theta, dtype=float),
                       options=result.optimizer_options, parent_pid=os.getpid())


def _chunk_plan(n: int, nobs: int, seed: int | None, chunk_size: int | None
                ) -> list[tuple[np.random.SeedSequence, int]]:
    """``(seed sequence, replicates)`` of each chunk: ``SeedSequence(seed).spawn``, one child
    per chunk of ``chunk_size`` replicates (default 125, fewer when a chunk's responses would
    pass ~4 million values). Nothing here depends on ``n_jobs``."""
    chunk = min(_CHUNK, max(1, _SIM_MAX // max(nobs, 1))) if chunk_size is None else chunk_size
    sizes = [min(chunk, n - start) for start in range(0, n, chunk)]
    return list(zip(np.random.SeedSequence(seed).spawn(len(sizes)), sizes, strict=True))


def _simulate_chunk(shared: _BootShared, seed: np.random.SeedSequence, r: int) -> np.ndarray:
    """``r`` simulated responses (r, nobs) from the chunk's own generator: ``b*`` for every
    replicate and subject (standard normals times ``sigma Lambda'``), then ``e*`` for every
    replicate and row (standard normals times ``sigma``)."""
    rng = np.random.default_rng(seed)
    q = shared.b_scale.shape[0]
    m = shared.zmap.shape[0] // q
    b = (rng.standard_normal((r * m, q)) @ shared.b_scale).reshape(r, m * q)
    ystar = rng.standard_normal((r, shared.nobs))
    ystar *= shared.sigma
    ystar += shared.mu
    ystar += b @ shared.zmap
    return ystar


def _response_stats(shared: _BootShared, ystar: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``Z_i'y*`` (r, m, q), ``X'y*`` (r, p) and ``y*'y*`` (r,): one sparse product."""
    q = shared.b_scale.shape[0]
    zty = np.asarray(shared.zmap @ ystar.T).T.reshape(ystar.shape[0], -1, q)
    return np.ascontiguousarray(zty), ystar @ shared.X, np.einsum("rn,rn->r", ystar, ystar)


def _batched_cholesky(a: np.ndarray) -> np.ndarray:
    """Cholesky factors of a stack of matrices; NaN where a matrix is not positive definite.

    LAPACK first; only when some matrix fails, a column-by-column factorisation vectorised over
    the stack (so one bad replicate does not stop the others).
    """
    try:
        return np.linalg.cholesky(a)
    except np.linalg.LinAlgError:
        pass
    k = a.shape[-1]
    low = np.zeros_like(a)
    with np.errstate(invalid="ignore", divide="ignore"):
        for j in range(k):
            row = low[:, j, :j]
            d = a[:, j, j] - np.einsum("rk,rk->r", row, row)
            ljj = np.sqrt(np.where(d > 0, d, np.nan))
            low[:, j, j] = ljj
            low[:, j + 1:, j] = (a[:, j + 1:, j] - np.einsum("rik,rk->ri", low[:, j + 1:, :j], row)
                                 ) / ljj[:, None]
    return low


def _lower_inverse(low: np.ndarray) -> np.ndarray:
    """Inverses of a stack of lower-triangular matrices, by forward substitution vectorised
    over the stack (NaN propagates from a failed factor)."""
    k = low.shape[-1]
    inv = np.zeros_like(low)
    for j in range(k):
        rhs = -(low[:, j:j + 1, :j] @ inv[:, :j, :])[:, 0, :]
        rhs[:, j] += 1.0
        inv[:, j, :] = rhs / low[:, j, j, None]
    return inv


@dataclass
class _Evaluations:
    """Deviance, its slope in ``u = theta^2``, fixed effects and ``r^2`` of a batch."""

    f: np.ndarray
    g: np.ndarray
    beta: np.ndarray
    r2: np.ndarray


class _ScalarProfiles:
    """Profiled deviances of a batch of responses sharing X and Z, one scalar theta (q = 1).

    The engine's algebra (``engine.LmeProblem`` with q = 1) for many responses at once, as a
    function of ``u = theta^2`` (the deviance depends on theta only through theta^2, so it is
    smooth in ``u`` on ``[0, inf)``, with a one-sided slope at the boundary ``u = 0``). Per
    subject ``k_i = u / (1 + u s_i)`` with ``s_i = Z_i'Z_i``; the Schur complement of a
    replicate is ``S = [X y*]'[X y*] - sum_i k_i w_i w_i'`` with ``w_i = Z_i'[X y*]``. Its X
    block depends on ``u`` only, so ``R_X`` (its Cholesky factor) and ``R_X^{-1}`` are
    computed once per ``u``; the last row of the factor, ``l = R_X^{-1} S_Xy``, then gives
    ``r^2 = S_yy - |l|^2`` and ``beta = R_X'^{-1} l`` per replicate with batched products
    (the engine's quantities, to rounding).

    The slope is analytic: with ``k_i' = 1 / (1 + u s_i)^2``, ``D = sum_i k_i' w_i w_i'`` and
    ``e_i = Z_i'(y* - X beta)``,

    * ``d log|L|^2 / du = sum_i s_i / (1 + u s_i)``,
    * ``d log|R_X|^2 / du = -tr((R_X'R_X)^{-1} D_XX)``,
    * ``d r^2 / du = -sum_i k_i' e_i^2``,

    so ``dev'(u) = d log|L|^2 - n_r sum_i k_i' e_i^2 / r^2`` (ML, ``n_r = n``) plus
    ``d log|R_X|^2`` with ``n_r = n - p`` (REML). Its rounding error is that of the terms
    (~1e-13 relative), where differences of deviances lose ~10 digits near the minimum, so the
    minimum is located as the root of the slope.

    ``k_i`` depends on the subject only through ``s_i``, so when many subjects share a value
    of ``s_i`` (a random intercept: ``s_i`` is the number of visits) the sums over subjects
    are taken once per chunk within each value, and an evaluation costs O(#values), not
    O(#subjects).
    """

    def __init__(self, shared: _BootShared, zy: np.ndarray, xty: np.ndarray, yty: np.ndarray):
        s = shared.ztz[:, 0, 0]
        zx = shared.ztx[:, 0, :]
        m, p = zx.shape
        r = zy.shape[0]
        outer = (zx[:, :, None] * zx[:, None, :]).reshape(m, p * p)
        values, inverse, counts = np.unique(s, return_inverse=True, return_counts=True)
        self.grouped = values.size <= m // 2
        if self.grouped:
            onehot = (inverse.ravel() == np.arange(values.size)[:, None]).astype(float)
            self.s, self.counts = values, counts.astype(float)
            self.outer = onehot @ outer
            self.zyx = ((zy[:, None, :] * onehot).reshape(-1, m) @ zx).reshape(r, -1, p)
            self.zyy = (zy * zy) @ onehot.T
        else:
            self.s, self.counts, self.outer = s, np.ones(m), outer
        self.zx, self.zy = zx, zy
        self.xtx, self.xty, self.yty = shared.xtx, xty, yty
        self.n, self.p, self.reml = shared.nobs, p, shared.reml

    def _shared(self, u: np.ndarray, with_f: bool = True) -> tuple[np.ndarray, ...]:
        """The parts that depend on ``u`` only (not on the response), one row per ``u``:
        ``k``, ``k'`` per value of ``s_i``; ``log|L|^2 + log|R_X|^2`` (REML) and its slope;
        ``R_X^{-1}``. Without ``with_f`` the log-determinants are left out (the slope alone
        does not need them)."""
        p = self.p
        det = 1.0 + u[:, None] * self.s
        inv = 1.0 / det
        k = u[:, None] * inv
        dk = inv * inv
        ld = np.log(det) @ self.counts if with_f else np.zeros(u.size)
        dld = (self.s * inv) @ self.counts
        xx = self.xtx - (k @ self.outer).reshape(-1, p, p)
        rinv = _lower_inverse(_batched_cholesky(xx))
        if self.reml:
            # log|R_X|^2 = -2 sum log diag R_X^{-1}; its slope -tr((R_X R_X')^{-1} D_XX)
            with np.errstate(invalid="ignore", divide="ignore"):
                ld = ld - 2.0 * np.sum(np.log(np.diagonal(rinv, axis1=1, axis2=2)), axis=1)
            dxx = (dk @ self.outer).reshape(-1, p, p)
            ainv = np.swapaxes(rinv, 1, 2) @ rinv
            dld = dld - np.sum(ainv * dxx, axis=(1, 2))
        return k, dk, ld, dld, rinv

    def _evaluate(self, parts: tuple[np.ndarray, ...], idx: np.ndarray, with_f: bool = True
                  ) -> _Evaluations:
        k, dk, ld, dld, rinv = parts
        n = self.n
        if self.grouped:
            zyx, zyy = self.zyx[idx], self.zyy[idx]
            cross = self.xty[idx] - (k[:, None, :] @ zyx)[:, 0, :]
            yy = self.yty[idx] - np.einsum("rv,rv->r", k, zyy)
        else:
            zy = self.zy[idx]
            ky = k * zy
            cross = self.xty[idx] - ky @ self.zx
            yy = self.yty[idx] - np.einsum("rm,rm->r", ky, zy)
        # the last row of the Cholesky factor of the Schur complement: l = R_X^{-1} cross,
        # r^2 = yy - |l|^2; beta = R_X'^{-1} l
        low = (rinv @ cross[:, :, None])[:, :, 0]
        r2 = yy - np.einsum("rp,rp->r", low, low)
        beta = (np.swapaxes(rinv, 1, 2) @ low[:, :, None])[:, :, 0]
        if self.grouped:  # sum_i k_i' e_i^2 from the per-value sums
            dxy = (dk[:, None, :] @ zyx)[:, 0, :]
            p, v = self.p, self.s.size
            bo = (beta @ self.outer.reshape(v, p, p).transpose(1, 0, 2).reshape(p, v * p))
            bob = np.einsum("rv,rvq,rq->r", dk, bo.reshape(-1, v, p), beta)
            quad = np.einsum("rv,rv->r", dk, zyy) - 2.0 * np.einsum("rp,rp->r", beta, dxy) + bob
        else:
            e = zy - beta @ self.zx.T
            quad = np.einsum("rm,rm->r", dk, e * e)
        dof = n - self.p if self.reml else n
        with np.errstate(invalid="ignore", divide="ignore"):
            f = profiled_criterion(ld, 0.0, r2, n, self.p, self.reml)  # ld holds log|R_X|^2 too
            g = dld - dof * quad / r2
        ok = np.isfinite(g) & (r2 > 0)
        if with_f:
            ok &= np.isfinite(f)
        return _Evaluations(f=np.where(ok, f, np.inf) if with_f else np.full(f.size, np.nan),
                            g=np.where(ok, g, np.nan), beta=beta, r2=np.where(ok, r2, np.nan))

    def evaluate(self, u: np.ndarray, idx: np.ndarray, with_f: bool = True) -> _Evaluations:
        """Replicate ``idx[j]`` at ``u[j]``; ``f`` is inf (``g`` NaN) where not computable, and
        NaN without ``with_f``."""
        return self._evaluate(self._shared(u, with_f), idx, with_f)

    def slope(self, u: np.ndarray, idx: np.ndarray) -> np.ndarray:
        """The slope alone (NaN where not computable)."""
        return self.evaluate(u, idx, with_f=False).g

    def slope_at(self, u: float, r: int) -> np.ndarray:
        """The slope of every replicate at one ``u`` (the response-free parts computed once)."""
        parts = [np.repeat(a, r, axis=0) for a in self._shared(np.array([u]), with_f=False)]
        return self._evaluate(parts, np.arange(r), with_f=False).g


def _minimise_scalar(prof: _ScalarProfiles, r: int, theta0: float, boundary_tol: float
                     ) -> tuple[np.ndarray, np.ndarray]:
    """``u = theta^2`` minimising each replicate's deviance, in lock-step over replicates.

    1. Downhill from the original ``theta0`` (1 when that is 0), on the sign of the slope:
       ``u`` is multiplied by 4 (theta doubled) while the slope is negative, or divided by 4
       while it is positive, until it changes sign, which brackets a local minimum
       ``[a, b]`` with ``dev'(a) < 0 < dev'(b)`` (the one a local optimiser started at
       ``theta0`` finds). Walking down, below ``theta0 / 2^10`` comes ``u = 0``: the minimum
       is on the boundary if ``dev'(0) >= 0`` (the deviance rises from 0 to the last point
       without a turn), else the bracket is ``[0, last]``.
    2. Anderson-Bjorck regula falsi on the slope inside each bracket until the bracket, or the
       estimated distance to the root, is below ``1e-10`` relative (theta: 5e-11).
    3. lme4's boundary check: a ``theta < boundary_tol`` goes to 0 when that does not raise
       the deviance.

    Returns ``(u, needs_fallback)``; replicates without a bracket (a NaN slope, a slope still
    negative after 40 doublings) or whose search did not converge are flagged for a BOBYQA
    refit.
    """
    scale = theta0 if theta0 > 0 else 1.0
    u0 = scale * scale
    u = np.full(r, np.nan)
    a, b = np.full(r, np.nan), np.full(r, np.nan)
    ga, gb = np.full(r, np.nan), np.full(r, np.nan)
    cur = np.full(r, u0)
    gcur = prof.slope_at(u0, r)
    u[gcur == 0.0] = u0
    fallback = np.isnan(gcur)
    for going, factor, steps in ((gcur < 0, _STEP, _UP_STEPS),
                                 (gcur > 0, 1.0 / _STEP, _DOWN_STEPS)):
        sign = 1.0 if factor > 1 else -1.0  # the slope sign that ends the walk
        for _ in range(steps):
            ia = np.flatnonzero(going)
            if ia.size == 0:
                break
            nxt = cur[ia] * factor
            g = prof.slope(nxt, ia)
            turned = sign * g > 0
            it = ia[turned]
            if sign > 0:
                a[it], ga[it], b[it], gb[it] = cur[it], gcur[it], nxt[turned], g[turned]
            else:
                a[it], ga[it], b[it], gb[it] = nxt[turned], g[turned], cur[it], gcur[it]
            u[ia[g == 0.0]] = nxt[g == 0.0]
            fallback[ia[np.isnan(g)]] = True
            on = sign * g < 0
            cur[ia[on]], gcur[ia[on]] = nxt[on], g[on]
            going[ia[~on]] = False
        if sign > 0:
            fallback |= going  # still going up: no minimum in reach
        elif going.any():
            iz = np.flatnonzero(going)  # the boundary u = 0
            g0 = prof.slope(np.zeros(iz.size), iz)
            u[iz[g0 >= 0]] = 0.0
            inner = g0 < 0
            a[iz[inner]], ga[iz[inner]] = 0.0, g0[inner]
            b[iz[inner]], gb[iz[inner]] = cur[iz[inner]], gcur[iz[inner]]
            fallback[iz[np.isnan(g0)]] = True
    search = ~fallback & np.isnan(u) & (ga < 0) & (gb > 0)
    fallback |= ~search & np.isnan(u)
    # Anderson-Bjorck regula falsi on the slope
    side = np.zeros(r, dtype=np.int8)
    active = search.copy()
    for _ in range(_MAX_ITER):
        ia = np.flatnonzero(active)
        if ia.size == 0:
            break
        aa, bb, gaa, gbb = a[ia], b[ia], ga[ia], gb[ia]
        c = (aa * gbb - bb * gaa) / (gbb - gaa)
        c = np.where((c > aa) & (c < bb), c, 0.5 * (aa + bb))
        gc = prof.slope(c, ia)
        neg, pos = gc < 0, gc > 0
        # the estimated distance to the root: |g(c)| over the secant slope of the bracket
        err = np.abs(gc) * (bb - aa) / (gbb - gaa)
        il, ir = ia[neg], ia[pos]
        again = side[il] == -1  # a replaced twice in a row: scale g(b) down
        m = 1.0 - gc[neg] / ga[il]
        gb[il[again]] *= np.where(m > 0, m, 0.5)[again]
        a[il], ga[il] = c[neg], gc[neg]
        side[il] = -1
        again = side[ir] == 1
        m = 1.0 - gc[pos] / gb[ir]
        ga[ir[again]] *= np.where(m > 0, m, 0.5)[again]
        b[ir], gb[ir] = c[pos], gc[pos]
        side[ir] = 1
        zero = ~(neg | pos)  # an exact root (or a NaN slope: fall back)
        fallback[ia[zero & (gc != 0.0)]] = True
        tol = _U_RTOL * c + _U_ATOL
        done = zero | (b[ia] - a[ia] <= tol) | (err <= 0.1 * tol)
        u[ia[done]] = np.where(zero & (gc != 0.0), np.nan, c)[done]
        active[ia[done]] = False
    fallback |= active
    u[fallback] = np.nan
    near = np.flatnonzero((u > 0) & (u < boundary_tol * boundary_tol))
    if near.size:
        fu = prof.evaluate(u[near], near).f
        f0 = prof.evaluate(np.zeros(near.size), near).f
        snap = f0 <= fu + 1e-12 * np.maximum(1.0, np.abs(fu))
        u[near[snap]] = 0.0
    return u, fallback


def _bobyqa_row(shared: _BootShared, ztw: np.ndarray, wtw: np.ndarray) -> np.ndarray:
    """One BOBYQA refit as :func:`fit_lme` (from the original theta): a parameter row, NaN if
    it failed."""
    p, q = shared.xtx.shape[0], shared.ztz.shape[1]
    rep = LmeProblem.from_stats(shared.ztz, ztw, wtw, shared.nobs)
    opt = optimize_theta(rep, shared.reml, start=shared.theta, check=False, **shared.options)
    ev = rep.evaluate(opt.theta) if np.isfinite(opt.deviance) else None
    if ev is None or not opt.converged:
        return np.full(p + q * (q + 1) // 2 + 1, np.nan)
    return _param_vector(ev.beta, rep.lam(opt.theta), ev.sigma2(shared.nobs, shared.reml))


def _refit_bobyqa(shared: _BootShared, zty: np.ndarray, xty: np.ndarray, yty: np.ndarray,
                  which: np.ndarray | None = None) -> np.ndarray:
    """One BOBYQA refit per replicate (all, or those in ``which``)."""
    r, m, q = zty.shape
    p = shared.xtx.shape[0]
    which = np.arange(r) if which is None else which
    out = np.full((which.size, p + q * (q + 1) // 2 + 1), np.nan)
    for row, k in enumerate(which):
        ztw = np.empty((m, q, p + 1))
        ztw[:, :, :p] = shared.ztx
        ztw[:, :, p] = zty[k]
        wtw = np.empty((p + 1, p + 1))
        wtw[:p, :p] = shared.xtx
        wtw[p, :p] = wtw[:p, p] = xty[k]
        wtw[p, p] = yty[k]
        out[row] = _bobyqa_row(shared, ztw, wtw)
    return out


def _refit_scalar(shared: _BootShared, zty: np.ndarray, xty: np.ndarray, yty: np.ndarray
                  ) -> np.ndarray:
    """All replicates of a chunk at once (q = 1); BOBYQA only for replicates the lock-step
    search could not bracket."""
    r = zty.shape[0]
    prof = _ScalarProfiles(shared, zty[:, :, 0], xty, yty)
    u, fallback = _minimise_scalar(prof, r, float(shared.theta[0]),
                                   shared.options.get("boundary_tol", 1e-5))
    ok = np.isfinite(u)
    ev = prof.evaluate(np.where(ok, u, 0.0), np.arange(r))
    sigma2 = ev.r2 / (prof.n - prof.p if prof.reml else prof.n)
    out = np.column_stack([ev.beta, sigma2 * u, sigma2])
    out[~ok | ~np.isfinite(ev.f)] = np.nan
    if fallback.any():
        which = np.flatnonzero(fallback)
        out[which] = _refit_bobyqa(shared, zty, xty, yty, which)
    return out


def _one_blas_thread(shared: _BootShared):
    """Single-threaded BLAS for a chunk in a worker process (loky, Dask). In the starting
    process nothing is changed: sequential chunks run under :meth:`LMEResult.bootstrap`'s
    limit, and concurrent threads (a threading backend) must not race on the process-wide
    setting."""
    if os.getpid() == shared.parent_pid:
        return contextlib.nullcontext()
    return single_threaded_blas()


def _refit_chunk(shared: _BootShared, seed: np.random.SeedSequence, r: int) -> np.ndarray:
    """Simulate and refit one chunk of replicates: parameter rows, NaN where a refit failed."""
    with _one_blas_thread(shared):
        zty, xty, yty = _response_stats(shared, _simulate_chunk(shared, seed, r))
        if shared.theta.size == 1:
            return _refit_scalar(shared, zty, xty, yty)
        return _refit_bobyqa(shared, zty, xty, yty)


# ---------------------------------------------------------------- any number of terms
def _general_names(result: LMEResult) -> list[str]:
    """Fixed effects; per block (labels as ``varcorr``'s ``grp``) ``var_<grp>_<term>`` and
    ``cov_<grp>_<term>_<term>``; ``residual_variance``."""
    names = list(result.coefficients.index)
    labels = list(dict.fromkeys(result.varcorr["grp"]))[:-1]  # without Residual
    for label, block in zip(labels, result.random_blocks, strict=True):
        z = block.z_names
        for j in range(len(z)):
            for i in range(j, len(z)):
                names.append(f"var_{label}_{z[i]}" if i == j else f"cov_{label}_{z[j]}_{z[i]}")
    return names + ["residual_variance"]


def _general_vector(beta: np.ndarray, lams: list[np.ndarray], sigma2: float) -> np.ndarray:
    parts = [beta]
    for lam in lams:
        cov = sigma2 * lam @ lam.T
        q = cov.shape[0]
        parts.append(np.array([cov[i, j] for j in range(q) for i in range(j, q)]))
    parts.append(np.array([sigma2]))
    return np.concatenate(parts)


@dataclass
class _GeneralPayload:
    problem: object  # GeneralProblem: design statistics shared by every replicate
    mu: np.ndarray
    blocks: list  # (Z, codes, n_levels, sigma Lambda_t') per term
    sigma: float
    reml: bool
    theta: np.ndarray
    options: dict
    parent_pid: int


def _general_payload(result: LMEResult) -> _GeneralPayload:
    problem = result.problem
    sigma = float(np.sqrt(result.residual_variance))
    lams = problem.lam_blocks(result.theta)
    blocks = [(b.Z, np.asarray(b.codes), len(b.levels), sigma * lam.T)
              for b, lam in zip(result.random_blocks, lams, strict=True)]
    return _GeneralPayload(problem=problem, mu=result.model_matrix @ result.beta, blocks=blocks,
                           sigma=sigma, reml=result.estimation == "REML",
                           theta=np.asarray(result.theta, dtype=float),
                           options=result.optimizer_options, parent_pid=os.getpid())


def _refit_general_chunk(payload: _GeneralPayload, seed: np.random.SeedSequence, r: int
                         ) -> np.ndarray:
    """Per replicate: ``b*`` of every term (lme4's order), then ``e*``; refit with the engine's
    deviance on the shared design statistics (``problem.with_response``)."""
    context = (single_threaded_blas() if os.getpid() != payload.parent_pid
               else contextlib.nullcontext())
    rng = np.random.default_rng(seed)
    problem = payload.problem
    width = problem.p + sum(q * (q + 1) // 2 for q in problem.qs) + 1
    out = np.full((r, width), np.nan)
    with context:
        for j in range(r):
            y = payload.mu.copy()
            for Z, codes, m, scale in payload.blocks:
                b = rng.standard_normal((m, scale.shape[0])) @ scale
                y += np.einsum("nq,nq->n", Z, b[codes])
            y += payload.sigma * rng.standard_normal(y.size)
            rep = problem.with_response(y)
            opt = optimize_theta(rep, payload.reml, start=payload.theta, check=False,
                                 **payload.options)
            ev = rep.evaluate(opt.theta) if np.isfinite(opt.deviance) else None
            if ev is None or not opt.converged:
                continue
            out[j] = _general_vector(ev.beta, rep.lam_blocks(opt.theta),
                                     ev.sigma2(rep.n, payload.reml))
    return out


def parametric_bootstrap(result: LMEResult, n: int = 1000, seed: int | None = None,
                         ci_level: float = 0.95, chunk_size: int | None = None,
                         n_jobs: int | None = 1) -> BootstrapResult:
    """Simulate ``y* = X beta + Z b* + e*`` and refit, in chunks of replicates.

    Parameters
    ----------
    result : LMEResult
    n : int
        Number of replicates.
    seed : int, optional
        Seed of :class:`numpy.random.SeedSequence`. Chunk ``c`` draws its replicates from
        ``default_rng(SeedSequence(seed).spawn(n_chunks)[c])`` inside its task, so the
        estimates of a seed are identical for every ``n_jobs`` and backend (and the first
        ``k`` chunks of ``n`` replicates are those of any larger ``n``).
    ci_level : float
        Level of the percentile intervals.
    chunk_size : int, optional
        Replicates per task (default 125, fewer when their responses pass ~4 million values).
        It never depends on ``n_jobs``; a different ``chunk_size`` draws different replicates.
    n_jobs : int or None
        Parallel workers (joblib) over the chunks. 1 runs in this process; -1 uses every core;
        None defers to ``joblib.parallel_config``. Under
        ``joblib.parallel_config(backend="dask")`` with a ``dask.distributed`` ``Client`` the
        chunks run on the cluster (pass ``n_jobs=-1``); a task ships only the seed and the
        shared X/Z statistics, and simulates its own responses.

    Notes
    -----
    Per chunk: ``b*`` for all replicates and subjects, then ``e*`` for all replicates and rows,
    and the y*-dependent statistics ``Z_i'y*``, ``X'y*``, ``y*'y*`` from one sparse product;
    those involving only X and Z are shared. With one random term (q = 1: ``(1 | g)``,
    ``(0 + x | g)``) the refits of a chunk run in lock-step: the profiled deviance of every
    replicate as a function of ``theta^2``, and its analytic slope, are evaluated for the whole
    chunk at once (per-subject scalars, batched p x p products); each minimum is bracketed by
    walking downhill from the original ``theta`` and located as the root of the slope (regula
    falsi, 1e-10 relative), with lme4's boundary check at ``theta = 0``; a replicate without a
    bracket falls back to BOBYQA. With q >= 2 each replicate is refitted by the same BOBYQA
    optimisation as :func:`fit_lme`, starting at the original ``theta``.
    """
    from joblib import Parallel, delayed

    if n < 2:
        raise ValueError(f"bootstrap: n must be at least 2, got {n}")
    if not 0 < ci_level < 1:
        raise ValueError(f"bootstrap: ci_level must be in (0, 1), got {ci_level}")
    if chunk_size is not None and chunk_size < 1:
        raise ValueError(f"bootstrap: chunk_size must be at least 1, got {chunk_size}")
    problem = result.problem
    reml = result.estimation == "REML"
    if isinstance(problem, LmeProblem):
        task, payload = _refit_chunk, _boot_shared(result)
        names = _param_names(result)
        original = _param_vector(result.beta, problem.lam(result.theta),
                                 result.residual_variance)
        how = ("lock-step refits of theta over all replicates" if problem.q == 1
               else "BOBYQA refits")
    else:
        task, payload = _refit_general_chunk, _general_payload(result)
        names = _general_names(result)
        original = _general_vector(result.beta, problem.lam_blocks(result.theta),
                                   result.residual_variance)
        how = "BOBYQA refits of every random-effect term"
    plan = _chunk_plan(n, problem.n, seed, chunk_size)
    if n_jobs == 1:
        parts = [task(payload, ss, r) for ss, r in plan]
    else:
        parts = Parallel(n_jobs=n_jobs)(delayed(task)(payload, ss, r) for ss, r in plan)
    values = np.concatenate(parts)
    ok = np.all(np.isfinite(values), axis=1)
    est = pd.DataFrame(values[ok], columns=names,
                       index=pd.Index(np.flatnonzero(ok), name="replicate"))
    alpha = (1.0 - ci_level) / 2.0
    ci = pd.DataFrame({"term": names, "estimate": original,
                       "std_error": est.std(ddof=1).to_numpy(),
                       "ci_low": est.quantile(alpha).to_numpy(),
                       "ci_high": est.quantile(1.0 - alpha).to_numpy()})
    return BootstrapResult(
        estimates=est, ci=ci, n=n, n_failed=int(n - ok.sum()), seed=seed, ci_level=ci_level,
        method={"bootstrap": "parametric: new random effects and residuals each replicate",
                "estimation": "REML" if reml else "ML", "refits": how,
                "intervals": "percentile", "ci_level": ci_level, "n_replicates": n},
        n_obs=result.nobs, n_subjects=result.n_subjects)

"""lme4's profiled deviance for any number of random-effect terms (Bates et al. 2015).

The random effects are ``b = Lambda(theta) u`` with ``Lambda`` block diagonal (``I_{m_t} (x)
Lambda_t`` per term ``t``, terms in lme4's ``reTrms`` order: decreasing number of levels), and
the columns of ``Z`` level-major within a term, as lme4's ``Zt``. One evaluation factors
``A = Lambda' Z'Z Lambda + I`` by block elimination:

* the first (largest) term's block ``A11`` is block diagonal (one ``q1 x q1`` block per level:
  each row of the data belongs to one level), so it is factored level by level, vectorised;
* the other terms (sites, scanners, a crossed factor) form the dense Schur complement
  ``S = A22 - A21 A11^{-1} A12`` (``Q2 x Q2``, ``Q2`` = their total number of random effects).

``log|A| = sum_i log|A11_i| + log|S|``; with ``R = Lambda' Z'[X y]`` the same elimination gives
``R' A^{-1} R``, and the Cholesky factor of ``[X y]'[X y] - R' A^{-1} R`` holds ``R_X``, the
fixed effects and the penalised residual sum of squares, as in the one-factor engine
(:mod:`alsstats.lme.engine`). The cost per evaluation is O(m1 q1^3 + m1 q1 Q2 (Q2 + p) + Q2^3):
linear in the number of subjects when the other factors are small; for two large crossed
factors ``Q2`` is large and the dense Schur complement is the (cubic) fallback.

Exact derivatives (:mod:`alsstats.lme.derivatives`) use the dense ``Q x Q`` form of
``Z'V0^{-1}Z`` (O(Q^3) once per fit), which limits them to ``Q`` of a few thousand.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import linalg, sparse

from alsstats.lme.derivatives import DenseStats, DerivativeParts, TermLayout
from alsstats.lme.engine import Evaluation, theta_layout

__all__ = ["GeneralProblem", "TermData"]

_LOG_2PI = float(np.log(2.0 * np.pi))


@dataclass(frozen=True)
class TermData:
    """One random-effect term: per-row model matrix, level codes and number of levels."""

    Z: np.ndarray  # (n, q)
    codes: np.ndarray  # (n,) int, 0 .. n_levels - 1
    n_levels: int


class GeneralProblem:
    """A linear mixed model with any number of random-effect terms (terms already in lme4's
    order), reduced to ``Z'Z``, ``Z'[X y]`` and ``[X y]'[X y]``.

    Design statistics (everything of ``X`` and ``Z``) are computed once; :meth:`with_response`
    gives the same design with a new response (lme4's ``refit``) at the cost of ``Z'y``.
    """

    def __init__(self, X: np.ndarray, y: np.ndarray, terms: list[TermData]):
        X = np.asarray(X, dtype=float)
        y = np.asarray(y, dtype=float)
        self.n, self.p = X.shape
        self.X = X
        self.terms_data = terms
        self.qs = [t.Z.shape[1] for t in terms]
        self.ms = [t.n_levels for t in terms]
        self.offsets = np.concatenate([[0], np.cumsum([q * m for q, m in
                                                      zip(self.qs, self.ms, strict=True)])])
        self.Q = int(self.offsets[-1])
        rows, cols, vals = [], [], []
        for t, term in enumerate(terms):
            q = self.qs[t]
            base = self.offsets[t] + np.asarray(term.codes) * q
            for j in range(q):
                rows.append(np.arange(self.n))
                cols.append(base + j)
                vals.append(term.Z[:, j])
        self.Zs = sparse.csr_matrix((np.concatenate(vals), (np.concatenate(rows),
                                                            np.concatenate(cols))),
                                    shape=(self.n, self.Q))
        ztz = (self.Zs.T @ self.Zs).tocsr()
        self.ZtZ = ztz
        q1, m1 = self.qs[0], self.ms[0]
        self.Q1 = q1 * m1
        blocks = ztz[:self.Q1, :self.Q1].toarray() if self.Q1 <= 4000 else None
        if blocks is not None:
            idx = np.arange(m1)[:, None] * q1 + np.arange(q1)
            self.ztz11 = blocks[idx[:, :, None], idx[:, None, :]]
        else:
            coo = ztz[:self.Q1, :self.Q1].tocoo()
            self.ztz11 = np.zeros((m1, q1, q1))
            np.add.at(self.ztz11, (coo.row // q1, coo.row % q1, coo.col % q1), coo.data)
        self.ztz12 = ztz[:self.Q1, self.Q1:].toarray().reshape(m1, q1, self.Q - self.Q1)
        self.ztz22 = ztz[self.Q1:, self.Q1:].toarray()
        self.ztx = np.asarray(self.Zs.T @ X)
        self.xtx = X.T @ X
        self._set_response(y)
        # theta layout over terms: rows/cols inside the term's Lambda_t, the term, diagonal
        r, c, d, tt = [], [], [], []
        for t, q in enumerate(self.qs):
            rr, cc, dd = theta_layout(q)
            r.append(rr)
            c.append(cc)
            d.append(dd)
            tt.append(np.full(rr.size, t))
        self.rows, self.cols = np.concatenate(r), np.concatenate(c)
        self.diag, self.theta_term = np.concatenate(d), np.concatenate(tt)
        self.theta_offsets = np.concatenate([[0], np.cumsum([q * (q + 1) // 2 for q in self.qs])])

    def _set_response(self, y: np.ndarray) -> None:
        self.y = y
        zty = np.asarray(self.Zs.T @ y)
        self.ztw = np.column_stack([self.ztx, zty])
        xty = self.X.T @ y
        p = self.p
        self.wtw = np.empty((p + 1, p + 1))
        self.wtw[:p, :p] = self.xtx
        self.wtw[:p, p] = self.wtw[p, :p] = xty
        self.wtw[p, p] = y @ y

    def with_response(self, y: np.ndarray) -> GeneralProblem:
        """The same design with response ``y`` (shares every design statistic)."""
        new = object.__new__(GeneralProblem)
        new.__dict__.update(self.__dict__)
        new._set_response(np.asarray(y, dtype=float))
        return new

    # ------------------------------------------------------------------ parameters
    @property
    def n_theta(self) -> int:
        return self.rows.size

    @property
    def lower_bounds(self) -> np.ndarray:
        return np.where(self.diag, 0.0, -np.inf)

    def theta_start(self) -> np.ndarray:
        return self.diag.astype(float)

    def lam_blocks(self, theta: np.ndarray) -> list[np.ndarray]:
        """``Lambda_t`` of each term."""
        out = []
        for t, q in enumerate(self.qs):
            lam = np.zeros((q, q))
            sl = slice(self.theta_offsets[t], self.theta_offsets[t + 1])
            lam[self.rows[sl], self.cols[sl]] = theta[sl]
            out.append(lam)
        return out

    def _lam2(self, lams: list[np.ndarray]) -> np.ndarray:
        """Dense ``Lambda`` of the terms after the first (Q2 x Q2)."""
        parts = [np.kron(np.eye(m), lam) for m, lam in zip(self.ms[1:], lams[1:], strict=True)]
        return linalg.block_diag(*parts) if parts else np.zeros((0, 0))

    # ------------------------------------------------------------------ evaluation
    def _factor(self, theta: np.ndarray):
        theta = np.asarray(theta, dtype=float)
        lams = self.lam_blocks(theta)
        l1 = lams[0]
        q1 = l1.shape[0]
        a11 = l1.T @ self.ztz11 @ l1 + np.eye(q1)
        try:
            c11 = np.linalg.cholesky(a11)
        except np.linalg.LinAlgError:
            return None
        a11inv = np.linalg.inv(a11)
        ld = 2.0 * float(np.sum(np.log(np.diagonal(c11, axis1=1, axis2=2))))
        m1 = self.ms[0]
        ztw1 = self.ztw[:self.Q1].reshape(m1, q1, -1)
        r1 = l1.T @ ztw1  # (m1, q1, p+1)
        kr1 = a11inv @ r1
        quad = np.einsum("miq,mir->qr", r1, kr1)
        lam2 = self._lam2(lams)
        extra = None
        if lam2.size:
            r2 = lam2.T @ self.ztw[self.Q1:]
            a12 = (l1.T @ self.ztz12) @ lam2  # (m1, q1, Q2)
            a22 = lam2.T @ self.ztz22 @ lam2 + np.eye(lam2.shape[0])
            k12 = a11inv @ a12
            schur = a22 - np.einsum("miq,mir->qr", a12, k12)
            t = r2 - np.einsum("miq,mip->qp", a12, kr1)
            try:
                cs = np.linalg.cholesky(schur)
            except np.linalg.LinAlgError:
                return None
            ld += 2.0 * float(np.sum(np.log(np.diag(cs))))
            st = linalg.cho_solve((cs, True), t)
            quad = quad + t.T @ st
            extra = (a12, k12, cs, lam2)
        try:
            low = np.linalg.cholesky(self.wtw - quad)
        except np.linalg.LinAlgError:
            return None
        return low, ld, (lams, a11inv, r1, extra)

    def deviance(self, theta: np.ndarray, reml: bool) -> float:
        """lme4's profiled deviance / REML criterion at ``theta`` (inf where not computable)."""
        ev = self.evaluate(theta)
        if ev is None:
            return np.inf
        return float(ev.deviance(self.n, reml))

    def evaluate(self, theta: np.ndarray) -> Evaluation | None:
        theta = np.asarray(theta, dtype=float)
        out = self._factor(theta)
        if out is None:
            return None
        low, ld, kernel = out
        p = self.p
        rx = low[:p, :p]
        diag_rx = np.diagonal(rx)
        r2 = float(low[p, p] ** 2)
        if not np.all(diag_rx > 0) or not r2 > 0 or not np.isfinite(r2):
            return None
        beta = np.linalg.solve(rx.T, low[p, :p])
        return Evaluation(theta=theta, ldL2=ld, ldRX2=float(2.0 * np.sum(np.log(diag_rx))),
                          r2=r2, beta=beta, rx=rx, kernel=kernel)

    def deviance_varpar(self, varpar: np.ndarray, reml: bool) -> float:
        """The deviance over ``(theta, sigma)`` (lmerTest's ``devfun_vp``)."""
        ev = self.evaluate(np.asarray(varpar[:-1]))
        if ev is None:
            return np.nan
        s2 = float(varpar[-1]) ** 2
        dev = ev.ldL2 + ev.r2 / s2 + self.n * (_LOG_2PI + np.log(s2))
        if reml:
            dev += ev.ldRX2 - self.p * (_LOG_2PI + np.log(s2))
        return dev

    def random_effects(self, ev: Evaluation) -> list[np.ndarray]:
        """Conditional modes ``b = Lambda u`` per term, each (n_levels, q)."""
        lams, a11inv, r1, extra = ev.kernel
        w = np.append(-ev.beta, 1.0)
        v1 = r1 @ w  # (m1, q1)
        if extra is not None:
            a12, k12, cs, lam2 = extra
            v2 = lam2.T @ (self.ztw[self.Q1:] @ w)
            u2 = linalg.cho_solve((cs, True), v2 - np.einsum("miq,mi->q", a12,
                                                             np.einsum("mab,mb->ma", a11inv, v1)))
            u1 = np.einsum("mab,mb->ma", a11inv, v1 - a12 @ u2)
            b2 = lam2 @ u2
        else:
            u1 = np.einsum("mab,mb->ma", a11inv, v1)
            b2 = np.zeros(0)
        out = [u1 @ lams[0].T]
        start = 0
        for t in range(1, len(self.qs)):
            size = self.qs[t] * self.ms[t]
            out.append(b2[start:start + size].reshape(self.ms[t], self.qs[t]))
            start += size
        return out

    # ------------------------------------------------------------------ derivatives
    def derivative_stats(self, ev: Evaluation) -> DenseStats:
        lams = ev.kernel[0]
        lam = sparse.block_diag([sparse.kron(sparse.identity(m), lt) for m, lt in
                                 zip(self.ms, lams, strict=True)], format="csr")
        zl = (self.ZtZ @ lam).tocsr()  # Z'Z Lambda, sparse
        a = (lam.T @ zl).toarray() + np.eye(self.Q)
        low = np.linalg.cholesky(a)
        # F = L^{-1} Lambda'Z'Z, so Z'Z Lambda A^{-1} Lambda'Z'Z = F'F
        F = linalg.solve_triangular(low, zl.T.toarray(), lower=True, check_finite=False)
        M = self.ZtZ.toarray() - F.T @ F
        lx = linalg.solve_triangular(low, lam.T @ self.ztx, lower=True, check_finite=False)
        B = self.ztx - F.T @ lx
        resid = self.ztw @ np.append(-ev.beta, 1.0)
        lr = linalg.solve_triangular(low, lam.T @ resid, lower=True, check_finite=False)
        e = resid - F.T @ lr
        layouts = [TermLayout(offset=int(self.offsets[t]), n_levels=self.ms[t], q=self.qs[t],
                              theta_offset=int(self.theta_offsets[t]), lam=lams[t])
                   for t in range(len(self.qs))]
        return DenseStats(M=M, B=B, e=e, C=ev.cov_beta_unscaled(), r2=ev.r2, n=self.n,
                          terms=layouts)

    def derivatives(self, theta: np.ndarray, reml: bool, second: bool = True
                    ) -> DerivativeParts | None:
        ev = self.evaluate(theta)
        if ev is None:
            return None
        return self.derivative_stats(ev).parts(reml, second)

    def gradient(self, theta: np.ndarray, reml: bool) -> np.ndarray:
        parts = self.derivatives(theta, reml, second=False)
        if parts is None:
            return np.full(self.n_theta, np.nan)
        return parts.profiled_gradient()

"""lme4's profiled deviance for any number of random-effect terms (Bates et al. 2015).

The random effects are ``b = Lambda(theta) u`` with ``Lambda`` block diagonal (``I_{m_t} (x)
Lambda_t`` per term ``t``, terms in lme4's ``reTrms`` order: decreasing number of levels), and
the columns of ``Z`` level-major within a term, as lme4's ``Zt``. ``A = Lambda'Z'Z Lambda + I``
is factored by block elimination of the first (largest) term, whose block is block diagonal
(one ``q1 x q1`` block per level: each row belongs to one level):

* the one-factor engine (:class:`alsstats.lme.engine.LmeProblem`, closed-form 1x1 / 2x2 blocks)
  is run on the first term with ``W = [Z2 X y]`` (``Z2`` the other terms' columns, ``Q2`` of
  them: sites, scanners, a crossed factor), giving ``S = W' V1^{-1} W`` with
  ``V1 = I + Z1 G1 Z1'`` and ``log|V1| = sum_i log|A11_i|``;
* the other terms: ``A2 = Lambda2' S22 Lambda2 + I`` (dense ``Q2 x Q2``), ``log|A| = log|V1| +
  log|A2|`` (determinant lemma) and ``[X y]'V0^{-1}[X y] = Sww - T'T`` with
  ``T = chol(A2)^{-1} Lambda2' S2w``, whose Cholesky factor holds ``R_X``, the fixed effects and
  the penalised residual sum of squares.

The cost per evaluation is O(m1 q1^2 (Q2 + p)^2 + Q2^3): linear in the number of subjects when
the other factors are small; for two large crossed factors ``Q2`` is large and the dense
``Q2 x Q2`` factorisation is the (cubic) fallback. Exact derivatives use the same structure
(:class:`alsstats.lme.derivatives.NestedStats`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import linalg

from alsstats.lme.derivatives import NestedStats, TermLayout
from alsstats.lme.engine import Evaluation, LmeProblem, ProfiledProblem, theta_layout

__all__ = ["GeneralProblem", "TermData"]



@dataclass(frozen=True)
class TermData:
    """One random-effect term: per-row model matrix, level codes and number of levels."""

    Z: np.ndarray  # (n, q)
    codes: np.ndarray  # (n,) int, 0 .. n_levels - 1
    n_levels: int


class GeneralProblem(ProfiledProblem):
    """A linear mixed model with any number of random-effect terms (terms already in lme4's
    order), as design statistics of the first term against ``W = [Z2 X y]``.

    Design statistics (everything of ``X`` and ``Z``) are computed once; :meth:`with_response`
    gives the same design with a new response (lme4's ``refit``) at the cost of ``Z'y``.
    """

    def __init__(self, X: np.ndarray, y: np.ndarray, terms: list[TermData]):
        X = np.asarray(X, dtype=float)
        y = np.asarray(y, dtype=float)
        self.n, self.p = X.shape
        self.qs = [t.Z.shape[1] for t in terms]
        self.ms = [t.n_levels for t in terms]
        sizes = [q * m for q, m in zip(self.qs, self.ms, strict=True)]
        self.Q2 = int(sum(sizes[1:]))
        z2 = np.zeros((self.n, self.Q2))
        start = 0
        self.offsets2 = []
        for t in range(1, len(terms)):
            term, q = terms[t], self.qs[t]
            self.offsets2.append(start)
            cols = start + np.asarray(term.codes) * q
            for j in range(q):
                z2[np.arange(self.n), cols + j] = term.Z[:, j]
            start += sizes[t]
        first = terms[0]
        self.first = LmeProblem(np.column_stack([z2, X]), y, first.Z, first.codes, first.n_levels)
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
        # where each theta entry of the other terms sits in the dense Q2 x Q2 Lambda2
        pr, pc, pk = [], [], []
        for t in range(1, len(terms)):
            q, m = self.qs[t], self.ms[t]
            for k in range(self.theta_offsets[t], self.theta_offsets[t + 1]):
                base = self.offsets2[t - 1] + np.arange(m) * q
                pr.append(base + self.rows[k])
                pc.append(base + self.cols[k])
                pk.append(np.full(m, k))
        self._lam2_rows = np.concatenate(pr) if pr else np.zeros(0, dtype=int)
        self._lam2_cols = np.concatenate(pc) if pc else np.zeros(0, dtype=int)
        self._lam2_theta = np.concatenate(pk) if pk else np.zeros(0, dtype=int)
        self._lam2_diagonal = all(q == 1 for q in self.qs[1:])

    def with_response(self, y: np.ndarray) -> GeneralProblem:
        """The same design with response ``y`` (shares every design statistic)."""
        new = object.__new__(GeneralProblem)
        new.__dict__.update(self.__dict__)
        new.first = self.first.with_response(np.asarray(y, dtype=float))
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

    def moment_start(self) -> np.ndarray | None:
        """A start for Newton: the first term's moment estimate with the other terms' columns
        as fixed effects (:meth:`LmeProblem.moment_start`), the other terms at lme4's start."""
        first = self.first.moment_start()
        if first is None:
            return None
        out = self.theta_start()
        out[:first.size] = first
        return out

    def lam_blocks(self, theta: np.ndarray) -> list[np.ndarray]:
        """``Lambda_t`` of each term."""
        out = []
        for t, q in enumerate(self.qs):
            lam = np.zeros((q, q))
            sl = slice(self.theta_offsets[t], self.theta_offsets[t + 1])
            lam[self.rows[sl], self.cols[sl]] = theta[sl]
            out.append(lam)
        return out

    def _lam2(self, theta: np.ndarray) -> np.ndarray:
        """Dense ``Lambda`` of the terms after the first (Q2 x Q2)."""
        out = np.zeros((self.Q2, self.Q2))
        out[self._lam2_rows, self._lam2_cols] = theta[self._lam2_theta]
        return out

    # ------------------------------------------------------------------ evaluation
    def _factor(self, theta: np.ndarray):
        theta = np.asarray(theta, dtype=float)
        q1 = self.qs[0]
        out = self.first.kernel(theta[:q1 * (q1 + 1) // 2])
        if out is None:
            return None
        k, ld = out
        S = self.first.wtw - self.first.quad(k)  # W' V1^{-1} W, W = [Z2 X y]
        Q2 = self.Q2
        lam2 = self._lam2(theta)
        if self._lam2_diagonal:  # only scalar terms besides the first: Lambda2 is diagonal
            d = theta[self._lam2_theta]  # the diagonal of Lambda2, in order
            a2 = S[:Q2, :Q2] * np.outer(d, d)
            a2.flat[::Q2 + 1] += 1.0
            rhs = d[:, None] * S[:Q2, Q2:]
        else:
            a2 = lam2.T @ S[:Q2, :Q2] @ lam2 + np.eye(Q2)
            rhs = lam2.T @ S[:Q2, Q2:]
        try:
            c2 = np.linalg.cholesky(a2)
            t = np.linalg.solve(c2, rhs)  # small and triangular: LAPACK call overhead dominates
            low = np.linalg.cholesky(S[Q2:, Q2:] - t.T @ t)
        except np.linalg.LinAlgError:
            return None
        ld += 2.0 * float(np.log(np.prod(np.diagonal(c2))))
        return low, ld, (k, S, c2, lam2)

    def random_effects(self, ev: Evaluation) -> list[np.ndarray]:
        """Conditional modes ``b = Lambda u`` per term, each (n_levels, q): the other terms'
        from ``A2 u2 = Lambda2' Z2'V1^{-1}(y - X beta)``, then the first term's given them."""
        k, S, c2, lam2 = ev.kernel
        Q2 = self.Q2
        w = np.append(-ev.beta, 1.0)
        rhs = lam2.T @ (S[:Q2, Q2:] @ w)
        u2 = linalg.cho_solve((c2, True), rhs)
        b2 = lam2 @ u2
        first = Evaluation(theta=ev.theta, ldL2=0.0, ldRX2=0.0, r2=ev.r2,
                           beta=np.concatenate([b2, ev.beta]), rx=ev.rx, kernel=k)
        out = [self.first.random_effects(first)]
        for t in range(1, len(self.qs)):
            start = self.offsets2[t - 1]
            size = self.qs[t] * self.ms[t]
            out.append(b2[start:start + size].reshape(self.ms[t], self.qs[t]))
        return out

    # ------------------------------------------------------------------ derivatives
    def derivative_stats(self, ev: Evaluation) -> NestedStats:
        """``Z'V0^{-1}Z``, ``Z'V0^{-1}X``, ``Z'V0^{-1}(y - X beta)`` in the block-diagonal-
        minus-low-rank form of :class:`~alsstats.lme.derivatives.NestedStats`."""
        k, S, c2, lam2 = ev.kernel
        lams = self.lam_blocks(ev.theta)
        Q2, p = self.Q2, self.p
        one = self.first
        K = one.full_kernel(k)
        S1 = one.ztz
        SK = S1 @ K
        zw = one.ztw  # Z1_i'[Z2 X y]
        zw_v = zw - SK @ zw  # Z1_i' V1^{-1} [Z2 X y]
        Bd = S1 - SK @ S1
        G1 = zw_v[:, :, :Q2]
        w = np.append(-ev.beta, 1.0)
        r1 = zw_v[:, :, Q2:] @ w  # Z1'V1^{-1} r per level
        X1v = zw_v[:, :, Q2:Q2 + p]
        S22, X2v = S[:Q2, :Q2], S[:Q2, Q2:Q2 + p]
        r2v = S[:Q2, Q2:] @ w
        # V0^{-1} = V1^{-1} - V1^{-1} Z2 J Z2' V1^{-1}, J = Lambda2 A2^{-1} Lambda2'
        cinv_l = linalg.solve_triangular(c2, lam2.T, lower=True, check_finite=False)
        J = cinv_l.T @ cinv_l
        H = G1 @ cinv_l.T
        I_JS = np.eye(Q2) - J @ S22
        M12 = G1 @ I_JS
        M22 = S22 @ I_JS
        B1 = X1v - G1 @ (J @ X2v)
        B2 = X2v - S22 @ (J @ X2v)
        e1 = r1 - G1 @ (J @ r2v)
        e2 = r2v - S22 @ (J @ r2v)
        layouts = [TermLayout(offset=0, n_levels=self.ms[0], q=self.qs[0], theta_offset=0,
                              lam=lams[0])]
        for t in range(1, len(self.qs)):
            layouts.append(TermLayout(offset=self.offsets2[t - 1], n_levels=self.ms[t],
                                      q=self.qs[t], theta_offset=int(self.theta_offsets[t]),
                                      lam=lams[t]))
        return NestedStats(Bd=Bd, H=H, M12=M12, M22=M22, B1=B1, B2=B2, e1=e1, e2=e2,
                           C=ev.cov_beta_unscaled(), r2=ev.r2, n=self.n, terms=layouts)

"""Exact derivatives of lme4's deviance: over ``theta`` (profiled) and over ``(theta, sigma)``.

Write ``V0 = I + Z G Z'`` with ``G = blockdiag(I_{m_t} (x) Lambda_t Lambda_t')`` the relative
covariance of the random effects, ``P = V0^{-1} - V0^{-1} X C X' V0^{-1}`` with
``C = (X' V0^{-1} X)^{-1}``, and ``D_k = dG / dtheta_k``. Everything the derivatives need lives
in the space of the random effects (never n x n):

* ``M = Z' V0^{-1} Z``, ``B = Z' V0^{-1} X``, ``e = Z' P y = Z' V0^{-1} (y - X beta)`` and
  ``N = Z' P Z = M - B C B'``;
* the penalised residual sum of squares ``r2 = y' P y``: ``dr2/dk = -e' D_k e``,
  ``d2r2/dk dl = 2 e' D_k N D_l e - e' D_kl e``;
* ``a = log|V0|`` (ML; ``= log|L|^2``) or ``log|V0| + log|X' V0^{-1} X|`` (REML): with
  ``W = M`` (ML) or ``N`` (REML), ``da/dk = tr(W D_k)``,
  ``d2a/dk dl = tr(W D_kl) - tr(W D_k W D_l)``;
* ``Var(beta) = sigma^2 C``: ``dC/dk = C (B' D_k B) C``.

``D_k`` is ``I_{m_t} (x) E_k`` on the columns of term ``t``, with ``E_k = U Lambda_t' + Lambda_t U'``
(``U`` the unit matrix at ``theta_k``'s position in ``Lambda_t``) and ``D_kl = I (x) (V + V')``
where ``V = U_k U_l'`` (non-zero only within one term and column of ``Lambda_t``).

With one grouping factor ``M`` is block diagonal (one ``q x q`` block per level) and the traces
are sums over levels (:class:`BlockStats`: Gram matrices over levels, O(m q^2 (q^2 + p^2)),
then contractions independent of m); with several terms the
first (largest) term's block of ``M`` is block diagonal minus a low-rank correction from the
other terms (:class:`NestedStats`, O(m q1 (Q2 + p)^2 K^2 + Q2^3)); with the sparse factorisation
``M`` is block diagonal over the connected components of ``Z'Z`` and ``N = M - U U'`` with
``U = B chol(C)`` (:class:`FullStats`, O(sum_c s_c^2 K^2 + Q p K^2)).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

__all__ = ["BlockStats", "ComponentGroup", "DerivativeParts", "FullStats", "NestedStats", "RowLayout",
           "TermLayout", "derivative_parts", "theta_layout"]

_LOG_2PI = float(np.log(2.0 * np.pi))


@dataclass(frozen=True)
class TermLayout:
    """Where a random-effect term sits: its columns of ``Z`` (level-major, as lme4's ``Zt``
    rows), its ``theta`` entries and its relative covariance factor."""

    offset: int  # first column in Z
    n_levels: int
    q: int
    theta_offset: int  # first entry in theta
    lam: np.ndarray  # (q, q) Lambda_t at the current theta

    @property
    def n_theta(self) -> int:
        return self.q * (self.q + 1) // 2

    def positions(self) -> list[tuple[int, int]]:
        """(row, col) of each theta entry of the term in ``Lambda_t`` (column-wise)."""
        rows, cols, _ = theta_layout(self.q)
        return list(zip(rows.tolist(), cols.tolist(), strict=True))


@functools.lru_cache(maxsize=16)
def theta_layout(q: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row and column indices of ``theta`` in a q x q ``Lambda`` (lme4's column-wise lower
    triangle), read-only.

    Returns ``(rows, cols, is_diagonal)``; ``theta[k]`` sits at ``Lambda[rows[k], cols[k]]``.
    """
    rows = np.array([i for j in range(q) for i in range(j, q)], dtype=np.int64)
    cols = np.array([j for j in range(q) for i in range(j, q)], dtype=np.int64)
    diag = rows == cols
    for a in (rows, cols, diag):
        a.flags.writeable = False
    return rows, cols, diag


def _firsts(lam: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``E_k = U_k Lambda' + Lambda U_k'`` for the units ``U_k`` at ``(rows[k], cols[k])``,
    stacked (K, q, q): ``R_k + R_k'`` with row ``rows[k]`` of ``R_k`` column ``cols[k]`` of
    ``Lambda``."""
    K, q = len(rows), lam.shape[0]
    R = np.zeros((K, q, q))
    R[np.arange(K), rows, :] = lam[:, cols].T
    return R + np.swapaxes(R, 1, 2)


def _first(lam: np.ndarray, r: int, c: int) -> np.ndarray:
    """``E = U Lambda' + Lambda U'`` for the unit ``U`` at ``(r, c)``."""
    return _firsts(lam, np.array([r]), np.array([c]))[0]


def _second(q: int, pos_k: tuple[int, int], pos_l: tuple[int, int]) -> np.ndarray | None:
    """``d2 (Lambda Lambda') / dk dl`` (None when zero)."""
    (rk, ck), (rl, cl) = pos_k, pos_l
    if ck != cl:
        return None
    out = np.zeros((q, q))
    out[rk, rl] += 1.0
    out[rl, rk] += 1.0
    return out


def _theta_index(terms: list[TermLayout]) -> list[tuple[int, tuple[int, int]]]:
    """Per global theta entry: (term index, position in Lambda_t)."""
    out = []
    for t, term in enumerate(terms):
        out.extend((t, pos) for pos in term.positions())
    return out


@dataclass
class DerivativeParts:
    """Exact first and second derivatives at one ``theta``.

    ``grad_a``/``hess_a``: of ``a`` (log-determinants); ``grad_r2``/``hess_r2``: of ``r2``;
    ``dcov``: ``d C / d theta_k`` stacked as (p, p, K); ``C`` and ``r2`` themselves; ``dof``
    (``n - p`` for REML, ``n`` for ML).
    """

    grad_a: np.ndarray
    hess_a: np.ndarray | None
    grad_r2: np.ndarray
    hess_r2: np.ndarray | None
    dcov: np.ndarray | None
    C: np.ndarray
    r2: float
    dof: int

    def profiled_gradient(self) -> np.ndarray:
        """Gradient of lme4's profiled deviance (sigma profiled out) over theta."""
        return self.grad_a + self.dof * self.grad_r2 / self.r2

    def profiled_hessian(self) -> np.ndarray:
        """Hessian of lme4's profiled deviance over theta."""
        g = self.grad_r2
        return self.hess_a + self.dof * (self.hess_r2 / self.r2 - g[:, None] * g / self.r2**2)

    def varpar_hessian(self, sigma: float) -> np.ndarray:
        """Hessian of the deviance over ``(theta, sigma)`` (lmerTest's ``devfun_vp``)."""
        k = self.grad_a.size
        s2 = sigma * sigma
        full = np.empty((k + 1, k + 1))
        full[:k, :k] = self.hess_a + self.hess_r2 / s2
        full[:k, k] = full[k, :k] = -2.0 * self.grad_r2 / (s2 * sigma)
        full[k, k] = 6.0 * self.r2 / (s2 * s2) - 2.0 * self.dof / s2
        return full

    def varpar_jacobian(self, sigma: float) -> np.ndarray:
        """``d Var(beta) / d (theta, sigma)``, (p, p, K + 1)."""
        s2 = sigma * sigma
        return np.concatenate([s2 * self.dcov, (2.0 * sigma * self.C)[:, :, None]], axis=2)


@dataclass(frozen=True)
class RowLayout:
    """Rows of :class:`BlockStats`' table (one column per level): ``[1, vec M_i, vec e_i e_i', vec P_i,
    vec B_i, e_i]`` for q random effects and p fixed effects."""

    q: int
    p: int

    @property
    def m(self) -> slice:
        return slice(1, 1 + self.q ** 2)

    @property
    def ee(self) -> slice:
        return slice(1 + self.q ** 2, 1 + 2 * self.q ** 2)

    @property
    def P(self) -> slice:
        return slice(1 + 2 * self.q ** 2, 1 + 3 * self.q ** 2)

    @property
    def b(self) -> slice:
        start = 1 + 3 * self.q ** 2
        return slice(start, start + self.q * self.p)

    @property
    def e(self) -> slice:
        start = 1 + 3 * self.q ** 2 + self.q * self.p
        return slice(start, start + self.q)

    @property
    def width(self) -> int:
        return 1 + 3 * self.q ** 2 + self.q * self.p + self.q


@dataclass
class BlockStats:
    """``M``, ``B``, ``e`` of one grouping factor, per level: (m, q, q), (m, q, p), (m, q),
    held as a table with one contiguous row per quantity and one column per level,
    ``[1, vec M_i, vec e_i e_i', vec P_i, vec B_i, e_i]`` (:class:`RowLayout`,
    ``P_i = B_i C B_i'``), so every sum over levels the derivatives need is a block of
    ``table table'``."""

    table: np.ndarray
    layout: RowLayout
    C: np.ndarray
    r2: float
    n: int
    term: TermLayout

    @classmethod
    def from_blocks(cls, M: np.ndarray, B: np.ndarray, e: np.ndarray, C: np.ndarray,
                    root: np.ndarray, r2: float, n: int, term: TermLayout) -> BlockStats:
        """From the per-level blocks; ``root``: any ``A`` with ``A A' = C``."""
        m, q, p = B.shape
        layout = RowLayout(q, p)
        table = np.empty((layout.width, m))
        table[0] = 1.0
        table[layout.m] = M.reshape(m, q * q).T
        table[layout.b] = B.reshape(m, q * p).T
        table[layout.e] = e.T
        return cls.from_table(table, layout, C, root, r2, n, term)

    @classmethod
    def from_table(cls, table: np.ndarray, layout: RowLayout, C: np.ndarray, root: np.ndarray,
                   r2: float, n: int, term: TermLayout) -> BlockStats:
        """From a table whose ``1``, ``M``, ``B`` and ``e`` rows are filled: fills the rows of
        ``e_i e_i'`` and ``P_i = B_i C B_i' = (B_i A)(B_i A)'`` (``root``: ``A``, ``A A' = C``),
        one row-wise product per pair of rows (numpy's batched products of tiny matrices cost
        ~3x more)."""
        q, p, m = layout.q, layout.p, table.shape[1]
        e = table[layout.e]
        ee = table[layout.ee].reshape(q, q, m)
        P = table[layout.P].reshape(q, q, m)
        bl = np.matmul(root.T, table[layout.b].reshape(q, p, m))  # row a: (B_i A)[a, :]'
        for a in range(q):
            for b in range(a, q):
                np.multiply(e[a], e[b], out=ee[a, b])
                np.einsum("sm,sm->m", bl[a], bl[b], out=P[a, b])
                if b != a:
                    ee[b, a] = ee[a, b]
                    P[b, a] = P[a, b]
        return cls(table=table, layout=layout, C=C, r2=r2, n=n, term=term)

    @property
    def M(self) -> np.ndarray:
        q = self.layout.q
        return self.table[self.layout.m].T.reshape(-1, q, q)

    @property
    def B(self) -> np.ndarray:
        return self.table[self.layout.b].T.reshape(-1, self.layout.q, self.layout.p)

    @property
    def e(self) -> np.ndarray:
        return self.table[self.layout.e].T

    def parts(self, reml: bool, second: bool = True, covariance: bool = True
              ) -> DerivativeParts:
        """The derivatives from one Gram matrix over levels.

        Every trace is ``sum_i`` of a product of per-level blocks with the shared ``E_k``, so
        it is a contraction of ``E_k`` with a Gram matrix of the flattened blocks summed over
        the levels once: ``tr(M_i E_k M_i E_l)`` from ``sum_i M_i (x) M_i``, the REML cross term
        from ``sum_i M_i (x) P_i`` (``P_i = B_i C B_i'``), ``B' D_k B`` from
        ``sum_i B_i (x) B_i``, ``e' D_k M D_l e`` from ``sum_i M_i (x) e_i e_i'``: all of them
        blocks of ``rows' rows``, and each contraction is ``vec(E_k)' T vec(E_l)`` for a
        permuted block ``T``. Linear in the number of levels with a small constant, and no
        per-theta temporaries. ``covariance=False`` skips ``dC/dtheta`` (Newton's iterations do
        not need it).
        """
        C, lay = self.C, self.layout
        q, p = lay.q, lay.p
        q2 = q * q
        at_row, at_col, _ = theta_layout(q)
        K = at_row.size
        vec_e = _firsts(self.term.lam, at_row, at_col).reshape(K, q2)
        dof = self.n - p if reml else self.n
        table = self.table
        sums = table[:lay.b.start].sum(axis=1)
        esum = sums[lay.ee]
        W = sums[lay.m] - sums[lay.P] if reml else sums[lay.m]
        if not second:
            return DerivativeParts(vec_e @ W, None, -(vec_e @ esum), None, None, C, self.r2, dof)
        # the blocks of table table' the traces need: M against [M, e e', P], B against [B, e]
        gram_m = table[lay.m] @ table[lay.m.start:lay.P.stop].T
        gram_b = table[lay.b] @ table[lay.b.start:lay.e.stop].T
        mm = gram_m[:, :q2]
        m_ee = gram_m[:, q2:2 * q2]
        m_p = gram_m[:, 2 * q2:]
        grad_a = vec_e @ W
        grad_r2 = -(vec_e @ esum)

        def permuted(block: np.ndarray, order: tuple[int, int, int, int]) -> np.ndarray:
            return block.reshape(q, q, q, q).transpose(order).reshape(q2, q2)

        # tr(M_i E_k A_i E_l) = sum T[a, b, c, d] E_k[b, c] E_l[d, a], T = sum_i M_i (x) A_i
        T = permuted(mm - 2.0 * m_p, (1, 2, 3, 0)) if reml else permuted(mm, (1, 2, 3, 0))
        tww = vec_e @ T @ vec_e.T
        bb = gram_b[:, :q * p].reshape(q, p, q, p)  # sum_i B_i[a, s] B_i[b, t]
        FK = vec_e @ bb.transpose(0, 2, 1, 3).reshape(q2, p * p)  # B' D_k B, (K, p*p)
        CF = (FK.reshape(K * p, p) @ C).reshape(K, p, p)  # (B' D_k B) C; C symmetric
        if reml:
            tww = tww + CF.reshape(K, -1) @ np.swapaxes(CF, 1, 2).reshape(K, -1).T
        bte = gram_b[:, q * p:].reshape(q, p, q)  # sum_i B_i[a, s] e_i[b]
        bf = vec_e @ bte.transpose(0, 2, 1).reshape(q2, p)  # B' D_k e, (K, p)
        # sum_i (E_k e_i)' M_i (E_l e_i) = sum T[a, b, c, d] E_k[a, c] E_l[b, d]
        fnf = (vec_e @ permuted(m_ee, (0, 2, 1, 3)) @ vec_e.T
               - bf @ C @ bf.T)
        same = at_col[:, None] == at_col[None, :]
        at = (at_row[:, None], at_row[None, :])
        second_a = np.where(same, 2.0 * W.reshape(q, q)[at], 0.0)
        second_r = np.where(same, 2.0 * esum.reshape(q, q)[at], 0.0)
        hess_a = second_a - tww
        hess_r2 = 2.0 * fnf - second_r
        dcov = None
        if covariance:  # C (B' D_k B) C
            dcov = np.moveaxis(C @ CF, 0, 2)
        return DerivativeParts(grad_a, 0.5 * (hess_a + hess_a.T), grad_r2,
                               0.5 * (hess_r2 + hess_r2.T), dcov, C, self.r2, dof)


def derivative_parts(stats: BlockStats | NestedStats | FullStats, reml: bool, second: bool = True,
                     covariance: bool = True) -> DerivativeParts:
    """The exact derivatives at the theta the statistics were computed at (``covariance``:
    with ``dC/dtheta``, which needs ``second``)."""
    return stats.parts(reml, second, covariance)


@dataclass
class NestedStats:
    """``M``, ``B``, ``e`` of a first (largest) term with per-level blocks plus other terms
    with ``Q2`` random effects in all, as "block diagonal minus low rank":

    ``M11 = Bd - H H'`` (``Bd`` per level (m, q1, q1), ``H`` (m, q1, Q2)), ``M12`` (m, q1, Q2),
    ``M22`` (Q2, Q2); ``B1`` (m, q1, p), ``B2`` (Q2, p); ``e1`` (m, q1), ``e2`` (Q2,).
    ``N = M - B C B'`` keeps the form with ``U = [H, B1 chol(C)]``. Every trace is then a sum
    over levels of the first term plus ``Q2``-sized products: O(m q1 (Q2 + p)^2 K^2), linear in
    the number of subjects.
    """

    Bd: np.ndarray
    H: np.ndarray
    M12: np.ndarray
    M22: np.ndarray
    B1: np.ndarray
    B2: np.ndarray
    e1: np.ndarray
    e2: np.ndarray
    C: np.ndarray
    r2: float
    n: int
    terms: list[TermLayout]  # offsets of terms after the first are within the Q2 block

    def _slice(self, t: int) -> slice:
        """Term ``t``'s columns within the ``Q2`` block (terms after the first)."""
        term = self.terms[t]
        return slice(term.offset, term.offset + term.n_levels * term.q)

    def _block_sum(self, A: np.ndarray, t: int) -> np.ndarray:
        """Sum over term ``t``'s levels of the diagonal ``q x q`` blocks of ``A`` (Q2 x Q2)."""
        term = self.terms[t]
        m, q = term.n_levels, term.q
        sl = self._slice(t)
        blocks = A[sl, sl].reshape(m, q, m, q)
        return blocks[np.arange(m), :, np.arange(m), :].sum(axis=0)

    def _times_d(self, A: np.ndarray, t: int, E: np.ndarray) -> np.ndarray:
        """``(A D)[..., term t's columns]`` for ``D = I_m (x) E`` on term ``t`` (A's last axis
        is the Q2 block)."""
        term = self.terms[t]
        sl = self._slice(t)
        part = A[..., sl].reshape(A.shape[:-1] + (term.n_levels, term.q))
        return (part @ E).reshape(A.shape[:-1] + (term.n_levels * term.q,))

    def parts(self, reml: bool, second: bool = True, covariance: bool = True
              ) -> DerivativeParts:
        Bd, H, C = self.Bd, self.H, self.C
        B1, B2, e1, e2 = self.B1, self.B2, self.e1, self.e2
        p = C.shape[0]
        lc = np.linalg.cholesky(C)
        B1L = B1 @ lc
        U_n = np.concatenate([H, B1L], axis=2)
        N12 = self.M12 - B1 @ C @ B2.T
        N22 = self.M22 - B2 @ C @ B2.T
        U_w, W12, W22 = (U_n, N12, N22) if reml else (H, self.M12, self.M22)
        index = _theta_index(self.terms)
        K = len(index)
        first = [t == 0 for t, _ in index]
        # E[k]: q x q; for a term after the first, D_k = I_m (x) E[k] on its columns
        E = [_first(self.terms[t].lam, r, c) for t, (r, c) in index]
        bdsum = Bd.sum(axis=0)
        uu_w = np.tensordot(U_w, U_w, axes=([0, 2], [0, 2]))
        esum1 = e1.T @ e1
        w22sum = {t: self._block_sum(W22, t) for t, _ in index if t > 0}
        esum2 = {}
        for t, _ in index:
            if t > 0:
                et = e2[self._slice(t)].reshape(self.terms[t].n_levels, self.terms[t].q)
                esum2[t] = et.T @ et
        grad_a = np.empty(K)
        grad_r2 = np.empty(K)
        for k in range(K):
            t = index[k][0]
            if first[k]:
                grad_a[k] = np.sum((bdsum - uu_w) * E[k])
                grad_r2[k] = -np.sum(esum1 * E[k])
            else:
                grad_a[k] = np.sum(w22sum[t] * E[k])
                grad_r2[k] = -np.sum(esum2[t] * E[k])
        dof = self.n - p if reml else self.n
        if not second:
            return DerivativeParts(grad_a, None, grad_r2, None, None, C, self.r2, dof)
        # per-theta pieces
        # traces summed over levels through q1^2 x q1^2 Gram matrices (no per-level products):
        # sum_i tr(Bd_i E_k Bd_i E_j) = sum Gbb[a,b,c,d] E_k[b,c] E_j[d,a], and
        # sum_i tr(E_j Bd_i E_k P_i) with P_i = U_i U_i' likewise with Gbp
        m, q1 = Bd.shape[0], Bd.shape[1]
        bd2 = Bd.reshape(m, q1 * q1)
        P = np.matmul(U_w, np.swapaxes(U_w, 1, 2)).reshape(m, q1 * q1)
        Gbb = (bd2.T @ bd2).reshape(q1, q1, q1, q1)
        Gbp = (bd2.T @ P).reshape(q1, q1, q1, q1)  # [b, c, d, a]: Bd_i[b, c] P_i[d, a]
        UDU = [np.tensordot(U_w, np.tensordot(E[k], U_w, axes=([1], [1])), axes=([0, 1], [1, 0]))
               if first[k] else None for k in range(K)]
        Y = [None if first[k] else np.tensordot(
            self._times_d(W12, index[k][0], E[k]), W12[:, :, self._slice(index[k][0])],
            axes=([0, 2], [0, 2])) for k in range(K)]  # sum_i W12_i D2 W12_i'
        f1 = [e1 @ E[k] if first[k] else np.zeros_like(e1) for k in range(K)]
        f2 = []
        for k in range(K):
            f2k = np.zeros_like(e2)
            if not first[k]:
                f2k[self._slice(index[k][0])] = self._times_d(e2, index[k][0], E[k])
            f2.append(f2k)
        X22 = [None if first[k] else self._times_d(W22, index[k][0], E[k]) for k in range(K)]
        Uf = [np.tensordot(U_n, f1[k], axes=([0, 1], [0, 1])) for k in range(K)]
        Bdf = [np.einsum("mab,mb->ma", Bd, f1[k]) for k in range(K)]
        N12f2 = [np.einsum("mab,b->ma", N12, f2[k]) for k in range(K)]
        N22f2 = [N22 @ f2[k] for k in range(K)]
        F = [np.tensordot(B1, E[k] @ B1, axes=([0, 1], [0, 1])) if first[k]
             else B2[self._slice(index[k][0])].T @ self._times_d(B2.T, index[k][0], E[k]).T
             for k in range(K)]
        hess_a = np.empty((K, K))
        hess_r2 = np.empty((K, K))
        for k in range(K):
            for j in range(k + 1):
                tk, pk = index[k]
                tj, pj = index[j]
                Ekj = _second(self.terms[tk].q, pk, pj) if tk == tj else None
                if first[k] and first[j]:
                    tww = (np.einsum("abcd,bc,da->", Gbb, E[k], E[j])
                           - 2.0 * np.einsum("bcda,ab,cd->", Gbp, E[j], E[k])
                           + np.sum(UDU[k] * UDU[j].T))
                    second_a = 0.0 if Ekj is None else np.sum((bdsum - uu_w) * Ekj)
                    second_r = 0.0 if Ekj is None else np.sum(esum1 * Ekj)
                elif first[k] != first[j]:
                    one, two = (k, j) if first[k] else (j, k)
                    tww = np.sum(Y[two] * E[one])
                    second_a = second_r = 0.0
                else:
                    # tr(W22 D_k W22 D_j): rows of term tj of (W22 D_k) against rows of term
                    # tk of (W22 D_j)
                    tww = np.sum(X22[k][self._slice(tj), :] * X22[j][self._slice(tk), :].T)
                    second_a = 0.0 if Ekj is None else np.sum(w22sum[tk] * Ekj)
                    second_r = 0.0 if Ekj is None else np.sum(esum2[tk] * Ekj)
                hess_a[k, j] = hess_a[j, k] = second_a - tww
                fnf = (np.sum(f1[k] * Bdf[j]) - Uf[k] @ Uf[j] + np.sum(f1[k] * N12f2[j])
                       + np.sum(f1[j] * N12f2[k]) + f2[k] @ N22f2[j])
                hess_r2[k, j] = hess_r2[j, k] = 2.0 * fnf - second_r
        dcov = np.stack([C @ Fk @ C for Fk in F], axis=2) if covariance else None
        return DerivativeParts(grad_a, hess_a, grad_r2, hess_r2, dcov, C, self.r2, dof)


@dataclass(frozen=True)
class ComponentGroup:
    """Connected components of ``Z'Z`` (every level's block kept together) with the same
    layout: ``index`` (c, s) their columns of ``Z`` (ascending, so term-major and level-major
    within a term), ``M`` (c, s, s) the blocks of ``Z'V0^{-1}Z`` on them, and per term the
    first local column and the number of its levels in each component."""

    index: np.ndarray
    M: np.ndarray
    starts: tuple[int, ...]
    counts: tuple[int, ...]


@dataclass
class FullStats:
    """``M``, ``B``, ``e`` of any number of terms in the space of all random effects:
    ``M = Z'V0^{-1}Z`` is block diagonal over the connected components of ``Z'Z`` (one dense
    block per component, :class:`ComponentGroup`), ``B`` (Q, p) and ``e`` (Q,) dense, columns
    as ``Z``; ``N = M - U U'`` with ``U = B chol(C)``. Used by the sparse factorisation
    (:mod:`alsstats.lme.general`): the traces cost O(sum_c s_c^2 K^2 + Q p K^2), i.e. linear
    in the number of components for nested designs, O(Q^2 K^2) for one crossed component.
    """

    groups: list[ComponentGroup]
    B: np.ndarray
    e: np.ndarray
    C: np.ndarray
    r2: float
    n: int
    terms: list[TermLayout]

    def _local(self, g: ComponentGroup, t: int) -> slice:
        return slice(g.starts[t], g.starts[t] + g.counts[t] * self.terms[t].q)

    def parts(self, reml: bool, second: bool = True, covariance: bool = True
              ) -> DerivativeParts:
        B, e, C = self.B, self.e, self.C
        p = C.shape[0]
        Q = B.shape[0]
        U = B @ np.linalg.cholesky(C)
        index = _theta_index(self.terms)
        K = len(index)
        cols = [np.arange(t.offset, t.offset + t.n_levels * t.q) for t in self.terms]
        # per term: sum of M's diagonal level blocks, sum of U_i U_i', sum of e_i e_i'
        wsum, esum = [], []
        for t, term in enumerate(self.terms):
            q = term.q
            total = np.zeros((q, q))
            for g in self.groups:
                cnt = g.counts[t]
                if cnt:
                    sl = self._local(g, t)
                    blk = g.M[:, sl, sl].reshape(-1, cnt, q, cnt, q)
                    total += blk[:, np.arange(cnt), :, np.arange(cnt), :].sum(axis=(0, 1))
            if reml:
                ut = U[cols[t]].reshape(term.n_levels, q, p)
                total -= np.einsum("map,mbp->ab", ut, ut)
            wsum.append(total)
            et = e[cols[t]].reshape(term.n_levels, q)
            esum.append(et.T @ et)
        E = [_first(self.terms[t].lam, r, c) for t, (r, c) in index]
        grad_a = np.array([np.sum(wsum[t] * E[k]) for k, (t, _) in enumerate(index)])
        grad_r2 = -np.array([np.sum(esum[t] * E[k]) for k, (t, _) in enumerate(index)])
        dof = self.n - p if reml else self.n
        if not second:
            return DerivativeParts(grad_a, None, grad_r2, None, None, C, self.r2, dof)
        f, DU, F = [], [], []
        for k, (t, _) in enumerate(index):
            m, q = self.terms[t].n_levels, self.terms[t].q
            fk = np.zeros(Q)
            fk[cols[t]] = (e[cols[t]].reshape(m, q) @ E[k]).ravel()  # D_k e
            f.append(fk)
            du = np.zeros((Q, p))
            du[cols[t]] = np.einsum("rs,msp->mrp", E[k], U[cols[t]].reshape(m, q, p)
                                    ).reshape(m * q, p)  # D_k U
            DU.append(du)
            bt = B[cols[t]].reshape(m, q, p)
            F.append(np.einsum("mqa,qr,mrb->ab", bt, E[k], bt))  # B' D_k B
        tmm = np.zeros((K, K))
        Mf = [np.zeros(Q) for _ in range(K)]
        MDU = [np.zeros((Q, p)) for _ in range(K)]
        for g in self.groups:
            c, s = g.index.shape
            X = []
            for k, (t, _) in enumerate(index):
                cnt, q = g.counts[t], self.terms[t].q
                sl = self._local(g, t)
                # (M D_k) restricted to term t's columns, per component
                X.append(None if cnt == 0 else
                         (g.M[:, :, sl].reshape(c, s, cnt, q) @ E[k]).reshape(c, s, cnt * q))
                Mf[k][g.index] += (g.M @ f[k][g.index][:, :, None])[:, :, 0]
                MDU[k][g.index] += g.M @ DU[k][g.index]
            for k, (tk, _) in enumerate(index):
                for j in range(k + 1):
                    tj = index[j][0]
                    if X[k] is None or X[j] is None:
                        continue
                    # tr(M D_k M D_j): rows of X_k in term tj against rows of X_j in term tk
                    tmm[k, j] += np.sum(X[k][:, self._local(g, tj), :]
                                        * np.swapaxes(X[j][:, self._local(g, tk), :], 1, 2))
        Uf = [U.T @ fk for fk in f]
        V = [U.T @ du for du in DU]
        hess_a = np.empty((K, K))
        hess_r2 = np.empty((K, K))
        for k in range(K):
            tk, pk = index[k]
            for j in range(k + 1):
                tj, pj = index[j]
                tww = tmm[k, j]
                if reml:
                    tww += -2.0 * np.sum(DU[j] * MDU[k]) + np.sum(V[k] * V[j].T)
                Ekj = _second(self.terms[tk].q, pk, pj) if tk == tj else None
                second_a = 0.0 if Ekj is None else np.sum(wsum[tk] * Ekj)
                second_r = 0.0 if Ekj is None else np.sum(esum[tk] * Ekj)
                hess_a[k, j] = hess_a[j, k] = second_a - tww
                fnf = f[k] @ Mf[j] - Uf[k] @ Uf[j]
                hess_r2[k, j] = hess_r2[j, k] = 2.0 * fnf - second_r
        dcov = np.stack([C @ Fk @ C for Fk in F], axis=2) if covariance else None
        return DerivativeParts(grad_a, hess_a, grad_r2, hess_r2, dcov, C, self.r2, dof)

"""Kenward-Roger: pbkrtest's adjusted ``Var(beta)`` and denominator df, with exact derivatives.

pbkrtest parametrises the marginal covariance linearly (``pbkrtest:::.get_SigmaG``)::

    Sigma = sum_k s_k G_k + s_res I,

one ``s_k`` per unique element of each random block's covariance matrix (``G_k = Z E_k Z'``
with ``E_k`` the symmetric unit matrix of that element) and the residual variance. So
``dSigma/ds_k = G_k`` exactly and every second derivative vanishes (Kenward & Roger 1997's
``R_ij = 0``). With ``P_k = -X'S^-1 G_k S^-1 X``, ``Q_kl = X'S^-1 G_k S^-1 G_l S^-1 X`` and the
expected REML information ``I_kl = tr(S^-1 G_k S^-1 G_l) - 2 tr(Phi Q_kl) + tr(Phi P_k Phi P_l)``
(times 2), ``W = 2 I^-1`` and::

    Phi_A = Phi + 2 Phi [sum_kl W_kl (Q_kl - P_k Phi P_l)] Phi,

``Phi = (X'S^-1 X)^-1``. The df of a contrast ``L`` follow ``pbkrtest::Lb_ddf`` /
``.KR_adjust``.

With one grouping factor ``Sigma`` is block diagonal per subject and every trace and product
above reduces, through ``S_i^-1 = (I - Z_i K_i Z_i') / sigma^2`` with
``K_i = D~ (I + Z_i'Z_i D~)^-1`` (``D~ = D / sigma^2``), to q x q and q x p per-subject
statistics, vectorised over subjects: no n x n matrix is formed. Several random terms use a
dense fallback.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

from alsstats.lme.structure import Block, ModelStructure

__all__ = ["KenwardRogerParts", "kenward_roger_parts"]


@dataclass(frozen=True)
class KenwardRogerParts:
    """pbkrtest's ``vcovAdj`` with its attributes ``P`` and ``W``.

    Attributes
    ----------
    phi : ndarray (p, p)
        Unadjusted ``Var(beta)``.
    phi_adj : ndarray (p, p)
        Kenward-Roger adjusted ``Var(beta)``.
    P : ndarray (g, p, p)
        ``-X'S^-1 G_k S^-1 X`` for each of the ``g`` covariance parameters.
    W : ndarray (g, g)
        Twice the inverse expected information of the covariance parameters.
    """

    phi: np.ndarray
    phi_adj: np.ndarray
    P: np.ndarray
    W: np.ndarray

    def df(self, L: np.ndarray) -> float:
        """Kenward-Roger denominator df of ``L beta = 0`` (``pbkrtest::Lb_ddf``)."""
        return self.f_parts(L)[0]

    def f_parts(self, L: np.ndarray) -> tuple[float, float, int]:
        """``(ddf, F scaling, rank)`` of ``L beta = 0`` as ``pbkrtest:::.KR_adjust``."""
        L = np.atleast_2d(np.asarray(L, dtype=float))
        q = int(np.linalg.matrix_rank(L))
        phi = self.phi
        theta = L.T @ np.linalg.solve(L @ phi @ L.T, L)
        # u_k = Theta Phi P_k Phi
        u = np.einsum("ab,kbc->kac", theta @ phi, self.P @ phi)
        tr = np.einsum("kaa->k", u)
        a1 = float(tr @ self.W @ tr)
        uu = np.einsum("kab,lba->kl", u, u)
        a2 = float(np.sum(self.W * uu))
        b = (a1 + 6.0 * a2) / (2.0 * q)
        g = ((q + 1) * a1 - (q + 4) * a2) / ((q + 2) * a2)
        den = 3 * q + 2 * (1 - g)
        c1, c2, c3 = g / den, (q - g) / den, (q + 2 - g) / den
        v0 = 1 + c1 * b
        v1 = 1 - c2 * b
        v2 = 1 - c3 * b
        v0 = 0.0 if abs(v0) < 1e-10 else v0
        x = 1 - a2 / q
        ratio = 1.0 if abs(x) < 1e-14 and abs(v1) < 1e-14 else x / v1
        rho = ratio**2 * v0 / v2 / q
        ddf = 4 + (q + 2) / (q * rho - 1)
        scaling = 1.0 if abs(ddf - 2) < 1e-2 else ddf * (1 - a2 / q) / (ddf - 2)
        return float(ddf), float(scaling), q

    def df_rows(self, L: np.ndarray) -> np.ndarray:
        """KR df of each row of ``L`` separately (one-dimensional contrasts, vectorised)."""
        L = np.atleast_2d(np.asarray(L, dtype=float))
        v = np.einsum("ia,ab,ib->i", L, self.phi, L)
        lp = L @ self.phi
        g = np.einsum("ia,kab,ib->ik", lp, self.P, lp) / v[:, None]
        a = np.einsum("ik,kl,il->i", g, self.W, g)  # A1 = A2 for one row
        b = 3.5 * a
        gg = (2 * a - 5 * a) / (3 * a)
        den = 3 + 2 * (1 - gg)
        c1, c2, c3 = gg / den, (1 - gg) / den, (3 - gg) / den
        v0 = 1 + c1 * b
        v0 = np.where(np.abs(v0) < 1e-10, 0.0, v0)
        v1 = 1 - c2 * b
        v2 = 1 - c3 * b
        x = 1 - a
        ratio = np.where((np.abs(x) < 1e-14) & (np.abs(v1) < 1e-14), 1.0, x / v1)
        rho = ratio**2 * v0 / v2
        return 4 + 3 / (rho - 1)


def kenward_roger_parts(st: ModelStructure) -> KenwardRogerParts:
    """pbkrtest's ``vcovAdj`` of a REML fit (see the module notes)."""
    merged = _merge_same_factor(st.blocks)
    if merged is not None:
        P, Q, K, phi = _one_factor(st.X, st.sigma2, *merged)
    else:
        if st.n > _DENSE_MAX:
            raise ValueError(f"Kenward-Roger with crossed random effects is computed with dense "
                             f"n x n matrices; {st.n} observations is more than {_DENSE_MAX}")
        P, Q, K, phi = _dense(st.X, st.sigma2, st.blocks)
    phiP = phi @ P  # (g, p, p)
    info = (K - 2.0 * np.einsum("ab,klab->kl", phi, Q)
            + np.einsum("kab,lba->kl", phiP, phiP))
    info = 0.5 * (info + info.T)
    evals = np.linalg.eigvalsh(info)
    W = 2.0 * (np.linalg.inv(info) if np.min(np.abs(evals)) > 1e-10 else np.linalg.pinv(info))
    W = 0.5 * (W + W.T)
    PphiP = np.einsum("kab,bc,lcd->klad", P, phi, P)
    U = np.einsum("kl,klab->ab", W, Q - PphiP)
    phi_adj = phi + 2.0 * phi @ U @ phi
    phi_adj = 0.5 * (phi_adj + phi_adj.T)
    return KenwardRogerParts(phi=phi, phi_adj=phi_adj, P=P, W=W)


_DENSE_MAX = 8000  # observations: the dense path holds a few n x n matrices per parameter


def _merge_same_factor(blocks: list[Block]) -> tuple[Block, list] | None:
    """Blocks of one grouping factor (``(1 | s) + (0 + x | s)``) as one block with a
    block-diagonal covariance, and the parameters' unit-matrix entries; None for crossed or
    nested factors."""
    first = blocks[0]
    if any(b.n_levels != first.n_levels or not np.array_equal(b.codes, first.codes)
           for b in blocks[1:]):
        return None
    if len(blocks) == 1:
        return first, _pairs(first.Z.shape[1])
    q = sum(b.Z.shape[1] for b in blocks)
    cov = np.zeros((q, q))
    pairs, start = [], 0
    for b in blocks:
        k = b.Z.shape[1]
        cov[start:start + k, start:start + k] = b.cov
        pairs += [[(r + start, c + start) for r, c in e] for e in _pairs(k)]
        start += k
    merged = Block(grp=first.grp, codes=first.codes, n_levels=first.n_levels,
                   Z=np.column_stack([b.Z for b in blocks]), cov=cov,
                   z_names=[z for b in blocks for z in b.z_names])
    return merged, pairs


def _pairs(q: int) -> list[list[tuple[int, int]]]:
    """The (row, col) entries of each symmetric unit matrix ``E_k`` (lower triangle, column-wise,
    as ``VarCorr``'s ``lower.tri``)."""
    out = []
    for c in range(q):
        for r in range(c, q):
            out.append([(r, c)] if r == c else [(r, c), (c, r)])
    return out


def _one_factor(X: np.ndarray, sigma2: float, block: Block, pairs: list | None = None):
    """P, Q, the trace matrix and Phi for one grouping factor, from per-subject statistics;
    ``pairs`` lists each covariance parameter's unit-matrix entries (default: every element
    of the lower triangle)."""
    n, p = X.shape
    Z = block.Z
    q = Z.shape[1]
    m = block.n_levels
    ind = sparse.csr_matrix((np.ones(n), (block.codes, np.arange(n))), shape=(m, n))
    S = np.asarray(ind @ (Z[:, :, None] * Z[:, None, :]).reshape(n, q * q)).reshape(m, q, q)
    ZX = np.asarray(ind @ (Z[:, :, None] * X[:, None, :]).reshape(n, q * p)).reshape(m, q, p)
    XX = X.T @ X
    Dt = block.cov / sigma2
    eye = np.eye(q)
    # K_i = Dt (I + S_i Dt)^-1  (symmetric; fine when Dt is singular)
    K = np.linalg.solve(np.swapaxes(eye + S @ Dt, 1, 2), np.broadcast_to(Dt, (m, q, q)))
    K = 0.5 * (K + np.swapaxes(K, 1, 2))
    KS = K @ S
    Mt = eye - np.swapaxes(KS, 1, 2)  # I - S K
    s2, s4 = sigma2, sigma2 * sigma2
    B = Mt @ ZX / s2  # Z'S^-1X
    A = Mt @ S / s2  # Z'S^-1Z
    B2 = Mt @ B / s2  # Z'S^-2X
    A2 = Mt @ A / s2  # Z'S^-2Z
    KZX = K @ ZX
    SKZX = S @ KZX
    flat_zx = ZX.reshape(-1, p)
    flat_kzx = KZX.reshape(-1, p)
    flat_skzx = SKZX.reshape(-1, p)
    t1 = flat_zx.T @ flat_kzx  # X'Z K Z'X
    t2 = flat_kzx.T @ flat_skzx  # X'Z K S K Z'X
    t3 = flat_skzx.T @ (K @ SKZX).reshape(-1, p)  # X'Z K S K S K Z'X
    XWX = (XX - t1) / s2
    XW2X = (XX - 2 * t1 + t2) / s4
    XW3X = (XX - 3 * t1 + 3 * t2 - t3) / (s4 * s2)
    trW2 = (n - 2 * np.einsum("mii->", KS) + np.sum(KS * np.swapaxes(KS, 1, 2))) / s4
    phi = np.linalg.inv(XWX)
    phi = 0.5 * (phi + phi.T)
    pairs = _pairs(q) if pairs is None else pairs
    g = len(pairs) + 1

    def cross(left: np.ndarray, right: np.ndarray) -> np.ndarray:
        """sum_i left_ia' right_ib as (a, b, p, p)."""
        return (left.reshape(m, q * p).T @ right.reshape(m, q * p)).reshape(
            q, p, q, p).transpose(0, 2, 1, 3)

    BB = cross(B, B)  # sum_i B_a' B_b
    BB2 = cross(B, B2)  # sum_i B_a' B2_b
    BAB = np.empty((q, q, q, q, p, p))  # sum_i B_a' A_bc B_d
    for b in range(q):
        for c in range(q):
            BAB[:, b, c] = cross(B * A[:, b, c, None, None], B)
    Am = A.reshape(m, q * q)
    AA = (Am.T @ Am).reshape(q, q, q, q)  # sum_i A_bc A_da as [b, c, d, a]
    A2sum = A2.sum(axis=0)
    P = np.empty((g, p, p))
    Q = np.empty((g, g, p, p))
    Kt = np.empty((g, g))
    for k, ek in enumerate(pairs):
        P[k] = -sum(BB[a, b] for a, b in ek)
        for l_, el in enumerate(pairs):
            Q[k, l_] = sum(BAB[a, b, c, d] for a, b in ek for c, d in el)
            Kt[k, l_] = sum(AA[b, c, d, a] for a, b in ek for c, d in el)
        Q[k, -1] = sum(BB2[a, b] for a, b in ek)
        Q[-1, k] = Q[k, -1].T
        Kt[k, -1] = Kt[-1, k] = sum(A2sum[b, a] for a, b in ek)
    P[-1] = -XW2X
    Q[-1, -1] = XW3X
    Kt[-1, -1] = trW2
    return P, Q, Kt, phi


def _dense(X: np.ndarray, sigma2: float, blocks: list[Block]):
    """The same with dense n x n matrices (several random terms; small data)."""
    n, p = X.shape
    G = []
    for b in blocks:
        q = b.Z.shape[1]
        same = b.codes[:, None] == b.codes[None, :]
        for ek in _pairs(q):
            E = np.zeros((q, q))
            for r, c in ek:
                E[r, c] = 1.0
            G.append(same * (b.Z @ E @ b.Z.T))
    s = [b.cov[r, c] for b in blocks for r, c in (e[0] for e in _pairs(b.Z.shape[1]))]
    G.append(np.eye(n))
    Sigma = sum(sk * Gk for sk, Gk in zip(s, G[:-1], strict=True)) + sigma2 * G[-1]
    Sinv = np.linalg.inv(Sigma)
    TT = Sinv @ X
    H = [Gk @ Sinv for Gk in G]
    HX = [h @ X for h in H]
    g = len(G)
    P = np.array([-(o.T @ TT) for o in HX])
    P = 0.5 * (P + np.swapaxes(P, 1, 2))
    Q = np.array([[HX[k].T @ Sinv @ HX[l_] for l_ in range(g)] for k in range(g)])
    Kt = np.array([[np.sum(H[k].T * H[l_]) for l_ in range(g)] for k in range(g)])
    phi = np.linalg.inv(X.T @ TT)
    return P, Q, Kt, 0.5 * (phi + phi.T)


def kenward_roger(result) -> KenwardRogerParts:
    """The Kenward-Roger parts of a fit (computed once per fit)."""
    from alsstats.lme.structure import _cached, model_structure

    st = model_structure(result)
    if not st.reml:
        raise ValueError("Kenward-Roger needs a REML fit (as lmerTest/pbkrtest); refit with "
                         "reml=True")
    return _cached(result, "kenward_roger", lambda: kenward_roger_parts(st))


def kenward_roger_coefficients(result):
    """The coefficient table as ``summary(m, ddf = "Kenward-Roger")``: adjusted standard
    errors, KR df, t-tests and Wald CIs on those df."""
    from alsstats.lme.result import coefficient_table
    from alsstats.lme.structure import model_structure

    st = model_structure(result)
    kr = kenward_roger(result)
    eye = np.eye(st.p)
    return coefficient_table(st.names, st.beta, kr.phi_adj, kr.df_rows(eye), result.ci_level)

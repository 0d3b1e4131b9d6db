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
the other factors are small. When the other terms are large (crossed subjects x items, nested
sessions within subjects) the problem can instead use lme4's own sparse formulation
(:class:`SparseFactor`): ``A`` over all terms factored by SuperLU (scipy) without pivoting, in a
fill-reducing order computed once, so each evaluation is one numeric factorisation; the choice is
made per problem from the estimated multiply-adds of both (``factorisation="auto"``). Exact
derivatives use the same structure: :class:`alsstats.lme.derivatives.NestedStats` for the dense
path; for the sparse one ``Z'V0^{-1}Z`` per connected component of ``Z'Z``
(:class:`alsstats.lme.derivatives.FullStats`: batched dense algebra on small components, solves
with the sparse factor on large ones, or the dense path's statistics when one large component
fills in, whichever is estimated cheaper).

Notes
-----
scikit-sparse (CHOLMOD, lme4's factorisation) is not used: it has no wheels that build on a
plain ``pip install``. SuperLU's LU without pivoting is an LDL' factorisation of the symmetric
positive definite ``A`` (log-determinant from ``U``'s diagonal) at about twice a Cholesky's cost,
and scipy does not expose its symbolic analysis, so only the ordering is reused across
evaluations. The exact Hessian needs ``Z'V0^{-1}Z`` on every connected component: for one large
crossed component that is a dense ``Q x Q`` array (memory O(Q^2)).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import linalg, sparse
from scipy.sparse import csgraph
from scipy.sparse import linalg as sparse_linalg

from alsstats.lme.derivatives import ComponentGroup, FullStats, NestedStats, TermLayout
from alsstats.lme.engine import Evaluation, LmeProblem, ProfiledProblem, theta_layout

__all__ = ["GeneralProblem", "SparseFactor", "TermData"]



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

    #: the factorisation used when none is given: "auto" (by the estimated cost), "dense"
    #: or "sparse"
    default_factorisation = "auto"

    def __init__(self, X: np.ndarray, y: np.ndarray, terms: list[TermData],
                 factorisation: str | None = None):
        X = np.asarray(X, dtype=float)
        y = np.asarray(y, dtype=float)
        if factorisation is None:
            factorisation = self.default_factorisation
        if factorisation not in ("auto", "dense", "sparse"):
            raise ValueError(f"factorisation must be 'auto', 'dense' or 'sparse', not "
                             f"{factorisation!r}")
        self.n, self.p = X.shape
        self.qs = [t.Z.shape[1] for t in terms]
        self.ms = [t.n_levels for t in terms]
        sizes = [q * m for q, m in zip(self.qs, self.ms, strict=True)]
        self.Q2 = int(sum(sizes[1:]))
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
        self.offsets = [int(v) for v in np.concatenate([[0], np.cumsum(sizes)[:-1]])]
        self.offsets2 = [o - sizes[0] for o in self.offsets[1:]]
        self.sparse = None
        self._terms, self._X, self._y = terms, X, y
        self._twin = None
        if factorisation == "sparse" or (factorisation == "auto"
                                         and self.Q2 >= _SPARSE_MIN_Q2):
            candidate = SparseFactor(X, y, terms, self)
            if factorisation == "sparse" or candidate.cheaper_than_dense(self):
                candidate.prepare(self.n_theta)
                self.sparse = candidate
        if self.sparse is None:
            self._init_dense(X, y, terms)

    @property
    def factorisation(self) -> str:
        """``"sparse"`` (lme4's sparse Cholesky of ``A``, :class:`SparseFactor`) or ``"dense"``
        (block elimination of the first term, dense ``Q2 x Q2`` factor)."""
        return "dense" if self.sparse is None else "sparse"

    def _init_dense(self, X: np.ndarray, y: np.ndarray, terms: list[TermData]) -> None:
        sizes = [q * m for q, m in zip(self.qs, self.ms, strict=True)]
        z2 = np.zeros((self.n, self.Q2))
        start = 0
        for t in range(1, len(terms)):
            term, q = terms[t], self.qs[t]
            cols = start + np.asarray(term.codes) * q
            for j in range(q):
                z2[np.arange(self.n), cols + j] = term.Z[:, j]
            start += sizes[t]
        first = terms[0]
        self.first = LmeProblem(np.column_stack([z2, X]), y, first.Z, first.codes, first.n_levels)
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
        y = np.asarray(y, dtype=float)
        new._y, new._twin = y, None
        if self.sparse is None:
            new.first = self.first.with_response(y)
        else:
            new.sparse = self.sparse.with_response(y)
        return new

    # ------------------------------------------------------------------ parameters
    def moment_start(self) -> np.ndarray | None:
        """A start for Newton: the first term's moment estimate with the other terms' columns
        as fixed effects (:meth:`LmeProblem.moment_start`), the other terms at lme4's start.
        With the sparse factorisation the first term's estimate ignores the other terms."""
        first = (self.first if self.sparse is None else self.sparse.first).moment_start()
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
        if self.sparse is not None:
            return self.sparse.factor(theta)
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
        ld += 2.0 * float(np.sum(np.log(np.diagonal(c2))))
        return low, ld, (k, S, c2, lam2)

    def random_effects(self, ev: Evaluation) -> list[np.ndarray]:
        """Conditional modes ``b = Lambda u`` per term, each (n_levels, q): the other terms'
        from ``A2 u2 = Lambda2' Z2'V1^{-1}(y - X beta)``, then the first term's given them."""
        if self.sparse is not None:
            b = self.sparse.random_effects(ev)
            return [b[o:o + q * m].reshape(m, q)
                    for o, q, m in zip(self.offsets, self.qs, self.ms, strict=True)]
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
    def derivative_stats(self, ev: Evaluation) -> NestedStats | FullStats:
        """``Z'V0^{-1}Z``, ``Z'V0^{-1}X``, ``Z'V0^{-1}(y - X beta)`` in the block-diagonal-
        minus-low-rank form of :class:`~alsstats.lme.derivatives.NestedStats` (dense
        factorisation) or as dense arrays (:class:`~alsstats.lme.derivatives.FullStats`,
        sparse factorisation)."""
        lams = self.lam_blocks(ev.theta)
        if self.sparse is not None and self.sparse.derivatives_by_block_elimination(self):
            # one large component with dense fill (crossed factors): the dense path's
            # block-diagonal-minus-low-rank statistics are cheaper than solves for Z'V0^{-1}Z
            if self._twin is None:
                self._twin = GeneralProblem(self._X, self._y, self._terms, factorisation="dense")
            twin_ev = self._twin.evaluate(ev.theta)
            if twin_ev is not None:
                return self._twin.derivative_stats(twin_ev)
        if self.sparse is not None:
            layouts = [TermLayout(offset=o, n_levels=m, q=q, theta_offset=int(to), lam=lam)
                       for o, m, q, to, lam in zip(self.offsets, self.ms, self.qs,
                                                   self.theta_offsets, lams, strict=False)]
            groups, B, e = self.sparse.derivative_arrays(ev)
            return FullStats(groups=groups, B=B, e=e, C=ev.cov_beta_unscaled(), r2=ev.r2, n=self.n,
                             terms=layouts)
        k, S, c2, lam2 = ev.kernel
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


_SPARSE_MIN_Q2 = 100  # below this many random effects in the other terms, dense always wins
# the cost model of the choice, in units of the dense path's multiply-adds (measured on
# crossed and nested designs, benchmarks/lme_sparse.py): SuperLU's multiply-adds cost ~10 of
# them, and an evaluation's fixed overhead (sparse bookkeeping, SuperLU's set-up) ~3e6
_SUPERLU_SLOWDOWN = 10.0
_SPARSE_OVERHEAD = 3e6
_COMPONENT_DENSE_MAX = 64  # components up to this size: batched dense algebra
_TWIN_MAX_ELEMENTS = 50_000_000  # the dense path's n x Q2 matrix (400 MB) at most
_COMPONENT_MAX_ELEMENTS = 200_000_000  # Z'V0^{-1}Z on large components (1.6 GB) at most


class SparseFactor:
    """lme4's sparse formulation of a :class:`GeneralProblem`: ``A = Lambda'Z'Z Lambda + I``
    (``Q x Q``, all terms) is factored by SuperLU without pivoting (``diag_pivot_thresh=0``:
    on a symmetric positive definite matrix an LDL' factorisation, ``log|A|`` from ``U``'s
    diagonal) in a fill-reducing order computed once (the smaller factor of SuperLU's
    minimum degree on ``A + A'`` and of the natural order, which is the block elimination of
    the first term, at lme4's start), so each evaluation is a numeric factorisation only.

    ``Z'Z``, ``Z'[X y]`` and ``[X y]'[X y]`` are computed once, in the permuted order.
    """

    def __init__(self, X: np.ndarray, y: np.ndarray, terms: list[TermData],
                 problem: GeneralProblem):
        n, p = X.shape
        blocks = []
        for term, q in zip(terms, problem.qs, strict=True):
            codes = np.asarray(term.codes)
            cols = (codes[:, None] * q + np.arange(q)[None, :]).ravel()
            blocks.append(sparse.csc_matrix(
                (np.asarray(term.Z, dtype=float).ravel(), (np.repeat(np.arange(n), q), cols)),
                shape=(n, q * term.n_levels)))
        Z = sparse.hstack(blocks, format="csc")
        self.Q = Z.shape[1]
        # Lambda's pattern: theta entry k at (row, col) of every level's block of its term
        lr, lc, lk = [], [], []
        for t, (q, m) in enumerate(zip(problem.qs, problem.ms, strict=True)):
            base = problem.offsets[t] + np.arange(m) * q
            for k in range(problem.theta_offsets[t], problem.theta_offsets[t + 1]):
                lr.append(base + problem.rows[k])
                lc.append(base + problem.cols[k])
                lk.append(np.full(m, k))
        self._lam_rows, self._lam_cols = np.concatenate(lr), np.concatenate(lc)
        self._lam_theta = np.concatenate(lk)
        ztz = (Z.T @ Z).tocsc()
        self._components(ztz, problem)
        W = np.column_stack([X, y])
        ztw = np.asarray(Z.T @ W)
        self.perm = self._ordering(ztz, problem.theta_start())
        iperm = np.empty_like(self.perm)
        iperm[self.perm] = np.arange(self.Q)
        self.iperm = iperm
        self.Z = Z[:, self.perm].tocsc()
        self.ztz = ztz[self.perm][:, self.perm].tocsc()
        self.ztz.sort_indices()
        self.ztw = ztw[self.perm]
        self.wtw = W.T @ W
        self._x = X
        self._prow, self._pcol = iperm[self._lam_rows], iperm[self._lam_cols]
        self.p = p
        first = terms[0]
        self.first = LmeProblem(X, y, first.Z, first.codes, first.n_levels)

    def prepare(self, K: int) -> None:
        """``A(theta) = Lambda'Z'Z Lambda + I`` is quadratic in ``theta`` on a fixed pattern:
        its entries are ``sum_{k <= l} theta_k theta_l T_kl`` (``T`` from unit ``theta``s, by
        polarisation), so an evaluation is one small product instead of two sparse ones;
        ``Lambda'Z'[X y] = sum_k theta_k R_k`` likewise."""
        one = self._lam(np.ones(K))
        pattern = (abs(one.T) @ abs(self.ztz) @ abs(one)
                   + sparse.identity(self.Q, format="csc")).tocsc()
        pattern.sort_indices()
        rows = pattern.indices
        cols = np.repeat(np.arange(self.Q), np.diff(pattern.indptr))

        def values(theta):
            lam = self._lam(theta)
            return np.asarray((lam.T @ self.ztz @ lam).tocsr()[rows, cols]).ravel()

        units = np.eye(K)
        single = [values(units[k]) for k in range(K)]
        pairs, columns = [], []
        for k in range(K):
            for j in range(k, K):
                pairs.append((k, j))
                columns.append(single[k] if j == k
                               else values(units[k] + units[j]) - single[k] - single[j])
        self._pairs = np.array(pairs)
        self._quad = np.column_stack(columns)
        self._pattern = pattern
        self._diag = rows == cols
        self._lam_units = [self._lam(units[k]).T.tocsr() for k in range(K)]
        self._rhs_units = np.stack([lt @ self.ztw for lt in self._lam_units])

    def _components(self, ztz: sparse.csc_matrix, problem: GeneralProblem) -> None:
        """Connected components of ``Z'Z`` plus ``Lambda``'s pattern (so each level's block
        lies in one component), grouped by layout (levels per term): ``M = Z'V0^{-1}Z`` is
        block diagonal over them."""
        lam = self._lam(np.ones(problem.n_theta), np.arange(self.Q))
        graph = (abs(ztz) + abs(lam) + abs(lam.T)).tocsr()
        n_comp, label = csgraph.connected_components(graph, directed=False)
        order = np.lexsort((np.arange(self.Q), label))  # by component, columns ascending
        sizes = np.bincount(label, minlength=n_comp)
        bounds = np.concatenate([[0], np.cumsum(sizes)])
        term_of = np.repeat(np.arange(len(problem.qs)),
                            [q * m for q, m in zip(problem.qs, problem.ms, strict=True)])
        # levels of each term in each component (columns / q)
        counts = np.zeros((n_comp, len(problem.qs)), dtype=int)
        np.add.at(counts, (label, term_of), 1)
        counts //= np.asarray(problem.qs)[None, :]
        keys: dict[tuple[int, ...], list[int]] = {}
        for comp, row in enumerate(map(tuple, counts)):
            keys.setdefault(row, []).append(comp)
        self.groups = []
        for key, comps in keys.items():
            index = np.stack([order[bounds[c]:bounds[c + 1]] for c in comps])
            starts = tuple(int(v) for v in np.concatenate(
                [[0], np.cumsum(np.asarray(key) * np.asarray(problem.qs))[:-1]]))
            self.groups.append((index, starts, key))
        csr = ztz.tocsr()
        self._group_ztz = []  # Z'Z on the components of each small-component group
        for index, _, _ in self.groups:
            c, s = index.shape
            if s > _COMPONENT_DENSE_MAX:
                self._group_ztz.append(None)
                continue
            rows = np.broadcast_to(index[:, :, None], (c, s, s)).ravel()
            cols = np.broadcast_to(index[:, None, :], (c, s, s)).ravel()
            self._group_ztz.append(np.asarray(csr[rows, cols]).reshape(c, s, s))

    def _group_blocks(self, ev: Evaluation) -> list[ComponentGroup]:
        """``M = Z'V0^{-1}Z`` on each component: small components by batched dense algebra
        (``Z'Z - Z'Z Lambda A_c^{-1} Lambda' Z'Z`` per component), large ones by solves with
        the sparse factor."""
        lam_p, lu, _, _ = ev.kernel
        lam = self._lam(ev.theta, np.arange(self.Q)).tocsr()
        out = []
        for (index, starts, counts), ztz in zip(self.groups, self._group_ztz, strict=True):
            c, s = index.shape
            if ztz is not None:
                # Lambda is the same on every component of a group (same layout)
                lc = lam[index[0]][:, index[0]].toarray()
                g = ztz @ lc
                a = np.swapaxes(g, 1, 2) @ lc
                a += np.eye(s)
                M = ztz - g @ np.linalg.solve(a, np.swapaxes(g, 1, 2))
            else:
                if c * s * s > _COMPONENT_MAX_ELEMENTS:
                    raise MemoryError(
                        f"fit_lme: the exact derivatives need Z'V^-1 Z on a connected component "
                        f"of {s:,} random effects ({8e-9 * c * s * s:.1f} GB dense); the "
                        "crossed random-effect terms are too large for this engine")
                M = np.empty((c, s, s))
                G = (self.ztz @ lam_p).tocsc()
                for j in range(c):
                    rows = self.iperm[index[j]]
                    sol = lu.solve(G.T[:, rows].toarray())
                    block = self.ztz[rows][:, rows].toarray() - (G[rows] @ sol)
                    M[j] = 0.5 * (block + block.T)
            out.append(ComponentGroup(index=index, M=M, starts=starts, counts=counts))
        return out

    # ------------------------------------------------------------------ order and choice
    def _lam(self, theta: np.ndarray, perm: np.ndarray | None = None) -> sparse.csc_matrix:
        rows, cols = ((self._prow, self._pcol) if perm is None
                      else (perm[self._lam_rows], perm[self._lam_cols]))
        return sparse.csc_matrix((theta[self._lam_theta], (rows, cols)), shape=(self.Q, self.Q))

    def _ordering(self, ztz: sparse.csc_matrix, theta: np.ndarray) -> np.ndarray:
        """The fill-reducing order: the smaller factor of minimum degree on ``A + A'`` and the
        natural (block-elimination) order, at lme4's start; ``self.nnz_factor`` its size and
        ``self.flops`` the multiplications of one factorisation (sum of squared column
        counts of ``L``)."""
        ident = np.arange(self.Q)
        lam = self._lam(theta, ident)
        a = (lam.T @ ztz @ lam + sparse.identity(self.Q, format="csc")).tocsc()
        best = None
        for spec in ("MMD_AT_PLUS_A", "NATURAL"):
            lu = sparse_linalg.splu(a, permc_spec=spec, diag_pivot_thresh=0.0,
                                    options={"SymmetricMode": True})
            low = lu.L.tocsc()
            counts = np.diff(low.indptr).astype(float)
            flops = float(np.sum(counts * counts))
            if best is None or flops < best[0]:
                best = (flops, low.nnz, np.argsort(lu.perm_c))
        self.flops, self.nnz_factor = best[0], best[1]
        return best[2]

    def cheaper_than_dense(self, problem: GeneralProblem) -> bool:
        """Whether one sparse evaluation is estimated cheaper than one of the dense block
        elimination (``Q2^3 / 3`` for the Schur complement's Cholesky plus
        ``m1 q1 (Q2 + p + 1)^2`` to form it): SuperLU's multiply-adds (the sum of squared
        column counts of ``L``) counted ``_SUPERLU_SLOWDOWN`` times, plus
        ``_SPARSE_OVERHEAD``."""
        if problem.Q2 < _SPARSE_MIN_Q2:
            return False
        q2 = float(problem.Q2)
        dense = q2 ** 3 / 3.0 + problem.ms[0] * problem.qs[0] * (q2 + problem.p + 1) ** 2
        return _SUPERLU_SLOWDOWN * self.flops + _SPARSE_OVERHEAD < dense

    def derivatives_by_block_elimination(self, problem: GeneralProblem) -> bool:
        """Whether the dense path's derivative statistics (a dense evaluation plus
        :class:`~alsstats.lme.derivatives.NestedStats`, ~``9 x`` the dense evaluation's
        multiply-adds, measured) are estimated cheaper than ``Z'V0^{-1}Z`` on the large
        components by sparse solves (``2 s nnz(L)`` SuperLU multiply-adds per component of
        size ``s``, ~20 dense ones each with many right-hand sides) plus the traces
        (~``10 s^2 K^2``); never when the dense path's ``n x Q2`` matrix would pass
        ``_TWIN_MAX_ELEMENTS``."""
        big = [index.shape for index, _, _ in self.groups
               if index.shape[1] > _COMPONENT_DENSE_MAX]
        if not big or problem.n * problem.Q2 > _TWIN_MAX_ELEMENTS:
            return False
        q2 = float(problem.Q2)
        dense = q2 ** 3 / 3.0 + problem.ms[0] * problem.qs[0] * (q2 + problem.p + 1) ** 2
        solves = sum(20.0 * 2.0 * c * s * self.nnz_factor
                     + 10.0 * c * s * s * problem.n_theta ** 2 for c, s in big)
        return 9.0 * dense < solves

    def with_response(self, y: np.ndarray) -> SparseFactor:
        new = object.__new__(SparseFactor)
        new.__dict__.update(self.__dict__)
        p = self.p
        new.ztw = self.ztw.copy()
        new.ztw[:, p] = self.Z.T @ y
        new._rhs_units = self._rhs_units.copy()
        for k, lt in enumerate(self._lam_units):
            new._rhs_units[k, :, p] = lt @ new.ztw[:, p]
        new.wtw = self.wtw.copy()
        new.wtw[:p, p] = new.wtw[p, :p] = self._x.T @ y
        new.wtw[p, p] = y @ y
        new.first = self.first.with_response(y)
        return new

    # ------------------------------------------------------------------ evaluation
    def factor(self, theta: np.ndarray):
        """``(L, log|A|, kernel)`` as :meth:`GeneralProblem._factor`, or None."""
        lam = self._lam(theta)
        a = self._pattern.copy()
        a.data = self._quad @ (theta[self._pairs[:, 0]] * theta[self._pairs[:, 1]])
        a.data[self._diag] += 1.0
        try:
            lu = sparse_linalg.splu(a, permc_spec="NATURAL", diag_pivot_thresh=0.0,
                                    options={"SymmetricMode": True})
        except RuntimeError:  # exactly singular (not for a positive definite A)
            return None
        u = lu.U.diagonal()
        if not np.all(u > 0):
            return None
        rhs = np.tensordot(theta, self._rhs_units, axes=1)  # Lambda' Z'[X y]
        sol = lu.solve(rhs)
        S = self.wtw - rhs.T @ sol
        try:
            low = np.linalg.cholesky(S)
        except np.linalg.LinAlgError:
            return None
        return low, float(np.sum(np.log(u))), (lam, lu, rhs, sol)

    def random_effects(self, ev: Evaluation) -> np.ndarray:
        """``b = Lambda A^{-1} Lambda' Z'(y - X beta)`` in ``Z``'s column order."""
        lam, lu, rhs, sol = ev.kernel
        w = np.append(-ev.beta, 1.0)
        return (lam @ (sol @ w))[self.iperm]

    def derivative_arrays(self, ev: Evaluation
                          ) -> tuple[list[ComponentGroup], np.ndarray, np.ndarray]:
        """``M = Z'V0^{-1}Z`` per component (:meth:`_group_blocks`), ``B = Z'V0^{-1}X`` and
        ``e = Z'V0^{-1}(y - X beta)`` (in ``Z``'s column order), with
        ``V0^{-1} = I - Z Lambda A^{-1} Lambda' Z'``."""
        lam, lu, rhs, sol = ev.kernel
        BW = self.ztw - self.ztz @ (lam @ sol)
        w = np.append(-ev.beta, 1.0)
        ip = self.iperm
        return self._group_blocks(ev), BW[ip, :self.p], (BW @ w)[ip]

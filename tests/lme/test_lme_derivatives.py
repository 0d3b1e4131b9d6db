"""Exact derivatives of the deviance (alsstats.lme.derivatives) and Satterthwaite df against an
independent complex-step reference.

The reference is written apart from the engine: the marginal likelihood with per-subject
``V_i = sigma^2 (I + Z_i Lambda Lambda' Z_i')`` and GLS fixed effects, in complex arithmetic
(LU-based ``det`` and ``solve`` are analytic), so the first derivatives over ``(theta, sigma)``
by the complex step ``Im f(x + i h e_k) / h`` are exact to rounding; second derivatives take a
central difference of those exact first derivatives (Richardson-extrapolated).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alsstats.errors import SingularFitWarning
from alsstats.lme import fit_lme
from alsstats.lme.engine import LmeProblem, boundary_descent, theta_layout
from alsstats.lme.formula import build_model_frame

REF = Path(__file__).resolve().parents[1] / "reference"
CASES = {c["name"]: c for c in json.loads((REF / "lme_engine.json").read_text())["cases"]}


def frame_of(name):
    case = CASES[name]
    return case, build_model_frame(case["formula"], pd.read_csv(REF / case["data"]))


class MarginalReference:
    """-2 log-likelihood (ML) or REML criterion over ``(theta, sigma)`` from per-subject V_i."""

    def __init__(self, frame, reml):
        self.reml = reml
        self.q = frame.Z.shape[1]
        self.rows, self.cols, _ = theta_layout(self.q)
        self.p = frame.X.shape[1]
        self.n = frame.y.size
        by_size = {}
        for g in range(len(frame.groups)):
            idx = np.flatnonzero(frame.codes == g)
            by_size.setdefault(idx.size, []).append(idx)
        self.stacks = [(frame.X[np.array(ix)], frame.y[np.array(ix)], frame.Z[np.array(ix)])
                       for ix in by_size.values()]

    def _vinv(self, varpar):
        theta, sigma = varpar[:-1], varpar[-1]
        lam = np.zeros((self.q, self.q), dtype=complex)
        lam[self.rows, self.cols] = theta
        G = lam @ lam.T  # transpose, not conjugate: complex-analytic
        for X, y, Z in self.stacks:
            k = Z.shape[1]
            V = sigma * sigma * (np.eye(k) + Z @ G @ np.swapaxes(Z, 1, 2))
            yield X, y, V, np.linalg.solve(V, np.concatenate([X, y[:, :, None]], axis=2))

    def info(self, varpar):
        xvx = 0
        xvy = 0
        logdet = 0
        for X, _y, V, sol in self._vinv(varpar):
            xvx = xvx + np.einsum("mip,mir->pr", X, sol[:, :, :-1])
            xvy = xvy + np.einsum("mip,mi->p", X, sol[:, :, -1])
            logdet = logdet + np.sum(np.log(np.linalg.det(V)))
        return xvx, xvy, logdet

    def deviance(self, varpar):
        xvx, xvy, logdet = self.info(varpar)
        beta = np.linalg.solve(xvx, xvy)
        quad = 0
        for X, y, _V, sol in self._vinv(varpar):
            r_vinv = sol[:, :, -1] - np.einsum("mip,p->mi", sol[:, :, :-1], beta)
            quad = quad + np.sum((y - X @ beta) * r_vinv)
        dev = logdet + quad + self.n * np.log(2 * np.pi)
        if self.reml:
            dev = dev + np.log(np.linalg.det(xvx)) - self.p * np.log(2 * np.pi)
        return dev

    def cov_beta(self, varpar):
        return np.linalg.inv(self.info(varpar)[0])

    def cs_gradient(self, fun, x, h=1e-30):
        return np.stack([np.imag(fun(x + 1j * h * e)) / h for e in np.eye(x.size)], axis=-1)

    def hessian(self, x):
        def grad(v):
            return self.cs_gradient(self.deviance, v)

        rows = []
        for e in np.eye(x.size):
            d = 1e-4 * max(abs(x[e.astype(bool)][0]), 1e-2)
            ests = [(grad(x + s * e) - grad(x - s * e)) / (2 * s) for s in (d, d / 2, d / 4)]
            r1 = [(4 * ests[i + 1] - ests[i]) / 3 for i in range(2)]
            rows.append((16 * r1[1] - r1[0]) / 15)
        H = np.array(rows)
        return (H + H.T) / 2


def reference_df(frame, theta, sigma, reml):
    ref = MarginalReference(frame, reml)
    x = np.append(theta, sigma)
    H = ref.hessian(x)
    w, V = np.linalg.eigh(H)
    A = 2 * (V[:, w > 1e-8] / w[w > 1e-8]) @ V[:, w > 1e-8].T
    J = ref.cs_gradient(ref.cov_beta, x)  # (p, p, k)
    C = np.real(ref.cov_beta(x.astype(complex)))
    out = []
    for c in np.eye(C.shape[0]):
        g = np.einsum("i,ijk,j->k", c, J, c)
        out.append(2 * (c @ C @ c) ** 2 / (g @ A @ g))
    return np.array(out)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["calsnic_boundary_ml", "calsnic_boundary_reml",
                                  "sleep_quad_reml", "loblolly_ml"])
def test_satterthwaite_df_equal_complex_step_reference(name):
    case, frame = frame_of(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SingularFitWarning)
        fit = fit_lme(pd.read_csv(REF / case["data"]), case["formula"], reml=case["reml"])
    expected = reference_df(frame, fit.theta, np.sqrt(fit.residual_variance), case["reml"])
    np.testing.assert_allclose(fit.coefficients["df"].to_numpy(), expected, rtol=1e-6)


def test_profiled_gradient_and_hessian_match_differences():
    _, frame = frame_of("sleep_quad_reml")
    problem = LmeProblem(frame.X, frame.y, frame.Z, frame.codes, len(frame.groups))
    theta = np.array([1.2, -0.3, 0.03, 0.6, -0.05, 0.03])
    for reml in (True, False):
        parts = problem.derivatives(theta, reml)
        h = 1e-6
        fd = np.array([(problem.deviance(theta + h * e, reml) - problem.deviance(theta - h * e, reml))
                       / (2 * h) for e in np.eye(theta.size)])
        np.testing.assert_allclose(parts.profiled_gradient(), fd, rtol=1e-5, atol=1e-4)
        fd2 = np.array([(problem.gradient(theta + h * e, reml) - problem.gradient(theta - h * e, reml))
                        / (2 * h) for e in np.eye(theta.size)])
        np.testing.assert_allclose(parts.profiled_hessian(), fd2, rtol=1e-4, atol=1e-2)


def test_boundary_saddle_is_found_and_left():
    """Loblolly REML: at intercept scale 0 the deviance is the same for either sign of the
    entry below it, and only one sign has a descent direction (the saddle of issue 11)."""
    _, frame = frame_of("loblolly_reml")
    problem = LmeProblem(frame.X, frame.y, frame.Z, frame.codes, len(frame.groups))
    theta = np.array([0.0, -0.03, 0.001])
    f = problem.deviance(theta, True)
    flipped = theta * np.array([1.0, -1.0, 1.0])
    assert problem.deviance(flipped, True) == pytest.approx(f, rel=1e-13)
    grads = [problem.gradient(t, True)[0] for t in (theta, flipped)]
    assert min(grads) < 0 < max(grads)
    point = boundary_descent(problem, theta, f, True)
    assert point is not None and point[0] == 0.0
    assert problem.gradient(point, True)[0] < 0


class ComponentReference(MarginalReference):
    """The same marginal likelihood for several random-effect terms: ``V`` is block diagonal
    over the connected components of the grouping factors (here sites, which hold whole
    subjects), each block ``sigma^2 (I + sum_t Z_t G_t Z_t')`` built densely."""

    def __init__(self, X, y, blocks, component, reml):
        self.reml = reml
        self.p, self.n = X.shape[1], y.size
        self.blocks = blocks  # (Z, codes, n_levels) in lme4's order
        self.layouts = [theta_layout(b[0].shape[1]) for b in blocks]
        self.parts = []
        for comp in np.unique(component):
            rows = np.flatnonzero(component == comp)
            # Z_t G_t Z_t' = (z_a' G_t z_b) where rows a and b share the level, else 0
            zs = [(Z[rows], codes[rows][:, None] == codes[rows][None, :])
                  for Z, codes, _m in blocks]
            self.parts.append((X[rows], y[rows], zs))

    def _vinv(self, varpar):
        sigma = varpar[-1]
        start = 0
        gs = []
        for (Z, _codes, _m), (rows, cols, _) in zip(self.blocks, self.layouts, strict=True):
            q = Z.shape[1]
            k = rows.size
            lam = np.zeros((q, q), dtype=complex)
            lam[rows, cols] = varpar[start:start + k]
            start += k
            gs.append(lam @ lam.T)
        for X, y, zs in self.parts:
            V = np.eye(y.size) + sum((z @ g @ z.T) * same
                                     for (z, same), g in zip(zs, gs, strict=True))
            V = sigma * sigma * V
            sol = np.linalg.solve(V, np.column_stack([X, y]))
            yield X[None], y[None], V[None], sol[None]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["calsnic_sites_ml", "calsnic_sites_reml"])
def test_two_term_satterthwaite_df_equal_complex_step_reference(name):
    from alsstats.lme.fit import lme4_order

    case = CASES[name]
    data = pd.read_csv(REF / case["data"])
    fit = fit_lme(data, case["formula"], reml=case["reml"])
    blocks = fit.random_blocks
    assert [b.grp for b in blocks] == ["subject", "site"] and lme4_order(blocks) == [0, 1]
    frame = fit._frame
    ref = ComponentReference(frame.X, frame.y, [(b.Z, b.codes, len(b.levels)) for b in blocks],
                             blocks[1].codes, case["reml"])
    x = np.append(fit.theta, np.sqrt(fit.residual_variance))
    H = ref.hessian(x)
    w, V = np.linalg.eigh(H)
    A = 2 * (V[:, w > 1e-8] / w[w > 1e-8]) @ V[:, w > 1e-8].T
    J = ref.cs_gradient(ref.cov_beta, x)
    C = np.real(ref.cov_beta(x.astype(complex)))
    expected = []
    for c in np.eye(C.shape[0]):
        g = np.einsum("i,ijk,j->k", c, J, c)
        expected.append(2 * (c @ C @ c) ** 2 / (g @ A @ g))
    np.testing.assert_allclose(fit.coefficients["df"].to_numpy(), expected, rtol=1e-6)
    np.testing.assert_allclose(np.real(ref.deviance(x.astype(complex))),
                               fit.deviance, rtol=1e-11)


@pytest.mark.parametrize("name", ["calsnic_sites_reml", "calsnic_sites_ml", "pastes"])
def test_two_term_gradient_and_hessian_match_differences(name):
    case = CASES[name]
    fit = fit_lme(pd.read_csv(REF / case["data"]), case["formula"], reml=case["reml"])
    problem, reml = fit._problem, case["reml"]
    theta = fit.theta * 0.9 + 0.05
    parts = problem.derivatives(theta, reml)
    h = 1e-6
    eye = np.eye(theta.size)
    fd = np.array([(problem.deviance(theta + h * e, reml) - problem.deviance(theta - h * e, reml))
                   / (2 * h) for e in eye])
    np.testing.assert_allclose(parts.profiled_gradient(), fd, rtol=1e-5, atol=1e-4)
    fd2 = np.array([(problem.gradient(theta + h * e, reml) - problem.gradient(theta - h * e, reml))
                    / (2 * h) for e in eye])
    np.testing.assert_allclose(parts.profiled_hessian(), fd2, rtol=1e-4, atol=1e-3)

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

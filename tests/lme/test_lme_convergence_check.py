"""lme4's ``checkConv`` gradient rule: the smaller of the Hessian-scaled and the raw gradient."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from alsstats.lme.engine import GRAD_TOL, check_convergence


class _Derivatives:
    """Given gradient and Hessian of the profiled deviance (what the engine's parts return)."""

    hess_a = True

    def __init__(self, grad, hess):
        self._grad, self._hess = np.asarray(grad, float), np.asarray(hess, float)

    def profiled_gradient(self):
        return self._grad

    def profiled_hessian(self):
        return self._hess


def _messages(grad, hess):
    problem = SimpleNamespace(diag=np.array([True, False, True]))
    theta = np.array([1.0, 0.2, 0.5])
    return check_convergence(problem, theta, 100.0, True, _Derivatives(grad, hess))[0]


def test_flat_curvature_with_a_small_raw_gradient_is_not_a_failure():
    # scaled gradient 1e-3 / sqrt(1e-4) = 0.1 > tol, raw gradient 1e-3 < tol: lme4 passes it
    hess = np.diag([1e-4, 1.0, 1.0])
    assert _messages([1e-3, 0.0, 0.0], hess) == []


def test_a_gradient_large_on_both_scales_is_reported_with_its_component():
    hess = np.diag([1.0, 1.0, 4.0])
    messages = _messages([0.0, 0.0, 0.05], hess)
    assert len(messages) == 1
    assert "max|grad| = 0.025" in messages[0] and "component 3" in messages[0]
    assert f"tol = {GRAD_TOL}" in messages[0]


def test_scaled_gradient_is_lme4s_solve_of_the_upper_cholesky_factor():
    # lme4's checkConv: solve(chol(Hessian), gradient), chol() R's upper factor R (H = R'R).
    # With a correlated Hessian, R^{-1} g and the lower factor's L^{-1} g = R'^{-1} g differ:
    # here lme4's rule gives 0.0294 (component 1), the lower factor would give 0.05.
    hess = np.array([[1.0, 0.9, 0.0], [0.9, 1.0, 0.0], [0.0, 0.0, 1.0]])
    grad = np.array([0.05, 0.01, 0.0])
    upper = np.linalg.cholesky(hess).T
    expected = np.minimum(np.abs(np.linalg.solve(upper, grad)), np.abs(grad))
    assert not np.allclose(expected, np.minimum(np.abs(np.linalg.solve(upper.T, grad)),
                                                np.abs(grad)))
    messages = _messages(grad, hess)
    big = int(np.argmax(expected))
    assert expected[big] > GRAD_TOL
    assert len(messages) == 1
    assert f"max|grad| = {expected[big]:.6g}" in messages[0]
    assert f"component {big + 1}" in messages[0]

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

"""Maximum likelihood for the joint model: quasi-Newton on the analytic gradient, then Newton
steps on the observed information (central differences of the analytic gradient)."""

from __future__ import annotations

import warnings

import numpy as np
from scipy.optimize import minimize

from alsstats._stack import user_stacklevel
from alsstats.errors import ConvergenceWarning
from alsstats.joint.likelihood import JointProblem, chol_params

__all__ = ["observed_information", "start_values", "maximize"]


def start_values(problem: JointProblem, beta: np.ndarray, sigma: float, D: np.ndarray,
                 event_time: np.ndarray) -> np.ndarray:
    """The mixed model's estimates; an exponential baseline with the crude event rate, no
    covariate or association effect."""
    theta = np.zeros(problem.n_params)
    L = problem.layout
    theta[L["beta"]] = beta
    theta[L["log_sigma"]] = np.log(sigma)
    rate = np.log(problem.event.sum() / event_time.sum())
    if problem.baseline == "weibull":
        theta[L["gamma0"]] = rate
    else:
        theta[L["log_xi"]] = rate
    theta[L["D"]] = chol_params(D)
    return theta


def observed_information(problem: JointProblem, theta: np.ndarray,
                         gradient: np.ndarray | None = None) -> np.ndarray:
    """Minus the Hessian of the log-likelihood by differences of the exact gradient, symmetrised.

    Forward differences (step 1e-6 relative, as JM's ``fd.vec``) when ``gradient`` (the
    gradient at ``theta``) is given, else central differences (step 1e-5 relative).
    """
    k = len(theta)
    hess = np.empty((k, k))
    for j in range(k):
        h = (1e-6 if gradient is not None else 1e-5) * max(1.0, abs(theta[j]))
        e = np.zeros(k)
        e[j] = h
        gp = problem.loglik_and_gradient(theta + e)[1]
        if gradient is not None:
            hess[:, j] = (gp - gradient) / h
        else:
            hess[:, j] = (gp - problem.loglik_and_gradient(theta - e)[1]) / (2 * h)
    return -0.5 * (hess + hess.T)


def maximize(problem: JointProblem, theta0: np.ndarray, max_newton: int = 30,
             gtol: float = 1e-6) -> dict:
    """BFGS from ``theta0`` on the analytic score, then Newton steps (step halving) on the
    observed information until the largest gradient element is below ``gtol``.

    The information is recomputed after large steps and at the end when the estimate moved
    since it was computed. Returns ``theta, loglik, gradient, information, n_evaluations,
    converged, message, bfgs_iterations``.
    """
    n_eval = 0

    def objective(theta):
        nonlocal n_eval
        n_eval += 1
        ll, g = problem.loglik_and_gradient(theta)
        if not np.isfinite(ll):
            return np.inf, np.zeros_like(g)
        return -ll, -g

    res = minimize(objective, theta0, jac=True, method="BFGS",
                   options={"gtol": 1e-3, "maxiter": 5000})
    theta = res.x
    ll, grad = problem.loglik_and_gradient(theta)
    info = observed_information(problem, theta, grad)
    n_eval += len(theta) + 1
    info_at = theta.copy()
    converged = bool(np.max(np.abs(grad)) < gtol)
    for _ in range(max_newton):
        if converged:
            break
        try:
            step = np.linalg.solve(info, grad)
        except np.linalg.LinAlgError:
            break
        if not np.all(np.isfinite(step)) or grad @ step <= 0:  # information not positive here
            break
        for _half in range(40):
            ll_new, grad_new = problem.loglik_and_gradient(theta + step)
            n_eval += 1
            if np.isfinite(ll_new) and ll_new >= ll - 1e-9:
                break
            step = step / 2
        else:
            break
        theta, ll, grad = theta + step, ll_new, grad_new
        converged = bool(np.max(np.abs(grad)) < gtol)
        if np.max(np.abs(theta - info_at) / np.maximum(1.0, np.abs(theta))) > 1e-2:
            info = observed_information(problem, theta, grad)
            n_eval += len(theta)
            info_at = theta.copy()
    if np.max(np.abs(theta - info_at) / np.maximum(1.0, np.abs(theta))) > 1e-5:
        info = observed_information(problem, theta, grad)
        n_eval += len(theta)
    message = "converged" if converged else (
        f"largest gradient element {np.max(np.abs(grad)):.3g} after BFGS ({res.message}) and "
        "Newton steps")
    if not converged:
        warnings.warn(f"fit_joint: the optimiser did not converge ({message}); the estimates may "
                      "be off: check the model (scale of the response, events per parameter).",
                      ConvergenceWarning, stacklevel=user_stacklevel())
    return dict(theta=theta, loglik=ll, gradient=grad, information=info,
                n_evaluations=n_eval, converged=converged, message=message,
                bfgs_iterations=int(res.nit))

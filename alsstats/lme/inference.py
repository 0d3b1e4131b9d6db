"""Inference for mixed models: Satterthwaite df (as lmerTest), likelihood-ratio tests (as lme4's
``anova``) and a vectorised parametric bootstrap (as lme4's ``bootMer``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy import stats

from alsstats.lme.engine import LmeProblem, optimize_theta

if TYPE_CHECKING:
    from alsstats.lme.result import LMEResult

__all__ = ["BootstrapResult", "LRTResult", "compare_lme", "richardson_hessian",
           "richardson_jacobian", "satterthwaite_parts"]

_ZERO_TOL = float(np.sqrt(np.finfo(float).eps / 7e-7))


def _steps(x: np.ndarray, d: float = 0.1, eps: float = 1e-4) -> np.ndarray:
    """numDeriv's initial steps: ``d |x|``, or ``eps`` where ``x`` is (near) zero."""
    ax = np.abs(x)
    return np.where(ax < _ZERO_TOL, eps, d * ax)


def _extrapolate(estimates: list[np.ndarray]) -> np.ndarray:
    """Richardson extrapolation of estimates at steps h, h/2, h/4, ... (errors in h^2)."""
    level = list(estimates)
    m = 1
    while len(level) > 1:
        f = 4.0**m
        level = [(f * level[s + 1] - level[s]) / (f - 1.0) for s in range(len(level) - 1)]
        m += 1
    return level[0]


def richardson_jacobian(fun, x: np.ndarray, r: int = 4) -> np.ndarray:
    """Jacobian of an array-valued ``fun`` at ``x`` by central differences and Richardson
    extrapolation (numDeriv's method: steps ``0.1|x|`` halved ``r`` times).

    Returns an array of shape ``fun(x).shape + (len(x),)``.
    """
    x = np.asarray(x, dtype=float)
    h0 = _steps(x)
    cols = []
    for i in range(x.size):
        ests = []
        for s in range(r):
            e = np.zeros_like(x)
            e[i] = h0[i] / 2.0**s
            ests.append((np.asarray(fun(x + e)) - np.asarray(fun(x - e))) / (2.0 * e[i]))
        cols.append(_extrapolate(ests))
    return np.stack(cols, axis=-1)


def richardson_hessian(fun, x: np.ndarray, r: int = 4) -> np.ndarray:
    """Hessian of a scalar ``fun`` at ``x`` by second differences and Richardson extrapolation."""
    x = np.asarray(x, dtype=float)
    k = x.size
    h0 = _steps(x)
    f0 = fun(x)
    hess = np.empty((k, k))
    for i in range(k):
        ests = []
        for s in range(r):
            e = np.zeros(k)
            e[i] = h0[i] / 2.0**s
            ests.append(np.asarray((fun(x + e) - 2.0 * f0 + fun(x - e)) / e[i] ** 2))
        hess[i, i] = _extrapolate(ests)
    for i in range(k):
        for j in range(i):
            ests = []
            for s in range(r):
                ei = np.zeros(k)
                ej = np.zeros(k)
                ei[i] = h0[i] / 2.0**s
                ej[j] = h0[j] / 2.0**s
                val = (fun(x + ei + ej) - fun(x + ei - ej) - fun(x - ei + ej)
                       + fun(x - ei - ej)) / (4.0 * ei[i] * ej[j])
                ests.append(np.asarray(val))
            hess[i, j] = hess[j, i] = _extrapolate(ests)
    return hess


@dataclass
class SatterthwaiteParts:
    """What Satterthwaite's df for any contrast needs (lmerTest's ``vcov_varpar``, ``Jac_list``)."""

    vcov_varpar: np.ndarray  # A = 2 H^+ over (theta, sigma)
    jacobian: np.ndarray  # d Var(beta) / d varpar, (p, p, k)
    hessian_eigenvalues: np.ndarray

    def df(self, contrast: np.ndarray, vcov_beta: np.ndarray) -> float:
        """``2 (L'CL)^2 / (g' A g)`` with ``g = d(L'CL)/d varpar``."""
        var = float(contrast @ vcov_beta @ contrast)
        grad = np.einsum("i,ijk,j->k", contrast, self.jacobian, contrast)
        denom = float(grad @ self.vcov_varpar @ grad)
        return 2.0 * var * var / denom if denom > 0 else np.inf


def satterthwaite_parts(problem: LmeProblem, theta: np.ndarray, sigma: float, reml: bool,
                        tol: float = 1e-8, r: int = 4) -> SatterthwaiteParts:
    """lmerTest's ingredients for Satterthwaite's df.

    ``vcov_varpar = 2 H^+`` where ``H`` is the Hessian of the deviance over
    ``varpar = (theta, sigma)`` (Moore-Penrose inverse over eigenvalues above ``tol``, as
    lmerTest), and the Jacobian of ``Var(beta_hat) = sigma^2 C(theta)`` over ``varpar``.

    The deviance is ``a(theta) + r2(theta) / sigma^2 + dof log(2 pi sigma^2)`` with
    ``a = log|L|^2 (+ log|R_X|^2 for REML)`` and ``dof = n - p`` (REML) or ``n``, so the
    ``sigma`` rows of ``H`` and of the Jacobian are analytic; the ``theta`` derivatives of
    ``a``, ``r2`` and ``C`` come from central differences with Richardson extrapolation
    (numDeriv's steps ``0.1 |x|`` halved ``r`` times, as lmerTest's numDeriv calls).
    """
    theta = np.asarray(theta, dtype=float)
    k, p, n = theta.size, problem.p, problem.n
    dof = n - p if reml else n

    def pieces(th):
        ev = problem.evaluate(th)
        if ev is None:
            return np.full(2, np.nan), np.full((p, p), np.nan)
        return (np.array([ev.ldL2 + (ev.ldRX2 if reml else 0.0), ev.r2]),
                ev.cov_beta_unscaled())

    h0 = _steps(theta)
    f0, c0 = pieces(theta)
    grad = np.empty((k, 2))
    hess = np.empty((k, k, 2))
    dcov = np.empty((p, p, k))
    for i in range(k):
        g_est, h_est, c_est = [], [], []
        for s in range(r):
            e = np.zeros(k)
            e[i] = h0[i] / 2.0**s
            fp, cp = pieces(theta + e)
            fm, cm = pieces(theta - e)
            g_est.append((fp - fm) / (2.0 * e[i]))
            h_est.append((fp - 2.0 * f0 + fm) / e[i] ** 2)
            c_est.append((cp - cm) / (2.0 * e[i]))
        grad[i] = _extrapolate(g_est)
        hess[i, i] = _extrapolate(h_est)
        dcov[:, :, i] = _extrapolate(c_est)
    for i in range(k):
        for j in range(i):
            ests = []
            for s in range(r):
                ei = np.zeros(k)
                ej = np.zeros(k)
                ei[i] = h0[i] / 2.0**s
                ej[j] = h0[j] / 2.0**s
                ests.append((pieces(theta + ei + ej)[0] - pieces(theta + ei - ej)[0]
                             - pieces(theta - ei + ej)[0] + pieces(theta - ei - ej)[0])
                            / (4.0 * ei[i] * ej[j]))
            hess[i, j] = hess[j, i] = _extrapolate(ests)
    s2 = sigma * sigma
    full = np.empty((k + 1, k + 1))
    full[:k, :k] = hess[:, :, 0] + hess[:, :, 1] / s2
    full[:k, k] = full[k, :k] = -2.0 * grad[:, 1] / (s2 * sigma)
    full[k, k] = 6.0 * f0[1] / (s2 * s2) - 2.0 * dof / s2
    evals, evecs = np.linalg.eigh(full)
    pos = evals > tol
    vcov_varpar = 2.0 * (evecs[:, pos] / evals[pos]) @ evecs[:, pos].T
    jac = np.concatenate([s2 * dcov, (2.0 * sigma * c0)[:, :, None]], axis=2)
    return SatterthwaiteParts(vcov_varpar=vcov_varpar, jacobian=jac, hessian_eigenvalues=evals)


@dataclass
class LRTResult:
    """A likelihood-ratio test of two nested mixed models (lme4's ``anova(small, big)``).

    Attributes
    ----------
    statistic : float
        ``2 (logLik(big) - logLik(small))``, floored at 0 as lme4 does.
    df : int
        Difference in the number of parameters.
    p_value : float
        Upper tail of the chi-squared distribution on ``df``.
    table : pandas.DataFrame
        One row per model (index ``model``: ``small``, ``big``); columns ``formula, npar, aic,
        bic, loglik, deviance, statistic, df, p_value``.
    refitted_ml : bool
        True when REML fits were refitted by ML before comparing (as lme4 does).
    method : str
    """

    statistic: float
    df: int
    p_value: float
    table: pd.DataFrame
    refitted_ml: bool
    method: str = "likelihood-ratio test (chi-squared), ML fits"

    def __repr__(self) -> str:
        return (f"LRTResult(statistic={self.statistic:.6g}, df={self.df}, "
                f"p_value={self.p_value:.4g}, refitted_ml={self.refitted_ml})")


def compare_lme(small: LMEResult, big: LMEResult) -> LRTResult:
    """Likelihood-ratio test of two nested mixed models fitted to the same rows.

    Parameters
    ----------
    small, big : LMEResult
        The models; they are ordered by their number of parameters, as lme4 does.

    Returns
    -------
    LRTResult
        ``statistic``, ``df``, ``p_value`` and a ``table`` with columns ``formula, npar, aic,
        bic, loglik, deviance, statistic, df, p_value``.

    Notes
    -----
    As lme4's ``anova``: when either fit is REML both are refitted by maximum likelihood
    (starting from their REML ``theta``); the statistic is ``2 * max(0, diff(logLik))``.
    Nesting is not checked (neither does lme4); the fits must use the same rows and response.

    Examples
    --------
    >>> from alsstats.lme import compare_lme, fit_lme
    >>> from alsstats.lme.examples import example_data
    >>> d = example_data()
    >>> a = fit_lme(d, "y ~ group + years + (1 | subject)")
    >>> b = fit_lme(d, "y ~ group * years + (1 | subject)")
    >>> round(compare_lme(a, b).df)
    1
    """
    if small.nobs != big.nobs or not np.array_equal(small._frame.y, big._frame.y):
        raise ValueError("compare_lme: the two models were not fitted to the same rows and "
                         f"response ({small.nobs} vs {big.nobs} observations)")
    refit = small.method == "REML" or big.method == "REML"
    models = [m.refit_ml() if m.method == "REML" else m for m in (small, big)]
    npars = [m.n_params for m in models]
    if npars[0] > npars[1]:
        models = models[::-1]
        npars = npars[::-1]
    lls = [m.loglik for m in models]
    stat = 2.0 * max(0.0, lls[1] - lls[0])
    df = int(npars[1] - npars[0])
    p = float(stats.chi2.sf(stat, df)) if df > 0 else np.nan
    table = pd.DataFrame({
        "formula": [m.formula for m in models], "npar": npars,
        "aic": [m.aic for m in models], "bic": [m.bic for m in models], "loglik": lls,
        "deviance": [-2.0 * v for v in lls], "statistic": [np.nan, stat],
        "df": [np.nan, df], "p_value": [np.nan, p]},
        index=pd.Index(["small", "big"], name="model"))
    return LRTResult(statistic=stat, df=df, p_value=p, table=table, refitted_ml=refit)


@dataclass
class BootstrapResult:
    """A parametric bootstrap of a mixed model (lme4's ``bootMer(type = "parametric")``).

    Attributes
    ----------
    estimates : pandas.DataFrame
        One row per successful replicate; columns the fixed-effect terms, then
        ``var_<term>`` / ``cov_<term>_<term>`` of the random effects and ``residual_variance``.
    ci : pandas.DataFrame
        Tidy, one row per parameter: ``term, estimate`` (the original fit), ``std_error`` (SD of
        the replicates), ``ci_low, ci_high`` (percentile interval).
    n : int
    n_failed : int
        Replicates whose refit failed (left out of ``estimates``).
    seed : int or None
    ci_level : float
    method : str
    """

    estimates: pd.DataFrame
    ci: pd.DataFrame
    n: int
    n_failed: int
    seed: int | None
    ci_level: float
    method: str


def _param_names(result: LMEResult) -> list[str]:
    names = list(result.coefficients.index)
    z = result.random_terms
    for j in range(len(z)):
        for i in range(j, len(z)):
            names.append(f"var_{z[i]}" if i == j else f"cov_{z[j]}_{z[i]}")
    return names + ["residual_variance"]


def _param_vector(beta: np.ndarray, lam: np.ndarray, sigma2: float) -> np.ndarray:
    cov = sigma2 * lam @ lam.T
    q = cov.shape[0]
    parts = [cov[i, j] for j in range(q) for i in range(j, q)]
    return np.concatenate([beta, parts, [sigma2]])


def parametric_bootstrap(result: LMEResult, n: int = 1000, seed: int | None = None,
                         ci_level: float = 0.95, chunk_size: int | None = None) -> BootstrapResult:
    """Simulate ``y* = X beta + Z b* + e*`` for all replicates at once and refit each.

    The per-subject statistics involving only X and Z are shared; those involving ``y*`` are
    computed for a whole chunk of replicates with one sparse product. Each refit starts at the
    original ``theta`` and runs the same BOBYQA optimisation as :func:`fit_lme`.
    """
    if n < 2:
        raise ValueError(f"bootstrap: n must be at least 2, got {n}")
    if not 0 < ci_level < 1:
        raise ValueError(f"bootstrap: ci_level must be in (0, 1), got {ci_level}")
    frame, problem = result._frame, result._problem
    X, Z, codes = result._X, frame.Z, frame.codes
    reml = result.method == "REML"
    beta, theta = result._beta, result.theta
    sigma = float(np.sqrt(result.residual_variance))
    lam = problem.lam(theta)
    nobs, m, q, p = X.shape[0], problem.n_groups, problem.q, problem.p
    mu = X @ beta
    rng = np.random.default_rng(seed)
    if chunk_size is None:
        chunk_size = max(1, min(n, int(4e6 // max(nobs, 1))))
    rows = []
    failed = 0
    for start in range(0, n, chunk_size):
        r = min(chunk_size, n - start)
        b = sigma * rng.standard_normal((r, m, q)) @ lam.T
        ystar = mu + np.einsum("nq,rnq->rn", Z, b[:, codes, :]) + sigma * rng.standard_normal(
            (r, nobs))
        zty = (problem.indicator @ (Z[:, :, None] * ystar.T[:, None, :]).reshape(nobs, q * r))
        zty = np.asarray(zty).reshape(m, q, r)
        xty = X.T @ ystar.T
        yty = np.einsum("rn,rn->r", ystar, ystar)
        ztw = problem.ztw.copy()
        wtw = problem.wtw.copy()
        for k in range(r):
            ztw[:, :, p] = zty[:, :, k]
            wtw[p, :p] = wtw[:p, p] = xty[:, k]
            wtw[p, p] = yty[k]
            rep = LmeProblem.from_stats(problem.ztz, ztw.copy(), wtw.copy(), nobs)
            opt = optimize_theta(rep, reml, start=theta, **result._optimizer_options)
            ev = rep.evaluate(opt.theta) if np.isfinite(opt.deviance) else None
            if ev is None or not opt.converged:
                failed += 1
                continue
            rows.append(_param_vector(ev.beta, rep.lam(opt.theta), ev.sigma2(nobs, reml)))
    names = _param_names(result)
    est = pd.DataFrame(np.array(rows).reshape(-1, len(names)), columns=names)
    est.index.name = "replicate"
    original = _param_vector(beta, lam, result.residual_variance)
    alpha = (1.0 - ci_level) / 2.0
    ci = pd.DataFrame({"term": names, "estimate": original,
                       "std_error": est.std(ddof=1).to_numpy(),
                       "ci_low": est.quantile(alpha).to_numpy(),
                       "ci_high": est.quantile(1.0 - alpha).to_numpy()})
    return BootstrapResult(estimates=est, ci=ci, n=n, n_failed=failed, seed=seed,
                           ci_level=ci_level,
                           method=f"parametric bootstrap ({'REML' if reml else 'ML'} refits, "
                                  "new random effects and residuals each replicate), "
                                  "percentile intervals")

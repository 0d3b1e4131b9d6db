"""``fit_lme``: lme4-style linear mixed models with lmerTest's inference."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from alsstats.errors import (
    ConvergenceWarning,
    FormulaError,
    RankDeficiencyWarning,
    ScaleWarning,
    SingularFitWarning,
)
from alsstats.formula.mixed import random_groups
from alsstats.lme.engine import LmeProblem, OptimResult, optimize_theta, single_threaded_blas
from alsstats.lme.formula import ModelFrame, build_model_frame
from alsstats.lme.inference import satterthwaite_parts
from alsstats.lme.result import LMEResult, coefficient_table

__all__ = ["fit_lme"]

SINGULAR_TOL = 1e-4  # lme4's isSingular(tol = 1e-4)
RANK_TOL = 1e-7  # R's qr tolerance, as lme4's rank check
SCALE_RATIO = 1e3  # lme4's checkScaleX threshold


def aliased_columns(X: np.ndarray, tol: float = RANK_TOL) -> np.ndarray:
    """Boolean mask of columns to keep: a column is aliased when its residual after projecting
    on the earlier kept columns has norm below ``tol`` times its own (R's limited pivoting)."""
    n, p = X.shape
    basis = np.empty((n, 0))
    keep = np.zeros(p, dtype=bool)
    for j in range(p):
        col = X[:, j]
        norm = np.linalg.norm(col)
        res = col - basis @ (basis.T @ col)
        res = res - basis @ (basis.T @ res)
        rn = np.linalg.norm(res)
        if norm > 0 and rn > tol * norm:
            keep[j] = True
            basis = np.column_stack([basis, res / rn])
    return keep


def _check_scale(X: np.ndarray, names: list[str]) -> None:
    sd = X.std(axis=0, ddof=1) if X.shape[0] > 1 else np.zeros(X.shape[1])
    varying = np.flatnonzero(sd > 0)
    if varying.size < 2:
        return
    hi = varying[np.argmax(sd[varying])]
    lo = varying[np.argmin(sd[varying])]
    ratio = sd[hi] / sd[lo]
    if ratio > SCALE_RATIO:
        warnings.warn(
            f"fit_lme: predictors are on very different scales: SD of {names[hi]!r} is "
            f"{sd[hi]:.3g}, SD of {names[lo]!r} is {sd[lo]:.3g} (ratio {ratio:.3g}). The fit is "
            f"still computed exactly, but coefficients are hard to read and the optimiser is less "
            f"robust: rescale, e.g. use {names[hi]} / 1000 as a column, or report per-unit effects "
            f"with result.rescale({names[hi]!r}, per=...). Pass check_scale=False to silence.",
            ScaleWarning, stacklevel=5)


def fit_lme(data: pd.DataFrame, formula: str, reml: bool = True, *,
            df_method: str = "satterthwaite", ci_level: float = 0.95, check_scale: bool = True,
            start: np.ndarray | None = None, optimizer: dict[str, Any] | None = None
            ) -> LMEResult:
    """Fit a linear mixed model with one grouping factor, exactly as lme4's ``lmer``.

    Parameters
    ----------
    data : pandas.DataFrame
        Any table holding the formula's columns (not modified).
    formula : str
        lme4-style: ``"y ~ group * years + age + sex + (1 + years | subject)"``; the random part
        may be ``(1 | g)``, ``(1 + x | g)``, ``(0 + x | g)`` or more terms, with one grouping
        column ``g`` (or an interaction ``a:b``). R's grammar and functions
        (:mod:`alsstats.formula`: ``I(x^2)``, ``poly``, ``ns``, ``bs``, ``factor``, ``scale``,
        ``log``, ``(a + b)^2``, backticks for any other column name); factors, interactions and
        numeric columns work as in R, with R's names and level order.
    reml : bool
        REML (default, as lmer) or maximum likelihood.
    df_method : {"satterthwaite", "normal"}
        t-tests on Satterthwaite's df (lmerTest's ``summary``), or z-tests.
    ci_level : float
        Level of the Wald confidence intervals (on the same df as the tests).
    check_scale : bool
        Warn (:class:`~alsstats.ScaleWarning`) when predictor SDs differ more than 1000-fold.
    start : array, optional
        Starting ``theta`` (default lme4's: identity relative covariance factor).
    optimizer : dict, optional
        Options of :func:`alsstats.lme.engine.optimize_theta`: ``xtol_rel`` (1e-10),
        ``ftol_abs`` (1e-11), ``maxeval`` (10000), ``boundary_tol`` (1e-5).

    Returns
    -------
    LMEResult
        ``coefficients`` (index ``term``; columns ``estimate, std_error, df, statistic,
        p_value, ci_low, ci_high``), ``random_effects_cov``, ``residual_variance``, ``loglik``,
        ``aic``, ``bic``, ``converged``, ``singular``, ``random_effects`` (BLUPs), and methods
        ``predict``, ``summary``, ``rescale``, ``contrast``, ``bootstrap``.

    Raises
    ------
    FormulaError
        Unsupported formulas (crossed/nested/several grouping factors, ``||``), unknown columns.

    Warns
    -----
    DroppedRowsWarning
        Rows with missing values in the model's columns were left out (counted per column).
    RankDeficiencyWarning
        Aliased fixed-effect columns were dropped (named).
    ScaleWarning
        Predictors on very different scales.
    SingularFitWarning
        The random-effect covariance is at the boundary (lme4's ``isSingular``).
    ConvergenceWarning
        The optimiser did not converge, or the deviance Hessian has a negative eigenvalue.

    Notes
    -----
    The engine minimises lme4's profiled deviance over the relative covariance factor
    (Bates et al. 2015) with BOBYQA, as lme4's default ``nloptwrap``, but with tighter
    tolerances (so its optimum can be very slightly better than lme4's); lme4's restart at the
    edge and boundary check are applied. Satterthwaite df follow lmerTest: the Hessian of the
    deviance over (theta, sigma) and the Jacobian of ``Var(beta)`` come from
    Richardson-extrapolated differences (lmerTest uses numDeriv, same scheme). Unlike
    statsmodels' MixedLM, a collapsing random-effect variance gives theta = 0 exactly, where the
    fixed effects are the OLS estimates (nothing is zeroed). Aliased fixed-effect columns are
    dropped and left out of ``coefficients`` (lme4 does the same; R's ``lm`` would show NA).

    Examples
    --------
    >>> from alsstats.lme import fit_lme
    >>> from alsstats.lme.examples import example_data
    >>> fit = fit_lme(example_data(), "y ~ group * years + age + sex + (1 + years | subject)")
    >>> list(fit.coefficients.index)
    ['Intercept', 'groupcontrol', 'years', 'age', 'sexM', 'groupcontrol:years']
    >>> fit.method, fit.n_groups
    ('REML', 60)
    """
    if df_method not in ("satterthwaite", "normal"):
        raise ValueError(f"df_method must be 'satterthwaite' or 'normal', got {df_method!r}")
    if not 0 < ci_level < 1:
        raise ValueError(f"ci_level must be in (0, 1), got {ci_level}")
    _check_supported(formula)
    frame = build_model_frame(formula, data)
    if frame.offset is not None:
        raise FormulaError(f"offset() is not supported by fit_lme ({formula!r}); subtract the "
                           "offset from the response instead")
    return _fit_frame(frame, reml=reml, df_method=df_method, ci_level=ci_level,
                      check_scale=check_scale, start=start, optimizer=optimizer)


def _check_supported(formula: str) -> None:
    groups = random_groups(formula)
    if len(groups) != 1:
        raise FormulaError(
            f"formula {formula!r} has {len(groups)} random-effect terms (grouping factors "
            f"{', '.join(groups)}): crossed or multiple grouping factors, nested ones (a/b) and "
            "'||' (uncorrelated random effects) are not supported yet; alsstats fits one "
            "random-effect term such as (1 + years | subject). Fit such models with lme4 in R.")


def _fit_frame(frame: ModelFrame, **kwargs: Any) -> LMEResult:
    """Fit from a model frame; ``theta`` (tests only) evaluates at a given theta instead."""
    with single_threaded_blas():
        return _fit_frame_inner(frame, **kwargs)


def _fit_frame_inner(frame: ModelFrame, *, reml: bool, df_method: str, ci_level: float,
                     check_scale: bool, start: np.ndarray | None,
                     optimizer: dict[str, Any] | None, quiet: bool = False,
                     theta: np.ndarray | None = None) -> LMEResult:
    fit_options = dict(reml=reml, df_method=df_method, ci_level=ci_level,
                       check_scale=check_scale, optimizer=optimizer, quiet=True)
    optimizer = dict(optimizer or {})
    keep = aliased_columns(frame.X)
    names = [n for n, k in zip(frame.x_names, keep, strict=True) if k]
    dropped = [n for n, k in zip(frame.x_names, keep, strict=True) if not k]
    if dropped and not quiet:
        warnings.warn(
            f"fit_lme: the fixed-effects model matrix is rank deficient; dropped the aliased "
            f"column(s) {', '.join(dropped)} (as lme4 does). Check the design: e.g. a factor "
            "level with no observations, a covariate constant within a group, or duplicated "
            "predictors.", RankDeficiencyWarning, stacklevel=4)
    X = frame.X[:, keep]
    n, p = X.shape
    if check_scale and not quiet:
        _check_scale(X, names)
    if reml and n <= p:
        raise FormulaError(f"REML needs more observations ({n}) than fixed effects ({p})")
    problem = LmeProblem(X, frame.y, frame.Z, frame.codes, len(frame.groups))
    if theta is None:
        opt = optimize_theta(problem, reml, start=start, **optimizer)
    else:
        theta = np.asarray(theta, dtype=float)
        opt = OptimResult(theta=theta, deviance=problem.deviance(theta, reml), n_evaluations=1,
                          status="theta given", converged=True, message="theta given")
    ev = problem.evaluate(opt.theta)
    if ev is None:
        raise FloatingPointError("fit_lme: the deviance could not be evaluated at the optimum "
                                 f"(theta = {opt.theta}); check the data for degenerate columns")
    sigma2 = ev.sigma2(n, reml)
    vcov = sigma2 * ev.cov_beta_unscaled()
    z = frame.z_names
    singular = bool(np.any(opt.theta[problem.diag] < SINGULAR_TOL))
    converged = opt.converged
    satt = None
    if df_method == "satterthwaite":
        satt = satterthwaite_parts(problem, opt.theta, float(np.sqrt(sigma2)), reml)
        df = np.array([satt.df(e, vcov) for e in np.eye(p)])
        neg = satt.hessian_eigenvalues[satt.hessian_eigenvalues < -1e-8]
        if neg.size and not quiet:
            converged = False
            warnings.warn(
                f"fit_lme: the deviance Hessian over (theta, sigma) has {neg.size} negative "
                f"eigenvalue(s) ({', '.join(f'{v:.2g}' for v in neg)}): the optimum is not a "
                "minimum. Simplify the random effects or rescale predictors; Satterthwaite df "
                "are unreliable.", ConvergenceWarning, stacklevel=4)
    else:
        df = np.full(p, np.inf)
    if not opt.converged and not quiet:
        warnings.warn(
            f"fit_lme: the optimiser did not converge ({opt.status}, {opt.n_evaluations} "
            "evaluations). Rescale predictors, simplify the random effects, or raise "
            "optimizer={'maxeval': ...}.", ConvergenceWarning, stacklevel=4)
    if singular and not quiet:
        at = [z[problem.rows[k]] for k in np.flatnonzero(problem.diag & (opt.theta < SINGULAR_TOL))]
        warnings.warn(
            f"fit_lme: boundary (singular) fit: the random-effect covariance is singular at "
            f"term(s) {', '.join(at)} of ({' + '.join(z)} | {frame.parts.group}) (a variance "
            "estimated as 0, or a correlation of +-1). The fixed effects are still valid (at a "
            "zero variance they equal the fit without that random effect); consider dropping "
            "that random term.", SingularFitWarning, stacklevel=4)
    coefs = coefficient_table(names, ev.beta, vcov, df, ci_level)
    lam = problem.lam(opt.theta)
    re_cov = pd.DataFrame(sigma2 * lam @ lam.T, index=z, columns=z)
    blups = pd.DataFrame(problem.random_effects(ev), index=frame.groups, columns=z)
    n_params = p + problem.n_theta + 1
    deviance = ev.deviance(n, reml)
    loglik = -0.5 * deviance
    return LMEResult(
        coefficients=coefs, random_effects_cov=re_cov, residual_variance=float(sigma2),
        loglik=float(loglik), aic=float(deviance + 2 * n_params),
        bic=float(deviance + np.log(n) * n_params), deviance=float(deviance),
        converged=converged, singular=singular, random_effects=blups, theta=opt.theta,
        vcov=pd.DataFrame(vcov, index=names, columns=names), method="REML" if reml else "ML",
        df_method=df_method, formula=frame.parts.formula, nobs=n, n_groups=len(frame.groups),
        n_params=n_params, group=frame.parts.group, random_terms=list(z), dropped_terms=dropped,
        n_dropped_rows=frame.n_dropped, ci_level=ci_level,
        optimizer={"name": "BOBYQA (nlopt)", "status": opt.status,
                   "n_evaluations": opt.n_evaluations, "message": opt.message},
        _problem=problem, _frame=frame, _X=X, _kept=keep, _beta=ev.beta, _satterthwaite=satt,
        _optimizer_options=optimizer, _fit_options=fit_options)

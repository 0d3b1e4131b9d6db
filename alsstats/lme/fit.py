"""``fit_lme``: lme4-style linear mixed models with lmerTest's inference."""

from __future__ import annotations

import dataclasses
import functools
import warnings
from typing import Any

import numpy as np
import pandas as pd

from alsstats._deprecation import formerly_positional
from alsstats._stack import user_stacklevel
from alsstats.errors import (
    ConvergenceWarning,
    DataValidationError,
    FormulaError,
    RankDeficiencyWarning,
    ScaleWarning,
    SingularFitWarning,
)
from alsstats.lme import _lapack
from alsstats.lme.engine import LmeProblem, OptimResult, optimize_theta, single_threaded_blas
from alsstats.lme.formula import ModelFrame, build_model_frame
from alsstats.lme.general import GeneralProblem, TermData
from alsstats.lme.kenward_roger import kenward_roger_coefficients
from alsstats.lme.result import LMEResult, coefficient_table
from alsstats.lme.satterthwaite import satterthwaite_parts

__all__ = ["fit_lme"]

SINGULAR_TOL = 1e-4  # lme4's isSingular(tol = 1e-4)
RANK_TOL = 1e-7  # R's qr tolerance, as lme4's rank check
SCALE_RATIO = 1e3  # lme4's checkScaleX threshold


def aliased_columns(X: np.ndarray, tol: float = RANK_TOL) -> np.ndarray:
    """Boolean mask of columns to keep: a column is aliased when its residual after projecting
    on the earlier kept columns has norm below ``tol`` times its own (R's limited pivoting)."""
    return _rank_check(X, tol)[0]


def _rank_check(X: np.ndarray, tol: float = RANK_TOL
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`aliased_columns`, the ``R`` factor (k x k) of the kept columns' QR and the kept
    columns themselves (a Fortran-ordered copy, as ``X[:, keep]``).

    The residual norms are the diagonal of ``R`` in an unpivoted QR of the candidate columns
    (and a column's own norm that of its column of ``R``); the first column that fails is
    dropped and the QR redone without it, so a full-rank design costs one Householder QR and
    each aliased column one more.
    """
    n, p = X.shape
    candidates = np.arange(p)
    while True:
        k = min(n, candidates.size)
        if k == 0:  # no columns, or no rows (every column has norm 0: aliased)
            candidates, r = candidates[:0], np.empty((0, 0))
            kept = X[:, candidates]
            break
        # X.T[...].T: a copy in the Fortran order LAPACK works in (and X[:, keep] has)
        kept = X.T[candidates].T
        factor = _lapack.qr_factor(kept)
        # R (below its diagonal geqrf leaves the Householder vectors)
        r = np.where(_upper_triangle(k, candidates.size), factor[:k], 0.0)
        norms = np.sqrt(np.einsum("ij,ij->j", r, r)[:k])
        passed = np.abs(np.diagonal(r)) > tol * norms
        if passed.all():
            if k == candidates.size:
                break
            first = k  # more candidates than rows: column n onwards lies in the span
        else:
            first = int(np.argmin(passed))
        candidates = np.delete(candidates, first)
    keep = np.zeros(p, dtype=bool)
    keep[candidates] = True
    return keep, r, kept


@functools.lru_cache(maxsize=32)
def _upper_triangle(k: int, m: int) -> np.ndarray:
    mask = np.triu(np.ones((k, m), dtype=bool))
    mask.flags.writeable = False
    return mask


def _column_sds(X: np.ndarray, r: np.ndarray | None = None) -> np.ndarray:
    """Column SDs (``ddof=1``). With the intercept as the first column and ``r`` the R factor
    of ``X``'s QR, column j's centred norm is that of ``r[1:j+1, j]`` (its residual on the
    intercept): no pass over the rows."""
    n = X.shape[0]
    if n < 2:
        return np.zeros(X.shape[1])
    if (r is not None and X.shape[1] and r.shape == (X.shape[1], X.shape[1])
            and np.all(X[:, 0] == 1.0)):
        tail = r[1:]
        return np.sqrt(np.einsum("ij,ij->j", tail, tail) / (n - 1))
    return X.std(axis=0, ddof=1)


def _check_scale(X: np.ndarray, names: list[str], r: np.ndarray | None = None) -> None:
    sd = _column_sds(X, r).tolist()  # a handful of numbers: plain floats are quicker
    varying = [v for v in sd if v > 0]
    if len(varying) < 2:
        return
    ratio = max(varying) / min(varying)
    if ratio > SCALE_RATIO:
        hi, lo = sd.index(max(varying)), sd.index(min(varying))
        warnings.warn(
            f"fit_lme: predictors are on very different scales: SD of {names[hi]!r} is "
            f"{sd[hi]:.3g}, SD of {names[lo]!r} is {sd[lo]:.3g} (ratio {ratio:.3g}). The fit is "
            f"still computed exactly, but coefficients are hard to read and the optimiser is less "
            f"robust: rescale, e.g. use {names[hi]} / 1000 as a column, or report per-unit effects "
            f"with result.rescale({names[hi]!r}, per=...). Pass check_scale=False to silence.",
            ScaleWarning, stacklevel=user_stacklevel())


@formerly_positional("reml")
def fit_lme(data: pd.DataFrame, formula: str, *, reml: bool = True,
            df_method: str = "satterthwaite", ci_level: float = 0.95, check_scale: bool = True,
            start: np.ndarray | None = None, optimizer: dict[str, Any] | None = None,
            data_name: str = "data") -> LMEResult:
    """Fit a linear mixed model exactly as lme4's ``lmer`` (any number of random-effect terms).

    Parameters
    ----------
    data : pandas.DataFrame
        Any table holding the formula's columns (not modified).
    formula : str
        lme4-style: ``"y ~ group * years + age + sex + (1 + years | subject)"``. Any number of
        random-effect terms, correlated or not, nested or crossed: ``(1 | site) + (1 + years |
        subject)``, ``(1 | site/subject)`` (= ``(1 | site) + (1 | subject:site)``),
        ``(years || subject)`` (= ``(1 | subject) + (0 + years | subject)``),
        ``(1 | plate) + (1 | sample)``. R's grammar and functions (:mod:`alsstats.formula`:
        ``I(x^2)``, ``poly``, ``ns``, ``bs``, ``factor``, ``scale``, ``log``, ``(a + b)^2``,
        backticks for any other column name); factors, interactions and numeric columns work as
        in R, with R's names and level order.
    reml : bool
        REML (default, as lmer) or maximum likelihood.
    df_method : {"satterthwaite", "kenward-roger", "normal"}
        t-tests on Satterthwaite's df (lmerTest's ``summary``), on Kenward-Roger's adjusted
        standard errors and df (``summary(m, ddf = "Kenward-Roger")``, REML only), or z-tests.
    ci_level : float
        Level of the Wald confidence intervals (on the same df as the tests).
    check_scale : bool
        Warn (:class:`~alsstats.ScaleWarning`) when predictor SDs differ more than 1000-fold.
    start : array, optional
        Starting ``theta`` (default lme4's: identity relative covariance factor).
    optimizer : dict, optional
        Options of :func:`alsstats.lme.engine.optimize_theta`: ``xtol_rel``, ``ftol_abs``
        (BOBYQA's; giving either skips the Newton start and runs BOBYQA only; by default Newton
        on the exact derivatives first, else BOBYQA at 1e-6 and 1e-7 with exact Newton steps to
        finish and a rerun at 1e-10 and 1e-11 if the result fails a convergence check),
        ``maxeval`` (10000), ``boundary_tol`` (1e-5).
    data_name : str
        Name shown on the printed summary's ``Data:`` line (R shows the ``data`` argument's
        expression, e.g. ``visits``).

    Returns
    -------
    LMEResult
        ``coefficients`` (index ``term``; columns ``estimate, std_error, df, statistic,
        p_value, ci_low, ci_high``), ``random_effects_cov``, ``residual_variance``, ``loglik``,
        ``aic``, ``bic``, ``converged``, ``singular``, ``random_effects`` (BLUPs), ``varcorr``
        (R's ``as.data.frame(VarCorr())``), ``ranef`` (grouping factor -> BLUPs),
        ``blocks_cov``, ``theta`` (lme4's order), and methods ``predict``, ``summary``,
        ``rescale``, ``contrast``, ``bootstrap``, ``refit``, ``deviance_function``, ``anova``
        (F tables), ``test`` (any contrast matrix), ``robust`` (cluster-robust CR2). With several
        terms, ``random_effects_cov``, ``random_effects``, ``group`` and ``n_groups`` describe the
        first term in lme4's order (the one with the most levels).

    Raises
    ------
    FormulaError
        Unparseable formulas, unknown columns, and models lme4 refuses as unidentifiable
        (``check.nlev.gtr.1``: a grouping factor with one level; ``check.nobs.vs.nlev``: as many
        levels as observations; ``check.nobs.vs.nRE``: as many random effects as observations),
        naming the term.
    DataValidationError
        The response is constant in the rows used (as lme4's "Response is constant").

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
    (Bates et al. 2015). It starts with Newton's method on the exact gradient and Hessian from
    a moment estimate (a handful of iterations instead of BOBYQA's ~100 evaluations); when
    Newton approaches the boundary (a variance near 0) or its result fails a convergence check,
    BOBYQA takes over from lme4's start, as lme4's default ``nloptwrap`` but with tighter
    tolerances, then Newton steps on the exact derivatives; lme4's boundary check applies. Unlike lme4's ``restart_edge``, every sign pattern of the entries below a zero
    diagonal of ``Lambda`` is tried at the boundary, so the fit never stops at a saddle there
    (lme4's single optimisers do on Loblolly and sleepstudy's quadratic model; ``allFit``'s best
    agrees with ours). Convergence is checked as lme4's ``checkConv`` but on exact derivatives.
    Satterthwaite df follow lmerTest with the Hessian of the deviance over (theta, sigma) and
    the Jacobian of ``Var(beta)`` computed exactly (lmerTest differentiates numerically, which
    near the boundary moves with its step size). Unlike
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
    >>> fit.estimation, fit.method["df_method"], fit.n_groups
    ('REML', 'satterthwaite', 60)
    >>> d = example_data().assign(site=lambda t: "site" + t["subject"].str[-1])
    >>> d["y"] += 300.0 * d["site"].str[-1].astype(int).map(lambda k: (-1) ** k * k % 7)
    >>> two = fit_lme(d, "y ~ group * years + (1 | site) + (1 + years | subject)")
    >>> list(two.varcorr["grp"])
    ['subject', 'subject', 'subject', 'site', 'Residual']
    """
    if df_method not in ("satterthwaite", "kenward-roger", "normal"):
        raise ValueError("df_method must be 'satterthwaite', 'kenward-roger' or 'normal', got "
                         f"{df_method!r}")
    if df_method == "kenward-roger" and not reml:
        raise ValueError("df_method='kenward-roger' needs a REML fit (as lmerTest/pbkrtest)")
    if not 0 < ci_level < 1:
        raise ValueError(f"ci_level must be in (0, 1), got {ci_level}")
    frame = build_model_frame(formula, data)
    if frame.offset is not None:
        raise FormulaError(f"offset() is not supported by fit_lme ({formula!r}); subtract the "
                           "offset from the response instead")
    if len(frame.y) and np.all(frame.y == frame.y[0]):
        # lme4 stops here too (check.response.not.const: "Response is constant"): with no
        # residual variance the variance components and every standard error are meaningless.
        raise DataValidationError(
            f"fit_lme: the response {frame.parts.response!r} is constant ({frame.y[0]:g} in "
            f"all {len(frame.y)} rows used); a model of a constant has no residual variance "
            "(lme4 refuses it as 'Response is constant')")
    return _fit_frame(frame, reml=reml, df_method=df_method, ci_level=ci_level,
                      check_scale=check_scale, start=start, optimizer=optimizer,
                      variables=frame.variables,
                      data_name=str(data_name))


def _fit_frame(frame: ModelFrame, **kwargs: Any) -> LMEResult:
    """Fit from a model frame; ``theta`` (tests only) evaluates at a given theta instead."""
    with single_threaded_blas():
        result = _fit_frame_inner(frame, **kwargs)
        if kwargs.get("df_method") == "kenward-roger" and result.estimation == "REML":
            # the same fit with pbkrtest's table; the inference cache (KR parts) carries over
            result = dataclasses.replace(result,
                                         coefficients=kenward_roger_coefficients(result))
        return result


def random_blocks_of(frame) -> list:
    """The frame's random-effect blocks as written (CONTRACT.md ``random_blocks``)."""
    return list(frame.random_blocks)


def term_label(block) -> str:
    """The random term as lme4 writes it in messages, e.g. ``(1 + years | subject)``."""
    names = ["1" if z == "Intercept" else z for z in block.z_names]
    lhs = " + ".join(names) if "1" in names else "0 + " + " + ".join(names)
    return f"({lhs} | {block.grp})"


def check_identifiable(blocks: list, n: int) -> None:
    """lme4's ``check.nlev.gtr.1``, ``check.nobs.vs.nlev`` and ``check.nobs.vs.nRE`` (all
    "stop" in ``lmerControl``), naming the term."""
    for block in blocks:
        codes = block.codes[block.codes >= 0]
        used = int(np.count_nonzero(np.bincount(codes, minlength=len(block.levels))))
        if used < 2:
            raise FormulaError(
                f"fit_lme: grouping factors must have > 1 sampled level: {block.grp!r} of "
                f"{term_label(block)} has {used} (lme4's check.nlev.gtr.1)")
        if used >= n:
            raise FormulaError(
                f"fit_lme: number of levels of each grouping factor must be < number of "
                f"observations: {block.grp!r} of {term_label(block)} has {used} levels for {n} "
                "observations (lme4's check.nobs.vs.nlev)")
        n_re = used * len(block.z_names)
        if n <= n_re:
            raise FormulaError(
                f"fit_lme: number of observations (={n}) <= number of random effects (={n_re}) "
                f"for term {term_label(block)}; the random-effects parameters and the residual "
                "variance are probably unidentifiable (lme4's check.nobs.vs.nRE)")


def lme4_order(blocks: list) -> list[int]:
    """lme4's ``reTrms`` order: by decreasing number of levels, ties as written."""
    return sorted(range(len(blocks)), key=lambda i: -len(blocks[i].levels))


def _fit_frame_inner(frame: ModelFrame, *, reml: bool, df_method: str, ci_level: float,
                     check_scale: bool, start: np.ndarray | None,
                     optimizer: dict[str, Any] | None, quiet: bool = False,
                     theta: np.ndarray | None = None, problem: Any = None,
                     variables: pd.DataFrame | None = None,
                     data_name: str = "data") -> LMEResult:
    fit_options = dict(reml=reml, df_method=df_method, ci_level=ci_level,
                       check_scale=check_scale, optimizer=optimizer, quiet=True)
    optimizer = dict(optimizer or {})
    keep, r_factor, X = _rank_check(frame.X)
    flags = keep.tolist()
    names = [n for n, k in zip(frame.x_names, flags, strict=True) if k]
    dropped = [n for n, k in zip(frame.x_names, flags, strict=True) if not k]
    if dropped and not quiet:
        warnings.warn(
            f"fit_lme: the fixed-effects model matrix is rank deficient; dropped the aliased "
            f"column(s) {', '.join(dropped)} (as lme4 does). Check the design: e.g. a factor "
            "level with no observations, a covariate constant within a group, or duplicated "
            "predictors.", RankDeficiencyWarning, stacklevel=user_stacklevel())
    n, p = X.shape
    if check_scale and not quiet:
        _check_scale(X, names, r_factor)
    if reml and n <= p:
        raise FormulaError(f"REML needs more observations ({n}) than fixed effects ({p})")
    written = random_blocks_of(frame)
    check_identifiable(written, n)
    order = lme4_order(written)
    blocks = [written[i] for i in order]
    if problem is not None:  # a refit: the design statistics of an earlier fit, new response
        pass
    elif len(blocks) == 1:
        b = blocks[0]
        problem = LmeProblem(X, frame.y, b.Z, b.codes, len(b.levels))
    else:
        problem = GeneralProblem(X, frame.y, [TermData(b.Z, b.codes, len(b.levels))
                                              for b in blocks])
    if theta is None:
        opt = optimize_theta(problem, reml, start=start,
                             hessian=df_method == "satterthwaite", **optimizer)
    else:
        theta = np.asarray(theta, dtype=float)
        opt = OptimResult(theta=theta, deviance=problem.deviance(theta, reml), n_evaluations=1,
                          status="theta given", converged=True, message="theta given")
    ev = opt.evaluation  # the optimiser's, when it kept the one at its optimum
    if ev is None or not np.array_equal(ev.theta, opt.theta):
        ev = problem.evaluate(opt.theta)
    if ev is None:
        raise FloatingPointError("fit_lme: the deviance could not be evaluated at the optimum "
                                 f"(theta = {opt.theta}); check the data for degenerate columns")
    sigma2 = ev.sigma2(n, reml)
    vcov = sigma2 * ev.cov_beta_unscaled()
    singular = bool(np.any(opt.theta[problem.diag] < SINGULAR_TOL))
    converged = opt.converged
    satt = None
    if df_method == "satterthwaite":
        satt = satterthwaite_parts(problem, opt.theta, float(np.sqrt(sigma2)), reml,
                                   parts=opt.derivatives)
        df = satt.df_coefficients(vcov)
        evals = satt.hessian_eigenvalues.tolist()  # k + 1 numbers: plain floats
        # relative to the largest curvature: exact derivatives resolve a flat direction as
        # ~-1e-7 relative, which is zero
        floor = -1e-6 * max(1.0, *(abs(v) for v in evals))
        neg = [v for v in evals if v < floor]
        if neg and not quiet:
            converged = False
            warnings.warn(
                f"fit_lme: the deviance Hessian over (theta, sigma) has {len(neg)} negative "
                f"eigenvalue(s) ({', '.join(f'{v:.2g}' for v in neg)}): the optimum is not a "
                "minimum. Simplify the random effects or rescale predictors; Satterthwaite df "
                "are unreliable.", ConvergenceWarning, stacklevel=user_stacklevel())
    else:
        df = np.full(p, np.inf)
    if not opt.converged and not quiet:
        detail = "; ".join(opt.messages) if opt.messages else opt.status
        warnings.warn(
            f"fit_lme: the optimiser did not converge ({detail}; {opt.n_evaluations} "
            "evaluations). Rescale predictors, simplify the random effects, or raise "
            "optimizer={'maxeval': ...}.", ConvergenceWarning, stacklevel=user_stacklevel())
    if len(blocks) == 1:
        lams = [problem.lam(opt.theta)]
    else:
        lams = problem.lam_blocks(opt.theta)
    if singular and not quiet:
        term_of = (np.zeros(problem.n_theta, dtype=int) if len(blocks) == 1
                   else problem.theta_term)
        at = [f"{blocks[term_of[k]].z_names[problem.rows[k]]} of {term_label(blocks[term_of[k]])}"
              for k in np.flatnonzero(problem.diag & (opt.theta < SINGULAR_TOL))]
        warnings.warn(
            f"fit_lme: boundary (singular) fit: the random-effect covariance is singular at "
            f"{', '.join(at)} (a variance estimated as 0, or a correlation of +-1). The fixed "
            "effects are still valid (at a zero variance they equal the fit without that random "
            "effect); consider dropping that random term.", SingularFitWarning, stacklevel=user_stacklevel())
    coefs = coefficient_table(names, ev.beta, vcov, df, ci_level)
    covs = [sigma2 * lam @ lam.T for lam in lams]
    first = blocks[0]
    n_params = p + problem.n_theta + 1
    deviance = ev.deviance(n, reml)
    loglik = -0.5 * deviance
    return LMEResult(
        coefficients=coefs, residual_variance=float(sigma2),
        loglik=float(loglik), aic=float(deviance + 2 * n_params),
        bic=float(deviance + np.log(n) * n_params), deviance=float(deviance),
        converged=converged, singular=singular, theta=opt.theta,
        method={"estimation": "REML" if reml else "ML", "df_method": df_method,
                "ci_level": ci_level, "formula": frame.parts.formula, "optimizer": opt.method},
        df_method=df_method, formula=frame.parts.formula, nobs=n, n_groups=len(first.levels),
        n_params=n_params, group=first.grp, random_terms=list(first.z_names),
        dropped_terms=dropped, n_dropped_rows=frame.n_dropped, ci_level=ci_level,
        optimizer={"name": opt.method, "status": opt.status,
                   "n_evaluations": opt.n_evaluations, "message": opt.message,
                   "messages": list(opt.messages), "n_restarts": opt.n_restarts},
        _problem=problem, _frame=frame, _X=X, _kept=keep, _beta=ev.beta, _satterthwaite=satt,
        _optimizer_options=optimizer, _fit_options=fit_options, _names=names, _vcov=vcov,
        _covs=covs, _evaluation=ev, _blocks=blocks, _data=variables, data_name=data_name)

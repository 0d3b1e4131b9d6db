"""``fit_joint``: the shared-random-effects joint model of a longitudinal biomarker and survival."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from alsstats._deprecation import renamed_arguments
from alsstats._stack import user_stacklevel
from alsstats.errors import ConvergenceWarning
from alsstats.joint.design import build_joint
from alsstats.joint.likelihood import chol_to_cov
from alsstats.joint.optimize import maximize, start_values
from alsstats.joint.result import JointResult, wald_table

__all__ = ["fit_joint"]

_ASSOCIATIONS = ("value", "slope", "value+slope")
_BASELINES = {"weibull": "weibull-PH-aGH", "piecewise": "piecewise-PH-aGH"}


def _lme_start(data: pd.DataFrame, formula: str):
    from alsstats.lme import fit_lme
    return fit_lme(data, formula, reml=True, df_method="normal", check_scale=False)


def _vcov_names(x_names, w_names, layout, baseline, q) -> list[str]:
    names = [f"Y.{n}" for n in x_names] + ["Y.log(sigma)"]
    if baseline == "weibull":
        names.append("T.(Intercept)")
    names += [f"T.{n}" for n in w_names]
    if "alpha" in layout:
        names.append("T.value")
    if "alpha_s" in layout:
        names.append("T.slope")
    if baseline == "weibull":
        names.append("T.log(shape)")
    else:
        names += [f"T.log(xi.{j + 1})" for j in range(layout["log_xi"].stop
                                                      - layout["log_xi"].start)]
    names += [f"B.D{j + 1}" for j in range(q * (q + 1) // 2)]
    return names


@renamed_arguments(time="visit_time")
def fit_joint(data: pd.DataFrame, longitudinal: str,
              survival: str = "Surv(survival_months / 12, event) ~ age + sex", *,
              visit_time: str = "years", association: str = "value", baseline: str = "weibull",
              subject: str = "subject", gh_nodes: int | None = None, ci_level: float = 0.95
              ) -> JointResult:
    """Fit a shared-random-effects joint model by maximum likelihood, as JM's ``jointModel``.

    The longitudinal sub-model is a linear mixed model (one random block per subject); the
    hazard is proportional, with a Weibull or piecewise-constant baseline, and depends on the
    subject's current true biomarker value and/or slope (JM's ``parameterization`` "value",
    "slope", "both"). The random effects are integrated out with pseudo-adaptive Gauss-Hermite
    quadrature centred on the mixed model's empirical-Bayes modes (JM's ``-aGH`` methods).

    Parameters
    ----------
    data : pandas.DataFrame
        One row per visit (not modified). Survival columns constant within subject.
    longitudinal : str
        lme4-style formula with one random block grouped by ``subject``, e.g.
        ``"wmh_mm3 ~ group * years + age + sex + (1 + years | subject)"``.
    survival : str
        ``"Surv(time, event) ~ covariates"``; time and event may be R expressions (evaluated by
        the formula layer, never by ``eval``), so that the time is on the scale of
        ``visit_time`` (``survival_months / 12`` for ``years``) and the event may be a
        comparison (``status == 2``); an event coded 1/2 is read as R's ``Surv`` reads it.
    visit_time : str
        The longitudinal (visit) time column (JM's ``timeVar``; was ``time``); the
        longitudinal mean is evaluated at the survival times by replacing it (other covariates
        from the subject's first visit).
    association : {"value", "slope", "value+slope"}
    baseline : {"weibull", "piecewise"}
        Weibull (``weibull-PH-aGH``) or piecewise-constant with 7 intervals split at the
        quantiles of the observed times (``piecewise-PH-aGH``).
    subject : str
        Subject column (the grouping factor of the random effects).
    gh_nodes : int, optional
        Gauss-Hermite nodes per random-effect dimension; default JM's (5 if at most 3 random
        effects and under 2000 visits, else 3).
    ci_level : float

    Returns
    -------
    JointResult

    Raises
    ------
    DataValidationError
        Subjects without a visit, visits after the event time, survival columns varying within
        subject, missing or invalid times/events, no events -- naming subjects and columns.
    FormulaError
        Formulas that cannot be parsed, a random block not grouped by ``subject``.

    Notes
    -----
    Differences from JM: the optimum is found by BFGS on the analytic score followed by Newton
    steps on the observed information (JM: EM then BFGS, which stops up to ~0.01 log-likelihood
    units short on R's own data); standard errors come from central differences of the analytic
    score (JM: forward differences). The quadrature grid is centred on the REML empirical-Bayes
    modes of alsstats' own mixed model (lme4's optimum); nlme's, which JM uses, stop slightly
    short (pbc2: modes 1.7e-5 apart, REML log-likelihood 1.2e-7 lower), which moves the joint
    log-likelihood by up to 8e-5 on JM's data sets (tests/reference/joint.json).
    The derivative of the longitudinal design in time (``slope``) is taken by a central
    difference, exact for designs polynomial up to degree 2 in time (JM asks for ``derivForm``).

    Examples
    --------
    >>> import alsstats as als
    >>> visits = als.load_example_cohort()
    >>> als_visits = visits[visits.group == "ALS"]
    >>> fit = als.fit_joint(als_visits, "wmh_mm3 ~ years + age + sex + (1 + years | subject)",
    ...                     "Surv(survival_months / 12, event) ~ age + sex")
    >>> list(fit.survival.index)
    ['age', 'sexM', 'value']
    """
    if association not in _ASSOCIATIONS:
        raise ValueError(f"association must be one of {_ASSOCIATIONS}, got {association!r}")
    if baseline not in _BASELINES:
        raise ValueError(f"baseline must be one of {tuple(_BASELINES)}, got {baseline!r}")
    jd = build_joint(data, longitudinal, survival, visit_time, association, baseline, subject,
                     gh_nodes, _lme_start)
    pr = jd.problem
    st = jd.lme_start
    theta0 = start_values(pr, st["beta"], st["sigma"], st["D"], jd.event_time)
    opt = maximize(pr, theta0)
    theta = jd.external(opt["theta"])
    try:
        vcov = jd.external_vcov(np.linalg.inv(opt["information"]))
    except np.linalg.LinAlgError:
        vcov = np.full_like(opt["information"], np.nan)
    loglik = opt["loglik"] - len(pr.y) * np.log(jd.scale)
    eigen = np.linalg.eigvalsh(opt["information"])
    if not np.all(eigen > 1e-8 * max(abs(eigen).max(), 1.0)):
        warnings.warn("fit_joint: the observed information is not positive definite at the "
                      "estimate (as JM's 'Hessian matrix at convergence is not positive "
                      "definite'): standard errors are unreliable (NaN where negative); the model "
                      "may be over-parameterised for the number of events.", ConvergenceWarning,
                      stacklevel=user_stacklevel())
    se = np.sqrt(np.where(np.diag(vcov) >= 0, np.diag(vcov), np.nan))
    L = pr.layout
    x_names, z_names = st["x_names"], st["z_names"]
    long_tab = wald_table(x_names, theta[L["beta"]], se[L["beta"]], ci_level)
    surv_names, sl = list(jd.w_names), [L["gamma"]]
    if pr.value:
        surv_names.append("value")
        sl.append(L["alpha"])
    if pr.slope:
        surv_names.append("slope")
        sl.append(L["alpha_s"])
    idx = np.concatenate([np.arange(s.start, s.stop) for s in sl])
    surv_tab = wald_table(surv_names, theta[idx], se[idx], ci_level)
    surv_tab["hazard_ratio"] = np.exp(surv_tab["estimate"])
    if baseline == "weibull":
        bidx = np.array([L["gamma0"].start, L["log_shape"].start])
        base_tab = wald_table(["intercept", "log_shape"], theta[bidx], se[bidx], ci_level)
    else:
        bidx = np.arange(L["log_xi"].start, L["log_xi"].stop)
        base_tab = wald_table([f"log_rate_{j + 1}" for j in range(len(bidx))], theta[bidx],
                              se[bidx], ci_level)
        bounds = np.concatenate([[0.0], jd.knots, [np.inf]])
        base_tab.insert(0, "end", bounds[1:])
        base_tab.insert(0, "start", bounds[:-1])
    q = pr.q
    D, _ = chol_to_cov(theta[L["D"]], q)
    sigma = float(np.exp(theta[L["log_sigma"]][0]))
    sd = np.sqrt(np.diag(D))
    rows = []
    for i, term in enumerate(z_names):
        corr = {z_names[j]: D[i, j] / (sd[i] * sd[j]) for j in range(i)}
        rows.append((subject, term, D[i, i], sd[i], corr))
    rows.append(("Residual", "", sigma ** 2, sigma, {}))
    varcorr = pd.DataFrame(rows, columns=["group", "term", "variance", "std_dev", "corr_with"])
    post_mean = jd.scale * pr.posterior_moments(opt["theta"])[0]
    names = _vcov_names(x_names, jd.w_names, L, baseline, q)
    n_sub, n_par = len(jd.subjects), len(theta)
    method = {
        "method": _BASELINES[baseline], "association": association,
        "formula": {"longitudinal": longitudinal, "survival": survival}, "time": visit_time,
        "subject": subject, "gh_nodes": jd.n_nodes,
        "quadrature": "pseudo-adaptive Gauss-Hermite (grid from the REML mixed model's "
                      "empirical-Bayes modes and covariances, as JM's -aGH)",
        "survival_integral": ("15-point Gauss-Kronrod on [0, T]" if baseline == "weibull"
                              else "7-point Gauss-Legendre per baseline interval"),
        "optimizer": "BFGS (analytic score) + Newton (observed information)",
        "converged": opt["converged"], "n_evaluations": opt["n_evaluations"],
        "max_gradient": float(np.max(np.abs(opt["gradient"]))),
        "response_scale": jd.scale,
        "standard_errors": "observed information (central differences of the analytic score)",
        "ci_level": ci_level,
    }
    return JointResult(
        longitudinal=long_tab, survival=surv_tab, baseline=base_tab, knots=jd.knots,
        varcorr=varcorr, random_effects_cov=pd.DataFrame(D, index=z_names, columns=z_names),
        residual_sd=sigma, loglik=loglik, aic=-2 * loglik + 2 * n_par,
        bic=-2 * loglik + np.log(n_sub) * n_par,
        random_effects=pd.DataFrame(post_mean, index=jd.subjects, columns=z_names),
        vcov=pd.DataFrame(vcov, index=names, columns=names), method=method,
        nobs=len(pr.y), n_subjects=n_sub, n_events=int(jd.event.sum()), n_params=n_par,
        n_dropped_rows=jd.n_dropped_rows, _theta=theta, _data=jd)

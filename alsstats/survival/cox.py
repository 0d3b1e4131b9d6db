"""Cox proportional-hazards models with R ``coxph``'s numbers (Efron and Breslow ties)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from alsstats._deprecation import formerly_positional, renamed_arguments, renamed_attribute
from alsstats._stack import user_stacklevel
from alsstats.errors import (
    ConvergenceWarning,
    DataValidationError,
    FormulaError,
    RankDeficiencyWarning,
)
from alsstats.summary import Summary, lines, render_summary, standard_frame, table
from alsstats.survival import _engine
from alsstats.survival.formula import SurvFormula, build_cox_design, parse_surv_formula
from alsstats.survival.km import km_steps
from alsstats.validation import (
    check_time_event,
    drop_missing,
    one_row_per_subject,
    require_columns,
)

__all__ = ["CoxResult", "fit_cox"]

TIES = ("efron", "breslow")
ZPH_TRANSFORMS = ("km", "identity", "rank", "log")


@dataclass(frozen=True)
class CoxResult:
    """A fitted Cox model.

    Attributes
    ----------
    coefficients : pandas.DataFrame
        Index ``term`` (R's names, e.g. ``sexM``); columns ``estimate`` (log hazard ratio),
        ``hazard_ratio``, ``std_error``, ``statistic`` (Wald z), ``p_value``, ``ci_low``,
        ``ci_high`` (Wald interval of the log hazard ratio), ``hazard_ratio_ci_low``,
        ``hazard_ratio_ci_high``; with ``robust=True`` also ``naive_std_error`` (the
        model-based SE; ``std_error`` and everything after it are then robust, as in R).
    vcov : pandas.DataFrame
        Variance matrix of the estimates (robust when ``robust=True``).
    loglik, loglik_null : float
        Log partial likelihood at the estimate and at beta = 0 (R's ``fit$loglik[2:1]``).
    tests : pandas.DataFrame
        Index ``test`` (``likelihood_ratio``, ``wald``, ``score``); columns ``statistic, df,
        p_value``: the global tests of R's ``summary.coxph`` (Wald uses the robust variance
        when ``robust=True``).
    n, n_events, n_subjects : int
        Rows used (intervals for counting-process data), events, and distinct subjects (equal
        to ``n`` when there is no subject column).
    ties : str
        ``"efron"`` or ``"breslow"``.
    strata : list of str
        Stratifying columns (separate baseline hazards).
    iterations : int
        Newton-Raphson iterations.
    converged : bool
        Whether the iterations met R's criterion and settled.
    method : dict
        ``formula``, ``ties``, ``variance`` (model-based or robust), ``strata``,
        ``ci_level``, ``estimation``.
    ci_level : float
        Level of the Wald intervals (``conf_level``, its former name, still works for one
        release with a deprecation warning).
    intervals : pandas.DataFrame or None
        For :func:`fit_cox_time_varying`: the (start, stop] rows the model was fitted to.
    n_obs : int
        As ``n``.
    """

    coefficients: pd.DataFrame
    vcov: pd.DataFrame
    loglik: float
    loglik_null: float
    tests: pd.DataFrame
    n: int
    n_events: int
    n_subjects: int
    ties: str
    strata: list[str]
    iterations: int
    converged: bool
    method: dict[str, Any]
    ci_level: float
    intervals: pd.DataFrame | None = None
    _data: Any = field(default=None, repr=False)
    _fit: Any = field(default=None, repr=False)
    _terms: dict[str, list[int]] = field(default_factory=dict, repr=False)

    conf_level = renamed_attribute("conf_level", "ci_level")

    @property
    def n_obs(self) -> int:
        """Rows used (intervals for counting-process data), as ``n``."""
        return self.n

    def to_frame(self) -> pd.DataFrame:
        """The coefficients as a tidy table.

        Returns
        -------
        pandas.DataFrame
            One row per coefficient: ``term`` (R's name), ``estimate`` (log hazard ratio),
            ``std_error``, ``statistic`` (Wald z), ``df`` (NaN: a z test), ``p_value``,
            ``ci_low``, ``ci_high`` (Wald interval of the log hazard ratio at
            :attr:`ci_level`); then ``hazard_ratio``, ``hazard_ratio_ci_low``,
            ``hazard_ratio_ci_high`` and, with ``robust=True``, ``naive_std_error``.
        """
        return standard_frame(self.coefficients)

    @cached_property
    def concordance(self) -> float:
        """Harrell's C as R reports it for ``coxph`` (``survival::concordance``).

        Pairs of an event and a subject still at risk after that time (same stratum); ties in
        the linear predictor count 1/2, tied event times are not compared.
        """
        conc, disc, tx, _ = _engine.concordance_counts(
            self._data, _engine.linear_predictor(self._data.x, self._fit.beta))
        total = conc + disc + tx
        return float((conc + tx / 2) / total) if total else float("nan")

    def check_proportional_hazards(
        self, transform: str = "km", terms: bool = True, global_test: bool = True
    ) -> pd.DataFrame:
        """Score tests of proportional hazards on scaled Schoenfeld residuals (R ``cox.zph``).

        Parameters
        ----------
        transform : {"km", "identity", "rank", "log"}
            Time scale g(t) (R's default ``"km"``: one minus the left-continuous pooled
            Kaplan-Meier curve).
        terms : bool
            One test per model term (a factor's columns together), else one per column.
        global_test : bool
            Add the ``GLOBAL`` row.

        Returns
        -------
        pandas.DataFrame
            Columns ``term, statistic, df, p_value`` (chi-square); last row ``GLOBAL``.

        Notes
        -----
        This is the test of survival >= 3.0: the score test for adding ``x * g(t)`` at
        ``(beta_hat, 0)``, which differs from the older correlation-based ``cox.zph`` and from
        lifelines' ``proportional_hazard_test`` (which uses the older approximation).
        """
        if transform not in ZPH_TRANSFORMS:
            raise ValueError(f"transform must be one of {ZPH_TRANSFORMS}, got {transform!r}")
        data, fit = self._data, self._fit
        p = len(fit.beta)
        gtime = _zph_gtime(data, transform)
        u, imat = _engine.zph_pieces(data, fit.pieces, gtime)
        groups = self._terms if terms else {c: [i] for i, c in
                                            enumerate(self.coefficients.index)}
        u0 = np.zeros(p)
        rows = []
        for name, cols in groups.items():
            kk = list(range(p)) + [p + j for j in cols]
            uu = np.concatenate([u0, u[[p + j for j in cols]]])
            stat = float(uu @ np.linalg.solve(imat[np.ix_(kk, kk)], uu))
            rows.append((name, stat, len(cols)))
        if global_test:
            uu = np.concatenate([u0, u[p:]])
            rows.append(("GLOBAL", float(uu @ np.linalg.solve(imat, uu)), p))
        out = pd.DataFrame(rows, columns=["term", "statistic", "df"])
        out["p_value"] = stats.chi2.sf(out["statistic"], out["df"])
        return out

    def summary(self) -> Summary:
        """Method, counts, coefficients (log hazard ratios and hazard ratios) and the global
        tests, as R's ``summary.coxph`` reports them."""
        head = {"formula": self.method["formula"], "ties": self.ties,
                "variance": self.method["variance"], "strata": self.strata or None,
                "n": self.n, "events": self.n_events, "subjects": self.n_subjects,
                "ci_level": self.ci_level, "log-likelihood": self.loglik,
                "null log-likelihood": self.loglik_null, "concordance": self.concordance,
                "converged": self.converged}
        return render_summary("Cox proportional hazards model", [
            lines(None, head),
            table("Coefficients", self.to_frame().drop(columns="df")),
            table("Global tests", self.tests)])

    def __repr__(self) -> str:
        return self.summary().text


def _zph_gtime(data: _engine.CoxData, transform: str) -> np.ndarray:
    """g(t) per event group, centred by its mean over event rows (as R's ``cox.zph``)."""
    stop = data.stop
    gtime_time = data.stop[data.death_rows[np.concatenate(
        [[0], np.cumsum(data.group_size)[:-1]])]]
    if transform == "identity":
        g = gtime_time
    elif transform == "log":
        g = np.log(gtime_time)
    elif transform == "rank":
        g = stats.rankdata(stop)[data.death_rows[np.concatenate(
            [[0], np.cumsum(data.group_size)[:-1]])]]
    else:
        steps = km_steps(stop, data.event, data.start)
        t = steps["time"].to_numpy()
        s = np.concatenate([[1.0], steps["survival"].to_numpy()])
        g = 1.0 - s[np.searchsorted(t, gtime_time, side="left")]
    mean = np.sum(g * data.group_size) / data.group_size.sum()
    return g - mean


def _rank_filter(x: np.ndarray, names: list[str]) -> list[int]:
    """Columns kept greedily so the (centred) design has full column rank, as R's NA coefs."""
    xc = x - x.mean(axis=0)
    keep: list[int] = []
    for j in range(x.shape[1]):
        trial = xc[:, [*keep, j]]
        if np.linalg.matrix_rank(trial) == len(keep) + 1:
            keep.append(j)
    return keep


def _refuse_non_finite(x: np.ndarray, names: list[str], df: pd.DataFrame,
                       subject: str | None) -> None:
    """R's coxph refuses Inf in the model matrix; a non-finite value would otherwise surface as
    a linear-algebra failure far from its cause."""
    bad = ~np.isfinite(x)
    if not bad.any():
        return
    problems = []
    for j in np.flatnonzero(bad.any(axis=0)):
        rows = np.flatnonzero(bad[:, j])
        labels = (df[subject].to_numpy()[rows] if subject is not None and subject in df.columns
                  else df.index.to_numpy()[rows])
        kind = "subject" if subject is not None and subject in df.columns else "row"
        shown = ", ".join(f"{kind} {label} = {x[r, j]:g}" for label, r in
                          zip(labels[:5], rows[:5], strict=True))
        more = f" and {len(rows) - 5} more" if len(rows) > 5 else ""
        problems.append(f"covariate '{names[j]}' is not finite at {shown}{more}; fix or remove "
                        "those values (R's coxph refuses them too)")
    raise DataValidationError(problems)


def _fit(
    df: pd.DataFrame,
    sf: SurvFormula,
    ties: str,
    strata: list[str],
    robust: bool,
    cluster: str | None,
    conf_level: float,
    subject: str | None,
    max_iter: int,
) -> CoxResult:
    """Fit on rows that already passed the checks (no missing values)."""
    design = build_cox_design(df, sf.rhs, id_column=subject if subject in df.columns else None)
    x, names, terms = design.matrix, design.columns, design.terms
    _refuse_non_finite(x, names, df, subject)
    if x.shape[1] == 0:
        raise FormulaError(f"'{sf.formula}' has no covariates; use kaplan_meier() or "
                           "logrank_test() for a model without covariates")
    keep = _rank_filter(x, names)
    if len(keep) < x.shape[1]:
        dropped = [n for i, n in enumerate(names) if i not in keep]
        warnings.warn(f"fit_cox: covariates {dropped} are constant or collinear with earlier "
                      "ones and were left out (R reports NA for them).",
                      RankDeficiencyWarning, stacklevel=user_stacklevel())
        remap = {old: new for new, old in enumerate(keep)}
        terms = {t: [remap[c] for c in cols if c in remap] for t, cols in terms.items()}
        terms = {t: c for t, c in terms.items() if c}
        x, names = x[:, keep], [names[i] for i in keep]
    stop = pd.to_numeric(df[sf.stop]).to_numpy(float)
    event = pd.to_numeric(df[sf.event]).to_numpy(float) == 1
    if not event.any():
        raise DataValidationError([f"column '{sf.event}' has no events (all {len(df)} rows "
                                   "censored): a Cox model cannot be estimated"])
    start = pd.to_numeric(df[sf.start]).to_numpy(float) if sf.start else None
    codes = pd.MultiIndex.from_frame(df[strata]).factorize()[0] if strata else None
    data = _engine.prepare(x, stop, event, codes, start)
    fit = _engine.newton_fit(data, efron=ties == "efron", max_iter=max_iter)
    if not fit.converged:
        warnings.warn(f"fit_cox: Newton-Raphson did not converge in {max_iter} iterations; "
                      "estimates may be unreliable.", ConvergenceWarning, stacklevel=user_stacklevel())
    # R's coxph.fit check: the Newton step still left at the end is not negligible
    step = np.abs(fit.vcov @ fit.pieces.score)
    infinite = (step > 1e-9) & (step > np.sqrt(np.finfo(float).eps) * np.abs(fit.beta))
    if infinite.any():
        warnings.warn(f"fit_cox: the log-likelihood converged before coefficients "
                      f"{[n for n, h in zip(names, infinite, strict=True) if h]}; they may be infinite "
                      "(monotone likelihood: the covariate separates events from those at "
                      "risk) and their estimates and SEs are not meaningful.",
                      ConvergenceWarning, stacklevel=user_stacklevel())
    naive = fit.vcov
    vcov = naive
    if robust:
        resid = _engine.score_residuals(data, fit.pieces) @ naive
        if cluster is not None:
            codes_c, _ = pd.factorize(df[cluster])
            agg = np.zeros((codes_c.max() + 1, resid.shape[1]))
            np.add.at(agg, codes_c, resid)
            resid = agg
        vcov = resid.T @ resid
    est = fit.beta
    se = np.sqrt(np.diag(vcov))
    z = est / se
    q = stats.norm.ppf(1 - (1 - conf_level) / 2)
    with np.errstate(over="ignore"):
        hazard_ratio = np.exp(est)
    coef = pd.DataFrame({
        "estimate": est, "hazard_ratio": hazard_ratio, "std_error": se, "statistic": z,
        "p_value": 2 * stats.norm.sf(np.abs(z)), "ci_low": est - q * se, "ci_high": est + q * se,
    }, index=pd.Index(names, name="term"))
    with np.errstate(over="ignore"):
        coef["hazard_ratio_ci_low"] = np.exp(coef["ci_low"].to_numpy())
        coef["hazard_ratio_ci_high"] = np.exp(coef["ci_high"].to_numpy())
    if robust:
        coef.insert(3, "naive_std_error", np.sqrt(np.diag(naive)))
    p = len(est)
    lr = 2 * (fit.loglik - fit.loglik_null)
    wald = float(est @ np.linalg.solve(vcov, est))
    tests = pd.DataFrame({"statistic": [lr, wald, fit.score_test], "df": [p, p, p]},
                         index=pd.Index(["likelihood_ratio", "wald", "score"], name="test"))
    tests["p_value"] = stats.chi2.sf(tests["statistic"], tests["df"])
    n_subjects = df[subject].nunique() if subject is not None and subject in df else len(df)
    variance = "model-based (inverse information)"
    if robust:
        variance = f"robust sandwich (clustered by {cluster})" if cluster else "robust sandwich"
    return CoxResult(
        coefficients=coef, vcov=pd.DataFrame(vcov, index=names, columns=names),
        loglik=fit.loglik, loglik_null=fit.loglik_null, tests=tests, n=len(df),
        n_events=int(event.sum()), n_subjects=int(n_subjects), ties=ties, strata=list(strata),
        iterations=fit.iterations, converged=fit.converged, ci_level=conf_level,
        method={"formula": sf.formula, "ties": ties, "variance": variance,
                "strata": list(strata), "ci_level": conf_level,
                "estimation": "Newton-Raphson on the partial likelihood (R coxph.fit)"},
        _data=data, _fit=fit, _terms=terms,
    )


def prepare_frame(
    data: pd.DataFrame, sf: SurvFormula, strata: list[str], cluster: str | None,
    subject: str | None, what: str,
) -> pd.DataFrame:
    """Check columns, collapse a visit table to subjects, drop missing rows, check times.

    ``strata`` and ``cluster`` are columns given as arguments (the formula's own ``strata()``
    and ``cluster()`` terms are read from ``sf``). Surv/strata/cluster arguments that are
    expressions (``status == 2``) become columns of the returned copy, named by their R text.
    """
    given = [*strata, *([cluster] if cluster else [])]
    surv_cols = sf.surv_columns()
    special = [c for c in sf.special_columns() + given if c not in surv_cols]
    require_columns(data, list(dict.fromkeys(surv_cols + special)), caller=what)
    variables = sf.variables(data)
    cols = list(dict.fromkeys(surv_cols + variables + special))
    df = data
    if sf.start is None:
        df = one_row_per_subject(df, cols, subject, caller=what)
    df = drop_missing(df, cols, subject, caller=what)
    if len(df) == 0:
        raise DataValidationError([f"{what}: no rows left with every model column present"])
    df = sf.materialise(df)
    check_time_event(df, sf.stop, sf.event, start=sf.start, subject=subject, caller=what)
    return df


@formerly_positional("ties", "strata", "robust", "cluster", "ci_level", "subject", "max_iter")
@renamed_arguments(conf_level="ci_level")
def fit_cox(
    data: pd.DataFrame,
    formula: str,
    *,
    ties: str = "efron",
    strata: str | list[str] | None = None,
    robust: bool = False,
    cluster: str | None = None,
    ci_level: float = 0.95,
    subject: str | None = "subject",
    max_iter: int = 30,
) -> CoxResult:
    """Fit a Cox proportional-hazards model, as R's ``coxph``.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per subject (the visit table is accepted when every model column is constant
        within subject; one row per subject is then used), or (start, stop] rows for
        ``Surv(start, stop, event)``.
    formula : str
        ``"Surv(time, event) ~ covariates"`` or ``"Surv(start, stop, event) ~ covariates"``,
        in R's grammar (:mod:`alsstats.formula`): Surv() arguments may be expressions
        (``Surv(time, status == 2)``, ``Surv(months / 12, event)``; a 1/2 status is read as
        R's ``Surv`` reads it), covariates may use ``I()``, ``log()``, ``poly()``, ``ns()``,
        ``factor()`` etc.; ``strata(a, b)`` and ``cluster(x)`` terms are understood as in R.
    ties : {"efron", "breslow"}
        Handling of tied event times (R's default is Efron).
    strata : str or list of str, optional
        Columns defining strata with separate baseline hazards (added to any ``strata()``
        terms of the formula).
    robust : bool
        Use the robust sandwich variance (R ``robust=TRUE``); with ``cluster`` the score
        residuals are summed within clusters first.
    cluster : str, optional
        Column of cluster ids for the robust variance (implies ``robust=True``).
    ci_level : float
        Level of the Wald intervals (was ``conf_level``).
    subject : str or None
        Subject column, used to collapse a visit table and to count subjects.
    max_iter : int
        Newton-Raphson iteration limit.

    Returns
    -------
    CoxResult
        ``.coefficients`` (columns ``estimate, hazard_ratio, [naive_std_error,] std_error,
        statistic, p_value, ci_low, ci_high, hazard_ratio_ci_low, hazard_ratio_ci_high``),
        ``.vcov``, ``.loglik``, ``.loglik_null``, ``.tests`` (``statistic, df, p_value`` for
        the likelihood-ratio, Wald and score tests), ``.concordance``, ``.n``, ``.n_events``,
        ``.n_subjects``, ``.method`` and ``.check_proportional_hazards()``.

    Notes
    -----
    Newton-Raphson from zero with step halving and R's stopping rule (relative change of the
    log-likelihood <= 1e-9), followed by steps until the estimate settles, so the estimates
    are R's to about 1e-9 relative. Breslow ties are computed here exactly as R does;
    lifelines' CoxPHFitter has Efron only and statsmodels' PHReg does not give R's robust
    variance or ``cox.zph``. Rows with missing values in model columns are left out with a
    DroppedRowsWarning (R drops them silently). Constant or collinear covariates are left
    out with a RankDeficiencyWarning (R reports NA coefficients). Unused factor levels are
    dropped rather than reported as NA.

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"survival_months": [5, 8, 12, 12, 20, 25, 30, 31],
    ...                   "event": [1, 1, 1, 0, 1, 0, 1, 0],
    ...                   "wmh_base": [9.0, 7.5, 8.0, 3.0, 6.0, 2.5, 4.0, 1.0]})
    >>> fit = fit_cox(d, "Surv(survival_months, event) ~ wmh_base")
    >>> list(fit.coefficients.index)
    ['wmh_base']
    >>> bool(fit.coefficients.loc["wmh_base", "hazard_ratio"] > 1)
    True
    """
    if ties not in TIES:
        raise ValueError(f"ties must be one of {TIES}, got {ties!r}")
    sf = parse_surv_formula(formula)
    given_strata = [strata] if isinstance(strata, str) else list(strata or [])
    strata_cols = list(dict.fromkeys(list(sf.strata) + given_strata))
    df = prepare_frame(data, sf, given_strata, cluster, subject, "fit_cox")
    cluster = cluster or sf.cluster
    robust = robust or cluster is not None
    return _fit(df, sf, ties, strata_cols, robust, cluster, ci_level, subject, max_iter)

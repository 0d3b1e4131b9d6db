"""Survival from the baseline MRI in ALS, as one recipe: survival groups, Kaplan-Meier and
log-rank by baseline WMH, Cox models (Efron and Breslow ties), the proportional-hazards check
and a Cox model with WMH as a time-varying covariate (Chadwick et al. 2026)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

from alsstats._deprecation import renamed_arguments
from alsstats._stack import user_stacklevel
from alsstats.analyses._common import (
    EFFECT_COLUMNS,
    Columns,
    _covariate_terms,
    _excluded,
    _patients,
    _validated,
)
from alsstats.errors import DataValidationError, DroppedRowsWarning
from alsstats.results import AnalysisResult

__all__ = ["survival_analysis"]

BASELINE_WMH_LEVELS = ["low", "high"]
"""Levels of the baseline-WMH split: ``low`` (at or below the patients' median) first."""


def _cox_rows(fit, term: str, label: str, description: str, per: float) -> pd.DataFrame:
    row = fit.coefficients.loc[[term]].assign(df=np.inf)[EFFECT_COLUMNS]
    row.index = pd.Index([label], name="term")
    return row.assign(units=f"log hazard ratio per {per:g} mm3", description=description)


@renamed_arguments(visits="data")
def survival_analysis(
    data: pd.DataFrame,
    *,
    cutoff_months: float = 24,
    covariates: Sequence[str] = ("age", "sex"),
    wmh_per: float = 1000.0,
    ties: str = "efron",
    conf_type: str = "log",
    ci_level: float = 0.95,
    subject: str = "subject",
    visit_time: str = "years",
    diagnosis: str = "group",
    survival_time: str = "survival_months",
    event: str = "event",
) -> AnalysisResult:
    """Does WMH carry information on survival in ALS? The paper's survival analyses at once.

    On the ALS patients (rows whose ``diagnosis`` is not ``control``):

    1. survival groups at ``cutoff_months`` from the baseline MRI
       (:func:`alsstats.survival_groups`: short, long, unclassified);
    2. Kaplan-Meier curves and a log-rank test by baseline WMH, above vs at or below the
       patients' median (:func:`alsstats.kaplan_meier`, :func:`alsstats.logrank_test`);
    3. a Cox model ``Surv(survival_months, event) ~ wmh_per_1000 + age + sex`` on the baseline
       values, with ``ties`` and with the other of Efron/Breslow beside it
       (:func:`alsstats.fit_cox`), and its proportional-hazards check (R's ``cox.zph``);
    4. a Cox model with WMH as a time-varying covariate, carried forward from each visit
       (:func:`alsstats.fit_cox_time_varying`).

    Parameters
    ----------
    data : pandas.DataFrame
        A visit table with ``wmh_mm3``, the survival columns and the covariates (validated
        here). ``visits=`` is the former name of this argument.
    cutoff_months : float
        Cut-off of the survival groups, months from the baseline MRI (default 24).
    covariates : sequence of str
        Covariates of the Cox models besides WMH (default age and sex).
    wmh_per : float
        Hazard ratios per this many mm3 of WMH (default 1000; per mm3 they would read 1.000).
    ties : {"efron", "breslow"}
        Tie handling of the main Cox model (R's default Efron); the other one is fitted too.
    conf_type : {"log", "log-log", "plain"}
        Transform of the Kaplan-Meier intervals (R's default log).
    ci_level : float
        Level of every confidence interval (default 0.95).
    subject, visit_time : str
        The table's subject-id and visit-time (years since the baseline MRI) columns; the
        baseline values are each patient's first visit.
    diagnosis : str
        The diagnosis column; its ``control`` rows are left out.
    survival_time, event : str
        Months from the baseline MRI to death or censoring, and 1 for death / 0 for censored.

    Returns
    -------
    AnalysisResult
        ``effect``: rows ``wmh_per_1000`` (log hazard ratio of baseline WMH per ``wmh_per``
        mm3, the main Cox model) and ``wmh_per_1000 (time-varying)`` (of the current WMH);
        columns ``estimate, std_error, df`` (inf: z tests), ``statistic, p_value, ci_low,
        ci_high, units, description``. ``coefficients``: the main Cox model's table (with
        ``hazard_ratio`` columns); ``model``: that :class:`~alsstats.CoxResult`. ``counts``:
        ``group`` (baseline WMH ``low``/``high``), ``n_subjects, n_visits, n_events``.
        ``data``: one row per patient analysed (baseline values, ``baseline_wmh``,
        ``wmh_per_1000``). ``excluded``: ``subject, reason`` (the reason says which models).
        ``extra``: ``survival_groups`` (:class:`~alsstats.SurvivalGroups`),
        ``kaplan_meier``, ``logrank``, ``cox_breslow`` (or ``cox_efron`` when
        ``ties="breslow"``), ``proportional_hazards`` (``term, statistic, df, p_value``, the
        last row ``GLOBAL``), ``cox_time_varying``, ``median_wmh`` (mm3). ``method``: formula,
        ties, estimation, CI level, Kaplan-Meier variance and transform, log-rank test,
        proportional-hazards test, time-varying intervals, cut-off, n and events.

    Raises
    ------
    DataValidationError
        If no patient has both a baseline WMH and survival data, there are no events, or
        every patient has the same baseline WMH (no high and low groups).

    Warns
    -----
    DroppedRowsWarning
        For patients left out of Kaplan-Meier, log-rank and Cox (listed in ``excluded``).
    UnclassifiedSubjectsWarning
        From :func:`alsstats.survival_groups`, for patients censored at or before the cut-off.

    Notes
    -----
    The numbers are R's survival package's: ``survfit`` (Greenwood variance),
    ``survdiff``, ``coxph`` and ``cox.zph`` (KM time transform); the time-varying model is
    ``coxph(Surv(tstart, tstop, event) ~ ...)`` on ``tmerge``-style intervals. Baseline WMH is
    the value at the first visit; a patient without one is left out of the baseline models but
    enters the time-varying model at the first visit with WMH.

    Examples
    --------
    >>> import warnings, alsstats as als
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore", als.AlsstatsWarning)
    ...     result = als.survival_analysis(als.load_example_cohort())
    >>> result.effect.index.tolist()
    ['wmh_per_1000', 'wmh_per_1000 (time-varying)']
    >>> result.method["cutoff_months"], result.method["ties"]
    (24, 'efron')
    """
    from alsstats.survival import (
        baseline_values,
        fit_cox,
        fit_cox_time_varying,
        kaplan_meier,
        logrank_test,
        survival_groups,
    )

    if ties not in ("efron", "breslow"):
        raise ValueError(f"ties must be 'efron' or 'breslow', got {ties!r}")
    columns = Columns(subject=subject, visit_time=visit_time, diagnosis=diagnosis,
                      survival_time=survival_time, event=event)
    table = _validated(data, require=["wmh_mm3", survival_time, event, *covariates],
                       columns=columns)
    patients = _patients(table, columns)
    if patients.empty:
        raise DataValidationError(f"column {diagnosis!r}: no ALS subjects; survival needs them")
    groups = survival_groups(patients, cutoff_months=cutoff_months,
                             survival_time=survival_time, event=event, subject=subject,
                             diagnosis=diagnosis)
    everyone = baseline_values(patients, columns=["wmh_mm3", *covariates, survival_time, event],
                               subject=subject, visit_time=visit_time)
    usable = (everyone["wmh_mm3"].notna() & everyone[survival_time].notna()
              & everyone[event].notna())
    left_out = everyone.loc[~usable, [subject, "wmh_mm3"]]
    reasons = [("no WMH at the baseline (first) visit (the time-varying Cox uses later "
                "visits)" if pd.isna(wmh) else "survival time and event missing")
               + " (Kaplan-Meier, log-rank, Cox)" for wmh in left_out["wmh_mm3"]]
    excluded = [_excluded(list(zip(left_out[subject], reasons, strict=True)))]
    base = everyone[usable.to_numpy()].copy()
    if base.empty:
        raise DataValidationError(
            f"survival: none of the {len(everyone)} ALS subjects has both a baseline WMH "
            f"(wmh_mm3 at the first visit) and {survival_time}/{event}")
    events = int(base[event].sum())
    if events == 0:
        raise DataValidationError(
            f"survival: no events (deaths) among the {len(base)} ALS subjects with a baseline "
            "WMH and survival data; Kaplan-Meier, log-rank and Cox need at least one")
    if len(left_out):
        warnings.warn(
            f"survival: {len(left_out)} of {len(everyone)} ALS subjects left out of "
            f"Kaplan-Meier, log-rank and Cox ({pd.Series(reasons).value_counts().to_dict()}); "
            "listed in the result's excluded table.", DroppedRowsWarning, stacklevel=user_stacklevel())
    median = float(base["wmh_mm3"].median())
    base["baseline_wmh"] = pd.Categorical(
        np.where(base["wmh_mm3"] > median, "high", "low"), categories=BASELINE_WMH_LEVELS)
    if base["baseline_wmh"].nunique() < 2:
        raise DataValidationError(
            f"survival: every one of the {len(base)} ALS subjects has the same baseline WMH "
            f"({median:g} mm3), so there are no high and low groups to compare")
    covariate = f"wmh_per_{wmh_per:g}"
    base[covariate] = base["wmh_mm3"] / wmh_per
    km = kaplan_meier(base, survival_time=survival_time, event=event, by="baseline_wmh",
                      conf_type=conf_type, ci_level=ci_level, subject=None)
    logrank = logrank_test(base, survival_time=survival_time, event=event, by="baseline_wmh",
                           subject=None)
    surv = f"Surv({columns.q('survival_time')}, {columns.q('event')})"
    formula = f"{surv} ~ " + " + ".join([covariate, *_covariate_terms(covariates, False)])
    cox = fit_cox(base, formula, ties=ties, ci_level=ci_level, subject=None)
    other_ties = "breslow" if ties == "efron" else "efron"
    other = fit_cox(base, formula, ties=other_ties, ci_level=ci_level, subject=None)
    zph = cox.check_proportional_hazards()
    time_varying = fit_cox_time_varying(
        patients.assign(**{covariate: patients["wmh_mm3"] / wmh_per}), formula,
        ties=ties, ci_level=ci_level, subject=subject, visit_time=visit_time)
    # The time-varying model uses every visit with WMH (a subject enters at the first one);
    # only subjects with no WMH at any visit are left out of it.
    entered = (set(time_varying.intervals[subject]) if time_varying.intervals is not None
               else set(patients[subject]))
    never = [s for s in pd.unique(patients[subject]) if s not in entered]
    excluded.append(_excluded([(s, "no WMH at any visit, or no follow-up after it "
                                   "(time-varying Cox)") for s in never]))
    effect = pd.concat([
        _cox_rows(cox, covariate, covariate,
                  f"baseline WMH on the hazard of death (Cox, {ties} ties)", wmh_per),
        _cox_rows(time_varying, covariate, f"{covariate} (time-varying)",
                  "current WMH on the hazard of death (time-varying Cox)", wmh_per),
    ])
    n_visits = patients[subject].value_counts()
    counts = (base.groupby("baseline_wmh", observed=False)
              .agg(n_subjects=(subject, "size"), n_events=(event, "sum"))
              .rename_axis("group").reset_index())
    counts.insert(2, "n_visits", [int(n_visits.reindex(base.loc[
        base["baseline_wmh"] == level, subject]).sum()) for level in counts["group"]])
    counts["group"] = counts["group"].astype(str)
    counts["n_events"] = counts["n_events"].astype(int)
    km_level = km.ci_level
    method = {
        "formula": formula,
        "ties": ties,
        "estimation": f"{cox.method['estimation']}; {other_ties} ties alongside",
        "df_method": "normal (z)",
        "ci": f"{cox.ci_level:.0%} Wald",
        "ci_level": ci_level,
        "population": "ALS with a baseline WMH and survival data",
        "n_patients": len(everyone),
        "n_subjects": len(base),
        "n_events": events,
        "cutoff_months": cutoff_months,
        "survival_groups": ", ".join(f"{row.survival_group} {row.n_subjects}" for row in
                                     groups.counts.itertuples()
                                     if row.survival_group != "control"),
        "kaplan_meier": (f"{km.method.get('variance', 'Greenwood')} variance, "
                         f"{km.method.get('conf_type', conf_type)}-transformed pointwise "
                         f"{km_level:.0%} intervals (R survfit)"),
        "km_groups": f"baseline WMH above vs at or below the patients' median ({median:,.0f} "
                     "mm3)",
        "logrank": logrank.method.get("test", "log-rank"),
        "proportional_hazards": "scaled Schoenfeld residuals (R cox.zph, KM time transform)",
        "time_varying": time_varying.method.get(
            "intervals", "(start, stop] intervals, covariates carried forward"),
        "wmh_per": wmh_per,
    }
    return AnalysisResult(
        name="survival_analysis", effect=effect, coefficients=cox.coefficients, model=cox,
        counts=counts, excluded=pd.concat(excluded, ignore_index=True), method=method,
        data=base,
        extra={"survival_groups": groups, "kaplan_meier": km, "logrank": logrank,
               f"cox_{other_ties}": other, "proportional_hazards": zph,
               "cox_time_varying": time_varying, "median_wmh": median},
    )

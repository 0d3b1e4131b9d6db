"""WMH and survival in one joint model, without the survival-group split."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from alsstats._deprecation import renamed_arguments
from alsstats.analyses._common import (
    EFFECT_COLUMNS,
    Columns,
    _covariate_terms,
    _excluded,
    _patients,
    _validated,
    group_counts,
)
from alsstats.errors import DataValidationError
from alsstats.lme import fit_lme
from alsstats.results import AnalysisResult

__all__ = ["wmh_survival_joint"]


@renamed_arguments(visits="data")
def wmh_survival_joint(
    data: pd.DataFrame,
    *,
    association: str = "value",
    baseline: str = "weibull",
    covariates: Sequence[str] = ("age", "sex"),
    n_example_subjects: int = 3,
    horizon_years: float = 5.0,
    ci_level: float = 0.95,
    subject: str = "subject",
    visit_time: str = "years",
    diagnosis: str = "group",
    survival_time: str = "survival_months",
    event: str = "event",
) -> AnalysisResult:
    """WMH and survival in ALS in one joint model, without the survival-group split.

    Fits :func:`alsstats.fit_joint` to the ALS patients: ``wmh_cm3 ~ years + age + sex +
    (1 + years | subject)`` (WMH in cm3 = mm3 / 1000, for a well-scaled optimisation) and
    ``Surv(survival_months / 12, event) ~ age + sex`` with the hazard depending on the current
    true WMH (``association="value"``) and/or its rate (``"slope"``, ``"value+slope"``).
    Answers the paper's question directly: how much does WMH raise the hazard of death, and what
    is the ALS WMH rate once informative dropout (the fastest progressors die first) is modelled.

    Parameters
    ----------
    data : pandas.DataFrame
        A visit table with ``wmh_mm3``, ``survival_months``, ``event`` (validated here).
        ``visits=`` is the former name of this argument.
    association : {"value", "slope", "value+slope"}
    baseline : {"weibull", "piecewise"}
    covariates : sequence of str
        Covariates of both sub-models (default age and sex).
    n_example_subjects : int
        Patients (lowest, middle, highest WMH rate) whose dynamic survival curves are returned
        in ``extra["dynamic_survival"]``.
    horizon_years : float
        Last time of those curves.
    ci_level : float
        Level of the Wald intervals (default 0.95).
    subject, visit_time : str
        The table's subject-id and visit-time (years since the baseline MRI) columns; the
        rate rows are named after ``visit_time``.
    diagnosis : str
        The diagnosis column; its ``control`` rows are left out.
    survival_time, event : str
        Months from the baseline MRI to death or censoring, and 1 for death / 0 for censored.

    Returns
    -------
    AnalysisResult
        ``effect``: rows ``years`` (ALS WMH rate, joint model, mm3/year), ``value`` (log hazard
        ratio per 1000 mm3 of current WMH) and/or ``slope`` (per 1000 mm3/year of current WMH
        rate), and ``years (fit_lme)`` (the same rate from the mixed model alone, ML, which
        ignores the dropout); columns ``estimate, std_error, df (inf: z tests), statistic,
        p_value, ci_low, ci_high, units, description``. ``model``: the
        :class:`alsstats.JointResult`. ``extra``: ``hazard_ratios`` (per 1000 mm3),
        ``lme`` (the mixed model), ``dynamic_survival`` (columns ``subject, time, last_time,
        survival``), ``comparison`` (a sentence on the joint vs mixed-model rate).

    Notes
    -----
    The split analysis (:func:`survival_group_progression`) drops patients censored before
    its cut-off and compares trajectories by an outcome observed later; the joint model keeps every
    patient and models death and WMH together (Rizopoulos 2012), as R's JM.

    Examples
    --------
    >>> import alsstats as als
    >>> result = als.wmh_survival_joint(als.load_example_cohort())
    >>> result.effect.index.tolist()
    ['years', 'value', 'years (fit_lme)']
    """
    from alsstats.joint import fit_joint

    columns = Columns(subject=subject, visit_time=visit_time, diagnosis=diagnosis,
                      survival_time=survival_time, event=event)
    table = _validated(data, require=["wmh_mm3", survival_time, event, *covariates],
                       columns=columns)
    als_rows = _patients(table, columns).copy()
    if als_rows.empty:
        raise DataValidationError(f"column {diagnosis!r}: no ALS subjects; the joint model "
                                  "needs them")
    per_subject = als_rows.groupby(subject, observed=True)
    no_survival = per_subject[survival_time].apply(lambda s: s.isna().all()) | \
        per_subject[event].apply(lambda s: s.isna().all())
    no_wmh = per_subject["wmh_mm3"].apply(lambda s: s.isna().all())
    reasons = [(s, "no survival time or event") for s in no_survival.index[no_survival]]
    reasons += [(s, "no WMH measurement") for s in no_wmh.index[no_wmh & ~no_survival]]
    excluded = _excluded(reasons)
    kept = als_rows[~als_rows[subject].isin(excluded["subject"])].copy()
    kept["wmh_cm3"] = kept["wmh_mm3"] / 1000.0
    time = columns.q("visit_time")
    terms = _covariate_terms(covariates, site=False)
    rhs = " + ".join([time, *terms])
    longitudinal = f"wmh_cm3 ~ {rhs} + (1 + {time} | {columns.q('subject')})"
    survival = (f"Surv({columns.q('survival_time')} / 12, {columns.q('event')}) ~ "
                f"{' + '.join(terms) or '1'}")
    model = fit_joint(kept, longitudinal, survival, visit_time=visit_time, subject=subject,
                      association=association, baseline=baseline, ci_level=ci_level)
    lme = fit_lme(kept.loc[kept["wmh_cm3"].notna()], longitudinal, reml=False,
                  df_method="normal", ci_level=ci_level)
    scale = {time: 1000.0}
    rows = []
    lme_row = lme.coefficients.loc[time]
    for term, key, table_, units, desc in (
        (time, time, model.longitudinal, "mm3/year", "ALS WMH rate, joint model"),
        ("value", "value", model.survival, "log HR per 1000 mm3",
         "current WMH on the hazard of death"),
        ("slope", "slope", model.survival, "log HR per 1000 mm3/year",
         "current WMH rate on the hazard of death"),
        (f"{time} (fit_lme)", time, lme.coefficients, "mm3/year",
         "ALS WMH rate, mixed model alone (ignores informative dropout)")):
        if key not in table_.index:
            continue
        factor = scale.get(key, 1.0)
        row = table_.loc[key]
        rows.append({"term": term, "estimate": factor * row["estimate"],
                     "std_error": factor * row["std_error"], "df": np.inf,
                     "statistic": row["statistic"], "p_value": row["p_value"],
                     "ci_low": factor * row["ci_low"], "ci_high": factor * row["ci_high"],
                     "units": units, "description": desc})
    effect = pd.DataFrame(rows).set_index("term")
    slopes = model.random_effects[time].sort_values()
    picks = slopes.index[np.unique(np.linspace(0, len(slopes) - 1,
                                               n_example_subjects).round().astype(int))]
    dynamic = model.predict_survival(kept[kept[subject].isin(picks)],
                                     np.linspace(0, horizon_years, 61))
    joint_rate, lme_rate = effect.loc[time, "estimate"], lme_row["estimate"] * 1000.0
    comparison = (f"Modelling death and WMH together, the ALS WMH rate is {joint_rate:.0f} "
                  f"mm3/year; the mixed model alone, which treats visits missed after death as "
                  f"missing at random, gives {lme_rate:.0f} mm3/year.")
    method = {
        "formula": {"longitudinal": longitudinal, "survival": survival},
        "estimation": f"maximum likelihood, {model.method['method']} (as R JM)",
        "df_method": "normal (z)",
        "ci": f"{model.method['ci_level']:.0%} Wald, observed information",
        "ci_level": model.method["ci_level"],
        "population": "ALS",
        "association": association,
        "n_observations": model.nobs,
        "n_subjects": model.n_subjects,
        "n_events": model.n_events,
    }
    hr = model.hazard_ratios
    return AnalysisResult(
        name="wmh_survival_joint", effect=effect,
        coefficients=model.longitudinal.assign(df=np.inf)[EFFECT_COLUMNS], model=model,
        counts=group_counts(kept, diagnosis, subject=subject), excluded=excluded, method=method, data=kept,
        extra={"hazard_ratios": hr, "lme": lme, "dynamic_survival": dynamic,
               "comparison": comparison},
    )

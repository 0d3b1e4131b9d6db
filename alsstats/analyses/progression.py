"""Change of a biomarker over time: ALS vs controls, short vs long survivors, phenotypes.

- :func:`wmh_progression` — Chadwick et al. (2026): WMH change, ALS vs controls
  (the paper: ALS +911.5 mm3/year faster).
- :func:`survival_group_progression` — the same within ALS, short vs long survivors split at
  a cut-off from the baseline MRI (the paper: 24 months, +1006 mm3/year).
- :func:`flair_progression` — Fabes et al. (2017): quantitative FLAIR, ALS vs controls and
  between phenotypes.
- :func:`biomarker_progression` — the same machinery for any per-visit biomarker column.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from alsstats._deprecation import formerly_positional, renamed_arguments
from alsstats.analyses._common import (
    PHENOTYPE_LEVELS,
    Columns,
    _adjusted,
    _check_levels_present,
    _covariate_terms,
    _effect,
    _excluded,
    _group_curves,
    _left_out,
    _method,
    _patients,
    _random_part,
    _slope_contrast,
    _survival_split,
    _term,
    _units,
    _validated,
    group_counts,
)
from alsstats.errors import DataValidationError
from alsstats.formula import quote_name
from alsstats.lme import LMEResult, fit_lme
from alsstats.results import AnalysisResult

__all__ = [
    "biomarker_progression",
    "flair_progression",
    "survival_group_progression",
    "wmh_progression",
]


def _progression(data: pd.DataFrame, *, column: str, group: str, term_level: str,
                 covariates: Sequence[str], site: bool, log: bool, random_slope: bool,
                 reml: bool, ci_level: float, columns: Columns, name: str, population: str,
                 excluded: pd.DataFrame, description: str,
                 more_method: dict[str, Any] | None = None,
                 slope_contrasts: bool = False) -> AnalysisResult:
    """``column ~ group * visit_time + covariates + (1 | subject)`` and the difference in rate
    of ``term_level`` against the reference level of ``group``."""
    response = column
    if log:
        response = f"log_{column}"
        if (data[column] < 0).any():
            raise DataValidationError(f"column '{column}': log needs values >= 0")
        data = data.assign(**{response: np.log1p(data[column])})
    time = columns.visit_time
    model_columns = [response, group, time, *covariates, *(["site"] if site else [])]
    _check_levels_present(data, group, model_columns, name, columns.subject)
    rhs = " + ".join([f"{quote_name(group)} * {columns.q('visit_time')}",
                      *_covariate_terms(covariates, site)])
    formula = f"{quote_name(response)} ~ {rhs} + {_random_part(random_slope, columns)}"
    model = fit_lme(data, formula, reml=reml, ci_level=ci_level)
    excluded = pd.concat([excluded, _left_out(data, model.fit_rows, model_columns, columns)],
                         ignore_index=True)
    interaction = _term(quote_name(group) + term_level, columns.q("visit_time"))
    effect = _effect(model, [interaction], f"{_units(response)}/year", [description])
    method = _method(model, population, response_transform="log(1 + x)" if log else "none",
                     random_effects="intercept and slope" if random_slope else "intercept",
                     **(more_method or {}))
    used = data.loc[model.fit_rows]
    return AnalysisResult(
        name=name, effect=effect, coefficients=model.coefficients, model=model,
        counts=group_counts(used, group, subject=columns.subject), excluded=excluded,
        method=method, data=used, fit=_group_curves(model, data, group, time),
        extra=_slope_contrast(model, group, time) if slope_contrasts else {},
    )


@renamed_arguments(visits="data")
@formerly_positional("column")
def biomarker_progression(
    data: pd.DataFrame,
    *,
    column: str,
    covariates: Sequence[str] = ("age", "sex"),
    site: bool = False,
    log: bool = False,
    random_slope: bool = False,
    reml: bool = True,
    ci_level: float = 0.95,
    subject: str = "subject",
    visit_time: str = "years",
    diagnosis: str = "group",
) -> AnalysisResult:
    """Change of any per-visit biomarker over time, ALS vs controls.

    Fits ``column ~ group * years + age + sex + (1 | subject)`` (with the options below) and
    reports the ALS-minus-control difference in the rate of change (term ``groupALS:years``).

    Parameters
    ----------
    data : pandas.DataFrame
        A visit table (validated here). ``visits=`` is the former name of this argument.
    column : str
        The biomarker, e.g. ``"wmh_mm3"``, ``"flair_cst"``, ``"dti_fa_cst"``.
    covariates : sequence of str
        Subject-level covariates (default age and sex, as the papers).
    site : bool
        Add ``site`` as a fixed-effect covariate (scanner/site offsets).
    log : bool
        Model ``log(1 + column)`` instead of the column (rates then are log units per year).
    random_slope : bool
        ``(1 + years | subject)`` instead of ``(1 | subject)``.
    reml : bool
        REML (default, as lme4) or ML.
    ci_level : float
        Level of the confidence intervals (default 0.95).
    subject, visit_time, diagnosis : str
        The table's subject-id column, visit-time column (years since the baseline MRI) and
        diagnosis column (``ALS`` or ``control``; the compared groups); they name the model's
        terms (``<diagnosis>ALS:<visit_time>``).

    Returns
    -------
    AnalysisResult
        ``effect`` has one row, ``groupALS:years``, with columns ``estimate`` (ALS minus
        control rate, units of the column per year), ``std_error``, ``df`` (Satterthwaite),
        ``statistic`` (t), ``p_value``, ``ci_low``, ``ci_high``, ``units``, ``description``;
        ``fit`` has columns ``years, group, estimate, std_error, df, ci_low, ci_high``
        (population trajectories averaged over the cohort's covariates).

    Notes
    -----
    The numbers are lme4/lmerTest's (REML, Satterthwaite df, Wald t CIs): the model is fitted
    by :func:`alsstats.fit_lme`. Rows with a missing value in the model's columns are left out
    with a :class:`~alsstats.DroppedRowsWarning` and listed per subject in ``excluded``
    (``all 3 visit(s) left out: missing wmh_mm3``, ``1 of 3 visits (years 0) left out: ...``).
    A comparison with no complete visit in one group (e.g. no WMH in ALS) is refused with a
    :class:`~alsstats.DataValidationError` naming the group.

    Examples
    --------
    >>> import alsstats as als
    >>> visits = als.load_example_cohort()
    >>> result = als.biomarker_progression(visits, column="flair_cc")
    >>> result.effect.index.tolist()
    ['groupALS:years']
    """
    columns = Columns(subject=subject, visit_time=visit_time, diagnosis=diagnosis)
    table = _validated(data, require=[column, *covariates] + (["site"] if site else []),
                       columns=columns)
    return _progression(
        table, column=column, group=diagnosis, term_level="ALS", covariates=covariates,
        site=site, log=log, random_slope=random_slope, reml=reml, ci_level=ci_level,
        columns=columns, name=f"{column}_progression", population="ALS and controls",
        excluded=_excluded([]), description=f"ALS minus control rate of change of {column}",
    )


@renamed_arguments(visits="data")
def wmh_progression(
    data: pd.DataFrame,
    *,
    site: bool = False,
    log: bool = False,
    random_slope: bool = False,
    reml: bool = True,
    ci_level: float = 0.95,
    subject: str = "subject",
    visit_time: str = "years",
    diagnosis: str = "group",
) -> AnalysisResult:
    """WMH progression in ALS vs controls (Chadwick et al. 2026, figure 2A).

    ``wmh_mm3 ~ group * years + age + sex + (1 | subject)``; the headline is the ALS-minus-control
    WMH rate in mm3/year (the paper reports +911.5 mm3/year).

    Parameters
    ----------
    data : pandas.DataFrame
        A visit table with ``wmh_mm3``. ``visits=`` is the former name of this argument.
    site, log, random_slope, reml, ci_level, subject, visit_time, diagnosis
        As :func:`biomarker_progression`.

    Returns
    -------
    AnalysisResult
        ``effect``: one row ``groupALS:years`` (columns ``estimate, std_error, df, statistic,
        p_value, ci_low, ci_high, units, description``); ``fit``: ``years, group, estimate,
        std_error, df, ci_low, ci_high``.

    Notes
    -----
    Same model and numbers as ``lmerTest::lmer(wmh_mm3 ~ group * years + age + sex +
    (1 | subject))`` with ``summary()``.

    Examples
    --------
    >>> import alsstats as als
    >>> result = als.wmh_progression(als.load_example_cohort())
    >>> round(result.effect.loc["groupALS:years", "estimate"]) > 0
    True
    """
    columns = Columns(subject=subject, visit_time=visit_time, diagnosis=diagnosis)
    table = _validated(data, require=["wmh_mm3", "age", "sex"] + (["site"] if site else []),
                       columns=columns)
    return _progression(
        table, column="wmh_mm3", group=diagnosis, term_level="ALS", covariates=("age", "sex"),
        site=site, log=log, random_slope=random_slope, reml=reml, ci_level=ci_level,
        columns=columns, name="wmh_progression", population="ALS and controls",
        excluded=_excluded([]), description="ALS minus control rate of change of wmh_mm3",
    )


@renamed_arguments(visits="data")
def survival_group_progression(
    data: pd.DataFrame,
    *,
    cutoff_months: float = 24,
    site: bool = False,
    log: bool = False,
    random_slope: bool = False,
    reml: bool = True,
    ci_level: float = 0.95,
    subject: str = "subject",
    visit_time: str = "years",
    diagnosis: str = "group",
    survival_time: str = "survival_months",
    event: str = "event",
) -> AnalysisResult:
    """WMH progression in short vs long ALS survivors (Chadwick et al. 2026, figure 2B).

    ALS patients are split by :func:`alsstats.survival_groups` at ``cutoff_months`` from the
    baseline MRI (short: event at or before the cut-off; long: followed beyond it); subjects
    censored at or before the cut-off cannot be classified and are left out (warned, and
    listed in ``excluded``). Then ``wmh_mm3 ~ survival_group * years + age + sex + (1 | subject)``;
    the headline is the short-minus-long WMH rate (the paper: +1006 mm3/year).

    Parameters
    ----------
    data : pandas.DataFrame
        A visit table with ``wmh_mm3``, ``survival_months`` and ``event``. ``visits=`` is the
        former name of this argument.
    cutoff_months : float
        The split, months from baseline MRI (default 24).
    site, log, random_slope, reml, ci_level, subject, visit_time
        As :func:`biomarker_progression`.
    diagnosis : str
        The diagnosis column; its ``control`` rows are left out.
    survival_time, event : str
        Months from the baseline MRI to death or censoring, and 1 for death / 0 for censored.

    Returns
    -------
    AnalysisResult
        ``effect``: one row ``survival_groupshort:years`` (columns ``estimate, std_error, df,
        statistic, p_value, ci_low, ci_high, units, description``); ``fit``: ``years,
        survival_group, estimate, std_error, df, ci_low, ci_high``; ``excluded``: ``subject,
        reason`` (unclassified patients and visits the model left out); ``counts`` per
        survival group; ``method["cutoff_months"]``, ``method["unclassified_subjects"]``.
        ``extra["slopes"]``: the WMH rate per survival group (emmeans' ``emtrends``:
        ``survival_group, estimate, std_error, df, statistic, p_value, ci_low, ci_high``);
        ``extra["slope_contrasts"]``: the short-minus-long rate difference as an ``emtrends``
        contrast (``contrast, estimate, std_error, df, statistic, p_value``; equal to the
        interaction row).

    Notes
    -----
    Classifying by an outcome observed after the visits (survival) makes this a descriptive
    comparison of trajectories, not a prognostic model: for prediction use a Cox model with
    WMH as a (time-varying) covariate (:func:`alsstats.fit_cox_time_varying`).

    Examples
    --------
    >>> import warnings, alsstats as als
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore", als.UnclassifiedSubjectsWarning)
    ...     result = als.survival_group_progression(als.load_example_cohort())
    >>> result.effect.index.tolist()
    ['survival_groupshort:years']
    """
    columns = Columns(subject=subject, visit_time=visit_time, diagnosis=diagnosis,
                      survival_time=survival_time, event=event)
    table = _validated(data, require=["wmh_mm3", "age", "sex", survival_time, event]
                       + (["site"] if site else []), columns=columns)
    kept, excluded = _survival_split(table, cutoff_months, columns)
    return _progression(
        kept, column="wmh_mm3", group="survival_group", term_level="short",
        covariates=("age", "sex"), site=site, log=log, random_slope=random_slope, reml=reml,
        ci_level=ci_level, columns=columns, name="survival_group_progression",
        population=f"ALS, classified at {cutoff_months:g} months from baseline MRI",
        excluded=excluded, description="short minus long survivors' WMH rate",
        more_method={"cutoff_months": cutoff_months, "unclassified_subjects": len(excluded)},
        slope_contrasts=True,
    )


def _phenotype_model(table: pd.DataFrame, roi: str, *, site: bool, random_slope: bool,
                     reml: bool, ci_level: float, columns: Columns
                     ) -> tuple[pd.DataFrame, dict[str, Any], pd.DataFrame] | None:
    """The within-ALS phenotype model of :func:`flair_progression`: its effect rows, its
    ``extra`` entries and the subjects it left out; None with fewer than two phenotypes."""
    from alsstats.marginal import contrasts, marginal_trends

    patients = _patients(table, columns)
    als = patients[patients["phenotype"].isin(PHENOTYPE_LEVELS).to_numpy()].copy()
    present = [level for level in PHENOTYPE_LEVELS if (als["phenotype"] == level).any()]
    if len(present) < 2:
        return None
    als["phenotype"] = pd.Categorical(als["phenotype"], categories=present)
    time = columns.q("visit_time")
    formula = (f"{quote_name(roi)} ~ phenotype * {time} + "
               f"{' + '.join(_covariate_terms(('age', 'sex'), site))} "
               f"+ {_random_part(random_slope, columns)}")
    by_phenotype: LMEResult = fit_lme(als, formula, reml=reml, ci_level=ci_level)
    slope_suffix = f":{time}"
    terms = [t for t in by_phenotype.coefficients.index if t.startswith("phenotype")]
    descriptions = [
        (f"{t.split(':')[0].removeprefix('phenotype')} minus classic, "
         + ("rate per year" if t.endswith(slope_suffix) else "at baseline"))
        for t in terms
    ]
    table_ = _effect(by_phenotype, terms, "ratio", descriptions)
    table_["units"] = ["ratio/year" if t.endswith(slope_suffix) else "ratio" for t in terms]
    everyone = patients.drop_duplicates(columns.subject)
    other = everyone[~everyone["phenotype"].isin(PHENOTYPE_LEVELS)]
    not_modelled = _excluded([
        (subject, ("phenotype missing" if pd.isna(value) else
                   f"phenotype {value!r} is not one of {', '.join(PHENOTYPE_LEVELS)}")
         + " (phenotype model only)")
        for subject, value in zip(other[columns.subject], other["phenotype"], strict=True)])
    dropped = _left_out(als, by_phenotype.fit_rows,
                        [roi, "phenotype", columns.visit_time, "age", "sex"], columns)
    dropped["reason"] = dropped["reason"] + " (phenotype model only)"
    extra = {
        "phenotype_model": by_phenotype,
        "phenotype_fit": _group_curves(by_phenotype, als, "phenotype", columns.visit_time),
        "phenotype_data": als.loc[by_phenotype.fit_rows],
        "phenotype_pairwise": contrasts(
            marginal_trends(by_phenotype, "phenotype", columns.visit_time), "pairwise",
            adjust="tukey").table,
    }
    return table_, extra, pd.concat([not_modelled, dropped], ignore_index=True)


@renamed_arguments(visits="data")
@formerly_positional("roi")
def flair_progression(
    data: pd.DataFrame,
    *,
    roi: str = "flair_cst",
    site: bool = False,
    random_slope: bool = False,
    reml: bool = True,
    adjust: str | None = None,
    ci_level: float = 0.95,
    subject: str = "subject",
    visit_time: str = "years",
    diagnosis: str = "group",
) -> AnalysisResult:
    """Quantitative FLAIR in ALS vs controls and between phenotypes (Fabes et al. 2017).

    Two models: ``roi ~ group * years + age + sex + (1 | subject)`` (ALS and controls) and, within
    ALS, ``roi ~ phenotype * years + age + sex + (1 | subject)`` with ``classic`` as the reference
    phenotype (when the table has a ``phenotype`` column with at least two phenotypes).

    Parameters
    ----------
    data : pandas.DataFrame
        A visit table with the ROI column (e.g. ``flair_cst``, ``flair_cc``). ``visits=`` is
        the former name of this argument.
    roi : str
        The normalised FLAIR column.
    site, random_slope, reml, ci_level, subject, visit_time, diagnosis
        As :func:`biomarker_progression`.
    adjust : {"holm", "hochberg", "hommel", "bonferroni", "BH", "BY"}, optional
        Adjust the p-values of the ``effect`` rows for multiplicity (:func:`alsstats.p_adjust`,
        the family being every row reported); adds a column ``p_adjusted``.

    Returns
    -------
    AnalysisResult
        ``effect``: rows ``groupALS`` (ALS minus control at baseline) and ``groupALS:years``
        (difference in rate per year), then the phenotype rows (``phenotypePLS``,
        ``phenotypeflail_arm`` and their ``:years`` interactions) — columns ``estimate,
        std_error, df, statistic, p_value, ci_low, ci_high, units, description``.
        ``extra["phenotype_model"]`` is the within-ALS model; ``extra["phenotype_pairwise"]``
        the pairwise differences in rate between phenotypes, Tukey-adjusted as emmeans'
        ``pairs(emtrends(m, ~ phenotype, var = "years"))`` (``contrast, estimate, std_error,
        df, statistic, p_value``). ``fit``: ``years, group, estimate, std_error, df, ci_low,
        ci_high``.

    Notes
    -----
    Fabes et al. normalised FLAIR to a reference region; which one is not fully public, so
    the ROI columns are taken as given (see :func:`alsstats.roi_intensity` for the choices).

    Examples
    --------
    >>> import alsstats as als
    >>> result = als.flair_progression(als.load_example_cohort(), roi="flair_cst")
    >>> "groupALS:years" in result.effect.index
    True
    """
    columns = Columns(subject=subject, visit_time=visit_time, diagnosis=diagnosis)
    table = _validated(data, require=[roi, "age", "sex"] + (["site"] if site else []),
                       columns=columns)
    result = _progression(
        table, column=roi, group=diagnosis, term_level="ALS", covariates=("age", "sex"),
        site=site, log=False, random_slope=random_slope, reml=reml, ci_level=ci_level,
        columns=columns, name=f"{roi}_progression", population="ALS and controls",
        excluded=_excluded([]), description=f"ALS minus control rate of change of {roi}",
    )
    baseline = _effect(result.model, [quote_name(diagnosis) + "ALS"], "ratio",
                       [f"ALS minus control {roi} at baseline"])
    effects, extra, excluded = [baseline, result.effect], {}, [result.excluded]
    phenotypes = (_phenotype_model(table, roi, site=site, random_slope=random_slope, reml=reml,
                                   ci_level=ci_level, columns=columns)
                  if "phenotype" in table.columns else None)
    if phenotypes is not None:
        effects.append(phenotypes[0])
        extra.update(phenotypes[1])
        excluded.append(phenotypes[2])
    effect, method = _adjusted(pd.concat(effects), result.method, adjust)
    return AnalysisResult(
        name=result.name, effect=effect, coefficients=result.coefficients, model=result.model,
        counts=result.counts, excluded=pd.concat(excluded, ignore_index=True), method=method,
        data=result.data, fit=result.fit, extra=extra,
    )

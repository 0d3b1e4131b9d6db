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

import numpy as np
import pandas as pd

from alsstats.analyses._common import (
    PHENOTYPE_LEVELS,
    _adjust_effect,
    _check_levels_present,
    _covariate_terms,
    _effect,
    _excluded,
    _group_curves,
    _left_out,
    _method,
    _random_part,
    _slope_contrast,
    _survival_split,
    _units,
    _validated,
    group_counts,
)
from alsstats.errors import DataValidationError
from alsstats.formula import quote_name
from alsstats.lme import fit_lme
from alsstats.results import AnalysisResult

__all__ = [
    "biomarker_progression",
    "flair_progression",
    "survival_group_progression",
    "wmh_progression",
]


def _progression(visits: pd.DataFrame, *, column: str, group: str, term_level: str,
                 covariates: Sequence[str], site: bool, log: bool, random_slope: bool,
                 reml: bool, name: str, population: str, excluded: pd.DataFrame,
                 description: str) -> AnalysisResult:
    data = visits
    response = column
    if log:
        response = f"log_{column}"
        if (data[column] < 0).any():
            raise DataValidationError(f"column '{column}': log needs values >= 0")
        data = data.assign(**{response: np.log1p(data[column])})
    model_columns = [response, group, "years", *covariates, *(["site"] if site else [])]
    _check_levels_present(data, group, model_columns, name)
    covariate_terms = _covariate_terms(covariates, site)
    rhs = " + ".join([f"{group} * years", *covariate_terms])
    formula = f"{quote_name(response)} ~ {rhs} + {_random_part(random_slope)}"
    model = fit_lme(data, formula, reml=reml)
    excluded = pd.concat([excluded, _left_out(data, model.fit_rows, model_columns)],
                         ignore_index=True)
    interaction = f"{group}{term_level}:years"
    effect = _effect(model, [interaction], f"{_units(response)}/year", [description])
    fit = _group_curves(model, data, group, "years")
    method = _method(model, population, response_transform="log(1 + x)" if log else "none",
                     random_effects="intercept and slope" if random_slope else "intercept")
    used = data.loc[model.fit_rows]
    return AnalysisResult(
        name=name, effect=effect, coefficients=model.coefficients, model=model,
        counts=group_counts(used, group), excluded=excluded, method=method, data=used, fit=fit,
    )


def biomarker_progression(
    visits: pd.DataFrame,
    column: str,
    *,
    covariates: Sequence[str] = ("age", "sex"),
    site: bool = False,
    log: bool = False,
    random_slope: bool = False,
    reml: bool = True,
) -> AnalysisResult:
    """Change of any per-visit biomarker over time, ALS vs controls.

    Fits ``column ~ group * years + age + sex + (1 | subject)`` (with the options below) and
    reports the ALS-minus-control difference in the rate of change (term ``groupALS:years``).

    Parameters
    ----------
    visits : pandas.DataFrame
        A visit table (validated here).
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

    Returns
    -------
    AnalysisResult
        ``effect`` has one row, ``groupALS:years``, with columns ``estimate`` (ALS minus
        control rate, units of the column per year), ``std_error``, ``df`` (Satterthwaite),
        ``statistic`` (t), ``p_value``, ``ci_low``, ``ci_high``, ``units``, ``description``;
        ``fit`` has columns ``years, group, estimate, std_error, ci_low, ci_high`` (population
        trajectories with covariates at the cohort's mean/mix).

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
    >>> result = als.biomarker_progression(visits, "flair_cc")
    >>> result.effect.index.tolist()
    ['groupALS:years']
    """
    data = _validated(visits, require=[column, *covariates] + (["site"] if site else []))
    return _progression(
        data, column=column, group="group", term_level="ALS", covariates=covariates, site=site,
        log=log, random_slope=random_slope, reml=reml, name=f"{column}_progression",
        population="ALS and controls", excluded=_excluded([]),
        description=f"ALS minus control rate of change of {column}",
    )


def wmh_progression(
    visits: pd.DataFrame,
    *,
    site: bool = False,
    log: bool = False,
    random_slope: bool = False,
    reml: bool = True,
) -> AnalysisResult:
    """WMH progression in ALS vs controls (Chadwick et al. 2026, figure 2A).

    ``wmh_mm3 ~ group * years + age + sex + (1 | subject)``; the headline is the ALS-minus-control
    WMH rate in mm3/year (the paper reports +911.5 mm3/year).

    Parameters
    ----------
    visits : pandas.DataFrame
        A visit table with ``wmh_mm3``.
    site, log, random_slope, reml
        As :func:`biomarker_progression`.

    Returns
    -------
    AnalysisResult
        ``effect``: one row ``groupALS:years`` (columns ``estimate, std_error, df, statistic,
        p_value, ci_low, ci_high, units, description``); ``fit``: ``years, group, estimate,
        std_error, ci_low, ci_high``.

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
    result = biomarker_progression(visits, "wmh_mm3", site=site, log=log,
                                   random_slope=random_slope, reml=reml)
    result.name = "wmh_progression"
    return result


def survival_group_progression(
    visits: pd.DataFrame,
    *,
    cutoff_months: float = 24,
    site: bool = False,
    log: bool = False,
    random_slope: bool = False,
    reml: bool = True,
) -> AnalysisResult:
    """WMH progression in short vs long ALS survivors (Chadwick et al. 2026, figure 2B).

    ALS patients are split by :func:`alsstats.survival_groups` at ``cutoff_months`` from the
    baseline MRI (short: event at or before the cut-off; long: followed beyond it); subjects
    censored at or before the cut-off cannot be classified and are left out (warned, and
    listed in ``excluded``). Then ``wmh_mm3 ~ survival_group * years + age + sex + (1 | subject)``;
    the headline is the short-minus-long WMH rate (the paper: +1006 mm3/year).

    Parameters
    ----------
    visits : pandas.DataFrame
        A visit table with ``wmh_mm3``, ``survival_months`` and ``event``.
    cutoff_months : float
        The split, months from baseline MRI (default 24).
    site, log, random_slope, reml
        As :func:`biomarker_progression`.

    Returns
    -------
    AnalysisResult
        ``effect``: one row ``survival_groupshort:years`` (columns ``estimate, std_error, df,
        statistic, p_value, ci_low, ci_high, units, description``); ``fit``: ``years,
        survival_group, estimate, std_error, ci_low, ci_high``; ``excluded``: ``subject,
        reason`` (unclassified patients and visits the model left out); ``counts`` per
        survival group; ``method["unclassified_subjects"]``. ``extra["slopes"]``: the WMH rate
        per survival group (emmeans' ``emtrends``: ``survival_group, estimate, std_error, df,
        statistic, p_value, ci_low, ci_high``); ``extra["slope_contrasts"]``: the
        short-minus-long rate difference as an ``emtrends`` contrast (``contrast, estimate,
        std_error, df, statistic, p_value``; equal to the interaction row).

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
    data = _validated(visits, require=["wmh_mm3", "survival_months", "event"])
    kept, excluded = _survival_split(data, cutoff_months)
    result = _progression(
        kept, column="wmh_mm3", group="survival_group", term_level="short",
        covariates=("age", "sex"), site=site, log=log, random_slope=random_slope, reml=reml,
        name="survival_group_progression",
        population=f"ALS, classified at {cutoff_months:g} months from baseline MRI",
        excluded=excluded, description="short minus long survivors' WMH rate",
    )
    result.method["cutoff_months"] = cutoff_months
    result.method["unclassified_subjects"] = len(excluded)
    _slope_contrast(result, "survival_group")
    return result


def flair_progression(
    visits: pd.DataFrame,
    roi: str = "flair_cst",
    *,
    site: bool = False,
    random_slope: bool = False,
    reml: bool = True,
    adjust: str | None = None,
) -> AnalysisResult:
    """Quantitative FLAIR in ALS vs controls and between phenotypes (Fabes et al. 2017).

    Two models: ``roi ~ group * years + age + sex + (1 | subject)`` (ALS and controls) and, within
    ALS, ``roi ~ phenotype * years + age + sex + (1 | subject)`` with ``classic`` as the reference
    phenotype (when the table has a ``phenotype`` column with at least two phenotypes).

    Parameters
    ----------
    visits : pandas.DataFrame
        A visit table with the ROI column (e.g. ``flair_cst``, ``flair_cc``).
    roi : str
        The normalised FLAIR column.
    site, random_slope, reml
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
    >>> result = als.flair_progression(als.load_example_cohort(), "flair_cst")
    >>> "groupALS:years" in result.effect.index
    True
    """
    data = _validated(visits, require=[roi])
    result = _progression(
        data, column=roi, group="group", term_level="ALS", covariates=("age", "sex"),
        site=site, log=False, random_slope=random_slope, reml=reml, name=f"{roi}_progression",
        population="ALS and controls", excluded=_excluded([]),
        description=f"ALS minus control rate of change of {roi}",
    )
    baseline = _effect(result.model, ["groupALS"], "ratio",
                       [f"ALS minus control {roi} at baseline"])
    effects = [baseline, result.effect]
    if "phenotype" in data.columns:
        als = data[(data["group"] == "ALS") & data["phenotype"].isin(PHENOTYPE_LEVELS)].copy()
        present = [level for level in PHENOTYPE_LEVELS if (als["phenotype"] == level).any()]
        if len(present) >= 2:
            als["phenotype"] = pd.Categorical(als["phenotype"], categories=present)
            formula = (f"{quote_name(roi)} ~ phenotype * years + "
                       f"{' + '.join(_covariate_terms(('age', 'sex'), site))} "
                       f"+ {_random_part(random_slope)}")
            by_phenotype = fit_lme(als, formula, reml=reml)
            terms = [t for t in by_phenotype.coefficients.index if t.startswith("phenotype")]
            descriptions = [
                (f"{t.split(':')[0].removeprefix('phenotype')} minus classic, "
                 + ("rate per year" if t.endswith(":years") else "at baseline"))
                for t in terms
            ]
            units = ["ratio/year" if t.endswith(":years") else "ratio" for t in terms]
            table = _effect(by_phenotype, terms, "ratio", descriptions)
            table["units"] = units
            effects.append(table)
            result.extra["phenotype_model"] = by_phenotype
            result.extra["phenotype_fit"] = _group_curves(by_phenotype, als, "phenotype", "years")
            result.extra["phenotype_data"] = als.loc[by_phenotype.fit_rows]
            all_als = data[data["group"] == "ALS"].drop_duplicates("subject")
            other = all_als[~all_als["phenotype"].isin(PHENOTYPE_LEVELS)]
            not_modelled = _excluded([
                (subject, ("phenotype missing" if pd.isna(value) else
                           f"phenotype {value!r} is not one of {', '.join(PHENOTYPE_LEVELS)}")
                 + " (phenotype model only)")
                for subject, value in zip(other["subject"], other["phenotype"], strict=True)])
            dropped = _left_out(als, by_phenotype.fit_rows,
                                [roi, "phenotype", "years", "age", "sex"])
            dropped["reason"] = dropped["reason"] + " (phenotype model only)"
            result.excluded = pd.concat([result.excluded, not_modelled, dropped],
                                        ignore_index=True)
            from alsstats.marginal import contrasts, marginal_trends

            result.extra["phenotype_pairwise"] = contrasts(
                marginal_trends(by_phenotype, "phenotype", "years"), "pairwise",
                adjust="tukey").table
    result.effect = pd.concat(effects)
    _adjust_effect(result, adjust)
    return result

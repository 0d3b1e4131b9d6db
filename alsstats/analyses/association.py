"""Associations: ALSFRS-R against WMH (Chadwick et al. 2026) and qFLAIR change against
clinical decline (Fabes et al. 2017)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import pandas as pd

from alsstats._deprecation import formerly_positional, renamed_arguments
from alsstats._stack import user_stacklevel
from alsstats.analyses._common import (
    EFFECT_COLUMNS,
    Columns,
    _adjusted,
    _check_levels_present,
    _covariate_terms,
    _effect,
    _excluded,
    _grid,
    _group_curves,
    _left_out,
    _method,
    _patients,
    _survival_split,
    _validated,
    group_counts,
)
from alsstats.errors import DataValidationError, SkippedAnalysisWarning
from alsstats.formula import quote_name
from alsstats.lme import fit_lme
from alsstats.marginal import mean_curve
from alsstats.results import AnalysisResult

__all__ = ["alsfrs_vs_wmh", "flair_vs_alsfrs"]


@renamed_arguments(visits="data")
def alsfrs_vs_wmh(
    data: pd.DataFrame,
    *,
    per: float = 500.0,
    cutoff_months: float | None = 24,
    site: bool = False,
    reml: bool = True,
    ci_level: float = 0.95,
    subject: str = "subject",
    visit_time: str = "years",
    diagnosis: str = "group",
    survival_time: str = "survival_months",
    event: str = "event",
) -> AnalysisResult:
    """ALSFRS-R against WMH volume in ALS (Chadwick et al. 2026, figure 3).

    ``alsfrs_r ~ wmh_mm3 + years + age + sex + (1 | subject)`` in ALS patients; the headline is
    the ALSFRS-R change per ``per`` mm3 of WMH (the paper: about one point per 500 mm3). With
    ``cutoff_months``, a second model adds the survival group and its interaction with WMH,
    ``alsfrs_r ~ wmh_mm3 * survival_group + survival_group * years + age + sex + (1 | subject)``,
    to ask whether the association differs between short and long survivors (each group keeps
    its own rate of decline, so a faster decline of short survivors is not mistaken for a
    different WMH association).

    Parameters
    ----------
    data : pandas.DataFrame
        A visit table with ``alsfrs_r`` and ``wmh_mm3``. ``visits=`` is the former name of
        this argument.
    per : float
        Report effects per this many mm3 (default 500).
    cutoff_months : float or None
        Survival-group split for the interaction model; None skips it.
    site, reml, ci_level, subject, visit_time
        As :func:`biomarker_progression`.
    diagnosis : str
        The diagnosis column; its ``control`` rows are left out.
    survival_time, event : str
        Survival columns of the survival groups (as :func:`survival_group_progression`).

    Returns
    -------
    AnalysisResult
        ``effect``: row ``wmh_mm3`` (ALSFRS-R points per ``per`` mm3) and, with the survival
        groups, ``wmh_mm3:survival_groupshort`` (short minus long difference in that slope);
        columns ``estimate, std_error, df, statistic, p_value, ci_low, ci_high, units,
        description``. ``extra["by_survival_group"]`` is the interaction model
        (:class:`~alsstats.LMEResult`) and ``extra["group_slopes"]`` the slope in each group
        (same columns). ``fit``: ``wmh_mm3, estimate, std_error, ci_low, ci_high`` (and
        ``extra["group_fit"]`` per survival group). ``excluded``: ``subject, reason`` for
        visits the model left out (missing values) and patients without a survival group.
        When one survival group is empty the interaction model is not fitted:
        ``extra["by_survival_group_not_fitted"]`` says why and a
        :class:`~alsstats.SkippedAnalysisWarning` is issued.

    Notes
    -----
    The coefficient is per mm3 in the model; :meth:`LMEResult.rescale` multiplies estimate,
    standard error and CI by ``per`` (df, t and p are unchanged). The models are fitted with
    ``check_scale=False``: WMH in mm3 beside years in years would raise a
    :class:`~alsstats.ScaleWarning`, but the fixed effects come exactly out of the profiled
    deviance (the optimiser only sees the variance parameters), so the scale costs nothing.

    Examples
    --------
    >>> import warnings, alsstats as als
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore", als.UnclassifiedSubjectsWarning)
    ...     result = als.alsfrs_vs_wmh(als.load_example_cohort())
    >>> result.effect.loc["wmh_mm3", "units"]
    'points per 500 mm3'
    """
    columns = Columns(subject=subject, visit_time=visit_time, diagnosis=diagnosis,
                      survival_time=survival_time, event=event)
    require = (["alsfrs_r", "wmh_mm3", "age", "sex"] + (["site"] if site else [])
               + ([survival_time, event] if cutoff_months is not None else []))
    table = _validated(data, require=require, columns=columns)
    als = _patients(table, columns)
    covariates = " + ".join(_covariate_terms(("age", "sex"), site))
    time, random = columns.q("visit_time"), f"(1 | {columns.q('subject')})"
    formula = f"alsfrs_r ~ wmh_mm3 + {time} + {covariates} + {random}"
    # WMH in mm3 next to years trips the scale check; the fixed effects are solved exactly
    # from the profiled deviance, and the per-`per` rescaling below is the readable form.
    model = fit_lme(als, formula, reml=reml, check_scale=False, ci_level=ci_level)
    model_columns = ["alsfrs_r", "wmh_mm3", visit_time, "age", "sex", *(["site"] if site else [])]
    left_out = _left_out(als, model.fit_rows, model_columns, columns)
    units = f"points per {per:g} mm3"
    effect = _effect(model, ["wmh_mm3"], units, [f"ALSFRS-R change per {per:g} mm3 of WMH"],
                     per=per)
    fit = mean_curve(model, "wmh_mm3", _grid(als.loc[model.fit_rows, "wmh_mm3"]))
    extra: dict[str, Any] = {}
    excluded = left_out
    kept = None
    if cutoff_months is not None:
        kept, unclassified = _survival_split(table, cutoff_months, columns)
        excluded = pd.concat([left_out, unclassified.assign(
            reason=unclassified["reason"] + " (survival-group model only)")], ignore_index=True)
        try:
            _check_levels_present(kept, "survival_group", ["survival_group", *model_columns],
                                  "alsfrs_vs_wmh by survival group", subject)
        except DataValidationError as error:
            warnings.warn(f"alsfrs_vs_wmh: the survival-group model was not fitted: "
                          f"{error.problems[0]}", SkippedAnalysisWarning, stacklevel=user_stacklevel())
            extra["by_survival_group_not_fitted"] = error.problems[0]
            kept = None
    if kept is not None:
        by_group = fit_lme(
            kept,
            f"alsfrs_r ~ wmh_mm3 * survival_group + survival_group * {time} + {covariates} "
            f"+ {random}",
            reml=reml, check_scale=False, ci_level=ci_level,
        )
        interaction = _effect(by_group, ["wmh_mm3:survival_groupshort"], units,
                              [f"short minus long: difference in ALSFRS-R change per {per:g} mm3"],
                              per=per)
        effect = pd.concat([effect, interaction])
        slopes = []
        for level, weights in (("long", {"wmh_mm3": per}),
                               ("short", {"wmh_mm3": per, "wmh_mm3:survival_groupshort": per})):
            row = by_group.contrast(weights)
            row.index = pd.Index([f"wmh_mm3 in {level} survivors"], name="term")
            slopes.append(row)
        extra["by_survival_group"] = by_group
        extra["group_slopes"] = pd.concat(slopes)[EFFECT_COLUMNS].assign(
            units=units,
            description=[f"ALSFRS-R change per {per:g} mm3 of WMH in {level} survivors"
                         for level in ("long", "short")])
        extra["group_fit"] = _group_curves(by_group, kept, "survival_group", "wmh_mm3")
        extra["group_data"] = kept.loc[by_group.fit_rows]
    method = _method(model, "ALS", per=per, **(
        {"cutoff_months": cutoff_months, "survival_group_formula": extra[
            "by_survival_group"].formula} if "by_survival_group" in extra else {}))
    used = als.loc[model.fit_rows]
    return AnalysisResult(
        name="alsfrs_vs_wmh", effect=effect, coefficients=model.coefficients, model=model,
        counts=group_counts(used, diagnosis, subject=subject), excluded=excluded,
        method=method, data=used, fit=fit,
        extra=extra,
    )


def _subject_rates(data: pd.DataFrame, column: str, columns: Columns) -> pd.Series:
    """Per-subject rate of change per year from ``column ~ years + (1 + years | subject)``.

    The rate is the fixed slope plus the subject's BLUP; subjects with fewer than two
    non-missing visits of ``column`` are not given one.
    """
    subject, time = columns.subject, columns.q("visit_time")
    present = data[data[column].notna()]
    visits_per_subject = present.groupby(subject).size()
    eligible = visits_per_subject.index[visits_per_subject >= 2]
    model = fit_lme(present[present[subject].isin(eligible)],
                    f"{quote_name(column)} ~ {time} + (1 + {time} | {columns.q('subject')})")
    slope = model.coefficients.loc[time, "estimate"] + model.random_effects[time]
    slope.name = f"{column}_rate"
    return slope


def _ols_association(x: pd.Series, y: pd.Series, label: str, units: str,
                     ci_level: float) -> pd.DataFrame:
    """Least-squares slope of y on x with its t test and t interval (as R ``lm``)."""
    from scipy import stats

    fit = stats.linregress(x.to_numpy(float), y.to_numpy(float))
    df = len(x) - 2
    half = stats.t.ppf(0.5 + ci_level / 2.0, df) * fit.stderr
    row = pd.DataFrame(
        {"estimate": fit.slope, "std_error": fit.stderr, "df": float(df),
         "statistic": fit.slope / fit.stderr, "p_value": fit.pvalue,
         "ci_low": fit.slope - half, "ci_high": fit.slope + half, "units": units,
         "description": label, "pearson_r": fit.rvalue, "n_subjects": len(x)},
        index=pd.Index([label], name="term"),
    )
    return row


@renamed_arguments(visits="data")
@formerly_positional("roi")
def flair_vs_alsfrs(
    data: pd.DataFrame,
    *,
    roi: str = "flair_cst",
    outcomes: Sequence[str] = ("alsfrs_r", "ecas_executive"),
    adjust: str | None = None,
    ci_level: float = 0.95,
    subject: str = "subject",
    visit_time: str = "years",
    diagnosis: str = "group",
) -> AnalysisResult:
    """Does faster qFLAIR change go with faster clinical decline? (Fabes et al. 2017).

    Two stages, within ALS: each subject's rate of change per year of the ROI and of each
    outcome (ALSFRS-R, ECAS executive) is estimated from ``column ~ years + (1 + years |
    subject)`` (fixed slope plus the subject's BLUP); then each outcome rate is regressed on the
    ROI rate by OLS, with Pearson's r beside it.

    Parameters
    ----------
    data : pandas.DataFrame
        A visit table with the ROI and outcome columns. ``visits=`` is the former name of
        this argument.
    roi : str
        The normalised FLAIR column.
    outcomes : sequence of str
        Clinical columns whose decline is related to the ROI's change (those absent are skipped).
    adjust : {"holm", "hochberg", "hommel", "bonferroni", "BH", "BY"}, optional
        Adjust the p-values over the outcomes' rows (:func:`alsstats.p_adjust`); adds a column
        ``p_adjusted``.
    ci_level, subject, visit_time
        As :func:`biomarker_progression` (``ci_level`` is the level of the OLS t intervals).
    diagnosis : str
        The diagnosis column; its ``control`` rows are left out.

    Returns
    -------
    AnalysisResult
        ``effect``: one row per outcome, ``<outcome> rate ~ <roi> rate``, columns ``estimate``
        (outcome points/year per ratio/year), ``std_error, df, statistic, p_value, ci_low,
        ci_high, units, description, pearson_r, n_subjects``. ``extra["rates"]``: the
        per-subject rates (index subject). ``model`` is the ROI's rate model.

    Notes
    -----
    Two-stage estimates ignore the uncertainty of the per-subject rates and BLUPs are shrunk
    towards the mean (more so for subjects with few visits), so the second-stage slope is
    attenuated or inflated and its standard error too small compared with a joint
    (multivariate) mixed model; subjects with fewer than two visits of a measure get no rate
    and are listed in ``excluded``.

    Examples
    --------
    >>> import warnings, alsstats as als
    >>> with warnings.catch_warnings():  # 8 months of follow-up: some stage-one fits singular
    ...     warnings.simplefilter("ignore", als.SingularFitWarning)
    ...     result = als.flair_vs_alsfrs(als.load_example_cohort())
    >>> list(result.effect.columns[:3])
    ['estimate', 'std_error', 'df']
    """
    columns = Columns(subject=subject, visit_time=visit_time, diagnosis=diagnosis)
    table = _validated(data, require=[roi], columns=columns)
    als = _patients(table, columns)
    outcomes = [c for c in outcomes if c in als.columns and als[c].notna().any()]
    if not outcomes:
        raise DataValidationError(
            "flair_vs_alsfrs needs at least one outcome column with values in ALS "
            "(e.g. 'alsfrs_r', 'ecas_executive')"
        )
    rates = pd.concat([_subject_rates(als, c, columns) for c in (roi, *outcomes)], axis=1)
    rows = []
    for outcome in outcomes:
        both = rates[[f"{roi}_rate", f"{outcome}_rate"]].dropna()
        rows.append(_ols_association(
            both[f"{roi}_rate"], both[f"{outcome}_rate"], f"{outcome} rate ~ {roi} rate",
            f"{outcome} units/year per {roi} units/year", ci_level))
    all_subjects = pd.Index(als[subject].unique())
    excluded_rows = []
    for column in rates.columns:
        missing = all_subjects.difference(rates[column].dropna().index)
        excluded_rows += [(s, f"fewer than 2 visits with {column.removesuffix('_rate')}")
                          for s in missing]
    time, random = columns.q("visit_time"), f"(1 + {columns.q('visit_time')} | " \
        f"{columns.q('subject')})"
    roi_model = fit_lme(als[als[subject].isin(rates[f"{roi}_rate"].dropna().index)],
                        f"{quote_name(roi)} ~ {time} + {random}", ci_level=ci_level)
    effect, method = _adjusted(pd.concat(rows), {
        "formula": f"stage 1: <column> ~ {time} + {random} in ALS for {roi} and "
                   f"{', '.join(outcomes)}; stage 2: OLS of each outcome rate on the {roi} rate",
        "estimation": "REML (stage 1), OLS (stage 2)",
        "df_method": "residual df of the OLS",
        "ci": f"{ci_level:.0%} t interval",
        "ci_level": ci_level,
        "population": "ALS",
    }, adjust)
    complete = rates.dropna().index
    counts = pd.DataFrame({"group": ["ALS"], "n_subjects": [len(complete)],
                           "n_visits": [int(als[subject].isin(complete).sum())]})
    return AnalysisResult(
        name="flair_vs_alsfrs", effect=effect, coefficients=effect[EFFECT_COLUMNS],
        model=roi_model, counts=counts, excluded=_excluded(excluded_rows), method=method,
        extra={"rates": rates},
    )

"""The papers' analyses as named recipes over the visit-table contract.

Each function takes a visit table (validated here: a bad table is refused with every problem
named), fits the model the paper describes and returns an :class:`~alsstats.results.AnalysisResult`
with the headline effect, the full coefficient table, the model underneath, counts, excluded
subjects with reasons, figure-ready trajectories and the method in words.

- :func:`wmh_progression` — Chadwick et al. (2026): WMH change, ALS vs controls
  (the paper: ALS +911.5 mm3/year faster).
- :func:`survival_group_progression` — the same within ALS, short vs long survivors split at
  24 months from the baseline MRI (the paper: +1006 mm3/year).
- :func:`alsfrs_vs_wmh` — ALSFRS-R against WMH, per 500 mm3 (the paper: about one point), and
  whether the association differs by survival group.
- :func:`flair_progression`, :func:`flair_vs_alsfrs`, :func:`phenotype_classifier` — Fabes et al.
  (2017): quantitative FLAIR in corticospinal tract and corpus callosum.
- :func:`biomarker_progression` — the same machinery for any per-visit biomarker column.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from alsstats.data import validate_visits
from alsstats.errors import DataValidationError, SkippedAnalysisWarning
from alsstats.formula import quote_name
from alsstats.lme import LMEResult, fit_lme
from alsstats.results import EFFECT_COLUMNS, AnalysisResult

__all__ = [
    "alsfrs_vs_wmh",
    "biomarker_progression",
    "flair_progression",
    "flair_vs_alsfrs",
    "phenotype_classifier",
    "survival_group_progression",
    "wmh_progression",
    "wmh_survival_joint",
]

SURVIVAL_LEVELS = ["long", "short"]
"""Levels of the survival-group factor; ``long`` is the reference, so models report ``short``."""

_UNITS = {
    "wmh_mm3": "mm3",
    "alsfrs_r": "points",
    "ecas_executive": "points",
    "umn_score": "points",
}


def _units(column: str) -> str:
    if column.startswith("log_"):
        return f"log({_units(column[4:])})"
    if column.startswith("flair_"):
        return "ratio"
    return _UNITS.get(column, "units")


# --------------------------------------------------------------------------- building blocks


def _covariate_terms(covariates: Sequence[str], site: bool) -> list[str]:
    """Formula terms of the covariates: column names quoted (:func:`quote_name`), never code."""
    terms = [quote_name(c) for c in covariates]
    if site:
        terms.append("site")
    return terms


def _random_part(random_slope: bool, time: str = "years") -> str:
    return f"(1 + {time} | subject)" if random_slope else "(1 | subject)"


def _method(model: LMEResult, population: str, **more: Any) -> dict[str, Any]:
    return {
        "formula": model.formula,
        "estimation": model.method,
        "df_method": "Satterthwaite" if model.df_method == "satterthwaite" else "normal (z)",
        "ci": f"{model.ci_level:.0%} Wald on the same df",
        "population": population,
        "n_observations": model.nobs,
        "n_subjects": model.n_groups,
        **more,
    }


def group_counts(visits: pd.DataFrame, group: str = "group") -> pd.DataFrame:
    """Subjects and visits per level of ``group``: columns ``group, n_subjects, n_visits``."""
    table = visits.groupby(group, observed=True).agg(
        n_subjects=("subject", "nunique"), n_visits=("subject", "size")
    )
    return table.reset_index().rename(columns={group: "group"})


def _effect(model: LMEResult, terms: Sequence[str], units: str, descriptions: Sequence[str],
            per: float | None = None) -> pd.DataFrame:
    table = model.rescale(list(terms), per=per) if per is not None else model.coefficients.loc[
        list(terms)
    ].copy()
    table = table[EFFECT_COLUMNS].copy()
    table["units"] = units
    table["description"] = list(descriptions)
    table.index.name = "term"
    return table


def mean_curve(model: LMEResult, data: pd.DataFrame, x: str, grid: np.ndarray,
               fixed: dict[str, Any] | None = None) -> pd.DataFrame:
    """Model-based mean of the response along ``x``, averaged over the cohort's covariates.

    At each grid value, ``x`` (and every column in ``fixed``) is set on every row the model
    used and the population predictions are averaged: :func:`alsstats.marginal_means` with
    emmeans' ``counterfactuals``, with the fit's intervals (Satterthwaite t, Kenward-Roger t
    for a Kenward-Roger fit, z for a ``df_method="normal"`` fit). ``data`` is the table the model was fitted to (the rows come
    from the fit). Returns columns ``<x>, estimate, std_error, df, ci_low, ci_high``.
    """
    from alsstats.marginal import marginal_means

    del data  # the fitted rows are kept with the model
    grid = np.asarray(grid, dtype=float)
    fixed = dict(fixed or {})
    variables = [x, *fixed]
    means = marginal_means(
        model, variables, at={x: list(grid), **{k: [v] for k, v in fixed.items()}},
        counterfactuals=variables, ci_level=model.ci_level,
        df_method="kenward-roger" if model.df_method == "kenward-roger" else "satterthwaite")
    curve = means.table.reset_index(drop=True)
    curve[x] = grid
    if model.df_method == "normal":  # z intervals, as the fit's own tests
        z = stats.norm.ppf(0.5 + model.ci_level / 2.0)
        curve["df"] = np.inf
        curve["ci_low"] = curve["estimate"] - z * curve["std_error"]
        curve["ci_high"] = curve["estimate"] + z * curve["std_error"]
    return curve[[x, "estimate", "std_error", "df", "ci_low", "ci_high"]]


def _grid(values: pd.Series, n_points: int = 41) -> np.ndarray:
    return np.linspace(float(values.min()), float(values.max()), n_points)


def _group_curves(model: LMEResult, data: pd.DataFrame, group: str, x: str) -> pd.DataFrame:
    """One :func:`mean_curve` per level of ``group``, over that level's own range of ``x``."""
    used = data.loc[model.fit_rows]
    curves = []
    for level in used[group].cat.categories:
        mine = used[used[group] == level]
        if mine.empty:
            continue
        curve = mean_curve(model, data, x, _grid(mine[x]), fixed={group: level})
        curve.insert(1, group, level)
        curves.append(curve)
    out = pd.concat(curves, ignore_index=True)
    out[group] = pd.Categorical(out[group], categories=used[group].cat.categories)
    return out


def _excluded(rows: list[tuple[str, str]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["subject", "reason"])


def _left_out(data: pd.DataFrame, used: pd.Index, columns: Sequence[str]) -> pd.DataFrame:
    """Subjects with visits a model left out (a missing value in one of ``columns``) and why:
    ``all 3 visit(s) left out: missing wmh_mm3`` or ``1 of 3 visits (years 0.5) left out: ...``.

    Vectorised over subjects (one groupby per quantity), so 100,000 subjects take well under a
    second."""
    out = ~data.index.isin(used)
    if not out.any():
        return _excluded([])
    dropped = data.loc[out]
    subjects = dropped["subject"]
    n = subjects.groupby(subjects, sort=False).size()
    of = data.groupby("subject", sort=False).size().reindex(n.index).to_numpy()
    columns = [c for c in dict.fromkeys(columns) if c in dropped.columns]
    missing = dropped[columns].isna().groupby(subjects, sort=False).any().reindex(n.index)
    what = pd.Series("", index=n.index)
    for column in columns:
        has = missing[column].to_numpy()
        what = what.where(~has, what + np.where(what == "", "", ", ") + column)
    years = (dropped["years"].map(lambda y: f"{y:g}").groupby(subjects, sort=False)
             .agg(", ".join).reindex(n.index))
    counts = n.to_numpy()
    which = np.where(counts == of, "all " + pd.Series(of).astype(str).to_numpy() + " visit(s)",
                     pd.Series(counts).astype(str).to_numpy() + " of "
                     + pd.Series(of).astype(str).to_numpy() + " visits (years "
                     + years.to_numpy().astype(str) + ")")
    reasons = which + " left out: missing " + what.to_numpy().astype(str)
    return pd.DataFrame({"subject": n.index.to_numpy(), "reason": reasons})


def _check_levels_present(data: pd.DataFrame, group: str, columns: Sequence[str],
                          what: str) -> None:
    """Refuse a comparison of the levels of ``group`` when a level has no complete visit."""
    complete = data[list(dict.fromkeys(columns))].notna().all(axis=1)
    per_level = (data.loc[complete].groupby(group, observed=False)["subject"].nunique()
                 .reindex(data[group].cat.categories, fill_value=0))
    empty = [str(level) for level, n in per_level.items() if n == 0]
    if empty:
        counts = ", ".join(f"{level} {n}" for level, n in per_level.items())
        raise DataValidationError(
            f"{what}: no subject in {group} {' and '.join(map(repr, empty))} with "
            f"{', '.join(c for c in columns if c != group)} all present (subjects per level: "
            f"{counts}); the comparison needs subjects in every level")


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


def _validated(visits: pd.DataFrame, require: Sequence[str]) -> pd.DataFrame:
    table = validate_visits(visits, require=require)
    # pandas deep-copies .attrs on every operation; metadata such as a simulator's truth
    # would be copied thousands of times inside the model code.
    table.attrs = {}
    return table


# --------------------------------------------------------------------------- the analyses


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


def _survival_split(data: pd.DataFrame, cutoff_months: float) -> tuple[pd.DataFrame,
                                                                         pd.DataFrame]:
    """ALS visits with a ``survival_group`` column (long/short) and the excluded subjects."""
    from alsstats.survival import survival_groups

    als = data[data["group"] == "ALS"]
    if als.empty:
        raise DataValidationError("column 'group': no ALS subjects; survival groups need them")
    # survival_groups warns (UnclassifiedSubjectsWarning) with how many were left out and why
    split = survival_groups(als, cutoff_months=cutoff_months)
    groups = split.groups
    excluded = split.excluded[["subject", "reason"]].reset_index(drop=True)
    labels = als["subject"].map(groups)
    kept = als[labels.notna().to_numpy()].copy()
    kept["survival_group"] = pd.Categorical(labels[labels.notna()], categories=SURVIVAL_LEVELS)
    return kept, excluded


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


def _slope_contrast(result: AnalysisResult, group: str) -> None:
    """The rate per group level and their differences as emmeans' ``emtrends`` contrasts
    (``extra["slopes"]``, ``extra["slope_contrasts"]``, last level minus earlier ones)."""
    from alsstats.marginal import contrasts, marginal_trends

    trends = marginal_trends(result.model, group, "years")
    result.extra["slopes"] = trends.table
    result.extra["slope_contrasts"] = contrasts(trends, "revpairwise", adjust="none").table


def alsfrs_vs_wmh(
    visits: pd.DataFrame,
    *,
    per: float = 500.0,
    cutoff_months: float | None = 24,
    site: bool = False,
    reml: bool = True,
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
    visits : pandas.DataFrame
        A visit table with ``alsfrs_r`` and ``wmh_mm3``.
    per : float
        Report effects per this many mm3 (default 500).
    cutoff_months : float or None
        Survival-group split for the interaction model; None skips it.
    site, reml
        As :func:`biomarker_progression`.

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
    require = ["alsfrs_r", "wmh_mm3"] + (["survival_months", "event"] if cutoff_months else [])
    data = _validated(visits, require=require)
    als = data[data["group"] == "ALS"]
    covariates = _covariate_terms(("age", "sex"), site)
    formula = f"alsfrs_r ~ wmh_mm3 + years + {' + '.join(covariates)} + (1 | subject)"
    # WMH in mm3 next to years trips the scale check; the fixed effects are solved exactly
    # from the profiled deviance, and the per-`per` rescaling below is the readable form.
    model = fit_lme(als, formula, reml=reml, check_scale=False)
    model_columns = ["alsfrs_r", "wmh_mm3", "years", "age", "sex", *(["site"] if site else [])]
    left_out = _left_out(als, model.fit_rows, model_columns)
    units = f"points per {per:g} mm3"
    effect = _effect(model, ["wmh_mm3"], units, [f"ALSFRS-R change per {per:g} mm3 of WMH"],
                     per=per)
    fit = mean_curve(model, als, "wmh_mm3", _grid(als.loc[model.fit_rows, "wmh_mm3"]))
    extra: dict[str, Any] = {}
    excluded = left_out
    kept = None
    if cutoff_months is not None:
        kept, unclassified = _survival_split(data, cutoff_months)
        excluded = pd.concat([left_out, unclassified.assign(
            reason=unclassified["reason"] + " (survival-group model only)")], ignore_index=True)
        try:
            _check_levels_present(kept, "survival_group", ["survival_group", *model_columns],
                                  "alsfrs_vs_wmh by survival group")
        except DataValidationError as error:
            warnings.warn(f"alsfrs_vs_wmh: the survival-group model was not fitted: "
                          f"{error.problems[0]}", SkippedAnalysisWarning, stacklevel=2)
            extra["by_survival_group_not_fitted"] = error.problems[0]
            kept = None
    if kept is not None:
        by_group = fit_lme(
            kept,
            f"alsfrs_r ~ wmh_mm3 * survival_group + survival_group * years + "
            f"{' + '.join(covariates)} "
            "+ (1 | subject)",
            reml=reml, check_scale=False,
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
    method = _method(model, "ALS", per=per)
    used = als.loc[model.fit_rows]
    return AnalysisResult(
        name="alsfrs_vs_wmh", effect=effect, coefficients=model.coefficients, model=model,
        counts=group_counts(used), excluded=excluded, method=method, data=used, fit=fit,
        extra=extra,
    )


PHENOTYPE_LEVELS = ["classic", "PLS", "flail_arm"]
"""Phenotype levels in ALS; ``classic`` is the reference."""


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


def _subject_rates(data: pd.DataFrame, column: str) -> pd.Series:
    """Per-subject rate of change per year from ``column ~ years + (1 + years | subject)``.

    The rate is the fixed slope plus the subject's BLUP; subjects with fewer than two
    non-missing visits of ``column`` are not given one.
    """
    present = data[data[column].notna()]
    visits_per_subject = present.groupby("subject").size()
    eligible = visits_per_subject.index[visits_per_subject >= 2]
    model = fit_lme(present[present["subject"].isin(eligible)],
                    f"{quote_name(column)} ~ years + (1 + years | subject)")
    slope = model.coefficients.loc["years", "estimate"] + model.random_effects["years"]
    slope.name = f"{column}_rate"
    return slope


def _ols_association(x: pd.Series, y: pd.Series, label: str, units: str) -> pd.DataFrame:
    """Least-squares slope of y on x with its t test and 95% t interval (as R ``lm``)."""
    from scipy import stats

    fit = stats.linregress(x.to_numpy(float), y.to_numpy(float))
    df = len(x) - 2
    half = stats.t.ppf(0.975, df) * fit.stderr
    row = pd.DataFrame(
        {"estimate": fit.slope, "std_error": fit.stderr, "df": float(df),
         "statistic": fit.slope / fit.stderr, "p_value": fit.pvalue,
         "ci_low": fit.slope - half, "ci_high": fit.slope + half, "units": units,
         "description": label, "pearson_r": fit.rvalue, "n_subjects": len(x)},
        index=pd.Index([label], name="term"),
    )
    return row


def flair_vs_alsfrs(
    visits: pd.DataFrame,
    roi: str = "flair_cst",
    *,
    outcomes: Sequence[str] = ("alsfrs_r", "ecas_executive"),
    adjust: str | None = None,
) -> AnalysisResult:
    """Does faster qFLAIR change go with faster clinical decline? (Fabes et al. 2017).

    Two stages, within ALS: each subject's rate of change per year of the ROI and of each
    outcome (ALSFRS-R, ECAS executive) is estimated from ``column ~ years + (1 + years |
    subject)`` (fixed slope plus the subject's BLUP); then each outcome rate is regressed on the
    ROI rate by OLS, with Pearson's r beside it.

    Parameters
    ----------
    visits : pandas.DataFrame
        A visit table with the ROI and outcome columns.
    roi : str
        The normalised FLAIR column.
    outcomes : sequence of str
        Clinical columns whose decline is related to the ROI's change (those absent are skipped).
    adjust : {"holm", "hochberg", "hommel", "bonferroni", "BH", "BY"}, optional
        Adjust the p-values over the outcomes' rows (:func:`alsstats.p_adjust`); adds a column
        ``p_adjusted``.

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
    data = _validated(visits, require=[roi])
    als = data[data["group"] == "ALS"]
    outcomes = [c for c in outcomes if c in als.columns and als[c].notna().any()]
    if not outcomes:
        raise DataValidationError(
            "flair_vs_alsfrs needs at least one outcome column with values in ALS "
            "(e.g. 'alsfrs_r', 'ecas_executive')"
        )
    rates = pd.concat([_subject_rates(als, c) for c in (roi, *outcomes)], axis=1)
    rows = []
    for outcome in outcomes:
        both = rates[[f"{roi}_rate", f"{outcome}_rate"]].dropna()
        rows.append(_ols_association(
            both[f"{roi}_rate"], both[f"{outcome}_rate"], f"{outcome} rate ~ {roi} rate",
            f"{outcome} units/year per {roi} units/year"))
    effect = pd.concat(rows)
    all_subjects = pd.Index(als["subject"].unique())
    excluded_rows = []
    for column in rates.columns:
        missing = all_subjects.difference(rates[column].dropna().index)
        excluded_rows += [(s, f"fewer than 2 visits with {column.removesuffix('_rate')}")
                          for s in missing]
    roi_model = fit_lme(als[als["subject"].isin(rates[f"{roi}_rate"].dropna().index)],
                        f"{quote_name(roi)} ~ years + (1 + years | subject)")
    method = {
        "formula": f"stage 1: <column> ~ years + (1 + years | subject) in ALS for {roi} and "
                   f"{', '.join(outcomes)}; stage 2: OLS of each outcome rate on the {roi} rate",
        "estimation": "REML (stage 1), OLS (stage 2)",
        "df_method": "residual df of the OLS",
        "ci": "95% t interval",
        "population": "ALS",
    }
    counts = pd.DataFrame({"group": ["ALS"], "n_subjects": [len(rates.dropna())],
                           "n_visits": [int(als["subject"].isin(rates.dropna().index).sum())]})
    result = AnalysisResult(
        name="flair_vs_alsfrs", effect=effect, coefficients=effect.drop(
            columns=["units", "description", "pearson_r", "n_subjects"]),
        model=roi_model, counts=counts, excluded=_excluded(excluded_rows), method=method,
        extra={"rates": rates},
    )
    _adjust_effect(result, adjust)
    return result


def _adjust_effect(result: AnalysisResult, adjust: str | None) -> None:
    """Multiplicity-adjusted p-values over the rows of ``effect`` (column ``p_adjusted``)."""
    if adjust is None:
        return
    from alsstats.multiplicity import p_adjust

    result.effect["p_adjusted"] = p_adjust(result.effect["p_value"].to_numpy(), adjust)
    result.method["adjust"] = f"{adjust} over the {len(result.effect)} effect rows"


def _bootstrap_totals(values: np.ndarray, n_resamples: int, seed: int,
                      block: int = 4_000_000) -> np.ndarray:
    """Column totals of ``values`` (subjects x k) in each of ``n_resamples`` resamples of the
    subjects drawn with replacement: (resamples x k).

    Each resample is a vector of multiplicities (how often each subject was drawn); blocks of
    them are multiplied with ``values`` at once, so memory stays bounded for any cohort.
    """
    rng = np.random.default_rng(seed)
    n = len(values)
    totals = np.empty((n_resamples, values.shape[1]))
    rows_per_block = max(1, block // n)
    for start in range(0, n_resamples, rows_per_block):
        k = min(rows_per_block, n_resamples - start)
        draws = rng.integers(0, n, size=(k, n)) + (np.arange(k) * n)[:, None]
        multiplicities = np.bincount(draws.ravel(), minlength=k * n).reshape(k, n)
        totals[start:start + k] = multiplicities @ values
    return totals


def phenotype_classifier(
    visits: pd.DataFrame,
    *,
    rois: Sequence[str] = ("flair_cst", "flair_cc"),
    n_splits: int = 5,
    n_bootstrap: int = 2000,
    seed: int = 0,
) -> AnalysisResult:
    """How much does qFLAIR add to telling ALS phenotypes apart? (Fabes et al. 2017).

    A multinomial logistic regression (standardised features, balanced class weights) predicts
    the phenotype (classic / PLS / flail arm) of each ALS subject, from (a) the ALSFRS-R rate
    of change and the baseline UMN score alone and (b) those plus baseline qFLAIR and its rate of
    change in each ROI. Both are scored on the same stratified ``n_splits``-fold out-of-fold
    predictions; the gain in accuracy and balanced accuracy gets a paired bootstrap CI over
    subjects.

    Parameters
    ----------
    visits : pandas.DataFrame
        A visit table with ``phenotype``, ``alsfrs_r``, ``umn_score`` and the ROI columns.
    rois : sequence of str
        qFLAIR columns added in model (b).
    n_splits : int
        Folds of the stratified cross-validation (reduced to the smallest class size if needed).
    n_bootstrap : int
        Bootstrap resamples of subjects for the CIs.
    seed : int
        Seed of the folds and the bootstrap.

    Returns
    -------
    AnalysisResult
        ``effect``: rows ``accuracy (clinical)``, ``accuracy (clinical + qFLAIR)``, ``accuracy
        gain``, and the same three for ``balanced accuracy``; columns ``estimate, std_error``
        (bootstrap SD), ``df`` (NaN), ``statistic`` (NaN), ``p_value`` (for the gains: the
        bootstrap share of resamples with gain <= 0, two-sided), ``ci_low, ci_high``
        (percentile), ``units, description``. ``extra["predictions"]``: per subject the
        phenotype and both out-of-fold predictions; ``extra["features"]``.

    Notes
    -----
    Per-subject rates are BLUP-based (see :func:`flair_vs_alsfrs`); they are computed once on
    all subjects without the labels, so no phenotype information leaks into the folds. The
    bootstrap resamples subjects with their out-of-fold predictions fixed, so it reflects the
    test-set sampling variability, not the variability of re-fitting the classifier.

    Examples
    --------
    >>> import warnings, alsstats as als
    >>> with warnings.catch_warnings():  # 8 months of follow-up: some stage-one fits singular
    ...     warnings.simplefilter("ignore", als.SingularFitWarning)
    ...     result = als.phenotype_classifier(als.load_example_cohort(), n_bootstrap=200)
    >>> "accuracy gain" in result.effect.index
    True
    """
    try:
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import StratifiedKFold, cross_val_predict
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler
    except ImportError as error:
        raise ImportError(
            "phenotype_classifier needs scikit-learn, an optional dependency of alsstats; "
            "install it with: python -m pip install 'alsstats[classifier]'"
        ) from error

    data = _validated(visits, require=["phenotype", "alsfrs_r", "umn_score", *rois])
    als = data[(data["group"] == "ALS") & data["phenotype"].notna()]
    no_phenotype = (data.loc[(data["group"] == "ALS") & data["phenotype"].isna(), "subject"]
                    .unique())
    from alsstats.survival import baseline_values

    baseline = baseline_values(als, columns=["phenotype", "umn_score", *rois]).set_index("subject")
    features = pd.concat(
        [_subject_rates(als, "alsfrs_r"), baseline["umn_score"].rename("umn_baseline")]
        + [baseline[roi].rename(f"{roi}_baseline") for roi in rois]
        + [_subject_rates(als, roi) for roi in rois],
        axis=1,
    )
    complete = features.dropna()
    excluded = _excluded([(s, "a feature could not be computed (too few visits or missing)")
                          for s in features.index.difference(complete.index)]
                         + [(s, "phenotype missing") for s in no_phenotype])
    labels = baseline.loc[complete.index, "phenotype"].astype(str)
    smallest = int(labels.value_counts().min())
    if labels.nunique() < 2 or smallest < 2:
        raise DataValidationError(
            "column 'phenotype': a classifier needs at least two phenotypes with at least two "
            f"subjects each; found {labels.value_counts().to_dict()}"
        )
    folds = StratifiedKFold(n_splits=min(n_splits, smallest), shuffle=True, random_state=seed)
    clinical = ["alsfrs_r_rate", "umn_baseline"]
    with_flair = clinical + [c for c in complete.columns if c not in clinical]
    predictions = {}
    for name, columns in (("clinical", clinical), ("clinical + qFLAIR", with_flair)):
        model = make_pipeline(StandardScaler(),
                              LogisticRegression(class_weight="balanced", max_iter=2000))
        predictions[name] = cross_val_predict(model, complete[columns].to_numpy(),
                                              labels.to_numpy(), cv=folds)
    truth = labels.to_numpy()
    classes = np.unique(truth)
    members = (truth[:, None] == classes).astype(float)  # subjects x classes
    hits = {name: (predicted == truth)[:, None] * members
            for name, predicted in predictions.items()}
    names = list(hits)
    totals = _bootstrap_totals(np.hstack([members, *hits.values()]), n_bootstrap, seed)
    n_classes = len(classes)
    boot_size = totals[:, :n_classes]
    boot_hits = {name: totals[:, n_classes * (i + 1):n_classes * (i + 2)]
                 for i, name in enumerate(names)}
    rows = []
    for metric in ("accuracy", "balanced accuracy"):
        values = {}
        for name, table in hits.items():
            if metric == "accuracy":
                point = table.sum() / len(truth)
                boot = boot_hits[name].sum(axis=1) / len(truth)
            else:
                point = np.mean(table.sum(axis=0) / members.sum(axis=0))
                with np.errstate(invalid="ignore", divide="ignore"):
                    boot = np.nanmean(boot_hits[name] / boot_size, axis=1)
            values[name] = (point, boot)
        gain_point = values["clinical + qFLAIR"][0] - values["clinical"][0]
        gain_boot = values["clinical + qFLAIR"][1] - values["clinical"][1]
        for label, (point, boot) in [*((f"{metric} ({k})", v) for k, v in values.items()),
                                     (f"{metric} gain", (gain_point, gain_boot))]:
            is_gain = label.endswith("gain")
            p_value = (min(1.0, 2 * min(np.mean(boot <= 0), np.mean(boot >= 0)))
                       if is_gain else np.nan)
            rows.append({
                "term": label, "estimate": point, "std_error": np.std(boot, ddof=1),
                "df": np.nan, "statistic": np.nan, "p_value": p_value,
                "ci_low": np.quantile(boot, 0.025), "ci_high": np.quantile(boot, 0.975),
                "units": "proportion",
                "description": ("clinical + qFLAIR minus clinical" if is_gain else
                                f"out-of-fold {metric}"),
            })
    effect = pd.DataFrame(rows).set_index("term")
    method = {
        "formula": f"phenotype ~ {' + '.join(clinical)} vs phenotype ~ {' + '.join(with_flair)}",
        "estimation": "multinomial logistic regression (lbfgs, L2, C=1), balanced class weights",
        "df_method": "not applicable",
        "ci": f"95% percentile, paired bootstrap over subjects ({n_bootstrap} resamples)",
        "population": "ALS with a phenotype",
        "cross_validation": f"stratified {folds.n_splits}-fold, seed {seed}",
    }
    counts = (labels.value_counts().rename_axis("group").reset_index(name="n_subjects")
              .assign(n_visits=lambda t: t["group"].map(als.groupby("phenotype").size())))
    return AnalysisResult(
        name="phenotype_classifier", effect=effect,
        coefficients=effect[EFFECT_COLUMNS], model=None, counts=counts, excluded=excluded,
        method=method,
        extra={"predictions": pd.DataFrame({"phenotype": truth, **predictions},
                                           index=complete.index),
               "features": complete},
    )


def wmh_survival_joint(
    visits: pd.DataFrame,
    *,
    association: str = "value",
    baseline: str = "weibull",
    covariates: Sequence[str] = ("age", "sex"),
    n_example_subjects: int = 3,
    horizon_years: float = 5.0,
) -> AnalysisResult:
    """WMH and survival in ALS in one joint model, without the 24-month split.

    Fits :func:`alsstats.fit_joint` to the ALS patients: ``wmh_cm3 ~ years + age + sex +
    (1 + years | subject)`` (WMH in cm3 = mm3 / 1000, for a well-scaled optimisation) and
    ``Surv(survival_months / 12, event) ~ age + sex`` with the hazard depending on the current
    true WMH (``association="value"``) and/or its rate (``"slope"``, ``"value+slope"``).
    Answers the paper's question directly: how much does WMH raise the hazard of death, and what
    is the ALS WMH rate once informative dropout (the fastest progressors die first) is modelled.

    Parameters
    ----------
    visits : pandas.DataFrame
        A visit table with ``wmh_mm3``, ``survival_months``, ``event`` (validated here).
    association : {"value", "slope", "value+slope"}
    baseline : {"weibull", "piecewise"}
    covariates : sequence of str
        Covariates of both sub-models (default age and sex).
    n_example_subjects : int
        Patients (lowest, middle, highest WMH rate) whose dynamic survival curves are returned
        in ``extra["dynamic_survival"]``.
    horizon_years : float
        Last time of those curves.

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
    The split analysis (:func:`survival_group_progression`) drops patients censored before 24
    months and compares trajectories by an outcome observed later; the joint model keeps every
    patient and models death and WMH together (Rizopoulos 2012), as R's JM.

    Examples
    --------
    >>> import alsstats as als
    >>> result = als.wmh_survival_joint(als.load_example_cohort())
    >>> result.effect.index.tolist()
    ['years', 'value', 'years (fit_lme)']
    """
    from alsstats.joint import fit_joint

    data = _validated(visits, require=["wmh_mm3", "survival_months", "event", *covariates])
    als_rows = data[data["group"] == "ALS"].copy()
    if als_rows.empty:
        raise DataValidationError("column 'group': no ALS subjects; the joint model needs them")
    per_subject = als_rows.groupby("subject", observed=True)
    no_survival = per_subject["survival_months"].apply(lambda s: s.isna().all()) | \
        per_subject["event"].apply(lambda s: s.isna().all())
    no_wmh = per_subject["wmh_mm3"].apply(lambda s: s.isna().all())
    reasons = [(s, "no survival time or event") for s in no_survival.index[no_survival]]
    reasons += [(s, "no WMH measurement") for s in no_wmh.index[no_wmh & ~no_survival]]
    excluded = _excluded(reasons)
    kept = als_rows[~als_rows["subject"].isin(excluded["subject"])].copy()
    kept["wmh_cm3"] = kept["wmh_mm3"] / 1000.0
    rhs = " + ".join(["years", *covariates])
    longitudinal = f"wmh_cm3 ~ {rhs} + (1 + years | subject)"
    survival = f"Surv(survival_months / 12, event) ~ {' + '.join(covariates) or '1'}"
    model = fit_joint(kept, longitudinal, survival, visit_time="years", association=association,
                      baseline=baseline)
    lme = fit_lme(kept.loc[kept["wmh_cm3"].notna()], longitudinal, reml=False,
                  df_method="normal")
    scale = {"years": 1000.0}
    rows = []
    lme_row = lme.coefficients.loc["years"]
    for term, table, units, desc in (
        ("years", model.longitudinal, "mm3/year", "ALS WMH rate, joint model"),
        ("value", model.survival, "log HR per 1000 mm3", "current WMH on the hazard of death"),
        ("slope", model.survival, "log HR per 1000 mm3/year",
         "current WMH rate on the hazard of death"),
        ("years (fit_lme)", lme.coefficients, "mm3/year",
         "ALS WMH rate, mixed model alone (ignores informative dropout)")):
        key = term.split(" ")[0]
        if key not in table.index:
            continue
        factor = scale.get(key, 1.0)
        row = table.loc[key]
        rows.append({"term": term, "estimate": factor * row["estimate"],
                     "std_error": factor * row["std_error"], "df": np.inf,
                     "statistic": row["statistic"], "p_value": row["p_value"],
                     "ci_low": factor * row["ci_low"], "ci_high": factor * row["ci_high"],
                     "units": units, "description": desc})
    effect = pd.DataFrame(rows).set_index("term")
    slopes = model.random_effects["years"].sort_values()
    picks = slopes.index[np.unique(np.linspace(0, len(slopes) - 1,
                                               n_example_subjects).round().astype(int))]
    dynamic = model.predict_survival(kept[kept["subject"].isin(picks)],
                                     np.linspace(0, horizon_years, 61))
    joint_rate, lme_rate = effect.loc["years", "estimate"], lme_row["estimate"] * 1000.0
    comparison = (f"Modelling death and WMH together, the ALS WMH rate is {joint_rate:.0f} "
                  f"mm3/year; the mixed model alone, which treats visits missed after death as "
                  f"missing at random, gives {lme_rate:.0f} mm3/year.")
    method = {
        "formula": {"longitudinal": longitudinal, "survival": survival},
        "estimation": f"maximum likelihood, {model.method['method']} (as R JM)",
        "df_method": "normal (z)",
        "ci": f"{model.method['ci_level']:.0%} Wald, observed information",
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
        counts=group_counts(kept), excluded=excluded, method=method, data=kept,
        extra={"hazard_ratios": hr, "lme": lme, "dynamic_survival": dynamic,
               "comparison": comparison},
    )

"""What the named analyses share: validation, formula pieces, effect tables, exclusions,
figure curves and the survival-group split."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from alsstats.data import validate_visits
from alsstats.errors import DataValidationError
from alsstats.formula import quote_name
from alsstats.lme import LMEResult
from alsstats.marginal import mean_curve
from alsstats.results import EFFECT_COLUMNS, AnalysisResult

SURVIVAL_LEVELS = ["long", "short"]
"""Levels of the survival-group factor; ``long`` is the reference, so models report ``short``."""


PHENOTYPE_LEVELS = ["classic", "PLS", "flail_arm"]
"""Phenotype levels in ALS; ``classic`` is the reference."""


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
        curve = mean_curve(model, x, _grid(mine[x]), fixed={group: level})
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


def _validated(visits: pd.DataFrame, require: Sequence[str]) -> pd.DataFrame:
    table = validate_visits(visits, require=require)
    # pandas deep-copies .attrs on every operation; metadata such as a simulator's truth
    # would be copied thousands of times inside the model code.
    table.attrs = {}
    return table


def _adjust_effect(result: AnalysisResult, adjust: str | None) -> None:
    """Multiplicity-adjusted p-values over the rows of ``effect`` (column ``p_adjusted``)."""
    if adjust is None:
        return
    from alsstats.multiplicity import p_adjust

    result.effect["p_adjusted"] = p_adjust(result.effect["p_value"].to_numpy(), adjust)
    result.method["adjust"] = f"{adjust} over the {len(result.effect)} effect rows"


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


def _slope_contrast(result: AnalysisResult, group: str) -> None:
    """The rate per group level and their differences as emmeans' ``emtrends`` contrasts
    (``extra["slopes"]``, ``extra["slope_contrasts"]``, last level minus earlier ones)."""
    from alsstats.marginal import contrasts, marginal_trends

    trends = marginal_trends(result.model, group, "years")
    result.extra["slopes"] = trends.table
    result.extra["slope_contrasts"] = contrasts(trends, "revpairwise", adjust="none").table

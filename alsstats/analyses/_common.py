"""What the named analyses share: validation, formula pieces, effect tables, exclusions,
figure curves and the survival-group split."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from alsstats.data import validate_visits
from alsstats.errors import DataValidationError
from alsstats.formula import quote_name
from alsstats.lme import LMEResult
from alsstats.marginal import mean_curve
from alsstats.results import EFFECT_COLUMNS

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


@dataclass(frozen=True)
class Columns:
    """Which column of the user's table plays which part (the contract's names by default).

    The analyses validate the table under the contract's names and then work under the
    user's: formulas, filters and figure curves name ``subject``, ``visit_time`` and
    ``diagnosis`` as given (quoted by :func:`quote_name`), so a table with ``id``, ``t``
    and ``dx`` gives the same numbers as one with ``subject``, ``years`` and ``group``.
    """

    subject: str = "subject"
    visit_time: str = "years"
    diagnosis: str = "group"
    survival_time: str = "survival_months"
    event: str = "event"

    def contract(self) -> dict[str, str]:
        """The user's column name -> the contract's, for the columns named differently."""
        pairs = {self.subject: "subject", self.visit_time: "years", self.diagnosis: "group",
                 self.survival_time: "survival_months", self.event: "event"}
        return {user: canon for user, canon in pairs.items() if user != canon}

    def q(self, role: str) -> str:
        """The column of ``role`` as written in a formula."""
        return quote_name(getattr(self, role))


def _covariate_terms(covariates: Sequence[str], site: bool) -> list[str]:
    """Formula terms of the covariates: column names quoted (:func:`quote_name`), never code."""
    terms = [quote_name(c) for c in covariates]
    if site:
        terms.append("site")
    return terms


def _random_part(random_slope: bool, columns: Columns) -> str:
    subject = columns.q("subject")
    return (f"(1 + {columns.q('visit_time')} | {subject})" if random_slope
            else f"(1 | {subject})")


def _estimation(model: Any) -> str:
    """REML or ML, whether the fit's ``method`` is the word or a dict holding it."""
    method = model.method
    return str(method.get("estimation", method)) if isinstance(method, dict) else str(method)


def _df_words(df_method: str) -> str:
    return {"satterthwaite": "Satterthwaite", "kenward-roger": "Kenward-Roger"}.get(
        df_method, "normal (z)")


def _method(model: LMEResult, population: str, **more: Any) -> dict[str, Any]:
    return {
        "formula": model.formula,
        "estimation": _estimation(model),
        "df_method": _df_words(model.df_method),
        "ci": f"{model.ci_level:.0%} Wald on the same df",
        "ci_level": model.ci_level,
        "population": population,
        "n_observations": model.nobs,
        "n_subjects": model.n_groups,
        **more,
    }


def group_counts(data: pd.DataFrame, group: str = "group", *,
                 subject: str = "subject") -> pd.DataFrame:
    """Subjects and visits per level of ``group``: columns ``group, n_subjects, n_visits``."""
    table = data.groupby(group, observed=True).agg(
        n_subjects=(subject, "nunique"), n_visits=(subject, "size")
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


def _term(*parts: str) -> str:
    """A coefficient name as R writes it: quoted variable names, ``:`` between factors
    (``groupALS:years``, `` `dx group`ALS:t ``)."""
    return ":".join(parts)


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


def _left_out(data: pd.DataFrame, used: pd.Index, columns: Sequence[str],
              names: Columns) -> pd.DataFrame:
    """Subjects with visits a model left out (a missing value in one of ``columns``) and why:
    ``all 3 visit(s) left out: missing wmh_mm3`` or ``1 of 3 visits (years 0.5) left out: ...``
    (the visit-time column named as in the table).

    Vectorised over subjects (one groupby per quantity), so 100,000 subjects take well under a
    second."""
    out = ~data.index.isin(used)
    if not out.any():
        return _excluded([])
    dropped = data.loc[out]
    subjects = dropped[names.subject]
    n = subjects.groupby(subjects, sort=False).size()
    of = data.groupby(names.subject, sort=False).size().reindex(n.index).to_numpy()
    columns = [c for c in dict.fromkeys(columns) if c in dropped.columns]
    missing = dropped[columns].isna().groupby(subjects, sort=False).any().reindex(n.index)
    what = pd.Series("", index=n.index)
    for column in columns:
        has = missing[column].to_numpy()
        what = what.where(~has, what + np.where(what == "", "", ", ") + column)
    times = (dropped[names.visit_time].map(lambda y: f"{y:g}").groupby(subjects, sort=False)
             .agg(", ".join).reindex(n.index))
    counts = n.to_numpy()
    which = np.where(counts == of, "all " + pd.Series(of).astype(str).to_numpy() + " visit(s)",
                     pd.Series(counts).astype(str).to_numpy() + " of "
                     + pd.Series(of).astype(str).to_numpy() + f" visits ({names.visit_time} "
                     + times.to_numpy().astype(str) + ")")
    reasons = which + " left out: missing " + what.to_numpy().astype(str)
    return pd.DataFrame({"subject": n.index.to_numpy(), "reason": reasons})


def _check_levels_present(data: pd.DataFrame, group: str, columns: Sequence[str],
                          what: str, subject: str) -> None:
    """Refuse a comparison of the levels of ``group`` when a level has no complete visit."""
    complete = data[list(dict.fromkeys(columns))].notna().all(axis=1)
    per_level = (data.loc[complete].groupby(group, observed=False)[subject].nunique()
                 .reindex(data[group].cat.categories, fill_value=0))
    empty = [str(level) for level, n in per_level.items() if n == 0]
    if empty:
        counts = ", ".join(f"{level} {n}" for level, n in per_level.items())
        raise DataValidationError(
            f"{what}: no subject in {group} {' and '.join(map(repr, empty))} with "
            f"{', '.join(c for c in columns if c != group)} all present (subjects per level: "
            f"{counts}); the comparison needs subjects in every level")


def _validated(data: pd.DataFrame, require: Sequence[str],
               columns: Columns | None = None) -> pd.DataFrame:
    """The table checked against the contract (:func:`alsstats.validate_visits`) under the
    contract's names, returned under the user's (``columns``); problems name the user's
    columns. A column that carries a contract name but plays no part (``subject`` in a table
    whose subjects are in ``id``) is kept as it is."""
    columns = columns or Columns()
    rename = columns.contract()
    absent = [name for name in rename if name not in data.columns]
    if absent:
        raise DataValidationError([
            f"column {name!r} (named as the {role} column) is not in the table; the table has "
            f"{list(map(str, data.columns))!r}"
            for name in absent for role in
            [next(r for r in ("subject", "visit_time", "diagnosis", "survival_time", "event")
                  if getattr(columns, r) == name)]])
    bystanders = [canon for canon in rename.values() if canon in data.columns
                  and canon not in rename]
    probe = data.drop(columns=bystanders).rename(columns=rename)
    back = {canon: user for user, canon in rename.items()}
    try:
        table = validate_visits(probe, require=[rename.get(c, c) for c in require])
    except DataValidationError as error:
        if not back:
            raise
        pattern = re.compile(r"'(" + "|".join(map(re.escape, back)) + r")'")
        raise DataValidationError([pattern.sub(lambda m: repr(back[m.group(1)]), problem)
                                   for problem in error.problems]) from None
    table = table.rename(columns=back)
    for name in bystanders:
        table[name] = data[name].to_numpy()
    # pandas deep-copies .attrs on every operation; metadata such as a simulator's truth
    # would be copied thousands of times inside the model code.
    table.attrs = {}
    return table


def _patients(data: pd.DataFrame, columns: Columns) -> pd.DataFrame:
    """The rows of patients: every row whose diagnosis is not ``control``."""
    return data[(data[columns.diagnosis] != "control").to_numpy()]


def _adjusted(effect: pd.DataFrame, method: dict[str, Any], adjust: str | None
              ) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Multiplicity-adjusted p-values over the rows of ``effect`` (column ``p_adjusted``),
    and the method saying so; both unchanged without ``adjust``."""
    if adjust is None:
        return effect, method
    from alsstats.multiplicity import p_adjust

    effect = effect.assign(p_adjusted=p_adjust(effect["p_value"].to_numpy(), adjust))
    return effect, {**method, "adjust": f"{adjust} over the {len(effect)} effect rows"}


def _survival_split(data: pd.DataFrame, cutoff_months: float, columns: Columns
                    ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Patients' visits with a ``survival_group`` column (long/short) and the subjects left
    out (unclassified), by :func:`alsstats.survival_groups`."""
    from alsstats.survival import survival_groups

    patients = _patients(data, columns)
    if patients.empty:
        raise DataValidationError(f"column {columns.diagnosis!r}: no ALS subjects; survival "
                                  "groups need them")
    # survival_groups warns (UnclassifiedSubjectsWarning) with how many were left out and why
    split = survival_groups(patients, cutoff_months=cutoff_months,
                            survival_time=columns.survival_time, event=columns.event,
                            subject=columns.subject, diagnosis=columns.diagnosis)
    groups = split.groups
    excluded = split.excluded[["subject", "reason"]].reset_index(drop=True)
    labels = patients[columns.subject].map(groups)
    kept = patients[labels.notna().to_numpy()].copy()
    kept["survival_group"] = pd.Categorical(labels[labels.notna()], categories=SURVIVAL_LEVELS)
    return kept, excluded


def _slope_contrast(model: LMEResult, group: str, visit_time: str) -> dict[str, pd.DataFrame]:
    """The rate per group level and their differences as emmeans' ``emtrends`` contrasts
    (``slopes``, ``slope_contrasts``: last level minus earlier ones)."""
    from alsstats.marginal import contrasts, marginal_trends

    trends = marginal_trends(model, group, visit_time)
    return {"slopes": trends.table,
            "slope_contrasts": contrasts(trends, "revpairwise", adjust="none").table}

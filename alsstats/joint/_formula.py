"""The one adapter between the joint model and the formula layer.

Everything the joint model needs from formulas goes through this module: the longitudinal
model matrices (via :func:`alsstats.lme.formula.build_model_frame`), their values at arbitrary
times (event times, quadrature nodes), and the survival response and covariates of a
``Surv(time, event) ~ covariates`` formula (R expressions inside ``Surv`` and the covariates via
:mod:`alsstats.formula.survival`).
When the formula layer changes, only this module changes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from alsstats.errors import FormulaError
from alsstats.formula.survival import SurvFormula, build_cox_design, parse_surv_formula
from alsstats.lme.formula import ModelFrame, build_model_frame

__all__ = ["LongitudinalDesign", "SurvivalSpec", "build_longitudinal", "parse_survival",
           "survival_arrays", "survival_outcome"]



@dataclass
class LongitudinalDesign:
    """Longitudinal model matrices (rows in the data's order) and how to rebuild them."""

    frame: ModelFrame
    y: np.ndarray
    X: np.ndarray
    Z: np.ndarray
    x_names: list[str]
    z_names: list[str]
    codes: np.ndarray          # subject index per used row (0..n-1, subjects sorted)
    subjects: pd.Index         # subject labels in code order
    rows: pd.Index             # data rows used
    group: str

    def design_at(self, base: pd.DataFrame, time: str, times: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray]:
        """X and Z of each row of ``base`` at each of ``times`` (shape (len(base), m)).

        Returns arrays of shape (len(base), m, p) and (len(base), m, q): the subject's row with
        its ``time`` column replaced, as JM evaluates the longitudinal mean at the event time.
        """
        times = np.asarray(times, dtype=float)
        n, m = times.shape
        rep = base.iloc[np.repeat(np.arange(n), m)].copy()
        rep[time] = times.ravel()
        fx, rz = self.frame.design_new(rep)
        return fx.reshape(n, m, -1), rz.reshape(n, m, -1)

    def slope_at(self, base: pd.DataFrame, time: str, times: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray]:
        """d/dt of X and Z at ``times``: a central difference, exact for designs linear or
        quadratic in time (polynomial terms, interactions with baseline covariates)."""
        times = np.asarray(times, dtype=float)
        h = 1e-3 * max(1.0, float(np.nanmax(np.abs(times))))
        xp, zp = self.design_at(base, time, times + h)
        xm, zm = self.design_at(base, time, times - h)
        return (xp - xm) / (2 * h), (zp - zm) / (2 * h)


def build_longitudinal(formula: str, data: pd.DataFrame, subject: str) -> LongitudinalDesign:
    """Model matrices of an lme4-style longitudinal formula with one random block."""
    frame = build_model_frame(formula, data, caller="fit_joint")
    if frame.Z is None:
        raise FormulaError(f"{formula!r} has several random-effect terms; the joint model "
                           f"takes one, grouped by the subject column, e.g. "
                           f"(1 + years | {subject})")
    if frame.parts.group != subject:
        raise FormulaError(f"the random-effect term of {formula!r} groups by "
                           f"{frame.parts.group!r}; the joint model needs the subject column "
                           f"{subject!r} as its grouping factor, e.g. (1 + years | {subject})")
    return LongitudinalDesign(frame=frame, y=frame.y, X=frame.X, Z=frame.Z,
                              x_names=list(frame.x_names), z_names=list(frame.z_names),
                              codes=np.asarray(frame.codes), subjects=frame.groups,
                              rows=frame.rows, group=subject)


@dataclass(frozen=True)
class SurvivalSpec:
    """A parsed ``Surv(time, event) ~ covariates`` (R expressions allowed inside ``Surv``)."""

    formula: str
    time: str
    event: str
    rhs: str
    parsed: SurvFormula

    def columns(self, data: pd.DataFrame) -> list[str]:
        """Data columns the formula uses (time and event expressions and covariates)."""
        return list(dict.fromkeys(self.parsed.surv_columns() + self.covariates(data)))

    def covariates(self, data: pd.DataFrame) -> list[str]:
        """Data columns the covariates use."""
        return [] if self.rhs.strip() in ("1", "") else self.parsed.variables(data)


def parse_survival(formula: str) -> SurvivalSpec:
    """Parse ``Surv(time, event) ~ rhs`` through the formula layer; time and event may be R
    expressions (``survival_months / 12``, ``status == 2``)."""
    if not isinstance(formula, str):
        raise FormulaError(f"survival formula must be a string, got {type(formula).__name__}")
    parsed = parse_surv_formula(formula)
    if parsed.start is not None:
        raise FormulaError(f"{formula!r}: the joint model takes right-censored survival "
                           "Surv(time, event), one record per subject, not Surv(start, stop, "
                           "event)")
    if parsed.strata or parsed.cluster:
        raise FormulaError(f"{formula!r}: strata() and cluster() are not supported by the "
                           "joint model")
    return SurvivalSpec(formula=formula, time=parsed.stop, event=parsed.event,
                        rhs=parsed.rhs, parsed=parsed)


def _numeric(values: pd.Series) -> np.ndarray:
    if values.dtype == object:
        values = values.map(lambda v: float(v) if isinstance(v, (bool, np.bool_, int, float))
                            else np.nan)
    return pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)


def survival_outcome(spec: SurvivalSpec, data: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The evaluated time and event expressions, one value per row of ``data`` (an event
    coded 1/2 is read as R's ``Surv`` reads it)."""
    frame = spec.parsed.materialise(data)
    return _numeric(frame[spec.time]), _numeric(frame[spec.event])


def survival_arrays(spec: SurvivalSpec, table: pd.DataFrame
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Time, event, covariate matrix (no intercept) and R column names of one-row-per-subject
    ``table``."""
    time, event = survival_outcome(spec, table)
    if spec.rhs.strip() in ("1", ""):
        return time, event, np.zeros((len(table), 0)), []
    design = build_cox_design(table, spec.rhs)
    return time, event, design.matrix, list(design.columns)


def new_subject_longitudinal(long: LongitudinalDesign, newdata: pd.DataFrame,
                             reference: pd.DataFrame
                             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, pd.DataFrame]:
    """Response, X and Z of new visits coded as in the fit; also the rows used.

    The response is evaluated on the new visits stacked under ``reference`` (rows of the fit
    holding every factor level), so a factor seen at one level in the new visits alone is not
    an error.
    """
    combined = pd.concat([reference, newdata], ignore_index=True)
    frame = build_model_frame(long.frame.parts.formula, combined, caller="predict_survival")
    rows = np.asarray(frame.rows)
    new = rows >= len(reference)
    used = newdata.iloc[rows[new] - len(reference)]
    fx, rz = long.frame.design_new(used)
    return frame.y[new], fx, rz, used


def new_subject_covariates(spec: SurvivalSpec, fit_table: pd.DataFrame,
                           new_table: pd.DataFrame, names: list[str]) -> np.ndarray:
    """Survival covariates of new subjects, coded with the fit's factor levels."""
    if spec.rhs.strip() in ("1", ""):
        return np.zeros((len(new_table), 0))
    covariates = spec.covariates(fit_table)
    both = pd.concat([fit_table[covariates], new_table[covariates]], ignore_index=True)
    design = build_cox_design(both, spec.rhs)
    if list(design.columns) != names:
        raise FormulaError(f"the new subjects' survival covariates code as {design.columns}, "
                           f"the fit's as {names}: a level not seen in the fit?")
    return design.matrix[len(fit_table):]

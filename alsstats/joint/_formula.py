"""The one adapter between the joint model and the formula layer.

Everything the joint model needs from formulas goes through this module: the longitudinal
model matrices (via :func:`alsstats.lme.formula.build_model_frame`), their values at arbitrary
times (event times, quadrature nodes), and the survival response and covariates of a
``Surv(time, event) ~ covariates`` formula (covariates via :mod:`alsstats.survival.formula`).
When the formula layer changes, only this module changes.
"""

from __future__ import annotations

import ast
import operator
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from alsstats.errors import FormulaError
from alsstats.lme.formula import ModelFrame, build_model_frame
from alsstats.survival.formula import SurvFormula, build_design

__all__ = ["LongitudinalDesign", "SurvivalSpec", "build_longitudinal", "parse_survival",
           "survival_arrays", "survival_outcome"]

_SURV = re.compile(r"^\s*Surv\s*\((?P<args>.*)\)\s*~(?P<rhs>.*)$", re.DOTALL)
_BINOPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
           ast.Div: operator.truediv, ast.Pow: operator.pow}
_CMPOPS = {ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt,
           ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge}


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
    """A parsed ``Surv(time, event) ~ covariates``: expressions and the right-hand side."""

    formula: str
    time: str
    event: str
    rhs: str

    def columns(self, data: pd.DataFrame) -> list[str]:
        """Data columns the formula uses (time and event expressions and covariates)."""
        names = [n for expr in (self.time, self.event) for n in _names(expr)]
        names += SurvFormula(formula=self.formula, stop="", event="", rhs=self.rhs
                             ).variables(data)
        return list(dict.fromkeys(names))


def _split_args(text: str) -> list[str]:
    parts, depth, cur = [], 0, []
    for ch in text:
        depth += (ch == "(") - (ch == ")")
        if ch == "," and depth == 0:
            parts.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur).strip())
    return parts


def _parse_expr(expr: str) -> ast.AST:
    try:
        return ast.parse(expr, mode="eval").body
    except SyntaxError as exc:
        raise FormulaError(f"cannot parse {expr!r} inside Surv(): {exc.msg}") from None


def _names(expr: str) -> list[str]:
    return [node.id for node in ast.walk(_parse_expr(expr)) if isinstance(node, ast.Name)]


def parse_survival(formula: str) -> SurvivalSpec:
    """Parse ``Surv(time, event) ~ rhs``; time and event may be arithmetic on columns
    (``survival_months / 12``, ``status == 2``)."""
    if not isinstance(formula, str):
        raise FormulaError(f"survival formula must be a string, got {type(formula).__name__}")
    m = _SURV.match(formula)
    if m is None:
        raise FormulaError(f"cannot parse {formula!r}: expected 'Surv(time, event) ~ covariates'")
    args = _split_args(m.group("args"))
    if len(args) != 2 or not all(args):
        raise FormulaError(f"Surv() in {formula!r} must have two arguments (time, event): the "
                           "joint model takes right-censored survival, one row per subject")
    for expr in args:
        _evaluable(_parse_expr(expr), expr)
    rhs = m.group("rhs").strip() or "1"
    if re.search(r"\b(strata|cluster)\s*\(", rhs):
        raise FormulaError(f"{formula!r}: strata() and cluster() are not supported by the "
                           "joint model")
    return SurvivalSpec(formula=formula, time=args[0], event=args[1], rhs=rhs)


def _evaluable(node: ast.AST, expr: str) -> None:
    ok = (ast.Expression, ast.Name, ast.Constant, ast.BinOp, ast.UnaryOp, ast.USub, ast.UAdd,
          ast.Compare, ast.Load, *_BINOPS, *_CMPOPS)
    for sub in ast.walk(node):
        if not isinstance(sub, ok) or (isinstance(sub, ast.Constant)
                                       and not isinstance(sub.value, (int, float))):
            raise FormulaError(f"{expr!r} inside Surv(): only column names, numbers, "
                               "+ - * / ** and comparisons are allowed")
        if isinstance(sub, ast.Compare) and len(sub.ops) != 1:
            raise FormulaError(f"{expr!r} inside Surv(): chained comparisons are not allowed")


def _evaluate(node: ast.AST, data: pd.DataFrame) -> np.ndarray:
    """Arithmetic on numeric columns, never Python's eval."""
    if isinstance(node, ast.Name):
        if node.id not in data.columns:
            raise FormulaError(f"column {node.id!r} of the survival formula is not in the data")
        values = pd.to_numeric(data[node.id], errors="coerce").to_numpy(dtype=float)
        return values
    if isinstance(node, ast.Constant):
        return np.full(len(data), float(node.value))
    if isinstance(node, ast.UnaryOp):
        inner = _evaluate(node.operand, data)
        return -inner if isinstance(node.op, ast.USub) else inner
    if isinstance(node, ast.BinOp):
        return _BINOPS[type(node.op)](_evaluate(node.left, data), _evaluate(node.right, data))
    if isinstance(node, ast.Compare):
        left = _evaluate(node.left, data)
        right = _evaluate(node.comparators[0], data)
        out = _CMPOPS[type(node.ops[0])](left, right).astype(float)
        out[np.isnan(left) | np.isnan(right)] = np.nan
        return out
    raise FormulaError("unsupported expression inside Surv()")  # pragma: no cover


def survival_outcome(spec: SurvivalSpec, data: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The evaluated time and event expressions, one value per row of ``data``."""
    return (_evaluate(_parse_expr(spec.time), data), _evaluate(_parse_expr(spec.event), data))


def survival_arrays(spec: SurvivalSpec, table: pd.DataFrame
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Time, event, covariate matrix (no intercept) and R column names of one-row-per-subject
    ``table``."""
    time, event = survival_outcome(spec, table)
    covariates = SurvFormula(formula=spec.formula, stop="", event="", rhs=spec.rhs
                             ).variables(table)
    if spec.rhs.strip() in ("1", ""):
        return time, event, np.zeros((len(table), 0)), []
    design = build_design(table, spec.rhs, covariates)
    return time, event, design.matrix, design.columns


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
    covariates = SurvFormula(formula=spec.formula, stop="", event="", rhs=spec.rhs
                             ).variables(fit_table)
    both = pd.concat([fit_table[covariates], new_table[covariates]], ignore_index=True)
    design = build_design(both, spec.rhs, covariates)
    if design.columns != names:
        raise FormulaError(f"the new subjects' survival covariates code as {design.columns}, "
                           f"the fit's as {names}: a level not seen in the fit?")
    return design.matrix[len(fit_table):]

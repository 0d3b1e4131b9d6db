"""Model matrices from expanded terms, with R's contrasts, column names and order.

Treatment contrasts as R's ``model.matrix``: a factor in a term is coded by contrasts when the
term without it is the empty term or is contained in an earlier term, else by one indicator
per level; without an intercept the first factor of the first term holding one is coded by
indicators. Columns of an interaction vary fastest in its first variable. A :class:`Design`
keeps everything needed (levels, codings, fitted bases) to rebuild the matrix on new data.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from alsstats.errors import DataValidationError, FormulaError
from alsstats.formula._functions import Evaluator, Factor, Numeric, SharedValues
from alsstats.formula._terms import TermSpec

__all__ = ["Design", "build_design_matrix", "check_finite", "r_column_name"]


def r_column_name(name: str) -> str:
    """``(Intercept)`` as alsstats names it (``Intercept``); every other name as R's."""
    return "Intercept" if name == "(Intercept)" else name


@dataclass
class Design:
    """A model matrix with R's names, its terms, and the recipe to rebuild it.

    Attributes
    ----------
    matrix : numpy.ndarray
        (n, p) float.
    names : list of str
        Column names as R prints them, ``Intercept`` for ``(Intercept)``.
    assign : numpy.ndarray
        Per column, index into ``term_labels`` (R's ``assign`` attribute).
    term_labels : list of str
        ``(Intercept)`` (when present) then R's term labels in R's order.
    """

    matrix: np.ndarray
    names: list[str]
    assign: np.ndarray
    term_labels: list[str]
    spec: TermSpec = field(repr=False)
    state: dict = field(repr=False)
    coding: list = field(repr=False)

    def new(self, data: pd.DataFrame) -> np.ndarray:
        """The same design on ``data`` (levels, bases and codings of the fit; NaN rows where
        a value is missing)."""
        ev = Evaluator(data, self.state, fitting=False)
        values = {i: ev.variable(self.spec.variables[i]) for i in _used(self.spec)}
        matrix, _, _ = _columns(self.spec, values, self.coding, len(data))
        return matrix


def _used(spec: TermSpec) -> list[int]:
    return sorted({i for t in spec.terms for i in t.variables})


def _coding(spec: TermSpec, values: dict) -> list[dict[int, str]]:
    """Per term, per factor variable: 'contrasts' or 'indicators' (R's TermCode)."""
    coding: list[dict[int, str]] = []
    first_free = not spec.intercept
    for k, term in enumerate(spec.terms):
        codes: dict[int, str] = {}
        for i in term.variables:
            if not isinstance(values[i], Factor):
                continue
            margin = set(term.variables) - {i}
            contained = not margin or any(margin <= set(prev.variables)
                                          for prev in spec.terms[:k])
            codes[i] = "contrasts" if contained else "indicators"
            if first_free:
                codes[i] = "indicators"
                first_free = False
        coding.append(codes)
    return coding


def _var_columns(label: str, value, how: str | None, n: int):
    if isinstance(value, Factor):
        levels = value.levels
        start = 1 if how == "contrasts" else 0
        cols = []
        missing = value.codes < 0
        any_missing = missing.any()
        for j in range(start, len(levels)):
            col = (value.codes == j).astype(float)
            if any_missing:
                col[missing] = np.nan
            cols.append((f"{label}{levels[j]}", col))
        return cols
    x = value.values
    if x.ndim == 1:
        return [(label, x)]
    if value.colnames is not None:
        return [(f"{label}{c}", x[:, j]) for j, c in enumerate(value.colnames)]
    if x.shape[1] == 1:
        return [(label, x[:, 0])]
    return [(f"{label}{j + 1}", x[:, j]) for j in range(x.shape[1])]


def _columns(spec: TermSpec, values: dict, coding: list, n: int):
    columns, names, assign = [], [], []
    if spec.intercept:
        columns.append(1.0)
        names.append("(Intercept)")
        assign.append(0)
    offset = 1 if spec.intercept else 0
    for k, term in enumerate(spec.terms):
        cols: list[tuple[str, np.ndarray]] = [("", None)]
        for i in term.variables:
            var_cols = _var_columns(spec.labels[i], values[i], coding[k].get(i), n)
            cols = [(f"{a}:{b}" if a else b, vb if va is None else va * vb)
                    for b, vb in var_cols for a, va in cols]
        if cols and cols[0][1] is not None:
            columns.extend(c for _, c in cols)
            names.extend(name for name, _ in cols)
            assign.extend([k + offset] * len(cols))
    matrix = np.empty((n, len(columns)))
    for j, column in enumerate(columns):
        matrix[:, j] = column
    return matrix, names, np.asarray(assign, dtype=np.int64)


def build_design_matrix(spec: TermSpec, data: pd.DataFrame, state: dict | None = None,
                        id_labels: list[str] | None = None,
                        shared: SharedValues | None = None) -> Design:
    """Evaluate the variables of ``spec`` on ``data`` (complete rows) and build the design.

    ``shared`` reuses the columns and variables other designs on the same ``data`` evaluated.
    Raises FormulaError for a one-level factor (R: contrasts need 2 or more levels) and
    DataValidationError for non-finite values, naming the variable and the rows.
    """
    state = {} if state is None else state
    ev = Evaluator(data, state, fitting=True, shared=shared)
    values = {i: ev.variable(spec.variables[i]) for i in _used(spec)}
    for i, v in values.items():
        if isinstance(v, Factor) and len(v.levels) < 2:
            raise FormulaError(
                f"factor {spec.labels[i]} has a single level ({v.levels[0] if v.levels else 'none'}) "
                "in the rows used: contrasts can be applied only to factors with 2 or more "
                "levels (R's error); drop the term or check the data subset")
        if isinstance(v, Numeric):
            check_finite(v.values, spec.labels[i], data, id_labels)
    coding = _coding(spec, values)
    matrix, names, assign = _columns(spec, values, coding, len(data))
    labels = (["(Intercept)"] if spec.intercept else []) + spec.term_labels
    return Design(matrix=matrix, names=[r_column_name(n) for n in names], assign=assign,
                  term_labels=labels, spec=spec, state=state, coding=coding)


def check_finite(values: np.ndarray, label: str, data: pd.DataFrame,
                 id_labels: list[str] | None = None) -> None:
    """Refuse non-finite model values (R's ``lm``: NA/NaN/Inf in 'x'), naming rows."""
    bad = ~np.isfinite(values)
    if bad.ndim > 1:
        bad = bad.any(axis=1)
    if not bad.any():
        return
    rows = np.flatnonzero(bad)
    if id_labels is not None:
        who = [id_labels[r] for r in rows[:5]]
    else:
        who = [f"row {data.index[r]}" for r in rows[:5]]
    more = f" and {len(rows) - 5} more" if len(rows) > 5 else ""
    raise DataValidationError(
        f"{label} has non-finite values (Inf, -Inf or NaN from e.g. log(0), sqrt of a "
        f"negative, or an infinite input) in {len(rows)} row(s): {', '.join(who)}{more}; "
        "R's model fitting refuses them too (NA/NaN/Inf in the model). Fix or remove those "
        "rows.")

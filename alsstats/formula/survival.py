"""Survival formulas: ``Surv(time, event) ~ x + strata(a, b) + cluster(id)``.

``Surv()`` takes two or three arguments (``Surv(start, stop, event)``), each an R expression
(``Surv(time, status == 2)``, ``Surv(survival_months / 12, event)``); an event coded 1/2 (as in
R's ``lung``) is read as R's ``Surv`` reads it (2 = event). ``strata()`` (several arguments:
their interaction) and ``cluster()`` are taken out of the covariates, as in R's ``coxph``.
Covariates go through the one formula layer; the design has no intercept column (coded as if
it had one, as ``coxph``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from alsstats.errors import FormulaError
from alsstats.formula._design import build_design_matrix
from alsstats.formula._frame import lazy_row_labels
from alsstats.formula._functions import Evaluator, names_in, variables_of
from alsstats.formula._levels import r_levels
from alsstats.formula._parser import (
    BinOp,
    Call,
    Name,
    Num,
    Paren,
    Unary,
    deparse,
    parse_formula_text,
)
from alsstats.formula._terms import expand_terms

__all__ = ["CoxDesign", "SurvFormula", "build_cox_design", "parse_surv_formula", "r_levels"]

_SPECIALS = ("strata", "cluster")


@dataclass
class SurvFormula:
    """A parsed ``Surv(time, event) ~ rhs`` or ``Surv(start, stop, event) ~ rhs``.

    ``stop``, ``event``, ``start``, ``strata`` and ``cluster`` hold R's text of each argument:
    the column name when it is one, else the expression (``status == 2``), which
    :meth:`materialise` adds as a column of a copy of the data.
    """

    formula: str
    stop: str
    event: str
    start: str | None = None
    rhs: str = "1"
    strata: list[str] = field(default_factory=list)
    cluster: str | None = None

    def variables(self, data: pd.DataFrame) -> list[str]:
        """Columns of ``data`` the covariates read (unknown names are a FormulaError)."""
        spec = expand_terms(parse_formula_text(self.rhs))
        out: list[str] = []
        for node in [spec.variables[i] for t in spec.terms for i in t.variables] + spec.offsets:
            out += [c for c in variables_of(node, data.columns) if c not in out]
        return out

    def surv_columns(self) -> list[str]:
        """Names read by the Surv() arguments (checked against the data by the caller)."""
        out: list[str] = []
        for text in (self.start, self.stop, self.event):
            if text is not None:
                out += [c for c in names_in(parse_formula_text(text)) if c not in out]
        return out

    def special_columns(self) -> list[str]:
        """Names read by strata() and cluster()."""
        out: list[str] = []
        for text in [*self.strata, *([self.cluster] if self.cluster else [])]:
            out += [c for c in names_in(parse_formula_text(text)) if c not in out]
        return out

    def materialise(self, data: pd.DataFrame) -> pd.DataFrame:
        """``data`` with a column for each Surv/strata/cluster argument that is an expression,
        and the event as 0/1 (R's 1/2 coding read as R's ``Surv`` does). Never in place."""
        out = data
        texts = [t for t in (self.start, self.stop, self.event, *self.strata, self.cluster)
                 if t is not None]
        for text in texts:
            node = parse_formula_text(text)
            if isinstance(node, Name) and node.id in data.columns:
                continue
            for name in names_in(node):
                if name not in data.columns:
                    raise FormulaError(f"column {name!r} of {text!r} is not in the data")
            value = Evaluator(data, {}, fitting=True).arith(node)
            if np.ndim(value) == 0:
                raise FormulaError(f"{text!r} in {self.formula!r} is a constant, not a column")
            missing = data[names_in(node)].isna().to_numpy().any(axis=1)
            if missing.any():  # a comparison of a missing value stays missing, as in R
                value = pd.Series(value, index=data.index, dtype=object).mask(missing)
            if out is data:
                out = data.copy()
            out[text] = value
        ev = out[self.event]
        if pd.api.types.is_numeric_dtype(ev.dtype) and not pd.api.types.is_bool_dtype(ev.dtype):
            present = ev.dropna()
            if len(present) and present.isin([1, 2]).all() and (present == 2).any():
                if out is data:
                    out = data.copy()
                out[self.event] = ev - 1
        return out


def parse_surv_formula(formula: str) -> SurvFormula:
    """Split a survival formula into its Surv() arguments, covariates, strata and cluster."""
    node = parse_formula_text(formula)
    if not (isinstance(node, BinOp) and node.op == "~" and isinstance(node.left, Call)
            and node.left.func == "Surv"):
        raise FormulaError(f"cannot parse {formula!r}: expected 'Surv(time, event) ~ "
                           "covariates' or 'Surv(start, stop, event) ~ covariates'")
    surv = node.left
    named = dict(surv.kwargs)
    unknown = [k for k in named if k not in ("time", "time2", "event")]
    args = list(surv.args)
    if unknown or len(args) + len(named) not in (2, 3):
        raise FormulaError(f"Surv() in {formula!r} takes (time, event) or (start, stop, event)"
                           f", got {deparse(surv)}")
    if named:
        order = ["time", "time2", "event"] if len(args) + len(named) == 3 else ["time", "event"]
        slots = dict(zip(order, args, strict=False))
        slots.update(named)
        if set(slots) != set(order):
            raise FormulaError(f"Surv() in {formula!r}: cannot match arguments {deparse(surv)}")
        args = [slots[k] for k in order]
    texts = [deparse(a) for a in args]
    out = SurvFormula(formula=formula, stop=texts[-2], event=texts[-1],
                      start=texts[0] if len(texts) == 3 else None)
    strata: list[str] = []
    cluster: list[str] = []

    def special(call) -> bool:
        if call.func == "strata":
            if not call.args or call.kwargs:
                raise FormulaError(f"{deparse(call)}: strata() takes one or more columns")
            strata.extend(deparse(a) for a in call.args)
            return True
        if call.func == "cluster":
            if len(call.args) != 1 or call.kwargs:
                raise FormulaError(f"cluster() takes one column, got {deparse(call)}")
            cluster.append(deparse(call.args[0]))
            return True
        return False

    expand_terms(node.right, special=special)  # checks the grammar, collects the specials
    if len(cluster) > 1:
        raise FormulaError(f"{formula!r} has several cluster() terms")
    out.strata, out.cluster = strata, (cluster[0] if cluster else None)
    rest = _without_specials(node.right)
    out.rhs = deparse(rest) if rest is not None else "1"
    return out


def _without_specials(node):
    inner = node
    while isinstance(inner, Paren):
        inner = inner.expr
    if isinstance(inner, Call) and inner.func in _SPECIALS:
        return None
    if isinstance(node, BinOp) and node.op in ("+", "-"):
        left, right = _without_specials(node.left), _without_specials(node.right)
        if left is None:
            return right if node.op == "+" else (BinOp("-", Num(1.0), right)
                                                 if right is not None else None)
        if right is None:
            return left
        return BinOp(node.op, left, right)
    for arg in _calls(node):
        if arg.func in _SPECIALS:
            raise FormulaError(f"{deparse(arg)} must be a term of its own (interactions with "
                               "strata() or cluster() are not supported)")
    return node


def _calls(node):
    if isinstance(node, Call):
        yield node
        for a in node.args:
            yield from _calls(a)
    elif isinstance(node, BinOp):
        yield from _calls(node.left)
        yield from _calls(node.right)
    elif isinstance(node, (Unary,)):
        yield from _calls(node.operand)
    elif isinstance(node, Paren):
        yield from _calls(node.expr)


@dataclass
class CoxDesign:
    """Covariates of a Cox model: matrix (no intercept), R names, columns of each term."""

    matrix: np.ndarray
    columns: list[str]
    terms: dict[str, list[int]]
    term_labels: list[str]
    assign: np.ndarray


def build_cox_design(df: pd.DataFrame, rhs: str, id_column: str | None = None) -> CoxDesign:
    """Design of ``rhs`` on ``df`` (complete rows): coded with an intercept, which is dropped."""
    spec = expand_terms(parse_formula_text(rhs))
    if not spec.intercept:
        raise FormulaError("a Cox model has no intercept; do not remove it with '- 1' or '+ 0' "
                           "(factor coding needs it to choose a reference level)")
    if spec.offsets:
        raise FormulaError("offset() is not supported in Cox models")
    design = build_design_matrix(spec, df, id_labels=lazy_row_labels(df, id_column))
    matrix = design.matrix[:, 1:]
    assign = design.assign[1:] - 1
    labels = design.term_labels[1:]
    terms = {label: [j for j in range(len(assign)) if assign[j] == k]
             for k, label in enumerate(labels)}
    terms = {t: c for t, c in terms.items() if c}
    return CoxDesign(matrix=np.ascontiguousarray(matrix), columns=design.names[1:], terms=terms,
                     term_labels=labels, assign=assign)


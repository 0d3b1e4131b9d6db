"""lme4 formulas: ``y ~ fixed + (expr | g) + (expr || g) + (1 | a/b) + (1 | a:b)``.

The fixed part and each random term go through the one formula layer (R's grammar, names,
levels; nothing evaluated as Python). Random terms become :class:`RandomBlock` objects as lme4's
``findbars`` expands them: ``(x || g)`` is ``(1 | g) + (0 + x | g)``, ``(1 | a/b)`` is
``(1 | a) + (1 | b:a)``. Ordering the blocks by number of levels (lme4's ``reTrms``) is left
to the engine.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from alsstats.errors import FormulaError
from alsstats.formula._design import Design, build_design_matrix, check_finite
from alsstats.formula._frame import complete_cases, complete_rows, lazy_row_labels
from alsstats.formula._functions import (
    Evaluator,
    Numeric,
    SharedValues,
    unknown_column,
    variables_of,
)
from alsstats.formula._levels import factorize_levels, level_label, r_levels
from alsstats.formula._parser import BinOp, Name, Num, Paren, deparse, parse_formula_text
from alsstats.formula._terms import Term, TermSpec, expand_terms

__all__ = ["FormulaParts", "ModelFrame", "RandomBlock", "build_model_frame", "random_groups",
           "split_formula"]


@dataclass(frozen=True)
class FormulaParts:
    """A formula split into response, fixed part, random part(s) and grouping factor(s)."""

    formula: str
    response: str
    fixed: str
    random: str
    group: str


@dataclass(frozen=True)
class _Bar:
    expr: object          # the node left of the bar
    group: tuple          # grouping variable names, e.g. ("Machine", "Worker") for Machine:Worker
    double: bool
    text: str


def _strip(node):
    while isinstance(node, Paren):
        node = node.expr
    return node


def _is_bar(node) -> bool:
    return isinstance(node, Paren) and isinstance(_strip(node), BinOp) \
        and _strip(node).op in ("|", "||")


def _split_rhs(rhs):
    """(fixed node or None, [bar nodes]) from a right-hand side."""
    bars = []

    def walk(node, sign):
        if _is_bar(node):
            if sign < 0:
                raise FormulaError(f"random-effect term {deparse(node)} cannot be subtracted")
            bars.append(_strip(node))
            return None
        if isinstance(node, BinOp) and node.op in ("+", "-"):
            left = walk(node.left, sign)
            right = walk(node.right, sign if node.op == "+" else -sign)
            if left is None:
                if right is None:
                    return None
                return right if node.op == "+" else BinOp("-", Num(1.0), right)
            if right is None:
                return left
            return BinOp(node.op, left, right)
        if isinstance(node, BinOp) and node.op in ("|", "||"):
            raise FormulaError(f"random-effect term {deparse(node)} must be in parentheses, "
                               "e.g. (1 | subject)")
        return node

    fixed = walk(rhs, 1)
    return fixed, bars


def _group_factors(node, text: str) -> list[tuple[str, ...]]:
    """Grouping factors of a bar's right side, lme4's way: ``a/b`` -> [a, b:a]."""
    node = _strip(node)
    if isinstance(node, Name):
        return [(node.id,)]
    if isinstance(node, BinOp) and node.op == ":":
        left, right = _group_factors(node.left, text), _group_factors(node.right, text)
        if len(left) != 1 or len(right) != 1:
            raise FormulaError(f"{text}: unsupported grouping factor {deparse(node)}")
        return [left[0] + right[0]]
    if isinstance(node, BinOp) and node.op == "/":
        outer = _group_factors(node.left, text)
        inner = _group_factors(node.right, text)
        if len(inner) != 1:
            raise FormulaError(f"{text}: unsupported nesting {deparse(node)}")
        return outer + [_nest(inner[0], outer[-1])]
    raise FormulaError(f"{text}: the grouping factor must be column names combined with ':' "
                       f"or '/', got {deparse(node)}")


def _nest(inner: tuple, outer: tuple) -> tuple:
    # lme4's expandSlash writes b:a for a/b (the inner factor first)
    return inner + outer


def _bars(bar_nodes) -> list[_Bar]:
    out = []
    for node in bar_nodes:
        text = f"({deparse(node)})"
        for grp in _group_factors(node.right, text):
            out.append(_Bar(node.left, grp, node.op == "||", text))
    return out


def split_formula(formula: str) -> FormulaParts:
    """Split ``"y ~ a * b + c + (1 + b | subject)"`` into its parts (R's text of each).

    Raises
    ------
    FormulaError
        No ``~``, no response, no random-effect term, a bar outside parentheses, or anything
        outside R's formula grammar.
    """
    parsed = _parse(formula)
    lhs, fixed, bars = parsed
    return FormulaParts(
        formula=formula, response=deparse(lhs),
        fixed=deparse(fixed) if fixed is not None else "1",
        random=" + ".join(deparse(b.left) for b in bars),
        group=" + ".join(deparse(b.right) for b in bars))


def random_groups(formula: str) -> list[str]:
    """lme4's grouping name of each random-effect block of ``formula`` (no data needed):
    ``(1 | a/b) + (x || g)`` -> ``['a', 'b:a', 'g', 'g']``."""
    _, _, bar_nodes = _parse(formula)
    return [":".join(bar.group) for bar in _bars(bar_nodes)
            for _ in _random_spec_count(bar)]


def _random_spec_count(bar: _Bar) -> range:
    if not bar.double:
        return range(1)
    spec = expand_terms(bar.expr)
    return range(len(spec.terms) + spec.intercept)


def _parse(formula: str):
    node = parse_formula_text(formula)
    if not (isinstance(node, BinOp) and node.op == "~"):
        raise FormulaError(f"formula must be 'response ~ terms', got {formula!r}")
    lhs, rhs = node.left, node.right
    fixed, bars = _split_rhs(rhs)
    if not bars:
        raise FormulaError(f"formula {formula!r} has no random-effect term such as "
                           "(1 | subject); for a model without random effects use ordinary "
                           "least squares")
    return lhs, fixed, bars


@dataclass(frozen=True)
class RandomBlock:
    """One random-effect term, as lme4 builds it (``findbars``, ``||`` and ``a/b`` expanded).

    Attributes
    ----------
    grp : str
        lme4's grouping name: ``"Subject"``; ``"Machine:Worker"`` for ``(1 | Worker/Machine)``.
    codes : numpy.ndarray
        int64 per used row, 0 .. n_levels - 1.
    levels : pandas.Index
        Levels of the grouping factor in R's order (raw values for one column, ``"a:b"`` labels
        for an interaction), named ``grp``.
    Z : numpy.ndarray
        (n_used_rows, q) model matrix of the term, columns in R's order.
    z_names : list of str
        R's column names, ``Intercept`` for ``(Intercept)``.
    """

    grp: str
    codes: np.ndarray
    levels: pd.Index
    Z: np.ndarray
    z_names: list[str]
    _design: Design = field(repr=False, compare=False, default=None)
    _group_columns: tuple = field(repr=False, compare=False, default=())
    _group_levels: tuple = field(repr=False, compare=False, default=())

    def design_new(self, newdata: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """(Z_new, codes_new) for ``newdata``; codes -1 for levels not seen in the fit."""
        z = self._design.new(newdata)
        missing = [c for c in self._group_columns if c not in newdata.columns]
        if missing:
            codes = np.full(len(newdata), -1, dtype=np.int64)
        else:
            codes = _group_codes(newdata, self._group_columns, self._group_levels,
                                 self.levels)[0]
        return z, codes


def _group_codes(frame: pd.DataFrame, columns: tuple, column_levels: tuple | None,
                 levels: pd.Index | None):
    """Codes of a (possibly interacted) grouping factor, levels in R's order."""
    if len(columns) == 1:
        series = frame[columns[0]]
        if levels is None:
            codes, values, text = factorize_levels(series)
            if text is not None and not pd.get_option("future.infer_string"):
                return codes, pd.Index(text, dtype=object, name=columns[0]), None
            return codes, pd.Index(values, name=columns[0]), None
        codes = levels.get_indexer(series.astype(object) if isinstance(
            series.dtype, pd.CategoricalDtype) else series)
        return np.asarray(codes, dtype=np.int64), levels, None
    parts = []
    fitted_levels = []
    for k, col in enumerate(columns):
        series = frame[col]
        lv = list(column_levels[k]) if column_levels else r_levels(series)
        fitted_levels.append(lv)
        idx = pd.Index(lv)
        parts.append(np.asarray(idx.get_indexer(series.astype(object) if isinstance(
            series.dtype, pd.CategoricalDtype) else series), dtype=np.int64))
    sizes = [len(lv) for lv in fitted_levels]
    combined = np.zeros(len(frame), dtype=np.int64)
    valid = np.ones(len(frame), dtype=bool)
    for p, size in zip(parts, sizes, strict=True):  # first factor slowest (lex order)
        combined = combined * size + np.maximum(p, 0)
        valid &= p >= 0
    name = ":".join(columns)
    if levels is None:
        used = np.unique(combined[valid])
        labels = []
        for u in used:
            digits, rest = [], int(u)
            for size in reversed(sizes):
                digits.append(rest % size)
                rest //= size
            digits.reverse()
            labels.append(":".join(level_label(fitted_levels[k][d])
                                   for k, d in enumerate(digits)))
        levels = pd.Index(labels, name=name)
        lookup = pd.Index(used)
        codes = np.where(valid, lookup.get_indexer(combined), -1)
        return np.asarray(codes, dtype=np.int64), levels, tuple(tuple(lv) for lv in fitted_levels)
    labels = np.array([":".join(level_label(fitted_levels[k][c]) if c >= 0 else "\0"
                                for k, c in enumerate(cs)) for cs in zip(*parts, strict=True)],
                      dtype=object)
    codes = levels.get_indexer(labels)
    return np.asarray(codes, dtype=np.int64), levels, None


@dataclass
class ModelFrame:
    """Model matrices of one mixed-model fit and what rebuilds them on new data.

    Attributes
    ----------
    parts : FormulaParts
        The formula's text and its parts.
    y : numpy.ndarray
        Response of the used rows.
    X, x_names : numpy.ndarray, list of str
        Fixed-effects model matrix and R's column names (``Intercept``, ``groupALS``,
        ``groupALS:years``), in R's term order.
    x_assign : numpy.ndarray
        Per column of ``X``, index into ``x_terms``.
    x_terms : list of str
        R's term labels in R's order, ``"(Intercept)"`` first when present.
    random_blocks : list of RandomBlock
        One per random-effect term as written, after expanding ``(x || g)`` and ``a/b``.
    n_dropped : int
        Rows left out for missing values.
    rows : pandas.Index
        Index labels of the used rows.
    Z, z_names, codes, groups
        Those of the single random block (None when there are several).
    offset : numpy.ndarray or None
        Sum of the ``offset()`` terms.
    variables : pandas.DataFrame or None
        The data columns the model reads (response, variables, grouping factors), in the
        data's column order, on the used rows (index ``rows``); a copy, never a view of the
        data, with the data's dtypes. None when rows were left out of a table whose index
        has duplicates: their labels do not name the rows fitted, and what reads the
        variables refuses such a fit.
    """

    parts: FormulaParts
    y: np.ndarray
    X: np.ndarray
    x_names: list[str]
    x_assign: np.ndarray
    x_terms: list[str]
    random_blocks: list[RandomBlock]
    n_dropped: int
    rows: pd.Index
    Z: np.ndarray | None = None
    z_names: list[str] | None = None
    codes: np.ndarray | None = None
    groups: pd.Index | None = None
    offset: np.ndarray | None = None
    fixed_design: Design | None = field(default=None, repr=False)
    variables: pd.DataFrame | None = field(default=None, repr=False)

    def design_new(self, newdata: pd.DataFrame) -> tuple[np.ndarray, np.ndarray | None]:
        """Fixed and (single-block) random model matrices of ``newdata``, coded as the fit."""
        fixed = self.fixed_design.new(newdata)
        if len(self.random_blocks) == 1:
            return fixed, self.random_blocks[0]._design.new(newdata)
        return fixed, None


def _random_spec(bar: _Bar) -> list[TermSpec]:
    """TermSpecs of a bar; a double bar gives one per term (intercept separately)."""
    spec = expand_terms(bar.expr)
    if not bar.double:
        return [spec]
    out = []
    if spec.intercept:
        out.append(TermSpec(intercept=True))
    for term in spec.terms:
        single = TermSpec(variables=spec.variables, labels=spec.labels,
                          terms=[Term(term.variables, term.label)], intercept=False)
        out.append(single)
    return out


@dataclass(frozen=True)
class _Plan:
    """What a formula's text alone decides (parsed, expanded, named): shared by every fit of
    that formula, so nothing here may be modified."""

    lhs: object
    fixed: object
    bars: tuple
    fixed_spec: TermSpec
    random_specs: tuple
    parts: FormulaParts
    response_label: str


def _make_plan(formula: str) -> _Plan:
    lhs, fixed, bar_nodes = _parse(formula)
    bars = _bars(bar_nodes)
    fixed_spec = expand_terms(fixed if fixed is not None else Num(1.0))
    random_specs = tuple((bar, spec) for bar in bars for spec in _random_spec(bar))
    parts = FormulaParts(formula=formula, response=deparse(lhs),
                         fixed=deparse(fixed) if fixed is not None else "1",
                         random=" + ".join(deparse(b.left) for b in bar_nodes),
                         group=" + ".join(":".join(bar.group) for bar, _ in random_specs))
    return _Plan(lhs=lhs, fixed=fixed, bars=tuple(bars), fixed_spec=fixed_spec,
                 random_specs=random_specs, parts=parts, response_label=deparse(lhs))


_cached_plan = functools.lru_cache(maxsize=256)(_make_plan)


def _plan(formula) -> _Plan:
    return _cached_plan(formula) if isinstance(formula, str) else _make_plan(formula)


def build_model_frame(formula: str, data: pd.DataFrame, caller: str = "fit_lme") -> ModelFrame:
    """Parse ``formula`` against ``data`` and build y, X, the random blocks and their codes.

    Rows with a missing value in any column the model reads are left out with a
    :class:`~alsstats.DroppedRowsWarning` that counts them per column. ``data`` is not
    modified, and nothing returned is a view of it. Non-finite model values (``Inf``,
    ``log(0)``) are an error naming the rows.
    """
    return _build_model_frame(formula, data, caller, fast=True)


def _build_model_frame(formula: str, data: pd.DataFrame, caller: str, fast: bool) -> ModelFrame:
    """``fast=False`` is the plain path the fast one must match (tests): complete rows by a
    whole-frame ``isna``, and every design evaluating its own columns."""
    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    plan = _plan(formula)
    lhs, bars, fixed_spec = plan.lhs, plan.bars, plan.fixed_spec
    columns = data.columns
    used = variables_of(lhs, columns)
    for node in [fixed_spec.variables[i] for t in fixed_spec.terms for i in t.variables] \
            + fixed_spec.offsets:
        used += [c for c in variables_of(node, columns) if c not in used]
    for bar, spec in plan.random_specs:
        for node in [spec.variables[i] for t in spec.terms for i in t.variables]:
            used += [c for c in variables_of(node, columns) if c not in used]
        for g in bar.group:
            if g not in columns:
                raise unknown_column(g, columns)
            if g not in used:
                used.append(g)
    if fast:
        frame, n_dropped, kept = complete_cases(data, used, caller, formula)
        # columns are read from ``data`` (already indexed by pandas) rather than from the new
        # copy, at the rows kept; nothing kept is a view of them
        shared = SharedValues(source=data, rows=kept if n_dropped else None)
    else:
        frame, n_dropped = complete_rows(data, used, caller, formula)
        frame = frame.copy()
        shared = None
    id_column = bars[0].group[0] if bars and len(bars[0].group) == 1 else None
    if "subject" in used:
        id_column = "subject"
    labels = lazy_row_labels(frame, id_column)
    response = Evaluator(frame, {}, fitting=True, shared=shared).variable(lhs)
    if not isinstance(response, Numeric) or response.values.ndim != 1:
        raise FormulaError(f"the response {plan.response_label!r} must be numeric (one column)")
    y = np.array(response.values, dtype=float)
    check_finite(y, f"the response {plan.response_label}", frame, labels)
    fixed_design = build_design_matrix(fixed_spec, frame, id_labels=labels, shared=shared)
    offset = None
    if fixed_spec.offsets:
        offset = np.zeros(len(frame))
        for node in fixed_spec.offsets:
            value = Evaluator(frame, {}, fitting=True, shared=shared).variable(node)
            check_finite(value.values, deparse(node), frame, labels)
            offset = offset + value.values
    blocks = []
    for bar, spec in plan.random_specs:
        design = build_design_matrix(spec, frame, id_labels=labels, shared=shared)
        if design.matrix.shape[1] == 0:
            raise FormulaError(f"the random-effect term {bar.text} has no terms")
        codes, levels, group_levels = _group_codes(
            data if shared is not None and n_dropped == 0 else frame, bar.group, None, None)
        grp = ":".join(bar.group)
        if levels.name != grp:
            levels = levels.rename(grp)
        blocks.append(RandomBlock(grp=grp, codes=codes, levels=levels, Z=design.matrix,
                                  z_names=design.names, _design=design,
                                  _group_columns=bar.group,
                                  _group_levels=group_levels or ()))
    single = blocks[0] if len(blocks) == 1 else None
    return ModelFrame(
        parts=plan.parts, y=y, X=fixed_design.matrix, x_names=fixed_design.names,
        x_assign=fixed_design.assign, x_terms=fixed_design.term_labels, random_blocks=blocks,
        n_dropped=n_dropped, rows=frame.index,
        Z=single.Z if single else None, z_names=single.z_names if single else None,
        codes=single.codes if single else None, groups=single.levels if single else None,
        offset=offset, fixed_design=fixed_design,
        variables=frame if n_dropped == 0 or data.index.is_unique else None)

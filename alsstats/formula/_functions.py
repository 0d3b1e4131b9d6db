"""Evaluate formula variables on named columns: a whitelist of R functions, nothing else.

A model variable evaluates to a :class:`Numeric` (one column, or a matrix such as
``poly(x, 2)``) or a :class:`Factor` (codes and R-ordered levels). Functions with fitted state
(``poly``, ``ns``, ``bs``, ``scale`` and every factor's levels) keep it in a ``state`` dict
keyed by the variable's R text, so the same basis is rebuilt on new data, as R's ``predict``.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pandas.api.types import infer_dtype

from alsstats.errors import FormulaError
from alsstats.formula._bases import bs_basis, ns_basis, poly_coefs, poly_predict
from alsstats.formula._levels import level_label, r_levels, r_sort
from alsstats.formula._parser import BinOp, Call, Name, Num, Paren, Str, Unary, deparse

__all__ = ["Evaluator", "Factor", "Numeric", "SUPPORTED_FUNCTIONS", "SharedValues",
           "variables_of"]

_MATH = {"log": np.log, "log2": np.log2, "log10": np.log10, "log1p": np.log1p, "exp": np.exp,
         "expm1": np.expm1, "sqrt": np.sqrt, "abs": np.abs}
_MODEL = ("I", "scale", "poly", "ns", "bs", "factor", "as.factor", "offset", "c")
SUPPORTED_FUNCTIONS = tuple(sorted(_MATH)) + _MODEL
_CONSTANTS = {"TRUE": True, "FALSE": False, "T": True, "F": False, "pi": math.pi,
              "Inf": math.inf, "NaN": math.nan, "NA": math.nan}


@dataclass
class Numeric:
    """Numeric model variable: ``values`` (n,) or (n, k); ``colnames`` for matrices."""

    values: np.ndarray
    colnames: list[str] | None = None


@dataclass
class Factor:
    """Factor model variable: ``codes`` (-1 = missing) into ``levels`` (R's labels)."""

    codes: np.ndarray
    levels: list[str]


def _unsupported(name: str) -> FormulaError:
    return FormulaError(
        f"function {name}() is not supported in formulas (formulas are never evaluated as "
        f"Python); supported: {', '.join(SUPPORTED_FUNCTIONS)}, and in survival formulas "
        "Surv(), strata(), cluster()")


def _nodes(node):
    """The Name and Call nodes of an expression, depth first, in reading order."""
    if isinstance(node, (Name, Call)):
        yield node
    if isinstance(node, Call):
        for arg in node.args:
            yield from _nodes(arg)
        for _, value in node.kwargs:
            yield from _nodes(value)
    elif isinstance(node, BinOp):
        yield from _nodes(node.left)
        yield from _nodes(node.right)
    elif isinstance(node, Unary):
        yield from _nodes(node.operand)
    elif isinstance(node, Paren):
        yield from _nodes(node.expr)


def names_in(node) -> list[str]:
    """Every name an expression reads that is not an R constant, in order, unchecked."""
    out: list[str] = []
    for n in _nodes(node):
        if isinstance(n, Name) and n.id not in _CONSTANTS and n.id not in out:
            out.append(n.id)
    return out


def variables_of(node, columns, skip_calls=()) -> list[str]:
    """Data columns a variable expression reads, in order of first appearance.

    Unknown names are a FormulaError naming them with close matches among ``columns``;
    functions outside the whitelist (and ``skip_calls``) a FormulaError naming them.
    """
    out: list[str] = []
    for n in _nodes(node):
        if isinstance(n, Call):
            if n.func not in _MATH and n.func not in _MODEL and n.func not in skip_calls:
                raise _unsupported(n.func)
        elif n.id in columns:
            if n.id not in out:
                out.append(n.id)
        elif n.id not in _CONSTANTS:
            raise unknown_column(n.id, columns)
    return out


def unknown_column(name: str, columns) -> FormulaError:
    names = [str(c) for c in columns]
    close = difflib.get_close_matches(name, names, n=4, cutoff=0.6)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    extra = ""
    if "__" in name or name.count(".") and not close:
        extra = (" (formulas are R formulas, never Python: a column whose name is not an R name "
                 "must be quoted in backticks, e.g. `my-column`)")
    return FormulaError(f"column {name!r} of the formula is not in the data{hint}{extra}")


def column_values(series: pd.Series, name: str):
    """A data column as numpy: float64, bool, or a pandas Categorical/object for text."""
    dtype = series.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in "fiu":  # plain numbers (NaN stays NaN)
        return series.to_numpy(dtype=float)
    if isinstance(dtype, pd.CategoricalDtype):
        return series.array
    if pd.api.types.is_bool_dtype(dtype):
        if series.isna().any():
            return series.to_numpy(dtype=object)
        return series.to_numpy(dtype=bool)
    if pd.api.types.is_complex_dtype(dtype):
        raise FormulaError(f"column {name!r} is complex-valued; models take real numbers "
                           "(it is not cast: take the real part or modulus explicitly)")
    if pd.api.types.is_datetime64_any_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype):
        raise FormulaError(f"column {name!r} holds dates or time spans ({dtype}); convert it "
                           "to a number with a stated unit (e.g. years) before modelling")
    if pd.api.types.is_numeric_dtype(dtype):
        return series.to_numpy(dtype=float, na_value=np.nan)
    values = series.to_numpy(dtype=object)
    if infer_dtype(values, skipna=True) == "string":  # every non-missing value a str
        return values
    present = [v for v in values if not pd.isna(v)]
    if present and all(isinstance(v, (bool, np.bool_)) for v in present):
        return values
    if present and all(isinstance(v, (int, float, np.integer, np.floating))
                       and not isinstance(v, (bool, np.bool_)) for v in present):
        return pd.to_numeric(series, errors="coerce").to_numpy(dtype=float)
    if any(isinstance(v, complex) for v in present):
        raise FormulaError(f"column {name!r} holds complex values; models take real numbers")
    return values


def _is_text(v) -> bool:
    return isinstance(v, (pd.Categorical, pd.arrays.ArrowStringArray)) or (
        isinstance(v, np.ndarray) and v.dtype == object)


def _is_logical(v) -> bool:
    if isinstance(v, np.ndarray) and v.dtype == bool:
        return True
    if isinstance(v, np.ndarray) and v.dtype == object:
        if infer_dtype(v, skipna=True) == "string":
            return False
        present = [x for x in v if not pd.isna(x)]
        return bool(present) and all(isinstance(x, (bool, np.bool_)) for x in present)
    return False


def _positions(levels: list, labels: list) -> np.ndarray:
    """``pd.Index(levels).get_indexer(labels)`` (-1 where absent), by a dict for the few
    levels a factor has; duplicated levels go to pandas, which refuses them."""
    lookup = {lab: i for i, lab in enumerate(levels)}
    if len(lookup) != len(levels):
        return pd.Index(levels, dtype=object).get_indexer(labels)
    return np.array([lookup.get(lab, -1) for lab in labels], dtype=np.int64)


class SharedValues:
    """Column values and model variables of one data frame, shared by the Evaluators that fit
    one model on it (its fixed part, each random term): each column is converted once and each
    variable computed once. Valid only while fitting on that same frame, within one call.

    ``source`` (optional) is the table the frame was cut from, read instead of the frame (its
    columns are already indexed by pandas, the frame's are not): all of it, or its rows at the
    positions ``rows``.
    """

    def __init__(self, source: pd.DataFrame | None = None, rows: np.ndarray | None = None):
        self.columns: dict[str, object] = {}
        self.variables: dict[str, tuple] = {}
        self.source = source
        self.rows = rows

    def column_values(self, series: pd.Series, name: str):
        """:func:`column_values` of ``series`` (a column of ``source``) on the frame's rows."""
        if self.rows is None:
            return column_values(series, name)
        dtype = series.dtype
        if isinstance(dtype, np.dtype) and dtype.kind in "fiub" \
                or isinstance(dtype, pd.CategoricalDtype):  # value by value: cut after
            return column_values(series, name)[self.rows]
        if isinstance(dtype, np.dtype) and dtype.kind == "O":
            values = series.to_numpy()
            if infer_dtype(values, skipna=True) == "string":  # text on every row: text on some
                return values[self.rows]
        return column_values(series.take(self.rows), name)  # kinds read from the rows kept


class Evaluator:
    """Evaluates variable expressions on ``data`` with fitted ``state`` (filled when fitting).

    ``shared`` (fitting only) reuses the columns and variables other Evaluators on the same
    ``data`` computed, and reads columns from its source.
    """

    def __init__(self, data: pd.DataFrame, state: dict, fitting: bool,
                 shared: SharedValues | None = None):
        self.data = data
        self.state = state
        self.fitting = fitting
        self.n = len(data)
        self._shared = shared if fitting else None
        self._cache: dict[str, object] = shared.columns if self._shared is not None else {}
        # where columns are read: ``data``, or a frame with the same rows and these columns
        self._source = data if self._shared is None or self._shared.source is None \
            else self._shared.source

    # ------------------------------------------------------------------ raw values
    def column(self, name: str):
        if name not in self._cache:
            series = self._source[name]
            if isinstance(series, pd.DataFrame):
                raise FormulaError(f"column name {name!r} appears {series.shape[1]} times in "
                                   "the data; rename the duplicates")
            self._cache[name] = column_values(series, name) if self._source is self.data \
                else self._shared.column_values(series, name)
        return self._cache[name]

    def arith(self, node):
        """Value of an arithmetic expression: float/bool array, text array, or scalar."""
        if isinstance(node, Num):
            return node.value
        if isinstance(node, Str):
            return node.value
        if isinstance(node, Name):
            if node.id in self._source.columns:
                return self.column(node.id)
            if node.id in _CONSTANTS:
                return _CONSTANTS[node.id]
            raise unknown_column(node.id, self.data.columns)
        if isinstance(node, Paren):
            return self.arith(node.expr)
        if isinstance(node, Unary):
            v = self.arith(node.operand)
            if node.op == "!":
                return ~self._logical(v, node) if not isinstance(v, bool) else not v
            v = self._numeric(v, node)
            return -v if node.op == "-" else v
        if isinstance(node, BinOp):
            return self._binop(node)
        if isinstance(node, Call):
            if node.func in _MATH:
                return self._math(node)
            if node.func == "I":
                self._arity(node, 1)
                return self.arith(node.args[0])
            if node.func in ("factor", "as.factor"):
                self._arity(node, 1)
                inner = self.arith(node.args[0])
                if isinstance(inner, (int, float, bool, str)):
                    raise FormulaError(f"{deparse(node)}: a constant is not a factor")
                return np.array([v if pd.isna(v) else level_label(v)
                                 for v in np.asarray(inner, dtype=object)], dtype=object)
            if node.func == "c":
                values = [self.arith(a) for a in node.args]
                if node.kwargs or not all(isinstance(v, (int, float)) for v in values):
                    raise FormulaError(f"{deparse(node)}: c() takes numbers only (e.g. knots)")
                return np.array(values, dtype=float)
            raise FormulaError(f"{deparse(node)}: {node.func}() makes model columns and cannot "
                               "be used inside arithmetic")
        raise FormulaError(f"cannot evaluate {node!r}")

    def _numeric(self, v, node):
        if isinstance(v, (bool, np.bool_)):
            return float(v)
        if isinstance(v, (int, float)):
            return float(v)
        if isinstance(v, str) or _is_text(v) and not _is_logical(v):
            raise FormulaError(f"{deparse(node)}: arithmetic on a text/factor column is not "
                               "meaningful (R: 'not meaningful for factors')")
        if v.dtype != float:
            return v.astype(float)
        return v

    def _logical(self, v, node):
        if isinstance(v, np.ndarray) and v.dtype == bool:
            return v
        if _is_logical(v):
            return v.astype(bool)
        return self._numeric(v, node) != 0

    def _binop(self, node):
        op = node.op
        left, right = self.arith(node.left), self.arith(node.right)
        if op in ("==", "!=") and (isinstance(left, str) or isinstance(right, str)
                                   or _is_text(left) or _is_text(right)):
            a = np.asarray(left, dtype=object) if not isinstance(left, str) else left
            b = np.asarray(right, dtype=object) if not isinstance(right, str) else right
            res = np.asarray(a == b, dtype=bool) if op == "==" else np.asarray(a != b, dtype=bool)
            return res
        if op in ("&", "&&", "|", "||"):
            a, b = self._logical(left, node.left), self._logical(right, node.right)
            return (a & b) if op in ("&", "&&") else (a | b)
        a, b = self._numeric(left, node.left), self._numeric(right, node.right)
        with np.errstate(all="ignore"):
            if op == "+":
                return a + b
            if op == "-":
                return a - b
            if op == "*":
                return a * b
            if op == "/":
                return np.true_divide(a, b)
            if op == "^":
                return np.power(np.asarray(a, dtype=float), b)
            if op == "%%":
                return np.mod(a, b)
            if op == "%/%":
                return np.floor_divide(a, b)
            if op in ("==", "!=", "<", ">", "<=", ">="):
                fn = {"==": np.equal, "!=": np.not_equal, "<": np.less, ">": np.greater,
                      "<=": np.less_equal, ">=": np.greater_equal}[op]
                return fn(a, b)
        raise FormulaError(f"{deparse(node)}: operator {op!r} is not supported inside "
                           "expressions (supported: + - * / ^ %% %/% == != < > <= >= & | !)")

    def _arity(self, node, n_args: int, allowed_kwargs=()):
        extra = [k for k, _ in node.kwargs if k not in allowed_kwargs]
        if len(node.args) != n_args or extra:
            raise FormulaError(f"{deparse(node)}: {node.func}() takes {n_args} argument(s)"
                               + (f" and the options {', '.join(allowed_kwargs)}"
                                  if allowed_kwargs else ""))

    def _math(self, node):
        allowed = ("base",) if node.func == "log" else ()
        if node.func == "log" and len(node.args) == 2 and not node.kwargs:
            x, base = node.args
        else:
            self._arity(node, 1, allowed)
            x, base = node.args[0], dict(node.kwargs).get("base")
        v = self._numeric(self.arith(x), node)
        with np.errstate(all="ignore"):
            out = _MATH[node.func](v)
            if base is not None:
                b = self._numeric(self.arith(base), node)
                out = out / np.log(b)
        return out

    # ------------------------------------------------------------------ model variables
    def variable(self, node):
        """The model variable of ``node`` (a Numeric or a Factor)."""
        key = deparse(node)
        if self._shared is None:
            return self._variable(node, key)
        hit = self._shared.variables.get(key)
        if hit is None:
            value = self._variable(node, key)
            hit = self._shared.variables[key] = (value, self.state.get(key))
        value, fitted = hit
        if fitted is not None:
            self.state[key] = fitted
        return value

    def _variable(self, node, key):
        if isinstance(node, Call) and node.func in ("factor", "as.factor"):
            self._arity(node, 1)
            return self._factor(self.arith(node.args[0]), key)
        if isinstance(node, Call) and node.func in ("poly", "ns", "bs", "scale"):
            return getattr(self, "_" + node.func)(node, key)
        if isinstance(node, Call) and node.func == "offset":
            self._arity(node, 1)
            return Numeric(self._numeric(self.arith(node.args[0]), node))
        if isinstance(node, Call) and node.func not in _MATH and node.func != "I":
            raise _unsupported(node.func)
        value = self.arith(node)
        if isinstance(value, (int, float, bool, str)):
            raise FormulaError(f"{key}: a constant is not a model variable")
        if _is_logical(value):
            return self._factor(value, key, logical=True)
        if _is_text(value):
            return self._factor(value, key)
        return Numeric(np.asarray(value, dtype=float))

    def _factor(self, value, key, logical=False) -> Factor:
        if isinstance(value, (int, float, bool, str)):
            raise FormulaError(f"{key}: a constant is not a factor")
        if isinstance(value, pd.Categorical) and not logical:
            return self._categorical(value, key)
        categorical = False
        if isinstance(value, np.ndarray) and value.dtype == object \
                and infer_dtype(value, skipna=True) == "string":
            inv, uniq = pd.factorize(value)  # text: as from a Series, without its inference pass
        else:
            series = pd.Series(value, copy=False)
            inv, uniq = pd.factorize(series)
            categorical = isinstance(series.dtype, pd.CategoricalDtype)
        uniq = list(uniq)
        if logical:
            levels = ["FALSE", "TRUE"]
        elif self.fitting:
            if categorical:
                levels = [level_label(v) for v in r_levels(series)]
            else:
                levels = [level_label(v) for v in r_sort(uniq)]
        else:
            levels = self.state[key]["levels"]
        if self.fitting:
            self.state[key] = {"levels": levels}
        where = _positions(levels, [level_label(v) for v in uniq]) if uniq else \
            np.array([], dtype=np.int64)
        if (where < 0).any():
            new = [level_label(v) for v, w in zip(uniq, where, strict=True) if w < 0]
            raise FormulaError(f"factor {key} has new level(s) {new} not seen in the fit "
                               f"(levels: {levels})")
        codes = np.where(inv >= 0, where[np.maximum(inv, 0)] if len(where) else -1, -1)
        return Factor(codes=np.asarray(codes, dtype=np.int64), levels=list(levels))

    def _categorical(self, value: pd.Categorical, key: str) -> Factor:
        """A pandas Categorical: its categories' order, unused categories dropped (as R's
        ``drop.unused.levels``)."""
        shifted = np.asarray(value.codes, dtype=np.int64) + 1  # 0 = missing
        labels = [level_label(c) for c in value.categories]
        if self.fitting:
            present = np.flatnonzero(np.bincount(shifted, minlength=len(labels) + 1)[1:])
            self.state[key] = {"levels": [labels[i] for i in present]}
        levels = self.state[key]["levels"]
        where = np.concatenate(([-1], _positions(levels, labels)))
        mapped = where[shifted]
        if (where[1:] < 0).any():
            unseen = (mapped < 0) & (shifted > 0)
            if unseen.any():
                new = sorted({labels[c - 1] for c in shifted[unseen]})
                raise FormulaError(f"factor {key} has new level(s) {new} not seen in the fit "
                                   f"(levels: {levels})")
        return Factor(codes=mapped, levels=list(levels))

    def _x_numeric(self, node, name):
        if not node.args:
            raise FormulaError(f"{deparse(node)}: {name}() needs a variable")
        return np.asarray(self._numeric(self.arith(node.args[0]), node), dtype=float)

    def _option(self, node, name, position, default):
        kw = dict(node.kwargs)
        if name in kw:
            return self._constant(kw[name], node)
        if position is not None and len(node.args) > position:
            return self._constant(node.args[position], node)
        return default

    def _constant(self, value_node, node):
        v = self.arith(value_node)
        if isinstance(v, np.ndarray):
            raise FormulaError(f"{deparse(node)}: options of {node.func}() must be constants")
        return v

    def _check_kwargs(self, node, allowed, max_args):
        bad = [k for k, _ in node.kwargs if k not in allowed]
        if bad or len(node.args) > max_args:
            raise FormulaError(f"{deparse(node)}: {node.func}() supports the arguments "
                               f"{', '.join(allowed)} here")

    def _scale(self, node, key):
        self._check_kwargs(node, ("center", "scale"), 1)
        x = self._x_numeric(node, "scale")
        if self.fitting:
            center = self._option(node, "center", None, True)
            scale = self._option(node, "scale", None, True)
            ok = np.isfinite(x)
            c = float(np.mean(x[ok])) if center is True else float(center or 0.0)
            if scale is True:
                dev = x[ok] - c
                s = float(np.sqrt(np.sum(dev ** 2) / max(ok.sum() - 1, 1)))
            else:
                s = float(scale) if scale not in (False, None) else 1.0
            self.state[key] = {"center": c, "scale": s}
        st = self.state[key]
        return Numeric(((x - st["center"]) / st["scale"])[:, None], None)

    def _poly(self, node, key):
        self._check_kwargs(node, ("degree", "raw"), 2)
        x = self._x_numeric(node, "poly")
        degree = int(self._option(node, "degree", 1, 1))
        raw = bool(self._option(node, "raw", None, False))
        if degree < 1:
            raise FormulaError(f"{key}: 'degree' must be at least 1")
        names = [str(i) for i in range(1, degree + 1)]
        if raw:
            return Numeric(np.column_stack([x ** k for k in range(1, degree + 1)]), names)
        if self.fitting:
            ok = np.isfinite(x)
            if len(np.unique(x[ok])) <= degree:
                raise FormulaError(f"{key}: 'degree' must be less than the number of unique "
                                   "points")
            alpha, norm2 = poly_coefs(x[ok], degree)
            self.state[key] = {"alpha": alpha, "norm2": norm2}
        st = self.state[key]
        return Numeric(poly_predict(x, st["alpha"], st["norm2"], degree), names)

    def _spline_setup(self, node, key, x, degree, natural):
        ok = np.isfinite(x)
        xs = x[ok]
        kw = dict(node.kwargs)
        intercept = bool(self._option(node, "intercept", None, False))
        if "Boundary.knots" in kw:
            raise FormulaError(f"{key}: Boundary.knots is not supported (the range of the "
                               "data is used, as R's default)")
        if "knots" in kw:
            knots = self.arith(kw["knots"])
            knots = np.atleast_1d(np.asarray(knots, dtype=float))
        else:
            df = self._option(node, "df", 1, None)
            if df is None:
                knots = np.array([])
            else:
                n_inner = (int(df) - 1 - intercept) if natural else \
                    (int(df) - (degree + 1) + (1 - intercept))
                if n_inner < 0:
                    n_inner = 0
                probs = np.linspace(0, 1, n_inner + 2)[1:-1]
                knots = np.quantile(xs, probs) if n_inner else np.array([])
        boundary = np.array([xs.min(), xs.max()])
        return {"knots": np.asarray(knots, dtype=float), "boundary": boundary,
                "intercept": intercept}

    def _ns(self, node, key):
        self._check_kwargs(node, ("df", "knots", "intercept", "Boundary.knots"), 2)
        x = self._x_numeric(node, "ns")
        if self.fitting:
            self.state[key] = self._spline_setup(node, key, x, 3, natural=True)
        st = self.state[key]
        basis = ns_basis(x, st["knots"], st["boundary"], st["intercept"])
        return Numeric(basis, [str(i) for i in range(1, basis.shape[1] + 1)])

    def _bs(self, node, key):
        self._check_kwargs(node, ("df", "knots", "degree", "intercept", "Boundary.knots"), 2)
        x = self._x_numeric(node, "bs")
        degree = int(self._option(node, "degree", None, 3))
        if self.fitting:
            st = self._spline_setup(node, key, x, degree, natural=False)
            st["degree"] = degree
            self.state[key] = st
        st = self.state[key]
        basis = bs_basis(x, st["knots"], st["boundary"], st["degree"], st["intercept"])
        return Numeric(basis, [str(i) for i in range(1, basis.shape[1] + 1)])


__all__ += ["unknown_column"]

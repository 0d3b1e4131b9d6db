"""lme4-style formulas: ``y ~ fixed + (random | group)`` to model matrices with R's term names.

The fixed and random parts go through patsy; column names are mapped to R's
(``group[T.ALS]`` -> ``groupALS``, ``group[T.ALS]:years`` -> ``groupALS:years``) and columns are
put in R's order (terms by order of interaction, then as written). The reference level of a
factor is the first category of a pandas Categorical, else the alphabetically first value, as
in R.
"""

from __future__ import annotations

import ast
import builtins
import re
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import patsy

from alsstats._naming import r_name
from alsstats.errors import DroppedRowsWarning, FormulaError

__all__ = ["FormulaParts", "ModelFrame", "build_model_frame", "r_name", "split_formula"]

# Names a formula may use besides data columns: patsy's builtins and R-like transforms.
_NAMESPACE = {"np": np, "log": np.log, "log2": np.log2, "log10": np.log10, "exp": np.exp,
              "sqrt": np.sqrt, "abs": np.abs}
_PATSY_BUILTINS = {"C", "I", "Q", "center", "standardize", "scale", "Treatment", "Poly", "Sum",
                   "Helmert", "Diff", "ContrastMatrix", "bs", "cr", "cc", "te", "dmatrix"}


@dataclass(frozen=True)
class FormulaParts:
    """A formula split into response, fixed part, random part and grouping column."""

    formula: str
    response: str
    fixed: str
    random: str
    group: str


def _random_terms(rhs: str) -> list[tuple[int, int]]:
    """Spans of the top-level parenthesised terms that contain a bar."""
    spans, depth, start = [], 0, None
    for i, ch in enumerate(rhs):
        if ch == "(":
            if depth == 0:
                start = i
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                raise FormulaError(f"unbalanced parentheses in formula right-hand side {rhs!r}")
            if depth == 0 and "|" in rhs[start:i + 1]:
                spans.append((start, i + 1))
    if depth != 0:
        raise FormulaError(f"unbalanced parentheses in formula right-hand side {rhs!r}")
    return spans


def split_formula(formula: str) -> FormulaParts:
    """Split ``"y ~ a * b + c + (1 + b | subject)"`` into its parts.

    Raises
    ------
    FormulaError
        No ``~``; no random-effect term; more than one (crossed or multiple grouping
        factors); ``||``; nested (``a/b``) or interaction (``a:b``) grouping factors; a bar
        outside parentheses.
    """
    if not isinstance(formula, str) or formula.count("~") != 1:
        raise FormulaError(f"formula must be a string with one '~', got {formula!r}")
    lhs, rhs = (s.strip() for s in formula.split("~"))
    if not lhs:
        raise FormulaError(f"formula {formula!r} has no response on the left of '~'")
    spans = _random_terms(rhs)
    terms = [rhs[a:b] for a, b in spans]
    if not terms:
        if "|" in rhs:
            raise FormulaError(f"random-effect term in {formula!r} must be in parentheses, "
                               "e.g. (1 | subject)")
        raise FormulaError(f"formula {formula!r} has no random-effect term such as (1 | subject); "
                           "for a model without random effects use ordinary least squares")
    if len(terms) > 1:
        raise FormulaError(
            f"formula {formula!r} has {len(terms)} random-effect terms ({', '.join(terms)}): "
            "crossed or multiple grouping factors are not supported; alsstats fits one grouping "
            "factor (e.g. (1 + years | subject)). Fit such models with lme4 in R.")
    term = terms[0]
    if "||" in term:
        raise FormulaError(f"{term}: '||' (uncorrelated random effects) is not supported; use "
                           "(1 + years | subject) or (1 | subject)")
    inner = term[1:-1]
    if inner.count("|") != 1:
        raise FormulaError(f"random-effect term {term} must have exactly one '|'")
    random, group = (s.strip() for s in inner.split("|"))
    if "/" in group or ":" in group:
        raise FormulaError(f"{term}: nested grouping factors ({group}) are not supported; "
                           "alsstats fits one grouping factor. Fit nested models with lme4 in R.")
    if not group or not re.fullmatch(r"[A-Za-z_.][A-Za-z0-9_.]*", group):
        raise FormulaError(f"{term}: the grouping factor must be one column name, got {group!r}")
    if not random:
        raise FormulaError(f"{term}: empty random-effect part before '|'")
    a, b = spans[0]
    fixed = (rhs[:a] + rhs[b:]).strip()
    fixed = re.sub(r"\+\s*\+", "+", fixed)
    fixed = re.sub(r"^\s*\+|\+\s*$", "", fixed).strip()
    if "|" in fixed:
        raise FormulaError(f"random-effect term in {formula!r} must be in parentheses")
    if not fixed:
        fixed = "1"
    return FormulaParts(formula=formula, response=lhs, fixed=fixed, random=random, group=group)


def _names_in(code: str) -> set[str]:
    try:
        tree = ast.parse(code.strip(), mode="eval")
    except SyntaxError as exc:
        raise FormulaError(f"cannot parse formula term {code!r}: {exc.msg}") from exc
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
              and node.func.id == "Q" and node.args and isinstance(node.args[0], ast.Constant)):
            names.add(str(node.args[0].value))
    return names


def _columns_of(code_parts: list[str], data: pd.DataFrame) -> list[str]:
    known = set(_NAMESPACE) | _PATSY_BUILTINS | set(dir(builtins))
    used: list[str] = []
    for code in code_parts:
        for name in sorted(_names_in(code)):
            if name in data.columns:
                if name not in used:
                    used.append(name)
            elif name not in known:
                raise FormulaError(f"column {name!r} of the formula is not in the data "
                                   f"(columns: {', '.join(map(str, data.columns))})")
    return used


def _factor_codes(desc_terms) -> list[str]:
    return [factor.code for term in desc_terms for factor in term.factors]


def _r_ordered(matrix, terms) -> tuple[np.ndarray, list[str]]:
    """Columns in R's order: terms by interaction order (stable), columns within a term."""
    info = matrix.design_info
    order = sorted(range(len(terms)), key=lambda i: len(terms[i].factors))
    cols = []
    for i in order:
        sl = info.term_slices[terms[i]]
        cols.extend(range(sl.start, sl.stop))
    idx = np.array(cols, dtype=int)
    return idx, [r_name(info.column_names[i]) for i in idx]


@dataclass
class ModelFrame:
    """Model matrices of one fit and what is needed to rebuild them on new data."""

    parts: FormulaParts
    y: np.ndarray
    X: np.ndarray
    x_names: list[str]
    Z: np.ndarray
    z_names: list[str]
    codes: np.ndarray
    groups: pd.Index
    fixed_info: object
    fixed_index: np.ndarray  # patsy column -> our column order (before dropping aliased)
    random_info: object
    random_index: np.ndarray
    n_dropped: int
    rows: pd.Index  # the data rows used

    def design_new(self, newdata: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Fixed and random model matrices of ``newdata`` (same coding as the fit)."""
        keep_na = patsy.NAAction(NA_types=[])
        (fx,) = patsy.build_design_matrices([self.fixed_info], newdata, NA_action=keep_na)
        (rz,) = patsy.build_design_matrices([self.random_info], newdata, NA_action=keep_na)
        return np.asarray(fx)[:, self.fixed_index], np.asarray(rz)[:, self.random_index]


def build_model_frame(formula: str, data: pd.DataFrame, caller: str = "fit_lme") -> ModelFrame:
    """Parse ``formula`` against ``data`` and build y, X, Z and the group codes.

    Rows with a missing value in any of the model's columns are left out with a
    :class:`~alsstats.DroppedRowsWarning` that counts them per column. ``data`` is not modified.
    """
    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    parts = split_formula(formula)
    try:
        fixed_desc = patsy.ModelDesc.from_formula(parts.fixed)
        random_desc = patsy.ModelDesc.from_formula(parts.random)
    except patsy.PatsyError as exc:
        raise FormulaError(f"cannot parse formula {formula!r}: {exc}") from exc
    if parts.group not in data.columns:
        raise FormulaError(f"grouping column {parts.group!r} of the formula is not in the data "
                           f"(columns: {', '.join(map(str, data.columns))})")
    columns = _columns_of([parts.response] + _factor_codes(fixed_desc.rhs_termlist)
                          + _factor_codes(random_desc.rhs_termlist), data)
    if parts.group not in columns:
        columns.append(parts.group)
    frame = data.loc[:, columns]
    missing = frame.isna()
    bad = missing.any(axis=1).to_numpy()
    n_dropped = int(bad.sum())
    if n_dropped:
        per_column = ", ".join(f"{c}: {int(k)}" for c, k in missing.sum().items() if k)
        warnings.warn(
            f"{caller}: left out {n_dropped} of {len(frame)} rows with missing values in the "
            f"model's columns ({per_column}).", DroppedRowsWarning, stacklevel=3)
        frame = frame.loc[~bad]
    if len(frame) == 0:
        raise FormulaError(f"no complete rows left for formula {formula!r}")
    env = patsy.EvalEnvironment([_NAMESPACE])
    # missing values were removed above; skipping patsy's per-element NA scan saves most of its time
    no_na = patsy.NAAction(NA_types=[])
    try:
        if parts.response in frame.columns:
            ymat = None
            y = pd.to_numeric(frame[parts.response], errors="coerce").to_numpy(dtype=float)
            if np.isnan(y).any():
                raise FormulaError(f"the response column {parts.response!r} must be numeric")
        else:
            ymat = patsy.dmatrix(f"{parts.response} - 1", frame, eval_env=env, NA_action=no_na)
        fixed_mat = patsy.dmatrix(patsy.ModelDesc([], fixed_desc.rhs_termlist), frame,
                                  eval_env=env, NA_action=no_na)
        random_mat = patsy.dmatrix(patsy.ModelDesc([], random_desc.rhs_termlist), frame,
                                   eval_env=env, NA_action=no_na)
    except patsy.PatsyError as exc:
        raise FormulaError(f"cannot build the model matrices of {formula!r}: {exc}") from exc
    if ymat is not None:
        if ymat.shape[1] != 1:
            raise FormulaError(f"the response {parts.response!r} must be numeric (one column); "
                               f"it expands to {ymat.design_info.column_names}")
        y = np.asarray(ymat)[:, 0].astype(float)
    if not np.all(np.isfinite(y)):
        raise FormulaError(f"the response {parts.response!r} has non-finite values")
    fixed_index, x_names = _r_ordered(fixed_mat, fixed_desc.rhs_termlist)
    random_index, z_names = _r_ordered(random_mat, random_desc.rhs_termlist)
    if not z_names:
        raise FormulaError(f"the random-effect part of {formula!r} has no terms")
    codes, groups = pd.factorize(frame[parts.group], sort=True)
    groups = pd.Index(groups, name=parts.group)
    return ModelFrame(parts=parts, y=y,
                      X=np.asarray(fixed_mat)[:, fixed_index], x_names=x_names,
                      Z=np.asarray(random_mat)[:, random_index], z_names=z_names,
                      codes=np.asarray(codes), groups=groups, fixed_info=fixed_mat.design_info,
                      fixed_index=fixed_index, random_info=random_mat.design_info,
                      random_index=random_index, n_dropped=n_dropped, rows=frame.index)

"""The one formula layer of alsstats: R's grammar, R's names and levels, nothing evaluated.

Every model (``fit_lme``, ``fit_cox``, the time-varying Cox, the analyses) reads its formula
here. A formula is tokenised and parsed into a small syntax tree of R's formula grammar
(:mod:`._parser`), expanded into terms with R's rules (:mod:`._terms`), and its variables are
computed by a whitelist of R functions on named columns (:mod:`._functions`: ``I()`` with R
arithmetic, ``log``, ``log2``, ``log10``, ``log1p``, ``exp``, ``sqrt``, ``abs``, ``scale``,
``poly``, ``ns``, ``bs``, ``factor``, ``offset``). Factor levels follow R (:mod:`._levels`), the
model matrix R's treatment contrasts, column names and term order (:mod:`._design`). No
third-party formula parser is used, so nothing in a formula or a column name can run code.

Entry points: :func:`model_design` (any right-hand side), :func:`build_model_frame` (lme4
formulas, with :class:`RandomBlock` per random term), :func:`parse_surv_formula` and
:func:`build_cox_design` (survival formulas).
"""

from __future__ import annotations

import re

import pandas as pd

from alsstats.errors import FormulaError
from alsstats.formula._bases import bs_basis, ns_basis
from alsstats.formula._design import Design, build_design_matrix
from alsstats.formula._frame import complete_cases, lazy_row_labels
from alsstats.formula._functions import SUPPORTED_FUNCTIONS, variables_of
from alsstats.formula._levels import level_label, r_collation_key, r_levels, r_sort
from alsstats.formula._parser import deparse, is_syntactic, parse_formula_text
from alsstats.formula._terms import expand_terms
from alsstats.formula.mixed import (
    FormulaParts,
    ModelFrame,
    RandomBlock,
    build_model_frame,
    split_formula,
)
from alsstats.formula.survival import (
    CoxDesign,
    SurvFormula,
    build_cox_design,
    parse_surv_formula,
)

__all__ = [
    "SUPPORTED_FUNCTIONS", "CoxDesign", "Design", "FormulaError", "FormulaParts", "ModelFrame",
    "RandomBlock", "SurvFormula", "bs_basis", "build_cox_design", "build_model_frame",
    "deparse", "is_syntactic", "level_label", "model_design", "ns_basis", "parse_surv_formula",
    "quote_name", "r_collation_key", "r_levels", "r_sort", "split_formula",
]


_PLAIN = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_RESERVED = frozenset({
    "if", "else", "repeat", "while", "function", "for", "next", "break", "in", "TRUE", "FALSE",
    "T", "F", "pi", "NULL", "Inf", "NaN", "NA", "NA_integer_", "NA_real_", "NA_character_",
    "NA_complex_", "True", "False", "None", "and", "or", "not", "is", "lambda",
})  # fmt: skip


def quote_name(name: str) -> str:
    """A column name as it must be written in a formula, so it is only ever that name.

    Plain names (ASCII letters, digits and ``_``, starting with a letter, not a reserved word
    of R or Python) stay as they are; everything else -- ``flair_cst-left``, ``flair.cst``, a
    name with spaces, brackets or quotes -- goes in backticks, a backtick or backslash inside
    escaped with a backslash as R's ``deparse(backtick = TRUE)`` does. Every place that puts a
    column name into a formula goes through this function.

    Examples
    --------
    >>> quote_name("flair_cst"), quote_name("flair_cst-left"), quote_name("ph.ecog")
    ('flair_cst', '`flair_cst-left`', '`ph.ecog`')
    """
    name = str(name)
    if _PLAIN.fullmatch(name) and name not in _RESERVED:
        return name
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


def model_design(rhs: str, data: pd.DataFrame, caller: str = "model_design",
                 id_column: str | None = None) -> tuple[Design, pd.Index, int]:
    """Design matrix of a right-hand side (``"group * years + poly(age, 2)"``) on ``data``.

    Rows missing a value the terms read are left out (DroppedRowsWarning). Returns the
    :class:`Design` (``matrix``, ``names``, ``assign``, ``term_labels``, ``new(newdata)``), the
    index of the rows used and the number left out.

    Examples
    --------
    >>> d = pd.DataFrame({"x": [1.0, 2, 3, 4], "g": ["b", "A", "b", "A"]})
    >>> design, rows, n_dropped = model_design("g * x + I(x^2)", d)
    >>> design.names
    ['Intercept', 'gb', 'x', 'I(x^2)', 'gb:x']
    >>> design.matrix[:, 3].tolist()
    [1.0, 4.0, 9.0, 16.0]
    """
    spec = expand_terms(parse_formula_text(rhs))
    columns: list[str] = []
    for node in [spec.variables[i] for t in spec.terms for i in t.variables]:
        columns += [c for c in variables_of(node, data.columns) if c not in columns]
    if id_column is not None and id_column in data.columns and id_column not in columns:
        columns.append(id_column)
    if not columns:
        frame, n_dropped = data.iloc[:, :0], 0
    else:
        frame, n_dropped, _ = complete_cases(data, columns, caller, rhs)
    design = build_design_matrix(spec, frame, id_labels=lazy_row_labels(frame, id_column))
    return design, frame.index, n_dropped

"""``Surv(...) ~ ...`` formulas: parsing, and design matrices with R's term names.

The right-hand side goes through patsy. Text and boolean columns become factors whose
reference level is the first category (a pandas Categorical keeps its order; otherwise the
levels sorted alphabetically, case-insensitively, as R's ``sort`` does in an English locale),
and columns are named as R names them: ``sexM``, ``siteedmonton``, ``sexM:age``.
``strata(x)`` and ``cluster(x)`` terms are taken out of the right-hand side, as in R.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import patsy

from alsstats._naming import r_name
from alsstats.errors import FormulaError

__all__ = ["SurvFormula", "build_design", "parse_surv_formula"]

_SURV = re.compile(r"^\s*Surv\s*\((?P<args>[^()]*)\)\s*~(?P<rhs>.*)$", re.DOTALL)
_SPECIAL = re.compile(r"^(strata|cluster)\s*\((?P<args>[^()]*)\)$")
_NAME = re.compile(r"[A-Za-z_.][A-Za-z0-9_.]*")


@dataclass
class SurvFormula:
    """A parsed ``Surv(time, event) ~ rhs`` or ``Surv(start, stop, event) ~ rhs``."""

    formula: str
    stop: str
    event: str
    start: str | None = None
    rhs: str = "1"
    strata: list[str] = field(default_factory=list)
    cluster: str | None = None

    def variables(self, data: pd.DataFrame) -> list[str]:
        """Columns of ``data`` the right-hand side refers to."""
        names = _NAME.findall(self.rhs)
        return [n for n in dict.fromkeys(names) if n in data.columns]


def _split_top(text: str, sep: str) -> list[str]:
    parts, depth, cur = [], 0, []
    for ch in text:
        depth += ch == "("
        depth -= ch == ")"
        if ch == sep and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return [p.strip() for p in parts]


def parse_surv_formula(formula: str) -> SurvFormula:
    """Split a survival formula into its time/event columns, covariates, strata and cluster."""
    if not isinstance(formula, str):
        raise FormulaError(f"formula must be a string, got {type(formula).__name__}")
    m = _SURV.match(formula)
    if m is None:
        raise FormulaError(
            f"cannot parse {formula!r}: expected 'Surv(time, event) ~ covariates' or "
            "'Surv(start, stop, event) ~ covariates'"
        )
    args = [a.strip() for a in m.group("args").split(",")]
    if len(args) not in (2, 3) or not all(_NAME.fullmatch(a) for a in args):
        raise FormulaError(
            f"Surv() in {formula!r} takes two or three column names, got {m.group('args')!r}"
        )
    out = SurvFormula(formula=formula, stop=args[-2], event=args[-1],
                      start=args[0] if len(args) == 3 else None)
    kept = []
    for term in _split_top(m.group("rhs"), "+"):
        special = _SPECIAL.match(term)
        if special is None:
            if term:
                kept.append(term)
            continue
        names = [a.strip() for a in special.group("args").split(",")]
        if special.group(1) == "strata":
            out.strata.extend(names)
        else:
            if len(names) != 1:
                raise FormulaError(f"cluster() takes one column, got {special.group('args')!r}")
            out.cluster = names[0]
    out.rhs = " + ".join(kept) if kept else "1"
    return out


def r_levels(values: pd.Series) -> list:
    """Factor levels as R orders them: Categorical order, else sorted (case-insensitive)."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        present = set(values.dropna().unique())
        return [c for c in values.cat.categories if c in present]
    uniq = values.dropna().unique().tolist()
    return sorted(uniq, key=lambda v: (str(v).casefold(), str(v)))


def _as_factors(df: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    out = df.copy()
    for col in columns:
        s = df[col]
        if isinstance(s.dtype, pd.CategoricalDtype) or s.dtype == object or s.dtype == bool \
                or pd.api.types.is_string_dtype(s.dtype):
            levels = r_levels(s)
            if s.dtype == bool:
                out[col] = pd.Categorical(s.map({False: "FALSE", True: "TRUE"}),
                                          categories=[str(v).upper() for v in levels])
            else:
                out[col] = pd.Categorical(s, categories=levels)
    return out


@dataclass
class Design:
    """A design matrix without intercept, R-named columns, and the columns of each term."""

    matrix: np.ndarray
    columns: list[str]
    terms: dict[str, list[int]]


def build_design(df: pd.DataFrame, rhs: str, variables: list[str]) -> Design:
    """Design matrix of ``rhs`` on ``df`` (no missing values expected), intercept dropped."""
    frame = _as_factors(df[variables], variables)
    try:
        dm = patsy.dmatrix(rhs, frame, return_type="dataframe", NA_action="raise")
    except patsy.PatsyError as exc:
        raise FormulaError(f"cannot build the covariates of '~ {rhs}': {exc}") from None
    info = dm.design_info
    # patsy puts factor-only terms first; R keeps the written order, main effects before
    # interactions (terms sorted stably by degree)
    written = [t for t in patsy.ModelDesc.from_formula(rhs).rhs_termlist if t.factors]
    written.sort(key=lambda t: len(t.factors))
    slices = info.term_name_slices
    keep, terms = [], {}
    for term in [t.name() for t in written]:
        sl = slices[term]
        idx = list(range(sl.start, sl.stop))
        terms[term] = [len(keep) + i for i in range(len(idx))]
        keep.extend(idx)
    if "Intercept" not in info.term_names:
        raise FormulaError("a Cox model has no intercept; do not remove it with '- 1' or '+ 0' "
                           "(factor coding needs it to choose a reference level)")
    names = [r_name(info.column_names[i]) for i in keep]
    return Design(matrix=dm.to_numpy(dtype=float)[:, keep], columns=names, terms=terms)

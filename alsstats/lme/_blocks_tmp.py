"""TEMPORARY (engine branch only): random-effect blocks for formulas with several terms.

The formula worker's ``alsstats.formula`` builds ``ModelFrame.random_blocks`` (CONTRACT.md);
until that is merged, this minimal builder lets the engine be tested on ``(1 | a) + (1 | b)``,
``(1 | a/b)``, ``(x || g)``. At merge the formula layer's version replaces this module.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import patsy

from alsstats.errors import DroppedRowsWarning, FormulaError
from alsstats.lme.formula import (
    _NAMESPACE,
    FormulaParts,
    _columns_of,
    _factor_codes,
    _r_ordered,
    _random_terms,
)

__all__ = ["MultiFrame", "RandomBlock", "build_multi_frame", "needs_multi"]


@dataclass(frozen=True)
class RandomBlock:
    grp: str
    codes: np.ndarray
    levels: pd.Index
    Z: np.ndarray
    z_names: list[str]
    _info: object = field(repr=False, default=None)
    _index: np.ndarray = field(repr=False, default=None)
    _columns: tuple = field(repr=False, default=())

    def design_new(self, newdata: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        keep_na = patsy.NAAction(NA_types=[])
        (rz,) = patsy.build_design_matrices([self._info], newdata, NA_action=keep_na)
        if any(c not in newdata.columns for c in self._columns):
            codes = np.full(len(newdata), -1, dtype=np.int64)
        else:
            labels = _labels(newdata, self._columns)
            codes = self.levels.get_indexer(labels).astype(np.int64)
        return np.asarray(rz)[:, self._index], codes


def _labels(frame: pd.DataFrame, columns: tuple) -> pd.Index:
    parts = [frame[c].astype(str).to_numpy() for c in columns]
    out = parts[0]
    for extra in parts[1:]:
        out = np.char.add(np.char.add(out.astype(str), ":"), extra.astype(str))
    return pd.Index(out)


@dataclass
class MultiFrame:
    parts: FormulaParts
    y: np.ndarray
    X: np.ndarray
    x_names: list[str]
    random_blocks: list[RandomBlock]
    fixed_info: object
    fixed_index: np.ndarray
    n_dropped: int
    rows: pd.Index

    def design_new(self, newdata: pd.DataFrame) -> tuple[np.ndarray, None]:
        keep_na = patsy.NAAction(NA_types=[])
        (fx,) = patsy.build_design_matrices([self.fixed_info], newdata, NA_action=keep_na)
        return np.asarray(fx)[:, self.fixed_index], None


def needs_multi(formula: str) -> bool:
    """More than one bar term, ``||``, or a nested/interaction grouping factor."""
    if not isinstance(formula, str) or "~" not in formula:
        return False
    rhs = formula.split("~", 1)[1]
    try:
        spans = _random_terms(rhs)
    except FormulaError:
        return False
    terms = [rhs[a:b] for a, b in spans]
    if len(terms) > 1 or any("||" in t for t in terms):
        return True
    return any(re.search(r"\|\s*[^|]*[/:]", t) for t in terms)


def _expand(terms: list[str]) -> list[tuple[str, tuple[str, ...], str]]:
    """(lhs, grouping columns, grp name) per block, as lme4's findbars expands them."""
    out = []
    for term in terms:
        inner = term[1:-1]
        double = "||" in inner
        lhs, group = (s.strip() for s in inner.split("||" if double else "|"))
        groups: list[tuple[str, ...]] = []
        if "/" in group:
            outer, inner_g = (s.strip() for s in group.split("/"))
            groups = [(outer,), (inner_g, outer)]
        else:
            groups = [tuple(s.strip() for s in group.split(":"))]
        for cols in groups:
            grp = ":".join(cols)
            if double:
                desc = patsy.ModelDesc.from_formula(lhs)
                has_int = any(len(t.factors) == 0 for t in desc.rhs_termlist)
                if has_int:
                    out.append(("1", cols, grp))
                for t in desc.rhs_termlist:
                    if t.factors:
                        out.append(("0 + " + t.name(), cols, grp))
            else:
                out.append((lhs, cols, grp))
    return out


def build_multi_frame(formula: str, data: pd.DataFrame, caller: str = "fit_lme") -> MultiFrame:
    if formula.count("~") != 1:
        raise FormulaError(f"formula must be a string with one '~', got {formula!r}")
    lhs, rhs = (s.strip() for s in formula.split("~"))
    spans = _random_terms(rhs)
    terms = [rhs[a:b] for a, b in spans]
    fixed = rhs
    for a, b in reversed(spans):
        fixed = fixed[:a] + fixed[b:]
    fixed = re.sub(r"\+\s*(\+\s*)+", "+ ", fixed)
    fixed = re.sub(r"^\s*\+|\+\s*$", "", fixed).strip() or "1"
    blocks_spec = _expand(terms)
    fixed_desc = patsy.ModelDesc.from_formula(fixed)
    random_descs = [patsy.ModelDesc.from_formula(b[0]) for b in blocks_spec]
    group_cols = [c for b in blocks_spec for c in b[1]]
    for c in group_cols:
        if c not in data.columns:
            raise FormulaError(f"grouping column {c!r} of the formula is not in the data")
    codes_parts = [lhs] + _factor_codes(fixed_desc.rhs_termlist)
    for d in random_descs:
        codes_parts += _factor_codes(d.rhs_termlist)
    columns = _columns_of(codes_parts, data)
    for c in group_cols:
        if c not in columns:
            columns.append(c)
    frame = data.loc[:, columns]
    bad = frame.isna().any(axis=1).to_numpy()
    n_dropped = int(bad.sum())
    if n_dropped:
        warnings.warn(f"{caller}: left out {n_dropped} of {len(frame)} rows with missing values "
                      "in the model's columns.", DroppedRowsWarning, stacklevel=3)
        frame = frame.loc[~bad]
    env = patsy.EvalEnvironment([_NAMESPACE])
    no_na = patsy.NAAction(NA_types=[])
    y = pd.to_numeric(frame[lhs], errors="coerce").to_numpy(dtype=float)
    fixed_mat = patsy.dmatrix(patsy.ModelDesc([], fixed_desc.rhs_termlist), frame, eval_env=env,
                              NA_action=no_na)
    fixed_index, x_names = _r_ordered(fixed_mat, fixed_desc.rhs_termlist)
    blocks = []
    for (_, cols, grp), desc in zip(blocks_spec, random_descs, strict=True):
        mat = patsy.dmatrix(patsy.ModelDesc([], desc.rhs_termlist), frame, eval_env=env,
                            NA_action=no_na)
        index, names = _r_ordered(mat, desc.rhs_termlist)
        labels = _labels(frame, cols)
        codes, levels = pd.factorize(labels, sort=True)
        blocks.append(RandomBlock(grp=grp, codes=np.asarray(codes, dtype=np.int64),
                                  levels=pd.Index(levels, name=grp),
                                  Z=np.asarray(mat)[:, index], z_names=names,
                                  _info=mat.design_info, _index=index, _columns=cols))
    parts = FormulaParts(formula=formula, response=lhs, fixed=fixed,
                         random=" + ".join(terms), group=blocks[0].grp)
    return MultiFrame(parts=parts, y=y, X=np.asarray(fixed_mat)[:, fixed_index], x_names=x_names,
                      random_blocks=blocks, fixed_info=fixed_mat.design_info,
                      fixed_index=fixed_index, n_dropped=n_dropped, rows=frame.index)

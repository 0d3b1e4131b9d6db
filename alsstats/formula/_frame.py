"""The rows a model uses: complete cases over the columns it reads, counted and named."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from pandas.api.types import infer_dtype

from alsstats._stack import user_stacklevel
from alsstats.errors import DroppedRowsWarning, FormulaError

__all__ = ["LazyRowLabels", "complete_cases", "complete_rows", "lazy_row_labels", "missing_mask",
           "row_labels"]


def complete_rows(data: pd.DataFrame, columns: list[str], caller: str, formula: str
                  ) -> tuple[pd.DataFrame, int]:
    """``data[columns]`` without rows missing any of them (a DroppedRowsWarning counts them)."""
    frame = data.loc[:, list(dict.fromkeys(columns))]
    # a copy: without it pandas deep-copies the table's .attrs on every later operation
    frame.attrs = {}
    missing = frame.isna()
    bad = missing.to_numpy().any(axis=1)
    n_dropped = int(bad.sum())
    if n_dropped:
        per_column = ", ".join(f"{c}: {int(k)}" for c, k in missing.sum().items() if k)
        warnings.warn(
            f"{caller}: left out {n_dropped} of {len(frame)} rows with missing values in the "
            f"model's columns ({per_column}).", DroppedRowsWarning, stacklevel=user_stacklevel())
        frame = frame.loc[~bad]
    if len(frame) == 0:
        raise FormulaError(f"no complete rows left for formula {formula!r}")
    return frame, n_dropped


def missing_mask(series: pd.Series) -> np.ndarray | None:
    """``series.isna()`` as a numpy bool array, None when the column cannot hold a missing
    value (integer, bool, or text with no missing value)."""
    dtype = series.dtype
    if isinstance(dtype, np.dtype):
        if dtype.kind == "f":
            return np.isnan(series.to_numpy())
        if dtype.kind in "iub":
            return None
        if dtype.kind == "O":
            values = series.to_numpy()
            if infer_dtype(values, skipna=False) == "string":  # every value a str
                return None
            return pd.isna(values)
    elif isinstance(dtype, pd.CategoricalDtype):
        return series.array.codes < 0
    return series.isna().to_numpy(dtype=bool)


def complete_cases(data: pd.DataFrame, columns: list[str], caller: str, formula: str
                   ) -> tuple[pd.DataFrame, int, np.ndarray | None]:
    """:func:`complete_rows` with one missing-value pass per column on numpy, and the
    positions of the rows kept (None when all are).

    The frame returned is a copy (never a view of ``data``) holding ``columns`` in the order
    of ``data``; the warning and errors are those of :func:`complete_rows`, which is used as it
    is when a column name is duplicated or not a single column.
    """
    names = list(dict.fromkeys(columns))
    positions = []
    for name in names:
        where = data.columns.get_loc(name)
        if not isinstance(where, int):  # duplicated name, MultiIndex part: the general path
            frame, n_dropped = complete_rows(data, names, caller, formula)
            bad = data.loc[:, names].isna().to_numpy().any(axis=1)
            return frame, n_dropped, np.flatnonzero(~bad) if n_dropped else None
        positions.append(where)
    masks = [missing_mask(data[name]) for name in names]
    bad = None
    for m in masks:
        if m is not None:
            bad = m.copy() if bad is None else np.logical_or(bad, m, out=bad)
    n_dropped = int(np.count_nonzero(bad)) if bad is not None else 0
    if n_dropped:
        per_column = ", ".join(f"{c}: {int(m.sum())}" for c, m in zip(names, masks, strict=True)
                               if m is not None and m.any())
        warnings.warn(
            f"{caller}: left out {n_dropped} of {len(data)} rows with missing values in the "
            f"model's columns ({per_column}).", DroppedRowsWarning, stacklevel=user_stacklevel())
    if n_dropped == len(data):
        raise FormulaError(f"no complete rows left for formula {formula!r}")
    frame = data.take(sorted(positions), axis=1)  # take copies; .loc[:, list] is 3x slower
    # a copy: without it pandas deep-copies the table's .attrs on every later operation
    frame.attrs = {}
    kept = None
    if n_dropped:
        kept = np.flatnonzero(~bad)
        frame = frame.take(kept)
    return frame, n_dropped, kept


def row_labels(frame: pd.DataFrame, id_column: str | None) -> list[str]:
    """``subject S1 (row 4)`` per row when a subject column is known, else ``row 4``."""
    if id_column is not None and id_column in frame.columns:
        ids = frame[id_column].to_numpy()
        return [f"subject {s} (row {i})" for s, i in zip(ids, frame.index, strict=True)]
    return [f"row {i}" for i in frame.index]


class LazyRowLabels:
    """Row labels (:func:`row_labels`) computed only for the rows an error message names."""

    def __init__(self, frame: pd.DataFrame, id_column: str | None):
        self.frame, self.id_column = frame, id_column

    def __getitem__(self, k: int) -> str:
        return row_labels(self.frame.iloc[[k]], self.id_column)[0]


def lazy_row_labels(frame: pd.DataFrame, id_column: str | None) -> LazyRowLabels:
    """Row labels of ``frame`` computed on demand."""
    return LazyRowLabels(frame, id_column)

"""The rows a model uses: complete cases over the columns it reads, counted and named."""

from __future__ import annotations

import warnings

import pandas as pd

from alsstats._stack import user_stacklevel
from alsstats.errors import DroppedRowsWarning, FormulaError

__all__ = ["LazyRowLabels", "complete_rows", "lazy_row_labels", "row_labels"]


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

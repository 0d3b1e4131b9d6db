"""Input checks shared by the survival functions: columns, times, events, one row per subject.

Every check collects its problems and raises one :class:`DataValidationError` naming the
column, the subjects (or rows) and the offending values. Rows are never dropped silently:
:func:`drop_missing` warns with counts.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

from alsstats.data import time_value_kind
from alsstats.errors import DataValidationError, DroppedRowsWarning

__all__ = ["check_columns", "check_numeric_times", "check_time_event", "drop_missing",
           "one_row_per_subject"]

_SHOW = 5  # how many offending subjects/values a message lists


def _labels(df: pd.DataFrame, mask: np.ndarray, subject: str | None) -> str:
    rows = df.loc[mask]
    if subject is not None and subject in df.columns:
        names = [f"subject {s}" for s in pd.unique(rows[subject])]
    else:
        names = [f"row {i}" for i in rows.index]
    more = f" and {len(names) - _SHOW} more" if len(names) > _SHOW else ""
    return ", ".join(map(str, names[:_SHOW])) + more


def _fmt(values) -> str:
    """Offending values as plain text (no numpy reprs), at most _SHOW of them."""
    vals = list(pd.unique(pd.Series(list(values))))
    more = ", ..." if len(vals) > _SHOW else ""
    return "[" + ", ".join(str(v.item() if hasattr(v, "item") else v)
                           for v in vals[:_SHOW]) + more + "]"


def check_columns(df: pd.DataFrame, columns: Sequence[str], what: str = "data") -> None:
    """Raise naming every column of ``columns`` that ``df`` lacks."""
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"{what} must be a pandas DataFrame, got {type(df).__name__}")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise DataValidationError(
            [f"column '{c}' is missing from {what} (columns: {list(df.columns)})" for c in missing]
        )


_DATES_MESSAGE = ("column '{col}' holds dates or durations, not numbers; alsstats does not "
                  "guess a unit: convert to a number of months or years since baseline first "
                  "(e.g. td.dt.days / 30.4375 for months)")


def check_numeric_times(df: pd.DataFrame, columns: Sequence[str]) -> None:
    """Refuse time columns holding dates or durations (their nanoseconds are no unit)."""
    problems = [_DATES_MESSAGE.format(col=c) for c in columns if time_value_kind(df[c]) is not None]
    if problems:
        raise DataValidationError(problems)


def check_time_event(
    df: pd.DataFrame,
    time: str,
    event: str,
    start: str | None = None,
    subject: str | None = None,
) -> None:
    """Times numeric, finite and >= 0 (start < stop); events 0/1. NaN is left to drop_missing."""
    problems: list[str] = []
    for col in [c for c in (start, time) if c is not None]:
        raw = df[col]
        if time_value_kind(raw) is not None:
            problems.append(_DATES_MESSAGE.format(col=col))
            continue
        values = pd.to_numeric(raw, errors="coerce")
        bad_type = values.isna() & df[col].notna()
        if bad_type.any():
            problems.append(f"column '{col}' has non-numeric values "
                            f"{_fmt(df.loc[bad_type, col])} "
                            f"({_labels(df, bad_type.to_numpy(), subject)})")
            continue
        neg = (values < 0).to_numpy()
        if neg.any():
            problems.append(f"column '{col}' has negative times "
                            f"{_fmt(values[neg])} "
                            f"({_labels(df, neg, subject)}); times are measured from baseline "
                            "and must be >= 0")
        inf = np.isinf(values.to_numpy(dtype=float))
        if inf.any():
            problems.append(f"column '{col}' has infinite times ({_labels(df, inf, subject)})")
    ev = df[event]
    if ev.dtype == bool:
        ev = ev.astype(float)
    evn = pd.to_numeric(ev, errors="coerce")
    bad = (evn.notna() & ~evn.isin([0, 1])) | (evn.isna() & ev.notna())
    if bad.any():
        problems.append(f"column '{event}' must be 0 (censored) or 1 (event); found "
                        f"{_fmt(df.loc[bad, event])} "
                        f"({_labels(df, bad.to_numpy(), subject)})")
    if start is not None and not problems:
        s = pd.to_numeric(df[start]).to_numpy(dtype=float)
        t = pd.to_numeric(df[time]).to_numpy(dtype=float)
        empty = s >= t
        if empty.any():
            problems.append(f"intervals with {start} >= {time} "
                            f"({_labels(df, empty, subject)}); every (start, stop] interval "
                            "must have positive length")
    if problems:
        raise DataValidationError(problems)


def one_row_per_subject(
    df: pd.DataFrame, columns: Sequence[str], subject: str | None
) -> pd.DataFrame:
    """Collapse a visit table to one row per subject, checking subject-level columns.

    When ``subject`` is None or absent, or every subject has one row, ``df`` is returned as
    is. Otherwise each of ``columns`` must be constant within subject (NaN counts as a value);
    a column that varies is an error naming the subjects and their values.
    """
    if subject is None or subject not in df.columns or not df[subject].duplicated().any():
        return df
    cols = [c for c in dict.fromkeys(columns) if c != subject]
    grouped = df.groupby(subject, sort=False, dropna=False)[cols]
    varying = grouped.nunique(dropna=False) > 1
    problems = []
    for col in cols:
        subs = varying.index[varying[col].to_numpy()]
        if len(subs):
            first = subs[0]
            vals = _fmt(df.loc[df[subject] == first, col])
            extra = f" (and {len(subs) - 1} more subjects)" if len(subs) > 1 else ""
            hint = (" a subject has one survival time and one event status"
                    if col in cols[:2] else
                    " use baseline_values() for a baseline covariate or fit_cox_time_varying()"
                    " for one that changes over visits")
            problems.append(f"column '{col}' varies within subject {first}: values {vals}"
                            f"{extra};{hint}")
    if problems:
        raise DataValidationError(problems)
    return df.drop_duplicates(subset=[subject], keep="first")


def drop_missing(
    df: pd.DataFrame, columns: Sequence[str], subject: str | None, what: str
) -> pd.DataFrame:
    """Leave out rows with a missing value in ``columns``, warning with counts per column."""
    cols = list(dict.fromkeys(columns))
    na = df[cols].isna()
    rows = na.any(axis=1).to_numpy()
    if not rows.any():
        return df
    per_col = {c: int(n) for c, n in na.sum().items() if n}
    unit = "rows"
    if subject is not None and subject in df.columns:
        unit = f"rows ({df.loc[rows, subject].nunique()} subjects)"
    warnings.warn(
        f"{what}: left out {int(rows.sum())} of {len(df)} {unit} with missing values "
        f"(missing per column: {per_col}).",
        DroppedRowsWarning,
        stacklevel=3,
    )
    return df.loc[~rows]

"""Checks, keyword-only ``ax`` and reading result objects: shared by the figure modules.

Nothing here computes a statistic: a result object is only read (its tables, its CI level,
its counts).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import pandas as pd

from alsstats._deprecation import formerly_positional  # noqa: F401  (re-exported)
from alsstats.errors import DataValidationError
from alsstats.plotting.style import DEFAULT_FIGSIZE, PALETTE

if TYPE_CHECKING:
    from matplotlib.axes import Axes

F = TypeVar("F", bound=Callable[..., Any])

# --------------------------------------------------------------------------------------------
# reading result objects (duck-typed: no import of the model packages)


def is_frame(value: Any) -> bool:
    return isinstance(value, pd.DataFrame)


def ci_level_of(*sources: Any) -> float | None:
    """The first CI level found on the sources: ``ci_level``, ``conf_level`` or ``method``."""
    for source in sources:
        if source is None:
            continue
        for attribute in ("ci_level", "conf_level"):
            value = getattr(source, attribute, None)
            if isinstance(value, (int, float)) and 0 < value < 1:
                return float(value)
        method = getattr(source, "method", None)
        if isinstance(method, Mapping):
            for key in ("ci_level", "conf_level"):
                value = method.get(key)
                if isinstance(value, (int, float)) and 0 < value < 1:
                    return float(value)
    return None


def response_of(result: Any) -> str | None:
    """The response column of a model-based result: the left side of its formula."""
    for source in (result, getattr(result, "model", None)):
        if source is None:
            continue
        formula = getattr(source, "formula", None)
        method = getattr(source, "method", None)
        if not isinstance(formula, str) and isinstance(method, Mapping):
            formula = method.get("formula")
        if isinstance(formula, str) and "~" in formula:
            return formula.split("~", 1)[0].strip() or None
    return None


FIT_VALUE_COLUMNS = ("estimate", "std_error", "df", "statistic", "ci_low", "ci_high")


def fit_group_column(fit: pd.DataFrame | None, x: str) -> str | None:
    """The grouping column of a fit table: the one column that is neither ``x`` nor a value."""
    if fit is None:
        return None
    others = [c for c in fit.columns if c != x and c not in FIT_VALUE_COLUMNS]
    return others[0] if len(others) == 1 else None


def subject_counts_of(result: Any, group: str | None) -> dict | None:
    """Subjects per group as a result's ``counts`` table reports them (None when it does not)."""
    counts = getattr(result, "counts", None)
    if not is_frame(counts) or "n_subjects" not in counts.columns:
        return None
    if group is None:
        return None
    key = "group" if "group" in counts.columns else group
    if key not in counts.columns:
        return None
    return dict(zip(counts[key], counts["n_subjects"].astype(int), strict=True))


# --------------------------------------------------------------------------------------------
# checks (each names the column, the table and, where it can, the subjects)


def require_frame(frame: Any, name: str) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"{name} must be a pandas DataFrame, got {type(frame).__name__}")


def require_columns(frame: pd.DataFrame, columns: Sequence[str | None], name: str) -> None:
    """Raise one error naming every missing column of ``frame``."""
    require_frame(frame, name)
    missing = [c for c in dict.fromkeys(columns) if c is not None and c not in frame.columns]
    if missing:
        present = ", ".join(map(str, frame.columns))
        raise DataValidationError(
            [f"column {c!r} is missing from {name} (its columns: {present})" for c in missing]
        )


def require_numeric(frame: pd.DataFrame, columns: Sequence[str], name: str) -> None:
    bad = [
        f"column {c!r} of {name} must be numeric, found dtype {frame[c].dtype}"
        for c in dict.fromkeys(columns)
        if not pd.api.types.is_numeric_dtype(frame[c]) or pd.api.types.is_bool_dtype(frame[c])
    ]
    if bad:
        raise DataValidationError(bad)


def require_no_missing(frame: pd.DataFrame, column: str, name: str) -> None:
    missing = frame[column].isna().to_numpy()
    if missing.any():
        where = ""
        if "subject" in frame.columns:
            subjects = pd.unique(frame.loc[missing, "subject"])
            shown = ", ".join(map(str, subjects[:5])) + (", ..." if len(subjects) > 5 else "")
            where = f" (subjects {shown})"
        raise DataValidationError(
            f"column {column!r} of {name} is missing in {int(missing.sum())} row(s){where}; "
            "drop or label those rows before plotting"
        )


def check_fit(fit: pd.DataFrame, x: str, group: str | None) -> None:
    require_columns(fit, [x, "estimate", "ci_low", "ci_high", group], "fit")
    require_numeric(fit, [x, "estimate", "ci_low", "ci_high"], "fit")
    if group is not None:
        require_no_missing(fit, group, "fit")


# --------------------------------------------------------------------------------------------
# small helpers (sorting, selecting, counting rows)


def levels_of(*columns: pd.Series) -> list:
    """Levels in Categorical order (else sorted), first series first, only those present."""
    out: list = []
    for series in columns:
        present = pd.unique(series.dropna())
        if isinstance(series.dtype, pd.CategoricalDtype):
            chosen = [c for c in series.cat.categories if c in set(present)]
        else:
            known = list(PALETTE)
            chosen = sorted(
                present, key=lambda v: (known.index(v) if v in known else len(known), str(v))
            )
        out += [level for level in chosen if level not in out]
    return out


def new_axes(ax: Axes | None, figsize: tuple[float, float] | None) -> Axes:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=figsize or DEFAULT_FIGSIZE, layout="constrained")
    return ax


def n_subjects(frame: pd.DataFrame, group: str | None) -> dict:
    if "subject" not in frame.columns:
        return {}
    if group is None:
        return {None: frame["subject"].nunique()}
    return frame.groupby(group, observed=True, sort=False)["subject"].nunique().to_dict()


def rows_of(frame: pd.DataFrame, group: str | None, level: Any) -> pd.DataFrame:
    return frame if group is None else frame.loc[(frame[group] == level).to_numpy()]


def finite_rows(frame: pd.DataFrame, x: str, y: str) -> pd.DataFrame:
    keep = np.isfinite(frame[x].to_numpy(float)) & np.isfinite(frame[y].to_numpy(float))
    return frame.loc[keep]

"""Checks, keyword-only ``ax`` and reading result objects: shared by the figure modules.

Nothing here computes a statistic: a result object is only read (its tables, its CI level,
its counts).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import pandas as pd

from alsstats._deprecation import formerly_positional  # noqa: F401  (re-exported)
from alsstats.plotting.style import DEFAULT_FIGSIZE, PALETTE
from alsstats.validation import require_columns, require_no_missing, require_numeric

if TYPE_CHECKING:
    from matplotlib.axes import Axes

F = TypeVar("F", bound=Callable[..., Any])

# --------------------------------------------------------------------------------------------
# reading result objects (duck-typed: no import of the model packages)


def is_frame(value: Any) -> bool:
    return isinstance(value, pd.DataFrame)


def ci_level_of(*sources: Any) -> float | None:
    """The first CI level found on the sources: their ``ci_level``, else ``method["ci_level"]``."""
    for source in sources:
        if source is None:
            continue
        method = getattr(source, "method", None)
        for value in (getattr(source, "ci_level", None),
                      method.get("ci_level") if isinstance(method, Mapping) else None):
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
# checks (alsstats.validation's, in its message format)


def check_fit(fit: pd.DataFrame, x: str, group: str | None, *, caller: str) -> None:
    """A table of model means: ``x``, estimate and CI columns numeric, groups named."""
    require_columns(fit, [x, "estimate", "ci_low", "ci_high", group], caller=caller, table="fit")
    require_numeric(fit, [x, "estimate", "ci_low", "ci_high"], caller=caller, table="fit")
    if group is not None:
        require_no_missing(fit, [group], caller=caller, table="fit", hint=MISSING_HINT)


MISSING_HINT = "; drop or label those rows before plotting"


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

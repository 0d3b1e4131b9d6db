"""Subject-level covariates for Cox models: baseline values and per-subject slopes."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from alsstats._deprecation import formerly_positional, renamed_arguments
from alsstats.errors import DataValidationError
from alsstats.validation import require_columns, require_no_missing

__all__ = ["baseline_values", "subject_slopes"]


@formerly_positional("columns", "subject", "visit_time")
@renamed_arguments(visits="data", time="visit_time")
def baseline_values(
    data: pd.DataFrame,
    *,
    columns: list[str] | None = None,
    subject: str = "subject",
    visit_time: str = "years",
) -> pd.DataFrame:
    """One row per subject: the values at the subject's first visit.

    Parameters
    ----------
    data : pandas.DataFrame
        The visit table (was ``visits``).
    columns : list of str, optional
        Columns to keep (default: every column).
    subject, visit_time : str
        Subject id and visit time (was ``time``) columns.

    Returns
    -------
    pandas.DataFrame
        One row per subject (in order of first appearance), with ``subject``, ``visit_time``
        (the first visit's time) and ``columns``. A value missing at the first visit stays missing
        (it is not taken from a later visit), so a Cox fit on it says how many subjects it
        leaves out.

    Examples
    --------
    >>> import pandas as pd
    >>> v = pd.DataFrame({"subject": ["a", "a", "b"], "years": [1.0, 0.0, 0.0],
    ...                   "wmh_mm3": [300.0, 100.0, 50.0]})
    >>> baseline_values(v)["wmh_mm3"].tolist()
    [100.0, 50.0]
    """
    cols = list(data.columns) if columns is None else list(columns)
    require_columns(data, [subject, visit_time, *cols], caller="baseline_values")
    require_no_missing(data, [visit_time], caller="baseline_values", subject=subject)
    order = pd.unique(data[subject])
    first = data.sort_values(visit_time, kind="stable").drop_duplicates(subject, keep="first")
    first = first.set_index(subject).loc[order].reset_index()
    keep = [subject, visit_time, *[c for c in cols if c not in (subject, visit_time)]]
    return first[keep].reset_index(drop=True)


def _term_values(component: str, frame: pd.DataFrame) -> np.ndarray:
    """Values of one component of a fixed-effect term name (``age``, ``groupALS``) per row."""
    if component in frame.columns and pd.api.types.is_numeric_dtype(frame[component]):
        return frame[component].to_numpy(float)
    for col in frame.columns:
        if component.startswith(col) and len(component) > len(col):
            level = component[len(col):]
            vals = frame[col].astype(str)
            if (vals == level).any() or level in set(vals):
                return (vals == level).to_numpy(float)
    raise DataValidationError([f"cannot evaluate term component '{component}' from the "
                               f"subject data (columns {list(frame.columns)})"])


@formerly_positional("visit_time", "subject", "include_fixed")
@renamed_arguments(lme_fit="fit", time="visit_time")
def subject_slopes(
    fit: Any,
    data: pd.DataFrame | None = None,
    *,
    visit_time: str = "years",
    subject: str = "subject",
    include_fixed: bool = True,
) -> pd.DataFrame:
    """Per-subject slopes over time from a mixed model's BLUPs, for a two-stage Cox model.

    Parameters
    ----------
    fit : LMEResult
        A fit of :func:`alsstats.fit_lme` with a random slope on ``visit_time`` (was
        ``lme_fit``): its ``.random_effects`` (index subject, a column ``visit_time``) and
        ``.coefficients`` (index term, column ``estimate``).
    data : pandas.DataFrame, optional
        The data the model was fitted to; needed with ``include_fixed`` when the model has
        interactions with time (e.g. ``groupALS:years``), to evaluate them per subject.
    visit_time : str
        The visit-time variable of the random slope (was ``time``).
    subject : str
        Subject id column of ``data``.
    include_fixed : bool
        Add the fixed-effect slope (``visit_time`` plus any ``x:visit_time`` interactions
        evaluated at the subject's baseline covariates) to the BLUP; otherwise return the BLUP
        alone (the subject's deviation from the population slope).

    Returns
    -------
    pandas.DataFrame
        Indexed by subject; columns ``blup`` (the random slope) and ``slope`` (``blup`` plus
        the fixed part when ``include_fixed``, else equal to ``blup``).

    Notes
    -----
    Two-stage analysis -- estimate each subject's slope from the mixed model, then use it as a
    fixed covariate in a Cox model -- is biased. The BLUPs are shrunk towards the population
    slope (more so for subjects with few visits, often the short survivors, who drop out by
    dying), so their spread understates the true between-subject variation and the Cox
    coefficient per unit slope is biased away from zero by roughly the inverse shrinkage
    factor (regression-calibration style) while its standard error ignores the uncertainty
    of the slopes (stage-one error is treated as known), so confidence intervals are too
    narrow. Informative dropout (death ends follow-up) further biases the slopes themselves.
    A joint longitudinal-survival model avoids both; treat two-stage hazard ratios as
    descriptive.

    Examples
    --------
    >>> import pandas as pd
    >>> class Fit:  # the interface of alsstats.fit_lme's result
    ...     random_effects = pd.DataFrame({"Intercept": [1.0, -1.0], "years": [50.0, -50.0]},
    ...                                   index=pd.Index(["a", "b"], name="subject"))
    ...     coefficients = pd.DataFrame({"estimate": [100.0, 900.0]},
    ...                                 index=pd.Index(["Intercept", "years"], name="term"))
    >>> subject_slopes(Fit())["slope"].tolist()
    [950.0, 850.0]
    """
    re_ = getattr(fit, "random_effects", None)
    coef = getattr(fit, "coefficients", None)
    if re_ is None or coef is None:
        raise TypeError("fit must be a mixed-model result with .random_effects and "
                        ".coefficients (e.g. from alsstats.fit_lme)")
    if visit_time not in re_.columns:
        raise DataValidationError([f"subject_slopes: the mixed model has no random slope on "
                                   f"'{visit_time}' "
                                   f"(random effects: {list(re_.columns)}); fit "
                                   f"'(1 + {visit_time} | {subject})' to get per-subject slopes"])
    blup = re_[visit_time].astype(float)
    out = pd.DataFrame({"blup": blup.to_numpy()}, index=re_.index.rename(subject))
    if not include_fixed:
        out["slope"] = out["blup"]
        return out
    est = coef["estimate"]
    fixed = np.full(len(out), float(est.get(visit_time, 0.0)))
    inter = [t for t in est.index if visit_time in t.split(":") and t != visit_time]
    if inter:
        if data is None:
            raise DataValidationError([f"subject_slopes: the model has interactions with "
                                       f"{visit_time} "
                                       f"({inter}); pass data= to evaluate them per subject"])
        base = baseline_values(data, subject=subject, visit_time=visit_time)
        base = base.set_index(subject).reindex(out.index)
        for term in inter:
            parts = [p for p in term.split(":") if p != visit_time]
            value = np.ones(len(out))
            for part in parts:
                value *= _term_values(part, base)
            fixed += float(est[term]) * value
    out["slope"] = out["blup"] + fixed
    return out

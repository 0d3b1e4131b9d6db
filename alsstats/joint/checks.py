"""Input checks of the joint model: one survival record per subject, visits before the event.

Each check collects every problem and raises one :class:`~alsstats.DataValidationError`
naming the column, the subjects and the values.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from alsstats.errors import DataValidationError

__all__ = ["check_subject_survival", "check_visits"]

_SHOW = 5


def _some(labels) -> str:
    labels = [str(v) for v in labels]
    more = f" and {len(labels) - _SHOW} more" if len(labels) > _SHOW else ""
    return ", ".join(labels[:_SHOW]) + more


def check_subject_survival(data: pd.DataFrame, subject: str, columns: list[str],
                           time: np.ndarray, event: np.ndarray, time_expr: str,
                           event_expr: str) -> None:
    """Survival columns constant within subject; times > 0, events 0/1, at least one event.

    ``time``/``event`` are the evaluated ``Surv`` arguments, one per row of ``data``.
    """
    problems: list[str] = []
    if data[subject].isna().any():
        problems.append(f"column '{subject}': {int(data[subject].isna().sum())} rows have no "
                        "subject label")
    groups = data.groupby(subject, sort=True, dropna=True, observed=True)
    for col in columns:
        varying = groups[col].nunique(dropna=False) > 1
        if varying.any():
            problems.append(f"column '{col}' varies within subject (survival columns must be "
                            f"constant per subject): subject(s) {_some(varying.index[varying])}")
    outcome_names = set(re.findall(r"[A-Za-z_.][A-Za-z0-9_.]*", f"{time_expr} {event_expr}"))
    for col in columns:
        missing = data[col].isna().to_numpy()
        if col not in outcome_names and missing.any():
            problems.append(f"survival covariate '{col}' is missing for subject(s) "
                            f"{_some(pd.unique(data.loc[missing, subject]))}")
    for values, expr, what in ((time, time_expr, "time"), (event, event_expr, "event")):
        bad = np.isnan(values)
        if bad.any():
            problems.append(f"survival {what} '{expr}' is missing for subject(s) "
                            f"{_some(pd.unique(data.loc[bad, subject]))}")
    bad_t = ~np.isnan(time) & ~(time > 0)
    if bad_t.any():
        problems.append(f"survival time '{time_expr}' must be > 0: subject(s) "
                        f"{_some(pd.unique(data.loc[bad_t, subject]))} have "
                        f"{_some(pd.unique(time[bad_t]))}")
    bad_e = ~np.isnan(event) & ~np.isin(event, (0.0, 1.0))
    if bad_e.any():
        problems.append(f"event '{event_expr}' must be 0 (censored) or 1 (event): subject(s) "
                        f"{_some(pd.unique(data.loc[bad_e, subject]))} have "
                        f"{_some(pd.unique(event[bad_e]))}")
    if not problems and np.nansum(event) == 0:
        problems.append(f"event '{event_expr}' is 0 for every subject: a joint model needs "
                        "events to estimate the association")
    if problems:
        raise DataValidationError(problems)


def check_visits(subjects_all: pd.Index, subjects_used: pd.Index, last_visit: pd.Series,
                 event_time: pd.Series, response: str, time: str, time_expr: str) -> None:
    """Every subject has a visit with a response; no visit after the subject's event time."""
    problems: list[str] = []
    without = subjects_all.difference(subjects_used)
    if len(without):
        problems.append(f"subject(s) {_some(without)} have no visit with a value of the "
                        f"longitudinal response '{response}' (and its covariates); a joint "
                        "model needs at least one measurement per subject: remove them or "
                        "supply their visits")
    after = last_visit > event_time.loc[last_visit.index] * (1 + 1e-12)
    if after.any():
        pairs = [f"{s} ({time}={last_visit[s]:.6g} > {time_expr}={event_time[s]:.6g})"
                 for s in last_visit.index[after]]
        problems.append(f"visit(s) after the event/censoring time in column '{time}': "
                        f"subject(s) {_some(pairs)}; the longitudinal time and the survival time "
                        "must be on one scale (e.g. Surv(survival_months / 12, event) with "
                        "years)")
    if problems:
        raise DataValidationError(problems)

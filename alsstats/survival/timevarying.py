"""Time-varying Cox models: (start, stop] intervals built from the visit table."""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

from alsstats._deprecation import formerly_positional, renamed_arguments
from alsstats._stack import user_stacklevel
from alsstats.errors import DataValidationError, DroppedRowsWarning
from alsstats.survival.cox import TIES, CoxResult, _fit
from alsstats.survival.formula import SurvFormula, parse_surv_formula
from alsstats.validation import (
    TableCheck,
    check_time_event,
    drop_missing,
    one_row_per_subject,
    refuse_dates,
    require_columns,
)

__all__ = ["fit_cox_time_varying", "time_varying_intervals"]

MONTHS_PER_YEAR = 12.0


@formerly_positional("covariates", "survival_time", "event", "subject", "visit_time",
                     "time_scale")
@renamed_arguments(visits="data", time="survival_time", years="visit_time")
def time_varying_intervals(
    data: pd.DataFrame,
    *,
    covariates: Sequence[str],
    survival_time: str = "survival_months",
    event: str = "event",
    subject: str = "subject",
    visit_time: str = "years",
    time_scale: float = MONTHS_PER_YEAR,
) -> pd.DataFrame:
    """Split each subject's follow-up at its visits into (start, stop] intervals.

    Parameters
    ----------
    data : pandas.DataFrame
        The visit table: one row per subject and visit (was ``visits``).
    covariates : sequence of str
        Columns carried onto the intervals. A visit's value holds from that visit until the
        next one with a value (last observation carried forward, as R's ``tmerge(tdc())``).
    survival_time, event : str
        Subject-level survival time (in the units of ``visit_time * time_scale``; was
        ``time``) and event (0/1) columns.
    subject, visit_time : str
        Subject id and visit time (years since baseline; was ``years``) columns.
    time_scale : float
        Multiplies ``visit_time`` to get the units of ``survival_time`` (12: years to months).

    Returns
    -------
    pandas.DataFrame
        Columns ``subject, start, stop, event`` and the ``covariates``, one row per interval,
        sorted by subject and start. ``event`` is 1 only on a subject's last interval, and
        only if the subject had the event.

    Notes
    -----
    Visits at or after a subject's survival time are left out (they cannot change the hazard
    before the event or censoring) with a DroppedRowsWarning. Missing covariate values are
    carried forward from the subject's previous visit; visits before a subject's first
    non-missing value are left out, so the subject enters the risk set at that visit (delayed
    entry) -- R's ``tmerge`` gives the same model after ``coxph`` drops its NA rows.

    Examples
    --------
    >>> import pandas as pd
    >>> v = pd.DataFrame({"subject": ["a", "a", "b"], "years": [0.0, 1.0, 0.0],
    ...                   "wmh_mm3": [100.0, 300.0, 50.0],
    ...                   "survival_months": [18, 18, 6], "event": [1, 1, 0]})
    >>> time_varying_intervals(v, covariates=["wmh_mm3"])[["subject", "start", "stop", "event"]]
      subject  start  stop  event
    0       a    0.0  12.0      0
    1       a   12.0  18.0      1
    2       b    0.0   6.0      0
    """
    covariates = list(dict.fromkeys(covariates))
    caller = "time_varying_intervals"
    require_columns(data, [subject, visit_time, survival_time, event, *covariates],
                    caller=caller)
    refuse_dates(data, [visit_time], caller=caller)
    # raises if they vary within subject
    one_row_per_subject(data, [survival_time, event], subject, caller=caller)
    df = drop_missing(data, [subject, visit_time, survival_time, event], subject,
                      caller=caller)
    check_time_event(df, survival_time, event, subject=subject, caller=caller)
    check = TableCheck(df, caller, subject=subject, visit_time=visit_time)
    check.within(visit_time, check.numbers(visit_time), low=0,
                 why=" (visit times since baseline)")
    check.raise_problems()
    at = pd.to_numeric(df[visit_time]).to_numpy(float) * time_scale
    surv = pd.to_numeric(df[survival_time]).to_numpy(float)
    late = at >= surv
    check.unique_rows([subject, visit_time], exclude=late)
    check.raise_problems()
    if late.any():
        warnings.warn(
            f"time_varying_intervals: left out {int(late.sum())} visits at or after the "
            f"subject's {survival_time} ({df.loc[late, subject].nunique()} subjects); a value "
            "measured then cannot affect the hazard before the event or censoring.",
            DroppedRowsWarning, stacklevel=user_stacklevel())
    work = pd.DataFrame({
        "subject": df[subject].to_numpy(), "start": at, "stop_surv": surv,
        "event_subj": pd.to_numeric(df[event]).to_numpy(float).astype(int),
    })
    for c in covariates:
        work[c] = df[c].to_numpy()
    work = work.loc[~late].sort_values(["subject", "start"], kind="stable")
    if covariates:
        missing_before = int(work[covariates].isna().sum().sum())
        work[covariates] = work.groupby("subject", sort=False)[covariates].ffill()
        lead = work[covariates].isna().any(axis=1).to_numpy()
        filled = missing_before - int(work[covariates].isna().sum().sum())
        if filled or lead.any():
            warnings.warn(
                f"time_varying_intervals: {filled} missing covariate values were carried "
                f"forward from the previous visit; {int(lead.sum())} visits before a "
                "subject's first value were left out (the subject enters the risk set at "
                "its first visit with every covariate).", DroppedRowsWarning, stacklevel=user_stacklevel())
        work = work.loc[~lead]
    nxt = work.groupby("subject", sort=False)["start"].shift(-1)
    last = nxt.isna().to_numpy()
    work["stop"] = np.where(last, work["stop_surv"].to_numpy(), nxt.to_numpy())
    work["event"] = np.where(last, work["event_subj"].to_numpy(), 0)
    out = work[["subject", "start", "stop", "event", *covariates]].reset_index(drop=True)
    return out.rename(columns={"subject": subject}) if subject != "subject" else out


@formerly_positional("ties", "strata", "robust", "ci_level", "subject", "visit_time",
                     "time_scale")
@renamed_arguments(visits="data", conf_level="ci_level", years="visit_time")
def fit_cox_time_varying(
    data: pd.DataFrame,
    formula: str = "Surv(survival_months, event) ~ wmh_mm3 + age + sex",
    *,
    ties: str = "efron",
    strata: str | list[str] | None = None,
    robust: bool = False,
    ci_level: float = 0.95,
    subject: str = "subject",
    visit_time: str = "years",
    time_scale: float = MONTHS_PER_YEAR,
) -> CoxResult:
    """Cox model with covariates that change at each visit (e.g. WMH volume).

    The visit table is split into (start, stop] intervals by :func:`time_varying_intervals`
    and the counting-process model ``Surv(start, stop, event) ~ ...`` is fitted, as R's
    ``coxph(Surv(tstart, tstop, death) ~ ...)`` on ``tmerge`` output.

    Parameters
    ----------
    data : pandas.DataFrame
        The visit table (was ``visits``).
    formula : str
        ``"Surv(time, event) ~ covariates"`` naming the subject-level survival time and event;
        every covariate is taken from the visits and carried forward between them (columns
        constant within subject, such as age and sex, simply stay constant).
    ties : {"efron", "breslow"}
        Tied event times.
    strata : str or list of str, optional
        Stratifying columns.
    robust : bool
        Robust variance clustered by subject (R ``cluster(subject)``).
    ci_level : float
        Level of the Wald intervals (was ``conf_level``).
    subject, visit_time : str
        Subject id and visit time (years; was ``years``) columns.
    time_scale : float
        Multiplies ``visit_time`` to get the units of the survival time (12: months).

    Returns
    -------
    CoxResult
        As :func:`fit_cox` (``n`` counts intervals, ``n_subjects`` subjects), with
        ``.intervals`` the (start, stop] table that was fitted.

    Notes
    -----
    The intervals are built here and the partial likelihood is maximised by the same
    Efron/Breslow engine as :func:`fit_cox` (tested against R; lifelines'
    CoxTimeVaryingFitter agrees for Efron ties but has no Breslow option). The concordance is
    R's for counting-process data (each event against the rows at risk at its time).

    Examples
    --------
    >>> import pandas as pd
    >>> v = pd.DataFrame({
    ...     "subject": ["a", "a", "b", "b", "c", "d", "d", "e"],
    ...     "years": [0.0, 1.0, 0.0, 0.5, 0.0, 0.0, 1.0, 0.0],
    ...     "wmh_mm3": [900.0, 1500.0, 300.0, 400.0, 2000.0, 100.0, 150.0, 700.0],
    ...     "survival_months": [20, 20, 9, 9, 4, 30, 30, 15],
    ...     "event": [1, 1, 0, 0, 1, 0, 0, 1]})
    >>> fit = fit_cox_time_varying(v, "Surv(survival_months, event) ~ wmh_mm3")
    >>> fit.n, fit.n_subjects, fit.n_events
    (8, 5, 3)
    """
    if ties not in TIES:
        raise ValueError(f"ties must be one of {TIES}, got {ties!r}")
    sf = parse_surv_formula(formula)
    if sf.start is not None:
        raise DataValidationError([f"fit_cox_time_varying builds the intervals itself: give "
                                   f"'Surv(time, event) ~ ...', not {formula!r} (use fit_cox "
                                   "for ready-made (start, stop] rows)"])
    given_strata = [strata] if isinstance(strata, str) else list(strata or [])
    strata_cols = list(dict.fromkeys(list(sf.strata) + given_strata))
    require_columns(data, [*sf.surv_columns(), subject, visit_time, *sf.special_columns(),
                           *given_strata], caller="fit_cox_time_varying")
    variables = sf.variables(data)
    data = sf.materialise(data)
    intervals = time_varying_intervals(
        data, covariates=[*variables, *strata_cols], survival_time=sf.stop, event=sf.event,
        subject=subject, visit_time=visit_time, time_scale=time_scale)
    tv = SurvFormula(formula=f"Surv(start, stop, event) ~ {sf.rhs}", start="start",
                     stop="stop", event="event", rhs=sf.rhs)
    if len(intervals) == 0:
        raise DataValidationError(["fit_cox_time_varying: no intervals left to fit"])
    cluster = subject if robust else None
    result = _fit(intervals, tv, ties, strata_cols, robust, cluster, ci_level, subject,
                  max_iter=30)
    method = {**result.method, "formula": formula,
              "intervals": (f"(start, stop] in units of {sf.stop}, split at visits "
                            f"({visit_time} x {time_scale:g}); covariates carried forward")}
    return dataclasses.replace(result, method=method, intervals=intervals)

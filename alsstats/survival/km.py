"""Kaplan-Meier curves with R ``survfit``'s confidence intervals and median."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from alsstats._deprecation import formerly_positional, renamed_arguments, renamed_attribute
from alsstats.summary import Summary, lines, render_summary, standard_frame, table
from alsstats.survival.formula import r_levels
from alsstats.validation import (
    check_time_event,
    drop_missing,
    one_row_per_subject,
    require_columns,
)

__all__ = ["KaplanMeierResult", "kaplan_meier", "km_steps"]

CONF_TYPES = ("log", "log-log", "plain")
_TOL = float(np.sqrt(np.finfo(float).eps))  # R's quantile.survfit tolerance


def km_steps(
    stop: np.ndarray, event: np.ndarray, start: np.ndarray | None = None
) -> pd.DataFrame:
    """The Kaplan-Meier steps at every distinct time (events and censorings), vectorised.

    Counting-process rows ``(start, stop]`` are at risk at t when start < t <= stop.
    Returns columns ``time, n_risk, n_event, n_censor, survival, std_err_log`` where
    ``std_err_log`` is Greenwood's standard error of -log S (R's ``survfit$std.err``).
    """
    stop = np.asarray(stop, dtype=float)
    event = np.asarray(event, dtype=bool)
    times, inv = np.unique(stop, return_inverse=True)
    n_event = np.bincount(inv, weights=event, minlength=len(times))
    n_censor = np.bincount(inv, weights=~event, minlength=len(times))
    n_risk = len(stop) - np.searchsorted(np.sort(stop), times, side="left")
    if start is not None:
        n_risk = n_risk - (len(stop) - np.searchsorted(np.sort(np.asarray(start, float)),
                                                       times, side="left"))
    n_risk = n_risk.astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        survival = np.cumprod(1.0 - n_event / n_risk)
        green = np.cumsum(np.where(n_event > 0, n_event / (n_risk * (n_risk - n_event)), 0.0))
    std_err_log = np.sqrt(green)
    std_err_log[~np.isfinite(std_err_log) | (survival == 0)] = np.nan
    return pd.DataFrame({
        "time": times, "n_risk": n_risk.astype(int), "n_event": n_event.astype(int),
        "n_censor": n_censor.astype(int), "survival": survival, "std_err_log": std_err_log,
    })


def _confint(surv: np.ndarray, se: np.ndarray, conf_type: str, conf_level: float
             ) -> tuple[np.ndarray, np.ndarray]:
    """R's ``survfit_confint`` with ``logse = TRUE`` (se is the SE of -log S)."""
    z = stats.norm.ppf(1 - (1 - conf_level) / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        if conf_type == "plain":
            half = se * surv * z
            return np.maximum(surv - half, 0.0), np.minimum(surv + half, 1.0)
        if conf_type == "log":
            xx = np.where(surv == 0, np.nan, surv)
            return np.exp(np.log(xx) - z * se), np.minimum(np.exp(np.log(xx) + z * se), 1.0)
        xx = np.where((surv == 0) | (surv == 1), np.nan, surv)
        half = z * se / np.log(xx)
        lll = np.log(-np.log(xx))
        return np.exp(-np.exp(lll - half)), np.exp(-np.exp(lll + half))


def _findq(x: np.ndarray, y: np.ndarray, p: float) -> float:
    """R's ``survival:::findq``: the time where the curve ``1 - S`` crosses ``p``.

    Where the curve sits exactly at ``p`` over a stretch, the midpoint of that stretch.
    """
    if np.all(np.isnan(y)) or np.nanmax(y) < p:
        return np.nan
    xmax = x[-1]
    _, first = np.unique(y, return_index=True)  # drops later duplicates (NaN counted once)
    keep = np.sort(first)
    x, y = x[keep], y[keep]
    ok = ~np.isnan(y)

    def first_at_least(level: np.ndarray) -> float:
        hits = np.flatnonzero(ok & (level >= p))
        return x[hits[0]] if len(hits) else np.nan

    lo = first_at_least(y + _TOL)
    hi = first_at_least(y - _TOL)
    quant = (lo + hi) / 2
    if not np.isnan(y[-1]) and abs(p - y[-1]) < _TOL:
        quant = (lo + xmax) / 2
    return float(quant)


@dataclass(frozen=True)
class KaplanMeierResult:
    """Kaplan-Meier estimate(s), as R's ``survfit(Surv(time, event) ~ group)``.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per distinct time (events and censorings) per group, columns ``group`` (when
        grouped), ``time, n_risk, n_event, n_censor, survival, std_error, ci_low, ci_high``.
        ``std_error`` is the standard error of the survival probability (Greenwood; as
        ``summary.survfit`` prints it), ``ci_low``/``ci_high`` the pointwise interval.
    median : pandas.DataFrame
        One row per group (``group = "all"`` when not grouped), columns ``group, n, n_events,
        median, ci_low, ci_high, conf_type``; NaN where the curve (or its CI limit) does not
        reach 0.5.
    conf_type, ci_level : str, float
        The interval used (``conf_level``, the former name of ``ci_level``, still works for
        one release with a deprecation warning).
    method : dict
        How the numbers were made: ``estimator``, ``variance``, ``conf_type``, ``ci_level``,
        ``median``.
    n_obs, n_subjects : int
        Subjects used (one row each; the same number).
    """

    table: pd.DataFrame
    median: pd.DataFrame
    conf_type: str
    ci_level: float
    method: dict[str, Any] = field(default_factory=dict)

    conf_level = renamed_attribute("conf_level", "ci_level")

    @property
    def n_obs(self) -> int:
        """Subjects used (one row each)."""
        return int(self.median["n"].sum())

    @property
    def n_subjects(self) -> int:
        """Subjects used."""
        return self.n_obs

    def to_frame(self) -> pd.DataFrame:
        """One row per curve: its median survival and the median's confidence interval.

        Returns
        -------
        pandas.DataFrame
            ``term`` (the curve: the level of the grouping column, ``"all"`` when not
            grouped), ``estimate`` (median survival time, R's ``quantile.survfit``; NaN when
            the curve does not reach 0.5), ``ci_low``, ``ci_high`` (the median's interval from
            the pointwise ``conf_type`` band at :attr:`ci_level`); ``std_error``,
            ``statistic``, ``df``, ``p_value`` NaN; then ``n``, ``n_events``, ``conf_type``.
        """
        frame = self.median.rename(columns={"median": "estimate"})
        frame = frame.assign(group=frame["group"].astype(str))
        return standard_frame(frame, term="group")

    def summary(self) -> Summary:
        """Method and the median survival of each curve with its interval."""
        return render_summary("Kaplan-Meier estimate", [
            lines(None, {**self.method, "n_subjects": self.n_subjects}),
            table("Median survival", self.median.drop(columns="conf_type"))])

    def __repr__(self) -> str:
        return (f"KaplanMeierResult(conf_type={self.conf_type!r}, "
                f"ci_level={self.ci_level})\n{self.median.to_string(index=False)}")


@formerly_positional("survival_time", "event", "by", "conf_type", "ci_level", "subject")
@renamed_arguments(time="survival_time", group="by", conf_level="ci_level")
def kaplan_meier(
    data: pd.DataFrame,
    *,
    survival_time: str = "survival_months",
    event: str = "event",
    by: str | None = None,
    conf_type: str = "log",
    ci_level: float = 0.95,
    subject: str | None = "subject",
) -> KaplanMeierResult:
    """Kaplan-Meier survival curves with Greenwood standard errors, as R's ``survfit``.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per subject, or the visit table (then ``survival_time``, ``event`` and ``by``
        must be constant within subject and one row per subject is used).
    survival_time, event : str
        Follow-up time (>= 0) and event indicator (0/1) columns
        (``survival_time`` was ``time``).
    by : str, optional
        Column whose levels get separate curves (levels in R's order); was ``group``.
    conf_type : {"log", "log-log", "plain"}
        Pointwise interval for S(t). The default ``"log"`` is R ``survfit``'s default.
    ci_level : float
        Confidence level of the intervals (was ``conf_level``).
    subject : str or None
        Subject column used to collapse a visit table; None when ``data`` has one row per
        subject already.

    Returns
    -------
    KaplanMeierResult
        ``.table`` with columns ``[group,] time, n_risk, n_event, n_censor, survival,
        std_error, ci_low, ci_high``; ``.median`` with columns ``group, n, n_events, median,
        ci_low, ci_high, conf_type``.

    Notes
    -----
    The intervals are R's ``survfit_confint`` with ``logse = TRUE``: ``"log"`` is
    ``S exp(+-z se)`` with the upper limit capped at 1; ``"log-log"`` is
    ``S^exp(+-z se / log S)`` (undefined where S is 0 or 1); ``"plain"`` is ``S +- z S se``
    clipped to [0, 1]. ``se`` is Greenwood's SE of the cumulative hazard. The median and its
    interval follow R's ``quantile.survfit``: the first time the curve (the lower/upper CI
    curve for the limits) is at or below 0.5, or the midpoint of a stretch where it equals
    0.5 exactly (tolerance ``sqrt(machine eps)``). lifelines uses the log-log interval by
    default and reports the median differently on flat stretches.

    Rows with a missing survival time, event or ``by`` are left out with a DroppedRowsWarning.

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"survival_months": [1, 2, 3, 4, 5, 6],
    ...                   "event": [1, 1, 1, 1, 1, 1]})
    >>> km = kaplan_meier(d)
    >>> float(km.median["median"].iloc[0])
    3.5
    """
    if conf_type not in CONF_TYPES:
        raise ValueError(f"conf_type must be one of {CONF_TYPES}, got {conf_type!r}")
    if not 0 < ci_level < 1:
        raise ValueError(f"ci_level must be in (0, 1), got {ci_level}")
    cols = [survival_time, event] + ([by] if by is not None else [])
    require_columns(data, cols, caller="kaplan_meier")
    df = one_row_per_subject(data, cols, subject, caller="kaplan_meier")
    df = drop_missing(df, cols, subject, caller="kaplan_meier")
    check_time_event(df, survival_time, event, subject=subject, caller="kaplan_meier")
    if len(df) == 0:
        raise ValueError("kaplan_meier: no rows left with a time and an event status")
    levels = r_levels(df[by]) if by is not None else ["all"]
    tables, medians = [], []
    for level in levels:
        sub = df if by is None else df[df[by] == level]
        t = pd.to_numeric(sub[survival_time]).to_numpy(float)
        e = pd.to_numeric(sub[event]).to_numpy(float) == 1
        tab = km_steps(t, e)
        lo, hi = _confint(tab["survival"].to_numpy(), tab["std_err_log"].to_numpy(),
                          conf_type, ci_level)
        tab["std_error"] = tab["survival"] * tab.pop("std_err_log")
        tab["ci_low"], tab["ci_high"] = lo, hi
        x = np.concatenate([[0.0], tab["time"].to_numpy()])
        medians.append({
            "group": level, "n": len(sub), "n_events": int(e.sum()),
            "median": _findq(x, np.concatenate([[0.0], 1 - tab["survival"].to_numpy()]), 0.5),
            "ci_low": _findq(x, np.concatenate([[0.0], 1 - lo]), 0.5),
            "ci_high": _findq(x, np.concatenate([[0.0], 1 - hi]), 0.5),
            "conf_type": conf_type,
        })
        if by is not None:
            tab.insert(0, "group", level)
        tables.append(tab)
    table = pd.concat(tables, ignore_index=True)
    median = pd.DataFrame(medians)
    if by is not None:
        # keep the levels' order (R's) for whoever sorts, groups or plots the tables
        table["group"] = pd.Categorical(table["group"], categories=levels)
        median["group"] = pd.Categorical(median["group"], categories=levels)
    return KaplanMeierResult(
        table=table, median=median, conf_type=conf_type, ci_level=ci_level,
        method={"estimator": "Kaplan-Meier", "variance": "Greenwood", "conf_type": conf_type,
                "ci_level": ci_level, "median": "R quantile.survfit"},
    )

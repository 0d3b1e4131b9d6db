"""The log-rank test of equal survival in two or more groups, as R's ``survdiff``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from alsstats._deprecation import formerly_positional, renamed_arguments
from alsstats.errors import DataValidationError
from alsstats.summary import Summary, lines, render_summary, standard_frame, table
from alsstats.survival.formula import r_levels
from alsstats.validation import (
    check_time_event,
    drop_missing,
    one_row_per_subject,
    require_columns,
)

__all__ = ["LogRankResult", "logrank_test"]


@dataclass(frozen=True)
class LogRankResult:
    """A log-rank test.

    Attributes
    ----------
    statistic : float
        Chi-square statistic (R's ``survdiff$chisq``).
    df : int
        Degrees of freedom: groups with a positive expected count, minus one.
    p_value : float
        Upper tail of the chi-square distribution.
    table : pandas.DataFrame
        One row per group: ``group, n, observed, expected, o_minus_e`` (observed minus
        expected events) and ``variance`` (diagonal of the variance of O - E).
    method : dict
        How the numbers were made (``test``, ``by``).
    ci_level : None
        No interval is computed.
    n_obs, n_subjects : int
        Subjects compared (one row each; the same number).
    """

    statistic: float
    df: int
    p_value: float
    table: pd.DataFrame
    method: dict[str, Any] = field(default_factory=dict)
    ci_level: float | None = None

    @property
    def n_obs(self) -> int:
        """Subjects compared (one row each)."""
        return int(self.table["n"].sum())

    @property
    def n_subjects(self) -> int:
        """Subjects compared."""
        return self.n_obs

    def to_frame(self) -> pd.DataFrame:
        """The test as one row.

        Returns
        -------
        pandas.DataFrame
            ``term`` (``"log-rank"``), ``statistic`` (chi-squared), ``df``, ``p_value``;
            ``estimate``, ``std_error``, ``ci_low``, ``ci_high`` NaN; then ``n`` (subjects)
            and ``n_events``.
        """
        return standard_frame(pd.DataFrame({
            "term": ["log-rank"], "statistic": [self.statistic], "df": [self.df],
            "p_value": [self.p_value], "n": [self.n_obs],
            "n_events": [int(self.table["observed"].sum())]}))

    def summary(self) -> Summary:
        """The test and the observed and expected events per group (R's ``survdiff``)."""
        return render_summary("Log-rank test", [
            lines(None, {"chi-squared": self.statistic, "df": self.df, "p_value": self.p_value,
                         "n_subjects": self.n_subjects}),
            table("Observed and expected events", self.table)])

    def __repr__(self) -> str:
        return (f"LogRankResult(statistic={self.statistic:.4g}, df={self.df}, "
                f"p_value={self.p_value:.4g})\n{self.table.to_string(index=False)}")


@formerly_positional("survival_time", "event", "by", "subject")
@renamed_arguments(time="survival_time", group="by")
def logrank_test(
    data: pd.DataFrame,
    *,
    survival_time: str = "survival_months",
    event: str = "event",
    by: str = "group",
    subject: str | None = "subject",
) -> LogRankResult:
    """Log-rank test that survival is the same in every group (R ``survdiff``, rho = 0).

    Parameters
    ----------
    data : pandas.DataFrame
        One row per subject, or the visit table (``survival_time``, ``event`` and ``by``
        constant within subject; one row per subject is used).
    survival_time, event : str
        Follow-up time (>= 0) and event (0/1) columns (``survival_time`` was ``time``).
    by : str
        Column with two or more groups to compare (was ``group``).
    subject : str or None
        Subject column used to collapse a visit table.

    Returns
    -------
    LogRankResult
        ``.statistic``, ``.df``, ``.p_value`` and ``.table`` with columns ``group, n,
        observed, expected, o_minus_e, variance``.

    Notes
    -----
    At each distinct event time the expected events of group k are ``d n_k / n`` and the
    variance of O - E is hypergeometric, ``d (n - d) / (n - 1) n_k / n (delta_kl - n_l / n)``.
    The statistic is ``(O - E)' V^- (O - E)`` over the groups with positive expected count,
    one of them left out, as R does. Stratified log-rank tests are not implemented.

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"survival_months": [3, 5, 8, 12, 20, 24, 30, 36],
    ...                   "event": [1, 1, 1, 0, 1, 1, 0, 0],
    ...                   "group": ["a", "a", "a", "a", "b", "b", "b", "b"]})
    >>> res = logrank_test(d)
    >>> res.df
    1
    """
    cols = [survival_time, event, by]
    require_columns(data, cols, caller="logrank_test")
    df = one_row_per_subject(data, cols, subject, caller="logrank_test")
    df = drop_missing(df, cols, subject, caller="logrank_test")
    check_time_event(df, survival_time, event, subject=subject, caller="logrank_test")
    levels = r_levels(df[by])
    if len(levels) < 2:
        raise DataValidationError([f"logrank_test: column '{by}' has {len(levels)} group(s) "
                                   f"({levels}); the log-rank test needs two or more"])
    t = pd.to_numeric(df[survival_time]).to_numpy(float)
    e = pd.to_numeric(df[event]).to_numpy(float) == 1
    if not e.any():
        raise DataValidationError([f"logrank_test: column '{event}' has no events: the log-rank "
                                   "test compares event rates and is undefined without events"])
    g = pd.Categorical(df[by], categories=levels).codes
    k = len(levels)
    times = np.unique(t[e])
    # at-risk counts per event time and group: rows with t >= time
    n_risk = np.empty((len(times), k))
    deaths = np.empty((len(times), k))
    for j in range(k):
        tj = np.sort(t[g == j])
        n_risk[:, j] = len(tj) - np.searchsorted(tj, times, side="left")
        dj = np.sort(t[(g == j) & e])
        deaths[:, j] = (np.searchsorted(dj, times, side="right")
                        - np.searchsorted(dj, times, side="left"))
    n = n_risk.sum(axis=1)
    d = deaths.sum(axis=1)
    frac = n_risk / n[:, None]
    expected = (d[:, None] * frac).sum(axis=0)
    observed = deaths.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        scale = np.where(n > 1, d * (n - d) / (n - 1), 0.0)
    var = np.einsum("t,tk,kl->kl", scale, frac, np.eye(k)) \
        - np.einsum("t,tk,tl->kl", scale, frac, frac)
    use = np.flatnonzero(expected > 0)
    o_e = observed - expected
    keep = use[1:]
    stat = float(o_e[keep] @ np.linalg.solve(var[np.ix_(keep, keep)], o_e[keep]))
    dof = len(use) - 1
    table = pd.DataFrame({
        "group": levels, "n": np.bincount(g, minlength=k), "observed": observed.astype(int),
        "expected": expected, "o_minus_e": o_e, "variance": np.diag(var),
    })
    return LogRankResult(statistic=stat, df=dof, p_value=float(stats.chi2.sf(stat, dof)),
                         table=table,
                         method={"test": "log-rank (R survdiff, rho = 0)", "group": by})

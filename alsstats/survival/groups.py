"""Short and long survivors split at a cut-off (the papers' 24 months from baseline MRI)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from alsstats._deprecation import formerly_positional, renamed_arguments
from alsstats._stack import user_stacklevel
from alsstats.errors import UnclassifiedSubjectsWarning
from alsstats.summary import Summary, lines, render_summary, standard_frame, table
from alsstats.validation import (
    check_time_event,
    one_row_per_subject,
    require_columns,
    require_no_missing,
)

__all__ = ["SurvivalGroups", "survival_groups"]

SURVIVAL_GROUP_LEVELS = ("short", "long")


@dataclass(frozen=True)
class SurvivalGroups:
    """Survival groups per subject, with the counts and the subjects left unclassified.

    Attributes
    ----------
    groups : pandas.Series
        Indexed by subject (every subject of the input), Categorical with categories
        ``["short", "long"]``; missing (NaN) for subjects that cannot be classified and for
        controls.
    counts : pandas.DataFrame
        Columns ``survival_group, n_subjects``; rows ``short``, ``long``, ``unclassified``
        (patients left out, all reasons) and ``control``.
    excluded : pandas.DataFrame
        Columns ``subject, reason, survival_months, event``: every subject without a group
        and why (``"censored at or before the cut-off"``, ``"survival time or event
        missing"``, ``"control"``).
    cutoff_months : float
        The cut-off.
    method : dict
        ``cutoff_months`` and the rules: ``short``, ``long``, ``unclassified``.
    ci_level : None
        No interval is computed.
    n_obs, n_subjects : int
        Subjects in the input (every row of ``groups``; one row each).
    """

    groups: pd.Series
    counts: pd.DataFrame
    excluded: pd.DataFrame
    cutoff_months: float
    method: dict[str, Any] = field(default_factory=dict)
    ci_level: float | None = None

    @property
    def n_subjects(self) -> int:
        """Subjects in the input (classified or not)."""
        return len(self.groups)

    @property
    def n_obs(self) -> int:
        """Subjects in the input (one row each)."""
        return len(self.groups)

    def to_frame(self) -> pd.DataFrame:
        """The counts as a tidy table.

        Returns
        -------
        pandas.DataFrame
            One row per group: ``term`` (``short``, ``long``, ``unclassified``,
            ``control``); the standard columns ``estimate`` .. ``ci_high`` NaN (nothing is
            estimated); then ``n_subjects``.
        """
        return standard_frame(self.counts, term="survival_group")

    def summary(self) -> Summary:
        """The cut-off, the counts and why subjects were left unclassified."""
        reasons = self.excluded["reason"].value_counts().rename_axis("reason")
        return render_summary("Survival groups", [
            lines(None, {**self.method, "n_subjects": self.n_subjects}),
            table("Subjects per group", self.counts),
            table("Left out", reasons.reset_index(name="n_subjects"))])

    def __repr__(self) -> str:
        return (f"SurvivalGroups(cutoff_months={self.cutoff_months:g})\n"
                f"{self.counts.to_string(index=False)}")


@formerly_positional("cutoff_months", "survival_time", "event", "subject", "diagnosis", "control")
@renamed_arguments(time="survival_time", group="diagnosis")
def survival_groups(
    data: pd.DataFrame,
    *,
    cutoff_months: float = 24,
    survival_time: str = "survival_months",
    event: str = "event",
    subject: str = "subject",
    diagnosis: str | None = "group",
    control: str = "control",
) -> SurvivalGroups:
    """Classify patients as short or long survivors at a cut-off.

    Parameters
    ----------
    data : pandas.DataFrame
        The visit table or one row per subject. ``survival_time``, ``event`` (and
        ``diagnosis``) must be constant within subject.
    cutoff_months : float
        The cut-off, in the units of ``survival_time``: a finite number >= 0 (NaN, infinity,
        a negative number or text are refused with a ``ValueError``).
    survival_time, event : str
        Survival time from baseline and event (0/1) columns (``survival_time`` was ``time``).
    subject : str
        Subject id column.
    diagnosis : str or None
        Diagnosis column (was ``group``); subjects whose value is ``control`` are not
        classified. None when every subject is a patient (or the column is absent).
    control : str
        The value of ``diagnosis`` that marks controls.

    Returns
    -------
    SurvivalGroups
        ``.groups`` (Series indexed by subject: ``"short"``, ``"long"`` or NaN),
        ``.counts`` (columns ``survival_group, n_subjects``), ``.excluded`` (columns
        ``subject, reason, survival_months, event``) and ``.cutoff_months``.

    Warns
    -----
    UnclassifiedSubjectsWarning
        When patients are left unclassified: how many and why.

    Notes
    -----
    ``"short"``: event at or before the cut-off (an event at exactly the cut-off is short).
    ``"long"``: followed beyond the cut-off, with or without an event. Censored at or before
    the cut-off (including exactly at it): not followed beyond it, so the group is unknown.

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"subject": ["a", "b", "c"], "survival_months": [12, 30, 24],
    ...                   "event": [1, 0, 1]})
    >>> survival_groups(d).groups.tolist()
    ['short', 'long', 'short']
    """
    if (isinstance(cutoff_months, (bool, np.bool_))
            or not isinstance(cutoff_months, (int, float, np.integer, np.floating))
            or not np.isfinite(cutoff_months) or cutoff_months < 0):
        raise ValueError(f"survival_groups: cutoff_months must be a finite number >= 0, got "
                         f"{cutoff_months!r}; with NaN every comparison is false and every "
                         "patient would be unclassified")
    use_group = diagnosis is not None and diagnosis in data.columns
    cols = [survival_time, event] + ([diagnosis] if use_group else [])
    require_columns(data, [subject, *cols], caller="survival_groups")
    df = one_row_per_subject(data, cols, subject, caller="survival_groups")
    require_no_missing(df, [subject], caller="survival_groups", subject=None)
    check_time_event(df, survival_time, event, subject=subject, caller="survival_groups")
    t = pd.to_numeric(df[survival_time]).to_numpy(float)
    e = pd.to_numeric(df[event]).to_numpy(float)
    is_control = (df[diagnosis] == control).to_numpy() if use_group else np.zeros(len(df), bool)
    missing = ~is_control & (np.isnan(t) | np.isnan(e))
    short = ~is_control & ~missing & (e == 1) & (t <= cutoff_months)
    long_ = ~is_control & ~missing & (t > cutoff_months)
    censored = ~is_control & ~missing & ~short & ~long_
    labels = np.full(len(df), None, dtype=object)
    labels[short] = "short"
    labels[long_] = "long"
    groups = pd.Series(pd.Categorical(labels, categories=list(SURVIVAL_GROUP_LEVELS)),
                       index=pd.Index(df[subject].to_numpy(), name=subject),
                       name="survival_group")
    reasons = np.full(len(df), None, dtype=object)
    reasons[censored] = f"censored at or before the cut-off ({cutoff_months:g})"
    reasons[missing] = "survival time or event missing"
    reasons[is_control] = "control"
    out = reasons != None  # noqa: E711 (elementwise on an object array)
    excluded = pd.DataFrame({"subject": df[subject].to_numpy()[out], "reason": reasons[out],
                             "survival_months": t[out], "event": e[out]})
    counts = pd.DataFrame({
        "survival_group": ["short", "long", "unclassified", "control"],
        "n_subjects": [int(short.sum()), int(long_.sum()), int((censored | missing).sum()),
                       int(is_control.sum())],
    })
    if censored.any() or missing.any():
        warnings.warn(
            f"survival_groups: {int((censored | missing).sum())} of "
            f"{int((~is_control).sum())} patients left unclassified at the "
            f"{cutoff_months:g}-month cut-off: {int(censored.sum())} censored at or before it "
            f"(not followed beyond it), {int(missing.sum())} with {survival_time} or {event} "
            "missing. See .excluded.",
            UnclassifiedSubjectsWarning, stacklevel=user_stacklevel())
    return SurvivalGroups(
        groups=groups, counts=counts, excluded=excluded, cutoff_months=float(cutoff_months),
        method={"cutoff_months": float(cutoff_months),
                "short": "event at or before the cut-off",
                "long": "followed beyond the cut-off (with or without an event)",
                "unclassified": "censored at or before the cut-off, or time/event missing",
                "controls": f"{diagnosis} == {control!r} (not classified)" if use_group else None})

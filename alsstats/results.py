"""Result objects of the named analyses (:mod:`alsstats.analyses`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from alsstats.summary import Summary, lines, render_summary, standard_frame, table

__all__ = ["AnalysisResult", "EFFECT_COLUMNS"]

EFFECT_COLUMNS = ["estimate", "std_error", "df", "statistic", "p_value", "ci_low", "ci_high"]


@dataclass(frozen=True)
class AnalysisResult:
    """What a named analysis returns: the headline effect, the full model and its bookkeeping.

    Attributes
    ----------
    name : str
        The analysis, e.g. ``"wmh_progression"``.
    effect : pandas.DataFrame
        The headline effect(s), index ``term``; columns ``estimate, std_error, df, statistic,
        p_value, ci_low, ci_high, units, description``.
    coefficients : pandas.DataFrame
        Every fixed effect of the model underneath (index ``term``; the columns of ``effect``
        but ``units`` and ``description``).
    model : object
        The fitted model underneath (an :class:`alsstats.LMEResult` for mixed models), so any
        further question can be asked of it.
    counts : pandas.DataFrame
        Subjects and visits per group that entered the model (columns ``group, n_subjects,
        n_visits``).
    excluded : pandas.DataFrame
        Subjects left out and why (columns ``subject, reason``); empty when none were.
    data : pandas.DataFrame or None
        The visit rows the model was fitted to, with any derived column the analysis added
        (e.g. ``survival_group``), ready for figures.
    fit : pandas.DataFrame or None
        Model-based population trajectories for figures (columns ``x``-variable, group column,
        ``estimate, ci_low, ci_high``); covariates held at their sample means.
    method : dict
        How the numbers were made: formula, estimation (REML/ML), df method, CI type, population.
    extra : dict
        Further tables specific to the analysis (e.g. a second model's coefficients).
    ci_level : float or None
        Level of the intervals (``method["ci_level"]``, else the model's).
    n_obs, n_subjects : int
        Visits and subjects that entered the model (totals of ``counts``).
    """

    name: str
    effect: pd.DataFrame
    coefficients: pd.DataFrame
    model: Any
    counts: pd.DataFrame
    excluded: pd.DataFrame
    method: dict[str, Any]
    data: pd.DataFrame | None = None
    fit: pd.DataFrame | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ci_level(self) -> float | None:
        """Level of the intervals: ``method["ci_level"]``, else the model's, else None."""
        level = self.method.get("ci_level")
        return level if level is not None else getattr(self.model, "ci_level", None)

    @property
    def n_subjects(self) -> int:
        """Subjects that entered the model (total of ``counts``)."""
        if "n_subjects" in self.counts.columns:
            return int(self.counts["n_subjects"].sum())
        return int(self.model.n_subjects)

    @property
    def n_obs(self) -> int:
        """Visits that entered the model (total of ``counts``)."""
        if "n_visits" in self.counts.columns:
            return int(self.counts["n_visits"].sum())
        return int(self.model.n_obs)

    def to_frame(self) -> pd.DataFrame:
        """The headline effect(s) as a tidy table.

        Returns
        -------
        pandas.DataFrame
            One row per effect: ``term`` (R's name), ``estimate``, ``std_error``,
            ``statistic``, ``df``, ``p_value``, ``ci_low``, ``ci_high`` (at
            :attr:`ci_level`); then ``units``, ``description`` and, where the analysis adds
            them, e.g. ``p_adjusted``.
        """
        return standard_frame(self.effect)

    def summary(self) -> Summary:
        """Method, counts, exclusions and the headline effect."""
        blocks = [lines(None, self.method), table("Subjects and visits", self.counts)]
        if len(self.excluded):
            reasons = self.excluded["reason"].value_counts().rename_axis("reason")
            blocks.append(table(f"Excluded subjects ({self.excluded['subject'].nunique()})",
                                reasons.reset_index(name="n")))
        blocks.append(table("Effect", self.to_frame()))
        return render_summary(self.name, blocks)

    def __repr__(self) -> str:
        return self.summary().text

"""Result objects of the named analyses (:mod:`alsstats.analyses`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

__all__ = ["AnalysisResult", "EFFECT_COLUMNS"]

EFFECT_COLUMNS = ["estimate", "std_error", "df", "statistic", "p_value", "ci_low", "ci_high"]


@dataclass
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

    def summary(self) -> str:
        """A short text summary: method, counts, the headline effect."""
        lines = [f"{self.name}", "-" * len(self.name)]
        lines += [f"{key}: {value}" for key, value in self.method.items()]
        lines.append("")
        lines.append(self.counts.to_string(index=False))
        if len(self.excluded):
            lines.append(f"excluded subjects: {len(self.excluded)} "
                         f"({self.excluded['reason'].value_counts().to_dict()})")
        lines.append("")
        lines.append(self.effect.to_string(float_format=lambda v: f"{v:.4g}"))
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.summary()

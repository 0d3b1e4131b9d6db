"""Survival analysis with R survival's numbers.

Modules, one concern each: :mod:`~alsstats.survival.groups` (short/long survivors),
:mod:`~alsstats.survival.km` (Kaplan-Meier), :mod:`~alsstats.survival.logrank`,
:mod:`~alsstats.survival.cox` (Cox models and their results),
:mod:`~alsstats.survival.timevarying` ((start, stop] intervals from visits),
:mod:`~alsstats.survival.subject` (baseline values, per-subject slopes), with the numerical
core in ``_engine``; input checks are in ``alsstats.validation``.
"""

from __future__ import annotations

from alsstats.survival.cox import CoxResult, fit_cox
from alsstats.survival.groups import SurvivalGroups, survival_groups
from alsstats.survival.km import KaplanMeierResult, kaplan_meier
from alsstats.survival.logrank import LogRankResult, logrank_test
from alsstats.survival.subject import baseline_values, subject_slopes
from alsstats.survival.timevarying import fit_cox_time_varying, time_varying_intervals

__all__ = [
    "CoxResult",
    "KaplanMeierResult",
    "LogRankResult",
    "SurvivalGroups",
    "baseline_values",
    "fit_cox",
    "fit_cox_time_varying",
    "kaplan_meier",
    "logrank_test",
    "subject_slopes",
    "survival_groups",
    "time_varying_intervals",
]

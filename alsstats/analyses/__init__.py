"""The papers' analyses as named recipes over the visit-table contract.

Each function takes a visit table (validated here: a bad table is refused with every problem
named), fits the model the paper describes and returns an :class:`~alsstats.results.AnalysisResult`
with the headline effect, the full coefficient table, the model underneath, counts, excluded
subjects with reasons, figure-ready trajectories and the method (a dict).

- :mod:`~alsstats.analyses.progression`: :func:`wmh_progression`,
  :func:`survival_group_progression`, :func:`flair_progression`, :func:`biomarker_progression`.
- :mod:`~alsstats.analyses.association`: :func:`alsfrs_vs_wmh`, :func:`flair_vs_alsfrs`.
- :mod:`~alsstats.analyses.classifier`: :func:`phenotype_classifier`.
- :mod:`~alsstats.analyses.survival`: :func:`survival_analysis` (survival groups,
  Kaplan-Meier, log-rank, Cox, proportional hazards, time-varying Cox).
- :mod:`~alsstats.analyses.joint`: :func:`wmh_survival_joint`.

Every analysis takes the table first (``data``) and everything else by keyword, with the
table's column names as ``subject``, ``visit_time``, ``diagnosis`` (and ``survival_time``,
``event`` where survival enters): these name the model's terms and filters.
"""

from alsstats.analyses._common import PHENOTYPE_LEVELS, SURVIVAL_LEVELS, group_counts
from alsstats.analyses.association import alsfrs_vs_wmh, flair_vs_alsfrs
from alsstats.analyses.classifier import phenotype_classifier
from alsstats.analyses.joint import wmh_survival_joint
from alsstats.analyses.progression import (
    biomarker_progression,
    flair_progression,
    survival_group_progression,
    wmh_progression,
)
from alsstats.analyses.survival import survival_analysis

__all__ = [
    "PHENOTYPE_LEVELS",
    "SURVIVAL_LEVELS",
    "alsfrs_vs_wmh",
    "biomarker_progression",
    "flair_progression",
    "flair_vs_alsfrs",
    "group_counts",
    "phenotype_classifier",
    "survival_analysis",
    "survival_group_progression",
    "wmh_progression",
    "wmh_survival_joint",
]

"""The papers' analyses as named recipes over the visit-table contract.

Each function takes a visit table (validated here: a bad table is refused with every problem
named), fits the model the paper describes and returns an :class:`~alsstats.results.AnalysisResult`
with the headline effect, the full coefficient table, the model underneath, counts, excluded
subjects with reasons, figure-ready trajectories and the method (a dict).

- :mod:`~alsstats.analyses.progression`: :func:`wmh_progression`,
  :func:`survival_group_progression`, :func:`flair_progression`, :func:`biomarker_progression`.
- :mod:`~alsstats.analyses.association`: :func:`alsfrs_vs_wmh`, :func:`flair_vs_alsfrs`.
- :mod:`~alsstats.analyses.classifier`: :func:`phenotype_classifier`.
- :mod:`~alsstats.analyses.joint`: :func:`wmh_survival_joint`.
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

__all__ = [
    "PHENOTYPE_LEVELS",
    "SURVIVAL_LEVELS",
    "alsfrs_vs_wmh",
    "biomarker_progression",
    "flair_progression",
    "flair_vs_alsfrs",
    "group_counts",
    "phenotype_classifier",
    "survival_group_progression",
    "wmh_progression",
    "wmh_survival_joint",
]

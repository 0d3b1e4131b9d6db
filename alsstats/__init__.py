"""alsstats: longitudinal statistics of MRI biomarkers in ALS.

The public API is flat::

    import alsstats as als
    visits = als.load_example_cohort()
    visits = als.validate_visits(visits)
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from alsstats.errors import (
    AlsstatsWarning,
    ConvergenceWarning,
    DataValidationError,
    DroppedRowsWarning,
    FormulaError,
    ImageReadError,
    RankDeficiencyWarning,
    ScaleWarning,
    SingularFitWarning,
    UnclassifiedSubjectsWarning,
)

try:
    __version__ = version("alsstats")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = [
    "AlsstatsWarning",
    "ConvergenceWarning",
    "DataValidationError",
    "DroppedRowsWarning",
    "FormulaError",
    "ImageReadError",
    "RankDeficiencyWarning",
    "ScaleWarning",
    "SingularFitWarning",
    "UnclassifiedSubjectsWarning",
    "__version__",
]

"""alsstats: longitudinal statistics of MRI biomarkers in ALS.

The public API is flat::

    import alsstats as als
    visits = als.load_example_cohort()
    result = als.wmh_progression(visits)
    fit = als.fit_lme(visits, "wmh_mm3 ~ group * years + age + sex + (1 | subject)")

Sub-packages load on first use (``import alsstats`` stays quick); every name below is
importable from the top level. ``_LAZY`` is the one list of the lazily loaded names; the
``TYPE_CHECKING`` imports at the end repeat it for type checkers and IDEs, and
``tests/test_public_api.py`` keeps the two (and ``__all__``) equal.
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

from alsstats.data import read_visits, validate_visits
from alsstats.errors import (
    AlsstatsDeprecationWarning,
    AlsstatsWarning,
    ConvergenceWarning,
    DataValidationError,
    DroppedRowsWarning,
    FormulaError,
    ImageReadError,
    OutputFolderError,
    RankDeficiencyWarning,
    ScaleWarning,
    SingularFitWarning,
    SkippedAnalysisWarning,
    TableReadError,
    UnclassifiedSubjectsWarning,
)

try:
    __version__ = version("alsstats")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

_LAZY: dict[str, tuple[str, ...]] = {
    "alsstats.synthetic": ("simulate_cohort", "load_example_cohort", "write_cohort"),
    "alsstats.clinical": (
        "alsfrs_domains", "alsfrs_total", "progression_rate", "mitos_stage", "kings_stage",
    ),
    "alsstats.formula": ("model_design", "quote_name"),
    "alsstats.lme": ("fit_lme", "compare_lme", "LMEResult", "LRTResult", "BootstrapResult"),
    "alsstats.survival": (
        "survival_groups", "SurvivalGroups", "kaplan_meier", "KaplanMeierResult",
        "logrank_test", "LogRankResult", "fit_cox", "CoxResult", "fit_cox_time_varying",
        "time_varying_intervals", "baseline_values", "subject_slopes",
    ),
    "alsstats.joint": ("fit_joint", "JointResult"),
    "alsstats.imaging": (
        "lesion_volumes", "roi_intensity", "find_scans", "from_manifest", "join_volumes",
        "BISON_LABELS",
    ),
    "alsstats.analyses": (
        "wmh_progression", "survival_group_progression", "alsfrs_vs_wmh", "flair_progression",
        "flair_vs_alsfrs", "phenotype_classifier", "biomarker_progression",
        "wmh_survival_joint", "survival_analysis",
    ),
    "alsstats.results": ("AnalysisResult",),
    "alsstats.summary": ("Summary",),
    "alsstats.plotting": (
        "plot_trajectories", "plot_association", "plot_kaplan_meier", "plot_forest",
        "plot_spaghetti", "plot_dynamic_survival", "label_panels",
    ),
    "alsstats.pipeline": ("reproduce",),
    "alsstats.table_one": ("baseline_characteristics", "BaselineTable"),
    "alsstats.multiplicity": ("p_adjust",),
    "alsstats.marginal": (
        "marginal_means", "marginal_trends", "contrasts", "MarginalMeans", "ContrastResult",
        "mean_curve",
    ),
}  # fmt: skip
_WHERE = {name: module for module, names in _LAZY.items() for name in names}

__all__ = [
    "AlsstatsDeprecationWarning",
    "AlsstatsWarning",
    "ConvergenceWarning",
    "DataValidationError",
    "DroppedRowsWarning",
    "FormulaError",
    "ImageReadError",
    "OutputFolderError",
    "RankDeficiencyWarning",
    "ScaleWarning",
    "SingularFitWarning",
    "SkippedAnalysisWarning",
    "TableReadError",
    "UnclassifiedSubjectsWarning",
    "__version__",
    "read_visits",
    "validate_visits",
    *sorted(_WHERE),
]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        value = getattr(importlib.import_module(_WHERE[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'alsstats' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # static type checkers and IDEs see the eager imports
    from alsstats.analyses import (  # noqa: F401
        alsfrs_vs_wmh,
        biomarker_progression,
        flair_progression,
        flair_vs_alsfrs,
        phenotype_classifier,
        survival_analysis,
        survival_group_progression,
        wmh_progression,
        wmh_survival_joint,
    )
    from alsstats.clinical import (  # noqa: F401
        alsfrs_domains,
        alsfrs_total,
        kings_stage,
        mitos_stage,
        progression_rate,
    )
    from alsstats.formula import model_design, quote_name  # noqa: F401
    from alsstats.imaging import (  # noqa: F401
        BISON_LABELS,
        find_scans,
        from_manifest,
        join_volumes,
        lesion_volumes,
        roi_intensity,
    )
    from alsstats.joint import JointResult, fit_joint  # noqa: F401
    from alsstats.lme import BootstrapResult, LMEResult, LRTResult, compare_lme, fit_lme  # noqa: F401
    from alsstats.marginal import (  # noqa: F401
        ContrastResult,
        MarginalMeans,
        contrasts,
        marginal_means,
        marginal_trends,
        mean_curve,
    )
    from alsstats.multiplicity import p_adjust  # noqa: F401
    from alsstats.pipeline import reproduce  # noqa: F401
    from alsstats.plotting import (  # noqa: F401
        label_panels,
        plot_association,
        plot_dynamic_survival,
        plot_forest,
        plot_kaplan_meier,
        plot_spaghetti,
        plot_trajectories,
    )
    from alsstats.results import AnalysisResult  # noqa: F401
    from alsstats.summary import Summary  # noqa: F401
    from alsstats.survival import (  # noqa: F401
        CoxResult,
        KaplanMeierResult,
        LogRankResult,
        SurvivalGroups,
        baseline_values,
        fit_cox,
        fit_cox_time_varying,
        kaplan_meier,
        logrank_test,
        subject_slopes,
        survival_groups,
        time_varying_intervals,
    )
    from alsstats.synthetic import load_example_cohort, simulate_cohort, write_cohort  # noqa: F401
    from alsstats.table_one import BaselineTable, baseline_characteristics  # noqa: F401

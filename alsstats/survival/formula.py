"""``Surv(...) ~ ...`` formulas: a thin view of :mod:`alsstats.formula.survival`.

Factor levels (:func:`r_levels`) are the formula layer's, so Kaplan-Meier curves, log-rank
tests and Cox models order groups as R does, and as the mixed models do.
"""

from __future__ import annotations

from alsstats.formula._levels import r_levels
from alsstats.formula.survival import (
    CoxDesign,
    SurvFormula,
    build_cox_design,
    parse_surv_formula,
)

__all__ = ["CoxDesign", "SurvFormula", "build_cox_design", "parse_surv_formula", "r_levels"]

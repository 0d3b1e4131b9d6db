"""lme4-style formulas for the mixed models: a thin view of :mod:`alsstats.formula`.

``build_model_frame(formula, data)`` gives y, X (R's names and term order, ``x_assign`` /
``x_terms``) and one :class:`~alsstats.formula.RandomBlock` per random-effect term; see
:mod:`alsstats.formula.mixed`.
"""

from __future__ import annotations

from alsstats._naming import r_name
from alsstats.formula.mixed import (
    FormulaParts,
    ModelFrame,
    RandomBlock,
    build_model_frame,
    split_formula,
)

__all__ = ["FormulaParts", "ModelFrame", "RandomBlock", "build_model_frame", "r_name",
           "split_formula"]

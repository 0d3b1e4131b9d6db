"""Linear mixed models: lme4's numbers, lmerTest's inference.

``fit_lme(data, "y ~ group * years + age + sex + (1 | site) + (1 + years | subject)")`` fits by
REML (or ML) with an exact profiled-deviance engine (:mod:`alsstats.lme.engine` for one
random-effect term, :mod:`alsstats.lme.general` for several; exact derivatives in
:mod:`alsstats.lme.derivatives`), Satterthwaite t-tests (:mod:`alsstats.lme.satterthwaite`),
likelihood-ratio tests (:func:`compare_lme`, :mod:`alsstats.lme.lrt`) and a parametric
bootstrap (:mod:`alsstats.lme.bootstrap`).
"""

from __future__ import annotations

from alsstats.lme.bootstrap import BootstrapResult
from alsstats.lme.fit import fit_lme
from alsstats.lme.lrt import LRTResult, compare_lme
from alsstats.lme.result import LMEResult

__all__ = ["BootstrapResult", "LMEResult", "LRTResult", "compare_lme", "fit_lme"]

"""Compatibility module: the inference of mixed models now lives in
:mod:`alsstats.lme.satterthwaite`, :mod:`alsstats.lme.lrt` and :mod:`alsstats.lme.bootstrap`."""

from __future__ import annotations

from alsstats.lme.bootstrap import BootstrapResult, parametric_bootstrap
from alsstats.lme.lrt import LRTResult, compare_lme
from alsstats.lme.satterthwaite import SatterthwaiteParts, satterthwaite_parts

__all__ = ["BootstrapResult", "LRTResult", "SatterthwaiteParts", "compare_lme",
           "parametric_bootstrap", "satterthwaite_parts"]

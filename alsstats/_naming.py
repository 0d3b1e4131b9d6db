"""Reading other libraries' coefficient names as R's (e.g. statsmodels/patsy output)."""

from __future__ import annotations

import re

__all__ = ["r_name"]


def r_name(patsy_name: str) -> str:
    """R's name of a patsy column: ``group[T.ALS]:years`` -> ``groupALS:years``.

    Only for reading other libraries' output (statsmodels cross-checks); alsstats' own
    formulas give R's names directly (:mod:`alsstats.formula`).

    Examples
    --------
    >>> r_name("group[T.ALS]:years"), r_name("sex[M]")
    ('groupALS:years', 'sexM')
    """
    return re.sub(r"\[(?:T\.)?(.*?)\]", r"\1", patsy_name)

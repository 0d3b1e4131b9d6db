"""R's names for model-matrix columns, shared by the mixed-model and Cox formula parsers."""

from __future__ import annotations

import re

__all__ = ["r_name"]


def r_name(patsy_name: str) -> str:
    """R's name of a patsy column: ``group[T.ALS]:years`` -> ``groupALS:years``.

    Full-rank codings without ``T.`` (``sex[M]``) become ``sexM`` too, as in R.

    Examples
    --------
    >>> r_name("group[T.ALS]:years"), r_name("sex[M]")
    ('groupALS:years', 'sexM')
    """
    return re.sub(r"\[(?:T\.)?(.*?)\]", r"\1", patsy_name)

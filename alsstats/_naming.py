"""Names between data and formulas: R's names for model-matrix columns, and quoting of column
names so that a column name in a formula is only ever a name."""

from __future__ import annotations

import re

__all__ = ["quote_name", "r_name"]

_PLAIN = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_RESERVED = frozenset({
    "if", "else", "repeat", "while", "function", "for", "next", "break", "in", "TRUE", "FALSE",
    "NULL", "Inf", "NaN", "NA", "NA_integer_", "NA_real_", "NA_character_", "NA_complex_",
    "True", "False", "None", "and", "or", "not", "is", "lambda",
})  # fmt: skip


def quote_name(column: str) -> str:
    """A column name as it must be written in a formula: plain when it is a plain name, else in
    backticks (R's quoting), so that no part of it is read as an operator or as code.

    Plain means ASCII letters, digits and ``_``, starting with a letter, and not a reserved word
    of R or Python. Everything else -- ``flair_cst-left``, ``flair.cst``, a name with spaces,
    brackets or quotes -- is quoted; a backtick or backslash inside is escaped with a
    backslash, as R's ``deparse(backtick = TRUE)`` does. Every place that puts a column name
    into a formula goes through this function.

    Examples
    --------
    >>> quote_name("flair_cst"), quote_name("flair_cst-left"), quote_name("a`b")
    ('flair_cst', '`flair_cst-left`', '`a\\\\`b`')
    """
    column = str(column)
    if _PLAIN.fullmatch(column) and column not in _RESERVED:
        return column
    return "`" + column.replace("\\", "\\\\").replace("`", "\\`") + "`"


def r_name(patsy_name: str) -> str:
    """R's name of a patsy column: ``group[T.ALS]:years`` -> ``groupALS:years``.

    Full-rank codings without ``T.`` (``sex[M]``) become ``sexM`` too, as in R.

    Examples
    --------
    >>> r_name("group[T.ALS]:years"), r_name("sex[M]")
    ('groupALS:years', 'sexM')
    """
    return re.sub(r"\[(?:T\.)?(.*?)\]", r"\1", patsy_name)

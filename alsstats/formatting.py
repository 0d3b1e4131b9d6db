"""Numbers and model terms as papers print them: one p-value formatter, estimates rounded to
what their standard error supports, confidence intervals in one column, terms in words.

Everything here turns numbers into text; nothing computes a statistic. Numbers are never
printed in scientific notation.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np
import pandas as pd

from alsstats._rformat import r_format

__all__ = ["P_STYLES", "decimals_for", "format_cell", "format_ci", "format_estimate",
           "format_number", "format_p_value", "format_significant", "term_label"]

MINUS = "\u2212"

_MAX_DECIMALS = 6


P_STYLES = ("paper", "r")

_EPS = 2.220446049250313e-16  # R's .Machine$double.eps, format.pval's default eps


def format_p_value(p: float | Sequence[float], *, style: str = "paper", digits: int = 3,
                   prefix: str | None = None) -> str | list[str]:
    """The one p-value formatter: as papers print p (``style="paper"``) or as R does.

    Parameters
    ----------
    p : float or sequence of float
        One p value, or several (a list comes back; in R style they share one format, as R
        formats a column).
    style : {"paper", "r"}
        ``"paper"``: ``"< 0.001"`` below 0.001, else three decimals (``"0.052"``); an em dash
        when missing. ``"r"``: R's ``format.pval(p, digits)`` as ``printCoefmat`` prints it
        (lme4/lmerTest, ``summary.lm``): ``"<2e-16"`` below machine epsilon (``"< 2e-16"``
        beside a value wider than 6 characters, as R), else ``digits``
        significant digits, in scientific notation where R would use it (``"2.51e-05"``);
        ``"NA"`` when missing.
    digits : int
        Significant digits of the R style (R's printouts use 3).
    prefix : str, optional
        Prose form ``"<prefix> = 0.052"`` / ``"<prefix> < 0.001"`` (e.g. ``prefix="p"``).

    Returns
    -------
    str or list of str

    Notes
    -----
    In R style, values of at least 1e-4 and smaller ones are formatted as two groups (as
    ``format.pval``), each with R's common format of a vector: the fewest significant digits
    (at most ``digits``) that show every value, fixed notation unless scientific is narrower.

    Examples
    --------
    >>> format_p_value(1.137e-106), format_p_value(0.0523), format_p_value(float("nan"))
    ('< 0.001', '0.052', '—')
    >>> format_p_value(0.0523, prefix="p"), format_p_value(1e-9, prefix="p")
    ('p = 0.052', 'p < 0.001')
    >>> format_p_value(1e-20, style="r"), format_p_value(2.5123e-5, style="r")
    ('<2e-16', '2.51e-05')
    >>> format_p_value(0.12345, style="r"), format_p_value(0.000123, style="r")
    ('0.123', '0.000123')
    >>> format_p_value([0.05, 0.5123, 1e-20], style="r")
    ['0.050', '0.512', '<2e-16']
    >>> format_p_value([1.49e-12, 1e-20], style="r")
    ['1.49e-12', '< 2e-16']
    """
    if style not in P_STYLES:
        raise ValueError(f"format_p_value: style must be one of {P_STYLES}, got {style!r}")
    if isinstance(p, str):
        raise TypeError(f"format_p_value: p must be a number, got the text {p!r}")
    scalar = not isinstance(p, Sequence | np.ndarray | pd.Series)
    values = [p] if scalar else [float(v) if v is not None else math.nan for v in p]
    values = [math.nan if v is None else float(v) for v in values]
    texts = _paper_p(values) if style == "paper" else _r_p(values, digits)
    if prefix is not None:
        texts = [text if not _finite(v) else
                 f"{prefix} {text}" if text.startswith("<") else f"{prefix} = {text}"
                 for v, text in zip(values, texts, strict=True)]
    return texts[0] if scalar else texts


def _finite(value: float) -> bool:
    return value is not None and math.isfinite(value)


def _paper_p(values: list[float]) -> list[str]:
    return ["—" if not _finite(p) else "< 0.001" if p < 0.001 else f"{p:.3f}" for p in values]


def _r_text(values: list[float], digits: int) -> list[str]:
    """R's ``format(x, digits)`` of finite values, without the common-width padding."""
    return [text.strip() for text in r_format(values, digits)]


def _r_p(values: list[float], digits: int) -> list[str]:
    """R's ``format.pval(pv, digits)`` (R 4.2) with its default ``eps`` (machine epsilon)."""
    out = ["NA" if not _finite(p) else "" for p in values]
    rest = [i for i, p in enumerate(values) if _finite(p) and p >= _EPS]
    expo = {i: math.floor(math.log10(values[i])) if values[i] > 0 else -50 for i in rest}
    fixp = [i for i in rest if expo[i] >= -3 or (expo[i] == -4 and digits > 1)]
    small = [i for i in rest if i not in fixp]
    for group in (fixp, small):
        if group:
            for i, text in zip(group, _r_text([values[i] for i in group], digits),
                               strict=True):
                out[i] = text
    tiny = [i for i, p in enumerate(values) if _finite(p) and p < _EPS]
    if tiny:
        eps_digits = max(1, digits - 2)
        if rest:
            widest = max(len(out[i]) for i in rest)
            if eps_digits > 1 and eps_digits + 6 > widest:
                eps_digits = max(1, widest - 7)
            sep = "" if eps_digits == 1 and widest <= 6 else " "
        else:
            sep = "" if eps_digits == 1 else " "
        eps_text = "<" + sep + _r_text([_EPS], eps_digits)[0]
        for i in tiny:
            out[i] = eps_text
    return out


def format_significant(value: float, digits: int = 4) -> str:
    """Fixed-point text with ``digits`` significant digits (never scientific notation, plain
    ASCII minus, no thousands separators), as a console table prints a number; integers
    (and whole floats) in full.

    Examples
    --------
    >>> format_significant(0.0563812), format_significant(-1234.567), format_significant(12)
    ('0.05638', '-1235', '12')
    >>> format_significant(1.5e-7), format_significant(float("nan")), format_significant(2e20)
    ('0.0000001500', 'NaN', '200000000000000000000')
    >>> format_significant(3.0), format_significant(-0.5)
    ('3', '-0.5000')
    """
    if value is None:
        return "NaN"
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    value = float(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Inf" if value > 0 else "-Inf"
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    decimals = digits - 1 - math.floor(math.log10(abs(value)))
    return f"{value:.{min(max(decimals, 0), 10)}f}"


def format_cell(value: object) -> str:
    """A table cell as text for HTML: numbers in fixed point with thousands separators and
    three significant digits (integers in full), never scientific notation; NaN as an em
    dash; booleans as yes/no.

    Examples
    --------
    >>> format_cell(1.137e-6), format_cell(12345), format_cell(float("nan")), format_cell("a")
    ('0.00000114', '12,345', '—', 'a')
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return format_number(float(value), 0)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        if math.isnan(value):
            return "—"
        if math.isinf(value) or value == int(value) and abs(value) < 1e15:
            return format_number(value, 0)
        magnitude = math.floor(math.log10(abs(value)))
        return format_number(value, min(max(2 - magnitude, 0), 8))
    return str(value)


def decimals_for(estimate: float, std_error: float | None = None, significant: int = 3) -> int:
    """Decimals that show two significant digits of the standard error (when given), else
    ``significant`` significant digits of the estimate; between 0 and 6."""
    scale = std_error if std_error is not None and math.isfinite(std_error) and std_error > 0 \
        else None
    digits = 2 if scale is not None else significant
    if scale is None:
        if estimate is None or not math.isfinite(estimate) or estimate == 0:
            return 0 if estimate == 0 else 2
        scale = abs(estimate)
    decimals = digits - 1 - math.floor(math.log10(scale))
    return min(max(decimals, 0), _MAX_DECIMALS)


def format_number(value: float, decimals: int, *, thousands: bool = True) -> str:
    """Fixed-point text with a true minus sign and (by default) thousands separators.

    Examples
    --------
    >>> format_number(-12345.678, 1)
    '−12,345.7'
    >>> format_number(float("inf"), 1)
    '∞'
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if math.isinf(value):
        return "∞" if value > 0 else f"{MINUS}∞"
    text = f"{abs(value):,.{decimals}f}" if thousands else f"{abs(value):.{decimals}f}"
    negative = value < 0 and any(ch not in "0.," for ch in text)
    return f"{MINUS}{text}" if negative else text


def format_estimate(estimate: float, std_error: float | None = None) -> str:
    """An estimate rounded to what its standard error supports (two significant digits of the
    SE), or to three significant digits without one.

    Examples
    --------
    >>> format_estimate(860.63, 75.03), format_estimate(0.056381, 0.003542)
    ('861', '0.0564')
    >>> format_estimate(1.137e-6)
    '0.00000114'
    """
    if estimate is None or not math.isfinite(estimate):
        return format_number(estimate, 0)
    decimals = decimals_for(estimate, std_error)
    if std_error is None and estimate != 0:
        decimals = max(decimals, 3 - 1 - math.floor(math.log10(abs(estimate))))
        decimals = min(decimals, 8)
    return format_number(estimate, decimals)


def format_ci(low: float, high: float, std_error: float | None = None,
              estimate: float | None = None) -> str:
    """A confidence interval as one cell, ``"713 to 1,008"``, at the estimate's precision.

    Examples
    --------
    >>> format_ci(713.3, 1008.0, 75.03)
    '713 to 1,008'
    """
    if low is None or high is None or not (math.isfinite(low) or math.isfinite(high)):
        return "—"
    reference = estimate if estimate is not None and math.isfinite(estimate) else high
    decimals = decimals_for(reference, std_error)
    return f"{format_number(low, decimals)} to {format_number(high, decimals)}"


_VARIABLES = {
    "group": "ALS vs control",
    "sex": "sex",
    "survival_group": "survival group",
    "phenotype": "phenotype",
    "site": "site",
    "baseline_wmh": "baseline WMH",
}
_LEVEL_WORDS = {
    ("group", "ALS"): "ALS (vs control)",
    ("sex", "M"): "male (vs female)",
    ("sex", "F"): "female (vs male)",
    ("survival_group", "short"): "short survivors (vs long)",
    ("survival_group", "long"): "long survivors (vs short)",
    ("baseline_wmh", "high"): "high baseline WMH (vs low)",
}
_NUMERIC_WORDS = {
    "years": "time since baseline MRI (per year)",
    "age": "age at baseline (per year)",
    "wmh_mm3": "WMH volume",
    "alsfrs_r": "ALSFRS-R (per point)",
    "umn_score": "UMN score (per point)",
    "ecas_executive": "ECAS executive (per point)",
    "value": "current WMH (association with the hazard)",
}


def _factor_words(part: str) -> str:
    if part in _NUMERIC_WORDS:
        return _NUMERIC_WORDS[part]
    match = re.fullmatch(r"wmh_per_(\d+(?:\.\d+)?)", part)
    if match:
        return f"WMH (per {match.group(1)} mm³)"
    if part.startswith("flair_"):
        return f"qFLAIR {part.removeprefix('flair_').upper()} (per unit ratio)"
    for variable in sorted(_VARIABLES, key=len, reverse=True):
        if part.startswith(variable) and len(part) > len(variable):
            level = part[len(variable):]
            return _LEVEL_WORDS.get((variable, level), f"{_VARIABLES[variable]}: {level}")
    return part


def term_label(term: str) -> str:
    """A model term (R's name) in words; interactions joined by ``×``; unknown names kept.

    Examples
    --------
    >>> term_label("groupALS:years")
    'ALS (vs control) × time since baseline MRI (per year)'
    >>> term_label("sexM")
    'Male (vs female)'
    >>> term_label("(Intercept)"), term_label("phenotypePLS")
    ('Intercept', 'Phenotype: PLS')
    """
    if term in ("Intercept", "(Intercept)"):
        return "Intercept"
    parts = str(term).split(":")
    words = [_factor_words(part) for part in parts]
    text = " × ".join(words)
    return text if words[0] == parts[0] else text[:1].upper() + text[1:]

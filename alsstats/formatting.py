"""Numbers and model terms as papers print them: one p-value formatter, estimates rounded to
what their standard error supports, confidence intervals in one column, terms in words.

Everything here turns numbers into text; nothing computes a statistic. Numbers are never
printed in scientific notation.
"""

from __future__ import annotations

import math
import re

__all__ = ["format_ci", "format_estimate", "format_number", "format_p_value", "term_label",
           "decimals_for"]

MINUS = "\u2212"

_MAX_DECIMALS = 6


def format_p_value(p: float) -> str:
    """``"< 0.001"`` below 0.001, else three decimals; an em dash when missing.

    Examples
    --------
    >>> format_p_value(1.137e-106), format_p_value(0.0523), format_p_value(float("nan"))
    ('< 0.001', '0.052', '—')
    """
    if p is None or not math.isfinite(p):
        return "—"
    if p < 0.001:
        return "< 0.001"
    return f"{p:.3f}"


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

"""Parameters of the generative model: defaults, names, columns, and their checks."""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = [
    "DEFAULT_PARAMETERS",
    "DEFAULT_SITES",
    "ITEM_COLUMNS",
    "PHENOTYPES",
    "VISIT_COLUMNS",
    "check_arguments",
]

DEFAULT_SITES: tuple[str, ...] = ("EDM", "CGY", "MTL", "TOR", "VAN")

ITEM_COLUMNS: tuple[str, ...] = (
    "alsfrs_1", "alsfrs_2", "alsfrs_3", "alsfrs_4", "alsfrs_5a", "alsfrs_5b",
    "alsfrs_6", "alsfrs_7", "alsfrs_8", "alsfrs_9", "alsfrs_10", "alsfrs_11", "alsfrs_12",
)  # fmt: skip

VISIT_COLUMNS: tuple[str, ...] = (
    "subject", "years", "group", "age", "sex", "site", "phenotype", "wmh_mm3",
    "flair_cst", "flair_cc", "alsfrs_r", *ITEM_COLUMNS, "symptom_onset_months",
    "umn_score", "ecas_executive", "survival_months", "event",
)  # fmt: skip
"""The columns of a simulated cohort, in order."""

DEFAULT_PARAMETERS: dict[str, float] = {
    # subjects
    "age_mean_als": 58.0, "age_mean_control": 55.0, "age_sd": 10.0,
    "p_male_als": 0.60, "p_male_control": 0.45,
    "p_classic": 0.8, "p_pls": 0.1, "p_bulbar_onset_classic": 0.3,
    "onset_min_months": 3.0, "onset_gamma_shape": 2.0, "onset_gamma_scale": 8.5,
    "visit_jitter_days": 14.0,
    # survival
    "p_short": 0.4, "short_cutoff_months": 24.0, "weibull_shape": 3.0,
    "admin_censor_min_months": 24.0, "admin_censor_max_months": 60.0,
    "p_early_loss": 0.1, "early_loss_min_months": 1.0,
    # WMH
    "wmh_intercept": 14000.0, "wmh_age": 80.0, "wmh_male": 300.0,
    "wmh_slope_control": 250.0, "wmh_slope_als_minus_control": 911.5,
    "wmh_slope_short_minus_long": 1006.0,
    "wmh_u0_sd": 2500.0, "wmh_u1_sd": 300.0, "wmh_residual_sd": 300.0, "site_wmh_sd": 300.0,
    # ALSFRS-R
    "alsfrs_baseline_min": 38.0, "alsfrs_baseline_max": 42.0,
    "alsfrs_wmh_reference_mm3": 12500.0, "alsfrs_per_wmh_mm3": -0.002,
    "alsfrs_decline_short": 1.1, "alsfrs_decline_long": 0.6, "alsfrs_decline_logsd": 0.35,
    "alsfrs_residual_sd": 1.0, "item_weight_logsd": 0.5, "p_accept_gastrostomy": 0.7,
    # qFLAIR
    "flair_cst_control": 1.10, "flair_cst_als_shift": 0.05, "flair_cst_pls": 0.04,
    "flair_cst_flail_arm": -0.03, "flair_cst_slope_als": 0.02, "flair_cst_v0_sd": 0.03,
    "flair_cc_control": 1.05, "flair_cc_als_shift": 0.02, "flair_cc_pls": 0.01,
    "flair_cc_flail_arm": -0.01, "flair_cc_slope_als": 0.01, "flair_cc_v0_sd": 0.025,
    "flair_v1_sd": 0.005, "flair_residual_sd": 0.01, "site_flair_sd": 0.01,
    # UMN score and executive function
    "umn_logit_classic": -0.2, "umn_logit_pls": 0.4, "umn_logit_flail_arm": -1.4,
    "umn_per_cst_sd": 0.5, "umn_slope": 0.2,
    "ecas_logit_control": 1.3, "ecas_als_shift": -0.3, "ecas_subject_sd": 0.4,
    "ecas_slope_als": -0.15, "ecas_per_cc_change": -20.0,
}  # fmt: skip
"""Every parameter of the generative model (see the module docstring)."""

PHENOTYPES = ("classic", "PLS", "flail_arm")

# Relative rates at which items 1..12 lose points: rows bulbar-onset classic, spinal classic,
# PLS, flail arm. Item 12 (respiratory insufficiency) is kept slow so that King's 4B stays late.
ITEM_WEIGHTS = np.array(
    [
        [3.0, 2.0, 3.0, 1.0, 1.0, 1.0, 0.7, 0.7, 0.7, 0.5, 0.3, 0.08],
        [0.7, 0.5, 0.7, 2.0, 2.0, 2.0, 1.5, 2.0, 2.0, 0.5, 0.3, 0.08],
        [1.5, 0.5, 1.0, 1.0, 1.0, 1.0, 2.0, 2.5, 3.0, 0.3, 0.2, 0.08],
        [0.3, 0.2, 0.3, 3.0, 3.0, 3.0, 0.5, 0.5, 0.5, 0.5, 0.3, 0.08],
    ]
)

def check_arguments(
    seed: Any,
    n_als: Any,
    n_controls: Any,
    visit_months: Any,
    dropout: Any,
    sites: Any,
    params: Mapping[str, float] | None,
) -> tuple[tuple[float, ...], tuple[str, ...], dict[str, float]]:
    problems = []
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        problems.append(f"seed must be a non-negative integer, got {seed!r}")
    for name, value in (("n_als", n_als), ("n_controls", n_controls)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
            problems.append(f"{name} must be a positive integer, got {value!r}")
    months: tuple[float, ...] = ()
    try:
        if isinstance(visit_months, str | bytes) or not all(
            isinstance(m, numbers.Real) and not isinstance(m, bool) for m in visit_months
        ):
            raise TypeError
        months = tuple(float(m) for m in visit_months)
    except (TypeError, ValueError):
        problems.append(f"visit_months must be a sequence of numbers, got {visit_months!r}")
    else:
        if not months or months[0] != 0.0:
            problems.append(f"visit_months must start with the baseline 0, got {visit_months!r}")
        elif not all(math.isfinite(m) for m in months):
            problems.append(f"visit_months must be finite, got {visit_months!r}")
        elif any(b - a < 1.0 for a, b in zip(months, months[1:], strict=False)):
            problems.append(
                "visit_months must increase by at least 1 month between visits (visits are "
                f"jittered by up to 2 weeks), got {visit_months!r}"
            )
    if (
        isinstance(dropout, bool)
        or not isinstance(dropout, numbers.Real)
        or not (0.0 <= float(dropout) < 1.0)
    ):
        problems.append(f"dropout must be a probability in [0, 1), got {dropout!r}")
    site_names: tuple[str, ...] = ()
    if isinstance(sites, str) or not isinstance(sites, Sequence) or len(sites) == 0:
        problems.append(f"sites must be a non-empty sequence of names, got {sites!r}")
    else:
        site_names = tuple(sites)
        if not all(isinstance(s, str) and s for s in site_names):
            problems.append(f"sites must be non-empty strings, got {sites!r}")
        elif len(set(site_names)) != len(site_names):
            problems.append(f"sites must be unique, got {sites!r}")
    merged = dict(DEFAULT_PARAMETERS)
    if params is not None:
        unknown = sorted(set(params) - set(DEFAULT_PARAMETERS))
        if unknown:
            problems.append(
                f"params: unknown parameter(s) {unknown}; known: {sorted(DEFAULT_PARAMETERS)}"
            )
        for key, value in params.items():
            if key in DEFAULT_PARAMETERS:
                if (
                    isinstance(value, bool)
                    or not isinstance(value, numbers.Real)
                    or not (math.isfinite(value))
                ):
                    problems.append(f"params['{key}'] must be a finite number, got {value!r}")
                else:
                    merged[key] = float(value)
    p = merged
    for key in ("p_male_als", "p_male_control", "p_classic", "p_pls", "p_bulbar_onset_classic",
                "p_early_loss", "p_accept_gastrostomy"):  # fmt: skip
        if not 0.0 <= p[key] <= 1.0:
            problems.append(f"params['{key}'] must be a probability in [0, 1], got {p[key]!r}")
    if p["p_classic"] + p["p_pls"] > 1.0:
        problems.append("params: p_classic + p_pls must not exceed 1")
    if not 0.0 < p["p_short"] < 1.0:
        problems.append(f"params['p_short'] must be in (0, 1), got {p['p_short']!r}")
    for key in ("age_sd", "onset_gamma_shape", "onset_gamma_scale", "weibull_shape",
                "short_cutoff_months", "alsfrs_decline_short", "alsfrs_decline_long"):  # fmt: skip
        if not p[key] > 0.0:
            problems.append(f"params['{key}'] must be > 0, got {p[key]!r}")
    for key in [k for k in p if k.endswith("_sd") or k.endswith("_logsd")] + [
        "visit_jitter_days",
        "onset_min_months",
        "early_loss_min_months",
    ]:
        if p[key] < 0.0:
            problems.append(f"params['{key}'] must be >= 0, got {p[key]!r}")
    if p["visit_jitter_days"] > 14.0:
        problems.append("params['visit_jitter_days'] must be at most 14 (visits stay ordered)")
    if not p["admin_censor_min_months"] <= p["admin_censor_max_months"]:
        problems.append("params: admin_censor_min_months must not exceed admin_censor_max_months")
    if not p["early_loss_min_months"] < p["short_cutoff_months"]:
        problems.append("params: early_loss_min_months must be below short_cutoff_months")
    if not p["alsfrs_baseline_min"] <= p["alsfrs_baseline_max"]:
        problems.append("params: alsfrs_baseline_min must not exceed alsfrs_baseline_max")
    if problems:
        raise ValueError("simulate_cohort: " + "; ".join(problems))
    return months, site_names, merged



r"""Synthetic CALSNIC-like cohorts drawn from a documented generative model with known truth.

:func:`simulate_cohort` returns a visit table (the contract of :mod:`alsstats.data`) whose
every number comes from the model below; the parameters and the true effects the analyses
estimate are returned with it in ``df.attrs["truth"]`` (a JSON-serialisable dict).
:func:`write_cohort` writes ``visits.csv`` and ``truth.json``; :func:`load_example_cohort`
returns the shipped cohort (seed 0). The same seed gives the same table byte for byte on the
same numpy version (numpy's :func:`numpy.random.default_rng`; numpy may change a stream across
versions, which ``tests/test_synthetic.py`` would catch).

The generative model
--------------------
Names in ``code`` are the keys of ``truth["parameters"]``; defaults in brackets.
Override any of them with ``simulate_cohort(params={...})``.

**Subjects.** ``n_als`` ALS patients ``ALS001``, ``ALS002``, ... and ``n_controls`` controls
``CTL001``, ...; one row per subject and visit. Subject level:

- age at baseline ~ Normal(``age_mean_als`` [58] or ``age_mean_control`` [55], ``age_sd``
  [10]), clipped to 18..110 and rounded to 0.1 year (clipping is a covariate's, no effect is
  biased by it);
- sex "M" with probability ``p_male_als`` [0.60] / ``p_male_control`` [0.45], else "F";
- site uniformly from ``sites`` (CALSNIC-like: EDM, CGY, MTL, TOR, VAN);
- phenotype (ALS only; NaN for controls): "classic" ``p_classic`` [0.8], "PLS" ``p_pls``
  [0.1], "flail_arm" (the rest, 0.1). Among classic, a share ``p_bulbar_onset_classic``
  [0.3] has bulbar onset (used only to weight which ALSFRS-R items are lost first);
- ``symptom_onset_months`` (ALS only): months from symptom onset to the baseline MRI,
  ``onset_min_months`` [3] + Gamma(shape ``onset_gamma_shape`` [2], scale
  ``onset_gamma_scale`` [8.5]) — mean 20 — rounded to 0.1.

**Visits.** Planned at ``visit_months`` [(0, 4, 8)]; ``years`` = months / 12, the baseline
exactly 0, later visits jittered by Uniform(-``visit_jitter_days``, +``visit_jitter_days``)
[14] days (a year is 365.25 days) and rounded to 4 decimals. Every outcome below is computed
from the *rounded* ``years`` (months = 12 * years), so the truth holds for the table exactly
as written.

**Survival (ALS only).** Latent death time T (months from the baseline MRI) ~ Weibull(shape
``weibull_shape`` [3], scale λ), λ chosen so that P(T <= 24) = ``p_short`` [0.4] exactly
(λ = 24 / (-log(1 - p_short))^(1/shape) ≈ 30.0; median ≈ 26.6 months). Short survivor
``short_i = 1[T <= 24]``. Independent censoring C = min(administrative end ~ Uniform(
``admin_censor_min_months`` [24], ``admin_censor_max_months`` [60]), early loss to follow-up
with probability ``p_early_loss`` [0.1] at Uniform(``early_loss_min_months`` [1], 24)
months, else never). ``survival_months = ceil(min(T, C))`` in whole months (ties happen),
``event = 1[T <= C]``. Because of the ceiling, ``event == 1 and survival_months <= 24`` is
exactly ``T <= 24``; ``survival_months > 24`` is exactly "alive at 24 months" (T > 24);
censored with ``survival_months <= 24`` cannot be classified. Visits after min(T, C) are
dropped (counted in ``truth["counts"]``). Controls: ``survival_months`` and ``event`` NaN.

**Dropout.** Besides death and censoring, each post-baseline visit is missed with
probability ``dropout`` [0.1], monotone (once a subject misses a visit, the later ones are
gone too); applies to ALS and controls alike and is independent of everything else.

**WMH** (mm³, 1 decimal), for subject i at time t (years)::

    wmh = wmh_intercept + wmh_age (age - 55) + wmh_male 1[M] + site_wmh[site] + u0_i
          + (wmh_slope_control + 1[ALS] (wmh_slope_als_minus_control
                                         + wmh_slope_short_minus_long (short_i - p_short))
             + u1_i) t + e

``wmh_intercept`` [14000], ``wmh_age`` [80 /year of age], ``wmh_male`` [300],
``wmh_slope_control`` [250 mm³/year], ``wmh_slope_als_minus_control`` [911.5],
``wmh_slope_short_minus_long`` [1006], u0 ~ N(0, ``wmh_u0_sd`` [2500]), u1 ~ N(0,
``wmh_u1_sd`` [300]) independent, e ~ N(0, ``wmh_residual_sd`` [300]); site offsets drawn
N(0, ``site_wmh_sd`` [300]) then centred to sum to zero (recorded in ``truth["site_effects"]``).
(With three visits over 8 months a subject's own slope is known only to about ±640 mm³/year,
so a slope SD much below 300 makes lme4 report singular fits in the short/long model.)
Centring short_i at p_short makes the true effects exact and simple:

(a) ``wmh_slope_als_minus_control`` (911.5) is the ALS-minus-control slope difference in the
    *population* the simulator draws from, short survivors included at their population share
    p_short; ``truth["effects"]["wmh_slope_als_minus_control_sample"]`` adds the sample's own
    share, 911.5 + 1006 (mean(short_i) - p_short);
(b) ``wmh_slope_short_minus_long`` (1006) is the short-minus-long slope difference within
    ALS, whatever the sample share.

Death truncates short survivors' later visits, so their slopes are seen on fewer visits; with
the default Weibull shape of 3 under 2.5% of ALS die before the 8-month visit. Measured with
lme4 (``wmh_mm3 ~ group * years + age + sex + (1 + years | subject)``, REML, seeds 0-199):
``groupALS:years`` averaged 897 (truth 911.5: 0.18 of its standard error of 83 below), and
95% Wald intervals covered 911.5 in 96% of cohorts; the short-minus-long slope (ALS censored
before 24 months left out) averaged 1004 (truth 1006), covered in 96.5%. A subject whose WMH would be
negative at a planned visit is redrawn (u0, u1 and e) from a separate stream, never clipped;
at the defaults this has probability < 1e-5 per subject (``truth["counts"]
["wmh_subjects_redrawn"]`` says how many).

**ALSFRS-R** (ALS only; integer 0..48; NaN for controls), at month m = 12 t::

    alsfrs_latent = a_i - r_i m + alsfrs_per_wmh_mm3 (wmh - alsfrs_wmh_reference_mm3) + e

a_i ~ Uniform(``alsfrs_baseline_min`` [38], ``alsfrs_baseline_max`` [42]) is the baseline
score of a subject with WMH at ``alsfrs_wmh_reference_mm3`` [12500]; ``wmh`` is the rounded
WMH of the same row; ``alsfrs_per_wmh_mm3`` [-0.002] (one point per 500 mm³; identified
because a_i and r_i are independent of the WMH intercept); r_i = mean_r · LogNormal(-σ²/2,
σ = ``alsfrs_decline_logsd`` [0.35]) with mean_r = ``alsfrs_decline_short`` [1.1] or
``alsfrs_decline_long`` [0.6] points/month (population mean 0.8); e ~ N(0,
``alsfrs_residual_sd`` [1]). ``alsfrs_r`` = latent rounded to an integer and clipped to 0..48
(clipped values are counted in ``truth["counts"]``; under 1% of rows, at the top, at the
defaults).

The twelve items (``alsfrs_1`` .. ``alsfrs_12`` with ``alsfrs_5a``/``alsfrs_5b``) sum exactly
to ``alsfrs_r``: each subject has a fixed order in which its 48 item points are lost (an
exponential race: item j loses its points at rate w_ij = phenotype weight × LogNormal(0,
``item_weight_logsd`` [0.5]); bulbar items weigh most in bulbar-onset classic ALS, limb items
in spinal classic, gait items in PLS, arm items in flail arm; breathing items least), and a
visit with loss L = 48 - alsfrs_r has lost the first L points of that order. Items are
therefore monotone in the total, and monotone over visits whenever the total is. Item 5 is
reported as ``alsfrs_5b`` (gastrostomy) from the first visit at which swallowing (item 3) is
<= 1 in subjects who accept a gastrostomy (probability ``p_accept_gastrostomy`` [0.7]), else as
``alsfrs_5a``; exactly one of them per ALS row.

**Quantitative FLAIR** (normalised intensity ratios, 4 decimals), ROI r in {cst, cc}::

    flair_r = flair_r_control + 1[ALS] (flair_r_als_shift + phenotype offset) + site offset
              + v0_i + (1[ALS] flair_r_slope_als + v1_i) t + e

CST: ``flair_cst_control`` [1.10], ``flair_cst_als_shift`` [0.05], phenotype offsets
``flair_cst_pls`` [+0.04], ``flair_cst_flail_arm`` [-0.03] (classic 0), ``flair_cst_slope_als``
[0.02 /year; controls 0], v0 ~ N(0, ``flair_cst_v0_sd`` [0.03]), v1 ~ N(0, ``flair_v1_sd``
[0.005]), e ~ N(0, ``flair_residual_sd`` [0.01]). CC likewise: ``flair_cc_control`` [1.05],
``flair_cc_als_shift`` [0.02], ``flair_cc_pls`` [+0.01], ``flair_cc_flail_arm`` [-0.01],
``flair_cc_slope_als`` [0.01], ``flair_cc_v0_sd`` [0.025]. Site offsets N(0, ``site_flair_sd``
[0.01]), centred. So PLS has the highest CST signal, flail arm the lowest.

**UMN score** (ALS only, integer 0..16)::

    umn_score ~ Binomial(16, expit(umn_logit_<phenotype> + umn_per_cst_sd v0_cst / flair_cst_v0_sd
                                   + umn_slope t))

``umn_logit_classic`` [-0.2], ``umn_logit_pls`` [0.4], ``umn_logit_flail_arm`` [-1.4],
``umn_per_cst_sd`` [0.5] (the subject's CST level, in SDs), ``umn_slope`` [0.2 /year].

**Executive function** (ALS and controls, integer 0..48; an ECAS-executive-like score)::

    ecas_executive ~ Binomial(48, expit(ecas_logit_control + 1[ALS] ecas_als_shift + w_i
                                        + 1[ALS] ecas_slope_als t
                                        + ecas_per_cc_change (flair_cc true change since baseline)))

``ecas_logit_control`` [1.3], ``ecas_als_shift`` [-0.3], w_i ~ N(0, ``ecas_subject_sd``
[0.4]), ``ecas_slope_als`` [-0.15 /year], ``ecas_per_cc_change`` [-20 per unit of flair_cc
change]; the true CC change is (1[ALS] flair_cc_slope_als + v1_cc) t. So ALS decline faster
(-0.35 logit/year on average) and subjects whose CC signal rises faster decline faster.

The truth
---------
``df.attrs["truth"]`` has ``seed``, ``arguments``, ``parameters`` (every parameter above, with
derived ones such as the Weibull scale), ``site_effects``, ``effects`` (the true effects an
analysis estimates: ``wmh_slope_als_minus_control``, ``wmh_slope_short_minus_long``,
``alsfrs_per_wmh_mm3``, ``alsfrs_per_500_mm3``, flair slopes and differences, ...),
``sample`` (realised shares) and ``counts`` (subjects, visits, dropped visits by reason,
clipped ALSFRS-R values, WMH redraws). Floats derived by computation are rounded to 12
significant digits.
"""

from __future__ import annotations

import functools
import io
import json
import math
import numbers
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from alsstats.report import atomic_write_bytes

__all__ = [
    "DEFAULT_PARAMETERS",
    "DEFAULT_SITES",
    "VISIT_COLUMNS",
    "load_example_cohort",
    "simulate_cohort",
    "write_cohort",
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

_PHENOTYPES = ("classic", "PLS", "flail_arm")

# Relative rates at which items 1..12 lose points: rows bulbar-onset classic, spinal classic,
# PLS, flail arm. Item 12 (respiratory insufficiency) is kept slow so that King's 4B stays late.
_ITEM_WEIGHTS = np.array(
    [
        [3.0, 2.0, 3.0, 1.0, 1.0, 1.0, 0.7, 0.7, 0.7, 0.5, 0.3, 0.08],
        [0.7, 0.5, 0.7, 2.0, 2.0, 2.0, 1.5, 2.0, 2.0, 0.5, 0.3, 0.08],
        [1.5, 0.5, 1.0, 1.0, 1.0, 1.0, 2.0, 2.5, 3.0, 0.3, 0.2, 0.08],
        [0.3, 0.2, 0.3, 3.0, 3.0, 3.0, 0.5, 0.5, 0.5, 0.5, 0.3, 0.08],
    ]
)

_CSV_FLOAT_FORMAT = "%.10g"


def _sig(x: float, digits: int = 12) -> float:
    """Round a derived float to ``digits`` significant digits (stable JSON bytes)."""
    return float(f"{float(x):.{digits}g}")


def _check_arguments(
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


def _centred(rng: np.random.Generator, sd: float, k: int) -> np.ndarray:
    draws = rng.normal(0.0, sd, k)
    return draws - draws.mean() if k > 1 else np.zeros(k)


def _expit(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def simulate_cohort(
    seed: int = 0,
    n_als: int = 232,
    n_controls: int = 207,
    visit_months: Sequence[float] = (0, 4, 8),
    dropout: float = 0.1,
    sites: Sequence[str] = DEFAULT_SITES,
    *,
    params: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """Simulate a CALSNIC-like visit table with known truth.

    Parameters
    ----------
    seed : int, default 0
        Seed of :func:`numpy.random.default_rng`; the same seed and arguments give the same
        table (and the same CSV bytes).
    n_als, n_controls : int, default 232 and 207
        Numbers of ALS patients and controls (CALSNIC's), each at least 1.
    visit_months : sequence of float, default (0, 4, 8)
        Planned visits, months after the baseline MRI; must start at 0 and increase by at
        least one month.
    dropout : float, default 0.1
        Probability that a subject misses a post-baseline visit (and every later one).
    sites : sequence of str, default ("EDM", "CGY", "MTL", "TOR", "VAN")
        Site names; subjects are spread uniformly over them.
    params : mapping, optional
        Overrides of :data:`DEFAULT_PARAMETERS` by name (see the module docstring), e.g.
        ``{"wmh_slope_als_minus_control": 0.0}`` to simulate under the null.

    Returns
    -------
    pandas.DataFrame
        One row per kept visit, sorted by subject (ALS first) and visit, with the columns of
        :data:`VISIT_COLUMNS` and the dtypes :func:`alsstats.validate_visits` gives:

        - ``subject`` (object): ``ALS001``.. / ``CTL001``..
        - ``years`` (float64): time since the baseline MRI, years (4 decimals)
        - ``group`` (Categorical ``["control", "ALS"]``), ``sex`` (Categorical ``["F", "M"]``)
        - ``age`` (float64, 1 decimal), ``site`` (object), ``phenotype`` (object; "classic",
          "PLS", "flail_arm"; NaN for controls)
        - ``wmh_mm3`` (float64, 1 decimal), ``flair_cst``, ``flair_cc`` (float64, 4 decimals)
        - ``alsfrs_r`` and the items ``alsfrs_1`` .. ``alsfrs_12`` with ``alsfrs_5a`` /
          ``alsfrs_5b`` (float64 integers; NaN for controls; one of 5a/5b per ALS row)
        - ``symptom_onset_months`` (float64, 1 decimal; NaN for controls)
        - ``umn_score`` (float64 integers 0..16; NaN for controls), ``ecas_executive``
          (float64 integers 0..48)
        - ``survival_months`` (float64 whole months), ``event`` (float64 0/1); NaN for controls

        ``.attrs["truth"]`` holds the JSON-serialisable truth described in the module
        docstring (seed, arguments, parameters, site effects, true effects, counts).

    Raises
    ------
    ValueError
        On an invalid argument or parameter, naming it and the value.

    Notes
    -----
    Vectorised over subjects and visits: every random draw is made for every planned visit of
    every subject in a fixed order before rows are dropped, so the stream layout depends only
    on the sizes. The default cohort takes a few milliseconds.

    Examples
    --------
    >>> from alsstats.synthetic import simulate_cohort
    >>> visits = simulate_cohort(seed=1, n_als=20, n_controls=10)
    >>> visits.attrs["truth"]["effects"]["wmh_slope_als_minus_control"]
    911.5
    >>> sorted(visits["group"].unique().tolist())
    ['ALS', 'control']
    """
    months, site_names, p = _check_arguments(
        seed, n_als, n_controls, visit_months, dropout, sites, params
    )
    seed = int(seed)
    n_als = int(n_als)
    n_controls = int(n_controls)
    dropout = float(dropout)
    n = n_als + n_controls
    n_visits = len(months)
    n_sites = len(site_names)
    main_seq, redraw_seq = np.random.SeedSequence(seed).spawn(2)
    rng = np.random.default_rng(main_seq)

    als = np.arange(n) < n_als
    width = max(3, len(str(max(n_als, n_controls))))
    numbers_ = np.concatenate([np.arange(1, n_als + 1), np.arange(1, n_controls + 1)])
    prefix = np.where(als, "ALS", "CTL")
    subject_ids = np.char.add(prefix, np.char.zfill(numbers_.astype(str), width)).astype(object)

    # ---- subject level (every draw for every subject, in a fixed order) ----
    age = np.where(als, p["age_mean_als"], p["age_mean_control"]) + p["age_sd"] * (
        rng.standard_normal(n)
    )
    age = np.round(np.clip(age, 18.0, 110.0), 1)
    male = rng.random(n) < np.where(als, p["p_male_als"], p["p_male_control"])
    site_idx = rng.integers(0, n_sites, n)
    u_pheno = rng.random(n)
    pheno_idx = np.where(
        u_pheno < p["p_classic"], 0, np.where(u_pheno < p["p_classic"] + p["p_pls"], 1, 2)
    )
    bulbar_onset = rng.random(n) < p["p_bulbar_onset_classic"]
    onset = np.round(
        p["onset_min_months"] + rng.gamma(p["onset_gamma_shape"], p["onset_gamma_scale"], n), 1
    )
    site_wmh = _centred(rng, p["site_wmh_sd"], n_sites)
    site_cst = _centred(rng, p["site_flair_sd"], n_sites)
    site_cc = _centred(rng, p["site_flair_sd"], n_sites)

    cutoff = p["short_cutoff_months"]
    weibull_scale = cutoff / (-math.log1p(-p["p_short"])) ** (1.0 / p["weibull_shape"])
    death = weibull_scale * rng.weibull(p["weibull_shape"], n)
    admin = rng.uniform(p["admin_censor_min_months"], p["admin_censor_max_months"], n)
    early = rng.random(n) < p["p_early_loss"]
    early_time = rng.uniform(p["early_loss_min_months"], cutoff, n)
    censor = np.where(early, np.minimum(admin, early_time), admin)
    short = death <= cutoff
    follow = np.minimum(death, censor)
    survival_months = np.ceil(follow)
    event = (death <= censor).astype(float)

    u0 = rng.normal(0.0, p["wmh_u0_sd"], n)
    u1 = rng.normal(0.0, p["wmh_u1_sd"], n)
    a_base = rng.uniform(p["alsfrs_baseline_min"], p["alsfrs_baseline_max"], n)
    logsd = p["alsfrs_decline_logsd"]
    decline = np.where(short, p["alsfrs_decline_short"], p["alsfrs_decline_long"]) * np.exp(
        rng.normal(-0.5 * logsd**2, logsd, n)
    )
    item_rates = np.exp(rng.normal(0.0, p["item_weight_logsd"], (n, 12)))
    item_race = rng.standard_exponential((n, 12, 4))
    accept_peg = rng.random(n) < p["p_accept_gastrostomy"]
    v0_cst = rng.normal(0.0, p["flair_cst_v0_sd"], n)
    v1_cst = rng.normal(0.0, p["flair_v1_sd"], n)
    v0_cc = rng.normal(0.0, p["flair_cc_v0_sd"], n)
    v1_cc = rng.normal(0.0, p["flair_v1_sd"], n)
    ecas_w = rng.normal(0.0, p["ecas_subject_sd"], n)

    # ---- visit level: (n, n_visits) arrays ----
    planned = np.asarray(months, dtype=float)
    jitter = rng.uniform(-p["visit_jitter_days"], p["visit_jitter_days"], (n, n_visits))
    jitter[:, 0] = 0.0
    years = np.round(planned[None, :] / 12.0 + jitter / 365.25, 4)
    t_months = 12.0 * years
    wmh_eps = rng.normal(0.0, p["wmh_residual_sd"], (n, n_visits))
    missed = rng.random((n, n_visits)) < dropout
    alsfrs_eps = rng.normal(0.0, p["alsfrs_residual_sd"], (n, n_visits))
    cst_eps = rng.normal(0.0, p["flair_residual_sd"], (n, n_visits))
    cc_eps = rng.normal(0.0, p["flair_residual_sd"], (n, n_visits))

    # ---- WMH, redrawing (never clipping) any subject that would go negative ----
    fixed_wmh = (
        p["wmh_intercept"] + p["wmh_age"] * (age - 55.0) + p["wmh_male"] * male + site_wmh[site_idx]
    )
    slope_fixed = p["wmh_slope_control"] + als * (
        p["wmh_slope_als_minus_control"] + p["wmh_slope_short_minus_long"] * (short - p["p_short"])
    )

    def wmh_of(u0_: np.ndarray, u1_: np.ndarray, eps_: np.ndarray) -> np.ndarray:
        return np.round((fixed_wmh + u0_)[:, None] + (slope_fixed + u1_)[:, None] * years + eps_, 1)

    wmh = wmh_of(u0, u1, wmh_eps)
    redraw_rng = np.random.default_rng(redraw_seq)
    redrawn = np.zeros(n, dtype=bool)
    for _ in range(1000):
        negative = (wmh < 0).any(axis=1)
        if not negative.any():
            break
        redrawn |= negative
        k = int(negative.sum())
        u0[negative] = redraw_rng.normal(0.0, p["wmh_u0_sd"], k)
        u1[negative] = redraw_rng.normal(0.0, p["wmh_u1_sd"], k)
        wmh_eps[negative] = redraw_rng.normal(0.0, p["wmh_residual_sd"], (k, n_visits))
        wmh = wmh_of(u0, u1, wmh_eps)
    else:
        raise ValueError(
            "simulate_cohort: WMH stays negative after 1000 redraws; raise params"
            "['wmh_intercept'] or lower the WMH standard deviations"
        )

    # ---- ALSFRS-R total and items ----
    latent = (
        a_base[:, None]
        - decline[:, None] * t_months
        + p["alsfrs_per_wmh_mm3"] * (wmh - p["alsfrs_wmh_reference_mm3"])
        + alsfrs_eps
    )
    rounded = np.round(latent)
    alsfrs = np.clip(rounded, 0.0, 48.0)
    loss = (48.0 - alsfrs).astype(np.intp)

    weight_row = np.where(pheno_idx == 0, np.where(bulbar_onset, 0, 1), pheno_idx + 1)
    rates = _ITEM_WEIGHTS[weight_row] * item_rates
    # exponential race: item j's k-th point is lost at the k-th arrival of a rate-w_ij process
    keys = (np.cumsum(item_race, axis=2) / rates[:, :, None]).reshape(n, 48)
    # a visit with loss L has lost the points whose keys are among the subject's L smallest
    sorted_keys = np.concatenate([np.full((n, 1), -np.inf), np.sort(keys, axis=1)], axis=1)
    threshold = sorted_keys[np.arange(n)[:, None], loss]  # (n, n_visits)
    lost = (keys.reshape(n, 1, 12, 4) <= threshold[:, :, None, None]).sum(axis=3)
    item_values = 4.0 - lost  # (n, n_visits, 12)
    peg = np.maximum.accumulate((item_values[:, :, 2] <= 1) & accept_peg[:, None], axis=1)

    # ---- qFLAIR ----
    pheno_cst = np.array([0.0, p["flair_cst_pls"], p["flair_cst_flail_arm"]])[pheno_idx]
    pheno_cc = np.array([0.0, p["flair_cc_pls"], p["flair_cc_flail_arm"]])[pheno_idx]
    cst = np.round(
        (p["flair_cst_control"] + als * (p["flair_cst_als_shift"] + pheno_cst)
         + site_cst[site_idx] + v0_cst)[:, None]
        + (als * p["flair_cst_slope_als"] + v1_cst)[:, None] * years
        + cst_eps,
        4,
    )  # fmt: skip
    cc_change = (als * p["flair_cc_slope_als"] + v1_cc)[:, None] * years
    cc = np.round(
        (p["flair_cc_control"] + als * (p["flair_cc_als_shift"] + pheno_cc)
         + site_cc[site_idx] + v0_cc)[:, None]
        + cc_change
        + cc_eps,
        4,
    )  # fmt: skip

    # ---- UMN and executive scores (the last draws of the main stream) ----
    umn_base = np.array([p["umn_logit_classic"], p["umn_logit_pls"], p["umn_logit_flail_arm"]])
    cst_level = v0_cst / p["flair_cst_v0_sd"] if p["flair_cst_v0_sd"] > 0 else np.zeros(n)
    umn_p = _expit(
        (umn_base[pheno_idx] + p["umn_per_cst_sd"] * cst_level)[:, None] + p["umn_slope"] * years
    )
    umn = rng.binomial(16, umn_p).astype(float)
    ecas_p = _expit(
        (p["ecas_logit_control"] + als * p["ecas_als_shift"] + ecas_w)[:, None]
        + (als * p["ecas_slope_als"])[:, None] * years
        + p["ecas_per_cc_change"] * cc_change
    )
    ecas = rng.binomial(48, ecas_p).astype(float)

    # ---- which visits are kept ----
    after_follow_up = als[:, None] & (t_months > follow[:, None])
    dropped_out = np.maximum.accumulate(missed & (np.arange(n_visits) > 0), axis=1)
    keep = ~after_follow_up & ~dropped_out
    dead_first = (death <= censor)[:, None]

    # ---- assemble ----
    rows = keep.ravel()
    subj = np.repeat(np.arange(n), n_visits)[rows]
    is_als = als[subj]
    nan = np.nan

    def per_visit(values: np.ndarray, als_only: bool = False) -> np.ndarray:
        out = values.ravel()[rows].astype(float)
        if als_only:
            out = np.where(is_als, out, nan)
        return out

    def per_subject(values: np.ndarray, als_only: bool = False) -> np.ndarray:
        out = np.asarray(values, dtype=float)[subj]
        if als_only:
            out = np.where(is_als, out, nan)
        return out

    columns: dict[str, Any] = {
        "subject": subject_ids[subj],
        "years": per_visit(years),
        "group": pd.Categorical.from_codes(als[subj].astype(np.int8), ["control", "ALS"]),
        "age": per_subject(age),
        "sex": pd.Categorical.from_codes(male[subj].astype(np.int8), ["F", "M"]),
        "site": np.array(site_names, dtype=object)[site_idx[subj]],
        "phenotype": np.where(
            is_als, np.array(_PHENOTYPES, dtype=object)[pheno_idx[subj]], nan
        ).astype(object),
        "wmh_mm3": per_visit(wmh),
        "flair_cst": per_visit(cst),
        "flair_cc": per_visit(cc),
        "alsfrs_r": per_visit(alsfrs, als_only=True),
    }
    items_flat = item_values.reshape(n * n_visits, 12)[rows]
    peg_flat = peg.ravel()[rows]
    for j, name in enumerate(("alsfrs_1", "alsfrs_2", "alsfrs_3", "alsfrs_4")):
        columns[name] = np.where(is_als, items_flat[:, j], nan)
    columns["alsfrs_5a"] = np.where(is_als & ~peg_flat, items_flat[:, 4], nan)
    columns["alsfrs_5b"] = np.where(is_als & peg_flat, items_flat[:, 4], nan)
    for j in range(5, 12):
        columns[f"alsfrs_{j + 1}"] = np.where(is_als, items_flat[:, j], nan)
    columns["symptom_onset_months"] = per_subject(onset, als_only=True)
    columns["umn_score"] = per_visit(umn, als_only=True)
    columns["ecas_executive"] = per_visit(ecas)
    columns["survival_months"] = per_subject(survival_months, als_only=True)
    columns["event"] = per_subject(event, als_only=True)
    df = pd.DataFrame(columns, columns=list(VISIT_COLUMNS))

    # ---- the truth ----
    removed = ~keep
    planned_als = np.broadcast_to(als[:, None], keep.shape)
    p_phen = np.array([p["p_classic"], p["p_pls"], 1.0 - p["p_classic"] - p["p_pls"]])
    cst_offsets = np.array([0.0, p["flair_cst_pls"], p["flair_cst_flail_arm"]])
    cc_offsets = np.array([0.0, p["flair_cc_pls"], p["flair_cc_flail_arm"]])
    share_short = float(short[als].mean())
    als_rows = alsfrs[keep & planned_als]
    kept_latent = rounded[keep & planned_als]
    sub_als = slice(0, n_als)
    unclassified = (event[sub_als] == 0) & (survival_months[sub_als] <= cutoff)
    truth = {
        "model": "alsstats.synthetic v1 (see the alsstats.synthetic module docstring)",
        "seed": seed,
        "arguments": {
            "n_als": n_als,
            "n_controls": n_controls,
            "visit_months": [float(m) for m in months],
            "dropout": dropout,
            "sites": list(site_names),
        },
        "parameters": {
            **p,
            "weibull_scale_months": _sig(weibull_scale),
            "weibull_median_months": _sig(
                weibull_scale * math.log(2.0) ** (1.0 / p["weibull_shape"])
            ),
        },
        "site_effects": {
            "wmh_mm3": {s: _sig(v) for s, v in zip(site_names, site_wmh, strict=True)},
            "flair_cst": {s: _sig(v) for s, v in zip(site_names, site_cst, strict=True)},
            "flair_cc": {s: _sig(v) for s, v in zip(site_names, site_cc, strict=True)},
        },
        "effects": {
            "wmh_slope_control": p["wmh_slope_control"],
            "wmh_slope_als": _sig(p["wmh_slope_control"] + p["wmh_slope_als_minus_control"]),
            "wmh_slope_als_minus_control": p["wmh_slope_als_minus_control"],
            "wmh_slope_als_minus_control_sample": _sig(
                p["wmh_slope_als_minus_control"]
                + p["wmh_slope_short_minus_long"] * (share_short - p["p_short"])
            ),
            "wmh_slope_short_minus_long": p["wmh_slope_short_minus_long"],
            "wmh_slope_long_als": _sig(
                p["wmh_slope_control"]
                + p["wmh_slope_als_minus_control"]
                - p["wmh_slope_short_minus_long"] * p["p_short"]
            ),
            "wmh_slope_short_als": _sig(
                p["wmh_slope_control"]
                + p["wmh_slope_als_minus_control"]
                + p["wmh_slope_short_minus_long"] * (1.0 - p["p_short"])
            ),
            "wmh_per_year_of_age": p["wmh_age"],
            "wmh_male_minus_female": p["wmh_male"],
            "alsfrs_per_wmh_mm3": p["alsfrs_per_wmh_mm3"],
            "alsfrs_per_500_mm3": _sig(500.0 * p["alsfrs_per_wmh_mm3"]),
            "alsfrs_decline_per_month_mean": _sig(
                p["p_short"] * p["alsfrs_decline_short"]
                + (1 - p["p_short"]) * p["alsfrs_decline_long"]
            ),
            "alsfrs_decline_per_month_short": p["alsfrs_decline_short"],
            "alsfrs_decline_per_month_long": p["alsfrs_decline_long"],
            "alsfrs_slope_per_year_total_mean": _sig(
                -12.0
                * (
                    p["p_short"] * p["alsfrs_decline_short"]
                    + (1 - p["p_short"]) * p["alsfrs_decline_long"]
                )
                + p["alsfrs_per_wmh_mm3"]
                * (p["wmh_slope_control"] + p["wmh_slope_als_minus_control"])
            ),  # fmt: skip
            "flair_cst_slope_als": p["flair_cst_slope_als"],
            "flair_cst_slope_control": 0.0,
            "flair_cst_slope_als_minus_control": p["flair_cst_slope_als"],
            "flair_cc_slope_als": p["flair_cc_slope_als"],
            "flair_cc_slope_control": 0.0,
            "flair_cc_slope_als_minus_control": p["flair_cc_slope_als"],
            "flair_cst_als_minus_control_baseline": _sig(
                p["flair_cst_als_shift"] + float(p_phen @ cst_offsets)
            ),
            "flair_cc_als_minus_control_baseline": _sig(
                p["flair_cc_als_shift"] + float(p_phen @ cc_offsets)
            ),
            "flair_cst_by_phenotype_minus_control": {
                ph: _sig(p["flair_cst_als_shift"] + off)
                for ph, off in zip(_PHENOTYPES, cst_offsets, strict=True)
            },
            "flair_cc_by_phenotype_minus_control": {
                ph: _sig(p["flair_cc_als_shift"] + off)
                for ph, off in zip(_PHENOTYPES, cc_offsets, strict=True)
            },
            "p_short": p["p_short"],
            "short_survivor_rule": "T <= 24 months, i.e. event == 1 and survival_months <= 24",
        },
        "sample": {
            "share_short_als": _sig(share_short),
            "n_short_true": int(short[als].sum()),
            "n_deaths_observed": int(event[sub_als].sum()),
            "n_censored_by_cutoff": int(unclassified.sum()),
            "n_phenotype": {
                ph: int(((pheno_idx == k) & als).sum()) for k, ph in enumerate(_PHENOTYPES)
            },
            "n_gastrostomy_subjects": int((peg & keep)[als].any(axis=1).sum()),
        },
        "counts": {
            "subjects": n,
            "subjects_als": n_als,
            "subjects_control": n_controls,
            "visits_planned": int(keep.size),
            "visits_kept": int(keep.sum()),
            "visits_dropped_after_death": int((removed & after_follow_up & dead_first).sum()),
            "visits_dropped_after_censoring": int((removed & after_follow_up & ~dead_first).sum()),
            "visits_dropped_dropout": int((removed & ~after_follow_up).sum()),
            "alsfrs_clipped_at_48": int((kept_latent > 48).sum()),
            "alsfrs_clipped_at_0": int((kept_latent < 0).sum()),
            "alsfrs_rows": int(als_rows.size),
            "wmh_subjects_redrawn": int(redrawn.sum()),
        },
    }
    df.attrs["truth"] = truth
    return df


def _csv_text(visits: pd.DataFrame) -> str:
    return visits.to_csv(index=False, float_format=_CSV_FLOAT_FORMAT, lineterminator="\n")


def _truth_text(truth: Mapping[str, Any]) -> str:
    return json.dumps(truth, indent=2, sort_keys=True, allow_nan=False) + "\n"


def write_cohort(out: str | os.PathLike[str], seed: int = 0) -> list[Path]:
    """Simulate the default cohort and write ``visits.csv`` and ``truth.json`` to a folder.

    Parameters
    ----------
    out : str or path-like
        Output folder; created (with parents) if needed. Existing files of the same names
        are replaced.
    seed : int, default 0
        Passed to :func:`simulate_cohort` (all other arguments at their defaults).

    Returns
    -------
    list of pathlib.Path
        ``[out / "visits.csv", out / "truth.json"]``.

    Notes
    -----
    Each file is written to a temporary file in ``out`` and renamed into place, so a
    reader never sees half a file. Floats are written with ``%.10g`` (every value is rounded
    to at most 4 decimals first), missing values as empty fields, lines end in ``\\n``;
    the JSON has sorted keys and a two-space indent. The bytes depend only on the seed.

    Examples
    --------
    >>> import tempfile
    >>> from alsstats.synthetic import write_cohort
    >>> [p.name for p in write_cohort(tempfile.mkdtemp(), seed=0)]
    ['visits.csv', 'truth.json']
    """
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    visits = simulate_cohort(seed=seed)
    visits_path = folder / "visits.csv"
    truth_path = folder / "truth.json"
    atomic_write_bytes(visits_path, _csv_text(visits).encode("utf-8"))
    atomic_write_bytes(truth_path, _truth_text(visits.attrs["truth"]).encode("utf-8"))
    return [visits_path, truth_path]


@functools.lru_cache(maxsize=1)
def _example_cohort() -> tuple[pd.DataFrame, str]:
    from alsstats.data import validate_visits

    simulated = simulate_cohort(seed=0)
    text = _csv_text(simulated)
    visits = validate_visits(pd.read_csv(io.StringIO(text), dtype={"subject": str}))
    return visits, _truth_text(simulated.attrs["truth"])


def load_example_cohort() -> pd.DataFrame:
    """The shipped synthetic cohort (``data/synthetic/visits.csv``, seed 0).

    Returns
    -------
    pandas.DataFrame
        The visit table exactly as :func:`alsstats.read_visits` reads the shipped
        ``visits.csv`` (columns and dtypes as :func:`simulate_cohort`), with the truth in
        ``.attrs["truth"]``. A fresh copy each call.

    Notes
    -----
    The package does not need the repository's ``data/`` folder: the cohort is regenerated
    with seed 0 through the same CSV text that :func:`write_cohort` writes (cached after
    the first call); a test proves it equals the committed file byte for byte.

    Examples
    --------
    >>> from alsstats.synthetic import load_example_cohort
    >>> visits = load_example_cohort()
    >>> visits["subject"].nunique()
    439
    """
    visits, truth = _example_cohort()
    out = visits.copy(deep=True)
    out.attrs = {"truth": json.loads(truth)}
    return out

r"""Synthetic CALSNIC-like cohorts drawn from a documented generative model with known truth.

:func:`simulate_cohort` returns a visit table (the contract of :mod:`alsstats.data`) whose
every number comes from the model below; with ``return_truth=True`` it also returns the truth
(the parameters and the true effects the analyses estimate, a JSON-serialisable dict).
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
``simulate_cohort(..., return_truth=True)`` returns ``(visits, truth)``;
``load_example_cohort(return_truth=True)`` likewise. The truth has ``seed``, ``arguments``, ``parameters`` (every parameter above, with
derived ones such as the Weibull scale), ``site_effects``, ``effects`` (the true effects an
analysis estimates: ``wmh_slope_als_minus_control``, ``wmh_slope_short_minus_long``,
``alsfrs_per_wmh_mm3``, ``alsfrs_per_500_mm3``, flair slopes and differences, ...),
``sample`` (realised shares) and ``counts`` (subjects, visits, dropped visits by reason,
clipped ALSFRS-R values, WMH redraws). Floats derived by computation are rounded to 12
significant digits.

*Deprecated:* the truth is also stored in ``visits.attrs["truth"]`` for one more release
(notebooks of the previous release read it there). pandas deep-copies ``attrs`` on every
operation, so the next release stops storing it; use ``return_truth=True``.

Layout: :mod:`~alsstats.synthetic.parameters` (defaults, columns, checks),
:mod:`~alsstats.synthetic.draws` (every random draw, in the fixed stream order),
:mod:`~alsstats.synthetic.outcomes` (survival, WMH, ALSFRS-R, qFLAIR, scores, the table),
:mod:`~alsstats.synthetic.truth` (the truth dict).
"""

from __future__ import annotations

import functools
import io
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from alsstats._deprecation import formerly_positional
from alsstats.report import atomic_write_bytes
from alsstats.synthetic.draws import Design, draw
from alsstats.synthetic.outcomes import compute, visit_table
from alsstats.synthetic.parameters import (
    DEFAULT_PARAMETERS,
    DEFAULT_SITES,
    ITEM_COLUMNS,
    VISIT_COLUMNS,
    check_arguments,
)
from alsstats.synthetic.truth import build_truth

__all__ = [
    "DEFAULT_PARAMETERS",
    "DEFAULT_SITES",
    "ITEM_COLUMNS",
    "VISIT_COLUMNS",
    "load_example_cohort",
    "simulate_cohort",
    "write_cohort",
]

_CSV_FLOAT_FORMAT = "%.10g"


@formerly_positional("n_als", "n_controls", "visit_months", "dropout", "sites")
def simulate_cohort(
    seed: int = 0,
    *,
    n_als: int = 232,
    n_controls: int = 207,
    visit_months: Sequence[float] = (0, 4, 8),
    dropout: float = 0.1,
    sites: Sequence[str] = DEFAULT_SITES,
    params: Mapping[str, float] | None = None,
    return_truth: bool = False,
) -> pd.DataFrame | tuple[pd.DataFrame, dict[str, Any]]:
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
    return_truth : bool, default False
        Also return the truth: ``(visits, truth)``.

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

    dict, with ``return_truth=True``
        The JSON-serialisable truth described in the module docstring (seed, arguments,
        parameters, site effects, true effects, counts). Deprecated: it is also in
        ``visits.attrs["truth"]`` for one more release.

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
    >>> visits, truth = simulate_cohort(seed=1, n_als=20, n_controls=10, return_truth=True)
    >>> truth["effects"]["wmh_slope_als_minus_control"]
    911.5
    >>> sorted(visits["group"].unique().tolist())
    ['ALS', 'control']
    """
    months, site_names, p = check_arguments(
        seed, n_als, n_controls, visit_months, dropout, sites, params
    )
    design = Design(seed=int(seed), n_als=int(n_als), n_controls=int(n_controls),
                    months=months, dropout=float(dropout), site_names=site_names, p=p)
    draws = draw(design)
    outcomes = compute(design, draws)
    visits = visit_table(design, draws, outcomes)
    truth = build_truth(design, draws, outcomes)
    # Deprecated, kept one more release for callers that read it there (see the module
    # docstring); pandas deep-copies attrs on every operation.
    visits.attrs["truth"] = truth
    if return_truth:
        return visits, truth
    return visits


def _csv_text(visits: pd.DataFrame) -> str:
    return visits.to_csv(index=False, float_format=_CSV_FLOAT_FORMAT, lineterminator="\n")


def _truth_text(truth: Mapping[str, Any]) -> str:
    return json.dumps(truth, indent=2, sort_keys=True, allow_nan=False) + "\n"


@formerly_positional("seed")
def write_cohort(out: str | os.PathLike[str], *, seed: int = 0) -> list[Path]:
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
    visits, truth = simulate_cohort(seed=seed, return_truth=True)
    visits_path = folder / "visits.csv"
    truth_path = folder / "truth.json"
    atomic_write_bytes(visits_path, _csv_text(visits).encode("utf-8"))
    atomic_write_bytes(truth_path, _truth_text(truth).encode("utf-8"))
    return [visits_path, truth_path]


@functools.lru_cache(maxsize=1)
def _example_cohort() -> tuple[pd.DataFrame, str]:
    from alsstats.data import validate_visits

    simulated, truth = simulate_cohort(seed=0, return_truth=True)
    text = _csv_text(simulated)
    visits = validate_visits(pd.read_csv(io.StringIO(text), dtype={"subject": str}))
    visits.attrs = {}
    return visits, _truth_text(truth)


def load_example_cohort(*, return_truth: bool = False
                        ) -> pd.DataFrame | tuple[pd.DataFrame, dict[str, Any]]:
    """The shipped synthetic cohort (``data/synthetic/visits.csv``, seed 0).

    Parameters
    ----------
    return_truth : bool, default False
        Also return the truth (``data/synthetic/truth.json``): ``(visits, truth)``.

    Returns
    -------
    pandas.DataFrame
        The visit table exactly as :func:`alsstats.read_visits` reads the shipped
        ``visits.csv`` (columns and dtypes as :func:`simulate_cohort`). A fresh copy each
        call. Deprecated: the truth is also in ``.attrs["truth"]`` for one more release.
    dict, with ``return_truth=True``
        The truth, a fresh copy.

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
    out.attrs = {"truth": json.loads(truth)}  # deprecated: one more release
    if return_truth:
        return out, json.loads(truth)
    return out

"""Every random draw of a simulated cohort, in one fixed order.

The order of the draws below *is* the cohort: the shipped ``data/synthetic/`` files are these
streams at seed 0, and ``tests/test_synthetic.py`` proves them byte for byte. Every draw is
made for every subject and every planned visit before any row is dropped, so the stream
layout depends only on the sizes. Change nothing here without regenerating the shipped cohort.

Two streams are spawned from the seed: the main one (all draws here, then the two binomial
scores of :func:`draw_scores`, its last) and a separate one for redrawing a subject whose WMH
would be negative (:func:`redraw_stream`), so a redraw never shifts the main stream.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Design", "Draws", "draw", "draw_scores"]


@dataclass(frozen=True)
class Design:
    """The checked arguments of one simulation."""

    seed: int
    n_als: int
    n_controls: int
    months: tuple[float, ...]
    dropout: float
    site_names: tuple[str, ...]
    p: dict[str, float]

    @property
    def n(self) -> int:
        return self.n_als + self.n_controls

    @property
    def n_visits(self) -> int:
        return len(self.months)

    @property
    def weibull_scale(self) -> float:
        """Scale of the latent death time making P(T <= cut-off) = p_short exactly."""
        p = self.p
        return p["short_cutoff_months"] / (-math.log1p(-p["p_short"])) ** (
            1.0 / p["weibull_shape"]
        )


@dataclass
class Draws:
    """The raw draws (subject level: length n; visit level: n x n_visits), before any outcome.

    ``rng`` is the main stream, left where :func:`draw_scores` continues it; ``redraw_rng``
    the separate stream for WMH redraws.
    """

    rng: np.random.Generator
    redraw_rng: np.random.Generator
    age: np.ndarray
    male: np.ndarray
    site_idx: np.ndarray
    pheno_idx: np.ndarray
    bulbar_onset: np.ndarray
    onset: np.ndarray
    site_wmh: np.ndarray
    site_cst: np.ndarray
    site_cc: np.ndarray
    death: np.ndarray
    admin: np.ndarray
    early: np.ndarray
    early_time: np.ndarray
    u0: np.ndarray
    u1: np.ndarray
    a_base: np.ndarray
    decline_factor: np.ndarray
    item_rates: np.ndarray
    item_race: np.ndarray
    accept_peg: np.ndarray
    v0_cst: np.ndarray
    v1_cst: np.ndarray
    v0_cc: np.ndarray
    v1_cc: np.ndarray
    ecas_w: np.ndarray
    years: np.ndarray
    wmh_eps: np.ndarray
    missed: np.ndarray
    alsfrs_eps: np.ndarray
    cst_eps: np.ndarray
    cc_eps: np.ndarray


def _centred(rng: np.random.Generator, sd: float, k: int) -> np.ndarray:
    draws = rng.normal(0.0, sd, k)
    return draws - draws.mean() if k > 1 else np.zeros(k)


def is_als(design: Design) -> np.ndarray:
    return np.arange(design.n) < design.n_als


def draw(design: Design) -> Draws:
    """Make every draw of the main stream but the final scores, in the cohort's fixed order."""
    p = design.p
    n, n_visits, n_sites = design.n, design.n_visits, len(design.site_names)
    main_seq, redraw_seq = np.random.SeedSequence(design.seed).spawn(2)
    rng = np.random.default_rng(main_seq)
    als = is_als(design)
    out: dict[str, Any] = {"rng": rng, "redraw_rng": np.random.default_rng(redraw_seq)}

    # ---- subject level (every draw for every subject, in a fixed order) ----
    age = np.where(als, p["age_mean_als"], p["age_mean_control"]) + p["age_sd"] * (
        rng.standard_normal(n)
    )
    out["age"] = np.round(np.clip(age, 18.0, 110.0), 1)
    out["male"] = rng.random(n) < np.where(als, p["p_male_als"], p["p_male_control"])
    out["site_idx"] = rng.integers(0, n_sites, n)
    u_pheno = rng.random(n)
    out["pheno_idx"] = np.where(
        u_pheno < p["p_classic"], 0, np.where(u_pheno < p["p_classic"] + p["p_pls"], 1, 2)
    )
    out["bulbar_onset"] = rng.random(n) < p["p_bulbar_onset_classic"]
    out["onset"] = np.round(
        p["onset_min_months"] + rng.gamma(p["onset_gamma_shape"], p["onset_gamma_scale"], n), 1
    )
    out["site_wmh"] = _centred(rng, p["site_wmh_sd"], n_sites)
    out["site_cst"] = _centred(rng, p["site_flair_sd"], n_sites)
    out["site_cc"] = _centred(rng, p["site_flair_sd"], n_sites)

    out["death"] = design.weibull_scale * rng.weibull(p["weibull_shape"], n)
    out["admin"] = rng.uniform(p["admin_censor_min_months"], p["admin_censor_max_months"], n)
    out["early"] = rng.random(n) < p["p_early_loss"]
    out["early_time"] = rng.uniform(p["early_loss_min_months"], p["short_cutoff_months"], n)

    out["u0"] = rng.normal(0.0, p["wmh_u0_sd"], n)
    out["u1"] = rng.normal(0.0, p["wmh_u1_sd"], n)
    out["a_base"] = rng.uniform(p["alsfrs_baseline_min"], p["alsfrs_baseline_max"], n)
    logsd = p["alsfrs_decline_logsd"]
    out["decline_factor"] = np.exp(rng.normal(-0.5 * logsd**2, logsd, n))
    out["item_rates"] = np.exp(rng.normal(0.0, p["item_weight_logsd"], (n, 12)))
    out["item_race"] = rng.standard_exponential((n, 12, 4))
    out["accept_peg"] = rng.random(n) < p["p_accept_gastrostomy"]
    out["v0_cst"] = rng.normal(0.0, p["flair_cst_v0_sd"], n)
    out["v1_cst"] = rng.normal(0.0, p["flair_v1_sd"], n)
    out["v0_cc"] = rng.normal(0.0, p["flair_cc_v0_sd"], n)
    out["v1_cc"] = rng.normal(0.0, p["flair_v1_sd"], n)
    out["ecas_w"] = rng.normal(0.0, p["ecas_subject_sd"], n)

    # ---- visit level: (n, n_visits) arrays ----
    planned = np.asarray(design.months, dtype=float)
    jitter = rng.uniform(-p["visit_jitter_days"], p["visit_jitter_days"], (n, n_visits))
    jitter[:, 0] = 0.0
    out["years"] = np.round(planned[None, :] / 12.0 + jitter / 365.25, 4)
    out["wmh_eps"] = rng.normal(0.0, p["wmh_residual_sd"], (n, n_visits))
    out["missed"] = rng.random((n, n_visits)) < design.dropout
    out["alsfrs_eps"] = rng.normal(0.0, p["alsfrs_residual_sd"], (n, n_visits))
    out["cst_eps"] = rng.normal(0.0, p["flair_residual_sd"], (n, n_visits))
    out["cc_eps"] = rng.normal(0.0, p["flair_residual_sd"], (n, n_visits))
    return Draws(**out)


def draw_scores(draws: Draws, umn_p: np.ndarray, ecas_p: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]:
    """The last draws of the main stream: UMN (0..16) and executive (0..48) scores."""
    umn = draws.rng.binomial(16, umn_p).astype(float)
    ecas = draws.rng.binomial(48, ecas_p).astype(float)
    return umn, ecas


def redraw_wmh_subjects(draws: Draws, p: dict[str, float], negative: np.ndarray) -> None:
    """Redraw u0, u1 and the residuals of the ``negative`` subjects from the redraw stream."""
    k = int(negative.sum())
    n_visits = draws.wmh_eps.shape[1]
    draws.u0[negative] = draws.redraw_rng.normal(0.0, p["wmh_u0_sd"], k)
    draws.u1[negative] = draws.redraw_rng.normal(0.0, p["wmh_u1_sd"], k)
    draws.wmh_eps[negative] = draws.redraw_rng.normal(0.0, p["wmh_residual_sd"], (k, n_visits))

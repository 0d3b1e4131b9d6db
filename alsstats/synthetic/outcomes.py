"""The outcomes of a simulated cohort, computed from its draws, and the visit table they make.

Survival, WMH (with redraws, never clipping), ALSFRS-R total and items, qFLAIR, the UMN and
executive scores, which visits are kept, and the table. Only :func:`compute` draws more (the
scores, the last draws of the main stream, and any WMH redraw from the separate stream).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from alsstats.synthetic.draws import (
    Design,
    Draws,
    draw_scores,
    is_als,
    redraw_wmh_subjects,
)
from alsstats.synthetic.parameters import ITEM_WEIGHTS, PHENOTYPES, VISIT_COLUMNS

__all__ = ["Outcomes", "compute", "visit_table"]


@dataclass
class Outcomes:
    """Everything a simulated subject and visit has, before rows are dropped."""

    als: np.ndarray
    short: np.ndarray
    censor: np.ndarray
    follow: np.ndarray
    survival_months: np.ndarray
    event: np.ndarray
    wmh: np.ndarray
    redrawn: np.ndarray
    rounded_alsfrs: np.ndarray
    alsfrs: np.ndarray
    item_values: np.ndarray
    peg: np.ndarray
    cst: np.ndarray
    cc: np.ndarray
    umn: np.ndarray
    ecas: np.ndarray
    after_follow_up: np.ndarray
    keep: np.ndarray
    dead_first: np.ndarray


def _expit(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def compute(design: Design, d: Draws) -> Outcomes:
    """Outcomes from the draws (``d``'s WMH random effects change where a subject is redrawn)."""
    p = design.p
    n, n_visits = design.n, design.n_visits
    als = is_als(design)
    years = d.years
    t_months = 12.0 * years

    # ---- survival ----
    cutoff = p["short_cutoff_months"]
    censor = np.where(d.early, np.minimum(d.admin, d.early_time), d.admin)
    short = d.death <= cutoff
    follow = np.minimum(d.death, censor)
    survival_months = np.ceil(follow)
    event = (d.death <= censor).astype(float)

    # ---- WMH, redrawing (never clipping) any subject that would go negative ----
    fixed_wmh = (
        p["wmh_intercept"] + p["wmh_age"] * (d.age - 55.0) + p["wmh_male"] * d.male
        + d.site_wmh[d.site_idx]
    )  # fmt: skip
    slope_fixed = p["wmh_slope_control"] + als * (
        p["wmh_slope_als_minus_control"] + p["wmh_slope_short_minus_long"] * (short - p["p_short"])
    )

    def wmh_now() -> np.ndarray:
        return np.round(
            (fixed_wmh + d.u0)[:, None] + (slope_fixed + d.u1)[:, None] * years + d.wmh_eps, 1
        )

    wmh = wmh_now()
    redrawn = np.zeros(n, dtype=bool)
    for _ in range(1000):
        negative = (wmh < 0).any(axis=1)
        if not negative.any():
            break
        redrawn |= negative
        redraw_wmh_subjects(d, p, negative)
        wmh = wmh_now()
    else:
        raise ValueError(
            "simulate_cohort: WMH stays negative after 1000 redraws; raise params"
            "['wmh_intercept'] or lower the WMH standard deviations"
        )

    # ---- ALSFRS-R total and items ----
    decline = np.where(short, p["alsfrs_decline_short"], p["alsfrs_decline_long"]) * (
        d.decline_factor
    )
    latent = (
        d.a_base[:, None]
        - decline[:, None] * t_months
        + p["alsfrs_per_wmh_mm3"] * (wmh - p["alsfrs_wmh_reference_mm3"])
        + d.alsfrs_eps
    )
    rounded = np.round(latent)
    alsfrs = np.clip(rounded, 0.0, 48.0)
    loss = (48.0 - alsfrs).astype(np.intp)

    weight_row = np.where(d.pheno_idx == 0, np.where(d.bulbar_onset, 0, 1), d.pheno_idx + 1)
    rates = ITEM_WEIGHTS[weight_row] * d.item_rates
    # exponential race: item j's k-th point is lost at the k-th arrival of a rate-w_ij process
    keys = (np.cumsum(d.item_race, axis=2) / rates[:, :, None]).reshape(n, 48)
    # a visit with loss L has lost the points whose keys are among the subject's L smallest
    sorted_keys = np.concatenate([np.full((n, 1), -np.inf), np.sort(keys, axis=1)], axis=1)
    threshold = sorted_keys[np.arange(n)[:, None], loss]  # (n, n_visits)
    lost = (keys.reshape(n, 1, 12, 4) <= threshold[:, :, None, None]).sum(axis=3)
    item_values = 4.0 - lost  # (n, n_visits, 12)
    peg = np.maximum.accumulate((item_values[:, :, 2] <= 1) & d.accept_peg[:, None], axis=1)

    # ---- qFLAIR ----
    pheno_cst = np.array([0.0, p["flair_cst_pls"], p["flair_cst_flail_arm"]])[d.pheno_idx]
    pheno_cc = np.array([0.0, p["flair_cc_pls"], p["flair_cc_flail_arm"]])[d.pheno_idx]
    cst = np.round(
        (p["flair_cst_control"] + als * (p["flair_cst_als_shift"] + pheno_cst)
         + d.site_cst[d.site_idx] + d.v0_cst)[:, None]
        + (als * p["flair_cst_slope_als"] + d.v1_cst)[:, None] * years
        + d.cst_eps,
        4,
    )  # fmt: skip
    cc_change = (als * p["flair_cc_slope_als"] + d.v1_cc)[:, None] * years
    cc = np.round(
        (p["flair_cc_control"] + als * (p["flair_cc_als_shift"] + pheno_cc)
         + d.site_cc[d.site_idx] + d.v0_cc)[:, None]
        + cc_change
        + d.cc_eps,
        4,
    )  # fmt: skip

    # ---- UMN and executive scores (the last draws of the main stream) ----
    umn_base = np.array([p["umn_logit_classic"], p["umn_logit_pls"], p["umn_logit_flail_arm"]])
    cst_level = d.v0_cst / p["flair_cst_v0_sd"] if p["flair_cst_v0_sd"] > 0 else np.zeros(n)
    umn_p = _expit(
        (umn_base[d.pheno_idx] + p["umn_per_cst_sd"] * cst_level)[:, None]
        + p["umn_slope"] * years
    )
    ecas_p = _expit(
        (p["ecas_logit_control"] + als * p["ecas_als_shift"] + d.ecas_w)[:, None]
        + (als * p["ecas_slope_als"])[:, None] * years
        + p["ecas_per_cc_change"] * cc_change
    )
    umn, ecas = draw_scores(d, umn_p, ecas_p)

    # ---- which visits are kept ----
    after_follow_up = als[:, None] & (t_months > follow[:, None])
    dropped_out = np.maximum.accumulate(d.missed & (np.arange(n_visits) > 0), axis=1)
    keep = ~after_follow_up & ~dropped_out
    return Outcomes(
        als=als, short=short, censor=censor, follow=follow, survival_months=survival_months,
        event=event, wmh=wmh, redrawn=redrawn, rounded_alsfrs=rounded, alsfrs=alsfrs,
        item_values=item_values, peg=peg, cst=cst, cc=cc, umn=umn, ecas=ecas,
        after_follow_up=after_follow_up, keep=keep, dead_first=(d.death <= censor)[:, None],
    )  # fmt: skip


def visit_table(design: Design, d: Draws, o: Outcomes) -> pd.DataFrame:
    """The kept visits as the visit table (columns :data:`VISIT_COLUMNS`)."""
    n, n_visits = design.n, design.n_visits
    als = o.als
    width = max(3, len(str(max(design.n_als, design.n_controls))))
    numbers_ = np.concatenate([np.arange(1, design.n_als + 1),
                               np.arange(1, design.n_controls + 1)])  # fmt: skip
    prefix = np.where(als, "ALS", "CTL")
    subject_ids = np.char.add(prefix, np.char.zfill(numbers_.astype(str), width)).astype(object)

    rows = o.keep.ravel()
    subj = np.repeat(np.arange(n), n_visits)[rows]
    is_als_row = als[subj]
    nan = np.nan

    def per_visit(values: np.ndarray, als_only: bool = False) -> np.ndarray:
        out = values.ravel()[rows].astype(float)
        if als_only:
            out = np.where(is_als_row, out, nan)
        return out

    def per_subject(values: np.ndarray, als_only: bool = False) -> np.ndarray:
        out = np.asarray(values, dtype=float)[subj]
        if als_only:
            out = np.where(is_als_row, out, nan)
        return out

    columns: dict[str, Any] = {
        "subject": subject_ids[subj],
        "years": per_visit(d.years),
        "group": pd.Categorical.from_codes(als[subj].astype(np.int8), ["control", "ALS"]),
        "age": per_subject(d.age),
        "sex": pd.Categorical.from_codes(d.male[subj].astype(np.int8), ["F", "M"]),
        "site": np.array(design.site_names, dtype=object)[d.site_idx[subj]],
        "phenotype": np.where(
            is_als_row, np.array(PHENOTYPES, dtype=object)[d.pheno_idx[subj]], nan
        ).astype(object),
        "wmh_mm3": per_visit(o.wmh),
        "flair_cst": per_visit(o.cst),
        "flair_cc": per_visit(o.cc),
        "alsfrs_r": per_visit(o.alsfrs, als_only=True),
    }
    items_flat = o.item_values.reshape(n * n_visits, 12)[rows]
    peg_flat = o.peg.ravel()[rows]
    for j, name in enumerate(("alsfrs_1", "alsfrs_2", "alsfrs_3", "alsfrs_4")):
        columns[name] = np.where(is_als_row, items_flat[:, j], nan)
    columns["alsfrs_5a"] = np.where(is_als_row & ~peg_flat, items_flat[:, 4], nan)
    columns["alsfrs_5b"] = np.where(is_als_row & peg_flat, items_flat[:, 4], nan)
    for j in range(5, 12):
        columns[f"alsfrs_{j + 1}"] = np.where(is_als_row, items_flat[:, j], nan)
    columns["symptom_onset_months"] = per_subject(d.onset, als_only=True)
    columns["umn_score"] = per_visit(o.umn, als_only=True)
    columns["ecas_executive"] = per_visit(o.ecas)
    columns["survival_months"] = per_subject(o.survival_months, als_only=True)
    columns["event"] = per_subject(o.event, als_only=True)
    return pd.DataFrame(columns, columns=list(VISIT_COLUMNS))

"""The truth of a simulated cohort: parameters, true effects, realised sample, counts.

A JSON-serialisable dict (floats derived by computation rounded to 12 significant digits, so
``truth.json`` has stable bytes); see the package docstring for its keys.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from alsstats.synthetic.draws import Design, Draws
from alsstats.synthetic.outcomes import Outcomes
from alsstats.synthetic.parameters import PHENOTYPES

__all__ = ["build_truth", "sig"]


def sig(x: float, digits: int = 12) -> float:
    """Round a derived float to ``digits`` significant digits (stable JSON bytes)."""
    return float(f"{float(x):.{digits}g}")


def build_truth(design: Design, d: Draws, o: Outcomes) -> dict[str, Any]:
    """The truth dict of one simulation."""
    p = design.p
    seed, n_als, n_controls = design.seed, design.n_als, design.n_controls
    months, dropout, site_names = design.months, design.dropout, design.site_names
    n = design.n
    als, short, keep = o.als, o.short, o.keep
    event, survival_months = o.event, o.survival_months
    alsfrs, rounded, peg, redrawn = o.alsfrs, o.rounded_alsfrs, o.peg, o.redrawn
    after_follow_up, dead_first = o.after_follow_up, o.dead_first
    pheno_idx = d.pheno_idx
    site_wmh, site_cst, site_cc = d.site_wmh, d.site_cst, d.site_cc
    cutoff = p["short_cutoff_months"]
    weibull_scale = design.weibull_scale
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
            "weibull_scale_months": sig(weibull_scale),
            "weibull_median_months": sig(
                weibull_scale * math.log(2.0) ** (1.0 / p["weibull_shape"])
            ),
        },
        "site_effects": {
            "wmh_mm3": {s: sig(v) for s, v in zip(site_names, site_wmh, strict=True)},
            "flair_cst": {s: sig(v) for s, v in zip(site_names, site_cst, strict=True)},
            "flair_cc": {s: sig(v) for s, v in zip(site_names, site_cc, strict=True)},
        },
        "effects": {
            "wmh_slope_control": p["wmh_slope_control"],
            "wmh_slope_als": sig(p["wmh_slope_control"] + p["wmh_slope_als_minus_control"]),
            "wmh_slope_als_minus_control": p["wmh_slope_als_minus_control"],
            "wmh_slope_als_minus_control_sample": sig(
                p["wmh_slope_als_minus_control"]
                + p["wmh_slope_short_minus_long"] * (share_short - p["p_short"])
            ),
            "wmh_slope_short_minus_long": p["wmh_slope_short_minus_long"],
            "wmh_slope_long_als": sig(
                p["wmh_slope_control"]
                + p["wmh_slope_als_minus_control"]
                - p["wmh_slope_short_minus_long"] * p["p_short"]
            ),
            "wmh_slope_short_als": sig(
                p["wmh_slope_control"]
                + p["wmh_slope_als_minus_control"]
                + p["wmh_slope_short_minus_long"] * (1.0 - p["p_short"])
            ),
            "wmh_per_year_of_age": p["wmh_age"],
            "wmh_male_minus_female": p["wmh_male"],
            "alsfrs_per_wmh_mm3": p["alsfrs_per_wmh_mm3"],
            "alsfrs_per_500_mm3": sig(500.0 * p["alsfrs_per_wmh_mm3"]),
            "alsfrs_decline_per_month_mean": sig(
                p["p_short"] * p["alsfrs_decline_short"]
                + (1 - p["p_short"]) * p["alsfrs_decline_long"]
            ),
            "alsfrs_decline_per_month_short": p["alsfrs_decline_short"],
            "alsfrs_decline_per_month_long": p["alsfrs_decline_long"],
            "alsfrs_slope_per_year_total_mean": sig(
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
            "flair_cst_als_minus_control_baseline": sig(
                p["flair_cst_als_shift"] + float(p_phen @ cst_offsets)
            ),
            "flair_cc_als_minus_control_baseline": sig(
                p["flair_cc_als_shift"] + float(p_phen @ cc_offsets)
            ),
            "flair_cst_by_phenotype_minus_control": {
                ph: sig(p["flair_cst_als_shift"] + off)
                for ph, off in zip(PHENOTYPES, cst_offsets, strict=True)
            },
            "flair_cc_by_phenotype_minus_control": {
                ph: sig(p["flair_cc_als_shift"] + off)
                for ph, off in zip(PHENOTYPES, cc_offsets, strict=True)
            },
            "p_short": p["p_short"],
            "short_survivor_rule": "T <= 24 months, i.e. event == 1 and survival_months <= 24",
        },
        "sample": {
            "share_short_als": sig(share_short),
            "n_short_true": int(short[als].sum()),
            "n_deaths_observed": int(event[sub_als].sum()),
            "n_censored_by_cutoff": int(unclassified.sum()),
            "n_phenotype": {
                ph: int(((pheno_idx == k) & als).sum()) for k, ph in enumerate(PHENOTYPES)
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
    return truth

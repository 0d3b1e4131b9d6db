"""Write the simulated data sets of tests/reference/lme_engine.R (seeded; run from the repo root).

``calsnic_sites.csv``: a CALSNIC-like multi-site cohort (439 subjects, 232 ALS, 7 sites, visits at
0, 4, 8 months with dropout) with a site random intercept and correlated subject intercepts and
slopes; the ``calsnic_boundary.csv`` is another draw whose slope variance is small, so ML fits of
``(1 + years | subject)`` sit near the boundary.
R's own data sets (Loblolly, sleepstudy, Penicillin, Pastes, Machines) are written by the R script.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

OUT = Path(__file__).resolve().parent / "lme_engine_data"


def calsnic_sites(seed: int = 20261130, slope_sd: float = 0.25) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n_als, n_ctrl = 232, 207
    sites = ["CGY", "EDM", "MTL", "QUE", "TOR", "UTAH", "VAN"]
    site_effect = dict(zip(sites, rng.normal(0.0, 0.8, len(sites)), strict=True))
    rows = []
    for i in range(n_als + n_ctrl):
        als = int(i < n_als)
        subject = f"{'ALS' if als else 'CTL'}{i:03d}"
        site = sites[rng.integers(len(sites))]
        age = float(np.round(rng.normal(60.0, 10.0), 1))
        male = int(rng.random() < 0.6)
        b0 = rng.normal(0.0, 4.0)
        b1 = rng.normal(0.0, slope_sd) + 0.02 * b0
        n_visits = 1 + int(rng.random() < 0.85) + int(rng.random() < 0.6)
        for v in range(n_visits):
            years = round(v * 4 / 12 + float(rng.normal(0.0, 0.03)) * (v > 0), 4)
            mu = (3.0 + 0.08 * (age - 60) + 0.5 * male + 1.2 * als
                  + (0.6 + 0.9 * als) * years + site_effect[site] + b0 + b1 * years)
            rows.append((subject, site, years, als, male, age, round(mu + rng.normal(0, 1.0), 4)))
    return pd.DataFrame(rows, columns=["subject", "site", "years", "als", "male", "age", "wmh"])


if __name__ == "__main__":
    OUT.mkdir(exist_ok=True)
    calsnic_sites().to_csv(OUT / "calsnic_sites.csv", index=False)
    # a small slope variance, near the boundary (the ML Satterthwaite case)
    calsnic_sites(seed=7, slope_sd=0.3).to_csv(OUT / "calsnic_boundary.csv", index=False)

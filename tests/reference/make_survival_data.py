"""Write the small data sets that ``survival.R`` analyses and ``test_survival*.py`` re-analyse.

Run from the repository root: ``python tests/reference/make_survival_data.py`` then
``Rscript tests/reference/survival.R``. Fixed seed; whole-month survival times so that ties are
the norm (as in the papers' data), with censoring both before and after the 24-month cut-off.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

OUT = Path(__file__).resolve().parent / "survival_data"


def _write(df: pd.DataFrame, name: str) -> None:
    OUT.mkdir(exist_ok=True)
    tmp = OUT / f".{name}.tmp"
    df.to_csv(tmp, index=False, float_format="%.10g")
    os.replace(tmp, OUT / name)


def make_subjects(rng: np.random.Generator, n: int = 150) -> pd.DataFrame:
    age = np.round(rng.normal(60, 10, n), 1)
    sex = rng.choice(["F", "M"], n, p=[0.4, 0.6])
    site = rng.choice(["calgary", "edmonton", "montreal"], n)
    phenotype = rng.choice(["classic", "PLS", "flail_arm"], n, p=[0.6, 0.2, 0.2])
    wmh_base = np.round(rng.gamma(2.0, 2500.0, n), 1)
    lin = 0.00012 * (wmh_base - 5000) + 0.03 * (age - 60) + 0.3 * (sex == "M")
    lin += np.where(phenotype == "PLS", -0.8, 0.0)
    death = rng.exponential(30.0 * np.exp(-lin))
    censor = rng.uniform(3, 60, n)
    raw = np.minimum(death, censor)
    months = np.maximum(np.floor(raw), 1.0)
    event = (death <= censor).astype(int)
    return pd.DataFrame({
        "subject": [f"S{i:03d}" for i in range(n)],
        "age": age, "sex": sex, "site": site, "phenotype": phenotype,
        "wmh_base": wmh_base, "survival_months": months, "event": event,
    })


def make_visits(rng: np.random.Generator, subjects: pd.DataFrame) -> pd.DataFrame:
    """Visits every 6 months strictly before each subject's survival time; WMH grows."""
    rows = []
    slope = rng.normal(900.0, 400.0, len(subjects))
    for i, s in enumerate(subjects.itertuples()):
        n_vis = int(min(5, np.ceil(s.survival_months / 6.0)))
        for k in range(n_vis):
            years = 0.5 * k
            noise = rng.normal(0, 300.0)
            rows.append({
                "subject": s.subject, "years": years, "group": "ALS", "age": s.age,
                "sex": s.sex, "wmh_mm3": round(max(s.wmh_base + slope[i] * years + noise, 0.0), 1),
                "survival_months": s.survival_months, "event": s.event,
            })
    return pd.DataFrame(rows)


def main() -> None:
    rng = np.random.default_rng(20260417)
    subjects = make_subjects(rng)
    _write(subjects, "subjects.csv")
    _write(make_visits(rng, subjects), "visits.csv")
    # A hand-checkable curve: the survival curve sits exactly at 0.5 on a flat stretch,
    # so R's median is the midpoint of that stretch.
    small = pd.DataFrame({"time": [1, 2, 3, 4, 5, 6, 2, 7], "event": [1, 1, 1, 1, 1, 0, 0, 1]})
    _write(small, "km_small.csv")
    flat = pd.DataFrame({"time": [1, 2, 3, 4, 5, 6], "event": [1, 1, 1, 1, 1, 1]})
    _write(flat, "km_flat.csv")


if __name__ == "__main__":
    main()

"""Write the data sets that ``lme.R`` fits with lme4/lmerTest and ``tests/lme`` re-fits.

Run from the repository root: ``python tests/reference/make_lme_data.py`` then
``Rscript tests/reference/lme.R``. Every data set has a fixed seed; numbers are rounded to
6 decimals and written with exactly those digits, so R and Python parse identical doubles.

Data sets (columns subject, years, group, age, sex, als, y):

- ``balanced``: 439 subjects (232 ALS, 207 control), visits at 0, 1/3, 2/3 years, WMH-like scale
  (mm3), correlated random intercept and slope.
- ``unbalanced``: 300 subjects with 1 to 6 visits each at irregular times (up to ~4 years).
- ``singular_slope``: random intercept only in truth; the per-subject noise carries no slope
  component, so the slope variance of ``(1 + years | subject)`` is estimated at the boundary 0.
- ``collapse_intercept``: no between-subject variance at all (the noise is centred within each
  subject), so the random-intercept variance collapses to 0 and fixed effects equal OLS.
- ``small``: 40 subjects, 4 visits each, FLAIR-intensity scale (~1), for ``als * years`` with the
  numeric 0/1 column ``als``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

OUT = Path(__file__).resolve().parent / "lme_data"
COLUMNS = ["subject", "years", "group", "age", "sex", "als", "y"]


def _write(df: pd.DataFrame, name: str) -> None:
    OUT.mkdir(exist_ok=True)
    df = df[COLUMNS].copy()
    for col in ("years", "age", "y"):
        df[col] = np.round(df[col].to_numpy(dtype=float), 6)
    tmp = OUT / f".{name}.csv.tmp"
    df.to_csv(tmp, index=False, float_format="%.6f", lineterminator="\n")
    os.replace(tmp, OUT / f"{name}.csv")


def _subjects(rng: np.random.Generator, n: int, n_als: int) -> pd.DataFrame:
    """Subject-level table: id, group (n_als ALS in random order), age, sex."""
    is_als = np.zeros(n, dtype=bool)
    is_als[rng.permutation(n)[:n_als]] = True
    return pd.DataFrame({
        "subject": [f"S{i + 1:03d}" for i in range(n)],
        "group": np.where(is_als, "ALS", "control"),
        "als": is_als.astype(int),
        "age": np.round(rng.normal(58.0, 10.0, n), 6),
        "sex": rng.choice(["F", "M"], n, p=[0.45, 0.55]),
    })


def _expand(subj: pd.DataFrame, times: list[np.ndarray]) -> pd.DataFrame:
    """Long table: one row per (subject, visit time)."""
    counts = np.array([len(t) for t in times])
    long = subj.loc[np.repeat(np.arange(len(subj)), counts)].reset_index(drop=True)
    long["years"] = np.round(np.concatenate(times), 6)
    return long


def _irregular_times(rng: np.random.Generator, n_visits: np.ndarray) -> list[np.ndarray]:
    """Baseline at 0, then gaps uniform on [0.25, 0.95] years."""
    return [np.concatenate([[0.0], np.cumsum(rng.uniform(0.25, 0.95, k - 1))]) for k in n_visits]


def _wmh_mean(df: pd.DataFrame, slope_als: float = 900.0) -> np.ndarray:
    """Fixed part on the WMH scale (mm3): the paper's ALS excess of ~900 mm3/year."""
    als = df["als"].to_numpy()
    return (1000.0 + 300.0 * als + 60.0 * df["age"].to_numpy()
            + 250.0 * (df["sex"].to_numpy() == "M")
            + (350.0 + slope_als * als) * df["years"].to_numpy())


def _random_part(rng: np.random.Generator, long: pd.DataFrame, n: int, sd0: float, sd1: float,
                 corr: float) -> np.ndarray:
    cov = np.array([[sd0**2, corr * sd0 * sd1], [corr * sd0 * sd1, sd1**2]])
    b = rng.multivariate_normal([0.0, 0.0], cov, size=n)
    idx = long["subject"].str[1:].astype(int).to_numpy() - 1
    return b[idx, 0] + b[idx, 1] * long["years"].to_numpy()


def make_balanced() -> pd.DataFrame:
    rng = np.random.default_rng(20260101)
    n = 439
    subj = _subjects(rng, n, 232)
    long = _expand(subj, [np.array([0.0, 1 / 3, 2 / 3])] * n)
    long["y"] = (_wmh_mean(long) + _random_part(rng, long, n, 1500.0, 500.0, 0.4)
                 + rng.normal(0.0, 200.0, len(long)))
    return long


def make_unbalanced() -> pd.DataFrame:
    rng = np.random.default_rng(20260102)
    n = 300
    subj = _subjects(rng, n, 160)
    long = _expand(subj, _irregular_times(rng, rng.integers(1, 7, n)))
    long["y"] = (_wmh_mean(long) + _random_part(rng, long, n, 1500.0, 300.0, -0.3)
                 + rng.normal(0.0, 250.0, len(long)))
    return long


def _remove_within_slope(long: pd.DataFrame, e: np.ndarray) -> np.ndarray:
    """Project each subject's noise off its centred visit times (keeps the subject mean)."""
    g = long["subject"].to_numpy()
    t = long["years"].to_numpy()
    tc = t - pd.Series(t).groupby(g).transform("mean").to_numpy()
    num = pd.Series(e * tc).groupby(g).transform("sum").to_numpy()
    den = pd.Series(tc * tc).groupby(g).transform("sum").to_numpy()
    return e - np.divide(num, den, out=np.zeros_like(num), where=den > 0) * tc


def make_singular_slope() -> pd.DataFrame:
    rng = np.random.default_rng(20260103)
    n = 200
    subj = _subjects(rng, n, 110)
    long = _expand(subj, _irregular_times(rng, rng.integers(3, 6, n)))
    b0 = rng.normal(0.0, 1500.0, n)[long["subject"].str[1:].astype(int).to_numpy() - 1]
    e = _remove_within_slope(long, rng.normal(0.0, 250.0, len(long)))
    long["y"] = _wmh_mean(long) + b0 + e
    return long


def make_collapse_intercept() -> pd.DataFrame:
    rng = np.random.default_rng(20260104)
    n = 150
    subj = _subjects(rng, n, 80)
    long = _expand(subj, _irregular_times(rng, rng.integers(2, 6, n)))
    e = rng.normal(0.0, 300.0, len(long))
    e -= pd.Series(e).groupby(long["subject"].to_numpy()).transform("mean").to_numpy()
    long["y"] = _wmh_mean(long) + e
    return long


def make_small() -> pd.DataFrame:
    rng = np.random.default_rng(20260105)
    n = 40
    subj = _subjects(rng, n, 20)
    long = _expand(subj, [np.array([0.0, 0.5, 1.0, 1.5])] * n)
    als = long["als"].to_numpy()
    b0 = rng.normal(0.0, 0.05, n)[long["subject"].str[1:].astype(int).to_numpy() - 1]
    long["y"] = (1.0 + 0.04 * als + 0.001 * (long["age"].to_numpy() - 58.0)
                 + (0.005 + 0.02 * als) * long["years"].to_numpy()
                 + b0 + rng.normal(0.0, 0.015, len(long)))
    return long


DATASETS = {
    "balanced": make_balanced,
    "unbalanced": make_unbalanced,
    "singular_slope": make_singular_slope,
    "collapse_intercept": make_collapse_intercept,
    "small": make_small,
}


def main() -> None:
    for name, make in DATASETS.items():
        df = make()
        _write(df, name)
        print(f"{name}: {df['subject'].nunique()} subjects, {len(df)} rows")


if __name__ == "__main__":
    main()

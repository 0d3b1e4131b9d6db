"""A small simulated longitudinal table for examples and doctests (not a cohort simulator)."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["example_data"]


def example_data(n_subjects: int = 60, seed: int = 0) -> pd.DataFrame:
    """A visit table with a random intercept and slope per subject.

    Parameters
    ----------
    n_subjects : int
        Number of subjects (half ALS, half control), three visits each at 0, 1/3 and 2/3 years.
    seed : int
        Seed of :func:`numpy.random.default_rng`.

    Returns
    -------
    pandas.DataFrame
        Columns ``subject, years, group, age, sex, y`` (``y`` is WMH-like, mm3).

    Examples
    --------
    >>> example_data(4).shape
    (12, 6)
    """
    rng = np.random.default_rng(seed)
    subject = np.repeat([f"S{i:03d}" for i in range(n_subjects)], 3)
    years = np.tile([0.0, 1 / 3, 2 / 3], n_subjects)
    als = np.repeat(np.arange(n_subjects) < n_subjects // 2, 3)
    age = np.repeat(rng.normal(60.0, 10.0, n_subjects), 3)
    male = np.repeat(rng.random(n_subjects) < 0.5, 3)
    b0 = np.repeat(rng.normal(0.0, 1500.0, n_subjects), 3)
    b1 = np.repeat(rng.normal(0.0, 250.0, n_subjects), 3)
    y = (4000.0 + 40.0 * (age - 60.0) + 150.0 * male + (300.0 + 900.0 * als + b1) * years + b0
         + rng.normal(0.0, 200.0, subject.size))
    return pd.DataFrame({"subject": subject, "years": years,
                         "group": np.where(als, "ALS", "control"), "age": age.round(1),
                         "sex": np.where(male, "M", "F"), "y": y.round(1)})

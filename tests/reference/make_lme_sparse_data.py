"""Write the simulated data sets of tests/reference/lme_sparse.R (seeded; run from the repo root).

Designs where the general engine factors ``A = Lambda'Z'Z Lambda + I`` sparsely (issue 11):

``crossed.csv``: 300 subjects x 300 items, partially crossed (each subject sees 4 distinct
items drawn at random: 1,200 rows), a subject random intercept and slope on ``x`` and an item
random intercept, fitted as ``y ~ x + (1 + x | subject) + (1 | item)`` and
``y ~ x + (1 | subject) + (1 | item)``.
``nested.csv``: 1,000 subjects x 3 sessions x 2 scans (6,000 rows), ``y ~ x + (1 | subject/
session)``: 3,000 ``session:subject`` levels and 1,000 subjects, a block-diagonal ``A``.
Level names are zero-padded lower case, so every locale sorts them alike.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

OUT = Path(__file__).resolve().parent / "lme_sparse_data"


def crossed(seed: int = 20261201, n_subjects: int = 300, n_items: int = 300,
            per_subject: int = 4) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    subject = np.repeat(np.arange(n_subjects), per_subject)
    item = np.concatenate([rng.choice(n_items, per_subject, replace=False)
                           for _ in range(n_subjects)])
    n = subject.size
    x = np.round(rng.normal(0.0, 1.0, n), 6)
    b0 = rng.normal(0.0, 1.0, n_subjects)
    b1 = rng.normal(0.0, 0.5, n_subjects) + 0.3 * b0
    c0 = rng.normal(0.0, 0.8, n_items)
    y = 2.0 + 0.5 * x + b0[subject] + b1[subject] * x + c0[item] + rng.normal(0.0, 1.0, n)
    return pd.DataFrame({"subject": [f"s{i:03d}" for i in subject],
                         "item": [f"i{j:03d}" for j in item], "x": x, "y": np.round(y, 6)})


def nested(seed: int = 20261202, n_subjects: int = 1000, sessions: int = 3,
           scans: int = 2) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    subject = np.repeat(np.arange(n_subjects), sessions * scans)
    session = np.tile(np.repeat(np.arange(sessions), scans), n_subjects)
    n = subject.size
    x = np.round(rng.normal(0.0, 1.0, n), 6)
    b_subject = rng.normal(0.0, 1.0, n_subjects)
    b_session = rng.normal(0.0, 0.5, (n_subjects, sessions))
    y = 1.0 + 0.3 * x + b_subject[subject] + b_session[subject, session] + rng.normal(0, 0.7, n)
    return pd.DataFrame({"subject": [f"s{i:04d}" for i in subject],
                         "session": [f"v{j}" for j in session], "x": x, "y": np.round(y, 6)})


def main() -> None:
    OUT.mkdir(exist_ok=True)
    crossed().to_csv(OUT / "crossed.csv", index=False)
    nested().to_csv(OUT / "nested.csv", index=False)


if __name__ == "__main__":
    main()

"""Over many simulated cohorts, the 95% CI of the ALS-minus-control WMH rate covers the truth
about 95% of the time (issue 6: between 93% and 97% over 200 cohorts)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from joblib import Parallel, delayed

import alsstats as als

N_COHORTS = 200


def _interval(seed: int) -> tuple[float, float, float]:
    with warnings.catch_warnings():
        # singular fits and the like are part of what is being calibrated here
        warnings.simplefilter("ignore", als.AlsstatsWarning)
        visits = als.simulate_cohort(seed=seed)
        result = als.wmh_progression(visits, random_slope=True)
    row = result.effect.loc["groupALS:years"]
    return row["ci_low"], row["ci_high"], visits.attrs["truth"]["effects"][
        "wmh_slope_als_minus_control"]


@pytest.mark.slow
def test_wmh_rate_ci_coverage_over_200_cohorts():
    # The generator draws subject-specific WMH slopes, so the calibrated model is the one with
    # random slopes; with (1 | subject) alone the coverage measured 92.5% (standard errors of
    # the rate difference ignore the slope variance).
    intervals = np.array(Parallel(n_jobs=2)(delayed(_interval)(10_000 + seed)
                                            for seed in range(N_COHORTS)))
    low, high, truth = intervals.T
    assert np.all(truth == 911.5)
    coverage = np.mean((low <= truth) & (truth <= high))
    assert 0.93 <= coverage <= 0.97, f"coverage {coverage:.3f}"

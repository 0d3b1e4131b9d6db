"""Model inputs that used to give a silent wrong answer (issue 9, items 10 and 13)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import alsstats as als


@pytest.mark.parametrize("cutoff", [np.nan, np.inf, -1.0, "24", None])
def test_survival_groups_refuses_a_cutoff_that_is_not_a_finite_number(cutoff):
    data = pd.DataFrame({"subject": ["a", "b", "c"], "survival_months": [12.0, 30.0, 24.0],
                         "event": [1, 0, 1]})
    with pytest.raises(ValueError, match="cutoff_months must be a finite number"):
        als.survival_groups(data, cutoff_months=cutoff)
    assert als.survival_groups(data, cutoff_months=np.float64(24)).groups.tolist() == [
        "short", "long", "short"]


@pytest.mark.parametrize("kind", ["timedelta", "datetime"])
def test_cox_refuses_dates_or_durations_as_time(kind):
    rng = np.random.default_rng(3)
    days = rng.integers(30, 900, size=40)
    data = pd.DataFrame({"time": days, "event": rng.integers(0, 2, size=40),
                         "age": rng.normal(60, 8, size=40)})
    data["time"] = (pd.to_timedelta(days, unit="D") if kind == "timedelta"
                    else pd.Timestamp("2020-01-01") + pd.to_timedelta(days, unit="D"))
    with pytest.raises(als.DataValidationError, match="'time' holds dates or durations"):
        als.fit_cox(data, "Surv(time, event) ~ age", subject=None)


def test_fit_lme_refuses_a_constant_response_as_lme4():
    visits = als.load_example_cohort().assign(flat=3.5)
    with pytest.raises(als.DataValidationError, match="'flat' is constant"):
        als.fit_lme(visits, "flat ~ group * years + (1 | subject)")
    with pytest.raises(als.DataValidationError, match="constant"):
        als.biomarker_progression(visits.assign(flair_flat=1.0), column="flair_flat")


def test_time_varying_cox_refuses_visit_times_as_durations():
    visits = als.load_example_cohort()
    patients = visits[visits["group"] == "ALS"]
    durations = patients.assign(years=pd.to_timedelta(patients["years"] * 365.25, unit="D"))
    with pytest.raises(als.DataValidationError, match="'years' holds dates or durations"):
        als.fit_cox_time_varying(durations, "Surv(survival_months, event) ~ wmh_mm3 + age")


@pytest.mark.parametrize("value", [np.inf, -np.inf])
def test_cox_refuses_a_non_finite_covariate_naming_it(value):
    rng = np.random.default_rng(5)
    data = pd.DataFrame({"subject": [f"S{i}" for i in range(40)],
                         "time": rng.integers(1, 50, 40).astype(float),
                         "event": rng.integers(0, 2, 40), "x": rng.normal(size=40)})
    data.loc[3, "x"] = value
    # named by the Cox fit or, earlier, by the formula layer: column, subject, what is wrong
    with pytest.raises(als.DataValidationError,
                       match=r"\bx\b.*(is not finite|non-finite).*subject S3"):
        als.fit_cox(data, "Surv(time, event) ~ x")

"""survival_analysis: the recipe gives what the survival functions give when called by hand
(as notebook 02 does), and says who it left out and why."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import alsstats as als


@pytest.fixture(scope="module")
def cohort() -> pd.DataFrame:
    return als.load_example_cohort()


@pytest.fixture(scope="module")
def result(cohort):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", als.UnclassifiedSubjectsWarning)
        return als.survival_analysis(cohort)


@pytest.fixture(scope="module")
def by_hand(cohort):
    """Notebook 02's steps, one function at a time."""
    visits = als.validate_visits(cohort)
    patients = visits[visits["group"] == "ALS"]
    base = als.baseline_values(patients, columns=["wmh_mm3", "age", "sex", "survival_months", "event"])
    base = base.dropna(subset=["wmh_mm3", "survival_months"]).copy()
    median = base["wmh_mm3"].median()
    base["baseline_wmh"] = pd.Categorical(
        ["high" if v > median else "low" for v in base["wmh_mm3"]], categories=["low", "high"])
    base["wmh_per_1000"] = base["wmh_mm3"] / 1000
    formula = "Surv(survival_months, event) ~ wmh_per_1000 + age + sex"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", als.AlsstatsWarning)
        groups = als.survival_groups(visits, cutoff_months=24)
    return {
        "base": base, "median": median, "groups": groups,
        "km": als.kaplan_meier(base, by="baseline_wmh", subject=None),
        "logrank": als.logrank_test(base, by="baseline_wmh", subject=None),
        "cox": als.fit_cox(base, formula, subject=None),
        "breslow": als.fit_cox(base, formula, ties="breslow", subject=None),
        "tv": als.fit_cox_time_varying(
            patients.assign(wmh_per_1000=patients["wmh_mm3"] / 1000), formula),
    }


def test_cox_models_equal_the_direct_fits(result, by_hand):
    pd.testing.assert_frame_equal(result.coefficients, by_hand["cox"].coefficients)
    pd.testing.assert_frame_equal(result.extra["cox_breslow"].coefficients,
                                  by_hand["breslow"].coefficients)
    pd.testing.assert_frame_equal(result.extra["cox_time_varying"].coefficients,
                                  by_hand["tv"].coefficients)
    row = result.effect.loc["wmh_per_1000"]
    direct = by_hand["cox"].coefficients.loc["wmh_per_1000"]
    for column in ["estimate", "std_error", "statistic", "p_value", "ci_low", "ci_high"]:
        assert row[column] == direct[column], column
    assert np.isinf(row["df"])
    assert result.effect.loc["wmh_per_1000 (time-varying)", "estimate"] == \
        by_hand["tv"].coefficients.loc["wmh_per_1000", "estimate"]
    pd.testing.assert_frame_equal(result.extra["proportional_hazards"],
                                  by_hand["cox"].check_proportional_hazards())


def test_kaplan_meier_logrank_and_groups_equal_the_direct_calls(result, by_hand):
    pd.testing.assert_frame_equal(result.extra["kaplan_meier"].table, by_hand["km"].table)
    pd.testing.assert_frame_equal(result.extra["kaplan_meier"].median, by_hand["km"].median)
    assert result.extra["logrank"].statistic == by_hand["logrank"].statistic
    assert result.extra["logrank"].p_value == by_hand["logrank"].p_value
    assert result.extra["median_wmh"] == by_hand["median"]
    groups = result.extra["survival_groups"].groups
    assert len(groups) == 232  # the patients
    pd.testing.assert_series_equal(groups, by_hand["groups"].groups.loc[groups.index])
    counts = result.counts.set_index("group")
    base = by_hand["base"]
    for level in ["low", "high"]:
        mine = base[base["baseline_wmh"] == level]
        assert counts.loc[level, "n_subjects"] == len(mine)
        assert counts.loc[level, "n_events"] == int(mine["event"].sum())
    assert result.method["n_subjects"] == len(base)
    assert result.method["n_events"] == int(base["event"].sum())


def test_method_records_what_the_text_needs(cohort):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", als.AlsstatsWarning)
        result = als.survival_analysis(cohort, cutoff_months=18, ties="breslow", ci_level=0.9)
    method = result.method
    assert method["cutoff_months"] == 18 and method["ties"] == "breslow"
    assert method["ci_level"] == 0.9 and method["ci"].startswith("90%")
    assert "90%" in method["kaplan_meier"] and "Greenwood" in method["kaplan_meier"]
    assert "cox_efron" in result.extra
    assert result.model.method["ties"] == "breslow"
    short = result.extra["survival_groups"].groups
    first = cohort[cohort["group"] == "ALS"].drop_duplicates("subject").set_index("subject")
    expected_short = first[(first["event"] == 1) & (first["survival_months"] <= 18)].index
    assert set(short[short == "short"].index) == set(expected_short)


def test_left_out_patients_are_listed_and_warned(cohort):
    gappy = cohort.copy()
    first_visit = gappy.index[(gappy["group"] == "ALS") & (gappy["years"] == 0)][:3]
    gappy.loc[first_visit, "wmh_mm3"] = np.nan
    who = set(gappy.loc[first_visit, "subject"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = als.survival_analysis(gappy)
    dropped = [str(w.message) for w in caught if w.category is als.DroppedRowsWarning]
    assert any("3 of 232 ALS subjects left out of Kaplan-Meier" in m for m in dropped), dropped
    listed = result.excluded[result.excluded["reason"].str.contains("baseline")]
    assert set(listed["subject"]) == who
    assert result.method["n_subjects"] == 229
    # the time-varying model still uses their later visits
    assert who <= set(result.extra["cox_time_varying"].intervals["subject"])


def test_no_events_refused(cohort):
    alive = cohort.assign(event=cohort["event"].where(cohort["event"].isna(), 0.0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", als.AlsstatsWarning)
        with pytest.raises(als.DataValidationError, match="no events"):
            als.survival_analysis(alive)

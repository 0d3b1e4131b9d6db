"""The analyses' vocabulary (CONTRACT.md): ``data`` first, keyword-only after it, and the
table's own column names for subject, visit time, diagnosis and survival — really used:
a cohort with renamed columns gives the same numbers, under terms named after its columns."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest

import alsstats as als

RENAMED = {"subject": "id", "years": "t", "group": "dx", "survival_months": "stime",
           "event": "died"}
NAMES = {"subject": "id", "visit_time": "t", "diagnosis": "dx"}
SURVIVAL_NAMES = {**NAMES, "survival_time": "stime", "event": "died"}
NUMBERS = ["estimate", "std_error", "df", "statistic", "p_value", "ci_low", "ci_high"]


@pytest.fixture(scope="module")
def cohort() -> pd.DataFrame:
    return als.load_example_cohort()


@pytest.fixture(scope="module")
def renamed(cohort) -> pd.DataFrame:
    # A bystander 'group' column that is not the diagnosis: if an analysis read 'group'
    # instead of `diagnosis`, it would see every subject as ALS (or fail validation).
    table = cohort.rename(columns=RENAMED)
    table["group"] = "ALS"
    return table


def _term(name: str) -> str:
    return (name.replace("groupALS", "dxALS").replace(":years", ":t")
            .replace("years", "t") if name != "years" else "t")


def _same_numbers(ours: pd.DataFrame, theirs: pd.DataFrame) -> None:
    assert [_term(t) for t in ours.index] == list(theirs.index)
    np.testing.assert_allclose(theirs[NUMBERS].to_numpy(float), ours[NUMBERS].to_numpy(float),
                               rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize(("analysis", "kwargs", "names"), [
    ("wmh_progression", {}, NAMES),
    ("wmh_progression", {"random_slope": True}, NAMES),
    ("biomarker_progression", {"column": "flair_cc"}, NAMES),
    ("flair_progression", {"roi": "flair_cst", "adjust": "holm"}, NAMES),
    ("survival_group_progression", {"cutoff_months": 18}, SURVIVAL_NAMES),
    ("alsfrs_vs_wmh", {}, SURVIVAL_NAMES),
    ("wmh_survival_joint", {}, SURVIVAL_NAMES),
    ("survival_analysis", {}, SURVIVAL_NAMES),
])
def test_renamed_columns_give_identical_numbers(cohort, renamed, analysis, kwargs, names):
    run = getattr(als, analysis)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", als.UnclassifiedSubjectsWarning)
        warnings.simplefilter("ignore", als.DroppedRowsWarning)
        ours = run(cohort, **kwargs)
        theirs = run(renamed, **kwargs, **names)
    _same_numbers(ours.effect, theirs.effect)
    pd.testing.assert_frame_equal(ours.counts, theirs.counts)
    assert ours.excluded["subject"].tolist() == theirs.excluded["subject"].tolist()
    formula = str(theirs.method["formula"])
    assert not re.search(r"\b(subject|years|group|survival_months|event)\b", formula), formula
    if analysis != "survival_analysis":
        assert "| id)" in formula, formula
    if analysis in ("survival_analysis", "wmh_survival_joint"):
        assert "Surv(stime" in formula and "died)" in formula, formula


@pytest.mark.filterwarnings("ignore::alsstats.SingularFitWarning")
def test_renamed_columns_two_stage_and_classifier(cohort, renamed):
    ours = als.flair_vs_alsfrs(cohort, roi="flair_cst")
    theirs = als.flair_vs_alsfrs(renamed, roi="flair_cst", **NAMES)
    np.testing.assert_allclose(theirs.effect[NUMBERS].to_numpy(float),
                               ours.effect[NUMBERS].to_numpy(float), rtol=1e-9)
    ours = als.phenotype_classifier(cohort, n_bootstrap=50)
    theirs = als.phenotype_classifier(renamed, n_bootstrap=50, **NAMES)
    pd.testing.assert_frame_equal(ours.effect, theirs.effect)


def test_renamed_trajectories_and_exclusions_use_the_tables_names(cohort, renamed):
    gappy = renamed.copy()
    gappy.loc[gappy.index[:2], "wmh_mm3"] = np.nan
    with pytest.warns(als.DroppedRowsWarning, match="wmh_mm3: 2"):
        result = als.wmh_progression(gappy, **NAMES)
    assert {"t", "dx"} <= set(result.fit.columns) and "years" not in result.fit.columns
    assert len(result.excluded) >= 1
    partly = result.excluded["reason"][~result.excluded["reason"].str.startswith("all")]
    assert partly.str.contains(r" visits \(t 0").all() and len(partly), result.excluded
    assert "dxALS:t" in result.effect.index


def test_a_name_not_in_the_table_is_named(cohort):
    with pytest.raises(als.DataValidationError, match="'visit' \\(named as the visit_time"):
        als.wmh_progression(cohort, visit_time="visit")


def test_validation_problems_name_the_tables_columns(renamed):
    bad = renamed.copy()
    bad.loc[bad.index[0], "t"] = -1.0
    with pytest.raises(als.DataValidationError, match="column 't'"):
        als.wmh_progression(bad, **NAMES)


def test_diagnosis_column_selects_the_patients(cohort):
    # Calling every subject a control in a bystander column changes nothing; calling them
    # controls in the diagnosis column leaves no patients.
    relabelled = cohort.rename(columns={"group": "dx"}).assign(group="control")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", als.UnclassifiedSubjectsWarning)
        ours = als.alsfrs_vs_wmh(cohort, cutoff_months=None)
        theirs = als.alsfrs_vs_wmh(relabelled, cutoff_months=None, diagnosis="dx")
    assert theirs.effect.loc["wmh_mm3", "estimate"] == ours.effect.loc["wmh_mm3", "estimate"]
    with pytest.raises(als.DataValidationError, match="no ALS subjects"):
        als.survival_analysis(cohort.assign(group="control"))


# ------------------------------------------------------------------ one release of grace


def test_visits_keyword_still_works_with_a_warning(cohort):
    new = als.wmh_progression(cohort)
    with pytest.warns(als.AlsstatsDeprecationWarning, match="visits= is deprecated"):
        old = als.wmh_progression(visits=cohort)
    pd.testing.assert_frame_equal(old.effect, new.effect)


@pytest.mark.parametrize(("analysis", "name", "value"), [
    ("flair_progression", "roi", "flair_cc"),
    ("biomarker_progression", "column", "flair_cc"),
])
def test_formerly_positional_arguments_warn_and_agree(cohort, analysis, name, value):
    run = getattr(als, analysis)
    new = run(cohort, **{name: value})
    with pytest.warns(als.AlsstatsDeprecationWarning, match=f"passing {name} by position"):
        old = run(cohort, value)
    pd.testing.assert_frame_equal(old.effect, new.effect)


@pytest.mark.filterwarnings("ignore::alsstats.SingularFitWarning")
def test_flair_vs_alsfrs_positional_roi_warns_and_agrees(cohort):
    new = als.flair_vs_alsfrs(cohort, roi="flair_cc", outcomes=("alsfrs_r",))
    with pytest.warns(als.AlsstatsDeprecationWarning, match="passing roi by position"):
        old = als.flair_vs_alsfrs(cohort, "flair_cc", outcomes=("alsfrs_r",))
    pd.testing.assert_frame_equal(old.effect, new.effect)


def test_keyword_only_after_data(cohort):
    with pytest.raises(TypeError):
        als.wmh_progression(cohort, False)
    with pytest.raises(TypeError):
        als.survival_analysis(cohort, 24)


def test_ci_level_reaches_every_interval(cohort):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", als.AlsstatsWarning)
        wide = als.survival_analysis(cohort)
        narrow = als.survival_analysis(cohort, ci_level=0.8)
        wmh = als.wmh_progression(cohort, ci_level=0.8)
    half = (wide.effect["ci_high"] - wide.effect["ci_low"]) / 2
    half_narrow = (narrow.effect["ci_high"] - narrow.effect["ci_low"]) / 2
    from scipy import stats

    np.testing.assert_allclose(half_narrow / half, stats.norm.ppf(0.9) / stats.norm.ppf(0.975),
                               rtol=1e-9)
    assert narrow.method["ci_level"] == 0.8 and "80%" in narrow.method["ci"]
    assert "80%" in narrow.method["kaplan_meier"]
    assert wmh.model.ci_level == 0.8 and wmh.method["ci_level"] == 0.8

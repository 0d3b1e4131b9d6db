"""alsstats.survival: survival groups, bad input, intervals, subject-level helpers."""

from __future__ import annotations

import doctest
import importlib

import numpy as np
import pandas as pd
import pytest

from alsstats.errors import (
    ConvergenceWarning,
    DataValidationError,
    DroppedRowsWarning,
    FormulaError,
    RankDeficiencyWarning,
    UnclassifiedSubjectsWarning,
)
from alsstats.survival import (
    baseline_values,
    fit_cox,
    fit_cox_time_varying,
    kaplan_meier,
    logrank_test,
    subject_slopes,
    survival_groups,
    time_varying_intervals,
)

F = "Surv(survival_months, event) ~ wmh_base + age"


def subjects(n: int = 60, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    wmh = rng.gamma(2.0, 2000.0, n)
    age = rng.normal(60, 8, n)
    death = rng.exponential(25 * np.exp(-0.0002 * (wmh - 4000)))
    cens = rng.uniform(5, 50, n)
    return pd.DataFrame({
        "subject": [f"P{i:02d}" for i in range(n)], "wmh_base": wmh.round(1),
        "age": age.round(1), "sex": rng.choice(["F", "M"], n),
        "survival_months": np.maximum(np.floor(np.minimum(death, cens)), 1.0),
        "event": (death <= cens).astype(int),
    })


def visits_from(subj: pd.DataFrame) -> pd.DataFrame:
    """A visit table: every 6 months strictly before each subject's survival time."""
    reps = np.minimum(np.ceil(subj["survival_months"] / 6).astype(int), 4)
    v = subj.loc[subj.index.repeat(reps)].copy()
    v["years"] = v.groupby("subject").cumcount() * 0.5
    v["wmh_mm3"] = v["wmh_base"] + 800 * v["years"]
    return v.reset_index(drop=True)


# --- survival groups -----------------------------------------------------------------------

GROUPS = pd.DataFrame({
    "subject": ["a", "b", "c", "d", "e", "f", "g"],
    "group": ["ALS", "ALS", "ALS", "ALS", "ALS", "control", "ALS"],
    "survival_months": [24, 24, 25, 30, 6, np.nan, np.nan],
    "event": [1, 0, 0, 1, 0, np.nan, np.nan],
})


def test_survival_groups_edges_counts_and_warning():
    with pytest.warns(UnclassifiedSubjectsWarning, match=r"3 of 6 patients.*2 censored.*1 with"):
        res = survival_groups(GROUPS)
    g = res.groups
    assert g["a"] == "short"  # event at exactly the cut-off
    assert pd.isna(g["b"])  # censored at exactly the cut-off: not followed beyond it
    assert g["c"] == "long" and g["d"] == "long"
    assert pd.isna(g["e"]) and pd.isna(g["f"]) and pd.isna(g["g"])
    counts = dict(zip(res.counts["survival_group"], res.counts["n_subjects"], strict=True))
    assert counts == {"short": 1, "long": 2, "unclassified": 3, "control": 1}
    reasons = dict(zip(res.excluded["subject"], res.excluded["reason"], strict=True))
    assert reasons["b"].startswith("censored") and reasons["e"].startswith("censored")
    assert reasons["f"] == "control" and reasons["g"] == "survival time or event missing"
    assert list(g.cat.categories) == ["short", "long"]


def test_survival_groups_visit_table_and_no_warning_when_all_classified():
    v = pd.DataFrame({"subject": ["a", "a", "b"], "years": [0, 1, 0], "group": "ALS",
                      "survival_months": [10, 10, 40], "event": [1, 1, 0]})
    before = v.copy()
    res = survival_groups(v, cutoff_months=24)
    assert res.groups.to_dict() == {"a": "short", "b": "long"}
    pd.testing.assert_frame_equal(v, before)
    assert survival_groups(v, cutoff_months=5).groups["a"] == "long"


def test_survival_groups_subject_level_column_varies():
    v = pd.DataFrame({"subject": ["a", "a", "b"], "survival_months": [10, 12, 40],
                      "event": [1, 1, 0]})
    with pytest.raises(DataValidationError, match="survival_months.*subject a"):
        survival_groups(v)


# --- bad input -----------------------------------------------------------------------------

def test_negative_times_name_the_subject():
    d = subjects()
    d.loc[4, "survival_months"] = -3
    for call in (lambda: fit_cox(d, F), lambda: kaplan_meier(d),
                 lambda: logrank_test(d, by="sex"), lambda: survival_groups(d)):
        with pytest.raises(DataValidationError, match="negative.*subject P04"):
            call()


def test_event_not_zero_one():
    d = subjects()
    d.loc[7, "event"] = 2
    with pytest.raises(DataValidationError,
                       match=r"fit_cox: column 'event' must be 0 .*subject P07 = 2"):
        fit_cox(d, F)
    with pytest.raises(DataValidationError, match="must be 0"):
        kaplan_meier(d)


def test_subject_with_two_survival_times():
    d = subjects()
    two = pd.concat([d, d.iloc[[5]].assign(survival_months=99)], ignore_index=True)
    for call in (lambda: fit_cox(two, F), lambda: kaplan_meier(two),
                 lambda: logrank_test(two, by="sex")):
        with pytest.raises(DataValidationError, match="survival_months.*varies.*subject P05"):
            call()


def test_no_events():
    d = subjects().assign(event=0)
    with pytest.raises(DataValidationError, match="no events"):
        fit_cox(d, F)
    with pytest.raises(DataValidationError, match="no events"):
        logrank_test(d, by="sex")
    km = kaplan_meier(d)  # defined: flat at 1, median not reached
    assert (km.table["survival"] == 1).all() and np.isnan(km.median["median"].iloc[0])


def test_missing_values_are_dropped_with_counts():
    d = subjects()
    d.loc[[1, 2], "wmh_base"] = np.nan
    d.loc[3, "survival_months"] = np.nan
    with pytest.warns(DroppedRowsWarning, match=r"left out 3 of 60 .*'wmh_base': 2"):
        fit = fit_cox(d, F)
    assert fit.n == 57
    ref = fit_cox(d.dropna(), F)
    np.testing.assert_allclose(fit.coefficients["estimate"], ref.coefficients["estimate"])


def test_formula_and_argument_errors():
    d = subjects()
    with pytest.raises(FormulaError, match="Surv"):
        fit_cox(d, "survival_months ~ age")
    with pytest.raises(DataValidationError, match="column 'time' is missing"):
        fit_cox(d, "Surv(time, event) ~ age")
    with pytest.raises(FormulaError, match="nonexistent"):
        fit_cox(d, "Surv(survival_months, event) ~ nonexistent")
    with pytest.raises(ValueError, match="ties"):
        fit_cox(d, F, ties="exact")
    with pytest.raises(ValueError, match="conf_type"):
        kaplan_meier(d, conf_type="logit")
    with pytest.raises(DataValidationError, match="two or more"):
        logrank_test(d.assign(sex="F"), by="sex")


def test_constant_covariate_warns_and_is_left_out():
    d = subjects().assign(site=1.0)
    with pytest.warns(RankDeficiencyWarning, match="site"):
        fit = fit_cox(d, F + " + site")
    assert list(fit.coefficients.index) == ["wmh_base", "age"]
    np.testing.assert_allclose(fit.coefficients["estimate"],
                               fit_cox(d, F).coefficients["estimate"], rtol=1e-10)


def test_separating_covariate_warns():
    d = subjects()
    d["marker"] = d["event"] * 10.0
    with pytest.warns(ConvergenceWarning):
        fit_cox(d, "Surv(survival_months, event) ~ marker")


def test_input_not_modified_and_visit_table_collapses():
    d = subjects()
    v = visits_from(d)
    before = v.copy()
    fit_v = fit_cox(v, F + " + sex")
    pd.testing.assert_frame_equal(v, before)
    fit_s = fit_cox(d, F + " + sex")
    np.testing.assert_allclose(fit_v.coefficients["estimate"], fit_s.coefficients["estimate"],
                               rtol=1e-12)
    assert fit_v.n == len(d)


def test_breslow_agrees_with_statsmodels_phreg():
    import statsmodels.api as sm

    d = subjects()
    ours = fit_cox(d, F, ties="breslow")
    ph = sm.PHReg(d["survival_months"], d[["wmh_base", "age"]], status=d["event"],
                  ties="breslow").fit()
    np.testing.assert_allclose(ours.coefficients["estimate"], ph.params, rtol=1e-6)
    np.testing.assert_allclose(ours.coefficients["std_error"], ph.bse, rtol=1e-6)


def test_factor_reference_level_follows_categorical_order():
    d = subjects()
    d["sex"] = pd.Categorical(d["sex"], categories=["M", "F"])
    fit = fit_cox(d, F + " + sex")
    assert "sexF" in fit.coefficients.index
    plain = fit_cox(d.assign(sex=d["sex"].astype(str)), F + " + sex")
    assert fit.coefficients.loc["sexF", "estimate"] == pytest.approx(
        -plain.coefficients.loc["sexM", "estimate"], rel=1e-8)


# --- time-varying --------------------------------------------------------------------------

def test_intervals_by_hand_and_late_visits_warned():
    v = pd.DataFrame({
        "subject": ["a", "a", "a", "b", "b"], "years": [0.0, 0.5, 2.0, 0.0, 1.0],
        "wmh_mm3": [100.0, np.nan, 400.0, 50.0, 60.0],
        "survival_months": [18, 18, 18, 12, 12], "event": [1, 1, 1, 0, 0],
    })
    with pytest.warns(DroppedRowsWarning) as rec:
        iv = time_varying_intervals(v, covariates=["wmh_mm3"])
    messages = " ".join(str(w.message) for w in rec)
    assert "2 visits at or after" in messages  # a at 24 months, b at 12 months
    assert "1 missing covariate values were carried forward" in messages
    assert iv[["start", "stop", "event", "wmh_mm3"]].to_numpy().tolist() == [
        [0.0, 6.0, 0, 100.0], [6.0, 18.0, 1, 100.0], [0.0, 12.0, 0, 50.0]]


def test_time_varying_with_constant_covariates_equals_fit_cox():
    # splitting follow-up at visits does not change the partial likelihood
    d = subjects()
    v = visits_from(d)
    tv = fit_cox_time_varying(v, F)
    fixed = fit_cox(d, F)
    np.testing.assert_allclose(tv.coefficients["estimate"], fixed.coefficients["estimate"],
                               rtol=1e-9)
    np.testing.assert_allclose(tv.coefficients["std_error"], fixed.coefficients["std_error"],
                               rtol=1e-9)
    assert tv.loglik == pytest.approx(fixed.loglik, rel=1e-12)
    assert tv.n == len(v) and tv.n_subjects == len(d)


def test_counting_process_formula_matches_time_varying():
    v = visits_from(subjects())
    tv = fit_cox_time_varying(v, "Surv(survival_months, event) ~ wmh_mm3 + age",
                              ties="breslow")
    direct = fit_cox(tv.intervals, "Surv(start, stop, event) ~ wmh_mm3 + age", ties="breslow")
    np.testing.assert_allclose(direct.coefficients["estimate"], tv.coefficients["estimate"])


# --- subject-level helpers -----------------------------------------------------------------

def test_baseline_values_takes_first_visit():
    v = pd.DataFrame({"subject": ["a", "a", "b", "b"], "years": [1.0, 0.0, 0.5, 0.0],
                      "wmh_mm3": [300.0, 100.0, 70.0, np.nan]})
    base = baseline_values(v, columns=["wmh_mm3"])
    assert base["subject"].tolist() == ["a", "b"]
    assert base["wmh_mm3"].iloc[0] == 100.0 and np.isnan(base["wmh_mm3"].iloc[1])


def test_subject_slopes_from_fit_lme_and_two_stage_cox():
    from alsstats.lme import fit_lme

    rng = np.random.default_rng(11)
    rows = []
    for i in range(40):
        grp = "ALS" if i < 28 else "control"
        b0, b1 = rng.normal(0, 400), rng.normal(0, 150)
        for y in (0.0, 1.0, 2.0):
            rows.append({"subject": f"s{i:02d}", "years": y, "group": grp,
                         "wmh_mm3": 3000 + b0 + (500 + 300 * (grp == "ALS") + b1) * y
                         + rng.normal(0, 60)})
    data = pd.DataFrame(rows)
    fit = fit_lme(data, "wmh_mm3 ~ group * years + (1 + years | subject)")
    slopes = subject_slopes(fit, data)
    # independent check: the subject's fitted line rises by its slope per year
    grid = data.drop_duplicates("subject")[["subject", "group"]]
    at0 = fit.predict(grid.assign(years=0.0))
    at1 = fit.predict(grid.assign(years=1.0))
    expected = pd.Series(at1 - at0, index=grid["subject"].to_numpy())
    np.testing.assert_allclose(slopes.loc[expected.index, "slope"], expected, rtol=1e-10)
    np.testing.assert_allclose(slopes["blup"], fit.random_effects["years"])
    # the slope enters a Cox model as a subject-level covariate
    surv = pd.DataFrame({"subject": slopes.index, "slope": slopes["slope"].to_numpy()})
    surv["survival_months"] = np.floor(rng.exponential(30 * np.exp(-surv["slope"] / 1000)) + 1)
    surv["event"] = 1
    cox = fit_cox(surv, "Surv(survival_months, event) ~ slope")
    assert cox.n == 40 and np.isfinite(cox.coefficients.loc["slope", "std_error"])


def test_subject_slopes_needs_random_slope():
    class Fit:
        random_effects = pd.DataFrame({"Intercept": [1.0]}, index=["a"])
        coefficients = pd.DataFrame({"estimate": [1.0]}, index=["Intercept"])

    with pytest.raises(DataValidationError, match="no random slope"):
        subject_slopes(Fit())


@pytest.mark.parametrize("module", ["cox", "km", "logrank", "groups", "timevarying",
                                    "subject"])
def test_docstring_examples_run(module):
    mod = importlib.import_module(f"alsstats.survival.{module}")
    result = doctest.testmod(mod, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def test_kaplan_meier_tables_keep_group_order():
    data = pd.DataFrame({"subject": list("abcdef"), "survival_months": [5, 8, 12, 3, 9, 20],
                         "event": [1, 0, 1, 1, 1, 0],
                         "wmh": pd.Categorical(["low", "high"] * 3, categories=["low", "high"])})
    km = kaplan_meier(data, by="wmh")
    assert km.table["group"].cat.categories.tolist() == ["low", "high"]
    assert km.median["group"].tolist() == ["low", "high"]

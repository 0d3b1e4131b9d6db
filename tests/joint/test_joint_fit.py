"""fit_joint's input checks, result shape, score and predictions (no R needed)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import alsstats as als
from alsstats.joint.design import build_joint
from alsstats.joint.fit import _lme_start

LONG = "wmh_mm3 ~ years + age + sex + (1 + years | subject)"
SURV = "Surv(survival_months / 12, event) ~ age + sex"


@pytest.fixture(scope="module")
def cohort() -> pd.DataFrame:
    visits = als.load_example_cohort()
    out = visits[visits["group"] == "ALS"].copy()
    out["wmh_cm3"] = out["wmh_mm3"] / 1000
    return out


@pytest.fixture(scope="module")
def fit(cohort):
    return als.fit_joint(cohort, LONG.replace("wmh_mm3", "wmh_cm3"), SURV)


def test_result_tables(fit, cohort):
    assert list(fit.longitudinal.index) == ["Intercept", "years", "age", "sexM"]
    assert list(fit.survival.index) == ["age", "sexM", "value"]
    assert list(fit.baseline.index) == ["intercept", "log_shape"]
    assert list(fit.longitudinal.columns) == ["estimate", "std_error", "statistic", "p_value",
                                              "ci_low", "ci_high"]
    np.testing.assert_allclose(fit.survival["hazard_ratio"], np.exp(fit.survival["estimate"]))
    assert fit.n_subjects == cohort["subject"].nunique()
    assert fit.n_events == int(cohort.groupby("subject")["event"].first().sum())
    assert fit.method["method"] == "weibull-PH-aGH" and fit.method["converged"]
    assert list(fit.varcorr["term"]) == ["Intercept", "years", ""]
    assert fit.varcorr["std_dev"].iloc[-1] == pytest.approx(fit.residual_sd)
    assert "Event process" in fit.summary().text
    assert np.all(np.linalg.eigvalsh(fit.vcov.to_numpy()) > 0)


def test_score_is_the_gradient():
    """The analytic score equals central differences of the log-likelihood, away from the
    optimum too, for every association and baseline."""
    rng = np.random.default_rng(3)
    visits = als.load_example_cohort()
    visits = visits[visits["group"] == "ALS"].assign(wmh_cm3=lambda d: d["wmh_mm3"] / 1000)
    for assoc in ("value", "slope", "value+slope"):
        for baseline in ("weibull", "piecewise"):
            jd = build_joint(visits, LONG.replace("wmh_mm3", "wmh_cm3"), SURV, "years", assoc,
                             baseline, "subject", 3, _lme_start)
            pr = jd.problem
            theta = 0.1 * rng.standard_normal(pr.n_params)
            theta[pr.layout["beta"]] += jd.lme_start["beta"]
            ll, grad = pr.loglik_and_gradient(theta)
            assert ll == pytest.approx(pr.loglik(theta), rel=1e-12)
            num = np.empty_like(grad)
            for j in range(len(theta)):
                h = 1e-6 * max(1, abs(theta[j]))
                e = np.zeros_like(theta)
                e[j] = h
                num[j] = (pr.loglik(theta + e) - pr.loglik(theta - e)) / (2 * h)
            np.testing.assert_allclose(grad, num, rtol=1e-5, atol=1e-4 * np.abs(grad).max())


def test_surv_expression_equals_precomputed_column(cohort, fit):
    pre = cohort.assign(survival_years=cohort["survival_months"] / 12)
    other = als.fit_joint(pre, LONG.replace("wmh_mm3", "wmh_cm3"),
                          "Surv(survival_years, event) ~ age + sex")
    assert other.loglik == pytest.approx(fit.loglik, abs=1e-9)


def test_surv_event_expression(cohort, fit):
    other = als.fit_joint(cohort.assign(status=cohort["event"] + 1),
                          LONG.replace("wmh_mm3", "wmh_cm3"),
                          "Surv(survival_months / 12, status == 2) ~ age + sex")
    assert other.loglik == pytest.approx(fit.loglik, abs=1e-9)


def test_predictions_first_order_and_monte_carlo(fit, cohort):
    subject = cohort[cohort["subject"] == cohort["subject"].iloc[0]]
    times = np.linspace(0, 5, 21)
    first = fit.predict_survival(subject, times)
    assert (first["time"] > subject["years"].max()).all()
    assert first["survival"].is_monotonic_decreasing
    assert ((first["survival"] > 0) & (first["survival"] <= 1)).all()
    mc = fit.predict_survival(subject, times, interval=True, n_draws=100, seed=7)
    again = fit.predict_survival(subject, times, interval=True, n_draws=100, seed=7)
    pd.testing.assert_frame_equal(mc, again)
    assert (mc["lower"] <= mc["median"]).all() and (mc["median"] <= mc["upper"]).all()
    assert 0 < mc["acceptance"].iloc[0] <= 1


def _bad(cohort, **changes):
    out = cohort.copy()
    for (subject, column), value in changes.items():
        out.loc[out["subject"] == subject, column] = value
    return out


def test_subject_without_visits(cohort):
    bad = cohort.copy()
    first = bad["subject"].iloc[0]
    bad.loc[bad["subject"] == first, "wmh_cm3"] = np.nan
    with pytest.warns(als.DroppedRowsWarning), pytest.raises(als.DataValidationError,
                                                             match=f"{first}.*wmh_cm3"):
        als.fit_joint(bad, LONG.replace("wmh_mm3", "wmh_cm3"), SURV)


def test_visit_after_event(cohort):
    bad = cohort.copy()
    first = bad["subject"].iloc[0]
    bad.loc[bad["subject"] == first, "survival_months"] = 1.0
    with pytest.raises(als.DataValidationError, match=f"'years'.*{first}"):
        als.fit_joint(bad, LONG.replace("wmh_mm3", "wmh_cm3"), SURV)


def test_survival_varying_within_subject(cohort):
    bad = cohort.copy()
    first = bad["subject"].iloc[0]
    rows = bad.index[bad["subject"] == first]
    bad.loc[rows[-1], "event"] = 1 - bad.loc[rows[0], "event"]
    with pytest.raises(als.DataValidationError, match=f"'event' varies.*{first}"):
        als.fit_joint(bad, LONG.replace("wmh_mm3", "wmh_cm3"), SURV)


def test_missing_survival_covariate(cohort):
    bad = cohort.copy()
    first = bad["subject"].iloc[0]
    bad.loc[bad["subject"] == first, "sex"] = None
    with pytest.raises(als.DataValidationError, match=f"covariate 'sex' is missing.*{first}"):
        als.fit_joint(bad, LONG.replace("wmh_mm3", "wmh_cm3").replace(" + sex", ""), SURV)


def test_no_events(cohort):
    bad = cohort.assign(event=0.0)
    with pytest.raises(als.DataValidationError, match="'event' is 0 for every subject"):
        als.fit_joint(bad, LONG.replace("wmh_mm3", "wmh_cm3"), SURV)


def test_bad_arguments(cohort):
    with pytest.raises(ValueError, match="association"):
        als.fit_joint(cohort, LONG, SURV, association="lag")
    with pytest.raises(als.FormulaError, match="Surv"):
        als.fit_joint(cohort, LONG, "Surv(__import__('os').getcwd(), event) ~ age")
    with pytest.raises(als.FormulaError, match="subject"):
        als.fit_joint(cohort.assign(site2=cohort["site"]), LONG.replace("| subject", "| site2"),
                      SURV)


def test_slope_association_needs_a_varying_slope(cohort):
    with pytest.raises(als.FormulaError, match="random slope"):
        als.fit_joint(cohort, "wmh_cm3 ~ years + age + (1 | subject)", SURV,
                      association="value+slope")


def test_input_not_modified(cohort):
    before = cohort.copy()
    als.fit_joint(cohort, LONG.replace("wmh_mm3", "wmh_cm3"), SURV, baseline="piecewise",
                  association="value+slope")
    pd.testing.assert_frame_equal(cohort, before)

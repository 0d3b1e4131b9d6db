"""alsstats.survival against R survival 3.5-3 (tests/reference/survival.R -> survival.json).

Data: tests/reference/survival_data/ (make_survival_data.py, fixed seed): 150 patients with
whole-month survival times (43 distinct times, heavy ties) censored before and after 24
months, and a visit table for the time-varying model.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alsstats.errors import DroppedRowsWarning
from alsstats.survival import (
    fit_cox,
    fit_cox_time_varying,
    kaplan_meier,
    logrank_test,
    time_varying_intervals,
)

REF = Path(__file__).parent / "reference"
R = json.loads((REF / "survival.json").read_text())
DATA = REF / "survival_data"
SUBJECTS = pd.read_csv(DATA / "subjects.csv")
VISITS = pd.read_csv(DATA / "visits.csv")

RTOL_COEF = 1e-5  # estimates and standard errors, relative
RTOL_P = 1e-6  # p-values and chi-square statistics, relative
F3 = "Surv(survival_months, event) ~ wmh_base + age + sex"

COX_CASES = {
    "efron": dict(formula=F3),
    "breslow": dict(formula=F3, ties="breslow"),
    "efron_site": dict(formula=F3 + " + site"),
    "breslow_site": dict(formula=F3 + " + site", ties="breslow"),
    "efron_strata": dict(formula=F3, strata="site"),
    "breslow_strata": dict(formula=F3 + " + strata(site)", ties="breslow"),
    "efron_robust": dict(formula=F3, robust=True),
    "breslow_robust": dict(formula=F3, ties="breslow", robust=True),
}
TV_CASES = {
    "tv_efron": dict(),
    "tv_breslow": dict(ties="breslow"),
    "tv_efron_robust": dict(robust=True),
}


def test_reference_versions():
    assert R["survival_version"] == "3.5.3"


def _check_cox(fit, ref):
    coef = fit.coefficients
    assert list(coef.index) == ref["term"]
    se_ref = np.array(ref.get("robust_se", ref["std_error"]))
    np.testing.assert_allclose(coef["estimate"], ref["estimate"], rtol=RTOL_COEF)
    np.testing.assert_allclose(coef["std_error"], se_ref, rtol=RTOL_COEF)
    np.testing.assert_allclose(coef["statistic"], ref["statistic"], rtol=RTOL_COEF)
    np.testing.assert_allclose(coef["p_value"], ref["p_value"], rtol=RTOL_P)
    np.testing.assert_allclose(coef["ci_low"], ref["ci_low"], rtol=RTOL_COEF)
    np.testing.assert_allclose(coef["ci_high"], ref["ci_high"], rtol=RTOL_COEF)
    np.testing.assert_allclose(coef["hazard_ratio"], np.exp(ref["estimate"]), rtol=RTOL_COEF)
    if "naive_se" in ref:
        np.testing.assert_allclose(coef["naive_std_error"], ref["naive_se"], rtol=RTOL_COEF)
    np.testing.assert_allclose([fit.loglik_null, fit.loglik], ref["loglik"], rtol=1e-10)
    np.testing.assert_allclose(
        fit.tests["statistic"], [ref["lr_test"], ref["wald_test"], ref["score_test"]],
        rtol=RTOL_P)
    assert list(fit.tests["df"]) == [ref["df"]] * 3
    assert fit.concordance == pytest.approx(ref["concordance"], abs=1e-12)
    assert (fit.n, fit.n_events) == (ref["n"], ref["n_events"])
    zph = fit.check_proportional_hazards()
    assert list(zph["term"]) == ref["zph_term"]
    np.testing.assert_allclose(zph["statistic"], ref["zph_chisq"], rtol=RTOL_P)
    np.testing.assert_array_equal(zph["df"], ref["zph_df"])
    np.testing.assert_allclose(zph["p_value"], ref["zph_p"], rtol=RTOL_P)


@pytest.mark.parametrize("case", sorted(COX_CASES))
def test_cox_matches_r(case):
    kwargs = dict(COX_CASES[case])
    formula = kwargs.pop("formula")
    fit = fit_cox(SUBJECTS, formula, **kwargs)
    _check_cox(fit, R["cox"][case])
    assert fit.ties == ("breslow" if "breslow" in case else "efron")


def test_intervals_match_tmerge():
    ours = time_varying_intervals(VISITS, covariates=["wmh_mm3"])
    ref = pd.DataFrame(R["tv_intervals"]).sort_values(["subject", "start"], kind="stable")
    ref = ref.reset_index(drop=True)
    assert list(ours["subject"]) == list(ref["subject"])
    for col in ["start", "stop", "event", "wmh_mm3"]:
        np.testing.assert_array_equal(ours[col].to_numpy(float), ref[col].to_numpy(float))


@pytest.mark.parametrize("case", sorted(TV_CASES))
def test_time_varying_cox_matches_r(case):
    fit = fit_cox_time_varying(VISITS, "Surv(survival_months, event) ~ wmh_mm3 + age + sex",
                               **TV_CASES[case])
    _check_cox(fit, R["cox"][case])
    assert fit.n_subjects == SUBJECTS["subject"].nunique()
    assert len(fit.intervals) == fit.n


def test_time_varying_agrees_with_lifelines_efron():
    from lifelines import CoxTimeVaryingFitter

    iv = time_varying_intervals(VISITS, covariates=["wmh_mm3", "age", "sex"])
    iv["sexM"] = (iv["sex"] == "M").astype(float)
    ctv = CoxTimeVaryingFitter()
    ctv.fit(iv[["subject", "start", "stop", "event", "wmh_mm3", "age", "sexM"]],
            id_col="subject", start_col="start", stop_col="stop", event_col="event")
    ours = fit_cox_time_varying(VISITS, "Surv(survival_months, event) ~ wmh_mm3 + age + sex")
    np.testing.assert_allclose(ours.coefficients["estimate"], ctv.params_.to_numpy(), rtol=1e-6)


KM_CASES = {
    "log": (SUBJECTS, dict()),
    "log_log": (SUBJECTS, dict(conf_type="log-log")),
    "plain": (SUBJECTS, dict(conf_type="plain")),
    "phenotype": (SUBJECTS, dict(by="phenotype")),
    "phenotype_log_log": (SUBJECTS, dict(by="phenotype", conf_type="log-log")),
    "small": ("km_small.csv", dict(survival_time="time")),
    "flat": ("km_flat.csv", dict(survival_time="time")),
    "flat_log_log": ("km_flat.csv", dict(survival_time="time", conf_type="log-log")),
}


def _nan(values) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in np.atleast_1d(values)], dtype=float)


@pytest.mark.parametrize("case", sorted(KM_CASES))
def test_kaplan_meier_matches_r(case):
    data, kwargs = KM_CASES[case]
    if isinstance(data, str):
        data = pd.read_csv(DATA / data)
    km = kaplan_meier(data, **kwargs)
    ref = R["km"][case]
    tab = pd.DataFrame({k: _nan(v) if k != "group" else v for k, v in ref["table"].items()})
    ours = km.table
    if "group" in tab:
        tab = tab.sort_values(["group", "time"], kind="stable").reset_index(drop=True)
        ours = (ours.assign(group=ours["group"].astype(str))
                .sort_values(["group", "time"], kind="stable").reset_index(drop=True))
        assert list(ours["group"]) == list(tab["group"])
    for col in ["time", "n_risk", "n_event", "n_censor"]:
        np.testing.assert_array_equal(ours[col].to_numpy(float), tab[col].to_numpy())
    # R writes 15 significant digits: "exact" means equal to that precision
    for col in ["survival", "ci_low", "ci_high"]:
        np.testing.assert_allclose(ours[col].to_numpy(float), tab[col], rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(ours["std_error"], tab["survival"] * tab["std_err_log"],
                               rtol=1e-13, atol=1e-15)
    med = km.median
    assert list(med["group"]) == list(np.atleast_1d(ref["median"]["group"]))
    for col in ["median", "ci_low", "ci_high"]:
        np.testing.assert_array_equal(med[col].to_numpy(float), _nan(ref["median"][col]))
    assert km.conf_type == ref["conf_type"]


def test_median_on_flat_stretch_is_midpoint():
    # hand check: six deaths at 1..6, S = 0.5 exactly on [3, 4): R's median is 3.5
    km = kaplan_meier(pd.read_csv(DATA / "km_flat.csv"), survival_time="time")
    assert km.median["median"].iloc[0] == 3.5


@pytest.mark.parametrize("case", ["phenotype", "sex"])
def test_logrank_matches_r(case):
    res = logrank_test(SUBJECTS, by=case)
    ref = R["logrank"][case]
    assert res.statistic == pytest.approx(ref["statistic"], rel=RTOL_P)
    assert res.df == ref["df"]
    assert res.p_value == pytest.approx(ref["p_value"], rel=RTOL_P)
    assert list(res.table["group"]) == ref["group"]
    np.testing.assert_array_equal(res.table["n"], ref["n"])
    np.testing.assert_array_equal(res.table["observed"], ref["observed"])
    np.testing.assert_allclose(res.table["expected"], ref["expected"], rtol=1e-12)


def test_concordance_counts_equal_rows_as_tied_as_r_on_lung():
    """R's lung, ``Surv(time, status) ~ age + ph.ecog + strata(sex)``: rows with the same age
    and ECOG score must get exactly equal linear predictors, so the pair is tied (R: 6,276
    concordant, 4,061 discordant, 126 tied; a blocked matrix product left such rows 1 ulp
    apart and counted 2 of them as discordant: 0.6057536)."""
    from alsstats.survival import _engine

    lung = pd.read_csv(DATA / "lung.csv")  # exported from R by survival.R; ph.ecog -> ph_ecog
    ref = R["lung"]
    with pytest.warns(DroppedRowsWarning, match="1 of 228 rows"):  # ph.ecog missing once, as R
        fit = fit_cox(lung, "Surv(time, event) ~ age + ph_ecog + strata(sex)", subject=None)
    assert (fit.n, fit.n_events) == (ref["n"], ref["n_events"])
    np.testing.assert_allclose(fit.coefficients["estimate"], ref["estimate"], rtol=RTOL_COEF)
    np.testing.assert_allclose(fit.coefficients["std_error"], ref["std_error"], rtol=RTOL_COEF)
    assert fit.concordance == pytest.approx(ref["concordance"], abs=1e-12)
    lp = _engine.linear_predictor(fit._data.x, fit._fit.beta)
    concordant, discordant, tied_x, tied_y = _engine.concordance_counts(fit._data, lp)
    assert (concordant, discordant, tied_x, tied_y) == (
        ref["concordant"], ref["discordant"], ref["tied_x"], ref["tied_y"])
    # equal covariate rows, equal predictors: exactly
    rows = pd.DataFrame(fit._data.x).round(12)
    same = rows.duplicated(keep=False).to_numpy()
    groups = rows[same].groupby(list(rows.columns)).ngroup().to_numpy()
    for g in np.unique(groups):
        assert np.unique(lp[same][groups == g]).size == 1

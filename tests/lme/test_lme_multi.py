"""Several random-effect terms: identifiability checks, prediction, refit, devfun, bootstrap
and likelihood-ratio tests (against lme4's anova in tests/reference/lme_engine.json)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alsstats.errors import FormulaError
from alsstats.lme import compare_lme, fit_lme

REF = Path(__file__).resolve().parents[1] / "reference"
REFERENCE = json.loads((REF / "lme_engine.json").read_text())
SITES = "wmh ~ als * years + age + male + (1 | site) + (1 + years | subject)"


@pytest.fixture(scope="module")
def cohort():
    return pd.read_csv(REF / "lme_engine_data" / "calsnic_sites.csv")


@pytest.fixture(scope="module")
def two_terms(cohort):
    return fit_lme(cohort, SITES)


def test_blocks_in_lme4_order_with_covariances(two_terms):
    assert [b.grp for b in two_terms.random_blocks] == ["subject", "site"]
    assert [list(c.index) for c in two_terms.blocks_cov] == [["Intercept", "years"],
                                                             ["Intercept"]]
    assert two_terms.group == "subject" and two_terms.n_groups == 439
    pd.testing.assert_frame_equal(two_terms.random_effects, two_terms.ranef["subject"])


def test_predict_with_r_semantics(cohort, two_terms):
    res = two_terms
    np.testing.assert_allclose(res.predict(cohort), res.fitted, rtol=1e-12)
    population = res.predict(cohort, re_form="~0")
    np.testing.assert_allclose(population, res.design_matrix(cohort) @ res._beta, rtol=1e-12)
    site_only = res.predict(cohort, re_form="~(1 | site)")
    site_effect = res.ranef["site"]["Intercept"].reindex(cohort["site"]).to_numpy()
    np.testing.assert_allclose(site_only, population + site_effect, rtol=1e-12)
    new = cohort.iloc[:3].assign(subject="NEW", site="NOWHERE")
    with pytest.raises(ValueError, match="not in the fit"):
        res.predict(new)
    np.testing.assert_allclose(res.predict(new, allow_new_levels=True), population[:3],
                               rtol=1e-12)
    with pytest.raises(ValueError, match="re_form"):
        res.predict(cohort, re_form="~(1 | scanner)")


def test_refit_equals_fit_on_new_response(cohort, two_terms):
    y = two_terms.fitted + np.random.default_rng(1).normal(0.0, 1.0, two_terms.nobs)
    refitted = two_terms.refit(y)
    direct = fit_lme(cohort.assign(wmh=y), SITES)
    np.testing.assert_allclose(refitted.loglik, direct.loglik, rtol=1e-10)
    np.testing.assert_allclose(refitted.coefficients["estimate"],
                               direct.coefficients["estimate"], rtol=1e-6)
    with pytest.raises(ValueError, match="1071 values"):
        two_terms.refit(y[:-1])


def test_deviance_function_is_the_fit_deviance(two_terms):
    devfun = two_terms.deviance_function()
    assert devfun(two_terms.theta) == pytest.approx(two_terms.deviance, rel=1e-13)
    assert devfun(two_terms.theta * 1.1) > two_terms.deviance


@pytest.mark.parametrize("case", REFERENCE["comparisons"], ids=lambda c: c["name"])
def test_compare_lme_matches_lme4_anova(case):
    data = pd.read_csv(REF / case["data"])
    lrt = compare_lme(fit_lme(data, case["small"]), fit_lme(data, case["big"]))
    assert lrt.df == case["df"]
    assert lrt.statistic == pytest.approx(case["statistic"], rel=1e-6, abs=1e-7)
    assert lrt.p_value == pytest.approx(case["p_value"], rel=1e-5, abs=1e-8)
    np.testing.assert_allclose(lrt.table["loglik"], case["loglik"], rtol=1e-9)


def test_bootstrap_of_two_terms_is_reproducible():
    data = pd.read_csv(REF / "lme_engine_data" / "penicillin.csv")
    res = fit_lme(data, "diameter ~ 1 + (1 | plate) + (1 | sample)")
    one = res.bootstrap(n=8, seed=5)
    two = res.bootstrap(n=8, seed=5, n_jobs=2)
    assert list(one.estimates.columns) == ["Intercept", "var_plate_Intercept",
                                           "var_sample_Intercept", "residual_variance"]
    assert one.n_failed == 0
    pd.testing.assert_frame_equal(one.estimates, two.estimates, check_exact=True)
    assert not one.estimates.iloc[0].equals(one.estimates.iloc[1])


# ---------------------------------------------------------------- lme4's identifiability checks
def _visits(n_subjects, visits, seed=0):
    rng = np.random.default_rng(seed)
    sid = np.repeat(np.arange(n_subjects), visits)
    years = np.tile(np.arange(visits), n_subjects).astype(float)
    return pd.DataFrame({"subject": [f"S{i}" for i in sid], "years": years,
                         "site": [f"site{i % 3}" for i in sid],
                         "y": rng.normal(size=sid.size) + years})


@pytest.mark.parametrize("data, formula, match", [
    (_visits(1, 6), "y ~ years + (1 | subject)", r"\(1 \| subject\).*check\.nlev\.gtr\.1"),
    (_visits(12, 2).assign(site="one"), "y ~ years + (1 | site) + (1 | subject)",
     r"'site' of \(1 \| site\) has 1"),
    (_visits(10, 1), "y ~ 1 + (1 | subject)", r"\(1 \| subject\).*check\.nobs\.vs\.nlev"),
    (_visits(10, 2), "y ~ years + (1 + years | subject)",
     r"\(1 \+ years \| subject\).*check\.nobs\.vs\.nRE"),
])
def test_unidentifiable_models_refused_naming_the_term(data, formula, match):
    with pytest.raises(FormulaError, match=match):
        fit_lme(data, formula)


def test_variance_derivatives_give_the_satterthwaite_df(two_terms):
    parts = two_terms.variance_derivatives()
    sigma = np.sqrt(two_terms.residual_variance)
    H = parts.varpar_hessian(sigma)
    J = parts.varpar_jacobian(sigma)
    assert H.shape == (5, 5) and J.shape == (6, 6, 5)
    A = 2.0 * np.linalg.inv(H)
    vcov = two_terms.vcov.to_numpy()
    for i, df in enumerate(two_terms.coefficients["df"]):
        g = J[i, i]
        assert 2.0 * vcov[i, i] ** 2 / (g @ A @ g) == pytest.approx(df, rel=1e-10)

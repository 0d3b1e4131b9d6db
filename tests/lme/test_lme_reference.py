"""fit_lme against lme4 / lmerTest (tests/reference/lme.json, written by tests/reference/lme.R).

Three tiers (the accuracy tiers are the first two):

* **At lme4's theta** (the engine): evaluating our profiled deviance, fixed effects, standard
  errors, Satterthwaite df, p-values, variance components, BLUPs and log-likelihood at the
  ``theta`` lme4 reports (default and tight fits) must reproduce lme4/lmerTest to 1e-7, far
  inside the issue's tolerances. This isolates the engine and the inference from optimiser
  stopping rules.
* **At our optimum vs converged lme4** (the issue's acceptance test): every case also carries a
  ``tight`` lme4 refit (``lmerControl(optCtrl = list(ftol_abs = 1e-14, xtol_abs = 1e-12,
  xtol_rel = 1e-12))``, run to the floating-point noise of the deviance). Our own fit must agree
  with it to the issue's tolerances on every case: fixed effects 1e-5 relative, standard errors
  1e-4, Satterthwaite df 1e-3, p-values 1e-5 absolute, variance components 1e-3, log-likelihood
  1e-8 relative, singular flag equal.
* **At our optimum vs stock lme4**: lme4's default ``nloptwrap`` stops at ``ftol_abs = 1e-8``,
  which for the ``(1 + years | subject)`` fits leaves ``theta`` up to ~1e-4 from the optimum
  (its log-likelihood is up to 1.4e-7 below the tight refit's and ours). Stock lme4 is therefore
  only a floor: our log-likelihood is at least as high, and the singular flag the same.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alsstats.errors import SingularFitWarning
from alsstats.lme import compare_lme, fit_lme
from alsstats.lme.fit import _fit_frame
from alsstats.lme.formula import build_model_frame

REF = Path(__file__).resolve().parents[1] / "reference"
JSON = REF / "lme.json"
pytestmark = pytest.mark.skipif(not JSON.exists(), reason="tests/reference/lme.json missing")

TOL = {"estimate": 1e-5, "std_error": 1e-4, "df": 1e-3, "p_value": 1e-5, "vc": 1e-3,
       "loglik": 1e-8}


def _reference():
    return json.loads(JSON.read_text()) if JSON.exists() else {"cases": [], "comparisons": []}


REFERENCE = _reference()
CASES = {c["name"]: c for c in REFERENCE["cases"]}


def load(path: str) -> pd.DataFrame:
    d = pd.read_csv(REF / path, dtype={"subject": str})
    d["group"] = pd.Categorical(d["group"], ["control", "ALS"])
    d["sex"] = pd.Categorical(d["sex"], ["F", "M"])
    return d


def fit_quiet(case, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SingularFitWarning)
        return fit_lme(load(case["data"]), case["formula"], reml=case["reml"], **kw)


@pytest.fixture(scope="module")
def ours():
    return {name: fit_quiet(c) for name, c in CASES.items()}


def tight(case) -> dict:
    """The case with its results replaced by lme4's tightly converged refit (no BLUPs stored)."""
    out = {k: v for k, v in case.items() if k not in ("tight", "ranef")}
    out.update({k: v for k, v in case["tight"].items() if k != "control"})
    return out


def at_theta(case):
    frame = build_model_frame(case["formula"], load(case["data"]))
    return _fit_frame(frame, reml=case["reml"], df_method="satterthwaite", ci_level=0.95,
                      check_scale=True, start=None, optimizer=None, quiet=True,
                      theta=np.array(case["theta"], dtype=float))


@pytest.fixture(scope="module")
def at_lme4_theta():
    return {name: at_theta(c) for name, c in CASES.items()}


def ref_coefs(case) -> pd.DataFrame:
    return pd.DataFrame(case["coefficients"]).set_index("term")


def rel(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return np.abs(a - b) / np.abs(b)


def vc_scaled_error(ours_cov: pd.DataFrame, case) -> float:
    ref = np.array(case["random_effects_cov"]["matrix"], dtype=float).reshape(ours_cov.shape)
    assert list(ours_cov.index) == case["random_effects_cov"]["terms"]
    scale = np.sqrt(np.outer(np.diag(ref), np.diag(ref)))
    if case["singular"]:
        # at the boundary a variance is ~0 and only its size relative to the others is defined
        scale = np.full_like(scale, np.max(np.diag(ref)))
    scale = np.where(scale > 0, scale, 1.0)
    return float(np.max(np.abs(ours_cov.to_numpy() - ref) / scale))


def ranef_error(res, case) -> float:
    """Largest BLUP difference, relative to the spread of lme4's BLUPs of that term."""
    ranef = pd.DataFrame(case["ranef"]).set_index("subject")
    ours = res.random_effects.loc[ranef.index, list(ranef.columns)]
    spread = ranef.std().to_numpy()
    if case["singular"]:  # as for the variance components: the boundary term has ~0 spread
        spread = np.full_like(spread, np.max(spread))
    spread = np.where(spread > 0, spread, 1.0)
    return float(np.max(np.abs(ours.to_numpy() - ranef.to_numpy()) / spread))


def check_fit(res, case, est_tol, p_tol, vc_tol):
    ref = ref_coefs(case)
    assert list(res.coefficients.index) == list(ref.index)  # R's names and R's order
    co = res.coefficients
    assert np.all(rel(co["estimate"], ref["estimate"]) < est_tol)
    assert np.all(rel(co["statistic"], ref["statistic"]) < max(est_tol, TOL["std_error"]))
    assert np.all(rel(co["std_error"], ref["std_error"]) < TOL["std_error"])
    assert np.all(rel(co["df"], ref["df"]) < TOL["df"])
    assert np.all(np.abs(co["p_value"] - ref["p_value"]) < p_tol)
    assert vc_scaled_error(res.random_effects_cov, case) < vc_tol
    assert rel(res.residual_variance, case["residual_variance"]) < vc_tol
    assert rel(res.loglik, case["loglik"]) < TOL["loglik"]
    assert rel(res.aic, case["aic"]) < TOL["loglik"]
    assert rel(res.bic, case["bic"]) < TOL["loglik"]
    assert res.singular == case["singular"]
    assert res.nobs == case["nobs"] and res.n_groups == case["n_groups"]
    assert res.estimation == ("REML" if case["reml"] else "ML")


@pytest.mark.parametrize("name", sorted(CASES))
def test_engine_reproduces_lme4_at_its_theta(name, at_lme4_theta):
    case = CASES[name]
    res = at_lme4_theta[name]
    check_fit(res, case, est_tol=1e-7, p_tol=1e-7, vc_tol=1e-7)
    assert rel(res.deviance, case["deviance"]) < 1e-10
    assert ranef_error(res, case) < 1e-6


@pytest.mark.parametrize("name", sorted(CASES))
def test_engine_reproduces_tight_lme4_at_its_theta(name):
    ref = tight(CASES[name])
    res = at_theta(ref)
    check_fit(res, ref, est_tol=1e-7, p_tol=1e-7, vc_tol=1e-7)
    assert rel(res.deviance, ref["deviance"]) < 1e-10


@pytest.mark.parametrize("name", sorted(CASES))
def test_tight_reference_is_converged(name):
    case = CASES[name]
    assert case["tight"]["control"].startswith("lmerControl(")
    # tightening the stopping rule can only improve lme4's criterion
    assert case["tight"]["loglik"] >= case["loglik"]
    assert case["tight"]["singular"] == case["singular"]


@pytest.mark.parametrize("name", sorted(CASES))
def test_fit_matches_converged_lme4(name, ours):
    """The issue's acceptance tolerances, against lme4 run to convergence, on every case."""
    ref = tight(CASES[name])
    res = ours[name]
    assert res.converged
    # same optimum as converged lme4, up to the rounding noise of the deviance (~5e-14 rel)
    assert res.loglik >= ref["loglik"] - 1e-11 * abs(ref["loglik"])
    check_fit(res, ref, est_tol=TOL["estimate"], p_tol=TOL["p_value"], vc_tol=TOL["vc"])


@pytest.mark.parametrize("name", sorted(CASES))
def test_fit_at_least_as_good_as_stock_lme4(name, ours):
    """Stock lme4 (``ftol_abs = 1e-8``) stops up to ~1e-4 short in theta on the
    ``(1 + years | subject)`` fits, so it is only a floor for the criterion: alsstats' accuracy is
    checked at the issue's tolerances against lme4 run to convergence
    (test_fit_matches_converged_lme4), no looser tier needed."""
    case = CASES[name]
    res = ours[name]
    assert res.converged
    assert res.loglik >= case["loglik"] - 1e-11 * abs(case["loglik"])
    assert res.singular == case["singular"]


def test_singular_cases_are_flagged_and_warned():
    for case in CASES.values():
        if not case["singular"]:
            continue
        with pytest.warns(SingularFitWarning, match="singular"):
            res = fit_lme(load(case["data"]), case["formula"], reml=case["reml"])
        assert res.singular


def test_collapsing_variance_gives_ols_not_zero():
    case = next(c for c in CASES.values() if "ols" in c)
    data = load(case["data"])
    with pytest.warns(SingularFitWarning):
        res = fit_lme(data, case["formula"], reml=case["reml"])
    assert res.theta[0] == 0.0
    ols = pd.Series(case["ols"]["estimate"], index=case["ols"]["term"])
    est = res.coefficients["estimate"].loc[ols.index]
    assert np.all(rel(est, ols) < 1e-9)
    # and against numpy's least squares on the same design
    beta, *_ = np.linalg.lstsq(res._X, res._frame.y, rcond=None)
    np.testing.assert_allclose(res.coefficients["estimate"].to_numpy(), beta, rtol=1e-9)
    # the between-subject covariate is estimated, not zeroed
    assert abs(res.coefficients.loc["groupALS", "estimate"]) > 5 * res.coefficients.loc[
        "groupALS", "std_error"]


@pytest.mark.parametrize("comparison", REFERENCE["comparisons"], ids=lambda c: c["name"])
def test_likelihood_ratio_tests_match_anova(comparison, ours):
    small, big = ours[comparison["small"]], ours[comparison["big"]]
    lrt = compare_lme(small, big)
    assert lrt.df == comparison["df"]
    assert rel(lrt.statistic, comparison["statistic"]) < 1e-5
    assert rel(lrt.p_value, comparison["p_value"]) < 1e-3
    assert lrt.refitted_ml == (small.estimation == "REML" or big.estimation == "REML")
    # the order of the arguments does not matter (models are sorted by npar, as lme4)
    assert compare_lme(big, small).statistic == pytest.approx(lrt.statistic, rel=1e-12)

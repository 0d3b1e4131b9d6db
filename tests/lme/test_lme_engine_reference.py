"""fit_lme against the best of lme4's optimisers (tests/reference/lme_engine.json, written by
tests/reference/lme_engine.R): boundary fits where a local optimiser stops at a saddle
(Loblolly, sleepstudy quadratic), several random-effect terms, simulated multi-site cohorts.

Tolerances (issue 11): fixed effects 1e-5 relative, standard errors 1e-4, Satterthwaite df 1e-3,
p-values 1e-5 absolute, variance components 1e-3 (relative to the scale of the block), log-
likelihood 1e-8 relative and never below lme4's best, singular flag equal, BLUPs 1e-4 (relative
to the spread of lme4's BLUPs of the term).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alsstats.errors import SingularFitWarning
from alsstats.lme import fit_lme

REF = Path(__file__).resolve().parents[1] / "reference"
CASES = {c["name"]: c for c in json.loads((REF / "lme_engine.json").read_text())["cases"]}
ONE_TERM = ["loblolly_reml", "loblolly_ml", "sleep_quad_reml", "sleep_quad_ml",
            "calsnic_subject_ml", "calsnic_boundary_ml", "calsnic_boundary_reml"]
ALL = list(CASES)
TOL = {"estimate": 1e-5, "std_error": 1e-4, "df": 1e-3, "p_value": 1e-5, "vc": 1e-3,
       "loglik": 1e-8, "blup": 1e-4}


def load(case) -> pd.DataFrame:
    return pd.read_csv(REF / case["data"])


def fit_case(name):
    case = CASES[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SingularFitWarning)
        return fit_lme(load(case), case["formula"], reml=case["reml"])


@pytest.fixture(scope="module")
def fits():
    return {}


def get(fits, name):
    if name not in fits:
        fits[name] = fit_case(name)
    return fits[name]


@pytest.mark.parametrize("name", ALL)
def test_loglik_reaches_best_of_lme4_optimisers(name, fits):
    case, res = CASES[name], get(fits, name)
    assert res.converged, res.optimizer
    assert res.loglik >= case["loglik"] - TOL["loglik"] * abs(case["loglik"])
    assert res.loglik == pytest.approx(case["loglik"], rel=TOL["loglik"])
    assert res.singular == case["singular"]


@pytest.mark.parametrize("name", ALL)
def test_coefficients_match_lmertest(name, fits):
    case, res = CASES[name], get(fits, name)
    ref = pd.DataFrame(case["coefficients"]).set_index("term")
    ours = res.coefficients.loc[ref.index]
    for col in ("estimate", "std_error", "df"):
        np.testing.assert_allclose(ours[col], ref[col], rtol=TOL[col], err_msg=col)
    np.testing.assert_allclose(ours["p_value"], ref["p_value"], atol=TOL["p_value"])


@pytest.mark.parametrize("name", ONE_TERM)
def test_variance_components_and_blups(name, fits):
    case, res = CASES[name], get(fits, name)
    vc = pd.DataFrame(case["varcorr"])
    resid = vc[vc["grp"] == "Residual"]["vcov"].iloc[0]
    assert res.residual_variance == pytest.approx(resid, rel=TOL["vc"])
    cov = res.random_effects_cov
    block = vc[vc["grp"] != "Residual"]
    scale = float(np.max(np.diag(cov.to_numpy())))
    for _, row in block.iterrows():
        v2 = row["var1"] if row["var2"] is None or pd.isna(row["var2"]) else row["var2"]
        assert abs(cov.loc[row["var1"], v2] - row["vcov"]) <= TOL["vc"] * scale
    (grp, ranef), = case["ranef"].items()
    ref = pd.DataFrame(ranef).set_index("level")
    ours = res.random_effects.copy()
    ours.index = ours.index.astype(str)
    ours = ours.loc[ref.index, list(ref.columns)]
    spread = ref.std().to_numpy()
    spread = np.full_like(spread, spread.max()) if case["singular"] else spread
    assert np.max(np.abs(ours.to_numpy() - ref.to_numpy()) / spread) <= TOL["blup"]


@pytest.mark.parametrize("name", ALL)
def test_varcorr_as_r(name, fits):
    """``.varcorr`` is R's ``as.data.frame(VarCorr(fit))``: same rows, names and order."""
    case, res = CASES[name], get(fits, name)
    ref = pd.DataFrame(case["varcorr"])
    ours = res.varcorr
    assert list(ours.columns) == ["grp", "var1", "var2", "vcov", "sdcor"]
    for col in ("grp", "var1", "var2"):
        assert list(ours[col].fillna("NA")) == list(ref[col].fillna("NA")), col
    resid = ref["vcov"].iloc[-1]
    scale = max(ref["vcov"].abs().max(), resid)
    assert np.max(np.abs(ours["vcov"] - ref["vcov"])) <= TOL["vc"] * scale
    np.testing.assert_allclose(res.theta, case["theta"], atol=1e-3 * max(1.0, max(case["theta"])))


def blup_error(res, case, grp: str) -> float:
    """Largest BLUP difference of grouping factor ``grp``, relative to the spread of lme4's
    BLUPs of each column (at a singular fit, of the largest)."""
    ref = pd.DataFrame(case["ranef"][grp]).set_index("level")
    ours = res.ranef[grp].copy()
    ours.index = ours.index.astype(str)
    ours = ours.loc[ref.index, list(ref.columns)]
    spread = ref.std().to_numpy()
    spread = np.where(spread > 1e-8 * spread.max(), spread, spread.max())
    if case["singular"]:
        spread = np.full_like(spread, spread.max())
    return float(np.max(np.abs(ours.to_numpy() - ref.to_numpy()) / spread))


@pytest.mark.parametrize("name", ALL)
def test_ranef_per_grouping_factor(name, fits):
    case, res = CASES[name], get(fits, name)
    assert set(res.ranef) == set(case["ranef"])
    for grp in case["ranef"]:
        assert blup_error(res, case, grp) <= TOL["blup"], grp

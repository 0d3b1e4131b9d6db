"""The general engine's sparse factorisation (issue 11): fits against the best of lme4's
optimisers on a partially crossed subjects x items design and a large nested design
(tests/reference/lme_sparse.json, written by tests/reference/lme_sparse.R), the same fits as
the dense block elimination on every multi-term case of lme_engine.json, and exact derivatives
equal to the dense path's.

Tolerances as tests/lme/test_lme_engine_reference.py: fixed effects 1e-5 relative, standard
errors 1e-4, Satterthwaite df 1e-3, p-values 1e-5 absolute, variance components 1e-3 (relative
to the largest), log-likelihood 1e-8 relative and never more than 1e-8 below lme4's best,
BLUPs 1e-4 (relative to the spread of lme4's BLUPs of the term).
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
from alsstats.lme.general import GeneralProblem, TermData

REF = Path(__file__).resolve().parents[1] / "reference"
CASES = {c["name"]: c for c in json.loads((REF / "lme_sparse.json").read_text())["cases"]}
ENGINE = {c["name"]: c for c in json.loads((REF / "lme_engine.json").read_text())["cases"]}
MULTI = ["penicillin", "pastes", "machines", "sleep_uncorrelated", "sleep_two_terms",
         "calsnic_sites_reml", "calsnic_sites_ml"]
TOL = {"estimate": 1e-5, "std_error": 1e-4, "df": 1e-3, "p_value": 1e-5, "vc": 1e-3,
       "loglik": 1e-8, "blup": 1e-4}


def fit(case):
    data = pd.read_csv(REF / case["data"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SingularFitWarning)
        return fit_lme(data, case["formula"], reml=case["reml"])


@pytest.fixture(scope="module")
def fits():
    return {name: fit(case) for name, case in CASES.items()}


@pytest.mark.parametrize("name", list(CASES))
def test_sparse_fit_matches_best_of_lme4(name, fits):
    case, res = CASES[name], fits[name]
    assert res.problem.factorisation == "sparse"  # chosen by the cost model
    assert res.converged, res.optimizer
    assert res.loglik >= case["loglik"] - TOL["loglik"]
    assert res.loglik == pytest.approx(case["loglik"], rel=TOL["loglik"])
    assert res.singular == case["singular"]
    ref = pd.DataFrame(case["coefficients"]).set_index("term")
    ours = res.coefficients.loc[ref.index]
    for col in ("estimate", "std_error", "df"):
        np.testing.assert_allclose(ours[col], ref[col], rtol=TOL[col], err_msg=col)
    np.testing.assert_allclose(ours["p_value"], ref["p_value"], atol=TOL["p_value"])
    vc = pd.DataFrame(case["varcorr"])
    assert list(res.varcorr["grp"]) == list(vc["grp"])
    scale = vc["vcov"].abs().max()
    assert np.max(np.abs(res.varcorr["vcov"] - vc["vcov"])) <= TOL["vc"] * scale
    for grp, tab in case["ranef"].items():
        ref_b = pd.DataFrame(tab).set_index("level")
        ours_b = res.ranef[grp].copy()
        ours_b.index = ours_b.index.astype(str)
        ours_b = ours_b.loc[ref_b.index, list(ref_b.columns)]
        spread = ref_b.std().to_numpy()
        assert np.max(np.abs(ours_b.to_numpy() - ref_b.to_numpy()) / spread) <= TOL["blup"]


@pytest.mark.parametrize("name", MULTI)
def test_forced_sparse_equals_lme4_on_engine_cases(name, monkeypatch):
    """Every multi-term case of lme_engine.json (crossed, nested, two terms on one factor,
    sites and subjects) through the sparse factorisation: lme4's optimum, as the dense path."""
    monkeypatch.setattr(GeneralProblem, "default_factorisation", "sparse")
    case = ENGINE[name]
    res = fit(case)
    assert res.problem.factorisation == "sparse"
    assert res.loglik >= case["loglik"] - TOL["loglik"] * abs(case["loglik"])
    assert res.loglik == pytest.approx(case["loglik"], rel=TOL["loglik"])
    ref = pd.DataFrame(case["coefficients"]).set_index("term")
    ours = res.coefficients.loc[ref.index]
    for col in ("estimate", "std_error", "df"):
        np.testing.assert_allclose(ours[col], ref[col], rtol=TOL[col], err_msg=col)


def _problems(name):
    if name == "nested_subset":  # the first 150 subjects of nested.csv (dense path: cheap)
        case = dict(CASES["nested_ml"])
        data = pd.read_csv(REF / case["data"]).iloc[:900]
        res = fit_lme(data, case["formula"], reml=False)
    else:
        res = fit(ENGINE[name] if name in ENGINE else CASES[name])
    blocks = res.random_blocks
    terms = [TermData(b.Z, np.asarray(b.codes), len(b.levels)) for b in blocks]
    X, y = res.model_matrix, np.asarray(res._frame.y, dtype=float)
    return (res, GeneralProblem(X, y, terms, factorisation="dense"),
            GeneralProblem(X, y, terms, factorisation="sparse"))


@pytest.mark.parametrize("name", ["penicillin", "machines", "calsnic_sites_reml",
                                  "crossed_slope_reml", "nested_subset"])
@pytest.mark.parametrize("reml", [True, False])
def test_sparse_derivatives_equal_dense(name, reml):
    """Exact gradient, Hessian and d Var(beta) / d theta of the sparse path (per connected
    component of Z'Z, or through the dense path's statistics for one large crossed component)
    equal the dense block elimination's, away from the optimum too."""
    res, dense, sparse = _problems(name)
    assert sparse.factorisation == "sparse" and dense.factorisation == "dense"
    for theta in (np.asarray(res.theta), 0.7 * np.asarray(res.theta) + 0.05):
        assert sparse.deviance(theta, reml) == pytest.approx(dense.deviance(theta, reml),
                                                             rel=1e-12)
        a, b = dense.derivatives(theta, reml), sparse.derivatives(theta, reml)
        for field in ("grad_a", "hess_a", "grad_r2", "hess_r2", "dcov"):
            x, z = getattr(a, field), getattr(b, field)
            assert np.max(np.abs(x - z)) <= 1e-9 * max(1.0, np.max(np.abs(x))), field
        ea, eb = dense.evaluate(theta), sparse.evaluate(theta)
        for ba, bb in zip(dense.random_effects(ea), sparse.random_effects(eb), strict=True):
            np.testing.assert_allclose(bb, ba, rtol=1e-9, atol=1e-12)


def test_sparse_derivatives_without_block_elimination(monkeypatch):
    """The crossed case's derivatives by sparse solves on its one large component (the path
    for components whose dense statistics would be too large) equal the dense path's."""
    res, dense, sparse = _problems("crossed_slope_reml")
    monkeypatch.setattr(type(sparse.sparse), "derivatives_by_block_elimination",
                        lambda self, problem: False)
    theta = np.asarray(res.theta)
    a, b = dense.derivatives(theta, True), sparse.derivatives(theta, True)
    for field in ("grad_a", "hess_a", "grad_r2", "hess_r2", "dcov"):
        x, z = getattr(a, field), getattr(b, field)
        assert np.max(np.abs(x - z)) <= 1e-9 * max(1.0, np.max(np.abs(x))), field


def test_refit_with_new_response_uses_the_sparse_design():
    """``with_response`` (lme4's refit; the bootstrap) keeps the sparse factorisation and gives
    the deviance of a problem built from scratch with that response."""
    res, _, sparse = _problems("nested_reml")
    y2 = np.asarray(res._frame.y, dtype=float)[::-1].copy()
    blocks = res.random_blocks
    terms = [TermData(b.Z, np.asarray(b.codes), len(b.levels)) for b in blocks]
    fresh = GeneralProblem(res.model_matrix, y2, terms, factorisation="sparse")
    refit = sparse.with_response(y2)
    assert refit.factorisation == "sparse"
    theta = np.asarray(res.theta)
    assert refit.deviance(theta, True) == pytest.approx(fresh.deviance(theta, True), rel=1e-12)
    assert refit.deviance(theta, True) != pytest.approx(sparse.deviance(theta, True), rel=1e-6)


def test_factorisation_argument_checked():
    X = np.ones((4, 1))
    with pytest.raises(ValueError, match="factorisation"):
        GeneralProblem(X, np.arange(4.0), [TermData(np.ones((4, 1)), np.array([0, 0, 1, 1]), 2),
                                           TermData(np.ones((4, 1)), np.array([0, 1, 0, 1]), 2)],
                       factorisation="cholmod")


def test_bootstrap_through_sparse_path_equals_dense(monkeypatch):
    """The parametric bootstrap refits on the shared sparse design (``with_response``) and gives
    the replicates of the dense path (same seed, refits at the same optima)."""
    data = pd.read_csv(REF / CASES["nested_ml"]["data"]).iloc[:900]
    formula = CASES["nested_ml"]["formula"]
    out = {}
    for mode in ("dense", "sparse"):
        monkeypatch.setattr(GeneralProblem, "default_factorisation", mode)
        res = fit_lme(data, formula)
        assert res.problem.factorisation == mode
        out[mode] = res.bootstrap(n=6, seed=3)
    assert out["sparse"].n_failed == out["dense"].n_failed == 0
    np.testing.assert_allclose(out["sparse"].estimates.to_numpy(),
                               out["dense"].estimates.to_numpy(), rtol=1e-4)

"""The formula layer against R (tests/reference/formula.R -> formula.json; data in formula_data/).

R's term names, term labels and ``assign``, model matrices (mtcars), poly/ns/bs bases on the
fitted and on new data (R's ``predict``), lmer estimates (best of bobyqa / Nelder_Mead /
nloptwrap with tight tolerances) and coxph estimates, and R's English collation of levels.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alsstats import fit_cox, fit_lme
from alsstats.errors import DroppedRowsWarning
from alsstats.formula import build_model_frame, model_design, r_sort

REF = Path(__file__).parent / "reference"
R = json.loads((REF / "formula.json").read_text())
MIXED_RTOL = 1e-5
COX_RTOL = 1e-6


def load(name: str) -> pd.DataFrame:
    return pd.read_csv(REF / "formula_data" / f"{name}.csv")


def rows(matrix_rows) -> np.ndarray:
    return np.array([[np.nan if v is None else v for v in row] for row in matrix_rows],
                    dtype=float)


def test_r_collation_english():
    assert r_sort(R["collation_probe"]) == R["collation_sorted"]
    assert R["phenotype_levels"] == ["classic", "flail_arm", "PLS"]


@pytest.mark.parametrize("case", R["mixed"], ids=lambda c: c["name"])
def test_lmer_estimates_names_terms(case):
    data = load(case["data"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit = fit_lme(data, case["formula"], check_scale=False)
    assert list(fit.coefficients.index) == case["term"]
    est = fit.coefficients["estimate"].to_numpy()
    scale = np.max(np.abs(case["estimate"]))
    np.testing.assert_allclose(est, case["estimate"], rtol=MIXED_RTOL, atol=MIXED_RTOL * scale * 1e-2)
    np.testing.assert_allclose(fit.coefficients["std_error"], case["std_error"], rtol=1e-4)
    assert fit.loglik >= case["loglik"] - 1e-7 * abs(case["loglik"])
    frame = build_model_frame(case["formula"], data)
    assert frame.x_terms == case["x_terms"]
    assert frame.x_assign.tolist() == case["x_assign"]
    if "predict_fixed" in case:
        new = pd.DataFrame(case["newdata"])
        np.testing.assert_allclose(fit.predict(new, include_random=False),
                                   case["predict_fixed"], rtol=MIXED_RTOL)


@pytest.mark.parametrize("case", R["cox"], ids=lambda c: c["name"])
def test_coxph_estimates_and_names(case):
    data = load(case["data"])
    subject = "subject" if "subject" in data.columns else None
    missing = case["n"] < len(data) and subject is None
    if missing:
        with pytest.warns(DroppedRowsWarning):
            fit = fit_cox(data, case["formula"], subject=subject)
    else:
        fit = fit_cox(data, case["formula"], subject=subject)
    assert list(fit.coefficients.index) == case["term"]
    np.testing.assert_allclose(fit.coefficients["estimate"], case["estimate"], rtol=COX_RTOL)
    np.testing.assert_allclose(fit.coefficients["std_error"], case["std_error"], rtol=COX_RTOL)
    assert fit.loglik == pytest.approx(case["loglik"], rel=1e-9)
    assert (fit.n, fit.n_events) == (case["n"], case["n_events"])


@pytest.mark.parametrize("case", R["model_matrices"], ids=lambda c: c["formula"])
def test_model_matrix_as_r(case):
    rhs = case["formula"].split("~", 1)[1]
    design, used, n_dropped = model_design(rhs, load("mtcars"))
    assert design.names == case["names"]
    # R numbers terms from 1 with or without an intercept; alsstats' assign indexes
    # term_labels, which start with "(Intercept)" only when there is one
    intercept = design.term_labels[:1] == ["(Intercept)"]
    assert design.assign.tolist() == [a - (not intercept) for a in case["assign"]]
    assert design.term_labels[int(intercept):] == case["term_labels"]
    np.testing.assert_allclose(design.matrix, rows(case["matrix"]), rtol=1e-10, atol=1e-12)


def test_bases_on_new_data_as_r_predict():
    b = R["bases"]
    sleep = pd.DataFrame({"Days": b["x"]})
    new = pd.DataFrame({"Days": b["newx"]})
    for rhs, fit_key, new_key in [("poly(Days, 2)", "poly2_fit", "poly2_new"),
                                  ("ns(Days, df = 3)", "ns3_fit", "ns3_new"),
                                  ("bs(Days, df = 4)", "bs4_fit", "bs4_new")]:
        design, _, _ = model_design(f"0 + {rhs}", sleep)
        np.testing.assert_allclose(design.matrix, rows(b[fit_key]), rtol=1e-10, atol=1e-12,
                                   err_msg=rhs)
        np.testing.assert_allclose(design.new(new), rows(b[new_key]), rtol=1e-10, atol=1e-12,
                                   err_msg=rhs)
    design, _, _ = model_design("0 + poly(Days, 2)", sleep)
    state = design.state["poly(Days, 2)"]
    np.testing.assert_allclose(state["alpha"], b["poly2_alpha"], rtol=1e-12)
    np.testing.assert_allclose(state["norm2"], b["poly2_norm2"], rtol=1e-12)
    assert design.state is not None
    design, _, _ = model_design("0 + ns(Days, df = 3)", sleep)
    np.testing.assert_allclose(design.state["ns(Days, df = 3)"]["knots"], b["ns3_knots"])
    design, _, _ = model_design("0 + scale(Days)", sleep)
    assert design.state["scale(Days)"]["center"] == pytest.approx(b["scale_center"], rel=1e-14)
    assert design.state["scale(Days)"]["scale"] == pytest.approx(b["scale_scale"], rel=1e-14)
    hp = pd.DataFrame({"hp": b["hp"]})
    newhp = pd.DataFrame({"hp": b["newhp"]})
    for rhs, key in [("ns(hp, df = 5)", "ns5_hp_new"), ("bs(hp, df = 6)", "bs6_hp_new"),
                     ("poly(hp, 4)", "poly4_hp_new")]:
        design, _, _ = model_design(f"0 + {rhs}", hp)
        np.testing.assert_allclose(design.new(newhp), rows(b[key]), rtol=1e-9, atol=1e-12,
                                   err_msg=rhs)


@pytest.mark.parametrize("case", R["random_terms"], ids=lambda c: c["name"])
def test_random_blocks_as_lme4(case):
    """Each random-effect term as lme4's findbars/mkReTrms builds it: grouping name, Z columns
    and names, levels (order and labels) and codes; nested (a/b), crossed, interaction, factor
    slopes and '||' (blocks matched by grouping name and columns; the engine orders them)."""
    frame = build_model_frame(case["formula"], load(case["data"]))
    ours = {(b.grp, tuple(b.z_names)): b for b in frame.random_blocks}
    assert len(ours) == len(frame.random_blocks) == len(case["blocks"])
    for ref in case["blocks"]:
        block = ours[(ref["grp"], tuple(ref["z_names"]))]
        np.testing.assert_array_equal(block.Z, rows(ref["Z"]))
        assert [str(v) for v in block.levels] == ref["levels"]
        assert block.levels.name == ref["grp"]
        np.testing.assert_array_equal(block.codes, ref["codes"])

"""LMEResult.predict with lme4's predict.merMod semantics for new and missing grouping levels,
against lme4's predictions (tests/reference/lme_predict.json, written by
tests/reference/lme_predict.R; lme4's optimum with tight nloptwrap tolerances).

``allow_new_levels=True``: new or missing levels get the term's population-level contribution
(random effects 0), every ``re_form`` as lme4 (predictions to 1e-6 relative to the response's
spread: the fits agree to lme4's optimum, BLUPs to ~1e-6). ``allow_new_levels=False`` (lme4's
default): lme4 errors exactly where alsstats raises a ValueError, which names the grouping
factor and the levels lme4 names; missing grouping values are checked first, as lme4.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alsstats.lme import fit_lme

REF = Path(__file__).resolve().parents[1] / "reference"
CASES = json.loads((REF / "lme_predict.json").read_text())["cases"]
RUNS = [(c["name"], r["re_form"]) for c in CASES for r in c["runs"]]
BY_NAME = {c["name"]: c for c in CASES}


@pytest.fixture(scope="module")
def fits():
    out = {}
    for c in CASES:
        key = (c["data"], c["formula"])
        if key not in out:
            out[key] = fit_lme(pd.read_csv(REF / c["data"]), c["formula"])
    return out


def _setup(fits, name, re_form):
    case = BY_NAME[name]
    run = next(r for r in case["runs"] if r["re_form"] == re_form)
    res = fits[(case["data"], case["formula"])]
    assert res.loglik == pytest.approx(case["loglik"], rel=1e-8)
    data = pd.read_csv(REF / case["data"])
    newdata = pd.DataFrame(case["newdata"])
    for col in newdata.columns:  # JSON holds R's factor labels as text (Machines' Worker: 1..6)
        if pd.api.types.is_numeric_dtype(data[col]) and newdata[col].dtype == object:
            newdata[col] = pd.to_numeric(newdata[col])
    re = None if re_form == "NULL" else re_form
    spread = float(data[case["formula"].split("~")[0].strip()].std())
    return res, newdata, re, run, spread


@pytest.mark.parametrize("name, re_form", RUNS)
def test_allow_new_levels_matches_lme4(fits, name, re_form):
    res, newdata, re, run, spread = _setup(fits, name, re_form)
    ours = res.predict(newdata, re_form=re, allow_new_levels=True)
    np.testing.assert_allclose(ours, run["allow_new_levels"]["prediction"], rtol=0,
                               atol=1e-6 * spread)


@pytest.mark.parametrize("name, re_form", RUNS)
def test_default_errors_where_lme4_errors(fits, name, re_form):
    res, newdata, re, run, spread = _setup(fits, name, re_form)
    expected = run["default"]
    if expected["error"] is None:
        np.testing.assert_allclose(res.predict(newdata, re_form=re), expected["prediction"],
                                   rtol=0, atol=1e-6 * spread)
        return
    with pytest.raises(ValueError) as info:
        res.predict(newdata, re_form=re)
    message = str(info.value)
    assert "allow_new_levels=True" in message
    if expected["error"].startswith("NAs are not allowed"):
        assert "missing values in grouping factor" in message
    else:
        levels = expected["error"].split(": ", 1)[1].split(", ")
        assert "grouping factor" in message
        for level in levels:
            assert level in message


def test_new_level_error_names_factor_and_levels(fits):
    res, newdata, _, _, _ = _setup(fits, "sites_new_only", "NULL")
    with pytest.raises(ValueError, match=r"grouping factor 'subject' not in the fit: NEW1, NEW2"):
        res.predict(newdata)
    with pytest.raises(ValueError, match=r"grouping factor 'site' not in the fit: NEWSITE"):
        res.predict(newdata, re_form="~(1 | site)")
    res_m, nd_m, _, _, _ = _setup(fits, "machines_new_worker", "NULL")
    with pytest.raises(ValueError, match=r"'Machine:Worker' not in the fit: A:7"):
        res_m.predict(nd_m)
    # population predictions never look at the grouping columns
    np.testing.assert_allclose(res.predict(newdata, re_form="~0"),
                               res.predict(newdata, include_random=False))


def test_missing_level_error_counts_rows(fits):
    res, newdata, _, _, _ = _setup(fits, "sites_new_levels", "NULL")
    with pytest.raises(ValueError, match=r"'subject' \(1 row\), 'site' \(1 row\)"):
        res.predict(newdata)

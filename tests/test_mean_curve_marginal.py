"""mean_curve is marginal_means with emmeans' counterfactuals: same numbers as its former
direct computation (copied here as the independent reference)."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import alsstats as als
from alsstats.marginal import marginal_means


def _former_mean_curve(model, data, x, grid, fixed=None):
    """mean_curve before it moved onto alsstats.marginal (point by point, no fast path)."""
    used = data.loc[model.fit_rows]
    rows = []
    for value in np.asarray(grid, dtype=float):
        scenario = used.assign(**{x: value})
        for column, level in (fixed or {}).items():
            scenario[column] = pd.Categorical([level] * len(scenario),
                                              categories=used[column].cat.categories)
        rows.append(model.contrast(model.design_matrix(scenario).mean(axis=0)))
    curve = pd.concat(rows, ignore_index=True)
    curve.insert(0, x, np.asarray(grid, dtype=float))
    return curve[[x, "estimate", "std_error", "df", "ci_low", "ci_high"]]


@pytest.fixture(scope="module")
def visits():
    return als.validate_visits(als.load_example_cohort())


@pytest.mark.parametrize("formula", [
    "wmh_mm3 ~ group * years + age + sex + (1 | subject)",                 # random intercept
    "wmh_mm3 ~ group * years + age + sex + (1 + years | subject)",         # random slope
    "wmh_mm3 ~ group * years + I(years ** 2) + age + sex + (1 | subject)",  # not linear in x
])
def test_mean_curve_equals_former_computation_by_group(visits, formula):
    model = als.fit_lme(visits, formula)
    worst = 0.0
    for level in ["control", "ALS"]:
        mine = visits.loc[model.fit_rows]
        mine = mine[mine["group"] == level]
        grid = np.linspace(mine["years"].min(), mine["years"].max(), 41)
        new = als.mean_curve(model, "years", grid, fixed={"group": level})
        old = _former_mean_curve(model, visits, "years", grid, fixed={"group": level})
        assert list(new.columns) == list(old.columns)
        np.testing.assert_allclose(new.to_numpy(), old.to_numpy(), rtol=1e-10, atol=1e-10)
        worst = max(worst, float(np.max(np.abs(new.to_numpy() - old.to_numpy()))))
    assert worst < 1e-10


@pytest.mark.parametrize("df_method", ["satterthwaite", "kenward-roger", "normal"])
def test_mean_curve_without_fixed_equals_former(visits, df_method):
    model = als.fit_lme(visits, "wmh_mm3 ~ group * years + age + sex + (1 + years | subject)",
                        df_method=df_method)
    grid = np.linspace(0.0, 2.0, 9)
    new = als.mean_curve(model, "years", grid)
    old = _former_mean_curve(model, visits, "years", grid)
    np.testing.assert_allclose(new.to_numpy(), old.to_numpy(), rtol=1e-10, atol=1e-10)


def test_counterfactual_means_average_observed_predictions(visits):
    model = als.fit_lme(visits, "wmh_mm3 ~ group * years + age + sex + (1 | subject)")
    used = visits.loc[model.fit_rows]
    means = marginal_means(model, "group", counterfactuals="group", df_method="satterthwaite")
    for level, estimate in zip(means.table["group"], means.table["estimate"], strict=True):
        scenario = used.assign(group=pd.Categorical([level] * len(used),
                                                    categories=used["group"].cat.categories))
        expected = model.predict(scenario, include_random=False).mean()
        assert estimate == pytest.approx(expected, rel=1e-12)
    # differs from the reference grid (covariates at their means, sex levels equally weighted)
    grid_means = marginal_means(model, "group", df_method="satterthwaite")
    assert not np.allclose(grid_means.table["estimate"], means.table["estimate"])


def test_counterfactuals_reject_at_outside_and_numeric_without_values(visits):
    model = als.fit_lme(visits, "wmh_mm3 ~ group * years + age + sex + (1 | subject)")
    with pytest.raises(ValueError, match="keep their observed"):
        marginal_means(model, "group", at={"age": 60.0}, counterfactuals="group")
    with pytest.raises(ValueError, match="numeric"):
        marginal_means(model, "years", counterfactuals="years")
    with pytest.raises(ValueError, match="among counterfactuals"):
        marginal_means(model, "sex", counterfactuals="group")


REFERENCE = Path(__file__).parent / "reference"


@pytest.mark.parametrize(("name", "formula"), [
    ("intercept", "wmh_mm3 ~ group * years + age + sex + (1 | subject)"),
    ("slope", "wmh_mm3 ~ group * years + age + sex + (1 + years | subject)"),
])
def test_counterfactual_means_match_emmeans(name, formula):
    """emmeans(m, "group", counterfactuals = "group") (tests/reference/counterfactual.R)."""
    reference = json.loads((REFERENCE / "counterfactual.json").read_text())[name]
    data = pd.read_csv(REFERENCE / "counterfactual_data" / "cohort.csv")
    data["group"] = pd.Categorical(data["group"], categories=["control", "ALS"])
    data["sex"] = pd.Categorical(data["sex"], categories=["F", "M"])
    model = als.fit_lme(data, formula)
    assert model.loglik == pytest.approx(reference["logLik"][0], abs=1e-6)
    table = marginal_means(model, "group", counterfactuals="group",
                           df_method="satterthwaite").table
    assert list(table["group"]) == reference["group"]
    np.testing.assert_allclose(table["estimate"], reference["estimate"], rtol=1e-9)
    np.testing.assert_allclose(table["std_error"], reference["std_error"], rtol=1e-6)
    np.testing.assert_allclose(table["df"], reference["df"], rtol=1e-5)

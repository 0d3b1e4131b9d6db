"""The wmh_survival_joint recipe and the dynamic-survival figure."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

import alsstats as als  # noqa: E402


@pytest.fixture(scope="module")
def result():
    return als.wmh_survival_joint(als.load_example_cohort(), association="value+slope")


def test_recipe_tables(result):
    assert list(result.effect.index) == ["years", "value", "slope", "years (fit_lme)"]
    model = result.model
    # rates reported in mm3/year from a fit in cm3
    assert result.effect.loc["years", "estimate"] == pytest.approx(
        1000 * model.longitudinal.loc["years", "estimate"])
    assert result.effect.loc["years (fit_lme)", "estimate"] == pytest.approx(
        1000 * result.extra["lme"].coefficients.loc["years", "estimate"])
    assert result.effect.loc["value", "estimate"] == model.survival.loc["value", "estimate"]
    assert result.method["n_subjects"] == model.n_subjects == result.counts["n_subjects"].sum()
    dyn = result.extra["dynamic_survival"]
    assert dyn["subject"].nunique() == 3
    assert (dyn.groupby("subject")["survival"].diff().dropna() <= 1e-12).all()
    assert "mm3/year" in result.extra["comparison"]


def test_recipe_names_excluded_subjects():
    visits = als.load_example_cohort()
    first = visits.loc[visits["group"] == "ALS", "subject"].iloc[0]
    visits.loc[visits["subject"] == first, ["survival_months", "event"]] = np.nan
    result = als.wmh_survival_joint(visits)
    assert list(result.excluded["subject"]) == [first]
    assert first not in set(result.data["subject"])


def test_plot_dynamic_survival(result):
    pred = result.model.predict_survival(
        result.data[result.data["subject"] == result.data["subject"].iloc[0]],
        np.linspace(0, 4, 17), interval=True, n_draws=50, seed=0)
    ax = Figure().add_subplot()
    out = als.plot_dynamic_survival(pred, ax=ax)
    assert out is ax
    gids = {a.get_gid() for a in ax.get_children()}
    label = pred["subject"].iloc[0]
    assert {f"survival:{label}", f"band:{label}", f"last_visit:{label}"} <= gids
    line = next(a for a in ax.lines if a.get_gid() == f"survival:{label}")
    assert line.get_ydata()[0] == 1.0
    np.testing.assert_allclose(line.get_ydata()[1:], pred["survival"])
    with pytest.raises(als.DataValidationError, match="'survival'"):
        als.plot_dynamic_survival(pred.drop(columns="survival"))


def test_reproduce_runs_the_joint_model(tmp_path):
    out = als.reproduce(out=tmp_path / "results", quiet=True)
    assert (out / "figures" / "fig_joint_dynamic_survival.png").exists()
    survival = (out / "tables" / "wmh_survival_joint_survival.csv").read_text()
    assert "value" in survival
    report = (out / "report.html").read_text()
    assert "Joint model: WMH and survival without the 24-month split" in report
    assert "Hazard ratio of death per 1000 mm³ of current WMH" in report

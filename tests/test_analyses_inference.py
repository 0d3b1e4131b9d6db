"""The recipes' marginal trends, contrasts and multiplicity options (issue 12, item 6)."""

import warnings

import numpy as np
import pytest

import alsstats as als


@pytest.fixture(scope="module")
def cohort():
    return als.load_example_cohort()


def test_short_vs_long_slope_contrast_equals_interaction(cohort):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", als.UnclassifiedSubjectsWarning)
        result = als.survival_group_progression(cohort)
    row = result.effect.loc["survival_groupshort:years"]
    con = result.extra["slope_contrasts"]
    assert con["contrast"].tolist() == ["short - long"]
    # the emtrends contrast is the interaction coefficient: same estimate, SE and df
    np.testing.assert_allclose(con["estimate"].iloc[0], row["estimate"], rtol=1e-9)
    np.testing.assert_allclose(con["std_error"].iloc[0], row["std_error"], rtol=1e-9)
    np.testing.assert_allclose(con["df"].iloc[0], row["df"], rtol=1e-6)
    np.testing.assert_allclose(con["p_value"].iloc[0], row["p_value"], rtol=1e-6, atol=1e-12)
    slopes = result.extra["slopes"]
    assert slopes["survival_group"].astype(str).tolist() == ["long", "short"]
    np.testing.assert_allclose(slopes["estimate"].diff().iloc[1], row["estimate"], rtol=1e-9)


def test_phenotype_pairwise_tukey_and_adjust(cohort):
    result = als.flair_progression(cohort, roi="flair_cst", adjust="holm")
    pairs = result.extra["phenotype_pairwise"]
    model = result.extra["phenotype_model"]
    levels = list(model._data["phenotype"].cat.categories)
    assert len(pairs) == len(levels) * (len(levels) - 1) // 2
    first = f"{levels[0]} - {levels[1]}"
    assert pairs["contrast"].iloc[0] == first
    coef = model.coefficients.loc[f"phenotype{levels[1]}:years"]
    np.testing.assert_allclose(pairs["estimate"].iloc[0], -coef["estimate"], rtol=1e-9)
    np.testing.assert_allclose(pairs["std_error"].iloc[0], coef["std_error"], rtol=1e-9)
    raw = 2 * __import__("scipy").stats.t.sf(np.abs(pairs["statistic"]), pairs["df"])
    assert np.all(pairs["p_value"] >= raw - 1e-12)  # Tukey never below the unadjusted p
    np.testing.assert_allclose(result.effect["p_adjusted"],
                               als.p_adjust(result.effect["p_value"], "holm"))
    assert "holm" in result.method["adjust"]


def test_flair_vs_alsfrs_adjust(cohort):
    with warnings.catch_warnings():  # short follow-up: some stage-one fits are singular
        warnings.simplefilter("ignore", als.SingularFitWarning)
        plain = als.flair_vs_alsfrs(cohort, roi="flair_cst")
        adjusted = als.flair_vs_alsfrs(cohort, roi="flair_cst", adjust="bonferroni")
    assert "p_adjusted" not in plain.effect.columns
    n = len(adjusted.effect)
    np.testing.assert_allclose(adjusted.effect["p_adjusted"],
                               np.minimum(1.0, n * plain.effect["p_value"].to_numpy()))

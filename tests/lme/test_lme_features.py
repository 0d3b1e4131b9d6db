"""fit_lme: formulas, the engine against dense algebra and statsmodels, warnings, results."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alsstats.errors import (
    ConvergenceWarning,
    DroppedRowsWarning,
    FormulaError,
    RankDeficiencyWarning,
    ScaleWarning,
)
from alsstats.lme import fit_lme
from alsstats.lme.engine import LmeProblem
from alsstats.lme.examples import example_data
from alsstats.lme.formula import r_name, split_formula

DATA = Path(__file__).resolve().parents[1] / "reference" / "lme_data"
RIRS = "y ~ group * years + age + sex + (1 + years | subject)"


@pytest.fixture(scope="module")
def data():
    d = example_data(80, seed=3)
    d["group"] = pd.Categorical(d["group"], ["control", "ALS"])
    return d


@pytest.fixture(scope="module")
def rirs(data):
    return fit_lme(data, RIRS)


# ---------------------------------------------------------------- formulas
def test_split_formula():
    parts = split_formula("y ~ group * years + (1 + years | subject) + age")
    assert parts.response == "y" and parts.group == "subject"
    assert parts.random == "1 + years"
    assert parts.fixed.replace(" ", "") == "group*years+age"
    assert split_formula("y ~ (1 | subject)").fixed == "1"


@pytest.mark.parametrize("formula, match", [
    ("y ~ years + (1 | site:subject)", "column .site."),
    ("y ~ years", "no random-effect term"),
    ("y ~ years + nosuch + (1 | subject)", "'nosuch'"),
    ("y ~ years + (1 | nosuch)", "'nosuch'"),
    ("y ~ years + (1 + nosuch | subject)", "'nosuch'"),
])
def test_unsupported_formulas_raise_clear_errors(data, formula, match):
    with pytest.raises(FormulaError, match=match):
        fit_lme(data, formula)


def test_r_term_names_and_order(rirs, data):
    assert list(rirs.coefficients.index) == ["Intercept", "groupALS", "years", "age", "sexM",
                                             "groupALS:years"]
    assert list(rirs.random_effects_cov.index) == ["Intercept", "years"]
    assert r_name("group[T.ALS]:years") == "groupALS:years"
    # character column: reference level alphabetical, as R
    plain = data.assign(group=data["group"].astype(str))
    res = fit_lme(plain, "y ~ group + years + (1 | subject)")
    assert "groupcontrol" in res.coefficients.index
    # numeric-by-numeric interaction keeps R's name
    res = fit_lme(data.assign(als=(data["group"] == "ALS").astype(float)),
                  "y ~ als * years + (1 | subject)")
    assert list(res.coefficients.index) == ["Intercept", "als", "years", "als:years"]


def test_random_slope_only_and_implicit_intercept(data):
    slope = fit_lme(data, "y ~ years + (0 + years | subject)")
    assert slope.random_terms == ["years"]
    implicit = fit_lme(data, "y ~ years + (years | subject)")
    explicit = fit_lme(data, "y ~ years + (1 + years | subject)")
    assert implicit.random_terms == ["Intercept", "years"]
    assert implicit.loglik == explicit.loglik


def test_input_not_modified_and_missing_rows_counted(data):
    d = data.copy()
    d.loc[[0, 5, 9], "y"] = np.nan
    d.loc[[11], "age"] = np.nan
    before = d.copy()
    with pytest.warns(DroppedRowsWarning, match="left out 4 of 240 rows.*y: 3, age: 1"):
        res = fit_lme(d, RIRS)
    pd.testing.assert_frame_equal(d, before)
    assert res.nobs == 236 and res.n_dropped_rows == 4


# ---------------------------------------------------------------- engine
def dense_deviance(X, y, Z, codes, lam, reml):
    """The profiled deviance from dense n x n algebra (matrix determinant lemma etc.)."""
    n, p = X.shape
    m = codes.max() + 1
    zfull = np.zeros((n, m * Z.shape[1]))
    for j in range(Z.shape[1]):
        zfull[np.arange(n), codes * Z.shape[1] + j] = Z[:, j]
    lfull = np.kron(np.eye(m), lam)
    v0 = zfull @ lfull @ lfull.T @ zfull.T + np.eye(n)
    vinv = np.linalg.inv(v0)
    xvx = X.T @ vinv @ X
    beta = np.linalg.solve(xvx, X.T @ vinv @ y)
    r = y - X @ beta
    r2 = r @ vinv @ r
    logdet = np.linalg.slogdet(v0)[1]
    if reml:
        return logdet + np.linalg.slogdet(xvx)[1] + (n - p) * (1 + np.log(2 * np.pi * r2 / (n - p)))
    return logdet + n * (1 + np.log(2 * np.pi * r2 / n)), beta


@pytest.mark.parametrize("q", [1, 2, 3])
def test_profiled_deviance_equals_dense_algebra(q):
    d = pd.read_csv(DATA / "small.csv", dtype={"subject": str})
    codes = pd.factorize(d["subject"], sort=True)[0]
    X = np.column_stack([np.ones(len(d)), d["als"], d["years"], d["als"] * d["years"]])
    Z = np.column_stack([np.ones(len(d)), d["years"], d["years"] ** 2])[:, :q]
    y = d["y"].to_numpy()
    rng = np.random.default_rng(q)
    problem = LmeProblem(X, y, Z, codes, codes.max() + 1)
    theta = rng.uniform(0.2, 1.5, problem.n_theta)
    lam = problem.lam(theta)
    dev_ml, beta = dense_deviance(X, y, Z, codes, lam, reml=False)
    assert problem.deviance(theta, reml=False) == pytest.approx(dev_ml, rel=1e-11)
    assert problem.deviance(theta, reml=True) == pytest.approx(
        dense_deviance(X, y, Z, codes, lam, reml=True), rel=1e-11)
    np.testing.assert_allclose(problem.evaluate(theta).beta, beta, rtol=1e-10)
    # the generic batched path gives the same as the closed-form 1x1 / 2x2 algebra
    generic = LmeProblem(X, y, Z, codes, codes.max() + 1)
    generic.closed_form = False
    assert generic.deviance(theta, True) == pytest.approx(problem.deviance(theta, True), rel=1e-12)
    ev, evg = problem.evaluate(theta), generic.evaluate(theta)
    np.testing.assert_allclose(problem.random_effects(ev), generic.random_effects(evg),
                               rtol=1e-9, atol=1e-12)


def test_three_random_terms_refused_when_unidentifiable(data):
    """80 subjects x 3 visits and 3 random effects each: as many random effects as
    observations, which lme4 refuses (check.nobs.vs.nRE); an identifiable 3-term fit is
    sleepstudy's quadratic model in test_lme_engine_reference.py."""
    d = data.assign(years2=data["years"] ** 2)
    with pytest.raises(FormulaError, match=r"\(1 \+ years \+ years2 \| subject\).*nRE"):
        fit_lme(d, "y ~ group * years + (1 + years + years2 | subject)")


def test_statsmodels_cross_check():
    smf = pytest.importorskip("statsmodels.formula.api")
    d = pd.read_csv(DATA / "unbalanced.csv", dtype={"subject": str})
    d["group"] = pd.Categorical(d["group"], ["control", "ALS"])
    ours = fit_lme(d, "y ~ group * years + age + sex + (1 | subject)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sm = smf.mixedlm("y ~ group * years + age + sex", d, groups="subject").fit(reml=True)
    sm_fe = sm.fe_params.rename(index=r_name)
    np.testing.assert_allclose(ours.coefficients["estimate"], sm_fe.loc[ours.coefficients.index],
                               rtol=1e-3)
    np.testing.assert_allclose(ours.residual_variance, sm.scale, rtol=1e-3)
    np.testing.assert_allclose(ours.random_effects_cov.iloc[0, 0], sm.cov_re.iloc[0, 0], rtol=1e-3)


# ---------------------------------------------------------------- warnings
def test_rank_deficiency_drops_named_column(data):
    d = data.assign(age_copy=data["age"] * 2.0)
    with pytest.warns(RankDeficiencyWarning, match="age_copy"):
        res = fit_lme(d, "y ~ group + years + age + age_copy + (1 | subject)")
    assert res.dropped_terms == ["age_copy"] and "age_copy" not in res.coefficients.index
    ref = fit_lme(d, "y ~ group + years + age + (1 | subject)")
    np.testing.assert_allclose(res.coefficients["estimate"], ref.coefficients["estimate"],
                               rtol=1e-10)


def test_scale_warning_says_how_to_rescale(data):
    d = data.assign(age_mm=data["age"] * 1e5)
    with pytest.warns(ScaleWarning, match="rescale"):
        fit_lme(d, "y ~ years + age_mm + (1 | subject)")
    fit_lme(d, "y ~ years + age_mm + (1 | subject)", check_scale=False)  # silent


def test_convergence_warning(data):
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        res = fit_lme(data, RIRS, optimizer={"maxeval": 3})
    assert not res.converged


# ---------------------------------------------------------------- results
def test_predict_fitted_and_population(rirs, data):
    np.testing.assert_allclose(rirs.predict(data), rirs.fitted, rtol=1e-12)
    pop = rirs.predict(data, include_random=False)
    np.testing.assert_allclose(pop, rirs._X @ rirs.coefficients["estimate"].to_numpy())
    new = data.iloc[:3].assign(subject="never-seen")
    with pytest.raises(ValueError, match="'subject' not in the fit: never-seen"):
        rirs.predict(new)
    np.testing.assert_allclose(rirs.predict(new, allow_new_levels=True), pop[:3])
    # conditional residuals are small compared with marginal ones
    assert np.var(rirs.residuals) < np.var(data["y"] - pop)


def test_blups_indexed_by_subject(rirs, data):
    assert rirs.random_effects.index.name == "subject"
    assert list(rirs.random_effects.columns) == ["Intercept", "years"]
    assert len(rirs.random_effects) == data["subject"].nunique()


def test_rescale(rirs):
    row = rirs.rescale("years", per=500)
    base = rirs.coefficients.loc["years"]
    assert row.loc["years", "estimate"] == pytest.approx(500 * base["estimate"])
    assert row.loc["years", "ci_high"] == pytest.approx(500 * base["ci_high"])
    assert row.loc["years", "p_value"] == base["p_value"]
    with pytest.raises(KeyError, match="nosuch"):
        rirs.rescale("nosuch")


def test_confidence_intervals_use_satterthwaite_df(rirs, data):
    from scipy import stats

    co = rirs.coefficients
    crit = stats.t.ppf(0.975, co["df"])
    np.testing.assert_allclose(co["ci_high"] - co["estimate"], crit * co["std_error"])
    z = fit_lme(data, RIRS, df_method="normal")
    assert np.all(np.isinf(z.coefficients["df"]))


def test_contrast_equals_single_coefficient(rirs):
    one = rirs.contrast({"groupALS:years": 1.0})
    row = rirs.coefficients.loc["groupALS:years"]
    assert one["df"].iloc[0] == pytest.approx(row["df"], rel=1e-12)
    assert one["p_value"].iloc[0] == pytest.approx(row["p_value"], rel=1e-12)


def test_summary_reads_like_lmertest(rirs):
    text = rirs.summary().text
    assert "Linear mixed model fit by REML" in text and "Satterthwaite" in text
    assert "(Intercept)" in text and "groupALS:years" in text
    assert "Number of obs: 240, groups:  subject, 80" in text


def test_bootstrap_reproducible_and_calibrated():
    d = pd.read_csv(DATA / "small.csv", dtype={"subject": str})
    res = fit_lme(d, "y ~ als * years + (1 | subject)")
    a = res.bootstrap(n=40, seed=7)
    b = res.bootstrap(n=40, seed=7)
    pd.testing.assert_frame_equal(a.estimates, b.estimates)
    big = res.bootstrap(n=1000, seed=1)
    assert big.n_failed == 0 and len(big.estimates) == 1000
    sd = big.estimates[list(res.coefficients.index)].std()
    np.testing.assert_allclose(sd, res.coefficients["std_error"], rtol=0.1)
    ci = big.ci.set_index("term")
    assert np.all(ci["ci_low"] < ci["estimate"]) and np.all(ci["estimate"] < ci["ci_high"])

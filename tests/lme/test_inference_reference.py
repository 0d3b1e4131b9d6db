"""Kenward-Roger, F tables, marginal means and robust SEs against R.

R's numbers come from tests/reference/inference.R (lmerTest 3.1, pbkrtest 0.5, emmeans 1.8,
clubSandwich 0.5) on the lme4 fit with the best REML criterion over three optimisers. Each
model is checked twice: alsstats' own fit against the issue's tolerances, and the same
computations at lme4's theta (``_fit_frame(theta=...)``) to 1e-8, which isolates the inference
code from the optimiser's stopping point.
"""

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alsstats.lme import fit_lme
from alsstats.lme.fit import _fit_frame
from alsstats.lme.kenward_roger import _dense, _merge_same_factor, _one_factor, kenward_roger
from alsstats.lme.structure import model_structure

REF_DIR = Path(__file__).parents[1] / "reference"
REF = json.loads((REF_DIR / "inference.json").read_text())
TOL = {"estimate": 1e-6, "std_error": 1e-5, "df": 1e-3, "f_value": 1e-5, "p_value": 1e-5}


def load(name: str) -> tuple[pd.DataFrame, str]:
    data_dir = REF_DIR / "inference_data"
    if name == "sleepstudy":
        return (pd.read_csv(data_dir / "sleepstudy.csv"), "Reaction ~ Days + (Days | Subject)")
    if name == "orthodont":
        d = pd.read_csv(data_dir / "orthodont.csv")
        d["Sex"] = pd.Categorical(d["Sex"], categories=REF["orthodont"]["levels"]["Sex"])
        return d, "distance ~ age * Sex + (age | Subject)"
    if name == "bodyweight":
        d = pd.read_csv(data_dir / "bodyweight.csv")
        d["Diet"] = pd.Categorical(d["Diet"].astype(str),
                                   categories=REF["bodyweight"]["levels"]["Diet"])
        return d, "weight ~ Time * Diet + (Time | Rat)"
    d = pd.read_csv(REF_DIR / REF["calsnic"]["data"])
    d["group"] = pd.Categorical(d["group"], categories=["control", "ALS"])
    return d, "y ~ group * years + age + sex + (1 + years | subject)"


_FITS: dict = {}
_TERM_FORMULAS = {"poly": "y ~ group * poly(years, 2) + age + (1 | subject)",
                  "factor": "y ~ factor(als) * years + age + (1 + years | subject)"}


def fits(name: str, df_method: str = "kenward-roger"):
    """(own fit, fit at lme4's theta), cached."""
    key = (name, df_method)
    if key not in _FITS:
        if name in _TERM_FORMULAS:  # formula functions inside terms, CALSNIC-like data
            data, formula = load("calsnic")[0], _TERM_FORMULAS[name]
            theta = REF["calsnic_terms"][name]["theta"]
        else:
            data, formula = load(name)
            theta = REF[name]["theta"]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            own = fit_lme(data, formula, df_method=df_method)
            at_r = _fit_frame(own._frame, reml=True, df_method=df_method, ci_level=0.95,
                              check_scale=False, start=None, optimizer=None, quiet=True,
                              theta=np.array(theta), variables=own._data)
        _FITS[key] = (own, at_r)
    return _FITS[key]


def close(got, want, tol, rel=False):
    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    err = np.abs(got - want) / (np.abs(want) if rel else 1.0)
    assert np.all(err <= tol), f"max error {np.max(err):.3g} > {tol:.1g}"


MODELS = ["sleepstudy", "orthodont", "bodyweight", "calsnic"]


@pytest.mark.parametrize("name", MODELS)
def test_kenward_roger_coefficients_at_lme4_theta(name):
    _, fit = fits(name)
    ref = REF[name]["kr"]
    c = fit.coefficients
    assert list(c.index) == ref["term"]
    for col in ("estimate", "std_error", "statistic"):
        close(c[col], ref[col], 1e-8, rel=True)
    close(c["df"], ref["df"], 1e-9, rel=True)
    close(c["p_value"], ref["p_value"], 1e-10)
    close(kenward_roger(fit).phi_adj, REF[name]["vcov_adj"], 1e-8, rel=True)


@pytest.mark.parametrize("name", MODELS)
def test_kenward_roger_coefficients_own_fit(name):
    own, _ = fits(name)
    ref = REF[name]["kr"]
    c = own.coefficients
    close(c["estimate"], ref["estimate"], TOL["estimate"], rel=True)
    close(c["std_error"], ref["std_error"], TOL["std_error"], rel=True)
    close(c["df"], ref["df"], TOL["df"])
    close(c["p_value"], ref["p_value"], TOL["p_value"])


def test_one_factor_path_equals_dense_path():
    own, _ = fits("calsnic")
    st = model_structure(own)
    fast = _one_factor(st.X, st.sigma2, st.blocks[0])
    dense = _dense(st.X, st.sigma2, st.blocks)
    for a, b in zip(fast, dense, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-10 * np.max(np.abs(b)))


ANOVA_CASES = [(name, key) for name in ("orthodont", "bodyweight", "calsnic")
               for key in REF[name]["anova"]]


@pytest.mark.parametrize(("name", "key"), ANOVA_CASES)
def test_anova_matches_lmertest(name, key):
    type_ = int(key[4])
    method = "kenward-roger" if "Kenward" in key else "satterthwaite"
    ref = pd.DataFrame(REF[name]["anova"][key]).set_index("term")
    own, at_r = fits(name)
    for fit, tight in ((at_r, True), (own, False)):
        tab = fit.anova(type=type_, df_method=method)
        assert list(tab.index) == list(ref.index)
        assert list(tab.columns) == ["sum_sq", "mean_sq", "num_df", "den_df", "f_value",
                                     "p_value"]
        np.testing.assert_array_equal(tab["num_df"], ref["num_df"])
        if tight:  # Satterthwaite df: lmerTest's numerical Hessian, reproduced to ~1e-5
            close(tab["f_value"], ref["f_value"], 1e-7, rel=True)
            if method == "kenward-roger":
                close(tab["den_df"], ref["den_df"], 1e-9, rel=True)
            else:
                close(tab["den_df"], ref["den_df"], 1e-3)
            close(tab["p_value"], ref["p_value"], 1e-7 if method == "kenward-roger" else 1e-6)
        else:
            close(tab["f_value"], ref["f_value"], TOL["f_value"], rel=True)
            close(tab["den_df"], ref["den_df"], TOL["df"])
            close(tab["p_value"], ref["p_value"], TOL["p_value"])


@pytest.mark.parametrize("method", ["Satterthwaite", "Kenward-Roger"])
def test_contest_matches_lmertest(method):
    _, fit = fits("orthodont")
    ref = REF["orthodont"]["contest"][method]
    got = fit.test(REF["orthodont"]["contest_L"], df_method=method.lower()).iloc[0]
    close(got["f_value"], ref["F value"], 1e-8, rel=True)
    close(got["sum_sq"], ref["Sum Sq"], 1e-8, rel=True)
    close(got["den_df"], ref["DenDF"], 1e-8 if method == "Kenward-Roger" else 1e-3)
    close(got["p_value"], ref["Pr(>F)"], 1e-8)


# ------------------------------------------------------------------ emmeans / emtrends / pairs
EMM_METHODS = ["satterthwaite", "kenward-roger"]


def _check_rows(got: pd.DataFrame, ref: dict, est_key: str, tight: bool, kr: bool):
    tol_se = 1e-9 if tight else TOL["std_error"]
    close(got["estimate"], ref[est_key], 1e-9 if tight else TOL["estimate"], rel=True)
    close(got["std_error"], ref["SE"], tol_se, rel=True)
    # KR df are exact at lme4's theta; Satterthwaite df come from lmerTest's numerical Hessian
    close(got["df"], ref["df"], 1e-8 if tight and kr else TOL["df"])
    close(got["statistic"], ref["t.ratio"], 1e-8 if tight else 1e-5, rel=True)


@pytest.mark.parametrize("df_method", EMM_METHODS)
def test_marginal_means_match_emmeans(df_method):
    import alsstats as als

    ref = REF["bodyweight"]
    own, at_r = fits("bodyweight")
    for fit, tight in ((at_r, True), (own, False)):
        mm = als.marginal_means(fit, "Diet", df_method=df_method)
        assert mm.table["Diet"].astype(str).tolist() == ref["emmeans"][df_method]["Diet"]
        _check_rows(mm.table, ref["emmeans"][df_method], "emmean", tight, df_method == "kenward-roger")
        close(mm.table["ci_low"], ref["emmeans"][df_method]["lower.CL"], 1e-5, rel=True)
        close(mm.table["p_value"], ref["emmeans"][df_method]["p.value"], 1e-10)
        at = als.marginal_means(fit, "Diet", at={"Time": 20}, df_method=df_method)
        _check_rows(at.table, ref["emmeans_at"][df_method], "emmean", tight, df_method == "kenward-roger")


@pytest.mark.parametrize("df_method", EMM_METHODS)
def test_contrasts_match_emmeans_pairs(df_method):
    import alsstats as als

    ref = REF["bodyweight"]
    own, at_r = fits("bodyweight")
    for fit, tight in ((at_r, True), (own, False)):
        mm = als.marginal_means(fit, "Diet", df_method=df_method)
        tukey = als.contrasts(mm, "pairwise", adjust="tukey").table
        r = ref["pairs_tukey"][df_method]
        assert tukey["contrast"].tolist() == r["contrast"]
        _check_rows(tukey, r, "estimate", tight, df_method == "kenward-roger")
        close(tukey["p_value"], r["p.value"], 1e-4)  # scipy's studentized range vs ptukey
        holm = als.contrasts(mm, "pairwise", adjust="holm").table
        close(holm["p_value"], ref["pairs_holm"][df_method]["p.value"], TOL["p_value"])
        tvc = als.contrasts(mm, "trt.vs.ctrl", adjust="none").table
        assert tvc["contrast"].tolist() == ref["trt_vs_ctrl"][df_method]["contrast"]
        close(tvc["p_value"], ref["trt_vs_ctrl"][df_method]["p.value"], TOL["p_value"])


@pytest.mark.parametrize("df_method", EMM_METHODS)
def test_marginal_trends_match_emtrends(df_method):
    import alsstats as als

    ref = REF["bodyweight"]
    own, at_r = fits("bodyweight")
    for fit, tight in ((at_r, True), (own, False)):
        tr = als.marginal_trends(fit, "Diet", "Time", df_method=df_method)
        _check_rows(tr.table, ref["emtrends"][df_method], "Time.trend", tight, df_method == "kenward-roger")
        pairs = als.contrasts(tr).table
        r = ref["emtrends_pairs"][df_method]
        assert pairs["contrast"].tolist() == r["contrast"]
        _check_rows(pairs, r, "estimate", tight, df_method == "kenward-roger")
        close(pairs["p_value"], r["p.value"], 1e-4)


def test_revpairwise_reverses_pairwise():
    import alsstats as als

    own, _ = fits("bodyweight")
    mm = als.marginal_means(own, "Diet")
    fwd = als.contrasts(mm, "pairwise", adjust="none").table
    rev = als.contrasts(mm, "revpairwise", adjust="none").table
    assert rev["contrast"].tolist() == ["Diet2 - Diet1", "Diet3 - Diet1", "Diet3 - Diet2"]
    np.testing.assert_allclose(rev["estimate"], -fwd["estimate"], rtol=1e-12)
    np.testing.assert_allclose(rev["p_value"], fwd["p_value"], rtol=1e-12)
    with pytest.raises(ValueError, match="tukey"):
        als.contrasts(mm, "trt.vs.ctrl", adjust="tukey")
    with pytest.raises(KeyError, match="not variables"):
        als.marginal_means(own, "Rat_id")


# ------------------------------------------------------------------ clubSandwich
@pytest.mark.parametrize("type_", ["CR2", "CR1", "CR0"])
def test_robust_matches_clubsandwich(type_):
    ref = REF["orthodont"]["coef_test"][type_]
    for fit in fits("orthodont"):
        rob = fit.robust(type_)
        c = rob.coefficients
        assert list(c.index) == ref["term"] and rob.method["n_clusters"] == 27
        close(c["estimate"], ref["estimate"], TOL["estimate"], rel=True)
        close(c["std_error"], ref["std_error"], TOL["std_error"], rel=True)
        close(c["df"], ref["df"], TOL["df"])
        close(c["p_value"], ref["p_value"], TOL["p_value"])


def test_robust_cluster_checks():
    own, _ = fits("orthodont")
    by_sex = own.robust("CR2", cluster="Sex")  # subjects nested in sex: allowed
    assert by_sex.method["n_clusters"] == 2
    with pytest.raises(ValueError, match="nested"):
        own.robust("CR2", cluster=np.arange(own.nobs) % 3)
    with pytest.raises(ValueError, match="type"):
        own.robust("HC3")


# ------------------------------------------------------------------ several random terms
def _multi_structure(name: str):
    """A ModelStructure built from R's variance components (dense KR path)."""
    from alsstats.lme.structure import Block, ModelStructure

    ref = REF["multi"][name]
    if name == "penicillin":
        d = pd.read_csv(REF_DIR / "inference_data" / "penicillin.csv")
        y = d["diameter"].to_numpy(float)
        X = np.ones((len(d), 1))
        zs = [("plate", np.ones((len(d), 1))), ("sample", np.ones((len(d), 1)))]
        groups = ["plate", "sample"]
    else:
        d = pd.read_csv(REF_DIR / "inference_data" / "sleepstudy.csv")
        y = d["Reaction"].to_numpy(float)
        X = np.column_stack([np.ones(len(d)), d["Days"]])
        zs = [("Subject", np.ones((len(d), 1))), ("Subject", d[["Days"]].to_numpy(float))]
        groups = ["Subject", "Subject"]
    blocks = []
    for (grp, Z), g, b in zip(zs, groups, ref["blocks"], strict=True):
        codes, levels = pd.factorize(d[g], sort=True)
        blocks.append(Block(grp=grp, codes=codes, n_levels=len(levels), Z=Z,
                            cov=np.atleast_2d(b["cov"]), z_names=["Intercept"]))
    names = ref["kr"]["term"]
    return ModelStructure(X=X, y=y, beta=np.array(ref["beta"]), names=names,
                          vcov=np.atleast_2d(ref["vcov"]), sigma2=ref["sigma2"], reml=True,
                          blocks=blocks, x_assign=np.arange(len(names)),
                          x_terms=["(Intercept)", *names[1:]], result=None)


@pytest.mark.parametrize("name", ["penicillin", "sleepstudy_uncorrelated"])
def test_kenward_roger_several_random_terms(name):
    from alsstats.lme.kenward_roger import kenward_roger_parts

    ref = REF["multi"][name]
    st = _multi_structure(name)
    kr = kenward_roger_parts(st)
    close(kr.phi, np.atleast_2d(ref["vcov"]), 1e-9, rel=True)
    close(kr.phi_adj, np.atleast_2d(ref["vcov_adj"]), 1e-9, rel=True)
    eye = np.eye(st.p)
    close(np.sqrt(np.diag(kr.phi_adj)), ref["kr"]["std_error"], 1e-9, rel=True)
    close(kr.df_rows(eye), ref["kr"]["df"], 1e-8, rel=True)
    close([kr.df(row) for row in eye], ref["kr"]["df"], 1e-8, rel=True)
    # one grouping factor takes the per-subject path (no n x n matrix), crossed ones the dense
    assert (_merge_same_factor(st.blocks) is None) == (name == "penicillin")


def test_model_variables_with_a_duplicated_index():
    import alsstats as als
    from alsstats.lme.examples import example_data

    data = example_data()
    data.index = np.zeros(len(data), dtype=int)
    fit = als.fit_lme(data, "y ~ group * years + (1 + years | subject)")
    assert fit._data.shape[0] == fit.nobs
    means = als.marginal_means(fit, "group", df_method="satterthwaite").table
    # a model with group * years: the mean at the mean of years is the prediction there
    grid = pd.DataFrame({"group": means["group"], "years": data["years"].mean(),
                         "subject": data["subject"].iloc[0], "y": 0.0})
    np.testing.assert_allclose(means["estimate"], fit.predict(grid, include_random=False))
    data.loc[:, "y"] = data["y"].where(np.arange(len(data)) % 7 != 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dropped = als.fit_lme(data, "y ~ group * years + (1 + years | subject)")
    with pytest.raises(ValueError, match="unique index"):
        als.marginal_means(dropped, "group")


def test_kenward_roger_fit_compares_by_likelihood_ratio():
    from alsstats.lme import compare_lme

    data, formula = load("orthodont")
    small = fit_lme(data, "distance ~ age + Sex + (age | Subject)", df_method="kenward-roger")
    big, _ = fits("orthodont")
    lrt = compare_lme(small, big)  # both refitted by ML (where KR does not apply)
    assert lrt.refitted_ml and lrt.df == 1 and 0 < lrt.p_value < 1


@pytest.mark.parametrize("df_method", EMM_METHODS)
def test_marginal_means_grids_match_emmeans(df_method):
    """Two specs (first varying fastest), a numeric spec at given values, a covariate averaged
    over given values, and Tukey pairs of four means with emmeans' two-factor labels."""
    import alsstats as als

    kr = df_method == "kenward-roger"
    _, body = fits("bodyweight")
    ref = REF["bodyweight"]["emmeans_diet_time"][df_method]
    got = als.marginal_means(body, ["Diet", "Time"], at={"Time": [10, 40]},
                             df_method=df_method).table
    assert got["Diet"].astype(str).tolist() == ref["Diet"]
    assert got["Time"].tolist() == ref["Time"]
    _check_rows(got, ref, "emmean", True, kr)
    ref = REF["bodyweight"]["emmeans_time_averaged"][df_method]
    got = als.marginal_means(body, "Diet", at={"Time": [1, 64]}, df_method=df_method).table
    _check_rows(got, ref, "emmean", True, kr)
    _, cal = fits("calsnic")
    ref = REF["calsnic"]["emmeans_group_sex"][df_method]
    means = als.marginal_means(cal, ["group", "sex"], df_method=df_method)
    assert means.table["group"].astype(str).tolist() == ref["group"]
    assert means.table["sex"].astype(str).tolist() == ref["sex"]
    _check_rows(means.table, ref, "emmean", True, kr)
    pairs = als.contrasts(means).table
    ref = REF["calsnic"]["pairs_group_sex"][df_method]
    assert pairs["contrast"].tolist() == ref["contrast"]
    _check_rows(pairs, ref, "estimate", True, kr)
    close(pairs["p_value"], ref["p.value"], 1e-4)


def test_anova_type_names_and_errors():
    own, _ = fits("orthodont")
    pd.testing.assert_frame_equal(own.anova("III"), own.anova(3))
    pd.testing.assert_frame_equal(own.anova("I", "satterthwaite"), own.anova(1, "satterthwaite"))
    with pytest.raises(ValueError, match="type"):
        own.anova(4)
    with pytest.raises(ValueError, match="df_method"):
        own.anova(3, df_method="normal")
    with pytest.raises(ValueError, match="columns"):
        own.test([1.0, 0.0])
    with pytest.raises(KeyError, match="unknown term"):
        own.test({"agee": 1.0})


@pytest.mark.parametrize("df_method", EMM_METHODS)
def test_proportional_weights_match_emmeans(df_method):
    import alsstats as als

    _, cal = fits("calsnic")
    ref = REF["calsnic"]["emmeans_group_proportional"][df_method]
    got = als.marginal_means(cal, "group", df_method=df_method, weights="proportional").table
    _check_rows(got, ref, "emmean", True, df_method == "kenward-roger")
    equal = als.marginal_means(cal, "group", df_method=df_method).table
    assert not np.allclose(got["estimate"], equal["estimate"])  # the sex mix matters here


@pytest.mark.parametrize("name", ["poly", "factor"])
@pytest.mark.parametrize("method", ["Satterthwaite", "Kenward-Roger"])
def test_anova_type3_with_formula_functions(name, method):
    """poly() (a two-column numeric term) and factor() of a 0/1 column, as lmerTest."""
    ref = pd.DataFrame(REF["calsnic_terms"][name]["anova"][method]).set_index("term")
    _, fit = fits(name)
    tab = fit.anova(3, df_method=method.lower())
    assert list(tab.index) == list(ref.index)
    np.testing.assert_array_equal(tab["num_df"], ref["num_df"])
    close(tab["f_value"], ref["f_value"], 1e-7, rel=True)
    close(tab["den_df"], ref["den_df"], 1e-9 if method == "Kenward-Roger" else 1e-3,
          rel=method == "Kenward-Roger")


@pytest.mark.parametrize("df_method", EMM_METHODS)
def test_marginal_means_and_trends_of_a_polynomial(df_method):
    """Covariates enter poly() at their mean (emmeans); the trend is emmeans' forward difference
    quotient (step 0.001 x range), and a small step gives the derivative."""
    import alsstats as als

    kr = df_method == "kenward-roger"
    _, fit = fits("poly")
    ref = REF["calsnic_terms"]["poly"]
    means = als.marginal_means(fit, "group", df_method=df_method).table
    _check_rows(means, ref["emmeans"][df_method], "emmean", True, kr)
    trends = als.marginal_trends(fit, "group", "years", df_method=df_method).table
    r = ref["emtrends"][df_method]
    close(trends["estimate"], r["years.trend"], 1e-9, rel=True)
    close(trends["std_error"], r["SE"], 1e-9, rel=True)
    close(trends["df"], r["df"], 1e-8 if kr else 1e-3, rel=kr)
    fine = als.marginal_trends(fit, "group", "years", df_method=df_method, delta_var=1e-7)
    # the exact slope of b1 P1(x) + b2 P2(x) at the mean: the quotient's error is O(delta)
    exact = als.marginal_trends(fit, "group", "years", df_method=df_method, delta_var=1e-5)
    close(fine.table["estimate"], exact.table["estimate"], 1e-6, rel=True)
    assert np.all(np.abs(exact.table["estimate"] - trends["estimate"]) > 1e-3)


@pytest.mark.parametrize(("name", "formula"), [
    ("penicillin", "diameter ~ 1 + (1 | plate) + (1 | sample)"),
    ("sleepstudy_uncorrelated", "Reaction ~ Days + (1 | Subject) + (0 + Days | Subject)"),
])
def test_kenward_roger_of_engine_fits_with_several_terms(name, formula):
    """The engine's own multi-term fits, read through model_structure, against pbkrtest."""
    ref = REF["multi"][name]["kr"]
    csv = "penicillin.csv" if name == "penicillin" else "sleepstudy.csv"
    data = pd.read_csv(REF_DIR / "inference_data" / csv)
    fit = fit_lme(data, formula, df_method="kenward-roger")
    c = fit.coefficients
    assert list(c.index) == ref["term"]
    close(c["estimate"], ref["estimate"], TOL["estimate"], rel=True)
    close(c["std_error"], ref["std_error"], TOL["std_error"], rel=True)
    close(c["df"], ref["df"], TOL["df"])
    close(c["p_value"], ref["p_value"], TOL["p_value"])
    assert len(model_structure(fit).blocks) == 2

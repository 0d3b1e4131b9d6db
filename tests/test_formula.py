"""Unit tests of the formula layer: grammar, terms, functions, levels, safety, errors."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import alsstats as als
from alsstats.errors import DataValidationError, FormulaError
from alsstats.formula import (
    build_model_frame,
    deparse,
    model_design,
    parse_surv_formula,
    quote_name,
    r_levels,
    r_sort,
)
from alsstats.formula._parser import parse_formula_text
from alsstats.formula._terms import expand_terms
from alsstats.lme.examples import example_data


@pytest.fixture(scope="module")
def data():
    return example_data(40, seed=5)


def labels(rhs: str) -> tuple[list[str], bool]:
    spec = expand_terms(parse_formula_text(rhs))
    return spec.term_labels, spec.intercept


# ---------------------------------------------------------------- grammar and terms
@pytest.mark.parametrize("rhs, terms, intercept", [
    ("a * b", ["a", "b", "a:b"], True),
    ("a * b * c", ["a", "b", "c", "a:b", "a:c", "b:c", "a:b:c"], True),
    ("(a + b + c)^2", ["a", "b", "c", "a:b", "a:c", "b:c"], True),
    ("(a + b)^2 - a:b", ["a", "b"], True),
    ("a / b", ["a", "a:b"], True),
    ("(a + b) / c", ["a", "b", "a:b:c"], True),
    ("a:b + a", ["a", "a:b"], True),
    ("b:a + a", ["a", "b:a"], True),
    ("a - 1", ["a"], False),
    ("-1 + a", ["a"], False),
    ("0 + a", ["a"], False),
    ("a + 0", ["a"], False),
    ("1", [], True),
    ("a + a + a:a", ["a"], True),
    ("a * b - a", ["b", "a:b"], True),
    ("x + I(x^2) + log(x + 1)", ["x", "I(x^2)", "log(x + 1)"], True),
])
def test_term_expansion_as_r(rhs, terms, intercept):
    assert labels(rhs) == (terms, intercept)


def test_deparse_is_r_text():
    for text, r in [("poly(Days,2)", "poly(Days, 2)"), ("I(Days**2)", "I(Days^2)"),
                    ("ns(x,df=3)", "ns(x, df = 3)"), ("I(a/b)", "I(a/b)"),
                    ("status==2", "status == 2"), ("`flair cst-left`", "`flair cst-left`"),
                    ("I(-x)", "I(-x)"), ("I(x^-1)", "I(x^-1)"), ("log(x, 10)", "log(x, 10)"),
                    ("poly(x, 2, raw=TRUE)", "poly(x, 2, raw = TRUE)"),
                    ("I(1e5 * x)", "I(1e+05 * x)"), ("I(0.5 * x)", "I(0.5 * x)")]:
        assert deparse(parse_formula_text(text)) == r


def test_r_arithmetic_power_is_power_not_xor():
    d = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0]})
    design, _, _ = model_design("0 + I(x^2) + I(2^x) + I(-x^2) + I((x - 1) / 2) + I(x %% 3)", d)
    np.testing.assert_array_equal(design.matrix, [[1, 2, -1, 0, 1], [4, 4, -4, 0.5, 2],
                                                  [9, 8, -9, 1, 0], [16, 16, -16, 1.5, 1]])


# ---------------------------------------------------------------- functions vs hand values
def test_math_functions_hand_values():
    d = pd.DataFrame({"x": [1.0, 8.0, 100.0], "z": [-2.0, 0.0, 9.0]})
    design, _, _ = model_design(
        "0 + log(x) + log2(x) + log10(x) + log1p(x) + exp(z) + sqrt(x) + abs(z)", d)
    m = design.matrix
    np.testing.assert_allclose(m[:, 0], [0.0, math.log(8), math.log(100)])
    np.testing.assert_allclose(m[:, 1], [0.0, 3.0, math.log2(100)])
    np.testing.assert_allclose(m[:, 2], [0.0, math.log10(8), 2.0])
    np.testing.assert_allclose(m[:, 3], [math.log(2), math.log(9), math.log(101)])
    np.testing.assert_allclose(m[:, 4], [math.exp(-2), 1.0, math.exp(9)])
    np.testing.assert_allclose(m[:, 5], [1.0, math.sqrt(8), 10.0])
    np.testing.assert_allclose(m[:, 6], [2.0, 0.0, 9.0])
    assert design.names == ["log(x)", "log2(x)", "log10(x)", "log1p(x)", "exp(z)", "sqrt(x)",
                            "abs(z)"]


def test_poly_scale_hand_values_and_new_data():
    d = pd.DataFrame({"x": [1.0, 2.0, 3.0]})
    design, _, _ = model_design("poly(x, 2) + scale(x) + poly(x, 2, raw = TRUE)", d)
    s2, s6 = math.sqrt(2), math.sqrt(6)
    np.testing.assert_allclose(design.matrix, [
        [1, -1 / s2, 1 / s6, -1, 1, 1],
        [1, 0, -2 / s6, 0, 2, 4],
        [1, 1 / s2, 1 / s6, 1, 3, 9]], atol=1e-15)
    assert design.names == ["Intercept", "poly(x, 2)1", "poly(x, 2)2", "scale(x)",
                            "poly(x, 2, raw = TRUE)1", "poly(x, 2, raw = TRUE)2"]
    # new data: the fit's centring, scaling and recurrence (not refitted on the new rows)
    new = design.new(pd.DataFrame({"x": [4.0, np.nan]}))
    np.testing.assert_allclose(new[0], [1, 2 / s2, 10 / s6, 2, 4, 16])
    assert np.isnan(new[1, 1:]).all()


def test_spline_knots_are_r_type7_quantiles():
    d = pd.DataFrame({"x": [0.0, 1, 2, 3, 4, 10]})
    design, _, _ = model_design("ns(x, df = 3) + bs(x, df = 5)", d)
    q = np.quantile(d["x"], [1 / 3, 2 / 3])  # numpy's default is R's type 7
    np.testing.assert_allclose(design.state["ns(x, df = 3)"]["knots"], [5 / 3, 10 / 3])
    np.testing.assert_allclose(design.state["ns(x, df = 3)"]["knots"], q)
    np.testing.assert_allclose(design.state["bs(x, df = 5)"]["knots"], [5 / 3, 10 / 3])
    np.testing.assert_allclose(design.state["ns(x, df = 3)"]["boundary"], [0, 10])
    # a cubic B-spline basis without intercept: with the dropped first column it sums to one
    bs = design.matrix[:, 4:]
    assert bs.shape[1] == 5 and np.all(bs.sum(axis=1) <= 1 + 1e-12)


def test_poly_degree_too_high_and_bad_options(data):
    d = pd.DataFrame({"x": [1.0, 1.0, 2.0]})
    with pytest.raises(FormulaError, match="degree"):
        model_design("poly(x, 2)", d)
    with pytest.raises(FormulaError, match="poly"):
        model_design("poly(x, 2, foo = 1)", d)


# ---------------------------------------------------------------- levels
def test_level_order_r_english():
    assert r_levels(pd.Series(["PLS", "flail_arm", "classic"])) == ["classic", "flail_arm", "PLS"]
    assert r_levels(pd.Series(["B", "a"])) == ["a", "B"]
    assert r_levels(pd.Series(["b", "A", "a", "B"])) == ["a", "A", "b", "B"]
    assert r_levels(pd.Series([10, 2, 1])) == [1, 2, 10]
    assert r_levels(pd.Series(["10", "2", "1"])) == ["1", "10", "2"]
    cat = pd.Series(pd.Categorical(["x", "y"], categories=["z", "y", "x"]))
    assert r_levels(cat) == ["y", "x"]  # Categorical order, unused level dropped
    assert r_sort([True, False]) == [False, True]


def test_same_reference_level_in_lme_and_cox(data):
    d = data.copy()
    rng = np.random.default_rng(1)
    subjects = d["subject"].unique()
    phen = dict(zip(subjects, rng.choice(["PLS", "classic", "flail_arm"], len(subjects)),
                    strict=True))
    months = dict(zip(subjects, rng.exponential(30, len(subjects)), strict=True))
    d["phenotype"] = d["subject"].map(phen)
    d["survival_months"] = d["subject"].map(months)
    d["event"] = d["subject"].map(dict(zip(subjects, rng.integers(0, 2, len(subjects)),
                                           strict=True))).astype(float)
    lme = als.fit_lme(d, "y ~ phenotype + years + (1 | subject)")
    cox = als.fit_cox(d, "Surv(survival_months, event) ~ phenotype")
    assert [t for t in lme.coefficients.index if t.startswith("phen")] == \
        ["phenotypeflail_arm", "phenotypePLS"]
    assert list(cox.coefficients.index) == ["phenotypeflail_arm", "phenotypePLS"]


def test_logical_and_numeric_factors():
    d = pd.DataFrame({"b": [True, False, True, True], "k": [10, 2, 2, 10], "x": [1.0, 2, 3, 4]})
    design, _, _ = model_design("b + factor(k) + I(x > 2)", d)
    assert design.names == ["Intercept", "bTRUE", "factor(k)10", "I(x > 2)TRUE"]
    np.testing.assert_array_equal(design.matrix[:, 1:], [[1, 1, 0], [0, 0, 0], [1, 0, 1],
                                                         [1, 1, 1]])


def test_one_level_factor_is_an_error_naming_it():
    d = pd.DataFrame({"g": ["a", "a", "a"], "x": [1.0, 2, 3]})
    with pytest.raises(FormulaError, match="factor g has a single level.*2 or more levels"):
        model_design("x + g", d)


def test_new_level_in_new_data_is_an_error():
    d = pd.DataFrame({"g": ["a", "b", "a"], "x": [1.0, 2, 3]})
    design, _, _ = model_design("g", d)
    with pytest.raises(FormulaError, match=r"new level.*'c'"):
        design.new(pd.DataFrame({"g": ["c"]}))


# ---------------------------------------------------------------- safety
HOSTILE = [
    "flair_x.__add__(0*__import__('os').system('touch {m}')) ~ years + (1 | subject)",
    "y ~ __import__('os').system('touch {m}') + (1 | subject)",
    "y ~ years.__class__ + (1 | subject)",
    "y ~ years[0] + (1 | subject)",
    "y ~ (lambda x: x)(years) + (1 | subject)",
    "y ~ eval('1') + (1 | subject)",
    "y ~ years$real + (1 | subject)",
    "y ~ years; touch {m} + (1 | subject)",
    "y ~ getattr(years, 'real') + (1 | subject)",
    "y ~ exec('open(\"{m}\", \"w\")') + (1 | subject)",
    "y ~ years + (1 | subject) + `{m}`",
]


@pytest.mark.parametrize("template", HOSTILE)
def test_hostile_formulas_never_run(template, data, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    marker = tmp_path / "MARKER"
    formula = template.format(m=marker)
    d = data.assign(flair_x=data["y"])
    with pytest.raises(FormulaError):
        als.fit_lme(d, formula)
    with pytest.raises(FormulaError):
        build_model_frame(formula, d)
    assert not marker.exists()
    assert list(tmp_path.iterdir()) == []


def test_hostile_cox_formula_never_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    d = pd.DataFrame({"t": [1.0, 2, 3, 4], "e": [1, 0, 1, 1], "x": [0.1, 0.5, 0.2, 0.9]})
    for f in ["Surv(t, e) ~ __import__('os').system('touch MARKER')",
              "Surv(t, e.__class__) ~ x", "Surv(t, e) ~ x + strata(os.system('touch M'))"]:
        with pytest.raises(ValueError):  # FormulaError, or "column 'e.__class__' is missing"
            als.fit_cox(d, f, subject=None)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("formula, token", [
    ("y ~ (lambda x: x)(years) + (1 | subject)", "unexpected 'x' after 'lambda'"),
    ("y ~ years[0] + (1 | subject)", "'\\['"),
    ("y ~ __import__('os') + (1 | subject)", "__import__"),
    ("y ~ years$real + (1 | subject)", "'\\$'"),
])
def test_hostile_error_names_the_token(formula, token, data):
    with pytest.raises(FormulaError, match=token):
        build_model_frame(formula, data)


def test_backticked_hostile_column_is_a_plain_name(data, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    name = "flair_x.__add__(0*__import__('os').system('touch MARKER'))"
    d = data.assign(**{name: data["y"] / 1000, "left": 100.0})
    fit = als.fit_lme(d, f"{quote_name(name)} ~ years + (1 | subject)")
    ref = als.fit_lme(d.assign(plain=d[name]), "plain ~ years + (1 | subject)")
    np.testing.assert_allclose(fit.coefficients["estimate"], ref.coefficients["estimate"])
    assert not (tmp_path / "MARKER").exists()
    # `flair_cst-left` is one column, not flair_cst minus left
    d = d.assign(**{"flair_cst-left": d["y"] / 1000, "flair_cst": 1.0})
    fit = als.fit_lme(d, "`flair_cst-left` ~ years + (1 | subject)")
    np.testing.assert_allclose(fit.coefficients["estimate"], ref.coefficients["estimate"])
    # as a predictor (not y / 1000, which would fit y exactly: a degenerate model)
    fit = als.fit_lme(d.assign(**{"flair_cst-left": d["age"]}),
                      "y ~ `flair_cst-left` + (1 | subject)")
    assert list(fit.coefficients.index) == ["Intercept", "`flair_cst-left`"]


def test_flair_analysis_quotes_a_hostile_roi_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    import warnings
    visits = als.load_example_cohort()
    name = "flair_cst.__add__(0*__import__('os').system('touch MARKER'))"
    hostile = visits.rename(columns={"flair_cst": name})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", als.AlsstatsWarning)
        got = als.flair_progression(hostile, roi=name)
        ref = als.flair_progression(visits, roi="flair_cst")
    assert not (tmp_path / "MARKER").exists()
    np.testing.assert_allclose(got.coefficients["estimate"], ref.coefficients["estimate"],
                               rtol=1e-12)


# ---------------------------------------------------------------- errors
def test_unknown_column_lists_close_matches(data):
    with pytest.raises(FormulaError, match=r"'yeers'.*did you mean 'years'"):
        build_model_frame("y ~ yeers + (1 | subject)", data)


def test_unsupported_function_lists_supported(data):
    with pytest.raises(FormulaError, match=r"function cos\(\) is not supported.*poly.*ns"):
        build_model_frame("y ~ cos(years) + (1 | subject)", data)


def test_non_finite_values_are_refused_naming_rows(data):
    d = data.copy()
    d.loc[3, "years"] = 0.0
    with pytest.raises(DataValidationError, match=r"log\(years\).*non-finite.*subject S00"):
        build_model_frame("y ~ log(years) + (1 | subject)", d.assign(years=d["years"]))
    d.loc[5, "age"] = np.inf
    with pytest.raises(DataValidationError, match=r"age has non-finite.*subject S001 \(row 5\)"):
        als.fit_lme(d, "y ~ age + (1 | subject)")
    with pytest.raises(DataValidationError, match=r"sqrt\(years - 10\)"):
        als.fit_lme(data, "y ~ sqrt(years - 10) + (1 | subject)")


def test_cox_with_infinite_covariate_names_it():
    d = pd.DataFrame({"t": [1.0, 2, 3, 4, 5], "e": [1, 0, 1, 1, 0],
                      "x": [0.1, np.inf, 0.2, 0.9, 0.3]})
    with pytest.raises(DataValidationError, match=r"x has non-finite values.*row 1"):
        als.fit_cox(d, "Surv(t, e) ~ x", subject=None)


def test_complex_column_refused_not_cast():
    d = pd.DataFrame({"x": np.array([1, 2, 3], dtype=complex), "y": [1.0, 2, 3]})
    with pytest.raises(FormulaError, match="complex"):
        model_design("x", d)


def test_formula_must_be_a_formula(data):
    for bad in ["", "y", "y ~ ~ x", "y ~ years + (1 | subject) + 2", "y ~ (years | subject"]:
        with pytest.raises(FormulaError):
            build_model_frame(bad, data)


# ---------------------------------------------------------------- random blocks (CONTRACT)
def test_random_blocks_contract(data):
    d = data.assign(site=np.where(data["subject"].str[-1].isin(list("01234")), "b", "A"))
    frame = build_model_frame("y ~ years + (1 + years || subject) + (1 | site/subject)", d)
    blocks = frame.random_blocks
    assert [(b.grp, b.z_names) for b in blocks] == [
        ("subject", ["Intercept"]), ("subject", ["years"]), ("site", ["Intercept"]),
        ("subject:site", ["Intercept"])]
    assert frame.Z is None and frame.codes is None
    site = blocks[2]
    assert list(site.levels) == ["A", "b"] and site.levels.name == "site"
    nested = blocks[3]
    assert len(nested.levels) == d["subject"].nunique()  # subject:site labels, lme4's order
    assert list(nested.levels) == sorted(nested.levels)
    for b in blocks:
        assert b.codes.dtype == np.int64 and b.Z.shape == (len(d), len(b.z_names))
        assert b.codes.min() == 0 and b.codes.max() == len(b.levels) - 1
        np.testing.assert_array_equal(b.levels[b.codes].astype(str),
                                      _labels(d, b.grp).astype(str))
    new = d.iloc[:3].assign(subject=["S000", "NEW", "S001"])
    z, codes = blocks[1].design_new(new)
    np.testing.assert_allclose(z[:, 0], new["years"])
    assert codes[1] == -1 and codes[0] == 0
    assert frame.x_terms == ["(Intercept)", "years"] and frame.x_assign.tolist() == [0, 1]


def _labels(d, grp):
    cols = grp.split(":")
    return d[cols].astype(str).agg(":".join, axis=1).to_numpy()


def test_single_block_keeps_old_fields(data):
    frame = build_model_frame("y ~ group * years + (years | subject)", data)
    (block,) = frame.random_blocks
    assert frame.Z is block.Z and frame.z_names == ["Intercept", "years"]
    assert frame.groups.equals(block.levels) and frame.codes is block.codes
    assert frame.x_terms == ["(Intercept)", "group", "years", "group:years"]
    assert frame.x_assign.tolist() == [0, 1, 2, 3]
    fx, rz = frame.design_new(data.iloc[:4])
    np.testing.assert_allclose(fx, frame.X[:4])
    np.testing.assert_allclose(rz, frame.Z[:4])


def test_interaction_grouping_factor_fits_as_one_column(data):
    d = data.assign(site=np.where(data["age"] > data["age"].median(), "p", "q"))
    a = als.fit_lme(d, "y ~ years + (1 | site:subject)")
    b = als.fit_lme(d.assign(ss=d["site"] + ":" + d["subject"]), "y ~ years + (1 | ss)")
    np.testing.assert_allclose(a.coefficients["estimate"], b.coefficients["estimate"],
                               rtol=1e-10)


# ---------------------------------------------------------------- survival formulas
def test_surv_formula_parts():
    sf = parse_surv_formula("Surv(time / 12, status == 2) ~ age + ph.ecog + strata(sex, inst) "
                            "+ cluster(id)")
    assert (sf.stop, sf.event, sf.start) == ("time/12", "status == 2", None)
    assert sf.strata == ["sex", "inst"] and sf.cluster == "id"
    assert sf.rhs == "age + ph.ecog"
    sf = parse_surv_formula("Surv(start, stop, event) ~ x")
    assert (sf.start, sf.stop, sf.event) == ("start", "stop", "event")
    with pytest.raises(FormulaError, match="strata"):
        parse_surv_formula("Surv(t, e) ~ x:strata(g)")


def test_surv_expressions_equal_precomputed_columns():
    rng = np.random.default_rng(3)
    n = 80
    d = pd.DataFrame({"months": rng.exponential(20, n).round(2), "status": rng.integers(1, 3, n),
                      "x": rng.normal(size=n), "a": rng.choice(["u", "v"], n),
                      "b": rng.choice(["p", "q"], n)})
    got = als.fit_cox(d, "Surv(months / 12, status == 2) ~ x + strata(a, b)", subject=None)
    pre = d.assign(years=d["months"] / 12, dead=(d["status"] == 2).astype(int),
                   ab=d["a"] + d["b"])
    ref = als.fit_cox(pre, "Surv(years, dead) ~ x + strata(ab)", subject=None)
    np.testing.assert_allclose(got.coefficients["estimate"], ref.coefficients["estimate"],
                               rtol=1e-12)
    # R's Surv reads a 1/2 status as 2 = event
    coded = als.fit_cox(d, "Surv(months, status) ~ x + strata(a, b)", subject=None)
    np.testing.assert_allclose(coded.coefficients["estimate"], ref.coefficients["estimate"],
                               rtol=1e-12)
    assert got.n_events == int((d["status"] == 2).sum())


def test_time_varying_cox_with_expressions():
    v = pd.DataFrame({
        "subject": ["a", "a", "b", "b", "c", "d", "d", "e", "f", "f"],
        "years": [0.0, 1.0, 0.0, 0.5, 0.0, 0.0, 1.0, 0.0, 0.0, 0.8],
        "wmh_mm3": [900.0, 1500.0, 300.0, 400.0, 2000.0, 100.0, 150.0, 700.0, 500.0, 800.0],
        "survival_months": [20, 20, 9, 9, 4, 30, 30, 15, 25, 25],
        "status": [2, 2, 1, 1, 2, 1, 1, 2, 2, 2]})
    got = als.fit_cox_time_varying(v, "Surv(survival_months, status == 2) ~ log(wmh_mm3)")
    ref = als.fit_cox_time_varying(v.assign(event=(v["status"] == 2).astype(int),
                                            lw=np.log(v["wmh_mm3"])),
                                   "Surv(survival_months, event) ~ lw")
    np.testing.assert_allclose(got.coefficients["estimate"], ref.coefficients["estimate"],
                               rtol=1e-12)
    assert list(got.coefficients.index) == ["log(wmh_mm3)"]


@pytest.mark.slow
def test_reproduce_with_a_hostile_column_header(tmp_path, monkeypatch):
    """A CSV header written as Python reaches the formulas of `reproduce` only as a name."""
    import warnings

    from alsstats.cli import main

    monkeypatch.chdir(tmp_path)
    name = "flair_cst.__add__(0*__import__('os').system('touch MARKER'))"
    visits = als.load_example_cohort()[["subject", "years", "group", "age", "sex", "wmh_mm3",
                                        "flair_cst"]]
    visits.rename(columns={"flair_cst": name}).to_csv("hostile.csv", index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", als.AlsstatsWarning)
        assert main(["reproduce", "--data", "hostile.csv", "--out", "out"]) == 0
    assert not (tmp_path / "MARKER").exists()
    tables = list((tmp_path / "out" / "tables").glob("*_progression_coefficients.csv"))
    hostile = [p for p in tables if p.name.startswith("flair_cst.__add__")]
    assert len(hostile) == 1
    got = pd.read_csv(hostile[0], index_col="term")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", als.AlsstatsWarning)
        ref = als.flair_progression(visits, roi="flair_cst").coefficients
    np.testing.assert_allclose(got["estimate"], ref["estimate"], rtol=1e-9)


@pytest.mark.parametrize("name", ["a`b", "a\\b", "x y", "flair_cst-left", "_x", "if", "1a",
                                  "é", "f(x)", "a$b[0]", "'q'", "x.__class__"])
def test_quote_name_round_trips_any_column_name(name):
    node = parse_formula_text(quote_name(name))
    assert node == parse_formula_text(quote_name(name)) and node.id == name
    d = pd.DataFrame({name: [1.0, 2.0, 4.0]})
    design, _, _ = model_design(quote_name(name), d)
    np.testing.assert_array_equal(design.matrix[:, 1], [1.0, 2.0, 4.0])


def test_quote_name_property():
    hypothesis = pytest.importorskip("hypothesis")
    st = hypothesis.strategies

    @hypothesis.given(st.text(min_size=1, max_size=20))
    @hypothesis.settings(max_examples=300, deadline=None)
    def check(name):
        assert parse_formula_text(quote_name(name)).id == name

    check()


def test_fast_ascii_level_sort_equals_the_collation_key():
    import random
    import string

    from alsstats.formula._levels import r_collation_key

    rng = random.Random(7)
    chars = string.ascii_letters + string.digits + string.punctuation + " "
    for _ in range(50):
        values = list({"".join(rng.choice(chars) for _ in range(rng.randint(1, 6)))
                       for _ in range(200)})
        assert r_sort(values) == sorted(values, key=r_collation_key)

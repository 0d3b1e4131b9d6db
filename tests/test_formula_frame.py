"""The fast model frame: the same matrices, levels, warnings and kept data as the plain path,
and nothing of the user's table aliased or cached across calls."""

from __future__ import annotations

import random
import re
import string
import warnings

import numpy as np
import pandas as pd
import pytest

import alsstats as als
from alsstats.errors import DroppedRowsWarning
from alsstats.formula._frame import complete_cases, complete_rows, missing_mask
from alsstats.formula._levels import r_collation_key, r_sort
from alsstats.formula.mixed import _build_model_frame, build_model_frame
from alsstats.lme.examples import example_data


def model_data(data: pd.DataFrame, formula: str, rows: pd.Index) -> pd.DataFrame | None:
    """The selection fit_lme kept before the model frame held its variables (the reference
    these tests compare with): the columns of ``data`` named in ``formula``, on the rows of the
    fit (a copy); None when the rows cannot be identified (a duplicated index with rows left
    out)."""
    words = set(re.findall(r"[A-Za-z_.][A-Za-z0-9_.]*", formula))
    cols = [c for c in data.columns if isinstance(c, str) and c in words]
    if data.index.is_unique:
        return data.loc[rows, cols].copy()
    if len(rows) == len(data):
        return data[cols].copy()
    return None


def _cohort(seed: int = 3, n: int = 30) -> pd.DataFrame:
    """Every column kind a model reads, each with missing values in a few rows."""
    d = example_data(n, seed=seed).reset_index(drop=True)
    rng = np.random.default_rng(seed)
    m = len(d)

    def holes(k):
        out = np.zeros(m, dtype=bool)
        out[rng.choice(m, k, replace=False)] = True
        return out

    d["site"] = rng.choice(["Edmonton", "calgary", "Toronto", "montreal"], m)
    d["grp_cat"] = pd.Categorical(d["group"], categories=["control", "ALS", "unused"])
    d.loc[holes(2), "grp_cat"] = np.nan
    d["sex_str"] = pd.array(d["sex"], dtype="string")
    d.loc[holes(2), "sex_str"] = pd.NA
    d["visits"] = pd.array(rng.integers(0, 5, m), dtype="Int64")
    d.loc[holes(2), "visits"] = pd.NA
    d["treated"] = pd.array(rng.random(m) < 0.5, dtype="boolean")
    d.loc[holes(2), "treated"] = pd.NA
    d["flag"] = rng.random(m) < 0.4                       # numpy bool, never missing
    d["count"] = rng.integers(1, 9, m)                     # numpy int, never missing
    d["edu"] = np.where(holes(3), None, rng.choice(["hs", "BSc", "phd"], m)).astype(object)
    d["obj_bool"] = np.array([bool(v) for v in rng.random(m) < 0.5], dtype=object)
    d["obj_num"] = np.array([int(v) if k % 2 else float(v) for k, v in
                             enumerate(rng.integers(1, 4, m))], dtype=object)
    d["flair-cst"] = rng.normal(0.0, 1.0, m)               # needs backticks
    d.loc[holes(2), "flair-cst"] = np.nan
    d.loc[holes(2), "age"] = np.nan
    d.loc[holes(1), "y"] = np.nan
    d["wt"] = rng.uniform(0.5, 1.5, m)
    return d


FORMULAS = [
    "y ~ group * years + age + sex + (1 + years | subject)",
    "y ~ grp_cat * years + (1 | subject)",
    "y ~ sex_str + visits + treated + (years | subject)",
    "y ~ flag + count + edu + (1 | subject)",
    "y ~ obj_bool + obj_num + factor(count) + (1 | site)",
    "log(y) ~ poly(years, 2) + ns(age, df = 3) + bs(years, df = 4) + scale(age) + (1 | subject)",
    "y ~ I(years^2) + log(age) + `flair-cst` + offset(wt) + (1 | subject)",
    "y ~ group + (years || subject)",
    "y ~ years + (1 | site/subject)",
    "y ~ years + (1 | site:group) + (0 + years | subject)",
    "y ~ group:years + I(group == 'ALS') + (1 | subject)",
    "y ~ 0 + sex + years + (1 + years | subject) + (1 | site)",
]


def _build(formula, data, fast):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        frame = _build_model_frame(formula, data, "fit_lme", fast=fast)
    return frame, [(w.category, str(w.message)) for w in caught]


def _assert_same(a, b, newdata):
    np.testing.assert_array_equal(a.y, b.y)
    np.testing.assert_array_equal(a.X, b.X)
    assert a.x_names == b.x_names and a.x_terms == b.x_terms
    np.testing.assert_array_equal(a.x_assign, b.x_assign)
    assert a.n_dropped == b.n_dropped and a.parts == b.parts
    pd.testing.assert_index_equal(a.rows, b.rows, exact=True)
    if a.offset is None:
        assert b.offset is None
    else:
        np.testing.assert_array_equal(a.offset, b.offset)
    assert len(a.random_blocks) == len(b.random_blocks)
    for p, q in zip(a.random_blocks, b.random_blocks, strict=True):
        assert p.grp == q.grp and p.z_names == q.z_names
        np.testing.assert_array_equal(p.codes, q.codes)
        np.testing.assert_array_equal(p.Z, q.Z)
        pd.testing.assert_index_equal(p.levels, q.levels, exact=True)
        for m, n in zip(p.design_new(newdata), q.design_new(newdata), strict=True):
            np.testing.assert_array_equal(m, n)
    np.testing.assert_array_equal(a.fixed_design.new(newdata), b.fixed_design.new(newdata))
    pd.testing.assert_frame_equal(a.variables, b.variables, check_like=True)


@pytest.mark.parametrize("formula", FORMULAS)
def test_fast_path_equals_plain_path(formula):
    data = _cohort()
    before = data.copy()
    fast, fast_warnings = _build(formula, data, True)
    plain, plain_warnings = _build(formula, data, False)
    assert fast.n_dropped > 0  # every formula reads a column with missing values
    assert fast_warnings == plain_warnings
    assert [c for c, _ in fast_warnings] == [DroppedRowsWarning]
    newdata = data.loc[fast.rows[:12]]
    _assert_same(fast, plain, newdata)
    pd.testing.assert_frame_equal(data, before)  # the user's table is not modified


@pytest.mark.parametrize("formula", FORMULAS[:4] + FORMULAS[7:10])
def test_fast_path_equals_plain_path_without_missing_rows(formula):
    data = _cohort().dropna().reset_index(drop=True)
    fast, fast_warnings = _build(formula, data, True)
    plain, plain_warnings = _build(formula, data, False)
    assert fast.n_dropped == 0 and fast_warnings == plain_warnings == []
    _assert_same(fast, plain, data.iloc[:9])


def test_missing_mask_equals_isna_for_every_column_kind():
    data = _cohort()
    data["when"] = pd.Timestamp("2020-01-01") + pd.to_timedelta(data["years"], unit="D")
    data.loc[3, "when"] = pd.NaT
    data["text_nat"] = np.array(["a"] * (len(data) - 1) + [pd.NaT], dtype=object)
    data["f32"] = data["age"].astype("float32")
    for name in data.columns:
        mask = missing_mask(data[name])
        expected = data[name].isna().to_numpy()
        if mask is None:
            assert not expected.any(), name
        else:
            np.testing.assert_array_equal(mask, expected, err_msg=name)


@pytest.mark.parametrize("columns", [
    ["y", "age"], ["grp_cat", "sex_str", "visits"], ["treated", "edu", "flag", "count"],
    ["obj_bool", "obj_num", "flair-cst", "subject"], ["subject", "flag", "count"],
])
def test_complete_cases_equal_complete_rows(columns):
    data = _cohort()

    def run(fn):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out = fn(data, columns, "model_design", "x ~ y")
        return out, [str(w.message) for w in caught]

    (fast, n_fast, kept), fast_warnings = run(complete_cases)
    (plain, n_plain), plain_warnings = run(complete_rows)
    assert n_fast == n_plain and fast_warnings == plain_warnings
    pd.testing.assert_frame_equal(fast, plain, check_like=True)
    assert list(fast.columns) == [c for c in data.columns if c in columns]
    if n_fast:
        np.testing.assert_array_equal(data.index[kept], plain.index)
    else:
        assert kept is None and fast_warnings == []


def test_dropped_rows_warning_counts_per_column_in_formula_order():
    data = _cohort()
    with pytest.warns(DroppedRowsWarning) as caught:
        frame = build_model_frame("y ~ age + sex_str + (1 | subject)", data)
    miss_y, miss_age = data["y"].isna(), data["age"].isna()
    miss_sex = data["sex_str"].isna()
    n = int((miss_y | miss_age | miss_sex).sum())
    assert frame.n_dropped == n
    assert str(caught[0].message) == (
        f"fit_lme: left out {n} of {len(data)} rows with missing values in the model's "
        f"columns (y: {int(miss_y.sum())}, age: {int(miss_age.sum())}, "
        f"sex_str: {int(miss_sex.sum())}).")


# ---------------------------------------------------------------- the kept variables
@pytest.mark.parametrize("formula", [
    "y ~ group * years + age + sex + (1 + years | subject)",
    "y ~ poly(years, 2) + log(age) + (1 | site/subject)",
])
@pytest.mark.parametrize("kind", ["complete", "missing", "duplicated_index"])
def test_variables_equal_model_data(formula, kind):
    data = example_data(40, seed=5)
    data["site"] = np.where(np.arange(len(data)) % 3 == 0, "A", "b")
    data["unused"] = 1.0
    if kind == "missing":
        data.loc[data.index[[2, 7, 30]], "age"] = np.nan
    if kind == "duplicated_index":
        data.index = np.arange(len(data)) // 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DroppedRowsWarning)
        frame = build_model_frame(formula, data)
    expected = model_data(data, formula, frame.rows)
    expected.attrs = {}
    pd.testing.assert_frame_equal(frame.variables, expected)
    assert "unused" not in frame.variables.columns


def test_variables_hold_model_columns_only_and_backticked_names():
    """model_data takes every word of the formula that is a column: a column named like a
    function or a quoted string ("log", "ALS") it keeps though the model never reads it, and
    a backticked name it splits (finding "flair" for `flair-cst`). The variables are exactly
    the columns the model reads."""
    data = example_data(30, seed=2)
    data["log"] = 1.0
    data["ALS"] = 2.0
    data["flair"] = 3.0
    data["flair-cst"] = np.linspace(0.0, 1.0, len(data))
    formula = "y ~ log(age) + I(group == 'ALS') + `flair-cst` + (1 | subject)"
    frame = build_model_frame(formula, data)
    assert list(frame.variables.columns) == ["subject", "group", "age", "y", "flair-cst"]
    old = model_data(data, formula, frame.rows)
    assert {"log", "ALS", "flair"} <= set(old.columns) and "flair-cst" not in old.columns
    fit = als.fit_lme(data, formula)
    pd.testing.assert_frame_equal(fit._data, frame.variables)


def test_duplicated_index_with_rows_left_out_keeps_no_variables():
    """As model_data: once rows are left out, labels of a duplicated index do not name the
    rows fitted, so no variables are kept (marginal means and type-3 anova then refuse the
    fit, tests/lme/test_inference_reference.py); the matrices are still those rows'."""
    data = example_data(40, seed=5)
    data.index = np.arange(len(data)) // 2
    data.iloc[[3, 10], data.columns.get_loc("age")] = np.nan
    formula = "y ~ group * years + age + (1 | subject)"
    with pytest.warns(DroppedRowsWarning):
        frame = build_model_frame(formula, data)
    assert frame.variables is None and model_data(data, formula, frame.rows) is None
    keep = np.setdiff1d(np.arange(len(data)), [3, 10])
    np.testing.assert_array_equal(frame.y, data["y"].to_numpy()[keep])
    np.testing.assert_array_equal(frame.X[:, frame.x_names.index("age")],
                                  data["age"].to_numpy()[keep])


# ---------------------------------------------------------------- no aliasing, no stale cache
def _arrays(frame):
    out = [frame.y, frame.X, frame.fixed_design.matrix]
    for b in frame.random_blocks:
        out += [b.Z, b.codes]
    out += [frame.variables[c].to_numpy() for c in frame.variables.columns]
    return out


@pytest.mark.parametrize("formula", FORMULAS[:4])
def test_nothing_returned_is_a_view_of_the_data(formula):
    for data in (_cohort(), _cohort().dropna().reset_index(drop=True)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DroppedRowsWarning)
            frame = build_model_frame(formula, data)
        user = [np.asarray(data[c].array._ndarray if hasattr(data[c].array, "_ndarray")
                           else data[c].to_numpy()) for c in data.columns]
        user += [data[c].array.codes for c in data.columns
                 if isinstance(data[c].dtype, pd.CategoricalDtype)]
        for mine in _arrays(frame):
            for theirs in user:
                assert not np.shares_memory(np.asarray(mine), theirs)


def test_mutating_the_data_after_a_fit_changes_nothing_stored():
    data = example_data(40, seed=5)
    data["group"] = pd.Categorical(data["group"])
    fit = als.fit_lme(data, "y ~ group * years + age + (1 + years | subject)")
    kept = fit._data.copy()
    y, X = fit._frame.y.copy(), fit._frame.X.copy()
    coefficients = fit.coefficients.copy()
    data["y"] *= 2.0  # in place, in the same block
    data.loc[:, "years"] = 0.0
    data["age"].to_numpy()[:] = -1.0
    data["group"] = data["group"].cat.rename_categories({"ALS": "als"})
    data["subject"] = "S"
    pd.testing.assert_frame_equal(fit._data, kept)
    np.testing.assert_array_equal(fit._frame.y, y)
    np.testing.assert_array_equal(fit._frame.X, X)
    pd.testing.assert_frame_equal(fit.coefficients, coefficients)


def test_a_second_build_sees_the_data_as_it_is_now():
    data = example_data(40, seed=5)
    formula = "y ~ group * years + (1 | subject)"
    first = build_model_frame(formula, data)
    data.loc[data.index[:5], "y"] += 100.0
    data.loc[data.index[:3], "group"] = "zzz"
    second = build_model_frame(formula, data)
    np.testing.assert_array_equal(second.y, data["y"].to_numpy())
    assert second.x_names != first.x_names and "groupzzz" in second.x_names
    np.testing.assert_array_equal(second.variables["y"].to_numpy(), data["y"].to_numpy())


# ---------------------------------------------------------------- level order of ids
def test_alphanumeric_ids_sort_as_the_collation_key():
    rng = random.Random(11)
    alphabets = [string.ascii_uppercase + string.digits, string.ascii_lowercase + string.digits,
                 string.ascii_letters + string.digits, string.digits, "aAbB01"]
    for _ in range(60):
        chars = rng.choice(alphabets)
        values = list({"".join(rng.choice(chars) for _ in range(rng.randint(0, 5)))
                       for _ in range(rng.randint(1, 300))})
        assert r_sort(values) == sorted(values, key=r_collation_key)


def test_subject_levels_in_r_order_with_mixed_case_ids():
    data = example_data(12, seed=1)
    ids = {s: s.lower() if k % 2 else s for k, s in enumerate(data["subject"].unique())}
    ids[next(iter(ids))] = "s000x"
    data["subject"] = data["subject"].map(ids)
    frame = build_model_frame("y ~ years + (1 | subject)", data)
    assert list(frame.groups) == sorted(set(ids.values()), key=r_collation_key)
    assert frame.groups.dtype == object and frame.groups.name == "subject"
    np.testing.assert_array_equal(np.asarray(frame.groups)[frame.codes], data["subject"])

"""What fit_lme does outside the optimiser: the rank check, the scale check, Satterthwaite's df
of the coefficients, and the result's tables built on first access (equal to the tables the fit
used to build eagerly, frozen, carried through ``dataclasses.replace`` and pickling)."""

from __future__ import annotations

import dataclasses
import pickle
import warnings

import numpy as np
import pandas as pd
import pytest

from alsstats.errors import RankDeficiencyWarning, ScaleWarning
from alsstats.lme import fit_lme
from alsstats.lme.examples import example_data
from alsstats.lme.fit import _check_scale, _column_sds, _rank_check, aliased_columns
from alsstats.lme.result import COEFFICIENT_COLUMNS, coefficient_table

MULTI = "y ~ group * years + (1 | site) + (1 + years | subject)"


def reference_aliased_columns(X: np.ndarray, tol: float = 1e-7) -> np.ndarray:
    """The loop the fit used before (Gram-Schmidt with reorthogonalisation, R's semantics):
    a column is aliased when its residual on the earlier kept columns has norm below
    ``tol`` times its own."""
    n, p = X.shape
    basis = np.empty((n, 0))
    keep = np.zeros(p, dtype=bool)
    for j in range(p):
        col = X[:, j]
        norm = np.linalg.norm(col)
        res = col - basis @ (basis.T @ col)
        res = res - basis @ (basis.T @ res)
        rn = np.linalg.norm(res)
        if norm > 0 and rn > tol * norm:
            keep[j] = True
            basis = np.column_stack([basis, res / rn])
    return keep


def random_design(rng: np.random.Generator) -> np.ndarray:
    """Columns on scales 1e-3..1e3: free, exact combinations of earlier ones, nearly
    collinear (residual 1e-5/1e-6 or 1e-9/1e-10 relative: clear of the 1e-7 threshold),
    zero, or constant."""
    n, p = int(rng.integers(1, 40)), int(rng.integers(1, 12))
    X = rng.normal(size=(n, p)) * 10.0 ** rng.integers(-3, 4, size=p)
    for j in range(p):
        u = rng.random()
        if u < 0.15 and j > 0:
            X[:, j] = X[:, :j] @ rng.integers(-2, 3, size=j)
        elif u < 0.25 and j > 0:
            eps = 10.0 ** rng.choice([-5, -6, -9, -10])
            X[:, j] = (X[:, :j] @ rng.normal(size=j)
                       + eps * np.linalg.norm(X[:, :j]) * rng.normal(size=n))
        elif u < 0.3:
            X[:, j] = 0.0
        elif u < 0.35:
            X[:, j] = 1.0
    return X


@pytest.fixture(scope="module")
def site_data():
    d = example_data().assign(site=lambda t: "site" + t["subject"].str[-1])
    d["y"] += 300.0 * d["site"].str[-1].astype(int).map(lambda k: (-1) ** k * k % 7)
    return d


@pytest.fixture(scope="module")
def multi(site_data):
    return fit_lme(site_data, MULTI)


# ---------------------------------------------------------------- rank check
def test_rank_check_equals_the_reference_loop_on_random_designs():
    rng = np.random.default_rng(20261201)
    dropped = 0
    for _ in range(1500):
        X = random_design(rng)
        keep = aliased_columns(X)
        np.testing.assert_array_equal(keep, reference_aliased_columns(X))
        dropped += int((~keep).sum())
    assert dropped > 1000  # the designs do exercise the drops


@pytest.mark.parametrize("rel", [1e-5, 1e-6, 1e-9, 1e-10])
def test_rank_check_on_a_nearly_collinear_column(rel):
    rng = np.random.default_rng(7)
    X = np.column_stack([np.ones(50), rng.normal(size=50), rng.normal(size=50) * 100])
    noise = rng.normal(size=50)
    noise -= X @ np.linalg.lstsq(X, noise, rcond=None)[0]  # orthogonal to the span
    combination = X @ [2.0, -1.0, 0.5]
    near = combination + rel * np.linalg.norm(combination) * noise / np.linalg.norm(noise)
    X = np.column_stack([X, near, rng.normal(size=50)])
    keep = aliased_columns(X)
    np.testing.assert_array_equal(keep, reference_aliased_columns(X))
    assert keep.tolist() == [True, True, True, rel > 1e-7, True]


def test_rank_check_edge_shapes():
    rng = np.random.default_rng(1)
    wide = rng.normal(size=(3, 6))  # more columns than rows: only the first 3 are kept
    assert aliased_columns(wide).tolist() == [True] * 3 + [False] * 3
    np.testing.assert_array_equal(aliased_columns(wide), reference_aliased_columns(wide))
    assert aliased_columns(np.empty((5, 0))).shape == (0,)
    assert aliased_columns(np.empty((0, 3))).tolist() == [False] * 3
    zero_first = np.column_stack([np.zeros(5), np.ones(5), np.arange(5.0)])
    assert aliased_columns(zero_first).tolist() == [False, True, True]


def test_rank_check_gives_the_kept_columns_r_factor():
    rng = np.random.default_rng(3)
    X = np.column_stack([np.ones(30), rng.normal(size=30), np.zeros(30), rng.normal(size=30)])
    keep, r, kept = _rank_check(X)
    assert keep.tolist() == [True, True, False, True]
    np.testing.assert_allclose(r.T @ r, X[:, keep].T @ X[:, keep], rtol=1e-12, atol=1e-12)
    assert np.allclose(r, np.triu(r))
    # the kept columns as X[:, keep] lays them out (Fortran order), not the QR's overwrite
    np.testing.assert_array_equal(kept, X[:, keep])
    assert kept.flags.f_contiguous and X[:, keep].flags.f_contiguous


def test_rank_deficient_fit_still_drops_the_aliased_column(site_data):
    d = site_data.assign(years2=site_data["years"] * 2.0)
    with pytest.warns(RankDeficiencyWarning, match="years2"):
        fit = fit_lme(d, "y ~ group * years + years2 + (1 | subject)")
    assert fit.dropped_terms == ["years2"]
    assert "years2" not in fit.coefficients.index and fit.model_matrix.shape[1] == 4
    # the public view other modules read (inference, the joint model's start)
    names = fit.model_frame.x_names
    assert [n for n, k in zip(names, fit.kept_columns, strict=True) if not k] == ["years2"]
    np.testing.assert_array_equal(fit.model_frame.X[:, fit.kept_columns], fit.model_matrix)
    fit.kept_columns[:] = False  # a copy: the fit's own mask is untouched
    assert fit.kept_columns.sum() == 4


# ---------------------------------------------------------------- scale check
def test_column_sds_from_r_equal_numpy_std():
    rng = np.random.default_rng(5)
    X = np.column_stack([np.ones(200), rng.normal(size=200),
                         1e7 + 1e5 * rng.normal(size=200), 1e-4 * rng.normal(size=200)])
    keep, r, _ = _rank_check(X)
    assert keep.all()
    np.testing.assert_allclose(_column_sds(X, r), X.std(axis=0, ddof=1), rtol=1e-10, atol=0)
    assert _column_sds(X, r)[0] == 0.0  # the intercept exactly
    no_intercept = X[:, 1:]  # falls back to numpy
    _, r2, _ = _rank_check(no_intercept)
    np.testing.assert_array_equal(_column_sds(no_intercept, r2), no_intercept.std(axis=0, ddof=1))


def test_scale_warning_as_before():
    rng = np.random.default_rng(6)
    X = np.column_stack([np.ones(100), rng.normal(size=100), 5e3 * rng.normal(size=100)])
    _, r, _ = _rank_check(X)
    with pytest.warns(ScaleWarning, match="SD of 'wmh'"):
        _check_scale(X, ["Intercept", "years", "wmh"], r)
    X[:, 2] /= 10.0  # ratio ~500: quiet
    _, r, _ = _rank_check(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _check_scale(X, ["Intercept", "years", "wmh"], r)


# ---------------------------------------------------------------- Satterthwaite df
@pytest.mark.parametrize("formula", ["y ~ group * years + age + sex + (1 + years | subject)",
                                     MULTI, "y ~ group * years + (years || subject)",
                                     "y ~ years + (1 | subject)"])
@pytest.mark.parametrize("reml", [True, False])
def test_df_of_the_coefficients_equal_unit_contrasts_bitwise(site_data, formula, reml):
    fit = fit_lme(site_data, formula, reml=reml)
    satt, vcov = fit._satterthwaite, fit.vcov.to_numpy()
    per_contrast = np.array([satt.df(e, vcov) for e in np.eye(vcov.shape[0])])
    np.testing.assert_array_equal(satt.df_coefficients(vcov), per_contrast)
    np.testing.assert_array_equal(fit.coefficients["df"].to_numpy(), per_contrast)


# ---------------------------------------------------------------- coefficient table
def test_coefficient_table_is_float64_with_its_own_index():
    vcov = np.array([[4.0, 0.5], [0.5, 9.0]])
    a = coefficient_table(["x", "y"], np.array([1.0, 2.0]), vcov, np.array([3.0, np.inf]),
                          0.95)
    assert list(a.columns) == COEFFICIENT_COLUMNS and a.index.name == "term"
    assert (a.dtypes == np.float64).all() and list(a.index) == ["x", "y"]
    np.testing.assert_allclose(a["std_error"], [2.0, 3.0])
    np.testing.assert_allclose(a["ci_high"] - a["estimate"], [2.0 * 3.182446305284263,
                                                             3.0 * 1.959963984540054])
    a.index.name = "renamed"
    a.columns.name = "renamed"
    b = coefficient_table(["x", "y"], np.array([1.0, 2.0]), vcov, np.array([3.0, 4.0]), 0.95)
    assert b.index.name == "term" and b.columns.name is None


# ---------------------------------------------------------------- tables on demand
def eager_tables(fit):
    """The tables as fit_lme built them before they became lazy, from the engine directly."""
    problem, blocks = fit.problem, fit.random_blocks
    ev = problem.evaluate(fit.theta)
    sigma2 = ev.sigma2(fit.nobs, fit.estimation == "REML")
    vcov = sigma2 * ev.cov_beta_unscaled()
    names = list(fit.coefficients.index)
    if len(blocks) == 1:
        lams, blups = [problem.lam(fit.theta)], [problem.random_effects(ev)]
    else:
        lams, blups = problem.lam_blocks(fit.theta), problem.random_effects(ev)
    blocks_cov = [pd.DataFrame(sigma2 * lam @ lam.T, index=b.z_names, columns=b.z_names)
                  for lam, b in zip(lams, blocks, strict=True)]
    frames = [pd.DataFrame(v, index=b.levels, columns=b.z_names)
              for v, b in zip(blups, blocks, strict=True)]
    ranef: dict[str, pd.DataFrame] = {}
    for b, tab in zip(blocks, frames, strict=True):
        ranef[b.grp] = tab if b.grp not in ranef else ranef[b.grp].join(tab, how="outer")
    return {"vcov": pd.DataFrame(vcov, index=names, columns=names), "blocks_cov": blocks_cov,
            "random_effects_cov": blocks_cov[0], "random_effects": frames[0], "ranef": ranef}


def assert_tables_equal(fit, expected):
    pd.testing.assert_frame_equal(fit.vcov, expected["vcov"], check_exact=True)
    pd.testing.assert_frame_equal(fit.random_effects_cov, expected["random_effects_cov"],
                                  check_exact=True)
    pd.testing.assert_frame_equal(fit.random_effects, expected["random_effects"],
                                  check_exact=True)
    assert len(fit.blocks_cov) == len(expected["blocks_cov"])
    for got, want in zip(fit.blocks_cov, expected["blocks_cov"], strict=True):
        pd.testing.assert_frame_equal(got, want, check_exact=True)
    assert list(fit.ranef) == list(expected["ranef"])
    for grp, want in expected["ranef"].items():
        pd.testing.assert_frame_equal(fit.ranef[grp], want, check_exact=True)


@pytest.mark.parametrize("formula", [MULTI, "y ~ group * years + (years || subject)",
                                     "y ~ years + (1 | subject)"])
def test_tables_built_on_demand_equal_the_eager_ones(site_data, formula):
    fit = fit_lme(site_data, formula)
    expected = eager_tables(fit)
    assert_tables_equal(fit, expected)
    # built once, the same objects each time (as attributes were)
    assert fit.vcov is fit.vcov and fit.ranef is fit.ranef
    assert fit.random_effects_cov is fit.blocks_cov[0]
    if len({b.grp for b in fit.random_blocks}) == len(fit.random_blocks):
        assert fit.random_effects is fit.ranef[fit.group]
    else:  # (years || subject): the factor's two terms side by side
        assert list(fit.ranef["subject"].columns) == ["Intercept", "years"]
    for tab in [fit.vcov, fit.random_effects_cov, fit.random_effects, *fit.ranef.values()]:
        assert (tab.dtypes == np.float64).all()


def test_multi_term_tables_and_fitted_values(multi, site_data):
    assert [b.grp for b in multi.random_blocks] == ["subject", "site"]
    assert list(multi.ranef) == ["subject", "site"]
    assert multi.random_effects.index.equals(multi.random_blocks[0].levels)
    assert list(multi.blocks_cov[1].index) == ["Intercept"]
    # conditional fitted values from the BLUPs built on demand, against X beta + Z b by hand
    manual = multi.model_matrix @ multi.beta
    for block, grp in zip(multi.random_blocks, ["subject", "site"], strict=True):
        b = multi.ranef[grp][block.z_names].to_numpy()
        manual = manual + np.einsum("nq,nq->n", block.Z, b[block.codes])
    np.testing.assert_allclose(multi.fitted, manual, rtol=1e-13)
    np.testing.assert_allclose(multi.predict(site_data), manual, rtol=1e-13)


def test_result_stays_frozen(multi):
    for name in ["coefficients", "vcov", "random_effects", "random_effects_cov", "ranef",
                 "blocks_cov", "theta", "_vcov"]:
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(multi, name, None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        del multi.vcov


def test_replace_and_kenward_roger_keep_the_tables(site_data):
    sat = fit_lme(site_data, MULTI)
    kr = fit_lme(site_data, MULTI, df_method="kenward-roger")
    assert_tables_equal(kr, eager_tables(sat))
    swapped = dataclasses.replace(sat, coefficients=kr.coefficients)
    assert swapped.coefficients is kr.coefficients
    pd.testing.assert_frame_equal(swapped.vcov, sat.vcov, check_exact=True)


@pytest.mark.parametrize("touch_first", [False, True])
def test_pickled_result_has_the_same_tables(multi, touch_first):
    fresh = dataclasses.replace(multi)
    if touch_first:
        _ = fresh.ranef, fresh.vcov
    back = pickle.loads(pickle.dumps(fresh))
    assert_tables_equal(back, eager_tables(multi))
    pd.testing.assert_frame_equal(back.coefficients, multi.coefficients, check_exact=True)


def test_sparse_factorised_result_pickles_and_recomputes_its_blups(site_data, monkeypatch):
    """The sparse path's evaluation holds a SuperLU factor, which does not pickle: the BLUPs
    travel instead, and a copy made from the unpickled result evaluates again at theta."""
    from alsstats.lme.general import GeneralProblem

    monkeypatch.setattr(GeneralProblem, "default_factorisation", "sparse")
    fit = fit_lme(site_data, MULTI)
    assert fit.problem.sparse is not None
    expected = eager_tables(fit)
    back = pickle.loads(pickle.dumps(fit))
    assert back._evaluation is None
    assert_tables_equal(back, expected)
    again = dataclasses.replace(back)  # nothing cached, no evaluation: evaluated again
    assert_tables_equal(again, expected)
    np.testing.assert_array_equal(again.fitted, fit.fitted)


@pytest.mark.parametrize("theta", [0.01, 20.0])
def test_negative_hessian_eigenvalue_warns_and_marks_not_converged(theta):
    """At a theta away from the optimum the deviance Hessian over (theta, sigma) has a
    negative eigenvalue: the fit says so (count and value) and is not converged."""
    from alsstats.errors import ConvergenceWarning
    from alsstats.lme.fit import _fit_frame
    from alsstats.lme.formula import build_model_frame

    frame = build_model_frame("y ~ group * years + (1 | subject)", example_data())
    options = dict(reml=True, df_method="satterthwaite", ci_level=0.95, check_scale=True,
                   start=None, optimizer=None)
    with pytest.warns(ConvergenceWarning, match=r"has 1 negative eigenvalue\(s\) \(-"):
        fit = _fit_frame(frame, theta=np.array([theta]), **options)
    evals = fit._satterthwaite.hessian_eigenvalues
    assert not fit.converged and evals.min() < -1e-6 * max(1.0, np.abs(evals).max())
    optimum = fit_lme(example_data(), "y ~ group * years + (1 | subject)")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        at_optimum = _fit_frame(frame, theta=optimum.theta, **options)
    assert at_optimum.converged


def test_satterthwaite_pseudo_inverse_equals_numpy_eigh(multi):
    """vcov_varpar = 2 H^+ through LAPACK's syevd directly, against numpy.linalg.eigh."""
    parts = multi.variance_derivatives()
    hessian = parts.varpar_hessian(float(np.sqrt(multi.residual_variance)))
    evals, evecs = np.linalg.eigh(hessian)
    expected = 2.0 * (evecs / evals) @ evecs.T
    assert (evals > 1e-8).all()
    satt = multi._satterthwaite
    np.testing.assert_allclose(satt.vcov_varpar, expected, rtol=1e-12, atol=0)
    np.testing.assert_allclose(satt.hessian_eigenvalues, evals, rtol=1e-12, atol=0)

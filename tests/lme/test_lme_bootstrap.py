"""The parametric bootstrap: lock-step refits (q = 1) against one fit_lme per replicate,
identical results for any n_jobs (joblib, Dask), reproducibility and calibration."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from alsstats.errors import SingularFitWarning
from alsstats.lme import bootstrap as inf
from alsstats.lme import fit_lme
from alsstats.lme.engine import LmeProblem
from alsstats.lme.fit import SINGULAR_TOL

FIXED = "y ~ group * years + age + sex"


def cohort(n_subjects: int, sd_intercept: float, sd_slope: float, seed: int) -> pd.DataFrame:
    """1 to 3 visits per subject at jittered times (so Z_i'Z_i of a slope differs by subject)."""
    rng = np.random.default_rng(seed)
    visits = rng.integers(1, 4, n_subjects)
    sid = np.repeat(np.arange(n_subjects), visits)
    visit = np.concatenate([np.arange(k) for k in visits])
    years = np.where(visit > 0, visit / 3 + rng.uniform(-0.05, 0.05, sid.size), 0.0)
    als = rng.random(n_subjects) < 0.5
    age = rng.normal(60.0, 10.0, n_subjects)
    male = rng.random(n_subjects) < 0.5
    b0 = rng.normal(0.0, sd_intercept, n_subjects)
    b1 = rng.normal(0.0, sd_slope, n_subjects)
    y = (4000.0 + 40.0 * (age[sid] - 60.0) + 150.0 * male[sid]
         + (300.0 + 900.0 * als[sid] + b1[sid]) * years + b0[sid]
         + rng.normal(0.0, 200.0, sid.size))
    return pd.DataFrame({"subject": [f"S{i:03d}" for i in sid], "years": years,
                         "group": pd.Categorical(np.where(als[sid], "ALS", "control"),
                                                 ["control", "ALS"]),
                         "age": age[sid], "sex": np.where(male[sid], "M", "F"), "y": y})


SCENARIOS = {
    # random intercept, subjects grouped by their number of visits
    "intercept-REML": (dict(n_subjects=120, sd_intercept=1500.0, sd_slope=0.0, seed=1),
                       f"{FIXED} + (1 | subject)", True),
    # a variance near 0: many replicates end on the boundary theta = 0
    "boundary-ML": (dict(n_subjects=80, sd_intercept=25.0, sd_slope=0.0, seed=2),
                    f"{FIXED} + (1 | subject)", False),
    # a small variance: some replicates at theta = 0, some far above the original theta
    "near-boundary-REML": (dict(n_subjects=80, sd_intercept=60.0, sd_slope=0.0, seed=4),
                           f"{FIXED} + (1 | subject)", True),
    # random slope only: Z_i'Z_i distinct per subject (no grouping)
    "slope-REML": (dict(n_subjects=100, sd_intercept=0.0, sd_slope=400.0, seed=3),
                   f"{FIXED} + (0 + years | subject)", True),
}


@pytest.fixture(scope="module", params=list(SCENARIOS))
def scenario(request):
    kwargs, formula, reml = SCENARIOS[request.param]
    data = cohort(**kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SingularFitWarning)
        res = fit_lme(data, formula, reml=reml, df_method="normal")
    return request.param, data, formula, reml, res


def shared_of(res) -> inf._BootShared:
    """What the bootstrap hands to every chunk."""
    return inf._boot_shared(res)


def simulated(res, n: int, seed: int) -> np.ndarray:
    """The responses the bootstrap simulates for ``seed`` (replicates x rows)."""
    shared = shared_of(res)
    return np.concatenate([inf._simulate_chunk(shared, ss, r)
                           for ss, r in inf._chunk_plan(n, res.nobs, seed, None)])


def first_chunk_stats(res, n: int, seed: int):
    """``(Z_i'y*, X'y*, y*'y*)`` of the first chunk of a bootstrap."""
    shared = shared_of(res)
    ss, r = inf._chunk_plan(n, res.nobs, seed, None)[0]
    return inf._response_stats(shared, inf._simulate_chunk(shared, ss, r))


def refit_each(data, formula, reml, res, ystar, expect_singular):
    """fit_lme on every simulated response (SingularFitWarning exactly where expected):
    rows ``[fixed effects, variance, residual variance]`` and the thetas."""
    rows, thetas = [], []
    for y, singular in zip(ystar, expect_singular, strict=True):
        d = data.copy()
        d.loc[res.fit_rows, "y"] = y
        if singular:
            with pytest.warns(SingularFitWarning):
                fit = fit_lme(d, formula, reml=reml, df_method="normal")
        else:
            fit = fit_lme(d, formula, reml=reml, df_method="normal")
        rows.append(np.concatenate([fit.coefficients["estimate"].to_numpy(),
                                    [fit.random_effects_cov.iloc[0, 0], fit.residual_variance]]))
        thetas.append(fit.theta[0])
    return np.array(rows), np.array(thetas)


@pytest.fixture(scope="module")
def replicates(scenario):
    """40 bootstrap replicates, their responses, and fit_lme on each."""
    name, data, formula, reml, res = scenario
    boot = res.bootstrap(n=40, seed=11)
    est = boot.estimates.to_numpy()
    p = len(res.coefficients)
    theta = np.sqrt(est[:, p] / est[:, p + 1])
    ystar = simulated(res, 40, 11)
    ref, ref_theta = refit_each(data, formula, reml, res, ystar, theta < SINGULAR_TOL)
    return boot, theta, ystar, ref, ref_theta


def assert_close(est, ref, res):
    """Rows ``[fixed effects, variance, residual variance]`` against BOBYQA refits.

    1e-6 relative, with floors for estimates near 0 of 1e-6 standard errors (fixed effects)
    and 1e-6 residual variances (the random-effect variance), and 5e-6 relative on the
    random-effect variance. The floors are BOBYQA's accuracy, not the lock-step search's:
    BOBYQA stops where deviance differences reach its rounding noise and ftol (~1e-11), which
    leaves theta uncertain at ~1e-7 relative, more near a small variance (measured over 320
    replicates: fixed effects within 8e-7 standard errors but up to 1.3e-5 relative for
    estimates near 0; a small variance up to 1.7e-4 relative). The lock-step search finds
    the root of the analytic slope instead; ``test_lockstep_optimum_is_at_least_as_low``
    checks that it is the better optimum.
    """
    p = len(res.coefficients)
    se = res.coefficients["std_error"].to_numpy()
    rtol = np.r_[np.full(p, 1e-6), 5e-6, 1e-6]
    atol = np.r_[1e-6 * se, 1e-6 * res.residual_variance, 0.0]
    err = np.abs(est - ref) / (rtol * np.abs(ref) + atol)
    worst = np.unravel_index(np.argmax(err), err.shape)
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = np.nanmax(np.abs(est - ref) / np.abs(ref), axis=0)
    assert err.max() <= 1.0, (f"replicate {worst[0]}, column {worst[1]}: {est[worst]!r} vs "
                              f"{ref[worst]!r} (max relative differences per column: {rel})")


# ---------------------------------------------------------------- the lock-step path
def test_lockstep_refits_equal_fit_lme_per_replicate(scenario, replicates):
    name, _, _, _, res = scenario
    boot, theta, _, ref, ref_theta = replicates
    n = len(theta)
    assert boot.n_failed == 0 and list(boot.estimates.index) == list(range(n))
    assert "lock-step" in boot.method["refits"]
    est = boot.estimates.to_numpy()
    assert_close(est, ref, res)
    at_zero = theta == 0.0
    np.testing.assert_array_equal(at_zero, ref_theta == 0.0)  # the same boundary replicates
    if name == "near-boundary-REML":
        assert theta.max() > 2.0 * res.theta[0]  # bracketed after several doublings
    if "boundary" in name:
        assert 5 <= at_zero.sum() < n  # both sides of the boundary are exercised
        np.testing.assert_array_equal(est[at_zero, len(res.coefficients)], 0.0)
    else:
        assert not at_zero.any()


def test_lockstep_optimum_is_at_least_as_low(scenario, replicates):
    """Per replicate, the engine's deviance at the lock-step theta is no higher than at
    fit_lme's (evaluated on the OLS-centred response, the same model with less rounding)."""
    _, _, _, reml, res = scenario
    _, theta, ystar, _, ref_theta = replicates
    X, frame = res._X, res._frame
    for y, ours, theirs in zip(ystar, theta, ref_theta, strict=True):
        centred = y - X @ np.linalg.lstsq(X, y, rcond=None)[0]
        rep = LmeProblem(X, centred, frame.Z, frame.codes, res.n_groups)
        lowest = rep.deviance(np.array([theirs]), reml)
        assert rep.deviance(np.array([ours]), reml) <= lowest + 1e-13 * abs(lowest)


def test_slope_is_the_derivative_of_the_engine_deviance(scenario):
    """The analytic d dev / d(theta^2) against central differences of the engine's deviance."""
    name, _, _, reml, res = scenario
    zty, xty, yty = first_chunk_stats(res, 3, 5)
    problem, p = res._problem, res._problem.p
    prof = inf._ScalarProfiles(shared_of(res), zty[:, :, 0], xty, yty)
    assert prof.grouped == (name != "slope-REML")  # both evaluation paths are covered
    for k in range(3):
        ztw = problem.ztw.copy()
        ztw[:, :, p] = zty[k, :, :]
        wtw = problem.wtw.copy()
        wtw[p, :p] = wtw[:p, p] = xty[k]
        wtw[p, p] = yty[k]
        rep = LmeProblem.from_stats(problem.ztz, ztw, wtw, problem.n)
        for u in (0.05, 1.0, 20.0) if res.theta[0] > 0.5 else (0.0, 1e-3, 0.05):
            ev = prof.evaluate(np.array([u]), np.array([k]))
            assert ev.f[0] == pytest.approx(rep.deviance(np.sqrt([u]), reml), rel=1e-11)

            def dev(v, rep=rep):
                return rep.deviance(np.sqrt([v]), reml)

            h = 1e-3 * max(u, 1e-2)
            fd = ((dev(u + h) - dev(u - h)) / (2 * h) if u > 0  # one-sided at the boundary
                  else (4.0 * dev(h) - 3.0 * dev(0.0) - dev(2 * h)) / (2 * h))
            assert ev.g[0] == pytest.approx(fd, rel=1e-4, abs=1e-6)


def test_unconverged_replicates_fall_back_to_bobyqa(scenario, monkeypatch):
    """With no search step allowed, every replicate not settled on the grid (theta = 0) gets
    exactly the BOBYQA refit of the q >= 2 path."""
    _, _, _, reml, res = scenario
    monkeypatch.setattr(inf, "_MAX_ITER", 0)
    boot = res.bootstrap(n=30, seed=4)
    assert boot.n_failed == 0
    bobyqa = inf._refit_bobyqa(shared_of(res), *first_chunk_stats(res, 30, 4))
    est = boot.estimates.to_numpy()
    searched = est[:, len(res.coefficients)] > 0
    assert searched.sum() >= 10
    np.testing.assert_array_equal(est[searched], bobyqa[searched])


# ---------------------------------------------------------------- parallel, seeds
@pytest.fixture(scope="module")
def ri():
    d = cohort(150, 1000.0, 0.0, seed=7)
    return fit_lme(d, f"{FIXED} + (1 | subject)", df_method="normal")


def test_identical_for_any_n_jobs(ri):
    one = ri.bootstrap(n=300, seed=3, n_jobs=1)
    two = ri.bootstrap(n=300, seed=3, n_jobs=2)
    pd.testing.assert_frame_equal(one.estimates, two.estimates, check_exact=True)
    pd.testing.assert_frame_equal(one.ci, two.ci, check_exact=True)


def test_identical_for_any_n_jobs_bobyqa_path():
    d = cohort(60, 1000.0, 300.0, seed=9)  # n > 2 m: identifiable as lme4 requires
    res = fit_lme(d, f"{FIXED} + (1 + years | subject)", df_method="normal")
    one = inf.parametric_bootstrap(res, n=12, seed=2, chunk_size=4, n_jobs=1)
    two = inf.parametric_bootstrap(res, n=12, seed=2, chunk_size=4, n_jobs=2)
    assert "BOBYQA" in one.method["refits"] and one.n_failed == 0
    pd.testing.assert_frame_equal(one.estimates, two.estimates, check_exact=True)


def test_dask_backend_gives_identical_results(ri):
    distributed = pytest.importorskip("dask.distributed")
    import joblib

    serial = ri.bootstrap(n=260, seed=9)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        with distributed.get_task_stream(client) as tasks, joblib.parallel_config(backend="dask"):
            on_dask = ri.bootstrap(n=260, seed=9, n_jobs=-1)
        assert len(tasks.data) > 0
    pd.testing.assert_frame_equal(serial.estimates, on_dask.estimates, check_exact=True)


def test_seed_reproducible(ri):
    a = ri.bootstrap(n=50, seed=21)
    b = ri.bootstrap(n=50, seed=21)
    c = ri.bootstrap(n=50, seed=22)
    pd.testing.assert_frame_equal(a.estimates, b.estimates, check_exact=True)
    assert not np.allclose(a.estimates, c.estimates)
    assert a.seed == 21 and a.n == 50


def test_bad_arguments(ri):
    with pytest.raises(ValueError, match="n must be"):
        ri.bootstrap(n=1)
    with pytest.raises(ValueError, match="ci_level"):
        ri.bootstrap(n=10, ci_level=1.0)
    with pytest.raises(ValueError, match="chunk_size"):
        inf.parametric_bootstrap(ri, n=10, chunk_size=0)


# ---------------------------------------------------------------- calibration
@pytest.mark.parametrize("formula, reml", [
    (f"{FIXED} + (1 | subject)", True),
    (f"{FIXED} + (0 + years | subject)", False),
])
def test_bootstrap_sd_matches_model_standard_errors(formula, reml):
    d = cohort(200, 1000.0 if "1 |" in formula else 0.0,
               0.0 if "1 |" in formula else 400.0, seed=12)
    res = fit_lme(d, formula, reml=reml, df_method="normal")
    boot = res.bootstrap(n=1000, seed=1)
    assert boot.n_failed == 0 and len(boot.estimates) == 1000
    sd = boot.estimates[list(res.coefficients.index)].std()
    np.testing.assert_allclose(sd, res.coefficients["std_error"], rtol=0.1)
    ci = boot.ci.set_index("term")
    assert np.all(ci["ci_low"] < ci["estimate"]) and np.all(ci["estimate"] < ci["ci_high"])


# ---------------------------------------------------------------- pieces
def test_batched_factorisations_survive_a_bad_matrix():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((5, 4, 4))
    spd = a @ np.swapaxes(a, 1, 2) + 4.0 * np.eye(4)
    bad = spd.copy()
    bad[2, 3, 3] = -1.0  # not positive definite
    low = inf._batched_cholesky(bad)
    assert np.isnan(low[2]).any() and np.all(np.isfinite(np.delete(low, 2, axis=0)))
    good = np.linalg.cholesky(spd)
    np.testing.assert_allclose(np.delete(low, 2, axis=0), np.delete(good, 2, axis=0),
                               rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(inf._lower_inverse(good), np.linalg.inv(good), rtol=1e-10,
                               atol=1e-14)


def test_failed_replicates_are_counted_and_left_out(ri, monkeypatch):
    original = inf._refit_scalar

    def failing(*args):
        out = original(*args)
        out[3] = np.nan
        return out

    monkeypatch.setattr(inf, "_refit_scalar", failing)
    boot = ri.bootstrap(n=20, seed=1)
    assert boot.n_failed == 1 and len(boot.estimates) == 19
    assert 3 not in boot.estimates.index and boot.estimates.index[-1] == 19

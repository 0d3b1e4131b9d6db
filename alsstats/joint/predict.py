"""Dynamic survival predictions of a fitted joint model, as JM's ``survfitJM``.

For a subject followed up to its last visit ``t_L`` with measurements ``y``, the first-order
prediction (JM's ``simulate = FALSE``) plugs the posterior mode ``b_hat`` of the random
effects, at the estimated parameters, into ``S(t | b_hat) / S(t_L | b_hat)``. The Monte Carlo
version (JM's ``simulate = TRUE``) draws the parameters from their asymptotic normal
distribution and the random effects from their posterior by independent Metropolis-Hastings
with a multivariate-t(4) proposal centred at the mode (scale 1.6 x its inverse Hessian), and
summarises the draws by mean, median and quantiles.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats
from scipy.optimize import minimize

from alsstats._deprecation import renamed_arguments
from alsstats.errors import DataValidationError
from alsstats.joint import _formula
from alsstats.joint.design import _integration_points
from alsstats.joint.likelihood import chol_to_cov

__all__ = ["predict_survival"]

_LOG_2PI = np.log(2 * np.pi)


class _Subject:
    """One subject's arrays and its log posterior / survival as functions of (theta, b)."""

    def __init__(self, fit, visits: pd.DataFrame, times: np.ndarray):
        jd = fit._data
        pr = jd.problem
        self.pr, self.layout, self.q = pr, pr.layout, pr.q
        kept = jd.lme_start["lme"].kept_columns
        y, X, Z, used = _formula.new_subject_longitudinal(jd.long, visits, jd.base)
        if len(y) == 0:
            raise DataValidationError("predict_survival: no visit with a response value")
        self.y, self.X, self.Z = y, X[:, kept], Z
        self.last_time = float(used[jd.time].max())
        self.times = times[times > self.last_time]
        base = used.iloc[[0]].reset_index(drop=True)
        self.w = _formula.new_subject_covariates(jd.spec, jd.base, base, jd.w_names)[0]
        t_all = np.concatenate([[self.last_time], self.times])
        if pr.baseline == "piecewise":
            # JM's survfitJM: last bound max(survTimes, knots) + 1
            knots = jd.knots
            top = max(np.max(t_all), knots.max())
            s, omega, interval, _ = _integration_points(
                np.append(t_all, top), "piecewise", knots)
            s, omega, interval = s[:-1], omega[:-1], interval[:-1]
            self.interval = interval
        else:
            s, omega, _, _ = _integration_points(t_all, "weibull", None)
        s = np.maximum(s, 1e-300)
        self.s, self.omega, self.log_s = s, omega, np.log(s)
        one = base.iloc[np.zeros(len(t_all), dtype=int)].reset_index(drop=True)
        if pr.value:
            xS, self.zS = jd.long.design_at(one, jd.time, s)
            self.xS = xS[:, :, kept]
        if pr.slope:
            dxS, self.dzS = jd.long.slope_at(one, jd.time, s)
            self.dxS = dxS[:, :, kept]

    def _par(self, theta):
        L = self.layout
        D, _ = chol_to_cov(theta[L["D"]], self.q)
        return L, D

    def cumhaz(self, theta: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Cumulative hazard at (last_time, times...) and its gradient in b: (nt,), (nt, q)."""
        L = self.layout
        beta = theta[L["beta"]]
        eta = self.w @ theta[L["gamma"]] if len(self.w) else 0.0
        lin = np.zeros(self.s.shape)
        dlin = np.zeros(self.s.shape + (self.q,))
        if self.pr.value:
            a = theta[L["alpha"]][0]
            lin += a * (self.xS @ beta + self.zS @ b)
            dlin += a * self.zS
        if self.pr.slope:
            a_s = theta[L["alpha_s"]][0]
            lin += a_s * (self.dxS @ beta + self.dzS @ b)
            dlin += a_s * self.dzS
        if self.pr.baseline == "weibull":
            rho = np.exp(theta[L["log_shape"]][0])
            log_h0 = np.log(rho) + (rho - 1) * self.log_s + theta[L["gamma0"]][0]
        else:
            log_h0 = theta[L["log_xi"]][self.interval]
        E = self.omega * np.exp(log_h0 + eta + lin)
        return E.sum(axis=1), np.einsum("tg,tgq->tq", E, dlin)

    def neg_log_post(self, b: np.ndarray, theta: np.ndarray) -> tuple[float, np.ndarray]:
        L, D = self._par(theta)
        sigma = np.exp(theta[L["log_sigma"]][0])
        r = self.y - self.X @ theta[L["beta"]] - self.Z @ b
        Dinv = np.linalg.inv(D)
        H, dH = self.cumhaz(theta, b)
        logp = (-0.5 * np.sum(r ** 2) / sigma ** 2 - len(r) * (np.log(sigma) + 0.5 * _LOG_2PI)
                - 0.5 * (b @ Dinv @ b + np.linalg.slogdet(D)[1] + self.q * _LOG_2PI) - H[0])
        grad = self.Z.T @ r / sigma ** 2 - Dinv @ b - dH[0]
        return -logp, -grad

    def mode(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        res = minimize(self.neg_log_post, np.zeros(self.q), args=(theta,), jac=True,
                       method="BFGS", options={"gtol": 1e-9})
        b = res.x
        # Hessian by central differences of the analytic gradient
        hess = np.empty((self.q, self.q))
        for j in range(self.q):
            e = np.zeros(self.q)
            e[j] = 1e-5 * max(1.0, abs(b[j]))
            hess[:, j] = (self.neg_log_post(b + e, theta)[1]
                          - self.neg_log_post(b - e, theta)[1]) / (2 * e[j])
        return b, 0.5 * (hess + hess.T)

    def conditional_survival(self, theta: np.ndarray, b: np.ndarray) -> np.ndarray:
        H, _ = self.cumhaz(theta, b)
        return np.exp(-(H[1:] - H[0]))


@renamed_arguments(level="ci_level")
def predict_survival(fit, subject_visits: pd.DataFrame, times, *, interval: bool = False,
                     n_draws: int = 200, ci_level: float = 0.95, seed: int | None = None
                     ) -> pd.DataFrame:
    """Dynamic prediction ``P(T > t | T > t_L, y)`` for each subject of ``subject_visits``.

    Parameters
    ----------
    fit : JointResult
    subject_visits : pandas.DataFrame
        The visits so far of one or more subjects (same columns as the fit's data; survival
        columns are not needed beyond the covariates). ``t_L`` is each subject's last visit.
    times : array-like
        Prediction times on the fit's time scale; only those after ``t_L`` are returned.
    interval : bool
        Add Monte Carlo summaries (JM's ``simulate = TRUE``).
    n_draws : int
        Monte Carlo draws (JM's ``M``).
    ci_level : float
        Level of the Monte Carlo interval (was ``level``).
    seed : int, optional
        Seed of the Monte Carlo draws (reproducible results).

    Returns
    -------
    pandas.DataFrame
        Columns ``subject, time, last_time, survival`` (first order, JM's ``predSurv``); with
        ``interval``: ``mean, median, lower, upper`` and ``acceptance`` (Metropolis-Hastings
        acceptance rate of the subject's random-effect draws).

    Notes
    -----
    Survival covariates and time-constant longitudinal covariates come from the subject's first
    visit. For piecewise baselines JM's ``survfitJM`` (``log.posterior.b``) indexes the
    7 Gauss-Legendre nodes per interval of the posterior mode's survival term by the number of
    knots (6); alsstats integrates as in the fit, so its piecewise predictions can differ from
    JM's slightly (the Weibull ones are compared with JM in the tests).
    """
    subject = fit.method["subject"]
    if subject not in subject_visits.columns:
        raise DataValidationError(f"predict_survival: column '{subject}' is missing")
    times = np.atleast_1d(np.asarray(times, dtype=float))
    theta_hat = fit._theta
    rng = np.random.default_rng(seed)
    if interval:
        cov = fit.vcov.to_numpy()
        chol = np.linalg.cholesky(0.5 * (cov + cov.T))
    frames = []
    for label, visits in subject_visits.groupby(subject, sort=False, observed=True):
        sub = _Subject(fit, visits, times)
        b_hat, hess = sub.mode(theta_hat)
        out = pd.DataFrame({subject: label, "time": sub.times, "last_time": sub.last_time,
                            "survival": sub.conditional_survival(theta_hat, b_hat)})
        if interval:
            scale = 1.6 * np.linalg.inv(hess)
            prop = stats.multivariate_t(loc=b_hat, shape=scale, df=4)
            draws = np.empty((n_draws, len(sub.times)))
            b_old, accepted = b_hat.copy(), 0
            for m in range(n_draws):
                theta_m = theta_hat + chol @ rng.standard_normal(len(theta_hat))
                b_new = np.atleast_1d(prop.rvs(random_state=rng))
                log_a = (-sub.neg_log_post(b_new, theta_m)[0] + prop.logpdf(b_old)
                         + sub.neg_log_post(b_old, theta_m)[0] - prop.logpdf(b_new))
                if np.log(rng.uniform()) <= min(log_a, 0.0):
                    b_old, accepted = b_new, accepted + 1
                draws[m] = sub.conditional_survival(theta_m, b_old)
            tail = (1 - ci_level) / 2
            out["mean"] = draws.mean(axis=0)
            out["median"] = np.median(draws, axis=0)
            out["lower"] = np.quantile(draws, tail, axis=0)
            out["upper"] = np.quantile(draws, 1 - tail, axis=0)
            out["acceptance"] = accepted / n_draws
        frames.append(out)
    return pd.concat(frames, ignore_index=True)

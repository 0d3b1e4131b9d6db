"""The fitted joint model: tidy tables, the ``method`` dict, ``summary()`` and predictions."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from alsstats._deprecation import renamed_arguments
from alsstats.summary import (
    STANDARD_COLUMNS,
    Summary,
    lines,
    preformatted,
    render_summary,
    standard_frame,
    table,
)

__all__ = ["JointResult", "wald_table"]


def wald_table(names: list[str], estimate: np.ndarray, std_error: np.ndarray,
               ci_level: float) -> pd.DataFrame:
    """``estimate, std_error, statistic, p_value, ci_low, ci_high`` (z tests, Wald CIs)."""
    z = stats.norm.ppf(0.5 + ci_level / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        statistic = estimate / std_error
    return pd.DataFrame({"estimate": estimate, "std_error": std_error, "statistic": statistic,
                         "p_value": 2 * stats.norm.sf(np.abs(statistic)),
                         "ci_low": estimate - z * std_error, "ci_high": estimate + z * std_error},
                        index=pd.Index(names, name="term"))


@dataclass(frozen=True, repr=False)
class JointResult:
    """A fitted shared-random-effects joint model (JM's ``jointModel``).

    Attributes
    ----------
    longitudinal : pandas.DataFrame
        Fixed effects of the longitudinal sub-model, index ``term`` (R's names, e.g.
        ``Intercept``, ``groupALS:years``); columns ``estimate, std_error, statistic,
        p_value, ci_low, ci_high`` (z tests and Wald intervals from the observed information).
    survival : pandas.DataFrame
        Log hazard ratios: the survival covariates (R names, e.g. ``sexM``), then the
        association rows ``value`` (per unit of the current longitudinal mean) and/or ``slope``
        (per unit/time of its current slope); the same columns plus ``hazard_ratio``
        (``exp(estimate)``; the CI of the hazard ratio is ``exp`` of ``ci_low``/``ci_high``).
    baseline : pandas.DataFrame
        Weibull: rows ``intercept`` (JM's event ``(Intercept)``) and ``log_shape`` (JM's
        ``log(shape)``); piecewise: rows ``log_rate_1`` .. ``log_rate_Q`` (JM's ``log(xi.q)``)
        with extra columns ``start``, ``end`` of each interval. Columns as ``longitudinal``.
    knots : numpy.ndarray or None
        Interior knots of the piecewise-constant baseline (JM's ``control$knots``).
    varcorr : pandas.DataFrame
        Random-effect covariance as ``fit_lme``'s ``random_effects_table()``: columns ``group,
        term, variance, std_dev, corr_with``, last row ``Residual``.
    random_effects_cov : pandas.DataFrame
        ``D`` (terms x terms).
    residual_sd : float
        ``sigma`` of the longitudinal errors.
    loglik, aic, bic : float
        Log-likelihood at the maximum (the pseudo-adaptive quadrature approximation, as JM's
        ``logLik``); ``aic = -2 loglik + 2 npar``, ``bic`` with ``log(n_subjects)`` as JM.
    random_effects : pandas.DataFrame
        Posterior means of the random effects, index = subject.
    vcov : pandas.DataFrame
        Inverse observed information of all parameters, in JM's parameterisation and order
        (``log sigma``, ``log shape`` or ``log xi``, log-Cholesky ``D``).
    method : dict
        ``method`` (``"weibull-PH-aGH"``/``"piecewise-PH-aGH"``), ``association``, ``formula``
        (longitudinal, survival), ``time``, ``gh_nodes`` per dimension, ``quadrature``,
        ``survival_integral``, ``optimizer``, ``converged``, ``n_evaluations``, ``max_gradient``
        (of the internal problem), ``response_scale`` (the response is fitted divided by its
        SD and the estimates transformed back), ``standard_errors``, ``ci_level``.
    nobs, n_subjects, n_events, n_params, n_dropped_rows : int
        ``nobs``: visits used (also :attr:`n_obs`).
    ci_level : float
        Level of the Wald intervals (``method["ci_level"]``).
    """

    longitudinal: pd.DataFrame
    survival: pd.DataFrame
    baseline: pd.DataFrame
    knots: np.ndarray | None
    varcorr: pd.DataFrame
    random_effects_cov: pd.DataFrame
    residual_sd: float
    loglik: float
    aic: float
    bic: float
    random_effects: pd.DataFrame
    vcov: pd.DataFrame
    method: dict[str, Any]
    nobs: int
    n_subjects: int
    n_events: int
    n_params: int
    n_dropped_rows: int
    _theta: np.ndarray = field(repr=False)
    _data: Any = field(repr=False)

    @property
    def hazard_ratios(self) -> pd.DataFrame:
        """``hazard_ratio`` with its confidence interval (``exp`` of the survival table)."""
        s = self.survival
        return pd.DataFrame({"hazard_ratio": s["hazard_ratio"], "ci_low": np.exp(s["ci_low"]),
                             "ci_high": np.exp(s["ci_high"]), "p_value": s["p_value"]})

    @property
    def n_obs(self) -> int:
        """Visits used (as ``nobs``)."""
        return self.nobs

    @property
    def ci_level(self) -> float:
        """Level of the Wald intervals."""
        return self.method["ci_level"]

    def to_frame(self) -> pd.DataFrame:
        """Every estimated coefficient as one tidy table.

        Returns
        -------
        pandas.DataFrame
            ``term`` (R's names), ``estimate``, ``std_error``, ``statistic`` (Wald z),
            ``df`` (NaN: z tests), ``p_value``, ``ci_low``, ``ci_high`` (Wald at
            :attr:`ci_level`); then ``part`` (``longitudinal``, ``survival`` (log hazard
            ratios and the association), ``baseline`` (baseline hazard)) and
            ``hazard_ratio`` (survival rows).
        """
        parts = [standard_frame(frame, part=name) for name, frame in
                 (("longitudinal", self.longitudinal), ("survival", self.survival),
                  ("baseline", self.baseline))]
        out = pd.concat(parts, ignore_index=True)
        rest = [c for c in out.columns if c not in STANDARD_COLUMNS and c != "part"]
        return out[[*STANDARD_COLUMNS, "part", *rest]]

    def summary(self) -> Summary:
        """A JM-like summary: model, random effects, the longitudinal and event processes,
        the baseline hazard and how it was computed."""
        m = self.method
        head = {"model": f"{m['method']}, association: {m['association']}",
                "longitudinal": m["formula"]["longitudinal"],
                "survival": f"{m['formula']['survival']} (time variable: {m['time']})",
                "subjects": self.n_subjects, "visits": self.nobs, "events": self.n_events,
                "log-likelihood": self.loglik, "AIC": self.aic, "BIC": self.bic}
        varcorr = self.varcorr.drop(columns="corr_with")
        note = (f"Integration: {m['quadrature']}, {m['gh_nodes']} nodes per dimension; "
                f"{m['survival_integral']}. Optimiser: {m['optimizer']} "
                f"({'converged' if m['converged'] else 'NOT converged'}, "
                f"{m['n_evaluations']} evaluations). Standard errors: {m['standard_errors']}.")
        return render_summary("Joint model", [
            lines(None, head), table("Random effects", varcorr),
            table("Longitudinal process", self.longitudinal),
            table("Event process (log hazard ratios)", self.survival),
            table("Baseline hazard", self.baseline), preformatted(None, note)])

    def __repr__(self) -> str:
        m = self.method
        return (f"JointResult({m['method']}, association={m['association']!r}, "
                f"n_subjects={self.n_subjects}, n_events={self.n_events}, "
                f"loglik={self.loglik:.3f})")

    @renamed_arguments(level="ci_level")
    def predict_survival(self, subject_visits: pd.DataFrame, times, *, interval: bool = False,
                         n_draws: int = 200, ci_level: float = 0.95, seed: int | None = None
                         ) -> pd.DataFrame:
        """Dynamic prediction ``P(T > t | T > last visit, the visits so far)``.

        See :func:`alsstats.joint.predict.predict_survival`.
        """
        from alsstats.joint.predict import predict_survival
        return predict_survival(self, subject_visits, times, interval=interval,
                                n_draws=n_draws, ci_level=ci_level, seed=seed)

"""Likelihood-ratio tests of nested mixed models (as lme4's ``anova``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import stats

from alsstats.summary import Summary, lines, render_summary, standard_frame, table

if TYPE_CHECKING:
    from alsstats.lme.result import LMEResult

__all__ = ["LRTResult", "compare_lme"]


@dataclass(frozen=True)
class LRTResult:
    """A likelihood-ratio test of two nested mixed models (lme4's ``anova(small, big)``).

    Attributes
    ----------
    statistic : float
        ``2 (logLik(big) - logLik(small))``, floored at 0 as lme4 does.
    df : int
        Difference in the number of parameters.
    p_value : float
        Upper tail of the chi-squared distribution on ``df``.
    table : pandas.DataFrame
        One row per model (index ``model``: ``small``, ``big``); columns ``formula, npar, aic,
        bic, loglik, deviance, statistic, df, p_value``.
    refitted_ml : bool
        True when REML fits were refitted by ML before comparing (as lme4 does).
    n_obs, n_subjects : int
        Rows of the fits and levels of their first grouping factor (the same for both).
    method : dict
        ``test`` (likelihood-ratio, chi-squared), ``estimation`` (``"ML"``: the fits
        compared), ``refitted_ml``, ``formula_small``, ``formula_big``.
    ci_level : None
        No interval is computed.
    """

    statistic: float
    df: int
    p_value: float
    table: pd.DataFrame
    refitted_ml: bool
    n_obs: int
    n_subjects: int
    method: dict[str, Any] = field(default_factory=dict)
    ci_level: float | None = None

    def to_frame(self) -> pd.DataFrame:
        """One row per model, as lme4's ``anova(small, big)`` table.

        Returns
        -------
        pandas.DataFrame
            ``term`` (``small``, ``big``); ``statistic`` (chi-squared), ``df`` and
            ``p_value`` on the bigger model's row (NaN on the first); ``estimate``,
            ``std_error``, ``ci_low``, ``ci_high`` NaN; then ``formula, npar, aic, bic,
            loglik, deviance``.
        """
        return standard_frame(self.table)

    def summary(self) -> Summary:
        """The test and the two models (lme4's ``anova`` table)."""
        return render_summary("Likelihood-ratio test of nested mixed models", [
            lines(None, {"chi-squared": self.statistic, "df": self.df, "p_value": self.p_value,
                         "refitted by ML": self.refitted_ml, "n_obs": self.n_obs}),
            table("Models", self.table.drop(columns=["statistic", "df", "p_value"]))])

    def __repr__(self) -> str:
        return (f"LRTResult(statistic={self.statistic:.6g}, df={self.df}, "
                f"p_value={self.p_value:.4g}, refitted_ml={self.refitted_ml})")


def compare_lme(small: LMEResult, big: LMEResult) -> LRTResult:
    """Likelihood-ratio test of two nested mixed models fitted to the same rows.

    Parameters
    ----------
    small, big : LMEResult
        The models; they are ordered by their number of parameters, as lme4 does.

    Returns
    -------
    LRTResult
        ``statistic``, ``df``, ``p_value`` and a ``table`` with columns ``formula, npar, aic,
        bic, loglik, deviance, statistic, df, p_value``.

    Notes
    -----
    As lme4's ``anova``: when either fit is REML both are refitted by maximum likelihood
    (starting from their REML ``theta``); the statistic is ``2 * max(0, diff(logLik))``.
    Nesting is not checked (neither does lme4); the fits must use the same rows and response.

    Examples
    --------
    >>> from alsstats.lme import compare_lme, fit_lme
    >>> from alsstats.lme.examples import example_data
    >>> d = example_data()
    >>> a = fit_lme(d, "y ~ group + years + (1 | subject)")
    >>> b = fit_lme(d, "y ~ group * years + (1 | subject)")
    >>> round(compare_lme(a, b).df)
    1
    """
    if small.nobs != big.nobs or not np.array_equal(small.response, big.response):
        raise ValueError("compare_lme: the two models were not fitted to the same rows and "
                         f"response ({small.nobs} vs {big.nobs} observations)")
    refit = small.estimation == "REML" or big.estimation == "REML"
    models = [m.refit_ml() if m.estimation == "REML" else m for m in (small, big)]
    npars = [m.n_params for m in models]
    if npars[0] > npars[1]:
        models = models[::-1]
        npars = npars[::-1]
    lls = [m.loglik for m in models]
    stat = 2.0 * max(0.0, lls[1] - lls[0])
    df = int(npars[1] - npars[0])
    p = float(stats.chi2.sf(stat, df)) if df > 0 else np.nan
    table = pd.DataFrame({
        "formula": [m.formula for m in models], "npar": npars,
        "aic": [m.aic for m in models], "bic": [m.bic for m in models], "loglik": lls,
        "deviance": [-2.0 * v for v in lls], "statistic": [np.nan, stat],
        "df": [np.nan, df], "p_value": [np.nan, p]},
        index=pd.Index(["small", "big"], name="model"))
    return LRTResult(statistic=stat, df=df, p_value=p, table=table, refitted_ml=refit,
                     n_obs=models[0].nobs, n_subjects=models[0].n_subjects,
                     method={"test": "likelihood-ratio test (chi-squared)", "estimation": "ML",
                             "refitted_ml": refit, "formula_small": models[0].formula,
                             "formula_big": models[1].formula})

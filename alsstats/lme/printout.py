"""The text of a mixed model's ``summary()``, laid out like lmerTest's printout."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from alsstats.formatting import format_p_value

if TYPE_CHECKING:
    from alsstats.lme.result import LMEResult

__all__ = ["lmer_summary_text"]


def lmer_summary_text(result: LMEResult) -> str:
    """A text summary laid out like lmerTest's ``summary()``.

    Examples
    --------
    >>> from alsstats.lme import fit_lme
    >>> from alsstats.lme.examples import example_data
    >>> fit = fit_lme(example_data(), "y ~ group + years + (1 | subject)")
    >>> lmer_summary_text(fit).splitlines()[0]
    "Linear mixed model fit by REML. t-tests use Satterthwaite's method [alsstats]"
    """
    lines = []
    reml = result.estimation == "REML"
    how = "REML" if reml else "maximum likelihood"
    tests = {"satterthwaite": "t-tests use Satterthwaite's method",
             "kenward-roger": "t-tests use Kenward-Roger's method"}.get(
                 result.df_method, "z-tests (normal approximation)")
    lines.append(f"Linear mixed model fit by {how}. {tests} [alsstats]")
    lines.append(f"Formula: {result.formula}")
    lines.append("")
    if reml:
        lines.append(f"REML criterion at convergence: {result.deviance:.1f}")
    else:
        lines.append(f"{'AIC':>9} {'BIC':>9} {'logLik':>9} {'deviance':>9}")
        lines.append(f"{result.aic:9.1f} {result.bic:9.1f} {result.loglik:9.1f} "
                     f"{result.deviance:9.1f}")
    lines.append("")
    scaled = result.residuals / np.sqrt(result.residual_variance)
    qs = np.quantile(scaled, [0, 0.25, 0.5, 0.75, 1])
    lines.append("Scaled residuals:")
    lines.append("".join(f"{h:>9}" for h in ["Min", "1Q", "Median", "3Q", "Max"]))
    lines.append("".join(f"{v:9.4f}" for v in qs))
    lines.append("")
    lines.append("Random effects:")
    vc = result.random_effects_table()
    lines.append(f" {'Groups':<10}{'Name':<14}{'Variance':>12}{'Std.Dev.':>12} Corr")
    previous = None
    for _, row in vc.iterrows():
        group = row["group"] if row["group"] != previous else ""
        previous = row["group"]
        name = "(Intercept)" if row["term"] == "Intercept" else row["term"]
        corr = " ".join(f"{v:5.2f}" for v in row["corr_with"].values())
        lines.append(f" {group:<10}{name:<14}{row['variance']:12.4g}{row['std_dev']:12.4g} "
                     f"{corr}")
    counts = ", ".join(dict.fromkeys(f"{b.grp}, {len(b.levels)}" for b in result.random_blocks))
    lines.append(f"Number of obs: {result.nobs}, groups:  {counts}")
    lines.append("")
    lines.append("Fixed effects:")
    tab = result.coefficients.copy()
    tab.index = ["(Intercept)" if t == "Intercept" else t for t in tab.index]
    stat_name, p_name = (("z value", "Pr(>|z|)") if result.df_method == "normal"
                         else ("t value", "Pr(>|t|)"))
    shown = pd.DataFrame({"Estimate": tab["estimate"].map(lambda v: f"{v:.4g}"),
                          "Std. Error": tab["std_error"].map(lambda v: f"{v:.4g}"),
                          "df": tab["df"].map(lambda v: f"{v:.1f}"),
                          stat_name: tab["statistic"].map(lambda v: f"{v:.3f}"),
                          p_name: format_p_value(tab["p_value"].to_numpy(), style="r"),
                          "": tab["p_value"].map(_stars)}, index=tab.index)
    lines.append(shown.to_string())
    lines.append("---")
    lines.append("Signif. codes:  0 '***' 0.001 '**' 0.01 '*' 0.05 '.' 0.1 ' ' 1")
    if result.dropped_terms:
        lines.append(f"fixed-effect model matrix is rank deficient: dropped "
                     f"{', '.join(result.dropped_terms)}")
    if result.singular:
        lines.append("boundary (singular) fit: see help('isSingular')")
    if not result.converged:
        lines.append(f"optimizer did not converge: {result.optimizer['status']}")
    return "\n".join(lines)


def _stars(p: float) -> str:
    return "***" if p < 0.001 else "**" if p < 0.01 else "*" if p < 0.05 else "." if p < 0.1 else ""

"""Marginal means, trends and their contrasts for mixed models, as R's emmeans.

``marginal_means`` is ``emmeans(m, specs, at = ...)``, ``marginal_trends`` is
``emtrends(m, specs, var)``, ``contrasts`` is ``contrast()`` / ``pairs()``. Standard errors
and df follow emmeans' ``lmer.df`` modes: ``"kenward-roger"`` (pbkrtest's adjusted covariance
and ``Lb_ddf`` df, emmeans' default for lmer fits) or ``"satterthwaite"`` (lmerTest's df).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import stats

from alsstats.lme.structure import ModelStructure, model_structure
from alsstats.multiplicity import P_ADJUST_METHODS, p_adjust
from alsstats.summary import Summary, lines, render_summary, standard_frame, table

if TYPE_CHECKING:
    from alsstats.lme.result import LMEResult

__all__ = [
    "ContrastResult", "MarginalMeans", "contrasts", "marginal_means", "marginal_trends",
    "mean_curve",
]

_DF_METHODS = ("kenward-roger", "satterthwaite")
_CONTRAST_METHODS = ("pairwise", "revpairwise", "trt.vs.ctrl")
_ADJUST = ("tukey", *[m for m in P_ADJUST_METHODS if m != "fdr"])


class _CountsOfTheFit:
    """``n_obs`` and ``n_subjects`` of the result protocol, read from the mixed model (``_fit``)
    the means or contrasts come from."""

    @property
    def n_obs(self) -> int:
        """Rows of the fit."""
        return self._fit.nobs

    @property
    def n_subjects(self) -> int:
        """Levels of the fit's first grouping factor."""
        return self._fit.n_subjects


@dataclass(frozen=True)
class MarginalMeans(_CountsOfTheFit):
    """Estimated marginal means (or trends) of a mixed model over a reference grid.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per combination of the ``specs`` levels (first spec varying fastest, as
        emmeans): the specs columns, then ``estimate, std_error, df, statistic, p_value, ci_low,
        ci_high`` (t-test of estimate = 0, Wald CI on the same df).
    linfct : numpy.ndarray
        (rows, coefficients): each row's linear function of the fixed effects.
    specs : list of str
    labels : list of str
        Row labels used to name contrasts.
    method : dict
        ``kind`` ("means" or "trends of <var>"), ``df_method``, ``grid`` (the reference
        grid's values of every variable), ``weights`` ("equal"), ``ci_level``.
    ci_level : float
        Level of the intervals (``method["ci_level"]``).
    n_obs, n_subjects : int
        Of the fit (rows; levels of its first grouping factor).
    """

    table: pd.DataFrame
    linfct: np.ndarray
    specs: list[str]
    labels: list[str]
    method: dict[str, Any]
    _fit: Any = field(repr=False)

    @property
    def ci_level(self) -> float:
        """Level of the intervals."""
        return self.method["ci_level"]

    def to_frame(self) -> pd.DataFrame:
        """The means (or trends) as a tidy table.

        Returns
        -------
        pandas.DataFrame
            One row per combination of the ``specs`` levels: ``term`` (the row's label, e.g.
            ``"ALS"`` or ``"ALS:F"``), ``estimate``, ``std_error``, ``statistic`` (t of
            estimate = 0), ``df``, ``p_value``, ``ci_low``, ``ci_high`` (at
            :attr:`ci_level`); then the specs columns.
        """
        return standard_frame(self.table, term=self.labels)

    def summary(self) -> Summary:
        """Method and the table of means or trends."""
        kind = self.method["kind"]
        head = {k: v for k, v in self.method.items() if k != "grid"}
        return render_summary(f"Estimated marginal {kind}", [
            lines(None, {**head, "n_obs": self.n_obs}), table(None, self.table)])

    def __repr__(self) -> str:
        return f"MarginalMeans({self.method['kind']}, specs={self.specs})\n{self.table}"


@dataclass(frozen=True)
class ContrastResult(_CountsOfTheFit):
    """Contrasts of marginal means (``contrast()`` / ``pairs()`` of emmeans).

    Attributes
    ----------
    table : pandas.DataFrame
        Columns ``contrast, estimate, std_error, df, statistic, p_value`` (p adjusted as
        ``method["adjust"]`` says).
    linfct : numpy.ndarray
        (contrasts, coefficients).
    method : dict
        ``contrast`` (pairwise, revpairwise, trt.vs.ctrl), ``adjust``, ``family_size``,
        ``df_method``.
    ci_level : None
        No interval is computed (as emmeans' ``contrast`` summary).
    n_obs, n_subjects : int
        Of the fit (rows; levels of its first grouping factor).
    """

    table: pd.DataFrame
    linfct: np.ndarray
    method: dict[str, Any]
    _fit: Any = field(default=None, repr=False)
    ci_level: float | None = None

    def to_frame(self) -> pd.DataFrame:
        """The contrasts as a tidy table.

        Returns
        -------
        pandas.DataFrame
            One row per contrast: ``term`` (e.g. ``"ALS - control"``), ``estimate``,
            ``std_error``, ``statistic`` (t), ``df``, ``p_value`` (adjusted as
            ``method["adjust"]``); ``ci_low``, ``ci_high`` NaN.
        """
        return standard_frame(self.table, term="contrast")

    def summary(self) -> Summary:
        """Method and the table of contrasts."""
        return render_summary("Contrasts of marginal means", [
            lines(None, {**self.method, "n_obs": self.n_obs}), table(None, self.table)])

    def __repr__(self) -> str:
        return f"ContrastResult({self.method['contrast']}, adjust={self.method['adjust']})\n" \
               f"{self.table}"


# ------------------------------------------------------------------ linear functions
def _inference(fit: Any, L: np.ndarray, df_method: str) -> tuple[np.ndarray, np.ndarray,
                                                                   np.ndarray, np.ndarray]:
    """Estimates, standard errors and df of the rows of ``L`` (emmeans' ``lmer.df`` modes)."""
    st = model_structure(fit)
    est = L @ st.beta
    if df_method == "kenward-roger":
        from alsstats.lme.kenward_roger import kenward_roger

        kr = kenward_roger(fit)
        se = np.sqrt(np.einsum("ia,ab,ib->i", L, kr.phi_adj, L))
        df = kr.df_rows(L)
    else:
        satt = st.satterthwaite()
        se = np.sqrt(np.einsum("ia,ab,ib->i", L, st.vcov, L))
        df = np.array([satt.df(row, st.vcov) for row in L])
    return est, se, df, est / se


def _check_df_method(fit: Any, df_method: str | None) -> str:
    if df_method is None:
        df_method = "satterthwaite" if fit.df_method == "satterthwaite" else "kenward-roger"
        if fit.estimation != "REML":
            df_method = "satterthwaite"
    if df_method not in _DF_METHODS:
        raise ValueError(f"df_method must be one of {_DF_METHODS}, got {df_method!r}")
    if df_method == "kenward-roger" and fit.estimation != "REML":
        raise ValueError("df_method='kenward-roger' needs a REML fit; use 'satterthwaite'")
    return df_method


# ------------------------------------------------------------------ reference grid
def _fixed_variables(st: ModelStructure) -> list[str]:
    data = _data(st)
    words: set[str] = set()
    for term in st.x_terms:
        words |= set(re.findall(r"[A-Za-z_.][A-Za-z0-9_.]*", term))
    return [c for c in data.columns if c in words]


def _data(st: ModelStructure) -> pd.DataFrame:
    if st.data is None:
        raise ValueError("marginal means need the model's variables on the fitted rows, which "
                         "were not kept: fit with alsstats.fit_lme on a table with a unique "
                         "index (rows left out for missing values cannot be matched to a "
                         "duplicated index)")
    return st.data


def _is_factor(col: pd.Series) -> bool:
    return not (pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col))


def _levels(col: pd.Series) -> list:
    from alsstats.lme.anova import factor_levels

    return factor_levels(col)


def _grid(st: ModelStructure, specs: list[str], at: dict[str, Any] | None
          ) -> tuple[pd.DataFrame, dict[str, list]]:
    data = _data(st)
    at = dict(at or {})
    variables = _fixed_variables(st)
    unknown = [s for s in [*specs, *at] if s not in variables]
    if unknown:
        raise KeyError(f"marginal_means: {unknown} are not variables of the fixed part; "
                       f"they are {variables}")
    values: dict[str, list] = {}
    for var in variables:
        col = data[var]
        if var in at:
            v = at[var]
            values[var] = list(v) if isinstance(v, (list, tuple, np.ndarray, pd.Index)) else [v]
        elif _is_factor(col):
            values[var] = _levels(col)
        else:
            values[var] = [float(col.mean())]
    for s in specs:
        if not _is_factor(data[s]) and s not in at:
            raise ValueError(f"marginal_means: spec {s!r} is numeric; give its values with "
                             f"at={{{s!r}: [...]}}")
    combos = list(itertools.product(*[values[v] for v in reversed(variables)]))
    grid = pd.DataFrame([c[::-1] for c in combos], columns=variables)  # first varies fastest
    for var in variables:
        if isinstance(data[var].dtype, pd.CategoricalDtype):
            grid[var] = pd.Categorical(grid[var], categories=data[var].cat.categories)
    for col in data.columns:  # other model columns (random part, response): never used
        if col not in grid.columns:
            grid[col] = data[col].iloc[0] if _is_factor(data[col]) else float(data[col].mean())
    return grid, values


def _average(X: np.ndarray, grid: pd.DataFrame, specs: list[str], values: dict[str, list],
             weights: str = "equal", data: pd.DataFrame | None = None
             ) -> tuple[np.ndarray, pd.DataFrame]:
    """Averages of the grid rows per spec combination (first spec fastest): equal weights, or
    weights proportional to the frequencies in the data of the averaged-over factor
    combinations (emmeans' ``"proportional"``)."""
    combos = list(itertools.product(*[values[s] for s in reversed(specs)]))
    combos = [c[::-1] for c in combos]
    keys = [tuple(r) for r in grid[specs].astype(object).itertuples(index=False)]
    w = np.ones(len(grid))
    if weights == "proportional" and data is not None:
        others = [v for v in values if v not in specs and _is_factor(data[v])]
        if others:
            counts = data.groupby(others, observed=True).size()
            idx = pd.MultiIndex.from_frame(grid[others].astype(object)) if len(others) > 1 \
                else pd.Index(grid[others[0]].astype(object))
            w = counts.reindex(idx).fillna(0.0).to_numpy(dtype=float)
    rows = []
    for combo in combos:
        mask = np.array([k == tuple(combo) for k in keys])
        wm = w[mask]
        if wm.sum() <= 0:
            raise ValueError(f"marginal_means: no observations of the averaged-over factors for "
                             f"{dict(zip(specs, combo, strict=True))} (proportional weights)")
        rows.append(wm @ X[mask] / wm.sum())
    return np.array(rows), pd.DataFrame(combos, columns=specs)


def _labels(spec_table: pd.DataFrame, specs: list[str]) -> list[str]:
    """emmeans' level labels: the factor name is prepended to numeric-looking levels."""
    parts = []
    for s in specs:
        vals = [str(v) for v in spec_table[s]]
        numeric = all(re.fullmatch(r"[-+]?\d*\.?\d+([eE][-+]?\d+)?", v) for v in vals)
        parts.append([f"{s}{v}" if numeric else v for v in vals])
    return [" ".join(p) for p in zip(*parts, strict=True)]


def _table(spec_table: pd.DataFrame, est, se, df, stat, ci_level: float) -> pd.DataFrame:
    crit = stats.t.ppf(0.5 + ci_level / 2.0, df)
    out = spec_table.reset_index(drop=True).copy()
    out["estimate"] = est
    out["std_error"] = se
    out["df"] = df
    out["statistic"] = stat
    out["p_value"] = 2.0 * stats.t.sf(np.abs(stat), df)
    out["ci_low"] = est - crit * se
    out["ci_high"] = est + crit * se
    return out


def _counterfactual_designs(st: ModelStructure, variables: list[str], at: dict[str, Any]
                            ) -> tuple[np.ndarray, pd.DataFrame, dict[str, list]]:
    """Average fixed-effects design over the observed rows with ``variables`` set to each
    combination of their values (first varying fastest), as emmeans' ``counterfactuals``."""
    data = _data(st)
    fixed_vars = _fixed_variables(st)
    unknown = [v for v in variables if v not in fixed_vars]
    if unknown:
        raise KeyError(f"marginal_means: counterfactuals {unknown} are not variables of the "
                       f"fixed part; they are {fixed_vars}")
    others = [k for k in at if k not in variables]
    if others:
        raise ValueError(f"marginal_means: with counterfactuals, {others} keep their observed "
                         f"values; name them in counterfactuals to set them with at")
    values: dict[str, list] = {}
    for var in variables:
        if var in at:
            v = at[var]
            values[var] = list(v) if isinstance(v, (list, tuple, np.ndarray, pd.Index)) else [v]
        elif _is_factor(data[var]):
            values[var] = _levels(data[var])
        else:
            raise ValueError(f"marginal_means: counterfactual {var!r} is numeric; give its "
                             f"values with at={{{var!r}: [...]}}")

    def average(setting: dict[str, Any]) -> np.ndarray:
        scenario = data.copy()
        for var, value in setting.items():
            if isinstance(data[var].dtype, pd.CategoricalDtype):
                scenario[var] = pd.Categorical([value] * len(scenario),
                                               categories=data[var].cat.categories)
            else:
                scenario[var] = value
        return st.design(scenario).mean(axis=0)

    numeric = [v for v in variables if not _is_factor(data[v])]
    factors = [v for v in variables if v not in numeric]
    designs: dict[tuple, np.ndarray] = {}
    for combo in itertools.product(*[values[v] for v in factors]):
        setting = dict(zip(factors, combo, strict=True))
        if len(numeric) == 1 and len(values[numeric[0]]) > 2:
            # The averaged design is linear in x whenever x enters the formula linearly
            # (x, x:age, group:x, ...): then three evaluations give every value exactly,
            # instead of one model-matrix build over all rows per value.
            var = numeric[0]
            grid = np.asarray(values[var], dtype=float)
            low, high = grid.min(), grid.max()
            at_low, at_high = average({**setting, var: low}), average({**setting, var: high})
            middle = average({**setting, var: 0.5 * (low + high)})
            if high > low and np.allclose(middle, 0.5 * (at_low + at_high), rtol=1e-10,
                                          atol=1e-12):
                share = ((grid - low) / (high - low))[:, None]
                for value, row in zip(values[var], (1 - share) * at_low + share * at_high,
                                      strict=True):
                    designs[(*combo, value)] = row
                continue
        for rest in itertools.product(*[values[v] for v in numeric]):
            designs[(*combo, *rest)] = average({**setting, **dict(zip(numeric, rest,
                                                                      strict=True))})
    order = [*factors, *numeric]
    combos = [c[::-1] for c in itertools.product(*[values[v] for v in reversed(variables)])]
    X = np.array([designs[tuple(c[variables.index(v)] for v in order)] for c in combos])
    return X, pd.DataFrame(combos, columns=variables), values


def _as_list(specs: str | list[str]) -> list[str]:
    specs = [specs] if isinstance(specs, str) else list(specs)
    if not specs:
        raise ValueError("specs must name at least one variable")
    return specs


def marginal_means(fit: LMEResult, specs: str | list[str], at: dict[str, Any] | None = None,
                   df_method: str | None = None, ci_level: float = 0.95,
                   weights: str = "equal", counterfactuals: str | list[str] | None = None
                   ) -> MarginalMeans:
    """Estimated marginal means, as emmeans' ``emmeans(m, specs, at = ...)``.

    The reference grid is emmeans' default: every numeric covariate at its mean over the rows
    of the fit (or at the values given in ``at``), every factor at each of its levels. The mean
    of a ``specs`` combination averages the model's predictions over the grid's other factors
    with equal weights (emmeans' ``weights = "equal"``), not with the observed proportions
    (unless ``weights="proportional"``).

    Parameters
    ----------
    fit : LMEResult
        A fit from :func:`alsstats.fit_lme`.
    specs : str or list of str
        Factor(s) whose levels define the means, e.g. ``"group"`` or ``["group", "sex"]``.
    at : dict, optional
        Values of covariates (or levels of factors) for the grid, e.g. ``{"years": 2}``.
    df_method : {"kenward-roger", "satterthwaite"}, optional
        emmeans' ``lmer.df``: Kenward-Roger adjusted covariance and df (emmeans' default;
        the default here for REML fits unless the fit used Satterthwaite) or Satterthwaite.
    ci_level : float
    weights : {"equal", "proportional"}
        How the other factors' levels are averaged: equally (emmeans' default) or in
        proportion to the frequencies of their combinations in the fitted rows (emmeans'
        ``weights = "proportional"``: the cohort's mix, e.g. of sexes).
    counterfactuals : str or list of str, optional
        emmeans' ``counterfactuals`` (emmeans >= 1.8): instead of the reference grid, every
        fitted row is kept with its observed values, and only these variables are set, to each
        combination of their values (``at``, or a factor's levels; numeric ones need ``at``).
        Each mean is the model's population prediction averaged over all fitted rows with
        equal weight (the cohort-average, or g-computation, prediction), averaged equally
        over the counterfactual variables not in ``specs``. ``at`` may only name
        counterfactual variables. ``weights`` is then not used.

    Returns
    -------
    MarginalMeans
        ``table``: the specs columns, then ``estimate, std_error, df, statistic, p_value,
        ci_low, ci_high``.

    Notes
    -----
    A covariate that enters the formula through a transformation (``np.log(age)``) is set at
    the mean of the raw column, as emmeans does.

    Examples
    --------
    >>> import alsstats as als
    >>> from alsstats.lme.examples import example_data
    >>> fit = als.fit_lme(example_data(), "y ~ group * years + (1 + years | subject)")
    >>> mm = als.marginal_means(fit, "group", at={"years": 1.0})
    >>> list(mm.table.columns)
    ['group', 'estimate', 'std_error', 'df', 'statistic', 'p_value', 'ci_low', 'ci_high']
    """
    df_method = _check_df_method(fit, df_method)
    specs = _as_list(specs)
    st = model_structure(fit)
    if weights not in ("equal", "proportional"):
        raise ValueError(f"marginal_means: weights must be 'equal' or 'proportional', got "
                         f"{weights!r}")
    if counterfactuals is not None:
        variables = _as_list(counterfactuals)
        missing = [s for s in specs if s not in variables]
        if missing:
            raise ValueError(f"marginal_means: specs {missing} must be among counterfactuals "
                             f"{variables}")
        X, grid, values = _counterfactual_designs(st, variables, dict(at or {}))
        L, spec_table = _average(X, grid, specs, values)
        weights = "counterfactual (observed rows, equal)"
    else:
        grid, values = _grid(st, specs, at)
        X = st.design(grid)
        L, spec_table = _average(X, grid, specs, values, weights, _data(st))
    est, se, df, stat = _inference(fit, L, df_method)
    return MarginalMeans(
        table=_table(spec_table, est, se, df, stat, ci_level), linfct=L, specs=specs,
        labels=_labels(spec_table, specs),
        method={"kind": "means", "df_method": df_method, "weights": weights,
                "grid": {k: list(v) for k, v in values.items()}, "ci_level": ci_level},
        _fit=fit)


def marginal_trends(fit: LMEResult, specs: str | list[str], var: str,
                    at: dict[str, Any] | None = None, df_method: str | None = None,
                    ci_level: float = 0.95, delta_var: float | None = None) -> MarginalMeans:
    """Estimated marginal trends (slopes of ``var``), as emmeans' ``emtrends(m, specs, var)``.

    The slope of the prediction in ``var`` per ``specs`` level, on the same reference grid as
    :func:`marginal_means` (``var`` itself at its mean unless given in ``at``). E.g. the WMH
    rate per survival group: ``marginal_trends(fit, "survival_group", "years")``.

    Returns
    -------
    MarginalMeans
        ``table``: the specs columns, then ``estimate`` (the trend), ``std_error, df,
        statistic, p_value, ci_low, ci_high``; ``method["kind"]`` is ``"trends of <var>"``.

    Parameters
    ----------
    fit, specs, at, df_method, ci_level
        As :func:`marginal_means`.
    var : str
        The numeric variable whose slope is wanted (e.g. ``"years"``).
    delta_var : float, optional
        Step of the difference quotient (default emmeans': 0.001 times the range of ``var``).

    Notes
    -----
    As emmeans' ``emtrends``, the slope is the forward difference quotient of the model matrix,
    ``(X(var + delta) - X(var)) / delta``: exact when ``var`` enters the model linearly
    (``years``, ``group * years``); for ``poly(years, 2)``, splines or ``I(years^2)`` it is
    emmeans' approximation, off by about ``delta`` times half the curvature (pass a smaller
    ``delta_var`` for a closer derivative).

    Examples
    --------
    >>> import alsstats as als
    >>> from alsstats.lme.examples import example_data
    >>> fit = als.fit_lme(example_data(), "y ~ group * years + (1 + years | subject)")
    >>> tr = als.marginal_trends(fit, "group", "years")
    >>> len(tr.table)
    2
    """
    df_method = _check_df_method(fit, df_method)
    specs = _as_list(specs)
    st = model_structure(fit)
    data = _data(st)
    if var not in data.columns or _is_factor(data[var]):
        raise ValueError(f"marginal_trends: var {var!r} must be a numeric variable of the model")
    grid, values = _grid(st, specs, at)
    col = data[var].to_numpy(dtype=float)
    h = float(delta_var) if delta_var is not None else 1e-3 * float(np.ptp(col))
    if not np.isfinite(h) or h == 0:
        raise ValueError("marginal_trends: delta_var must be a nonzero number (the range of "
                         f"{var!r} is 0)")
    up = grid.copy()
    up[var] = up[var] + h
    X = (st.design(up) - st.design(grid)) / h
    L, spec_table = _average(X, grid, specs, values)
    est, se, df, stat = _inference(fit, L, df_method)
    return MarginalMeans(
        table=_table(spec_table, est, se, df, stat, ci_level), linfct=L, specs=specs,
        labels=_labels(spec_table, specs),
        method={"kind": f"trends of {var}", "df_method": df_method, "weights": "equal",
                "grid": {k: list(v) for k, v in values.items()}, "ci_level": ci_level},
        _fit=fit)


def contrasts(means: MarginalMeans, method: str = "pairwise", adjust: str | None = None
              ) -> ContrastResult:
    """Contrasts of marginal means or trends, as emmeans' ``contrast()`` / ``pairs()``.

    Parameters
    ----------
    means : MarginalMeans
        From :func:`marginal_means` or :func:`marginal_trends`.
    method : {"pairwise", "revpairwise", "trt.vs.ctrl"}
        All pairs ``a - b`` in level order (``revpairwise``: ``b - a``), or every level minus
        the first.
    adjust : {"tukey", "holm", "bonferroni", "hochberg", "hommel", "BH", "BY", "none"}, optional
        Multiplicity adjustment over the family of contrasts. Default ``"tukey"`` for
        (rev)pairwise (emmeans' default) and ``"holm"`` for ``trt.vs.ctrl`` (emmeans uses its
        ``dunnettx`` approximation there, not implemented).

    Returns
    -------
    ContrastResult
        ``table`` with ``contrast, estimate, std_error, df, statistic, p_value``.

    Notes
    -----
    Tukey p-values are ``P(Q > sqrt(2) |t|)`` for the studentized range of as many means as
    ``means`` has rows, on each contrast's df (emmeans' ``ptukey``), computed with
    :data:`scipy.stats.studentized_range`; they agree with R's ``ptukey`` to about 1e-6.
    Kenward-Roger contrasts use the adjusted covariance and ``Lb_ddf`` df of each contrast.

    Examples
    --------
    >>> import alsstats as als
    >>> from alsstats.lme.examples import example_data
    >>> fit = als.fit_lme(example_data(), "y ~ group * years + (1 + years | subject)")
    >>> c = als.contrasts(als.marginal_trends(fit, "group", "years"))
    >>> c.table["contrast"].tolist()
    ['ALS - control']
    """
    if method not in _CONTRAST_METHODS:
        raise ValueError(f"contrasts: method must be one of {_CONTRAST_METHODS}, got {method!r}")
    if adjust is None:
        adjust = "holm" if method == "trt.vs.ctrl" else "tukey"
    if adjust not in _ADJUST:
        raise ValueError(f"contrasts: adjust must be one of {_ADJUST}, got {adjust!r}")
    if adjust == "tukey" and method == "trt.vs.ctrl":
        raise ValueError("contrasts: adjust='tukey' is for pairwise comparisons; use e.g. "
                         "'holm' or 'bonferroni' with trt.vs.ctrl")
    k = len(means.labels)
    if k < 2:
        raise ValueError("contrasts: need at least two means")
    pairs: list[tuple[int, int]]
    if method == "pairwise":
        pairs = [(i, j) for i in range(k) for j in range(i + 1, k)]
    elif method == "revpairwise":
        pairs = [(j, i) for i in range(k) for j in range(i + 1, k)]
        pairs.sort(key=lambda ij: (ij[1], ij[0]))
    else:
        pairs = [(i, 0) for i in range(1, k)]
    C = np.zeros((len(pairs), k))
    for r, (i, j) in enumerate(pairs):
        C[r, i], C[r, j] = 1.0, -1.0
    L = C @ means.linfct
    df_method = means.method["df_method"]
    est, se, df, stat = _inference(means._fit, L, df_method)
    p = 2.0 * stats.t.sf(np.abs(stat), df)
    if adjust == "tukey":
        p = np.array([stats.studentized_range.sf(abs(t) * np.sqrt(2.0), k, d)
                      for t, d in zip(stat, df, strict=True)])
    else:
        p = p_adjust(p, adjust)
    table = pd.DataFrame({
        "contrast": [f"{means.labels[i]} - {means.labels[j]}" for i, j in pairs],
        "estimate": est, "std_error": se, "df": df, "statistic": stat, "p_value": p})
    return ContrastResult(table=table, linfct=L, _fit=means._fit,
                          method={"contrast": method, "adjust": adjust, "family_size": len(pairs),
                                  "n_means": k, "df_method": df_method,
                                  "of": means.method["kind"]})


def mean_curve(fit: LMEResult, variable: str, grid: Any, *,
               fixed: dict[str, Any] | None = None) -> pd.DataFrame:
    """Model-based mean of the response along ``variable``, averaged over the cohort.

    At each grid value, ``variable`` (and every column in ``fixed``) is set on every row the
    model used and the population predictions are averaged: :func:`marginal_means` with
    emmeans' ``counterfactuals``, with the fit's own intervals (Satterthwaite t, Kenward-Roger
    t for a Kenward-Roger fit, z for a ``df_method="normal"`` fit) at the fit's ``ci_level``.
    These are the lines and bands of the trajectory figures.

    Parameters
    ----------
    fit : LMEResult
        A fit from :func:`alsstats.fit_lme` (its rows are kept with it).
    variable : str
        The column along which the curve runs, e.g. ``"years"`` or ``"wmh_mm3"``.
    grid : array-like
        Values of ``variable``.
    fixed : dict, optional
        Columns set to one value on every row, e.g. ``{"group": "ALS"}`` for that group's
        curve.

    Returns
    -------
    pandas.DataFrame
        Columns ``<variable>, estimate, std_error, df, ci_low, ci_high``, one row per grid
        value.

    Notes
    -----
    As ``emmeans(m, ~ variable, at = list(variable = grid), counterfactuals = variable)``:
    the average prediction over the observed covariates, not the prediction at the covariate
    means (the two differ when the model is not linear in the covariates).

    Examples
    --------
    >>> import alsstats as als
    >>> visits = als.load_example_cohort()
    >>> fit = als.fit_lme(visits, "wmh_mm3 ~ group * years + age + sex + (1 | subject)")
    >>> curve = als.mean_curve(fit, "years", [0.0, 0.5], fixed={"group": "ALS"})
    >>> curve.columns.tolist()
    ['years', 'estimate', 'std_error', 'df', 'ci_low', 'ci_high']
    """
    grid = np.asarray(grid, dtype=float)
    fixed = dict(fixed or {})
    variables = [variable, *fixed]
    means = marginal_means(
        fit, variables, at={variable: list(grid), **{k: [v] for k, v in fixed.items()}},
        counterfactuals=variables, ci_level=fit.ci_level,
        df_method="kenward-roger" if fit.df_method == "kenward-roger" else "satterthwaite")
    curve = means.table.reset_index(drop=True)
    curve[variable] = grid
    if fit.df_method == "normal":  # z intervals, as the fit's own tests
        z = stats.norm.ppf(0.5 + fit.ci_level / 2.0)
        curve["df"] = np.inf
        curve["ci_low"] = curve["estimate"] - z * curve["std_error"]
        curve["ci_high"] = curve["estimate"] + z * curve["std_error"]
    return curve[[variable, "estimate", "std_error", "df", "ci_low", "ci_high"]]

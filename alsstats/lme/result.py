"""The result of a mixed-model fit (:class:`LMEResult`)."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from alsstats.lme.bootstrap import BootstrapResult, parametric_bootstrap
from alsstats.lme.derivatives import DerivativeParts
from alsstats.lme.engine import Evaluation, LmeProblem, single_threaded_blas
from alsstats.lme.formula import ModelFrame
from alsstats.lme.satterthwaite import SatterthwaiteParts
from alsstats.summary import Summary

__all__ = ["COEFFICIENT_COLUMNS", "LMEResult"]

COEFFICIENT_COLUMNS = ["estimate", "std_error", "df", "statistic", "p_value", "ci_low", "ci_high"]


def coefficient_table(names: list[str], beta: np.ndarray, vcov: np.ndarray,
                      df: np.ndarray, ci_level: float) -> pd.DataFrame:
    """Tidy t-tests (or z-tests where df is infinite) with Wald CIs on the same df."""
    beta = np.asarray(beta, dtype=float)
    df = np.asarray(df, dtype=float)
    # one float64 block (columns x terms) handed to pandas as is: a dict of columns costs
    # ~10x more to assemble and consolidates to the same block
    values = np.empty((len(COEFFICIENT_COLUMNS), beta.size))
    estimate, se, dfs, stat, p, low, high = values
    estimate[:] = beta
    np.sqrt(np.diagonal(np.asarray(vcov, dtype=float)), out=se)
    dfs[:] = df
    np.divide(beta, se, out=stat)
    # scipy.special's t distribution (the same numbers as scipy.stats.t, without its overhead)
    p[:] = 2.0 * special.stdtr(df, -np.abs(stat))
    half_width = special.stdtrit(df, 0.5 + ci_level / 2.0) * se
    np.subtract(beta, half_width, out=low)
    np.add(beta, half_width, out=high)
    return pd.DataFrame(values.T, index=_term_index(tuple(names)),
                        columns=_COEFFICIENT_INDEX.view())


_COEFFICIENT_INDEX = pd.Index(COEFFICIENT_COLUMNS)


@functools.lru_cache(maxsize=256)
def _shared_term_index(names: tuple[str, ...]) -> pd.Index:
    return pd.Index(list(names), name="term")


def _term_index(names: tuple[str, ...]) -> pd.Index:
    """``pd.Index(names, name="term")``, built once per set of names (a view each time, so a
    caller renaming its table's index does not rename anyone else's)."""
    return _shared_term_index(names).view()


def varcorr_table(grps: list[str], z_names: list[list[str]], covs: list[np.ndarray],
                  sigma2: float) -> pd.DataFrame:
    """R's ``as.data.frame(VarCorr(fit))``: ``grp, var1, var2, vcov, sdcor``.

    Per block (lme4's order, repeated group names made unique as R does: ``Subject``,
    ``Subject.1``): the variances, then the covariances (row-wise upper triangle) with their
    correlations as ``sdcor``; ``Residual`` last.
    """
    seen: dict[str, int] = {}
    rows = []
    for grp, names, cov in zip(grps, z_names, covs, strict=True):
        k = seen.get(grp, 0)
        seen[grp] = k + 1
        label = grp if k == 0 else f"{grp}.{k}"
        sd = np.sqrt(np.diag(cov))
        for i, name in enumerate(names):
            rows.append((label, name, None, cov[i, i], sd[i]))
        for i in range(len(names)):
            for j in range(i + 1, len(names)):
                corr = cov[i, j] / (sd[i] * sd[j]) if sd[i] * sd[j] > 0 else np.nan
                rows.append((label, names[i], names[j], cov[i, j], corr))
    rows.append(("Residual", None, None, sigma2, np.sqrt(sigma2)))
    return pd.DataFrame(rows, columns=["grp", "var1", "var2", "vcov", "sdcor"])


@dataclass(frozen=True, repr=False)
class LMEResult:
    """A fitted linear mixed model (any number of random-effect terms).

    Attributes
    ----------
    coefficients : pandas.DataFrame
        Fixed effects, index ``term`` (R's names: ``Intercept``, ``groupALS``,
        ``groupALS:years``); columns ``estimate, std_error, df, statistic, p_value, ci_low,
        ci_high``. ``statistic`` is t (Satterthwaite df, as lmerTest's ``summary``) or z
        (``df_method="normal"``, df = inf); CIs are Wald intervals on the same df.
    random_effects_cov : pandas.DataFrame
        Covariance matrix of the random effects (terms x terms, e.g. ``Intercept``, ``years``).
    residual_variance : float
    loglik : float
        R's ``logLik``: the REML criterion / -2 for REML fits, the log-likelihood for ML.
    aic, bic, deviance : float
        ``-2 loglik + 2 npar`` and ``-2 loglik + log(nobs) npar`` as R's ``AIC``/``BIC``;
        ``deviance`` is ``-2 loglik``.
    converged : bool
    singular : bool
        lme4's ``isSingular``: a diagonal element of the relative covariance factor < 1e-4.
    random_effects : pandas.DataFrame
        BLUPs (conditional modes), index = the grouping column's values, one column per random
        term.
    theta : numpy.ndarray
        lme4's ``theta`` (relative covariance factor, column-wise lower triangle).
    vcov : pandas.DataFrame
        ``Var(beta_hat)`` (terms x terms).
    method : dict
        How the fit was made: ``estimation`` (``"REML"`` or ``"ML"``), ``df_method``,
        ``ci_level``, ``formula``, ``optimizer`` (its name).
    df_method : str
        ``"satterthwaite"``, ``"kenward-roger"`` (``coefficients`` then hold pbkrtest's
        adjusted standard errors and KR df; ``vcov`` stays the unadjusted ``Var(beta)``, as
        lme4's ``vcov``) or ``"normal"``.
    formula : str
    nobs, n_groups, n_params : int
        Rows used (also :attr:`n_obs`), levels of the first grouping factor (lme4's order,
        most levels; also :attr:`n_subjects`) and estimated parameters.
    group : str
        The grouping column.
    random_terms : list of str
    dropped_terms : list of str
        Fixed-effect columns dropped as aliased (rank deficiency).
    n_dropped_rows : int
        Rows left out for missing values.
    ci_level : float
    optimizer : dict
        ``name, status, n_evaluations, message, messages`` (lme4 ``checkConv``-style
        convergence messages, empty when the checks pass), ``n_restarts`` (restarts off a
        boundary saddle).
    varcorr : pandas.DataFrame
        R's ``as.data.frame(VarCorr(fit))``: columns ``grp, var1, var2, vcov, sdcor``; per term
        in lme4's order the variances, then covariances (``sdcor`` the correlation);
        ``Residual`` last. Group names as lme4's (``Machine:Worker``; ``Subject.1`` for a
        second term of the same factor). ``var1``/``var2`` use ``Intercept``.
    ranef : dict
        Grouping factor -> DataFrame of conditional modes (as ``ranef()``), index the levels,
        columns the terms (terms of the same factor side by side).
    blocks_cov : list of pandas.DataFrame
        Covariance of each random-effect term (``sigma^2 Lambda_t Lambda_t'``), lme4's order
        (as :attr:`random_blocks` and :attr:`theta`).
    data_name : str
        The name of the data shown on the printed summary's ``Data:`` line (``fit_lme``'s
        ``data_name``, default ``"data"``).

    Notes
    -----
    With several random-effect terms, ``random_effects_cov``, ``random_effects``, ``group``,
    ``n_groups`` and ``random_terms`` describe the first term in lme4's order (most levels).
    ``vcov``, ``blocks_cov``, ``random_effects_cov``, ``random_effects`` and ``ranef`` are
    built on first access from the fit's arrays and then kept (the same object each time);
    ``coefficients`` is built by the fit.
    """

    coefficients: pd.DataFrame
    residual_variance: float
    loglik: float
    aic: float
    bic: float
    deviance: float
    converged: bool
    singular: bool
    theta: np.ndarray
    method: dict[str, Any]
    df_method: str
    formula: str
    nobs: int
    n_groups: int
    n_params: int
    group: str
    random_terms: list[str]
    dropped_terms: list[str]
    n_dropped_rows: int
    ci_level: float
    optimizer: dict[str, Any]
    _problem: LmeProblem = field(repr=False)
    _frame: ModelFrame = field(repr=False)
    _X: np.ndarray = field(repr=False)
    _kept: np.ndarray = field(repr=False)
    _beta: np.ndarray = field(repr=False)
    _satterthwaite: SatterthwaiteParts | None = field(repr=False)
    _optimizer_options: dict[str, Any] = field(repr=False)
    _fit_options: dict[str, Any] = field(repr=False)
    # what the table attributes (vcov, blocks_cov, random_effects_cov, random_effects, ranef)
    # are built from on first access: most fits are read for their coefficients only, and
    # these DataFrames cost more than the rest of a fit outside the optimiser
    _names: list[str] = field(repr=False)  # the fixed effects (rows and columns of vcov)
    _vcov: np.ndarray = field(repr=False)  # Var(beta_hat)
    _covs: list[np.ndarray] = field(repr=False)  # sigma^2 Lambda_t Lambda_t', lme4's order
    _evaluation: Evaluation | None = field(repr=False)  # the evaluation at theta (BLUPs)
    _blocks: list = field(default_factory=list, repr=False)
    _data: pd.DataFrame | None = field(default=None, repr=False)  # model variables, fit rows
    data_name: str = "data"  # shown on the printout's Data: line, as R shows `data = visits`
    # inference parts computed on demand (alsstats.lme.structure); carried over by
    # dataclasses.replace, which only ever swaps the coefficient table
    _inference_cache: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    _tables: dict[str, Any] = field(default_factory=dict, init=False, repr=False,
                                    compare=False)

    # ------------------------------------------------------------------ tables built on demand
    def _table(self, key: str, make: Callable[[], Any]) -> Any:
        tables = self._tables
        if key not in tables:
            tables[key] = make()
        return tables[key]

    @property
    def vcov(self) -> pd.DataFrame:
        """``Var(beta_hat)`` (terms x terms); see the class attributes."""
        return self._table("vcov", lambda: pd.DataFrame(self._vcov, index=self._names,
                                                         columns=self._names))

    @property
    def blocks_cov(self) -> list[pd.DataFrame]:
        """Covariance of each random-effect term, lme4's order; see the class attributes."""
        return self._table("blocks_cov", lambda: [
            pd.DataFrame(c, index=b.z_names, columns=b.z_names)
            for c, b in zip(self._covs, self._blocks, strict=True)])

    @property
    def random_effects_cov(self) -> pd.DataFrame:
        """Covariance of the first term's random effects (``blocks_cov[0]``)."""
        return self.blocks_cov[0]

    @property
    def _blups(self) -> list[np.ndarray]:
        """The BLUPs of each term as arrays (levels x terms), lme4's order."""
        def make() -> list[np.ndarray]:
            ev = self._evaluation
            with single_threaded_blas():  # as in the fit: the same sums, the same numbers
                if ev is None:  # copied from a pickle (the evaluation is not carried)
                    ev = self._problem.evaluate(np.asarray(self.theta, dtype=float))
                if len(self._blocks) == 1:
                    return [self._problem.random_effects(ev)]
                return list(self._problem.random_effects(ev))
        return self._table("blups", make)

    def __getstate__(self) -> dict[str, Any]:
        # the evaluation may hold what does not pickle (a sparse LU factor): the BLUPs, all
        # that is built from it, go instead
        _ = self._blups
        return {**self.__dict__, "_evaluation": None}

    def _blup_frames(self) -> list[pd.DataFrame]:
        return self._table("blup_frames", lambda: [
            pd.DataFrame(v, index=b.levels, columns=b.z_names)
            for v, b in zip(self._blups, self._blocks, strict=True)])

    @property
    def random_effects(self) -> pd.DataFrame:
        """BLUPs of the first term (index its grouping factor's levels)."""
        return self._blup_frames()[0]

    @property
    def ranef(self) -> dict[str, pd.DataFrame]:
        """Grouping factor -> BLUPs, as lme4's ``ranef()``; see the class attributes."""
        def make() -> dict[str, pd.DataFrame]:
            out: dict[str, pd.DataFrame] = {}
            for b, tab in zip(self._blocks, self._blup_frames(), strict=True):
                out[b.grp] = tab if b.grp not in out else out[b.grp].join(tab, how="outer")
            return out
        return self._table("ranef", make)

    # ------------------------------------------------------------------ the result protocol
    @property
    def estimation(self) -> str:
        """``"REML"`` or ``"ML"`` (``method["estimation"]``)."""
        return self.method["estimation"]

    @property
    def n_obs(self) -> int:
        """Rows used in the fit (as :attr:`nobs`)."""
        return self.nobs

    @property
    def n_subjects(self) -> int:
        """Levels of the first grouping factor in lme4's order (the one with most levels,
        e.g. ``subject``; as :attr:`n_groups`)."""
        return self.n_groups

    def to_frame(self) -> pd.DataFrame:
        """The fixed effects as a tidy table.

        Returns
        -------
        pandas.DataFrame
            One row per fixed effect: ``term`` (R's name), ``estimate``, ``std_error``,
            ``statistic`` (t, or z for ``df_method="normal"``), ``df`` (Satterthwaite or
            Kenward-Roger; inf for z tests), ``p_value``, ``ci_low``, ``ci_high`` (Wald
            interval at :attr:`ci_level` on the same df).
        """
        from alsstats.summary import standard_frame

        return standard_frame(self.coefficients)

    # ------------------------------------------------------------------ derived quantities
    @property
    def fitted(self) -> np.ndarray:
        """Conditional fitted values ``X beta + Z b`` of the rows used in the fit."""
        out = self._X @ self._beta
        for block, b in zip(self._blocks, self._blups, strict=True):
            out = out + np.einsum("nq,nq->n", block.Z, b[block.codes])
        return out

    @property
    def residuals(self) -> np.ndarray:
        """Conditional residuals ``y - X beta - Z b``."""
        return self._frame.y - self.fitted

    def random_effects_table(self) -> pd.DataFrame:
        """Variance components as lme4's ``VarCorr``: columns ``group, term, variance, std_dev,
        corr_with`` (a dict of correlations with earlier terms of the same block); groups as
        in :attr:`varcorr` (``Subject``, ``Subject.1``), ``Residual`` last."""
        rows = []
        vc = self.varcorr
        for grp in dict.fromkeys(vc["grp"]):
            part = vc[vc["grp"] == grp]
            if grp == "Residual":
                rows.append(("Residual", "", part["vcov"].iloc[0], part["sdcor"].iloc[0], {}))
                continue
            variances = part[part["var2"].isna()]
            corrs = part[part["var2"].notna()]
            for term, var, sd in zip(variances["var1"], variances["vcov"], variances["sdcor"],
                                     strict=True):
                corr = {a: c for a, b, c in zip(corrs["var1"], corrs["var2"], corrs["sdcor"],
                                                strict=True) if b == term}
                rows.append((grp, term, var, sd, corr))
        return pd.DataFrame(rows, columns=["group", "term", "variance", "std_dev", "corr_with"])

    @property
    def varcorr(self) -> pd.DataFrame:
        """R's ``as.data.frame(VarCorr(fit))`` (see the class attributes)."""
        return varcorr_table([b.grp for b in self._blocks], [b.z_names for b in self._blocks],
                             self._covs, self.residual_variance)

    @property
    def problem(self):
        """The engine's model (design and response statistics, ``deviance(theta, reml)``,
        ``derivatives``, ``with_response``): ``LmeProblem`` for one random-effect term,
        ``GeneralProblem`` for several."""
        return self._problem

    @property
    def model_matrix(self) -> np.ndarray:
        """The fixed-effects model matrix of the fit (aliased columns dropped), rows as
        :attr:`fit_rows`."""
        return self._X

    @property
    def model_frame(self) -> ModelFrame:
        """The model frame the fit was built from: the formula's parts, the fixed-effects matrix
        with R's names and term assignment before aliased columns were dropped
        (:attr:`kept_columns`), the random blocks as written."""
        return self._frame

    @property
    def kept_columns(self) -> np.ndarray:
        """Boolean mask over :attr:`model_frame`'s fixed-effect columns: False where an aliased
        column was dropped by the rank check (as lme4); a copy."""
        return self._kept.copy()

    @property
    def response(self) -> np.ndarray:
        """The response of the rows used in the fit."""
        return self._frame.y

    @property
    def beta(self) -> np.ndarray:
        """The fixed effects as an array (``coefficients["estimate"]``)."""
        return self._beta

    @property
    def optimizer_options(self) -> dict[str, Any]:
        """The ``optimizer`` options the fit was run with (reused by refits)."""
        return dict(self._optimizer_options)

    @property
    def random_blocks(self) -> list:
        """The random-effect blocks in lme4's order (``grp, codes, levels, Z, z_names``), as
        :attr:`blocks_cov` and :attr:`theta`."""
        return list(self._blocks)

    # ------------------------------------------------------------------ methods
    def predict(self, newdata: pd.DataFrame | None = None, include_random: bool = True,
                re_form: str | None = None, *, allow_new_levels: bool = False) -> np.ndarray:
        """Predictions for ``newdata`` (default: the rows of the fit), as lme4's ``predict``.

        Parameters
        ----------
        newdata : pandas.DataFrame, optional
            Must hold the fixed-effect columns, and with random effects the random-effect and
            grouping columns. Rows with missing predictors give NaN.
        include_random : bool
            False gives population predictions (as ``re_form="~0"``).
        re_form : str, optional
            lme4's ``re.form``: None (default) adds every random term; ``"~0"`` or ``"NA"``
            none; a formula of random terms (``"~(1 | site)"``) only the blocks whose grouping
            factor it names.
        allow_new_levels : bool
            lme4's ``allow.new.levels``. False (default): a level of a grouping factor used by
            ``re_form`` that the fit did not see, or a missing one, is a ``ValueError`` naming
            the factor and the levels. True: such rows get that term's population-level
            contribution (random effects 0).

        Returns
        -------
        numpy.ndarray

        Notes
        -----
        As lme4 (``predict.merMod``): missing grouping values are checked before new levels,
        and only for the grouping factors of the terms ``re_form`` keeps.

        Examples
        --------
        >>> from alsstats.lme import fit_lme
        >>> from alsstats.lme.examples import example_data
        >>> data = example_data()
        >>> fit = fit_lme(data, "y ~ years + (1 | subject)")
        >>> new = data.iloc[:2].assign(subject="new subject")
        >>> fit.predict(new)
        Traceback (most recent call last):
        ...
        ValueError: predict: newdata has level(s) of grouping factor 'subject' not in the fit: new subject. ...
        >>> bool(np.allclose(fit.predict(new, allow_new_levels=True),
        ...                  fit.predict(new, re_form="~0")))
        True
        """
        groups = self._re_groups(re_form) if include_random else set()
        if newdata is None:
            out = self._X @ self._beta
            for block, b in zip(self._blocks, self._blups, strict=True):
                if block.grp in groups:
                    out = out + np.einsum("nq,nq->n", block.Z, b[block.codes])
            return out
        fx, _ = self._frame.design_new(newdata)
        pred = fx[:, self._kept] @ self._beta
        used = [(block, b) for block, b in zip(self._blocks, self._blups, strict=True)
                if block.grp in groups]
        designs = []
        for block, _ in used:
            lacking = [g for g in block.grp.split(":") if g not in newdata.columns]
            if lacking:
                raise KeyError(f"predict: newdata lacks the grouping column(s) {lacking}; use "
                               "re_form='~0' (or include_random=False) for population "
                               "predictions")
            designs.append(block.design_new(newdata))
        if not allow_new_levels:
            self._check_levels(newdata, [block for block, _ in used], designs)
        for (_, b), (rz, codes) in zip(used, designs, strict=True):
            seen = codes >= 0
            bb = np.where(seen[:, None], b[np.where(seen, codes, 0)], 0.0)
            pred = pred + np.einsum("nq,nq->n", rz, bb)
        return pred

    @staticmethod
    def _check_levels(newdata: pd.DataFrame, blocks: list, designs: list) -> None:
        """lme4's checks without ``allow.new.levels``: missing grouping values first, then
        levels the fit did not see, each naming the grouping factor."""
        columns = list(dict.fromkeys(c for block in blocks for c in block.grp.split(":")))
        missing = {c: int(newdata[c].isna().sum()) for c in columns if newdata[c].isna().any()}
        if missing:
            detail = ", ".join(f"{c!r} ({k} row{'s' if k > 1 else ''})"
                               for c, k in missing.items())
            raise ValueError(f"predict: newdata has missing values in grouping factor(s) "
                             f"{detail}; lme4 allows them only with allow.new.levels = TRUE: "
                             "pass allow_new_levels=True to predict those rows at the "
                             "population level of the term")
        new: dict[str, list[str]] = {}
        for block, (_, codes) in zip(blocks, designs, strict=True):
            unseen = codes < 0
            if not unseen.any() or block.grp in new:
                continue
            parts = [newdata[c].astype(str).to_numpy()[unseen] for c in block.grp.split(":")]
            labels = [":".join(v) for v in zip(*parts, strict=True)]
            new[block.grp] = list(dict.fromkeys(labels))
        if new:
            detail = "; ".join(
                f"grouping factor {grp!r} not in the fit: "
                + ", ".join(levels[:10]) + (f" (and {len(levels) - 10} more)"
                                            if len(levels) > 10 else "")
                for grp, levels in new.items())
            raise ValueError(f"predict: newdata has level(s) of {detail}. Pass "
                             "allow_new_levels=True to predict them at the population level "
                             "(random effects 0), as lme4's allow.new.levels = TRUE")

    def _re_groups(self, re_form: str | None) -> set[str]:
        all_groups = {block.grp for block in self._blocks}
        if re_form is None:
            return all_groups
        text = str(re_form).replace(" ", "")
        if text in ("~0", "NA", "~1", ""):
            return set()
        named = {g for g in all_groups
                 if f"|{g})" in text or f"||{g})" in text}
        unknown = [part for part in text.split("|")[1:] if part.rstrip(")") not in all_groups]
        if not named or unknown:
            raise ValueError(f"predict: re_form {re_form!r} names no random term of the fit "
                             f"(grouping factors: {sorted(all_groups)})")
        return named

    def rescale(self, term: str | list[str], per: float = 500.0) -> pd.DataFrame:
        """Coefficient row(s) expressed per ``per`` units of the predictor.

        ``estimate``, ``std_error``, ``ci_low``, ``ci_high`` are multiplied by ``per``; ``df``,
        ``statistic`` and ``p_value`` are unchanged. E.g. ``alsfrs_r ~ wmh_mm3 + ...`` and
        ``rescale("wmh_mm3", per=500)`` gives the ALSFRS-R change per 500 mm3.

        Returns
        -------
        pandas.DataFrame
            Index ``term``; columns ``estimate, std_error, df, statistic, p_value, ci_low,
            ci_high, per``.
        """
        terms = [term] if isinstance(term, str) else list(term)
        missing = [t for t in terms if t not in self.coefficients.index]
        if missing:
            raise KeyError(f"rescale: unknown term(s) {missing}; terms are "
                           f"{list(self.coefficients.index)}")
        out = self.coefficients.loc[terms].copy()
        for col in ["estimate", "std_error", "ci_low", "ci_high"]:
            out[col] = out[col] * per
        if per < 0:
            out[["ci_low", "ci_high"]] = out[["ci_high", "ci_low"]].to_numpy()
        out["per"] = per
        return out

    def contrast(self, weights: dict[str, float] | np.ndarray) -> pd.DataFrame:
        """A t-test of a linear combination of fixed effects (lmerTest's ``contest1D``).

        Parameters
        ----------
        weights : dict term -> weight, or array over the coefficients

        Returns
        -------
        pandas.DataFrame
            One row; columns ``estimate, std_error, df, statistic, p_value, ci_low, ci_high``.
        """
        names = list(self.coefficients.index)
        if isinstance(weights, dict):
            unknown = [k for k in weights if k not in names]
            if unknown:
                raise KeyError(f"contrast: unknown term(s) {unknown}; terms are {names}")
            vec = np.array([float(weights.get(k, 0.0)) for k in names])
        else:
            vec = np.asarray(weights, dtype=float)
        vcov = self._vcov
        if self.df_method == "kenward-roger":
            return self.test(vec, joint=False).rename(index={"row1": "contrast"})
        df = (self._satterthwaite.df(vec, vcov) if self._satterthwaite is not None else np.inf)
        est = np.array([vec @ self._beta])
        tab = coefficient_table(["contrast"], est, np.atleast_2d(vec @ vcov @ vec),
                                np.array([df]), self.ci_level)
        return tab

    @property
    def fit_rows(self) -> pd.Index:
        """Index labels of the data rows the model was fitted to (rows with missing values in
        the model's columns are not among them)."""
        return self._frame.rows

    def design_matrix(self, newdata: pd.DataFrame) -> np.ndarray:
        """Fixed-effects model matrix of ``newdata``, coded as in the fit.

        Columns follow ``coefficients.index`` (aliased columns dropped as in the fit), so
        ``design_matrix(newdata) @ coefficients["estimate"]`` is the population prediction and
        any row (or average of rows) can be passed to :meth:`contrast`.
        """
        fixed, _ = self._frame.design_new(newdata)
        return fixed[:, self._kept]

    def refit_ml(self) -> LMEResult:
        """The same model refitted by maximum likelihood (starting at this fit's theta)."""
        if self.estimation == "ML":
            return self
        from alsstats.lme.fit import _fit_frame

        options = dict(self._fit_options, reml=False, start=self.theta)
        return _fit_frame(self._frame, **options)

    def refit(self, newresp: np.ndarray) -> LMEResult:
        """The same model and design refitted to a new response (lme4's ``refit``).

        Parameters
        ----------
        newresp : array (nobs,)
            A response for the rows of the fit (in :attr:`fit_rows` order), finite.

        Returns
        -------
        LMEResult
            Fitted from this fit's ``theta``; the design statistics (everything of X and Z)
            are reused, only those of the response are computed.
        """
        y = np.asarray(newresp, dtype=float)
        if y.shape != (self.nobs,):
            raise ValueError(f"refit: newresp must have {self.nobs} values (the rows of the "
                             f"fit), got shape {y.shape}")
        if not np.all(np.isfinite(y)):
            bad = np.flatnonzero(~np.isfinite(y))[:5]
            raise ValueError(f"refit: newresp has non-finite values (positions {list(bad)})")
        from alsstats.lme.fit import _fit_frame

        frame = dataclasses.replace(self._frame, y=y)
        options = dict(self._fit_options, start=self.theta)
        return _fit_frame(frame, **options, problem=self._problem.with_response(y))

    def deviance_function(self, reml: bool | None = None) -> Callable[[np.ndarray], float]:
        """lme4's ``devFunOnly``: the profiled deviance as a function of ``theta``.

        Parameters
        ----------
        reml : bool, optional
            The REML criterion (default: as fitted) or the ML deviance.

        Returns
        -------
        callable
            ``theta`` (lme4's order, as :attr:`theta`) -> deviance (``inf`` where not
            computable); at ``theta`` it is ``deviance`` (``-2 loglik``).
        """
        problem = self._problem
        use_reml = self.estimation == "REML" if reml is None else bool(reml)

        def devfun(theta: np.ndarray) -> float:
            return problem.deviance(np.asarray(theta, dtype=float), use_reml)

        return devfun

    def variance_derivatives(self) -> DerivativeParts:
        """Exact derivatives at the fitted ``theta`` (for Satterthwaite and Kenward-Roger).

        Returns
        -------
        alsstats.lme.derivatives.DerivativeParts
            ``varpar_hessian(sigma)``: Hessian of the deviance over ``(theta, sigma)``
            (lmerTest's ``devfun_vp``); ``varpar_jacobian(sigma)``: ``d Var(beta) / d (theta,
            sigma)`` as (p, p, k + 1); ``profiled_gradient()``, ``profiled_hessian()`` over
            ``theta``; ``dcov``: ``d (Var(beta) / sigma^2) / d theta``. ``sigma`` is
            ``sqrt(residual_variance)``.
        """
        parts = self._problem.derivatives(np.asarray(self.theta, dtype=float),
                                          self.estimation == "REML")
        if parts is None:  # pragma: no cover - the fit evaluated there
            raise FloatingPointError("variance_derivatives: deviance not computable at theta")
        return parts

    def bootstrap(self, n: int = 1000, seed: int | None = None, ci_level: float = 0.95,
                  n_jobs: int | None = 1) -> BootstrapResult:
        """Parametric bootstrap (lme4's ``bootMer(type = "parametric")``, new random effects).

        Parameters
        ----------
        n : int
            Number of replicates.
        seed : int, optional
            Seed of :class:`numpy.random.SeedSequence`; the same seed gives the same
            replicates. Each chunk of 125 replicates draws from its own child
            (``SeedSequence(seed).spawn``), so the estimates are identical for every
            ``n_jobs`` and backend.
        ci_level : float
            Level of the percentile intervals.
        n_jobs : int or None, default 1
            Parallel workers (joblib) over chunks of 125 replicates. 1 runs in this process;
            -1 uses every core; None defers to ``joblib.parallel_config``. Under
            ``joblib.parallel_config(backend="dask")`` with a ``dask.distributed`` ``Client``
            the chunks run on the cluster (pass ``n_jobs=-1``).

        Returns
        -------
        BootstrapResult
            ``estimates`` (replicates x parameters, indexed by replicate number), ``ci``
            (columns ``term, estimate, std_error, ci_low, ci_high``), ``n_failed``, ``method``.

        Notes
        -----
        Each chunk simulates its replicates at once and gets their y-dependent sufficient
        statistics from one sparse product; the refits reuse the shared X/Z statistics and
        start from this fit's ``theta``. With one random term (``(1 | subject)``,
        ``(0 + years | subject)``) all replicates of a chunk are refitted together: their
        profiled deviances and analytic slopes over ``theta`` are evaluated as one batch and
        each minimum is found in lock-step as the root of the slope (1e-10 relative), with
        lme4's boundary check at ``theta = 0``. This is at least as accurate as a BOBYQA refit
        by :func:`fit_lme` (which stops where deviance differences reach rounding noise:
        fixed effects agree to ~1e-7, a small variance to ~1e-5). With more random terms each
        replicate gets its own BOBYQA refit. See
        :func:`alsstats.lme.inference.parametric_bootstrap`.
        """
        with single_threaded_blas():
            return parametric_bootstrap(self, n=n, seed=seed, ci_level=ci_level, n_jobs=n_jobs)

    def summary(self) -> Summary:
        """The fit as lmerTest's ``summary()`` prints it.

        Returns
        -------
        alsstats.summary.Summary
            ``text``: :func:`alsstats.lme.printout.lmer_summary_text` (lmerTest's printout,
            line by line);
            the HTML shows the model, the variance components and the fixed effects
            (:meth:`to_frame`) as tables.
        """
        from alsstats.lme.printout import lmer_summary_text
        from alsstats.summary import lines, render_summary, table

        vc = self.random_effects_table()
        vc = vc.assign(corr_with=[", ".join(f"{k}: {v:.2f}" for k, v in c.items())
                                  for c in vc["corr_with"]])
        fit_lines = {"formula": self.formula, "estimation": self.estimation,
                     "df_method": self.df_method, "ci_level": self.ci_level,
                     "n_obs": self.nobs,
                     "groups": ", ".join(dict.fromkeys(f"{b.grp} ({len(b.levels)})"
                                                       for b in self._blocks)),
                     "loglik": self.loglik, "aic": self.aic, "bic": self.bic,
                     "converged": self.converged, "singular": self.singular}
        blocks = [lines("Model", fit_lines), table("Random effects", vc),
                  table("Fixed effects", self.to_frame())]
        return render_summary("Linear mixed model", blocks, text=lmer_summary_text(self))

    # ------------------------------------------------------------------ F tests, KR, robust
    def anova(self, type: int | str = 3, df_method: str | None = None) -> pd.DataFrame:
        """F tests of the fixed-effect terms, as lmerTest's ``anova(m, type, ddf)``.

        See :func:`alsstats.lme.anova.anova_fit` (columns ``sum_sq, mean_sq, num_df, den_df,
        f_value, p_value``, index R's term labels).
        """
        from alsstats.lme.anova import anova_fit

        return anova_fit(self, type=type, df_method=df_method)

    def test(self, L: Any, rhs: float | np.ndarray = 0.0, df_method: str | None = None,
             joint: bool = True) -> pd.DataFrame:
        """Test ``L beta = rhs`` as lmerTest's ``contest``; see
        :func:`alsstats.lme.anova.contest_fit`."""
        from alsstats.lme.anova import contest_fit

        return contest_fit(self, L, rhs=rhs, df_method=df_method, joint=joint)

    def robust(self, type: str = "CR2", cluster: Any = None) -> Any:
        """Cluster-robust standard errors with Satterthwaite df, as clubSandwich's
        ``coef_test(m, vcov = type, test = "Satterthwaite")``; see
        :func:`alsstats.lme.robust.robust`."""
        from alsstats.lme.robust import robust

        return robust(self, type=type, cluster=cluster)

    def __repr__(self) -> str:
        return (f"LMEResult({self.estimation}, {self.formula!r}, nobs={self.nobs}, "
                f"n_groups={self.n_groups}, loglik={self.loglik:.6g}, singular={self.singular})")


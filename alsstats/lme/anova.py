"""F tests of fixed effects: lmerTest's ``anova`` (types 1, 2, 3) and ``contest``.

The hypothesis matrices follow lmerTest 3.1 exactly: type 1 from the Doolittle decomposition
of ``X'X`` (sequential), type 2 as lmerTest's default ``"2"`` (marginal for terms contained in
no other term, else the Doolittle rows of ``X'X`` with the term and the terms containing it
placed last), type 3 from the full-dummy ("rdX") coding projected on X and orthogonalised on the
containing terms (``lmerTest:::extract_contrasts_type3``). Containment is lmerTest's: a term
is contained in another if all its variables are in the other, the other has more, and both
have the same numeric variables.

Each F test is lmerTest's ``contestMD``: Satterthwaite's multi-df test from the
eigen-decomposition of ``L Var(beta) L'`` (one Satterthwaite df per eigen-direction, combined
as ``2E / (E - q)``), or Kenward-Roger's scaled F (``pbkrtest::KRmodcomp``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import special

from alsstats._rformat import zapsmall
from alsstats.lme.structure import ModelStructure

__all__ = ["ANOVA_COLUMNS", "anova_fit", "anova_table", "contrast_matrices", "f_test", "contest_fit"]

DF_METHODS = ("satterthwaite", "kenward-roger")

ANOVA_COLUMNS = ["sum_sq", "mean_sq", "num_df", "den_df", "f_value", "p_value"]
_EPS = float(np.sqrt(np.finfo(float).eps))


# ------------------------------------------------------------------ public entry points
def _df_method(result, df_method: str | None) -> str:
    if df_method is None:
        return "kenward-roger" if result.df_method == "kenward-roger" else "satterthwaite"
    if df_method not in DF_METHODS:
        raise ValueError(f"df_method must be one of {DF_METHODS}, got {df_method!r}")
    return df_method


def _kr(result, df_method: str):
    if df_method != "kenward-roger":
        return None
    from alsstats.lme.kenward_roger import kenward_roger

    return kenward_roger(result)


_TYPES = {1: 1, 2: 2, 3: 3, "1": 1, "2": 2, "3": 3, "I": 1, "II": 2, "III": 3}


def anova_fit(result, type: int | str = 3, df_method: str | None = None) -> pd.DataFrame:
    """F tests of every fixed-effect term, as lmerTest's ``anova(m, type, ddf)``.

    Parameters
    ----------
    result : LMEResult
    type : {3, 2, 1} or {"III", "II", "I"}
        Type III (default, as lmerTest), type II or type I (sequential) hypotheses.
    df_method : {"satterthwaite", "kenward-roger"}, optional
        Denominator df (default: Kenward-Roger for a fit made with it, else Satterthwaite).

    Returns
    -------
    pandas.DataFrame
        Index ``term`` (R's term labels: ``group``, ``years``, ``group:years``); columns
        ``sum_sq, mean_sq, num_df, den_df, f_value, p_value``. As lmerTest, ``mean_sq`` is the
        (unscaled) F times ``sigma^2`` and ``sum_sq = mean_sq * num_df``; with Kenward-Roger
        ``f_value`` is pbkrtest's scaled F.

    Notes
    -----
    The hypotheses are lmerTest 3.1's (see the module notes); for type 3 the factors must be
    coded as R's treatment contrasts (the formula layer's default).

    Examples
    --------
    >>> from alsstats.lme import fit_lme
    >>> from alsstats.lme.examples import example_data
    >>> fit = fit_lme(example_data(), "y ~ group * years + (1 + years | subject)")
    >>> list(fit.anova().index)
    ['group', 'years', 'group:years']
    >>> list(fit.anova().columns)
    ['sum_sq', 'mean_sq', 'num_df', 'den_df', 'f_value', 'p_value']
    """
    from alsstats.lme.structure import model_structure

    if type not in _TYPES:
        raise ValueError(f"anova: type must be 1, 2, 3 (or 'I', 'II', 'III'), got {type!r}")
    method = _df_method(result, df_method)
    st = model_structure(result)
    return anova_table(st, _TYPES[type], method, _kr(result, method))


def contest_fit(result, L, rhs: float | np.ndarray = 0.0, df_method: str | None = None,
             joint: bool = True) -> pd.DataFrame:
    """Test ``L beta = rhs``, as lmerTest's ``contest(m, L, rhs, joint, ddf)``.

    Parameters
    ----------
    result : LMEResult
    L : array (k, p) or (p,), a DataFrame with the coefficient names as columns, or a dict
        term -> weight (one row)
    rhs : float or array (k,)
    df_method : {"satterthwaite", "kenward-roger"}, optional
    joint : bool
        One F test of all rows (default), or a t-test per row.

    Returns
    -------
    pandas.DataFrame
        ``joint=True``: one row with ``sum_sq, mean_sq, num_df, den_df, f_value, p_value``.
        ``joint=False``: one row per row of ``L`` with ``estimate, std_error, df, statistic,
        p_value, ci_low, ci_high`` (Kenward-Roger: adjusted standard errors).

    Examples
    --------
    >>> from alsstats.lme import fit_lme
    >>> from alsstats.lme.examples import example_data
    >>> fit = fit_lme(example_data(), "y ~ group * years + (1 + years | subject)")
    >>> int(fit.test([[0, 1, 0, 0], [0, 0, 0, 1]])["num_df"].iloc[0])
    2
    """
    from alsstats.lme.structure import model_structure

    method = _df_method(result, df_method)
    st = model_structure(result)
    L = _as_matrix(L, st.names)
    kr = _kr(result, method)
    if joint:
        row = f_test(st, L, method, kr, rhs)
        return pd.DataFrame([row], columns=ANOVA_COLUMNS)
    rhs = np.broadcast_to(np.asarray(rhs, dtype=float), (L.shape[0],))
    est = L @ st.beta - rhs
    if kr is not None:
        vc, df = L @ kr.phi_adj @ L.T, kr.df_rows(L)
    else:
        satt = st.satterthwaite()
        vc, df = L @ st.vcov @ L.T, np.array([satt.df(r, st.vcov) for r in L])
    from alsstats.lme.result import coefficient_table

    return coefficient_table([f"row{i + 1}" for i in range(L.shape[0])], est, vc, df,
                             result.ci_level)


def _as_matrix(L, names: list[str]) -> np.ndarray:
    if isinstance(L, dict):
        unknown = [k for k in L if k not in names]
        if unknown:
            raise KeyError(f"test: unknown term(s) {unknown}; terms are {names}")
        return np.array([[float(L.get(k, 0.0)) for k in names]])
    if isinstance(L, pd.DataFrame):
        unknown = [k for k in L.columns if k not in names]
        if unknown:
            raise KeyError(f"test: unknown term(s) {unknown}; terms are {names}")
        return L.reindex(columns=names, fill_value=0.0).to_numpy(dtype=float)
    return np.atleast_2d(np.asarray(L, dtype=float))


# ------------------------------------------------------------------ F tests
def f_test(st: ModelStructure, L: np.ndarray, df_method: str, kr=None,
           rhs: np.ndarray | float = 0.0) -> dict[str, float]:
    """One F test of ``L beta = rhs`` as ``lmerTest::contestMD`` (``ANOVA_COLUMNS``)."""
    L = np.atleast_2d(np.asarray(L, dtype=float))
    if L.shape[1] != st.p:
        raise ValueError(f"test: L must have {st.p} columns (one per coefficient: "
                         f"{', '.join(st.names)}), got {L.shape[1]}")
    rhs = np.broadcast_to(np.asarray(rhs, dtype=float), (L.shape[0],))
    beta = st.beta - (np.linalg.pinv(L) @ rhs if np.any(rhs != 0) else 0.0)
    sigma2 = st.sigma2
    if df_method == "kenward-roger":
        if kr is None:
            raise ValueError("f_test: Kenward-Roger needs its parts")
        ddf, scaling, q = kr.f_parts(L)
        lb = L @ beta
        wald = float(lb @ np.linalg.solve(L @ kr.phi_adj @ L.T, lb))
        f_u = wald / q
        return _row(f_u * sigma2, q, ddf, f_u * scaling)
    vcov = st.vcov
    satt = st.satterthwaite()
    if L.shape[0] == 1:
        return _contest1d(st, L[0], satt, sigma2, beta)
    d, P = np.linalg.eigh(L @ vcov @ L.T)
    order = np.argsort(d)[::-1]
    d, P = d[order], P[:, order]
    tol = max(_EPS * d[0], 0.0)
    pos = d > tol
    q = int(pos.sum())
    if q == 0:
        return _row(np.nan, 0, np.nan, np.nan)
    PtL = (P.T @ L)[:q]
    if q == 1:
        return _contest1d(st, PtL[0], satt, sigma2, beta)
    t2 = (PtL @ beta) ** 2 / d[:q]
    fval = float(np.sum(t2) / q)
    grads = np.einsum("mi,ijk,mj->mk", PtL, satt.jacobian, PtL)
    nu = 2.0 * d[:q] ** 2 / np.einsum("mk,kl,ml->m", grads, satt.vcov_varpar, grads)
    return _row(fval * sigma2, q, _combine_df(nu), fval)


def _contest1d(st: ModelStructure, row: np.ndarray, satt, sigma2: float, beta: np.ndarray
               ) -> dict[str, float]:
    var = float(row @ st.vcov @ row)
    t = float(row @ beta) / np.sqrt(var)
    return _row(t * t * sigma2, 1, satt.df(row, st.vcov), t * t)


def _combine_df(nu: np.ndarray, tol: float = 1e-8) -> float:
    """lmerTest's ``get_Fstat_ddf``."""
    if nu.size == 1:
        return float(nu[0])
    if np.all(np.abs(np.diff(nu)) < tol):
        return float(np.mean(nu))
    if np.any(nu <= 2):
        return 2.0
    e = float(np.sum(nu / (nu - 2)))
    return 2 * e / (e - nu.size)


def _row(mean_sq: float, ndf: int, ddf: float, fval: float) -> dict[str, float]:
    p = float(special.fdtrc(ndf, ddf, fval)) if ndf > 0 and np.isfinite(fval) else np.nan
    return {"sum_sq": mean_sq * ndf, "mean_sq": mean_sq, "num_df": ndf, "den_df": ddf,
            "f_value": fval, "p_value": p}


def anova_table(st: ModelStructure, type: int, df_method: str, kr=None) -> pd.DataFrame:
    """lmerTest's ``anova(model, type, ddf)`` as a tidy table indexed by R term labels."""
    from alsstats.lme.structure import _cached

    mats = _cached(st, f"anova_type{type}", lambda: contrast_matrices(st, type))
    rows = {term: f_test(st, L, df_method, kr) if L.shape[0] else _row(np.nan, 0, np.nan, np.nan)
            for term, L in mats.items()}
    columns = {c: np.array([r[c] for r in rows.values()], dtype=float) for c in ANOVA_COLUMNS}
    columns["num_df"] = columns["num_df"].astype(int)
    return pd.DataFrame(columns, index=pd.Index(list(rows), name="term"))


# ------------------------------------------------------------------ hypothesis matrices
def contrast_matrices(st: ModelStructure, type: int) -> dict[str, np.ndarray]:
    """lmerTest's hypothesis matrices per term (R term labels) for ``type`` 1, 2 or 3."""
    if type not in (1, 2, 3):
        raise ValueError(f"anova: type must be 1, 2 or 3, got {type!r}")
    terms = [t for t in st.x_terms if t != "(Intercept)"]
    if not terms:
        return {}
    if type == 1 or st.p <= 1 or len(terms) <= 1:
        return _type1(st, terms)
    if type == 2:
        return _type2(st, terms)
    return _type3(st, terms)


def _cols(st: ModelStructure, term: str) -> np.ndarray:
    return np.flatnonzero(st.x_assign == st.x_terms.index(term))


def _doolittle_l(x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """``lmerTest:::doolittle(x)$L`` (unit lower-triangular, no pivoting, entries < eps zeroed)."""
    n = x.shape[0]
    L = np.eye(n)
    U = np.zeros((n, n))
    for i in range(n):
        U[i, :] = x[i, :] - L[i, :i] @ U[:i, :]
        for j in range(i + 1, n):
            v = x[j, i] - L[j, :i] @ U[:i, i]
            L[j, i] = 0.0 if abs(U[i, i]) < eps else v / U[i, i]
    L[np.abs(L) < eps] = 0.0
    return L


def _type1(st: ModelStructure, terms: list[str]) -> dict[str, np.ndarray]:
    Lt = _doolittle_l(st.X.T @ st.X).T if st.p > 1 else np.ones((1, 1))
    return {t: Lt[_cols(st, t)] for t in terms}


def _term_vars(st: ModelStructure, terms: list[str]) -> tuple[dict, dict]:
    """Variables of each term and which of them are numeric (lmerTest's dataClasses)."""
    variables = {t: t.split(":") for t in terms}
    numeric = {}
    for t, vs in variables.items():
        numeric[t] = {v for v in vs if _is_numeric(st, v)}
    return variables, numeric


_FACTOR_CALLS = ("factor(", "as.factor(", "ordered(", "as.ordered(", "C(", "interaction(")


def _is_numeric(st: ModelStructure, var: str) -> bool:
    """lmerTest's dataClasses: a data column by its type; an expression (``log(age)``,
    ``poly(years, 2)``, ``factor(site)``) by whether it makes a factor."""
    data = st.data
    if data is not None and var in data.columns:
        col = data[var]
        return bool(pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col))
    return not var.replace(" ", "").startswith(_FACTOR_CALLS)


def _main_effect_columns(st: ModelStructure, var: str) -> tuple[np.ndarray, list[str]]:
    """The X columns (and names) of the term that is ``var`` alone."""
    if var not in st.x_terms:
        raise ValueError(f"anova(type=3): {var!r} appears only inside interactions; type III "
                         "hypotheses need its main effect in the model (or use type 1 or 2)")
    cols = np.flatnonzero(st.x_assign == st.x_terms.index(var))
    return st.X[:, cols], [st.names[c] for c in cols]


def _containment(st: ModelStructure, terms: list[str]) -> dict[str, list[str]]:
    variables, numeric = _term_vars(st, terms)

    def contained(a: str, b: str) -> bool:
        va, vb = set(variables[a]), set(variables[b])
        return va <= vb and len(vb - va) > 0 and numeric[a] == numeric[b]

    return {a: [b for b in terms if contained(a, b)] for a in terms}


def _type2(st: ModelStructure, terms: list[str]) -> dict[str, np.ndarray]:
    contains = _containment(st, terms)
    out = {}
    X = st.X
    for term in terms:
        if not contains[term]:  # marginal
            out[term] = np.eye(st.p)[_cols(st, term)]
            continue
        cols_term = np.concatenate([_cols(st, t) for t in [term, *contains[term]]])
        rest = np.setdiff1d(np.arange(st.p), cols_term)
        order = np.concatenate([rest, cols_term])
        Lc = _doolittle_l(X[:, order].T @ X[:, order]).T
        is_term = st.x_assign[order] == st.x_terms.index(term)
        rows = Lc[is_term]
        L = np.zeros((rows.shape[0], st.p))
        L[:, order] = rows
        out[term] = L
    return out


def _rdx(st: ModelStructure, terms: list[str]) -> tuple[np.ndarray, list[str]]:
    """The full-dummy model matrix (``lmerTest:::get_rdX``) and R's names of its columns."""
    cols, names = [], []
    if st.has_intercept:
        cols.append(np.ones((st.n, 1)))
        names.append("(Intercept)")
    for term in terms:
        block, labels = np.ones((st.n, 1)), [""]
        for var in term.split(":"):  # the first variable varies fastest, as R's model.matrix
            part, part_labels = _variable_columns(st, var)
            block = (block[:, :, None] * part[:, None, :]).reshape(st.n, -1, order="F")
            labels = [f"{a}:{b}" if a else b for b in part_labels for a in labels]
        cols.append(block)
        names.extend(labels)
    return np.column_stack(cols), names


def _variable_columns(st: ModelStructure, var: str) -> tuple[np.ndarray, list[str]]:
    """A numeric variable's values, or a factor's full indicator columns (levels in R order),
    with R's column names."""
    data = st.data
    in_data = data is not None and var in data.columns
    if _is_numeric(st, var):
        if in_data:
            return data[var].to_numpy(dtype=float)[:, None], [var]
        return _main_effect_columns(st, var)  # log(age), poly(years, 2), ns(x, 3), ...
    if not in_data:
        if var in st.x_terms and st.has_intercept:  # factor(x): treatment dummies -> indicators
            dummies, names = _main_effect_columns(st, var)
            first = 1.0 - dummies.sum(axis=1, keepdims=True)
            return np.column_stack([first, dummies]), [f"{var}<reference>", *names]
        raise ValueError(f"anova(type=3): cannot rebuild factor {var!r}: the model's variables "
                         "were not kept; fit with alsstats.fit_lme on a table with a unique "
                         "index")
    codes, levels = factor_codes(data[var])
    ind = (codes[:, None] == np.arange(len(levels))[None, :]).astype(float)
    return ind, [f"{var}{lev}" for lev in levels]


def factor_codes(col: pd.Series) -> tuple[np.ndarray, list]:
    """Level index of each row (-1 where missing) and the used levels in R's order
    (Categorical order, else sorted)."""
    if isinstance(col.dtype, pd.CategoricalDtype):
        raw = col.cat.codes.to_numpy()
        used = np.unique(raw[raw >= 0])
        remap = np.full(len(col.cat.categories) + 1, -1)
        remap[used] = np.arange(used.size)
        return remap[raw], [col.cat.categories[i] for i in used]
    codes, uniques = pd.factorize(col, sort=True)
    return codes, list(uniques)


def factor_levels(col: pd.Series) -> list:
    """Levels of a factor column in R's order (Categorical order, else sorted), used levels only."""
    return factor_codes(col)[1]


def _type3(st: ModelStructure, terms: list[str]) -> dict[str, np.ndarray]:
    rdx, rdx_names = _rdx(st, terms)
    L = zapsmall((np.linalg.pinv(st.X) @ rdx).T)  # rows: rdX columns, cols: X columns
    contains = _containment(st, terms)
    order = sorted(terms, key=lambda t: len(t.split(":")), reverse=True)
    for term in order:
        if contains[term]:
            ci = _cols(st, term)
            cc = np.concatenate([_cols(st, t) for t in contains[term]])
            A, Y = L[:, cc], L[:, ci]
            coef, *_ = np.linalg.lstsq(A, Y, rcond=None)
            L[:, ci] = zapsmall(Y - A @ coef)
    # as lmerTest: keep the rdX rows named as X's columns (square, X order)
    x_names = ["(Intercept)" if nm == "Intercept" else nm for nm in st.names]
    missing = [nm for nm in x_names if nm not in rdx_names]
    if missing:
        raise ValueError(f"anova(type=3): model columns {missing} not found in the full-dummy "
                         "coding; type 3 needs R's treatment coding of factors")
    L = L[[rdx_names.index(nm) for nm in x_names]]
    out = {}
    for term in terms:
        Lt = L[:, _cols(st, term)].T
        out[term] = Lt[np.sum(np.abs(Lt), axis=1) > 1e-8]
    return out

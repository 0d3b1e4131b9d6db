"""The numerical core of the Cox model: risk-set sums, Newton-Raphson, residuals.

Right-censored ``(time, event)`` and counting-process ``(start, stop, event]`` data share one
code path: a right-censored row is a counting-process row that entered before every time.
Everything is vectorised over rows and events; the only loops are over Newton iterations.

Ties: Efron's approximation or Breslow's, as R's ``coxph``. For a tied event time with ``d``
events and risk-set sums ``S0, S1, S2`` (of ``w``, ``w x``, ``w x x'`` with ``w = exp(eta)``)
and event sums ``D0, D1, D2``, Efron uses the ``d`` denominators ``S0 - (k/d) D0``,
``k = 0..d-1`` (and likewise for ``S1, S2``); Breslow uses ``S0`` ``d`` times.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["CoxData", "CoxFit", "newton_fit", "prepare"]


@dataclass
class CoxData:
    """Model data sorted and indexed for risk-set sums (built once, reused per iteration)."""

    x: np.ndarray  # (n, p) covariates, centred by column means
    means: np.ndarray  # (p,) the column means taken out
    stop: np.ndarray  # (n,) end of each row's interval (the event/censoring time)
    start: np.ndarray | None  # (n,) start of each interval; None for right-censored data
    event: np.ndarray  # (n,) bool
    strata: np.ndarray  # (n,) int codes 0..n_strata-1
    key_stop: np.ndarray  # (n,) int, strata * (U + 1) + rank(stop)
    key_start: np.ndarray  # (n,) int, strata * (U + 1) + rank(start); rank -1 when no start
    stride: int  # U + 1
    order_stop: np.ndarray  # rows by key_stop
    order_start: np.ndarray | None  # rows by key_start
    sorted_key_stop: np.ndarray
    sorted_key_start: np.ndarray | None
    death_rows: np.ndarray  # event rows, sorted by key
    group_keys: np.ndarray  # (G,) distinct event keys (stratum, time), ascending
    death_group: np.ndarray  # (n_events,) group index of each event row in death_rows
    group_size: np.ndarray  # (G,) events per group
    death_k: np.ndarray  # (n_events,) 0..d-1 within its group


def prepare(
    x: np.ndarray,
    stop: np.ndarray,
    event: np.ndarray,
    strata: np.ndarray | None = None,
    start: np.ndarray | None = None,
) -> CoxData:
    """Centre the covariates and index rows, strata and event times once."""
    x = np.asarray(x, dtype=float)
    n = x.shape[0]
    means = x.mean(axis=0) if n else np.zeros(x.shape[1])
    xc = x - means
    stop = np.asarray(stop, dtype=float)
    event = np.asarray(event, dtype=bool)
    strata = np.zeros(n, dtype=np.int64) if strata is None else np.asarray(strata, np.int64)
    times = stop if start is None else np.concatenate([stop, start])
    uniq = np.unique(times)
    stride = len(uniq) + 1
    base = strata * stride
    key_stop = base + np.searchsorted(uniq, stop)
    if start is None:
        key_start = base - 1
        order_start = sorted_key_start = None
    else:
        start = np.asarray(start, dtype=float)
        key_start = base + np.searchsorted(uniq, start)
        order_start = np.argsort(key_start, kind="stable")
        sorted_key_start = key_start[order_start]
    order_stop = np.argsort(key_stop, kind="stable")
    sorted_key_stop = key_stop[order_stop]
    death_rows = order_stop[event[order_stop]]
    dkeys = key_stop[death_rows]
    group_keys, first, group_size = np.unique(dkeys, return_index=True, return_counts=True)
    death_group = np.repeat(np.arange(len(group_keys)), group_size)
    death_k = np.arange(len(death_rows)) - np.repeat(first, group_size)
    return CoxData(
        x=xc, means=means, stop=stop, start=start, event=event, strata=strata,
        key_stop=key_stop, key_start=key_start, stride=stride, order_stop=order_stop,
        order_start=order_start, sorted_key_stop=sorted_key_stop,
        sorted_key_start=sorted_key_start, death_rows=death_rows, group_keys=group_keys,
        death_group=death_group, group_size=group_size, death_k=death_k,
    )


def _reverse_cumsum(values: np.ndarray) -> np.ndarray:
    """``out[i] = values[i:].sum(axis=0)``, with a trailing zero row (length n + 1)."""
    out = np.zeros((values.shape[0] + 1, *values.shape[1:]))
    out[:-1] = np.cumsum(values[::-1], axis=0)[::-1]
    return out


def _risk_sums(data: CoxData, values: np.ndarray) -> np.ndarray:
    """Sum of ``values`` over each event group's risk set: same stratum, start < t <= stop."""
    keys = data.group_keys
    stratum_end = (keys // data.stride + 1) * data.stride
    cum = _reverse_cumsum(values[data.order_stop])
    lo = np.searchsorted(data.sorted_key_stop, keys, side="left")
    hi = np.searchsorted(data.sorted_key_stop, stratum_end, side="left")
    sums = cum[lo] - cum[hi]
    if data.order_start is not None:
        cum = _reverse_cumsum(values[data.order_start])
        lo = np.searchsorted(data.sorted_key_start, keys, side="left")
        hi = np.searchsorted(data.sorted_key_start, stratum_end, side="left")
        sums = sums - (cum[lo] - cum[hi])
    return sums


def _group_sums(data: CoxData, values: np.ndarray) -> np.ndarray:
    """Sum of ``values`` over the event rows of each event group."""
    starts = np.concatenate([[0], np.cumsum(data.group_size)[:-1]])
    return np.add.reduceat(values[data.death_rows], starts, axis=0)


@dataclass
class Pieces:
    """Per-event quantities at one beta (Efron/Breslow-adjusted)."""

    loglik: float
    score: np.ndarray  # (p,)
    information: np.ndarray  # (p, p)
    denom: np.ndarray  # (n_events,) r0 for each (group, k)
    xbar: np.ndarray  # (n_events, p)
    frac: np.ndarray  # (n_events,) k/d (Efron) or 0 (Breslow)
    var_k: np.ndarray  # (n_events, p, p) risk-set covariance for each (group, k)
    risk: np.ndarray  # (n,) exp(eta)


def evaluate(data: CoxData, beta: np.ndarray, efron: bool, second: bool = True) -> Pieces:
    """Log partial likelihood, score and information at ``beta`` (centred covariates)."""
    eta = data.x @ beta
    risk = np.exp(eta)
    wx = risk[:, None] * data.x
    s0 = _risk_sums(data, risk)
    s1 = _risk_sums(data, wx)
    g = data.death_group
    frac = data.death_k / data.group_size[g] if efron else np.zeros(len(g))
    if efron:
        d0 = _group_sums(data, risk)
        d1 = _group_sums(data, wx)
        r0 = s0[g] - frac * d0[g]
        r1 = s1[g] - frac[:, None] * d1[g]
    else:
        r0 = s0[g]
        r1 = s1[g]
    xbar = r1 / r0[:, None]
    rows = data.death_rows
    loglik = float(eta[rows].sum() - np.log(r0).sum())
    score = data.x[rows].sum(axis=0) - xbar.sum(axis=0)
    p = data.x.shape[1]
    var_k = np.zeros((len(rows), p, p))
    if second:
        wxx = wx[:, :, None] * data.x[:, None, :]
        s2 = _risk_sums(data, wxx)
        r2 = s2[g]
        if efron:
            r2 = r2 - frac[:, None, None] * _group_sums(data, wxx)[g]
        var_k = r2 / r0[:, None, None] - xbar[:, :, None] * xbar[:, None, :]
    information = var_k.sum(axis=0)
    return Pieces(loglik, score, information, r0, xbar, frac, var_k, risk)


@dataclass
class CoxFit:
    """What :func:`newton_fit` returns (coefficients on the original covariate scale)."""

    beta: np.ndarray
    vcov: np.ndarray
    loglik: float
    loglik_null: float
    score_test: float
    iterations: int
    converged: bool
    pieces: Pieces


def newton_fit(
    data: CoxData, efron: bool, max_iter: int = 30, eps: float = 1e-9
) -> CoxFit:
    """Newton-Raphson from beta = 0 with step halving, as R's ``coxph.fit``.

    Stops when the relative change of the log-likelihood is at most ``eps`` (R's rule), then
    takes Newton steps until the step is at rounding level so the estimate is the optimum to
    machine precision rather than to ``eps``.
    """
    p = data.x.shape[1]
    beta = np.zeros(p)
    cur = evaluate(data, beta, efron)
    loglik_null = cur.loglik
    score_test = float(cur.score @ _solve(cur.information, cur.score)) if p else 0.0
    converged = p == 0
    it = 0
    settled = 0
    while not converged and it < max_iter:
        it += 1
        step = _solve(cur.information, cur.score)
        new_beta = beta + step
        new = evaluate(data, new_beta, efron)
        halvings = 0
        while halvings < 30 and (
            not np.isfinite(new.loglik) or new.loglik < cur.loglik - 1e-12 * abs(cur.loglik)
        ):
            new_beta = (beta + new_beta) / 2
            new = evaluate(data, new_beta, efron)
            halvings += 1
        small = abs(1 - cur.loglik / new.loglik) <= eps
        tiny = bool(np.all(np.abs(new_beta - beta) <= 1e-12 * (np.abs(new_beta) + 1e-300)))
        beta, cur = new_beta, new
        settled = settled + 1 if small else 0
        converged = small and (tiny or settled >= 2)
    vcov = _inverse(cur.information) if p else np.zeros((0, 0))
    return CoxFit(beta, vcov, cur.loglik, loglik_null, score_test, it, converged, cur)


def _solve(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    try:
        return np.linalg.solve(a, b)
    except np.linalg.LinAlgError:
        return np.linalg.pinv(a) @ b


def _inverse(a: np.ndarray) -> np.ndarray:
    try:
        return np.linalg.inv(a)
    except np.linalg.LinAlgError:
        return np.linalg.pinv(a)


def score_residuals(data: CoxData, pieces: Pieces) -> np.ndarray:
    """Score residuals per row (R's ``residuals(fit, "score")``), Efron or Breslow.

    Row ``i`` gets ``delta_i (x_i - mean_k xbar_k) - w_i sum_{g at risk} sum_k c_ik (x_i -
    xbar_gk) / r0_gk`` with ``c_ik = 1`` except ``1 - k/d`` at row i's own event time.
    """
    n, p = data.x.shape
    g = data.death_group
    n_groups = len(data.group_keys)
    inv = 1.0 / pieces.denom
    h0 = np.bincount(g, weights=inv, minlength=n_groups)
    h1 = np.zeros((n_groups, p))
    np.add.at(h1, g, pieces.xbar * inv[:, None])
    e0 = np.bincount(g, weights=pieces.frac * inv, minlength=n_groups)
    e1 = np.zeros((n_groups, p))
    np.add.at(e1, g, pieces.xbar * (pieces.frac * inv)[:, None])
    abar = np.zeros((n_groups, p))
    np.add.at(abar, g, pieces.xbar)
    abar /= data.group_size[:, None]

    cum0 = np.concatenate([[0.0], np.cumsum(h0)])
    cum1 = np.vstack([np.zeros((1, p)), np.cumsum(h1, axis=0)])
    lo = np.searchsorted(data.group_keys, data.key_start, side="right")
    hi = np.searchsorted(data.group_keys, data.key_stop, side="right")
    a0 = cum0[hi] - cum0[lo]
    a1 = cum1[hi] - cum1[lo]
    w = pieces.risk
    resid = -w[:, None] * (data.x * a0[:, None] - a1)
    rows = data.death_rows
    own = g  # death_rows are in group order
    resid[rows] += data.x[rows] - abar[own]
    resid[rows] += w[rows, None] * (data.x[rows] * e0[own][:, None] - e1[own])
    return resid


def zph_pieces(
    data: CoxData, pieces: Pieces, gtime_group: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Score and information of the model augmented by ``x * g(t)``, at ``(beta_hat, 0)``.

    ``gtime_group`` holds g(t) per event group. Returns ``u`` (2p,) and ``imat`` (2p, 2p) as
    R's ``cox.zph`` C routine, from which the scaled-Schoenfeld score tests follow.
    """
    g = data.death_group
    p = data.x.shape[1]
    gt = gtime_group[g]
    contrib = data.x[data.death_rows] - pieces.xbar  # (n_events, p) Schoenfeld pieces
    u = np.concatenate([contrib.sum(axis=0), (gt[:, None] * contrib).sum(axis=0)])
    v = pieces.var_k
    i11 = v.sum(axis=0)
    i12 = (gt[:, None, None] * v).sum(axis=0)
    i22 = (gt[:, None, None] ** 2 * v).sum(axis=0)
    imat = np.zeros((2 * p, 2 * p))
    imat[:p, :p] = i11
    imat[:p, p:] = i12
    imat[p:, :p] = i12.T
    imat[p:, p:] = i22
    return u, imat


def linear_predictor(x: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """``x @ beta`` accumulated column by column (as reference BLAS ``dgemv``, which R's
    ``%*%`` uses), so that equal rows of ``x`` give exactly equal values.

    A blocked matrix product (``x @ beta`` through OpenBLAS) may sum the same row in a different
    order depending on where it sits, leaving equal rows 1 ulp apart; R's concordance then
    counts the pair as tied and a blocked product as concordant or discordant.
    """
    lp = np.zeros(x.shape[0])
    for j in range(x.shape[1]):
        lp += x[:, j] * beta[j]
    return lp


def concordance_counts(
    data: CoxData, lp: np.ndarray
) -> tuple[float, float, float, float]:
    """Harrell's C pieces as R's ``concordance`` for a Cox fit (``timewt = "n"``).

    For each event at time t (stratum s), every row of stratum s still at risk just after t
    (start < t and stop > t, or stop == t and censored) is compared: the pair is concordant
    when the event row has the higher linear predictor, a tie when equal. Tied event times
    are not compared. Returns (concordant, discordant, tied_x, tied_y).
    The loop is over distinct event times (few with whole-month data), each step vectorised.
    """
    concordant = discordant = tied_x = 0.0
    tied_y = 0.0
    rows = data.death_rows
    keys = data.group_keys
    starts = np.concatenate([[0], np.cumsum(data.group_size)])
    for j, key in enumerate(keys):
        dead = rows[starts[j]:starts[j + 1]]
        stratum_end = (key // data.stride + 1) * data.stride
        after = (data.key_stop > key) & (data.key_stop < stratum_end)
        at = (data.key_stop == key) & ~data.event
        comp = (after | at) & (data.key_start < key)
        ref = np.sort(lp[comp])
        x = lp[dead]
        below = np.searchsorted(ref, x, side="left")
        upto = np.searchsorted(ref, x, side="right")
        concordant += below.sum()
        tied_x += (upto - below).sum()
        discordant += (len(ref) - upto).sum()
        d = len(dead)
        tied_y += d * (d - 1) / 2
    return concordant, discordant, tied_x, tied_y

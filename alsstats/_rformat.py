"""R's number formatting, ported: ``round`` (R >= 4.0), ``zapsmall`` and ``format(x, digits,
nsmall)`` (``formatReal``), so that text meant to equal R's printout does, digit for digit.

Used by the lmerTest-style printout (:mod:`alsstats.lme.printout`), R-style p values
(:func:`alsstats.formatting.format_p_value`) and the contrast matrices of :mod:`alsstats.lme.anova`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["r_format", "r_round", "zapsmall"]

_TEN = [np.longdouble(10) ** k for k in range(28)]


def r_round(x: Any, digits: float) -> np.ndarray:
    """R (>= 4.0)'s ``round(x, digits)``: the nearer of the two ``digits``-decimal neighbours
    of the double (ties to the even last digit); values with more than 15 significant digits
    kept are returned unchanged. The shape of ``x`` is kept (at least one dimension)."""
    values = np.atleast_1d(np.asarray(x, dtype=float))
    arr = values.ravel().copy()
    dig = int(math.floor(digits + 0.5))
    for i, v in enumerate(arr):
        if not math.isfinite(v) or v == 0.0:
            continue
        sign, a = (-1.0, -v) if v < 0 else (1.0, v)
        if dig == 0:
            arr[i] = sign * float(np.rint(a))
            continue
        if dig > 0 and dig + math.ceil(math.log10(a)) > 15:
            continue
        if dig >= 0:
            p10 = 10.0 ** dig
            x10 = p10 * a
            i10 = math.floor(x10)
            xd, xu = i10 / p10, math.ceil(x10) / p10
        else:
            p10 = 10.0 ** (-dig)
            x10 = a / p10
            i10 = math.floor(x10)
            xd, xu = i10 * p10, math.ceil(x10) * p10
        du, dd = xu - a, a - xd
        arr[i] = sign * (xu if du < dd or (du == dd and i10 % 2 == 1) else xd)
    return arr.reshape(values.shape)


def _scientific(x: float, digits: int) -> tuple[int, int, int, bool]:
    """R's ``scientific()``: (neg, kpower, nsig, rounding widens) of x at ``digits``."""
    if x == 0.0:
        return 0, 0, 1, False
    neg, r = (1, -x) if x < 0 else (0, x)
    kp = math.floor(math.log10(r)) - digits + 1
    r_prec = np.longdouble(r)
    if abs(kp) < 10:
        if kp > 0:
            r_prec /= _TEN[kp]
        elif kp < 0:
            r_prec *= _TEN[-kp]
    else:
        r_prec /= np.longdouble(10) ** kp
    if r_prec < _TEN[digits - 1]:
        r_prec *= 10
        kp -= 1
    alpha = float(np.rint(r_prec))
    nsig = digits
    for _ in range(digits):
        alpha /= 10.0
        if alpha == math.floor(alpha):
            nsig -= 1
        else:
            break
    if nsig == 0 and digits > 0:
        nsig = 1
        kp += 1
    kpower = kp + digits - 1
    rgt = min(max(digits - kpower, 0), 27)
    fuzz = 0.5 / float(_TEN[rgt])
    widens = 0 < kpower <= 27 and r < float(_TEN[kpower]) - fuzz
    return neg, kpower, nsig, widens


def _format_info(values: Sequence[float], digits: int, nsmall: int = 0) -> tuple[int, int, int]:
    """R's ``formatReal``: common (width, decimals, exponent flag) of a numeric vector."""
    neg = 0
    rgt = mxl = mxsl = mxns = mxe = -(2 ** 31)
    mne = 2 ** 31
    na = posinf = neginf = False
    for v in values:
        if math.isnan(v):
            na = True  # shown as NA
            continue
        if math.isinf(v):
            posinf, neginf = posinf or v > 0, neginf or v < 0
            continue
        neg_i, kpower, nsig, widens = _scientific(float(v), digits)
        left = kpower + 1 - (1 if widens else 0)
        sleft = neg_i + (1 if left <= 0 else left)
        right = nsig - left
        neg = neg or neg_i
        rgt, mxl, mxsl, mxns = max(rgt, right), max(mxl, left), max(mxsl, sleft), max(mxns,
                                                                                         nsig)
        mxe, mne = max(mxe, kpower), min(mne, kpower)
    w = d = e = 0
    if mxl != -(2 ** 31):
        if mxl < 0:
            mxsl = 1 + neg
        rgt = max(rgt, 0)
        wf = mxsl + rgt + (rgt != 0)
        e = 2 if (mxe >= 100 or mne <= -99) else 1
        d = mxns - 1
        w = neg + (d > 0) + d + 4 + e
        if wf <= w:
            e = 0
            if nsmall > rgt:
                rgt = nsmall
                wf = mxsl + rgt + (rgt != 0)
            d, w = rgt, wf
    if na:
        w = max(w, 2)
    if posinf and w < 3:
        w = 3
    if neginf and w < 4:
        w = 4
    return w, d, e


def _encode(v: float, w: int, d: int, e: int) -> str:
    if v == 0.0:
        v = 0.0  # R drops the sign of a negative zero
    if math.isnan(v):
        return "NA".rjust(w)
    if math.isinf(v):
        return ("Inf" if v > 0 else "-Inf").rjust(w)
    if e:
        return f"{v:#{w}.{d}e}" if d else f"{v:{w}.0e}"
    return f"{v:{w}.{d}f}"


def r_format(values: Any, digits: int = 7, nsmall: int = 0) -> list[str]:
    """R's ``format(x, digits = , nsmall = )`` of a numeric vector: one common layout (same
    decimals or same scientific form, same width), numbers right-aligned."""
    flat = [float(v) for v in np.ravel(np.asarray(values, dtype=float))]
    w, d, e = _format_info(flat, digits, nsmall)
    return [_encode(v, w, d, e) for v in flat]


def zapsmall(x: np.ndarray, digits: int = 7) -> np.ndarray:
    """R 4.2's ``zapsmall``: round to ``digits - log10(max|x|)`` decimals (R's ``round``
    takes the nearest whole number of decimals)."""
    x = np.asarray(x, dtype=float)
    finite = x[~np.isnan(x)]
    mx = float(np.max(np.abs(finite))) if finite.size else 0.0
    return r_round(x, max(0.0, digits - math.log10(mx)) if mx > 0 else digits)

"""Dense linear algebra on the engine's tiny matrices (p + 1 <= ~20, theta <= ~15), through
LAPACK directly.

``numpy.linalg`` wraps every call in type checks, error-state contexts and broadcasting
machinery that cost 4-8 microseconds, several times the factorisation of a 7 x 7 matrix; a
Newton fit makes a few dozen such calls. scipy's LAPACK wrappers cost about 1 microsecond.
Same LAPACK routines (``potrf``, ``trtrs``, ``trtri``, ``syevd``, ``geqrf``), so the same
numbers to rounding.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import lapack

__all__ = ["cholesky_lower", "eigh", "eigvalsh", "inv_lower", "qr_factor", "solve_lower",
           "solve_spd"]


def cholesky_lower(a: np.ndarray) -> np.ndarray | None:
    """The lower Cholesky factor of a symmetric matrix (its lower triangle is read), or None
    when it is not numerically positive definite."""
    low, info = lapack.dpotrf(a, lower=1, clean=1)
    return low if info == 0 else None


def solve_lower(low: np.ndarray, b: np.ndarray, transposed: bool = False) -> np.ndarray:
    """``low^{-1} b`` (or ``low'^{-1} b`` when ``transposed``) for lower-triangular ``low``."""
    x, info = lapack.dtrtrs(low, b, lower=1, trans=1 if transposed else 0)
    if info != 0:
        raise np.linalg.LinAlgError(f"triangular solve failed (LAPACK info {info})")
    return x


def inv_lower(low: np.ndarray) -> np.ndarray:
    """The inverse of a nonsingular lower-triangular matrix (lower triangular)."""
    inv, info = lapack.dtrtri(low, lower=1)
    if info != 0:
        raise np.linalg.LinAlgError(f"triangular inverse failed (LAPACK info {info})")
    return inv


def solve_spd(a: np.ndarray, b: np.ndarray) -> np.ndarray | None:
    """``a^{-1} b`` for a symmetric positive definite ``a`` by Cholesky; None when ``a`` is not
    numerically positive definite."""
    low = cholesky_lower(a)
    if low is None:
        return None
    return solve_lower(low, solve_lower(low, b), transposed=True)


def eigh(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues (ascending) and eigenvectors (columns) of a symmetric matrix, as
    ``numpy.linalg.eigh``."""
    w, v, info = lapack.dsyevd(a, compute_v=1, lower=1)
    if info != 0:
        raise np.linalg.LinAlgError(f"eigendecomposition failed (LAPACK info {info})")
    return w, v


def eigvalsh(a: np.ndarray) -> np.ndarray:
    """Eigenvalues (ascending) of a symmetric matrix, as ``numpy.linalg.eigvalsh``."""
    w, _, info = lapack.dsyevd(a, compute_v=0, lower=1)
    if info != 0:
        raise np.linalg.LinAlgError(f"eigendecomposition failed (LAPACK info {info})")
    return w


def qr_factor(a: np.ndarray) -> np.ndarray:
    """Householder QR of ``a`` (n x k) as LAPACK leaves it: ``R`` on and above the diagonal,
    the Householder vectors below it (``geqrf``)."""
    factor, _, _, info = lapack.dgeqrf(a)
    if info != 0:  # pragma: no cover - LAPACK's argument check
        raise np.linalg.LinAlgError(f"QR factorisation failed (LAPACK info {info})")
    return factor

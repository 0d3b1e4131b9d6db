"""Satterthwaite's degrees of freedom (as lmerTest), from exact derivatives.

lmerTest differentiates the deviance over ``varpar = (theta, sigma)`` and ``Var(beta_hat)``
numerically (numDeriv); here both come from :mod:`alsstats.lme.derivatives` in closed form, so
the df do not move with a step size near the boundary.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from alsstats.lme import _lapack
from alsstats.lme.derivatives import DerivativeParts

__all__ = ["SatterthwaiteParts", "satterthwaite_parts"]


@dataclass
class SatterthwaiteParts:
    """What Satterthwaite's df for any contrast needs (lmerTest's ``vcov_varpar``, ``Jac_list``)."""

    vcov_varpar: np.ndarray  # A = 2 H^+ over (theta, sigma)
    jacobian: np.ndarray  # d Var(beta) / d varpar, (p, p, k)
    hessian_eigenvalues: np.ndarray

    def df(self, contrast: np.ndarray, vcov_beta: np.ndarray) -> float:
        """``2 (L'CL)^2 / (g' A g)`` with ``g = d(L'CL)/d varpar``."""
        var = float(contrast @ vcov_beta @ contrast)
        grad = np.einsum("i,ijk,j->k", contrast, self.jacobian, contrast)
        denom = float(grad @ self.vcov_varpar @ grad)
        return 2.0 * var * var / denom if denom > 0 else np.inf

    def df_coefficients(self, vcov_beta: np.ndarray) -> np.ndarray:
        """:meth:`df` of every unit contrast (each fixed effect alone), without the unit
        vectors: for ``L = e_i``, ``L'CL = C_ii`` and its gradient is ``jacobian[i, i, :]``.
        ``g A g`` is a stack of :meth:`df`'s products: numpy's matmul runs each (1, k) x (k, k)
        item through the same BLAS ``gemv`` as a vector times a matrix, and each (1, k) x
        (k, 1) through ``dot``, so the numbers are the same to the bit (one matrix product
        ``G A`` would sum in another order: ~1e-16 relative apart).
        """
        var = np.diagonal(np.asarray(vcov_beta, dtype=float))
        # (p, k): row i is d C_ii / d varpar, contiguous as df() has it (BLAS sums strided
        # vectors in another order)
        grads = np.ascontiguousarray(np.diagonal(self.jacobian).T)
        denom = np.matmul(np.matmul(grads[:, None, :], self.vcov_varpar),
                          grads[:, :, None])[:, 0, 0]
        out = np.full(var.shape, np.inf)
        pos = denom > 0
        out[pos] = 2.0 * var[pos] * var[pos] / denom[pos]
        return out


def satterthwaite_parts(problem, theta: np.ndarray, sigma: float, reml: bool,
                        tol: float = 1e-8, parts: DerivativeParts | None = None
                        ) -> SatterthwaiteParts:
    """lmerTest's ingredients for Satterthwaite's df, exactly.

    ``vcov_varpar = 2 H^+`` where ``H`` is the Hessian of the deviance over
    ``varpar = (theta, sigma)`` (Moore-Penrose inverse over eigenvalues above ``tol``, as
    lmerTest), and the Jacobian of ``Var(beta_hat) = sigma^2 C(theta)`` over ``varpar``.
    ``problem`` is any engine problem with a ``derivatives(theta, reml)`` method; ``parts``,
    when given, are its exact derivatives at ``theta`` already computed (by the optimiser).
    """
    if parts is None or parts.hess_a is None:
        parts = problem.derivatives(np.asarray(theta, dtype=float), reml)
    if parts is None:
        raise FloatingPointError(f"Satterthwaite: deviance not computable at theta = {theta}")
    full = parts.varpar_hessian(sigma)
    evals, evecs = _lapack.eigh(full)
    pos = evals > tol
    if pos.all():  # the usual case: no copies (the same products, the same numbers)
        vcov_varpar = 2.0 * (evecs / evals) @ evecs.T
    else:
        vcov_varpar = 2.0 * (evecs[:, pos] / evals[pos]) @ evecs[:, pos].T
    return SatterthwaiteParts(vcov_varpar=vcov_varpar, jacobian=parts.varpar_jacobian(sigma),
                              hessian_eigenvalues=evals)

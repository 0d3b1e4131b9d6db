"""The one adapter between a fitted mixed model and the inference modules.

Kenward-Roger, F tables, marginal means and cluster-robust standard errors read a fit only
through :func:`model_structure`, so a change of the engine's internals is a change here alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from alsstats.lme.result import LMEResult

__all__ = ["Block", "ModelStructure", "model_structure"]


@dataclass(frozen=True)
class Block:
    """One random-effect term: rows' level codes, its model matrix and its covariance."""

    grp: str
    codes: np.ndarray  # (n,) int, 0 .. n_levels - 1
    n_levels: int
    Z: np.ndarray  # (n, q)
    cov: np.ndarray  # (q, q), sigma^2 Lambda Lambda' (absolute scale)
    z_names: list[str]


@dataclass
class ModelStructure:
    """What inference needs from a fit (see :func:`model_structure`)."""

    X: np.ndarray
    y: np.ndarray
    beta: np.ndarray
    names: list[str]
    vcov: np.ndarray
    sigma2: float
    reml: bool
    blocks: list[Block]
    x_assign: np.ndarray  # per X column, index into x_terms
    x_terms: list[str]  # R term labels, "(Intercept)" first when present
    result: Any = field(repr=False)

    @property
    def data(self) -> pd.DataFrame | None:
        """The model's variables on the fit rows (None when the fit did not keep them)."""
        return getattr(self.result, "_data", None)

    @property
    def n(self) -> int:
        return self.X.shape[0]

    @property
    def p(self) -> int:
        return self.X.shape[1]

    @property
    def has_intercept(self) -> bool:
        return bool(self.x_terms) and self.x_terms[0] == "(Intercept)"

    def satterthwaite(self):
        """lmerTest's Satterthwaite ingredients (``vcov_varpar``, ``jacobian``, ``df(L, V)``)."""
        res = self.result
        parts = getattr(res, "_satterthwaite", None)
        if parts is None:
            parts = _cached(res, "satterthwaite", lambda: _satterthwaite_parts(res, self))
        return parts

    def design(self, newdata: pd.DataFrame) -> np.ndarray:
        """Fixed-effects rows of ``newdata``, coded as in the fit (columns = ``names``)."""
        return self.result.design_matrix(newdata)


def _cached(result: Any, key: str, make):
    cache = getattr(result, "_inference_cache", None)  # LMEResult has one from construction
    if cache is None:
        cache = {}
        object.__setattr__(result, "_inference_cache", cache)
    if key not in cache:
        cache[key] = make()
    return cache[key]


def _satterthwaite_parts(result: Any, st: ModelStructure):
    from alsstats.lme.inference import satterthwaite_parts

    return satterthwaite_parts(result.problem, np.asarray(result.theta, dtype=float),
                               float(np.sqrt(st.sigma2)), st.reml)


def model_structure(result: LMEResult) -> ModelStructure:
    """Read a fitted :class:`~alsstats.lme.LMEResult` for inference (cached per fit).

    Returns the fixed-effects matrix used, response, estimates, ``Var(beta)``, ``sigma^2``,
    the REML flag, every random block (codes, Z, covariance on the absolute scale), the
    columns' R term labels and the model's variables on the rows of the fit.
    """
    return _cached(result, "structure", lambda: _build(result))


def _build(result: Any) -> ModelStructure:
    frame = result.model_frame
    X = np.asarray(result.model_matrix, dtype=float)
    names = list(result.coefficients.index)
    sigma2 = float(result.residual_variance)
    blocks = _blocks(result, frame)
    assign, terms = _assign(frame, result.kept_columns, X.shape[1])
    return ModelStructure(
        X=X, y=np.asarray(frame.y, dtype=float), beta=np.asarray(result.beta, dtype=float),
        names=names, vcov=np.asarray(result.vcov, dtype=float), sigma2=sigma2,
        reml=result.estimation == "REML", blocks=blocks, x_assign=assign, x_terms=terms,
        result=result)


def _blocks(result: Any, frame: Any) -> list[Block]:
    """Every random block with its covariance, in the engine's block order."""
    covs = getattr(result, "blocks_cov", None)
    for source in (getattr(result, "random_blocks", None), getattr(frame, "random_blocks", None)):
        if source and covs is not None and len(source) == len(covs):
            return [Block(grp=b.grp, codes=np.asarray(b.codes, dtype=np.int64),
                          n_levels=len(b.levels), Z=np.asarray(b.Z, dtype=float),
                          cov=np.asarray(c, dtype=float), z_names=list(b.z_names))
                    for b, c in zip(source, covs, strict=True)]
    return [Block(grp=str(result.group), codes=np.asarray(frame.codes, dtype=np.int64),
                  n_levels=len(frame.groups), Z=np.asarray(frame.Z, dtype=float),
                  cov=np.asarray(result.random_effects_cov, dtype=float),
                  z_names=list(frame.z_names))]


def _assign(frame: Any, kept: np.ndarray, p: int) -> tuple[np.ndarray, list[str]]:
    """Term of each kept X column and the R term labels, in R's order."""
    if getattr(frame, "x_assign", None) is not None and getattr(frame, "x_terms", None):
        assign = np.asarray(frame.x_assign)
        terms = list(frame.x_terms)
    else:
        info = frame.fixed_info
        col_term = {}
        for term, sl in info.term_slices.items():
            for c in range(sl.start, sl.stop):
                col_term[c] = "(Intercept)" if not term.factors else term.name()
        labels = [col_term[int(c)] for c in frame.fixed_index]
        terms = list(dict.fromkeys(labels))
        assign = np.array([terms.index(t) for t in labels], dtype=int)
    if assign.size != kept.size:
        raise ValueError("model_structure: term assignment does not match the model matrix")
    assign = assign[kept]
    used = [t for i, t in enumerate(terms) if np.any(assign == i)]
    remap = {terms.index(t): k for k, t in enumerate(used)}
    assign = np.array([remap[a] for a in assign], dtype=int)
    if assign.size != p:
        raise ValueError("model_structure: term assignment does not match the model matrix")
    return assign, used

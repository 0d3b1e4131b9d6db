"""Joint longitudinal-survival models (shared random effects, as R's JM).

``fit_joint`` fits JM's ``weibull-PH-aGH`` and ``piecewise-PH-aGH`` models: a linear mixed
model for the biomarker and a proportional-hazards model whose hazard depends on the
subject's current true value and/or slope. Modules: ``_formula`` (the one adapter to the
formula layer), ``checks`` (input checks), ``quadrature``, ``design`` (arrays),
``likelihood`` (log-likelihood and analytic score), ``optimize``, ``result``, ``predict``
(dynamic survival predictions), ``fit``.
"""

from alsstats.joint.fit import fit_joint
from alsstats.joint.result import JointResult

__all__ = ["JointResult", "fit_joint"]

"""The largest differences between fit_lme and lme4/lmerTest over the committed reference cases:
the "max measured" figures of the README's accuracy section.

Run from the repository root (no R needed: it reads the committed JSON)::

    python tests/reference/measure_lme_accuracy.py

It reuses the reference tests' loaders and error measures (``tests/lme/``), so the figures are
measured exactly as the tests check them.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))
sys.path.insert(0, str(HERE.parent / "lme"))

import test_lme_engine_reference as engine  # noqa: E402
import test_lme_reference as reference  # noqa: E402


def _rel(a, b) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.max(np.abs(a - b) / np.abs(b)))


def sixteen_cases() -> dict[str, float]:
    """Against lme4 run to convergence (``tight``), the 16 cases of tests/reference/lme.R."""
    worst: dict[str, float] = {}
    for case in reference.CASES.values():
        ref = reference.tight(case)
        res = reference.fit_quiet(case)
        co = res.coefficients
        rc = reference.ref_coefs(ref)
        found = {
            "fixed effects (rel)": _rel(co["estimate"], rc["estimate"]),
            "standard errors (rel)": _rel(co["std_error"], rc["std_error"]),
            "Satterthwaite df (rel)": _rel(co["df"], rc["df"]),
            "p-values (abs)": float(np.max(np.abs(co["p_value"] - rc["p_value"]))),
            "variance components (scaled)": max(
                reference.vc_scaled_error(res.random_effects_cov, ref),
                _rel(res.residual_variance, ref["residual_variance"])),
            "log-likelihood (rel)": _rel(res.loglik, ref["loglik"]),
        }
        for key, value in found.items():
            worst[key] = max(worst.get(key, 0.0), value)
    return worst


def engine_cases() -> dict[str, float]:
    """Against the best of lme4's optimisers, the 14 cases of tests/reference/lme_engine.R."""
    worst: dict[str, float] = {}
    for name, case in engine.CASES.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = engine.fit_case(name)
        rc = pd.DataFrame(case["coefficients"]).set_index("term")
        co = res.coefficients.loc[rc.index]
        vc = pd.DataFrame(case["varcorr"])
        scale = max(vc["vcov"].abs().max(), vc["vcov"].iloc[-1])
        blup = max(engine.blup_error(res, case, grp) for grp in case["ranef"])
        found = {
            "fixed effects (rel)": _rel(co["estimate"], rc["estimate"]),
            "standard errors (rel)": _rel(co["std_error"], rc["std_error"]),
            "Satterthwaite df (rel)": _rel(co["df"], rc["df"]),
            "p-values (abs)": float(np.max(np.abs(co["p_value"] - rc["p_value"]))),
            "variance components (scaled)": float(
                np.max(np.abs(res.varcorr["vcov"].to_numpy() - vc["vcov"].to_numpy())) / scale),
            "log-likelihood (rel)": _rel(res.loglik, case["loglik"]),
            "log-likelihood below lme4's best (abs)": max(0.0, case["loglik"] - res.loglik),
            "BLUPs (of their spread)": blup,
        }
        for key, value in found.items():
            worst[key] = max(worst.get(key, 0.0), value)
    return worst


def main() -> None:
    for title, worst in (("16 cases vs lme4 run to convergence", sixteen_cases()),
                         ("14 cases vs the best of lme4's optimisers", engine_cases())):
        print(title)
        for key, value in worst.items():
            print(f"  {key:42s} {value:.2g}")


if __name__ == "__main__":
    main()

"""Python mixed-model peers, timed on the cohorts of ``lme_vs_lme4.py`` (run by it).

This script runs in the peers' own environment, never alsstats': ``mixedlm`` (Rust backend),
``mixedlm-rs`` and ``interlace-lme`` are benchmark-only and not dependencies of alsstats::

    python -m venv /path/to/peers && /path/to/peers/bin/pip install mixedlm mixedlm-rs interlace-lme
    python benchmarks/lme_vs_lme4.py --peers-python /path/to/peers/bin/python

``lme_vs_lme4.py`` calls ``python lme_peers.py CONFIG OUT`` with the cohort CSVs; each peer is
timed (median over repeats, after one untimed warm-up) on ``(1 + years | subject)`` and, where it
supports several terms, ``(1 | site) + (1 + years | subject)``, by REML. The residual variance
and the random-effect variances are written for the agreement check against lme4 (the REML
log-likelihood depends on the peers' contrast coding, the variance components do not). A peer
that is missing or fails is reported with its error, never silently skipped.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
import warnings

import pandas as pd

FIXED = "y ~ group * years + age + sex"


def _timed(fun, repeats):
    fun()
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fun()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def _mixedlm(d, sites):
    import mixedlm

    random = "(1 | site) + (1 + years | subject)" if sites else "(1 + years | subject)"
    fit = mixedlm.lmer(f"{FIXED} + {random}", d, REML=True)
    return float(fit.sigma) ** 2


def _mixedlm_rs(d, sites):
    if sites:
        raise NotImplementedError("one grouping factor only")
    import mixedlm_rs

    fit = mixedlm_rs.mixedlm(FIXED, d, groups="subject", re_formula="~years").fit(reml=True)
    return float(fit.scale)


def _interlace(d, sites):
    import interlace

    random = ["(1 | site)", "(1 + years | subject)"] if sites else ["(1 + years | subject)"]
    fit = interlace.fit(FIXED, d, random=random, method="REML")
    return float(fit.scale)


PEERS = {"mixedlm": _mixedlm, "mixedlm-rs": _mixedlm_rs, "interlace-lme": _interlace}


def main(config_path: str, out_path: str) -> None:
    cfg = json.loads(open(config_path).read())
    out = []
    for job in cfg["fits"]:
        d = pd.read_csv(job["csv"], dtype={"subject": str, "site": str})
        for name, fun in PEERS.items():
            for sites in (False, True):
                row = {"peer": name, "n_subjects": job["n_subjects"], "sites": sites}
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        t, resid = _timed(lambda fun=fun, sites=sites, d=d: fun(d, sites),
                                          job["repeats"])
                    row.update(time=t, residual_variance=resid)
                except Exception as exc:  # a peer's failure is a result to report
                    row.update(error=f"{type(exc).__name__}: {exc}"[:200])
                out.append(row)
    with open(out_path, "w") as fh:
        json.dump(out, fh)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])

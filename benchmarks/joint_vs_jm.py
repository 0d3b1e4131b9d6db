"""Joint longitudinal-survival models, side by side: alsstats ``fit_joint`` vs JM ``jointModel``.

Run from the repository root (JM installed in R's library path, e.g. ``R_LIBS_USER``)::

    python benchmarks/joint_vs_jm.py               # timings + 200-replicate simulation
    python benchmarks/joint_vs_jm.py --no-sim      # timings only
    python benchmarks/joint_vs_jm.py --replicates 100

Timed in one invocation on one machine (medians over repeats after one untimed warm-up):

- pbc2 (JM's data, exported to tests/reference/joint_data/pbc2.csv): ``log(serBilir) ~ year``,
  random ``~ year | id``, ``Surv(years, status2) ~ drug``, ``weibull-PH-aGH``, value
  association. JM's time includes its ``lme`` and ``coxph`` fits (it needs them as input);
  alsstats' includes its own mixed-model fit. R runs once and times its fits internally.
- A CALSNIC-sized cohort: the ALS subjects (232) of the shipped synthetic cohort,
  ``wmh_cm3 ~ years + age + sex + (1 + years | subject)``,
  ``Surv(survival_months / 12, event) ~ age + sex``, Weibull, value and value+slope.

Simulation (``alsstats.joint.simulate``: 232 ALS, visits every 4 months for 2 years, death
driven by the current latent WMH value, seeded): bias, Monte Carlo SE and 95% CI coverage of
the ALS WMH slope and of the association, joint model beside ``fit_lme`` (ML).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import alsstats as als  # noqa: E402
from alsstats.joint.simulate import simulate_joint_cohort  # noqa: E402

R_SCRIPT = r"""
suppressPackageStartupMessages(ok <- requireNamespace("JM", quietly = TRUE))
if (!ok) { cat('{"error": "R package JM not installed"}'); quit(status = 0) }
suppressPackageStartupMessages(library(JM))
args <- commandArgs(TRUE); reps <- as.integer(args[1])
fit <- function() {
  lmeFit <- lme(log(serBilir) ~ year, random = ~ year | id, data = pbc2)
  coxFit <- coxph(Surv(years, status2) ~ drug, data = pbc2.id, x = TRUE)
  jointModel(lmeFit, coxFit, timeVar = "year", method = "weibull-PH-aGH")
}
invisible(fit())
times <- replicate(reps, system.time(fit())[["elapsed"]])
cat(sprintf('{"pbc2_weibull": %.6f, "version": "%s"}', median(times),
            as.character(packageVersion("JM"))))
"""


def _median_time(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def run_jm(repeats: int) -> dict:
    if shutil.which("Rscript") is None:
        return {"error": "Rscript not found"}
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "jm.R"
        script.write_text(R_SCRIPT)
        out = subprocess.run(["Rscript", str(script), str(repeats)], capture_output=True,
                             text=True, check=False)
    try:
        return json.loads(out.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        return {"error": out.stderr.strip()[-300:]}


def timings(repeats: int) -> None:
    pbc = pd.read_csv(ROOT / "tests/reference/joint_data/pbc2.csv")
    pbc["drug"] = pd.Categorical(pbc["drug"], ["placebo", "D-penicil"])
    ours = _median_time(lambda: als.fit_joint(
        pbc, "log(serBilir) ~ year + (1 + year | id)", "Surv(years, status2) ~ drug",
        visit_time="year", subject="id"), repeats)
    jm = run_jm(max(3, repeats // 2))
    visits = als.load_example_cohort()
    cohort = visits[visits["group"] == "ALS"].assign(wmh_cm3=lambda d: d["wmh_mm3"] / 1000)
    long = "wmh_cm3 ~ years + age + sex + (1 + years | subject)"
    surv = "Surv(survival_months / 12, event) ~ age + sex"
    calsnic = {a: _median_time(lambda a=a: als.fit_joint(cohort, long, surv, association=a),
                               repeats) for a in ("value", "value+slope")}
    print("| work | alsstats s | JM s | alsstats / JM |")
    print("|---|---|---|---|")
    if "error" in jm:
        print(f"| pbc2 weibull-PH-aGH, value (312 subjects, 1,945 visits) | {ours:.3f} | n/a "
              f"({jm['error']}) | -- |")
    else:
        print(f"| pbc2 weibull-PH-aGH, value (312 subjects, 1,945 visits) | {ours:.3f} | "
              f"{jm['pbc2_weibull']:.3f} | {ours / jm['pbc2_weibull']:.3f} |")
    n_sub, n_vis = cohort["subject"].nunique(), len(cohort)
    for assoc, t in calsnic.items():
        print(f"| CALSNIC-sized ({n_sub} ALS, {n_vis} visits), Weibull, {assoc} | {t:.3f} | -- "
              "| -- |")


def simulation(replicates: int) -> None:
    rows = []
    t0 = time.perf_counter()
    for seed in range(replicates):
        visits = simulate_joint_cohort(232, seed)
        truth = visits.attrs["truth"]
        joint = als.fit_joint(visits, "wmh_cm3 ~ years + (1 + years | subject)",
                              "Surv(survival_months / 12, event) ~ 1")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", als.SingularFitWarning)
            lme = als.fit_lme(visits, "wmh_cm3 ~ years + (1 + years | subject)", reml=False,
                              df_method="normal")
        for name, table, term, true in (
                ("joint: ALS WMH slope", joint.longitudinal, "years", truth["slope"]),
                ("joint: association (value)", joint.survival, "value", truth["alpha"]),
                ("fit_lme (ML): ALS WMH slope", lme.coefficients, "years", truth["slope"])):
            row = table.loc[term]
            rows.append({"what": name, "estimate": row["estimate"], "truth": true,
                         "covered": row["ci_low"] <= true <= row["ci_high"]})
    elapsed = time.perf_counter() - t0
    df = pd.DataFrame(rows)
    print(f"\n{replicates} replicates in {elapsed:.1f} s")
    print("| estimate | truth | mean | bias % | MC SE of mean | coverage of 95% CI |")
    print("|---|---|---|---|---|---|")
    for name, g in df.groupby("what", sort=False):
        true = g["truth"].iloc[0]
        mean = g["estimate"].mean()
        mcse = g["estimate"].std(ddof=1) / np.sqrt(len(g))
        print(f"| {name} | {true:g} | {mean:.4f} | {100 * (mean - true) / true:+.1f} | "
              f"{mcse:.4f} | {100 * g['covered'].mean():.0f}% |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--replicates", type=int, default=200)
    parser.add_argument("--no-sim", action="store_true")
    args = parser.parse_args()
    timings(args.repeats)
    if not args.no_sim:
        simulation(args.replicates)


if __name__ == "__main__":
    main()

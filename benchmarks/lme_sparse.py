"""The general mixed-model engine's sparse factorisation, side by side: alsstats' dense block
elimination (the only path before the sparse one; ``factorisation="dense"``) vs its automatic
choice (dense or sparse by estimated cost) vs ``lme4::lmer``, all in one run.

Run from the repository root::

    python benchmarks/lme_sparse.py            # every design (~3 min, most of it the dense path)
    python benchmarks/lme_sparse.py --quick    # 1 repeat, without the slowest dense fits
    python benchmarks/lme_sparse.py --before /path/to/older/checkout   # also time that code

Designs (REML, ``df_method="normal"`` as plain ``lmer``; the first and fourth are
tests/reference/lme_sparse_data, the others simulated here with fixed seeds):

- ``crossed 300 x 300, 4 items/subject``: ``y ~ x + (1 + x | subject) + (1 | item)`` (1,200 rows)
  and ``(1 | subject) + (1 | item)``;
- ``crossed 600 x 600, 5 items/subject``: ``y ~ x + (1 | subject) + (1 | item)`` (3,000 rows);
- ``crossed 300 x 300, 30 items/subject``: (9,000 rows; the factor fills in: dense is kept);
- ``nested 1,000 / 3,000 subjects x 3 sessions x 2 scans``: ``y ~ x + (1 | subject/session)``
  (6,000 / 18,000 rows; the dense path is skipped at 3,000 subjects: ~9e9 multiply-adds per
  evaluation).

``--before PATH`` times ``fit_lme`` of another checkout (e.g. the commit before the sparse
factorisation) on the same CSV files in a subprocess, same repeats (its dense fits above 5,000
rows: one repeat). R runs once (``Rscript --vanilla``) and times its own fits (``lme4::lmer``, default nloptwrap)
after a warm-up, so start-up is not counted. Times are medians over repeats; the script prints
each fit's log-likelihood difference to lme4's, so a fast wrong fit cannot pass unnoticed.
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "reference"))

from make_lme_sparse_data import crossed, nested  # noqa: E402

from alsstats.lme import fit_lme  # noqa: E402
from alsstats.lme.general import GeneralProblem  # noqa: E402

DESIGNS = [
    ("crossed 300 x 300, 4 items/subject, (1 + x | subject) + (1 | item)",
     lambda: crossed(), "y ~ x + (1 + x | subject) + (1 | item)", True),
    ("crossed 300 x 300, 4 items/subject, (1 | subject) + (1 | item)",
     lambda: crossed(), "y ~ x + (1 | subject) + (1 | item)", True),
    ("crossed 600 x 600, 5 items/subject, (1 | subject) + (1 | item)",
     lambda: crossed(seed=3, n_subjects=600, n_items=600, per_subject=5),
     "y ~ x + (1 | subject) + (1 | item)", True),
    ("crossed 300 x 300, 30 items/subject, (1 | subject) + (1 | item)",
     lambda: crossed(seed=4, per_subject=30), "y ~ x + (1 | subject) + (1 | item)", True),
    ("nested 1,000 subjects x 3 sessions, (1 | subject/session)",
     lambda: nested(), "y ~ x + (1 | subject/session)", True),
    ("nested 3,000 subjects x 3 sessions, (1 | subject/session)",
     lambda: nested(seed=5, n_subjects=3000), "y ~ x + (1 | subject/session)", False),
]

R_SCRIPT = r"""
suppressPackageStartupMessages({library(lme4); library(jsonlite)})
args <- commandArgs(trailingOnly = TRUE)
cfg <- fromJSON(args[1])
out <- list()
for (i in seq_along(cfg$files)) {
  d <- read.csv(cfg$files[i], stringsAsFactors = TRUE)
  f <- as.formula(cfg$formulas[i])
  m <- lmer(f, data = d, REML = TRUE)
  times <- c()
  for (r in seq_len(cfg$repeats)) {
    t0 <- Sys.time(); m <- lmer(f, data = d, REML = TRUE)
    times <- c(times, as.numeric(Sys.time() - t0, units = "secs"))
  }
  out[[i]] <- list(seconds = median(times), loglik = as.numeric(logLik(m)))
}
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA), args[2])
"""


def time_fit(data, formula, mode, repeats):
    GeneralProblem.default_factorisation = mode
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = fit_lme(data, formula, df_method="normal")
            times = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                fit = fit_lme(data, formula, df_method="normal")
                times.append(time.perf_counter() - t0)
    finally:
        GeneralProblem.default_factorisation = "auto"
    return statistics.median(times), fit.loglik, fit.problem.factorisation


BEFORE_SCRIPT = r"""
import json, statistics, sys, time, warnings
sys.path.insert(0, sys.argv[1])
import pandas as pd
from alsstats.lme import fit_lme
cfg = json.loads(open(sys.argv[2]).read())
out = []
warnings.simplefilter("ignore")
for path, formula, run in zip(cfg["files"], cfg["formulas"], cfg["run"]):
    if not run:
        out.append(None)
        continue
    data = pd.read_csv(path)
    repeats = 1 if len(data) > 5000 else cfg["repeats"]
    fit = fit_lme(data, formula, df_method="normal")
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fit = fit_lme(data, formula, df_method="normal")
        times.append(time.perf_counter() - t0)
    out.append({"seconds": statistics.median(times), "loglik": fit.loglik})
open(sys.argv[3], "w").write(json.dumps(out))
"""


def write_csvs(frames, tmp: Path) -> list[str]:
    files = []
    for k, frame in enumerate(frames):
        path = tmp / f"design{k}.csv"
        frame.to_csv(path, index=False, float_format="%.17g")
        files.append(str(path))
    return files


def run_before(checkout: str, files, formulas, runs, repeats, tmp: Path):
    cfg = tmp / "before.json"
    cfg.write_text(json.dumps({"files": files, "formulas": formulas, "run": runs,
                               "repeats": repeats}))
    script = tmp / "before.py"
    script.write_text(BEFORE_SCRIPT)
    out = tmp / "before_out.json"
    proc = subprocess.run([sys.executable, str(script), checkout, str(cfg), str(out)],
                          capture_output=True, text=True, cwd=tmp)
    if proc.returncode != 0:
        print(f"--before failed: {proc.stderr.strip()[-300:]}")
        return None
    return json.loads(out.read_text())


def run_r(files, formulas, repeats, tmp: Path):
    rscript = shutil.which("Rscript")
    if rscript is None:
        return None, "Rscript not found"
    cfg = tmp / "cfg.json"
    cfg.write_text(json.dumps({"files": files, "formulas": formulas, "repeats": repeats}))
    script = tmp / "bench.R"
    script.write_text(R_SCRIPT)
    out = tmp / "out.json"
    proc = subprocess.run([rscript, "--vanilla", str(script), str(cfg), str(out)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        return None, proc.stderr.strip()[-300:]
    return json.loads(out.read_text()), None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--before", metavar="PATH", help="another checkout to time as well")
    args = parser.parse_args()
    repeats = 1 if args.quick else 3
    frames = [make() for _, make, _, _ in DESIGNS]
    formulas = [f for _, _, f, _ in DESIGNS]
    runs = [run and not (args.quick and len(frame) > 5000)
            for (_, _, _, run), frame in zip(DESIGNS, frames, strict=True)]
    with tempfile.TemporaryDirectory() as tmp:
        files = write_csvs(frames, Path(tmp))
        r_out, reason = run_r(files, formulas, repeats, Path(tmp))
        before = (run_before(args.before, files, formulas, runs, repeats, Path(tmp))
                  if args.before else None)
    if r_out is None:
        print(f"lme4: not available ({reason})")
    if before is not None:
        print(f"before: {args.before}")
        print("| design | before s | auto s | auto/before | loglik - lme4 (before) |")
        print("|---|---|---|---|---|")
    rows = []
    for k, (label, _, formula, _) in enumerate(DESIGNS):
        data = frames[k]
        slow_dense = runs[k]
        dense = time_fit(data, formula, "dense", 1 if len(data) > 5000 else repeats) \
            if slow_dense else None
        auto = time_fit(data, formula, "auto", repeats)
        r = r_out[k] if r_out else None
        lme4_s = f"{r['seconds']:.3g}" if r else "n/a"
        dense_s = f"{dense[0]:.3g}" if dense else "not run"
        ratio_d = f"{auto[0] / dense[0]:.3g}" if dense else "—"
        ratio_r = f"{auto[0] / r['seconds']:.3g}" if r else "—"
        diffs = (f"{dense[1] - r['loglik']:+.1e} / " if dense and r else "— / ") + (
            f"{auto[1] - r['loglik']:+.1e}" if r else "—")
        cell = label.replace("|", "\\|")
        rows.append(f"| {cell} | {len(data):,} | {dense_s} | {auto[0]:.3g} ({auto[2]}) "
                    f"| {lme4_s} | {ratio_d} | {ratio_r} | {diffs} |")
        if before is not None:
            b = before[k]
            if b is None:
                print(f"| {cell} | not run | {auto[0]:.3g} | — | — |", flush=True)
            else:
                diff = f"{b['loglik'] - r['loglik']:+.1e}" if r else "—"
                print(f"| {cell} | {b['seconds']:.3g} | {auto[0]:.3g} "
                      f"| {auto[0] / b['seconds']:.3g} | {diff} |", flush=True)
    print()
    print("| design | rows | dense path s | auto s (path) | lmer s | auto/dense | auto/lmer "
          "| loglik - lme4 (dense / auto) |")
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        print(row)


if __name__ == "__main__":
    main()

"""Where a mixed-model fit spends its time: formula layer, design statistics, optimiser, the rest.

Run from the repository root::

    python benchmarks/lme_time_breakdown.py              # 439 subjects (the benchmark cohort)
    python benchmarks/lme_time_breakdown.py --subjects 4390

On the simulated cohort of ``lme_vs_lme4.py`` (same seed), for
``y ~ group * years + age + sex + (1 + years | subject)`` by REML, each stage is timed on its own
(median over repeats after warm-up, wall clock) and the whole ``fit_lme(...).coefficients``
with Satterthwaite df and with ``df_method="normal"``:

- formula and model frame: ``build_model_frame`` (parse, complete cases, design matrices, codes);
- design statistics: ``LmeProblem`` (per-subject ``Z_i'Z_i``, ``Z_i'[X y]``, ``[X y]'[X y]``);
- optimiser: ``optimize_theta`` (moment start, Newton on exact derivatives, convergence checks),
  with its number of evaluations (deviance and derivative evaluations together);
- one deviance evaluation and one exact-derivative evaluation at the optimum;
- the rest of ``fit_lme``: the whole call minus the stages above (rank and scale checks, the
  estimates at the optimum, Satterthwaite df from the derivatives already at hand, the
  coefficient table, the result object).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from lme_vs_lme4 import RIRS, simulate_cohort  # noqa: E402

from alsstats.lme import fit_lme  # noqa: E402
from alsstats.lme.engine import LmeProblem, optimize_theta, single_threaded_blas  # noqa: E402
from alsstats.lme.formula import build_model_frame  # noqa: E402


def _median_ms(fun, repeats: int) -> float:
    for _ in range(max(3, repeats // 10)):
        fun()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fun()
        times.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=439)
    parser.add_argument("--repeats", type=int, default=300)
    args = parser.parse_args(argv)
    data = simulate_cohort(args.subjects, seed=0)
    warnings.simplefilter("ignore")
    frame = build_model_frame(RIRS, data)
    block = frame.random_blocks[0]

    def problem():
        return LmeProblem(frame.X, frame.y, block.Z, block.codes, len(block.levels))

    with single_threaded_blas():
        fitted = optimize_theta(problem(), True)
        ready = problem()
        at_optimum = ready.evaluate(fitted.theta)
        t_frame = _median_ms(lambda: build_model_frame(RIRS, data), args.repeats)
        t_problem = _median_ms(problem, args.repeats)
        t_opt = _median_ms(lambda: optimize_theta(problem(), True), args.repeats) - t_problem
        t_eval = _median_ms(lambda: ready.evaluate(fitted.theta), args.repeats)
        t_deriv = _median_ms(lambda: ready.derivatives_of(at_optimum, True), args.repeats)
    t_fit = _median_ms(lambda: fit_lme(data, RIRS).coefficients, args.repeats)
    t_normal = _median_ms(lambda: fit_lme(data, RIRS, df_method="normal").coefficients,
                          args.repeats)
    print(f"cohort: {args.subjects:,} subjects, {len(data):,} visits; formula {RIRS}")
    print(f"optimiser: {fitted.method}, {fitted.n_evaluations} evaluations (deviance and "
          "derivative evaluations together)")
    print()
    print("| stage | ms | share of the fit |")
    print("|---|---|---|")
    rest = t_fit - t_frame - t_problem - t_opt
    for label, value in [
        ("formula and model frame (`build_model_frame`)", t_frame),
        ("design statistics (`LmeProblem`)", t_problem),
        ("optimiser (`optimize_theta`, Newton on exact derivatives)", t_opt),
        ("rest of `fit_lme` (checks, estimates, Satterthwaite df, tables, result)", rest),
        ("**whole `fit_lme(...).coefficients`, Satterthwaite df**", t_fit),
    ]:
        print(f"| {label} | {value:.2f} | {value / t_fit:.0%} |")
    print()
    print(f"- one deviance evaluation at the optimum: {t_eval:.3f} ms; one exact first- and "
          f"second-derivative evaluation there (from that evaluation): {t_deriv:.3f} ms")
    print(f"- `df_method=\"normal\"` (no Satterthwaite): {t_normal:.2f} ms, so Satterthwaite "
          f"adds {t_fit - t_normal:.2f} ms (the Newton optimiser already holds the exact "
          "derivatives at the optimum)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
